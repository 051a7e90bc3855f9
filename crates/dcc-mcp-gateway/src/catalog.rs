//! A backend's `tools/list` entries as gateway tools: the name namespaced (`NAME__tool`), the
//! description, schemas, title and annotations kept as the backend sent them.
//!
//! A backend tool the gateway cannot serve (a namespaced name past the server's name limit, a
//! schema the validator refuses) is left out with a warning rather than failing the whole backend.

use dcc_mcp_http::{ToolAnnotations, ToolSpec, MAX_TOOL_NAME_CHARS};
use serde_json::Value;

use crate::names::namespaced;

/// One backend tool the gateway will serve.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProxiedTool {
    /// The backend's own name (what the call sends upstream).
    pub(crate) upstream: String,
    /// The gateway's spec (namespaced name).
    pub(crate) spec: ToolSpec,
}

/// The gateway specs of `backend`'s `tools`, sorted by name; entries that are not tools are skipped.
pub(crate) fn proxied_tools(backend: &str, tools: &[Value]) -> Vec<ProxiedTool> {
    let mut out: Vec<ProxiedTool> = tools
        .iter()
        .filter_map(|tool| proxied_tool(backend, tool))
        .collect();
    out.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    out.dedup_by(|a, b| a.spec.name == b.spec.name);
    out
}

fn proxied_tool(backend: &str, tool: &Value) -> Option<ProxiedTool> {
    let upstream = tool.get("name")?.as_str()?.to_owned();
    let name = namespaced(backend, &upstream);
    if name.chars().count() > MAX_TOOL_NAME_CHARS {
        tracing::warn!(backend, tool = %upstream, "namespaced tool name is too long; not served");
        return None;
    }
    let mut spec = ToolSpec::new(name);
    if let Some(description) = tool.get("description").and_then(Value::as_str) {
        spec = spec.description(description);
    }
    if let Some(schema) = tool.get("inputSchema").filter(|s| s.is_object()) {
        spec = spec.input_schema(schema.clone());
    }
    if let Some(schema) = tool.get("outputSchema").filter(|s| s.is_object()) {
        spec = spec.output_schema(schema.clone());
    }
    if let Some(title) = tool.get("title").and_then(Value::as_str) {
        spec = spec.title(title);
    }
    if let Some(hints) = tool.get("annotations").filter(|a| a.is_object()) {
        let hint = |key: &str| hints.get(key).and_then(Value::as_bool);
        spec = spec.annotations(ToolAnnotations {
            read_only_hint: hint("readOnlyHint"),
            destructive_hint: hint("destructiveHint"),
            idempotent_hint: hint("idempotentHint"),
            open_world_hint: hint("openWorldHint"),
        });
    }
    Some(ProxiedTool { upstream, spec })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tools_are_namespaced_with_their_metadata_kept() {
        let tools = [
            json!({"name": "z", "inputSchema": {"type": "object"}}),
            json!({
                "name": "add", "description": "Add.", "title": "Adder",
                "inputSchema": {"type": "object", "required": ["a"]},
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": true, "openWorldHint": false}
            }),
            json!({"noname": true}),
            json!({"name": "x".repeat(127)}),
        ];
        let out = proxied_tools("a", &tools);
        let names: Vec<&str> = out.iter().map(|t| t.spec.name.as_str()).collect();
        assert_eq!(names, ["a__add", "a__z"]);
        let add = &out[0];
        assert_eq!(add.upstream, "add");
        assert_eq!(add.spec.description, "Add.");
        assert_eq!(add.spec.title.as_deref(), Some("Adder"));
        assert_eq!(
            add.spec.input_schema,
            json!({"type": "object", "required": ["a"]})
        );
        assert_eq!(add.spec.output_schema, Some(json!({"type": "object"})));
        assert_eq!(
            add.spec.annotations.map(|a| a.to_wire()),
            Some(json!({"readOnlyHint": true, "openWorldHint": false}))
        );
    }
}
