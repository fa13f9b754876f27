//! Property columns of the GeoPackage store. `properties_by_key` serves readers that already hold the shapes
//! (tiles): it must answer without reading the geometry column at all, which a feature whose blob no longer
//! decodes proves. A DATETIME column holds the GeoPackage form only (`YYYY-MM-DDTHH:MM:SS.SSSZ`), whichever
//! of dates, date-times and nulls came first, so GDAL reads it without warnings; text columns keep text as
//! written.

use geoconsole_gpkg::GpkgStore;
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{DatasetId, DatasetKind, Feature, FeatureId, Properties, TimeFields};
use geoconsole_store::{FeatureStore, Fields, WriteMode, WriteRequest};
use serde_json::{Value, json};

fn feature(i: u32, properties: &[(&str, Value)]) -> Feature {
    Feature {
        id: Some(FeatureId(format!("f{i}"))),
        geometry: Some(Geometry::Point(Point::new(f64::from(i), 1.0))),
        time: None,
        properties: properties
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect::<Properties>(),
    }
}

/// A new dataset `name` in a GeoPackage at `path`, holding `features`.
/// A writer creating dataset `name` in `store`.
async fn begin(store: &GpkgStore, name: &str) -> Box<dyn geoconsole_store::DatasetWriter> {
    store
        .begin_write(WriteRequest {
            id: DatasetId::new(name).expect("id"),
            title: name.into(),
            kind: DatasetKind::Events,
            source: "test".into(),
            time_fields: TimeFields::default(),
            id_field: None,
            mode: WriteMode::Create,
            skip_conflicts: false,
        })
        .await
        .expect("begin")
}

async fn create(path: &std::path::Path, name: &str, features: Vec<Feature>) -> GpkgStore {
    let store = GpkgStore::open(path).expect("open");
    let mut writer = begin(&store, name).await;
    writer.write(features).await.expect("write");
    writer.commit().await.expect("commit");
    store
}

#[tokio::test]
async fn properties_are_read_without_touching_geometry() {
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("props.gpkg");
    let spots = (1..=3)
        .map(|i| feature(i, &[("name", json!(format!("p{i}"))), ("rank", json!(i))]))
        .collect();
    let store = create(&path, "spots", spots).await;
    let id = DatasetId::new("spots").expect("id");

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

// Found by an outside tester: a field of dates and date-times became a DATETIME column holding bare dates,
// which `ogrinfo` reports as non-conformant content.
/// A field whose first values are date-times is a DATETIME column until a value that is none makes it
/// text. The date-times written before then are its text as the source wrote them, not their UTC rewrite,
/// across separate writes of one import; a field that stays DATETIME gets the GeoPackage form.
#[tokio::test]
async fn date_times_keep_their_text_when_the_field_becomes_text() {
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("retyped.gpkg");
    let store = GpkgStore::open(&path).expect("open");
    let mut writer = begin(&store, "retyped").await;
    let written = [
        ("2024-05-01T10:00:00+02:00", "2024-05-01 10:00:00Z"),
        ("2024-05-02", "2024-05-02"),
        ("2024-05-01T08:00:00.000Z", "2024-05-01T08:00:00.000Z"),
        ("next week", "2024-05-01T10:00:00-03:00"),
    ];
    for (i, (becomes_text, stays)) in written.iter().enumerate() {
        let row = feature(
            i as u32 + 1,
            &[
                ("becomes_text", json!(becomes_text)),
                ("stays", json!(stays)),
            ],
        );
        writer.write(vec![row]).await.expect("write");
    }
    writer.commit().await.expect("commit");

    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    let declared: Vec<String> = conn
        .prepare("SELECT type FROM pragma_table_info('retyped') WHERE name IN ('becomes_text', 'stays') ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("columns")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(declared, ["TEXT", "DATETIME"]);
    let rows: Vec<(String, String, String)> = conn
        .prepare("SELECT becomes_text, stays, typeof(stays) FROM retyped ORDER BY fid")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("values");
    let expected: Vec<(String, String, String)> = written
        .iter()
        .zip([
            "2024-05-01T10:00:00.000Z",
            "2024-05-02T00:00:00.000Z",
            "2024-05-01T08:00:00.000Z",
            "2024-05-01T13:00:00.000Z",
        ])
        .map(|((text, _), stays)| (text.to_string(), stays.to_string(), "text".to_string()))
        .collect();
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn dates_beside_date_times_are_stored_as_their_midnight() {
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("times.gpkg");
    let later = "2024-05-01T10:00:00+02:00";
    let fields = |values: [Value; 4]| {
        ["date_first", "datetime_first", "null_first", "text_first"]
            .into_iter()
            .zip(values)
            .collect::<Vec<_>>()
    };
    let times = vec![
        feature(
            1,
            &fields([
                json!("2024-05-02"),
                json!(later),
                Value::Null,
                json!("soon"),
            ]),
        ),
        feature(
            2,
            &fields([
                json!(later),
                json!("2024-05-02"),
                json!(later),
                json!(later),
            ]),
        ),
    ];
    create(&path, "times", times).await;

    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    let declared: Vec<(String, String)> = conn
        .prepare("SELECT name, type FROM pragma_table_info('times') WHERE name LIKE '%_first'")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("columns")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        declared,
        [
            ("date_first".into(), "DATETIME".into()),
            ("datetime_first".into(), "DATETIME".into()),
            ("null_first".into(), "DATETIME".into()),
            ("text_first".into(), "TEXT".into()),
        ]
    );
    let rows: Vec<[Option<String>; 4]> = conn
        .prepare(
            "SELECT date_first, datetime_first, null_first, text_first FROM times ORDER BY fid",
        )
        .expect("prepare")
        .query_map([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("values");
    let (midnight, canonical) = ("2024-05-02T00:00:00.000Z", "2024-05-01T08:00:00.000Z");
    let text = |s: &str| Some(s.to_string());
    assert_eq!(
        rows,
        [
            [text(midnight), text(canonical), None, text("soon")],
            [
                text(canonical),
                text(midnight),
                text(canonical),
                text(later)
            ],
        ]
    );
}
