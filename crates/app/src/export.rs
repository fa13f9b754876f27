//! Exports stream page by page: memory holds one page whatever the dataset's size. Bbox and datetime go
//! to the store's query; a CQL2 filter is applied to each fetched page, so no index has to be loaded.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use geoconsole_formats::{Format, WriterLayout, create_writer};
use geoconsole_model::DatasetId;
use geoconsole_query::{FeatureQuery, Filter};
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

/// Streams a dataset's matching features into `out` in `format`; `progress` counts features written.
pub(crate) async fn export(
    store: &Arc<dyn FeatureStore>,
    id: &DatasetId,
    format: Format,
    mut query: FeatureQuery,
    filter: Option<Filter>,
    out: Box<dyn Write + Send>,
    progress: Option<Arc<AtomicU64>>,
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
    let limit = query.limit;
    let mut remaining = limit;
    let mut written = 0u64;
    let filter = filter.map(Arc::new);
    loop {
        // With a CQL2 filter a page may yield fewer features than it fetched; the store pages stay full.
        query.limit = Some(match (&filter, remaining) {
            (None, Some(r)) => r.min(EXPORT_PAGE),
            _ => EXPORT_PAGE,
        });
        let page = store.query(id, &query).await?;
        let filter = filter.clone();
        let budget = remaining;
        writer = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let mut count = 0usize;
            for feature in &page.features {
                if budget.is_some_and(|b| count >= b) {
                    break;
                }
                if filter.as_ref().is_some_and(|f| !f.matches(feature)) {
                    continue;
                }
                writer.write_feature(feature)?;
                count += 1;
            }
            Ok((writer, count, page.next))
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("export task failed: {e}")))?
        .map_err(io)
        .map(|(writer, count, next)| {
            written += count as u64;
            if let Some(progress) = &progress {
                progress.store(written, Ordering::Relaxed);
            }
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
