//! Keeping the in-memory index in step with the store, and telling listeners what changed.
//!
//! The store is the truth: a snapshot is built from a committed version (the scan and the version come
//! from one read transaction), published atomically, and only then announced on the change channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use geoconsole_index::{Indexes, PropertyTable, PropertyTableBuilder, Snapshot, SnapshotBuilder};
use geoconsole_model::{Bbox, Dataset, DatasetId, Generation};
use geoconsole_store::{FeatureStore, Fields};
use serde::Serialize;
use tokio::sync::{Mutex, broadcast};

use crate::{AppError, AppErrorKind, AppResult};

/// A committed change, as announced on `/events`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEvent {
    pub dataset: DatasetId,
    /// `updated` or `dropped`.
    pub change: &'static str,
    /// The dataset's version after the change (0 when dropped).
    pub version: u64,
    /// Where the change happened: the union of the dataset's extent before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
    pub at: DateTime<Utc>,
}

/// Listeners that fall this far behind miss events and are told so (they reload everything).
const EVENT_BACKLOG: usize = 1024;

/// The live side of a console: snapshots and the change channel. Off until [`Live::enable`], so one-shot
/// commands (imports from the command line) do not pay for indexes nobody reads.
#[derive(Debug)]
pub struct Live {
    indexes: Indexes,
    events: broadcast::Sender<ChangeEvent>,
    enabled: AtomicBool,
    ready: AtomicBool,
    /// One refresh at a time per console: a refresh reads the newest committed version, so refreshes that
    /// queue behind a running one still end at the newest version.
    refreshing: Mutex<()>,
    /// Datasets with more features than this are not indexed but served by the store (push-down);
    /// `u64::MAX` when the store cannot answer for them.
    push_down_above: std::sync::atomic::AtomicU64,
    /// The metadata of the datasets served by the store, as of their last commit.
    pushed: std::sync::RwLock<std::collections::BTreeMap<DatasetId, Dataset>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            indexes: Indexes::new(),
            events: broadcast::channel(EVENT_BACKLOG).0,
            enabled: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            refreshing: Mutex::new(()),
            push_down_above: std::sync::atomic::AtomicU64::new(u64::MAX),
            pushed: std::sync::RwLock::default(),
        }
    }
}

