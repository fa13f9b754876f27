//! Access control over real HTTP on 127.0.0.1: the role × route matrix generated from the server's own
//! API document (every route, every role, anonymous, tokens and sessions), per-dataset limits, sessions
//! (fixation, logout, idle end, CSRF, cookie flags), login throttling, tokens (in URLs, revoked, expired,
//! out of scope, stored hashed), IDOR on tokens and uploads, and the audit log. Test names carry the
//! numbers of the attack cases in `shared/anchors/reliability.md` they cover.

use std::time::{Duration, Instant};

use chrono::Utc;
use geoconsole_access::{Grant, Role, TokenRequest};
use geoconsole_testkit::{TestServer, serve, serve_demo, temp_gpkg};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Debug)]
enum Auth {
    Anonymous,
    Bearer(String),
    Session {
        cookie: String,
        csrf: Option<String>,
    },
}

async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    auth: &Auth,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server.client().request(method, server.at(path));
    match auth {
        Auth::Anonymous => {}
        Auth::Bearer(token) => request = request.bearer_auth(token),
        Auth::Session { cookie, csrf } => {
            request = request.header("cookie", format!("gc_session={cookie}"));
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
        }
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let streaming = path.ends_with("/stream") || path.starts_with("/events");
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    if streaming {
        return (status, Value::Null);
    }
    let bytes = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(server: &TestServer, path: &str, auth: &Auth) -> (u16, Value) {
    call(server, Method::GET, path, auth, None).await
}

async fn token(
    server: &TestServer,
    user: &str,
    scope: Role,
    datasets: Option<Vec<&str>>,
) -> String {
    server
        .console
        .accounts()
        .create_token(TokenRequest {
            user: user.into(),
            label: format!("{user} test"),
            scope,
            datasets: datasets.map(|d| d.into_iter().map(str::to_string).collect()),
            expires: None,
        })
        .await
        .expect("token")
        .secret
}

async fn add_user(server: &TestServer, name: &str, role: Role) {
    server
        .console
        .accounts()
        .add_user(name, role, PASSWORD)
        .await
        .expect("user");
}

/// Logs in over HTTP; answers the session cookie's value and the CSRF token.
async fn login(server: &TestServer, user: &str, password: &str) -> (u16, Option<String>, Value) {
    let response = server
        .client()
        .post(server.at("/auth/login"))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await
        .expect("login");
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, cookie, body)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("cookie value")
}

