//! The behaviour every [`FeatureStore`] must show, written once. A backend runs it with one line in its tests:
//!
//! ```ignore
//! geoconsole_store::feature_store_conformance!(async { my_backend::open_fresh_store().await });
//! ```
//!
//! Each check gets a fresh, empty store from the factory expression and panics with a message on failure.

use chrono::{TimeZone, Utc};
use geoconsole_model::geo_types::{Geometry, LineString, MultiPolygon, Point, Polygon, coord};
use geoconsole_model::{
    Bbox, DatasetId, DatasetKind, Feature, FeatureId, FieldType, GeometryType, Properties,
    TimeFields, TimeSpan,
};
use geoconsole_query::{DateTimeFilter, FeatureQuery};
use serde_json::json;

use crate::{FeatureStore, Fields, IndexRow, StoreErrorKind, WriteMode, WriteRequest};

/// Expands every conformance check into a `#[tokio::test]` for one backend. `$factory` is an expression
/// evaluating to a future of `Arc<dyn FeatureStore>` (or any type that derefs to `dyn FeatureStore`).
#[macro_export]
macro_rules! feature_store_conformance {
    ($factory:expr) => {
        $crate::feature_store_conformance!(@tests $factory;
            created_dataset_reads_back_whole,
            uncommitted_writes_are_invisible_and_abort_leaves_nothing,
            dropped_writer_rolls_back,
            create_refuses_an_existing_dataset,
            append_adds_and_bumps_the_version,
            replace_swaps_all_features,
            upsert_updates_by_id_and_inserts_new,
            duplicate_ids_conflict_with_their_position,
            skip_conflicts_reports_each_refused_feature,
            bbox_queries_handle_the_antimeridian,
            datetime_queries_match_instants_and_intervals,
            cursor_pages_cover_everything_once,
            features_are_found_by_id,
            drop_removes_the_dataset,
            every_geometry_type_round_trips,
            property_types_round_trip,
            explicit_nulls_never_retype_fields,
            mixed_fields_read_each_value_as_its_own_text,
            fields_first_seen_null_keep_the_type_of_their_values,
            hostile_ids_and_names_are_plain_data,
            index_scan_matches_the_version_and_keys_fetch_features,
            replace_never_reuses_row_keys,
            unlocated_features_are_kept_but_never_placed,
            properties_by_key_agree_with_whole_features,
        );
    };
    (@tests $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = $factory.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}

/// Expands every alerting check into a `#[tokio::test]` for one backend. `$factory` is an expression
/// evaluating to a future of a value with an `alert_store()` method returning `Arc<dyn AlertStore>`.
#[macro_export]
macro_rules! alert_store_conformance {
    ($factory:expr) => {
        $crate::alert_store_conformance!(@tests $factory;
            raising_is_idempotent_by_key_and_queues_one_delivery_per_target,
            the_lifecycle_moves_forward_only_and_records_who,
            deliveries_retry_die_and_come_back,
            rules_and_their_marks_round_trip,
        );
    };
    (@tests $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let holder = $factory.await;
                let store = holder.alert_store();
                $crate::conformance::alerts::$name(&*store).await;
            }
        )*
    };
}

pub mod access;
pub mod alerts;
pub mod feeds;

/// Expands every feed check into a `#[tokio::test]` for one backend. `$factory` is an expression evaluating
/// to a future of a value with a `feed_store()` method returning `Arc<dyn FeedStore>`.
#[macro_export]
macro_rules! feed_store_conformance {
    ($factory:expr) => {
        $crate::feed_store_conformance!(@tests $factory;
            definitions_and_state_round_trip_apart,
            fingerprints_are_remembered_per_feed_and_forgotten_with_it,
        );
    };
    (@tests $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let holder = $factory.await;
                let store = holder.feed_store();
                $crate::conformance::feeds::$name(&*store).await;
            }
        )*
    };
}

/// Expands every access check into a `#[tokio::test]` for one backend. `$factory` is an expression
/// evaluating to a future of a value with an `access_store()` method returning `Arc<dyn AccessStore>`.
#[macro_export]
macro_rules! access_store_conformance {
    ($factory:expr) => {
        $crate::access_store_conformance!(@tests $factory;
            accounts_and_tokens_round_trip,
            sessions_end_one_by_one_per_account_and_by_age,
            audit_is_ordered_filtered_and_paged,
        );
    };
    (@tests $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let holder = $factory.await;
                let store = holder.access_store();
                $crate::conformance::access::$name(&*store).await;
            }
        )*
    };
}

fn id(name: &str) -> DatasetId {
    DatasetId::new(name).expect("test ids are valid")
}

fn request(name: &str, mode: WriteMode) -> WriteRequest {
    WriteRequest {
        id: id(name),
        title: format!("{name} title"),
        kind: DatasetKind::Events,
        source: "conformance".into(),
        time_fields: TimeFields {
            start: Some("when".into()),
            end: None,
        },
        id_field: None,
        mode,
        skip_conflicts: false,
    }
}

