//! A paged source synced by the real binary, killed with SIGKILL in the middle of the sync, then synced
//! again: the store ends with exactly the service's rows (no duplicates, no losses, the same values), and
//! a kill during the next full sync leaves the previous one's data whole. `sources add|list|sync` are
//! driven as a person would, against a scripted ArcGIS FeatureServer on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use geoconsole_testkit::{ArcgisLayer, ArcgisOrigin, SocrataDataset, SocrataOrigin};

const ROWS: usize = 50_000;

fn geoconsole(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_geoconsole"));
    command
        .args(["--quiet", "--store", "ops.gpkg"])
        .args(args)
        .current_dir(dir)
        .env_remove("GEOCONSOLE_STORE")
        .env_remove("GEOCONSOLE_CONFIG")
        .env_remove("GEOCONSOLE_LOG");
    command
}

async fn run(dir: &Path, args: &[&str]) -> Output {
    let mut command = geoconsole(dir, args);
    tokio::task::spawn_blocking(move || command.output().expect("run geoconsole"))
        .await
        .expect("join")
}

/// A folder for the store whose configuration lets the console reach the origins on 127.0.0.1.
fn loopback_allowed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("geoconsole.toml"),
        "[network]\nallow = [\"127.0.0.1\"]\n",
    )
    .expect("config");
    dir
}

