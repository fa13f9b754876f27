//! The import pipeline: a reader thread parses, a staging thread applies the console's rules (time fields,
//! ids, the error policy), and the async side writes batches into one store transaction. A failure anywhere
//! before commit aborts the transaction, so a file that fails changes nothing.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use geoconsole_feeds::AreaSource;
use geoconsole_formats::privacy::{Category, PrivacyGuard, PrivacyPolicy, redact_text};
use geoconsole_formats::{
    FeatureStream, FormatError, FormatErrorKind, FormatResult, Location, ReadNotes, ReadOptions,
    SNIPPET_CHARS, SourceFeature,
};
use geoconsole_model::{Dataset, DatasetId, DatasetKind, Feature, FeatureId, TimeFields};
use geoconsole_store::{FeatureStore, WriteMode, WriteRequest};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::area_codes::AreaTables;
use crate::feeding::{FILE_NAMES_NO_AREAS, FeedFile};
use crate::geometry_repair;
use crate::time_fields::{self, END_FIELD_NAMES, SNIFF_FEATURES, START_FIELD_NAMES};
use crate::{AppError, AppErrorKind, AppResult};

/// Features written to the store per call: large enough to amortise the round trip to the writer thread,
/// small enough to keep memory flat.
const BATCH_FEATURES: usize = 4096;

/// Live counts of an import, for progress bars.
#[derive(Debug, Default)]
pub struct ImportCounters {
    pub bytes_read: Arc<AtomicU64>,
    pub features: AtomicU64,
    pub rejected: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Target dataset; defaults to the file name turned into an id.
    pub dataset: Option<DatasetId>,
    pub title: Option<String>,
    /// Defaults to `events` when features have a time, `reference` otherwise.
    pub kind: Option<DatasetKind>,
    pub mode: WriteMode,
    /// Property holding the start (or instant) time; detected when not given.
    pub time: Option<String>,
    /// Property holding the end time; detected when not given.
    pub time_end: Option<String>,
    /// Property holding each feature's stable id (required for upsert unless the source has ids).
    pub id_field: Option<String>,
    /// Import the valid features and report the others instead of failing the whole import.
    pub skip_invalid: bool,
    /// Where the rejects report goes with `skip_invalid`; defaults to `<dataset>.rejects.jsonl`.
    pub rejects: Option<PathBuf>,
    pub read: ReadOptions,
    pub counters: Option<Arc<ImportCounters>>,
    /// Where the data came from, as recorded in the dataset; defaults to the file's path.
    pub source: Option<String>,
    /// Keep the written features (up to [`crate::alerting::MAX_CAPTURED`]) for rule evaluation; the
    /// console turns it on itself when alerting is on.
    pub capture: bool,
    /// The features carry their own time (feeds, generators that computed it): no field is detected and
    /// `time`/`time_end` are ignored.
    pub time_given: bool,
    /// Columns to drop, and personal-data columns to keep, as the data-protection guard is told. The guard
    /// itself always runs: every way in (files, uploads, feeds, generators) passes it.
    pub privacy: PrivacyPolicy,
    /// Who asked, for the audit log; imports nobody asked for (feed polls, generators) are not audited.
    pub requester: Option<Requester>,
    pub limits: FeatureLimits,
    /// Areas datasets placing the alerts of a CAP file given only by codes, as a feed's areas do.
    pub areas: Vec<AreaSource>,
}

/// The most one feature may hold: a feature beyond them is invalid (named with its position), so one
/// pathological feature cannot take the memory or time meant for a whole import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureLimits {
    /// Coordinates in one geometry.
    pub max_vertices: usize,
    /// Bytes of property keys and values in one feature (as text).
    pub max_properties_bytes: usize,
}

impl Default for FeatureLimits {
    fn default() -> Self {
        Self {
            max_vertices: 1_000_000,
            max_properties_bytes: 1024 * 1024,
        }
    }
}

/// Text bytes of a JSON value: keys and strings by length, numbers and literals by a fixed guess. A walk,
/// not a serialisation, so it costs little per feature.
fn text_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items.iter().map(text_bytes).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 3 + text_bytes(v))
                .sum::<usize>()
                + 2
        }
        _ => 8,
    }
}

/// Who asked for an import and from where, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Requester {
    pub actor: String,
    pub source: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            dataset: None,
            title: None,
            kind: None,
            mode: WriteMode::Create,
            time: None,
            time_end: None,
            id_field: None,
            skip_invalid: false,
            rejects: None,
            read: ReadOptions::default(),
            counters: None,
            source: None,
            capture: false,
            time_given: false,
            privacy: PrivacyPolicy::default(),
            requester: None,
            limits: FeatureLimits::default(),
            areas: Vec::new(),
        }
    }
}

