use std::fs::File;
use std::io::{BufWriter, Write};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow};
use geoconsole_app::Console;
use geoconsole_formats::Format;
use geoconsole_query::FilterLang;

use crate::args::{Cli, ExportArgs};
use crate::commands::{dataset_id, format_of, query_of};
use crate::output::{self, count};
use crate::progress;

pub async fn run(console: &Console, args: &ExportArgs, cli: &Cli) -> Result<()> {
    let to_stdout = args.output.as_os_str() == "-";
    let format = format_of(args.format, &args.output)?;
    let query = query_of(&args.filter, args.limit)?;
    let id = dataset_id(&args.dataset)?;
    // Check the dataset before creating the file, so a typo does not leave an empty file behind.
    let dataset = console
        .dataset(&geoconsole_app::Scope::everything(), &id)
        .await?;
    if to_stdout
        && !matches!(
            format,
            Format::GeoJson | Format::GeoJsonSeq | Format::Csv | Format::Kml
        )
    {
        return Err(anyhow!(
            "{format} is a binary format; write it to a file with --output PATH"
        ));
    }
    let out: Box<dyn Write + Send> = if to_stdout {
        Box::new(BufWriter::new(std::io::stdout()))
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        Box::new(BufWriter::with_capacity(256 * 1024, file))
    };
    let filter = match &args.cql2 {
        Some(text) => {
            let lang: FilterLang = args
                .filter_lang
                .parse()
                .map_err(|e| anyhow!("--filter-lang: {e}"))?;
            Some(
                console
                    .compile_filter(&geoconsole_app::Scope::everything(), &id, text, lang)
                    .await?,
            )
        }
        None => None,
    };
    let written = Arc::new(AtomicU64::new(0));
    let bar = progress::count_bar(
        dataset.feature_count,
        "exporting",
        progress::enabled(cli.quiet, cli.json) && !to_stdout,
    );
    let ticker = {
        let (bar, written) = (bar.clone(), Arc::clone(&written));
        tokio::spawn(async move {
            loop {
                bar.set_position(written.load(Ordering::Relaxed));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    };
    let result = console
        .export(
            &geoconsole_app::Scope::everything(),
            &id,
            format,
            query,
            filter,
            out,
            Some(written),
        )
        .await;
    ticker.abort();
    bar.finish_and_clear();
    let report = result?;
    if cli.json {
        return output::print_json(&report);
    }
    if !to_stdout {
        outln!(
            "exported {} features of '{}' to {} ({})",
            count(report.features),
            id,
            args.output.display(),
            report.format
        );
    }
    Ok(())
}
