//! Live feeds over real HTTP on 127.0.0.1: a scripted feed origin serves the project's fixtures, and every
//! case checks what the store holds afterwards. A feed that changes, answers 304, replays, times out,
//! sends garbage, an endless body, a gzip bomb, a redirect to a private address or a DTD; CAP updates and
//! cancels applied to the right earlier alerts; expired warnings kept and marked; health and lag; and a new
//! event reaching rules and `/events` within one poll cycle.

use std::io::Write;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use geoconsole_model::{DatasetId, DatasetKind};
use geoconsole_testkit::{
    FeedOrigin, Serve, TestServer, fixture, point, serve_console, serve_polled_by_hand, temp_gpkg,
};
use serde_json::{Value, json};

const GEOJSON: &str = "application/geo+json";
const CAP: &str = "application/cap+xml";

fn feed_file(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("feeds/{name}"))).expect("fixture")
}

async fn add_feed(server: &TestServer, spec: Value) -> Value {
    let reply = server.post_json("/feeds", spec.clone()).await;
    assert_eq!(reply.status, 201, "{spec}: {}", reply.text());
    reply.json()
}

async fn poll(server: &TestServer, name: &str) -> Value {
    let reply = server
        .send(
            server
                .client()
                .post(server.at(&format!("/feeds/{name}/poll"))),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn features_by_id(
    server: &TestServer,
    dataset: &str,
) -> std::collections::BTreeMap<String, Value> {
    server
        .all_features(dataset)
        .await
        .into_iter()
        .map(|f| (f["id"].as_str().expect("id").to_string(), f))
        .collect()
}

async fn version(server: &TestServer, dataset: &str) -> u64 {
    let id = DatasetId::new(dataset).expect("id");
    server
        .console
        .generations(&geoconsole_app::Scope::everything(), &[id])
        .expect("generations")[0]
        .version
}

#[tokio::test]
async fn a_changing_feed_is_upserted_304_and_replays_change_nothing_and_health_shows_lag() {
    let origin = FeedOrigin::start().await;
    origin.set(
        "/quakes.geojson",
        Serve::body(GEOJSON, feed_file("usgs_v1.geojson"), Some("\"v1\"")),
    );
    origin.set(
        "/plain.geojson",
        Serve::body(GEOJSON, feed_file("usgs_v1.geojson"), None),
    );
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let added = add_feed(
        &server,
        json!({"name": "usgs", "url": origin.at("/quakes.geojson"), "format": "usgs", "dataset": "quakes", "interval_s": 3600}),
    )
    .await;
    assert_eq!(added["status"], "pending");

    let first = poll(&server, "usgs").await;
    assert_eq!(
        (first["outcome"].as_str(), first["added"].as_u64()),
        (Some("ok"), Some(3)),
        "{first}"
    );
    let stored = features_by_id(&server, "quakes").await;
    assert_eq!(stored.len(), 3);
    assert_eq!(stored["ci40001"]["properties"]["mag"], 4.6);
    let v1 = version(&server, "quakes").await;

    // Unchanged: the origin sees the ETag and answers 304; nothing is written.
    let second = poll(&server, "usgs").await;
    assert_eq!(second["outcome"], "not_modified", "{second}");
    let asked = origin.requests("/quakes.geojson");
    assert_eq!(
        asked[1].get("if-none-match").and_then(|v| v.to_str().ok()),
        Some("\"v1\"")
    );
    assert_eq!(version(&server, "quakes").await, v1);

    // Changed: one magnitude revised, one new event, the rest as before.
    origin.set(
        "/quakes.geojson",
        Serve::body(GEOJSON, feed_file("usgs_v2.geojson"), Some("\"v2\"")),
    );
    let third = poll(&server, "usgs").await;
    assert_eq!(
        (
            third["added"].as_u64(),
            third["updated"].as_u64(),
            third["unchanged"].as_u64()
        ),
        (Some(1), Some(1), Some(2)),
        "{third}"
    );
    let stored = features_by_id(&server, "quakes").await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored["ci40001"]["properties"]["mag"], 4.8);
    assert!(stored.contains_key("nc70004"));

    let health = server.get("/feeds/usgs").await.json();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["state"]["added"], 4);
    assert_eq!(health["state"]["updated"], 1);
    assert_eq!(health["state"]["not_modified"], 1);
    assert_eq!(health["state"]["etag"], "\"v2\"");
    let lag = health["state"]["lag"]["median_s"].as_f64().expect("lag");
    // The median over the poll's new event (nc70004) and revised one (ci40001, 4000 s older).
    let expected = (chrono::Utc::now().timestamp_millis() - 1_714_565_000_000) as f64 / 1000.0;
    assert!(
        (lag - expected).abs() < 120.0,
        "lag {lag} s is arrival minus the events' own time ({expected})"
    );
    assert_eq!(
        health["state"]["lag"]["max_s"]
            .as_f64()
            .map(|m| (m - lag).round()),
        Some(2000.0)
    );

    // A feed without validators that sends the same body again: read, recognised, not written.
    add_feed(&server, json!({"name": "plain", "url": origin.at("/plain.geojson"), "format": "usgs", "dataset": "quakes2"})).await;
    assert_eq!(poll(&server, "plain").await["added"], 3);
    let before = version(&server, "quakes2").await;
    let replay = poll(&server, "plain").await;
    assert_eq!(
        (
            replay["outcome"].as_str(),
            replay["added"].as_u64(),
            replay["unchanged"].as_u64()
        ),
        (Some("ok"), Some(0), Some(3)),
        "{replay}"
    );
    assert_eq!(
        version(&server, "quakes2").await,
        before,
        "a replay writes nothing"
    );

    let list = server.get("/feeds").await.json();
    assert_eq!(list["feeds"].as_array().map(Vec::len), Some(2));
    let metrics = server.get("/metrics").await.text();
    for line in [
        "geoconsole_feed_status{feed=\"usgs\",status=\"ok\"} 1",
        "geoconsole_feed_status{feed=\"usgs\",status=\"failing\"} 0",
        "geoconsole_feed_items_added{feed=\"usgs\"} 4",
        "geoconsole_feed_failures{feed=\"plain\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    assert!(metrics.contains("geoconsole_feed_lag_seconds{feed=\"usgs\"}"));

    // Dropping the dataset makes the feed start over: the next poll writes everything again.
    server
        .console
        .drop_dataset(&DatasetId::new("quakes").expect("id"))
        .await
        .expect("drop");
    let again = poll(&server, "usgs").await;
    assert_eq!(
        (again["outcome"].as_str(), again["added"].as_u64()),
        (Some("ok"), Some(4)),
        "{again}"
    );
    assert_eq!(server.all_features("quakes").await.len(), 4);
}

