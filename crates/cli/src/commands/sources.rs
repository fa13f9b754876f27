//! `geoconsole sources`: whole layers of ArcGIS REST and Socrata services. A source is a feed whose format
//! is its protocol, so it lives in the feed registry and shares its schedule, health and lag; this command
//! speaks in a source's terms (protocol, layer, pages) rather than a document feed's.

use std::io::Write;

use anyhow::{Result, anyhow};
use geoconsole_app::Console;
use geoconsole_feeds::{FeedFormat, FeedSpec};
use geoconsole_model::DatasetKind;

use super::feeds::{ago, lag_text, print_report, source_options};
use crate::args::{Cli, SourceAddArgs, SourcesCommand};
use crate::output;

fn spec_of(args: &SourceAddArgs) -> Result<FeedSpec> {
    let format = FeedFormat::parse(&args.kind)
        .filter(|f| f.source_kind().is_some())
        .ok_or_else(|| {
            anyhow!(
                "--kind '{}' is not one of: arcgis, socrata, oapif, wfs",
                args.kind
            )
        })?;
    let name = args.name.as_deref().unwrap_or(&args.dataset);
    let mut spec = FeedSpec::new(name, &args.url, format, &args.dataset);
    spec.interval_s = args.interval;
    spec.enabled = !args.paused;
    spec.time = args.time.clone();
    spec.time_end = args.time_end.clone();
    spec.timeout_ms = args.timeout_ms;
    spec.kind = match args.dataset_kind.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<DatasetKind>()
                .map_err(|e| anyhow!("--dataset-kind: {e}"))?,
        ),
    };
    spec.source = source_options(&args.source)?;
    Ok(spec)
}

pub async fn run(console: &Console, command: &SourcesCommand, cli: &Cli) -> Result<()> {
    let feeds = console.feeds();
    let mut out = std::io::stdout().lock();
    match command {
        SourcesCommand::Add(args) => {
            let saved = feeds.save(spec_of(args)?, args.replace).await?;
            if cli.json {
                return output::print_json(&saved);
            }
            writeln!(
                out,
                "saved source {} ({} layer synced every {} s into '{}'); a serving console syncs it within seconds, or: geoconsole sources sync {}",
                saved.spec.name,
                saved.spec.format.as_str(),
                saved.spec.interval_s,
                saved.spec.dataset,
                saved.spec.name
            )?;
        }
        SourcesCommand::List => {
            let views: Vec<_> = feeds
                .list()
                .await?
                .into_iter()
                .filter(|v| v.spec.format.source_kind().is_some())
                .collect();
            if cli.json {
                return output::print_json(&views);
            }
            if views.is_empty() {
                writeln!(
                    out,
                    "no sources (add one with: geoconsole sources add --kind arcgis --url …/FeatureServer/0 --dataset D)"
                )?;
                return Ok(());
            }
            let rows: Vec<Vec<String>> = views
                .iter()
                .map(|v| {
                    let last = &v.state.last_poll;
                    vec![
                        v.spec.name.clone(),
                        v.status.as_str().to_string(),
                        v.spec.format.as_str().to_string(),
                        v.spec.dataset.clone(),
                        ago(v.state.last_success),
                        ago(v.state.last_full_sync),
                        output::count(last.items),
                        output::count(last.pages),
                        format!("{} ms", last.ms),
                        lag_text(v),
                        v.state.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            drop(out);
            output::print_table(
                &[
                    "SOURCE",
                    "STATUS",
                    "KIND",
                    "DATASET",
                    "LAST OK",
                    "LAST FULL",
                    "LAST ROWS",
                    "PAGES",
                    "TOOK",
                    "LAG",
                    "LAST ERROR",
                ],
                &rows,
            );
        }
        SourcesCommand::Sync { name } => {
            let view = feeds.get(name).await?;
            if view.spec.format.source_kind().is_none() {
                return Err(anyhow!(
                    "'{name}' is a {} feed, not a source: geoconsole feeds poll-now {name}",
                    view.spec.format.as_str()
                ));
            }
            let report = feeds.poll(name).await?;
            if cli.json {
                return output::print_json(&report);
            }
            print_report(&mut out, &report)?;
            writeln!(
                out,
                "  {} sync, {} pages",
                if report.counts.full_sync {
                    "full"
                } else {
                    "incremental"
                },
                report.counts.pages
            )?;
            if report.outcome == "failed" {
                return Err(anyhow!("the source failed to sync"));
            }
        }
    }
    Ok(())
}
