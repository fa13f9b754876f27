//! The data-protection guard on every way into the console, against a real GeoPackage: feed polls of every
//! format (over real HTTP on 127.0.0.1), previews and definitions, uploads, feature ids, and the rejects
//! report. Each test names the side door it keeps shut.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use geoconsole_app::{Console, ImportOptions, Staging, UploadQuotas, UploadState, Uploads};
use geoconsole_feeds::{FeedFormat, FeedSpec, NetworkPolicy};
use geoconsole_formats::privacy::PrivacyPolicy;
use geoconsole_gpkg::GpkgStore;
use geoconsole_model::DatasetId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Bench {
    dir: tempfile::TempDir,
    console: Console,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(GpkgStore::open(dir.path().join("test.gpkg")).expect("store"));
        let console = Console::open(
            geoconsole_app::Stores::of(store),
            geoconsole_app::ConsoleOptions {
                network: NetworkPolicy::allowing(&["127.0.0.1"]).expect("policy"),
                ..Default::default()
            },
        )
        .expect("console");
        Self { dir, console }
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write fixture");
        path
    }

    async fn exists(&self, dataset: &str) -> bool {
        self.console
            .store()
            .contains_dataset(&DatasetId::new(dataset).expect("id"))
            .await
            .expect("contains")
    }
}

/// Serves `body` to every request on an ephemeral loopback port; the URL to fetch it.
async fn origin(content_type: &'static str, body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}/feed")
}

fn rss(extensions: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:georss="http://www.georss.org/georss" xmlns:ex="http://example.org/ns">
  <channel><title>incidents</title>
    <item>
      <title>Flooding at the depot</title>
      <guid>flood-1</guid>
      <pubDate>Mon, 30 Dec 2019 08:39:43 GMT</pubDate>
      <georss:point>45.25 -71.92</georss:point>
      {extensions}
    </item>
  </channel>
</rss>"#
    )
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name);
    std::fs::read_to_string(path).expect("fixture")
}

/// Regression: a GeoRSS feed stored items with `email`, `full_name`, `union_member`, `religion` and `phone`
/// elements, because standard feeds skipped the guard. The poll now fails with the guard's reason and
/// writes nothing; the same feed without them is stored.
#[tokio::test]
async fn a_georss_feed_with_personal_elements_fails_its_poll_and_stores_nothing() {
    let bench = Bench::new();
    let feeds = bench.console.feeds();
    let hostile = origin(
        "application/rss+xml",
        rss(
            "<ex:email>ann@example.com</ex:email><ex:full_name>Ann Smith</ex:full_name>\
             <ex:union_member>yes</ex:union_member><ex:religion>x</ex:religion>\
             <ex:phone>+44 20 7946 0958</ex:phone>",
        ),
    )
    .await;
    feeds
        .save(
            FeedSpec::new("incidents", &hostile, FeedFormat::Georss, "incidents"),
            false,
        )
        .await
        .expect("saved");
    let report = bench
        .console
        .feeds()
        .poll("incidents")
        .await
        .expect("polled");
    assert_eq!(report.outcome, "failed", "{report:?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("always refused") && error.contains("union_member"),
        "{error}"
    );
    assert!(!bench.exists("incidents").await, "nothing was stored");
    let health = feeds.get("incidents").await.expect("feed");
    assert!(
        health
            .state
            .last_error
            .is_some_and(|e| e.contains("refused")),
        "the feed's health says why"
    );

    let clean = origin(
        "application/rss+xml",
        rss("<ex:alertlevel>Orange</ex:alertlevel>"),
    )
    .await;
    feeds
        .save(
            FeedSpec::new("floods", &clean, FeedFormat::Georss, "floods"),
            false,
        )
        .await
        .expect("saved");
    let report = bench.console.feeds().poll("floods").await.expect("polled");
    assert_eq!(
        (report.outcome, report.counts.added),
        ("ok", 1),
        "{report:?}"
    );
}

