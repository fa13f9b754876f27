//! The OGC GeoPackage standard (1.3) as SQL: the core tables every GeoPackage has, how a feature table is
//! registered, and the R-tree extension's triggers (§F.3). The console's store (room `gpkg`) builds on these;
//! [`GeoPackageWriter`] uses them to export a plain one-layer GeoPackage that QGIS and GDAL open as any other.

use std::io::{self, Write};

use geoconsole_model::{Bbox, Feature, FieldType, GeometryType};
use geozero::{CoordDimensions, ToWkb};
use rusqlite::{Connection, params};
use serde_json::Value;
use tempfile::TempDir;

use crate::write::{FeatureWriter, WriterLayout};

/// `PRAGMA application_id` of a GeoPackage: "GPKG".
pub const APPLICATION_ID: i32 = 0x4750_4B47;
/// `PRAGMA user_version` for GeoPackage 1.3.0.
pub const USER_VERSION: i32 = 10300;
/// The SRS id of WGS84 longitude/latitude in `gpkg_spatial_ref_sys`.
pub const WGS84_SRS_ID: i32 = 4326;

/// Quotes an SQL identifier, so that no name can ever become SQL.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The R-tree of a geometry column, named as the extension prescribes.
pub fn rtree_name(table: &str, column: &str) -> String {
    format!("rtree_{table}_{column}")
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
";

const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

/// Creates the four core tables and the three spatial reference systems every GeoPackage must have.
/// Idempotent, so it also completes a GeoPackage another tool started.
pub fn create_core_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CORE_TABLES)?;
    let srs = "INSERT OR IGNORE INTO gpkg_spatial_ref_sys \
               (srs_name, srs_id, organization, organization_coordsys_id, definition, description) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
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
    Ok(())
}

/// Registers a WGS84 feature table (already created, with its R-tree) in the catalog tables.
pub fn register_feature_table(
    conn: &Connection,
    table: &str,
    description: &str,
    column: &str,
    geometry_type_name: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) \
         VALUES (?1, 'features', ?1, ?2, ?3)",
        params![table, description, WGS84_SRS_ID],
    )?;
    conn.execute(
        "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m) \
         VALUES (?1, ?2, ?3, ?4, 0, 0)",
        params![table, column, geometry_type_name, WGS84_SRS_ID],
    )?;
    conn.execute(
        "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) \
         VALUES (?1, ?2, 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        params![table, column],
    )?;
    Ok(())
}

/// The six triggers of the GeoPackage R-tree extension (§F.3) for `table`.`column` keyed by `fid`, which keep
/// the index true under any later edit (ours, QGIS's, GDAL's).
pub fn create_rtree_triggers(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<()> {
    let t = quote(table);
    let g = quote(column);
    let rtree = rtree_name(table, column);
    let r = quote(&rtree);
    let name = |suffix: &str| quote(&format!("{rtree}_{suffix}"));
    let insert_row = format!(
        "INSERT OR REPLACE INTO {r} VALUES (NEW.fid, ST_MinX(NEW.{g}), ST_MaxX(NEW.{g}), ST_MinY(NEW.{g}), ST_MaxY(NEW.{g}));"
    );
    conn.execute_batch(&format!(
        "CREATE TRIGGER {insert} AFTER INSERT ON {t} WHEN (new.{g} NOT NULL AND NOT ST_IsEmpty(NEW.{g}))
         BEGIN {insert_row} END;
         CREATE TRIGGER {update1} AFTER UPDATE OF {g} ON {t}
           WHEN OLD.fid = NEW.fid AND (NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g}))
         BEGIN {insert_row} END;
         CREATE TRIGGER {update2} AFTER UPDATE OF {g} ON {t}
           WHEN OLD.fid = NEW.fid AND (NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g}))
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;
         CREATE TRIGGER {update3} AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND (NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g}))
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; {insert_row} END;
         CREATE TRIGGER {update4} AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND (NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g}))
         BEGIN DELETE FROM {r} WHERE id IN (OLD.fid, NEW.fid); END;
         CREATE TRIGGER {delete} AFTER DELETE ON {t} WHEN old.{g} NOT NULL
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;",
        insert = name("insert"),
        update1 = name("update1"),
        update2 = name("update2"),
        update3 = name("update3"),
        update4 = name("update4"),
        delete = name("delete"),
    ))
}

/// Rows per transaction while exporting: SQLite commits are the cost, not the rows.
const ROWS_PER_TRANSACTION: usize = 50_000;

/// Writes a one-layer GeoPackage. SQLite needs a file it can seek, so the layer is built in a private
/// temporary file and copied to the output at `finish`.
pub(crate) struct GeoPackageWriter {
    out: Box<dyn Write + Send>,
    folder: TempDir,
    conn: Connection,
    table: String,
    columns: Vec<(String, FieldType)>,
    insert: String,
    insert_rtree: String,
    rows_in_transaction: usize,
    extent: Option<Bbox>,
}

/// Column names the table already uses for itself.
fn column_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("fid") || name.eq_ignore_ascii_case("geom") {
        format!("src_{name}")
    } else {
        name.to_string()
    }
}

