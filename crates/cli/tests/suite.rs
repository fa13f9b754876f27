//! The integration tests of this crate, as one test binary: each file is a module (one binary per file
//! linked the whole dependency graph again, tens of times over, which filled a CI disk). Tests that must own
//! their process (a peak-memory measure, a panic hook) stay binaries of their own, declared in Cargo.toml.

mod alerts_crash;
mod cap_files;
mod cli;
mod cluster;
mod crash;
mod formats_gdal;
mod hostile_depth;
mod hostile_output;
mod migrate;
mod protection;
mod realworld;
mod shared_gpkg;
mod sources;
mod spreadsheets;
mod support;
mod unlocated;
