//! Paged sources end to end over real HTTP on 127.0.0.1: an ArcGIS layer and a Socrata dataset, scripted
//! after their published APIs, are added through `/feeds` with their protocol as the format, synced by the
//! console's poll, and read back through OGC API Features. A full sync makes the dataset exactly what the
//! service holds (deleted rows go); the syncs between fetch only what changed; a token never shows.

use geoconsole_testkit::{
    ARCGIS_EDIT_BASE_MS, ArcgisLayer, ArcgisOrigin, LayerGeometry, SocrataDataset, SocrataOrigin,
    TestServer, serve_polled_by_hand, temp_gpkg,
};
use serde_json::{Value, json};

async fn sync(server: &TestServer, name: &str) -> Value {
    let reply = server
        .send(
            server
                .client()
                .post(server.at(&format!("/feeds/{name}/poll"))),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let report = reply.json();
    assert_eq!(report["outcome"], "ok", "{report}");
    report
}

async fn matched(server: &TestServer, dataset: &str) -> u64 {
    let reply = server
        .get(&format!("/collections/{dataset}/items?limit=1"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["numberMatched"]
        .as_u64()
        .expect("numberMatched")
}

async fn feature(server: &TestServer, dataset: &str, id: &str) -> Value {
    let reply = server
        .get(&format!("/collections/{dataset}/items/{id}"))
        .await;
    assert_eq!(reply.status, 200, "{id}: {}", reply.text());
    reply.json()
}

const ROWS: usize = 12_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arcgis_layer_becomes_a_dataset_kept_in_sync() {
    let origin = ArcgisOrigin::start(ArcgisLayer {
        max_record_count: 1000,
        geometry: LayerGeometry::Polygon,
        ..ArcgisLayer::new(ROWS)
    })
    .await;
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let definition = json!({
        "name": "flood", "url": origin.layer_url(), "format": "arcgis", "dataset": "flood_zones",
        "kind": "areas", "interval_s": 3600,
        "source": {"updated_field": "EditDate", "full_sync_s": 3600}
    });
    let reply = server.post_json("/feeds", definition.clone()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());

    // The first sync reads the whole layer, page by page.
    let report = sync(&server, "flood").await;
    let counts = &report;
    assert_eq!(counts["items"], ROWS as u64, "{report}");
    assert_eq!(counts["added"], ROWS as u64, "{report}");
    assert_eq!(counts["full_sync"], true, "{report}");
    assert!(counts["pages"].as_u64().expect("pages") >= 12, "{report}");
    assert_eq!(matched(&server, "flood_zones").await, ROWS as u64);
    let collection = server.get("/collections/flood_zones").await.json();
    assert_eq!(collection["kind"], "areas", "{collection}");
    let (row, _) = origin.row(7);
    let seventh = feature(&server, "flood_zones", "7").await;
    assert_eq!(seventh["properties"]["NAME"], row["NAME"], "{seventh}");
    assert_eq!(seventh["geometry"]["type"], "Polygon");

    // Edits reach the next sync, which asks only for rows edited since the newest edit it saw.
    let later = ARCGIS_EDIT_BASE_MS + 10_000_000;
    origin.edit(&[5, 6], later);
    let report = sync(&server, "flood").await;
    let counts = &report;
    assert_eq!(counts["full_sync"], false, "{report}");
    assert_eq!(counts["items"], 2, "{report}");
    assert_eq!(counts["updated"], 2, "{report}");
    let query = origin.queries().pop().expect("a query");
    assert!(query.contains("EditDate"), "incremental where: {query}");
    let fifth = feature(&server, "flood_zones", "5").await;
    assert_eq!(
        fifth["properties"]["DEPTH"].as_f64(),
        origin.row(5).0["DEPTH"].as_f64()
    );
    assert_eq!(matched(&server, "flood_zones").await, ROWS as u64);

    // Deleted rows go at the next full sync (due at once with full_sync_s 1), and nothing else changes.
    origin.delete(&[10, 11, 12]);
    let mut redefined = definition.clone();
    redefined["source"]["full_sync_s"] = json!(1);
    let reply = server.put_json("/feeds/flood", redefined).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = sync(&server, "flood").await;
    let counts = &report;
    assert_eq!(counts["full_sync"], true, "{report}");
    assert_eq!(counts["items"], ROWS as u64 - 3, "{report}");
    assert_eq!(counts["withdrawn"], 3, "{report}");
    assert_eq!(counts["added"], 0, "{report}");
    assert_eq!(matched(&server, "flood_zones").await, ROWS as u64 - 3);
    let gone = server.get("/collections/flood_zones/items/11").await;
    assert_eq!(gone.status, 404);

    // Health says when the last full sync ran.
    let view = server.get("/feeds/flood").await.json();
    assert!(view["state"]["last_full_sync"].is_string(), "{view}");
    assert_eq!(view["status"], "ok", "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_that_finds_nothing_keeps_the_dataset() {
    let origin = ArcgisOrigin::start(ArcgisLayer::new(500)).await;
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let reply = server
        .post_json(
            "/feeds",
            json!({"name": "pts", "url": origin.layer_url(), "format": "arcgis", "dataset": "pts"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    sync(&server, "pts").await;
    assert_eq!(matched(&server, "pts").await, 500);
    origin.delete(&(1..=500).collect::<Vec<i64>>());
    let reply = server
        .send(server.client().post(server.at("/feeds/pts/poll")))
        .await;
    let report = reply.json();
    assert_eq!(report["outcome"], "failed", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("keeps its 500 features")),
        "{report}"
    );
    assert_eq!(matched(&server, "pts").await, 500, "nothing was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socrata_dataset_syncs_with_its_token_never_shown() {
    let origin = SocrataOrigin::start(SocrataDataset {
        app_token: Some("s3cret-token".into()),
        ..SocrataDataset::new(3_500)
    })
    .await;
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let definition = json!({
        "name": "crime", "url": origin.resource_url(), "format": "socrata", "dataset": "crime_incidents",
        "source": {"app_token": "s3cret-token", "page_size": 1000}
    });
    let reply = server.post_json("/feeds", definition).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert!(!reply.text().contains("s3cret"), "{}", reply.text());
    let report = sync(&server, "crime").await;
    assert_eq!(report["items"], 3_500, "{report}");
    assert_eq!(matched(&server, "crime_incidents").await, 3_500);
    assert!(
        origin.requests().iter().all(|(_, headers)| headers
            .get("x-app-token")
            .is_some_and(|t| t == "s3cret-token")),
        "every request carries the token"
    );
    let view = server.get("/feeds/crime").await;
    assert!(!view.text().contains("s3cret"), "{}", view.text());
    // A definition read back and saved again keeps the real token.
    let mut spec = view.json();
    for shown in ["status", "state", "created", "updated"] {
        spec.as_object_mut().expect("view").remove(shown);
    }
    assert_eq!(spec["source"]["app_token"], "(redacted)", "{spec}");
    spec["interval_s"] = json!(120);
    let reply = server.put_json("/feeds/crime", spec).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let report = sync(&server, "crime").await;
    assert_eq!(report["full_sync"], false, "{report}");
    let last = origin.requests().pop().expect("a request");
    assert_eq!(
        last.1.get("x-app-token").expect("token"),
        "s3cret-token",
        "the stored token, not its redaction"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_options_belong_to_paged_formats_only() {
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let reply = server
        .post_json(
            "/feeds",
            json!({"name": "x", "url": "http://127.0.0.1:9/f.geojson", "format": "geojson",
                   "dataset": "x", "source": {"filter": "1=1"}}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().contains("arcgis, socrata, oapif and wfs"),
        "{}",
        reply.text()
    );
    let reply = server
        .post_json(
            "/feeds",
            json!({"name": "x", "url": "http://127.0.0.1:9/arcgis/rest/services/A/FeatureServer/0?where=1=1",
                   "format": "arcgis", "dataset": "x"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("without a query"), "{}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_real_sources_and_adds_one_as_a_feed() {
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let all = server.get("/catalog").await;
    assert_eq!(all.status, 200, "{}", all.text());
    let all = all.json();
    assert!(
        all["numberReturned"].as_u64().expect("count") >= 40,
        "{all}"
    );
    for entry in all["entries"].as_array().expect("entries") {
        for field in [
            "name",
            "url",
            "protocol",
            "licence",
            "attribution",
            "update_interval",
        ] {
            assert!(entry[field].is_string(), "{field} in {entry}");
        }
        assert_eq!(entry["added"], false);
    }

    let areas = server
        .get("/catalog?kind=areas&protocol=arcgis")
        .await
        .json();
    let entries = areas["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    assert!(
        entries
            .iter()
            .all(|e| e["kind"] == "areas" && e["protocol"] == "arcgis"),
        "{areas}"
    );
    let refused = server.get("/catalog?kind=volcanoes").await;
    assert_eq!(refused.status, 400, "{}", refused.text());

    let near = server.get("/catalog/nws-alert").await;
    assert_eq!(near.status, 404);
    assert!(
        near.text().contains("did you mean 'nws-alerts'"),
        "{}",
        near.text()
    );

    // A source that needs a key says where to get it; one no reader here reads says so.
    let keyless = server
        .post_json("/catalog/firms-area-api/add", json!({}))
        .await;
    assert_eq!(keyless.status, 400, "{}", keyless.text());
    assert!(keyless.text().contains("needs a key"), "{}", keyless.text());
    // With its key, it is saved with the key apart from the URL: nothing shown carries it.
    let firms = server
        .post_json(
            "/catalog/firms-area-api/add",
            json!({"key": "0123456789abcdef0123456789abcdef", "paused": true}),
        )
        .await;
    assert_eq!(firms.status, 201, "{}", firms.text());
    assert!(
        !firms.text().contains("0123456789abcdef"),
        "{}",
        firms.text()
    );
    let firms = firms.json();
    assert!(
        firms["url"].as_str().is_some_and(|u| u.contains("{key}")),
        "{firms}"
    );
    assert_eq!(firms["key"], "(redacted)");
    let listed = server.get("/feeds").await;
    assert!(!listed.text().contains("0123456789abcdef"));
    let unread = server
        .post_json("/catalog/police-uk-street-crime/add", json!({}))
        .await;
    assert_eq!(unread.status, 400, "{}", unread.text());

    // An ArcGIS entry becomes a paged source with the entry's kind; adding it twice is a conflict.
    let added = server
        .post_json(
            "/catalog/fema-nfhl-flood-zones/add",
            json!({"dataset": "flood_hazard", "paused": true}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text());
    let feed = added.json();
    assert_eq!(feed["name"], "fema-nfhl-flood-zones");
    assert_eq!(feed["format"], "arcgis");
    assert_eq!(feed["kind"], "areas");
    assert_eq!(feed["dataset"], "flood_hazard");
    assert_eq!(feed["enabled"], false);
    let shown = server.get("/catalog/fema-nfhl-flood-zones").await.json();
    assert_eq!(shown["added"], true, "{shown}");
    let again = server
        .post_json("/catalog/fema-nfhl-flood-zones/add", json!({}))
        .await;
    assert_eq!(again.status, 409, "{}", again.text());

    // A Socrata token given as the key goes in the source's options and never shows.
    let crimes = server
        .post_json("/catalog/chicago-crimes/add", json!({"key": "tok3nTOK3N"}))
        .await;
    assert_eq!(crimes.status, 201, "{}", crimes.text());
    assert!(!crimes.text().contains("tok3nTOK3N"), "{}", crimes.text());
    assert_eq!(crimes.json()["source"]["app_token"], "(redacted)");
}
