//! The replay buffer of a session's `GET /mcp` stream: what a reconnecting client missed.
//!
//! Every message the stream sends gets the next event id of its session (`id: N`, from 1). The last
//! messages sent are kept here, bounded by count ([`REPLAY_CAPACITY`]) and by bytes, so a client
//! that lost its connection (or whose idle stream the server closed) reconnects with
//! `Last-Event-ID: N` and gets what came after `N` first (2025-11-25 resumability). What fell out of
//! the buffer cannot be replayed; the client is told how much with a gap (see [`Resume`]), and gets
//! the rest.
//!
//! A `POST` answered as SSE is a stream of its own (2025-11-25 SSE polling): it is primed with an
//! event id of the form `p<stream>-<n>`, and when its handler asks to close it before the response
//! ([`crate::ToolContext::close_stream`]), what the call sends afterwards is kept as a
//! [`ParkedStream`], numbered after what the `POST` sent. A `GET` with that `Last-Event-ID` gets the
//! rest of that stream only, never the session stream's messages ([`ResumePoint`] tells the two
//! apart).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

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
        Self::after(max_bytes, 0)
    }

    /// [`new`](Self::new), whose first message gets id `last_id + 1` (ids up to `last_id` went out
    /// elsewhere: on the `POST` stream before it was closed).
    pub(crate) fn after(max_bytes: usize, last_id: u64) -> Self {
        Self {
            sent: VecDeque::new(),
            bytes: 0,
            max_bytes,
            last_id,
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

/// Plain decimal digits as a number (`None`: anything else, or too large).
fn decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Where a `GET` with `Last-Event-ID` asks to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResumePoint {
    /// The session's own `GET` stream, after event `N` (ids `N`).
    Session(u64),
    /// The SSE answer of a `POST`, after its event `seen` (ids `p<stream>-<seen>`).
    Post {
        /// The session's number for that `POST` stream.
        stream: u64,
        /// The last event of it the client saw (0: the priming event).
        seen: u64,
    },
}

/// A `Last-Event-ID` header value as a resume point (`None`: not an id this server sends).
pub(crate) fn parse_resume_point(value: &str) -> Option<ResumePoint> {
    let value = value.trim();
    if let Some(post) = value.strip_prefix('p') {
        let (stream, seen) = post.split_once('-')?;
        return Some(ResumePoint::Post {
            stream: decimal(stream)?,
            seen: decimal(seen)?,
        });
    }
    decimal(value).map(ResumePoint::Session)
}

/// The event id of event `n` of `POST` stream `stream` (0: its priming event).
pub(crate) fn post_event_id(stream: u64, n: u64) -> String {
    format!("p{stream}-{n}")
}

/// Most closed `POST` streams a session keeps for a resume; a newer one makes the oldest go (a
/// resume of that one is answered as unknown).
pub(crate) const PARKED_STREAMS: usize = 4;

/// The rest of a `POST`'s SSE answer after the server closed it: the messages and the response its
/// call sends from then on, for a `GET` that resumes it.
#[derive(Debug)]
pub(crate) struct ParkedStream {
    state: Mutex<Parked>,
    wake: Notify,
}

#[derive(Debug)]
struct Parked {
    buffer: ReplayBuffer,
    /// Nothing more comes: the call's response is in the buffer, or the call was dropped.
    done: bool,
    /// The last message is the call's response.
    responded: bool,
}

/// What a resume of a parked stream finds after the client's last event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rest {
    /// Buffered messages after it, and how many were lost.
    pub(crate) resume: Resume,
    /// The id of the last message recorded so far.
    pub(crate) last_id: u64,
    /// Nothing more will be recorded.
    pub(crate) done: bool,
    /// The id of the call's response, once it is recorded (the rest are notifications and requests).
    pub(crate) response_id: Option<u64>,
}

impl ParkedStream {
    fn new(max_bytes: usize, sent: u64) -> Self {
        Self {
            state: Mutex::new(Parked {
                buffer: ReplayBuffer::after(max_bytes, sent),
                done: false,
                responded: false,
            }),
            wake: Notify::new(),
        }
    }

    /// Keep the call's response, the last message.
    pub(crate) fn respond(&self, response: &str) {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.buffer.record(response);
            state.responded = true;
            state.done = true;
        }
        self.wake.notify_waiters();
    }

    /// Keep one more message the call sent before its response.
    pub(crate) fn record(&self, message: &str) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buffer
            .record(message);
        self.wake.notify_waiters();
    }

    /// Nothing more comes: a resumed stream ends once it sent what is buffered.
    pub(crate) fn finish(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .done = true;
        self.wake.notify_waiters();
    }

    /// What came after event `seen`; `None` when `seen` is past what this stream sent.
    pub(crate) fn after(&self, seen: u64) -> Option<Rest> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let last_id = state.buffer.last_id();
        (seen <= last_id).then(|| Rest {
            resume: state.buffer.since(seen),
            last_id,
            done: state.done,
            response_id: state.responded.then_some(last_id),
        })
    }

    /// Resolves at the next [`record`](Self::record) or [`finish`](Self::finish) (create it
    /// before looking with [`after`](Self::after)).
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }
}

