//! One rule for empty geometries and empty parts, whichever format brings them (an outside tester found
//! GeoJSON, WKT and WKB each deciding differently):
//! - a geometry with no position at all (`MULTIPOLYGON (EMPTY)`, `"coordinates": [[]]`) is a feature without
//!   a location, as GDAL keeps it with an empty geometry;
//! - an empty member of a geometry collection is left out, the other members locate the feature;
//! - an empty part beside real parts of a multi-geometry, or an empty ring beside a real one, is refused with
//!   the part named: its positions were lost somewhere, and drawing the rest would hide that.

use std::path::Path;

use geoconsole_formats::{FormatResult, ReadOptions, SourceFeature, open_reader};

#[derive(Debug, PartialEq)]
enum Outcome {
    Unlocated,
    Located,
    Refused(String),
}

fn outcome(items: Vec<FormatResult<SourceFeature>>) -> Outcome {
    assert_eq!(items.len(), 1, "{items:?}");
    match items.into_iter().next().expect("one item") {
        Ok(f) if f.feature.geometry.is_none() => Outcome::Unlocated,
        Ok(_) => Outcome::Located,
        Err(e) => Outcome::Refused(e.to_string()),
    }
}

fn read(path: &Path) -> Outcome {
    let (_, stream) = open_reader(path, &ReadOptions::default()).expect("opens");
    outcome(stream.collect())
}

fn geojson(dir: &Path, geometry: &str) -> Outcome {
    let path = dir.join("shapes.geojson");
    std::fs::write(
        &path,
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"n":1}},"geometry":{geometry}}}]}}"#
        ),
    )
    .expect("written");
    read(&path)
}

/// A KML file of one placemark named `a` whose geometry is `geometry`.
fn kml_placemark(dir: &Path, file: &str, geometry: &str) -> std::path::PathBuf {
    let path = dir.join(file);
    std::fs::write(
        &path,
        format!(
            r#"<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>a</name>{geometry}</Placemark></Document></kml>"#
        ),
    )
    .expect("written");
    path
}

fn wkt(dir: &Path, text: &str) -> Outcome {
    let path = dir.join("shapes.csv");
    std::fs::write(&path, format!("n,wkt\n1,\"{text}\"\n")).expect("written");
    read(&path)
}

fn gpkg(dir: &Path, wkb: &[u8]) -> Outcome {
    let path = dir.join(format!("shapes-{}.gpkg", wkb.len()));
    let conn = rusqlite::Connection::open(&path).expect("a GeoPackage is built");
    geoconsole_formats::geopackage::create_core_tables(&conn).expect("a GeoPackage is built");
    conn.execute_batch("CREATE TABLE shapes (fid INTEGER PRIMARY KEY, geom BLOB, n INTEGER)")
        .expect("a GeoPackage is built");
    geoconsole_formats::geopackage::register_feature_table(&conn, "shapes", "", "geom", "GEOMETRY")
        .expect("a GeoPackage is built");
    let mut gp = b"GP\x00\x01".to_vec();
    gp.extend_from_slice(&4326i32.to_le_bytes());
    gp.extend_from_slice(wkb);
    conn.execute("INSERT INTO shapes (geom, n) VALUES (?1, 1)", [gp])
        .expect("a GeoPackage is built");
    drop(conn);
    read(&path)
}

/// Little-endian WKB, written by hand: what no GIS writer emits on purpose.
struct Wkb(Vec<u8>);

impl Wkb {
    fn new(code: u32, count: u32) -> Self {
        let mut w = Self(Vec::new());
        w.member(code, count);
        w
    }
    fn member(&mut self, code: u32, count: u32) -> &mut Self {
        self.0.push(1);
        self.0.extend_from_slice(&code.to_le_bytes());
        self.0.extend_from_slice(&count.to_le_bytes());
        self
    }
    fn count(&mut self, n: u32) -> &mut Self {
        self.0.extend_from_slice(&n.to_le_bytes());
        self
    }
    fn ring(&mut self, positions: &[[f64; 2]]) -> &mut Self {
        self.count(positions.len() as u32);
        for [x, y] in positions {
            self.0.extend_from_slice(&x.to_le_bytes());
            self.0.extend_from_slice(&y.to_le_bytes());
        }
        self
    }
}

