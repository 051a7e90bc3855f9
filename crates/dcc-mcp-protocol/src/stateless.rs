//! The 2026-07-28 revision's shapes: `server/discover`, the per-request `_meta`, `resultType`,
//! cacheable results (`ttlMs`, `cacheScope`), multi round-trip requests (`InputRequiredResult` with
//! `inputRequests` and `requestState`, retried with `inputResponses`) and `subscriptions/listen`.
//!
//! No session carries state in this revision, so everything a request needs is in the request: its
//! version and the client's capabilities in `_meta`, and the state of an interrupted call in the
//! opaque `requestState` the server gave out (which the server must authenticate, since the client
//! holds it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::logging::{LoggingLevel, META_LOG_LEVEL_KEY};
use crate::version::{META_CLIENT_CAPABILITIES_KEY, META_PROTOCOL_VERSION_KEY, RESULT_TYPE_KEY};

/// Request: `subscriptions/listen`, a long-lived request whose stream carries list-changed and
/// resource-updated notifications.
pub const SUBSCRIPTIONS_LISTEN: &str = "subscriptions/listen";
/// Notification: the server took the filter of a `subscriptions/listen`.
pub const SUBSCRIPTIONS_ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
/// `_meta` key naming the `subscriptions/listen` request a notification belongs to.
pub const META_SUBSCRIPTION_ID_KEY: &str = "io.modelcontextprotocol/subscriptionId";
/// `_meta` key of the client's `Implementation`.
pub const META_CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key of the W3C trace context a request may carry.
pub const META_TRACEPARENT_KEY: &str = "traceparent";

/// `resultType` of a finished result.
pub const RESULT_COMPLETE: &str = "complete";
/// `resultType` of an [`InputRequiredResult`].
pub const RESULT_INPUT_REQUIRED: &str = "input_required";

/// What a request's `_meta` says about its client (2026-07-28).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestMeta {
    /// `io.modelcontextprotocol/protocolVersion`.
    pub protocol_version: Option<String>,
    /// `io.modelcontextprotocol/clientCapabilities`.
    pub client_capabilities: Option<Value>,
    /// `io.modelcontextprotocol/logLevel`: log notifications at or above it.
    pub log_level: Option<LoggingLevel>,
    /// `traceparent`.
    pub traceparent: Option<String>,
}

impl RequestMeta {
    /// Read the `_meta` of request `params` (missing or malformed keys read as absent).
    pub fn from_params(params: Option<&Value>) -> Self {
        let Some(meta) = params
            .and_then(|p| p.get("_meta"))
            .and_then(Value::as_object)
        else {
            return Self::default();
        };
        let text = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_owned);
        RequestMeta {
            protocol_version: text(META_PROTOCOL_VERSION_KEY),
            client_capabilities: meta.get(META_CLIENT_CAPABILITIES_KEY).cloned(),
            log_level: meta
                .get(META_LOG_LEVEL_KEY)
                .and_then(Value::as_str)
                .and_then(|l| l.parse().ok()),
            traceparent: text(META_TRACEPARENT_KEY),
        }
    }

    /// Take the keys out of the `_meta` of request `params` (moved, not copied; other `_meta` keys,
    /// such as `progressToken`, stay). `None` when the params carry no `_meta` object.
    pub fn take_from(params: Option<&mut Value>) -> Option<Self> {
        let meta = params?.get_mut("_meta")?.as_object_mut()?;
        let text = |value: Option<Value>| match value {
            Some(Value::String(text)) => Some(text),
            _ => None,
        };
        Some(RequestMeta {
            protocol_version: text(meta.remove(META_PROTOCOL_VERSION_KEY)),
            client_capabilities: meta.remove(META_CLIENT_CAPABILITIES_KEY),
            log_level: meta
                .get(META_LOG_LEVEL_KEY)
                .and_then(Value::as_str)
                .and_then(|l| l.parse().ok()),
            traceparent: text(meta.remove(META_TRACEPARENT_KEY)),
        })
    }

    /// Whether the client declared the capability `name` (`elicitation`, `sampling`, `roots`).
    pub fn has_capability(&self, name: &str) -> bool {
        self.client_capabilities
            .as_ref()
            .and_then(|caps| caps.get(name))
            .is_some_and(|cap| !cap.is_null())
    }
}

/// Who may cache a cacheable result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    /// Any client and intermediary: the same for everyone.
    Public,
    /// Only this client.
    Private,
}

/// Mark `result` (an object) as finished: `resultType: "complete"`.
pub fn complete(mut result: Value) -> Value {
    if let Some(map) = result.as_object_mut() {
        // An `InputRequiredResult` already says what it is.
        map.entry(RESULT_TYPE_KEY)
            .or_insert_with(|| RESULT_COMPLETE.into());
    }
    result
}

/// Mark `result` as finished and cacheable for `ttl_ms` by `scope` (list and read results).
pub fn cacheable(result: Value, ttl_ms: u64, scope: CacheScope) -> Value {
    let mut result = complete(result);
    if let Some(map) = result.as_object_mut() {
        map.insert("ttlMs".into(), ttl_ms.into());
        map.insert(
            "cacheScope".into(),
            serde_json::to_value(scope).unwrap_or(Value::Null),
        );
    }
    result
}

/// `server/discover` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverResult {
    /// Every version the server speaks, newest first.
    pub supported_versions: Vec<String>,
    /// The server's capabilities.
    pub capabilities: Value,
    /// Usage notes for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Server identity, in `_meta["io.modelcontextprotocol/serverInfo"]`.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
}