/// One refused feature, as written to the rejects report (JSON lines).
#[derive(Debug, Clone, Serialize)]
pub struct Reject {
    /// Where, in words: `feature 12`, `line 40`.
    pub at: String,
    /// The 0-based feature index, for formats counted in features (GeoJSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The 1-based line, for line-oriented formats (CSV, GeoJSONSeq).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub reason: String,
    /// The start of the offending record as read, when the format has one, with the values the
    /// data-protection guard would refuse (and any email, phone or staff number) as `[redacted]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// The columns (or JSON keys) whose values `raw` hides.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

impl Reject {
    /// A reject whose reason may quote a value: emails, phone and staff numbers in it are redacted.
    fn new(location: Option<Location>, reason: &str, raw: Option<String>) -> Self {
        let (index, line) = match location {
            Some(Location::Feature(index)) => (Some(index), None),
            Some(Location::Line(line) | Location::Position { line, .. }) => (None, Some(line)),
            Some(Location::File) | None => (None, None),
        };
        Self {
            at: location.map(|l| l.to_string()).unwrap_or_default(),
            index,
            line,
            reason: redact_text(reason),
            raw,
            redacted: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub dataset: Dataset,
    pub format: String,
    pub file: PathBuf,
    pub mode: String,
    /// Features read from the file, valid or not.
    pub read: u64,
    pub imported: u64,
    /// Imported features without a location (a null or empty geometry in the file): listed and exported,
    /// never on the map.
    pub unlocated: u64,
    pub rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_report: Option<PathBuf>,
    /// The first rejected features, where and why (the rejects report has them all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_rejects: Vec<Reject>,
    pub elapsed_ms: u64,
    /// Columns removed as asked (`--drop-column`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_columns: Vec<String>,
    /// Columns kept as asked (`--allow-column`) that hold personal data, and what they hold.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub allowed_personal: BTreeMap<String, Category>,
    /// Coordinates within [`geoconsole_model::COORDINATE_NOISE_DEGREES`] past ±180/±90 that were moved onto
    /// the limit (floating-point noise in the source, not data).
    #[serde(skip_serializing_if = "is_zero")]
    pub clamped_coordinates: u64,
    /// Features whose polygons' rings crossed, overlapped or touched themselves, stored as their valid parts
    /// (the warnings name the first few).
    #[serde(skip_serializing_if = "is_zero")]
    pub repaired_polygons: u64,
    /// What the reader changed, guessed or read past that the user should know (a text encoding assumed,
    /// characters it could not decode, a feed document not in its declared encoding, records beyond a
    /// damaged shapefile's index, a missing attribute file), each naming where.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The features written, for alert rules.
    #[serde(skip)]
    pub(crate) changed: crate::alerting::Changed,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the staging thread found besides the features.
#[derive(Debug, Default)]
struct StageOutcome {
    /// Allowed columns the guard found to hold personal data.
    allowed_personal: BTreeMap<String, Category>,
    /// Coordinates moved onto ±180/±90 from within the noise tolerance.
    clamped: u64,
    repairs: Repairs,
}

/// What the staging thread hands to the writer.
enum Staged {
    Ready {
        time_fields: TimeFields,
    },
    Batch {
        features: Vec<Feature>,
        locations: Vec<Location>,
    },
    Rejected(Reject),
    Failed(AppError),
}

struct Rules {
    limits: FeatureLimits,
    path: PathBuf,
    time_fields: TimeFields,
    id_field: Option<String>,
    upsert: bool,
    skip_invalid: bool,
}

impl Rules {
    /// Applies the console's rules to one feature: id from the id field, time from the time fields.
    fn apply(&self, source: &mut SourceFeature) -> Result<(), FormatError> {
        let invalid = |why: String| {
            FormatError::new(
                FormatErrorKind::InvalidFeature,
                &self.path,
                source.location,
                why,
            )
        };
        let feature = &mut source.feature;
        let vertices = feature
            .geometry
            .as_ref()
            .map_or(0, geo::CoordsIter::coords_count);
        if vertices > self.limits.max_vertices {
            return Err(invalid(format!(
                "the geometry has {vertices} vertices; the limit is {} (simplify it, or raise --max-vertices)",
                self.limits.max_vertices
            )));
        }
        let bytes = feature
            .properties
            .iter()
            .map(|(k, v)| k.len() + 3 + text_bytes(v))
            .sum::<usize>();
        if bytes > self.limits.max_properties_bytes {
            return Err(invalid(format!(
                "the properties hold {bytes} bytes; the limit is {} per feature",
                self.limits.max_properties_bytes
            )));
        }
        if let Some(field) = &self.id_field {
            feature.id = match feature.properties.get(field) {
                Some(Value::String(s)) if !s.is_empty() => Some(FeatureId(s.clone())),
                Some(Value::Number(n)) => Some(FeatureId(n.to_string())),
                _ => return Err(invalid(format!("id field '{field}' is missing or empty"))),
            };
        }
        if self.upsert && feature.id.is_none() {
            return Err(invalid(
                "upsert needs an id for every feature; name the id property with --id-field".into(),
            ));
        }
        if self.time_fields.start.is_some() {
            feature.time = time_fields::extract(
                &feature.properties,
                self.time_fields.start.as_deref(),
                self.time_fields.end.as_deref(),
            )
            .map_err(invalid)?;
        }
        Ok(())
    }
}

/// A reject for a record the reader or the rules refused. Its raw text is redacted by the guard: the
/// report must not keep in clear what the import would refuse to store (regression: refused values were
/// written to the rejects report as read).
fn reject_of(error: &FormatError, guard: &PrivacyGuard, source: &Path) -> Reject {
    let (raw, redacted) = match (error.record(), error.snippet()) {
        (Some(record), _) => {
            let (raw, redacted) = guard.redact_record(&record.columns, &record.values);
            (Some(raw), redacted)
        }
        (None, Some(snippet)) => {
            let (raw, redacted) = guard.redact_json(snippet);
            (Some(raw), redacted)
        }
        (None, None) => (None, Vec::new()),
    };
    Reject {
        redacted,
        at: place_of(error, source),
        ..Reject::new(
            Some(error.location()),
            error.message(),
            raw.map(|r| r.chars().take(SNIPPET_CHARS).collect()),
        )
    }
}

/// Where in `source` an error is, with the archive member it is in (`doc.kml: feature 3` of
/// `places.kmz`): "feature 3" alone would send the user looking in the archive's other files.
pub(crate) fn place_of(error: &FormatError, source: &Path) -> String {
    let file = error.file().to_string_lossy();
    match file.strip_prefix(&format!("{}: ", geoconsole_formats::file_label(source))) {
        Some(member) => format!("{member}: {}", error.location()),
        None => error.location().to_string(),
    }
}

/// Runs on a blocking thread: sniffs time fields, applies the rules, batches, and enforces the error policy.
/// Returns the allowed columns the guard found to hold personal data and how many coordinates it clamped.
fn stage(
    stream: impl Iterator<Item = FormatResult<SourceFeature>>,
    options: &ImportOptions,
    path: &Path,
    out: &mpsc::Sender<Staged>,
) -> StageOutcome {
    let mut clamped = 0u64;
    let mut repairs = Repairs {
        file: geoconsole_formats::file_label(path),
        ..Repairs::default()
    };
    // Every way in passes here, so noise at ±180/±90 (which every reader's validation lets through) is
    // clamped once for all formats, and polygons whose rings cross are repaired once, each counted for the
    // report.
    let stream = stream.map(|mut item| {
        if let Ok(source) = &mut item
            && let Some(geometry) = &mut source.feature.geometry
        {
            clamped += geoconsole_model::clamp_coordinate_noise(geometry);
            repairs.note(repair_one(geometry), &source.location);
        }
        item
    });
    let allowed_personal = stage_clamped(stream, options, path, out);
    StageOutcome {
        allowed_personal,
        clamped,
        repairs,
    }
}

/// Repairs a feature's polygons whose rings cross. A repair that fails (a panic in the geometry libraries)
/// keeps the feature as it came: it must not end the import of the others.
fn repair_one(
    geometry: &mut geoconsole_model::geo_types::Geometry<f64>,
) -> geometry_repair::Repair {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        geometry_repair::repair_crossing_rings(geometry)
    }))
    .unwrap_or_else(|_| geometry_repair::Repair::Kept("its repair failed".into()))
}

/// What an import of these features would say of their polygons, worded ahead: an upload's preview shows
/// it before the user imports.
pub(crate) fn planned_repairs<'a>(
    path: &Path,
    features: impl Iterator<Item = (&'a str, &'a Feature)>,
) -> Vec<String> {
    let mut repairs = Repairs {
        file: geoconsole_formats::file_label(path),
        planned: true,
        ..Repairs::default()
    };
    for (at, feature) in features {
        if let Some(geometry) = &feature.geometry {
            let mut geometry = geometry.clone();
            geoconsole_model::clamp_coordinate_noise(&mut geometry);
            repairs.note(repair_one(&mut geometry), &at);
        }
    }
    repairs.warnings()
}

