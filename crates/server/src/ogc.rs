//! OGC API – Features Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) and Part 3 (Filtering with CQL2, and
//! Queryables), answered from the console's index.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use geoconsole_app::{ItemsPage, ItemsRequest, Page, compile_filter, queryables};
use geoconsole_formats::feature_json;
use geoconsole_model::{Bbox, Dataset, FeatureId, FieldType, format_rfc3339};
use geoconsole_query::{
    CompareOp, DEFAULT_LIMIT, DateTimeFilter, FeatureQuery, Filter, FilterLang, MAX_LIMIT, Operand,
};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::html;
use crate::params::{Encoding, Params, encoding};
use crate::reply::{html_response, json_response};
use crate::state::AppState;
use crate::state::dataset_of;

pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// The conformance classes this server implements (and that the tests check with real clients).
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
];

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

pub async fn landing(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let base = state.base_url(&headers);
    let body = json!({
        "title": "geoconsole",
        "description": "Sites, hazards and incidents: OGC API – Features and Tiles over the console's datasets",
        "links": [
            link(format!("{base}/?f=json"), "self", "application/json", "This document"),
            link(format!("{base}/?f=html"), "alternate", "text/html", "This document as HTML"),
            link(format!("{base}/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "The API definition"),
            link(format!("{base}/conformance"), "conformance", "application/json", "Conformance classes"),
            link(format!("{base}/collections"), "data", "application/json", "Collections"),
            link(format!("{base}/tileMatrixSets"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "application/json", "Tile matrix sets"),
            link(format!("{base}/console/"), "related", "text/html", "Web console (map)"),
            link(format!("{base}/events"), "related", "text/event-stream", "Dataset changes (server-sent events)"),
        ],
    });
    match encoding(&params, &headers)? {
        Encoding::Json => Ok(json_response(
            StatusCode::OK,
            "application/json",
            body.to_string(),
        )),
        Encoding::Html => {
            let items = [
                ("/collections?f=html", "Collections"),
                ("/conformance?f=html", "Conformance"),
                ("/api", "API definition (OpenAPI 3.0)"),
                ("/tileMatrixSets", "Tile matrix sets"),
            ]
            .iter()
            .map(|(href, text)| format!("<li>{}</li>", html::link(&format!("{base}{href}"), text)))
            .collect::<String>();
            Ok(html_response(html::page(
                "geoconsole",
                &format!("<ul>{items}</ul>"),
            )))
        }
    }
}

pub async fn conformance(RawQuery(query): RawQuery, headers: HeaderMap) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    match encoding(&params, &headers)? {
        Encoding::Json => Ok(json_response(
            StatusCode::OK,
            "application/json",
            json!({ "conformsTo": CONFORMANCE }).to_string(),
        )),
        Encoding::Html => {
            let list: String = CONFORMANCE
                .iter()
                .map(|c| format!("<li><code>{}</code></li>", html::escape(c)))
                .collect();
            Ok(html_response(html::page(
                "Conformance",
                &format!("<ul>{list}</ul>"),
            )))
        }
    }
}

fn collection_json(base: &str, dataset: &Dataset) -> Value {
    let id = dataset.id.as_str();
    let spatial = dataset.extent.map_or_else(
        || json!([[-180.0, -90.0, 180.0, 90.0]]),
        |b| json!([[b.west, b.south, b.east, b.north]]),
    );
    let temporal = dataset.time_extent.map_or_else(
        || json!([[null, null]]),
        |t| json!([[format_rfc3339(t.start), format_rfc3339(t.end)]]),
    );
    json!({
        "id": id,
        "title": dataset.title,
        "description": format!("{} dataset from {}", dataset.kind, dataset.source),
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {
            "spatial": {"bbox": spatial, "crs": CRS84},
            "temporal": {"interval": temporal, "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
        },
        "kind": dataset.kind,
        "geometryType": dataset.geometry_type,
        "featureCount": dataset.feature_count,
        "version": dataset.version,
        "created": format_rfc3339(dataset.created),
        "updated": format_rfc3339(dataset.updated),
        "links": [
            link(format!("{base}/collections/{id}"), "self", "application/json", "This collection"),
            link(format!("{base}/collections/{id}?f=html"), "alternate", "text/html", "This collection as HTML"),
            link(format!("{base}/collections/{id}/items"), "items", "application/geo+json", "Features"),
            link(format!("{base}/collections/{id}/items?f=html"), "items", "text/html", "Features as HTML"),
            link(format!("{base}/collections/{id}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "Queryables"),
            link(format!("{base}/collections/{id}/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json", "Vector tilesets"),
            link(format!("{base}/tiles/{id}"), "describedby", "application/json", "TileJSON"),
        ],
    })
}

pub async fn collections(
    State(state): State<AppState>,
    Caller(scope): Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let base = state.base_url(&headers);
    let datasets = state.console.indexed_datasets(&scope);
    match encoding(&params, &headers)? {
        Encoding::Json => {
            let list: Vec<Value> = datasets.iter().map(|d| collection_json(&base, d)).collect();
            let body = json!({
                "links": [
                    link(format!("{base}/collections"), "self", "application/json", "This document"),
                    link(format!("{base}/collections?f=html"), "alternate", "text/html", "This document as HTML"),
                ],
                "collections": list,
            });
            Ok(json_response(
                StatusCode::OK,
                "application/json",
                body.to_string(),
            ))
        }
        Encoding::Html => {
            let mut rows = String::from(
                "<table><tr><th>Collection</th><th>Kind</th><th>Features</th><th>Version</th></tr>",
            );
            for d in &datasets {
                rows.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html::link(&format!("{base}/collections/{}?f=html", d.id), &d.title),
                    html::escape(d.kind.as_str()),
                    d.feature_count,
                    d.version
                ));
            }
            rows.push_str("</table>");
            Ok(html_response(html::page("Collections", &rows)))
        }
    }
}

pub async fn collection(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let dataset = dataset_of(&state, &scope, &id)?;
    let base = state.base_url(&headers);
    match encoding(&params, &headers)? {
        Encoding::Json => Ok(json_response(
            StatusCode::OK,
            "application/json",
            collection_json(&base, &dataset).to_string(),
        )),
        Encoding::Html => {
            let mut fields = String::from("<table><tr><th>Property</th><th>Type</th></tr>");
            for f in dataset.schema.fields() {
                fields.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td></tr>",
                    html::escape(&f.name),
                    f.field_type.as_str()
                ));
            }
            fields.push_str("</table>");
            let body = format!(
                "<p>{} · {} features · version {}</p><p>{}</p>{fields}",
                html::escape(dataset.kind.as_str()),
                dataset.feature_count,
                dataset.version,
                html::link(
                    &format!("{base}/collections/{}/items?f=html", dataset.id),
                    "Browse the features"
                ),
            );
            Ok(html_response(html::page(&dataset.title, &body)))
        }
    }
}

fn json_schema_type(field: FieldType) -> Value {
    match field {
        FieldType::Integer => json!({"type": "integer"}),
        FieldType::Real => json!({"type": "number"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::DateTime => json!({"type": "string", "format": "date-time"}),
        FieldType::Json => json!({}),
        FieldType::Text => json!({"type": "string"}),
    }
}

pub async fn queryables_route(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Params::parse(query.as_deref())?;
    let dataset = dataset_of(&state, &scope, &id)?;
    let base = state.base_url(&headers);
    let mut properties = serde_json::Map::new();
    properties.insert(
        "geometry".into(),
        json!({"format": "geometry-any", "description": "The feature's geometry (WGS84)"}),
    );
    properties.insert(
        "datetime".into(),
        json!({"type": "string", "format": "date-time", "description": "The feature's time (instant or interval) for T_* functions"}),
    );
    for field in dataset.schema.fields() {
        let mut schema = json_schema_type(field.field_type);
        if let Value::Object(map) = &mut schema {
            map.insert("title".into(), Value::String(field.name.clone()));
        }
        properties.insert(field.name.clone(), schema);
    }
    let body = json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": format!("{base}/collections/{}/queryables", dataset.id),
        "type": "object",
        "title": dataset.title,
        "properties": properties,
        "additionalProperties": false,
    });
    Ok(json_response(
        StatusCode::OK,
        "application/schema+json",
        body.to_string(),
    ))
}

const ITEMS_PARAMETERS: &[&str] = &[
    "f",
    "bbox",
    "bbox-crs",
    "datetime",
    "limit",
    "cursor",
    "filter",
    "filter-lang",
    "filter-crs",
];

/// Reads the parameters every feature query shares (bbox, datetime, CQL2 filter and equality filters on
/// queryables) into a filter request, checked against the dataset.
pub struct Selection {
    pub bbox: Option<Bbox>,
    pub datetime: Option<DateTimeFilter>,
    pub filter: Option<Filter>,
}

pub fn read_selection(params: &Params, dataset: &Dataset, known: &[&str]) -> ApiResult<Selection> {
    let queryable = queryables(dataset);
    params.only(known, |name| queryable.properties.contains(name))?;
    let bbox = params
        .get("bbox")
        .map(|b| {
            Bbox::parse(b).map_err(|e| ApiError::bad_request(format!("bbox: {}", e.message())))
        })
        .transpose()?;
    if let Some(crs) = params.get("bbox-crs")
        && crs != CRS84
    {
        return Err(ApiError::bad_request(format!(
            "bbox-crs {crs} is not supported; use {CRS84}"
        )));
    }
    if let Some(crs) = params.get("filter-crs")
        && crs != CRS84
    {
        return Err(ApiError::bad_request(format!(
            "filter-crs {crs} is not supported; use {CRS84}"
        )));
    }
    let datetime = params
        .get("datetime")
        .map(|d| DateTimeFilter::parse(d).map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()?;
    let mut parts = Vec::new();
    if let Some(text) = params.get("filter") {
        let lang = match params.get("filter-lang") {
            Some(l) => l
                .parse::<FilterLang>()
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => FilterLang::Text,
        };
        parts.push(compile_filter(dataset, text, lang)?);
    } else if params.get("filter-lang").is_some() {
        return Err(ApiError::bad_request(
            "filter-lang is given without a filter",
        ));
    }
    for (name, value) in params.iter() {
        if queryable.properties.contains(name) && !known.contains(&name) {
            parts.push(Filter::Compare {
                op: CompareOp::Eq,
                left: Operand::Property(name.to_string()),
                right: Operand::Literal(Value::String(value.to_string())),
            });
        }
    }
    let filter = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Filter::And(parts)),
    };
    Ok(Selection {
        bbox,
        datetime,
        filter,
    })
}

fn parse_limit(params: &Params) -> ApiResult<usize> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit '{text}' must be a whole number from 1 to {MAX_LIMIT}"
            ))),
        },
    }
}

