//! The exposure join: which sites lie inside which events' footprints. Sites go into an R-tree once; each
//! footprint asks it for candidates inside a box that surely contains its reach (widened for longitude
//! shrinking towards the poles, split at the antimeridian), then measures each candidate exactly.

use geo::{Distance, Haversine, Intersects};
use geoconsole_model::TimeSpan;
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_query::distance_metres;
use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};
use serde::Serialize;

use crate::impact::Footprint;

/// Metres in one degree of latitude, at least (the meridian degree is shortest at the equator).
const METRES_PER_DEGREE_MIN: f64 = 110_500.0;

/// A fixed place of the organisation.
#[derive(Debug, Clone)]
pub struct Site {
    pub dataset: String,
    pub id: String,
    pub name: String,
    pub position: Point<f64>,
}

/// A hazard event with its footprint already decided.
#[derive(Debug, Clone)]
pub struct Event {
    pub dataset: String,
    pub id: String,
    /// How the footprint was made (`fixed`, `magnitude`, `area`).
    pub model: &'static str,
    pub footprint: Footprint,
    pub time: Option<TimeSpan>,
    /// What the reason text calls it, e.g. "M6.1 earthquake" or "Severe thunderstorm warning".
    pub label: String,
}

/// One event reaching one site.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub dataset: String,
    pub event: String,
    /// Geodesic distance from the site to the event's geometry, metres (0 inside an area).
    pub distance_m: f64,
    /// How far the footprint reaches beyond the event's geometry, metres.
    pub reach_m: f64,
    pub model: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeSpan>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteExposure {
    pub dataset: String,
    pub site: String,
    pub name: String,
    pub position: [f64; 2],
    /// Nearest first.
    pub hits: Vec<Hit>,
}

/// Every exposed site, most exposed first (most hits, then nearest).
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    pub sites_checked: usize,
    pub events_checked: usize,
    pub exposed: Vec<SiteExposure>,
}

type Entry = GeomWithData<[f64; 2], usize>;

/// Joins sites and events. Order of `exposed`: more hits first, then the nearest hit, then site id, so
/// results are stable between runs.
pub fn expose(sites: &[Site], events: &[Event]) -> Exposure {
    let tree: RTree<Entry> = RTree::bulk_load(
        sites
            .iter()
            .enumerate()
            .map(|(i, s)| GeomWithData::new([s.position.x(), s.position.y()], i))
            .collect(),
    );
    let mut hits: Vec<Vec<Hit>> = vec![Vec::new(); sites.len()];
    let mut candidates = Vec::new();
    for event in events {
        candidates.clear();
        for part in search_boxes(&event.footprint) {
            candidates.extend(tree.locate_in_envelope(&part).map(|e| e.data));
        }
        candidates.sort_unstable();
        candidates.dedup();
        for &i in &candidates {
            if let Some(distance_m) = reaches(&event.footprint, sites[i].position) {
                hits[i].push(Hit {
                    dataset: event.dataset.clone(),
                    event: event.id.clone(),
                    distance_m,
                    reach_m: event.footprint.reach_m(),
                    model: event.model,
                    time: event.time,
                    reason: reason(event, distance_m),
                });
            }
        }
    }
    let mut exposed: Vec<SiteExposure> = sites
        .iter()
        .zip(hits)
        .filter(|(_, h)| !h.is_empty())
        .map(|(s, mut h)| {
            h.sort_by(|a, b| {
                a.distance_m
                    .total_cmp(&b.distance_m)
                    .then(a.event.cmp(&b.event))
            });
            SiteExposure {
                dataset: s.dataset.clone(),
                site: s.id.clone(),
                name: s.name.clone(),
                position: [s.position.x(), s.position.y()],
                hits: h,
            }
        })
        .collect();
    exposed.sort_by(|a, b| {
        b.hits
            .len()
            .cmp(&a.hits.len())
            .then(a.hits[0].distance_m.total_cmp(&b.hits[0].distance_m))
            .then(a.site.cmp(&b.site))
    });
    Exposure {
        sites_checked: sites.len(),
        events_checked: events.len(),
        exposed,
    }
}

