//! Record points: the one internal hook surface through which the server reports its traffic.
//!
//! Each method is called from exactly one place in the crate, so a counter fed from here counts every
//! event once. This is a port: the label enums and the [`RecordSink`] trait live here, the Prometheus
//! adapter (`crate::metrics`) implements the trait, and nothing here knows about Prometheus.

use dcc_mcp_telemetry::TraceId;
use std::sync::Arc;
use std::time::Duration;

/// Outcome of one `tools/call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallStatus {
    /// A result with `isError: false`.
    Success,
    /// A result with `isError: true`, or a JSON-RPC error.
    Error,
}

impl CallStatus {
    /// The metric label value.
    #[allow(dead_code)]
    pub(crate) fn as_label(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

/// Outcome of submitting an async job.
#[cfg_attr(not(feature = "workflow"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobResult {
    /// Queued; a job id was returned.
    Accepted,
    /// Refused because the bounded queue was full.
    QueueFull,
    /// Refused because the session had `max_jobs_per_session` queued or running jobs.
    Quota,
    /// Refused for another reason (server shutting down, no randomness for an id).
    Rejected,
}

impl JobResult {
    /// The metric label value.
    #[allow(dead_code)]
    pub(crate) fn as_label(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::QueueFull => "queue_full",
            Self::Quota => "quota",
            Self::Rejected => "rejected",
        }
    }
}

/// Transport a notification went out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// The session's `GET /mcp` server-sent-event stream.
    Sse,
    /// A WebSocket (reserved; no WebSocket transport yet).
    #[allow(dead_code)]
    Ws,
}

impl Channel {
    /// The metric label value.
    #[allow(dead_code)]
    pub(crate) fn as_label(&self) -> &'static str {
        match self {
            Self::Sse => "sse",
            Self::Ws => "ws",
        }
    }
}

/// The method of a JSON-RPC request, as the `method` label of `dcc_mcp_requests_total`: the
/// methods this server answers in either era, and `Other` for every other name, so a client
/// cannot grow the label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestMethod {
    Initialize,
    Ping,
    ToolsList,
    ToolsCall,
    ResourcesList,
    ResourcesTemplatesList,
    ResourcesRead,
    ResourcesSubscribe,
    ResourcesUnsubscribe,
    PromptsList,
    PromptsGet,
    CompletionComplete,
    LoggingSetLevel,
    ServerDiscover,
    SubscriptionsListen,
    /// Any other method name (unknown, or one the era removed and this server never served).
    Other,
}

