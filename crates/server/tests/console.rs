//! What the web console needs from the server, over real HTTP on 127.0.0.1: its embedded files, the offline
//! basemap's tiles and glyphs, the time histogram, and imports in three steps (stage and preview, import in
//! the background, follow progress), including the refusals that keep other sites from writing.
//!
//! The console is embedded from `web/dist`: run `./scripts/build-web.sh` first (the test command does).

use std::time::Duration;

use geoconsole_app::ImportOptions;
use geoconsole_model::DatasetKind;
use geoconsole_testkit::{Reply, TestServer, point, serve, serve_demo, temp_gpkg};
use geozero::mvt::{Message, Tile};
use serde_json::{Value, json};

fn layer_names(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text());
    Tile::decode(reply.body.as_slice())
        .expect("an MVT tile")
        .layers
        .into_iter()
        .map(|l| l.name)
        .collect()
}

#[tokio::test]
async fn the_console_and_its_basemap_are_served_by_the_binary() {
    assert!(
        geoconsole_server::console_built(),
        "web/dist is missing: run ./scripts/build-web.sh before the tests"
    );
    let server = serve(temp_gpkg()).await;
    let page = server.get("/console/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = page.text();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a script tag");
    assert!(script.starts_with("/console/assets/"), "{script}");
    let asset = server.get(script).await;
    assert_eq!(asset.status, 200);
    assert!(
        asset
            .header("cache-control")
            .is_some_and(|c| c.contains("immutable"))
    );
    assert_eq!(server.get("/console/no/such/file.js").await.status, 404);

    let world = server.get("/basemap/0/0/0").await;
    let names = layer_names(&world);
    for layer in ["land", "coastline", "borders", "cities", "graticule"] {
        assert!(
            names.iter().any(|n| n == layer),
            "{layer} missing from {names:?}"
        );
    }
    assert_eq!(server.get("/basemap/9/0/0").await.status, 404);
    assert_eq!(server.get("/basemap/1/5/0").await.status, 404);

    let glyphs = server
        .get("/basemap/fonts/DejaVu%20Sans,Arial%20Unicode%20MS%20Regular/0-255.pbf")
        .await;
    assert_eq!(glyphs.status, 200);
    assert_eq!(
        glyphs.header("content-type"),
        Some("application/x-protobuf")
    );
    // Latin letters are all there: each glyph carries an SDF bitmap of a few hundred bytes.
    assert!(glyphs.body.len() > 20_000, "{} bytes", glyphs.body.len());
    let text = String::from_utf8_lossy(&glyphs.body);
    assert!(text.contains("DejaVu Sans") && text.contains("0-255"));
    assert_eq!(
        server.get("/basemap/fonts/x/1-256.pbf").await.status,
        400,
        "unaligned ranges are refused"
    );
    let landing = server.get("/").await.json();
    assert!(
        landing["links"]
            .as_array()
            .expect("links")
            .iter()
            .any(|l| l["href"].as_str().is_some_and(|h| h.ends_with("/console/")))
    );
}

