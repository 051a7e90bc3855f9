//! Loom models of the engine's recording and merge code (the real code, through the `sync` shim).
//!
//! Every model spawns at most three threads. Scrapes go through the public `Registry::snapshot`,
//! recording through the public handles, so what is checked is exactly what normal builds run.
#![cfg(dcc_mcp_loom)]
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{FamilySnapshot, HistogramSnapshot, Registry, SampleValue};
use loom::thread::{self, JoinHandle};

/// `loom::thread::spawn`, ending the thread the way a real thread ends for `thread_local`: its
/// slot id returns to the pool (see `dcc_mcp_telemetry::loom_thread_exit`).
fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
    thread::spawn(move || {
        let out = f();
        dcc_mcp_telemetry::loom_thread_exit();
        out
    })
}

/// The values of family `name` in a snapshot, by series.
fn series(snap: &[FamilySnapshot], name: &str) -> Vec<(Vec<String>, SampleValue)> {
    snap.iter()
        .find(|f| f.name == name)
        .unwrap()
        .series
        .iter()
        .map(|s| (s.label_values.clone(), s.value.clone()))
        .collect()
}

fn counter(snap: &[FamilySnapshot], name: &str) -> u64 {
    match series(snap, name).as_slice() {
        [(_, SampleValue::Counter(v))] => *v,
        other => panic!("unexpected series {other:?}"),
    }
}

fn histogram(snap: &[FamilySnapshot], name: &str) -> HistogramSnapshot {
    match series(snap, name).as_slice() {
        [(_, SampleValue::Histogram(h))] => h.clone(),
        other => panic!("unexpected series {other:?}"),
    }
}

/// Invariants of one histogram snapshot: cumulative buckets, `+Inf` last and equal to `_count`.
fn check_histogram(h: &HistogramSnapshot) {
    assert!(h.buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{h:?}");
    let (bound, inf) = *h.buckets.last().unwrap();
    assert_eq!(bound, f64::INFINITY);
    assert_eq!(inf, h.count);
}

/// (a) Two threads increment a counter while a third (the main thread) scrapes twice: every scrape lies between the totals
/// before and after, scrapes never go backwards, and the final scrape is exact.
#[test]
fn a_counter_scrapes_are_bounded_monotonic_and_exact() {
    loom::model(|| {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let recorders: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                spawn(move || {
                    c.inc();
                    c.inc_by(2);
                })
            })
            .collect();
        // The main thread is the scraper.
        let first = counter(&r.snapshot(), "c_total");
        let seen = counter(&r.snapshot(), "c_total");
        assert!(first <= seen, "{first} > {seen}");
        // Each thread's shard moves 0 -> 1 -> 3, so a scrape sums two of those.
        assert!([0, 1, 2, 3, 4, 6].contains(&seen), "{seen}");
        for t in recorders {
            t.join().unwrap();
        }
        let last = counter(&r.snapshot(), "c_total");
        assert!(seen <= last);
        assert_eq!(last, 6);
        assert_eq!(c.get(), 6);
    });
}

/// (b) A histogram observed on two threads while the main thread scrapes: every snapshot is cumulative with
/// `+Inf == _count`, and the final one is exact.
#[test]
fn b_histogram_snapshots_are_cumulative_and_count_equals_inf() {
    loom::model(|| {
        let r = Registry::new();
        let h = r.histogram("h", "h", &[1.0]).unwrap();
        let recorders: Vec<_> = [0.5, 2.0]
            .into_iter()
            .map(|v| {
                let h = h.clone();
                spawn(move || h.observe(v))
            })
            .collect();
        // The main thread scrapes while both observe.
        let mid = histogram(&r.snapshot(), "h");
        check_histogram(&mid);
        assert!(mid.count <= 2);
        for t in recorders {
            t.join().unwrap();
        }
        let end = histogram(&r.snapshot(), "h");
        assert_eq!(end.buckets, vec![(1.0, 1), (f64::INFINITY, 2)]);
        assert_eq!(end.count, 2);
        assert_eq!(end.sum, 2.5);
    });
}

