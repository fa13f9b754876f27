//! Scripted service origins on loopback for the connectors: an ArcGIS REST FeatureServer layer and a
//! Socrata SODA dataset, each holding N generated rows (deterministic: row `i` is the same in every run), and
//! answering as the published API documentation says, including the behaviours real servers show that a
//! client must survive: `maxRecordCount` caps, layers without pagination, `exceededTransferLimit` on an
//! empty page, a 500 for an unpaged query over a large layer, errors answered with `200 OK`, Esri JSON
//! where geoJSON is not offered, coded-value domains, dates in epoch milliseconds; SODA's default page of
//! 1000, `$order=:id`, numbers written as strings, point and legacy location columns, `X-App-Token`. Every
//! request's query string and headers are recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

type Log = Arc<Mutex<Vec<(String, HeaderMap)>>>;

async fn listen(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn log_request(log: &Log, request: &Request) {
    log.lock().expect("log").push((
        request.uri().query().unwrap_or("").to_string(),
        request.headers().clone(),
    ));
}

// ---------------------------------------------------------------------------------------------- ArcGIS

/// The geometry type of a generated layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerGeometry {
    Point,
    /// A square with a square hole around each row's point.
    Polygon,
}

/// How an ArcGIS layer behaves.
#[derive(Debug, Clone)]
pub struct ArcgisLayer {
    pub features: usize,
    pub max_record_count: usize,
    pub supports_pagination: bool,
    /// Whether `supportedQueryFormats` lists geoJSON; without it `f=geojson` is an error.
    pub geojson: bool,
    pub geometry: LayerGeometry,
    /// Windows of the server's own row order, `max_record_count` rows each, that its spatial-index
    /// filtering empties: a page there comes back with no features and `exceededTransferLimit: true`, as
    /// the REST reference warns can happen.
    pub empty_windows: Vec<usize>,
    /// Paged queries from this offset on are answered `200 OK` with `{"error": …}`.
    pub paging_error_from: Option<usize>,
    /// Paged queries ignore `resultOffset`: the first page again and again, always "more to come".
    pub ignores_offset: bool,
    /// The most rows one answer holds, below the `maxRecordCount` the metadata advertises (servers whose
    /// effective cap differs from the advertised one); more is flagged with `exceededTransferLimit`.
    pub page_cap: Option<usize>,
    /// The `page_cap` is not flagged: a capped page says nothing of more to come (an outside tester's
    /// server, found to truncate a layer silently).
    pub cap_unflagged: bool,
    /// Rows whose geometry cannot be used: their latitude is 95.
    pub broken_oids: Vec<i64>,
    /// The layer is time-enabled: its `timeInfo` names `FLOODED` as each feature's time.
    pub time_enabled: bool,
    /// Every paged answer says `exceededTransferLimit`, past the last row too.
    pub always_more: bool,
}

impl ArcgisLayer {
    /// A point layer of `features` rows that pages by 2000 and speaks geoJSON.
    pub fn new(features: usize) -> Self {
        Self {
            features,
            max_record_count: 2000,
            supports_pagination: true,
            geojson: true,
            geometry: LayerGeometry::Point,
            empty_windows: Vec::new(),
            paging_error_from: None,
            ignores_offset: false,
            page_cap: None,
            cap_unflagged: false,
            broken_oids: Vec::new(),
            time_enabled: false,
            always_more: false,
        }
    }
}

/// The coded-value domain of `ZONE`.
pub const ZONE_NAMES: [(i64, &str); 4] = [
    (1, "Minimal hazard"),
    (2, "Moderate hazard"),
    (3, "High hazard"),
    (4, "Undetermined"),
];
/// `EditDate` of every row until it is edited: 2023-11-14T22:13:20Z, plus up to 99 s.
pub const ARCGIS_EDIT_BASE_MS: i64 = 1_700_000_000_000;

struct ArcgisState {
    layer: ArcgisLayer,
    /// Row `oid - 1`'s attributes, generated once (and changed by edits).
    rows: Arc<Vec<Map<String, Value>>>,
}