const SQUARE: [[f64; 2]; 5] = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];

fn refused(outcome: &Outcome, says: &str) -> bool {
    matches!(outcome, Outcome::Refused(m) if m.contains(says))
}

#[test]
fn geometries_with_no_position_at_all_are_unlocated_in_every_format() {
    let dir = tempfile::tempdir().expect("folder");
    let d = dir.path();
    for geometry in [
        r#"{"type":"MultiPolygon","coordinates":[[]]}"#,
        r#"{"type":"MultiPolygon","coordinates":[[[]]]}"#,
        r#"{"type":"MultiPolygon","coordinates":[[],[]]}"#,
        r#"{"type":"MultiLineString","coordinates":[[]]}"#,
        r#"{"type":"Polygon","coordinates":[[]]}"#,
        // Every ring empty: no position anywhere, as WKB's `POLYGON (EMPTY, EMPTY)`.
        r#"{"type":"Polygon","coordinates":[[],[]]}"#,
        r#"{"type":"MultiPolygon","coordinates":[[[],[]]]}"#,
        r#"{"type":"MultiPoint","coordinates":[]}"#,
    ] {
        assert_eq!(geojson(d, geometry), Outcome::Unlocated, "{geometry}");
    }
    for text in [
        "MULTIPOLYGON EMPTY",
        "MULTIPOLYGON (EMPTY)",
        "MULTIPOLYGON (EMPTY, EMPTY)",
        "MULTILINESTRING (EMPTY)",
        "MULTIPOINT (EMPTY)",
        "MULTIPOINT Z (EMPTY)",
        "POLYGON EMPTY",
        "GEOMETRYCOLLECTION (MULTIPOINT (EMPTY), POLYGON EMPTY)",
        // Found by an outside tester: rings or members all EMPTY, and no space before the parenthesis.
        "POLYGON (EMPTY)",
        "POLYGON (EMPTY, EMPTY)",
        "POLYGON Z (EMPTY)",
        "MULTIPOLYGON ((EMPTY))",
        "MULTIPOLYGON ((EMPTY), EMPTY)",
        "POINT (EMPTY)",
        "LINESTRING (EMPTY)",
        "MULTIPOINT(EMPTY)",
        "multipolygon(empty)",
        "MULTIPOINT(EMPTY,EMPTY)",
        "MULTIPOINT Z(EMPTY)",
    ] {
        assert_eq!(wkt(d, text), Outcome::Unlocated, "{text}");
    }
    // A multipolygon of one polygon with no rings; a polygon of one ring with no positions.
    assert_eq!(gpkg(d, &Wkb::new(6, 1).member(3, 0).0), Outcome::Unlocated);
    assert_eq!(gpkg(d, &Wkb::new(3, 1).count(0).0), Outcome::Unlocated);
}

