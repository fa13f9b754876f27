//! Scripted OGC origins on loopback: an OGC API – Features service (OGC 17-069r4, with Part 3 filtering by
//! CQL2 text where switched on) and a WFS 2.0 service (OGC 09-025r2, FES 2.0 filters, GML 3.2 and GeoJSON
//! output) answering as a MapServer CGI endpoint does (`/cgi-bin/mapserv?map=…`). Both hold the same N
//! generated sites (row `gid` is the same in every run) and have switches for the behaviours a client must
//! survive: capped `limit`, opaque cursors in next links, relative links, a next link that repeats, the
//! conformance declaration only reachable by the landing page's link; no result paging, GML only, only
//! `urn:ogc:def:crs:EPSG::4326` (latitude first), an order that changes between requests without `SORTBY`,
//! exception reports, a server that ignores `STARTINDEX`. Every request's path, query and headers are
//! recorded.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::services::LayerGeometry;

type Log = Arc<Mutex<Vec<(String, String, HeaderMap)>>>;

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

fn log_request(log: &Log, request: &Request) {
    log.lock().expect("log").push((
        request.uri().path().to_string(),
        request.uri().query().unwrap_or("").to_string(),
        request.headers().clone(),
    ));
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    let query = request.uri().query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

// ------------------------------------------------------------------------------------------------- sites

/// `updated` of every site until it is edited: 2024-02-01T00:00:00Z, plus up to 99 s.
pub const OGC_UPDATED_BASE: &str = "2024-02-01T00:00:00Z";

fn micro(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Site `gid`'s position, longitude and latitude, to the micro-degree.
pub fn ogc_position(gid: i64) -> (f64, f64) {
    (
        micro(5.0 + (gid % 1000) as f64 * 0.01 + 0.000_123),
        micro(45.0 + (gid / 1000) as f64 * 0.01 + 0.000_456),
    )
}

/// Site `gid`'s properties as the origins hold them.
pub fn ogc_site(gid: i64) -> Map<String, Value> {
    let base = chrono::DateTime::parse_from_rfc3339(OGC_UPDATED_BASE).expect("base");
    let updated = base + chrono::Duration::seconds(gid % 100);
    let name = if gid % 7 == 0 {
        format!("Ståndort {gid} – \"quoted\" <&> ✓")
    } else {
        format!("Site {gid}")
    };
    let mut p = Map::new();
    p.insert("gid".into(), json!(gid));
    p.insert("name".into(), json!(name));
    p.insert(
        "zone".into(),
        if gid % 13 == 0 {
            Value::Null
        } else {
            json!(gid % 4 + 1)
        },
    );
    p.insert("depth".into(), json!((gid % 1000) as f64 * 0.25 - 10.0));
    p.insert("county".into(), json!(format!("{:05}", 6000 + gid % 100)));
    p.insert("active".into(), json!(gid % 3 == 0));
    p.insert(
        "updated".into(),
        json!(updated.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    );
    p
}

/// A square around `center` (`half` degrees each way), counter-clockwise or clockwise, closed.
fn square(center: (f64, f64), half: f64, clockwise: bool) -> Vec<(f64, f64)> {
    let (x, y) = center;
    let (w, e, s, n) = (
        micro(x - half),
        micro(x + half),
        micro(y - half),
        micro(y + half),
    );
    let mut ring = vec![(w, s), (e, s), (e, n), (w, n), (w, s)];
    if clockwise {
        ring.reverse();
    }
    ring
}

fn geojson_geometry(gid: i64, kind: LayerGeometry, lat_first: bool) -> Value {
    let at = ogc_position(gid);
    let pos = |(x, y): (f64, f64)| {
        if lat_first {
            json!([y, x])
        } else {
            json!([x, y])
        }
    };
    match kind {
        LayerGeometry::Point => json!({"type": "Point", "coordinates": pos(at)}),
        LayerGeometry::Polygon => {
            let ring = |r: Vec<(f64, f64)>| Value::Array(r.into_iter().map(pos).collect());
            json!({"type": "Polygon", "coordinates": [
                ring(square(at, 0.004, false)), ring(square(at, 0.001, true))
            ]})
        }
    }
}

#[derive(Clone)]
struct Sites {
    rows: Vec<Map<String, Value>>,
}

impl Sites {
    fn new(n: usize) -> Self {
        Self {
            rows: (1..=n as i64).map(ogc_site).collect(),
        }
    }

    fn edit(&mut self, gids: &[i64], at: &str) {
        for gid in gids {
            let row = &mut self.rows[*gid as usize - 1];
            row.insert(
                "depth".into(),
                json!(((*gid % 1000) as f64) * 0.25 + 1000.0),
            );
            row.insert("updated".into(), json!(at));
        }
    }
}

fn time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.to_utc())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

// -------------------------------------------------------------------------------------- OGC API Features

/// How an OGC API – Features collection behaves.
#[derive(Debug, Clone)]
pub struct OapifCollection {
    pub features: usize,
    /// The most a page holds whatever `limit` asks (Part 1 lets servers lower it silently).
    pub max_limit: usize,
    /// Next links carry an opaque cursor rather than an offset.
    pub opaque_cursors: bool,
    /// Next links are relative (`items?…`).
    pub relative_links: bool,
    /// Declares Part 3 filtering with CQL2 text, and answers `filter`.
    pub filtering: bool,
    /// The queryables mark `updated` as the collection's primary instant.
    pub temporal_queryable: bool,
    /// From the second page on, the next link points at the second page again.
    pub repeating_next: bool,
    /// `/conformance` is not there; the landing page links the declaration elsewhere.
    pub conformance_link_only: bool,
    /// Pages say `numberMatched`.
    pub number_matched: bool,
    pub geometry: LayerGeometry,
    /// Features carry no `id` (their `gid` property tells them apart).
    pub without_ids: bool,
    /// Features whose point has latitude 95.
    pub broken_gids: Vec<i64>,
}

impl OapifCollection {
    pub fn new(features: usize) -> Self {
        Self {
            features,
            max_limit: 10_000,
            opaque_cursors: true,
            relative_links: false,
            filtering: true,
            temporal_queryable: true,
            repeating_next: false,
            conformance_link_only: false,
            number_matched: true,
            geometry: LayerGeometry::Point,
            without_ids: false,
            broken_gids: Vec::new(),
        }
    }
}

struct OapifState {
    collection: OapifCollection,
    sites: Arc<Sites>,
}

type OapifApp = (Arc<Mutex<OapifState>>, Log, String);

pub struct OapifOrigin {
    pub url: String,
    state: Arc<Mutex<OapifState>>,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OapifOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const OAPIF_BASE: &str = "/ogc";
const COLLECTION: &str = "sites";

impl OapifOrigin {
    pub async fn start(collection: OapifCollection) -> Self {
        let sites = Arc::new(Sites::new(collection.features));
        let state = Arc::new(Mutex::new(OapifState { collection, sites }));
        let log: Log = Arc::default();
        // The origin's own address is only known once it listens; links are built per request from Host.
        let app = Router::new().fallback(oapif_answer).with_state((
            state.clone(),
            log.clone(),
            String::new(),
        ));
        let (url, task) = listen(app).await;
        Self {
            url,
            state,
            log,
            task,
        }
    }

    /// The collection's URL (`…/ogc/collections/sites`).
    pub fn collection_url(&self) -> String {
        format!("{}{OAPIF_BASE}/collections/{COLLECTION}", self.url)
    }

    /// Edits sites: their `depth` grows by 1010 and `updated` becomes `at` (RFC 3339).
    pub fn edit(&self, gids: &[i64], at: &str) {
        let mut state = self.state.lock().expect("state");
        Arc::make_mut(&mut state.sites).edit(gids, at);
    }

    /// Site `gid`'s properties as the server holds them.
    pub fn row(&self, gid: i64) -> Map<String, Value> {
        self.state.lock().expect("state").sites.rows[gid as usize - 1].clone()
    }

    /// The path, query string and headers of every request, in order.
    pub fn requests(&self) -> Vec<(String, String, HeaderMap)> {
        self.log.lock().expect("log").clone()
    }

    /// The query strings of the item requests, in order.
    pub fn item_queries(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|(p, _, _)| p.ends_with("/items"))
            .map(|(_, q, _)| q)
            .collect()
    }
}

fn ogc_json(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

fn ogc_exception(status: StatusCode, code: &str, description: &str) -> Response {
    ogc_json(
        status,
        "application/json",
        &json!({"code": code, "description": description}),
    )
}

const CONFORMANCE_CORE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];
const CONFORMANCE_FILTER: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
];

async fn oapif_answer(State((state, log, _)): State<OapifApp>, request: Request) -> Response {
    log_request(&log, &request);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let root = format!("http://{host}{OAPIF_BASE}");
    let (collection, sites) = {
        let state = state.lock().expect("state");
        (state.collection.clone(), state.sites.clone())
    };
    let params = query_pairs(&request);
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("f").is_some_and(|f| f != "json") {
        return ogc_exception(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "f must be json here",
        );
    }
    let path = request.uri().path().to_string();
    let conformance_path = if collection.conformance_link_only {
        format!("{OAPIF_BASE}/api/conformance-declaration")
    } else {
        format!("{OAPIF_BASE}/conformance")
    };
    let items_path = format!("{OAPIF_BASE}/collections/{COLLECTION}/items");
    let collection_path = format!("{OAPIF_BASE}/collections/{COLLECTION}");
    let json_type = "application/json";
    if path == OAPIF_BASE || path == format!("{OAPIF_BASE}/") {
        return ogc_json(
            StatusCode::OK,
            json_type,
            &json!({
                "title": "Sites",
                "links": [
                    {"rel": "self", "type": json_type, "href": format!("{root}?f=json")},
                    {"rel": "conformance", "type": "text/html", "href": format!("http://{host}{conformance_path}?f=html")},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance", "type": json_type,
                     "href": format!("http://{host}{conformance_path}?f=json")},
                    {"rel": "data", "type": json_type, "href": format!("{root}/collections?f=json")}
                ]
            }),
        );
    }
    if path == conformance_path {
        let mut classes: Vec<&str> = CONFORMANCE_CORE.to_vec();
        if collection.filtering {
            classes.extend(CONFORMANCE_FILTER);
        }
        return ogc_json(StatusCode::OK, json_type, &json!({"conformsTo": classes}));
    }
    if path == collection_path {
        return ogc_json(
            StatusCode::OK,
            json_type,
            &json!({
                "id": COLLECTION,
                "title": "Sites",
                "itemType": "feature",
                "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
                "extent": {
                    "spatial": {"bbox": [[5.0, 45.0, 15.0, 46.0]]},
                    "temporal": {"interval": [["2024-02-01T00:00:00Z", null]]}
                },
                "links": [
                    {"rel": "self", "type": json_type, "href": format!("{root}/collections/{COLLECTION}?f=json")},
                    {"rel": "items", "type": "application/geo+json", "href": format!("{root}/collections/{COLLECTION}/items?f=json")},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
                     "href": format!("{root}/collections/{COLLECTION}/queryables?f=json")}
                ]
            }),
        );
    }
    if path == format!("{collection_path}/queryables") {
        let mut updated = json!({"type": "string", "format": "date-time", "title": "Last update"});
        if collection.temporal_queryable {
            updated["x-ogc-role"] = json!("primary-instant");
        }
        return ogc_json(
            StatusCode::OK,
            "application/schema+json",
            &json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "gid": {"type": "integer"},
                    "name": {"type": "string"},
                    "zone": {"type": "integer"},
                    "updated": updated,
                    "created": {"type": "string", "format": "date-time"}
                }
            }),
        );
    }
    if path != items_path {
        return ogc_exception(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("no resource at {path}"),
        );
    }
    oapif_items(&collection, &sites, &params, &root)
}

