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
}

impl Format {
    pub const ALL: [Format; 3] = [Format::GeoJson, Format::GeoJsonSeq, Format::Csv];

    pub fn name(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::GeoJsonSeq => "geojsonseq",
            Format::Csv => "csv",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::GeoJsonSeq => "geojsonl",
            Format::Csv => "csv",
        }
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
            other => Err(format!(
                "unknown format '{other}' (expected geojson, geojsonseq or csv)"
            )),
        }
    }
}

/// Signatures of binary files people drop by mistake, so the error can say what the file really is.
const SIGNATURES: [(&[u8], &str); 9] = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (
        b"PK\x03\x04",
        "a ZIP archive (zipped shapefiles and KMZ arrive with the formats issue)",
    ),
    (b"\x1f\x8b", "a gzip archive; decompress it first"),
    (
        b"SQLite format 3\0",
        "an SQLite database (GeoPackage import arrives with the formats issue)",
    ),
    (
        b"fgb",
        "a FlatGeobuf file (FlatGeobuf import arrives with the formats issue)",
    ),
    (
        b"PAR1",
        "a Parquet file (GeoParquet import arrives with the formats issue)",
    ),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
];

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
        return wrong(format!("file looks like {what}, not GeoJSON or CSV"));
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
    }

    #[test]
    fn binary_files_are_named_for_what_they_are() {
        let e = detect("quakes.geojson", b"\x89PNG\r\n\x1a\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "quakes.geojson: file looks like a PNG image, not GeoJSON or CSV"
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
