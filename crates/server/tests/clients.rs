//! Clients written by others against a real server on 127.0.0.1: GDAL's OAPIF, GeoJSON and MVT drivers,
//! OWSLib, and schemathesis fuzzing the OpenAPI document. `scripts/test.sh` installs them (gdal-bin from
//! Debian, OWSLib and schemathesis from PyPI); a missing tool fails the test rather than skipping it.

use std::path::Path;
use std::process::Command;

use geoconsole_access::Role;
use geoconsole_testkit::{FeedOrigin, Serve, TestServer, serve_demo};
use serde_json::{Value, json};

/// Runs a program to completion off the async workers (the server answers it meanwhile).
async fn run(program: &str, args: Vec<String>) -> String {
    run_with(program, args, Vec::new()).await
}

/// [`run`] with these environment variables set for the program.
async fn run_with(program: &str, args: Vec<String>, envs: Vec<(&'static str, String)>) -> String {
    let shown = format!("{program} {}", args.join(" "));
    let program = program.to_string();
    let output =
        tokio::task::spawn_blocking(move || Command::new(&program).args(&args).envs(envs).output())
            .await
            .expect("process task")
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e} (scripts/test.sh installs it)"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{shown} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn features_in(geojson: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(geojson).expect("ogr2ogr wrote a file");
    let value: Value = serde_json::from_str(&text).expect("GeoJSON");
    value["features"].as_array().expect("features").clone()
}

