//! What a feed has been doing: validators for the next conditional GET, when it last worked and failed,
//! how much it brought, and how late its events arrive (lag: arrival time minus the source's own event
//! time). The state is kept by the store so health survives restarts and is the same for every instance.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fetch::Validators;

/// The longest wait after failures, whatever the interval.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Polls missed before a feed is late.
const LATE_AFTER_INTERVALS: u32 = 3;
/// And never before this, so a feed polled every second is not late after three.
const LATE_GRACE: Duration = Duration::from_secs(120);

/// Lag of the items added or changed by one poll, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lag {
    pub median_s: f64,
    pub max_s: f64,
    pub items: u64,
}

impl Lag {
    /// Lags of the given event times at `arrived`; `None` when none had a time.
    pub fn of(
        event_times: impl Iterator<Item = DateTime<Utc>>,
        arrived: DateTime<Utc>,
    ) -> Option<Self> {
        let mut lags: Vec<f64> = event_times
            .map(|t| (arrived - t).num_milliseconds() as f64 / 1000.0)
            .collect();
        if lags.is_empty() {
            return None;
        }
        lags.sort_by(f64::total_cmp);
        let n = lags.len();
        let median = if n % 2 == 1 {
            lags[n / 2]
        } else {
            (lags[n / 2 - 1] + lags[n / 2]) / 2.0
        };
        Some(Self {
            median_s: median,
            max_s: lags[n - 1],
            items: n as u64,
        })
    }
}

/// One feed's running record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// The last poll that brought something new or changed.
    pub last_change: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failed polls since the last success.
    pub failures: u32,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    pub next_poll: Option<DateTime<Utc>>,
    pub polls: u64,
    pub not_modified: u64,
    pub added: u64,
    pub updated: u64,
    pub withdrawn: u64,
    pub skipped: u64,
    /// What the last successful poll did.
    pub last_poll: PollCounts,
    /// Lag of the newest poll that brought items with times.
    pub lag: Option<Lag>,
    /// The newest event time seen.
    pub newest_event: Option<DateTime<Utc>>,
    /// Reasons for the last poll's skipped entries (the first few).
    pub skipped_reasons: Vec<String>,
    /// What the last poll read despite a fault that cost no item (the first few): a document whose bytes
    /// are not in the encoding it declares, area codes no area matched.
    pub warnings: Vec<String>,
    /// When fingerprints of items gone from the feed were last forgotten.
    pub pruned: Option<DateTime<Utc>>,
    /// CAP warnings in force, by item id, until when: marked expired once that time passes.
    pub open_until: BTreeMap<String, DateTime<Utc>>,
    /// A paged source's last full sync (which also removes the rows the source deleted).
    pub last_full_sync: Option<DateTime<Utc>>,
    /// A paged source's newest "updated" time seen, on the server's clock: the next incremental sync
    /// fetches what changed after it.
    pub sync_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PollCounts {
    pub items: u64,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub ms: u64,
    /// Pages fetched from a paged source (0 for a document feed).
    pub pages: u64,
    /// Whether a paged source's poll read the whole layer (else only what changed).
    pub full_sync: bool,
}

/// A feed's standing, as badges show it.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not polled since it was added.
    Pending,
    Ok,
    /// No successful poll for several intervals, though the last one did not fail (or has not happened).
    Late,
    /// The last poll failed.
    Failing,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ok => "ok",
            Self::Late => "late",
            Self::Failing => "failing",
            Self::Paused => "paused",
        }
    }
}

impl FeedState {
    pub fn validators(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }

    /// The feed's standing at `now`, given whether it is enabled and its interval. `since` is when the
    /// feed was added, so a feed that never succeeded turns late too.
    pub fn status(
        &self,
        enabled: bool,
        interval: Duration,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Status {
        if !enabled {
            return Status::Paused;
        }
        if self.failures > 0 {
            return Status::Failing;
        }
        let late_after = (interval * LATE_AFTER_INTERVALS).max(LATE_GRACE);
        let reference = self.last_success.unwrap_or(since);
        let silent = (now - reference).to_std().unwrap_or_default();
        if silent > late_after {
            Status::Late
        } else if self.last_success.is_none() {
            Status::Pending
        } else {
            Status::Ok
        }
    }

    /// When to poll next after a poll that ended at `now`: the interval after a success; after failures,
    /// the interval doubled per failure (capped at an hour) with jitter, so many consoles do not retry a
    /// struggling server in step.
    pub fn schedule(&mut self, interval: Duration, now: DateTime<Utc>) {
        let wait = if self.failures == 0 {
            interval
        } else {
            let doubled = interval
                .saturating_mul(1u32 << self.failures.min(16))
                .min(MAX_BACKOFF);
            let jitter = 0.5 + rand::random::<f64>() * 0.5;
            doubled.mul_f64(jitter).max(interval.min(MAX_BACKOFF))
        };
        self.next_poll =
            Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn lag_is_median_and_max() {
        let arrived = at("2024-01-01T00:10:00Z");
        let lag = Lag::of(
            [
                "2024-01-01T00:09:00Z",
                "2024-01-01T00:05:00Z",
                "2024-01-01T00:00:00Z",
            ]
            .map(at)
            .into_iter(),
            arrived,
        )
        .unwrap();
        assert_eq!(lag.median_s, 300.0);
        assert_eq!(lag.max_s, 600.0);
        assert!(Lag::of(std::iter::empty(), arrived).is_none());
    }

    #[test]
    fn status_follows_successes_failures_and_silence() {
        let since = at("2024-01-01T00:00:00Z");
        let minute = Duration::from_secs(60);
        let mut state = FeedState::default();
        assert_eq!(
            state.status(true, minute, since, at("2024-01-01T00:01:00Z")),
            Status::Pending
        );
        assert_eq!(
            state.status(true, minute, since, at("2024-01-01T00:10:00Z")),
            Status::Late
        );
        assert_eq!(
            state.status(false, minute, since, at("2024-01-01T00:10:00Z")),
            Status::Paused
        );
        state.last_success = Some(at("2024-01-01T00:09:00Z"));
        assert_eq!(
            state.status(true, minute, since, at("2024-01-01T00:10:00Z")),
            Status::Ok
        );
        state.failures = 1;
        assert_eq!(
            state.status(true, minute, since, at("2024-01-01T00:10:00Z")),
            Status::Failing
        );
    }

    #[test]
    fn failures_back_off_with_jitter_and_a_cap() {
        let now = at("2024-01-01T00:00:00Z");
        let minute = Duration::from_secs(60);
        let mut state = FeedState::default();
        state.schedule(minute, now);
        assert_eq!(state.next_poll, Some(at("2024-01-01T00:01:00Z")));
        state.failures = 3;
        state.schedule(minute, now);
        let wait = (state.next_poll.unwrap() - now).num_seconds();
        assert!((240..=480).contains(&wait), "{wait}");
        state.failures = 30;
        state.schedule(minute, now);
        assert!((state.next_poll.unwrap() - now).num_seconds() <= 3600);
    }
}
