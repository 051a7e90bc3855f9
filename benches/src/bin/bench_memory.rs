//! `bench-memory`: bytes per series per recording thread, as CSV on stdout.
//!
//! For each (series, shards) pair the `scrape` bench uses, builds the same fixture (a series = one
//! counter + one 13-bound histogram labelled `tool`, recorded by `shards` live threads) and prints
//! the engine's allocated cell bytes divided by series × shards. Each case also runs in a fresh
//! child process that reports its resident-set growth, which counts everything (label strings,
//! indexes, shard headers, allocator slack) — and the same for `prometheus` 0.14 holding the same
//! series. A fresh process per case matters: freed memory is not returned to the OS, so growth
//! measured after an earlier case would read low.
//!
//! ```text
//! bench-memory                          # the whole table
//! bench-memory --case ours 100 16       # one case: prints "shard_bytes rss_growth_bytes"
//! bench-memory --proportional           # memory in proportion to use (docs/benchmarks.md)
//! ```
//!
//! `--proportional` measures, each in a fresh child process, a registry of 20,000 counter series
//! recorded by 32 live threads that each record only one series, then every series; and 10,000
//! short-lived threads that each record once (resident set after 1,000 and after 10,000 threads,
//! and the exact total).

use std::process::{Command, ExitCode};

use dcc_mcp_benches::fixtures::{OursFixture, PrometheusFixture};

/// Resident set size of this process in bytes (Linux; 0 elsewhere).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Builds one fixture in this process and prints `shard_bytes rss_growth_bytes`.
fn one_case(lib: &str, series: usize, shards: usize) -> ExitCode {
    let before = rss_bytes();
    let shard_bytes = match lib {
        "ours" => {
            let f = OursFixture::new(series, shards);
            let b = f.registry.shard_bytes();
            println!("{b} {}", rss_bytes().saturating_sub(before));
            return ExitCode::SUCCESS;
        }
        "prometheus" => {
            let f = PrometheusFixture::new(series, shards);
            std::hint::black_box(&f);
            0
        }
        _ => return ExitCode::FAILURE,
    };
    println!("{shard_bytes} {}", rss_bytes().saturating_sub(before));
    ExitCode::SUCCESS
}

/// Runs one case in a child process; `None` if it failed.
fn child(lib: &str, series: usize, shards: usize) -> Option<(usize, usize)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .args(["--case", lib, &series.to_string(), &shards.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|t| t.parse::<usize>().ok());
    Some((it.next()??, it.next()??))
}

/// Series in the `--proportional` registry, and live recording threads.
const WIDE: usize = 20_000;
const LIVE: usize = 32;

/// One `--proportional` case in this process; prints `key=value` pairs.
fn proportional_case(case: &str) -> ExitCode {
    use std::sync::Barrier;
    let r = dcc_mcp_telemetry::Registry::new();
    match case {
        "one" | "all" => {
            let Ok(f) = r.counter_family_with_cap("wide_total", "Wide.", &["i"], WIDE) else {
                return ExitCode::FAILURE;
            };
            let handles: Vec<_> = (0..WIDE)
                .map(|i| f.with_label_values(&[&i.to_string()]))
                .collect();
            let before = rss_bytes();
            let barrier = Barrier::new(LIVE);
            std::thread::scope(|s| {
                for _ in 0..LIVE {
                    s.spawn(|| {
                        if case == "one" {
                            handles[WIDE - 1].inc();
                        } else {
                            handles.iter().for_each(|c| c.inc());
                        }
                        // All alive at once, so each has its own shard.
                        barrier.wait();
                    });
                }
            });
            println!(
                "shards={} shard_bytes={} rss_growth={}",
                r.shard_count(),
                r.shard_bytes(),
                rss_bytes().saturating_sub(before)
            );
        }
        "churn" => {
            let Ok(c) = r.counter("churn_total", "Churn.") else {
                return ExitCode::FAILURE;
            };
            let mut at_1000 = 0;
            let start = rss_bytes();
            for i in 0..10_000 {
                let c = c.clone();
                if std::thread::spawn(move || c.inc()).join().is_err() {
                    return ExitCode::FAILURE;
                }
                if i == 999 {
                    at_1000 = rss_bytes();
                }
            }
            println!(
                "total={} shards={} shard_bytes={} rss_start={start} rss_after_1000={at_1000} rss_after_10000={}",
                c.get(),
                r.shard_count(),
                r.shard_bytes(),
                rss_bytes()
            );
        }
        _ => return ExitCode::FAILURE,
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--proportional-case" {
        return proportional_case(&args[2]);
    }
    if args.len() == 2 && args[1] == "--proportional" {
        let Ok(exe) = std::env::current_exe() else {
            return ExitCode::FAILURE;
        };
        for case in ["one", "all", "churn"] {
            match Command::new(&exe)
                .args(["--proportional-case", case])
                .output()
            {
                Ok(out) if out.status.success() => {
                    print!("{case}: {}", String::from_utf8_lossy(&out.stdout));
                }
                _ => return ExitCode::FAILURE,
            }
        }
        return ExitCode::SUCCESS;
    }
    if args.len() == 5 && args[1] == "--case" {
        return match (args[3].parse(), args[4].parse()) {
            (Ok(series), Ok(shards)) => one_case(&args[2], series, shards),
            _ => ExitCode::FAILURE,
        };
    }
    println!("series,shards,shard_bytes,bytes_per_series_per_shard,rss_growth_bytes,rss_per_series_per_shard,prometheus_rss_growth_bytes,prometheus_rss_per_series");
    for series in [10usize, 100, 1_000, 10_000] {
        let prom = child("prometheus", series, 1).map_or(0, |(_, rss)| rss);
        for shards in [1usize, 2, 8, 32, 128] {
            let Some((bytes, rss)) = child("ours", series, shards) else {
                eprintln!("case {series} series x {shards} shards failed");
                return ExitCode::FAILURE;
            };
            let cells = (series * shards) as f64;
            println!(
                "{series},{shards},{bytes},{:.1},{rss},{:.1},{prom},{:.1}",
                bytes as f64 / cells,
                rss as f64 / cells,
                prom as f64 / series as f64,
            );
        }
    }
    ExitCode::SUCCESS
}
