//! Circular arcs (ISO 19107 / SQL-MM `CIRCULARSTRING`: start, a point on the arc, end) turned into chords,
//! as GDAL and PostGIS `ST_CurveToLine` do, because the console's geometries are made of straight segments.
//!
//! Tolerance: an arc is cut into equal chords each subtending at most [`STEP_RADIANS`] (π/64, 2.8125°):
//! [`SEGMENTS_PER_QUARTER_CIRCLE`] = 32 chords per quarter circle, PostGIS `ST_CurveToLine`'s default. No
//! point of the arc then lies farther from its chord than `r·(1 − cos(π/128))`, about 0.0003 of the radius
//! (3 cm on a 100 m arc). The arc's start and end are kept exactly, so consecutive arcs and the parts of a
//! compound curve still meet; the middle control point is generally not one of the vertices.

use geoconsole_model::geo_types::Coord;

/// Chords per quarter circle.
pub const SEGMENTS_PER_QUARTER_CIRCLE: u32 = 32;
/// The largest angle one chord subtends.
pub const STEP_RADIANS: f64 = std::f64::consts::FRAC_PI_2 / SEGMENTS_PER_QUARTER_CIRCLE as f64;

/// Appends the arc from `start` through `middle` to `end` as vertices after `start` (which the caller has
/// already placed), ending exactly at `end`. Three points on one line (or any not finite) are an arc of
/// infinite radius: its two straight segments are appended as they are.
pub(crate) fn linearise(
    start: Coord<f64>,
    middle: Coord<f64>,
    end: Coord<f64>,
    out: &mut Vec<Coord<f64>>,
) {
    let straight = |out: &mut Vec<Coord<f64>>| {
        out.push(middle);
        out.push(end);
    };
    let finite = [start, middle, end]
        .iter()
        .all(|c| c.x.is_finite() && c.y.is_finite());
    if !finite {
        straight(out);
        return;
    }
    let (center, sweep) = if start == end {
        // A whole circle: the middle point is diametrically opposite the start.
        let center = Coord {
            x: (start.x + middle.x) / 2.0,
            y: (start.y + middle.y) / 2.0,
        };
        (center, std::f64::consts::TAU)
    } else {
        // Centre of the circle through the three points, computed relative to `start` for precision.
        let b = middle - start;
        let c = end - start;
        let cross = b.x * c.y - b.y * c.x;
        let scale = (b.x.hypot(b.y) * c.x.hypot(c.y)).max(f64::MIN_POSITIVE);
        if cross.abs() <= scale * 1e-12 {
            straight(out);
            return;
        }
        let d = 2.0 * cross;
        let (bb, cc) = (b.x * b.x + b.y * b.y, c.x * c.x + c.y * c.y);
        let center = Coord {
            x: start.x + (c.y * bb - b.y * cc) / d,
            y: start.y + (b.x * cc - c.x * bb) / d,
        };
        let angle = |p: Coord<f64>| (p.y - center.y).atan2(p.x - center.x);
        let (a0, a2) = (angle(start), angle(end));
        // Turning left from start to middle to end means the arc runs counter-clockwise.
        let sweep = if cross > 0.0 {
            (a2 - a0).rem_euclid(std::f64::consts::TAU)
        } else {
            -(a0 - a2).rem_euclid(std::f64::consts::TAU)
        };
        (center, sweep)
    };
    let radius = (start.x - center.x).hypot(start.y - center.y);
    let a0 = (start.y - center.y).atan2(start.x - center.x);
    // At most 128 chords for a whole circle; the cast cannot overflow.
    let chords = (sweep.abs() / STEP_RADIANS).ceil().max(1.0) as u32;
    for k in 1..chords {
        let a = a0 + sweep * f64::from(k) / f64::from(chords);
        out.push(Coord {
            x: center.x + radius * a.cos(),
            y: center.y + radius * a.sin(),
        });
    }
    out.push(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    fn arc(start: Coord<f64>, middle: Coord<f64>, end: Coord<f64>) -> Vec<Coord<f64>> {
        let mut out = vec![start];
        linearise(start, middle, end, &mut out);
        out
    }

    #[test]
    fn a_half_circle_has_sixty_four_chords_on_the_circle() {
        let line = arc(c(-1.0, 0.0), c(0.0, 1.0), c(1.0, 0.0));
        assert_eq!(line.len(), 65);
        assert_eq!(line[0], c(-1.0, 0.0));
        assert_eq!(line[64], c(1.0, 0.0));
        for p in &line {
            assert!(
                (p.x.hypot(p.y) - 1.0).abs() < 1e-12,
                "{p:?} on the unit circle"
            );
            assert!(
                p.y >= -1e-12,
                "{p:?} on the upper half, through the middle point"
            );
        }
    }

    #[test]
    fn direction_follows_the_middle_point() {
        // Clockwise through the bottom.
        let line = arc(c(-1.0, 0.0), c(0.0, -1.0), c(1.0, 0.0));
        assert!(line.iter().all(|p| p.y <= 1e-12));
        // Three quarters of a circle, counter-clockwise: 96 chords.
        let line = arc(c(1.0, 0.0), c(-1.0, 0.0), c(0.0, -1.0));
        assert_eq!(line.len(), 97);
    }

    #[test]
    fn the_deviation_stays_within_the_stated_tolerance() {
        let radius = 1000.0;
        let line = arc(c(radius, 0.0), c(0.0, radius), c(-radius, 0.0));
        let bound = radius * (1.0 - (STEP_RADIANS / 2.0).cos());
        for pair in line.windows(2) {
            let mid = c((pair[0].x + pair[1].x) / 2.0, (pair[0].y + pair[1].y) / 2.0);
            let deviation = radius - mid.x.hypot(mid.y);
            assert!(deviation <= bound + 1e-9, "{deviation} > {bound}");
        }
    }

    #[test]
    fn whole_circles_and_straight_arcs() {
        let circle = arc(c(1.0, 0.0), c(-1.0, 0.0), c(1.0, 0.0));
        assert_eq!(circle.len(), 129);
        assert_eq!(circle.last(), Some(&c(1.0, 0.0)));
        assert_eq!(
            arc(c(0.0, 0.0), c(1.0, 1.0), c(2.0, 2.0)),
            vec![c(0.0, 0.0), c(1.0, 1.0), c(2.0, 2.0)]
        );
        assert_eq!(arc(c(0.0, 0.0), c(f64::NAN, 1.0), c(2.0, 2.0)).len(), 3);
    }
}