/// Clauses of the CQL2 text this origin understands, joined by `AND`: `"updated" > TIMESTAMP('…')` (quoted
/// or not), `zone = 3`, `name = 'Site 7'`.
fn cql2(text: &str, row: &Map<String, Value>) -> Result<bool, String> {
    for clause in text.split(" AND ") {
        let mut clause = clause.trim();
        while let Some(inner) = clause.strip_prefix('(').and_then(|c| c.strip_suffix(')')) {
            clause = inner.trim();
        }
        let mut parts = clause.splitn(3, ' ');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("cannot parse '{clause}'"));
        };
        let field = field.trim_matches('"');
        let have = row
            .get(field)
            .ok_or_else(|| format!("'{field}' is not a queryable"))?;
        let ok = if let Some(ts) = value
            .strip_prefix("TIMESTAMP('")
            .and_then(|v| v.strip_suffix("')"))
        {
            let limit = time(ts).ok_or_else(|| format!("bad timestamp '{ts}'"))?;
            let have = have.as_str().and_then(time);
            match op {
                ">" => have.is_some_and(|h| h > limit),
                ">=" => have.is_some_and(|h| h >= limit),
                "<" => have.is_some_and(|h| h < limit),
                _ => return Err(format!("operator '{op}' is not supported here")),
            }
        } else if let Some(text) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            op == "=" && have.as_str() == Some(text)
        } else {
            let n: f64 = value
                .parse()
                .map_err(|_| format!("'{value}' is not a literal"))?;
            match op {
                "=" => have.as_f64() == Some(n),
                ">" => have.as_f64().is_some_and(|h| h > n),
                "<" => have.as_f64().is_some_and(|h| h < n),
                _ => return Err(format!("operator '{op}' is not supported here")),
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn in_datetime(text: &str, row: &Map<String, Value>) -> Result<bool, String> {
    let have = row
        .get("updated")
        .and_then(Value::as_str)
        .and_then(time)
        .ok_or("no updated time")?;
    let end = |t: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
        if t.is_empty() || t == ".." {
            Ok(None)
        } else {
            time(t)
                .map(Some)
                .ok_or_else(|| format!("'{t}' is not a time"))
        }
    };
    Ok(match text.split_once('/') {
        Some((a, b)) => end(a)?.is_none_or(|a| have >= a) && end(b)?.is_none_or(|b| have <= b),
        None => Some(have) == end(text)?,
    })
}

fn cursor(offset: usize) -> String {
    format!("c{:x}z", (offset as u64) * 7919 + 13)
}

fn uncursor(token: &str) -> Option<usize> {
    let n = u64::from_str_radix(token.strip_prefix('c')?.strip_suffix('z')?, 16).ok()?;
    ((n - 13) % 7919 == 0).then(|| ((n - 13) / 7919) as usize)
}

fn oapif_items(
    collection: &OapifCollection,
    sites: &Sites,
    params: &[(String, String)],
    root: &str,
) -> Response {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    const KNOWN: [&str; 8] = [
        "f",
        "limit",
        "bbox",
        "datetime",
        "filter",
        "filter-lang",
        "cursor",
        "offset",
    ];
    if let Some((unknown, _)) = params.iter().find(|(k, _)| !KNOWN.contains(&k.as_str())) {
        return ogc_exception(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            &format!("Unknown query parameter: {unknown}"),
        );
    }
    let bad = |m: String| ogc_exception(StatusCode::BAD_REQUEST, "InvalidParameterValue", &m);
    let limit = match param("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(l)) if (1..=10_000).contains(&l) => l,
        Some(_) => return bad("limit must be 1 to 10000".into()),
    }
    .min(collection.max_limit);
    let offset = if collection.opaque_cursors {
        if param("offset").is_some() {
            return bad("Unknown query parameter: offset".into());
        }
        match param("cursor") {
            None => 0,
            Some(c) => match uncursor(c) {
                Some(o) => o,
                None => return bad(format!("cursor '{c}' is not valid")),
            },
        }
    } else {
        if param("cursor").is_some() {
            return bad("Unknown query parameter: cursor".into());
        }
        match param("offset").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(o)) => o,
            Some(Err(_)) => return bad("offset is not a number".into()),
        }
    };
    let bbox = match param("bbox") {
        None => None,
        Some(b) => {
            let n: Vec<f64> = b.split(',').filter_map(|v| v.parse().ok()).collect();
            if n.len() != 4 {
                return bad(format!("bbox '{b}' is not four numbers"));
            }
            Some((n[0], n[1], n[2], n[3]))
        }
    };
    let filter = param("filter");
    if filter.is_some() {
        if !collection.filtering {
            return bad("Unknown query parameter: filter".into());
        }
        if param("filter-lang").is_some_and(|l| l != "cql2-text") {
            return bad("filter-lang must be cql2-text".into());
        }
    }
    let mut matched: Vec<(i64, &Map<String, Value>)> = Vec::new();
    for (i, row) in sites.rows.iter().enumerate() {
        let gid = i as i64 + 1;
        if let Some((w, s, e, n)) = bbox {
            let (x, y) = ogc_position(gid);
            if x < w || x > e || y < s || y > n {
                continue;
            }
        }
        if let Some(d) = param("datetime") {
            match in_datetime(d, row) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => return bad(e),
            }
        }
        if let Some(f) = filter {
            match cql2(f, row) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => return bad(e),
            }
        }
        matched.push((gid, row));
    }
    let end = (offset + limit).min(matched.len());
    let page = matched
        .get(offset.min(matched.len())..end)
        .unwrap_or_default();
    let features: Vec<Value> = page
        .iter()
        .map(|(gid, row)| {
            let geometry = if collection.broken_gids.contains(gid) {
                json!({"type": "Point", "coordinates": [10.0, 95.0]})
            } else {
                geojson_geometry(*gid, collection.geometry, false)
            };
            let mut feature = json!({
                "type": "Feature",
                "id": gid,
                "geometry": geometry,
                "properties": row
            });
            if collection.without_ids
                && let Some(f) = feature.as_object_mut()
            {
                f.remove("id");
            }
            feature
        })
        .collect();
    let position = |offset: usize| {
        if collection.opaque_cursors {
            ("cursor", cursor(offset))
        } else {
            ("offset", offset.to_string())
        }
    };
    let link = |f: &str, at: Option<usize>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("f", f);
        for (k, v) in params {
            if !matches!(k.as_str(), "f" | "cursor" | "offset") {
                query.append_pair(k, v);
            }
        }
        if let Some(at) = at {
            let (k, v) = position(at);
            query.append_pair(k, &v);
        }
        let query = query.finish();
        if collection.relative_links {
            format!("items?{query}")
        } else {
            format!("{root}/collections/{COLLECTION}/items?{query}")
        }
    };
    let mut links = vec![
        json!({"rel": "self", "type": "application/geo+json", "href": link("json", (offset > 0).then_some(offset))}),
        json!({"rel": "alternate", "type": "text/html", "href": link("html", (offset > 0).then_some(offset))}),
    ];
    let next = if collection.repeating_next && offset >= limit {
        Some(limit)
    } else {
        (end < matched.len()).then_some(end)
    };
    if let Some(next) = next {
        links.push(json!({"rel": "next", "type": "text/html", "href": link("html", Some(next))}));
        links.push(json!({"rel": "next", "type": "application/geo+json", "href": link("json", Some(next))}));
    }
    let mut body = json!({
        "type": "FeatureCollection",
        "timeStamp": "2024-03-01T00:00:00Z",
        "numberReturned": features.len(),
        "features": features,
        "links": links
    });
    if collection.number_matched {
        body["numberMatched"] = json!(matched.len());
    }
    ogc_json(StatusCode::OK, "application/geo+json", &body)
}