/// CAP's `sender` is the issuing office's address: the one allowance, so real warnings are stored, both
/// when read and on the write path.
#[tokio::test]
async fn a_cap_feed_keeps_its_issuers_address_and_its_warnings() {
    let bench = Bench::new();
    let url = origin("application/cap+xml", fixture("feeds/cap_warning_a.xml")).await;
    bench
        .console
        .feeds()
        .save(
            FeedSpec::new("cap", &url, FeedFormat::Cap, "warnings"),
            false,
        )
        .await
        .expect("saved");
    let report = bench.console.feeds().poll("cap").await.expect("polled");
    assert_eq!(
        (report.outcome, report.counts.added),
        ("ok", 1),
        "{report:?}"
    );
}

/// A preview shows what a poll would store, so it refuses what a poll would refuse; a feed into a dataset
/// named for special-category data is refused when it is defined.
#[tokio::test]
async fn previews_and_definitions_are_refused_as_polls_are() {
    let bench = Bench::new();
    let feeds = bench.console.feeds();
    let url = origin(
        "application/rss+xml",
        rss("<ex:kontakt>ops.lead@example.net</ex:kontakt>"),
    )
    .await;
    let error = feeds
        .preview(FeedSpec::new("p", &url, FeedFormat::Georss, "p"))
        .await
        .expect_err("refused preview")
        .to_string();
    assert!(error.contains("email addresses"), "{error}");
    let error = feeds
        .save(
            FeedSpec::new("u", &url, FeedFormat::Georss, "gewerkschaft_mitglieder"),
            false,
        )
        .await
        .expect_err("refused definition")
        .to_string();
    assert!(error.contains("trade-union"), "{error}");
}

/// Uploads go through the same import, so the same guard: nested and foreign-language personal data in
/// an uploaded file is refused.
#[tokio::test]
async fn an_uploaded_file_is_guarded_like_any_import() {
    let bench = Bench::new();
    let staging = Staging::open(&bench.dir.path().join("test.gpkg.staging")).expect("staging");
    let uploads = Uploads::new(Arc::new(staging), UploadQuotas::default()).expect("uploads");
    let upload = uploads.create("sites.geojson", "ann").expect("upload");
    std::fs::write(
        upload.path(),
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},
            "properties":{"site":"Depot","kontakt":{"telefono":"+34 612 345 678"}}}]}"#,
    )
    .expect("write upload");
    bench
        .console
        .import_upload(upload.clone(), ImportOptions::default())
        .expect("import started");
    let mut waited = 0;
    let error = loop {
        match upload.state() {
            UploadState::Failed { error } => break error,
            UploadState::Imported { .. } => panic!("an upload with personal data was imported"),
            _ if waited > 200 => panic!("the upload import did not end"),
            _ => {
                waited += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(
        error.contains("'kontakt'") && error.contains("phone numbers"),
        "{error}"
    );
    assert!(!bench.exists("sites").await);
}

/// Regression: an email as the feature's own id was stored (GeoJSON `id`, or the column `--id-field`
/// names, even when that column is allowed: ids cannot be allowed, they are in every URL).
#[tokio::test]
async fn emails_as_feature_ids_are_refused() {
    let bench = Bench::new();
    let path = bench.file(
        "staff_sites.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"ann@example.com","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"site":"Depot"}}]}"#,
    );
    let error = bench
        .console
        .import(&path, ImportOptions::default())
        .await
        .expect_err("email id")
        .to_string();
    assert!(
        error.contains("feature ids hold email addresses"),
        "{error}"
    );

    let path = bench.file(
        "contacts.csv",
        "lat,lon,site,ref\n1,1,A,ann@example.com\n2,2,B,bob@example.org\n",
    );
    let options = ImportOptions {
        id_field: Some("ref".into()),
        privacy: PrivacyPolicy {
            allow: ["ref".to_string()].into(),
            ..PrivacyPolicy::default()
        },
        ..ImportOptions::default()
    };
    let error = bench
        .console
        .import(&path, options)
        .await
        .expect_err("allowed column, but as ids")
        .to_string();
    assert!(error.contains("--id-field"), "{error}");
    assert!(!bench.exists("contacts").await && !bench.exists("staff_sites").await);
}

