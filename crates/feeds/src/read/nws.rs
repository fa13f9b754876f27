//! api.weather.gov `/alerts` (GeoJSON, `application/geo+json`): a FeatureCollection (or one Feature) whose
//! properties are the CAP fields in camelCase, with `references` as objects. Many alerts have a null
//! geometry because their area is a list of forecast zones (`geocode.UGC`, `affectedZones`) and counties
//! (`geocode.SAME`); those are placed by the console when the feed names areas datasets for the codes,
//! and skipped with that reason when it does not.

use chrono::{DateTime, Utc};
use geoconsole_formats::geometry_from_geojson;
use geoconsole_model::geo_types::Geometry;
use serde_json::Value;

use super::Parsed;
use super::cap::{CapAlert, MAX_CODES};

fn text(props: &Value, key: &str) -> Option<String> {
    props
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn time(props: &Value, key: &str) -> Option<DateTime<Utc>> {
    text(props, key)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The alert's area codes: `geocode` (`{"UGC": [...], "SAME": [...]}`), and the zones of
/// `affectedZones` (URLs ending in a UGC zone id) when `geocode` gives no UGC.
fn codes(props: &Value) -> Vec<(String, String)> {
    let mut codes: Vec<(String, String)> = Vec::new();
    let mut add = |scheme: &str, code: &str| {
        let pair = (scheme.to_string(), code.trim().to_string());
        if !pair.1.is_empty() && !codes.contains(&pair) && codes.len() < MAX_CODES {
            codes.push(pair);
        }
    };
    if let Some(geocode) = props.get("geocode").and_then(Value::as_object) {
        for (scheme, values) in geocode {
            for code in values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                add(scheme, code);
            }
        }
    }
    let has_ugc = props
        .get("geocode")
        .and_then(|g| g.get("UGC"))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !has_ugc {
        for zone in props
            .get("affectedZones")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let Some(id) = zone.trim_end_matches('/').rsplit('/').next() {
                add("UGC", id);
            }
        }
    }
    codes
}

pub(crate) fn read(body: &[u8], now: DateTime<Utc>) -> Result<Parsed, String> {
    let document: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let features: Vec<&Value> = match document.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => document
            .get("features")
            .and_then(Value::as_array)
            .ok_or("the FeatureCollection has no 'features' array")?
            .iter()
            .collect(),
        Some("Feature") => vec![&document],
        other => {
            return Err(format!(
                "expected a GeoJSON FeatureCollection of alerts, found type {other:?}"
            ));
        }
    };
    let mut parsed = Parsed::default();
    for (index, feature) in features.into_iter().enumerate() {
        let props = feature.get("properties").cloned().unwrap_or(Value::Null);
        let Some(identifier) = text(&props, "id").or_else(|| text(feature, "id")) else {
            parsed.skip(format!("feature {index}: the alert has no id"));
            continue;
        };
        let mut cap = CapAlert {
            identifier,
            sender: text(&props, "sender").unwrap_or_default(),
            sent: time(&props, "sent"),
            status: text(&props, "status").unwrap_or_default(),
            msg_type: text(&props, "messageType").unwrap_or_default(),
            references: props
                .get("references")
                .and_then(Value::as_array)
                .map(|refs| refs.iter().filter_map(|r| text(r, "identifier")).collect())
                .unwrap_or_default(),
            event: text(&props, "event").unwrap_or_default(),
            category: text(&props, "category").into_iter().collect(),
            urgency: text(&props, "urgency").unwrap_or_default(),
            severity: text(&props, "severity").unwrap_or_default(),
            certainty: text(&props, "certainty").unwrap_or_default(),
            headline: text(&props, "headline"),
            description: text(&props, "description"),
            instruction: text(&props, "instruction"),
            sender_name: text(&props, "senderName"),
            web: text(&props, "@id"),
            effective: time(&props, "effective"),
            onset: time(&props, "onset"),
            // `ends` is when the hazard ends; `expires` only when the message does.
            expires: time(&props, "ends").or_else(|| time(&props, "expires")),
            area_desc: text(&props, "areaDesc").into_iter().collect(),
            ..CapAlert::default()
        };
        cap.geocodes = codes(&props);
        match feature.get("geometry") {
            None | Some(Value::Null) => {}
            Some(geometry) => match geometry_from_geojson(geometry) {
                Ok(Geometry::Polygon(p)) => cap.areas.push(p),
                Ok(Geometry::MultiPolygon(m)) => cap.areas.extend(m.0),
                Ok(_) => cap
                    .area_problems
                    .push("the geometry is not a polygon".into()),
                Err(e) => cap.area_problems.push(format!("feature {index}: {e}")),
            },
        }
        cap.add_to(&mut parsed, now);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zone_only_alerts_wait_for_their_codes() {
        let body = json!({"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": null,
            "properties": {
                "id": "urn:oid:nws-1", "sent": "2021-12-27T10:00:00-06:00", "status": "Actual",
                "messageType": "Alert", "event": "Blizzard Warning", "severity": "Severe",
                "geocode": {"SAME": ["027031"], "UGC": ["MNZ020"]},
                "affectedZones": ["https://api.weather.gov/zones/forecast/MNZ099"]
            }
        }]});
        let parsed = read(body.to_string().as_bytes(), Utc::now()).unwrap();
        assert!(parsed.items.is_empty());
        assert_eq!(
            parsed.unplaced[0].codes(),
            [
                ("SAME".to_string(), "027031".to_string()),
                ("UGC".to_string(), "MNZ020".to_string())
            ]
        );
        let zones_only = json!({"properties": {
            "affectedZones": ["https://api.weather.gov/zones/forecast/MNZ099", 7]
        }});
        assert_eq!(
            codes(&zones_only["properties"]),
            [("UGC".to_string(), "MNZ099".to_string())]
        );
    }
}
