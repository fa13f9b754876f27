//! Room `testkit`, dev-only: what tests across rooms share. Temporary stores on real GeoPackage files, the
//! path of committed fixtures, small feature builders, real servers on 127.0.0.1 with an HTTP client, and a
//! webhook receiver that records what it is sent.
//! Tests may depend on it; no production crate does.

mod origin;
mod receiver;
mod server;

pub use origin::{FeedOrigin, Serve};
pub use receiver::{Behaviour, Received, Receiver};
pub use server::{Reply, TestServer, serve, serve_console, serve_demo, serve_polled_by_hand};

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use geoconsole_app::Console;
use geoconsole_gpkg::GpkgStore;
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{Feature, FeatureId, Properties};
use geoconsole_store::{AccessStore, AlertStore, FeatureStore, FeedStore};

/// A store on a GeoPackage file in a temporary folder that lives as long as the value.
pub struct TempStore {
    store: Arc<dyn FeatureStore>,
    alerts: Arc<dyn AlertStore>,
    feeds: Arc<dyn FeedStore>,
    access: Arc<dyn AccessStore>,
    path: PathBuf,
    dir: tempfile::TempDir,
}

impl TempStore {
    pub fn store(&self) -> Arc<dyn FeatureStore> {
        Arc::clone(&self.store)
    }

    /// The GeoPackage file, for checks with other tools (`ogrinfo`, `sqlite3`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary folder, for input files and reports.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn alert_store(&self) -> Arc<dyn AlertStore> {
        Arc::clone(&self.alerts)
    }

    pub fn feed_store(&self) -> Arc<dyn FeedStore> {
        Arc::clone(&self.feeds)
    }

    pub fn access_store(&self) -> Arc<dyn AccessStore> {
        Arc::clone(&self.access)
    }

    /// A console with alerting, accounts and feeds; feeds may reach 127.0.0.1 (test origins), allowed explicitly as
    /// an operator would in `[network] allow`.
    pub fn console(&self) -> Console {
        let policy = geoconsole_feeds::NetworkPolicy::allowing(&["127.0.0.1"]).expect("policy");
        Console::new(self.store())
            .with_network(policy)
            .with_alerts(self.alert_store())
            .with_access(self.access_store())
            .with_feeds(self.feed_store(), Default::default())
            .expect("feed client")
    }
}

impl Deref for TempStore {
    type Target = dyn FeatureStore;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// A fresh, empty GeoPackage store.
pub fn temp_gpkg() -> TempStore {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("test.gpkg");
    let store = Arc::new(GpkgStore::open(&path).expect("open a new GeoPackage"));
    TempStore {
        store: store.clone(),
        alerts: store.clone(),
        feeds: store.clone(),
        access: store,
        path,
        dir,
    }
}

/// A committed fixture, by its path under the repository's `fixtures/` folder.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(relative)
}

/// A point feature with an id and properties given as a JSON object.
pub fn point(id: &str, lon: f64, lat: f64, properties: serde_json::Value) -> Feature {
    let properties = match properties {
        serde_json::Value::Object(map) => map,
        _ => Properties::new(),
    };
    Feature {
        id: Some(FeatureId(id.to_string())),
        geometry: Geometry::Point(Point::new(lon, lat)),
        time: None,
        properties,
    }
}
