//! The cases an outside review found by comparing the readers with GDAL 3.6 (files in `fixtures/repro/`):
//! indented ODS, blank header cells, the default sheet, a legacy `crs` after the features and a bare
//! geometry document. What GDAL makes of each file is in the fixtures README.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use geoconsole_formats::{
    CsvOptions, FormatResult, ReadOptions, SourceFeature, open_reader, read_stream,
};
use geoconsole_model::geo_types::{Geometry, Point};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/repro")
        .join(name)
}

fn open(path: &Path, options: &ReadOptions) -> FormatResult<Vec<FormatResult<SourceFeature>>> {
    open_reader(path, options).map(|(_, stream)| stream.collect())
}

fn features(path: &Path, options: &ReadOptions) -> Vec<SourceFeature> {
    open(path, options)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|item| item.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn first_error(path: &Path, options: &ReadOptions) -> String {
    match open(path, options) {
        Err(e) => e.to_string(),
        Ok(items) => items
            .into_iter()
            .find_map(Result::err)
            .map(|e| e.to_string())
            .unwrap_or_default(),
    }
}

fn point(feature: &SourceFeature) -> (f64, f64) {
    match &feature.feature.geometry {
        Some(Geometry::Point(Point(c))) => (c.x, c.y),
        other => panic!("not a point: {other:?}"),
    }
}

fn properties(feature: &SourceFeature) -> Value {
    Value::Object(feature.feature.properties.clone())
}

#[test]
fn an_ods_indented_between_elements_reads_like_any_other() {
    let sites = features(
        &fixture("ods_pretty_printed_latlon.ods"),
        &ReadOptions::default(),
    );
    assert_eq!(sites.len(), 2);
    assert_eq!(point(&sites[0]), (2.35, 48.85));
    assert_eq!(properties(&sites[1]), json!({"site": "B"}));
    // KSpread's own file has no coordinates: it is read, and the sheet and its columns are named
    let why = first_error(&fixture("pythagoras-kspread.ods"), &ReadOptions::default());
    assert!(
        why.contains("no sheet has coordinate columns") && why.contains("'Sheet1' (3)"),
        "{why}"
    );
}

/// An ODS package with `content.xml` as given and the members calamine needs.
fn ods(path: &Path, content: &str) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("ods"));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let members = [
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        (
            "META-INF/manifest.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#,
        ),
        ("content.xml", content),
    ];
    for (name, text) in members {
        zip.start_file(name, options).expect("member");
        zip.write_all(text.as_bytes()).expect("write");
    }
    zip.finish().expect("zip");
}

fn cell(text: &str) -> String {
    format!(
        "\n          <table:table-cell office:value-type=\"string\">\n            <text:p>{text}</text:p>\n          </table:table-cell>"
    )
}

#[test]
fn indentation_is_dropped_but_spaces_inside_a_cell_are_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("spans.ods");
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">
  <office:body>
    <office:spreadsheet>
      <table:table table:name="Places">
        <table:table-row>{}{}{}
        </table:table-row>
        <table:table-row>{}{}{}
        </table:table-row>
      </table:table>
    </office:spreadsheet>
  </office:body>
</office:document-content>
"#,
        cell("lat"),
        cell("lon"),
        cell("name"),
        cell("10"),
        cell("20"),
        cell("<text:span>North</text:span> <text:span>Gate</text:span> &amp; yard"),
    );
    ods(&path, &content);
    let sites = features(&path, &ReadOptions::default());
    assert_eq!(sites.len(), 1);
    assert_eq!(point(&sites[0]), (20.0, 10.0));
    assert_eq!(properties(&sites[0]), json!({"name": "North Gate & yard"}));
    // a content.xml that is not XML, or not a sheet's, is refused in words, not with parser events
    ods(&path, "<office:document-content><table:table");
    let why = first_error(&path, &ReadOptions::default());
    assert!(why.contains("content.xml is not well-formed XML"), "{why}");
    ods(
        &path,
        r#"<office:document-content><table:table table:name="S"><table:table-row>stray<table:table-cell/></table:table-row></table:table></office:document-content>"#,
    );
    let why = first_error(&path, &ReadOptions::default());
    assert!(
        why.contains("the ods workbook cannot be read: its sheet data is not laid out"),
        "{why}"
    );
    assert!(
        !why.contains("Text(") && !why.contains("Expecting"),
        "{why}"
    );
}

