//! Content blocks: what a tool result, a prompt message and a sampling message carry.
//!
//! One type for every place MCP puts content, so a handler that returns an image, a prompt that embeds
//! a resource and a tool that links one all serialize the same way. Binary data travels as base64 in
//! `data` (image, audio) or `blob` (resource contents); this crate never decodes it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who a piece of content is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The human using the client.
    User,
    /// The model.
    Assistant,
}

/// Hints for the client about how to use a block or a resource (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    /// Who the content is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<Role>>,
    /// Importance from 0 (least) to 1 (most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// ISO 8601 time of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The contents of a resource: text, or base64 bytes (`blob`).
///
/// The two are told apart by which field is present, as on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResourceContents {
    /// A text resource.
    Text {
        /// The resource's URI.
        uri: String,
        /// Its MIME type.
        #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// The text.
        text: String,
    },
    /// A binary resource.
    Blob {
        /// The resource's URI.
        uri: String,
        /// Its MIME type.
        #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// The bytes, base64.
        blob: String,
    },
}

impl ResourceContents {
    /// Text contents of `uri`.
    pub fn text(uri: impl Into<String>, mime_type: Option<&str>, text: impl Into<String>) -> Self {
        ResourceContents::Text {
            uri: uri.into(),
            mime_type: mime_type.map(str::to_owned),
            text: text.into(),
        }
    }

    /// Binary contents of `uri`, `blob` already base64.
    pub fn blob(uri: impl Into<String>, mime_type: Option<&str>, blob: impl Into<String>) -> Self {
        ResourceContents::Blob {
            uri: uri.into(),
            mime_type: mime_type.map(str::to_owned),
            blob: blob.into(),
        }
    }

    /// The URI these contents belong to.
    pub fn uri(&self) -> &str {
        match self {
            ResourceContents::Text { uri, .. } | ResourceContents::Blob { uri, .. } => uri,
        }
    }
}

/// A resource named by a tool result without its contents (`type: "resource_link"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLink {
    /// The resource's URI.
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

/// One content block (`type` tells which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// `{"type":"text","text":…}`
    Text {
        /// The text.
        text: String,
        /// Hints for the client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
        /// Extension data.
        #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
        meta: Option<Map<String, Value>>,
    },
    /// `{"type":"image","data":base64,"mimeType":…}`
    Image {
        /// The bytes, base64.
        data: String,
        /// Its MIME type, e.g. `image/png`.
        #[serde(rename = "mimeType")]
        mime_type: String,
        /// Hints for the client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// `{"type":"audio","data":base64,"mimeType":…}`
    Audio {
        /// The bytes, base64.
        data: String,
        /// Its MIME type, e.g. `audio/wav`.
        #[serde(rename = "mimeType")]
        mime_type: String,
        /// Hints for the client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// `{"type":"resource","resource":{uri, text|blob}}`: a resource with its contents.
    Resource {
        /// The contents.
        resource: ResourceContents,
        /// Hints for the client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// `{"type":"resource_link","uri":…,"name":…}`: a resource the client may read.
    ResourceLink(ResourceLink),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text {
            text: text.into(),
            annotations: None,
            meta: None,
        }
    }

    /// An image block (`data` already base64).
    pub fn image(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        ContentBlock::Image {
            data: data.into(),
            mime_type: mime_type.into(),
            annotations: None,
        }
    }

    /// An audio block (`data` already base64).
    pub fn audio(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        ContentBlock::Audio {
            data: data.into(),
            mime_type: mime_type.into(),
            annotations: None,
        }
    }

    /// An embedded resource.
    pub fn resource(resource: ResourceContents) -> Self {
        ContentBlock::Resource {
            resource,
            annotations: None,
        }
    }

    /// The block as JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(block: &ContentBlock, wire: Value) {
        assert_eq!(block.to_value(), wire);
        let back: ContentBlock = serde_json::from_value(wire).unwrap();
        assert_eq!(&back, block);
    }

    #[test]
    fn every_content_type_has_its_wire_shape() {
        round_trip(
            &ContentBlock::text("hi"),
            json!({"type": "text", "text": "hi"}),
        );
        round_trip(
            &ContentBlock::image("iVBO", "image/png"),
            json!({"type": "image", "data": "iVBO", "mimeType": "image/png"}),
        );
        round_trip(
            &ContentBlock::audio("UklG", "audio/wav"),
            json!({"type": "audio", "data": "UklG", "mimeType": "audio/wav"}),
        );
        round_trip(
            &ContentBlock::resource(ResourceContents::text(
                "test://x",
                Some("text/plain"),
                "body",
            )),
            json!({"type": "resource", "resource": {"uri": "test://x", "mimeType": "text/plain", "text": "body"}}),
        );
        round_trip(
            &ContentBlock::resource(ResourceContents::blob("test://b", None, "AAE=")),
            json!({"type": "resource", "resource": {"uri": "test://b", "blob": "AAE="}}),
        );
        round_trip(
            &ContentBlock::ResourceLink(ResourceLink {
                uri: "file:///scene.ma".into(),
                name: "scene".into(),
                title: None,
                description: None,
                mime_type: Some("text/plain".into()),
                size: Some(12),
                annotations: Some(Annotations {
                    audience: Some(vec![Role::User, Role::Assistant]),
                    priority: Some(0.5),
                    last_modified: None,
                }),
            }),
            json!({"type": "resource_link", "uri": "file:///scene.ma", "name": "scene",
                   "mimeType": "text/plain", "size": 12,
                   "annotations": {"audience": ["user", "assistant"], "priority": 0.5}}),
        );
    }

    #[test]
    fn unknown_type_is_refused() {
        assert!(
            serde_json::from_value::<ContentBlock>(json!({"type": "video", "data": ""})).is_err()
        );
        assert!(serde_json::from_value::<ResourceContents>(json!({"uri": "x"})).is_err());
    }
}
