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
//! ```

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
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
