//! Access control attacked from outside, over real HTTP on 127.0.0.1: an account limited to some datasets
//! must never hear of the others, by any route, default, indirect reference or stream. Every operation of
//! the server's own API document is called with every query parameter it declares set, in turn, to each
//! way of reaching a hidden dataset (its name, an empty list that falls back to a default, `by=` regions),
//! and no answer may name a hidden dataset or carry anything of its features.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use geoconsole_access::{Grant, Role, TokenRequest};
use geoconsole_app::ImportOptions;
use geoconsole_model::geo_types::{Geometry, LineString, Polygon};
use geoconsole_model::{DatasetId, DatasetKind, Feature, TimeSpan};
use geoconsole_testkit::{TestServer, point, serve, temp_gpkg};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// Strings that belong to hidden datasets only: their ids, feature ids, names and a coordinate.
const HIDDEN: [&str; 8] = [
    "secret_sites",
    "secret_areas",
    "secret_events",
    "hidden-plant",
    "Hidden Plant",
    "Hidden Zone",
    "hidden-quake",
    "7.77777",
];

async fn import(server: &TestServer, id: &str, kind: DatasetKind, features: Vec<Feature>) {
    server
        .console
        .import_features(
            id,
            features.into_iter(),
            ImportOptions {
                dataset: Some(DatasetId::new(id).expect("id")),
                kind: Some(kind),
                ..ImportOptions::default()
            },
        )
        .await
        .expect("import");
}

fn quake(id: &str, lon: f64, title: &str, day: u32) -> Feature {
    let mut f = point(id, lon, 46.05, json!({"title": title, "mag": 6.5}));
    f.time = Some(TimeSpan::instant(
        Utc.with_ymd_and_hms(2024, 5, day, 0, 0, 0)
            .single()
            .expect("a day of May"),
    ));
    f
}

/// Two readable datasets and three hidden ones, placed so that every analysis would meet them: the hidden
/// site sits next to the public quake, the hidden quake next to the public site, the hidden zone covers both.
async fn world() -> TestServer {
    let server = serve(temp_gpkg()).await;
    import(
        &server,
        "pub_sites",
        DatasetKind::Sites,
        vec![point("depot-1", 7.7, 46.0, json!({"name": "Public Depot"}))],
    )
    .await;
    import(
        &server,
        "secret_sites",
        DatasetKind::Sites,
        vec![point(
            "hidden-plant",
            7.77777,
            46.1,
            json!({"name": "Hidden Plant"}),
        )],
    )
    .await;
    import(
        &server,
        "pub_events",
        DatasetKind::Events,
        (1..=20)
            .map(|d| quake(&format!("public-quake-{d}"), 7.75, "Public Quake", d))
            .collect(),
    )
    .await;
    import(
        &server,
        "secret_events",
        DatasetKind::Events,
        (1..=20)
            .map(|d| quake(&format!("hidden-quake-{d}"), 7.71, "Hidden Quake", d))
            .collect(),
    )
    .await;
    import(
        &server,
        "secret_areas",
        DatasetKind::Areas,
        vec![{
            let mut zone = point("hidden-zone", 0.0, 0.0, json!({"name": "Hidden Zone"}));
            zone.geometry = Some(Geometry::Polygon(Polygon::new(
                LineString::from(vec![
                    (7.0, 45.5),
                    (8.5, 45.5),
                    (8.5, 46.5),
                    (7.0, 46.5),
                    (7.0, 45.5),
                ]),
                vec![],
            )));
            zone
        }],
    )
    .await;
    server
}

