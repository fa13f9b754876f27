//! Answering readers from the index: pages of items and vector tiles. The snapshot chooses the features
//! (bbox, time, and any filter that needs only geometry and time); the store supplies what the snapshot
//! lacks for the few features a page or tile actually returns, fetched by key: whole features for a page,
//! only ids and properties for a tile, which draws the snapshot's own shapes. A serving snapshot holds its
//! features' ids and properties too, so its tiles and pages need the store only when a filter reads
//! properties.

use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geoconsole_formats::{PropertyRef, Z_PROPERTY, push_feature_json, push_feature_parts_json};
use geoconsole_index::{
    Cell, ItemValue, PointHit, PropertyTable, Selection, Shape, Snapshot, TimeRange, Walk,
};
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{Bbox, Dataset, Feature, FeatureId, TimeSpan};
use geoconsole_query::{DateTimeFilter, Filter, FilterLang, Queryables, Subject, parse_filter};
use geoconsole_store::{FeatureStore, Fields};
use geoconsole_tiles::{
    BUFFER, LayerBuilder, LayerPlan, PointPlan, TableFeature, TileId, encode_tile, plan_layer,
    plan_points,
};
use serde_json::Value;

use crate::{AppError, AppErrorKind, AppResult};

/// Which page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Page {
    #[default]
    First,
    /// The features after this row key.
    After(i64),
    /// The features before this row key (a previous page).
    Before(i64),
}

#[derive(Debug, Clone, Default)]
pub struct ItemsRequest {
    pub bbox: Option<Bbox>,
    pub datetime: Option<DateTimeFilter>,
    pub filter: Option<Filter>,
    pub limit: usize,
    pub page: Page,
}

#[derive(Debug, Clone)]
pub struct ItemsPage {
    /// The dataset as of the snapshot that answered.
    pub dataset: Dataset,
    pub items: PageItems,
    /// Continue after this key for the next page.
    pub next: Option<i64>,
    /// Continue before this key for the previous page.
    pub prev: Option<i64>,
    /// How many features match in all, when that is cheap to know.
    pub number_matched: Option<u64>,
}

/// A page's features: fetched whole from the store, or slots of the serving snapshot, whose shapes and
/// property table hold everything an item shows. Those are written as GeoJSON straight from the snapshot:
/// making a thousand features into `Feature`s (a map, a key and a value each per property) only to write
/// them out again was most of a large page's cost.
#[derive(Debug, Clone)]
pub enum PageItems {
    Fetched(Vec<Feature>),
    InMemory {
        snapshot: Arc<Snapshot>,
        slots: Vec<u32>,
    },
}

impl PageItems {
    pub fn len(&self) -> usize {
        match self {
            PageItems::Fetched(features) => features.len(),
            PageItems::InMemory { slots, .. } => slots.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The features whole, as the store would give them.
    pub fn to_features(&self) -> Vec<Feature> {
        match self {
            PageItems::Fetched(features) => features.clone(),
            PageItems::InMemory { snapshot, slots } => slots
                .iter()
                .filter_map(|slot| feature_in_memory(snapshot, *slot))
                .collect(),
        }
    }

    /// Appends the features as RFC 7946 Feature objects separated by commas: the same text for a feature
    /// whether it was fetched or is written from the snapshot.
    pub fn write_geojson(&self, out: &mut String) {
        match self {
            PageItems::Fetched(features) => {
                for (i, feature) in features.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_feature_json(feature, out);
                }
            }
            PageItems::InMemory { snapshot, slots } => {
                let Some(table) = snapshot.properties() else {
                    return;
                };
                let z_column = table.column(Z_PROPERTY);
                for (i, slot) in slots.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_slot_geojson(snapshot, table, *slot, z_column, out);
                }
            }
        }
    }
}

/// One feature of a serving snapshot as GeoJSON, from its shape and its row of the property table.
fn write_slot_geojson(
    snapshot: &Snapshot,
    table: &PropertyTable,
    slot: u32,
    z_column: Option<usize>,
    out: &mut String,
) {
    let point;
    let geometry = match snapshot.shape(slot) {
        Some(Shape::Point([x, y])) => {
            point = Geometry::Point(Point::new(x, y));
            Some(&point)
        }
        Some(Shape::Geometry(g)) => Some(g),
        None => None,
    };
    let z = match (geometry, z_column.map(|c| table.item_value(c, slot))) {
        (Some(Geometry::Point(_)), Some(ItemValue::Cell(Cell::Sint(z)))) => Some(z as f64),
        (Some(Geometry::Point(_)), Some(ItemValue::Cell(Cell::Uint(z)))) => Some(z as f64),
        (Some(Geometry::Point(_)), Some(ItemValue::Cell(Cell::Double(z)))) => Some(z),
        _ => None,
    };
    let id = table.id(slot);
    let properties = table.names().enumerate().filter_map(|(column, name)| {
        let value = match table.item_value(column, slot) {
            ItemValue::Absent => return None,
            ItemValue::Null => PropertyRef::Null,
            ItemValue::Cell(Cell::Bool(b)) => PropertyRef::Bool(b),
            ItemValue::Cell(Cell::Sint(i)) => PropertyRef::Sint(i),
            ItemValue::Cell(Cell::Uint(u)) => PropertyRef::Uint(u),
            ItemValue::Cell(Cell::Double(d)) => PropertyRef::Double(d),
            ItemValue::Cell(Cell::Str(text)) => PropertyRef::Text(text),
            ItemValue::Json(text) => PropertyRef::JsonText(text),
        };
        Some((name, value))
    });
    push_feature_parts_json((!id.is_empty()).then_some(id), geometry, z, properties, out);
}