#[tokio::test]
async fn histogram_counts_features_active_in_each_step() {
    let store = temp_gpkg();
    let console = store.console();
    let features = vec![
        point(
            "a",
            0.0,
            0.0,
            json!({"t": "2024-01-01T12:00:00Z", "u": "2024-01-03T12:00:00Z"}),
        ),
        point(
            "b",
            1.0,
            1.0,
            json!({"t": "2024-01-02T06:00:00Z", "u": "2024-01-02T06:00:00Z"}),
        ),
        point(
            "c",
            50.0,
            50.0,
            json!({"t": "2024-01-04T06:00:00Z", "u": "2024-01-04T06:00:00Z"}),
        ),
    ];
    console
        .import_features(
            "spans",
            features.into_iter(),
            ImportOptions {
                dataset: Some("spans".parse().expect("id")),
                kind: Some(DatasetKind::Events),
                time: Some("t".into()),
                time_end: Some("u".into()),
                ..ImportOptions::default()
            },
        )
        .await
        .expect("import");
    let server = serve(store).await;
    let h = server
        .get("/collections/spans/histogram?datetime=2024-01-01T00:00:00Z/2024-01-05T00:00:00Z&bins=4")
        .await;
    assert_eq!(h.status, 200, "{}", h.text());
    // a is active on days 1–3, b on day 2, c on day 4.
    assert_eq!(h.json()["counts"], json!([1, 2, 1, 1]));
    let near = server
        .get("/collections/spans/histogram?datetime=2024-01-01T00:00:00Z/2024-01-05T00:00:00Z&bins=4&bbox=-5,-5,5,5")
        .await;
    assert_eq!(near.json()["counts"], json!([1, 2, 1, 0]));
    let whole = server
        .get("/collections/spans/histogram?bins=2")
        .await
        .json();
    assert_eq!(whole["start"], "2024-01-01T12:00:00.000Z");
    for bad in [
        "bins=0",
        "bins=5000",
        "datetime=2024-01-02T00:00:00Z",
        "datetime=2024-01-05T00:00:00Z/2024-01-01T00:00:00Z",
        "colour=red",
    ] {
        let r = server
            .get(&format!("/collections/spans/histogram?{bad}"))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    assert_eq!(server.get("/collections/nope/histogram").await.status, 404);
}

async fn stage(server: &TestServer, name: &str, body: &'static str) -> Reply {
    server
        .send(
            server
                .client()
                .post(server.at(&format!("/imports?name={name}")))
                .header("content-type", "application/octet-stream")
                .body(body),
        )
        .await
}

async fn start(server: &TestServer, id: &str, choice: Value) -> Reply {
    server
        .send(
            server
                .client()
                .post(server.at(&format!("/imports/{id}")))
                .header("content-type", "application/json")
                .body(choice.to_string()),
        )
        .await
}

async fn finished(server: &TestServer, id: &str) -> Value {
    for _ in 0..300 {
        let status = server.get(&format!("/imports/{id}")).await.json();
        if status["state"] != "importing" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import {id} never finished");
}

#[tokio::test]
async fn a_staged_file_is_previewed_then_imported_with_progress_and_announced() {
    let server = serve_demo().await;
    let mut events = server.console.live().subscribe();
    let staged = stage(
        &server,
        "reports.csv",
        "name,lat,lon,when,severity\nDepot fire,48.85,2.35,2023-04-02T10:00:00Z,3\nFlood,52.52,13.4,2023-04-04T12:00:00Z,4\n",
    )
    .await;
    assert_eq!(staged.status, 201, "{}", staged.text());
    let body = staged.json();
    let preview = &body["preview"];
    assert_eq!(preview["format"], "csv");
    assert_eq!(
        preview["coordinates"],
        json!({"lat_lon": {"lat": "lat", "lon": "lon"}})
    );
    assert_eq!(preview["time"], "when");
    assert_eq!(preview["suggested_dataset"], "reports");
    assert_eq!(preview["suggested_kind"], "events");
    assert_eq!(preview["rows"][1]["properties"]["name"], "Flood");
    let id = body["id"].as_str().expect("upload id").to_string();

    let accepted = start(
        &server,
        &id,
        json!({"dataset": "reports", "kind": "events"}),
    )
    .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let done = finished(&server, &id).await;
    assert_eq!(done["state"], "imported", "{done}");
    assert_eq!(done["report"]["imported"], 2);
    assert_eq!(done["bytes_read"], done["bytes_total"]);
    let change = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = events.recv().await.expect("event");
            if e.dataset.as_str() == "reports" {
                return e;
            }
        }
    })
    .await
    .expect("a change event for the new dataset");
    assert_eq!(change.version, 1);
    let collection = server.get("/collections/reports").await.json();
    assert_eq!(collection["featureCount"], 2);
    assert_eq!(collection["kind"], "events");

    assert_eq!(
        start(&server, &id, json!({"dataset": "reports"}))
            .await
            .status,
        409,
        "imported once"
    );
    let forget = server
        .send(server.client().delete(server.at(&format!("/imports/{id}"))))
        .await;
    assert_eq!(forget.status, 204);
    assert_eq!(server.get(&format!("/imports/{id}")).await.status, 404);
}

#[tokio::test]
async fn a_bad_file_fails_by_line_and_changes_nothing() {
    let server = serve(temp_gpkg()).await;
    let staged = stage(&server, "broken.csv", "name,lat,lon\nok,10,10\nbad,95,10\n").await;
    assert_eq!(staged.status, 201);
    let body = staged.json();
    assert_eq!(body["preview"]["problems"][0]["at"], "line 3");
    let id = body["id"].as_str().expect("id").to_string();
    assert_eq!(
        start(&server, &id, json!({"dataset": "broken"}))
            .await
            .status,
        202
    );
    let done = finished(&server, &id).await;
    assert_eq!(done["state"], "failed");
    let error = done["error"].as_str().expect("error");
    assert!(
        error.starts_with("broken.csv: line 3:") && error.contains("latitude"),
        "{error}"
    );
    assert_eq!(server.get("/collections/broken").await.status, 404);

    let not_geo = stage(
        &server,
        "notes.txt",
        "just some words\nwithout coordinates\n",
    )
    .await;
    assert_eq!(not_geo.status, 400, "{}", not_geo.text());
    assert!(
        not_geo.json()["description"]
            .as_str()
            .is_some_and(|d| d.contains("notes.txt"))
    );
    assert_eq!(stage(&server, "empty.csv", "").await.status, 400);
}

