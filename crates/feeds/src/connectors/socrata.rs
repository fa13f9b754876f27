//! The Socrata SODA client for one dataset (`…/resource/abcd-1234.json`), as dev.socrata.com documents it:
//! pages by `$limit`/`$offset` under `$order=:id` (without an order, pages are not stable), the `$select`ed
//! columns with the row's `:id` (its feature id) and `:updated_at` (system fields come only when asked
//! for), `$where` filters, `:updated_at > '…'` for incremental syncs, the application token in the
//! `X-App-Token` header. Point columns (GeoJSON points) and the older location columns (`latitude`,
//! `longitude`, `human_address`) become the geometry; so do separate latitude and longitude columns (found
//! by name, or named as `--geometry-field lat_column,lon_column`), where `(0, 0)` is read as "no place", as
//! the publishers who write it say. SODA writes numbers as strings; the column types it sends in
//! `X-SODA2-Types` turn them back into numbers. A row whose point or location column is not a place (a
//! latitude of 95) is skipped, named by its `:id`; a row whose coordinate columns are not a place ("N/A")
//! is kept without one, as its other columns are still the publisher's record.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{Feature, FeatureId, Properties};
use reqwest::Url;
use reqwest::header::HeaderMap;
use serde_json::{Number, Value};

use super::{ConnectorError, ConnectorErrorKind, Page, SourceSpec, Walk, body_start};

/// SODA's own default `$limit`.
const DEFAULT_PAGE: u32 = 1000;
/// The most a 2.0 endpoint answers in one page.
const MAX_PAGE: u32 = 50_000;

pub(super) fn check_url(url: &Url) -> Result<(), String> {
    if resource(url).is_some() {
        Ok(())
    } else {
        Err(format!(
            "'{url}' is not a SODA resource URL; it should look like https://<domain>/resource/abcd-1234.json"
        ))
    }
}

/// The dataset id of `/resource/<id>[.json]`.
fn resource(url: &Url) -> Option<String> {
    let mut segments = url.path_segments()?.filter(|s| !s.is_empty());
    segments.find(|s| *s == "resource")?;
    let last = segments.next()?;
    if segments.next().is_some() {
        return None;
    }
    let id = last.strip_suffix(".json").unwrap_or(last);
    let valid = id.len() == 9
        && id.as_bytes()[4] == b'-'
        && id
            .chars()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_alphanumeric());
    valid.then(|| id.to_string())
}

const GEOMETRY_TYPES: [&str; 8] = [
    "point",
    "location",
    "multipoint",
    "line",
    "multiline",
    "polygon",
    "multipolygon",
    "linestring",
];
const NUMBER_TYPES: [&str; 4] = ["number", "double", "money", "percent"];

pub(super) struct SocrataSync {
    resource: Url,
    select: String,
    filter: Option<String>,
    updated_field: String,
    page_size: u32,
    offset: u64,
    token: Option<String>,
    /// Where rows keep their place: named by the source, else found in the column types or the first row.
    place: Option<Place>,
    /// Rows placed at 0, 0, kept without a place.
    zero_places: u64,
    /// Rows whose coordinate columns hold no latitude or longitude, kept without a place.
    unplaced: u64,
    /// Column types from `X-SODA2-Fields`/`X-SODA2-Types`, once seen.
    types: Option<HashMap<String, String>>,
    done: bool,
}

impl SocrataSync {
    pub fn start(
        url: Url,
        source: &SourceSpec,
        since: Option<DateTime<Utc>>,
    ) -> Result<Self, ConnectorError> {
        let spec_error =
            |m: String| ConnectorError::new(ConnectorErrorKind::Spec, url.as_str(), None, m);
        let id = resource(&url).ok_or_else(|| spec_error("not a SODA resource URL".into()))?;
        let mut resource = url.clone();
        resource
            .path_segments_mut()
            .map_err(|()| spec_error("the URL cannot have a path".into()))?
            .pop_if_empty()
            .pop()
            .push(&format!("{id}.json"));
        let updated_field = source
            .options
            .updated_field
            .clone()
            .unwrap_or_else(|| ":updated_at".into());
        let place = source.options.geometry_field.as_deref().map(Place::named);
        let mut columns = vec![":id".to_string()];
        if updated_field.starts_with(':') {
            columns.push(updated_field.clone());
        }
        if source.options.fields.is_empty() {
            columns.push("*".into());
        } else {
            for field in source
                .options
                .fields
                .iter()
                .chain(place.iter().flat_map(Place::columns))
                .chain((!updated_field.starts_with(':')).then_some(&updated_field))
            {
                if !columns.contains(field) {
                    columns.push(field.clone());
                }
            }
        }
        let mut filter = source
            .options
            .filter
            .clone()
            .filter(|f| !f.trim().is_empty());
        if let Some(since) = since {
            let condition = format!(
                "{updated_field} > '{}'",
                since.format("%Y-%m-%dT%H:%M:%S%.3f")
            );
            filter = Some(match filter {
                Some(f) => format!("({f}) AND {condition}"),
                None => condition,
            });
        }
        let page_size = source
            .options
            .page_size
            .unwrap_or(DEFAULT_PAGE)
            .min(MAX_PAGE);
        Ok(Self {
            resource,
            select: columns.join(", "),
            filter,
            updated_field,
            page_size,
            offset: 0,
            token: source.options.app_token.clone().filter(|t| !t.is_empty()),
            place,
            zero_places: 0,
            unplaced: 0,
            types: None,
            done: false,
        })
    }