// ----------------------------------------------------------------------------------------------- WFS 2.0

/// How a WFS 2.0 feature type behaves.
#[derive(Debug, Clone)]
pub struct WfsLayer {
    pub features: usize,
    /// `ImplementsResultPaging`: without it `STARTINDEX` is ignored.
    pub paging: bool,
    /// `CountDefault`: the most one answer holds.
    pub count_default: Option<usize>,
    /// Offers `application/json` output beside GML 3.2.
    pub json: bool,
    /// Offers CRS84 beside `urn:ogc:def:crs:EPSG::4326`; without it coordinates come latitude first.
    pub crs84: bool,
    /// `ImplementsSorting`; a server that sorts returns rows in an order that changes between requests
    /// unless `SORTBY` is given (as databases without `ORDER BY` do). One that does not sort refuses
    /// `SORTBY` and keeps its storage order.
    pub sorting: bool,
    pub geometry: LayerGeometry,
    /// GetFeature answers an exception report with this status and text.
    pub exception: Option<(u16, String)>,
    /// `STARTINDEX` is ignored: the first page again and again.
    pub ignores_start_index: bool,
    /// GeoJSON asked for in `urn:ogc:def:crs:EPSG::4326` names it in a `crs` member and comes latitude
    /// first (GeoServer); without, it has no `crs` member and comes longitude first (MapServer, whose
    /// GeoJSON GDAL writes).
    pub json_crs_member: bool,
}

