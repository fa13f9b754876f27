//! Who is calling, and whether they may: the layer every route in the table runs behind (deny by default:
//! a route states what it needs, and nothing is served before that is checked), the CSRF check for
//! cookie-authenticated writes, per-dataset limits on the datasets a request names, and the audit entry
//! for every write and every refusal.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use geoconsole_access::{AccessError, AccessErrorKind, AuditEntry, Need, Principal, Scope, Via};
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
    /// Reads datasets on the caller's behalf, named or by default: the handler hands the caller's
    /// [`Scope`](geoconsole_access::Scope) to `app`, which answers hidden datasets as missing and narrows
    /// defaults to what the caller sees.
    Scoped,
    /// Combines every dataset by configuration (risk, rules, alerts, feeds): only accounts without
    /// dataset limits may use it.
    Everything,
}

/// What one route needs, fixed in the route table.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub need: Need,
    pub datasets: Datasets,
    /// The route writes its own audit entry (login and logout, which know more than the layer).
    pub audits_itself: bool,
    /// The handler reads who is calling. Public routes that do not (liveness, the basemap's many tiles)
    /// skip the store lookups a session or token costs.
    pub identifies: bool,
}

/// The datasets the caller may read, from the principal the guard identified: what every handler that
/// reads data hands to `app`. A request the guard let through without a principal (a public route) sees no
/// dataset at all, so a handler can never read on behalf of nobody by mistake.
pub struct Caller(pub Scope);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<Principal>()
                .map_or_else(|| Scope::only([]), Principal::scope),
        ))
    }
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
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !state.local_hosts.allows(host) {
            // Another site's page whose name now points here (DNS rebinding) is not this machine's user.
            return Err(unauthorized(&format!(
                "this console has no accounts, so it serves only requests addressed to this machine (localhost or 127.0.0.1), not to '{}'; reach it by that address, set --public-url, or add an account",
                host.unwrap_or("").chars().take(100).collect::<String>()
            )));
        }
        return Ok(Some(Principal::local()));
    }
    Ok(None)
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Accounts limited to named datasets may not use routes that combine every dataset by configuration.
/// Which datasets the others may read is decided by `app`, with the caller's scope (see
/// `geoconsole_app::Console::datasets`), never here.
fn check_datasets(principal: &Principal, guard: &Guard) -> Result<(), ApiError> {
    if guard.datasets == Datasets::Everything && !principal.sees_everything() {
        return Err(ApiError::forbidden(
            "this credential is limited to named datasets; risk scores, rules, alerts, feeds, accounts and the audit log span every dataset, so they need a credential without dataset limits",
        ));
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
    let cross_site = if is_write(&method) {
        crate::origins::same_origin(request.headers()).err()
    } else {
        None
    };
    let decision: Result<Option<Principal>, ApiError> = match (identified, cross_site) {
        (_, Some(refused)) => Err(refused),
        (identified, None) => match identified {
            Ok(principal) if guard.need == Need::Public => Ok(principal),
            Err(_) if guard.need == Need::Public => Ok(None),
            Err(e) => Err(e),
            Ok(None) => Err(unauthorized("this needs an account")),
            Ok(Some(principal)) => permitted(principal, &guard, &method, request.headers()),
        },
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
        if let Err(error) = check_datasets(p, &guard) {
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
