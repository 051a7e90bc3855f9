//! A global budget of request-body bytes being read, so that `max_connections × max_body_bytes` is
//! no longer the memory a crowd of slow uploads can pin.
//!
//! Each body is read frame by frame; every frame's bytes are reserved from the shared budget
//! (`max_body_bytes_in_flight`) before they are kept, and given back when the request that read them
//! is done. A body whose next frame does not fit is refused (`503`, `Retry-After`, counted as
//! `dcc_mcp_rejected_total{reason="body_budget"}`) and its connection closed, so the bytes already
//! read are freed at once. While a body is read, its connection's slot is in
//! [`Phase::Body`](crate::conn_budget::Phase::Body) and each frame stamps progress, so a body that
//! stalls can be shed at the connection cap ([`crate::conn_budget`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use http_body_util::BodyExt;

use crate::conn_budget::{ConnSlot, Phase};

/// The shared budget of body bytes being read.
pub(crate) struct BodyBudget {
    used: AtomicUsize,
    limit: usize,
}

/// Bytes reserved from a [`BodyBudget`]; given back when dropped.
pub(crate) struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Longer than `max_body_bytes`.
    TooLarge,
    /// The next frame would pass `max_body_bytes_in_flight`.
    OverBudget,
    /// The connection failed while the body was read.
    Unreadable,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            limit,
        })
    }

    /// Body bytes being read (or held by requests not yet done) now.
    // Read by the /metrics gauges (feature `prometheus`) and the tests.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The configured budget.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Read `body` whole, at most `max` bytes, reserving every frame from the budget. The
    /// reservation lives as long as the returned guard.
    pub(crate) async fn read(
        self: &Arc<Self>,
        mut body: Body,
        max: usize,
        slot: Option<&ConnSlot>,
    ) -> Result<(Bytes, Reservation), BodyError> {
        let mut reservation = Reservation {
            budget: self.clone(),
            bytes: 0,
        };
        if let Some(slot) = slot {
            slot.set_phase(Phase::Body);
        }
        let read = async {
            let mut first: Option<Bytes> = None;
            let mut joined: Option<BytesMut> = None;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|_| BodyError::Unreadable)?;
                let Ok(data) = frame.into_data() else {
                    continue; // trailers
                };
                if let Some(slot) = slot {
                    slot.progressed();
                }
                if reservation.bytes + data.len() > max {
                    return Err(BodyError::TooLarge);
                }
                if !self.reserve(data.len()) {
                    return Err(BodyError::OverBudget);
                }
                reservation.bytes += data.len();
                match (&mut first, &mut joined) {
                    (None, None) => first = Some(data),
                    (Some(head), None) => {
                        let mut buffer = BytesMut::with_capacity(head.len() + data.len());
                        buffer.extend_from_slice(head);
                        buffer.extend_from_slice(&data);
                        first = None;
                        joined = Some(buffer);
                    }
                    (_, Some(buffer)) => buffer.extend_from_slice(&data),
                }
            }
            Ok(match joined {
                Some(buffer) => buffer.freeze(),
                None => first.unwrap_or_default(),
            })
        };
        let result = read.await;
        if let Some(slot) = slot {
            slot.set_phase(Phase::Request);
        }
        result.map(|bytes| (bytes, reservation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> Body {
        let frames = parts
            .iter()
            .map(|part| Ok::<_, std::io::Error>(Bytes::from_static(part)))
            .collect::<Vec<_>>();
        Body::from_stream(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_is_read_whole_and_its_bytes_are_held_until_the_reservation_drops() {
        let budget = BodyBudget::new(10);
        let (bytes, reservation) = budget
            .read(chunked(&[b"abc", b"def"]), 100, None)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"abcdef");
        assert_eq!(budget.used(), 6);
        // Another body of 5 bytes does not fit the 4 left.
        assert_eq!(
            budget
                .read(chunked(&[b"12", b"345"]), 100, None)
                .await
                .err(),
            Some(BodyError::OverBudget)
        );
        assert_eq!(budget.used(), 6);
        drop(reservation);
        assert_eq!(budget.used(), 0);
        assert!(budget
            .read(chunked(&[b"12", b"345"]), 100, None)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_body_over_the_per_request_limit_is_too_large_and_frees_its_bytes() {
        let budget = BodyBudget::new(100);
        assert_eq!(
            budget.read(chunked(&[b"abc", b"def"]), 5, None).await.err(),
            Some(BodyError::TooLarge)
        );
        assert_eq!(budget.used(), 0);
    }
}
