//! Room `query`: what a reader asks of a dataset. It owns [`FeatureQuery`] (bbox, datetime, limit, cursor),
//! the OGC API datetime syntax, and the in-memory test of a feature against a query.
//!
//! CQL2 filters (text and JSON) are read with the `cql2` crate and checked into the typed [`Filter`] AST,
//! which is evaluated in memory against features or the index; nothing here ever builds SQL.
//!
//! Filters are bounded before anything recursive reads them ([`filter_limits`]): a filter that would nest
//! deeper than the parser, checker or evaluator can take is refused with a message, never allowed to overflow
//! the stack.
//!
//! It depends on `model`, `cql2` (parsing only), `geo` (spatial predicates), `wkt`, and `stacker` (a fresh
//! stack for parsing when the caller's is nearly used up).
#![forbid(unsafe_code)]

mod cql;
mod datetime;
mod error;
mod filter;
pub mod filter_limits;

pub use cql::{FilterLang, GEOMETRY_NAMES, Queryables, TIME_NAMES, parse_filter};
pub use datetime::DateTimeFilter;
pub use error::{QueryError, QueryErrorKind, QueryResult};
pub use filter::{
    CompareOp, Filter, Interval, Operand, SpatialOp, Subject, TemporalOp, distance_metres, like,
};
pub use filter_limits::MAX_FILTER_BYTES;

use geoconsole_model::{Bbox, Feature};
use serde::{Deserialize, Serialize};

/// Number of features returned when a query names no limit.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest page a query may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// An opaque position in a dataset's feature order, handed back to continue a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(pub String);

/// A page request over one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureQuery {
    pub bbox: Option<Bbox>,
    pub datetime: Option<DateTimeFilter>,
    /// `None` means every matching feature (exports); APIs always set one.
    pub limit: Option<usize>,
    pub cursor: Option<Cursor>,
}

impl Default for FeatureQuery {
    fn default() -> Self {
        Self {
            bbox: None,
            datetime: None,
            limit: Some(DEFAULT_LIMIT),
            cursor: None,
        }
    }
}

impl FeatureQuery {
    /// Every feature, in store order.
    pub fn all() -> Self {
        Self {
            limit: None,
            ..Self::default()
        }
    }

    /// Checks a requested page size against [`MAX_LIMIT`].
    pub fn checked_limit(limit: usize) -> QueryResult<usize> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::new(
                QueryErrorKind::InvalidParameter,
                format!("limit {limit} is outside 1..={MAX_LIMIT}"),
            ));
        }
        Ok(limit)
    }

    /// Whether a feature passes the bbox and datetime parts (cursor and limit are the store's business).
    /// Features without time never match a datetime filter.
    pub fn matches(&self, feature: &Feature) -> bool {
        if let Some(bbox) = &self.bbox {
            match feature.geometry.as_ref().and_then(Bbox::of_geometry) {
                Some(extent) if extent.intersects(bbox) => {}
                _ => return false,
            }
        }
        if let Some(filter) = &self.datetime {
            match &feature.time {
                Some(span) if filter.overlaps(span) => {}
                _ => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geoconsole_model::geo_types::{Geometry, Point};
    use geoconsole_model::{Properties, TimeSpan, parse_time_value};

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        parse_time_value(&serde_json::Value::String(text.into())).unwrap()
    }

    fn event(lon: f64, lat: f64, time: Option<&str>) -> Feature {
        Feature {
            id: None,
            geometry: Some(Geometry::Point(Point::new(lon, lat))),
            time: time.map(|t| TimeSpan::instant(at(t))),
            properties: Properties::new(),
        }
    }

    #[test]
    fn matches_bbox_across_the_antimeridian_and_datetime() {
        let query = FeatureQuery {
            bbox: Some(Bbox::parse("170,-20,-170,-10").unwrap()),
            datetime: Some(DateTimeFilter::parse("2024-05-01/2024-05-02").unwrap()),
            ..FeatureQuery::all()
        };
        assert!(query.matches(&event(-179.0, -15.0, Some("2024-05-01T12:00:00Z"))));
        assert!(!query.matches(&event(0.0, -15.0, Some("2024-05-01T12:00:00Z"))));
        assert!(!query.matches(&event(179.0, -15.0, Some("2024-06-01"))));
        assert!(
            !query.matches(&event(179.0, -15.0, None)),
            "features without time never match a datetime filter"
        );
        assert!(FeatureQuery::all().matches(&event(0.0, 0.0, None)));
    }

    #[test]
    fn limits_are_checked() {
        assert!(FeatureQuery::checked_limit(0).is_err());
        assert!(FeatureQuery::checked_limit(MAX_LIMIT + 1).is_err());
        assert_eq!(FeatureQuery::checked_limit(MAX_LIMIT).unwrap(), MAX_LIMIT);
    }
}
