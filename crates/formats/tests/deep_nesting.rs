//! Files that nest geometries deeper than a recursive parser can take. A stack overflow aborts the whole
//! process, so each reader must answer with an error naming the file, the line or feature and the depth,
//! and go on with the next feature. Readers parse on threads of the default 2 MiB; these tests read the
//! same way.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{BinaryArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use geoconsole_formats::{FormatErrorKind, FormatResult, ReadOptions, SourceFeature, open_reader};
use geoconsole_model::MAX_GEOMETRY_NESTING;
use geoconsole_model::geo_types::{Geometry, Point};

fn read(path: &Path) -> Vec<FormatResult<SourceFeature>> {
    let (_, stream) = open_reader(path, &ReadOptions::default()).expect("opens");
    stream.collect()
}

/// The one error among the items, which must be a per-feature one (the reader went on after it).
fn only_error(items: &[FormatResult<SourceFeature>]) -> String {
    let errors: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].kind(),
        FormatErrorKind::InvalidFeature,
        "{}",
        errors[0]
    );
    errors[0].to_string()
}

fn nested_text(open: &str, inner: &str, close: &str, levels: usize) -> String {
    format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
}

/// ISO WKB of a point inside `levels` geometry collections.
fn nested_wkb(levels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..levels {
        out.push(1);
        out.extend_from_slice(&7u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.push(1);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&1.0f64.to_le_bytes());
    out.extend_from_slice(&2.0f64.to_le_bytes());
    out
}

// Regression: a CSV cell holding WKT with 10,000 nested GEOMETRYCOLLECTIONs overflowed the reader's stack
// (the `wkt` crate recurses per level) and aborted the server during an upload's preview.
#[test]
fn a_csv_cell_nesting_ten_thousand_collections_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sites.csv");
    let deep = nested_text("GEOMETRYCOLLECTION(", "POINT(1 2)", ")", 10_000);
    std::fs::write(
        &path,
        format!("name,wkt\nfirst,POINT(1 2)\ndeep,\"{deep}\"\nafter,POINT(3 4)\n"),
    )
    .unwrap();
    let items = read(&path);
    assert_eq!(items.len(), 3, "the rows after it are read");
    let err = only_error(&items);
    assert!(
        err.starts_with("sites.csv: line 3: geometry collections nest 10000 levels deep"),
        "{err}"
    );
}

// Regression: a KML placemark with <MultiGeometry> nested 2,000 deep overflowed the `kml` crate's recursive
// reader.
#[test]
fn a_kml_multigeometry_nested_two_thousand_deep_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zones.kml");
    let point = "<Point><coordinates>1,2</coordinates></Point>";
    let deep = nested_text("<MultiGeometry>", point, "</MultiGeometry>", 2_000);
    let elements = nested_text("<a>", "x", "</a>", 5_000);
    let fine = nested_text(
        "<MultiGeometry>",
        point,
        "</MultiGeometry>",
        MAX_GEOMETRY_NESTING,
    );
    std::fs::write(
        &path,
        format!(
            r#"<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>deep</name>{deep}</Placemark>
<Placemark><name>fine</name>{fine}</Placemark>
<Placemark><name>odd</name><ExtendedData>{elements}</ExtendedData>{point}</Placemark>
</Document></kml>"#
        ),
    )
    .unwrap();
    let items = read(&path);
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        items[0].as_ref().unwrap_err().to_string(),
        format!(
            "zones.kml: feature 0: <MultiGeometry> nests 2000 levels deep; at most {MAX_GEOMETRY_NESTING} are accepted"
        )
    );
    assert!(items[1].is_ok(), "{:?}", items[1]);
    assert!(
        items[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("nests elements 5002 deep"),
        "{:?}",
        items[2]
    );
}

#[test]
fn geojson_collections_are_bounded_by_the_shared_limit_and_by_json_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let feature = |levels: usize| {
        format!(
            r#"{{"type":"Feature","properties":{{}},"geometry":{}}}"#,
            nested_text(
                r#"{"type":"GeometryCollection","geometries":["#,
                r#"{"type":"Point","coordinates":[1,2]}"#,
                "]}",
                levels
            )
        )
    };
    let path = dir.path().join("deep.geojsonl");
    std::fs::write(
        &path,
        format!("{}\n{}\n", feature(40), feature(MAX_GEOMETRY_NESTING)),
    )
    .unwrap();
    let items = read(&path);
    assert!(
        only_error(&items).contains("nest 40 levels deep"),
        "{items:?}"
    );
    let path = dir.path().join("deeper.geojson");
    std::fs::write(&path, feature(100_000)).unwrap();
    let items = read(&path);
    assert!(
        items.iter().any(|i| i
            .as_ref()
            .is_err_and(|e| e.message().contains("nested too deeply"))),
        "{items:?}"
    );
}

