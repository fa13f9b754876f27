//! CAP documents imported as files through the binary, as an outside tester found them misread: an NWS
//! index entry placed only by its zone codes, and circles across the antimeridian and round a pole.

use std::path::PathBuf;

use serde_json::Value;

use crate::support;
use support::Run;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/feeds")
        .join(name)
        .to_str()
        .expect("utf-8")
        .to_string()
}

/// The dataset's features as GeoJSON.
fn features(run: &Run, dataset: &str) -> Vec<Value> {
    let out = run.ok(&[
        "--store", "s.gpkg", "export", dataset, "--output", "-", "--format", "geojson",
    ]);
    let collection: Value = serde_json::from_str(&out).expect("geojson");
    collection["features"].as_array().expect("features").clone()
}

/// Every polygon's `[west, south, east, north]`.
fn part_extents(geometry: &Value) -> Vec<[f64; 4]> {
    let polygons: Vec<&Value> = match geometry["type"].as_str() {
        Some("Polygon") => vec![&geometry["coordinates"]],
        Some("MultiPolygon") => geometry["coordinates"]
            .as_array()
            .expect("parts")
            .iter()
            .collect(),
        other => panic!("not an area: {other:?}"),
    };
    polygons
        .iter()
        .map(|p| {
            let mut e = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
            for c in p[0].as_array().expect("ring") {
                let (x, y) = (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"));
                e = [e[0].min(x), e[1].min(y), e[2].max(x), e[3].max(y)];
            }
            e
        })
        .collect()
}

#[test]
fn an_index_entry_given_only_by_zone_codes_is_placed_by_the_areas_named() {
    let run = Run::new();
    let base = ["--store", "s.gpkg", "-q"];
    let index = fixture("nws_index_one_geocode_entry.xml");
    // Without areas the entry is refused by its alert's identifier, not by a feature number that counts
    // the items made before it.
    let out = run.geoconsole(&[&base[..], &["import", &index, "--dataset", "nws"]].concat());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AK125AB652A170.HighWindWarning") && err.contains("--areas"),
        "{err}"
    );
    assert!(!err.contains("feature "), "{err}");
    run.ok(&[
        &base[..],
        &[
            "import",
            &fixture("ugc_zone_AKZ204.geojson"),
            "--dataset",
            "zones",
            "--kind",
            "areas",
        ],
    ]
    .concat());
    run.ok(&[
        &base[..],
        &[
            "import",
            &index,
            "--dataset",
            "nws",
            "--areas",
            "UGC=zones:code",
        ],
    ]
    .concat());
    let alerts = features(&run, "nws");
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert["properties"]["event"], "High Wind Warning");
    assert!(
        alert["properties"]["area_codes"]
            .as_str()
            .is_some_and(|c| c.contains("UGC AKZ204")),
        "{alert}"
    );
    assert_eq!(
        part_extents(&alert["geometry"]),
        vec![[-150.0, 69.0, -149.0, 70.0]],
        "the zone's own square"
    );
}

#[test]
fn circles_across_the_antimeridian_and_round_a_pole_stay_where_they_are() {
    let run = Run::new();
    run.ok(&[
        "--store",
        "s.gpkg",
        "-q",
        "import",
        &fixture("cap_circle_antimeridian.xml"),
        "--dataset",
        "dateline",
    ]);
    let alerts = features(&run, "dateline");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["geometry"]["type"], "MultiPolygon");
    let parts = part_extents(&alerts[0]["geometry"]);
    assert_eq!(parts.len(), 2, "{parts:?}");
    for [west, south, east, north] in &parts {
        // 50 km either way of 0,179.99: under a degree, not -179.95..179.99.
        assert!(east - west < 1.0 && north - south < 1.0, "{parts:?}");
    }
    assert!(parts.iter().any(|p| p[2] == 180.0) && parts.iter().any(|p| p[0] == -180.0));

    run.ok(&[
        "--store",
        "s.gpkg",
        "-q",
        "import",
        &fixture("cap_circle_pole.xml"),
        "--dataset",
        "pole",
    ]);
    let alerts = features(&run, "pole");
    assert_eq!(alerts.len(), 1);
    let parts = part_extents(&alerts[0]["geometry"]);
    assert_eq!(parts.len(), 1, "{parts:?}");
    let [west, south, east, north] = parts[0];
    assert_eq!((west, east, north), (-180.0, 180.0, 90.0), "holds the pole");
    assert!(south > 89.0, "{south}");
}
