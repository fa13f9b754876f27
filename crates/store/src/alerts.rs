//! The durable side of alerting: rules as their owners wrote them, alerts with their lifecycle, and the
//! outbox of deliveries. Alerts and their deliveries are written in one transaction, so an alert that exists
//! is always on its way to every target, whatever crashes afterwards.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// A rule as stored: its id and its definition as the API and TOML give it (the store does not interpret
/// it), and the dataset versions it has been evaluated against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    pub id: String,
    pub definition: serde_json::Value,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "acknowledged" => Some(Self::Acknowledged),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

/// What the person who acknowledged an alert decided it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Relevant,
    NoImpact,
    FalsePositive,
    Duplicate,
}

impl Disposition {
    pub const ALL: [Self; 4] = [
        Self::Relevant,
        Self::NoImpact,
        Self::FalsePositive,
        Self::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relevant => "relevant",
            Self::NoImpact => "no_impact",
            Self::FalsePositive => "false_positive",
            Self::Duplicate => "duplicate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// An alert a rule wants to raise. `key` makes it unique: raising the same key again does nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    pub key: String,
    pub rule: String,
    pub severity: String,
    pub title: String,
    pub site_dataset: Option<String>,
    pub site: Option<String>,
    pub event_dataset: Option<String>,
    pub event: Option<String>,
    /// Where to show it on a map, `[lon, lat]`.
    pub position: Option<[f64; 2]>,
    /// Reasons, distances, scores: whatever explains it, as the rule wrote it.
    pub detail: serde_json::Value,
    pub raised: DateTime<Utc>,
}

/// A stored alert: what was raised, in the order it was raised (`seq`), and its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub alert: NewAlert,
    pub state: AlertState,
    pub disposition: Option<Disposition>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// A change of an alert's state, by someone.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub to: AlertState,
    pub by: String,
    pub at: DateTime<Utc>,
    /// Required to acknowledge; optional when resolving an acknowledged alert (kept), required when
    /// resolving an open one.
    pub disposition: Option<Disposition>,
    pub note: Option<String>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only alerts raised after this sequence number (for tails and streams).
    pub after: Option<i64>,
    pub state: Option<AlertState>,
    pub rule: Option<String>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    pub limit: usize,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Gave up after the last retry; listed as a dead letter until retried by hand.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// One alert on its way to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    pub alert_seq: i64,
    pub target: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Delivered { at: DateTime<Utc> },
    Retry { at: DateTime<Utc>, error: String },
    Dead { error: String },
}

/// Rules, alerts and the delivery outbox, durably. Implemented by every store that implements
/// [`crate::FeatureStore`].
#[async_trait]
pub trait AlertStore: Send + Sync + Debug {
    /// Creates or replaces a rule. `marks` are the dataset versions it starts from (it goes live from now
    /// on; history is for dry runs).
    async fn put_rule(&self, rule: RuleRecord, marks: Vec<(String, u64)>) -> StoreResult<()>;
    async fn rules(&self) -> StoreResult<Vec<RuleRecord>>;
    /// Removes a rule and its marks (its alerts stay, with the rule's id); `NotFound` when absent.
    async fn delete_rule(&self, id: &str) -> StoreResult<()>;

    /// The dataset version a rule was last evaluated against, per dataset.
    async fn marks(&self, rule: &str) -> StoreResult<Vec<(String, u64)>>;
    /// Records that a rule has seen `dataset` up to `version` (never moves a mark back).
    async fn set_mark(&self, rule: &str, dataset: &str, version: u64) -> StoreResult<()>;
    /// Forgets every rule's mark on `dataset` (it was dropped: a dataset made again under its id starts its
    /// versions anew, and rules see all of it as news).
    async fn forget_marks(&self, dataset: &str) -> StoreResult<()>;

    /// Stores the alerts whose key is new, each with one pending delivery per target, in one transaction;
    /// returns the alerts it stored, in order.
    async fn raise(
        &self,
        alerts: Vec<NewAlert>,
        targets: Vec<String>,
    ) -> StoreResult<Vec<AlertRecord>>;
    async fn alerts(&self, filter: AlertFilter) -> StoreResult<Vec<AlertRecord>>;
    /// One alert by sequence number; `NotFound` when absent.
    async fn alert(&self, seq: i64) -> StoreResult<AlertRecord>;
    /// Moves an alert along its lifecycle; `Conflict` for a move the lifecycle does not allow.
    async fn transition(&self, seq: i64, change: Transition) -> StoreResult<AlertRecord>;

    /// Pending deliveries whose time has come, oldest first, with their alerts.
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(Delivery, AlertRecord)>>;
    async fn record_attempt(&self, delivery: i64, attempt: Attempt) -> StoreResult<()>;
    async fn deliveries(
        &self,
        state: Option<DeliveryState>,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>>;
    /// Puts a dead (or any) delivery back in the queue now, attempts reset; `NotFound` when absent.
    async fn retry_delivery(&self, delivery: i64, now: DateTime<Utc>) -> StoreResult<Delivery>;
}

/// The lifecycle, written once for every backend: open → acknowledged (with a disposition) → resolved, or
/// open → resolved with a disposition given there. Anything else is a conflict naming the states.
pub fn apply(record: &AlertRecord, change: Transition) -> StoreResult<AlertRecord> {
    use crate::{StoreError, StoreErrorKind};
    let conflict = |why: String| Err(StoreError::new(StoreErrorKind::Conflict, why));
    let mut next = record.clone();
    match (record.state, change.to) {
        (AlertState::Open, AlertState::Acknowledged) => {
            let Some(d) = change.disposition else {
                return Err(StoreError::new(
                    StoreErrorKind::Invalid,
                    "acknowledging needs a disposition: relevant, no_impact, false_positive or duplicate",
                ));
            };
            next.disposition = Some(d);
            next.acknowledged_by = Some(change.by);
            next.acknowledged_at = Some(change.at);
        }
        (AlertState::Open | AlertState::Acknowledged, AlertState::Resolved) => {
            match (record.disposition, change.disposition) {
                (_, Some(d)) => next.disposition = Some(d),
                (Some(_), None) => {}
                (None, None) => {
                    return Err(StoreError::new(
                        StoreErrorKind::Invalid,
                        "resolving an open alert needs a disposition: relevant, no_impact, false_positive or duplicate",
                    ));
                }
            }
            next.resolved_by = Some(change.by);
            next.resolved_at = Some(change.at);
        }
        (from, to) => {
            return conflict(format!(
                "alert {} is {}; it cannot become {}",
                record.seq,
                from.as_str(),
                to.as_str()
            ));
        }
    }
    next.state = change.to;
    if change.note.is_some() {
        next.note = change.note;
    }
    Ok(next)
}