/// Runs `geoconsole` and insists that it succeeded; its standard output.
async fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args).await;
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ids and `DEPTH` of every row the store holds in `table`, read straight from the file.
fn rows(store: &Path, table: &str) -> Vec<(String, f64)> {
    let conn = rusqlite::Connection::open(store).expect("open store");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    let exists: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .expect("table lookup");
    if !exists {
        return Vec::new();
    }
    let mut statement = conn
        .prepare(&format!(
            "SELECT feature_id, \"DEPTH\" FROM \"{table}\" ORDER BY feature_id"
        ))
        .expect("prepare");
    statement
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Kills the sync once the origin has answered `pages` more queries than `before`.
async fn sync_killed_after(dir: &Path, origin: &ArcgisOrigin, pages: usize) -> bool {
    let before = origin.queries().len();
    let mut child = geoconsole(dir, &["sources", "sync", "flood"])
        .spawn()
        .expect("spawn sync");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            eprintln!("the sync ended ({status}) before the kill");
            return false;
        }
        if origin.queries().len() >= before + pages {
            // Child::kill sends SIGKILL on Unix: no chance to clean up, as with kill -9.
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            return true;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "sync hung");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_midway_ends_with_the_services_rows_after_a_restart() {
    let origin = ArcgisOrigin::start(ArcgisLayer::new(ROWS)).await;
    let dir = loopback_allowed();
    let added = run(
        dir.path(),
        &[
            "sources",
            "add",
            "--kind",
            "arcgis",
            "--url",
            &origin.layer_url(),
            "--dataset",
            "flood",
            "--dataset-kind",
            "areas",
            "--full-sync-s",
            "1",
        ],
    )
    .await;
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let store: PathBuf = dir.path().join("ops.gpkg");

    // Killed after 5 of 26 pages: nothing of the sync is stored, and the store is sound.
    assert!(sync_killed_after(dir.path(), &origin, 5).await);
    let after_kill = rows(&store, "flood");
    assert!(
        after_kill.is_empty(),
        "a killed first sync leaves nothing behind, found {}",
        after_kill.len()
    );

    // The restart reads the whole layer: every row once, with the service's values.
    let synced = run(dir.path(), &["sources", "sync", "flood"]).await;
    let text = String::from_utf8_lossy(&synced.stdout);
    assert!(
        synced.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    assert!(text.contains(&format!("{ROWS} items")), "{text}");
    let stored = rows(&store, "flood");
    assert_eq!(stored.len(), ROWS, "every row");
    for (id, depth) in stored.iter().step_by(997) {
        let oid: i64 = id.parse().expect("object id");
        let expected = origin.row(oid).0["DEPTH"].as_f64().expect("depth");
        assert_eq!(*depth, expected, "row {oid}");
    }

    // A full sync killed midway (rows deleted and edited meanwhile) leaves the previous sync whole; the
    // next one brings the service's current rows exactly.
    origin.delete(&[2, 3, 4]);
    origin.edit(&[100], geoconsole_testkit::ARCGIS_EDIT_BASE_MS + 9_000_000);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    if sync_killed_after(dir.path(), &origin, 8).await {
        assert_eq!(rows(&store, "flood"), stored, "the previous sync, whole");
    }
    let synced = run(dir.path(), &["sources", "sync", "flood"]).await;
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    let now = rows(&store, "flood");
    assert_eq!(now.len(), ROWS - 3, "the deleted rows are gone");
    assert!(
        now.iter()
            .all(|(id, _)| !["2", "3", "4"].contains(&id.as_str()))
    );
    let hundredth = now.iter().find(|(id, _)| id == "100").expect("row 100");
    assert_eq!(Some(hundredth.1), origin.row(100).0["DEPTH"].as_f64());

    let list = run(dir.path(), &["--json", "sources", "list"]).await;
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(list[0]["status"], "ok", "{list}");
    assert_eq!(list[0]["state"]["last_poll"]["items"], ROWS as u64 - 3);
}

/// Found by an outside tester: event layers synced without `--time` had no event times, even where the
/// layer is time-enabled and says which field holds them (`timeInfo.startTimeField`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_enabled_layer_gives_its_events_their_times() {
    let origin = ArcgisOrigin::start(ArcgisLayer {
        time_enabled: true,
        ..ArcgisLayer::new(3000)
    })
    .await;
    let dir = loopback_allowed();
    let url = origin.layer_url();
    run_ok(
        dir.path(),
        &[
            "sources",
            "add",
            "--kind",
            "arcgis",
            "--url",
            &url,
            "--dataset",
            "floods",
        ],
    )
    .await;
    run_ok(dir.path(), &["sources", "sync", "floods"]).await;
    let conn = rusqlite::Connection::open(dir.path().join("ops.gpkg")).expect("open store");
    let field: Option<String> = conn
        .query_row(
            "SELECT time_start_field FROM gc_datasets WHERE id = 'floods'",
            [],
            |r| r.get(0),
        )
        .expect("dataset row");
    assert_eq!(field.as_deref(), Some("FLOODED"));
    let (timed, same): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(time_start), SUM(time_start = FLOODED) FROM floods",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("times");
    let with_date: i64 = conn
        .query_row("SELECT COUNT(FLOODED) FROM floods", [], |r| r.get(0))
        .expect("dates");
    assert!(with_date > 0);
    assert_eq!(
        timed, with_date,
        "every row with a FLOODED date has its time"
    );
    assert_eq!(same, with_date, "the time is that date");
}

/// Found by an outside tester: `sources add --timeout-ms 2000` was kept but not applied, so a service that
/// never answers held a sync for the built-in 60 s per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sources_own_timeout_bounds_each_request() {
    // Takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let dir = loopback_allowed();
    let url = format!("http://127.0.0.1:{port}/arcgis/rest/services/Flood/FeatureServer/0");
    run_ok(
        dir.path(),
        &[
            "sources",
            "add",
            "--kind",
            "arcgis",
            "--url",
            &url,
            "--dataset",
            "flood",
            "--timeout-ms",
            "1500",
        ],
    )
    .await;
    let started = Instant::now();
    let synced = run(dir.path(), &["sources", "sync", "flood"]).await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&synced.stdout),
        String::from_utf8_lossy(&synced.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(30), "{said}");
    assert!(said.contains("within 1.5 s"), "{said}");
    drop(silent);
}