impl WfsLayer {
    pub fn new(features: usize) -> Self {
        Self {
            features,
            paging: true,
            count_default: Some(5000),
            json: true,
            crs84: true,
            sorting: true,
            geometry: LayerGeometry::Point,
            exception: None,
            ignores_start_index: false,
            json_crs_member: true,
        }
    }
}

struct WfsState {
    layer: WfsLayer,
    sites: Arc<Sites>,
}

type WfsApp = (Arc<Mutex<WfsState>>, Log, Arc<AtomicU64>);

pub struct WfsOrigin {
    pub url: String,
    state: Arc<Mutex<WfsState>>,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WfsOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const WFS_PATH: &str = "/cgi-bin/mapserv";
/// The map file the endpoint needs in `map=`, as MapServer does.
pub const WFS_MAP: &str = "/srv/maps/sites.map";
pub const WFS_TYPE: &str = "ms:sites";
const URN_4326: &str = "urn:ogc:def:crs:EPSG::4326";
const URN_CRS84: &str = "urn:ogc:def:crs:OGC:1.3:CRS84";
const GML32_FORMAT: &str = "application/gml+xml; version=3.2";

impl WfsOrigin {
    pub async fn start(layer: WfsLayer) -> Self {
        let sites = Arc::new(Sites::new(layer.features));
        let state = Arc::new(Mutex::new(WfsState { layer, sites }));
        let log: Log = Arc::default();
        let app = Router::new()
            .route(WFS_PATH, axum::routing::get(wfs_answer))
            .with_state((state.clone(), log.clone(), Arc::new(AtomicU64::new(0))));
        let (url, task) = listen(app).await;
        Self {
            url,
            state,
            log,
            task,
        }
    }

