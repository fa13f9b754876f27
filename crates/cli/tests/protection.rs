//! The data-protection guard and the account commands, through the built binary: personal columns are
//! refused with their names and nothing is stored, `--drop-column` removes them, `--allow-column` keeps a
//! contact column and the audit log says so, special-category data is refused whatever is allowed; and
//! `users`, `tokens` and `audit` manage a store a server then enforces.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_geoconsole"));
        command
            .args(["--store", "ops.gpkg"])
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("GEOCONSOLE_STORE")
            .env_remove("GEOCONSOLE_CONFIG")
            .env_remove("GEOCONSOLE_LOG")
            .env("USER", "tester");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run geoconsole")
    }

    fn with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "geoconsole {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn datasets(&self) -> Vec<String> {
        let list: serde_json::Value =
            serde_json::from_str(&self.ok(&["--json", "datasets", "list"])).expect("json");
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

const INCIDENTS: &str = "\
lat,lon,kind,reported_at,reporter_email,duty_phone,notes
51.5,-0.12,spill,2026-03-01T08:00:00Z,ann.smith@example.com,+44 20 7946 0958,contained
48.8,2.35,fire,2026-03-02T09:30:00Z,bob@example.org,+33 1 70 36 39 50,evacuated
";

#[test]
fn personal_columns_are_refused_by_name_dropped_on_request_and_allowed_columns_audited() {
    let run = Run::new();
    std::fs::write(run.path("incidents.csv"), INCIDENTS).expect("write");
    let refused = run.run(&["import", "incidents.csv"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    for expected in [
        "incidents.csv",
        "'reporter_email' holds email addresses",
        "'duty_phone' holds phone numbers",
        "--drop-column",
        "--allow-column",
    ] {
        assert!(message.contains(expected), "{expected} in: {message}");
    }
    assert!(run.datasets().is_empty(), "nothing was stored");

    // Drop the email, keep the duty phone on purpose.
    run.ok(&[
        "import",
        "incidents.csv",
        "--drop-column",
        "reporter_email",
        "--allow-column",
        "duty_phone",
    ]);
    let items: serde_json::Value =
        serde_json::from_str(&run.ok(&["--json", "query", "incidents"])).expect("json");
    let text = items.to_string();
    assert!(
        !text.contains("example.com") && !text.contains("reporter_email"),
        "{text}"
    );
    assert!(
        text.contains("+44 20 7946 0958"),
        "the allowed column stays: {text}"
    );
    let audit: serde_json::Value =
        serde_json::from_str(&run.ok(&["--json", "audit", "--action", "import"])).expect("json");
    let entry = &audit[0];
    assert_eq!(entry["actor"], "cli:tester", "{audit}");
    assert_eq!(entry["target"], "incidents");
    assert_eq!(
        entry["detail"]["allowed_personal_columns"]["duty_phone"],
        "phone"
    );
    assert_eq!(entry["detail"]["dropped_columns"][0], "reporter_email");
}

#[test]
fn special_category_data_is_refused_even_when_allowed_and_values_give_columns_away() {
    let run = Run::new();
    std::fs::write(
        run.path("sites.csv"),
        "lat,lon,site,union_member\n51.5,-0.12,Depot,yes\n",
    )
    .expect("write");
    let out = run.run(&["import", "sites.csv", "--allow-column", "union_member"]);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("always refused") && message.contains("union_member"),
        "{message}"
    );
    run.ok(&["import", "sites.csv", "--drop-column", "union_member"]);

    // A dataset named for special-category data is refused whatever its columns.
    std::fs::write(run.path("plain.csv"), "lat,lon,site\n51.5,-0.12,Depot\n").expect("write");
    let out = run.run(&["import", "plain.csv", "--dataset", "union_activity"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("trade-union"));

    // A harmless column name whose values are emails and person names.
    std::fs::write(
        run.path("contacts.csv"),
        "lat,lon,site,contact\n1,1,A,Maria Garcia\n2,2,B,John Smith\n3,3,C,Wei Zhang\n4,4,D,Peter Jones\n",
    )
    .expect("write");
    let out = run.run(&["import", "contacts.csv"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'contact' holds person names"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Found late: the 3rd row's notes carry an email; the import is refused whole, naming the line.
    std::fs::write(
        run.path("late.csv"),
        "lat,lon,site,notes\n1,1,A,ok\n2,2,B,fine\n3,3,C,write to ops.lead@example.net\n",
    )
    .expect("write");
    let out = run.run(&["import", "late.csv"]);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("'notes' holds email addresses") && message.contains("line 4"),
        "{message}"
    );
    assert!(!run.datasets().contains(&"late".to_string()));
}

/// Regression: the rejects report (`--skip-invalid --rejects FILE`) wrote refused values in clear in
/// `raw`. Dropped, allowed and personal-looking values are redacted; where, why and which columns stay.
#[test]
fn the_rejects_report_hides_what_the_guard_refuses() {
    let run = Run::new();
    std::fs::write(
        run.path("incidents.csv"),
        "lat,lon,site,union_member,notes,duty_phone\n\
         51.5,-0.12,Depot,yes,contained,+44 20 7946 0958\n\
         95.0,-0.12,Yard,yes,write to ann@example.com,+44 20 7946 0959\n",
    )
    .expect("write");
    run.ok(&[
        "import",
        "incidents.csv",
        "--skip-invalid",
        "--rejects",
        "rejects.jsonl",
        "--drop-column",
        "union_member",
        "--allow-column",
        "duty_phone",
    ]);
    let report = std::fs::read_to_string(run.path("rejects.jsonl")).expect("rejects report");
    for secret in ["ann@example.com", "7946 0959", "Yard,yes"] {
        assert!(!report.contains(secret), "{secret} in {report}");
    }
    let line: serde_json::Value = serde_json::from_str(report.trim()).expect("one json line");
    assert_eq!(line["line"], 3, "{report}");
    assert!(
        line["raw"]
            .as_str()
            .is_some_and(|r| r.starts_with("95.0,-0.12,Yard,[redacted],"))
    );
    assert_eq!(
        line["redacted"],
        serde_json::json!(["union_member", "notes", "duty_phone"])
    );
}

/// Writes a dataset straight into a store, as a store from an older version (or made elsewhere) may hold
/// it: no guard on the way.
async fn seed(
    store: &geoconsole_gpkg::GpkgStore,
    id: &str,
    features: Vec<geoconsole_model::Feature>,
) {
    use geoconsole_store::{FeatureStore, WriteMode, WriteRequest};
    let mut writer = store
        .begin_write(WriteRequest {
            id: geoconsole_model::DatasetId::new(id).expect("id"),
            title: id.to_string(),
            kind: geoconsole_model::DatasetKind::Reference,
            source: "seed".into(),
            time_fields: Default::default(),
            id_field: None,
            mode: WriteMode::Create,
            skip_conflicts: false,
        })
        .await
        .expect("begin");
    writer.write(features).await.expect("write");
    writer.commit().await.expect("commit");
}

async fn datasets_in(path: &std::path::Path) -> Vec<String> {
    use geoconsole_store::FeatureStore;
    let store = geoconsole_gpkg::GpkgStore::open(path).expect("target");
    let mut ids: Vec<String> = store
        .list_datasets()
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.id.to_string())
        .collect();
    ids.sort();
    ids
}

/// Regression: `geoconsole migrate` copied datasets without the guard, so a store holding what an import
/// refuses (a dataset named for trade-union members, a nested email) was copied on. Names are checked
/// before anything is copied; features as they are copied, with nothing of a refused dataset written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_refuses_a_store_holding_what_an_import_refuses() {
    use geoconsole_testkit::point;
    use serde_json::json;
    let run = Run::new();
    {
        let source = geoconsole_gpkg::GpkgStore::open(run.path("ops.gpkg")).expect("source");
        seed(
            &source,
            "clean",
            vec![point("a", 1.0, 2.0, json!({"site": "Depot"}))],
        )
        .await;
        seed(
            &source,
            "sites",
            vec![point(
                "b",
                1.0,
                2.0,
                json!({"site": "Yard", "kontakt": {"email": "ann@example.com"}}),
            )],
        )
        .await;
        seed(
            &source,
            "gewerkschaft_mitglieder",
            vec![point("c", 1.0, 2.0, json!({"n": 1}))],
        )
        .await;
    }
    let out = run.run(&["migrate", "--to", "all.gpkg"]);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("gewerkschaft_mitglieder") && message.contains("trade-union"),
        "{message}"
    );
    assert!(
        datasets_in(&run.path("all.gpkg")).await.is_empty(),
        "nothing copied"
    );

    let out = run.run(&[
        "migrate",
        "--to",
        "two.gpkg",
        "--dataset",
        "clean",
        "--dataset",
        "sites",
    ]);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("dataset 'sites'") && message.contains("'kontakt' holds email addresses"),
        "{message}"
    );
    assert_eq!(datasets_in(&run.path("two.gpkg")).await, ["clean"]);

    // Dropped on the way, as at import.
    run.ok(&[
        "migrate",
        "--to",
        "dropped.gpkg",
        "--dataset",
        "sites",
        "--drop-column",
        "kontakt",
    ]);
    let target = geoconsole_gpkg::GpkgStore::open(run.path("dropped.gpkg")).expect("target");
    let page = geoconsole_store::FeatureStore::query(
        &target,
        &geoconsole_model::DatasetId::new("sites").expect("id"),
        &geoconsole_query::FeatureQuery::all(),
    )
    .await
    .expect("query");
    assert_eq!(page.features.len(), 1);
    assert!(!page.features[0].properties.contains_key("kontakt"));
}

