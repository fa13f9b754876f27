//! `/catalog`: the built-in catalog of public sources (what each is, its licence, how often it changes,
//! whether it needs a key) and adding one as a feed in one request.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use geoconsole_feeds::catalog::{Catalog, CatalogEntry, Hazard, Kind, Protocol, Query};
use serde_json::{Value, json};

use crate::alerts::json_ok;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::writes::json_body;

/// An entry as the API shows it: the catalogued fields, whether it can be added here, whether it needs a
/// key, and the feed already made from it (by the entry's name).
fn shown(entry: &CatalogEntry, added: bool) -> Value {
    let mut value = serde_json::to_value(entry).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("addable".into(), json!(entry.addable()));
        object.insert("requires_key".into(), json!(entry.requires_key()));
        object.insert("added".into(), json!(added));
    }
    value
}

fn choice<T>(params: &Params, name: &str, parse: fn(&str) -> Option<T>) -> ApiResult<Option<T>> {
    params
        .get(name)
        .map(|text| {
            parse(text)
                .ok_or_else(|| ApiError::bad_request(format!("{name} '{text}' is not known")))
        })
        .transpose()
}

/// `GET /catalog?q=…&kind=…&protocol=…&hazard=…&addable=true`.
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let filter = Query {
        kind: choice(&params, "kind", Kind::parse)?,
        protocol: choice(&params, "protocol", Protocol::parse)?,
        hazard: choice(&params, "hazard", Hazard::parse)?,
        text: params.get("q").map(str::to_string),
        addable_only: match params.get("addable") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "addable '{other}' is not true or false"
                )));
            }
        },
    };
    let feeds: std::collections::HashSet<String> = state
        .console
        .feeds()
        .list()
        .await?
        .into_iter()
        .map(|v| v.spec.name)
        .collect();
    let entries: Vec<Value> = Catalog::builtin()
        .filter(&filter)
        .into_iter()
        .map(|e| shown(e, feeds.contains(&e.name)))
        .collect();
    json_ok(
        StatusCode::OK,
        &json!({"numberReturned": entries.len(), "entries": entries}),
    )
}

/// `GET /catalog/{entryName}`.
pub async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let entry = Catalog::builtin()
        .get(&name)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let added = state.console.feeds().get(&name).await.is_ok();
    json_ok(StatusCode::OK, &shown(entry, added))
}

/// `POST /catalog/{entryName}/add`: the entry saved as a feed (a paged source for connector protocols).
pub async fn add(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let choice: geoconsole_app::CatalogAdd = if body.is_empty() {
        Default::default()
    } else {
        json_body(&headers, &body, "catalog add")?
    };
    let saved = state
        .console
        .feeds()
        .add_from_catalog(&name, choice)
        .await?;
    json_ok(StatusCode::CREATED, &saved)
}
