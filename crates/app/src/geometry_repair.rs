//! Polygons whose rings cross, overlap or touch themselves, repaired on the way in. Such a polygon has no
//! agreed inside: a bowtie's two lobes wind opposite ways, so its signed area is zero and a tile drawn from
//! the whole ring drops it while one clipped to a lobe draws it; point-in-polygon tests (exposure, rules)
//! answer by whichever rule their algorithm happens to use. Every import, upload and feed passes the
//! staging step, which calls [`repair_crossing_rings`] once per feature: a valid polygon comes back
//! untouched, an invalid one as its valid parts under the odd-even rule (the rule GEOS's `MakeValid`, and so
//! `ogr2ogr -makevalid` and PostGIS `ST_MakeValid`, follow by default), and the import reports which
//! features were repaired. The parts come from `geo`'s boolean operations (the `i_overlay` sweep) with the
//! even-odd fill rule: `geo`'s own `MakeValid` (a constrained triangulation) was tried first and took
//! minutes on a 100,000-point coastline with one crossing, and drew a few near-degenerate rings wrong.
//!
//! Depends on `geo` and `rstar` only.

use geo::bool_ops::FillRule;
use geo::coordinate_position::{CoordPos, coord_pos_relative_to_ring};
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::orient::{Direction, Orient};
use geo::{
    BooleanOps, BoundingRect, Coord, Geometry, Line, LineString, MapCoords, MultiPolygon, Polygon,
    Rect, RemoveRepeatedPoints,
};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

/// What [`repair_crossing_rings`] did to a geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Repair {
    /// Every polygon was valid (or there was none).
    Valid,
    /// Polygons were replaced by their valid parts; `parts` polygons in all.
    /// `rounded`: the parts, written back in degrees, still touch or cross within a rounding of their
    /// coordinates (a polygon a few millionths of a degree across, far from the origin, where an f64 holds
    /// little more than the overlay's grid).
    Repaired {
        polygons: usize,
        parts: usize,
        rounded: bool,
    },
    /// A polygon was invalid but its repair failed or left no area; it was kept as it is.
    Kept(String),
    /// A polygon too intricate to check within [`MAX_SEGMENT_PAIRS`]; kept as it is.
    Unchecked,
}

/// Candidate segment pairs (segments whose boxes overlap) a polygon's check may test. Real outlines test
/// a few per segment; a crafted zig-zag of 100,000 segments all spanning the same box would test 5 billion
/// pairs, minutes of one core for one feature.
const MAX_SEGMENT_PAIRS: u64 = 20_000_000;

/// Ring positions the point-in-ring tests (holes outside their shell, members inside each other) may visit:
/// a fraction of a second. A shell of 10,000 positions with 5,000 holes is 50 million.
const MAX_RING_VISITS: u64 = 100_000_000;

/// Crossings a polygon may have and still be repaired: each becomes a vertex of the parts, so a ring whose
/// every edge crosses every other (a 2,000-point star: two million crossings) would come back as millions of
/// points. Real invalid outlines cross a handful of times.
const MAX_CROSSINGS: usize = 10_000;

/// The smallest polygon the repair takes on, in degrees across (about 0.1 mm): the overlay fits an integer
/// grid to the polygon, and below about 1e-290 its scale overflows (a debug build panicked on a bowtie
/// 1e-300 across); nothing real is this small.
const MIN_REPAIR_SPAN: f64 = 1e-9;

/// Replaces every polygon (alone, in a multipolygon, or in a collection) whose rings cross, overlap or touch
/// themselves by its valid parts. Walks collections without recursion, as the validation does.
pub(crate) fn repair_crossing_rings(geometry: &mut Geometry<f64>) -> Repair {
    // Most features are points and lines: no walk (and no allocation) for them.
    if !matches!(
        geometry,
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) | Geometry::GeometryCollection(_)
    ) {
        return Repair::Valid;
    }
    let mut outcome = Repair::Valid;
    let mut pending = vec![geometry];
    while let Some(g) = pending.pop() {
        let verdict = match g {
            Geometry::GeometryCollection(gc) => {
                pending.extend(gc.0.iter_mut());
                continue;
            }
            Geometry::Polygon(p) => check(std::slice::from_ref(p)),
            Geometry::MultiPolygon(mp) => check(&mp.0),
            _ => continue,
        };
        let step = match verdict {
            Check::Valid => continue,
            Check::TooIntricate => Repair::Unchecked,
            Check::TooManyCrossings => Repair::Kept(format!(
                "its rings cross more than {MAX_CROSSINGS} times, too many to repair"
            )),
            Check::Invalid => match repaired(g) {
                Ok((replacement, parts, rounded)) => {
                    *g = replacement;
                    Repair::Repaired {
                        polygons: 1,
                        parts,
                        rounded,
                    }
                }
                Err(why) => Repair::Kept(why),
            },
        };
        outcome = merge(outcome, step);
    }
    outcome
}

