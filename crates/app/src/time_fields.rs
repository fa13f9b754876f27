//! Which property gives a feature its time. Named explicitly (`--time`, `--time-end`) or detected from the
//! first features: the first property, by a list of common names, whose values all read as times.

use chrono::{DateTime, Utc};
use geoconsole_model::{Feature, ModelError, Properties, TimeSpan, parse_time_value};
use serde_json::Value;

/// Property names that usually hold when an event starts (or happened), most specific first.
pub const START_FIELD_NAMES: [&str; 19] = [
    "time",
    "datetime",
    "timestamp",
    "date",
    "event_time",
    "eventtime",
    "start",
    "start_time",
    "starttime",
    "time_start",
    "onset",
    "effective",
    "valid_from",
    "begin",
    "acq_date",
    "occurred",
    "occurred_at",
    "observed_at",
    "when",
];

/// Property names that usually hold when an event ends.
pub const END_FIELD_NAMES: [&str; 9] = [
    "end",
    "end_time",
    "endtime",
    "time_end",
    "expires",
    "valid_to",
    "valid_until",
    "until",
    "finish",
];

/// How many features are looked at to detect time fields.
pub const SNIFF_FEATURES: usize = 1000;

/// Finds the property among `candidates` (case-insensitively) whose non-null values in `sample` all read as
/// times, and that has at least one value. Returns the property's name as spelt in the data.
pub fn detect(sample: &[&Feature], candidates: &[&str]) -> Option<String> {
    for candidate in candidates {
        let name = sample
            .iter()
            .find_map(|f| {
                f.properties
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(candidate))
            })
            .cloned();
        let Some(name) = name else { continue };
        let values: Vec<&Value> = sample
            .iter()
            .filter_map(|f| f.properties.get(&name))
            .filter(|v| !v.is_null())
            .collect();
        // Small integers are counts, not epoch times: accept numbers only above 1e8 (March 1973 in seconds).
        let plausible = |v: &Value| match v {
            Value::Number(n) => n.as_f64().is_some_and(|n| n.abs() >= 1e8),
            _ => true,
        };
        if !values.is_empty()
            && values
                .iter()
                .all(|v| plausible(v) && parse_time_value(v).is_ok())
        {
            return Some(name);
        }
    }
    None
}

/// Reads a feature's time from its properties. A missing or null start means no time; an end before the
/// start is an error.
pub fn extract(
    properties: &Properties,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<Option<TimeSpan>, String> {
    let read = |field: Option<&str>| -> Result<Option<DateTime<Utc>>, String> {
        let Some(field) = field else { return Ok(None) };
        match properties.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => parse_time_value(value)
                .map(Some)
                .map_err(|e: ModelError| format!("time field '{field}': {}", e.message())),
        }
    };
    let (Some(start_at), end_at) = (read(start)?, read(end)?) else {
        return Ok(None);
    };
    match end_at {
        None => Ok(Some(TimeSpan::instant(start_at))),
        Some(end_at) => TimeSpan::interval(start_at, end_at)
            .map(Some)
            .map_err(|e| e.message().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geoconsole_model::geo_types::{Geometry, Point};
    use serde_json::json;

    fn feature(props: Value) -> Feature {
        let Value::Object(properties) = props else {
            unreachable!()
        };
        Feature {
            id: None,
            geometry: Some(Geometry::Point(Point::new(0.0, 0.0))),
            time: None,
            properties,
        }
    }

    #[test]
    fn detects_epoch_millis_and_iso_fields_by_name() {
        let usgs = [
            feature(json!({"mag": 4.2, "time": 1_680_887_000_123_i64})),
            feature(json!({"mag": 3, "time": null})),
        ];
        let usgs: Vec<&Feature> = usgs.iter().collect();
        assert_eq!(detect(&usgs, &START_FIELD_NAMES).as_deref(), Some("time"));
        let csv = feature(json!({"Date": "2024-05-01", "End_Time": "2024-05-03T00:00:00Z"}));
        assert_eq!(detect(&[&csv], &START_FIELD_NAMES).as_deref(), Some("Date"));
        assert_eq!(
            detect(&[&csv], &END_FIELD_NAMES).as_deref(),
            Some("End_Time")
        );
    }

    #[test]
    fn counts_and_free_text_are_not_times() {
        assert_eq!(
            detect(&[&feature(json!({"date": 12}))], &START_FIELD_NAMES),
            None
        );
        assert_eq!(
            detect(&[&feature(json!({"time": "morning"}))], &START_FIELD_NAMES),
            None
        );
    }

    #[test]
    fn extracts_instants_and_intervals() {
        let f =
            feature(json!({"onset": "2024-05-01T00:00:00Z", "expires": "2024-05-02T00:00:00Z"}));
        let span = extract(&f.properties, Some("onset"), Some("expires"))
            .unwrap()
            .unwrap();
        assert!(!span.is_instant());
        let backwards =
            feature(json!({"onset": "2024-05-03T00:00:00Z", "expires": "2024-05-02T00:00:00Z"}));
        assert!(extract(&backwards.properties, Some("onset"), Some("expires")).is_err());
        let bad = feature(json!({"onset": "soon"}));
        assert_eq!(
            extract(&bad.properties, Some("onset"), None).unwrap_err(),
            "time field 'onset': 'soon' is not a recognised time (RFC 3339, date or epoch)"
        );
        assert_eq!(
            extract(&feature(json!({})).properties, Some("onset"), None).unwrap(),
            None
        );
    }
}
