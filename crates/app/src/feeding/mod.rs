//! Live feeds in the console: the registry (kept by the store), polling on schedule, and what a poll does
//! with what it fetched. New and changed items go through the one write path ([`Console::import_features`],
//! upsert by item id), so tiles, `/events` and alert rules see feed data exactly as they see imports.
//!
//! A poll: conditional GET through the guarded fetcher → read the body in the feed's format → fetch the CAP
//! documents an index links to (only those whose version changed) → the data-protection guard over every
//! item, whatever the format (a refusal fails the poll and writes nothing) → drop items whose fingerprint is
//! the one already written (replays) → apply CAP updates and cancels to the items they name, earlier or in the
//! same body → mark warnings whose time has passed as expired → write, then remember the fingerprints →
//! record health and lag. A failure anywhere before the write changes no data, only the feed's health.
//! What a body does to what was written before is decided without I/O in [`plan`]; this module does the
//! fetching, asking and writing around it.

mod catalog;
mod error;
mod plan;
mod sources;

pub use catalog::CatalogAdd;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geoconsole_access::Scope;
use geoconsole_feeds::{
    FeedFormat, FeedSpec, FeedState, FetchLimits, Fetched, Fetcher, Lag, NetworkPolicy, Parsed,
    PollCounts, Status, Validators,
};
use geoconsole_model::{DatasetId, DatasetKind, Feature, FeatureId};
use geoconsole_store::{FeedRecord, FeedStore, WriteMode};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Mutex, Notify, broadcast};

use self::error::PollError;
use self::plan::{Body, Known, TOMBSTONE};
use crate::area_codes::AreaTables;
use crate::{AppError, AppErrorKind, AppResult, Console, ImportOptions};

/// Fingerprints of items not seen for this long are forgotten (withdrawal marks are kept): a feed that
/// replays something older than this writes it once more, and alert keys keep that from alerting twice.
const FORGET_AFTER: chrono::Duration = chrono::Duration::days(30);
/// Polls running at once: enough that slow feeds (each bounded by its timeout) do not hold up the rest,
/// few enough that a thousand feeds do not open a thousand connections at once.
pub const CONCURRENT_POLLS: usize = 16;

