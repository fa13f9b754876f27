//! GeoJSON reader: any bytes come back as features or located errors, never a panic, hang or huge
//! allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = geoconsole_formats::ReadOptions {
        format: Some(geoconsole_formats::Format::GeoJson),
        ..Default::default()
    };
    if let Ok((_, stream)) = geoconsole_formats::read_stream(
        std::path::Path::new("fuzz.geojson"),
        std::io::Cursor::new(data.to_vec()),
        &options,
    ) {
        for _ in stream {}
    }
});
