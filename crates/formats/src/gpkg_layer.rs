//! One feature table of someone else's GeoPackage. The file is untrusted: it is opened read-only with
//! SQLite's defensive mode on, schema code (views, triggers) treated as untrusted, and memory mapping off;
//! only `SELECT`s we write ourselves run against it.

use std::path::Path;

use geoconsole_model::Properties;
use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

use crate::record::{self, Elevations, SourceCrs, file_error, number};
use crate::stream::{ChunkReceiver, spawn_producer};
use crate::{Crs, FormatError, FormatErrorKind, FormatResult, Location, ReadNotes};

const UNDEFINED_SRS_HINT: &str = "the layer's spatial reference system is undefined, so WGS84 was \
                                  assumed; pass --source-crs if it is not";

/// What is known about the chosen table before its rows are read.
struct Layer {
    table: String,
    geometry_column: String,
    key: Option<String>,
    boolean_columns: Vec<String>,
    crs: SourceCrs,
}

pub(crate) fn read(
    path: &Path,
    layer: Option<&str>,
    source_crs: Option<Crs>,
    notes: &ReadNotes,
) -> FormatResult<ChunkReceiver> {
    let conn = open(path)?;
    let layer = describe(path, &conn, layer, source_crs)?;
    layer.crs.announce(path, notes);
    let mut elevations = Elevations::new(path, notes.clone());
    let path_buf = path.to_path_buf();
    Ok(spawn_producer("geoconsole-gpkg", move |chunks| {
        let sql = format!("SELECT * FROM {}", quoted(&layer.table));
        let fail = |why: String| {
            Err(FormatError::new(
                FormatErrorKind::Syntax,
                &path_buf,
                Location::File,
                why,
            ))
        };
        let mut statement = match conn.prepare(&sql) {
            Ok(s) => s,
            Err(e) => {
                chunks.push(fail(format!("table '{}' cannot be read: {e}", layer.table)));
                return;
            }
        };
        let names: Vec<String> = statement
            .column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let mut rows = match statement.query([]) {
            Ok(rows) => rows,
            Err(e) => {
                chunks.push(fail(format!("table '{}' cannot be read: {e}", layer.table)));
                return;
            }
        };
        let mut index = 0u64;
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => return,
                Err(e) => {
                    chunks.push(Err(FormatError::new(
                        FormatErrorKind::Syntax,
                        &path_buf,
                        Location::Feature(index),
                        format!("unreadable row (damaged file?): {e}"),
                    )));
                    return;
                }
            };
            let location = Location::Feature(index);
            index += 1;
            let item = feature(&path_buf, location, &layer, &names, row, &mut elevations);
            if !chunks.push(item) {
                return;
            }
        }
    }))
}

fn feature(
    path: &Path,
    location: Location,
    layer: &Layer,
    names: &[String],
    row: &rusqlite::Row<'_>,
    elevations: &mut Elevations,
) -> FormatResult<crate::SourceFeature> {
    let mut properties = Properties::with_capacity(names.len());
    let mut geometry = None;
    let mut id = None;
    for (i, name) in names.iter().enumerate() {
        let value = row.get_ref(i).map_err(|e| {
            FormatError::new(
                FormatErrorKind::Syntax,
                path,
                location,
                format!("column '{name}': {e}"),
            )
        })?;
        if *name == layer.geometry_column {
            if let ValueRef::Blob(blob) = value {
                let invalid = |why: String| {
                    FormatError::new(FormatErrorKind::InvalidFeature, path, location, why)
                };
                let decoded = crate::wkb::decode_geopackage(blob)
                    .map_err(|e| invalid(format!("unreadable geometry blob: {e}")))?;
                // An empty geometry, like a NULL, is an unlocated feature.
                if decoded.is_some() {
                    elevations.keep(crate::wkb::elevation_geopackage(blob), &mut properties);
                }
                geometry = decoded;
            }
            continue;
        }
        if Some(name) == layer.key.as_ref() {
            if let ValueRef::Integer(fid) = value {
                id = Some(fid.to_string().as_str().into());
            }
            continue;
        }
        let json = match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) if layer.boolean_columns.contains(name) => Value::Bool(v != 0),
            ValueRef::Integer(v) => Value::from(v),
            ValueRef::Real(v) => number_or_real(v),
            ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        };
        properties.insert(name.clone(), json);
    }
    record::feature(path, location, geometry, &layer.crs, properties, id)
}

