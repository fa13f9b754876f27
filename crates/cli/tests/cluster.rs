//! Two `geoconsole serve` processes on one PostGIS database, driven by a client that talks to both (no load
//! balancer). A commit through one instance reaches the other's items and event stream within a second;
//! feeds are polled and webhooks delivered by one instance only; when the leader is killed (`kill -9`), the
//! other takes over, and nothing is lost or doubled: every alert is raised once and delivered once.

use std::process::Command;
use std::time::{Duration, Instant};

use geoconsole_testkit::{FeedOrigin, Receiver, Serve};
use support::{import_quakes, ready, serve};

use crate::support;
use serde_json::{Value, json};

async fn readyz(client: &reqwest::Client, url: &str) -> Option<Value> {
    let r = client.get(format!("{url}/readyz")).send().await.ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json().await.ok()
}

/// Which of the instances leads, once exactly one does.
async fn leader(client: &reqwest::Client, urls: &[&str]) -> usize {
    let started = Instant::now();
    loop {
        let mut leading = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            if readyz(client, url)
                .await
                .is_some_and(|r| r["leader"] == true)
            {
                leading.push(i);
            }
        }
        if leading.len() == 1 {
            return leading[0];
        }
        assert!(leading.len() < 2, "two leaders at once: {leading:?}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no instance took the lead"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn quake(id: &str, mag: f64) -> String {
    json!({"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": [-86.25, 12.13]},
        "properties": {"mag": mag, "place": "near Managua", "time": 1680840000000_i64}
    }]})
    .to_string()
}

/// Reads an event stream until `needle` appears; the time it took, or `None` after `within`.
async fn wait_on_stream(mut stream: reqwest::Response, needle: &str, within: Duration) -> bool {
    let mut text = String::new();
    tokio::time::timeout(within, async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains(needle) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

async fn feature_status(client: &reqwest::Client, url: &str, id: &str) -> u16 {
    client
        .get(format!("{url}/collections/earthquakes/items/{id}"))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_commits_and_one_leads_until_it_is_killed() {
    let shared = geoconsole_testkit::temp_postgis().await;
    let store = shared.location().to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start(Vec::new()).await;
    let origin = FeedOrigin::start().await;
    origin.set(
        "/quakes.geojson",
        Serve::body(
            "application/geo+json",
            std::fs::read(geoconsole_testkit::fixture("feeds/usgs_v1.geojson")).expect("fixture"),
            None,
        ),
    );
    // The demo is built straight into PostGIS: every command works on it as on a GeoPackage.
    let built = Command::new(env!("CARGO_BIN_EXE_geoconsole"))
        .args(["--store", &store, "demo", "--quiet"])
        .current_dir(dir.path())
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
        dir.path().join("geoconsole.toml"),
        format!(
            "[network]\nallow = [\"127.0.0.1\"]\n\n\
             [[webhooks]]\nname = \"ops\"\nurl = \"{}\"\nsecret = \"cluster-secret-0123456789\"\nrules = [\"managua\"]\nretry_base_ms = 100\n\n\
             [[rules]]\nid = \"managua\"\nseverity = \"critical\"\n[rules.when]\nkind = \"exposure\"\nhazards = [\"earthquakes\"]\n\
             where = \"mag >= 7\"\nsites = [\"sites\"]\nsite_where = \"name = 'Managua Office'\"\nradius_km = 50\n\n\
             [[feeds]]\nname = \"quakes\"\nurl = \"{}\"\nformat = \"usgs\"\ndataset = \"feed_quakes\"\ninterval_s = 2\n",
            receiver.url,
            origin.at("/quakes.geojson"),
        ),
    )
    .expect("config");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (a, url_a) = serve(dir.path(), &store);
    let (b, url_b) = serve(dir.path(), &store);
    let mut children = [Some(a), Some(b)];
    ready(&client, &url_a).await;
    ready(&client, &url_b).await;
    let urls = [url_a.as_str(), url_b.as_str()];
    let first_leader = leader(&client, &urls).await;
    let follower = 1 - first_leader;

    // A commit through the leader reaches the follower's event stream and items within a second.
    let events = client
        .get(format!("{}/events", urls[follower]))
        .send()
        .await
        .expect("event stream");
    let committed = Instant::now();
    import_quakes(&client, urls[first_leader], quake("cluster-q1", 7.1)).await;
    assert!(
        wait_on_stream(
            events,
            "\"dataset\":\"earthquakes\"",
            Duration::from_secs(1)
        )
        .await,
        "the follower announced the leader's commit within 1 s"
    );
    assert_eq!(
        feature_status(&client, urls[follower], "cluster-q1").await,
        200
    );
    let latency = committed.elapsed();
    println!("commit on one instance visible on the other after {latency:?} (import included)");
    let first = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(first.len(), 1);

    // A commit through the follower: the follower evaluates the rule (it holds the batch); the leader
    // delivers the webhook, once.
    import_quakes(&client, urls[follower], quake("cluster-q2", 7.3)).await;
    assert_eq!(
        feature_status(&client, urls[first_leader], "cluster-q2").await,
        200
    );
    let two = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(two.len(), 2);

    // kill -9 the leader; the follower takes over within a few heartbeats.
    let mut killed = children[first_leader].take().expect("leader process");
    killed.kill().expect("SIGKILL");
    killed.wait().expect("reaped");
    let took_over = Instant::now();
    let survivor = urls[follower];
    assert_eq!(leader(&client, &[survivor]).await, 0);
    println!(
        "the survivor leads {:?} after the leader was killed",
        took_over.elapsed()
    );
    import_quakes(&client, survivor, quake("cluster-q3", 7.5)).await;
    let three = receiver.wait_for(3, Duration::from_secs(30)).await;
    // Give a doubled delivery the time to show itself.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = receiver.received();
    assert_eq!(
        all.len(),
        3,
        "every alert delivered exactly once: {three:?}"
    );
    let keys: std::collections::BTreeSet<String> = all
        .iter()
        .map(|r| r.header("idempotency-key").expect("key").to_string())
        .collect();
    assert_eq!(keys.len(), 3, "three different alerts");
    let alerts: Value = client
        .get(format!("{survivor}/alerts?limit=100"))
        .send()
        .await
        .expect("alerts")
        .json()
        .await
        .expect("alerts json");
    let managua: Vec<&Value> = alerts["alerts"]
        .as_array()
        .expect("alerts list")
        .iter()
        .filter(|a| a["rule"] == "managua")
        .collect();
    assert_eq!(
        managua.len(),
        3,
        "one alert per quake, none doubled: {alerts}"
    );
    for id in ["cluster-q1", "cluster-q2", "cluster-q3"] {
        assert_eq!(
            feature_status(&client, survivor, id).await,
            200,
            "{id} kept"
        );
    }

    // The feed was polled by one instance at a time: never two polls closer than its interval.
    let polls = origin.requests("/quakes.geojson").len();
    assert!(
        polls >= 2,
        "the feed was polled before and after the failover ({polls})"
    );
    let feed: Value = client
        .get(format!("{survivor}/collections/feed_quakes"))
        .send()
        .await
        .expect("feed dataset")
        .json()
        .await
        .expect("json");
    assert!(feed["id"] == "feed_quakes", "{feed}");
    let times = origin.request_times("/quakes.geojson");
    let closest = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .min()
        .expect("two polls");
    assert!(
        closest >= Duration::from_millis(1500),
        "two instances polled the feed {closest:?} apart (interval 2 s)"
    );
    for child in children.iter_mut().flatten() {
        let _ = child.kill();
        let _ = child.wait();
    }
}
