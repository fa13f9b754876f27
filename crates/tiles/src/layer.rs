//! Turning features into one MVT layer: projection into tile space, clipping with a buffer, simplification
//! to the tile's resolution, integer snapping, MVT winding, and property tags.

use geo::orient::Direction;
use geo::{MapCoords, Orient, Simplify};
use geoconsole_model::Properties;
use geoconsole_model::geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon,
    Point, Polygon,
};
use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use geoconsole_index::{Cell, Entry, PropertyTable, Shape};
use geozero::ToMvt;
use geozero::mvt::tile;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
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

/// Builds one layer of a tile, encoding each feature as it is added: a feature is written straight into the
/// layer's buffer as its MVT message, so drawing a feature allocates nothing (no message struct, no tag or
/// geometry list of its own) and the finished layer is never walked again to be encoded.
pub struct LayerBuilder {
    tile: TileId,
    /// The layer message so far: its name (field 1), then every feature added (field 2), in order.
    encoded: Vec<u8>,
    features: usize,
    /// One feature's tags, reused from feature to feature.
    scratch: Vec<u32>,
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

/// A feature to draw from a property table: its key, time span and shape (from the snapshot) and the row
/// its values sit in ([`PropertyTable::row`] of its slot).
#[derive(Debug, Clone, Copy)]
pub struct TableFeature<'a> {
    pub key: i64,
    pub time: Option<(i64, i64)>,
    pub shape: Shape<'a>,
    pub row: usize,
}

/// One finished layer: the bytes of its MVT `Layer` message and how many features it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedLayer {
    bytes: Vec<u8>,
    features: usize,
}

impl EncodedLayer {
    pub fn len(&self) -> usize {
        self.features
    }