/// (c) A recording thread exits and its slot is taken by a new thread while a scrape runs: nothing
/// is lost, nothing is counted twice, and the two threads used one shard.
#[test]
fn c_thread_exit_hands_the_shard_to_the_next_thread() {
    loom::model(|| {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let r2 = r.clone();
        let scraper = spawn(move || {
            let first = counter(&r2.snapshot(), "c_total");
            let second = counter(&r2.snapshot(), "c_total");
            assert!(first <= second && second <= 3, "{first} then {second}");
        });
        let c1 = c.clone();
        spawn(move || c1.inc()).join().unwrap();
        let c2 = c.clone();
        spawn(move || c2.inc_by(2)).join().unwrap();
        scraper.join().unwrap();
        assert_eq!(counter(&r.snapshot(), "c_total"), 3);
        // The second recorder got the first one's recycled slot (and its count).
        assert_eq!(r.shard_count(), 1);
    });
}

/// (d) A gauge raised on one thread and lowered on another (which learned of the job from the
/// first) while a scrape runs: an in-flight gauge is never read negative.
#[test]
fn d_in_flight_gauge_is_never_negative() {
    loom::model(|| {
        let r = Registry::new();
        let g = r.gauge("in_flight", "g").unwrap();
        let ga = g.clone();
        let raiser = spawn(move || {
            ga.inc();
            // The job is handed to another thread, which finishes it.
            let gb = ga.clone();
            spawn(move || gb.dec()).join().unwrap();
        });
        for _ in 0..2 {
            match series(&r.snapshot(), "in_flight").as_slice() {
                [(_, SampleValue::Gauge(v))] => assert!((0..=1).contains(v), "read {v}"),
                other => panic!("unexpected series {other:?}"),
            }
        }
        raiser.join().unwrap();
        assert_eq!(g.get(), 0);
    });
}

/// (e) A new labelled series is created (growing the recording thread's shard by a new storage
/// segment) while another thread scrapes the family: every scrape shows a prefix of the series in
/// creation order with values that only grow, and the final scrape is exact.
#[test]
fn e_new_series_and_shard_growth_while_scraping() {
    loom::model(|| {
        let r = Registry::new();
        let f = r.counter_family("f_total", "f", &["k"]).unwrap();
        // Pre-create series so that "x" falls in a later storage segment than "a" (loom builds use
        // 2-cell first segments): cells 0 and 1 are reserved/overflow, 2 is the overflow counter.
        for k in ["a", "b", "c"] {
            f.with_label_values(&[k]);
        }
        let (fa, ra) = (f.clone(), r.clone());
        let recorder = spawn(move || {
            fa.with_label_values(&["a"]).inc();
            let before = ra.shard_bytes();
            fa.with_label_values(&["x"]).inc();
            assert!(
                ra.shard_bytes() > before,
                "recording into x allocated a segment"
            );
        });
        // The main thread scrapes twice while the recorder runs.
        let first = series(&r.snapshot(), "f_total");
        let second = series(&r.snapshot(), "f_total");
        for s in [&first, &second] {
            let keys: Vec<&str> = s.iter().map(|(k, _)| k[0].as_str()).collect();
            assert!(
                keys == ["a", "b", "c"] || keys == ["a", "b", "c", "x"],
                "{keys:?}"
            );
        }
        for ((k1, v1), (k2, v2)) in first.iter().zip(&second) {
            assert_eq!(k1, k2);
            match (v1, v2) {
                (SampleValue::Counter(x), SampleValue::Counter(y)) => assert!(x <= y),
                other => panic!("{other:?}"),
            }
        }
        recorder.join().unwrap();
        let end = series(&r.snapshot(), "f_total");
        let values: Vec<(&str, u64)> = end
            .iter()
            .map(|(k, v)| match v {
                SampleValue::Counter(v) => (k[0].as_str(), *v),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(values, vec![("a", 1), ("b", 0), ("c", 0), ("x", 1)]);
    });
}
