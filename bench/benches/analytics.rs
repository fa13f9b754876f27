//! Analytics hot paths at the sizes issue 5 sets, timed with medians and written to bench/RESULTS.md:
//! H3 aggregation of 10 M clustered points (each point's finest cell once, then parents, against a direct
//! h3o lookup per point), and incremental rule evaluation (a 1 k-event batch against 10 k sites, pure join
//! and through the console: the extra time a rule adds to an import, raise and outbox write included).
//!
//! `cargo bench -p geoconsole-bench --bench analytics` (release profile). `BENCH_POINTS` overrides the
//! 10 M points.

use std::time::{Duration, Instant};

use geoconsole_analytics::{
    Footprint, SiteIndex, aggregate_cells, count_cells, finest_cells, outlines, resolution,
};
use geoconsole_app::{Condition, ImportOptions, Rule};
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{DatasetId, DatasetKind, Feature, FeatureId};
use geoconsole_scenario::{SyntheticOptions, synthetic_points};
use geoconsole_store::WriteMode;

const BEGIN: &str = "<!-- analytics-benchmark:begin -->";
const END: &str = "<!-- analytics-benchmark:end -->";

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let times = (0..runs)
        .map(|_| {
            let t = Instant::now();
            out = Some(std::hint::black_box(f()));
            t.elapsed()
        })
        .collect();
    (median(times), out.expect("at least one run"))
}

fn points(n: u64, seed: u64, days: u32) -> Vec<Feature> {
    let end = "2024-06-01T00:00:00Z".parse().expect("constant time");
    synthetic_points(&SyntheticOptions {
        points: n,
        seed,
        end,
        days,
    })
    .collect()
}

