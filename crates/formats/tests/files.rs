//! The KML, GPX and zip readers on hand-made files: what each element becomes, and how damaged or hostile
//! files are refused. (Files written by GDAL are checked through the binary in the CLI tests.)

use std::io::{Cursor, Write};
use std::path::Path;

use geoconsole_formats::{
    ArchiveLimits, Format, FormatErrorKind, FormatResult, ReadOptions, SourceFeature, open_reader,
    read_stream,
};
use geoconsole_model::geo_types::{Geometry, MultiPoint, Point};
use serde_json::json;

fn read(name: &str, text: &str, options: &ReadOptions) -> Vec<FormatResult<SourceFeature>> {
    let (_, stream) = read_stream(
        Path::new(name),
        Cursor::new(text.as_bytes().to_vec()),
        options,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    stream.collect()
}

const KML: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Ops</name>
<Folder><name>Depots &amp; yards</name>
  <Folder><name>North</name>
    <Placemark><name>Depot 1</name><description>Main</description>
      <TimeStamp><when>2024-05-01T10:00:00Z</when></TimeStamp>
      <ExtendedData><Data name="capacity"><value>40</value></Data></ExtendedData>
      <Point><coordinates>10.5,59.9,12</coordinates></Point></Placemark>
  </Folder>
  <Placemark><name>Yard</name>
    <TimeSpan><begin>2024-05-01</begin><end>2024-05-03</end></TimeSpan>
    <ExtendedData><SchemaData schemaUrl="#s"><SimpleData name="kind">rail</SimpleData></SchemaData></ExtendedData>
    <MultiGeometry>
      <Polygon><outerBoundaryIs><LinearRing><coordinates>0,0 1,0 1,1 0,0</coordinates></LinearRing></outerBoundaryIs></Polygon>
      <Polygon><outerBoundaryIs><LinearRing><coordinates>2,2 3,2 3,3 2,2</coordinates></LinearRing></outerBoundaryIs></Polygon>
    </MultiGeometry></Placemark>
</Folder>
<Placemark><name>Note only</name><description>no place</description></Placemark>
</Document></kml>"##;

#[test]
fn kml_placemarks_carry_folders_times_and_extended_data() {
    let items = read("ops.kml", KML, &ReadOptions::default());
    assert_eq!(items.len(), 3);
    let depot = &items[0].as_ref().expect("depot").feature;
    assert_eq!(
        serde_json::Value::Object(depot.properties.clone()),
        json!({"name": "Depot 1", "description": "Main", "folder": "Depots & yards/North",
               "timestamp": "2024-05-01T10:00:00Z", "capacity": "40"})
    );
    assert!(matches!(depot.geometry, Some(Geometry::Point(_))));
    let yard = &items[1].as_ref().expect("yard").feature;
    assert_eq!(yard.properties["folder"], "Depots & yards");
    assert_eq!(yard.properties["begin"], "2024-05-01");
    assert_eq!(yard.properties["kind"], "rail");
    assert!(matches!(yard.geometry, Some(Geometry::MultiPolygon(ref m)) if m.0.len() == 2));
    // A placemark with only a description is a feature without a location, as GDAL keeps it.
    let note = &items[2].as_ref().expect("note").feature;
    assert_eq!(note.geometry, None);
    assert_eq!(note.properties["description"], "no place");
}

// Found by an outside tester: an empty `<Point>` panicked the `kml` crate, and the whole file was refused.
// GDAL reads it as an empty point: left out of its MultiGeometry, or an unlocated placemark on its own.
#[test]
fn kml_points_without_coordinates_are_left_out() {
    let kml = r#"<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>a</name><MultiGeometry><Point><coordinates> </coordinates></Point><Point><coordinates>1,2</coordinates></Point></MultiGeometry></Placemark>
<Placemark><name>b</name><Point><altitudeMode>absolute</altitudeMode><coordinates></coordinates></Point></Placemark>
<Placemark><name>c</name><Point><coordinates/></Point></Placemark>
<Placemark><name>d</name><Point><coordinates>3,4</coordinates></Point></Placemark>
<Placemark><name>e</name><Point><coordinates><![CDATA[5,6]]></coordinates></Point></Placemark>
</Document></kml>"#;
    let items = read("empty.kml", kml, &ReadOptions::default());
    let geometries: Vec<Option<Geometry<f64>>> = items
        .into_iter()
        .map(|i| i.expect("read").feature.geometry)
        .collect();
    assert_eq!(
        geometries,
        [
            Some(Geometry::MultiPoint(MultiPoint(vec![Point::new(1.0, 2.0)]))),
            None,
            None,
            Some(Geometry::Point(Point::new(3.0, 4.0))),
            Some(Geometry::Point(Point::new(5.0, 6.0))),
        ]
    );
}

#[test]
fn damaged_kml_and_gpx_are_refused_with_the_reason() {
    let cut = &KML[..KML.find("<MultiGeometry>").expect("cut point") + 20];
    let items = read("cut.kml", cut, &ReadOptions::default());
    let last = items
        .last()
        .expect("items")
        .as_ref()
        .expect_err("cut short");
    assert_eq!(last.kind(), FormatErrorKind::Syntax);
    assert!(last.to_string().contains("cut short"), "{last}");
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><kml><Placemark><name>&b;</name><Point><coordinates>1,1</coordinates></Point></Placemark></kml>"#;
    let items = read("bomb.kml", bomb, &ReadOptions::default());
    assert!(
        items[0]
            .as_ref()
            .expect_err("doctype")
            .to_string()
            .contains("DOCTYPE")
    );
    let gpx_bomb = bomb.replace("kml", "gpx");
    // GPX is walked element by element, like KML: the refusal is the stream's first item.
    let error = match read_stream(
        Path::new("bomb.gpx"),
        Cursor::new(gpx_bomb.into_bytes()),
        &ReadOptions::default(),
    ) {
        Err(e) => e,
        Ok((_, mut stream)) => stream.find_map(Result::err).expect("refused"),
    };
    assert!(error.to_string().contains("DOCTYPE"), "{error}");
}

const GPX: &str = r#"<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="59.9" lon="10.7"><ele>12.5</ele><time>2024-05-01T10:00:00Z</time><name>Depot</name></wpt>
<rte><name>Delivery</name><rtept lat="59.9" lon="10.7"/><rtept lat="60.0" lon="10.8"/></rte>
<trk><name>Truck 7</name><trkseg><trkpt lat="59.9" lon="10.7"/><trkpt lat="59.95" lon="10.75"/></trkseg>
<trkseg><trkpt lat="60.0" lon="10.8"/><trkpt lat="60.1" lon="10.9"/></trkseg></trk></gpx>"#;

#[test]
fn gpx_layers_are_gdals() {
    let all = read("trip.gpx", GPX, &ReadOptions::default());
    let kinds: Vec<&str> = all
        .iter()
        .map(|i| {
            i.as_ref().expect("ok").feature.properties["gpx_type"]
                .as_str()
                .expect("kind")
        })
        .collect();
    assert_eq!(kinds, ["waypoint", "route", "track"]);
    let layer = |name: &str| ReadOptions {
        layer: Some(name.into()),
        ..ReadOptions::default()
    };
    let points = read("trip.gpx", GPX, &layer("track_points"));
    assert_eq!(points.len(), 4);
    let last = &points[3].as_ref().expect("point").feature.properties;
    assert_eq!(
        (
            last["track_seg_id"].as_u64(),
            last["track_seg_point_id"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let waypoints = read("trip.gpx", GPX, &layer("waypoints"));
    let waypoint = &waypoints[0].as_ref().expect("wpt").feature;
    assert_eq!(waypoint.properties["ele"], 12.5);
    assert_eq!(waypoint.properties["time"], "2024-05-01T10:00:00.000Z");
    let error = read_stream(
        Path::new("trip.gpx"),
        Cursor::new(GPX.as_bytes().to_vec()),
        &layer("tracks2"),
    )
    .err()
    .expect("no such layer");
    assert!(
        error
            .to_string()
            .contains("layers: waypoints, routes, tracks"),
        "{error}"
    );
}

fn zip(path: &Path, entries: &[(&str, &[u8])]) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).expect("entry");
        writer.write_all(bytes).expect("write");
    }
    writer.finish().expect("finish");
}

#[test]
fn archives_are_opened_within_their_caps() {
    let dir = tempfile::tempdir().expect("dir");
    let kmz = dir.path().join("ops.kmz");
    zip(
        &kmz,
        &[("doc.kml", KML.as_bytes()), ("files/icon.png", b"\x89PNG")],
    );
    let (format, stream) = open_reader(&kmz, &ReadOptions::default()).expect("kmz");
    assert_eq!(format, Format::Kml);
    // The two placemarks with a place and the note without one.
    assert_eq!(stream.filter(Result::is_ok).count(), 3);

    // A small file that inflates to 50 MB, against a 1 MB cap: refused while inflating, nothing kept.
    let bomb = dir.path().join("bomb.zip");
    zip(&bomb, &[("big.csv", &vec![b'0'; 50 << 20])]);
    assert!(std::fs::metadata(&bomb).expect("size").len() < 1 << 20);
    let capped = ReadOptions {
        archive: ArchiveLimits {
            max_entries: 10,
            max_inflated_bytes: 1 << 20,
            ..ArchiveLimits::default()
        },
        ..ReadOptions::default()
    };
    // A text member streams from the archive: the cap ends the read.
    let error = match open_reader(&bomb, &capped) {
        Err(e) => e,
        Ok((_, mut stream)) => stream
            .find_map(Result::err)
            .expect("bomb refused while reading"),
    };
    assert!(
        error
            .to_string()
            .contains("beyond the 1048576 bytes allowed"),
        "{error}"
    );

    let two = dir.path().join("two.zip");
    zip(
        &two,
        &[("a.kml", KML.as_bytes()), ("b.gpx", GPX.as_bytes())],
    );
    let error = open_reader(&two, &ReadOptions::default())
        .err()
        .expect("ambiguous");
    assert!(
        error.to_string().contains("choose one with --layer"),
        "{error}"
    );
    let chosen = ReadOptions {
        layer: Some("b".into()),
        ..ReadOptions::default()
    };
    let (format, _) = open_reader(&two, &chosen).expect("chosen member");
    assert_eq!(format, Format::Gpx);
}

#[test]
fn flatgeobuf_bbox_reads_use_the_index_and_agree_with_a_full_read() {
    use geoconsole_formats::{WriterLayout, create_writer};
    use geoconsole_model::{Bbox, Feature, GeometryType, Schema};
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("grid.fgb");
    let layout = WriterLayout {
        name: "grid".into(),
        schema: Schema::default(),
        geometry_type: GeometryType::Point,
    };
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = create_writer(Format::FlatGeobuf, Box::new(file), &layout).expect("writer");
    for x in -50..50 {
        for y in -40..40 {
            let feature = Feature {
                id: None,
                geometry: Some(
                    geoconsole_model::geo_types::Point::new(f64::from(x), f64::from(y)).into(),
                ),
                time: None,
                properties: serde_json::Map::new(),
            };
            writer.write_feature(&feature).expect("write");
        }
    }
    writer.finish().expect("finish");
    let bbox = Bbox::new(-10.5, -5.5, 10.5, 5.5).expect("bbox");
    let boxed = ReadOptions {
        bbox: Some(bbox),
        ..ReadOptions::default()
    };
    let (_, stream) = open_reader(&path, &boxed).expect("open");
    assert_eq!(stream.filter(Result::is_ok).count(), 21 * 11);
    let (_, all) = open_reader(&path, &ReadOptions::default()).expect("open");
    let inside = all
        .filter_map(Result::ok)
        .filter(|f| {
            f.feature
                .geometry
                .as_ref()
                .and_then(Bbox::of_geometry)
                .is_some_and(|b| b.intersects(&bbox))
        })
        .count();
    assert_eq!(inside, 21 * 11);
}

/// GeoJSON numbers are read to the nearest double, as ogr2ogr and the CSV reader read them: without
/// serde_json's exact float parsing, `1.4000000000000001` came back as `1.4` and coordinates moved by an ULP.
#[test]
fn geojson_numbers_are_read_exactly() {
    let hard = [
        "1.4000000000000001",
        "0.30000000000000004",
        "-179.99999999999997",
        "2.2250738585072014e-308",
        "9007199254740993.0",
        "0.1",
    ];
    let features: Vec<String> = hard
        .iter()
        .map(|n| {
            format!(
                r#"{{"type":"Feature","properties":{{"v":{n}}},"geometry":{{"type":"Point","coordinates":[{lon},-89.99999999999997]}}}}"#,
                lon = if n.starts_with('9') { "0" } else { n }
            )
        })
        .collect();
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    );
    let items = read("exact.geojson", &text, &ReadOptions::default());
    for (item, n) in items.iter().zip(hard) {
        let feature = &item.as_ref().expect("feature").feature;
        let expected: f64 = n.parse().expect("number");
        assert_eq!(
            feature.properties["v"].as_f64().map(f64::to_bits),
            Some(expected.to_bits()),
            "property {n}"
        );
        let Some(Geometry::Point(p)) = feature.geometry else {
            panic!("point")
        };
        if expected.abs() <= 180.0 {
            assert_eq!(p.x().to_bits(), expected.to_bits(), "coordinate {n}");
        }
        assert_eq!(p.y().to_bits(), (-89.99999999999997_f64).to_bits());
    }
}