pub struct ArcgisOrigin {
    pub url: String,
    state: Arc<Mutex<ArcgisState>>,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ArcgisOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const LAYER_PATH: &str = "/arcgis/rest/services/Flood/FeatureServer/0";
/// Marks a deleted row in the scripted layer (never served: deleted rows match no query).
const DELETED: &str = "__deleted";

impl ArcgisOrigin {
    pub async fn start(layer: ArcgisLayer) -> Self {
        let rows = (1..=layer.features as i64).map(attributes).collect();
        let state = Arc::new(Mutex::new(ArcgisState {
            layer,
            rows: Arc::new(rows),
        }));
        let log: Log = Arc::default();
        let app = Router::new()
            .route(LAYER_PATH, axum::routing::get(arcgis_metadata))
            .route(
                &format!("{LAYER_PATH}/query"),
                axum::routing::get(arcgis_query),
            )
            .with_state((state.clone(), log.clone()));
        let (url, task) = listen(app).await;
        Self {
            url,
            state,
            log,
            task,
        }
    }

    /// The layer's URL (`…/FeatureServer/0`).
    pub fn layer_url(&self) -> String {
        format!("{}{LAYER_PATH}", self.url)
    }

    /// Edits rows: their `DEPTH` grows by 1000 and `EditDate` becomes `at_ms`.
    pub fn edit(&self, oids: &[i64], at_ms: i64) {
        let mut state = self.state.lock().expect("state");
        let rows = Arc::make_mut(&mut state.rows);
        for oid in oids {
            let row = &mut rows[*oid as usize - 1];
            row.insert("DEPTH".into(), json!(raw_depth(*oid) + 1000.0));
            row.insert("EditDate".into(), json!(at_ms));
        }
    }

    /// Deletes rows: they are no longer matched by any query (ids stay unused, as ArcGIS never reuses them).
    pub fn delete(&self, oids: &[i64]) {
        let mut state = self.state.lock().expect("state");
        let rows = Arc::make_mut(&mut state.rows);
        for oid in oids {
            rows[*oid as usize - 1].insert(DELETED.into(), json!(true));
        }
    }

    /// From now on these rows' geometry cannot be used (latitude 95), as when a layer's editor breaks them.
    pub fn break_rows(&self, oids: &[i64]) {
        self.state.lock().expect("state").layer.broken_oids = oids.to_vec();
    }

    /// Brings deleted rows back as they were, with `EditDate` `at_ms` (a row deleted by mistake and restored).
    pub fn restore(&self, oids: &[i64], at_ms: i64) {
        let mut state = self.state.lock().expect("state");
        let rows = Arc::make_mut(&mut state.rows);
        for oid in oids {
            let row = &mut rows[*oid as usize - 1];
            row.remove(DELETED);
            row.insert("EditDate".into(), json!(at_ms));
        }
    }

    /// The query strings of every request, in order (metadata requests included).
    pub fn queries(&self) -> Vec<String> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .map(|(q, _)| q.clone())
            .collect()
    }

    /// Row `oid`'s attributes as the server stores them (codes, epoch milliseconds) and its point.
    pub fn row(&self, oid: i64) -> (Map<String, Value>, (f64, f64)) {
        let state = self.state.lock().expect("state");
        (state.rows[oid as usize - 1].clone(), position(oid))
    }
}

fn raw_depth(oid: i64) -> f64 {
    (oid % 1000) as f64 * 0.25 - 10.0
}

