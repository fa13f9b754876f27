//! Room `analytics`: the pure computations behind "which of our sites are threatened, by what". It owns
//! impact models (how far an event reaches, from its own properties: a magnitude-dependent radius, a fixed
//! buffer, or the event's own polygon) and the exposure join of fixed sites against event footprints, with
//! geodesic distances in metres and a plain-language reason for every hit; and H3 hexagon aggregation
//! (through `h3o`) for density maps; trends (a period series against its trailing baseline, with the
//! anomaly in words); and explainable risk scores (severity × proximity × recency per hit, combined per
//! layer up to its weight, plus a trend term, always with the breakdown).
//!
//! Depends on `model` (features, geometry) and `query` (geodesic distance). It reads no store and knows no
//! HTTP: `app` feeds it features and `server`/`cli` present the results.
#![forbid(unsafe_code)]

mod exposure;
mod hexbin;
mod impact;
mod regions;
mod risk;
mod trend;

pub use exposure::{
    Exposure, Hit, Nearest, Reach, SiteExposure, SiteIndex, Visitor, combine_nearest, expose,
    expose_nearest, expose_nearest_by_site, exposed_by_site, join, rank, reason,
};
pub use hexbin::{
    CellCount, CellTotal, MAX_RESOLUTION, aggregate_cells, count_cells, finest_cells, outlines,
    resolution,
};
pub use impact::{Footprint, ImpactModel, default_model};
pub use regions::{AreaIndex, boundaries_between};
pub use risk::{
    HitFactors, LayerContribution, LayerRisk, RiskModel, Severity, SiteScore, TOP_HITS,
    TrendContribution, TrendRisk, combine, proximity, rank_scores, recency, trend_share,
};
pub use trend::{AnomalyRule, Assessment, Period, assess, boundaries, describe, period_of};
