//! Files sent to the console (the web console's drag-and-drop, or any HTTP client), held in a staging
//! directory between three steps: upload, preview (what the console detected: format, coordinate and time
//! columns, the first rows, the first problems), and import with live progress. The import itself is the
//! ordinary [`Console::import`](crate::Console::import), so an upload obeys every rule a CLI import does.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geoconsole_formats::{
    CoordinateColumns, CsvReader, Format, ReadOptions, detect_format, open_reader,
};
use geoconsole_model::{DatasetId, Feature, format_rfc3339};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::import::{ImportCounters, ImportOptions, ImportReport};
use crate::staging::Staging;
use crate::time_fields::{self, END_FIELD_NAMES, SNIFF_FEATURES, START_FIELD_NAMES};
use crate::{AppError, AppErrorKind, AppResult, Console};

/// Rows shown in a preview.
const PREVIEW_ROWS: usize = 10;
/// Problems listed in a preview before it stops looking.
const PREVIEW_PROBLEMS: usize = 5;
/// An upload nobody imported is removed after this long.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);
/// Bytes received between two looks at the staging disk's free space.
const FREE_SPACE_EVERY_BYTES: u64 = 64 << 20;

/// How much of the staging folder uploads may take: each account's share, and all of them together. One
/// account's uploads never make room by removing another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuotas {
    /// Uploads one account may have staged or importing at once.
    pub per_account: usize,
    /// Bytes one account's uploads may hold together.
    pub bytes_per_account: u64,
    /// Uploads kept at once, whoever sent them.
    pub total: usize,
    /// Bytes the staging disk must keep free; an upload that would take them is refused.
    pub keep_free_bytes: u64,
}

impl Default for UploadQuotas {
    fn default() -> Self {
        Self {
            per_account: 4,
            // Two files at the default upload limit (512 MiB).
            bytes_per_account: 1 << 30,
            total: 32,
            keep_free_bytes: geoconsole_formats::ArchiveLimits::default().keep_free_bytes,
        }
    }
}

/// What the console found in an uploaded file, before anything is written.
#[derive(Debug, Clone, Serialize)]
pub struct ImportPreview {
    pub format: String,
    /// For delimited text: the columns coordinates are read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<CoordinateColumns>,
    /// The detected start (or instant) and end time properties.
    pub time: Option<String>,
    pub time_end: Option<String>,
    /// Property names in the order first seen.
    pub columns: Vec<String>,
    /// Geometry types among the sampled features, with counts.
    pub geometry_types: BTreeMap<String, u64>,
    /// Features read for this preview (at most the time-detection sample).
    pub sampled: u64,
    /// The first rows: `at` (feature or line), geometry type, a representative position, time, properties.
    pub rows: Vec<Value>,
    /// The first invalid rows in the sample, each with where and why.
    pub problems: Vec<Value>,
    /// A dataset id made from the file name, and a kind from what was detected.
    pub suggested_dataset: String,
    pub suggested_kind: String,
    /// What was read despite a fault that costs no feature (a feed document not in its declared encoding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Where an upload is in its life.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    Staged,
    Importing,
    Imported { report: Box<ImportReport> },
    Failed { error: String },
}

#[derive(Debug)]
pub struct Upload {
    pub id: String,
    pub file_name: String,
    /// Who staged it; nobody else but an admin may see, import or remove it.
    pub owner: String,
    path: PathBuf,
    created: Instant,
    state: Mutex<UploadState>,
    counters: Arc<ImportCounters>,
    bytes: Mutex<u64>,
}

impl Upload {
    /// Where the uploaded bytes go; the file keeps the sender's name so messages name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes received so far (all of them, once the upload is staged).
    pub fn bytes(&self) -> u64 {
        *lock(&self.bytes)
    }

    fn is_finished(&self) -> bool {
        matches!(
            self.state(),
            UploadState::Imported { .. } | UploadState::Failed { .. }
        )
    }

    pub fn state(&self) -> UploadState {
        lock(&self.state).clone()
    }

