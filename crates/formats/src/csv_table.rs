use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use geoconsole_model::geo_types::{Coord, Geometry, Point};
use geoconsole_model::{
    EXCERPT_CHARS, EXCERPT_NAMES, Feature, MAX_GEOMETRY_NESTING, Properties, excerpt, excerpt_list,
    nesting_message, validate_geometry, without_empty_members,
};
use serde_json::{Number, Value};

use crate::line_ends::{LineEnds, LineEndsQuery};
use crate::record::Elevations;
use crate::record_bound::{
    MAX_HEADER_BYTES, MAX_RECORD_BYTES, RecordBound, RecordMark, is_record_too_long,
};
use crate::wkb::Elevation;
use crate::write::FeatureWriter;
use crate::{FormatError, FormatErrorKind, FormatResult, Location, ReadNotes, SourceFeature};

/// The longest column name accepted: names travel into every schema, preview and message.
pub const MAX_COLUMN_NAME_BYTES: usize = 1024;

/// How to find the geometry in a CSV file; each is detected from common column names when not given.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    pub lat: Option<String>,
    pub lon: Option<String>,
    pub wkt: Option<String>,
    /// Field delimiter; sniffed from the header line (`,` `;` tab `|`) when not given.
    pub delimiter: Option<u8>,
}

const LAT_NAMES: [&str; 6] = [
    "lat",
    "latitude",
    "y",
    "lat_dd",
    "decimallatitude",
    "ycoord",
];
const LON_NAMES: [&str; 8] = [
    "lon",
    "lng",
    "long",
    "longitude",
    "x",
    "lon_dd",
    "decimallongitude",
    "xcoord",
];
const WKT_NAMES: [&str; 5] = ["wkt", "geometry", "geom", "the_geom", "wkt_geom"];

enum GeometryColumns {
    LatLon { lat: usize, lon: usize },
    Wkt(usize),
}

/// Where a delimited file's geometry comes from, by column name, as the reader decided (detected or named).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordinateColumns {
    LatLon { lat: String, lon: String },
    Wkt { wkt: String },
}

/// Reads delimited text row by row. Coordinates come from lat/lon columns or one WKT column; every other
/// column becomes a property typed from its text (integers, reals, booleans; everything else stays text).
pub struct CsvReader<R: io::Read> {
    path: PathBuf,
    reader: csv::Reader<RecordBound<LineEnds<R>>>,
    /// Tells the bound beneath the parser where each row ends, so no row is buffered past the cap.
    mark: RecordMark,
    /// Puts right the line numbers of rows in files with CRLF line endings.
    line_ends: LineEndsQuery,
    headers: Vec<String>,
    geometry: GeometryColumns,
    record: csv::StringRecord,
    done: bool,
    /// Z of WKT geometries: a point's kept as a property, others dropped with one warning.
    elevations: Elevations,
}

impl<R: BufRead> CsvReader<R> {
    pub fn new(path: PathBuf, mut input: R, options: &CsvOptions) -> FormatResult<Self> {
        let delimiter = match options.delimiter {
            Some(d) => d,
            None => sniff_delimiter(input.fill_buf().map_err(|e| FormatError::io(&path, &e))?),
        };
        // The csv crate buffers a whole record before handing it over: the bound stops a header or a row
        // without an end at its cap instead (a 50 MB header once took a preview to 2.1 GiB).
        let (input, line_ends) = LineEnds::new(input);
        let (bounded, mark) = RecordBound::new(input, MAX_HEADER_BYTES);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(false)
            .from_reader(bounded);
        let header_error = |message: String| {
            FormatError::new(FormatErrorKind::Syntax, &path, Location::Line(1), message)
        };
        let mut headers: Vec<String> = reader
            .headers()
            .map_err(|e| header_error(header_reason(&e)))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        mark.limit(MAX_RECORD_BYTES);
        if let Some((column, name)) = headers
            .iter()
            .enumerate()
            .find(|(_, name)| name.len() > MAX_COLUMN_NAME_BYTES)
        {
            return Err(header_error(format!(
                "column {}'s name is {} bytes long ('{}'); names may have at most {MAX_COLUMN_NAME_BYTES}",
                column + 1,
                name.len(),
                excerpt(name, EXCERPT_CHARS)
            )));
        }
        if headers.is_empty() || headers.iter().all(String::is_empty) {
            return Err(FormatError::new(
                FormatErrorKind::WrongFormat,
                &path,
                Location::File,
                "file has no header row",
            ));
        }
        // GDAL's CSV driver names a blank header after its position (`field_4`); two blank ones would
        // otherwise share the name ''
        for (i, name) in headers.iter_mut().enumerate() {
            if name.is_empty() {
                *name = format!("field_{}", i + 1);
            }
        }
        for (i, name) in headers.iter().enumerate() {
            if headers[..i]
                .iter()
                .any(|other| other.eq_ignore_ascii_case(name))
            {
                return Err(header_error(format!(
                    "column name '{}' appears twice",
                    excerpt(name, EXCERPT_CHARS)
                )));
            }
        }
        let geometry = find_geometry_columns(&path, &headers, options)?;
        Ok(Self {
            elevations: Elevations::new(&path, ReadNotes::default()),
            path,
            reader,
            mark,
            line_ends,
            headers,
            geometry,
            record: csv::StringRecord::new(),
            done: false,
        })
    }

    /// Warnings about the file (Z dropped from WKT lines and polygons) go to `notes`.
    #[must_use]
    pub fn noting(mut self, notes: &ReadNotes) -> Self {
        self.elevations = Elevations::new(&self.path, notes.clone());
        self
    }

    /// The columns the geometry is read from, for previews.
    pub fn coordinate_columns(&self) -> CoordinateColumns {
        match self.geometry {
            GeometryColumns::LatLon { lat, lon } => CoordinateColumns::LatLon {
                lat: self.headers[lat].clone(),
                lon: self.headers[lon].clone(),
            },
            GeometryColumns::Wkt(column) => CoordinateColumns::Wkt {
                wkt: self.headers[column].clone(),
            },
        }
    }

    fn row_to_feature(&mut self) -> Result<Feature, String> {
        let record = &self.record;
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let mut elevation = Elevation::Flat;
        // Empty coordinate cells, an empty WKT cell and `POLYGON EMPTY` are an unlocated feature, as GDAL
        // reads them (no geometry); one coordinate without the other is an error.
        let (geometry, skip) = match self.geometry {
            GeometryColumns::LatLon { lat, lon }
                if cell(lat).is_empty() && cell(lon).is_empty() =>
            {
                (None, [lat, lon])
            }
            GeometryColumns::LatLon { lat, lon } => {
                let y = coordinate(cell(lat), "latitude")?;
                let x = coordinate(cell(lon), "longitude")?;
                (Some(Geometry::Point(Point(Coord { x, y }))), [lat, lon])
            }
            GeometryColumns::Wkt(column) if cell(column).is_empty() => (None, [column, column]),
            GeometryColumns::Wkt(column) => {
                // Untrimmed at the start, so that the characters a message counts are the cell's; padding
                // beyond ASCII (a spreadsheet's no-break space) is padding at either end, as in every cell.
                let text = record.get(column).unwrap_or("").trim_end();
                let lead = text.len() - text.trim_start().len();
                let text = if text[..lead].is_ascii() {
                    std::borrow::Cow::Borrowed(text)
                } else {
                    let spaces = " ".repeat(text[..lead].chars().count());
                    std::borrow::Cow::Owned(spaces + text.trim_start())
                };
                let (geometry, z) = parse_wkt(&text)?;
                elevation = z;
                (without_empty_members(geometry), [column, column])
            }
        };
        if let Some(geometry) = &geometry {
            validate_geometry(geometry).map_err(|e| e.message().to_string())?;
        }
        let mut properties = Properties::with_capacity(self.headers.len());
        for (i, (name, value)) in self.headers.iter().zip(self.record.iter()).enumerate() {
            if !skip.contains(&i) {
                properties.insert(name.clone(), typed_cell(value));
            }
        }
        if geometry.is_some() {
            self.elevations.keep(elevation, &mut properties);
        }
        Ok(Feature {
            id: None,
            geometry,
            time: None,
            properties,
        })
    }
}

