//! Real files other GIS projects publish (`fixtures/realworld/`, sources in its README) imported with the
//! built binary and compared with GDAL's reading of the same file: feature count, every attribute GDAL
//! reports and each feature's extent. A file that does not match (or that GDAL reads and we refuse) fails
//! this test unless `KNOWN_DIFFERENCES` names it; an entry whose file now matches fails it too, so the list
//! only ever shrinks. `bench/realworld.py` judges by the same comparison (reading this list from here),
//! adds vertex-by-vertex notes that never change an outcome, and writes the table in `bench/RESULTS.md`.

use crate::support;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::Run;

/// Every corpus file (or layer, after `#`) that does not match GDAL today, and why. This is the work list of
/// the reader fixes: when a fix makes a file match, its entry must go (the test says so). On the day the
/// corpus was committed every file that fails is listed here; that is expected, not an oversight.
const KNOWN_DIFFERENCES: &[(&str, &str /* why / class */)] = &[
    // Deliberate: GDAL's LIBKML driver also lists a <GroundOverlay> (an image draped over a box) as a
    // feature with the box as its polygon; the console reads places and events, placemarks, not images.
    (
        "kml/KML_Samples.kml",
        "deliberate: GDAL 21 (20 placemarks + the GroundOverlay's box), ours the 20 placemarks",
    ),
    (
        "kml/KML_Samples.kmz",
        "deliberate: GDAL 21 (20 placemarks + the GroundOverlay's box), ours the 20 placemarks",
    ),
    // GDAL's own reading: a route's `link1_type` is "example type r" in GDAL, "link type3" (the file's
    // <link><type>) here
    (
        "gpx/gpxpy_gpx1.1_with_all_fields.gpx#routes",
        "GDAL quirk: route link1_type differs from the file's <link><type>",
    ),
    // The oracle's path cannot hold these: GDAL reads TIN and TRIANGLE from the CSV's WKT but its GeoJSON
    // writer refuses them; we read them as the polygons they are made of (a TIN a MULTIPOLYGON, a TRIANGLE
    // a POLYGON), as GDAL's own `-nlt MULTIPOLYGON` converts them.
    (
        "csv/test_tin.csv",
        "GDAL's GeoJSON output refuses TIN/TRIANGLE; ours reads them as multipolygon/polygon",
    ),
    // deliberate: the data-protection guard refuses personal and special-category columns
    (
        "csv/vega_la-riots.csv",
        "deliberate: privacy guard refuses names, age, race of the dead (keep refusing)",
    ),
];

/// What the CAP standard makes of each message: alerts with a place (a circle of radius 0 is a point; an
/// area given by geocodes is an area the receiver looks up). Same table as `EXPECTED_CAP` in the script.
const EXPECTED_CAP: &[(&str, usize)] = &[
    ("cap12_oasis_A2_thunderstorm_polygon.xml", 1),
    ("cap12_oasis_A3_earthquake_circle_radius0.xml", 1),
    ("cap12_ntwc_PAAQ-4-mg5a94_tsunami_cancel_circle0.xml", 1),
    ("cap12_oasis_A4_amber_geocode_only.xml", 1),
    ("cap12_oasis_A4_declared_utf8_written_cp1252.xml", 1),
    ("cap11_nws_blizzard_geocode_only_empty_polygon.xml", 1),
];

const COORD_TOL: f64 = 1e-9;
const CURVE_TOL: f64 = 1e-3;
const KML_DISPLAY_FIELDS: [&str; 7] = [
    "extrude",
    "tessellate",
    "altitudemode",
    "visibility",
    "draworder",
    "icon",
    "snippet",
];
const CSV_X: &str = "lon,lng,long,longitude,x,lon_dd,longitude_dd";
const CSV_Y: &str = "lat,latitude,y,lat_dd,latitude_dd";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/realworld")
}

