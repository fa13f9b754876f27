//! The console's catalog table `gc_datasets`: one row per dataset with what a PostGIS table has no place for
//! (kind, time fields, typed schema, version, extent).

use chrono::{DateTime, Utc};
use geoconsole_model::{Bbox, Dataset, DatasetId, GeometryType, Schema, TimeFields, TimeSpan};
use geoconsole_store::{StoreError, StoreErrorKind, StoreResult};
use tokio_postgres::GenericClient;
use tokio_postgres::Row;

const SELECT: &str = "SELECT id, title, kind, geometry_type, time_start_field, time_end_field, id_field, schema, \
    source, version, feature_count, min_x, min_y, max_x, max_y, time_start, time_end, created, updated FROM gc_datasets";

fn corrupt(id: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::new(
        StoreErrorKind::Internal,
        format!("catalog row of dataset '{id}' is not readable: {why}"),
    )
}

fn dataset_from_row(row: &Row) -> StoreResult<Dataset> {
    let id: String = row.get(0);
    let kind: String = row.get(2);
    let schema: String = row.get(7);
    let extent = bbox_at(row, 11);
    let time_extent = match (
        row.get::<_, Option<DateTime<Utc>>>(15),
        row.get::<_, Option<DateTime<Utc>>>(16),
    ) {
        (Some(start), Some(end)) => Some(TimeSpan { start, end }),
        _ => None,
    };
    Ok(Dataset {
        id: DatasetId::new(id.clone()).map_err(|e| corrupt(&id, e))?,
        title: row.get(1),
        kind: kind.parse().map_err(|e| corrupt(&id, e))?,
        geometry_type: GeometryType::from_gpkg_name(row.get(3)).unwrap_or(GeometryType::Geometry),
        time_fields: TimeFields {
            start: row.get(4),
            end: row.get(5),
        },
        id_field: row.get(6),
        schema: serde_json::from_str::<Schema>(&schema).map_err(|e| corrupt(&id, e))?,
        source: row.get(8),
        version: row.get::<_, i64>(9).max(0) as u64,
        feature_count: row.get::<_, i64>(10).max(0) as u64,
        extent,
        time_extent,
        created: row.get(17),
        updated: row.get(18),
    })
}

/// A bbox from four nullable columns `west, south, east, north` starting at `first`; `None` if any is NULL.
pub fn bbox_at(row: &Row, first: usize) -> Option<Bbox> {
    match (
        row.get::<_, Option<f64>>(first),
        row.get::<_, Option<f64>>(first + 1),
        row.get::<_, Option<f64>>(first + 2),
        row.get::<_, Option<f64>>(first + 3),
    ) {
        (Some(west), Some(south), Some(east), Some(north)) => Some(Bbox {
            west,
            south,
            east,
            north,
        }),
        _ => None,
    }
}

/// One dataset as committed, `None` when it does not exist. `lock` takes the row for update, so two
/// writers of one dataset take turns.
pub async fn load(
    client: &impl GenericClient,
    id: &DatasetId,
    lock: bool,
) -> Result<Option<StoreResult<Dataset>>, tokio_postgres::Error> {
    let sql = format!(
        "{SELECT} WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = client.query_opt(&sql, &[&id.as_str()]).await?;
    Ok(row.as_ref().map(dataset_from_row))
}

pub async fn list(
    client: &impl GenericClient,
) -> Result<Vec<StoreResult<Dataset>>, tokio_postgres::Error> {
    let rows = client.query(&format!("{SELECT} ORDER BY id"), &[]).await?;
    Ok(rows.iter().map(dataset_from_row).collect())
}

/// Writes the catalog row.
pub async fn save(client: &impl GenericClient, d: &Dataset) -> Result<(), tokio_postgres::Error> {
    let schema = serde_json::to_string(&d.schema).unwrap_or_else(|_| "{}".into());
    let [west, south, east, north] = d
        .extent
        .map(|e| e.to_vec())
        .map_or([None; 4], |v| v.map(Some));
    client
        .execute(
            "INSERT INTO gc_datasets (id, title, kind, geometry_type, time_start_field, time_end_field, id_field, \
             schema, source, version, feature_count, min_x, min_y, max_x, max_y, time_start, time_end, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, kind = EXCLUDED.kind, \
             geometry_type = EXCLUDED.geometry_type, time_start_field = EXCLUDED.time_start_field, \
             time_end_field = EXCLUDED.time_end_field, id_field = EXCLUDED.id_field, schema = EXCLUDED.schema, \
             source = EXCLUDED.source, version = EXCLUDED.version, feature_count = EXCLUDED.feature_count, \
             min_x = EXCLUDED.min_x, min_y = EXCLUDED.min_y, max_x = EXCLUDED.max_x, max_y = EXCLUDED.max_y, \
             time_start = EXCLUDED.time_start, time_end = EXCLUDED.time_end, updated = EXCLUDED.updated",
            &[
                &d.id.as_str(),
                &d.title,
                &d.kind.as_str(),
                &d.geometry_type.gpkg_name(),
                &d.time_fields.start,
                &d.time_fields.end,
                &d.id_field,
                &schema,
                &d.source,
                &(d.version as i64),
                &(d.feature_count as i64),
                &west,
                &south,
                &east,
                &north,
                &d.time_extent.map(|t| t.start),
                &d.time_extent.map(|t| t.end),
                &d.created,
                &d.updated,
            ],
        )
        .await?;
    Ok(())
}
