//! Loom models of the engine's recording and merge code (the real code, through the `sync` shim).
//!
//! Every model spawns at most three threads. Scrapes go through the public `Registry::snapshot`,
//! recording through the public handles, thread exit through `loom_thread_exit` (the modelled
//! thread-exit destructor), so what is checked is exactly what normal builds run. Each planted
//! fault of `scripts/loom_mutants.sh` is caught by the model named in `docs/architecture.md`.
#![cfg(dcc_mcp_loom)]
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{
    FamilySnapshot, HistogramOptions, HistogramSnapshot, NativeHistogram, Registry, SampleValue,
    TraceId, OVERFLOW_LABEL_VALUE, OVERFLOW_METRIC_NAME,
};
use loom::thread::{self, JoinHandle};

/// `loom::thread::spawn`, ending the thread the way a real thread ends: its engine id returns to
/// the pool (see `dcc_mcp_telemetry::loom_thread_exit`).
fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
    thread::spawn(move || {
        let out = f();
        dcc_mcp_telemetry::loom_thread_exit();
        out
    })
}

/// `loom::model` with the model's own preemption bound (the table in `loom-tests/README.md` says
/// why each), lowered to `LOOM_MAX_PREEMPTIONS` when that is set lower.
fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(b.preemption_bound.map_or(bound, |env| env.min(bound)));
    b.check(f);
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

