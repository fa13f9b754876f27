//! Answering readers from the index: pages of items and vector tiles. The snapshot chooses the features
//! (bbox, time, and any filter that needs only geometry and time); the store supplies the properties of
//! the few features a page or tile actually returns, fetched by key.

use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geoconsole_index::{Selection, Snapshot, TimeRange, Walk};
use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{Bbox, Dataset, Feature, TimeSpan};
use geoconsole_query::{DateTimeFilter, Filter, FilterLang, Queryables, Subject, parse_filter};
use geoconsole_store::FeatureStore;
use geoconsole_tiles::{LayerBuilder, LayerPlan, TileId, encode_tile, plan_layer};
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
    pub features: Vec<Feature>,
    /// Continue after this key for the next page.
    pub next: Option<i64>,
    /// Continue before this key for the previous page.
    pub prev: Option<i64>,
    /// How many features match in all, when that is cheap to know.
    pub number_matched: Option<u64>,
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
    let mut matched: Vec<(i64, Option<Feature>)> = Vec::with_capacity(want);
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
        let keys: Vec<i64> = chunk.iter().map(|s| snapshot.key(*s)).collect();
        if index_decides(filter) {
            matched.extend(keys.into_iter().map(|k| (k, None)));
        } else {
            for (key, feature) in store.features_by_key(&id, keys).await? {
                if filter.is_some_and(|f| f.matches(&feature)) {
                    matched.push((key, Some(feature)));
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
    let keys: Vec<i64> = matched.iter().map(|(k, _)| *k).collect();
    let (first, last) = (keys.first().copied(), keys.last().copied());
    let features: Vec<Feature> = if index_decides(filter) {
        // A feature replaced since this snapshot may be gone; the page just holds one fewer.
        store
            .features_by_key(&id, keys)
            .await?
            .into_iter()
            .map(|(_, f)| f)
            .collect()
    } else {
        matched.into_iter().filter_map(|(_, f)| f).collect()
    };
    let (next, prev) = match walk {
        Walk::After(None) => (if more { last } else { None }, None),
        Walk::After(Some(_)) => (if more { last } else { None }, first),
        Walk::Before(_) => (last, if more { first } else { None }),
    };
    let number_matched = count(&snapshot, &sel, filter);
    Ok(ItemsPage {
        dataset: snapshot.dataset().clone(),
        features,
        next,
        prev,
        number_matched,
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
                let features = store.features_by_key(id, keys).await?;
                let filter = filter.cloned();
                layer = tokio::task::spawn_blocking(move || {
                    for (key, feature) in &features {
                        if filter
                            .as_ref()
                            .is_some_and(|f| f.needs_properties() && !f.matches(feature))
                        {
                            continue;
                        }
                        let fid = feature.id.as_ref().map_or("", |i| i.as_str());
                        let time = feature
                            .time
                            .map(|t| (t.start.timestamp_millis(), t.end.timestamp_millis()));
                        // An unlocated feature has no place on a tile.
                        if let Some(geometry) = &feature.geometry {
                            layer.add_feature(*key, fid, geometry, time, &feature.properties);
                        }
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
        features,
        next,
        prev: None,
        number_matched: None,
    })
}
