use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Object, Pool};
use geoconsole_model::{Dataset, DatasetId, Feature, FeatureId};
use geoconsole_query::FeatureQuery;
use geoconsole_store::{
    DatasetWriter, FeaturePage, FeatureStore, Fields, IndexRow, PropertyRow, StoreError,
    StoreErrorKind, StoreResult, WriteRequest,
};
use tokio_postgres::IsolationLevel;

use crate::connect::{self, PostgisConfig, pg_error, pool_error, quote};
use crate::write::{PgWriter, notify};
use crate::{catalog, read};

/// A PostgreSQL + PostGIS database as a [`FeatureStore`] (and alert, feed, access and cluster store). Reads
/// share a pool of connections; every write transaction, the change listener and the leader's lease each
/// get a connection of their own.
#[derive(Clone)]
pub struct PostgisStore {
    pub(crate) config: PostgisConfig,
    pub(crate) pool: Pool,
    pub(crate) cluster: Arc<crate::cluster::Cluster>,
}

impl std::fmt::Debug for PostgisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgisStore")
            .field("location", &self.config.location())
            .field("schema", &self.config.schema())
            .finish_non_exhaustive()
    }
}

impl PostgisStore {
    /// Connects, checks PostGIS, and applies the migrations the database has not seen.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let config = PostgisConfig::parse(url)?;
        let (mut client, driver) = config.connect().await?;
        let migrated = connect::migrate(&mut client, &config).await;
        drop(client);
        driver.abort();
        migrated?;
        let pool = config.pool()?;
        Ok(Self {
            cluster: Arc::new(crate::cluster::Cluster::new(config.clone())),
            config,
            pool,
        })
    }

    pub fn config(&self) -> &PostgisConfig {
        &self.config
    }

    pub(crate) async fn client(&self) -> StoreResult<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| pool_error(self.config.location(), e))
    }

    pub(crate) fn wrap(&self, e: tokio_postgres::Error) -> StoreError {
        pg_error(self.config.location(), e)
    }

    /// A read-only repeatable-read transaction and the dataset's catalog row as of it: what a scan reads
    /// after it is of the same version.
    async fn snapshot_of<'c>(
        &self,
        client: &'c mut Object,
        id: &DatasetId,
    ) -> StoreResult<(tokio_postgres::Transaction<'c>, Dataset)> {
        let tx = tokio_postgres::Client::build_transaction(client)
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| self.wrap(e))?;
        let dataset = catalog::load(&tx, id, false)
            .await
            .map_err(|e| self.wrap(e))?
            .ok_or_else(|| not_found(id))??;
        Ok((tx, dataset))
    }

    async fn dataset_on(&self, client: &Object, id: &DatasetId) -> StoreResult<Dataset> {
        catalog::load(&***client, id, false)
            .await
            .map_err(|e| self.wrap(e))?
            .ok_or_else(|| StoreError::not_found(format!("dataset '{id}' does not exist")))?
    }

    /// Ends the sessions of this store's role whose last statement is `statement` (operators' and tests'
    /// way to simulate a network cut); returns how many.
    pub async fn terminate_sessions(&self, statement: &str) -> StoreResult<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE usename = current_user AND pid <> pg_backend_pid() AND query = $1",
                &[&statement],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// Drops everything this store made in its schema: every dataset table, the console's tables and the
    /// schema itself. For tests and `geoconsole migrate --replace`; never called by the console.
    pub async fn destroy(self) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote(self.config.schema())
            ))
            .await
            .map_err(|e| self.wrap(e))
    }
}

fn not_found(id: &DatasetId) -> StoreError {
    StoreError::not_found(format!("dataset '{id}' does not exist"))
}

#[async_trait]
impl FeatureStore for PostgisStore {
    fn location(&self) -> String {
        format!(
            "{} (schema {})",
            self.config.location(),
            self.config.schema()
        )
    }

    async fn list_datasets(&self) -> StoreResult<Vec<Dataset>> {
        let client = self.client().await?;
        catalog::list(&**client)
            .await
            .map_err(|e| self.wrap(e))?
            .into_iter()
            .collect()
    }

    async fn dataset(&self, id: &DatasetId) -> StoreResult<Dataset> {
        let client = self.client().await?;
        self.dataset_on(&client, id).await
    }

    async fn begin_write(&self, request: WriteRequest) -> StoreResult<Box<dyn DatasetWriter>> {
        Ok(Box::new(PgWriter::begin(&self.config, request).await?))
    }

    async fn query(&self, id: &DatasetId, query: &FeatureQuery) -> StoreResult<FeaturePage> {
        let client = self.client().await?;
        let dataset = self.dataset_on(&client, id).await?;
        read::query(&**client, &dataset, query)
            .await
            .map_err(|e| self.wrap(e))?
    }

    async fn feature(&self, id: &DatasetId, feature: &FeatureId) -> StoreResult<Feature> {
        let client = self.client().await?;
        let dataset = self.dataset_on(&client, id).await?;
        read::feature(&**client, &dataset, feature)
            .await
            .map_err(|e| self.wrap(e))?
            .ok_or_else(|| {
                StoreError::not_found(format!("dataset '{id}' has no feature '{feature}'"))
            })?
    }

