//! Recorders and a scraper run at once; every scrape must satisfy the snapshot invariants.
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{FamilySnapshot, HistogramSnapshot, Registry, SampleValue};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const RECORDERS: usize = 3;
/// Scaled down under Miri, which interprets every operation.
const ROUNDS: u64 = if cfg!(miri) { 100 } else { 20_000 };
const BOUNDS: [f64; 4] = [1.0, 2.0, 3.0, 4.0];

type Seen = HashMap<(String, Vec<String>), Vec<u64>>;

/// Checks one scrape against the previous one and returns its per-series numbers.
fn check(snap: &[FamilySnapshot], prev: &Seen) -> Seen {
    let mut seen = Seen::new();
    for f in snap {
        for s in &f.series {
            let nums = match &s.value {
                SampleValue::Counter(v) => vec![*v],
                SampleValue::Gauge(v) => {
                    assert!(*v >= 0, "in-flight gauge read {v}");
                    continue;
                }
                SampleValue::Histogram(h) => {
                    assert_consistent(h);
                    h.buckets.iter().map(|b| b.1).collect()
                }
            };
            let key = (f.name.clone(), s.label_values.clone());
            if let Some(before) = prev.get(&key) {
                for (b, n) in before.iter().zip(&nums) {
                    assert!(b <= n, "{key:?} went backwards: {before:?} -> {nums:?}");
                }
            }
            seen.insert(key, nums);
        }
    }
    // A series once seen never disappears.
    for key in prev.keys() {
        assert!(seen.contains_key(key), "{key:?} disappeared");
    }
    seen
}

/// Every observation is wholly in a scrape or wholly out: with value `k + 1` recorded only into
/// bucket `k`, `_sum` must be exactly what the per-bucket counts hold.
fn assert_consistent(h: &HistogramSnapshot) {
    let mut prev = 0;
    let mut expected_sum = 0.0;
    for (k, &(_, cumulative)) in h.buckets.iter().enumerate() {
        assert!(cumulative >= prev, "not cumulative: {h:?}");
        expected_sum += (cumulative - prev) as f64 * (k + 1) as f64;
        prev = cumulative;
    }
    assert_eq!(
        h.sum, expected_sum,
        "_sum disagrees with the buckets: {h:?}"
    );
}

#[test]
fn every_scrape_is_monotonic_cumulative_and_the_last_is_exact() {
    let r = Registry::new();
    let hits = r.counter("hits_total", "hits").unwrap();
    let by_key = r
        .counter_family_with_cap("by_key_total", "by key", &["k"], 4096)
        .unwrap();
    let lat = r.histogram_family("lat", "lat", &["k"], &BOUNDS).unwrap();
    let busy = r.gauge("busy", "busy").unwrap();
    let done = AtomicUsize::new(0);
    // Halfway through, every recorder waits at a gate until the scraper has scraped the state they
    // left there, so one scrape deterministically lands mid-run (and sees exactly half).
    let at_gate = AtomicUsize::new(0);
    let released = AtomicBool::new(false);
    let mid_run = std::thread::scope(|s| {
        for _ in 0..RECORDERS {
            let (hits, by_key, lat, busy, done) = (&hits, &by_key, &lat, &busy, &done);
            let (at_gate, released) = (&at_gate, &released);
            s.spawn(move || {
                for i in 0..ROUNDS {
                    if i == ROUNDS / 2 {
                        at_gate.fetch_add(1, Ordering::AcqRel);
                        while !released.load(Ordering::Acquire) {
                            std::thread::yield_now();
                        }
                    }
                    busy.inc();
                    hits.inc();
                    // New series keep appearing (growing every shard) while the scraper runs.
                    let k = (i % 97 + (i / 1000) * 97).to_string();
                    by_key.with_label_values(&[&k]).inc();
                    // Value k + 1 lands in bucket k alone (`+Inf` for 5), so a scrape's sum is
                    // determined by its buckets.
                    lat.with_label_values_ref(&[&(i % 7).to_string()])
                        .observe((i % 5 + 1) as f64);
                    busy.dec();
                }
                done.fetch_add(1, Ordering::Release);
            });
        }
        let (r, done, hits) = (&r, &done, &hits);
        let (at_gate, released) = (&at_gate, &released);
        s.spawn(move || {
            let mut prev = Seen::new();
            let mut mid_run = None;
            while done.load(Ordering::Acquire) < RECORDERS {
                if mid_run.is_none() && at_gate.load(Ordering::Acquire) == RECORDERS {
                    prev = check(&r.snapshot(), &prev);
                    mid_run = Some(hits.get());
                    released.store(true, Ordering::Release);
                    continue;
                }
                prev = check(&r.snapshot(), &prev);
                std::thread::yield_now();
            }
            check(&r.snapshot(), &prev);
            mid_run
        })
        .join()
        .unwrap()
    });
    // The gated scrape saw every recorder's first half and nothing of its second.
    assert_eq!(mid_run, Some(RECORDERS as u64 * (ROUNDS / 2)));

    let total = RECORDERS as u64 * ROUNDS;
    assert_eq!(hits.get(), total);
    let snap = r.snapshot();
    let fam = |n: &str| snap.iter().find(|f| f.name == n).unwrap();
    let by_key_sum: u64 = fam("by_key_total")
        .series
        .iter()
        .map(|s| match s.value {
            SampleValue::Counter(v) => v,
            _ => unreachable!(),
        })
        .sum();
    assert_eq!(by_key_sum, total);
    assert_eq!(
        fam("by_key_total").series.len(),
        97 * ROUNDS.div_ceil(1000) as usize
    );
    let lat_count: u64 = fam("lat")
        .series
        .iter()
        .map(|s| match &s.value {
            SampleValue::Histogram(h) => h.count,
            _ => unreachable!(),
        })
        .sum();
    assert_eq!(lat_count, total);
    assert_eq!(busy.get(), 0);
}
