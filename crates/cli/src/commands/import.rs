use std::sync::Arc;

use anyhow::{Result, anyhow};
use geoconsole_app::{Console, ImportCounters, ImportOptions, Requester, Staging};
use geoconsole_feeds::AreaSource;
use geoconsole_formats::privacy::PrivacyPolicy;
use geoconsole_formats::{ArchiveLimits, Crs, CsvOptions, ReadOptions};
use geoconsole_model::{Bbox, DatasetKind};
use geoconsole_store::WriteMode;

use crate::args::{Cli, ImportArgs, KindArg, ModeArg};
use crate::commands::dataset_id;
use crate::output::{self, count};
use crate::progress;

pub async fn run(console: &Console, args: &ImportArgs, cli: &Cli) -> Result<()> {
    let counters = Arc::new(ImportCounters::default());
    // Zips are unpacked beside the store, in a folder of this process's that goes when it ends (or, after
    // a crash, at the next start).
    let root = cli
        .staging_dir
        .clone()
        .unwrap_or_else(|| Staging::root_for(&console.store().location()));
    let staging = Staging::open(&root)?;
    let inflated = args.max_inflated_mb.saturating_mul(1024 * 1024);
    let delimiter = match args.delimiter {
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => return Err(anyhow!("delimiter '{c}' must be a single ASCII character")),
        None => None,
    };
    let options = ImportOptions {
        dataset: args.dataset.as_deref().map(dataset_id).transpose()?,
        title: args.title.clone(),
        kind: args.kind.map(|k| match k {
            KindArg::Sites => DatasetKind::Sites,
            KindArg::Events => DatasetKind::Events,
            KindArg::Areas => DatasetKind::Areas,
            KindArg::Reference => DatasetKind::Reference,
        }),
        mode: match args.mode {
            ModeArg::Create => WriteMode::Create,
            ModeArg::Append => WriteMode::Append,
            ModeArg::Replace => WriteMode::Replace,
            ModeArg::Upsert => WriteMode::Upsert,
        },
        time: args.time.clone(),
        time_end: args.time_end.clone(),
        id_field: args.id_field.clone(),
        skip_invalid: args.skip_invalid,
        rejects: args.rejects.clone(),
        capture: false,
        time_given: false,
        read: ReadOptions {
            format: args.format,
            csv: CsvOptions {
                lat: args.lat.clone(),
                lon: args.lon.clone(),
                wkt: args.wkt.clone(),
                delimiter,
            },
            bytes_read: None,
            layer: args.layer.clone(),
            source_crs: args
                .source_crs
                .as_deref()
                .map(Crs::parse)
                .transpose()
                .map_err(|why| anyhow!("--source-crs: {why}"))?,
            bbox: args
                .bbox
                .as_deref()
                .map(Bbox::parse)
                .transpose()
                .map_err(|e| anyhow!("--bbox: {}", e.message()))?,
            staging: Some(staging.folder("unpacked")?),
            encoding: args.encoding,
            notes: geoconsole_formats::ReadNotes::default(),
            archive: ArchiveLimits {
                max_entry_bytes: inflated,
                max_inflated_bytes: inflated,
                ..ArchiveLimits::default()
            },
        },
        counters: Some(Arc::clone(&counters)),
        source: None,
        privacy: PrivacyPolicy {
            drop: args.drop_column.iter().cloned().collect(),
            allow: args.allow_column.iter().cloned().collect(),
        },
        limits: geoconsole_app::FeatureLimits {
            max_vertices: args.max_vertices,
            max_properties_bytes: args.max_properties_bytes,
        },
        requester: Some(Requester {
            actor: super::access::actor(),
            source: "cli".into(),
        }),
        areas: match &args.areas {
            Some(areas) => AreaSource::parse_list(areas, args.area_code_field.as_deref())
                .map_err(|e| anyhow!("--areas: {e}"))?,
            None => Vec::new(),
        },
    };
    let file = if args.file.as_os_str() == "-" {
        std::path::PathBuf::from("/dev/stdin")
    } else {
        args.file.clone()
    };
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let bar = progress::import_bar(size, counters, progress::enabled(cli.quiet, cli.json));
    let result = console.import(&file, options).await;
    bar.finish_and_clear();
    let report = result?;
    if cli.json {
        return output::print_json(&report);
    }
    let d = &report.dataset;
    let seconds = report.elapsed_ms as f64 / 1000.0;
    // Features without a location are counted apart: they are in the dataset, not on the map.
    let unlocated = if report.unlocated > 0 {
        format!(", {} without a location", count(report.unlocated))
    } else {
        String::new()
    };
    outln!(
        "imported {}{unlocated} into '{}' ({}, {}) from {} in {seconds:.2} s ({} features/s)",
        features(report.imported),
        d.id,
        d.kind,
        d.geometry_type.gpkg_name().to_lowercase(),
        report.file.display(),
        count((report.imported as f64 / seconds.max(0.001)) as u64),
    );
    outln!(
        "  dataset now has {}, version {}; extent {}; time {}{}",
        features(d.feature_count),
        d.version,
        output::extent(d.extent),
        output::time_span(d.time_extent),
        d.time_fields
            .start
            .as_ref()
            .map_or(String::new(), |s| format!(
                " (from '{s}'{})",
                d.time_fields
                    .end
                    .as_ref()
                    .map_or(String::new(), |e| format!(" to '{e}'"))
            )),
    );
    if report.clamped_coordinates > 0 {
        outln!(
            "  {} coordinates clamped to the valid range (within {:e} degrees of ±180/±90: noise, not data)",
            count(report.clamped_coordinates),
            geoconsole_model::COORDINATE_NOISE_DEGREES
        );
    }
    if report.repaired_polygons > 0 {
        outln!(
            "  {} {} polygons whose rings cross, overlap or touch themselves: stored as their valid parts",
            count(report.repaired_polygons),
            if report.repaired_polygons == 1 {
                "feature had"
            } else {
                "features had"
            },
        );
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(path) = &report.rejects_report {
        outln!(
            "  rejected {}; see {}",
            features(report.rejected),
            path.display()
        );
    }
    Ok(())
}

/// `1 feature`, `2,000 features`.
fn features(n: u64) -> String {
    format!("{} feature{}", count(n), if n == 1 { "" } else { "s" })
}
