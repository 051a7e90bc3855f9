//! The replay buffer of a session's `GET /mcp` stream: what a reconnecting client missed.
//!
//! Every message the stream sends gets the next event id of its session (`id: N`, from 1). The last
//! messages sent are kept here, bounded by count ([`REPLAY_CAPACITY`]) and by bytes, so a client
//! that lost its connection (or whose idle stream the server closed) reconnects with
//! `Last-Event-ID: N` and gets what came after `N` first (2025-11-25 resumability). What fell out of
//! the buffer cannot be replayed; the client is told how much with a gap (see [`Resume`]), and gets
//! the rest.

use std::collections::VecDeque;

/// Most messages kept for replay per session.
pub(crate) const REPLAY_CAPACITY: usize = 256;

/// The last messages a session's stream sent, with their event ids.
#[derive(Debug)]
pub(crate) struct ReplayBuffer {
    sent: VecDeque<(u64, String)>,
    bytes: usize,
    max_bytes: usize,
    last_id: u64,
}

/// What a reconnect with `Last-Event-ID` gets back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Resume {
    /// The messages after the client's last id that are still buffered, oldest first.
    pub(crate) messages: Vec<(u64, String)>,
    /// How many messages after the client's last id fell out of the buffer (0: nothing lost).
    pub(crate) lost: u64,
}

impl ReplayBuffer {
    /// An empty buffer holding at most `max_bytes` of messages (and [`REPLAY_CAPACITY`] of them).
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            sent: VecDeque::new(),
            bytes: 0,
            max_bytes,
            last_id: 0,
        }
    }

    /// The id of the last message sent (0: none yet).
    pub(crate) fn last_id(&self) -> u64 {
        self.last_id
    }

    /// Record `message` as sent; returns its event id. The oldest messages make room.
    pub(crate) fn record(&mut self, message: &str) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        if message.len() > self.max_bytes {
            // Too large to keep: a resume past it reports it lost.
            return id;
        }
        while self.sent.len() >= REPLAY_CAPACITY || self.bytes + message.len() > self.max_bytes {
            match self.sent.pop_front() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
        self.bytes += message.len();
        self.sent.push_back((id, message.to_owned()));
        id
    }

    /// What came after `last_seen` (an id this session's stream sent). An id from the future (not
    /// sent by this session) replays nothing.
    pub(crate) fn since(&self, last_seen: u64) -> Resume {
        if last_seen >= self.last_id {
            return Resume {
                messages: Vec::new(),
                lost: 0,
            };
        }
        let messages: Vec<(u64, String)> = self
            .sent
            .iter()
            .filter(|(id, _)| *id > last_seen)
            .cloned()
            .collect();
        let missed = self.last_id - last_seen;
        Resume {
            lost: missed - messages.len() as u64,
            messages,
        }
    }
}

/// A `Last-Event-ID` header value as an event id of the session stream (`None`: not one of ours).
pub(crate) fn parse_event_id(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ids(resume: &Resume) -> Vec<u64> {
        resume.messages.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn ids_count_from_one_and_resume_after_the_last_seen() {
        let mut buffer = ReplayBuffer::new(1024);
        assert_eq!(buffer.last_id(), 0);
        assert_eq!(buffer.record("a"), 1);
        assert_eq!(buffer.record("b"), 2);
        assert_eq!(buffer.record("c"), 3);
        let resume = buffer.since(1);
        assert_eq!(
            resume.messages,
            vec![(2, "b".to_owned()), (3, "c".to_owned())]
        );
        assert_eq!(resume.lost, 0);
        assert_eq!(
            buffer.since(3),
            Resume {
                messages: vec![],
                lost: 0
            }
        );
        assert_eq!(
            buffer.since(99),
            Resume {
                messages: vec![],
                lost: 0
            }
        );
        assert_eq!(ids(&buffer.since(0)), vec![1, 2, 3]);
    }

    #[test]
    fn the_buffer_is_bounded_by_count_and_bytes_and_reports_what_it_lost() {
        let mut buffer = ReplayBuffer::new(10);
        for message in ["aaaa", "bbbb", "cccc"] {
            buffer.record(message);
        }
        // 12 bytes do not fit in 10: the oldest went.
        let resume = buffer.since(0);
        assert_eq!(ids(&resume), vec![2, 3]);
        assert_eq!(resume.lost, 1);
        // A message larger than the whole budget is not kept, but it has its id.
        assert_eq!(buffer.record("x".repeat(11).as_str()), 4);
        let resume = buffer.since(2);
        assert_eq!(ids(&resume), vec![3]);
        assert_eq!(resume.lost, 1);

        let mut counted = ReplayBuffer::new(usize::MAX);
        for _ in 0..REPLAY_CAPACITY + 5 {
            counted.record("m");
        }
        let resume = counted.since(0);
        assert_eq!(resume.messages.len(), REPLAY_CAPACITY);
        assert_eq!(resume.messages[0].0, 6);
        assert_eq!(resume.lost, 5);
    }

    #[test]
    fn only_plain_decimal_ids_are_ours() {
        assert_eq!(parse_event_id("17"), Some(17));
        assert_eq!(parse_event_id(" 17 "), Some(17));
        for other in ["", "-1", "1.5", "abc", "99999999999999999999999", "+3"] {
            assert_eq!(parse_event_id(other), None, "{other}");
        }
    }
}