    /// Progress as JSON: state, bytes read of the total, features read and rejected so far, and the report
    /// or error when done.
    pub fn status(&self) -> Value {
        let total = *lock(&self.bytes);
        let mut status = serde_json::to_value(self.state()).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut status {
            map.insert("id".into(), json!(self.id));
            map.insert("file_name".into(), json!(self.file_name));
            map.insert("bytes_total".into(), json!(total));
            map.insert(
                "bytes_read".into(),
                json!(self.counters.bytes_read.load(Ordering::Relaxed).min(total)),
            );
            map.insert(
                "features".into(),
                json!(self.counters.features.load(Ordering::Relaxed)),
            );
            map.insert(
                "rejected".into(),
                json!(self.counters.rejected.load(Ordering::Relaxed)),
            );
        }
        status
    }
}

/// The staging area for uploads, a folder of the console's [`Staging`]. Dropping it removes every staged
/// file.
pub struct Uploads {
    staging: Arc<Staging>,
    dir: PathBuf,
    quotas: UploadQuotas,
    entries: Mutex<HashMap<String, Arc<Upload>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn over_quota(message: String) -> AppError {
    AppError::new(AppErrorKind::Quota, message)
}

impl Uploads {
    pub fn new(staging: Arc<Staging>, quotas: UploadQuotas) -> AppResult<Self> {
        let dir = staging.folder("uploads")?;
        Ok(Self {
            staging,
            dir,
            quotas,
            entries: Mutex::new(HashMap::new()),
        })
    }

    pub fn quotas(&self) -> UploadQuotas {
        self.quotas
    }

    /// The folder readers unpack archives and spool streams into while an upload is previewed or imported.
    pub fn unpack_folder(&self) -> AppResult<PathBuf> {
        self.staging.folder("unpacked")
    }

    /// Makes room for and registers a new upload named `file_name` (only its last path component is kept,
    /// and only safe characters, so a name can never point outside the staging directory). Room is made by
    /// removing `owner`'s own finished uploads, never anyone else's; when there is none to remove the
    /// upload is refused with how to make room.
    pub fn create(&self, file_name: &str, owner: &str) -> AppResult<Arc<Upload>> {
        let safe = safe_file_name(file_name).ok_or_else(|| {
            AppError::new(
                AppErrorKind::Input,
                format!(
                    "file name '{}' has no usable characters",
                    geoconsole_model::excerpt(file_name, 80)
                ),
            )
        })?;
        let mut entries = lock(&self.entries);
        entries.retain(|_, u| {
            let keep = matches!(u.state(), UploadState::Importing)
                || u.created.elapsed() <= ABANDONED_AFTER;
            if !keep {
                discard_files(u);
            }
            keep
        });
        let mine = |entries: &HashMap<String, Arc<Upload>>| -> Vec<Arc<Upload>> {
            let mut mine: Vec<Arc<Upload>> = entries
                .values()
                .filter(|u| u.owner == owner)
                .cloned()
                .collect();
            mine.sort_by_key(|u| u.created);
            mine
        };
        // The owner's finished uploads make room first: their reports stay readable until then.
        let full = |entries: &HashMap<String, Arc<Upload>>| {
            mine(entries).len() >= self.quotas.per_account || entries.len() >= self.quotas.total
        };
        while full(&entries) {
            let Some(oldest) = mine(&entries).into_iter().find(|u| u.is_finished()) else {
                break;
            };
            if let Some(u) = entries.remove(&oldest.id) {
                discard_files(&u);
            }
        }
        let own = mine(&entries);
        if own.len() >= self.quotas.per_account {
            let ids: Vec<&str> = own.iter().map(|u| u.id.as_str()).collect();
            return Err(over_quota(format!(
                "this account has {} uploads staged or importing, the most it may have; import one, \
                 or remove one with DELETE /imports/{{id}} (staged: {}), and try again",
                own.len(),
                ids.join(", ")
            )));
        }
        if entries.len() >= self.quotas.total {
            return Err(over_quota(format!(
                "the server holds {} uploads, the most it keeps; try again when one is imported or \
                 expires (after an hour)",
                entries.len()
            )));
        }
        let id = format!("{:016x}", rand_id());
        let folder = self.dir.join(&id);
        std::fs::create_dir(&folder).map_err(|e| {
            AppError::new(
                AppErrorKind::Internal,
                format!("cannot create upload folder: {e}"),
            )
        })?;
        let upload = Arc::new(Upload {
            id: id.clone(),
            file_name: safe.clone(),
            owner: owner.to_string(),
            path: folder.join(safe),
            created: Instant::now(),
            state: Mutex::new(UploadState::Staged),
            counters: Arc::new(ImportCounters::default()),
            bytes: Mutex::new(0),
        });
        entries.insert(id, Arc::clone(&upload));
        Ok(upload)
    }

