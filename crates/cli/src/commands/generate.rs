use std::fs::File;
use std::io::BufWriter;

use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use geoconsole_formats::{WriterLayout, create_writer};
use geoconsole_model::GeometryType;
use geoconsole_scenario::{SyntheticOptions, synthetic_points, synthetic_schema};

use crate::args::{Cli, GenerateArgs};
use crate::commands::format_of;
use crate::output::{self, count};
use crate::progress;

/// Features between progress updates.
const PROGRESS_STEP: u64 = 10_000;

pub async fn run(args: &GenerateArgs, cli: &Cli) -> Result<()> {
    let format = format_of(args.format, &args.output)?;
    let end: DateTime<Utc> = match &args.end {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--end '{text}' is not RFC 3339"))?
            .with_timezone(&Utc),
        None => Utc
            .with_ymd_and_hms(2024, 6, 1, 0, 0, 0)
            .single()
            .context("constant date")?,
    };
    let options = SyntheticOptions {
        points: args.points,
        seed: args.seed,
        end,
        days: args.days,
    };
    let file = File::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let layout = WriterLayout {
        name: "synthetic_events".into(),
        schema: synthetic_schema(),
        geometry_type: GeometryType::Point,
    };
    let mut writer = create_writer(
        format,
        Box::new(BufWriter::with_capacity(1 << 20, file)),
        &layout,
    )?;
    let bar = progress::count_bar(
        args.points,
        "generating",
        progress::enabled(cli.quiet, cli.json),
    );
    let output = args.output.clone();
    let written = tokio::task::spawn_blocking(move || -> Result<u64> {
        let mut written = 0u64;
        for feature in synthetic_points(&options) {
            writer
                .write_feature(&feature)
                .with_context(|| format!("cannot write {}", output.display()))?;
            written += 1;
            if written.is_multiple_of(PROGRESS_STEP) {
                bar.set_position(written);
            }
        }
        writer
            .finish()
            .with_context(|| format!("cannot write {}", output.display()))?;
        bar.finish_and_clear();
        Ok(written)
    })
    .await??;
    if cli.json {
        return output::print_json(
            &serde_json::json!({"file": args.output, "features": written, "format": format.name()}),
        );
    }
    outln!(
        "wrote {} synthetic events to {} ({})",
        count(written),
        args.output.display(),
        format.name()
    );
    Ok(())
}
