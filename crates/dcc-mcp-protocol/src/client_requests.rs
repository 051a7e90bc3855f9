//! Requests a server sends to a client: elicitation (`elicitation/create`, form mode), sampling
//! (`sampling/createMessage`) and `roots/list`.
//!
//! In the session era they travel on the session's SSE stream and the answer comes back by POST; in
//! 2026-07-28 they are the values of an `InputRequiredResult`'s `inputRequests`
//! ([`crate::stateless`]). The shapes are the same in both.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::content::{ContentBlock, Role};

/// Request: ask the user for structured input.
pub const ELICITATION_CREATE: &str = "elicitation/create";
/// Request: ask the client's model for a completion.
pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
/// Request: the client's filesystem roots.
pub const ROOTS_LIST: &str = "roots/list";

/// `elicitation/create` params, form mode: a message and a flat object schema of primitives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElicitFormParams {
    /// `"form"` (absent means form too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// What the user is asked.
    pub message: String,
    /// `{"type":"object","properties":{…},"required":[…]}`, built with [`FormSchema`].
    pub requested_schema: Value,
}

/// Builds the restricted schema of a form: each property a string, number, integer, boolean or enum,
/// each with an optional default (SEP-1034) and enums titled or not, single or multi-select (SEP-1330).
#[derive(Debug, Clone, Default)]
pub struct FormSchema {
    properties: Map<String, Value>,
    required: Vec<String>,
}

impl FormSchema {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a property `name` with the primitive schema `schema` (see the `*_field` helpers).
    pub fn field(mut self, name: &str, schema: Value, required: bool) -> Self {
        self.properties.insert(name.to_owned(), schema);
        if required {
            self.required.push(name.to_owned());
        }
        self
    }

    /// The schema as JSON.
    pub fn build(self) -> Value {
        let mut schema = json!({"type": "object", "properties": self.properties});
        if let (false, Some(map)) = (self.required.is_empty(), schema.as_object_mut()) {
            map.insert("required".into(), json!(self.required));
        }
        schema
    }
}

fn with_default(mut schema: Value, default: Option<Value>) -> Value {
    if let (Some(default), Some(map)) = (default, schema.as_object_mut()) {
        map.insert("default".into(), default);
    }
    schema
}

/// `{"type":"string"}` with an optional default.
pub fn string_field(default: Option<&str>) -> Value {
    with_default(json!({"type": "string"}), default.map(Value::from))
}

/// `{"type":"integer"}` with an optional default.
pub fn integer_field(default: Option<i64>) -> Value {
    with_default(json!({"type": "integer"}), default.map(Value::from))
}

/// `{"type":"number"}` with an optional default.
pub fn number_field(default: Option<f64>) -> Value {
    with_default(json!({"type": "number"}), default.map(Value::from))
}

/// `{"type":"boolean"}` with an optional default.
pub fn boolean_field(default: Option<bool>) -> Value {
    with_default(json!({"type": "boolean"}), default.map(Value::from))
}

/// Single-select enum without titles: `{"type":"string","enum":[…]}`.
pub fn enum_field(values: &[&str], default: Option<&str>) -> Value {
    with_default(
        json!({"type": "string", "enum": values}),
        default.map(Value::from),
    )
}

/// Single-select enum with titles: `{"type":"string","oneOf":[{"const":…,"title":…}]}`.
pub fn titled_enum_field(options: &[(&str, &str)], default: Option<&str>) -> Value {
    let one_of: Vec<Value> = options
        .iter()
        .map(|(value, title)| json!({"const": value, "title": title}))
        .collect();
    with_default(
        json!({"type": "string", "oneOf": one_of}),
        default.map(Value::from),
    )
}

/// The deprecated titled enum: `{"type":"string","enum":[…],"enumNames":[…]}`.
pub fn legacy_titled_enum_field(values: &[&str], names: &[&str]) -> Value {
    json!({"type": "string", "enum": values, "enumNames": names})
}

/// Multi-select enum without titles: `{"type":"array","items":{"type":"string","enum":[…]}}`.
pub fn multi_enum_field(values: &[&str], default: Option<&[&str]>) -> Value {
    with_default(
        json!({"type": "array", "items": {"type": "string", "enum": values}}),
        default.map(|d| json!(d)),
    )
}

/// Multi-select enum with titles: `{"type":"array","items":{"anyOf":[{"const":…,"title":…}]}}`.
pub fn titled_multi_enum_field(options: &[(&str, &str)], default: Option<&[&str]>) -> Value {
    let any_of: Vec<Value> = options
        .iter()
        .map(|(value, title)| json!({"const": value, "title": title}))
        .collect();
    with_default(
        json!({"type": "array", "items": {"anyOf": any_of}}),
        default.map(|d| json!(d)),
    )
}

