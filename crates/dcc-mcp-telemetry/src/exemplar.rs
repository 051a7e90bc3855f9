//! Exemplars: a W3C trace id, the observed value and the time, kept per histogram bucket.
//!
//! Why cells: an exemplar is written by the recording thread into four cells of its own shard
//! (trace id high and low halves, value bits, timestamp), inside the same sequence window as the
//! observation it describes, so recording one takes no lock and shares no cache line, and a scrape
//! reads each shard's exemplar whole (never one call's trace id with another's value). Each shard
//! keeps the last exemplar it recorded per bucket; the merge keeps, per bucket, the newest of the
//! shards' exemplars (last writer wins, by timestamp). Exemplars are samples, not counts: when an
//! exited thread's values are retired into the registry's accumulator, its exemplars are dropped.

use std::fmt;

/// A W3C trace id (16 bytes, not all zero): the `trace-id` field of a `traceparent`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

impl TraceId {
    /// Parses a `traceparent` value (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`;
    /// later versions may append fields). `None` for anything malformed, version `ff`, or an
    /// all-zero trace or parent id, as the W3C Trace Context spec requires.
    pub fn from_traceparent(value: &str) -> Option<TraceId> {
        let v = value.trim().as_bytes();
        if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
            return None;
        }
        let version = hex_bytes::<1>(&v[0..2])?;
        let trace = hex_bytes::<16>(&v[3..35])?;
        let parent = hex_bytes::<8>(&v[36..52])?;
        hex_bytes::<1>(&v[53..55])?;
        let ok = version[0] != 0xff
            && (version[0] != 0 || v.len() == 55)
            && (v.len() == 55 || v[55] == b'-')
            && trace != [0; 16]
            && parent != [0; 8];
        ok.then_some(TraceId(trace))
    }

    /// The id as two `u64` halves (big-endian), as stored in the cells.
    pub(crate) fn halves(self) -> (u64, u64) {
        let mut hi = [0u8; 8];
        let mut lo = [0u8; 8];
        hi.copy_from_slice(&self.0[..8]);
        lo.copy_from_slice(&self.0[8..]);
        (u64::from_be_bytes(hi), u64::from_be_bytes(lo))
    }

    pub(crate) fn from_halves(hi: u64, lo: u64) -> TraceId {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&hi.to_be_bytes());
        b[8..].copy_from_slice(&lo.to_be_bytes());
        TraceId(b)
    }
}

/// Lowercase hex, as in `traceparent`.
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// Lowercase hex only (the spec forbids uppercase).
fn hex_bytes<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nib(s[2 * i])? << 4) | nib(s[2 * i + 1])?;
    }
    Some(out)
}

/// One bucket's exemplar in a snapshot: exposed as `{trace_id="…"} value timestamp`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// The trace the observation belongs to.
    pub trace_id: TraceId,
    /// The observed value.
    pub value: f64,
    /// When it was recorded, Unix nanoseconds.
    pub timestamp_ns: u64,
}

/// Cells per exemplar slot: trace id high, trace id low, value bits, timestamp (0: empty).
pub(crate) const SLOT_CELLS: usize = 4;

impl Exemplar {
    /// The slot's cells.
    pub(crate) fn to_cells(self) -> [u64; SLOT_CELLS] {
        let (hi, lo) = self.trace_id.halves();
        [hi, lo, self.value.to_bits(), self.timestamp_ns.max(1)]
    }

    /// The exemplar a slot holds, `None` while it is empty.
    pub(crate) fn from_cells(c: &[u64]) -> Option<Exemplar> {
        (c[3] != 0).then(|| Exemplar {
            trace_id: TraceId::from_halves(c[0], c[1]),
            value: f64::from_bits(c[2]),
            timestamp_ns: c[3],
        })
    }

    /// An exemplar of `value` for `trace_id`, stamped now.
    pub(crate) fn now(trace_id: TraceId, value: f64) -> Exemplar {
        let timestamp_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
        Exemplar {
            trace_id,
            value,
            timestamp_ns,
        }
    }
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_parses_and_prints_back() {
        let id = TraceId::from_traceparent(TP);
        assert_eq!(
            id.map(|t| t.to_string()).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let t = id.unwrap_or(TraceId([0; 16]));
        let (hi, lo) = t.halves();
        assert_eq!(TraceId::from_halves(hi, lo), t);
        // A future version may append fields after a dash.
        let future = format!("01{}-extra", &TP[2..]);
        assert_eq!(TraceId::from_traceparent(&future), id);
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceId::from_traceparent(bad), None, "{bad}");
        }
    }
}