/// Polygons repaired (or found invalid and kept) while staging, for the import's report.
#[derive(Debug, Default)]
struct Repairs {
    /// The file's name, which each line starts with.
    file: String,
    /// Features whose polygons were replaced by their valid parts.
    repaired: u64,
    /// One line per feature, for the first [`REPAIRS_NAMED`] features repaired, kept or not checked.
    named: Vec<String>,
    /// Features kept with an invalid polygon, and features too intricate to check.
    kept: u64,
    unchecked: u64,
    /// Said before an import (a preview): "will be stored", not "stored".
    planned: bool,
}

/// Features a report names one by one among those repaired, kept invalid or left unchecked; the counts cover
/// the rest.
const REPAIRS_NAMED: usize = 5;

impl Repairs {
    fn note(&mut self, outcome: geometry_repair::Repair, at: &dyn std::fmt::Display) {
        use geometry_repair::Repair;
        let (stored, was) = if self.planned {
            ("will be stored", "will be")
        } else {
            ("stored", "was")
        };
        let line = match outcome {
            Repair::Valid => return,
            Repair::Repaired {
                polygons,
                parts,
                rounded,
            } => {
                self.repaired += 1;
                let what = if polygons == 1 {
                    "a polygon"
                } else {
                    "polygons"
                };
                let plural = if parts == 1 { "polygon" } else { "polygons" };
                if rounded {
                    format!(
                        "{}: {at}: {what} whose rings cross, overlap or touch themselves, {stored} as its {parts} odd-even {plural}; at its size its coordinates' precision leaves edges that touch within a rounding",
                        self.file
                    )
                } else {
                    format!(
                        "{}: {at}: {what} whose rings cross, overlap or touch themselves, {stored} as {parts} valid {plural} (odd-even rule, as ogr2ogr -makevalid)",
                        self.file
                    )
                }
            }
            Repair::Kept(why) => {
                self.kept += 1;
                format!(
                    "{}: {at}: an invalid polygon {was} kept as it is: {why}",
                    self.file
                )
            }
            Repair::Unchecked => {
                self.unchecked += 1;
                format!(
                    "{}: {at}: a polygon too intricate to check for crossing rings {was} kept as it is",
                    self.file
                )
            }
        };
        if self.named.len() < REPAIRS_NAMED {
            self.named.push(line);
        }
    }

