//! An append-only list that scrapes read without a lock.
//!
//! A family's series are created under the family's mutex (by the record path, on a label set's
//! first use) and read by every scrape. If the scrape took that mutex, a `with_label_values` call
//! with new label values (for instance past the series cap) would wait for the whole merge. So the
//! list is published instead: a pusher (serialised by the caller's lock) writes the entry, then
//! stores the new length with `Release`; a reader loads the length with `Acquire` and reads that
//! prefix. Entries are boxed, never moved and never freed before the list is dropped.

use crate::sync::{owner_load_ptr, owner_load_usize, AtomicPtr, AtomicUsize, InitMarker, Ordering};
use std::ptr;

/// log2 of the entries in the first segment; segment `k` holds `FIRST << k` entries.
#[cfg(not(dcc_mcp_loom))]
const FIRST_SHIFT: u32 = 3;
#[cfg(dcc_mcp_loom)]
const FIRST_SHIFT: u32 = 0;

/// Number of segments: room for `FIRST * (2^SEGMENTS - 1)` entries.
#[cfg(not(dcc_mcp_loom))]
const SEGMENTS: usize = 29;
#[cfg(dcc_mcp_loom)]
const SEGMENTS: usize = 4;

const FIRST: usize = 1 << FIRST_SHIFT;

/// The ordering that publishes the new length.
#[cfg(not(dcc_mcp_loom_mutant = "relaxed_series_len"))]
const PUBLISH_LEN: Ordering = Ordering::Release;
// Mutant: the length is published with `Relaxed`.
#[cfg(dcc_mcp_loom_mutant = "relaxed_series_len")]
const PUBLISH_LEN: Ordering = Ordering::Relaxed;

struct Entry<T> {
    value: T,
    /// Checks (under loom) that the entry's construction happens-before a reader's access.
    init: InitMarker,
}

/// Segment and offset of entry `i`.
fn locate(i: usize) -> (usize, usize) {
    let j = i + FIRST;
    let seg = (usize::BITS - 1 - j.leading_zeros() - FIRST_SHIFT) as usize;
    (seg, j - (FIRST << seg))
}

/// See the module docs.
pub(crate) struct AppendList<T> {
    segments: [AtomicPtr<AtomicPtr<Entry<T>>>; SEGMENTS],
    len: AtomicUsize,
}

// SAFETY: entries are shared (`&T`) with any thread through `iter`, which needs `T: Sync`, and
// dropped by whichever thread drops the list, which needs `T: Send`.
unsafe impl<T: Send + Sync> Sync for AppendList<T> {}
// SAFETY: as above; the list owns its entries.
unsafe impl<T: Send + Sync> Send for AppendList<T> {}

impl<T> AppendList<T> {
    pub(crate) fn new() -> Self {
        AppendList {
            segments: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            len: AtomicUsize::new(0),
        }
    }

    /// Appends `value`. The caller serialises pushes (holds a lock around every `push`), so the
    /// length has a single writer at a time and the lock orders consecutive pushers.
    /// Returns `false` (dropping `value`) when the list is full.
    pub(crate) fn push(&self, value: T) -> bool {
        // The pusher is the only writer of `len` and of the segment pointers (pushes are
        // serialised by the caller's lock, which also orders them after earlier pushes).
        let i = owner_load_usize(&self.len);
        let (seg, off) = locate(i);
        if seg >= SEGMENTS {
            return false;
        }
        let mut s = owner_load_ptr(&self.segments[seg]);
        if s.is_null() {
            let fresh: Box<[AtomicPtr<Entry<T>>]> = (0..FIRST << seg)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect();
            s = Box::into_raw(fresh) as *mut AtomicPtr<Entry<T>>;
            self.segments[seg].store(s, Ordering::Release);
        }
        let entry = Box::new(Entry {
            value,
            init: InitMarker::default(),
        });
        entry.init.initialised();
        // SAFETY: `s` is segment `seg`, `FIRST << seg` entries, `off < FIRST << seg`; segments
        // are freed only by `drop` (`&mut self`).
        let slot = unsafe { &*s.add(off) };
        // Relaxed: readers find the entry through the length, which is published after it.
        slot.store(Box::into_raw(entry), Ordering::Relaxed);
        self.len.store(i + 1, PUBLISH_LEN);
        true
    }

    /// The entries published so far, in push order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let n = self.len.load(Ordering::Acquire);
        (0..n)
            .map_while(move |i| {
                let (seg, off) = locate(i);
                let s = self.segments[seg].load(Ordering::Acquire);
                if s.is_null() {
                    return None;
                }
                // SAFETY: as in `push`; the Acquire load pairs with the Release store of `s`.
                let e = unsafe { &*s.add(off) }.load(Ordering::Relaxed);
                // SAFETY: non-null entries come from `Box::into_raw` in `push` and live until
                // `drop`; the Acquire load of `len` pairs with the Release store that followed
                // the entry's construction.
                (!e.is_null()).then(|| unsafe { &*e })
            })
            .map(|e| {
                e.init.observed();
                &e.value
            })
    }
}

impl<T> Drop for AppendList<T> {
    fn drop(&mut self) {
        for (k, seg) in self.segments.iter().enumerate() {
            let s = seg.load(Ordering::Acquire);
            if s.is_null() {
                continue;
            }
            // SAFETY: `s` came from `Box::<[_]>::into_raw` of `FIRST << k` pointers in `push`,
            // and `&mut self` proves no reference handed out by `iter` is alive.
            let entries = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(s, FIRST << k)) };
            for e in entries.iter() {
                let e = e.load(Ordering::Acquire);
                if !e.is_null() {
                    // SAFETY: `e` came from `Box::into_raw` in `push`.
                    drop(unsafe { Box::from_raw(e) });
                }
            }
        }
    }
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_in_push_order_across_segments() {
        let list = AppendList::new();
        for i in 0..100 {
            assert!(list.push(i.to_string()));
        }
        let got: Vec<&String> = list.iter().collect();
        assert_eq!(got.len(), 100);
        assert!(got.iter().enumerate().all(|(i, s)| **s == i.to_string()));
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(7), (0, 7));
        assert_eq!(locate(8), (1, 0));
        assert_eq!(locate(24), (2, 0));
    }
}
