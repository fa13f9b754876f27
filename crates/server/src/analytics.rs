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
    params.only(&["sites", "hazards", "datetime", "radius_km", "f"], |_| {
        false
    })?;
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
