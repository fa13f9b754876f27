//! What every [`AlertStore`] must do: deduplicate, keep the lifecycle, and keep deliveries until delivered
//! or declared dead.

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use crate::{
    AlertFilter, AlertState, AlertStore, Attempt, DeliveryState, Disposition, NewAlert, RuleRecord,
    StoreErrorKind, Transition,
};

fn alert(key: &str, rule: &str) -> NewAlert {
    NewAlert {
        key: key.to_string(),
        rule: rule.to_string(),
        severity: "major".into(),
        title: format!("{key} reaches a site"),
        site_dataset: Some("sites".into()),
        site: Some("S1".into()),
        event_dataset: Some("quakes".into()),
        event: Some(key.to_string()),
        position: Some([179.5, -16.0]),
        detail: json!({"distance_m": 1234.5, "reasons": ["it's <close>"]}),
        raised: Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
            .single()
            .expect("date"),
    }
}

pub async fn raising_is_idempotent_by_key_and_queues_one_delivery_per_target(
    store: &dyn AlertStore,
) {
    let targets = vec!["ops".to_string(), "pager".to_string()];
    let first = store
        .raise(vec![alert("a", "r1"), alert("b", "r1")], targets.clone())
        .await
        .expect("raise");
    assert_eq!(first.len(), 2);
    assert!(first[0].seq < first[1].seq, "raised in order");
    let again = store
        .raise(vec![alert("b", "r1"), alert("c", "r2")], targets.clone())
        .await
        .expect("raise again");
    assert_eq!(
        again
            .iter()
            .map(|a| a.alert.key.as_str())
            .collect::<Vec<_>>(),
        vec!["c"],
        "a key raises once"
    );
    let all = store
        .alerts(AlertFilter {
            limit: 100,
            ..AlertFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].alert, alert("a", "r1"), "stored as given");
    assert_eq!(all[0].state, AlertState::Open);
    let after = store
        .alerts(AlertFilter {
            after: Some(all[0].seq),
            rule: Some("r1".into()),
            limit: 100,
            ..AlertFilter::default()
        })
        .await
        .expect("tail");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].alert.key, "b");
    let pending = store
        .deliveries(Some(DeliveryState::Pending), 100)
        .await
        .expect("deliveries");
    assert_eq!(pending.len(), 6, "one per alert and target");
}

pub async fn the_lifecycle_moves_forward_only_and_records_who(store: &dyn AlertStore) {
    let raised = store
        .raise(vec![alert("a", "r"), alert("b", "r")], Vec::new())
        .await
        .expect("raise");
    let (a, b) = (raised[0].seq, raised[1].seq);
    // Stores keep instants to the millisecond.
    let at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
    let change = |to, disposition| Transition {
        to,
        by: "maria".into(),
        at,
        disposition,
        note: Some("checked with the site".into()),
    };
    let missing = store
        .transition(a, change(AlertState::Acknowledged, None))
        .await
        .expect_err("a disposition is required");
    assert_eq!(missing.kind(), StoreErrorKind::Invalid);
    let acked = store
        .transition(
            a,
            change(AlertState::Acknowledged, Some(Disposition::NoImpact)),
        )
        .await
        .expect("acknowledge");
    assert_eq!(acked.state, AlertState::Acknowledged);
    assert_eq!(acked.acknowledged_by.as_deref(), Some("maria"));
    let twice = store
        .transition(
            a,
            change(AlertState::Acknowledged, Some(Disposition::Relevant)),
        )
        .await
        .expect_err("already acknowledged");
    assert_eq!(twice.kind(), StoreErrorKind::Conflict);
    let resolved = store
        .transition(a, change(AlertState::Resolved, None))
        .await
        .expect("resolve");
    assert_eq!(resolved.disposition, Some(Disposition::NoImpact), "kept");
    assert_eq!(store.alert(a).await.expect("read back"), resolved);
    let back = store
        .transition(a, change(AlertState::Open, None))
        .await
        .expect_err("no way back");
    assert_eq!(back.kind(), StoreErrorKind::Conflict);
    store
        .transition(
            b,
            change(AlertState::Resolved, Some(Disposition::FalsePositive)),
        )
        .await
        .expect("resolve an open alert with a disposition");
    let gone = store.alert(999_999).await.expect_err("absent");
    assert_eq!(gone.kind(), StoreErrorKind::NotFound);
    let open = store
        .alerts(AlertFilter {
            state: Some(AlertState::Open),
            limit: 10,
            ..AlertFilter::default()
        })
        .await
        .expect("open ones");
    assert!(open.is_empty());
}

