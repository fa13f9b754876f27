//! `/rules` and `/alerts`: alert rules (create, list, delete, dry-run), alerts with their lifecycle
//! (acknowledge with a disposition, resolve), the live stream `/alerts/stream` (SSE, resumable with
//! `Last-Event-ID`), and the webhook outbox (deliveries, dead letters, retry).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use geoconsole_app::{AlertEvent, Rule};
use geoconsole_store::{AlertFilter, AlertState, DeliveryState, Disposition};
use serde::Deserialize;
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use axum::Extension;
use geoconsole_access::{Principal, Via};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::reply::json_response;
use crate::state::AppState;
use crate::writes::require_content_type;

/// Alerts listed per request at most.
const MAX_LIST: usize = 1000;

pub(crate) fn json_ok(status: StatusCode, value: &impl serde::Serialize) -> ApiResult<Response> {
    let body =
        serde_json::to_string(value).map_err(|e| ApiError::internal(format!("json: {e}")))?;
    Ok(json_response(status, "application/json", body))
}

fn read_rule(headers: &HeaderMap, body: &[u8]) -> ApiResult<Rule> {
    require_content_type(headers, &["application/json"])?;
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("rule: {e}")))
}

pub async fn list_rules(State(state): State<AppState>) -> ApiResult<Response> {
    let rules = state.console.alerts().rules().await?;
    json_ok(StatusCode::OK, &json!({"rules": rules}))
}

/// `POST /rules`: creates or replaces a rule; it goes live from now on.
pub async fn put_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let rule = read_rule(&headers, &body)?;
    let saved = state.console.alerts().put_rule(rule).await?;
    json_ok(StatusCode::CREATED, &saved)
}

pub async fn get_rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    json_ok(StatusCode::OK, &state.console.alerts().rule(&id).await?)
}

