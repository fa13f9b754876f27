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
use std::io::{self, BufRead, BufReader, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;

use calamine::{Data, Ods, OdsError, Range, Reader, Xlsx, XlsxError, open_workbook};
use quick_xml_kml::Reader as XmlReader;
use quick_xml_kml::Writer as XmlWriter;
use quick_xml_kml::events::Event;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use geoconsole_model::{EXCERPT_NAMES, excerpt_list};

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

/// Opens the sheet `layer` names (default: the first whose columns hold coordinates) and reads its rows as
/// features.
pub(crate) fn read(
    path: &Path,
    format: Format,
    layer: Option<&str>,
    csv: &CsvOptions,
    limits: &ArchiveLimits,
) -> FormatResult<FeatureStream> {
    measure(path, limits)?;
    let (sheets, range) = match format {
        Format::Ods => {
            let compact = compact_ods(path)?;
            let mut book = Ods::new(BufReader::new(compact))
                .map_err(|e| unreadable(path, format, &ods_reason(&e)))?;
            let sheets = book.sheet_names();
            let range = choose(path, &sheets, layer, csv, |name| {
                book.worksheet_range(name).map_err(|e| ods_reason(&e))
            })?;
            (sheets, range)
        }
        _ => {
            let mut book: Xlsx<_> =
                open_workbook(path).map_err(|e| unreadable(path, format, &xlsx_reason(&e)))?;
            let sheets = book.sheet_names();
            let range = choose(path, &sheets, layer, csv, |name| {
                book.worksheet_range(name).map_err(|e| xlsx_reason(&e))
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

/// A workbook calamine cannot read, said without its parser's internals (which name XML events).
fn unreadable(path: &Path, format: Format, why: &str) -> FormatError {
    file_error(
        FormatErrorKind::Syntax,
        path,
        format!("the {} workbook cannot be read: {why}", format.name()),
    )
}

const RESAVE: &str = "open it in a spreadsheet program and save it again, or save the sheet as CSV";

fn ods_reason(error: &OdsError) -> String {
    match error {
        OdsError::Password => "it is password-protected; save it without a password".into(),
        OdsError::FileNotFound(member) => {
            format!("it has no {member}, so it is not a complete OpenDocument spreadsheet")
        }
        OdsError::Io(_) | OdsError::Zip(_) => format!("its archive is damaged; {RESAVE}"),
        OdsError::CellLimitExceeded { requested, max } => {
            format!("a sheet spans {requested} cells, more than the {max} that are read")
        }
        OdsError::WorksheetNotFound(name) => format!("sheet '{name}' is missing"),
        _ => format!("its sheet data is not laid out as spreadsheet programs write it; {RESAVE}"),
    }
}

fn xlsx_reason(error: &XlsxError) -> String {
    match error {
        XlsxError::Password => "it is password-protected; save it without a password".into(),
        XlsxError::FileNotFound(member) => {
            format!("it has no {member}, so it is not a complete XLSX workbook")
        }
        XlsxError::Io(_) | XlsxError::Zip(_) => format!("its archive is damaged; {RESAVE}"),
        XlsxError::WorksheetNotFound(name) => format!("sheet '{name}' is missing"),
        _ => format!("its sheet data is not laid out as spreadsheet programs write it; {RESAVE}"),
    }
}

/// The ODS package again, with `content.xml` rewritten without the whitespace between elements, in a
/// private temporary file. calamine 0.38 (the newest release) expects each element right after the
/// previous one and refuses indented XML (KSpread's, GDAL's); the indentation carries no data. Text
/// inside paragraphs is kept as it is, since a space between two spans there is part of the cell's text.
/// The other members are copied without being inflated. [`measure`] has bounded what is inflated here.
fn compact_ods(path: &Path) -> FormatResult<File> {
    let damaged = |e: &dyn std::fmt::Display| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("the ods workbook cannot be read: its archive is damaged ({e})"),
        )
    };
    let written = |e: &dyn std::fmt::Display| {
        file_error(
            FormatErrorKind::Io,
            path,
            format!("cannot prepare the workbook for reading: {e}"),
        )
    };
    let file = File::open(path).map_err(|e| FormatError::io(path, &e))?;
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(|e| damaged(&e))?;
    let out = tempfile::tempfile().map_err(|e| written(&e))?;
    let mut zip = ZipWriter::new(BufWriter::new(out));
    for i in 0..archive.len() {
        let member = archive.by_index(i).map_err(|e| damaged(&e))?;
        if !member.name().is_ok_and(|name| name == "content.xml") {
            zip.raw_copy_file(member).map_err(|e| damaged(&e))?;
            continue;
        }
        zip.start_file(
            "content.xml",
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
        )
        .map_err(|e| written(&e))?;
        strip_layout_whitespace(BufReader::new(member), &mut zip).map_err(|e| {
            file_error(
                FormatErrorKind::Syntax,
                path,
                format!(
                    "the ods workbook cannot be read: content.xml is not well-formed XML ({e})"
                ),
            )
        })?;
    }
    let mut out = zip
        .finish()
        .map_err(|e| written(&e))?
        .into_inner()
        .map_err(|e| written(&e.into_error()))?;
    out.seek(SeekFrom::Start(0)).map_err(|e| written(&e))?;
    Ok(out)
}

/// Copies XML event by event, leaving out text that is only whitespace outside `text:p`/`text:h`.
fn strip_layout_whitespace(input: impl BufRead, output: impl Write) -> Result<(), String> {
    let mut reader = XmlReader::from_reader(input);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = false;
    config.expand_empty_elements = false;
    let mut writer = XmlWriter::new(output);
    let mut buf = Vec::new();
    // how many paragraphs the current event is inside: their whitespace is text
    let mut in_paragraph = 0usize;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match &event {
            Event::Eof => break,
            Event::Start(e) if is_paragraph(e.name().as_ref()) => in_paragraph += 1,
            Event::End(e) if is_paragraph(e.name().as_ref()) => {
                in_paragraph = in_paragraph.saturating_sub(1);
            }
            Event::Text(t) if in_paragraph == 0 && t.iter().all(u8::is_ascii_whitespace) => {
                buf.clear();
                continue;
            }
            _ => {}
        }
        writer.write_event(event).map_err(|e| e.to_string())?;
        buf.clear();
    }
    Ok(())
}

fn is_paragraph(name: &[u8]) -> bool {
    name == b"text:p" || name == b"text:h"
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

/// The sheet `layer` names, or else the first whose header row names coordinate columns (lat/lon or WKT, as
/// the CSV reader detects them, or the `--lat`/`--lon`/`--wkt` given): a workbook often opens with a notes
/// or summary sheet before the one with the sites. Errors list the sheets.
fn choose(
    path: &Path,
    sheets: &[String],
    layer: Option<&str>,
    csv: &CsvOptions,
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
    let mut without = Vec::new();
    for name in sheets {
        let found = range(name).map_err(|why| unreadable(name, why))?;
        if found.is_empty() {
            continue;
        }
        let columns = header_names(&found);
        if crate::csv_table::finds_coordinates(&columns, csv) {
            return Ok((name.clone(), found));
        }
        without.push(format!(
            "'{name}' ({})",
            excerpt_list(&columns, EXCERPT_NAMES)
        ));
    }
    if without.is_empty() {
        return Err(file_error(
            FormatErrorKind::WrongFormat,
            path,
            format!("no sheet holds data; sheets are: {}", listed()),
        ));
    }
    Err(file_error(
        FormatErrorKind::InvalidOption,
        path,
        format!(
            "no sheet has coordinate columns; name them with --lat and --lon or --wkt, and the sheet \
             with --layer (sheets and their columns: {})",
            without.join("; ")
        ),
    ))
}

/// The column names the sheet's first row gives, as the CSV reader will see them.
fn header_names(range: &Range<Data>) -> Vec<String> {
    let first_column = range.start().map_or(0, |(_, column)| column);
    range.rows().next().map_or_else(Vec::new, |cells| {
        cells
            .iter()
            .enumerate()
            .map(|(i, cell)| header_name(cell, first_column as usize + i))
            .collect()
    })
}

/// A header cell's text, or for a blank one the name GDAL's XLSX and ODS drivers give it: `Field` and the
/// column's number in the sheet (`Field4` for column D), so that two blank header cells do not share a name.
fn header_name(cell: &Data, column: usize) -> String {
    let name = text(cell);
    if name.trim().is_empty() {
        format!("Field{}", column + 1)
    } else {
        name
    }
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
        let texts: Vec<String> = if index == 0 {
            header_names(range)
        } else {
            cells.iter().map(text).collect()
        };
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
