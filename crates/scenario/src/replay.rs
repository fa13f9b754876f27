//! The demo's live feed: the real USGS week embedded for the demo, replayed as a USGS summary feed whose
//! events happen now. Event `k` of the week is released `offset_k / speed` after the replay starts, with
//! its time moved to that moment and a new id per pass (`replay-<pass>-<usgs id>`), so a console polling the
//! feed watches quakes arrive at the week's own rhythm, and lag means what it means for the real feed.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::demo::USGS_WEEK;

/// A USGS "past day" feed keeps a day of events; the replay keeps a simulated day.
const WINDOW_S: f64 = 24.0 * 3600.0;

#[derive(Debug, Clone)]
pub struct QuakeReplay {
    /// Features in time order, with their offset from the first, in seconds of the original week.
    events: Vec<(f64, Value)>,
    span_s: f64,
    started: DateTime<Utc>,
    speed: f64,
}

impl QuakeReplay {
    /// A replay starting at `started`, `speed` times faster than the week happened.
    pub fn new(started: DateTime<Utc>, speed: f64) -> Self {
        let collection: Value = serde_json::from_slice(USGS_WEEK).unwrap_or(Value::Null);
        let mut features: Vec<Value> = collection["features"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let time = |f: &Value| f["properties"]["time"].as_f64().unwrap_or(0.0);
        features.sort_by(|a, b| time(a).total_cmp(&time(b)));
        let first = features.first().map(time).unwrap_or(0.0);
        let events: Vec<(f64, Value)> = features
            .into_iter()
            .map(|f| ((time(&f) - first) / 1000.0, f))
            .collect();
        let span_s = events.last().map_or(1.0, |(o, _)| o.max(1.0));
        Self {
            events,
            span_s,
            started,
            speed: speed.max(1.0),
        }
    }

    /// Events released by `now`.
    pub fn released(&self, now: DateTime<Utc>) -> u64 {
        let elapsed = self.elapsed_s(now);
        let pass = (elapsed / self.span_s).floor();
        let within = elapsed - pass * self.span_s;
        pass as u64 * self.events.len() as u64
            + self.events.partition_point(|(o, _)| *o <= within) as u64
    }

    /// Simulated seconds since the start.
    fn elapsed_s(&self, now: DateTime<Utc>) -> f64 {
        ((now - self.started).num_milliseconds().max(0) as f64 / 1000.0) * self.speed
    }

    /// The feed as a USGS summary GeoJSON document at `now`, with an ETag that changes when it does.
    pub fn document(&self, now: DateTime<Utc>) -> (Vec<u8>, String) {
        let elapsed = self.elapsed_s(now);
        let mut features = Vec::new();
        let from = (elapsed - WINDOW_S).max(0.0);
        let passes = (from / self.span_s).floor() as u64..=(elapsed / self.span_s).floor() as u64;
        for pass in passes {
            let base = pass as f64 * self.span_s;
            for (offset, feature) in &self.events {
                let at = base + offset;
                if at < from || at > elapsed {
                    continue;
                }
                let mut f = feature.clone();
                let when = self.started
                    + chrono::Duration::milliseconds((at / self.speed * 1000.0) as i64);
                let id = format!("replay-{pass}-{}", f["id"].as_str().unwrap_or(""));
                f["id"] = json!(id);
                f["properties"]["time"] = json!(when.timestamp_millis());
                f["properties"]["updated"] = json!(when.timestamp_millis());
                f["properties"]["replay_of"] = feature["id"].clone();
                features.push(f);
            }
        }
        features.reverse();
        let etag = format!("\"{}\"", self.released(now));
        let body = json!({
            "type": "FeatureCollection",
            "metadata": {
                "generated": now.timestamp_millis(),
                "title": "geoconsole demo: the USGS week of 2023-04-07 replayed live",
                "status": 200,
                "count": features.len(),
            },
            "features": features,
        });
        (serde_json::to_vec(&body).unwrap_or_default(), etag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_released_at_the_weeks_rhythm_with_times_of_now() {
        let start = Utc::now();
        let replay = QuakeReplay::new(start, 3600.0);
        assert_eq!(replay.released(start), 1, "the first event is out at once");
        let later = start + chrono::Duration::seconds(60);
        let released = replay.released(later);
        assert!(
            released > 500 && released < 2389,
            "60 s is 60 simulated hours: {released}"
        );
        let (body, etag) = replay.document(later);
        let doc: Value = serde_json::from_slice(&body).unwrap();
        let features = doc["features"].as_array().unwrap();
        assert!(
            !features.is_empty() && features.len() < released as usize,
            "a day's window"
        );
        let newest = features[0]["properties"]["time"].as_i64().unwrap();
        assert!(newest <= later.timestamp_millis() && newest > start.timestamp_millis());
        assert!(features[0]["id"].as_str().unwrap().starts_with("replay-0-"));
        assert_eq!(etag, format!("\"{released}\""));
        assert_eq!(
            replay.document(later).1,
            etag,
            "the same moment, the same document"
        );
        // After the week, a second pass with new ids.
        let second = start + chrono::Duration::seconds(7 * 24 + 1);
        assert!(replay.released(second) > 2389);
    }
}
