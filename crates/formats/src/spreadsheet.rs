//! XLSX and ODS sheets (calamine), read like CSV: the chosen sheet's first row names the columns, and its
//! rows are written out as CSV in memory and read by [`crate::CsvReader`], so coordinate columns (lat/lon
//! names or a WKT column, `--lat`/`--lon`/`--wkt`), cell typing and the time detection downstream are the
//! CSV reader's, and the privacy guard sees the same properties. Cells keep their types: numbers stay
//! numbers, dates become ISO 8601 text (which the import detects as times), booleans `true`/`false`.
//!
//! calamine reads a whole sheet into memory, so the archive is measured first: every member is inflated
//! (and discarded) with its bytes counted, refusing a workbook past [`MAX_SPREADSHEET_BYTES`] or the
//! archive limits before calamine sees it, since a zip's declared sizes may lie.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;

use calamine::{Data, Ods, Range, Reader, Xlsx, open_workbook};
use zip::ZipArchive;

use crate::archive::ArchiveLimits;
use crate::record::file_error;
use crate::stream::FeatureStream;
use crate::{CsvOptions, CsvReader, Format, FormatError, FormatErrorKind, FormatResult, Location};

/// The most a workbook may inflate to, all members together: calamine holds the chosen sheet (and its
/// shared strings) in memory, several times the XML's size at worst. 256 MiB of XML is over a million rows.
pub const MAX_SPREADSHEET_BYTES: u64 = 256 << 20;

/// The media type an ODS package names in its first member.
const ODS_MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// Whether a zip is a workbook: an ODS package says so in its `mimetype` member, an XLSX has
/// `xl/workbook.xml`. Anything else (zipped shapefiles, KMZ) is left to the archive reader.
pub(crate) fn sniff(path: &Path) -> Option<Format> {
    let mut archive = ZipArchive::new(BufReader::new(File::open(path).ok()?)).ok()?;
    if archive.index_for_name("xl/workbook.xml").is_some() {
        return Some(Format::Xlsx);
    }
    let mut mimetype = Vec::new();
    archive
        .by_name("mimetype")
        .ok()?
        .take(ODS_MIMETYPE.len() as u64 + 16)
        .read_to_end(&mut mimetype)
        .ok()?;
    (mimetype.trim_ascii() == ODS_MIMETYPE).then_some(Format::Ods)
}

/// Opens the sheet `layer` names (default: the first that holds data) and reads its rows as features.
pub(crate) fn read(
    path: &Path,
    format: Format,
    layer: Option<&str>,
    csv: &CsvOptions,
    limits: &ArchiveLimits,
) -> FormatResult<FeatureStream> {
    measure(path, limits)?;
    let opened = |e: &dyn std::fmt::Display| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("unreadable {} workbook: {e}", format.name()),
        )
    };
    let (sheets, range) = match format {
        Format::Ods => {
            let mut book: Ods<_> = open_workbook(path).map_err(|e| opened(&e))?;
            let sheets = book.sheet_names();
            let range = choose(path, &sheets, layer, |name| {
                book.worksheet_range(name).map_err(|e| e.to_string())
            })?;
            (sheets, range)
        }
        _ => {
            let mut book: Xlsx<_> = open_workbook(path).map_err(|e| opened(&e))?;
            let sheets = book.sheet_names();
            let range = choose(path, &sheets, layer, |name| {
                book.worksheet_range(name).map_err(|e| e.to_string())
            })?;
            (sheets, range)
        }
    };
    drop(sheets);
    let (sheet, range) = range;
    let (csv_text, rows) = to_csv(path, &range)?;
    let options = CsvOptions {
        delimiter: Some(b','),
        ..csv.clone()
    };
    let prefix = format!("sheet '{sheet}' ");
    let reader =
        CsvReader::new(path.to_path_buf(), Cursor::new(csv_text), &options).map_err(|e| {
            let row = sheet_row(&rows, e.location());
            e.relocated(Location::Line(row), &format!("{prefix}row {row}: "))
        })?;
    Ok(Box::new(reader.map(move |item| match item {
        Ok(mut source) => {
            source.location = Location::Line(sheet_row(&rows, source.location));
            Ok(source)
        }
        Err(e) => {
            let row = sheet_row(&rows, e.location());
            Err(e.relocated(Location::Line(row), &format!("{prefix}row {row}: ")))
        }
    })))
}

/// Where a record starts: its first line in the CSV text, and its 1-based row in the sheet.
type RowStart = (u64, u64);

/// The sheet's 1-based row of a CSV line (or the header's row for file-wide errors).
fn sheet_row(rows: &[RowStart], location: Location) -> u64 {
    let line = match location {
        Location::Line(line) | Location::Position { line, .. } => line,
        Location::Feature(_) | Location::File => 1,
    };
    // rows: (first CSV line of the record, sheet row), in order
    match rows.binary_search_by_key(&line, |r| r.0) {
        Ok(i) => rows[i].1,
        Err(0) => rows.first().map_or(1, |r| r.1),
        Err(i) => rows[i - 1].1,
    }
}

