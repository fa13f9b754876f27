//! Rings given on the sphere (CAP polygons and circles) as polygons the store can hold: longitudes within
//! [-180, 180], latitudes within [-90, 90].
//!
//! A ring is read the way its issuer drew it: each edge the short way round, so an edge from 179.5 to
//! -179.5 is 1° wide across the antimeridian, not 359° across Greenwich. Taken literally, as planar
//! coordinates, such a ring becomes a band round the whole world, and every bbox, exposure and alert rule
//! fires on the far side of it. So a ring that crosses the antimeridian is cut there into a MultiPolygon
//! (RFC 7946 §3.1.9, GDAL's `-wrapdateline`), as Natural Earth's Fiji and Chukotka are; and a ring that goes
//! round a pole is closed along the pole's edge, so the area holds the pole.

use geo::{Area, BooleanOps, BoundingRect};
use geoconsole_model::geo_types::{Coord, LineString, Polygon, Rect};

/// Cut pieces are rounded to an integer grid by the overlay; coordinates this close to the antimeridian or
/// a pole are the cut edge itself (1e-6° is 0.1 m), not a vertex of the issuer's.
const EDGE_SNAP: f64 = 1e-6;

/// The polygons a closed ring covers, each within the map. A ring that stays on one side of the
/// antimeridian and goes round no pole is returned as it is.
pub(crate) fn polygons_on_the_map(ring: Vec<Coord<f64>>) -> Result<Vec<Polygon<f64>>, String> {
    if ring.len() < 4 || ring.first() != ring.last() {
        // Not a ring: left for validation to refuse with its own words.
        return Ok(vec![Polygon::new(LineString(ring), Vec::new())]);
    }
    let mut unwrapped = unwrap(&ring);
    let (first, last) = (unwrapped[0], unwrapped[unwrapped.len() - 1]);
    let turns = ((last.x - first.x) / 360.0).round();
    if turns != 0.0 {
        if turns.abs() > 1.0 {
            return Err("the ring winds round a pole more than once".into());
        }
        unwrapped = round_the_pole(unwrapped);
    }
    let polygon = Polygon::new(LineString(unwrapped), Vec::new());
    Ok(cut_at_the_antimeridian(polygon))
}

/// Longitudes made continuous: each step is the short way (at most 180°), so the ring may run past ±180.
fn unwrap(ring: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut out = Vec::with_capacity(ring.len() + 4);
    out.push(ring[0]);
    for pair in ring.windows(2) {
        let mut dx = pair[1].x - pair[0].x;
        if dx > 180.0 {
            dx -= 360.0;
        } else if dx < -180.0 {
            dx += 360.0;
        }
        let x = out[out.len() - 1].x + dx;
        out.push(Coord { x, y: pair[1].y });
    }
    out
}

/// A continuous ring whose end is 360° of longitude from its start goes once round a pole: the one on the
/// side most of it lies (a circle of at most 5000 km that holds a pole lies wholly on its side of the
/// equator's parallel at 45°). It is started where it crosses the antimeridian, moved so it runs from -180
/// to 180 (or back), and closed along the pole, so the pole's edge lies on the antimeridian and the cut
/// that follows leaves it whole.
fn round_the_pole(ring: Vec<Coord<f64>>) -> Vec<Coord<f64>> {
    let open = &ring[..ring.len() - 1];
    let mean_lat = open.iter().map(|c| c.y).sum::<f64>() / open.len() as f64;
    let pole = if mean_lat >= 0.0 { 90.0 } else { -90.0 };
    let window = |x: f64| ((x + 180.0) / 360.0).floor();
    // The first edge that crosses (or ends on) a boundary 180 + 360k: there is one, as the ring spans 360°.
    let i = (0..ring.len() - 1)
        .find(|&i| window(ring[i].x) != window(ring[i + 1].x))
        .expect("a ring spanning 360 degrees crosses a window boundary");
    let (a, b) = (ring[i], ring[i + 1]);
    let boundary = 360.0 * window(a.x.max(b.x)) - 180.0;
    let t = (boundary - a.x) / (b.x - a.x);
    let crossing = Coord {
        x: boundary,
        y: a.y + t * (b.y - a.y),
    };
    let eastward = b.x > a.x;
    // Rebased by whole turns so it starts at -180 going east, or at 180 going west.
    let start = if eastward { -180.0 } else { 180.0 };
    let shift = start - boundary;
    let mut out = Vec::with_capacity(ring.len() + 4);
    out.push(Coord {
        x: start,
        y: crossing.y,
    });
    let turn = if eastward { 360.0 } else { -360.0 };
    // The vertices after the crossing, then (one turn on) those before it.
    for c in &ring[i + 1..ring.len() - 1] {
        out.push(Coord {
            x: c.x + shift,
            y: c.y,
        });
    }
    for c in &ring[..=i] {
        out.push(Coord {
            x: c.x + shift + turn,
            y: c.y,
        });
    }
    let end = -start;
    out.push(Coord {
        x: end,
        y: crossing.y,
    });
    out.push(Coord { x: end, y: pole });
    out.push(Coord { x: start, y: pole });
    out.push(out[0]);
    out.dedup();
    out
}