#[tokio::test]
async fn imports_refuse_other_sites_and_wrong_requests() {
    let server = serve(temp_gpkg()).await;
    let client = server.client();
    let csv = "name,lat,lon\na,1,1\n";
    let form = server
        .send(
            client
                .post(server.at("/imports?name=a.csv"))
                .header("content-type", "text/plain")
                .body(csv),
        )
        .await;
    assert_eq!(
        form.status, 415,
        "a cross-site form's content type is refused"
    );
    let cross = server
        .send(
            client
                .post(server.at("/imports?name=a.csv"))
                .header("content-type", "application/octet-stream")
                .header("origin", "http://evil.example")
                .body(csv),
        )
        .await;
    assert_eq!(cross.status, 403);
    let same = server
        .send(
            client
                .post(server.at("/imports?name=a.csv"))
                .header("content-type", "application/octet-stream")
                .header("origin", server.url.clone())
                .body(csv),
        )
        .await;
    assert_eq!(same.status, 201, "{}", same.text());
    let id = same.json()["id"].as_str().expect("id").to_string();
    let nameless = server
        .send(
            client
                .post(server.at("/imports"))
                .header("content-type", "application/octet-stream")
                .body(csv),
        )
        .await;
    assert_eq!(nameless.status, 400);
    for (choice, why) in [
        (json!({"dataset": "Bad Id"}), "dataset id"),
        (json!({"dataset": "ok", "kind": "people"}), "kind"),
        (json!({"dataset": "ok", "mode": "merge"}), "mode"),
        (json!({"dataset": "ok", "colour": "red"}), "unknown field"),
    ] {
        let r = start(&server, &id, choice).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text());
    }
    assert_eq!(
        start(&server, "0000000000000000", json!({"dataset": "ok"}))
            .await
            .status,
        404
    );
    let preflight = server
        .send(
            client
                .request(reqwest::Method::OPTIONS, server.at("/imports?name=a.csv"))
                .header("origin", "http://evil.example")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert!(
        !preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST")),
        "browsers are not allowed to send writes from other origins"
    );
}

/// A CAP file whose alert is located only by a county code is placed, as a feed's would be, by the areas
/// the import names; without areas the alert is reported skipped with the way to place it.
#[tokio::test]
async fn a_cap_file_located_by_codes_is_placed_by_the_areas_the_import_names() {
    let server = serve_demo().await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let zones = std::fs::read(fixtures.join("feeds/cap_test_zones.geojson")).expect("zones");
    let zones = server
        .upload(
            "zones.geojson",
            zones,
            json!({"dataset": "zones", "kind": "areas"}),
        )
        .await;
    assert_eq!(zones["state"], "imported", "{zones}");
    let cap = std::fs::read(fixtures.join("realworld/cap/cap12_oasis_A4_amber_geocode_only.xml"))
        .expect("cap");

    let unplaced = server
        .upload(
            "amber.xml",
            cap.clone(),
            json!({"dataset": "amber_unplaced", "skip_invalid": true}),
        )
        .await;
    assert_eq!(unplaced["state"], "failed", "{unplaced}");
    let error = unplaced["error"].as_str().expect("error");
    assert!(
        error.contains("names no areas dataset for its codes (areas)") && !error.contains("--"),
        "the skipped alert says how to place it, in the API's terms: {error}"
    );

    let placed = server
        .upload(
            "amber.xml",
            cap,
            json!({"dataset": "amber", "areas": [{"scheme": "SAME", "dataset": "zones", "code_field": "code"}]}),
        )
        .await;
    assert_eq!(placed["state"], "imported", "{placed}");
    let features = server.all_features("amber").await;
    assert_eq!(features.len(), 1, "{features:?}");
    assert_eq!(
        features[0]["geometry"]["type"], "Polygon",
        "{}",
        features[0]
    );
    // The county's polygon (FIPS 06037, from the SAME code 006037) holds Los Angeles.
    let ring = features[0]["geometry"]["coordinates"][0]
        .as_array()
        .expect("ring");
    let lons: Vec<f64> = ring.iter().filter_map(|p| p[0].as_f64()).collect();
    assert!(
        lons.iter().any(|&x| x < -118.0) && lons.iter().any(|&x| x > -118.5),
        "{ring:?}"
    );

    let missing = server
        .post_json(
            "/imports/none",
            json!({"dataset": "x", "areas": [{"dataset": "zones", "code_field": "code", "colour": 1}]}),
        )
        .await;
    assert_eq!(
        missing.status,
        400,
        "unknown fields of an area are refused: {}",
        missing.text()
    );
}