// Regression: a feed's max_bytes had no upper bound, so an editor's 4e9 let a 600 MB body take the
// server to 1.78 GiB. It is refused when saved, and a definition saved before still fetches under the
// server's cap.
#[tokio::test]
async fn a_feed_may_not_raise_the_servers_byte_cap() {
    let origin = FeedOrigin::start().await;
    origin.set("/feed", Serve::Endless);
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let spec = json!({"name": "big", "url": origin.at("/feed"), "format": "geojson", "dataset": "big", "max_bytes": 4_000_000_000_u64});
    for path in ["/feeds", "/feeds/preview"] {
        let reply = server.post_json(path, spec.clone()).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
        assert!(
            reply
                .text()
                .contains("max_bytes 4000000000 is more than this console's cap"),
            "{}",
            reply.text()
        );
    }
    let put = server
        .send(
            server
                .client()
                .put(server.at("/feeds/big"))
                .header("content-type", "application/json")
                .body(spec.to_string()),
        )
        .await;
    assert_eq!(put.status, 400, "{}", put.text());
    // Saved by an older version, straight into the store: the poll is still cut at the server's cap.
    server
        .store
        .feed_store()
        .put_feed("big", spec)
        .await
        .expect("stored as before");
    let report = poll(&server, "big").await;
    let error = report["error"].as_str().unwrap_or("");
    assert!(error.contains("the cap is 33554432 bytes"), "{report}");
}

