//! `completion/complete`: suggestions for a prompt argument or a resource-template variable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Request: complete one argument.
pub const COMPLETE: &str = "completion/complete";

/// Most values one completion result may carry (the spec's cap).
pub const MAX_VALUES: usize = 100;

/// What is being completed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Reference {
    /// An argument of the prompt `name`.
    #[serde(rename = "ref/prompt")]
    Prompt {
        /// The prompt's name.
        name: String,
    },
    /// A variable of the resource template `uri`.
    #[serde(rename = "ref/resource")]
    Resource {
        /// The template (as listed in `uriTemplate`).
        uri: String,
    },
}

/// The argument being completed and what was typed so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteArgument {
    /// The argument or variable name.
    pub name: String,
    /// The partial value.
    pub value: String,
}

/// Values of arguments already chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteContext {
    /// Name → value.
    #[serde(default)]
    pub arguments: BTreeMap<String, String>,
}

/// `completion/complete` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteParams {
    /// What is completed.
    #[serde(rename = "ref")]
    pub reference: Reference,
    /// The argument.
    pub argument: CompleteArgument,
    /// Earlier arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<CompleteContext>,
}

/// The suggestions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    /// At most [`MAX_VALUES`] values.
    pub values: Vec<String>,
    /// How many values exist in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Whether more exist than were sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

impl Completion {
    /// The first [`MAX_VALUES`] of `values`, with `total` and `hasMore` saying what was cut.
    pub fn capped(mut values: Vec<String>) -> Self {
        let total = values.len();
        values.truncate(MAX_VALUES);
        Completion {
            has_more: Some(total > values.len()),
            total: Some(total as u64),
            values,
        }
    }
}

/// `completion/complete` result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteResult {
    /// The suggestions.
    pub completion: Completion,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_and_result_wire_shapes() {
        let params: CompleteParams = serde_json::from_value(json!({
            "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
            "argument": {"name": "arg1", "value": "pa"},
            "context": {"arguments": {"arg2": "x"}}
        }))
        .unwrap();
        assert_eq!(
            params.reference,
            Reference::Prompt {
                name: "test_prompt_with_arguments".into()
            }
        );
        assert_eq!(params.argument.value, "pa");
        let resource: CompleteParams = serde_json::from_value(json!({
            "ref": {"type": "ref/resource", "uri": "test://template/{id}/data"},
            "argument": {"name": "id", "value": ""}
        }))
        .unwrap();
        assert_eq!(resource.context, None);
        assert!(serde_json::from_value::<CompleteParams>(json!({
            "ref": {"type": "ref/tool", "name": "x"}, "argument": {"name": "a", "value": ""}
        }))
        .is_err());
        let result = CompleteResult {
            completion: Completion::capped((0..150).map(|i| i.to_string()).collect()),
        };
        let wire = serde_json::to_value(&result).unwrap();
        assert_eq!(
            wire["completion"]["values"].as_array().map(Vec::len),
            Some(100)
        );
        assert_eq!(wire["completion"]["total"], json!(150));
        assert_eq!(wire["completion"]["hasMore"], json!(true));
        assert_eq!(
            serde_json::to_value(CompleteResult {
                completion: Completion::capped(vec!["a".into()])
            })
            .unwrap(),
            json!({"completion": {"values": ["a"], "total": 1, "hasMore": false}})
        );
    }
}
