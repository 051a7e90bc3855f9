//! The connection loop: hyper-util HTTP/1 with a header-read timeout, a keep-alive idle timeout,
//! connection slots ([`crate::conn_budget`]), a write timeout and graceful shutdown.
//!
//! hyper's own `header_read_timeout` also runs while a keep-alive connection waits for its next
//! request, so a client pausing longer than the header timeout lost its connection. It is off here;
//! [`FirstByteDeadline`] keeps both clocks instead: a new connection must deliver its first request
//! headers within `header_read_timeout` of connecting (also when it sends nothing at all); between
//! requests a connection may stay silent for `keep_alive_timeout`, after which it is closed cleanly
//! (end of stream while idle, no response), and once the next request's first byte arrives its
//! headers again have `header_read_timeout`. A write that makes no progress for `write_timeout` (a
//! client that stopped reading, e.g. an SSE stream nobody drains) fails, which closes the connection.
//! At `max_connections` the costliest open connection is shed to admit the newcomer, which is only
//! answered `503` when every slot serves a request. Each request carries its peer's address as a
//! [`ClientAddr`] extension (per-address budgets) and its connection's [`ConnSlot`].
//!
//! The read clocks cost no allocation and no timer-wheel move per request: each connection has one
//! timer, re-armed in place, and never armed more than `header_read_timeout` ahead. Re-arming a
//! timer to a later instant is an atomic store in tokio, while moving one earlier, or dropping and
//! registering a new one (what a fresh `sleep` per phase did, two of each per request), locks the
//! timer driver. The longer keep-alive clock is kept as its own instant and checked when the timer
//! fires, so an idle connection wakes once per `header_read_timeout` until it is due.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::conn_budget::{ConnSlot, ConnTable, Phase, Refused};
use crate::record::{Recorder, Rejection};

/// Timeouts and limits of the connection loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeTimeouts {
    pub(crate) header_read: Duration,
    pub(crate) keep_alive: Duration,
    pub(crate) write: Duration,
    pub(crate) shutdown: Duration,
    /// `stream_send_buffer_bytes`: `SO_SNDBUF` of a connection once it holds an SSE stream.
    pub(crate) stream_send_buffer: usize,
}

/// The address of the client a request came from (a request extension set by the connection loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// What a connection past `max_connections` gets before it is closed.
const CONNECTION_LIMIT_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 64\r\n\r\n\
503 Service Unavailable: too many open connections; retry later\n";

/// What a connection past `max_connections_per_client` gets before it is closed.
const CLIENT_CONNECTION_LIMIT_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 76\r\n\r\n\
503 Service Unavailable: too many open connections from your address; retry\n";

/// The router, with the peer address and the connection's slot inserted into every request of one
/// connection.
#[derive(Clone)]
struct WithClientAddr {
    router: Router,
    client: ClientAddr,
    slot: Arc<ConnSlot>,
}

impl tower::Service<Request<hyper::body::Incoming>> for WithClientAddr {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<hyper::body::Incoming>) -> Self::Future {
        self.slot.set_phase(Phase::Request);
        request.extensions_mut().insert(self.client);
        request.extensions_mut().insert(self.slot.clone());
        let call = crate::dispatch::REQUEST_CLIENT.scope(self.client.0, self.router.call(request));
        let slot = self.slot.clone();
        Box::pin(async move {
            let response = call.await?;
            // The connection is idle again once hyper is done with the response body (it drops it).
            let idle = IdleOnDrop(slot);
            Ok(response.map(move |body| {
                axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                    let _idle = &idle;
                    frame
                }))
            }))
        })
    }
}

/// Marks its connection idle (between requests) when dropped.
struct IdleOnDrop(Arc<ConnSlot>);

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        self.0.set_phase(Phase::Idle);
    }
}

/// Accept and serve connections until `stop` resolves, then shut down gracefully within the deadline.
/// `streams` is cancelled first so long-lived SSE responses end and do not hold the shutdown.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: ServeTimeouts,
    stop: impl Future<Output = ()>,
    streams: CancellationToken,
    recorder: Recorder,
    table: Arc<ConnTable>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    // Header and keep-alive deadlines are kept by `FirstByteDeadline` (see the module docs).
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let admitted = match table.admit(peer.ip()) {
                        Ok(admitted) => admitted,
                        Err(refused) => {
                            let (reason, response) = match refused {
                                Refused::Connections => {
                                    (Rejection::ConnectionLimit, CONNECTION_LIMIT_RESPONSE)
                                }
                                Refused::ClientConnections => (
                                    Rejection::ClientConnectionLimit,
                                    CLIENT_CONNECTION_LIMIT_RESPONSE,
                                ),
                            };
                            recorder.rejected(reason);
                            // Best effort and never blocking: a fresh socket's send buffer is empty.
                            let _ = stream.try_write(response);
                            drop(stream);
                            continue;
                        }
                    };
                    if admitted.shed {
                        recorder.rejected(Rejection::ConnectionShed);
                    }
                    let guard = admitted.slot;
                    let slot = guard.slot().clone();
                    let _ = stream.set_nodelay(true);
                    let io = TokioIo::new(FirstByteDeadline::new(
                        stream,
                        timeouts,
                        recorder.clone(),
                        slot.clone(),
                    ));
                    let service = TowerToHyperService::new(WithClientAddr {
                        router: router.clone(),
                        client: ClientAddr(peer),
                        slot: slot.clone(),
                    });
                    let connection = graceful.watch(builder.serve_connection(io, service));
                    tokio::spawn(async move {
                        tokio::select! {
                            result = connection => {
                                if let Err(error) = result {
                                    tracing::debug!(%error, "connection closed with an error");
                                }
                            }
                            // Shed to make room for a newcomer: dropping the connection closes it.
                            () = slot.shed() => tracing::debug!("connection shed at the connection cap"),
                        }
                        drop(guard);
                    });
                }
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut stop => break,
        }
    }
    drop(listener);
    streams.cancel();
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("all connections closed"),
        () = tokio::time::sleep(timeouts.shutdown) => {
            tracing::warn!("graceful shutdown deadline passed; dropping remaining connections");
        }
    }
}

