use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::{FormatError, FormatErrorKind, FormatResult, Location};

/// The file formats this build reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 7946 FeatureCollection (or a single Feature).
    GeoJson,
    /// RFC 8142 GeoJSON text sequences, also newline-delimited GeoJSON.
    GeoJsonSeq,
    /// Delimited text with lat/lon columns or a WKT column.
    Csv,
    /// FlatGeobuf 3, with or without its packed R-tree.
    FlatGeobuf,
    /// GeoParquet 1.0/1.1: WKB or native (GeoArrow) geometry columns.
    GeoParquet,
    /// ESRI Shapefile: .shp with .shx, .dbf, .prj and .cpg beside it, or all of them in a zip.
    Shapefile,
    /// One feature table of an OGC GeoPackage.
    GeoPackage,
    /// KML 2.2 placemarks, also zipped as KMZ.
    Kml,
    /// GPX 1.0/1.1 waypoints, routes and tracks.
    Gpx,
    /// One sheet of an Office Open XML workbook, read like CSV.
    Xlsx,
    /// One sheet of an OpenDocument spreadsheet, read like CSV.
    Ods,
}

impl Format {
    pub const ALL: [Format; 11] = [
        Format::GeoJson,
        Format::GeoJsonSeq,
        Format::Csv,
        Format::FlatGeobuf,
        Format::GeoParquet,
        Format::Shapefile,
        Format::GeoPackage,
        Format::Kml,
        Format::Gpx,
        Format::Xlsx,
        Format::Ods,
    ];

    /// The formats exports can produce.
    pub const WRITABLE: [Format; 7] = [
        Format::GeoJson,
        Format::GeoJsonSeq,
        Format::Csv,
        Format::FlatGeobuf,
        Format::GeoParquet,
        Format::GeoPackage,
        Format::Kml,
    ];

    /// The short name users type (`--format fgb`, `?f=fgb`).
    pub fn name(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::GeoJsonSeq => "geojsonseq",
            Format::Csv => "csv",
            Format::FlatGeobuf => "fgb",
            Format::GeoParquet => "geoparquet",
            Format::Shapefile => "shapefile",
            Format::GeoPackage => "gpkg",
            Format::Kml => "kml",
            Format::Gpx => "gpx",
            Format::Xlsx => "xlsx",
            Format::Ods => "ods",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::GeoJsonSeq => "geojsonl",
            Format::Csv => "csv",
            Format::FlatGeobuf => "fgb",
            Format::GeoParquet => "parquet",
            Format::Shapefile => "shp",
            Format::GeoPackage => "gpkg",
            Format::Kml => "kml",
            Format::Gpx => "gpx",
            Format::Xlsx => "xlsx",
            Format::Ods => "ods",
        }
    }

    /// The media type of a download in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::GeoJsonSeq => "application/geo+json-seq",
            Format::Csv => "text/csv; charset=utf-8",
            Format::FlatGeobuf => "application/flatgeobuf",
            Format::GeoParquet => "application/vnd.apache.parquet",
            Format::Shapefile => "application/x-shapefile",
            Format::GeoPackage => "application/geopackage+sqlite3",
            Format::Kml => "application/vnd.google-earth.kml+xml",
            Format::Gpx => "application/gpx+xml",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Ods => "application/vnd.oasis.opendocument.spreadsheet",
        }
    }

    pub fn is_writable(self) -> bool {
        Self::WRITABLE.contains(&self)
    }

    /// The format an extension names, if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "geojson" | "json" => Some(Format::GeoJson),
            "geojsonl" | "geojsons" | "geojsonseq" | "ndjson" | "jsonl" | "ldjson" => {
                Some(Format::GeoJsonSeq)
            }
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "fgb" => Some(Format::FlatGeobuf),
            "parquet" | "geoparquet" => Some(Format::GeoParquet),
            "shp" => Some(Format::Shapefile),
            "gpkg" => Some(Format::GeoPackage),
            "kml" | "kmz" => Some(Format::Kml),
            "gpx" => Some(Format::Gpx),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "ods" => Some(Format::Ods),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "geojson" | "json" => Ok(Format::GeoJson),
            "geojsonseq" | "geojsonl" | "ndjson" | "jsonl" => Ok(Format::GeoJsonSeq),
            "csv" => Ok(Format::Csv),
            "fgb" | "flatgeobuf" => Ok(Format::FlatGeobuf),
            "geoparquet" | "parquet" => Ok(Format::GeoParquet),
            "shapefile" | "shp" => Ok(Format::Shapefile),
            "gpkg" | "geopackage" => Ok(Format::GeoPackage),
            "kml" | "kmz" => Ok(Format::Kml),
            "gpx" => Ok(Format::Gpx),
            "xlsx" | "xlsm" | "excel" => Ok(Format::Xlsx),
            "ods" => Ok(Format::Ods),
            other => Err(format!(
                "unknown format '{other}' (expected {})",
                Format::ALL.map(Format::name).join(", ")
            )),
        }
    }
}

