//! What readers keep of a third coordinate, and which datum shift a NAD27 file gets and says it got: the
//! outside tester's findings, checked through `open_reader`.

use std::path::{Path, PathBuf};

use geoconsole_formats::{ReadOptions, SourceFeature, Z_PROPERTY, open_reader};
use geoconsole_model::geo_types::Geometry;
use serde_json::json;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

fn read(path: &Path, layer: Option<&str>) -> (Vec<SourceFeature>, Vec<String>) {
    let options = ReadOptions {
        layer: layer.map(str::to_string),
        ..ReadOptions::default()
    };
    let (_, stream) = open_reader(path, &options).unwrap_or_else(|e| panic!("{e}"));
    let features = stream
        .map(|f| f.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    (features, options.notes.warnings())
}

#[test]
fn a_points_z_is_kept_as_a_property_in_every_format() {
    for (file, layer) in [
        ("z/point_z.fgb", None),
        ("z/z.gpkg", Some("points")),
        ("z/point_z.parquet", None),
        ("z/point_z.csv", None),
        ("z/point_z.geojson", None),
    ] {
        let (features, warnings) = read(&fixture(file), layer);
        // FlatGeobuf's index orders features along its Hilbert curve, not as written
        let summit = &features
            .iter()
            .find(|f| matches!(f.feature.geometry, Some(Geometry::Point(p)) if p.x() == 3.0))
            .expect("summit")
            .feature;
        assert_eq!(summit.properties[Z_PROPERTY], json!(5.0), "{file}");
        assert!(
            matches!(summit.geometry, Some(Geometry::Point(p)) if p.x() == 3.0 && p.y() == 4.0),
            "{file}"
        );
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
    }
}

#[test]
fn z_of_lines_is_dropped_with_one_warning_per_file() {
    for (file, layer) in [
        ("z/line_z.fgb", None),
        ("z/z.gpkg", Some("lines")),
        ("z/line_z.parquet", None),
        ("z/line_z.csv", None),
        ("z/line_z.geojson", None),
        ("z/line_z.geojsons", None),
    ] {
        let (features, warnings) = read(&fixture(file), layer);
        assert!(
            features
                .iter()
                .all(|f| !f.feature.properties.contains_key(Z_PROPERTY)),
            "{file}"
        );
        let dropped: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains("Z coordinates"))
            .collect();
        assert_eq!(dropped.len(), 1, "{file}: {warnings:?}");
    }
}

#[test]
fn nad27_files_match_ogr2ogr_and_say_which_shift_they_got() {
    // ogr2ogr -t_srs EPSG:4326 (GDAL 3.6.2, PROJ 9.1.1, no NADCON grids): first vertex of the first feature;
    // GDAL's own transformation is accurate to 10 m, ours agrees with GDAL's to 1e-9 degrees
    for (file, (lon, lat)) in [
        (
            "realworld/shapefile/spdata/boston_tracts.shp",
            (-71.123_265_658_759_7, 42.368_872_976_152_1),
        ),
        (
            "realworld/gpkg/sf_nc_nad27.gpkg",
            (-81.472_579_525_884_7, 36.234_442_085_901),
        ),
    ] {
        let (features, warnings) = read(&fixture(file), None);
        let first = match &features[0].feature.geometry {
            Some(Geometry::Polygon(p)) => p.exterior().0[0],
            Some(Geometry::MultiPolygon(m)) => m.0[0].exterior().0[0],
            other => panic!("{file}: {other:?}"),
        };
        assert!(
            (first.x - lon).abs() < 1e-9 && (first.y - lat).abs() < 1e-9,
            "{file}: {first:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("EPSG:1173")),
            "{file}: {warnings:?}"
        );
    }
}

/// Found by an outside tester: a column named like the Z property lost its values to the points' Z.
#[test]
fn a_property_named_geometry_z_keeps_its_values() {
    let dir = tempfile::tempdir().expect("folder");
    let csv = dir.path().join("peaks.csv");
    std::fs::write(
        &csv,
        "id,geometry_z,wkt\n1,hello,POINT Z (3 4 5)\n2,x,POINT (1 1)\n",
    )
    .expect("written");
    let (features, warnings) = read(&csv, None);
    assert_eq!(features[0].feature.properties[Z_PROPERTY], json!("hello"));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("property named geometry_z")),
        "{warnings:?}"
    );
    let geojson = dir.path().join("peaks.geojson");
    std::fs::write(
        &geojson,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"geometry_z":"hello"},"geometry":{"type":"Point","coordinates":[3,4,5]}}]}"#,
    )
    .expect("written");
    let (features, warnings) = read(&geojson, None);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("property named geometry_z")),
        "{warnings:?}"
    );
    assert_eq!(features[0].feature.properties[Z_PROPERTY], json!("hello"));
}
