use std::ops::ControlFlow;

use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{Bbox, Dataset, TimeSpan};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RStarInsertionStrategy, RTree, RTreeParams};

use crate::properties::PropertyTable;

/// Wider nodes than rstar's default (6): a shallower tree that loads faster and costs fewer bytes per entry,
/// with envelope checks that stay in cache.
#[derive(Debug)]
pub struct WideNodes;

impl RTreeParams for WideNodes {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

type PointEntry = GeomWithData<[f64; 2], PointLeaf>;
type RectEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// What a point's leaf in the tree carries besides its coordinates: its slot and its row (its place in the
/// tree's own order, which the property table's rows follow). A tile reads both, and the coordinates, off
/// the leaves its tree query walks anyway; looking them up by slot instead cost a cache miss per array and
/// point on a large dataset (slots are in key order, scattered over the map). The row fits in the leaf's
/// padding (24 bytes either way); the time span would not (16 bytes more per point) and stays by slot.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PointLeaf {
    slot: u32,
    row: u32,
}

/// A located point as the tree's leaf holds it (see [`Snapshot::for_each_point_in`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointHit {
    pub slot: u32,
    /// Where the point's values sit in the snapshot's property table ([`PropertyTable::row`]).
    pub row: u32,
    pub xy: [f64; 2],
}

/// A time span in milliseconds since the epoch; `start > end` marks a feature without time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Millis {
    start: i64,
    end: i64,
}

impl Millis {
    fn span(self) -> Option<(i64, i64)> {
        (self.start <= self.end).then_some((self.start, self.end))
    }
}

impl TimeRange {
    /// Whether a feature with this time span (none: never) overlaps the window.
    fn meets(&self, span: Option<(i64, i64)>) -> bool {
        span.is_some_and(|(start, end)| {
            self.start.is_none_or(|s| end >= s) && self.end.is_none_or(|e| start <= e)
        })
    }
}

const NO_TIME: Millis = Millis {
    start: i64::MAX,
    end: i64::MIN,
};

/// A datetime window in milliseconds, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// Row keys by slot. Stores hand out keys consecutively, so most datasets need no per-feature key at all.
#[derive(Debug)]
enum Keys {
    Dense { first: i64, len: usize },
    Sparse(Vec<i64>),
}

impl Keys {
    fn from_ascending(keys: Vec<i64>) -> Self {
        match (keys.first(), keys.last()) {
            (Some(first), Some(last)) if last - first == keys.len() as i64 - 1 => Keys::Dense {
                first: *first,
                len: keys.len(),
            },
            (None, _) => Keys::Dense { first: 1, len: 0 },
            _ => Keys::Sparse(keys),
        }
    }

    fn len(&self) -> usize {
        match self {
            Keys::Dense { len, .. } => *len,
            Keys::Sparse(keys) => keys.len(),
        }
    }

    fn get(&self, slot: u32) -> i64 {
        match self {
            Keys::Dense { first, .. } => first + i64::from(slot),
            Keys::Sparse(keys) => keys[slot as usize],
        }
    }

    /// The first slot whose key is greater than `key`.
    fn slot_after(&self, key: i64) -> usize {
        match self {
            Keys::Dense { first, len } => {
                (key.saturating_sub(*first).saturating_add(1)).clamp(0, *len as i64) as usize
            }
            Keys::Sparse(keys) => keys.partition_point(|k| *k <= key),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Keys::Dense { .. } => 0,
            Keys::Sparse(keys) => keys.capacity() * size_of::<i64>(),
        }
    }
}

#[derive(Debug)]
enum Shapes {
    /// Every feature is a point: coordinates by slot (NaN for an unlocated feature), and the tree over the
    /// located ones.
    Points {
        xy: Vec<[f64; 2]>,
        tree: RTree<PointEntry, WideNodes>,
    },
    /// Lines, polygons or a mix: whole geometries and their envelopes by slot (an unlocated feature holds an
    /// empty collection and a NaN envelope, and is not in the tree).
    Mixed {
        geometries: Vec<Geometry<f64>>,
        envelopes: Vec<[f64; 4]>,
        tree: RTree<RectEntry, WideNodes>,
    },
}

/// A feature's shape as the index holds it.
#[derive(Debug, Clone, Copy)]
pub enum Shape<'a> {
    Point([f64; 2]),
    Geometry(&'a Geometry<f64>),
}

impl Shape<'_> {
    pub fn to_geometry(self) -> Geometry<f64> {
        match self {
            Shape::Point([x, y]) => Geometry::Point(Point::new(x, y)),
            Shape::Geometry(g) => g.clone(),
        }
    }
}

