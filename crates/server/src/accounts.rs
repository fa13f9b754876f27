//! `/auth/*`, `/users`, `/audit`: logging in and out, the caller's own API tokens, accounts and roles (admin),
//! and the audit log (admin, read-only: nothing here or anywhere else changes it).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use geoconsole_access::{
    AuditFilter, Grant, Principal, Role, TokenRecord, TokenRequest, UserRecord, Via,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::alerts::json_ok;
use crate::auth::{self, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::writes::json_body;

/// What `geoconsole_access` takes as an account name, for the API document.
const ACCOUNT_NAME: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

fn user_json(user: &UserRecord) -> Value {
    json!({
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "datasets": user.datasets,
        "created": user.created,
        "updated": user.updated,
    })
}

fn token_json(token: &TokenRecord) -> Value {
    let now = Utc::now();
    let state = if token.revoked.is_some() {
        "revoked"
    } else if token.expires.is_some_and(|e| now >= e) {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": token.id,
        "user": token.user,
        "label": token.label,
        "scope": token.scope.scope(),
        "datasets": token.datasets,
        "created": token.created,
        "expires": token.expires,
        "revoked": token.revoked,
        "last_used": token.last_used,
        "state": state,
    })
}

fn parse_scope(text: &str) -> ApiResult<Role> {
    Role::parse_scope(text).ok_or_else(|| {
        ApiError::bad_request(format!("scope '{text}' is not one of: read, write, admin"))
    })
}

fn parse_role(text: &str) -> ApiResult<Role> {
    Role::parse(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role '{text}' is not one of: viewer, editor, admin"
        ))
    })
}

fn session_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    // Strict: the cookie never rides along with a request another site starts, which is the first line
    // against CSRF; the X-CSRF-Token check is the second.
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("gc_session=; Path=/; Max-Age=0"))
}

#[derive(schemars::JsonSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    user: String,
    password: String,
}

/// `POST /auth/login`: a new session for a name and password (a new session id every time, and the
/// caller's old session, if any, ended: no session fixation).
pub async fn login(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let address = auth::client_address(&request);
    let (parts, raw) = request.into_parts();
    let bytes = axum::body::to_bytes(raw, 64 * 1024)
        .await
        .map_err(|_| ApiError::bad_request("the login body is too large"))?;
    let login: Login = json_body(&parts.headers, &bytes, "login")?;
    if let Some(old) = auth::cookie(&parts.headers, SESSION_COOKIE) {
        let _ = state.accounts.logout(old).await;
    }
    let outcome = state
        .accounts
        .login(&login.user, &login.password, &address)
        .await;
    let (status, actor, reason) = match &outcome {
        Ok(o) => (StatusCode::OK, o.principal.actor(), Value::Null),
        Err(e) => (
            ApiError::from(e.clone()).status,
            "anonymous".to_string(),
            json!(e.message),
        ),
    };
    auth::audit(
        &state,
        actor,
        "login".into(),
        login.user.clone(),
        status,
        address,
        json!({"reason": reason}),
    )
    .await;
    let outcome = outcome?;
    let policy = state.accounts.session_policy();
    let mut response = json_ok(
        StatusCode::OK,
        &json!({
            "authenticated": true,
            "user": outcome.principal.user,
            "role": outcome.principal.role,
            "datasets": outcome.principal.datasets,
            "csrf": outcome.csrf,
            "expires": outcome.expires,
            "idle_minutes": policy.idle.num_minutes(),
        }),
    )?;
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(
            &outcome.session,
            policy.absolute.num_seconds(),
            state.secure_cookies,
        ),
    );
    Ok(response)
}

/// `POST /auth/logout`: ends the session on the server (the cookie is worthless from now on, wherever a
/// copy of it is) and clears it in the browser.
pub async fn logout(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let address = auth::client_address(&request);
    let mut ended = None;
    if let Some(cookie) = auth::cookie(request.headers(), SESSION_COOKIE) {
        if let Ok(principal) = state.accounts.session(cookie).await {
            // A write like any other: a page of another site must not end the session (logout CSRF).
            if let Via::Session { csrf, .. } = &principal.via {
                let sent = request
                    .headers()
                    .get(auth::CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if sent.is_empty() || !geoconsole_access::same_secret(sent, csrf) {
                    return Err(ApiError::forbidden(
                        "a logout from a logged-in browser must carry the session's CSRF token in the X-CSRF-Token header",
                    ));
                }
            }
            ended = Some(principal.actor());
        }
        state.accounts.logout(cookie).await?;
    }
    if let Some(actor) = ended {
        auth::audit(
            &state,
            actor.clone(),
            "logout".into(),
            actor.trim_start_matches("user:").to_string(),
            StatusCode::NO_CONTENT,
            address,
            json!({}),
        )
        .await;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, state.secure_cookies),
    );
    Ok(response)
}

