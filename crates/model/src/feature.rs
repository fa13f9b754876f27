use std::fmt;

use geo_types::Geometry;
use serde::{Deserialize, Serialize};

use crate::TimeSpan;

/// A feature's properties: a JSON object, keys in source order.
pub type Properties = serde_json::Map<String, serde_json::Value>;

/// A feature's stable identifier within its dataset: the source's own id when it has one, otherwise the
/// row number the store gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeatureId(pub String);

impl FeatureId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeatureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for FeatureId {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// One place or event: WGS84 longitude/latitude geometry, optional UTC time, JSON properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// `None` until the source or the store gives one.
    pub id: Option<FeatureId>,
    /// `None` for an unlocated feature: a null or empty geometry in the source (RFC 7946 allows
    /// `"geometry": null`; shapefiles have null shapes, KML placemarks may hold only a description). Such
    /// a feature is kept, listed and exported, as GDAL keeps it, but it has no place: spatial indexes,
    /// tiles, extents and analytics pass it by, and a spatial predicate on it is unknown.
    pub geometry: Option<Geometry<f64>>,
    pub time: Option<TimeSpan>,
    pub properties: Properties,
}

impl Feature {
    /// A located feature with no id, time or properties yet.
    pub fn located(geometry: Geometry<f64>) -> Self {
        Self {
            id: None,
            geometry: Some(geometry),
            time: None,
            properties: Properties::new(),
        }
    }

    /// Whether the feature has a place.
    pub fn is_located(&self) -> bool {
        self.geometry.is_some()
    }
}
