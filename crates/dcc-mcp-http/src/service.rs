//! The MCP service: what each method does, with no knowledge of the transport that carried it.
//!
//! The `/mcp` handlers ([`crate::mcp`]) decide the transport rules (media type, body budget, session
//! headers, batches, HTTP statuses) and then hand every message here: [`initialize`] opens a session,
//! [`request`] routes a request of a live session to its method and returns the JSON-RPC response,
//! [`notification`] acts on a client notification. A second transport (or a test) drives the same
//! functions with no HTTP in between.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::record::Rejection;
use crate::session::{CreateError, Session};
use crate::state::AppState;
use dcc_mcp_protocol::jsonrpc::{self, RpcError};
use dcc_mcp_protocol::logging::SetLevelParams;
use dcc_mcp_protocol::{codes, initialize as handshake, methods, resources, version};

/// Why `initialize` opened no session.
#[derive(Debug)]
pub(crate) enum InitializeError {
    /// The params are unusable: the ready JSON-RPC error response.
    InvalidParams(Value),
    /// The session store refused (no randomness, or every slot busy).
    Store(CreateError),
}

/// `initialize` from `client`: negotiate the version, open a session, and answer with the result.
pub(crate) fn initialize(
    state: &AppState,
    id: Value,
    params: Option<&Value>,
    client: Option<IpAddr>,
) -> Result<(Arc<Session>, Value), InitializeError> {
    let opened = open_session(state, id, params, client);
    state.recorder.request(methods::INITIALIZE, opened.is_ok());
    opened
}

fn open_session(
    state: &AppState,
    id: Value,
    params: Option<&Value>,
    client: Option<IpAddr>,
) -> Result<(Arc<Session>, Value), InitializeError> {
    let requested = handshake::requested_version(params).map_err(|error| {
        InitializeError::InvalidParams(jsonrpc::error_response(id.clone(), error))
    })?;
    let version = version::negotiate(requested);
    let capabilities = params.and_then(|params| params.get("capabilities"));
    let session = state
        .sessions
        .open(version.as_str(), client, capabilities)
        .map_err(InitializeError::Store)?;
    let server = handshake::Implementation {
        name: state.config.server_name.clone(),
        version: state.config.server_version.clone(),
    };
    let mut capabilities = handshake::tools_capabilities();
    if let Some(map) = capabilities.as_object_mut() {
        if state.config.tools_list_changed {
            map.insert("tools".into(), serde_json::json!({"listChanged": true}));
        }
        map.extend(crate::catalog_route::capabilities(state));
    }
    let result = handshake::result(version, capabilities, &server);
    Ok((session, jsonrpc::success(id, result)))
}

/// `-32601` for `method`.
pub(crate) fn method_not_found(id: Value, method: &str) -> Value {
    jsonrpc::error(
        id,
        codes::METHOD_NOT_FOUND,
        &format!("Method not found: {method}"),
    )
}

/// Route one request of a live session to its method; returns its JSON-RPC response.
pub(crate) async fn request(
    state: &AppState,
    session: &Arc<Session>,
    id: Value,
    method: &str,
    params: Option<Value>,
) -> Value {
    request_in(state, session, None, id, method, params).await
}

