//! The MCP service of the stateless era (2026-07-28): admitting a request by its `_meta`, and what
//! each method answers, with no knowledge of HTTP.
//!
//! No session carries state: [`admit`] reads the protocol version and client capabilities every
//! request carries in `_meta` into a [`RequestContext`] (checking the version against the transport's
//! `MCP-Protocol-Version`), and [`request`] serves the method. Every result carries `resultType`;
//! list and read results carry the caching hints `ttlMs` and `cacheScope`. Methods the revision
//! removed (`initialize`, `ping`, `logging/setLevel`, `resources/subscribe`, …) are unknown here
//! (`-32601`), and an unknown resource is `-32602` (the session era's `-32002`).

use std::sync::Arc;

use dcc_mcp_protocol::jsonrpc::RpcError;
use dcc_mcp_protocol::stateless::{self as wire, CacheScope, RequestMeta};
use dcc_mcp_protocol::version::{
    META_CLIENT_CAPABILITIES_KEY, META_PROTOCOL_VERSION_KEY, SERVED_PROTOCOL_VERSIONS,
};
use dcc_mcp_protocol::ProtocolVersion;
use dcc_mcp_protocol::{codes, completion, initialize as handshake, methods, prompts, resources};
use serde_json::{json, Value};

use crate::catalog::RESOURCE_NOT_FOUND;
use crate::request_context::RequestContext;
use crate::session::Session;
use crate::state::AppState;

/// `ttlMs` of list and read results: `0`, stale at once, since tools, resources and prompts can
/// change at run time (a `subscriptions/listen` stream hears when they do).
pub(crate) const CACHE_TTL_MS: u64 = 0;

/// `cacheScope` of list and read results: `private`, so a shared cache never serves one
/// authorization context's answer to another (a bearer-protected server's catalog is not public).
pub(crate) const CACHE_SCOPE: CacheScope = CacheScope::Private;

/// `_meta` key of the server's identity on a result.
pub(crate) const META_SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// Check a request's `_meta` against `header_version` (its `MCP-Protocol-Version` header) and build
/// its context; the `_meta` keys are moved out of `params`, not copied.
///
/// Errors, in the order they are checked: no version header (`-32020`); no `_meta`, or one without
/// the protocol version or the client capabilities (`-32602`); a `_meta` version other than the
/// header's (`-32020`); a version the server does not serve (`-32022`, listing the served ones).
pub(crate) fn admit(
    header_version: Option<&str>,
    params: Option<&mut Value>,
) -> Result<RequestContext, RpcError> {
    let Some(header_version) = header_version else {
        return Err(RpcError::new(
            codes::HEADER_MISMATCH,
            "Header mismatch: the MCP-Protocol-Version header is required",
        ));
    };
    let meta = RequestMeta::take_from(params).unwrap_or_default();
    let mut missing = Vec::new();
    if meta.protocol_version.is_none() {
        missing.push(META_PROTOCOL_VERSION_KEY);
    }
    if meta.client_capabilities.is_none() {
        missing.push(META_CLIENT_CAPABILITIES_KEY);
    }
    if !missing.is_empty() {
        return Err(RpcError::new(
            codes::INVALID_PARAMS,
            format!("Invalid params: _meta must carry {}", missing.join(" and ")),
        ));
    }
    let requested = meta.protocol_version.as_deref().unwrap_or_default();
    if requested != header_version.trim() {
        return Err(RpcError::new(
            codes::HEADER_MISMATCH,
            format!(
                "Header mismatch: MCP-Protocol-Version {header_version:?} differs from \
                 _meta {META_PROTOCOL_VERSION_KEY} {requested:?}"
            ),
        ));
    }
    let Some(version) = ProtocolVersion::stateless(requested) else {
        return Err(unsupported_version(requested));
    };
    Ok(RequestContext::stateless(version, meta))
}

/// `-32022` for `requested`, listing every version the server serves.
pub(crate) fn unsupported_version(requested: &str) -> RpcError {
    RpcError::new(
        codes::UNSUPPORTED_PROTOCOL_VERSION,
        format!(
            "Unsupported protocol version {requested:?}; supported: {}",
            SERVED_PROTOCOL_VERSIONS.join(", ")
        ),
    )
    .with_data(json!({"supported": SERVED_PROTOCOL_VERSIONS, "requested": requested}))
}

/// The server's capabilities in this era: tools (whose list changes reach listen streams) and
/// logging, plus what the catalog offers.
pub(crate) fn capabilities(state: &AppState) -> Value {
    let mut capabilities = handshake::tools_capabilities();
    if let Some(map) = capabilities.as_object_mut() {
        map.insert("tools".into(), json!({"listChanged": true}));
        map.extend(crate::catalog_route::capabilities(state));
    }
    capabilities
}

