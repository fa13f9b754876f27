//! `/analytics/*`: which sites lie within reach of which hazard events, density per H3 cell, trends and
//! anomalies near sites, and explainable risk scores (computations in room `analytics`, orchestration in
//! `app`).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use geoconsole_analytics::{AnomalyRule, Period};
use geoconsole_app::{BucketRequest, ExposureRequest, Hits, Regions, RiskRequest, TrendRequest};
use geoconsole_model::DatasetId;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::reply::json_response;
use crate::state::AppState;

pub async fn exposure(
    State(state): State<AppState>,
    Caller(scope): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let request = ExposureRequest {
        sites: params.datasets("sites")?,
        hazards: params.datasets("hazards")?,
        datetime: params.datetime("datetime")?,
        radius_km: params.number("radius_km")?,
        hits: match params.get("hits") {
            None | Some("all") => Hits::All,
            Some("nearest") => Hits::Nearest,
            Some("any") => Hits::Any,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "hits '{other}' is not one of: all, nearest, any"
                )));
            }
        },
        ..ExposureRequest::default()
    };
    let geojson = wants_geojson(&params, "exposures")?;
    let report = state.console.exposure(&scope, request).await?;
    if geojson {
        return Ok(json_response(
            StatusCode::OK,
            "application/geo+json",
            report.to_geojson().to_string(),
        ));
    }
    let body = serde_json::to_string(&report)
        .map_err(|e| ApiError::internal(format!("exposure report: {e}")))?;
    Ok(json_response(StatusCode::OK, "application/json", body))
}

/// Cells beyond this many make a map nobody can read and a response nobody wants; coarser resolutions or
/// smaller boxes fix it.
const MAX_CELLS: usize = 100_000;

/// `/analytics/h3?collection=…&resolution=…&bbox=…&datetime=…`: features per H3 cell as GeoJSON polygons
/// (`cell`, `count`), for density maps.
pub async fn hexbin(
    State(state): State<AppState>,
    Caller(scope): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    if let Some(f) = params.get("f")
        && f != "geojson"
        && f != "json"
    {
        return Err(ApiError::not_acceptable(format!(
            "f={f}: cells are offered as GeoJSON only"
        )));
    }
    let collection = params
        .get("collection")
        .ok_or_else(|| ApiError::bad_request("collection: name the dataset to aggregate"))?;
    let id = DatasetId::new(collection)
        .map_err(|e| ApiError::bad_request(format!("collection: {}", e.message())))?;
    let resolution = params
        .get("resolution")
        .unwrap_or("5")
        .parse::<u8>()
        .map_err(|_| {
            ApiError::bad_request(format!(
                "resolution must be a whole number from 0 to {}",
                geoconsole_analytics::MAX_RESOLUTION
            ))
        })?;
    let bbox = params
        .get("bbox")
        .map(|b| {
            geoconsole_model::Bbox::parse(b)
                .map_err(|e| ApiError::bad_request(format!("bbox: {}", e.message())))
        })
        .transpose()?;
    let datetime = params.datetime("datetime")?;
    let cells = state
        .console
        .hexbin(
            &scope,
            &id,
            resolution,
            bbox,
            datetime,
            params.get("sum"),
            MAX_CELLS,
        )
        .await?;
    let total: u64 = cells.iter().map(|c| c.count).sum();
    let features: Vec<serde_json::Value> = cells
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "type": "Feature",
                "id": c.cell,
                "geometry": {"type": "Polygon", "coordinates": [c.ring]},
                "properties": {"cell": c.cell, "count": c.count, "sum": c.sum},
            })
        })
        .collect();
    let body = serde_json::json!({
        "type": "FeatureCollection",
        "collection": id.as_str(),
        "resolution": resolution,
        "numberReturned": features.len(),
        "features_counted": total,
        "features": features,
    });
    Ok(json_response(
        StatusCode::OK,
        "application/geo+json",
        body.to_string(),
    ))
}

/// `GET /analytics/risk?sites=…&as_of=…`: every site's score under the configured model, with its
/// breakdown; `POST` the same with a model (JSON) in the body to try one without configuring it.
pub async fn risk(
    State(state): State<AppState>,
    Caller(scope): Caller,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let model = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice::<geoconsole_analytics::RiskModel>(&body)
                .map_err(|e| ApiError::bad_request(format!("risk model in the body: {e}")))?,
        )
    };
    let limit = params.number("limit")?.map_or(Ok(usize::MAX), |l| {
        if l >= 1.0 && l.fract() == 0.0 {
            Ok(l as usize)
        } else {
            Err(ApiError::bad_request(format!(
                "limit {l} must be a whole number from 1"
            )))
        }
    })?;
    let geojson = wants_geojson(&params, "risk scores")?;
    let mut report = state
        .console
        .risk(
            &scope,
            RiskRequest {
                sites: params.datasets("sites")?,
                model,
                as_of: params.instant("as_of")?,
            },
        )
        .await?;
    report.sites.truncate(limit);
    if geojson {
        let features: Vec<serde_json::Value> = report
            .sites
            .iter()
            .map(|s| {
                serde_json::json!({
                    "type": "Feature",
                    "id": s.site,
                    "geometry": {"type": "Point", "coordinates": s.position},
                    "properties": s,
                })
            })
            .collect();
        let body = serde_json::json!({
            "type": "FeatureCollection",
            "as_of": report.as_of,
            "numberReturned": features.len(),
            "features": features,
        });
        return Ok(json_response(
            StatusCode::OK,
            "application/geo+json",
            body.to_string(),
        ));
    }
    let body = serde_json::to_string(&report)
        .map_err(|e| ApiError::internal(format!("risk report: {e}")))?;
    Ok(json_response(StatusCode::OK, "application/json", body))
}

