//! Several processes on one GeoPackage: a console serving it, the command line importing into it, a cron
//! job, a second console. Each commit leaves a row in `gc_changes`, written by triggers in the committing
//! transaction itself (so no code path, and no process, can commit without it, and a rolled-back
//! transaction leaves none); a follower polls `PRAGMA data_version`, which moves when any other connection
//! commits, and reads the rows past the last one it saw. Leadership is an exclusive lock on a file beside
//! the GeoPackage (`<file>-lead`), which the operating system releases the moment its holder exits.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use geoconsole_store::{
    ClusterEvent, Lease, StoreError, StoreErrorKind, StoreResult, Subscription,
};
use rusqlite::{Connection, OpenFlags, params};

use crate::connection::sqlite_error;

/// The change log and the triggers that fill it. Only what other processes act on is logged: datasets
/// (written or dropped, with the version), alerts (raised, changed) and feed definitions. Rules are read from
/// the store whenever they are used, so they need no news.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gc_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  number INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS gc_changes_dataset_added AFTER INSERT ON gc_datasets
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('dataset', NEW.id, NEW.version); END;
CREATE TRIGGER IF NOT EXISTS gc_changes_dataset_changed AFTER UPDATE OF version ON gc_datasets
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('dataset', NEW.id, NEW.version); END;
CREATE TRIGGER IF NOT EXISTS gc_changes_dataset_dropped AFTER DELETE ON gc_datasets
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('dataset', OLD.id, 0); END;
CREATE TRIGGER IF NOT EXISTS gc_changes_alert_raised AFTER INSERT ON gc_alerts
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('alert', NEW.rule, NEW.seq); END;
CREATE TRIGGER IF NOT EXISTS gc_changes_alert_changed AFTER UPDATE OF state ON gc_alerts
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('alert_changed', NEW.rule, NEW.seq); END;
CREATE TRIGGER IF NOT EXISTS gc_changes_feed_added AFTER INSERT ON gc_feeds
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('feed', NEW.name, 0); END;
CREATE TRIGGER IF NOT EXISTS gc_changes_feed_changed AFTER UPDATE OF definition ON gc_feeds
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('feed', NEW.name, 0); END;
CREATE TRIGGER IF NOT EXISTS gc_changes_feed_deleted AFTER DELETE ON gc_feeds
BEGIN INSERT INTO gc_changes (kind, name, number) VALUES ('feed', OLD.name, 0); END;
";

/// How often a follower looks: well within the second a commit must take to reach every console, at the
/// cost of one `PRAGMA data_version` (no I/O) per look.
pub const POLL: Duration = Duration::from_millis(200);

/// Rows kept in the log: a follower that has been away for longer than this many commits resynchronises
/// from the catalog instead of reading every row.
const KEEP_ROWS: i64 = 10_000;

/// What a log row tells the followers.
fn event_of(kind: &str, name: String, number: i64) -> Option<ClusterEvent> {
    match kind {
        "dataset" => Some(ClusterEvent::Dataset {
            id: name,
            version: u64::try_from(number).unwrap_or(0),
        }),
        "alert" => Some(ClusterEvent::Alerts { up_to: number }),
        "alert_changed" => Some(ClusterEvent::AlertChanged { seq: number }),
        "feed" => Some(ClusterEvent::Feeds),
        _ => None,
    }
}

/// A read-only connection of the follower's own: `data_version` only moves for commits made through other
/// connections, and this one never commits.
fn open_follower(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| sqlite_error(path, e))?;
    Ok(conn)
}

fn last_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(seq), 0) FROM gc_changes", [], |r| {
        r.get(0)
    })
}

/// Stops the follower's thread when dropped.
struct Follower {
    stop: Arc<AtomicBool>,
}

