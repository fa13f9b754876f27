//! Every feed reader: CAP 1.2 XML, CAP indexes (Atom/RSS), GeoRSS/GDACS, USGS and NWS GeoJSON, FIRMS CSV,
//! chosen by the first byte, and the data-protection guard over what they made; the recognition and reading
//! of feed documents given as files (`import`). XML with a DOCTYPE must be refused, never expanded.
#![no_main]

use geoconsole_feeds::{FeedFormat, FeedSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let formats = FeedFormat::ALL;
    let format = formats[usize::from(first) % formats.len()];
    let spec = FeedSpec::new("fuzz", "https://feeds.example/", format, "fuzz");
    if let Ok(mut parsed) = geoconsole_feeds::read(&spec, body, chrono::Utc::now()) {
        // What every reader made goes through the data-protection guard before a poll writes it.
        let _ = geoconsole_feeds::check_items(&spec, &mut parsed);
    }
    if let Some(format) = geoconsole_feeds::detect_file(body) {
        let _ = geoconsole_feeds::read_file(format, body, chrono::Utc::now());
    }
});