    /// The endpoint with its map parameter, as a MapServer WFS is given.
    pub fn endpoint(&self) -> String {
        format!("{}{WFS_PATH}?map={WFS_MAP}", self.url)
    }

    /// Edits sites: their `depth` grows by 1010 and `updated` becomes `at` (RFC 3339).
    pub fn edit(&self, gids: &[i64], at: &str) {
        let mut state = self.state.lock().expect("state");
        Arc::make_mut(&mut state.sites).edit(gids, at);
    }

    pub fn row(&self, gid: i64) -> Map<String, Value> {
        self.state.lock().expect("state").sites.rows[gid as usize - 1].clone()
    }

    /// The query strings of every request, in order.
    pub fn queries(&self) -> Vec<String> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .map(|(_, q, _)| q.clone())
            .collect()
    }

    /// The GetFeature requests' parameters (keys in upper case), in order.
    pub fn get_features(&self) -> Vec<HashMap<String, String>> {
        self.queries()
            .iter()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.to_ascii_uppercase(), v.into_owned()))
                    .collect::<HashMap<_, _>>()
            })
            .filter(|p| p.get("REQUEST").map(String::as_str) == Some("GetFeature"))
            .collect()
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_response(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// An OWS 1.1 exception report, as WFS 2.0 servers send them.
pub fn ows_exception(code: &str, locator: &str, text: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="2.0.0" xml:lang="en-US">
  <ows:Exception exceptionCode="{}" locator="{}">
    <ows:ExceptionText>{}</ows:ExceptionText>
  </ows:Exception>
</ows:ExceptionReport>"#,
        xml_escape(code),
        xml_escape(locator),
        xml_escape(text)
    )
}

fn wfs_exception(status: StatusCode, code: &str, locator: &str, text: &str) -> Response {
    xml_response(status, "text/xml", ows_exception(code, locator, text))
}

fn capabilities(layer: &WfsLayer, endpoint: &str) -> String {
    let bool_text = |b: bool| if b { "TRUE" } else { "FALSE" };
    let mut formats = vec![GML32_FORMAT, "text/xml; subtype=gml/3.2.1"];
    if layer.json {
        formats.push("application/json; subtype=geojson");
    }
    let format_values: String = formats
        .iter()
        .map(|f| format!("<ows:Value>{}</ows:Value>", xml_escape(f)))
        .collect();
    let type_formats: String = formats
        .iter()
        .map(|f| format!("<wfs:Format>{}</wfs:Format>", xml_escape(f)))
        .collect();
    let count_default = layer
        .count_default
        .map(|c| {
            format!(
                r#"<ows:Constraint name="CountDefault"><ows:NoValues/><ows:DefaultValue>{c}</ows:DefaultValue></ows:Constraint>"#
            )
        })
        .unwrap_or_default();
    let other_crs = if layer.crs84 {
        format!("<wfs:OtherCRS>{URN_CRS84}</wfs:OtherCRS>")
    } else {
        String::new()
    };
    let href = xml_escape(endpoint);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wfs:WFS_Capabilities xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:ms="http://mapserver.gis.umn.edu/mapserver" version="2.0.0">
  <ows:ServiceIdentification><ows:Title>Sites</ows:Title><ows:ServiceType codeSpace="OGC">WFS</ows:ServiceType><ows:ServiceTypeVersion>2.0.0</ows:ServiceTypeVersion></ows:ServiceIdentification>
  <ows:OperationsMetadata>
    <ows:Operation name="GetCapabilities"><ows:DCP><ows:HTTP><ows:Get xlink:href="{href}&amp;"/></ows:HTTP></ows:DCP></ows:Operation>
    <ows:Operation name="DescribeFeatureType"><ows:DCP><ows:HTTP><ows:Get xlink:href="{href}&amp;"/></ows:HTTP></ows:DCP></ows:Operation>
    <ows:Operation name="GetFeature">
      <ows:DCP><ows:HTTP><ows:Get xlink:href="{href}&amp;"/></ows:HTTP></ows:DCP>
      <ows:Parameter name="outputFormat"><ows:AllowedValues>{format_values}</ows:AllowedValues></ows:Parameter>
    </ows:Operation>
    <ows:Constraint name="ImplementsBasicWFS"><ows:NoValues/><ows:DefaultValue>TRUE</ows:DefaultValue></ows:Constraint>
    <ows:Constraint name="ImplementsResultPaging"><ows:NoValues/><ows:DefaultValue>{paging}</ows:DefaultValue></ows:Constraint>
    <ows:Constraint name="KVPEncoding"><ows:NoValues/><ows:DefaultValue>TRUE</ows:DefaultValue></ows:Constraint>
    {count_default}
  </ows:OperationsMetadata>
  <wfs:FeatureTypeList>
    <wfs:FeatureType>
      <wfs:Name>ms:other</wfs:Name><wfs:Title>Other</wfs:Title><wfs:DefaultCRS>urn:ogc:def:crs:EPSG::3857</wfs:DefaultCRS>
    </wfs:FeatureType>
    <wfs:FeatureType>
      <wfs:Name>{WFS_TYPE}</wfs:Name>
      <wfs:Title>Sites</wfs:Title>
      <wfs:DefaultCRS>{URN_4326}</wfs:DefaultCRS>
      <wfs:OtherCRS>urn:ogc:def:crs:EPSG::3857</wfs:OtherCRS>
      {other_crs}
      <wfs:OutputFormats>{type_formats}</wfs:OutputFormats>
      <ows:WGS84BoundingBox><ows:LowerCorner>5 45</ows:LowerCorner><ows:UpperCorner>15 46</ows:UpperCorner></ows:WGS84BoundingBox>
    </wfs:FeatureType>
  </wfs:FeatureTypeList>
  <fes:Filter_Capabilities>
    <fes:Conformance>
      <fes:Constraint name="ImplementsQuery"><ows:NoValues/><ows:DefaultValue>TRUE</ows:DefaultValue></fes:Constraint>
      <fes:Constraint name="ImplementsSorting"><ows:NoValues/><ows:DefaultValue>{sorting}</ows:DefaultValue></fes:Constraint>
      <fes:Constraint name="ImplementsMinStandardFilter"><ows:NoValues/><ows:DefaultValue>TRUE</ows:DefaultValue></fes:Constraint>
    </fes:Conformance>
  </fes:Filter_Capabilities>
</wfs:WFS_Capabilities>"#,
        paging = bool_text(layer.paging),
        sorting = bool_text(layer.sorting),
    )
}

