//! The least-recently-used order of sessions: who is evicted at the session cap, in O(1) amortized.
//!
//! Why: at `max_sessions`, `initialize` evicts the least recently used idle session. Finding it by
//! scanning every session under the store's write lock cost about 0.8 ms per `initialize` at 10,000
//! sessions, for every client. Here each use of a session appends `(session, stamp)` to a queue; an
//! entry is *current* while its stamp is the session's latest, so the oldest current entry names the
//! least recently used session. Older entries are skipped when popped and dropped by a compaction
//! whenever the queue doubles, so each use costs O(1) amortized and the queue stays within twice the
//! current entries (plus a constant).
//!
//! A popped session that is busy loses its place; the store marks it (see
//! [`Ordered::mark_skipped`]) and the session enqueues itself again when it becomes idle.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, Weak};

/// What the order needs to know of an item.
pub(crate) trait Ordered {
    /// The stamp of the item's latest use.
    fn stamp(&self) -> u64;
    /// Record the stamp of a new use (called under the order's lock).
    fn set_stamp(&self, stamp: u64);
    /// The item has ended: its entries are stale.
    fn is_gone(&self) -> bool;
}

struct Queue<T> {
    entries: VecDeque<(Weak<T>, u64)>,
    next_stamp: u64,
    /// Compact when the queue grows past this.
    compact_at: usize,
}

/// The use order of the items (sessions) of one store.
pub(crate) struct UseOrder<T> {
    queue: Mutex<Queue<T>>,
}

/// Entries kept before the first compaction.
const MIN_COMPACT: usize = 64;

impl<T: Ordered> Default for UseOrder<T> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Queue {
                entries: VecDeque::new(),
                next_stamp: 0,
                compact_at: MIN_COMPACT,
            }),
        }
    }
}

fn is_current<T: Ordered>(item: &Weak<T>, stamp: u64) -> Option<std::sync::Arc<T>> {
    item.upgrade()
        .filter(|item| item.stamp() == stamp && !item.is_gone())
}

impl<T: Ordered> UseOrder<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `item` was used now: it becomes the most recently used.
    pub(crate) fn used(&self, item: Weak<T>) {
        let mut queue = self.lock();
        queue.next_stamp += 1;
        let stamp = queue.next_stamp;
        let Some(strong) = item.upgrade() else {
            return;
        };
        strong.set_stamp(stamp);
        queue.entries.push_back((item, stamp));
        if queue.entries.len() > queue.compact_at {
            queue
                .entries
                .retain(|(item, stamp)| is_current(item, *stamp).is_some());
            queue.compact_at = (2 * queue.entries.len()).max(MIN_COMPACT);
        }
    }

    /// Take the least recently used live item out of the order (it is in it again at its next use).
    pub(crate) fn pop_oldest(&self) -> Option<std::sync::Arc<T>> {
        let mut queue = self.lock();
        while let Some((item, stamp)) = queue.entries.pop_front() {
            if let Some(item) = is_current(&item, stamp) {
                return Some(item);
            }
        }
        None
    }

    /// Entries held, current or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    #[derive(Default)]
    struct Item {
        stamp: AtomicU64,
        gone: AtomicBool,
    }

    impl Ordered for Item {
        fn stamp(&self) -> u64 {
            self.stamp.load(Ordering::Acquire)
        }
        fn set_stamp(&self, stamp: u64) {
            self.stamp.store(stamp, Ordering::Release);
        }
        fn is_gone(&self) -> bool {
            self.gone.load(Ordering::Acquire)
        }
    }

    #[test]
    fn the_oldest_current_use_comes_first() {
        let order = UseOrder::<Item>::default();
        let items: Vec<Arc<Item>> = (0..3).map(|_| Arc::new(Item::default())).collect();
        for item in &items {
            order.used(Arc::downgrade(item));
        }
        // Item 0 is used again: item 1 is now the least recently used.
        order.used(Arc::downgrade(&items[0]));
        items[2].gone.store(true, Ordering::Release);
        let popped: Vec<*const Item> = std::iter::from_fn(|| order.pop_oldest())
            .map(|item| Arc::as_ptr(&item))
            .collect();
        assert_eq!(popped, [Arc::as_ptr(&items[1]), Arc::as_ptr(&items[0])]);
    }

    #[test]
    fn stale_entries_are_compacted_as_the_queue_doubles() {
        let order = UseOrder::<Item>::default();
        let items: Vec<Arc<Item>> = (0..10).map(|_| Arc::new(Item::default())).collect();
        for round in 0..1000 {
            order.used(Arc::downgrade(&items[round % items.len()]));
            assert!(order.len() <= 2 * MIN_COMPACT + 1, "{}", order.len());
        }
        let mut popped = 0;
        while order.pop_oldest().is_some() {
            popped += 1;
        }
        assert_eq!(popped, items.len());
    }
}