/// A ZIP archive: zipped shapefiles, KMZ, or any readable file zipped.
pub(crate) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Signatures of files people drop by mistake, so the error can say what the file really is.
const SIGNATURES: [(&[u8], &str); 6] = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive; decompress it first"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"PK\x05\x06", "an empty ZIP archive"),
];

/// Shapefile main files start with the file code 9994, big-endian.
const SHAPEFILE_MAGIC: &[u8] = &[0x00, 0x00, 0x27, 0x0a];

/// Picks the reader for a file from its first bytes and its extension. Content wins over the name: a
/// `.geojson` that starts like a PNG is refused with what it looks like, and a `.json` whose first line
/// is a whole feature is read as a sequence.
pub fn detect_format(path: &Path, head: &[u8]) -> FormatResult<Format> {
    let wrong = |why: String| {
        Err(FormatError::new(
            FormatErrorKind::WrongFormat,
            path,
            Location::File,
            why,
        ))
    };
    if head.is_empty() {
        return wrong("file is empty".into());
    }
    if let Some((_, what)) = SIGNATURES.iter().find(|(magic, _)| head.starts_with(magic)) {
        return wrong(format!("file looks like {what}, not a geospatial file"));
    }
    if let Some(format) = binary_format(head) {
        return Ok(format);
    }
    if head.starts_with(ZIP_MAGIC) {
        return wrong("file is a ZIP archive; it is opened as one, not read as a stream".into());
    }
    if let Some(ext) = path.extension().and_then(|e| e.to_str())
        && ["dbf", "shx", "prj", "cpg"].contains(&ext.to_ascii_lowercase().as_str())
    {
        return wrong(format!(
            "a .{ext} file is one part of a shapefile; import the .shp with its .shx and .dbf \
             beside it, or a zip of all of them"
        ));
    }
    // Its magic was not found above: a .shp that is not one is damaged, not text to sniff.
    if path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"))
    {
        return wrong(
            "is not a shapefile's .shp: its file code is not 9994 (damaged, or another file \
             renamed)"
                .into(),
        );
    }
    if head.starts_with(b"\xff\xfe") || head.starts_with(b"\xfe\xff") {
        return Err(FormatError::new(
            FormatErrorKind::Encoding,
            path,
            Location::File,
            "file is UTF-16 encoded; save it as UTF-8 and import again",
        ));
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let by_name = Format::from_extension(path);
    if first == Some(b'<') {
        return xml_format(text).map_or_else(
            || wrong("file is XML but neither KML, GPX, CAP nor RSS/Atom with GeoRSS".into()),
            Ok,
        );
    }
    match first {
        None => wrong("file holds only whitespace".into()),
        Some(0x1e) => Ok(Format::GeoJsonSeq),
        Some(b'{') => {
            if by_name == Some(Format::GeoJsonSeq) || first_line_is_whole_object(text) {
                Ok(Format::GeoJsonSeq)
            } else {
                Ok(Format::GeoJson)
            }
        }
        Some(b'[') => {
            wrong("file starts with a JSON array; GeoJSON needs a FeatureCollection object".into())
        }
        Some(_) if matches!(by_name, Some(Format::GeoJson | Format::GeoJsonSeq)) => wrong(format!(
            "file has a {} extension but does not start with a JSON object",
            path_ext(path)
        )),
        Some(_) if by_name == Some(Format::Csv) || looks_like_text(text) => Ok(Format::Csv),
        Some(_) => wrong("file is neither GeoJSON nor delimited text".into()),
    }
}

/// Binary formats recognised by their first bytes.
fn binary_format(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"fgb\x03") {
        Some(Format::FlatGeobuf)
    } else if head.starts_with(b"PAR1") {
        Some(Format::GeoParquet)
    } else if head.starts_with(b"SQLite format 3\0") {
        Some(Format::GeoPackage)
    } else if head.starts_with(SHAPEFILE_MAGIC) {
        Some(Format::Shapefile)
    } else {
        None
    }
}

