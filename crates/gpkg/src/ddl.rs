//! The SQL that shapes the file: GeoPackage core tables (GeoPackage 1.3, Annex C), the console's catalog,
//! feature tables and their R-tree index with the triggers the standard prescribes (§F.3).

use rusqlite::{Connection, Transaction, params};

use crate::blob::WGS84_SRS_ID;

/// `PRAGMA application_id` of a GeoPackage: "GPKG".
pub const APPLICATION_ID: i32 = 0x4750_4B47;
/// `PRAGMA user_version` for GeoPackage 1.3.0.
pub const USER_VERSION: i32 = 10300;

/// Quotes an SQL identifier. Identifiers come from validated dataset ids and the column map, and are quoted
/// anyway so that no name can ever become SQL.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

pub fn rtree_name(table: &str) -> String {
    format!("rtree_{table}_geom")
}

const CORE_TABLES: &str = r"
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);
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

const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

/// Creates the GeoPackage core and the console catalog in an empty database, or completes a GeoPackage
/// made by another tool. Idempotent.
pub fn create_core(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CORE_TABLES)?;
    conn.execute_batch(crate::alerts::SCHEMA)?;
    conn.execute_batch(crate::feeds::SCHEMA)?;
    conn.execute_batch(crate::access::SCHEMA)?;
    let srs = "INSERT OR IGNORE INTO gpkg_spatial_ref_sys \
               (srs_name, srs_id, organization, organization_coordsys_id, definition, description) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    conn.execute(
        srs,
        params![
            "Undefined cartesian SRS",
            -1,
            "NONE",
            -1,
            "undefined",
            "undefined cartesian coordinate reference system"
        ],
    )?;
    conn.execute(
        srs,
        params![
            "Undefined geographic SRS",
            0,
            "NONE",
            0,
            "undefined",
            "undefined geographic coordinate reference system"
        ],
    )?;
    conn.execute(
        srs,
        params![
            "WGS 84 geodetic",
            WGS84_SRS_ID,
            "EPSG",
            4326,
            WGS84_WKT,
            "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"
        ],
    )?;
    // Registered as an attributes table, as the standard asks of every non-feature table an application adds.
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) \
         VALUES ('gc_datasets', 'attributes', 'gc_datasets', 'geoconsole dataset catalog: kind, schema, time fields, version')",
        [],
    )?;
    Ok(())
}

/// Creates an empty feature table with its catalog rows. The R-tree's triggers and the time index come
/// separately ([`index_and_create_rtree_triggers`], [`create_time_index`]) so that a fresh table is bulk-filled
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
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES (?1, 'features', ?1, ?2, ?3)",
        params![table, title, WGS84_SRS_ID],
    )?;
    tx.execute(
        "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m) VALUES (?1, 'geom', 'GEOMETRY', ?2, 0, 0)",
        params![table, WGS84_SRS_ID],
    )?;
    tx.execute(
        "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) \
         VALUES (?1, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        params![table],
    )?;
    Ok(())
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

/// Fills the R-tree of a freshly loaded table in one pass and installs the standard triggers that keep it
/// true from then on.
pub fn index_and_create_rtree_triggers(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    crate::rtree_bulk::bulk_load(tx, table)?;
    create_rtree_triggers(tx, table)
}

/// The six triggers of the GeoPackage R-tree extension (§F.3), for table `table`, column `geom`, key `fid`.
pub fn create_rtree_triggers(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    let t = quote(table);
    let r = quote(&rtree_name(table));
    let name = |suffix: &str| quote(&format!("{}_{suffix}", rtree_name(table)));
    let insert_row = format!(
        "INSERT OR REPLACE INTO {r} VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));"
    );
    tx.execute_batch(&format!(
        "CREATE TRIGGER {insert} AFTER INSERT ON {t} WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
         BEGIN {insert_row} END;
         CREATE TRIGGER {update1} AFTER UPDATE OF geom ON {t}
           WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
         BEGIN {insert_row} END;
         CREATE TRIGGER {update2} AFTER UPDATE OF geom ON {t}
           WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;
         CREATE TRIGGER {update3} AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; {insert_row} END;
         CREATE TRIGGER {update4} AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
         BEGIN DELETE FROM {r} WHERE id IN (OLD.fid, NEW.fid); END;
         CREATE TRIGGER {delete} AFTER DELETE ON {t} WHEN old.geom NOT NULL
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;",
        insert = name("insert"),
        update1 = name("update1"),
        update2 = name("update2"),
        update3 = name("update3"),
        update4 = name("update4"),
        delete = name("delete"),
    ))
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
