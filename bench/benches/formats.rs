//! Parsing throughput of the readers on synthetic clustered points, and of the WKB decoder against geozero's
//! (the stores decode every non-point blob with it when they build an index or serve features).

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

/// Blobs as the GeoPackage store writes them: a polygon ring of `vertices`, a multipolygon of ten of them.
fn blobs() -> Vec<(&'static str, Vec<u8>)> {
    use geoconsole_model::geo_types::{Geometry, LineString, MultiPolygon, Point, Polygon};
    use geozero::{CoordDimensions, ToWkb};
    let ring = |vertices: usize, dx: f64| {
        let mut points: Vec<(f64, f64)> = (0..vertices)
            .map(|i| {
                let a = i as f64 / vertices as f64 * std::f64::consts::TAU;
                (dx + a.cos(), a.sin())
            })
            .collect();
        points.push(points[0]);
        Polygon::new(LineString::from(points), vec![])
    };
    let envelope = vec![-1.0, 30.0, -1.0, 1.0];
    let blob = |g: Geometry<f64>| {
        g.to_gpkg_wkb(CoordDimensions::xy(), Some(4326), envelope.clone())
            .expect("encode")
    };
    vec![
        ("point", blob(Point::new(1.0, 2.0).into())),
        ("polygon_16", blob(ring(16, 0.0).into())),
        ("polygon_1000", blob(ring(1000, 0.0).into())),
        (
            "multipolygon_10x100",
            blob(MultiPolygon((0..10).map(|i| ring(100, f64::from(i) * 3.0)).collect()).into()),
        ),
    ]
}

fn wkb(c: &mut Criterion) {
    use geozero::ToGeo;
    let mut group = c.benchmark_group("wkb");
    for (name, blob) in blobs() {
        group.bench_function(format!("formats_{name}"), |b| {
            b.iter(|| {
                geoconsole_formats::wkb::decode_geopackage(std::hint::black_box(&blob))
                    .expect("decodes")
            });
        });
        group.bench_function(format!("geozero_{name}"), |b| {
            b.iter(|| {
                geozero::wkb::GpkgWkb(std::hint::black_box(&blob))
                    .to_geo()
                    .expect("decodes")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, readers, wkb);
criterion_main!(benches);