fn parse_cursor(params: &Params) -> ApiResult<Page> {
    let Some(text) = params.get("cursor") else {
        return Ok(Page::First);
    };
    let bad =
        || ApiError::bad_request(format!("cursor '{text}' is not one this server handed out"));
    let (direction, key) = text.split_at_checked(1).ok_or_else(bad)?;
    let key: i64 = key.parse().map_err(|_| bad())?;
    match direction {
        "a" => Ok(Page::After(key)),
        "b" => Ok(Page::Before(key)),
        _ => Err(bad()),
    }
}

/// Rebuilds the request's query string with a new cursor, keeping every other parameter.
fn page_href(base_path: &str, params: &Params, cursor: Option<String>, f: Option<&str>) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .filter(|(k, _)| *k != "cursor" && *k != "f")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if let Some(c) = cursor {
        pairs.push(format!("cursor={c}"));
    }
    if let Some(f) = f {
        pairs.push(format!("f={f}"));
    }
    if pairs.is_empty() {
        base_path.to_string()
    } else {
        format!("{base_path}?{}", pairs.join("&"))
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn items(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let dataset = dataset_of(&state, &scope, &id)?;
    let selection = read_selection(&params, &dataset, ITEMS_PARAMETERS)?;
    if let Some(format) = crate::exports::download_format(params.get("f")) {
        // A file download holds the whole selection: `limit` caps it, and there are no pages.
        if params.get("cursor").is_some() {
            return Err(ApiError::bad_request(format!(
                "cursor does not apply to f={format} downloads, which hold every matching feature"
            )));
        }
        let limit = params
            .get("limit")
            .map(|_| parse_limit(&params))
            .transpose()?;
        let query = FeatureQuery {
            bbox: selection.bbox,
            datetime: selection.datetime,
            limit,
            cursor: None,
        };
        return crate::exports::download_items(
            &state,
            &scope,
            &dataset.id,
            format,
            query,
            selection.filter,
        )
        .await;
    }
    let limit = parse_limit(&params)?;
    let page = parse_cursor(&params)?;
    let format = encoding(&params, &headers)?;
    let result = state
        .console
        .items(
            &scope,
            &dataset.id,
            ItemsRequest {
                bbox: selection.bbox,
                datetime: selection.datetime,
                filter: selection.filter,
                limit,
                page,
            },
        )
        .await?;
    let base = state.base_url(&headers);
    let path = format!("{base}/collections/{}/items", dataset.id);
    match format {
        Encoding::Json => Ok(json_response(
            StatusCode::OK,
            "application/geo+json",
            items_json(&path, &params, &result),
        )),
        Encoding::Html => Ok(html_response(items_html(&path, &params, &result))),
    }
}

fn items_json(path: &str, params: &Params, page: &ItemsPage) -> String {
    let mut links = vec![
        link(
            page_href(path, params, params.get("cursor").map(str::to_string), None),
            "self",
            "application/geo+json",
            "This page",
        ),
        link(
            page_href(
                path,
                params,
                params.get("cursor").map(str::to_string),
                Some("html"),
            ),
            "alternate",
            "text/html",
            "This page as HTML",
        ),
        link(
            path.trim_end_matches("/items").to_string(),
            "collection",
            "application/json",
            "The collection",
        ),
    ];
    if let Some(next) = page.next {
        links.push(link(
            page_href(path, params, Some(format!("a{next}")), None),
            "next",
            "application/geo+json",
            "Next page",
        ));
    }
    if let Some(prev) = page.prev {
        links.push(link(
            page_href(path, params, Some(format!("b{prev}")), None),
            "prev",
            "application/geo+json",
            "Previous page",
        ));
    }
    let mut out = String::with_capacity(1024 + page.items.len() * 256);
    out.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    page.items.write_geojson(&mut out);
    out.push_str("],\"numberReturned\":");
    out.push_str(&page.items.len().to_string());
    if let Some(n) = page.number_matched {
        out.push_str(",\"numberMatched\":");
        out.push_str(&n.to_string());
    }
    out.push_str(",\"timeStamp\":");
    out.push_str(&Value::String(format_rfc3339(chrono::Utc::now())).to_string());
    out.push_str(",\"links\":");
    out.push_str(&Value::Array(links).to_string());
    out.push('}');
    out
}

fn items_html(path: &str, params: &Params, page: &ItemsPage) -> String {
    let fields: Vec<&str> = page
        .dataset
        .schema
        .fields()
        .iter()
        .map(|f| f.name.as_str())
        .take(12)
        .collect();
    let mut body = String::from("<table><tr><th>id</th>");
    for f in &fields {
        body.push_str(&format!("<th>{}</th>", html::escape(f)));
    }
    body.push_str("</tr>");
    for feature in &page.items.to_features() {
        let fid = feature.id.as_ref().map_or("", |i| i.as_str());
        body.push_str(&format!(
            "<tr><td>{}</td>",
            html::link(&format!("{path}/{}?f=html", encode(fid)), fid)
        ));
        for f in &fields {
            body.push_str(&format!(
                "<td>{}</td>",
                feature
                    .properties
                    .get(*f)
                    .map(html::cell)
                    .unwrap_or_default()
            ));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table><p>");
    if let Some(prev) = page.prev {
        body.push_str(&html::link(
            &page_href(path, params, Some(format!("b{prev}")), Some("html")),
            "← Previous",
        ));
        body.push(' ');
    }
    if let Some(next) = page.next {
        body.push_str(&html::link(
            &page_href(path, params, Some(format!("a{next}")), Some("html")),
            "Next →",
        ));
    }
    body.push_str(&format!(
        "</p><p>{} returned{}</p>",
        page.items.len(),
        page.number_matched
            .map(|n| format!(" of {n}"))
            .unwrap_or_default()
    ));
    html::page(&format!("{} · features", page.dataset.title), &body)
}

pub async fn item(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, feature_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let dataset = dataset_of(&state, &scope, &id)?;
    let feature = state
        .console
        .feature(&scope, &dataset.id, &FeatureId(feature_id.clone()))
        .await?;
    let base = state.base_url(&headers);
    let collection = format!("{base}/collections/{}", dataset.id);
    let self_href = format!("{collection}/items/{}", encode(&feature_id));
    match encoding(&params, &headers)? {
        Encoding::Json => {
            // The feature is already GeoJSON text: append the links to it rather than parse and re-serialise.
            let links = json!([
                link(
                    self_href.clone(),
                    "self",
                    "application/geo+json",
                    "This feature"
                ),
                link(
                    format!("{self_href}?f=html"),
                    "alternate",
                    "text/html",
                    "This feature as HTML"
                ),
                link(
                    collection,
                    "collection",
                    "application/json",
                    "The collection"
                ),
            ]);
            let mut body = feature_json(&feature);
            body.pop();
            body.push_str(",\"links\":");
            body.push_str(&links.to_string());
            body.push('}');
            Ok(json_response(StatusCode::OK, "application/geo+json", body))
        }
        Encoding::Html => Ok(html_response(html::page(
            &format!("{} · {}", dataset.title, feature_id),
            &html::properties_table(&feature.properties),
        ))),
    }
}
