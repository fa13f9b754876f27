//! Clipping in tile coordinates to the tile square plus its buffer: Sutherland–Hodgman for polygon rings
//! (exact for a convex clip window) and Liang–Barsky for line segments.

use geoconsole_model::geo_types::{Coord, LineString, MultiLineString, Polygon};

/// The clip window: `[min, max]` on both axes.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub min: f64,
    pub max: f64,
}

impl Window {
    pub fn contains(&self, c: Coord<f64>) -> bool {
        c.x >= self.min && c.x <= self.max && c.y >= self.min && c.y <= self.max
    }
}

/// Clips a closed ring; the result is closed, or empty when nothing of the ring is inside.
pub fn clip_ring(ring: &LineString<f64>, w: Window) -> LineString<f64> {
    let mut points: Vec<Coord<f64>> = ring.0.clone();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    // Each edge of the window in turn: keep the side inside, add crossings where an edge crosses it.
    type Inside = fn(Coord<f64>, f64) -> bool;
    type Cross = fn(Coord<f64>, Coord<f64>, f64) -> Coord<f64>;
    let edges: [(Inside, Cross, f64); 4] = [
        (|c, v| c.x >= v, cross_x, w.min),
        (|c, v| c.x <= v, cross_x, w.max),
        (|c, v| c.y >= v, cross_y, w.min),
        (|c, v| c.y <= v, cross_y, w.max),
    ];
    for (inside, cross, value) in edges {
        if points.is_empty() {
            break;
        }
        let input = std::mem::take(&mut points);
        let mut previous = input[input.len() - 1];
        for current in input {
            match (inside(current, value), inside(previous, value)) {
                (true, true) => points.push(current),
                (true, false) => {
                    points.push(cross(previous, current, value));
                    points.push(current);
                }
                (false, true) => points.push(cross(previous, current, value)),
                (false, false) => {}
            }
            previous = current;
        }
    }
    if points.len() < 3 {
        return LineString::new(Vec::new());
    }
    points.push(points[0]);
    LineString::new(points)
}

fn cross_x(a: Coord<f64>, b: Coord<f64>, x: f64) -> Coord<f64> {
    let t = (x - a.x) / (b.x - a.x);
    Coord {
        x,
        y: a.y + (b.y - a.y) * t,
    }
}

fn cross_y(a: Coord<f64>, b: Coord<f64>, y: f64) -> Coord<f64> {
    let t = (y - a.y) / (b.y - a.y);
    Coord {
        x: a.x + (b.x - a.x) * t,
        y,
    }
}

/// Clips a polygon: the exterior and every hole; `None` when the exterior falls outside.
pub fn clip_polygon(polygon: &Polygon<f64>, w: Window) -> Option<Polygon<f64>> {
    let exterior = clip_ring(polygon.exterior(), w);
    if exterior.0.is_empty() {
        return None;
    }
    let holes = polygon
        .interiors()
        .iter()
        .map(|h| clip_ring(h, w))
        .filter(|h| !h.0.is_empty())
        .collect();
    Some(Polygon::new(exterior, holes))
}

/// Clips a line into the pieces inside the window.
pub fn clip_line(line: &LineString<f64>, w: Window) -> MultiLineString<f64> {
    let mut pieces = Vec::new();
    let mut current: Vec<Coord<f64>> = Vec::new();
    for segment in line.0.windows(2) {
        match clip_segment(segment[0], segment[1], w) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    if current.len() > 1 {
                        pieces.push(LineString::new(std::mem::take(&mut current)));
                    }
                    current.clear();
                    current.push(a);
                }
                current.push(b);
                // Leaving the window ends this piece.
                if b != segment[1] {
                    pieces.push(LineString::new(std::mem::take(&mut current)));
                }
            }
            None => {
                if current.len() > 1 {
                    pieces.push(LineString::new(std::mem::take(&mut current)));
                }
                current.clear();
            }
        }
    }
    if current.len() > 1 {
        pieces.push(LineString::new(current));
    }
    MultiLineString::new(pieces)
}

/// Liang–Barsky: the part of segment `a`–`b` inside the window.
fn clip_segment(a: Coord<f64>, b: Coord<f64>, w: Window) -> Option<(Coord<f64>, Coord<f64>)> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-dx, a.x - w.min),
        (dx, w.max - a.x),
        (-dy, a.y - w.min),
        (dy, w.max - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
            if t0 > t1 {
                return None;
            }
        }
    }
    let at = |t: f64| Coord {
        x: a.x + dx * t,
        y: a.y + dy * t,
    };
    Some((
        if t0 > 0.0 { at(t0) } else { a },
        if t1 < 1.0 { at(t1) } else { b },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Window = Window {
        min: 0.0,
        max: 10.0,
    };

    #[test]
    fn rings_are_cut_to_the_window() {
        let square = LineString::from(vec![
            (-5.0, -5.0),
            (5.0, -5.0),
            (5.0, 5.0),
            (-5.0, 5.0),
            (-5.0, -5.0),
        ]);
        let clipped = clip_ring(&square, W);
        let mut xs: Vec<(f64, f64)> = clipped.0.iter().map(|c| (c.x, c.y)).collect();
        xs.pop();
        xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        xs.dedup();
        assert_eq!(xs, vec![(0.0, 0.0), (0.0, 5.0), (5.0, 0.0), (5.0, 5.0)]);
        let outside =
            LineString::from(vec![(20.0, 20.0), (30.0, 20.0), (30.0, 30.0), (20.0, 20.0)]);
        assert!(clip_ring(&outside, W).0.is_empty());
    }

    #[test]
    fn lines_split_where_they_leave() {
        let zigzag = LineString::from(vec![
            (-5.0, 5.0),
            (5.0, 5.0),
            (15.0, 5.0),
            (15.0, 8.0),
            (5.0, 8.0),
        ]);
        let pieces = clip_line(&zigzag, W);
        assert_eq!(pieces.0.len(), 2);
        assert_eq!(pieces.0[0].0.first().unwrap().x, 0.0);
        assert_eq!(pieces.0[0].0.last().unwrap().x, 10.0);
        assert_eq!(pieces.0[1].0.first().unwrap().x, 10.0);
        assert!(
            clip_line(&LineString::from(vec![(20.0, 20.0), (30.0, 30.0)]), W)
                .0
                .is_empty()
        );
    }
}
