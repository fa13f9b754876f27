//! Every import path and every bad input the foundation issue names, against a real GeoPackage file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use geoconsole_app::{AppErrorKind, Console, ImportOptions};
use geoconsole_formats::CsvOptions;
use geoconsole_gpkg::GpkgStore;
use geoconsole_model::{DatasetId, DatasetKind, FeatureId, FieldType, GeometryType};
use geoconsole_query::FeatureQuery;
use geoconsole_store::WriteMode;
use serde_json::json;

struct Bench {
    dir: tempfile::TempDir,
    console: Console,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("test.gpkg")).expect("store");
        Self {
            console: Console::open(
                geoconsole_app::Stores::of(Arc::new(store)),
                Default::default(),
            )
            .expect("console"),
            dir,
        }
    }

    fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write fixture");
        path
    }

    fn options(&self, dataset: &str) -> ImportOptions {
        ImportOptions {
            dataset: Some(id(dataset)),
            rejects: Some(self.dir.path().join(format!("{dataset}.rejects.jsonl"))),
            ..ImportOptions::default()
        }
    }

    async fn ids(&self, dataset: &str) -> Vec<String> {
        let page = self
            .console
            .query(
                &geoconsole_app::Scope::everything(),
                &id(dataset),
                &FeatureQuery::all(),
            )
            .await
            .expect("query");
        page.features
            .into_iter()
            .map(|f| f.id.expect("id").0)
            .collect()
    }

    async fn exists(&self, dataset: &str) -> bool {
        self.console
            .store()
            .contains_dataset(&id(dataset))
            .await
            .expect("contains")
    }
}

