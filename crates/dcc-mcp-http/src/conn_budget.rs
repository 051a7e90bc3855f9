//! Connection slots that one client cannot take: the table of open connections, what each is doing,
//! and who gives up its slot when the server is full.
//!
//! A plain counter of open connections (the first round) refuses the newcomer at the cap, so whoever
//! holds the slots first — stalled bodies, unread SSE streams, silent sockets — locks everyone else
//! out. Here every connection has a [`ConnSlot`] that says what it is doing ([`Phase`]) and since
//! when; at `max_connections` the connection that costs others most is *shed* (closed) to make room:
//! first a request body that made no progress for [`STALL`], then the connection idle longest
//! between requests (or silent since it connected), once idle for [`STALL`], then the oldest SSE
//! stream. Only when every slot
//! is a request being served is the newcomer refused (`503`). On top, one address holds at most
//! `max_connections_per_client` connections (at that cap the same choice is made among its own
//! connections) and `max_streams_per_client` streams, and all addresses
//! together at most `max_streams` streams, so requests and `/metrics` keep headroom.
//!
//! The table is locked once per accepted connection and once per stream opened or ended, never per
//! request: a request only stores its phase in an atomic of its slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// A request body that delivered no byte for this long is stalled: its connection may be shed.
pub(crate) const STALL: Duration = Duration::from_secs(1);

/// What a connection is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Between requests (or before the first): waiting for request headers.
    Idle = 0,
    /// Serving a request (its headers arrived).
    Request = 1,
    /// Reading a request body.
    Body = 2,
    /// Holding an SSE stream open.
    Stream = 3,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Request,
            2 => Self::Body,
            3 => Self::Stream,
            _ => Self::Idle,
        }
    }
}

/// Budgets of the connection table (see the `McpHttpConfig` fields of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnLimits {
    /// `max_connections`.
    pub(crate) connections: usize,
    /// `max_connections_per_client`.
    pub(crate) connections_per_client: usize,
    /// `max_streams`.
    pub(crate) streams: usize,
    /// `max_streams_per_client`.
    pub(crate) streams_per_client: usize,
}

/// One open connection, shared by the connection task, its I/O wrapper and its requests.
pub(crate) struct ConnSlot {
    key: u64,
    client: IpAddr,
    /// Start of the table's clock, for the millisecond stamps below.
    epoch: Instant,
    phase: AtomicU8,
    /// Bumped by every phase change, so the I/O wrapper sees a request that came and went.
    generation: AtomicU64,
    /// Milliseconds since `epoch` of the last phase change or body progress.
    since_ms: AtomicU64,
    /// Set when a stream starts: the I/O wrapper bounds the socket's send buffer once.
    wants_small_send_buffer: AtomicBool,
    /// Cancelled to shed the connection.
    shed: CancellationToken,
}

