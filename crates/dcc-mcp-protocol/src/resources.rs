//! Resources: `resources/list`, `resources/templates/list`, `resources/read`, `resources/subscribe`,
//! `resources/unsubscribe` and the notifications that say a resource or the list changed.
//!
//! A resource is data a client may read by URI (the current scene, a render setting); a template
//! names a family of them with an RFC 6570 URI template (`maya://node/{name}`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::content::{Annotations, ResourceContents};

/// Request: one page of resources.
pub const LIST: &str = "resources/list";
/// Request: one page of resource templates.
pub const TEMPLATES_LIST: &str = "resources/templates/list";
/// Request: the contents of one resource.
pub const READ: &str = "resources/read";
/// Request: send `notifications/resources/updated` when this resource changes (session era).
pub const SUBSCRIBE: &str = "resources/subscribe";
/// Request: stop those notifications (session era).
pub const UNSUBSCRIBE: &str = "resources/unsubscribe";
/// Notification: a subscribed resource changed.
pub const UPDATED: &str = "notifications/resources/updated";
/// Notification: the list of resources changed.
pub const LIST_CHANGED: &str = "notifications/resources/list_changed";

/// A resource as `resources/list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Its URI.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Hints for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

impl Resource {
    /// A resource with only its URI and name.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Resource {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
            annotations: None,
        }
    }
}

/// A family of resources as `resources/templates/list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate {
    /// The RFC 6570 URI template.
    pub uri_template: String,
    /// Its name.
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The MIME type of every resource it names, when they share one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Hints for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

/// `resources/list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResourcesResult {
    /// This page.
    pub resources: Vec<Resource>,
    /// Cursor of the next page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `resources/templates/list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResourceTemplatesResult {
    /// This page.
    pub resource_templates: Vec<ResourceTemplate>,
    /// Cursor of the next page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Params of `resources/read`, `resources/subscribe` and `resources/unsubscribe`: `{"uri":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UriParams {
    /// The resource's URI.
    pub uri: String,
}

/// `resources/read` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadResourceResult {
    /// The contents (a resource may have several parts).
    pub contents: Vec<ResourceContents>,
}

/// Params of `notifications/resources/updated`.
pub fn updated_params(uri: &str) -> Value {
    serde_json::json!({ "uri": uri })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_and_read_wire_shapes() {
        let mut resource = Resource::new("test://static-text", "static-text");
        resource.mime_type = Some("text/plain".into());
        let list = ListResourcesResult {
            resources: vec![resource],
            next_cursor: None,
        };
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"resources": [{"uri": "test://static-text", "name": "static-text", "mimeType": "text/plain"}]})
        );
        let templates = ListResourceTemplatesResult {
            resource_templates: vec![ResourceTemplate {
                uri_template: "test://template/{id}/data".into(),
                name: "t".into(),
                title: None,
                description: None,
                mime_type: Some("application/json".into()),
                annotations: None,
            }],
            next_cursor: Some("ab".into()),
        };
        assert_eq!(
            serde_json::to_value(&templates).unwrap(),
            json!({"resourceTemplates": [{"uriTemplate": "test://template/{id}/data", "name": "t", "mimeType": "application/json"}], "nextCursor": "ab"})
        );
        let read = ReadResourceResult {
            contents: vec![ResourceContents::blob(
                "test://b",
                Some("image/png"),
                "AA==",
            )],
        };
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            json!({"contents": [{"uri": "test://b", "mimeType": "image/png", "blob": "AA=="}]})
        );
        let params: UriParams = serde_json::from_value(json!({"uri": "test://x"})).unwrap();
        assert_eq!(params.uri, "test://x");
        assert!(serde_json::from_value::<UriParams>(json!({"url": "test://x"})).is_err());
        assert_eq!(updated_params("test://x"), json!({"uri": "test://x"}));
    }
}
