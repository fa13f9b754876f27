//! Alerting: rules evaluated on every committed batch (only the features that batch wrote), alerts stored
//! with their deliveries in one transaction, then announced to live listeners and handed to the outbox
//! ([`deliver`]). Each rule keeps, per watched dataset, the version it has seen; a commit the rule missed
//! (a crash between commit and evaluation, a failed evaluation) is caught up from the store at the next
//! start or commit, and the alert key makes that replay raise nothing twice.

pub mod deliver;
mod evaluate;
mod rules;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::Utc;
use geoconsole_access::Scope;
use geoconsole_model::{Dataset, DatasetId, DatasetKind, Feature};
use geoconsole_query::{DateTimeFilter, FeatureQuery, FilterLang};
use geoconsole_store::{
    AlertFilter, AlertRecord, AlertState, AlertStore, Disposition, NewAlert, RuleRecord, Transition,
};
use serde::Serialize;
use tokio::sync::{Notify, broadcast};

pub use deliver::Webhook;
pub use evaluate::event_id;
use evaluate::{HazardPlan, SiteSet, anomaly_alerts, exposure_alerts, score_alerts};
pub use rules::{AlertSeverity, Condition, Rule};

use crate::{AppError, AppErrorKind, AppResult, Console, RiskRequest, TrendRequest};

/// Features an import keeps for rule evaluation at most; a bigger batch is evaluated from the store.
pub const MAX_CAPTURED: usize = 100_000;
/// Features read from the store per round when a rule looks at a whole dataset.
const READ_CHUNK: usize = 10_000;

/// What a commit changed, as rules see it.
#[derive(Debug, Clone, Default)]
pub enum Changed {
    /// Nothing that rules need to look at (no rule existed when the import ran).
    #[default]
    Unknown,
    /// Exactly these features were written.
    Features(Arc<Vec<Feature>>),
}

/// Something that happened to an alert, for live listeners.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertEvent {
    Raised { alert: AlertRecord },
    Updated { alert: AlertRecord },
}

/// Alerting's state in a running console.
#[derive(Debug)]
pub struct Alerting {
    store: Arc<dyn AlertStore>,
    webhooks: RwLock<Vec<Webhook>>,
    events: broadcast::Sender<AlertEvent>,
    /// Wakes the delivery loop when new deliveries are queued.
    pub(crate) outbox: Notify,
    /// Indexed sites per (sites datasets, their versions, site filter), reused across batches.
    site_sets: Mutex<HashMap<String, Arc<SiteSet>>>,
    /// One evaluation at a time, so two commits never race on marks.
    running: tokio::sync::Mutex<()>,
    /// Which alerts have been announced here, when other instances raise alerts too.
    pub(crate) news: AlertNews,
}

impl Alerting {
    pub fn new(store: Arc<dyn AlertStore>) -> Self {
        Self {
            store,
            webhooks: RwLock::new(Vec::new()),
            events: broadcast::channel(1024).0,
            outbox: Notify::new(),
            site_sets: Mutex::new(HashMap::new()),
            running: tokio::sync::Mutex::new(()),
            news: AlertNews::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn AlertStore> {
        &self.store
    }

    pub(crate) fn announce(&self, event: AlertEvent) {
        // No listener is not an error.
        let _ = self.events.send(event);
    }

    /// Tells the delivery loop to look at the outbox now.
    pub fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    pub fn webhooks(&self) -> Vec<Webhook> {
        self.webhooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn targets_for(&self, rule: &str) -> Vec<String> {
        self.webhooks()
            .iter()
            .filter(|w| w.rules.is_empty() || w.rules.iter().any(|r| r == rule))
            .map(|w| w.name.clone())
            .collect()
    }
}

/// The outcome of a dry run: what a rule would have raised, without storing or sending anything.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub rule: Rule,
    pub would_raise: usize,
    pub alerts: Vec<NewAlert>,
}

/// Rules, alerts and webhooks: [`Console::alerts`].
#[derive(Clone, Copy)]
pub struct Alerts<'a> {
    console: &'a Console,
}

impl Console {
    /// Rules, alerts and their delivery.
    pub fn alerts(&self) -> Alerts<'_> {
        Alerts { console: self }
    }
}

