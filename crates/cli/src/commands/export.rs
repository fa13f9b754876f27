use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::{Context, Result};
use geoconsole_app::Console;

use crate::args::{Cli, ExportArgs};
use crate::commands::{dataset_id, format_of, query_of};
use crate::output::{self, count};

pub async fn run(console: &Console, args: &ExportArgs, cli: &Cli) -> Result<()> {
    let to_stdout = args.output.as_os_str() == "-";
    let format = format_of(args.format, &args.output)?;
    let query = query_of(&args.filter, args.limit)?;
    let id = dataset_id(&args.dataset)?;
    // Check the dataset before creating the file, so a typo does not leave an empty file behind.
    console.dataset(&id).await?;
    let out: Box<dyn Write + Send> = if to_stdout {
        Box::new(BufWriter::new(std::io::stdout()))
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        Box::new(BufWriter::with_capacity(256 * 1024, file))
    };
    let report = console.export(&id, format, query, out).await?;
    if cli.json {
        return output::print_json(&report);
    }
    if !to_stdout {
        println!(
            "exported {} features of '{}' to {} ({})",
            count(report.features),
            id,
            args.output.display(),
            report.format
        );
    }
    Ok(())
}
