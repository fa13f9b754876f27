//! Inputs that nest deeper than a recursive parser can take, sent to the real binary. A stack overflow is not
//! a panic: it aborts the whole process ("fatal runtime error: stack overflow, aborting"), so each must come
//! back as a 400 or a failed import with the reason, and the server must still answer `/healthz` after it.
//!
//! Regression: a security test took `geoconsole serve` down with one request, `GET /collections/D/items`
//! with a filter of 2,000 `NOT`s; the same held for `POST /exports`, CQL2 JSON, and uploads nesting WKT
//! collections, KML MultiGeometry or WKB collections thousands deep.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Run, ready, serve};

use crate::support;
fn nested(open: &str, inner: &str, close: &str, levels: usize) -> String {
    format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
}

/// ISO WKB of a point inside `levels` geometry collections, in a GeoPackage blob.
fn nested_blob(levels: usize) -> Vec<u8> {
    let mut out = b"GP\x00\x01".to_vec();
    out.extend_from_slice(&4326i32.to_le_bytes());
    for _ in 0..levels {
        out.push(1);
        out.extend_from_slice(&7u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.push(1);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&10.0f64.to_le_bytes());
    out.extend_from_slice(&20.0f64.to_le_bytes());
    out
}

/// A GeoPackage of one feature table, `places`, holding a fine point and a point nested `levels` deep.
fn geopackage(path: &Path, levels: usize) {
    let conn = rusqlite::Connection::open(path).expect("create the GeoPackage");
    geoconsole_formats::geopackage::create_core_tables(&conn).expect("core tables");
    conn.execute_batch("CREATE TABLE places (fid INTEGER PRIMARY KEY, geom BLOB, name TEXT)")
        .expect("table");
    geoconsole_formats::geopackage::register_feature_table(&conn, "places", "", "geom", "GEOMETRY")
        .expect("registered");
    for (blob, name) in [(nested_blob(0), "fine"), (nested_blob(levels), "deep")] {
        conn.execute(
            "INSERT INTO places (geom, name) VALUES (?1, ?2)",
            rusqlite::params![blob, name],
        )
        .expect("row");
    }
}

struct Console {
    child: Child,
    url: String,
    client: reqwest::Client,
}

impl Console {
    /// Still running, and answering.
    async fn alive(&mut self, after: &str) {
        assert!(
            self.child.try_wait().expect("status").is_none(),
            "the server died after {after}"
        );
        let health = self
            .client
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer after {after}: {e}"));
        assert_eq!(health.status(), 200, "after {after}");
    }

    async fn items(&self, filter: &str, lang: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}/collections/quakes/items", self.url))
            .query(&[("filter", filter), ("filter-lang", lang)])
            .send()
            .await
            .expect("items");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    async fn export(&self, filter: &str, lang: &str) -> (u16, Value) {
        let body = json!({"dataset": "quakes", "format": "geojson", "filter": filter, "filter-lang": lang});
        let response = self
            .client
            .post(format!("{}/exports", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("export");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    /// Stages `bytes` as `name`; the stage's status and body.
    async fn stage(&self, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/imports?name={name}", self.url))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .expect("stage");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    /// Stages, previews and starts an import of `bytes`, and returns how it ended.
    async fn import(&self, name: &str, bytes: Vec<u8>) -> Value {
        let (status, staged) = self.stage(name, bytes).await;
        assert_eq!(status, 201, "{name}: {staged}");
        let id = staged["id"].as_str().expect("upload id").to_string();
        let started = self
            .client
            .post(format!("{}/imports/{id}", self.url))
            .header("content-type", "application/json")
            .body(json!({"dataset": name.replace('.', "_")}).to_string())
            .send()
            .await
            .expect("start");
        assert_eq!(started.status(), 202, "{name}");
        for _ in 0..600 {
            let status: Value = self
                .client
                .get(format!("{}/imports/{id}", self.url))
                .send()
                .await
                .expect("status")
                .json()
                .await
                .expect("status json");
            if status["state"] != "importing" {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{name}: the import never finished");
    }
}

fn description(body: &Value) -> &str {
    body["description"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_nesting_is_refused_and_the_server_lives_on() {
    let run = Run::new();
    std::fs::write(
        run.path("quakes.geojson"),
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[85.3,27.7]},"properties":{"mag":5.5,"place":"Nepal"}}]}"#,
    )
    .expect("write quakes");
    run.ok(&["--store", "ops.gpkg", "import", "quakes.geojson", "--quiet"]);
    std::fs::write(run.path("geoconsole.toml"), "").expect("config");
    let (child, url) = serve(run.dir.path(), "ops.gpkg");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    ready(&client, &url).await;
    let mut console = Console { child, url, client };

    // The tester's request, and its relatives.
    let not_chain = format!("{}mag>1", "NOT ".repeat(2_000));
    let (status, body) = console.items(&not_chain, "cql2-text").await;
    assert_eq!(status, 400, "{body}");
    assert!(description(&body).contains("prefix operators"), "{body}");
    console.alive("a chain of 2,000 NOTs on GET items").await;

    for (what, filter) in [
        (
            "an AND chain",
            format!("{}mag > 1", "mag > 1 AND ".repeat(3_000)),
        ),
        ("a comparison chain", format!("{}1", "mag = ".repeat(3_000))),
        ("a sign chain", format!("mag > {}1", "- ".repeat(3_000))),
        (
            "an arithmetic chain",
            format!("mag > {}1", "1 + ".repeat(3_000)),
        ),
    ] {
        let (status, body) = console.items(&filter, "cql2-text").await;
        assert_eq!(status, 400, "{what}: {body}");
        console.alive(what).await;
    }
    let (status, body) = console.items("mag > 1", "cql2-text").await;
    assert_eq!(status, 200, "an ordinary filter still works: {body}");

    let (status, body) = console.export(&not_chain, "cql2-text").await;
    assert_eq!(status, 400, "{body}");
    console
        .alive("a chain of 2,000 NOTs in POST /exports")
        .await;

    let json_chain = nested(
        r#"{"op":"not","args":["#,
        r#"{"op":">","args":[{"property":"mag"},1]}"#,
        "]}",
        2_000,
    );
    let (status, body) = console.export(&json_chain, "cql2-json").await;
    assert_eq!(status, 400, "{body}");
    assert!(description(&body).contains("levels of brackets"), "{body}");
    console
        .alive("a CQL2 JSON chain of 2,000 NOTs in POST /exports")
        .await;
    let (status, body) = console
        .items(
            &nested(
                r#"{"op":"not","args":["#,
                r#"{"op":">","args":[{"property":"mag"},1]}"#,
                "]}",
                40,
            ),
            "cql2-json",
        )
        .await;
    assert_eq!(status, 400, "{body}");
    console
        .alive("a CQL2 JSON chain of 40 NOTs on GET items")
        .await;

    // Uploads: staged, previewed and started; each fails by line or feature and names the depth.
    let wkt = nested("GEOMETRYCOLLECTION(", "POINT(1 2)", ")", 10_000);
    let outcome = console
        .import(
            "deep.csv",
            format!("name,wkt\ndeep,\"{wkt}\"\n").into_bytes(),
        )
        .await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    assert!(
        outcome["error"].as_str().is_some_and(
            |e| e.starts_with("deep.csv: line 2: geometry collections nest 10000 levels deep")
        ),
        "{outcome}"
    );
    console.alive("a CSV cell nesting 10,000 collections").await;

    let point = "<Point><coordinates>1,2</coordinates></Point>";
    let kml = format!(
        r#"<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>deep</name>{}</Placemark></Document></kml>"#,
        nested("<MultiGeometry>", point, "</MultiGeometry>", 2_000)
    );
    let outcome = console.import("deep.kml", kml.into_bytes()).await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    assert!(
        outcome["error"]
            .as_str()
            .is_some_and(|e| e.contains("feature 0: <MultiGeometry> nests 2000 levels deep")),
        "{outcome}"
    );
    console.alive("a KML MultiGeometry nested 2,000 deep").await;

    geopackage(&run.path("deep.gpkg"), 20_000);
    let outcome = console
        .import(
            "deep.gpkg",
            std::fs::read(run.path("deep.gpkg")).expect("gpkg"),
        )
        .await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    assert!(
        outcome["error"]
            .as_str()
            .is_some_and(|e| e.contains("feature 1") && e.contains("nest 20000 levels deep")),
        "{outcome}"
    );
    console
        .alive("a GeoPackage blob nesting 20,000 collections")
        .await;

    let geojson = format!(
        r#"{{"type":"Feature","properties":{{}},"geometry":{}}}"#,
        nested(
            r#"{"type":"GeometryCollection","geometries":["#,
            r#"{"type":"Point","coordinates":[1,2]}"#,
            "]}",
            40
        )
    );
    let outcome = console.import("deep.geojson", geojson.into_bytes()).await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    console.alive("a GeoJSON collection nested 40 deep").await;

    let gpx = format!(
        r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="1" lon="2"><extensions>{}</extensions></wpt></gpx>"#,
        nested("<x>", "y", "</x>", 100_000)
    );
    let (status, body) = console.stage("deep.gpx", gpx.into_bytes()).await;
    assert_eq!(status, 400, "{body}");
    assert!(description(&body).contains("nests elements"), "{body}");
    console
        .alive("a GPX document nesting 100,000 elements")
        .await;

    // A Parquet footer nesting 1,000 schema groups (kept as a fuzz regression input; its first byte picks
    // the fuzz target's format).
    let parquet = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/regressions/files/parquet-schema-1000"),
    )
    .expect("regression input");
    let (status, body) = console.stage("deep.parquet", parquet[1..].to_vec()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        description(&body).contains("schema nests 1001 levels deep"),
        "{body}"
    );
    console.alive("a Parquet schema nesting 1,000 groups").await;

    // A CRS given with the upload, as WKT nesting 2,000 brackets (proj4wkt overflowed at 183 in debug; a
    // URL must stay under 64 KiB).
    let crs = format!("PROJCS[\"x\",{}1{}]", "A[".repeat(2_000), "]".repeat(2_000));
    let response = console
        .client
        .post(format!("{}/imports", console.url))
        .query(&[("name", "points.csv"), ("source_crs", crs.as_str())])
        .header("content-type", "application/octet-stream")
        .body("name,lat,lon\na,1,2\n")
        .send()
        .await
        .expect("stage with a CRS");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert!(
        description(&body).contains("nests brackets 2001 deep"),
        "{body}"
    );
    console.alive("a CRS WKT nesting 2,000 brackets").await;

    // The same GeoPackage through the CLI: refused by feature and depth, not aborted.
    let out = run.geoconsole(&["--store", "other.gpkg", "import", "deep.gpkg", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error exit, not an abort: {stderr}"
    );
    assert!(
        stderr.contains("deep.gpkg: feature 1") && stderr.contains("nest 20000 levels deep"),
        "{stderr}"
    );
    assert!(!stderr.contains("stack overflow"), "{stderr}");

    console.alive("everything").await;
    console.child.kill().expect("stop the server");
    console.child.wait().expect("reaped");
}
