//! The outbox survives `kill -9`: an alert raised and stored, whose webhook delivery is in flight when the
//! console is killed, is delivered after a restart, with the same idempotency key, and is still on the
//! alert stream for a listener resuming from its last event id.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use geoconsole_testkit::{Behaviour, Receiver};
use support::{import_quakes, ready, serve};

use crate::support;
use serde_json::{Value, json};

const SECRET: &str = "kill-minus-nine-secret";

/// Builds the demo store in `dir` and configures one rule (an M7+ quake within 50 km of the Managua office)
/// with a webhook to `receiver` (loopback, allowed explicitly as an operator would).
fn demo_with_rule(dir: &Path, receiver: &str, webhook_extra: &str) {
    let built = Command::new(env!("CARGO_BIN_EXE_geoconsole"))
        .args(["--store", "ops.gpkg", "demo", "--quiet"])
        .current_dir(dir)
        .env_remove("GEOCONSOLE_STORE")
        .env_remove("GEOCONSOLE_CONFIG")
        .output()
        .expect("build the demo");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    std::fs::write(
        dir.join("geoconsole.toml"),
        format!(
            "# The receiver is on loopback, which the network guard refuses unless allowed.\n[network]\nallow = [\"127.0.0.1\"]\n\n[[webhooks]]\nname = \"ops\"\nurl = \"{receiver}\"\nsecret = \"{SECRET}\"\nrules = [\"only_this\"]\nretry_base_ms = 100\n{webhook_extra}\n\
             [[rules]]\nid = \"only_this\"\nseverity = \"critical\"\n[rules.when]\nkind = \"exposure\"\nhazards = [\"earthquakes\"]\nwhere = \"mag >= 7\"\nsites = [\"sites\"]\nsite_where = \"name = 'Managua Office'\"\nradius_km = 50\n"
        ),
    )
    .expect("config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_in_flight_when_the_console_is_killed_is_delivered_after_restart_with_the_same_key()
 {
    let dir = tempfile::tempdir().expect("temp dir");
    // The receiver takes the first delivery and never answers: the console dies waiting.
    let receiver = Receiver::start(vec![Behaviour::Hang]).await;
    demo_with_rule(dir.path(), &receiver.url, "timeout_ms = 60000\n");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (mut first, url) = serve(dir.path(), "ops.gpkg");
    ready(&client, &url).await;
    let quake = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "crash-quake",
        "geometry": {"type": "Point", "coordinates": [-86.25, 12.13]},
        "properties": {"mag": 7.1, "place": "near Managua", "time": 1680840000000_i64}
    }]});
    import_quakes(&client, &url, quake.to_string()).await;
    let in_flight = receiver.wait_for(1, Duration::from_secs(30)).await;
    let seq = in_flight[0].json()["alert"]["seq"]
        .as_i64()
        .expect("alert seq");
    let key = in_flight[0]
        .header("idempotency-key")
        .expect("idempotency key")
        .to_string();

    // kill -9 while the delivery is in flight.
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");

    let (mut second, url) = serve(dir.path(), "ops.gpkg");
    ready(&client, &url).await;
    let again = receiver.wait_for(2, Duration::from_secs(60)).await;
    assert_eq!(again.len(), 2, "delivered once more, not more");
    assert_eq!(again[1].json()["alert"]["seq"], seq);
    assert_eq!(again[1].header("idempotency-key"), Some(key.as_str()));
    assert_eq!(
        again[1].json()["alert"]["title"],
        again[0].json()["alert"]["title"]
    );

    // The outbox records the delivery; the stream still has the alert for a listener resuming after seq-1.
    let mut delivered = Value::Null;
    for _ in 0..200 {
        delivered = client
            .get(format!("{url}/alerts/deliveries?state=delivered"))
            .send()
            .await
            .expect("deliveries")
            .json()
            .await
            .expect("json");
        if delivered["deliveries"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered["deliveries"][0]["alert_seq"], seq, "{delivered}");
    let mut stream = client
        .get(format!("{url}/alerts/stream"))
        .header("last-event-id", (seq - 1).to_string())
        .send()
        .await
        .expect("stream");
    let mut text = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.expect("chunk") {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains(&format!("id: {seq}\n")) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "the alert is replayed on the stream: {text}");
    let _ = second.kill();
    let _ = second.wait();
}

