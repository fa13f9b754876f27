//! The impact model a hazard dataset gets when none is configured. The models themselves (and their
//! footprints) are the console's vocabulary: [`geoconsole_model::ImpactModel`].

use geoconsole_model::{Dataset, FieldType, GeometryType};

pub use geoconsole_model::{Footprint, ImpactModel};

/// Property names read as an event's magnitude.
const MAGNITUDE_NAMES: [&str; 3] = ["mag", "magnitude", "ml"];
/// Property names that mark satellite fire detections (FIRMS: fire radiative power, brightness).
const FIRE_NAMES: [&str; 3] = ["frp", "bright_ti4", "brightness"];

/// The model a hazard dataset gets when none is configured: its polygons as they are, a magnitude radius
/// when it has a numeric magnitude, 10 km around fire detections, 50 km along lines (storm tracks), and
/// 25 km around any other point.
pub fn default_model(dataset: &Dataset) -> ImpactModel {
    let numeric = |name: &str| {
        dataset.schema.fields().iter().find(|f| {
            f.name.eq_ignore_ascii_case(name)
                && matches!(f.field_type, FieldType::Real | FieldType::Integer)
        })
    };
    let has = |name: &str| {
        dataset
            .schema
            .fields()
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(name))
    };
    match dataset.geometry_type {
        GeometryType::Polygon | GeometryType::MultiPolygon => {
            return ImpactModel::Area { buffer_km: 0.0 };
        }
        GeometryType::LineString | GeometryType::MultiLineString => {
            return ImpactModel::Fixed { radius_km: 50.0 };
        }
        _ => {}
    }
    if let Some(field) = MAGNITUDE_NAMES.iter().find_map(|n| numeric(n)) {
        return ImpactModel::magnitude(&field.name);
    }
    if FIRE_NAMES.iter().any(|n| has(n)) {
        return ImpactModel::Fixed { radius_km: 10.0 };
    }
    ImpactModel::Fixed { radius_km: 25.0 }
}