async fn session(server: &TestServer, user: &str) -> Auth {
    let (status, cookie, body) = login(server, user, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    Auth::Session {
        cookie: cookie_value(&cookie.expect("set-cookie")),
        csrf: body["csrf"].as_str().map(str::to_string),
    }
}

fn fill(path: &str) -> String {
    let mut filled = path.to_string();
    for (name, value) in [
        ("{collectionId}", "sites"),
        ("{featureId}", "no-such-feature"),
        ("{tileMatrixSetId}", "WebMercatorQuad"),
        ("{tileMatrix}", "0"),
        ("{tileRow}", "0"),
        ("{tileCol}", "0"),
        ("{datasets}", "sites"),
        ("{z}", "0"),
        ("{x}", "0"),
        ("{y}", "0"),
        ("{ruleId}", "no_such_rule"),
        ("{alertId}", "999999"),
        ("{deliveryId}", "999999"),
        ("{uploadId}", "no-such-upload"),
        ("{exportId}", "no-such-export"),
        ("{fontstack}", "DejaVu Sans"),
        ("{range}", "0-255"),
        ("{feedName}", "no-such-feed"),
        ("{entryName}", "no-such-entry"),
        ("{tokenId}", "no-such-token"),
        ("{userName}", "nobody"),
    ] {
        filled = filled.replace(name, value);
    }
    assert!(
        !filled.contains('{'),
        "a path parameter has no test value: {filled}"
    );
    filled
}

fn rank(role: Option<Role>) -> u8 {
    role.map_or(0, |r| r as u8 + 1)
}

fn need_rank(need: &str) -> u8 {
    match need {
        "public" => 0,
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        other => panic!("unknown need {other}"),
    }
}

/// Case 36: every route of the API document × anonymous, viewer, editor and admin, by token and by
/// session, against what the route says it needs. Deny by default: a route without a stated need would
/// fail `need_rank`.
#[tokio::test]
async fn role_route_matrix_case36_every_cell_is_as_the_route_says() {
    let server = serve_demo().await;
    add_user(&server, "ada", Role::Admin).await;
    add_user(&server, "ed", Role::Editor).await;
    add_user(&server, "vi", Role::Viewer).await;
    let mut callers: Vec<(String, Option<Role>, Auth)> =
        vec![("anonymous".into(), None, Auth::Anonymous)];
    for (user, role) in [
        ("vi", Role::Viewer),
        ("ed", Role::Editor),
        ("ada", Role::Admin),
    ] {
        callers.push((
            format!("{user} token"),
            Some(role),
            Auth::Bearer(token(&server, user, role, None).await),
        ));
        callers.push((
            format!("{user} session"),
            Some(role),
            session(&server, user).await,
        ));
    }
    let admin = callers[5].2.clone();
    let (status, api) = get(&server, "/api", &admin).await;
    assert_eq!(status, 200);
    let paths = api["paths"].as_object().expect("paths");
    let mut cells = 0;
    let mut by_need = std::collections::BTreeMap::<String, usize>::new();
    let mut wrong = Vec::new();
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            if path == "/auth/logout" {
                continue; // ends the sessions the other cells use; checked on its own below
            }
            let need = operation["x-geoconsole-need"].as_str().unwrap_or("missing");
            *by_need.entry(need.to_string()).or_default() += 1;
            let needed = need_rank(need);
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = (method != Method::GET).then(|| json!({}));
            for (name, role, auth) in &callers {
                let (status, answer) =
                    call(&server, method.clone(), &fill(path), auth, body.clone()).await;
                cells += 1;
                let allowed = rank(*role) >= needed;
                let ok = if allowed {
                    status != 401 && status != 403
                } else if role.is_none() {
                    status == 401
                } else {
                    status == 403
                };
                if !ok || status >= 500 {
                    wrong.push(format!(
                        "{method} {path} as {name} (needs {need}): {status} {answer}"
                    ));
                }
            }
        }
    }
    eprintln!(
        "role × route matrix: {} operations × {} callers = {cells} cells; needs {by_need:?}; unexpected: {}",
        cells / callers.len(),
        callers.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "unexpected cells:\n{}", wrong.join("\n"));
    assert!(
        cells > 60 * 7,
        "the matrix covers every route ({cells} cells)"
    );

    // A logged-in browser's write without the CSRF token is refused whatever the role (case 39).
    let Auth::Session { cookie, .. } = admin_session(&callers) else {
        unreachable!()
    };
    let bare = Auth::Session { cookie, csrf: None };
    let (status, answer) = call(&server, Method::POST, "/rules", &bare, Some(json!({}))).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["description"]
            .as_str()
            .unwrap_or("")
            .contains("CSRF"),
        "{answer}"
    );
}

fn admin_session(callers: &[(String, Option<Role>, Auth)]) -> Auth {
    callers
        .iter()
        .find(|(name, ..)| name == "ada session")
        .map(|(_, _, a)| a.clone())
        .expect("admin session")
}

