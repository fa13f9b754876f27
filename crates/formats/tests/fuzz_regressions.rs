//! Inputs that once crashed a reader, kept under `fuzz/regressions/{csv,files,wkb}` and replayed here the way
//! the fuzz targets read them (the first byte of a `csv` input picks the delimiter, of a `files` input the
//! format). Each must be answered quickly with features or errors. Several once overflowed the stack, which
//! aborts the whole test binary, not only this test.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use geoconsole_formats::{ArchiveLimits, Format, ReadOptions, read_stream};

/// Panics anywhere in this binary, reader threads included. A reader thread's panic reaches the stream
/// only as an error, so the fuzz targets (whose panic hook aborts) and these replays count them directly.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    count_panics();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut found: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("regression folder")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            (path, bytes)
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "{} holds inputs", dir.display());
    found
}

fn drain(name: &str, body: &[u8], options: &ReadOptions) {
    if let Ok((_, stream)) = read_stream(Path::new(name), Cursor::new(body.to_vec()), options) {
        for _ in stream {}
    }
}

fn answered_quickly(path: &Path, started: Instant) {
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "{} panicked",
        path.display()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{} took {:?}",
        path.display(),
        started.elapsed()
    );
}

#[test]
fn every_csv_regression_input_is_answered() {
    for (path, bytes) in inputs("csv") {
        let started = Instant::now();
        let Some((&first, rest)) = bytes.split_first() else {
            continue;
        };
        let mut options = ReadOptions {
            format: Some(Format::Csv),
            ..Default::default()
        };
        options.csv.delimiter = [None, Some(b';'), Some(b'\t'), Some(b'|')][usize::from(first % 4)];
        drain("fuzz.csv", rest, &options);
        answered_quickly(&path, started);
    }
}

#[test]
fn every_files_regression_input_is_answered() {
    const FORMATS: [(Option<Format>, &str); 7] = [
        (Some(Format::FlatGeobuf), "fuzz.fgb"),
        (Some(Format::GeoPackage), "fuzz.gpkg"),
        (Some(Format::GeoParquet), "fuzz.parquet"),
        (Some(Format::Kml), "fuzz.kml"),
        (Some(Format::Gpx), "fuzz.gpx"),
        (None, "fuzz.zip"),
        (None, "fuzz.bin"),
    ];
    for (path, bytes) in inputs("files") {
        let started = Instant::now();
        let Some((&pick, body)) = bytes.split_first() else {
            continue;
        };
        let (format, name) = FORMATS[usize::from(pick) % FORMATS.len()];
        let options = ReadOptions {
            format,
            archive: ArchiveLimits {
                max_entries: 64,
                max_entry_bytes: 8 << 20,
                max_inflated_bytes: 8 << 20,
                ..ArchiveLimits::default()
            },
            ..Default::default()
        };
        drain(name, body, &options);
        answered_quickly(&path, started);
    }
}

#[test]
fn every_wkb_regression_input_is_answered() {
    for (path, bytes) in inputs("wkb") {
        let started = Instant::now();
        let _ = geoconsole_formats::wkb::decode(&bytes);
        let _ = geoconsole_formats::wkb::decode_geopackage(&bytes);
        answered_quickly(&path, started);
    }
}
