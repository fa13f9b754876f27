//! Files GDAL reads and the readers once refused, from the real-world corpus: null and empty geometries (kept
//! as features without a location), empty files (no features, no error), and damaged-but-readable files
//! (read as far as they are sound, with a warning saying what was left).

use std::path::{Path, PathBuf};

use geoconsole_formats::{FormatResult, ReadOptions, SourceFeature, open_reader};
use geoconsole_model::geo_types::Geometry;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/realworld")
        .join(rel)
}

/// Every item of a file, and the warnings the read gave.
fn read(rel: &str, layer: Option<&str>) -> (Vec<FormatResult<SourceFeature>>, Vec<String>) {
    let options = ReadOptions {
        layer: layer.map(str::to_string),
        ..ReadOptions::default()
    };
    let (_, stream) = open_reader(&corpus(rel), &options).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let items = stream.collect();
    (items, options.notes.warnings())
}

fn features(rel: &str, layer: Option<&str>) -> Vec<SourceFeature> {
    let (items, _) = read(rel, layer);
    items
        .into_iter()
        .map(|i| i.unwrap_or_else(|e| panic!("{rel}: {e}")))
        .collect()
}

#[test]
fn null_geometries_are_features_without_a_location() {
    let geojson = features("geojson/null_geom.geojson", None);
    assert!(geojson.iter().any(|f| f.feature.geometry.is_none()));
    assert!(geojson.iter().any(|f| f.feature.geometry.is_some()));
    let shapes = features("shapefile/shapefile-js/null.shp", None);
    assert!(shapes.iter().any(|f| f.feature.geometry.is_none()));
    let kml = features("kml/KML_Samples.kml", None);
    assert!(kml.iter().any(|f| f.feature.geometry.is_none()));
}

#[test]
fn empty_files_hold_no_features_and_no_error() {
    let (items, warnings) = read("shapefile/shapefile-js/empty.shp", None);
    assert!(items.is_empty(), "{items:?}");
    assert!(warnings.is_empty());
    let (items, _) = read("gpx/gpxpy_default_schema_locations.gpx", None);
    assert!(items.is_empty(), "{items:?}");
}

#[test]
fn a_shp_longer_than_its_header_is_read_as_far_as_the_header_says_with_a_warning() {
    let (items, warnings) = read("shapefile/pyshp/corrupt_too_long.shp", None);
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("1 bytes beyond were ignored"),
        "{warnings:?}"
    );
}

#[test]
fn a_shp_without_its_dbf_is_read_without_attributes_with_a_warning() {
    let (items, warnings) = read("shapefile/shapefile-js/ignore-properties.shp", None);
    assert!(!items.is_empty());
    for item in &items {
        let f = &item.as_ref().expect("shape").feature;
        assert!(f.properties.is_empty());
        assert!(f.geometry.is_some());
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("without attributes"), "{warnings:?}");
}

#[test]
fn multipatch_triangles_become_polygons_as_gdal_makes_them() {
    let tin = features("shapefile/fiona/test_tin.shp", None);
    assert_eq!(tin.len(), 1);
    // GDAL: TIN Z (((0 0 0,0 0 1,0 1 0,0 0 0)),((0 0 0,0 1 0,1 1 0,0 0 0))), a fan of two triangles.
    let Some(Geometry::MultiPolygon(triangles)) = &tin[0].feature.geometry else {
        panic!("{:?}", tin[0].feature.geometry);
    };
    assert_eq!(triangles.0.len(), 2);
    for t in &triangles.0 {
        assert_eq!(t.exterior().0.len(), 4);
    }
}

#[test]
fn gpx_elements_the_schema_allows_are_read() {
    for (file, layer) in [
        ("gpx/fiona_test_gpx.gpx", "tracks"),
        ("gpx/gpxpy_gpx1.0_with_all_fields.gpx", "waypoints"),
        ("gpx/gpxpy_gpx1.1_with_all_fields.gpx", "route_points"),
        ("gpx/gpxpy_unicode_with_bom.gpx", "waypoints"),
    ] {
        assert!(!features(file, Some(layer)).is_empty(), "{file}#{layer}");
    }
}

#[test]
fn kml_google_extensions_are_read_past() {
    let placemarks = features("kml/pykml_altitudemode_reference.kml", None);
    assert_eq!(placemarks.len(), 1);
    assert!(matches!(
        placemarks[0].feature.geometry,
        Some(Geometry::LineString(_))
    ));
}

#[test]
fn geojson_sequences_with_pretty_records_and_csv_curves_read() {
    assert!(!features("geojsonseq/sequence-pp.txt", None).is_empty());
    let curves = features("csv/curves_line.csv", None);
    assert!(curves.iter().all(|f| f.feature.geometry.is_some()));
}

// From the third outside pass: a damaged .shx was blamed on the .shp ("unreadable record (truncated .shp?)",
// "unreadable shapefile: The file code ' 0 ' is invalid"). The index is only where records start; a damaged
// one is said and left aside, and the records are read in order, as they were written.
#[test]
fn a_damaged_shx_is_named_and_the_shapes_are_read_in_order_without_it() {
    let (intact, _) = read("shapefile/fiona/coutwildrnp.shp", None);
    let intact: Vec<_> = intact
        .into_iter()
        .map(|i| i.expect("intact").feature)
        .collect();
    assert!(intact.len() > 10);
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage); 3] = [
        ("its file code is not 9994", |shx| shx[..4].fill(0)),
        ("its entry for shape 3 points at bytes", |shx| {
            shx[100 + 3 * 8..100 + 3 * 8 + 4].fill(0xff)
        }),
        // a truncated index counts fewer shapes than the .dbf has records: that is the index's fault
        ("bytes where its header says", |shx| {
            shx.truncate(100 + 3 * 8)
        }),
    ];
    for (says, damage) in damages {
        let dir = tempfile::tempdir().expect("temp dir");
        for extension in ["shp", "shx", "dbf", "prj", "cpg"] {
            let name = format!("coutwildrnp.{extension}");
            std::fs::copy(
                corpus(&format!("shapefile/fiona/{name}")),
                dir.path().join(&name),
            )
            .expect("copied");
        }
        let shx = dir.path().join("coutwildrnp.shx");
        let mut bytes = std::fs::read(&shx).expect("read");
        damage(&mut bytes);
        std::fs::write(&shx, bytes).expect("written");
        let options = ReadOptions::default();
        let (_, stream) =
            open_reader(&dir.path().join("coutwildrnp.shp"), &options).expect("opens");
        let read: Vec<_> = stream
            .map(|i| i.expect("read without the index").feature)
            .collect();
        assert_eq!(read, intact, "{says}");
        let warnings = options.notes.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("coutwildrnp.shx: ") && warnings[0].contains(says),
            "{warnings:?}"
        );
    }
}
