//! Operations: liveness, readiness, Prometheus metrics, and the change stream clients refresh from.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use geoconsole_model::DatasetId;
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::reply::json_response;
use crate::state::AppState;

/// The process is up and answering.
pub async fn healthz() -> Response {
    json_response(
        StatusCode::OK,
        "application/json",
        json!({"status": "ok"}).to_string(),
    )
}

/// Every dataset is indexed: the server answers with all data.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.console.is_ready() {
        json_response(
            StatusCode::OK,
            "application/json",
            json!({"status": "ready", "leader": state.console.is_leader()}).to_string(),
        )
    } else {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            json!({"status": "loading", "description": "datasets are still being indexed, or alert rules catching up"})
                .to_string(),
        )
    }
}

pub async fn metrics_route(State(state): State<AppState>) -> Response {
    let indexes = state.console.live().indexes();
    metrics::gauge!("geoconsole_index_bytes").set(indexes.memory_bytes() as f64);
    metrics::gauge!("geoconsole_index_datasets").set(indexes.all().len() as f64);
    metrics::gauge!("geoconsole_index_features")
        .set(indexes.all().iter().map(|s| s.len()).sum::<usize>() as f64);
    metrics::gauge!("geoconsole_tile_cache_bytes").set(state.tiles.bytes() as f64);
    metrics::gauge!("geoconsole_cluster_leader").set(if state.console.is_leader() {
        1.0
    } else {
        0.0
    });
    feed_metrics(&state).await;
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Server-sent events: one `change` event per committed dataset change (dataset, change, version, bbox),
/// optionally only for `?datasets=a,b`. A listener that falls behind gets a `resync` event and should
/// reload what it shows.
pub async fn events(
    State(state): State<AppState>,
    Caller(scope): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let params = Params::parse(query.as_deref())?;
    let only: Option<Vec<DatasetId>> = params
        .get("datasets")
        .map(|list| {
            list.split(',')
                .map(|id| {
                    DatasetId::new(id).map_err(|e| ApiError::bad_request(e.message().to_string()))
                })
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()?;
    // Named datasets the caller may not read are answered as missing, as everywhere else.
    for id in only.iter().flatten() {
        state.console.indexed_dataset(&scope, id)?;
    }
    let sees_feeds = scope.sees_everything();
    let receiver = state.console.live().subscribe();
    let mut shutdown = state.shutdown.clone();
    let hello = stream::once(async {
        Ok(Event::default()
            .event("hello")
            .data("{\"status\":\"listening\"}"))
    });
    let changes = BroadcastStream::new(receiver).filter_map(move |item| {
        let only = only.clone();
        let scope = scope.clone();
        async move {
            match item {
                Ok(change) => {
                    if !scope.sees(change.dataset.as_str())
                        || only
                            .as_ref()
                            .is_some_and(|ids| !ids.contains(&change.dataset))
                    {
                        return None;
                    }
                    let data = serde_json::to_string(&change).unwrap_or_default();
                    Some(Ok(Event::default().event("change").data(data)))
                }
                Err(BroadcastStreamRecvError::Lagged(missed)) => Some(Ok(Event::default()
                    .event("resync")
                    .data(json!({"missed": missed}).to_string()))),
            }
        }
    });
    // Streams end when the server shuts down, so graceful shutdown never waits on an open listener.
    let until_shutdown = async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    };
    // Feed standings (ok, late, failing) travel on the same stream; a filtered listener gets them too. Feeds
    // span every dataset (their names, targets and errors), so accounts limited to some datasets, which may
    // not list feeds, do not hear of them here either.
    let feed_events = match sees_feeds {
        true => BroadcastStream::new(state.console.feeds().subscribe())
            .filter_map(|item| async move {
                let event = item.ok()?;
                let data = serde_json::to_string(&event).unwrap_or_default();
                Some(Ok(Event::default().event("feed").data(data)))
            })
            .boxed(),
        false => stream::empty().boxed(),
    };
    let stream = hello
        .chain(stream::select(changes, feed_events))
        .take_until(until_shutdown);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Each feed's health as Prometheus series, read from the store at scrape time (so every instance reports
/// the same): standing (one series per status, 1 for the current one), lag, failures in a row, the last
/// success, and items brought.
async fn feed_metrics(state: &AppState) {
    let Ok(views) = state.console.feeds().list().await else {
        return;
    };
    use geoconsole_feeds::Status;
    for view in views {
        let feed = view.spec.name.clone();
        for status in [
            Status::Pending,
            Status::Ok,
            Status::Late,
            Status::Failing,
            Status::Paused,
        ] {
            metrics::gauge!("geoconsole_feed_status", "feed" => feed.clone(), "status" => status.as_str())
                .set(f64::from(u8::from(status == view.status)));
        }
        let s = &view.state;
        if let Some(lag) = s.lag {
            metrics::gauge!("geoconsole_feed_lag_seconds", "feed" => feed.clone())
                .set(lag.median_s);
        }
        metrics::gauge!("geoconsole_feed_failures", "feed" => feed.clone())
            .set(f64::from(s.failures));
        if let Some(at) = s.last_success {
            metrics::gauge!("geoconsole_feed_last_success_seconds", "feed" => feed.clone())
                .set(at.timestamp() as f64);
        }
        metrics::gauge!("geoconsole_feed_items_added", "feed" => feed.clone()).set(s.added as f64);
        metrics::gauge!("geoconsole_feed_items_updated", "feed" => feed).set(s.updated as f64);
    }
}