#[test]
fn empty_members_of_collections_are_left_out_in_every_format() {
    let dir = tempfile::tempdir().expect("folder");
    let d = dir.path();
    assert_eq!(
        geojson(
            d,
            r#"{"type":"GeometryCollection","geometries":[{"type":"MultiPolygon","coordinates":[[]]},{"type":"Point","coordinates":[1,2]}]}"#
        ),
        Outcome::Located
    );
    for text in [
        "GEOMETRYCOLLECTION (MULTIPOINT (EMPTY), POINT (1 2))",
        "GEOMETRYCOLLECTION (POLYGON (EMPTY), POINT (1 2))",
        "GEOMETRYCOLLECTION (MULTIPOINT(EMPTY), POINT (1 2))",
    ] {
        assert_eq!(wkt(d, text), Outcome::Located, "{text}");
    }
    // WKB: a multipoint of empty points only is MULTIPOINT (EMPTY), an empty member of a collection.
    let empty_point = |w: &mut Wkb| {
        w.0.push(1);
        w.0.extend_from_slice(&1u32.to_le_bytes());
        w.0.extend_from_slice(&f64::NAN.to_le_bytes());
        w.0.extend_from_slice(&f64::NAN.to_le_bytes());
    };
    let mut collection = Wkb::new(7, 2);
    collection.member(4, 1);
    empty_point(&mut collection);
    collection.0.push(1);
    collection.0.extend_from_slice(&1u32.to_le_bytes());
    collection.0.extend_from_slice(&1.5f64.to_le_bytes());
    collection.0.extend_from_slice(&2.5f64.to_le_bytes());
    assert_eq!(gpkg(d, &collection.0), Outcome::Located);
    let mut only_empty = Wkb::new(4, 1);
    empty_point(&mut only_empty);
    assert_eq!(gpkg(d, &only_empty.0), Outcome::Unlocated);
}

#[test]
fn an_empty_part_beside_real_parts_is_refused_in_every_format() {
    let dir = tempfile::tempdir().expect("folder");
    let d = dir.path();
    let polygon_and_nothing = geojson(
        d,
        r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[]]}"#,
    );
    assert!(
        refused(&polygon_and_nothing, "multipolygon part 2 is empty"),
        "{polygon_and_nothing:?}"
    );
    let line_and_nothing = geojson(
        d,
        r#"{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[]]}"#,
    );
    assert!(
        refused(&line_and_nothing, "multilinestring part 2 is empty"),
        "{line_and_nothing:?}"
    );
    let wkt_polygon_and_nothing = wkt(d, "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), EMPTY)");
    assert!(
        matches!(wkt_polygon_and_nothing, Outcome::Refused(_)),
        "{wkt_polygon_and_nothing:?}"
    );
    let wkt_point_and_nothing = wkt(d, "MULTIPOINT ((1 2), EMPTY)");
    assert!(
        matches!(wkt_point_and_nothing, Outcome::Refused(_)),
        "{wkt_point_and_nothing:?}"
    );

    // A square with a hole of no positions: refused as GeoJSON and as WKB alike, not dropped.
    let holed = geojson(
        d,
        r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]],[]]}"#,
    );
    assert!(refused(&holed, "interior ring has 0 position"), "{holed:?}");
    let holed_wkb = gpkg(d, &Wkb::new(3, 2).ring(&SQUARE).ring(&[]).0);
    assert!(
        refused(&holed_wkb, "interior ring has 0 position"),
        "{holed_wkb:?}"
    );
    // A multipolygon of a square and a polygon with no rings.
    let square_and_nothing = gpkg(d, &Wkb::new(6, 2).member(3, 1).ring(&SQUARE).member(3, 0).0);
    assert!(
        refused(&square_and_nothing, "empty"),
        "{square_and_nothing:?}"
    );
}

