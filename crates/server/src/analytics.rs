//! `/analytics/exposure`: which sites lie within reach of which hazard events (see room `analytics`).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use geoconsole_app::ExposureRequest;
use geoconsole_model::DatasetId;
use geoconsole_query::DateTimeFilter;

use crate::error::{ApiError, ApiResult};
use crate::ogc::json_response;
use crate::params::Params;
use crate::state::AppState;

pub async fn exposure(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    params.only(
        &["sites", "hazards", "datetime", "radius_km", "hits", "f"],
        |_| false,
    )?;
    let list = |name: &str| -> ApiResult<Vec<DatasetId>> {
        params
            .get(name)
            .map(|l| {
                l.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|id| {
                        DatasetId::new(id)
                            .map_err(|e| ApiError::bad_request(format!("{name}: {}", e.message())))
                    })
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    };
    let radius_km = params
        .get("radius_km")
        .map(|r| {
            r.parse::<f64>()
                .map_err(|_| ApiError::bad_request(format!("radius_km '{r}' is not a number")))
        })
        .transpose()?;
    let request = ExposureRequest {
        sites: list("sites")?,
        hazards: list("hazards")?,
        datetime: params
            .get("datetime")
            .map(|d| DateTimeFilter::parse(d).map_err(|e| ApiError::bad_request(e.to_string())))
            .transpose()?,
        radius_km,
        nearest_only: match params.get("hits") {
            None | Some("all") => false,
            Some("nearest") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "hits '{other}' is not one of: all, nearest"
                )));
            }
        },
        ..ExposureRequest::default()
    };
    let geojson = match params.get("f") {
        None | Some("json") => false,
        Some("geojson") => true,
        Some(other) => {
            return Err(ApiError::not_acceptable(format!(
                "f={other}: exposure is offered as f=json or f=geojson"
            )));
        }
    };
    let report = state.console.exposure(request).await?;
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
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    params.only(
        &["collection", "resolution", "bbox", "datetime", "f"],
        |_| false,
    )?;
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
    let datetime = params
        .get("datetime")
        .map(|d| DateTimeFilter::parse(d).map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()?;
    let cells = state
        .console
        .hexbin(&id, resolution, bbox, datetime)
        .await?;
    if cells.len() > MAX_CELLS {
        return Err(ApiError::bad_request(format!(
            "{} cells at resolution {resolution}; at most {MAX_CELLS}: choose a coarser resolution or a smaller bbox",
            cells.len()
        )));
    }
    let total: u64 = cells.iter().map(|c| c.count).sum();
    let features: Vec<serde_json::Value> = cells
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "type": "Feature",
                "id": c.cell,
                "geometry": {"type": "Polygon", "coordinates": [c.ring]},
                "properties": {"cell": c.cell, "count": c.count},
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
