//! The connectors against scripted ArcGIS REST and Socrata SODA origins on loopback: every layer of 50,000
//! rows arrives whole (the exact count, no id twice, every property and coordinate as the source holds it,
//! as the protocol documents its meaning) whatever way the server pages; incremental syncs bring only what
//! changed; a server that never stops saying "more" ends the sync with an error, not a hang.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use geoconsole_feeds::connectors::{
    ConnectorError, ConnectorErrorKind, PagingMode, SourceKind, SourceSpec, SourceSync, SyncLimits,
    SyncReport, sync,
};
use geoconsole_feeds::{FetchLimits, Fetcher, NetworkPolicy};
use geoconsole_model::Feature;
use geoconsole_model::geo_types::{Coord, Geometry, LineString, Point};
use geoconsole_testkit::{
    ARCGIS_EDIT_BASE_MS, ArcgisLayer, ArcgisOrigin, LayerGeometry, PlaceColumn, SocrataDataset,
    SocrataOrigin, ZONE_NAMES, socrata_id,
};
use serde_json::{Map, Value};

const N: usize = 50_000;

fn fetcher() -> Fetcher {
    let policy = NetworkPolicy::allowing(&["127.0.0.1"]).expect("policy");
    Fetcher::new(Arc::new(policy), FetchLimits::default()).expect("fetcher")
}

/// Reads a whole source through the pull API, as the app will.
async fn load(
    spec: &SourceSpec,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<Feature>, SyncReport), ConnectorError> {
    let work = async {
        let mut sync = SourceSync::start(&fetcher(), spec, since, SyncLimits::default()).await?;
        let mut features = Vec::new();
        while let Some(page) = sync.next_page().await? {
            features.extend(page.features);
        }
        Ok((features, sync.report()))
    };
    tokio::time::timeout(Duration::from_secs(300), work)
        .await
        .expect("the sync ends")
}

fn say(label: &str, report: &SyncReport) {
    eprintln!(
        "{label}: {} features, {} pages, {} requests, {} bytes in {:.2?} ({:.0} features/s, mode {:?})",
        report.features,
        report.pages,
        report.requests,
        report.bytes,
        report.duration,
        report.features_per_second(),
        report.mode
    );
}