impl std::ops::Deref for Alerts<'_> {
    type Target = Alerting;
    fn deref(&self) -> &Alerting {
        &self.console.alerting
    }
}

impl Alerts<'_> {
    fn state(&self) -> &Alerting {
        &self.console.alerting
    }
}

impl Alerts<'_> {
    /// Sets the webhook targets (from configuration). Refuses names used twice or URLs that are not
    /// http(s).
    pub fn set_webhooks(&self, webhooks: Vec<Webhook>) -> AppResult<()> {
        for (i, w) in webhooks.iter().enumerate() {
            w.check()?;
            // Names are checked when they resolve, at every connection; addresses can be checked now.
            if let Ok(url) = reqwest::Url::parse(&w.url) {
                self.console.network().check_url(&url).map_err(|r| {
                    AppError::new(
                        AppErrorKind::Invalid,
                        format!("webhook '{}': {}", w.name, r.0),
                    )
                })?;
            }
            if webhooks[..i].iter().any(|o| o.name == w.name) {
                return Err(AppError::new(
                    AppErrorKind::Invalid,
                    format!("webhook '{}' is configured twice", w.name),
                ));
            }
        }
        *self
            .state()
            .webhooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = webhooks;
        Ok(())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AlertEvent> {
        self.state().events.subscribe()
    }

    pub async fn rules(&self) -> AppResult<Vec<Rule>> {
        let records = self.state().store.rules().await?;
        records
            .into_iter()
            .map(|r| {
                serde_json::from_value(r.definition).map_err(|e| {
                    AppError::new(
                        AppErrorKind::Internal,
                        format!("stored rule '{}' no longer reads: {e}", r.id),
                    )
                })
            })
            .collect()
    }

    pub async fn rule(&self, id: &str) -> AppResult<Rule> {
        self.rules()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| {
                AppError::new(
                    AppErrorKind::NotFound,
                    format!("rule '{id}' does not exist"),
                )
            })
    }

    /// Creates or replaces a rule after checking it. It goes live from the data's current versions: what
    /// is already stored is history (see [`Console::dry_run`]), not news.
    pub async fn put_rule(&self, rule: Rule) -> AppResult<Rule> {
        let alerting = self.state();
        let datasets = self.console.datasets(&Scope::everything()).await?;
        rule.check(&datasets)?;
        let marks = self
            .watched(&rule, &datasets)
            .into_iter()
            .map(|d| (d.id.to_string(), d.version))
            .collect();
        let now = Utc::now();
        let created = alerting
            .store
            .rules()
            .await?
            .into_iter()
            .find(|r| r.id == rule.id)
            .map_or(now, |r| r.created);
        let definition = serde_json::to_value(&rule)
            .map_err(|e| AppError::new(AppErrorKind::Internal, format!("rule: {e}")))?;
        alerting
            .store
            .put_rule(
                RuleRecord {
                    id: rule.id.clone(),
                    definition,
                    created,
                    updated: now,
                },
                marks,
            )
            .await?;
        tracing::info!(rule = %rule.id, "rule saved");
        Ok(rule)
    }

    /// Saves a rule from configuration unless the same definition is already stored, so a restart does not
    /// move its marks (and skip what it missed while down). Returns whether it was saved.
    pub async fn ensure_rule(&self, rule: Rule) -> AppResult<bool> {
        if self.rule(&rule.id).await.ok().as_ref() == Some(&rule) {
            return Ok(false);
        }
        self.put_rule(rule).await?;
        Ok(true)
    }

    pub async fn delete_rule(&self, id: &str) -> AppResult<()> {
        self.state().store.delete_rule(id).await?;
        tracing::info!(rule = %id, "rule deleted");
        Ok(())
    }

    /// What `rule` would have raised on the stored data (events active in `window`, all when `None`),
    /// without storing or sending anything.
    pub async fn dry_run(&self, rule: Rule, window: Option<DateTimeFilter>) -> AppResult<DryRun> {
        let datasets = self.console.datasets(&Scope::everything()).await?;
        rule.check(&datasets)?;
        let mut alerts = Vec::new();
        for d in self.watched(&rule, &datasets) {
            alerts.extend(self.evaluate_stored(&rule, &d, window, &datasets).await?);
        }
        alerts.sort_by(|a, b| a.key.cmp(&b.key));
        alerts.dedup_by(|a, b| a.key == b.key);
        Ok(DryRun {
            would_raise: alerts.len(),
            rule,
            alerts,
        })
    }

    pub async fn list(&self, filter: AlertFilter) -> AppResult<Vec<AlertRecord>> {
        Ok(self.state().store.alerts(filter).await?)
    }

    pub async fn get(&self, seq: i64) -> AppResult<AlertRecord> {
        Ok(self.state().store.alert(seq).await?)
    }

    /// Acknowledges or resolves an alert, recording who and when, and tells live listeners.
    pub async fn transition(
        &self,
        seq: i64,
        to: AlertState,
        by: &str,
        disposition: Option<Disposition>,
        note: Option<String>,
    ) -> AppResult<AlertRecord> {
        let by = by.trim();
        if by.is_empty() || by.chars().count() > 200 {
            return Err(AppError::new(
                AppErrorKind::Input,
                "say who is acting: 'by' must be 1 to 200 characters",
            ));
        }
        if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            return Err(AppError::new(
                AppErrorKind::Input,
                "the note is longer than 2000 characters",
            ));
        }
        let alerting = self.state();
        let record = alerting
            .store
            .transition(
                seq,
                Transition {
                    to,
                    by: by.to_string(),
                    // Stores keep milliseconds; the answer should say what they keep.
                    at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 3),
                    disposition,
                    note,
                },
            )
            .await?;
        tracing::info!(
            alert = seq,
            state = record.state.as_str(),
            by,
            "alert updated"
        );
        // Following a shared store, the store's news announces the change here as on every instance.
        if !alerting
            .news
            .following
            .load(std::sync::atomic::Ordering::Acquire)
        {
            alerting.announce(AlertEvent::Updated {
                alert: record.clone(),
            });
        }
        Ok(record)
    }

    /// After a commit to `dataset`: every enabled rule watching it looks at what changed (or, when it missed
    /// a commit, at the whole dataset). Failures are logged and retried at the next start; the data is
    /// committed either way.
    pub(crate) async fn evaluate_rules(&self, dataset: &Dataset, changed: &Changed) {
        let alerting = self.state();
        let _one_at_a_time = alerting.running.lock().await;
        let started = std::time::Instant::now();
        match self.evaluate_rules_inner(dataset, changed).await {
            Ok(raised) => {
                if raised > 0 {
                    tracing::info!(dataset = %dataset.id, raised, ms = started.elapsed().as_millis() as u64, "alerts raised");
                }
            }
            Err(e) => {
                tracing::error!(dataset = %dataset.id, error = %e, "rule evaluation failed; it is retried at the next start")
            }
        }
    }

    async fn evaluate_rules_inner(&self, dataset: &Dataset, changed: &Changed) -> AppResult<usize> {
        let alerting = self.state();
        let rules = self.rules().await?;
        if rules.is_empty() {
            return Ok(0);
        }
        let datasets = self.console.datasets(&Scope::everything()).await?;
        let mut raised = 0;
        for rule in rules.iter().filter(|r| r.enabled) {
            if !self
                .watched(rule, &datasets)
                .iter()
                .any(|d| d.id == dataset.id)
            {
                continue;
            }
            let marks = alerting.store.marks(&rule.id).await?;
            let seen = marks
                .iter()
                .find(|(d, _)| d == dataset.id.as_str())
                .map(|(_, v)| *v);
            if seen.is_some_and(|v| v >= dataset.version) {
                continue;
            }
            // Versions go up by one per commit: a rule that saw the previous one needs only this batch.
            let incremental = seen.is_some_and(|v| v + 1 == dataset.version);
            let alerts = match (changed, &rule.when, incremental) {
                (Changed::Features(features), Condition::Exposure { .. }, true) => {
                    self.evaluate_batch(rule, dataset, features, &datasets)
                        .await?
                }
                _ => self.evaluate_stored(rule, dataset, None, &datasets).await?,
            };
            raised += self.raise(rule, alerts).await?;
            alerting
                .store
                .set_mark(&rule.id, dataset.id.as_str(), dataset.version)
                .await?;
        }
        Ok(raised)
    }

    /// At start: every rule catches up with the commits it has not seen.
    pub async fn catch_up(&self) -> AppResult<usize> {
        let alerting = self.state();
        let datasets = self.console.datasets(&Scope::everything()).await?;
        let mut raised = 0;
        for rule in self.rules().await?.iter().filter(|r| r.enabled) {
            let marks = alerting.store.marks(&rule.id).await?;
            for d in self.watched(rule, &datasets) {
                let seen = marks
                    .iter()
                    .find(|(id, _)| id == d.id.as_str())
                    .map(|(_, v)| *v);
                if seen.is_some_and(|v| v >= d.version) {
                    continue;
                }
                let _one_at_a_time = alerting.running.lock().await;
                let alerts = self.evaluate_stored(rule, &d, None, &datasets).await?;
                let n = self.raise(rule, alerts).await?;
                alerting
                    .store
                    .set_mark(&rule.id, d.id.as_str(), d.version)
                    .await?;
                tracing::info!(rule = %rule.id, dataset = %d.id, raised = n, "rule caught up");
                raised += n;
            }
        }
        Ok(raised)
    }

    async fn raise(&self, rule: &Rule, alerts: Vec<NewAlert>) -> AppResult<usize> {
        if alerts.is_empty() {
            return Ok(0);
        }
        let alerting = self.state();
        let stored = alerting
            .store
            .raise(alerts, alerting.targets_for(&rule.id))
            .await?;
        // Following a shared store, every instance (this one too) announces alerts from the store's news,
        // so each is announced once everywhere, in the store's order.
        let announce = !alerting
            .news
            .following
            .load(std::sync::atomic::Ordering::Acquire);
        for a in &stored {
            tracing::info!(alert = a.seq, rule = %a.alert.rule, title = %a.alert.title, "alert raised");
            if !announce {
                continue;
            }
            let _ = alerting
                .events
                .send(AlertEvent::Raised { alert: a.clone() });
        }
        if !stored.is_empty() {
            alerting.outbox.notify_one();
        }
        Ok(stored.len())
    }

    /// The datasets whose commits concern a rule.
    fn watched(&self, rule: &Rule, datasets: &[Dataset]) -> Vec<Dataset> {
        let layers: Vec<String> = match &rule.when {
            Condition::Score { .. } => {
                let model = self
                    .console
                    .risk_model()
                    .unwrap_or_else(|| crate::default_risk_model(datasets));
                model
                    .layers
                    .iter()
                    .map(|l| l.dataset.clone())
                    .chain(model.trend.iter().map(|t| t.dataset.clone()))
                    .collect()
            }
            _ => Vec::new(),
        };
        let names = rule.watched(&layers);
        datasets
            .iter()
            .filter(|d| names.iter().any(|n| n == d.id.as_str()))
            .cloned()
            .collect()
    }

    /// An exposure rule over features just written to `dataset`.
    async fn evaluate_batch(
        &self,
        rule: &Rule,
        dataset: &Dataset,
        features: &[Feature],
        datasets: &[Dataset],
    ) -> AppResult<Vec<NewAlert>> {
        let Some((site_set, plan)) = self.exposure_plan(rule, dataset, datasets).await? else {
            return Ok(Vec::new());
        };
        Ok(exposure_alerts(
            rule,
            &plan,
            features,
            &site_set,
            Utc::now(),
        ))
    }

    /// An exposure rule's indexed sites and its way of reading one hazard dataset; `None` for other rules.
    async fn exposure_plan<'d>(
        &self,
        rule: &Rule,
        dataset: &'d Dataset,
        datasets: &[Dataset],
    ) -> AppResult<Option<(Arc<SiteSet>, HazardPlan<'d>)>> {
        let Condition::Exposure {
            filter,
            site_where,
            radius_km,
            sites,
            ..
        } = &rule.when
        else {
            return Ok(None);
        };
        let site_set = self
            .site_set(sites, site_where.as_deref(), datasets)
            .await?;
        let plan = HazardPlan::new(
            dataset,
            compile(dataset, filter.as_deref())?,
            *radius_km,
            self.console.impact_model(dataset),
        );
        Ok(Some((site_set, plan)))
    }

    /// Any rule over what is stored of `dataset` (events active in `window`).
    async fn evaluate_stored(
        &self,
        rule: &Rule,
        dataset: &Dataset,
        window: Option<DateTimeFilter>,
        datasets: &[Dataset],
    ) -> AppResult<Vec<NewAlert>> {
        let now = Utc::now();
        match &rule.when {
            Condition::Exposure { .. } => {
                let Some((site_set, plan)) = self.exposure_plan(rule, dataset, datasets).await?
                else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                let mut query = FeatureQuery {
                    datetime: window,
                    limit: Some(READ_CHUNK),
                    ..FeatureQuery::default()
                };
                loop {
                    let page = self.console.store().query(&dataset.id, &query).await?;
                    out.extend(exposure_alerts(rule, &plan, &page.features, &site_set, now));
                    match page.next {
                        Some(next) => query.cursor = Some(next),
                        None => break,
                    }
                }
                Ok(out)
            }
            Condition::Score { above, sites } => {
                let as_of = window.as_ref().and_then(|w| w.end).unwrap_or(now);
                let site_ids = ids(sites)?;
                let report = self
                    .console
                    .risk(
                        &Scope::everything(),
                        RiskRequest {
                            sites: site_ids.clone(),
                            model: None,
                            as_of: Some(as_of),
                        },
                    )
                    .await?;
                let allowed = self
                    .console
                    .sites_of(&Scope::everything(), &site_ids)
                    .await?
                    .into_iter()
                    .map(|s| ((s.dataset, s.id), ()))
                    .collect();
                Ok(score_alerts(rule, *above, &report, &allowed, now))
            }
            Condition::Anomaly {
                dataset: counted,
                radius_km,
                period,
                periods,
                sum,
                threshold_sd,
                min_current,
                sites,
            } => {
                let report = self
                    .console
                    .trends(
                        &Scope::everything(),
                        TrendRequest {
                            sites: ids(sites)?,
                            dataset: DatasetId::new(counted)
                                .map_err(|e| AppError::new(AppErrorKind::Input, e.message()))?,
                            radius_km: *radius_km,
                            period: *period,
                            periods: *periods,
                            end: window.as_ref().and_then(|w| w.end),
                            sum: sum.clone(),
                            rule: geoconsole_analytics::AnomalyRule {
                                threshold_sd: *threshold_sd,
                                min_current: *min_current,
                            },
                        },
                    )
                    .await?;
                Ok(anomaly_alerts(rule, &report, now))
            }
            // A feed's health has no stored history to replay; it is judged as polls happen.
            Condition::Feed { .. } => Ok(Vec::new()),
        }
    }

    /// Raises the alerts of feed rules for a feed whose standing just changed.
    pub(crate) async fn feed_alerts(&self, view: &crate::FeedView) -> AppResult<usize> {
        use geoconsole_feeds::Status;
        // The spell a standing belongs to: a failing run starts at its first failure, lateness at the last
        // success (or the feed's creation), so the same spell never raises twice, even across restarts.
        let since = match view.status {
            Status::Failing => view.state.failing_since,
            Status::Late => view.state.last_success.or(Some(view.created)),
            _ => return Ok(0),
        };
        let since = since.map_or_else(String::new, |t| t.to_rfc3339());
        let mut raised = 0;
        for rule in self.rules().await?.into_iter().filter(|r| r.enabled) {
            let Condition::Feed { feeds, on } = &rule.when else {
                continue;
            };
            if !on.contains(&view.status) || !(feeds.is_empty() || feeds.contains(&view.spec.name))
            {
                continue;
            }
            let status = view.status.as_str();
            let why = match (view.status, &view.state.last_error) {
                (Status::Failing, Some(error)) => format!(": {error}"),
                (Status::Late, _) => format!(
                    ": no successful poll since {}",
                    view.state
                        .last_success
                        .map_or("it was added".into(), |t| t.to_rfc3339())
                ),
                _ => String::new(),
            };
            let alert = NewAlert {
                key: format!("{}:feed:{}:{status}:{since}", rule.id, view.spec.name),
                rule: rule.id.clone(),
                severity: rule.severity.as_str().to_string(),
                title: format!("Feed {} is {status}{why}", view.spec.name),
                site_dataset: None,
                site: None,
                event_dataset: Some(view.spec.dataset.clone()),
                event: None,
                position: None,
                detail: serde_json::json!({
                    "feed": view.spec.name,
                    "status": status,
                    "url": view.spec.url,
                    "last_error": view.state.last_error,
                    "failures": view.state.failures,
                    "last_success": view.state.last_success,
                }),
                raised: Utc::now(),
            };
            raised += self.raise(&rule, vec![alert]).await?;
        }
        Ok(raised)
    }

    /// The rule's sites, indexed, cached until a sites dataset changes.
    async fn site_set(
        &self,
        sites: &[String],
        site_where: Option<&str>,
        datasets: &[Dataset],
    ) -> AppResult<Arc<SiteSet>> {
        let alerting = self.state();
        let chosen: Vec<&Dataset> = if sites.is_empty() {
            datasets
                .iter()
                .filter(|d| d.kind == DatasetKind::Sites)
                .collect()
        } else {
            datasets
                .iter()
                .filter(|d| sites.iter().any(|s| s == d.id.as_str()))
                .collect()
        };
        let key = format!(
            "{}#{}",
            chosen
                .iter()
                .map(|d| format!("{}@{}", d.id, d.version))
                .collect::<Vec<_>>()
                .join(","),
            site_where.unwrap_or("")
        );
        if let Some(hit) = alerting
            .site_sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(Arc::clone(hit));
        }
        let mut refs = Vec::new();
        for d in &chosen {
            let filter = compile(d, site_where)?;
            refs.extend(
                self.console
                    .sites_of(&Scope::everything(), std::slice::from_ref(&d.id))
                    .await?
                    .into_iter()
                    .filter(|s| filter.as_ref().is_none_or(|f| f.matches(&s.feature))),
            );
        }
        let set = Arc::new(SiteSet::new(refs));
        let mut cache = alerting
            .site_sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Entries for old versions are never asked for again; a small bound keeps them from piling up.
        if cache.len() >= MAX_CACHED_SITE_SETS {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&set));
        Ok(set)
    }
}

/// Indexed site sets kept at once (one per rule's site filter, per sites version).
const MAX_CACHED_SITE_SETS: usize = 32;

fn compile(dataset: &Dataset, text: Option<&str>) -> AppResult<Option<geoconsole_query::Filter>> {
    text.map(|t| crate::reading::compile_filter(dataset, t, FilterLang::Text))
        .transpose()
}

fn ids(names: &[String]) -> AppResult<Vec<DatasetId>> {
    names
        .iter()
        .map(|n| DatasetId::new(n).map_err(|e| AppError::new(AppErrorKind::Input, e.message())))
        .collect()
}

/// Where the announcements of alerts come from. Alone, an instance announces what it raises and changes;
/// following a shared store, every instance (the raiser too) announces what the store's news says was raised
/// or changed, so each is announced once on every instance whoever did it.
#[derive(Debug, Default)]
pub(crate) struct AlertNews {
    pub(crate) following: std::sync::atomic::AtomicBool,
    /// Alerts up to here have been read from the store and announced.
    pub(crate) read_up_to: tokio::sync::Mutex<Option<i64>>,
}
