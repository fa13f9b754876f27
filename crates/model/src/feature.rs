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
    pub geometry: Geometry<f64>,
    pub time: Option<TimeSpan>,
    pub properties: Properties,
}