fn id(name: &str) -> DatasetId {
    DatasetId::new(name).expect("valid id")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn collection(features: &[serde_json::Value]) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn quake(id: &str, lon: f64, lat: f64, time_ms: i64) -> serde_json::Value {
    json!({"type": "Feature", "id": id, "geometry": {"type": "Point", "coordinates": [lon, lat, 10.5]},
           "properties": {"mag": 4.5, "time": time_ms, "place": "somewhere"}})
}

#[tokio::test]
async fn imports_real_usgs_week_with_detected_time_and_depth() {
    let bench = Bench::new();
    let path = fixture("demo/usgs_all_week_2023-04-07.geojson");
    let report = bench
        .console
        .import(&path, bench.options("quakes"))
        .await
        .expect("import");
    assert_eq!(report.imported, 2389);
    assert_eq!(report.format, "geojson");
    let dataset = report.dataset;
    assert_eq!(dataset.kind, DatasetKind::Events);
    assert_eq!(dataset.geometry_type, GeometryType::Point);
    assert_eq!(dataset.time_fields.start.as_deref(), Some("time"));
    let time = dataset.time_extent.expect("time extent");
    assert!(
        time.start.to_rfc3339().starts_with("2023-03-31"),
        "{}",
        time.start
    );
    assert!(
        time.end.to_rfc3339().starts_with("2023-04-07"),
        "{}",
        time.end
    );
    assert_eq!(
        dataset.schema.field("geometry_z").map(|f| f.field_type),
        Some(FieldType::Real)
    );
    let extent = dataset.extent.expect("extent");
    assert!(
        extent.west < -179.0 && extent.east > 179.0,
        "events on both sides of the antimeridian: {extent:?}"
    );
    let pacific = FeatureQuery {
        bbox: Some(geoconsole_model::Bbox::parse("170,-60,-170,60").expect("bbox")),
        ..FeatureQuery::all()
    };
    let found = bench
        .console
        .query(
            &geoconsole_app::Scope::everything(),
            &id("quakes"),
            &pacific,
        )
        .await
        .expect("query")
        .features;
    assert!(found.iter().any(
        |f| matches!(&f.geometry, Some(geoconsole_model::geo_types::Geometry::Point(p)) if p.x() > 170.0)
    ));
    assert!(found.iter().any(
        |f| matches!(&f.geometry, Some(geoconsole_model::geo_types::Geometry::Point(p)) if p.x() < -170.0)
    ));
}

#[tokio::test]
async fn imports_a_single_feature_document() {
    let bench = Bench::new();
    let path = bench.file(
        "one.geojson",
        quake("q1", 1.0, 2.0, 1_700_000_000_000).to_string(),
    );
    let report = bench
        .console
        .import(&path, bench.options("one"))
        .await
        .expect("import");
    assert_eq!(report.imported, 1);
    assert_eq!(bench.ids("one").await, vec!["q1"]);
}

#[tokio::test]
async fn imports_geojson_text_sequences_and_newline_delimited_geojson() {
    let bench = Bench::new();
    let lines = [
        quake("a", 1.0, 1.0, 1_700_000_000_000),
        quake("b", 2.0, 2.0, 1_700_000_100_000),
    ];
    let rs = format!("\u{1e}{}\n\u{1e}{}\n", lines[0], lines[1]);
    let path = bench.file("seq.geojsons", rs);
    assert_eq!(
        bench
            .console
            .import(&path, bench.options("seq"))
            .await
            .expect("rs import")
            .imported,
        2
    );
    let nd = format!("{}\n\n{}\n", lines[0], lines[1]);
    let path = bench.file("lines.json", nd);
    let report = bench
        .console
        .import(&path, bench.options("lines"))
        .await
        .expect("ndjson import");
    assert_eq!(report.format, "geojsonseq");
    assert_eq!(bench.ids("lines").await, vec!["a", "b"]);
}

#[tokio::test]
async fn imports_csv_with_detected_coordinates_time_and_types() {
    let bench = Bench::new();
    let csv = "site_code,Latitude,Longitude,name,count,ratio,active,Date\n\
               007,51.5,-0.12,London Dock,12,0.5,true,2024-05-01\n\
               012,48.85,2.35,\"Paris, Gare\",7,1.25,false,2024-05-02\n";
    let path = bench.file("sites.csv", csv);
    let report = bench
        .console
        .import(&path, bench.options("sites"))
        .await
        .expect("import");
    assert_eq!(report.imported, 2);
    let d = report.dataset;
    assert_eq!(d.time_fields.start.as_deref(), Some("Date"));
    let types: Vec<(String, FieldType)> = d
        .schema
        .fields()
        .iter()
        .map(|f| (f.name.clone(), f.field_type))
        .collect();
    assert_eq!(
        types,
        vec![
            ("site_code".into(), FieldType::Text),
            ("name".into(), FieldType::Text),
            ("count".into(), FieldType::Integer),
            ("ratio".into(), FieldType::Real),
            ("active".into(), FieldType::Boolean),
            ("Date".into(), FieldType::Date),
        ]
    );
    let feature = bench
        .console
        .feature(
            &geoconsole_app::Scope::everything(),
            &id("sites"),
            &FeatureId("1".into()),
        )
        .await
        .expect("feature 1");
    assert_eq!(
        feature.properties["site_code"],
        json!("007"),
        "leading zeros are kept"
    );
    assert_eq!(feature.properties["name"], json!("London Dock"));
}

#[tokio::test]
async fn imports_csv_with_named_columns_other_delimiters_and_intervals() {
    let bench = Bench::new();
    let csv = "ref;north;east;from;to\nA1;10.5;20.25;2024-05-01T00:00:00Z;2024-05-03T00:00:00Z\n";
    let path = bench.file("warnings.txt", csv);
    let mut options = bench.options("warnings");
    options.read.csv = CsvOptions {
        lat: Some("north".into()),
        lon: Some("east".into()),
        ..CsvOptions::default()
    };
    options.time = Some("from".into());
    options.time_end = Some("to".into());
    options.id_field = Some("ref".into());
    let report = bench.console.import(&path, options).await.expect("import");
    let time = report.dataset.time_extent.expect("time");
    assert_eq!((time.end - time.start).num_hours(), 48);
    let feature = bench
        .console
        .feature(
            &geoconsole_app::Scope::everything(),
            &id("warnings"),
            &FeatureId("A1".into()),
        )
        .await
        .expect("A1");
    assert_eq!(
        feature.geometry,
        Some(geoconsole_model::geo_types::Geometry::Point(
            geoconsole_model::geo_types::Point::new(20.25, 10.5)
        ))
    );
}

#[tokio::test]
async fn imports_csv_with_a_wkt_column() {
    let bench = Bench::new();
    let csv = "name,wkt\nzone,\"POLYGON((0 0,1 0,1 1,0 0))\"\nroad,\"LINESTRING(0 0,2 2)\"\n";
    let path = bench.file("zones.csv", csv);
    let report = bench
        .console
        .import(&path, bench.options("zones"))
        .await
        .expect("import");
    assert_eq!(report.imported, 2);
    assert_eq!(report.dataset.geometry_type, GeometryType::Geometry);
    assert!(
        report.dataset.schema.field("wkt").is_none(),
        "the geometry column is not a property"
    );
}

#[tokio::test]
async fn import_is_atomic_on_a_bad_feature_and_names_it() {
    let bench = Bench::new();
    let good = bench.file(
        "good.geojson",
        collection(&[quake("a", 1.0, 1.0, 1_700_000_000_000)]),
    );
    bench
        .console
        .import(&good, bench.options("quakes"))
        .await
        .expect("first import");
    let mut features: Vec<_> = (0..3000)
        .map(|i| quake(&format!("q{i}"), 1.0, 1.0, 1_700_000_000_000))
        .collect();
    features[1841] = quake("bad", 10.0, 91.2, 1_700_000_000_000);
    let bad = bench.file("quakes.geojson", collection(&features));
    let mut options = bench.options("quakes");
    options.mode = WriteMode::Replace;
    let error = bench
        .console
        .import(&bad, options)
        .await
        .expect_err("must fail");
    assert_eq!(
        error.to_string(),
        "quakes.geojson: feature 1841: latitude 91.2 out of range [-90, 90]"
    );
    assert_eq!(error.kind(), AppErrorKind::Input);
    assert_eq!(
        bench.ids("quakes").await,
        vec!["a"],
        "the failed replace left the dataset as it was"
    );
    let dataset = bench
        .console
        .dataset(&geoconsole_app::Scope::everything(), &id("quakes"))
        .await
        .expect("dataset");
    assert_eq!(dataset.version, 1);
}

// Regression: every rejected row was written to the report with its reason and snippet, so a file of
// millions of bad rows wrote a report many times its own size into the staging folder.
#[tokio::test]
async fn the_rejects_report_lists_the_first_ten_thousand_and_counts_the_rest() {
    let bench = Bench::new();
    let mut csv = String::from("name,lat,lon\ngood,1,1\n");
    for i in 0..10_050 {
        csv.push_str(&format!("bad{i},95,1\n"));
    }
    let path = bench.file("mostly_bad.csv", csv);
    let mut options = bench.options("mostly_bad");
    options.skip_invalid = true;
    let report = bench.console.import(&path, options).await.expect("import");
    assert_eq!((report.imported, report.rejected), (1, 10_050));
    let text = std::fs::read_to_string(report.rejects_report.expect("report")).expect("rejects");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10_001);
    assert!(
        lines[10_000].contains("50 more rejected features are not listed"),
        "{}",
        lines[10_000]
    );
}

