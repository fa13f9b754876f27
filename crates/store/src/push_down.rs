//! What a database store can answer itself, for datasets too large for an instance's in-memory index: the
//! console then keeps only their metadata and hands items and tiles to the store (items through
//! [`crate::FeatureStore::query`], tiles through [`PushDownStore::tile_layer`]).

use std::fmt::Debug;

use async_trait::async_trait;
use geoconsole_model::DatasetId;
use geoconsole_query::DateTimeFilter;

use crate::StoreResult;

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
}
