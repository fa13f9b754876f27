//! Checks every write route makes before touching anything: the request comes from this console's own
//! pages (or a non-browser client), and its body is in a type the route reads.

use axum::http::{HeaderMap, StatusCode, header};

use crate::error::{ApiError, ApiResult};

/// A browser sends `Origin` with every write; one naming another site is a cross-site request.
pub fn same_origin(headers: &HeaderMap) -> ApiResult<()> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest));
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(ApiError::forbidden(
            "writes are accepted only from this console's own pages (the request's Origin is another site)",
        )),
    }
}

pub fn require_content_type(headers: &HeaderMap, allowed: &[&str]) -> ApiResult<()> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match given {
        Some(t) if allowed.contains(&t.as_str()) => Ok(()),
        other => Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UnsupportedMediaType",
            description: format!(
                "send the body as {} (got {})",
                allowed.join(" or "),
                other.as_deref().unwrap_or("no Content-Type")
            ),
        }),
    }
}

/// A write's JSON body: from this console's pages (or a non-browser client), sent as JSON, parsed; `what`
/// names it in the error.
pub fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    bytes: &[u8],
    what: &str,
) -> ApiResult<T> {
    same_origin(headers)?;
    require_content_type(headers, &["application/json"])?;
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}