/// The exact test: the geodesic distance when the site is within reach, `None` otherwise.
fn reaches(footprint: &Footprint, site: Point<f64>) -> Option<f64> {
    match footprint {
        Footprint::Circle { centre, radius_m } => {
            let d = Haversine.distance(*centre, site);
            (d <= *radius_m).then_some(d)
        }
        Footprint::Area { geometry, buffer_m } => {
            if geometry.intersects(&site) {
                return Some(0.0);
            }
            if *buffer_m <= 0.0 {
                return None;
            }
            let d = distance_metres(geometry, &Geometry::Point(site));
            (d <= *buffer_m).then_some(d)
        }
    }
}

fn reason(event: &Event, distance_m: f64) -> String {
    let km = |m: f64| {
        if m < 10_000.0 {
            format!("{:.1} km", m / 1000.0)
        } else {
            format!("{:.0} km", m / 1000.0)
        }
    };
    match &event.footprint {
        Footprint::Area { buffer_m, .. } if distance_m == 0.0 && *buffer_m == 0.0 => {
            format!("inside the area of {}", event.label)
        }
        Footprint::Area { .. } if distance_m == 0.0 => format!("inside {}", event.label),
        footprint => format!(
            "{} {} away (reaches {})",
            event.label,
            km(distance_m),
            km(footprint.reach_m())
        ),
    }
}