impl<R: io::Read> CsvReader<R> {
    /// The line a row (or an error) starts on. The `csv` crate notes where a row starts before it skips the
    /// line breaks in front of it (a CRLF's LF, blank lines).
    fn line_at(&self, position: &csv::Position) -> u64 {
        position.line() + self.line_ends.lines_skipped_at(position.byte())
    }

    fn fail(
        &mut self,
        kind: FormatErrorKind,
        line: u64,
        message: String,
    ) -> Option<FormatResult<SourceFeature>> {
        self.done = true;
        Some(Err(FormatError::new(
            kind,
            &self.path,
            Location::Line(line),
            message,
        )))
    }
}

impl<R: BufRead> Iterator for CsvReader<R> {
    type Item = FormatResult<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut record = std::mem::take(&mut self.record);
        let read = self.reader.read_record(&mut record);
        self.record = record;
        self.mark.ended();
        match read {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| self.line_at(p));
                let location = Location::Line(line);
                Some(match self.row_to_feature() {
                    Ok(feature) => Ok(SourceFeature { location, feature }),
                    Err(why) => Err(FormatError::new(
                        FormatErrorKind::InvalidFeature,
                        &self.path,
                        location,
                        why,
                    )
                    .with_record(&self.headers, self.record.iter())),
                })
            }
            Err(error) => {
                // An I/O error has no position of its own: it broke the row after the last one read.
                let line = match error.position() {
                    Some(p) => self.line_at(p),
                    None => self.line_at(&self.reader.position().clone()),
                };
                match error.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        let message =
                            format!("row has {len} fields, the header has {expected_len}");
                        Some(Err(FormatError::new(
                            FormatErrorKind::InvalidFeature,
                            &self.path,
                            Location::Line(line),
                            message,
                        )))
                    }
                    csv::ErrorKind::Utf8 { .. } => self.fail(
                        FormatErrorKind::Encoding,
                        line,
                        "text is not valid UTF-8; save the file as UTF-8 and import again".into(),
                    ),
                    _ => {
                        let reason = csv_reason(&error);
                        self.fail(FormatErrorKind::Syntax, line, reason)
                    }
                }
            }
        }
    }
}

/// Why the header row could not be read; a header beyond its cap says that cap.
fn header_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Io(e) if is_record_too_long(e) => format!(
            "header row longer than {} KiB; is this a delimited text file?",
            MAX_HEADER_BYTES / 1024
        ),
        _ => csv_reason(error),
    }
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "text is not valid UTF-8; save the file as UTF-8 and import again".into()
        }
        csv::ErrorKind::Io(e) => e.to_string(),
        _ => error.to_string(),
    }
}

/// Whether these column names (trimmed, as the reader trims them) give the geometry: what a caller choosing
/// among tables (a workbook's sheets) asks before reading one.
pub(crate) fn finds_coordinates(headers: &[String], options: &CsvOptions) -> bool {
    let headers: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    find_geometry_columns(Path::new(""), &headers, options).is_ok()
}

fn find_geometry_columns(
    path: &Path,
    headers: &[String],
    options: &CsvOptions,
) -> FormatResult<GeometryColumns> {
    let named = |wanted: &str, role: &str| -> FormatResult<usize> {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                FormatError::new(
                    FormatErrorKind::InvalidOption,
                    path,
                    Location::File,
                    format!(
                        "{role} column '{}' not found; columns are: {}",
                        excerpt(wanted, EXCERPT_CHARS),
                        excerpt_list(headers, EXCERPT_NAMES)
                    ),
                )
            })
    };
    let guess = |candidates: &[&str]| {
        candidates
            .iter()
            .find_map(|c| headers.iter().position(|h| h.eq_ignore_ascii_case(c)))
    };
    if let Some(wkt) = &options.wkt {
        return named(wkt, "WKT").map(GeometryColumns::Wkt);
    }
    let lat = options
        .lat
        .as_deref()
        .map(|n| named(n, "latitude"))
        .transpose()?
        .or_else(|| guess(&LAT_NAMES));
    let lon = options
        .lon
        .as_deref()
        .map(|n| named(n, "longitude"))
        .transpose()?
        .or_else(|| guess(&LON_NAMES));
    match (lat, lon) {
        (Some(lat), Some(lon)) => Ok(GeometryColumns::LatLon { lat, lon }),
        _ => guess(&WKT_NAMES).map(GeometryColumns::Wkt).ok_or_else(|| {
            FormatError::new(
                FormatErrorKind::InvalidOption,
                path,
                Location::File,
                format!(
                    "no coordinate columns found; name them with --lat and --lon or --wkt (columns are: {})",
                    excerpt_list(headers, EXCERPT_NAMES)
                ),
            )
        }),
    }
}

fn sniff_delimiter(head: &[u8]) -> u8 {
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let mut best = (b',', 0);
    for candidate in [b',', b';', b'\t', b'|'] {
        let mut quoted = false;
        let count = first_line
            .iter()
            .filter(|b| {
                if **b == b'"' {
                    quoted = !quoted;
                }
                !quoted && **b == candidate
            })
            .count();
        if count > best.1 {
            best = (candidate, count);
        }
    }
    best.0
}

fn coordinate(text: &str, what: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Err(format!("{what} is empty"));
    }
    text.parse::<f64>()
        .map_err(|_| format!("{what} '{}' is not a number", excerpt(text, EXCERPT_CHARS)))
}

/// Parentheses a WKT geometry may nest beyond its collections: a multipolygon's three, and one to spare.
const WKT_PARENS_BEYOND_COLLECTIONS: usize = 4;