fn merge(a: Repair, b: Repair) -> Repair {
    match (a, b) {
        (Repair::Kept(why), _) | (_, Repair::Kept(why)) => Repair::Kept(why),
        (
            Repair::Repaired {
                polygons,
                parts,
                rounded,
            },
            Repair::Repaired {
                polygons: more,
                parts: more_parts,
                rounded: more_rounded,
            },
        ) => Repair::Repaired {
            polygons: polygons + more,
            parts: parts + more_parts,
            rounded: rounded || more_rounded,
        },
        (r @ Repair::Repaired { .. }, _) | (_, r @ Repair::Repaired { .. }) => r,
        (Repair::Unchecked, _) | (_, Repair::Unchecked) => Repair::Unchecked,
        (Repair::Valid, Repair::Valid) => Repair::Valid,
    }
}

/// A polygon or multipolygon's valid parts (a polygon whose repair is one part stays a polygon), how many,
/// and whether they still touch or cross within a rounding (see [`Repair::Repaired`]).
fn repaired(g: &Geometry<f64>) -> Result<(Geometry<f64>, usize, bool), String> {
    let polygons: MultiPolygon<f64> = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(mp) => mp.clone(),
        _ => return Err("not a polygon".into()),
    };
    let span = polygons
        .bounding_rect()
        .map_or(0.0, |r| r.width().max(r.height()));
    if span.is_nan() || span < MIN_REPAIR_SPAN {
        return Err(format!(
            "it is smaller than {MIN_REPAIR_SPAN:e} degrees across, too small to repair"
        ));
    }
    let mut parts =
        polygons.union_with_fill_rule(&MultiPolygon::<f64>(Vec::new()), FillRule::EvenOdd);
    if parts.0.is_empty() {
        // Odd-even cancels a ring drawn twice (two equal members, a hole equal to its shell, a ring that
        // goes round twice) to nothing; GEOS keeps the area the shells cover, and so does this.
        // Shells are oriented alike first, so that the non-zero rule counts a doubled one twice, not zero.
        let shells = MultiPolygon(
            polygons
                .0
                .iter()
                .map(|p| Polygon::new(p.exterior().clone(), Vec::new()).orient(Direction::Default))
                .collect(),
        );
        parts = shells.union_with_fill_rule(&MultiPolygon::<f64>(Vec::new()), FillRule::NonZero);
    }
    // The overlay works on an integer grid fitted to the polygon, so every position comes back moved by up to
    // a grid step (a continent 360° wide: 1e-7°, a centimetre). Positions the source had are put back exactly
    // (GEOS keeps them too); only the crossings the repair adds are the grid's. Mapped back to degrees, the
    // grid can also leave a ring of positions a rounding apart (`A, B, B, A`), which encloses nothing and is
    // left out. A crossing smaller than a grid step is gone from the snapped parts, and putting the source's positions
    // back would bring it back (Natural Earth's Sudan): then the snapped parts are kept.
    let snapped = without_degenerate_rings(parts);
    let restored =
        without_degenerate_rings(with_source_positions(snapped.clone(), &polygons, span));
    let (parts, rounded) = if matches!(check(&restored.0), Check::Valid) {
        (restored, false)
    } else {
        let rounded = !matches!(check(&snapped.0), Check::Valid);
        (snapped, rounded)
    };
    let count = parts.0.len();
    match count {
        0 => Err("its rings enclose no area once repaired".into()),
        1 if matches!(g, Geometry::Polygon(_)) => Ok((
            Geometry::Polygon(parts.0.into_iter().next().unwrap_or_else(empty)),
            1,
            rounded,
        )),
        _ => Ok((Geometry::MultiPolygon(parts), count, rounded)),
    }
}

