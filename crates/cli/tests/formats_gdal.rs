//! Every file format against GDAL, through the built binary: files GDAL's `ogr2ogr` writes import with the
//! counts, attributes and extents `ogrinfo` reports (also from a projected CRS), our exports read back in
//! `ogrinfo` (and GeoParquet in pyarrow) with the same counts and attributes, and broken files are refused
//! with a located reason while the store stays as it was.

use crate::support;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Run, ogr_layers, ogrinfo};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/demo")
        .join(name)
}

fn ogr2ogr(args: &[&str]) {
    let out = Command::new("ogr2ogr")
        .args(args)
        .output()
        .expect("ogr2ogr must be installed (Debian package gdal-bin)");
    assert!(
        out.status.success(),
        "ogr2ogr {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One feature as `ogrinfo -al` prints it: field name (lowercase) to text.
type GdalFeature = BTreeMap<String, String>;

/// The features of one layer, in the order GDAL reads them.
fn gdal_features(path: &Path, layer: &str) -> Vec<GdalFeature> {
    let text = ogrinfo(&[
        "-ro",
        "-al",
        "-nogeomtype",
        path.to_str().expect("utf-8"),
        layer,
    ]);
    let mut features = Vec::new();
    for line in text.lines() {
        if line.starts_with("OGRFeature(") {
            features.push(GdalFeature::new());
        } else if let (Some(feature), Some((head, value))) = (
            features.last_mut(),
            line.strip_prefix("  ").and_then(|l| l.split_once(") = ")),
        ) && let Some((name, _type)) = head.split_once(" (")
        {
            feature.insert(name.to_lowercase(), value.to_string());
        }
    }
    features
}

/// Our features of a dataset, as our own GeoJSON export writes them.
fn our_features(run: &Run, store: &str, dataset: &str) -> Vec<serde_json::Map<String, Value>> {
    let out = run.ok(&[
        "--store", store, "export", dataset, "--output", "-", "--format", "geojson",
    ]);
    let collection: Value = serde_json::from_str(&out).expect("geojson export");
    collection["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["properties"].as_object().cloned().unwrap_or_default())
        .collect()
}

/// Whether GDAL's text for a value says the same as our JSON value.
fn same_value(gdal: &str, ours: Option<&Value>) -> bool {
    let ours = ours.unwrap_or(&Value::Null);
    match ours {
        Value::Null => gdal == "(null)" || gdal.is_empty(),
        Value::Bool(b) => gdal == if *b { "1" } else { "0" } || gdal == b.to_string(),
        Value::Number(n) => gdal.parse::<f64>().is_ok_and(|g| {
            let o = n.as_f64().unwrap_or(f64::NAN);
            (g - o).abs() <= 1e-9 * o.abs().max(1.0) || (g - o).abs() < 1e-5 * o.abs().max(1e-3)
        }),
        Value::String(s) => s.trim() == gdal.trim() || s.replace('-', "/") == gdal,
        other => gdal == other.to_string().as_str(),
    }
}

/// Fields GDAL's KML driver adds to every placemark for how it is drawn (`extrude`, `tessellate`, ...);
/// they are display settings, not data, and the console does not import them.
const KML_DISPLAY_FIELDS: [&str; 8] = [
    "extrude",
    "tessellate",
    "altitudemode",
    "visibility",
    "draworder",
    "icon",
    "snippet",
    "timestamp",
];

/// Compares GDAL's reading of a file with ours, feature by feature, field by field (names compared without
/// case: KML says `Name` where GDAL says `name` elsewhere). Features are paired by their `name`, since a
/// file with a spatial index (FlatGeobuf) keeps them in index order rather than ours.
fn assert_same_features(what: &str, gdal: &[GdalFeature], ours: &[serde_json::Map<String, Value>]) {
    assert_eq!(gdal.len(), ours.len(), "{what}: feature count");
    let mut compared = 0;
    let mut ours: Vec<BTreeMap<String, &Value>> = ours
        .iter()
        .map(|o| o.iter().map(|(k, v)| (k.to_lowercase(), v)).collect())
        .collect();
    ours.sort_by_key(|o| {
        o.get("name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    });
    let mut gdal = gdal.to_vec();
    gdal.sort_by_key(|g| g.get("name").cloned().unwrap_or_default());
    for (i, (g, lower)) in gdal.iter().zip(&ours).enumerate() {
        for (name, text) in g {
            // GDAL shows a GeoJSON feature's `id` member as a field; ours is the feature's id, not a property.
            if KML_DISPLAY_FIELDS.contains(&name.as_str())
                || (name == "id" && !lower.contains_key("id"))
            {
                continue;
            }
            let value = lower.get(name).copied();
            if value.is_none() && text == "(null)" {
                continue;
            }
            assert!(
                same_value(text, value),
                "{what}: feature {i} field '{name}': GDAL says {text:?}, we have {value:?}"
            );
            compared += 1;
        }
    }
    assert!(compared > 0, "{what}: no field was compared");
}

fn extent_close(a: [f64; 4], b: [f64; 4], tolerance: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance)
}

fn import_json(run: &Run, store: &str, file: &Path, dataset: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--store",
        store,
        "import",
        file.to_str().expect("utf-8"),
        "--dataset",
        dataset,
        "--json",
    ];
    args.extend_from_slice(extra);
    run.json(&args)
}

fn dataset_extent(report: &Value) -> [f64; 4] {
    let e = &report["dataset"]["extent"];
    let n = |side: &str| e[side].as_f64().expect("extent number");
    [n("west"), n("south"), n("east"), n("north")]
}

#[test]
fn files_gdal_writes_import_with_its_counts_attributes_and_extents() {
    let run = Run::new();
    let countries = fixture("ne_110m_admin_0_countries.geojson");
    let places = fixture("ne_110m_populated_places.geojson");
    let cases: [(&str, &str, &Path, &[&str]); 4] = [
        ("FlatGeobuf", "countries.fgb", &countries, &[]),
        (
            "ESRI Shapefile",
            "countries.shp",
            &countries,
            &["-lco", "ENCODING=UTF-8"],
        ),
        ("GPKG", "places.gpkg", &places, &[]),
        ("KML", "places.kml", &places, &[]),
    ];
    for (driver, name, source, options) in cases {
        let file = run.path(name);
        let mut args = vec![
            "-f",
            driver,
            file.to_str().expect("utf-8"),
            source.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(options);
        ogr2ogr(&args);
        let layers = ogr_layers(&file);
        let (layer, info) = layers.iter().next().expect("one layer");
        let dataset = name.replace('.', "_");
        let report = import_json(&run, "ops.gpkg", &file, &dataset, &[]);
        assert_eq!(
            report["imported"].as_u64(),
            Some(info.count),
            "{driver}: count"
        );
        let extent = info.extent.expect("GDAL extent");
        assert!(
            extent_close(dataset_extent(&report), extent, 1e-6),
            "{driver}: extent {:?} vs GDAL {extent:?}",
            dataset_extent(&report)
        );
        assert_same_features(
            driver,
            &gdal_features(&file, layer),
            &our_features(&run, "ops.gpkg", &dataset),
        );
    }
}

#[test]
fn zipped_shapefiles_kmz_and_gpx_layers_import_like_gdal_reads_them() {
    let run = Run::new();
    let places = fixture("ne_110m_populated_places.geojson");
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        run.path("places.shp").to_str().expect("utf-8"),
        places.to_str().expect("utf-8"),
        "-lco",
        "ENCODING=ISO-8859-1",
    ]);
    // Latin-1 in the .dbf, as older tools write it: the .cpg names the code page.
    let cpg = std::fs::read_to_string(run.path("places.cpg")).expect("cpg");
    assert!(cpg.contains("8859") || cpg.contains("1252"), "{cpg}");
    let zip = run.path("places.zip");
    zip_files(
        &zip,
        &[
            "places.shp",
            "places.shx",
            "places.dbf",
            "places.prj",
            "places.cpg",
        ],
        &run,
    );
    let report = import_json(&run, "ops.gpkg", &zip, "zipped", &[]);
    assert_eq!(report["imported"], 243);
    assert_same_features(
        "zipped shapefile (Latin-1)",
        &gdal_features(&run.path("places.shp"), "places"),
        &our_features(&run, "ops.gpkg", "zipped"),
    );
    // KMZ: the KML zipped, as Google Earth saves it.
    ogr2ogr(&[
        "-f",
        "KML",
        run.path("doc.kml").to_str().expect("utf-8"),
        places.to_str().expect("utf-8"),
    ]);
    let kmz = run.path("places.kmz");
    zip_files(&kmz, &["doc.kml"], &run);
    let report = import_json(&run, "ops.gpkg", &kmz, "kmz", &[]);
    assert_eq!(report["imported"], 243);
    // GPX: GDAL writes the points as waypoints; its other layers come by name.
    let gpx = run.path("places.gpx");
    ogr2ogr(&[
        "-f",
        "GPX",
        gpx.to_str().expect("utf-8"),
        places.to_str().expect("utf-8"),
        "-sql",
        "SELECT NAME AS name, POP_MAX AS ele FROM ne_110m_populated_places",
        "-nln",
        "waypoints",
    ]);
    let gdal = gdal_features(&gpx, "waypoints");
    let report = import_json(
        &run,
        "ops.gpkg",
        &gpx,
        "waypoints",
        &["--layer", "waypoints"],
    );
    assert_eq!(report["imported"].as_u64(), Some(gdal.len() as u64));
    let ours = our_features(&run, "ops.gpkg", "waypoints");
    for (g, o) in gdal.iter().zip(&ours) {
        assert!(same_value(&g["name"], o.get("name")), "{g:?} {o:?}");
        assert!(same_value(&g["ele"], o.get("ele")), "{g:?} {o:?}");
    }
}

/// Zips files of the run folder with Python's zipfile (another implementation than the reader's).
fn zip_files(zip: &Path, names: &[&str], run: &Run) {
    let script = format!(
        "import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    for n in {names:?}: z.write(n)\n"
    );
    python(&script, &[zip.to_str().expect("utf-8")], run.dir.path());
}

fn python(script: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn projected_files_are_brought_to_wgs84() {
    let run = Run::new();
    let places = fixture("ne_110m_populated_places.geojson");
    let original = import_json(&run, "ops.gpkg", &places, "original", &[]);
    // A shapefile's .prj as GDAL writes it (ESRI WKT, no EPSG code), a GeoPackage srs with one, FlatGeobuf's
    // header CRS, and a .prj-less shapefile told its CRS on the command line.
    for (driver, name, extra) in [
        ("ESRI Shapefile", "web.shp", &[][..]),
        ("GPKG", "web.gpkg", &[][..]),
        ("FlatGeobuf", "web.fgb", &[][..]),
        (
            "ESRI Shapefile",
            "told.shp",
            &["--source-crs", "EPSG:3857"][..],
        ),
    ] {
        let file = run.path(name);
        ogr2ogr(&[
            "-f",
            driver,
            "-t_srs",
            "EPSG:3857",
            file.to_str().expect("utf-8"),
            places.to_str().expect("utf-8"),
        ]);
        if name == "told.shp" {
            std::fs::remove_file(run.path("told.prj")).expect("remove .prj");
        }
        let dataset = name.replace('.', "_");
        let report = import_json(&run, "ops.gpkg", &file, &dataset, extra);
        assert_eq!(report["imported"], 243, "{name}");
        assert!(
            extent_close(dataset_extent(&report), dataset_extent(&original), 1e-6),
            "{name}: {:?} vs {:?}",
            dataset_extent(&report),
            dataset_extent(&original)
        );
    }
    // Without a .prj the coordinates are taken as degrees, and metres do not fit: the error says why.
    let out = run.geoconsole(&[
        "--store",
        "ops.gpkg",
        "import",
        "told.shp",
        "--dataset",
        "untold",
    ]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("out of range") && error.contains("--source-crs"),
        "{error}"
    );
}

#[test]
fn our_exports_read_back_in_gdal_and_pyarrow() {
    let run = Run::new();
    for (file, dataset) in [
        ("ne_110m_admin_0_countries.geojson", "countries"),
        ("ne_110m_populated_places.geojson", "places"),
    ] {
        import_json(&run, "ops.gpkg", &fixture(file), dataset, &[]);
        let ours = our_features(&run, "ops.gpkg", dataset);
        for format in ["fgb", "gpkg", "kml", "geojsonseq"] {
            let name = format!("{dataset}.{format}");
            run.ok(&[
                "--store", "ops.gpkg", "export", dataset, "--format", format, "--output", &name,
                "--quiet",
            ]);
            let path = run.path(&name);
            let layers = ogr_layers(&path);
            let (layer, info) = layers.iter().next().expect("a layer");
            assert_eq!(info.count, ours.len() as u64, "{name}: count");
            assert_same_features(&name, &gdal_features(&path, layer), &ours);
        }
        run.ok(&[
            "--store",
            "ops.gpkg",
            "export",
            dataset,
            "--format",
            "geoparquet",
            "--output",
            "out.parquet",
            "--quiet",
        ]);
        let summary = python(
            "import pyarrow.parquet as pq, json, sys\nt = pq.read_table(sys.argv[1])\ngeo = json.loads(t.schema.metadata[b'geo'])\nprint(json.dumps({'rows': t.num_rows, 'columns': t.column_names, 'geo': geo}))",
            &["out.parquet"],
            run.dir.path(),
        );
        let summary: Value = serde_json::from_str(&summary).expect("summary");
        assert_eq!(
            summary["rows"].as_u64(),
            Some(ours.len() as u64),
            "{dataset}"
        );
        assert_eq!(summary["geo"]["primary_column"], "geometry");
        assert_eq!(summary["geo"]["columns"]["geometry"]["encoding"], "WKB");
        let columns = summary["columns"].as_array().expect("columns");
        for name in ours[0].keys() {
            assert!(
                columns.iter().any(|c| c == name),
                "{dataset}: column {name} missing"
            );
        }
    }
}

#[test]
fn geoparquet_written_by_pyarrow_in_native_and_wkb_encodings_imports() {
    let run = Run::new();
    // Points in the native (GeoArrow separated) encoding, and the same points as WKB in Web Mercator
    // with a PROJJSON CRS, both written by pyarrow.
    python(
        r#"
import json, math, struct, pyarrow as pa, pyarrow.parquet as pq
lon = [-122.4, 2.35, 139.7]; lat = [37.8, 48.86, 35.7]; name = ["sf", "paris", "tokyo"]
point = pa.StructArray.from_arrays([pa.array(lon), pa.array(lat)], names=["x", "y"])
native = pa.table({"name": name, "geometry": point})
geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "point", "geometry_types": ["Point"]}}}
pq.write_table(native.replace_schema_metadata({"geo": json.dumps(geo)}), "native.parquet")
r = 6378137.0
wkb = [struct.pack("<BIdd", 1, 1, math.radians(x) * r, r * math.log(math.tan(math.pi / 4 + math.radians(y) / 2))) for x, y in zip(lon, lat)]
crs = {"type": "ProjectedCRS", "name": "WGS 84 / Pseudo-Mercator", "id": {"authority": "EPSG", "code": 3857}}
geo = {"version": "1.0.0", "primary_column": "geom", "columns": {"geom": {"encoding": "WKB", "geometry_types": ["Point"], "crs": crs}}}
t = pa.table({"name": name, "geom": pa.array(wkb, pa.binary())})
pq.write_table(t.replace_schema_metadata({"geo": json.dumps(geo)}), "wkb.parquet", compression="zstd")
"#,
        &[],
        run.dir.path(),
    );
    for (file, dataset) in [("native.parquet", "native"), ("wkb.parquet", "mercator")] {
        let report = import_json(&run, "ops.gpkg", &run.path(file), dataset, &[]);
        assert_eq!(report["imported"], 3, "{file}");
        assert!(
            extent_close(dataset_extent(&report), [-122.4, 35.7, 139.7, 48.86], 1e-6),
            "{file}: {:?}",
            dataset_extent(&report)
        );
    }
}

#[test]
fn broken_files_are_refused_with_the_reason_and_change_nothing() {
    let run = Run::new();
    let places = fixture("ne_110m_populated_places.geojson");
    import_json(&run, "ops.gpkg", &places, "kept", &[]);
    let before = run.ok(&["--store", "ops.gpkg", "datasets", "list", "--json"]);
    ogr2ogr(&[
        "-f",
        "FlatGeobuf",
        run.path("good.fgb").to_str().expect("utf-8"),
        places.to_str().expect("utf-8"),
    ]);
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        run.path("good.shp").to_str().expect("utf-8"),
        places.to_str().expect("utf-8"),
    ]);
    let truncate = |from: &str, to: &str, keep: f64| {
        let bytes = std::fs::read(run.path(from)).expect("read");
        std::fs::write(run.path(to), &bytes[..(bytes.len() as f64 * keep) as usize])
            .expect("write");
    };
    truncate("good.fgb", "cut.fgb", 0.6);
    truncate("good.shp", "cut.shp", 0.6);
    for ext in ["shx", "dbf", "prj"] {
        std::fs::copy(
            run.path(&format!("good.{ext}")),
            run.path(&format!("cut.{ext}")),
        )
        .expect("copy");
    }
    std::fs::copy(run.path("good.shp"), run.path("nodbf.shp")).expect("copy");
    // A .dbf claiming more records than it holds, and one that belongs to another shapefile.
    for ext in ["shp", "shx", "prj"] {
        std::fs::copy(
            run.path(&format!("good.{ext}")),
            run.path(&format!("many.{ext}")),
        )
        .expect("copy");
        std::fs::copy(
            run.path(&format!("good.{ext}")),
            run.path(&format!("other.{ext}")),
        )
        .expect("copy");
    }
    let mut dbf = std::fs::read(run.path("good.dbf")).expect("dbf");
    std::fs::write(run.path("other.dbf"), &dbf).expect("write");
    dbf[4..8].copy_from_slice(&1_000_000_u32.to_le_bytes());
    std::fs::write(run.path("many.dbf"), &dbf).expect("write");
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        "-limit",
        "10",
        run.path("ten.shp").to_str().expect("utf-8"),
        places.to_str().expect("utf-8"),
    ]);
    std::fs::copy(run.path("ten.dbf"), run.path("other.dbf")).expect("copy");
    // A GeoPackage cut in half: SQLite finds the damage as it reads, and the import stops.
    ogr2ogr(&[
        "-f",
        "GPKG",
        run.path("good.gpkg").to_str().expect("utf-8"),
        places.to_str().expect("utf-8"),
    ]);
    truncate("good.gpkg", "cut.gpkg", 0.5);
    std::fs::copy(run.path("good.shp"), run.path("grid.shp")).expect("copy");
    std::fs::copy(run.path("good.dbf"), run.path("grid.dbf")).expect("copy");
    std::fs::write(
        run.path("grid.prj"),
        r#"LOCAL_CS["site grid",LOCAL_DATUM["plant",0],UNIT["metre",1]]"#,
    )
    .expect("prj");
    python(
        "import zipfile\nwith zipfile.ZipFile('slip.zip', 'w') as z:\n    z.writestr('../../evil.shp', b'x')\nwith zipfile.ZipFile('many.zip', 'w') as z:\n    [z.writestr(f'f{i}.csv', b'') for i in range(10001)]\nopen('empty.kml', 'w').write('<?xml version=\"1.0\"?><!DOCTYPE kml [<!ENTITY a \"aaaa\">]><kml xmlns=\"http://www.opengis.net/kml/2.2\"><Placemark><name>&a;</name></Placemark></kml>')\n",
        &[],
        run.dir.path(),
    );
    for (file, expected) in [
        ("cut.fgb", "cut.fgb: feature"),
        ("cut.shp", "header says the file is"),
        ("many.shp", "header declares 1000000 records"),
        (
            "other.shp",
            "indexes 243 shapes but the .dbf holds 10 records",
        ),
        ("cut.gpkg", "cut.gpkg"),
        ("grid.shp", "grid.prj"),
        ("slip.zip", "points outside the archive"),
        ("many.zip", "more than the 10000 allowed"),
        ("empty.kml", "DOCTYPE"),
    ] {
        let out = run.geoconsole(&["--store", "ops.gpkg", "import", file, "--dataset", "broken"]);
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} was imported");
        assert!(error.contains(expected), "{file}: {error}");
    }
    assert_eq!(
        run.ok(&["--store", "ops.gpkg", "datasets", "list", "--json"]),
        before
    );
    // A .shp without its .dbf still has its shapes: GDAL reads them without attributes, and so does the
    // console, saying so.
    let out = run.geoconsole(&[
        "--store",
        "ops.gpkg",
        "import",
        "nodbf.shp",
        "--dataset",
        "shapes_only",
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("warning:") && said.contains("attribute file"),
        "{said}"
    );
}

