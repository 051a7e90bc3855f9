//! Thousands of short-lived threads: counts survive every thread's exit and the number of shards
//! stays bounded by the number of threads alive at once. (Alone in its test binary, so no other
//! test's threads hold slot ids.)
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{Registry, SampleValue};

/// Scaled down under Miri, which interprets every operation.
const WAVES: usize = if cfg!(miri) { 10 } else { 1000 };
const WIDTH: usize = 4;

#[test]
fn thread_churn_keeps_exact_totals_and_bounded_shards() {
    let r = Registry::new();
    let c = r.counter("churn_total", "churn").unwrap();
    let f = r
        .counter_family("churn_by_wave_total", "churn", &["w"])
        .unwrap();
    let h = r.histogram("churn_seconds", "churn", &[0.5]).unwrap();
    let mut last = 0;
    for wave in 0..WAVES {
        let key = (wave % 10).to_string();
        let handles: Vec<_> = (0..WIDTH)
            .map(|i| {
                let (c, f, h, key) = (c.clone(), f.clone(), h.clone(), key.clone());
                std::thread::spawn(move || {
                    c.inc_by(i as u64 + 1);
                    f.with_label_values(&[&key]).inc();
                    h.observe(i as f64 * 0.25);
                })
            })
            .collect();
        for t in handles {
            t.join().unwrap();
        }
        // Counts of exited threads are still there, exactly once.
        let now = c.get();
        assert_eq!(now, last + 10);
        last = now;
        assert!(r.shard_count() <= WIDTH, "{} shards", r.shard_count());
    }
    assert_eq!(c.get(), (WAVES * 10) as u64);
    let snap = h.snapshot();
    assert_eq!(snap.count, (WAVES * WIDTH) as u64);
    assert_eq!(snap.buckets[0], (0.5, (WAVES * 3) as u64));
    let fam = r.snapshot();
    let fam = fam
        .iter()
        .find(|x| x.name == "churn_by_wave_total")
        .unwrap();
    assert_eq!(fam.series.len(), 10);
    for s in &fam.series {
        assert_eq!(s.value, SampleValue::Counter((WAVES / 10 * WIDTH) as u64));
    }
    assert!(r.shard_count() <= WIDTH);
}