/// Which read deadline is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadClock {
    /// No read deadline (a request is being served).
    Off,
    /// A new connection's first request headers, counted from the accept.
    FirstHead,
    /// Silence between requests: expiry closes the connection cleanly.
    KeepAlive,
    /// The headers of a later request, counted from its first byte.
    Head,
}

/// A TCP stream that keeps the connection's read deadlines (see the module docs): reads fail with
/// `TimedOut` when request headers are late, end cleanly when an idle keep-alive connection stays
/// silent for the keep-alive timeout, and writes fail with `TimedOut` when one makes no progress
/// for the write timeout.
pub(crate) struct FirstByteDeadline {
    stream: TcpStream,
    /// The connection's one read timer: at or before `due`, never later than `header_read` ahead.
    deadline: Pin<Box<Sleep>>,
    /// When the armed clock expires (meaningless while `clock` is `Off`).
    due: Instant,
    clock: ReadClock,
    header_read: Duration,
    keep_alive: Duration,
    /// The slot's phase generation when last read: a change to idle re-arms the keep-alive clock.
    seen: u64,
    slot: Arc<ConnSlot>,
    stream_send_buffer: usize,
    write_timeout: Duration,
    /// Armed while a write is pending (the client is not reading); cleared by any progress.
    write_deadline: Option<Pin<Box<Sleep>>>,
    recorder: Recorder,
}

impl FirstByteDeadline {
    pub(crate) fn new(
        stream: TcpStream,
        timeouts: ServeTimeouts,
        recorder: Recorder,
        slot: Arc<ConnSlot>,
    ) -> Self {
        let due = Instant::now() + timeouts.header_read;
        Self {
            stream,
            deadline: Box::pin(tokio::time::sleep_until(due)),
            due,
            clock: ReadClock::FirstHead,
            header_read: timeouts.header_read,
            keep_alive: timeouts.keep_alive,
            seen: slot.generation(),
            slot,
            stream_send_buffer: timeouts.stream_send_buffer,
            write_timeout: timeouts.write,
            write_deadline: None,
            recorder,
        }
    }

    fn arm(&mut self, clock: ReadClock, after: Duration) {
        let now = Instant::now();
        self.clock = clock;
        self.due = now + after;
        // Not further ahead than a header deadline, so the next arming only ever moves it later.
        self.deadline
            .as_mut()
            .reset(now + after.min(self.header_read));
    }

    /// Whether the armed clock has expired; registers the task's wake-up when it has not.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.clock == ReadClock::Off {
            return false;
        }
        while self.deadline.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if now >= self.due {
                return true;
            }
            // The timer ran ahead of the (keep-alive) clock: step on toward it.
            self.deadline
                .as_mut()
                .reset(self.due.min(now + self.header_read));
        }
        false
    }

    /// Follow the connection's phase: no read deadline while a request is served; the keep-alive
    /// clock once it is idle again.
    fn follow_phase(&mut self) {
        let generation = self.slot.generation();
        if generation == self.seen {
            return;
        }
        self.seen = generation;
        if self.slot.phase() == Phase::Idle {
            let keep_alive = self.keep_alive;
            self.arm(ReadClock::KeepAlive, keep_alive);
        } else {
            // The timer stays armed; it fires at most once more, and is then not polled.
            self.clock = ReadClock::Off;
        }
    }

    /// Once the connection holds a stream, bound its kernel send buffer (`SO_SNDBUF`).
    fn bound_send_buffer(&mut self) {
        if self.slot.take_send_buffer_request() {
            let socket = socket2::SockRef::from(&self.stream);
            if let Err(error) = socket.set_send_buffer_size(self.stream_send_buffer) {
                tracing::debug!(%error, "cannot bound the send buffer of a stream");
            }
        }
    }

    /// Turn a pending write into an error once it has made no progress for the write timeout.
    fn pending_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.write_deadline = None;
            return poll;
        }
        let timeout = self.write_timeout;
        let deadline = self
            .write_deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            self.write_deadline = None;
            self.recorder.rejected(Rejection::WriteTimeout);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing within the write timeout",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for FirstByteDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.follow_phase();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before && this.clock == ReadClock::KeepAlive {
                    // The next request began: its headers have the header timeout from now.
                    let header_read = this.header_read;
                    this.arm(ReadClock::Head, header_read);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                if !this.poll_expired(cx) {
                    return Poll::Pending;
                }
                if this.clock == ReadClock::KeepAlive {
                    // Idle past the keep-alive timeout: end of stream, so hyper closes cleanly.
                    this.clock = ReadClock::Off;
                    return Poll::Ready(Ok(()));
                }
                this.clock = ReadClock::Off;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client did not send its request headers within the header read timeout",
                )))
            }
        }
    }
}

impl AsyncWrite for FirstByteDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.bound_send_buffer();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.pending_write(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        this.pending_write(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.bound_send_buffer();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.pending_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_responses_declare_their_length() {
        for response in [CONNECTION_LIMIT_RESPONSE, CLIENT_CONNECTION_LIMIT_RESPONSE] {
            let text = std::str::from_utf8(response).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with("HTTP/1.1 503 "));
            assert!(
                head.ends_with(&format!("\r\ncontent-length: {}", body.len())),
                "{head}"
            );
        }
    }
}
