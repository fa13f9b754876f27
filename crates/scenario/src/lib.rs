//! Room `scenario`: data the console makes for itself. [`demo`] builds a realistic operations picture offline
//! from real public-domain data embedded in the binary (USGS earthquakes, Natural Earth countries and cities,
//! FAA airports) plus seeded generators (sites, storms, wildfire hotspots, weather warnings, monthly site
//! incident counts). [`synthetic`] makes clustered, time-spread points at any scale for benchmarks.
//!
//! Depends on `app` (everything is written through `Console`, the one write path), `model`, `query`, `store`.
//! Generated data is deterministic for a seed and marked as generated in its `source`. No generator produces
//! person-level records.
#![forbid(unsafe_code)]

pub mod demo;
mod geodesy;
mod hazards;
mod replay;
pub mod synthetic;

pub use demo::{DemoSummary, build_demo, demo_risk_model, demo_rules};
pub use replay::QuakeReplay;
pub use synthetic::{SyntheticOptions, synthetic_points, synthetic_schema};
