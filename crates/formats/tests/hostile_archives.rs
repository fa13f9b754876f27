//! Zips built to hurt, each refused cleanly and cheaply: bombs stopped as they inflate (per entry, in total,
//! by ratio, by the disk's reserve) without landing on disk or in memory, and every way two entries can
//! name one member refused, so the member read is the one anybody else would read.

use crate::support;
use std::path::{Path, PathBuf};

use geoconsole_formats::{
    ArchiveLimits, Format, FormatError, RATIO_FLOOR_BYTES, ReadOptions, open_reader,
};
use support::Entry;

/// Everything a read yields until its first error (or the end): the error, or the features read.
fn read(path: &Path, options: &ReadOptions) -> Result<usize, FormatError> {
    let (_, stream) = open_reader(path, options)?;
    let mut features = 0;
    for item in stream {
        match item {
            Ok(_) => features += 1,
            Err(e) if e.is_recoverable() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(features)
}

fn refused(path: &Path, options: &ReadOptions) -> String {
    match read(path, options) {
        Err(e) => e.to_string(),
        Ok(n) => panic!("{} was read ({n} features)", path.display()),
    }
}

/// A staging folder of the test's own, so what lands in it can be looked at.
fn staged(dir: &Path) -> (PathBuf, ReadOptions) {
    let staging = dir.join("staging");
    std::fs::create_dir(&staging).expect("staging");
    let options = ReadOptions {
        staging: Some(staging.clone()),
        ..ReadOptions::default()
    };
    (staging, options)
}

fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

const CSV: &[u8] = b"name,lat,lon\na,10,20\nb,11,21\n";

// Regression: a 1 MB zip of one 1 GiB line was unpacked whole to the temporary folder and then buffered
// whole by the CSV reader (985 MiB of memory, 3.9 GB of disk for its 5 MB sibling).
#[test]
fn a_megabyte_zip_of_one_endless_line_is_refused_at_the_header_cap_without_staging_anything() {
    let dir = tempfile::tempdir().expect("dir");
    let bomb = dir.path().join("line.zip");
    support::write(&bomb, &[Entry::bomb("line.csv", b'a', 1024)]);
    assert!(std::fs::metadata(&bomb).expect("size").len() < 2 << 20);
    let (staging, options) = staged(dir.path());
    let error = refused(&bomb, &options);
    assert!(error.contains("header row longer than 1024 KiB"), "{error}");
    assert_eq!(
        files_under(&staging),
        0,
        "a text member never touches the disk"
    );
}

// Regression: the same with rows of a gigabyte each (a KMZ placemark, a GeoJSON feature, a CSV row).
#[test]
fn one_endless_record_in_any_text_member_stops_at_the_record_cap() {
    let dir = tempfile::tempdir().expect("dir");
    let (staging, mut options) = staged(dir.path());
    // A run of one byte compresses like a bomb; this test is about the record, not the ratio.
    options.archive.max_ratio = u64::MAX;
    let cases: [(&str, &str, &[u8]); 3] = [
        ("row.zip", "rows.csv", b"name,lat,lon\n\"a"),
        ("doc.kmz", "doc.kml", b"<kml><Placemark><description>"),
        (
            "feature.zip",
            "big.geojson",
            b"{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"a\":\"",
        ),
    ];
    for (zip, member, head) in cases {
        let path = dir.path().join(zip);
        let mut bomb = Entry::bomb(member, b'a', 256);
        // The head goes first, as a stored block of its own before the compressed mebibytes.
        let mut data = vec![0x00];
        data.extend_from_slice(&(head.len() as u16).to_le_bytes());
        data.extend_from_slice(&(!(head.len() as u16)).to_le_bytes());
        data.extend_from_slice(head);
        data.extend_from_slice(&bomb.data);
        bomb.data = data;
        bomb.size += head.len() as u64;
        support::write(&path, &[bomb]);
        let error = refused(&path, &options);
        assert!(
            error.contains("record longer than 64 MiB"),
            "{zip}: {error}"
        );
    }
    assert_eq!(files_under(&staging), 0);
}

// Regression: what an archive inflates to was only capped at 4 GiB in total, so a 5 MB upload wrote 3.9
// GB before being refused; each entry and each unpacked set now has its own cap, counted as it inflates.
#[test]
fn entries_are_stopped_at_their_caps_as_they_inflate_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().expect("dir");
    let (staging, mut options) = staged(dir.path());
    options.archive = ArchiveLimits {
        max_entry_bytes: 3 << 20,
        max_inflated_bytes: 5 << 20,
        ..ArchiveLimits::default()
    };
    let mut set: Vec<Entry> = support::shapefile("sites", "a")
        .iter()
        .map(|(name, bytes)| Entry::stored(name, bytes))
        .collect();
    // A .dbf that inflates far beyond its cap.
    set[2] = Entry::bomb("sites.dbf", b' ', 8);
    let path = dir.path().join("one.zip");
    support::write(&path, &set);
    let error = refused(&path, &options);
    assert!(
        error.contains("entry 'sites.dbf' inflates beyond the 3145728 bytes allowed for one entry"),
        "{error}"
    );
    // Each entry under its cap, together beyond the archive's.
    set[2] = Entry::stored("sites.dbf", &[b' '; 2 << 20]);
    set[1] = Entry::stored("sites.shx", &[0; 3 << 20]);
    support::write(&path, &set);
    let error = refused(&path, &options);
    assert!(
        error.contains("archive inflates beyond the 5242880 bytes allowed"),
        "{error}"
    );
    assert_eq!(
        files_under(&staging),
        0,
        "the unpacked set goes with the error"
    );
}

// Regression: nothing looked at how far an entry outgrew its compressed size, so a bomb ran to the cap.
#[test]
fn a_member_outgrowing_its_compressed_size_like_a_bomb_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let (staging, options) = staged(dir.path());
    let path = dir.path().join("ratio.zip");
    let mut set: Vec<Entry> = support::shapefile("sites", "a")
        .iter()
        .map(|(name, bytes)| Entry::stored(name, bytes))
        .collect();
    set[2] = Entry::bomb("sites.dbf", b' ', 100);
    support::write(&path, &set);
    let error = refused(&path, &options);
    assert!(
        error.contains("inflates to more than 200 times its"),
        "{error}"
    );
    assert_eq!(files_under(&staging), 0);
}

