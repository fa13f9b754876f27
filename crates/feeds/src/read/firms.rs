//! NASA FIRMS active fires (MODIS and VIIRS CSV): `latitude`, `longitude`, `acq_date` (`YYYY-MM-DD`) and
//! `acq_time` (`HHMM` UTC, leading zeros often dropped), `satellite`, `confidence`, `frp` (fire radiative
//! power, MW). FIRMS gives no id: a detection is identified by where, when and by which satellite.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use geoconsole_formats::Format;
use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{FeatureId, TimeSpan, format_rfc3339};
use serde_json::{Value, json};

use super::{Action, Body, FeedItem, Parsed, derived_id, file_features};

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `acq_date` and `acq_time` as one UTC instant.
fn acquired(date: &str, hhmm: &str) -> Result<DateTime<Utc>, String> {
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| format!("acq_date '{date}' is not YYYY-MM-DD"))?;
    let digits = hhmm.split('.').next().unwrap_or("");
    let n: u32 = digits
        .parse()
        .map_err(|_| format!("acq_time '{hhmm}' is not HHMM"))?;
    let time = NaiveTime::from_hms_opt(n / 100, n % 100, 0)
        .ok_or_else(|| format!("acq_time '{hhmm}' is not a time of day"))?;
    Ok(date.and_time(time).and_utc())
}

pub(crate) fn read(body: &Body, max_decoded_bytes: u64) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    for source in file_features(
        "firms.csv",
        body,
        Format::Csv,
        &mut parsed,
        max_decoded_bytes,
    )? {
        let mut feature = source.feature;
        let props = &feature.properties;
        let (date, hhmm) = (text(props.get("acq_date")), text(props.get("acq_time")));
        let at = match acquired(&date, &hhmm) {
            Ok(at) => at,
            Err(e) => {
                parsed.skip(format!("{}: {e}", source.location));
                continue;
            }
        };
        let satellite = text(props.get("satellite"));
        let instrument = text(props.get("instrument"));
        // The CSV reader turns the coordinate columns into the geometry; the position identifies.
        let (lon, lat) = match &feature.geometry {
            Some(Geometry::Point(p)) => (p.x().to_string(), p.y().to_string()),
            Some(other) => (format!("{other:?}"), String::new()),
            None => (String::new(), String::new()),
        };
        feature.id = Some(FeatureId(derived_id(&[
            &lat,
            &lon,
            &date,
            &hhmm,
            &satellite,
            &instrument,
        ])));
        feature.time = Some(TimeSpan::instant(at));
        feature
            .properties
            .insert("acquired".into(), json!(format_rfc3339(at)));
        if let Some(frp) = feature.properties.get("frp").cloned() {
            feature.properties.insert("severity".into(), frp);
        }
        parsed.items.push(FeedItem {
            feature,
            event_time: Some(at),
            action: Action::Publish,
            supersedes: Vec::new(),
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquisition_times_lose_their_leading_zeros() {
        assert_eq!(
            acquired("2024-08-01", "5").unwrap().to_rfc3339(),
            "2024-08-01T00:05:00+00:00"
        );
        assert_eq!(
            acquired("2024-08-01", "1342").unwrap().to_rfc3339(),
            "2024-08-01T13:42:00+00:00"
        );
        assert!(acquired("2024-08-01", "2561").is_err());
        assert!(acquired("01/08/2024", "1342").is_err());
    }
}
