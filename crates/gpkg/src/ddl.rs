//! The SQL that shapes the file: GeoPackage core tables (GeoPackage 1.3, Annex C), the console's catalog,
//! feature tables and their R-tree index with the triggers the standard prescribes (§F.3).

use rusqlite::{Connection, Transaction, params};

use geoconsole_formats::geopackage;

pub use geoconsole_formats::geopackage::{APPLICATION_ID, USER_VERSION, quote};

/// The R-tree of a console feature table (its geometry column is always `geom`).
pub fn rtree_name(table: &str) -> String {
    geopackage::rtree_name(table, "geom")
}

const CATALOG_TABLE: &str = r"
CREATE TABLE IF NOT EXISTS gc_datasets (
  id TEXT PRIMARY KEY NOT NULL,
  title TEXT NOT NULL,
  kind TEXT NOT NULL,
  geometry_type TEXT NOT NULL,
  time_start_field TEXT,
  time_end_field TEXT,
  id_field TEXT,
  schema TEXT NOT NULL,
  columns TEXT NOT NULL,
  source TEXT NOT NULL,
  version INTEGER NOT NULL,
  feature_count INTEGER NOT NULL,
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  time_start DATETIME, time_end DATETIME,
  created DATETIME NOT NULL,
  updated DATETIME NOT NULL
);
";

/// Creates the GeoPackage core and the console catalog in an empty database, or completes a GeoPackage
/// made by another tool. Idempotent.
pub fn create_core(conn: &Connection) -> rusqlite::Result<()> {
    geopackage::create_core_tables(conn)?;
    conn.execute_batch(CATALOG_TABLE)?;
    conn.execute_batch(crate::alerts::SCHEMA)?;
    conn.execute_batch(crate::feeds::SCHEMA)?;
    conn.execute_batch(crate::access::SCHEMA)?;
    conn.execute_batch(crate::changes::SCHEMA)?;
    // Registered as an attributes table, as the standard asks of every non-feature table an application adds.
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) \
         VALUES ('gc_datasets', 'attributes', 'gc_datasets', 'geoconsole dataset catalog: kind, schema, time fields, version')",
        [],
    )?;
    Ok(())
}

/// Creates an empty feature table with its catalog rows. The R-tree's triggers and the time index come
/// separately (the writer's bulk load, [`create_rtree_triggers`], [`create_time_index`]) so that a fresh table is bulk-filled
/// first and indexed in one pass.
pub fn create_feature_table(
    tx: &Transaction<'_>,
    table: &str,
    title: &str,
    columns_sql: &str,
) -> rusqlite::Result<()> {
    let t = quote(table);
    tx.execute_batch(&format!(
        "CREATE TABLE {t} (
           fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
           geom GEOMETRY,
           feature_id TEXT,
           time_start DATETIME,
           time_end DATETIME{columns_sql}
         );
         CREATE UNIQUE INDEX {idx_id} ON {t} (feature_id);
         CREATE VIRTUAL TABLE {rtree} USING rtree(id, minx, maxx, miny, maxy);",
        idx_id = quote(&format!("{table}_feature_id")),
        rtree = quote(&rtree_name(table)),
    ))?;
    geopackage::register_feature_table(tx, table, title, "geom", "GEOMETRY")
}

/// The index behind datetime queries, on the end of each feature's time span: the question operators ask most
/// is "what is (or was) active since T", whose condition `time_end >= T` it answers directly. A fresh table
/// gets it after loading: building it from sorted keys costs a fraction of keeping it up to date row by row
/// while a million random times arrive.
pub fn create_time_index(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    tx.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} (time_end);",
        quote(&format!("{table}_time")),
        quote(table)
    ))
}

/// The standard R-tree triggers for a console feature table (column `geom`, key `fid`).
pub fn create_rtree_triggers(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    geopackage::create_rtree_triggers(tx, table, "geom")
}

/// Removes a feature table, its index and every catalog row that names it.
pub fn drop_feature_table(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    tx.execute_batch(&format!(
        "DROP TABLE IF EXISTS {r}; DROP TABLE IF EXISTS {t};",
        r = quote(&rtree_name(table)),
        t = quote(table)
    ))?;
    for sql in [
        "DELETE FROM gpkg_extensions WHERE table_name = ?1",
        "DELETE FROM gpkg_geometry_columns WHERE table_name = ?1",
        "DELETE FROM gpkg_contents WHERE table_name = ?1",
        "DELETE FROM gc_datasets WHERE id = ?1",
    ] {
        tx.execute(sql, params![table])?;
    }
    Ok(())
}
