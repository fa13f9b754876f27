//! Room `server`: the console over HTTP. It owns the axum router (built from one route table that also
//! generates `/api`), OGC API – Features and Tiles, vector tiles with a version-keyed cache, the `/events`
//! change stream, health, readiness and Prometheus metrics, and the mapping of every error to a status
//! and an OGC exception document (`error.rs`).
//!
//! Depends on `app` (the only way to data), `query`, `tiles`, `formats` (GeoJSON encoding) and `model`.
#![forbid(unsafe_code)]

mod accounts;
mod alerts;
mod analytics;
mod auth;
mod catalog;
mod error;
mod exports;
mod feeds;
mod histogram;
mod html;
mod imports;
mod listen;
mod ogc;
mod openapi;
mod ops;
mod origins;
mod params;
mod rate;
mod reply;
mod routes;
mod state;
mod tiles;
mod web;
mod writes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use geoconsole_app::Console;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;
pub use routes::openapi;
pub use state::{AppState, TileCache};
pub use web::console_built;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: SocketAddr,
    /// Bytes of tiles kept in memory; 0 turns the cache off.
    pub tile_cache_bytes: usize,
    /// Longest a request may take before it is answered with 408.
    pub request_timeout: Duration,
    /// Largest request body accepted.
    pub body_limit_bytes: usize,
    /// The URL clients reach the server at, for links, when it differs from the Host they send.
    pub public_url: Option<String>,
    /// Largest file accepted by `POST /imports`.
    pub upload_limit_bytes: usize,
    /// Polls feeds on their schedule; off, feeds are polled only when asked (`POST /feeds/{name}/poll`).
    pub poll_feeds: bool,
    /// Requests per second each client may make after its burst (0: no limit).
    pub rate_per_second: f64,
    /// Requests a client may make at once (a map opening asks for dozens of tiles together).
    pub rate_burst: f64,
    /// The most one imported feature may hold.
    pub feature_limits: geoconsole_app::FeatureLimits,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// The staging folder (uploads, unpacked archives, export files); beside the store when not given.
    pub staging_dir: Option<std::path::PathBuf>,
    /// Uploads each account may have staged, and the bytes they may hold.
    pub upload_quotas: geoconsole_app::UploadQuotas,
    /// Caps on zips uploaded (entries, inflated bytes, ratio, the staging disk's reserve).
    pub archive_limits: geoconsole_formats::ArchiveLimits,
    /// Web origins (`https://grafana.example.org`) whose pages may read this server's answers with an API
    /// token. None by default: no other site may read anything.
    pub cors_origins: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tile_cache_bytes: 256 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            public_url: None,
            upload_limit_bytes: 512 * 1024 * 1024,
            poll_feeds: true,
            rate_per_second: 100.0,
            rate_burst: 1000.0,
            feature_limits: geoconsole_app::FeatureLimits::default(),
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            staging_dir: None,
            upload_quotas: geoconsole_app::UploadQuotas::default(),
            archive_limits: geoconsole_formats::ArchiveLimits::default(),
            cors_origins: Vec::new(),
        }
    }
}

/// The router for a console, with every layer the server runs with.
pub fn router(state: AppState, options: &ServerOptions) -> std::io::Result<Router> {
    let mut router = Router::new();
    for route in routes::table() {
        // Only imports take files; every other body is small.
        let limit = if route.tag == "Imports" {
            options.upload_limit_bytes
        } else {
            options.body_limit_bytes
        };
        let guard = auth::Guard {
            need: route.need,
            datasets: route.datasets,
            audits_itself: matches!(route.path, "/auth/login" | "/auth/logout"),
            identifies: route.need != geoconsole_access::Need::Public
                || route.path == "/auth/session",
        };
        let (names, open) = routes::query_names(&route);
        let known = std::sync::Arc::new(params::KnownNames { names, open });
        router = router.route(
            route.path,
            route
                .handler
                .layer(RequestBodyLimitLayer::new(limit))
                .layer(middleware::from_fn_with_state(known, params::check_names))
                .layer(middleware::from_fn_with_state(
                    (state.clone(), guard),
                    auth::guard,
                )),
        );
    }
    let router = router
        .route("/console", get(web::console_redirect))
        .route("/console/", get(web::console_index))
        .route("/console/{*path}", get(web::console_file))
        .fallback(|| async {
            ApiError::not_found("no such resource; see /api for what this server offers")
                .into_response()
        })
        .with_state(state)
        .layer(middleware::from_fn(observe))
        .layer(CompressionLayer::new().gzip(true).br(true));
    // Only the origins an operator names may read answers from their pages; reads only, with a token.
    let router = if options.cors_origins.is_empty() {
        router
    } else {
        let origins = options
            .cors_origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o.trim_end_matches('/')).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("CORS origin '{o}' is not a valid origin"),
                    )
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        router
            .layer(
                CorsLayer::new()
                    .allow_origin(origins)
                    .allow_methods([Method::GET, Method::HEAD])
                    .allow_headers([axum::http::header::AUTHORIZATION]),
            )
            .layer(middleware::from_fn(cors_with_token_only))
    };
    Ok(router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked; only that request failed");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "InternalError",
                    description: "the server failed to answer; the details are in its log".into(),
                }
                .into_response()
            },
        )))
}