    /// The report's lines: each feature named, then how many more there were.
    fn warnings(&self) -> Vec<String> {
        let mut lines = self.named.clone();
        let all = self.repaired + self.kept + self.unchecked;
        let more = all.saturating_sub(self.named.len() as u64);
        if more > 0 {
            lines.push(format!(
                "{}: {more} more features with invalid polygons ({} repaired in all, {} kept as they are, {} not checked)",
                self.file, self.repaired, self.kept, self.unchecked
            ));
        }
        lines
    }
}

fn stage_clamped(
    mut stream: impl Iterator<Item = FormatResult<SourceFeature>>,
    options: &ImportOptions,
    path: &Path,
    out: &mpsc::Sender<Staged>,
) -> BTreeMap<String, Category> {
    let send = |message: Staged| out.blocking_send(message).is_ok();
    let mut guard = PrivacyGuard::new(options.privacy.clone());
    let refused = |refusal: geoconsole_formats::privacy::Refusal| {
        Staged::Failed(AppError::new(
            AppErrorKind::Invalid,
            format!("{}: {refusal}", geoconsole_formats::file_label(path)),
        ))
    };
    // Look at the first features before deciding on time fields.
    let mut sample: Vec<FormatResult<SourceFeature>> = Vec::new();
    let mut sampled_features = 0;
    for item in stream.by_ref() {
        let fatal = matches!(&item, Err(e) if !e.is_recoverable());
        sampled_features += usize::from(item.is_ok());
        sample.push(item);
        if fatal || sampled_features >= SNIFF_FEATURES {
            break;
        }
    }
    {
        let mut looked_at: Vec<(&mut geoconsole_model::Properties, String)> = sample
            .iter_mut()
            .filter_map(|r| r.as_mut().ok())
            .map(|s| (&mut s.feature.properties, s.location.to_string()))
            .collect();
        if let Err(refusal) = guard.inspect_sample(&mut looked_at) {
            send(refused(refusal));
            return BTreeMap::new();
        }
    }
    let features: Vec<&Feature> = sample
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|s| &s.feature)
        .collect();
    let field_check = |name: &Option<String>, role: &str| -> Result<(), AppError> {
        match name {
            Some(field)
                if !features.is_empty()
                    && !features.iter().any(|f| f.properties.contains_key(field)) =>
            {
                let known: Vec<&str> = features[0].properties.keys().map(String::as_str).collect();
                Err(AppError::new(
                    AppErrorKind::Invalid,
                    format!(
                        "{}: {role} field '{field}' not found; properties are: {}",
                        geoconsole_formats::file_label(path),
                        known.join(", ")
                    ),
                ))
            }
            _ => Ok(()),
        }
    };
    if let Err(e) = field_check(&options.time, "time")
        .and(field_check(&options.time_end, "time-end"))
        .and(field_check(&options.id_field, "id"))
    {
        send(Staged::Failed(e));
        return BTreeMap::new();
    }
    let start = options
        .time
        .clone()
        .filter(|_| !options.time_given)
        .or_else(|| time_fields::detect(&features, &START_FIELD_NAMES))
        .filter(|_| !options.time_given);
    let end = match (&options.time_end, &start) {
        _ if options.time_given => None,
        (Some(end), _) => Some(end.clone()),
        (None, Some(start)) => {
            time_fields::detect(&features, &END_FIELD_NAMES).filter(|end| end != start)
        }
        (None, None) => None,
    };
    let rules = Rules {
        limits: options.limits,
        path: path.to_path_buf(),
        time_fields: TimeFields { start, end },
        id_field: options.id_field.clone(),
        upsert: options.mode == WriteMode::Upsert,
        skip_invalid: options.skip_invalid,
    };
    drop(features);
    let allowed = |guard: &PrivacyGuard| guard.allowed_personal().clone();
    if !send(Staged::Ready {
        time_fields: rules.time_fields.clone(),
    }) {
        return allowed(&guard);
    }
    let counters = options.counters.clone();
    let mut batch = Vec::with_capacity(BATCH_FEATURES);
    let mut locations = Vec::with_capacity(BATCH_FEATURES);
    for mut item in sample.into_iter().chain(stream) {
        if let Some(c) = &counters {
            c.features.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(source) = &mut item
            && let Err(refusal) = guard.admit(&mut source.feature.properties, source.location)
        {
            send(refused(refusal));
            return allowed(&guard);
        }
        let checked = item.and_then(|mut source| rules.apply(&mut source).map(|()| source));
        // The id is checked once the id field has made it: ids are shown in every URL and cannot be
        // dropped (regression: an email as the GeoJSON `id` or the `--id-field` column was stored).
        if let Ok(source) = &checked
            && let Some(id) = &source.feature.id
            && let Err(refusal) = guard.check_id(id.as_str(), source.location)
        {
            send(refused(refusal));
            return allowed(&guard);
        }
        match checked {
            Ok(source) => {
                locations.push(source.location);
                batch.push(source.feature);
                if batch.len() >= BATCH_FEATURES {
                    let full = Staged::Batch {
                        features: std::mem::replace(&mut batch, Vec::with_capacity(BATCH_FEATURES)),
                        locations: std::mem::replace(
                            &mut locations,
                            Vec::with_capacity(BATCH_FEATURES),
                        ),
                    };
                    if !send(full) {
                        return allowed(&guard);
                    }
                }
            }
            Err(error) if error.is_recoverable() && rules.skip_invalid => {
                if let Some(c) = &counters {
                    c.rejected.fetch_add(1, Ordering::Relaxed);
                }
                if !send(Staged::Rejected(reject_of(&error, &guard, path))) {
                    return allowed(&guard);
                }
            }
            Err(error) => {
                send(Staged::Failed(error.into()));
                return allowed(&guard);
            }
        }
    }
    if !batch.is_empty() {
        send(Staged::Batch {
            features: batch,
            locations,
        });
    }
    allowed(&guard)
}