/// Found by an outside tester: a row withdrawn by a full sync and later restored unchanged (a new
/// `:updated_at`, the same values) came back on the next incremental sync as "unchanged", and stayed missing
/// until the next full sync: its fingerprint outlived it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_restored_after_a_full_sync_withdrew_it_comes_back_at_once() {
    let origin = SocrataOrigin::start(SocrataDataset::new(3000)).await;
    let dir = loopback_allowed();
    let url = origin.resource_url();
    let add = |full_sync_s: &'static str| {
        let url = url.clone();
        let dir = dir.path().to_path_buf();
        async move {
            run_ok(
                &dir,
                &[
                    "sources",
                    "add",
                    "--replace",
                    "--kind",
                    "socrata",
                    "--url",
                    &url,
                    "--dataset",
                    "thefts",
                    "--full-sync-s",
                    full_sync_s,
                ],
            )
            .await;
        }
    };
    let sync = || run_ok(dir.path(), &["sources", "sync", "thefts"]);
    let count = || -> i64 {
        let conn = rusqlite::Connection::open(dir.path().join("ops.gpkg")).expect("open store");
        conn.query_row("SELECT COUNT(*) FROM thefts", [], |r| r.get(0))
            .expect("count")
    };
    add("1").await;
    sync().await;
    assert_eq!(count(), 3000);
    origin.delete(&[7]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let withdrawn = sync().await;
    assert_eq!(count(), 2999, "{withdrawn}");
    // Full syncs a day apart from now on: the next sync is incremental.
    add("86400").await;
    origin.restore(&[7], chrono::Utc::now());
    let restored = sync().await;
    assert!(restored.contains("incremental"), "{restored}");
    assert_eq!(count(), 3000, "the restored row is back: {restored}");
}

/// Found by an outside tester: a source whose dataset names special-category data was accepted when added
/// and refused only at its first sync (catalog entries were held to the check already).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_named_for_special_category_data_is_refused_when_added() {
    let dir = loopback_allowed();
    let added = run(
        dir.path(),
        &[
            "sources",
            "add",
            "--kind",
            "socrata",
            "--url",
            "http://127.0.0.1:9/resource/abcd-1234.json",
            "--dataset",
            "trade_union_membership",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(!added.status.success(), "{stderr}");
    assert!(stderr.contains("never stores"), "{stderr}");
    let listed = run(dir.path(), &["sources", "list"]).await;
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("no sources"),
        "nothing was saved"
    );
}

/// Found by an outside tester: a full sync withdrew the features it skipped (4,185 of 4,186 rows gone, status
/// ok), and a sync that skipped every feature reported success. Skipped rows keep their last good version;
/// deletions wait for a full sync that skips nothing; a sync with nothing usable fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_that_skips_features_withdraws_nothing() {
    let origin = ArcgisOrigin::start(ArcgisLayer::new(3000)).await;
    let dir = loopback_allowed();
    let url = origin.layer_url();
    run_ok(
        dir.path(),
        &[
            "sources",
            "add",
            "--kind",
            "arcgis",
            "--url",
            &url,
            "--dataset",
            "flood",
            "--full-sync-s",
            "1",
        ],
    )
    .await;
    let store = dir.path().join("ops.gpkg");
    run_ok(dir.path(), &["sources", "sync", "flood"]).await;
    assert_eq!(rows(&store, "flood").len(), 3000);

    origin.break_rows(&[5, 6]);
    origin.delete(&[9]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let said = run_ok(dir.path(), &["sources", "sync", "flood"]).await;
    assert!(said.contains("withdrew nothing"), "{said}");
    let kept = rows(&store, "flood");
    assert_eq!(kept.len(), 3000, "{said}");
    assert!(
        kept.iter().any(|(id, _)| id == "5"),
        "a skipped row keeps its last version"
    );

    origin.break_rows(&[]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let said = run_ok(dir.path(), &["sources", "sync", "flood"]).await;
    assert_eq!(rows(&store, "flood").len(), 2999, "{said}");

    origin.break_rows(&(1..=3000).collect::<Vec<i64>>());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let failed = run(dir.path(), &["sources", "sync", "flood"]).await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&failed.stdout),
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(
        said.contains("were skipped, so nothing was written"),
        "{said}"
    );
    assert_eq!(rows(&store, "flood").len(), 2999, "{said}");
}
