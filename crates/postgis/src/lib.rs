//! Room `postgis`: the shared store. PostgreSQL with PostGIS holds what the GeoPackage file holds, so several
//! console instances can serve one database. Every dataset is a table of its own with a PostGIS
//! `geometry(Geometry, 4326)` column, a GiST index and a time index, so QGIS, GDAL, Martin or psql read it as
//! any PostGIS layer; properties are one `jsonb` column (typed by the console's schema in `gc_datasets`).
//! Rules, alerts, deliveries, feeds, accounts and the audit log live in `gc_*` tables beside them. The tables
//! are created by the migrations in `migrations/*.sql`, applied once under an advisory lock.
//!
//! For several instances it also owns the coordination PostgreSQL gives for free: commits announce
//! themselves with `NOTIFY` (each instance `LISTEN`s and refreshes its index), and session advisory locks
//! elect the one instance that polls feeds and delivers webhooks (the lock dies with its connection, so a
//! crashed leader is replaced within a heartbeat).
//!
//! Depends on `store` (the traits it implements), `model`, `query`, `formats` (its bounded WKB decoder, for
//! what other tools wrote into the tables), tokio-postgres with a deadpool pool, and geozero (WKB out). Every statement binds its values; identifiers are validated dataset ids, always quoted.
#![forbid(unsafe_code)]

mod access;
mod alerts;
mod catalog;
mod cluster;
mod connect;
mod feeds;
mod read;
mod store;
mod write;

pub use connect::PostgisConfig;
pub use store::PostgisStore;

/// Whether a store location names a PostgreSQL database rather than a file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}
