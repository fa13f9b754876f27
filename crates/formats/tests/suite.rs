//! The integration tests of this crate, as one test binary: each file is a module (one binary per file
//! linked the whole dependency graph again, tens of times over, which filled a CI disk). Tests that must own
//! their process (a peak-memory measure, a panic hook) stay binaries of their own, declared in Cargo.toml.

mod deep_nesting;
mod empty_parts;
mod files;
mod hostile_archives;
mod hostile_bytes;
mod hostile_privacy;
mod hostile_records;
mod reader_repro;
mod support;
mod unlocated_and_damaged;
mod z_and_nad27;
