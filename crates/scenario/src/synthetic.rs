//! Synthetic events at any scale, for benchmarks: points clustered around real cities (weighted by
//! population), a thin uniform background, and times spread over a window with a daily cycle.

use chrono::{DateTime, Duration, Utc};
use geoconsole_model::geo_types::{Coord, Point};
use geoconsole_model::{Feature, FeatureId, Field, FieldType, Properties, Schema, format_rfc3339};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, Normal};
use serde_json::{Value, json};

const CITIES: &[u8] = include_bytes!("../../../fixtures/demo/ne_110m_populated_places.geojson");
const CATEGORIES: [&str; 6] = [
    "theft",
    "fire",
    "flood",
    "outage",
    "road closure",
    "vandalism",
];
/// Share of points scattered uniformly instead of around a city.
const BACKGROUND_SHARE: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct SyntheticOptions {
    pub points: u64,
    pub seed: u64,
    /// The window ends here and reaches `days` back.
    pub end: DateTime<Utc>,
    pub days: u32,
}

struct Centre {
    at: Coord<f64>,
    sigma_deg: f64,
}

fn centres() -> (Vec<Centre>, Vec<f64>) {
    let parsed: Value = serde_json::from_slice(CITIES).unwrap_or(Value::Null);
    let features = parsed
        .get("features")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut centres = Vec::new();
    let mut weights = Vec::new();
    for f in &features {
        let coords = f.pointer("/geometry/coordinates").and_then(Value::as_array);
        let (Some(x), Some(y)) = (
            coords.and_then(|c| c.first()).and_then(Value::as_f64),
            coords.and_then(|c| c.get(1)).and_then(Value::as_f64),
        ) else {
            continue;
        };
        let population = f
            .pointer("/properties/POP_MAX")
            .and_then(Value::as_f64)
            .unwrap_or(100_000.0)
            .max(1.0);
        // Bigger cities spread wider: from about 5 km to about 60 km.
        let sigma_deg = (population.log10() - 4.0).clamp(0.5, 4.0) * 0.12;
        centres.push(Centre {
            at: Coord { x, y },
            sigma_deg,
        });
        weights.push(population.sqrt());
    }
    if centres.is_empty() {
        centres.push(Centre {
            at: Coord { x: 0.0, y: 0.0 },
            sigma_deg: 1.0,
        });
        weights.push(1.0);
    }
    (centres, weights)
}

/// The properties every synthetic event carries, with their types, for writers that declare columns first.
pub fn synthetic_schema() -> Schema {
    let field = |name: &str, field_type| Field {
        name: name.into(),
        field_type,
    };
    Schema::new(vec![
        field("category", FieldType::Text),
        field("severity", FieldType::Real),
        field("reports", FieldType::Integer),
        field("verified", FieldType::Boolean),
        field("time", FieldType::DateTime),
    ])
}

/// An endless-free iterator of `options.points` synthetic events, deterministic for a seed.
pub fn synthetic_points(
    options: &SyntheticOptions,
) -> impl Iterator<Item = Feature> + Send + 'static {
    let (centres, weights) = centres();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut total = 0.0;
    for w in weights {
        total += w;
        cumulative.push(total);
    }
    let mut rng = StdRng::seed_from_u64(options.seed);
    // Constant, positive parameters: neither distribution can fail to build.
    let unit = Normal::new(0.0, 1.0).expect("standard normal is valid");
    let magnitude = Exp::new(1.2).expect("positive rate is valid");
    let window_secs = i64::from(options.days.max(1)) * 86_400;
    let start = options.end - Duration::seconds(window_secs);
    (0..options.points).map(move |n| {
        let at = if rng.random_bool(BACKGROUND_SHARE) {
            Coord {
                x: rng.random_range(-180.0..180.0),
                y: rng.random_range(-60.0..75.0),
            }
        } else {
            let pick = rng.random_range(0.0..total);
            let centre = &centres[cumulative
                .partition_point(|c| *c < pick)
                .min(centres.len() - 1)];
            Coord {
                x: (centre.at.x + unit.sample(&mut rng) * centre.sigma_deg).clamp(-180.0, 180.0),
                y: (centre.at.y + unit.sample(&mut rng) * centre.sigma_deg).clamp(-90.0, 90.0),
            }
        };
        // A daily cycle: more events in the afternoon than at night.
        let day = rng.random_range(0..window_secs / 86_400);
        let hour = loop {
            let h = rng.random_range(0.0..24.0);
            let weight = 0.6 + 0.4 * ((h - 15.0) / 24.0 * std::f64::consts::TAU).cos();
            if rng.random_range(0.0..1.0) < weight {
                break h;
            }
        };
        let time = start + Duration::seconds(day * 86_400 + (hour * 3600.0) as i64);
        let mut properties = Properties::new();
        properties.insert(
            "category".into(),
            json!(CATEGORIES[rng.random_range(0..CATEGORIES.len())]),
        );
        properties.insert(
            "severity".into(),
            json!((magnitude.sample(&mut rng) * 10.0_f64).round() / 10.0),
        );
        properties.insert("reports".into(), json!(rng.random_range(1..50)));
        properties.insert("verified".into(), json!(rng.random_bool(0.7)));
        properties.insert("time".into(), json!(format_rfc3339(time)));
        Feature {
            id: Some(FeatureId(format!("e{n}"))),
            geometry: Some(Point(at).into()),
            time: None,
            properties,
        }
    })
}
