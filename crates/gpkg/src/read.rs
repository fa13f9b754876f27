//! Reading features back: bbox through the R-tree, time through its index, keyset paging on `fid`; and the
//! rows of ids and properties (no geometry) that readers holding the shapes ask for.

use chrono::{DateTime, Utc};
use geoconsole_model::{Bbox, Feature, FeatureId, FieldType, Properties, TimeSpan, format_rfc3339};
use geoconsole_query::{Cursor, FeatureQuery};
use geoconsole_store::{FeaturePage, Fields, PropertyRow, StoreError, StoreErrorKind, StoreResult};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use serde_json::{Number, Value};

use crate::blob;
use crate::catalog::Entry;
use crate::columns::Column;
use crate::ddl::{quote, rtree_name};

pub fn select_columns(entry: &Entry) -> String {
    let mut sql = String::from("fid, geom, feature_id, time_start, time_end");
    for column in entry.columns.columns() {
        sql.push_str(", ");
        sql.push_str(&quote(&column.column));
    }
    sql
}

fn parse_cursor(cursor: &Cursor) -> StoreResult<i64> {
    cursor
        .0
        .parse::<i64>()
        .ok()
        .filter(|fid| *fid >= 0)
        .ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Invalid,
                format!("cursor '{}' is not valid for this dataset", cursor.0),
            )
        })
}

pub fn query(conn: &Connection, entry: &Entry, query: &FeatureQuery) -> StoreResult<FeaturePage> {
    let table = entry.dataset.id.as_str();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE 1 = 1",
        select_columns(entry),
        quote(table)
    );
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(cursor) = &query.cursor {
        sql.push_str(" AND fid > ?");
        params.push(SqlValue::Integer(parse_cursor(cursor)?));
    }
    if let Some(bbox) = &query.bbox {
        let parts = bbox.split_at_antimeridian();
        let condition =
            vec!["(minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"; parts.len()].join(" OR ");
        sql.push_str(&format!(
            " AND fid IN (SELECT id FROM {} WHERE {condition})",
            quote(&rtree_name(table))
        ));
        for part in parts {
            params.extend([part.east, part.west, part.north, part.south].map(SqlValue::Real));
        }
    }
    if let Some(datetime) = &query.datetime {
        sql.push_str(" AND time_start IS NOT NULL");
        if let Some(start) = datetime.start {
            sql.push_str(" AND time_end >= ?");
            params.push(SqlValue::Text(format_rfc3339(start)));
        }
        if let Some(end) = datetime.end {
            sql.push_str(" AND time_start <= ?");
            params.push(SqlValue::Text(format_rfc3339(end)));
        }
    }
    sql.push_str(" ORDER BY fid");
    if let Some(limit) = query.limit {
        // One more than asked tells whether a next page exists without counting.
        sql.push_str(" LIMIT ?");
        params.push(SqlValue::Integer(limit as i64 + 1));
    }
    let wrap = |e: rusqlite::Error| {
        StoreError::new(
            StoreErrorKind::Internal,
            format!("query on '{table}' failed: {e}"),
        )
        .with_source(e)
    };
    let mut statement = conn.prepare_cached(&sql).map_err(wrap)?;
    let mut rows = statement
        .query(params_from_iter(params.iter()))
        .map_err(wrap)?;
    let mut features = Vec::new();
    let mut last_fid = None;
    let mut more = false;
    while let Some(row) = rows.next().map_err(wrap)? {
        if query.limit.is_some_and(|limit| features.len() >= limit) {
            more = true;
            break;
        }
        let (fid, feature) = feature_from_row(entry, row)?;
        last_fid = Some(fid);
        // The R-tree stores 32-bit floats rounded outward; the exact bbox test keeps edges honest.
        if let Some(bbox) = &query.bbox
            && !feature
                .geometry
                .as_ref()
                .and_then(Bbox::of_geometry)
                .is_some_and(|b| b.intersects(bbox))
        {
            continue;
        }
        features.push(feature);
    }
    let next = if more {
        last_fid.map(|fid| Cursor(fid.to_string()))
    } else {
        None
    };
    Ok(FeaturePage { features, next })
}

pub fn feature(conn: &Connection, entry: &Entry, id: &FeatureId) -> StoreResult<Option<Feature>> {
    let table = entry.dataset.id.as_str();
    let sql = format!(
        "SELECT {} FROM {} WHERE feature_id = ?1",
        select_columns(entry),
        quote(table)
    );
    let wrap = |e: rusqlite::Error| {
        StoreError::new(
            StoreErrorKind::Internal,
            format!("lookup in '{table}' failed: {e}"),
        )
        .with_source(e)
    };
    let mut statement = conn.prepare_cached(&sql).map_err(wrap)?;
    let found = statement
        .query_row([id.as_str()], |row| Ok(feature_from_row(entry, row)))
        .optional()
        .map_err(wrap)?;
    found.transpose().map(|f| f.map(|(_, feature)| feature))
}

