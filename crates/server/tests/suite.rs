//! The integration tests of this crate, as one test binary: each file is a module (one binary per file
//! linked the whole dependency graph again, tens of times over, which filled a CI disk). Tests that must own
//! their process (a peak-memory measure, a panic hook) stay binaries of their own, declared in Cargo.toml.

mod access;
mod alerts;
mod analytics;
mod clients;
mod console;
mod exports;
mod feeds;
mod hostile_access;
mod hostile_exports;
mod hostile_uploads;
mod http;
mod limits;
mod push_down;
mod sources;
