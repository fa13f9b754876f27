//! Background exports: a request starts a job that streams the selection to a private file while callers
//! poll its progress, then download the finished file. Nothing waits on an HTTP request, so an export of
//! millions of features never times out; finished files are kept for an hour.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geoconsole_formats::Format;
use geoconsole_model::DatasetId;
use geoconsole_query::{FeatureQuery, Filter};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{AppError, AppErrorKind, AppResult, Console};

/// Jobs running at once; more would only share the same two disks and cores.
const MAX_RUNNING: usize = 4;
/// Jobs kept (running or finished) before the oldest finished one is discarded.
const MAX_KEPT: usize = 32;
/// How long a finished export stays downloadable.
const KEPT_FOR: Duration = Duration::from_secs(3600);

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub dataset: DatasetId,
    pub format: Format,
    /// Bbox, datetime and limit.
    pub query: FeatureQuery,
    /// A compiled CQL2 filter, if any.
    pub filter: Option<Filter>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ExportState {
    Running,
    Done { features: u64, bytes: u64 },
    Failed { error: String },
}

#[derive(Debug)]
pub struct ExportJob {
    pub id: String,
    pub owner: String,
    pub dataset: DatasetId,
    pub format: Format,
    /// The name the download is offered under: `<dataset>.<extension>`.
    pub file_name: String,
    path: PathBuf,
    created: Instant,
    /// The dataset's feature count when the job started: the most the export can write.
    estimate: u64,
    written: Arc<AtomicU64>,
    state: Mutex<ExportState>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ExportJob {
    pub fn state(&self) -> ExportState {
        lock(&self.state).clone()
    }

    /// The finished file, once the job is done.
    pub fn file(&self) -> Option<&Path> {
        matches!(self.state(), ExportState::Done { .. }).then_some(self.path.as_path())
    }

    /// Progress for pollers: features written, the most there can be, and a fraction.
    pub fn status(&self) -> Value {
        let written = self.written.load(Ordering::Relaxed);
        let state = self.state();
        let progress = match state {
            ExportState::Done { .. } => 1.0,
            ExportState::Failed { .. } => 0.0,
            // A filter may select fewer than the dataset holds, so running never claims to be complete.
            ExportState::Running if self.estimate == 0 => 0.0,
            ExportState::Running => (written as f64 / self.estimate as f64).min(0.99),
        };
        let mut status = serde_json::to_value(&state).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut status {
            map.insert("id".into(), json!(self.id));
            map.insert("dataset".into(), json!(self.dataset));
            map.insert("format".into(), json!(self.format.name()));
            map.insert("file_name".into(), json!(self.file_name));
            map.insert("features_written".into(), json!(written));
            map.insert("features_at_most".into(), json!(self.estimate));
            map.insert("progress".into(), json!(progress));
            map.insert(
                "elapsed_seconds".into(),
                json!(self.created.elapsed().as_secs_f64()),
            );
        }
        status
    }
}

/// The registry of export jobs and the folder their files are written to.
#[derive(Debug)]
pub struct Exports {
    dir: tempfile::TempDir,
    entries: Mutex<HashMap<String, Arc<ExportJob>>>,
}

impl Exports {
    pub fn new() -> AppResult<Self> {
        let dir = tempfile::Builder::new()
            .prefix("geoconsole-exports-")
            .tempdir()
            .map_err(|e| {
                AppError::new(
                    AppErrorKind::Internal,
                    format!("cannot create the export folder: {e}"),
                )
            })?;
        Ok(Self {
            dir,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// Starts a job on the runtime and returns it at once.
    pub async fn start(
        &self,
        console: &Console,
        scope: &geoconsole_access::Scope,
        request: ExportRequest,
        owner: &str,
    ) -> AppResult<Arc<ExportJob>> {
        if !request.format.is_writable() {
            return Err(AppError::new(
                AppErrorKind::Invalid,
                format!(
                    "{} cannot be exported (formats: {})",
                    request.format,
                    Format::WRITABLE.map(Format::name).join(", ")
                ),
            ));
        }
        let dataset = console.dataset(scope, &request.dataset).await?;
        let id = format!("{:016x}", crate::uploads::rand_id());
        let file_name = format!("{}.{}", request.dataset, request.format.extension());
        let job = Arc::new(ExportJob {
            id: id.clone(),
            owner: owner.to_string(),
            dataset: request.dataset.clone(),
            format: request.format,
            path: self
                .dir
                .path()
                .join(format!("{id}.{}", request.format.extension())),
            file_name,
            created: Instant::now(),
            estimate: request.query.limit.map_or(dataset.feature_count, |l| {
                dataset.feature_count.min(l as u64)
            }),
            written: Arc::new(AtomicU64::new(0)),
            state: Mutex::new(ExportState::Running),
        });
        self.admit(&job)?;
        let file = File::create(&job.path).map_err(|e| {
            AppError::new(
                AppErrorKind::Internal,
                format!("cannot create the export file: {e}"),
            )
        })?;
        let console = console.clone();
        let running = Arc::clone(&job);
        tokio::spawn(async move {
            let out = Box::new(BufWriter::with_capacity(1 << 20, file));
            let outcome = crate::export::export(
                console.store(),
                &request.dataset,
                request.format,
                request.query,
                request.filter,
                out,
                Some(Arc::clone(&running.written)),
            )
            .await;
            let next = match outcome {
                Ok(report) => {
                    let bytes = std::fs::metadata(&running.path).map_or(0, |m| m.len());
                    tracing::info!(export = %running.id, dataset = %report.dataset, format = %report.format, features = report.features, bytes, "export finished");
                    ExportState::Done {
                        features: report.features,
                        bytes,
                    }
                }
                Err(e) => {
                    tracing::warn!(export = %running.id, error = %e, "export failed");
                    let _ = std::fs::remove_file(&running.path);
                    ExportState::Failed {
                        error: e.to_string(),
                    }
                }
            };
            *lock(&running.state) = next;
        });
        Ok(job)
    }

    /// Registers a job, discarding expired and (when full) the oldest finished ones.
    fn admit(&self, job: &Arc<ExportJob>) -> AppResult<()> {
        let mut entries = lock(&self.entries);
        entries.retain(|_, j| {
            let keep = matches!(j.state(), ExportState::Running) || j.created.elapsed() <= KEPT_FOR;
            if !keep {
                let _ = std::fs::remove_file(&j.path);
            }
            keep
        });
        let running = entries
            .values()
            .filter(|j| matches!(j.state(), ExportState::Running))
            .count();
        if running >= MAX_RUNNING {
            return Err(AppError::new(
                AppErrorKind::Unavailable,
                format!("{MAX_RUNNING} exports are running; try again when one finishes"),
            ));
        }
        if entries.len() >= MAX_KEPT {
            let oldest = entries
                .values()
                .filter(|j| !matches!(j.state(), ExportState::Running))
                .min_by_key(|j| j.created)
                .map(|j| j.id.clone());
            if let Some(j) = oldest.and_then(|id| entries.remove(&id)) {
                let _ = std::fs::remove_file(&j.path);
            }
        }
        entries.insert(job.id.clone(), Arc::clone(job));
        Ok(())
    }

    pub fn get(&self, id: &str) -> AppResult<Arc<ExportJob>> {
        lock(&self.entries)
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::new(AppErrorKind::NotFound, format!("no export '{id}'")))
    }

    /// Forgets a job and deletes its file; a running job goes on writing to a file that no longer has a name,
    /// whose space is freed when it ends.
    pub fn remove(&self, id: &str) -> AppResult<()> {
        let job = lock(&self.entries)
            .remove(id)
            .ok_or_else(|| AppError::new(AppErrorKind::NotFound, format!("no export '{id}'")))?;
        let _ = std::fs::remove_file(&job.path);
        Ok(())
    }
}
