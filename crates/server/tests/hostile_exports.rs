//! Files out over real HTTP whose column names were chosen by whoever imported the data: a name that is a
//! spreadsheet formula, markup or a KML attribute breaker must come out as text in every format the
//! server writes (CSV downloads and export jobs, KML, HTML pages); and export jobs of one account never
//! discard another's.

use std::time::{Duration, Instant};

use geoconsole_access::{Role, TokenRequest};
use geoconsole_testkit::{TestServer, serve, temp_gpkg};
use serde_json::{Value, json};

const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"h\")";
const MARKUP: &str = "<script>alert(1)</script>";

async fn hostile_dataset() -> TestServer {
    let server = serve(temp_gpkg()).await;
    let mut properties = serde_json::Map::new();
    properties.insert(FORMULA.into(), json!("=1+1"));
    properties.insert(MARKUP.into(), json!("<b>x</b>"));
    properties.insert("@SUM(A1)".into(), json!(1));
    let file = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "f1", "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": properties},
    ]});
    let report = server
        .upload(
            "hostile.geojson",
            file.to_string().into_bytes(),
            json!({"dataset": "hostile"}),
        )
        .await;
    assert_eq!(report["state"], "imported", "{report}");
    server
}

fn csv_header(text: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect()
}

fn assert_defused(header: &[String], what: &str) {
    for cell in header {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{what}: header cell {cell:?} would run as a formula"
        );
    }
    assert!(
        header.contains(&format!("'{FORMULA}")),
        "{what}: {header:?}"
    );
}

// Regression: a property named `=HYPERLINK("http://evil.example","h")` was written raw as a header cell by
// `items?f=csv` and `/exports` (values were already defused, names were not).
#[tokio::test]
async fn formula_column_names_are_defused_in_every_csv_the_server_writes() {
    let server = hostile_dataset().await;
    let download = server.get("/collections/hostile/items?f=csv").await;
    assert_eq!(download.status, 200, "{}", download.text());
    assert_defused(&csv_header(&download.text()), "items?f=csv");
    assert!(download.text().contains("'=1+1"), "{}", download.text());

    let started = server
        .send(
            server
                .client()
                .post(server.at("/exports"))
                .header("content-type", "application/json")
                .body(json!({"dataset": "hostile", "format": "csv"}).to_string()),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.text());
    let id = started.json()["id"].as_str().expect("id").to_string();
    let begun = Instant::now();
    loop {
        let status: Value = server.get(&format!("/exports/{id}")).await.json();
        if status["state"] == "done" {
            break;
        }
        assert_eq!(status["state"], "running", "{status}");
        assert!(begun.elapsed() < Duration::from_secs(30), "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let file = server.get(&format!("/exports/{id}/download")).await;
    assert_eq!(file.status, 200);
    assert_defused(&csv_header(&file.text()), "/exports");
}

#[tokio::test]
async fn hostile_column_names_are_text_in_kml_and_html() {
    let server = hostile_dataset().await;
    let kml = server.get("/collections/hostile/items?f=kml").await.text();
    assert!(
        kml.contains("<SimpleField name=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{kml}"
    );
    assert!(
        kml.contains("name=\"=HYPERLINK(&quot;http://evil.example&quot;,&quot;h&quot;)\""),
        "{kml}"
    );
    assert!(!kml.contains(MARKUP), "{kml}");
    for path in [
        "/collections/hostile/items?f=html",
        "/collections/hostile/items/f1?f=html",
        "/collections/hostile?f=html",
    ] {
        let page = server.get(path).await.text();
        assert!(!page.contains(MARKUP), "{path}: {page}");
        assert!(!page.contains("<b>x</b>"), "{path}: {page}");
    }
}

async fn token(server: &TestServer, name: &str) -> String {
    let accounts = server.console.accounts();
    accounts
        .add_user(name, Role::Viewer, "correct horse battery staple")
        .await
        .expect("user");
    accounts
        .create_token(TokenRequest {
            user: name.into(),
            label: "exports".into(),
            scope: Role::Viewer,
            datasets: None,
            expires: None,
        })
        .await
        .expect("token")
        .secret
}

/// Starts a CSV export of `hostile` for `token` and waits for it: its id.
async fn export_done(server: &TestServer, token: &str) -> String {
    let started = server
        .send(
            server
                .client()
                .post(server.at("/exports"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(json!({"dataset": "hostile", "format": "csv"}).to_string()),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.text());
    let id = started.json()["id"].as_str().expect("id").to_string();
    let begun = Instant::now();
    while state_of(server, token, &id).await != "done" {
        assert!(begun.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    id
}

async fn state_of(server: &TestServer, token: &str, id: &str) -> String {
    let reply = server
        .send(
            server
                .client()
                .get(server.at(&format!("/exports/{id}")))
                .bearer_auth(token),
        )
        .await;
    if reply.status == 404 {
        return "gone".into();
    }
    reply.json()["state"].as_str().unwrap_or("").to_string()
}

// Regression: the 32 kept exports were shared by everyone and the oldest finished one made room whoever
// it belonged to, so one account's exports discarded another's files before they were downloaded.
#[tokio::test]
async fn one_accounts_exports_never_discard_anothers() {
    let server = hostile_dataset().await;
    let ann = token(&server, "ann").await;
    let bob = token(&server, "bob").await;
    let bobs = export_done(&server, &bob).await;
    let mut anns = Vec::new();
    for _ in 0..40 {
        anns.push(export_done(&server, &ann).await);
    }
    assert_eq!(
        state_of(&server, &bob, &bobs).await,
        "done",
        "bob's export is kept"
    );
    assert_eq!(
        state_of(&server, &ann, &anns[0]).await,
        "gone",
        "ann made room with her own"
    );
    assert_eq!(state_of(&server, &ann, &anns[39]).await, "done");
}