fn props(value: serde_json::Value) -> Properties {
    match value {
        serde_json::Value::Object(map) => map,
        _ => Properties::new(),
    }
}

fn at(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, 12, 0, 0)
        .single()
        .expect("valid date")
}

fn point(fid: &str, x: f64, y: f64, day: u32) -> Feature {
    Feature {
        id: Some(FeatureId(fid.into())),
        geometry: Some(Geometry::Point(Point::new(x, y))),
        time: Some(TimeSpan::instant(at(day))),
        properties: props(json!({"name": fid, "mag": f64::from(day) / 2.0})),
    }
}

/// A point at (1, 1) on day `day` with exactly these properties.
fn feature(fid: &str, day: u32, properties: serde_json::Value) -> Feature {
    Feature {
        properties: props(properties),
        ..point(fid, 1.0, 1.0, day)
    }
}

async fn write_all(
    store: &dyn FeatureStore,
    request: WriteRequest,
    features: Vec<Feature>,
) -> geoconsole_model::Dataset {
    let mut writer = store.begin_write(request).await.expect("begin write");
    writer.write(features).await.expect("write");
    writer.commit().await.expect("commit")
}

async fn all_ids(store: &dyn FeatureStore, name: &str, query: FeatureQuery) -> Vec<String> {
    let mut ids: Vec<String> = store
        .query(&id(name), &query)
        .await
        .expect("query")
        .features
        .into_iter()
        .map(|f| f.id.expect("stored features have ids").0)
        .collect();
    ids.sort();
    ids
}

pub async fn created_dataset_reads_back_whole(store: &dyn FeatureStore) {
    let features = vec![
        point("a", 10.0, 50.0, 1),
        point("b", 12.0, 52.0, 2),
        point("c", 11.0, 48.0, 3),
    ];
    let dataset = write_all(
        store,
        request("quakes", WriteMode::Create),
        features.clone(),
    )
    .await;
    assert_eq!(dataset.feature_count, 3);
    assert_eq!(dataset.geometry_type, GeometryType::Point);
    assert_eq!(
        dataset.extent,
        Some(Bbox {
            west: 10.0,
            south: 48.0,
            east: 12.0,
            north: 52.0
        })
    );
    assert_eq!(
        dataset.time_extent,
        Some(TimeSpan {
            start: at(1),
            end: at(3)
        })
    );
    assert_eq!(
        dataset.schema.field("mag").map(|f| f.field_type),
        Some(FieldType::Real)
    );
    assert_eq!(dataset.version, 1);
    assert_eq!(dataset.title, "quakes title");
    let listed = store.list_datasets().await.expect("list");
    assert_eq!(
        listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        vec!["quakes"]
    );
    let mut read = store
        .query(&id("quakes"), &FeatureQuery::all())
        .await
        .expect("query")
        .features;
    read.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(read, features);
}

pub async fn uncommitted_writes_are_invisible_and_abort_leaves_nothing(store: &dyn FeatureStore) {
    let mut writer = store
        .begin_write(request("pending", WriteMode::Create))
        .await
        .expect("begin");
    writer
        .write(vec![point("a", 1.0, 1.0, 1)])
        .await
        .expect("write");
    assert!(
        !store
            .contains_dataset(&id("pending"))
            .await
            .expect("contains"),
        "uncommitted dataset is visible"
    );
    writer.abort().await.expect("abort");
    assert!(
        !store
            .contains_dataset(&id("pending"))
            .await
            .expect("contains")
    );
    assert!(store.list_datasets().await.expect("list").is_empty());
}

pub async fn dropped_writer_rolls_back(store: &dyn FeatureStore) {
    write_all(
        store,
        request("kept", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1)],
    )
    .await;
    {
        let mut writer = store
            .begin_write(request("kept", WriteMode::Replace))
            .await
            .expect("begin");
        writer
            .write(vec![point("z", 2.0, 2.0, 2)])
            .await
            .expect("write");
    }
    assert_eq!(all_ids(store, "kept", FeatureQuery::all()).await, vec!["a"]);
    assert_eq!(
        store.dataset(&id("kept")).await.expect("dataset").version,
        1
    );
}

pub async fn create_refuses_an_existing_dataset(store: &dyn FeatureStore) {
    write_all(
        store,
        request("taken", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1)],
    )
    .await;
    let error = match store.begin_write(request("taken", WriteMode::Create)).await {
        Ok(mut writer) => match writer.write(vec![point("b", 1.0, 1.0, 1)]).await {
            Ok(_) => writer.commit().await.expect_err("second create must fail"),
            Err(e) => e,
        },
        Err(e) => e,
    };
    assert_eq!(error.kind(), StoreErrorKind::Conflict, "{error}");
    assert_eq!(
        all_ids(store, "taken", FeatureQuery::all()).await,
        vec!["a"]
    );
}