    pub fn is_empty(&self) -> bool {
        self.features == 0
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A layer's keys and values, each listed once, in the order first used (the order geozero's `TagsBuilder`
/// gives them), found again without allocating.
/// Hashing short keys per property of every feature drawn is a large part of a tile's cost: a fast hash
/// (the maps hold a tile's own values, so flooding is not a concern).
#[derive(Default)]
struct Tags {
    keys: Vec<String>,
    key_index: HashMap<String, u32, FixedState>,
    /// The layer's `values` (field 4), already in wire form: a value is written once, when first listed,
    /// so no `tile::Value` (and for ids no `String`) is made per feature drawn.
    values: Vec<u8>,
    value_count: u32,
    /// Text values listed so far, found by their bytes where `values` holds them: a tile lists a text per
    /// feature for a column of distinct values (timestamps), and a key of its own for each would be an
    /// allocation per feature drawn.
    strings: HashTable<ListedText>,
    hasher: FixedState,
    /// Non-text values by kind and bits.
    scalars: HashMap<(u8, u64), u32, FixedState>,
}

/// A text value in a layer's list: its index, and where its bytes sit in the list's wire form.
#[derive(Clone, Copy)]
struct ListedText {
    index: u32,
    start: u32,
    len: u32,
}

impl ListedText {
    /// The text's bytes in the layer's value list.
    fn bytes<'v>(&self, values: &'v [u8]) -> &'v [u8] {
        &values[self.start as usize..(self.start + self.len) as usize]
    }
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
                let Self {
                    values,
                    strings,
                    hasher,
                    ..
                } = self;
                let hash = hasher.hash_one(s.as_bytes());
                if let Some(t) = strings.find(hash, |t| t.bytes(values) == s.as_bytes()) {
                    return t.index;
                }
                let index = self.list(cell);
                let listed = ListedText {
                    index,
                    start: (self.values.len() - s.len()) as u32,
                    len: s.len() as u32,
                };
                let Self {
                    values,
                    strings,
                    hasher,
                    ..
                } = self;
                strings.insert_unique(hash, listed, |t| hasher.hash_one(t.bytes(values)));
                return index;
            }
            Cell::Bool(b) => (0, u64::from(b)),
            Cell::Sint(v) => (1, v as u64),
            Cell::Uint(v) => (2, v),
            Cell::Double(v) => (3, v.to_bits()),
        };
        if let Some(i) = self.scalars.get(&(kind, bits)) {
            return *i;
        }
        let i = self.list(cell);
        self.scalars.insert((kind, bits), i);
        i
    }

    /// Room for `more` text values and their bytes without growing.
    fn reserve_texts(&mut self, more: usize) {
        let Self {
            values,
            strings,
            hasher,
            ..
        } = self;
        strings.reserve(more, |t| hasher.hash_one(t.bytes(values)));
        values.reserve(more * TEXT_VALUE_BYTES);
    }

    /// A text value listed without looking for it first, for text known to differ from every other (ids).
    fn unique_text(&mut self, text: &str) -> u32 {
        self.list(Cell::Str(text))
    }

    /// Appends a `Value` message holding `cell` as prost would write it (MVT 2.1 §4.1: one of
    /// `string_value` 1, `double_value` 3, `uint_value` 5, `sint_value` 6, `bool_value` 7) and returns
    /// its index.
    fn list(&mut self, cell: Cell<'_>) -> u32 {
        use prost::encoding::{bool, double, sint64, uint64};
        let out = &mut self.values;
        let inner = match cell {
            Cell::Str(s) => {
                prost::encoding::key_len(1) + encoded_len_varint(s.len() as u64) + s.len()
            }
            Cell::Double(v) => double::encoded_len(3, &v),
            Cell::Uint(v) => uint64::encoded_len(5, &v),
            Cell::Sint(v) => sint64::encoded_len(6, &v),
            Cell::Bool(v) => bool::encoded_len(7, &v),
        };
        encode_key(4, WireType::LengthDelimited, out);
        encode_varint(inner as u64, out);
        match cell {
            Cell::Str(s) => {
                encode_key(1, WireType::LengthDelimited, out);
                encode_varint(s.len() as u64, out);
                out.extend_from_slice(s.as_bytes());
            }
            Cell::Double(v) => double::encode(3, &v, out),
            Cell::Uint(v) => uint64::encode(5, &v, out),
            Cell::Sint(v) => sint64::encode(6, &v, out),
            Cell::Bool(v) => bool::encode(7, &v, out),
        }
        self.value_count += 1;
        self.value_count - 1
    }

    fn push(&mut self, tags: &mut Vec<u32>, name: &str, cell: Cell<'_>) {
        let k = self.key(name);
        let v = self.value(cell);
        tags.extend([k, v]);
    }
}

/// About what one point feature's message takes in a layer (key, id, a few tags, its geometry), to size
/// the layer's buffer once.
const FEATURE_BYTES: usize = 40;
/// About what a listed text value of a column of one value per feature takes (timestamps, names).
const TEXT_VALUE_BYTES: usize = 32;

/// Where one column's cells for the features being drawn start: in the gathered codes (a dictionary
/// column) or the gathered entries (the others).
#[derive(Clone, Copy)]
enum Gathered {
    Codes(usize),
    Entries(usize),
}

/// A column's key, or a code's value index, not listed in the layer yet.
const UNSEEN: u32 = u32::MAX;
/// A code whose value a tile leaves out (absent or null).
const LEFT_OUT: u32 = u32::MAX - 1;

/// The properties a tile writes itself, from the feature's time span and id, unless the feature has them.
const OWN_NAMES: [&str; 3] = ["time_start", "time_end", "id"];

/// MVT's zigzag encoding of a parameter.
fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

/// A point at integer tile coordinates as MVT geometry: MoveTo 1, x, y (as geozero encodes one).
fn point_geometry(x: f64, y: f64) -> [u32; 3] {
    [9, zigzag(x as i32), zigzag(y as i32)]
}