/// One thing compared: a file, or one layer of it.
struct Unit {
    path: PathBuf,
    rel: String,
    format: String,
    /// The GDAL source (a `/vsizip/` path for zips).
    source: String,
    /// GDAL's layers to read and concatenate; empty when GDAL opens none.
    gdal_layers: Vec<String>,
    /// `--layer` for geoconsole.
    our_layer: Option<String>,
    curved: bool,
}

impl Unit {
    fn key(&self) -> String {
        match &self.our_layer {
            Some(layer) if self.format != "zip" => format!("{}#{layer}", self.rel),
            _ => self.rel.clone(),
        }
    }
}

fn output(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// GDAL's layers of a source with their feature counts, in its order; `None` when it cannot open it.
fn gdal_layers(source: &str) -> Option<Vec<(String, u64, String)>> {
    let (ok, text, _) = output("ogrinfo", &["-ro", "-so", "-al", source]);
    if !ok {
        return None;
    }
    let mut layers: Vec<(String, u64, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("Layer name: ") {
            layers.push((name.trim().to_string(), 0, String::new()));
        } else if let (Some(count), Some(last)) =
            (line.strip_prefix("Feature Count: "), layers.last_mut())
        {
            last.1 = count.trim().parse().unwrap_or(0);
        } else if let (Some(kind), Some(last)) =
            (line.strip_prefix("Geometry: "), layers.last_mut())
        {
            kind.trim().clone_into(&mut last.2);
        }
    }
    Some(layers)
}

fn is_curve_type(kind: &str) -> bool {
    let kind = kind.to_ascii_uppercase();
    ["CIRCULAR", "COMPOUND", "CURVE", "SURFACE"]
        .iter()
        .any(|w| kind.contains(w))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn units() -> Vec<Unit> {
    let root = corpus();
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut units = Vec::new();
    for path in all {
        let rel = path
            .strip_prefix(&root)
            .expect("under corpus")
            .to_string_lossy()
            .replace('\\', "/");
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let format = rel.split('/').next().unwrap_or_default().to_string();
        if format == "cap"
            || ["shx", "dbf", "prj", "cpg", "sbn", "sbx", "md"].contains(&ext.as_str())
        {
            continue;
        }
        let source = path.to_string_lossy().into_owned();
        let unit =
            |source: String, gdal_layers: Vec<String>, our_layer: Option<String>, curved| Unit {
                path: path.clone(),
                rel: rel.clone(),
                format: format.clone(),
                source,
                gdal_layers,
                our_layer,
                curved,
            };
        match format.as_str() {
            "gpkg" | "gpx" => {
                let layers = gdal_layers(&source).unwrap_or_default();
                let with_features: Vec<_> = layers
                    .iter()
                    .filter(|(_, count, _)| format == "gpkg" || *count > 0)
                    .collect();
                if with_features.is_empty() {
                    let names = layers.iter().map(|l| l.0.clone()).collect();
                    units.push(unit(source.clone(), names, None, false));
                }
                for (name, _, kind) in with_features {
                    units.push(unit(
                        source.clone(),
                        vec![name.clone()],
                        Some(name.clone()),
                        is_curve_type(kind),
                    ));
                }
            }
            "kml" => {
                let source = if ext == "kmz" {
                    format!("/vsizip/{source}/doc.kml")
                } else {
                    source
                };
                let names = gdal_layers(&source)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| l.0)
                    .collect();
                units.push(unit(source, names, None, false));
            }
            "zip" => {
                let file = std::fs::File::open(&path).expect("zip");
                let names: Vec<String> = zip::ZipArchive::new(file)
                    .map(|z| {
                        z.file_names()
                            .filter_map(Result::ok)
                            .map(std::borrow::Cow::into_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let shps: Vec<&String> = names
                    .iter()
                    .filter(|n| n.to_ascii_lowercase().ends_with(".shp"))
                    .collect();
                if shps.is_empty() {
                    units.push(unit(format!("/vsizip/{source}"), Vec::new(), None, false));
                }
                for shp in &shps {
                    let shp_path = Path::new(shp.as_str());
                    let folder = shp_path
                        .parent()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let stem = shp_path
                        .file_stem()
                        .expect("stem")
                        .to_string_lossy()
                        .into_owned();
                    let gdal = if folder.is_empty() {
                        format!("/vsizip/{source}")
                    } else {
                        format!("/vsizip/{source}/{folder}")
                    };
                    let ours = (shps.len() > 1).then(|| (*shp).clone());
                    units.push(unit(gdal, vec![stem], ours, false));
                }
            }
            _ => {
                let curved = format == "csv"
                    && std::fs::read_to_string(&path)
                        .unwrap_or_default()
                        .to_ascii_uppercase()
                        .contains("CURVE");
                units.push(unit(source, Vec::new(), None, curved));
            }
        }
    }
    units
}

/// GDAL's features of a unit (as `bench/realworld.py` converts them), or why GDAL cannot read it.
fn gdal_features(unit: &Unit, run: &Run) -> Result<Vec<Value>, String> {
    if unit.format == "geoparquet" {
        return parquet_reference(&unit.path);
    }
    if matches!(unit.format.as_str(), "gpkg" | "gpx" | "kml" | "zip") && unit.gdal_layers.is_empty()
    {
        return Err("GDAL opens no layer".into());
    }
    let mut source = unit.source.clone();
    let mut config: Vec<String> = Vec::new();
    if unit.format == "geojsonseq" {
        source = format!("GeoJSONSeq:{source}");
    }
    if unit.format == "shapefile" && !unit.path.with_extension("shx").exists() {
        // GDAL rebuilds a missing .shx beside the file, so it reads a copy
        let dir = run.path("shx_restored");
        std::fs::create_dir_all(&dir).expect("copy folder");
        let stem = unit.path.file_stem().expect("stem").to_owned();
        for entry in std::fs::read_dir(unit.path.parent().expect("folder")).expect("folder") {
            let p = entry.expect("entry").path();
            if p.file_stem() == Some(stem.as_os_str()) {
                std::fs::copy(&p, dir.join(p.file_name().expect("name"))).expect("copy");
            }
        }
        source = dir
            .join(unit.path.file_name().expect("name"))
            .to_string_lossy()
            .into_owned();
        config = vec!["--config".into(), "SHAPE_RESTORE_SHX".into(), "YES".into()];
    }
    let layers: Vec<Option<&String>> = if unit.gdal_layers.is_empty() {
        vec![None]
    } else {
        unit.gdal_layers.iter().map(Some).collect()
    };
    let mut features = Vec::new();
    for layer in layers {
        let out = run.path("gdal.geojson");
        let mut stderr = String::new();
        let mut done = false;
        'tries: for nlt in ["CONVERT_TO_LINEAR", "MULTIPOLYGON"] {
            for srs in [&["-t_srs", "EPSG:4326"][..], &[]] {
                let _ = std::fs::remove_file(&out);
                let mut args: Vec<String> = config.clone();
                args.extend(
                    ["-f", "GeoJSON", out.to_str().expect("utf-8"), &source].map(String::from),
                );
                args.extend(layer.cloned());
                if unit.format == "csv" {
                    for o in [
                        format!("X_POSSIBLE_NAMES={CSV_X}"),
                        format!("Y_POSSIBLE_NAMES={CSV_Y}"),
                        "KEEP_GEOM_COLUMNS=NO".into(),
                    ] {
                        args.extend(["-oo".to_string(), o]);
                    }
                }
                args.extend(
                    [
                        "-lco",
                        "RFC7946=NO",
                        "-lco",
                        "SIGNIFICANT_FIGURES=17",
                        "-nlt",
                        nlt,
                    ]
                    .map(String::from),
                );
                args.extend(srs.iter().map(|s| (*s).to_string()));
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let (ok, _, err) = output("ogr2ogr", &refs);
                if ok {
                    done = true;
                    break 'tries;
                }
                let no_crs = err
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .contains("has no coordinate system");
                stderr = err;
                if !no_crs {
                    break;
                }
            }
            if !stderr.contains("unsupported as a GeoJSON geometry") {
                break;
            }
        }
        if !done {
            return Err(stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("ogr2ogr failed")
                .to_string());
        }
        let bytes = std::fs::read(&out).expect("ogr2ogr output");
        // GDAL passes a DBF's bytes through when it knows no code page, which is not UTF-8: the reference
        // then reads them as Latin-1 (what those bytes are in the corpus)
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| char::from(b)).collect());
        let collection: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: GDAL GeoJSON: {e}", unit.rel));
        features.extend(
            collection["features"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    for f in &mut features {
        if let Some(props) = f.get_mut("properties").and_then(Value::as_object_mut) {
            props.retain(|k, _| {
                let k = k.to_lowercase();
                !(unit.format == "kml" && KML_DISPLAY_FIELDS.contains(&k.as_str())
                    || unit.format == "gpx" && k.contains("extension")
                    || matches!(unit.format.as_str(), "csv" | "spreadsheet")
                        && (["wkt", "geometry", "geom", "the_geom"].contains(&k.as_str())
                            || CSV_X.split(',').chain(CSV_Y.split(',')).any(|c| c == k)))
            });
        }
    }
    Ok(features)
}

/// GeoParquet's reference: this GDAL has no Parquet driver, so pyarrow reads the rows; geometry extents
/// are not compared for it here (the script decodes the WKB).
fn parquet_reference(path: &Path) -> Result<Vec<Value>, String> {
    let script = "import json,sys,pyarrow.parquet as pq\n\
        t=pq.read_table(sys.argv[1]); m=(t.schema.metadata or {}).get(b'geo')\n\
        if not m: print(json.dumps({'error':'no geo metadata: not GeoParquet'})); sys.exit()\n\
        col=json.loads(m).get('primary_column','geometry')\n\
        rows=[{k:v for k,v in r.items() if k not in (col,'bbox')} for r in t.to_pylist()]\n\
        print(json.dumps({'rows':rows}, default=str))";
    let (ok, out, err) = output("python3", &["-c", script, path.to_str().expect("utf-8")]);
    assert!(ok, "pyarrow must be installed: {err}");
    let v: Value = serde_json::from_str(&out).expect("pyarrow json");
    if let Some(e) = v["error"].as_str() {
        return Err(e.to_string());
    }
    Ok(v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| serde_json::json!({"type": "Feature", "geometry": "unchecked", "properties": r}))
        .collect())
}

fn our_features(unit: &Unit, run: &Run, n: usize) -> Result<Vec<Value>, String> {
    let store = format!("ours{n}.gpkg");
    let file = unit.path.to_str().expect("utf-8");
    let mut args = vec!["--store", &store, "-q", "import", file, "--dataset", "d"];
    if let Some(layer) = &unit.our_layer {
        args.extend(["--layer", layer]);
    }
    let out = run.geoconsole(&args);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed")
            .to_string());
    }
    let text = run.ok(&[
        "--store", &store, "export", "d", "--output", "-", "--format", "geojson",
    ]);
    let collection: Value = serde_json::from_str(&text).expect("our export");
    Ok(collection["features"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

#[derive(Debug, PartialEq)]
enum Norm {
    Num(f64),
    Text(String),
    Time(i64),
}

fn norm(v: &Value) -> Option<Norm> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(Norm::Num(if *b { 1.0 } else { 0.0 })),
        Value::Number(n) => Some(Norm::Num(n.as_f64().unwrap_or(f64::NAN))),
        Value::String(s) => {
            let s = s.trim();
            let digits = s.trim_start_matches(['+', '-']);
            if digits.len() > 1
                && digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Some(Norm::Text(s.to_string()));
            }
            if let Ok(x) = s.parse::<f64>()
                && s.bytes().any(|b| b.is_ascii_digit())
                && !s.contains(char::is_alphabetic)
            {
                return Some(Norm::Num(x));
            }
            if let Some(t) = time(s) {
                return Some(Norm::Time(t));
            }
            Some(Norm::Text(s.to_string()))
        }
        other => Some(Norm::Text(other.to_string())),
    }
}

/// A date or date-time as epoch milliseconds (no offset: UTC; a date: midnight UTC).
fn time(s: &str) -> Option<i64> {
    let s = s.replace('/', "-");
    if s.len() < 10 || !s.as_bytes()[..4].iter().all(u8::is_ascii_digit) || s.as_bytes()[4] != b'-'
    {
        return None;
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s.replace(' ', "T")) {
        return Some(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(&s, f) {
            return Some(t.timestamp_millis());
        }
    }
    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

fn same(a: Option<&Norm>, b: Option<&Norm>) -> bool {
    match (a, b) {
        (Some(Norm::Num(x)), Some(Norm::Num(y))) => {
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (a, b) => a == b,
    }
}

/// dBASE logical letters GDAL keeps as text, against our booleans; `?` is dBASE's "unknown".
fn dbase_logical(gdal: &Value, ours: &Value) -> bool {
    let Some(letter) = gdal.as_str().map(str::trim) else {
        return false;
    };
    match letter {
        "T" | "t" | "Y" | "y" => ours == &Value::Bool(true),
        "F" | "f" | "N" | "n" => ours == &Value::Bool(false),
        "?" | "" => ours.is_null(),
        _ => false,
    }
}

/// The 2D extent of a GeoJSON geometry; `None` for null and empty.
fn extent(g: &Value) -> Option<[f64; 4]> {
    fn walk(v: &Value, e: &mut Option<[f64; 4]>) {
        match v {
            Value::Array(items)
                if items.len() >= 2 && items[0].is_number() && items[1].is_number() =>
            {
                let (x, y) = (
                    items[0].as_f64().unwrap_or(f64::NAN),
                    items[1].as_f64().unwrap_or(f64::NAN),
                );
                let b = e.get_or_insert([x, y, x, y]);
                *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, e)),
            Value::Object(o) => {
                if let Some(c) = o.get("coordinates") {
                    walk(c, e);
                }
                if let Some(gs) = o.get("geometries") {
                    walk(gs, e);
                }
            }
            _ => {}
        }
    }
    let mut e = None;
    walk(g, &mut e);
    e
}

/// The first differences between GDAL's features and ours (empty: they match).
fn differences(unit: &Unit, gdal: &[Value], ours: &[Value]) -> Vec<String> {
    if gdal.len() != ours.len() {
        return vec![format!("count: GDAL {}, ours {}", gdal.len(), ours.len())];
    }
    let compare = |pairs: &mut dyn Iterator<Item = (usize, &Value, &Value)>| {
        let mut diffs = Vec::new();
        for (i, g, o) in pairs {
            let ours: BTreeMap<String, &Value> = o["properties"]
                .as_object()
                .map(|p| p.iter().map(|(k, v)| (k.to_lowercase(), v)).collect())
                .unwrap_or_default();
            for (name, gv) in g["properties"].as_object().into_iter().flatten() {
                let name = name.to_lowercase();
                let ov = match ours.get(&name) {
                    Some(v) => Some(*v),
                    None if name == "id" => o.get("id"),
                    None => None,
                };
                if gv.is_null() && ov.is_none() {
                    continue;
                }
                let ov = ov.unwrap_or(&Value::Null);
                if !same(norm(gv).as_ref(), norm(ov).as_ref()) && !dbase_logical(gv, ov) {
                    diffs.push(format!("feature {i} `{name}`: GDAL {gv} vs ours {ov}"));
                }
            }
            // GDAL's XLSX and ODS drivers read no geometry: the sheet's count and its other columns are
            // compared, the positions come from the same columns as CSV's
            if g["geometry"].is_string() || unit.format == "spreadsheet" {
                continue;
            }
            let tol = if unit.curved { CURVE_TOL } else { COORD_TOL };
            match (extent(&g["geometry"]), extent(&o["geometry"])) {
                (None, None) => {}
                (Some(a), Some(b)) if a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol) => {}
                (a, b) => diffs.push(format!("feature {i}: extent {a:?} vs ours {b:?}")),
            }
        }
        diffs
    };
    let diffs = compare(
        &mut gdal
            .iter()
            .zip(ours)
            .enumerate()
            .map(|(i, (g, o))| (i, g, o)),
    );
    if diffs.is_empty() {
        return diffs;
    }
    // the same features in another order (paired by their attributes) is not a difference
    let signature = |f: &Value| {
        let mut m: Vec<(String, String)> = f["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.to_lowercase(), format!("{:?}", norm(v))))
            .collect();
        m.sort();
        format!("{m:?}")
    };
    let mut pool: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for o in ours {
        pool.entry(signature(o)).or_default().push(o);
    }
    let mut pairs = Vec::new();
    for (i, g) in gdal.iter().enumerate() {
        match pool.get_mut(&signature(g)).and_then(Vec::pop) {
            Some(o) => pairs.push((i, g, o)),
            None => return diffs,
        }
    }
    if compare(&mut pairs.into_iter()).is_empty() {
        Vec::new()
    } else {
        diffs
    }
}

/// Serves one file's bytes to every request on a loopback port, for the CAP feed reader.
fn serve_bytes(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

/// A CAP message imported as a file (`geoconsole import`, the same reader as a feed's): the features it
/// made, or why none.
fn cap_file_outcome(run: &Run, name: &str, n: usize) -> Result<usize, String> {
    let path = corpus().join("cap").join(name);
    let file = path.to_str().expect("utf-8");
    let store = format!("capfile{n}.gpkg");
    let base = ["--store", &store, "--config", "geoconsole.toml"];
    import_test_zones(run, &base);
    // A file's alerts given only by geocodes are placed as a feed's are, by the areas the import names.
    let out = run.geoconsole(
        &[
            &base[..],
            &[
                "-q",
                "import",
                file,
                "--dataset",
                "alerts",
                "--skip-invalid",
                "--areas",
                "zones",
                "--area-code-field",
                "code",
            ],
        ]
        .concat(),
    );
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed")
            .to_string());
    }
    let out = run.geoconsole(
        &[
            &base[..],
            &["export", "alerts", "--output", "-", "--format", "geojson"],
        ]
        .concat(),
    );
    if !out.status.success() {
        // Nothing was imported (every alert skipped), so there is no dataset to export.
        return Ok(0);
    }
    let collection: Value = serde_json::from_slice(&out.stdout).expect("our export");
    Ok(collection["features"].as_array().map_or(0, Vec::len))
}

/// Alerts given only by geocodes are placed by joining their codes to an areas dataset, as a receiver
/// looks them up: imports a few test zones and counties named by the codes these messages use, as `zones`
/// with the codes in `code`.
fn import_test_zones(run: &Run, base: &[&str]) {
    let zones =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/feeds/cap_test_zones.geojson");
    run.ok(&[
        base,
        &[
            "-q",
            "import",
            zones.to_str().expect("utf-8"),
            "--dataset",
            "zones",
        ],
    ]
    .concat());
}

/// A CAP message polled once as a feed: the alerts it put in the dataset, or why none.
fn cap_outcome(run: &Run, name: &str, n: usize) -> Result<usize, String> {
    let body = std::fs::read(corpus().join("cap").join(name)).expect("cap file");
    let port = serve_bytes(body);
    let store = format!("cap{n}.gpkg");
    let url = format!("http://127.0.0.1:{port}/{name}");
    let dataset = format!("alerts{n}");
    let base = ["--store", &store, "--config", "geoconsole.toml"];
    import_test_zones(run, &base);
    let add = [
        &base[..],
        &[
            "feeds",
            "add",
            "--name",
            "cap",
            "--url",
            &url,
            "--format",
            "cap",
            "--dataset",
            &dataset,
            "--areas",
            "zones",
            "--area-code-field",
            "code",
            "--paused",
        ],
    ]
    .concat();
    run.ok(&add);
    let report = run.json(&[&base[..], &["--json", "feeds", "poll-now", "cap"]].concat());
    let report = report.get(0).unwrap_or(&report);
    let out = run.geoconsole(
        &[
            &base[..],
            &["export", &dataset, "--output", "-", "--format", "geojson"],
        ]
        .concat(),
    );
    let count = if out.status.success() {
        serde_json::from_slice::<Value>(&out.stdout).expect("export")["features"]
            .as_array()
            .map_or(0, Vec::len)
    } else {
        0
    };
    if count > 0 {
        return Ok(count);
    }
    let mut why: Vec<String> = report["skipped_reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect();
    if report["outcome"] != "ok" {
        why.push(format!("{}", report["error"]));
    }
    Err(why.join("; "))
}

#[test]
fn realworld_files_import_as_gdal_reads_them_or_are_known_differences() {
    let run = Run::new();
    std::fs::write(
        run.path("geoconsole.toml"),
        "[network]\nallow = [\"127.0.0.1\"]\n",
    )
    .expect("config");
    let mut outcomes: Vec<(String, Result<(), String>)> = Vec::new();
    for (n, unit) in units().iter().enumerate() {
        let gdal = gdal_features(unit, &run);
        let ours = our_features(unit, &run, n);
        let outcome = match (gdal, ours) {
            (Err(_), Err(_)) => Ok(()),
            (Err(g), Ok(o)) => Err(format!(
                "read-where-GDAL-refuses: GDAL {g}; we import {}",
                o.len()
            )),
            (Ok(g), Err(o)) => Err(format!("refused (GDAL reads {}): {o}", g.len())),
            (Ok(g), Ok(o)) => {
                let diffs = differences(unit, &g, &o);
                if diffs.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "differing: {}",
                        diffs[..diffs.len().min(3)].join("; ")
                    ))
                }
            }
        };
        outcomes.push((unit.key(), outcome));
    }
    for (n, (name, expected)) in EXPECTED_CAP.iter().enumerate() {
        // The message counts as matching when it raises its alerts both as a feed item and as a file.
        let judge = |how: &str, outcome: Result<usize, String>| match outcome {
            Ok(count) if count == *expected => Ok(()),
            Ok(count) => Err(format!(
                "differing {how}: the standard makes {expected} alert(s), we {count}"
            )),
            Err(why) => Err(format!("refused {how}: {why}")),
        };
        outcomes.push((
            format!("cap/{name}"),
            judge("as a feed", cap_outcome(&run, name, n)),
        ));
        outcomes.push((
            format!("cap/{name}#file"),
            judge("as a file", cap_file_outcome(&run, name, n)),
        ));
    }
    let mut report = String::new();
    let known: BTreeMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    for (key, outcome) in &outcomes {
        match (outcome, known.get(key.as_str())) {
            (Err(why), None) => {
                let _ = writeln!(report, "NEW DIFFERENCE {key}: {why}");
            }
            (Ok(()), Some(why)) => {
                let _ = writeln!(
                    report,
                    "NOW MATCHES {key} (remove it from KNOWN_DIFFERENCES: {why})"
                );
            }
            _ => {}
        }
    }
    for key in known.keys() {
        if !outcomes.iter().any(|(k, _)| k == key) {
            let _ = writeln!(
                report,
                "NOT IN THE CORPUS {key} (remove it from KNOWN_DIFFERENCES)"
            );
        }
    }
    assert!(
        outcomes.len() > 60,
        "the corpus shrank: {} files/layers",
        outcomes.len()
    );
    assert!(
        report.is_empty(),
        "real-world files against GDAL:\n{report}"
    );
}
