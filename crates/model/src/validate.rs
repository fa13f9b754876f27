use geo_types::{Coord, Geometry, LineString, Polygon};

use crate::{ModelError, ModelErrorKind, ModelResult};

/// How many geometry collections a geometry may nest, one inside another: a collection of points is 1 level,
/// a collection holding that collection 2. Real data rarely nests more than 2; the limit is what every reader
/// enforces (while parsing, so a parser that recurses never meets a deeper file) and what
/// [`validate_geometry`] checks, because `geo`'s algorithms, `Clone` and `Drop` recurse once per level and a
/// file nesting 10,000 levels would overflow a thread's stack and abort the process. KML's `MultiGeometry`
/// counts as a collection.
pub const MAX_GEOMETRY_NESTING: usize = 32;

/// The deepest nesting of geometry collections in `geometry` (0 for anything that is not a collection),
/// found without recursion so that it is safe on a geometry of any depth.
pub fn collection_nesting(geometry: &Geometry<f64>) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(geometry, 0usize)];
    while let Some((g, depth)) = pending.pop() {
        if let Geometry::GeometryCollection(gc) = g {
            deepest = deepest.max(depth + 1);
            pending.extend(gc.0.iter().map(|member| (member, depth + 1)));
        }
    }
    deepest
}

/// The message every reader gives for a geometry nested too deep, so they all read alike.
pub fn nesting_message(depth: usize) -> String {
    format!(
        "geometry collections nest {depth} levels deep; at most {MAX_GEOMETRY_NESTING} are accepted"
    )
}

/// How far past ±180 (longitude) or ±90 (latitude) a coordinate may lie and still be taken as the limit:
/// 1e-9 degrees, about 0.1 mm on the ground. Files written by floating-point code carry noise at the limits
/// (Natural Earth's countries reach longitude 180.00000000000006, a few units in the last place of an f64,
/// whose spacing near 180 is 2.8e-14); reprojection adds rounding of the order of 1e-12 degrees. No survey
/// is 0.1 mm precise, so anything within the tolerance is noise, and anything past it (-190, 90.001) is a
/// real error that is still refused.
pub const COORDINATE_NOISE_DEGREES: f64 = 1e-9;

/// Moves every coordinate that lies past a limit by at most [`COORDINATE_NOISE_DEGREES`] onto the limit and
/// returns how many it moved, so the import can say so. Coordinates further out are left as they are, for
/// [`validate_geometry`] to refuse. Walks collections without recursion, like the validation.
pub fn clamp_coordinate_noise(geometry: &mut Geometry<f64>) -> u64 {
    let mut clamped = 0;
    let mut pending = vec![geometry];
    while let Some(g) = pending.pop() {
        let mut clamp = |c: &mut Coord<f64>| clamp_coord(c, &mut clamped);
        match g {
            Geometry::GeometryCollection(gc) => pending.extend(gc.0.iter_mut()),
            Geometry::Point(p) => clamp(&mut p.0),
            Geometry::Line(l) => {
                clamp(&mut l.start);
                clamp(&mut l.end);
            }
            Geometry::LineString(ls) => ls.0.iter_mut().for_each(clamp),
            Geometry::Polygon(p) => clamp_polygon(p, &mut clamp),
            Geometry::MultiPoint(mp) => mp.0.iter_mut().for_each(|p| clamp(&mut p.0)),
            Geometry::MultiLineString(ml) => {
                ml.0.iter_mut().flat_map(|l| l.0.iter_mut()).for_each(clamp);
            }
            Geometry::MultiPolygon(mp) => {
                mp.0.iter_mut().for_each(|p| clamp_polygon(p, &mut clamp))
            }
            Geometry::Rect(r) => {
                let (mut min, mut max) = (r.min(), r.max());
                clamp(&mut min);
                clamp(&mut max);
                *r = geo_types::Rect::new(min, max);
            }
            Geometry::Triangle(t) => {
                let mut corners = t.to_array();
                corners.iter_mut().for_each(clamp);
                *t = geo_types::Triangle::from(corners);
            }
        }
    }
    clamped
}