#[test]
fn blank_header_cells_are_named_after_their_column_as_gdal_names_them() {
    let sheet = features(
        &fixture("xlsx_two_blank_header_cells.xlsx"),
        &ReadOptions::default(),
    );
    assert_eq!(sheet.len(), 2);
    let keys: Vec<&String> = sheet[0].feature.properties.keys().collect();
    assert_eq!(keys, ["site", "Field4", "Field5", "note"]);
    let csv = features(
        &fixture("csv_two_blank_header_cells.csv"),
        &ReadOptions::default(),
    );
    assert_eq!(point(&csv[1]), (-0.12, 51.5));
    let keys: Vec<&String> = csv[0].feature.properties.keys().collect();
    assert_eq!(keys, ["site", "field_4", "field_5", "note"]);
    // a real sheet whose header row is mostly blank (notes above the table)
    let why = first_error(&fixture("deaths.xlsx"), &ReadOptions::default());
    assert!(
        why.contains("'arts' (Lots of people, Field2, Field3, Field4, Field5, Field6)")
            && why.contains("'other' ("),
        "{why}"
    );
}

#[test]
fn the_default_sheet_is_the_first_with_coordinates_and_layer_still_chooses() {
    let path = fixture("xlsx_default_sheet_is_notes.xlsx");
    let points = features(&path, &ReadOptions::default());
    assert_eq!(points.len(), 1);
    assert_eq!(point(&points[0]), (6.0, 5.0));
    let notes = ReadOptions {
        layer: Some("Notes".into()),
        ..ReadOptions::default()
    };
    let why = first_error(&path, &notes);
    assert!(
        why.contains("sheet 'Notes'") && why.contains("no coordinate columns found"),
        "{why}"
    );
    // columns named on the command line choose the sheet that has them
    let named = ReadOptions {
        csv: CsvOptions {
            lat: Some("a".into()),
            lon: Some("b".into()),
            ..CsvOptions::default()
        },
        ..ReadOptions::default()
    };
    let summary = features(&path, &named);
    assert_eq!(point(&summary[0]), (2.0, 1.0));
    let nowhere = ReadOptions {
        csv: CsvOptions {
            wkt: Some("shape".into()),
            ..CsvOptions::default()
        },
        ..ReadOptions::default()
    };
    let why = first_error(&path, &nowhere);
    assert!(
        why.contains("no sheet has coordinate columns")
            && why.contains("'Notes' (Readme text); 'Summary' (a, b); 'Pts' (lat, lon)"),
        "{why}"
    );
}

#[test]
fn a_crs_after_the_features_of_a_file_reprojects_them() {
    let moved = features(
        &fixture("geojson_crs_member_after_features.geojson"),
        &ReadOptions::default(),
    );
    assert_eq!(moved.len(), 1);
    let (x, y) = point(&moved[0]);
    assert!(
        (x - 10.0).abs() < 1e-9 && (y - 10.0).abs() < 1e-9,
        "{x} {y}"
    );
}

