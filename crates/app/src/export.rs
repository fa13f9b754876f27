//! Exports stream page by page: memory holds one page whatever the dataset's size.

use std::io::Write;
use std::sync::Arc;

use geoconsole_formats::{Format, WriterLayout, create_writer};
use geoconsole_model::DatasetId;
use geoconsole_query::FeatureQuery;
use geoconsole_store::FeatureStore;
use serde::Serialize;

use crate::{AppError, AppErrorKind, AppResult};

/// Features fetched from the store per page during an export.
const EXPORT_PAGE: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub dataset: DatasetId,
    pub format: String,
    pub features: u64,
}

pub(crate) async fn export(
    store: &Arc<dyn FeatureStore>,
    id: &DatasetId,
    format: Format,
    mut query: FeatureQuery,
    out: Box<dyn Write + Send>,
) -> AppResult<ExportReport> {
    let dataset = store.dataset(id).await?;
    let layout = WriterLayout {
        name: id.to_string(),
        schema: dataset.schema.clone(),
        geometry_type: dataset.geometry_type,
    };
    let io = |e: std::io::Error| {
        AppError::new(
            AppErrorKind::Internal,
            format!("export of '{id}' failed: {e}"),
        )
    };
    if !format.is_writable() {
        return Err(AppError::new(
            AppErrorKind::Invalid,
            format!(
                "{format} cannot be exported (formats: {})",
                Format::WRITABLE.map(Format::name).join(", ")
            ),
        ));
    }
    let mut writer = create_writer(format, out, &layout).map_err(io)?;
    let mut remaining = query.limit;
    let mut written = 0u64;
    loop {
        query.limit = Some(remaining.map_or(EXPORT_PAGE, |r| r.min(EXPORT_PAGE)));
        let page = store.query(id, &query).await?;
        writer = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            for feature in &page.features {
                writer.write_feature(feature)?;
            }
            Ok((writer, page.features.len(), page.next))
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("export task failed: {e}")))?
        .map_err(io)
        .map(|(writer, count, next)| {
            written += count as u64;
            remaining = remaining.map(|r| r.saturating_sub(count));
            query.cursor = next;
            writer
        })?;
        if query.cursor.is_none() || remaining == Some(0) {
            break;
        }
    }
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("export task failed: {e}")))?
        .map_err(io)?;
    Ok(ExportReport {
        dataset: id.clone(),
        format: format.name().to_string(),
        features: written,
    })
}
