//! Uploads over real HTTP on 127.0.0.1 by accounts that compete for the staging folder: quotas per account
//! (count and bytes, checked as the bytes arrive), eviction that never crosses accounts, uploads that
//! break off, many at once from one account, zips previewed from inside, and a staging folder that lives
//! beside the store and survives neither a crash nor a second server on the same store.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use geoconsole_access::{Role, TokenRequest};
use geoconsole_app::UploadQuotas;
use geoconsole_server::ServerOptions;
use geoconsole_testkit::{TempStore, temp_gpkg};
use serde_json::{Value, json};

struct Served {
    url: String,
    addr: SocketAddr,
    console: geoconsole_app::Console,
    store: TempStore,
    server: Option<geoconsole_server::RunningServer>,
    client: reqwest::Client,
}

async fn serve_store(store: TempStore, options: ServerOptions) -> Served {
    let console = store.console();
    let server = geoconsole_server::start(
        console.clone(),
        ServerOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            poll_feeds: false,
            rate_per_second: 0.0,
            ..options
        },
    )
    .await
    .expect("server starts");
    Served {
        url: format!("http://{}", server.addr),
        addr: server.addr,
        console,
        store,
        server: Some(server),
        client: reqwest::Client::new(),
    }
}

async fn serve(quotas: UploadQuotas) -> Served {
    serve_store(
        temp_gpkg(),
        ServerOptions {
            upload_quotas: quotas,
            ..ServerOptions::default()
        },
    )
    .await
}

/// An editor account and a token for it.
async fn editor(served: &Served, name: &str) -> String {
    let accounts = served.console.accounts();
    accounts
        .add_user(name, Role::Editor, "correct horse battery staple")
        .await
        .expect("user");
    accounts
        .create_token(TokenRequest {
            user: name.into(),
            label: "uploads".into(),
            scope: Role::Editor,
            datasets: None,
            expires: None,
        })
        .await
        .expect("token")
        .secret
}

const CSV: &str = "name,lat,lon\na,10,20\nb,11,21\n";

