//! The one place that names atomics, locks, per-thread slots and loom.
//!
//! Every other module imports its synchronisation primitives from here, so a build with
//! `RUSTFLAGS="--cfg dcc_mcp_loom"` swaps the whole engine onto loom's model-checked primitives
//! while the recording and merge code under test stays the real code.
//!
//! [`ThreadSlots`] is the per-thread slot table (the registry's shards, the families' label
//! caches). It is the engine's own, built on this module's primitives, so loom checks the very code
//! that normal builds run, thread exit included:
//!
//! - A thread takes a process-wide *engine thread id* on its first slot access: the lowest free id,
//!   from a pool behind a mutex. Its slot in every [`ThreadSlots`] is the one at that index.
//! - When the thread exits, a thread-local destructor (`ExitGuard`) returns the id to the pool
//!   under the same mutex, so the dead thread's writes to its slots happen-before those of the next
//!   thread to take the id. That thread inherits the slots with their values: nothing recorded is
//!   lost, and a registry has at most as many shards as the largest number of threads alive at
//!   once that held an engine thread id (ids are process-wide, so threads recording only into
//!   *other* registries count too).
//! - After the guard has run (thread-local destructors that record late), [`ThreadSlots::get_or`]
//!   answers `None` and the caller falls back to a shared path (the shard set's *orphan* shard), so
//!   recording from any thread-local destructor is counted and never panics. The `thread_local`
//!   crate this replaces aborted the process there (its `get_or` panics inside thread-local
//!   destructors once its own thread-id guard is gone).
//!
//! Under `cfg(dcc_mcp_loom)` the thread-exit destructor is modelled by an explicit call,
//! [`loom_thread_exit`], since loom does not model thread-local destructors.

pub(crate) use crossbeam_utils::CachePadded;

#[cfg(not(dcc_mcp_loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(dcc_mcp_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(dcc_mcp_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
};

/// A reader waits for a writer to leave its sequence window (`tries` failed reads so far): a few
/// spin hints, then it yields its core so that a writer descheduled mid-window (its window is
/// three stores long) can run. Under loom every retry yields, so the model can schedule the writer.
#[cfg(not(dcc_mcp_loom))]
#[inline]
pub(crate) fn backoff(tries: u32) {
    if tries < 16 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
#[cfg(dcc_mcp_loom)]
pub(crate) fn backoff(_: u32) {
    loom::thread::yield_now();
}
#[cfg(dcc_mcp_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

/// log2 of the cells in a chunk, the unit in which a shard commits memory: 64 cells (512 bytes,
/// four 128-byte lines). Loom builds use 4-cell chunks so that the models exercise growth.
#[cfg(not(dcc_mcp_loom))]
pub(crate) const CHUNK_SHIFT: u32 = 6;
#[cfg(dcc_mcp_loom)]
pub(crate) const CHUNK_SHIFT: u32 = 2;

/// log2 of the chunk pointers in a leaf (a leaf covers `2^(LEAF_SHIFT + CHUNK_SHIFT)` cells).
#[cfg(not(dcc_mcp_loom))]
pub(crate) const LEAF_SHIFT: u32 = 7;
#[cfg(dcc_mcp_loom)]
pub(crate) const LEAF_SHIFT: u32 = 1;

/// Leaf pointers in a shard's root, which lives in the shard header; the capacity of a registry
/// is `ROOT_LEN << (LEAF_SHIFT + CHUNK_SHIFT)` cells (2^20 in normal builds).
#[cfg(not(dcc_mcp_loom))]
pub(crate) const ROOT_LEN: usize = 128;
#[cfg(dcc_mcp_loom)]
pub(crate) const ROOT_LEN: usize = 4;

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

/// The single writer's read of a `usize` only it writes (a list length whose pushers are
/// serialised by a lock); see [`owner_load_u64`].
#[cfg(not(dcc_mcp_loom))]
#[inline(always)]
pub(crate) fn owner_load_usize(a: &AtomicUsize) -> usize {
    a.load(Ordering::Relaxed)
}
#[cfg(dcc_mcp_loom)]
pub(crate) fn owner_load_usize(a: &AtomicUsize) -> usize {
    // SAFETY: as in `owner_load_u64`: single writer at a time, checked by loom.
    unsafe { a.unsync_load() }
}

/// Marks the initialisation of memory that one thread publishes to others through an atomic
/// pointer (a shard's storage segment). Zero-sized and free in normal builds.
///
/// Loom 0.7.3 records an atomic's construction as an unsynchronised write, so it catches a load
/// of a cell that does not happen-after the cell's creation; the marker extends that check to the
/// allocation as a whole (memory without atomics too). Under loom the marker is a `loom::cell::UnsafeCell`:
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
    /// A marker for memory initialised at compile time (a `static`; normal builds only).
    #[cfg(not(dcc_mcp_loom))]
    pub(crate) const EMPTY: InitMarker = InitMarker {};

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

/// Data that only one thread at a time touches, the handoff between holders being ordered by a
/// lock (a shard's pool of released storage: its writer's, passed on with the engine thread id).
/// A plain `UnsafeCell` in normal builds; under loom a `loom::cell::UnsafeCell`, so loom checks
/// that every two accesses are ordered by happens-before.
pub(crate) struct OwnerCell<T> {
    #[cfg(not(dcc_mcp_loom))]
    cell: std::cell::UnsafeCell<T>,
    #[cfg(dcc_mcp_loom)]
    cell: loom::cell::UnsafeCell<T>,
}

// SAFETY: the value is reached only through `with_mut`, whose callers guarantee that accesses
// are ordered (one owner at a time); `T: Send` because owners change threads.
unsafe impl<T: Send> Sync for OwnerCell<T> {}

impl<T> OwnerCell<T> {
    pub(crate) fn new(v: T) -> Self {
        OwnerCell {
            #[cfg(not(dcc_mcp_loom))]
            cell: std::cell::UnsafeCell::new(v),
            #[cfg(dcc_mcp_loom)]
            cell: loom::cell::UnsafeCell::new(v),
        }
    }

    /// Runs `f` on the value.
    ///
    /// # Safety
    ///
    /// The caller is the value's current owner: every other access happens-before or after this
    /// one (loom checks it).
    pub(crate) unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(dcc_mcp_loom))]
        // SAFETY: forwarded from the caller: no other access overlaps this one.
        return f(unsafe { &mut *self.cell.get() });
        #[cfg(dcc_mcp_loom)]
        // SAFETY: as above.
        return self.cell.with_mut(|p| f(unsafe { &mut *p }));
    }
}

