//! Turning features into one MVT layer: projection into tile space, clipping with a buffer, simplification
//! to the tile's resolution, integer snapping, MVT winding, and property tags.

use geo::orient::Direction;
use geo::{MapCoords, Orient, Simplify};
use geoconsole_model::Properties;
use geoconsole_model::geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use std::collections::HashMap;

use foldhash::fast::FixedState;

use geoconsole_index::{Cell, Entry, PropertyTable};
use geozero::ToMvt;
use geozero::mvt::tile;
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
    tags: Tags,
    /// Key index per column of the property table features last came from (`u32::MAX`: not yet used).
    column_keys: Vec<u32>,
    /// Value index per column and dictionary code of that table (`u32::MAX`: not yet used), so a repeated
    /// value is found without hashing it.
    column_values: Vec<Vec<u32>>,
    /// That table's columns named `time_start`, `time_end` and `id`, which a tile writes itself when a
    /// feature lacks them.
    own_columns: [Option<usize>; 3],
}

/// A layer's keys and values, each listed once, in the order first used (the order geozero's `TagsBuilder`
/// gives them), found again without allocating.
/// Hashing short keys per property of every feature drawn is a large part of a tile's cost: a fast hash
/// (the maps hold a tile's own values, so flooding is not a concern).
#[derive(Default)]
struct Tags {
    keys: Vec<String>,
    key_index: HashMap<String, u32, FixedState>,
    values: Vec<tile::Value>,
    strings: HashMap<Box<str>, u32, FixedState>,
    /// Non-text values by kind and bits.
    scalars: HashMap<(u8, u64), u32, FixedState>,
}

impl Tags {
    fn key(&mut self, name: &str) -> u32 {
        if let Some(i) = self.key_index.get(name) {
            return *i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(name.to_string());
        self.key_index.insert(name.to_string(), i);
        i
    }

    fn value(&mut self, cell: Cell<'_>) -> u32 {
        let (kind, bits) = match cell {
            Cell::Str(s) => {
                if let Some(i) = self.strings.get(s) {
                    return *i;
                }
                let i = self.values.len() as u32;
                self.values.push(tile::Value {
                    string_value: Some(s.to_string()),
                    ..Default::default()
                });
                self.strings.insert(s.into(), i);
                return i;
            }
            Cell::Bool(b) => (0, u64::from(b)),
            Cell::Sint(v) => (1, v as u64),
            Cell::Uint(v) => (2, v),
            Cell::Double(v) => (3, v.to_bits()),
        };
        if let Some(i) = self.scalars.get(&(kind, bits)) {
            return *i;
        }
        let i = self.values.len() as u32;
        self.values.push(match cell {
            Cell::Bool(b) => tile::Value {
                bool_value: Some(b),
                ..Default::default()
            },
            Cell::Sint(v) => tile::Value {
                sint_value: Some(v),
                ..Default::default()
            },
            Cell::Uint(v) => tile::Value {
                uint_value: Some(v),
                ..Default::default()
            },
            Cell::Double(v) => tile::Value {
                double_value: Some(v),
                ..Default::default()
            },
            Cell::Str(_) => unreachable!("text is listed above"),
        });
        self.scalars.insert((kind, bits), i);
        i
    }

    fn push(&mut self, tags: &mut Vec<u32>, name: &str, cell: Cell<'_>) {
        let k = self.key(name);
        let v = self.value(cell);
        tags.extend([k, v]);
    }
}

/// The properties a tile writes itself, from the feature's time span and id, unless the feature has them.
const OWN_NAMES: [&str; 3] = ["time_start", "time_end", "id"];

/// MVT's zigzag encoding of a parameter.
fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

/// A point feature at integer tile coordinates (MoveTo 1, x, y), as geozero encodes one.
fn point_feature(x: f64, y: f64) -> tile::Feature {
    tile::Feature {
        id: None,
        tags: Vec::new(),
        r#type: Some(tile::GeomType::Point as i32),
        geometry: vec![9, zigzag(x as i32), zigzag(y as i32)],
    }
}

impl LayerBuilder {
    pub fn new(name: &str, tile: TileId) -> Self {
        Self {
            name: name.to_string(),
            tile,
            features: Vec::new(),
            tags: Tags::default(),
            column_keys: Vec::new(),
            column_values: Vec::new(),
            own_columns: [None; 3],
        }
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// The tile geometry of a WGS84 shape: points go straight to integer tile coordinates; other shapes
    /// are projected, clipped and simplified.
    fn geometry(&self, geometry: &Geometry<f64>) -> Option<tile::Feature> {
        if let Geometry::Point(p) = geometry {
            return self.point(p.x(), p.y());
        }
        to_tile_geometry(self.tile, geometry)?
            .to_mvt_unscaled()
            .ok()
    }

    fn point(&self, lon: f64, lat: f64) -> Option<tile::Feature> {
        let (x, y) = self.tile.project(lon, lat);
        let window = Window {
            min: -f64::from(BUFFER),
            max: f64::from(EXTENT + BUFFER),
        };
        window
            .contains(Coord { x, y })
            .then(|| point_feature(x.round(), y.round()))
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
        let Some(mut feature) = self.geometry(geometry) else {
            return false;
        };
        feature.id = u64::try_from(key).ok();
        let mut tags = Vec::with_capacity(properties.len() * 2 + 6);
        if let Some((start, end)) = time {
            for (name, ms) in [("time_start", start), ("time_end", end)] {
                if !properties.contains_key(name) {
                    self.tags.push(&mut tags, name, Cell::Sint(ms));
                }
            }
        }
        if !feature_id.is_empty() && !properties.contains_key("id") {
            self.tags.push(&mut tags, "id", Cell::Str(feature_id));
        }
        for (name, value) in properties {
            let text;
            let cell = match value {
                Value::Null => continue,
                Value::Bool(b) => Cell::Bool(*b),
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        Cell::Sint(i)
                    } else if let Some(u) = n.as_u64() {
                        Cell::Uint(u)
                    } else if let Some(f) = n.as_f64() {
                        Cell::Double(f)
                    } else {
                        continue;
                    }
                }
                Value::String(s) => Cell::Str(s),
                other => {
                    text = other.to_string();
                    Cell::Str(&text)
                }
            };
            self.tags.push(&mut tags, name, cell);
        }
        feature.tags = tags;
        self.features.push(feature);
        true
    }

