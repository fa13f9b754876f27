use std::io::Write;

use anyhow::Result;
use geoconsole_app::{Console, ExposureRequest, Hits};
use geoconsole_query::DateTimeFilter;

use crate::args::{Cli, ExposureArgs};
use crate::commands::dataset_ids;

/// Prints exposed sites, most exposed first: a table with each site's nearest reason, or JSON / GeoJSON.
pub async fn run(console: &Console, args: &ExposureArgs, cli: &Cli) -> Result<()> {
    let request = ExposureRequest {
        sites: dataset_ids(&args.sites)?,
        hazards: dataset_ids(&args.hazards)?,
        datetime: args
            .datetime
            .as_deref()
            .map(DateTimeFilter::parse)
            .transpose()?,
        radius_km: args.radius_km,
        hits: if args.any {
            Hits::Any
        } else if args.nearest_only {
            Hits::Nearest
        } else {
            Hits::All
        },
        ..ExposureRequest::default()
    };
    let report = console
        .exposure(&geoconsole_app::Scope::everything(), request)
        .await?;
    let mut out = std::io::stdout().lock();
    if args.geojson {
        serde_json::to_writer(&mut out, &report.to_geojson())?;
        writeln!(out)?;
        return Ok(());
    }
    if cli.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let e = &report.exposure;
    writeln!(
        out,
        "{} of {} sites exposed to {} events",
        e.exposed.len(),
        e.sites_checked,
        e.events_checked
    )?;
    for m in &report.models {
        let skipped = if m.skipped > 0 {
            format!(" ({} events without the property it needs)", m.skipped)
        } else {
            String::new()
        };
        writeln!(out, "  {}: {}{skipped}", m.dataset, describe(&m.model))?;
    }
    if e.exposed.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{:<10} {:<36} {:>5}  NEAREST", "SITE", "NAME", "HITS")?;
    for s in e.exposed.iter().take(args.top) {
        let name: String = s.name.chars().take(36).collect();
        writeln!(
            out,
            "{:<10} {:<36} {:>5}  {}",
            s.site,
            name,
            s.hit_count
                .map_or_else(|| "≥1".to_string(), |n| n.to_string()),
            s.hits[0].reason
        )?;
    }
    if e.exposed.len() > args.top {
        writeln!(
            out,
            "… and {} more (--top N, or --json)",
            e.exposed.len() - args.top
        )?;
    }
    Ok(())
}

fn describe(model: &geoconsole_analytics::ImpactModel) -> String {
    use geoconsole_analytics::ImpactModel as M;
    match model {
        M::Fixed { radius_km } => format!("fixed radius {radius_km} km"),
        M::Magnitude {
            property,
            a,
            b,
            min_km,
            max_km,
        } => {
            format!("radius from '{property}': log10(km) = {a}·M {b:+}, {min_km}–{max_km} km")
        }
        M::Area { buffer_km } if *buffer_km == 0.0 => "the event's own area".to_string(),
        M::Area { buffer_km } => format!("the event's own area + {buffer_km} km"),
    }
}
