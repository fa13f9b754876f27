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

use crate::staging::Staging;
use crate::{AppError, AppErrorKind, AppResult, Console};

/// Jobs running at once; more would only share the same two disks and cores.
const MAX_RUNNING: usize = 4;
/// Jobs one account may have running at once, so one account cannot take every slot.
const MAX_RUNNING_PER_ACCOUNT: usize = 2;
/// Jobs kept (running or finished) in all.
const MAX_KEPT: usize = 32;
/// Jobs one account may keep; its oldest finished one makes room, never another account's.
const MAX_KEPT_PER_ACCOUNT: usize = 8;
/// Bytes written between two looks at the staging disk's free space.
const FREE_SPACE_EVERY_BYTES: u64 = 64 << 20;
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

/// The registry of export jobs and the folder their files are written to: a folder of the console's
/// [`Staging`], so a crash leaves nothing in the system's temporary folder and the next start sweeps it.
#[derive(Debug)]
pub struct Exports {
    _staging: Arc<Staging>,
    dir: PathBuf,
    /// Free space the staging disk keeps: a job that would take it fails.
    keep_free_bytes: u64,
    entries: Mutex<HashMap<String, Arc<ExportJob>>>,
}

impl Drop for Exports {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Exports {
    pub fn new(staging: Arc<Staging>, keep_free_bytes: u64) -> AppResult<Self> {
        let dir = staging.folder("exports")?;
        Ok(Self {
            _staging: staging,
            dir,
            keep_free_bytes,
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
        let keep_free = self.keep_free_bytes;
        let dir = self.dir.clone();
        tokio::spawn(async move {
            let out = Box::new(Reserving {
                inner: BufWriter::with_capacity(1 << 20, file),
                dir,
                keep_free,
                since_check: FREE_SPACE_EVERY_BYTES,
            });
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
                        error: crate::terms::in_api_terms(&e.to_string()),
                    }
                }
            };
            *lock(&running.state) = next;
        });
        Ok(job)
    }

    /// Registers a job, discarding expired ones and, when its owner or the registry is full, the owner's
    /// own oldest finished one; another account's files are never discarded to make room.
    fn admit(&self, job: &Arc<ExportJob>) -> AppResult<()> {
        let mut entries = lock(&self.entries);
        entries.retain(|_, j| {
            let keep = matches!(j.state(), ExportState::Running) || j.created.elapsed() <= KEPT_FOR;
            if !keep {
                let _ = std::fs::remove_file(&j.path);
            }
            keep
        });
        let running = |entries: &HashMap<String, Arc<ExportJob>>, owner: Option<&str>| {
            entries
                .values()
                .filter(|j| owner.is_none_or(|o| j.owner == o))
                .filter(|j| matches!(j.state(), ExportState::Running))
                .count()
        };
        if running(&entries, Some(&job.owner)) >= MAX_RUNNING_PER_ACCOUNT {
            return Err(AppError::new(
                AppErrorKind::Quota,
                format!(
                    "this account has {MAX_RUNNING_PER_ACCOUNT} exports running, the most it may; try \
                     again when one finishes"
                ),
            ));
        }
        if running(&entries, None) >= MAX_RUNNING {
            return Err(AppError::new(
                AppErrorKind::Quota,
                format!("{MAX_RUNNING} exports are running; try again when one finishes"),
            ));
        }
        let own = |entries: &HashMap<String, Arc<ExportJob>>| {
            entries.values().filter(|j| j.owner == job.owner).count()
        };
        while own(&entries) >= MAX_KEPT_PER_ACCOUNT || entries.len() >= MAX_KEPT {
            let oldest = entries
                .values()
                .filter(|j| j.owner == job.owner && !matches!(j.state(), ExportState::Running))
                .min_by_key(|j| j.created)
                .map(|j| j.id.clone());
            match oldest.and_then(|id| entries.remove(&id)) {
                Some(j) => {
                    let _ = std::fs::remove_file(&j.path);
                }
                None => {
                    return Err(AppError::new(
                        AppErrorKind::Quota,
                        "the server keeps as many exports as it may; download and remove one \
                         (DELETE /exports/{id}), or try again when one expires (after an hour)",
                    ));
                }
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

/// The export file's writer: it stops the job before the staging disk would lose its reserve.
struct Reserving {
    inner: BufWriter<File>,
    dir: PathBuf,
    keep_free: u64,
    since_check: u64,
}

impl std::io::Write for Reserving {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.since_check += bytes.len() as u64;
        if self.since_check >= FREE_SPACE_EVERY_BYTES {
            self.since_check = 0;
            if geoconsole_formats::free_bytes(&self.dir).is_some_and(|free| free < self.keep_free) {
                return Err(std::io::Error::other(format!(
                    "the server's staging disk is nearly full (it keeps {} MiB free)",
                    self.keep_free >> 20
                )));
            }
        }
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
