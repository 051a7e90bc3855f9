//! The one place that names atomics, locks, per-thread slots and loom.
//!
//! Every other module imports its synchronisation primitives from here, so a build with
//! `RUSTFLAGS="--cfg dcc_mcp_loom"` swaps the whole engine onto loom's model-checked primitives
//! while the recording and merge code under test stays the real code.
//!
//! [`ThreadSlots`] is the per-thread shard registry. In normal builds it is
//! `thread_local::ThreadLocal`, whose slots outlive their thread: when a thread exits, its id is
//! recycled and the next thread to start receives the same slot with the value left in it, so
//! nothing recorded is lost and the number of slots is bounded by the largest number of threads
//! alive at the same time. `ThreadLocal` is built on std atomics, which loom cannot see, so under
//! `cfg(dcc_mcp_loom)` a small loom-visible implementation with the same contract (recycled ids,
//! values kept, a mutex ordering a dead owner's writes before the next owner's) replaces it.

pub(crate) use crossbeam_utils::CachePadded;

#[cfg(not(dcc_mcp_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, Ordering};
#[cfg(not(dcc_mcp_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(dcc_mcp_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, Ordering};
#[cfg(dcc_mcp_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

/// log2 of the number of cells in a shard's first storage segment; segment `k` holds
/// `FIRST_SEGMENT << k` cells. Loom builds use tiny segments so that the models exercise growth.
#[cfg(not(dcc_mcp_loom))]
pub(crate) const FIRST_SEGMENT_SHIFT: u32 = 6;
#[cfg(dcc_mcp_loom)]
pub(crate) const FIRST_SEGMENT_SHIFT: u32 = 1;

/// Number of segments per shard: the capacity is `FIRST_SEGMENT * (2^SEGMENTS - 1)` cells.
#[cfg(not(dcc_mcp_loom))]
pub(crate) const SEGMENTS: usize = 26;
#[cfg(dcc_mcp_loom)]
pub(crate) const SEGMENTS: usize = 4;

/// Cells per cache line of segment storage (a line is 128 bytes, `crossbeam_utils::CachePadded`'s alignment on
/// x86-64). Loom atomics are larger than 8 bytes, so loom builds put fewer cells in a line.
#[cfg(not(dcc_mcp_loom))]
pub(crate) const LINE_CELLS: usize = 16;
#[cfg(dcc_mcp_loom)]
pub(crate) const LINE_CELLS: usize = 2;

/// The owner's read of a cell that only the owner writes (its own shard's cells and segment
/// pointers, its own slot). A Relaxed load in normal builds: the owner's earlier stores are in
/// program order, and a previous owner's stores happen-before via the slot-id handoff.
///
/// Under loom it is `unsync_load`, which asserts exactly that single-writer property (loom panics
/// if any store to the cell does not happen-before this read), and is invisible to loom's DPOR.
/// The latter matters: loom 0.7 remembers only the last access per object and treats loads as
/// independent of loads, so with an ordinary load the owner's own *load, then store* hides a
/// scraper's earlier load and loom never schedules the scrape after the store (a two-thread probe,
/// `a.load()` against `a.load(); a.store(1)`, runs one execution). With `unsync_load` the owner's
/// store races with the scraper's load in loom's eyes, and both orders are explored.
#[cfg(not(dcc_mcp_loom))]
#[inline(always)]
pub(crate) fn owner_load_u64(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}
#[cfg(dcc_mcp_loom)]
pub(crate) fn owner_load_u64(a: &AtomicU64) -> u64 {
    // SAFETY: `unsync_load` requires that no store races with this read; the caller owns the
    // cell (single writer), and loom checks that claim on every execution.
    unsafe { a.unsync_load() }
}