pub async fn append_adds_and_bumps_the_version(store: &dyn FeatureStore) {
    write_all(
        store,
        request("log", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1)],
    )
    .await;
    let after = write_all(
        store,
        request("log", WriteMode::Append),
        vec![point("b", 40.0, -5.0, 9)],
    )
    .await;
    assert_eq!(after.feature_count, 2);
    assert_eq!(after.version, 2);
    assert_eq!(
        after.extent,
        Some(Bbox {
            west: 1.0,
            south: -5.0,
            east: 40.0,
            north: 1.0
        })
    );
    assert_eq!(
        after.time_extent,
        Some(TimeSpan {
            start: at(1),
            end: at(9)
        })
    );
    assert_eq!(
        all_ids(store, "log", FeatureQuery::all()).await,
        vec!["a", "b"]
    );
}

pub async fn replace_swaps_all_features(store: &dyn FeatureStore) {
    write_all(
        store,
        request("swap", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1), point("b", 2.0, 2.0, 2)],
    )
    .await;
    let after = write_all(
        store,
        request("swap", WriteMode::Replace),
        vec![point("c", 3.0, 3.0, 3)],
    )
    .await;
    assert_eq!(after.feature_count, 1);
    assert_eq!(
        after.extent,
        Some(Bbox {
            west: 3.0,
            south: 3.0,
            east: 3.0,
            north: 3.0
        })
    );
    assert_eq!(after.version, 2);
    assert_eq!(all_ids(store, "swap", FeatureQuery::all()).await, vec!["c"]);
}

pub async fn upsert_updates_by_id_and_inserts_new(store: &dyn FeatureStore) {
    write_all(
        store,
        request("live", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1), point("b", 2.0, 2.0, 2)],
    )
    .await;
    let mut moved = point("a", 5.0, 5.0, 4);
    moved.properties.insert("status".into(), json!("updated"));
    let after = write_all(
        store,
        request("live", WriteMode::Upsert),
        vec![moved.clone(), point("c", 3.0, 3.0, 3)],
    )
    .await;
    assert_eq!(after.feature_count, 3);
    assert_eq!(
        all_ids(store, "live", FeatureQuery::all()).await,
        vec!["a", "b", "c"]
    );
    let read = store
        .feature(&id("live"), &FeatureId("a".into()))
        .await
        .expect("feature");
    assert_eq!(read.geometry, moved.geometry);
    assert_eq!(read.properties.get("status"), Some(&json!("updated")));
    assert!(after.schema.field("status").is_some());
}

pub async fn duplicate_ids_conflict_with_their_position(store: &dyn FeatureStore) {
    let mut writer = store
        .begin_write(request("dupes", WriteMode::Create))
        .await
        .expect("begin");
    let error = writer
        .write(vec![
            point("a", 1.0, 1.0, 1),
            point("b", 1.0, 1.0, 1),
            point("a", 2.0, 2.0, 2),
        ])
        .await
        .expect_err("duplicate id must fail the write");
    assert_eq!(error.kind(), StoreErrorKind::Conflict);
    assert_eq!(error.position(), Some(2));
    assert!(error.message().contains("'a'"), "{error}");
    drop(writer);
    assert!(
        !store
            .contains_dataset(&id("dupes"))
            .await
            .expect("contains")
    );
}

pub async fn skip_conflicts_reports_each_refused_feature(store: &dyn FeatureStore) {
    let mut req = request("lenient", WriteMode::Create);
    req.skip_conflicts = true;
    let mut writer = store.begin_write(req).await.expect("begin");
    let conflicts = writer
        .write(vec![
            point("a", 1.0, 1.0, 1),
            point("a", 2.0, 2.0, 2),
            point("b", 3.0, 3.0, 3),
        ])
        .await
        .expect("write");
    assert_eq!(
        conflicts.iter().map(|c| c.position).collect::<Vec<_>>(),
        vec![1]
    );
    let dataset = writer.commit().await.expect("commit");
    assert_eq!(dataset.feature_count, 2);
    assert_eq!(
        dataset.extent,
        Some(Bbox {
            west: 1.0,
            south: 1.0,
            east: 3.0,
            north: 3.0
        })
    );
}

pub async fn bbox_queries_handle_the_antimeridian(store: &dyn FeatureStore) {
    let features = vec![
        point("fiji_east", 179.5, -17.0, 1),
        point("fiji_west", -179.5, -17.0, 1),
        point("london", 0.0, 51.5, 1),
    ];
    write_all(store, request("pacific", WriteMode::Create), features).await;
    let crossing = FeatureQuery {
        bbox: Some(Bbox::parse("170,-20,-170,-10").expect("bbox")),
        ..FeatureQuery::all()
    };
    assert_eq!(
        all_ids(store, "pacific", crossing).await,
        vec!["fiji_east", "fiji_west"]
    );
    let europe = FeatureQuery {
        bbox: Some(Bbox::parse("-10,40,10,60").expect("bbox")),
        ..FeatureQuery::all()
    };
    assert_eq!(all_ids(store, "pacific", europe).await, vec!["london"]);
    let polygon = Feature {
        id: Some(FeatureId("zone".into())),
        geometry: Some(Geometry::Polygon(Polygon::new(
            LineString::from(vec![
                (20.0, 20.0),
                (30.0, 20.0),
                (30.0, 30.0),
                (20.0, 30.0),
                (20.0, 20.0),
            ]),
            vec![],
        ))),
        time: None,
        properties: Properties::new(),
    };
    write_all(store, request("zones", WriteMode::Create), vec![polygon]).await;
    let inside = FeatureQuery {
        bbox: Some(Bbox::parse("25,25,26,26").expect("bbox")),
        ..FeatureQuery::all()
    };
    assert_eq!(
        all_ids(store, "zones", inside).await,
        vec!["zone"],
        "a bbox inside a polygon's extent must find it"
    );
}

