//! A real geoconsole server on an ephemeral loopback port, over a temporary GeoPackage.

use std::time::{Duration, Instant};

use geoconsole_app::Console;
use geoconsole_server::{RunningServer, ServerOptions};

use crate::{TempStore, temp_gpkg};

/// A server and the store it serves; dropping it stops the server and removes the store.
pub struct TestServer {
    /// `http://127.0.0.1:PORT` without a trailing slash.
    pub url: String,
    pub console: Console,
    pub store: TempStore,
    running: Option<RunningServer>,
    client: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestServer {
    /// GETs a path (or a full URL) and reads the whole reply.
    pub async fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[]).await
    }

    /// Sends any request (POST, DELETE, …) built on [`TestServer::client`] and reads the whole reply.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A full URL for a path on this server.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.url)
        };
        let mut request = self.client.get(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Imports `body` as a file named `name` through the HTTP import API (stage, then import with
    /// `choice`) and returns the final status (`state` is `imported` or `failed`).
    pub async fn upload(
        &self,
        name: &str,
        body: Vec<u8>,
        choice: serde_json::Value,
    ) -> serde_json::Value {
        let staged = self
            .send(
                self.client
                    .post(self.at(&format!("/imports?name={name}")))
                    .header("content-type", "application/octet-stream")
                    .body(body),
            )
            .await;
        assert_eq!(staged.status, 201, "{}", staged.text());
        let id = staged.json()["id"].as_str().expect("upload id").to_string();
        let started = self
            .send(
                self.client
                    .post(self.at(&format!("/imports/{id}")))
                    .header("content-type", "application/json")
                    .body(choice.to_string()),
            )
            .await;
        assert_eq!(started.status, 202, "{}", started.text());
        let begun = Instant::now();
        loop {
            let status = self.get(&format!("/imports/{id}")).await.json();
            if status["state"] != "importing" {
                return status;
            }
            assert!(
                begun.elapsed() < Duration::from_secs(60),
                "import {id} never finished"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs a JSON body and reads the whole reply.
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(
            self.client
                .post(self.at(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// PUTs a JSON body and reads the whole reply.
    pub async fn put_json(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(
            self.client
                .put(self.at(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Every feature of a collection as GeoJSON, following `next` links.
    pub async fn all_features(&self, id: &str) -> Vec<serde_json::Value> {
        self.features_where(id, "").await
    }

    /// Every feature of a collection matching extra query parameters (`bbox=…&datetime=…`), following
    /// `next` links; any answer but 200 fails the test.
    pub async fn features_where(&self, id: &str, query: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut url = format!("/collections/{id}/items?limit=10000&{query}");
        loop {
            let page = self.get(&url).await;
            assert_eq!(page.status, 200, "{url}: {}", page.text());
            let body = page.json();
            out.extend(
                body["features"]
                    .as_array()
                    .expect("features")
                    .iter()
                    .cloned(),
            );
            match body["links"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
                .and_then(|l| l["href"].as_str())
            {
                Some(next) => url = next.to_string(),
                None => return out,
            }
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("server stops cleanly");
        }
    }
}

/// Serves a store and waits until every dataset is indexed.
pub async fn serve(store: TempStore) -> TestServer {
    let console = store.console();
    serve_console(store, console).await
}

/// Serves a console made from `store` and configured by the caller (webhooks, risk model).
pub async fn serve_console(store: TempStore, console: Console) -> TestServer {
    serve_with(store, console, true).await
}

/// Serves a store whose feeds are polled only when a test asks (`POST /feeds/{name}/poll`), so each poll's
/// outcome is the test's to check.
pub async fn serve_polled_by_hand(store: TempStore) -> TestServer {
    let console = store.console();
    serve_with(store, console, false).await
}

async fn serve_with(store: TempStore, console: Console, poll_feeds: bool) -> TestServer {
    let options = ServerOptions {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        poll_feeds,
        // Tests fire requests far faster than people; the limit has its own test.
        rate_per_second: 0.0,
        ..ServerOptions::default()
    };
    let running = geoconsole_server::start(console.clone(), options)
        .await
        .expect("server starts on loopback");
    let server = TestServer {
        url: format!("http://{}", running.addr),
        console,
        store,
        running: Some(running),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client"),
    };
    let started = Instant::now();
    loop {
        if server.get("/readyz").await.status == 200 {
            return server;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The demo scenario in a fresh store, served.
pub async fn serve_demo() -> TestServer {
    let store = temp_gpkg();
    geoconsole_scenario::build_demo(&store.console(), 42)
        .await
        .expect("demo builds");
    serve(store).await
}