/// The inflated byte count a ratio refusal names.
fn inflated_when_refused(error: &str) -> u64 {
    error
        .split("compressed size (")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in: {error}"))
}

// Regression: the ratio was taken against the entry's whole compressed size, so a 4 MB .dbf that was a bomb
// for its first part still wrote 807 MB to the staging folder before 200 times its size was reached.
#[test]
fn a_bomb_is_stopped_at_the_floor_even_when_its_tail_is_incompressible() {
    let dir = tempfile::tempdir().expect("dir");
    let (staging, options) = staged(dir.path());
    let path = dir.path().join("tailed.zip");
    let mut set: Vec<Entry> = support::shapefile("sites", "a")
        .iter()
        .map(|(name, bytes)| Entry::stored(name, bytes))
        .collect();
    // 1 GiB from about 1 MB, then 8 MiB stored: the whole entry is only about 115 times its size.
    set[2] = Entry::bomb_with_tail("sites.dbf", b' ', 1024, 8);
    support::write(&path, &set);
    let error = refused(&path, &options);
    let inflated = inflated_when_refused(&error);
    assert!(
        inflated <= RATIO_FLOOR_BYTES + (1 << 20),
        "{inflated} bytes inflated before the refusal: {error}"
    );
    assert_eq!(files_under(&staging), 0);
}

// Regression: unpacking went on whatever room the temporary folder's disk had left.
#[test]
fn unpacking_stops_where_the_staging_disk_would_lose_its_reserve() {
    let dir = tempfile::tempdir().expect("dir");
    let (staging, mut options) = staged(dir.path());
    options.archive.keep_free_bytes = u64::MAX / 2;
    let path = dir.path().join("sites.zip");
    let set: Vec<Entry> = support::shapefile("sites", "a")
        .iter()
        .map(|(name, bytes)| Entry::stored(name, bytes))
        .collect();
    support::write(&path, &set);
    let error = refused(&path, &options);
    assert!(error.contains("staging folder's disk has"), "{error}");
    assert_eq!(files_under(&staging), 0);
    // With the default reserve the same archive reads.
    options.archive = ArchiveLimits::default();
    assert_eq!(read(&path, &options).expect("read"), 1);
}

// Regression: a central directory that lists one name twice was read as one entry (the zip library kept
// the last), so the second copy was imported silently.
#[test]
fn every_way_of_naming_one_member_twice_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("twice.zip");
    let pairs: [(&str, &str); 8] = [
        ("sites.csv", "sites.csv"),
        ("SITES.CSV", "sites.csv"),
        ("./sites.csv", "sites.csv"),
        ("data//sites.csv", "data/sites.csv"),
        ("data\\sites.csv", "data/sites.csv"),
        // é composed (NFC) and decomposed (NFD, as macOS writes names).
        ("caf\u{e9}.csv", "cafe\u{301}.csv"),
        // A full-width letter, which compatibility normalisation folds.
        ("\u{ff53}ites.csv", "sites.csv"),
        ("data/Sites.csv", "DATA/sites.csv"),
    ];
    for (first, second) in pairs {
        support::write(
            &path,
            &[
                Entry::stored(first, CSV),
                Entry::stored(second, b"name,lat,lon\nimpostor,1,1\n"),
            ],
        );
        let error = refused(&path, &ReadOptions::default());
        assert!(
            error.contains("which one is meant cannot be told"),
            "{first} / {second}: {error}"
        );
    }
    // A file and a folder of one name.
    support::write(
        &path,
        &[
            Entry::stored("data.csv", CSV),
            Entry::folder("DATA.csv/"),
            Entry::stored("DATA.csv/x.txt", b"x"),
        ],
    );
    let error = refused(&path, &ReadOptions::default());
    assert!(error.contains("both as a file and as a folder"), "{error}");
}