/// Boxes (lon/lat) that together contain every point within the footprint's reach.
fn search_boxes(footprint: &Footprint) -> Vec<AABB<[f64; 2]>> {
    let (mut west, mut south, mut east, mut north, reach) = match footprint {
        Footprint::Circle { centre, radius_m } => {
            (centre.x(), centre.y(), centre.x(), centre.y(), *radius_m)
        }
        Footprint::Area { geometry, buffer_m } => {
            use geo::BoundingRect;
            let Some(r) = geometry.bounding_rect() else {
                return Vec::new();
            };
            (r.min().x, r.min().y, r.max().x, r.max().y, *buffer_m)
        }
    };
    let dlat = reach / METRES_PER_DEGREE_MIN;
    south = (south - dlat).max(-90.0);
    north = (north + dlat).min(90.0);
    let widest = south.abs().max(north.abs());
    if widest >= 89.0 {
        // Near a pole every longitude is close: take the whole band.
        return vec![AABB::from_corners([-180.0, south], [180.0, north])];
    }
    let dlon = dlat / widest.to_radians().cos();
    west -= dlon;
    east += dlon;
    if east - west >= 360.0 {
        return vec![AABB::from_corners([-180.0, south], [180.0, north])];
    }
    let mut boxes = vec![AABB::from_corners(
        [west.max(-180.0), south],
        [east.min(180.0), north],
    )];
    // A reach across the antimeridian continues on the other side.
    if west < -180.0 {
        boxes.push(AABB::from_corners([west + 360.0, south], [180.0, north]));
    }
    if east > 180.0 {
        boxes.push(AABB::from_corners([-180.0, south], [east - 360.0, north]));
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;
    use geoconsole_model::geo_types::{LineString, Polygon};
    use proptest::prelude::*;

    fn site(i: usize, lon: f64, lat: f64) -> Site {
        Site {
            dataset: "sites".into(),
            id: format!("s{i}"),
            name: format!("Site {i}"),
            position: Point::new(lon, lat),
        }
    }

    fn circle(i: usize, lon: f64, lat: f64, km: f64) -> Event {
        Event {
            dataset: "quakes".into(),
            id: format!("e{i}"),
            model: "fixed",
            footprint: Footprint::Circle {
                centre: Point::new(lon, lat),
                radius_m: km * 1000.0,
            },
            time: None,
            label: format!("event {i}"),
        }
    }

    fn pairs(e: &Exposure) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = e
            .exposed
            .iter()
            .flat_map(|s| s.hits.iter().map(|h| (s.site.clone(), h.event.clone())))
            .collect();
        out.sort();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The R-tree join finds exactly the pairs a brute-force haversine comparison finds, anywhere on
        /// the globe, including across the antimeridian and near the poles.
        #[test]
        fn matches_brute_force(
            sites in prop::collection::vec((-180.0f64..180.0, -89.9f64..89.9), 1..80),
            events in prop::collection::vec((-180.0f64..180.0, -89.9f64..89.9, 1.0f64..3000.0), 1..40),
        ) {
            let sites: Vec<Site> = sites.iter().enumerate().map(|(i, (x, y))| site(i, *x, *y)).collect();
            let events: Vec<Event> = events.iter().enumerate().map(|(i, (x, y, km))| circle(i, *x, *y, *km)).collect();
            let found = pairs(&expose(&sites, &events));
            let mut brute = Vec::new();
            for s in &sites {
                for e in &events {
                    let Footprint::Circle { centre, radius_m } = e.footprint else { unreachable!() };
                    if Haversine.distance(centre, s.position) <= radius_m {
                        brute.push((s.id.clone(), e.id.clone()));
                    }
                }
            }
            brute.sort();
            prop_assert_eq!(found, brute);
        }
    }

    #[test]
    fn reaches_across_the_antimeridian_and_over_the_pole() {
        let sites = [
            site(0, 179.95, 0.0),
            site(1, -179.95, 0.0),
            site(2, 0.0, 89.95),
            site(3, 180.0, 89.95),
        ];
        // 11 km either side of the antimeridian.
        let e = expose(&sites, &[circle(0, -179.97, 0.0, 10.0)]);
        assert_eq!(
            pairs(&e),
            vec![("s0".into(), "e0".into()), ("s1".into(), "e0".into())]
        );
        // Across the North Pole: the two polar sites are 11 km apart over the pole.
        let e = expose(&sites, &[circle(1, 90.0, 89.95, 12.0)]);
        assert_eq!(pairs(&e).len(), 2);
    }

    #[test]
    fn polygons_count_their_edges_and_buffers_reach_beyond() {
        let square = Geometry::Polygon(Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (1.0, 0.0),
                (1.0, 1.0),
                (0.0, 1.0),
                (0.0, 0.0),
            ]),
            vec![],
        ));
        let sites = [
            site(0, 0.5, 0.5),
            site(1, 1.0, 0.5),
            site(2, 1.05, 0.5),
            site(3, 2.0, 0.5),
        ];
        let area = |buffer_km: f64| Event {
            dataset: "warnings".into(),
            id: "w".into(),
            model: "area",
            footprint: Footprint::Area {
                geometry: square.clone(),
                buffer_m: buffer_km * 1000.0,
            },
            time: None,
            label: "Flood warning".into(),
        };
        let exact = expose(&sites, &[area(0.0)]);
        let ids: Vec<&str> = exact.exposed.iter().map(|s| s.site.as_str()).collect();
        assert_eq!(ids, vec!["s0", "s1"], "inside and on the edge");
        assert_eq!(
            exact.exposed[0].hits[0].reason,
            "inside the area of Flood warning"
        );
        let buffered = expose(&sites, &[area(10.0)]);
        let s2 = buffered
            .exposed
            .iter()
            .find(|s| s.site == "s2")
            .expect("5.6 km beyond the edge");
        assert!(
            (s2.hits[0].distance_m - 5_560.0).abs() < 50.0,
            "{}",
            s2.hits[0].distance_m
        );
        assert!(
            s2.hits[0]
                .reason
                .starts_with("Flood warning 5.6 km away (reaches 10 km)"),
            "{}",
            s2.hits[0].reason
        );
        assert!(buffered.exposed.iter().all(|s| s.site != "s3"));
    }

    #[test]
    fn most_exposed_sites_come_first() {
        let sites = [site(0, 0.0, 0.0), site(1, 5.0, 5.0)];
        let events = [
            circle(0, 5.0, 5.0, 50.0),
            circle(1, 5.1, 5.0, 50.0),
            circle(2, 0.0, 0.1, 50.0),
        ];
        let e = expose(&sites, &events);
        assert_eq!(e.exposed[0].site, "s1");
        assert_eq!(e.exposed[0].hits.len(), 2);
        assert_eq!(e.exposed[0].hits[0].event, "e0", "nearest first");
        assert_eq!(e.sites_checked, 2);
        assert_eq!(e.events_checked, 3);
    }
}