/// A GeoPackage with one feature table whose geometries are the given blobs.
fn geopackage(path: &Path, blobs: &[Vec<u8>]) {
    let conn = rusqlite::Connection::open(path).expect("a GeoPackage is built");
    geoconsole_formats::geopackage::create_core_tables(&conn).expect("a GeoPackage is built");
    conn.execute_batch("CREATE TABLE places (fid INTEGER PRIMARY KEY, geom BLOB, name TEXT)")
        .expect("a GeoPackage is built");
    geoconsole_formats::geopackage::register_feature_table(&conn, "places", "", "geom", "GEOMETRY")
        .expect("a GeoPackage is built");
    for (i, blob) in blobs.iter().enumerate() {
        let mut gp = b"GP\x00\x01".to_vec();
        gp.extend_from_slice(&4326i32.to_le_bytes());
        gp.extend_from_slice(blob);
        conn.execute(
            "INSERT INTO places (geom, name) VALUES (?1, ?2)",
            rusqlite::params![gp, format!("p{i}")],
        )
        .expect("a GeoPackage is built");
    }
}

// Regression: a GeoPackage blob nesting geometry collections 20,000 deep overflowed geozero's recursive WKB
// reader during `geoconsole import`.
#[test]
fn a_geopackage_blob_nesting_twenty_thousand_collections_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layers.gpkg");
    geopackage(
        &path,
        &[
            nested_wkb(0),
            nested_wkb(20_000),
            nested_wkb(MAX_GEOMETRY_NESTING),
        ],
    );
    let items = read(&path);
    assert_eq!(items.len(), 3);
    let err = only_error(&items);
    assert!(
        err.starts_with("layers.gpkg: feature 1: unreadable geometry blob: byte 8: geometry collections nest 20000 levels deep"),
        "{err}"
    );
}

#[test]
fn an_empty_geopackage_geometry_is_a_feature_without_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.gpkg");
    let mut empty_line = vec![1u8];
    empty_line.extend_from_slice(&2u32.to_le_bytes());
    empty_line.extend_from_slice(&0u32.to_le_bytes());
    geopackage(&path, &[empty_line]);
    // GDAL reads `LINESTRING EMPTY` as a feature with an empty geometry: kept, unlocated.
    let items = read(&path);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().expect("kept").feature.geometry, None);
}

// Found by an outside tester: one `LINESTRING EMPTY` member refused the whole import ("empty geometry
// collection"); GDAL keeps the feature, located by its other members.
#[test]
fn an_empty_member_of_a_geopackage_collection_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.gpkg");
    let mut collection = vec![1u8];
    collection.extend_from_slice(&7u32.to_le_bytes());
    collection.extend_from_slice(&2u32.to_le_bytes());
    collection.push(1);
    collection.extend_from_slice(&2u32.to_le_bytes());
    collection.extend_from_slice(&0u32.to_le_bytes());
    collection.push(1);
    collection.extend_from_slice(&1u32.to_le_bytes());
    collection.extend_from_slice(&1.5f64.to_le_bytes());
    collection.extend_from_slice(&2.5f64.to_le_bytes());
    geopackage(&path, &[collection]);
    let items = read(&path);
    let geometry = items[0].as_ref().expect("kept").feature.geometry.clone();
    let Some(Geometry::GeometryCollection(members)) = geometry else {
        panic!("{geometry:?}");
    };
    assert_eq!(members.0, vec![Geometry::Point(Point::new(1.5, 2.5))]);
}

#[test]
fn a_geoparquet_wkb_nesting_twenty_thousand_collections_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let rows = [nested_wkb(1), nested_wkb(20_000)];
    let column = BinaryArray::from_iter_values(rows.iter());
    let schema = Arc::new(Schema::new(vec![Field::new(
        "geometry",
        DataType::Binary,
        false,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(column)]).unwrap();
    let geo = r#"{"version":"1.1.0","primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","geometry_types":[]}}}"#;
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(
        "geo".to_string(),
        geo.to_string(),
    ));
    writer.close().unwrap();
    let err = only_error(&read(&path));
    assert!(
        err.starts_with("events.parquet: feature 1: unreadable WKB geometry: byte 0: geometry collections nest 20000 levels deep"),
        "{err}"
    );
}

/// A FlatGeobuf file (no index, no columns) of one feature: a point inside `levels` collections, written
/// as nested `parts` by hand, since the crate's writer flattens nested collections.
fn flatgeobuf(levels: &[usize]) -> Vec<u8> {
    use flatgeobuf::{
        Feature, FeatureArgs, Geometry as FgbGeometry, GeometryArgs, GeometryType as FgbType,
        Header, HeaderArgs,
    };
    let mut file = vec![b'f', b'g', b'b', 3, b'f', b'g', b'b', 0];
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let name = fbb.create_string("parts");
    let header = Header::create(
        &mut fbb,
        &HeaderArgs {
            name: Some(name),
            geometry_type: FgbType::Unknown,
            features_count: levels.len() as u64,
            index_node_size: 0,
            ..Default::default()
        },
    );
    fbb.finish_size_prefixed(header, None);
    file.extend_from_slice(fbb.finished_data());
    for &depth in levels {
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let xy = fbb.create_vector(&[1.0f64, 2.0]);
        let mut geometry = FgbGeometry::create(
            &mut fbb,
            &GeometryArgs {
                xy: Some(xy),
                type_: FgbType::Point,
                ..Default::default()
            },
        );
        for _ in 0..depth {
            let parts = fbb.create_vector(&[geometry]);
            geometry = FgbGeometry::create(
                &mut fbb,
                &GeometryArgs {
                    parts: Some(parts),
                    type_: FgbType::GeometryCollection,
                    ..Default::default()
                },
            );
        }
        let feature = Feature::create(
            &mut fbb,
            &FeatureArgs {
                geometry: Some(geometry),
                ..Default::default()
            },
        );
        fbb.finish_size_prefixed(feature, None);
        file.extend_from_slice(fbb.finished_data());
    }
    file
}

