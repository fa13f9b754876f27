//! Impact models: how far an event's effects reach, decided per hazard dataset and computed per event from
//! its own properties. One definition for the console's `[impact.<dataset>]` configuration, the analytics
//! that draw footprints, and the catalog's suggested models.

use geo_types::{Geometry, Point};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Properties;

/// Largest radius any model hands out: beyond this an "impact" is no longer local.
pub const MAX_RADIUS_KM: f64 = 1000.0;

/// How one hazard dataset's events become footprints.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
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

    /// Refuses what would make footprints meaningless: negative, non-finite or over-long distances, and a
    /// magnitude model that names no property.
    pub fn check(&self) -> Result<(), String> {
        let distance = |v: f64| v.is_finite() && (0.0..=MAX_RADIUS_KM).contains(&v);
        match self {
            Self::Fixed { radius_km } if !distance(*radius_km) => Err(format!(
                "radius_km {radius_km} must be from 0 to {MAX_RADIUS_KM}"
            )),
            Self::Magnitude { property, .. } if property.trim().is_empty() => {
                Err("the magnitude model names no property".into())
            }
            Self::Magnitude {
                a,
                b,
                min_km,
                max_km,
                ..
            } if !(a.is_finite()
                && b.is_finite()
                && distance(*min_km)
                && distance(*max_km)
                && min_km <= max_km) =>
            {
                Err(format!(
                    "a and b must be numbers and 0 ≤ min_km ≤ max_km ≤ {MAX_RADIUS_KM}"
                ))
            }
            Self::Area { buffer_km } if !distance(*buffer_km) => Err(format!(
                "buffer_km {buffer_km} must be from 0 to {MAX_RADIUS_KM}"
            )),
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

    /// A short human form: `magnitude(mag)`, `fixed 10 km`, `area + 2 km`.
    pub fn summary(&self) -> String {
        match self {
            Self::Fixed { radius_km } => format!("fixed {radius_km} km"),
            Self::Magnitude { property, .. } => format!("magnitude({property})"),
            Self::Area { buffer_km } if *buffer_km == 0.0 => "area".to_string(),
            Self::Area { buffer_km } => format!("area + {buffer_km} km"),
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
