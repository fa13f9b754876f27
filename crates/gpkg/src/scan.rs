//! The reads the in-memory index needs: every feature's key, geometry and time in one pass; whole features
//! fetched back by key for the pages a reader asks for; and, for tiles, which draw the index's own shapes,
//! only ids and properties by key.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use geoconsole_model::{Dataset, DatasetId, Feature, TimeSpan};
use geoconsole_store::{Fields, IndexRow, PropertyRow, StoreError, StoreErrorKind, StoreResult};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::catalog::{self, Entry};
use crate::connection::sqlite_error;
use crate::ddl::quote;
use crate::{blob, read};

/// Rows handed to the index per batch: large enough that the hand-over costs nothing, small enough that
/// the scan and the index build overlap.
const BATCH_ROWS: usize = 16_384;

/// Scans a dataset on its own read-only connection, so a long scan never holds up the shared reader.
pub fn scan_index(
    path: &Path,
    id: &DatasetId,
    sink: &mut (dyn FnMut(Vec<IndexRow>) -> bool + Send),
) -> StoreResult<Dataset> {
    let wrap = |e| sqlite_error(path, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(wrap)?;
    conn.pragma_update(None, "trusted_schema", "OFF")
        .map_err(wrap)?;
    // A read transaction pins one version of the file for the catalog row and every feature row.
    let tx = conn.transaction().map_err(wrap)?;
    let entry = catalog::load(&tx, id)
        .map_err(wrap)?
        .ok_or_else(|| StoreError::not_found(format!("dataset '{id}' does not exist")))?;
    let sql = format!(
        "SELECT fid, geom, time_start, time_end FROM {} ORDER BY fid",
        quote(id.as_str())
    );
    let mut statement = tx.prepare(&sql).map_err(wrap)?;
    let mut rows = statement.query([]).map_err(wrap)?;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    while let Some(row) = rows.next().map_err(wrap)? {
        batch.push(index_row(id, row)?);
        if batch.len() == BATCH_ROWS
            && !sink(std::mem::replace(
                &mut batch,
                Vec::with_capacity(BATCH_ROWS),
            ))
        {
            return Ok(entry.dataset);
        }
    }
    if !batch.is_empty() {
        sink(batch);
    }
    Ok(entry.dataset)
}

fn index_row(id: &DatasetId, row: &rusqlite::Row<'_>) -> StoreResult<IndexRow> {
    let corrupt =
        |what: String| StoreError::new(StoreErrorKind::Internal, format!("dataset '{id}': {what}"));
    let get = |i: usize| row.get_ref(i).map_err(|e| corrupt(e.to_string()));
    let key = match get(0)? {
        ValueRef::Integer(fid) => fid,
        other => return Err(corrupt(format!("fid is {other:?}"))),
    };
    let geometry = match get(1)? {
        ValueRef::Blob(b) => {
            Some(blob::decode(b).map_err(|e| corrupt(format!("feature {key}: {e}")))?)
        }
        // An unlocated feature.
        ValueRef::Null => None,
        other => {
            return Err(corrupt(format!(
                "feature {key}: geometry is {other:?}, not a blob"
            )));
        }
    };
    let time_at = |i: usize| -> StoreResult<Option<DateTime<Utc>>> {
        match get(i)? {
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| Some(t.with_timezone(&Utc)))
                .ok_or_else(|| corrupt(format!("feature {key}: unreadable time"))),
            _ => Ok(None),
        }
    };
    let time = match (time_at(2)?, time_at(3)?) {
        (Some(start), Some(end)) => Some(TimeSpan { start, end }),
        (Some(start), None) => Some(TimeSpan::instant(start)),
        _ => None,
    };
    Ok(IndexRow {
        key,
        geometry,
        time,
    })
}

/// Whole features by key, in the order asked.
pub fn features_by_key(
    conn: &Connection,
    entry: &Entry,
    keys: &[i64],
) -> StoreResult<Vec<(i64, Feature)>> {
    by_key(conn, entry, keys, &read::select_columns(entry), |row| {
        read::feature_from_row(entry, row)
    })
}

/// Ids and the asked properties by key, in the order asked. The geometry column is not selected, so SQLite
/// never reads its (overflow) pages and nothing is decoded.
pub fn properties_by_key(
    conn: &Connection,
    entry: &Entry,
    keys: &[i64],
    fields: &Fields,
) -> StoreResult<Vec<PropertyRow>> {
    let columns = read::property_columns(entry, fields);
    let select = read::select_property_columns(columns.iter().copied());
    Ok(by_key(conn, entry, keys, &select, |row| {
        read::property_row_from_row(entry, row, &columns).map(|r| (r.key, r))
    })?
    .into_iter()
    .map(|(_, r)| r)
    .collect())
}

/// Rows by key, in the order asked. Keys that are close together (a page or chunk of a key-ordered walk, or
/// a tile's slots) are read as one range of the table, which SQLite streams in order; scattered keys travel
/// as one bound array (`rarray`), never as SQL text.
fn by_key<T>(
    conn: &Connection,
    entry: &Entry,
    keys: &[i64],
    select: &str,
    read_row: impl Fn(&rusqlite::Row<'_>) -> StoreResult<(i64, T)>,
) -> StoreResult<Vec<(i64, T)>> {
    let table = entry.dataset.id.as_str();
    let wrap = |e: rusqlite::Error| {
        StoreError::new(
            StoreErrorKind::Internal,
            format!("lookup in '{table}' failed: {e}"),
        )
        .with_source(e)
    };
    let (Some(low), Some(high)) = (keys.iter().min(), keys.iter().max()) else {
        return Ok(Vec::new());
    };
    let dense = (high.abs_diff(*low) as u128) < 2 * keys.len() as u128;
    let mut found: HashMap<i64, T> = HashMap::with_capacity(keys.len());
    let mut collect = |rows: &mut rusqlite::Rows<'_>| -> StoreResult<()> {
        while let Some(row) = rows.next().map_err(wrap)? {
            let (fid, value) = read_row(row)?;
            found.insert(fid, value);
        }
        Ok(())
    };
    if dense {
        let sql = format!(
            "SELECT {select} FROM {} WHERE fid >= ?1 AND fid <= ?2",
            quote(table)
        );
        let mut statement = conn.prepare_cached(&sql).map_err(wrap)?;
        collect(&mut statement.query([low, high]).map_err(wrap)?)?;
        let wanted: std::collections::HashSet<i64> = keys.iter().copied().collect();
        found.retain(|k, _| wanted.contains(k));
    } else {
        let sql = format!(
            "SELECT {select} FROM {} WHERE fid IN rarray(?1)",
            quote(table)
        );
        let mut statement = conn.prepare_cached(&sql).map_err(wrap)?;
        let values: Rc<Vec<SqlValue>> =
            Rc::new(keys.iter().map(|k| SqlValue::Integer(*k)).collect());
        collect(&mut statement.query([values]).map_err(wrap)?)?;
    }
    Ok(keys
        .iter()
        .filter_map(|k| found.remove(k).map(|v| (*k, v)))
        .collect())
}