impl RequestMethod {
    /// Every value, in label order (the metric creates each series at zero).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) const ALL: [RequestMethod; 16] = [
        Self::Initialize,
        Self::Ping,
        Self::ToolsList,
        Self::ToolsCall,
        Self::ResourcesList,
        Self::ResourcesTemplatesList,
        Self::ResourcesRead,
        Self::ResourcesSubscribe,
        Self::ResourcesUnsubscribe,
        Self::PromptsList,
        Self::PromptsGet,
        Self::CompletionComplete,
        Self::LoggingSetLevel,
        Self::ServerDiscover,
        Self::SubscriptionsListen,
        Self::Other,
    ];

    /// The label of the request named `method`.
    pub(crate) fn of(method: &str) -> Self {
        use dcc_mcp_protocol::{completion, methods, prompts, resources, stateless};
        match method {
            methods::INITIALIZE => Self::Initialize,
            methods::PING => Self::Ping,
            methods::TOOLS_LIST => Self::ToolsList,
            methods::TOOLS_CALL => Self::ToolsCall,
            resources::LIST => Self::ResourcesList,
            resources::TEMPLATES_LIST => Self::ResourcesTemplatesList,
            resources::READ => Self::ResourcesRead,
            resources::SUBSCRIBE => Self::ResourcesSubscribe,
            resources::UNSUBSCRIBE => Self::ResourcesUnsubscribe,
            prompts::LIST => Self::PromptsList,
            prompts::GET => Self::PromptsGet,
            completion::COMPLETE => Self::CompletionComplete,
            methods::LOGGING_SET_LEVEL => Self::LoggingSetLevel,
            methods::SERVER_DISCOVER => Self::ServerDiscover,
            stateless::SUBSCRIPTIONS_LISTEN => Self::SubscriptionsListen,
            _ => Self::Other,
        }
    }

    /// The metric label value: the method name, or `other`.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn as_label(self) -> &'static str {
        use dcc_mcp_protocol::{completion, methods, prompts, resources, stateless};
        match self {
            Self::Initialize => methods::INITIALIZE,
            Self::Ping => methods::PING,
            Self::ToolsList => methods::TOOLS_LIST,
            Self::ToolsCall => methods::TOOLS_CALL,
            Self::ResourcesList => resources::LIST,
            Self::ResourcesTemplatesList => resources::TEMPLATES_LIST,
            Self::ResourcesRead => resources::READ,
            Self::ResourcesSubscribe => resources::SUBSCRIBE,
            Self::ResourcesUnsubscribe => resources::UNSUBSCRIBE,
            Self::PromptsList => prompts::LIST,
            Self::PromptsGet => prompts::GET,
            Self::CompletionComplete => completion::COMPLETE,
            Self::LoggingSetLevel => methods::LOGGING_SET_LEVEL,
            Self::ServerDiscover => methods::SERVER_DISCOVER,
            Self::SubscriptionsListen => stateless::SUBSCRIPTIONS_LISTEN,
            Self::Other => "other",
        }
    }

    /// Index into [`RequestMethod::ALL`].
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why the server refused (part of) a client's request: one label value of
/// `dcc_mcp_rejected_total{reason}`. A fixed enum, so the label set is bounded and every series exists
/// at zero from the start.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// A JSON-RPC batch held more messages than `max_batch_messages`.
    BatchTooLarge,
    /// A response grew past `max_response_bytes` while it was built.
    ResponseTooLarge,
    /// `initialize` found every session slot busy (`503`).
    TooManySessions,
    /// An idle session was evicted to make room for a new one.
    SessionEvicted,
    /// A connection was closed at accept because `max_connections` were open.
    ConnectionLimit,
    /// A request body did not arrive within `body_read_timeout`.
    BodyTimeout,
    /// A stream whose client stopped reading was closed after `write_timeout`.
    WriteTimeout,
    /// A session reached its quota of queued plus running jobs.
    JobQuota,
    /// A job result exceeded `max_job_result_bytes` and became a job error.
    ResultTooLarge,
    /// Every blocking worker stayed busy for `sync_queue_wait`: "server busy".
    Busy,
    /// The main-thread executor's queue was full.
    MainThreadFull,
    /// A queued call timed out or was cancelled before its executor reached it; it never ran.
    ExpiredBeforeRun,
    /// A session outbox dropped its oldest notification to stay within its byte budget.
    OutboxDrop,
    /// A login failed: a missing, malformed or wrong bearer token on `/mcp`, or wrong Basic-auth
    /// credentials on `/metrics`.
    Auth,
    /// A client's failed logins were throttled (`429`) before its credentials were checked.
    AuthThrottled,
    /// A valid OAuth access token lacked a required scope (`403 insufficient_scope`).
    AuthScope,
    /// The OAuth authorization server's signing keys could not be read (`503`).
    AuthUnavailable,
    /// A handler's log notification was dropped: its session (or request) passed
    /// `max_log_messages_per_sec`.
    LogRate,
    /// A handler's server→client request was refused: the session already had
    /// `max_pending_client_requests` unanswered.
    PendingClientRequests,
    /// A 2026-07-28 `requestState` passed `max_request_state_bytes` (sent by the client, or about to
    /// be returned to it).
    RequestStateTooLarge,
    /// A `resources/subscribe` or a `subscriptions/listen` asked for more resource subscriptions
    /// than `max_subscriptions_per_session`.
    SubscriptionLimit,
    /// An async call found `job_queue_capacity` jobs already waiting ("job queue full").
    JobQueueFull,
    /// An async call's client address already held its share of the job queue (half of
    /// `job_queue_capacity`), so other addresses keep room.
    JobClientShare,
    /// A connection was shed at `max_connections` to admit a newcomer (a stalled body, an idle
    /// connection or the oldest stream).
    ConnectionShed,
    /// A connection was closed at accept: its address held `max_connections_per_client`.
    ClientConnectionLimit,
    /// A `GET /mcp` stream was refused: `max_streams` were open.
    StreamLimit,
    /// A `GET /mcp` stream was refused: its address held `max_streams_per_client`.
    ClientStreamLimit,
    /// A request body was refused: the bodies being read would pass `max_body_bytes_in_flight`.
    BodyBudget,
    /// A notification was dropped: all outboxes together hold `max_outbox_bytes_total`.
    OutboxBudget,
    /// A notification was dropped: its session never opened a stream within
    /// `outbox_unattached_timeout`.
    OutboxUnattached,
}