/// [`request`], with `inband` the stream of the POST's own SSE response: what the request sends
/// the client while it runs (progress, log messages, server→client requests) is queued there.
pub(crate) async fn request_in(
    state: &AppState,
    session: &Arc<Session>,
    inband: Option<&Arc<Session>>,
    id: Value,
    method: &str,
    params: Option<Value>,
) -> Value {
    let outcome = match method {
        methods::PING => Ok(json!({})),
        methods::TOOLS_LIST => crate::tools::list(state, params),
        methods::TOOLS_CALL => crate::tools::call(state, session, inband, None, &id, params).await,
        // Handler log messages below the level are not sent; job notifications are always sent.
        methods::LOGGING_SET_LEVEL => set_level(session, params),
        methods::INITIALIZE => Err(RpcError::new(
            codes::INVALID_REQUEST,
            "this session is already initialized",
        )),
        // A prompt that asks the client first.
        dcc_mcp_protocol::prompts::GET if crate::prompt_inputs::asks(state, params.as_ref()) => {
            match crate::prompt_inputs::get_in_session(state, session, inband, params.as_ref())
                .await
            {
                Some(outcome) => outcome,
                None => return method_not_found(id, method),
            }
        }
        // Resources, prompts and completion; their readers may log and report progress to the
        // client through the request's context, on the POST's own stream when it has one.
        _ => {
            let context = crate::tools::catalog_context(session, inband, method, &params);
            let outcome = crate::catalog_route::handle(
                state,
                session.id(),
                method,
                params.as_ref(),
                Some(context),
            )
            .await;
            match outcome {
                Some(outcome) => outcome,
                None => {
                    state.recorder.request(method, false);
                    return method_not_found(id, method);
                }
            }
        }
    };
    state.recorder.request(method, outcome.is_ok());
    if method == resources::SUBSCRIBE
        && matches!(&outcome, Err(error) if error.code == codes::INVALID_REQUEST)
    {
        // The catalog's one refusal of a well-formed subscribe: the session's budget.
        state.recorder.rejected(Rejection::SubscriptionLimit);
    }
    jsonrpc::response(id, outcome)
}

/// `logging/setLevel`: the session's handlers send log messages at `level` and above.
fn set_level(session: &Session, params: Option<Value>) -> Result<Value, RpcError> {
    let params: SetLevelParams = params
        .and_then(|params| serde_json::from_value(params).ok())
        .ok_or_else(|| {
            RpcError::new(
                codes::INVALID_PARAMS,
                "logging/setLevel needs \"level\": one of debug, info, notice, warning, error, \
                 critical, alert, emergency",
            )
        })?;
    session.set_log_level(params.level);
    Ok(json!({}))
}

/// Act on a client notification of a live session (it gets no response, whatever happens here).
pub(crate) fn notification(
    state: &AppState,
    session: &Session,
    method: &str,
    params: Option<&Value>,
) {
    if method == methods::CANCELLED {
        crate::cancel::handle(state, session, params);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::McpHttpConfig;
    use crate::record::Recorder;
    use crate::registry::{Handler, ToolRegistry, ToolSpec};

    fn state() -> AppState {
        let registry = ToolRegistry::new();
        let echo = Handler::inline(|args: Value, _ctx| async move { Ok(args) });
        registry.register_with(ToolSpec::new("echo"), echo).unwrap();
        AppState::new(McpHttpConfig::default(), registry, Recorder::new())
    }

    #[tokio::test]
    async fn a_session_is_served_without_http() {
        let state = state();
        let params = json!({"protocolVersion": "2025-06-18", "capabilities": {}});
        let (session, response) = initialize(&state, json!(0), Some(&params), None).unwrap();
        assert_eq!(response["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(session.protocol_version(), "2025-06-18");
        assert_eq!(state.sessions.live_count(), 1);

        let listed = request(&state, &session, json!(1), "tools/list", None).await;
        let names: Vec<&str> = listed["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|tool| tool["name"].as_str())
            .collect();
        assert!(names.contains(&"echo"), "{listed}");

        let call = json!({"name": "echo", "arguments": {"x": 1}});
        let called = request(&state, &session, json!("c"), "tools/call", Some(call)).await;
        assert_eq!(called["id"], "c");
        assert_eq!(called["result"]["structuredContent"], json!({"x": 1}));
        assert_eq!(called["result"]["isError"], false);

        let again = request(&state, &session, json!(2), "initialize", Some(params)).await;
        assert_eq!(again["error"]["code"], codes::INVALID_REQUEST);
        let unknown = request(&state, &session, json!(3), "server/discover", None).await;
        assert_eq!(unknown["error"]["code"], codes::METHOD_NOT_FOUND);
    }

    #[test]
    fn initialize_without_a_version_opens_no_session() {
        let state = state();
        let refused = initialize(&state, json!(9), Some(&json!({})), None);
        match refused {
            Err(InitializeError::InvalidParams(response)) => {
                assert_eq!(response["id"], 9);
                assert_eq!(response["error"]["code"], codes::INVALID_PARAMS);
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a session was opened"),
        }
        assert_eq!(state.sessions.live_count(), 0);
    }
}