async fn matched(server: &TestServer, query: &str) -> u64 {
    let page = server
        .get(&format!(
            "/collections/earthquakes/items?limit=10000&{query}"
        ))
        .await
        .json();
    page["numberReturned"].as_u64().expect("numberReturned")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_reads_every_collection_through_oapif() {
    let server = serve_demo().await;
    let url = format!("OAPIF:{}/", server.url);
    let listing = run("ogrinfo", vec!["-ro".into(), "-so".into(), url.clone()]).await;
    let collections = server.get("/collections").await.json();
    for collection in collections["collections"].as_array().unwrap() {
        let id = collection["id"].as_str().unwrap();
        assert!(
            listing.contains(&format!(": {id} ")),
            "GDAL lists {id}:\n{listing}"
        );
        let expected = collection["featureCount"].as_u64().unwrap();
        let full = run(
            "ogrinfo",
            vec![
                "-ro".into(),
                "-al".into(),
                "-oo".into(),
                "PAGE_SIZE=1000".into(),
                url.clone(),
                id.into(),
            ],
        )
        .await;
        let read = full
            .lines()
            .filter(|l| l.starts_with("OGRFeature("))
            .count() as u64;
        assert_eq!(read, expected, "GDAL reads every feature of {id}");
        assert!(
            full.contains(&format!("Feature Count: {expected}")),
            "{id}: GDAL takes the count from numberMatched"
        );
    }
    let quakes = run(
        "ogrinfo",
        vec![
            "-ro".into(),
            "-so".into(),
            url.clone(),
            "earthquakes".into(),
        ],
    )
    .await;
    for field in [
        "mag: Real",
        "place: String",
        "tsunami: Integer",
        "magType: String",
    ] {
        assert!(quakes.contains(field), "GDAL sees {field}:\n{quakes}");
    }
    let one = run(
        "ogrinfo",
        vec![
            "-ro".into(),
            "-al".into(),
            "-oo".into(),
            "PAGE_SIZE=1000".into(),
            url,
            "earthquakes".into(),
            "-where".into(),
            "code = '6000k2kk'".into(),
        ],
    )
    .await;
    assert!(
        one.contains("place (String) = 109 km SW of Severo-Kuril’sk, Russia"),
        "{one}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ogr2ogr_copies_filtered_collections() {
    let server = serve_demo().await;
    let out = server.store.dir().join("mww.geojson");
    // GDAL 3.6 sends equality on queryable properties to the server (learnt from /api) and evaluates the
    // rest itself.
    run(
        "ogr2ogr",
        vec![
            "-f".into(),
            "GeoJSON".into(),
            out.display().to_string(),
            "-oo".into(),
            "PAGE_SIZE=1000".into(),
            format!("OAPIF:{}/", server.url),
            "earthquakes".into(),
            "-where".into(),
            "magType = 'mww' AND mag > 5".into(),
        ],
    )
    .await;
    let copied = features_in(&out);
    assert_eq!(
        copied.len() as u64,
        matched(&server, "magType=mww&filter=mag%20%3E%205").await
    );
    assert!(!copied.is_empty());
    // A CQL2 filter in the items URL, read by GDAL's GeoJSON driver (GDAL 3.6's OAPIF driver predates CQL2).
    let cql = "mag%20%3E%3D%204.5%20AND%20S_INTERSECTS(geometry%2CBBOX(120%2C20%2C150%2C46))";
    let out = server.store.dir().join("japan.gpkg");
    run(
        "ogr2ogr",
        vec![
            "-f".into(),
            "GPKG".into(),
            out.display().to_string(),
            format!(
                "{}/collections/earthquakes/items?limit=10000&filter={cql}",
                server.url
            ),
            "-nln".into(),
            "japan".into(),
        ],
    )
    .await;
    let info = run(
        "ogrinfo",
        vec![
            "-ro".into(),
            "-so".into(),
            out.display().to_string(),
            "japan".into(),
        ],
    )
    .await;
    let expected = matched(&server, &format!("filter={cql}")).await;
    assert!(expected > 0);
    assert!(
        info.contains(&format!("Feature Count: {expected}")),
        "{info}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_decodes_our_vector_tiles() {
    let server = serve_demo().await;
    let tile = server
        .get("/tiles/earthquakes,countries,storm_tracks/1/1/0.mvt")
        .await;
    assert_eq!(tile.status, 200);
    let path = server.store.dir().join("1-1-0.mvt");
    std::fs::write(&path, &tile.body).unwrap();
    let info = run(
        "ogrinfo",
        vec![
            "-ro".into(),
            "-al".into(),
            "-oo".into(),
            "Z=1".into(),
            "-oo".into(),
            "X=1".into(),
            "-oo".into(),
            "Y=0".into(),
            format!("MVT:{}", path.display()),
        ],
    )
    .await;
    for layer in ["Layer name: earthquakes", "Layer name: countries"] {
        assert!(
            info.contains(layer),
            "{layer} in\n{}",
            &info[..info.len().min(3000)]
        );
    }
    assert!(
        info.contains("mag (Real)"),
        "properties survive in the tile"
    );
    // GDAL georeferences the tile: every quake it reads lies in the north-east quadrant (tile 1/1/0).
    for line in info
        .lines()
        .filter(|l| l.trim_start().starts_with("POINT ("))
    {
        let numbers: Vec<f64> = line
            .trim()
            .trim_start_matches("POINT (")
            .trim_end_matches(')')
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(
            numbers[0] >= -0.5e6 && numbers[1] >= -0.5e6,
            "{line} is in web mercator's NE quadrant"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owslib_pages_through_a_collection() {
    let server = serve_demo().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/owslib_pages.py");
    let out = run(
        "python3",
        vec![
            script.display().to_string(),
            format!("{}/", server.url),
            "site_incidents".into(),
            "5000".into(),
        ],
    )
    .await;
    let report: Value = serde_json::from_str(out.trim()).expect("the script prints JSON");
    assert_eq!(report["features"], 25_716);
    assert_eq!(report["unique"], 25_716);
    assert_eq!(report["numberMatched"], 25_716);
    assert_eq!(report["pages"], 6);
    assert!(
        report["collections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "earthquakes")
    );
    server.shutdown().await;
}

/// Writes this run does not require a 2xx from, each with the reason.
const WRITES_WITHOUT_SUCCESS: &[(&str, &str)] = &[(
    "POST /alerts/deliveries/{deliveryId}/retry",
    "only a dead webhook delivery can be retried, and the demo has no webhooks; tests/alerts.rs retries one",
)];

/// A feed the origin serves, so the feed operations can add, preview and poll one.
const FEED: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"q1","geometry":{"type":"Point","coordinates":[142.3,38.1]},"properties":{"mag":5.1,"time":"2023-04-01T00:00:00Z"}}]}"#;

/// Schemathesis fuzzes every operation of `/api` as an admin (a session, so writes are authorised) and
/// finds no server error and no answer the document does not describe. It must also get somewhere: every
/// write gets at least one 2xx, from bodies generated by the document's schemas, from its examples, or by
/// following its links (the stateful phase: an upload staged, then imported; a feed added, then polled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_every_write_succeeds() {
    let server = serve_demo().await;
    let accounts = server.console.accounts();
    let admin = "fuzz-admin";
    accounts
        .add_user(admin, Role::Admin, "correct horse battery staple")
        .await
        .expect("admin");
    // A session rather than a token: tokens may not make tokens, so POST /auth/tokens needs one.
    let login = server
        .client()
        .post(server.at("/auth/login"))
        .json(&json!({"user": admin, "password": "correct horse battery staple"}))
        .send()
        .await
        .expect("login");
    let session = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .and_then(|kv| kv.strip_prefix("gc_session="))
        .expect("session cookie")
        .to_string();
    let csrf = login.json::<Value>().await.expect("login answer")["csrf"]
        .as_str()
        .expect("csrf")
        .to_string();
    let origin = FeedOrigin::start().await;
    origin.set(
        "/quakes.geojson",
        Serve::body("application/geo+json", FEED, None),
    );

    // The document as the admin sees it, with a feed definition whose URL this test's origin serves (the
    // server's own document cannot know of it; the network guard refuses what does not resolve).
    let mut api: Value = server
        .client()
        .get(server.at("/api"))
        .header("cookie", format!("gc_session={session}"))
        .send()
        .await
        .expect("/api")
        .json()
        .await
        .expect("json");
    // The operations on one upload or feed act on ones made here first: the document's links lead there
    // too, but schemathesis 4.32.5's stateful phase ends after about 16 scenarios whatever --max-examples
    // says, and does not walk every chain in every run.
    let write = |method: reqwest::Method, path: &str| {
        server
            .client()
            .request(method, server.at(path))
            .header("cookie", format!("gc_session={session}"))
            .header("x-csrf-token", csrf.clone())
    };
    // Deletions act on their own feed and upload, so they cannot take away what the others act on,
    // whatever order the operations run in.
    for name in ["fuzz_fixed", "fuzz_doomed"] {
        let feed = write(reqwest::Method::POST, "/feeds")
            .json(
                &json!({"name": name, "url": origin.at("/quakes.geojson"), "format": "geojson",
                "dataset": name, "time": "time", "enabled": false}),
            )
            .send()
            .await
            .expect("feed");
        assert_eq!(
            feed.status(),
            201,
            "{}",
            feed.text().await.unwrap_or_default()
        );
    }
    let mut uploads = Vec::new();
    for _ in 0..2 {
        let staged = write(reqwest::Method::POST, "/imports?name=fixed.geojson")
            .header("content-type", "application/octet-stream")
            .body(FEED)
            .send()
            .await
            .expect("upload");
        assert_eq!(staged.status(), 201);
        uploads.push(
            staged.json::<Value>().await.expect("upload answer")["id"]
                .as_str()
                .expect("upload id")
                .to_string(),
        );
    }
    for item in api["paths"].as_object_mut().expect("paths").values_mut() {
        for (method, operation) in item.as_object_mut().expect("path item") {
            let doomed = method == "delete";
            let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for parameter in parameters {
                // Catalog entries that exist and need no key, so adding one can succeed (once each).
                if parameter["name"] == "entryName" {
                    parameter["schema"] = json!({"type": "string", "enum": [
                        "us-states", "us-counties", "natural-earth-countries", "chicago-crimes",
                        "usgs-earthquakes-day", "gdacs-alerts",
                    ]});
                    continue;
                }
                let made = match (parameter["name"].as_str(), doomed) {
                    (Some("feedName"), false) => "fuzz_fixed",
                    (Some("feedName"), true) => "fuzz_doomed",
                    (Some("uploadId"), false) => uploads[0].as_str(),
                    (Some("uploadId"), true) => uploads[1].as_str(),
                    _ => continue,
                };
                parameter["schema"] = json!({"type": "string", "enum": [made]});
            }
        }
    }
    // A login that can succeed, tried in the examples phase before the fuzzed logins' failures reach the
    // per-address throttle (which then refuses every attempt, right or wrong, for the window).
    accounts
        .add_user("fuzz-login", Role::Viewer, "another correct horse staple")
        .await
        .expect("login account");
    api["paths"]["/auth/login"]["post"]["requestBody"]["content"]["application/json"]["example"] =
        json!({"user": "fuzz-login", "password": "another correct horse staple"});
    // Redefining a feed names it in the body as in the path.
    api["paths"]["/feeds/{feedName}"]["put"]["requestBody"]["content"]["application/json"]["example"] = json!({
        "name": "fuzz_fixed",
        "url": origin.at("/quakes.geojson"),
        "format": "geojson",
        "dataset": "fuzz_fixed",
        "time": "time",
    });
    api["components"]["schemas"]["FeedSpec"]["example"] = json!({
        "name": "fuzz_feed",
        "url": origin.at("/quakes.geojson"),
        "format": "geojson",
        "dataset": "fuzz_feed",
        "time": "time",
    });
    let dir = server.store.dir();
    let document = dir.join("api-fuzzed.json");
    std::fs::write(&document, serde_json::to_vec(&api).expect("json")).expect("write");
    let config = dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        // Streams send their first event at once; reading one is enough, rather than waiting for the
        // timeout. The stateful phase follows only the document's own links (inferred ones would spread
        // its scenarios over 99 guesses and reach few writes), in chains of up to 10 calls.
        "max-stream-events = 1\n\
         [phases.stateful]\nmax-steps = 10\n\
         [phases.stateful.inference]\nalgorithms = []\n",
    )
    .expect("write");
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    // Two runs: examples and fuzzing, 25 cases an operation; then the stateful phase on its own, where
    // more scenarios are cheap (a chain is a few calls) and are what reach the operations that need an
    // upload, export or feed made first.
    let mut table = std::collections::BTreeMap::new();
    let mut out = String::new();
    for (phases, examples) in [("examples,fuzzing", "25"), ("stateful", "100")] {
        let report = dir.join(format!("schemathesis-{phases}.ndjson"));
        let args: Vec<String> = vec![
            "--config-file".into(),
            config.display().to_string(),
            "run".into(),
            document.display().to_string(),
            "--url".into(),
            server.url.clone(),
            "--checks".into(),
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance".into(),
            "--max-examples".into(),
            examples.into(),
            "--phases".into(),
            phases.into(),
            "--seed".into(),
            "1".into(),
            "--no-color".into(),
            // The server's own limit: an unoptimised build computing the demo's whole exposure on a busy
            // two-core machine took 10 s, schemathesis's default, and was reported as a network error.
            "--request-timeout".into(),
            "30".into(),
            "--report".into(),
            "ndjson".into(),
            "--report-ndjson-path".into(),
            report.display().to_string(),
        ];
        // The hooks add the session to every request, and keep the run from ending it.
        let stdout = run_with(
            "schemathesis",
            args,
            vec![
                ("PYTHONPATH", hooks.display().to_string()),
                ("SCHEMATHESIS_HOOKS", "schemathesis_hooks".to_string()),
                ("GEOCONSOLE_FUZZ_ACCOUNT", admin.to_string()),
                ("GEOCONSOLE_FUZZ_SESSION", session.clone()),
                ("GEOCONSOLE_FUZZ_CSRF", csrf.clone()),
            ],
        )
        .await;
        for (operation, (ok, all)) in
            successes(&std::fs::read_to_string(&report).expect("the ndjson report"))
        {
            let entry: &mut (u64, u64) = table.entry(operation).or_default();
            entry.0 += ok;
            entry.1 += all;
        }
        out.push_str(&stdout);
    }
    let mut shown_table = String::from("operation: 2xx / requests\n");
    for (operation, (ok, all)) in &table {
        shown_table.push_str(&format!("{operation:<62} {ok:>4} / {all:<4}\n"));
    }
    println!("{shown_table}");

    let mut writes = 0;
    for (path, item) in api["paths"].as_object().expect("paths") {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            writes += 1;
            let operation = format!("{} {path}", method.to_uppercase());
            let ok = table.get(&operation).map_or(0, |(ok, _)| *ok);
            match WRITES_WITHOUT_SUCCESS.iter().find(|(o, _)| *o == operation) {
                Some(_) => {}
                None => assert!(ok > 0, "{operation} never succeeded:\n{shown_table}\n{out}"),
            }
        }
    }
    assert!(writes > 20, "the document lists the writes");
    for (operation, why) in WRITES_WITHOUT_SUCCESS {
        println!("{operation}: not required to succeed: {why}");
    }
    server.shutdown().await;
}

/// Per operation ("POST /imports"), the responses in 2xx and all responses, from schemathesis's NDJSON
/// report: each finished scenario records its cases (method and path template) and the interaction each
/// case had.
fn successes(ndjson: &str) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut table = std::collections::BTreeMap::<String, (u64, u64)>::new();
    for line in ndjson.lines() {
        let event: Value = serde_json::from_str(line).expect("one JSON event a line");
        let recorder = &event["ScenarioFinished"]["recorder"];
        let Some(interactions) = recorder["interactions"].as_object() else {
            continue;
        };
        for (case_id, interaction) in interactions {
            let case = &recorder["cases"][case_id]["value"];
            let operation = format!(
                "{} {}",
                case["method"].as_str().unwrap_or("?").to_uppercase(),
                case["path"].as_str().unwrap_or("?")
            );
            let entry = table.entry(operation).or_default();
            entry.1 += 1;
            if interaction["response"]["status_code"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
            {
                entry.0 += 1;
            }
        }
    }
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_reads_the_html_pages() {
    let server = serve_demo().await;
    let profile = server.store.dir().join("chromium-profile");
    let dom = |url: String| {
        vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            format!("--user-data-dir={}", profile.display()),
            "--dump-dom".into(),
            url,
        ]
    };
    let collections = run(
        "chromium",
        dom(format!("{}/collections?f=html", server.url)),
    )
    .await;
    assert!(
        collections.contains("Earthquakes, week to 2023-04-07 (USGS)"),
        "{collections}"
    );
    let items = run(
        "chromium",
        dom(format!(
            "{}/collections/earthquakes/items?f=html&limit=25",
            server.url
        )),
    )
    .await;
    assert_eq!(
        items.matches("<tr>").count(),
        26,
        "a header row and 25 features"
    );
    assert!(items.contains("Next →"));
    assert!(items.contains("of 2389"));
    server.shutdown().await;
}

/// `/api` is a valid OpenAPI 3.0 document by a validator written by others, and the bodies it documents
/// are the ones the routes take: a body built from each route's own schema is accepted, and one with a
/// field the schema does not have is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_document_is_valid_and_its_body_schemas_are_the_routes_own() {
    let server = serve_demo().await;
    let document = server.store.dir().join("api.json");
    let api = server.get("/api").await.json();
    std::fs::write(&document, serde_json::to_vec(&api).expect("json")).expect("write");
    let out = run(
        "openapi-spec-validator",
        vec![document.display().to_string()],
    )
    .await;
    assert!(out.contains("OK"), "{out}");

    let body_schema = |method: &str, path: &str| -> Value {
        let schema =
            &api["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
        let name = schema["$ref"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default();
        api["components"]["schemas"][name].clone()
    };
    // Each write documents its own body, not another route's.
    let login = body_schema("post", "/auth/login");
    assert_eq!(login["required"], json!(["user", "password"]), "{login}");
    let feed = body_schema("post", "/feeds");
    assert!(feed["properties"]["url"].is_object(), "{feed}");
    assert!(
        feed["properties"]["dataset"].is_object() && feed["properties"]["mode"].is_null(),
        "{feed}"
    );
    assert!(api["paths"]["/alerts/{alertId}/acknowledge"]["post"]["responses"]["409"].is_object());
    assert!(
        api["paths"]["/auth/login"]["post"]["responses"]["409"].is_null(),
        "login never conflicts"
    );
    assert!(
        api["paths"]["/auth/logout"]["post"]["requestBody"].is_null(),
        "logout takes no body"
    );

    // A rule built from its schema's required fields is taken (201/200); an extra field is refused (400).
    let rule = body_schema("post", "/rules");
    assert_eq!(rule["additionalProperties"], json!(false), "{rule}");
    let created = server
        .post_json(
            "/rules",
            json!({"id": "from_schema", "when": {"kind": "score", "above": 50.0}}),
        )
        .await;
    assert!(
        created.status < 300,
        "{}: {}",
        created.status,
        created.text()
    );
    let refused = server
        .post_json(
            "/rules",
            json!({"id": "from_schema", "when": {"kind": "score", "above": 50.0}, "colour": "red"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text());

    // Every query parameter a route declares is taken by it, and no other name.
    let unknown = server.get("/alerts?colour=red").await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.text().contains("'colour'") && unknown.text().contains("state"),
        "{}",
        unknown.text()
    );
    for (path, query) in [
        ("/alerts", "state=open&rule=x&after=0&limit=5&order=oldest"),
        ("/audit", "actor=local&action=x&target=y&limit=5"),
        ("/collections/earthquakes/items", "mag=4.5&limit=2"),
    ] {
        let answer = server.get(&format!("{path}?{query}")).await;
        assert_eq!(answer.status, 200, "{path}?{query}: {}", answer.text());
    }
    server.shutdown().await;
}