/// Rejects listed in a report; the rest are counted. A file of millions of bad rows would otherwise write
/// a report many times its own size (each line has a reason and a snippet) into the staging folder.
const MAX_LISTED_REJECTS: u64 = 10_000;

/// Writes rejects as JSON lines, creating the file at the first one.
struct RejectLog {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    count: u64,
    /// The first rejects, for the report: a caller over HTTP cannot open the server's file.
    first: Vec<Reject>,
}

/// Rejects an import's report lists itself (the rejects file lists up to [`MAX_LISTED_REJECTS`]).
const REPORTED_REJECTS: usize = 10;

impl RejectLog {
    fn io_error(&self, e: &std::io::Error) -> AppError {
        AppError::new(
            AppErrorKind::Invalid,
            format!("cannot write rejects report {}: {e}", self.path.display()),
        )
    }

    fn record(&mut self, reject: &Reject) -> AppResult<()> {
        self.count += 1;
        if self.first.len() < REPORTED_REJECTS {
            self.first.push(reject.clone());
        }
        if self.count > MAX_LISTED_REJECTS {
            return Ok(());
        }
        if self.file.is_none() {
            let file = File::create(&self.path).map_err(|e| self.io_error(&e))?;
            self.file = Some(BufWriter::new(file));
        }
        let line = serde_json::to_string(reject).unwrap_or_default();
        if let Some(file) = &mut self.file
            && let Err(e) = writeln!(file, "{line}")
        {
            return Err(self.io_error(&e));
        }
        Ok(())
    }

