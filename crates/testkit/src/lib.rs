//! Room `testkit`, dev-only: what tests across rooms share. Temporary stores on real GeoPackage files and in
//! schemas of a real PostGIS database, the
//! path of committed fixtures, small feature builders, real servers on 127.0.0.1 with an HTTP client, and a
//! webhook receiver that records what it is sent, and scripted ArcGIS REST and Socrata SODA origins for the
//! connectors.
//! Tests may depend on it; no production crate does.

mod cgi;
mod ogc;
mod origin;
mod receiver;
mod server;
mod services;

pub use cgi::CgiOrigin;
pub use ogc::{
    OGC_UPDATED_BASE, OapifCollection, OapifOrigin, WFS_MAP, WFS_TYPE, WfsLayer, WfsOrigin,
    ogc_position, ogc_site, ows_exception,
};
pub use origin::{FeedOrigin, Serve};
pub use receiver::{Behaviour, Received, Receiver};
pub use server::{Reply, TestServer, serve, serve_console, serve_demo, serve_polled_by_hand};
pub use services::{
    ARCGIS_EDIT_BASE_MS, ArcgisLayer, ArcgisOrigin, LayerGeometry, PlaceColumn, SOCRATA_COLUMNS,
    SOCRATA_UPDATED_BASE, SocrataDataset, SocrataOrigin, ZONE_NAMES, socrata_columns, socrata_id,
};

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use geoconsole_app::Console;
use geoconsole_gpkg::GpkgStore;
use geoconsole_model::geo_types::{Geometry, Point};
use geoconsole_model::{Feature, FeatureId, Properties};
use geoconsole_store::{AccessStore, AlertStore, ClusterStore, FeatureStore, FeedStore};

/// A store on a GeoPackage file in a temporary folder that lives as long as the value.
pub struct TempStore {
    store: Arc<dyn FeatureStore>,
    alerts: Arc<dyn AlertStore>,
    feeds: Arc<dyn FeedStore>,
    access: Arc<dyn AccessStore>,
    cluster: Arc<dyn ClusterStore>,
    push_down: Option<Arc<dyn geoconsole_store::PushDownStore>>,
    path: PathBuf,
    /// The store's location as `--store` takes it: the GeoPackage's path or the PostgreSQL URL.
    location: String,
    /// A PostGIS store's schema, dropped with the value.
    postgis_schema: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let Some((url, schema)) = self.postgis_schema.take() else {
            return;
        };
        // Drop runs inside or outside a runtime; a thread of its own with its own runtime works in both.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(store) =
                    geoconsole_postgis::PostgisStore::open(&format!("{url}?schema={schema}")).await
                {
                    let _ = store.destroy().await;
                }
            });
        })
        .join();
    }
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

    pub fn cluster_store(&self) -> Arc<dyn ClusterStore> {
        Arc::clone(&self.cluster)
    }

    /// The store as it answers for datasets too large to index (PostGIS only).
    pub fn push_down_store(&self) -> Option<Arc<dyn geoconsole_store::PushDownStore>> {
        self.push_down.clone()
    }

    /// What `--store` takes to open this store: the GeoPackage's path or the PostgreSQL URL.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// A console with alerting, accounts and feeds; feeds may reach 127.0.0.1 (test origins), allowed explicitly as
    /// an operator would in `[network] allow`.
    pub fn console(&self) -> Console {
        let policy = geoconsole_feeds::NetworkPolicy::allowing(&["127.0.0.1"]).expect("policy");
        Console::open(
            geoconsole_app::Stores {
                features: self.store(),
                alerts: self.alert_store(),
                feeds: self.feed_store(),
                access: self.access_store(),
                cluster: self.cluster_store(),
            },
            geoconsole_app::ConsoleOptions {
                network: policy,
                ..Default::default()
            },
        )
        .expect("console")
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
        access: store.clone(),
        cluster: store,
        push_down: None,
        location: path.display().to_string(),
        path,
        postgis_schema: None,
        dir,
    }
}

/// The test database's URL (`GEOCONSOLE_TEST_POSTGRES`, set by `scripts/test.sh`, which starts PostgreSQL
/// with PostGIS on 127.0.0.1). Panics with the way out when it is not set: PostGIS tests never skip.
pub fn test_postgres_url() -> String {
    std::env::var("GEOCONSOLE_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "GEOCONSOLE_TEST_POSTGRES is not set: run the tests with scripts/test.sh, or start PostgreSQL with \
             `scripts/postgres.sh geoconsole_test` and export GEOCONSOLE_TEST_POSTGRES=<the URL it prints>"
        )
    })
}

/// A fresh, empty PostGIS store: a schema of its own in the test database, dropped with the value.
pub async fn temp_postgis() -> TempStore {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = test_postgres_url();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!(
        "t{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let location = format!("{url}?schema={schema}");
    let store = Arc::new(
        geoconsole_postgis::PostgisStore::open(&location)
            .await
            .unwrap_or_else(|e| panic!("open a PostGIS store in schema {schema}: {e}")),
    );
    let dir = tempfile::tempdir().expect("temporary folder");
    TempStore {
        store: store.clone(),
        alerts: store.clone(),
        feeds: store.clone(),
        access: store.clone(),
        cluster: store.clone(),
        push_down: Some(store),
        path: dir.path().to_path_buf(),
        location,
        postgis_schema: Some((url, schema)),
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
        geometry: Some(Geometry::Point(Point::new(lon, lat))),
        time: None,
        properties,
    }
}