    fn page_url(&self) -> Url {
        let mut url = self.resource.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("$select", &self.select);
            if let Some(filter) = &self.filter {
                pairs.append_pair("$where", filter);
            }
            pairs
                .append_pair("$order", ":id")
                .append_pair("$limit", &self.page_size.to_string())
                .append_pair("$offset", &self.offset.to_string());
        }
        url
    }

    pub async fn next_page(&mut self, walk: &mut Walk) -> Result<Option<Page>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let url = self.page_url();
        let number = walk.next_number(&url)?;
        let token = self.token.clone();
        let headers: Vec<(&str, &str)> =
            token.iter().map(|t| ("X-App-Token", t.as_str())).collect();
        let (bytes, response_headers) = walk.get(&url, &headers, Some(number)).await?;
        let size = bytes.len() as u64;
        let bad = |kind, m: String| ConnectorError::new(kind, url.as_str(), Some(number), m);
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            bad(
                ConnectorErrorKind::Format,
                format!("the page is not JSON ({e}): {}", body_start(&bytes)),
            )
        })?;
        let rows = match value {
            Value::Array(rows) => rows,
            Value::Object(error) => {
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no message");
                return Err(bad(
                    ConnectorErrorKind::Service,
                    format!("the service answered an error: {message}"),
                ));
            }
            _ => {
                return Err(bad(
                    ConnectorErrorKind::Format,
                    "the page is not a JSON array of rows".into(),
                ));
            }
        };
        if self.types.is_none() {
            self.types = column_types(&response_headers);
            if self.place.is_none() {
                self.place = self.types.as_ref().and_then(|types| {
                    // The header lists columns in no documented order; the choice must not vary by page.
                    let mut geo: Vec<&String> = types
                        .iter()
                        .filter(|(_, t)| GEOMETRY_TYPES.contains(&t.as_str()))
                        .map(|(f, _)| f)
                        .collect();
                    geo.sort();
                    geo.first().map(|f| Place::Column((*f).clone()))
                });
            }
        }
        // Columns named for the place must exist: a misspelt one would leave every row without a place.
        if let (Some(types), Some(place)) = (&self.types, &self.place)
            && let Some(missing) = place.columns().find(|c| !types.contains_key(*c))
        {
            let mut columns: Vec<&String> = types.keys().filter(|c| !c.starts_with(':')).collect();
            columns.sort();
            return Err(ConnectorError::new(
                ConnectorErrorKind::Spec,
                url.as_str(),
                Some(number),
                format!(
                    "the dataset has no column '{missing}' (geometry_field); its columns: {}",
                    columns
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let received = rows.len() as u64;
        let mut features = Vec::with_capacity(rows.len());
        for (index, row) in rows.into_iter().enumerate() {
            match self.feature(row, walk) {
                Ok(feature) => features.push(feature),
                Err(RowError::Unusable(m)) => {
                    return Err(bad(ConnectorErrorKind::Format, format!("row {index}: {m}")));
                }
                Err(RowError::Skipped(m)) => walk.skip(number, m),
            }
        }
        if self.zero_places > 0 && received == 0 {
            walk.warn(format!(
                "{} rows were placed at latitude and longitude 0 (the publisher's \"place unknown\") and were kept without a place",
                self.zero_places
            ));
        }
        self.offset += received;
        // A short page may be the server's own cap (a SODA 2.0 endpoint stops at 1,000 rows, whatever
        // `$limit` asked): only an empty page ends the walk.
        if received == 0 {
            self.done = true;
        }
        walk.accept(
            &url,
            size,
            features,
            "filling every page (so more rows should follow)",
        )
        .map(Some)
    }

    fn feature(&mut self, row: Value, walk: &mut Walk) -> Result<Feature, RowError> {
        let Value::Object(mut row) = row else {
            return Err(RowError::Unusable("a row is not a JSON object".into()));
        };
        let id = match row.get(":id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(RowError::Unusable(
                    "the row has no :id (was it $select-ed?)".into(),
                ));
            }
        };
        if let Some(at) = row
            .get(&self.updated_field)
            .and_then(Value::as_str)
            .and_then(parse_soda_time)
        {
            walk.saw_update(at);
        }
        if self.place.is_none() {
            self.place = row
                .iter()
                .find(|(k, v)| !k.starts_with(':') && looks_spatial(v))
                .map(|(k, _)| Place::Column(k.clone()))
                .or_else(|| coordinate_columns(&row));
        }
        let geometry = match &self.place {
            None => None,
            Some(Place::Column(field)) => match row.shift_remove(field) {
                None | Some(Value::Null) => None,
                Some(value) => {
                    spatial(&value).map_err(|why| RowError::Skipped(format!("row {id}: {why}")))?
                }
            },
            // Kept as properties too: they are the publisher's columns. A value that is not a latitude or
            // longitude ("N/A", 91) leaves the row without a place, as an empty cell does, rather than
            // dropping the row: its other columns are still the publisher's record.
            Some(Place::Pair { lat, lon }) => match spatial_pair(row.get(lat), row.get(lon)) {
                Ok(place) => place,
                Err(why) => {
                    self.unplaced += 1;
                    if self.unplaced == 1 {
                        walk.warn(format!(
                            "rows whose {lat}/{lon} are not a place are kept without one (the first: row {id}: {why})"
                        ));
                    }
                    None
                }
            },
        };
        // Socrata publishers write 0, 0 for "place unknown" (Los Angeles says so): no place, not Null Island.
        let geometry = match geometry {
            Some(Geometry::Point(p)) if p.x() == 0.0 && p.y() == 0.0 => {
                self.zero_places += 1;
                None
            }
            other => other,
        };
        let mut properties = Properties::with_capacity(row.len());
        for (name, value) in row {
            if name.starts_with(':') {
                continue;
            }
            let value = match (&value, &self.types) {
                (Value::String(text), Some(types))
                    if types
                        .get(&name)
                        .is_some_and(|t| NUMBER_TYPES.contains(&t.as_str())) =>
                {
                    number(text).unwrap_or(value)
                }
                _ => value,
            };
            properties.insert(name, value);
        }
        Ok(Feature {
            id: Some(FeatureId(id)),
            geometry,
            time: None,
            properties,
        })
    }
}

