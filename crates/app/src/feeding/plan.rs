//! The poll planner: what one body does to what a feed wrote before, decided without I/O. Given the body's
//! items and withdrawals, what the feed's memory holds for each id ([`Known`]), the stored features the
//! decision needs ([`Body::needs_stored`]) and the warnings tracked in force, [`Body::plan`] says what to
//! write, what to remember, how the poll counts, which warnings to track for expiry and which event times
//! measure lag. [`due`] and [`expired`] do the same for warnings whose time has passed.
//!
//! Owns the meaning of the memory (an item's digest, or a withdrawal mark kept in the store's string form
//! `superseded:{how}:{by}`) and CAP update/cancel semantics on stored features: replays are not written
//! again, a withdrawn warning stays withdrawn, and one is cut short when it was withdrawn. Depends on
//! `feeds` (items, withdrawals, [`CAP_STATE`]) and `model` only: the caller fetches, asks the store,
//! writes and keeps the state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use geoconsole_feeds::{Action, CAP_STATE, FeedItem, PollCounts, Withdrawal};
use geoconsole_model::{Feature, TimeSpan, format_rfc3339};
use serde_json::{Value, json};

/// How withdrawal marks begin in the store: a copy of the item arriving afterwards (a replay, or the
/// original arriving late) is stored withdrawn, never as a live warning, and pruning keeps them.
pub(crate) const TOMBSTONE: &str = "superseded:";
/// Open CAP warnings tracked per feed for expiry; more than any real feed has in force at once.
pub(crate) const MAX_OPEN: usize = 50_000;
/// How often fingerprints of items gone from the feed are pruned: often enough that the table does not
/// grow with every item a feed ever carried, seldom enough that re-remembering unchanged items (which
/// pruning needs, so it keeps them) is not paid on every poll.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::days(1);

/// A digest of everything stored for an item ([`FeedItem::fingerprint`]): equal digests mean a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(item: &FeedItem) -> Self {
        Self(item.fingerprint())
    }
}

/// What withdrew an item, which is also the `cap_state` it is stored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Superseded {
    /// A CAP `Update` replaced it.
    Updated,
    /// A CAP `Cancel` withdrew it.
    Cancelled,
}

impl Superseded {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Updated => "updated",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What the feed's memory holds for an item id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Written with this fingerprint.
    Seen(Fingerprint),
    /// Withdrawn by the message `by`, whether or not the item itself was ever written.
    Withdrawn { how: Superseded, by: String },
}

impl Known {
    /// Reads the store's string form. Only this planner writes marks, and only the two it knows; any other
    /// state after the prefix is read as a cancel, so the item it marks still never goes live.
    pub fn parse(stored: &str) -> Self {
        let Some(mark) = stored.strip_prefix(TOMBSTONE) else {
            return Self::Seen(Fingerprint(stored.to_string()));
        };
        let (how, by) = mark.split_once(':').unwrap_or((mark, ""));
        let how = match how {
            "updated" => Superseded::Updated,
            _ => Superseded::Cancelled,
        };
        Self::Withdrawn {
            how,
            by: by.to_string(),
        }
    }
}

/// The store's string form, unchanged from before the memory was typed: stored memories stay readable.
impl fmt::Display for Known {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seen(Fingerprint(digest)) => f.write_str(digest),
            Self::Withdrawn { how, by } => write!(f, "{TOMBSTONE}{}:{by}", how.as_str()),
        }
    }
}

/// Whether this poll prunes the memory: once a day.
pub fn prune_due(pruned: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    pruned.is_none_or(|at| now - at > PRUNE_EVERY)
}

/// How a poll counts, for its report and the feed's totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
}

impl Counts {
    pub fn add_to(self, counts: &mut PollCounts) {
        counts.added += self.added;
        counts.updated += self.updated;
        counts.unchanged += self.unchanged;
        counts.withdrawn += self.withdrawn;
    }
}

/// Changes to the warnings tracked in force (`FeedState::open_until`): withdrawn ones stop being tracked,
/// written ones in force are tracked until their end. Applied in that order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OpenChanges {
    pub closed: BTreeSet<String>,
    pub opened: BTreeMap<String, DateTime<Utc>>,
}