/// What a feature's shape becomes on this tile: MVT geometries (type and command integers). A collection
/// that mixes kinds becomes one geometry per kind, since MVT has no collections.
enum TileShape {
    Point([u32; 3]),
    Parts(Vec<(tile::GeomType, Vec<u32>)>),
}

impl TileShape {
    fn parts(&self) -> impl Iterator<Item = (tile::GeomType, &[u32])> {
        let (point, parts) = match self {
            TileShape::Point(g) => (Some((tile::GeomType::Point, g.as_slice())), &[][..]),
            TileShape::Parts(parts) => (None, parts.as_slice()),
        };
        point
            .into_iter()
            .chain(parts.iter().map(|(kind, g)| (*kind, g.as_slice())))
    }
}

/// Bytes of a packed list of varints.
fn packed_len(values: &[u32]) -> usize {
    values
        .iter()
        .map(|v| encoded_len_varint(u64::from(*v)))
        .sum()
}

/// Appends one MVT `Feature` message as field 2 of a layer, byte for byte as prost encodes the message
/// (fields in tag order, packed lists, empty lists left out).
fn encode_feature(
    out: &mut Vec<u8>,
    id: Option<u64>,
    tags: &[u32],
    kind: tile::GeomType,
    geometry: &[u32],
) {
    let (tags_len, geometry_len) = (packed_len(tags), packed_len(geometry));
    let field = |len: usize| 1 + encoded_len_varint(len as u64) + len;
    let mut len = 1 + encoded_len_varint(kind as u64);
    if let Some(id) = id {
        len += 1 + encoded_len_varint(id);
    }
    if !tags.is_empty() {
        len += field(tags_len);
    }
    if !geometry.is_empty() {
        len += field(geometry_len);
    }
    encode_key(2, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
    if let Some(id) = id {
        encode_key(1, WireType::Varint, out);
        encode_varint(id, out);
    }
    for (tag, values, values_len) in [(2, tags, tags_len), (4, geometry, geometry_len)] {
        if tag == 4 {
            encode_key(3, WireType::Varint, out);
            encode_varint(kind as u64, out);
        }
        if values.is_empty() {
            continue;
        }
        encode_key(tag, WireType::LengthDelimited, out);
        encode_varint(values_len as u64, out);
        for v in values {
            encode_varint(u64::from(*v), out);
        }
    }
}

impl LayerBuilder {
    pub fn new(name: &str, tile: TileId) -> Self {
        let mut encoded = Vec::with_capacity(4096);
        prost::encoding::string::encode(1, &name.to_string(), &mut encoded);
        Self {
            tile,
            encoded,
            features: 0,
            scratch: Vec::new(),
            tags: Tags::default(),
            column_keys: Vec::new(),
            column_values: Vec::new(),
            own_columns: [None; 3],
        }
    }

    pub fn len(&self) -> usize {
        self.features
    }

    pub fn is_empty(&self) -> bool {
        self.features == 0
    }

    /// The tile geometry of a WGS84 shape: points go straight to integer tile coordinates; other shapes
    /// are projected, clipped and simplified.
    fn geometry(&self, geometry: &Geometry<f64>) -> Option<TileShape> {
        if let Geometry::Point(p) = geometry {
            return self.point(p.x(), p.y());
        }
        let encode = |g: Geometry<f64>| {
            let f = g.to_mvt_unscaled().ok()?;
            let kind = tile::GeomType::try_from(f.r#type?).ok()?;
            Some((kind, f.geometry))
        };
        let parts: Vec<(tile::GeomType, Vec<u32>)> = match to_tile_geometry(self.tile, geometry)? {
            Geometry::GeometryCollection(gc) => gc.0.into_iter().filter_map(encode).collect(),
            g => encode(g).into_iter().collect(),
        };
        (!parts.is_empty()).then_some(TileShape::Parts(parts))
    }

    fn point(&self, lon: f64, lat: f64) -> Option<TileShape> {
        let (x, y) = self.tile.project(lon, lat);
        let window = Window {
            min: -f64::from(BUFFER),
            max: f64::from(EXTENT + BUFFER),
        };
        window
            .contains(Coord { x, y })
            .then(|| TileShape::Point(point_geometry(x.round(), y.round())))
    }

    /// Writes the feature with the tags gathered in `scratch`, once per part of its shape.
    fn push(&mut self, key: Option<i64>, shape: &TileShape) {
        let id = key.and_then(|k| u64::try_from(k).ok());
        for (kind, geometry) in shape.parts() {
            encode_feature(&mut self.encoded, id, &self.scratch, kind, geometry);
            self.features += 1;
        }
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
        let Some(shape) = self.geometry(geometry) else {
            return false;
        };
        let mut tags = std::mem::take(&mut self.scratch);
        tags.clear();
        if let Some((start, end)) = time {
            for (name, ms) in [("time_start", start), ("time_end", end)] {
                if !properties.contains_key(name) {
                    self.tags.push(&mut tags, name, Cell::Sint(ms));
                }
            }
        }
        if !feature_id.is_empty() && !properties.contains_key("id") {
            let k = self.tags.key("id");
            let v = self.tags.unique_text(feature_id);
            tags.extend([k, v]);
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
        self.scratch = tags;
        self.push(Some(key), &shape);
        true
    }

    /// Adds features whose ids and properties are slots of `table`, in the order given: the same tile as
    /// [`Self::add_feature`] with each feature's properties, without making them into JSON first. A layer
    /// takes its features from one table.
    pub fn add_from_table(&mut self, features: &[TableFeature<'_>], table: &PropertyTable) {
        let columns = table.column_count();
        if self.column_keys.len() != columns {
            self.column_keys = vec![u32::MAX; columns];
            self.column_values = (0..columns)
                .map(|c| vec![u32::MAX; table.codes(c)])
                .collect();
            self.own_columns = OWN_NAMES.map(|name| table.column(name));
        }
        // A tile's rows lie in a few runs of the table (rows follow the tree's order) but are drawn in key
        // order. Read first in tight loops, column by column, the misses of many features overlap instead of
        // each waiting for the one before; drawing then reads only what was gathered.
        let n = features.len();
        // Sized once for the features to come (their messages, and a text value each for every column of
        // one value per feature): grown by doubling, the buffers and the text table were copied and
        // rehashed several times per tile.
        let plain_columns = (0..columns).filter(|c| table.codes(*c) == 0).count();
        self.encoded.reserve(n * FEATURE_BYTES);
        self.tags.reserve_texts(n * plain_columns);
        let rows: Vec<usize> = features.iter().map(|f| f.row).collect();
        let ids: Vec<&str> = rows.iter().map(|row| table.id_in_row(*row)).collect();
        // A dictionary column is read as codes (its values are looked up once per code, below); the others
        // as entries.
        let (mut codes, mut entries) = (Vec::new(), Vec::new());
        let gathered: Vec<Gathered> = (0..columns)
            .map(|column| {
                let at = codes.len();
                if table.codes_in_rows(column, &rows, &mut codes) {
                    Gathered::Codes(at)
                } else {
                    let at = entries.len();
                    table.entries_in_rows(column, &rows, &mut entries);
                    Gathered::Entries(at)
                }
            })
            .collect();
        let own_columns = self.own_columns;
        for (i, feature) in features.iter().enumerate() {
            let shape = match feature.shape {
                Shape::Point([lon, lat]) => self.point(lon, lat),
                Shape::Geometry(g) => self.geometry(g),
            };
            let Some(shape) = shape else {
                continue;
            };
            let has = |own: usize| {
                own_columns[own].is_some_and(|c| match gathered[c] {
                    Gathered::Codes(at) => {
                        table.entry_of_code(c, codes[at + i] as usize) != Entry::Absent
                    }
                    Gathered::Entries(at) => entries[at + i] != Entry::Absent,
                })
            };
            let (has_start, has_end, has_id) = (has(0), has(1), has(2));
            let mut tags = std::mem::take(&mut self.scratch);
            tags.clear();
            if let Some((start, end)) = feature.time {
                for (own, ms, present) in [(0, start, has_start), (1, end, has_end)] {
                    if !present {
                        self.tags.push(&mut tags, OWN_NAMES[own], Cell::Sint(ms));
                    }
                }
            }
            if !ids[i].is_empty() && !has_id {
                // Ids are unique: looking each one up among the layer's values would never find it.
                let k = self.tags.key("id");
                let v = self.tags.unique_text(ids[i]);
                tags.extend([k, v]);
            }
            for (column, name) in table.names().enumerate() {
                let v = match gathered[column] {
                    Gathered::Codes(at) => {
                        let code = codes[at + i] as usize;
                        match self.column_values[column][code] {
                            UNSEEN => {
                                let v = match table.entry_of_code(column, code) {
                                    Entry::Absent | Entry::Null => LEFT_OUT,
                                    Entry::Value(cell) => self.tags.value(cell),
                                };
                                self.column_values[column][code] = v;
                                v
                            }
                            v => v,
                        }
                    }
                    Gathered::Entries(at) => match entries[at + i] {
                        Entry::Absent | Entry::Null => LEFT_OUT,
                        Entry::Value(cell) => self.tags.value(cell),
                    },
                };
                if v == LEFT_OUT {
                    continue;
                }
                let k = match self.column_keys[column] {
                    UNSEEN => {
                        let k = self.tags.key(name);
                        self.column_keys[column] = k;
                        k
                    }
                    k => k,
                };
                tags.extend([k, v]);
            }
            self.scratch = tags;
            self.push(Some(feature.key), &shape);
        }
    }

    /// Adds a cluster of points with its `point_count`.
    pub fn add_cluster(&mut self, cluster: Cluster) {
        let shape = TileShape::Point(point_geometry(cluster.x.round(), cluster.y.round()));
        let mut tags = std::mem::take(&mut self.scratch);
        tags.clear();
        self.tags.push(
            &mut tags,
            "point_count",
            Cell::Uint(u64::from(cluster.count)),
        );
        self.tags
            .push(&mut tags, "cluster", Cell::Bool(cluster.count > 1));
        self.scratch = tags;
        self.push(None, &shape);
    }

    /// The layer message: name and features as added, then keys, values, extent and version, in the
    /// order prost writes a `Layer`'s fields.
    pub fn finish(self) -> EncodedLayer {
        let mut bytes = self.encoded;
        for key in &self.tags.keys {
            prost::encoding::string::encode(3, key, &mut bytes);
        }
        bytes.extend_from_slice(&self.tags.values);
        prost::encoding::uint32::encode(5, &EXTENT, &mut bytes);
        prost::encoding::uint32::encode(15, &2, &mut bytes);
        EncodedLayer {
            bytes,
            features: self.features,
        }
    }
}

/// Projects, clips, simplifies and snaps a WGS84 geometry to this tile; `None` when nothing remains. A
/// collection comes back as a collection of one geometry per kind it mixes (polygons, lines, points), or as
/// that one geometry when it holds a single kind.
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
            // MVT has no collections: the members of each kind join into one geometry (polygons, lines,
            // points), which the layer writes as a feature each, with the same id and tags.
            let (mut areas, mut paths, mut spots) = (Vec::new(), Vec::new(), Vec::new());
            for part in members(&gc)
                .into_iter()
                .filter_map(|g| to_tile_geometry_projected(g, window))
            {
                match part {
                    Geometry::Polygon(p) => areas.push(p),
                    Geometry::MultiPolygon(mp) => areas.extend(mp.0),
                    Geometry::LineString(l) => paths.push(l),
                    Geometry::MultiLineString(ml) => paths.extend(ml.0),
                    Geometry::Point(p) => spots.push(p),
                    Geometry::MultiPoint(mp) => spots.extend(mp.0),
                    _ => {}
                }
            }
            let mut kinds: Vec<Geometry<f64>> = Vec::with_capacity(3);
            match areas.len() {
                0 => {}
                1 => kinds.extend(areas.pop().map(Geometry::Polygon)),
                _ => kinds.push(Geometry::MultiPolygon(MultiPolygon::new(areas))),
            }
            match paths.len() {
                0 => {}
                1 => kinds.extend(paths.pop().map(Geometry::LineString)),
                _ => kinds.push(Geometry::MultiLineString(MultiLineString::new(paths))),
            }
            match spots.len() {
                0 => {}
                1 => kinds.extend(spots.pop().map(Geometry::Point)),
                _ => kinds.push(Geometry::MultiPoint(MultiPoint::new(spots))),
            }
            match kinds.len() {
                0 => None,
                1 => kinds.pop(),
                _ => Some(Geometry::GeometryCollection(GeometryCollection::new_from(
                    kinds,
                ))),
            }
        }
    }
}

/// The members of a collection, with those of collections nested in it, in order (without recursion: a
/// file may nest collections deeply).
fn members(collection: &GeometryCollection<f64>) -> Vec<&Geometry<f64>> {
    let mut out = Vec::new();
    let mut stack: Vec<&Geometry<f64>> = collection.0.iter().rev().collect();
    while let Some(g) = stack.pop() {
        match g {
            Geometry::GeometryCollection(inner) => stack.extend(inner.0.iter().rev()),
            other => out.push(other),
        }
    }
    out
}

/// The same pipeline for a part already in tile coordinates (members of a collection).
fn to_tile_geometry_projected(geometry: &Geometry<f64>, window: Window) -> Option<Geometry<f64>> {
    match geometry.clone() {
        Geometry::Point(p) => window
            .contains(p.0)
            .then(|| Geometry::Point(Point::new(p.x().round(), p.y().round()))),
        Geometry::MultiPoint(mp) => {
            let kept: Vec<Point<f64>> =
                mp.0.into_iter()
                    .filter(|p| window.contains(p.0))
                    .map(|p| Point::new(p.x().round(), p.y().round()))
                    .collect();
            (!kept.is_empty()).then(|| Geometry::MultiPoint(MultiPoint::new(kept)))
        }
        Geometry::Line(l) => lines(vec![LineString::from(vec![l.start, l.end])], window),
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
        let mut listed = Vec::new();
        for value in values {
            prost::encoding::message::encode(4, &tile::Value::from(value), &mut listed);
        }
        assert_eq!(ours.values, listed);
    }

    #[test]
    fn points_encode_as_geozero_encodes_them() {
        let tile = TileId::new(3, 4, 2).unwrap();
        let layer = LayerBuilder::new("p", tile);
        for (lon, lat) in [(10.0, 45.0), (0.0, 66.5), (44.99, 40.98), (3.3, 60.1)] {
            let ours = match layer.point(lon, lat) {
                Some(TileShape::Point(g)) => Some(g.to_vec()),
                _ => None,
            };
            let theirs = to_tile_geometry(tile, &Geometry::Point(Point::new(lon, lat)))
                .map(|g| g.to_mvt_unscaled().unwrap().geometry);
            assert_eq!(ours, theirs, "{lon} {lat}");
        }
    }

    /// A layer of every kind of feature: points from properties, a polygon, a line, a cluster, a feature
    /// without an id, values repeated and not.
    fn mixed_layer() -> EncodedLayer {
        use geoconsole_model::geo_types::line_string;
        let tile = TileId::new(4, 8, 5).unwrap();
        let mut layer = LayerBuilder::new("mixed", tile);
        let mut props = Properties::new();
        props.insert("name".into(), Value::from("a"));
        props.insert("n".into(), Value::from(-7));
        props.insert("big".into(), Value::from(u64::MAX));
        props.insert("x".into(), Value::from(0.25));
        props.insert("ok".into(), Value::from(true));
        props.insert("list".into(), serde_json::json!([1, "two"]));
        props.insert("none".into(), Value::Null);
        for i in 0..50 {
            let p = Point::new(2.0 + f64::from(i) * 0.1, 45.0 + f64::from(i % 7) * 0.1);
            let time = (i % 2 == 0).then_some((1_700_000_000_000, 1_700_000_360_000));
            assert!(layer.add_feature(
                i64::from(i) + 1,
                &format!("f{i}"),
                &Geometry::Point(p),
                time,
                &props
            ));
        }
        let square = polygon![(x: 3.0, y: 46.0), (x: 4.0, y: 46.0), (x: 4.0, y: 47.0), (x: 3.0, y: 47.0), (x: 3.0, y: 46.0)];
        assert!(layer.add_feature(
            100,
            "",
            &Geometry::Polygon(square),
            None,
            &Properties::new()
        ));
        let path = line_string![(x: 2.0, y: 45.0), (x: 5.0, y: 48.0)];
        assert!(layer.add_feature(101, "line", &Geometry::LineString(path), None, &props));
        layer.add_cluster(Cluster {
            x: 100.0,
            y: 200.0,
            count: 12,
        });
        layer.finish()
    }

    #[test]
    fn layers_are_written_byte_for_byte_as_prost_writes_them() {
        use geozero::mvt::{Message, Tile};
        let layer = mixed_layer();
        assert_eq!(layer.len(), 53);
        let tile = crate::encode_tile(vec![
            layer,
            LayerBuilder::new("empty", TileId::new(0, 0, 0).unwrap()).finish(),
        ]);
        let decoded = Tile::decode(tile.as_slice()).expect("a valid tile");
        assert_eq!(decoded.layers.len(), 1, "the empty layer is left out");
        let l = &decoded.layers[0];
        assert_eq!(
            (l.name.as_str(), l.version, l.extent, l.features.len()),
            ("mixed", 2, Some(EXTENT), 53)
        );
        assert!(
            l.features
                .iter()
                .all(|f| f.tags.len() % 2 == 0 && !f.geometry.is_empty())
        );
        assert_eq!(
            l.features[50].id,
            Some(100),
            "the polygon after the 50 points"
        );
        assert_eq!(decoded.encode_to_vec(), tile, "prost writes the same bytes");
    }

    #[test]
    fn a_collection_is_drawn_whole_as_a_feature_per_kind() {
        use geoconsole_model::geo_types::line_string;
        use geozero::mvt::{Message, Tile};
        let tile = TileId::new(4, 8, 5).unwrap();
        // One point nested a level down, as a collection inside the collection.
        let collection = Geometry::GeometryCollection(GeometryCollection::new_from(vec![
            Geometry::GeometryCollection(GeometryCollection::new_from(vec![Geometry::Point(
                Point::new(3.0, 46.0),
            )])),
            Geometry::LineString(line_string![(x: 2.0, y: 45.0), (x: 5.0, y: 48.0)]),
            Geometry::Point(Point::new(3.5, 46.5)),
        ]));
        let mut props = Properties::new();
        props.insert("name".into(), Value::from("both"));
        let mut layer = LayerBuilder::new("c", tile);
        assert!(layer.add_feature(7, "gc", &collection, None, &props));
        let bytes = crate::encode_tile(vec![layer.finish()]);
        let decoded = Tile::decode(bytes.as_slice()).unwrap();
        let features = &decoded.layers[0].features;
        let kinds: Vec<i32> = features.iter().map(|f| f.r#type.unwrap()).collect();
        assert_eq!(
            kinds,
            vec![
                tile::GeomType::Linestring as i32,
                tile::GeomType::Point as i32
            ]
        );
        assert!(
            features
                .iter()
                .all(|f| f.id == Some(7) && f.tags == features[0].tags)
        );
        // Both points, as one multipoint: MoveTo with a count of 2.
        assert_eq!(features[1].geometry[0], (2 << 3) | 1);
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
