//! Spherical helpers for generators. Accuracy of a few metres is plenty for made-up footprints.

use geoconsole_model::geo_types::{Coord, LineString, Polygon};

/// Mean Earth radius in metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The point `distance_m` metres from `from` along the initial bearing `bearing_deg` (clockwise from north),
/// on a sphere. Longitude is wrapped into [-180, 180].
pub fn destination(from: Coord<f64>, bearing_deg: f64, distance_m: f64) -> Coord<f64> {
    let (lat1, lon1) = (from.y.to_radians(), from.x.to_radians());
    let (bearing, angular) = (bearing_deg.to_radians(), distance_m / EARTH_RADIUS_M);
    let lat2 = (lat1.sin() * angular.cos() + lat1.cos() * angular.sin() * bearing.cos()).asin();
    let lon2 = lon1
        + (bearing.sin() * angular.sin() * lat1.cos())
            .atan2(angular.cos() - lat1.sin() * lat2.sin());
    let mut lon = lon2.to_degrees();
    if lon > 180.0 {
        lon -= 360.0;
    } else if lon < -180.0 {
        lon += 360.0;
    }
    Coord {
        x: lon,
        y: lat2.to_degrees().clamp(-90.0, 90.0),
    }
}

/// A closed ring through points at `radius_m(bearing)` around `centre`, `steps` vertices.
pub fn ring(centre: Coord<f64>, steps: usize, radius_m: impl Fn(f64) -> f64) -> Polygon<f64> {
    let mut points: Vec<Coord<f64>> = (0..steps)
        .map(|i| i as f64 * 360.0 / steps as f64)
        .map(|b| destination(centre, b, radius_m(b)))
        .collect();
    points.push(points[0]);
    Polygon::new(LineString(points), vec![])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_north_is_about_111_km() {
        let d = destination(Coord { x: 0.0, y: 0.0 }, 0.0, 111_195.0);
        assert!((d.y - 1.0).abs() < 1e-3 && d.x.abs() < 1e-9, "{d:?}");
    }

    #[test]
    fn longitudes_wrap_at_the_antimeridian() {
        let d = destination(Coord { x: 179.9, y: 0.0 }, 90.0, 50_000.0);
        assert!(d.x < -179.0, "{d:?}");
    }
}