/// Services write coordinates as decimals; micro-degree decimals are also what JSON parsers read back
/// exactly, so the tests can demand equality.
fn micro(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

fn position(oid: i64) -> (f64, f64) {
    (
        micro(-120.0 + (oid % 1000) as f64 * 0.01 + 0.000_123),
        micro(30.0 + (oid / 1000) as f64 * 0.01 + 0.000_456),
    )
}

fn attributes(oid: i64) -> Map<String, Value> {
    let (depth, edited) = (raw_depth(oid), ARCGIS_EDIT_BASE_MS + (oid % 100) * 1000);
    let name = if oid % 7 == 0 {
        format!("Ståndort {oid} – \"quoted\", ✓")
    } else {
        format!("Site {oid}")
    };
    let mut a = Map::new();
    a.insert("OBJECTID".into(), json!(oid));
    a.insert("NAME".into(), json!(name));
    a.insert(
        "ZONE".into(),
        if oid % 13 == 0 {
            Value::Null
        } else {
            json!(oid % 4 + 1)
        },
    );
    a.insert("DEPTH".into(), json!(depth));
    a.insert("COUNTY".into(), json!(format!("{:05}", 6000 + oid % 100)));
    a.insert(
        "FLOODED".into(),
        if oid % 11 == 0 {
            Value::Null
        } else {
            json!(1_600_000_000_000i64 + oid * 60_000)
        },
    );
    a.insert("EditDate".into(), json!(edited));
    a
}

fn square(center: (f64, f64), half: f64, clockwise: bool) -> Vec<[f64; 2]> {
    let (x, y) = center;
    let (west, east, south, north) = (
        micro(x - half),
        micro(x + half),
        micro(y - half),
        micro(y + half),
    );
    let mut ring = vec![
        [west, south],
        [east, south],
        [east, north],
        [west, north],
        [west, south],
    ];
    if clockwise {
        ring.reverse();
    }
    ring
}

fn arcgis_fields() -> Value {
    let domain: Vec<Value> = ZONE_NAMES
        .iter()
        .map(|(code, name)| json!({"name": name, "code": code}))
        .collect();
    json!([
        {"name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID", "domain": null},
        {"name": "NAME", "type": "esriFieldTypeString", "alias": "Name", "length": 80, "domain": null},
        {"name": "ZONE", "type": "esriFieldTypeSmallInteger", "alias": "Zone",
         "domain": {"type": "codedValue", "name": "FloodZone", "codedValues": domain}},
        {"name": "DEPTH", "type": "esriFieldTypeDouble", "alias": "Depth", "domain": null},
        {"name": "COUNTY", "type": "esriFieldTypeString", "alias": "County", "length": 5, "domain": null},
        {"name": "FLOODED", "type": "esriFieldTypeDate", "alias": "Flooded", "length": 8, "domain": null},
        {"name": "EditDate", "type": "esriFieldTypeDate", "alias": "EditDate", "length": 8, "domain": null}
    ])
}

type ArcgisApp = (Arc<Mutex<ArcgisState>>, Log);
/// An object id and its attributes.
type Row<'a> = (i64, &'a Map<String, Value>);

async fn arcgis_metadata(State((state, log)): State<ArcgisApp>, request: Request) -> Response {
    log_request(&log, &request);
    let layer = state.lock().expect("state").layer.clone();
    let geometry_type = match layer.geometry {
        LayerGeometry::Point => "esriGeometryPoint",
        LayerGeometry::Polygon => "esriGeometryPolygon",
    };
    let formats = if layer.geojson {
        "JSON, geoJSON, PBF"
    } else {
        "JSON, AMF"
    };
    json_response(
        StatusCode::OK,
        &json!({
            "currentVersion": 11.1,
            "id": 0,
            "name": "Flood zones",
            "type": "Feature Layer",
            "geometryType": geometry_type,
            "objectIdField": "OBJECTID",
            "globalIdField": "",
            "displayField": "NAME",
            "typeIdField": "",
            "types": [],
            "hasAttachments": false,
            "capabilities": "Query",
            "maxRecordCount": layer.max_record_count,
            "standardMaxRecordCount": layer.max_record_count,
            "supportedQueryFormats": formats,
            "advancedQueryCapabilities": {
                "supportsPagination": layer.supports_pagination,
                "supportsOrderBy": true,
                "supportsDistinct": true,
                "supportsQueryWithResultType": true,
                "supportsReturningGeometryCentroid": false
            },
            "extent": {"xmin": -120.0, "ymin": 30.0, "xmax": -110.0, "ymax": 31.0,
                       "spatialReference": {"wkid": 4326, "latestWkid": 4326}},
            "fields": arcgis_fields(),
            "timeInfo": if layer.time_enabled {
                json!({"startTimeField": "FLOODED", "endTimeField": null, "trackIdField": null,
                       "timeExtent": [1_600_000_000_000_i64, 1_700_000_000_000_i64]})
            } else {
                Value::Null
            }
        }),
    )
}

fn esri_error(code: u16, message: &str, details: &[&str]) -> Value {
    json!({"error": {"code": code, "message": message, "details": details}})
}

