//! A DATETIME column holds the GeoPackage form only (`YYYY-MM-DDTHH:MM:SS.SSSZ`), whichever of dates,
//! date-times and nulls came first, so GDAL reads it without warnings; text columns keep text as written.

use geoconsole_gpkg::GpkgStore;
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{DatasetId, DatasetKind, Feature, FeatureId, Properties, TimeFields};
use geoconsole_store::{FeatureStore, WriteMode, WriteRequest};
use serde_json::{Value, json};

fn feature(i: u32, values: [Value; 4]) -> Feature {
    let mut properties = Properties::new();
    for (name, value) in ["date_first", "datetime_first", "null_first", "text_first"]
        .into_iter()
        .zip(values)
    {
        properties.insert(name.into(), value);
    }
    Feature {
        id: Some(FeatureId(format!("f{i}"))),
        geometry: Some(Geometry::Point(Point::new(f64::from(i), 1.0))),
        time: None,
        properties,
    }
}

// Found by an outside tester: a field of dates and date-times became a DATETIME column holding bare dates,
// which `ogrinfo` reports as non-conformant content.
#[tokio::test]
async fn dates_beside_date_times_are_stored_as_their_midnight() {
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("times.gpkg");
    let store = GpkgStore::open(&path).expect("open");
    let mut writer = store
        .begin_write(WriteRequest {
            id: DatasetId::new("times").expect("id"),
            title: "times".into(),
            kind: DatasetKind::Events,
            source: "test".into(),
            time_fields: TimeFields::default(),
            id_field: None,
            mode: WriteMode::Create,
            skip_conflicts: false,
        })
        .await
        .expect("begin");
    let later = "2024-05-01T10:00:00+02:00";
    writer
        .write(vec![
            feature(
                1,
                [
                    json!("2024-05-02"),
                    json!(later),
                    Value::Null,
                    json!("soon"),
                ],
            ),
            feature(
                2,
                [
                    json!(later),
                    json!("2024-05-02"),
                    json!(later),
                    json!(later),
                ],
            ),
        ])
        .await
        .expect("write");
    writer.commit().await.expect("commit");

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
