//! `geoconsole migrate` between the two stores, end to end: the demo GeoPackage into PostGIS (where GDAL reads
//! every dataset as a PostGIS layer with the same count) and back into a new GeoPackage (which GDAL reads
//! with the same counts and extents), with rules, alerts and accounts along; a dataset already in the target
//! is refused unless `--replace`.

use crate::support;
use serde_json::Value;
use support::{Run, ogr_layers, ogrinfo};

fn by_id(list: &Value) -> std::collections::BTreeMap<String, (u64, Value)> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|d| {
            (
                d["id"].as_str().expect("id").to_string(),
                (
                    d["feature_count"].as_u64().expect("count"),
                    d["extent"].clone(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_goes_to_postgis_and_back_with_every_count() {
    let shared = geoconsole_testkit::temp_postgis().await;
    let pg = shared.location().to_string();
    let run = Run::new();
    run.ok(&["demo", "--quiet"]);
    let mut add = run
        .command(&[
            "--store",
            "demo.gpkg",
            "users",
            "add",
            "olga",
            "--role",
            "viewer",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("users add");
    std::io::Write::write_all(
        &mut add.stdin.take().expect("stdin"),
        b"correct horse battery staple\n",
    )
    .expect("password");
    let added = add.wait_with_output().expect("users add ends");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let source = run.json(&["--store", "demo.gpkg", "datasets", "list", "--json"]);
    let alerts_before = run.ok(&["--store", "demo.gpkg", "alerts", "list"]);

    let out = run.ok(&["--store", "demo.gpkg", "migrate", "--to", &pg]);
    assert!(out.contains("copied 10 datasets"), "{out}");
    let in_pg = run.json(&["--store", &pg, "datasets", "list", "--json"]);
    assert_eq!(
        by_id(&in_pg),
        by_id(&source),
        "counts and extents in PostGIS"
    );
    assert_eq!(
        run.ok(&["--store", &pg, "alerts", "list"]).lines().count(),
        alerts_before.lines().count()
    );
    assert!(run.ok(&["--store", &pg, "users", "list"]).contains("olga"));

    // GDAL reads each dataset as a PostGIS layer, with the same count.
    let (url, schema) = pg.split_once("?schema=").expect("schema in the URL");
    let rest = url.strip_prefix("postgres://").expect("url");
    let (credentials, host_db) = rest.split_once('@').expect("credentials");
    let (user, password) = credentials.split_once(':').expect("password");
    let (host_port, db) = host_db.split_once('/').expect("database");
    let (host, port) = host_port.split_once(':').expect("port");
    let connection = format!(
        "PG:host={host} port={port} dbname={db} user={user} password={password} schemas={schema}"
    );
    for (id, (count, _)) in by_id(&source) {
        let info = ogrinfo(&["-ro", "-so", &connection, &id]);
        assert!(
            info.contains(&format!("Feature Count: {count}")),
            "{id}: GDAL says\n{info}"
        );
    }

    // Back into a new GeoPackage: the same datasets, which GDAL reads with the same counts.
    let out = run.ok(&["--store", &pg, "migrate", "--to", "back.gpkg"]);
    assert!(out.contains("copied 10 datasets"), "{out}");
    let back = run.json(&["--store", "back.gpkg", "datasets", "list", "--json"]);
    assert_eq!(
        by_id(&back),
        by_id(&source),
        "counts and extents after the round trip"
    );
    let layers = ogr_layers(&run.path("back.gpkg"));
    for (id, (count, _)) in by_id(&source) {
        assert_eq!(
            layers.get(&id).map(|l| l.count),
            Some(count),
            "{id} in GDAL"
        );
    }

    // A second copy into the same target refuses to overwrite, and says how.
    let again = run.geoconsole(&["--store", "demo.gpkg", "migrate", "--to", &pg]);
    assert!(!again.status.success());
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(message.contains("--replace"), "{message}");
    let replaced = run.ok(&[
        "--store",
        "demo.gpkg",
        "migrate",
        "--to",
        &pg,
        "--dataset",
        "sites",
        "--replace",
    ]);
    assert!(replaced.contains("copied 1 datasets"), "{replaced}");
}
