//! The connection loop: hyper-util HTTP/1 with a header-read timeout, a cap on open connections, a
//! write timeout and graceful shutdown.
//!
//! axum's own `serve` installs no hyper timer, so a client could hold a connection forever by sending
//! its headers slowly. hyper's `header_read_timeout` only starts at the first byte, so
//! [`FirstByteDeadline`] also closes connections that send nothing at all, and fails a write that
//! makes no progress for `write_timeout` (a client that stopped reading, e.g. an SSE stream nobody
//! drains), which closes the connection. Past `max_connections` open connections, a new one is
//! answered `503` at once and closed, so a flood cannot take the host application's file descriptors.
//! Each request carries its peer's address as a [`ClientAddr`] extension (per-address budgets).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
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
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use crate::record::{Recorder, Rejection};

/// Timeouts and limits of the connection loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeTimeouts {
    pub(crate) header_read: Duration,
    pub(crate) write: Duration,
    pub(crate) shutdown: Duration,
    pub(crate) max_connections: usize,
}

/// The address of the client a request came from (a request extension set by the connection loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// What a connection past `max_connections` gets before it is closed.
const CONNECTION_LIMIT_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 64\r\n\r\n\
503 Service Unavailable: too many open connections; retry later\n";

/// Counts a connection as open until dropped.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router, with the peer address inserted into every request of one connection.
#[derive(Clone)]
struct WithClientAddr {
    router: Router,
    client: ClientAddr,
}

impl tower::Service<Request<hyper::body::Incoming>> for WithClientAddr {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = tokio::task::futures::TaskLocalFuture<
        SocketAddr,
        <Router as tower::Service<Request<hyper::body::Incoming>>>::Future,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<hyper::body::Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.client);
        crate::dispatch::REQUEST_CLIENT.scope(self.client.0, self.router.call(request))
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
) {
    let open = Arc::new(AtomicUsize::new(0));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if open.fetch_add(1, Ordering::AcqRel) >= timeouts.max_connections {
                        open.fetch_sub(1, Ordering::AcqRel);
                        recorder.rejected(Rejection::ConnectionLimit);
                        // Best effort and never blocking: a fresh socket's send buffer is empty.
                        let _ = stream.try_write(CONNECTION_LIMIT_RESPONSE);
                        drop(stream);
                        continue;
                    }
                    let counted = OpenConnection(open.clone());
                    let _ = stream.set_nodelay(true);
                    let io = TokioIo::new(FirstByteDeadline::new(stream, timeouts, recorder.clone()));
                    let service = TowerToHyperService::new(WithClientAddr {
                        router: router.clone(),
                        client: ClientAddr(peer),
                    });
                    let connection = graceful.watch(builder.serve_connection(io, service));
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection closed with an error");
                        }
                        drop(counted);
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

/// A TCP stream whose reads fail with `TimedOut` if no byte arrives before the header-read deadline,
/// and whose writes fail with `TimedOut` when one makes no progress for the write timeout.
pub(crate) struct FirstByteDeadline {
    stream: TcpStream,
    deadline: Option<Pin<Box<Sleep>>>,
    write_timeout: Duration,
    /// Armed while a write is pending (the client is not reading); cleared by any progress.
    write_deadline: Option<Pin<Box<Sleep>>>,
    recorder: Recorder,
}

impl FirstByteDeadline {
    pub(crate) fn new(stream: TcpStream, timeouts: ServeTimeouts, recorder: Recorder) -> Self {
        Self {
            stream,
            deadline: Some(Box::pin(tokio::time::sleep(timeouts.header_read))),
            write_timeout: timeouts.write,
            write_deadline: None,
            recorder,
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
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.deadline = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let expired = match &mut this.deadline {
                    Some(deadline) => deadline.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if expired {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client sent nothing before the header read timeout",
                    )))
                } else {
                    Poll::Pending
                }
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
    fn the_connection_limit_response_declares_its_length() {
        let text = std::str::from_utf8(CONNECTION_LIMIT_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(
            head.ends_with(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
    }
}