#[test]
fn an_empty_position_is_named_as_one() {
    let dir = tempfile::tempdir().expect("folder");
    let outcome = geojson(dir.path(), r#"{"type":"LineString","coordinates":[[]]}"#);
    assert!(refused(&outcome, "position"), "{outcome:?}");
    assert!(
        !refused(&outcome, "Point"),
        "the message is about a position, not a Point: {outcome:?}"
    );
}

#[test]
fn located_shapes_stay_what_they_are() {
    let dir = tempfile::tempdir().expect("folder");
    let outcome = gpkg(dir.path(), &Wkb::new(3, 1).ring(&SQUARE).0);
    assert_eq!(outcome, Outcome::Located);
}

/// GDAL keeps `<MultiGeometry>` a collection whatever its members; with the empty polygon left out, the
/// feature is still a collection of its point, not a point.
#[test]
fn a_kml_multigeometry_with_an_empty_member_stays_a_collection() {
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("places.kml");
    std::fs::write(
        &path,
        r#"<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>a</name><MultiGeometry><Polygon/><Point><coordinates>1,2</coordinates></Point></MultiGeometry></Placemark>
<Placemark><name>b</name><MultiGeometry><LineString></LineString><Point><coordinates>1,2</coordinates></Point></MultiGeometry></Placemark>
<Placemark><name>c</name><MultiGeometry><Point><coordinates>1,2</coordinates></Point><LineString/></MultiGeometry></Placemark>
<Placemark><name>d</name><MultiGeometry><Polygon>
  </Polygon><Point><coordinates>1,2</coordinates></Point></MultiGeometry></Placemark>
</Document></kml>"#,
    )
    .expect("written");
    let (_, stream) = open_reader(&path, &ReadOptions::default()).expect("opens");
    let items: Vec<_> = stream.collect();
    assert_eq!(items.len(), 4);
    let geometries: Vec<_> = items
        .into_iter()
        .map(|item| item.expect("read").feature.geometry)
        .collect();
    // `<Polygon></Polygon>` is `<Polygon/>` written long: the same feature either way.
    assert!(
        geometries.iter().all(|g| *g == geometries[0]),
        "{geometries:?}"
    );
    for geometry in geometries {
        assert!(
            matches!(
                geometry,
                Some(
                    geoconsole_model::geo_types::Geometry::GeometryCollection(_)
                        | geoconsole_model::geo_types::Geometry::MultiPoint(_)
                )
            ),
            "{geometry:?}"
        );
    }
}

/// Regression (outside review): a KML hole written `<LinearRing/>` or `<LinearRing></LinearRing>` was left
/// out without a word while `<coordinates></coordinates>` in it was refused. Every spelling is the same empty
/// ring beside a real one, refused with the ring named; a polygon whose only ring is empty is unlocated.
#[test]
fn an_empty_kml_ring_beside_a_real_one_is_refused_however_it_is_spelled() {
    let dir = tempfile::tempdir().expect("folder");
    let outer = "<outerBoundaryIs><LinearRing><coordinates>0,0 1,0 1,1 0,1 0,0</coordinates></LinearRing></outerBoundaryIs>";
    for (i, hole) in [
        "<LinearRing/>",
        "<LinearRing></LinearRing>",
        "<LinearRing>\n  </LinearRing>",
        "<LinearRing><coordinates></coordinates></LinearRing>",
    ]
    .into_iter()
    .enumerate()
    {
        let path = kml_placemark(
            dir.path(),
            &format!("hole{i}.kml"),
            &format!("<Polygon>{outer}<innerBoundaryIs>{hole}</innerBoundaryIs></Polygon>"),
        );
        let outcome = read(&path);
        assert!(
            refused(&outcome, "interior ring has 0 position"),
            "{hole}: {outcome:?}"
        );
    }
    let path = kml_placemark(
        dir.path(),
        "only.kml",
        "<Polygon><outerBoundaryIs><LinearRing/></outerBoundaryIs></Polygon>",
    );
    assert_eq!(read(&path), Outcome::Unlocated);
}

/// Regression (outside review): a comment inside `<coordinates>` refused the placemark with the `kml`
/// crate's debug text; GDAL reads around it.
#[test]
fn a_comment_inside_kml_coordinates_is_read_around() {
    let dir = tempfile::tempdir().expect("folder");
    let path = kml_placemark(
        dir.path(),
        "commented.kml",
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>0,0 10,0 <!-- c --> 10,10 0,10 0,0</coordinates></LinearRing></outerBoundaryIs></Polygon>",
    );
    let (_, stream) = open_reader(&path, &ReadOptions::default()).expect("opens");
    let items: Vec<_> = stream.collect();
    assert_eq!(items.len(), 1);
    let feature = items
        .into_iter()
        .next()
        .expect("one")
        .expect("read")
        .feature;
    match feature.geometry {
        Some(geoconsole_model::geo_types::Geometry::Polygon(p)) => {
            assert_eq!(p.exterior().0.len(), 5)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_placemark_is_named_and_a_kmz_error_names_the_archive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kml = kml_placemark(
        dir.path(),
        "bad.kml",
        "<Point><coordinates>1,abc</coordinates></Point>",
    );
    assert_eq!(
        read(&kml),
        Outcome::Refused(
            "bad.kml: feature 0: placemark 'a': position 1 ('1,abc'): 'abc' is not a number; a \
             position is lon,lat[,alt] with commas and no spaces, positions are separated by spaces"
                .into()
        )
    );
    // From the third outside pass: a position of one number was "no coordinates", a space after a comma
    // "'' is not a number", and checks after the crate's (range, rings) did not name the placemark.
    for (geometry, says) in [
        (
            "<Point><coordinates>5</coordinates></Point>",
            "placemark 'a': position 1 ('5') has one number;",
        ),
        (
            "<LineString><coordinates>0,0 5, 6</coordinates></LineString>",
            "placemark 'a': position 2 ('5,') has an empty number (a space after a comma?);",
        ),
        (
            "<Point><coordinates>x</coordinates></Point>",
            "placemark 'a': position 1 ('x') is not a number;",
        ),
        (
            "<Point><coordinates>200,10</coordinates></Point>",
            "placemark 'a': longitude 200",
        ),
        (
            "<Polygon><outerBoundaryIs><LinearRing><coordinates>0,0 1,1 0,0</coordinates></LinearRing></outerBoundaryIs></Polygon>",
            "placemark 'a': ",
        ),
    ] {
        let path = kml_placemark(dir.path(), "more.kml", geometry);
        let Outcome::Refused(message) = read(&path) else {
            panic!("{geometry} is refused")
        };
        assert!(message.contains(says), "{geometry}: {message}");
    }
    // The same document as a KMZ's doc.kml: the archive is the name the user gave.
    let kmz = dir.path().join("places.kmz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&kmz).expect("created"));
    zip.start_file("doc.kml", zip::write::SimpleFileOptions::default())
        .expect("member");
    std::io::Write::write_all(&mut zip, &std::fs::read(&kml).expect("read")).expect("written");
    zip.finish().expect("finished");
    let Outcome::Refused(message) = read(&kmz) else {
        panic!("the KMZ's placemark is refused too")
    };
    assert!(
        message.starts_with("places.kmz: doc.kml: feature 0: placemark 'a': position 1"),
        "{message}"
    );
}

// From the fifth outside pass: characters were counted from the first one that is not a space, and text
// beyond ASCII in a cell ended the reader on a panic (a token sliced through a character), refusing the file.
#[test]
fn wkt_messages_count_the_cells_own_characters_and_any_text_is_judged() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (cell, says) in [
        (
            "   POINT (1 2) x",
            "'x' at character 16 follows the end of the geometry",
        ),
        ("\n\tPOINT (1 x)", "'x' at character 12 is not a number"),
        ("POINT (é 2)", "'é' at character 8 is not a number"),
        ("POINT (1 2) éé x", "'éé x' at character 13 follows"),
        (
            "\u{a0}\u{a0}POINT (1 x)",
            "'x' at character 12 is not a number",
        ),
    ] {
        match wkt(dir.path(), cell) {
            Outcome::Refused(message) => assert!(message.contains(says), "{cell:?}: {message}"),
            _ => panic!("{cell:?} is refused"),
        }
    }
    // a no-break space pads a cell at either end, as in every other cell
    for cell in ["\u{a0}POINT (1 2)", "POINT (1 2)\u{a0}"] {
        assert!(
            matches!(wkt(dir.path(), cell), Outcome::Located),
            "{cell:?}"
        );
    }
}