/// Kills the console at random moments while quakes are imported and their alerts raised and delivered
/// (before the import commits, while rules run, while the webhook is sent), restarts it each time, and
/// checks that every alert the store holds reaches the receiver, each event raising one alert only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_survive_kills_at_random_moments_of_import_evaluation_and_delivery() {
    const ROUNDS: usize = 6;
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start(vec![Behaviour::Answer(200)]).await;
    demo_with_rule(dir.path(), &receiver.url, "");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    // Kill delays from a fixed seed: 0 to 1.5 s after the upload starts.
    let mut state = 0x0a1e_2700_u64;
    let mut delays = Vec::new();
    for _ in 0..ROUNDS {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        delays.push(Duration::from_millis((state >> 33) % 1500));
    }
    for (round, delay) in delays.iter().enumerate() {
        let (mut console, url) = serve(dir.path(), "ops.gpkg");
        ready(&client, &url).await;
        let quake = json!({"type": "FeatureCollection", "features": [{
            "type": "Feature", "id": format!("kill-quake-{round}"),
            "geometry": {"type": "Point", "coordinates": [-86.25, 12.13]},
            "properties": {"mag": 7.2, "place": "near Managua", "time": 1680840000000_i64 + round as i64}
        }]});
        let uploading = {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let staged = client
                    .post(format!("{url}/imports?name=q.geojson"))
                    .header("content-type", "application/octet-stream")
                    .body(quake.to_string())
                    .send()
                    .await
                    .ok()?
                    .json::<Value>()
                    .await
                    .ok()?;
                let id = staged["id"].as_str()?.to_string();
                client
                    .post(format!("{url}/imports/{id}"))
                    .header("content-type", "application/json")
                    .body(
                        json!({"dataset": "earthquakes", "mode": "append", "time": "time"})
                            .to_string(),
                    )
                    .send()
                    .await
                    .ok()
            })
        };
        tokio::time::sleep(*delay).await;
        console.kill().expect("SIGKILL");
        console.wait().expect("reaped");
        let _ = uploading.await;
    }
    // A last start, with nothing killed: whatever was raised and not yet delivered goes out now.
    let (mut last, url) = serve(dir.path(), "ops.gpkg");
    ready(&client, &url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let raised: Vec<i64> = loop {
        let alerts: Value = client
            .get(format!("{url}/alerts?rule=only_this&limit=1000"))
            .send()
            .await
            .expect("alerts")
            .json()
            .await
            .expect("json");
        let raised: Vec<i64> = alerts["alerts"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["seq"].as_i64()).collect())
            .unwrap_or_default();
        let delivered: std::collections::BTreeSet<i64> = receiver
            .received()
            .iter()
            .filter_map(|r| r.json()["alert"]["seq"].as_i64())
            .collect();
        if raised.iter().all(|s| delivered.contains(s)) {
            break raised;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "alerts {raised:?} raised, delivered only {delivered:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let events: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.json()["alert"]["event"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let distinct: std::collections::BTreeSet<&String> = events.iter().collect();
    assert!(
        distinct.len() == raised.len(),
        "one alert per quake, however often the console died: {raised:?} {events:?}"
    );
    eprintln!(
        "alert crash harness: {ROUNDS} kills at {delays:?}; {} alerts raised, all delivered ({} deliveries, duplicates {})",
        raised.len(),
        events.len(),
        events.len() - distinct.len()
    );
    last.kill().expect("stop");
    last.wait().expect("reaped");
}
