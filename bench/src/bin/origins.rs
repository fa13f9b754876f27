//! The scripted service origins of the test kit, served on 127.0.0.1 for the connector benchmark
//! (`bench/connectors_vs_ogr2ogr.py`): one ArcGIS REST FeatureServer layer, one Socrata dataset, one OGC API
//! – Features collection and one WFS 2.0 feature type of N rows each. Prints one JSON line with their URLs, then serves until standard input closes.
//!
//! Usage: origins ROWS [MAX_RECORD_COUNT]

use std::io::Read;

use geoconsole_testkit::{
    ArcgisLayer, ArcgisOrigin, OapifCollection, OapifOrigin, SocrataDataset, SocrataOrigin,
    WfsLayer, WfsOrigin,
};

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(rows) = args.get(1).and_then(|n| n.parse::<usize>().ok()) else {
        eprintln!("usage: origins ROWS [MAX_RECORD_COUNT]");
        std::process::exit(2);
    };
    let page = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let arcgis = ArcgisOrigin::start(ArcgisLayer {
        max_record_count: page,
        // Esri JSON only, so both sides of the benchmark parse the same bytes.
        geojson: false,
        ..ArcgisLayer::new(rows)
    })
    .await;
    let socrata = SocrataOrigin::start(SocrataDataset::new(rows)).await;
    let oapif = OapifOrigin::start(OapifCollection {
        max_limit: page,
        ..OapifCollection::new(rows)
    })
    .await;
    let wfs = WfsOrigin::start(WfsLayer {
        count_default: Some(page),
        // GML 3.2 only: GDAL's WFS driver reads GML, so both sides of the benchmark parse the same bytes.
        json: false,
        ..WfsLayer::new(rows)
    })
    .await;
    println!(
        "{}",
        serde_json::json!({
            "arcgis": arcgis.layer_url(),
            "socrata": socrata.resource_url(),
            "oapif": oapif.collection_url(),
            "wfs": wfs.endpoint(),
        })
    );
    // Served by this runtime's tasks until stdin closes (the script ends the process that way).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .expect("stdin");
}
