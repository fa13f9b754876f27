//! `properties_by_key` serves readers that already hold the shapes (tiles): it must answer without reading
//! the geometry column at all, which a feature whose blob no longer decodes proves.

use geoconsole_gpkg::GpkgStore;
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{DatasetId, DatasetKind, Feature, FeatureId, Properties, TimeFields};
use geoconsole_store::{FeatureStore, Fields, WriteMode, WriteRequest};
use serde_json::json;

fn feature(i: u32) -> Feature {
    let mut properties = Properties::new();
    properties.insert("name".into(), json!(format!("p{i}")));
    properties.insert("rank".into(), json!(i));
    Feature {
        id: Some(FeatureId(format!("f{i}"))),
        geometry: Some(Geometry::Point(Point::new(f64::from(i), 1.0))),
        time: None,
        properties,
    }
}

#[tokio::test]
async fn properties_are_read_without_touching_geometry() {
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("props.gpkg");
    let store = GpkgStore::open(&path).expect("open");
    let id = DatasetId::new("spots").expect("id");
    let mut writer = store
        .begin_write(WriteRequest {
            id: id.clone(),
            title: "spots".into(),
            kind: DatasetKind::Events,
            source: "test".into(),
            time_fields: TimeFields::default(),
            id_field: None,
            mode: WriteMode::Create,
            skip_conflicts: false,
        })
        .await
        .expect("begin");
    writer
        .write((1..=3).map(feature).collect())
        .await
        .expect("write");
    writer.commit().await.expect("commit");

    // Every geometry becomes bytes no decoder accepts. The R-tree triggers would recompute extents from the
    // blob with functions only the store's own connections register; this reader needs none of them.
    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'spots'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("triggers")
        .collect::<Result<_, _>>()
        .expect("names");
    for trigger in triggers {
        conn.execute_batch(&format!("DROP TRIGGER \"{trigger}\""))
            .expect("drop trigger");
    }
    conn.execute("UPDATE spots SET geom = x'DEADBEEF'", [])
        .expect("corrupt geometries");
    drop(conn);

    assert!(
        store.features_by_key(&id, vec![1, 2, 3]).await.is_err(),
        "whole features decode the geometry and fail"
    );
    let rows = store
        .properties_by_key(&id, vec![3, 1], &Fields::All)
        .await
        .expect("properties need no geometry");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].key, 3);
    assert_eq!(rows[0].id.0, "f3");
    assert_eq!(rows[0].properties.get("name"), Some(&json!("p3")));
    assert_eq!(rows[1].properties.get("rank"), Some(&json!(1)));
    let names = store
        .properties_by_key(&id, vec![2], &Fields::Only(vec!["rank".into()]))
        .await
        .expect("one property");
    assert_eq!(
        names[0].properties.keys().collect::<Vec<_>>(),
        vec!["rank"],
        "only the asked property"
    );
}