impl Subscription for Follower {}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Follows the log from its current end, calling `sink` with each change committed from now on, by any
/// process (this one included: its own commits are news to its other parts too).
pub fn follow(
    path: &Path,
    sink: Box<dyn Fn(ClusterEvent) + Send + Sync>,
) -> StoreResult<Box<dyn Subscription>> {
    let conn = open_follower(path)?;
    let mut seen = last_seq(&conn).map_err(|e| sqlite_error(path, e))?;
    let mut version: i64 = conn
        .pragma_query_value(None, "data_version", |r| r.get(0))
        .map_err(|e| sqlite_error(path, e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let shown = path.display().to_string();
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("gpkg-follower".into())
        .spawn(move || {
            let mut failing = false;
            while !stopping.load(Ordering::Acquire) {
                std::thread::sleep(POLL);
                match read_news(&conn, &mut version, &mut seen, &*sink) {
                    Ok(()) if failing => {
                        // What happened while the log could not be read is unknown: read everything again.
                        failing = false;
                        sink(ClusterEvent::Resynchronise);
                    }
                    Ok(()) => {}
                    Err(e) => {
                        if !failing {
                            tracing::warn!(store = %path.display(), error = %e, "cannot read the change log; retrying");
                        }
                        failing = true;
                    }
                }
            }
        })
        .map_err(|e| {
            StoreError::new(
                StoreErrorKind::Internal,
                format!("cannot start following {shown}: {e}"),
            )
        })?;
    Ok(Box::new(Follower { stop }))
}

/// One look: nothing when no other connection committed since the last look; else every log row past the
/// last one seen, or a resynchronisation when rows were pruned before this follower read them.
fn read_news(
    conn: &Connection,
    version: &mut i64,
    seen: &mut i64,
    sink: &(dyn Fn(ClusterEvent) + Send + Sync),
) -> rusqlite::Result<()> {
    let now: i64 = conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
    if now == *version {
        return Ok(());
    }
    *version = now;
    let oldest: Option<i64> =
        conn.query_row("SELECT min(seq) FROM gc_changes", [], |r| r.get(0))?;
    if oldest.is_some_and(|o| o > *seen + 1) {
        *seen = last_seq(conn)?;
        sink(ClusterEvent::Resynchronise);
        return Ok(());
    }
    let mut statement = conn.prepare_cached(
        "SELECT seq, kind, name, number FROM gc_changes WHERE seq > ?1 ORDER BY seq",
    )?;
    let rows = statement.query_map(params![*seen], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (seq, kind, name, number) = row?;
        *seen = seq;
        if let Some(event) = event_of(&kind, name, number) {
            sink(event);
        }
    }
    Ok(())
}

/// Keeps the log short; run by writers now and then, inside their own transactions.
pub fn prune(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM gc_changes WHERE seq <= (SELECT max(seq) FROM gc_changes) - ?1",
        params![KEEP_ROWS],
    )?;
    Ok(())
}

/// The file whose lock is the lead: beside the GeoPackage, as SQLite's own `-wal` and `-shm` are.
pub fn lead_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push("-lead");
    PathBuf::from(name)
}

/// Held while the lock is: the operating system releases it with the process, however it ends.
struct FileLease {
    _file: File,
}

#[async_trait::async_trait]
impl Lease for FileLease {
    async fn still_held(&mut self) -> bool {
        true
    }
}

/// Takes the lead if no other process holds it.
pub fn try_lead(path: &Path) -> StoreResult<Option<Box<dyn Lease>>> {
    let lead = lead_file(path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lead)
        .map_err(|e| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("cannot open {}: {e}", lead.display()),
            )
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Box::new(FileLease { _file: file }))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!("cannot lock {}: {e}", lead.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_is_one_holders_until_it_lets_go() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.gpkg");
        let first = try_lead(&path).expect("lead");
        assert!(first.is_some());
        assert!(
            try_lead(&path).expect("second try").is_none(),
            "a second holder waits"
        );
        drop(first);
        assert!(try_lead(&path).expect("after").is_some());
    }
}
