//! Seeded generators for the demo's sites and hazards. Shapes and magnitudes follow the real phenomena
//! (storm wind radii by quadrant, fire detections in clusters, warning polygons of tens of kilometres) so the
//! map and the analytics behave as they will on live data.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use geoconsole_model::geo_types::{Coord, Geometry, LineString, Point};
use geoconsole_model::{Feature, FeatureId, Properties, format_rfc3339};
use rand::RngExt;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal, Poisson};
use serde_json::{Value, json};

use crate::geodesy::{destination, ring};

/// A named real place the generators build around.
#[derive(Debug, Clone)]
pub struct Place {
    pub name: String,
    pub country: String,
    pub position: Coord<f64>,
    pub population: f64,
}

fn props(value: Value) -> Properties {
    match value {
        Value::Object(map) => map,
        _ => Properties::new(),
    }
}

fn feature(id: String, geometry: Geometry<f64>, properties: Value) -> Feature {
    Feature {
        id: Some(FeatureId(id)),
        geometry: Some(geometry),
        time: None,
        properties: props(properties),
    }
}

/// Picks an index with probability proportional to `weights`.
fn weighted(rng: &mut StdRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len() - 1
}

/// Offices in every city, warehouses near the larger ones, and a sample of airports as sites.
pub fn sites(
    cities: &[Place],
    airports: &[Place],
    warehouses: usize,
    airport_sites: usize,
    rng: &mut StdRng,
) -> Vec<Feature> {
    let mut sites = Vec::new();
    let mut next = 1;
    let mut push = |sites: &mut Vec<Feature>,
                    name: String,
                    kind: &str,
                    place: &Place,
                    at: Coord<f64>,
                    rng: &mut StdRng| {
        let criticality = match kind {
            "warehouse" => rng.random_range(2..=5),
            "airport" => rng.random_range(3..=5),
            _ => rng.random_range(1..=4),
        };
        let area = match kind {
            "warehouse" => rng.random_range(5_000..120_000),
            "airport" => rng.random_range(2_000..40_000),
            _ => rng.random_range(300..8_000),
        };
        let id = format!("S{next:05}");
        next += 1;
        sites.push(feature(
            id.clone(),
            Point(at).into(),
            json!({"site_id": id, "name": name, "site_type": kind, "city": place.name, "country": place.country,
                   "criticality": criticality, "floor_area_m2": area}),
        ));
    };
    for city in cities {
        push(
            &mut sites,
            format!("{} Office", city.name),
            "office",
            city,
            city.position,
            rng,
        );
    }
    let weights: Vec<f64> = cities
        .iter()
        .map(|c| c.population.max(1.0).sqrt())
        .collect();
    for n in 0..warehouses {
        let city = &cities[weighted(rng, &weights)];
        let at = destination(
            city.position,
            rng.random_range(0.0..360.0),
            rng.random_range(5_000.0..40_000.0),
        );
        push(
            &mut sites,
            format!("{} Warehouse {}", city.name, n + 1),
            "warehouse",
            city,
            at,
            rng,
        );
    }
    let mut chosen: Vec<usize> = (0..airports.len()).collect();
    for i in 0..airport_sites.min(chosen.len()) {
        let j = rng.random_range(i..chosen.len());
        chosen.swap(i, j);
        let airport = &airports[chosen[i]];
        push(
            &mut sites,
            format!("{} Airport Hub", airport.name),
            "airport",
            airport,
            airport.position,
            rng,
        );
    }
    sites
}

struct StormPlan {
    name: &'static str,
    basin: &'static str,
    start: (f64, f64),
    heading_deg: f64,
    turn_deg_per_step: f64,
    speed_kmh: f64,
    peak_kt: f64,
}

const STORMS: [StormPlan; 4] = [
    StormPlan {
        name: "Aster",
        basin: "North Atlantic",
        start: (-55.0, 16.0),
        heading_deg: 290.0,
        turn_deg_per_step: 2.0,
        speed_kmh: 20.0,
        peak_kt: 125.0,
    },
    StormPlan {
        name: "Bora",
        basin: "West Pacific",
        start: (142.0, 11.0),
        heading_deg: 285.0,
        turn_deg_per_step: 2.5,
        speed_kmh: 22.0,
        peak_kt: 140.0,
    },
    StormPlan {
        name: "Cyra",
        basin: "North Indian",
        start: (87.5, 12.0),
        heading_deg: 10.0,
        turn_deg_per_step: 1.0,
        speed_kmh: 14.0,
        peak_kt: 95.0,
    },
    StormPlan {
        name: "Dane",
        basin: "South Pacific",
        start: (158.0, -13.0),
        heading_deg: 225.0,
        turn_deg_per_step: -1.5,
        speed_kmh: 16.0,
        peak_kt: 105.0,
    },
];

