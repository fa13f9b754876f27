//! Human output: aligned tables and short sentences. Machine output is `--json`, handled per command.

use std::io::Write;

use geoconsole_model::{Bbox, Dataset, TimeSpan};
use serde::Serialize;

/// Prints one line on standard output. When the reader has gone (`geoconsole sources list | head -1`) the
/// command ends quietly, as Unix tools do, instead of panicking as `println!` does on a broken pipe.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// `println!` through [`line`].
macro_rules! outln {
    () => {
        $crate::output::line("")
    };
    ($($arg:tt)*) => {
        $crate::output::line(&format!($($arg)*))
    };
}

pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Characters a table cell shows of its text.
const CELL_CHARS: usize = 200;

/// Prints rows under a header with columns padded to their widest cell. Cells hold what others wrote (a
/// login name tried, a dataset title), so each is shown as a bounded excerpt with control characters
/// blanked: an escape sequence in a name must not steer the reader's terminal.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| geoconsole_model::excerpt(cell, CELL_CHARS).into_owned())
                .collect()
        })
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        outln!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

pub fn count(n: u64) -> String {
    indicatif::HumanCount(n).to_string()
}

pub fn extent(bbox: Option<Bbox>) -> String {
    bbox.map_or_else(
        || "-".into(),
        |b| format!("{:.3},{:.3},{:.3},{:.3}", b.west, b.south, b.east, b.north),
    )
}

pub fn time_span(span: Option<TimeSpan>) -> String {
    span.map_or_else(
        || "-".into(),
        |t| {
            format!(
                "{} .. {}",
                t.start.format("%Y-%m-%d %H:%M"),
                t.end.format("%Y-%m-%d %H:%M")
            )
        },
    )
}

pub fn dataset_row(d: &Dataset) -> Vec<String> {
    vec![
        d.id.to_string(),
        d.kind.to_string(),
        d.geometry_type.gpkg_name().to_lowercase(),
        count(d.feature_count),
        time_span(d.time_extent),
        d.version.to_string(),
        d.title.clone(),
    ]
}

pub const DATASET_HEADER: [&str; 7] = [
    "ID",
    "KIND",
    "GEOMETRY",
    "FEATURES",
    "TIME (UTC)",
    "VERSION",
    "TITLE",
];
