//! Write throughput of the GeoPackage store (typed columns, unique ids, bulk R-tree, time index).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use geoconsole_model::{DatasetId, DatasetKind, Feature, TimeFields};
use geoconsole_scenario::{SyntheticOptions, synthetic_points};
use geoconsole_store::{WriteMode, WriteRequest};

const FEATURES: u64 = 20_000;

fn features() -> Vec<Feature> {
    let end = "2024-06-01T00:00:00Z".parse().expect("constant time");
    synthetic_points(&SyntheticOptions {
        points: FEATURES,
        seed: 1,
        end,
        days: 30,
    })
    .collect()
}

fn write(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let features = features();
    let mut group = c.benchmark_group("gpkg");
    group.throughput(Throughput::Elements(FEATURES));
    group.sample_size(10);
    group.bench_function("create_dataset", |b| {
        b.iter_batched(
            geoconsole_testkit::temp_gpkg,
            |store| {
                runtime.block_on(async {
                    let request = WriteRequest {
                        id: DatasetId::new("points").expect("id"),
                        title: "points".into(),
                        kind: DatasetKind::Events,
                        source: "bench".into(),
                        time_fields: TimeFields::default(),
                        id_field: None,
                        mode: WriteMode::Create,
                        skip_conflicts: false,
                    };
                    let mut writer = store.begin_write(request).await.expect("begin");
                    for chunk in features.chunks(4096) {
                        writer.write(chunk.to_vec()).await.expect("write");
                    }
                    writer.commit().await.expect("commit");
                });
                store
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, write);
criterion_main!(benches);