// Read by the metric set only.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
impl Rejection {
    /// Every reason, in label order (the metric creates each series at zero).
    pub(crate) const ALL: [Rejection; 30] = [
        Self::BatchTooLarge,
        Self::ResponseTooLarge,
        Self::TooManySessions,
        Self::SessionEvicted,
        Self::ConnectionLimit,
        Self::BodyTimeout,
        Self::WriteTimeout,
        Self::JobQuota,
        Self::ResultTooLarge,
        Self::Busy,
        Self::MainThreadFull,
        Self::ExpiredBeforeRun,
        Self::OutboxDrop,
        Self::Auth,
        Self::AuthThrottled,
        Self::AuthScope,
        Self::AuthUnavailable,
        Self::LogRate,
        Self::PendingClientRequests,
        Self::RequestStateTooLarge,
        Self::SubscriptionLimit,
        Self::JobQueueFull,
        Self::JobClientShare,
        Self::ConnectionShed,
        Self::ClientConnectionLimit,
        Self::StreamLimit,
        Self::ClientStreamLimit,
        Self::BodyBudget,
        Self::OutboxBudget,
        Self::OutboxUnattached,
    ];

    /// The metric label value.
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            Self::BatchTooLarge => "batch_too_large",
            Self::ResponseTooLarge => "response_too_large",
            Self::TooManySessions => "too_many_sessions",
            Self::SessionEvicted => "session_evicted",
            Self::ConnectionLimit => "connection_limit",
            Self::BodyTimeout => "body_timeout",
            Self::WriteTimeout => "write_timeout",
            Self::JobQuota => "job_quota",
            Self::ResultTooLarge => "result_too_large",
            Self::Busy => "busy",
            Self::MainThreadFull => "main_thread_full",
            Self::ExpiredBeforeRun => "expired_before_run",
            Self::OutboxDrop => "outbox_drop",
            Self::Auth => "auth",
            Self::AuthThrottled => "auth_throttled",
            Self::AuthScope => "auth_scope",
            Self::AuthUnavailable => "auth_unavailable",
            Self::LogRate => "log_rate",
            Self::PendingClientRequests => "pending_client_requests",
            Self::RequestStateTooLarge => "request_state_too_large",
            Self::SubscriptionLimit => "subscription_limit",
            Self::JobQueueFull => "job_queue_full",
            Self::JobClientShare => "job_client_share",
            Self::ConnectionShed => "connection_shed",
            Self::ClientConnectionLimit => "client_connection_limit",
            Self::StreamLimit => "stream_limit",
            Self::ClientStreamLimit => "client_stream_limit",
            Self::BodyBudget => "body_budget",
            Self::OutboxBudget => "outbox_budget",
            Self::OutboxUnattached => "outbox_unattached",
        }
    }

    /// Index into [`Rejection::ALL`].
    #[allow(dead_code)]
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What a handler asked of its client: one label value of `dcc_mcp_client_requests_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientRequestKind {
    /// `elicitation/create` (form mode).
    Elicitation,
    /// `sampling/createMessage`.
    Sampling,
    /// `roots/list`.
    Roots,
}

impl ClientRequestKind {
    /// Every kind, in label order.
    #[allow(dead_code)]
    pub(crate) const ALL: [ClientRequestKind; 3] = [Self::Elicitation, Self::Sampling, Self::Roots];

    /// The metric label value.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Elicitation => "elicitation",
            Self::Sampling => "sampling",
            Self::Roots => "roots",
        }
    }

    /// The JSON-RPC method of the request.
    pub fn method(self) -> &'static str {
        use dcc_mcp_protocol::client_requests as requests;
        match self {
            Self::Elicitation => requests::ELICITATION_CREATE,
            Self::Sampling => requests::SAMPLING_CREATE_MESSAGE,
            Self::Roots => requests::ROOTS_LIST,
        }
    }

    /// The client capability that allows it (`elicitation`, `sampling`, `roots`).
    pub fn capability(self) -> &'static str {
        match self {
            Self::Elicitation => "elicitation",
            Self::Sampling => "sampling",
            Self::Roots => "roots",
        }
    }

    /// Index into [`ClientRequestKind::ALL`].
    #[allow(dead_code)]
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// How a server→client request ended: one label value of `dcc_mcp_client_requests_total{outcome}`.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientRequestOutcome {
    /// The client answered with a result.
    Answered,
    /// The client answered with a JSON-RPC error.
    Error,
    /// The call that asked ended first (it timed out, was cancelled, or its session ended).
    Abandoned,
    /// Not sent: the client did not declare the capability.
    Unsupported,
    /// Not sent: over `max_pending_client_requests`.
    Refused,
    /// 2026-07-28: returned to the client in an `InputRequiredResult`.
    InputRequired,
    /// 2026-07-28: answered by a retry's `inputResponses`.
    InputResponse,
}

#[allow(dead_code)]
impl ClientRequestOutcome {
    /// Every outcome, in label order.
    pub(crate) const ALL: [ClientRequestOutcome; 7] = [
        Self::Answered,
        Self::Error,
        Self::Abandoned,
        Self::Unsupported,
        Self::Refused,
        Self::InputRequired,
        Self::InputResponse,
    ];

    /// The metric label value.
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Error => "error",
            Self::Abandoned => "abandoned",
            Self::Unsupported => "unsupported",
            Self::Refused => "refused",
            Self::InputRequired => "input_required",
            Self::InputResponse => "input_response",
        }
    }

    /// Index into [`ClientRequestOutcome::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// How a `GET /mcp` with `Last-Event-ID` resumed, for `dcc_mcp_sse_replay_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayOutcome {
    /// Everything after the client's last event was still buffered and is sent again.
    Replayed,
    /// Some messages after it had fallen out of the buffer: the client gets the rest.
    Gap,
    /// The id is not one this session's streams sent (malformed, ahead of the stream, or a closed
    /// `POST` stream no longer kept).
    Unknown,
}

