//! Room `model`: the console's vocabulary. It owns [`Dataset`], [`DatasetKind`], [`Feature`], [`FeatureId`],
//! [`Bbox`], [`TimeSpan`], property [`Schema`]s, the validation every feature passes before it is stored,
//! [`ImpactModel`]s (how far a hazard event reaches, as configured, computed and suggested by the catalog),
//! and [`excerpt`]: how every room quotes outside text back in a message, bounded whatever the input.
//!
//! It may depend only on geo-types, serde (and serde_json), schemars (so the API can describe its types),
//! chrono and thiserror. It does no IO and knows nothing of formats, stores or HTTP.
#![forbid(unsafe_code)]

mod bbox;
mod dataset;
mod error;
mod excerpt;
mod feature;
mod impact;
mod schema;
mod time;
mod validate;

pub use bbox::Bbox;
pub use dataset::{Dataset, DatasetId, DatasetKind, Generation, GeometryType, TimeFields};
pub use error::{ModelError, ModelErrorKind, ModelResult};
pub use excerpt::{EXCERPT_CHARS, EXCERPT_NAMES, excerpt, excerpt_list};
pub use feature::{Feature, FeatureId, Properties};
pub use impact::{Footprint, ImpactModel, MAX_RADIUS_KM};
pub use schema::{Field, FieldType, Schema};
pub use time::{TimeSpan, format_rfc3339, parse_time_value};
pub use validate::{
    COORDINATE_NOISE_DEGREES, MAX_GEOMETRY_NESTING, clamp_coordinate_noise, collection_nesting,
    is_empty_geometry, nesting_message, validate_geometry, validate_ring_positions,
    without_empty_members,
};

/// Re-exported so every room names geometries the same way.
pub use geo_types;