/// Counter values of a labelled family, by label values.
fn counters(snap: &[FamilySnapshot], name: &str) -> Vec<(Vec<String>, u64)> {
    series(snap, name)
        .into_iter()
        .map(|(k, v)| match v {
            SampleValue::Counter(v) => (k, v),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn histogram(snap: &[FamilySnapshot], name: &str) -> HistogramSnapshot {
    match series(snap, name).as_slice() {
        [(_, SampleValue::Histogram(h))] => h.clone(),
        other => panic!("unexpected series {other:?}"),
    }
}

/// The per-bucket (non-cumulative) counts a histogram snapshot was built from, `+Inf` last, read
/// back from its cumulative buckets; checks the buckets are cumulative and `+Inf == _count`.
fn raw_buckets(h: &HistogramSnapshot) -> Vec<u64> {
    let (bound, inf) = *h.buckets.last().unwrap();
    assert_eq!(bound, f64::INFINITY);
    assert_eq!(inf, h.count, "+Inf != _count in {h:?}");
    let mut prev = 0;
    h.buckets
        .iter()
        .map(|&(_, c)| {
            assert!(c >= prev, "not cumulative: {h:?}");
            let raw = c - prev;
            prev = c;
            raw
        })
        .collect()
}

/// (a) Two threads increment a counter while the main thread scrapes twice: every scrape lies
/// between the totals before and after, scrapes never go backwards, and the final one is exact.
#[test]
fn a_counter_scrapes_are_bounded_monotonic_and_exact() {
    model(2, || {
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

/// (b) A histogram observed twice (once per bucket) on one thread while the main thread scrapes
/// twice. Checked per scrape on the per-bucket counts read back from the exposition: `_sum` is
/// exactly what those buckets hold (each observation wholly in or out: mutant `sum_without_seq`),
/// `+Inf == _count` (mutant `count_reread`); each bucket's count, `_count` and `_sum` never go
/// backwards from one scrape to the next and never exceed the final totals; the final scrape is
/// exact. (Merging several shards is
/// model (a)'s subject.)
#[test]
fn b_histogram_buckets_count_and_sum_across_two_scrapes() {
    model(3, || {
        let r = Registry::new();
        let h = r.histogram("h", "h", &[1.0]).unwrap();
        let h1 = h.clone();
        let recorder = spawn(move || {
            h1.observe(2.0);
            h1.observe(0.5);
        });
        let s1 = histogram(&r.snapshot(), "h");
        let s2 = histogram(&r.snapshot(), "h");
        let (r1, r2) = (raw_buckets(&s1), raw_buckets(&s2));
        for (b, (x, y)) in r1.iter().zip(&r2).enumerate() {
            assert!(x <= y && *y <= 1, "bucket {b}: {x} then {y}");
        }
        assert!(s1.count <= s2.count, "{s1:?} then {s2:?}");
        assert!(s1.sum <= s2.sum, "{s1:?} then {s2:?}");
        for (s, raw) in [(&s1, &r1), (&s2, &r2)] {
            // Each observation wholly in or out: the sum is what the buckets hold (0.5 in
            // `le=1`, 2.0 in `+Inf`), so the read states are exactly the recorder's states.
            assert_eq!(s.sum, raw[0] as f64 * 0.5 + raw[1] as f64 * 2.0, "{s:?}");
            assert!([0.0, 2.0, 2.5].contains(&s.sum), "{s:?}");
        }
        recorder.join().unwrap();
        let end = histogram(&r.snapshot(), "h");
        assert_eq!(raw_buckets(&end), [1, 1]);
        assert_eq!(end.buckets, vec![(1.0, 1), (f64::INFINITY, 2)]);
        assert_eq!((end.count, end.sum), (2, 2.5));
    });
}

/// (c) Unjoined handoff: a recording thread exits while a second one, not ordered after it by any
/// join, starts recording, so the second may take the first's engine id (and shard) or a fresh
/// one; the main thread scrapes meanwhile. Only the id pool's lock orders the dead owner's
/// writes before the new owner's. Nothing is lost or counted twice, scrapes never go backwards.
#[test]
fn c_unjoined_handoff_of_a_shard_slot() {
    model(2, || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let (c1, c2) = (c.clone(), c.clone());
        let first = spawn(move || c1.inc());
        let second = spawn(move || c2.inc_by(2));
        let s1 = counter(&r.snapshot(), "c_total");
        let s2 = counter(&r.snapshot(), "c_total");
        assert!(s1 <= s2 && [0, 1, 2, 3].contains(&s2), "{s1} then {s2}");
        first.join().unwrap();
        second.join().unwrap();
        assert_eq!(counter(&r.snapshot(), "c_total"), 3);
        assert!((1..=2).contains(&r.shard_count()));
    });
}

/// (d) Two jobs in flight at once while the main thread scrapes twice: one is raised on a thread
/// and lowered on another that it hands the job to, the other is raised and lowered on a third. Every scrape reads a value between 0 and 2 (never negative, no
/// update lost or counted twice), and once both jobs are done the gauge is exactly 0. A gauge
/// updated by a load and a store (mutant `gauge_load_store`) loses one thread's update when the
/// two interleave, so the final value (or a scrape) is off.
#[test]
fn d_in_flight_gauge_two_jobs_at_once() {
    model(4, || {
        let r = Registry::new();
        let g = r.gauge("in_flight", "g").unwrap();
        let (ga, gc) = (g.clone(), g.clone());
        let handed_off = spawn(move || {
            ga.inc();
            let gb = ga.clone();
            spawn(move || gb.dec()).join().unwrap();
        });
        let local = spawn(move || {
            gc.inc();
            gc.dec();
        });
        for _ in 0..2 {
            match series(&r.snapshot(), "in_flight").as_slice() {
                [(_, SampleValue::Gauge(v))] => assert!((0..=2).contains(v), "read {v}"),
                other => panic!("unexpected series {other:?}"),
            }
        }
        handed_off.join().unwrap();
        local.join().unwrap();
        assert_eq!(g.get(), 0);
    });
}

/// (e) A new labelled series is created (published to scrapes through the family's lock-free
/// series list, and growing the recording thread's shard by a chunk) while the main thread scrapes
/// the family: every scrape shows a prefix of the series in creation order with values that only
/// grow, and the final scrape is exact.
#[test]
fn e_new_series_and_shard_growth_while_scraping() {
    model(3, || {
        let r = Registry::new();
        let f = r.counter_family("f_total", "f", &["k"]).unwrap();
        // Pre-create series so that "x" falls in a later chunk than "a" (loom builds use 4-cell
        // chunks): cell 0 is the registry's, 1-2 the family's overflow series and overflow
        // counter, 3-5 a, b, c, so a is in the first chunk and x (cell 6) in the second.
        for k in ["a", "b", "c"] {
            f.with_label_values(&[k]);
        }
        let fa = f.clone();
        let recorder = spawn(move || {
            fa.with_label_values(&["a"]).inc();
            fa.with_label_values(&["x"]).inc();
        });
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
        let end: Vec<(Vec<String>, u64)> = counters(&r.snapshot(), "f_total");
        let end: Vec<(&str, u64)> = end.iter().map(|(k, v)| (k[0].as_str(), *v)).collect();
        assert_eq!(end, vec![("a", 1), ("b", 0), ("c", 0), ("x", 1)]);
    });
}

/// (f) Two scrapers at once (a spawned thread and the main thread), each scraping twice, while
/// one thread records: each scraper's view never goes backwards and stays within the totals, and
/// the final scrape is exact. (Scrapes share no state but the families list's lock; the model
/// keeps it that way.)
#[test]
fn f_two_scrapers_at_once() {
    model(3, || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let recorder = spawn(move || c.inc_by(2));
        let scrape_twice = |r: &Registry| {
            let a = counter(&r.snapshot(), "c_total");
            let b = counter(&r.snapshot(), "c_total");
            assert!(a <= b && (b == 0 || b == 2), "{a} then {b}");
        };
        let r2 = r.clone();
        let scraper = spawn(move || scrape_twice(&r2));
        scrape_twice(&r);
        recorder.join().unwrap();
        scraper.join().unwrap();
        assert_eq!(counter(&r.snapshot(), "c_total"), 2);
    });
}

/// (g) Thread exit racing a new owner that grows the inherited shard during a scrape: the first
/// thread records into one chunk and exits; a second, unjoined thread records into a series whose
/// chunk no shard has yet, so whichever shard it gets (the first's, handed over, or a fresh one)
/// grows while the main thread scrapes twice. Every scrape is bounded and monotonic per series;
/// the final one is exact.
#[test]
fn g_thread_exit_racing_a_new_owner_that_grows_the_shard() {
    model(1, || {
        let r = Registry::new();
        // Loom chunks are 4 cells. Cells: 0 the registry's, 1-2 early's overflow and sole
        // series, 3-4 late's: early is in the first chunk, late in the second.
        let early = r.counter("early_total", "e").unwrap();
        let late = r.counter("late_total", "l").unwrap();
        let first = spawn(move || early.inc());
        let second = spawn(move || late.inc());
        let s1 = r.snapshot();
        let s2 = r.snapshot();
        for name in ["early_total", "late_total"] {
            let (x, y) = (counter(&s1, name), counter(&s2, name));
            assert!(x <= y && y <= 1, "{name}: {x} then {y}");
        }
        first.join().unwrap();
        second.join().unwrap();
        let end = r.snapshot();
        assert_eq!(counter(&end, "early_total"), 1);
        assert_eq!(counter(&end, "late_total"), 1);
    });
}

/// (h) The overflow path: a family capped at 1 series gets two label sets and one that carries
/// the overflow marker, from two threads, while the main thread scrapes. No scrape ever shows two
/// series with the same label values (the marker is reserved for the overflow series); the
/// overflow counter counts exactly the calls answered with the overflow series.
#[test]
fn h_overflow_path_and_reserved_marker() {
    model(2, || {
        let r = Registry::new();
        let f = r
            .counter_family_with_cap("f_total", "f", &["k"], 1)
            .unwrap();
        let (f1, f2) = (f.clone(), f.clone());
        let t1 = spawn(move || {
            f1.with_label_values(&[OVERFLOW_LABEL_VALUE]).inc();
            f1.with_label_values(&["a"]).inc();
        });
        let t2 = spawn(move || f2.with_label_values(&["b"]).inc());
        let unique = |snap: &[FamilySnapshot]| {
            let s = counters(snap, "f_total");
            for (i, (k, _)) in s.iter().enumerate() {
                assert!(
                    s[..i].iter().all(|(k2, _)| k2 != k),
                    "duplicate series {k:?} in {s:?}"
                );
            }
        };
        unique(&r.snapshot());
        t1.join().unwrap();
        t2.join().unwrap();
        let end = r.snapshot();
        unique(&end);
        let s = counters(&end, "f_total");
        // One real series (the first of a and b to arrive), then the overflow series with the
        // marker call and the other letter.
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].0[0] != OVERFLOW_LABEL_VALUE && s[0].1 == 1, "{s:?}");
        assert_eq!(s[1], (vec![OVERFLOW_LABEL_VALUE.to_owned()], 2));
        assert_eq!(
            counters(&end, OVERFLOW_METRIC_NAME),
            vec![(vec!["f_total".to_owned()], 2)]
        );
    });
}

/// (i) Recording after the thread has left the engine (a thread-local destructor running after
/// the engine's exit guard): two threads each record, exit, and record again, so their late
/// records meet in the shared orphan shard while the main thread scrapes. Nothing is lost, and
/// scrapes never go backwards.
#[test]
fn i_late_records_after_thread_exit_meet_in_the_orphan_shard() {
    model(1, || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let recorders: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                thread::spawn(move || {
                    c.inc();
                    dcc_mcp_telemetry::loom_thread_exit();
                    c.inc();
                })
            })
            .collect();
        let s1 = counter(&r.snapshot(), "c_total");
        let s2 = counter(&r.snapshot(), "c_total");
        assert!(s1 <= s2 && s2 <= 4, "{s1} then {s2}");
        for t in recorders {
            t.join().unwrap();
        }
        assert_eq!(counter(&r.snapshot(), "c_total"), 4);
    });
}