/// A feed with its health, as the API and CLI show it.
#[derive(Debug, Clone, Serialize)]
pub struct FeedView {
    #[serde(flatten)]
    pub spec: FeedSpec,
    pub status: Status,
    pub state: FeedState,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// A change of a feed's standing, announced on `/events` as `feed`.
#[derive(Debug, Clone, Serialize)]
pub struct FeedEvent {
    pub feed: String,
    pub dataset: String,
    pub status: Status,
    pub previous: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<Lag>,
    pub at: DateTime<Utc>,
}

/// What a feed holds now, read without saving or writing (`POST /feeds/preview`).
#[derive(Debug, Clone, Serialize)]
pub struct FeedPreview {
    pub items: u64,
    pub withdrawals: u64,
    /// Documents an index links to (fetched by polls, not by a preview).
    pub linked: u64,
    pub skipped: u64,
    pub skipped_reasons: Vec<String>,
    /// What was read despite a fault that cost no item (a document not in its declared encoding).
    pub warnings: Vec<String>,
    pub bytes: u64,
    pub content_type: Option<String>,
    /// The first items as GeoJSON features.
    pub sample: Vec<Value>,
}

/// A feed document given as a file (a CAP message, a GeoRSS index): what the import pipeline reads.
pub(crate) struct FeedFile {
    pub format: FeedFormat,
    /// The items' features, then each entry the reader skipped as an invalid feature, so the
    /// import's error policy (`--skip-invalid`, the rejects report) applies to it.
    pub stream: geoconsole_formats::FeatureStream,
    pub warnings: Vec<String>,
}

/// Reads `path` as a feed document when its content is one (see [`geoconsole_feeds::detect_file`]);
/// `None` when it is not, for the file readers to judge. The body is read whole, as a poll reads it, up to
/// the cap a feed body has. Alerts given only by area codes are left unplaced, for the caller to place
/// ([`crate::area_codes::AreaTables::place`]) or skip.
pub(crate) fn read_feed_file(
    path: &std::path::Path,
) -> Result<Option<(FeedFormat, Parsed)>, geoconsole_formats::FormatError> {
    use geoconsole_formats::{FormatError, FormatErrorKind, Location};
    use std::io::Read;
    let io = |e: std::io::Error| {
        FormatError::new(FormatErrorKind::Io, path, Location::File, e.to_string())
    };
    if path.is_dir() {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(8192);
    (&mut file).take(8192).read_to_end(&mut head).map_err(io)?;
    let Some(format) = geoconsole_feeds::detect_file(&head) else {
        return Ok(None);
    };
    let cap = FetchLimits::default().max_decoded_bytes;
    let mut body = head;
    file.take(cap.saturating_sub(body.len() as u64) + 1)
        .read_to_end(&mut body)
        .map_err(io)?;
    if body.len() as u64 > cap {
        return Err(FormatError::new(
            FormatErrorKind::Syntax,
            path,
            Location::File,
            format!(
                "a {} document larger than {cap} bytes, the most a feed body may hold",
                format.as_str()
            ),
        ));
    }
    let parsed = geoconsole_feeds::read_file(format, &body, Utc::now()).map_err(|why| {
        FormatError::new(
            FormatErrorKind::Syntax,
            path,
            Location::File,
            format!("not a {} document: {why}", format.as_str()),
        )
    })?;
    Ok(Some((format, parsed)))
}

/// Why an imported file's alerts given only by codes were not placed, when it was given no areas.
pub(crate) const FILE_NAMES_NO_AREAS: &str =
    "the import names no areas dataset for its codes (--areas)";

impl FeedFile {
    /// The import pipeline's view of a feed document read from `path`: its items in order, then each
    /// skipped entry as an invalid feature of the file, told by its reason (which names the entry or
    /// alert). Alerts still unplaced are skipped with `unplaced_why`.
    pub(crate) fn new(
        path: &std::path::Path,
        format: FeedFormat,
        mut parsed: Parsed,
        unplaced_why: &str,
    ) -> Self {
        use geoconsole_formats::{FormatError, FormatErrorKind, Location, SourceFeature};
        parsed.skip_unplaced(unplaced_why);
        let path = path.to_path_buf();
        let mut results: Vec<Result<SourceFeature, FormatError>> = Vec::new();
        for (n, item) in parsed.items.into_iter().enumerate() {
            results.push(Ok(SourceFeature {
                location: Location::Feature(n as u64),
                feature: item.feature,
            }));
        }
        let skipped = parsed
            .skipped
            .into_iter()
            .chain(parsed.withdrawals.into_iter().map(|w| {
            format!(
                "CAP alert '{}' withdraws {}: an imported file has no earlier alerts to withdraw",
                w.by,
                w.ids.join(", ")
            )
        }));
        // Skips come after the items, so a feature number here would count items, not entries ("feature
        // 99" for a document's first entry): each reason names its entry or alert instead.
        for why in skipped {
            results.push(Err(FormatError::new(
                FormatErrorKind::InvalidFeature,
                &path,
                Location::File,
                why,
            )));
        }
        Self {
            format,
            stream: Box::new(results.into_iter()),
            warnings: parsed.warnings,
        }
    }
}

/// Items shown by a preview.
const PREVIEW_ITEMS: usize = 10;

/// What one poll did.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    pub feed: String,
    pub dataset: String,
    /// `ok`, `not_modified` or `failed`.
    pub outcome: &'static str,
    #[serde(flatten)]
    pub counts: PollCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_reasons: Vec<String>,
    /// What was read despite a fault that cost no item (a document not in its declared encoding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<Lag>,
    pub next_poll: Option<DateTime<Utc>>,
}

/// The console's feeds: registry, fetcher, and the health change channel.
#[derive(Debug)]
pub struct Feeding {
    store: Arc<dyn FeedStore>,
    fetcher: Fetcher,
    events: broadcast::Sender<FeedEvent>,
    /// Woken when a feed is added or changed, so the scheduler looks again at once.
    pub(crate) wake: Notify,
    /// One poll per feed at a time, whoever asks.
    running: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// The standing last announced per feed.
    announced: std::sync::Mutex<HashMap<String, Status>>,
    /// The areas datasets that place alerts given by codes (read from the console's feature store).
    areas: AreaTables,
}

/// What views show in place of a source's application token.
pub const REDACTED_TOKEN: &str = "(redacted)";

fn invalid(message: impl Into<String>) -> AppError {
    AppError::new(AppErrorKind::Invalid, message)
}

fn spec_of(record: &FeedRecord) -> AppResult<FeedSpec> {
    serde_json::from_value(record.definition.clone()).map_err(|e| {
        AppError::new(
            AppErrorKind::Internal,
            format!(
                "feed '{}' is stored with a definition this version cannot read: {e}",
                record.name
            ),
        )
    })
}

/// Reads a fetched body in the feed's format on a blocking thread (parsing is CPU work); the error says
/// which format the body is not.
async fn read_body(
    spec: &FeedSpec,
    bytes: Vec<u8>,
    limits: FetchLimits,
) -> Result<Parsed, PollError> {
    let read_spec = spec.clone();
    tokio::task::spawn_blocking(move || {
        geoconsole_feeds::read_fetched(&read_spec, bytes, Utc::now(), limits.max_decoded_bytes)
    })
    .await?
    .map_err(|why| PollError::Read {
        format: spec.format.as_str(),
        why,
    })
}

/// What a poll that wrote (or found nothing to write) tells its report and the feed's health.
struct Written {
    skipped_reasons: Vec<String>,
    warnings: Vec<String>,
}

fn state_of(record: &FeedRecord) -> FeedState {
    serde_json::from_value(record.state.clone()).unwrap_or_default()
}

/// Records a poll that wrote in the feed's state: the validators for the next conditional GET, the
/// totals, when the data last changed, and how late the items written were.
fn record_written(
    state: &mut FeedState,
    validators: Validators,
    counts: &PollCounts,
    event_times: Vec<DateTime<Utc>>,
) {
    let arrived = Utc::now();
    state.etag = validators.etag;
    state.last_modified = validators.last_modified;
    state.added += counts.added;
    state.updated += counts.updated;
    state.withdrawn += counts.withdrawn;
    state.skipped += counts.skipped;
    if counts.added + counts.updated + counts.withdrawn > 0 {
        state.last_change = Some(arrived);
    }
    if let Some(newest) = event_times.iter().max() {
        state.newest_event = Some(state.newest_event.map_or(*newest, |n| n.max(*newest)));
    }
    if let Some(lag) = Lag::of(event_times.into_iter(), arrived) {
        state.lag = Some(lag);
    }
}

impl Feeding {
    pub(crate) fn new(
        store: Arc<dyn FeedStore>,
        policy: Arc<NetworkPolicy>,
        limits: FetchLimits,
        areas: AreaTables,
    ) -> AppResult<Self> {
        let fetcher = Fetcher::new(policy, limits)
            .map_err(|e| AppError::new(AppErrorKind::Internal, format!("feed client: {e}")))?;
        Ok(Self {
            store,
            fetcher,
            events: broadcast::channel(256).0,
            wake: Notify::new(),
            running: Mutex::default(),
            announced: std::sync::Mutex::default(),
            areas,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.events.subscribe()
    }

    fn view(&self, record: FeedRecord, now: DateTime<Utc>) -> AppResult<FeedView> {
        let mut spec = spec_of(&record)?;
        // A source's token is a credential: views (the API, the CLI's --json) say only that there is one.
        if let Some(token) = spec.source.as_mut().and_then(|o| o.app_token.as_mut()) {
            *token = REDACTED_TOKEN.into();
        }
        if let Some(key) = spec.key.as_mut() {
            *key = REDACTED_TOKEN.into();
        }
        let state = state_of(&record);
        Ok(FeedView {
            status: state.status(spec.enabled, spec.interval(), record.created, now),
            spec,
            state,
            created: record.created,
            updated: record.updated,
        })
    }

    pub async fn list(&self) -> AppResult<Vec<FeedView>> {
        let now = Utc::now();
        self.store
            .feeds()
            .await?
            .into_iter()
            .map(|r| self.view(r, now))
            .collect()
    }

    pub async fn get(&self, name: &str) -> AppResult<FeedView> {
        let record = self.store.feed(name).await?;
        self.view(record, Utc::now())
    }

    /// Checks a definition, URL included (its host is resolved and every address checked now, not only at
    /// the first poll), and saves it. `replace` allows redefining an existing feed.
    pub async fn save(&self, spec: FeedSpec, replace: bool) -> AppResult<FeedView> {
        self.save_resolving(spec, replace, true).await
    }

    /// As [`Feeding::save`]; `resolve_now` false skips resolving the host at save time (a curated catalog
    /// URL, added where names may not resolve yet). Every connection still passes the guarded resolver.
    pub(crate) async fn save_resolving(
        &self,
        spec: FeedSpec,
        replace: bool,
        resolve_now: bool,
    ) -> AppResult<FeedView> {
        spec.check().map_err(invalid)?;
        spec.check_within(self.fetcher.limits()).map_err(invalid)?;
        DatasetId::new(&spec.dataset).map_err(|e| invalid(e.message()))?;
        // Refused when saved, as the catalog's entries are, not first at its first poll.
        geoconsole_formats::privacy::PrivacyGuard::check_dataset(&spec.dataset, &spec.name)
            .map_err(|r| invalid(format!("feed '{}': {r}", spec.name)))?;
        let refused =
            |r: geoconsole_feeds::Refused| invalid(format!("feed '{}': {}", spec.name, r.0));
        if resolve_now {
            self.fetcher
                .policy()
                .check_configured(&spec.url_to_fetch())
                .await
                .map_err(|r| refused(geoconsole_feeds::Refused(spec.without_key(&r.0))))?;
        } else {
            let url = reqwest::Url::parse(&spec.url_to_fetch())
                .map_err(|e| invalid(spec.without_key(&e.to_string())))?;
            self.fetcher.policy().check_url(&url).map_err(refused)?;
        }
        let stored = match self.store.feed(&spec.name).await {
            Ok(record) => Some(record),
            Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let exists = stored.is_some();
        let mut spec = spec;
        // A definition read back from a view carries redacted credentials: saving it keeps the stored ones.
        let before = stored.as_ref().and_then(|r| spec_of(r).ok());
        if let Some(token) = spec.source.as_mut().and_then(|o| o.app_token.as_mut())
            && token == REDACTED_TOKEN
        {
            match before
                .as_ref()
                .and_then(|s| s.source.as_ref()?.app_token.clone())
            {
                Some(kept) => *token = kept,
                None => {
                    return Err(invalid(
                        "app_token: give the token itself, not its redaction",
                    ));
                }
            }
        }
        if let Some(key) = spec.key.as_mut()
            && key == REDACTED_TOKEN
        {
            match before.as_ref().and_then(|s| s.key.clone()) {
                Some(kept) => *key = kept,
                None => return Err(invalid("key: give the key itself, not its redaction")),
            }
        }
        if exists && !replace {
            return Err(AppError::new(
                AppErrorKind::Conflict,
                format!("feed '{}' exists; change it with --replace", spec.name),
            ));
        }
        let definition = serde_json::to_value(&spec).map_err(|e| invalid(e.to_string()))?;
        self.store.put_feed(&spec.name, definition).await?;
        tracing::info!(feed = %spec.name, url = %spec.url, format = spec.format.as_str(), "feed saved");
        self.wake.notify_one();
        self.get(&spec.name).await
    }

    /// Fetches and reads a feed without saving it or writing anything: what a poll would find, for checking
    /// a definition before adding it. The URL passes the same guard and caps as a poll.
    pub async fn preview(&self, spec: FeedSpec) -> AppResult<FeedPreview> {
        spec.check().map_err(invalid)?;
        spec.check_within(self.fetcher.limits()).map_err(invalid)?;
        let url = self
            .fetcher
            .policy()
            .check_configured(&spec.url_to_fetch())
            .await
            .map_err(|r| invalid(format!("feed '{}': {}", spec.name, spec.without_key(&r.0))))?;
        let limits = spec.limits(self.fetcher.limits());
        let fetched = self
            .fetcher
            .get(&url, &Default::default(), Some(limits))
            .await
            .map_err(|e| {
                invalid(format!(
                    "feed '{}': {}",
                    spec.name,
                    spec.without_key(&e.message)
                ))
            })?;
        let Fetched::Body {
            bytes,
            content_type,
            ..
        } = fetched
        else {
            return Err(invalid(format!(
                "feed '{}': the server answered 304 to a request without validators",
                spec.name
            )));
        };
        let size = bytes.len() as u64;
        let mut parsed = read_body(&spec, bytes, limits)
            .await
            .map_err(|e| invalid(format!("feed '{}': {e}", spec.name)))?;
        self.place_by_codes(&spec, &mut parsed).await;
        // A preview says what a poll would: a body the guard refuses is refused here too.
        geoconsole_feeds::check_items(&spec, &mut parsed)
            .map_err(|refusal| invalid(format!("feed '{}': {refusal}", spec.name)))?;
        Ok(FeedPreview {
            items: parsed.items.len() as u64,
            withdrawals: parsed.withdrawals.len() as u64,
            linked: parsed.linked.len() as u64,
            skipped: parsed.skipped.len() as u64,
            skipped_reasons: parsed.skipped.into_iter().take(20).collect(),
            warnings: parsed.warnings.into_iter().take(20).collect(),
            bytes: size,
            content_type,
            sample: parsed
                .items
                .iter()
                .take(PREVIEW_ITEMS)
                .filter_map(|i| {
                    serde_json::from_str(&geoconsole_formats::feature_json(&i.feature)).ok()
                })
                .collect(),
        })
    }

    /// Saves a feed from configuration when it is new or its definition changed.
    pub async fn ensure(&self, spec: FeedSpec) -> AppResult<()> {
        if let Ok(record) = self.store.feed(&spec.name).await
            && spec_of(&record).ok().as_ref() == Some(&spec)
        {
            return Ok(());
        }
        self.save(spec, true).await.map(|_| ())
    }

    pub async fn delete(&self, name: &str) -> AppResult<()> {
        self.store.delete_feed(name).await?;
        tracing::info!(feed = %name, "feed deleted");
        Ok(())
    }

    /// Pauses or resumes a feed.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> AppResult<FeedView> {
        let record = self.store.feed(name).await?;
        let mut spec = spec_of(&record)?;
        spec.enabled = enabled;
        let definition = serde_json::to_value(&spec).map_err(|e| invalid(e.to_string()))?;
        self.store.put_feed(name, definition).await?;
        self.wake.notify_one();
        let view = self.get(name).await?;
        self.announce(&view);
        Ok(view)
    }

    /// Announces a feed's standing when it differs from what was last announced; true when it did.
    fn announce(&self, view: &FeedView) -> bool {
        let previous = {
            let mut announced = self.announced.lock().unwrap_or_else(|p| p.into_inner());
            announced.insert(view.spec.name.clone(), view.status)
        };
        let previous = previous.unwrap_or(Status::Pending);
        if previous == view.status {
            return false;
        }
        tracing::info!(
            feed = %view.spec.name,
            status = view.status.as_str(),
            previous = previous.as_str(),
            error = view.state.last_error.as_deref().unwrap_or(""),
            "feed standing changed"
        );
        let _ = self.events.send(FeedEvent {
            feed: view.spec.name.clone(),
            dataset: view.spec.dataset.clone(),
            status: view.status,
            previous,
            last_error: view
                .state
                .last_error
                .clone()
                .filter(|_| view.status == Status::Failing),
            lag: view.state.lag,
            at: Utc::now(),
        });
        true
    }

    /// A feed's dataset was dropped: what the feed wrote is gone, so its item memory and validators go too
    /// and the next poll writes the feed's items again (withdrawal marks stay: a cancelled warning stays
    /// cancelled).
    pub(crate) async fn dataset_dropped(&self, dataset: &DatasetId) -> AppResult<()> {
        for record in self.store.feeds().await? {
            let Ok(spec) = spec_of(&record) else { continue };
            if spec.dataset != dataset.as_str() {
                continue;
            }
            let lock = self.lock_for(&spec.name).await;
            let _no_poll_meanwhile = lock.lock().await;
            let far = Utc::now() + chrono::Duration::days(36_500);
            self.store
                .forget_seen_before(&spec.name, far, TOMBSTONE)
                .await?;
            let mut state = state_of(&self.store.feed(&spec.name).await?);
            state.etag = None;
            state.last_modified = None;
            state.open_until.clear();
            state.next_poll = None;
            self.store
                .save_feed_state(&spec.name, serde_json::to_value(&state).unwrap_or_default())
                .await?;
            tracing::info!(feed = %spec.name, dataset = %dataset, "feed starts over: its dataset was dropped");
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Places the alerts a body gave only by area codes with the feed's areas datasets; codes no area
    /// matched reach the feed's health as warnings.
    async fn place_by_codes(&self, spec: &FeedSpec, parsed: &mut Parsed) {
        self.areas
            .place(
                &spec.areas,
                parsed,
                "the feed names no areas dataset for its codes (--areas)",
            )
            .await;
    }

    async fn lock_for(&self, name: &str) -> Arc<Mutex<()>> {
        let mut running = self.running.lock().await;
        Arc::clone(running.entry(name.to_string()).or_default())
    }
}

/// Live feeds: their registry (through [`Feeding`]), polls and schedule: [`Console::feeds`].
#[derive(Clone, Copy)]
pub struct Feeds<'a> {
    console: &'a Console,
}

impl Console {
    /// Live feeds: their registry, polls and schedule.
    pub fn feeds(&self) -> Feeds<'_> {
        Feeds { console: self }
    }
}

impl std::ops::Deref for Feeds<'_> {
    type Target = Feeding;
    fn deref(&self) -> &Feeding {
        &self.console.feeding
    }
}

impl Feeds<'_> {
    /// Polls one feed now, whatever its schedule (paused feeds too: asking is explicit).
    pub async fn poll(&self, name: &str) -> AppResult<PollReport> {
        let feeding = Arc::clone(&self.console.feeding);
        let lock = feeding.lock_for(name).await;
        let _one_at_a_time = lock.lock().await;
        let record = feeding.store.feed(name).await?;
        let spec = spec_of(&record)?;
        let mut state = state_of(&record);
        let report = self.console.poll_once(&feeding, &spec, &mut state).await;
        state.schedule(spec.interval(), Utc::now());
        let report = PollReport {
            next_poll: state.next_poll,
            ..report
        };
        feeding
            .store
            .save_feed_state(name, serde_json::to_value(&state).unwrap_or_default())
            .await?;
        if let Ok(view) = feeding.view(
            FeedRecord {
                state: serde_json::to_value(&state).unwrap_or_default(),
                ..record
            },
            Utc::now(),
        ) {
            self.console.feed_standing(&feeding, &view).await;
        }
        Ok(report)
    }

