//! Recording cost per operation per thread, `dcc-mcp-telemetry` against `prometheus` 0.14, with 1
//! and 2 threads recording at once into the same metric.
//!
//! Each sample spawns the threads, lines them up on a barrier, and has each thread time its own
//! loop of `iters` operations; the reported time is the mean of the threads' loop times, so
//! criterion's "time per iteration" is nanoseconds per operation per thread.
//!
//! Run: `cargo bench -p dcc-mcp-benches --bench recording`
//! (quick: `-- --warm-up-time 1 --measurement-time 2`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

const THREADS: [usize; 2] = [1, 2];
const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Observed values, spread over the buckets.
const VALUES: [f64; 8] = [0.0003, 0.002, 0.007, 0.03, 0.2, 0.7, 3.0, 20.0];
const LABELS: [&str; 2] = ["render_scene", "success"];

/// Runs `op(i)` for `i in 0..iters` on each of `threads` threads at once; returns the mean of the
/// threads' own loop times.
fn per_thread(threads: usize, iters: u64, op: &(dyn Fn(u64) + Sync)) -> Duration {
    let barrier = Barrier::new(threads);
    let total: Duration = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = &barrier;
                s.spawn(move || {
                    // Warm the thread's shard / cache outside the timed loop.
                    op(0);
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters {
                        op(black_box(i));
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .sum()
    });
    total / threads as u32
}

fn bench(c: &mut Criterion, group: &str, cases: &[(&str, &(dyn Fn(u64) + Sync))]) {
    let mut g = c.benchmark_group(group);
    for threads in THREADS {
        for (name, op) in cases {
            g.bench_with_input(BenchmarkId::new(*name, threads), &threads, |b, &t| {
                b.iter_custom(|iters| per_thread(t, iters, *op))
            });
        }
    }
    g.finish();
}

fn counter_inc(c: &mut Criterion) {
    let ours = dcc_mcp_telemetry::Registry::new();
    let ours = ours
        .counter("calls_total", "calls")
        .unwrap_or_else(|e| panic!("{e}"));
    let prom =
        prometheus::IntCounter::new("calls_total", "calls").unwrap_or_else(|e| panic!("{e}"));
    thread_local! { static FLOOR: std::cell::Cell<u64> = const { std::cell::Cell::new(0) }; }
    bench(
        c,
        "counter_inc_cached",
        &[
            ("dcc_mcp_telemetry", &|_| ours.inc()),
            ("prometheus", &|_| prom.inc()),
            // The physical floor: a non-atomic thread-local increment.
            ("thread_local_cell_floor", &|_| {
                FLOOR.with(|c| c.set(c.get() + 1))
            }),
        ],
    );
}

fn counter_by_labels(c: &mut Criterion) {
    let reg = dcc_mcp_telemetry::Registry::new();
    let ours = reg
        .counter_family("calls_total", "calls", &["tool", "status"])
        .unwrap_or_else(|e| panic!("{e}"));
    let prom = prometheus::IntCounterVec::new(
        prometheus::Opts::new("calls_total", "calls"),
        &["tool", "status"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    bench(
        c,
        "counter_inc_by_label_values",
        &[
            ("dcc_mcp_telemetry_with_label_values", &|_| {
                ours.with_label_values(&LABELS).inc()
            }),
            ("dcc_mcp_telemetry_with_label_values_ref", &|_| {
                ours.with_label_values_ref(&LABELS).inc()
            }),
            ("prometheus_with_label_values", &|_| {
                prom.with_label_values(&LABELS).inc()
            }),
        ],
    );
}

fn histogram_observe(c: &mut Criterion) {
    let reg = dcc_mcp_telemetry::Registry::new();
    let ours = reg
        .histogram("duration_seconds", "duration", &BOUNDS)
        .unwrap_or_else(|e| panic!("{e}"));
    let ours_family = reg
        .histogram_family("by_tool_seconds", "duration", &["tool", "status"], &BOUNDS)
        .unwrap_or_else(|e| panic!("{e}"));
    let prom = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("duration_seconds", "duration").buckets(BOUNDS.to_vec()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let prom_vec = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("by_tool_seconds", "duration").buckets(BOUNDS.to_vec()),
        &["tool", "status"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let v = |i: u64| VALUES[(i & 7) as usize];
    bench(
        c,
        "histogram_observe",
        &[
            ("dcc_mcp_telemetry_cached", &|i| ours.observe(v(i))),
            ("prometheus_cached", &|i| prom.observe(v(i))),
            ("dcc_mcp_telemetry_with_label_values_ref", &|i| {
                ours_family.with_label_values_ref(&LABELS).observe(v(i))
            }),
            ("prometheus_with_label_values", &|i| {
                prom_vec.with_label_values(&LABELS).observe(v(i))
            }),
        ],
    );
}

/// What the server records per tool call, through the handles a registered tool resolved at
/// registration: `calls_total{tool,status}` +1 and the duration histogram.
fn tool_call_record(c: &mut Criterion) {
    let reg = dcc_mcp_telemetry::Registry::new();
    let calls = reg
        .counter_family("calls_total", "calls", &["tool", "status"])
        .unwrap_or_else(|e| panic!("{e}"));
    let durations = reg
        .histogram_family("duration_seconds", "duration", &["tool"], &BOUNDS)
        .unwrap_or_else(|e| panic!("{e}"));
    let ok = calls.with_label_values(&LABELS);
    let duration = durations.with_label_values(&LABELS[..1]);
    let prom_calls = prometheus::IntCounterVec::new(
        prometheus::Opts::new("calls_total", "calls"),
        &["tool", "status"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let prom_durations = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("duration_seconds", "duration").buckets(BOUNDS.to_vec()),
        &["tool"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let prom_ok = prom_calls.with_label_values(&LABELS);
    let prom_duration = prom_durations.with_label_values(&LABELS[..1]);
    let v = |i: u64| VALUES[(i & 7) as usize];
    bench(
        c,
        "tool_call_record",
        &[
            ("dcc_mcp_telemetry", &|i| {
                ok.inc();
                duration.observe(v(i));
            }),
            ("prometheus_cached", &|i| {
                prom_ok.inc();
                prom_duration.observe(v(i));
            }),
        ],
    );
}

criterion_group!(
    benches,
    counter_inc,
    counter_by_labels,
    histogram_observe,
    tool_call_record
);
criterion_main!(benches);
