//! Failed logins, counted per account name and per client address in a sliding window. Past the limit
//! every attempt is refused, right or wrong, until the window slides on: guessing costs an attacker time,
//! and the answer is the same for names that exist and names that do not.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub per_account: usize,
    pub per_address: usize,
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Keys remembered at most, so a flood of distinct names cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub(crate) struct Throttle {
    limits: ThrottleLimits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            failures: Mutex::default(),
        }
    }

    /// An account name is kept as its digest: the names tried are the attacker's to choose, and a flood
    /// of megabyte-long ones would otherwise be kept whole (up to `MAX_KEYS` of them).
    fn account_key(account: &str) -> String {
        format!("a:{}", crate::secret::digest(&account.to_lowercase()))
    }

    fn keys(account: &str, address: &str) -> [(String, usize); 2] {
        [
            (Self::account_key(account), 0),
            (format!("ip:{address}"), 1),
        ]
    }

    /// Seconds until another attempt is allowed, when one is not allowed now.
    pub fn wait(&self, account: &str, address: &str) -> Option<u64> {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait = None;
        for (key, which) in Self::keys(account, address) {
            let limit = [self.limits.per_account, self.limits.per_address][which];
            if let Some(times) = failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.limits.window)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let oldest = times.front().copied().unwrap_or(now);
                    let left = self
                        .limits
                        .window
                        .saturating_sub(now.duration_since(oldest));
                    let secs = left.as_secs().max(1);
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        wait
    }

    pub fn failed(&self, account: &str, address: &str) {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() >= MAX_KEYS {
            let window = self.limits.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for (key, _) in Self::keys(account, address) {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            // Only the last `limit` failures matter for the decision.
            while times.len() > self.limits.per_address.max(self.limits.per_account) {
                times.pop_front();
            }
        }
    }

    pub fn succeeded(&self, account: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&Self::account_key(account));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18 (found by the upload work): names tried were kept whole, up to 1 MiB each.
    #[test]
    fn remembered_names_take_the_same_room_however_long_they_are() {
        let throttle = Throttle::new(ThrottleLimits::default());
        throttle.failed(&"x".repeat(1 << 20), "10.0.0.1");
        let failures = throttle.failures.lock().expect("lock");
        assert!(
            failures.keys().all(|k| k.len() < 80),
            "{:?}",
            failures.keys().map(String::len).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_account_is_held_after_its_limit_and_freed_by_success() {
        let throttle = Throttle::new(ThrottleLimits {
            per_account: 3,
            per_address: 10,
            window: Duration::from_secs(60),
        });
        for _ in 0..3 {
            assert_eq!(throttle.wait("Ann", "10.0.0.1"), None);
            throttle.failed("Ann", "10.0.0.1");
        }
        assert!(
            throttle.wait("ann", "10.0.0.2").is_some(),
            "names are case-insensitive"
        );
        assert_eq!(throttle.wait("bob", "10.0.0.2"), None);
        throttle.succeeded("ann");
        assert_eq!(throttle.wait("ann", "10.0.0.2"), None);
    }

    #[test]
    fn an_address_spraying_many_accounts_is_held() {
        let throttle = Throttle::new(ThrottleLimits {
            per_account: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        });
        for i in 0..5 {
            throttle.failed(&format!("user{i}"), "10.0.0.9");
        }
        assert!(throttle.wait("someone-else", "10.0.0.9").is_some());
        assert_eq!(throttle.wait("someone-else", "10.0.0.8"), None);
    }
}