/// A named origin's page may read an answer only when it sent a token: without one, the answer is the
/// local user's (a console without accounts) or a refusal, and neither is for another site's page.
/// Preflights carry no credentials by design, so they keep their CORS answer.
async fn cors_with_token_only(request: axum::extract::Request, next: middleware::Next) -> Response {
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(axum::http::header::ACCESS_CONTROL_REQUEST_METHOD);
    let bearer = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    let mut response = next.run(request).await;
    if !preflight && !bearer {
        response
            .headers_mut()
            .remove(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN);
    }
    response
}

/// Structured request log and Prometheus counters, labelled by route template (never by raw path, which
/// would let clients create unbounded label sets).
async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    metrics::counter!("geoconsole_http_requests_total", "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("geoconsole_http_request_seconds", "route" => route.clone())
        .record(seconds);
    tracing::info!(
        target: "geoconsole::http",
        method = %method,
        path = uri.path(),
        query = uri.query().unwrap_or(""),
        route = %route,
        status,
        ms = (seconds * 1000.0),
        "request"
    );
    response
}

/// A running server: its address, and how to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, ends open event streams, waits for requests in flight.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Waits until the server stops (after [`RunningServer::stop_handle`] is used or on error).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    pub fn stop_handle(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Binds, starts indexing every dataset in the background (`/readyz` turns 200 when done), and serves.
pub async fn start(console: Console, options: ServerOptions) -> std::io::Result<RunningServer> {
    let accounts = console.accounts().clone();
    let has_accounts = accounts
        .any_accounts()
        .await
        .map_err(std::io::Error::other)?;
    let loopback = options.bind.ip().is_loopback();
    if !loopback && !has_accounts {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "refusing to listen on {} with no accounts: anyone who can reach it would be served. Create an admin first ('geoconsole users add NAME --role admin'), or listen on 127.0.0.1",
                options.bind
            ),
        ));
    }
    let staging_root = options
        .staging_dir
        .clone()
        .unwrap_or_else(|| geoconsole_app::Staging::root_for(&console.store().location()));
    let staging =
        Arc::new(geoconsole_app::Staging::open(&staging_root).map_err(std::io::Error::other)?);
    let listener = TcpListener::bind(options.bind).await?;
    let addr = listener.local_addr()?;
    let (stop, shutdown) = watch::channel(false);
    let state = AppState::new(state::Shared {
        console: console.clone(),
        tiles: Arc::new(TileCache::new(options.tile_cache_bytes)),
        metrics: state::metrics_handle(),
        shutdown: shutdown.clone(),
        public_url: options.public_url.clone(),
        web: Arc::new(web::WebAssets::default()),
        uploads: Arc::new(
            geoconsole_app::Uploads::new(Arc::clone(&staging), options.upload_quotas)
                .map_err(std::io::Error::other)?,
        ),
        exports: Arc::new(
            geoconsole_app::Exports::new(staging, options.upload_quotas.keep_free_bytes)
                .map_err(std::io::Error::other)?,
        ),
        archive_limits: options.archive_limits,
        accounts,
        local_without_accounts: loopback,
        local_hosts: Arc::new(origins::LocalHosts::new(
            addr,
            options.public_url.as_deref(),
        )),
        secure_cookies: options
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        rate: Arc::new(rate::RateLimiter::new(
            options.rate_per_second,
            options.rate_burst,
        )),
        feature_limits: options.feature_limits,
    });
    // The basemap, its low-zoom tiles and the Latin glyph ranges take a moment to build: do it now rather
    // than on every first visitor's first map.
    let warm = state.clone();
    tokio::task::spawn_blocking(move || web::prewarm(&warm));
    let app = router(state, &options)?;
    // Commits made by other instances on a shared store reach this one's index from before it loads, so none
    // falls between the load and the news.
    let following = console
        .follow_cluster()
        .await
        .map_err(std::io::Error::other)?;
    let leading = console.clone();
    let mut until_shutdown = shutdown.clone();
    tokio::spawn(async move {
        let _following = following;
        if let Err(e) = console.start_live().await {
            tracing::error!(error = %e, "indexing failed; the server stays up but not ready");
        }
        // Kept until shutdown: dropping it would stop the news.
        let _ = until_shutdown.wait_for(|stop| *stop).await;
    });
    // Feeds, rule catch-up and webhook deliveries run on one instance at a time (this one when alone):
    // deliveries from the start, so what was raised before a crash goes out now; feeds and rules once the
    // index is ready.
    tokio::spawn({
        let stop = shutdown.clone();
        let poll_feeds = options.poll_feeds;
        async move { leading.lead_when_elected(poll_feeds, stop).await }
    });
    let limits = listen::ConnectionLimits {
        header_timeout: options.header_timeout,
        max_connections: options.max_connections,
    };
    let task = tokio::spawn(listen::serve(listener, app, limits, shutdown));
    tracing::info!(url = %format!("http://{addr}/"), console = %format!("http://{addr}/console/"), "serving");
    Ok(RunningServer { addr, stop, task })
}