/// Per-dataset grants: a viewer limited to `sites` sees only `sites` in lists, documents and tiles,
/// gets "not found" for the rest, has analytics defaults narrowed, and is kept from routes that span
/// every dataset.
#[tokio::test]
async fn dataset_limits_hide_other_datasets_everywhere() {
    let server = serve_demo().await;
    add_user(&server, "ada", Role::Admin).await;
    add_user(&server, "lim", Role::Editor).await;
    let accounts = server.console.accounts();
    accounts
        .set_datasets(
            "lim",
            Some(
                [
                    ("sites".to_string(), Grant::Read),
                    ("site_incidents".to_string(), Grant::Write),
                ]
                .into(),
            ),
        )
        .await
        .expect("limit");
    let lim = Auth::Bearer(token(&server, "lim", Role::Editor, None).await);
    let (status, list) = get(&server, "/collections", &lim).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"sites") && ids.contains(&"site_incidents"));
    let (_, api) = get(&server, "/api", &lim).await;
    assert!(
        api["paths"].get("/collections/earthquakes/items").is_none(),
        "the API document names only readable collections"
    );
    for path in [
        "/collections/earthquakes",
        "/collections/earthquakes/items",
        "/collections/earthquakes/tiles/WebMercatorQuad/0/0/0",
        "/tiles/sites,earthquakes/0/0/0",
        "/tiles/earthquakes",
        "/analytics/h3?collection=earthquakes&resolution=3",
        "/analytics/exposure?hazards=earthquakes",
    ] {
        let (status, answer) = get(&server, path, &lim).await;
        assert_eq!(status, 404, "{path}: {answer}");
    }
    let (status, items) = get(&server, "/collections/sites/items?limit=1", &lim).await;
    assert_eq!(status, 200, "{items}");
    // Exposure without naming hazards covers only the events datasets the account may read.
    let (status, exposure) = get(&server, "/analytics/exposure", &lim).await;
    assert_eq!(status, 200, "{exposure}");
    let text = exposure.to_string();
    assert!(
        !text.contains("earthquakes"),
        "nothing from an unreadable dataset: {text}"
    );
    for path in ["/alerts", "/rules", "/feeds", "/analytics/risk", "/metrics"] {
        let (status, answer) = get(&server, path, &lim).await;
        assert_eq!(status, 403, "{path}: {answer}");
    }
    // Writes: an import into a read-only dataset is refused before anything is read.
    let upload = server
        .send(
            server
                .client()
                .post(server.at("/imports?name=more.geojson"))
                .bearer_auth(match &lim { Auth::Bearer(t) => t.clone(), _ => unreachable!() })
                .header("content-type", "application/octet-stream")
                .body(r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"kind":"x"}}]}"#),
        )
        .await;
    assert_eq!(upload.status, 201, "{}", upload.text());
    let id = upload.json()["id"].as_str().expect("upload id").to_string();
    let (status, answer) = call(
        &server,
        Method::POST,
        &format!("/imports/{id}"),
        &lim,
        Some(json!({"dataset": "sites", "mode": "append"})),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    // Areas placing a CAP file's alerts are read: a hidden one is refused as a missing one is.
    let mut refusals = Vec::new();
    for areas in ["earthquakes", "no_such_areas"] {
        let (status, answer) = call(
            &server,
            Method::POST,
            &format!("/imports/{id}"),
            &lim,
            Some(json!({"dataset": "site_incidents", "mode": "append",
                "areas": [{"dataset": areas, "code_field": "code"}]})),
        )
        .await;
        assert_eq!(status, 400, "{areas}: {answer}");
        refusals.push(answer.to_string().replace(areas, "NAME"));
    }
    assert_eq!(
        refusals[0], refusals[1],
        "hidden and missing areas answer alike"
    );
    // A token narrows further: a token for `site_incidents` only cannot read `sites`.
    let narrow =
        Auth::Bearer(token(&server, "lim", Role::Viewer, Some(vec!["site_incidents"])).await);
    assert_eq!(get(&server, "/collections/sites", &narrow).await.0, 404);
    assert_eq!(
        get(&server, "/collections/site_incidents", &narrow).await.0,
        200
    );
}