/// `GET /auth/session`: who the caller is (and the CSRF token its page must send with writes), or that
/// it is nobody yet.
pub async fn session(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> ApiResult<Response> {
    let accounts = state.accounts.any_accounts().await?;
    let Some(Extension(p)) = principal else {
        return json_ok(
            StatusCode::OK,
            &json!({"authenticated": false, "accounts": accounts}),
        );
    };
    let csrf = match &p.via {
        Via::Session { csrf, .. } => Some(csrf.clone()),
        _ => None,
    };
    json_ok(
        StatusCode::OK,
        &json!({
            "authenticated": true,
            "accounts": accounts,
            "user": p.user,
            "role": p.role,
            "datasets": p.datasets,
            "via": p.via,
            "csrf": csrf,
            "idle_minutes": state.accounts.session_policy().idle.num_minutes(),
        }),
    )
}

/// Acting on other accounts (their tokens, lists of everyone's) is for admins whose own view is unlimited:
/// a dataset-limited admin token would otherwise learn of, or make, what its limits hide.
fn may_manage_others(principal: &Principal) -> ApiResult<()> {
    if principal.role < Role::Admin {
        return Err(ApiError::forbidden(
            "only an admin may act on other accounts' tokens",
        ));
    }
    if !principal.sees_everything() {
        return Err(ApiError::forbidden(
            "this credential is limited to named datasets, so it may not act on other accounts",
        ));
    }
    Ok(())
}

fn caller(principal: &Principal) -> ApiResult<&str> {
    match principal.via {
        Via::Local => Err(ApiError::bad_request(
            "this console has no accounts yet, so there is nobody to own a token; create an admin with 'geoconsole users add NAME --role admin'",
        )),
        _ => Ok(&principal.user),
    }
}

/// `GET /auth/tokens`: the caller's tokens; an admin may ask for anyone's (`?user=NAME`) or all (`?user=*`).
pub async fn tokens(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let asked = params.get("user");
    let whose = match asked {
        Some(other) if other != principal.user => {
            may_manage_others(&principal)?;
            (other != "*").then(|| other.to_string())
        }
        Some(name) => Some(name.to_string()),
        None => Some(caller(&principal)?.to_string()),
    };
    let tokens = state.accounts.tokens(whose.as_deref()).await?;
    let list: Vec<Value> = tokens.iter().map(token_json).collect();
    json_ok(StatusCode::OK, &json!({"tokens": list}))
}

#[derive(schemars::JsonSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenBody {
    #[schemars(length(max = 200))]
    label: String,
    #[schemars(extend("enum" = ["read", "write", "admin"]))]
    scope: String,
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$")))]
    datasets: Option<Vec<String>>,
    /// Days until it expires; tokens expire in 90 days unless told otherwise, at most in 366.
    #[serde(default)]
    #[schemars(range(min = 1, max = 366))]
    expires_in_days: Option<u32>,
    /// Admins may make tokens for other accounts.
    #[serde(default)]
    #[schemars(regex(pattern = ACCOUNT_NAME))]
    user: Option<String>,
}

/// `POST /auth/tokens`: a new token; its secret is in this answer and nowhere else, ever.
pub async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    let request: NewTokenBody = json_body(&headers, &bytes, "token")?;
    // A token that could make tokens could outlive its own expiry and revocation, and (before this rule) a
    // token limited to one dataset made one limited to none. Tokens are made by a person: a logged-in
    // session (the console) or the command line (`geoconsole tokens create`).
    if let Via::Token { .. } = principal.via {
        return Err(ApiError::forbidden(
            "an API token cannot make tokens; make them from a logged-in session in the console, or with 'geoconsole tokens create'",
        ));
    }
    let owner = match request.user {
        Some(user) if user != principal.user => {
            may_manage_others(&principal)?;
            user
        }
        _ => caller(&principal)?.to_string(),
    };
    // A limited account's token is limited to (some of) what the account may read; naming more is refused
    // rather than silently narrowed.
    if owner == principal.user
        && let (Some(granted), Some(named)) = (&principal.datasets, &request.datasets)
        && let Some(outside) = named.iter().find(|d| !granted.contains_key(d.as_str()))
    {
        return Err(ApiError::forbidden(format!(
            "this account may not read dataset '{outside}', so its tokens may not name it"
        )));
    }
    let days = request.expires_in_days.unwrap_or(90);
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_request(
            "expires_in_days must be between 1 and 366",
        ));
    }
    let scope = parse_scope(&request.scope)?;
    if scope > principal.role {
        return Err(ApiError::forbidden(format!(
            "a token cannot do more than the session making it ({} may make at most {} tokens)",
            principal.role.as_str(),
            principal.role.scope()
        )));
    }
    let made = state
        .accounts
        .create_token(TokenRequest {
            user: owner,
            label: request.label,
            scope,
            datasets: request.datasets,
            expires: Some(Utc::now() + Duration::days(i64::from(days))),
        })
        .await?;
    let mut answer = token_json(&made.record);
    answer["token"] = json!(made.secret);
    json_ok(StatusCode::CREATED, &answer)
}

