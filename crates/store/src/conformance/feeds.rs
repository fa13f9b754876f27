//! What every [`FeedStore`] must do: keep definitions apart from state, and remember item fingerprints.

use chrono::Utc;
use serde_json::json;

use crate::{FeedStore, StoreErrorKind};

pub async fn definitions_and_state_round_trip_apart(store: &dyn FeedStore) {
    let definition =
        json!({"name": "quakes", "url": "https://example.com/q.geojson", "format": "usgs"});
    store
        .put_feed("quakes", definition.clone())
        .await
        .expect("put");
    let record = store.feed("quakes").await.expect("feed");
    assert_eq!(record.definition, definition);
    assert_eq!(record.state, json!({}), "a new feed has an empty state");
    store
        .save_feed_state("quakes", json!({"failures": 2, "etag": "\"v1\""}))
        .await
        .expect("state");
    let changed =
        json!({"name": "quakes", "url": "https://example.com/q2.geojson", "format": "usgs"});
    store
        .put_feed("quakes", changed.clone())
        .await
        .expect("replace");
    let record = store.feed("quakes").await.expect("feed");
    assert_eq!(record.definition, changed);
    assert_eq!(record.state["failures"], 2, "redefining keeps the state");
    store
        .put_feed("alerts", json!({"name": "alerts"}))
        .await
        .expect("second");
    let names: Vec<String> = store
        .feeds()
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["alerts", "quakes"]);
    assert_eq!(
        store
            .save_feed_state("nope", json!({}))
            .await
            .expect_err("absent")
            .kind(),
        StoreErrorKind::NotFound
    );
    assert_eq!(
        store.feed("nope").await.expect_err("absent").kind(),
        StoreErrorKind::NotFound
    );
}

pub async fn fingerprints_are_remembered_per_feed_and_forgotten_with_it(store: &dyn FeedStore) {
    store.put_feed("a", json!({})).await.expect("put");
    store.put_feed("b", json!({})).await.expect("put");
    let many: Vec<(String, String)> = (0..1200)
        .map(|i| (format!("item-{i}"), format!("fp{i}")))
        .collect();
    store
        .remember("a", many, Utc::now())
        .await
        .expect("remember");
    store
        .remember("a", vec![("item-7".into(), "changed".into())], Utc::now())
        .await
        .expect("update");
    store
        .remember("b", vec![("item-7".into(), "other".into())], Utc::now())
        .await
        .expect("other feed");
    let ids: Vec<String> = ["item-7", "item-1199", "never"].map(String::from).to_vec();
    let mut asked: Vec<String> = (0..1100).map(|i| format!("item-{i}")).collect();
    asked.extend(ids.clone());
    let found = store.fingerprints("a", asked).await.expect("fingerprints");
    assert_eq!(
        found.len(),
        1101,
        "ids are looked up in chunks, all of them"
    );
    assert_eq!(found["item-7"], "changed");
    assert_eq!(found["item-1199"], "fp1199");
    assert!(!found.contains_key("never"));
    // Old fingerprints go, withdrawal marks stay.
    let later = Utc::now() + chrono::Duration::hours(1);
    store
        .remember(
            "a",
            vec![("gone".into(), "superseded:cancelled:X".into())],
            Utc::now(),
        )
        .await
        .expect("mark");
    store
        .remember("a", vec![("fresh".into(), "fp".into())], later)
        .await
        .expect("fresh");
    let forgotten = store
        .forget_seen_before(
            "a",
            Utc::now() + chrono::Duration::minutes(1),
            "superseded:",
        )
        .await
        .expect("forget");
    assert_eq!(
        forgotten, 1200,
        "every plain fingerprint seen before, none of the marks"
    );
    let left = store
        .fingerprints("a", vec!["gone".into(), "fresh".into(), "item-7".into()])
        .await
        .expect("left");
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains_key("item-7"));
    store.delete_feed("a").await.expect("delete");
    assert!(
        store
            .fingerprints("a", ids.clone())
            .await
            .expect("after")
            .is_empty()
    );
    assert_eq!(
        store.fingerprints("b", ids).await.expect("b")["item-7"],
        "other"
    );
    assert_eq!(
        store.delete_feed("a").await.expect_err("absent").kind(),
        StoreErrorKind::NotFound
    );
}
