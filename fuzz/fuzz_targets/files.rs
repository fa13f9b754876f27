//! The binary and XML file readers (FlatGeobuf, GeoPackage, GeoParquet, KML, GPX, and zips holding
//! shapefiles or any of them): any bytes come back as features or located errors, never a panic, hang or
//! huge allocation. The first byte picks the format; the rest is the file.
#![no_main]

use geoconsole_formats::Format;
use libfuzzer_sys::fuzz_target;

const FORMATS: [(Option<Format>, &str); 7] = [
    (Some(Format::FlatGeobuf), "fuzz.fgb"),
    (Some(Format::GeoPackage), "fuzz.gpkg"),
    (Some(Format::GeoParquet), "fuzz.parquet"),
    (Some(Format::Kml), "fuzz.kml"),
    (Some(Format::Gpx), "fuzz.gpx"),
    // Zips are detected by content: a zipped shapefile, a KMZ, anything zipped.
    (None, "fuzz.zip"),
    (None, "fuzz.bin"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (format, name) = FORMATS[usize::from(pick) % FORMATS.len()];
    let options = geoconsole_formats::ReadOptions {
        format,
        // Small caps, so a bomb is found as a refusal rather than as a full disk.
        archive: geoconsole_formats::ArchiveLimits {
            max_entries: 64,
            max_entry_bytes: 8 << 20,
            max_inflated_bytes: 8 << 20,
            ..Default::default()
        },
        ..Default::default()
    };
    if let Ok((_, stream)) = geoconsole_formats::read_stream(
        std::path::Path::new(name),
        std::io::Cursor::new(body.to_vec()),
        &options,
    ) {
        for _ in stream {}
    }
});