impl OpenChanges {
    pub fn apply(self, open_until: &mut BTreeMap<String, DateTime<Utc>>) {
        for id in &self.closed {
            open_until.remove(id);
        }
        open_until.extend(self.opened);
    }
}

/// What one poll does with its body.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    /// Features to upsert, by id.
    pub writes: BTreeMap<String, Feature>,
    /// What to remember per id, in order: a later entry for an id wins (a withdrawal mark over the
    /// fingerprint of an item withdrawn in its own body).
    pub remember: Vec<(String, Known)>,
    pub counts: Counts,
    pub open: OpenChanges,
    /// The source's times of the items written as given (new or changed), for lag: marks and replays
    /// say nothing of how late the feed is.
    pub event_times: Vec<DateTime<Utc>>,
}

/// An earlier item a message withdraws.
struct Supersession {
    id: String,
    how: Superseded,
    by: String,
    at: Option<DateTime<Utc>>,
}

/// One body's items by id and its withdrawals. A later copy of an id wins, as it would in the store.
#[derive(Debug, Default)]
pub struct Body {
    items: BTreeMap<String, (FeedItem, Fingerprint)>,
    withdrawals: Vec<Withdrawal>,
}

impl Body {
    pub fn new(items: Vec<FeedItem>, withdrawals: Vec<Withdrawal>) -> Self {
        let mut by_id = BTreeMap::new();
        for item in items {
            by_id.insert(item.id().to_string(), item);
        }
        let items = by_id
            .into_iter()
            .map(|(id, item)| {
                let fingerprint = Fingerprint::of(&item);
                (id, (item, fingerprint))
            })
            .collect();
        Self { items, withdrawals }
    }

    /// The ids whose memory the plan needs: the items, and every id they or the withdrawals name.
    pub fn asked(&self) -> Vec<String> {
        let mut asked: Vec<String> = self.items.keys().cloned().collect();
        for (item, _) in self.items.values() {
            asked.extend(item.supersedes.iter().cloned());
        }
        for withdrawal in &self.withdrawals {
            asked.extend(withdrawal.ids.iter().cloned());
        }
        asked
    }

    /// The ids whose stored feature the plan needs: items withdrawn before (written only when none is
    /// stored), and withdrawn ids this body does not write itself (their current version is marked).
    pub fn needs_stored(&self, known: &HashMap<String, Known>) -> BTreeSet<String> {
        let mut needed = BTreeSet::new();
        let mut written = BTreeSet::new();
        for (id, (_, fingerprint)) in &self.items {
            match known.get(id) {
                Some(Known::Withdrawn { .. }) => {
                    needed.insert(id.clone());
                }
                Some(Known::Seen(seen)) if seen == fingerprint => {}
                _ => {
                    written.insert(id.as_str());
                }
            }
        }
        for s in self.supersessions() {
            if !written.contains(s.id.as_str()) {
                needed.insert(s.id);
            }
        }
        needed
    }

    /// Which earlier items are withdrawn or replaced, and by what: updates in id order, then cancels in
    /// body order.
    fn supersessions(&self) -> Vec<Supersession> {
        let updates = self
            .items
            .iter()
            .filter(|(_, (item, _))| item.action == Action::Update)
            .flat_map(|(by, (item, _))| {
                item.supersedes.iter().map(move |id| Supersession {
                    id: id.clone(),
                    how: Superseded::Updated,
                    by: by.clone(),
                    at: item.event_time,
                })
            });
        let cancels = self.withdrawals.iter().flat_map(|w| {
            w.ids.iter().map(move |id| Supersession {
                id: id.clone(),
                how: Superseded::Cancelled,
                by: w.by.clone(),
                at: w.at,
            })
        });
        updates.chain(cancels).collect()
    }

