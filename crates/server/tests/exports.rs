//! Files out over real HTTP on 127.0.0.1: `items?f=…` downloads in every writable format hold the whole
//! selection (CQL2 included) and read back with the same count; background export jobs report progress,
//! serve the finished file and are private to the account that started them.

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use geoconsole_formats::{Format, ReadOptions, read_stream};
use geoconsole_testkit::{TestServer, serve_demo};
use serde_json::{Value, json};

/// Reads a downloaded file back with the console's own readers (GDAL reads them in the CLI tests).
fn count_features(name: &str, body: &[u8]) -> usize {
    let (_, stream) = read_stream(
        Path::new(name),
        Cursor::new(body.to_vec()),
        &ReadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut count = 0;
    for feature in stream {
        if let Err(e) = feature {
            panic!("{name}: {e}");
        }
        count += 1;
    }
    count
}

/// How many earthquakes the JSON API returns for a query (the demo's 2,389 fit in one page).
async fn matched(server: &TestServer, query: &str) -> usize {
    let page = server
        .get(&format!(
            "/collections/earthquakes/items?limit=10000&{query}"
        ))
        .await
        .json();
    assert!(page["next"].is_null() && !page["links"].to_string().contains("\"next\""));
    page["features"].as_array().expect("features").len()
}

#[tokio::test]
async fn items_downloads_hold_the_whole_selection_in_every_format() {
    let server = serve_demo().await;
    let all = matched(&server, "").await;
    let strong = matched(&server, "filter=mag%20%3E%3D%204").await;
    assert!(strong > 0 && strong < all, "{strong} of {all}");
    for format in Format::WRITABLE {
        if format == Format::GeoJson {
            continue;
        }
        let f = format.name();
        let reply = server
            .get(&format!("/collections/earthquakes/items?f={f}"))
            .await;
        assert_eq!(reply.status, 200, "{f}: {}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some(format.media_type()),
            "{f}"
        );
        let name = format!("earthquakes.{}", format.extension());
        assert_eq!(
            reply.header("content-disposition"),
            Some(format!("attachment; filename=\"{name}\"").as_str()),
        );
        assert_eq!(count_features(&name, &reply.body), all, "{f}");
        let filtered = server
            .get(&format!(
                "/collections/earthquakes/items?f={f}&filter=mag%20%3E%3D%204"
            ))
            .await;
        assert_eq!(
            count_features(&name, &filtered.body),
            strong,
            "{f} filtered"
        );
        let capped = server
            .get(&format!("/collections/earthquakes/items?f={f}&limit=7"))
            .await;
        assert_eq!(count_features(&name, &capped.body), 7, "{f} limit");
    }
    for (query, expected) in [
        ("f=gpx", "f=gpx is not offered here"),
        ("f=fgb&cursor=a10", "cursor does not apply"),
    ] {
        let reply = server
            .get(&format!("/collections/earthquakes/items?{query}"))
            .await;
        assert_eq!(reply.status, 400, "{query}");
        assert!(reply.text().contains(expected), "{query}: {}", reply.text());
    }
    assert_eq!(
        server.get("/collections/nothing/items?f=fgb").await.status,
        404
    );
}

async fn start(server: &TestServer, body: Value) -> (u16, Value) {
    let reply = server
        .send(
            server
                .client()
                .post(server.at("/exports"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    (reply.status, reply.json())
}

async fn finished(server: &TestServer, id: &str) -> Value {
    let begun = Instant::now();
    loop {
        let status = server.get(&format!("/exports/{id}")).await.json();
        if status["state"] != "running" {
            return status;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(60),
            "export {id} never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn export_jobs_run_in_the_background_and_serve_the_file() {
    let server = serve_demo().await;
    let window = "2023-04-05T00:00:00Z/2023-04-07T00:00:00Z";
    let expected = matched(&server, &format!("datetime={window}&filter=mag%20%3E%202")).await;
    let (status, job) = start(
        &server,
        json!({"dataset": "earthquakes", "format": "fgb", "datetime": window, "filter": "mag > 2"}),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    assert_eq!(job["file_name"], "earthquakes.fgb");
    let done = finished(&server, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["features"].as_u64(), Some(expected as u64));
    let link = done["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["rel"] == "enclosure")
        .expect("download link")["href"]
        .as_str()
        .expect("href")
        .to_string();
    let file = server.send(server.client().get(&link)).await;
    assert_eq!(file.status, 200);
    assert_eq!(
        file.header("content-length"),
        done["bytes"].as_u64().map(|b| b.to_string()).as_deref()
    );
    assert_eq!(count_features("earthquakes.fgb", &file.body), expected);

    let bad = [
        (
            json!({"dataset": "earthquakes", "format": "gpx"}),
            400,
            "cannot be exported",
        ),
        (
            json!({"dataset": "earthquakes", "format": "dwg"}),
            400,
            "unknown format",
        ),
        (
            json!({"dataset": "nothing", "format": "csv"}),
            404,
            "nothing",
        ),
        (
            json!({"dataset": "earthquakes", "format": "csv", "filter": "mag >>> 2"}),
            400,
            "",
        ),
    ];
    for (body, code, text) in bad {
        let (status, reply) = start(&server, body.clone()).await;
        assert_eq!(status, code, "{body}: {reply}");
        assert!(reply.to_string().contains(text), "{body}: {reply}");
    }
    let removed = server
        .send(server.client().delete(server.at(&format!("/exports/{id}"))))
        .await;
    assert_eq!(removed.status, 204);
    assert_eq!(server.get(&format!("/exports/{id}")).await.status, 404);
    assert_eq!(
        server.get(&format!("/exports/{id}/download")).await.status,
        404
    );
}
