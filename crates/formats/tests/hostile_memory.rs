//! What reading a bomb costs in memory, measured as the peak of this test process (so it is the only test
//! in its binary). Linux only: the peak is read from `/proc/self/status`.

mod support;

use geoconsole_formats::{ReadOptions, open_reader};
use support::Entry;

/// The process's peak resident set, in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// Regression: a 1 MB zip of a 1 GiB CSV row took 985 MiB of memory (3 GiB with its header on one line),
// and a KMZ of one 1 GiB placemark 2.1 GiB: each record was buffered whole.
#[cfg(target_os = "linux")]
#[test]
fn reading_bombs_and_big_documents_stays_within_a_few_hundred_mebibytes() {
    let dir = tempfile::tempdir().expect("dir");
    let cases: [(&str, &str, &[u8]); 3] = [
        ("header.zip", "header.csv", b"lat,lon,"),
        ("row.zip", "rows.csv", b"lat,lon\n"),
        ("doc.kmz", "doc.kml", b"<kml><Placemark><description>"),
    ];
    let options = ReadOptions {
        staging: Some(dir.path().to_path_buf()),
        archive: geoconsole_formats::ArchiveLimits {
            // A run of one byte compresses like a bomb: the ratio cap would stop it before the record cap.
            max_ratio: u64::MAX,
            ..Default::default()
        },
        ..ReadOptions::default()
    };
    for (zip, member, head) in cases {
        let path = dir.path().join(zip);
        let mut bomb = Entry::bomb(member, b'0', 1024);
        let mut data = vec![0x00];
        data.extend_from_slice(&(head.len() as u16).to_le_bytes());
        data.extend_from_slice(&(!(head.len() as u16)).to_le_bytes());
        data.extend_from_slice(head);
        data.extend_from_slice(&bomb.data);
        bomb.data = data;
        support::write(&path, &[bomb]);
        let error = match open_reader(&path, &options) {
            Err(e) => e,
            Ok((_, mut stream)) => stream.find_map(Result::err).expect("refused"),
        };
        assert!(error.to_string().contains("longer than"), "{zip}: {error}");
    }
    // Regression: GPX was read whole by the `gpx` crate and every feature built before the first was sent;
    // a 250 MiB file of waypoints took 14 GiB, this 16 MiB one about 900 MiB.
    let gpx = dir.path().join("waypoints.gpx");
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&gpx).expect("gpx"));
        file.write_all(b"<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"t\" xmlns=\"http://www.topografix.com/GPX/1/1\">")
            .expect("write");
        let waypoint = b"<wpt lat=\"10.0\" lon=\"20.0\"><name>a</name></wpt>\n";
        for _ in 0..(16 << 20) / waypoint.len() {
            file.write_all(waypoint).expect("write");
        }
        file.write_all(b"</gpx>").expect("write");
    }
    let (_, stream) = open_reader(&gpx, &options).expect("gpx");
    let read = stream.filter(Result::is_ok).count();
    assert!(read > 300_000, "{read} waypoints read");
    let peak_mib = peak_kib() / 1024;
    eprintln!("peak resident set while reading the bombs: {peak_mib} MiB");
    assert!(
        peak_mib < 400,
        "reading the bombs peaked at {peak_mib} MiB of memory"
    );
}
