//! What several console instances sharing one store need from it: news of every commit, whoever made it,
//! and one leader at a time for the work that must happen once cluster-wide (polling feeds, delivering
//! webhooks). Both stores give both: PostGIS with `NOTIFY` and advisory locks, the GeoPackage with a change
//! log its triggers fill and a lock file (a console, the command line and cron jobs share one file).

use std::fmt::Debug;

use async_trait::async_trait;

use crate::StoreResult;

/// Something committed by some instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A dataset was written or dropped; readers refresh it from the store.
    Dataset { id: String, version: u64 },
    /// Alerts were raised, up to and including this sequence number.
    Alerts { up_to: i64 },
    /// An alert moved along its lifecycle (acknowledged, resolved).
    AlertChanged { seq: i64 },
    /// A feed was added, changed or removed: the leader's scheduler looks at the feeds again.
    Feeds,
    /// The news channel was interrupted and is back: anything may have changed meanwhile.
    Resynchronise,
}

/// Stops the news when dropped.
pub trait Subscription: Send + Sync {}

/// The right to lead, held until dropped or lost.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Whether this instance still leads. A lease whose holder lost its connection is lost: another
    /// instance may lead already.
    async fn still_held(&mut self) -> bool;
}

#[async_trait]
pub trait ClusterStore: Send + Sync + Debug {
    /// Calls `sink` with every commit made through the store by any instance, this one included, until the
    /// subscription is dropped. `None` when the store is only ever opened by one process.
    async fn subscribe(
        &self,
        sink: Box<dyn Fn(ClusterEvent) + Send + Sync>,
    ) -> StoreResult<Option<Box<dyn Subscription>>>;

    /// Tries to become the leader; `None` when another instance leads.
    async fn try_lead(&self) -> StoreResult<Option<Box<dyn Lease>>>;
}

/// The lease of a store opened by one process only: held for as long as the process runs.
#[derive(Debug, Default)]
pub struct SoleLease;

#[async_trait]
impl Lease for SoleLease {
    async fn still_held(&mut self) -> bool {
        true
    }
}
