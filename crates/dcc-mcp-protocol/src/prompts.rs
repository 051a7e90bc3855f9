//! Prompts: `prompts/list` and `prompts/get`, templated messages a user picks in the client.
//!
//! A prompt declares string arguments; `prompts/get` fills them and returns messages whose content may
//! be text, an image, audio or an embedded resource.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::content::{ContentBlock, Role};

/// Request: one page of prompts.
pub const LIST: &str = "prompts/list";
/// Request: one prompt's messages, its arguments filled.
pub const GET: &str = "prompts/get";
/// Notification: the list of prompts changed.
pub const LIST_CHANGED: &str = "notifications/prompts/list_changed";

/// One argument a prompt takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether `prompts/get` needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// A prompt as `prompts/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// Its name (unique per server).
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<PromptArgument>,
}

/// `prompts/list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPromptsResult {
    /// This page.
    pub prompts: Vec<Prompt>,
    /// Cursor of the next page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `prompts/get` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPromptParams {
    /// The prompt.
    pub name: String,
    /// Argument values (strings only, as MCP says).
    #[serde(default)]
    pub arguments: BTreeMap<String, String>,
}

/// One message of a filled prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: ContentBlock,
}

/// `prompts/get` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetPromptResult {
    /// What the filled prompt is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The messages.
    pub messages: Vec<PromptMessage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::ResourceContents;
    use serde_json::json;

    #[test]
    fn list_and_get_wire_shapes() {
        let list = ListPromptsResult {
            prompts: vec![Prompt {
                name: "test_prompt_with_arguments".into(),
                title: None,
                description: Some("d".into()),
                arguments: vec![PromptArgument {
                    name: "arg1".into(),
                    title: None,
                    description: None,
                    required: Some(true),
                }],
            }],
            next_cursor: None,
        };
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"prompts": [{"name": "test_prompt_with_arguments", "description": "d",
                                "arguments": [{"name": "arg1", "required": true}]}]})
        );
        let params: GetPromptParams =
            serde_json::from_value(json!({"name": "p", "arguments": {"arg1": "a"}})).unwrap();
        assert_eq!(params.arguments.get("arg1").map(String::as_str), Some("a"));
        assert!(serde_json::from_value::<GetPromptParams>(
            json!({"name": "p", "arguments": {"n": 1}})
        )
        .is_err());
        let result = GetPromptResult {
            description: None,
            messages: vec![
                PromptMessage {
                    role: Role::User,
                    content: ContentBlock::resource(ResourceContents::text("test://r", None, "t")),
                },
                PromptMessage {
                    role: Role::Assistant,
                    content: ContentBlock::image("AA==", "image/png"),
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"messages": [
                {"role": "user", "content": {"type": "resource", "resource": {"uri": "test://r", "text": "t"}}},
                {"role": "assistant", "content": {"type": "image", "data": "AA==", "mimeType": "image/png"}}
            ]})
        );
    }
}