/// The sheet `layer` names, or the first that holds data; errors list the sheets.
fn choose(
    path: &Path,
    sheets: &[String],
    layer: Option<&str>,
    mut range: impl FnMut(&str) -> Result<Range<Data>, String>,
) -> FormatResult<(String, Range<Data>)> {
    let listed = || sheets.join(", ");
    let unreadable = |name: &str, why: String| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("sheet '{name}' cannot be read: {why}"),
        )
    };
    if let Some(wanted) = layer {
        let name = sheets
            .iter()
            .find(|s| s.as_str() == wanted)
            .or_else(|| sheets.iter().find(|s| s.eq_ignore_ascii_case(wanted)))
            .ok_or_else(|| {
                file_error(
                    FormatErrorKind::InvalidOption,
                    path,
                    format!("sheet '{wanted}' not found; sheets are: {}", listed()),
                )
            })?;
        let found = range(name).map_err(|why| unreadable(name, why))?;
        if found.is_empty() {
            return Err(file_error(
                FormatErrorKind::WrongFormat,
                path,
                format!("sheet '{name}' is empty; sheets are: {}", listed()),
            ));
        }
        return Ok((name.clone(), found));
    }
    for name in sheets {
        let found = range(name).map_err(|why| unreadable(name, why))?;
        if !found.is_empty() {
            return Ok((name.clone(), found));
        }
    }
    Err(file_error(
        FormatErrorKind::WrongFormat,
        path,
        format!("no sheet holds data; sheets are: {}", listed()),
    ))
}

/// The sheet as CSV text, with where each record starts: (its first CSV line, its sheet row). Rows with
/// no value at all are left out (a sheet's trailing formatting often spans empty rows).
fn to_csv(path: &Path, range: &Range<Data>) -> FormatResult<(Vec<u8>, Vec<RowStart>)> {
    let first_row = u64::from(range.start().map_or(0, |(row, _)| row)) + 1;
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut rows = Vec::new();
    let mut line = 1u64;
    for (index, cells) in range.rows().enumerate() {
        if index > 0 && cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let texts: Vec<String> = cells.iter().map(text).collect();
        rows.push((line, first_row + index as u64));
        line += 1 + texts
            .iter()
            .map(|t| t.bytes().filter(|&b| b == b'\n').count() as u64)
            .sum::<u64>();
        writer.write_record(&texts).map_err(|e| {
            file_error(
                FormatErrorKind::Io,
                path,
                format!("cannot convert the sheet: {e}"),
            )
        })?;
    }
    let bytes = writer.into_inner().map_err(|e| {
        file_error(
            FormatErrorKind::Io,
            path,
            format!("cannot convert the sheet: {e}"),
        )
    })?;
    Ok((bytes, rows))
}

/// A cell as the CSV reader will type it.
fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
            format!("{}", *f as i64)
        }
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
            None => dt.as_f64().to_string(),
        },
        // a duration: its length in days, as the sheet holds it
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

/// Inflates every member without keeping it, counting: a workbook past the caps is refused before calamine
/// holds it in memory. The counts are of bytes actually inflated, not the sizes the zip declares.
fn measure(path: &Path, limits: &ArchiveLimits) -> FormatResult<()> {
    let file = File::open(path).map_err(|e| FormatError::io(path, &e))?;
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(|e| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("not a readable workbook: {e}"),
        )
    })?;
    if archive.len() > limits.max_entries {
        return Err(file_error(
            FormatErrorKind::WrongFormat,
            path,
            format!(
                "the workbook has {} members; at most {} are read",
                archive.len(),
                limits.max_entries
            ),
        ));
    }
    let cap = MAX_SPREADSHEET_BYTES.min(limits.max_inflated_bytes);
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(|e| {
            file_error(
                FormatErrorKind::Syntax,
                path,
                format!("unreadable member: {e}"),
            )
        })?;
        let name = member
            .name()
            .map_or_else(|_| format!("#{i}"), |n| n.to_string());
        let compressed = member.compressed_size();
        let inflated = io::copy(&mut (&mut member).take(cap - total + 1), &mut io::sink())
            .map_err(|e| {
                file_error(
                    FormatErrorKind::Syntax,
                    path,
                    format!("member {name} cannot be inflated: {e}"),
                )
            })?;
        total += inflated;
        if total > cap {
            return Err(file_error(
                FormatErrorKind::WrongFormat,
                path,
                format!(
                    "the workbook inflates to more than {} MiB; save the sheet as CSV to import it",
                    cap >> 20
                ),
            ));
        }
        if inflated > crate::RATIO_FLOOR_BYTES
            && inflated > compressed.saturating_mul(limits.max_ratio)
        {
            return Err(file_error(
                FormatErrorKind::WrongFormat,
                path,
                format!(
                    "member {name} inflates {} times its size, which no real workbook does",
                    inflated / compressed.max(1)
                ),
            ));
        }
    }
    Ok(())
}
