//! The exposure join: which sites lie inside which events' footprints. Sites go into an R-tree once; each
//! footprint asks it for candidates inside a box that surely contains its reach (widened for longitude
//! shrinking towards the poles, split at the antimeridian), then measures each candidate exactly.

use std::ops::ControlFlow;

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

/// One event reaching one site: indexes into the slices given to [`expose`], and the distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    pub site: usize,
    pub event: usize,
    /// Geodesic distance from the site to the event's geometry, metres (0 inside an area).
    pub distance_m: f64,
}

/// One event reaching one site, as reported.
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
    /// For a circular footprint (a point event), its centre `[lon, lat]`: with `reach_m` it draws the
    /// footprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centre: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteExposure {
    pub dataset: String,
    pub site: String,
    pub name: String,
    pub position: [f64; 2],
    /// How many events reach the site (`hits` may list only the nearest); absent when the question was
    /// only whether the site is exposed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit_count: Option<usize>,
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

/// Visits every (site, event) pair where the site lies within the event's footprint, in no particular
/// order, until `visit` breaks. Working on bare positions and footprints keeps the join on the in-memory
/// index: names, ids and properties are looked up afterwards for the pairs found only.
pub fn join(
    sites: &[Point<f64>],
    footprints: &[Footprint],
    mut visit: impl FnMut(Reach) -> ControlFlow<()>,
) {
    let tree = site_tree(sites);
    let mut candidates = Vec::new();
    for (event, footprint) in footprints.iter().enumerate() {
        if visit_footprint(&tree, sites, event, footprint, &mut candidates, &mut visit).is_break() {
            return;
        }
    }
}

fn site_tree(sites: &[Point<f64>]) -> RTree<Entry> {
    RTree::bulk_load(
        sites
            .iter()
            .enumerate()
            .map(|(i, p)| GeomWithData::new([p.x(), p.y()], i))
            .collect(),
    )
}

/// The sites one footprint reaches, each handed to `visit`.
fn visit_footprint(
    tree: &RTree<Entry>,
    sites: &[Point<f64>],
    event: usize,
    footprint: &Footprint,
    candidates: &mut Vec<usize>,
    visit: &mut impl FnMut(Reach) -> ControlFlow<()>,
) -> ControlFlow<()> {
    candidates.clear();
    for part in search_boxes(footprint) {
        candidates.extend(tree.locate_in_envelope(&part).map(|e| e.data));
    }
    candidates.sort_unstable();
    candidates.dedup();
    for &site in candidates.iter() {
        if let Some(distance_m) = reaches(footprint, sites[site]) {
            visit(Reach {
                site,
                event,
                distance_m,
            })?;
        }
    }
    ControlFlow::Continue(())
}

/// Fixed sites indexed once, for joining many small batches of events against them (alert rules evaluate
/// each committed batch; rebuilding the tree for every batch would cost more than the join).
#[derive(Debug)]
pub struct SiteIndex {
    sites: Vec<Point<f64>>,
    tree: RTree<Entry>,
}

impl SiteIndex {
    pub fn new(sites: Vec<Point<f64>>) -> Self {
        let tree = site_tree(&sites);
        Self { sites, tree }
    }