/// Locks `m`, recovering the data if a previous holder panicked: every critical section in the
/// engine leaves its data consistent before it can panic (pushes happen last), so poisoning carries
/// no information here and must not turn into a panic on a request path.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Source of [`ThreadSlots`] set ids: unique for the life of the process, never reused, so a cached
/// id can never name a different (later) slot set. Only uniqueness matters, no ordering.
static NEXT_SLOTS_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_slots_id() -> u64 {
    NEXT_SLOTS_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Engine thread ids.

/// The pool of engine thread ids: the lowest free id is handed out first.
struct IdPool {
    /// Returned ids, kept sorted in descending order so `pop` yields the lowest.
    free: Vec<usize>,
    /// Ids `>= next` were never handed out.
    next: usize,
}

impl IdPool {
    const fn new() -> Self {
        IdPool {
            free: Vec::new(),
            next: 0,
        }
    }

    fn take(&mut self) -> usize {
        match self.free.pop() {
            Some(id) => id,
            None => {
                self.next += 1;
                self.next - 1
            }
        }
    }

    fn give_back(&mut self, id: usize) {
        let at = self.free.partition_point(|&f| f > id);
        self.free.insert(at, id);
    }
}

#[cfg(not(dcc_mcp_loom))]
static IDS: Mutex<IdPool> = Mutex::new(IdPool::new());
#[cfg(dcc_mcp_loom)]
loom::lazy_static! {
    static ref IDS: Mutex<IdPool> = Mutex::new(IdPool::new());
}

/// Where the calling thread stands with respect to engine thread ids.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ThreadState {
    /// No id yet.
    Fresh,
    /// Holds this id (and its `ExitGuard` is registered).
    Id(usize),
    /// Its thread-exit destructor has run: it holds no id and takes none again.
    Exited,
}

