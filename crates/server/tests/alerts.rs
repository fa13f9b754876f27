//! Alerting over real HTTP on 127.0.0.1: rules checked and dry-run against an independent brute-force
//! computation, the alert lifecycle, a new event raising an alert that arrives on the SSE stream and at a
//! real webhook receiver with a valid HMAC signature, retries with the same idempotency key, and dead
//! letters.

use std::time::Duration;

use futures_util::StreamExt;
use geoconsole_testkit::{Behaviour, Receiver, serve_console, serve_demo, temp_gpkg};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8_f64;
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((b.0 - a.0).to_radians() / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().min(1.0).asin()
}

fn xy(f: &Value) -> (f64, f64) {
    let c = &f["geometry"]["coordinates"];
    (c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat"))
}

#[tokio::test]
async fn rules_are_checked_dry_run_matches_brute_force_and_alerts_keep_their_lifecycle() {
    let server = serve_demo().await;
    let rules = server.get("/rules").await.json();
    assert_eq!(rules["rules"].as_array().map(Vec::len), Some(3), "{rules}");

    // The demo's late earthquakes and incidents raised alerts when they arrived.
    let open = server.get("/alerts?state=open&limit=1000").await.json();
    let raised = open["alerts"].as_array().expect("alerts").clone();
    assert!(raised.len() >= 5, "{open}");
    assert!(raised.iter().any(|a| a["rule"] == "quake_near_site"));
    assert!(raised.iter().any(|a| a["rule"] == "incident_anomaly"));

    // A dry run of "M4+ within 100 km" over the whole week against haversine on every pair.
    let rule = json!({"id": "probe", "when": {"kind": "exposure", "hazards": ["earthquakes"], "where": "mag >= 4", "radius_km": 100}});
    let dry = server.post_json("/rules/dry-run", rule.clone()).await;
    assert_eq!(dry.status, 200, "{}", dry.text());
    let dry = dry.json();
    let sites = server.all_features("sites").await;
    let quakes = server.all_features("earthquakes").await;
    let mut expected = 0;
    for q in quakes
        .iter()
        .filter(|q| q["properties"]["mag"].as_f64().is_some_and(|m| m >= 4.0))
    {
        expected += sites
            .iter()
            .filter(|s| haversine_m(xy(s), xy(q)) <= 100_000.0)
            .count();
    }
    assert!(expected > 10);
    assert_eq!(dry["would_raise"], expected, "dry run vs brute force");
    assert!(
        server.get("/rules/probe").await.status == 404,
        "a dry run stores nothing"
    );

    for (bad, needle) in [
        (
            json!({"id": "x", "when": {"kind": "exposure", "hazards": ["nope"]}}),
            "nope",
        ),
        (
            json!({"id": "x", "when": {"kind": "exposure", "hazards": ["earthquakes"], "where": "magg >= 4"}}),
            "magg",
        ),
        (
            json!({"id": "bad id!", "when": {"kind": "score", "above": 50}}),
            "id",
        ),
        (
            json!({"id": "x", "when": {"kind": "score", "above": 50}, "colour": "red"}),
            "colour",
        ),
    ] {
        let r = server.post_json("/rules", bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().contains(needle), "{bad}: {}", r.text());
    }
    let created = server.post_json("/rules", rule).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        server.get("/rules/probe").await.json()["when"]["radius_km"],
        100.0
    );
    let deleted = server
        .send(server.client().delete(server.at("/rules/probe")))
        .await;
    assert_eq!(deleted.status, 204);

    // Lifecycle: acknowledge needs a disposition, happens once, then resolve keeps it.
    let seq = raised[0]["seq"].as_i64().expect("seq");
    let ack_path = format!("/alerts/{seq}/acknowledge");
    let ack = |body: Value| server.post_json(&ack_path, body);
    assert_eq!(ack(json!({"by": "maria"})).await.status, 400);
    assert_eq!(
        ack(json!({"by": "maria", "disposition": "maybe"}))
            .await
            .status,
        400
    );
    let done = ack(json!({"by": "maria", "disposition": "relevant", "note": "site called"})).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["state"], "acknowledged");
    assert_eq!(
        ack(json!({"by": "maria", "disposition": "relevant"}))
            .await
            .status,
        409
    );
    let resolved = server
        .post_json(&format!("/alerts/{seq}/resolve"), json!({"by": "li"}))
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text());
    let after = server.get(&format!("/alerts/{seq}")).await.json();
    assert_eq!(after["state"], "resolved");
    assert_eq!(after["disposition"], "relevant");
    assert_eq!(after["acknowledged_by"], "maria");
    assert_eq!(after["resolved_by"], "li");
    assert_eq!(after["note"], "site called");
    assert_eq!(server.get("/alerts/999999").await.status, 404);
    let cross = server
        .send(
            server
                .client()
                .post(server.at(&format!("/alerts/{seq}/resolve")))
                .header("origin", "https://evil.example")
                .header("content-type", "application/json")
                .body(r#"{"by":"x"}"#),
        )
        .await;
    assert_eq!(cross.status, 403);
}

fn verify(secret: &str, received: &geoconsole_testkit::Received) {
    let timestamp = received
        .header("x-geoconsole-timestamp")
        .expect("timestamp");
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        received.header("x-geoconsole-signature"),
        Some(format!("sha256={expected}").as_str()),
        "signature"
    );
}

const SECRET: &str = "a-long-enough-shared-secret";

