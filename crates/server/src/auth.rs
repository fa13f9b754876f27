//! Who is calling, and whether they may: the layer every route in the table runs behind (deny by default:
//! a route states what it needs, and nothing is served before that is checked), the CSRF check for
//! cookie-authenticated writes, per-dataset limits on the datasets a request names, and the audit entry
//! for every write and every refusal.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use geoconsole_access::{AccessError, AccessErrorKind, AuditEntry, Need, Principal, Via};
use geoconsole_model::DatasetKind;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "gc_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a route does with datasets, for accounts limited to some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datasets {
    /// Touches no dataset (capabilities, health, accounts).
    Untouched,
    /// Names its datasets in the path or query; each is checked, and defaults are narrowed to what the
    /// account may read.
    Named,
    /// Lists datasets and leaves out, itself, what the account may not read.
    Filtered,
    /// Combines every dataset by configuration (risk, rules, alerts, feeds): only accounts without
    /// dataset limits may use it.
    Everything,
}

/// What one route needs, fixed in the route table.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub need: Need,
    pub datasets: Datasets,
    /// Query parameters (by their table names) that name datasets.
    pub parameters: &'static [&'static str],
    /// The route writes its own audit entry (login and logout, which know more than the layer).
    pub audits_itself: bool,
    /// The handler reads who is calling. Public routes that do not (liveness, the basemap's many tiles)
    /// skip the store lookups a session or token costs.
    pub identifies: bool,
}

/// The client's address, for throttling and the audit log.
pub fn client_address(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn refusal(error: &AccessError) -> ApiError {
    match error.kind {
        AccessErrorKind::Unauthenticated => unauthorized(&error.message),
        AccessErrorKind::Forbidden => ApiError::forbidden(error.message.clone()),
        AccessErrorKind::Throttled => ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "TooManyRequests",
            description: error.message.clone(),
        },
        AccessErrorKind::Invalid => ApiError::bad_request(error.message.clone()),
        AccessErrorKind::NotFound => ApiError::not_found(error.message.clone()),
        AccessErrorKind::Store => ApiError::internal(error.message.clone()),
    }
}

pub fn unauthorized(why: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "Unauthorized",
        description: format!(
            "{why}; log in, or send an API token as 'Authorization: Bearer <token>'"
        ),
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        refusal(&error)
    }
}

/// The principal behind a request, if it proves one. A credential that is present but wrong is an
/// error, never a silent fall-back to anonymous.
pub async fn identify(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    let query = uri.query().unwrap_or("");
    if query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        matches!(name, "access_token" | "token" | "api_key" | "apikey")
    }) {
        // Query strings end up in logs, histories and Referer headers (ASVS 3.1.1).
        return Err(unauthorized(
            "tokens are not accepted in URLs, where logs and browser histories keep them",
        ));
    }
    let accounts = &state.accounts;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or("");
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .ok_or_else(|| unauthorized("only 'Authorization: Bearer <token>' is accepted"))?;
        return Ok(Some(accounts.bearer(token.trim()).await?));
    }
    if let Some(session) = cookie(headers, SESSION_COOKIE) {
        return match accounts.session(session).await {
            Ok(principal) => Ok(Some(principal)),
            Err(e) if e.kind == AccessErrorKind::Unauthenticated => Err(unauthorized(&e.message)),
            Err(e) => Err(e.into()),
        };
    }
    if state.local_without_accounts && !accounts.any_accounts().await? {
        return Ok(Some(Principal::local()));
    }
    Ok(None)
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The query parameter naming datasets that a route-table parameter stands for, if it names datasets.
fn dataset_parameter(table_name: &str) -> Option<&'static str> {
    match table_name {
        "trend-dataset" | "buckets-dataset" => Some("dataset"),
        "datasets-query" => Some("datasets"),
        "sites" => Some("sites"),
        "hazards" => Some("hazards"),
        "collection" => Some("collection"),
        _ => None,
    }
}

/// Checks the datasets a request names against the principal's limits, and narrows defaults ("every
/// dataset of kind sites") to the ones it may read by naming them in the query.
async fn check_datasets(
    state: &AppState,
    principal: &Principal,
    guard: &Guard,
    request: &mut Request,
    path_params: &RawPathParams,
) -> Result<(), ApiError> {
    if principal.sees_everything() {
        return Ok(());
    }
    let hidden = |id: &str| ApiError::not_found(format!("collection '{id}' does not exist"));
    match guard.datasets {
        Datasets::Untouched | Datasets::Filtered => return Ok(()),
        Datasets::Everything => {
            return Err(ApiError::forbidden(
                "this account is limited to named datasets; risk scores, rules, alerts and feeds span every dataset, so they need an account without dataset limits",
            ));
        }
        Datasets::Named => {}
    }
    for (name, value) in path_params {
        if matches!(name, "collectionId" | "datasets") {
            for id in value.split(',') {
                if !principal.can_read(id) {
                    return Err(hidden(id));
                }
            }
        }
    }
    let query = request.uri().query().unwrap_or("").to_string();
    let pairs: Vec<(String, String)> = crate::params::form_urlencoded(&query);
    let mut added = Vec::new();
    for name in guard.parameters.iter().filter_map(|p| dataset_parameter(p)) {
        match pairs.iter().find(|(k, _)| k == name) {
            Some((_, list)) => {
                for id in list.split(',').filter(|s| !s.is_empty()) {
                    if !principal.can_read(id) {
                        return Err(hidden(id));
                    }
                }
            }
            None if matches!(name, "sites" | "hazards" | "datasets") => {
                let datasets = state.console.datasets().await?;
                let wanted = |kind: DatasetKind| match name {
                    "sites" => kind == DatasetKind::Sites,
                    "hazards" => kind == DatasetKind::Events,
                    _ => true,
                };
                let ids: Vec<String> = datasets
                    .iter()
                    .filter(|d| wanted(d.kind) && principal.can_read(d.id.as_str()))
                    .map(|d| d.id.to_string())
                    .collect();
                if ids.is_empty() {
                    return Err(ApiError::forbidden(format!(
                        "this account may read none of the datasets '{name}' would cover"
                    )));
                }
                added.push(format!("{name}={}", ids.join(",")));
            }
            None => {}
        }
    }
    if !added.is_empty() {
        let joined = if query.is_empty() {
            added.join("&")
        } else {
            format!("{query}&{}", added.join("&"))
        };
        let path = request.uri().path().to_string();
        if let Ok(uri) = format!("{path}?{joined}").parse() {
            *request.uri_mut() = uri;
        }
    }
    Ok(())
}