#[cfg(not(dcc_mcp_loom))]
std::thread_local! {
    /// The calling thread's id state. Const-initialised and without destructor, so it is readable
    /// at any point of the thread's life, thread-local destructors included.
    static THREAD: std::cell::Cell<ThreadState> = const { std::cell::Cell::new(ThreadState::Fresh) };
    /// The calling thread's memo: `(slot set id, its slot)`, filled by `get_or_memo`. No
    /// destructor, so reading it is two plain thread-local loads.
    static LAST_SLOT: std::cell::Cell<(u64, *const ())> =
        const { std::cell::Cell::new((0, std::ptr::null())) };
    /// Returns the thread's id when its thread-local destructors run.
    static EXIT_GUARD: ExitGuard = const { ExitGuard };
    /// The calling thread's tenure of its engine id (see [`tenure`]); 0 before it takes one.
    static TENURE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}
#[cfg(dcc_mcp_loom)]
loom::thread_local! {
    static THREAD: std::cell::Cell<ThreadState> = std::cell::Cell::new(ThreadState::Fresh);
    static LAST_SLOT: std::cell::Cell<(u64, *const ())> = std::cell::Cell::new((0, std::ptr::null()));
    static TENURE: std::cell::Cell<u64> = std::cell::Cell::new(0);
}

/// Its destructor is the thread's exit from the engine; see [`thread_exit`].
#[cfg(not(dcc_mcp_loom))]
struct ExitGuard;

#[cfg(not(dcc_mcp_loom))]
impl Drop for ExitGuard {
    fn drop(&mut self) {
        thread_exit();
    }
}

/// The calling thread's engine id, taken on first use; `None` once the thread has exited the
/// engine (its thread-exit destructor has run) or when its exit guard cannot be registered.
#[inline]
fn current_id() -> Option<usize> {
    match THREAD.with(|t| t.get()) {
        ThreadState::Id(id) => Some(id),
        ThreadState::Exited => None,
        ThreadState::Fresh => take_id(),
    }
}

#[cold]
#[inline(never)]
fn take_id() -> Option<usize> {
    // Register the exit guard before taking the id, so an id is never held without a guard to
    // return it. `try_with` fails only once the guard has been destroyed.
    #[cfg(not(dcc_mcp_loom))]
    if EXIT_GUARD.try_with(|_| ()).is_err() {
        THREAD.with(|t| t.set(ThreadState::Exited));
        return None;
    }
    let id = take_from_pool();
    TENURE.with(|t| t.set(next_slots_id()));
    THREAD.with(|t| t.set(ThreadState::Id(id)));
    Some(id)
}

/// A process-unique number for the calling thread's tenure of its engine id, taken with the id
/// (never 0 once the thread holds one, never reused). A slot whose recorded tenure is not the
/// caller's was inherited from an exited holder of the id; the shard set uses this to retire the
/// previous holder's storage (`ShardSet::adopt`). Only meaningful while the thread holds an id.
pub(crate) fn tenure() -> u64 {
    TENURE.with(|t| t.get())
}

/// The thread leaves the engine: its memo is emptied and its id goes back to the pool under the
/// pool's mutex (which orders this thread's writes to its slots before the next owner's).
/// Afterwards the thread holds no id and takes none again. Normal builds run this from the
/// thread's `ExitGuard` destructor; loom models call it (as [`loom_thread_exit`]) as the last step
/// of a thread.
pub(crate) fn thread_exit() {
    let _ = LAST_SLOT.try_with(|c| c.set((0, std::ptr::null())));
    let state = THREAD.try_with(|t| t.replace(ThreadState::Exited));
    if let Ok(ThreadState::Id(id)) = state {
        give_back_to_pool(id);
    }
}

#[cfg(not(dcc_mcp_loom_mutant = "handoff_without_lock"))]
fn take_from_pool() -> usize {
    lock(&IDS).take()
}

#[cfg(not(dcc_mcp_loom_mutant = "handoff_without_lock"))]
fn give_back_to_pool(id: usize) {
    lock(&IDS).give_back(id);
}

