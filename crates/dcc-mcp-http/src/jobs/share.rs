//! The job queue's slots, shared fairly between client addresses.
//!
//! A per-session quota alone does not keep the job system open: five sessions of one client fill a
//! 64-slot queue with 16 jobs each and take every worker, and a polite client of another address then
//! gets "job queue full" every time. So each client address may hold at most
//! [`QueueSlots::client_share`] queued jobs, half of `job_queue_capacity` rounded up, and run at most
//! `job_concurrency - 1` jobs at once (1 when the concurrency is 1): another address always finds
//! queue room and a worker. Sessions whose address is unknown (a router served without connection
//! info, a 2026-07-28 request scope) have no share: the session quota and the queue capacity bound
//! them.
//!
//! A local attacker can bind many loopback addresses, so this is a share, not a wall: it stops one
//! address, and the session quota, the global queue capacity and the job deadline still bound the rest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

/// Why a job got no queue slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// `job_queue_capacity` jobs are waiting.
    Full,
    /// The client's address already holds its share of the queue.
    ClientShare,
}

/// What one address holds of the job system.
struct Share {
    /// Its jobs waiting for a worker.
    queued: usize,
    /// Its jobs whose task has not ended yet (queued or running); the entry goes at zero.
    live: usize,
    /// Bounds how many of its jobs run at once.
    runners: Arc<Semaphore>,
}

/// The queue's capacity, what is taken of it, and each address's part.
pub(super) struct QueueSlots {
    capacity: usize,
    client_share: usize,
    client_runners: usize,
    concurrency: usize,
    waiting: AtomicUsize,
    shares: Mutex<HashMap<Option<IpAddr>, Share>>,
}

impl QueueSlots {
    /// Slots for `capacity` queued jobs and `concurrency` workers.
    pub(super) fn new(capacity: usize, concurrency: usize) -> Self {
        Self {
            capacity,
            client_share: capacity.div_ceil(2).max(1),
            client_runners: concurrency.saturating_sub(1).max(1),
            concurrency: concurrency.max(1),
            waiting: AtomicUsize::new(0),
            shares: Mutex::new(HashMap::new()),
        }
    }

    /// `job_queue_capacity`.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Most queued jobs of one address.
    pub(super) fn client_share(&self) -> usize {
        self.client_share
    }

    fn shares(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, Share>> {
        self.shares.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take a queue slot for a job of `client`; returns the address's running-job permits. Every
    /// success is matched by one [`leave`](Self::leave) (when the job starts or leaves the queue)
    /// and one [`release`](Self::release) (when its task ends).
    pub(super) fn reserve(&self, client: Option<IpAddr>) -> Result<Arc<Semaphore>, Refused> {
        let (share_cap, runners) = match client {
            Some(_) => (self.client_share, self.client_runners),
            None => (usize::MAX, self.concurrency),
        };
        let mut shares = self.shares();
        // A full queue is "full" for everyone, whatever the address holds of it.
        if self.waiting.load(Ordering::Acquire) >= self.capacity {
            return Err(Refused::Full);
        }
        if shares
            .get(&client)
            .is_some_and(|share| share.queued >= share_cap)
        {
            return Err(Refused::ClientShare);
        }
        let reserved = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < self.capacity).then_some(waiting + 1)
            })
            .is_ok();
        if !reserved {
            return Err(Refused::Full);
        }
        let share = shares.entry(client).or_insert_with(|| Share {
            queued: 0,
            live: 0,
            runners: Arc::new(Semaphore::new(runners)),
        });
        share.queued += 1;
        share.live += 1;
        Ok(share.runners.clone())
    }

    /// The job of `client` left the queue (it started, or will never run).
    pub(super) fn leave(&self, client: Option<IpAddr>) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if let Some(share) = self.shares().get_mut(&client) {
            share.queued = share.queued.saturating_sub(1);
        }
    }

    /// The task of a job of `client` ended: the address forgets it (and is forgotten with its last).
    pub(super) fn release(&self, client: Option<IpAddr>) {
        let mut shares = self.shares();
        if let Some(share) = shares.get_mut(&client) {
            share.live = share.live.saturating_sub(1);
            if share.live == 0 {
                shares.remove(&client);
            }
        }
    }

    /// Give back a slot taken by [`reserve`](Self::reserve) for a job that was never created.
    pub(super) fn unreserve(&self, client: Option<IpAddr>) {
        self.leave(client);
        self.release(client);
    }

    /// Jobs waiting for a worker, of every address.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn one_address_holds_at_most_half_the_queue() {
        let slots = QueueSlots::new(5, 4);
        assert_eq!(slots.client_share(), 3);
        for _ in 0..3 {
            assert!(slots.reserve(addr(2)).is_ok());
        }
        assert_eq!(slots.reserve(addr(2)).err(), Some(Refused::ClientShare));
        // Another address still finds the rest of the queue, then the queue is full for everyone.
        assert!(slots.reserve(addr(1)).is_ok());
        assert!(slots.reserve(addr(3)).is_ok());
        assert_eq!(slots.reserve(addr(4)).err(), Some(Refused::Full));
        // At its share too, the address is told the queue is full once it is.
        assert_eq!(slots.reserve(addr(2)).err(), Some(Refused::Full));
        assert_eq!(slots.waiting(), 5);
        // A job that starts gives its queue slot back to its address.
        slots.leave(addr(2));
        assert!(slots.reserve(addr(2)).is_ok());
    }

    #[test]
    fn an_unknown_address_has_no_share_but_the_queue() {
        let slots = QueueSlots::new(3, 4);
        for _ in 0..3 {
            assert_eq!(
                slots.reserve(None).ok().map(|r| r.available_permits()),
                Some(4)
            );
        }
        assert_eq!(slots.reserve(None).err(), Some(Refused::Full));
    }

    #[test]
    fn an_address_runs_at_most_all_workers_but_one() {
        let slots = QueueSlots::new(8, 4);
        let runners = slots.reserve(addr(2)).ok();
        assert_eq!(runners.map(|r| r.available_permits()), Some(3));
        let single = QueueSlots::new(8, 1);
        assert_eq!(
            single.reserve(addr(2)).ok().map(|r| r.available_permits()),
            Some(1)
        );
    }

    #[test]
    fn an_address_is_forgotten_with_its_last_job() {
        let slots = QueueSlots::new(4, 4);
        let first = slots.reserve(addr(2)).ok();
        let second = slots.reserve(addr(2)).ok();
        assert!(first.zip(second).is_some_and(|(a, b)| Arc::ptr_eq(&a, &b)));
        slots.leave(addr(2));
        slots.release(addr(2));
        assert_eq!(slots.shares().len(), 1);
        slots.unreserve(addr(2));
        assert!(slots.shares().is_empty());
        assert_eq!(slots.waiting(), 0);
    }
}
