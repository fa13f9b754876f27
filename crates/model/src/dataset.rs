use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Bbox, ModelError, ModelErrorKind, ModelResult, Schema, TimeSpan};

/// A dataset's identifier. It is also its table and layer name in a GeoPackage, so it is restricted to
/// lowercase ASCII letters, digits and `_`, starts with a letter, is at most 63 bytes, and cannot take a
/// prefix reserved by GeoPackage, SQLite or the console.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatasetId(String);

const RESERVED_PREFIXES: [&str; 4] = ["gpkg_", "rtree_", "sqlite_", "gc_"];

impl DatasetId {
    pub fn new(id: impl Into<String>) -> ModelResult<Self> {
        let id = id.into();
        let bad = |why: &str| {
            Err(ModelError::new(
                ModelErrorKind::InvalidIdentifier,
                format!("dataset id '{id}' {why}"),
            ))
        };
        if id.is_empty() || id.len() > 63 {
            return bad("must be 1 to 63 characters long");
        }
        if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
            return bad("must start with a lowercase letter");
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return bad("may only contain lowercase letters, digits and '_'");
        }
        if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| id.starts_with(*p)) {
            return bad(&format!(
                "must not start with the reserved prefix '{prefix}'"
            ));
        }
        Ok(Self(id))
    }

    /// Turns a free-form name (e.g. a file stem such as `Quakes 2024-05`) into a valid id (`quakes_2024_05`).
    pub fn slug(name: &str) -> ModelResult<Self> {
        let mut slug = String::new();
        for c in name.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('_') {
                slug.push('_');
            }
        }
        let mut slug = slug.trim_matches('_').to_string();
        if !slug.starts_with(|c: char| c.is_ascii_lowercase()) {
            slug.insert_str(0, "d_");
        }
        for prefix in RESERVED_PREFIXES {
            if slug.starts_with(prefix) {
                slug.insert_str(0, "d_");
            }
        }
        slug.truncate(63);
        Self::new(slug)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DatasetId {
    type Error = ModelError;
    fn try_from(value: String) -> ModelResult<Self> {
        Self::new(value)
    }
}

impl From<DatasetId> for String {
    fn from(id: DatasetId) -> String {
        id.0
    }
}

impl FromStr for DatasetId {
    type Err = ModelError;
    fn from_str(s: &str) -> ModelResult<Self> {
        Self::new(s)
    }
}

/// What a dataset is for; analytics treat each kind differently (sites are exposed, events threaten).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// The organisation's own fixed places: warehouses, offices, plants.
    Sites,
    /// Things that happen at a time: earthquakes, storms, fires, warnings, incidents.
    Events,
    /// Regions: admin boundaries, zones, districts.
    Areas,
    /// Background layers: cities, airports, infrastructure.
    Reference,
}

impl DatasetKind {
    pub const ALL: [DatasetKind; 4] = [Self::Sites, Self::Events, Self::Areas, Self::Reference];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sites => "sites",
            Self::Events => "events",
            Self::Areas => "areas",
            Self::Reference => "reference",
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetKind {
    type Err = ModelError;
    fn from_str(s: &str) -> ModelResult<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                ModelError::new(
                    ModelErrorKind::InvalidIdentifier,
                    format!(
                        "unknown dataset kind '{s}' (expected sites, events, areas or reference)"
                    ),
                )
            })
    }
}

/// The geometry type of a dataset, named as in GeoPackage's `gpkg_geometry_columns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GeometryType {
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
    GeometryCollection,
    /// Mixed types in one dataset.
    Geometry,
}

impl GeometryType {
    pub fn of(geometry: &geo_types::Geometry<f64>) -> Self {
        use geo_types::Geometry as G;
        match geometry {
            G::Point(_) => Self::Point,
            G::Line(_) | G::LineString(_) => Self::LineString,
            G::Polygon(_) | G::Rect(_) | G::Triangle(_) => Self::Polygon,
            G::MultiPoint(_) => Self::MultiPoint,
            G::MultiLineString(_) => Self::MultiLineString,
            G::MultiPolygon(_) => Self::MultiPolygon,
            G::GeometryCollection(_) => Self::GeometryCollection,
        }
    }