    /// Counts `n` more received bytes of `upload`, or refuses them: beyond what its owner's uploads may
    /// hold together (413), or beyond what the staging disk can give while keeping its reserve (507).
    /// Called as the bytes arrive, so concurrent uploads of one account share one quota.
    pub fn receive(&self, upload: &Upload, n: u64) -> AppResult<()> {
        let entries = lock(&self.entries);
        let held: u64 = entries
            .values()
            .filter(|u| u.owner == upload.owner)
            .map(|u| u.bytes())
            .sum();
        let quota = self.quotas.bytes_per_account;
        if held + n > quota {
            return Err(AppError::new(
                AppErrorKind::TooLarge,
                format!(
                    "{}: this account's uploads may hold {} MiB together and would hold more; remove \
                     finished ones with DELETE /imports/{{id}} and try again",
                    upload.file_name,
                    quota >> 20
                ),
            ));
        }
        let before = upload.bytes();
        let after = before + n;
        *lock(&upload.bytes) = after;
        drop(entries);
        if before / FREE_SPACE_EVERY_BYTES != after / FREE_SPACE_EVERY_BYTES || before == 0 {
            let keep = self.quotas.keep_free_bytes;
            if geoconsole_formats::free_bytes(&self.dir).is_some_and(|free| free < keep) {
                return Err(AppError::new(
                    AppErrorKind::NoSpace,
                    format!(
                        "{}: the server's staging disk is nearly full (it keeps {} MiB free); try \
                         again later",
                        upload.file_name,
                        keep >> 20
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> AppResult<Arc<Upload>> {
        lock(&self.entries).get(id).cloned().ok_or_else(|| {
            AppError::new(
                AppErrorKind::NotFound,
                format!(
                    "upload '{}' does not exist (finished uploads are kept for an hour)",
                    geoconsole_model::excerpt(id, 40)
                ),
            )
        })
    }

    /// Forgets an upload and deletes its file; an import in progress is not interrupted.
    pub fn remove(&self, id: &str) -> AppResult<()> {
        let upload = self.get(id)?;
        if matches!(upload.state(), UploadState::Importing) {
            return Err(AppError::new(
                AppErrorKind::Conflict,
                "the upload is being imported; remove it when the import has finished",
            ));
        }
        if let Some(u) = lock(&self.entries).remove(id) {
            discard_files(&u);
        }
        Ok(())
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn discard_files(upload: &Upload) {
    if let Some(folder) = upload.path.parent() {
        let _ = std::fs::remove_dir_all(folder);
    }
}

pub(crate) fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per instance: unguessable enough for ids that also need the
    // server's consent to be used, without another dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The last path component, with anything but letters, digits, `.`, `-` and `_` replaced by `_`.
fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    (!trimmed.is_empty() && trimmed.chars().any(|c| c.is_ascii_alphanumeric()))
        .then(|| trimmed.to_string())
}

/// Reads the start of a file the way an import would and says what it found.
pub fn preview(path: &Path, read: &ReadOptions) -> AppResult<ImportPreview> {
    let invalid =
        |e: geoconsole_formats::FormatError| AppError::new(AppErrorKind::Invalid, e.to_string());
    let head = {
        use std::io::Read;
        let mut head = Vec::with_capacity(8192);
        File::open(path)
            .and_then(|f| f.take(8192).read_to_end(&mut head))
            .map_err(|e| {
                AppError::new(AppErrorKind::Internal, format!("cannot read upload: {e}"))
            })?;
        head
    };
    // A zip is opened as one (its member's format is found inside), not detected as a stream.
    let zipped = head.starts_with(b"PK\x03\x04");
    // A feed document (CAP, GeoRSS) is previewed as its import reads it: by the feed readers.
    let feed_file = match read.format {
        None if !zipped => crate::feeding::read_feed_file(path).map_err(invalid)?,
        _ => None,
    };
    if let Some((format, parsed)) = feed_file {
        let file = crate::feeding::FeedFile::new(
            path,
            format,
            parsed,
            "a preview does not place alerts given only by area codes; the import does, given --areas",
        );
        return preview_features(path, file.format.as_str(), file.stream, None, file.warnings);
    }
    let format = match read.format {
        Some(f) => Some(f),
        None if zipped => None,
        None => Some(detect_format(path, &head).map_err(invalid)?),
    };
    let options = ReadOptions {
        format,
        ..read.clone()
    };
    let (format, stream) = open_reader(path, &options).map_err(invalid)?;
    let coordinates = if format == Format::Csv && !zipped {
        let file = File::open(path).map_err(|e| {
            AppError::new(AppErrorKind::Internal, format!("cannot read upload: {e}"))
        })?;
        let reader =
            CsvReader::new(path.to_path_buf(), BufReader::new(file), &read.csv).map_err(invalid)?;
        Some(reader.coordinate_columns())
    } else {
        None
    };
    preview_features(path, format.name(), stream, coordinates, Vec::new())
}

/// The preview of the features a reader yields. Features that carry their own time (a feed document's)
/// show it; the others show what the detected time fields hold.
fn preview_features(
    path: &Path,
    format: &str,
    stream: geoconsole_formats::FeatureStream,
    coordinates: Option<CoordinateColumns>,
    warnings: Vec<String>,
) -> AppResult<ImportPreview> {
    let invalid =
        |e: geoconsole_formats::FormatError| AppError::new(AppErrorKind::Invalid, e.to_string());
    let mut features: Vec<(String, Feature)> = Vec::new();
    let mut problems = Vec::new();
    for item in stream.take(SNIFF_FEATURES) {
        match item {
            Ok(source) => features.push((source.location.to_string(), source.feature)),
            Err(e) if e.is_recoverable() => {
                if problems.len() < PREVIEW_PROBLEMS {
                    problems.push(
                        json!({"at": crate::import::place_of(&e, path), "reason": e.message()}),
                    );
                }
            }
            // A file that cannot yield even its first feature is not an upload to preview.
            Err(e) if features.is_empty() => return Err(invalid(e)),
            Err(e) => {
                problems
                    .push(json!({"at": crate::import::place_of(&e, path), "reason": e.message()}));
                break;
            }
        }
    }
    let mut warnings = warnings;
    let repairs =
        crate::import::planned_repairs(path, features.iter().map(|(at, f)| (at.as_str(), f)));
    // The preview reads a sample: features past it are checked by the import alone.
    let sample_only = !repairs.is_empty() && features.len() >= SNIFF_FEATURES;
    warnings.extend(repairs);
    if sample_only {
        warnings.push(format!(
            "{}: these are from the first {SNIFF_FEATURES} features, which the preview reads; the \
             import checks every one",
            geoconsole_formats::file_label(path)
        ));
    }
    let sample: Vec<&Feature> = features.iter().map(|(_, f)| f).collect();
    let time = time_fields::detect(&sample, &START_FIELD_NAMES);
    let time_end = time
        .as_ref()
        .and_then(|start| time_fields::detect(&sample, &END_FIELD_NAMES).filter(|e| e != start));
    let mut columns: Vec<String> = Vec::new();
    let mut geometry_types = BTreeMap::new();
    for (_, f) in &features {
        for key in f.properties.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        *geometry_types
            .entry(geometry_type(f.geometry.as_ref()).to_string())
            .or_insert(0) += 1;
    }
    let rows = features
        .iter()
        .take(PREVIEW_ROWS)
        .map(|(at, f)| {
            let when = f
                .time
                .or_else(|| {
                    time_fields::extract(&f.properties, time.as_deref(), time_end.as_deref())
                        .ok()
                        .flatten()
                })
                .map(|t| format_rfc3339(t.start));
            let mut properties = Map::new();
            for (k, v) in &f.properties {
                properties.insert(k.clone(), v.clone());
            }
            json!({
                "at": at,
                "geometry": geometry_type(f.geometry.as_ref()),
                "position": f.geometry.as_ref().and_then(position),
                "time": when,
                "properties": properties,
            })
        })
        .collect();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let timed = features.iter().any(|(_, f)| f.time.is_some());
    Ok(ImportPreview {
        format: format.to_string(),
        coordinates,
        warnings,
        suggested_kind: if time.is_some() || timed {
            "events"
        } else {
            "reference"
        }
        .to_string(),
        time,
        time_end,
        columns,
        geometry_types,
        sampled: features.len() as u64,
        rows,
        problems,
        suggested_dataset: DatasetId::slug(&stem)
            .map(|d| d.to_string())
            .unwrap_or_else(|_| "upload".to_string()),
    })
}

/// The geometry type shown in a preview; `None` (no geometry) for an unlocated feature.
fn geometry_type(g: Option<&geoconsole_model::geo_types::Geometry<f64>>) -> &'static str {
    use geoconsole_model::geo_types::Geometry as G;
    let Some(g) = g else {
        return "None";
    };
    match g {
        G::Point(_) => "Point",
        G::Line(_) | G::LineString(_) => "LineString",
        G::Polygon(_) | G::Rect(_) | G::Triangle(_) => "Polygon",
        G::MultiPoint(_) => "MultiPoint",
        G::MultiLineString(_) => "MultiLineString",
        G::MultiPolygon(_) => "MultiPolygon",
        G::GeometryCollection(_) => "GeometryCollection",
    }
}

/// A position to show for a row: the point, or the first coordinate of anything else.
fn position(g: &geoconsole_model::geo_types::Geometry<f64>) -> Option<[f64; 2]> {
    use geo::CoordsIter;
    g.coords_iter().next().map(|c| [c.x, c.y])
}

impl Console {
    /// Imports a staged upload in the background; its progress and outcome are read from
    /// [`Upload::status`].
    pub fn import_upload(&self, upload: Arc<Upload>, mut options: ImportOptions) -> AppResult<()> {
        {
            let mut state = lock(&upload.state);
            match *state {
                UploadState::Staged | UploadState::Failed { .. } => {}
                UploadState::Importing => {
                    return Err(AppError::new(
                        AppErrorKind::Conflict,
                        "this upload is already being imported",
                    ));
                }
                UploadState::Imported { .. } => {
                    return Err(AppError::new(
                        AppErrorKind::Conflict,
                        "this upload was imported already; upload the file again to import it again",
                    ));
                }
            }
            *state = UploadState::Importing;
        }
        upload.counters.bytes_read.store(0, Ordering::Relaxed);
        upload.counters.features.store(0, Ordering::Relaxed);
        upload.counters.rejected.store(0, Ordering::Relaxed);
        options.counters = Some(Arc::clone(&upload.counters));
        options
            .source
            .get_or_insert_with(|| format!("upload:{}", upload.file_name));
        if options.skip_invalid && options.rejects.is_none() {
            options.rejects = upload.path.parent().map(|p| p.join("rejects.jsonl"));
        }
        let console = self.clone();
        tokio::spawn(async move {
            let outcome = console.import(&upload.path, options).await;
            let next = match outcome {
                Ok(mut report) => {
                    tracing::info!(upload = %upload.id, dataset = %report.dataset.id, imported = report.imported, "upload imported");
                    // Said to an HTTP caller: in the API's terms, and without the server's own paths
                    // (the first rejects are in the report itself).
                    report.rejects_report = None;
                    for reject in &mut report.first_rejects {
                        reject.reason = crate::terms::in_api_terms(&reject.reason);
                    }
                    for warning in &mut report.warnings {
                        *warning = crate::terms::in_api_terms(warning);
                    }
                    UploadState::Imported {
                        report: Box::new(report),
                    }
                }
                Err(e) => {
                    tracing::info!(upload = %upload.id, error = %e, "upload import failed");
                    UploadState::Failed {
                        error: crate::terms::in_api_terms(&e.to_string()),
                    }
                }
            };
            *lock(&upload.state) = next;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_escape_the_staging_folder() {
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            safe_file_name("C:\\x\\quakes.csv").as_deref(),
            Some("quakes.csv")
        );
        assert_eq!(safe_file_name("..").as_deref(), None);
        assert_eq!(safe_file_name("a b;c.csv").as_deref(), Some("a_b_c.csv"));
        assert_eq!(safe_file_name("").as_deref(), None);
    }

    #[test]
    fn a_cap_file_is_previewed_as_its_feed_reader_reads_it_with_the_encoding_warning() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("alert.xml");
        // Declared UTF-8, written in Windows-1252 (0xED is 'í'), as real issuers' software writes it.
        let mut body = br#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>T-1</identifier><sender>a@example.org</sender><sent>2024-01-01T00:00:00-00:00</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><event>Polic"#
            .to_vec();
        body.push(0xED);
        body.extend_from_slice(
            br#"a</event><urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <area><areaDesc>x</areaDesc><circle>32.9525,-115.5527 0</circle></area></info></alert>"#,
        );
        std::fs::write(&path, body).expect("write");
        let preview = preview(&path, &ReadOptions::default()).expect("preview");
        assert_eq!(preview.format, "cap");
        assert_eq!(preview.sampled, 1);
        assert_eq!(preview.geometry_types.get("Point"), Some(&1));
        assert_eq!(preview.rows[0]["properties"]["event"], "Policía");
        assert_eq!(preview.rows[0]["time"], "2024-01-01T00:00:00.000Z");
        assert_eq!(preview.suggested_kind, "events");
        assert!(
            preview.warnings[0].contains("Windows-1252"),
            "{:?}",
            preview.warnings
        );
    }

    #[test]
    fn preview_finds_columns_time_and_problems() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sightings.csv");
        std::fs::write(
            &path,
            "name,latitude,longitude,observed_at\nA,10,20,2024-01-01T00:00:00Z\nB,95,20,2024-01-02T00:00:00Z\nC,11,21,2024-01-03T00:00:00Z\n",
        )
        .expect("write");
        let p = preview(&path, &ReadOptions::default()).expect("preview");
        assert_eq!(p.format, "csv");
        assert_eq!(
            p.coordinates,
            Some(CoordinateColumns::LatLon {
                lat: "latitude".into(),
                lon: "longitude".into()
            })
        );
        assert_eq!(p.time.as_deref(), Some("observed_at"));
        assert_eq!(p.suggested_kind, "events");
        assert_eq!(p.suggested_dataset, "sightings");
        assert_eq!(p.sampled, 2);
        assert_eq!(p.rows[1]["at"], "line 4");
        assert_eq!(p.rows[0]["position"], json!([20.0, 10.0]));
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0]["at"], "line 3");
        assert!(
            p.problems[0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("latitude")),
            "{:?}",
            p.problems
        );
    }

    // From the third outside pass: the preview listed nothing for a polygon the import then repaired, and a
    // problem in an archive's member was "line 3" with no word of which member.
    #[test]
    fn preview_says_which_polygons_will_be_repaired_and_which_member_a_problem_is_in() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("zones.geojson");
        std::fs::write(
            &path,
            r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"n":"square"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
{"type":"Feature","properties":{"n":"bowtie"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}]}"#,
        )
        .expect("write");
        let p = preview(&path, &ReadOptions::default()).expect("preview");
        assert_eq!(
            p.warnings,
            vec![
                "zones.geojson: feature 1: a polygon whose rings cross, overlap or touch themselves, \
                 will be stored as 2 valid polygons (odd-even rule, as ogr2ogr -makevalid)"
                    .to_string()
            ]
        );

        // A file past the preview's sample: the warnings say they are the sample's.
        let many = dir.path().join("many.geojson");
        let square = r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}"#;
        let bowtie = r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}"#;
        let mut all = vec![bowtie; 1];
        all.extend(std::iter::repeat_n(square, 1500));
        std::fs::write(
            &many,
            format!(
                r#"{{"type":"FeatureCollection","features":[{}]}}"#,
                all.join(",")
            ),
        )
        .expect("write");
        let p = preview(&many, &ReadOptions::default()).expect("preview");
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(
            p.warnings[1].contains("from the first 1000 features"),
            "{:?}",
            p.warnings
        );

        let archive = dir.path().join("sites.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).expect("created"));
        zip.start_file("sites.csv", zip::write::SimpleFileOptions::default())
            .expect("member");
        std::io::Write::write_all(&mut zip, b"name,latitude,longitude\nA,10,20\nB,95,20\n")
            .expect("written");
        zip.finish().expect("finished");
        let p = preview(&archive, &ReadOptions::default()).expect("preview");
        assert_eq!(p.problems[0]["at"], "sites.csv: line 3", "{:?}", p.problems);
    }
}