fn rfc3339_ms(ms: i64) -> Value {
    Value::String(
        DateTime::from_timestamp_millis(ms)
            .expect("time")
            .to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// What the layer's documentation says row `oid` means: coded values by name, dates as times.
fn arcgis_expected(origin: &ArcgisOrigin, oid: i64) -> (Map<String, Value>, (f64, f64)) {
    let (mut a, at) = origin.row(oid);
    if let Some(code) = a["ZONE"].as_i64() {
        let name = ZONE_NAMES.iter().find(|(c, _)| *c == code).expect("code").1;
        a.insert("ZONE".into(), Value::String(name.into()));
    }
    for field in ["FLOODED", "EditDate"] {
        if let Some(ms) = a[field].as_i64() {
            a.insert(field.into(), rfc3339_ms(ms));
        }
    }
    (a, at)
}

/// The origin writes coordinates to the micro-degree, as services commonly do.
fn micro(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

fn ring_box(ring: &LineString<f64>) -> (f64, f64, f64, f64) {
    ring.0.iter().fold(
        (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
        |(a, b, c, d), p: &Coord<f64>| (a.min(p.x), b.min(p.y), c.max(p.x), d.max(p.y)),
    )
}

fn check_arcgis(origin: &ArcgisOrigin, features: &[Feature], n: usize, kind: LayerGeometry) {
    assert_eq!(features.len(), n, "every row, once");
    let ids: HashSet<&str> = features
        .iter()
        .map(|f| f.id.as_ref().expect("id").as_str())
        .collect();
    assert_eq!(ids.len(), n, "no id twice");
    for feature in features {
        let oid: i64 = feature
            .id
            .as_ref()
            .expect("id")
            .as_str()
            .parse()
            .expect("oid");
        assert!((1..=n as i64).contains(&oid));
        let (properties, (x, y)) = arcgis_expected(origin, oid);
        assert_eq!(feature.properties, properties, "row {oid}");
        match (kind, feature.geometry.as_ref().expect("geometry")) {
            (LayerGeometry::Point, Geometry::Point(p)) => {
                assert_eq!(*p, Point::new(x, y), "row {oid}")
            }
            (LayerGeometry::Polygon, Geometry::Polygon(polygon)) => {
                let outer = ring_box(polygon.exterior());
                assert_eq!(
                    outer,
                    (
                        micro(x - 0.004),
                        micro(y - 0.004),
                        micro(x + 0.004),
                        micro(y + 0.004)
                    ),
                    "row {oid}"
                );
                assert_eq!(polygon.interiors().len(), 1, "row {oid}: the hole");
                let hole = ring_box(&polygon.interiors()[0]);
                assert_eq!(
                    hole,
                    (
                        micro(x - 0.001),
                        micro(y - 0.001),
                        micro(x + 0.001),
                        micro(y + 0.001)
                    ),
                    "row {oid}"
                );
            }
            (_, other) => panic!("row {oid}: unexpected geometry {other:?}"),
        }
    }
}

/// The query requests (not the metadata), and that none of them asked for the whole layer at once.
fn queries(origin: &ArcgisOrigin) -> Vec<String> {
    let queries: Vec<String> = origin
        .queries()
        .into_iter()
        .filter(|q| q.contains("where="))
        .collect();
    for q in &queries {
        assert!(
            q.contains("returnIdsOnly=true")
                || q.contains("resultRecordCount=")
                || q.contains("OBJECTID+%3E%3D"),
            "an unpaged query for the whole layer: {q}"
        );
        if !q.contains("returnIdsOnly") {
            assert!(q.contains("orderByFields=OBJECTID+ASC"), "{q}");
            assert!(q.contains("outSR=4326"), "{q}");
        }
    }
    queries
}

fn arcgis_spec(origin: &ArcgisOrigin) -> SourceSpec {
    SourceSpec::new(SourceKind::Arcgis, origin.layer_url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_geojson_layer_pages_by_its_max_record_count() {
    let origin = ArcgisOrigin::start(ArcgisLayer::new(N)).await;
    let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
    say("arcgis geojson, 2000 a page", &report);
    check_arcgis(&origin, &features, N, LayerGeometry::Point);
    assert_eq!(report.mode, PagingMode::Offset);
    assert_eq!(report.duplicates, 0);
    let queries = queries(&origin);
    assert!(
        queries
            .iter()
            .all(|q| q.contains("f=geojson") && q.contains("resultRecordCount=2000"))
    );
    // 25 full pages, and one more to be sure a full last page was the last.
    assert_eq!(report.pages, 26);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_esri_json_polygons_where_geojson_is_not_offered() {
    let layer = ArcgisLayer {
        max_record_count: 1000,
        geojson: false,
        geometry: LayerGeometry::Polygon,
        ..ArcgisLayer::new(N)
    };
    let origin = ArcgisOrigin::start(layer).await;
    let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
    say("arcgis esri json polygons, 1000 a page", &report);
    check_arcgis(&origin, &features, N, LayerGeometry::Polygon);
    assert!(queries(&origin).iter().all(|q| q.contains("f=json")));
    assert_eq!(report.pages, 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_layer_without_pagination_is_read_by_object_id() {
    let layer = ArcgisLayer {
        max_record_count: 1000,
        supports_pagination: false,
        ..ArcgisLayer::new(N)
    };
    let origin = ArcgisOrigin::start(layer).await;
    let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
    say("arcgis by object id, 1000 a range", &report);
    check_arcgis(&origin, &features, N, LayerGeometry::Point);
    assert_eq!(report.mode, PagingMode::ObjectIds);
    assert!(
        report
            .fallback
            .as_deref()
            .unwrap_or("")
            .contains("supportsPagination")
    );
    let queries = queries(&origin);
    assert!(
        queries.iter().all(|q| !q.contains("resultOffset")),
        "no paging where it is not supported"
    );
    assert_eq!(
        queries
            .iter()
            .filter(|q| q.contains("returnIdsOnly=true"))
            .count(),
        1
    );
    assert_eq!(report.pages, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_paging_errors_fall_back_to_object_ids_without_duplicates() {
    for from in [0, 20_000] {
        let layer = ArcgisLayer {
            paging_error_from: Some(from),
            ..ArcgisLayer::new(N)
        };
        let origin = ArcgisOrigin::start(layer).await;
        let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
        say(
            &format!("arcgis paging refused from offset {from}"),
            &report,
        );
        check_arcgis(&origin, &features, N, LayerGeometry::Point);
        assert_eq!(report.mode, PagingMode::ObjectIds);
        let why = report.fallback.expect("the reason");
        assert!(
            why.contains(&format!("offset {from}")) && why.contains("Pagination is not supported"),
            "{why}"
        );
        assert_eq!(report.duplicates, 0);
        // The rows that came by offset are not asked for again.
        assert_eq!(report.pages as usize, from / 2000 + (N - from) / 2000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_empty_pages_that_say_more_are_paged_past() {
    let layer = ArcgisLayer {
        empty_windows: vec![3, 4, 11],
        ..ArcgisLayer::new(N)
    };
    let origin = ArcgisOrigin::start(layer).await;
    let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
    say(
        "arcgis with empty pages flagged exceededTransferLimit",
        &report,
    );
    check_arcgis(&origin, &features, N, LayerGeometry::Point);
    assert_eq!(report.pages, 25 + 3 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_server_capping_below_its_advertised_max_record_count_loses_nothing() {
    for supports_pagination in [true, false] {
        let layer = ArcgisLayer {
            page_cap: Some(700),
            supports_pagination,
            ..ArcgisLayer::new(N)
        };
        let origin = ArcgisOrigin::start(layer).await;
        let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
        say(
            &format!("arcgis capping at 700 of 2000 advertised (pagination {supports_pagination})"),
            &report,
        );
        check_arcgis(&origin, &features, N, LayerGeometry::Point);
        assert_eq!(report.duplicates, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_incremental_sync_brings_only_edited_rows() {
    let origin = ArcgisOrigin::start(ArcgisLayer::new(N)).await;
    let mut spec = arcgis_spec(&origin);
    spec.options.updated_field = Some("EditDate".into());
    let (first, report) = load(&spec, None).await.expect("full sync");
    assert_eq!(first.len(), N);
    let since = report.latest_update.expect("the latest EditDate");
    assert_eq!(since.timestamp_millis(), ARCGIS_EDIT_BASE_MS + 99_000);

    let edited: Vec<i64> = (0..37).map(|k| 17 + k * 1303).collect();
    origin.edit(&edited, ARCGIS_EDIT_BASE_MS + 86_400_000);
    let (changes, report) = load(&spec, Some(since)).await.expect("incremental sync");
    let mut ids: Vec<i64> = changes
        .iter()
        .map(|f| f.id.as_ref().expect("id").as_str().parse().expect("oid"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, edited);
    for feature in &changes {
        let oid: i64 = feature
            .id
            .as_ref()
            .expect("id")
            .as_str()
            .parse()
            .expect("oid");
        assert_eq!(feature.properties, arcgis_expected(&origin, oid).0);
    }
    assert_eq!(
        report.latest_update.expect("latest").timestamp_millis(),
        ARCGIS_EDIT_BASE_MS + 86_400_000
    );
    assert!(
        origin
            .queries()
            .iter()
            .any(|q| q.contains("EditDate+%3E+timestamp+%272023-11-14+22%3A14%3A59%27"))
    );

    // Without an updated field an incremental sync cannot be asked for.
    let error = load(&arcgis_spec(&origin), Some(since)).await.unwrap_err();
    assert_eq!(error.kind, ConnectorErrorKind::Spec);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_server_that_repeats_its_first_page_ends_with_an_error() {
    let layer = ArcgisLayer {
        max_record_count: 1000,
        ignores_offset: true,
        ..ArcgisLayer::new(N)
    };
    let origin = ArcgisOrigin::start(layer).await;
    let started = std::time::Instant::now();
    let error = load(&arcgis_spec(&origin), None).await.unwrap_err();
    eprintln!("looping server: {error} (after {:.2?})", started.elapsed());
    assert_eq!(error.kind, ConnectorErrorKind::Loop);
    assert!(error.message.contains("not making progress"), "{error}");
    assert!(error.message.contains("exceededTransferLimit"), "{error}");
    assert_eq!(error.page, Some(21), "the first page and 20 repeats");
    assert!(
        error.to_string().contains("resultOffset="),
        "names the request: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arcgis_service_errors_are_reported_with_the_request() {
    let origin = ArcgisOrigin::start(ArcgisLayer::new(10)).await;
    let mut spec = arcgis_spec(&origin);
    spec.url = spec.url.replace("/0", "/7");
    let error = load(&spec, None).await.unwrap_err();
    assert_eq!(
        error.kind,
        ConnectorErrorKind::Fetch(geoconsole_feeds::FetchErrorKind::Status)
    );
    assert!(error.url.contains("/FeatureServer/7?f=json"), "{error}");

    // What the client never sends: the whole of a large layer in one query fails on this origin as it
    // does on real servers.
    let large = ArcgisOrigin::start(ArcgisLayer::new(5000)).await;
    let unpaged = format!(
        "{}/query?where=1%3D1&outFields=*&f=geojson",
        large.layer_url()
    );
    let answer = fetcher()
        .get(&unpaged.parse().expect("url"), &Default::default(), None)
        .await
        .unwrap_err();
    assert!(answer.message.contains("500"), "{answer}");

    let mut bad_field = arcgis_spec(&origin);
    bad_field.options.updated_field = Some("NAME".into());
    let error = load(&bad_field, None).await.unwrap_err();
    assert!(error.message.contains("not a date field"), "{error}");

    // The network policy applies: the default one refuses loopback.
    let guarded =
        Fetcher::new(Arc::new(NetworkPolicy::default()), FetchLimits::default()).expect("fetcher");
    let error = SourceSync::start(&guarded, &arcgis_spec(&origin), None, SyncLimits::default())
        .await
        .err()
        .expect("refused");
    assert_eq!(
        error.kind,
        ConnectorErrorKind::Fetch(geoconsole_feeds::FetchErrorKind::Refused)
    );
}

// ---------------------------------------------------------------------------------------------- Socrata

/// Row `i` as SODA documents it: system fields and the place column out of the properties, numbers as
/// numbers, null cells absent.
fn socrata_expected(
    origin: &SocrataOrigin,
    i: usize,
    place: PlaceColumn,
) -> (Map<String, Value>, Option<Point>) {
    let row = origin.row(i);
    let mut properties = Map::new();
    for (name, value) in &row {
        if name.starts_with(':') || name == "location" || value.is_null() {
            continue;
        }
        let value = match name.as_str() {
            "count" => Value::from(value.as_str().expect("text").parse::<i64>().expect("count")),
            "amount" => Value::from(
                value
                    .as_str()
                    .expect("text")
                    .parse::<f64>()
                    .expect("amount"),
            ),
            _ => value.clone(),
        };
        properties.insert(name.clone(), value);
    }
    let point = match (&row["location"], place) {
        (Value::Null, _) => None,
        (v, PlaceColumn::Point) => Some(Point::new(
            v["coordinates"][0].as_f64().expect("x"),
            v["coordinates"][1].as_f64().expect("y"),
        )),
        (v, PlaceColumn::Location) => Some(Point::new(
            v["longitude"].as_str().expect("lon").parse().expect("lon"),
            v["latitude"].as_str().expect("lat").parse().expect("lat"),
        )),
    };
    (properties, point)
}

fn check_socrata(origin: &SocrataOrigin, features: &[Feature], n: usize, place: PlaceColumn) {
    assert_eq!(features.len(), n, "every row, once");
    let index: std::collections::HashMap<String, usize> =
        (0..n).map(|i| (socrata_id(i), i)).collect();
    let mut seen = HashSet::new();
    let mut previous = String::new();
    for feature in features {
        let id = feature.id.as_ref().expect("id").as_str();
        assert!(seen.insert(id.to_string()), "{id} twice");
        assert!(id > previous.as_str(), "in :id order");
        previous = id.to_string();
        let i = index[id];
        let (properties, point) = socrata_expected(origin, i, place);
        assert_eq!(feature.properties, properties, "row {i}");
        assert_eq!(feature.geometry, point.map(Geometry::Point), "row {i}");
    }
}

fn socrata_spec(origin: &SocrataOrigin) -> SourceSpec {
    SourceSpec::new(SourceKind::Socrata, origin.resource_url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socrata_dataset_pages_in_id_order() {
    let origin = SocrataOrigin::start(SocrataDataset::new(N)).await;
    let (features, report) = load(&socrata_spec(&origin), None).await.expect("sync");
    say("socrata point column, 1000 a page", &report);
    check_socrata(&origin, &features, N, PlaceColumn::Point);
    assert_eq!(report.pages, 51);
    for (query, headers) in origin.requests() {
        assert!(query.contains("%24order=%3Aid"), "{query}");
        assert!(query.contains("%24limit=1000"), "{query}");
        assert!(headers.get("x-app-token").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socrata_location_columns_and_the_app_token() {
    let dataset = SocrataDataset {
        place: PlaceColumn::Location,
        app_token: Some("tok-123".into()),
        ..SocrataDataset::new(N)
    };
    let origin = SocrataOrigin::start(dataset).await;
    let mut spec = socrata_spec(&origin);
    spec.options.app_token = Some("tok-123".into());
    spec.options.page_size = Some(5000);
    let (features, report) = load(&spec, None).await.expect("sync");
    say("socrata location column, 5000 a page", &report);
    check_socrata(&origin, &features, N, PlaceColumn::Location);
    for (query, headers) in origin.requests() {
        assert_eq!(
            headers.get("x-app-token").map(|v| v.as_bytes()),
            Some(&b"tok-123"[..])
        );
        assert!(!query.contains("tok-123"), "the token stays out of the URL");
    }

    spec.options.app_token = Some("wrong".into());
    let error = load(&spec, None).await.unwrap_err();
    assert_eq!(
        error.kind,
        ConnectorErrorKind::Fetch(geoconsole_feeds::FetchErrorKind::Status)
    );
    assert!(error.message.contains("Invalid app_token"), "{error}");
    assert!(!error.to_string().contains("wrong"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socrata_select_and_where_are_passed_on() {
    let origin = SocrataOrigin::start(SocrataDataset::new(2000)).await;
    let mut spec = socrata_spec(&origin);
    spec.options.fields = vec!["case_number".into(), "count".into()];
    spec.options.geometry_field = Some("location".into());
    spec.options.filter = Some("primary_type = 'THEFT'".into());
    let mut pages = 0;
    let mut features = Vec::new();
    let report = sync(&fetcher(), &spec, None, |page| {
        pages += 1;
        features.extend(page.features);
        Ok::<_, String>(())
    })
    .await
    .expect("sync");
    assert_eq!(report.features, 500);
    assert_eq!(pages, 1);
    for feature in &features {
        let keys: Vec<&String> = feature.properties.keys().collect();
        assert_eq!(keys, ["case_number", "count"]);
    }
    assert!(features.iter().all(|f| f.geometry.is_some()));

    let mut unknown = socrata_spec(&origin);
    unknown.options.fields = vec!["no_such".into()];
    let error = load(&unknown, None).await.unwrap_err();
    assert!(error.message.contains("No such column: no_such"), "{error}");
    assert_eq!(error.page, Some(1));

    // A consumer's refusal stops the sync and says so.
    let error = sync(&fetcher(), &socrata_spec(&origin), None, |_| {
        Err("disk full")
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind, ConnectorErrorKind::Consumer);
    assert!(error.to_string().contains("page 1") && error.to_string().contains("disk full"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socrata_incremental_sync_brings_only_updated_rows() {
    let origin = SocrataOrigin::start(SocrataDataset::new(N)).await;
    let spec = socrata_spec(&origin);
    let (first, report) = load(&spec, None).await.expect("full sync");
    assert_eq!(first.len(), N);
    let since = report.latest_update.expect("the latest :updated_at");
    assert_eq!(since.to_rfc3339(), "2024-02-01T00:01:39+00:00");

    let edited: Vec<usize> = (0..25).map(|k| 3 + k * 1999).collect();
    let at = DateTime::parse_from_rfc3339("2024-03-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    origin.edit(&edited, at);
    let (changes, report) = load(&spec, Some(since)).await.expect("incremental sync");
    let mut ids: Vec<String> = changes
        .iter()
        .map(|f| f.id.as_ref().expect("id").to_string())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = edited.iter().map(|i| socrata_id(*i)).collect();
    expected.sort();
    assert_eq!(ids, expected);
    for feature in &changes {
        let i = edited
            .iter()
            .find(|i| socrata_id(**i) == feature.id.as_ref().expect("id").as_str())
            .expect("edited");
        assert_eq!(feature.properties["count"], Value::from(1000 + *i as i64));
    }
    assert_eq!(report.latest_update, Some(at));
    let (query, _) = origin.requests().pop().expect("request");
    assert!(
        query.contains("%24where=%3Aupdated_at+%3E+%272024-02-01T00%3A01%3A39.000%27"),
        "{query}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socrata_server_that_ignores_the_offset_ends_with_an_error() {
    let dataset = SocrataDataset {
        ignores_offset: true,
        ..SocrataDataset::new(N)
    };
    let origin = SocrataOrigin::start(dataset).await;
    let error = load(&socrata_spec(&origin), None).await.unwrap_err();
    eprintln!("looping SODA server: {error}");
    assert_eq!(error.kind, ConnectorErrorKind::Loop);
    assert!(error.message.contains("it had sent already"), "{error}");
    assert_eq!(error.page, Some(21));
}

/// How the time of a sync splits between the origin (serving the same pages, read raw) and the client
/// (parsing them into features). `cargo test --release … -- --ignored --nocapture throughput` for numbers
/// worth comparing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn throughput() {
    let origin = ArcgisOrigin::start(ArcgisLayer::new(N)).await;
    let (_, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
    let pages: Vec<String> = queries(&origin)
        .into_iter()
        .map(|q| format!("{}/query?{q}", origin.layer_url()))
        .collect();
    let started = std::time::Instant::now();
    let fetcher = fetcher();
    for page in &pages {
        fetcher
            .get(&page.parse().expect("url"), &Default::default(), None)
            .await
            .expect("page");
    }
    let raw = started.elapsed();
    let client = report.duration.saturating_sub(raw);
    eprintln!(
        "arcgis geojson: sync {:.2?} = origin and transfer {raw:.2?} + client {client:.2?}: {:.0} features/s overall, {:.0} features/s of client work",
        report.duration,
        report.features_per_second(),
        N as f64 / client.as_secs_f64().max(1e-9)
    );
}