/// The closed `POST` streams of one session, newest last, at most [`PARKED_STREAMS`].
#[derive(Debug)]
pub(crate) struct ParkedStreams {
    streams: VecDeque<(u64, Arc<ParkedStream>)>,
    max_bytes: usize,
}

impl ParkedStreams {
    /// None yet; each keeps at most `max_bytes` of messages.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            streams: VecDeque::new(),
            max_bytes,
        }
    }

    /// Keep the rest of `POST` stream `stream`, which sent events up to `sent`.
    pub(crate) fn park(&mut self, stream: u64, sent: u64) -> Arc<ParkedStream> {
        if self.streams.len() >= PARKED_STREAMS {
            if let Some((_, oldest)) = self.streams.pop_front() {
                oldest.finish();
            }
        }
        let parked = Arc::new(ParkedStream::new(self.max_bytes, sent));
        self.streams.push_back((stream, Arc::clone(&parked)));
        parked
    }

    /// The parked stream `stream`, if it is still kept.
    pub(crate) fn get(&self, stream: u64) -> Option<Arc<ParkedStream>> {
        self.streams
            .iter()
            .find(|(id, _)| *id == stream)
            .map(|(_, parked)| Arc::clone(parked))
    }

    /// Forget them all (the session ended); a resumed stream that waits on one ends.
    pub(crate) fn clear(&mut self) {
        for (_, parked) in self.streams.drain(..) {
            parked.finish();
        }
    }
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
    fn post_stream_ids_name_their_stream_and_event() {
        assert_eq!(post_event_id(3, 0), "p3-0");
        assert_eq!(
            parse_resume_point(" p3-12 "),
            Some(ResumePoint::Post {
                stream: 3,
                seen: 12
            })
        );
        assert_eq!(parse_resume_point("42"), Some(ResumePoint::Session(42)));
        for other in ["", "p", "p3", "p-1", "p3-", "p3-x", "q3-1", "p3--1", "3-1"] {
            assert_eq!(parse_resume_point(other), None, "{other}");
        }
    }

    #[test]
    fn a_parked_stream_numbers_after_the_post_and_ends_when_finished() {
        let mut parked = ParkedStreams::new(1024);
        let stream = parked.park(7, 2);
        assert_eq!(
            stream.after(2),
            Some(Rest {
                resume: Resume {
                    messages: vec![],
                    lost: 0
                },
                last_id: 2,
                done: false,
                response_id: None
            })
        );
        stream.record("progress");
        stream.respond("result");
        let rest = stream.after(2).unwrap();
        assert_eq!(
            rest.resume.messages,
            vec![(3, "progress".to_owned()), (4, "result".to_owned())]
        );
        assert!(rest.done);
        assert_eq!(rest.response_id, Some(4));
        // Events 1 and 2 went out on the POST stream; they are not here to replay.
        assert_eq!(stream.after(0).unwrap().resume.lost, 2);
        assert_eq!(stream.after(5), None);
        assert!(parked.get(7).is_some());
        assert!(parked.get(8).is_none());
    }

    #[test]
    fn at_most_the_newest_parked_streams_are_kept() {
        let mut parked = ParkedStreams::new(1024);
        let first = parked.park(1, 0);
        for stream in 2..=PARKED_STREAMS as u64 + 1 {
            parked.park(stream, 0);
        }
        assert!(parked.get(1).is_none());
        assert!(first.after(0).unwrap().done);
        assert!(parked.get(2).is_some());
        parked.clear();
        assert!(parked.get(2).is_none());
    }

    #[test]
    fn only_plain_decimal_ids_are_ours() {
        assert_eq!(parse_resume_point("17"), Some(ResumePoint::Session(17)));
        assert_eq!(parse_resume_point(" 17 "), Some(ResumePoint::Session(17)));
        assert_eq!(
            parse_resume_point("p3-0"),
            Some(ResumePoint::Post { stream: 3, seen: 0 })
        );
        for other in [
            "",
            "-1",
            "1.5",
            "abc",
            "99999999999999999999999",
            "+3",
            "p",
            "p3",
            "p-1",
            "p3-",
            "p3-x",
        ] {
            assert_eq!(parse_resume_point(other), None, "{other}");
        }
    }
}