/// The geometry, with its Z as the 2D model keeps it (a point's, or none and a warning).
fn parse_wkt(text: &str) -> Result<(Geometry<f64>, Elevation), String> {
    use std::str::FromStr;
    if text.is_empty() {
        return Err("WKT geometry is empty".into());
    }
    // The `wkt` crate recurses once per collection level: a cell nesting 10,000 GEOMETRYCOLLECTIONs
    // overflowed the reader's stack and aborted the process, so the nesting is measured first.
    let (collections, parens) = wkt_nesting(text);
    if collections > MAX_GEOMETRY_NESTING {
        return Err(nesting_message(collections));
    }
    if parens > collections + WKT_PARENS_BEYOND_COLLECTIONS {
        return Err(format!(
            "WKT nests parentheses {parens} deep, more than any geometry needs"
        ));
    }
    // The `wkt` crate stops at the end of the first geometry and ignores what follows: `POINT (1 2)
    // POINT (3 4)` was stored as one point and `POINT (1 2))` as if well formed.
    if let Some(problem) = text_after_geometry(text) {
        return Err(format!("WKT is not valid: {problem}"));
    }
    // The `wkt` crate reads no curves; they are linearised as the WKB decoder linearises them.
    if crate::wkt_curve::is_curved(text) {
        return crate::wkt_curve::parse(text).map(|g| (g, Elevation::Flat));
    }
    let text_before_rewrites = text;
    let text = empty_parts_folded(text)?;
    let text = surfaces_as_polygons(&text);
    let text = dimension_tagged(&text);
    let parsed = wkt::Wkt::<f64>::from_str(&text).map_err(|e| {
        // The `wkt` crate's words are about its own state (`Missing closing parenthesis for type` for a
        // letter among the numbers): say what is wrong, and where, when a scan of the text can tell.
        let original = text_before_rewrites;
        wkt_problem(original).map_or_else(
            || format!("WKT is not valid: {e}"),
            |problem| format!("WKT is not valid: {problem}"),
        )
    })?;
    ring_problem(&parsed)?;
    use wkt::types::Dimension;
    let elevation = match (&parsed, parsed.dimension()) {
        (_, Dimension::XY | Dimension::XYM) => Elevation::Flat,
        (wkt::Wkt::Point(p), _) => p
            .coord()
            .and_then(|c| c.z)
            .filter(|z| !z.is_nan())
            .map_or(Elevation::Flat, Elevation::Point),
        _ => Elevation::Dropped,
    };
    let geometry = Geometry::try_from(parsed).map_err(|e| format!("WKT cannot be used: {e}"))?;
    Ok((geometry, elevation))
}

/// A ring of fewer than four positions, counted as written, or one whose last position is not its first:
/// geo-types closes rings, so the count after it did (3 for `POLYGON ((0 0, 1 1))`) is not what the cell
/// holds, and an open ring would be closed without a word (other readers refuse one). A multipolygon's or a
/// collection's member is named.
fn ring_problem(parsed: &wkt::Wkt<f64>) -> Result<(), String> {
    let check = |polygon: &wkt::types::Polygon<f64>| {
        for (i, ring) in polygon.rings().iter().enumerate() {
            let n = ring.coords().len();
            let which = if i == 0 {
                "exterior ring".to_string()
            } else {
                format!("interior ring {i}")
            };
            let closed = ring.coords().first().map(|c| (c.x, c.y))
                == ring.coords().last().map(|c| (c.x, c.y));
            if n > 0 && n < 4 {
                return Err(format!(
                    "{which} has {n} position(s){}, at least 4 needed (the first repeated last)",
                    if closed { "" } else { " and is not closed" }
                ));
            }
            if n > 0 && !closed {
                return Err(format!(
                    "{which} is not closed: its last position is not its first, repeated"
                ));
            }
        }
        Ok(())
    };
    let member = |kind: &str, k: usize, of: usize, why: String| {
        if of > 1 {
            format!("{kind} {} of {of}: {why}", k + 1)
        } else {
            why
        }
    };
    match parsed {
        wkt::Wkt::Polygon(p) => check(p),
        wkt::Wkt::MultiPolygon(mp) => mp.polygons().iter().enumerate().try_for_each(|(k, p)| {
            check(p).map_err(|why| member("polygon", k, mp.polygons().len(), why))
        }),
        // Nesting was bounded before parsing (`MAX_GEOMETRY_NESTING`).
        wkt::Wkt::GeometryCollection(gc) => {
            gc.geometries().iter().enumerate().try_for_each(|(k, g)| {
                ring_problem(g).map_err(|why| member("geometry", k, gc.geometries().len(), why))
            })
        }
        _ => Ok(()),
    }
}

/// Text after a complete geometry, or a `)` that closes nothing: a byte scan cheap enough for every cell.
fn text_after_geometry(text: &str) -> Option<String> {
    let character = |byte: usize| text[..byte].chars().count() + 1;
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' if depth == 0 => {
                return Some(format!("')' at character {} closes nothing", character(i)));
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    let rest = text[i + 1..].trim_start();
                    if rest.starts_with(')') {
                        let at = character(text.len() - rest.len());
                        return Some(format!("')' at character {at} closes nothing"));
                    }
                    return (!rest.is_empty()).then(|| {
                        format!(
                            "'{}' at character {} follows the end of the geometry (one geometry per \
                             cell; several go in a GEOMETRYCOLLECTION or a MULTI type)",
                            excerpt(&shown(rest.trim_end()), EXCERPT_CHARS),
                            character(text.len() - rest.len())
                        )
                    });
                }
            }
            _ => {}
        }
    }
    // Without parentheses the only complete geometry is `TYPE [Z|M|ZM] EMPTY`.
    let trimmed = text.trim_end();
    let empty_at = trimmed.to_ascii_uppercase().find("EMPTY")?;
    let rest = trimmed[empty_at + "EMPTY".len()..].trim_start();
    (depth == 0 && !rest.is_empty()).then(|| {
        format!(
            "'{}' at character {} follows the end of the geometry",
            excerpt(&shown(rest), EXCERPT_CHARS),
            character(trimmed.len() - rest.len())
        )
    })
}

/// Text quoted in a message with control and bidirectional-formatting characters escaped: a NUL showed as a
/// space, and a right-to-left override reordered the message around it.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A geometry type whose parentheses [`wkt_problem`] is inside: what its positions must look like.
struct OpenGeometry {
    /// The type's name, upper case.
    kind: &'static str,
    /// `Z`, `M` or `ZM` after the name.
    tag: Option<&'static str>,
    /// How many parentheses are open once its own is (1 for a top-level geometry).
    depth: usize,
    /// How many numbers its first position has, when its type names no dimension.
    numbers: Option<usize>,
}

