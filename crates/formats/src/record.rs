//! What every binary and XML reader does with a decoded record: bring its geometry to WGS84, validate it and
//! locate any error, so each format module only decodes its own encoding.

use std::path::Path;

use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{Feature, FeatureId, Properties, validate_geometry, without_empty_members};

use crate::wkb::Elevation;
use crate::{
    Crs, FormatError, FormatErrorKind, FormatResult, Location, ReadNotes, SourceFeature, Z_PROPERTY,
};

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

    /// Says in the read's warnings which stand-in datum transformation the CRS uses, if any: positions are
    /// then only as good as it, which the user must be able to see.
    pub(crate) fn announce(&self, path: &Path, notes: &ReadNotes) {
        if let SourceCrs::Known(crs) = self
            && let Some(note) = crs.note()
        {
            notes.warn(format!(
                "{} ({crs}): {note}",
                crate::error::file_label(path)
            ));
        }
    }
}

/// Z ordinates of one file's geometries in the 2D model: a point's is kept as [`Z_PROPERTY`] (as GeoJSON's
/// reader keeps it), others are dropped with one warning for the file rather than silently.
pub(crate) struct Elevations {
    file: String,
    notes: ReadNotes,
    warned: bool,
    /// Warned that a property of the file holds the name a point's Z would take.
    named_warned: bool,
}

impl Elevations {
    pub(crate) fn new(path: &Path, notes: ReadNotes) -> Self {
        Self {
            file: crate::error::file_label(path),
            notes,
            warned: false,
            named_warned: false,
        }
    }

    pub(crate) fn keep(&mut self, elevation: Elevation, properties: &mut Properties) {
        match elevation {
            Elevation::Flat => {}
            // The source's own property of that name wins: a Z is not worth losing a value for.
            Elevation::Point(_) if properties.contains_key(Z_PROPERTY) => {
                if !self.named_warned {
                    self.named_warned = true;
                    self.notes.warn(format!(
                        "{}: the file has a property named {Z_PROPERTY}, so the points' Z coordinates \
                         were dropped rather than stored under that name",
                        self.file
                    ));
                }
            }
            Elevation::Point(z) => {
                properties.insert(
                    Z_PROPERTY.to_string(),
                    serde_json::Number::from_f64(z)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number),
                );
            }
            Elevation::Dropped if !self.warned => {
                self.warned = true;
                self.notes.warn(format!(
                    "{}: Z coordinates of lines, polygons and multi-part geometries were dropped: the \
                     console stores 2D geometries (a point's Z is kept as the property {Z_PROPERTY})",
                    self.file
                ));
            }
            Elevation::Dropped => {}
        }
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
    // No geometry (a null shape, a placemark with only a description, an empty geometry) is an unlocated
    // feature, kept as GDAL keeps it; a geometry that is there must be valid.
    let geometry = match geometry.and_then(without_empty_members) {
        None => None,
        Some(geometry) => {
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
            Some(geometry)
        }
    };
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
