//! The web console's files and the offline basemap it draws on, both from the web build (`web/dist`),
//! embedded into the binary so the console works air-gapped from one file.
//!
//! The console is a static single-page app under `/console/`; it talks to the same public API as any other
//! client. The basemap's tiles and glyphs are built here from the embedded reference GeoJSON and font, once,
//! on first use.

use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use geoconsole_basemap::{Basemap, BasemapLayer, Glyphs, parse_range};
use geoconsole_tiles::TileId;
use rust_embed::RustEmbed;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tiles::MVT;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../../web/dist"]
#[allow_missing = true]
struct Dist;

/// Reference layers the build script writes, in drawing order.
const BASEMAP_LAYERS: [&str; 4] = ["land", "coastline", "borders", "cities"];
/// The one label font, and the fontstack name styles use for it.
const FONT_FILE: &str = "fonts/DejaVuSans.ttf";
pub const FONTSTACK: &str = "DejaVu Sans";

const NOT_BUILT: &str = "the web console is not built into this binary: run `npm --prefix web ci && npm --prefix web run build`, then build geoconsole again (./scripts/demo.sh does both)";

/// Whether this binary carries the web console.
pub fn console_built() -> bool {
    Dist::get("index.html").is_some()
}

/// The basemap and glyphs, built on first use from the embedded files.
#[derive(Default)]
pub struct WebAssets {
    basemap: OnceLock<Result<Arc<Basemap>, String>>,
    glyphs: OnceLock<Result<Arc<Glyphs>, String>>,
}

impl WebAssets {
    pub fn basemap(&self) -> Result<Arc<Basemap>, String> {
        self.basemap
            .get_or_init(|| {
                let files: Vec<(&str, std::borrow::Cow<'static, [u8]>)> = BASEMAP_LAYERS
                    .iter()
                    .map(|name| {
                        Dist::get(&format!("basemap/{name}.geojson"))
                            .map(|f| (*name, f.data))
                            .ok_or_else(|| NOT_BUILT.to_string())
                    })
                    .collect::<Result<_, _>>()?;
                let layers: Vec<BasemapLayer<'_>> = files
                    .iter()
                    .map(|(name, data)| BasemapLayer {
                        name,
                        geojson: data,
                    })
                    .collect();
                Basemap::new(&layers)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    pub fn glyphs(&self) -> Result<Arc<Glyphs>, String> {
        self.glyphs
            .get_or_init(|| {
                let font = Dist::get(FONT_FILE).ok_or_else(|| NOT_BUILT.to_string())?;
                Glyphs::new(FONTSTACK, &font.data)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

/// Zooms whose basemap tiles are made at start: the whole world fits in them, so every first map needs some.
const PREWARM_ZOOMS: u8 = 2;
/// Glyph ranges made at start: Latin, and Latin Extended (city names such as Łódź).
const PREWARM_GLYPHS: [u32; 2] = [0, 256];

/// Builds the basemap, its tiles up to [`PREWARM_ZOOMS`] (into the tile cache) and the common glyph ranges.
pub fn prewarm(state: &AppState) {
    let started = std::time::Instant::now();
    if let Ok(glyphs) = state.web.glyphs() {
        for start in PREWARM_GLYPHS {
            glyphs.range(start);
        }
    }
    let Ok(map) = state.web.basemap() else {
        return;
    };
    for z in 0..=PREWARM_ZOOMS {
        let side = 1u32 << z;
        for x in 0..side {
            for y in 0..side {
                let Ok(tile) = TileId::new(u32::from(z), x, y) else {
                    continue;
                };
                if let Some(bytes) = map.tile(tile) {
                    state.tiles.put(basemap_key(tile), Bytes::from(bytes));
                }
            }
        }
    }
    tracing::info!(ms = started.elapsed().as_millis() as u64, "basemap ready");
}

fn basemap_key(tile: TileId) -> String {
    format!("basemap:{}/{}/{}", tile.z, tile.x, tile.y)
}

/// `/console` → `/console/`, so relative asset paths resolve.
pub async fn console_redirect() -> Redirect {
    Redirect::permanent("/console/")
}

pub async fn console_index() -> Response {
    asset("index.html")
}

pub async fn console_file(Path(path): Path<String>) -> Response {
    asset(&path)
}

fn asset(path: &str) -> Response {
    let Some(file) = Dist::get(path) else {
        if path == "index.html" {
            return (StatusCode::SERVICE_UNAVAILABLE, NOT_BUILT).into_response();
        }
        return ApiError::not_found(format!("the console has no file '{path}'")).into_response();
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mut response = (StatusCode::OK, Body::from(file.data.into_owned())).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // Vite names built assets by content hash: they never change under one name. The page itself must be
    // revalidated so a new binary's assets are picked up.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path == "index.html" {
        // Everything the console loads comes from this server; attribute text can never become script.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
            ),
        );
    }
    response
}

/// `/basemap/{z}/{x}/{y}`: a tile of the reference layers.
pub async fn basemap_tile(
    State(state): State<AppState>,
    Path((z, x, y)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let y = y
        .strip_suffix(".mvt")
        .or_else(|| y.strip_suffix(".pbf"))
        .unwrap_or(&y);
    let number = |name: &str, text: &str| {
        text.parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!("tile {name} '{text}' is not a whole number"))
        })
    };
    let tile = TileId::new(number("z", &z)?, number("x", &x)?, number("y", y)?)
        .map_err(ApiError::not_found)?;
    let key = basemap_key(tile);
    let bytes = match state.tiles.get(&key) {
        Some(bytes) => bytes,
        None => {
            let assets = Arc::clone(&state.web);
            let rendered =
                tokio::task::spawn_blocking(move || assets.basemap().map(|map| map.tile(tile)))
                    .await
                    .map_err(|e| ApiError::internal(format!("basemap tile failed: {e}")))?
                    .map_err(ApiError::unavailable)?
                    .ok_or_else(|| {
                        ApiError::not_found(format!(
                            "the basemap stops at zoom {}; clients overzoom",
                            geoconsole_basemap::MAX_ZOOM
                        ))
                    })?;
            let bytes = Bytes::from(rendered);
            state.tiles.put(key, bytes.clone());
            bytes
        }
    };
    Ok(cached_binary(MVT, bytes))
}

/// `/basemap/fonts/{fontstack}/{range}`: SDF glyphs. Every fontstack is answered with the one embedded
/// font, so styles written for other servers' font names still draw their labels.
pub async fn basemap_glyphs(
    State(state): State<AppState>,
    Path((_fontstack, range)): Path<(String, String)>,
) -> ApiResult<Response> {
    let range = range.strip_suffix(".pbf").unwrap_or(&range);
    let start = parse_range(range).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let assets = Arc::clone(&state.web);
    let bytes = tokio::task::spawn_blocking(move || assets.glyphs().map(|g| g.range(start)))
        .await
        .map_err(|e| ApiError::internal(format!("glyph rendering failed: {e}")))?
        .map_err(ApiError::unavailable)?;
    Ok(cached_binary(
        "application/x-protobuf",
        bytes.as_ref().clone().into(),
    ))
}

/// Basemap data changes only with the binary.
fn cached_binary(content_type: &'static str, bytes: Bytes) -> Response {
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}