/// What a reader selects by before properties are looked at: bbox (possibly split at the antimeridian) and
/// time window.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub bbox: Option<Bbox>,
    pub time: Option<TimeRange>,
}

/// Where a key-ordered walk starts and which way it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Ascending, from the first key greater than this one (or from the start).
    After(Option<i64>),
    /// Descending, from the last key smaller than this one.
    Before(i64),
}

/// One committed version of a dataset, in memory. Slots number the features in ascending key order.
#[derive(Debug)]
pub struct Snapshot {
    dataset: Dataset,
    keys: Keys,
    /// Empty when no feature has a time.
    times: Vec<Millis>,
    shapes: Shapes,
    /// Ids and properties by slot, when the console keeps them (see [`PropertyTable`]).
    properties: Option<PropertyTable>,
}

/// Collects a dataset's rows (in ascending key order) and bulk-loads the tree once at the end.
#[derive(Debug, Default)]
pub struct SnapshotBuilder {
    keys: Vec<i64>,
    times: Vec<Millis>,
    any_time: bool,
    xy: Vec<[f64; 2]>,
    /// Set once a non-point arrives; from then on every shape is kept whole.
    geometries: Option<Vec<Geometry<f64>>>,
}

/// The coordinates an unlocated feature holds among points: no box contains them, no tree holds them.
const UNLOCATED: [f64; 2] = [f64::NAN, f64::NAN];

fn unlocated_geometry() -> Geometry<f64> {
    Geometry::GeometryCollection(geoconsole_model::geo_types::GeometryCollection(Vec::new()))
}

impl SnapshotBuilder {
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            keys: Vec::with_capacity(rows),
            times: Vec::with_capacity(rows),
            xy: Vec::with_capacity(rows),
            ..Self::default()
        }
    }

    /// Adds one feature. Keys must ascend; a key out of order is a bug in the store and is refused. An
    /// unlocated feature (`None`) keeps its slot, so listings and time filters see it, but no box selects it.
    pub fn push(
        &mut self,
        key: i64,
        geometry: Option<Geometry<f64>>,
        time: Option<TimeSpan>,
    ) -> Result<(), String> {
        if self.keys.last().is_some_and(|last| *last >= key) {
            return Err(format!("row key {key} arrived out of order"));
        }
        if self.keys.len() >= u32::MAX as usize {
            return Err("a dataset in memory holds at most 4 294 967 295 features".into());
        }
        self.keys.push(key);
        self.times.push(time.map_or(NO_TIME, |t| {
            self.any_time = true;
            Millis {
                start: t.start.timestamp_millis(),
                end: t.end.timestamp_millis(),
            }
        }));
        match (&mut self.geometries, geometry) {
            (None, Some(Geometry::Point(p))) => self.xy.push([p.x(), p.y()]),
            (None, None) => self.xy.push(UNLOCATED),
            (None, Some(other)) => {
                let mut all: Vec<Geometry<f64>> = self
                    .xy
                    .drain(..)
                    .map(|[x, y]| {
                        if x.is_nan() {
                            unlocated_geometry()
                        } else {
                            Geometry::Point(Point::new(x, y))
                        }
                    })
                    .collect();
                all.push(other);
                self.geometries = Some(all);
            }
            (Some(all), geometry) => all.push(geometry.unwrap_or_else(unlocated_geometry)),
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn finish(mut self, dataset: Dataset) -> Snapshot {
        // Vectors grown by doubling hold up to twice what they need; a snapshot lives long, so give it back.
        self.xy.shrink_to_fit();
        let shapes = match self.geometries {
            None => {
                let entries = self
                    .xy
                    .iter()
                    .enumerate()
                    .filter(|(_, xy)| !xy[0].is_nan())
                    .map(|(slot, xy)| {
                        let leaf = PointLeaf {
                            slot: slot as u32,
                            row: 0,
                        };
                        PointEntry::new(*xy, leaf)
                    })
                    .collect();
                let mut tree: RTree<PointEntry, WideNodes> = RTree::bulk_load_with_params(entries);
                for (row, entry) in tree.iter_mut().enumerate() {
                    entry.data.row = row as u32;
                }
                Shapes::Points { tree, xy: self.xy }
            }
            Some(mut geometries) => {
                geometries.shrink_to_fit();
                let envelopes: Vec<[f64; 4]> = geometries
                    .iter()
                    .map(|g| {
                        Bbox::of_geometry(g)
                            .map_or([f64::NAN; 4], |b| [b.west, b.south, b.east, b.north])
                    })
                    .collect();
                let entries = envelopes
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e[0].is_nan())
                    .map(|(slot, e)| {
                        RectEntry::new(
                            Rectangle::from_corners([e[0], e[1]], [e[2], e[3]]),
                            slot as u32,
                        )
                    })
                    .collect();
                Shapes::Mixed {
                    tree: RTree::bulk_load_with_params(entries),
                    geometries,
                    envelopes,
                }
            }
        };
        let mut times = self.times;
        if !self.any_time {
            times = Vec::new();
        }
        times.shrink_to_fit();
        Snapshot {
            dataset,
            keys: Keys::from_ascending(self.keys),
            times,
            shapes,
            properties: None,
        }
    }
}

