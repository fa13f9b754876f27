//! The outbox's delivery side: webhooks get each alert as JSON, signed with HMAC-SHA256 over
//! `"{timestamp}.{body}"` with the webhook's secret, with an idempotency key that is the same on every
//! attempt and after any restart. Failures retry with exponential backoff and jitter; after the last attempt
//! (or an answer that says retrying cannot help) the delivery becomes a dead letter, listed until retried by
//! hand. Delivery is at least once: a crash after sending but before recording sends again, with the same
//! key, so receivers deduplicate on it.

use std::time::Duration;

use chrono::Utc;
use geoconsole_store::{AlertRecord, Attempt, Delivery};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AppError, AppErrorKind, AppResult, Console};

/// A webhook target, from configuration (`[[webhooks]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    /// Signs every body; at least 16 characters. Never shown by the API.
    #[serde(skip_serializing)]
    pub secret: String,
    /// Only alerts of these rules; empty means all.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Attempts before a delivery is a dead letter.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long (with jitter), at most 10 minutes.
    #[serde(default = "default_retry_ms")]
    pub retry_base_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_attempts() -> u32 {
    8
}
fn default_retry_ms() -> u64 {
    2_000
}
fn default_timeout_ms() -> u64 {
    10_000
}

/// The longest wait between two attempts.
const MAX_BACKOFF_MS: u64 = 10 * 60 * 1000;
/// Deliveries taken from the outbox per round.
const ROUND: usize = 50;

impl Webhook {
    pub fn check(&self) -> AppResult<()> {
        let invalid = |why: String| {
            Err(AppError::new(
                AppErrorKind::Invalid,
                format!("webhook '{}': {why}", self.name),
            ))
        };
        if self.name.is_empty() || self.name.len() > 64 {
            return invalid("the name must be 1 to 64 characters".into());
        }
        let url = reqwest::Url::parse(&self.url);
        match url {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => {
                return invalid(format!(
                    "only http and https URLs with a host are allowed, not '{}'",
                    u.scheme()
                ));
            }
            Err(e) => return invalid(format!("url '{}' is not a URL: {e}", self.url)),
        }
        if self.secret.chars().count() < 16 {
            return invalid("the secret must be at least 16 characters".into());
        }
        if self.max_attempts == 0 || self.timeout_ms == 0 {
            return invalid("max_attempts and timeout_ms must be above 0".into());
        }
        Ok(())
    }
}

