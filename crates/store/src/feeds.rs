//! The durable side of live feeds: each feed's definition as its owner wrote it, its running state (as the
//! feeds room defines it; the store does not interpret either), and the fingerprint of every item it has
//! written, so a replayed item is recognised and not written again.

use std::collections::HashMap;
use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// A feed as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedRecord {
    pub name: String,
    pub definition: serde_json::Value,
    pub state: serde_json::Value,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[async_trait]
pub trait FeedStore: Send + Sync + Debug {
    /// Creates a feed or replaces its definition; an existing feed keeps its state and items.
    async fn put_feed(&self, name: &str, definition: serde_json::Value) -> StoreResult<()>;
    async fn feeds(&self) -> StoreResult<Vec<FeedRecord>>;
    /// One feed; `NotFound` when absent.
    async fn feed(&self, name: &str) -> StoreResult<FeedRecord>;
    /// Removes a feed, its state and its item fingerprints (the items it wrote stay in their dataset);
    /// `NotFound` when absent.
    async fn delete_feed(&self, name: &str) -> StoreResult<()>;
    /// Replaces a feed's running state; `NotFound` when the feed is gone.
    async fn save_feed_state(&self, name: &str, state: serde_json::Value) -> StoreResult<()>;

    /// The stored fingerprints of the given item ids (absent ids are new).
    async fn fingerprints(
        &self,
        feed: &str,
        ids: Vec<String>,
    ) -> StoreResult<HashMap<String, String>>;
    /// Records items as written with these fingerprints.
    async fn remember(
        &self,
        feed: &str,
        items: Vec<(String, String)>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Forgets the fingerprints of a feed's items last seen before `before`, except those starting with
    /// `keep_prefix` (withdrawal marks, which must outlive the items they withdraw); returns how many.
    async fn forget_seen_before(
        &self,
        feed: &str,
        before: DateTime<Utc>,
        keep_prefix: &str,
    ) -> StoreResult<u64>;
}