/// A small part of standardized SQL: clauses joined by `AND`, each `1=1`, `<field> <op> <number>` or
/// `<field> > timestamp 'YYYY-MM-DD HH:MM:SS'`.
fn arcgis_where(text: &str) -> Result<Vec<(String, String, f64)>, String> {
    let mut clauses = Vec::new();
    for clause in text.split(" AND ") {
        let mut clause = clause.trim();
        while let Some(inner) = clause.strip_prefix('(').and_then(|c| c.strip_suffix(')')) {
            clause = inner.trim();
        }
        if clause == "1=1" {
            continue;
        }
        let mut parts = clause.splitn(3, ' ');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("cannot read '{clause}'"));
        };
        let value = if let Some(ts) = value
            .strip_prefix("timestamp '")
            .and_then(|v| v.strip_suffix('\''))
        {
            chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S")
                .map_err(|e| format!("bad timestamp '{ts}': {e}"))?
                .and_utc()
                .timestamp_millis() as f64
        } else {
            value
                .parse::<f64>()
                .map_err(|_| format!("'{value}' is not a number"))?
        };
        if !matches!(op, ">" | ">=" | "<" | "<=" | "=") {
            return Err(format!("operator '{op}' is not supported here"));
        }
        clauses.push((field.to_string(), op.to_string(), value));
    }
    Ok(clauses)
}

fn matches_where(attributes: &Map<String, Value>, clauses: &[(String, String, f64)]) -> bool {
    clauses.iter().all(|(field, op, value)| {
        let Some(v) = attributes.get(field).and_then(Value::as_f64) else {
            return false;
        };
        match op.as_str() {
            ">" => v > *value,
            ">=" => v >= *value,
            "<" => v < *value,
            "<=" => v <= *value,
            _ => v == *value,
        }
    })
}