impl OpenGeometry {
    /// How to write one, for messages.
    fn example(&self) -> &'static str {
        match self.kind {
            "POINT" => "POINT (1 2)",
            "LINESTRING" => "LINESTRING (0 0, 1 1)",
            "POLYGON" => "POLYGON ((0 0, 1 0, 1 1, 0 0))",
            "TRIANGLE" => "TRIANGLE ((0 0, 1 0, 1 1, 0 0))",
            "MULTIPOINT" => "MULTIPOINT ((0 0), (1 1))",
            "MULTILINESTRING" => "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
            "MULTIPOLYGON" => "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))",
            "POLYHEDRALSURFACE" => "POLYHEDRALSURFACE (((0 0, 1 0, 1 1, 0 0)))",
            "TIN" => "TIN (((0 0, 1 0, 1 1, 0 0)))",
            _ => "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))",
        }
    }

    /// A position starting at character `at` with `open` parentheses open, when that many cannot hold
    /// one of this type's positions (`POLYGON (0 0, ...)` lacks its ring's parentheses).
    fn nesting_problem(&self, open: usize, at: usize) -> Option<String> {
        let inside = open + 1 - self.depth;
        let (fewest, most) = match self.kind {
            "POINT" | "LINESTRING" => (1, 1),
            "POLYGON" | "TRIANGLE" | "MULTILINESTRING" => (2, 2),
            "MULTIPOINT" => (1, 2),
            "MULTIPOLYGON" | "POLYHEDRALSURFACE" | "TIN" => (3, 3),
            _ => {
                return Some(format!(
                    "a GEOMETRYCOLLECTION holds geometries, not positions (character {at}): {}",
                    self.example()
                ));
            }
        };
        if inside < fewest {
            Some(format!(
                "the position at character {at} lacks parentheses: a {} is written {}",
                self.kind,
                self.example()
            ))
        } else if inside > most {
            Some(format!(
                "the position at character {at} is in more parentheses than a {} takes: {}",
                self.kind,
                self.example()
            ))
        } else {
            None
        }
    }

    /// A position of `numbers` numbers starting at character `at`, when the type's `Z`, `M` or `ZM` asks
    /// for another count, or, untagged, when its first position had another.
    fn dimension_problem(&mut self, (numbers, at): (usize, usize)) -> Option<String> {
        if numbers == 0 {
            return None;
        }
        let Some(tag) = self.tag else {
            let first = *self.numbers.get_or_insert(numbers);
            return (numbers > 1 && first > 1 && numbers != first).then(|| {
                format!(
                    "the position at character {at} has {numbers} numbers where this {}'s first has \
                     {first}; every position of a geometry has as many (tag it Z, M or ZM: \
                     {} Z (…))",
                    self.kind, self.kind
                )
            });
        };
        let (wanted, names) = match tag {
            "Z" => (3, "x y z"),
            "M" => (3, "x y m"),
            _ => (4, "x y z m"),
        };
        (numbers != wanted).then(|| {
            format!(
                "{} {} takes {wanted} numbers per position ({names}); the position at character {at} \
                 has {numbers}",
                self.kind, tag
            )
        })
    }
}

/// The first thing in WKT text that cannot be right, with its place (1-based, in characters): a word or
/// character among the numbers, a parenthesis that closes nothing, or one never closed, a position with
/// too few or too many parentheses for its type, or with another count of numbers than its Z or M says.
fn wkt_problem(text: &str) -> Option<String> {
    const WORDS: &[&str] = &[
        "POINT",
        "LINESTRING",
        "POLYGON",
        "MULTIPOINT",
        "MULTILINESTRING",
        "MULTIPOLYGON",
        "GEOMETRYCOLLECTION",
        "TRIANGLE",
        "TIN",
        "POLYHEDRALSURFACE",
        "EMPTY",
        "Z",
        "M",
        "ZM",
    ];
    let mut open: Vec<usize> = Vec::new();
    // The last sign that was not a space: a comma right after `(` or another comma, or right before `)`,
    // separates nothing.
    let mut last: Option<(char, usize)> = None;
    // The numbers of the position being read, and where it starts: a position holds 2 to 4 (x y, z, m).
    let mut position: (usize, usize) = (0, 0);
    let position_problem = |(numbers, at): (usize, usize)| match numbers {
        1 => Some(format!(
            "the position at character {at} has one number; a position is x and y separated by a space \
             (POINT (1 2)), positions are separated by commas"
        )),
        n if n > 4 => Some(format!(
            "the position at character {at} has {n} numbers; at most 4 (x y z m)"
        )),
        _ => None,
    };
    let mut words = 0usize;
    // The geometry types whose parentheses are open, innermost last, and the one named but not yet opened.
    let mut geometries: Vec<OpenGeometry> = Vec::new();
    let mut named: Option<OpenGeometry> = None;
    // A `)` was the last sign: what follows it inside other parentheses is a `,` or another `)`.
    let mut after_close = false;
    let mut chars = text.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let at = i + 1;
        if c.is_control() && !c.is_ascii_whitespace() {
            return Some(format!(
                "unexpected character '{}' at character {at}",
                c.escape_default()
            ));
        }
        if after_close && !c.is_whitespace() {
            after_close = false;
            if !matches!(c, ',' | ')') && !open.is_empty() {
                return Some(format!(
                    "a ',' is missing before character {at}: the parts of a geometry, and the members \
                     of a collection, are separated by commas"
                ));
            }
        }
        let stray_comma = match (c, last) {
            (',', Some(('(' | ',', _))) => Some(at),
            (')', Some((',', comma))) => Some(comma),
            _ => None,
        };
        if let Some(comma) = stray_comma {
            return Some(format!("the ',' at character {comma} separates nothing"));
        }
        if let Some(geometry) = &named
            && !(c.is_whitespace() || c.is_alphabetic() || c == '(')
        {
            return Some(format!(
                "'{}' at character {at} stands between {} and its '(': write {}",
                c.escape_default(),
                geometry.kind,
                geometry.example()
            ));
        }
        if c.is_whitespace() && !c.is_ascii() {
            return Some(format!(
                "the space U+{:04X} at character {at} is not one WKT reads; write an ASCII space",
                u32::from(c)
            ));
        }
        let last_before = last;
        if !c.is_whitespace() {
            last = Some((c, at));
        }
        if matches!(c, ',' | ')') {
            if let Some(problem) = position_problem(position) {
                return Some(problem);
            }
            // A position counts for every geometry it is inside: a collection's `Z` binds its members.
            if let Some(problem) = geometries
                .iter_mut()
                .rev()
                .find_map(|g| g.dimension_problem(position))
            {
                return Some(problem);
            }
            position = (0, 0);
        }
        if c == ')' && matches!(last_before, Some(('(', _))) {
            return Some(format!(
                "the parentheses at character {} hold nothing; a geometry without positions is \
                 written EMPTY (POINT EMPTY)",
                at - 1
            ));
        }
        match c {
            '(' => {
                open.push(at);
                position = (0, 0);
                if let Some(mut geometry) = named.take() {
                    geometry.depth = open.len();
                    geometries.push(geometry);
                }
            }
            ')' => {
                after_close = true;
                if geometries.last().is_some_and(|g| g.depth == open.len()) {
                    geometries.pop();
                }
                if open.pop().is_none() {
                    return Some(format!("')' at character {at} closes nothing"));
                }
            }
            // A number is read whole from where it starts (`0x10`, `1e`, `--1` are not numbers).
            c if c.is_ascii_digit() || matches!(c, '.' | '-' | '+') => {
                let mut number = String::from(c);
                while let Some((_, next)) = chars
                    .peek()
                    .filter(|(_, n)| n.is_alphanumeric() || matches!(n, '.' | '-' | '+'))
                {
                    number.push(*next);
                    chars.next();
                }
                if number.parse::<f64>().is_err() {
                    return Some(format!(
                        "'{}' at character {at} is not a number",
                        excerpt(&number, EXCERPT_CHARS)
                    ));
                }
                if position.0 == 0 {
                    position.1 = at;
                    if let Some(problem) = geometries
                        .last()
                        .and_then(|g| g.nesting_problem(open.len(), at))
                    {
                        return Some(problem);
                    }
                }
                position.0 += 1;
            }
            c if c.is_alphabetic() => {
                let mut word = String::from(c);
                while let Some((_, next)) = chars.peek().filter(|(_, n)| n.is_alphanumeric()) {
                    word.push(*next);
                    chars.next();
                }
                let known = WORDS.iter().any(|w| w.eq_ignore_ascii_case(&word));
                if !open.is_empty() && !known {
                    return Some(format!(
                        "'{}' at character {at} is not a number",
                        excerpt(&word, EXCERPT_CHARS)
                    ));
                }
                if !known {
                    return Some(format!(
                        "'{}' at character {at} is not a WKT geometry type (POINT, LINESTRING, POLYGON, \
                         MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, GEOMETRYCOLLECTION, their curved \
                         forms, TRIANGLE, TIN, POLYHEDRALSURFACE)",
                        excerpt(&word, EXCERPT_CHARS)
                    ));
                }
                words += 1;
                let upper = word.to_ascii_uppercase();
                match upper.as_str() {
                    "EMPTY" => named = None,
                    "Z" | "M" | "ZM" => {
                        if let Some(geometry) = &mut named {
                            geometry.tag = Some(match upper.as_str() {
                                "ZM" => "ZM",
                                "Z" => "Z",
                                _ => "M",
                            });
                        }
                    }
                    _ => {
                        named = WORDS
                            .iter()
                            .find(|w| **w == upper)
                            .map(|kind| OpenGeometry {
                                kind,
                                tag: None,
                                depth: 0,
                                numbers: None,
                            })
                    }
                }
            }
            c if c.is_whitespace() || c == ',' => {}
            other => {
                return Some(format!(
                    "unexpected character '{}' at character {at}",
                    other.escape_default()
                ));
            }
        }
    }
    if let Some(at) = open.first() {
        return Some(format!("the '(' at character {at} is never closed"));
    }
    let has = |word: &str| text.to_ascii_uppercase().contains(word);
    (words > 0 && !text.contains('(') && !has("EMPTY")).then(|| {
        format!(
            "'{}' has no coordinates: write them in parentheses (POINT (1 2)), or EMPTY",
            excerpt(text.trim(), EXCERPT_CHARS)
        )
    })
}