#[tokio::test]
async fn hostile_answers_are_failures_that_change_nothing_and_back_off() {
    let origin = FeedOrigin::start().await;
    origin.set(
        "/feed",
        Serve::body(GEOJSON, feed_file("usgs_v1.geojson"), None),
    );
    let server = serve_polled_by_hand(temp_gpkg()).await;
    add_feed(
        &server,
        json!({"name": "f", "url": origin.at("/feed"), "format": "usgs", "dataset": "quakes", "interval_s": 60, "timeout_ms": 1500, "max_bytes": 1048576}),
    )
    .await;
    assert_eq!(poll(&server, "f").await["added"], 3);
    let v = version(&server, "quakes").await;
    // A rule on the feed's health: one alert per spell of failing, not one per failed poll.
    let rule = json!({"id": "feed_down", "severity": "minor", "when": {"kind": "feed", "feeds": ["f"], "on": ["failing"]}});
    assert_eq!(server.post_json("/rules", rule).await.status, 201);
    let bad_rule = json!({"id": "x", "when": {"kind": "feed", "on": ["ok"]}});
    assert_eq!(server.post_json("/rules", bad_rule).await.status, 400);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 64 * 1024 * 1024]).expect("gzip");
    let bomb = gz.finish().expect("gzip");
    assert!(
        bomb.len() < 200 * 1024,
        "a small body that decodes to 64 MB"
    );
    let cases: Vec<(Serve, &str)> = vec![
        (Serve::Hang, "no complete answer within 1.5 s"),
        (
            Serve::body(GEOJSON, b"\x00\x9f<html>oops</html>".to_vec(), None),
            "not a usgs feed",
        ),
        (Serve::Endless, "the cap is 1048576 bytes"),
        (
            Serve::Gzip {
                content_type: GEOJSON,
                gzip: bomb,
            },
            "compression bomb",
        ),
        (Serve::Status(503, "maintenance"), "503"),
        (
            Serve::Redirect("http://169.254.169.254/latest/meta-data/".into()),
            "169.254.169.254",
        ),
        (Serve::Redirect("http://10.0.0.1/feed".into()), "private"),
        (Serve::Redirect("file:///etc/passwd".into()), "file"),
    ];
    for (failures, (serve, needle)) in cases.into_iter().enumerate() {
        origin.set("/feed", serve);
        let started = Instant::now();
        let report = poll(&server, "f").await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{needle}: each cap bounds the poll"
        );
        assert_eq!(report["outcome"], "failed", "{needle}: {report}");
        let error = report["error"].as_str().unwrap_or("");
        assert!(error.contains(needle), "expected '{needle}' in: {error}");
        assert_eq!(
            version(&server, "quakes").await,
            v,
            "{needle}: the data is untouched"
        );
        let health = server.get("/feeds/f").await.json();
        assert_eq!(health["status"], "failing");
        assert_eq!(health["state"]["failures"], failures + 1);
        assert_eq!(health["state"]["last_error"], error);
        let wait =
            chrono::DateTime::parse_from_rfc3339(report["next_poll"].as_str().expect("next"))
                .expect("time")
                .timestamp()
                - chrono::Utc::now().timestamp();
        assert!(
            wait >= 55,
            "after failures the next poll waits at least the interval: {wait}"
        );
    }
    assert_eq!(server.all_features("quakes").await.len(), 3);
    let feed_alerts = |alerts: Value| -> Vec<Value> {
        alerts["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .filter(|a| a["rule"] == "feed_down")
            .cloned()
            .collect()
    };
    let raised = feed_alerts(server.get("/alerts").await.json());
    assert_eq!(raised.len(), 1, "eight failed polls, one spell: {raised:?}");
    assert!(
        raised[0]["title"]
            .as_str()
            .unwrap_or("")
            .starts_with("Feed f is failing: "),
        "{}",
        raised[0]["title"]
    );
    assert_eq!(raised[0]["event_dataset"], "quakes");

    // Back to health: the failure count resets, the status turns ok.
    origin.set(
        "/feed",
        Serve::body(GEOJSON, feed_file("usgs_v2.geojson"), None),
    );
    assert_eq!(poll(&server, "f").await["outcome"], "ok");
    let health = server.get("/feeds/f").await.json();
    assert_eq!(
        (
            health["status"].as_str(),
            health["state"]["failures"].as_u64()
        ),
        (Some("ok"), Some(0))
    );
    // A new spell of failing is a new alert.
    origin.set("/feed", Serve::Status(500, "down again"));
    assert_eq!(poll(&server, "f").await["outcome"], "failed");
    assert_eq!(feed_alerts(server.get("/alerts").await.json()).len(), 2);
}

