use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use geoconsole_model::DatasetId;

use crate::Snapshot;

/// Every dataset's current snapshot. Reads are a lock-free pointer load; a swap publishes a new map with one
/// entry changed, so a reader holding the old map keeps a consistent view until it lets go.
#[derive(Debug, Default)]
pub struct Indexes {
    current: ArcSwap<BTreeMap<DatasetId, Arc<Snapshot>>>,
}

impl Indexes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, id: &DatasetId) -> Option<Arc<Snapshot>> {
        self.current.load().get(id).cloned()
    }

    /// Every snapshot, ordered by dataset id.
    pub fn all(&self) -> Vec<Arc<Snapshot>> {
        self.current.load().values().cloned().collect()
    }

    /// Publishes a snapshot unless a newer version of the dataset is already published (two refreshes may
    /// finish out of order). Returns whether it was published.
    pub fn publish(&self, snapshot: Snapshot) -> bool {
        let snapshot = Arc::new(snapshot);
        let mut published = false;
        self.current.rcu(|map| {
            let id = snapshot.dataset().id.clone();
            let newer_exists = map
                .get(&id)
                .is_some_and(|s| s.generation() > snapshot.generation());
            published = !newer_exists;
            let mut next = BTreeMap::clone(map);
            if !newer_exists {
                next.insert(id, Arc::clone(&snapshot));
            }
            next
        });
        published
    }

    pub fn remove(&self, id: &DatasetId) {
        self.current.rcu(|map| {
            let mut next = BTreeMap::clone(map);
            next.remove(id);
            next
        });
    }

    /// Heap bytes held by every snapshot.
    pub fn memory_bytes(&self) -> usize {
        self.current.load().values().map(|s| s.memory_bytes()).sum()
    }
}
