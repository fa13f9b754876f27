//! Imports over HTTP, in three steps so a person can check before anything is written: `POST /imports`
//! stages the file and answers with a preview, `POST /imports/{id}` starts the import with the chosen
//! dataset id, kind and columns, and `GET /imports/{id}` reports progress and the outcome. The import is the
//! console's ordinary one: atomic, and its errors name the row or feature.
//!
//! Writes must come from this console's own pages or from non-browser clients: the routes take only
//! content types a cross-site form cannot send (so browsers ask first, and CORS allows only reads), and a
//! request whose `Origin` is another site is refused outright.

use std::str::FromStr;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use geoconsole_app::{ImportOptions, Requester, Upload, preview};
use geoconsole_feeds::AreaSource;
use geoconsole_formats::privacy::PrivacyPolicy;
use geoconsole_formats::{Crs, CsvOptions, Format, ReadOptions, TextEncoding};
use geoconsole_model::{DatasetId, DatasetKind};
use geoconsole_store::WriteMode;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use axum::Extension;
use geoconsole_access::{Principal, Role};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::reply::json_response;
use crate::state::AppState;
use crate::writes::require_content_type;

/// `POST /imports?name=FILE`: the body is the file, sent as `application/octet-stream`.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_content_type(&headers, &["application/octet-stream"])?;
    let params = Params::parse(query.as_deref())?;
    let name = params
        .get("name")
        .ok_or_else(|| ApiError::bad_request("name: the file's name is required (it helps detect the format and names the file in messages)"))?;
    // A declared length beyond what the account may still hold is refused before a byte is read.
    if let Some(length) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > state.uploads.quotas().bytes_per_account
    {
        return Err(geoconsole_app::AppError::new(
            geoconsole_app::AppErrorKind::TooLarge,
            format!(
                "the file is {length} bytes; this account's uploads may hold {} MiB together",
                state.uploads.quotas().bytes_per_account >> 20
            ),
        )
        .into());
    }
    let upload = state.uploads.create(name, &principal.user)?;
    let written = receive(&state, &upload, body).await;
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = state.uploads.remove(&upload.id);
            return Err(e);
        }
    };
    if bytes == 0 {
        let _ = state.uploads.remove(&upload.id);
        return Err(ApiError::bad_request(format!(
            "{}: the file is empty",
            upload.file_name
        )));
    }
    let read = ReadOptions {
        staging: Some(state.uploads.unpack_folder()?),
        archive: state.archive_limits,
        ..read_options(&params)?
    };
    let path = upload.path().to_path_buf();
    let found = tokio::task::spawn_blocking(move || preview(&path, &read))
        .await
        .map_err(|e| ApiError::internal(format!("preview failed: {e}")))?;
    let found = match found {
        Ok(p) => p,
        Err(e) => {
            let _ = state.uploads.remove(&upload.id);
            return Err(e.into());
        }
    };
    let base = state.base_url(&headers);
    let body = json!({
        "id": upload.id,
        "file_name": upload.file_name,
        "bytes": bytes,
        "preview": found,
        "links": [{"rel": "status", "href": format!("{base}/imports/{}", upload.id), "type": "application/json"}],
    });
    Ok(json_response(
        StatusCode::CREATED,
        "application/json",
        body.to_string(),
    ))
}

/// Streams the body into the upload's file, counting it against its owner's quota as it arrives; the
/// body limit layer ends oversize bodies. Whatever fails, the caller removes the upload and its file.
async fn receive(state: &AppState, upload: &Upload, body: Body) -> ApiResult<u64> {
    let mut file = tokio::fs::File::create(upload.path())
        .await
        .map_err(|e| ApiError::internal(format!("cannot stage upload: {e}")))?;
    let mut stream = body.into_data_stream();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            let text = e.to_string();
            if text.contains("length limit") {
                ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "PayloadTooLarge",
                    description: format!(
                        "{}: the file is larger than this server accepts ({text})",
                        upload.file_name
                    ),
                }
            } else {
                ApiError::bad_request(format!(
                    "{}: the upload broke off: {text}",
                    upload.file_name
                ))
            }
        })?;
        state.uploads.receive(upload, chunk.len() as u64)?;
        bytes += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(format!("cannot stage upload: {e}")))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal(format!("cannot stage upload: {e}")))?;
    Ok(bytes)
}

fn read_options(params: &Params) -> ApiResult<ReadOptions> {
    let format = params
        .get("format")
        .map(|f| Format::from_str(f).map_err(ApiError::bad_request))
        .transpose()?;
    Ok(ReadOptions {
        format,
        csv: CsvOptions {
            lat: params.get("lat").map(str::to_string),
            lon: params.get("lon").map(str::to_string),
            wkt: params.get("wkt").map(str::to_string),
            delimiter: None,
        },
        layer: params.get("layer").map(str::to_string),
        source_crs: source_crs(params.get("source_crs"))?,
        encoding: encoding(params.get("encoding"))?,
        ..ReadOptions::default()
    })
}

fn encoding(label: Option<&str>) -> ApiResult<Option<TextEncoding>> {
    label
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            TextEncoding::from_str(l)
                .map_err(|why| ApiError::bad_request(format!("encoding: {why}")))
        })
        .transpose()
}

fn source_crs(text: Option<&str>) -> ApiResult<Option<Crs>> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Crs::parse(t).map_err(|why| ApiError::bad_request(format!("source_crs: {why}"))))
        .transpose()
}