fn xy(f: &Feature) -> Option<[f64; 2]> {
    match &f.geometry {
        Some(Geometry::Point(p)) => Some([p.x(), p.y()]),
        _ => None,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read.
    let n: u64 = std::env::var("BENCH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let mut lines = Vec::new();

    // ---- H3 aggregation ----
    eprintln!("[analytics] generating {n} clustered points");
    let coords: Vec<[f64; 2]> = {
        let end = "2024-06-01T00:00:00Z".parse().expect("constant time");
        synthetic_points(&SyntheticOptions {
            points: n,
            seed: 42,
            end,
            days: 30,
        })
        .filter_map(|f| xy(&f))
        .collect()
    };
    let res7 = resolution(7).expect("res 7");
    let (once, cells) = time(1, || finest_cells(&coords));
    eprintln!("[analytics] finest cells: {once:?}");
    let (parents, agg) = time(5, || aggregate_cells(cells.iter().map(|c| (*c, 1.0)), res7));
    eprintln!(
        "[analytics] parents at res 7: {parents:?}, {} cells",
        agg.len()
    );
    let (direct, direct_cells) = time(3, || count_cells(coords.iter().copied(), res7));
    let (drawing, _) = time(3, || outlines(&agg, false).len());
    eprintln!(
        "[analytics] direct lookups: {direct:?}, {} cells",
        direct_cells.len()
    );
    let per_s = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
    lines.push("### H3 aggregation".to_string());
    lines.push(String::new());
    lines.push(format!(
        "{} clustered points (`geoconsole generate`'s model), resolution 7, counts per cell (without outlines); one thread unless said.",
        n
    ));
    lines.push(String::new());
    lines.push("| path | time (median) | points/s | cells |".into());
    lines.push("|---|---|---|---|".into());
    lines.push(format!(
        "| geoconsole: parents of each point's stored res-10 cell (`aggregate_cells`) | {} | {:.1} M | {} |",
        ms(parents),
        per_s(parents),
        agg.len()
    ));
    lines.push(format!(
        "| h3o lookup per point at res 7 (`LatLng::to_cell`, what a query without stored cells does) | {} | {:.1} M | {} |",
        ms(direct),
        per_s(direct),
        direct_cells.len()
    ));
    lines.push(format!(
        "| drawing the {} cells' outlines for GeoJSON (same for both; the API refuses more than 100 000) | {} | | |",
        agg.len(),
        ms(drawing)
    ));
    lines.push(format!(
        "| one-time: each point's res-10 cell (`finest_cells`, rayon, 2 cores; once per dataset version) | {} | {:.1} M | |",
        ms(once),
        per_s(once)
    ));
    lines.push(String::new());
    lines.push(format!(
        "Parents vs direct lookups: {:.1}× faster per query. Counts differ only for points near cell edges (H3 children tile their parent approximately), as the unit test bounds.",
        direct.as_secs_f64() / parents.as_secs_f64()
    ));
    drop(coords);
    drop(cells);

    // ---- incremental rule evaluation ----
    let sites: Vec<Feature> = points(10_000, 7, 1);
    let site_xy: Vec<Point<f64>> = sites
        .iter()
        .filter_map(xy)
        .map(|[x, y]| Point::new(x, y))
        .collect();
    let batch: Vec<Feature> = points(1_000, 99, 1);
    let (build, index) = time(5, || SiteIndex::new(site_xy.clone()));
    let footprints: Vec<Footprint> = batch
        .iter()
        .filter_map(xy)
        .map(|[x, y]| Footprint::Circle {
            centre: Point::new(x, y),
            radius_m: 50_000.0,
        })
        .collect();
    let (join, pairs) = time(21, || index.reached_by(&footprints));
    eprintln!("[analytics] 1k x 10k join: {join:?}, {} pairs", pairs.len());

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (with_rule, without_rule, raised) = runtime.block_on(console_runs(sites, batch));
    lines.push(String::new());
    lines.push("### Incremental rule evaluation".to_string());
    lines.push(String::new());
    lines.push("A batch of 1 000 new events against 10 000 sites (goal: < 20 ms). The join is the worst case, every event within 50 km; the console rows run the rule `severity >= 4.5 within 50 km`.".into());
    lines.push(String::new());
    lines.push("| step | time (median) |".into());
    lines.push("|---|---|".into());
    lines.push(format!(
        "| the join: footprints of the batch against the indexed sites (`SiteIndex::reached_by`, {} pairs) | {} |",
        pairs.len(),
        ms(join)
    ));
    lines.push(format!(
        "| indexing the 10 000 sites (once per sites version, cached) | {} |",
        ms(build)
    ));
    lines.push(format!(
        "| import of the batch into the GeoPackage, no rule | {} |",
        ms(without_rule)
    ));
    lines.push(format!(
        "| the same import with the rule: filter, join, and {} alerts per batch written with their outbox rows in one transaction | {} |",
        raised,
        ms(with_rule)
    ));
    lines.push(format!(
        "| what the rule adds to the import | {} |",
        ms(with_rule.saturating_sub(without_rule))
    ));

    let section = format!(
        "{BEGIN}\n## Analytics hot paths (issue 5)\n\n`cargo bench -p geoconsole-bench --bench analytics` ({} cores).\n\n{}\n{END}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        lines.join("\n")
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = match (text.find(BEGIN), text.find(END)) {
        (Some(a), Some(b)) => format!("{}{section}{}", &text[..a], &text[b + END.len()..]),
        _ => format!("{}\n\n{section}\n", text.trim_end()),
    };
    std::fs::write(&path, text).expect("write RESULTS.md");
    println!("{section}");
}

/// Imports the batch five times into a dataset a rule watches and five times into one no rule watches;
/// medians of each, and how many alerts the rule raised per batch.
async fn console_runs(sites: Vec<Feature>, batch: Vec<Feature>) -> (Duration, Duration, usize) {
    let store = geoconsole_testkit::temp_gpkg();
    let console = store.console();
    let options = |id: &str, kind, mode| ImportOptions {
        dataset: Some(DatasetId::new(id).expect("id")),
        kind: Some(kind),
        mode,
        time: Some("time".into()),
        ..ImportOptions::default()
    };
    console
        .import_features(
            "sites",
            sites.into_iter(),
            ImportOptions {
                time: None,
                ..options("sites", DatasetKind::Sites, WriteMode::Create)
            },
        )
        .await
        .expect("sites");
    for id in ["watched", "unwatched"] {
        console
            .import_features(
                id,
                batch.clone().into_iter().take(1),
                options(id, DatasetKind::Events, WriteMode::Create),
            )
            .await
            .expect("events");
    }
    console
        .alerts()
        .put_rule(Rule {
            id: "near".into(),
            title: None,
            severity: Default::default(),
            enabled: true,
            when: Condition::Exposure {
                hazards: vec!["watched".into()],
                // "M4.5+ within 50 km": a rule as people write them, not one that fires on everything.
                filter: Some("severity >= 4.5".into()),
                sites: Vec::new(),
                site_where: None,
                radius_km: Some(50.0),
            },
        })
        .await
        .expect("rule");
    let mut with_rule = Vec::new();
    let mut without_rule = Vec::new();
    let mut raised = 0;
    for round in 0..6 {
        let fresh = |prefix: &str| {
            batch
                .iter()
                .enumerate()
                .map(|(i, f)| Feature {
                    id: Some(FeatureId(format!("{prefix}-{round}-{i}"))),
                    ..f.clone()
                })
                .collect::<Vec<_>>()
        };
        for (id, times) in [
            ("watched", &mut with_rule),
            ("unwatched", &mut without_rule),
        ] {
            let features = fresh(id);
            let t = Instant::now();
            console
                .import_features(
                    id,
                    features.into_iter(),
                    options(id, DatasetKind::Events, WriteMode::Append),
                )
                .await
                .expect("batch");
            // The first round warms the site index cache; it is not counted.
            if round > 0 {
                times.push(t.elapsed());
            }
        }
    }
    if let Ok(all) = console
        .alerts()
        .list(geoconsole_store::AlertFilter {
            limit: 1_000_000,
            ..Default::default()
        })
        .await
    {
        raised = all.len() / 6;
    }
    (median(with_rule), median(without_rule), raised)
}
