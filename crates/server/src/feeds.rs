//! `/feeds`: the live feed registry (create, change, pause, resume, delete), each feed's health and lag,
//! and polling a feed now. Definitions are checked, URL and addresses included, before they are saved.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use geoconsole_feeds::FeedSpec;
use serde_json::json;

use crate::alerts::json_ok;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::writes::json_body;

fn read_spec(headers: &HeaderMap, body: &[u8]) -> ApiResult<FeedSpec> {
    json_body(headers, body, "feed")
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    let feeds = state.console.feeds().list().await?;
    json_ok(StatusCode::OK, &json!({"feeds": feeds}))
}

/// `POST /feeds`: a new feed; 409 when the name is taken.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let spec = read_spec(&headers, &body)?;
    let saved = state.console.feeds().save(spec, false).await?;
    json_ok(StatusCode::CREATED, &saved)
}

/// `POST /feeds/preview`: what the feed in the body holds now, read without saving it or writing anything.
pub async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let spec = read_spec(&headers, &body)?;
    let preview = state.console.feeds().preview(spec).await?;
    json_ok(StatusCode::OK, &preview)
}

pub async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let feed = state.console.feeds().get(&name).await?;
    json_ok(StatusCode::OK, &feed)
}

/// `PUT /feeds/{name}`: creates or redefines a feed (its health and item memory stay).
pub async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let spec = read_spec(&headers, &body)?;
    if spec.name != name {
        return Err(ApiError::bad_request(format!(
            "the body names feed '{}' but the path says '{name}'",
            spec.name
        )));
    }
    let saved = state.console.feeds().save(spec, true).await?;
    json_ok(StatusCode::OK, &saved)
}

pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    state.console.feeds().delete(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn pause(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    set_enabled(&state, &name, false).await
}

pub async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    set_enabled(&state, &name, true).await
}

async fn set_enabled(state: &AppState, name: &str, enabled: bool) -> ApiResult<Response> {
    let feed = state.console.feeds().set_enabled(name, enabled).await?;
    json_ok(StatusCode::OK, &feed)
}

/// `POST /feeds/{name}/poll`: polls now and answers with what the poll did (a failed fetch is a 200 with
/// `outcome: failed`: the request worked, the feed did not).
pub async fn poll(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let report = state.console.feeds().poll(&name).await?;
    json_ok(StatusCode::OK, &report)
}