/// `X-SODA2-Fields` and `X-SODA2-Types`: JSON arrays naming each column and its type.
fn column_types(headers: &HeaderMap) -> Option<HashMap<String, String>> {
    let read = |name: &str| -> Option<Vec<String>> {
        serde_json::from_str(headers.get(name)?.to_str().ok()?).ok()
    };
    let fields = read("x-soda2-fields")?;
    let types = read("x-soda2-types")?;
    (fields.len() == types.len()).then(|| fields.into_iter().zip(types).collect())
}

/// A SODA number written as a string, as a JSON number when it is one (integers stay integers).
fn number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Number::from_f64(f).map(Value::Number)
}

/// Fixed timestamps are RFC 3339 with `Z`; floating ones carry no zone (read as UTC).
fn parse_soda_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// Names that say a column holds latitudes, and longitudes.
const LATITUDE_NAMES: [&str; 3] = ["latitude", "lat", "y_latitude"];
const LONGITUDE_NAMES: [&str; 5] = ["longitude", "lon", "lng", "long", "x_longitude"];

/// A `geometry_field`: one column, or `latitude_column,longitude_column` (two names, latitude first: a
/// pair whose names say longitude first is refused rather than read with its axes swapped).
pub(super) fn check_geometry_field(field: &str) -> Result<(), String> {
    let Some((lat, lon)) = field.split_once(',') else {
        return Ok(());
    };
    let (lat, lon) = (lat.trim(), lon.trim());
    let plain = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    if !plain(lat) || !plain(lon) {
        return Err(format!(
            "geometry_field '{field}' should be one column, or two as latitude_column,longitude_column"
        ));
    }
    let named = |n: &str, names: &[&str]| names.iter().any(|x| n.eq_ignore_ascii_case(x));
    if named(lat, &LONGITUDE_NAMES) && named(lon, &LATITUDE_NAMES) {
        return Err(format!(
            "geometry_field '{field}' names the longitude first; give latitude first: {lon},{lat}"
        ));
    }
    Ok(())
}

/// Where a dataset's rows keep their place.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    /// A point column (GeoJSON) or an older location column (`latitude`, `longitude`, `human_address`).
    Column(String),
    /// Separate latitude and longitude columns.
    Pair { lat: String, lon: String },
}

