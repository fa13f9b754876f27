//! Push-down: a dataset larger than the configured index budget is served by PostGIS itself (items through
//! its GiST index, tiles through ST_AsMVT), and answers as the in-memory index answers the same data: the
//! same features in the same order page after page, and the same features in every tile.

use std::collections::BTreeSet;

use geoconsole_app::{Console, ExposureRequest, Hits, ImportOptions, ItemsRequest, Page};
use geoconsole_model::{Bbox, DatasetId, DatasetKind};
use geoconsole_query::{DateTimeFilter, FilterLang};
use geoconsole_testkit::{TempStore, fixture, serve_console, temp_postgis};
use geoconsole_tiles::TileId;
use geozero::mvt::{Message, Tile};

async fn loaded() -> TempStore {
    let store = temp_postgis().await;
    for (file, id, kind) in [
        (
            "demo/usgs_all_week_2023-04-07.geojson",
            "earthquakes",
            DatasetKind::Events,
        ),
        (
            "demo/ne_110m_populated_places.geojson",
            "cities",
            DatasetKind::Sites,
        ),
    ] {
        store
            .console()
            .import(
                &fixture(file),
                ImportOptions {
                    dataset: Some(id.parse().expect("id")),
                    kind: Some(kind),
                    ..ImportOptions::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("import {file}: {e}"));
    }
    store
}

/// Every feature id a listing returns, following `next` from the first page.
async fn ids(console: &Console, request: ItemsRequest) -> Vec<String> {
    let id: DatasetId = "earthquakes".parse().expect("id");
    let mut out = Vec::new();
    let mut page = Page::First;
    loop {
        let got = console
            .items(
                &geoconsole_app::Scope::everything(),
                &id,
                ItemsRequest {
                    page,
                    ..request.clone()
                },
            )
            .await
            .expect("items");
        assert!(got.items.len() <= request.limit);
        out.extend(
            got.items
                .to_features()
                .into_iter()
                .map(|f| f.id.expect("id").0),
        );
        match got.next {
            Some(key) => page = Page::After(key),
            None => return out,
        }
    }
}

fn tile_ids(bytes: &[u8]) -> BTreeSet<(String, String)> {
    let tile = Tile::decode(bytes).expect("a valid MVT");
    let mut ids = BTreeSet::new();
    for layer in tile.layers {
        for feature in &layer.features {
            // The `id` attribute: the feature's own id, as a string value.
            let value = feature
                .tags
                .chunks(2)
                .find(|kv| layer.keys[kv[0] as usize] == "id")
                .and_then(|kv| layer.values[kv[1] as usize].string_value.clone())
                .expect("every feature carries its id");
            ids.insert((layer.name.clone(), value));
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_answers_like_the_index() {
    let store = loaded().await;
    let indexed = store.console();
    indexed.start_live().await.expect("index");
    let pushed = store.console().with_push_down(
        store.push_down_store().expect("PostGIS answers itself"),
        1000,
    );
    pushed.start_live().await.expect("metadata");
    let id: DatasetId = "earthquakes".parse().expect("id");
    assert!(pushed.live().is_pushed_down(&id), "2,389 features > 1,000");
    assert!(!indexed.live().is_pushed_down(&id));
    assert_eq!(pushed.live().dataset(&id), indexed.live().dataset(&id));

    let filter = |text: &str| {
        Some(
            geoconsole_app::compile_filter(
                &indexed.live().dataset(&id).expect("dataset"),
                text,
                FilterLang::Text,
            )
            .expect("filter"),
        )
    };
    let window =
        DateTimeFilter::parse("2023-04-03T00:00:00Z/2023-04-05T00:00:00Z").expect("window");
    let requests = [
        ItemsRequest {
            limit: 250,
            ..ItemsRequest::default()
        },
        ItemsRequest {
            bbox: Some(Bbox {
                west: -130.0,
                south: 30.0,
                east: -110.0,
                north: 45.0,
            }),
            limit: 37,
            ..ItemsRequest::default()
        },
        // Across the antimeridian.
        ItemsRequest {
            bbox: Some(Bbox {
                west: 170.0,
                south: -60.0,
                east: -170.0,
                north: 60.0,
            }),
            limit: 50,
            ..ItemsRequest::default()
        },
        ItemsRequest {
            datetime: Some(window),
            limit: 100,
            ..ItemsRequest::default()
        },
        ItemsRequest {
            filter: filter("mag >= 4.5"),
            limit: 20,
            ..ItemsRequest::default()
        },
        ItemsRequest {
            bbox: Some(Bbox {
                west: -180.0,
                south: -90.0,
                east: 0.0,
                north: 90.0,
            }),
            datetime: Some(window),
            filter: filter("mag > 2 AND magType = 'ml'"),
            limit: 15,
            ..ItemsRequest::default()
        },
    ];
    for request in requests {
        let from_index = ids(&indexed, request.clone()).await;
        let from_database = ids(&pushed, request.clone()).await;
        assert!(!from_index.is_empty(), "{request:?} selects something");
        assert_eq!(from_database, from_index, "{request:?}");
    }

    // Tiles: the same features in each, at every zoom a user pans through.
    let earthquakes = [id.clone()];
    let mut compared = 0;
    for (z, x, y) in [
        (0, 0, 0),
        (1, 0, 0),
        (2, 0, 1),
        (3, 1, 3),
        (4, 2, 6),
        (5, 5, 12),
        (6, 10, 24),
        (3, 7, 3),
    ] {
        let tile = TileId::new(z, x, y).expect("tile");
        let a = indexed
            .tile(
                &geoconsole_app::Scope::everything(),
                &earthquakes,
                tile,
                None,
                None,
            )
            .await
            .expect("index tile");
        let b = pushed
            .tile(
                &geoconsole_app::Scope::everything(),
                &earthquakes,
                tile,
                None,
                None,
            )
            .await
            .expect("database tile");
        let (a, b) = (tile_ids(&a.bytes), tile_ids(&b.bytes));
        let only_index: Vec<_> = a.difference(&b).take(5).collect();
        let only_database: Vec<_> = b.difference(&a).take(5).collect();
        assert!(
            a == b,
            "tile {z}/{x}/{y}: {} features from the index, {} from the database; only in the index {only_index:?}, only in the database {only_database:?}",
            a.len(),
            b.len()
        );
        compared += a.len();
    }
    assert!(compared > 2000, "the tiles held features ({compared})");
    let a = indexed
        .tile(
            &geoconsole_app::Scope::everything(),
            &earthquakes,
            TileId::new(1, 0, 0).expect("tile"),
            Some(window),
            None,
        )
        .await
        .expect("index tile");
    let b = pushed
        .tile(
            &geoconsole_app::Scope::everything(),
            &earthquakes,
            TileId::new(1, 0, 0).expect("tile"),
            Some(window),
            None,
        )
        .await
        .expect("database tile");
    assert_eq!(tile_ids(&b.bytes), tile_ids(&a.bytes), "time-filtered tile");

    // Exposure: cities within reach of the week's quakes, by a magnitude model and by one fixed
    // radius, listing every hit and each site's nearest only. With the quakes in the database, PostGIS
    // selects the candidates through its GiST index; the answer is the same.
    for (radius_km, hits) in [
        (None, Hits::All),
        (Some(300.0), Hits::All),
        (Some(300.0), Hits::Nearest),
        (None, Hits::Nearest),
    ] {
        // A generous magnitude model (M4 → 316 km, M6 → 1000 km) so that the week reaches some cities.
        let generous = geoconsole_analytics::ImpactModel::Magnitude {
            property: "mag".into(),
            a: 0.5,
            b: 0.5,
            min_km: 1.0,
            max_km: 1000.0,
        };
        let request = ExposureRequest {
            sites: vec!["cities".parse().expect("id")],
            hazards: vec![id.clone()],
            radius_km,
            hits,
            models: [(id.clone(), generous)].into_iter().collect(),
            ..ExposureRequest::default()
        };
        let a = indexed
            .exposure(&geoconsole_app::Scope::everything(), request.clone())
            .await
            .expect("exposure from the index");
        let b = pushed
            .exposure(&geoconsole_app::Scope::everything(), request)
            .await
            .expect("exposure with the database");
        let summary = |r: &geoconsole_app::ExposureReport| {
            r.exposure
                .exposed
                .iter()
                .map(|s| {
                    // Names and reasons too: the index reads them from its property table, the
                    // database's candidates from the store.
                    let hits: Vec<(String, i64, String)> = s
                        .hits
                        .iter()
                        .map(|h| {
                            (
                                h.event.clone(),
                                (h.distance_m * 1000.0).round() as i64,
                                h.reason.clone(),
                            )
                        })
                        .collect();
                    (s.site.clone(), s.name.clone(), s.hit_count, hits)
                })
                .collect::<Vec<_>>()
        };
        assert!(
            !a.exposure.exposed.is_empty(),
            "{radius_km:?}: some city is exposed"
        );
        assert_eq!(
            summary(&b),
            summary(&a),
            "radius {radius_km:?}, hits {hits:?}"
        );
        assert!(
            b.exposure.events_checked < a.exposure.events_checked,
            "the database preselected candidates ({} of {})",
            b.exposure.events_checked,
            a.exposure.events_checked
        );
    }

    // Over HTTP, the dataset is listed and served like any other.
    let server = serve_console(store, pushed).await;
    let collections = server.get("/collections").await.json();
    assert!(
        collections["collections"]
            .as_array()
            .expect("collections")
            .iter()
            .any(|c| c["id"] == "earthquakes"),
        "{collections}"
    );
    let page = server
        .get("/collections/earthquakes/items?bbox=-130,30,-110,45&limit=5")
        .await
        .json();
    assert_eq!(page["features"].as_array().expect("features").len(), 5);
    let next = page["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["rel"] == "next")
        .expect("a next link")["href"]
        .as_str()
        .expect("href")
        .to_string();
    let path = &next[next.find("/collections").expect("path")..];
    let second = server.get(path).await.json();
    assert_eq!(second["features"].as_array().expect("features").len(), 5);
    assert_ne!(second["features"][0]["id"], page["features"][0]["id"]);
    let mvt = server.get("/tiles/earthquakes/2/0/1.mvt").await;
    assert_eq!(mvt.status, 200);
    assert!(!tile_ids(&mvt.body).is_empty());
}

/// Cluster counts of a tile's point layer: (clusters, points they stand for); single features count one.
fn clustered(bytes: &[u8]) -> (usize, u64) {
    let tile = Tile::decode(bytes).expect("a valid MVT");
    let mut clusters = 0;
    let mut points = 0;
    for layer in tile.layers {
        for feature in &layer.features {
            let count = feature
                .tags
                .chunks(2)
                .find(|kv| layer.keys[kv[0] as usize] == "point_count")
                .map(|kv| {
                    let v = &layer.values[kv[1] as usize];
                    v.uint_value
                        .or(v.int_value.map(|i| i as u64))
                        .or(v.sint_value.map(|i| i as u64))
                        .expect("a count")
                });
            if let Some(n) = count {
                clusters += 1;
                points += n;
            } else {
                points += 1;
            }
        }
    }
    (clusters, points)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_point_tiles_are_clustered_by_the_database_as_by_the_index() {
    let store = temp_postgis().await;
    // 6,000 points around the Alps: one z4 tile holds them all, more than the 4,000 a tile sends one by one.
    let points = (0..6000).map(|i| {
        let (col, row) = (i % 80, i / 80);
        geoconsole_testkit::point(
            &format!("d{i}"),
            9.0 + f64::from(col) * 0.05,
            45.0 + f64::from(row) * 0.03,
            serde_json::json!({"n": i}),
        )
    });
    store
        .console()
        .import_features(
            "dense",
            points,
            ImportOptions {
                dataset: Some("dense".parse().expect("id")),
                kind: Some(DatasetKind::Events),
                ..ImportOptions::default()
            },
        )
        .await
        .expect("import");
    let indexed = store.console();
    indexed.start_live().await.expect("index");
    let pushed = store
        .console()
        .with_push_down(store.push_down_store().expect("PostGIS"), 100);
    pushed.start_live().await.expect("metadata");
    let dense = ["dense".parse::<DatasetId>().expect("id")];
    let mut clustered_tiles = 0;
    for (z, x, y) in [(4, 8, 5), (5, 16, 11), (9, 268, 181)] {
        let tile = TileId::new(z, x, y).expect("tile");
        let a = indexed
            .tile(
                &geoconsole_app::Scope::everything(),
                &dense,
                tile,
                None,
                None,
            )
            .await
            .expect("index tile");
        let b = pushed
            .tile(
                &geoconsole_app::Scope::everything(),
                &dense,
                tile,
                None,
                None,
            )
            .await
            .expect("database tile");
        let (a, b) = (clustered(&a.bytes), clustered(&b.bytes));
        assert_eq!(
            b.1, a.1,
            "tile {z}/{x}/{y}: the same points, clustered or not"
        );
        if a.1 > 4000 {
            assert!(
                a.0 > 0 && b.0 > 0,
                "tile {z}/{x}/{y} is clustered on both paths: {a:?} {b:?}"
            );
            // Cells are the same; a point exactly on a cell's edge may fall on either side of it.
            clustered_tiles += 1;
            let diff = a.0.abs_diff(b.0) as f64 / a.0 as f64;
            assert!(
                diff < 0.02,
                "tile {z}/{x}/{y}: {} clusters from the index, {} from the database",
                a.0,
                b.0
            );
        } else {
            assert_eq!(
                (a.0, b.0),
                (0, 0),
                "{} points: sent one by one on both paths",
                a.1
            );
        }
    }
    assert!(
        clustered_tiles > 0,
        "a tile dense enough to cluster was compared"
    );
}