/// Stages `body` as `name` for `token`: the status and the answer.
async fn stage(served: &Served, token: &str, name: &str, body: Vec<u8>) -> (u16, Value) {
    let response = served
        .client
        .post(format!("{}/imports?name={name}", served.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("stage");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn status_of(served: &Served, token: &str, id: &str) -> u16 {
    served
        .client
        .get(format!("{}/imports/{id}", served.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("status")
        .status()
        .as_u16()
}

async fn import(served: &Served, token: &str, id: &str, dataset: &str) -> Value {
    let started = served
        .client
        .post(format!("{}/imports/{id}", served.url))
        .bearer_auth(token)
        .json(&json!({"dataset": dataset}))
        .send()
        .await
        .expect("start");
    assert_eq!(started.status().as_u16(), 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status: Value = served
            .client
            .get(format!("{}/imports/{id}", served.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if status["state"] != "importing" {
            return status;
        }
        assert!(Instant::now() < deadline, "import never ended: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn staging_root(store: &TempStore) -> PathBuf {
    PathBuf::from(format!("{}.staging", store.path().display()))
}

/// Files under `dir`, at any depth, with their sizes.
fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                let size = entry.metadata().map_or(0, |m| m.len());
                out.push((path, size));
            }
        }
    }
    out
}

// Regression: the 32 upload slots were shared by everyone, and the oldest upload made room whoever it
// belonged to, so one editor's uploads evicted another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_accounts_uploads_never_evict_anothers() {
    let served = serve(UploadQuotas {
        per_account: 2,
        total: 3,
        ..UploadQuotas::default()
    })
    .await;
    let ann = editor(&served, "ann").await;
    let bob = editor(&served, "bob").await;
    let carl = editor(&served, "carl").await;
    let (status, staged) = stage(&served, &ann, "a.csv", CSV.into()).await;
    assert_eq!(status, 201, "{staged}");
    let ann_upload = staged["id"].as_str().expect("id").to_string();
    let mut bobs = Vec::new();
    for name in ["b1.csv", "b2.csv"] {
        let (status, staged) = stage(&served, &bob, name, CSV.into()).await;
        assert_eq!(status, 201, "{staged}");
        bobs.push(staged["id"].as_str().expect("id").to_string());
    }
    // Bob's third is refused with how to make room, naming his staged uploads.
    let (status, refusal) = stage(&served, &bob, "b3.csv", CSV.into()).await;
    assert_eq!(status, 429, "{refusal}");
    let why = refusal["description"].as_str().unwrap_or("");
    assert!(
        why.contains("DELETE /imports/") && why.contains(&bobs[0]),
        "{why}"
    );
    // The server is full: Carl waits rather than push anyone out.
    let (status, refusal) = stage(&served, &carl, "c.csv", CSV.into()).await;
    assert_eq!(status, 429, "{refusal}");
    assert_eq!(
        status_of(&served, &ann, &ann_upload).await,
        200,
        "ann's upload stays"
    );
    // A finished upload of Bob's own makes room for his next one; Ann's is still untouched.
    let report = import(&served, &bob, &bobs[0], "bobs").await;
    assert_eq!(report["state"], "imported", "{report}");
    let (status, staged) = stage(&served, &bob, "b3.csv", CSV.into()).await;
    assert_eq!(status, 201, "{staged}");
    assert_eq!(
        status_of(&served, &bob, &bobs[0]).await,
        404,
        "his finished one went"
    );
    assert_eq!(
        status_of(&served, &ann, &ann_upload).await,
        200,
        "ann's upload stays"
    );
}

// Regression: nothing bounded what one account's uploads held together but the slot count, so one
// account could fill the staging disk with 32 uploads of 512 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_uploads_are_bounded_in_bytes_as_they_arrive() {
    let served = serve(UploadQuotas {
        bytes_per_account: 1 << 20,
        ..UploadQuotas::default()
    })
    .await;
    let ann = editor(&served, "ann").await;
    let bob = editor(&served, "bob").await;
    let mut big = CSV.to_string();
    while big.len() < 700 << 10 {
        big.push_str("c,12,22\n");
    }
    let (status, staged) = stage(&served, &ann, "first.csv", big.clone().into()).await;
    assert_eq!(status, 201, "{staged}");
    let (status, refusal) = stage(&served, &ann, "second.csv", big.clone().into()).await;
    assert_eq!(status, 413, "{refusal}");
    assert!(
        refusal["description"]
            .as_str()
            .unwrap_or("")
            .contains("may hold 1 MiB together"),
        "{refusal}"
    );
    // The refused upload left no file; another account's quota is its own.
    let (status, staged) = stage(&served, &bob, "bobs.csv", big.into()).await;
    assert_eq!(status, 201, "{staged}");
    let staged_files = files_under(&staging_root(&served.store));
    assert_eq!(
        staged_files
            .iter()
            .filter(|(p, _)| p.to_string_lossy().ends_with(".csv"))
            .count(),
        2,
        "{staged_files:?}"
    );
    // A declared length beyond the quota is refused before the body is read.
    let (status, _) = stage(&served, &bob, "huge.csv", vec![b'x'; 2 << 20]).await;
    assert_eq!(status, 413);
}

// Regression: an upload cut off mid-body must leave neither a file nor a taken slot behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_breaks_off_mid_body_leaves_nothing_behind() {
    let served = serve(UploadQuotas {
        per_account: 1,
        ..UploadQuotas::default()
    })
    .await;
    let ann = editor(&served, "ann").await;
    let addr = served.addr;
    let token = ann.clone();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        let head = format!(
            "POST /imports?name=cut.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("head");
        stream
            .write_all(&[b'x'; 100_000])
            .expect("part of the body");
        stream.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(300));
        // Gone before the rest.
    })
    .await
    .expect("client");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, staged) = stage(&served, &ann, "after.csv", CSV.into()).await;
        if status == 201 {
            let left = files_under(&staging_root(&served.store));
            assert!(
                !left.iter().any(|(p, _)| p.ends_with("cut.csv")),
                "the broken upload's file went: {left:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the broken upload still holds the account's only slot: {status} {staged}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Regression: one account could start any number of uploads at once; they now share its quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_uploads_at_once_from_one_account_share_its_quota() {
    let served = serve(UploadQuotas {
        per_account: 3,
        ..UploadQuotas::default()
    })
    .await;
    let ann = editor(&served, "ann").await;
    let mut attempts = Vec::new();
    for i in 0..12 {
        let (url, client, token) = (served.url.clone(), served.client.clone(), ann.clone());
        attempts.push(tokio::spawn(async move {
            client
                .post(format!("{url}/imports?name=n{i}.csv"))
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(CSV)
                .send()
                .await
                .expect("stage")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.expect("attempt"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        9,
        "{statuses:?}"
    );
}

fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).expect("entry");
        writer.write_all(bytes).expect("write");
    }
    writer.finish().expect("finish");
}

// Regression: a zip could not be previewed (its bytes were taken for a stream of unknown format), and an
// uploaded zip bomb was unpacked into the system's temporary folder up to 4 GiB before being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zips_are_previewed_from_inside_and_bombs_stop_without_filling_the_staging_disk() {
    let served = serve(UploadQuotas::default()).await;
    let ann = editor(&served, "ann").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("sites.zip");
    zip_of(&path, &[("data/sites.csv", CSV.as_bytes())]);
    let (status, staged) = stage(
        &served,
        &ann,
        "sites.zip",
        std::fs::read(&path).expect("zip"),
    )
    .await;
    assert_eq!(status, 201, "{staged}");
    assert_eq!(staged["preview"]["format"], "csv", "{staged}");
    assert_eq!(staged["preview"]["sampled"], 2, "{staged}");
    let id = staged["id"].as_str().expect("id");
    let report = import(&served, &ann, id, "zipped").await;
    assert_eq!(report["state"], "imported", "{report}");

    // 128 MiB of spaces as a shapefile's .dbf, deflated to a fraction of a megabyte.
    let bomb = dir.path().join("bomb.zip");
    let spaces = vec![b' '; 128 << 20];
    zip_of(
        &bomb,
        &[
            ("roads.shp", &[0u8; 100][..]),
            ("roads.shx", &[0u8; 100][..]),
            ("roads.dbf", &spaces),
        ],
    );
    let bytes = std::fs::read(&bomb).expect("bomb");
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
    let (status, refusal) = stage(&served, &ann, "bomb.zip", bytes).await;
    assert_eq!(status, 400, "{refusal}");
    assert!(
        refusal["description"]
            .as_str()
            .unwrap_or("")
            .contains("times its"),
        "{refusal}"
    );
    let left: u64 = files_under(&staging_root(&served.store))
        .iter()
        .map(|(_, size)| size)
        .sum();
    assert!(left < 1 << 20, "{left} bytes left in the staging folder");
    assert!(
        std::fs::read_dir(std::env::temp_dir())
            .expect("temp")
            .filter_map(Result::ok)
            .all(|e| !e.path().join("roads.dbf").exists()),
        "nothing unpacked into the system's temporary folder"
    );
}

// Regression: the staging folder lived in the system's temporary folder and stayed there after a crash,
// refused files included; it now lives beside the store, each server in a locked folder of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_lives_beside_the_store_and_a_crashed_servers_is_swept_but_a_live_ones_is_not() {
    let store = temp_gpkg();
    let root = staging_root(&store);
    // What a crashed server left: its folder with a refused upload, and its lock file, which nobody holds.
    std::fs::create_dir_all(root.join("4242-0badc0de/uploads/1")).expect("dead");
    std::fs::write(root.join("4242-0badc0de/uploads/1/refused.zip"), b"PK").expect("file");
    std::fs::write(root.join("4242-0badc0de.lock"), b"").expect("lock");
    let mut first = serve_store(store, ServerOptions::default()).await;
    assert!(!root.join("4242-0badc0de").exists(), "swept at start");
    let ann = editor(&first, "ann").await;
    let (status, staged) = stage(&first, &ann, "kept.csv", CSV.into()).await;
    assert_eq!(status, 201, "{staged}");
    let kept = files_under(&root)
        .into_iter()
        .find(|(p, _)| p.ends_with("kept.csv"))
        .expect("the upload is staged beside the store")
        .0;
    // A second server on the same GeoPackage sweeps nothing of the first's.
    let second = geoconsole_server::start(
        first.store.console(),
        ServerOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            poll_feeds: false,
            ..ServerOptions::default()
        },
    )
    .await
    .expect("second server");
    assert!(
        kept.exists(),
        "a live server's upload survives another's start"
    );
    // Export files are staged there too.
    let id = staged["id"].as_str().expect("id");
    assert_eq!(import(&first, &ann, id, "kept").await["state"], "imported");
    let exported = first
        .client
        .post(format!("{}/exports", first.url))
        .bearer_auth(&ann)
        .json(&json!({"dataset": "kept", "format": "csv"}))
        .send()
        .await
        .expect("export");
    assert_eq!(exported.status().as_u16(), 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !files_under(&root)
        .iter()
        .any(|(p, _)| p.to_string_lossy().contains("/exports/"))
    {
        assert!(
            Instant::now() < deadline,
            "no export file under {}",
            root.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Servers that stop take their folders along.
    first
        .server
        .take()
        .expect("running")
        .shutdown()
        .await
        .expect("stops");
    second.shutdown().await.expect("stops");
    drop(first);
    let left = files_under(&root);
    assert!(
        left.iter().all(|(p, _)| !p.ends_with("kept.csv")),
        "{left:?}"
    );
}
