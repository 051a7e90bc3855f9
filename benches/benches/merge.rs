//! The scrape's merge alone (`Registry::snapshot`) at 10,000 series (a counter and a 13-bound
//! histogram each) and 128 shards, the case `docs/benchmarks.md` shows before and after the merge
//! walked only committed chunks:
//! * `dense`: every one of the 128 threads recorded every series (all cells committed everywhere);
//! * `sparse`: thread `t` recorded only the series `i % 128 == t` (each series once; a shard holds
//!   1/128 of the registry), where a merge that visits every shard for every series pays for
//!   cells nobody recorded.

use criterion::{criterion_group, criterion_main, Criterion};
use dcc_mcp_benches::fixtures::OursFixture;
use std::hint::black_box;

const SERIES: usize = 10_000;
const SHARDS: usize = 128;

fn merge(c: &mut Criterion) {
    let mut g = c.benchmark_group("merge-10000x128");
    let dense = OursFixture::new(SERIES, SHARDS);
    g.bench_function("dense", |b| b.iter(|| black_box(dense.registry.snapshot())));
    drop(dense);
    let sparse = OursFixture::sparse(SERIES, SHARDS);
    g.bench_function("sparse", |b| {
        b.iter(|| black_box(sparse.registry.snapshot()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = merge
}
criterion_main!(benches);