impl Snapshot {
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    pub fn version(&self) -> u64 {
        self.dataset.version
    }

    pub fn generation(&self) -> geoconsole_model::Generation {
        self.dataset.generation()
    }

    /// Attaches the ids and properties of every slot (read from the store for this snapshot's keys), their
    /// rows arranged in the tree's order so that the features of one area sit together in memory.
    pub fn with_properties(mut self, table: PropertyTable) -> Result<Self, String> {
        if table.len() != self.len() {
            return Err(format!(
                "a property table of {} features for a snapshot of {}",
                table.len(),
                self.len()
            ));
        }
        self.properties = Some(table.arranged(&self.tree_order())?);
        Ok(self)
    }

    /// Every slot once: the located ones in the order the tree's leaves hold them (bulk loading packs
    /// neighbours into the same leaves), then the unlocated ones.
    fn tree_order(&self) -> Vec<u32> {
        let mut order = Vec::with_capacity(self.len());
        match &self.shapes {
            Shapes::Points { tree, xy } => {
                // The rows the leaves carry (the order they were numbered in, whatever order a walk of the
                // tree takes).
                order.resize(tree.size(), 0);
                for e in tree.iter() {
                    order[e.data.row as usize] = e.data.slot;
                }
                order.extend((0..xy.len() as u32).filter(|s| xy[*s as usize][0].is_nan()));
            }
            Shapes::Mixed {
                tree, envelopes, ..
            } => {
                order.extend(tree.iter().map(|e| e.data));
                order.extend(
                    (0..envelopes.len() as u32).filter(|s| envelopes[*s as usize][0].is_nan()),
                );
            }
        }
        order
    }

    /// The ids and properties by slot, when kept in memory.
    pub fn properties(&self) -> Option<&PropertyTable> {
        self.properties.as_ref()
    }

    /// Bytes of the property table alone (also counted in [`Self::memory_bytes`]).
    pub fn property_bytes(&self) -> usize {
        self.properties
            .as_ref()
            .map_or(0, PropertyTable::memory_bytes)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.len() == 0
    }

    pub fn key(&self, slot: u32) -> i64 {
        self.keys.get(slot)
    }

    pub fn is_points(&self) -> bool {
        matches!(self.shapes, Shapes::Points { .. })
    }