    /// The plan for this body. `known` is the memory of [`Body::asked`]; `stored` holds the stored
    /// features of (at least) [`Body::needs_stored`], an absent id meaning none is stored; `open_until`
    /// is the warnings tracked in force; `prune_due` from [`prune_due`].
    pub fn plan(
        self,
        known: &HashMap<String, Known>,
        stored: &HashMap<String, Feature>,
        open_until: &BTreeMap<String, DateTime<Utc>>,
        prune_due: bool,
    ) -> Plan {
        let supersessions = self.supersessions();
        let mut plan = Plan::default();
        for (id, (item, fingerprint)) in self.items {
            match known.get(&id) {
                Some(Known::Seen(seen)) if *seen == fingerprint => {
                    plan.counts.unchanged += 1;
                    if prune_due {
                        // Still in the feed: seen now, so pruning keeps it.
                        plan.remember.push((id, Known::Seen(fingerprint)));
                    }
                    continue;
                }
                Some(Known::Withdrawn { how, by }) => {
                    // Withdrawn before: stored only if it never was (it arrived after its withdrawal),
                    // and then as withdrawn. Its mark stays what is remembered.
                    if stored.contains_key(&id) {
                        plan.counts.unchanged += 1;
                        continue;
                    }
                    let mut feature = item.feature;
                    mark(&mut feature, *how, by);
                    plan.counts.added += 1;
                    plan.writes.insert(id, feature);
                    continue;
                }
                Some(Known::Seen(_)) => plan.counts.updated += 1,
                None => plan.counts.added += 1,
            }
            plan.event_times.extend(item.event_time);
            plan.remember.push((id.clone(), Known::Seen(fingerprint)));
            plan.writes.insert(id, item.feature);
        }
        for Supersession { id, how, by, at } in supersessions {
            let current = plan.writes.get(&id).or_else(|| stored.get(&id)).cloned();
            plan.remember.push((
                id.clone(),
                Known::Withdrawn {
                    how,
                    by: by.clone(),
                },
            ));
            plan.open.closed.insert(id.clone());
            // Nothing stored yet: the mark alone withdraws it when it arrives.
            let Some(mut feature) = current else {
                continue;
            };
            if withdrawn(&feature) {
                continue;
            }
            mark(&mut feature, how, &by);
            // A withdrawn warning stops being in force when it was withdrawn, not when it would have
            // expired.
            if let (Some(span), Some(at)) = (feature.time, at)
                && at >= span.start
                && at < span.end
            {
                feature.time = Some(TimeSpan {
                    start: span.start,
                    end: at,
                });
                feature
                    .properties
                    .insert("expires".into(), json!(format_rfc3339(at)));
            }
            plan.counts.withdrawn += 1;
            plan.writes.insert(id, feature);
        }
        plan.open.opened = opened(&plan.writes, open_until, &plan.open.closed);
        plan
    }
}

/// The written warnings in force to track until their end, as long as fewer than [`MAX_OPEN`] are
/// tracked: a warning already tracked keeps its place but is not moved once the bound is reached.
fn opened(
    writes: &BTreeMap<String, Feature>,
    open_until: &BTreeMap<String, DateTime<Utc>>,
    closed: &BTreeSet<String>,
) -> BTreeMap<String, DateTime<Utc>> {
    let tracked = |id: &String| open_until.contains_key(id) && !closed.contains(id);
    let mut len = open_until.len()
        - closed
            .iter()
            .filter(|id| open_until.contains_key(*id))
            .count();
    let mut opened = BTreeMap::new();
    for (id, feature) in writes {
        if state(feature) == Some("actual")
            && let Some(span) = feature.time
            && len < MAX_OPEN
        {
            if !tracked(id) {
                len += 1;
            }
            opened.insert(id.clone(), span.end);
        }
    }
    opened
}

fn state(feature: &Feature) -> Option<&str> {
    feature.properties.get(CAP_STATE).and_then(Value::as_str)
}

fn withdrawn(feature: &Feature) -> bool {
    matches!(state(feature), Some("updated" | "cancelled"))
}

fn mark(feature: &mut Feature, how: Superseded, by: &str) {
    feature
        .properties
        .insert(CAP_STATE.into(), json!(how.as_str()));
    feature.properties.insert("superseded_by".into(), json!(by));
}

/// The warnings tracked in force whose time has passed by `now`.
pub fn due(open_until: &BTreeMap<String, DateTime<Utc>>, now: DateTime<Utc>) -> Vec<String> {
    open_until
        .iter()
        .filter(|(_, until)| **until <= now)
        .map(|(id, _)| id.clone())
        .collect()
}