/// FlatGeobuf's flatbuffers are verified with a depth limit of 64 tables, which bounds how deep `parts`
/// nest before geozero's recursive reader sees them; within it, the shared limit refuses what is deeper.
#[test]
fn flatgeobuf_collections_deeper_than_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (levels, expected) in [
        (MAX_GEOMETRY_NESTING, None),
        (40, Some("nest 40 levels deep")),
        (20_000, Some("unreadable feature")),
    ] {
        let path = dir.path().join(format!("parts{levels}.fgb"));
        std::fs::write(&path, flatgeobuf(&[levels])).unwrap();
        let items = read(&path);
        assert_eq!(items.len(), 1, "{levels}: {items:?}");
        match expected {
            None => assert!(items[0].is_ok(), "{levels}: {items:?}"),
            Some(why) => {
                let err = items[0].as_ref().unwrap_err().to_string();
                assert!(err.contains(why), "{levels}: {err}");
            }
        }
    }
}

// xml-rs (under the `gpx` crate) slows down with depth (100,000 nested elements took minutes), so GPX
// elements are measured as they are cut out, before they are parsed.
#[test]
fn gpx_documents_nesting_too_deep_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("walk.gpx");
    let mut file = std::fs::File::create(&path).unwrap();
    write!(
        file,
        r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="1" lon="2"><name>a</name><extensions>{}</extensions></wpt></gpx>"#,
        nested_text("<x>", "y", "</x>", 100_000)
    )
    .unwrap();
    drop(file);
    let started = std::time::Instant::now();
    // The GPX reader cuts each element out as it goes, and stops at the first that nests too deep.
    let items = read(&path);
    let err = items
        .iter()
        .find_map(|i| i.as_ref().err())
        .expect("refused");
    assert!(
        err.to_string()
            .contains("nests elements 65 deep; at most 64"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// A Parquet file with no rows whose schema nests `levels` groups, its footer written by hand in Thrift's
/// compact protocol (no writer makes such a schema).
fn deep_parquet_schema(levels: usize) -> Vec<u8> {
    fn varint(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    fn zigzag(n: i64, out: &mut Vec<u8>) {
        varint(((n << 1) ^ (n >> 63)) as u64, out);
    }
    // SchemaElement: type (1, i32), repetition_type (3, i32), name (4, binary), num_children (5, i32).
    fn element(name: &str, children: Option<i64>, leaf_type: Option<i64>, out: &mut Vec<u8>) {
        let mut last = 0;
        if let Some(t) = leaf_type {
            out.push(0x15);
            zigzag(t, out);
            last = 1;
        }
        out.push(((3 - last) << 4) | 5);
        zigzag(1, out);
        out.push(0x18);
        varint(name.len() as u64, out);
        out.extend_from_slice(name.as_bytes());
        if let Some(n) = children {
            out.push(0x15);
            zigzag(n, out);
        }
        out.push(0);
    }
    let mut meta = vec![0x15];
    zigzag(1, &mut meta);
    meta.push(0x19);
    meta.push(0xfc);
    varint(levels as u64 + 2, &mut meta);
    element("schema", Some(1), None, &mut meta);
    for i in 0..levels {
        element(&format!("g{i}"), Some(1), None, &mut meta);
    }
    element("x", None, Some(1), &mut meta);
    meta.push(0x16);
    zigzag(0, &mut meta);
    meta.extend_from_slice(&[0x19, 0x0c, 0]);
    let mut file = b"PAR1".to_vec();
    file.extend_from_slice(&meta);
    file.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    file.extend_from_slice(b"PAR1");
    file
}

// Regression: the parquet crate rebuilds a file's schema by recursion, so a GeoParquet upload whose 13 KB
// footer nested 1,000 groups overflowed the stack and aborted the process.
#[test]
fn a_parquet_schema_nesting_a_thousand_groups_is_refused_before_it_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.parquet");
    std::fs::write(&path, deep_parquet_schema(100_000)).unwrap();
    let err = open_reader(&path, &ReadOptions::default())
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "deep.parquet: the Parquet schema nests 100001 levels deep; at most 32 are accepted"
    );
    // Shallow, the same hand-made footer reads as Parquet (and is refused for what it lacks).
    std::fs::write(&path, deep_parquet_schema(3)).unwrap();
    let err = open_reader(&path, &ReadOptions::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("'geo' metadata"), "{err}");
}