// Regression: two shapefile sets in two folders were told apart by file stem only, so `--layer roads`
// read whichever came first.
#[test]
fn two_shapefiles_of_one_name_in_two_folders_are_chosen_by_path_only() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("two.zip");
    let mut entries = Vec::new();
    for (folder, name) in [("east", "from east"), ("west", "from west")] {
        for (file, bytes) in support::shapefile("roads", name) {
            entries.push(Entry::stored(&format!("{folder}/{file}"), &bytes));
        }
    }
    support::write(&path, &entries);
    let error = refused(&path, &ReadOptions::default());
    assert!(
        error.contains("several readable files (east/roads.shp, west/roads.shp)"),
        "{error}"
    );
    let by_stem = ReadOptions {
        layer: Some("roads".into()),
        ..ReadOptions::default()
    };
    let error = refused(&path, &by_stem);
    assert!(
        error.contains("several members are named 'roads'"),
        "{error}"
    );
    for layer in ["west/roads", "west/roads.shp"] {
        let by_path = ReadOptions {
            layer: Some(layer.into()),
            ..ReadOptions::default()
        };
        let (format, stream) = open_reader(&path, &by_path).expect("chosen by path");
        assert_eq!(format, Format::Shapefile);
        let names: Vec<String> = stream
            .map(|f| f.expect("feature").feature.properties["NAME"].to_string())
            .collect();
        assert_eq!(names, vec!["\"from west\"".to_string()], "{layer}");
    }
}

// Regression: a member that is itself a zip was unpacked too, one level of inflation on top of the other.
#[test]
fn an_archive_inside_an_archive_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let inner = dir.path().join("inner.zip");
    support::write(&inner, &[Entry::stored("sites.csv", CSV)]);
    let outer = dir.path().join("outer.zip");
    support::write(
        &outer,
        &[Entry::stored(
            "sites.csv",
            &std::fs::read(&inner).expect("inner"),
        )],
    );
    let error = refused(&outer, &ReadOptions::default());
    assert!(error.contains("is another archive"), "{error}");
}

// Regression: local headers were not compared with the central directory, so a zip could show one
// member to this reader and another to the next (zip cloaking), and a directory whose sizes lie went
// unnoticed until the disk filled.
#[test]
fn headers_that_disagree_or_sizes_that_lie_change_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("cloaked.zip");
    let mut cloaked = Entry::stored("sites.csv", CSV);
    cloaked.local_name = Some("other.csv".into());
    support::write(&path, &[cloaked]);
    let error = refused(&path, &ReadOptions::default());
    assert!(error.contains("headers disagree"), "{error}");

    // The directory says 30 bytes; the entry inflates to 64 MiB.
    let path = dir.path().join("liar.zip");
    let mut liar = Entry::bomb("rows.csv", b'a', 64);
    liar.size = 30;
    support::write(&path, &[liar]);
    let (staging, mut options) = staged(dir.path());
    options.archive.max_entry_bytes = 1 << 20;
    let error = refused(&path, &options);
    // The zip library notices too; either way the read stops at the first mebibyte.
    assert!(
        error.contains("inflates beyond")
            || error.contains("larger than its declared uncompressed size"),
        "{error}"
    );
    assert_eq!(files_under(&staging), 0);
}

#[test]
fn honest_archives_still_read() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("honest.zip");
    let mut entries = vec![
        Entry::folder("data/"),
        Entry::stored("data/sites.csv", CSV),
        Entry::stored("__MACOSX/data/._sites.csv", b"\0\x05\x16\x07"),
        Entry::stored("README.txt", b"sites"),
    ];
    support::write(&path, &entries);
    assert_eq!(read(&path, &ReadOptions::default()).expect("read"), 2);
    entries.truncate(2);
    for (file, bytes) in support::shapefile("roads", "r") {
        entries.push(Entry::stored(
            &format!("data/{}", file.to_uppercase()),
            &bytes,
        ));
    }
    support::write(&path, &entries);
    let layer = ReadOptions {
        layer: Some("ROADS".into()),
        ..ReadOptions::default()
    };
    assert_eq!(read(&path, &layer).expect("upper-case shapefile"), 1);
}