fn clamp_polygon(polygon: &mut Polygon<f64>, clamp: &mut impl FnMut(&mut Coord<f64>)) {
    polygon.exterior_mut(|ring| ring.0.iter_mut().for_each(&mut *clamp));
    polygon.interiors_mut(|rings| {
        rings
            .iter_mut()
            .flat_map(|ring| ring.0.iter_mut())
            .for_each(&mut *clamp);
    });
}

fn clamp_coord(c: &mut Coord<f64>, clamped: &mut u64) {
    let before = *c;
    c.x = snap(c.x, 180.0);
    c.y = snap(c.y, 90.0);
    *clamped += u64::from(before != *c);
}

/// `value` moved onto ±`limit` when it lies past it by no more than the tolerance.
fn snap(value: f64, limit: f64) -> f64 {
    if value > limit && value - limit <= COORDINATE_NOISE_DEGREES {
        limit
    } else if value < -limit && -limit - value <= COORDINATE_NOISE_DEGREES {
        -limit
    } else {
        value
    }
}

/// Checks that a geometry can be stored: every coordinate finite, longitude in [-180, 180], latitude in
/// [-90, 90] (within [`COORDINATE_NOISE_DEGREES`], which [`clamp_coordinate_noise`] removes), no empty geometry or part, lines with at least two positions, polygon rings closed with at
/// least four positions, collections nested at most [`MAX_GEOMETRY_NESTING`] deep. Messages name the
/// offending value, e.g. `latitude 91.2 out of range`.
pub fn validate_geometry(geometry: &Geometry<f64>) -> ModelResult<()> {
    // Collections are walked with a stack of their own rather than by recursion, so that a geometry of any
    // depth (built by code, or by a reader that missed the limit) is refused rather than overflowing.
    let mut pending = vec![(geometry, 0usize)];
    while let Some((g, depth)) = pending.pop() {
        if let Geometry::GeometryCollection(gc) = g {
            if depth >= MAX_GEOMETRY_NESTING {
                return Err(invalid(nesting_message(collection_nesting(geometry))));
            }
            non_empty(gc.0.len(), "geometry collection")?;
            pending.extend(gc.0.iter().rev().map(|member| (member, depth + 1)));
        } else {
            validate_simple(g)?;
        }
    }
    Ok(())
}

/// A polygon none of whose rings holds a position (`POLYGON (EMPTY, EMPTY)` as WKB writes it).
fn polygon_is_empty(p: &Polygon<f64>) -> bool {
    p.exterior().0.is_empty() && p.interiors().iter().all(|r| r.0.is_empty())
}

/// Whether a geometry holds no position at all (`POLYGON EMPTY`, a collection of empties, a multipoint of
/// none): readers keep such a feature unlocated, as GDAL keeps it with an empty geometry, instead of refusing
/// it. A geometry with some positions but an empty part is not empty, and `validate_geometry` refuses it.
pub fn is_empty_geometry(geometry: &Geometry<f64>) -> bool {
    let mut pending = vec![geometry];
    while let Some(g) = pending.pop() {
        let empty = match g {
            Geometry::Point(_) | Geometry::Line(_) | Geometry::Rect(_) | Geometry::Triangle(_) => {
                false
            }
            Geometry::LineString(ls) => ls.0.is_empty(),
            Geometry::Polygon(p) => polygon_is_empty(p),
            Geometry::MultiPoint(mp) => mp.0.is_empty(),
            Geometry::MultiLineString(ml) => ml.0.iter().all(|l| l.0.is_empty()),
            Geometry::MultiPolygon(mp) => mp.0.iter().all(polygon_is_empty),
            Geometry::GeometryCollection(gc) => {
                pending.extend(gc.0.iter());
                true
            }
        };
        if !empty {
            return false;
        }
    }
    true
}