    /// The feature's shape; `None` for an unlocated feature (no geometry in its source).
    pub fn shape(&self, slot: u32) -> Option<Shape<'_>> {
        match &self.shapes {
            Shapes::Points { xy, .. } => {
                let xy = xy[slot as usize];
                (!xy[0].is_nan()).then_some(Shape::Point(xy))
            }
            Shapes::Mixed {
                geometries,
                envelopes,
                ..
            } => (!envelopes[slot as usize][0].is_nan())
                .then(|| Shape::Geometry(&geometries[slot as usize])),
        }
    }

    /// `[west, south, east, north]` of a feature's shape; NaN for an unlocated feature, which no box
    /// comparison matches.
    pub fn envelope(&self, slot: u32) -> [f64; 4] {
        match &self.shapes {
            Shapes::Points { xy, .. } => {
                let [x, y] = xy[slot as usize];
                [x, y, x, y]
            }
            Shapes::Mixed { envelopes, .. } => envelopes[slot as usize],
        }
    }

    /// The feature's time span in milliseconds, if it has one.
    pub fn time(&self, slot: u32) -> Option<(i64, i64)> {
        self.times.get(slot as usize)?.span()
    }

    fn time_matches(&self, slot: u32, range: &TimeRange) -> bool {
        range.meets(self.time(slot))
    }

    fn envelope_matches(&self, slot: u32, parts: &[Bbox]) -> bool {
        let [w, s, e, n] = self.envelope(slot);
        parts
            .iter()
            .any(|b| w <= b.east && e >= b.west && s <= b.north && n >= b.south)
    }

    /// Whether a slot passes the selection.
    pub fn selects(&self, slot: u32, selection: &Selection) -> bool {
        if let Some(range) = &selection.time
            && !self.time_matches(slot, range)
        {
            return false;
        }
        match &selection.bbox {
            Some(bbox) => self.envelope_matches(slot, &bbox.split_at_antimeridian()),
            None => true,
        }
    }

    /// Slots whose envelope meets any of the boxes, in no particular order.
    pub fn slots_in(&self, parts: &[Bbox], out: &mut Vec<u32>) {
        for part in parts {
            let envelope = AABB::from_corners([part.west, part.south], [part.east, part.north]);
            match &self.shapes {
                Shapes::Points { tree, .. } => {
                    out.extend(tree.locate_in_envelope(&envelope).map(|e| e.data.slot));
                }
                Shapes::Mixed { tree, .. } => {
                    out.extend(
                        tree.locate_in_envelope_intersecting(&envelope)
                            .map(|e| e.data),
                    );
                }
            }
        }
    }

    /// For a dataset of points: visits the located points inside any of `parts` (and `time`, if given) as
    /// the tree's leaves hold them, in tree order, until `visit` breaks; `false` when the dataset is not all
    /// points. A join or a tile wants positions first, not key order: reading slot, row and coordinates
    /// off the leaves spares a sort and a random read per point and array, which
    /// [`Snapshot::for_each_selected`] pays to keep pages in key order.
    pub fn for_each_point_in(
        &self,
        parts: &[Bbox],
        time: Option<&TimeRange>,
        mut visit: impl FnMut(PointHit) -> ControlFlow<()>,
    ) -> bool {
        let Shapes::Points { tree, .. } = &self.shapes else {
            return false;
        };
        for part in parts {
            let envelope = AABB::from_corners([part.west, part.south], [part.east, part.north]);
            for entry in tree.locate_in_envelope(&envelope) {
                let leaf = entry.data;
                if time.is_some_and(|t| !self.time_matches(leaf.slot, t)) {
                    continue;
                }
                let hit = PointHit {
                    slot: leaf.slot,
                    row: leaf.row,
                    xy: *entry.geom(),
                };
                if visit(hit).is_break() {
                    return true;
                }
            }
        }
        true
    }

    /// The first slot whose key is greater than `key`.
    pub fn slot_after(&self, key: i64) -> u32 {
        self.keys.slot_after(key) as u32
    }

    /// A generous guess at how many slots a box selects (data cluster, so twice its share of the extent), to
    /// size the buffer once instead of growing it through many reallocations.
    fn expected_matches(&self, bbox: &Bbox) -> usize {
        let share = (self.coverage(bbox) * 2.0).min(1.0);
        ((self.len() as f64 * share) as usize).clamp(64, 1 << 22)
    }

    /// Whether a tree query over these boxes can return a slot twice: only a shape (not a point) that lies
    /// across both halves of a box split at the antimeridian.
    fn may_repeat(&self, parts: &[Bbox]) -> bool {
        parts.len() > 1 && !self.is_points()
    }

    /// Share of the dataset's extent a bbox covers, 0..=1; used to choose between the tree and a scan.
    fn coverage(&self, bbox: &Bbox) -> f64 {
        let Some(extent) = &self.dataset.extent else {
            return 1.0;
        };
        let area = |b: &Bbox| (b.east - b.west).max(0.0) * (b.north - b.south).max(0.0);
        let whole = area(extent);
        if whole <= 0.0 {
            return 1.0;
        }
        let covered: f64 = bbox
            .split_at_antimeridian()
            .iter()
            .map(|b| {
                area(&Bbox {
                    west: b.west.max(extent.west),
                    south: b.south.max(extent.south),
                    east: b.east.min(extent.east),
                    north: b.north.min(extent.north),
                })
            })
            .sum();
        (covered / whole).clamp(0.0, 1.0)
    }

    /// Visits the slots that pass `selection` in key order: ascending after a key, or descending before one
    /// (for a previous page), until `visit` breaks. A small bbox goes through the tree; a large one (or
    /// none) scans the slots in order, which stops as soon as the reader has enough.
    pub fn for_each_selected(
        &self,
        selection: &Selection,
        walk: Walk,
        mut visit: impl FnMut(u32) -> ControlFlow<()>,
    ) {
        let (low, high, descending) = match walk {
            Walk::After(key) => (
                key.map_or(0, |k| self.slot_after(k)),
                self.len() as u32,
                false,
            ),
            Walk::Before(key) => (0, self.slot_after(key.saturating_sub(1)), true),
        };
        let time_ok = |slot: u32| {
            selection
                .time
                .as_ref()
                .is_none_or(|t| self.time_matches(slot, t))
        };
        if let Some(bbox) = &selection.bbox
            && self.coverage(bbox) < SCAN_COVERAGE
        {
            let parts = bbox.split_at_antimeridian();
            let mut slots = Vec::with_capacity(self.expected_matches(bbox));
            self.slots_in(&parts, &mut slots);
            slots.retain(|s| (low..high).contains(s));
            if self.may_repeat(&parts) {
                slots.sort_unstable();
                slots.dedup();
            }
            visit_in_order(slots, descending, |slot| {
                if time_ok(slot) {
                    visit(slot)
                } else {
                    ControlFlow::Continue(())
                }
            });
            return;
        }
        let parts = selection.bbox.as_ref().map(Bbox::split_at_antimeridian);
        let mut check = |slot: u32| {
            if !time_ok(slot)
                || parts
                    .as_ref()
                    .is_some_and(|p| !self.envelope_matches(slot, p))
            {
                return ControlFlow::Continue(());
            }
            visit(slot)
        };
        if descending {
            for slot in (low..high).rev() {
                if check(slot).is_break() {
                    return;
                }
            }
        } else {
            for slot in low..high {
                if check(slot).is_break() {
                    return;
                }
            }
        }
    }

    /// How many features pass `selection`, or `None` when counting would visit more than `budget` slots
    /// (a count must stay cheap; a page never waits for an exact total on big data).
    pub fn count(&self, selection: &Selection, budget: usize) -> Option<u64> {
        if selection.bbox.is_none() && selection.time.is_none() {
            return Some(self.keys.len() as u64);
        }
        if let Some(bbox) = &selection.bbox
            && self.coverage(bbox) < SCAN_COVERAGE
        {
            let parts = bbox.split_at_antimeridian();
            if self.may_repeat(&parts) {
                let mut slots = Vec::new();
                self.slots_in(&parts, &mut slots);
                if slots.len() > budget {
                    return None;
                }
                slots.sort_unstable();
                slots.dedup();
                let time = selection.time.as_ref();
                return Some(
                    slots
                        .iter()
                        .filter(|s| time.is_none_or(|t| self.time_matches(**s, t)))
                        .count() as u64,
                );
            }
            // Counted straight off the tree: nothing is collected, so a count costs no allocation.
            let (mut visited, mut n) = (0usize, 0u64);
            for part in &parts {
                let envelope = AABB::from_corners([part.west, part.south], [part.east, part.north]);
                let mut tally = |span: Option<(i64, i64)>| {
                    visited += 1;
                    if selection.time.as_ref().is_none_or(|t| t.meets(span)) {
                        n += 1;
                    }
                    visited <= budget
                };
                let complete = match &self.shapes {
                    Shapes::Points { tree, .. } => tree
                        .locate_in_envelope(&envelope)
                        .all(|e| tally(self.time(e.data.slot))),
                    Shapes::Mixed { tree, .. } => tree
                        .locate_in_envelope_intersecting(&envelope)
                        .all(|e| tally(self.time(e.data))),
                };
                if !complete {
                    return None;
                }
            }
            return Some(n);
        }
        if self.keys.len() > budget {
            return None;
        }
        let mut n = 0;
        self.for_each_selected(selection, Walk::After(None), |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        Some(n)
    }

    /// Bytes this snapshot holds on the heap (vectors and tree nodes), for `/metrics` and the benchmark.
    /// Counts of features active in each of `bins` equal steps of `[start_ms, end_ms)`: a feature with a
    /// span counts in every step it overlaps, so a week-long warning shows all week. Only features in
    /// `bbox` (when given) and with a time count.
    pub fn time_histogram(
        &self,
        bbox: Option<&Bbox>,
        start_ms: i64,
        end_ms: i64,
        bins: usize,
    ) -> Vec<u64> {
        let mut counts = vec![0u64; bins];
        if bins == 0 || end_ms <= start_ms {
            return counts;
        }
        let width = (end_ms - start_ms) as f64 / bins as f64;
        let bin_of = |t: i64| ((t - start_ms) as f64 / width).floor();
        let mut add = |slot: u32| {
            let Some((s, e)) = self.time(slot) else {
                return;
            };
            if e < start_ms || s >= end_ms {
                return;
            }
            let first = bin_of(s).max(0.0) as usize;
            let last = (bin_of(e).min(bins as f64 - 1.0)) as usize;
            for count in &mut counts[first..=last.max(first)] {
                *count += 1;
            }
        };
        match bbox {
            None => (0..self.len() as u32).for_each(&mut add),
            Some(b) => {
                let parts = b.split_at_antimeridian();
                let mut slots = Vec::new();
                self.slots_in(&parts, &mut slots);
                if self.may_repeat(&parts) {
                    slots.sort_unstable();
                    slots.dedup();
                }
                slots.into_iter().for_each(&mut add);
            }
        }
        counts
    }

    pub fn memory_bytes(&self) -> usize {
        let base = self.keys.heap_bytes()
            + self.times.capacity() * size_of::<Millis>()
            + self.property_bytes();
        // rstar keeps leaves in nodes of up to MAX_SIZE children; a bulk-loaded tree fills them, so the inner
        // nodes add about 1/(MAX_SIZE-1) of the leaf count, each a Vec plus an envelope.
        let inner = |leaves: usize| leaves / (WideNodes::MAX_SIZE - 1) + 1;
        let node_bytes = 24 + 32 + 8;
        match &self.shapes {
            Shapes::Points { xy, tree } => {
                base + xy.capacity() * 16
                    + tree.size() * size_of::<PointEntry>()
                    + inner(tree.size()) * node_bytes
            }
            Shapes::Mixed {
                geometries,
                envelopes,
                tree,
            } => {
                base + envelopes.capacity() * 32
                    + geometries.iter().map(geometry_bytes).sum::<usize>()
                    + tree.size() * size_of::<RectEntry>()
                    + inner(tree.size()) * node_bytes
            }
        }
    }
}

