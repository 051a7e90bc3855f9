//! Scrape cost: our merge + encode against the number of shards (threads that have recorded:
//! 1, 2, 8, 16, 32, 128) and series (10, 100, 1 000, 10 000), next to `prometheus` 0.14's gather +
//! encode of the same series — and, for reference, `metrics-exporter-prometheus` 0.18's render and
//! `prometheus-client` 0.26's text encoder.
//!
//! A series is one registered tool: a counter and a 13-bound histogram labelled `tool` (see
//! `dcc_mcp_benches::fixtures`). Ours and `prometheus` produce byte-identical text (a fixture test
//! checks it), so the `scrape` group compares equal work. The `merge` group times our snapshot
//! alone (the shard walk), to separate it from the encoder both libraries share. The scrape
//! happens at quiescence; recording threads do not slow it (they never take a lock it needs).

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dcc_mcp_benches::fixtures::{
    observation, prometheus_client_registry, tool_name, OursFixture, PrometheusFixture, BUCKETS,
    CALLS, DURATION,
};
use dcc_mcp_benches::runner::RESULTS_ENV;
use metrics_exporter_prometheus::PrometheusBuilder;

const SERIES: [usize; 4] = [10, 100, 1_000, 10_000];
const SHARDS: [usize; 5] = [1, 2, 8, 32, 128];

/// Ours with 16 shards against `prometheus`, scraped alternately (A, B, A, B, …) so that both see
/// the same background load; the ratio is the median of the per-pair ratios. This is the robust
/// number for the "≤ 1.2× prometheus" target on a shared machine, where criterion's sequential
/// groups can land in different noise windows. Printed and appended to
/// `$DCC_MCP_BENCH_RESULTS/scrape_pairs.csv`.
fn paired_scrape_ratio() {
    const PAIRS: usize = 301;
    for series in [10usize, 100, 1_000] {
        let ours = OursFixture::new(series, 16);
        let prom = PrometheusFixture::new(series, 16);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut ratios = Vec::with_capacity(PAIRS);
        let (mut ta, mut tb) = (Vec::with_capacity(PAIRS), Vec::with_capacity(PAIRS));
        for _ in 0..PAIRS {
            let t = Instant::now();
            ours.scrape_into(&mut a);
            let x = t.elapsed().as_secs_f64();
            let t = Instant::now();
            prom.scrape_into(&mut b);
            let y = t.elapsed().as_secs_f64();
            ratios.push(x / y);
            ta.push(x);
            tb.push(y);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (r, ma, mb) = (median(&mut ratios), median(&mut ta), median(&mut tb));
        eprintln!(
            "paired scrape, {series} series: dcc-mcp 16 shards {:.1} µs, prometheus {:.1} µs, ratio {r:.2}",
            ma * 1e6,
            mb * 1e6
        );
        if let Ok(dir) = std::env::var(RESULTS_ENV) {
            let path = std::path::Path::new(&dir).join("scrape_pairs.csv");
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{series},16,{:.3},{:.3},{r:.4}", ma * 1e6, mb * 1e6);
            }
        }
    }
}

fn scrape(c: &mut Criterion) {
    paired_scrape_ratio();
    let mut out = Vec::with_capacity(1 << 20);
    for series in SERIES {
        let mut shards: Vec<usize> = SHARDS.to_vec();
        if series == 100 {
            // The target: 100 series recorded by 16 threads.
            shards.push(16);
            shards.sort_unstable();
        }
        for s in shards {
            let ours = OursFixture::new(series, s);
            c.benchmark_group("scrape").bench_with_input(
                BenchmarkId::new(format!("dcc-mcp-{s}shards"), series),
                &series,
                |b, _| b.iter(|| ours.scrape_into(black_box(&mut out))),
            );
            c.benchmark_group("merge").bench_with_input(
                BenchmarkId::new(format!("dcc-mcp-{s}shards"), series),
                &series,
                |b, _| b.iter(|| black_box(ours.registry.snapshot())),
            );
        }

        let prom = PrometheusFixture::new(series, 1);
        c.benchmark_group("scrape").bench_with_input(
            BenchmarkId::new("prometheus", series),
            &series,
            |b, _| b.iter(|| prom.scrape_into(black_box(&mut out))),
        );
        drop(prom);

        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .unwrap_or_else(|e| panic!("buckets: {e}"))
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..series {
                let tool = tool_name(i);
                metrics::counter!(CALLS, "tool" => tool.clone()).increment(1);
                metrics::histogram!(DURATION, "tool" => tool).record(observation(0, i));
            }
        });
        c.benchmark_group("scrape").bench_with_input(
            BenchmarkId::new("metrics", series),
            &series,
            |b, _| b.iter(|| black_box(handle.render())),
        );
        drop(recorder);

        let pc = prometheus_client_registry(series, 1);
        let mut text = String::with_capacity(1 << 20);
        c.benchmark_group("scrape").bench_with_input(
            BenchmarkId::new("prometheus-client", series),
            &series,
            |b, _| {
                b.iter(|| {
                    text.clear();
                    let _ = prometheus_client::encoding::text::encode(&mut text, &pc);
                    black_box(text.len())
                })
            },
        );
    }
}

/// Short defaults; the largest cases take tens of milliseconds per scrape, so fewer samples.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(200))
        .measurement_time(std::time::Duration::from_millis(800))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = scrape
}
criterion_main!(benches);
