//! The connectors against scripted ArcGIS REST, Socrata SODA, OGC API – Features and WFS 2.0 origins on
//! loopback: every layer of 50,000
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
use geoconsole_model::geo_types::{Coord, Geometry, LineString, Point};
use geoconsole_model::{Feature, FeatureId};
use geoconsole_testkit::{
    ARCGIS_EDIT_BASE_MS, ArcgisLayer, ArcgisOrigin, FeedOrigin, LayerGeometry, OapifCollection,
    OapifOrigin, PlaceColumn, Serve, SocrataDataset, SocrataOrigin, WFS_MAP, WFS_TYPE, WfsLayer,
    WfsOrigin, ZONE_NAMES, ogc_position, socrata_id,
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

/// Found by an outside tester: a server that stops short of its advertised maxRecordCount without saying
/// `exceededTransferLimit` (and a Socrata endpoint that caps `$limit` at 1,000) cut the layer at its first
/// page, and the sync reported success. Only an empty page ends a walk now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_capping_pages_without_saying_so_lose_nothing() {
    let layer = ArcgisLayer {
        features: 4186,
        page_cap: Some(1000),
        cap_unflagged: true,
        ..ArcgisLayer::new(4186)
    };
    let origin = ArcgisOrigin::start(layer).await;
    let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
    say("arcgis capping at 1000 unflagged", &report);
    check_arcgis(&origin, &features, 4186, LayerGeometry::Point);

    let origin = SocrataOrigin::start(SocrataDataset {
        page_cap: Some(1000),
        ..SocrataDataset::new(2500)
    })
    .await;
    let mut spec = socrata_spec(&origin);
    spec.options.page_size = Some(5000);
    let (features, report) = load(&spec, None).await.expect("sync");
    say("socrata capping $limit at 1000", &report);
    check_socrata(&origin, &features, 2500, PlaceColumn::Point);
}

/// Found by an outside tester: a server that says `exceededTransferLimit` on every page, past its last row
/// too, failed every sync after 20 empty pages and lost the whole layer. What it sent is kept, with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_always_says_more_ends_after_its_empty_pages_with_a_warning() {
    let origin = ArcgisOrigin::start(ArcgisLayer {
        always_more: true,
        ..ArcgisLayer::new(4186)
    })
    .await;
    let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
    check_arcgis(&origin, &features, 4186, LayerGeometry::Point);
    assert_eq!(report.pages, 3 + 20);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("20 empty pages in a row") && w.contains("taken as the end")),
        "{:?}",
        report.warnings
    );
    // A server that sends the same rows again and again still fails: nothing says the layer was read.
    let origin = ArcgisOrigin::start(ArcgisLayer {
        ignores_offset: true,
        ..ArcgisLayer::new(4186)
    })
    .await;
    let error = load(&arcgis_spec(&origin), None).await.unwrap_err();
    assert_eq!(error.kind, ConnectorErrorKind::Loop, "{error}");
}

