//! One module per command; each turns parsed arguments into calls on the [`geoconsole_app::Console`].

pub mod access;
pub mod alerts;
pub mod catalog;
pub mod datasets;
pub mod demo;
pub mod export;
pub mod exposure;
pub mod feeds;
pub mod generate;
pub mod import;
pub mod migrate;
pub mod query;
pub mod risk;
pub mod serve;
pub mod sources;

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use geoconsole_formats::Format;
use geoconsole_model::{Bbox, DatasetId};
use geoconsole_query::{DateTimeFilter, FeatureQuery};

use crate::args::FilterArgs;

pub fn dataset_id(text: &str) -> Result<DatasetId> {
    DatasetId::new(text).map_err(|e| anyhow!("{}", e.message()))
}

/// Dataset ids from a repeated or comma-separated flag.
pub fn dataset_ids(names: &[String]) -> Result<Vec<DatasetId>> {
    names.iter().map(|n| dataset_id(n)).collect()
}

pub fn format_of(arg: Option<Format>, path: &Path) -> Result<Format> {
    match arg {
        Some(format) => Ok(format),
        None => Format::from_extension(path).with_context(|| {
            format!(
                "cannot tell the format of {} from its extension; pass --format",
                path.display()
            )
        }),
    }
}

pub fn query_of(filter: &FilterArgs, limit: Option<usize>) -> Result<FeatureQuery> {
    Ok(FeatureQuery {
        bbox: filter
            .bbox
            .as_deref()
            .map(Bbox::parse)
            .transpose()
            .map_err(|e| anyhow!("{}", e.message()))?,
        datetime: filter
            .datetime
            .as_deref()
            .map(DateTimeFilter::parse)
            .transpose()?,
        limit,
        cursor: None,
    })
}

/// An RFC 3339 instant from the command line.
pub fn instant(text: &str, flag: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .with_context(|| {
            format!("{flag} '{text}' is not an RFC 3339 instant such as 2023-04-07T00:00:00Z")
        })
}