impl Place {
    /// A checked `geometry_field`: one column, or `lat,lon`.
    fn named(field: &str) -> Self {
        match field.split_once(',') {
            Some((lat, lon)) => Place::Pair {
                lat: lat.trim().to_string(),
                lon: lon.trim().to_string(),
            },
            None => Place::Column(field.to_string()),
        }
    }

    fn columns(&self) -> impl Iterator<Item = &String> {
        let (first, second) = match self {
            Place::Column(field) => (field, None),
            Place::Pair { lat, lon } => (lat, Some(lon)),
        };
        std::iter::once(first).chain(second)
    }
}

/// Why a row did not become a feature: the page cannot be trusted, or this row alone is left out.
enum RowError {
    Unusable(String),
    Skipped(String),
}

/// Latitude and longitude columns of a row, found by their usual names.
fn coordinate_columns(row: &serde_json::Map<String, Value>) -> Option<Place> {
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| row.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned())
    };
    Some(Place::Pair {
        lat: find(&LATITUDE_NAMES)?,
        lon: find(&LONGITUDE_NAMES)?,
    })
}

fn looks_spatial(value: &Value) -> bool {
    value.get("type").is_some() && value.get("coordinates").is_some()
        || value.get("latitude").is_some() && value.get("longitude").is_some()
}

/// A point column's GeoJSON, or a location column's `latitude`/`longitude` (strings or numbers). A location
/// holding only an address has no place.
fn spatial(value: &Value) -> Result<Option<Geometry<f64>>, String> {
    if value.get("coordinates").is_some() {
        return geoconsole_formats::geometry_from_geojson(value).map(Some);
    }
    match value {
        Value::Object(location) => {
            spatial_pair(location.get("latitude"), location.get("longitude"))
                .map_err(|why| format!("location {why}"))
        }
        _ => Err(format!(
            "not a point or location: {}",
            body_start(value.to_string().as_bytes())
        )),
    }
}

/// A latitude and a longitude, each a number or a string holding one; both missing or empty is no place.
fn spatial_pair(
    latitude: Option<&Value>,
    longitude: Option<&Value>,
) -> Result<Option<Geometry<f64>>, String> {
    let coordinate = |name: &str, value: Option<&Value>| -> Result<Option<f64>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{name} '{s}' is not a number")),
            Some(other) => Err(format!("{name} {other} is not a number")),
        }
    };
    match (
        coordinate("latitude", latitude)?,
        coordinate("longitude", longitude)?,
    ) {
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(format!("({lat}, {lon}) is not a latitude and longitude"));
            }
            Ok(Some(Geometry::Point(Point::new(lon, lat))))
        }
        (None, None) => Ok(None),
        (Some(_), None) => Err("a latitude without a longitude".into()),
        (None, Some(_)) => Err("a longitude without a latitude".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_urls() {
        let id = |u: &str| resource(&Url::parse(u).unwrap());
        assert_eq!(
            id("https://data.cityofchicago.org/resource/ijzp-q8t2.json").as_deref(),
            Some("ijzp-q8t2")
        );
        assert_eq!(
            id("https://data.example/resource/ijzp-q8t2").as_deref(),
            Some("ijzp-q8t2")
        );
        assert_eq!(id("https://data.example/d/ijzp-q8t2"), None);
        assert_eq!(id("https://data.example/resource/not-an-id.json"), None);
    }

    #[test]
    fn points_and_locations() {
        assert_eq!(
            spatial(&json!({"type": "Point", "coordinates": [-87.6, 41.9]})).unwrap(),
            Some(Geometry::Point(Point::new(-87.6, 41.9)))
        );
        assert_eq!(
            spatial(&json!({"latitude": "41.9", "longitude": "-87.6", "human_address": "{}"}))
                .unwrap(),
            Some(Geometry::Point(Point::new(-87.6, 41.9)))
        );
        assert_eq!(
            spatial(&json!({"human_address": "{\"address\": \"1 Main St\"}"})).unwrap(),
            None
        );
        assert!(spatial(&json!({"latitude": "north", "longitude": "-87.6"})).is_err());
        assert!(spatial(&json!({"latitude": "141.9", "longitude": "-87.6"})).is_err());
    }

    #[test]
    fn numbers_and_times() {
        assert_eq!(number("12"), Some(json!(12)));
        assert_eq!(number("12.50"), Some(json!(12.5)));
        assert_eq!(number("n/a"), None);
        assert_eq!(
            parse_soda_time("2024-03-01T10:00:00.000")
                .unwrap()
                .to_rfc3339(),
            "2024-03-01T10:00:00+00:00"
        );
        assert!(parse_soda_time("2024-03-01T10:00:00.000Z").is_some());
    }
}