/// The document element of an XML file, looked for in its first kilobytes (after the declaration,
/// comments and any DOCTYPE, which the readers then refuse).
fn xml_format(text: &[u8]) -> Option<Format> {
    let sample = String::from_utf8_lossy(&text[..text.len().min(8192)]);
    let mut rest = sample.as_ref();
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        let local = name.rsplit(':').next().unwrap_or(&name);
        return match local {
            "kml" => Some(Format::Kml),
            "gpx" => Some(Format::Gpx),
            _ => None,
        };
    }
    None
}

fn path_ext(path: &Path) -> String {
    path.extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default()
}

/// A first line that is a complete JSON object with a `"type": "Feature"` marks newline-delimited GeoJSON.
fn first_line_is_whole_object(text: &[u8]) -> bool {
    let Some(end) = text.iter().position(|b| *b == b'\n') else {
        return false;
    };
    let line = &text[..end];
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| {
            v.get("type")
                .and_then(|t| t.as_str())
                .map(|t| t == "Feature")
        })
        .unwrap_or(false)
}

fn looks_like_text(text: &[u8]) -> bool {
    let sample = &text[..text.len().min(4096)];
    let binary = sample
        .iter()
        .filter(|b| **b < 0x09 || (**b > 0x0d && **b < 0x20))
        .count();
    binary == 0 && (sample.contains(&b'\n') || std::str::from_utf8(sample).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(name: &str, head: &[u8]) -> FormatResult<Format> {
        detect_format(Path::new(name), head)
    }

    #[test]
    fn content_decides_over_the_name() {
        assert_eq!(
            detect("a.geojson", b"{\"type\":\"FeatureCollection\"").unwrap(),
            Format::GeoJson
        );
        assert_eq!(
            detect("a.json", b"{\"type\":\"Feature\",\"geometry\":null}\n{").unwrap(),
            Format::GeoJsonSeq
        );
        assert_eq!(detect("a.geojsonl", b"\x1e{").unwrap(), Format::GeoJsonSeq);
        assert_eq!(detect("a.csv", b"lat,lon\n1,2\n").unwrap(), Format::Csv);
        assert_eq!(
            detect("a.dat", b"\xef\xbb\xbflat,lon\n1,2\n").unwrap(),
            Format::Csv
        );
        // a .shp without its magic is damaged: it was sniffed as text ("neither GeoJSON nor delimited text")
        let damaged = detect("p.shp", &[0u8; 100]).unwrap_err().to_string();
        assert!(damaged.contains("its file code is not 9994"), "{damaged}");
    }

    #[test]
    fn binary_files_are_named_for_what_they_are() {
        let e = detect("quakes.geojson", b"\x89PNG\r\n\x1a\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "quakes.geojson: file looks like a PNG image, not a geospatial file"
        );
        assert_eq!(
            detect("x.csv", b"").unwrap_err().kind(),
            FormatErrorKind::WrongFormat
        );
        assert_eq!(
            detect("x.csv", b"\xff\xfel\0a\0").unwrap_err().kind(),
            FormatErrorKind::Encoding
        );
        assert!(detect("x.geojson", b"lat,lon\n").is_err());
    }
}
