//! Room `store`: the durable side of the console. It owns the [`FeatureStore`] trait (small, dyn-safe, async),
//! the [`DatasetWriter`] transaction it hands out, [`StoreError`] with its kinds, the [`DatasetStats`] every
//! backend keeps the same way, and [`conformance`]: the test suite every backend must pass, expanded per
//! backend with one line of [`feature_store_conformance!`]. Alongside features it owns the [`AlertStore`]
//! contract: rules, alerts with their lifecycle ([`alerts::apply`]), and the outbox of deliveries; the
//! [`FeedStore`] registry of live feeds; and the [`AccessStore`]: accounts, tokens, sessions, audit log.
//! The [`ClusterStore`] gives several instances on one store news of each other's commits and one leader.
//!
//! Depends on `model` and `query` only. Backends (`gpkg`, `postgis`) depend on it, never the reverse.
//! Rule: nothing written is visible to readers before `commit` returns; a writer dropped without commit
//! leaves the store exactly as it was.
#![forbid(unsafe_code)]

pub mod access;
pub mod alerts;
pub mod cluster;
pub mod conformance;
pub mod copy;
mod error;
pub mod feeds;
pub mod push_down;
mod stats;

use std::fmt::Debug;

use async_trait::async_trait;
use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{
    Dataset, DatasetId, DatasetKind, Feature, FeatureId, Properties, TimeFields, TimeSpan,
};
use geoconsole_query::{Cursor, FeatureQuery};

pub use access::{
    AccessStore, AuditEntry, AuditFilter, AuditRecord, Grant, Role, SessionRecord, TokenRecord,
    UserRecord,
};
pub use alerts::{
    AlertFilter, AlertRecord, AlertState, AlertStore, Attempt, Delivery, DeliveryState,
    Disposition, NewAlert, RuleRecord, Transition,
};
pub use cluster::{ClusterEvent, ClusterStore, Lease, SoleLease, Subscription};
pub use error::{StoreError, StoreErrorKind, StoreResult};
pub use feeds::{FeedRecord, FeedStore};
pub use push_down::PushDownStore;
pub use stats::DatasetStats;

/// What a write creates or changes. The metadata describes the dataset; the mode says what happens to
/// features already there.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub id: DatasetId,
    pub title: String,
    pub kind: DatasetKind,
    pub source: String,
    pub time_fields: TimeFields,
    pub id_field: Option<String>,
    pub mode: WriteMode,
    /// Refuse features whose id is already taken one by one (reported by [`DatasetWriter::write`]) instead
    /// of failing the whole write.
    pub skip_conflicts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// A new dataset; fails if the id is taken.
    Create,
    /// Adds features to a dataset, creating it if needed; a feature id already present is a conflict.
    Append,
    /// Swaps the dataset's features for the new ones (creating it if needed), in one transaction.
    Replace,
    /// Inserts new ids and updates features whose id exists.
    Upsert,
}

impl WriteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Append => "append",
            Self::Replace => "replace",
            Self::Upsert => "upsert",
        }
    }
}

/// A feature refused during a write, by its position in the batch passed to [`DatasetWriter::write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub position: usize,
    pub reason: String,
}

/// One page of a query: features in store order, and where to continue.
#[derive(Debug, Clone, Default)]
pub struct FeaturePage {
    pub features: Vec<Feature>,
    pub next: Option<Cursor>,
}

/// What the in-memory index keeps of one stored feature: the store's row key, its geometry and time.
/// Properties stay in the store and are fetched by key for the features a reader actually returns.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// The store's own row key: positive, unique within the dataset, increasing in insertion order, and
    /// never reused for another feature while the dataset exists (a replace continues the numbering).
    pub key: i64,
    /// `None` for an unlocated feature.
    pub geometry: Option<Geometry<f64>>,
    pub time: Option<TimeSpan>,
}

/// Which properties a reader wants from [`FeatureStore::properties_by_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    /// Every property (never the geometry, which the reader already holds).
    All,
    /// Only these properties; names the dataset does not have are ignored.
    Only(Vec<String>),
}

impl Fields {
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The part of a stored feature the in-memory index does not hold: its id and properties. A reader that
/// already has the shape and time from a snapshot (a tile) asks for this instead of the whole feature, so
/// the store neither reads nor decodes geometry it would throw away.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyRow {
    pub key: i64,
    pub id: FeatureId,
    pub properties: Properties,
}

/// A durable store of datasets. Implementations: GeoPackage file (`gpkg`), PostgreSQL/PostGIS (`postgis`).
#[async_trait]
pub trait FeatureStore: Send + Sync + Debug {
    /// Where the store lives, for messages: a path or a URL without credentials.
    fn location(&self) -> String;

    async fn list_datasets(&self) -> StoreResult<Vec<Dataset>>;

    /// One dataset's metadata; `NotFound` when it does not exist.
    async fn dataset(&self, id: &DatasetId) -> StoreResult<Dataset>;

    /// Opens a write transaction. Nothing is visible until [`DatasetWriter::commit`].
    async fn begin_write(&self, request: WriteRequest) -> StoreResult<Box<dyn DatasetWriter>>;

    /// A page of features matching the query's bbox and datetime, in a stable order.
    async fn query(&self, id: &DatasetId, query: &FeatureQuery) -> StoreResult<FeaturePage>;

    /// One feature by id; `NotFound` when the dataset or the feature does not exist.
    async fn feature(&self, id: &DatasetId, feature: &FeatureId) -> StoreResult<Feature>;

    /// Reads every feature of a dataset as [`IndexRow`]s, in key order and in batches handed to `sink` (on a
    /// blocking thread; `false` stops the scan), in one read transaction. Returns the dataset's metadata as of
    /// that transaction, so the rows and the version agree.
    async fn scan_index(
        &self,
        id: &DatasetId,
        sink: Box<dyn FnMut(Vec<IndexRow>) -> bool + Send>,
    ) -> StoreResult<Dataset>;

    /// The features with these row keys, with their keys, in the order given; keys that no longer exist are
    /// skipped.
    async fn features_by_key(
        &self,
        id: &DatasetId,
        keys: Vec<i64>,
    ) -> StoreResult<Vec<(i64, Feature)>>;

    /// The ids and the `fields` of the features with these row keys, in the order given; keys that no
    /// longer exist are skipped. Never reads geometry: it is for readers that hold the shapes already.
    /// The properties come in the same order, with the same values, as [`Self::features_by_key`] gives them.
    async fn properties_by_key(
        &self,
        id: &DatasetId,
        keys: Vec<i64>,
        fields: &Fields,
    ) -> StoreResult<Vec<PropertyRow>>;

    /// Removes a dataset and its features; `NotFound` when it does not exist.
    async fn drop_dataset(&self, id: &DatasetId) -> StoreResult<()>;

    /// Whether a dataset exists.
    async fn contains_dataset(&self, id: &DatasetId) -> StoreResult<bool> {
        match self.dataset(id).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == StoreErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// An open write transaction on one dataset. Dropping it without `commit` rolls everything back.
#[async_trait]
pub trait DatasetWriter: Send {
    /// Stages features. With `skip_conflicts`, features whose id is taken are refused and returned; without
    /// it such a feature fails the call with a `Conflict` error naming its position.
    async fn write(&mut self, features: Vec<Feature>) -> StoreResult<Vec<Conflict>>;

    /// Makes every staged feature visible at once and returns the dataset as it now stands.
    async fn commit(self: Box<Self>) -> StoreResult<Dataset>;

    /// Discards every staged feature.
    async fn abort(self: Box<Self>) -> StoreResult<()>;
}