/// One token of WKT text, for the scans that run before the `wkt` crate reads it.
#[derive(PartialEq, Clone, Copy, Debug)]
enum WktToken {
    Open,
    Close,
    Comma,
    Empty,
    /// `GEOMETRYCOLLECTION`, whose parentheses hold geometries rather than positions.
    Collection,
    /// Any other geometry type's name.
    Keyword,
    /// `Z`, `M` or `ZM` after a type's name.
    Dimension,
    /// Numbers, signs and anything else.
    Other,
}

/// WKT's tokens with their byte ranges; whitespace is skipped.
fn wkt_tokens(text: &str) -> impl Iterator<Item = (WktToken, usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        let token = match *bytes.get(i)? {
            b'(' => WktToken::Open,
            b')' => WktToken::Close,
            b',' => WktToken::Comma,
            // The exponent of a number (`1e5`) is no word.
            b if b.is_ascii_alphabetic()
                && start > 0
                && (bytes[start - 1].is_ascii_digit() || bytes[start - 1] == b'.') =>
            {
                WktToken::Other
            }
            b if b.is_ascii_alphabetic() => {
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let word = &text[start..i];
                let kind = if word.eq_ignore_ascii_case("EMPTY") {
                    WktToken::Empty
                } else if word.eq_ignore_ascii_case("GEOMETRYCOLLECTION") {
                    WktToken::Collection
                } else if ["Z", "M", "ZM"]
                    .iter()
                    .any(|d| word.eq_ignore_ascii_case(d))
                {
                    WktToken::Dimension
                } else {
                    WktToken::Keyword
                };
                return Some((kind, start, i));
            }
            _ => WktToken::Other,
        };
        // A token ends on a character's boundary (text beyond ASCII is sliced by these offsets).
        i += text[i..].chars().next().map_or(1, char::len_utf8);
        Some((token, start, i))
    })
}

/// WKT with every geometry whose parentheses hold nothing but `EMPTY` (`MULTIPOINT (EMPTY)`,
/// `POLYGON (EMPTY, EMPTY)`, `MULTIPOLYGON ((EMPTY))`, as PostGIS and GEOS write them, with or without a space
/// before the parenthesis) written as the empty geometry of its type, which the `wkt` crate reads; an `EMPTY`
/// part beside parts with positions is refused by name, as the other readers refuse an empty part (the
/// `wkt` crate would say only that it expected a number).
fn empty_parts_folded(text: &str) -> Result<std::borrow::Cow<'_, str>, String> {
    use WktToken as T;
    if !text
        .as_bytes()
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b"EMPTY"))
    {
        return Ok(text.into());
    }
    let tokens: Vec<(WktToken, usize, usize)> = wkt_tokens(text).collect();
    // Each opening parenthesis's closing one.
    let mut closing = vec![None; tokens.len()];
    let mut open = Vec::new();
    let mut balanced = true;
    for (t, token) in tokens.iter().enumerate() {
        match token.0 {
            T::Open => open.push(t),
            T::Close => match open.pop() {
                Some(o) => closing[o] = Some(t),
                None => balanced = false,
            },
            _ => {}
        }
    }
    balanced &= open.is_empty();
    let mut folded = String::with_capacity(text.len());
    let mut copied = 0;
    let mut t = 0;
    while t < tokens.len() {
        if matches!(tokens[t].0, T::Keyword | T::Collection) {
            let mut paren = t + 1;
            if tokens.get(paren).is_some_and(|k| k.0 == T::Dimension) {
                paren += 1;
            }
            let close = tokens
                .get(paren)
                .filter(|k| k.0 == T::Open)
                .and_then(|_| closing[paren]);
            if let Some(close) = close
                && tokens[paren + 1..close]
                    .iter()
                    .all(|k| matches!(k.0, T::Open | T::Close | T::Comma | T::Empty))
            {
                folded.push_str(&text[copied..tokens[paren - 1].2]);
                folded.push_str(" EMPTY");
                copied = tokens[close].2;
                t = close + 1;
                continue;
            }
        }
        // Left to the `wkt` crate's own message when the parentheses do not even pair up.
        if balanced
            && tokens[t].0 == T::Empty
            && t > 0
            && matches!(tokens[t - 1].0, T::Open | T::Comma)
        {
            return Err(format!(
                "WKT has an EMPTY part beside parts with positions (at character {}): the part's positions are missing",
                text[..tokens[t].1].chars().count() + 1
            ));
        }
        t += 1;
    }
    if copied == 0 {
        return Ok(text.into());
    }
    folded.push_str(&text[copied..]);
    Ok(folded.into())
}

/// WKT whose positions have three or four numbers but whose types name no dimension (`POINT (1 2 3)`, as
/// older writers and GDAL's own `OGR_G_ExportToWkt` give them) with each type's name tagged `Z` or `ZM`, which
/// the `wkt` crate needs (it said "missing closing parenthesis"); GDAL reads them so.
fn dimension_tagged(text: &str) -> std::borrow::Cow<'_, str> {
    use WktToken as T;
    let tokens: Vec<(WktToken, usize, usize)> = wkt_tokens(text).collect();
    if tokens.iter().any(|t| t.0 == T::Dimension) {
        return members_tagged(text, &tokens);
    }
    // The first position: the text after the first parenthesis that opens onto a number.
    let Some(first) = tokens
        .windows(2)
        .find(|w| w[0].0 == T::Open && w[1].0 == T::Other)
        .map(|w| w[1].1)
    else {
        return text.into();
    };
    let end = text[first..]
        .find([',', ')'])
        .map_or(text.len(), |e| first + e);
    let tag = match text[first..end].split_whitespace().count() {
        3 => " Z",
        4 => " ZM",
        _ => return text.into(),
    };
    let mut tagged = String::with_capacity(text.len() + 8);
    let mut copied = 0;
    for token in tokens
        .iter()
        .filter(|t| matches!(t.0, T::Keyword | T::Collection))
    {
        tagged.push_str(&text[copied..token.2]);
        tagged.push_str(tag);
        copied = token.2;
    }
    tagged.push_str(&text[copied..]);
    tagged.into()
}

