//! What every [`AccessStore`] must do: keep accounts, tokens and sessions by their keys, end sessions,
//! and keep the audit log in order, filterable and append-only.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use crate::StoreErrorKind;
use crate::access::{
    AccessStore, AuditEntry, AuditFilter, Grant, Role, SessionRecord, TokenRecord, UserRecord,
};

fn user(name: &str, role: Role) -> UserRecord {
    let now = now_us();
    UserRecord {
        name: name.into(),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        disabled: false,
        datasets: None,
        created: now,
        updated: now,
    }
}

/// Stores keep instants to the microsecond (PostgreSQL's precision); the checks use instants they can keep.
fn now_us() -> chrono::DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 6)
}

pub async fn accounts_and_tokens_round_trip(store: &dyn AccessStore) {
    assert_eq!(
        store.user("ann").await.expect_err("absent").kind(),
        StoreErrorKind::NotFound
    );
    store.put_user(user("ann", Role::Admin)).await.expect("put");
    let mut bob = user("bob", Role::Viewer);
    bob.datasets = Some(BTreeMap::from([
        ("sites".to_string(), Grant::Read),
        ("incidents".to_string(), Grant::Write),
    ]));
    store.put_user(bob.clone()).await.expect("put");
    assert_eq!(store.user("bob").await.expect("bob"), bob);
    bob.role = Role::Editor;
    bob.disabled = true;
    store.put_user(bob.clone()).await.expect("replace");
    assert_eq!(store.user("bob").await.expect("bob"), bob);
    let names: Vec<String> = store
        .users()
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ann", "bob"]);

    let token = TokenRecord {
        id: "t1".into(),
        user: "bob".into(),
        label: "grafana".into(),
        secret_hash: "ab".repeat(32),
        scope: Role::Viewer,
        datasets: Some(vec!["sites".into()]),
        created: now_us(),
        expires: Some(now_us() + Duration::days(30)),
        revoked: None,
        last_used: None,
    };
    store.put_token(token.clone()).await.expect("token");
    store
        .put_token(TokenRecord {
            id: "t2".into(),
            user: "ann".into(),
            ..token.clone()
        })
        .await
        .expect("token");
    assert_eq!(store.token("t1").await.expect("t1"), token);
    assert_eq!(store.tokens(Some("bob")).await.expect("bob's").len(), 1);
    assert_eq!(store.tokens(None).await.expect("all").len(), 2);
    let revoked = TokenRecord {
        revoked: Some(now_us()),
        ..token
    };
    store.put_token(revoked.clone()).await.expect("revoke");
    assert_eq!(store.token("t1").await.expect("t1"), revoked);
    assert_eq!(
        store.token("nope").await.expect_err("absent").kind(),
        StoreErrorKind::NotFound
    );
}

pub async fn sessions_end_one_by_one_per_account_and_by_age(store: &dyn AccessStore) {
    let now = now_us();
    let session = |id: &str, user: &str, expires| SessionRecord {
        id_hash: id.into(),
        user: user.into(),
        csrf: format!("csrf-{id}"),
        created: now,
        last_seen: now,
        expires,
    };
    let later = now + Duration::hours(12);
    store
        .put_session(session("s1", "ann", later))
        .await
        .expect("s1");
    store
        .put_session(session("s2", "ann", later))
        .await
        .expect("s2");
    store
        .put_session(session("s3", "bob", later))
        .await
        .expect("s3");
    store
        .put_session(session("old", "bob", now - Duration::minutes(1)))
        .await
        .expect("old");
    assert_eq!(store.session("s1").await.expect("s1").csrf, "csrf-s1");
    let mut touched = store.session("s1").await.expect("s1");
    touched.last_seen = now + Duration::minutes(5);
    store.put_session(touched.clone()).await.expect("touch");
    assert_eq!(store.session("s1").await.expect("s1"), touched);
    store.delete_session("s1").await.expect("logout");
    store
        .delete_session("s1")
        .await
        .expect("logout twice is fine");
    assert_eq!(
        store.session("s1").await.expect_err("gone").kind(),
        StoreErrorKind::NotFound
    );
    assert_eq!(
        store.delete_expired_sessions(now).await.expect("expired"),
        1
    );
    assert_eq!(store.delete_sessions_of("ann").await.expect("ann's"), 1);
    assert!(store.session("s2").await.is_err());
    assert!(store.session("s3").await.is_ok(), "bob's session stays");
}

pub async fn audit_is_ordered_filtered_and_paged(store: &dyn AccessStore) {
    let base = Utc
        .with_ymd_and_hms(2026, 3, 1, 8, 0, 0)
        .single()
        .expect("date");
    let mut seqs = Vec::new();
    for (i, (actor, action, target)) in [
        ("user:ann", "login", "ann"),
        ("user:ann", "import", "sites"),
        ("user:bob", "login", "bob"),
        ("user:ann", "rules.put", "near-sites"),
        ("anonymous", "login", "mallory"),
    ]
    .into_iter()
    .enumerate()
    {
        let seq = store
            .append_audit(AuditEntry {
                at: base + Duration::minutes(i as i64),
                actor: actor.into(),
                action: action.into(),
                target: target.into(),
                outcome: if actor == "anonymous" {
                    "refused 401"
                } else {
                    "ok"
                }
                .into(),
                source: "127.0.0.1".into(),
                detail: json!({"i": i}),
            })
            .await
            .expect("append");
        seqs.push(seq);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequence increases");
    let all = store
        .audit(AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .expect("all");
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].entry.actor, "anonymous", "newest first");
    assert_eq!(all[4].entry.detail, json!({"i": 0}));
    let ann = store
        .audit(AuditFilter {
            actor: Some("user:ann".into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .expect("ann");
    assert_eq!(ann.len(), 3);
    let logins = store
        .audit(AuditFilter {
            action: Some("log".into()),
            since: Some(base + Duration::minutes(1)),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .expect("logins");
    assert_eq!(logins.len(), 2);
    let page = store
        .audit(AuditFilter {
            before: Some(seqs[2]),
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, seqs[1]);
    let until = store
        .audit(AuditFilter {
            until: Some(base),
            target: Some("an".into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .expect("until");
    assert_eq!(until.len(), 1);
}
