//! `/api`: the OpenAPI 3.0 document, generated from the route table.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::ogc::json_response;
use crate::routes::openapi;
use crate::state::AppState;

/// Lists only the collections the caller may read, so the document names nothing it would refuse.
pub async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    principal: Option<axum::Extension<geoconsole_access::Principal>>,
) -> Response {
    let base = state.base_url(&headers);
    let datasets: Vec<_> = state
        .console
        .live()
        .datasets()
        .into_iter()
        .filter(|d| {
            principal
                .as_ref()
                .is_none_or(|axum::Extension(p)| p.can_read(d.id.as_str()))
        })
        .collect();
    json_response(
        StatusCode::OK,
        "application/vnd.oai.openapi+json;version=3.0",
        openapi(&base, &datasets).to_string(),
    )
}
