//! Scrape cost of the engine's own text encoder against the other Rust clients, one run.
//!
//! The case: 100 tools (a counter and a 13-bound, 14-bucket histogram each, labelled
//! `tool`) recorded by 16 threads alive at once, so our merge visits 16 shards. Four scrapes of the
//! same series, same process, same run:
//! * `dcc-mcp encode_text`: `Registry::encode_text` (merge + our encoder), what `/metrics` does;
//! * `dcc-mcp gather+TextEncoder`: merge + the `prometheus` crate's collector path (before);
//! * `prometheus`: `prometheus` 0.14 `gather` + `TextEncoder` over its own vectors;
//! * `prometheus-client`: 0.26 `text::encode` (OpenMetrics text) over its own families;
//! * `metrics-exporter-prometheus`: 0.18 `PrometheusHandle::render`.
//!
//! Besides criterion's groups (sequential, so they can land in different noise windows on a
//! shared machine) a paired loop scrapes ours and `prometheus-client` alternately and prints the
//! median of the per-pair ratios: the robust number for the "≤ 0.6× prometheus-client" goal.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use dcc_mcp_benches::fixtures::{
    observation, prometheus_client_registry, tool_name, OursFixture, PrometheusFixture, BUCKETS,
    CALLS, DURATION,
};
use metrics_exporter_prometheus::PrometheusBuilder;

const SERIES: usize = 100;
const SHARDS: usize = 16;

fn pc_encode(pc: &prometheus_client::registry::Registry, text: &mut String) {
    text.clear();
    let _ = prometheus_client::encoding::text::encode(text, pc);
}

fn paired_ratio(ours: &OursFixture, pc: &prometheus_client::registry::Registry) {
    const PAIRS: usize = 1001;
    let mut out = Vec::with_capacity(1 << 20);
    let mut text = String::with_capacity(1 << 20);
    let (mut ratios, mut ta, mut tb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..PAIRS {
        let t = Instant::now();
        ours.encode_text_into(&mut out);
        let x = t.elapsed().as_secs_f64();
        let t = Instant::now();
        pc_encode(pc, &mut text);
        let y = t.elapsed().as_secs_f64();
        black_box((out.len(), text.len()));
        ratios.push(x / y);
        ta.push(x);
        tb.push(y);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (r, a, b) = (median(&mut ratios), median(&mut ta), median(&mut tb));
    eprintln!(
        "paired, {SERIES} series x {SHARDS} shards: dcc-mcp encode_text {:.1} µs ({} bytes), \
         prometheus-client text::encode {:.1} µs ({} bytes), median ratio {r:.3}",
        a * 1e6,
        out.len(),
        b * 1e6,
        text.len()
    );
}

fn exposition(c: &mut Criterion) {
    let ours = OursFixture::new(SERIES, SHARDS);
    let prom = PrometheusFixture::new(SERIES, SHARDS);
    let pc = prometheus_client_registry(SERIES, SHARDS);
    let recorder = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .unwrap_or_else(|e| panic!("buckets: {e}"))
        .build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..SERIES {
            let tool = tool_name(i);
            for t in 0..SHARDS {
                metrics::counter!(CALLS, "tool" => tool.clone()).increment(1);
                metrics::histogram!(DURATION, "tool" => tool.clone()).record(observation(t, i));
            }
        }
    });

    paired_ratio(&ours, &pc);

    let mut out = Vec::with_capacity(1 << 20);
    let mut text = String::with_capacity(1 << 20);
    let mut g = c.benchmark_group("exposition-100x16");
    g.bench_function("dcc-mcp encode_text", |b| {
        b.iter(|| ours.encode_text_into(black_box(&mut out)))
    });
    g.bench_function("dcc-mcp snapshot only", |b| {
        b.iter(|| black_box(ours.registry.snapshot()))
    });
    g.bench_function("dcc-mcp gather+TextEncoder", |b| {
        b.iter(|| ours.scrape_into(black_box(&mut out)))
    });
    g.bench_function("prometheus gather+TextEncoder", |b| {
        b.iter(|| prom.scrape_into(black_box(&mut out)))
    });
    g.bench_function("prometheus-client text::encode", |b| {
        b.iter(|| {
            pc_encode(&pc, &mut text);
            black_box(text.len())
        })
    });
    g.bench_function("metrics-exporter-prometheus render", |b| {
        b.iter(|| black_box(handle.render()))
    });
    g.finish();
    paired_ratio(&ours, &pc);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = exposition
}
criterion_main!(benches);
