//! Web Mercator tile math (the WebMercatorQuad tile matrix set): tile ids, projection of WGS84 positions
//! into a tile's integer coordinate space, and the WGS84 box a tile (with its buffer) covers.

use std::fmt;

use geoconsole_model::Bbox;

/// Highest zoom served. Beyond it a tile covers less than 10 m and nothing new is learnt.
pub const MAX_ZOOM: u8 = 22;
/// Tile coordinate space per side, as Mapbox GL and MapLibre expect.
pub const EXTENT: u32 = 4096;
/// Tile units kept beyond each edge so lines and labels continue across tile seams.
pub const BUFFER: u32 = 64;
/// Web Mercator's latitude limit: the projection maps it to the square's edge.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// One tile of the WebMercatorQuad pyramid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// Checks that the tile exists at its zoom.
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, String> {
        if z > u32::from(MAX_ZOOM) {
            return Err(format!("zoom {z} is above the maximum {MAX_ZOOM}"));
        }
        let side = 1u64 << z;
        if u64::from(x) >= side || u64::from(y) >= side {
            return Err(format!(
                "tile {z}/{x}/{y} does not exist: x and y must be below {side} at zoom {z}"
            ));
        }
        Ok(Self { z: z as u8, x, y })
    }

    fn side(&self) -> f64 {
        (1u64 << self.z) as f64
    }

    /// Projects a WGS84 position into this tile's coordinate space (0..EXTENT inside the tile; y grows
    /// southwards).
    pub fn project(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (mx, my) = mercator_unit(lon, lat);
        let side = self.side();
        let scale = f64::from(EXTENT);
        (
            (mx * side - f64::from(self.x)) * scale,
            (my * side - f64::from(self.y)) * scale,
        )
    }

    /// The WGS84 box this tile covers, widened by `buffer` tile units on every side (clamped to the world).
    pub fn bbox(&self, buffer: u32) -> Bbox {
        let side = self.side();
        let pad = f64::from(buffer) / f64::from(EXTENT);
        let lon = |tx: f64| (tx / side * 360.0 - 180.0).clamp(-180.0, 180.0);
        let lat = |ty: f64| {
            let n = std::f64::consts::PI * (1.0 - 2.0 * ty / side);
            n.sinh().atan().to_degrees().clamp(-90.0, 90.0)
        };
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        // At the top and bottom rows the box reaches the poles, so features beyond Mercator's limit still
        // land on the edge row instead of vanishing.
        let north = if self.y == 0 { 90.0 } else { lat(y - pad) };
        let south = if u64::from(self.y) + 1 == 1u64 << self.z {
            -90.0
        } else {
            lat(y + 1.0 + pad)
        };
        Bbox {
            west: lon(x - pad),
            south,
            east: lon(x + 1.0 + pad),
            north,
        }
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Web Mercator in unit square coordinates: (0, 0) at 180°W, 85.05°N; (1, 1) at 180°E, 85.05°S.
pub fn mercator_unit(lon: f64, lat: f64) -> (f64, f64) {
    let x = (lon + 180.0) / 360.0;
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_ids_are_checked() {
        assert!(TileId::new(0, 0, 0).is_ok());
        assert!(TileId::new(0, 1, 0).is_err());
        assert!(TileId::new(3, 7, 7).is_ok());
        assert!(TileId::new(3, 8, 0).is_err());
        assert!(TileId::new(23, 0, 0).is_err());
    }

    #[test]
    fn projection_places_known_points() {
        let world = TileId::new(0, 0, 0).unwrap();
        let (x, y) = world.project(0.0, 0.0);
        assert!((x - 2048.0).abs() < 1e-9 && (y - 2048.0).abs() < 1e-9);
        let (x, y) = world.project(-180.0, MAX_LATITUDE);
        assert!(x.abs() < 1e-9 && y.abs() < 1e-6);
        // z1 tile 1/1/0 is the north-east quadrant.
        let ne = TileId::new(1, 1, 0).unwrap();
        let (x, y) = ne.project(90.0, 0.0);
        assert!((x - 2048.0).abs() < 1e-9 && (y - 4096.0).abs() < 1e-6);
        let b = ne.bbox(0);
        assert!(
            (b.west - 0.0).abs() < 1e-9 && (b.east - 180.0).abs() < 1e-9 && b.south.abs() < 1e-9
        );
    }
}