/// The geometry with its collections' empty members left out (`GEOMETRYCOLLECTION (POINT (1 2),
/// LINESTRING EMPTY)` locates the feature at the point), or `None` when it holds no position at all and the
/// feature is unlocated. Members of a collection are geometries of their own, so one empty member says
/// nothing about the others; an empty part of a multi-geometry or an empty ring is still refused by
/// [`validate_geometry`], as it says the part's positions were lost. Collections deeper than
/// [`MAX_GEOMETRY_NESTING`] are left as they are for the validation to refuse, so this never recurses
/// further than that.
pub fn without_empty_members(geometry: Geometry<f64>) -> Option<Geometry<f64>> {
    fn prune(geometry: Geometry<f64>, depth: usize) -> Geometry<f64> {
        match geometry {
            Geometry::GeometryCollection(gc) if depth < MAX_GEOMETRY_NESTING => {
                Geometry::GeometryCollection(geo_types::GeometryCollection(
                    gc.0.into_iter()
                        .filter(|member| !is_empty_geometry(member))
                        .map(|member| prune(member, depth + 1))
                        .collect(),
                ))
            }
            other => other,
        }
    }
    (!is_empty_geometry(&geometry)).then(|| prune(geometry, 0))
}

/// Everything but a collection.
fn validate_simple(geometry: &Geometry<f64>) -> ModelResult<()> {
    match geometry {
        Geometry::Point(p) => check_coord(p.0),
        Geometry::Line(l) => check_coord(l.start).and(check_coord(l.end)),
        Geometry::LineString(ls) => check_line(ls),
        Geometry::Polygon(p) => check_polygon(p),
        Geometry::MultiPoint(mp) => {
            non_empty(mp.0.len(), "multipoint")?;
            mp.0.iter().try_for_each(|p| check_coord(p.0))
        }
        Geometry::MultiLineString(ml) => {
            non_empty(ml.0.len(), "multilinestring")?;
            ml.0.iter().enumerate().try_for_each(|(i, line)| {
                if line.0.is_empty() {
                    return Err(empty_part("multilinestring", i));
                }
                check_line(line)
            })
        }
        Geometry::MultiPolygon(mp) => {
            non_empty(mp.0.len(), "multipolygon")?;
            mp.0.iter().enumerate().try_for_each(|(i, polygon)| {
                if polygon.exterior().0.is_empty() && polygon.interiors().is_empty() {
                    return Err(empty_part("multipolygon", i));
                }
                check_polygon(polygon)
            })
        }
        // Walked by `validate_geometry`.
        Geometry::GeometryCollection(_) => Ok(()),
        Geometry::Rect(r) => check_coord(r.min()).and(check_coord(r.max())),
        Geometry::Triangle(t) => t.to_array().iter().try_for_each(|c| check_coord(*c)),
    }
}

fn invalid(message: String) -> ModelError {
    ModelError::new(ModelErrorKind::InvalidGeometry, message)
}

/// An empty part beside parts with positions: counted from 1, as a reader counts parts.
fn empty_part(what: &str, index: usize) -> ModelError {
    invalid(format!(
        "{what} part {} is empty beside parts with positions: its positions are missing",
        index + 1
    ))
}

fn non_empty(len: usize, what: &str) -> ModelResult<()> {
    if len == 0 {
        Err(invalid(format!("empty {what}")))
    } else {
        Ok(())
    }
}

fn check_coord(c: Coord<f64>) -> ModelResult<()> {
    if !c.x.is_finite() || !c.y.is_finite() {
        return Err(invalid(format!(
            "coordinate ({}, {}) is not a finite number",
            c.x, c.y
        )));
    }
    // Noise within the tolerance passes: the import pipeline clamps it (and counts it) for every format,
    // after the reader has validated.
    let (x, y) = (snap(c.x, 180.0), snap(c.y, 90.0));
    if !(-180.0..=180.0).contains(&x) {
        return Err(invalid(format!(
            "longitude {} out of range [-180, 180]",
            shown_number(c.x)
        )));
    }
    if !(-90.0..=90.0).contains(&y) {
        return Err(invalid(format!(
            "latitude {} out of range [-90, 90]",
            shown_number(c.y)
        )));
    }
    Ok(())
}

