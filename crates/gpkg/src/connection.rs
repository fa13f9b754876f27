//! Opening the file: pragmas, SQL functions, and the checks that a file is a GeoPackage we may write.

use std::path::Path;
use std::time::Duration;

use geoconsole_store::{StoreError, StoreErrorKind, StoreResult};
use rusqlite::{Connection, OpenFlags};

use crate::{blob, columns, ddl};

/// Wraps a SQLite error as a store error naming the file.
pub fn sqlite_error(path: &Path, error: rusqlite::Error) -> StoreError {
    let kind = match &error {
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, rusqlite::ErrorCode::NotADatabase) =>
        {
            StoreErrorKind::Unavailable
        }
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreErrorKind::Unavailable
        }
        _ => StoreErrorKind::Internal,
    };
    StoreError::new(kind, format!("{}: {error}", path.display())).with_source(error)
}

/// Opens (creating if needed) a read-write connection configured for the console: WAL so readers never wait
/// for the writer, full sync at commit so an acknowledged import survives a crash, a generous page cache.
pub fn open(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
    configure(&conn).map_err(|e| sqlite_error(path, e))?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    // Only takes effect on a new, empty file, and only before WAL mode writes the header.
    conn.pragma_update(None, "page_size", PAGE_BYTES)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    // Lets SQLite sort (index builds, the R-tree's Hilbert order) on both cores.
    conn.pragma_update(None, "threads", 2)?;
    // Reads of scattered rows (the features of a page or tile, by key) go through the OS page cache without a
    // read system call and a copy per page. Address space only; the OS decides what stays resident.
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    blob::register_functions(conn)?;
    columns::register_functions(conn)?;
    // `rarray` binds a list of keys as one parameter (see `scan::features_by_key`).
    rusqlite::vtab::array::load_module(conn)
}

/// Largest part of the file mapped into memory per connection: address space, not RAM; SQLite caps it at its
/// compile-time maximum.
const MMAP_BYTES: i64 = 64 << 30;

/// Page cache per connection, as `PRAGMA cache_size` takes it (negative: KiB): 96 MiB. A bulk import's
/// dirty pages spill to the WAL when it is full, so it is sized to hold the working set of a million-row load.
pub const CACHE_KIB: i64 = -98_304;
/// Page cache while indexes are built from sorted keys (see the writer): 8 MiB.
pub const INDEX_BUILD_CACHE_KIB: i64 = -8_192;

/// Page size of new GeoPackages. Larger pages than SQLite's default 4 KiB mean fewer B-tree splits and WAL
/// frames per imported feature; 16 KiB keeps a point lookup to a few small reads.
const PAGE_BYTES: i64 = 16_384;

/// Makes an empty file a GeoPackage, or checks that an existing file is one (or at least an SQLite file we
/// can add the GeoPackage core to without harming what is there).
pub fn initialise(path: &Path, conn: &Connection) -> StoreResult<()> {
    let wrap = |e| sqlite_error(path, e);
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(wrap)?;
    let table_count: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| sqlite_error(path, e))?;
    if table_count == 0 {
        conn.pragma_update(None, "application_id", ddl::APPLICATION_ID)
            .map_err(wrap)?;
        conn.pragma_update(None, "user_version", ddl::USER_VERSION)
            .map_err(wrap)?;
    } else if application_id != ddl::APPLICATION_ID {
        let has_contents: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'gpkg_contents'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(wrap)?;
        if !has_contents {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "{}: SQLite file is not a GeoPackage; refusing to write into it",
                    path.display()
                ),
            ));
        }
    }
    ddl::create_core(conn).map_err(wrap)
}