pub async fn datetime_queries_match_instants_and_intervals(store: &dyn FeatureStore) {
    let mut storm = point("storm", 1.0, 1.0, 1);
    storm.time = Some(TimeSpan::interval(at(3), at(6)).expect("interval"));
    let mut timeless = point("timeless", 1.0, 1.0, 1);
    timeless.time = None;
    let features = vec![
        point("d1", 1.0, 1.0, 1),
        point("d5", 1.0, 1.0, 5),
        point("d9", 1.0, 1.0, 9),
        storm,
        timeless,
    ];
    write_all(store, request("timed", WriteMode::Create), features).await;
    let during = |text: &str| FeatureQuery {
        datetime: Some(DateTimeFilter::parse(text).expect("datetime")),
        ..FeatureQuery::all()
    };
    assert_eq!(
        all_ids(
            store,
            "timed",
            during("2024-05-04T00:00:00Z/2024-05-05T23:00:00Z")
        )
        .await,
        vec!["d5", "storm"]
    );
    assert_eq!(
        all_ids(store, "timed", during("../2024-05-02T00:00:00Z")).await,
        vec!["d1"]
    );
    assert_eq!(
        all_ids(store, "timed", during("2024-05-07T00:00:00Z/..")).await,
        vec!["d9"]
    );
    assert_eq!(
        all_ids(store, "timed", during("2024-05-04T12:00:00Z")).await,
        vec!["storm"]
    );
}

pub async fn cursor_pages_cover_everything_once(store: &dyn FeatureStore) {
    let features: Vec<Feature> = (0..25)
        .map(|i| point(&format!("f{i:02}"), f64::from(i), 0.0, 1))
        .collect();
    write_all(store, request("paged", WriteMode::Create), features).await;
    let mut seen = Vec::new();
    let mut query = FeatureQuery {
        limit: Some(10),
        ..FeatureQuery::default()
    };
    let mut pages = 0;
    loop {
        let page = store.query(&id("paged"), &query).await.expect("page");
        pages += 1;
        assert!(page.features.len() <= 10);
        seen.extend(page.features.into_iter().map(|f| f.id.expect("id").0));
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "pages repeat or miss features: {seen:?}");
    let bad = FeatureQuery {
        cursor: Some(geoconsole_query::Cursor("not-a-cursor".into())),
        ..FeatureQuery::default()
    };
    let error = store
        .query(&id("paged"), &bad)
        .await
        .expect_err("bad cursor");
    assert_eq!(error.kind(), StoreErrorKind::Invalid);
}

pub async fn features_are_found_by_id(store: &dyn FeatureStore) {
    let mut anonymous = point("x", 3.0, 3.0, 3);
    anonymous.id = None;
    write_all(
        store,
        request("lookup", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1), anonymous],
    )
    .await;
    let found = store
        .feature(&id("lookup"), &FeatureId("a".into()))
        .await
        .expect("feature a");
    assert_eq!(found.geometry, Some(Geometry::Point(Point::new(1.0, 1.0))));
    let all = store
        .query(&id("lookup"), &FeatureQuery::all())
        .await
        .expect("query")
        .features;
    let given = all
        .iter()
        .find(|f| f.id.as_ref().is_some_and(|i| i.0 != "a"))
        .expect("the store gave an id");
    let again = store
        .feature(&id("lookup"), given.id.as_ref().expect("id"))
        .await
        .expect("by given id");
    assert_eq!(again.geometry, Some(Geometry::Point(Point::new(3.0, 3.0))));
    let missing = store
        .feature(&id("lookup"), &FeatureId("nope".into()))
        .await
        .expect_err("missing");
    assert_eq!(missing.kind(), StoreErrorKind::NotFound);
    let no_dataset = store
        .feature(&id("nothing"), &FeatureId("a".into()))
        .await
        .expect_err("missing dataset");
    assert_eq!(no_dataset.kind(), StoreErrorKind::NotFound);
}

