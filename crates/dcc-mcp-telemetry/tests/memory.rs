//! Memory in proportion to use, and the documented bound on the number of shards. One test
//! function, alone in its test binary: engine thread ids are process-wide, so threads of other
//! tests would hold ids and change the shard counts.
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::Registry;
use std::sync::{mpsc, Barrier};
use std::thread;

/// A thread's shard: a leaf (1 KiB) and a 512-byte chunk per 64-cell region it records into.
const LEAF: usize = 1024;
const CHUNK: usize = 512;
/// Registry size and threads, scaled down under Miri (which interprets every operation).
const SERIES: usize = if cfg!(miri) { 300 } else { 20_000 };
const THREADS: usize = if cfg!(miri) { 4 } else { 32 };

#[test]
fn shards_commit_what_their_thread_records_and_are_bounded_by_live_threads() {
    // 20,000 counter series; 32 threads alive at once each record only the last series.
    let r = Registry::new();
    let f = r
        .counter_family_with_cap("wide_total", "Wide.", &["i"], SERIES)
        .unwrap();
    let handles: Vec<_> = (0..SERIES)
        .map(|i| f.with_label_values(&[&i.to_string()]))
        .collect();
    let last = handles.last().unwrap().clone();
    let all_recorded = Barrier::new(THREADS);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                last.inc();
                all_recorded.wait();
            });
        }
    });
    assert_eq!(last.get(), THREADS as u64);
    assert_eq!(r.shard_count(), THREADS);
    // Each shard holds one leaf and one chunk, whatever the registry's size.
    assert_eq!(r.shard_bytes(), THREADS * (LEAF + CHUNK));

    // Every series recorded by one thread: 8 bytes per cell, 64 cells per chunk, 8192 per leaf.
    let r2 = Registry::new();
    let f2 = r2
        .counter_family_with_cap("all_total", "All.", &["i"], SERIES)
        .unwrap();
    let all: Vec<_> = (0..SERIES)
        .map(|i| f2.with_label_values(&[&i.to_string()]))
        .collect();
    thread::spawn(move || all.iter().for_each(|c| c.inc()))
        .join()
        .unwrap();
    // Cells 0..20003 (three registry cells first): 313 chunks in 3 leaves.
    let cells = SERIES + 3;
    assert_eq!(
        r2.shard_bytes(),
        cells.div_ceil(8192) * LEAF + cells.div_ceil(64) * CHUNK
    );

    // Shard count: 8 waves of one thread each, never overlapping, while another thread holds an
    // engine id (it recorded into a different registry and is still alive): registry A gets at
    // most 2 shards, the peak number of threads alive at once that held an engine id.
    let other = Registry::new();
    let oc = other.counter("other_total", "Other.").unwrap();
    let (hold_tx, hold_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        oc.inc();
        ready_tx.send(()).unwrap();
        let _ = hold_rx.recv();
    });
    ready_rx.recv().unwrap();
    let a = Registry::new();
    let ac = a.counter("waves_total", "Waves.").unwrap();
    for _ in 0..8 {
        let ac = ac.clone();
        thread::spawn(move || ac.inc()).join().unwrap();
    }
    assert_eq!(ac.get(), 8);
    assert_eq!(a.shard_count(), 1);
    drop(hold_tx);
    holder.join().unwrap();
}