    fn finish(mut self) -> AppResult<Option<PathBuf>> {
        if self.count > MAX_LISTED_REJECTS {
            let unlisted = Reject::new(
                None,
                &format!(
                    "{} more rejected features are not listed; the report keeps the first {MAX_LISTED_REJECTS}",
                    self.count - MAX_LISTED_REJECTS
                ),
                None,
            );
            let line = serde_json::to_string(&unlisted).unwrap_or_default();
            if let Some(file) = &mut self.file
                && let Err(e) = writeln!(file, "{line}")
            {
                return Err(self.io_error(&e));
            }
        }
        if let Some(mut file) = self.file.take() {
            file.flush().map_err(|e| {
                AppError::new(
                    AppErrorKind::Invalid,
                    format!("cannot write rejects report {}: {e}", self.path.display()),
                )
            })?;
            return Ok(Some(self.path));
        }
        Ok(None)
    }
}

/// Where an import's features come from.
pub(crate) enum Source {
    /// A file on disk, opened and detected here.
    File(PathBuf),
    /// Bytes from elsewhere (embedded data, an upload), named by `label` in messages.
    Reader {
        label: PathBuf,
        reader: Box<dyn std::io::BufRead + Send>,
    },
    /// Features produced by the console itself (generators), already in the model.
    Features {
        label: PathBuf,
        features: Box<dyn Iterator<Item = Feature> + Send>,
    },
}

impl Source {
    fn label(&self) -> &Path {
        match self {
            Source::File(path) => path,
            Source::Reader { label, .. } | Source::Features { label, .. } => label,
        }
    }
}

