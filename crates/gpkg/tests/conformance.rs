//! The shared FeatureStore conformance suite, run against a real GeoPackage file per test.

use std::sync::Arc;

use geoconsole_gpkg::GpkgStore;
use geoconsole_store::FeatureStore;

/// Holds the temporary folder for as long as the store lives.
struct TempStore {
    store: Arc<dyn FeatureStore>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TempStore {
    type Target = dyn FeatureStore;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

async fn fresh_store() -> TempStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = GpkgStore::open(dir.path().join("conformance.gpkg")).expect("open store");
    TempStore {
        store: Arc::new(store),
        _dir: dir,
    }
}

geoconsole_store::feature_store_conformance!(fresh_store());