/// GeoPackages with curves (the GeoPackage curve extension, as QGIS and GDAL write them) import with their
/// arcs linearised, 32 chords per quarter circle, ending exactly where GDAL's geometries end.
#[test]
fn curved_geopackage_layers_written_by_gdal_import_linearised() {
    let run = Run::new();
    let csv = run.path("curves.csv");
    std::fs::write(
        &csv,
        "id,wkt\n\
         1,\"CIRCULARSTRING (0 0,1 1,2 0)\"\n\
         2,\"COMPOUNDCURVE (CIRCULARSTRING (0 0,1 1,1 0),(1 0,0 1))\"\n\
         3,\"CURVEPOLYGON (COMPOUNDCURVE (CIRCULARSTRING (0 0,2 0,2 1,2 3,4 3),(4 3,4 5,1 4,0 0)))\"\n\
         4,\"MULTISURFACE (CURVEPOLYGON (CIRCULARSTRING (-2 0,-1 -1,0 0,1 -1,2 0,0 2,-2 0)))\"\n\
         5,\"MULTICURVE ((5 5,3 5,3 3,0 3),CIRCULARSTRING (0 0,0.2 1,0.5 1.4))\"\n",
    )
    .expect("csv");
    let gpkg = run.path("curves.gpkg");
    ogr2ogr(&[
        "-f",
        "GPKG",
        gpkg.to_str().expect("utf-8"),
        csv.to_str().expect("utf-8"),
        "-oo",
        "GEOM_POSSIBLE_NAMES=wkt",
        "-oo",
        "KEEP_GEOM_COLUMNS=NO",
        "-a_srs",
        "EPSG:4326",
        "-nln",
        "curves",
    ]);
    assert!(
        ogrinfo(&["-ro", "-so", gpkg.to_str().expect("utf-8"), "curves"])
            .contains("Geometry: Unknown (any)"),
        "GDAL kept the curves"
    );
    let report = import_json(&run, "ops.gpkg", &gpkg, "curves", &[]);
    assert_eq!(report["dataset"]["feature_count"], 5, "{report}");
    let out = run.ok(&[
        "--store", "ops.gpkg", "export", "curves", "--output", "-", "--format", "geojson",
    ]);
    let collection: Value = serde_json::from_str(&out).expect("geojson export");
    let kinds: Vec<&str> = collection["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["geometry"]["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        [
            "LineString",
            "LineString",
            "Polygon",
            "MultiPolygon",
            "MultiLineString"
        ]
    );
    // A half circle of radius 1: 64 chords.
    assert_eq!(
        collection["features"][0]["geometry"]["coordinates"]
            .as_array()
            .map(Vec::len),
        Some(65)
    );
}