    /// Adds a feature whose id and properties are `slot` of `table`: the same tile as [`Self::add_feature`]
    /// with that feature's properties, without making them into JSON first. A layer takes its features
    /// from one table.
    pub fn add_from_table(
        &mut self,
        key: i64,
        geometry: &Geometry<f64>,
        time: Option<(i64, i64)>,
        table: &PropertyTable,
        slot: u32,
    ) -> bool {
        self.add_shaped_from_table(key, self.geometry(geometry), time, table, slot)
    }

    /// [`Self::add_from_table`] for a point.
    pub fn add_point_from_table(
        &mut self,
        key: i64,
        [lon, lat]: [f64; 2],
        time: Option<(i64, i64)>,
        table: &PropertyTable,
        slot: u32,
    ) -> bool {
        self.add_shaped_from_table(key, self.point(lon, lat), time, table, slot)
    }

    fn add_shaped_from_table(
        &mut self,
        key: i64,
        feature: Option<tile::Feature>,
        time: Option<(i64, i64)>,
        table: &PropertyTable,
        slot: u32,
    ) -> bool {
        let Some(mut feature) = feature else {
            return false;
        };
        feature.id = u64::try_from(key).ok();
        let columns = table.column_count();
        if self.column_keys.len() != columns {
            self.column_keys = vec![u32::MAX; columns];
            self.column_values = (0..columns)
                .map(|c| vec![u32::MAX; table.codes(c)])
                .collect();
            self.own_columns = OWN_NAMES.map(|name| table.column(name));
        }
        let has = |own: usize| {
            self.own_columns[own].is_some_and(|c| table.entry(c, slot) != Entry::Absent)
        };
        let mut tags = Vec::with_capacity(columns * 2 + 6);
        if let Some((start, end)) = time {
            for (own, ms) in [(0, start), (1, end)] {
                if !has(own) {
                    self.tags.push(&mut tags, OWN_NAMES[own], Cell::Sint(ms));
                }
            }
        }
        let feature_id = table.id(slot);
        if !feature_id.is_empty() && !has(2) {
            self.tags.push(&mut tags, "id", Cell::Str(feature_id));
        }
        for (column, name) in table.names().enumerate() {
            let Entry::Value(cell) = table.entry(column, slot) else {
                continue;
            };
            let k = match self.column_keys[column] {
                u32::MAX => {
                    let k = self.tags.key(name);
                    self.column_keys[column] = k;
                    k
                }
                k => k,
            };
            let v = match table.code(column, slot) {
                Some(code) => match self.column_values[column][code] {
                    u32::MAX => {
                        let v = self.tags.value(cell);
                        self.column_values[column][code] = v;
                        v
                    }
                    v => v,
                },
                None => self.tags.value(cell),
            };
            tags.extend([k, v]);
        }
        feature.tags = tags;
        self.features.push(feature);
        true
    }