async fn arcgis_query(
    State((state, log)): State<ArcgisApp>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    log_request(&log, &request);
    let (layer, all) = {
        let state = state.lock().expect("state");
        (state.layer.clone(), state.rows.clone())
    };
    let param = |name: &str| params.get(name).map(String::as_str);
    let format = param("f").unwrap_or("html");
    let geojson = match format {
        "geojson" if layer.geojson => true,
        "json" | "pjson" => false,
        _ => {
            return json_response(
                StatusCode::OK,
                &esri_error(
                    400,
                    "Invalid or missing input parameters.",
                    &["'f' parameter is invalid"],
                ),
            );
        }
    };
    let clauses = match arcgis_where(param("where").unwrap_or("1=1")) {
        Ok(c) => c,
        Err(e) => {
            return json_response(
                StatusCode::OK,
                &esri_error(
                    400,
                    "Unable to complete operation.",
                    &[&format!("Invalid query: {e}")],
                ),
            );
        }
    };
    let object_ids: Option<Vec<i64>> = param("objectIds").filter(|s| !s.is_empty()).map(|s| {
        s.split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect()
    });
    let object_ids: Option<std::collections::HashSet<i64>> =
        object_ids.map(|ids| ids.into_iter().collect());
    let matched: Vec<Row> = all
        .iter()
        .enumerate()
        .map(|(i, a)| (i as i64 + 1, a))
        .filter(|(oid, a)| {
            !a.contains_key(DELETED)
                && object_ids.as_ref().is_none_or(|ids| ids.contains(oid))
                && matches_where(a, &clauses)
        })
        .collect();
    if param("returnIdsOnly") == Some("true") {
        let ids: Vec<i64> = matched.iter().map(|(oid, _)| *oid).collect();
        return json_response(
            StatusCode::OK,
            &json!({"objectIdFieldName": "OBJECTID", "objectIds": ids}),
        );
    }
    let mrc = layer.max_record_count;
    let offset = param("resultOffset").and_then(|o| o.parse::<usize>().ok());
    let count = param("resultRecordCount").and_then(|c| c.parse::<usize>().ok());
    let paged = layer.supports_pagination && (offset.is_some() || count.is_some());
    let (rows, exceeded): (Vec<&Row>, bool) = if paged {
        let offset = offset.unwrap_or(0);
        let count = count
            .unwrap_or(mrc)
            .min(mrc)
            .min(layer.page_cap.unwrap_or(usize::MAX));
        if layer.paging_error_from.is_some_and(|from| offset >= from) {
            return json_response(
                StatusCode::OK,
                &esri_error(
                    400,
                    "Unable to complete operation.",
                    &["Pagination is not supported for this query."],
                ),
            );
        }
        if layer.ignores_offset {
            (matched.iter().take(count).collect(), true)
        } else {
            // The server's own order: the matched rows with the filtered-out windows among them.
            let mut internal: Vec<Option<usize>> = Vec::with_capacity(matched.len());
            let mut next = 0;
            let mut window = 0;
            while next < matched.len() {
                if layer.empty_windows.contains(&window) {
                    internal.extend(std::iter::repeat_n(None, mrc));
                } else {
                    let end = (next + mrc).min(matched.len());
                    internal.extend((next..end).map(Some));
                    next = end;
                }
                window += 1;
            }
            let end = (offset + count).min(internal.len());
            let rows: Vec<&Row> = internal
                .get(offset.min(internal.len())..end)
                .unwrap_or_default()
                .iter()
                .flatten()
                .map(|i| &matched[*i])
                .collect();
            let capped = layer.cap_unflagged && rows.len() == layer.page_cap.unwrap_or(0);
            (rows, (end < internal.len() && !capped) || layer.always_more)
        }
    } else {
        if matched.len() > mrc {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &esri_error(500, "Error performing query operation", &[]),
            );
        }
        let cap = layer.page_cap.unwrap_or(usize::MAX);
        (matched.iter().take(cap).collect(), matched.len() > cap)
    };
    let body = if geojson {
        let features: Vec<Value> = rows
            .iter()
            .map(|(oid, a)| {
                let at = position(*oid);
                let at = if layer.broken_oids.contains(oid) {
                    (at.0, 95.0)
                } else {
                    at
                };
                let geometry = match layer.geometry {
                    LayerGeometry::Point => json!({"type": "Point", "coordinates": [at.0, at.1]}),
                    LayerGeometry::Polygon => json!({"type": "Polygon", "coordinates": [
                        square(at, 0.004, false), square(at, 0.001, true)
                    ]}),
                };
                json!({"type": "Feature", "id": oid, "geometry": geometry, "properties": a})
            })
            .collect();
        let mut body = json!({"type": "FeatureCollection", "features": features});
        if exceeded {
            body["properties"] = json!({"exceededTransferLimit": true});
        }
        body
    } else {
        let features: Vec<Value> = rows
            .iter()
            .map(|(oid, a)| {
                let at = position(*oid);
                let at = if layer.broken_oids.contains(oid) {
                    (at.0, 95.0)
                } else {
                    at
                };
                let geometry = match layer.geometry {
                    LayerGeometry::Point => json!({"x": at.0, "y": at.1}),
                    LayerGeometry::Polygon => json!({"rings": [
                        square(at, 0.004, true), square(at, 0.001, false)
                    ]}),
                };
                json!({"attributes": a, "geometry": geometry})
            })
            .collect();
        let mut body = json!({
            "objectIdFieldName": "OBJECTID",
            "globalIdFieldName": "",
            "geometryType": match layer.geometry {
                LayerGeometry::Point => "esriGeometryPoint",
                LayerGeometry::Polygon => "esriGeometryPolygon",
            },
            "spatialReference": {"wkid": 4326, "latestWkid": 4326},
            "features": features
        });
        if !rows.is_empty() {
            body["fields"] = arcgis_fields();
        }
        if exceeded {
            body["exceededTransferLimit"] = json!(true);
        }
        body
    };
    json_response(StatusCode::OK, &body)
}

// --------------------------------------------------------------------------------------------- Socrata

/// How a Socrata dataset writes its place column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceColumn {
    /// A `point` column: a GeoJSON point.
    Point,
    /// A legacy `location` column: `latitude`, `longitude` (strings) and `human_address`.
    Location,
    /// No place column: separate `latitude` and `longitude` number columns, both `0` where the place is
    /// unknown (as Los Angeles writes its crime data).
    LatLon,
}

