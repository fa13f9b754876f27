//! Checks every write route makes before touching anything: the request comes from this console's own
//! pages (or a non-browser client), and its body is in a type the route reads.

use axum::http::{HeaderMap, StatusCode, header};

use crate::error::{ApiError, ApiResult};

/// A browser sends `Origin` with every write; one naming another site is a cross-site request.
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

/// A write's JSON body, sent as JSON, parsed; `what` names it in the error. (Where it comes from is
/// checked for every write by the route guard, `origins::same_origin`.)
pub fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    bytes: &[u8],
    what: &str,
) -> ApiResult<T> {
    require_content_type(headers, &["application/json"])?;
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}
