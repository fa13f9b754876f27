//! Files out over HTTP. `GET /collections/{id}/items?f=fgb` (or geoparquet, gpkg, kml, csv, geojsonseq)
//! streams the whole selection as a download; `POST /exports` starts a background job for exports too big
//! to wait for, `GET /exports/{id}` reports its progress and `GET /exports/{id}/download` serves the file.
//! Either way the bytes travel through a bounded channel, so memory holds a few chunks whatever the size.

use std::io::{self, Read, Write};

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geoconsole_access::{Principal, Role, Scope};
use geoconsole_app::{ExportJob, ExportRequest};
use geoconsole_formats::Format;
use geoconsole_model::{Bbox, DatasetId};
use geoconsole_query::{DateTimeFilter, FeatureQuery, Filter, FilterLang};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{ApiError, ApiResult};
use crate::reply::json_response;
use crate::state::AppState;
use crate::writes::json_body;

/// Bytes per chunk sent to the client, and chunks in flight.
const CHUNK_BYTES: usize = 256 * 1024;
const CHUNKS_IN_FLIGHT: usize = 8;

/// A `Write` whose bytes become the chunks of a response body. Writes block (they run on blocking
/// threads) while the client is slower than the export; a client that goes away ends the export with an
/// error instead of letting it run on.
struct ChannelWriter {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A streamed download: the body, and the writer that feeds it.
fn channel() -> (ChannelWriter, Body) {
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let writer = ChannelWriter {
        sender,
        buffer: Vec::with_capacity(CHUNK_BYTES),
    };
    (writer, Body::from_stream(ReceiverStream::new(receiver)))
}

fn attachment(format: Format, file_name: &str, body: Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    // File names are `<dataset id>.<extension>`: ASCII letters, digits and `_` only.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The file format `f` asks for, when it is one exports write (other than the JSON the API speaks).
pub fn download_format(f: Option<&str>) -> Option<Format> {
    let format: Format = f?.parse().ok()?;
    (format.is_writable() && format != Format::GeoJson).then_some(format)
}

/// Streams a dataset's selection as a file, for `items?f=…`.
pub async fn download_items(
    state: &AppState,
    scope: &Scope,
    dataset: &DatasetId,
    format: Format,
    query: FeatureQuery,
    filter: Option<Filter>,
) -> ApiResult<Response> {
    // Checked here so a missing dataset is a 404, not a body that ends early.
    state.console.dataset(scope, dataset).await?;
    let (writer, body) = channel();
    let error_sender = writer.sender.clone();
    let console = state.console.clone();
    let id = dataset.clone();
    let scope = scope.clone();
    tokio::spawn(async move {
        if let Err(e) = console
            .export(&scope, &id, format, query, filter, Box::new(writer), None)
            .await
        {
            tracing::warn!(dataset = %id, error = %e, "download failed");
            // The status is sent already; ending the body with an error tells the client it is incomplete.
            let _ = error_sender
                .send(Err(io::Error::other(e.to_string())))
                .await;
        }
    });
    Ok(attachment(
        format,
        &format!("{dataset}.{}", format.extension()),
        body,
    ))
}

/// What `POST /exports` takes.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportChoice {
    /// An existing dataset (the document lists them, as for `collectionId`).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    dataset: String,
    #[schemars(extend("enum" = ["fgb", "geoparquet", "gpkg", "geojson", "geojsonseq", "csv", "kml"]))]
    format: String,
    #[serde(default)]
    bbox: Option<String>,
    #[serde(default)]
    datetime: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, rename = "filter-lang")]
    #[schemars(extend("enum" = ["cql2-text", "cql2-json"]))]
    filter_lang: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1))]
    limit: Option<usize>,
}

