//! Shapes of `tools/list` and `tools/call`: tool results, progress params, list cursors.
//!
//! A tool's return value becomes a `CallToolResult` here (text content, `structuredContent` for
//! objects, `isError`), whoever ran it (a sync call, a job, a built-in tool); a client reads it back
//! with [`is_error_result`] and [`result_text`].

use serde_json::{json, Map, Value};

use crate::jsonrpc::object;

/// `tools/call` `_meta` key: `true` runs this call as a job even when the tool is declared sync (a
/// dcc-mcp extension; other servers ignore it).
pub const ASYNC_META_KEY: &str = "dcc-mcp/async";

/// Notification: the list of tools changed (sent only by servers declaring `tools.listChanged`).
pub const LIST_CHANGED: &str = "notifications/tools/list_changed";

/// `_meta` key of a request asking for `notifications/progress` under this token.
pub const PROGRESS_TOKEN_KEY: &str = "progressToken";

/// An `isError: true` result with one text item.
pub fn error_result(message: &str) -> Value {
    text_result(message.to_owned(), true)
}

/// `{"content": [{"type": "text", "text": …}], "isError": …}`, the text moved in.
pub fn text_result(text: String, is_error: bool) -> Value {
    let item = object([("type", "text".into()), ("text", Value::String(text))]);
    object([
        ("content", Value::Array(vec![item])),
        ("isError", is_error.into()),
    ])
}

/// Map a handler value to a successful result: a string becomes its text; any other value becomes
/// its JSON text, and an object is also `structuredContent`.
pub fn value_result(value: Value) -> Value {
    match value {
        Value::String(text) => text_result(text, false),
        other => {
            let mut result = text_result(other.to_string(), false);
            if let (true, Some(map)) = (other.is_object(), result.as_object_mut()) {
                map.insert("structuredContent".into(), other);
            }
            result
        }
    }
}

/// Whether a `tools/call` result reports a tool failure (`isError: true`).
pub fn is_error_result(result: &Value) -> bool {
    result.get("isError") == Some(&Value::Bool(true))
}

/// The text of a result's first text content item, if any.
pub fn result_text(result: &Value) -> Option<&str> {
    result
        .get("content")?
        .as_array()?
        .iter()
        .find(|item| item.get("type").and_then(Value::as_str) == Some("text"))?
        .get("text")?
        .as_str()
}

/// `tools/call` params: `{"name":…,"arguments":…}`.
pub fn call_params(name: &str, arguments: Value) -> Value {
    object([("name", name.into()), ("arguments", arguments)])
}

/// `notifications/progress` params.
pub fn progress_params(
    token: &Value,
    progress: f64,
    total: Option<f64>,
    message: Option<&str>,
) -> Value {
    let mut params = Map::new();
    params.insert(PROGRESS_TOKEN_KEY.into(), token.clone());
    params.insert("progress".into(), json!(progress));
    if let Some(total) = total {
        params.insert("total".into(), json!(total));
    }
    if let Some(message) = message {
        params.insert("message".into(), json!(message));
    }
    Value::Object(params)
}

/// The `tools/list` cursor that resumes after the tool `name` (hex of its UTF-8 bytes: opaque to
/// clients, and any name round-trips).
pub fn encode_cursor(name: &str) -> String {
    name.bytes().map(|byte| format!("{byte:02x}")).collect()
}

/// The tool name a cursor of [`encode_cursor`] names; `None` for anything else.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_unicode() {
        for name in ["a", "résumé.导出", "quote\"back\\slash"] {
            assert_eq!(decode_cursor(&encode_cursor(name)).as_deref(), Some(name));
        }
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor("ff"), None);
    }

    #[test]
    fn value_mapping() {
        assert_eq!(
            value_result(json!("hi")),
            json!({"content": [{"type": "text", "text": "hi"}], "isError": false})
        );
        assert_eq!(
            value_result(json!(3)),
            json!({"content": [{"type": "text", "text": "3"}], "isError": false})
        );
        assert_eq!(
            value_result(json!({"sum": 3})),
            json!({"content": [{"type": "text", "text": "{\"sum\":3}"}], "isError": false, "structuredContent": {"sum": 3}})
        );
        assert_eq!(
            error_result("no \"x\"").to_string(),
            r#"{"content":[{"text":"no \"x\"","type":"text"}],"isError":true}"#
        );
        assert!(is_error_result(&error_result("x")));
        assert!(!is_error_result(&value_result(json!(1))));
        assert_eq!(result_text(&error_result("why")), Some("why"));
        assert_eq!(result_text(&json!({"content": []})), None);
    }

    #[test]
    fn progress_params_carry_only_what_is_given() {
        assert_eq!(
            progress_params(&json!("t"), 1.0, None, None),
            json!({"progressToken": "t", "progress": 1.0})
        );
        assert_eq!(
            progress_params(&json!(7), 0.5, Some(2.0), Some("half")),
            json!({"progressToken": 7, "progress": 0.5, "total": 2.0, "message": "half"})
        );
        assert_eq!(
            call_params("echo", json!({"a": 1})),
            json!({"name": "echo", "arguments": {"a": 1}})
        );
    }
}
