//! Parsing throughput of the readers on synthetic clustered points.

use std::io::Cursor;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use geoconsole_formats::{Format, ReadOptions, WriterLayout, create_writer, read_stream};
use geoconsole_model::GeometryType;
use geoconsole_scenario::{SyntheticOptions, synthetic_points, synthetic_schema};

const FEATURES: u64 = 20_000;

fn encoded(format: Format) -> Vec<u8> {
    let end = "2024-06-01T00:00:00Z".parse().expect("constant time");
    let options = SyntheticOptions {
        points: FEATURES,
        seed: 1,
        end,
        days: 30,
    };
    let layout = WriterLayout {
        name: "bench".into(),
        schema: synthetic_schema(),
        geometry_type: GeometryType::Point,
    };
    let path = std::env::temp_dir().join(format!(
        "geoconsole-bench-{}.{}",
        std::process::id(),
        format.extension()
    ));
    let file = std::fs::File::create(&path).expect("temp file");
    let mut writer =
        create_writer(format, Box::new(std::io::BufWriter::new(file)), &layout).expect("writer");
    for feature in synthetic_points(&options) {
        writer.write_feature(&feature).expect("write");
    }
    writer.finish().expect("finish");
    let bytes = std::fs::read(&path).expect("read back");
    let _ = std::fs::remove_file(&path);
    bytes
}

fn readers(c: &mut Criterion) {
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(FEATURES));
    for format in Format::WRITABLE {
        let bytes = encoded(format);
        group.bench_function(format.name(), |b| {
            b.iter(|| {
                let options = ReadOptions {
                    format: Some(format),
                    ..ReadOptions::default()
                };
                let (_, stream) =
                    read_stream(Path::new("bench"), Cursor::new(bytes.clone()), &options)
                        .expect("open");
                assert_eq!(stream.count() as u64, FEATURES);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, readers);
criterion_main!(benches);