/// Each position of the parts within a grid step of a position of `source` becomes that position.
fn with_source_positions(
    parts: MultiPolygon<f64>,
    source: &MultiPolygon<f64>,
    span: f64,
) -> MultiPolygon<f64> {
    use geo::CoordsIter;
    // Generous against the overlay's grid (span / 2^31 or finer), small against any real shape.
    let reach = span * 1e-8;
    let tree: RTree<[f64; 2]> =
        RTree::bulk_load(source.coords_iter().map(|c| [c.x, c.y]).collect());
    parts.map_coords(|c| match tree.nearest_neighbor(&[c.x, c.y]) {
        Some(&[x, y]) if (x - c.x).abs() <= reach && (y - c.y).abs() <= reach => Coord { x, y },
        _ => c,
    })
}

/// The parts with repeated positions removed and rings of fewer than four positions left out (a polygon
/// whose shell goes, goes whole).
fn without_degenerate_rings(parts: MultiPolygon<f64>) -> MultiPolygon<f64> {
    let ring_kept = |ring: &LineString<f64>| ring.0.len() >= 4;
    MultiPolygon(
        parts
            .remove_repeated_points()
            .0
            .into_iter()
            .filter(|p| ring_kept(p.exterior()))
            .map(|p| {
                let (exterior, interiors) = p.into_inner();
                Polygon::new(exterior, interiors.into_iter().filter(ring_kept).collect())
            })
            .collect(),
    )
}

fn empty() -> Polygon<f64> {
    Polygon::new(LineString::new(Vec::new()), Vec::new())
}

enum Check {
    Valid,
    Invalid,
    TooIntricate,
    TooManyCrossings,
}

/// One ring segment, with where it sits so that a ring's consecutive segments (which always meet at their
/// shared vertex) can be told from segments that meet where they should not.
#[derive(Clone, Copy)]
struct Segment {
    line: Line<f64>,
    ring: u32,
    index: u32,
    /// Segments in the segment's ring: the last meets the first.
    of: u32,
}

impl Segment {
    fn follows(&self, other: &Segment) -> bool {
        self.ring == other.ring
            && (self.index.abs_diff(other.index) == 1
                || self.index.abs_diff(other.index) == self.of - 1)
    }
}

/// Whether the polygons' rings cross, overlap, or touch themselves anywhere but at a ring's own consecutive
/// vertices. Rings of one polygon, or of two members of a multipolygon, may touch at a point (OGC Simple
/// Features); crossing or sharing a stretch of edge they may not.
fn check(polygons: &[Polygon<f64>]) -> Check {
    let mut segments = Vec::new();
    let mut ring = 0u32;
    for polygon in polygons {
        for r in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            add_ring(&mut segments, r, ring);
            ring += 1;
        }
    }
    if segments.len() < 3 {
        return Check::Valid;
    }
    // Segment pairs whose boxes overlap, from a tree of the boxes joined with itself: a real outline's
    // segment meets its two neighbours and little else, wherever its rings lie. Each pair comes twice (and
    // each segment with itself); the lower index answers for it.
    let tree = RTree::bulk_load(
        segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                GeomWithData::new(
                    Rectangle::from_corners(
                        [s.line.start.x, s.line.start.y],
                        [s.line.end.x, s.line.end.y],
                    ),
                    i,
                )
            })
            .collect(),
    );
    let (mut tested, mut bad) = (0u64, 0usize);
    for (a, b) in tree.intersection_candidates_with_other_tree(&tree) {
        if a.data >= b.data {
            continue;
        }
        tested += 1;
        if tested > MAX_SEGMENT_PAIRS {
            return Check::TooIntricate;
        }
        let (a, b) = (&segments[a.data], &segments[b.data]);
        let wrong = match line_intersection(a.line, b.line) {
            None => false,
            Some(LineIntersection::Collinear { intersection }) => {
                intersection.start != intersection.end
            }
            Some(LineIntersection::SinglePoint { is_proper, .. }) => {
                is_proper || (a.ring == b.ring && !a.follows(b))
            }
        };
        if wrong {
            bad += 1;
            if bad > MAX_CROSSINGS {
                return Check::TooManyCrossings;
            }
        }
    }
    if bad > 0 {
        return Check::Invalid;
    }
    misnested(polygons)
}

