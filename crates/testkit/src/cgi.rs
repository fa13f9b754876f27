//! A CGI/1.1 gateway on loopback (RFC 3875): each request under the script's path runs the program once
//! with the request in its environment, and its output (headers, a blank line, the body) becomes the
//! answer. It lets tests speak HTTP to a real CGI server program such as MapServer's `mapserv` without a
//! web server installed. Every request's path and query are recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

type Log = Arc<Mutex<Vec<(String, String)>>>;

struct Gateway {
    program: PathBuf,
    script_name: String,
    env: Vec<(String, String)>,
}

pub struct CgiOrigin {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CgiOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CgiOrigin {
    /// Serves `program` at `script_name` (`/cgi-bin/mapserv`), with `env` added to each run's environment.
    pub async fn start(program: PathBuf, script_name: &str, env: Vec<(String, String)>) -> Self {
        let log: Log = Arc::default();
        let gateway = Arc::new(Gateway {
            program,
            script_name: script_name.to_string(),
            env,
        });
        let app = Router::new()
            .fallback(run)
            .with_state((gateway, log.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, log, task }
    }

    /// The path and query string of every request, in order.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.log.lock().expect("log").clone()
    }
}

async fn run(State((gateway, log)): State<(Arc<Gateway>, Log)>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    log.lock().expect("log").push((path.clone(), query.clone()));
    let Some(path_info) = path.strip_prefix(&gateway.script_name) else {
        return (StatusCode::NOT_FOUND, "not under the script").into_response();
    };
    let (host, accept) = {
        let headers = request.headers();
        let value = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        (value(header::HOST), value(header::ACCEPT))
    };
    drop(request);
    let port = host.rsplit(':').next().unwrap_or("80").to_string();
    let path_info = path_info.to_string();
    let gateway = gateway.clone();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(&gateway.program);
        command
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", "GET")
            .env("QUERY_STRING", &query)
            .env("SCRIPT_NAME", &gateway.script_name)
            .env("SERVER_NAME", "127.0.0.1")
            .env("SERVER_PORT", &port)
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("HTTP_HOST", &host)
            .env("HTTP_ACCEPT", &accept)
            .stdin(std::process::Stdio::null());
        if path_info.is_empty() {
            command.env_remove("PATH_INFO");
        } else {
            command.env("PATH_INFO", &path_info);
        }
        for (k, v) in &gateway.env {
            command.env(k, v);
        }
        command.output()
    })
    .await;
    let output = match output {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!("cannot run the program: {e}"),
            )
                .into_response();
        }
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let out = output.stdout;
    let split = |sep: &[u8]| out.windows(sep.len()).position(|w| w == sep);
    let (head_end, body_start) = match (split(b"\r\n\r\n"), split(b"\n\n")) {
        (Some(a), Some(b)) if b < a => (b, b + 2),
        (Some(a), _) => (a, a + 4),
        (None, Some(b)) => (b, b + 2),
        (None, None) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!(
                    "the program wrote no CGI headers: {}",
                    String::from_utf8_lossy(&output.stderr)
                ),
            )
                .into_response();
        }
    };
    let head = String::from_utf8_lossy(&out[..head_end]).into_owned();
    let body = out[body_start..].to_vec();
    let mut status = StatusCode::OK;
    let mut builder = Response::builder();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            status = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY);
        } else {
            builder = builder.header(name.trim(), value);
        }
    }
    builder
        .status(status)
        .body(axum::body::Body::from(body))
        .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}