pub async fn drop_removes_the_dataset(store: &dyn FeatureStore) {
    write_all(
        store,
        request("gone", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1)],
    )
    .await;
    store.drop_dataset(&id("gone")).await.expect("drop");
    assert!(!store.contains_dataset(&id("gone")).await.expect("contains"));
    assert_eq!(
        store
            .drop_dataset(&id("gone"))
            .await
            .expect_err("second drop")
            .kind(),
        StoreErrorKind::NotFound
    );
    write_all(
        store,
        request("gone", WriteMode::Create),
        vec![point("b", 1.0, 1.0, 1)],
    )
    .await;
    assert_eq!(all_ids(store, "gone", FeatureQuery::all()).await, vec!["b"]);
}

pub async fn every_geometry_type_round_trips(store: &dyn FeatureStore) {
    let square = |x: f64| {
        Polygon::new(
            LineString::from(vec![
                (x, 0.0),
                (x + 1.0, 0.0),
                (x + 1.0, 1.0),
                (x, 1.0),
                (x, 0.0),
            ]),
            vec![LineString::from(vec![
                (x + 0.2, 0.2),
                (x + 0.4, 0.2),
                (x + 0.4, 0.4),
                (x + 0.2, 0.2),
            ])],
        )
    };
    let geometries: Vec<Geometry<f64>> = vec![
        Point::new(1.5, -2.25).into(),
        LineString::from(vec![coord! {x: 0.0, y: 0.0}, coord! {x: 1.0, y: 1.0}]).into(),
        square(0.0).into(),
        geoconsole_model::geo_types::MultiPoint::from(vec![(1.0, 2.0), (3.0, 4.0)]).into(),
        geoconsole_model::geo_types::MultiLineString::new(vec![LineString::from(vec![
            (0.0, 0.0),
            (1.0, 1.0),
        ])])
        .into(),
        MultiPolygon::new(vec![square(0.0), square(5.0)]).into(),
        Geometry::GeometryCollection(geoconsole_model::geo_types::GeometryCollection(vec![
            Point::new(1.0, 1.0).into(),
            square(2.0).into(),
        ])),
    ];
    let features: Vec<Feature> = geometries
        .iter()
        .enumerate()
        .map(|(i, g)| Feature {
            id: Some(FeatureId(format!("g{i}"))),
            geometry: Some(g.clone()),
            time: None,
            properties: Properties::new(),
        })
        .collect();
    let dataset = write_all(
        store,
        request("shapes", WriteMode::Create),
        features.clone(),
    )
    .await;
    assert_eq!(dataset.geometry_type, GeometryType::Geometry);
    for feature in features {
        let read = store
            .feature(&id("shapes"), feature.id.as_ref().expect("id"))
            .await
            .expect("feature");
        assert_eq!(read.geometry, feature.geometry);
    }
}

pub async fn property_types_round_trip(store: &dyn FeatureStore) {
    let mut typed = point("typed", 1.0, 1.0, 1);
    typed.properties = props(json!({
        "count": 42, "ratio": 0.25, "big": 9_007_199_254_740_993_i64, "label": "Dock 7", "ok": true,
        "when": "2024-05-01T12:00:00.000Z", "day": "2024-05-01", "tags": ["a", 1], "meta": {"k": "v"}, "none": null,
        "unicode": "Zürich 東京 \u{1F30B}"
    }));
    let mut second = point("second", 2.0, 2.0, 2);
    second.properties = props(json!({"count": 7, "ratio": 2, "label": null}));
    let dataset = write_all(
        store,
        request("typed", WriteMode::Create),
        vec![typed.clone(), second.clone()],
    )
    .await;
    let field = |name: &str| dataset.schema.field(name).map(|f| f.field_type);
    assert_eq!(field("count"), Some(FieldType::Integer));
    assert_eq!(field("ratio"), Some(FieldType::Real));
    assert_eq!(field("ok"), Some(FieldType::Boolean));
    assert_eq!(field("when"), Some(FieldType::DateTime));
    assert_eq!(field("day"), Some(FieldType::Date));
    assert_eq!(field("tags"), Some(FieldType::Json));
    assert_eq!(field("label"), Some(FieldType::Text));
    let read = store
        .feature(&id("typed"), &FeatureId("typed".into()))
        .await
        .expect("typed");
    for (key, value) in &typed.properties {
        assert_eq!(read.properties.get(key), Some(value), "property {key}");
    }
    let read_second = store
        .feature(&id("typed"), &FeatureId("second".into()))
        .await
        .expect("second");
    assert_eq!(
        read_second.properties.get("ratio"),
        Some(&json!(2.0)),
        "an integer in a real column reads as real"
    );
    assert_eq!(read_second.properties.get("count"), Some(&json!(7)));
}

