//! The console's catalog table `gc_datasets`: one row per dataset with what GeoPackage has no place for
//! (kind, time fields, schema, version), plus the column map. `gpkg_contents` is kept in step at every commit.

use chrono::{DateTime, Utc};
use geoconsole_model::{
    Bbox, Dataset, DatasetId, GeometryType, Schema, TimeFields, TimeSpan, format_rfc3339,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::columns::{Column, ColumnMap};

/// A dataset as the store knows it: the model's metadata and where its properties live.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dataset: Dataset,
    pub columns: ColumnMap,
}

const SELECT: &str = "SELECT id, title, kind, geometry_type, time_start_field, time_end_field, id_field, schema, columns, \
    source, version, feature_count, min_x, min_y, max_x, max_y, time_start, time_end, created, updated FROM gc_datasets";

fn bad_row(column: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, why.into())
}

fn parse_time(column: usize, text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad_row(column, e.to_string()))
}

/// A bbox from four nullable columns `west, south, east, north` starting at `first`; `None` if any is NULL.
pub fn optional_bbox(row: &Row<'_>, first: usize) -> rusqlite::Result<Option<Bbox>> {
    Ok(
        match (
            row.get::<_, Option<f64>>(first)?,
            row.get::<_, Option<f64>>(first + 1)?,
            row.get::<_, Option<f64>>(first + 2)?,
            row.get::<_, Option<f64>>(first + 3)?,
        ) {
            (Some(west), Some(south), Some(east), Some(north)) => Some(Bbox {
                west,
                south,
                east,
                north,
            }),
            _ => None,
        },
    )
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Entry> {
    let id: String = row.get(0)?;
    let kind: String = row.get(2)?;
    let geometry_type: String = row.get(3)?;
    let schema: String = row.get(7)?;
    let columns: String = row.get(8)?;
    let extent = optional_bbox(row, 12)?;
    let time_extent = match (
        row.get::<_, Option<String>>(16)?,
        row.get::<_, Option<String>>(17)?,
    ) {
        (Some(start), Some(end)) => Some(TimeSpan {
            start: parse_time(16, &start)?,
            end: parse_time(17, &end)?,
        }),
        _ => None,
    };
    let dataset = Dataset {
        id: DatasetId::new(id).map_err(|e| bad_row(0, e.to_string()))?,
        title: row.get(1)?,
        kind: kind
            .parse()
            .map_err(|e: geoconsole_model::ModelError| bad_row(2, e.to_string()))?,
        geometry_type: GeometryType::from_gpkg_name(&geometry_type)
            .unwrap_or(GeometryType::Geometry),
        time_fields: TimeFields {
            start: row.get(4)?,
            end: row.get(5)?,
        },
        id_field: row.get(6)?,
        schema: serde_json::from_str::<Schema>(&schema).map_err(|e| bad_row(7, e.to_string()))?,
        source: row.get(9)?,
        version: row.get::<_, i64>(10)?.max(0) as u64,
        feature_count: row.get::<_, i64>(11)?.max(0) as u64,
        extent,
        time_extent,
        created: parse_time(18, &row.get::<_, String>(18)?)?,
        updated: parse_time(19, &row.get::<_, String>(19)?)?,
    };
    let columns: Vec<Column> =
        serde_json::from_str(&columns).map_err(|e| bad_row(8, e.to_string()))?;
    Ok(Entry {
        dataset,
        columns: ColumnMap::new(columns),
    })
}

pub fn load(conn: &Connection, id: &DatasetId) -> rusqlite::Result<Option<Entry>> {
    conn.query_row(
        &format!("{SELECT} WHERE id = ?1"),
        params![id.as_str()],
        entry_from_row,
    )
    .optional()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Dataset>> {
    let mut statement = conn.prepare(&format!("{SELECT} ORDER BY id"))?;
    let rows = statement.query_map([], |row| entry_from_row(row).map(|e| e.dataset))?;
    rows.collect()
}

/// Writes the catalog row and brings `gpkg_contents` and `gpkg_geometry_columns` in line with it.
pub fn save(conn: &Connection, entry: &Entry) -> rusqlite::Result<()> {
    let d = &entry.dataset;
    let schema = serde_json::to_string(&d.schema).map_err(|e| bad_row(7, e.to_string()))?;
    let columns =
        serde_json::to_string(entry.columns.columns()).map_err(|e| bad_row(8, e.to_string()))?;
    let [west, south, east, north] = d
        .extent
        .map(|e| e.to_vec())
        .map_or([None; 4], |v| v.map(Some));
    conn.execute(
        "INSERT OR REPLACE INTO gc_datasets (id, title, kind, geometry_type, time_start_field, time_end_field, id_field, \
         schema, columns, source, version, feature_count, min_x, min_y, max_x, max_y, time_start, time_end, created, updated) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        params![
            d.id.as_str(),
            d.title,
            d.kind.as_str(),
            d.geometry_type.gpkg_name(),
            d.time_fields.start,
            d.time_fields.end,
            d.id_field,
            schema,
            columns,
            d.source,
            d.version as i64,
            d.feature_count as i64,
            west,
            south,
            east,
            north,
            d.time_extent.map(|t| format_rfc3339(t.start)),
            d.time_extent.map(|t| format_rfc3339(t.end)),
            format_rfc3339(d.created),
            format_rfc3339(d.updated),
        ],
    )?;
    conn.execute(
        "UPDATE gpkg_contents SET identifier = ?2, description = ?3, last_change = ?4, min_x = ?5, min_y = ?6, max_x = ?7, max_y = ?8 \
         WHERE table_name = ?1",
        params![d.id.as_str(), d.id.as_str(), d.title, format_rfc3339(d.updated), west, south, east, north],
    )?;
    conn.execute(
        "UPDATE gpkg_geometry_columns SET geometry_type_name = ?2 WHERE table_name = ?1",
        params![d.id.as_str(), d.geometry_type.gpkg_name()],
    )?;
    Ok(())
}
