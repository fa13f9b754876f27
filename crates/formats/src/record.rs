//! What every binary and XML reader does with a decoded record: bring its geometry to WGS84, validate it and
//! locate any error, so each format module only decodes its own encoding.

use std::path::Path;

use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{Feature, FeatureId, Properties, validate_geometry};

use crate::{Crs, FormatError, FormatErrorKind, FormatResult, Location, SourceFeature};

/// Where a reader's coordinates come from, as far as it knows.
#[derive(Debug, Clone)]
pub(crate) enum SourceCrs {
    /// The file names its CRS (or the user did).
    Known(Crs),
    /// The file says nothing: coordinates are taken as WGS84, and an out-of-range one says why it may be.
    Assumed { hint: &'static str },
}

impl SourceCrs {
    pub(crate) fn known_or_assumed(crs: Option<Crs>, hint: &'static str) -> Self {
        crs.map_or(SourceCrs::Assumed { hint }, SourceCrs::Known)
    }
}

/// Turns a decoded record into a feature, or into an error naming the record.
pub(crate) fn feature(
    path: &Path,
    location: Location,
    geometry: Option<Geometry<f64>>,
    crs: &SourceCrs,
    properties: Properties,
    id: Option<FeatureId>,
) -> FormatResult<SourceFeature> {
    let invalid = |why: String| {
        Err(FormatError::new(
            FormatErrorKind::InvalidFeature,
            path,
            location,
            why,
        ))
    };
    let Some(geometry) = geometry else {
        return invalid("has no geometry (import the others with --skip-invalid)".into());
    };
    let geometry = match crs {
        SourceCrs::Known(crs) => match crs.to_wgs84(geometry) {
            Ok(g) => g,
            Err(why) => return invalid(why),
        },
        SourceCrs::Assumed { .. } => geometry,
    };
    if let Err(e) = validate_geometry(&geometry) {
        return match crs {
            SourceCrs::Assumed { hint } if e.message().contains("out of range") => {
                invalid(format!("{}; {hint}", e.message()))
            }
            _ => invalid(e.message().to_string()),
        };
    }
    Ok(SourceFeature {
        location,
        feature: Feature {
            id,
            geometry,
            time: None,
            properties,
        },
    })
}

/// A whole-file error (bad header, unreadable table) for readers that fail before the first record.
pub(crate) fn file_error(
    kind: FormatErrorKind,
    path: &Path,
    message: impl Into<String>,
) -> FormatError {
    FormatError::new(kind, path, Location::File, message)
}

/// A JSON number for a float, or null for NaN and infinities (which JSON cannot hold); integral values
/// within f64's exact range become integers, as GDAL reports them.
pub(crate) fn number(value: f64) -> serde_json::Value {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        serde_json::Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// Largest XML document (KML, GPX) read whole: their libraries build the document in memory.
pub(crate) const MAX_XML_DOCUMENT_BYTES: u64 = 256 << 20;

/// Reads an XML document for a whole-document reader, refusing oversized files and any DOCTYPE: entity
/// declarations are how XML bombs and external-entity reads start, and KML and GPX never need them.
pub(crate) fn xml_document(path: &Path, mut reader: impl std::io::Read) -> FormatResult<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_XML_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FormatError::io(path, &e))?;
    if bytes.len() as u64 > MAX_XML_DOCUMENT_BYTES {
        return Err(file_error(
            FormatErrorKind::InvalidOption,
            path,
            format!(
                "document is larger than {} MiB; split it or convert it to FlatGeobuf or GeoPackage",
                MAX_XML_DOCUMENT_BYTES >> 20
            ),
        ));
    }
    if bytes
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
    {
        return Err(file_error(
            FormatErrorKind::Syntax,
            path,
            "document declares a DOCTYPE, which is refused (entity declarations are how XML bombs \
             and external-entity reads start)",
        ));
    }
    let depth = element_depth(&bytes);
    if depth > MAX_XML_DEPTH {
        return Err(file_error(
            FormatErrorKind::Syntax,
            path,
            format!("document nests elements {depth} deep; at most {MAX_XML_DEPTH} are accepted"),
        ));
    }
    Ok(bytes)
}

/// Elements a whole-document XML file may nest. GPX needs seven (`gpx/trk/trkseg/trkpt/extensions/…`);
/// xml-rs, under the `gpx` crate, slows down with depth (100,000 levels took minutes), and nothing real
/// comes near this.
pub(crate) const MAX_XML_DEPTH: usize = 64;

/// The deepest element nesting of a document, from one pass of quick-xml's event reader (no recursion); a
/// document quick-xml cannot read is left for the format's own parser to report.
fn element_depth(bytes: &[u8]) -> usize {
    use quick_xml_kml::events::Event;
    let mut reader = quick_xml_kml::Reader::from_reader(bytes);
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(_)) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) | Err(_) => return deepest,
            Ok(_) => {}
        }
    }
}