/// Feeds such as USGS send `"felt": null` on most items: appending or upserting such a feature must leave
/// every field's type, and every earlier value's JSON type, as it was.
pub async fn explicit_nulls_never_retype_fields(store: &dyn FeatureStore) {
    let mut typed = point("typed", 1.0, 1.0, 1);
    typed.properties = props(json!({
        "count": 5, "ratio": 0.5, "ok": true, "day": "2024-05-01", "when": "2024-05-01T12:00:00.000Z",
        "tags": ["x", "y"], "label": "Dock"
    }));
    write_all(
        store,
        request("nulls", WriteMode::Create),
        vec![typed.clone()],
    )
    .await;
    let mut empty = point("empty", 2.0, 2.0, 2);
    empty.properties = props(json!({
        "count": null, "ratio": null, "ok": null, "day": null, "when": null, "tags": null, "label": null,
        "fresh": null
    }));
    for mode in [WriteMode::Append, WriteMode::Upsert] {
        let mut feature = empty.clone();
        if mode == WriteMode::Append {
            feature.id = Some(FeatureId("appended".into()));
        }
        let dataset = write_all(store, request("nulls", mode), vec![feature]).await;
        let field = |name: &str| dataset.schema.field(name).map(|f| f.field_type);
        assert_eq!(field("count"), Some(FieldType::Integer), "{mode:?}");
        assert_eq!(field("ratio"), Some(FieldType::Real), "{mode:?}");
        assert_eq!(field("ok"), Some(FieldType::Boolean), "{mode:?}");
        assert_eq!(field("day"), Some(FieldType::Date), "{mode:?}");
        assert_eq!(field("when"), Some(FieldType::DateTime), "{mode:?}");
        assert_eq!(field("tags"), Some(FieldType::Json), "{mode:?}");
        assert_eq!(field("label"), Some(FieldType::Text), "{mode:?}");
        assert!(
            field("fresh").is_some(),
            "{mode:?}: a new all-null field is still listed"
        );
        let read = store
            .feature(&id("nulls"), &FeatureId("typed".into()))
            .await
            .expect("typed");
        // Backends may list a field added later as null on older features, or leave it out.
        let mut read = read.properties;
        if read.get("fresh") == Some(&json!(null)) {
            read.remove("fresh");
        }
        assert_eq!(read, typed.properties, "{mode:?}");
    }
    // A later append with real values gives the all-null field its type.
    let mut valued = point("valued", 3.0, 3.0, 3);
    valued.properties = props(json!({"count": 7, "fresh": 12}));
    let dataset = write_all(store, request("nulls", WriteMode::Append), vec![valued]).await;
    assert_eq!(
        dataset.schema.field("count").map(|f| f.field_type),
        Some(FieldType::Integer)
    );
    let read = store
        .feature(&id("nulls"), &FeatureId("valued".into()))
        .await
        .expect("valued");
    assert_eq!(read.properties.get("fresh"), Some(&json!(12)));
}

/// A field that holds values of several types becomes text; each value reads as the text serde_json writes
/// for it (`true`, not `1`; `7` for 7 and for "7"; `1e+21`, not SQLite's `1.0e+21`), whether the mix came in
/// one import or later, and whatever type came first.
pub async fn mixed_fields_read_each_value_as_its_own_text(store: &dyn FeatureStore) {
    write_all(
        store,
        request("mixed", WriteMode::Create),
        vec![
            feature(
                "a",
                1,
                json!({"flag": true, "count": 5, "late": false, "ratio": 0.5, "zero": true, "big": 0.1, "day": "2024-05-01"}),
            ),
            feature(
                "b",
                2,
                json!({"flag": "maybe", "count": 6, "late": true, "ratio": 1.25, "zero": 0, "big": 1e21, "day": "soon"}),
            ),
        ],
    )
    .await;
    let dataset = write_all(
        store,
        request("mixed", WriteMode::Append),
        vec![feature(
            "c",
            3,
            json!({"flag": false, "count": "many", "late": 7, "ratio": "n/a", "zero": "7", "big": true, "day": 7}),
        )],
    )
    .await;
    for name in ["flag", "count", "late", "ratio", "zero", "big", "day"] {
        assert_eq!(
            dataset.schema.field(name).map(|f| f.field_type),
            Some(FieldType::Text),
            "{name}"
        );
    }
    let expected = [
        (
            "a",
            json!({"flag": "true", "count": "5", "late": "false", "ratio": "0.5", "zero": "true", "big": "0.1", "day": "2024-05-01"}),
        ),
        (
            "b",
            json!({"flag": "maybe", "count": "6", "late": "true", "ratio": "1.25", "zero": "0", "big": "1e+21", "day": "soon"}),
        ),
        (
            "c",
            json!({"flag": "false", "count": "many", "late": "7", "ratio": "n/a", "zero": "7", "big": "true", "day": "7"}),
        ),
    ];
    for (name, properties) in expected {
        let read = store
            .feature(&id("mixed"), &FeatureId(name.into()))
            .await
            .expect("feature");
        assert_eq!(read.properties, props(properties), "{name}");
    }
}