/// A viewer limited to `pub_sites` and `pub_events`, and an admin: their tokens.
async fn limited_viewer(server: &TestServer) -> (String, String) {
    let accounts = server.console.accounts();
    accounts
        .add_user("root", Role::Admin, PASSWORD)
        .await
        .expect("admin");
    accounts
        .add_user("lim", Role::Viewer, PASSWORD)
        .await
        .expect("viewer");
    accounts
        .set_datasets(
            "lim",
            Some(
                [
                    ("pub_sites".to_string(), Grant::Read),
                    ("pub_events".to_string(), Grant::Read),
                ]
                .into(),
            ),
        )
        .await
        .expect("limit");
    let token = |user: &str, scope: Role| TokenRequest {
        user: user.into(),
        label: format!("{user} test"),
        scope,
        datasets: None,
        expires: None,
    };
    // An admin cannot mint a token for a limited account naming a dataset the account may not use
    // (found by an outside tester with `geoconsole tokens create --user lim --datasets secret_sites`).
    let beyond = accounts
        .create_token(TokenRequest {
            datasets: Some(vec!["pub_sites".into(), "secret_sites".into()]),
            ..token("lim", Role::Viewer)
        })
        .await;
    assert!(
        beyond
            .as_ref()
            .is_err_and(|e| e.to_string().contains("cannot name 'secret_sites'")),
        "{:?}",
        beyond.map(|t| t.record)
    );
    let limited = accounts
        .create_token(token("lim", Role::Viewer))
        .await
        .expect("token");
    let admin = accounts
        .create_token(token("root", Role::Admin))
        .await
        .expect("token");
    (limited.secret, admin.secret)
}

/// Hidden strings in an answer that the request did not itself carry (an error may echo what was asked,
/// "collection 'secret_sites' does not exist", as it does for a name that exists nowhere).
fn leaks(body: &str, asked: &str) -> Vec<&'static str> {
    HIDDEN
        .iter()
        .filter(|h| body.contains(*h) && !asked.contains(*h))
        .copied()
        .collect()
}

/// Ways of reaching a hidden dataset through a query parameter, by the parameter's name.
fn attempts(parameter: &str) -> Vec<&'static str> {
    let mut values = vec![
        "",
        "secret_sites",
        "secret_events",
        "secret_areas",
        "pub_sites,secret_sites",
        "secret_events,pub_events",
    ];
    if parameter == "by" {
        values.extend([
            "areas:secret_areas",
            "sites:50",
            "sites:500",
            "h3:3",
            "areas:pub_sites",
        ]);
    }
    values
}

