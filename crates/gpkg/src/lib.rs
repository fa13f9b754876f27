//! Room `gpkg`: the embedded store. One OGC GeoPackage 1.3 file (SQLite, WAL) that GDAL and QGIS open as
//! they would any GeoPackage: every dataset is a feature table registered in `gpkg_contents` and
//! `gpkg_geometry_columns`, with standard geometry blobs and the `gpkg_rtree_index` extension. The console's
//! own metadata (kind, schema, version, time fields) lives beside them in `gc_datasets`, and alerting's
//! rules, alerts and delivery outbox in `gc_rules`, `gc_rule_marks`, `gc_alerts` and `gc_deliveries`.
//!
//! Depends on `store` (the trait it implements), `model`, `query`, `formats` (the GeoPackage SQL and the
//! bounded WKB decoder), rusqlite (bundled SQLite) and geozero (GeoPackage WKB out). Every SQL statement binds its values; identifiers come only from validated dataset ids
//! and from the column map, and are quoted.
#![forbid(unsafe_code)]

mod access;
mod alerts;
mod blob;
mod catalog;
mod changes;
mod columns;
mod connection;
mod ddl;
mod feeds;
mod read;
mod rtree_bulk;
mod scan;
mod store;
mod write;

pub use store::GpkgStore;
