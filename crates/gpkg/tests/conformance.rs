//! The shared FeatureStore conformance suite, run against a real GeoPackage file per test.

geoconsole_store::feature_store_conformance!(async { geoconsole_testkit::temp_gpkg() });
