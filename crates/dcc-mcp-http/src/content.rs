//! A handler value that is already an MCP tool result (content blocks such as images or audio).
//!
//! Why a marker and not a look at the value's shape: a handler that returns
//! `{"content": [...]}` as its *data* must still get it back as data. Handlers return a
//! `serde_json::Value`, so a complete result travels as one object under the reserved key
//! [`CALL_TOOL_RESULT_KEY`], built only by [`CallToolResult::into_value`] (the Python package's
//! `ToolResult` builds the same object). The result mapper in `tools` unwraps it; any other value
//! keeps the usual mapping (string → text, anything else → JSON text, objects also
//! `structuredContent`).

use serde_json::{Map, Value};

/// The reserved key of a value made by [`CallToolResult::into_value`]: a handler value that is an
/// object with exactly this one key is a complete tool result, not data.
pub const CALL_TOOL_RESULT_KEY: &str = "dcc-mcp/callToolResult";

/// A complete `tools/call` result, returned by a handler as is (after [`into_value`](Self::into_value)).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallToolResult {
    /// MCP content blocks (`{"type": "text" | "image" | "audio" | "resource_link" | "resource", …}`).
    pub content: Vec<Value>,
    /// Optional `structuredContent` (an object); checked against the tool's `outputSchema`.
    pub structured_content: Option<Map<String, Value>>,
    /// `isError`: the call failed, and `content` says why.
    pub is_error: bool,
}

impl CallToolResult {
    /// A successful result with these content blocks.
    pub fn new(content: Vec<Value>) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }

    /// The value a handler returns to have this result sent as is.
    pub fn into_value(self) -> Value {
        let mut result = Map::new();
        result.insert("content".into(), Value::Array(self.content));
        if let Some(structured) = self.structured_content {
            result.insert("structuredContent".into(), Value::Object(structured));
        }
        result.insert("isError".into(), Value::Bool(self.is_error));
        let mut wrapper = Map::new();
        wrapper.insert(CALL_TOOL_RESULT_KEY.into(), Value::Object(result));
        Value::Object(wrapper)
    }
}

/// What a handler value means to the result mapper.
pub(crate) enum HandlerValue {
    /// Plain data, mapped as usual.
    Data(Value),
    /// A complete result (already checked to have a `content` array, a boolean `isError` and an
    /// object `structuredContent` when present).
    Result(Map<String, Value>),
    /// A marked value that is not a valid result; the message says what is wrong.
    Invalid(String),
}

/// Unwraps a [`CallToolResult::into_value`] value; anything else is [`HandlerValue::Data`].
pub(crate) fn classify(value: Value) -> HandlerValue {
    let is_marked = matches!(&value, Value::Object(map)
        if map.len() == 1 && map.contains_key(CALL_TOOL_RESULT_KEY));
    if !is_marked {
        return HandlerValue::Data(value);
    }
    let Value::Object(mut wrapper) = value else {
        return HandlerValue::Invalid("not an object".to_owned());
    };
    let Some(Value::Object(mut result)) = wrapper.remove(CALL_TOOL_RESULT_KEY) else {
        return HandlerValue::Invalid("the result must be an object".to_owned());
    };
    match result.get("content") {
        Some(Value::Array(blocks)) => {
            if let Some(index) = blocks
                .iter()
                .position(|block| !block.get("type").is_some_and(Value::is_string))
            {
                return HandlerValue::Invalid(format!(
                    "content[{index}] is not a content block (an object with a string \"type\")"
                ));
            }
        }
        _ => return HandlerValue::Invalid("\"content\" must be an array".to_owned()),
    }
    match result.get("structuredContent") {
        None | Some(Value::Object(_)) => {}
        Some(_) => {
            return HandlerValue::Invalid("\"structuredContent\" must be an object".to_owned())
        }
    }
    match result.get("isError") {
        None => {
            result.insert("isError".into(), Value::Bool(false));
        }
        Some(Value::Bool(_)) => {}
        Some(_) => return HandlerValue::Invalid("\"isError\" must be a boolean".to_owned()),
    }
    result.retain(|key, _| matches!(key.as_str(), "content" | "structuredContent" | "isError"));
    HandlerValue::Result(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_marked_value_is_a_result() {
        let image = json!({"type": "image", "data": "AAAA", "mimeType": "image/png"});
        let value = CallToolResult::new(vec![image.clone()]).into_value();
        match classify(value) {
            HandlerValue::Result(result) => assert_eq!(
                Value::Object(result),
                json!({"content": [image], "isError": false})
            ),
            _ => panic!("the marked value must be a result"),
        }
        // The same shape without the marker is data.
        let data = json!({"content": [image], "isError": false});
        assert!(matches!(classify(data.clone()), HandlerValue::Data(v) if v == data));
        // The marker next to other keys is data too.
        let data = json!({CALL_TOOL_RESULT_KEY: {"content": []}, "other": 1});
        assert!(matches!(classify(data), HandlerValue::Data(_)));
    }

    #[test]
    fn a_marked_value_must_be_a_valid_result() {
        for (bad, message) in [
            (json!({"content": "x"}), "\"content\" must be an array"),
            (json!({"content": [1]}), "content[0] is not a content block"),
            (
                json!({"content": [], "isError": 1}),
                "\"isError\" must be a boolean",
            ),
            (
                json!({"content": [], "structuredContent": []}),
                "\"structuredContent\" must be an object",
            ),
        ] {
            match classify(json!({CALL_TOOL_RESULT_KEY: bad})) {
                HandlerValue::Invalid(found) => assert!(found.starts_with(message), "{found}"),
                _ => panic!("{bad} must be refused"),
            }
        }
    }
}
