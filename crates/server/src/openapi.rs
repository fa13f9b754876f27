//! `/api`: the OpenAPI 3.0 document, generated from the route table.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::auth::Caller;
use crate::reply::json_response;
use crate::routes::openapi;
use crate::state::AppState;

/// Lists only the collections the caller may read, so the document names nothing it would refuse.
pub async fn document(
    State(state): State<AppState>,
    Caller(scope): Caller,
    headers: HeaderMap,
) -> Response {
    let base = state.base_url(&headers);
    let datasets = state.console.indexed_datasets(&scope);
    json_response(
        StatusCode::OK,
        "application/vnd.oai.openapi+json;version=3.0",
        openapi(&base, &datasets).to_string(),
    )
}