pub async fn deliveries_retry_die_and_come_back(store: &dyn AlertStore) {
    let raised = store
        .raise(vec![alert("a", "r")], vec!["hook".into()])
        .await
        .expect("raise");
    let now = raised[0].alert.raised;
    let due = store.due_deliveries(now, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1.seq, raised[0].seq);
    let id = due[0].0.id;
    let later = now + Duration::seconds(30);
    store
        .record_attempt(
            id,
            Attempt::Retry {
                at: later,
                error: "HTTP 500".into(),
            },
        )
        .await
        .expect("retry");
    assert!(
        store.due_deliveries(now, 10).await.expect("due").is_empty(),
        "not yet"
    );
    let again = store.due_deliveries(later, 10).await.expect("due later");
    assert_eq!(again[0].0.attempts, 1);
    assert_eq!(again[0].0.last_error.as_deref(), Some("HTTP 500"));
    store
        .record_attempt(
            id,
            Attempt::Dead {
                error: "HTTP 500 after 2 attempts".into(),
            },
        )
        .await
        .expect("dead");
    let dead = store
        .deliveries(Some(DeliveryState::Dead), 10)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert!(
        store
            .due_deliveries(later, 10)
            .await
            .expect("due")
            .is_empty()
    );
    let back = store
        .retry_delivery(id, later)
        .await
        .expect("retry by hand");
    assert_eq!((back.state, back.attempts), (DeliveryState::Pending, 0));
    store
        .record_attempt(id, Attempt::Delivered { at: later })
        .await
        .expect("delivered");
    let done = store
        .deliveries(Some(DeliveryState::Delivered), 10)
        .await
        .expect("delivered ones");
    assert_eq!(done[0].delivered_at, Some(later));
    let again = store
        .retry_delivery(id, later)
        .await
        .expect_err("delivered stays delivered");
    assert_eq!(again.kind(), StoreErrorKind::Conflict);
}

pub async fn rules_and_their_marks_round_trip(store: &dyn AlertStore) {
    let at = Utc
        .with_ymd_and_hms(2024, 5, 1, 0, 0, 0)
        .single()
        .expect("date");
    let rule = RuleRecord {
        id: "quake_near_warehouse".into(),
        definition: json!({"kind": "exposure", "hazards": ["earthquakes"], "where": "mag >= 5.5"}),
        created: at,
        updated: at,
    };
    store
        .put_rule(rule.clone(), vec![("earthquakes".into(), 7)])
        .await
        .expect("put");
    assert_eq!(store.rules().await.expect("rules"), vec![rule.clone()]);
    assert_eq!(
        store.marks(&rule.id).await.expect("marks"),
        vec![("earthquakes".to_string(), 7)]
    );
    store
        .set_mark(&rule.id, "earthquakes", 9)
        .await
        .expect("mark");
    store
        .set_mark(&rule.id, "earthquakes", 8)
        .await
        .expect("an older mark");
    assert_eq!(
        store.marks(&rule.id).await.expect("marks"),
        vec![("earthquakes".to_string(), 9)],
        "marks never move back"
    );
    store.forget_marks("earthquakes").await.expect("forget");
    assert!(
        store.marks(&rule.id).await.expect("marks").is_empty(),
        "a dropped dataset's marks go"
    );
    store
        .set_mark(&rule.id, "earthquakes", 1)
        .await
        .expect("a new dataset under the same id");
    assert_eq!(
        store.marks(&rule.id).await.expect("marks"),
        vec![("earthquakes".to_string(), 1)]
    );
    store.delete_rule(&rule.id).await.expect("delete");
    assert!(store.rules().await.expect("rules").is_empty());
    assert!(store.marks(&rule.id).await.expect("marks").is_empty());
    let gone = store.delete_rule(&rule.id).await.expect_err("already gone");
    assert_eq!(gone.kind(), StoreErrorKind::NotFound);
}