#[tokio::test]
async fn urls_inside_the_network_are_refused_when_saved_unless_allowed() {
    let server = serve_polled_by_hand(temp_gpkg()).await;
    for (url, needle) in [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/feed", "private"),
        ("http://[::1]:8080/feed", "loopback"),
        ("http://127.0.0.2/feed", "loopback"),
        ("file:///etc/passwd", "http and https"),
        ("gopher://example.com/", "http and https"),
        ("http://user:secret@127.0.0.1/feed", "password"),
    ] {
        let reply = server
            .post_json(
                "/feeds",
                json!({"name": "x", "url": url, "format": "geojson", "dataset": "x"}),
            )
            .await;
        assert_eq!(reply.status, 400, "{url}: {}", reply.text());
        assert!(reply.text().contains(needle), "{url}: {}", reply.text());
    }
    // The test console allows 127.0.0.1 explicitly; one with the default policy refuses it too.
    let store = temp_gpkg();
    let strict = geoconsole_app::Console::open(
        geoconsole_app::Stores {
            features: store.store(),
            alerts: store.alert_store(),
            feeds: store.feed_store(),
            access: store.access_store(),
            cluster: store.cluster_store(),
        },
        Default::default(),
    )
    .expect("console");
    let spec = geoconsole_feeds::FeedSpec::new(
        "x",
        "http://127.0.0.1:9/feed",
        geoconsole_feeds::FeedFormat::Geojson,
        "x",
    );
    let refused = strict
        .feeds()
        .save(spec, false)
        .await
        .expect_err("loopback refused by default");
    assert!(refused.to_string().contains("[network] allow"), "{refused}");
    assert!(
        store.feed_store().feeds().await.expect("feeds").is_empty(),
        "nothing saved"
    );
    for bad in [
        json!({"name": "bad name", "url": "http://127.0.0.1/", "format": "cap", "dataset": "x"}),
        json!({"name": "x", "url": "http://127.0.0.1/", "format": "rss2", "dataset": "x"}),
        json!({"name": "x", "url": "http://127.0.0.1/", "format": "cap", "dataset": "x", "interval_s": 0}),
        json!({"name": "x", "url": "http://127.0.0.1/", "format": "cap", "dataset": "x", "colour": 1}),
    ] {
        assert_eq!(
            server.post_json("/feeds", bad.clone()).await.status,
            400,
            "{bad}"
        );
    }
}

fn atom_index(origin: &FeedOrigin, entries: &[(&str, &str)]) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'><id>urn:test</id><title>Test alerts</title><updated>2026-05-01T16:00:00Z</updated>",
    );
    for (path, updated) in entries {
        xml.push_str(&format!(
            "<entry><id>{0}</id><updated>{updated}</updated><title>alert</title><link rel='alternate' type='application/cap+xml' href='{0}'/></entry>",
            origin.at(path)
        ));
    }
    xml.push_str("</feed>");
    xml.into_bytes()
}