/// Found by an outside tester: one feature with a latitude of 95 failed every sync of a 4,186-feature layer.
/// It is left out, named by its object id, and the rest syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feature_whose_geometry_cannot_be_used_is_skipped_by_its_object_id() {
    for geojson in [true, false] {
        let layer = ArcgisLayer {
            geojson,
            broken_oids: vec![1234, 4000],
            ..ArcgisLayer::new(4186)
        };
        let origin = ArcgisOrigin::start(layer).await;
        let (features, report) = load(&arcgis_spec(&origin), None).await.expect("sync");
        assert_eq!(features.len(), 4184, "geojson {geojson}");
        assert_eq!(report.skipped, 2);
        assert!(
            report.skipped_reasons[0].contains("object id 1234")
                && report.skipped_reasons[0].contains("latitude"),
            "{:?}",
            report.skipped_reasons
        );
        assert!(report.skipped_reasons[1].contains("object id 4000"));
        assert!(
            features
                .iter()
                .all(|f| !matches!(f.id.as_ref().map(FeatureId::as_str), Some("1234" | "4000")))
        );
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
            "latitude" | "longitude" => match value.as_str().expect("text").parse::<f64>() {
                // SODA's "0" reads back as the integer 0.
                Ok(n) => {
                    if n == 0.0 {
                        Value::from(0)
                    } else {
                        Value::from(n)
                    }
                }
                Err(_) => value.clone(),
            },
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
    let number = |name: &str| -> Option<f64> { row[name].as_str().expect("text").parse().ok() };
    let point = match (row.get("location").unwrap_or(&Value::Null), place) {
        (_, PlaceColumn::LatLon) => number("longitude")
            .zip(number("latitude"))
            .map(|(x, y)| Point::new(x, y))
            .filter(|p| (p.x(), p.y()) != (0.0, 0.0)),
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

/// Found by an outside tester: rows whose place is in separate latitude and longitude columns (Los Angeles,
/// Seattle) were all stored without a place, and LA's `0, 0` for "unknown" would have been Null Island.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socrata_latitude_and_longitude_columns_place_the_rows() {
    let origin = SocrataOrigin::start(SocrataDataset {
        place: PlaceColumn::LatLon,
        ..SocrataDataset::new(2500)
    })
    .await;
    let (features, report) = load(&socrata_spec(&origin), None).await.expect("sync");
    check_socrata(&origin, &features, 2500, PlaceColumn::LatLon);
    // 50 at 0, 0 and 25 whose latitude is "N/A": kept, without a place.
    assert_eq!(features.iter().filter(|f| f.geometry.is_none()).count(), 75);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("are not a place are kept without one")),
        "{:?}",
        report.warnings
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("50 rows were placed at latitude and longitude 0")),
        "{:?}",
        report.warnings
    );
    // Named, and fetched when fields are chosen.
    let mut spec = socrata_spec(&origin);
    spec.options.geometry_field = Some("latitude, longitude".into());
    spec.options.fields = vec!["case_number".into()];
    let (features, _) = load(&spec, None).await.expect("sync");
    assert_eq!(
        features.iter().filter(|f| f.geometry.is_some()).count(),
        2425
    );
    assert!(
        features
            .iter()
            .all(|f| f.properties.contains_key("case_number")
                && f.properties.contains_key("latitude"))
    );
    // A misspelt column is refused by name, not read as rows without a place: by the server when the
    // fields are chosen, and by the columns the server lists when all are fetched.
    spec.options.geometry_field = Some("latitude,longitud".into());
    let error = load(&spec, None).await.unwrap_err();
    assert!(
        error.message.contains("No such column: longitud"),
        "{error}"
    );
    spec.options.fields.clear();
    let error = load(&spec, None).await.unwrap_err();
    assert!(error.message.contains("no column 'longitud'"), "{error}");
    // A pair whose names say longitude first is refused rather than read with its axes swapped.
    spec.options.geometry_field = Some("longitude,latitude".into());
    let error = load(&spec, None).await.unwrap_err();
    assert!(error.message.contains("give latitude first"), "{error}");
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
    // The short page, then the empty one that ends the walk (a short page may be a server's cap).
    assert_eq!(pages, 2);
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

// ------------------------------------------------------------------------------- OGC API – Features

/// Site `gid` as the OGC origins hold it: properties as given, the point or the square with its hole.
fn check_ogc(
    features: &[Feature],
    n: usize,
    kind: LayerGeometry,
    id_of: impl Fn(&str) -> i64,
    row: impl Fn(i64) -> Map<String, Value>,
) {
    assert_eq!(features.len(), n, "every feature, once");
    let ids: HashSet<&str> = features
        .iter()
        .map(|f| f.id.as_ref().expect("id").as_str())
        .collect();
    assert_eq!(ids.len(), n, "no id twice");
    for feature in features {
        let gid = id_of(feature.id.as_ref().expect("id").as_str());
        assert!((1..=n as i64).contains(&gid), "{gid}");
        assert_eq!(feature.properties, row(gid), "site {gid}");
        let (x, y) = ogc_position(gid);
        match (kind, feature.geometry.as_ref().expect("geometry")) {
            (LayerGeometry::Point, Geometry::Point(p)) => {
                assert_eq!(*p, Point::new(x, y), "site {gid}")
            }
            (LayerGeometry::Polygon, Geometry::Polygon(polygon)) => {
                assert_eq!(
                    ring_box(polygon.exterior()),
                    (
                        micro(x - 0.004),
                        micro(y - 0.004),
                        micro(x + 0.004),
                        micro(y + 0.004)
                    ),
                    "site {gid}"
                );
                assert_eq!(polygon.interiors().len(), 1, "site {gid}: the hole");
                assert_eq!(
                    ring_box(&polygon.interiors()[0]),
                    (
                        micro(x - 0.001),
                        micro(y - 0.001),
                        micro(x + 0.001),
                        micro(y + 0.001)
                    ),
                    "site {gid}"
                );
            }
            (_, other) => panic!("site {gid}: unexpected geometry {other:?}"),
        }
    }
}