/// (j) Retiring an inherited shard while the main thread scrapes: the first thread records into
/// one series and exits (joined), so the second thread takes its engine id and, on its first
/// record, moves the first's value into the registry's retired accumulator and releases the
/// storage for reuse (recording into another series, which reuses the released chunk). Every
/// scrape counts the moved value exactly once (never 0 or 2), the other series is bounded and
/// monotonic, and the final scrape is exact. Mutant `retire_unsequenced` (the move without the
/// retire sequence) lets a scrape read the value in both places or in neither.
#[test]
fn j_retiring_an_inherited_shard_counts_each_value_once() {
    model(2, || {
        let r = Registry::new();
        let early = r.counter("early_total", "e").unwrap();
        let late = r.counter("late_total", "l").unwrap();
        spawn(move || early.inc()).join().unwrap();
        let heir = spawn(move || late.inc());
        let s1 = r.snapshot();
        let s2 = r.snapshot();
        for s in [&s1, &s2] {
            assert_eq!(counter(s, "early_total"), 1, "retired value miscounted");
        }
        let (x, y) = (counter(&s1, "late_total"), counter(&s2, "late_total"));
        assert!(x <= y && y <= 1, "late_total: {x} then {y}");
        heir.join().unwrap();
        let end = r.snapshot();
        assert_eq!(counter(&end, "early_total"), 1);
        assert_eq!(counter(&end, "late_total"), 1);
        assert_eq!(r.shard_count(), 1);
    });
}

