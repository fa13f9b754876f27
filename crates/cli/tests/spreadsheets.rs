//! XLSX and ODS sheets through the built binary and the upload API: read like CSV (coordinate columns by
//! name, text cells kept as text), the sheet chosen by `--layer` and listed when it is not found, the
//! data-protection guard applied to their columns as to any other.

use crate::support;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Run, ready, serve};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/realworld/spreadsheet")
        .join(name)
}

#[test]
fn xlsx_and_ods_sheets_import_as_sites_with_their_text_cells_kept() {
    let run = Run::new();
    for (ext, dataset) in [("xlsx", "zips_x"), ("ods", "zips_o")] {
        let file = fixture(&format!("vega_zipcodes_first25.{ext}"));
        let file = file.to_str().expect("utf-8");
        let out = run.ok(&[
            "--store",
            "s.gpkg",
            "import",
            file,
            "--dataset",
            dataset,
            "--kind",
            "sites",
        ]);
        assert!(out.contains("imported 25 features"), "{out}");
        let export = run.json(&[
            "--store", "s.gpkg", "export", dataset, "--output", "-", "--format", "geojson",
        ]);
        let first = &export["features"][0];
        assert_eq!(first["properties"]["zip_code"], "00501", "{first}");
        assert_eq!(first["properties"]["city"], "Holtsville");
        assert_eq!(
            first["geometry"]["coordinates"],
            serde_json::json!([-72.637078, 40.922326])
        );
        let wrong = run.geoconsole(&[
            "--store",
            "s.gpkg",
            "import",
            file,
            "--dataset",
            "other",
            "--layer",
            "Sheet9",
        ]);
        assert!(!wrong.status.success());
        let err = String::from_utf8_lossy(&wrong.stderr);
        assert!(
            err.contains("sheet 'Sheet9' not found; sheets are: zipcodes"),
            "{err}"
        );
    }
}

/// A workbook written by GDAL from CSV text, for the cases no fixture needs to keep.
fn workbook(run: &Run, name: &str, csv: &str) -> PathBuf {
    gdal_workbook(run, name, csv, "XLSX")
}

fn gdal_workbook(run: &Run, name: &str, csv: &str, driver: &str) -> PathBuf {
    let source = run.path(&format!("{name}.csv"));
    std::fs::write(&source, csv).expect("csv");
    let out = run.path(&format!("{name}.{}", driver.to_ascii_lowercase()));
    let made = Command::new("ogr2ogr")
        .args(["-f", driver, "-nln", "Sites"])
        .arg(&out)
        .arg(&source)
        .output()
        .expect("ogr2ogr must be installed");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    out
}

#[test]
fn a_personal_column_in_a_sheet_is_refused_and_a_bad_cell_names_sheet_and_row() {
    let run = Run::new();
    let personal = workbook(
        &run,
        "contacts",
        "name,lat,lon,email\nDepot,52.1,5.1,jan@example.org\n",
    );
    let out = run.geoconsole(&[
        "--store",
        "s.gpkg",
        "import",
        personal.to_str().expect("utf-8"),
        "--dataset",
        "contacts",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("email"), "{err}");
    assert!(!err.contains("jan@example.org"), "{err}");

    let bad = workbook(&run, "bad", "site,lat,lon\nA,52.1,5.1\nB,north,5.2\n");
    let out = run.geoconsole(&[
        "--store",
        "s.gpkg",
        "import",
        bad.to_str().expect("utf-8"),
        "--dataset",
        "bad",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sheet 'Sites' row 3: latitude 'north' is not a number"),
        "{err}"
    );
}

#[test]
fn an_ods_gdal_writes_indented_imports() {
    // GDAL (like KSpread) indents content.xml between elements, which calamine 0.38 alone refuses
    let run = Run::new();
    let ods = gdal_workbook(
        &run,
        "indented",
        "site,lat,lon,note\nA,48.85,2.35,North gate\nB,51.5,-0.12,\n",
        "ODS",
    );
    let content = Command::new("unzip")
        .arg("-p")
        .arg(&ods)
        .arg("content.xml")
        .output()
        .expect("unzip must be installed");
    assert!(
        String::from_utf8_lossy(&content.stdout).contains(">\n"),
        "GDAL's content.xml is expected to be indented"
    );
    let out = run.ok(&[
        "--store",
        "s.gpkg",
        "import",
        ods.to_str().expect("utf-8"),
        "--dataset",
        "indented",
    ]);
    assert!(out.contains("imported 2 features"), "{out}");
    let export = run.json(&[
        "--store", "s.gpkg", "export", "indented", "--output", "-", "--format", "geojson",
    ]);
    assert_eq!(export["features"][0]["properties"]["note"], "North gate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_uploaded_to_the_console_is_previewed_and_imported() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("geoconsole.toml"), "").expect("config");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (mut server, url) = serve(dir.path(), "ops.gpkg");
    ready(&client, &url).await;
    let body = std::fs::read(fixture("vega_zipcodes_first25.xlsx")).expect("fixture");
    let staged = client
        .post(format!("{url}/imports?name=sites.xlsx"))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("stage");
    assert_eq!(staged.status(), 201);
    let staged: serde_json::Value = staged.json().await.expect("staged json");
    let preview = staged["preview"].to_string();
    assert!(preview.contains("00501"), "{preview}");
    let id = staged["id"].as_str().expect("upload id");
    let started = client
        .post(format!("{url}/imports/{id}"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"dataset": "sites", "kind": "sites"}).to_string())
        .send()
        .await
        .expect("start import");
    assert_eq!(started.status(), 202);
    let status = loop {
        let status: serde_json::Value = client
            .get(format!("{url}/imports/{id}"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("status json");
        if status["state"] != "importing" {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(status["state"], "imported", "{status}");
    assert!(status.to_string().contains("\"imported\":25"), "{status}");
}
