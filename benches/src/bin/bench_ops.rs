//! `bench-ops`: runs one recording path N times on one thread, for instruction-count profiles.
//!
//! Wall-clock numbers on a shared machine move with the background load; instruction counts do
//! not. `scripts/bench.sh --only profile` runs this under `valgrind --tool=callgrind` with N = 0
//! and N = 100 000 and reports the difference per operation, for our engine and for
//! `prometheus` 0.14 doing the same thing.
//!
//! ```text
//! bench-ops counter 100000      # paths: counter labels owned hist tool p_counter p_labels p_hist p_tool
//! bench-ops scrape 100          # one scrape = Registry::encode_text, 100 series x 16 shards
//! bench-ops scrape_pc 100       # the same series in prometheus-client 0.26, text::encode
//! ```
//!
//! `owned` is `CounterFamily::with_label_values` (an owned handle, made and dropped per call).

use std::cell::RefCell;
use std::hint::black_box;
use std::process::ExitCode;

use dcc_mcp_benches::fixtures::{prometheus_client_registry, OursFixture, BUCKETS};

/// The scrape paths' case (issue 20's): 100 tools recorded by 16 threads alive at once.
const SCRAPE: (usize, usize) = (100, 16);

/// The paths this binary can run.
const PATHS: [&str; 11] = [
    "counter",
    "labels",
    "owned",
    "scrape",
    "scrape_pc",
    "hist",
    "tool",
    "p_counter",
    "p_labels",
    "p_hist",
    "p_tool",
];

/// Runs `op` once (first use creates the thread's shard and cache entries, not part of the
/// count), then `n` times. Each call goes through `black_box(&op)`, so the handles are loaded
/// again on every call, as at a real record site, instead of being hoisted out of the loop.
fn run(n: u64, op: impl Fn()) {
    op();
    for _ in 0..n {
        black_box(&op)();
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<u64>())) else {
        eprintln!("usage: bench-ops <{}> <iterations>", PATHS.join("|"));
        return ExitCode::FAILURE;
    };
    if !PATHS.contains(&path.as_str()) {
        eprintln!("unknown path {path}; one of {}", PATHS.join(", "));
        return ExitCode::FAILURE;
    }
    let setup = || -> Result<_, Box<dyn std::error::Error>> {
        let reg = dcc_mcp_telemetry::Registry::new();
        let counter = reg.counter("c_total", "c")?;
        let family = reg.counter_family("f_total", "f", &["tool", "status"])?;
        let hist = reg.histogram("h_seconds", "h", &BUCKETS)?;
        let hist_family = reg.histogram_family("hf_seconds", "h", &["tool"], &BUCKETS)?;
        let p_counter = prometheus::IntCounter::new("c_total", "c")?;
        let p_family = prometheus::IntCounterVec::new(
            prometheus::Opts::new("f_total", "f"),
            &["tool", "status"],
        )?;
        let p_hist = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new("h_seconds", "h").buckets(BUCKETS.to_vec()),
        )?;
        let p_hist_family = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new("hf_seconds", "h").buckets(BUCKETS.to_vec()),
            &["tool"],
        )?;
        Ok((
            reg,
            counter,
            family,
            hist,
            hist_family,
            p_counter,
            p_family,
            p_hist,
            p_hist_family,
        ))
    };
    let Ok((_reg, counter, family, hist, hist_family, p_counter, p_family, p_hist, p_hist_family)) =
        setup()
    else {
        eprintln!("setup failed");
        return ExitCode::FAILURE;
    };
    let (ok, dur) = (
        family.with_label_values(&["echo", "success"]),
        hist_family.with_label_values(&["echo"]),
    );
    let (p_ok, p_dur) = (
        p_family.with_label_values(&["echo", "success"]),
        p_hist_family.with_label_values(&["echo"]),
    );
    match path.as_str() {
        "scrape" => {
            let ours = OursFixture::new(SCRAPE.0, SCRAPE.1);
            let out = RefCell::new(Vec::with_capacity(1 << 20));
            run(n, || {
                let mut out = out.borrow_mut();
                ours.encode_text_into(&mut out);
                black_box(out.len());
            });
        }
        "scrape_pc" => {
            let pc = prometheus_client_registry(SCRAPE.0, SCRAPE.1);
            let text = RefCell::new(String::with_capacity(1 << 20));
            run(n, || {
                let mut text = text.borrow_mut();
                text.clear();
                let _ = prometheus_client::encoding::text::encode(&mut *text, &pc);
                black_box(text.len());
            });
        }
        "counter" => run(n, || counter.inc()),
        "owned" => run(n, || {
            family
                .with_label_values(black_box(&["echo", "success"]))
                .inc()
        }),
        "labels" => run(n, || {
            family
                .with_label_values_ref(black_box(&["echo", "success"]))
                .inc()
        }),
        "hist" => run(n, || hist.observe(black_box(0.042))),
        "tool" => run(n, || {
            ok.inc();
            dur.observe(black_box(0.042));
        }),
        "p_counter" => run(n, || p_counter.inc()),
        "p_labels" => run(n, || {
            p_family
                .with_label_values(black_box(&["echo", "success"]))
                .inc()
        }),
        "p_hist" => run(n, || p_hist.observe(black_box(0.042))),
        _ => run(n, || {
            p_ok.inc();
            p_dur.observe(black_box(0.042));
        }),
    }
    ExitCode::SUCCESS
}