#[tokio::test]
async fn a_new_event_raises_one_alert_on_the_stream_and_at_a_signed_webhook_with_retries() {
    // The receiver fails the first attempt; a second target always fails and becomes a dead letter.
    let receiver = Receiver::start(vec![Behaviour::Answer(503)]).await;
    let broken = Receiver::start(vec![Behaviour::Answer(500); 10]).await;
    let store = temp_gpkg();
    let console = store.console();
    geoconsole_scenario::build_demo(&console, 42)
        .await
        .expect("demo");
    let hook = |name: &str, url: &str, attempts: u32| geoconsole_app::Webhook {
        name: name.into(),
        url: url.into(),
        secret: SECRET.into(),
        rules: vec!["quake_near_site".into()],
        max_attempts: attempts,
        retry_base_ms: 50,
        timeout_ms: 5_000,
    };
    console
        .alerts()
        .set_webhooks(vec![
            hook("ops", &receiver.url, 5),
            hook("broken", &broken.url, 2),
        ])
        .expect("webhooks");
    let server = serve_console(store, console).await;

    let last = server.get("/alerts?limit=1").await.json()["alerts"][0]["seq"]
        .as_i64()
        .expect("demo alerts");
    let response = server
        .client()
        .get(server.at("/alerts/stream"))
        .header("last-event-id", last.to_string())
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();

    // A strong earthquake 20 km from the Managua office, arriving after everything else.
    let quake = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "test-quake-1",
        "geometry": {"type": "Point", "coordinates": [-86.10, 12.20]},
        "properties": {"mag": 6.2, "place": "test quake near Managua", "time": 1680840000000_i64}
    }]});
    let status = server
        .upload(
            "latest.geojson",
            quake.to_string().into_bytes(),
            json!({"dataset": "earthquakes", "mode": "append", "time": "time"}),
        )
        .await;
    assert_eq!(status["state"], "imported", "{status}");

    // The stream tells of it at once.
    let mut text = String::new();
    let alert: Value = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let chunk = stream.next().await.expect("stream open").expect("bytes");
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(at) = text.find("event: alert\n") {
                let rest = &text[at..];
                if let Some(end) = rest.find("\n\n") {
                    let data = rest[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .expect("data line");
                    return serde_json::from_str(data).expect("alert JSON");
                }
            }
        }
    })
    .await
    .expect("an alert on the stream within 30 s");
    assert_eq!(alert["rule"], "quake_near_site");
    assert_eq!(alert["event"], "test-quake-1");
    assert!(alert["seq"].as_i64().expect("seq") > last);

    // The webhook: the first attempt was refused with 503 and retried with the same key; every request is
    // signed; each alert has its own key.
    let first_seq =
        receiver.wait_for(1, Duration::from_secs(30)).await[0].json()["alert"]["seq"].clone();
    let mut got = Vec::new();
    for _ in 0..600 {
        got = receiver.received();
        if got
            .iter()
            .filter(|r| r.json()["alert"]["seq"] == first_seq)
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let same: Vec<_> = got
        .iter()
        .filter(|r| r.json()["alert"]["seq"] == first_seq)
        .collect();
    assert!(same.len() >= 2, "retried after the 503");
    let key = same[0].header("idempotency-key").expect("key");
    assert!(
        same.iter()
            .all(|r| r.header("idempotency-key") == Some(key))
    );
    assert_eq!(same[1].json()["delivery"]["attempt"], 2);
    for r in &got {
        verify(SECRET, r);
        assert_eq!(r.json()["alert"]["event"], "test-quake-1");
        assert!(
            r.json()["alert"]["seq"] == first_seq || r.header("idempotency-key") != Some(key),
            "keys are per alert"
        );
    }

    // Each alert is raised once: a replay of the same event raises nothing.
    let again = server
        .upload(
            "latest.geojson",
            quake.to_string().into_bytes(),
            json!({"dataset": "earthquakes", "mode": "upsert", "time": "time"}),
        )
        .await;
    assert_eq!(again["state"], "imported", "{again}");
    let listed = server
        .get("/alerts?rule=quake_near_site&limit=1000")
        .await
        .json();
    let for_event = listed["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["event"] == "test-quake-1")
        .count();
    let sites_in_reach = server
        .all_features("sites")
        .await
        .iter()
        .filter(|s| haversine_m(xy(s), (-86.10, 12.20)) <= 100_000.0)
        .count();
    assert_eq!(
        for_event, sites_in_reach,
        "one alert per site reached, raised once"
    );

    // The broken target gave up after two attempts: a dead letter, which can be queued again.
    let mut dead = Value::Null;
    for _ in 0..300 {
        dead = server.get("/alerts/deliveries?state=dead").await.json();
        if dead["deliveries"].as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letter = &dead["deliveries"][0];
    assert_eq!(letter["target"], "broken");
    assert!(
        letter["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{letter}"
    );
    assert!(broken.received().len() >= 2);
    let retry = server
        .send(
            server
                .client()
                .post(server.at(&format!("/alerts/deliveries/{}/retry", letter["id"]))),
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["state"], "pending");
    let delivered = server
        .get("/alerts/deliveries?state=delivered")
        .await
        .json();
    assert!(
        delivered["deliveries"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["target"] == "ops")),
        "{delivered}"
    );
    assert!(
        !delivered.to_string().contains(SECRET),
        "secrets never leave the server"
    );
}