pub(crate) async fn import(
    store: &Arc<dyn FeatureStore>,
    source: Source,
    options: ImportOptions,
) -> AppResult<ImportReport> {
    let started = Instant::now();
    let path = source.label().to_path_buf();
    let dataset_id = match &options.dataset {
        Some(id) => id.clone(),
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            DatasetId::slug(&stem).map_err(|e| AppError::new(AppErrorKind::Invalid, e.message()))?
        }
    };
    if options.areas.len() > geoconsole_feeds::MAX_AREA_SOURCES {
        return Err(AppError::new(
            AppErrorKind::Invalid,
            format!(
                "{} areas named; an import may name at most {}",
                options.areas.len(),
                geoconsole_feeds::MAX_AREA_SOURCES
            ),
        ));
    }
    let title = options.title.as_deref().unwrap_or("");
    PrivacyGuard::check_dataset(dataset_id.as_str(), title).map_err(|refusal| {
        AppError::new(
            AppErrorKind::Invalid,
            format!("{}: {refusal}", geoconsole_formats::file_label(&path)),
        )
    })?;
    let mut read_options = options.read.clone();
    // Notes of this import only, even when the caller reuses its options.
    let notes = ReadNotes::default();
    read_options.notes = notes.clone();
    if let Some(counters) = &options.counters {
        read_options.bytes_read = Some(Arc::clone(&counters.bytes_read));
    }
    // A feed document saved as a file (CAP, GeoRSS) is read by the feed readers, as a poll reads it.
    let feed_file = match (&source, options.read.format) {
        (Source::File(path), None) => {
            let file = path.clone();
            let read = tokio::task::spawn_blocking(move || crate::feeding::read_feed_file(&file))
                .await
                .map_err(|e| {
                    AppError::new(AppErrorKind::Internal, format!("reader task failed: {e}"))
                })??;
            match read {
                Some((format, mut parsed)) => {
                    AreaTables::new(Arc::clone(store))
                        .place(&options.areas, &mut parsed, FILE_NAMES_NO_AREAS)
                        .await;
                    Some(FeedFile::new(path, format, parsed, FILE_NAMES_NO_AREAS))
                }
                None => None,
            }
        }
        _ => None,
    };
    let mut options = options;
    let mut warnings = Vec::new();
    if let Some(file) = &feed_file {
        // The items carry the times the standard gives them, and the issuer's address the standard
        // puts in them passes the guard as it does for the feed.
        options.time_given = true;
        options
            .privacy
            .allow
            .extend(file.format.issuer_fields().iter().map(|f| (*f).to_string()));
        warnings.clone_from(&file.warnings);
    }
    let (format, stream): (String, FeatureStream) =
        tokio::task::spawn_blocking(move || -> FormatResult<_> {
            if let Some(file) = feed_file {
                return Ok((file.format.as_str().to_string(), file.stream));
            }
            match source {
                Source::File(path) => geoconsole_formats::open_reader(&path, &read_options)
                    .map(|(f, s)| (f.name().to_string(), s)),
                Source::Reader { label, reader } => {
                    geoconsole_formats::read_stream(&label, reader, &read_options)
                        .map(|(f, s)| (f.name().to_string(), s))
                }
                Source::Features { features, .. } => {
                    let stream: FeatureStream =
                        Box::new(features.enumerate().map(|(i, feature)| {
                            Ok(SourceFeature {
                                location: Location::Feature(i as u64),
                                feature,
                            })
                        }));
                    Ok(("generated".to_string(), stream))
                }
            }
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("reader task failed: {e}")))??;
    let (tx, mut rx) = mpsc::channel::<Staged>(4);
    let staging = {
        let (options, path) = (options.clone(), path.clone());
        tokio::task::spawn_blocking(move || stage(stream, &options, &path, &tx))
    };
    let mut rejects = RejectLog {
        path: options
            .rejects
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{dataset_id}.rejects.jsonl"))),
        file: None,
        count: 0,
        first: Vec::new(),
    };
    let result = write_staged(
        store,
        &mut rx,
        &options,
        (&path, &format),
        &dataset_id,
        &mut rejects,
    )
    .await;
    drop(rx);
    let staged = staging.await.unwrap_or_default();
    let (dataset, imported, unlocated, captured) = result?;
    let warnings: Vec<String> = warnings
        .into_iter()
        .chain(notes.warnings())
        .chain(staged.repairs.warnings())
        .collect();
    for warning in &warnings {
        // The caller reports warnings to its user (the CLI's summary, the HTTP import status); the log
        // keeps a record at info, so a terminal does not show each one twice.
        tracing::info!(dataset = %dataset.id, file = %path.display(), warning = %warning, "import read with a warning");
    }
    let rejected = rejects.count;
    let first_rejects = std::mem::take(&mut rejects.first);
    let rejects_report = rejects.finish()?;
    Ok(ImportReport {
        dataset,
        format,
        file: path,
        mode: options.mode.as_str().to_string(),
        read: imported + rejected,
        imported,
        unlocated,
        rejected,
        rejects_report,
        first_rejects,
        elapsed_ms: started.elapsed().as_millis() as u64,
        dropped_columns: options.privacy.drop.iter().cloned().collect(),
        allowed_personal: staged.allowed_personal,
        clamped_coordinates: staged.clamped,
        repaired_polygons: staged.repairs.repaired,
        warnings,
        changed: match captured {
            Some(features) => crate::alerting::Changed::Features(Arc::new(features)),
            None => crate::alerting::Changed::Unknown,
        },
    })
}