#[test]
fn a_crs_after_features_that_cannot_be_read_again_is_refused_in_words() {
    let text =
        std::fs::read(fixture("geojson_crs_member_after_features.geojson")).expect("fixture");
    let stream = |bytes: Vec<u8>| -> String {
        let (_, items) = read_stream(
            Path::new("in.geojson"),
            Cursor::new(bytes),
            &ReadOptions::default(),
        )
        .expect("detected");
        items
            .filter_map(Result::err)
            .map(|e| e.to_string())
            .next()
            .unwrap_or_default()
    };
    // an import stops at the first feature, out of range as WGS84, before the `crs` is reached: the
    // message says what to try
    let why = stream(text);
    assert!(
        why.contains("longitude 1113194.9") && why.contains("import the document from a file"),
        "{why}"
    );
    // coordinates that pass as WGS84 are caught when the `crs` arrives (so nothing is imported)
    let small = r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}],"crs":{"type":"name","properties":{"name":"EPSG:3857"}}}"#;
    assert!(
        stream(small.into()).contains("comes after the features"),
        "{}",
        stream(small.into())
    );
    // a file with a `crs` before its features, or none, gets no such hint
    let bad = r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[500,2]},"properties":{}}],"name":"x"}"#;
    assert!(
        stream(bad.into()).contains("feature 0: longitude 500"),
        "{}",
        stream(bad.into())
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("bad.geojson");
    std::fs::write(&file, bad).expect("write");
    let why = first_error(&file, &ReadOptions::default());
    assert!(
        why.contains("longitude 500") && !why.contains("`crs`"),
        "{why}"
    );
    // a file whose members after the features are longer than the look at its end is read as a stream
    let path = dir.path().join("long.geojson");
    let long = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","geometry":{{"type":"Point","coordinates":[1,2]}},"properties":{{}}}}],"crs":{{"type":"name","properties":{{"name":"EPSG:3857"}}}},"note":"{}"}}"#,
        "x".repeat(1_100_000)
    );
    std::fs::write(&path, long).expect("write");
    let why = first_error(&path, &ReadOptions::default());
    assert!(why.contains("comes after the features"), "{why}");
}

#[test]
fn a_bare_geometry_document_is_one_feature() {
    let one = features(
        &fixture("geojson_bare_geometry.geojson"),
        &ReadOptions::default(),
    );
    assert_eq!(one.len(), 1);
    assert_eq!(point(&one[0]), (1.0, 2.0));
    assert_eq!(properties(&one[0]), json!({}));
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bare.geojson");
    std::fs::write(
        &path,
        r#"{"type":"GeometryCollection","bbox":[0,0,3,3],"geometries":[{"type":"Point","coordinates":[0,0]},{"type":"LineString","coordinates":[[1,1],[3,3]]}]}"#,
    )
    .expect("write");
    let collection = features(&path, &ReadOptions::default());
    assert!(matches!(
        collection[0].feature.geometry,
        Some(Geometry::GeometryCollection(ref g)) if g.0.len() == 2
    ));
    std::fs::write(&path, r#"{"type":"Polygon","coordinates":[[[0,0],[1,0]]]}"#).expect("write");
    let why = first_error(&path, &ReadOptions::default());
    assert!(why.contains("feature 0"), "{why}");
}

/// Found by an outside tester: in a file with Windows line endings every row's error named the line above
/// it (the `csv` crate counts a CRLF's LF late). The same rows with LF, CRLF, mixed and CR-only endings,
/// a quoted cell spanning lines and a short row must name the same lines.
#[test]
fn csv_rows_name_their_lines_whatever_the_line_endings() {
    let dir = tempfile::tempdir().expect("folder");
    let rows = [
        "id,lat,lon",
        "1,1,1",
        "2,1,x",
        "3,\"a{EOL}b\",1",
        "4,1",
        "",
        "5,1,y",
    ];
    let lines_named = |eol: &str, name: &str| -> Vec<String> {
        let path = dir.path().join(name);
        let text = rows.join(eol).replace("{EOL}", eol) + eol;
        std::fs::write(&path, text).expect("written");
        open(&path, &ReadOptions::default())
            .expect("opens")
            .into_iter()
            .filter_map(Result::err)
            .map(|e| {
                let text = e.to_string();
                text.split(':')
                    .nth(1)
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let expected = vec!["line 3", "line 4", "line 6", "line 8"];
    assert_eq!(lines_named("\n", "lf.csv"), expected);
    assert_eq!(lines_named("\r\n", "crlf.csv"), expected);
    // Mixed: the header and the first rows in CRLF, the rest LF.
    let path = dir.path().join("mixed.csv");
    std::fs::write(
        &path,
        "id,lat,lon\r\n1,1,1\r\n2,1,x\n3,\"a\r\nb\",1\n4,1\r\n\n5,1,y\n",
    )
    .expect("written");
    let mixed: Vec<String> = open(&path, &ReadOptions::default())
        .expect("opens")
        .into_iter()
        .filter_map(Result::err)
        .map(|e| {
            e.to_string()
                .split(':')
                .nth(1)
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect();
    assert_eq!(mixed, expected);
}