/// The owner's read of a pointer only the owner writes; see [`owner_load_u64`].
#[cfg(not(dcc_mcp_loom))]
#[inline(always)]
pub(crate) fn owner_load_ptr<T>(p: &AtomicPtr<T>) -> *mut T {
    p.load(Ordering::Relaxed)
}
#[cfg(dcc_mcp_loom)]
pub(crate) fn owner_load_ptr<T>(p: &AtomicPtr<T>) -> *mut T {
    // SAFETY: as in `owner_load_u64`: single writer, checked by loom.
    unsafe { p.unsync_load() }
}

/// Marks the initialisation of memory that one thread publishes to others through an atomic
/// pointer (a shard's storage segment). Zero-sized and free in normal builds.
///
/// Loom treats its atomics as initialised from birth, so it cannot see a segment whose pointer
/// was published with too weak an ordering. Under loom the marker is a `loom::cell::UnsafeCell`:
/// the owner writes it when it initialises the segment and a scraper reads it before reading the
/// segment's cells, so loom fails the model unless the initialisation happens-before the read.
#[derive(Default)]
pub(crate) struct InitMarker {
    #[cfg(dcc_mcp_loom)]
    cell: loom::cell::UnsafeCell<()>,
}

// SAFETY: the cell holds `()` and every access goes through loom's `with`/`with_mut`, which is
// the point: loom reports any pair of accesses not ordered by happens-before.
#[cfg(dcc_mcp_loom)]
unsafe impl Sync for InitMarker {}

impl InitMarker {
    /// The owner has initialised the memory (call before publishing the pointer).
    #[inline(always)]
    pub(crate) fn initialised(&self) {
        #[cfg(dcc_mcp_loom)]
        // SAFETY: the write is to `()`; loom checks it does not race with any `observed` read.
        self.cell.with_mut(|p| unsafe { *p = () });
    }

    /// Another thread is about to read the memory (call after loading the pointer).
    #[inline(always)]
    pub(crate) fn observed(&self) {
        #[cfg(dcc_mcp_loom)]
        self.cell.with(|_| ());
    }
}

/// Locks `m`, recovering the data if a previous holder panicked: every critical section in the
/// engine leaves its data consistent before it can panic (pushes happen last), so poisoning carries
/// no information here and must not turn into a panic on a request path.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Source of [`ThreadSlots`] ids: unique for the life of the process, never reused, so a cached
/// id can never name a different (later) slot set. Only uniqueness matters, no ordering.
static NEXT_SLOTS_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_slots_id() -> u64 {
    NEXT_SLOTS_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(not(dcc_mcp_loom))]
std::thread_local! {
    /// The calling thread's memo: `(slot set id, its slot)`, filled by `get_or_memo`. No
    /// destructor, so reading it is two plain thread-local loads.
    static LAST_SLOT: std::cell::Cell<(u64, *const ())> =
        const { std::cell::Cell::new((0, std::ptr::null())) };
    /// Clears `LAST_SLOT` when the thread's thread-local destructors run; see `get_or_memo`.
    static MEMO_GUARD: MemoGuard = const { MemoGuard };
}
#[cfg(dcc_mcp_loom)]
loom::thread_local! {
    static LAST_SLOT: std::cell::Cell<(u64, *const ())> = std::cell::Cell::new((0, std::ptr::null()));
    static MEMO_GUARD: MemoGuard = MemoGuard;
}

/// Empties the memo when its thread's thread-local destructors run.
struct MemoGuard;

impl Drop for MemoGuard {
    fn drop(&mut self) {
        let _ = LAST_SLOT.try_with(|c| c.set((0, std::ptr::null())));
    }
}

#[cfg(not(dcc_mcp_loom))]
mod slots {
    /// One `T` per live thread; see the module docs.
    pub(crate) struct ThreadSlots<T: Send>(thread_local::ThreadLocal<T>, u64);

    impl<T: Send> ThreadSlots<T> {
        /// An empty set of slots.
        pub(crate) fn new() -> Self {
            Self(thread_local::ThreadLocal::new(), super::next_slots_id())
        }

