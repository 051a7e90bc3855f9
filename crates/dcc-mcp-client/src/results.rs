//! Typed views of the results the client's helpers return (`tools/list` pages, `tools/call`
//! results); the JSON stays available for anything they do not name.

use serde_json::Value;

/// One page of `tools/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolsPage {
    /// The tools of this page (`name`, `description`, `inputSchema`, …).
    pub tools: Vec<Value>,
    /// The cursor of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

impl ToolsPage {
    /// Read a `tools/list` result.
    pub fn from_result(mut result: Value) -> Self {
        let tools = match result.get_mut("tools").map(Value::take) {
            Some(Value::Array(tools)) => tools,
            _ => Vec::new(),
        };
        let next_cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self { tools, next_cursor }
    }

    /// The tools' names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.tools
            .iter()
            .filter_map(|tool| tool.get("name").and_then(Value::as_str))
            .collect()
    }
}

/// The result of `tools/call`. A tool that failed is a result too (`is_error()`), as MCP reports
/// it: only protocol and transport failures are [`ClientError`](crate::ClientError)s.
#[derive(Debug, Clone, PartialEq)]
pub struct CallToolResult(pub Value);

impl CallToolResult {
    /// Whether the tool reported a failure (`isError: true`).
    pub fn is_error(&self) -> bool {
        dcc_mcp_protocol::tools::is_error_result(&self.0)
    }

    /// The text of the first text content item.
    pub fn text(&self) -> Option<&str> {
        dcc_mcp_protocol::tools::result_text(&self.0)
    }

    /// The content items.
    pub fn content(&self) -> &[Value] {
        self.0
            .get("content")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// `structuredContent`, when the tool returned an object.
    pub fn structured(&self) -> Option<&Value> {
        self.0.get("structuredContent")
    }

    /// The whole result object.
    pub fn into_value(self) -> Value {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn views_read_the_wire_shapes() {
        let page = ToolsPage::from_result(
            json!({"tools": [{"name": "a"}, {"name": "b"}], "nextCursor": "62"}),
        );
        assert_eq!(page.names(), ["a", "b"]);
        assert_eq!(page.next_cursor.as_deref(), Some("62"));
        assert_eq!(ToolsPage::from_result(json!({})).tools.len(), 0);
        let result = CallToolResult(json!({
            "content": [{"type": "text", "text": "{\"sum\":3}"}],
            "isError": false,
            "structuredContent": {"sum": 3}
        }));
        assert!(!result.is_error());
        assert_eq!(result.text(), Some("{\"sum\":3}"));
        assert_eq!(result.structured(), Some(&json!({"sum": 3})));
        assert_eq!(result.content().len(), 1);
        assert!(CallToolResult(json!({"isError": true, "content": []})).is_error());
    }
}