/// `DELETE /auth/tokens/{tokenId}`: revokes one of the caller's tokens (an admin: anyone's). Another
/// account's token is "not found" to a non-admin, so ids cannot be probed.
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let missing = || ApiError::not_found(format!("token '{id}' does not exist"));
    let token = state.accounts.token(&id).await.map_err(|_| missing())?;
    if token.user != principal.user && may_manage_others(&principal).is_err() {
        return Err(missing());
    }
    let revoked = state.accounts.revoke_token(&id).await?;
    json_ok(StatusCode::OK, &token_json(&revoked))
}

pub async fn users(State(state): State<AppState>) -> ApiResult<Response> {
    let users: Vec<Value> = state
        .accounts
        .users()
        .await?
        .iter()
        .map(user_json)
        .collect();
    json_ok(StatusCode::OK, &json!({"users": users}))
}

pub async fn user(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    json_ok(
        StatusCode::OK,
        &user_json(&state.accounts.user(&name).await?),
    )
}

#[derive(schemars::JsonSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    #[schemars(regex(pattern = ACCOUNT_NAME))]
    name: String,
    #[schemars(extend("enum" = ["viewer", "editor", "admin"]))]
    role: String,
    /// At least 12 characters, and not one that is easy to guess.
    #[schemars(length(min = 12, max = 1024))]
    password: String,
}

pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    let new: NewUser = json_body(&headers, &bytes, "user")?;
    let role = parse_role(&new.role)?;
    let user = state
        .accounts
        .add_user(&new.name, role, &new.password)
        .await?;
    json_ok(StatusCode::CREATED, &user_json(&user))
}

#[derive(schemars::JsonSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserChange {
    #[serde(default)]
    #[schemars(extend("enum" = ["viewer", "editor", "admin"]))]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    #[schemars(length(min = 12, max = 1024))]
    password: Option<String>,
    /// `null` lifts the limit; an object limits the account to these datasets.
    #[serde(default, deserialize_with = "serde_with_null::deserialize")]
    #[schemars(with = "Option<BTreeMap<String, Grant>>")]
    datasets: Option<Option<BTreeMap<String, Grant>>>,
}

/// Tells "datasets": null (lift the limit) apart from no "datasets" at all (leave it).
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// `PUT /users/{userName}`: role, disabled, password, dataset limits; a disabled account's sessions end
/// at once, and a new password ends them too.
pub async fn change_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    let change: UserChange = json_body(&headers, &bytes, "user")?;
    let role = change.role.as_deref().map(parse_role).transpose()?;
    let accounts = &state.accounts;
    accounts.user(&name).await?;
    // Role and state first: a change the last-admin rule refuses is refused before anything else moves.
    if let Some(role) = role {
        accounts.set_role(&name, role).await?;
    }
    if let Some(disabled) = change.disabled {
        accounts.set_disabled(&name, disabled).await?;
    }
    if let Some(password) = &change.password {
        accounts.set_password(&name, password).await?;
    }
    if let Some(datasets) = change.datasets {
        accounts.set_datasets(&name, datasets).await?;
    }
    json_ok(StatusCode::OK, &user_json(&accounts.user(&name).await?))
}

fn instant(params: &Params, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    params
        .get(name)
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::bad_request(format!("{name}: '{t}' is not an RFC 3339 time: {e}"))
                })
        })
        .transpose()
}

/// `GET /audit`: the audit log, newest first, filtered by actor, action or target prefix, time, and paged
/// with `before` (a sequence number).
pub async fn audit(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let number = |name: &str, max: u64| -> ApiResult<Option<u64>> {
        params
            .get(name)
            .map(|v| match v.parse::<u64>() {
                Ok(n) if n >= 1 && n <= max => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "{name} must be a whole number from 1 to {max}"
                ))),
            })
            .transpose()
    };
    let filter = AuditFilter {
        actor: params.get("actor").map(str::to_string),
        action: params.get("action").map(str::to_string),
        target: params.get("target").map(str::to_string),
        since: instant(&params, "since")?,
        until: instant(&params, "until")?,
        before: number("before", u64::MAX)?,
        limit: number("limit", 1000)?.unwrap_or(100) as usize,
    };
    let entries = state.accounts.audit_log(filter).await?;
    json_ok(StatusCode::OK, &json!({"entries": entries}))
}
