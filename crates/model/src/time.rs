use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::{ModelError, ModelErrorKind, ModelResult};

/// When a feature happens, in UTC: an instant (`start == end`) or a closed interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSpan {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeSpan {
    pub fn instant(at: DateTime<Utc>) -> Self {
        Self { start: at, end: at }
    }

    /// An interval; fails when it ends before it starts.
    pub fn interval(start: DateTime<Utc>, end: DateTime<Utc>) -> ModelResult<Self> {
        if end < start {
            return Err(ModelError::new(
                ModelErrorKind::InvalidTime,
                format!(
                    "time interval ends ({}) before it starts ({})",
                    format_rfc3339(end),
                    format_rfc3339(start)
                ),
            ));
        }
        Ok(Self { start, end })
    }

    pub fn is_instant(&self) -> bool {
        self.start == self.end
    }

    /// Whether the span overlaps `[from, to]`, either end open when `None`.
    pub fn overlaps(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
        from.is_none_or(|f| self.end >= f) && to.is_none_or(|t| self.start <= t)
    }

    pub fn union(&self, other: &TimeSpan) -> TimeSpan {
        TimeSpan {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// RFC 3339 in UTC with milliseconds, `2024-05-01T12:00:00.000Z`: the GeoPackage DATETIME form.
pub fn format_rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Epoch numbers below this are seconds, above it milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
const EPOCH_MILLIS_THRESHOLD: f64 = 1e11;

/// Reads a time from a JSON value: RFC 3339 / ISO 8601 date-times (with or without zone; no zone means UTC),
/// plain dates (midnight UTC), `YYYY-MM-DD HH:MM[:SS]`, or epoch seconds / milliseconds as numbers.
pub fn parse_time_value(value: &serde_json::Value) -> ModelResult<DateTime<Utc>> {
    match value {
        serde_json::Value::String(text) => parse_time_text(text),
        serde_json::Value::Number(number) => {
            let Some(n) = number.as_f64() else {
                return Err(invalid_time(&number.to_string()));
            };
            parse_epoch(n).ok_or_else(|| invalid_time(&number.to_string()))
        }
        other => Err(invalid_time(&other.to_string())),
    }
}

fn parse_epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() {
        return None;
    }
    let millis = if n.abs() < EPOCH_MILLIS_THRESHOLD {
        n * 1000.0
    } else {
        n
    };
    // Bounded above, so the cast cannot overflow; chrono rejects what it cannot represent.
    if millis.abs() > 8.0e15 {
        return None;
    }
    Utc.timestamp_millis_opt(millis.round() as i64).single()
}

fn parse_time_text(text: &str) -> ModelResult<DateTime<Utc>> {
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.with_timezone(&Utc));
    }
    // ISO 8601 variants seen in real CSVs: space separator, no zone, no seconds, compact offset.
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(trimmed, format) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| invalid_time(text));
    }
    if !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && let Some(t) = trimmed.parse::<f64>().ok().and_then(parse_epoch)
    {
        return Ok(t);
    }
    Err(invalid_time(text))
}

fn invalid_time(text: &str) -> ModelError {
    let shown = crate::excerpt(text, 60);
    ModelError::new(
        ModelErrorKind::InvalidTime,
        format!("'{shown}' is not a recognised time (RFC 3339, date or epoch)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(v: serde_json::Value) -> String {
        format_rfc3339(parse_time_value(&v).unwrap())
    }

    #[test]
    fn reads_common_time_forms() {
        assert_eq!(t(json!("2024-05-01T12:00:00Z")), "2024-05-01T12:00:00.000Z");
        assert_eq!(
            t(json!("2024-05-01T14:00:00+02:00")),
            "2024-05-01T12:00:00.000Z"
        );
        assert_eq!(t(json!("2024-05-01 12:00:00")), "2024-05-01T12:00:00.000Z");
        assert_eq!(t(json!("2024-05-01")), "2024-05-01T00:00:00.000Z");
        assert_eq!(t(json!(1_680_887_000)), "2023-04-07T17:03:20.000Z");
        assert_eq!(t(json!(1_680_887_000_123_i64)), "2023-04-07T17:03:20.123Z");
        assert_eq!(t(json!("1680887000")), "2023-04-07T17:03:20.000Z");
    }

    #[test]
    fn refuses_non_times() {
        assert!(parse_time_value(&json!("yesterday")).is_err());
        assert!(parse_time_value(&json!(true)).is_err());
        assert!(parse_time_value(&json!(1e300)).is_err());
    }

    #[test]
    fn interval_must_not_end_before_start() {
        let a = parse_time_value(&json!("2024-05-02")).unwrap();
        let b = parse_time_value(&json!("2024-05-01")).unwrap();
        assert!(TimeSpan::interval(a, b).is_err());
        assert!(TimeSpan::interval(b, a).unwrap().overlaps(Some(a), None));
    }
}
