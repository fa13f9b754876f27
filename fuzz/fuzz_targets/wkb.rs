//! The WKB decoder every binary geometry goes through (GeoPackage layers and stores, GeoParquet, PostGIS):
//! ISO WKB and EWKB, then the same bytes as a GeoPackage blob. Any bytes come back as a geometry, `None`
//! (empty) or an error: never a panic, a stack overflow or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = geoconsole_formats::wkb::decode(data);
    let _ = geoconsole_formats::wkb::decode_geopackage(data);
});