// Read by the metric set only.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
impl ReplayOutcome {
    /// Every outcome, in label order.
    pub(crate) const ALL: [ReplayOutcome; 3] = [Self::Replayed, Self::Gap, Self::Unknown];

    /// The metric label value.
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            Self::Replayed => "replayed",
            Self::Gap => "gap",
            Self::Unknown => "unknown",
        }
    }

    /// Index into [`ReplayOutcome::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Where a handler ran, for `dcc_mcp_dispatch_wait_seconds{executor}`: the executors whose calls can
/// wait for a thread. (Inline handlers run on the I/O worker at once and have no wait.)
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Executor {
    /// The bounded worker set of blocking handlers.
    Worker,
    /// The host application's main thread, through a `MainThreadExecutor`.
    MainThread,
}

// Read by the metric set only.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
impl Executor {
    /// Every executor, in label order.
    pub(crate) const ALL: [Executor; 2] = [Self::Worker, Self::MainThread];

    /// The metric label value.
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::MainThread => "main_thread",
        }
    }

    /// Index into [`Executor::ALL`].
    #[allow(dead_code)]
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The port the record points report to: an exporter (the Prometheus metric set) implements it.
/// Each method is one event, called once per event by [`Recorder`]; implementations must be cheap
/// and must not block (they run on the request path).
pub(crate) trait RecordSink: Send + Sync {
    /// One `tools/call` finished; `tool` is `None` for a name that is no registered or built-in tool.
    /// `trace` is the call's W3C trace id, if it came with one (the duration's exemplar).
    fn tool_call(
        &self,
        tool: Option<&str>,
        status: CallStatus,
        duration: Duration,
        trace: Option<TraceId>,
    );
    /// An async job was submitted, with its outcome.
    fn job_created(&self, tool: &str, result: JobResult);
    /// An accepted job left the queue after waiting `wait`.
    fn job_started(&self, tool: &str, wait: Duration);
    /// A started job reached a terminal state.
    fn job_finished(&self, tool: &str);
    /// A notification was written to a client stream.
    fn notification_sent(&self, channel: Channel);
    /// The server refused (part of) a request for `reason`.
    fn rejected(&self, reason: Rejection);
    /// A handler started on `executor` after waiting `wait` for it.
    fn dispatch_wait(&self, executor: Executor, wait: Duration);
    /// A JSON-RPC request was answered: with a result (`ok`) or a JSON-RPC error.
    fn request(&self, method: RequestMethod, ok: bool);
    /// A server→client request of `kind` ended with `outcome`.
    fn client_request(&self, kind: ClientRequestKind, outcome: ClientRequestOutcome);
    /// A `GET /mcp` with `Last-Event-ID` resumed a stream with `outcome`.
    fn sse_replay(&self, outcome: ReplayOutcome);
}