    pub fn len(&self) -> usize {
        self.sites.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// Every (site, event) pair the footprints reach, by event, nearest site first.
    pub fn reached_by(&self, footprints: &[Footprint]) -> Vec<Reach> {
        let mut found = Vec::new();
        let mut candidates = Vec::new();
        for (event, footprint) in footprints.iter().enumerate() {
            let start = found.len();
            let _ = visit_footprint(
                &self.tree,
                &self.sites,
                event,
                footprint,
                &mut candidates,
                &mut |r| {
                    found.push(r);
                    ControlFlow::Continue(())
                },
            );
            found[start..].sort_by(|a, b| {
                a.distance_m
                    .total_cmp(&b.distance_m)
                    .then(a.site.cmp(&b.site))
            });
        }
        found
    }
}

/// Every pair, grouped by site (ascending), nearest first within a site; `None` when there are more than
/// `max_pairs` (the caller asks for less: a smaller radius or window, or [`expose_nearest`]).
pub fn expose(
    sites: &[Point<f64>],
    footprints: &[Footprint],
    max_pairs: usize,
) -> Option<Vec<Reach>> {
    let mut found = Vec::new();
    let mut over = false;
    join(sites, footprints, |r| {
        if found.len() >= max_pairs {
            over = true;
            return ControlFlow::Break(());
        }
        found.push(r);
        ControlFlow::Continue(())
    });
    if over {
        return None;
    }
    found.sort_by(|a, b| {
        a.site
            .cmp(&b.site)
            .then(a.distance_m.total_cmp(&b.distance_m))
            .then(a.event.cmp(&b.event))
    });
    Some(found)
}

/// Per exposed site (ascending): how many events reach it, and the nearest one. Memory grows with sites,
/// not pairs, so it answers for any number of pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
    pub count: usize,
    pub reach: Reach,
}

pub fn expose_nearest(sites: &[Point<f64>], footprints: &[Footprint]) -> Vec<Nearest> {
    use rayon::prelude::*;
    let tree = site_tree(sites);
    // Events are split into one chunk per thread; each chunk keeps its own per-site records, merged after.
    let threads = rayon::current_num_threads().max(1);
    let chunk = footprints.len().div_ceil(threads).max(1024);
    footprints
        .par_chunks(chunk)
        .enumerate()
        .map(|(c, part)| {
            let mut per_site: Vec<Option<Nearest>> = vec![None; sites.len()];
            let mut candidates = Vec::new();
            for (k, footprint) in part.iter().enumerate() {
                let _ = visit_footprint(
                    &tree,
                    sites,
                    c * chunk + k,
                    footprint,
                    &mut candidates,
                    &mut |r| {
                        let slot = &mut per_site[r.site];
                        *slot = Some(combine_nearest(*slot, Nearest { count: 1, reach: r }));
                        ControlFlow::Continue(())
                    },
                );
            }
            per_site
        })
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                if let Some(y) = y {
                    *x = Some(combine_nearest(*x, y));
                }
            }
            a
        })
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// The events inside a search box `[west, south, east, north]`, each handed to the visitor with its index
/// and position until the visitor breaks.
pub type Visitor<'a> = dyn FnMut(usize, [f64; 2]) -> ControlFlow<()> + 'a;