#[tokio::test]
async fn cap_updates_and_cancels_apply_to_the_alerts_they_name_and_replays_do_not_revive_them() {
    let origin = FeedOrigin::start().await;
    for (path, file) in [
        ("/cap/a.xml", "cap_warning_a.xml"),
        ("/cap/b.xml", "cap_warning_b.xml"),
        ("/cap/a2.xml", "cap_update_a.xml"),
        ("/cap/b-cancel.xml", "cap_cancel_b.xml"),
        ("/cap/laughs.xml", "cap_billion_laughs.xml"),
    ] {
        origin.set(path, Serve::body(CAP, feed_file(file), None));
    }
    let t1 = "2026-05-01T12:10:00Z";
    origin.set(
        "/index.atom",
        Serve::body(
            "application/atom+xml",
            atom_index(&origin, &[("/cap/a.xml", t1), ("/cap/b.xml", t1)]),
            None,
        ),
    );
    let server = serve_polled_by_hand(temp_gpkg()).await;
    add_feed(&server, json!({"name": "nws", "url": origin.at("/index.atom"), "format": "cap_index", "dataset": "warnings"})).await;

    let first = poll(&server, "nws").await;
    assert_eq!(first["added"], 2, "{first}");
    let stored = features_by_id(&server, "warnings").await;
    assert_eq!(stored["GC-TEST-A"]["properties"]["cap_state"], "actual");
    assert_eq!(stored["GC-TEST-B"]["properties"]["cap_state"], "actual");
    assert_eq!(
        stored["GC-TEST-B"]["geometry"]["type"], "Polygon",
        "the circle is drawn as a polygon"
    );

    // The index now lists the update of A and the cancel of B; A and B are listed again unchanged.
    let t2 = "2026-05-01T15:31:00Z";
    origin.set(
        "/index.atom",
        Serve::body(
            "application/atom+xml",
            atom_index(
                &origin,
                &[
                    ("/cap/a.xml", t1),
                    ("/cap/b.xml", t1),
                    ("/cap/a2.xml", t2),
                    ("/cap/b-cancel.xml", t2),
                ],
            ),
            None,
        ),
    );
    let fetched_before = origin.requests("/cap/a.xml").len();
    let second = poll(&server, "nws").await;
    assert_eq!(
        (second["added"].as_u64(), second["withdrawn"].as_u64()),
        (Some(1), Some(2)),
        "{second}"
    );
    assert_eq!(
        origin.requests("/cap/a.xml").len(),
        fetched_before,
        "an unchanged linked alert is not fetched again"
    );
    let stored = features_by_id(&server, "warnings").await;
    assert_eq!(
        stored.len(),
        3,
        "the cancel is an instruction, not a new warning"
    );
    let a = &stored["GC-TEST-A"]["properties"];
    assert_eq!(
        (a["cap_state"].as_str(), a["superseded_by"].as_str()),
        (Some("updated"), Some("GC-TEST-A2"))
    );
    assert_eq!(stored["GC-TEST-A2"]["properties"]["cap_state"], "actual");
    assert_eq!(stored["GC-TEST-A2"]["properties"]["severity"], "Extreme");
    let b = &stored["GC-TEST-B"]["properties"];
    assert_eq!(
        (b["cap_state"].as_str(), b["superseded_by"].as_str()),
        (Some("cancelled"), Some("GC-TEST-B-CANCEL"))
    );
    assert_eq!(
        b["expires"], "2026-05-01T15:30:00.000Z",
        "a cancelled warning ends when it was cancelled"
    );

    // A replay of A (listed with a new version, so fetched again) does not bring it back to life.
    let t3 = "2026-05-01T16:00:00Z";
    origin.set(
        "/index.atom",
        Serve::body(
            "application/atom+xml",
            atom_index(&origin, &[("/cap/a.xml", t3), ("/cap/laughs.xml", t3)]),
            None,
        ),
    );
    let third = poll(&server, "nws").await;
    assert_eq!(
        third["outcome"], "ok",
        "one hostile linked document does not fail the index: {third}"
    );
    assert_eq!(
        (third["added"].as_u64(), third["updated"].as_u64()),
        (Some(0), Some(0)),
        "{third}"
    );
    let reasons = third["skipped_reasons"].to_string();
    assert!(reasons.contains("DOCTYPE"), "the DTD is named: {reasons}");
    let stored = features_by_id(&server, "warnings").await;
    assert_eq!(stored["GC-TEST-A"]["properties"]["cap_state"], "updated");
    assert_eq!(stored.len(), 3);
}

#[tokio::test]
async fn a_cancel_that_arrives_before_its_alert_keeps_the_alert_withdrawn() {
    let origin = FeedOrigin::start().await;
    origin.set(
        "/cap",
        Serve::body(CAP, feed_file("cap_cancel_b.xml"), None),
    );
    let server = serve_polled_by_hand(temp_gpkg()).await;
    add_feed(
        &server,
        json!({"name": "c", "url": origin.at("/cap"), "format": "cap", "dataset": "warnings"}),
    )
    .await;
    let first = poll(&server, "c").await;
    assert_eq!(
        (first["added"].as_u64(), first["withdrawn"].as_u64()),
        (Some(0), Some(0)),
        "{first}"
    );
    origin.set(
        "/cap",
        Serve::body(CAP, feed_file("cap_warning_b.xml"), None),
    );
    assert_eq!(poll(&server, "c").await["added"], 1);
    let stored = features_by_id(&server, "warnings").await;
    assert_eq!(stored["GC-TEST-B"]["properties"]["cap_state"], "cancelled");
}

#[tokio::test]
async fn a_dtd_payload_fails_the_poll_and_stores_nothing() {
    let origin = FeedOrigin::start().await;
    origin.set(
        "/cap",
        Serve::body(CAP, feed_file("cap_billion_laughs.xml"), None),
    );
    let server = serve_polled_by_hand(temp_gpkg()).await;
    add_feed(
        &server,
        json!({"name": "lol", "url": origin.at("/cap"), "format": "cap", "dataset": "laughs"}),
    )
    .await;
    let report = poll(&server, "lol").await;
    assert_eq!(report["outcome"], "failed");
    assert!(
        report["error"].as_str().unwrap_or("").contains("DOCTYPE"),
        "{report}"
    );
    assert_eq!(
        server.get("/collections/laughs").await.status,
        404,
        "no dataset was made"
    );
}