/// WKT whose tagged collection holds untagged members (`GEOMETRYCOLLECTION Z (POINT (1 2 3))`, as GDAL reads
/// and some writers write it) with each member tagged as its collection is, which the `wkt` crate needs.
fn members_tagged<'a>(
    text: &'a str,
    tokens: &[(WktToken, usize, usize)],
) -> std::borrow::Cow<'a, str> {
    use WktToken as T;
    let mut tagged = String::new();
    let mut copied = 0;
    // For each open parenthesis, the tag its members take (a tagged collection's), and the tag the next
    // parenthesis passes on.
    let mut open: Vec<Option<&str>> = Vec::new();
    let mut passed: Option<&str> = None;
    for (i, &(token, _, end)) in tokens.iter().enumerate() {
        match token {
            T::Keyword | T::Collection => {
                let own = tokens
                    .get(i + 1)
                    .filter(|t| t.0 == T::Dimension)
                    .map(|t| &text[t.1..t.2]);
                let inherited = open.last().copied().flatten();
                if let (None, Some(tag)) = (own, inherited) {
                    tagged.push_str(&text[copied..end]);
                    tagged.push(' ');
                    tagged.push_str(tag);
                    copied = end;
                }
                passed = (token == T::Collection)
                    .then_some(own.or(inherited))
                    .flatten();
            }
            T::Open => open.push(passed.take()),
            T::Close => {
                open.pop();
            }
            _ => {}
        }
    }
    if copied == 0 {
        return text.into();
    }
    tagged.push_str(&text[copied..]);
    tagged.into()
}

/// WKT with ISO's surfaces of polygons named as the types the `wkt` crate reads, as GDAL reads them into a
/// GeoPackage: a TRIANGLE is a POLYGON, a TIN or POLYHEDRALSURFACE a MULTIPOLYGON.
fn surfaces_as_polygons(text: &str) -> std::borrow::Cow<'_, str> {
    let mut renamed = String::new();
    let mut copied = 0;
    for (token, start, end) in wkt_tokens(text) {
        let word = &text[start..end];
        let as_type = match token {
            WktToken::Keyword if word.eq_ignore_ascii_case("TRIANGLE") => "POLYGON",
            WktToken::Keyword
                if word.eq_ignore_ascii_case("TIN")
                    || word.eq_ignore_ascii_case("POLYHEDRALSURFACE") =>
            {
                "MULTIPOLYGON"
            }
            _ => continue,
        };
        renamed.push_str(&text[copied..start]);
        renamed.push_str(as_type);
        copied = end;
    }
    if copied == 0 {
        return text.into();
    }
    renamed.push_str(&text[copied..]);
    renamed.into()
}

/// The deepest nesting of GEOMETRYCOLLECTIONs in WKT text, and of its parentheses, found in one pass
/// without recursion.
fn wkt_nesting(text: &str) -> (usize, usize) {
    // For each open parenthesis, whether it opened a collection.
    let mut open: Vec<bool> = Vec::new();
    let (mut collections, mut deepest_collections) = (0usize, 0usize);
    let mut deepest = 0usize;
    // Whether the last word was GEOMETRYCOLLECTION (a `Z`, `M` or `ZM` may stand between it and its `(`).
    let mut after_collection = false;
    for (token, _, _) in wkt_tokens(text) {
        match token {
            WktToken::Collection => after_collection = true,
            WktToken::Dimension => {}
            WktToken::Open => {
                open.push(after_collection);
                if after_collection {
                    collections += 1;
                    deepest_collections = deepest_collections.max(collections);
                }
                deepest = deepest.max(open.len());
                after_collection = false;
            }
            WktToken::Close => {
                if open.pop() == Some(true) {
                    collections -= 1;
                }
                after_collection = false;
            }
            _ => after_collection = false,
        }
    }
    (deepest_collections, deepest)
}

/// Types a cell from its text. Numbers with leading zeros (postcodes, site codes such as `007`) stay text so
/// nothing is lost; so does anything that merely contains a number.
pub(crate) fn typed_cell(text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if !leading_zero
        && !digits.is_empty()
        && digits.bytes().next().is_some_and(|b| b.is_ascii_digit())
    {
        if digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = text.parse::<i64>()
        {
            return Value::Number(i.into());
        }
        if digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    match text {
        "true" | "TRUE" | "True" => Value::Bool(true),
        "false" | "FALSE" | "False" => Value::Bool(false),
        _ => Value::String(text.to_string()),
    }
}

/// Writes features as CSV: `longitude,latitude` for point datasets, `wkt` otherwise, then one column per
/// schema field. Text that a spreadsheet would run as a formula is prefixed with `'`.
pub struct CsvWriter<W: Write> {
    writer: csv::Writer<W>,
    fields: Vec<String>,
    points: bool,
    row: Vec<String>,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(out: W, fields: Vec<String>, points: bool) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(out);
        // The id and geometry columns give way to properties of the same name (a dataset with an `id`
        // property was exported with two `id` columns, which no reader takes back), as GDAL's CSV driver
        // does with its own columns.
        let free = |wanted: &str| {
            std::iter::once(wanted.to_string())
                .chain((1..).map(|n| format!("{wanted}_{n}")))
                .find(|name| !fields.iter().any(|f| f.eq_ignore_ascii_case(name)))
                .unwrap_or_else(|| wanted.to_string())
        };
        let id_column = if fields.iter().any(|f| f.eq_ignore_ascii_case("id")) {
            free("fid")
        } else {
            "id".to_string()
        };
        let mut header: Vec<String> = vec![id_column];
        if points {
            header.extend([free("longitude"), free("latitude")]);
        } else {
            header.push(free("wkt"));
        }
        // Column names come from the data as much as values do: a property named
        // `=HYPERLINK("http://evil.example","h")` was written raw as a header cell.
        header.extend(fields.iter().map(|f| defuse_formula(f)));
        writer.write_record(&header)?;
        Ok(Self {
            writer,
            fields,
            points,
            row: Vec::new(),
        })
    }
}

impl<W: Write + Send> FeatureWriter for CsvWriter<W> {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()> {
        use wkt::ToWkt;
        self.row.clear();
        self.row.push(
            feature
                .id
                .as_ref()
                .map(|id| defuse_formula(id.as_str()))
                .unwrap_or_default(),
        );
        match (&feature.geometry, self.points) {
            (Some(Geometry::Point(p)), true) => {
                self.row.push(p.x().to_string());
                self.row.push(p.y().to_string());
            }
            // An unlocated feature: empty cells, which GDAL and this reader read back as no geometry.
            (None, true) => {
                self.row.push(String::new());
                self.row.push(String::new());
            }
            (None, false) => self.row.push(String::new()),
            (Some(other), true) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("expected a point, found {other:?}"),
                ));
            }
            (Some(geometry), false) => self.row.push(geometry.wkt_string()),
        }
        for name in &self.fields {
            let cell = match feature.properties.get(name) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => defuse_formula(s),
                Some(other) => other.to_string(),
            };
            self.row.push(cell);
        }
        self.writer
            .write_record(&self.row)
            .map_err(io::Error::other)
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.writer.flush()
    }
}