/// Each feature's validity, area and part count as GDAL's SQLite dialect (GEOS) computes them.
fn geos_shapes(gpkg: &Path, table: &str, geometry: &str) -> Vec<(i64, bool, f64, i64)> {
    let text = ogrinfo(&[
        "-ro",
        "-q",
        "-dialect",
        "sqlite",
        "-sql",
        &format!(
            "SELECT fid + 0 AS k, ST_IsValid({geometry}) AS v, ST_Area({geometry}) AS a, \
             ST_NumGeometries({geometry}) AS n FROM \"{table}\" ORDER BY fid"
        ),
        gpkg.to_str().expect("utf-8"),
    ]);
    let mut rows: Vec<(i64, bool, f64, i64)> = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some((head, value)) = line.split_once(" = ") else {
            continue;
        };
        match head.split_once(' ').map_or(head, |(name, _)| name) {
            "k" => rows.push((value.parse().expect("fid"), false, 0.0, 0)),
            "v" => rows.last_mut().expect("row").1 = value == "1",
            "a" => rows.last_mut().expect("row").2 = value.parse().expect("area"),
            "n" => rows.last_mut().expect("row").3 = value.parse().expect("parts"),
            _ => {}
        }
    }
    rows
}

#[test]
fn invalid_polygons_are_repaired_as_ogr2ogr_makevalid_repairs_them() {
    // Natural Earth's countries as a FlatGeobuf: GEOS finds two of 179 invalid (a ring crossing itself,
    // a ring touching itself). GDAL's own repair is the oracle: every feature of ours valid, with the area
    // and the number of parts `ogr2ogr -makevalid` gives it.
    let run = Run::new();
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/realworld/fgb/countries.fgb");
    let report = import_json(&run, "ops.gpkg", &source, "countries", &[]);
    assert_eq!(report["repaired_polygons"].as_u64(), Some(2), "{report}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("countries.fgb: feature 0: a polygon whose rings cross")
            && warnings.contains("countries.fgb: feature 166: a polygon whose rings cross"),
        "{warnings}"
    );
    let repaired = run.path("makevalid.gpkg");
    ogr2ogr(&[
        "-makevalid",
        "-f",
        "GPKG",
        repaired.to_str().expect("utf-8"),
        source.to_str().expect("utf-8"),
        "-nln",
        "countries",
    ]);
    let theirs = geos_shapes(&repaired, "countries", "geom");
    let ours = geos_shapes(&run.path("ops.gpkg"), "countries", "geom");
    assert_eq!(ours.len(), 179);
    assert_eq!(ours.len(), theirs.len());
    for (mine, gdal) in ours.iter().zip(&theirs) {
        assert!(mine.1, "feature {} is not valid for GEOS", mine.0);
        assert!(
            // The crossings the repair adds lie on the overlay's grid (the extent / 2^31), GEOS's in floating
            // point: areas agree to a few parts in a billion.
            (mine.2 - gdal.2).abs() <= 1e-8 * gdal.2.max(1.0),
            "feature {}: area {} vs ogr2ogr -makevalid {}",
            mine.0,
            mine.2,
            gdal.2
        );
        assert_eq!(mine.3, gdal.3, "feature {}: parts", mine.0);
    }
    // Natural Earth's 110m countries: Sudan's ring crosses itself by less than the overlay's grid step, and
    // putting its source positions back brought the crossing back; every feature valid for GEOS.
    let small = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/demo/ne_110m_admin_0_countries.geojson");
    let report = import_json(&run, "ops.gpkg", &small, "countries_110m", &[]);
    assert_eq!(report["repaired_polygons"].as_u64(), Some(1), "{report}");
    let shapes = geos_shapes(&run.path("ops.gpkg"), "countries_110m", "geom");
    assert_eq!(shapes.len(), 177);
    for shape in &shapes {
        assert!(shape.1, "110m feature {} is not valid for GEOS", shape.0);
    }
}