fn report_lines(path: &std::path::Path) -> (String, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(path).expect("rejects report");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    (text, lines)
}

/// Regression: the rejects report (`--skip-invalid --rejects FILE`) wrote refused values in clear in
/// `raw`: a dropped column's value, an email in free text, an allowed phone. They are redacted; where,
/// why and which columns stay.
#[tokio::test]
async fn the_rejects_report_does_not_repeat_what_the_guard_refuses() {
    let bench = Bench::new();
    let path = bench.file(
        "incidents.csv",
        "lat,lon,site,union_member,notes,duty_phone\n\
         51.5,-0.12,Depot,yes,contained,+44 20 7946 0958\n\
         95.0,-0.12,Yard,no,write to ann@example.com,+44 20 7946 0959\n",
    );
    let rejects = bench.dir.path().join("incidents.rejects.jsonl");
    let options = ImportOptions {
        skip_invalid: true,
        rejects: Some(rejects.clone()),
        privacy: PrivacyPolicy {
            drop: ["union_member".to_string()].into(),
            allow: ["duty_phone".to_string()].into(),
        },
        ..ImportOptions::default()
    };
    let report = bench
        .console
        .import(&path, options)
        .await
        .expect("the valid row is imported");
    assert_eq!((report.imported, report.rejected), (1, 1));
    let (text, lines) = report_lines(&rejects);
    for secret in ["ann@example.com", "7946 0959", ",no,"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(lines[0]["line"], 3, "{text}");
    assert!(
        lines[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("latitude")),
        "{text}"
    );
    assert_eq!(
        lines[0]["redacted"],
        serde_json::json!(["union_member", "notes", "duty_phone"]),
        "{text}"
    );
    assert!(
        lines[0]["raw"]
            .as_str()
            .is_some_and(|r| r.starts_with("95.0,-0.12,Yard,")),
        "{text}"
    );
}

/// A refused import may have written rejects before the guard refused a later line; those stay redacted
/// too (the report outlives the refusal).
#[tokio::test]
async fn a_refused_import_leaves_no_personal_values_in_its_rejects() {
    let bench = Bench::new();
    let mut lines = String::new();
    lines.push_str(
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,95]},"properties":{"site":"A","contact":{"email":"ann@example.com"},"who":"Maria Garcia"}}"#,
    );
    lines.push('\n');
    for i in 0..1100 {
        lines.push_str(&format!(
            r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[1,2]}},"properties":{{"site":"S{i}","note":"ok"}}}}"#
        ));
        lines.push('\n');
    }
    lines.push_str(
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"site":"Z","note":"+44 20 7946 0958"}}"#,
    );
    lines.push('\n');
    let path = bench.file("late.geojsonl", &lines);
    let rejects = bench.dir.path().join("late.rejects.jsonl");
    let options = ImportOptions {
        skip_invalid: true,
        rejects: Some(rejects.clone()),
        ..ImportOptions::default()
    };
    let error = bench
        .console
        .import(&path, options)
        .await
        .expect_err("the last line's phone number is refused")
        .to_string();
    assert!(error.contains("'note' holds phone numbers"), "{error}");
    let (text, lines) = report_lines(&rejects);
    for secret in ["ann@example.com", "Maria Garcia"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let raw = lines[0]["raw"].as_str().unwrap_or_default();
    assert!(
        raw.contains(r#""site":"A""#) && raw.contains(r#""contact":{"email":"[redacted]"}"#),
        "{raw}"
    );
    assert_eq!(lines[0]["line"], 1, "{text}");
}