/// A due warning's stored feature marked expired (kept, for history); `None` when it is no longer in
/// force (withdrawn or expired meanwhile), so it is not written.
pub fn expired(mut feature: Feature) -> Option<Feature> {
    if state(&feature) != Some("actual") {
        return None;
    }
    feature
        .properties
        .insert(CAP_STATE.into(), json!("expired"));
    Some(feature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use geoconsole_model::FeatureId;
    use geoconsole_model::geo_types::{Geometry, Point};

    fn t(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, hour, 0, 0).unwrap()
    }

    fn warning(id: &str, from: u32, to: u32, headline: &str) -> Feature {
        let mut properties = serde_json::Map::new();
        properties.insert(CAP_STATE.into(), json!("actual"));
        properties.insert("headline".into(), json!(headline));
        Feature {
            id: Some(FeatureId(id.to_string())),
            geometry: Some(Geometry::Point(Point::new(10.0, 50.0))),
            time: Some(TimeSpan {
                start: t(from),
                end: t(to),
            }),
            properties,
        }
    }

    fn item(id: &str, headline: &str) -> FeedItem {
        FeedItem {
            feature: warning(id, 1, 9, headline),
            event_time: Some(t(1)),
            action: Action::Publish,
            supersedes: Vec::new(),
        }
    }

    fn update(id: &str, sent: u32, supersedes: &[&str]) -> FeedItem {
        FeedItem {
            feature: warning(id, sent, 12, "updated"),
            event_time: Some(t(sent)),
            action: Action::Update,
            supersedes: supersedes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn cancel(by: &str, at: u32, ids: &[&str]) -> Withdrawal {
        Withdrawal {
            by: by.into(),
            at: Some(t(at)),
            ids: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn seen(item: &FeedItem) -> Known {
        Known::Seen(Fingerprint::of(item))
    }

    fn cancelled(by: &str) -> Known {
        Known::Withdrawn {
            how: Superseded::Cancelled,
            by: by.into(),
        }
    }

    fn known(entries: &[(&str, Known)]) -> HashMap<String, Known> {
        entries
            .iter()
            .map(|(id, k)| (id.to_string(), k.clone()))
            .collect()
    }

    fn stored(features: Vec<Feature>) -> HashMap<String, Feature> {
        features
            .into_iter()
            .map(|f| (f.id.as_ref().unwrap().0.clone(), f))
            .collect()
    }

    /// Plans as a poll does: only the stored features the body says it needs are handed over.
    fn plan(
        items: Vec<FeedItem>,
        withdrawals: Vec<Withdrawal>,
        known: &HashMap<String, Known>,
        all_stored: &HashMap<String, Feature>,
        prune_due: bool,
    ) -> Plan {
        let body = Body::new(items, withdrawals);
        let stored = body
            .needs_stored(known)
            .into_iter()
            .filter_map(|id| all_stored.get(&id).map(|f| (id, f.clone())))
            .collect();
        body.plan(known, &stored, &BTreeMap::new(), prune_due)
    }

    fn counts(added: u64, updated: u64, unchanged: u64, withdrawn: u64) -> Counts {
        Counts {
            added,
            updated,
            unchanged,
            withdrawn,
        }
    }

    fn prop<'a>(plan: &'a Plan, id: &str, key: &str) -> Option<&'a str> {
        plan.writes[id].properties.get(key).and_then(Value::as_str)
    }

    #[test]
    fn the_stored_form_is_read_and_written_unchanged() {
        for stored in [
            "0123456789abcdef01234567",
            "superseded:updated:urn:oid:2.49.0.1.840",
            "superseded:cancelled:X",
            "superseded:cancelled:",
        ] {
            assert_eq!(Known::parse(stored).to_string(), stored);
        }
        assert_eq!(
            Known::parse("superseded:updated:a:b"),
            Known::Withdrawn {
                how: Superseded::Updated,
                by: "a:b".into()
            }
        );
        assert_eq!(Known::parse("abc"), Known::Seen(Fingerprint("abc".into())));
        // A mark this version never writes still withdraws.
        assert!(matches!(
            Known::parse("superseded:retracted"),
            Known::Withdrawn {
                how: Superseded::Cancelled,
                ..
            }
        ));
    }

    #[test]
    fn a_new_item_is_added_and_remembered() {
        let a = item("a", "storm");
        let p = plan(vec![a.clone()], vec![], &known(&[]), &stored(vec![]), false);
        assert_eq!(p.counts, counts(1, 0, 0, 0));
        assert_eq!(p.writes["a"], a.feature);
        assert_eq!(p.remember, vec![("a".into(), seen(&a))]);
        assert_eq!(p.event_times, vec![t(1)]);
        assert_eq!(p.open.opened, BTreeMap::from([("a".into(), t(9))]));
    }

    #[test]
    fn a_replay_is_unchanged_and_remembered_only_when_pruning() {
        let a = item("a", "storm");
        let memory = known(&[("a", seen(&a))]);
        let p = plan(vec![a.clone()], vec![], &memory, &stored(vec![]), false);
        assert_eq!(p.counts, counts(0, 0, 1, 0));
        assert!(p.writes.is_empty() && p.remember.is_empty() && p.event_times.is_empty());

        let p = plan(vec![a.clone()], vec![], &memory, &stored(vec![]), true);
        assert_eq!(p.counts, counts(0, 0, 1, 0));
        assert!(p.writes.is_empty());
        assert_eq!(p.remember, vec![("a".into(), seen(&a))]);
    }

    #[test]
    fn a_changed_item_is_updated() {
        let before = item("a", "storm");
        let after = item("a", "worse storm");
        let p = plan(
            vec![after.clone()],
            vec![],
            &known(&[("a", seen(&before))]),
            &stored(vec![before.feature]),
            false,
        );
        assert_eq!(p.counts, counts(0, 1, 0, 0));
        assert_eq!(p.writes["a"], after.feature);
        assert_eq!(p.remember, vec![("a".into(), seen(&after))]);
    }

    #[test]
    fn a_later_copy_of_an_id_in_one_body_wins() {
        let p = plan(
            vec![item("a", "first"), item("a", "second")],
            vec![],
            &known(&[]),
            &stored(vec![]),
            false,
        );
        assert_eq!(p.counts, counts(1, 0, 0, 0));
        assert_eq!(prop(&p, "a", "headline"), Some("second"));
    }

    #[test]
    fn an_item_arriving_after_its_cancel_is_stored_withdrawn_once() {
        let a = item("a", "storm");
        let memory = known(&[("a", cancelled("c1"))]);
        let body = Body::new(vec![a.clone()], vec![]);
        assert_eq!(body.needs_stored(&memory), BTreeSet::from(["a".into()]));

        let p = plan(vec![a.clone()], vec![], &memory, &stored(vec![]), false);
        assert_eq!(p.counts, counts(1, 0, 0, 0));
        assert_eq!(prop(&p, "a", CAP_STATE), Some("cancelled"));
        assert_eq!(prop(&p, "a", "superseded_by"), Some("c1"));
        // The mark stays what is remembered; the item's arrival says nothing of lag and is not in force.
        assert!(p.remember.is_empty() && p.event_times.is_empty());
        assert!(p.open.opened.is_empty());

        // Stored already (withdrawn): not written again.
        let p = plan(
            vec![a],
            vec![],
            &memory,
            &stored(vec![p.writes["a"].clone()]),
            true,
        );
        assert_eq!(p.counts, counts(0, 0, 1, 0));
        assert!(p.writes.is_empty() && p.remember.is_empty());
    }

    #[test]
    fn an_update_supersedes_an_item_in_the_same_body() {
        let a = item("a", "storm");
        let b = update("b", 3, &["a"]);
        let p = plan(
            vec![a.clone(), b.clone()],
            vec![],
            &known(&[]),
            &stored(vec![]),
            false,
        );
        assert_eq!(p.counts, counts(2, 0, 0, 1));
        assert_eq!(prop(&p, "a", CAP_STATE), Some("updated"));
        assert_eq!(prop(&p, "a", "superseded_by"), Some("b"));
        // Cut at the update's time.
        assert_eq!(p.writes["a"].time.unwrap().end, t(3));
        assert_eq!(prop(&p, "b", CAP_STATE), Some("actual"));
        // The mark comes after the item's fingerprint, so it is what the store keeps.
        let marks = Known::Withdrawn {
            how: Superseded::Updated,
            by: "b".into(),
        };
        assert_eq!(
            p.remember,
            vec![
                ("a".into(), seen(&a)),
                ("b".into(), seen(&b)),
                ("a".into(), marks)
            ]
        );
        assert_eq!(p.open.opened, BTreeMap::from([("b".into(), t(12))]));
        assert_eq!(p.open.closed, BTreeSet::from(["a".into()]));
    }

    #[test]
    fn an_update_supersedes_a_stored_item() {
        let a = item("a", "storm");
        let b = update("b", 4, &["a"]);
        let memory = known(&[("a", seen(&a))]);
        let body = Body::new(vec![b.clone()], vec![]);
        assert_eq!(body.needs_stored(&memory), BTreeSet::from(["a".into()]));
        let p = plan(vec![b], vec![], &memory, &stored(vec![a.feature]), false);
        assert_eq!(p.counts, counts(1, 0, 0, 1));
        assert_eq!(prop(&p, "a", CAP_STATE), Some("updated"));
        assert_eq!(p.writes["a"].time.unwrap().end, t(4));
        assert_eq!(prop(&p, "a", "headline"), Some("storm"));
    }

    #[test]
    fn an_unchanged_item_superseded_in_its_body_is_read_from_the_store() {
        let a = item("a", "storm");
        let b = update("b", 4, &["a"]);
        let memory = known(&[("a", seen(&a))]);
        let body = Body::new(vec![a.clone(), b.clone()], vec![]);
        assert_eq!(body.needs_stored(&memory), BTreeSet::from(["a".into()]));
        let p = plan(
            vec![a.clone(), b],
            vec![],
            &memory,
            &stored(vec![a.feature]),
            false,
        );
        assert_eq!(p.counts, counts(1, 0, 1, 1));
        assert_eq!(prop(&p, "a", CAP_STATE), Some("updated"));
    }

    #[test]
    fn a_cancel_cuts_a_stored_warning_at_the_cancel() {
        let a = item("a", "storm");
        let p = plan(
            vec![],
            vec![cancel("c1", 5, &["a"])],
            &known(&[("a", seen(&a))]),
            &stored(vec![a.feature.clone()]),
            false,
        );
        assert_eq!(p.counts, counts(0, 0, 0, 1));
        let written = &p.writes["a"];
        assert_eq!(
            written.time,
            Some(TimeSpan {
                start: t(1),
                end: t(5)
            })
        );
        assert_eq!(
            prop(&p, "a", "expires"),
            Some(format_rfc3339(t(5)).as_str())
        );
        assert_eq!(prop(&p, "a", CAP_STATE), Some("cancelled"));
        assert_eq!(prop(&p, "a", "superseded_by"), Some("c1"));
        assert_eq!(p.remember, vec![("a".into(), cancelled("c1"))]);
        assert!(p.event_times.is_empty());
    }

    #[test]
    fn a_cancel_outside_the_warnings_time_leaves_its_span() {
        let a = item("a", "storm");
        let p = plan(
            vec![],
            vec![cancel("c1", 10, &["a"])],
            &known(&[]),
            &stored(vec![a.feature.clone()]),
            false,
        );
        assert_eq!(p.writes["a"].time, a.feature.time);
        assert_eq!(prop(&p, "a", "expires"), None);
    }

    #[test]
    fn a_cancel_of_nothing_stored_leaves_only_its_mark() {
        let p = plan(
            vec![],
            vec![cancel("c1", 5, &["a"])],
            &known(&[]),
            &stored(vec![]),
            false,
        );
        assert_eq!(p.counts, counts(0, 0, 0, 0));
        assert!(p.writes.is_empty());
        assert_eq!(p.remember, vec![("a".into(), cancelled("c1"))]);
    }

    #[test]
    fn a_withdrawn_warning_is_not_withdrawn_twice() {
        let mut a = item("a", "storm").feature;
        mark(&mut a, Superseded::Cancelled, "c1");
        let p = plan(
            vec![],
            vec![cancel("c2", 5, &["a"])],
            &known(&[("a", cancelled("c1"))]),
            &stored(vec![a]),
            false,
        );
        assert_eq!(p.counts, counts(0, 0, 0, 0));
        assert!(p.writes.is_empty());
        // The mark is rewritten all the same, as before the planner.
        assert_eq!(p.remember, vec![("a".into(), cancelled("c2"))]);

        // Twice in one body: the first withdrawal wins.
        let a = item("a", "storm");
        let p = plan(
            vec![],
            vec![cancel("c1", 5, &["a"]), cancel("c2", 6, &["a"])],
            &known(&[]),
            &stored(vec![a.feature]),
            false,
        );
        assert_eq!(p.counts, counts(0, 0, 0, 1));
        assert_eq!(prop(&p, "a", "superseded_by"), Some("c1"));
        assert_eq!(p.remember.last().unwrap().1, cancelled("c2"));
    }

    #[test]
    fn open_warnings_are_tracked_and_withdrawn_ones_closed() {
        let open = BTreeMap::from([("a".to_string(), t(9)), ("z".to_string(), t(20))]);
        let body = Body::new(
            vec![item("n", "new"), update("b", 3, &["a"])],
            vec![cancel("c", 4, &["z"])],
        );
        let a = item("a", "storm");
        let p = body.plan(&known(&[]), &stored(vec![a.feature]), &open, false);
        assert_eq!(
            p.open.closed,
            BTreeSet::from(["a".to_string(), "z".to_string()])
        );
        assert_eq!(
            p.open.opened,
            BTreeMap::from([("b".to_string(), t(12)), ("n".to_string(), t(9))])
        );
        let mut after = open.clone();
        p.open.apply(&mut after);
        assert_eq!(
            after,
            BTreeMap::from([("b".to_string(), t(12)), ("n".to_string(), t(9))])
        );

        // Items not in force are not tracked.
        let mut expired = item("x", "old");
        expired
            .feature
            .properties
            .insert(CAP_STATE.into(), json!("expired"));
        let mut timeless = item("y", "no time");
        timeless.feature.time = None;
        let p = plan(
            vec![expired, timeless],
            vec![],
            &known(&[]),
            &stored(vec![]),
            false,
        );
        assert!(p.open.opened.is_empty());
    }

    #[test]
    fn open_warnings_are_bounded() {
        let full: BTreeMap<String, DateTime<Utc>> =
            (0..MAX_OPEN).map(|n| (format!("o{n:05}"), t(9))).collect();
        // Full: nothing new is tracked, and a tracked warning is not moved.
        let p = Body::new(vec![item("new", "x"), item("o00001", "y")], vec![]).plan(
            &known(&[]),
            &HashMap::new(),
            &full,
            false,
        );
        assert!(p.open.opened.is_empty());

        // One withdrawn makes room for one: the first written in id order.
        let p = Body::new(
            vec![item("n1", "x"), item("n2", "y")],
            vec![cancel("c", 2, &["o00000"])],
        )
        .plan(&known(&[]), &HashMap::new(), &full, false);
        assert_eq!(p.open.opened.keys().collect::<Vec<_>>(), ["n1"]);

        // Below the bound, a tracked warning rewritten takes no new place.
        let mut almost = full.clone();
        almost.remove("o00000");
        let p = Body::new(vec![item("o00001", "y"), item("p", "z")], vec![]).plan(
            &known(&[]),
            &HashMap::new(),
            &almost,
            false,
        );
        assert_eq!(p.open.opened.keys().collect::<Vec<_>>(), ["o00001", "p"]);
        let mut after = almost;
        p.open.apply(&mut after);
        assert_eq!(after.len(), MAX_OPEN);
    }

    #[test]
    fn due_warnings_expire_unless_withdrawn() {
        let open = BTreeMap::from([("a".to_string(), t(5)), ("b".to_string(), t(9))]);
        assert_eq!(due(&open, t(5)), vec!["a".to_string()]);
        assert!(due(&open, t(4)).is_empty());

        let a = item("a", "storm").feature;
        let marked = expired(a).unwrap();
        assert_eq!(
            marked.properties.get(CAP_STATE).and_then(Value::as_str),
            Some("expired")
        );
        let mut gone = item("b", "storm").feature;
        mark(&mut gone, Superseded::Updated, "c");
        assert_eq!(expired(gone), None);
    }

    #[test]
    fn pruning_is_due_once_a_day() {
        assert!(prune_due(None, t(0)));
        let day = chrono::Duration::days(1);
        assert!(!prune_due(Some(t(0)), t(0) + day));
        assert!(prune_due(
            Some(t(0)),
            t(0) + day + chrono::Duration::seconds(1)
        ));
    }

    #[test]
    fn the_memory_asked_for_covers_every_named_id() {
        let body = Body::new(
            vec![item("a", "x"), update("b", 2, &["old"])],
            vec![cancel("c", 3, &["gone"])],
        );
        assert_eq!(body.asked(), vec!["a", "b", "old", "gone"]);
    }
}
