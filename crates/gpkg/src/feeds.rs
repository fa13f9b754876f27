//! Feeds in the GeoPackage: definitions and state as JSON text, and one fingerprint row per item written,
//! as plain SQLite tables beside the features.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use geoconsole_store::{FeedRecord, FeedStore, StoreError, StoreResult};
use rusqlite::{OptionalExtension, Row, params};

use crate::GpkgStore;
use crate::alerts::{parse_ts, ts};
use crate::connection::sqlite_error;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gc_feeds (
  name TEXT PRIMARY KEY NOT NULL,
  definition TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT '{}',
  created TEXT NOT NULL,
  updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gc_feed_items (
  feed TEXT NOT NULL,
  item TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  seen TEXT NOT NULL,
  PRIMARY KEY (feed, item)
) WITHOUT ROWID;
";

/// Ids looked up per statement: below SQLite's default limit of bound parameters.
const IDS_PER_QUERY: usize = 500;

fn feed_row(row: &Row<'_>) -> rusqlite::Result<FeedRecord> {
    let json = |text: String| serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Ok(FeedRecord {
        name: row.get(0)?,
        definition: json(row.get(1)?),
        state: json(row.get(2)?),
        created: parse_ts(&row.get::<_, String>(3)?)?,
        updated: parse_ts(&row.get::<_, String>(4)?)?,
    })
}

fn missing(name: &str) -> StoreError {
    StoreError::not_found(format!("feed '{name}' does not exist"))
}

#[async_trait::async_trait]
impl FeedStore for GpkgStore {
    async fn put_feed(&self, name: &str, definition: serde_json::Value) -> StoreResult<()> {
        let (name, path, now) = (name.to_string(), self.path().to_path_buf(), ts(Utc::now()));
        self.write_tx(move |tx| {
            tx.execute(
                "INSERT INTO gc_feeds (name, definition, created, updated) VALUES (?1, ?2, ?3, ?3) \
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated = excluded.updated",
                params![name, definition.to_string(), now],
            )
            .map_err(|e| sqlite_error(&path, e))?;
            Ok(())
        })
        .await
    }

    async fn feeds(&self) -> StoreResult<Vec<FeedRecord>> {
        self.with_conn(|conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut stmt = conn
                .prepare(
                    "SELECT name, definition, state, created, updated FROM gc_feeds ORDER BY name",
                )
                .map_err(wrap)?;
            let rows = stmt.query_map([], feed_row).map_err(wrap)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(wrap)
        })
        .await
    }

    async fn feed(&self, name: &str) -> StoreResult<FeedRecord> {
        let name = name.to_string();
        self.with_conn(move |conn, path| {
            conn.query_row(
                "SELECT name, definition, state, created, updated FROM gc_feeds WHERE name = ?1",
                [&name],
                feed_row,
            )
            .optional()
            .map_err(|e| sqlite_error(path, e))?
            .ok_or_else(|| missing(&name))
        })
        .await
    }

    async fn delete_feed(&self, name: &str) -> StoreResult<()> {
        let (name, path) = (name.to_string(), self.path().to_path_buf());
        self.write_tx(move |tx| {
            let wrap = |e| sqlite_error(&path, e);
            if tx
                .execute("DELETE FROM gc_feeds WHERE name = ?1", [&name])
                .map_err(wrap)?
                == 0
            {
                return Err(missing(&name));
            }
            tx.execute("DELETE FROM gc_feed_items WHERE feed = ?1", [&name])
                .map_err(wrap)?;
            Ok(())
        })
        .await
    }

    async fn save_feed_state(&self, name: &str, state: serde_json::Value) -> StoreResult<()> {
        let (name, path) = (name.to_string(), self.path().to_path_buf());
        self.write_tx(move |tx| {
            let n = tx
                .execute(
                    "UPDATE gc_feeds SET state = ?2 WHERE name = ?1",
                    params![name, state.to_string()],
                )
                .map_err(|e| sqlite_error(&path, e))?;
            if n == 0 {
                return Err(missing(&name));
            }
            Ok(())
        })
        .await
    }

    async fn fingerprints(
        &self,
        feed: &str,
        ids: Vec<String>,
    ) -> StoreResult<HashMap<String, String>> {
        let feed = feed.to_string();
        self.with_conn(move |conn, path| {
            let wrap = |e| sqlite_error(path, e);
            let mut found = HashMap::new();
            for chunk in ids.chunks(IDS_PER_QUERY) {
                let marks = vec!["?"; chunk.len()].join(",");
                let sql = format!(
                    "SELECT item, fingerprint FROM gc_feed_items WHERE feed = ? AND item IN ({marks})"
                );
                let mut stmt = conn.prepare_cached(&sql).map_err(wrap)?;
                let values = std::iter::once(&feed).chain(chunk.iter());
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(values), |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(wrap)?;
                for row in rows {
                    let (item, fingerprint): (String, String) = row.map_err(wrap)?;
                    found.insert(item, fingerprint);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn forget_seen_before(
        &self,
        feed: &str,
        before: DateTime<Utc>,
        keep_prefix: &str,
    ) -> StoreResult<u64> {
        let (feed, path, before) = (feed.to_string(), self.path().to_path_buf(), ts(before));
        // substr, not LIKE: the prefix is data, and LIKE would read its '_' and '%' as wildcards.
        let keep = keep_prefix.to_string();
        self.write_tx(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM gc_feed_items WHERE feed = ?1 AND seen < ?2 \
                     AND substr(fingerprint, 1, length(?3)) <> ?3",
                    params![feed, before, keep],
                )
                .map_err(|e| sqlite_error(&path, e))?;
            Ok(n as u64)
        })
        .await
    }

    async fn remember(
        &self,
        feed: &str,
        items: Vec<(String, String)>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (feed, path, at) = (feed.to_string(), self.path().to_path_buf(), ts(at));
        self.write_tx(move |tx| {
            let wrap = |e| sqlite_error(&path, e);
            let mut stmt = tx
                .prepare(
                    "INSERT INTO gc_feed_items (feed, item, fingerprint, seen) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (feed, item) DO UPDATE SET fingerprint = excluded.fingerprint, seen = excluded.seen",
                )
                .map_err(wrap)?;
            for (item, fingerprint) in items {
                stmt.execute(params![feed, item, fingerprint, at]).map_err(wrap)?;
            }
            Ok(())
        })
        .await
    }
}
