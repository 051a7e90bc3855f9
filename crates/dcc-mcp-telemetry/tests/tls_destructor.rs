//! Recording from thread-local destructors: a drop guard in plug-in code (an in-flight gauge, a
//! duration timer) may record while its thread's thread-local storage is being torn down, before
//! or after the engine's own exit guard has run. Every such record is counted and the process
//! never aborts. (The `thread_local` crate the engine used before aborted here: its `get_or`
//! panics inside thread-local destructors once its thread-id guard is gone, and a panic in a
//! thread-local destructor aborts the process.)
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{Counter, Histogram, HistogramFamily, Registry, SampleValue};
use std::cell::RefCell;

/// Records once when dropped.
struct RecordOnDrop {
    counter: Counter,
    histogram: Histogram,
    family: HistogramFamily,
}

impl Drop for RecordOnDrop {
    fn drop(&mut self) {
        self.counter.inc();
        self.histogram.observe(0.5);
        self.family.with_label_values(&["late"]).observe(2.0);
    }
}

thread_local! {
    static GUARD: RefCell<Option<RecordOnDrop>> = const { RefCell::new(None) };
}

fn fixture() -> (Registry, RecordOnDrop) {
    let r = Registry::new();
    let guard = RecordOnDrop {
        counter: r.counter("late_total", "Late.").unwrap(),
        histogram: r.histogram("late_seconds", "Late.", &[1.0]).unwrap(),
        family: r
            .histogram_family("late_by_kind_seconds", "Late.", &["kind"], &[1.0])
            .unwrap(),
    };
    (r, guard)
}

fn check(r: &Registry, threads: u64, records_each: u64) {
    let n = threads * records_each;
    let snap = r.snapshot();
    let get = |name: &str| snap.iter().find(|f| f.name == name).unwrap().clone();
    assert_eq!(
        get("late_total").series[0].value,
        SampleValue::Counter(n),
        "counter"
    );
    match &get("late_seconds").series[0].value {
        SampleValue::Histogram(h) => {
            assert_eq!(h.count, n);
            assert_eq!(h.buckets[0], (1.0, n));
            assert_eq!(h.sum, 0.5 * n as f64);
        }
        other => panic!("{other:?}"),
    }
    let fam = get("late_by_kind_seconds");
    assert_eq!(fam.series.len(), 1, "{fam:?}");
    assert_eq!(fam.series[0].label_values, ["late"]);
    match &fam.series[0].value {
        SampleValue::Histogram(h) => assert_eq!((h.count, h.sum), (n, 2.0 * n as f64)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn destructor_registered_before_the_first_record_is_counted() {
    // The guard's thread-local is set up before the thread's first metric use, so its destructor
    // runs after the engine's exit guard: the records go to the shared orphan shard.
    let (r, guard) = fixture();
    let threads = 4;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let guard = RecordOnDrop {
                counter: guard.counter.clone(),
                histogram: guard.histogram.clone(),
                family: guard.family.clone(),
            };
            std::thread::spawn(move || {
                let (c, h, f) = (
                    guard.counter.clone(),
                    guard.histogram.clone(),
                    guard.family.clone(),
                );
                GUARD.with(|g| *g.borrow_mut() = Some(guard));
                c.inc();
                h.observe(0.5);
                f.with_label_values(&["late"]).observe(2.0);
            })
        })
        .collect();
    for t in handles {
        t.join().unwrap();
    }
    check(&r, threads, 2);
}

#[test]
fn destructor_that_is_the_first_record_is_counted() {
    let (r, guard) = fixture();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let guard = RecordOnDrop {
                counter: guard.counter.clone(),
                histogram: guard.histogram.clone(),
                family: guard.family.clone(),
            };
            std::thread::spawn(move || GUARD.with(|g| *g.borrow_mut() = Some(guard)))
        })
        .collect();
    for t in handles {
        t.join().unwrap();
    }
    check(&r, 3, 1);
}
