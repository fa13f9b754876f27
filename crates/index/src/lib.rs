//! Room `index`: what the console keeps of each dataset in memory so readers never touch the store to find
//! features. A [`Snapshot`] holds, per feature, the store's row key, its time span and its shape (points as
//! bare coordinates, other geometries whole), with a bulk-loaded R-tree over the shapes. Properties stay in
//! the store and are fetched by key for the features a page returns; a snapshot may also carry a columnar
//! copy of its features' ids and properties as tiles write them ([`PropertyTable`]), so tiles never wait
//! for the store.
//!
//! Snapshots are immutable; [`Indexes`] swaps a dataset's snapshot atomically after each commit, so readers
//! never wait for a writer and always see one committed version.
//!
//! Depends on `model`, rstar, arc-swap and serde_json only: building a snapshot from a store is the `app`'s
//! job.
#![forbid(unsafe_code)]

mod properties;
mod registry;
mod snapshot;

pub use properties::{Cell, DICTIONARY_MAX, Entry, ItemValue, PropertyTable, PropertyTableBuilder};
pub use registry::Indexes;
pub use snapshot::{PointHit, Selection, Shape, Snapshot, SnapshotBuilder, TimeRange, Walk};
