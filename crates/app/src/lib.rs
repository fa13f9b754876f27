//! Room `app`: the [`Console`], the one way data gets in and out. File imports (and, later, uploads, feed
//! polls and API edits) all go through [`Console::import`], so validation, time detection, id rules and
//! atomicity happen once, in one place. Exports page through the store with flat memory.
//!
//! Depends on `model`, `query`, `formats`, and `store` as a trait only: it never names a backend.
#![forbid(unsafe_code)]

mod console;
mod error;
mod export;
mod import;
mod time_fields;

pub use console::Console;
pub use error::{AppError, AppErrorKind, AppResult};
pub use export::ExportReport;
pub use import::{ImportCounters, ImportOptions, ImportReport, Reject};
pub use time_fields::{END_FIELD_NAMES, START_FIELD_NAMES};
