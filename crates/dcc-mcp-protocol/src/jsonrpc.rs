//! JSON-RPC 2.0 framing: building envelopes and classifying incoming messages.
//!
//! Messages stay `serde_json::Value`s: a server reads a method and routes it, a client reads an id and
//! correlates it, and neither needs a typed model of every params object to do so. The builders move
//! their values in (no copy of a tool result per call); [`classify`] takes a message apart by value.

use serde_json::{Map, Value};

use crate::codes;

/// The `jsonrpc` member of every message.
pub const JSONRPC_VERSION: &str = "2.0";

/// A JSON-RPC error object: what a request failed with.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error code (see [`codes`](crate::codes)).
    pub code: i64,
    /// A short description for people.
    pub message: String,
    /// Optional structured detail.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with a code and a message, no data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The same error carrying `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The error object, `{"code":…,"message":…[,"data":…]}`.
    pub fn into_value(self) -> Value {
        let mut map = Map::new();
        map.insert("code".into(), self.code.into());
        map.insert("message".into(), Value::String(self.message));
        if let Some(data) = self.data {
            map.insert("data".into(), data);
        }
        Value::Object(map)
    }

    /// Read an error object; a malformed one becomes an `INTERNAL_ERROR` carrying it as `data`.
    pub fn from_value(value: Value) -> Self {
        let code = value.get("code").and_then(Value::as_i64);
        let message = value.get("message").and_then(Value::as_str);
        match (code, message) {
            (Some(code), Some(message)) => Self {
                code,
                message: message.to_owned(),
                data: value.get("data").cloned(),
            },
            _ => {
                Self::new(codes::INTERNAL_ERROR, "malformed JSON-RPC error object").with_data(value)
            }
        }
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (JSON-RPC error {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

/// An object of `entries`, in order, with the values moved in. Built by hand because `json!` turns
/// every interpolated value into a new tree through `Serialize`: for `success` that copied the whole
/// tool result once more per call.
pub fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut map = Map::new();
    for (key, value) in entries {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`
pub fn success(id: Value, result: Value) -> Value {
    object([
        ("jsonrpc", JSONRPC_VERSION.into()),
        ("id", id),
        ("result", result),
    ])
}

/// `{"jsonrpc":"2.0","id":…,"error":{code,message}}`
pub fn error(id: Value, code: i64, message: &str) -> Value {
    let error = object([("code", code.into()), ("message", message.into())]);
    object([
        ("jsonrpc", JSONRPC_VERSION.into()),
        ("id", id),
        ("error", error),
    ])
}

/// The error response for `error`, `data` included.
pub fn error_response(id: Value, error: RpcError) -> Value {
    object([
        ("jsonrpc", JSONRPC_VERSION.into()),
        ("id", id),
        ("error", error.into_value()),
    ])
}

/// The response for an outcome: `success` or `error_response`.
pub fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => success(id, result),
        Err(error) => error_response(id, error),
    }
}

/// `{"jsonrpc":"2.0","method":…,"params":…}`
pub fn notification(method: &str, params: Value) -> Value {
    object([
        ("jsonrpc", JSONRPC_VERSION.into()),
        ("method", method.into()),
        ("params", params),
    ])
}

/// `{"jsonrpc":"2.0","id":…,"method":…,"params":…}`
pub fn request(id: Value, method: &str, params: Value) -> Value {
    object([
        ("jsonrpc", JSONRPC_VERSION.into()),
        ("id", id),
        ("method", method.into()),
        ("params", params),
    ])
}

/// A JSON-RPC id as a map key: its JSON text, so the string `"1"` and the number `1` stay distinct.
pub fn request_key(id: &Value) -> String {
    id.to_string()
}

/// Whether `id` may be a request id (a string or a number; MCP forbids `null`).
pub fn is_valid_id(id: &Value) -> bool {
    id.is_string() || id.is_number()
}

/// One classified incoming JSON-RPC message.
#[derive(Debug)]
pub enum Incoming {
    /// A request: needs a response.
    Request {
        /// Its id, a string or a number.
        id: Value,
        /// The method.
        method: String,
        /// Its params, an object or an array when present.
        params: Option<Value>,
    },
    /// A notification: no response.
    Notification {
        /// The method.
        method: String,
        /// Its params, an object or an array when present.
        params: Option<Value>,
    },
    /// A response to a request this side sent: no response.
    Response {
        /// The id of the request it answers (`null` for an error about an unreadable request).
        id: Value,
        /// The result, or the error.
        outcome: Result<Value, RpcError>,
    },
}

/// Classify one message; `Err` is the ready error response (`-32600`).
pub fn classify(message: Value) -> Result<Incoming, Value> {
    let Value::Object(mut map) = message else {
        return Err(invalid(Value::Null, "a JSON-RPC message must be an object"));
    };
    let id = map.remove("id");
    if map.get("jsonrpc").and_then(Value::as_str) != Some(JSONRPC_VERSION) {
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
                Some(id) if is_valid_id(&id) => Ok(Incoming::Request { id, method, params }),
                Some(_) => Err(invalid(Value::Null, "\"id\" must be a string or a number")),
            }
        }
        Some(_) => Err(invalid(valid_id(id), "\"method\" must be a string")),
        None => match (id, map.remove("result"), map.remove("error")) {
            (Some(id), Some(result), None) => Ok(Incoming::Response {
                id,
                outcome: Ok(result),
            }),
            (Some(id), None, Some(error)) => Ok(Incoming::Response {
                id,
                outcome: Err(RpcError::from_value(error)),
            }),
            (id, _, _) => Err(invalid(
                valid_id(id),
                "not a JSON-RPC request, notification or response",
            )),
        },
    }
}

fn valid_id(id: Option<Value>) -> Value {
    match id {
        Some(id) if is_valid_id(&id) => id,
        _ => Value::Null,
    }
}

fn invalid(id: Value, message: &str) -> Value {
    error(id, codes::INVALID_REQUEST, message)
}

/// `params` as an object (absent → empty).
pub fn params_object(params: Option<Value>) -> Result<Map<String, Value>, RpcError> {
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
        assert_eq!(
            request(json!(3), "ping", json!({})),
            json!({"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {}})
        );
        assert_eq!(
            response(json!(1), Err(RpcError::new(-1, "m").with_data(json!([1])))),
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "m", "data": [1]}})
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
        let err = classify(json!({"jsonrpc":"1.0","id":7,"method":"ping"})).unwrap_err();
        assert_eq!(err["error"]["code"], codes::INVALID_REQUEST);
        assert_eq!(err["id"], 7);
        let err = classify(json!([1])).unwrap_err();
        assert_eq!(err["id"], Value::Null);
        let err = classify(json!({"jsonrpc":"2.0","id":null,"method":"ping"})).unwrap_err();
        assert_eq!(err["error"]["code"], codes::INVALID_REQUEST);
    }

    #[test]
    fn classifies_responses_for_the_client_side() {
        match classify(json!({"jsonrpc":"2.0","id":1,"result":{"a":1}})) {
            Ok(Incoming::Response { id, outcome }) => {
                assert_eq!(id, json!(1));
                assert_eq!(outcome, Ok(json!({"a": 1})));
            }
            other => panic!("{other:?}"),
        }
        match classify(
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}),
        ) {
            Ok(Incoming::Response { id, outcome }) => {
                assert_eq!(id, Value::Null);
                assert_eq!(
                    outcome,
                    Err(RpcError::new(codes::PARSE_ERROR, "Parse error"))
                );
            }
            other => panic!("{other:?}"),
        }
        match classify(json!({"jsonrpc":"2.0","id":"x","error":"nope"})) {
            Ok(Incoming::Response {
                outcome: Err(error),
                ..
            }) => {
                assert_eq!(error.code, codes::INTERNAL_ERROR);
                assert_eq!(error.data, Some(json!("nope")));
            }
            other => panic!("{other:?}"),
        }
        // Both result and error, or neither, is no response; neither is one without an id.
        for message in [
            json!({"jsonrpc":"2.0","id":1,"result":1,"error":{}}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","result":1}),
        ] {
            let err = classify(message).unwrap_err();
            assert_eq!(err["error"]["code"], codes::INVALID_REQUEST);
        }
    }

    #[test]
    fn keys_keep_strings_and_numbers_apart() {
        assert_eq!(request_key(&json!(1)), "1");
        assert_eq!(request_key(&json!("1")), "\"1\"");
    }
}
