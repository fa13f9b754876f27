use anyhow::Result;
use geoconsole_app::Console;
use geoconsole_scenario::build_demo;

use crate::args::{Cli, DemoArgs};

/// The demo's live feed, as listed by `geoconsole feeds list`.
const DEMO_FEED: &str = "demo-usgs-replay";
use crate::output::{self, count};

pub async fn run(
    console: &Console,
    args: &DemoArgs,
    cli: &Cli,
    location: &str,
    simulator: Option<super::feeds::Simulator>,
) -> Result<()> {
    if !cli.json {
        outln!(
            "building the demo scenario in {location} (offline; embedded real data plus seeded generators)..."
        );
    }
    let started = std::time::Instant::now();
    let summary = build_demo(console, args.seed).await?;
    if console.risk_model().is_none() {
        console.set_risk_model(Some(geoconsole_scenario::demo_risk_model()));
    }
    if cli.json {
        return output::print_json(&summary);
    }
    let rows: Vec<Vec<String>> = summary
        .datasets
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.kind.to_string(),
                count(d.features),
                d.origin.to_string(),
                d.licence.to_string(),
            ]
        })
        .collect();
    output::print_table(&["DATASET", "KIND", "FEATURES", "FROM", "LICENCE"], &rows);
    let total: u64 = summary.datasets.iter().map(|d| d.features).sum();
    if args.serve {
        outln!(
            "\n{} datasets, {} features in {:.1} s.",
            summary.datasets.len(),
            count(total),
            started.elapsed().as_secs_f64()
        );
        let mut feeds = Vec::new();
        if let Some(simulator) = simulator {
            let mut feed = geoconsole_feeds::FeedSpec::new(
                DEMO_FEED,
                &simulator.url(),
                geoconsole_feeds::FeedFormat::Usgs,
                "earthquakes",
            );
            feed.interval_s = 10;
            outln!(
                "live feed: the USGS week replayed at {}x from {}, polled every 10 s into 'earthquakes' (--no-live-feed turns it off)",
                args.feed_speed,
                simulator.url()
            );
            feeds.push(feed);
            tokio::spawn(async move {
                if let Err(e) = simulator.serve().await {
                    tracing::error!(error = %e, "the demo feed simulator stopped");
                }
            });
        }
        return super::serve::run(
            console,
            &args.server,
            cli.staging_dir.as_deref(),
            Vec::new(),
            feeds,
        )
        .await;
    }
    let opened = if geoconsole_postgis::is_postgres_url(location) {
        // GDAL and QGIS name a PostgreSQL connection their own way; the console's location says where.
        format!(
            "The store is PostgreSQL/PostGIS ({}): every dataset is a PostGIS layer QGIS and GDAL open (`PG:` connection). Try",
            console.store().location()
        )
    } else {
        format!(
            "The store is a GeoPackage: open {location} in QGIS, or try\n  ogrinfo -so {location} earthquakes"
        )
    };
    outln!(
        "\n{} datasets, {} features in {:.1} s. {opened}\n  geoconsole --store '{location}' datasets list\n  geoconsole --store '{location}' query earthquakes --bbox 120,20,150,46 --limit 3",
        summary.datasets.len(),
        count(total),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