// From the third outside pass: a rejected row in a zip's member was "line 3", with no word of the member.
#[tokio::test]
async fn a_reject_in_an_archive_names_its_member() {
    let bench = Bench::new();
    let path = bench.file("sites.csv", "name,lat,lon\nA,1,1\nB,95,1\n");
    let archive = path.with_file_name("sites.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).expect("created"));
    zip.start_file("inner/sites.csv", zip::write::SimpleFileOptions::default())
        .expect("member");
    std::io::Write::write_all(&mut zip, &std::fs::read(&path).expect("read")).expect("written");
    zip.finish().expect("finished");
    let mut options = bench.options("sites");
    options.skip_invalid = true;
    let report = bench
        .console
        .import(&archive, options)
        .await
        .expect("import");
    assert_eq!((report.imported, report.rejected), (1, 1));
    assert_eq!(report.first_rejects[0].at, "sites.csv: line 3");
    assert_eq!(report.first_rejects[0].line, Some(3));
}

#[tokio::test]
async fn skip_invalid_imports_the_rest_and_writes_a_rejects_report() {
    let bench = Bench::new();
    let features = vec![
        quake("a", 1.0, 1.0, 1_700_000_000_000),
        quake("b", 181.0, 1.0, 1_700_000_000_000),
        json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1]]]}, "properties": {}}),
        quake("a", 2.0, 2.0, 1_700_000_000_000),
        quake("c", 3.0, 3.0, 1_700_000_000_000),
    ];
    let path = bench.file("mixed.geojson", collection(&features));
    let mut options = bench.options("mixed");
    options.skip_invalid = true;
    let report = bench.console.import(&path, options).await.expect("import");
    assert_eq!((report.imported, report.rejected, report.read), (2, 3, 5));
    let rejects_path = report.rejects_report.expect("report written");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(rejects_path)
        .expect("rejects")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let reasons: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["at"].as_str().unwrap_or(""),
                l["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        reasons.contains(&("feature 1", "longitude 181 out of range [-180, 180]")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(at, why)| *at == "feature 2" && why.contains("not closed")),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("feature 3", "duplicate feature id 'a'")),
        "{reasons:?}"
    );
    assert_eq!(bench.ids("mixed").await, vec!["a", "c"]);
}