    /// The narrowest type covering both; e.g. Polygon + MultiPolygon = MultiPolygon, Point + Polygon = Geometry.
    pub fn merge(self, other: GeometryType) -> GeometryType {
        use GeometryType as T;
        match (self, other) {
            (a, b) if a == b => a,
            (T::Point, T::MultiPoint) | (T::MultiPoint, T::Point) => T::MultiPoint,
            (T::LineString, T::MultiLineString) | (T::MultiLineString, T::LineString) => {
                T::MultiLineString
            }
            (T::Polygon, T::MultiPolygon) | (T::MultiPolygon, T::Polygon) => T::MultiPolygon,
            _ => T::Geometry,
        }
    }

    pub fn gpkg_name(self) -> &'static str {
        match self {
            Self::Point => "POINT",
            Self::LineString => "LINESTRING",
            Self::Polygon => "POLYGON",
            Self::MultiPoint => "MULTIPOINT",
            Self::MultiLineString => "MULTILINESTRING",
            Self::MultiPolygon => "MULTIPOLYGON",
            Self::GeometryCollection => "GEOMETRYCOLLECTION",
            Self::Geometry => "GEOMETRY",
        }
    }

    pub fn from_gpkg_name(name: &str) -> Option<Self> {
        [
            Self::Point,
            Self::LineString,
            Self::Polygon,
            Self::MultiPoint,
            Self::MultiLineString,
            Self::MultiPolygon,
            Self::GeometryCollection,
            Self::Geometry,
        ]
        .into_iter()
        .find(|t| t.gpkg_name().eq_ignore_ascii_case(name))
    }
}

/// Which properties gave a dataset's features their time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeFields {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A named, versioned collection of features of one kind, with its inferred schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: DatasetId,
    pub title: String,
    pub kind: DatasetKind,
    pub geometry_type: GeometryType,
    pub time_fields: TimeFields,
    /// The property that gives each feature its stable id, when the source has one.
    pub id_field: Option<String>,
    pub schema: Schema,
    /// Where the data came from: a file path, URL or generator name.
    pub source: String,
    /// Increases by one with every committed change; feeds cache keys and ETags.
    pub version: u64,
    pub feature_count: u64,
    pub extent: Option<Bbox>,
    pub time_extent: Option<TimeSpan>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// Which committed state of a dataset something was built from. The version alone is not enough: a dataset
/// dropped and created again (from another process, say) starts again at version 1, so the creation time
/// tells the two lives apart. Ordered by creation first, so a later life is newer whatever its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation {
    pub created: DateTime<Utc>,
    pub version: u64,
}

impl Dataset {
    pub fn generation(&self) -> Generation {
        Generation {
            created: self.created,
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_ids_are_table_safe() {
        assert!(DatasetId::new("quakes_2024").is_ok());
        assert!(DatasetId::new("Quakes").is_err());
        assert!(DatasetId::new("1quakes").is_err());
        assert!(DatasetId::new("gpkg_contents").is_err());
        assert!(DatasetId::new("a\"; drop table x").is_err());
        assert!(DatasetId::new("x".repeat(64)).is_err());
    }

    #[test]
    fn slugs_turn_file_names_into_ids() {
        assert_eq!(
            DatasetId::slug("Quakes 2024-05").unwrap().as_str(),
            "quakes_2024_05"
        );
        assert_eq!(
            DatasetId::slug("2024 sites").unwrap().as_str(),
            "d_2024_sites"
        );
        assert_eq!(DatasetId::slug("gpkg_x").unwrap().as_str(), "d_gpkg_x");
    }

    #[test]
    fn geometry_types_merge_to_the_narrowest_cover() {
        use GeometryType as T;
        assert_eq!(T::Polygon.merge(T::MultiPolygon), T::MultiPolygon);
        assert_eq!(T::Point.merge(T::Point), T::Point);
        assert_eq!(T::Point.merge(T::Polygon), T::Geometry);
    }
}
