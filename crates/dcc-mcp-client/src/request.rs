//! One request from send to answer: id, deadline, progress, and cancellation.
//!
//! A request registers its id, then POSTs. Its answer may come in the POST's response or, as a
//! completed waiter, from any stream ([`Inner::deliver`]). The request ends one of four ways:
//! answered, failed (HTTP or connection error), timed out, or abandoned (the caller cancelled its
//! token or dropped the future). The last two send `notifications/cancelled` for its id, so the
//! server stops the work; and the HTTP exchange still under way is moved to a background task that
//! reads the server's late answer for up to `drain_timeout`, so the keep-alive connection returns
//! to the pool instead of being torn down (and the server learns of the cancellation from the
//! notification, not from a dropped connection).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use dcc_mcp_protocol::{jsonrpc, methods, RpcError};
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::ClientError;
use crate::shared::{with_meta, Inner, ProgressFn};

/// Per-request settings.
#[derive(Clone, Default)]
pub struct RequestOptions {
    /// Deadline (default: the client's `request_timeout`).
    pub timeout: Option<Duration>,
    /// Cancel the request when this token is cancelled.
    pub cancel: Option<CancellationToken>,
    /// Ask for progress (`_meta.progressToken`) and receive it here.
    pub on_progress: Option<ProgressFn>,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("timeout", &self.timeout)
            .field("cancel", &self.cancel)
            .field("on_progress", &self.on_progress.is_some())
            .finish()
    }
}

impl RequestOptions {
    /// Defaults: the client's timeout, no cancellation token, no progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Cancelled by `token`.
    pub fn cancel_with(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// With a progress callback.
    pub fn on_progress(mut self, f: impl Fn(crate::Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }
}

type Exchange = Pin<Box<dyn Future<Output = Result<Option<String>, ClientError>> + Send>>;

/// A request between send and answer. Dropped before [`finish`](Self::finish), it cancels.
struct InFlight {
    inner: Arc<Inner>,
    id: Value,
    key: String,
    exchange: Option<Exchange>,
    finished: bool,
}

impl InFlight {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let was_waiting = self.inner.forget(&self.key);
        let exchange = self.exchange.take();
        if self.finished && exchange.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let drain = self.inner.config.drain_timeout;
        if let Some(exchange) = exchange {
            // Read the late answer so the connection is reused; give up after `drain_timeout`.
            runtime.spawn(async move {
                let _ = tokio::time::timeout(drain, exchange).await;
            });
        }
        if !self.finished && was_waiting {
            let inner = Arc::clone(&self.inner);
            let params = cancelled_params(&self.id, "the client no longer waits for this request");
            runtime.spawn(async move {
                if let Err(error) = inner.notify(methods::CANCELLED, params).await {
                    tracing::debug!(%error, "notifications/cancelled was not delivered");
                }
            });
        }
    }
}

/// `notifications/cancelled` params.
fn cancelled_params(id: &Value, reason: &str) -> Value {
    let mut params = Map::new();
    params.insert("requestId".to_owned(), id.clone());
    params.insert("reason".to_owned(), reason.into());
    Value::Object(params)
}

/// Send `method` with `params` and wait for its result. `name` is the tool, prompt or resource the
/// request is about (the `Mcp-Name` header of 2026-07-28).
pub(crate) async fn send(
    inner: &Arc<Inner>,
    method: &str,
    name: Option<&str>,
    params: Value,
    options: RequestOptions,
) -> Result<Value, ClientError> {
    if inner.closing.is_cancelled() {
        return Err(ClientError::Closed);
    }
    let mut params = match params {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            return Err(ClientError::Protocol(format!(
                "request params must be an object, not {other}"
            )))
        }
    };
    let id = inner.next_id();
    let key = jsonrpc::request_key(&id);
    if let Some(callback) = options.on_progress {
        let token = id.clone();
        with_meta(&mut params, |meta| {
            meta.insert(
                dcc_mcp_protocol::tools::PROGRESS_TOKEN_KEY.to_owned(),
                token,
            );
        });
        inner.watch_progress(key.clone(), callback);
    }
    inner.stamp_meta(&mut params);
    let body = Bytes::from(jsonrpc::request(id.clone(), method, Value::Object(params)).to_string());
    let headers = inner.request_headers(method, name);
    let mut answer = inner.expect(key.clone());
    let exchange: Exchange = {
        let inner = Arc::clone(inner);
        Box::pin(async move { inner.exchange(&headers, body).await })
    };
    let mut flight = InFlight {
        inner: Arc::clone(inner),
        id,
        key,
        exchange: Some(exchange),
        finished: false,
    };
    let timeout = options.timeout.unwrap_or(inner.config.request_timeout);
    // No token: no branch to wait on (a fresh token per request would cost an allocation).
    let cancelled = async {
        match &options.cancel {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        outcome = wait(&mut flight, &mut answer) => outcome,
        () = tokio::time::sleep(timeout) => return Err(ClientError::Timeout(timeout)),
        () = cancelled => return Err(ClientError::Cancelled),
        () = inner.closing.cancelled() => return Err(ClientError::Closed),
    };
    match outcome {
        Ok(result) => {
            flight.finish();
            result.map_err(ClientError::Rpc)
        }
        // The exchange failed: the server never took the request, nothing to cancel.
        Err(Some(error)) => {
            flight.finish();
            Err(error)
        }
        Err(None) => {
            flight.finish();
            Err(ClientError::Protocol(
                "the server's response ended without answering the request".to_owned(),
            ))
        }
    }
}

/// Drive the exchange and wait for the answer. `Ok` is the answer; `Err(Some)` the exchange's
/// error; `Err(None)` the exchange ended without an answer.
async fn wait(
    flight: &mut InFlight,
    answer: &mut oneshot::Receiver<Result<Value, RpcError>>,
) -> Result<Result<Value, RpcError>, Option<ClientError>> {
    poll_fn(|cx| {
        let mut exchange_error = None;
        let mut exchange_done = false;
        if let Some(exchange) = flight.exchange.as_mut() {
            if let Poll::Ready(result) = exchange.as_mut().poll(cx) {
                flight.exchange = None;
                exchange_done = true;
                exchange_error = result.err();
            }
        } else {
            exchange_done = true;
        }
        if let Poll::Ready(received) = Pin::new(&mut *answer).poll(cx) {
            // A closed channel means the waiter was dropped: no answer will come.
            return Poll::Ready(received.map_err(|_| exchange_error));
        }
        if exchange_done {
            return Poll::Ready(Err(exchange_error));
        }
        Poll::Pending
    })
    .await
}