impl GeoPackageWriter {
    pub(crate) fn new(out: Box<dyn Write + Send>, layout: &WriterLayout) -> io::Result<Self> {
        let folder = tempfile::Builder::new()
            .prefix("geoconsole-gpkg-export-")
            .tempdir()?;
        let conn = Connection::open(folder.path().join("export.gpkg")).map_err(io::Error::other)?;
        let table = layout.name.clone();
        let columns = layout.columns();
        let mut definitions = String::new();
        for (name, field_type) in &columns {
            let sql_type = match field_type {
                FieldType::Integer => "INTEGER",
                FieldType::Real => "REAL",
                FieldType::Boolean => "BOOLEAN",
                FieldType::Date => "DATE",
                FieldType::DateTime => "DATETIME",
                FieldType::Text | FieldType::Json => "TEXT",
            };
            definitions.push_str(&format!(", {} {sql_type}", quote(&column_name(name))));
        }
        let geometry_type = match layout.geometry_type {
            GeometryType::Geometry => "GEOMETRY",
            other => other.gpkg_name(),
        };
        let setup = || -> rusqlite::Result<()> {
            // A private file copied whole at the end: no journal is needed to protect it.
            conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)?;
            conn.pragma_update(None, "user_version", USER_VERSION)?;
            create_core_tables(&conn)?;
            conn.execute_batch(&format!(
                "CREATE TABLE {t} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {geometry_type}{definitions});
                 CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy);",
                t = quote(&table),
                r = quote(&rtree_name(&table, "geom")),
            ))?;
            register_feature_table(&conn, &table, &layout.name, "geom", geometry_type)?;
            conn.execute_batch("BEGIN")
        };
        setup().map_err(io::Error::other)?;
        let placeholders: String = (0..columns.len())
            .map(|i| format!(", ?{}", i + 2))
            .collect();
        let names: String = columns
            .iter()
            .map(|(n, _)| format!(", {}", quote(&column_name(n))))
            .collect();
        let insert = format!(
            "INSERT INTO {} (geom{names}) VALUES (?1{placeholders})",
            quote(&table)
        );
        let insert_rtree = format!(
            "INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5)",
            quote(&rtree_name(&table, "geom"))
        );
        Ok(Self {
            out,
            folder,
            conn,
            table,
            columns,
            insert,
            insert_rtree,
            rows_in_transaction: 0,
            extent: None,
        })
    }
}

fn sql_value(value: Option<&Value>, field_type: FieldType) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match (value, field_type) {
        (None | Some(Value::Null), _) => Sql::Null,
        (Some(Value::Bool(b)), _) => Sql::Integer(i64::from(*b)),
        (Some(Value::Number(n)), FieldType::Integer) if n.is_i64() => {
            Sql::Integer(n.as_i64().unwrap_or_default())
        }
        (Some(Value::Number(n)), _) => n.as_f64().map_or(Sql::Null, Sql::Real),
        (Some(Value::String(s)), _) => Sql::Text(s.clone()),
        (Some(other), _) => Sql::Text(other.to_string()),
    }
}

impl FeatureWriter for GeoPackageWriter {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()> {
        // An unlocated feature is a NULL geometry (GeoPackage 1.3 §2.1.6 allows it), with no R-tree entry
        // and no part in the extent.
        let located = match &feature.geometry {
            Some(geometry) => {
                let bbox = Bbox::of_geometry(geometry)
                    .ok_or_else(|| io::Error::other("feature without an extent"))?;
                let envelope =
                    if matches!(geometry, geoconsole_model::geo_types::Geometry::Point(_)) {
                        Vec::new()
                    } else {
                        vec![bbox.west, bbox.east, bbox.south, bbox.north]
                    };
                let blob = geometry
                    .to_gpkg_wkb(CoordDimensions::xy(), Some(WGS84_SRS_ID), envelope)
                    .map_err(io::Error::other)?;
                Some((bbox, blob))
            }
            None => None,
        };
        let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(self.columns.len() + 1);
        values.push(match &located {
            Some((_, blob)) => rusqlite::types::Value::Blob(blob.clone()),
            None => rusqlite::types::Value::Null,
        });
        for (name, field_type) in &self.columns {
            values.push(sql_value(feature.properties.get(name), *field_type));
        }
        let bbox = located.map(|(bbox, _)| bbox);
        let write = || -> rusqlite::Result<()> {
            self.conn
                .prepare_cached(&self.insert)?
                .execute(rusqlite::params_from_iter(values.iter()))?;
            let fid = self.conn.last_insert_rowid();
            if let Some(bbox) = &bbox {
                self.conn
                    .prepare_cached(&self.insert_rtree)?
                    .execute(params![fid, bbox.west, bbox.east, bbox.south, bbox.north])?;
            }
            Ok(())
        };
        write().map_err(io::Error::other)?;
        if let Some(bbox) = bbox {
            self.extent = Some(self.extent.map_or(bbox, |e| e.union(&bbox)));
        }
        self.rows_in_transaction += 1;
        if self.rows_in_transaction >= ROWS_PER_TRANSACTION {
            self.conn
                .execute_batch("COMMIT; BEGIN")
                .map_err(io::Error::other)?;
            self.rows_in_transaction = 0;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let Self {
            mut out,
            folder,
            conn,
            table,
            extent,
            ..
        } = *self;
        let close = || -> rusqlite::Result<()> {
            if let Some(e) = extent {
                conn.execute(
                    "UPDATE gpkg_contents SET min_x = ?1, min_y = ?2, max_x = ?3, max_y = ?4 WHERE table_name = ?5",
                    params![e.west, e.south, e.east, e.north, table],
                )?;
            }
            create_rtree_triggers(&conn, &table, "geom")?;
            conn.execute_batch("COMMIT")
        };
        close().map_err(io::Error::other)?;
        conn.close().map_err(|(_, e)| io::Error::other(e))?;
        let mut file = std::fs::File::open(folder.path().join("export.gpkg"))?;
        io::copy(&mut file, &mut out)?;
        out.flush()
    }
}
