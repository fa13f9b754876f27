//! Records built to be too big: a header or a row without an end, a column name of megabytes, a `.prj`
//! of a gigabyte. Each is refused at its cap before it is buffered, and no message quotes more than an
//! excerpt of what it refused.

use std::io::Cursor;
use std::path::Path;

use geoconsole_formats::{Format, FormatError, ReadOptions, open_reader, read_stream};

fn first_error(bytes: Vec<u8>) -> FormatError {
    let options = ReadOptions {
        format: Some(Format::Csv),
        ..ReadOptions::default()
    };
    match read_stream(Path::new("sites.csv"), Cursor::new(bytes), &options) {
        Err(e) => e,
        Ok((_, mut stream)) => stream.find_map(Result::err).expect("the file is refused"),
    }
}

// Regression: a 50 MB one-line header took a preview to 2.1 GiB, and its error (the whole header,
// quoted) filled the terminal and broke the audit write.
#[test]
fn a_fifty_megabyte_header_is_refused_at_its_cap_and_not_echoed() {
    let mut csv = b"name,".to_vec();
    csv.resize(50 << 20, b'b');
    csv.extend_from_slice(b"\n1,2\n");
    let error = first_error(csv);
    let text = error.to_string();
    assert!(text.contains("header row longer than 1024 KiB"), "{text}");
    assert!(text.len() < 300, "{} bytes: {text}", text.len());
}

// Regression: a header under its cap but of one endless name, or of thousands of names, was quoted whole
// in "columns are: …".
#[test]
fn messages_quote_an_excerpt_of_names_and_values_whatever_their_size() {
    let long_name = "n".repeat(1000);
    let error = first_error(format!("name,{long_name}\n1,2\n").into_bytes()).to_string();
    assert!(error.contains("no coordinate columns found"), "{error}");
    assert!(error.contains("…[+920 bytes]"), "{error}");
    assert!(error.len() < 400, "{} bytes: {error}", error.len());

    let many: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    let error = first_error(format!("{}\n", many.join(",")).into_bytes()).to_string();
    assert!(error.contains("… and 9980 more"), "{error}");
    assert!(error.len() < 400, "{} bytes: {error}", error.len());

    let huge_value = "9".repeat(1 << 20) + "x";
    let error = first_error(format!("lat,lon\n{huge_value},1\n").into_bytes());
    assert!(error.message().contains("is not a number"), "{error}");
    assert!(error.to_string().len() < 300, "{error}");
    assert!(
        error.snippet().is_some_and(|s| s.chars().count() <= 200),
        "the rejects report keeps a snippet"
    );

    let name = "x".repeat(2000);
    let error = first_error(format!("lat,lon,{name}\n1,2,3\n").into_bytes()).to_string();
    assert!(
        error.contains("column 3's name is 2000 bytes long"),
        "{error}"
    );
    assert!(error.len() < 300, "{error}");
}

// Regression: a row without an end (an unclosed quote runs to the end of the file) was buffered whole.
#[test]
fn a_row_without_an_end_stops_at_the_record_cap() {
    let mut csv = b"name,lat,lon\n\"".to_vec();
    csv.resize(65 << 20, b'a');
    let error = first_error(csv).to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(error.contains("record longer than 64 MiB"), "{error}");
}

// Regression: a shapefile's .prj was read whole into memory, however large.
#[test]
fn a_prj_beyond_its_cap_is_refused_unread() {
    let dir = tempfile::tempdir().expect("dir");
    let shp = dir.path().join("sites.shp");
    {
        let table = shapefile::dbase::TableWriterBuilder::new()
            .add_character_field("NAME".try_into().expect("field"), 8);
        let mut writer = shapefile::Writer::from_path(&shp, table).expect("writer");
        let mut record = shapefile::dbase::Record::default();
        record.insert(
            "NAME".into(),
            shapefile::dbase::FieldValue::Character(Some("a".into())),
        );
        writer
            .write_shape_and_record(&shapefile::Point::new(1.0, 2.0), &record)
            .expect("write");
    }
    std::fs::write(shp.with_extension("prj"), vec![b' '; 1 << 20]).expect("prj");
    let error = open_reader(&shp, &ReadOptions::default())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("sites.prj: is larger than 64 KiB"),
        "{error}"
    );
}