/// A dataset's columns and their SODA types: [`SOCRATA_COLUMNS`], with the place as the dataset writes it.
pub fn socrata_columns(place: PlaceColumn) -> Vec<(&'static str, &'static str)> {
    let mut columns: Vec<(&str, &str)> = SOCRATA_COLUMNS
        .iter()
        .map(|&(name, kind)| match (name, place) {
            ("location", PlaceColumn::Location) => (name, "location"),
            _ => (name, kind),
        })
        .collect();
    if place == PlaceColumn::LatLon {
        columns.retain(|(name, _)| *name != "location");
        columns.extend([("latitude", "number"), ("longitude", "number")]);
    }
    columns
}

#[derive(Debug, Clone)]
pub struct SocrataDataset {
    pub rows: usize,
    pub place: PlaceColumn,
    /// When set, a request with another `X-App-Token` is refused (403); one without is served.
    pub app_token: Option<String>,
    /// `$offset` is ignored: the first page again and again.
    pub ignores_offset: bool,
    /// The most rows one answer holds, whatever `$limit` asked (SODA 2.0 endpoints stop at 1,000).
    pub page_cap: Option<usize>,
}

impl SocrataDataset {
    pub fn new(rows: usize) -> Self {
        Self {
            rows,
            place: PlaceColumn::Point,
            app_token: None,
            ignores_offset: false,
            page_cap: None,
        }
    }
}

/// `:updated_at` of every row until it is edited: 2024-02-01T00:00:00Z, plus up to 99 s.
pub const SOCRATA_UPDATED_BASE: &str = "2024-02-01T00:00:00";

struct SocrataState {
    dataset: SocrataDataset,
    /// Row `i`, generated once (and changed by edits), system fields included.
    rows: Arc<Vec<Map<String, Value>>>,
    /// Row indexes in `:id` order.
    by_id: Arc<Vec<usize>>,
}

pub struct SocrataOrigin {
    pub url: String,
    state: Arc<Mutex<SocrataState>>,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SocrataOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const RESOURCE_PATH: &str = "/resource/crm3-4tka.json";
/// The user columns and their SODA types, in the dataset's order.
pub const SOCRATA_COLUMNS: [(&str, &str); 8] = [
    ("case_number", "text"),
    ("primary_type", "text"),
    ("arrest", "checkbox"),
    ("beat", "text"),
    ("count", "number"),
    ("amount", "number"),
    ("date", "calendar_date"),
    ("location", "point"),
];
const CRIME_TYPES: [&str; 4] = ["THEFT", "BATTERY", "CRIMINAL DAMAGE", "ASSAULT"];

impl SocrataOrigin {
    pub async fn start(dataset: SocrataDataset) -> Self {
        let rows: Vec<Map<String, Value>> = (0..dataset.rows)
            .map(|i| socrata_row(i, dataset.place))
            .collect();
        let mut by_id: Vec<usize> = (0..dataset.rows).collect();
        by_id.sort_by_key(|i| socrata_id(*i));
        let state = Arc::new(Mutex::new(SocrataState {
            dataset,
            rows: Arc::new(rows),
            by_id: Arc::new(by_id),
        }));
        let log: Log = Arc::default();
        let app = Router::new()
            .route(RESOURCE_PATH, axum::routing::get(socrata_query))
            .with_state((state.clone(), log.clone()));
        let (url, task) = listen(app).await;
        Self {
            url,
            state,
            log,
            task,
        }
    }

    pub fn resource_url(&self) -> String {
        format!("{}{RESOURCE_PATH}", self.url)
    }

