//! No input may panic a reader: arbitrary bytes, and valid documents with bytes flipped, must come back as
//! features or located errors, never a crash. (A coverage-guided fuzzer needs a nightly toolchain this machine
//! does not have; these property tests run on every test run instead.)

use std::io::Cursor;
use std::path::Path;

use geoconsole_formats::{Format, ReadOptions, read_stream};
use proptest::prelude::*;

/// Reads everything a reader yields; panics propagate and fail the property.
fn drain(bytes: Vec<u8>, format: Option<Format>) -> usize {
    let options = ReadOptions {
        format,
        ..ReadOptions::default()
    };
    match read_stream(Path::new("input.bin"), Cursor::new(bytes), &options) {
        Ok((_, stream)) => stream.count(),
        Err(_) => 0,
    }
}

const VALID_GEOJSON: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"properties":{"x":1,"t":"2024-05-01T00:00:00Z"}},
{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]},"properties":null},
{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2,3]}]},"properties":{"n":[1,{"a":null}]}}
]}"#;

const VALID_CSV: &str = "id,lat,lon,name,when\n1,10.5,20.25,\"a, b\",2024-05-01\n2,-5,170,x,\n3,0,0,\"multi\nline\",2024-05-02T10:00:00Z\n";

const VALID_WKT_CSV: &str =
    "name,wkt\na,\"POLYGON((0 0,1 0,1 1,0 0))\"\nb,\"MULTIPOINT((1 2),(3 4))\"\n";

fn mutate(base: &str, flips: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = base.as_bytes().to_vec();
    for (at, byte) in flips {
        let i = at % bytes.len();
        bytes[i] = *byte;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in [None, Some(Format::GeoJson), Some(Format::GeoJsonSeq), Some(Format::Csv)] {
            drain(bytes.clone(), format);
        }
    }

    #[test]
    fn mutated_geojson_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let bytes = mutate(VALID_GEOJSON, &flips);
        drain(bytes.clone(), Some(Format::GeoJson));
        let lines: Vec<u8> = String::from_utf8_lossy(&bytes).replace('\n', " ").replace("}},", "}}\n").into_bytes();
        drain(lines, Some(Format::GeoJsonSeq));
    }

    #[test]
    fn mutated_csv_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        drain(mutate(VALID_CSV, &flips), Some(Format::Csv));
        drain(mutate(VALID_WKT_CSV, &flips), Some(Format::Csv));
    }
}

#[test]
fn the_unmutated_documents_read_whole() {
    assert_eq!(drain(VALID_GEOJSON.as_bytes().to_vec(), None), 3);
    assert_eq!(drain(VALID_CSV.as_bytes().to_vec(), Some(Format::Csv)), 3);
    assert_eq!(
        drain(VALID_WKT_CSV.as_bytes().to_vec(), Some(Format::Csv)),
        2
    );
}

fn first_error(json: &str) -> String {
    let (_, mut stream) = read_stream(
        Path::new("in.geojson"),
        Cursor::new(json.as_bytes().to_vec()),
        &ReadOptions::default(),
    )
    .expect("detected");
    stream
        .find_map(Result::err)
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn a_legacy_projected_crs_is_reprojected_an_unusable_one_refused_and_wgs84_names_accepted() {
    let features = |crs: &str, coordinates: &str| {
        let json = format!(
            r#"{{"type":"FeatureCollection","crs":{crs},"features":[{{"type":"Feature","geometry":{{"type":"Point","coordinates":{coordinates}}},"properties":{{}}}}]}}"#
        );
        let (_, stream) = read_stream(
            Path::new("in.geojson"),
            Cursor::new(json.into_bytes()),
            &ReadOptions::default(),
        )
        .expect("detected");
        stream.collect::<Vec<_>>()
    };
    let mercator = features(
        r#"{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}}"#,
        "[1113194.9079327357,2273030.926987689]",
    );
    let point = match &mercator[0].as_ref().expect("reprojected").feature.geometry {
        Some(geoconsole_model::geo_types::Geometry::Point(p)) => p.0,
        other => panic!("{other:?}"),
    };
    assert!(
        (point.x - 10.0).abs() < 1e-9 && (point.y - 20.0).abs() < 1e-9,
        "{point:?}"
    );
    let old_style = features(r#"{"type":"EPSG","properties":{"code":3857}}"#, "[0,0]");
    assert!(old_style[0].is_ok());
    let linked = features(
        r#"{"type":"link","properties":{"href":"http://example.com/crs/42"}}"#,
        "[0,0]",
    );
    let why = linked[0].as_ref().expect_err("refused").to_string();
    assert!(why.contains("only a CRS given by name"), "{why}");
    let late = r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}],"crs":{"type":"name","properties":{"name":"EPSG:3857"}}}"#;
    assert!(
        first_error(late).contains("comes after the features"),
        "{}",
        first_error(late)
    );
    let qgis = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}]}"#;
    assert_eq!(first_error(qgis), "");
    assert_eq!(
        first_error(r#"{"type":"Topology","objects":{}}"#),
        "in.geojson: line 1 column 32: top-level type is 'Topology'; expected FeatureCollection, Feature or a geometry"
    );
}
