//! CSV reader, with coordinate columns or a WKT geometry column detected from the header; the first byte
//! picks the delimiter so the fuzzer explores both paths.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut options = geoconsole_formats::ReadOptions {
        format: Some(geoconsole_formats::Format::Csv),
        ..Default::default()
    };
    options.csv.delimiter = [None, Some(b';'), Some(b'\t'), Some(b'|')][usize::from(first % 4)];
    if let Ok((_, stream)) = geoconsole_formats::read_stream(
        std::path::Path::new("fuzz.csv"),
        std::io::Cursor::new(rest.to_vec()),
        &options,
    ) {
        for _ in stream {}
    }
});