/// `/analytics/trends?dataset=…`: per site, events (or a property's sum) near it per period, the latest
/// period judged against the ones before; anomalies first, each with its reason.
pub async fn trends(
    State(state): State<AppState>,
    Caller(scope): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    if let Some(f) = params.get("f")
        && f != "json"
    {
        return Err(ApiError::not_acceptable(format!(
            "f={f}: trends are offered as JSON only"
        )));
    }
    let dataset = params
        .get("dataset")
        .ok_or_else(|| ApiError::bad_request("dataset: name the events dataset to count"))?;
    let dataset = DatasetId::new(dataset)
        .map_err(|e| ApiError::bad_request(format!("dataset: {}", e.message())))?;
    let defaults = AnomalyRule::default();
    let periods = params.number("periods")?.unwrap_or(12.0);
    if periods.fract() != 0.0 || periods < 1.0 {
        return Err(ApiError::bad_request(format!(
            "periods {periods} must be a whole number from 1"
        )));
    }
    let only_anomalies = match params.get("anomalies") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "anomalies '{other}' is not true or false"
            )));
        }
    };
    let mut report = state
        .console
        .trends(
            &scope,
            TrendRequest {
                sites: params.datasets("sites")?,
                dataset,
                radius_km: params.number("radius_km")?.unwrap_or(10.0),
                period: Period::parse(params.get("period").unwrap_or("week"))
                    .map_err(ApiError::bad_request)?,
                periods: periods.min(f64::from(u32::MAX)) as u32,
                end: params.instant("end")?,
                sum: params.get("sum").map(str::to_string),
                rule: AnomalyRule {
                    threshold_sd: params
                        .number("threshold_sd")?
                        .unwrap_or(defaults.threshold_sd),
                    min_current: params
                        .number("min_current")?
                        .unwrap_or(defaults.min_current),
                },
            },
        )
        .await?;
    if only_anomalies {
        report.sites.retain(|s| s.anomaly);
    }
    let body = serde_json::to_string(&report)
        .map_err(|e| ApiError::internal(format!("trend report: {e}")))?;
    Ok(json_response(StatusCode::OK, "application/json", body))
}

fn wants_geojson(params: &Params, what: &str) -> ApiResult<bool> {
    match params.get("f") {
        None | Some("json") => Ok(false),
        Some("geojson") => Ok(true),
        Some(other) => Err(ApiError::not_acceptable(format!(
            "f={other}: {what} are offered as f=json or f=geojson"
        ))),
    }
}

/// `/analytics/buckets?dataset=…&by=h3:5|areas:countries|sites:10&period=day&datetime=a/b&sum=…`: events
/// per region per period, busiest regions first.
pub async fn buckets(
    State(state): State<AppState>,
    Caller(scope): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    if let Some(f) = params.get("f")
        && f != "json"
    {
        return Err(ApiError::not_acceptable(format!(
            "f={f}: buckets are offered as JSON only"
        )));
    }
    let dataset = params
        .get("dataset")
        .ok_or_else(|| ApiError::bad_request("dataset: name the events dataset to bucket"))?;
    let dataset = DatasetId::new(dataset)
        .map_err(|e| ApiError::bad_request(format!("dataset: {}", e.message())))?;
    let window = params.datetime("datetime")?;
    let report = state
        .console
        .buckets(
            &scope,
            BucketRequest {
                dataset,
                by: Regions::parse(params.get("by").unwrap_or("h3:3"))?,
                period: Period::parse(params.get("period").unwrap_or("week"))
                    .map_err(ApiError::bad_request)?,
                start: window.as_ref().and_then(|w| w.start),
                end: window.as_ref().and_then(|w| w.end),
                sum: params.get("sum").map(str::to_string),
            },
        )
        .await?;
    let body = serde_json::to_string(&report)
        .map_err(|e| ApiError::internal(format!("bucket report: {e}")))?;
    Ok(json_response(StatusCode::OK, "application/json", body))
}