#[tokio::test]
async fn warnings_past_their_expiry_are_kept_and_marked_expired() {
    let origin = FeedOrigin::start().await;
    let soon = chrono::Utc::now() + chrono::Duration::seconds(2);
    let text = String::from_utf8(feed_file("cap_warning_a.xml"))
        .expect("utf-8")
        .replace("2099-05-01T18:00:00-00:00", &soon.to_rfc3339());
    origin.set("/cap", Serve::body(CAP, text, Some("\"one\"")));
    let server = serve_polled_by_hand(temp_gpkg()).await;
    add_feed(
        &server,
        json!({"name": "w", "url": origin.at("/cap"), "format": "cap", "dataset": "warnings"}),
    )
    .await;
    assert_eq!(poll(&server, "w").await["added"], 1);
    assert_eq!(
        features_by_id(&server, "warnings").await["GC-TEST-A"]["properties"]["cap_state"],
        "actual"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let report = poll(&server, "w").await;
    assert_eq!(
        report["outcome"], "not_modified",
        "the feed did not change; time did"
    );
    let stored = features_by_id(&server, "warnings").await;
    assert_eq!(stored.len(), 1, "kept, for history");
    assert_eq!(stored["GC-TEST-A"]["properties"]["cap_state"], "expired");
}

#[tokio::test]
async fn a_new_event_from_a_feed_reaches_rules_and_the_event_stream_within_one_poll() {
    let origin = FeedOrigin::start().await;
    origin.set(
        "/quakes",
        Serve::body(GEOJSON, feed_file("usgs_v1.geojson"), None),
    );
    let store = temp_gpkg();
    let console = store.console();
    // A site 20 km from where the next quake (nc70004, near Cobb, CA) will strike.
    let sites = vec![
        point("winery", -122.55, 38.90, json!({"name": "Winery depot"})),
        point("far", 2.35, 48.85, json!({"name": "Paris office"})),
    ];
    console
        .import_features(
            "sites",
            sites.into_iter(),
            geoconsole_app::ImportOptions {
                dataset: Some(DatasetId::new("sites").expect("id")),
                kind: Some(DatasetKind::Sites),
                ..Default::default()
            },
        )
        .await
        .expect("sites");
    let server = serve_console(store, console).await;
    add_feed(&server, json!({"name": "usgs", "url": origin.at("/quakes"), "format": "usgs", "dataset": "quakes", "interval_s": 1})).await;
    // The scheduler, not a request, polls it.
    let started = Instant::now();
    while server.get("/collections/quakes").await.status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the scheduler never polled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rule = json!({"id": "quake_near_site", "when": {"kind": "exposure", "hazards": ["quakes"], "where": "mag >= 3", "radius_km": 50}});
    assert_eq!(server.post_json("/rules", rule).await.status, 201);

    let mut events = server
        .client()
        .get(server.at("/events"))
        .send()
        .await
        .expect("events")
        .bytes_stream();
    let mut seen = String::new();
    while !seen.contains("listening") {
        seen.push_str(&String::from_utf8_lossy(
            &events.next().await.expect("hello").expect("bytes"),
        ));
    }
    origin.set(
        "/quakes",
        Serve::body(GEOJSON, feed_file("usgs_v2.geojson"), None),
    );
    let changed_at = Instant::now();
    let deadline = Duration::from_secs(6);
    while !(seen.contains("event: change") && seen.contains("\"quakes\"")) {
        let next =
            tokio::time::timeout(deadline.saturating_sub(changed_at.elapsed()), events.next())
                .await;
        let chunk = next
            .expect("a change event within one poll cycle")
            .expect("stream")
            .expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let alerts = loop {
        let alerts = server.get("/alerts?state=open").await.json();
        if alerts["alerts"].as_array().is_some_and(|a| !a.is_empty()) {
            break alerts;
        }
        assert!(
            changed_at.elapsed() < deadline,
            "no alert within one poll cycle"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let raised = alerts["alerts"].as_array().expect("alerts");
    assert_eq!(
        raised.len(),
        1,
        "only the new quake near the winery: {alerts}"
    );
    assert_eq!(
        (raised[0]["site"].as_str(), raised[0]["event"].as_str()),
        (Some("winery"), Some("nc70004"))
    );
    assert!(
        changed_at.elapsed() < Duration::from_secs(4),
        "within one 1 s poll cycle plus work: {:?}",
        changed_at.elapsed()
    );

    // A failing feed is announced on the same stream.
    origin.set("/quakes", Serve::Status(500, "down"));
    let failing_at = Instant::now();
    // The feed's earlier change (pending to ok) may arrive first on a loaded machine; wait for the failing one.
    while !seen.contains("\"status\":\"failing\"") {
        let next = tokio::time::timeout(
            Duration::from_secs(8).saturating_sub(failing_at.elapsed()),
            events.next(),
        )
        .await;
        let chunk = next.expect("a feed event").expect("stream").expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let line = seen
        .lines()
        .find(|l| l.starts_with("data:") && l.contains("\"status\":\"failing\""))
        .expect("data line");
    let event: Value = serde_json::from_str(line.trim_start_matches("data:").trim()).expect("json");
    assert_eq!(
        (event["feed"].as_str(), event["status"].as_str()),
        (Some("usgs"), Some("failing")),
        "{event}"
    );
    assert!(event["last_error"].as_str().unwrap_or("").contains("500"));
}

#[tokio::test]
async fn feeds_pause_resume_and_delete() {
    let origin = FeedOrigin::start().await;
    origin.set(
        "/q",
        Serve::body(GEOJSON, feed_file("usgs_v1.geojson"), None),
    );
    let server = serve_polled_by_hand(temp_gpkg()).await;
    add_feed(&server, json!({"name": "q", "url": origin.at("/q"), "format": "usgs", "dataset": "quakes", "interval_s": 3600})).await;
    let conflict = server
        .post_json(
            "/feeds",
            json!({"name": "q", "url": origin.at("/q"), "format": "usgs", "dataset": "quakes"}),
        )
        .await;
    assert_eq!(conflict.status, 409);
    // Said in an HTTP client's terms: it has no `--replace` to pass.
    let said = conflict.json()["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(said.contains("PUT") && !said.contains("--"), "{said}");
    let paused = server
        .send(server.client().post(server.at("/feeds/q/pause")))
        .await
        .json();
    assert_eq!(
        (paused["status"].as_str(), paused["enabled"].as_bool()),
        (Some("paused"), Some(false))
    );
    let resumed = server
        .send(server.client().post(server.at("/feeds/q/resume")))
        .await
        .json();
    assert_eq!(resumed["enabled"], true);
    let put = server
        .send(
            server
                .client()
                .put(server.at("/feeds/q"))
                .header("content-type", "application/json")
                .body(json!({"name": "q", "url": origin.at("/q"), "format": "usgs", "dataset": "quakes", "interval_s": 120}).to_string()),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["interval_s"], 120);
    let foreign = server
        .send(
            server
                .client()
                .delete(server.at("/feeds/q"))
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(foreign.status, 403, "a cross-site write is refused");
    assert_eq!(
        server
            .send(server.client().delete(server.at("/feeds/q")))
            .await
            .status,
        204
    );
    assert_eq!(server.get("/feeds/q").await.status, 404);
    assert_eq!(
        server
            .send(server.client().post(server.at("/feeds/q/poll")))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_hanging_feed_does_not_hold_up_the_others() {
    let origin = FeedOrigin::start().await;
    origin.set("/hang", Serve::Hang);
    origin.set(
        "/quick",
        Serve::body(GEOJSON, feed_file("usgs_v1.geojson"), Some("\"q\"")),
    );
    let store = temp_gpkg();
    let console = store.console();
    let server = serve_console(store, console).await;
    add_feed(&server, json!({"name": "a-hang", "url": origin.at("/hang"), "format": "usgs", "dataset": "h", "timeout_ms": 20000})).await;
    add_feed(&server, json!({"name": "b-quick", "url": origin.at("/quick"), "format": "usgs", "dataset": "q", "interval_s": 1})).await;
    let started = Instant::now();
    while origin.requests("/quick").len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the quick feed waits behind the hanging one: {} polls",
            origin.requests("/quick").len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        origin.requests("/hang").len(),
        1,
        "the hanging poll is still in flight, not repeated"
    );
    assert_eq!(server.get("/feeds/b-quick").await.json()["status"], "ok");
}

#[tokio::test]
async fn a_preview_reads_a_feed_without_saving_or_writing_anything() {
    let origin = FeedOrigin::start().await;
    origin.set(
        "/q",
        Serve::body(GEOJSON, feed_file("usgs_v1.geojson"), Some("\"1\"")),
    );
    origin.set(
        "/nws",
        Serve::body(GEOJSON, feed_file("nws_alerts.geojson"), None),
    );
    origin.set(
        "/junk",
        Serve::body(GEOJSON, b"<html>not a feed</html>".to_vec(), None),
    );
    let server = serve_polled_by_hand(temp_gpkg()).await;
    let spec = |url: String, format: &str| json!({"name": "try", "url": url, "format": format, "dataset": "tried"});
    let preview = server
        .post_json("/feeds/preview", spec(origin.at("/q"), "usgs"))
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    let preview = preview.json();
    assert_eq!(
        (preview["items"].as_u64(), preview["skipped"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(preview["sample"][0]["id"], "ci40001");
    assert_eq!(preview["content_type"], GEOJSON);
    let nws = server
        .post_json("/feeds/preview", spec(origin.at("/nws"), "nws_alerts"))
        .await
        .json();
    assert_eq!(
        (nws["items"].as_u64(), nws["skipped"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(
        nws["skipped_reasons"][0]
            .as_str()
            .unwrap_or("")
            .contains("geocodes")
    );
    let junk = server
        .post_json("/feeds/preview", spec(origin.at("/junk"), "usgs"))
        .await;
    assert_eq!(junk.status, 400);
    assert!(junk.text().contains("not a usgs feed"), "{}", junk.text());
    let inside = server
        .post_json(
            "/feeds/preview",
            spec("http://169.254.169.254/".into(), "usgs"),
        )
        .await;
    assert_eq!(inside.status, 400);
    assert_eq!(
        server.get("/feeds").await.json()["feeds"],
        json!([]),
        "nothing saved"
    );
    assert_eq!(
        server.get("/collections/tried").await.status,
        404,
        "nothing written"
    );
}

#[tokio::test]
async fn alerts_given_only_by_codes_are_placed_by_the_feeds_areas_and_unmatched_codes_are_reported()
{
    let origin = FeedOrigin::start().await;
    // A real NWS CAP 1.1 blizzard warning: an empty polygon, its area given by FIPS6 and UGC codes.
    let body = std::fs::read(fixture(
        "realworld/cap/cap11_nws_blizzard_geocode_only_empty_polygon.xml",
    ))
    .expect("fixture");
    origin.set("/cap", Serve::body(CAP, body, Some("\"one\"")));
    let server = serve_polled_by_hand(temp_gpkg()).await;
    // Test zones named by the codes the message uses, all but MNZ021.
    server
        .console
        .import(
            &fixture("feeds/cap_test_zones.geojson"),
            geoconsole_app::ImportOptions {
                dataset: Some(DatasetId::new("zones").expect("id")),
                ..Default::default()
            },
        )
        .await
        .expect("zones import");
    add_feed(
        &server,
        json!({"name": "blz", "url": origin.at("/cap"), "format": "cap", "dataset": "warnings",
               "areas": [{"dataset": "zones", "code_field": "code"}]}),
    )
    .await;
    let report = poll(&server, "blz").await;
    assert_eq!(report["added"], 1, "{report}");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("UGC MNZ021"), "{report}");
    let stored = features_by_id(&server, "warnings").await;
    let alert = stored.values().next().expect("the alert");
    // MNZ020 and counties 27031 and 27075 (FIPS6 027031, 027075) matched: three areas.
    assert_eq!(alert["geometry"]["type"], "MultiPolygon", "{alert}");
    assert_eq!(
        alert["geometry"]["coordinates"].as_array().map(Vec::len),
        Some(3),
        "{alert}"
    );
    assert_eq!(alert["properties"]["area_codes_unmatched"], "UGC MNZ021");
    assert_eq!(alert["properties"]["event"], "Blizzard Warning");
    // The feed's health says so too.
    let view = server.get("/feeds/blz").await.json();
    assert!(
        view["state"]["warnings"].to_string().contains("MNZ021"),
        "{view}"
    );

    // A feed naming no areas skips the alert and says why.
    add_feed(
        &server,
        json!({"name": "bare", "url": origin.at("/cap"), "format": "cap", "dataset": "bare"}),
    )
    .await;
    let report = poll(&server, "bare").await;
    assert_eq!(report["added"], 0, "{report}");
    assert!(
        report["skipped_reasons"]
            .to_string()
            .contains("names no areas dataset"),
        "{report}"
    );
}