/// A result asking the client for input before the request can finish.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRequiredResult {
    /// Server-chosen key → a `{method, params}` request (elicitation, sampling, roots).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_requests: BTreeMap<String, Value>,
    /// Opaque state to send back unchanged with the retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_state: Option<String>,
}

impl InputRequiredResult {
    /// The wire form, `resultType: "input_required"` included.
    pub fn to_value(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.insert(RESULT_TYPE_KEY.into(), RESULT_INPUT_REQUIRED.into());
        }
        value
    }
}

/// `{"method":…,"params":…}`: one entry of `inputRequests`.
pub fn input_request(method: &str, params: Value) -> Value {
    serde_json::json!({"method": method, "params": params})
}

/// The retry fields of a request's params: the responses to `inputRequests` and the state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputResponses {
    /// Key of `inputRequests` → the client's result for it.
    #[serde(default)]
    pub input_responses: BTreeMap<String, Value>,
    /// The `requestState` given out, unchanged.
    #[serde(default)]
    pub request_state: Option<String>,
}

impl InputResponses {
    /// Read them from request `params` (absent or malformed: empty).
    pub fn from_params(params: Option<&Value>) -> Self {
        params
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default()
    }
}

/// What a `subscriptions/listen` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFilter {
    /// `notifications/tools/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_list_changed: Option<bool>,
    /// `notifications/prompts/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_list_changed: Option<bool>,
    /// `notifications/resources/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_list_changed: Option<bool>,
    /// URIs whose `notifications/resources/updated` the client wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_subscriptions: Option<Vec<String>>,
}

/// `subscriptions/listen` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionsListenParams {
    /// The filter.
    pub notifications: SubscriptionFilter,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_requests::ELICITATION_CREATE;
    use serde_json::json;

    #[test]
    fn meta_is_read_from_params() {
        let params = json!({"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
            "io.modelcontextprotocol/logLevel": "warning",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        }});
        let meta = RequestMeta::from_params(Some(&params));
        assert_eq!(meta.protocol_version.as_deref(), Some("2026-07-28"));
        assert_eq!(meta.log_level, Some(LoggingLevel::Warning));
        assert!(meta.has_capability("elicitation"));
        assert!(!meta.has_capability("sampling"));
        assert!(meta.traceparent.is_some());
        assert_eq!(RequestMeta::from_params(None), RequestMeta::default());
        let mut taken = params.clone();
        assert_eq!(RequestMeta::take_from(Some(&mut taken)), Some(meta));
        assert_eq!(
            taken,
            json!({"_meta": {"io.modelcontextprotocol/logLevel": "warning"}})
        );
        assert_eq!(RequestMeta::take_from(Some(&mut json!({}))), None);
        let bad = json!({"_meta": {"io.modelcontextprotocol/logLevel": "loud"}});
        assert_eq!(RequestMeta::from_params(Some(&bad)).log_level, None);
    }

    #[test]
    fn result_shapes() {
        assert_eq!(complete(json!({})), json!({"resultType": "complete"}));
        assert_eq!(
            cacheable(json!({"tools": []}), 60000, CacheScope::Public),
            json!({"tools": [], "resultType": "complete", "ttlMs": 60000, "cacheScope": "public"})
        );
        let discover = DiscoverResult {
            supported_versions: vec!["2026-07-28".into(), "2025-11-25".into()],
            capabilities: json!({"tools": {}}),
            instructions: None,
            meta: None,
        };
        assert_eq!(
            cacheable(
                serde_json::to_value(&discover).unwrap(),
                0,
                CacheScope::Private
            ),
            json!({"supportedVersions": ["2026-07-28", "2025-11-25"], "capabilities": {"tools": {}},
                   "resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
        );
        let mut input = InputRequiredResult::default();
        input.input_requests.insert(
            "confirm".into(),
            input_request(
                ELICITATION_CREATE,
                json!({"message": "ok?", "requestedSchema": {"type": "object", "properties": {}}}),
            ),
        );
        input.request_state = Some("s1".into());
        assert_eq!(
            input.to_value(),
            json!({"resultType": "input_required", "requestState": "s1", "inputRequests": {"confirm":
                {"method": "elicitation/create", "params": {"message": "ok?", "requestedSchema": {"type": "object", "properties": {}}}}}})
        );
        let retry = json!({"name": "t", "inputResponses": {"confirm": {"action": "accept"}}, "requestState": "s1"});
        let responses = InputResponses::from_params(Some(&retry));
        assert_eq!(responses.request_state.as_deref(), Some("s1"));
        assert_eq!(
            responses.input_responses["confirm"],
            json!({"action": "accept"})
        );
        assert_eq!(InputResponses::from_params(None), InputResponses::default());
    }

    #[test]
    fn listen_filter_wire_shape() {
        let params: SubscriptionsListenParams = serde_json::from_value(json!({
            "notifications": {"toolsListChanged": true, "resourceSubscriptions": ["test://a"]}
        }))
        .unwrap();
        assert_eq!(params.notifications.tools_list_changed, Some(true));
        assert_eq!(params.notifications.prompts_list_changed, None);
        assert_eq!(
            serde_json::to_value(&params.notifications).unwrap(),
            json!({"toolsListChanged": true, "resourceSubscriptions": ["test://a"]})
        );
    }
}