    /// The scheduler: polls every enabled feed whose time has come, up to [`CONCURRENT_POLLS`] at once so a
    /// slow or hanging feed never delays the others, and announces standings that change with time (a feed
    /// turns late without a poll). Runs until `stop` turns true; polls in flight are then abandoned (their
    /// writes are transactions: all or nothing).
    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let feeding = Arc::clone(&self.console.feeding);
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_POLLS));
        let in_flight: Arc<std::sync::Mutex<std::collections::HashSet<String>>> = Arc::default();
        let mut polls = tokio::task::JoinSet::new();
        loop {
            while polls.try_join_next().is_some() {}
            let now = Utc::now();
            let mut next_due: Option<DateTime<Utc>> = None;
            match feeding.list().await {
                Ok(views) => {
                    for view in views {
                        self.console.feed_standing(&feeding, &view).await;
                        let name = view.spec.name.clone();
                        if !view.spec.enabled
                            || in_flight
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .contains(&name)
                        {
                            continue;
                        }
                        let due = view.state.next_poll.unwrap_or(now);
                        if due > now {
                            next_due = Some(next_due.map_or(due, |d: DateTime<Utc>| d.min(due)));
                            continue;
                        }
                        in_flight
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(name.clone());
                        let (console, slots, in_flight, feeding) = (
                            self.console.clone(),
                            slots.clone(),
                            in_flight.clone(),
                            feeding.clone(),
                        );
                        polls.spawn(async move {
                            // The semaphore is never closed, so a permit always comes.
                            let _slot = slots.acquire_owned().await;
                            if let Err(e) = console.feeds().poll(&name).await {
                                tracing::warn!(feed = %name, error = %e, "feed poll could not be recorded");
                            }
                            in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
                            // The loop looks again: this feed has a new next poll.
                            feeding.wake.notify_one();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "feeds could not be listed"),
            }
            // Wake for the next due feed, a finished poll, a changed registry, or at least every 5 s to
            // notice lateness.
            let wait = next_due
                .map(|d| (d - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(5))
                .min(std::time::Duration::from_secs(5));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = feeding.wake.notified() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                polls.abort_all();
                return;
            }
        }
    }
}

impl Console {
    /// One poll; records its outcome in `state` (not saved here).
    async fn poll_once(
        &self,
        feeding: &Feeding,
        spec: &FeedSpec,
        state: &mut FeedState,
    ) -> PollReport {
        let started = std::time::Instant::now();
        let now = Utc::now();
        state.last_attempt = Some(now);
        state.polls += 1;
        let mut report = PollReport {
            feed: spec.name.clone(),
            dataset: spec.dataset.clone(),
            outcome: "ok",
            counts: PollCounts::default(),
            error: None,
            skipped_reasons: Vec::new(),
            warnings: Vec::new(),
            lag: None,
            next_poll: None,
        };
        match self
            .fetch_and_write(feeding, spec, state, &mut report.counts)
            .await
        {
            Ok(Some(Written {
                skipped_reasons,
                warnings,
            })) => {
                state.failures = 0;
                state.last_success = Some(Utc::now());
                state.last_error = None;
                report.skipped_reasons = skipped_reasons;
                state.skipped_reasons = report.skipped_reasons.iter().take(20).cloned().collect();
                for warning in &warnings {
                    tracing::warn!(feed = %spec.name, warning = %warning, "feed read with a warning");
                }
                state.warnings = warnings.iter().take(20).cloned().collect();
                report.warnings = warnings;
            }
            Ok(None) => {
                report.outcome = "not_modified";
                state.failures = 0;
                state.not_modified += 1;
                state.last_success = Some(Utc::now());
                state.last_error = None;
            }
            Err(error) => {
                // A fetch error may quote the URL fetched, key and all.
                let message = spec.without_key(&error.to_string());
                report.outcome = "failed";
                if state.failures == 0 {
                    state.failing_since = Some(Utc::now());
                }
                state.failures += 1;
                state.last_error = Some(message.clone());
                state.last_error_at = Some(Utc::now());
                tracing::warn!(feed = %spec.name, failures = state.failures, error = %message, "feed poll failed");
                report.error = Some(message);
            }
        }
        report.counts.ms = started.elapsed().as_millis() as u64;
        if report.outcome != "failed" {
            state.last_poll = report.counts;
        }
        report.lag = state
            .lag
            .filter(|_| report.counts.added + report.counts.updated > 0);
        tracing::info!(
            feed = %spec.name,
            outcome = report.outcome,
            added = report.counts.added,
            updated = report.counts.updated,
            unchanged = report.counts.unchanged,
            withdrawn = report.counts.withdrawn,
            skipped = report.counts.skipped,
            ms = report.counts.ms,
            "feed polled"
        );
        report
    }

    /// Fetches, reads and writes. `Ok(None)` when the feed had not changed; `Ok(Some(_))` after a write
    /// (or nothing to write); `Err` with the reason for the health record.
    async fn fetch_and_write(
        &self,
        feeding: &Feeding,
        spec: &FeedSpec,
        state: &mut FeedState,
        counts: &mut PollCounts,
    ) -> Result<Option<Written>, PollError> {
        if let Some(source) = spec.source_spec() {
            return self.sync_source(feeding, spec, source, state, counts).await;
        }
        let url = reqwest::Url::parse(&spec.url_to_fetch())
            .map_err(|e| PollError::Url(spec.without_key(&e.to_string())))?;
        let limits = spec.limits(feeding.fetcher.limits());
        let fetched = feeding
            .fetcher
            .get(&url, &state.validators(), Some(limits))
            .await?;
        let (bytes, base, validators) = match fetched {
            Fetched::NotModified => {
                self.expire(spec, state, counts).await?;
                return Ok(None);
            }
            Fetched::Body {
                bytes,
                url,
                validators,
                ..
            } => (bytes, url, validators),
        };
        counts.bytes = bytes.len() as u64;
        let mut parsed = read_body(spec, bytes, limits).await?;
        let mut remembered: Vec<(String, String)> = Vec::new();
        self.fetch_linked(feeding, spec, &base, limits, &mut parsed, &mut remembered)
            .await?;
        feeding.place_by_codes(spec, &mut parsed).await;
        // Every reader's items, linked documents' included, pass the guard files pass (regression: GeoRSS
        // items kept `email`, `union_member` and `religion` elements, as standard feeds skipped it).
        geoconsole_feeds::check_items(spec, &mut parsed)?;
        counts.items = parsed.items.len() as u64;
        counts.skipped = parsed.skipped.len() as u64;

        let body = Body::new(
            std::mem::take(&mut parsed.items),
            std::mem::take(&mut parsed.withdrawals),
        );
        let known: HashMap<String, Known> = feeding
            .store
            .fingerprints(&spec.name, body.asked())
            .await?
            .into_iter()
            .map(|(id, stored)| (id, Known::parse(&stored)))
            .collect();
        let dataset =
            DatasetId::new(&spec.dataset).map_err(|e| PollError::Dataset(e.message().into()))?;
        let mut stored = HashMap::new();
        for id in body.needs_stored(&known) {
            if let Some(feature) = self.stored_feature(&dataset, &id).await {
                stored.insert(id, feature);
            }
        }
        let prune_due = plan::prune_due(state.pruned, Utc::now());
        let plan = body.plan(&known, &stored, &state.open_until, prune_due);
        // Counted and tracked before the write: a failed poll's report says what it tried, and a warning
        // tracked but never written is dropped when due (nothing stored is in force).
        plan.counts.add_to(counts);
        plan.open.apply(&mut state.open_until);

        self.write(spec, &dataset, plan.writes.into_values().collect())
            .await?;
        remembered.extend(plan.remember.into_iter().map(|(id, k)| (id, k.to_string())));
        if !remembered.is_empty() {
            feeding
                .store
                .remember(&spec.name, remembered, Utc::now())
                .await?;
        }
        if prune_due {
            self.prune(feeding, spec, state).await?;
        }
        self.expire(spec, state, counts).await?;
        record_written(state, validators, counts, plan.event_times);
        Ok(Some(Written {
            skipped_reasons: parsed.skipped,
            warnings: parsed.warnings,
        }))
    }

    /// Forgets the fingerprints of items gone from the feed for [`FORGET_AFTER`] (every item still in it
    /// was remembered again by this poll).
    async fn prune(
        &self,
        feeding: &Feeding,
        spec: &FeedSpec,
        state: &mut FeedState,
    ) -> Result<(), PollError> {
        let before = Utc::now() - FORGET_AFTER;
        let forgotten = feeding
            .store
            .forget_seen_before(&spec.name, before, TOMBSTONE)
            .await?;
        state.pruned = Some(Utc::now());
        if forgotten > 0 {
            tracing::info!(feed = %spec.name, forgotten, "fingerprints of items gone from the feed forgotten");
        }
        Ok(())
    }

    /// Fetches the CAP documents an index links to, skipping those whose listed version was read before.
    async fn fetch_linked(
        &self,
        feeding: &Feeding,
        spec: &FeedSpec,
        base: &reqwest::Url,
        limits: FetchLimits,
        parsed: &mut Parsed,
        remembered: &mut Vec<(String, String)>,
    ) -> Result<(), PollError> {
        if parsed.linked.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = parsed
            .linked
            .iter()
            .map(|l| format!("link:{}", l.url))
            .collect();
        let known = feeding.store.fingerprints(&spec.name, keys).await?;
        let mut cap_spec = spec.clone();
        cap_spec.format = FeedFormat::Cap;
        for linked in std::mem::take(&mut parsed.linked) {
            let key = format!("link:{}", linked.url);
            if !linked.version.is_empty() && known.get(&key) == Some(&linked.version) {
                continue;
            }
            let url = match base.join(&linked.url) {
                Ok(url) => url,
                Err(e) => {
                    parsed
                        .skipped
                        .push(format!("linked alert '{}': {e}", linked.url));
                    continue;
                }
            };
            let body = match feeding
                .fetcher
                .get(&url, &Default::default(), Some(limits))
                .await
            {
                Ok(Fetched::Body { bytes, .. }) => bytes,
                Ok(Fetched::NotModified) => continue,
                Err(e) => {
                    parsed
                        .skipped
                        .push(format!("linked alert {url}: {}", e.message));
                    continue;
                }
            };
            match read_body(&cap_spec, body, limits).await {
                Ok(document) => {
                    parsed.items.extend(document.items);
                    parsed.unplaced.extend(document.unplaced);
                    parsed.withdrawals.extend(document.withdrawals);
                    parsed.skipped.extend(document.skipped);
                    parsed.warnings.extend(
                        document
                            .warnings
                            .into_iter()
                            .map(|w| format!("linked alert {url}: {w}")),
                    );
                    remembered.push((key, linked.version));
                }
                Err(e) => parsed.skipped.push(format!("linked alert {url}: {e}")),
            }
        }
        Ok(())
    }

    /// Announces a changed standing and raises the feed rules' alerts for it.
    async fn feed_standing(&self, feeding: &Feeding, view: &FeedView) {
        if feeding.announce(view)
            && let Err(e) = self.alerts().feed_alerts(view).await
        {
            tracing::error!(feed = %view.spec.name, error = %e, "feed rules could not raise their alerts");
        }
    }

    async fn stored_feature(&self, dataset: &DatasetId, id: &str) -> Option<Feature> {
        self.feature(&Scope::everything(), dataset, &FeatureId(id.to_string()))
            .await
            .ok()
    }

    /// Marks warnings in force whose time has passed as expired (kept, for history).
    async fn expire(
        &self,
        spec: &FeedSpec,
        state: &mut FeedState,
        counts: &mut PollCounts,
    ) -> Result<(), PollError> {
        let due = plan::due(&state.open_until, Utc::now());
        if due.is_empty() {
            return Ok(());
        }
        let dataset =
            DatasetId::new(&spec.dataset).map_err(|e| PollError::Dataset(e.message().into()))?;
        let mut writes = Vec::new();
        for id in &due {
            if let Some(feature) = self.stored_feature(&dataset, id).await
                && let Some(expired) = plan::expired(feature)
            {
                writes.push(expired);
            }
        }
        counts.updated += writes.len() as u64;
        self.write(spec, &dataset, writes).await?;
        for id in due {
            state.open_until.remove(&id);
        }
        Ok(())
    }

    /// Upserts features into the feed's dataset through the one write path.
    async fn write(
        &self,
        spec: &FeedSpec,
        dataset: &DatasetId,
        features: Vec<Feature>,
    ) -> Result<(), PollError> {
        if features.is_empty() {
            return Ok(());
        }
        let options = ImportOptions {
            dataset: Some(dataset.clone()),
            kind: Some(DatasetKind::Events),
            mode: WriteMode::Upsert,
            source: Some(spec.url.clone()),
            time_given: true,
            // The write path's guard sees what was checked at read, with the same allowance (CAP's issuer
            // address), and the marks polls add (withdrawn, expired).
            privacy: spec.privacy_policy(),
            ..ImportOptions::default()
        };
        self.import_features(
            &format!("feed {}", spec.name),
            features.into_iter(),
            options,
        )
        .await
        .map(|_| ())
        .map_err(|source| PollError::Write {
            dataset: spec.dataset.clone(),
            source,
        })
    }
}
