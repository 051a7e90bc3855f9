//! Limits of the domain components and their defaults, below everything that reads them.
//!
//! [`McpHttpConfig`](crate::McpHttpConfig) is the public façade; it splits into these structs, so a
//! component (the job manager, the dispatcher, a session) takes only its own limits and never reads
//! the whole configuration.

use std::time::Duration;

/// Default `sync_concurrency`: blocking handlers running at once.
pub const DEFAULT_SYNC_CONCURRENCY: usize = 32;

/// Default `sync_queue_wait`: how long a sync call waits for a free worker before "server busy".
pub const DEFAULT_SYNC_QUEUE_WAIT: Duration = Duration::from_secs(1);

/// Default `max_outbox_bytes`: notifications one session's outbox holds while no stream drains it.
pub(crate) const DEFAULT_OUTBOX_BYTES: usize = 1024 * 1024;

/// Default `keep_alive_timeout`: silence allowed between two requests of a keep-alive connection.
pub(crate) const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default `max_body_bytes_in_flight`: request-body bytes read at once across all connections.
pub(crate) const DEFAULT_BODY_BYTES_IN_FLIGHT: usize = 64 * 1024 * 1024;

/// Default `max_outbox_bytes_total`: notification bytes all session outboxes hold together.
pub(crate) const DEFAULT_OUTBOX_BYTES_TOTAL: usize = 64 * 1024 * 1024;

/// Default `outbox_unattached_timeout`: how long a session without a stream buffers notifications.
pub(crate) const DEFAULT_OUTBOX_UNATTACHED_TIMEOUT: Duration = Duration::from_secs(30);

/// Default `stream_send_buffer_bytes`: `SO_SNDBUF` of a connection holding an SSE stream.
pub(crate) const DEFAULT_STREAM_SEND_BUFFER_BYTES: usize = 64 * 1024;

/// The budgets of the job manager (see the `McpHttpConfig` fields of the same names).
#[cfg_attr(not(feature = "workflow"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobLimits {
    /// `job_queue_capacity`: jobs waiting for a worker.
    pub(crate) queue_capacity: usize,
    /// `job_concurrency`: jobs running at once.
    pub(crate) concurrency: usize,
    /// `max_jobs_per_session`: queued plus running jobs of one session.
    pub(crate) per_session: usize,
    /// `job_deadline`: a job still queued or running past it fails.
    pub(crate) deadline: Option<Duration>,
    /// `max_job_result_bytes`: largest kept result of one job.
    pub(crate) result_bytes: usize,
    /// `max_finished_jobs`: finished jobs kept for `jobs.get`.
    pub(crate) finished_jobs: usize,
    /// `max_finished_job_bytes`: bytes of results kept by finished jobs.
    pub(crate) finished_bytes: usize,
    /// `max_notification_result_bytes`: a completion notification carries the result up to this size.
    pub(crate) notification_bytes: usize,
}

/// Default `max_pending_client_requests`: unanswered server→client requests one session may have.
pub const DEFAULT_MAX_PENDING_CLIENT_REQUESTS: usize = 16;

/// Default `max_log_messages_per_sec`: handler log notifications one session (or one 2026-07-28
/// request) may send per second, in bursts of as many.
pub const DEFAULT_MAX_LOG_MESSAGES_PER_SEC: u32 = 100;

/// Default `max_request_state_bytes`: the largest 2026-07-28 `requestState` the server accepts or
/// returns.
pub const DEFAULT_MAX_REQUEST_STATE_BYTES: usize = 64 * 1024;

/// What a session lets its handlers ask of the client (see the `McpHttpConfig` fields of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientLimits {
    /// `max_pending_client_requests`.
    pub(crate) max_pending: usize,
    /// `max_log_messages_per_sec`.
    pub(crate) log_rate: u32,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            max_pending: DEFAULT_MAX_PENDING_CLIENT_REQUESTS,
            log_rate: DEFAULT_MAX_LOG_MESSAGES_PER_SEC,
        }
    }
}
