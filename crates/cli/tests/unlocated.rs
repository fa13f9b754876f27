//! Features without a location, end to end: a GeoJSON feature with `"geometry": null` (RFC 7946 §3.2) is
//! imported through the CLI, kept in the GeoPackage with a NULL geometry (GDAL reads it back), listed by
//! `/items` with `"geometry": null`, and left out of everything that needs a place (bbox selections, tiles,
//! hexagon counts), so each count matches the file. An empty file becomes an empty dataset.

use crate::support;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Run, ogr_layers, ready, serve};

fn collection(features: Value) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_geometry_is_kept_listed_and_never_placed() {
    let run = Run::new();
    let features = json!([
        {"type": "Feature", "id": "a", "geometry": {"type": "Point", "coordinates": [10.0, 50.0]},
         "properties": {"name": "located", "time": "2024-05-01T00:00:00Z"}},
        {"type": "Feature", "id": "b", "geometry": null,
         "properties": {"name": "nowhere", "time": "2024-05-02T00:00:00Z"}},
        {"type": "Feature", "id": "c", "geometry": {"type": "Point", "coordinates": [11.0, 51.0]},
         "properties": {"name": "also located", "time": "2024-05-03T00:00:00Z"}}
    ]);
    std::fs::write(run.path("mixed.geojson"), collection(features)).expect("write");
    std::fs::write(run.path("geoconsole.toml"), "").expect("config");
    let out = run.ok(&[
        "--store",
        "s.gpkg",
        "import",
        "mixed.geojson",
        "--dataset",
        "mixed",
    ]);
    assert!(
        out.contains("imported 3 features, 1 without a location"),
        "{out}"
    );
    // GDAL reads the store's table: three features, the unlocated one with a NULL geometry.
    let layers = ogr_layers(&run.path("s.gpkg"));
    assert_eq!(layers["mixed"].count, 3, "{layers:?}");
    assert_eq!(layers["mixed"].extent, Some([10.0, 50.0, 11.0, 51.0]));

    // An empty file is an empty dataset, as GDAL opens an empty layer.
    std::fs::write(run.path("none.geojson"), collection(json!([]))).expect("write");
    let out = run.ok(&[
        "--store",
        "s.gpkg",
        "import",
        "none.geojson",
        "--dataset",
        "none",
    ]);
    assert!(out.contains("imported 0 features"), "{out}");

    let (mut console, url) = serve(run.dir.path(), "s.gpkg");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    ready(&client, &url).await;
    let get = |path: String| {
        let client = client.clone();
        async move {
            let response = client.get(&path).send().await.expect("request");
            assert_eq!(response.status(), 200, "{path}");
            response.json::<Value>().await.expect("json")
        }
    };

    let items = get(format!("{url}/collections/mixed/items")).await;
    let listed = items["features"].as_array().expect("features");
    assert_eq!(listed.len(), 3, "{items}");
    let nowhere = listed
        .iter()
        .find(|f| f["id"] == "b")
        .expect("the unlocated feature is listed");
    assert_eq!(nowhere["geometry"], Value::Null, "{nowhere}");
    assert_eq!(nowhere["properties"]["name"], "nowhere");
    let one = get(format!("{url}/collections/mixed/items/b")).await;
    assert_eq!(one["geometry"], Value::Null);

    // A box covering the world still selects only the located ones; a time window alone finds all.
    let boxed = get(format!(
        "{url}/collections/mixed/items?bbox=-180,-90,180,90"
    ))
    .await;
    assert_eq!(boxed["features"].as_array().expect("features").len(), 2);
    let timed = get(format!(
        "{url}/collections/mixed/items?datetime=2024-05-02T00:00:00Z/2024-05-02T12:00:00Z"
    ))
    .await;
    assert_eq!(timed["features"].as_array().expect("features").len(), 1);
    // A spatial filter on an unlocated feature is unknown: neither it nor its negation selects it.
    let not_near = get(format!(
        "{url}/collections/mixed/items?filter=NOT%20S_INTERSECTS(geometry,%20BBOX(0,0,1,1))"
    ))
    .await;
    assert_eq!(not_near["features"].as_array().expect("features").len(), 2);

    // Hexagon counts and tiles pass it by.
    let cells = get(format!("{url}/analytics/h3?collection=mixed&resolution=3")).await;
    let counted: f64 = cells["features"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| c["properties"]["count"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(counted, 2.0, "{cells}");
    let tile = client
        .get(format!(
            "{url}/collections/mixed/tiles/WebMercatorQuad/0/0/0"
        ))
        .send()
        .await
        .expect("tile");
    assert_eq!(tile.status(), 200);

    // The empty dataset is a collection like any other, with an empty page and an empty tile.
    let empty = get(format!("{url}/collections/none/items")).await;
    assert_eq!(empty["features"].as_array().expect("features").len(), 0);
    let tile = client
        .get(format!(
            "{url}/collections/none/tiles/WebMercatorQuad/0/0/0"
        ))
        .send()
        .await
        .expect("tile");
    assert!(
        tile.status() == 200 || tile.status() == 204,
        "{}",
        tile.status()
    );

    // Exported as GeoJSON, the feature keeps its null geometry.
    let exported = run.path("out.geojson");
    run.ok(&[
        "--store",
        "s.gpkg",
        "export",
        "mixed",
        "--output",
        exported.to_str().expect("utf-8"),
    ]);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).expect("export")).expect("json");
    let nulls = written["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter(|f| f["geometry"].is_null())
        .count();
    assert_eq!(nulls, 1, "{written}");

    console.kill().expect("stop");
    console.wait().expect("reaped");
}