// Mutant: an exiting thread hands its id over through a `Relaxed` mailbox instead of the pool's
// mutex, so nothing orders its writes before the next owner's.
#[cfg(dcc_mcp_loom_mutant = "handoff_without_lock")]
loom::lazy_static! {
    static ref MAILBOX: AtomicUsize = AtomicUsize::new(usize::MAX);
}
#[cfg(dcc_mcp_loom_mutant = "handoff_without_lock")]
fn take_from_pool() -> usize {
    match MAILBOX.swap(usize::MAX, Ordering::Relaxed) {
        usize::MAX => lock(&IDS).take(),
        id => id,
    }
}
#[cfg(dcc_mcp_loom_mutant = "handoff_without_lock")]
fn give_back_to_pool(id: usize) {
    MAILBOX.store(id, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// Slot tables.

/// Buckets of a slot table: bucket `b` holds the slots of ids `2^b - 1 .. 2^(b+1) - 1`.
#[cfg(not(dcc_mcp_loom))]
const BUCKETS: usize = usize::BITS as usize;
#[cfg(dcc_mcp_loom)]
const BUCKETS: usize = 3;

/// Bucket and index in the bucket of id `id`.
#[inline(always)]
fn bucket_of(id: usize) -> (usize, usize) {
    let n = id + 1;
    let b = (usize::BITS - 1 - n.leading_zeros()) as usize;
    (b, n - (1 << b))
}

/// One `T` per engine thread id; see the module docs. A slot, once created, stays (with its value)
/// until the table is dropped, and passes from an exited thread to the next holder of its id.
pub(crate) struct ThreadSlots<T: Send> {
    /// Bucket `b` points at `2^b` slot pointers, or is null until an id in it is used.
    buckets: [AtomicPtr<AtomicPtr<T>>; BUCKETS],
    id: u64,
}

// SAFETY: a slot's `T` is never reached mutably (until `drop`, which has `&mut self`) and is shared
// (`&T`) either by the thread holding its id (`get_or`, which requires `T: Send` since the value
// may be created on one thread and dropped on another) or by any thread through `iter`, which
// requires `T: Sync`.
unsafe impl<T: Send> Sync for ThreadSlots<T> {}

impl<T: Send> ThreadSlots<T> {
    /// An empty table.
    ///
    /// Loom builds allocate their few buckets up front: loom 0.7 remembers only the last access
    /// per object, so a thread's own *load, then compare-exchange* of a bucket pointer would hide
    /// a scraper's earlier load of it and loom would never schedule that scrape after the
    /// exchange (see `owner_load_u64`); without the race the models explore the slots themselves.
    /// The lazy allocation is the textbook publish-by-compare-exchange, covered by the normal
    /// tests and Miri.
    pub(crate) fn new() -> Self {
        #[cfg(not(dcc_mcp_loom))]
        let bucket = |_| AtomicPtr::new(std::ptr::null_mut());
        #[cfg(dcc_mcp_loom)]
        let bucket = |b| AtomicPtr::new(Self::new_bucket(b));
        ThreadSlots {
            buckets: std::array::from_fn(bucket),
            id: next_slots_id(),
        }
    }

    /// This table's process-unique id.
    #[inline(always)]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The calling thread's slot, created by `create` on the thread's first access (or inherited,
    /// value and all, from an exited thread whose id it took). `None` once the thread has exited
    /// the engine (a thread-local destructor running after the thread's exit guard).
    pub(crate) fn get_or(&self, create: impl FnOnce() -> T) -> Option<&T> {
        let id = current_id()?;
        let (b, i) = bucket_of(id);
        let bucket = self.bucket(b);
        // SAFETY: `bucket` points at `2^b` slot pointers (allocated in `bucket`) and `i < 2^b`;
        // buckets are freed only by `drop`, which has `&mut self`.
        let slot = unsafe { &*bucket.add(i) };
        // Only the thread holding `id` writes this slot, and a previous holder's writes
        // happen-before ours through the id pool's mutex.
        let p = owner_load_ptr(slot);
        if !p.is_null() {
            // SAFETY: non-null slot pointers come from `Box::into_raw` below and are freed only
            // by `drop` (`&mut self`); the `&T` lives no longer than `&self`.
            return Some(unsafe { &*p });
        }
        let p = Box::into_raw(Box::new(create()));
        slot.store(p, Ordering::Release);
        // SAFETY: `p` was just leaked from a live `Box`; see above for its lifetime.
        Some(unsafe { &*p })
    }

    /// Bucket `b`, allocated (all slots null) on first use. Several threads may race to allocate
    /// it; one wins the compare-exchange and the others free theirs.
    fn bucket(&self, b: usize) -> *mut AtomicPtr<T> {
        let p = self.buckets[b].load(Ordering::Acquire);
        if !p.is_null() {
            return p;
        }
        let fresh = Self::new_bucket(b);
        match self.buckets[b].compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(theirs) => {
                // SAFETY: `fresh` came from `Box::<[_]>::into_raw` of `2^b` slots in
                // `new_bucket` and was never shared.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(fresh, 1 << b)) });
                theirs
            }
        }
    }

    /// A bucket of `2^b` null slots, leaked (freed by `drop` or by the loser of the race in
    /// `bucket`).
    fn new_bucket(b: usize) -> *mut AtomicPtr<T> {
        let fresh: Box<[AtomicPtr<T>]> = (0..1usize << b)
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect();
        Box::into_raw(fresh) as *mut AtomicPtr<T>
    }

    /// Every slot created so far, including those of exited threads.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T>
    where
        T: Sync,
    {
        self.buckets.iter().enumerate().flat_map(|(b, bucket)| {
            let p = bucket.load(Ordering::Acquire);
            let len = if p.is_null() { 0 } else { 1usize << b };
            (0..len).filter_map(move |i| {
                // SAFETY: `p` is bucket `b` (non-null when `len > 0`), `2^b` slots, `i < 2^b`;
                // the Acquire load pairs with the compare-exchange that published it.
                let slot = unsafe { &*p.add(i) };
                let v = slot.load(Ordering::Acquire);
                // SAFETY: as in `get_or`; the Acquire load pairs with the Release store that
                // published the fully constructed value.
                (!v.is_null()).then(|| unsafe { &*v })
            })
        })
    }
}

impl<T: Send> Drop for ThreadSlots<T> {
    fn drop(&mut self) {
        for (b, bucket) in self.buckets.iter().enumerate() {
            let p = bucket.load(Ordering::Acquire);
            if p.is_null() {
                continue;
            }
            // SAFETY: `p` came from `Box::<[_]>::into_raw` of `2^b` slots in `bucket`, and
            // `&mut self` proves no reference handed out by `get_or`/`iter` is still alive.
            let slots = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, 1 << b)) };
            for s in slots.iter() {
                let v = s.load(Ordering::Acquire);
                if !v.is_null() {
                    // SAFETY: `v` came from `Box::into_raw` in `get_or`; see above.
                    drop(unsafe { Box::from_raw(v) });
                }
            }
        }
    }
}