/// Reals stay reals (1.0 is not the integer 1 in a REAL column) unless they cannot be JSON numbers.
fn number_or_real(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| number(v), Value::Number)
}

fn open(path: &Path) -> FormatResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let refuse = |why: String| file_error(FormatErrorKind::WrongFormat, path, why);
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| refuse(format!("cannot open as SQLite: {e}")))?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .and_then(|_| conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false))
        .and_then(|_| {
            conn.execute_batch(
                "PRAGMA query_only = ON; PRAGMA mmap_size = 0; PRAGMA cell_size_check = ON;",
            )
        })
        .map_err(|e| refuse(format!("cannot open safely: {e}")))?;
    let is_geopackage: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_contents'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| refuse(format!("not a readable SQLite database: {e}")))?;
    if !is_geopackage {
        return Err(refuse(
            "SQLite database without a gpkg_contents table: not a GeoPackage".into(),
        ));
    }
    Ok(conn)
}

fn describe(
    path: &Path,
    conn: &Connection,
    wanted: Option<&str>,
    source_crs: Option<Crs>,
) -> FormatResult<Layer> {
    let sql_error = |e: rusqlite::Error| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("unreadable GeoPackage catalogue: {e}"),
        )
    };
    let mut statement = conn
        .prepare(
            "SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c \
             JOIN gpkg_geometry_columns g ON g.table_name = c.table_name \
             WHERE c.data_type = 'features' ORDER BY c.table_name",
        )
        .map_err(sql_error)?;
    let layers: Vec<(String, String, i64)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(sql_error)?;
    let names = || {
        layers
            .iter()
            .map(|l| l.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match (wanted, layers.as_slice()) {
        (_, []) => {
            return Err(file_error(
                FormatErrorKind::WrongFormat,
                path,
                "GeoPackage holds no feature table",
            ));
        }
        (Some(name), _) => layers.iter().find(|l| l.0 == name).ok_or_else(|| {
            file_error(
                FormatErrorKind::InvalidOption,
                path,
                format!(
                    "GeoPackage has no feature table '{name}' (tables: {})",
                    names()
                ),
            )
        })?,
        (None, [one]) => one,
        (None, _) => {
            return Err(file_error(
                FormatErrorKind::InvalidOption,
                path,
                format!(
                    "GeoPackage holds several feature tables ({}); choose one with --layer NAME",
                    names()
                ),
            ));
        }
    };
    let (table, geometry_column, srs_id) = chosen.clone();
    let crs = match source_crs {
        Some(crs) => SourceCrs::Known(crs),
        None => srs(path, conn, srs_id)?,
    };
    let mut columns = conn
        .prepare(&format!("PRAGMA table_info({})", quoted(&table)))
        .map_err(sql_error)?;
    let info: Vec<(String, String, i64)> = columns
        .query_map([], |r| {
            Ok((
                r.get(1)?,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                r.get(5)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(sql_error)?;
    let key = info
        .iter()
        .find(|(_, kind, pk)| *pk == 1 && kind.eq_ignore_ascii_case("INTEGER"))
        .map(|c| c.0.clone());
    let boolean_columns = info
        .iter()
        .filter(|(_, kind, _)| kind.eq_ignore_ascii_case("BOOLEAN"))
        .map(|c| c.0.clone())
        .collect();
    Ok(Layer {
        table,
        geometry_column,
        key,
        boolean_columns,
        crs,
    })
}

fn srs(path: &Path, conn: &Connection, srs_id: i64) -> FormatResult<SourceCrs> {
    if srs_id <= 0 {
        return Ok(SourceCrs::Assumed {
            hint: UNDEFINED_SRS_HINT,
        });
    }
    let row: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys \
             WHERE srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(|e| {
            file_error(
                FormatErrorKind::Syntax,
                path,
                format!("unreadable srs {srs_id}: {e}"),
            )
        })?;
    let refuse = |why: String| file_error(FormatErrorKind::InvalidOption, path, why);
    let Some((organization, code, definition)) = row else {
        return Err(refuse(format!(
            "the layer's srs_id {srs_id} is not in gpkg_spatial_ref_sys; the file is inconsistent"
        )));
    };
    let crs = if organization.eq_ignore_ascii_case("EPSG") && code > 0 {
        Crs::from_epsg(code as u32)
    } else {
        Crs::from_wkt(&definition)
    };
    crs.map(SourceCrs::Known).map_err(refuse)
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
