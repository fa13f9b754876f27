//! What every handler shares: the console, the tile cache, metrics, and the shutdown signal.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use geoconsole_app::Console;
use lru::LruCache;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

/// Cached tiles by key, and the bytes they hold. `Bytes` so that answering with a tile shares it rather
/// than copying it.
type Entries = (LruCache<String, Bytes>, usize);

/// Tiles kept in memory, keyed by request and the versions of the datasets they were made from: a write
/// changes the version, so a stale tile can never be served (the key no longer matches).
#[derive(Debug)]
pub struct TileCache {
    entries: Mutex<Entries>,
    max_bytes: usize,
}

impl TileCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new((LruCache::new(NonZeroUsize::MIN.saturating_add(100_000)), 0)),
            max_bytes,
        }
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        if self.max_bytes == 0 {
            return None;
        }
        let mut guard = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.0.get(key).cloned()
    }

    pub fn put(&self, key: String, tile: Bytes) {
        if self.max_bytes == 0 || tile.len() > self.max_bytes / 4 {
            return;
        }
        let mut guard = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (cache, bytes) = &mut *guard;
        *bytes += tile.len();
        if let Some((_, old)) = cache.push(key, tile) {
            *bytes -= old.len();
        }
        while *bytes > self.max_bytes {
            match cache.pop_lru() {
                Some((_, old)) => *bytes -= old.len(),
                None => break,
            }
        }
    }

    pub fn clear(&self) {
        let mut guard = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.0.clear();
        guard.1 = 0;
    }

    pub fn bytes(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
    }
}

/// What every handler shares, behind one `Arc`: axum clones the state for each extractor of each request,
/// and cloning the fields one by one (two dozen reference counts and the public URL's text) showed up in
/// tile profiles at a few per cent of a small tile's cost.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub console: Console,
    pub tiles: Arc<TileCache>,
    pub metrics: PrometheusHandle,
    /// Flips to `true` when the server starts shutting down; long-lived streams end on it.
    pub shutdown: watch::Receiver<bool>,
    /// The URL clients reach the server at, when configured; otherwise links follow the Host header.
    pub public_url: Option<String>,
    /// The web console's basemap and glyphs, built on first use.
    pub web: Arc<crate::web::WebAssets>,
    /// Files staged by `POST /imports`.
    pub uploads: Arc<geoconsole_app::Uploads>,
    /// Background exports started by `POST /exports`.
    pub exports: Arc<geoconsole_app::Exports>,
    /// Accounts, tokens, sessions and the audit log.
    pub accounts: Arc<geoconsole_access::Accounts>,
    /// While no account exists, requests are served as the machine's local user; only ever true when the
    /// server listens on loopback alone.
    pub local_without_accounts: bool,
    /// The names a request must be addressed to for the local user to serve it.
    pub local_hosts: Arc<crate::origins::LocalHosts>,
    /// Session cookies carry `Secure` (the console is reached over HTTPS, per `public_url`).
    pub secure_cookies: bool,
    /// Requests per client.
    pub rate: Arc<crate::rate::RateLimiter>,
    /// The most one uploaded feature may hold.
    pub feature_limits: geoconsole_app::FeatureLimits,
    /// Caps on uploaded zips.
    pub archive_limits: geoconsole_formats::ArchiveLimits,
}

impl AppState {
    /// The base of every link in responses, without a trailing slash.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        format!("http://{host}")
    }
}

/// One Prometheus recorder per process: metrics are global in the `metrics` crate, and tests start many
/// servers in one process.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    // Another recorder may already be installed by an embedding program; ours then only renders.
                    let _ = metrics::set_global_recorder(recorder);
                    handle
                }
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The dataset a path names, as the index holds it, if the caller may read it; unknown, hidden or malformed
/// ids are all the same 404.
pub fn dataset_of(
    state: &AppState,
    scope: &geoconsole_app::Scope,
    id: &str,
) -> crate::error::ApiResult<geoconsole_model::Dataset> {
    geoconsole_model::DatasetId::new(id)
        .ok()
        .and_then(|id| state.console.indexed_dataset(scope, &id).ok())
        .ok_or_else(|| {
            crate::error::ApiError::not_found(format!("collection '{id}' does not exist"))
        })
}