/// A field whose first values are null takes the type of its later values, in the same import or an
/// append, and its values read back as that type (booleans as booleans, not "true").
pub async fn fields_first_seen_null_keep_the_type_of_their_values(store: &dyn FeatureStore) {
    write_all(
        store,
        request("late", WriteMode::Create),
        vec![
            feature("a", 1, json!({"ok": null, "n": null, "later": null})),
            feature("b", 2, json!({"ok": true, "n": 7, "later": null})),
            feature("c", 3, json!({"ok": false, "n": 2.5, "later": null})),
        ],
    )
    .await;
    let dataset = write_all(
        store,
        request("late", WriteMode::Append),
        vec![feature("d", 4, json!({"ok": true, "n": 1, "later": false}))],
    )
    .await;
    let field = |name: &str| dataset.schema.field(name).map(|f| f.field_type);
    assert_eq!(field("ok"), Some(FieldType::Boolean));
    assert_eq!(field("n"), Some(FieldType::Real));
    assert_eq!(field("later"), Some(FieldType::Boolean));
    for (name, ok, n, later) in [
        ("b", json!(true), json!(7.0), json!(null)),
        ("c", json!(false), json!(2.5), json!(null)),
        ("d", json!(true), json!(1.0), json!(false)),
    ] {
        let read = store
            .feature(&id("late"), &FeatureId(name.into()))
            .await
            .expect("feature");
        assert_eq!(read.properties.get("ok"), Some(&ok), "{name}");
        assert_eq!(read.properties.get("n"), Some(&n), "{name}");
        assert_eq!(
            read.properties
                .get("later")
                .unwrap_or(&serde_json::Value::Null),
            &later,
            "{name}"
        );
    }
}

pub async fn hostile_ids_and_names_are_plain_data(store: &dyn FeatureStore) {
    let hostile = "1' OR '1'='1\"; DROP TABLE gpkg_contents; --";
    let mut feature = point(hostile, 1.0, 1.0, 1);
    feature.properties =
        props(json!({ hostile: "<img src=x onerror=alert(1)>", "Name": "upper", "name": "lower" }));
    write_all(
        store,
        request("hostile", WriteMode::Create),
        vec![feature.clone()],
    )
    .await;
    let read = store
        .feature(&id("hostile"), &FeatureId(hostile.into()))
        .await
        .expect("hostile id");
    assert_eq!(read.properties, feature.properties);
    assert_eq!(store.list_datasets().await.expect("list").len(), 1);
}

async fn scan(store: &dyn FeatureStore, name: &str) -> (geoconsole_model::Dataset, Vec<IndexRow>) {
    let rows = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink_rows = std::sync::Arc::clone(&rows);
    let dataset = store
        .scan_index(
            &id(name),
            Box::new(move |batch| {
                sink_rows.lock().expect("not poisoned").extend(batch);
                true
            }),
        )
        .await
        .expect("scan");
    let rows = std::mem::take(&mut *rows.lock().expect("not poisoned"));
    (dataset, rows)
}

pub async fn index_scan_matches_the_version_and_keys_fetch_features(store: &dyn FeatureStore) {
    let features = vec![
        point("a", 1.0, 1.0, 1),
        point("b", 2.0, 2.0, 2),
        point("c", 3.0, 3.0, 3),
    ];
    write_all(
        store,
        request("scanned", WriteMode::Create),
        features.clone(),
    )
    .await;
    let (dataset, rows) = scan(store, "scanned").await;
    assert_eq!(dataset.version, 1);
    assert_eq!(rows.len(), 3);
    assert!(rows.windows(2).all(|w| w[0].key < w[1].key), "keys ascend");
    assert!(rows.iter().all(|r| r.key > 0));
    for (row, feature) in rows.iter().zip(&features) {
        assert_eq!(row.geometry, feature.geometry);
        assert_eq!(row.time, feature.time);
    }
    let keys = vec![rows[2].key, rows[0].key, rows[2].key + 1000];
    let fetched = store
        .features_by_key(&id("scanned"), keys)
        .await
        .expect("fetch");
    let fetched_ids: Vec<_> = fetched
        .iter()
        .map(|(_, f)| f.id.clone().expect("id").0)
        .collect();
    assert_eq!(
        fetched_ids,
        vec!["c", "a"],
        "in the order asked, missing keys skipped"
    );
    assert_eq!(fetched[0].0, rows[2].key);
    assert_eq!(fetched[0].1.properties, features[2].properties);
    let missing = store
        .scan_index(&id("nothing_here"), Box::new(|_| true))
        .await;
    assert_eq!(
        missing.expect_err("no dataset").kind(),
        StoreErrorKind::NotFound
    );
}