fn schema(layer: &WfsLayer) -> String {
    let geometry = match layer.geometry {
        LayerGeometry::Point => "gml:PointPropertyType",
        LayerGeometry::Polygon => "gml:SurfacePropertyType",
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<schema targetNamespace="http://mapserver.gis.umn.edu/mapserver" xmlns:ms="http://mapserver.gis.umn.edu/mapserver" xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified" version="0.1">
  <import namespace="http://www.opengis.net/gml/3.2" schemaLocation="http://schemas.opengis.net/gml/3.2.1/gml.xsd"/>
  <element name="sites" type="ms:sitesType" substitutionGroup="gml:AbstractFeature"/>
  <complexType name="sitesType">
    <complexContent>
      <extension base="gml:AbstractFeatureType">
        <sequence>
          <element name="msGeometry" type="{geometry}" minOccurs="0" maxOccurs="1"/>
          <element name="gid" type="int"/>
          <element name="name" type="string"/>
          <element name="zone" type="int" nillable="true"/>
          <element name="depth" type="double"/>
          <element name="county" type="string"/>
          <element name="active" type="boolean"/>
          <element name="updated" type="dateTime"/>
        </sequence>
      </extension>
    </complexContent>
  </complexType>
</schema>"#
    )
}

/// The FES 2.0 this origin understands: `PropertyIsGreaterThan` on `updated`, `PropertyIsEqualTo` on
/// `zone`, `BBOX` with an envelope in `urn:ogc:def:crs:EPSG::4326`, under `And` or alone.
struct FesFilter {
    updated_after: Option<chrono::DateTime<chrono::Utc>>,
    zone: Option<i64>,
    bbox: Option<(f64, f64, f64, f64)>,
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn fes(text: &str) -> Result<FesFilter, String> {
    if !text.trim_start().starts_with("<fes:Filter")
        || !text.contains("http://www.opengis.net/fes/2.0")
    {
        return Err("the filter is not an FES 2.0 fes:Filter".into());
    }
    if text.contains("<!") {
        return Err("DTDs are not accepted".into());
    }
    let mut filter = FesFilter {
        updated_after: None,
        zone: None,
        bbox: None,
    };
    if let Some(gt) = between(
        text,
        "<fes:PropertyIsGreaterThan>",
        "</fes:PropertyIsGreaterThan>",
    ) {
        let field = between(gt, "<fes:ValueReference>", "</fes:ValueReference>").unwrap_or("");
        if field != "updated" {
            return Err(format!(
                "PropertyIsGreaterThan on '{field}' is not supported"
            ));
        }
        let literal = between(gt, "<fes:Literal>", "</fes:Literal>").unwrap_or("");
        filter.updated_after =
            Some(time(literal).ok_or_else(|| format!("'{literal}' is not a time"))?);
    }
    if let Some(eq) = between(text, "<fes:PropertyIsEqualTo>", "</fes:PropertyIsEqualTo>") {
        let field = between(eq, "<fes:ValueReference>", "</fes:ValueReference>").unwrap_or("");
        if field != "zone" {
            return Err(format!("PropertyIsEqualTo on '{field}' is not supported"));
        }
        let literal = between(eq, "<fes:Literal>", "</fes:Literal>").unwrap_or("");
        filter.zone = Some(
            literal
                .parse()
                .map_err(|_| format!("'{literal}' is not an integer"))?,
        );
    }
    if let Some(bbox) = between(text, "<fes:BBOX>", "</fes:BBOX>") {
        let corner = |name: &str| -> Result<(f64, f64), String> {
            let text = between(bbox, &format!("<gml:{name}>"), &format!("</gml:{name}>"))
                .ok_or_else(|| format!("no {name}"))?;
            let n: Vec<f64> = text
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            match n.as_slice() {
                [lat, lon] => Ok((*lon, *lat)),
                _ => Err(format!("{name} '{text}' is not two numbers")),
            }
        };
        let (w, s) = corner("lowerCorner")?;
        let (e, n) = corner("upperCorner")?;
        filter.bbox = Some((w, s, e, n));
    }
    if filter.updated_after.is_none() && filter.zone.is_none() && filter.bbox.is_none() {
        return Err("the filter holds no predicate this server supports".into());
    }
    Ok(filter)
}

async fn wfs_answer(State((state, log, counter)): State<WfsApp>, request: Request) -> Response {
    log_request(&log, &request);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let endpoint = format!("http://{host}{WFS_PATH}?map={WFS_MAP}");
    let (layer, sites) = {
        let state = state.lock().expect("state");
        (state.layer.clone(), state.sites.clone())
    };
    let params: HashMap<String, String> = query_pairs(&request)
        .into_iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect();
    let param = |name: &str| params.get(name).map(String::as_str);
    if param("MAP") != Some(WFS_MAP) {
        return xml_response(
            StatusCode::OK,
            "text/html",
            "<HTML><HEAD><TITLE>MapServer Message</TITLE></HEAD><BODY>msLoadMap(): Unable to access file. (missing map)</BODY></HTML>".into(),
        );
    }
    if param("SERVICE").is_none_or(|s| !s.eq_ignore_ascii_case("WFS")) {
        return wfs_exception(
            StatusCode::BAD_REQUEST,
            "MissingParameterValue",
            "service",
            "SERVICE=WFS is required",
        );
    }
    let request_name = param("REQUEST").unwrap_or("");
    if request_name.eq_ignore_ascii_case("GetCapabilities") {
        return xml_response(StatusCode::OK, "text/xml", capabilities(&layer, &endpoint));
    }
    if param("VERSION") != Some("2.0.0") {
        return wfs_exception(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "version",
            "VERSION must be 2.0.0",
        );
    }
    let type_name = param("TYPENAMES").unwrap_or("");
    if type_name != WFS_TYPE && type_name != "sites" {
        return wfs_exception(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "typenames",
            &format!("Feature type '{type_name}' is not available"),
        );
    }
    if request_name.eq_ignore_ascii_case("DescribeFeatureType") {
        return xml_response(
            StatusCode::OK,
            "application/gml+xml; version=3.2",
            schema(&layer),
        );
    }
    if !request_name.eq_ignore_ascii_case("GetFeature") {
        return wfs_exception(
            StatusCode::BAD_REQUEST,
            "OperationNotSupported",
            "request",
            &format!("'{request_name}' is not supported"),
        );
    }
    if let Some((status, text)) = &layer.exception {
        return wfs_exception(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            "OperationProcessingFailed",
            "GetFeature",
            text,
        );
    }
    let srs = param("SRSNAME").unwrap_or(URN_4326);
    let lat_first = match srs {
        URN_4326 => true,
        URN_CRS84 if layer.crs84 => false,
        other => {
            return wfs_exception(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                "srsName",
                &format!("srsName '{other}' is not offered for {WFS_TYPE}"),
            );
        }
    };
    let json = match param("OUTPUTFORMAT") {
        None => false,
        Some(f) if f == GML32_FORMAT || f == "text/xml; subtype=gml/3.2.1" => false,
        Some("application/json; subtype=geojson") if layer.json => true,
        Some(other) => {
            return wfs_exception(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                "outputFormat",
                &format!("outputFormat '{other}' is not offered"),
            );
        }
    };
    let number = |name: &str| -> Result<Option<usize>, String> {
        match param(name).map(str::parse::<usize>) {
            None => Ok(None),
            Some(Ok(n)) => Ok(Some(n)),
            Some(Err(_)) => Err(name.to_string()),
        }
    };
    let (start, count) = match (number("STARTINDEX"), number("COUNT")) {
        (Ok(s), Ok(c)) => (s.unwrap_or(0), c),
        (Err(name), _) | (_, Err(name)) => {
            return wfs_exception(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                &name.to_ascii_lowercase(),
                &format!("{name} is not a count"),
            );
        }
    };
    let cap = layer.count_default.unwrap_or(usize::MAX);
    let count = count.unwrap_or(cap).min(cap);
    let start = if layer.paging && !layer.ignores_start_index {
        start
    } else {
        0
    };
    let sorted = match param("SORTBY") {
        None => false,
        Some(_) if !layer.sorting => {
            return wfs_exception(
                StatusCode::BAD_REQUEST,
                "OperationProcessingFailed",
                "sortBy",
                "Sorting is not supported by this layer",
            );
        }
        Some("gid ASC") | Some("gid") => true,
        Some(other) => {
            return wfs_exception(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                "sortBy",
                &format!("cannot sort by '{other}'"),
            );
        }
    };
    if param("FILTER").is_some() && param("BBOX").is_some() {
        return wfs_exception(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "filter",
            "FILTER and BBOX are mutually exclusive",
        );
    }
    let filter = match param("FILTER").map(fes) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            return wfs_exception(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                "filter",
                &e,
            );
        }
    };
    let bbox_param = match param("BBOX") {
        None => None,
        Some(b) => {
            let parts: Vec<&str> = b.split(',').collect();
            let n: Vec<f64> = parts
                .iter()
                .take(4)
                .filter_map(|v| v.parse().ok())
                .collect();
            if n.len() != 4 || parts.get(4) != Some(&URN_4326) {
                return wfs_exception(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameterValue",
                    "bbox",
                    &format!("BBOX '{b}' is not lat,lon,lat,lon,{URN_4326}"),
                );
            }
            Some((n[1], n[0], n[3], n[2]))
        }
    };
    let bbox = bbox_param.or(filter.as_ref().and_then(|f| f.bbox));
    let mut matched: Vec<usize> = Vec::new();
    for (i, row) in sites.rows.iter().enumerate() {
        let gid = i as i64 + 1;
        if let Some((w, s, e, n)) = bbox {
            let (x, y) = ogc_position(gid);
            if x < w || x > e || y < s || y > n {
                continue;
            }
        }
        if let Some(f) = &filter {
            if let Some(after) = f.updated_after
                && row
                    .get("updated")
                    .and_then(Value::as_str)
                    .and_then(time)
                    .is_none_or(|t| t <= after)
            {
                continue;
            }
            if let Some(zone) = f.zone
                && row.get("zone").and_then(Value::as_i64) != Some(zone)
            {
                continue;
            }
        }
        matched.push(i);
    }
    if !sorted && layer.sorting && !matched.is_empty() {
        // Without ORDER BY the database answers in whatever order its plan gives: here, another rotation
        // for every request.
        let turn = counter.fetch_add(1, Ordering::Relaxed) as usize * 7919 % matched.len();
        matched.rotate_left(turn);
    }
    let end = (start + count).min(matched.len());
    let page: Vec<usize> = matched
        .get(start.min(matched.len())..end)
        .unwrap_or_default()
        .to_vec();
    let total = matched.len();
    if json {
        let features: Vec<Value> = page
            .iter()
            .map(|i| {
                let gid = *i as i64 + 1;
                json!({
                    "type": "Feature",
                    "id": format!("sites.{gid}"),
                    "geometry": geojson_geometry(gid, layer.geometry, lat_first && layer.json_crs_member),
                    "properties": sites.rows[*i]
                })
            })
            .collect();
        let mut body = json!({
            "type": "FeatureCollection",
            "name": "sites",
            "numberMatched": total,
            "numberReturned": features.len(),
            "features": features
        });
        if lat_first && layer.json_crs_member {
            body["crs"] = json!({"type": "name", "properties": {"name": URN_4326}});
        }
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; subtype=geojson")],
            body.to_string(),
        )
            .into_response();
    }
    let mut out = String::with_capacity(page.len() * 900 + 1000);
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wfs:FeatureCollection xmlns:ms="http://mapserver.gis.umn.edu/mapserver" xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" timeStamp="2024-03-01T00:00:00" numberMatched="{total}" numberReturned="{}">
"#,
        page.len()
    );
    let pos = |(x, y): (f64, f64)| {
        if lat_first {
            format!("{y} {x}")
        } else {
            format!("{x} {y}")
        }
    };
    for i in &page {
        let gid = *i as i64 + 1;
        let row = &sites.rows[*i];
        let at = ogc_position(gid);
        let geometry = match layer.geometry {
            LayerGeometry::Point => format!(
                r#"<gml:Point gml:id="sites.{gid}.1" srsName="{srs}"><gml:pos>{}</gml:pos></gml:Point>"#,
                pos(at)
            ),
            LayerGeometry::Polygon => {
                let list =
                    |ring: Vec<(f64, f64)>| ring.into_iter().map(pos).collect::<Vec<_>>().join(" ");
                format!(
                    r#"<gml:Polygon gml:id="sites.{gid}.1" srsName="{srs}"><gml:exterior><gml:LinearRing><gml:posList srsDimension="2">{}</gml:posList></gml:LinearRing></gml:exterior><gml:interior><gml:LinearRing><gml:posList srsDimension="2">{}</gml:posList></gml:LinearRing></gml:interior></gml:Polygon>"#,
                    list(square(at, 0.004, false)),
                    list(square(at, 0.001, true))
                )
            }
        };
        let text = |name: &str| match &row[name] {
            Value::String(s) => xml_escape(s),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let zone = if row["zone"].is_null() {
            r#"<ms:zone xsi:nil="true"/>"#.to_string()
        } else {
            format!("<ms:zone>{}</ms:zone>", text("zone"))
        };
        let _ = write!(
            out,
            r#"  <wfs:member>
    <ms:sites gml:id="sites.{gid}">
      <gml:boundedBy><gml:Envelope srsName="{srs}"><gml:lowerCorner>{lower}</gml:lowerCorner><gml:upperCorner>{lower}</gml:upperCorner></gml:Envelope></gml:boundedBy>
      <ms:msGeometry>{geometry}</ms:msGeometry>
      <ms:gid>{gid}</ms:gid>
      <ms:name>{name}</ms:name>
      {zone}
      <ms:depth>{depth}</ms:depth>
      <ms:county>{county}</ms:county>
      <ms:active>{active}</ms:active>
      <ms:updated>{updated}</ms:updated>
    </ms:sites>
  </wfs:member>
"#,
            lower = pos(at),
            name = text("name"),
            depth = text("depth"),
            county = text("county"),
            active = text("active"),
            updated = text("updated"),
        );
    }
    out.push_str("</wfs:FeatureCollection>\n");
    xml_response(StatusCode::OK, "application/gml+xml; version=3.2", out)
}