pub async fn delete_rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.console.alerts().delete_rule(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /rules/dry-run?datetime=…`: what the rule in the body would have raised on stored history.
pub async fn dry_run(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let rule = read_rule(&headers, &body)?;
    let report = state
        .console
        .alerts()
        .dry_run(rule, params.datetime("datetime")?)
        .await?;
    json_ok(StatusCode::OK, &report)
}

/// `GET /alerts?state=…&rule=…&after=…&limit=…&order=newest|oldest`.
pub async fn list_alerts(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let filter = AlertFilter {
        after: params
            .number("after")?
            .map(|n| n.clamp(0.0, i64::MAX as f64) as i64),
        state: params
            .get("state")
            .map(|s| {
                AlertState::parse(s).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "state '{s}' is not one of: open, acknowledged, resolved"
                    ))
                })
            })
            .transpose()?,
        rule: params.get("rule").map(str::to_string),
        newest_first: match params.get("order") {
            None | Some("newest") => true,
            Some("oldest") => false,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "order '{other}' is not newest or oldest"
                )));
            }
        },
        limit: match params.number("limit")? {
            None => 100,
            Some(l) if l >= 1.0 && l <= MAX_LIST as f64 && l.fract() == 0.0 => l as usize,
            Some(l) => {
                return Err(ApiError::bad_request(format!(
                    "limit {l} must be a whole number from 1 to {MAX_LIST}"
                )));
            }
        },
    };
    let alerts = state.console.alerts().list(filter).await?;
    json_ok(
        StatusCode::OK,
        &json!({"numberReturned": alerts.len(), "alerts": alerts}),
    )
}

fn seq(text: &str) -> ApiResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::not_found(format!("alert '{text}' does not exist")))
}

pub async fn get_alert(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    json_ok(
        StatusCode::OK,
        &state.console.alerts().get(seq(&id)?).await?,
    )
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    /// Who decided; with accounts it is the account, whatever the body says.
    #[serde(default)]
    by: String,
    #[serde(default)]
    #[schemars(extend("enum" = ["relevant", "no_impact", "false_positive", "duplicate"]))]
    disposition: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

async fn decide(
    state: AppState,
    principal: Principal,
    id: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
    to: AlertState,
) -> ApiResult<Response> {
    require_content_type(&headers, &["application/json"])?;
    let mut decision: Decision = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("decision: {e}")))?;
    // An acknowledgement is evidence of who looked; with accounts it cannot be signed in another's name.
    if principal.via != Via::Local {
        decision.by = principal.user.clone();
    }
    if decision.by.trim().is_empty() {
        return Err(ApiError::bad_request("by: say who decides"));
    }
    let disposition = decision
        .disposition
        .as_deref()
        .map(|d| {
            Disposition::parse(d).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "disposition '{d}' is not one of: relevant, no_impact, false_positive, duplicate"
                ))
            })
        })
        .transpose()?;
    let record = state
        .console
        .alerts()
        .transition(seq(&id)?, to, &decision.by, disposition, decision.note)
        .await?;
    json_ok(StatusCode::OK, &record)
}

/// `POST /alerts/{id}/acknowledge` with `{"by": …, "disposition": …, "note": …}`.
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    decide(
        state,
        principal,
        id,
        headers,
        body,
        AlertState::Acknowledged,
    )
    .await
}

/// `POST /alerts/{id}/resolve` with `{"by": …, "disposition"?: …, "note"?: …}`.
pub async fn resolve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    decide(state, principal, id, headers, body, AlertState::Resolved).await
}

/// `GET /alerts/stream`: alerts raised after `Last-Event-ID` (or `?after=`) from the store, then new ones
/// as they are raised (`alert`, with the sequence number as the event id) and lifecycle changes (`update`).
/// A listener that falls behind is told to `resync` (reconnecting with its last id loses nothing).
pub async fn stream(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let params = Params::parse(query.as_deref())?;
    let from_header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = match from_header {
        Some(n) => Some(n),
        None => params.number("after")?.map(|n| n.max(0.0) as i64),
    };
    // Subscribe before reading the backlog, so nothing raised in between is missed (duplicates are
    // dropped by sequence number below).
    let receiver = state.console.alerts().subscribe();
    let backlog = match after {
        Some(after) => {
            state
                .console
                .alerts()
                .list(AlertFilter {
                    after: Some(after),
                    limit: MAX_LIST,
                    ..AlertFilter::default()
                })
                .await?
        }
        None => Vec::new(),
    };
    let mut last = backlog.last().map(|a| a.seq).or(after).unwrap_or(0);
    let hello = stream::once(async {
        Ok(Event::default()
            .event("hello")
            .data("{\"status\":\"listening\"}"))
    });
    let replay = stream::iter(backlog.into_iter().map(|a| Ok(alert_event(&a))));
    let live = BroadcastStream::new(receiver).filter_map(move |item| {
        let event = match item {
            Ok(AlertEvent::Raised { alert }) => {
                if alert.seq <= last {
                    None
                } else {
                    last = alert.seq;
                    Some(alert_event(&alert))
                }
            }
            Ok(AlertEvent::Updated { alert }) => Some(
                Event::default()
                    .event("update")
                    .data(serde_json::to_string(&alert).unwrap_or_default()),
            ),
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(
                Event::default()
                    .event("resync")
                    .data(json!({"missed": missed}).to_string()),
            ),
        };
        async move { event.map(Ok) }
    });
    let mut shutdown = state.shutdown.clone();
    let until_shutdown = async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    };
    let events = hello.chain(replay).chain(live).take_until(until_shutdown);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn alert_event(alert: &geoconsole_store::AlertRecord) -> Event {
    Event::default()
        .event("alert")
        .id(alert.seq.to_string())
        .data(serde_json::to_string(alert).unwrap_or_default())
}

/// `GET /alerts/deliveries?state=pending|delivered|dead`: the outbox, newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref())?;
    let wanted = params
        .get("state")
        .map(|s| {
            DeliveryState::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "state '{s}' is not one of: pending, delivered, dead"
                ))
            })
        })
        .transpose()?;
    let list = state
        .console
        .alerts()
        .store()
        .deliveries(wanted, MAX_LIST)
        .await
        .map_err(geoconsole_app::AppError::from)?;
    json_ok(
        StatusCode::OK,
        &json!({"deliveries": list, "webhooks": state.console.alerts().webhooks()}),
    )
}

/// `POST /alerts/deliveries/{id}/retry`: puts a dead letter back in the queue.
pub async fn retry_delivery(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = id
        .parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("delivery '{id}' does not exist")))?;
    let alerting = state.console.alerts();
    let delivery = alerting
        .store()
        .retry_delivery(id, chrono::Utc::now())
        .await
        .map_err(geoconsole_app::AppError::from)?;
    alerting.wake_outbox();
    json_ok(StatusCode::OK, &delivery)
}
