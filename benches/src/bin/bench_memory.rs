//! `bench-memory`: bytes of shard storage per series per recording thread, as CSV on stdout.
//!
//! For each (series, shards) pair the `scrape` bench uses, builds the same fixture (series = one
//! counter + one 13-bound histogram labelled `tool`, recorded by `shards` live threads) and prints
//! the engine's allocated cell bytes divided by series × shards, next to the process' resident-set
//! growth while the fixture was built (which also counts label strings, indexes and thread stacks
//! returned to the allocator) and the same growth for `prometheus` 0.14 holding the same series.

use dcc_mcp_benches::fixtures::{OursFixture, PrometheusFixture};

/// Resident set size of this process in bytes (Linux; 0 elsewhere).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    println!("series,shards,shard_bytes,bytes_per_series_per_shard,rss_growth_bytes,rss_per_series_per_shard,prometheus_rss_growth_bytes,prometheus_rss_per_series");
    for series in [10usize, 100, 1_000, 10_000] {
        for shards in [1usize, 2, 8, 32, 128] {
            let before = rss_bytes();
            let ours = OursFixture::new(series, shards);
            let grown = rss_bytes().saturating_sub(before);
            let bytes = ours.registry.shard_bytes();
            drop(ours);
            let before = rss_bytes();
            let prom = PrometheusFixture::new(series, 1);
            let prom_grown = rss_bytes().saturating_sub(before);
            drop(prom);
            let cells = (series * shards) as f64;
            println!(
                "{series},{shards},{bytes},{:.1},{grown},{:.1},{prom_grown},{:.1}",
                bytes as f64 / cells,
                grown as f64 / cells,
                prom_grown as f64 / series as f64,
            );
        }
    }
}
