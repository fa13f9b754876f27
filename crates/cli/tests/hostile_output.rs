//! What the binary writes when the input was written to hurt: an error about a 50 MB header stays one
//! short line (and is audited), a CSV export defuses column names that are formulas, a title with escape
//! sequences cannot steer the terminal, and a zipped import unpacks beside the store and leaves nothing.

use crate::support;
use std::io::Write;

use support::Run;

fn store(run: &Run) -> String {
    run.path("ops.gpkg").to_string_lossy().into_owned()
}

// Regression: the CLI printed a 1 GiB header back in its error, and the audit write of the failed import
// failed ("string or blob too big").
#[test]
fn a_huge_header_fails_the_import_in_one_short_line_and_is_audited() {
    let run = Run::new();
    let mut csv = b"name,".to_vec();
    csv.resize(50 << 20, b'b');
    csv.extend_from_slice(b"\n1,2\n");
    std::fs::write(run.path("header.csv"), csv).expect("write");
    let store = store(&run);
    let out = run.geoconsole(&["--store", &store, "-q", "import", "header.csv"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("header row longer than 1024 KiB"),
        "{stderr}"
    );
    assert!(stderr.len() < 500, "{} bytes on stderr", stderr.len());
    let audit = run.json(&["--store", &store, "--json", "audit", "--action", "import"]);
    let entry = &audit[0];
    assert_eq!(entry["outcome"], "failed", "{audit}");
    assert!(
        entry["detail"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("header row longer")),
        "{audit}"
    );
}

// Regression: `geoconsole export --format csv` wrote a property named like a formula raw as a header cell.
#[test]
fn a_csv_export_defuses_column_names_that_are_formulas() {
    let run = Run::new();
    let file = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]},
         "properties": {"=HYPERLINK(\"http://evil.example\",\"h\")": "=1+1", "name": "a"}},
    ]});
    std::fs::write(run.path("f.geojson"), file.to_string()).expect("write");
    let store = store(&run);
    run.ok(&[
        "--store",
        &store,
        "-q",
        "import",
        "f.geojson",
        "--dataset",
        "f",
    ]);
    let csv = run.ok(&[
        "--store", &store, "export", "f", "--output", "-", "--format", "csv",
    ]);
    let header = csv.lines().next().unwrap_or("");
    assert_eq!(
        header,
        "id,longitude,latitude,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"h\"\")\",name"
    );
    assert!(csv.contains("'=1+1"), "{csv}");
}

// Regression: tables printed text others wrote (titles, login names tried) as it was, escape sequences
// included.
#[test]
fn tables_cannot_steer_the_terminal() {
    let run = Run::new();
    std::fs::write(run.path("s.csv"), "name,lat,lon\na,1,2\n").expect("write");
    let store = store(&run);
    run.ok(&[
        "--store",
        &store,
        "-q",
        "import",
        "s.csv",
        "--title",
        "sites\u{1b}[2J\u{1b}]8;;http://evil.example\u{7}click",
    ]);
    let table = run.ok(&["--store", &store, "datasets", "list"]);
    assert!(!table.contains('\u{1b}'), "{table:?}");
    assert!(!table.contains('\u{7}'), "{table:?}");
    assert!(
        table.contains("sites [2J ]8;;http://evil.example click"),
        "{table}"
    );
}

// Regression: imports unpacked zips into the system's temporary folder, where a crash left them.
#[test]
fn a_zipped_import_unpacks_beside_the_store_and_leaves_nothing() {
    let run = Run::new();
    std::fs::write(run.path("s.csv"), "name,lat,lon\na,1,2\nb,3,4\n").expect("write");
    let store = store(&run);
    run.ok(&["--store", &store, "-q", "import", "s.csv", "--dataset", "s"]);
    run.ok(&["--store", &store, "export", "s", "--output", "s.fgb"]);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(run.path("s.zip")).expect("zip"));
    zip.start_file("data/s.fgb", zip::write::SimpleFileOptions::default())
        .expect("entry");
    zip.write_all(&std::fs::read(run.path("s.fgb")).expect("fgb"))
        .expect("write");
    zip.finish().expect("finish");
    let report = run.json(&[
        "--store",
        &store,
        "--json",
        "-q",
        "import",
        "s.zip",
        "--dataset",
        "zipped",
    ]);
    assert_eq!(report["imported"], 2, "{report}");
    let staging = run.path("ops.gpkg.staging");
    assert!(staging.is_dir(), "the staging folder is beside the store");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .expect("staging")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "the import took its folder along: {left:?}"
    );
}