/// The signature header's value for a body sent at `timestamp` (Unix seconds): `sha256=<hex>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable_hmac());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// HMAC takes keys of any length, so construction cannot fail; kept out of line to say so once.
fn unreachable_hmac() -> hmac::Hmac<Sha256> {
    <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(b"k").expect("HMAC accepts any key length")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stable per alert and target: the receiver's deduplication key.
pub fn idempotency_key(alert: &AlertRecord, target: &str) -> String {
    let mut h = Sha256::new();
    h.update(alert.alert.key.as_bytes());
    h.update(b"\n");
    h.update(target.as_bytes());
    hex(&h.finalize()[..16])
}

/// The wait before attempt `attempts + 1`: `base · 2^attempts`, capped, times a jitter in [0.5, 1].
pub fn backoff(base_ms: u64, attempts: u32) -> Duration {
    let exp = base_ms
        .saturating_mul(1u64 << attempts.min(30))
        .min(MAX_BACKOFF_MS);
    let jitter: f64 = 0.5 + rand::random::<f64>() * 0.5;
    Duration::from_millis((exp as f64 * jitter) as u64)
}

/// The delivery loop: runs until `stop` turns true, waking when alerts are raised and at least every second
/// (for retries that have come due).
pub async fn run(console: Console, mut stop: tokio::sync::watch::Receiver<bool>) {
    let alerting = std::sync::Arc::clone(&console.alerting);
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let client = match geoconsole_feeds::guarded(console.network().clone(), builder)
        .user_agent(concat!("geoconsole/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not start; alerts stay in the outbox");
            return;
        }
    };
    loop {
        if *stop.borrow() {
            return;
        }
        match alerting.store().due_deliveries(Utc::now(), ROUND).await {
            Ok(due) => {
                let full = due.len() == ROUND;
                for (delivery, alert) in due {
                    let webhooks = alerting.webhooks();
                    let attempt = match webhooks.iter().find(|w| w.name == delivery.target) {
                        Some(w) => send(&client, w, &delivery, &alert).await,
                        None => Attempt::Dead {
                            error: format!("webhook '{}' is no longer configured", delivery.target),
                        },
                    };
                    log(&delivery, &attempt);
                    if let Err(e) = alerting.store().record_attempt(delivery.id, attempt).await {
                        tracing::error!(delivery = delivery.id, error = %e, "could not record a delivery attempt");
                    }
                }
                if full {
                    continue;
                }
            }
            Err(e) => tracing::error!(error = %e, "outbox read failed"),
        }
        tokio::select! {
            () = alerting.outbox.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn send(
    client: &reqwest::Client,
    webhook: &Webhook,
    delivery: &Delivery,
    alert: &AlertRecord,
) -> Attempt {
    let body = serde_json::to_vec(&serde_json::json!({
        "alert": alert,
        "delivery": {"id": delivery.id, "target": delivery.target, "attempt": delivery.attempts + 1},
    }))
    .unwrap_or_default();
    let timestamp = Utc::now().timestamp();
    let result = client
        .post(&webhook.url)
        .timeout(Duration::from_millis(webhook.timeout_ms))
        .header("content-type", "application/json")
        .header("idempotency-key", idempotency_key(alert, &delivery.target))
        .header("x-geoconsole-timestamp", timestamp.to_string())
        .header(
            "x-geoconsole-signature",
            signature(&webhook.secret, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    let attempts = delivery.attempts + 1;
    let failure = match result {
        Ok(r) if r.status().is_success() => return Attempt::Delivered { at: Utc::now() },
        Ok(r) => {
            let status = r.status();
            let error = format!("{} answered HTTP {status}", webhook.url);
            // A client error other than timeout or rate limit will not get better by retrying.
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                return Attempt::Dead { error };
            }
            error
        }
        Err(e) if e.is_timeout() => format!(
            "{} did not answer within {} ms",
            webhook.url, webhook.timeout_ms
        ),
        Err(e) if refusal(&e).is_some() => {
            // The network guard refused the address: waiting will not change that.
            let why = refusal(&e).unwrap_or_default();
            return Attempt::Dead {
                error: format!("{}: {why}", webhook.url),
            };
        }
        Err(e) if e.is_connect() => format!("cannot connect to {}: {e}", webhook.url),
        Err(e) => format!("{}: {e}", webhook.url),
    };
    if attempts >= webhook.max_attempts {
        return Attempt::Dead {
            error: format!("{failure} (gave up after {attempts} attempts)"),
        };
    }
    let wait = backoff(webhook.retry_base_ms, attempts - 1);
    Attempt::Retry {
        at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
        error: failure,
    }
}

fn log(delivery: &Delivery, attempt: &Attempt) {
    match attempt {
        Attempt::Delivered { .. } => {
            tracing::info!(delivery = delivery.id, alert = delivery.alert_seq, target = %delivery.target, "alert delivered")
        }
        Attempt::Retry { at, error } => {
            tracing::warn!(delivery = delivery.id, target = %delivery.target, %error, retry_at = %at, "delivery failed; will retry")
        }
        Attempt::Dead { error } => {
            tracing::error!(delivery = delivery.id, target = %delivery.target, %error, "delivery failed for good; see the dead letters")
        }
    }
}

/// The network guard's reason, when it is why a request failed.
fn refusal(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<geoconsole_feeds::Refused>() {
            return Some(refused.0.clone());
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_documented_recipe() {
        // HMAC-SHA256 with key "key" over "0.body", computed independently with Python's hmac module.
        assert_eq!(
            signature("key", 0, b"body"),
            "sha256=e0af04d5c83b24373ff89f540d0c8fd9a4e097e2b3ee8318ab5541047697626d"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        for attempts in 0..5 {
            let d = backoff(1000, attempts).as_millis() as u64;
            let full = 1000 << attempts;
            assert!(d >= full / 2 && d <= full, "{attempts}: {d}");
        }
        assert!(backoff(1000, 40).as_millis() as u64 <= MAX_BACKOFF_MS);
    }
}
