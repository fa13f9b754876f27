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
fn projected_crs_is_refused_and_wgs84_names_are_accepted() {
    let projected = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},"features":[]}"#;
    assert_eq!(
        first_error(projected),
        "in.geojson: line 1 column 101: the file declares CRS urn:ogc:def:crs:EPSG::3857; only WGS 84 longitude/latitude is read (reproject first, e.g. ogr2ogr -t_srs EPSG:4326)"
    );
    let qgis = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}]}"#;
    assert_eq!(first_error(qgis), "");
    assert_eq!(
        first_error(r#"{"type":"Topology","objects":{}}"#),
        "in.geojson: line 1 column 32: top-level type is 'Topology'; expected FeatureCollection or Feature"
    );
}
