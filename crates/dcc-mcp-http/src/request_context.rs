//! What one request says about itself and its client, in either era: the per-request context a
//! handler and the dispatch reach.
//!
//! In the session era the version was negotiated once and the client's capabilities were sent with
//! `initialize`; in the stateless 2026-07-28 revision every request carries them in its `_meta`
//! (protocol version, client capabilities, log level, `traceparent`). This type holds the parsed
//! form, so code above it asks one question ("may I elicit?", "which log level?") whatever the era.
//! It also holds the protocol error a handler asked to answer with (a capability the client did
//! not declare is `-32021` in 2026-07-28, not an `isError` result), since a handler can only
//! return a `ToolError`.

use std::sync::{Mutex, PoisonError};

use dcc_mcp_protocol::logging::LoggingLevel;
use dcc_mcp_protocol::stateless::RequestMeta;
use dcc_mcp_protocol::{codes, Era, ProtocolVersion, RpcError};
use serde_json::{json, Value};

/// The context of one request: its era, version and what its client declared.
#[derive(Debug)]
pub struct RequestContext {
    version: ProtocolVersion,
    meta: RequestMeta,
    /// The protocol error a handler asked the request to end with.
    refusal: Mutex<Option<RpcError>>,
}

impl RequestContext {
    /// A stateless (2026-07-28) request of `version` whose `_meta` said `meta`.
    pub fn stateless(version: ProtocolVersion, meta: RequestMeta) -> Self {
        Self {
            version,
            meta,
            refusal: Mutex::new(None),
        }
    }

    /// The era of the request.
    pub fn era(&self) -> Era {
        self.version.era()
    }

    /// The protocol version the request is served under.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// The client's capabilities for this request (`_meta["io.modelcontextprotocol/clientCapabilities"]`).
    pub fn client_capabilities(&self) -> Option<&Value> {
        self.meta.client_capabilities.as_ref()
    }

    /// Whether the client declared capability `name` (`elicitation`, `sampling`, `roots`).
    pub fn has_capability(&self, name: &str) -> bool {
        self.meta.has_capability(name)
    }

    /// The log level the request asked for; `None`: send it no `notifications/message`.
    pub fn log_level(&self) -> Option<LoggingLevel> {
        self.meta.log_level
    }

    /// The W3C `traceparent` the request carried in its `_meta`, if any.
    pub fn traceparent(&self) -> Option<&str> {
        self.meta.traceparent.as_deref()
    }

    /// `Ok` when the client declared capability `name`; otherwise the request is marked to end with
    /// `-32021` (MissingRequiredClientCapability, `data.requiredCapabilities: {name: {}}`) and the
    /// returned message is for the handler's error.
    pub fn require_capability(&self, name: &str) -> Result<(), String> {
        if self.has_capability(name) {
            return Ok(());
        }
        let message = format!(
            "this request needs the client capability '{name}', which its _meta did not declare"
        );
        self.refuse(
            RpcError::new(codes::MISSING_CLIENT_CAPABILITY, message.clone())
                .with_data(json!({"requiredCapabilities": {name: {}}})),
        );
        Err(message)
    }

    /// End the request with `error` instead of its result (the first refusal wins).
    pub fn refuse(&self, error: RpcError) {
        let mut slot = self.refusal.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    /// The refusal a handler asked for, taken out.
    pub(crate) fn take_refusal(&self) -> Option<RpcError> {
        self.refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_missing_capability_becomes_a_refusal() {
        let meta = RequestMeta {
            client_capabilities: Some(json!({"elicitation": {}})),
            ..RequestMeta::default()
        };
        let context = RequestContext::stateless(ProtocolVersion::V2026_07_28, meta);
        assert_eq!(context.era(), Era::Stateless);
        assert!(context.require_capability("elicitation").is_ok());
        assert!(context.take_refusal().is_none());
        assert!(context.require_capability("sampling").is_err());
        let refusal = context.take_refusal().unwrap().into_value();
        assert_eq!(refusal["code"], -32021);
        assert_eq!(
            refusal["data"],
            json!({"requiredCapabilities": {"sampling": {}}})
        );
        assert!(context.take_refusal().is_none());
    }
}
