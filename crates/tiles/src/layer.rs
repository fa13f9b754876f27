//! Turning features into one MVT layer: projection into tile space, clipping with a buffer, simplification
//! to the tile's resolution, integer snapping, MVT winding, and property tags.

use geo::orient::Direction;
use geo::{MapCoords, Orient, Simplify};
use geoconsole_model::Properties;
use geoconsole_model::geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use geozero::ToMvt;
use geozero::mvt::{TagsBuilder, TileValue, tile};
use serde_json::Value;

use crate::clip::{Window, clip_line, clip_polygon};
use crate::math::{BUFFER, EXTENT, TileId};

/// Douglas–Peucker tolerance in tile units (1/8 of a pixel on a 512-pixel tile): invisible, but it removes
/// most vertices of detailed coastlines and boundaries at low zoom.
const SIMPLIFY_UNITS: f64 = 1.0;

/// A group of points too dense to draw one by one, drawn as one point with its count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    /// Tile coordinates of the members' mean position.
    pub x: f64,
    pub y: f64,
    pub count: u32,
}

/// Builds one layer of a tile.
pub struct LayerBuilder {
    name: String,
    tile: TileId,
    features: Vec<tile::Feature>,
    tags: TagsBuilder,
}

impl LayerBuilder {
    pub fn new(name: &str, tile: TileId) -> Self {
        Self {
            name: name.to_string(),
            tile,
            features: Vec::new(),
            tags: TagsBuilder::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Adds a feature given in WGS84. Returns `false` when nothing of it is left inside the tile. Its time
    /// span, in epoch milliseconds, becomes `time_start`/`time_end` (unless properties already use those
    /// names), so a map can filter a loaded tile by time without asking the server again.
    pub fn add_feature(
        &mut self,
        key: i64,
        feature_id: &str,
        geometry: &Geometry<f64>,
        time: Option<(i64, i64)>,
        properties: &Properties,
    ) -> bool {
        let Some(shape) = to_tile_geometry(self.tile, geometry) else {
            return false;
        };
        let Ok(mut feature) = shape.to_mvt_unscaled() else {
            return false;
        };
        feature.id = u64::try_from(key).ok();
        let mut tags = Vec::with_capacity(properties.len() * 2 + 6);
        if let Some((start, end)) = time {
            for (name, ms) in [("time_start", start), ("time_end", end)] {
                if !properties.contains_key(name) {
                    let (k, v) = self.tags.insert_ref(name, TileValue::Sint(ms));
                    tags.extend([k, v]);
                }
            }
        }
        if !feature_id.is_empty() && !properties.contains_key("id") {
            let (k, v) = self
                .tags
                .insert_ref("id", TileValue::Str(feature_id.to_string()));
            tags.extend([k, v]);
        }
        for (name, value) in properties {
            if let Some(value) = tile_value(value) {
                let (k, v) = self.tags.insert_ref(name, value);
                tags.extend([k, v]);
            }
        }
        feature.tags = tags;
        self.features.push(feature);
        true
    }

    /// Adds a cluster of points with its `point_count`.
    pub fn add_cluster(&mut self, cluster: Cluster) {
        let point = Geometry::Point(Point::new(cluster.x.round(), cluster.y.round()));
        let Ok(mut feature) = point.to_mvt_unscaled() else {
            return;
        };
        let (k1, v1) = self
            .tags
            .insert_ref("point_count", TileValue::Uint(u64::from(cluster.count)));
        let (k2, v2) = self
            .tags
            .insert_ref("cluster", TileValue::Bool(cluster.count > 1));
        feature.tags = vec![k1, v1, k2, v2];
        self.features.push(feature);
    }

    pub fn finish(self) -> tile::Layer {
        let (keys, values) = self.tags.into_tags();
        tile::Layer {
            version: 2,
            name: self.name,
            features: self.features,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        }
    }
}

fn tile_value(value: &Value) -> Option<TileValue> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(TileValue::Bool(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(TileValue::Sint(i))
            } else if let Some(u) = n.as_u64() {
                Some(TileValue::Uint(u))
            } else {
                n.as_f64().map(TileValue::Double)
            }
        }
        Value::String(s) => Some(TileValue::Str(s.clone())),
        other => Some(TileValue::Str(other.to_string())),
    }
}