/// The role check, and the CSRF check for writes made with a session cookie (a bearer token cannot be
/// sent by a cross-site form, so it needs none).
fn permitted(
    principal: Principal,
    guard: &Guard,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    if !principal.allows(guard.need) {
        return Err(ApiError::forbidden(format!(
            "the {} role may not do this; it needs {}",
            principal.role.as_str(),
            guard.need.role().map_or("nothing", |r| r.as_str())
        )));
    }
    if let (true, Via::Session { csrf, .. }) = (is_write(method), &principal.via) {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if sent.is_empty() || !geoconsole_access::same_secret(sent, csrf) {
            return Err(ApiError::forbidden(
                "a write from a logged-in browser must carry the session's CSRF token in the X-CSRF-Token header",
            ));
        }
    }
    Ok(Some(principal))
}

/// The layer in front of every route of the table.
pub async fn guard(
    State((state, guard)): State<(AppState, Guard)>,
    path_params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let address = client_address(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_string());
    let attempt = Attempt {
        action: format!("{method} {route}"),
        target: path,
        source: address.clone(),
    };
    let identified = if guard.identifies {
        identify(&state, request.uri(), request.headers()).await
    } else {
        Ok(None)
    };
    let actor = match &identified {
        Ok(Some(p)) => p.actor(),
        _ => "anonymous".to_string(),
    };
    // An account's requests share one bucket wherever they come from; everyone else is counted by address.
    let client = match &identified {
        Ok(Some(p)) if p.via != Via::Local => p.actor(),
        _ => format!("ip:{address}"),
    };
    if let Some(wait) = state.rate.check(&client) {
        let mut response = ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "TooManyRequests",
            description: format!("too many requests from this client; try again in {wait} s"),
        }
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let decision: Result<Option<Principal>, ApiError> = match identified {
        Ok(principal) if guard.need == Need::Public => Ok(principal),
        Err(_) if guard.need == Need::Public => Ok(None),
        Err(e) => Err(e),
        Ok(None) => Err(unauthorized("this needs an account")),
        Ok(Some(principal)) => permitted(principal, &guard, &method, request.headers()),
    };
    let principal = match decision {
        Ok(p) => p,
        Err(error) => {
            let status = error.status;
            attempt
                .record(&state, actor, status, json!({"reason": error.description}))
                .await;
            let mut response = error.into_response();
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"geoconsole\""),
                );
            }
            return response;
        }
    };
    if let Some(p) = &principal {
        if let Err(error) = check_datasets(&state, p, &guard, &mut request, &path_params).await {
            let status = error.status;
            if status == StatusCode::FORBIDDEN {
                attempt
                    .record(
                        &state,
                        p.actor(),
                        status,
                        json!({"reason": error.description}),
                    )
                    .await;
            }
            return error.into_response();
        }
        request.extensions_mut().insert(p.clone());
    }
    let write = is_write(&method);
    let response = next.run(request).await;
    let status = response.status();
    let refused = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
    if !guard.audits_itself && (write || refused) {
        attempt.record(&state, actor, status, json!({})).await;
    }
    response
}

/// What a request tried, as its audit entries name it.
struct Attempt {
    action: String,
    target: String,
    source: String,
}

impl Attempt {
    async fn record(
        &self,
        state: &AppState,
        actor: String,
        status: StatusCode,
        detail: serde_json::Value,
    ) {
        audit(
            state,
            actor,
            self.action.clone(),
            self.target.clone(),
            status,
            self.source.clone(),
            detail,
        )
        .await;
    }
}

pub fn outcome(status: StatusCode) -> String {
    let word = if status.is_success() || status.is_redirection() {
        "ok"
    } else if status.is_client_error() {
        "refused"
    } else {
        "failed"
    };
    format!("{word} {}", status.as_u16())
}

pub async fn audit(
    state: &AppState,
    actor: String,
    action: String,
    target: String,
    status: StatusCode,
    source: String,
    detail: serde_json::Value,
) {
    state
        .accounts
        .audit(AuditEntry {
            at: Utc::now(),
            actor,
            action,
            target,
            outcome: outcome(status),
            source,
            detail,
        })
        .await;
}