/// Readers that hold the shapes (tiles) fetch only ids and properties; what they get must be exactly what a
/// whole feature carries, so a tile drawn either way is the same.
pub async fn properties_by_key_agree_with_whole_features(store: &dyn FeatureStore) {
    let mut odd = point("d", 4.0, 4.0, 4);
    odd.properties = props(json!({
        "name": "d",
        "mag": 2.0,
        "note": null,
        "tags": {"a": [1, 2]},
        "count": 7,
        "ok": true,
    }));
    let features = vec![
        point("a", 1.0, 1.0, 1),
        point("b", 2.0, 2.0, 2),
        point("c", 3.0, 3.0, 3),
        odd,
    ];
    write_all(store, request("props", WriteMode::Create), features).await;
    let (_, rows) = scan(store, "props").await;
    let keys = vec![rows[3].key, rows[0].key, rows[3].key + 1000, rows[2].key];
    let whole = store
        .features_by_key(&id("props"), keys.clone())
        .await
        .expect("whole features");
    let all = store
        .properties_by_key(&id("props"), keys.clone(), &Fields::All)
        .await
        .expect("all properties");
    assert_eq!(
        all.iter().map(|r| r.key).collect::<Vec<_>>(),
        vec![rows[3].key, rows[0].key, rows[2].key],
        "in the order asked, missing keys skipped"
    );
    for (row, (key, feature)) in all.iter().zip(&whole) {
        assert_eq!(row.key, *key);
        assert_eq!(Some(&row.id), feature.id.as_ref());
        assert_eq!(
            serde_json::to_string(&row.properties).expect("json"),
            serde_json::to_string(&feature.properties).expect("json"),
            "same properties, values and order as the whole feature"
        );
    }
    let only = Fields::Only(vec!["mag".into(), "ok".into(), "absent".into()]);
    let some = store
        .properties_by_key(&id("props"), keys, &only)
        .await
        .expect("some properties");
    assert_eq!(some.len(), 3);
    for (row, (_, feature)) in some.iter().zip(&whole) {
        let mut expected = feature.properties.clone();
        expected.retain(|name, _| only.includes(name));
        assert_eq!(
            serde_json::to_string(&row.properties).expect("json"),
            serde_json::to_string(&expected).expect("json"),
            "only the asked properties, in the whole feature's order"
        );
    }
    assert!(
        store
            .properties_by_key(&id("props"), Vec::new(), &Fields::All)
            .await
            .expect("no keys")
            .is_empty()
    );
    let missing = store
        .properties_by_key(&id("nothing_here"), vec![1], &Fields::All)
        .await;
    assert_eq!(
        missing.expect_err("no dataset").kind(),
        StoreErrorKind::NotFound
    );
}

pub async fn replace_never_reuses_row_keys(store: &dyn FeatureStore) {
    write_all(
        store,
        request("rekeyed", WriteMode::Create),
        vec![point("a", 1.0, 1.0, 1), point("b", 2.0, 2.0, 2)],
    )
    .await;
    let (_, before) = scan(store, "rekeyed").await;
    write_all(
        store,
        request("rekeyed", WriteMode::Replace),
        vec![point("c", 3.0, 3.0, 3)],
    )
    .await;
    let (dataset, after) = scan(store, "rekeyed").await;
    assert_eq!(dataset.version, 2);
    let old_max = before.iter().map(|r| r.key).max().expect("rows");
    assert!(
        after.iter().all(|r| r.key > old_max),
        "a snapshot taken before the replace must never fetch a new feature by an old key"
    );
}

/// A feature without a geometry (GeoJSON `"geometry": null`) is stored, listed, fetched and scanned with no
/// geometry; it takes no part in the extent or the geometry type, and no bbox selects it.
pub async fn unlocated_features_are_kept_but_never_placed(store: &dyn FeatureStore) {
    let mut nowhere = point("nowhere", 0.0, 0.0, 2);
    nowhere.geometry = None;
    let features = vec![point("here", 5.0, 6.0, 1), nowhere.clone()];
    let dataset = write_all(store, request("unlocated", WriteMode::Create), features).await;
    assert_eq!(dataset.feature_count, 2);
    assert_eq!(dataset.geometry_type, GeometryType::Point);
    assert_eq!(dataset.extent, Bbox::new(5.0, 6.0, 5.0, 6.0).ok());
    let read = store
        .feature(&id("unlocated"), &FeatureId("nowhere".into()))
        .await
        .expect("the unlocated feature");
    assert_eq!(read.geometry, None);
    assert_eq!(read.properties, nowhere.properties);
    assert_eq!(
        all_ids(store, "unlocated", FeatureQuery::all()).await,
        vec!["here", "nowhere"]
    );
    let everywhere = FeatureQuery {
        bbox: Some(Bbox::parse("-180,-90,180,90").expect("bbox")),
        ..FeatureQuery::all()
    };
    assert_eq!(all_ids(store, "unlocated", everywhere).await, vec!["here"]);
    let (_, rows) = scan(store, "unlocated").await;
    assert_eq!(rows.len(), 2);
    assert!(rows[0].geometry.is_some());
    assert_eq!(rows[1].geometry, None);
    // An upsert may take a feature's place away, and give it back.
    let mut moved = point("here", 7.0, 8.0, 1);
    moved.geometry = None;
    let after = write_all(store, request("unlocated", WriteMode::Upsert), vec![moved]).await;
    assert_eq!(after.feature_count, 2);
    let read = store
        .feature(&id("unlocated"), &FeatureId("here".into()))
        .await
        .expect("feature");
    assert_eq!(read.geometry, None);
}