#[test]
fn accounts_tokens_and_audit_from_the_command_line() {
    let run = Run::new();
    let short = run.with_stdin(
        &["users", "add", "ann", "--role", "admin", "--password-stdin"],
        "short\n",
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let added = run.with_stdin(
        &["users", "add", "ann", "--role", "admin", "--password-stdin"],
        "a long enough passphrase\n",
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    run.with_stdin(
        &[
            "users",
            "add",
            "vic",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        "another long passphrase\n",
    );
    let list = run.ok(&["users", "list"]);
    assert!(
        list.contains("ann") && list.contains("admin") && list.contains("vic"),
        "{list}"
    );
    let refused = run.run(&["users", "set-role", "ann", "viewer"]);
    assert!(!refused.status.success(), "the only admin keeps its role");
    run.ok(&["users", "grant", "vic", "--read", "sites"]);
    assert!(run.ok(&["users", "list"]).contains("sites:read"));

    let token = run.ok(&[
        "tokens", "create", "--user", "vic", "--scope", "read", "--label", "grafana",
    ]);
    let token = token.trim().to_string();
    assert!(token.starts_with("gct_"), "{token}");
    let over = run.run(&["tokens", "create", "--user", "vic", "--scope", "admin"]);
    assert!(!over.status.success(), "a token cannot exceed its account");
    let listed = run.ok(&["tokens", "list"]);
    assert!(
        listed.contains("grafana") && !listed.contains(&token[8..]),
        "{listed}"
    );
    let id = token
        .trim_start_matches("gct_")
        .split('_')
        .next()
        .expect("id")
        .to_string();
    run.ok(&["tokens", "revoke", &id]);
    assert!(run.ok(&["tokens", "list"]).contains("revoked"));

    let audit = run.ok(&["audit"]);
    for action in ["users.add", "users.grant", "tokens.create", "tokens.revoke"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    assert!(audit.contains("cli:tester"));
    // With accounts, serving beyond loopback is allowed; without, it is refused (checked in the server
    // tests). Listening on every address here would reach beyond the machine, so that is not started.
}

/// Refused imports leave nothing behind and name the column (or the feature ids) the guard found.
fn refused(run: &Run, file: &str, body: &str, expected: &[&str]) {
    std::fs::write(run.path(file), body).expect("write");
    let out = run.run(&["import", file]);
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{file} was imported: {body}");
    for part in expected {
        assert!(message.contains(part), "{part} in: {message}");
    }
    let stem = file.split('.').next().unwrap_or(file);
    assert!(!run.datasets().contains(&stem.to_string()), "{file} stored");
}

/// Regression (second outside test), one case per class through the binary: personal names built from a
/// role (`victim_name`), disguised special-category names (`rel1gion`), values written in full-width forms
/// (`john＠example.com`), key/value pairs in nested values, and feature ids that are mobile numbers. Real
/// event data with look-alike columns (fault `strike`, `event_type` = strike, a site's `church`) imports.
#[test]
fn the_second_outside_tests_classes_are_refused_and_event_data_still_imports() {
    let run = Run::new();
    refused(
        &run,
        "roles.csv",
        "lat,lon,site,victim_name\n51.5,-0.12,Depot,A\n",
        &["'victim_name' holds person names"],
    );
    refused(
        &run,
        "disguised.csv",
        "lat,lon,site,rel1gion\n51.5,-0.12,Depot,x\n",
        &["always refused", "'rel1gion' holds religion"],
    );
    refused(
        &run,
        "fullwidth.csv",
        "lat,lon,site,note\n51.5,-0.12,Depot,john＠example.com\n",
        &["'note' holds email addresses"],
    );
    refused(
        &run,
        "names.csv",
        "lat,lon,site,contact\n1,1,A,\"Smith, John\"\n2,2,B,\"Garcia, Maria\"\n3,3,C,\"Zhang, Wei\"\n",
        &["'contact' holds person names"],
    );
    let feature = |props: &str, id: &str| {
        format!(
            r#"{{"type":"Feature","id":{id},"geometry":{{"type":"Point","coordinates":[1,2]}},"properties":{props}}}"#
        )
    };
    let collection = |features: Vec<String>| {
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        )
    };
    refused(
        &run,
        "pairs.geojson",
        &collection(vec![feature(
            r#"{"site":"Depot","meta":[["first_name","John"],["last_name","Smith"]]}"#,
            "1",
        )]),
        &["'meta'", "meta.first_name"],
    );
    refused(
        &run,
        "kv.geojson",
        &collection(vec![feature(
            r#"{"site":"Depot","attr":{"k":"religion","v":"catholic"}}"#,
            "1",
        )]),
        &["always refused", "'attr'"],
    );
    refused(
        &run,
        "mobiles.geojson",
        &collection(
            ["4915112345678", "447700900123", "33612345678"]
                .iter()
                .map(|id| feature(r#"{"site":"Depot"}"#, id))
                .collect(),
        ),
        &["feature ids hold phone numbers"],
    );
    // One long numeric id is an id (OpenStreetMap ids are long numbers too).
    std::fs::write(
        run.path("osm.geojson"),
        collection(vec![feature(r#"{"site":"Depot"}"#, "4915112345678")]),
    )
    .expect("write");
    run.ok(&["import", "osm.geojson"]);

    // Near misses that real datasets have.
    for (file, body) in [
        (
            "quakes.csv",
            "lat,lon,mag,place,type,strike,dip,rake,nst,net\n38.1,142.8,6.1,off Honshu,earthquake,195,12,88,40,us\n",
        ),
        (
            "disruptions.csv",
            "lat,lon,event_type,headline,severity\n51.9,4.1,strike,Port strike,high\n53.4,-3.0,strike,Lorry drivers strike,medium\n",
        ),
        (
            "sites.csv",
            "lat,lon,name,address,church,employees\n51.5,-0.12,Depot North,1 Dock Road,St Mary,120\n",
        ),
    ] {
        std::fs::write(run.path(file), body).expect("write");
        run.ok(&["import", file]);
    }
    let stored = run.datasets();
    for id in ["osm", "quakes", "disruptions", "sites"] {
        assert!(stored.contains(&id.to_string()), "{id} in {stored:?}");
    }
}