    /// Adds a cluster of points with its `point_count`.
    pub fn add_cluster(&mut self, cluster: Cluster) {
        let mut feature = point_feature(cluster.x.round(), cluster.y.round());
        let mut tags = Vec::with_capacity(4);
        self.tags.push(
            &mut tags,
            "point_count",
            Cell::Uint(u64::from(cluster.count)),
        );
        self.tags
            .push(&mut tags, "cluster", Cell::Bool(cluster.count > 1));
        feature.tags = tags;
        self.features.push(feature);
    }

    pub fn finish(self) -> tile::Layer {
        tile::Layer {
            version: 2,
            name: self.name,
            features: self.features,
            keys: self.tags.keys,
            values: self.tags.values,
            extent: Some(EXTENT),
        }
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
    fn keys_and_values_are_listed_as_geozero_lists_them() {
        use geozero::mvt::{TagsBuilder, TileValue};
        let cells = [
            ("a", Cell::Str("x")),
            ("b", Cell::Sint(-3)),
            ("a", Cell::Str("y")),
            ("c", Cell::Double(0.5)),
            ("b", Cell::Uint(3)),
            ("d", Cell::Bool(true)),
            ("a", Cell::Str("x")),
            ("c", Cell::Double(0.5)),
            ("e", Cell::Sint(3)),
            ("d", Cell::Bool(false)),
            ("f", Cell::Double(0.25)),
        ];
        let (mut ours, mut theirs) = (Tags::default(), TagsBuilder::new());
        for (name, cell) in cells {
            let value = match cell {
                Cell::Str(s) => TileValue::Str(s.to_string()),
                Cell::Sint(v) => TileValue::Sint(v),
                Cell::Uint(v) => TileValue::Uint(v),
                Cell::Double(v) => TileValue::Double(v),
                Cell::Bool(v) => TileValue::Bool(v),
            };
            assert_eq!(
                (ours.key(name), ours.value(cell)),
                theirs.insert_ref(name, value),
                "{name} {cell:?}"
            );
        }
        let (keys, values) = theirs.into_tags();
        assert_eq!(ours.keys, keys);
        let values: Vec<tile::Value> = values.into_iter().map(Into::into).collect();
        assert_eq!(ours.values, values);
    }

    #[test]
    fn points_encode_as_geozero_encodes_them() {
        let tile = TileId::new(3, 4, 2).unwrap();
        let layer = LayerBuilder::new("p", tile);
        for (lon, lat) in [(10.0, 45.0), (0.0, 66.5), (44.99, 40.98), (3.3, 60.1)] {
            let ours = layer.point(lon, lat);
            let theirs = to_tile_geometry(tile, &Geometry::Point(Point::new(lon, lat)))
                .map(|g| g.to_mvt_unscaled().unwrap());
            assert_eq!(ours, theirs, "{lon} {lat}");
        }
    }

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