pub fn feature_from_row(entry: &Entry, row: &Row<'_>) -> StoreResult<(i64, Feature)> {
    let table = entry.dataset.id.as_str();
    let corrupt = |what: String| {
        StoreError::new(
            StoreErrorKind::Internal,
            format!("dataset '{table}': {what}"),
        )
    };
    let get = |i: usize| row.get_ref(i).map_err(|e| corrupt(e.to_string()));
    let fid = match get(0)? {
        ValueRef::Integer(fid) => fid,
        other => return Err(corrupt(format!("fid is {other:?}"))),
    };
    let geometry = match get(1)? {
        ValueRef::Blob(b) => {
            Some(blob::decode(b).map_err(|e| corrupt(format!("feature {fid}: {e}")))?)
        }
        // An unlocated feature.
        ValueRef::Null => None,
        other => {
            return Err(corrupt(format!(
                "feature {fid}: geometry is {other:?}, not a blob"
            )));
        }
    };
    let id = match get(2)? {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        _ => fid.to_string(),
    };
    let time_at = |i: usize| -> StoreResult<Option<DateTime<Utc>>> {
        match get(i)? {
            ValueRef::Text(t) => DateTime::parse_from_rfc3339(&String::from_utf8_lossy(t))
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| corrupt(format!("feature {fid}: bad time: {e}"))),
            _ => Ok(None),
        }
    };
    let time = match (time_at(3)?, time_at(4)?) {
        (Some(start), Some(end)) => Some(TimeSpan { start, end }),
        (Some(start), None) => Some(TimeSpan::instant(start)),
        _ => None,
    };
    let properties = properties_from_row(entry, row, entry.columns.columns(), 5)?;
    Ok((
        fid,
        Feature {
            id: Some(FeatureId(id)),
            geometry,
            time,
            properties,
        },
    ))
}

/// The property columns `fields` names, in the column map's order (the order whole features list them).
pub fn property_columns<'a>(entry: &'a Entry, fields: &Fields) -> Vec<&'a Column> {
    entry
        .columns
        .columns()
        .iter()
        .filter(|c| fields.includes(&c.property))
        .collect()
}

/// `fid, feature_id` and the given property columns: everything a [`PropertyRow`] needs, and no geometry.
pub fn select_property_columns<'a>(columns: impl IntoIterator<Item = &'a Column>) -> String {
    let mut sql = String::from("fid, feature_id");
    for column in columns {
        sql.push_str(", ");
        sql.push_str(&quote(&column.column));
    }
    sql
}

/// Reads a row selected by [`select_property_columns`].
pub fn property_row_from_row(
    entry: &Entry,
    row: &Row<'_>,
    columns: &[&Column],
) -> StoreResult<PropertyRow> {
    let corrupt = |what: String| {
        StoreError::new(
            StoreErrorKind::Internal,
            format!("dataset '{}': {what}", entry.dataset.id),
        )
    };
    let key = match row.get_ref(0).map_err(|e| corrupt(e.to_string()))? {
        ValueRef::Integer(fid) => fid,
        other => return Err(corrupt(format!("fid is {other:?}"))),
    };
    let id = match row.get_ref(1).map_err(|e| corrupt(e.to_string()))? {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        _ => key.to_string(),
    };
    Ok(PropertyRow {
        key,
        id: FeatureId(id),
        properties: properties_from_row(entry, row, columns.iter().copied(), 2)?,
    })
}

/// The properties held in `columns`, read from the row's columns starting at `first`.
fn properties_from_row<'a>(
    entry: &Entry,
    row: &Row<'_>,
    columns: impl IntoIterator<Item = &'a Column>,
    first: usize,
) -> StoreResult<Properties> {
    let mut properties = Properties::new();
    for (i, column) in columns.into_iter().enumerate() {
        let value = row.get_ref(first + i).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Internal,
                format!("dataset '{}': {e}", entry.dataset.id),
            )
        })?;
        let field_type = entry
            .dataset
            .schema
            .field(&column.property)
            .map_or(column.declared, |f| f.field_type);
        properties.insert(column.property.clone(), to_json(value, field_type));
    }
    Ok(properties)
}

/// A stored value as JSON of the field's type.
fn to_json(value: ValueRef<'_>, field_type: FieldType) -> Value {
    match (value, field_type) {
        (ValueRef::Null, _) => Value::Null,
        (ValueRef::Integer(i), FieldType::Boolean) => Value::Bool(i != 0),
        (ValueRef::Integer(i), FieldType::Real) => {
            Number::from_f64(i as f64).map_or(Value::Null, Value::Number)
        }
        (
            ValueRef::Integer(i),
            FieldType::Text | FieldType::Json | FieldType::Date | FieldType::DateTime,
        ) => Value::String(i.to_string()),
        (ValueRef::Integer(i), FieldType::Integer) => Value::Number(i.into()),
        (ValueRef::Real(f), _) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        (ValueRef::Text(t), FieldType::Json) => serde_json::from_slice(t)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(t).into_owned())),
        (ValueRef::Text(t), _) => Value::String(String::from_utf8_lossy(t).into_owned()),
        (ValueRef::Blob(b), _) => Value::String(format!("<{} bytes of binary data>", b.len())),
    }
}

/// Count, extent and time span of what a table holds, read from the table and its R-tree.
pub struct Summary {
    pub count: u64,
    pub extent: Option<Bbox>,
    pub time_extent: Option<TimeSpan>,
}

pub fn summarise(conn: &Connection, table: &str) -> rusqlite::Result<Summary> {
    let count: i64 =
        conn.query_row(&format!("SELECT count(*) FROM {}", quote(table)), [], |r| {
            r.get(0)
        })?;
    let extent = conn.query_row(
        &format!(
            "SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {}",
            quote(&rtree_name(table))
        ),
        [],
        |r| crate::catalog::optional_bbox(r, 0),
    )?;
    let times: (Option<String>, Option<String>) = conn.query_row(
        &format!(
            "SELECT min(time_start), max(time_end) FROM {}",
            quote(table)
        ),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let time_extent = match times {
        (Some(start), Some(end)) => parse(&start)
            .zip(parse(&end))
            .map(|(start, end)| TimeSpan { start, end }),
        _ => None,
    };
    Ok(Summary {
        count: count.max(0) as u64,
        extent,
        time_extent,
    })
}
