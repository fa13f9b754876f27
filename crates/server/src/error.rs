//! Every error a handler can return, turned into an HTTP status and an OGC API exception document
//! (`{"code": …, "description": …}`, OGC 17-069r4 §7.5.1) in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geoconsole_app::{AppError, AppErrorKind};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

impl ApiError {
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidParameterValue",
            description: description.into(),
        }
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            description: description.into(),
        }
    }

    pub fn not_acceptable(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_ACCEPTABLE,
            code: "NotAcceptable",
            description: description.into(),
        }
    }

    pub fn forbidden(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "Forbidden",
            description: description.into(),
        }
    }

    /// A failure of the server's own: logged in full, answered without internals.
    pub fn internal(detail: impl Into<String>) -> Self {
        tracing::error!(error = %detail.into(), "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            description: "the server failed to answer; the details are in its log".into(),
        }
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable",
            description: description.into(),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let (status, code) = match error.kind() {
            AppErrorKind::Input | AppErrorKind::Invalid => {
                (StatusCode::BAD_REQUEST, "InvalidParameterValue")
            }
            AppErrorKind::NotFound => (StatusCode::NOT_FOUND, "NotFound"),
            AppErrorKind::Conflict => (StatusCode::CONFLICT, "Conflict"),
            AppErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            AppErrorKind::Quota => (StatusCode::TOO_MANY_REQUESTS, "QuotaExceeded"),
            AppErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            AppErrorKind::NoSpace => (StatusCode::INSUFFICIENT_STORAGE, "InsufficientStorage"),
            AppErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        };
        if status.is_server_error() {
            tracing::error!(error = %error, "request failed");
        }
        let description = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Internals (paths, SQL) stay in the log; the caller learns that it was not their fault.
            "the server failed to answer; the details are in its log".to_string()
        } else {
            geoconsole_app::terms::in_api_terms(&error.to_string())
        };
        Self {
            status,
            code,
            description,
        }
    }
}

/// Longest description an error body carries: handlers quote input through `excerpt`, and this bounds
/// whatever else a description picked up.
const DESCRIPTION_CHARS: usize = 4000;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let description = geoconsole_model::excerpt(&self.description, DESCRIPTION_CHARS);
        let body = json!({"code": self.code, "description": description}).to_string();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
