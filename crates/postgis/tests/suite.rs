//! The integration tests of this crate, as one test binary: each file is a module (one binary per file
//! linked the whole dependency graph again, tens of times over, which filled a CI disk). Tests that must own
//! their process (a peak-memory measure, a panic hook) stay binaries of their own, declared in Cargo.toml.

mod cluster;
mod conformance;
mod wkb_from_postgis;
