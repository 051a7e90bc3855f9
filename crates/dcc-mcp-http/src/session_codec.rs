//! The session-id port: how a server mints session ids that carry what another process needs to
//! serve the session, and reads them back.
//!
//! By default a session id is random and the session lives in one process's store, so a client
//! must come back to that process. A [`SessionCodec`] set on the server
//! ([`McpHttpServer::set_session_codec`](crate::McpHttpServer::set_session_codec)) mints the id
//! from the session's [`SessionClaims`] instead (a gateway seals them with a key its replicas
//! share). A request whose id is not in the store, but which the codec opens, gets a session
//! recreated under that id from the claims: any replica holding the key serves any session, and
//! a restarted one resumes them. A session ended by `DELETE` is not recreated by the process that
//! ended it.

use serde_json::Value;

/// What a codec-minted session id carries: the state a session is created with.
///
/// State the session gains later (its log level, resource subscriptions, pending server→client
/// requests, its `GET` stream) stays with the process that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionClaims {
    /// The protocol version negotiated in `initialize`.
    pub protocol_version: String,
    /// The `capabilities` the client declared in `initialize`, when it declared any.
    pub client_capabilities: Option<Value>,
}

/// Mints session ids from [`SessionClaims`] and opens them again. Implementations must be cheap
/// (both run on the request path) and must never panic.
pub trait SessionCodec: Send + Sync {
    /// The id of a new session with `claims`: visible ASCII (`0x21`–`0x7E`), as the transport
    /// requires. `None`: the server falls back to a random id (the session is then served by this
    /// process only).
    fn mint(&self, claims: &SessionClaims) -> Option<String>;

    /// The claims of `id` when it is a genuine, unexpired id of this codec (minted here or by
    /// another holder of the same key); `None` otherwise (the request gets `404`).
    fn open(&self, id: &str) -> Option<SessionClaims>;
}