/// The record-point façade the domain and the transport call: it forwards each event to the
/// server's [`RecordSink`], if it has one. Without one (no exporter configured, or built without
/// the `prometheus` feature) each record point costs one `Option` check.
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    sink: Option<Arc<dyn RecordSink>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl Recorder {
    /// A recorder that records nothing.
    #[allow(dead_code)]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A recorder that reports to `sink`.
    #[allow(dead_code)]
    pub(crate) fn with_sink(sink: Arc<dyn RecordSink>) -> Self {
        Self { sink: Some(sink) }
    }

    /// One `tools/call` finished (called only by the `tools/call` wrapper). `tool` is `None` when the
    /// name is not a registered or built-in tool, so unknown names cannot blow up label cardinality.
    #[inline]
    #[allow(dead_code)]
    pub(crate) fn tool_call(&self, tool: Option<&str>, status: CallStatus, duration: Duration) {
        self.tool_call_traced(tool, status, duration, None);
    }

    /// [`tool_call`](Self::tool_call) for a call that belongs to the W3C trace `trace` (from the
    /// request's `traceparent` header, or the call's `_meta`): the duration observation carries
    /// the trace id as its bucket's exemplar.
    #[inline]
    pub(crate) fn tool_call_traced(
        &self,
        tool: Option<&str>,
        status: CallStatus,
        duration: Duration,
        trace: Option<TraceId>,
    ) {
        if let Some(sink) = &self.sink {
            sink.tool_call(tool, status, duration, trace);
        }
    }

    /// An async job was submitted, with its outcome.
    #[inline]
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn job_created(&self, tool: &str, result: JobResult) {
        if let Some(sink) = &self.sink {
            sink.job_created(tool, result);
        }
    }

    /// An accepted job left the queue after waiting `wait` (it then runs, or ends at once if it was
    /// cancelled while queued). Every accepted job that leaves the queue is later `job_finished`.
    #[inline]
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn job_started(&self, tool: &str, wait: Duration) {
        if let Some(sink) = &self.sink {
            sink.job_started(tool, wait);
        }
    }

    /// A started job reached a terminal state (succeeded, failed or cancelled).
    #[inline]
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn job_finished(&self, tool: &str) {
        if let Some(sink) = &self.sink {
            sink.job_finished(tool);
        }
    }

    /// A notification was written to a client stream.
    #[inline]
    pub(crate) fn notification_sent(&self, channel: Channel) {
        if let Some(sink) = &self.sink {
            sink.notification_sent(channel);
        }
    }

    /// The server refused (part of) a request for `reason`; the client got a clear answer.
    #[inline]
    pub(crate) fn rejected(&self, reason: Rejection) {
        if let Some(sink) = &self.sink {
            sink.rejected(reason);
        }
    }

    /// A handler started on `executor` after waiting `wait` for it.
    #[inline]
    pub(crate) fn dispatch_wait(&self, executor: Executor, wait: Duration) {
        if let Some(sink) = &self.sink {
            sink.dispatch_wait(executor, wait);
        }
    }

    /// A JSON-RPC request of `method` was answered, with a result (`ok`) or an error (called once
    /// per request: by the session era's service and by the stateless era's transport).
    #[inline]
    pub(crate) fn request(&self, method: &str, ok: bool) {
        if let Some(sink) = &self.sink {
            sink.request(RequestMethod::of(method), ok);
        }
    }

    /// A server→client request of `kind` ended with `outcome` (called once per request, by whoever
    /// settles it).
    #[inline]
    pub(crate) fn client_request(&self, kind: ClientRequestKind, outcome: ClientRequestOutcome) {
        if let Some(sink) = &self.sink {
            sink.client_request(kind, outcome);
        }
    }

    /// A `GET /mcp` with `Last-Event-ID` resumed a stream with `outcome` (once per such `GET`).
    #[inline]
    pub(crate) fn sse_replay(&self, outcome: ReplayOutcome) {
        if let Some(sink) = &self.sink {
            sink.sse_replay(outcome);
        }
    }

    /// A session was created by `initialize`.
    #[inline]
    pub(crate) fn session_opened(&self) {
        // Nothing to count: `/metrics` reads the exact live-session count at scrape time.
    }

    /// A session ended (`DELETE /mcp` or idle expiry).
    #[inline]
    pub(crate) fn session_closed(&self) {
        // Nothing to count: `/metrics` reads the exact live-session count at scrape time.
    }
}
