//! Live feeds' definitions, running state and item fingerprints in `gc_feeds` and `gc_feed_items`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use geoconsole_store::{FeedRecord, FeedStore, StoreError, StoreResult};
use tokio_postgres::Row;

use crate::PostgisStore;

fn feed_row(row: &Row) -> FeedRecord {
    let json = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    FeedRecord {
        name: row.get(0),
        definition: json(row.get(1)),
        state: json(row.get(2)),
        created: row.get(3),
        updated: row.get(4),
    }
}

impl PostgisStore {
    /// Tells every instance that the feeds changed, when (and only if) `tx` commits: the leader's scheduler
    /// looks at them again.
    async fn announce_feeds(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        name: &str,
    ) -> StoreResult<()> {
        let payload = serde_json::json!({ "feeds": name }).to_string();
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&crate::write::channel(self.config.schema()), &payload],
        )
        .await
        .map_err(|e| self.wrap(e))?;
        Ok(())
    }
}

fn missing(name: &str) -> StoreError {
    StoreError::not_found(format!("feed '{name}' does not exist"))
}

#[async_trait::async_trait]
impl FeedStore for PostgisStore {
    async fn put_feed(&self, name: &str, definition: serde_json::Value) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        tx.execute(
            "INSERT INTO gc_feeds (name, definition, created, updated) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, updated = EXCLUDED.updated",
            &[&name, &definition.to_string(), &Utc::now()],
        )
        .await
        .map_err(|e| self.wrap(e))?;
        self.announce_feeds(&tx, name).await?;
        tx.commit().await.map_err(|e| self.wrap(e))
    }

    async fn feeds(&self) -> StoreResult<Vec<FeedRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, definition, state, created, updated FROM gc_feeds ORDER BY name",
                &[],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(rows.iter().map(feed_row).collect())
    }

    async fn feed(&self, name: &str) -> StoreResult<FeedRecord> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT name, definition, state, created, updated FROM gc_feeds WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(|e| self.wrap(e))?
            .as_ref()
            .map(feed_row)
            .ok_or_else(|| missing(name))
    }

    async fn delete_feed(&self, name: &str) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .map_err(|e| self.wrap(e))?;
        if tx
            .execute("DELETE FROM gc_feeds WHERE name = $1", &[&name])
            .await
            .map_err(|e| self.wrap(e))?
            == 0
        {
            return Err(missing(name));
        }
        tx.execute("DELETE FROM gc_feed_items WHERE feed = $1", &[&name])
            .await
            .map_err(|e| self.wrap(e))?;
        self.announce_feeds(&tx, name).await?;
        tx.commit().await.map_err(|e| self.wrap(e))
    }

    async fn save_feed_state(&self, name: &str, state: serde_json::Value) -> StoreResult<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE gc_feeds SET state = $2 WHERE name = $1",
                &[&name, &state.to_string()],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        if n == 0 {
            return Err(missing(name));
        }
        Ok(())
    }

    async fn fingerprints(
        &self,
        feed: &str,
        ids: Vec<String>,
    ) -> StoreResult<HashMap<String, String>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT item, fingerprint FROM gc_feed_items WHERE feed = $1 AND item = ANY($2)",
                &[&feed, &ids],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn remember(
        &self,
        feed: &str,
        items: Vec<(String, String)>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        let (ids, fingerprints): (Vec<String>, Vec<String>) = items.into_iter().unzip();
        let client = self.client().await?;
        // One statement for the whole batch; a later entry for the same item wins, as it would one by one.
        client
            .execute(
                "INSERT INTO gc_feed_items (feed, item, fingerprint, seen) \
                 SELECT DISTINCT ON (item) $1, item, fingerprint, $4 \
                 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS i(item, fingerprint, n) \
                 ORDER BY item, n DESC \
                 ON CONFLICT (feed, item) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, seen = EXCLUDED.seen",
                &[&feed, &ids, &fingerprints, &at],
            )
            .await
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    async fn forget_seen_before(
        &self,
        feed: &str,
        before: DateTime<Utc>,
        keep_prefix: &str,
    ) -> StoreResult<u64> {
        let client = self.client().await?;
        // starts_with, not LIKE: the prefix is data, and LIKE would read its '_' and '%' as wildcards.
        client
            .execute(
                "DELETE FROM gc_feed_items WHERE feed = $1 AND seen < $2 AND NOT starts_with(fingerprint, $3)",
                &[&feed, &before, &keep_prefix],
            )
            .await
            .map_err(|e| self.wrap(e))
    }
}