impl<T: Send> ThreadSlots<T> {
    /// The calling thread's slot if this thread's one-entry memo holds it: two thread-local loads
    /// and a compare, skipping the id and bucket lookups of [`get_or`](ThreadSlots::get_or).
    /// `None` means "ask [`get_or_memo`](ThreadSlots::get_or_memo)". One entry only, so use it for
    /// one kind of slot table (the registry's shards), not for many that a thread alternates between.
    #[inline(always)]
    pub(crate) fn memo(&self) -> Option<&T> {
        let (id, p) = LAST_SLOT.with(|c| c.get());
        if id == self.id() {
            // SAFETY: `p` was stored by this thread in `get_or_memo` from `self.get_or`, for the
            // table with this id; ids are never reused, so that table is `self`, which is alive
            // (we hold `&self`). Slots are never moved or freed before the table is dropped, and a
            // thread's slot stays its own until `thread_exit`, which first clears the memo (and
            // the memo is never filled again afterwards), so `p` still points at this thread's `T`.
            return Some(unsafe { &*(p as *const T) });
        }
        None
    }

    /// [`get_or`](ThreadSlots::get_or), remembering the result in the calling thread's memo.
    #[cold]
    #[inline(never)]
    pub(crate) fn get_or_memo(&self, create: impl FnOnce() -> T) -> Option<&T> {
        let v = self.get_or(create)?;
        // `get_or` answered, so the thread holds an id and has not exited: `thread_exit` will
        // clear the memo before the id is returned.
        LAST_SLOT.with(|c| c.set((self.id(), v as *const T as *const ())));
        Some(v)
    }

    /// Number of slots created so far.
    pub(crate) fn count(&self) -> usize
    where
        T: Sync,
    {
        self.iter().count()
    }
}

/// Loom builds only: the modelled thread-exit destructor. Run as a loom thread's last step, it
/// returns the thread's engine id to the pool, as the thread-exit destructor does in normal builds;
/// recording afterwards takes the fallback path of a thread-local destructor that runs late.
#[cfg(dcc_mcp_loom)]
pub fn loom_thread_exit() {
    thread_exit();
}