/// Projects, clips, simplifies and snaps a WGS84 geometry to this tile; `None` when nothing remains.
pub fn to_tile_geometry(tile: TileId, geometry: &Geometry<f64>) -> Option<Geometry<f64>> {
    let window = Window {
        min: -f64::from(BUFFER),
        max: f64::from(EXTENT + BUFFER),
    };
    let projected = geometry.map_coords(|c| {
        let (x, y) = tile.project(c.x, c.y);
        Coord { x, y }
    });
    let snap = |c: Coord<f64>| Coord {
        x: c.x.round(),
        y: c.y.round(),
    };
    match projected {
        Geometry::Point(p) => window
            .contains(p.0)
            .then(|| Geometry::Point(Point(snap(p.0)))),
        Geometry::MultiPoint(mp) => {
            let kept: Vec<Point<f64>> =
                mp.0.into_iter()
                    .filter(|p| window.contains(p.0))
                    .map(|p| Point(snap(p.0)))
                    .collect();
            (!kept.is_empty()).then(|| Geometry::MultiPoint(MultiPoint::new(kept)))
        }
        Geometry::LineString(l) => lines(vec![l], window),
        Geometry::Line(l) => lines(vec![LineString::from(vec![l.start, l.end])], window),
        Geometry::MultiLineString(ml) => lines(ml.0, window),
        Geometry::Polygon(p) => polygons(vec![p], window),
        Geometry::Rect(r) => polygons(vec![r.to_polygon()], window),
        Geometry::Triangle(t) => polygons(vec![t.to_polygon()], window),
        Geometry::MultiPolygon(mp) => polygons(mp.0, window),
        Geometry::GeometryCollection(gc) => {
            // MVT has no collections: the polygons, else the lines, else the points stand for it.
            let parts: Vec<Geometry<f64>> =
                gc.0.iter()
                    .filter_map(|g| to_tile_geometry_projected(g, window))
                    .collect();
            parts.into_iter().max_by_key(|g| match g {
                Geometry::MultiPolygon(_) | Geometry::Polygon(_) => 2,
                Geometry::MultiLineString(_) | Geometry::LineString(_) => 1,
                _ => 0,
            })
        }
    }
}

/// The same pipeline for a part already in tile coordinates (members of a collection).
fn to_tile_geometry_projected(geometry: &Geometry<f64>, window: Window) -> Option<Geometry<f64>> {
    match geometry.clone() {
        Geometry::Point(p) => window
            .contains(p.0)
            .then(|| Geometry::Point(Point::new(p.x().round(), p.y().round()))),
        Geometry::LineString(l) => lines(vec![l], window),
        Geometry::MultiLineString(ml) => lines(ml.0, window),
        Geometry::Polygon(p) => polygons(vec![p], window),
        Geometry::MultiPolygon(mp) => polygons(mp.0, window),
        _ => None,
    }
}

fn snap_line(line: &LineString<f64>) -> LineString<f64> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(line.0.len());
    for c in &line.0 {
        let c = Coord {
            x: c.x.round(),
            y: c.y.round(),
        };
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    LineString::new(out)
}

fn lines(parts: Vec<LineString<f64>>, window: Window) -> Option<Geometry<f64>> {
    let mut kept = Vec::new();
    for line in parts {
        for piece in clip_line(&line, window) {
            let piece = snap_line(&piece.simplify(SIMPLIFY_UNITS));
            if piece.0.len() >= 2 {
                kept.push(piece);
            }
        }
    }
    match kept.len() {
        0 => None,
        1 => kept.pop().map(Geometry::LineString),
        _ => Some(Geometry::MultiLineString(MultiLineString::new(kept))),
    }
}

fn polygons(parts: Vec<Polygon<f64>>, window: Window) -> Option<Geometry<f64>> {
    use geo::Area;
    let mut kept = Vec::new();
    for polygon in parts {
        let Some(clipped) = clip_polygon(&polygon, window) else {
            continue;
        };
        let ring = |r: &LineString<f64>| {
            let r = snap_line(&r.simplify(SIMPLIFY_UNITS));
            (r.0.len() >= 4 && Polygon::new(r.clone(), vec![]).unsigned_area() > 0.0).then_some(r)
        };
        let Some(exterior) = ring(clipped.exterior()) else {
            continue;
        };
        let holes = clipped.interiors().iter().filter_map(ring).collect();
        // MVT wants exteriors with positive area by the surveyor's formula in tile coordinates (clockwise
        // on screen, where y grows downwards) and holes the other way: geo's default orientation.
        kept.push(Polygon::new(exterior, holes).orient(Direction::Default));
    }
    match kept.len() {
        0 => None,
        1 => kept.pop().map(Geometry::Polygon),
        _ => Some(Geometry::MultiPolygon(MultiPolygon::new(kept))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;
    use geoconsole_model::geo_types::polygon;

    #[test]
    fn polygons_are_clipped_snapped_and_wound_for_mvt() {
        let tile = TileId::new(1, 1, 0).unwrap();
        // Crosses the tile's west edge (lon 0) and is wound clockwise in lon/lat.
        let p = Geometry::Polygon(
            polygon![(x: -20.0, y: 10.0), (x: -20.0, y: 40.0), (x: 30.0, y: 40.0), (x: 30.0, y: 10.0), (x: -20.0, y: 10.0)],
        );
        let Some(Geometry::Polygon(out)) = to_tile_geometry(tile, &p) else {
            panic!("polygon kept");
        };
        assert!(
            out.exterior()
                .0
                .iter()
                .all(|c| c.x >= -64.0 && c.x.fract() == 0.0)
        );
        assert!(
            out.signed_area() > 0.0,
            "exterior has positive area in tile coordinates"
        );
        let far = Geometry::Point(Point::new(-100.0, -40.0));
        assert!(to_tile_geometry(tile, &far).is_none());
    }
}
