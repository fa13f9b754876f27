//! What the binary's end-to-end tests share: a run folder with the built binary, GDAL's view of files, and a
//! served console (started, waited for, fed through the upload API).
// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub dir: tempfile::TempDir,
}

impl Run {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary in the run's folder, with none of the caller's `GEOCONSOLE_*` settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_geoconsole"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("GEOCONSOLE_STORE")
            .env_remove("GEOCONSOLE_CONFIG")
            .env_remove("GEOCONSOLE_LOG");
        command
    }

    pub fn geoconsole(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run geoconsole")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.geoconsole(args);
        assert!(
            out.status.success(),
            "geoconsole {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("json output")
    }
}

/// Runs GDAL's ogrinfo; the tests that use it are the proof that other tools read our files.
pub fn ogrinfo(args: &[&str]) -> String {
    let out = Command::new("ogrinfo")
        .args(args)
        .output()
        .expect("ogrinfo must be installed (Debian package gdal-bin)");
    assert!(
        out.status.success(),
        "ogrinfo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[derive(Debug, PartialEq)]
pub struct LayerInfo {
    pub count: u64,
    pub extent: Option<[f64; 4]>,
}

pub fn ogr_layers(gpkg: &Path) -> BTreeMap<String, LayerInfo> {
    let text = ogrinfo(&["-ro", "-so", "-al", gpkg.to_str().expect("utf-8 path")]);
    let mut layers = BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            name = Some(n.trim().to_string());
        } else if let (Some(count), Some(n)) = (line.strip_prefix("Feature Count: "), &name) {
            layers.insert(
                n.clone(),
                LayerInfo {
                    count: count.trim().parse().expect("count"),
                    extent: None,
                },
            );
        } else if let (Some(extent), Some(n)) = (line.strip_prefix("Extent: "), &name) {
            let numbers: Vec<f64> = extent
                .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .filter(|s| !s.is_empty() && *s != "-")
                .map(|s| s.parse().expect("extent number"))
                .collect();
            if let Some(layer) = layers.get_mut(n) {
                layer.extent = Some([numbers[0], numbers[1], numbers[2], numbers[3]]);
            }
        }
    }
    layers
}

/// The feature count GDAL reads from a single-layer file (GeoJSON, CSV).
pub fn only_layer_count(path: &Path) -> u64 {
    let layers = ogr_layers(path);
    assert_eq!(layers.len(), 1, "{layers:?}");
    layers.into_values().next().map_or(0, |layer| layer.count)
}

/// Starts `geoconsole serve` on a free loopback port over `store`, with `geoconsole.toml` from `dir`, and
/// returns it with its base URL (stdout is drained so the server never blocks on a full pipe).
pub fn serve(dir: &Path, store: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_geoconsole"))
        .args([
            "--store",
            store,
            "--config",
            "geoconsole.toml",
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .current_dir(dir)
        .env_remove("GEOCONSOLE_STORE")
        .env_remove("GEOCONSOLE_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start geoconsole serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve prints its address")
            .expect("readable output");
        // "API: http://…/" with the web console built, "… at http://…/ (Ctrl-C stops)" without.
        if let Some(at) = line.find("http://")
            && !line.contains("/console/")
        {
            let url = line[at..].split_whitespace().next().expect("url");
            break url.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// Waits until `/readyz` answers 200 (every dataset indexed).
pub async fn ready(client: &reqwest::Client, url: &str) {
    let started = std::time::Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "never ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Appends a GeoJSON body to the `earthquakes` dataset through the upload API and waits for the import.
pub async fn import_quakes(client: &reqwest::Client, url: &str, body: String) {
    let staged: serde_json::Value = client
        .post(format!("{url}/imports?name=latest.geojson"))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("stage")
        .json()
        .await
        .expect("staged json");
    let id = staged["id"].as_str().expect("upload id");
    let started = client
        .post(format!("{url}/imports/{id}"))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"dataset": "earthquakes", "mode": "append", "time": "time"})
                .to_string(),
        )
        .send()
        .await
        .expect("start import");
    assert_eq!(started.status(), 202);
    loop {
        let status: serde_json::Value = client
            .get(format!("{url}/imports/{id}"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("status json");
        if status["state"] != "importing" {
            assert_eq!(status["state"], "imported", "{status}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
