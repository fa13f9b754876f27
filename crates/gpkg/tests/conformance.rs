//! The shared FeatureStore, AlertStore, FeedStore and AccessStore conformance suites, run against a real GeoPackage file per test.

geoconsole_store::feature_store_conformance!(async { geoconsole_testkit::temp_gpkg() });

mod alerts {
    geoconsole_store::alert_store_conformance!(async { geoconsole_testkit::temp_gpkg() });
}

mod feeds {
    geoconsole_store::feed_store_conformance!(async { geoconsole_testkit::temp_gpkg() });
}

mod access {
    geoconsole_store::access_store_conformance!(async { geoconsole_testkit::temp_gpkg() });
}
