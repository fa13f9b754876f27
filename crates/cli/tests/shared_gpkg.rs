//! Several processes on one GeoPackage, as a new user runs them: a console serving `store.gpkg`, the command
//! line importing, replacing and dropping datasets and adding rules and feeds in another terminal, and a
//! second console on the same file. Every commit, by any process, reaches every running console within a
//! second (collections, items, tiles, `/events`, `/alerts/stream`); one console leads at a time, and when
//! it is killed the other takes over. Before the change log, the running console never learned of a CLI
//! import until it restarted (issue 20).

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Run, ready, serve};

use crate::support;
/// Drops a dataset of the run's `store.gpkg` from the command line, as another process.
fn drop_dataset(run: &Run, dataset: &str) {
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "datasets",
        "drop",
        dataset,
    ]);
}

/// A console serving the run's `store.gpkg`, ready, and a client for it.
async fn serving(run: &Run) -> (reqwest::Client, std::process::Child, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (console, url) = serve(run.dir.path(), "store.gpkg");
    ready(&client, &url).await;
    (client, console, url)
}

/// Polls `check` until it holds, for at most `within`; how long it took.
async fn within<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn status(client: &reqwest::Client, url: &str) -> u16 {
    client
        .get(url)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn json(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("reply")
        .json()
        .await
        .unwrap_or(Value::Null)
}

async fn ids(client: &reqwest::Client, base: &str, dataset: &str) -> Vec<String> {
    let page = json(
        client,
        &format!("{base}/collections/{dataset}/items?limit=100"),
    )
    .await;
    let mut ids: Vec<String> = page["features"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Collects an event stream's text in the background.
fn listen(response: reqwest::Response) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&text);
    tokio::spawn(async move {
        let mut response = response;
        while let Ok(Some(chunk)) = response.chunk().await {
            sink.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&chunk));
        }
    });
    text
}

async fn readyz(client: &reqwest::Client, url: &str) -> Option<Value> {
    let r = client.get(format!("{url}/readyz")).send().await.ok()?;
    (r.status() == 200).then_some(())?;
    r.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_on_one_geopackage_sees_every_commit() {
    let run = Run::new();
    // Feeds may reach the scripted origin on loopback.
    std::fs::write(
        run.path("geoconsole.toml"),
        "[network]\nallow = [\"127.0.0.1\"]\n",
    )
    .expect("config");
    let origin = geoconsole_testkit::FeedOrigin::start().await;
    origin.set(
        "/quakes.geojson",
        geoconsole_testkit::Serve::body(
            "application/geo+json",
            std::fs::read(geoconsole_testkit::fixture("feeds/usgs_v1.geojson")).expect("fixture"),
            None,
        ),
    );
    std::fs::write(
        run.path("sites.csv"),
        "site_id,name,lat,lon\nhq,Head Office,12.13,-86.25\n",
    )
    .expect("sites");
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "import",
        "sites.csv",
        "--kind",
        "sites",
        "--id-field",
        "site_id",
    ]);
    let (client, mut first, a) = serving(&run).await;
    let events = listen(
        client
            .get(format!("{a}/events"))
            .send()
            .await
            .expect("events"),
    );
    let alerts = listen(
        client
            .get(format!("{a}/alerts/stream"))
            .send()
            .await
            .expect("alert stream"),
    );

    // An import from another terminal: listed, readable and announced within a second.
    std::fs::write(
        run.path("newsites.csv"),
        "depot_id,name,lat,lon\nd1,North Depot,12.2,-86.3\nd2,South Depot,12.0,-86.2\n",
    )
    .expect("csv");
    let tile = format!("{a}/tiles/new_depots/6/16/29.mvt");
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "import",
        "newsites.csv",
        "--dataset",
        "new_depots",
        "--kind",
        "sites",
        "--id-field",
        "depot_id",
    ]);
    let took = within(
        Duration::from_secs(2),
        "the CLI import is served",
        || async { ids(&client, &a, "new_depots").await == ["d1", "d2"] },
    )
    .await;
    eprintln!("a CLI import reached the running console in {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let etag_before = tile_etag(&client, &tile).await;
    within(
        Duration::from_secs(2),
        "the change is on /events",
        || async { events.lock().expect("lock").contains("new_depots") },
    )
    .await;

    // Replaced: new items, a new tile version; then dropped: gone.
    std::fs::write(
        run.path("newsites.csv"),
        "depot_id,name,lat,lon\nd3,East Depot,12.1,-86.1\n",
    )
    .expect("csv");
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "import",
        "newsites.csv",
        "--dataset",
        "new_depots",
        "--kind",
        "sites",
        "--id-field",
        "depot_id",
        "--mode",
        "replace",
    ]);
    within(
        Duration::from_secs(2),
        "the replaced dataset is served",
        || async { ids(&client, &a, "new_depots").await == ["d3"] },
    )
    .await;
    let etag_after = tile_etag(&client, &tile).await;
    assert_ne!(etag_before, etag_after, "no stale tile after a replace");
    drop_dataset(&run, "new_depots");
    within(
        Duration::from_secs(2),
        "the dropped dataset is gone",
        || async { status(&client, &format!("{a}/collections/new_depots")).await == 404 },
    )
    .await;

    // A rule added with the CLI, and an alert raised by a CLI import's rule evaluation, reach the stream.
    let quake = |id: &str, lon: f64, lat: f64| {
        serde_json::json!({"type": "FeatureCollection", "features": [{
            "type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"mag": 5.1, "time": "2024-05-01T00:00:00Z"}
        }]})
        .to_string()
    };
    std::fs::write(run.path("quakes.geojson"), quake("far", 100.0, 40.0)).expect("quakes");
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "import",
        "quakes.geojson",
        "--dataset",
        "quakes",
        "--kind",
        "events",
    ]);
    std::fs::write(
        run.path("rules.toml"),
        "[[rules]]\nid = \"quake_near_hq\"\nseverity = \"major\"\n[rules.when]\nkind = \"exposure\"\n\
         hazards = [\"quakes\"]\nradius_km = 50\n",
    )
    .expect("rules");
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "rules",
        "add",
        "rules.toml",
    ]);
    std::fs::write(run.path("quakes.geojson"), quake("near", -86.26, 12.14)).expect("quakes");
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "import",
        "quakes.geojson",
        "--dataset",
        "quakes",
        "--mode",
        "append",
    ]);
    within(
        Duration::from_secs(2),
        "the CLI's alert is on the running console's stream",
        || async { alerts.lock().expect("lock").contains("quake_near_hq") },
    )
    .await;

    // A feed added with the CLI is polled by the running console at once, not at its next scheduled look.
    run.ok(&[
        "--store",
        "store.gpkg",
        "--quiet",
        "feeds",
        "add",
        "--name",
        "usgs",
        "--url",
        &origin.at("/quakes.geojson"),
        "--format",
        "usgs",
        "--dataset",
        "feed_quakes",
        "--interval",
        "3600",
    ]);
    let took = within(
        Duration::from_secs(3),
        "the CLI's feed is polled",
        || async { status(&client, &format!("{a}/collections/feed_quakes")).await == 200 },
    )
    .await;
    eprintln!("a feed added with the CLI was first polled {took:?} later");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // A second console on the same file: exactly one leads; a write through one reaches the other.
    let (mut second, b) = serve(run.dir.path(), "store.gpkg");
    ready(&client, &b).await;
    let leaders = |client: reqwest::Client, a: String, b: String| async move {
        let mut leading = Vec::new();
        for (i, url) in [a, b].iter().enumerate() {
            if readyz(&client, url)
                .await
                .is_some_and(|r| r["leader"] == true)
            {
                leading.push(i);
            }
        }
        leading
    };
    assert_eq!(
        leaders(client.clone(), a.clone(), b.clone()).await,
        [0],
        "the first console keeps the lead"
    );
    support::import_quakes(
        &client,
        &b,
        serde_json::json!({"type": "FeatureCollection", "features": [{
            "type": "Feature", "id": "q2",
            "geometry": {"type": "Point", "coordinates": [-86.0, 12.0]},
            "properties": {"mag": 3.0, "time": 1714521600000_i64}
        }]})
        .to_string(),
    )
    .await;
    within(
        Duration::from_secs(2),
        "B's write is served by A",
        || async { status(&client, &format!("{a}/collections/earthquakes/items/q2")).await == 200 },
    )
    .await;

    // The leader is killed: the other takes over.
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    let took = within(Duration::from_secs(5), "the second console leads", || {
        let (client, b) = (client.clone(), b.clone());
        async move {
            readyz(&client, &b)
                .await
                .is_some_and(|r| r["leader"] == true)
        }
    })
    .await;
    eprintln!("the second console took the lead {took:?} after the first was killed");
    second.kill().expect("kill");
    let _ = second.wait();
}