    /// Edits rows (by index): their `count` becomes 1000 + index and `:updated_at` becomes `at`.
    pub fn edit(&self, rows: &[usize], at: chrono::DateTime<chrono::Utc>) {
        let mut state = self.state.lock().expect("state");
        let all = Arc::make_mut(&mut state.rows);
        for i in rows {
            all[*i].insert("count".into(), json!((1000 + *i as i64).to_string()));
            all[*i].insert(
                ":updated_at".into(),
                json!(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            );
        }
    }

    /// Deletes rows: no query matches them any more.
    pub fn delete(&self, rows: &[usize]) {
        let mut state = self.state.lock().expect("state");
        let all = Arc::make_mut(&mut state.rows);
        for i in rows {
            all[*i].insert(DELETED.into(), json!(true));
        }
    }

    /// Brings deleted rows back with their values as they were and a new `:updated_at` (a system field, so
    /// not among the row's values).
    pub fn restore(&self, rows: &[usize], at: chrono::DateTime<chrono::Utc>) {
        let mut state = self.state.lock().expect("state");
        let all = Arc::make_mut(&mut state.rows);
        for i in rows {
            all[*i].remove(DELETED);
            all[*i].insert(
                ":updated_at".into(),
                json!(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            );
        }
    }

    /// Row `i` as the server holds it, system fields (`:id`, `:updated_at`) included.
    pub fn row(&self, i: usize) -> Map<String, Value> {
        self.state.lock().expect("state").rows[i].clone()
    }

    /// The query string and headers of every request, in order.
    pub fn requests(&self) -> Vec<(String, HeaderMap)> {
        self.log.lock().expect("log").clone()
    }
}

/// A bijection on u32 (an odd multiplier), so ids are unique and their order is not the rows' order.
pub fn socrata_id(i: usize) -> String {
    format!("row-{:08x}", (i as u32).wrapping_mul(2_654_435_761))
}

fn socrata_row(i: usize, column: PlaceColumn) -> Map<String, Value> {
    let base = chrono::NaiveDateTime::parse_from_str(SOCRATA_UPDATED_BASE, "%Y-%m-%dT%H:%M:%S")
        .expect("base")
        .and_utc();
    let (count, updated) = (
        (i % 17) as i64,
        base + chrono::Duration::seconds((i % 100) as i64),
    );
    let lon = micro(-87.9 + (i % 500) as f64 * 0.001 + 0.000_017);
    let lat = micro(41.6 + (i / 500) as f64 * 0.001 + 0.000_031);
    let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time")
        + chrono::Duration::minutes(i as i64);
    let place = if i % 50 == 49 {
        Value::Null
    } else {
        match column {
            PlaceColumn::Point => json!({"type": "Point", "coordinates": [lon, lat]}),
            PlaceColumn::Location => json!({
                "latitude": format!("{lat:.6}"),
                "longitude": format!("{lon:.6}"),
                "human_address": "{\"address\": \"\", \"city\": \"\", \"state\": \"\", \"zip\": \"\"}"
            }),
            PlaceColumn::LatLon => Value::Null,
        }
    };
    let mut row = Map::new();
    row.insert(":id".into(), json!(socrata_id(i)));
    row.insert(
        ":updated_at".into(),
        json!(updated.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
    );
    row.insert("case_number".into(), json!(format!("JG{i:06}")));
    row.insert("primary_type".into(), json!(CRIME_TYPES[i % 4]));
    row.insert("arrest".into(), json!(i.is_multiple_of(3)));
    row.insert("beat".into(), json!(format!("0{}", i % 900 + 100)));
    row.insert("count".into(), json!(count.to_string()));
    row.insert(
        "amount".into(),
        json!(format!("{:.2}", (i % 1000) as f64 * 0.25)),
    );
    row.insert(
        "date".into(),
        json!(date.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
    );
    if column == PlaceColumn::LatLon {
        let (lat, lon) = if i % 50 == 49 {
            ("0".to_string(), "0".to_string())
        } else if i % 97 == 96 {
            // A publisher's "no value" in a number column.
            ("N/A".to_string(), format!("{lon:.6}"))
        } else {
            (format!("{lat:.6}"), format!("{lon:.6}"))
        };
        row.insert("latitude".into(), json!(lat));
        row.insert("longitude".into(), json!(lon));
    } else {
        row.insert("location".into(), place);
    }
    row
}

fn soda_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"code": code, "error": true, "message": message, "data": {}}),
    )
}

/// The SoQL this origin understands in `$where`: conditions joined by `AND`, each `:updated_at > '…'` or
/// `<column> = '<text>'`.
fn soda_where(text: &str, row: &Map<String, Value>) -> Result<bool, String> {
    for clause in text.split(" AND ") {
        let mut clause = clause.trim();
        while let Some(inner) = clause.strip_prefix('(').and_then(|c| c.strip_suffix(')')) {
            clause = inner.trim();
        }
        let mut parts = clause.splitn(3, ' ');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("could not parse '{clause}'"));
        };
        let literal = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(|| format!("'{value}' is not a quoted literal"))?;
        let have = row
            .get(field)
            .ok_or_else(|| format!("No such column: {field}"))?;
        let ok = match op {
            "=" => have.as_str() == Some(literal),
            ">" => {
                let parse = |t: &str| {
                    chrono::NaiveDateTime::parse_from_str(
                        t.trim_end_matches('Z'),
                        "%Y-%m-%dT%H:%M:%S%.f",
                    )
                    .map_err(|e| format!("'{t}' is not a timestamp: {e}"))
                };
                parse(have.as_str().unwrap_or(""))? > parse(literal)?
            }
            _ => return Err(format!("operator '{op}' is not supported here")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

type SocrataApp = (Arc<Mutex<SocrataState>>, Log);

async fn socrata_query(
    State((state, log)): State<SocrataApp>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    log_request(&log, &request);
    let (dataset, all, by_id) = {
        let state = state.lock().expect("state");
        (
            state.dataset.clone(),
            state.rows.clone(),
            state.by_id.clone(),
        )
    };
    if let Some(token) = &dataset.app_token
        && let Some(sent) = request.headers().get("x-app-token")
        && sent.as_bytes() != token.as_bytes()
    {
        return soda_error(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "Invalid app_token specified",
        );
    }
    let param = |name: &str| params.get(name).map(String::as_str);
    let limit = match param("$limit").map(str::parse::<usize>) {
        None => 1000,
        Some(Ok(l)) if l <= 50_000 => l,
        Some(_) => {
            return soda_error(
                StatusCode::BAD_REQUEST,
                "query.soql.invalid-limit",
                "$limit must be at most 50000",
            );
        }
    };
    let offset = param("$offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let columns = socrata_columns(dataset.place);
    let mut select: Vec<String> = Vec::new();
    for column in param("$select").unwrap_or("*").split(',') {
        match column.trim() {
            "*" => select.extend(columns.iter().map(|(c, _)| c.to_string())),
            ":*" => select.extend([":id".to_string(), ":updated_at".to_string()]),
            c if c == ":id" || c == ":updated_at" || columns.iter().any(|(n, _)| *n == c) => {
                select.push(c.to_string());
            }
            c => {
                return soda_error(
                    StatusCode::BAD_REQUEST,
                    "query.soql.no-such-column",
                    &format!("No such column: {c}"),
                );
            }
        }
    }
    // Without $order the rows come in storage order; paging that is not stable on a real server.
    let order: Vec<usize> = if param("$order") == Some(":id") {
        by_id.to_vec()
    } else {
        (0..all.len()).collect()
    };
    let mut rows: Vec<&Map<String, Value>> = Vec::new();
    for i in order {
        let row = &all[i];
        if row.contains_key(DELETED) {
            continue;
        }
        match param("$where").map(|w| soda_where(w, row)) {
            None | Some(Ok(true)) => rows.push(row),
            Some(Ok(false)) => {}
            Some(Err(e)) => {
                return soda_error(StatusCode::BAD_REQUEST, "query.soql.type-mismatch", &e);
            }
        }
    }
    let start = if dataset.ignores_offset { 0 } else { offset };
    let page: Vec<Value> = rows
        .into_iter()
        .skip(start)
        .take(limit.min(dataset.page_cap.unwrap_or(usize::MAX)))
        .map(|row| {
            Value::Object(
                select
                    .iter()
                    .filter_map(|c| {
                        let v = row.get(c)?;
                        // SODA leaves null cells out of the row.
                        (!v.is_null()).then(|| (c.clone(), v.clone()))
                    })
                    .collect(),
            )
        })
        .collect();
    let types: Vec<&str> = select
        .iter()
        .map(|c| {
            columns
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, t)| *t)
                .unwrap_or("meta_data")
        })
        .collect();
    let mut response = json_response(StatusCode::OK, &Value::Array(page));
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-soda2-fields", json!(select).to_string()),
        ("x-soda2-types", json!(types).to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
