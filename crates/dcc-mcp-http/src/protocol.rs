//! JSON-RPC 2.0 framing and MCP protocol-version constants shared by the `/mcp` handlers.

use serde_json::{Map, Value};

/// Protocol versions this server speaks, newest first.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// The version offered when a client asks for one we do not support.
pub const LATEST_PROTOCOL_VERSION: &str = SUPPORTED_PROTOCOL_VERSIONS[0];

/// The only version that allows JSON-RPC batches.
pub(crate) const BATCH_PROTOCOL_VERSION: &str = "2025-03-26";

/// Standard JSON-RPC error codes.
pub(crate) mod codes {
    pub(crate) const PARSE_ERROR: i64 = -32700;
    pub(crate) const INVALID_REQUEST: i64 = -32600;
    pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
    pub(crate) const INVALID_PARAMS: i64 = -32602;
    pub(crate) const INTERNAL_ERROR: i64 = -32603;
    /// Transport-level rejection (missing session, bad header), as the reference SDKs use it.
    pub(crate) const SERVER_ERROR: i64 = -32000;
    /// Unknown or ended session.
    pub(crate) const SESSION_NOT_FOUND: i64 = -32001;
}

/// The supported version equal to `requested`, if any.
pub(crate) fn supported_version(requested: &str) -> Option<&'static str> {
    SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .copied()
        .find(|version| *version == requested)
}

/// A JSON-RPC error the dispatcher turns into an error response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// An object of `entries`, in order, with the values moved in. Built by hand because `json!` turns
/// every interpolated value into a new tree through `Serialize`: for `success` that copied the whole
/// tool result once more per call.
pub(crate) fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut map = Map::new();
    for (key, value) in entries {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`
pub(crate) fn success(id: Value, result: Value) -> Value {
    object([("jsonrpc", "2.0".into()), ("id", id), ("result", result)])
}

/// `{"jsonrpc":"2.0","id":…,"error":{code,message}}`
pub(crate) fn error(id: Value, code: i64, message: &str) -> Value {
    let error = object([("code", code.into()), ("message", message.into())]);
    object([("jsonrpc", "2.0".into()), ("id", id), ("error", error)])
}

/// `{"jsonrpc":"2.0","method":…,"params":…}`
pub(crate) fn notification(method: &str, params: Value) -> Value {
    object([
        ("jsonrpc", "2.0".into()),
        ("method", method.into()),
        ("params", params),
    ])
}

/// One classified incoming JSON-RPC message.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A request: needs a response.
    Request {
        id: Value,
        method: String,
        params: Option<Value>,
    },
    /// A notification: no response.
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// A response to a server→client request: no response.
    Response,
}

/// Classify one message; `Err` is the ready error response (`-32600`).
pub(crate) fn classify(message: Value) -> Result<Incoming, Value> {
    let Value::Object(mut map) = message else {
        return Err(invalid(Value::Null, "a JSON-RPC message must be an object"));
    };
    let id = map.remove("id");
    if map.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(valid_id(id), "\"jsonrpc\" must be \"2.0\""));
    }
    match map.remove("method") {
        Some(Value::String(method)) => {
            let params = map.remove("params");
            if let Some(params) = &params {
                if !params.is_object() && !params.is_array() {
                    return Err(invalid(valid_id(id), "\"params\" must be an object"));
                }
            }
            match id {
                None => Ok(Incoming::Notification { method, params }),
                Some(id @ (Value::String(_) | Value::Number(_))) => {
                    Ok(Incoming::Request { id, method, params })
                }
                Some(_) => Err(invalid(Value::Null, "\"id\" must be a string or a number")),
            }
        }
        Some(_) => Err(invalid(valid_id(id), "\"method\" must be a string")),
        None if id.is_some() && (map.contains_key("result") || map.contains_key("error")) => {
            Ok(Incoming::Response)
        }
        None => Err(invalid(
            valid_id(id),
            "not a JSON-RPC request, notification or response",
        )),
    }
}

fn valid_id(id: Option<Value>) -> Value {
    match id {
        Some(id @ (Value::String(_) | Value::Number(_))) => id,
        _ => Value::Null,
    }
}

fn invalid(id: Value, message: &str) -> Value {
    error(id, codes::INVALID_REQUEST, message)
}

/// `params` as an object (absent → empty).
pub(crate) fn params_object(params: Option<Value>) -> Result<Map<String, Value>, RpcError> {
    match params {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(RpcError::new(
            codes::INVALID_PARAMS,
            "params must be an object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelopes_are_exactly_the_jsonrpc_shapes() {
        let result = json!({"content": [{"type": "text", "text": "hi"}], "isError": false});
        assert_eq!(
            success(json!(7), result.clone()),
            json!({"jsonrpc": "2.0", "id": 7, "result": result})
        );
        assert_eq!(
            success(json!("a"), json!(null)).to_string(),
            r#"{"id":"a","jsonrpc":"2.0","result":null}"#
        );
        assert_eq!(
            error(Value::Null, codes::INVALID_PARAMS, "bad \"x\"").to_string(),
            r#"{"error":{"code":-32602,"message":"bad \"x\""},"id":null,"jsonrpc":"2.0"}"#
        );
        assert_eq!(
            notification("notifications/progress", json!({"progress": 1})),
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}})
        );
        assert_eq!(object([]), json!({}));
        // A repeated key keeps the last value, as a JSON object would.
        assert_eq!(object([("k", json!(1)), ("k", json!(2))]), json!({"k": 2}));
    }

    #[test]
    fn classifies_messages() {
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":1,"method":"ping"})),
            Ok(Incoming::Request { .. })
        ));
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","method":"notifications/initialized"})),
            Ok(Incoming::Notification { .. })
        ));
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":1,"result":{}})),
            Ok(Incoming::Response)
        ));
        let err = classify(json!({"jsonrpc":"1.0","id":7,"method":"ping"})).unwrap_err();
        assert_eq!(err["error"]["code"], codes::INVALID_REQUEST);
        assert_eq!(err["id"], 7);
        let err = classify(json!([1])).unwrap_err();
        assert_eq!(err["id"], Value::Null);
        let err = classify(json!({"jsonrpc":"2.0","id":null,"method":"ping"})).unwrap_err();
        assert_eq!(err["error"]["code"], codes::INVALID_REQUEST);
    }

    #[test]
    fn version_lookup() {
        assert_eq!(supported_version("2025-06-18"), Some("2025-06-18"));
        assert_eq!(supported_version("2024-11-05"), None);
    }
}
