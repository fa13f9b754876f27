//! Requests per client, as token buckets: each client (an account's token or session, or an address when
//! anonymous) may send `burst` requests at once and `per_second` after that; beyond it the answer is 429
//! with `Retry-After`, and other clients are not slowed. Buckets of idle clients are forgotten, so memory is
//! bounded by the number of clients active in the last minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clients remembered at most; past it, idle buckets are dropped first.
const MAX_CLIENTS: usize = 100_000;
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` of 0 turns limiting off.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second,
            burst: burst.max(1.0),
            buckets: Mutex::default(),
        }
    }

    /// `None` when the request may go ahead; else the seconds until it may.
    pub fn check(&self, client: &str) -> Option<u64> {
        if self.per_second <= 0.0 {
            return None;
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(client) {
            buckets.retain(|_, (_, at)| now.duration_since(*at) < IDLE);
        }
        let (tokens, at) = buckets
            .entry(client.to_string())
            .or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_and_clients_apart() {
        let limiter = RateLimiter::new(10.0, 5.0);
        for _ in 0..5 {
            assert_eq!(limiter.check("a"), None);
        }
        assert_eq!(limiter.check("a"), Some(1));
        assert_eq!(
            limiter.check("b"),
            None,
            "another client has its own bucket"
        );
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(limiter.check("a"), None, "refilled at 10 per second");
        assert!(
            RateLimiter::new(0.0, 1.0).check("a").is_none(),
            "0 turns it off"
        );
    }
}
