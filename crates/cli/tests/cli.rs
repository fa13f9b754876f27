//! End-to-end tests of the built binary, checked by GDAL (`ogrinfo`) where the GeoPackage standard applies.

use std::process::Command;

use crate::support;
use support::{Run, ogr_layers, ogrinfo, only_layer_count};

#[test]
fn demo_store_opens_in_gdal_with_every_dataset_count_and_extent() {
    let run = Run::new();
    let summary = run.json(&["demo", "--json"]);
    assert!(run.path("demo.gpkg").is_file());
    let datasets = run.json(&["--store", "demo.gpkg", "datasets", "list", "--json"]);
    let datasets = datasets.as_array().expect("list");
    assert_eq!(
        datasets.len(),
        summary["datasets"].as_array().expect("summary").len()
    );
    assert!(datasets.len() >= 10);
    let layers = ogr_layers(&run.path("demo.gpkg"));
    for d in datasets {
        let id = d["id"].as_str().expect("id");
        let layer = layers
            .get(id)
            .unwrap_or_else(|| panic!("ogrinfo does not list dataset {id}: {layers:?}"));
        assert_eq!(
            layer.count,
            d["feature_count"].as_u64().expect("count"),
            "{id}"
        );
        let extent = layer
            .extent
            .unwrap_or_else(|| panic!("{id} has no extent in ogrinfo"));
        let ours =
            ["west", "south", "east", "north"].map(|k| d["extent"][k].as_f64().expect("extent"));
        for (gdal, ours) in extent.iter().zip(ours) {
            assert!(
                (gdal - ours).abs() < 1e-5,
                "{id}: ogrinfo extent {extent:?} vs ours {ours:?}"
            );
        }
    }
    assert!(
        layers.contains_key("gc_datasets"),
        "the catalog is a registered attributes table"
    );
}