/// `POST /exports`: starts a background export and answers 202 with where to follow it.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let choice: ExportChoice = json_body(&headers, &body, "export")?;
    let dataset = DatasetId::new(choice.dataset.trim())
        .map_err(|e| ApiError::bad_request(format!("dataset: {}", e.message())))?;
    let scope = principal.scope();
    let format: Format = choice
        .format
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("format: {e}")))?;
    let query = FeatureQuery {
        bbox: choice
            .bbox
            .as_deref()
            .map(|b| {
                Bbox::parse(b).map_err(|e| ApiError::bad_request(format!("bbox: {}", e.message())))
            })
            .transpose()?,
        datetime: choice
            .datetime
            .as_deref()
            .map(|d| {
                DateTimeFilter::parse(d)
                    .map_err(|e| ApiError::bad_request(format!("datetime: {e}")))
            })
            .transpose()?,
        limit: choice.limit,
        cursor: None,
    };
    let filter = match choice.filter.as_deref() {
        Some(text) => {
            let lang = match choice.filter_lang.as_deref() {
                Some(l) => l
                    .parse::<FilterLang>()
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
                None => FilterLang::Text,
            };
            Some(
                state
                    .console
                    .compile_filter(&scope, &dataset, text, lang)
                    .await?,
            )
        }
        None => None,
    };
    let job = state
        .exports
        .start(
            &state.console,
            &scope,
            ExportRequest {
                dataset,
                format,
                query,
                filter,
            },
            &principal.user,
        )
        .await?;
    let base = state.base_url(&headers);
    let mut response = json_response(
        StatusCode::ACCEPTED,
        "application/json",
        status_with_links(&job, &base).to_string(),
    );
    if let Ok(location) = HeaderValue::from_str(&format!("{base}/exports/{}", job.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn status_with_links(job: &ExportJob, base: &str) -> serde_json::Value {
    let mut status = job.status();
    let mut links = vec![serde_json::json!({
        "href": format!("{base}/exports/{}", job.id),
        "rel": "self",
        "type": "application/json",
    })];
    if job.file().is_some() {
        links.push(serde_json::json!({
            "href": format!("{base}/exports/{}/download", job.id),
            "rel": "enclosure",
            "type": job.format.media_type(),
            "title": job.file_name,
        }));
    }
    status["links"] = serde_json::Value::Array(links);
    status
}

/// Another account's export is not found, as with uploads.
fn owned(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<std::sync::Arc<ExportJob>> {
    let job = state.exports.get(id)?;
    // The same account's tokens may be scoped to fewer datasets than the session that started the job.
    if (job.owner != principal.user && principal.role < Role::Admin)
        || !principal.can_read(job.dataset.as_str())
    {
        return Err(ApiError::not_found(format!("export '{id}' does not exist")));
    }
    Ok(job)
}

/// `GET /exports/{exportId}`.
pub async fn status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let job = owned(&state, &principal, &id)?;
    let base = state.base_url(&headers);
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        status_with_links(&job, &base).to_string(),
    ))
}

/// `GET /exports/{exportId}/download`: the finished file, streamed from disk.
pub async fn download(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = owned(&state, &principal, &id)?;
    let Some(path) = job.file().map(std::path::Path::to_path_buf) else {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "NotReady",
            description: format!(
                "export '{id}' is {}; download it when GET /exports/{id} says done",
                match job.state() {
                    geoconsole_app::ExportState::Failed { error } => format!("failed: {error}"),
                    _ => "still running".to_string(),
                }
            ),
        });
    };
    let mut file = std::fs::File::open(&path)
        .map_err(|e| ApiError::internal(format!("cannot open the export file: {e}")))?;
    let length = file.metadata().map(|m| m.len()).ok();
    let (mut writer, body) = channel();
    tokio::task::spawn_blocking(move || {
        let mut buffer = vec![0u8; CHUNK_BYTES];
        loop {
            match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if writer.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = writer.sender.blocking_send(Err(e));
                    return;
                }
            }
        }
        let _ = writer.flush();
    });
    let mut response = attachment(job.format, &job.file_name, body);
    if let Some(length) = length.and_then(|l| HeaderValue::from_str(&l.to_string()).ok()) {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length);
    }
    Ok(response)
}

/// `DELETE /exports/{exportId}`: forgets the job and deletes its file.
pub async fn remove(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    owned(&state, &principal, &id)?;
    state.exports.remove(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