/// Cases 38 and 39: a new session id at every login (the one sent before is ended), logout ends the
/// session on the server, the cookie is HttpOnly and SameSite=Strict, a role change takes effect on the
/// next request, and disabling ends sessions and tokens.
#[tokio::test]
async fn sessions_case38_39_fixation_logout_cookie_flags_and_role_changes() {
    let server = serve(temp_gpkg()).await;
    add_user(&server, "ann", Role::Editor).await;
    add_user(&server, "root", Role::Admin).await;
    let (status, first, body) = login(&server, "ann", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let first = first.expect("cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(first.contains(flag), "{first}");
    }
    assert!(
        !first.contains("Secure"),
        "no TLS here, so no Secure flag: {first}"
    );
    let old = cookie_value(&first);
    // Log in again carrying the old cookie: a new id, and the old one no longer works.
    let response = server
        .client()
        .post(server.at("/auth/login"))
        .header("cookie", format!("gc_session={old}"))
        .json(&json!({"user": "ann", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let new = cookie_value(response.headers()["set-cookie"].to_str().expect("cookie"));
    let csrf = response.json::<Value>().await.expect("json")["csrf"]
        .as_str()
        .expect("csrf")
        .to_string();
    assert_ne!(new, old);
    let stale = Auth::Session {
        cookie: old,
        csrf: None,
    };
    assert_eq!(get(&server, "/collections", &stale).await.0, 401);
    let live = Auth::Session {
        cookie: new.clone(),
        csrf: Some(csrf.clone()),
    };
    let (status, me) = get(&server, "/auth/session", &live).await;
    assert_eq!(
        (status, me["user"].as_str(), me["role"].as_str()),
        (200, Some("ann"), Some("editor"))
    );
    assert_eq!(me["csrf"], csrf.as_str());
    // Role downgrade: the next request is judged by the new role.
    let root = Auth::Bearer(token(&server, "root", Role::Admin, None).await);
    let (status, _) = call(
        &server,
        Method::PUT,
        "/users/ann",
        &root,
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&server, Method::POST, "/rules", &live, Some(json!({}))).await;
    assert_eq!(status, 403, "a viewer may not write rules any more");
    // Logout is a write like any other: without the CSRF token (another site's page) it is refused and
    // the session lives on (found by an outside tester).
    let forged = server
        .client()
        .post(server.at("/auth/logout"))
        .header("cookie", format!("gc_session={new}"))
        .send()
        .await
        .expect("logout");
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(get(&server, "/collections", &live).await.0, 200);
    // Logout ends it server-side: a copy of the cookie is worthless.
    let response = server
        .client()
        .post(server.at("/auth/logout"))
        .header("cookie", format!("gc_session={new}"))
        .header("x-csrf-token", csrf.as_str())
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status().as_u16(), 204);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .contains("Max-Age=0")
    );
    assert_eq!(get(&server, "/collections", &live).await.0, 401);
    // Disabling ends sessions and stops tokens.
    let ann_token = Auth::Bearer(token(&server, "ann", Role::Viewer, None).await);
    let again = session(&server, "ann").await;
    assert_eq!(get(&server, "/collections", &ann_token).await.0, 200);
    let (status, _) = call(
        &server,
        Method::PUT,
        "/users/ann",
        &root,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(get(&server, "/collections", &again).await.0, 401);
    assert_eq!(get(&server, "/collections", &ann_token).await.0, 401);
    assert_eq!(
        login(&server, "ann", PASSWORD).await.0,
        401,
        "a disabled account cannot log in"
    );
    // The last admin cannot be demoted or disabled (nobody could administer the console any more).
    let (status, answer) = call(
        &server,
        Method::PUT,
        "/users/root",
        &root,
        Some(json!({"role": "editor"})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
}

/// Case 40: failed logins are throttled per account and per address, and a wrong password and an
/// unknown account get the same answer in about the same time.
#[tokio::test]
async fn login_throttling_case40_same_answer_for_unknown_and_wrong() {
    let server = serve(temp_gpkg()).await;
    add_user(&server, "ann", Role::Viewer).await;
    let timed = |user: &'static str, password: &'static str| {
        let server = &server;
        async move {
            let started = Instant::now();
            let (status, _, body) = login(server, user, password).await;
            (status, body, started.elapsed())
        }
    };
    let (s1, wrong, t_wrong) = timed("ann", "not the password at all").await;
    let (s2, unknown, t_unknown) = timed("nobody-here", "not the password at all").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(
        wrong["description"], unknown["description"],
        "no account enumeration by message"
    );
    let (fast, slow) = if t_wrong < t_unknown {
        (t_wrong, t_unknown)
    } else {
        (t_unknown, t_wrong)
    };
    assert!(
        slow < fast * 4 + Duration::from_millis(50),
        "no account enumeration by timing: {t_wrong:?} vs {t_unknown:?}"
    );
    for _ in 0..4 {
        assert_eq!(login(&server, "ann", "still not the password").await.0, 401);
    }
    // Five failures: the right password is refused too until the window passes.
    let (status, _, body) = login(&server, "ann", PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["description"]
            .as_str()
            .unwrap_or("")
            .contains("try again"),
        "{body}"
    );
    // Spraying many accounts from one address is held as well.
    for i in 0..15 {
        login(&server, &format!("spray{i}"), "guess guess guess").await;
    }
    assert_eq!(
        login(&server, "someone-new", "guess guess guess").await.0,
        429
    );
}

/// Case 41: tokens in URLs are refused, revoked and expired tokens stop working, a token never does
/// more than its scope, secrets are stored only as digests and shown once; no account exists at first
/// and a console without one refuses to listen beyond loopback.
#[tokio::test]
async fn tokens_case41_urls_revocation_expiry_scope_and_storage() {
    let store = temp_gpkg();
    let path = store.path().to_path_buf();
    let server = serve(store).await;
    let (status, me) = get(&server, "/auth/session", &Auth::Anonymous).await;
    assert_eq!(status, 200);
    assert_eq!(me["accounts"], false, "no default account: {me}");
    assert_eq!(
        me["authenticated"], true,
        "a loopback console without accounts serves its local user"
    );
    add_user(&server, "ann", Role::Editor).await;
    let (_, me) = get(&server, "/auth/session", &Auth::Anonymous).await;
    assert_eq!(
        me["authenticated"], false,
        "with an account, nobody is let in unasked: {me}"
    );
    assert_eq!(get(&server, "/collections", &Auth::Anonymous).await.0, 401);

    let read = token(&server, "ann", Role::Viewer, None).await;
    let bearer = Auth::Bearer(read.clone());
    assert_eq!(get(&server, "/collections", &bearer).await.0, 200);
    let (status, answer) = get(
        &server,
        &format!("/collections?access_token={read}"),
        &Auth::Anonymous,
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["description"].as_str().unwrap_or("").contains("URL"),
        "{answer}"
    );
    let (status, _) = call(&server, Method::POST, "/rules", &bearer, Some(json!({}))).await;
    assert_eq!(
        status, 403,
        "a read token cannot write although its account may"
    );
    let bad = Auth::Bearer(format!("{}x", &read[..read.len() - 1]));
    assert_eq!(get(&server, "/collections", &bad).await.0, 401);
    assert_eq!(
        get(&server, "/collections", &Auth::Bearer("garbage".into()))
            .await
            .0,
        401
    );

    // Made over HTTP by a logged-in person: the secret is in the answer once; listing never shows it.
    let person = session(&server, "ann").await;
    let (status, made) = call(
        &server,
        Method::POST,
        "/auth/tokens",
        &person,
        Some(json!({"label": "grafana", "scope": "read", "expires_in_days": 30})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let secret = made["token"].as_str().expect("secret").to_string();
    let (status, answer) = call(
        &server,
        Method::POST,
        "/auth/tokens",
        &bearer,
        Some(json!({"label": "more", "scope": "read"})),
    )
    .await;
    assert_eq!(status, 403, "a token cannot make tokens: {answer}");
    let (_, listed) = get(&server, "/auth/tokens", &bearer).await;
    assert!(!listed.to_string().contains(&secret[4..]), "{listed}");
    let file = std::fs::read(&path).expect("store file");
    let wal = std::fs::read(path.with_extension("gpkg-wal")).unwrap_or_default();
    for bytes in [&file, &wal] {
        assert!(
            !bytes
                .windows(20)
                .any(|w| w == &secret.as_bytes()[secret.len() - 20..]),
            "the secret is not in the store"
        );
    }
    // Revoked.
    let id = made["id"].as_str().expect("id");
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/auth/tokens/{id}"),
        &bearer,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&server, "/collections", &Auth::Bearer(secret)).await.0,
        401
    );
    // Expired.
    let accounts = server.console.accounts();
    let soon = accounts
        .create_token(TokenRequest {
            user: "ann".into(),
            label: "short".into(),
            scope: Role::Viewer,
            datasets: None,
            expires: Some(Utc::now() + chrono::Duration::milliseconds(300)),
        })
        .await
        .expect("token");
    assert_eq!(
        get(&server, "/collections", &Auth::Bearer(soon.secret.clone()))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, answer) = get(&server, "/collections", &Auth::Bearer(soon.secret)).await;
    assert_eq!(status, 401);
    assert!(
        answer["description"]
            .as_str()
            .unwrap_or("")
            .contains("expired"),
        "{answer}"
    );

    // Without accounts, a console will not listen beyond loopback.
    let bare = temp_gpkg();
    let options = geoconsole_server::ServerOptions {
        bind: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        ..Default::default()
    };
    let refused = geoconsole_server::start(bare.console(), options).await;
    let message = refused.err().expect("refused").to_string();
    assert!(
        message.contains("no accounts") && message.contains("users add"),
        "{message}"
    );
}

/// Case 37: another account's token or upload is "not found" to a non-admin.
#[tokio::test]
async fn other_accounts_objects_case37_are_not_found() {
    let server = serve(temp_gpkg()).await;
    add_user(&server, "ann", Role::Editor).await;
    add_user(&server, "bob", Role::Editor).await;
    let ann = Auth::Bearer(token(&server, "ann", Role::Editor, None).await);
    let bob = Auth::Bearer(token(&server, "bob", Role::Editor, None).await);
    let (_, made) = call(
        &server,
        Method::POST,
        "/auth/tokens",
        &session(&server, "ann").await,
        Some(json!({"label": "x", "scope": "read"})),
    )
    .await;
    let id = made["id"].as_str().expect("id");
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/auth/tokens/{id}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(&server, "/auth/tokens?user=ann", &bob).await;
    assert_eq!(status, 403);
    let Auth::Bearer(ann_token) = &ann else {
        unreachable!()
    };
    let upload = server
        .send(
            server
                .client()
                .post(server.at("/imports?name=a.csv"))
                .bearer_auth(ann_token)
                .header("content-type", "application/octet-stream")
                .body("lat,lon,kind\n1,2,x\n"),
        )
        .await;
    assert_eq!(upload.status, 201, "{}", upload.text());
    let upload_id = upload.json()["id"].as_str().expect("id").to_string();
    assert_eq!(
        get(&server, &format!("/imports/{upload_id}"), &ann).await.0,
        200
    );
    assert_eq!(
        get(&server, &format!("/imports/{upload_id}"), &bob).await.0,
        404
    );
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/imports/{upload_id}"),
        &bob,
        Some(json!({"dataset": "stolen"})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        call(
            &server,
            Method::DELETE,
            &format!("/imports/{upload_id}"),
            &bob,
            None
        )
        .await
        .0,
        404
    );
    // Exports are the starter's: another account cannot follow, fetch or delete them.
    let features = vec![geoconsole_model::Feature {
        id: None,
        geometry: Some(geoconsole_model::geo_types::Point::new(2.0, 48.0).into()),
        time: None,
        properties: serde_json::Map::new(),
    }];
    server
        .console
        .import_features(
            "test",
            features.into_iter(),
            geoconsole_app::ImportOptions {
                dataset: Some("depots".parse().expect("id")),
                ..geoconsole_app::ImportOptions::default()
            },
        )
        .await
        .expect("import");
    let (status, job) = call(
        &server,
        Method::POST,
        "/exports",
        &ann,
        Some(json!({"dataset": "depots", "format": "csv"})),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let export_id = job["id"].as_str().expect("id");
    assert_eq!(
        get(&server, &format!("/exports/{export_id}"), &ann).await.0,
        200
    );
    for path in [
        format!("/exports/{export_id}"),
        format!("/exports/{export_id}/download"),
    ] {
        assert_eq!(get(&server, &path, &bob).await.0, 404, "{path}");
    }
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/exports/{export_id}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// The audit log records logins (and failures, with the name tried), every write with who and from
/// where, and refusals; only admins read it, nothing changes it (no route, and triggers in the file).
#[tokio::test]
async fn audit_log_records_who_what_where_and_cannot_be_changed() {
    let store = temp_gpkg();
    let path = store.path().to_path_buf();
    let server = serve(store).await;
    add_user(&server, "root", Role::Admin).await;
    add_user(&server, "vi", Role::Viewer).await;
    assert_eq!(login(&server, "root", "wrong wrong wrong").await.0, 401);
    let root = session(&server, "root").await;
    let vi = Auth::Bearer(token(&server, "vi", Role::Viewer, None).await);
    let rule = json!({"id": "near", "when": {"kind": "threshold", "dataset": "nothing", "where": "mag > 5"}});
    call(&server, Method::POST, "/rules", &root, Some(rule)).await;
    assert_eq!(
        call(&server, Method::POST, "/rules", &vi, Some(json!({})))
            .await
            .0,
        403
    );
    assert_eq!(get(&server, "/audit", &vi).await.0, 403);
    let (status, log) = get(&server, "/audit?limit=50", &root).await;
    assert_eq!(status, 200, "{log}");
    let entries = log["entries"].as_array().expect("entries");
    let find = |action: &str, outcome: &str| {
        entries
            .iter()
            .find(|e| {
                e["action"] == action && e["outcome"].as_str().unwrap_or("").starts_with(outcome)
            })
            .cloned()
    };
    let failed = find("login", "refused").expect("failed login");
    assert_eq!(failed["target"], "root");
    assert_eq!(failed["actor"], "anonymous");
    assert_eq!(failed["source"], "127.0.0.1");
    assert_eq!(find("login", "ok").expect("login")["actor"], "user:root");
    let write = find("POST /rules", "").expect("rule write");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "POST /rules" && e["actor"] == "user:root"),
        "{log}"
    );
    assert!(write["at"].is_string());
    let refused = entries
        .iter()
        .find(|e| e["action"] == "POST /rules" && e["outcome"] == "refused 403")
        .expect("refusal");
    assert!(
        refused["actor"]
            .as_str()
            .unwrap_or("")
            .starts_with("token:"),
        "{refused}"
    );
    let (status, filtered) = get(&server, "/audit?action=login&actor=user:root", &root).await;
    assert_eq!(status, 200);
    assert_eq!(
        filtered["entries"].as_array().map(Vec::len),
        Some(1),
        "{filtered}"
    );
    // No route edits it.
    for method in [Method::PUT, Method::DELETE, Method::POST] {
        let (status, _) = call(&server, method.clone(), "/audit", &root, Some(json!({}))).await;
        assert_eq!(status, 405, "{method} /audit");
    }
    // And the file refuses it too.
    let conn = rusqlite::Connection::open(&path).expect("open");
    let update = conn.execute("UPDATE gc_audit SET actor = 'someone else'", []);
    assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
    assert!(conn.execute("DELETE FROM gc_audit", []).is_err());
}