async fn write_staged(
    store: &Arc<dyn FeatureStore>,
    rx: &mut mpsc::Receiver<Staged>,
    options: &ImportOptions,
    (path, format): (&Path, &str),
    dataset_id: &DatasetId,
    rejects: &mut RejectLog,
) -> AppResult<(Dataset, u64, u64, Option<Vec<Feature>>)> {
    let time_fields = match rx.recv().await {
        Some(Staged::Ready { time_fields }) => time_fields,
        Some(Staged::Failed(e)) => return Err(e),
        _ => {
            return Err(AppError::new(
                AppErrorKind::Internal,
                "import staging ended before it started",
            ));
        }
    };
    // Adding to a dataset keeps what it is (title, kind, time fields) unless the import says otherwise:
    // a feed appending quakes must not rename the layer or forget how its time was read.
    let existing = match options.mode {
        WriteMode::Append | WriteMode::Upsert => store.dataset(dataset_id).await.ok(),
        WriteMode::Create | WriteMode::Replace => None,
    };
    let time_fields = match &existing {
        Some(d) if time_fields.start.is_none() => d.time_fields.clone(),
        _ => time_fields,
    };
    let kind = options
        .kind
        .or(existing.as_ref().map(|d| d.kind))
        .unwrap_or(if time_fields.start.is_some() {
            DatasetKind::Events
        } else {
            DatasetKind::Reference
        });
    let request = WriteRequest {
        id: dataset_id.clone(),
        title: options
            .title
            .clone()
            .or_else(|| existing.as_ref().map(|d| d.title.clone()))
            .unwrap_or_else(|| dataset_id.to_string()),
        kind,
        source: options
            .source
            .clone()
            .unwrap_or_else(|| path.display().to_string()),
        time_fields,
        id_field: options.id_field.clone(),
        mode: options.mode,
        skip_conflicts: options.skip_invalid,
    };
    let mut writer = store.begin_write(request).await?;
    let mut imported = 0u64;
    let mut unlocated = 0u64;
    // The written features, for alert rules; given up past the cap (rules then read the store).
    let mut captured: Option<Vec<Feature>> = options.capture.then(Vec::new);
    while let Some(message) = rx.recv().await {
        match message {
            Staged::Ready { .. } => {}
            Staged::Batch {
                features,
                locations,
            } => {
                let count = features.len() as u64;
                let mut without_place: Vec<bool> =
                    features.iter().map(|f| f.geometry.is_none()).collect();
                let kept = match &captured {
                    Some(c) if c.len() + features.len() <= crate::alerting::MAX_CAPTURED => {
                        Some(features.clone())
                    }
                    _ => {
                        captured = None;
                        None
                    }
                };
                let conflicts = match writer.write(features).await {
                    Ok(conflicts) => conflicts,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(match e.position().and_then(|p| locations.get(p)) {
                            Some(location) => AppError::new(
                                AppErrorKind::from(e.kind()),
                                format!(
                                    "{}: {location}: {}",
                                    geoconsole_formats::file_label(path),
                                    e.message()
                                ),
                            ),
                            None => e.into(),
                        });
                    }
                };
                imported += count - conflicts.len() as u64;
                for conflict in &conflicts {
                    if let Some(refused) = without_place.get_mut(conflict.position) {
                        *refused = false;
                    }
                }
                unlocated += without_place.iter().filter(|u| **u).count() as u64;
                if let (Some(all), Some(mut batch)) = (captured.as_mut(), kept) {
                    // Refused features were not written.
                    let mut refused: Vec<usize> = conflicts.iter().map(|c| c.position).collect();
                    refused.sort_unstable_by(|a, b| b.cmp(a));
                    for p in refused {
                        if p < batch.len() {
                            batch.swap_remove(p);
                        }
                    }
                    all.extend(batch);
                }
                for conflict in conflicts {
                    if let Some(c) = &options.counters {
                        c.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                    let location = locations.get(conflict.position).copied();
                    rejects.record(&Reject::new(location, &conflict.reason, None))?;
                }
            }
            Staged::Rejected(reject) => rejects.record(&reject)?,
            Staged::Failed(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        }
    }
    // A file of no features at all (a shapefile of only a header, a GPX of only metadata) is an empty
    // dataset, as GDAL opens an empty layer; a file whose every feature was refused is an error, and so is
    // a KML document without placemarks, in which GDAL finds no layer at all.
    if imported == 0 && rejects.count == 0 && format == geoconsole_formats::Format::Kml.name() {
        let _ = writer.abort().await;
        return Err(AppError::new(
            AppErrorKind::Input,
            format!(
                "{}: file holds no features (a KML document without placemarks has no layer)",
                geoconsole_formats::file_label(path)
            ),
        ));
    }
    if imported == 0 && rejects.count > 0 {
        let _ = writer.abort().await;
        return Err(AppError::new(
            AppErrorKind::Input,
            format!(
                "{}: no valid features ({} rejected; the first, at {}: {}; every one in {})",
                geoconsole_formats::file_label(path),
                rejects.count,
                rejects.first.first().map_or("", |r| r.at.as_str()),
                rejects.first.first().map_or("", |r| r.reason.as_str()),
                rejects.path.display()
            ),
        ));
    }
    let dataset = writer.commit().await?;
    tracing::info!(dataset = %dataset.id, imported, rejected = rejects.count, version = dataset.version, "import committed");
    Ok((dataset, imported, unlocated, captured))
}
