use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use geoconsole_model::{Dataset, DatasetId, Feature, FeatureId};
use geoconsole_query::FeatureQuery;
use geoconsole_store::{
    DatasetWriter, FeaturePage, FeatureStore, Fields, IndexRow, PropertyRow, StoreError,
    StoreErrorKind, StoreResult, WriteRequest,
};
use rusqlite::{Connection, TransactionBehavior};

use crate::catalog::{self, Entry};
use crate::connection::{self, sqlite_error};
use crate::write::GpkgWriter;
use crate::{ddl, read, scan};

/// A GeoPackage file as a [`FeatureStore`]. Reads run on blocking threads over a small pool of connections
/// (WAL lets them read in parallel, with each other and with the writer); every write transaction gets its
/// own connection and thread.
#[derive(Debug, Clone)]
pub struct GpkgStore {
    path: PathBuf,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
}

/// Read connections: one per core, so concurrent requests read SQLite in parallel instead of queueing on
/// one connection, bounded because each holds its own page cache.
fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}

impl GpkgStore {
    /// Opens a GeoPackage, creating it (and the console's tables) when the file does not exist.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "{}: folder {} does not exist",
                    path.display(),
                    parent.display()
                ),
            ));
        }
        let conn = connection::open(&path)?;
        connection::initialise(&path, &conn)?;
        let mut readers = vec![Mutex::new(conn)];
        for _ in 1..reader_count() {
            readers.push(Mutex::new(connection::open(&path)?));
        }
        Ok(Self {
            path,
            readers: Arc::new(readers),
            next_reader: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the shared connection on a blocking thread.
    pub(crate) async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &Path) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = Arc::clone(&self.readers);
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // Take the first idle connection from a rotating start, else wait for the start one.
            let n = readers.len();
            let idle = (0..n).find_map(|i| readers[(start + i) % n].try_lock().ok());
            // A poisoned lock only means another query panicked; the connection itself is still sound.
            let mut conn = match idle {
                Some(conn) => conn,
                None => readers[start % n]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            };
            work(&mut conn, &path)
        })
        .await
        .map_err(|e| StoreError::new(StoreErrorKind::Internal, format!("store task failed: {e}")))?
    }
}

fn entry(conn: &Connection, path: &Path, id: &DatasetId) -> StoreResult<Entry> {
    catalog::load(conn, id)
        .map_err(|e| sqlite_error(path, e))?
        .ok_or_else(|| StoreError::not_found(format!("dataset '{id}' does not exist")))
}

#[async_trait]
impl FeatureStore for GpkgStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn list_datasets(&self) -> StoreResult<Vec<Dataset>> {
        self.with_conn(|conn, path| catalog::list(conn).map_err(|e| sqlite_error(path, e)))
            .await
    }

    async fn dataset(&self, id: &DatasetId) -> StoreResult<Dataset> {
        let id = id.clone();
        self.with_conn(move |conn, path| entry(conn, path, &id).map(|e| e.dataset))
            .await
    }

    async fn begin_write(&self, request: WriteRequest) -> StoreResult<Box<dyn DatasetWriter>> {
        Ok(Box::new(
            GpkgWriter::begin(self.path.clone(), request).await?,
        ))
    }

    async fn query(&self, id: &DatasetId, query: &FeatureQuery) -> StoreResult<FeaturePage> {
        let (id, query) = (id.clone(), query.clone());
        self.with_conn(move |conn, path| read::query(conn, &entry(conn, path, &id)?, &query))
            .await
    }

    async fn feature(&self, id: &DatasetId, feature: &FeatureId) -> StoreResult<Feature> {
        let (id, feature) = (id.clone(), feature.clone());
        self.with_conn(move |conn, path| {
            read::feature(conn, &entry(conn, path, &id)?, &feature)?.ok_or_else(|| {
                StoreError::not_found(format!("dataset '{id}' has no feature '{feature}'"))
            })
        })
        .await
    }

    async fn scan_index(
        &self,
        id: &DatasetId,
        mut sink: Box<dyn FnMut(Vec<IndexRow>) -> bool + Send>,
    ) -> StoreResult<Dataset> {
        let (id, path) = (id.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || scan::scan_index(&path, &id, &mut *sink))
            .await
            .map_err(|e| {
                StoreError::new(StoreErrorKind::Internal, format!("store task failed: {e}"))
            })?
    }

    async fn features_by_key(
        &self,
        id: &DatasetId,
        keys: Vec<i64>,
    ) -> StoreResult<Vec<(i64, Feature)>> {
        let id = id.clone();
        self.with_conn(move |conn, path| {
            scan::features_by_key(conn, &entry(conn, path, &id)?, &keys)
        })
        .await
    }

    async fn properties_by_key(
        &self,
        id: &DatasetId,
        keys: Vec<i64>,
        fields: &Fields,
    ) -> StoreResult<Vec<PropertyRow>> {
        let (id, fields) = (id.clone(), fields.clone());
        self.with_conn(move |conn, path| {
            scan::properties_by_key(conn, &entry(conn, path, &id)?, &keys, &fields)
        })
        .await
    }

    async fn drop_dataset(&self, id: &DatasetId) -> StoreResult<()> {
        let id = id.clone();
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(wrap)?;
            entry(&tx, path, &id)?;
            ddl::drop_feature_table(&tx, id.as_str()).map_err(wrap)?;
            tx.commit().map_err(wrap)
        })
        .await
    }
}

/// Every process that opens the file hears of every commit (see [`crate::changes`]), and one of them at a
/// time leads.
#[async_trait]
impl geoconsole_store::ClusterStore for GpkgStore {
    async fn subscribe(
        &self,
        sink: Box<dyn Fn(geoconsole_store::ClusterEvent) + Send + Sync>,
    ) -> StoreResult<Option<Box<dyn geoconsole_store::Subscription>>> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || crate::changes::follow(&path, sink).map(Some))
            .await
            .map_err(|e| {
                StoreError::new(StoreErrorKind::Internal, format!("store task failed: {e}"))
            })?
    }

    async fn try_lead(&self) -> StoreResult<Option<Box<dyn geoconsole_store::Lease>>> {
        crate::changes::try_lead(&self.path)
    }
}