/// Rings that do not cross may still lie where they must not: a hole outside its shell or inside another
/// hole, a member of a multipolygon inside another member. Without crossings a ring lies wholly inside or
/// outside another, so one of its positions off the other's boundary tells which.
fn misnested(polygons: &[Polygon<f64>]) -> Check {
    let spent = std::cell::Cell::new(0u64);
    // Whether `ring` (whose box is `a`) lies inside `outer` (whose box is `b`); `None` when every position
    // of `ring` is on `outer`'s boundary.
    let inside = |ring: &LineString<f64>, a: Rect<f64>, outer: &LineString<f64>, b: Rect<f64>| {
        if !contains_box(b, a) {
            return Some(false);
        }
        spent.set(spent.get() + outer.0.len() as u64);
        ring.0
            .iter()
            .find_map(|&c| match coord_pos_relative_to_ring(c, outer) {
                CoordPos::Inside => Some(true),
                CoordPos::Outside => Some(false),
                _ => None,
            })
    };
    let boxed = |ring: &LineString<f64>| ring.bounding_rect();
    let mut shells = Vec::with_capacity(polygons.len());
    for polygon in polygons {
        let Some(shell_box) = boxed(polygon.exterior()) else {
            continue;
        };
        shells.push((polygon, shell_box));
        let holes: Vec<(&LineString<f64>, Rect<f64>)> = polygon
            .interiors()
            .iter()
            .filter_map(|h| Some((h, boxed(h)?)))
            .collect();
        for &(hole, hole_box) in &holes {
            if inside(hole, hole_box, polygon.exterior(), shell_box) == Some(false) {
                return Check::Invalid;
            }
            if spent.get() > MAX_RING_VISITS {
                return Check::TooIntricate;
            }
        }
        let boxes: Vec<Rect<f64>> = holes.iter().map(|h| h.1).collect();
        let mut verdict = Check::Valid;
        for_overlapping_boxes(&boxes, |i, j| {
            let ((a, a_box), (b, b_box)) = (holes[i], holes[j]);
            if inside(a, a_box, b, b_box) == Some(true) || inside(b, b_box, a, a_box) == Some(true)
            {
                verdict = Check::Invalid;
            } else if spent.get() > MAX_RING_VISITS {
                verdict = Check::TooIntricate;
            }
            matches!(verdict, Check::Valid)
        });
        if !matches!(verdict, Check::Valid) {
            return verdict;
        }
    }
    let boxes: Vec<Rect<f64>> = shells.iter().map(|s| s.1).collect();
    let mut verdict = Check::Valid;
    for_overlapping_boxes(&boxes, |i, j| {
        // A member inside another is valid only inside one of its holes (an island in a lake).
        for ((small, small_box), (large, large_box)) in
            [(shells[i], shells[j]), (shells[j], shells[i])]
        {
            if inside(small.exterior(), small_box, large.exterior(), large_box) == Some(true)
                && !large.interiors().iter().any(|hole| {
                    boxed(hole).is_some_and(|hole_box| {
                        inside(small.exterior(), small_box, hole, hole_box) == Some(true)
                    })
                })
            {
                verdict = Check::Invalid;
            }
        }
        if matches!(verdict, Check::Valid) && spent.get() > MAX_RING_VISITS {
            verdict = Check::TooIntricate;
        }
        matches!(verdict, Check::Valid)
    });
    verdict
}

fn contains_box(outer: Rect<f64>, inner: Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && outer.max().x >= inner.max().x
        && outer.max().y >= inner.max().y
}

/// Calls `visit(i, j)` for every pair of boxes that overlap, found by sweeping along x (an archipelago of
/// 50,000 islands is 50,000 boxes, not 1.25 billion pairs), until `visit` answers `false`.
fn for_overlapping_boxes(boxes: &[Rect<f64>], mut visit: impl FnMut(usize, usize) -> bool) {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_unstable_by(|&a, &b| boxes[a].min().x.total_cmp(&boxes[b].min().x));
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[k + 1..] {
            if boxes[j].min().x > boxes[i].max().x {
                break;
            }
            let overlap_y =
                boxes[j].min().y <= boxes[i].max().y && boxes[i].min().y <= boxes[j].max().y;
            if overlap_y && !visit(i, j) {
                return;
            }
        }
    }
}