/// Visits slots in key order (ascending, or descending) without sorting more than the reader consumes: the
/// first few thousand are selected and sorted, the rest only if the reader asks for them.
fn visit_in_order(
    mut slots: Vec<u32>,
    descending: bool,
    mut visit: impl FnMut(u32) -> ControlFlow<()>,
) {
    const HEAD: usize = 2048;
    let order = |a: &u32, b: &u32| if descending { b.cmp(a) } else { a.cmp(b) };
    let split = if slots.len() > 2 * HEAD {
        slots.select_nth_unstable_by(HEAD, order);
        HEAD
    } else {
        slots.len()
    };
    let (head, tail) = slots.split_at_mut(split);
    head.sort_unstable_by(order);
    for slot in head.iter() {
        if visit(*slot).is_break() {
            return;
        }
    }
    tail.sort_unstable_by(order);
    for slot in tail.iter() {
        if visit(*slot).is_break() {
            return;
        }
    }
}

/// A tree query covering more than this share of the extent is slower than scanning slots in order.
const SCAN_COVERAGE: f64 = 0.25;

fn geometry_bytes(geometry: &Geometry<f64>) -> usize {
    use geo::CoordsIter;
    size_of::<Geometry<f64>>() + geometry.coords_count() * 16
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use geoconsole_model::geo_types::{LineString, Polygon};
    use geoconsole_model::{DatasetId, DatasetKind, GeometryType, Schema, TimeFields};

    fn dataset(extent: Bbox) -> Dataset {
        let now = Utc::now();
        Dataset {
            id: DatasetId::new("test").unwrap(),
            title: "t".into(),
            kind: DatasetKind::Events,
            geometry_type: GeometryType::Point,
            time_fields: TimeFields::default(),
            id_field: None,
            schema: Schema::default(),
            source: "test".into(),
            version: 1,
            feature_count: 0,
            extent: Some(extent),
            time_extent: None,
            created: now,
            updated: now,
        }
    }

    fn day(d: u32) -> TimeSpan {
        TimeSpan::instant(Utc.with_ymd_and_hms(2024, 5, d, 0, 0, 0).unwrap())
    }

    fn grid() -> Snapshot {
        grid_with_key_step(3)
    }

    fn grid_with_key_step(step: i64) -> Snapshot {
        let mut b = SnapshotBuilder::default();
        let mut key = 10;
        for x in -180..180 {
            for y in -90..90 {
                let time = (x >= 0).then(|| day(1 + (y + 90) as u32 % 28));
                b.push(
                    key,
                    Some(Geometry::Point(Point::new(
                        f64::from(x) + 0.5,
                        f64::from(y) + 0.5,
                    ))),
                    time,
                )
                .unwrap();
                key += step;
            }
        }
        b.finish(dataset(Bbox::new(-180.0, -90.0, 180.0, 90.0).unwrap()))
    }

    #[test]
    fn leaves_carry_what_the_slots_hold_and_the_table_rows() {
        let s = grid();
        let mut table = crate::PropertyTableBuilder::with_capacity(s.len());
        for slot in 0..s.len() as u32 {
            let mut properties = geoconsole_model::Properties::new();
            properties.insert("slot".into(), serde_json::json!(slot));
            table.push(&format!("f{slot}"), &properties).unwrap();
        }
        let s = s.with_properties(table.finish()).unwrap();
        let table = s.properties().unwrap();
        let window = TimeRange {
            start: Some(day(3).start.timestamp_millis()),
            end: Some(day(5).end.timestamp_millis()),
        };
        for time in [None, Some(&window)] {
            let mut hits = Vec::new();
            let whole = s.for_each_point_in(
                &[Bbox::new(-10.0, -20.0, 30.0, 40.0).unwrap()],
                time,
                |hit| {
                    hits.push(hit);
                    ControlFlow::Continue(())
                },
            );
            assert!(whole);
            let mut slots: Vec<u32> = Vec::new();
            s.for_each_selected(
                &Selection {
                    bbox: Some(Bbox::new(-10.0, -20.0, 30.0, 40.0).unwrap()),
                    time: time.copied(),
                },
                Walk::After(None),
                |slot| {
                    slots.push(slot);
                    ControlFlow::Continue(())
                },
            );
            let mut hit_slots: Vec<u32> = hits.iter().map(|h| h.slot).collect();
            hit_slots.sort_unstable();
            assert_eq!(hit_slots, slots, "the same points as a selection by slot");
            assert!(!hits.is_empty());
            for hit in hits {
                assert_eq!(
                    Some(Shape::Point(hit.xy)).map(|s| s.to_geometry()),
                    s.shape(hit.slot).map(|s| s.to_geometry())
                );
                assert_eq!(hit.row as usize, table.row(hit.slot));
                assert_eq!(table.id_in_row(hit.row as usize), format!("f{}", hit.slot));
            }
        }
    }

    #[test]
    fn histogram_counts_active_features_per_step() {
        let s = grid();
        let may = |d: u32| {
            Utc.with_ymd_and_hms(2024, 5, d, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        };
        let counts = s.time_histogram(None, may(1), may(29), 28);
        // 180 longitudes with a time; latitudes cycle through 28 days: 180 = 6 × 28 + 12.
        assert_eq!(counts.iter().sum::<u64>(), 180 * 180);
        assert_eq!(counts[0], 7 * 180);
        assert_eq!(counts[27], 6 * 180);
        let west = Bbox::new(0.0, -90.0, 9.9, 90.0).unwrap();
        assert_eq!(
            s.time_histogram(Some(&west), may(1), may(29), 28)[0],
            7 * 10
        );
        assert!(
            s.time_histogram(None, may(1), may(1), 4)
                .iter()
                .all(|c| *c == 0)
        );

        let mut b = SnapshotBuilder::default();
        let span = TimeSpan::interval(day(2).start, day(4).start).unwrap();
        b.push(1, Some(Geometry::Point(Point::new(0.0, 0.0))), Some(span))
            .unwrap();
        let one = b.finish(dataset(Bbox::new(0.0, 0.0, 0.0, 0.0).unwrap()));
        assert_eq!(
            one.time_histogram(None, may(1), may(6), 5),
            vec![0, 1, 1, 1, 0]
        );
    }

    fn selected(s: &Snapshot, sel: &Selection, after: Option<i64>) -> Vec<u32> {
        let mut out = Vec::new();
        s.for_each_selected(sel, Walk::After(after), |slot| {
            out.push(slot);
            ControlFlow::Continue(())
        });
        out
    }

    fn brute(s: &Snapshot, sel: &Selection, after: Option<i64>) -> Vec<u32> {
        (0..s.len() as u32)
            .filter(|slot| after.is_none_or(|a| s.key(*slot) > a) && s.selects(*slot, sel))
            .collect()
    }

    #[test]
    fn tree_and_scan_agree_with_brute_force() {
        let s = grid();
        let jan = |d| day(d).start.timestamp_millis();
        for (bbox, time) in [
            (Some("10,10,12,12"), None),
            (Some("170,-5,-170,5"), None),
            (Some("-180,-90,180,90"), None),
            // Large enough for the partial sort of the tree path (over 4 096 slots, under a quarter).
            (Some("-90,-45,0,45"), None),
            (
                None,
                Some(TimeRange {
                    start: Some(jan(3)),
                    end: Some(jan(4)),
                }),
            ),
            (
                Some("0,0,40,40"),
                Some(TimeRange {
                    start: None,
                    end: Some(jan(2)),
                }),
            ),
        ] {
            let sel = Selection {
                bbox: bbox.map(|b| Bbox::parse(b).unwrap()),
                time,
            };
            let expected = brute(&s, &sel, None);
            assert!(!expected.is_empty(), "{sel:?} selects something");
            assert_eq!(selected(&s, &sel, None), expected, "{sel:?}");
            let after = s.key(expected[expected.len() / 2]);
            assert_eq!(
                selected(&s, &sel, Some(after)),
                brute(&s, &sel, Some(after))
            );
            assert_eq!(s.count(&sel, usize::MAX), Some(expected.len() as u64));
            let mut before = Vec::new();
            s.for_each_selected(&sel, Walk::Before(after), |slot| {
                before.push(slot);
                ControlFlow::Continue(())
            });
            let mut expected_before: Vec<u32> = expected
                .iter()
                .copied()
                .filter(|slot| s.key(*slot) < after)
                .collect();
            expected_before.reverse();
            assert_eq!(before, expected_before, "{sel:?} backwards");
        }
        let across = Selection {
            bbox: Some(Bbox::parse("170,-5,-170,5").unwrap()),
            time: None,
        };
        assert_eq!(s.count(&across, 10), None, "over budget gives no count");
    }

    #[test]
    fn keys_must_ascend_and_mixed_shapes_keep_geometries() {
        let mut b = SnapshotBuilder::default();
        b.push(1, Some(Geometry::Point(Point::new(1.0, 1.0))), None)
            .unwrap();
        let line = Geometry::LineString(LineString::from(vec![(0.0, 0.0), (5.0, 5.0)]));
        b.push(2, Some(line.clone()), None).unwrap();
        assert!(b.push(2, Some(line.clone()), None).is_err());
        let poly = Geometry::Polygon(Polygon::new(
            LineString::from(vec![(10.0, 10.0), (11.0, 10.0), (11.0, 11.0), (10.0, 10.0)]),
            vec![],
        ));
        b.push(7, Some(poly), Some(day(2))).unwrap();
        let s = b.finish(dataset(Bbox::new(0.0, 0.0, 11.0, 11.0).unwrap()));
        assert!(!s.is_points());
        assert_eq!(s.shape(1).unwrap().to_geometry(), line);
        assert!(matches!(
            s.shape(0).unwrap().to_geometry(),
            Geometry::Point(_)
        ));
        let mut out = Vec::new();
        s.slots_in(&[Bbox::new(4.0, 4.0, 4.5, 4.5).unwrap()], &mut out);
        assert_eq!(out, vec![1]);
        assert_eq!(s.time(0), None);
        assert!(s.time(2).is_some());
        assert_eq!(s.slot_after(2), 2);
        assert_eq!(s.slot_after(0), 0);
        assert_eq!(s.slot_after(99), 3);
    }

    #[test]
    fn unlocated_features_keep_their_slot_but_no_box_selects_them() {
        for mixed in [false, true] {
            let mut b = SnapshotBuilder::default();
            b.push(1, Some(Geometry::Point(Point::new(1.0, 1.0))), None)
                .unwrap();
            b.push(2, None, Some(day(3))).unwrap();
            if mixed {
                let line = Geometry::LineString(LineString::from(vec![(0.0, 0.0), (5.0, 5.0)]));
                b.push(3, Some(line), None).unwrap();
            }
            b.push(4, None, None).unwrap();
            let s = b.finish(dataset(Bbox::new(0.0, 0.0, 5.0, 5.0).unwrap()));
            assert_eq!(s.is_points(), !mixed);
            assert_eq!(s.len(), if mixed { 4 } else { 3 });
            assert!(s.shape(0).is_some());
            assert!(s.shape(1).is_none());
            let last = s.len() as u32 - 1;
            assert!(s.shape(last).is_none());
            let everywhere = Selection {
                bbox: Some(Bbox::new(-180.0, -90.0, 180.0, 90.0).unwrap()),
                time: None,
            };
            let mut selected = Vec::new();
            s.for_each_selected(&everywhere, Walk::After(None), |slot| {
                selected.push(slot);
                ControlFlow::Continue(())
            });
            assert!(!selected.contains(&1) && !selected.contains(&last));
            assert_eq!(
                s.count(&everywhere, usize::MAX),
                Some(if mixed { 2 } else { 1 })
            );
            let mut boxed = Vec::new();
            s.slots_in(
                &[Bbox::new(-180.0, -90.0, 180.0, 90.0).unwrap()],
                &mut boxed,
            );
            assert!(!boxed.contains(&1) && !boxed.contains(&last));
            // No selection lists them all; a time selection still finds the unlocated one with a time.
            assert_eq!(
                s.count(&Selection::default(), usize::MAX),
                Some(s.len() as u64)
            );
            let in_time = Selection {
                bbox: None,
                time: Some(TimeRange::default()),
            };
            assert_eq!(s.count(&in_time, usize::MAX), Some(1));
        }
    }

    #[test]
    fn points_cost_at_most_48_bytes_beyond_their_coordinates() {
        // Stores number rows consecutively, so keys cost nothing; the time span and the shape remain.
        let s = grid_with_key_step(1);
        let per_feature = s.memory_bytes() as f64 / s.len() as f64;
        assert!(per_feature - 16.0 <= 48.0, "{per_feature} bytes per point");
    }
}