/// [`expose_nearest`] for events that all reach the same distance from a point, asking an index of the
/// events (not of the sites) once per site: `candidates` visits the events inside a box. With many more
/// events than sites (a million against ten thousand) this is ten thousand index queries instead of a
/// million, and no tree to build.
pub fn expose_nearest_by_site(
    sites: &[Point<f64>],
    radius_m: f64,
    candidates: impl Fn([f64; 4], &mut Visitor<'_>) + Sync,
) -> Vec<Nearest> {
    use rayon::prelude::*;
    sites
        .par_iter()
        .enumerate()
        .filter_map(|(site, position)| {
            let circle = Circle::new(*position, radius_m);
            let mut best: Option<Nearest> = None;
            for part in search_boxes(&circle.footprint()) {
                let (lo, hi) = (part.lower(), part.upper());
                candidates([lo[0], lo[1], hi[0], hi[1]], &mut |event, [x, y]| {
                    let nearest_so_far = best.map_or(f64::INFINITY, |b| b.reach.distance_m);
                    match circle.test(x, y, nearest_so_far) {
                        Test::Outside => {}
                        Test::Inside => {
                            // Not the nearest: counted, its distance never needed.
                            if let Some(b) = best.as_mut() {
                                b.count += 1;
                            }
                        }
                        Test::Measured(distance_m) => {
                            best = Some(combine_nearest(
                                best,
                                Nearest {
                                    count: 1,
                                    reach: Reach {
                                        site,
                                        event,
                                        distance_m,
                                    },
                                },
                            ));
                        }
                    }
                    ControlFlow::Continue(())
                });
            }
            best
        })
        .collect()
}

/// The cheaper question: which sites have any event within `radius_m`, each with the first event found
/// (a proof, not the nearest), asking the events' index per site and stopping at the first hit.
pub fn exposed_by_site(
    sites: &[Point<f64>],
    radius_m: f64,
    candidates: impl Fn([f64; 4], &mut Visitor<'_>) + Sync,
) -> Vec<Reach> {
    use rayon::prelude::*;
    sites
        .par_iter()
        .enumerate()
        .filter_map(|(site, position)| {
            let circle = Circle::new(*position, radius_m);
            let mut found = None;
            for part in search_boxes(&circle.footprint()) {
                let (lo, hi) = (part.lower(), part.upper());
                candidates([lo[0], lo[1], hi[0], hi[1]], &mut |event, [x, y]| {
                    let distance_m = match circle.test(x, y, 0.0) {
                        Test::Outside => return ControlFlow::Continue(()),
                        Test::Inside => Haversine.distance(*position, Point::new(x, y)),
                        Test::Measured(d) => d,
                    };
                    found = Some(Reach {
                        site,
                        event,
                        distance_m,
                    });
                    ControlFlow::Break(())
                });
                if found.is_some() {
                    break;
                }
            }
            found
        })
        .collect()
}

/// What [`Circle::test`] learnt of a point.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Test {
    /// Beyond the radius.
    Outside,
    /// Within the radius, and surely farther than the nearest so far: no exact distance was taken.
    Inside,
    /// Within the radius, at this exact (haversine) distance.
    Measured(f64),
}

/// A site's reach, tested cheaply first. The equirectangular distance (latitude taken at the midpoint) is
/// within 0.4 % of the haversine one while both points stay below 80° of latitude and 200 km apart, so a
/// candidate clearly beyond the radius (or clearly farther than the nearest so far) costs a few
/// multiplications instead of four trigonometric calls; anything near a boundary is measured exactly, so
/// the answer is the haversine answer.
#[derive(Debug, Clone, Copy)]
struct Circle {
    centre: Point<f64>,
    radius_m: f64,
    lat: f64,
    cos_lat: f64,
    sin_lat: f64,
    /// Whether the cheap test is trusted here (see above).
    cheap: bool,
}

/// The cheap test's margin: its error stays well under this where it is used.
const CHEAP_MARGIN: f64 = 0.01;
const EARTH_RADIUS_M: f64 = 6_371_008.8;

impl Circle {
    fn new(centre: Point<f64>, radius_m: f64) -> Self {
        let lat = centre.y().to_radians();
        let reach_deg = radius_m / METRES_PER_DEGREE_MIN;
        Self {
            centre,
            radius_m,
            lat,
            cos_lat: lat.cos(),
            sin_lat: lat.sin(),
            cheap: radius_m <= 200_000.0 && centre.y().abs() + reach_deg < 80.0,
        }
    }

    fn footprint(&self) -> Footprint {
        Footprint::Circle {
            centre: self.centre,
            radius_m: self.radius_m,
        }
    }

    fn exact(&self, x: f64, y: f64) -> Test {
        let distance_m = Haversine.distance(self.centre, Point::new(x, y));
        if distance_m <= self.radius_m {
            Test::Measured(distance_m)
        } else {
            Test::Outside
        }
    }

    fn test(&self, x: f64, y: f64, nearest_so_far: f64) -> Test {
        if !self.cheap {
            return self.exact(x, y);
        }
        let d_lat = y.to_radians() - self.lat;
        let mut d_lon = x - self.centre.x();
        if d_lon > 180.0 {
            d_lon -= 360.0;
        } else if d_lon < -180.0 {
            d_lon += 360.0;
        }
        // cos of the mid latitude, to first order: good to (Δφ)²/8 at these distances.
        let cos_mid = self.cos_lat - self.sin_lat * d_lat * 0.5;
        let e = d_lon.to_radians() * cos_mid;
        let approx = EARTH_RADIUS_M * (d_lat * d_lat + e * e).sqrt();
        if approx > self.radius_m * (1.0 + CHEAP_MARGIN) {
            Test::Outside
        } else if approx < self.radius_m * (1.0 - CHEAP_MARGIN)
            && approx > nearest_so_far * (1.0 + CHEAP_MARGIN)
        {
            Test::Inside
        } else {
            self.exact(x, y)
        }
    }
}

/// Two records of one site: counts add up; the nearer reach wins, and of equals the earlier event, so the
/// answer does not depend on how the work was split.
pub fn combine_nearest(a: Option<Nearest>, b: Nearest) -> Nearest {
    let Some(a) = a else {
        return b;
    };
    let nearer = b.reach.distance_m < a.reach.distance_m
        || (b.reach.distance_m == a.reach.distance_m && b.reach.event < a.reach.event);
    Nearest {
        count: a.count + b.count,
        reach: if nearer { b.reach } else { a.reach },
    }
}

/// Orders exposed sites: more hits first, then the nearest hit, then site id, so results are stable.
pub fn rank(exposed: &mut [SiteExposure]) {
    exposed.sort_by(|a, b| {
        b.hit_count
            .cmp(&a.hit_count)
            .then(a.hits[0].distance_m.total_cmp(&b.hits[0].distance_m))
            .then(a.site.cmp(&b.site))
    });
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

/// The plain-language reason for one hit: "inside the area of X", or "X 23 km away (reaches 89 km)".
pub fn reason(label: &str, footprint: &Footprint, distance_m: f64) -> String {
    let km = |m: f64| {
        if m < 10_000.0 {
            format!("{:.1} km", m / 1000.0)
        } else {
            format!("{:.0} km", m / 1000.0)
        }
    };
    match footprint {
        Footprint::Area { buffer_m, .. } if distance_m == 0.0 && *buffer_m == 0.0 => {
            format!("inside the area of {label}")
        }
        Footprint::Area { .. } if distance_m == 0.0 => format!("inside {label}"),
        footprint => format!(
            "{label} {} away (reaches {})",
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

    fn circle(lon: f64, lat: f64, km: f64) -> Footprint {
        Footprint::Circle {
            centre: Point::new(lon, lat),
            radius_m: km * 1000.0,
        }
    }

    fn pairs(found: &[Reach]) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = found.iter().map(|r| (r.site, r.event)).collect();
        out.sort_unstable();
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
            let sites: Vec<Point<f64>> = sites.iter().map(|(x, y)| Point::new(*x, *y)).collect();
            let footprints: Vec<Footprint> = events.iter().map(|(x, y, km)| circle(*x, *y, *km)).collect();
            let found = pairs(&expose(&sites, &footprints, usize::MAX).expect("under the cap"));
            let nearest = expose_nearest(&sites, &footprints);
            prop_assert_eq!(nearest.iter().map(|n| n.count).sum::<usize>(), found.len());
            let mut brute = Vec::new();
            for (i, s) in sites.iter().enumerate() {
                for (j, f) in footprints.iter().enumerate() {
                    let Footprint::Circle { centre, radius_m } = f else { unreachable!() };
                    if Haversine.distance(*centre, *s) <= *radius_m {
                        brute.push((i, j));
                    }
                }
            }
            brute.sort_unstable();
            prop_assert_eq!(found, brute);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The cheap test never decides differently from the exact one: a point it calls outside is beyond
        /// the radius, one it calls inside is within it and farther than the nearest so far, and a measured
        /// distance is the haversine distance. Points are drawn around the radius' edge, where it matters.
        #[test]
        fn the_cheap_test_decides_as_the_exact_one(
            lon in -180.0f64..180.0, lat in -89.9f64..89.9, km in 0.5f64..400.0,
            bearing in 0.0f64..360.0, share in 0.9f64..1.1, nearest_share in 0.0f64..1.2,
        ) {
            use geo::Destination;
            let centre = Point::new(lon, lat);
            let radius_m = km * 1000.0;
            let p = Haversine.destination(centre, bearing, radius_m * share);
            let exact = Haversine.distance(centre, p);
            let nearest_so_far = radius_m * nearest_share;
            match Circle::new(centre, radius_m).test(p.x(), p.y(), nearest_so_far) {
                Test::Outside => prop_assert!(exact > radius_m, "{exact} within {radius_m}"),
                Test::Inside => prop_assert!(exact <= radius_m && exact > nearest_so_far, "{exact} vs {radius_m}, {nearest_so_far}"),
                Test::Measured(d) => prop_assert!(d == exact && d <= radius_m),
            }
        }

        /// Asking only whether each site is exposed finds exactly the sites the counting join finds, each
        /// with an event that truly reaches it.
        #[test]
        fn any_finds_the_exposed_sites(
            sites in prop::collection::vec((-30.0f64..30.0, -30.0f64..30.0), 1..60),
            events in prop::collection::vec((-30.0f64..30.0, -30.0f64..30.0), 1..300),
            km in 10.0f64..800.0,
        ) {
            let sites: Vec<Point<f64>> = sites.iter().map(|(x, y)| Point::new(*x, *y)).collect();
            let events: Vec<Point<f64>> = events.iter().map(|(x, y)| Point::new(*x, *y)).collect();
            let candidates = |[w, s, e, n]: [f64; 4], visit: &mut Visitor<'_>| {
                for (i, p) in events.iter().enumerate() {
                    if p.x() >= w && p.x() <= e && p.y() >= s && p.y() <= n && visit(i, [p.x(), p.y()]).is_break() {
                        return;
                    }
                }
            };
            let radius_m = km * 1000.0;
            let counted: Vec<usize> = expose_nearest_by_site(&sites, radius_m, candidates).iter().map(|n| n.reach.site).collect();
            let any = exposed_by_site(&sites, radius_m, candidates);
            prop_assert_eq!(any.iter().map(|r| r.site).collect::<Vec<_>>(), counted);
            for r in &any {
                prop_assert!(Haversine.distance(sites[r.site], events[r.event]) <= radius_m);
            }
        }
    }

    #[test]
    fn asking_the_events_per_site_gives_what_asking_the_sites_per_event_gives() {
        let mut sites = Vec::new();
        let mut events = Vec::new();
        for i in 0..400 {
            let t = f64::from(i);
            sites.push(Point::new(
                ((t * 37.7) % 360.0) - 180.0,
                ((t * 0.37).sin()) * 85.0,
            ));
        }
        for i in 0..20_000 {
            let t = f64::from(i);
            let s = sites[i as usize % sites.len()];
            let lon = s.x() + (t * 0.013).sin() * 1.5;
            let lon = if lon > 180.0 {
                lon - 360.0
            } else if lon < -180.0 {
                lon + 360.0
            } else {
                lon
            };
            events.push(Point::new(
                lon,
                (s.y() + (t * 0.029).cos()).clamp(-90.0, 90.0),
            ));
        }
        let radius_m = 60_000.0;
        let footprints: Vec<Footprint> = events
            .iter()
            .map(|e| Footprint::Circle {
                centre: *e,
                radius_m,
            })
            .collect();
        let by_event = expose_nearest(&sites, &footprints);
        let by_site = expose_nearest_by_site(&sites, radius_m, |[w, s, e, n], visit| {
            for (i, p) in events.iter().enumerate() {
                if p.x() >= w && p.x() <= e && p.y() >= s && p.y() <= n {
                    let _ = visit(i, [p.x(), p.y()]);
                }
            }
        });
        assert!(!by_event.is_empty());
        assert_eq!(by_event, by_site);
    }

    #[test]
    fn reaches_across_the_antimeridian_and_over_the_pole() {
        let sites = [
            Point::new(179.95, 0.0),
            Point::new(-179.95, 0.0),
            Point::new(0.0, 89.95),
            Point::new(180.0, 89.95),
        ];
        // 11 km either side of the antimeridian.
        assert_eq!(
            pairs(&expose(&sites, &[circle(-179.97, 0.0, 10.0)], 10).expect("few")),
            vec![(0, 0), (1, 0)]
        );
        // Across the North Pole: the two polar sites are 11 km apart over the pole.
        assert_eq!(
            pairs(&expose(&sites, &[circle(90.0, 89.95, 12.0)], 10).expect("few")),
            vec![(2, 0), (3, 0)]
        );
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
            Point::new(0.5, 0.5),
            Point::new(1.0, 0.5),
            Point::new(1.05, 0.5),
            Point::new(2.0, 0.5),
        ];
        let area = |buffer_km: f64| Footprint::Area {
            geometry: square.clone(),
            buffer_m: buffer_km * 1000.0,
        };
        let exact = expose(&sites, &[area(0.0)], 10).expect("few");
        assert_eq!(
            pairs(&exact),
            vec![(0, 0), (1, 0)],
            "inside and on the edge"
        );
        assert_eq!(
            reason("Flood warning", &area(0.0), 0.0),
            "inside the area of Flood warning"
        );
        let buffered = expose(&sites, &[area(10.0)], 10).expect("few");
        let s2 = buffered
            .iter()
            .find(|r| r.site == 2)
            .expect("5.6 km beyond the edge");
        assert!((s2.distance_m - 5_560.0).abs() < 50.0, "{}", s2.distance_m);
        assert_eq!(
            reason("Flood warning", &area(10.0), s2.distance_m),
            "Flood warning 5.6 km away (reaches 10 km)"
        );
        assert!(buffered.iter().all(|r| r.site != 3));
    }

    #[test]
    fn pairs_come_by_site_nearest_first() {
        let sites = [Point::new(0.0, 0.0), Point::new(5.0, 5.0)];
        let events = [
            circle(5.1, 5.0, 50.0),
            circle(5.0, 5.0, 50.0),
            circle(0.0, 0.1, 50.0),
        ];
        let found = expose(&sites, &events, 10).expect("few");
        assert_eq!(pairs(&found), vec![(0, 2), (1, 0), (1, 1)]);
        let s1: Vec<usize> = found
            .iter()
            .filter(|r| r.site == 1)
            .map(|r| r.event)
            .collect();
        assert_eq!(s1, vec![1, 0], "nearest first");
        assert!(expose(&sites, &events, 2).is_none(), "over the cap");
        let nearest = expose_nearest(&sites, &events);
        assert_eq!(nearest.len(), 2);
        assert_eq!((nearest[1].count, nearest[1].reach.event), (2, 1));
    }

    #[test]
    fn nearest_in_parallel_equals_the_sequential_join() {
        // Enough events for several chunks, so the merge is exercised.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let sites: Vec<Point<f64>> = (0..300)
            .map(|_| Point::new(next() * 40.0, next() * 40.0))
            .collect();
        let events: Vec<Footprint> = (0..5000)
            .map(|_| circle(next() * 40.0, next() * 40.0, 150.0))
            .collect();
        let mut expected: Vec<Option<Nearest>> = vec![None; sites.len()];
        join(&sites, &events, |r| {
            let slot = &mut expected[r.site];
            *slot = Some(combine_nearest(*slot, Nearest { count: 1, reach: r }));
            ControlFlow::Continue(())
        });
        let expected: Vec<Nearest> = expected.into_iter().flatten().collect();
        assert!(expected.len() > 100);
        assert_eq!(expose_nearest(&sites, &events), expected);
    }
}
