//! Property: whatever the threads record, in whatever interleaving, the merged snapshot equals the
//! sum of what was recorded.
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{HistogramSnapshot, Registry, SampleValue};
use proptest::prelude::*;
use std::collections::BTreeMap;

const BOUNDS: [f64; 3] = [1.0, 2.0, 4.0];
const KEYS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Inc(usize, u64),
    Observe(usize, u8),
    Gauge(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..KEYS.len(), 0u64..1000).prop_map(|(k, n)| Op::Inc(k, n)),
        (0..KEYS.len(), 0u8..6).prop_map(|(k, v)| Op::Observe(k, v)),
        (-5i64..5).prop_map(Op::Gauge),
    ]
}

proptest! {
    // Scaled down under Miri, which interprets every operation (and cannot write failure files).
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 64 },
        failure_persistence: if cfg!(miri) { None } else { ProptestConfig::default().failure_persistence },
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_schedules_merge_to_the_sum(
        threads in prop::collection::vec(prop::collection::vec(op(), 0..60), 1..5),
        use_refs in any::<bool>(),
    ) {
        let r = Registry::new();
        let c = r.counter_family("c_total", "c", &["k"]).unwrap();
        let h = r.histogram_family("h", "h", &["k"], &BOUNDS).unwrap();
        let g = r.gauge("g", "g").unwrap();
        std::thread::scope(|s| {
            for ops in &threads {
                let (c, h, g) = (&c, &h, &g);
                s.spawn(move || {
                    for op in ops {
                        match *op {
                            Op::Inc(k, n) if use_refs => c.with_label_values_ref(&[KEYS[k]]).inc_by(n),
                            Op::Inc(k, n) => c.with_label_values(&[KEYS[k]]).inc_by(n),
                            Op::Observe(k, v) if use_refs => h.with_label_values_ref(&[KEYS[k]]).observe(f64::from(v)),
                            Op::Observe(k, v) => h.with_label_values(&[KEYS[k]]).observe(f64::from(v)),
                            Op::Gauge(d) => g.add(d),
                        }
                    }
                });
            }
        });

        // The sequential model.
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        let mut obs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut gauge = 0i64;
        for op in threads.iter().flatten() {
            match *op {
                Op::Inc(k, n) => *counts.entry(KEYS[k]).or_default() += n,
                Op::Observe(k, v) => obs.entry(KEYS[k]).or_default().push(f64::from(v)),
                Op::Gauge(d) => gauge += d,
            }
        }

        let snap = r.snapshot();
        let fam = |name: &str| snap.iter().find(|f| f.name == name).unwrap();
        let got_counts: BTreeMap<&str, u64> = fam("c_total").series.iter().map(|s| {
            let SampleValue::Counter(v) = s.value else { panic!("{s:?}") };
            (KEYS.iter().copied().find(|k| *k == s.label_values[0]).unwrap(), v)
        }).collect();
        prop_assert_eq!(got_counts, counts);
        for s in &fam("h").series {
            let SampleValue::Histogram(got) = &s.value else { panic!("{s:?}") };
            let vals = &obs[s.label_values[0].as_str()];
            let mut buckets: Vec<(f64, u64)> = BOUNDS.iter().chain([f64::INFINITY].iter())
                .map(|b| (*b, vals.iter().filter(|v| **v <= *b).count() as u64)).collect();
            buckets.last_mut().unwrap().1 = vals.len() as u64;
            // Observations are small integers, so their sum is exact in any order.
            let want = HistogramSnapshot { buckets, sum: vals.iter().sum(), count: vals.len() as u64, exemplars: vec![], native: None };
            prop_assert_eq!(got, &want);
        }
        prop_assert_eq!(fam("h").series.len(), obs.len());
        prop_assert_eq!(g.get(), gauge);
    }
}