/// What the user did with an elicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElicitAction {
    /// Submitted the form (`content` holds the values).
    Accept,
    /// Said no.
    Decline,
    /// Dismissed it.
    Cancel,
}

/// `elicitation/create` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElicitResult {
    /// What the user did.
    pub action: ElicitAction,
    /// The values, on accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Map<String, Value>>,
}

/// One message of a sampling request or result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingMessage {
    /// Who says it.
    pub role: Role,
    /// Text, image or audio.
    pub content: ContentBlock,
}

/// `sampling/createMessage` params (the fields this server sets; the others are optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageParams {
    /// The conversation.
    pub messages: Vec<SamplingMessage>,
    /// Most tokens to sample.
    pub max_tokens: u64,
    /// A system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
}

/// `sampling/createMessage` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageResult {
    /// `assistant`, normally.
    pub role: Role,
    /// The sampled content.
    pub content: ContentBlock,
    /// The model used.
    pub model: String,
    /// Why sampling stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

/// One root of the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// A `file://` URI.
    pub uri: String,
    /// A name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `roots/list` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRootsResult {
    /// The roots.
    pub roots: Vec<Root>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_schema_with_defaults_and_enums() {
        let schema = FormSchema::new()
            .field("name", string_field(Some("John Doe")), true)
            .field("age", integer_field(Some(30)), false)
            .field("score", number_field(Some(95.5)), false)
            .field(
                "status",
                enum_field(&["active", "inactive"], Some("active")),
                false,
            )
            .field("verified", boolean_field(Some(true)), false)
            .build();
        assert_eq!(
            schema,
            json!({"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string", "default": "John Doe"},
                "age": {"type": "integer", "default": 30},
                "score": {"type": "number", "default": 95.5},
                "status": {"type": "string", "enum": ["active", "inactive"], "default": "active"},
                "verified": {"type": "boolean", "default": true}
            }})
        );
        assert_eq!(
            titled_enum_field(&[("a", "A")], None),
            json!({"type": "string", "oneOf": [{"const": "a", "title": "A"}]})
        );
        assert_eq!(
            multi_enum_field(&["x", "y"], Some(&["x"])),
            json!({"type": "array", "items": {"type": "string", "enum": ["x", "y"]}, "default": ["x"]})
        );
        assert_eq!(
            titled_multi_enum_field(&[("x", "X")], None),
            json!({"type": "array", "items": {"anyOf": [{"const": "x", "title": "X"}]}})
        );
        assert_eq!(
            legacy_titled_enum_field(&["a"], &["A"]),
            json!({"type": "string", "enum": ["a"], "enumNames": ["A"]})
        );
        assert_eq!(
            FormSchema::new().build(),
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn request_and_result_wire_shapes() {
        let params = ElicitFormParams {
            mode: None,
            message: "Delete 1204 keyframes?".into(),
            requested_schema: FormSchema::new()
                .field("ok", boolean_field(None), true)
                .build(),
        };
        assert_eq!(
            serde_json::to_value(&params).unwrap(),
            json!({"message": "Delete 1204 keyframes?", "requestedSchema":
                   {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}})
        );
        let result: ElicitResult =
            serde_json::from_value(json!({"action": "accept", "content": {"ok": true}})).unwrap();
        assert_eq!(result.action, ElicitAction::Accept);
        let declined: ElicitResult = serde_json::from_value(json!({"action": "decline"})).unwrap();
        assert_eq!(declined.content, None);
        assert!(serde_json::from_value::<ElicitResult>(json!({"action": "maybe"})).is_err());

        let sampling = CreateMessageParams {
            messages: vec![SamplingMessage {
                role: Role::User,
                content: ContentBlock::text("hello"),
            }],
            max_tokens: 100,
            system_prompt: None,
        };
        assert_eq!(
            serde_json::to_value(&sampling).unwrap(),
            json!({"messages": [{"role": "user", "content": {"type": "text", "text": "hello"}}], "maxTokens": 100})
        );
        let sampled: CreateMessageResult = serde_json::from_value(json!({
            "role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m", "stopReason": "endTurn"
        }))
        .unwrap();
        assert_eq!(sampled.model, "m");
        let roots: ListRootsResult =
            serde_json::from_value(json!({"roots": [{"uri": "file:///p", "name": "p"}]})).unwrap();
        assert_eq!(roots.roots[0].uri, "file:///p");
    }
}
