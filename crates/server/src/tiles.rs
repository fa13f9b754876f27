//! Vector tiles: `/tiles/{a,b}/{z}/{x}/{y}.mvt` with TileJSON 3.0, and the same tiles as OGC API – Tiles
//! (WebMercatorQuad). Tiles are made from the index on request and cached by dataset version, so a write
//! is visible on the very next request; the ETag says which versions a tile shows (and hashes their datasets' creation times too).

use std::hash::{Hash, Hasher};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geoconsole_access::Scope;
use geoconsole_model::DatasetId;
use geoconsole_query::{DateTimeFilter, FilterLang};
use geoconsole_tiles::{MAX_LATITUDE, MAX_ZOOM, TileId};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::reply::json_response;
use crate::state::AppState;
use crate::state::dataset_of;

pub const MVT: &str = "application/vnd.mapbox-vector-tile";

fn dataset_list(state: &AppState, scope: &Scope, list: &str) -> ApiResult<Vec<DatasetId>> {
    let ids: Vec<&str> = list.split(',').collect();
    // `,pub` or `pub,,roads` names nothing somewhere: a list built wrongly, said so rather than drawn in part.
    if ids.len() > 1
        && let Some(gap) = ids.iter().position(|s| s.is_empty())
    {
        return Err(ApiError::bad_request(format!(
            "dataset name {} of {} in the list is empty; separate names with one comma",
            gap + 1,
            ids.len()
        )));
    }
    let ids: Vec<&str> = ids.into_iter().filter(|s| !s.is_empty()).collect();
    if ids.is_empty() || ids.len() > 32 {
        return Err(ApiError::bad_request(
            "name 1 to 32 datasets, separated by commas",
        ));
    }
    // MVT forbids two layers of one name, and a repeated name would only draw the same layer again.
    if let Some(twice) = ids
        .iter()
        .enumerate()
        .find_map(|(i, id)| ids[..i].contains(id).then_some(id))
    {
        return Err(ApiError::bad_request(format!(
            "dataset '{twice}' is named twice; name each dataset once"
        )));
    }
    ids.iter()
        .map(|id| dataset_of(state, scope, id).map(|d| d.id))
        .collect()
}

/// `/tiles/{datasets}/{z}/{x}/{y}.mvt`
pub async fn xyz_tile(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((list, z, x, y)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let y = y
        .strip_suffix(".mvt")
        .or_else(|| y.strip_suffix(".pbf"))
        .unwrap_or(&y)
        .to_string();
    let tile = tile_id(&z, &x, &y)?;
    let ids = dataset_list(&state, &scope, &list)?;
    render(&state, &scope, &ids, tile, query.as_deref(), &headers).await
}

/// `/collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}` (OGC order: z, y, x).
pub async fn ogc_tile(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, matrix_set, z, row, col)): Path<(String, String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if matrix_set != "WebMercatorQuad" {
        return Err(ApiError::not_found(format!(
            "tile matrix set '{matrix_set}' is not offered; use WebMercatorQuad"
        )));
    }
    let tile = tile_id(&z, &col, &row)?;
    let ids = vec![dataset_of(&state, &scope, &id)?.id];
    render(&state, &scope, &ids, tile, query.as_deref(), &headers).await
}

fn tile_id(z: &str, x: &str, y: &str) -> ApiResult<TileId> {
    let number = |name: &str, text: &str| {
        text.parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!("tile {name} '{text}' is not a whole number"))
        })
    };
    TileId::new(number("z", z)?, number("x", x)?, number("y", y)?).map_err(ApiError::not_found)
}

async fn render(
    state: &AppState,
    scope: &Scope,
    ids: &[DatasetId],
    tile: TileId,
    query: Option<&str>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(query)?;
    if let Some(f) = params.get("f")
        && f != "mvt"
    {
        return Err(ApiError::not_acceptable(format!(
            "f={f}: tiles are offered as f=mvt only"
        )));
    }
    let datetime = params
        .get("datetime")
        .map(|d| DateTimeFilter::parse(d).map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()?;
    let lang = match params.get("filter-lang") {
        Some(l) => l
            .parse::<FilterLang>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => FilterLang::Text,
    };
    let filter = params.get("filter");
    let generations = state.console.generations(scope, ids)?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        ids,
        &generations,
        tile.z,
        tile.x,
        tile.y,
        params.get("datetime"),
        filter,
        params.get("filter-lang"),
    )
        .hash(&mut hasher);
    let digest = hasher.finish();
    let etag = format!(
        "\"{}-{digest:016x}\"",
        generations
            .iter()
            .map(|g| g.version.to_string())
            .collect::<Vec<_>>()
            .join(".")
    );
    // RFC 9110 §13.1.2: `*` matches any current tile, and tags compare weakly (a `W/` prefix is ignored).
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
        })
    {
        return Ok(tile_response(
            StatusCode::NOT_MODIFIED,
            &etag,
            Body::empty(),
        ));
    }
    let key = format!("{digest:016x}:{}", etag);
    if let Some(bytes) = state.tiles.get(&key) {
        metrics::counter!("geoconsole_tile_cache_hits_total").increment(1);
        return Ok(tile_body(&etag, bytes));
    }
    metrics::counter!("geoconsole_tiles_rendered_total").increment(1);
    let rendered = state
        .console
        .tile(scope, ids, tile, datetime, filter.map(|f| (f, lang)))
        .await?;
    let bytes = Bytes::from(rendered.bytes);
    state.tiles.put(key, bytes.clone());
    Ok(tile_body(&etag, bytes))
}