/// Slots visited at most to count matches; beyond it `numberMatched` is left out rather than slow.
const COUNT_BUDGET: usize = 1_000_000;
/// Slots whose geometry a count may test against a spatial filter.
const FILTERED_COUNT_BUDGET: usize = 200_000;
/// Features fetched per round when a filter needs properties.
const FETCH_CHUNK: usize = 2048;

/// What a filter sees of a slot when it needs only geometry and time.
struct Slot<'a> {
    snapshot: &'a Snapshot,
    slot: u32,
}

impl Subject for Slot<'_> {
    fn property(&self, _name: &str) -> Option<&Value> {
        None
    }
    fn id(&self) -> Option<&str> {
        None
    }
    fn geometry(&self) -> Option<Geometry<f64>> {
        self.snapshot.shape(self.slot).map(|s| s.to_geometry())
    }
    fn time(&self) -> Option<TimeSpan> {
        let (start, end) = self.snapshot.time(self.slot)?;
        Some(TimeSpan {
            start: DateTime::<Utc>::from_timestamp_millis(start)?,
            end: DateTime::<Utc>::from_timestamp_millis(end)?,
        })
    }
}

/// What a filter sees of a feature drawn on a tile: shape and time from the snapshot, id and properties
/// from the store.
/// A feature of a snapshot with its id and properties, from the store or the snapshot's own table, for a
/// filter that reads properties.
struct Drawn<'a> {
    snapshot: &'a Snapshot,
    slot: u32,
    id: &'a str,
    properties: &'a geoconsole_model::Properties,
}

impl Subject for Drawn<'_> {
    fn property(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }
    fn id(&self) -> Option<&str> {
        Some(self.id)
    }
    fn geometry(&self) -> Option<Geometry<f64>> {
        Slot {
            snapshot: self.snapshot,
            slot: self.slot,
        }
        .geometry()
    }
    fn time(&self) -> Option<TimeSpan> {
        Slot {
            snapshot: self.snapshot,
            slot: self.slot,
        }
        .time()
    }
}

pub fn time_range(filter: &DateTimeFilter) -> TimeRange {
    TimeRange {
        start: filter.start.map(|t| t.timestamp_millis()),
        end: filter.end.map(|t| t.timestamp_millis()),
    }
}

/// The names a filter may use on this dataset.
pub fn queryables(dataset: &Dataset) -> Queryables {
    Queryables {
        properties: dataset
            .schema
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect(),
    }
}

/// Parses a filter against one dataset's queryables.
pub fn compile_filter(dataset: &Dataset, text: &str, lang: FilterLang) -> AppResult<Filter> {
    parse_filter(text, lang, &queryables(dataset))
        .map_err(|e| AppError::new(AppErrorKind::Invalid, e.to_string()))
}

fn selection(
    bbox: Option<Bbox>,
    datetime: Option<&DateTimeFilter>,
    filter: Option<&Filter>,
) -> Selection {
    Selection {
        bbox: bbox.or_else(|| filter.and_then(Filter::spatial_bounds)),
        time: datetime.map(time_range),
    }
}

/// Whether the index alone can decide a slot (no filter, or one that needs only geometry and time).
fn index_decides(filter: Option<&Filter>) -> bool {
    filter.is_none_or(|f| !f.needs_properties())
}

fn passes_in_index(snapshot: &Snapshot, slot: u32, filter: Option<&Filter>) -> bool {
    match filter {
        Some(f) if !f.needs_properties() => f.matches(&Slot { snapshot, slot }),
        _ => true,
    }
}