        /// This slot set's process-unique id.
        #[inline(always)]
        pub(crate) fn id(&self) -> u64 {
            self.1
        }

        /// The calling thread's slot, created by `create` on the thread's first access (or
        /// inherited, value and all, from an exited thread whose id was recycled).
        #[inline(always)]
        pub(crate) fn get_or(&self, create: impl FnOnce() -> T) -> &T {
            match self.0.get() {
                Some(v) => v,
                None => self.insert(create),
            }
        }

        /// First access from this thread id, out of line so the hot path keeps a small frame.
        #[cold]
        #[inline(never)]
        fn insert(&self, create: impl FnOnce() -> T) -> &T {
            self.0.get_or(create)
        }

        /// Every slot created so far, including those of exited threads.
        pub(crate) fn iter(&self) -> impl Iterator<Item = &T>
        where
            T: Sync,
        {
            self.0.iter()
        }
    }
}

#[cfg(dcc_mcp_loom)]
mod slots {
    use super::{lock, owner_load_ptr, AtomicPtr, Mutex, Ordering};
    use std::ptr;

    /// Ids available in one loom execution: models run at most 4 threads at once (main + 3 spawned).
    const MAX_THREADS: usize = 4;

    /// Loom-visible equivalent of `thread_local`'s thread-id manager: the lowest free id is handed
    /// out first and an exiting thread's id returns to the pool under the same mutex, which orders
    /// the dead thread's writes to its slot before the next owner's.
    struct Ids {
        free: Vec<usize>,
        next: usize,
    }

    loom::lazy_static! {
        static ref IDS: Mutex<Ids> = Mutex::new(Ids { free: Vec::new(), next: 0 });
    }

    loom::thread_local! {
        /// The calling loom thread's id, assigned on its first slot access.
        static ID: std::cell::Cell<Option<usize>> = std::cell::Cell::new(None);
    }

    /// The calling thread's id: the lowest free one, assigned on first use.
    fn current_id() -> usize {
        if let Some(id) = ID.with(|c| c.get()) {
            return id;
        }
        let mut ids = lock(&IDS);
        let id = match ids.free.pop() {
            Some(id) => id,
            None => {
                ids.next += 1;
                ids.next - 1
            }
        };
        drop(ids);
        ID.with(|c| c.set(Some(id)));
        id
    }

    /// What `thread_local`'s thread-exit destructor does, as an explicit, modelled step: the calling
    /// thread's id (if it has one) goes back to the pool, lowest ids first. Loom does not model
    /// synchronisation inside thread-local destructors, so loom models call this as the last
    /// statement of every spawned thread.
    pub fn thread_exit() {
        if let Some(id) = ID.with(|c| c.take()) {
            let mut ids = lock(&IDS);
            ids.free.push(id);
            ids.free.sort_unstable_by(|a, b| b.cmp(a));
        }
    }

    /// One `T` per live loom thread, same contract as the normal build's `ThreadLocal` wrapper.
    pub(crate) struct ThreadSlots<T: Send> {
        slots: Vec<AtomicPtr<T>>,
        id: u64,
    }

    // SAFETY: a slot's `T` is reached mutably by nobody and shared (`&T`) either by its owning
    // thread (`get_or`, requires `T: Send` to have been created there) or by any thread through
    // `iter`, which requires `T: Sync`. This mirrors `thread_local::ThreadLocal`'s own impl.
    unsafe impl<T: Send> Sync for ThreadSlots<T> {}

    impl<T: Send> ThreadSlots<T> {
        pub(crate) fn new() -> Self {
            Self {
                slots: (0..MAX_THREADS)
                    .map(|_| AtomicPtr::new(ptr::null_mut()))
                    .collect(),
                id: super::next_slots_id(),
            }
        }

        pub(crate) fn id(&self) -> u64 {
            self.id
        }