async fn tile_etag(client: &reqwest::Client, url: &str) -> Option<String> {
    client
        .get(url)
        .send()
        .await
        .expect("tile")
        .headers()
        .get("etag")
        .map(|v| v.to_str().expect("etag").to_string())
}

/// A dataset dropped and created again by another process restarts at version 1. Before snapshots knew
/// their dataset's creation time, a console that saw both commits in one look kept serving the first
/// life's features and tiles (same version, same ETag) until the next write; and one whose old version was
/// higher refused the new snapshot as older.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_dropped_and_created_again_elsewhere_is_served_anew() {
    let run = Run::new();
    std::fs::write(run.path("geoconsole.toml"), "").expect("config");
    let import = |file: &str, rows: &str, mode: &str| {
        std::fs::write(run.path(file), format!("depot_id,name,lat,lon\n{rows}")).expect("csv");
        run.ok(&[
            "--store",
            "store.gpkg",
            "--quiet",
            "import",
            file,
            "--dataset",
            "depots",
            "--kind",
            "sites",
            "--id-field",
            "depot_id",
            "--mode",
            mode,
        ]);
    };
    import("first.csv", "d1,North,12.2,-86.3\n", "create");
    import("more.csv", "d2,South,12.0,-86.2\n", "append");
    let (client, mut console, a) = serving(&run).await;
    assert_eq!(ids(&client, &a, "depots").await, ["d1", "d2"]);
    let tile = format!("{a}/tiles/depots/6/16/29.mvt");
    let mut etag = tile_etag(&client, &tile).await;
    // First the new life's version (1) is below the old one's (2), then equal to it (1).
    for (round, id) in [(1, "n1"), (2, "n2")] {
        drop_dataset(&run, "depots");
        import(
            &format!("again{round}.csv"),
            &format!("{id},New,12.1,-86.1\n"),
            "create",
        );
        within(
            Duration::from_secs(3),
            &format!("round {round}: the dataset created again is served"),
            || async { ids(&client, &a, "depots").await == [id] },
        )
        .await;
        let now = tile_etag(&client, &tile).await;
        assert_ne!(now, etag, "round {round}: a stale tile ETag");
        etag = now;
    }
    console.kill().expect("kill");
    let _ = console.wait();
}