#[test]
fn gdal_spatial_filters_use_our_rtree_and_agree_with_our_queries() {
    let run = Run::new();
    run.ok(&["demo", "--quiet"]);
    for (dataset, bbox) in [
        ("earthquakes", [120.0, 20.0, 150.0, 46.0]),
        ("sites", [-10.0, 35.0, 30.0, 60.0]),
        ("weather_warnings", [-130.0, 20.0, -60.0, 50.0]),
    ] {
        let spat: Vec<String> = bbox.iter().map(f64::to_string).collect();
        let mut args = vec!["-ro", "-so", "demo.gpkg", dataset, "-spat"];
        args.extend(spat.iter().map(String::as_str));
        let gdal = ogrinfo(
            &args
                .iter()
                .map(|a| {
                    if *a == "demo.gpkg" {
                        run.path("demo.gpkg").to_str().expect("path").to_owned()
                    } else {
                        a.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        let gdal_count: u64 = gdal
            .lines()
            .find_map(|l| l.strip_prefix("Feature Count: "))
            .expect("feature count")
            .trim()
            .parse()
            .expect("number");
        let bbox_arg = spat.join(",");
        let ours = run.json(&[
            "--store",
            "demo.gpkg",
            "query",
            dataset,
            "--bbox",
            &bbox_arg,
            "--limit",
            "10000",
        ]);
        assert_eq!(
            ours["numberReturned"].as_u64(),
            Some(gdal_count),
            "{dataset} in {bbox_arg}"
        );
        assert!(
            gdal_count > 0,
            "{dataset}: the test box should hold features"
        );
    }
}

#[test]
fn import_query_and_export_round_trip_through_gdal() {
    let run = Run::new();
    let out = run.ok(&[
        "generate",
        "--points",
        "2000",
        "--output",
        "events.csv",
        "--quiet",
    ]);
    assert!(out.contains("2,000"), "{out}");
    let report = run.json(&[
        "--store",
        "ops.gpkg",
        "import",
        "events.csv",
        "--dataset",
        "events",
        "--json",
    ]);
    assert_eq!(report["imported"], 2000);
    assert_eq!(report["dataset"]["time_fields"]["start"], "time");
    let page = run.json(&[
        "--store",
        "ops.gpkg",
        "query",
        "events",
        "--limit",
        "5",
        "--datetime",
        "2024-05-20T00:00:00Z/..",
    ]);
    assert_eq!(page["numberReturned"], 5);
    let next = page["next"].as_str().expect("a next cursor");
    let page2 = run.json(&[
        "--store",
        "ops.gpkg",
        "query",
        "events",
        "--limit",
        "5",
        "--cursor",
        next,
        "--datetime",
        "2024-05-20T00:00:00Z/..",
    ]);
    assert_ne!(page["features"][0]["id"], page2["features"][0]["id"]);
    run.ok(&[
        "--store",
        "ops.gpkg",
        "export",
        "events",
        "--output",
        "events.geojson",
    ]);
    assert_eq!(only_layer_count(&run.path("events.geojson")), 2000);
    run.ok(&[
        "--store",
        "ops.gpkg",
        "export",
        "events",
        "--output",
        "subset.csv",
        "--bbox",
        "-10,35,30,60",
    ]);
    let rows = std::fs::read_to_string(run.path("subset.csv"))
        .expect("csv")
        .lines()
        .count();
    assert!(rows > 1 && rows < 2001, "{rows}");
}

#[test]
fn bad_input_exits_non_zero_with_a_located_message() {
    let run = Run::new();
    std::fs::write(run.path("quakes.geojson"), b"\x89PNG\r\n\x1a\n").expect("write");
    let out = run.geoconsole(&["--store", "ops.gpkg", "import", "quakes.geojson"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: quakes.geojson: file looks like a PNG image, not a geospatial file"
    );
    let out = run.geoconsole(&["--store", "ops.gpkg", "datasets", "show", "nothing"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: dataset 'nothing' does not exist"
    );
    let out = run.geoconsole(&["--store", "ops.gpkg", "query", "x", "--limit", "0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("limit 0 is outside 1..=10000"));
    std::fs::write(run.path("not.gpkg"), b"this is not a database, just text").expect("write");
    let out = run.geoconsole(&["--store", "not.gpkg", "datasets", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not.gpkg"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// From the third outside pass: `cat f.geojson | geoconsole import /dev/stdin` lost the file's first bytes
// to the look for a feed document and read the rest as CSV; a one-line file was "empty".
#[test]
fn a_piped_file_is_read_whole_from_standard_input() {
    use std::io::Write;
    let run = Run::new();
    let mut collection = String::from(r#"{"type":"FeatureCollection","features":["#);
    for i in 0..3000 {
        if i > 0 {
            collection.push(',');
        }
        collection.push_str(&format!(
            r#"{{"type":"Feature","id":"q{i}","properties":{{"mag":{i}}},"geometry":{{"type":"Point","coordinates":[{},{}]}}}}"#,
            i % 180,
            i % 80
        ));
    }
    collection.push_str("]}");
    for (name, file) in [("piped", "-"), ("device", "/dev/stdin")] {
        let mut child = run
            .command(&[
                "--store",
                "ops.gpkg",
                "--json",
                "import",
                file,
                "--dataset",
                name,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawned");
        let mut stdin = child.stdin.take().expect("stdin");
        let body = collection.clone();
        let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
        let out = child.wait_with_output().expect("ran");
        writer.join().expect("writer").expect("written");
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(report["imported"], 3000, "{file}: {report}");
        assert_eq!(report["format"], "geojson", "{file}: {report}");
    }
}

#[test]
fn settings_layer_defaults_config_environment_and_flags() {
    let run = Run::new();
    std::fs::write(run.path("points.csv"), "lat,lon\n1,2\n").expect("write");
    std::fs::write(
        run.path("geoconsole.toml"),
        "store = \"from_config.gpkg\"\nstroe = \"typo\"\n",
    )
    .expect("write");
    let out = run.geoconsole(&["import", "points.csv", "--quiet"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting 'stroe' ignored"));
    assert!(run.path("from_config.gpkg").is_file());
    let out = run
        .command(&["import", "points.csv", "--dataset", "env_points"])
        .env("GEOCONSOLE_STORE", "from_env.gpkg")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run.path("from_env.gpkg").is_file());
    let out = run
        .command(&["--store", "from_flag.gpkg", "import", "points.csv"])
        .env("GEOCONSOLE_STORE", "from_env.gpkg")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(run.path("from_flag.gpkg").is_file());
}

#[test]
fn generate_is_reproducible_for_a_seed() {
    let run = Run::new();
    let generate = |name: &str, seed: &str| {
        run.ok(&[
            "generate", "--points", "500", "--output", name, "--seed", seed, "--quiet",
        ]);
    };
    generate("a.geojson", "7");
    generate("b.geojson", "7");
    generate("c.geojson", "8");
    let read = |n: &str| std::fs::read(run.path(n)).expect("read");
    assert_eq!(read("a.geojson"), read("b.geojson"));
    assert_ne!(read("a.geojson"), read("c.geojson"));
    assert_eq!(only_layer_count(&run.path("a.geojson")), 500);
}

#[test]
fn a_killed_import_leaves_the_store_as_it_was() {
    let run = Run::new();
    std::fs::write(run.path("small.csv"), "lat,lon,name\n1,2,kept\n").expect("write");
    run.ok(&[
        "--store",
        "ops.gpkg",
        "import",
        "small.csv",
        "--dataset",
        "kept",
        "--quiet",
    ]);
    run.ok(&[
        "generate", "--points", "400000", "--output", "big.csv", "--quiet",
    ]);
    let mut child = run
        .command(&[
            "--store",
            "ops.gpkg",
            "import",
            "big.csv",
            "--dataset",
            "big",
            "--quiet",
        ])
        .spawn()
        .expect("spawn import");
    // Long enough to be writing rows, far too short for a debug build to finish 400k of them.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the import finished before it could be killed"
    );
    child.kill().expect("kill -9");
    child.wait().expect("reap");

    let datasets = run.json(&["--store", "ops.gpkg", "datasets", "list", "--json"]);
    let ids: Vec<&str> = datasets
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["kept"],
        "only committed imports are visible after a crash"
    );
    let check = Command::new("sqlite3")
        .arg(run.path("ops.gpkg"))
        .arg("PRAGMA integrity_check;")
        .output()
        .expect("sqlite3 must be installed (Debian package sqlite3)");
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
    let layers = ogr_layers(&run.path("ops.gpkg"));
    assert_eq!(layers.get("kept").map(|l| l.count), Some(1));
    assert!(!layers.contains_key("big"));
    run.ok(&[
        "--store",
        "ops.gpkg",
        "import",
        "small.csv",
        "--dataset",
        "again",
        "--quiet",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_from_the_command_line_are_guarded_polled_and_reported() {
    let origin = geoconsole_testkit::FeedOrigin::start().await;
    let body =
        std::fs::read(geoconsole_testkit::fixture("feeds/usgs_v1.geojson")).expect("fixture");
    origin.set(
        "/q.geojson",
        geoconsole_testkit::Serve::body("application/geo+json", body, Some("\"1\"")),
    );
    let url = origin.at("/q.geojson");
    let run = Run::new();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "--store",
            "ops.gpkg",
            "feeds",
            "add",
            "--name",
            "usgs",
            "--format",
            "usgs",
            "--dataset",
            "quakes",
            "--url",
            &url,
        ];
        args.extend_from_slice(extra);
        run.geoconsole(&args)
    };
    // Loopback is refused until the configuration allows it, with the way to allow it in the message.
    let refused = add(&[]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("loopback") && message.contains("[network] allow"),
        "{message}"
    );
    std::fs::write(
        run.path("geoconsole.toml"),
        "[network]\nallow = [\"127.0.0.1\"]\n",
    )
    .expect("config");
    assert!(add(&[]).status.success());
    let bad_format = run.geoconsole(&[
        "--store",
        "ops.gpkg",
        "feeds",
        "add",
        "--name",
        "x",
        "--format",
        "rss9",
        "--dataset",
        "x",
        "--url",
        &url,
    ]);
    assert!(
        String::from_utf8_lossy(&bad_format.stderr).contains("usgs, nws_alerts, cap"),
        "the known formats are listed"
    );

    // `blocking` because the origin runs on this test's runtime while the binary polls it.
    let poll = {
        let run_dir = run.path("");
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_geoconsole"))
                .args(["--store", "ops.gpkg", "feeds", "poll-now", "usgs"])
                .current_dir(run_dir)
                .env_remove("GEOCONSOLE_STORE")
                .env_remove("GEOCONSOLE_CONFIG")
                .output()
                .expect("poll")
        })
    };
    let out = poll.await.expect("join");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("usgs: 3 items: 3 added"), "{text}");
    assert_eq!(
        ogr_layers(&run.path("ops.gpkg"))["quakes"].count,
        3,
        "GDAL reads what the feed wrote"
    );
    let list = run.json(&["--store", "ops.gpkg", "--json", "feeds", "list"]);
    assert_eq!(list[0]["status"], "ok", "{list}");
    assert_eq!(list[0]["state"]["added"], 3);
    let shown = run.ok(&["--store", "ops.gpkg", "feeds", "show", "usgs"]);
    assert!(
        shown.contains("usgs (ok)") && shown.contains("3 added"),
        "{shown}"
    );
    run.ok(&["--store", "ops.gpkg", "feeds", "pause", "usgs"]);
    assert_eq!(
        run.json(&["--store", "ops.gpkg", "--json", "feeds", "list"])[0]["status"],
        "paused"
    );
}

/// Found by an outside tester: `geoconsole sources list | head -1` panicked ("failed printing to stdout:
/// Broken pipe"). A reader that goes away ends the command quietly, as it ends any Unix tool.
#[test]
fn a_reader_that_goes_away_ends_the_listing_quietly() {
    let dir = tempfile::tempdir().expect("folder");
    let mut child = Command::new(env!("CARGO_BIN_EXE_geoconsole"))
        .args(["--store", "s.gpkg", "catalog", "list"])
        .current_dir(dir.path())
        .env_remove("GEOCONSOLE_STORE")
        .env_remove("GEOCONSOLE_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The read end closes before anything is written: every write meets a broken pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
}