fn saffir_simpson(wind_kt: f64) -> &'static str {
    match wind_kt {
        w if w >= 137.0 => "category 5",
        w if w >= 113.0 => "category 4",
        w if w >= 96.0 => "category 3",
        w if w >= 83.0 => "category 2",
        w if w >= 64.0 => "category 1",
        w if w >= 34.0 => "tropical storm",
        _ => "tropical depression",
    }
}

/// Storm tracks (one line each) and their 34-knot wind-radius polygons every 6 hours, asymmetric by
/// quadrant as in advisories (the right-front quadrant is widest).
pub fn storms(week_start: DateTime<Utc>, rng: &mut StdRng) -> (Vec<Feature>, Vec<Feature>) {
    let (mut tracks, mut radii) = (Vec::new(), Vec::new());
    for (n, plan) in STORMS.iter().enumerate() {
        let steps = rng.random_range(16..24);
        let start = week_start + Duration::hours(rng.random_range(0..48));
        let mut position = Coord {
            x: plan.start.0,
            y: plan.start.1,
        };
        let mut heading = plan.heading_deg;
        let mut positions = vec![position];
        for step in 0..steps {
            let progress = step as f64 / (steps - 1) as f64;
            // Intensity rises to a peak two thirds along, then decays over land or cooler water.
            let wind_kt =
                30.0 + (plan.peak_kt - 30.0) * (1.0 - ((progress - 0.65) / 0.65).powi(2)).max(0.05);
            let r34_km = 60.0 + wind_kt * 1.6;
            let at = start + Duration::hours(6 * step as i64);
            let quadrant = |bearing: f64| {
                let relative = (bearing - heading).rem_euclid(360.0);
                let factor = if relative < 90.0 {
                    1.25
                } else if relative < 180.0 {
                    1.0
                } else if relative < 270.0 {
                    0.7
                } else {
                    0.9
                };
                r34_km * factor * 1000.0
            };
            radii.push(feature(
                format!("{}-{:02}", plan.name.to_lowercase(), step),
                ring(position, 32, quadrant).into(),
                json!({"storm": plan.name, "basin": plan.basin, "advisory": step + 1, "wind_kt": wind_kt.round(),
                       "category": saffir_simpson(wind_kt), "radius_34kt_km": r34_km.round(),
                       "valid_from": format_rfc3339(at), "valid_to": format_rfc3339(at + Duration::hours(6))}),
            ));
            heading += plan.turn_deg_per_step + rng.random_range(-3.0..3.0);
            position = destination(position, heading, plan.speed_kmh * 6.0 * 1000.0);
            positions.push(position);
        }
        let end = start + Duration::hours(6 * steps as i64);
        tracks.push(feature(
            format!("storm-{}", n + 1),
            LineString(positions).into(),
            json!({"storm": plan.name, "basin": plan.basin, "peak_wind_kt": plan.peak_kt, "category": saffir_simpson(plan.peak_kt),
                   "valid_from": format_rfc3339(start), "valid_to": format_rfc3339(end)}),
        ));
    }
    (tracks, radii)
}

/// Fire regions active in early April (southern-hemisphere autumn, northern spring burning).
const FIRE_REGIONS: [(&str, f64, f64); 7] = [
    ("Central African savanna", 22.0, 7.0),
    ("Mainland Southeast Asia", 100.5, 18.5),
    ("Mexico and Central America", -90.5, 17.0),
    ("Western Australia", 125.0, -16.0),
    ("Amur region", 128.0, 50.5),
    ("Colombian llanos", -71.0, 5.5),
    ("Southern Appalachians", -83.5, 35.0),
];

/// FIRMS-like active-fire detections: clusters of pixels per fire, brightness and fire radiative power (MW).
pub fn wildfire_hotspots(week_start: DateTime<Utc>, rng: &mut StdRng) -> Vec<Feature> {
    let mut hotspots = Vec::new();
    // A positive, finite deviation: `Normal::new` cannot fail.
    let spread = Normal::new(0.0, 2_500.0).expect("constant deviation is valid");
    for (region, lon, lat) in FIRE_REGIONS {
        for fire in 0..rng.random_range(6..14) {
            let centre = destination(
                Coord { x: lon, y: lat },
                rng.random_range(0.0..360.0),
                rng.random_range(0.0..350_000.0),
            );
            let ignition = week_start + Duration::minutes(rng.random_range(0..7 * 24 * 60));
            for _ in 0..rng.random_range(8..60) {
                let offset: f64 = spread.sample(rng);
                let offset = offset.abs();
                let at_point = destination(centre, rng.random_range(0.0..360.0), offset);
                let at = (ignition + Duration::minutes(rng.random_range(0..3 * 24 * 60)))
                    .min(week_start + Duration::days(7));
                let frp: f64 = rng.random_range(1.0f64..4.0).powf(3.5);
                let confidence = if frp > 40.0 {
                    "h"
                } else if frp > 8.0 {
                    "n"
                } else {
                    "l"
                };
                let id = format!("fire-{}", hotspots.len() + 1);
                hotspots.push(feature(
                    id,
                    Point(at_point).into(),
                    json!({"region": region, "fire": format!("{region} #{}", fire + 1), "bright_ti4": (300.0 + frp.sqrt() * 9.0).round(),
                           "frp": (frp * 10.0).round() / 10.0, "confidence": confidence,
                           "satellite": if rng.random_bool(0.5) { "N20" } else { "NPP" },
                           "daynight": if (6..18).contains(&at.hour()) { "D" } else { "N" },
                           "acq_time": format_rfc3339(at)}),
                ));
            }
        }
    }
    hotspots
}