impl Live {
    pub fn indexes(&self) -> &Indexes {
        &self.indexes
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.events.subscribe()
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Whether every dataset's snapshot has been loaded since [`Live::enable`].
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    pub(crate) fn set_push_down_above(&self, features: u64) {
        self.push_down_above.store(features, Ordering::Release);
    }

    /// Whether a dataset is served by the store rather than the index.
    pub fn is_pushed_down(&self, id: &DatasetId) -> bool {
        self.pushed_read().contains_key(id)
    }

    fn pushed_read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, std::collections::BTreeMap<DatasetId, Dataset>> {
        self.pushed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pushed_write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, std::collections::BTreeMap<DatasetId, Dataset>> {
        self.pushed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A dataset's metadata as last published: indexed or served by the store.
    pub fn dataset(&self, id: &DatasetId) -> Option<Dataset> {
        self.indexes
            .get(id)
            .map(|s| s.dataset().clone())
            .or_else(|| self.pushed_read().get(id).cloned())
    }

    /// Every published dataset's metadata, ordered by id.
    pub fn datasets(&self) -> Vec<Dataset> {
        let mut all: Vec<Dataset> = self
            .indexes
            .all()
            .iter()
            .map(|s| s.dataset().clone())
            .collect();
        all.extend(self.pushed_read().values().cloned());
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The version a dataset was last published at, indexed or not.
    pub fn version(&self, id: &DatasetId) -> Option<u64> {
        self.generation(id).map(|g| g.version)
    }

    /// The committed state a dataset was last published from, indexed or not: what cache keys and ETags
    /// must follow, since a dataset created again restarts its versions.
    pub fn generation(&self, id: &DatasetId) -> Option<Generation> {
        self.indexes
            .get(id)
            .map(|s| s.generation())
            .or_else(|| self.pushed_read().get(id).map(Dataset::generation))
    }

    pub(crate) fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Rebuilds one dataset's snapshot from the store and announces it. A dataset that no longer exists is
    /// removed and announced as dropped.
    pub(crate) async fn refresh(
        &self,
        store: &Arc<dyn FeatureStore>,
        id: &DatasetId,
    ) -> AppResult<()> {
        let _one_at_a_time = self.refreshing.lock().await;
        let threshold = self.push_down_above.load(Ordering::Acquire);
        if threshold < u64::MAX {
            match store.dataset(id).await {
                Ok(dataset) if dataset.feature_count > threshold => {
                    self.publish_pushed(dataset);
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => {
                    if let Some(gone) = self.pushed_write().remove(id) {
                        self.announce(id, "dropped", 0, gone.extent);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        let was_pushed = self.pushed_write().remove(id);
        let before = self.indexes.get(id);
        match build_serving_snapshot(store, id).await {
            Ok(snapshot) => {
                if before
                    .as_ref()
                    .is_some_and(|b| b.generation() == snapshot.generation())
                {
                    return Ok(());
                }
                let bbox = union(
                    before
                        .as_ref()
                        .and_then(|b| b.dataset().extent)
                        .or(was_pushed.and_then(|d| d.extent)),
                    snapshot.dataset().extent,
                );
                let version = snapshot.version();
                if self.indexes.publish(snapshot) {
                    self.announce(id, "updated", version, bbox);
                }
                Ok(())
            }
            Err(e) if e.kind() == AppErrorKind::NotFound => {
                if before.is_some() {
                    self.indexes.remove(id);
                    self.announce(id, "dropped", 0, before.and_then(|b| b.dataset().extent));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Publishes a dataset the store serves: its metadata only, no index (and the index it had goes).
    fn publish_pushed(&self, dataset: Dataset) {
        let id = dataset.id.clone();
        let before = self.dataset(&id);
        if before
            .as_ref()
            .is_some_and(|b| b.generation() == dataset.generation())
        {
            return;
        }
        let bbox = union(before.and_then(|b| b.extent), dataset.extent);
        let version = dataset.version;
        tracing::info!(dataset = %id, features = dataset.feature_count, "served by the store (push-down), not indexed");
        self.pushed_write().insert(id.clone(), dataset);
        self.indexes.remove(&id);
        self.announce(&id, "updated", version, bbox);
    }

    fn announce(&self, id: &DatasetId, change: &'static str, version: u64, bbox: Option<Bbox>) {
        let event = ChangeEvent {
            dataset: id.clone(),
            change,
            version,
            bbox: bbox.map(|b| b.to_vec()),
            at: Utc::now(),
        };
        tracing::info!(dataset = %id, change, version, "dataset change published");
        // No listener is not an error: the change is in the index either way.
        let _ = self.events.send(event);
    }
}

fn union(a: Option<Bbox>, b: Option<Bbox>) -> Option<Bbox> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.union(&b)),
        (a, b) => a.or(b),
    }
}

/// Reads a dataset from the store into a new snapshot.
pub async fn build_snapshot(store: &Arc<dyn FeatureStore>, id: &DatasetId) -> AppResult<Snapshot> {
    let started = Instant::now();
    let builder = Arc::new(std::sync::Mutex::new(Ok::<_, String>(
        SnapshotBuilder::default(),
    )));
    let sink_builder = Arc::clone(&builder);
    let dataset = store
        .scan_index(
            id,
            Box::new(move |rows| {
                let mut guard = sink_builder
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let Ok(b) = guard.as_mut() else {
                    return false;
                };
                for row in rows {
                    if let Err(e) = b.push(row.key, row.geometry, row.time) {
                        *guard = Err(e);
                        return false;
                    }
                }
                true
            }),
        )
        .await?;
    let builder = std::mem::replace(
        &mut *builder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        Ok(SnapshotBuilder::default()),
    )
    .map_err(|e| AppError::new(AppErrorKind::Internal, format!("indexing '{id}': {e}")))?;
    let rows = builder.len();
    // Bulk-loading the tree is CPU work; keep it off the async workers.
    let snapshot = tokio::task::spawn_blocking(move || builder.finish(dataset))
        .await
        .map_err(|e| {
            AppError::new(
                AppErrorKind::Internal,
                format!("indexing '{id}' failed: {e}"),
            )
        })?;
    tracing::info!(
        dataset = %id,
        features = rows,
        version = snapshot.version(),
        bytes = snapshot.memory_bytes(),
        ms = started.elapsed().as_millis() as u64,
        "dataset indexed"
    );
    Ok(snapshot)
}

/// The snapshot a serving console publishes: [`build_snapshot`] with the features' ids and properties in
/// memory as well ([`PropertyTable`]), so tiles and pages draw without the store. One-shot commands (analytics from
/// the command line) build the snapshot alone.
pub async fn build_serving_snapshot(
    store: &Arc<dyn FeatureStore>,
    id: &DatasetId,
) -> AppResult<Snapshot> {
    let snapshot = build_snapshot(store, id).await?;
    let started = Instant::now();
    let snapshot = match property_table(store, &snapshot).await? {
        Ok(table) => snapshot
            .with_properties(table)
            .map_err(|e| AppError::new(AppErrorKind::Internal, format!("indexing '{id}': {e}")))?,
        Err(reason) => {
            tracing::info!(dataset = %id, reason = %reason, "properties stay in the store: tiles and pages fetch them by key");
            return Ok(snapshot);
        }
    };
    tracing::info!(
        dataset = %id,
        features = snapshot.len(),
        bytes = snapshot.memory_bytes(),
        property_bytes = snapshot.property_bytes(),
        ms = started.elapsed().as_millis() as u64,
        "dataset properties kept for tiles"
    );
    Ok(snapshot)
}

/// Keys asked for per read while building a property table.
const PROPERTY_CHUNK: usize = 16_384;

/// The most a dataset's property table may hold. Beyond it (tens of millions of features, or long texts) the
/// properties stay in the store and tiles and pages fetch them by key: slower, but the console's memory stays
/// what its shapes need.
const PROPERTY_TABLE_MAX_BYTES: usize = 512 << 20;

/// The ids and properties of every feature of a snapshot, read from the store by key (the same read tiles
/// made per tile before, once for all), for tiles to draw without the store. The rows come from a read after
/// the snapshot's own: a feature gone by then is marked so no tile draws it, as a tile reading the store
/// would skip it, and the commit that removed it brings a new snapshot anyway. `Ok(Err(reason))` when the
/// table cannot hold the properties as the store gives them.
async fn property_table(
    store: &Arc<dyn FeatureStore>,
    snapshot: &Snapshot,
) -> AppResult<Result<PropertyTable, String>> {
    let id = &snapshot.dataset().id;
    let mut builder = PropertyTableBuilder::with_capacity(snapshot.len());
    let mut next = 0u32;
    let len = snapshot.len() as u32;
    while next < len {
        let end = next.saturating_add(PROPERTY_CHUNK as u32).min(len);
        let keys: Vec<i64> = (next..end).map(|slot| snapshot.key(slot)).collect();
        let rows = store
            .properties_by_key(id, keys.clone(), &Fields::All)
            .await?;
        // Turning rows into columns is CPU work: off the async workers.
        let built = tokio::task::spawn_blocking(move || {
            // Rows come in the order asked, with vanished keys skipped.
            let mut rows = rows.into_iter().peekable();
            for key in keys {
                match rows.next_if(|row| row.key == key) {
                    Some(row) => builder.push(row.id.as_str(), &row.properties)?,
                    None => builder.push_vanished()?,
                }
            }
            Ok::<_, String>(builder)
        })
        .await
        .map_err(|e| {
            AppError::new(
                AppErrorKind::Internal,
                format!("reading the properties of '{id}' failed: {e}"),
            )
        })?;
        builder = match built {
            Ok(b) => b,
            Err(reason) => return Ok(Err(reason)),
        };
        if builder.memory_bytes() > PROPERTY_TABLE_MAX_BYTES {
            return Ok(Err(format!(
                "its properties need more than {} MiB in memory",
                PROPERTY_TABLE_MAX_BYTES >> 20
            )));
        }
        next = end;
    }
    Ok(Ok(builder.finish()))
}