/// What the person chose after the preview.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportChoice {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    dataset: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    #[schemars(extend("enum" = ["sites", "events", "areas", "reference"]))]
    kind: Option<String>,
    #[serde(default)]
    #[schemars(extend("enum" = ["create", "append", "replace", "upsert"]))]
    mode: Option<String>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    time_end: Option<String>,
    #[serde(default)]
    id_field: Option<String>,
    #[serde(default)]
    lat: Option<String>,
    #[serde(default)]
    lon: Option<String>,
    #[serde(default)]
    wkt: Option<String>,
    /// A GeoPackage table, GPX layer or zip member.
    #[serde(default)]
    layer: Option<String>,
    /// The file's CRS when it does not say.
    #[serde(default)]
    source_crs: Option<String>,
    /// The text encoding of a shapefile's attributes, over its .cpg and header (`windows-1252`, `CP437`).
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    skip_invalid: bool,
    /// Columns removed before anything is stored.
    #[serde(default)]
    drop_columns: Vec<String>,
    /// Personal-data columns kept on purpose (recorded in the audit log; never special categories).
    #[serde(default)]
    allow_columns: Vec<String>,
    /// CAP files: the areas datasets placing alerts given only by codes, as a feed's `areas`.
    #[serde(default)]
    #[schemars(length(max = 16))]
    areas: Vec<AreaSource>,
}

/// `POST /imports/{uploadId}`: starts importing a staged upload; answers 202 with the status to poll.
pub async fn start(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    connection: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let address = connection.map_or_else(|| "unknown".to_string(), |c| c.0.0.ip().to_string());
    require_content_type(&headers, &["application/json"])?;
    let choice: ImportChoice = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("import options: {e}")))?;
    let upload = owned(&state, &principal, &id)?;
    let dataset = DatasetId::new(choice.dataset.trim())
        .map_err(|e| ApiError::bad_request(format!("dataset: {}", e.message())))?;
    if !principal.can_write(dataset.as_str()) {
        return Err(ApiError::forbidden(format!(
            "this account may not write to dataset '{dataset}'"
        )));
    }
    // A placed alert takes its area's shape: reading an areas dataset is reading it, so one this account
    // may not read is refused exactly as one that does not exist.
    for area in &choice.areas {
        let exists = match DatasetId::new(&area.dataset) {
            Ok(id) => state.console.store().dataset(&id).await.is_ok(),
            Err(_) => false,
        };
        if !exists || !principal.can_read(&area.dataset) {
            return Err(ApiError::bad_request(format!(
                "areas: dataset '{}' does not exist",
                area.dataset
            )));
        }
    }
    let kind = choice
        .kind
        .as_deref()
        .map(|k| {
            DatasetKind::from_str(k).map_err(|_| {
                ApiError::bad_request(format!(
                    "kind '{k}' is not one of: sites, events, areas, reference"
                ))
            })
        })
        .transpose()?;
    let mode = match choice.mode.as_deref().unwrap_or("create") {
        "create" => WriteMode::Create,
        "append" => WriteMode::Append,
        "replace" => WriteMode::Replace,
        "upsert" => WriteMode::Upsert,
        other => {
            return Err(ApiError::bad_request(format!(
                "mode '{other}' is not one of: create, append, replace, upsert"
            )));
        }
    };
    let blank = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let options = ImportOptions {
        dataset: Some(dataset),
        title: blank(choice.title),
        kind,
        mode,
        time: blank(choice.time),
        time_end: blank(choice.time_end),
        id_field: blank(choice.id_field),
        skip_invalid: choice.skip_invalid,
        read: ReadOptions {
            csv: CsvOptions {
                lat: blank(choice.lat),
                lon: blank(choice.lon),
                wkt: blank(choice.wkt),
                delimiter: None,
            },
            layer: blank(choice.layer),
            source_crs: source_crs(choice.source_crs.as_deref())?,
            encoding: encoding(choice.encoding.as_deref())?,
            staging: Some(state.uploads.unpack_folder()?),
            archive: state.archive_limits,
            ..ReadOptions::default()
        },
        privacy: PrivacyPolicy {
            drop: choice.drop_columns.into_iter().collect(),
            allow: choice.allow_columns.into_iter().collect(),
        },
        requester: Some(Requester {
            actor: principal.actor(),
            source: address,
        }),
        limits: state.feature_limits,
        areas: choice.areas,
        ..ImportOptions::default()
    };
    state.console.import_upload(upload.clone(), options)?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        "application/json",
        upload.status().to_string(),
    ))
}

/// `GET /imports/{uploadId}`: state, bytes read of the total, features so far, then the report or error.
/// An upload by id, if the caller staged it (or is an admin); anyone else's is "not found", so ids
/// cannot be probed.
fn owned(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<std::sync::Arc<geoconsole_app::Upload>> {
    let upload = state.uploads.get(id)?;
    if upload.owner != principal.user && principal.role < Role::Admin {
        return Err(ApiError::not_found(format!("upload '{id}' does not exist")));
    }
    Ok(upload)
}

pub async fn status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let upload = owned(&state, &principal, &id)?;
    let status: Value = upload.status();
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        status.to_string(),
    ))
}

/// `DELETE /imports/{uploadId}`: forgets a staged or finished upload and deletes its file.
pub async fn remove(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    owned(&state, &principal, &id)?;
    state.uploads.remove(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