pub async fn items(
    store: &Arc<dyn FeatureStore>,
    snapshot: Arc<Snapshot>,
    request: ItemsRequest,
) -> AppResult<ItemsPage> {
    let id = snapshot.dataset().id.clone();
    let filter = request.filter.as_ref();
    let sel = selection(request.bbox, request.datetime.as_ref(), filter);
    let want = request.limit + 1;
    let walk = match request.page {
        Page::First => Walk::After(None),
        Page::After(k) => Walk::After(Some(k)),
        Page::Before(k) => Walk::Before(k),
    };
    let chunk_size = if index_decides(filter) {
        want
    } else {
        want.max(FETCH_CHUNK)
    };
    // Slot, key, and the feature when the filter needed it fetched.
    let mut matched: Vec<(u32, i64, Option<Feature>)> = Vec::with_capacity(want);
    let mut current = walk;
    loop {
        let mut chunk: Vec<u32> = Vec::new();
        let mut last_key = None;
        let mut exhausted = true;
        snapshot.for_each_selected(&sel, current, |slot| {
            last_key = Some(snapshot.key(slot));
            if passes_in_index(&snapshot, slot, filter) {
                chunk.push(slot);
            }
            if chunk.len() >= chunk_size {
                exhausted = false;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if index_decides(filter) {
            matched.extend(chunk.iter().map(|s| (*s, snapshot.key(*s), None)));
        } else {
            let keys: Vec<i64> = chunk.iter().map(|s| snapshot.key(*s)).collect();
            for (key, feature) in store.features_by_key(&id, keys).await? {
                if filter.is_some_and(|f| f.matches(&feature)) {
                    // The page is the fetched feature; its slot is not needed again.
                    matched.push((u32::MAX, key, Some(feature)));
                }
            }
        }
        if matched.len() >= want || exhausted {
            break;
        }
        current = match walk {
            Walk::After(_) => Walk::After(last_key),
            Walk::Before(_) => Walk::Before(last_key.unwrap_or(i64::MIN)),
        };
    }
    let more = matched.len() > request.limit;
    matched.truncate(request.limit);
    if matches!(walk, Walk::Before(_)) {
        matched.reverse();
    }
    let (first, last) = (
        matched.first().map(|(_, k, _)| *k),
        matched.last().map(|(_, k, _)| *k),
    );
    let items = if !index_decides(filter) {
        PageItems::Fetched(matched.into_iter().filter_map(|(_, _, f)| f).collect())
    } else if let Some(table) = snapshot.properties() {
        // Everything an item holds is in memory: the page never reads the store. A feature gone from the
        // store when the table was read is left out, as a read by key would skip it.
        let slots = matched
            .iter()
            .map(|(slot, _, _)| *slot)
            .filter(|slot| table.contains(*slot))
            .collect();
        PageItems::InMemory {
            snapshot: Arc::clone(&snapshot),
            slots,
        }
    } else {
        // A feature replaced since this snapshot may be gone; the page just holds one fewer.
        let keys: Vec<i64> = matched.iter().map(|(_, k, _)| *k).collect();
        PageItems::Fetched(
            store
                .features_by_key(&id, keys)
                .await?
                .into_iter()
                .map(|(_, f)| f)
                .collect(),
        )
    };
    let (next, prev) = match walk {
        Walk::After(None) => (if more { last } else { None }, None),
        Walk::After(Some(_)) => (if more { last } else { None }, first),
        Walk::Before(_) => (last, if more { first } else { None }),
    };
    let number_matched = count(&snapshot, &sel, filter);
    Ok(ItemsPage {
        dataset: snapshot.dataset().clone(),
        items,
        next,
        prev,
        number_matched,
    })
}

/// A feature as the store would give it, from a serving snapshot: its shape (the store's own, decoded once),
/// and its id and properties from the snapshot's property table. `None` when it had vanished from the store
/// when the table was read, as a read by key would skip it. Times hold milliseconds, as the snapshot does;
/// a page writes the time from the properties, which hold it in full.
fn feature_in_memory(snapshot: &Snapshot, slot: u32) -> Option<Feature> {
    let table = snapshot.properties()?;
    if !table.contains(slot) {
        return None;
    }
    let id = table.id(slot);
    Some(Feature {
        id: (!id.is_empty()).then(|| FeatureId(id.to_string())),
        geometry: snapshot.shape(slot).map(|shape| match shape {
            Shape::Point([x, y]) => Geometry::Point(Point::new(x, y)),
            Shape::Geometry(g) => g.clone(),
        }),
        time: snapshot.time(slot).and_then(|(start, end)| {
            Some(TimeSpan {
                start: DateTime::from_timestamp_millis(start)?,
                end: DateTime::from_timestamp_millis(end)?,
            })
        }),
        properties: table.properties(slot),
    })
}

fn count(snapshot: &Snapshot, sel: &Selection, filter: Option<&Filter>) -> Option<u64> {
    match filter {
        None => snapshot.count(sel, COUNT_BUDGET),
        Some(f) if f.needs_properties() => None,
        Some(f) => {
            let (mut n, mut visited, mut gave_up) = (0u64, 0usize, false);
            snapshot.for_each_selected(sel, Walk::After(None), |slot| {
                visited += 1;
                if visited > FILTERED_COUNT_BUDGET {
                    gave_up = true;
                    return ControlFlow::Break(());
                }
                if f.matches(&Slot { snapshot, slot }) {
                    n += 1;
                }
                ControlFlow::Continue(())
            });
            (!gave_up).then_some(n)
        }
    }
}

/// One vector tile over several datasets (a layer each, named by dataset id).
#[derive(Debug, Clone)]
pub struct TileRequest {
    pub tile: TileId,
    pub datetime: Option<DateTimeFilter>,
    /// One filter per dataset, compiled against each dataset's queryables, in the order of `snapshots`.
    pub filters: Vec<Option<Filter>>,
}

#[derive(Debug, Clone)]
pub struct RenderedTile {
    pub bytes: Vec<u8>,
    pub features: usize,
}

/// Points a tile may hold and still be drawn on the async worker that took the request (about a
/// millisecond of drawing).
const INLINE_POINTS: usize = 2_000;

pub async fn tile(
    store: &Arc<dyn FeatureStore>,
    snapshots: &[Arc<Snapshot>],
    request: &TileRequest,
) -> AppResult<RenderedTile> {
    let mut layers = Vec::with_capacity(snapshots.len());
    let mut total = 0;
    for (i, snapshot) in snapshots.iter().enumerate() {
        let filter = request.filters.get(i).and_then(Option::as_ref);
        let sel = Selection {
            bbox: None,
            time: request.datetime.as_ref().map(time_range),
        };
        // The snapshot holds the properties: planned, filtered and drawn in one go, without the store (a
        // filter that reads properties reads them from the snapshot's table, one feature at a time, rather
        // than every feature of the tile fetched from the store at once).
        if snapshot.properties().is_some() {
            // A few points (most tiles at street zooms) are drawn on the request's own thread: handing them
            // to the blocking pool costs two thread wake-ups, more than drawing them. Anything larger (dense
            // or clustered points, shapes to clip) is drawn off the async workers.
            // The points gathered to decide are the ones drawn: the tree is walked once.
            let mut points = Vec::new();
            let few = snapshot.is_points() && {
                let mut all = true;
                snapshot.for_each_point_in(
                    &[request.tile.bbox(BUFFER)],
                    sel.time.as_ref(),
                    |point| {
                        if points.len() == INLINE_POINTS {
                            all = false;
                            return ControlFlow::Break(());
                        }
                        points.push(point);
                        ControlFlow::Continue(())
                    },
                );
                all
            };
            let layer = if few {
                draw_from_snapshot(snapshot, request.tile, &sel, filter, Some(points))
            } else {
                let snapshot = Arc::clone(snapshot);
                let filter = filter.cloned();
                let tile_id = request.tile;
                tokio::task::spawn_blocking(move || {
                    draw_from_snapshot(&snapshot, tile_id, &sel, filter.as_ref(), None)
                })
                .await
                .map_err(|e| {
                    AppError::new(AppErrorKind::Internal, format!("tile drawing failed: {e}"))
                })?
            };
            total += layer.len();
            layers.push(layer.finish());
            continue;
        }
        let plan = {
            let snapshot = Arc::clone(snapshot);
            let filter = filter.cloned();
            let tile_id = request.tile;
            tokio::task::spawn_blocking(move || {
                let keep = |slot: u32| passes_in_index(&snapshot, slot, filter.as_ref());
                // A filter that reads properties must see every feature, so those layers are not clustered.
                plan_layer(
                    &snapshot,
                    tile_id,
                    &sel,
                    &keep,
                    index_decides(filter.as_ref()),
                )
            })
            .await
            .map_err(|e| {
                AppError::new(AppErrorKind::Internal, format!("tile planning failed: {e}"))
            })?
        };
        let id = &snapshot.dataset().id;
        let mut layer = LayerBuilder::new(id.as_str(), request.tile);
        match plan {
            LayerPlan::Clusters(clusters) => {
                clusters.into_iter().for_each(|c| layer.add_cluster(c))
            }
            LayerPlan::Features(slots) => {
                let keys: Vec<i64> = slots.iter().map(|s| snapshot.key(*s)).collect();
                // A tile encodes every property; the shapes and times come from the snapshot, which already
                // holds them, so the store never reads or decodes a geometry here.
                let rows = store.properties_by_key(id, keys, &Fields::All).await?;
                let filter = filter.cloned();
                let snapshot = Arc::clone(snapshot);
                layer = tokio::task::spawn_blocking(move || {
                    // Rows come in slot order with vanished keys skipped, so one forward walk pairs them.
                    let mut slots = slots.into_iter();
                    for row in &rows {
                        let Some(slot) = slots.find(|s| snapshot.key(*s) == row.key) else {
                            break;
                        };
                        if filter.as_ref().is_some_and(|f| {
                            f.needs_properties()
                                && !f.matches(&Drawn {
                                    snapshot: &snapshot,
                                    slot,
                                    id: row.id.as_str(),
                                    properties: &row.properties,
                                })
                        }) {
                            continue;
                        }
                        // An unlocated feature has no place on a tile.
                        let Some(shape) = snapshot.shape(slot) else {
                            continue;
                        };
                        let point;
                        let geometry = match shape {
                            Shape::Point([x, y]) => {
                                point = Geometry::Point(Point::new(x, y));
                                &point
                            }
                            Shape::Geometry(g) => g,
                        };
                        layer.add_feature(
                            row.key,
                            row.id.as_str(),
                            geometry,
                            snapshot.time(slot),
                            &row.properties,
                        );
                    }
                    layer
                })
                .await
                .map_err(|e| {
                    AppError::new(AppErrorKind::Internal, format!("tile encoding failed: {e}"))
                })?;
            }
        }
        total += layer.len();
        layers.push(layer.finish());
    }
    Ok(RenderedTile {
        bytes: encode_tile(layers),
        features: total,
    })
}

/// One layer drawn from the snapshot alone: shapes, times, ids and properties (the snapshot's property
/// table), filtered by any filter. The same tile as drawing with properties from the store. `points`: the
/// points of a points dataset inside the tile and its time window, when the caller has gathered them.
fn draw_from_snapshot(
    snapshot: &Snapshot,
    tile_id: TileId,
    sel: &Selection,
    filter: Option<&Filter>,
    points: Option<Vec<PointHit>>,
) -> LayerBuilder {
    let mut layer = LayerBuilder::new(snapshot.dataset().id.as_str(), tile_id);
    let Some(table) = snapshot.properties() else {
        return layer;
    };
    // Only the columns the filter reads are built per feature (a map of every column was built before).
    let read: Vec<usize> = filter.map_or_else(Vec::new, |f| {
        f.property_names()
            .into_iter()
            .filter_map(|name| table.column(name))
            .collect()
    });
    let keep = |slot: u32| {
        passes_in_index(snapshot, slot, filter)
            && filter.is_none_or(|f| {
                !f.needs_properties()
                    || (table.contains(slot)
                        && f.matches(&Drawn {
                            snapshot,
                            slot,
                            id: table.id(slot),
                            properties: &table.properties_in(slot, read.iter().copied()),
                        }))
            })
    };
    // A filter that reads properties must see every feature, so those layers are not clustered.
    let cluster = index_decides(filter);
    if snapshot.is_points() {
        // Everything but the properties comes off the tree's leaves; the properties' rows follow the
        // tree's order, so a tile's rows sit together in memory.
        let points = points.unwrap_or_else(|| {
            let mut all = Vec::new();
            snapshot.for_each_point_in(&[tile_id.bbox(BUFFER)], sel.time.as_ref(), |point| {
                all.push(point);
                ControlFlow::Continue(())
            });
            all
        });
        match plan_points(tile_id, points, &keep, cluster) {
            PointPlan::Clusters(clusters) => {
                clusters.into_iter().for_each(|c| layer.add_cluster(c))
            }
            PointPlan::Features(points) => {
                let features: Vec<TableFeature<'_>> = points
                    .into_iter()
                    // Gone from the store when the table was read: the store path would skip it too.
                    .filter(|point| table.contains(point.slot))
                    .map(|point| TableFeature {
                        key: snapshot.key(point.slot),
                        time: snapshot.time(point.slot),
                        shape: Shape::Point(point.xy),
                        row: point.row as usize,
                    })
                    .collect();
                layer.add_from_table(&features, table);
            }
        }
        return layer;
    }
    match plan_layer(snapshot, tile_id, sel, &keep, cluster) {
        LayerPlan::Clusters(clusters) => clusters.into_iter().for_each(|c| layer.add_cluster(c)),
        LayerPlan::Features(slots) => {
            let features: Vec<TableFeature<'_>> = slots
                .into_iter()
                // Gone from the store when the table was read: the store path would skip it too.
                .filter(|slot| table.contains(*slot))
                .filter_map(|slot| {
                    Some(TableFeature {
                        key: snapshot.key(slot),
                        time: snapshot.time(slot),
                        // An unlocated feature has no place on a tile.
                        shape: snapshot.shape(slot)?,
                        row: table.row(slot),
                    })
                })
                .collect();
            layer.add_from_table(&features, table);
        }
    }
    layer
}

/// A page of a dataset the store serves (push-down): bbox and time go to the store's indexes, a filter is
/// applied to what comes back, page by page, until the page is full. Pages go forward only: a listing of a
/// dataset this large is followed by its `next` links, and `prev` is not offered.
pub async fn items_from_store(
    store: &Arc<dyn FeatureStore>,
    dataset: Dataset,
    request: ItemsRequest,
) -> AppResult<ItemsPage> {
    let after = match request.page {
        Page::First => None,
        Page::After(key) => Some(key),
        Page::Before(_) => {
            return Err(AppError::new(
                AppErrorKind::Invalid,
                format!(
                    "dataset '{}' is served from the database page by page: follow the 'next' links from the first page",
                    dataset.id
                ),
            ));
        }
    };
    let filter = request.filter.as_ref();
    let mut query = geoconsole_query::FeatureQuery {
        bbox: request
            .bbox
            .or_else(|| filter.and_then(Filter::spatial_bounds)),
        datetime: request.datetime,
        limit: None,
        cursor: after.map(|k| geoconsole_query::Cursor(k.to_string())),
    };
    let mut features = Vec::with_capacity(request.limit);
    let mut next = None;
    while features.len() < request.limit {
        // Each store page is taken whole (never more than the page still needs), so its continuation is
        // exactly where this page stops.
        query.limit = Some(request.limit - features.len());
        let page = store.query(&dataset.id, &query).await?;
        features.extend(
            page.features
                .into_iter()
                .filter(|f| filter.is_none_or(|flt| flt.matches(f))),
        );
        match page.next {
            Some(cursor) => {
                next = cursor.0.parse::<i64>().ok();
                query.cursor = Some(cursor);
            }
            None => {
                next = None;
                break;
            }
        }
    }
    Ok(ItemsPage {
        dataset,
        items: PageItems::Fetched(features),
        next,
        prev: None,
        number_matched: None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use chrono::TimeZone;
    use geoconsole_model::geo_types::{LineString, Polygon};
    use geoconsole_model::{DatasetId, DatasetKind, FeatureId, Properties, TimeFields};
    use geoconsole_query::FeatureQuery;
    use geoconsole_store::{
        DatasetWriter, FeaturePage, IndexRow, StoreResult, WriteMode, WriteRequest,
    };
    use serde_json::json;

    use super::*;
    use crate::live::{build_serving_snapshot, build_snapshot};
    use geoconsole_store::PropertyRow;

    /// A store that counts the reads a reader makes, so a test can tell which one a tile used.
    #[derive(Debug)]
    struct Counting {
        inner: Arc<dyn FeatureStore>,
        whole: AtomicUsize,
        properties: AtomicUsize,
    }

    #[async_trait]
    impl FeatureStore for Counting {
        fn location(&self) -> String {
            self.inner.location()
        }
        async fn list_datasets(&self) -> StoreResult<Vec<Dataset>> {
            self.inner.list_datasets().await
        }
        async fn dataset(&self, id: &DatasetId) -> StoreResult<Dataset> {
            self.inner.dataset(id).await
        }
        async fn begin_write(&self, request: WriteRequest) -> StoreResult<Box<dyn DatasetWriter>> {
            self.inner.begin_write(request).await
        }
        async fn query(&self, id: &DatasetId, query: &FeatureQuery) -> StoreResult<FeaturePage> {
            self.inner.query(id, query).await
        }
        async fn feature(&self, id: &DatasetId, feature: &FeatureId) -> StoreResult<Feature> {
            self.inner.feature(id, feature).await
        }
        async fn scan_index(
            &self,
            id: &DatasetId,
            sink: Box<dyn FnMut(Vec<IndexRow>) -> bool + Send>,
        ) -> StoreResult<Dataset> {
            self.inner.scan_index(id, sink).await
        }
        async fn features_by_key(
            &self,
            id: &DatasetId,
            keys: Vec<i64>,
        ) -> StoreResult<Vec<(i64, Feature)>> {
            self.whole.fetch_add(1, Ordering::Relaxed);
            self.inner.features_by_key(id, keys).await
        }
        async fn properties_by_key(
            &self,
            id: &DatasetId,
            keys: Vec<i64>,
            fields: &Fields,
        ) -> StoreResult<Vec<PropertyRow>> {
            self.properties.fetch_add(1, Ordering::Relaxed);
            self.inner.properties_by_key(id, keys, fields).await
        }
        async fn drop_dataset(&self, id: &DatasetId) -> StoreResult<()> {
            self.inner.drop_dataset(id).await
        }
    }

    /// The tile as it was drawn before tiles used the snapshot's shapes: whole features from the store.
    /// Kept here as the reference the current drawing must match byte for byte.
    async fn reference_tile(
        store: &Arc<dyn FeatureStore>,
        snapshots: &[Arc<Snapshot>],
        request: &TileRequest,
    ) -> Vec<u8> {
        let mut layers = Vec::new();
        for (i, snapshot) in snapshots.iter().enumerate() {
            let filter = request.filters.get(i).and_then(Option::as_ref);
            let sel = Selection {
                bbox: None,
                time: request.datetime.as_ref().map(time_range),
            };
            let keep = |slot: u32| passes_in_index(snapshot, slot, filter);
            let plan = plan_layer(snapshot, request.tile, &sel, &keep, index_decides(filter));
            let id = &snapshot.dataset().id;
            let mut layer = LayerBuilder::new(id.as_str(), request.tile);
            match plan {
                LayerPlan::Clusters(clusters) => {
                    clusters.into_iter().for_each(|c| layer.add_cluster(c))
                }
                LayerPlan::Features(slots) => {
                    let keys: Vec<i64> = slots.iter().map(|s| snapshot.key(*s)).collect();
                    for (key, feature) in store.features_by_key(id, keys).await.expect("fetch") {
                        if filter.is_some_and(|f| f.needs_properties() && !f.matches(&feature)) {
                            continue;
                        }
                        let fid = feature.id.as_ref().map_or("", |i| i.as_str());
                        let time = feature
                            .time
                            .map(|t| (t.start.timestamp_millis(), t.end.timestamp_millis()));
                        if let Some(geometry) = &feature.geometry {
                            layer.add_feature(key, fid, geometry, time, &feature.properties);
                        }
                    }
                }
            }
            layers.push(layer.finish());
        }
        encode_tile(layers)
    }

    fn properties(i: u32) -> Properties {
        let value = json!({
            "name": format!("n{i}"),
            "rank": i % 100,
            "score": f64::from(i) / 7.0,
            "ok": i.is_multiple_of(3),
            "note": if i.is_multiple_of(5) { Value::Null } else { json!("x") },
            "tags": {"k": [i, i + 1]},
        });
        let Value::Object(mut map) = value else {
            unreachable!()
        };
        // Names a tile also writes itself: the feature's own values must win.
        if i.is_multiple_of(11) {
            map.insert("id".into(), json!(format!("own{i}")));
            map.insert("time_start".into(), json!(i));
        }
        // A kept third coordinate (a point writes it into its position), text that needs escaping, and a
        // number past i64.
        if i.is_multiple_of(7) {
            map.insert("geometry_z".into(), json!(f64::from(i) * 0.5));
            map.insert("said".into(), json!(format!("\"q{i}\"\n\u{1}é")));
            map.insert("big".into(), json!(u64::MAX - u64::from(i)));
        }
        map
    }

    fn when(i: u32) -> Option<TimeSpan> {
        let start = Utc
            .timestamp_millis_opt(1_700_000_000_000 + i64::from(i) * 3_600_123)
            .unwrap();
        (!i.is_multiple_of(4)).then(|| TimeSpan {
            start,
            end: start + chrono::Duration::milliseconds(i64::from(i % 7) * 60_000),
        })
    }

    fn points(n: u32) -> Vec<Feature> {
        (0..n)
            .map(|i| {
                let (a, b) = (f64::from(i % 97), f64::from(i / 97));
                Feature {
                    id: Some(FeatureId(format!("p{i}"))),
                    // One in fifty is unlocated: it has a slot but no place on any tile.
                    geometry: (i % 50 != 1)
                        .then(|| Geometry::Point(Point::new(1.0 + a * 0.2137, 41.0 + b * 0.1931))),
                    time: when(i),
                    properties: properties(i),
                }
            })
            .collect()
    }

    fn shapes(n: u32) -> Vec<Feature> {
        (0..n)
            .map(|i| {
                let (x, y) = (
                    f64::from(i % 23) * 0.9 + 0.3,
                    40.5 + f64::from(i / 23) * 0.77,
                );
                let size = 0.05 + f64::from(i % 9) * 0.4;
                let geometry = if i % 2 == 0 {
                    Geometry::Polygon(Polygon::new(
                        LineString::from(vec![
                            (x, y),
                            (x + size, y + size * 0.1),
                            (x + size * 1.1, y + size),
                            (x - size * 0.2, y + size * 0.8),
                            (x, y),
                        ]),
                        vec![],
                    ))
                } else {
                    Geometry::LineString(LineString::from(
                        (0..40)
                            .map(|k| {
                                let t = f64::from(k) / 39.0;
                                (x + t * size * 3.0, y + (t * 9.0).sin() * size)
                            })
                            .collect::<Vec<_>>(),
                    ))
                };
                Feature {
                    id: Some(FeatureId(format!("s{i}"))),
                    geometry: (i % 17 != 3).then_some(geometry),
                    time: when(i),
                    properties: properties(i),
                }
            })
            .collect()
    }

    async fn write(
        store: &Arc<dyn FeatureStore>,
        name: &str,
        features: Vec<Feature>,
    ) -> Arc<Snapshot> {
        let id = DatasetId::new(name).expect("id");
        let mut writer = store
            .begin_write(WriteRequest {
                id: id.clone(),
                title: name.into(),
                kind: DatasetKind::Events,
                source: "test".into(),
                time_fields: TimeFields::default(),
                id_field: None,
                mode: WriteMode::Create,
                skip_conflicts: false,
            })
            .await
            .expect("begin");
        writer.write(features).await.expect("write");
        writer.commit().await.expect("commit");
        Arc::new(build_snapshot(store, &id).await.expect("snapshot"))
    }

    /// The snapshot a serving console publishes, with the properties in memory.
    async fn serving(store: &Arc<dyn FeatureStore>, name: &str) -> Arc<Snapshot> {
        let id = DatasetId::new(name).expect("id");
        let snapshot = build_serving_snapshot(store, &id).await.expect("snapshot");
        assert!(
            snapshot.properties().is_some(),
            "{name} keeps its properties"
        );
        Arc::new(snapshot)
    }

    /// Every tile at `z` over lon 0…22, lat 40…60 (where the data lies).
    fn tiles_at(z: u32) -> Vec<TileId> {
        let n = f64::from(1u32 << z);
        let x = |lon: f64| ((lon + 180.0) / 360.0 * n) as u32;
        let y = |lat: f64| {
            let r = lat.to_radians();
            ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32
        };
        let mut out = Vec::new();
        for tx in x(0.0)..=x(22.0) {
            for ty in y(60.0)..=y(40.0) {
                out.push(TileId::new(z, tx, ty).expect("tile"));
            }
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tiles_draw_the_snapshot_shapes_with_fetched_properties_and_stay_the_same() {
        let dir = tempfile::tempdir().expect("folder");
        let gpkg = geoconsole_gpkg::GpkgStore::open(dir.path().join("t.gpkg")).expect("store");
        let counting = Arc::new(Counting {
            inner: Arc::new(gpkg),
            whole: AtomicUsize::new(0),
            properties: AtomicUsize::new(0),
        });
        let store: Arc<dyn FeatureStore> = counting.clone();
        // More points than one tile draws one by one, so low zooms cluster and high zooms do not.
        let snapshots = vec![
            write(&store, "spots", points(6_000)).await,
            write(&store, "areas", shapes(400)).await,
        ];
        // The same datasets as a serving console holds them: ids and properties in memory too.
        let held = vec![
            serving(&store, "spots").await,
            serving(&store, "areas").await,
        ];
        let filters = [
            None,
            Some("rank > 30"),
            Some("S_INTERSECTS(geometry, POLYGON((2 42, 9 42, 9 50, 2 50, 2 42)))"),
            Some("rank < 60 AND S_INTERSECTS(geometry, POLYGON((0 40, 12 40, 12 55, 0 55, 0 40)))"),
            Some("name LIKE 'n1%' OR ok = true"),
        ];
        let datetimes = [
            None,
            Some(DateTimeFilter {
                start: Utc
                    .timestamp_millis_opt(1_700_000_000_000 + 500 * 3_600_000)
                    .single(),
                end: None,
            }),
        ];
        let (mut drawn, mut compared) = (0, 0);
        for z in [0, 3, 5, 6] {
            for tile_id in tiles_at(z) {
                for text in filters {
                    for datetime in &datetimes {
                        let request = TileRequest {
                            tile: tile_id,
                            datetime: *datetime,
                            filters: snapshots
                                .iter()
                                .map(|s| {
                                    text.map(|t| {
                                        compile_filter(s.dataset(), t, FilterLang::Text)
                                            .expect("filter")
                                    })
                                })
                                .collect(),
                        };
                        let whole_before = counting.whole.load(Ordering::Relaxed);
                        let rendered = tile(&store, &snapshots, &request).await.expect("tile");
                        assert_eq!(
                            counting.whole.load(Ordering::Relaxed),
                            whole_before,
                            "a tile never asks the store for whole features (geometry included)"
                        );
                        let expected = reference_tile(&store, &snapshots, &request).await;
                        assert_eq!(rendered.bytes, expected, "tile {tile_id} filter {text:?}");
                        let fetches_before = counting.properties.load(Ordering::Relaxed);
                        let from_memory = tile(&store, &held, &request).await.expect("tile");
                        assert_eq!(
                            from_memory.bytes, expected,
                            "tile {tile_id} filter {text:?}, properties in memory"
                        );
                        // Filters that read properties included: they read the snapshot's table.
                        assert_eq!(
                            counting.properties.load(Ordering::Relaxed),
                            fetches_before,
                            "a tile drawn from memory never asks the store"
                        );
                        drawn += rendered.features;
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 100, "{compared} tiles compared");
        assert!(drawn > 10_000, "the tiles drew features: {drawn}");
        assert!(counting.properties.load(Ordering::Relaxed) > 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_from_memory_are_the_pages_from_the_store() {
        let dir = tempfile::tempdir().expect("folder");
        let gpkg = geoconsole_gpkg::GpkgStore::open(dir.path().join("p.gpkg")).expect("store");
        let counting = Arc::new(Counting {
            inner: Arc::new(gpkg),
            whole: AtomicUsize::new(0),
            properties: AtomicUsize::new(0),
        });
        let store: Arc<dyn FeatureStore> = counting.clone();
        let plain = [
            write(&store, "spots", points(3_000)).await,
            write(&store, "areas", shapes(400)).await,
        ];
        let held = [
            serving(&store, "spots").await,
            serving(&store, "areas").await,
        ];
        let bboxes = [None, Some(Bbox::new(2.0, 42.0, 9.0, 50.0).expect("bbox"))];
        let filters = [
            None,
            Some("S_INTERSECTS(geometry, POLYGON((0 40, 12 40, 12 55, 0 55, 0 40)))"),
            Some("rank > 30"),
        ];
        let datetimes = [
            None,
            Some(DateTimeFilter {
                start: Utc
                    .timestamp_millis_opt(1_700_000_000_000 + 500 * 3_600_000)
                    .single(),
                end: None,
            }),
        ];
        let mut items_compared = 0;
        for (plain, held) in plain.iter().zip(&held) {
            for bbox in bboxes {
                for text in filters {
                    for datetime in &datetimes {
                        let filter = text.map(|t| {
                            compile_filter(plain.dataset(), t, FilterLang::Text).expect("filter")
                        });
                        let from_memory = !filter.as_ref().is_some_and(Filter::needs_properties);
                        let mut page = Page::First;
                        // Forward through every page, then one step back.
                        loop {
                            let request = ItemsRequest {
                                bbox,
                                datetime: *datetime,
                                filter: filter.clone(),
                                limit: 97,
                                page,
                            };
                            let expected = items(&store, Arc::clone(plain), request.clone())
                                .await
                                .expect("page");
                            let reads = counting.whole.load(Ordering::Relaxed);
                            let got = items(&store, Arc::clone(held), request)
                                .await
                                .expect("page");
                            if from_memory {
                                assert_eq!(
                                    counting.whole.load(Ordering::Relaxed),
                                    reads,
                                    "a page from memory never reads the store"
                                );
                            }
                            if from_memory {
                                assert!(matches!(got.items, PageItems::InMemory { .. }));
                            }
                            assert_eq!(
                                got.items.to_features(),
                                expected.items.to_features(),
                                "{text:?} {bbox:?}"
                            );
                            let written = |page: &ItemsPage| {
                                let mut out = String::new();
                                page.items.write_geojson(&mut out);
                                out
                            };
                            assert_eq!(written(&got), written(&expected), "{text:?} {bbox:?}");
                            assert_eq!(
                                (got.next, got.prev, got.number_matched),
                                (expected.next, expected.prev, expected.number_matched)
                            );
                            items_compared += got.items.len();
                            match got.next {
                                Some(k) => page = Page::After(k),
                                None => break,
                            }
                        }
                    }
                }
            }
        }
        assert!(items_compared > 10_000, "{items_compared} items compared");
    }
}