/// A ring's segments, with repeated consecutive positions (zero-length segments) left out so that the
/// segments on either side of one count as consecutive.
fn add_ring(segments: &mut Vec<Segment>, ring: &LineString<f64>, id: u32) {
    let mut positions: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for &c in &ring.0 {
        if positions.last() != Some(&c) {
            positions.push(c);
        }
    }
    if positions.len() > 1 && positions.first() == positions.last() {
        positions.pop();
    }
    let n = positions.len();
    if n < 3 {
        return;
    }
    let of = u32::try_from(n).unwrap_or(u32::MAX);
    for i in 0..n {
        segments.push(Segment {
            line: Line::new(positions[i], positions[(i + 1) % n]),
            ring: id,
            index: u32::try_from(i).unwrap_or(u32::MAX),
            of,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Validation, wkt};

    fn repair(g: impl Into<Geometry<f64>>) -> (Geometry<f64>, Repair) {
        let mut g = g.into();
        let outcome = repair_crossing_rings(&mut g);
        (g, outcome)
    }

    #[test]
    fn valid_polygons_are_left_as_they_are() {
        let square = wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.)));
        let with_hole =
            wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(2. 2., 2. 4., 4. 4., 2. 2.)));
        // A hole touching the shell at one point, repeated positions, a straight run through a vertex.
        let touching =
            wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(5. 0., 6. 3., 4. 3., 5. 0.)));
        let repeats = wkt!(POLYGON((0. 0., 5. 0., 5. 0., 10. 0., 10. 10., 0. 10., 0. 0., 0. 0.)));
        for p in [square, with_hole, touching, repeats] {
            let (after, outcome) = repair(p.clone());
            assert_eq!(outcome, Repair::Valid, "{p:?}");
            assert_eq!(after, Geometry::Polygon(p));
        }
        let apart =
            wkt!(MULTIPOLYGON(((0. 0., 1. 0., 1. 1., 0. 0.)),((1. 1., 2. 1., 2. 2., 1. 1.))));
        assert_eq!(repair(apart).1, Repair::Valid);
    }

    #[test]
    fn a_bowtie_becomes_its_two_lobes() {
        let (after, outcome) = repair(wkt!(POLYGON((0. 0., 10. 10., 10. 0., 0. 10., 0. 0.))));
        assert_eq!(
            outcome,
            Repair::Repaired {
                polygons: 1,
                parts: 2,
                rounded: false
            }
        );
        let Geometry::MultiPolygon(parts) = &after else {
            panic!("{after:?}")
        };
        assert!(parts.is_valid());
        assert!((parts.unsigned_area() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn a_figure_eight_through_a_shared_vertex_is_repaired() {
        // The ring passes (5, 5) twice: no segment crosses another's interior, yet the lobes wind opposite
        // ways and the signed area is zero.
        let (after, outcome) =
            repair(wkt!(POLYGON((0. 0., 5. 5., 10. 10., 10. 0., 5. 5., 0. 10., 0. 0.))));
        assert!(matches!(outcome, Repair::Repaired { .. }), "{outcome:?}");
        assert!((after.unsigned_area() - 50.0).abs() < 1e-9, "{after:?}");
    }

    #[test]
    fn spikes_and_overlapping_members_are_repaired() {
        let spike = wkt!(POLYGON((0. 0., 10. 0., 15. 5., 10. 0., 10. 10., 0. 10., 0. 0.)));
        let (after, outcome) = repair(spike);
        assert!(matches!(outcome, Repair::Repaired { .. }));
        assert!((after.unsigned_area() - 100.0).abs() < 1e-9);
        let overlapping = wkt!(MULTIPOLYGON(((0. 0., 2. 0., 2. 2., 0. 2., 0. 0.)),((1. 1., 3. 1., 3. 3., 1. 3., 1. 1.))));
        let (after, outcome) = repair(overlapping);
        assert!(matches!(outcome, Repair::Repaired { .. }));
        let Geometry::MultiPolygon(parts) = &after else {
            panic!("{after:?}")
        };
        assert!(parts.is_valid(), "{parts:?}");
    }

    #[test]
    fn polygons_inside_collections_are_reached() {
        let bowtie = wkt!(POLYGON((0. 0., 10. 10., 10. 0., 0. 10., 0. 0.)));
        let mut g = Geometry::GeometryCollection(geo::GeometryCollection(vec![
            Geometry::Point(geo::Point::new(1.0, 1.0)),
            Geometry::GeometryCollection(geo::GeometryCollection(vec![bowtie.into()])),
        ]));
        assert_eq!(
            repair_crossing_rings(&mut g),
            Repair::Repaired {
                polygons: 1,
                parts: 2,
                rounded: false
            }
        );
    }

    #[test]
    fn an_intricate_ring_is_stopped_by_the_work_budget() {
        // 200,000 strokes all spanning the same box (2e10 candidate pairs), crossing one another: stopped
        // by the budget of pairs or of crossings, whichever comes first.
        let mut ring: Vec<Coord<f64>> = (0..200_000)
            .map(|i| {
                let t = f64::from(i) * 1e-5;
                if i % 2 == 0 {
                    Coord { x: t, y: t }
                } else {
                    Coord {
                        x: 2.0 + t,
                        y: 2.0 - t,
                    }
                }
            })
            .collect();
        ring.push(ring[0]);
        let (_, outcome) = repair(Polygon::new(LineString::new(ring), Vec::new()));
        assert!(
            matches!(outcome, Repair::Unchecked | Repair::Kept(_)),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_long_real_outline_is_checked_within_the_budget() {
        // A 100,000-vertex circle-like outline: each segment overlaps a handful of others.
        let n = 100_000;
        let ring: Vec<Coord<f64>> = (0..=n)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from(i % n) / f64::from(n);
                Coord {
                    x: 10.0 * a.cos(),
                    y: 10.0 * a.sin(),
                }
            })
            .collect();
        assert_eq!(
            repair(Polygon::new(LineString::new(ring), Vec::new())).1,
            Repair::Valid
        );
    }

    fn parts_and_area(g: &Geometry<f64>) -> (usize, f64) {
        let parts = match g {
            Geometry::Polygon(_) => 1,
            Geometry::MultiPolygon(mp) => mp.0.len(),
            _ => 0,
        };
        (parts, g.unsigned_area())
    }

    #[test]
    fn small_polygons_are_repaired_as_large_ones_are() {
        // Found by an outside tester: a 30 m bowtie in degrees was left invalid ("no area"), a 10 m one
        // came back as one lobe. GDAL's answers: two parts each, and these areas.
        let parcel = wkt!(POLYGON((10.0000579 20.0002153, 10.0003065 20.0001392, 10.0003841 20.0003595, 10.0002471 20.0001407, 10.0000579 20.0002153)));
        let (after, outcome) = repair(parcel);
        assert!(
            matches!(outcome, Repair::Repaired { parts: 2, .. }),
            "{outcome:?}"
        );
        assert!(after.is_valid());
        let (parts, area) = parts_and_area(&after);
        assert_eq!(parts, 2);
        assert!((area - 7.83e-9).abs() < 0.01e-9, "{area}");
        for side in [1e-9, 1e-7, 1e-5, 1e-4, 1.0, 100.0] {
            let (x, y) = (179.0 - side, 5.0);
            let bowtie = Polygon::new(
                LineString::from(vec![
                    (x, y),
                    (x + side, y + side),
                    (x + side, y),
                    (x, y + side),
                    (x, y),
                ]),
                Vec::new(),
            );
            let (after, _) = repair(bowtie);
            let (parts, area) = parts_and_area(&after);
            assert_eq!(parts, 2, "side {side}: {after:?}");
            // At 179° a 1e-9° side holds only five significant digits.
            assert!(
                (area / (side * side / 2.0) - 1.0).abs() < 1e-4,
                "side {side}: {area}"
            );
            assert!(after.is_valid(), "side {side}");
        }
    }

    #[test]
    fn rings_that_do_not_cross_but_lie_wrong_are_repaired_as_gdal_does() {
        // Areas and part counts as `ogr2ogr -makevalid` gives them.
        let cases: [(Geometry<f64>, usize, f64); 6] = [
            // a hole outside its shell
            (wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(20. 20., 22. 20., 22. 22., 20. 22., 20. 20.))).into(), 2, 104.0),
            // a hole inside a hole
            (wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(1. 1., 9. 1., 9. 9., 1. 9., 1. 1.),(3. 3., 6. 3., 6. 6., 3. 6., 3. 3.))).into(), 2, 45.0),
            // a member inside another
            (wkt!(MULTIPOLYGON(((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.)),((2. 2., 4. 2., 4. 4., 2. 4., 2. 2.)))).into(), 1, 96.0),
            // the same member twice, a hole equal to its shell, a ring that goes round twice
            (wkt!(MULTIPOLYGON(((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.)),((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.)))).into(), 1, 100.0),
            (wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(0. 0., 10. 0., 10. 10., 0. 10., 0. 0.))).into(), 1, 100.0),
            (wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0., 10. 0., 10. 10., 0. 10., 0. 0.))).into(), 1, 100.0),
        ];
        for (g, want_parts, want_area) in cases {
            let (after, outcome) = repair(g.clone());
            assert!(
                matches!(outcome, Repair::Repaired { .. }),
                "{g:?}: {outcome:?}"
            );
            assert!(after.is_valid(), "{g:?} -> {after:?}");
            assert_eq!(
                parts_and_area(&after),
                (want_parts, want_area),
                "{g:?} -> {after:?}"
            );
        }
        // An island in a lake is valid.
        let island = wkt!(MULTIPOLYGON(((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(2. 2., 8. 2., 8. 8., 2. 8., 2. 2.)),((4. 4., 6. 4., 6. 6., 4. 6., 4. 4.))));
        assert_eq!(repair(island).1, Repair::Valid);
    }

    #[test]
    fn a_ring_crossing_itself_everywhere_is_kept_as_it_is() {
        // A {2001/1000} star: every edge crosses nearly every other, two million crossings.
        let n = 2001;
        let ring: Vec<Coord<f64>> = (0..=n)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from((i * 1000) % n) / f64::from(n);
                Coord {
                    x: a.cos(),
                    y: a.sin(),
                }
            })
            .collect();
        let (_, outcome) = repair(Polygon::new(LineString::new(ring), Vec::new()));
        assert!(
            matches!(outcome, Repair::Kept(ref why) if why.contains("too many")),
            "{outcome:?}"
        );
    }

    #[test]
    fn many_holes_and_many_islands_are_checked_within_the_budget() {
        let square = |x: f64, y: f64, side: f64| {
            LineString::from(vec![
                (x, y),
                (x + side, y),
                (x + side, y + side),
                (x, y + side),
                (x, y),
            ])
        };
        // A forest with 40,000 clearings, an archipelago of 40,000 islands: checked whole (a polygon whose
        // check ran over the budget of pairs or ring visits would be `Unchecked`), because only boxes that
        // overlap are compared. (Work is bounded by counts, not clocks: a debug build on a busy machine is
        // no measure of time.)
        let clearings: Vec<LineString<f64>> = (0..40_000)
            .map(|i| square(f64::from(i % 200) + 0.25, f64::from(i / 200) + 0.25, 0.5))
            .collect();
        let forest = Polygon::new(square(0.0, 0.0, 200.0), clearings);
        let islands = MultiPolygon(
            (0..40_000)
                .map(|i| {
                    Polygon::new(
                        square(f64::from(i % 200), f64::from(i / 200), 0.5),
                        Vec::new(),
                    )
                })
                .collect(),
        );
        assert_eq!(repair(forest).1, Repair::Valid);
        assert_eq!(repair(islands).1, Repair::Valid);
    }

    #[test]
    fn a_repair_does_not_depend_on_where_the_polygon_lies() {
        // Found by an outside tester: this ring (a vertex touching an edge beside three edges almost meeting)
        // was repaired right at the origin and wrong 0.3 further. GEOS gives 7 parts of 224/15 at the origin
        // (and 8 at 0.3, one a sliver its floating point makes); the overlay snaps to a grid fitted to the
        // polygon, so its answer is the same wherever the ring lies.
        let ring = [
            (6., 4.),
            (0., 2.),
            (4., 4.),
            (2., 0.),
            (2., 8.),
            (8., 0.),
            (0., 4.),
            (2., 6.),
            (6., 4.),
        ];
        for offset in [0.0, 0.3, 1e-5, 3.7, 123.456] {
            let (after, outcome) = repair(Polygon::new(
                LineString::from(
                    ring.iter()
                        .map(|&(x, y)| (x + offset, y + offset))
                        .collect::<Vec<_>>(),
                ),
                Vec::new(),
            ));
            assert!(matches!(outcome, Repair::Repaired { .. }), "{outcome:?}");
            assert!(after.is_valid(), "offset {offset}");
            let (parts, area) = parts_and_area(&after);
            assert_eq!(parts, 7, "offset {offset}");
            assert!(
                (area / (224.0 / 15.0) - 1.0).abs() < 1e-6,
                "offset {offset}: {area}"
            );
        }
    }

    #[test]
    fn a_long_coastline_with_one_crossing_is_repaired_not_kept() {
        // 100,000 points with two swapped: a small knot. (The triangulation this module used
        // first took minutes here; the overlay takes a moment.)
        let n = 100_000;
        let mut ring: Vec<Coord<f64>> = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from(i) / f64::from(n);
                let r = 10.0 + 0.01 * (f64::from(i) * 0.37).sin();
                Coord {
                    x: r * a.cos(),
                    y: r * a.sin(),
                }
            })
            .collect();
        // Points 500 and 510 swapped: the chords to and from them cross.
        ring.swap(500, 510);
        ring.push(ring[0]);
        let (after, outcome) = repair(Polygon::new(LineString::new(ring), Vec::new()));
        assert!(matches!(outcome, Repair::Repaired { .. }), "{outcome:?}");
        // Checked by this module's own test (geo's `is_valid` compares every pair of segments), and stable.
        assert_eq!(repair(after.clone()).1, Repair::Valid);
        assert!((after.unsigned_area() - std::f64::consts::PI * 100.0).abs() < 1.0);
    }

    #[test]
    fn a_polygon_too_small_to_repair_is_kept_and_the_rest_goes_on() {
        // Found by an outside tester: a bowtie 1e-300 across overflowed the overlay's grid (a debug build
        // panicked, which ended the whole import).
        for side in [1e-300, 1e-100, 1e-10] {
            let bowtie = Polygon::new(
                LineString::from(vec![
                    (0.0, 0.0),
                    (side, side),
                    (side, 0.0),
                    (0.0, side),
                    (0.0, 0.0),
                ]),
                Vec::new(),
            );
            let (after, outcome) = repair(bowtie.clone());
            assert!(
                matches!(outcome, Repair::Kept(ref why) if why.contains("too small")),
                "{side}: {outcome:?}"
            );
            assert_eq!(after, Geometry::Polygon(bowtie));
        }
    }

    #[test]
    fn rings_of_positions_a_rounding_apart_are_left_out() {
        // Found by an outside tester: a 3e-6° grid-snapped polygon at longitude 129.7 came back with a ring
        // `A, B, B, A` whose two positions differ by 1.7e-15.
        let ring = [
            (129.700_001, 35.000_002),
            (129.700_003, 35.000_001),
            (129.700_000, 35.000_000),
            (129.700_002, 35.000_003),
            (129.700_003, 35.000_000),
            (129.700_001, 35.000_002),
        ];
        let (after, outcome) = repair(Polygon::new(LineString::from(ring.to_vec()), Vec::new()));
        assert!(matches!(outcome, Repair::Repaired { .. }), "{outcome:?}");
        let polygons: Vec<&Polygon<f64>> = match &after {
            Geometry::Polygon(p) => vec![p],
            Geometry::MultiPolygon(mp) => mp.0.iter().collect(),
            other => panic!("{other:?}"),
        };
        for p in polygons {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                assert!(r.0.len() >= 4, "{r:?}");
                assert!(r.0.windows(2).all(|w| w[0] != w[1]), "{r:?}");
            }
        }
    }
}
