//! Room `app`: the [`Console`], the one way data gets in and out. File imports (and, later, uploads, feed
//! polls and API edits) all go through [`Console::import`], so validation, time detection, id rules and
//! atomicity happen once, in one place. Exports page through the store with flat memory. After each commit
//! the dataset's in-memory snapshot is rebuilt, swapped and announced ([`Live`]); readers (items, tiles) are
//! answered from the snapshot with properties fetched by key. What waits on disk between steps (uploads,
//! unpacked archive members, export files) lives in the [`Staging`] folder beside the store, each account's
//! uploads within its own quota.
//!
//! Depends on `model`, `query`, `formats`, `index`, `tiles`, and `store` as a trait only: it never names a
//! backend.
#![forbid(unsafe_code)]

pub mod alerting;
mod analysis;
mod area_codes;
mod buckets;
mod cluster;
mod console;
mod error;
mod export;
mod export_jobs;
mod feeding;
mod geometry_repair;
mod import;
mod live;
mod reading;
mod risk;
mod staging;
pub mod terms;
mod time_fields;
mod uploads;
mod visibility;

pub use alerting::{AlertEvent, AlertSeverity, Alerting, Alerts, Condition, DryRun, Rule, Webhook};
pub use analysis::{ExposureReport, ExposureRequest, Hits, ModelUsed};
pub use buckets::{BucketReport, BucketRequest, RegionSeries, Regions};
pub use cluster::{Following, HEARTBEAT};
pub use console::{Console, ConsoleOptions, Stores};
pub use error::{AppError, AppErrorKind, AppResult};
pub use export::ExportReport;
pub use export_jobs::{ExportJob, ExportRequest, ExportState, Exports};
pub use feeding::{CatalogAdd, FeedEvent, FeedPreview, FeedView, Feeding, Feeds, PollReport};
pub use geoconsole_access::Scope;
pub use import::{FeatureLimits, ImportCounters, ImportOptions, ImportReport, Reject, Requester};
pub use live::{ChangeEvent, Live, build_serving_snapshot, build_snapshot};
pub use reading::{
    ItemsPage, ItemsRequest, Page, PageItems, RenderedTile, compile_filter, queryables,
};
pub use risk::{RiskReport, RiskRequest, SiteTrend, TrendReport, TrendRequest, default_risk_model};
pub use staging::Staging;
pub use time_fields::{END_FIELD_NAMES, START_FIELD_NAMES};
pub use uploads::{ImportPreview, Upload, UploadQuotas, UploadState, Uploads, preview};