#[tokio::test]
async fn modes_append_replace_and_upsert() {
    let bench = Bench::new();
    let first = bench.file("v1.csv", "id,lat,lon,status\nA,1,1,open\nB,2,2,open\n");
    let mut options = bench.options("sites");
    options.id_field = Some("id".into());
    options.kind = Some(DatasetKind::Sites);
    bench
        .console
        .import(&first, options.clone())
        .await
        .expect("create");
    let again = bench
        .console
        .import(&first, options.clone())
        .await
        .expect_err("create twice");
    assert_eq!(again.kind(), AppErrorKind::Conflict);
    assert!(again.to_string().contains("already exists"), "{again}");

    let update = bench.file("v2.csv", "id,lat,lon,status\nB,2,2,closed\nC,3,3,open\n");
    let dup = bench
        .console
        .import(
            &update,
            ImportOptions {
                mode: WriteMode::Append,
                ..options.clone()
            },
        )
        .await
        .expect_err("append dup");
    assert_eq!(dup.to_string(), "v2.csv: line 2: duplicate feature id 'B'");
    assert_eq!(bench.ids("sites").await, vec!["A", "B"]);

    let upserted = bench
        .console
        .import(
            &update,
            ImportOptions {
                mode: WriteMode::Upsert,
                ..options.clone()
            },
        )
        .await
        .expect("upsert");
    assert_eq!(upserted.dataset.feature_count, 3);
    let b = bench
        .console
        .feature(
            &geoconsole_app::Scope::everything(),
            &id("sites"),
            &FeatureId("B".into()),
        )
        .await
        .expect("B");
    assert_eq!(b.properties["status"], json!("closed"));

    let replaced = bench
        .console
        .import(
            &update,
            ImportOptions {
                mode: WriteMode::Replace,
                ..options.clone()
            },
        )
        .await
        .expect("replace");
    assert_eq!(replaced.dataset.feature_count, 2);
    assert_eq!(replaced.dataset.version, 3);
    assert_eq!(replaced.dataset.kind, DatasetKind::Sites);
}

#[tokio::test]
async fn upsert_without_ids_is_refused_clearly() {
    let bench = Bench::new();
    let path = bench.file("noid.csv", "lat,lon,x\n1,1,a\n");
    let error = bench
        .console
        .import(
            &path,
            ImportOptions {
                mode: WriteMode::Upsert,
                ..bench.options("noid")
            },
        )
        .await
        .expect_err("no ids");
    assert_eq!(
        error.to_string(),
        "noid.csv: line 2: upsert needs an id for every feature; name the id property with --id-field"
    );
}

async fn refused(bench: &Bench, name: &str, content: impl AsRef<[u8]>) -> String {
    let path = bench.file(name, content);
    let error = bench
        .console
        .import(&path, bench.options("bad"))
        .await
        .expect_err("must be refused");
    assert!(
        !bench.exists("bad").await,
        "{name}: a refused import left a dataset behind"
    );
    error.to_string()
}

