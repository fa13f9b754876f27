//! The bulk-loaded R-tree must be one SQLite's own `rtreecheck` accepts, answer like a scan, and stay valid
//! when the rtree module and the GeoPackage triggers take over for later writes.

use geoconsole_gpkg::GpkgStore;
use geoconsole_model::geo_types::{Geometry, LineString, Point, Polygon};
use geoconsole_model::{Bbox, DatasetId, DatasetKind, Feature, FeatureId, Properties, TimeFields};
use geoconsole_query::FeatureQuery;
use geoconsole_store::{FeatureStore, WriteMode, WriteRequest};

fn request(mode: WriteMode) -> WriteRequest {
    WriteRequest {
        id: DatasetId::new("grid").expect("id"),
        title: "grid".into(),
        kind: DatasetKind::Events,
        source: "test".into(),
        time_fields: TimeFields::default(),
        id_field: None,
        mode,
        skip_conflicts: false,
    }
}

/// A deterministic spread of points and small polygons over the globe, antimeridian included.
fn features(n: usize, prefix: &str) -> Vec<Feature> {
    (0..n)
        .map(|i| {
            let x = ((i * 7919) % 36_000) as f64 / 100.0 - 180.0;
            let y = ((i * 104_729) % 17_000) as f64 / 100.0 - 85.0;
            let geometry: Geometry<f64> = if i % 10 == 0 {
                let x = x.min(179.0);
                Polygon::new(
                    LineString::from(vec![(x, y), (x + 0.5, y), (x + 0.5, y + 0.5), (x, y)]),
                    vec![],
                )
                .into()
            } else {
                Point::new(x, y).into()
            };
            Feature {
                id: Some(FeatureId(format!("{prefix}{i}"))),
                geometry: Some(geometry),
                time: None,
                properties: Properties::new(),
            }
        })
        .collect()
}

fn rtreecheck(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row("SELECT rtreecheck('rtree_grid_geom')", [], |r| r.get(0))
        .expect("rtreecheck")
}

async fn count_in(store: &GpkgStore, bbox: &str) -> usize {
    let query = FeatureQuery {
        bbox: Some(Bbox::parse(bbox).expect("bbox")),
        ..FeatureQuery::all()
    };
    store
        .query(&DatasetId::new("grid").expect("id"), &query)
        .await
        .expect("query")
        .features
        .len()
}

fn brute_force(all: &[Feature], bbox: &str) -> usize {
    let bbox = Bbox::parse(bbox).expect("bbox");
    all.iter()
        .filter(|f| {
            f.geometry
                .as_ref()
                .and_then(Bbox::of_geometry)
                .is_some_and(|b| b.intersects(&bbox))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_loaded_rtree_passes_rtreecheck_and_matches_a_scan() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("rtree.gpkg");
    let store = GpkgStore::open(&path).expect("store");
    // 20,000 entries: three levels of 51-cell nodes.
    let mut all = features(20_000, "a");
    let mut writer = store
        .begin_write(request(WriteMode::Create))
        .await
        .expect("begin");
    writer.write(all.clone()).await.expect("write");
    writer.commit().await.expect("commit");
    assert_eq!(rtreecheck(&path), "ok");
    for bbox in [
        "-10,35,30,60",
        "170,-50,-170,50",
        "-180,-90,180,90",
        "100.1,0.1,100.2,0.2",
    ] {
        assert_eq!(
            count_in(&store, bbox).await,
            brute_force(&all, bbox),
            "{bbox}"
        );
    }

    // Later writes go through the rtree module and the standard triggers.
    let more = features(3_000, "b");
    let mut writer = store
        .begin_write(request(WriteMode::Append))
        .await
        .expect("begin");
    writer.write(more.clone()).await.expect("append");
    writer.commit().await.expect("commit");
    all.extend(more);
    let mut moved = all[5].clone();
    moved.geometry = Some(Point::new(12.5, 47.5).into());
    let mut writer = store
        .begin_write(request(WriteMode::Upsert))
        .await
        .expect("begin");
    writer.write(vec![moved.clone()]).await.expect("upsert");
    writer.commit().await.expect("commit");
    all[5] = moved;
    assert_eq!(rtreecheck(&path), "ok");
    for bbox in ["-10,35,30,60", "170,-50,-170,50", "12,47,13,48"] {
        assert_eq!(
            count_in(&store, bbox).await,
            brute_force(&all, bbox),
            "{bbox}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_tables_get_a_leaf_root() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("small.gpkg");
    let store = GpkgStore::open(&path).expect("store");
    for n in [1, 51, 52] {
        let mut writer = store
            .begin_write(request(WriteMode::Replace))
            .await
            .expect("begin");
        writer.write(features(n, "s")).await.expect("write");
        writer.commit().await.expect("commit");
        assert_eq!(rtreecheck(&path), "ok", "{n} entries");
        assert_eq!(count_in(&store, "-180,-90,180,90").await, n);
    }
}

// A fresh table is loaded with multi-row `INSERT OR FAIL`, which keeps the rows before a duplicate: the writer
// must count them once, in the table, the extent and the bulk-loaded R-tree, and name the duplicate's position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_inside_a_multi_row_insert_are_refused_by_position() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("dupes.gpkg");
    let store = GpkgStore::open(&path).expect("store");
    let mut all = features(200, "d");
    // Positions 40 and 41 repeat ids already written in the same block of rows and in an earlier one.
    all[40].id = all[35].id.clone();
    all[41].id = all[3].id.clone();
    let mut lenient = request(WriteMode::Create);
    lenient.skip_conflicts = true;
    let mut writer = store.begin_write(lenient).await.expect("begin");
    let conflicts = writer.write(all.clone()).await.expect("write");
    assert_eq!(
        conflicts.iter().map(|c| c.position).collect::<Vec<_>>(),
        vec![40, 41]
    );
    let dataset = writer.commit().await.expect("commit");
    assert_eq!(dataset.feature_count, 198);
    assert_eq!(rtreecheck(&path), "ok");
    let kept: Vec<Feature> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 40 && *i != 41)
        .map(|(_, f)| f.clone())
        .collect();
    for bbox in ["-180,-90,180,90", "-10,35,30,60", "170,-50,-170,50"] {
        assert_eq!(
            count_in(&store, bbox).await,
            brute_force(&kept, bbox),
            "{bbox}"
        );
    }
    let rows: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT count(*) FROM rtree_grid_geom", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 198);

    let strict_path = dir.path().join("strict.gpkg");
    let strict = GpkgStore::open(&strict_path).expect("store");
    let mut writer = strict
        .begin_write(request(WriteMode::Create))
        .await
        .expect("begin");
    let error = writer
        .write(all)
        .await
        .expect_err("a duplicate fails the write");
    assert_eq!(error.position(), Some(40));
}