        pub(crate) fn get_or(&self, create: impl FnOnce() -> T) -> &T {
            let id = current_id();
            let slot = &self.slots[id];
            // Only the thread holding `id` writes this slot.
            let p = owner_load_ptr(slot);
            if !p.is_null() {
                // SAFETY: non-null pointers in `slots` come from `Box::into_raw` below and are freed
                // only in `drop`, which has `&mut self`; the `&T` lives no longer than `&self`.
                return unsafe { &*p };
            }
            let p = Box::into_raw(Box::new(create()));
            // Only the thread holding `id` writes this slot, so a plain store publishes it.
            slot.store(p, Ordering::Release);
            // SAFETY: `p` was just leaked from a live `Box`; see above for its lifetime.
            unsafe { &*p }
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = &T>
        where
            T: Sync,
        {
            self.slots.iter().filter_map(|s| {
                let p = s.load(Ordering::Acquire);
                // SAFETY: as in `get_or`; the Acquire load pairs with the Release store that
                // published the fully constructed value.
                (!p.is_null()).then(|| unsafe { &*p })
            })
        }
    }

    impl<T: Send> Drop for ThreadSlots<T> {
        fn drop(&mut self) {
            for s in &self.slots {
                let p = s.load(Ordering::Relaxed);
                if !p.is_null() {
                    // SAFETY: `p` came from `Box::into_raw` and `&mut self` proves no reference
                    // handed out by `get_or`/`iter` is still alive.
                    drop(unsafe { Box::from_raw(p) });
                }
            }
        }
    }
}

pub(crate) use slots::ThreadSlots;

impl<T: Send> ThreadSlots<T> {
    /// The calling thread's slot if this thread's one-entry memo holds it: two thread-local loads
    /// and a compare, skipping the thread-id and bucket lookups of [`get_or`](ThreadSlots::get_or).
    /// `None` means "ask [`get_or_memo`](ThreadSlots::get_or_memo)". One entry only, so use it for
    /// one kind of slot set (the registry's shards), not for many that a thread alternates between.
    #[inline(always)]
    pub(crate) fn memo(&self) -> Option<&T> {
        let (id, p) = LAST_SLOT.with(|c| c.get());
        if id == self.id() {
            // SAFETY: `p` was stored by this thread in `get_or_memo` from `self.get_or`, for the
            // slot set with this id; ids are never reused, so that set is `self`, which is alive
            // (we hold `&self`). Slots are never moved or freed before the set is dropped, and a
            // thread's slot stays its own until its thread-local destructors run, which first
            // clear the memo (see `get_or_memo`), so `p` still points at this thread's `T`.
            return Some(unsafe { &*(p as *const T) });
        }
        None
    }

    /// [`get_or`](ThreadSlots::get_or), remembering the result in the calling thread's memo.
    ///
    /// The memo must be forgotten before `thread_local` returns the thread's id (and with it the
    /// slot) to the pool at thread exit, or a thread-local destructor that records afterwards
    /// would write a slot that a new thread may already own. `thread_local` registers its
    /// id-returning destructor the first time the thread gets an id, which `get_or` has just
    /// ensured; `MEMO_GUARD`'s destructor, registered here, is therefore later, and std runs a
    /// thread's thread-local destructors in reverse order of registration (its own list and
    /// glibc's `__cxa_thread_atexit_impl` both do), so the memo is cleared first. Once the guard
    /// is gone the memo is not filled again, and such late recording takes the `get_or` path.
    #[cold]
    #[inline(never)]
    pub(crate) fn get_or_memo(&self, create: impl FnOnce() -> T) -> &T {
        let v = self.get_or(create);
        if MEMO_GUARD.try_with(|_| ()).is_ok() {
            LAST_SLOT.with(|c| c.set((self.id(), v as *const T as *const ())));
        }
        v
    }
}
#[cfg(dcc_mcp_loom)]
pub use slots::thread_exit as loom_thread_exit;