    async fn scan_index(
        &self,
        id: &DatasetId,
        mut sink: Box<dyn FnMut(Vec<IndexRow>) -> bool + Send>,
    ) -> StoreResult<Dataset> {
        let mut client = self.client().await?;
        // One snapshot for the catalog row and every feature row, so the version and the rows agree.
        let (tx, dataset) = self.snapshot_of(&mut client, id).await?;
        let sql = format!(
            "SELECT key, ST_AsBinary(geom), time_start, time_end FROM {} ORDER BY key",
            quote(id.as_str())
        );
        let rows = tx
            .query_raw(&sql, std::iter::empty::<i32>())
            .await
            .map_err(|e| self.wrap(e))?;
        futures_util::pin_mut!(rows);
        // Decoding and indexing are CPU work: they run on a blocking thread, a batch behind the network.
        let (batches, mut received) = tokio::sync::mpsc::channel::<Vec<tokio_postgres::Row>>(2);
        let indexed = dataset.clone();
        let indexer = tokio::task::spawn_blocking(move || -> StoreResult<()> {
            while let Some(batch) = received.blocking_recv() {
                let rows = batch
                    .iter()
                    .map(|r| read::index_row(&indexed, r))
                    .collect::<StoreResult<Vec<_>>>()?;
                if !sink(rows) {
                    break;
                }
            }
            Ok(())
        });
        let mut batch = Vec::with_capacity(read::BATCH_ROWS);
        while let Some(row) = futures_util::StreamExt::next(&mut rows).await {
            batch.push(row.map_err(|e| self.wrap(e))?);
            if batch.len() == read::BATCH_ROWS
                && batches
                    .send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(read::BATCH_ROWS),
                    ))
                    .await
                    .is_err()
            {
                break;
            }
        }
        if !batch.is_empty() {
            let _ = batches.send(batch).await;
        }
        drop(batches);
        indexer.await.map_err(|e| {
            StoreError::new(StoreErrorKind::Internal, format!("index scan failed: {e}"))
        })??;
        tx.commit().await.map_err(|e| self.wrap(e))?;
        Ok(dataset)
    }

    async fn features_by_key(
        &self,
        id: &DatasetId,
        keys: Vec<i64>,
    ) -> StoreResult<Vec<(i64, Feature)>> {
        let client = self.client().await?;
        let dataset = self.dataset_on(&client, id).await?;
        read::features_by_key(&**client, &dataset, &keys)
            .await
            .map_err(|e| self.wrap(e))?
    }

    async fn properties_by_key(
        &self,
        id: &DatasetId,
        keys: Vec<i64>,
        fields: &Fields,
    ) -> StoreResult<Vec<PropertyRow>> {
        let client = self.client().await?;
        let dataset = self.dataset_on(&client, id).await?;
        read::properties_by_key(&**client, &dataset, &keys, fields)
            .await
            .map_err(|e| self.wrap(e))
    }

    async fn drop_dataset(&self, id: &DatasetId) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(1734700899, hashtext($1))",
            &[&id.as_str()],
        )
        .await
        .map_err(|e| self.wrap(e))?;
        catalog::load(&tx, id, true)
            .await
            .map_err(|e| self.wrap(e))?
            .ok_or_else(|| not_found(id))??;
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", quote(id.as_str())))
            .await
            .map_err(|e| self.wrap(e))?;
        tx.execute("DELETE FROM gc_datasets WHERE id = $1", &[&id.as_str()])
            .await
            .map_err(|e| self.wrap(e))?;
        notify(&tx, self.config.schema(), id, "dropped", 0)
            .await
            .map_err(|e| self.wrap(e))?;
        tx.commit().await.map_err(|e| self.wrap(e))
    }
}

#[async_trait]
impl geoconsole_store::PushDownStore for PostgisStore {
    async fn tile_layer(
        &self,
        id: &DatasetId,
        tile: (u8, u32, u32),
        datetime: Option<&geoconsole_query::DateTimeFilter>,
    ) -> StoreResult<Vec<u8>> {
        let client = self.client().await?;
        let dataset = self.dataset_on(&client, id).await?;
        read::tile_layer(&**client, &dataset, tile, datetime)
            .await
            .map_err(|e| self.wrap(e))
    }

    async fn index_rows_within(
        &self,
        id: &DatasetId,
        boxes: Vec<geoconsole_model::Bbox>,
        datetime: Option<&geoconsole_query::DateTimeFilter>,
    ) -> StoreResult<(Dataset, Vec<IndexRow>)> {
        let mut client = self.client().await?;
        // One snapshot for the catalog row and the rows, as for a full index scan.
        let (tx, dataset) = self.snapshot_of(&mut client, id).await?;
        let rows = read::index_rows_within(&tx, &dataset, &boxes, datetime)
            .await
            .map_err(|e| self.wrap(e))?;
        tx.commit().await.map_err(|e| self.wrap(e))?;
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        let mut rows = rows
            .iter()
            .filter(|r| seen.insert(r.get::<_, i64>(0)))
            .map(|r| read::index_row(&dataset, r))
            .collect::<StoreResult<Vec<_>>>()?;
        rows.sort_unstable_by_key(|r| r.key);
        Ok((dataset, rows))
    }
}
