//! A feed origin on an ephemeral loopback port: each path answers as the test scripts it (a body with an
//! ETag that honours `If-None-Match`, an error status, a gzip body, a redirect, a hang, an endless body),
//! and every request is recorded with its headers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How a path answers.
#[derive(Debug, Clone)]
pub enum Serve {
    /// 200 with the body; with an ETag, a request carrying it gets 304.
    Body {
        content_type: &'static str,
        body: Vec<u8>,
        etag: Option<String>,
    },
    /// The given bytes as a gzip-encoded body (`Content-Encoding: gzip`).
    Gzip {
        content_type: &'static str,
        gzip: Vec<u8>,
    },
    Status(u16, &'static str),
    /// 302 to the location.
    Redirect(String),
    /// Accepts the request and never answers.
    Hang,
    /// Answers 200 and sends bytes for ever.
    Endless,
}

impl Serve {
    pub fn body(content_type: &'static str, body: impl Into<Vec<u8>>, etag: Option<&str>) -> Self {
        Self::Body {
            content_type,
            body: body.into(),
            etag: etag.map(str::to_string),
        }
    }
}

type Routes = Arc<Mutex<HashMap<String, Serve>>>;
type Hits = Arc<Mutex<Vec<(String, HeaderMap, std::time::Instant)>>>;

pub struct FeedOrigin {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    routes: Routes,
    hits: Hits,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FeedOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FeedOrigin {
    pub async fn start() -> Self {
        let routes: Routes = Arc::default();
        let hits: Hits = Arc::default();
        let app = Router::new()
            .fallback(answer)
            .with_state((routes.clone(), hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            routes,
            hits,
            task,
        }
    }

    /// Scripts (or re-scripts) a path.
    pub fn set(&self, path: &str, serve: Serve) {
        self.routes
            .lock()
            .expect("routes")
            .insert(path.to_string(), serve);
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The request headers of every request to `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<HeaderMap> {
        self.hits
            .lock()
            .expect("hits")
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, h, _)| h.clone())
            .collect()
    }

    /// When each request to `path` arrived, in order.
    pub fn request_times(&self, path: &str) -> Vec<std::time::Instant> {
        self.hits
            .lock()
            .expect("hits")
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, _, at)| *at)
            .collect()
    }
}

async fn answer(State((routes, hits)): State<(Routes, Hits)>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let headers = request.headers().clone();
    hits.lock()
        .expect("hits")
        .push((path.clone(), headers.clone(), std::time::Instant::now()));
    let serve = routes.lock().expect("routes").get(&path).cloned();
    match serve {
        None => (StatusCode::NOT_FOUND, "no such feed").into_response(),
        Some(Serve::Body {
            content_type,
            body,
            etag,
        }) => {
            if let Some(etag) = &etag
                && headers
                    .get(header::IF_NONE_MATCH)
                    .is_some_and(|v| v.as_bytes() == etag.as_bytes())
            {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            let mut response = (
                [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
                body,
            )
                .into_response();
            if let Some(etag) = etag
                && let Ok(value) = HeaderValue::from_str(&etag)
            {
                response.headers_mut().insert(header::ETAG, value);
            }
            response
        }
        Some(Serve::Gzip { content_type, gzip }) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            gzip,
        )
            .into_response(),
        Some(Serve::Status(code, text)) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            text,
        )
            .into_response(),
        Some(Serve::Redirect(to)) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Some(Serve::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Serve::Endless) => {
            let chunk = Bytes::from(vec![b'['; 64 * 1024]);
            let stream =
                futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap_or_default()
        }
    }
}