/// (k) Exemplars and native buckets in the series' sequence window: a thread records two traced
/// observations into one bucket (the second exemplar overwrites the first, its four cells lying in
/// another chunk than the bucket at loom's 4-cell chunks) while the main thread scrapes twice.
/// Every scrape reads one of the recorder's three states whole: no observation and no exemplar,
/// or the count, sum and native bucket of one (two) observations with exactly that observation's
/// trace id and value, never one call's trace id with another's value or a count the exemplar
/// does not belong to (mutant `exemplar_outside_window`).
#[test]
fn k_exemplar_and_native_cells_are_read_whole() {
    model(1, || {
        let r = Registry::new();
        let opts = HistogramOptions {
            exemplars: true,
            ..HistogramOptions::default()
        };
        let h = r
            .histogram_family_with_options("h", "h", &[], &[1.0], &opts)
            .unwrap()
            .with_label_values(&[]);
        let (a, b) = (TraceId([0xa1; 16]), TraceId([0xb2; 16]));
        let h1 = h.clone();
        let recorder = spawn(move || {
            h1.observe_with_exemplar(0.5, Some(a));
            h1.observe_with_exemplar(0.25, Some(b));
        });
        let mut last = 0;
        for _ in 0..2 {
            let s = histogram(&r.snapshot(), "h");
            let ex = s.exemplars[0].map(|e| (e.trace_id, e.value));
            match s.count {
                0 => assert_eq!((s.sum, ex), (0.0, None), "{s:?}"),
                1 => assert_eq!((s.sum, ex), (0.5, Some((a, 0.5))), "{s:?}"),
                2 => assert_eq!((s.sum, ex), (0.75, Some((b, 0.25))), "{s:?}"),
                _ => panic!("{s:?}"),
            }
            assert_eq!(s.exemplars[1], None, "{s:?}");
            assert!(s.count >= last, "{s:?}");
            last = s.count;
        }
        recorder.join().unwrap();
        let end = histogram(&r.snapshot(), "h");
        assert_eq!(end.count, 2);
    });
}

/// (k') Native buckets: the native block's cells are counted in the same window, so every scrape's
/// native buckets add up to its `_count`.
#[test]
fn k_native_buckets_add_up_to_the_count() {
    model(2, || {
        let r = Registry::new();
        let opts = HistogramOptions {
            native: Some(NativeHistogram {
                schema: 0,
                zero_threshold: 0.5,
                max_value: 2.0,
                max_buckets: 4,
            }),
            ..HistogramOptions::default()
        };
        let h = r
            .histogram_family_with_options("n", "n", &[], &[1.0], &opts)
            .unwrap()
            .with_label_values(&[]);
        let h1 = h.clone();
        let recorder = spawn(move || {
            h1.observe(0.75);
            h1.observe(2.0);
        });
        for _ in 0..2 {
            let s = histogram(&r.snapshot(), "n");
            let n = s.native.clone().unwrap();
            let total: u64 = n.zero_count + n.positive.iter().map(|(_, c)| c).sum::<u64>();
            assert_eq!(total, s.count, "{s:?}");
        }
        recorder.join().unwrap();
        let n = histogram(&r.snapshot(), "n").native.unwrap();
        assert_eq!(n.positive, [(0, 1), (1, 1)]);
    });
}
