//! What a database store can answer itself, for datasets too large for an instance's in-memory index: the
//! console then keeps only their metadata and hands items and tiles to the store (items through
//! [`crate::FeatureStore::query`], tiles through [`PushDownStore::tile_layer`], and the candidates of an
//! exposure join through [`PushDownStore::index_rows_within`]).

use std::fmt::Debug;

use async_trait::async_trait;
use geoconsole_model::{Bbox, Dataset, DatasetId};
use geoconsole_query::DateTimeFilter;

use crate::{IndexRow, StoreResult};

#[async_trait]
pub trait PushDownStore: Send + Sync + Debug {
    /// One Mapbox Vector Tile layer named after the dataset, as the console's own layers are made: extent
    /// 4096, a 64-unit buffer, the feature's row key as its MVT id, its id as `id`, its time as `time_start`
    /// and `time_end` (Unix milliseconds) and its properties as attributes. Empty bytes for an empty tile.
    async fn tile_layer(
        &self,
        id: &DatasetId,
        tile: (u8, u32, u32),
        datetime: Option<&DateTimeFilter>,
    ) -> StoreResult<Vec<u8>>;

    /// The index rows (key, geometry, time) of the features whose bounding box meets any of `boxes` and
    /// whose time meets `datetime`, in key order, with the dataset as of the same snapshot: the candidates of
    /// a proximity join, selected by the database's spatial index instead of a full read.
    async fn index_rows_within(
        &self,
        id: &DatasetId,
        boxes: Vec<Bbox>,
        datetime: Option<&DateTimeFilter>,
    ) -> StoreResult<(Dataset, Vec<IndexRow>)>;
}