#[tokio::test]
async fn unlocated_features_are_imported_and_counted() {
    let bench = Bench::new();
    let features = [
        quake("a", 10.0, 50.0, 1_700_000_000_000),
        json!({"type": "Feature", "id": "b", "geometry": null,
               "properties": {"mag": 3.0, "time": 1_700_000_100_000_i64, "place": "unknown"}}),
    ];
    let path = bench.file("mixed.geojson", collection(&features));
    let report = bench
        .console
        .import(&path, bench.options("mixed"))
        .await
        .expect("imported");
    assert_eq!((report.imported, report.unlocated), (2, 1));
    assert_eq!(report.dataset.feature_count, 2);
    assert_eq!(
        report.dataset.geometry_type,
        geoconsole_model::GeometryType::Point
    );
}

#[tokio::test]
async fn bad_files_get_clear_errors_and_change_nothing() {
    let bench = Bench::new();
    assert_eq!(
        refused(&bench, "empty.geojson", "").await,
        "empty.geojson: file is empty"
    );
    assert_eq!(
        refused(&bench, "blank.csv", "\n\n  \n").await,
        "blank.csv: file holds only whitespace"
    );
    assert_eq!(
        refused(&bench, "quakes.geojson", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").await,
        "quakes.geojson: file looks like a PNG image, not a geospatial file"
    );
    // A collection of no features is an empty dataset, as GDAL opens an empty layer.
    let none = bench.file("none.geojson", collection(&[]));
    let report = bench
        .console
        .import(&none, bench.options("none"))
        .await
        .expect("an empty collection is an empty dataset");
    assert_eq!((report.imported, report.dataset.feature_count), (0, 0));
    assert_eq!(report.dataset.extent, None);
    let bad_utf8 = refused(
        &bench,
        "latin1.csv",
        b"lat,lon,name\n1,1,Z\xfcrich\n".as_slice(),
    )
    .await;
    assert_eq!(
        bad_utf8,
        "latin1.csv: line 2: text is not valid UTF-8; save the file as UTF-8 and import again"
    );
    let mut json_latin1 = collection(&[quake("a", 1.0, 1.0, 1)]).into_bytes();
    let at = json_latin1
        .windows(9)
        .position(|w| w == b"somewhere")
        .expect("place");
    json_latin1[at] = 0xfc;
    let bad_json_utf8 = refused(&bench, "latin1.geojson", json_latin1).await;
    assert!(
        bad_json_utf8.starts_with("latin1.geojson: line 1 column")
            && bad_json_utf8.contains("UTF-8"),
        "{bad_json_utf8}"
    );
    assert_eq!(
        refused(&bench, "ragged.csv", "lat,lon,a\n1,1,x\n2,2\n").await,
        "ragged.csv: line 3: row has 2 fields, the header has 3"
    );
    let deep = format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[{{\"type\":\"Feature\",\"properties\":{{\"x\":{}1{}}}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let too_deep = refused(&bench, "deep.geojson", deep).await;
    assert!(too_deep.contains("nested too deeply"), "{too_deep}");
    let dupes = refused(
        &bench,
        "dupes.geojson",
        collection(&[quake("x", 1.0, 1.0, 1), quake("x", 2.0, 2.0, 1)]),
    )
    .await;
    assert_eq!(dupes, "dupes.geojson: feature 1: duplicate feature id 'x'");
    let truncated = refused(
        &bench,
        "cut.geojson",
        &collection(&[quake("x", 1.0, 1.0, 1)])[..60],
    )
    .await;
    assert!(truncated.contains("truncated"), "{truncated}");
    let no_coords = refused(&bench, "plain.csv", "name,value\na,1\n").await;
    assert!(
        no_coords.contains("no coordinate columns found") && no_coords.contains("name, value"),
        "{no_coords}"
    );
    let syntax = refused(
        &bench,
        "broken.geojson",
        "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",}]}",
    )
    .await;
    assert!(
        syntax.starts_with("broken.geojson: line 1 column") && syntax.contains("in feature 0"),
        "{syntax}"
    );
}

#[tokio::test]
async fn real_hostile_files_are_refused() {
    let bench = Bench::new();
    let unclosed = bench
        .console
        .import(
            &fixture("hostile/invalid_unclosed.geojson"),
            bench.options("bad"),
        )
        .await
        .expect_err("unclosed");
    assert_eq!(
        unclosed.to_string(),
        "invalid_unclosed.geojson: feature 0: exterior ring not closed (first and last positions differ)"
    );
    let quotes = bench
        .console
        .import(
            &fixture("hostile/unbalanced_double_quotes.csv"),
            bench.options("bad"),
        )
        .await
        .expect_err("quotes");
    assert!(
        quotes
            .to_string()
            .starts_with("unbalanced_double_quotes.csv: "),
        "{quotes}"
    );
    assert!(!bench.exists("bad").await);
}

#[tokio::test]
async fn named_fields_must_exist() {
    let bench = Bench::new();
    let path = bench.file("t.csv", "lat,lon,when\n1,1,2024-05-01\n");
    let error = bench
        .console
        .import(
            &path,
            ImportOptions {
                time: Some("onset".into()),
                ..bench.options("t")
            },
        )
        .await
        .expect_err("missing field");
    assert_eq!(
        error.to_string(),
        "t.csv: time field 'onset' not found; properties are: when"
    );
    let bad_time = bench.file("u.csv", "lat,lon,when\n1,1,2024-05-01\n2,2,whenever\n");
    let error = bench
        .console
        .import(
            &bad_time,
            ImportOptions {
                time: Some("when".into()),
                ..bench.options("u")
            },
        )
        .await
        .expect_err("bad time");
    assert_eq!(
        error.to_string(),
        "u.csv: line 3: time field 'when': 'whenever' is not a recognised time (RFC 3339, date or epoch)"
    );
}

#[tokio::test]
async fn exports_round_trip_through_every_format() {
    let bench = Bench::new();
    let path = fixture("demo/usgs_all_week_2023-04-07.geojson");
    bench
        .console
        .import(&path, bench.options("quakes"))
        .await
        .expect("import");
    for format in geoconsole_formats::Format::WRITABLE {
        let out_path = bench.dir.path().join(format!("out.{}", format.extension()));
        let file = std::fs::File::create(&out_path).expect("create");
        let report = bench
            .console
            .export(
                &geoconsole_app::Scope::everything(),
                &id("quakes"),
                format,
                FeatureQuery::all(),
                None,
                Box::new(std::io::BufWriter::new(file)),
                None,
            )
            .await
            .expect("export");
        assert_eq!(report.features, 2389);
        let again = bench
            .console
            .import(
                &out_path,
                bench.options(&format!("again_{}", format.name())),
            )
            .await
            .expect("re-import");
        assert_eq!(again.imported, 2389, "{format}");
        assert_eq!(
            again.dataset.time_extent,
            bench
                .console
                .dataset(&geoconsole_app::Scope::everything(), &id("quakes"))
                .await
                .expect("d")
                .time_extent,
            "{format}"
        );
    }
}

#[tokio::test]
async fn adding_to_a_dataset_keeps_its_title_kind_and_time_fields() {
    let bench = Bench::new();
    let first = bench.file(
        "quakes.geojson",
        collection(&[quake("q1", 1.0, 1.0, 1_700_000_000_000)]),
    );
    let created = bench
        .console
        .import(
            &first,
            ImportOptions {
                title: Some("Earthquakes (USGS)".into()),
                ..bench.options("quakes")
            },
        )
        .await
        .expect("create");
    assert_eq!(created.dataset.time_fields.start.as_deref(), Some("time"));
    // What a feed does: upsert features that carry their own time, naming neither title nor time field.
    let at = chrono::DateTime::from_timestamp_millis(1_700_000_100_000).expect("time");
    let features = vec![geoconsole_model::Feature {
        id: Some(FeatureId("q2".into())),
        geometry: Some(geoconsole_model::geo_types::Point::new(2.0, 2.0).into()),
        time: Some(geoconsole_model::TimeSpan::instant(at)),
        properties: json!({"mag": 4.2, "time": 1_700_000_100_000_i64})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }];
    let upserted = bench
        .console
        .import_features(
            "feed usgs",
            features.into_iter(),
            ImportOptions {
                dataset: Some(id("quakes")),
                mode: WriteMode::Upsert,
                time_given: true,
                ..ImportOptions::default()
            },
        )
        .await
        .expect("upsert");
    assert_eq!(upserted.dataset.title, "Earthquakes (USGS)");
    assert_eq!(upserted.dataset.kind, DatasetKind::Events);
    assert_eq!(upserted.dataset.time_fields.start.as_deref(), Some("time"));
    assert_eq!(upserted.dataset.feature_count, 2);
}