// GPX elements are cut out one by one and read by the `gpx` crate, whose XML parser slows down with depth:
// nesting is refused while the element is cut out, before it is parsed.
#[test]
fn a_gpx_element_nested_past_what_gpx_needs_is_refused_quickly() {
    let deep = format!(
        "<gpx version=\"1.1\" creator=\"t\"><wpt lat=\"1\" lon=\"2\"><extensions>{}{}</extensions></wpt></gpx>",
        "<x>".repeat(100_000),
        "</x>".repeat(100_000)
    );
    let started = std::time::Instant::now();
    let options = ReadOptions {
        format: Some(Format::Gpx),
        ..ReadOptions::default()
    };
    let error = match read_stream(
        Path::new("deep.gpx"),
        Cursor::new(deep.into_bytes()),
        &options,
    ) {
        Err(e) => e,
        Ok((_, mut stream)) => stream.find_map(Result::err).expect("refused"),
    };
    assert!(
        error
            .to_string()
            .contains("nests elements 65 deep; at most 64"),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Fuzzing found that a 10 KB FlatGeobuf declaring one feature of 4 GiB made the `flatgeobuf` crate allocate
/// 4 GiB before reading it; a spatial index leaf can likewise point into the middle of a feature, at bytes
/// that read as a huge size. Both are refused before the crate reads a feature.
#[test]
fn a_flatgeobuf_feature_or_index_that_lies_about_sizes_is_refused_before_allocating() {
    use geoconsole_formats::{Format, WriterLayout, create_writer};
    use geoconsole_model::{Bbox, Feature, GeometryType, Schema};
    let dir = tempfile::tempdir().expect("dir");
    let honest = dir.path().join("honest.fgb");
    let layout = WriterLayout {
        name: "points".into(),
        schema: Schema::default(),
        geometry_type: GeometryType::Point,
    };
    let file = std::fs::File::create(&honest).expect("create");
    let mut writer = create_writer(Format::FlatGeobuf, Box::new(file), &layout).expect("writer");
    for x in 0..3 {
        writer
            .write_feature(&Feature {
                id: None,
                geometry: Some(geoconsole_model::geo_types::Point::new(f64::from(x), 1.0).into()),
                time: None,
                properties: serde_json::Map::new(),
            })
            .expect("write");
    }
    writer.finish().expect("finish");
    let bytes = std::fs::read(&honest).expect("read");
    let header = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    let index_start = 12 + header;
    let index = flatgeobuf::packed_r_tree::PackedRTree::index_size(3, 16);
    let data_start = index_start + index;
    let boxed = ReadOptions {
        bbox: Some(Bbox::new(-1.0, 0.0, 5.0, 2.0).expect("bbox")),
        ..ReadOptions::default()
    };
    for options in [ReadOptions::default(), boxed.clone()] {
        let (_, stream) = open_reader(&honest, &options).expect("honest file opens");
        assert_eq!(stream.filter(Result::is_ok).count(), 3);
    }

    let mut huge = bytes.clone();
    huge[data_start..data_start + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let path = dir.path().join("huge.fgb");
    std::fs::write(&path, &huge).expect("write");
    for options in [ReadOptions::default(), boxed.clone()] {
        let err = open_reader(&path, &options).err().expect("refused");
        assert!(
            err.to_string().contains("declares 4294967280 bytes"),
            "{err}"
        );
    }

    let mut misleading = bytes;
    let first_leaf_offset = data_start - 3 * 40 + 32;
    let offset = u64::from_le_bytes(
        misleading[first_leaf_offset..first_leaf_offset + 8]
            .try_into()
            .expect("8 bytes"),
    );
    misleading[first_leaf_offset..first_leaf_offset + 8]
        .copy_from_slice(&(offset + 2).to_le_bytes());
    let path = dir.path().join("misleading.fgb");
    std::fs::write(&path, &misleading).expect("write");
    let err = open_reader(&path, &boxed).err().expect("refused");
    assert!(err.to_string().contains("no feature starts"), "{err}");
}
