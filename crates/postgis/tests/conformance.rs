//! The shared FeatureStore, AlertStore, FeedStore and AccessStore conformance suites, run against a real
//! PostgreSQL + PostGIS (a schema of its own per test), exactly as the GeoPackage store runs them.

geoconsole_store::feature_store_conformance!(geoconsole_testkit::temp_postgis());

mod alerts {
    geoconsole_store::alert_store_conformance!(geoconsole_testkit::temp_postgis());
}

mod feeds {
    geoconsole_store::feed_store_conformance!(geoconsole_testkit::temp_postgis());
}

mod access {
    geoconsole_store::access_store_conformance!(geoconsole_testkit::temp_postgis());
}
