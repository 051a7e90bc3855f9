//! Memory under thread churn: waves of threads that each record series no earlier holder of its
//! engine thread id touched. A shard's storage follows what its current holder records (the next
//! holder retires the previous one's values into the registry's retired accumulator and reuses
//! the storage), so bytes per shard stay flat across waves and no count is lost.
//! Its own test binary, so no other test's threads take engine thread ids meanwhile.
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{Registry, SampleValue};
use std::sync::Barrier;

/// Scaled down under Miri, which interprets every operation.
const WAVES: usize = if cfg!(miri) { 3 } else { 64 };
const WIDTH: usize = if cfg!(miri) { 2 } else { 8 };
const SERIES_PER_THREAD: usize = 2;
const OBSERVATIONS: u64 = 3;

#[test]
fn bytes_per_shard_stay_flat_across_64_waves_of_threads_recording_new_series() {
    let r = Registry::new();
    // 61 bounds: each series is 64 cells, exactly one chunk, so every new series a thread
    // records commits one chunk in its shard.
    let bounds: Vec<f64> = (1..=61).map(|b| b as f64).collect();
    let h = r
        .histogram_family_with_cap("h_seconds", "H.", &["k"], &bounds, WAVES * WIDTH * 2)
        .unwrap();
    let mut per_shard = Vec::new();
    for wave in 0..WAVES {
        // All threads of a wave are alive at once, so they hold WIDTH distinct ids. Each thread
        // is joined explicitly: a scope alone returns when the closures have finished, before the
        // threads' thread-local destructors (which give their engine ids back) have run, so the
        // next wave could meet ids still held and take new ones.
        let barrier = Barrier::new(WIDTH);
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..WIDTH)
                .map(|t| {
                    let (h, barrier) = (&h, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        for j in 0..SERIES_PER_THREAD {
                            let k = (wave * WIDTH + t) * SERIES_PER_THREAD + j;
                            let series = h.with_label_values(&[&k.to_string()]);
                            for _ in 0..OBSERVATIONS {
                                series.observe(2.0);
                            }
                        }
                        barrier.wait();
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
        });
        per_shard.push(r.shard_bytes() / r.shard_count());
        // Nothing lost or counted twice so far: every series recorded has exactly its counts.
        let snap = r.snapshot();
        let fam = snap.iter().find(|f| f.name == "h_seconds").unwrap();
        assert_eq!(fam.series.len(), (wave + 1) * WIDTH * SERIES_PER_THREAD);
        for s in &fam.series {
            match &s.value {
                SampleValue::Histogram(h) => {
                    assert_eq!((h.count, h.sum), (OBSERVATIONS, 2.0 * OBSERVATIONS as f64));
                    assert_eq!(h.buckets[1].1 - h.buckets[0].1, OBSERVATIONS, "{:?}", s);
                }
                other => panic!("{other:?}"),
            }
        }
    }
    let (first, last) = (per_shard[0], per_shard[WAVES - 1]);
    eprintln!(
        "bytes per shard: first wave {first}, last wave {last}, max {}; shards {}; retired accumulator {} bytes",
        per_shard.iter().max().unwrap(),
        r.shard_count(),
        r.retired_bytes()
    );
    assert!(r.shard_count() <= WIDTH);
    for (wave, bytes) in per_shard.iter().enumerate() {
        assert!(
            *bytes <= 2 * first,
            "wave {wave}: {bytes} bytes per shard, first wave {first}"
        );
    }
    // The accumulator holds at most one copy of the registry: one chunk per series plus leaves.
    let series = WAVES * WIDTH * SERIES_PER_THREAD;
    assert!(r.retired_bytes() <= series * 512 + series.div_ceil(128) * 1024 + 1024);
}
