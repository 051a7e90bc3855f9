//! The session-era handshake: `initialize` params (client side) and result (server side).

use serde_json::{Map, Value};

use crate::codes;
use crate::jsonrpc::{object, RpcError};
use crate::version::ProtocolVersion;

/// A peer's name and version (`clientInfo` / `serverInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implementation {
    /// Name shown by the other side.
    pub name: String,
    /// Its version string.
    pub version: String,
}

impl Implementation {
    /// `{"name":…,"version":…}`
    pub fn to_value(&self) -> Value {
        object([
            ("name", self.name.as_str().into()),
            ("version", self.version.as_str().into()),
        ])
    }
}

/// Client side: `initialize` params asking for `version`.
pub fn request_params(
    version: ProtocolVersion,
    client: &Implementation,
    capabilities: Value,
) -> Value {
    object([
        ("protocolVersion", version.as_str().into()),
        ("capabilities", capabilities),
        ("clientInfo", client.to_value()),
    ])
}

/// Server side: the `protocolVersion` a client asked for (`-32602` when it is missing or not a string).
pub fn requested_version(params: Option<&Value>) -> Result<&str, RpcError> {
    params
        .and_then(|params| params.get("protocolVersion"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            RpcError::new(
                codes::INVALID_PARAMS,
                "initialize needs params.protocolVersion (a string)",
            )
        })
}

/// Server side: the `initialize` result.
pub fn result(version: ProtocolVersion, capabilities: Value, server: &Implementation) -> Value {
    object([
        ("protocolVersion", version.as_str().into()),
        ("capabilities", capabilities),
        ("serverInfo", server.to_value()),
    ])
}

/// The capabilities of a tools-only server: `{"tools":{"listChanged":false},"logging":{}}`.
pub fn tools_capabilities() -> Value {
    let tools = object([("listChanged", false.into())]);
    object([("tools", tools), ("logging", Value::Object(Map::new()))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_sides_of_the_handshake() {
        let client = Implementation {
            name: "c".into(),
            version: "1".into(),
        };
        let params = request_params(ProtocolVersion::V2025_06_18, &client, json!({}));
        assert_eq!(
            params,
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}})
        );
        assert_eq!(requested_version(Some(&params)), Ok("2025-06-18"));
        assert_eq!(
            requested_version(Some(&json!({"protocolVersion": 1}))).map_err(|e| e.code),
            Err(codes::INVALID_PARAMS)
        );
        assert!(requested_version(None).is_err());
        let server = Implementation {
            name: "s".into(),
            version: "2".into(),
        };
        assert_eq!(
            result(ProtocolVersion::V2025_11_25, tools_capabilities(), &server),
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {"listChanged": false}, "logging": {}},
                "serverInfo": {"name": "s", "version": "2"}
            })
        );
    }
}