/// OWASP's CSV-injection advice: a cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so
/// spreadsheets show it as text instead of running it.
fn defuse_formula(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wkt_nesting_counts_collections_and_parentheses() {
        assert_eq!(wkt_nesting("POINT (1 2)"), (0, 1));
        assert_eq!(wkt_nesting("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))"), (0, 3));
        assert_eq!(
            wkt_nesting(
                "GEOMETRYCOLLECTION Z (POINT Z (1 2 3), geometrycollection(LINESTRING(0 0, 1 1)))"
            ),
            (2, 3)
        );
        assert!(
            parse_wkt(&format!(
                "{}POINT(1 2){}",
                "GEOMETRYCOLLECTION(".repeat(32),
                ")".repeat(32)
            ))
            .is_ok()
        );
        let err = parse_wkt(&format!(
            "{}POINT(1 2){}",
            "GEOMETRYCOLLECTION(".repeat(33),
            ")".repeat(33)
        ))
        .unwrap_err();
        assert_eq!(err, nesting_message(33));
        assert!(parse_wkt(&format!("POINT{}1 2{}", "(".repeat(500), ")".repeat(500))).is_err());
    }

    /// Regression (outside review): a letter among the numbers was reported as `Missing closing parenthesis
    /// for type`, and `NaN` as an expected number; the message now names the word and its place.
    #[test]
    fn bad_wkt_is_reported_by_what_is_wrong_and_where() {
        for (wkt, says) in [
            (
                "POLYGON ((0 0, 1 0, 1 1, 0 0), (0.2 0.2, 0.3 x, 0.2 0.2))",
                "'x' at character 46 is not a number",
            ),
            ("POINT Z (1 2 NaN)", "'NaN' at character 14 is not a number"),
            ("POINT (1 2", "the '(' at character 7 is never closed"),
            ("POINT (1; 2)", "unexpected character ';' at character 9"),
            ("POINT (0x10 2)", "'0x10' at character 8 is not a number"),
            ("POINT (1e 2)", "'1e' at character 8 is not a number"),
            ("POINT (--1 2)", "'--1' at character 8 is not a number"),
            (
                "LINESTRING (0 0, 1 1,)",
                "the ',' at character 21 separates nothing",
            ),
            ("POINT (, 1 2)", "the ',' at character 8 separates nothing"),
            (
                "POINT (1, 2)",
                "the position at character 8 has one number; a position is x and y",
            ),
            (
                "LINESTRING (0 0, 1)",
                "the position at character 18 has one number",
            ),
            (
                "POINT (1 2 3 4 5)",
                "the position at character 8 has 5 numbers; at most 4 (x y z m)",
            ),
            (
                "POLYGON ((0 0, 1 1))",
                "exterior ring has 2 position(s) and is not closed, at least 4 needed",
            ),
            (
                "MULTIPOLYGON (((0 0, 1 1, 0 0)))",
                "exterior ring has 3 position(s), at least 4 needed",
            ),
            (
                "POINTY (1 2)",
                "'POINTY' at character 1 is not a WKT geometry type",
            ),
            (
                "POINT",
                "'POINT' has no coordinates: write them in parentheses (POINT (1 2)), or EMPTY",
            ),
            // from the third outside pass: the crate's own words, or nothing at all, came through
            (
                "POINT Z (1 2)",
                "POINT Z takes 3 numbers per position (x y z); the position at character 10 has 2",
            ),
            (
                "LINESTRING ZM (0 0 0 0, 1 1 1)",
                "LINESTRING ZM takes 4 numbers per position (x y z m); the position at character 25 has 3",
            ),
            (
                "POLYGON (0 0, 1 0, 1 1, 0 0)",
                "the position at character 10 lacks parentheses: a POLYGON is written POLYGON ((0 0, 1 0, 1 1, 0 0))",
            ),
            (
                "MULTIPOLYGON ((0 0, 1 0, 1 1, 0 0))",
                "the position at character 16 lacks parentheses: a MULTIPOLYGON is written",
            ),
            (
                "POINT ((1 2))",
                "the position at character 9 is in more parentheses than a POINT takes: POINT (1 2)",
            ),
            (
                "GEOMETRYCOLLECTION (1 2)",
                "a GEOMETRYCOLLECTION holds geometries, not positions (character 21)",
            ),
            ("POINT (1 2))", "')' at character 12 closes nothing"),
            (
                "POINT (1 2) POINT (3 4)",
                "'POINT (3 4)' at character 13 follows the end of the geometry (one geometry per cell",
            ),
            (
                "POINT(1 2)junk",
                "'junk' at character 11 follows the end of the geometry",
            ),
            (
                "POINT EMPTY junk",
                "'junk' at character 13 follows the end of the geometry",
            ),
            (
                "GEOMETRYCOLLECTION (POINT (1 2)))",
                "')' at character 33 closes nothing",
            ),
            (
                "POLYGON ((0 0, 1 0, 1 1, 0 1))",
                "exterior ring is not closed: its last position is not its first, repeated",
            ),
            (
                "POLYGON ((0 0, 9 0, 9 9, 0 0), (1 1, 2 1, 2 2))",
                "interior ring 1 has 3 position(s) and is not closed",
            ),
            (
                "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 6, 5 5)))",
                "polygon 2 of 2: exterior ring has 3 position(s), at least 4 needed",
            ),
            (
                "GEOMETRYCOLLECTION (POINT (1 2), POLYGON ((0 0, 1 0, 1 1, 0 1)))",
                "geometry 2 of 2: exterior ring is not closed",
            ),
            // from the fourth outside pass
            (
                "LINESTRING (0 0, 1 1 1)",
                "the position at character 18 has 3 numbers where this LINESTRING's first has 2",
            ),
            (
                "GEOMETRYCOLLECTION (POINT (1 2) LINESTRING (0 0, 1 1))",
                "a ',' is missing before character 33",
            ),
            (
                "MULTIPOINT ((1 2) (3 4))",
                "a ',' is missing before character 19",
            ),
            // from the fifth outside pass
            (
                "GEOMETRYCOLLECTION Z (POINT (1 2))",
                "GEOMETRYCOLLECTION Z takes 3 numbers per position (x y z); the position at character 30 has 2",
            ),
            (
                "GEOMETRYCOLLECTION (POINT (1 2), POINT (1 2 3))",
                "the position at character 41 has 3 numbers where this GEOMETRYCOLLECTION's first has 2",
            ),
            (
                "POINT ()",
                "the parentheses at character 7 hold nothing; a geometry without positions is written EMPTY",
            ),
            (
                "TIN ((0 0, 1 0, 1 1, 0 0))",
                "a TIN is written TIN (((0 0, 1 0, 1 1, 0 0)))",
            ),
            ("POINT (é 2)", "'é' at character 8 is not a number"),
            (
                "ÉPOINT (1 2)",
                "'ÉPOINT' at character 1 is not a WKT geometry type",
            ),
            ("POINT (1 2 é)", "'é' at character 12 is not a number"),
            (
                "POINT (1 2\u{a0})",
                "the space U+00A0 at character 11 is not one WKT reads",
            ),
            // from the sixth outside pass
            (
                "POINT 0(1 2)",
                "'0' at character 7 stands between POINT and its '(': write POINT (1 2)",
            ),
            (
                "LINESTRING Z ,(0 0 1, 1 1 2)",
                "',' at character 14 stands between LINESTRING and its '('",
            ),
            (
                "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1)\u{7f}",
                "unexpected character '\\u{7f}' at character 55",
            ),
            (
                "POINT (1 2)\u{0}",
                "'\\u{0}' at character 12 follows the end of the geometry",
            ),
            (
                "POINT (1 2) \u{202e}x",
                "'\\u{202e}x' at character 13 follows the end of the geometry",
            ),
        ] {
            let err = parse_wkt(wkt).unwrap_err();
            assert!(err.contains(says), "{wkt}: {err}");
        }
        for good in [
            "POINT (1e5 2E-3)",
            "POINT (1E+2 -3.5e1)",
            "POINT (.5 5.)",
            "POINT (+1 2)",
            "MULTIPOINT EMPTY",
            "POINT ZM (1 2 3 4)",
            "POINT Z (1 2 3)",
            "LINESTRING M (0 0 1, 1 1 2)",
            "MULTIPOINT (1 2, 3 4)",
            "MULTIPOINT ((1 2), (3 4))",
            "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
            "GEOMETRYCOLLECTION (POINT (1 2), GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 0))))",
            "GEOMETRYCOLLECTION (POINT EMPTY, LINESTRING Z (0 0 0, 1 1 1))",
            "POINT (1e5 2 3)",
        ] {
            assert_eq!(wkt_problem(good), None, "{good}");
        }
    }

    // From the fourth outside pass: well-formed WKT GDAL reads that the `wkt` crate refuses.
    #[test]
    fn surfaces_tagged_collections_and_exponents_in_three_dimensions_are_read() {
        for (wkt, parts) in [
            ("TRIANGLE ((0 0, 1 0, 0 1, 0 0))", 1),
            ("TRIANGLE EMPTY", 0),
            (
                "TIN (((0 0 0, 1 0 0, 0 1 0, 0 0 0)), ((1 0 0, 1 1 0, 0 1 0, 1 0 0)))",
                2,
            ),
            ("POLYHEDRALSURFACE Z (((0 0 0, 0 1 0, 1 1 0, 0 0 0)))", 1),
            (
                "GEOMETRYCOLLECTION Z (POINT (1 2 3), LINESTRING (0 0 0, 1 1 1))",
                2,
            ),
            (
                "GEOMETRYCOLLECTION Z (POINT Z (1 2 3), GEOMETRYCOLLECTION (POINT (4 5 6)))",
                2,
            ),
            ("POINT (1e5 2 3)", 1),
            ("LINESTRING (1E2 2 3, 4 5 6)", 1),
        ] {
            let (geometry, _) = parse_wkt(wkt).unwrap_or_else(|e| panic!("{wkt}: {e}"));
            let found = match &geometry {
                Geometry::Polygon(p) => usize::from(!p.exterior().0.is_empty()),
                Geometry::MultiPolygon(mp) => mp.0.len(),
                Geometry::GeometryCollection(gc) => gc.0.len(),
                _ => 1,
            };
            assert_eq!(found, parts, "{wkt}: {geometry:?}");
        }
    }

    /// GDAL reads positions of three or four numbers under an untagged type as Z and ZM.
    #[test]
    fn untagged_positions_with_a_third_number_are_read_as_gdal_reads_them() {
        let (point, elevation) = parse_wkt("POINT (1 2 3)").expect("a point with a Z");
        assert_eq!(point, Geometry::Point(Point::new(1.0, 2.0)));
        assert_eq!(elevation, Elevation::Point(3.0));
        let (_, elevation) = parse_wkt("POINT (1 2 3 4)").expect("a point with Z and M");
        assert_eq!(elevation, Elevation::Point(3.0));
        let (line, elevation) = parse_wkt("LINESTRING (1 2 3, 4 5 6)").expect("a line with Z");
        assert_eq!(
            line,
            Geometry::LineString(vec![(1.0, 2.0), (4.0, 5.0)].into())
        );
        assert_eq!(elevation, Elevation::Dropped);
        let (collection, _) =
            parse_wkt("GEOMETRYCOLLECTION (POINT (1 2 3), POINT EMPTY, LINESTRING (0 0 1, 1 1 1))")
                .expect("a collection with Z");
        assert!(matches!(collection, Geometry::GeometryCollection(_)));
        // Tagged and two-number positions are read as before.
        assert_eq!(
            parse_wkt("POINT Z (1 2 3)").expect("tagged").1,
            Elevation::Point(3.0)
        );
        assert_eq!(parse_wkt("POINT (1 2)").expect("flat").1, Elevation::Flat);
        assert!(parse_wkt("POINT (1 2 3 4 5)").is_err());
    }

    #[test]
    fn cells_are_typed_without_losing_text() {
        assert_eq!(typed_cell("12"), json!(12));
        assert_eq!(typed_cell("-3.5"), json!(-3.5));
        assert_eq!(typed_cell("1e3"), json!(1000.0));
        assert_eq!(typed_cell("007"), json!("007"));
        assert_eq!(typed_cell("0.5"), json!(0.5));
        assert_eq!(typed_cell("0"), json!(0));
        assert_eq!(typed_cell("true"), json!(true));
        assert_eq!(typed_cell(""), Value::Null);
        assert_eq!(typed_cell("12 Main St"), json!("12 Main St"));
        assert_eq!(typed_cell("NaN"), json!("NaN"));
        assert_eq!(typed_cell("inf"), json!("inf"));
    }

    #[test]
    fn formulas_are_defused_but_negative_numbers_are_not_touched() {
        assert_eq!(defuse_formula("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse_formula("plain"), "plain");
    }

    // Regression: column names were written as they came, so a property named like a formula ran in the
    // spreadsheet that opened the export.
    #[test]
    fn own_columns_give_way_to_properties_of_the_same_name() {
        let header = |fields: &[&str], points: bool| {
            let mut out = Vec::new();
            let writer = CsvWriter::new(
                &mut out,
                fields.iter().map(|f| f.to_string()).collect(),
                points,
            )
            .expect("writer");
            Box::new(writer).finish().expect("finish");
            String::from_utf8(out)
                .expect("utf-8")
                .trim_end()
                .to_string()
        };
        assert_eq!(
            header(&["id", "name"], true),
            "fid,longitude,latitude,id,name"
        );
        assert_eq!(
            header(&["ID", "fid", "wkt"], false),
            "fid_1,wkt_1,ID,fid,wkt"
        );
        assert_eq!(
            header(&["latitude"], true),
            "id,longitude,latitude_1,latitude"
        );
    }

    #[test]
    fn column_names_are_defused_like_values() {
        let mut out = Vec::new();
        let writer = CsvWriter::new(
            &mut out,
            vec![
                "=HYPERLINK(\"http://evil.example\",\"h\")".into(),
                "@cmd".into(),
                "name".into(),
            ],
            true,
        )
        .expect("writer");
        Box::new(writer).finish().expect("finish");
        let header = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            header.lines().next(),
            Some(
                "id,longitude,latitude,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"h\"\")\",'@cmd,name"
            )
        );
    }

    #[test]
    fn delimiter_is_sniffed_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3"), b';');
        assert_eq!(sniff_delimiter(b"\"a,b\"\tc\td\n"), b'\t');
        assert_eq!(sniff_delimiter(b"lat,lon\n"), b',');
    }
}
