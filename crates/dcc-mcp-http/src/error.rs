//! The crate's error types. Each message says what went wrong and what to do about it.

use std::io;

/// A configuration value is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `host` is empty.
    #[error("host is empty: set it to an interface address such as 127.0.0.1")]
    EmptyHost,
    /// `server_name` is empty.
    #[error("server_name is empty: give the server a name clients can show")]
    EmptyServerName,
    /// A duration field is zero.
    #[error("{field} is zero: give it a positive duration")]
    ZeroDuration {
        /// The offending field.
        field: &'static str,
    },
    /// A size or count field is zero.
    #[error("{field} is zero: it must be at least 1")]
    ZeroLimit {
        /// The offending field.
        field: &'static str,
    },
    /// A size field is below its minimum.
    #[error("{field} is below {min}: it must be at least {min}")]
    LimitTooSmall {
        /// The offending field.
        field: &'static str,
        /// The smallest accepted value.
        min: usize,
    },
    /// A budget that must fit inside another one is larger than it.
    #[error("{smaller} is larger than {larger}: something that fits the first could never fit the second; lower {smaller} or raise {larger}")]
    BudgetOrder {
        /// The budget that must be the smaller one.
        smaller: &'static str,
        /// The budget it must fit in.
        larger: &'static str,
    },
    /// `max_streams` leaves no connection slot for requests.
    #[error("max_streams must be below max_connections, so requests and /metrics keep slots while streams are open; lower max_streams or raise max_connections")]
    StreamsNotBelowConnections,
    /// An allowed origin is not `*` or an `http(s)://` origin.
    #[error("allowed origin {origin:?} is not an origin: use e.g. \"https://host:port\" or \"*\"")]
    InvalidOrigin {
        /// The offending value.
        origin: String,
    },
    /// The Basic-auth user name is empty or contains `:`.
    #[error("metrics Basic-auth user name must be non-empty and must not contain ':'")]
    InvalidBasicAuthUser,
    /// The Basic-auth password is empty.
    #[error("metrics Basic-auth password is empty: set a password or disable Basic auth")]
    EmptyBasicAuthPassword,
    /// A static bearer token is empty or not an RFC 6750 `b64token`.
    #[error("bearer token #{index} (counting from 0, comments and blank lines skipped) is empty or holds characters other than A-Z a-z 0-9 - . _ ~ + / and trailing =")]
    InvalidBearerToken {
        /// Position of the token in the list.
        index: usize,
    },
    /// A field of the OAuth resource-server configuration is unusable.
    #[error("oauth.{field} {why}")]
    InvalidOAuth {
        /// The offending field of [`OAuthConfig`](crate::OAuthConfig).
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

/// Starting, running or stopping the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration did not validate.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source} (is the port already in use? pick another port or 0 for an ephemeral one)")]
    Bind {
        /// The address we tried to bind.
        addr: String,
        /// The operating-system error.
        #[source]
        source: io::Error,
    },
    /// `start()` was called a second time on the same server.
    #[error("server already started: create a new McpHttpServer to serve again")]
    AlreadyStarted,
    /// The runtime or its thread could not be created.
    #[error("cannot start the server runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The server thread panicked.
    #[error("the server thread panicked; see the log for the panic message")]
    ThreadPanicked,
    /// The Prometheus metric set could not be built (a bug: its names and buckets are fixed).
    #[error("cannot set up the Prometheus exporter: {0}; please report this bug, or disable enable_prometheus")]
    Metrics(String),
}

/// A tool could not be registered or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The name is empty, too long, or contains control characters.
    #[error("invalid tool name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A tool with this name already exists.
    #[error("tool {0:?} is already registered: unregister it first or pick another name")]
    Duplicate(String),
    /// The input or output schema is not a valid JSON Schema.
    #[error("tool {name:?} has an invalid {which}: {message}")]
    InvalidSchema {
        /// The tool name.
        name: String,
        /// `inputSchema` or `outputSchema`.
        which: &'static str,
        /// The schema compiler's message.
        message: String,
    },
    /// No tool with this name is registered.
    #[error("no tool named {0:?} is registered")]
    UnknownTool(String),
    /// The name is reserved for the server's own use (`<unknown>`, the `jobs.` prefix).
    #[error("tool name {name:?} is reserved: {reason}; pick another name")]
    ReservedName {
        /// The rejected name.
        name: String,
        /// What the name is reserved for.
        reason: &'static str,
    },
    /// An async tool was registered but the crate was built without the `workflow` feature.
    #[error("tool {0:?} is async, but jobs need the `workflow` Cargo feature: enable it or register the tool as sync")]
    AsyncUnavailable(String),
}

/// Error a handler returns; its message is shown to the client in an `isError: true` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub String);

impl ToolError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToolError {}

impl From<String> for ToolError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for ToolError {
    fn from(message: &str) -> Self {
        Self(message.to_owned())
    }
}