const WARNING_TYPES: [(&str, &str, &str); 8] = [
    ("Flood Warning", "Severe", "Likely"),
    ("Flash Flood Warning", "Severe", "Observed"),
    ("Severe Thunderstorm Warning", "Severe", "Observed"),
    ("Tornado Warning", "Extreme", "Observed"),
    ("Winter Storm Warning", "Moderate", "Likely"),
    ("High Wind Warning", "Moderate", "Likely"),
    ("Excessive Heat Warning", "Severe", "Likely"),
    ("Red Flag Warning", "Minor", "Possible"),
];

/// CAP-like warning polygons near cities, with onset and expiry.
pub fn weather_warnings(
    cities: &[Place],
    week_start: DateTime<Utc>,
    count: usize,
    rng: &mut StdRng,
) -> Vec<Feature> {
    let weights: Vec<f64> = cities
        .iter()
        .map(|c| c.population.max(1.0).sqrt())
        .collect();
    (0..count)
        .map(|n| {
            let city = &cities[weighted(rng, &weights)];
            let (event, severity, certainty) = WARNING_TYPES[rng.random_range(0..WARNING_TYPES.len())];
            let centre = destination(city.position, rng.random_range(0.0..360.0), rng.random_range(0.0..60_000.0));
            let base_m = rng.random_range(15_000.0..80_000.0);
            let wobble: Vec<f64> = (0..9).map(|_| rng.random_range(0.6..1.3)).collect();
            let polygon = ring(centre, 9, |bearing| base_m * wobble[((bearing / 40.0) as usize).min(8)]);
            let onset = week_start + Duration::minutes(rng.random_range(0..7 * 24 * 60));
            let expires = onset + Duration::hours(rng.random_range(3..48));
            feature(
                format!("warning-{}", n + 1),
                polygon.into(),
                json!({"event": event, "severity": severity, "urgency": "Expected", "certainty": certainty,
                       "headline": format!("{event} near {}", city.name), "area_desc": format!("{} area, {}", city.name, city.country),
                       "onset": format_rfc3339(onset), "expires": format_rfc3339(expires)}),
            )
        })
        .collect()
}

/// Monthly safety-incident counts per site for the `months` months ending with `last_month`. Counts only: no
/// person-level detail exists to generate or store.
pub fn site_incidents(
    sites: &[Feature],
    last_month: NaiveDate,
    months: u32,
    rng: &mut StdRng,
) -> Vec<Feature> {
    let mut rows = Vec::new();
    for site in sites {
        let kind = site
            .properties
            .get("site_type")
            .and_then(Value::as_str)
            .unwrap_or("office");
        let site_id = site
            .properties
            .get("site_id")
            .cloned()
            .unwrap_or(Value::Null);
        let base = match kind {
            "warehouse" => 1.4,
            "airport" => 0.9,
            _ => 0.25,
        } * rng.random_range(0.5..1.8);
        for back in (0..months).rev() {
            let month = last_month - chrono::Months::new(back);
            let next = month + chrono::Months::new(1);
            // Winter months run a little higher in the northern hemisphere, as slips and falls do.
            let north = site_point(site).is_some_and(|c| c.y > 0.0);
            let winter = matches!(month.month(), 12 | 1 | 2) == north;
            let lambda = base * if winter { 1.3 } else { 1.0 };
            let incidents = Poisson::new(lambda)
                .map(|p| p.sample(rng) as u64)
                .unwrap_or(0);
            let near_misses = Poisson::new(lambda * 3.0)
                .map(|p| p.sample(rng) as u64)
                .unwrap_or(0);
            let lost_time = (0..incidents).filter(|_| rng.random_bool(0.2)).count();
            rows.push(Feature {
                id: Some(FeatureId(format!("{}-{}", site_id.as_str().unwrap_or("site"), month.format("%Y-%m")))),
                geometry: site.geometry.clone(),
                time: None,
                properties: props(json!({"site_id": site_id, "site_type": kind, "month": month.format("%Y-%m-%d").to_string(),
                    "month_end": next.format("%Y-%m-%d").to_string(), "incidents": incidents, "lost_time_incidents": lost_time,
                    "near_misses": near_misses})),
            });
        }
    }
    rows
}

fn site_point(site: &Feature) -> Option<Coord<f64>> {
    match &site.geometry {
        Some(Geometry::Point(p)) => Some(p.0),
        _ => None,
    }
}
