//! No feed body may panic a reader: arbitrary bytes, and the project's fixtures with bytes flipped or cut
//! short, come back as items or an error, never a crash. Feed bodies come from servers nobody here controls.

use std::path::PathBuf;

use chrono::Utc;
use geoconsole_feeds::{FeedFormat, FeedSpec, read};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/feeds")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fixture with the format that reads it.
fn corpus() -> Vec<(Vec<u8>, FeedFormat)> {
    [
        ("usgs_v1.geojson", FeedFormat::Usgs),
        ("cap_warning_a.xml", FeedFormat::Cap),
        ("cap_warning_b.xml", FeedFormat::Cap),
        ("cap_update_a.xml", FeedFormat::CapIndex),
        ("cap_cancel_b.xml", FeedFormat::Cap),
        ("nws_alerts.geojson", FeedFormat::NwsAlerts),
        ("gdacs_rss_2019-12-30.xml", FeedFormat::Georss),
        ("firms_viirs.csv", FeedFormat::Firms),
    ]
    .into_iter()
    .map(|(name, format)| (fixture(name), format))
    .collect()
}

fn read_all(bytes: &[u8], format: FeedFormat) {
    let spec = FeedSpec::new("fuzz", "http://127.0.0.1/", format, "d");
    let _ = read(&spec, bytes, Utc::now());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in FeedFormat::ALL {
            read_all(&bytes, format);
        }
    }

    #[test]
    fn mutated_and_truncated_feeds_never_panic(
        which in 0usize..8,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        let corpus = corpus();
        let (base, format) = &corpus[which % corpus.len()];
        let mut bytes = base.clone();
        for (at, byte) in flips {
            let i = at % bytes.len();
            bytes[i] = byte;
        }
        read_all(&bytes, *format);
        bytes.truncate(cut % (bytes.len() + 1));
        read_all(&bytes, *format);
        // Every body through every reader: a server may send anything under any content type.
        for other in FeedFormat::ALL {
            read_all(&bytes, other);
        }
    }
}
