//! `prompts/get` of a prompt that asks the client first ([`PromptRegistry::add_asking`]): the
//! prompt's input requests are asked the way the era asks — on the session's stream, awaited here
//! (the I/O worker is not blocked: the answer wakes this future), or in 2026-07-28 with an
//! `InputRequiredResult` answered by the retry — and the prompt is filled with the answers.
//!
//! [`PromptRegistry::add_asking`]: crate::prompt_registry::PromptRegistry::add_asking

use std::future::IntoFuture;
use std::sync::Arc;

use serde_json::Value;

use crate::catalog::prompt_error;
use crate::mrtr::{Ending, Round, StatelessPeer};
use crate::peer::{decode_all, Asked, ClientPeer, InputRequest, Pending};
use crate::request_context::RequestContext;
use crate::session::Session;
use crate::session_peer::SessionPeer;
use crate::state::AppState;
use dcc_mcp_protocol::codes;
use dcc_mcp_protocol::jsonrpc::RpcError;
use dcc_mcp_protocol::prompts::GetPromptParams;

/// The prompt `params` names, with what it asks; `None` when it asks nothing (the catalog answers).
fn asking(
    state: &AppState,
    params: Option<&Value>,
) -> Option<(GetPromptParams, Vec<InputRequest>)> {
    let params: GetPromptParams = serde_json::from_value(params?.clone()).ok()?;
    let inputs = state.config.catalog.prompts.inputs(&params.name)?;
    Some((params, inputs))
}

/// True when `params` names a prompt that asks the client first.
pub(crate) fn asks(state: &AppState, params: Option<&Value>) -> bool {
    asking(state, params).is_some()
}

fn fill(state: &AppState, params: &GetPromptParams, answers: &[Value]) -> Result<Value, RpcError> {
    let result = state
        .config
        .catalog
        .prompts
        .get_answered(&params.name, &params.arguments, answers)
        .map_err(prompt_error)?;
    serde_json::to_value(result)
        .map_err(|error| RpcError::new(codes::INTERNAL_ERROR, error.to_string()))
}

/// Session era: `None` when the prompt asks nothing.
/// `inband` is the POST's own SSE response, where the requests go when it streams.
pub(crate) async fn get_in_session(
    state: &AppState,
    session: &Arc<Session>,
    inband: Option<&Arc<Session>>,
    params: Option<&Value>,
) -> Option<Result<Value, RpcError>> {
    let (params, inputs) = asking(state, params)?;
    let out = inband.cloned().unwrap_or_else(|| session.clone());
    let peer = SessionPeer::routed(session.clone(), out);
    let pending: Pending<Vec<Value>> = Pending::new(peer.ask(inputs), decode_all);
    let answers = tokio::time::timeout(state.config.request_timeout, pending.into_future()).await;
    peer.finish(&format!(
        "prompts/get of '{}' ended before the client answered",
        params.name
    ));
    Some(match answers {
        Ok(Ok(answers)) => fill(state, &params, &answers),
        Ok(Err(error)) => Err(RpcError::new(codes::INTERNAL_ERROR, error.message().to_owned())),
        Err(_elapsed) => Err(RpcError::new(
            codes::INTERNAL_ERROR,
            format!(
                "prompts/get of '{}' timed out after {:.3} s waiting for the client (request_timeout)",
                params.name,
                state.config.request_timeout.as_secs_f64()
            ),
        )),
    })
}

/// 2026-07-28: the filled prompt, or the `InputRequiredResult` asking for its inputs; `None` when
/// the prompt asks nothing.
pub(crate) fn get_stateless(
    state: &AppState,
    request: &RequestContext,
    raw: Option<&Value>,
) -> Option<Result<Value, RpcError>> {
    let (params, inputs) = asking(state, raw)?;
    let target = format!("prompts/get:{}", params.name);
    let Some(key) = &state.state_key else {
        return Some(Err(RpcError::new(
            codes::INTERNAL_ERROR,
            "this server has no requestState key (the OS had no randomness at start)",
        )));
    };
    let max = state.config.max_request_state_bytes;
    let round = match Round::from_params(key, raw, &target, max, &state.recorder) {
        Ok(round) => round,
        Err(error) => return Some(Err(error)),
    };
    let peer = StatelessPeer::new(
        round,
        request.client_capabilities().cloned(),
        None,
        None,
        state.config.max_log_messages_per_sec,
        state.recorder.clone(),
    );
    let answers = match peer.ask(inputs) {
        Asked::Ready(answers) => answers,
        Asked::Waiting(_) => Ok(Vec::new()),
    };
    Some(match (answers, peer.finish(key, &target, max)) {
        (_, Err(error)) => Err(error),
        (_, Ok(Ending::InputRequired(input_required))) => Ok(input_required),
        (Ok(answers), Ok(Ending::Complete)) => fill(state, &params, &answers),
        (Err(error), Ok(Ending::Complete)) => {
            if let Some(kind) = peer.refused_capability() {
                let _ = request.require_capability(kind.capability());
                if let Some(refusal) = request.take_refusal() {
                    return Some(Err(refusal));
                }
            }
            Err(RpcError::new(
                codes::INTERNAL_ERROR,
                error.message().to_owned(),
            ))
        }
    })
}