/// A polygon with continuous longitudes as the pieces it has in each 360° window, moved into [-180, 180].
fn cut_at_the_antimeridian(polygon: Polygon<f64>) -> Vec<Polygon<f64>> {
    let Some(bounds) = polygon.bounding_rect() else {
        return vec![polygon];
    };
    let (min, max) = (bounds.min(), bounds.max());
    if min.x >= -180.0 && max.x <= 180.0 {
        return vec![polygon];
    }
    let first = ((min.x + 180.0) / 360.0).floor() as i64;
    let last = ((max.x - 180.0) / 360.0).ceil() as i64;
    let mut pieces = Vec::new();
    for k in first..=last {
        let offset = 360.0 * k as f64;
        let (west, east) = ((offset - 180.0).max(min.x), (offset + 180.0).min(max.x));
        if east <= west {
            continue;
        }
        // A clip no larger than the polygon keeps the overlay's integer grid fine (it spans their extent).
        let clip = Rect::new(Coord { x: west, y: min.y }, Coord { x: east, y: max.y }).to_polygon();
        for mut piece in polygon.intersection(&clip) {
            let moved = |c: &mut Coord<f64>| {
                c.x = snap(c.x - offset, 180.0);
                c.y = snap(c.y, 90.0);
            };
            piece.exterior_mut(|r| r.0.iter_mut().for_each(moved));
            piece.interiors_mut(|rings| {
                rings
                    .iter_mut()
                    .for_each(|r| r.0.iter_mut().for_each(moved))
            });
            if piece.unsigned_area() > 0.0 {
                pieces.push(piece);
            }
        }
    }
    pieces
}

fn snap(value: f64, limit: f64) -> f64 {
    if (value.abs() - limit).abs() <= EDGE_SNAP {
        limit.copysign(value)
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Point};
    use geoconsole_model::geo_types::MultiPolygon;

    fn ring(points: &[(f64, f64)]) -> Vec<Coord<f64>> {
        points.iter().map(|&(x, y)| Coord { x, y }).collect()
    }

    fn within_the_map(pieces: &[Polygon<f64>]) -> bool {
        pieces.iter().all(|p| {
            p.exterior()
                .0
                .iter()
                .all(|c| (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y))
        })
    }

    #[test]
    fn a_ring_on_one_side_is_left_as_it_is() {
        let r = ring(&[(10.0, 0.0), (11.0, 0.0), (11.0, 1.0), (10.0, 0.0)]);
        assert_eq!(
            polygons_on_the_map(r.clone()).unwrap(),
            vec![Polygon::new(LineString(r), Vec::new())]
        );
    }

    #[test]
    fn a_square_across_the_antimeridian_is_cut_in_two_small_pieces() {
        let r = ring(&[
            (179.5, -1.0),
            (-179.5, -1.0),
            (-179.5, 1.0),
            (179.5, 1.0),
            (179.5, -1.0),
        ]);
        let pieces = polygons_on_the_map(r).unwrap();
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert!(within_the_map(&pieces));
        let area = MultiPolygon(pieces.clone()).unsigned_area();
        assert!((area - 2.0).abs() < 1e-6, "{area}");
        let all = MultiPolygon(pieces);
        assert!(all.contains(&Point::new(179.9, 0.0)));
        assert!(all.contains(&Point::new(-179.9, 0.0)));
        assert!(!all.contains(&Point::new(0.0, 0.0)));
    }

    #[test]
    fn a_ring_round_a_pole_is_closed_along_it() {
        // Eastward round the north pole at 80°N, starting away from the antimeridian.
        let mut r: Vec<Coord<f64>> = (0..36)
            .map(|i| Coord {
                x: ((-100.0 + 10.0 * i as f64 + 180.0).rem_euclid(360.0)) - 180.0,
                y: 80.0,
            })
            .collect();
        r.push(r[0]);
        let pieces = polygons_on_the_map(r.clone()).unwrap();
        assert_eq!(pieces.len(), 1, "{pieces:?}");
        assert!(within_the_map(&pieces));
        assert!(pieces[0].contains(&Point::new(0.0, 89.0)));
        assert!(!pieces[0].contains(&Point::new(0.0, 70.0)));
        assert!((pieces[0].unsigned_area() - 3600.0).abs() < 1e-6);
        // Westward round the south pole.
        let south: Vec<Coord<f64>> = r.iter().rev().map(|c| Coord { x: c.x, y: -c.y }).collect();
        let pieces = polygons_on_the_map(south).unwrap();
        assert_eq!(pieces.len(), 1);
        assert!(pieces[0].contains(&Point::new(45.0, -89.0)));
        assert!(within_the_map(&pieces));
    }
}
