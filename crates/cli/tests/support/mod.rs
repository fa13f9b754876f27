//! What the binary's end-to-end tests share: a run folder with the built binary, and GDAL's view of files.
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