fn tile_body(etag: &str, bytes: Bytes) -> Response {
    if bytes.is_empty() {
        return tile_response(StatusCode::NO_CONTENT, etag, Body::empty());
    }
    tile_response(StatusCode::OK, etag, Body::from(bytes))
}

fn tile_response(status: StatusCode, etag: &str, body: Body) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    // Clients may keep a tile but must ask again (cheaply, with the ETag): data changes at any time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// TileJSON 3.0.0 for one or more datasets.
pub async fn tilejson(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(list): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Params::parse(query.as_deref())?;
    let ids = dataset_list(&state, &scope, &list)?;
    let base = state.base_url(&headers);
    let mut layers = Vec::new();
    let mut bounds: Option<geoconsole_model::Bbox> = None;
    let mut names = Vec::new();
    for id in &ids {
        let d = dataset_of(&state, &scope, id.as_str())?;
        let fields: serde_json::Map<String, Value> = d
            .schema
            .fields()
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    Value::String(f.field_type.as_str().to_string()),
                )
            })
            .collect();
        layers.push(json!({"id": d.id, "description": d.title, "minzoom": 0, "maxzoom": MAX_ZOOM, "fields": fields}));
        bounds = match (bounds, d.extent) {
            (Some(a), Some(b)) => Some(a.union(&b)),
            (a, b) => a.or(b),
        };
        names.push(d.title.clone());
    }
    let b = bounds.unwrap_or(geoconsole_model::Bbox {
        west: -180.0,
        south: -90.0,
        east: 180.0,
        north: 90.0,
    });
    let (south, north) = (b.south.max(-MAX_LATITUDE), b.north.min(MAX_LATITUDE));
    let query_suffix = query.map(|q| format!("?{q}")).unwrap_or_default();
    let body = json!({
        "tilejson": "3.0.0",
        "name": names.join(", "),
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{list}/{{z}}/{{x}}/{{y}}.mvt{query_suffix}")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": [b.west, south, b.east, north],
        "center": [(b.west + b.east) / 2.0, (south + north) / 2.0, 2],
        "vector_layers": layers,
    });
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        body.to_string(),
    ))
}

fn web_mercator_quad() -> Value {
    const HALF: f64 = 20_037_508.342_789_244;
    let matrices: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let side = 1u64 << z;
            json!({
                "id": z.to_string(),
                "scaleDenominator": 559_082_264.028_717_4 / side as f64,
                "cellSize": 156_543.033_928_041 / side as f64,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF, HALF],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": side,
                "matrixHeight": side,
            })
        })
        .collect();
    json!({
        "id": "WebMercatorQuad",
        "title": "Google Maps Compatible for the World",
        "uri": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    })
}

pub async fn tile_matrix_sets(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Params::parse(query.as_deref())?;
    let base = state.base_url(&headers);
    let body = json!({"tileMatrixSets": [{
        "id": "WebMercatorQuad",
        "title": "Google Maps Compatible for the World",
        "uri": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "links": [{"href": format!("{base}/tileMatrixSets/WebMercatorQuad"), "rel": "self", "type": "application/json"}],
    }]});
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        body.to_string(),
    ))
}

pub async fn tile_matrix_set(
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    Params::parse(query.as_deref())?;
    if id != "WebMercatorQuad" {
        return Err(ApiError::not_found(format!(
            "tile matrix set '{id}' is not offered; use WebMercatorQuad"
        )));
    }
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        web_mercator_quad().to_string(),
    ))
}

fn tileset_json(base: &str, dataset: &geoconsole_model::Dataset) -> Value {
    let id = dataset.id.as_str();
    let b = dataset.extent.unwrap_or(geoconsole_model::Bbox {
        west: -180.0,
        south: -90.0,
        east: 180.0,
        north: 90.0,
    });
    json!({
        "title": dataset.title,
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "boundingBox": {"lowerLeft": [b.west, b.south], "upperRight": [b.east, b.north], "crs": crate::ogc::CRS84},
        "layers": [{"id": id, "dataType": "vector", "geometryType": dataset.geometry_type, "maxTileMatrix": MAX_ZOOM.to_string(), "minTileMatrix": "0"}],
        "links": [
            {"href": format!("{base}/collections/{id}/tiles/WebMercatorQuad"), "rel": "self", "type": "application/json"},
            {"href": format!("{base}/tileMatrixSets/WebMercatorQuad"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json"},
            {"href": format!("{base}/collections/{id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), "rel": "item", "type": MVT, "templated": true},
            {"href": format!("{base}/tiles/{id}"), "rel": "describedby", "type": "application/json", "title": "TileJSON"},
        ],
    })
}

pub async fn collection_tilesets(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Params::parse(query.as_deref())?;
    let dataset = dataset_of(&state, &scope, &id)?;
    let base = state.base_url(&headers);
    let body = json!({"tilesets": [tileset_json(&base, &dataset)]});
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        body.to_string(),
    ))
}

pub async fn collection_tileset(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, matrix_set)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Params::parse(query.as_deref())?;
    if matrix_set != "WebMercatorQuad" {
        return Err(ApiError::not_found(format!(
            "tile matrix set '{matrix_set}' is not offered; use WebMercatorQuad"
        )));
    }
    let dataset = dataset_of(&state, &scope, &id)?;
    let base = state.base_url(&headers);
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        tileset_json(&base, &dataset).to_string(),
    ))
}