/// A coordinate as a message shows it: as written for ordinary numbers, in exponent form for huge ones
/// (`1e308`, not 309 digits).
fn shown_number(v: f64) -> String {
    if v.abs() >= 1e15 {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

fn check_line(line: &LineString<f64>) -> ModelResult<()> {
    if line.0.len() < 2 {
        return Err(invalid(format!(
            "linestring has {} position(s), at least 2 needed",
            line.0.len()
        )));
    }
    line.0.iter().try_for_each(|c| check_coord(*c))
}

fn check_ring(ring: &LineString<f64>, which: &str) -> ModelResult<()> {
    if ring.0.len() < 4 {
        return Err(invalid(format!(
            "{which} ring has {} position(s), at least 4 needed",
            ring.0.len()
        )));
    }
    ring.0.iter().try_for_each(|c| check_coord(*c))?;
    if ring.0.first() != ring.0.last() {
        return Err(invalid(format!(
            "{which} ring not closed (first and last positions differ)"
        )));
    }
    Ok(())
}

/// Checks a ring as a reader received it, before geo-types (which closes rings silently) sees it: readers call
/// this so that an unclosed ring in the source is reported instead of repaired behind the user's back.
pub fn validate_ring_positions(positions: &[Coord<f64>]) -> ModelResult<()> {
    if positions.len() < 4 {
        return Err(invalid(format!(
            "ring has {} position(s), at least 4 needed",
            positions.len()
        )));
    }
    if positions.first() != positions.last() {
        return Err(invalid(
            "ring not closed (first and last positions differ)".to_string(),
        ));
    }
    Ok(())
}

fn check_polygon(polygon: &Polygon<f64>) -> ModelResult<()> {
    check_ring(polygon.exterior(), "exterior")?;
    polygon
        .interiors()
        .iter()
        .try_for_each(|ring| check_ring(ring, "interior"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{GeometryCollection, MultiLineString, MultiPolygon, point, polygon};
    use proptest::prelude::*;

    #[test]
    fn rejects_out_of_range_and_non_finite() {
        let e = validate_geometry(&point!(x: 10.0, y: 91.2).into()).unwrap_err();
        assert_eq!(e.message(), "latitude 91.2 out of range [-90, 90]");
        assert!(validate_geometry(&point!(x: 181.0, y: 0.0).into()).is_err());
        assert!(validate_geometry(&point!(x: f64::NAN, y: 0.0).into()).is_err());
        assert!(validate_geometry(&point!(x: f64::INFINITY, y: 0.0).into()).is_err());
        assert!(validate_geometry(&point!(x: 180.0, y: -90.0).into()).is_ok());
    }

    #[test]
    fn noise_at_the_limits_is_accepted_and_clamped_but_real_errors_are_not() {
        // Natural Earth's countries: a few units in the last place past the antimeridian
        let noisy: Geometry<f64> = polygon![
            (x: 170.0, y: -16.0), (x: 180.000_000_000_000_06, y: -16.0),
            (x: 180.000_000_000_000_06, y: -90.000_000_000_1), (x: 170.0, y: -16.0)
        ]
        .into();
        assert!(validate_geometry(&noisy).is_ok());
        let mut clamped = noisy.clone();
        assert_eq!(clamp_coordinate_noise(&mut clamped), 2);
        let Geometry::Polygon(p) = &clamped else {
            panic!("still a polygon")
        };
        assert_eq!(p.exterior().0[1], Coord { x: 180.0, y: -16.0 });
        assert_eq!(p.exterior().0[2], Coord { x: 180.0, y: -90.0 });
        let mut far: Geometry<f64> = point!(x: -190.0, y: 0.0).into();
        assert_eq!(clamp_coordinate_noise(&mut far), 0);
        assert_eq!(
            validate_geometry(&far).unwrap_err().message(),
            "longitude -190 out of range [-180, 180]"
        );
        assert!(validate_geometry(&point!(x: 0.0, y: 90.000_001).into()).is_err());
        let mut inner = Geometry::GeometryCollection(GeometryCollection(vec![
            Geometry::Point(point!(x: -180.000_000_000_5, y: 0.0)),
            Geometry::Point(point!(x: 1.0, y: 2.0)),
        ]));
        assert_eq!(clamp_coordinate_noise(&mut inner), 1);
    }

    #[test]
    fn rejects_unclosed_ring() {
        let c = |x, y| Coord { x, y };
        let open = [c(0.0, 0.0), c(1.0, 0.0), c(1.0, 1.0), c(0.5, 1.5)];
        assert!(
            validate_ring_positions(&open)
                .unwrap_err()
                .message()
                .contains("not closed")
        );
        assert!(validate_ring_positions(&[c(0.0, 0.0), c(1.0, 0.0), c(0.0, 0.0)]).is_err());
        let closed = [c(0.0, 0.0), c(1.0, 0.0), c(1.0, 1.0), c(0.0, 0.0)];
        assert!(validate_ring_positions(&closed).is_ok());
        let polygon = Polygon::new(LineString::from(closed.to_vec()), vec![]);
        assert!(validate_geometry(&polygon.into()).is_ok());
    }

    #[test]
    fn rejects_empty_geometries() {
        assert!(validate_geometry(&MultiPolygon::<f64>(vec![]).into()).is_err());
        assert!(validate_geometry(&LineString::<f64>(vec![]).into()).is_err());
        let triangle = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)];
        assert!(validate_geometry(&triangle.into()).is_ok());
    }

    #[test]
    fn empty_members_of_collections_are_left_out_and_empty_parts_are_not() {
        let empty_line: Geometry<f64> = LineString::<f64>(vec![]).into();
        let point: Geometry<f64> = point!(x: 1.0, y: 2.0).into();
        let collection = |members: Vec<Geometry<f64>>| {
            Geometry::GeometryCollection(geo_types::GeometryCollection(members))
        };
        let inner = collection(vec![empty_line.clone(), point.clone()]);
        let pruned = without_empty_members(collection(vec![
            empty_line.clone(),
            inner,
            collection(vec![]),
        ]))
        .unwrap();
        assert_eq!(pruned, collection(vec![collection(vec![point.clone()])]));
        assert!(validate_geometry(&pruned).is_ok());
        assert_eq!(
            without_empty_members(collection(vec![empty_line.clone()])),
            None
        );
        assert_eq!(without_empty_members(point.clone()), Some(point));
        let line = LineString::from(vec![(0.0, 0.0), (1.0, 1.0)]);
        let part_empty: Geometry<f64> = MultiLineString(vec![line, LineString(vec![])]).into();
        let kept = without_empty_members(part_empty).unwrap();
        assert!(validate_geometry(&kept).is_err());
    }

    fn nested(levels: usize) -> Geometry<f64> {
        let mut g: Geometry<f64> = point!(x: 1.0, y: 2.0).into();
        for _ in 0..levels {
            g = Geometry::GeometryCollection(geo_types::GeometryCollection(vec![g]));
        }
        g
    }

    #[test]
    fn collections_nested_to_the_limit_validate_and_deeper_ones_are_refused() {
        assert_eq!(collection_nesting(&nested(0)), 0);
        assert_eq!(collection_nesting(&nested(3)), 3);
        assert!(validate_geometry(&nested(MAX_GEOMETRY_NESTING)).is_ok());
        let e = validate_geometry(&nested(MAX_GEOMETRY_NESTING + 1)).unwrap_err();
        assert_eq!(e.message(), nesting_message(MAX_GEOMETRY_NESTING + 1));
    }

    // Regression: validation recursed once per collection level, so a geometry nested some thousands of levels
    // deep (the tester's 10,000-level WKT) overflowed the stack instead of being refused.
    #[test]
    fn validating_a_deeply_nested_collection_does_not_recurse() {
        let deep = nested(5_000);
        let outcome = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let refused = validate_geometry(&deep).is_err();
                let depth = collection_nesting(&deep);
                // Dropping recurses too; not on this small stack.
                std::mem::forget(deep);
                (refused, depth)
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(outcome, (true, 5_000));
    }

    proptest! {
        #[test]
        fn in_range_points_always_validate(x in -180.0f64..=180.0, y in -90.0f64..=90.0) {
            prop_assert!(validate_geometry(&point!(x: x, y: y).into()).is_ok());
        }

        #[test]
        fn out_of_range_latitudes_never_validate(x in -180.0f64..=180.0, y in 90.000001f64..1e300) {
            prop_assert!(validate_geometry(&point!(x: x, y: y).into()).is_err());
            prop_assert!(validate_geometry(&point!(x: x, y: -y).into()).is_err());
        }
    }
}
