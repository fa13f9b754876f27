//! `GET /collections/{id}/histogram`: how many features are active in each step of a time window, for the
//! console's time bar (and any client drawing one). Counted in the in-memory index, never the store.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use geoconsole_model::{Bbox, DatasetId, format_rfc3339};
use serde_json::json;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::reply::json_response;
use crate::state::AppState;

pub const MAX_BINS: usize = 2000;
const DEFAULT_BINS: usize = 100;

pub async fn histogram(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    _headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let id = DatasetId::new(id.as_str())
        .map_err(|_| ApiError::not_found(format!("collection '{id}' does not exist")))?;
    let snapshot = state
        .console
        .indexed_snapshot(&scope, &id)
        .map_err(|_| ApiError::not_found(format!("collection '{id}' does not exist")))?;
    let bins = match params.get("bins") {
        Some(b) => b
            .parse::<usize>()
            .ok()
            .filter(|b| (1..=MAX_BINS).contains(b))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "bins '{b}' must be a whole number from 1 to {MAX_BINS}"
                ))
            })?,
        None => DEFAULT_BINS,
    };
    let bbox = params
        .get("bbox")
        .map(|b| {
            Bbox::parse(b).map_err(|e| ApiError::bad_request(format!("bbox: {}", e.message())))
        })
        .transpose()?;
    let (start, end) = match params.get("datetime") {
        Some(text) => window(text)?,
        None => match snapshot.dataset().time_extent {
            Some(extent) => (extent.start, extent.end),
            None => {
                return Ok(json_response(
                    StatusCode::OK,
                    "application/json",
                    json!({"collection": id.as_str(), "bins": 0, "counts": []}).to_string(),
                ));
            }
        },
    };
    // A window of one instant still gets one step of a millisecond, so its features count.
    let (start_ms, end_ms) = (
        start.timestamp_millis(),
        end.timestamp_millis().max(start.timestamp_millis() + 1),
    );
    let counts = tokio::task::spawn_blocking(move || {
        snapshot.time_histogram(bbox.as_ref(), start_ms, end_ms, bins)
    })
    .await
    .map_err(|e| ApiError::internal(format!("histogram failed: {e}")))?;
    let body = json!({
        "collection": id.as_str(),
        "start": format_rfc3339(start),
        "end": format_rfc3339(end),
        "bins": bins,
        "step_ms": (end_ms - start_ms) as f64 / bins as f64,
        "counts": counts,
    });
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        body.to_string(),
    ))
}

/// A closed interval `start/end` (RFC 3339 both ends).
fn window(text: &str) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let bad = || {
        ApiError::bad_request(format!(
            "datetime '{text}' must be a closed interval START/END in RFC 3339"
        ))
    };
    let (a, b) = text.split_once('/').ok_or_else(bad)?;
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| bad())
    };
    let (start, end) = (parse(a)?, parse(b)?);
    if end < start {
        return Err(ApiError::bad_request(format!(
            "datetime '{text}' ends before it starts"
        )));
    }
    Ok((start, end))
}