fn discover(state: &AppState) -> Value {
    let result = json!({
        "supportedVersions": SERVED_PROTOCOL_VERSIONS,
        "capabilities": capabilities(state),
        "_meta": {META_SERVER_INFO_KEY: {
            "name": state.config.server_name,
            "version": state.config.server_version,
        }},
    });
    wire::cacheable(result, CACHE_TTL_MS, CACHE_SCOPE)
}

/// Whether `method` is answered with a cacheable result.
fn is_cacheable(method: &str) -> bool {
    matches!(
        method,
        methods::TOOLS_LIST
            | resources::LIST
            | resources::TEMPLATES_LIST
            | resources::READ
            | prompts::LIST
    )
}

/// Serve one stateless request: the outcome of `method`, its result already marked with
/// `resultType` (and the caching hints where they apply). `session` is the request's ephemeral
/// scope (see [`crate::session::SessionStore::ephemeral`]); only `tools/call` uses it.
pub(crate) async fn request(
    state: &AppState,
    session: Option<&Arc<Session>>,
    context: RequestContext,
    id: &Value,
    method: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let result = match method {
        methods::SERVER_DISCOVER => return Ok(discover(state)),
        methods::TOOLS_LIST => crate::tools::list(state, params)?,
        methods::TOOLS_CALL => {
            let Some(session) = session else {
                return Err(RpcError::new(
                    codes::INTERNAL_ERROR,
                    "tools/call needs a request scope",
                ));
            };
            let context = Arc::new(context);
            crate::tools::call(state, session, None, Some(&context), id, params).await?
        }
        prompts::GET if crate::prompt_inputs::asks(state, params.as_ref()) => {
            match crate::prompt_inputs::get_stateless(state, &context, params.as_ref()) {
                Some(outcome) => outcome?,
                None => return Err(method_not_found(method)),
            }
        }
        resources::LIST
        | resources::TEMPLATES_LIST
        | resources::READ
        | prompts::LIST
        | prompts::GET
        | completion::COMPLETE => {
            crate::catalog_route::handle(state, "", method, params.as_ref(), None)
                .await
                .unwrap_or_else(|| Err(method_not_found(method)))
                .map_err(resource_not_found_is_invalid_params)?
        }
        _ => return Err(method_not_found(method)),
    };
    Ok(if is_cacheable(method) {
        wire::cacheable(result, CACHE_TTL_MS, CACHE_SCOPE)
    } else {
        wire::complete(result)
    })
}

/// `-32601` for `method` (also every method the revision removed).
pub(crate) fn method_not_found(method: &str) -> RpcError {
    RpcError::new(
        codes::METHOD_NOT_FOUND,
        format!("Method not found: {method}"),
    )
}

/// 2026-07-28 reports an unknown resource as `-32602` (with `data.uri`), not `-32002`.
fn resource_not_found_is_invalid_params(mut error: RpcError) -> RpcError {
    if error.code == RESOURCE_NOT_FOUND {
        error.code = codes::INVALID_PARAMS;
    }
    error
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn meta(version: &str) -> Value {
        json!({"_meta": {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {},
        }})
    }

    #[test]
    fn admission_checks_header_meta_and_version_in_order() {
        let code = |header: Option<&str>, mut params: Value| {
            admit(header, Some(&mut params))
                .map(|_| ())
                .unwrap_err()
                .code
        };
        assert_eq!(code(None, meta("2026-07-28")), codes::HEADER_MISMATCH);
        assert_eq!(code(Some("2026-07-28"), json!({})), codes::INVALID_PARAMS);
        let no_caps = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
        assert_eq!(code(Some("2026-07-28"), no_caps), codes::INVALID_PARAMS);
        assert_eq!(
            code(Some("2026-07-28"), meta("v999")),
            codes::HEADER_MISMATCH
        );
        assert_eq!(
            code(Some("v999"), meta("v999")),
            codes::UNSUPPORTED_PROTOCOL_VERSION
        );
        assert_eq!(
            code(Some("2025-11-25"), meta("2025-11-25")),
            codes::UNSUPPORTED_PROTOCOL_VERSION
        );
        let mut params = meta("2026-07-28");
        let context = admit(Some(" 2026-07-28 "), Some(&mut params)).unwrap();
        assert_eq!(context.protocol_version(), ProtocolVersion::V2026_07_28);
        assert_eq!(params, json!({"_meta": {}}), "the keys are moved out");
        let error = unsupported_version("v9").into_value();
        assert_eq!(
            error["data"],
            json!({"supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], "requested": "v9"})
        );
    }
}
