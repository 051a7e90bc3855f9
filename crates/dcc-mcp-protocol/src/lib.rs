//! The MCP wire protocol as plain data, shared by the server, the client and the Python bindings.
//!
//! This crate knows what goes over the wire and nothing about how it travels: JSON-RPC 2.0 framing
//! ([`jsonrpc`], [`body`]), protocol revisions and their negotiation ([`version`]), error codes
//! ([`codes`]), method and header names ([`methods`], [`headers`]), the `initialize` exchange
//! ([`initialize`]), tool-result shapes ([`tools`]) and the names the server reserves
//! ([`reserved`]). It depends on `serde` and `serde_json` only, so a transport, a runtime or a test
//! can use it without pulling in either.
//!
//! Two eras of MCP share it. The session era (2025-03-26 … 2025-11-25) is spoken today; the
//! stateless 2026-07-28 revision is named ([`ProtocolVersion::V2026_07_28`], [`Era::Stateless`]) and
//! its wire names are here, so code can branch on the era before the behaviour exists.
//!
//! ```
//! use dcc_mcp_protocol::{jsonrpc, version, Incoming};
//! use serde_json::json;
//!
//! // A client builds a request; the server classifies it and answers.
//! let request = jsonrpc::request(json!(1), "initialize", json!({"protocolVersion": "2025-06-18"}));
//! let Ok(Incoming::Request { id, method, params }) = jsonrpc::classify(request) else { panic!() };
//! assert_eq!(method, "initialize");
//! let asked = params.as_ref().and_then(|p| p["protocolVersion"].as_str()).unwrap_or_default();
//! assert_eq!(version::negotiate(asked).as_str(), "2025-06-18");
//! let response = jsonrpc::success(id, json!({}));
//! assert!(matches!(jsonrpc::classify(response), Ok(Incoming::Response { outcome: Ok(_), .. })));
//! ```

pub mod body;
pub mod codes;
pub mod headers;
pub mod initialize;
pub mod jsonrpc;
pub mod methods;
pub mod reserved;
pub mod tools;
pub mod version;

pub use jsonrpc::{Incoming, RpcError};
pub use version::{
    Era, ProtocolVersion, BATCH_PROTOCOL_VERSION, LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
};
