//! Impact models: how far an event's effects reach, decided per hazard dataset and computed per event from
//! its own properties. Distances are geodesic metres on the WGS84 mean sphere (haversine).

use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{Dataset, FieldType, GeometryType, Properties};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest radius any model hands out: beyond this an "impact" is no longer local.
const MAX_RADIUS_KM: f64 = 1000.0;

/// How one hazard dataset's events become footprints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ImpactModel {
    /// Every event reaches the same distance from its geometry (a point's radius, a line's or polygon's
    /// buffer).
    Fixed { radius_km: f64 },
    /// A radius from a magnitude property: `log10(radius_km) = a · M + b`, clamped to
    /// `[min_km, max_km]`. The default (a = 0.5, b = −1.0) is a rule of thumb for the reach of strong
    /// shaking (about MMI VI) of shallow earthquakes: M4 → 10 km, M5 → 32 km, M6 → 100 km, M7 → 316 km.
    Magnitude {
        property: String,
        #[serde(default = "default_a")]
        a: f64,
        #[serde(default = "default_b")]
        b: f64,
        #[serde(default = "default_min_km")]
        min_km: f64,
        #[serde(default = "default_max_km")]
        max_km: f64,
    },
    /// The event's own area (a warning polygon, a storm's wind radii), widened by `buffer_km`.
    Area { buffer_km: f64 },
}

fn default_a() -> f64 {
    0.5
}
fn default_b() -> f64 {
    -1.0
}
fn default_min_km() -> f64 {
    1.0
}
fn default_max_km() -> f64 {
    MAX_RADIUS_KM
}

impl ImpactModel {
    /// The farthest any event can reach under this model, in km (a radius's or buffer's, or the magnitude
    /// model's cap): the distance beyond which no site can be exposed, whatever the event.
    pub fn max_reach_km(&self) -> f64 {
        match self {
            Self::Fixed { radius_km } => *radius_km,
            Self::Magnitude { max_km, .. } => *max_km,
            Self::Area { buffer_km } => *buffer_km,
        }
    }

    pub fn magnitude(property: &str) -> Self {
        Self::Magnitude {
            property: property.to_string(),
            a: default_a(),
            b: default_b(),
            min_km: default_min_km(),
            max_km: default_max_km(),
        }
    }

    /// Refuses numbers that would make footprints meaningless (negative or non-finite distances).
    pub fn check(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match self {
            Self::Fixed { radius_km } if !(ok(*radius_km) && *radius_km <= MAX_RADIUS_KM) => Err(
                format!("radius_km {radius_km} must be from 0 to {MAX_RADIUS_KM}"),
            ),
            Self::Magnitude {
                a,
                b,
                min_km,
                max_km,
                ..
            } if !(a.is_finite()
                && b.is_finite()
                && ok(*min_km)
                && ok(*max_km)
                && min_km <= max_km) =>
            {
                Err("a and b must be numbers and 0 ≤ min_km ≤ max_km".into())
            }
            Self::Area { buffer_km } if !(ok(*buffer_km) && *buffer_km <= MAX_RADIUS_KM) => Err(
                format!("buffer_km {buffer_km} must be from 0 to {MAX_RADIUS_KM}"),
            ),
            _ => Ok(()),
        }
    }

    /// Whether footprints need the event's properties (else geometry alone decides them).
    pub fn needs_properties(&self) -> bool {
        matches!(self, Self::Magnitude { .. })
    }

    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fixed { .. } => "fixed",
            Self::Magnitude { .. } => "magnitude",
            Self::Area { .. } => "area",
        }
    }

    /// The footprint of one event, or `None` when the model needs a property the event lacks.
    pub fn footprint(
        &self,
        geometry: &Geometry<f64>,
        properties: &Properties,
    ) -> Option<Footprint> {
        match self {
            Self::Fixed { radius_km } => Some(reach(geometry, radius_km * 1000.0)),
            Self::Magnitude {
                property,
                a,
                b,
                min_km,
                max_km,
            } => {
                let m = number(properties.get(property)?)?;
                let km = 10f64
                    .powf(a * m + b)
                    .clamp(*min_km, max_km.min(MAX_RADIUS_KM));
                Some(reach(geometry, km * 1000.0))
            }
            Self::Area { buffer_km } => Some(Footprint::Area {
                geometry: geometry.clone(),
                buffer_m: buffer_km * 1000.0,
            }),
        }
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
}

/// A point's circle, or any other shape widened by the distance.
fn reach(geometry: &Geometry<f64>, metres: f64) -> Footprint {
    match geometry {
        Geometry::Point(p) => Footprint::Circle {
            centre: *p,
            radius_m: metres,
        },
        other => Footprint::Area {
            geometry: other.clone(),
            buffer_m: metres,
        },
    }
}

/// Where an event's effects reach.
#[derive(Debug, Clone, PartialEq)]
pub enum Footprint {
    Circle {
        centre: Point<f64>,
        radius_m: f64,
    },
    Area {
        geometry: Geometry<f64>,
        buffer_m: f64,
    },
}

impl Footprint {
    /// How far beyond the geometry it reaches, in metres.
    pub fn reach_m(&self) -> f64 {
        match self {
            Self::Circle { radius_m, .. } => *radius_m,
            Self::Area { buffer_m, .. } => *buffer_m,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Properties {
        v.as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    #[test]
    fn magnitude_radius_follows_the_documented_rule() {
        let model = ImpactModel::magnitude("mag");
        let at = Geometry::Point(Point::new(0.0, 0.0));
        let radius = |m: f64| {
            model
                .footprint(&at, &props(json!({"mag": m})))
                .map(|f| f.reach_m())
        };
        assert!((radius(4.0).expect("m4") - 10_000.0).abs() < 1e-6);
        assert!((radius(6.0).expect("m6") - 100_000.0).abs() < 1e-6);
        assert_eq!(radius(-1.0), Some(1000.0), "clamped to 1 km");
        assert_eq!(radius(12.0), Some(1_000_000.0), "clamped to 1000 km");
        assert_eq!(model.footprint(&at, &props(json!({"place": "x"}))), None);
        assert!(
            model
                .footprint(&at, &props(json!({"mag": "5.0"})))
                .is_some()
        );
    }

    #[test]
    fn models_read_from_toml_style_config() {
        let m: ImpactModel =
            serde_json::from_value(json!({"model": "fixed", "radius_km": 12.5})).expect("fixed");
        assert_eq!(m, ImpactModel::Fixed { radius_km: 12.5 });
        let a: ImpactModel =
            serde_json::from_value(json!({"model": "area", "buffer_km": 5})).expect("area");
        assert_eq!(a.name(), "area");
    }
}
