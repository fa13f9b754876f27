//! Input limits over real HTTP on 127.0.0.1, each answered with the right status and a message while
//! other clients are served (attack cases 1, 4, 33, 34 and the request-rate limit): slow headers, too
//! many headers, connections beyond the cap, oversized bodies, wrong content types, requests beyond a
//! client's rate, a feature beyond the vertex limit, and JSON nested 100,000 deep.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use geoconsole_access::{Role, TokenRequest};
use geoconsole_server::ServerOptions;
use geoconsole_testkit::{TempStore, temp_gpkg};
use serde_json::{Value, json};

struct Served {
    url: String,
    addr: SocketAddr,
    console: geoconsole_app::Console,
    _store: TempStore,
    _server: geoconsole_server::RunningServer,
}

async fn serve(options: ServerOptions) -> Served {
    let store = temp_gpkg();
    let console = store.console();
    let server = geoconsole_server::start(
        console.clone(),
        ServerOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            poll_feeds: false,
            ..options
        },
    )
    .await
    .expect("server starts");
    Served {
        url: format!("http://{}", server.addr),
        addr: server.addr,
        console,
        _store: store,
        _server: server,
    }
}

/// Reads until the server closes the connection or `limit` passes; returns what came and whether it closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buffer) {
            Ok(0) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&seen).into_owned(), false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_case33_are_cut_off_while_others_are_served() {
    let served = serve(ServerOptions {
        header_timeout: Duration::from_secs(1),
        ..ServerOptions::default()
    })
    .await;
    let addr = served.addr;
    let slow = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .expect("write");
        let started = Instant::now();
        let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(8));
        (closed, started.elapsed())
    });
    // Meanwhile everyone else is answered at once.
    let quick = reqwest::get(format!("{}/healthz", served.url))
        .await
        .expect("get");
    assert_eq!(quick.status().as_u16(), 200);
    let (closed, after) = slow.await.expect("slow client");
    assert!(
        closed,
        "a client that never finishes its headers is disconnected"
    );
    assert!(
        after < Duration::from_secs(4),
        "within the header deadline: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_headers_big_bodies_and_wrong_types_case33_34() {
    let served = serve(ServerOptions {
        rate_per_second: 0.0,
        ..ServerOptions::default()
    })
    .await;
    let client = reqwest::Client::new();
    let mut request = client.get(format!("{}/collections", served.url));
    for i in 0..10_000 {
        request = request.header(format!("x-h{i}"), "v");
    }
    let status = request.send().await.map(|r| r.status().as_u16());
    assert!(
        matches!(status, Ok(431) | Err(_)),
        "10,000 headers are refused (431 or the connection closed): {status:?}"
    );
    let big = "x".repeat(2 * 1024 * 1024);
    let response = client
        .post(format!("{}/rules", served.url))
        .header("content-type", "application/json")
        .body(format!("{{\"id\":\"{big}\"}}"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 413);
    let response = client
        .post(format!("{}/rules", served.url))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 415);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["description"]
            .as_str()
            .unwrap_or("")
            .contains("application/json"),
        "{body}"
    );
    // Still serving.
    let ok = client
        .get(format!("{}/healthz", served.url))
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed_on_accept() {
    let served = serve(ServerOptions {
        max_connections: 2,
        header_timeout: Duration::from_secs(5),
        ..ServerOptions::default()
    })
    .await;
    let addr = served.addr;
    let outcome = tokio::task::spawn_blocking(move || {
        let _a = TcpStream::connect(addr).expect("first");
        let _b = TcpStream::connect(addr).expect("second");
        std::thread::sleep(Duration::from_millis(200));
        let mut third = TcpStream::connect(addr).expect("third connects at TCP level");
        let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        read_until_closed(&mut third, Duration::from_secs(3))
    })
    .await
    .expect("clients");
    assert!(outcome.1, "the third connection is closed");
    assert!(
        !outcome.0.contains("200 OK"),
        "and not served: {}",
        outcome.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_has_its_own_request_rate() {
    let served = serve(ServerOptions {
        rate_per_second: 2.0,
        rate_burst: 3.0,
        ..ServerOptions::default()
    })
    .await;
    let accounts = served.console.accounts();
    accounts
        .add_user("ann", Role::Viewer, "correct horse battery staple")
        .await
        .expect("user");
    let token = accounts
        .create_token(TokenRequest {
            user: "ann".into(),
            label: "t".into(),
            scope: Role::Viewer,
            datasets: None,
            expires: None,
        })
        .await
        .expect("token")
        .secret;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = client
            .get(format!("{}/healthz", served.url))
            .send()
            .await
            .expect("get");
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").cloned()));
    }
    assert_eq!(
        statuses.iter().filter(|(s, _)| *s == 200).count(),
        3,
        "{statuses:?}"
    );
    let (status, retry) = &statuses[4];
    assert_eq!(*status, 429);
    assert!(retry.is_some(), "429 says when to come back");
    let other = client
        .get(format!("{}/collections", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(other.status().as_u16(), 200, "another client is not slowed");
}

async fn upload_and_import(served: &Served, name: &str, body: Vec<u8>) -> Value {
    let client = reqwest::Client::new();
    let staged: Value = client
        .post(format!("{}/imports?name={name}", served.url))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("stage")
        .json()
        .await
        .expect("json");
    let Some(id) = staged["id"].as_str() else {
        return staged;
    };
    let started = client
        .post(format!("{}/imports/{id}", served.url))
        .json(&json!({"dataset": "limited"}))
        .send()
        .await
        .expect("start");
    assert_eq!(started.status().as_u16(), 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status: Value = client
            .get(format!("{}/imports/{id}", served.url))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if status["state"] != "importing" && status["state"] != "staged" {
            return status;
        }
        assert!(Instant::now() < deadline, "import never ended: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn features_beyond_the_limits_and_json_nested_deep_case1_are_refused_cleanly() {
    let served = serve(ServerOptions {
        rate_per_second: 0.0,
        feature_limits: geoconsole_app::FeatureLimits {
            max_vertices: 10,
            max_properties_bytes: 1024,
        },
        ..ServerOptions::default()
    })
    .await;
    let line: Vec<[f64; 2]> = (0..11).map(|i| [f64::from(i), 0.0]).collect();
    let file = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 1]}, "properties": {"kind": "ok"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}, "properties": {"kind": "long"}},
    ]});
    let status = upload_and_import(&served, "lines.geojson", file.to_string().into_bytes()).await;
    assert_eq!(status["state"], "failed", "{status}");
    let error = status["error"].as_str().unwrap_or("");
    assert!(
        error.contains("feature 1")
            && error.contains("11 vertices")
            && error.contains("limit is 10"),
        "{error}"
    );
    let fat = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 1]}, "properties": {"note": "x".repeat(2000)}},
    ]});
    let status = upload_and_import(&served, "fat.geojson", fat.to_string().into_bytes()).await;
    assert!(
        status["error"]
            .as_str()
            .unwrap_or("")
            .contains("limit is 1024"),
        "{status}"
    );

    let deep = format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[{{\"type\":\"Feature\",\"geometry\":null,\"properties\":{{\"a\":{}{}}}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // A file whose first feature cannot be read is refused when staged, with the reason and place.
    let status = upload_and_import(&served, "deep.geojson", deep.into_bytes()).await;
    assert_eq!(status["code"], "InvalidParameterValue", "{status}");
    assert!(
        status["description"]
            .as_str()
            .unwrap_or("")
            .contains("line 1 column 216: JSON nested too deeply"),
        "a located, explained error: {status}"
    );
    let alive = reqwest::get(format!("{}/healthz", served.url))
        .await
        .expect("get");
    assert_eq!(alive.status().as_u16(), 200, "the server survived");
    assert!(
        served
            .console
            .datasets(&geoconsole_app::Scope::everything())
            .await
            .expect("datasets")
            .is_empty(),
        "nothing was stored"
    );
}