impl ConnSlot {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// What the connection is doing now.
    pub(crate) fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    /// The connection now does `phase` (a stream phase is set by [`ConnTable::open_stream`]).
    pub(crate) fn set_phase(&self, phase: Phase) {
        self.since_ms.store(self.now_ms(), Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// How many phase changes the connection has seen.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A request body delivered bytes.
    pub(crate) fn progressed(&self) {
        self.since_ms.store(self.now_ms(), Ordering::Release);
    }

    /// How long the connection has been in its phase (or, reading a body, since its last byte).
    fn quiet_for(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.since_ms.load(Ordering::Acquire))
    }

    /// Resolves when the connection was shed to make room for another.
    pub(crate) fn shed(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.shed.cancelled()
    }

    /// True once (the first time it is asked after a stream started): bound the send buffer now.
    pub(crate) fn take_send_buffer_request(&self) -> bool {
        self.wants_small_send_buffer.swap(false, Ordering::AcqRel)
    }
}

/// Per-address counts.
#[derive(Default, Clone, Copy)]
struct ClientCount {
    connections: usize,
    streams: usize,
}

#[derive(Default)]
struct Table {
    slots: HashMap<u64, Arc<ConnSlot>>,
    clients: HashMap<IpAddr, ClientCount>,
    streams: usize,
    next_key: u64,
}

/// Every open connection of one server.
pub(crate) struct ConnTable {
    table: Mutex<Table>,
    limits: ConnLimits,
    epoch: Instant,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its address already holds `max_connections_per_client` connections, each serving a request.
    ClientConnections,
    /// `max_connections` connections are open and each is serving a request.
    Connections,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamRefused {
    /// `max_streams` streams are open.
    Streams,
    /// The client's address holds `max_streams_per_client` streams.
    ClientStreams,
}

/// What [`ConnTable::admit`] did.
pub(crate) struct Admitted {
    /// The newcomer's slot; dropping it (the connection ended) frees the slot.
    pub(crate) slot: SlotGuard,
    /// Whether another connection was shed to make room.
    pub(crate) shed: bool,
}

/// Frees a connection's slot when dropped.
pub(crate) struct SlotGuard {
    table: Arc<ConnTable>,
    slot: Arc<ConnSlot>,
}

impl SlotGuard {
    /// The connection's slot.
    pub(crate) fn slot(&self) -> &Arc<ConnSlot> {
        &self.slot
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut table = self.table.lock();
        if table.slots.remove(&self.slot.key).is_some() {
            if let Some(count) = table.clients.get_mut(&self.slot.client) {
                count.connections = count.connections.saturating_sub(1);
                if count.connections == 0 && count.streams == 0 {
                    table.clients.remove(&self.slot.client);
                }
            }
        }
    }
}

/// Counts an open stream until dropped; its connection returns to [`Phase::Request`].
pub(crate) struct StreamGuard {
    table: Arc<ConnTable>,
    slot: Arc<ConnSlot>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut table = self.table.lock();
        table.streams = table.streams.saturating_sub(1);
        if let Some(count) = table.clients.get_mut(&self.slot.client) {
            count.streams = count.streams.saturating_sub(1);
            if count.connections == 0 && count.streams == 0 {
                table.clients.remove(&self.slot.client);
            }
        }
        drop(table);
        self.slot.set_phase(Phase::Request);
    }
}

impl ConnTable {
    /// An empty table with these budgets.
    pub(crate) fn new(limits: ConnLimits) -> Arc<Self> {
        Arc::new(Self {
            table: Mutex::new(Table::default()),
            limits,
            epoch: Instant::now(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Open connections now.
    // Read by the /metrics gauges (feature `prometheus`) and the tests.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn connections(&self) -> usize {
        self.lock().slots.len()
    }

    /// Open streams now.
    // Read by the /metrics gauges (feature `prometheus`) and the tests.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn streams(&self) -> usize {
        self.lock().streams
    }

    /// Admit a connection from `client`: refused at its address's cap; at the global cap, the
    /// costliest other connection is shed (see the module docs), or the newcomer refused when none
    /// can be.
    pub(crate) fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Admitted, Refused> {
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.admit_at(client, now_ms)
    }

    /// [`admit`](Self::admit) at `now_ms` on the table's clock.
    fn admit_at(self: &Arc<Self>, client: IpAddr, now_ms: u64) -> Result<Admitted, Refused> {
        let mut table = self.lock();
        let count = table.clients.get(&client).copied().unwrap_or_default();
        // At the address's cap, one of its own connections makes room; at the global cap, anyone's.
        let over = if count.connections >= self.limits.connections_per_client {
            Some((Some(client), Refused::ClientConnections))
        } else if table.slots.len() >= self.limits.connections {
            Some((None, Refused::Connections))
        } else {
            None
        };
        let mut shed = false;
        if let Some((of, refused)) = over {
            let candidates = table
                .slots
                .values()
                .filter(|slot| of.is_none_or(|client| slot.client == client));
            let Some(victim) = costliest(candidates, now_ms) else {
                return Err(refused);
            };
            // Removed now, so the next newcomer does not pick it again; its task ends on the token.
            if let Some(victim) = table.slots.remove(&victim) {
                if let Some(count) = table.clients.get_mut(&victim.client) {
                    count.connections = count.connections.saturating_sub(1);
                    if count.connections == 0 && count.streams == 0 {
                        table.clients.remove(&victim.client);
                    }
                }
                victim.shed.cancel();
                shed = true;
            }
        }
        let key = table.next_key;
        table.next_key += 1;
        let slot = Arc::new(ConnSlot {
            key,
            client,
            epoch: self.epoch,
            phase: AtomicU8::new(Phase::Idle as u8),
            generation: AtomicU64::new(0),
            since_ms: AtomicU64::new(now_ms),
            wants_small_send_buffer: AtomicBool::new(false),
            shed: CancellationToken::new(),
        });
        table.slots.insert(key, slot.clone());
        table.clients.entry(client).or_default().connections += 1;
        Ok(Admitted {
            slot: SlotGuard {
                table: self.clone(),
                slot,
            },
            shed,
        })
    }

    /// The connection of `slot` starts an SSE stream, within `max_streams` and
    /// `max_streams_per_client`.
    pub(crate) fn open_stream(
        self: &Arc<Self>,
        slot: &Arc<ConnSlot>,
    ) -> Result<StreamGuard, StreamRefused> {
        let mut table = self.lock();
        if table.streams >= self.limits.streams {
            return Err(StreamRefused::Streams);
        }
        let count = table.clients.entry(slot.client).or_default();
        if count.streams >= self.limits.streams_per_client {
            return Err(StreamRefused::ClientStreams);
        }
        count.streams += 1;
        table.streams += 1;
        drop(table);
        slot.set_phase(Phase::Stream);
        slot.wants_small_send_buffer.store(true, Ordering::Release);
        Ok(StreamGuard {
            table: self.clone(),
            slot: slot.clone(),
        })
    }
}

/// The key of the connection whose slot costs others most, if any may be shed: the request body
/// stalled longest (no byte for [`STALL`]), else the connection idle longest (at least [`STALL`]),
/// else the oldest stream. A connection serving a request, reading a body that still progresses,
/// or idle only briefly between a client's requests, is never chosen.
fn costliest<'a>(slots: impl Iterator<Item = &'a Arc<ConnSlot>>, now_ms: u64) -> Option<u64> {
    let stall_ms = u64::try_from(STALL.as_millis()).unwrap_or(u64::MAX);
    let mut best: Option<(u8, u64, u64)> = None;
    for slot in slots {
        let quiet = slot.quiet_for(now_ms);
        let rank = match slot.phase() {
            Phase::Body if quiet >= stall_ms => 3,
            Phase::Idle if quiet >= stall_ms => 2,
            Phase::Stream => 1,
            Phase::Idle | Phase::Body | Phase::Request => continue,
        };
        let better = match best {
            None => true,
            Some((best_rank, best_quiet, _)) => (rank, quiet) > (best_rank, best_quiet),
        };
        if better {
            best = Some((rank, quiet, slot.key));
        }
    }
    best.map(|(_, _, key)| key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(connections: usize) -> ConnLimits {
        ConnLimits {
            connections,
            connections_per_client: connections,
            streams: 2,
            streams_per_client: 1,
        }
    }

    fn addr(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    /// "Now" on the table's clock in these tests (stamps are set, not slept for).
    const NOW: u64 = 100_000;

    /// Stamps a slot's phase `ms` before [`NOW`].
    fn age(slot: &ConnSlot, ms: u64) {
        slot.since_ms.store(NOW - ms, Ordering::Release);
    }

    fn admit(table: &Arc<ConnTable>, client: IpAddr) -> Result<Admitted, Refused> {
        table.admit_at(client, NOW)
    }

    #[test]
    fn at_the_cap_a_stalled_body_goes_before_an_idle_connection_and_a_stream() {
        let table = ConnTable::new(limits(3));
        let stream = admit(&table, addr(2)).unwrap().slot;
        let _stream_guard = table.open_stream(stream.slot()).unwrap();
        let idle = admit(&table, addr(2)).unwrap().slot;
        let body = admit(&table, addr(2)).unwrap().slot;
        body.slot().set_phase(Phase::Body);
        for slot in [stream.slot(), idle.slot()] {
            age(slot, 5_000);
        }
        age(body.slot(), 1_500);
        let first = admit(&table, addr(1)).unwrap();
        assert!(first.shed);
        assert!(body.slot().shed.is_cancelled());
        assert!(!idle.slot().shed.is_cancelled());
        assert!(!stream.slot().shed.is_cancelled());
        assert_eq!(table.connections(), 3);
        // Newcomers serving requests are never chosen: next the idle connection, then the stream.
        first.slot.slot().set_phase(Phase::Request);
        let second = admit(&table, addr(1)).unwrap();
        assert!(second.shed);
        assert!(idle.slot().shed.is_cancelled());
        second.slot.slot().set_phase(Phase::Request);
        let third = admit(&table, addr(1)).unwrap();
        assert!(third.shed);
        assert!(stream.slot().shed.is_cancelled());
        third.slot.slot().set_phase(Phase::Request);
        // Every slot serves a request: the next newcomer is refused.
        assert_eq!(admit(&table, addr(5)).err(), Some(Refused::Connections));
        assert_eq!(table.connections(), 3);
    }

    #[test]
    fn an_address_whose_last_connection_was_shed_is_forgotten() {
        let table = ConnTable::new(limits(1));
        let idle = admit(&table, addr(2)).unwrap().slot;
        age(idle.slot(), 5_000);
        let newcomer = admit(&table, addr(1)).unwrap();
        assert!(newcomer.shed);
        assert_eq!(table.lock().clients.len(), 1);
        drop(idle);
        drop(newcomer);
        assert!(table.lock().clients.is_empty());
        assert_eq!(table.connections(), 0);
    }

    #[test]
    fn a_progressing_body_and_a_request_are_never_shed() {
        let table = ConnTable::new(limits(2));
        let body = admit(&table, addr(2)).unwrap().slot;
        body.slot().set_phase(Phase::Body);
        age(body.slot(), 500);
        let request = admit(&table, addr(2)).unwrap().slot;
        request.slot().set_phase(Phase::Request);
        age(request.slot(), 60_000);
        assert_eq!(admit(&table, addr(1)).err(), Some(Refused::Connections));
        assert_eq!(table.connections(), 2);
        drop(body);
        assert_eq!(table.connections(), 1);
        assert!(!admit(&table, addr(1)).unwrap().shed);
    }

    #[test]
    fn per_address_connection_and_stream_caps() {
        let table = ConnTable::new(ConnLimits {
            connections: 10,
            connections_per_client: 2,
            streams: 2,
            streams_per_client: 1,
        });
        let a = admit(&table, addr(2)).unwrap().slot;
        let b = admit(&table, addr(2)).unwrap().slot;
        let other = admit(&table, addr(3)).unwrap().slot;
        age(other.slot(), 50_000);
        for slot in [a.slot(), b.slot()] {
            slot.set_phase(Phase::Request);
        }
        // The address's connections all serve requests: refused, and no other address pays for it.
        assert_eq!(
            admit(&table, addr(2)).err(),
            Some(Refused::ClientConnections)
        );
        assert!(!other.slot().shed.is_cancelled());
        drop(other);
        // One of them idle again: it makes room for its own address's newcomer.
        b.slot().set_phase(Phase::Idle);
        let newcomer = admit(&table, addr(2)).unwrap();
        assert!(newcomer.shed);
        assert!(b.slot().shed.is_cancelled());
        drop(newcomer);
        let first = table.open_stream(a.slot()).unwrap();
        assert_eq!(a.slot().phase(), Phase::Stream);
        assert!(a.slot().take_send_buffer_request());
        assert!(!a.slot().take_send_buffer_request());
        assert_eq!(
            table.open_stream(b.slot()).err(),
            Some(StreamRefused::ClientStreams)
        );
        let c = admit(&table, addr(3)).unwrap().slot;
        let second = table.open_stream(c.slot()).unwrap();
        let d = admit(&table, addr(4)).unwrap().slot;
        assert_eq!(
            table.open_stream(d.slot()).err(),
            Some(StreamRefused::Streams)
        );
        assert_eq!(table.streams(), 2);
        drop(first);
        assert_eq!(a.slot().phase(), Phase::Request);
        assert_eq!(table.streams(), 1);
        assert!(table.open_stream(b.slot()).is_ok());
        drop(second);
    }
}
