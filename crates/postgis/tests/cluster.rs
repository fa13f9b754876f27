//! The coordination PostgreSQL gives several instances, against a real server: commits are announced to
//! every listener (and only when they commit), one lease at a time, released when its holder's connection
//! dies, and a listener whose connection is cut comes back and says that it missed news.

use std::sync::Arc;
use std::time::Duration;

use geoconsole_model::geo_types::Point;
use geoconsole_model::{DatasetId, DatasetKind, Feature, FeatureId, Properties, TimeFields};
use geoconsole_postgis::PostgisStore;
use geoconsole_store::{
    AlertState, AlertStore, ClusterEvent, ClusterStore, Disposition, FeatureStore, NewAlert,
    Transition, WriteMode, WriteRequest,
};
use tokio::sync::mpsc;

fn request(name: &str) -> WriteRequest {
    WriteRequest {
        id: DatasetId::new(name).expect("id"),
        title: name.into(),
        kind: DatasetKind::Events,
        source: "test".into(),
        time_fields: TimeFields::default(),
        id_field: None,
        mode: WriteMode::Append,
        skip_conflicts: false,
    }
}

fn feature(id: &str) -> Feature {
    Feature {
        id: Some(FeatureId(id.into())),
        geometry: Some(Point::new(1.0, 2.0).into()),
        time: None,
        properties: Properties::new(),
    }
}

async fn next(
    events: &mut mpsc::UnboundedReceiver<ClusterEvent>,
    within: Duration,
) -> ClusterEvent {
    tokio::time::timeout(within, events.recv())
        .await
        .expect("an event in time")
        .expect("the subscription is alive")
}

/// Ends every session of this test's schema that runs `what` (as an operator or a network fault would).
async fn cut(store: &PostgisStore, like: &str) -> u64 {
    let admin = PostgisStore::open(&geoconsole_testkit::test_postgres_url())
        .await
        .expect("second connection");
    let _ = store;
    admin
        .terminate_sessions(like)
        .await
        .expect("terminate sessions")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_announced_and_a_cut_listener_comes_back() {
    let shared = geoconsole_testkit::temp_postgis().await;
    let store = PostgisStore::open(shared.location()).await.expect("open");
    let (tx, mut events) = mpsc::unbounded_channel();
    let _subscription = store
        .subscribe(Box::new(move |e| {
            let _ = tx.send(e);
        }))
        .await
        .expect("subscribe")
        .expect("PostGIS gives news");

    // An aborted write announces nothing; a committed one announces its dataset and version.
    let writer = store.begin_write(request("quakes")).await.expect("begin");
    writer.abort().await.expect("abort");
    let mut writer = store.begin_write(request("quakes")).await.expect("begin");
    writer.write(vec![feature("a")]).await.expect("write");
    writer.commit().await.expect("commit");
    assert_eq!(
        next(&mut events, Duration::from_secs(2)).await,
        ClusterEvent::Dataset {
            id: "quakes".into(),
            version: 1
        }
    );

    // The listening session is killed: the store reconnects and says news may have been missed.
    let schema = shared
        .location()
        .rsplit("schema=")
        .next()
        .expect("schema")
        .to_string();
    assert_eq!(
        cut(&store, &format!("LISTEN \"geoconsole.{schema}\"")).await,
        1
    );
    assert_eq!(
        next(&mut events, Duration::from_secs(10)).await,
        ClusterEvent::Resynchronise
    );
    let mut writer = store.begin_write(request("quakes")).await.expect("begin");
    writer.write(vec![feature("b")]).await.expect("write");
    writer.commit().await.expect("commit");
    assert_eq!(
        next(&mut events, Duration::from_secs(2)).await,
        ClusterEvent::Dataset {
            id: "quakes".into(),
            version: 2
        }
    );

    // Alerts: a raise announces the newest sequence number, a lifecycle step the alert it moved.
    let raised = store
        .raise(
            vec![NewAlert {
                key: "k1".into(),
                rule: "r".into(),
                severity: "minor".into(),
                title: "t".into(),
                site_dataset: None,
                site: None,
                event_dataset: None,
                event: None,
                position: None,
                detail: serde_json::Value::Null,
                raised: chrono::Utc::now(),
            }],
            Vec::new(),
        )
        .await
        .expect("raise");
    let seq = raised[0].seq;
    assert_eq!(
        next(&mut events, Duration::from_secs(2)).await,
        ClusterEvent::Alerts { up_to: seq }
    );
    store
        .transition(
            seq,
            Transition {
                to: AlertState::Acknowledged,
                by: "ops".into(),
                at: chrono::Utc::now(),
                disposition: Some(Disposition::Relevant),
                note: None,
            },
        )
        .await
        .expect("acknowledge");
    assert_eq!(
        next(&mut events, Duration::from_secs(2)).await,
        ClusterEvent::AlertChanged { seq }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lease_at_a_time_released_with_its_connection() {
    let shared = geoconsole_testkit::temp_postgis().await;
    let first = Arc::new(
        PostgisStore::open(shared.location())
            .await
            .expect("first instance"),
    );
    let second = Arc::new(
        PostgisStore::open(shared.location())
            .await
            .expect("second instance"),
    );
    let mut lease = first
        .try_lead()
        .await
        .expect("try")
        .expect("the first leads");
    assert!(
        second.try_lead().await.expect("try").is_none(),
        "one leader"
    );
    assert!(lease.still_held().await);
    drop(lease);
    let mut taken = None;
    for _ in 0..50 {
        if let Some(l) = second.try_lead().await.expect("try") {
            taken = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lease = taken.expect("the second leads once the first let go");
    // The leader's session dies (a crash, a network cut): its lease is lost, and another may lead.
    assert_eq!(cut(&second, "SELECT pg_try_advisory_lock($1)").await, 1);
    assert!(
        !lease.still_held().await,
        "a lease without its session is lost"
    );
    assert!(
        first.try_lead().await.expect("try").is_some(),
        "the lock went with the session"
    );
}