fn oapif_spec(origin: &OapifOrigin) -> SourceSpec {
    SourceSpec::new(SourceKind::Oapif, origin.collection_url())
}

fn check_oapif(origin: &OapifOrigin, features: &[Feature], n: usize, kind: LayerGeometry) {
    check_ogc(
        features,
        n,
        kind,
        |id| id.parse().expect("numeric id"),
        |gid| origin.row(gid),
    );
}

/// Found by an outside tester: `--key-field` was accepted and ignored for OGC API sources, so a server
/// whose features have no `id` could not be synced; and one bad geometry failed the whole collection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oapif_features_without_ids_are_told_apart_by_the_key_field() {
    let origin = OapifOrigin::start(OapifCollection {
        without_ids: true,
        ..OapifCollection::new(3000)
    })
    .await;
    let error = load(&oapif_spec(&origin), None).await.unwrap_err();
    assert!(error.message.contains("--key-field"), "{error}");
    let mut spec = oapif_spec(&origin);
    spec.options.id_field = Some("gid".into());
    let (features, _) = load(&spec, None).await.expect("sync");
    check_oapif(&origin, &features, 3000, LayerGeometry::Point);

    let origin = OapifOrigin::start(OapifCollection {
        broken_gids: vec![42],
        ..OapifCollection::new(3000)
    })
    .await;
    let (features, report) = load(&oapif_spec(&origin), None).await.expect("sync");
    assert_eq!(features.len(), 2999);
    assert_eq!(report.skipped, 1);
    assert!(
        report.skipped_reasons[0].contains("feature 42"),
        "{:?}",
        report.skipped_reasons
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oapif_collection_is_read_by_next_links_with_opaque_cursors() {
    let origin = OapifOrigin::start(OapifCollection::new(N)).await;
    let (features, report) = load(&oapif_spec(&origin), None).await.expect("sync");
    say("oapif, opaque cursors, 1000 a page", &report);
    check_oapif(&origin, &features, N, LayerGeometry::Point);
    assert_eq!(report.mode, PagingMode::NextLinks);
    assert_eq!(report.matched, Some(N as u64));
    assert_eq!(report.pages, 50, "no request past the last next link");
    assert_eq!(report.duplicates, 0);
    let items = origin.item_queries();
    assert_eq!(items.len(), 50);
    assert_eq!(items[0], "f=json&limit=1000");
    for q in &items[1..] {
        assert!(q.contains("cursor=c"), "only the server's links: {q}");
        assert!(!q.contains("offset"), "{q}");
        assert!(q.contains("f=json"), "never the HTML next link: {q}");
    }
    for (path, _, headers) in origin.requests() {
        if path.ends_with("/items") {
            assert_eq!(
                headers.get("accept").map(|v| v.as_bytes()),
                Some(&b"application/geo+json"[..]),
                "one Accept, GeoJSON"
            );
        }
    }
    assert!(
        origin
            .requests()
            .iter()
            .any(|(p, _, _)| p == "/ogc/conformance"),
        "the conformance declaration is read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oapif_server_lowering_the_limit_and_relative_offset_links_lose_nothing() {
    let collection = OapifCollection {
        max_limit: 700,
        opaque_cursors: false,
        relative_links: true,
        number_matched: false,
        conformance_link_only: true,
        geometry: LayerGeometry::Polygon,
        ..OapifCollection::new(N)
    };
    let origin = OapifOrigin::start(collection).await;
    let mut spec = oapif_spec(&origin);
    spec.options.page_size = Some(5000);
    let (features, report) = load(&spec, None).await.expect("sync");
    say("oapif, limit 5000 lowered to 700, relative links", &report);
    check_oapif(&origin, &features, N, LayerGeometry::Polygon);
    assert_eq!(report.matched, None);
    assert_eq!(report.pages as usize, N.div_ceil(700));
    let items = origin.item_queries();
    assert_eq!(items[0], "f=json&limit=5000", "the client's limit");
    assert!(items[1..].iter().all(|q| q.contains("offset=")));
    // The declaration was found through the landing page's link, its JSON one.
    let paths: Vec<String> = origin.requests().into_iter().map(|(p, _, _)| p).collect();
    assert!(
        paths.contains(&"/ogc/api/conformance-declaration".to_string()),
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oapif_bbox_datetime_and_cql2_are_passed_where_declared() {
    let origin = OapifOrigin::start(OapifCollection::new(5000)).await;
    let mut spec = oapif_spec(&origin);
    // Longitudes 5.0..15.0 by 0.01 per gid % 1000, latitudes 45.0 + 0.01 per thousand.
    spec.options.bbox = Some("5.0,45.0,6.0,45.025".into());
    spec.options.datetime = Some("2024-02-01T00:00:50Z/..".into());
    spec.options.filter = Some("zone = 3".into());
    spec.options.fields = vec!["name".into(), "zone".into()];
    let (features, _) = load(&spec, None).await.expect("sync");
    let expected: Vec<i64> = (1..=5000)
        .filter(|gid| {
            let (x, y) = ogc_position(*gid);
            (5.0..=6.0).contains(&x)
                && (45.0..=45.025).contains(&y)
                && gid % 100 >= 50
                && gid % 13 != 0
                && gid % 4 + 1 == 3
        })
        .collect();
    let mut got: Vec<i64> = features
        .iter()
        .map(|f| f.id.as_ref().expect("id").as_str().parse().expect("id"))
        .collect();
    got.sort_unstable();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    for f in &features {
        assert_eq!(f.properties.keys().collect::<Vec<_>>(), ["name", "zone"]);
    }
    let q = &origin.item_queries()[0];
    assert!(q.contains("bbox=5%2C45%2C6%2C45.025"), "{q}");
    assert!(q.contains("datetime=2024-02-01T00%3A00%3A50Z%2F.."), "{q}");
    assert!(q.contains("filter=zone+%3D+3&filter-lang=cql2-text"), "{q}");

    // A server that does not declare filtering is not sent a filter.
    let plain = OapifOrigin::start(OapifCollection {
        filtering: false,
        ..OapifCollection::new(100)
    })
    .await;
    let mut spec = oapif_spec(&plain);
    spec.options.filter = Some("zone = 3".into());
    let error = load(&spec, None).await.unwrap_err();
    assert_eq!(error.kind, ConnectorErrorKind::Spec);
    assert!(
        error
            .message
            .contains("http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter"),
        "names the class: {error}"
    );
    assert!(error.message.contains("cql2-text"), "{error}");
    assert!(plain.item_queries().is_empty(), "refused before any page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oapif_incremental_sync_by_cql2_or_by_the_temporal_property() {
    for filtering in [true, false] {
        let origin = OapifOrigin::start(OapifCollection {
            filtering,
            ..OapifCollection::new(N)
        })
        .await;
        let mut spec = oapif_spec(&origin);
        spec.options.updated_field = Some("updated".into());
        let (first, report) = load(&spec, None).await.expect("full sync");
        assert_eq!(first.len(), N);
        let since = report.latest_update.expect("the latest update");
        assert_eq!(since.to_rfc3339(), "2024-02-01T00:01:39+00:00");

        let edited: Vec<i64> = (0..31).map(|k| 5 + k * 1601).collect();
        origin.edit(&edited, "2024-03-01T12:00:00Z");
        let (changes, report) = load(&spec, Some(since)).await.expect("incremental sync");
        let mut ids: Vec<i64> = changes
            .iter()
            .map(|f| f.id.as_ref().expect("id").as_str().parse().expect("id"))
            .collect();
        ids.sort_unstable();
        let mut expected = edited.clone();
        if !filtering {
            // datetime=<since>/.. is closed at its start: the sites updated at that very second come again.
            expected.extend((1..=N as i64).filter(|g| g % 100 == 99 && !edited.contains(g)));
            expected.sort_unstable();
        }
        assert_eq!(ids, expected, "filtering {filtering}");
        for f in &changes {
            let gid: i64 = f.id.as_ref().expect("id").as_str().parse().expect("id");
            assert_eq!(f.properties, origin.row(gid));
        }
        assert_eq!(
            report.latest_update.expect("latest").to_rfc3339(),
            "2024-03-01T12:00:00+00:00"
        );
        let q = origin.item_queries().pop().expect("query");
        if filtering {
            assert!(
                q.contains(
                    "filter=%22updated%22+%3E+TIMESTAMP%28%272024-02-01T00%3A01%3A39.000Z%27%29"
                ),
                "{q}"
            );
        } else {
            assert!(
                q.contains("datetime=2024-02-01T00%3A01%3A39.000Z%2F.."),
                "{q}"
            );
        }
    }
    // Neither filtering nor a temporal property: the client says so rather than reading everything.
    let origin = OapifOrigin::start(OapifCollection {
        filtering: false,
        temporal_queryable: false,
        ..OapifCollection::new(10)
    })
    .await;
    let mut spec = oapif_spec(&origin);
    spec.options.updated_field = Some("updated".into());
    let since = DateTime::parse_from_rfc3339("2024-02-01T00:00:00Z")
        .expect("t")
        .with_timezone(&Utc);
    let error = load(&spec, Some(since)).await.unwrap_err();
    assert_eq!(error.kind, ConnectorErrorKind::Spec);
    assert!(error.message.contains("temporal property"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oapif_next_link_that_repeats_ends_with_a_loop_error() {
    let origin = OapifOrigin::start(OapifCollection {
        repeating_next: true,
        ..OapifCollection::new(N)
    })
    .await;
    let error = load(&oapif_spec(&origin), None).await.unwrap_err();
    eprintln!("repeating next link: {error}");
    assert_eq!(error.kind, ConnectorErrorKind::Loop);
    assert_eq!(error.page, Some(2));
    assert!(error.message.contains("fetched already"), "{error}");
    assert_eq!(origin.item_queries().len(), 2, "stopped at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oapif_hostile_answers_are_errors_not_panics() {
    let origin = FeedOrigin::start().await;
    let json = "application/json";
    let conformance =
        r#"{"conformsTo": ["http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"]}"#;
    origin.set("/api/conformance", Serve::body(json, conformance, None));
    origin.set(
        "/api/collections/x",
        Serve::body(json, r#"{"id": "x", "links": []}"#, None),
    );
    let spec = SourceSpec::new(SourceKind::Oapif, origin.at("/api/collections/x"));
    let page = |body: &str| Serve::body("application/geo+json", body.to_string(), None);
    let cases: Vec<(&str, String, ConnectorErrorKind, &str)> = vec![
        ("truncated", r#"{"type": "FeatureCollection", "features": [{"type": "Fea"#.into(), ConnectorErrorKind::Format, "not JSON"),
        ("not a collection", r#"{"type": "Feature"}"#.into(), ConnectorErrorKind::Format, "FeatureCollection"),
        ("huge count", r#"{"type": "FeatureCollection", "numberMatched": 1e400, "features": []}"#.into(), ConnectorErrorKind::Format, "not JSON"),
        ("negative count", r#"{"type": "FeatureCollection", "numberMatched": -5, "features": []}"#.into(), ConnectorErrorKind::Format, "not a count"),
        ("count past the limit", r#"{"type": "FeatureCollection", "numberMatched": 18446744073709551615, "features": []}"#.into(), ConnectorErrorKind::Limit, "limit"),
        ("no id", r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, "properties": {}}]}"#.into(), ConnectorErrorKind::Format, "no id"),
        ("links not a list", r#"{"type": "FeatureCollection", "features": [], "links": {"rel": "next"}}"#.into(), ConnectorErrorKind::Format, "links"),
        ("next without href", r#"{"type": "FeatureCollection", "features": [], "links": [{"rel": "next"}]}"#.into(), ConnectorErrorKind::Format, "no href"),
        ("next to a file", r#"{"type": "FeatureCollection", "features": [], "links": [{"rel": "next", "href": "file:///etc/passwd"}]}"#.into(), ConnectorErrorKind::Format, "not an http"),
    ];
    for (label, body, kind, says) in cases {
        origin.set("/api/collections/x/items", page(&body));
        let error = load(&spec, None).await.unwrap_err();
        assert_eq!(error.kind, kind, "{label}: {error}");
        assert!(error.message.contains(says), "{label}: {error}");
        assert!(
            error.url.contains("/items"),
            "{label}: names the request: {error}"
        );
    }
    // A feature whose geometry cannot be used is skipped by its id; the page still syncs.
    origin.set(
        "/api/collections/x/items",
        page(r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "id": 1, "geometry": {"type": "Point", "coordinates": [1e308, 1e308]}, "properties": {}}]}"#),
    );
    let (features, report) = load(&spec, None).await.expect("the page syncs");
    assert!(features.is_empty());
    assert_eq!(
        report.skipped_reasons,
        ["page 1: feature 1: longitude 1e308 out of range [-180, 180]"]
    );
    // A page without links is the last page.
    origin.set(
        "/api/collections/x/items",
        page(r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "id": "a", "geometry": null, "properties": {"n": 1}}]}"#),
    );
    let (features, report) = load(&spec, None).await.expect("one page");
    assert_eq!((features.len(), report.pages), (1, 1));
    // The server's own error, in its words.
    origin.set(
        "/api/collections/x/items",
        Serve::Status(
            400,
            r#"{"code": "InvalidParameterValue", "description": "limit too large"}"#,
        ),
    );
    let error = load(&spec, None).await.unwrap_err();
    assert!(error.message.contains("limit too large"), "{error}");
    // Not an OGC API at all.
    origin.set(
        "/api/conformance",
        Serve::body(json, r#"{"hello": 1}"#, None),
    );
    let error = load(&spec, None).await.unwrap_err();
    assert!(error.message.contains("conformsTo"), "{error}");
    origin.set(
        "/api/conformance",
        Serve::body(json, r#"{"conformsTo": []}"#, None),
    );
    let error = load(&spec, None).await.unwrap_err();
    assert_eq!(error.kind, ConnectorErrorKind::Spec);
    assert!(error.message.contains("conf/core"), "{error}");
}

// ------------------------------------------------------------------------------------------------- WFS

fn wfs_spec(origin: &WfsOrigin) -> SourceSpec {
    let mut spec = SourceSpec::new(SourceKind::Wfs, origin.endpoint());
    spec.options.layer = Some(WFS_TYPE.into());
    spec
}

fn check_wfs(origin: &WfsOrigin, features: &[Feature], n: usize, kind: LayerGeometry) {
    check_ogc(
        features,
        n,
        kind,
        |id| {
            id.strip_prefix("sites.")
                .expect("gml:id")
                .parse()
                .expect("numeric")
        },
        |gid| origin.row(gid),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_geojson_pages_by_start_index_sorted_on_the_key() {
    let origin = WfsOrigin::start(WfsLayer::new(N)).await;
    let (features, report) = load(&wfs_spec(&origin), None).await.expect("sync");
    say("wfs geojson, crs84, 1000 a page", &report);
    check_wfs(&origin, &features, N, LayerGeometry::Point);
    assert_eq!(report.mode, PagingMode::Offset);
    assert_eq!(report.matched, Some(N as u64));
    assert_eq!(report.pages, 50);
    assert_eq!(report.duplicates, 0);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let pages = origin.get_features();
    assert_eq!(pages.len(), 50);
    for (k, p) in pages.iter().enumerate() {
        assert_eq!(p["SORTBY"], "gid ASC");
        assert_eq!(p["STARTINDEX"], (k * 1000).to_string());
        assert_eq!(p["COUNT"], "1000");
        assert_eq!(p["OUTPUTFORMAT"], "application/json; subtype=geojson");
        assert_eq!(p["SRSNAME"], "urn:ogc:def:crs:OGC:1.3:CRS84");
        assert_eq!(p["MAP"], WFS_MAP, "the vendor parameter stays");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_gml_only_with_latitude_first_axis_order() {
    for geometry in [LayerGeometry::Point, LayerGeometry::Polygon] {
        let layer = WfsLayer {
            json: false,
            crs84: false,
            geometry,
            ..WfsLayer::new(N)
        };
        let origin = WfsOrigin::start(layer).await;
        let mut spec = wfs_spec(&origin);
        spec.options.page_size = Some(10_000);
        let (features, report) = load(&spec, None).await.expect("sync");
        say(
            &format!("wfs gml 3.2 {geometry:?}, lat/lon, CountDefault 5000"),
            &report,
        );
        check_wfs(&origin, &features, N, geometry);
        assert_eq!(report.pages, 10, "pages of CountDefault");
        for p in origin.get_features() {
            assert_eq!(p["SRSNAME"], "urn:ogc:def:crs:EPSG::4326");
            assert_eq!(p["OUTPUTFORMAT"], "application/gml+xml; version=3.2");
            assert_eq!(p["COUNT"], "5000");
        }
    }
    // GeoJSON asked for in EPSG:4326: latitude first when its crs member says so (GeoServer), longitude
    // first when it names none (MapServer).
    for json_crs_member in [true, false] {
        let origin = WfsOrigin::start(WfsLayer {
            crs84: false,
            json_crs_member,
            ..WfsLayer::new(3000)
        })
        .await;
        let (features, _) = load(&wfs_spec(&origin), None).await.expect("sync");
        check_wfs(&origin, &features, 3000, LayerGeometry::Point);
        assert!(
            origin
                .get_features()
                .iter()
                .all(|p| p["SRSNAME"] == "urn:ogc:def:crs:EPSG::4326")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_without_paging_asks_once_and_warns_at_the_cap() {
    let layer = WfsLayer {
        paging: false,
        count_default: Some(10_000),
        ..WfsLayer::new(N)
    };
    let origin = WfsOrigin::start(layer).await;
    let (features, report) = load(&wfs_spec(&origin), None).await.expect("sync");
    assert_eq!(features.len(), 10_000);
    assert_eq!(report.mode, PagingMode::Unpaged);
    assert_eq!(report.pages, 1);
    assert_eq!(report.matched, Some(N as u64));
    let warning = report.warnings.join("\n");
    assert!(
        warning.contains("does not implement result paging")
            && warning.contains("10000 of 50000")
            && warning.contains("CountDefault being 10000"),
        "{warning}"
    );
    let pages = origin.get_features();
    assert_eq!(pages.len(), 1);
    assert!(!pages[0].contains_key("STARTINDEX"));

    // Under the cap, the one request is the whole layer, without a warning.
    let small = WfsOrigin::start(WfsLayer {
        paging: false,
        count_default: Some(10_000),
        ..WfsLayer::new(4000)
    })
    .await;
    let (features, report) = load(&wfs_spec(&small), None).await.expect("sync");
    check_wfs(&small, &features, 4000, LayerGeometry::Point);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_server_that_cannot_sort_is_paged_in_its_own_order_with_a_warning() {
    let origin = WfsOrigin::start(WfsLayer {
        sorting: false,
        ..WfsLayer::new(N)
    })
    .await;
    let (features, report) = load(&wfs_spec(&origin), None).await.expect("sync");
    check_wfs(&origin, &features, N, LayerGeometry::Point);
    assert!(
        origin
            .get_features()
            .iter()
            .all(|p| !p.contains_key("SORTBY"))
    );
    assert!(report.warnings.join(" ").contains("ImplementsSorting"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_incremental_sync_and_filters_are_fes() {
    let origin = WfsOrigin::start(WfsLayer::new(N)).await;
    let mut spec = wfs_spec(&origin);
    spec.options.updated_field = Some("updated".into());
    let (first, report) = load(&spec, None).await.expect("full sync");
    assert_eq!(first.len(), N);
    let since = report.latest_update.expect("latest");
    assert_eq!(since.to_rfc3339(), "2024-02-01T00:01:39+00:00");
    let edited: Vec<i64> = (0..29).map(|k| 11 + k * 1709).collect();
    origin.edit(&edited, "2024-03-01T12:00:00Z");
    spec.options.bbox = Some("5,45,15,46".into());
    let (changes, report) = load(&spec, Some(since)).await.expect("incremental");
    let mut ids: Vec<i64> = changes
        .iter()
        .map(|f| {
            f.id.as_ref().expect("id").as_str()[6..]
                .parse()
                .expect("id")
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, edited);
    for f in &changes {
        let gid: i64 = f.id.as_ref().expect("id").as_str()[6..]
            .parse()
            .expect("id");
        assert_eq!(f.properties, origin.row(gid));
    }
    assert_eq!(
        report.latest_update.expect("latest").to_rfc3339(),
        "2024-03-01T12:00:00+00:00"
    );
    let last = origin.get_features().pop().expect("request");
    let filter = &last["FILTER"];
    assert!(
        filter.contains("<fes:And>") && filter.contains("<fes:BBOX>"),
        "{filter}"
    );
    assert!(
        filter.contains("<fes:ValueReference>updated</fes:ValueReference><fes:Literal>2024-02-01T00:01:39.000Z</fes:Literal>"),
        "{filter}"
    );
    assert!(!last.contains_key("BBOX"), "BBOX and FILTER are exclusive");

    // The source's own FES filter, alone and with a bbox.
    let mut zoned = wfs_spec(&origin);
    zoned.options.filter = Some(r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo><fes:ValueReference>zone</fes:ValueReference><fes:Literal>2</fes:Literal></fes:PropertyIsEqualTo></fes:Filter>"#.into());
    let (features, _) = load(&zoned, None).await.expect("filtered");
    assert_eq!(
        features.len(),
        (1..=N as i64)
            .filter(|g| g % 13 != 0 && g % 4 + 1 == 2)
            .count()
    );
    let mut boxed = wfs_spec(&origin);
    boxed.options.bbox = Some("5,45,6,45.005".into());
    let (features, _) = load(&boxed, None).await.expect("bbox");
    // Sites 1-99: longitudes 5.01..5.99, the first row of latitudes.
    assert_eq!(features.len(), 99);
    let last = origin.get_features().pop().expect("request");
    assert_eq!(last["BBOX"], "45,5,45.005,6,urn:ogc:def:crs:EPSG::4326");

    // An updated field that is not a date is refused up front.
    let mut wrong = wfs_spec(&origin);
    wrong.options.updated_field = Some("name".into());
    let error = load(&wrong, None).await.unwrap_err();
    assert!(error.message.contains("not a date"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_exception_reports_are_service_errors_in_the_servers_words() {
    for status in [400, 200] {
        let origin = WfsOrigin::start(WfsLayer {
            exception: Some((
                status,
                "msWFSGetFeature(): WFS server error. Invalid query".into(),
            )),
            ..WfsLayer::new(10)
        })
        .await;
        let error = load(&wfs_spec(&origin), None).await.unwrap_err();
        assert_eq!(error.kind, ConnectorErrorKind::Service, "{error}");
        assert!(
            error.message.contains("OperationProcessingFailed (GetFeature): msWFSGetFeature(): WFS server error. Invalid query"),
            "{error}"
        );
        assert!(error.url.contains("REQUEST=GetFeature"), "{error}");
    }
    let origin = WfsOrigin::start(WfsLayer::new(10)).await;
    let mut unknown = wfs_spec(&origin);
    unknown.options.layer = Some("ms:nope".into());
    let error = load(&unknown, None).await.unwrap_err();
    assert_eq!(error.kind, ConnectorErrorKind::Spec);
    assert!(
        error.message.contains("ms:other, ms:sites"),
        "lists the types: {error}"
    );
    // The bare name finds the one type that has it.
    let mut bare = wfs_spec(&origin);
    bare.options.layer = Some("sites".into());
    assert_eq!(load(&bare, None).await.expect("sync").0.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_server_that_ignores_the_start_index_ends_with_an_error() {
    let origin = WfsOrigin::start(WfsLayer {
        ignores_start_index: true,
        ..WfsLayer::new(N)
    })
    .await;
    let error = load(&wfs_spec(&origin), None).await.unwrap_err();
    eprintln!("wfs ignoring STARTINDEX: {error}");
    assert_eq!(error.kind, ConnectorErrorKind::Loop);
    assert_eq!(error.page, Some(21));
    assert!(error.to_string().contains("STARTINDEX="), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfs_hostile_answers_are_errors_not_panics() {
    let origin = FeedOrigin::start().await;
    let caps_of = |version: &str| {
        format!(
            r#"<wfs:WFS_Capabilities xmlns:wfs="http://www.opengis.net/wfs/2.0" version="{version}"><wfs:FeatureTypeList><wfs:FeatureType><wfs:Name>a</wfs:Name><wfs:DefaultCRS>urn:ogc:def:crs:EPSG::4326</wfs:DefaultCRS></wfs:FeatureType></wfs:FeatureTypeList></wfs:WFS_Capabilities>"#
        )
    };
    let mut spec = SourceSpec::new(SourceKind::Wfs, origin.at("/wfs"));
    spec.options.layer = Some("a".into());
    let xml = "text/xml";
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><wfs:WFS_Capabilities version="2.0.0">&lol2;</wfs:WFS_Capabilities>"#;
    for (label, body, says) in [
        ("xml bomb", bomb.to_string(), "DOCTYPE"),
        ("truncated", caps_of("2.0.0")[..120].to_string(), "not XML"),
        ("wfs 1.1", caps_of("1.1.0"), "WFS 1.1.0"),
        (
            "html",
            "<html><body>Gateway</body></html>".to_string(),
            "not WFS_Capabilities",
        ),
    ] {
        origin.set("/wfs", Serve::body(xml, body, None));
        let error = load(&spec, None).await.unwrap_err();
        assert!(error.message.contains(says), "{label}: {error}");
    }
    // The path answers one body to every request: capabilities and schema alike would be the same; a
    // schema that is not one is an error naming the request.
    origin.set("/wfs", Serve::body(xml, caps_of("2.0.0"), None));
    let error = load(&spec, None).await.unwrap_err();
    assert!(error.url.contains("DescribeFeatureType"), "{error}");
    assert!(error.message.contains("not an XML Schema"), "{error}");
}