/// Case 2 of issue 18 (hidden datasets leaked through analytics defaults and `by=`): every GET of the API
/// document, every declared query parameter set to each attempt, the rest left at their defaults, path
/// datasets set to each hidden one; plus the POST reads. No answer names a hidden dataset or its features.
#[tokio::test]
async fn a_limited_account_never_hears_of_a_hidden_dataset_on_any_route() {
    let server = world().await;
    let (token, admin) = limited_viewer(&server).await;
    let api: Value = server
        .client()
        .get(server.at("/api"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    let mut requests: Vec<(Method, String, Option<Value>)> = Vec::new();
    for (path, operations) in api["paths"].as_object().expect("paths") {
        // Operations on one admin-visible collection are listed once per dataset; the generic ones are
        // enough, filled with every dataset below.
        if path.contains("secret_") || path.contains("pub_") {
            continue;
        }
        for (method, operation) in operations.as_object().expect("operations") {
            // Streams never end; /events has its own test below.
            if method != "get" || path.ends_with("/stream") || path == "/events" {
                continue;
            }
            let mut filled = vec![path.clone()];
            for (name, choices) in [
                (
                    "{collectionId}",
                    &["secret_sites", "secret_areas", "secret_events", "pub_sites"][..],
                ),
                (
                    "{datasets}",
                    &["secret_events", "pub_events,secret_events"][..],
                ),
                ("{featureId}", &["hidden-plant", "depot-1"][..]),
                ("{tileMatrixSetId}", &["WebMercatorQuad"][..]),
                ("{tileMatrix}", &["5"][..]),
                ("{tileRow}", &["11"][..]),
                ("{tileCol}", &["16"][..]),
                ("{z}", &["5"][..]),
                ("{x}", &["16"][..]),
                ("{y}", &["11"][..]),
            ] {
                filled = filled
                    .iter()
                    .flat_map(|p| {
                        if p.contains(name) {
                            choices.iter().map(|c| p.replace(name, c)).collect()
                        } else {
                            vec![p.clone()]
                        }
                    })
                    .collect();
            }
            let parameters: Vec<String> = operation["parameters"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter(|p| p["in"] == "query")
                        .filter_map(|p| p["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for path in filled {
                if path.contains('{') {
                    continue; // ids of other objects (rules, alerts, uploads): not dataset reads
                }
                requests.push((Method::GET, path.clone(), None));
                for parameter in &parameters {
                    for value in attempts(parameter) {
                        let sep = if path.contains('?') { '&' } else { '?' };
                        requests.push((
                            Method::GET,
                            format!("{path}{sep}{parameter}={value}"),
                            None,
                        ));
                    }
                }
            }
        }
    }
    // Analytics that need a dataset named, with each hidden dataset in each role.
    for dataset in ["pub_events", "secret_events"] {
        for by in attempts("by") {
            requests.push((
                Method::GET,
                format!("/analytics/buckets?dataset={dataset}&by={by}&period=day"),
                None,
            ));
        }
        for sites in ["", "secret_sites", "pub_sites,secret_sites"] {
            requests.push((
                Method::GET,
                format!("/analytics/trends?dataset={dataset}&sites={sites}&period=day"),
                None,
            ));
        }
    }
    for hazards in ["", "secret_events", "pub_events"] {
        for sites in ["", "secret_sites", "pub_sites"] {
            for f in ["json", "geojson"] {
                requests.push((
                    Method::GET,
                    format!("/analytics/exposure?sites={sites}&hazards={hazards}&f={f}"),
                    None,
                ));
            }
        }
    }
    for dataset in ["secret_events", "secret_sites", "pub_events"] {
        requests.push((
            Method::POST,
            "/exports".into(),
            Some(json!({"dataset": dataset, "format": "geojson"})),
        ));
        requests.push((
            Method::POST,
            "/analytics/risk".into(),
            Some(json!({"layers": [{"dataset": dataset}]})),
        ));
    }
    let mut leaked = Vec::new();
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for (method, path, body) in &requests {
        let mut request = server
            .client()
            .request(method.clone(), server.at(path))
            .bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = server.send(request).await;
        *answered.entry(reply.status).or_default() += 1;
        assert!(reply.status < 500, "{method} {path}: {}", reply.text());
        let text = reply.text();
        let asked = format!(
            "{path} {}",
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        let found = leaks(&text, &asked);
        if !found.is_empty() {
            leaked.push(format!(
                "{method} {path} → {} names {found:?}: {}",
                reply.status,
                &text[..text.len().min(300)]
            ));
        }
    }
    eprintln!(
        "limited account: {} requests, answers by status {answered:?}, leaks {}",
        requests.len(),
        leaked.len()
    );
    assert!(requests.len() > 300, "{} requests", requests.len());
    assert!(
        answered.get(&200).copied().unwrap_or(0) > 50,
        "the sweep must also reach real answers: {answered:?}"
    );
    assert!(
        leaked.is_empty(),
        "hidden datasets leaked:\n{}",
        leaked.join("\n")
    );
}

/// The empty lists of issue 18, spelled out: they fall back to what the account sees, and still answer.
#[tokio::test]
async fn empty_lists_fall_back_to_the_readable_datasets_only() {
    let server = world().await;
    let (token, _) = limited_viewer(&server).await;
    let get = |path: &'static str| {
        let request = server.client().get(server.at(path)).bearer_auth(&token);
        server.send(request)
    };
    let exposure = get("/analytics/exposure?sites=&hazards=").await;
    assert_eq!(exposure.status, 200, "{}", exposure.text());
    let body = exposure.json();
    assert_eq!(body["sites_checked"], 1, "{body}");
    assert!(body.to_string().contains("Public Depot"), "{body}");
    let buckets = get("/analytics/buckets?dataset=pub_events&by=sites:50&period=day").await;
    assert_eq!(buckets.status, 200, "{}", buckets.text());
    assert!(buckets.text().contains("depot-1"), "{}", buckets.text());
    let areas = get("/analytics/buckets?dataset=pub_events&by=areas:secret_areas").await;
    assert_eq!(areas.status, 404, "{}", areas.text());
    let trends = get("/analytics/trends?dataset=pub_events&sites=&period=day").await;
    assert_eq!(trends.status, 200, "{}", trends.text());
    assert!(leaks(&trends.text(), "").is_empty(), "{}", trends.text());
}

/// Issue 18 case 2: `/events` carried every dataset's changes and every feed's standing (names, datasets,
/// last errors) to accounts that may not list feeds.
#[tokio::test]
async fn the_event_stream_carries_only_readable_datasets_and_no_feeds_to_a_limited_account() {
    let server = world().await;
    // A feed whose poll fails (nothing listens there).
    let feed = json!({
        "name": "secret_feed",
        "url": "http://127.0.0.1:9/secret_events.geojson",
        "format": "geojson",
        "dataset": "secret_events",
    });
    let added = server.post_json("/feeds", feed).await;
    assert_eq!(added.status, 201, "{}", added.text());
    let (token, admin) = limited_viewer(&server).await;
    let response = server
        .client()
        .get(server.at("/events"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    // Pausing the feed changes its standing, which is announced.
    let paused = server
        .send(
            server
                .client()
                .post(server.at("/feeds/secret_feed/pause"))
                .bearer_auth(&admin),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.text());
    // A hidden and a readable dataset change.
    for (id, name) in [
        ("secret_sites", "more-hidden-plant"),
        ("pub_sites", "depot-2"),
    ] {
        server
            .console
            .import_features(
                id,
                vec![point(name, 7.7, 46.0, json!({"name": name}))].into_iter(),
                ImportOptions {
                    dataset: Some(DatasetId::new(id).expect("id")),
                    mode: geoconsole_store::WriteMode::Append,
                    ..ImportOptions::default()
                },
            )
            .await
            .expect("append");
    }
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("pub_sites") {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    // Whatever else may still be on its way arrives within a moment.
    while let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(Duration::from_millis(500), body.next()).await
    {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains("pub_sites"),
        "the readable change arrives: {seen}"
    );
    assert!(!seen.contains("secret_"), "nothing hidden: {seen}");
    assert!(!seen.contains("event: feed"), "no feed standings: {seen}");
    let hidden = server
        .send(
            server
                .client()
                .get(server.at("/events?datasets=secret_sites"))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text());
}

/// Issue 18 case 3: a write token limited to `pub_sites` made a token with no dataset limits and 366 days,
/// which read everything and outlived the revocation of its parent. Tokens no longer make tokens; a limited
/// account's session makes tokens within its grants only; a dataset-limited admin credential may not act
/// on other accounts (make users, list or revoke their tokens), which would step outside its limits.
#[tokio::test]
async fn a_token_cannot_mint_tokens_nor_step_outside_its_limits() {
    let server = world().await;
    let accounts = server.console.accounts();
    accounts
        .add_user("root", Role::Admin, PASSWORD)
        .await
        .expect("admin");
    accounts
        .add_user("ed", Role::Editor, PASSWORD)
        .await
        .expect("editor");
    accounts
        .set_datasets("ed", Some([("pub_sites".to_string(), Grant::Write)].into()))
        .await
        .expect("limit");
    let make = |user: &str, scope: Role, datasets: Option<Vec<&str>>| TokenRequest {
        user: user.into(),
        label: "t".into(),
        scope,
        datasets: datasets.map(|d| d.into_iter().map(str::to_string).collect()),
        expires: None,
    };
    let scoped = accounts
        .create_token(make("root", Role::Editor, Some(vec!["pub_sites"])))
        .await
        .expect("token")
        .secret;
    let post = |path: &'static str, token: String, body: Value| {
        let request = server
            .client()
            .post(server.at(path))
            .bearer_auth(token)
            .json(&body);
        server.send(request)
    };
    let minted = post(
        "/auth/tokens",
        scoped.clone(),
        json!({"label": "escape", "scope": "write", "expires_in_days": 366}),
    )
    .await;
    assert_eq!(minted.status, 403, "{}", minted.text());
    assert!(
        minted.text().contains("cannot make tokens"),
        "{}",
        minted.text()
    );

    // A dataset-limited admin token may not reach other accounts.
    let limited_admin = accounts
        .create_token(make("root", Role::Admin, Some(vec!["pub_sites"])))
        .await
        .expect("token")
        .secret;
    let user = post(
        "/users",
        limited_admin.clone(),
        json!({"name": "mallory", "role": "admin", "password": "a much longer password"}),
    )
    .await;
    assert_eq!(user.status, 403, "{}", user.text());
    let everyone = server
        .send(
            server
                .client()
                .get(server.at("/auth/tokens?user=*"))
                .bearer_auth(&limited_admin),
        )
        .await;
    assert_eq!(everyone.status, 403, "{}", everyone.text());
    let eds = accounts
        .create_token(make("ed", Role::Editor, None))
        .await
        .expect("token");
    let revoked = server
        .send(
            server
                .client()
                .delete(server.at(&format!("/auth/tokens/{}", eds.record.id)))
                .bearer_auth(&limited_admin),
        )
        .await;
    assert_eq!(revoked.status, 404, "{}", revoked.text());

    // A limited account's session makes tokens within its grants, and no further.
    let login = server
        .send(
            server
                .client()
                .post(server.at("/auth/login"))
                .json(&json!({"user": "ed", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text());
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string();
    let csrf = login.json()["csrf"].as_str().expect("csrf").to_string();
    let from_session = |body: Value| {
        let request = server
            .client()
            .post(server.at("/auth/tokens"))
            .header("cookie", cookie.clone())
            .header("x-csrf-token", csrf.clone())
            .json(&body);
        server.send(request)
    };
    let outside =
        from_session(json!({"label": "x", "scope": "read", "datasets": ["secret_sites"]})).await;
    assert_eq!(outside.status, 403, "{}", outside.text());
    let inside = from_session(json!({"label": "x", "scope": "read"})).await;
    assert_eq!(inside.status, 201, "{}", inside.text());
    let secret = inside.json()["token"].as_str().expect("secret").to_string();
    let hidden = server
        .send(
            server
                .client()
                .get(server.at("/collections/secret_sites/items"))
                .bearer_auth(&secret),
        )
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text());
    let own = server
        .send(
            server
                .client()
                .get(server.at("/collections/pub_sites/items"))
                .bearer_auth(&secret),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text());
}

/// Issue 18 case 4: a console without accounts on loopback answered every web page (`Access-Control-Allow-
/// Origin: *`), and a write addressed to `evil.example:PORT` with a matching `Origin` (DNS rebinding) made a
/// rule. Requests addressed to another name are not the local user's; writes from other pages are refused
/// whoever sends them; no site may read answers unless the operator names it.
#[tokio::test]
async fn a_local_console_serves_only_its_own_machine_and_its_own_pages() {
    let server = serve(temp_gpkg()).await;
    let port = server.url.rsplit(':').next().expect("port").to_string();
    let evil = format!("evil.example:{port}");
    let with = |method: Method, path: &str, host: &str, origin: Option<&str>| {
        let mut request = server
            .client()
            .request(method, server.at(path))
            .header("host", host);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request
    };
    // Rebinding: the page's own name, pointed at 127.0.0.1, reads and writes nothing.
    let read = server
        .send(with(
            Method::GET,
            "/collections",
            &evil,
            Some(&format!("http://{evil}")),
        ))
        .await;
    assert_eq!(read.status, 401, "{}", read.text());
    let rule = json!({"id": "rebound", "name": "rebound", "condition": {"type": "exposure"}});
    let write = server
        .send(
            with(
                Method::POST,
                "/rules",
                &evil,
                Some(&format!("http://{evil}")),
            )
            .json(&rule),
        )
        .await;
    assert!(
        write.status == 401 || write.status == 403,
        "{}: {}",
        write.status,
        write.text()
    );
    // Cross-site: another page, addressed properly, may neither read the answer nor write.
    let local = format!("127.0.0.1:{port}");
    let read = server
        .send(with(
            Method::GET,
            "/collections",
            &local,
            Some("http://evil.example"),
        ))
        .await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(
        read.header("access-control-allow-origin"),
        None,
        "no other site may read the answer"
    );
    for origin in ["http://evil.example", "null"] {
        let write = server
            .send(with(Method::POST, "/rules", &local, Some(origin)).json(&rule))
            .await;
        assert_eq!(write.status, 403, "{origin}: {}", write.text());
        let login = server
            .send(
                with(Method::POST, "/auth/login", &local, Some(origin))
                    .json(&json!({"user": "x", "password": "y"})),
            )
            .await;
        assert_eq!(
            login.status,
            403,
            "login CSRF from {origin}: {}",
            login.text()
        );
    }
    let names = server.get("/rules").await.text();
    assert!(!names.contains("rebound"), "{names}");
    // The machine's own names are served.
    for host in [
        local.clone(),
        format!("localhost:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
    ] {
        let reply = server
            .send(with(Method::GET, "/collections", &host, None))
            .await;
        assert_eq!(reply.status, 200, "{host}: {}", reply.text());
    }
}

/// Other sites read answers only when the operator names them (`serve --cors-origin`), and only reads.
#[tokio::test]
async fn named_origins_alone_may_read_across_sites() {
    let store = temp_gpkg();
    let options = geoconsole_server::ServerOptions {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        cors_origins: vec!["https://grafana.example.org".into()],
        ..Default::default()
    };
    let running = geoconsole_server::start(store.console(), options)
        .await
        .expect("server");
    let url = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    // Without accounts every local request is the local user's: a named origin's page sending no token
    // must not read the data that way (found by an outside tester), only with a token of its own.
    for (origin, token, allowed) in [
        ("https://grafana.example.org", true, true),
        ("https://grafana.example.org", false, false),
        ("https://evil.example", true, false),
        ("https://evil.example", false, false),
    ] {
        let mut request = client
            .get(format!("{url}/collections"))
            .header("origin", origin);
        if token {
            request = request.bearer_auth("gct_made_up");
        }
        let reply = request.send().await.expect("reply");
        assert_eq!(
            reply
                .headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            allowed.then_some(origin),
            "{origin}, token {token}"
        );
    }
    let preflight = client
        .request(Method::OPTIONS, format!("{url}/rules"))
        .header("origin", "https://grafana.example.org")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    let methods = preflight
        .headers()
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(!methods.contains("POST"), "reads only: {methods}");
    running.shutdown().await.expect("stops");
}

/// One request cannot hold the server: a bucketing whose answer would be huge is refused up front, with
/// what to coarsen (an outside tester held a server for 255 s with `by=sites:1000`, and took 3 GB with H3
/// resolution 10 by the hour), while `/healthz` keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucketing_too_big_to_answer_is_refused_not_computed() {
    let server = serve(temp_gpkg()).await;
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    // 3,000 events in distinct places of one region over 81 days, and 2,000 sites among them.
    let events: Vec<Feature> = (0..3_000)
        .map(|i| {
            let mut f = point(
                &format!("e{i}"),
                f64::from(i % 100) * 0.05,
                45.0 + f64::from(i / 100) * 0.15,
                json!({}),
            );
            f.time = Some(TimeSpan::instant(
                start + chrono::Duration::minutes(i64::from(i) * 39),
            ));
            f
        })
        .collect();
    import(&server, "many_events", DatasetKind::Events, events).await;
    let sites: Vec<Feature> = (0..2_000)
        .map(|i| {
            point(
                &format!("s{i}"),
                f64::from(i % 50) * 0.1,
                45.0 + f64::from(i / 50) * 0.1,
                json!({"name": format!("site {i}")}),
            )
        })
        .collect();
    import(&server, "many_sites", DatasetKind::Sites, sites).await;

    for (query, says) in [
        ("by=sites:1000&period=month", "smaller buffer"),
        ("by=h3:10&period=hour", "regions ×"),
    ] {
        let started = std::time::Instant::now();
        let answer = server
            .get(&format!("/analytics/buckets?dataset=many_events&{query}"))
            .await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text());
        assert!(answer.text().contains(says), "{query}: {}", answer.text());
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "{query} took {:?}",
            started.elapsed()
        );
        assert_eq!(server.get("/healthz").await.status, 200);
    }
    // Within the bounds the same data is answered.
    let fine = server
        .get("/analytics/buckets?dataset=many_events&by=h3:2&period=week")
        .await;
    assert_eq!(fine.status, 200, "{}", fine.text());
}
