//! 2026-07-28 multi round-trip requests (SEP-2322): the stateless era's [`ClientPeer`].
//!
//! There is no stream to send a request on and no connection to wait on, so a handler's request is
//! answered from the retry instead: the first call runs the handler, which asks (`ctx.elicit(…)`);
//! the peer finds no answer, records the request, and the call returns an `InputRequiredResult`
//! (`inputRequests` keyed by name, plus a `requestState`). The client asks its user or model and
//! calls again with `inputResponses` and the echoed `requestState`; the handler runs again from the
//! start, and this time each request it makes is answered from them. A handler that asks in several
//! rounds (step 1, then step 2) gets the earlier answers back from `requestState`, since a client
//! only sends the answers to the last round.
//!
//! `requestState` is the answers gathered so far, sealed with HMAC-SHA256 under a random key of this
//! server (made at start, never leaving the process): a client cannot forge or edit the answers of
//! an earlier round, nor replay a state of one tool on another (the tool is in the sealed payload),
//! nor keep one for ever (it expires after [`STATE_TTL`]). A state that fails any check is refused
//! with `-32602`. Its size is held to `max_request_state_bytes` both ways.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::error::ToolError;
use crate::log_budget::LogBudget;
use crate::peer::{Asked, ClientPeer, InputRequest};
use crate::record::{ClientRequestKind, ClientRequestOutcome, Recorder, Rejection};
use dcc_mcp_protocol::codes;
use dcc_mcp_protocol::jsonrpc::RpcError;
use dcc_mcp_protocol::logging::LoggingLevel;
use dcc_mcp_protocol::stateless::RESULT_INPUT_REQUIRED;

/// How long a `requestState` stays valid.
pub(crate) const STATE_TTL: Duration = Duration::from_secs(15 * 60);

/// Version of the sealed payload.
const STATE_VERSION: u64 = 1;

type HmacSha256 = Hmac<Sha256>;

/// The server's key for sealing `requestState`.
pub(crate) struct StateKey([u8; 32]);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(…)")
    }
}

impl StateKey {
    /// A fresh random key; `None` when the OS has no randomness.
    pub(crate) fn random() -> Option<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).ok()?;
        Some(Self(key))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length; a 32-byte key cannot fail.
        match <HmacSha256 as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_mac(),
        }
    }

    /// `payload` as `base64url(json).base64url(hmac)`.
    pub(crate) fn seal(&self, payload: &Value) -> String {
        let body = URL_SAFE_NO_PAD.encode(payload.to_string());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The payload of a state this key sealed; `None` for anything else.
    pub(crate) fn open(&self, state: &str) -> Option<Value> {
        let (body, tag) = state.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag).ok()?;
        let json = URL_SAFE_NO_PAD.decode(body).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

#[cold]
fn unreachable_mac() -> HmacSha256 {
    // `new_from_slice` only fails for fixed-key MACs; HMAC accepts every key length.
    #[allow(clippy::expect_used)]
    <HmacSha256 as KeyInit>::new_from_slice(&[0u8; 32]).expect("HMAC accepts any key length")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::new(codes::INVALID_PARAMS, message)
}

/// What a retry brings: the answers of the earlier rounds (from a verified `requestState`) and of
/// the last one (`inputResponses`).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Round {
    answers: BTreeMap<String, Value>,
}

impl Round {
    /// Read `inputResponses` and `requestState` from a request's params, for `target` (the method
    /// and name the state must have been sealed for). Refused with `-32602`: `inputResponses` that
    /// is not an object of objects, a state over `max_state_bytes`, or one that fails its check.
    pub(crate) fn from_params(
        key: &StateKey,
        params: Option<&Value>,
        target: &str,
        max_state_bytes: usize,
        recorder: &Recorder,
    ) -> Result<Self, RpcError> {
        let mut answers = BTreeMap::new();
        if let Some(state) = params.and_then(|params| params.get("requestState")) {
            let Value::String(state) = state else {
                return Err(invalid("requestState must be a string"));
            };
            if state.len() > max_state_bytes {
                recorder.rejected(Rejection::RequestStateTooLarge);
                return Err(invalid(format!(
                    "requestState is {} bytes, over max_request_state_bytes ({max_state_bytes})",
                    state.len()
                )));
            }
            let payload = key.open(state).ok_or_else(|| {
                invalid("requestState failed its integrity check (it was not issued by this server, or it was modified)")
            })?;
            if payload["v"] != json!(STATE_VERSION) || payload["t"] != json!(target) {
                return Err(invalid(format!(
                    "requestState was issued for another request, not {target}"
                )));
            }
            if payload["exp"].as_u64().is_none_or(|exp| exp < now_secs()) {
                return Err(invalid(
                    "requestState has expired; call again without it to start over",
                ));
            }
            if let Some(Value::Object(earlier)) = payload.get("a") {
                answers.extend(earlier.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        match params.and_then(|params| params.get("inputResponses")) {
            None => {}
            Some(Value::Object(responses)) => {
                for (name, response) in responses {
                    if !response.is_object() {
                        return Err(invalid(format!(
                            "inputResponses[\"{name}\"] must be an object (the client's result for that input request)"
                        )));
                    }
                    answers.insert(name.clone(), response.clone());
                }
            }
            Some(_) => {
                return Err(invalid(
                    "inputResponses must be an object mapping input request keys to results",
                ))
            }
        }
        Ok(Self { answers })
    }
}

/// Whether `answer` has the shape of a result of `kind` (a wrong one is asked again).
fn fits(kind: ClientRequestKind, answer: &Value) -> bool {
    use dcc_mcp_protocol::client_requests::{CreateMessageResult, ElicitResult, ListRootsResult};
    match kind {
        ClientRequestKind::Elicitation => {
            serde_json::from_value::<ElicitResult>(answer.clone()).is_ok()
        }
        ClientRequestKind::Sampling => {
            serde_json::from_value::<CreateMessageResult>(answer.clone()).is_ok()
        }
        ClientRequestKind::Roots => {
            serde_json::from_value::<ListRootsResult>(answer.clone()).is_ok()
        }
    }
}

/// Where a stateless request's log messages go (the POST's response stream).
pub(crate) trait LogSink: Send + Sync {
    /// Send one `notifications/message` params object.
    fn send(&self, params: Value);
}

#[derive(Default)]
struct Progress {
    /// Requests the handler made that this round did not answer, by key.
    missing: BTreeMap<String, InputRequest>,
    /// Answers the handler used, by key: carried to the next round in `requestState`.
    used: BTreeMap<String, Value>,
    /// Requests asked without a key so far (their keys are numbered in order).
    unnamed: usize,
    /// A capability the handler asked for and the client did not declare.
    refused: Option<ClientRequestKind>,
}

/// One stateless call's link to its client.
pub(crate) struct StatelessPeer {
    round: Round,
    capabilities: Option<Value>,
    log_level: Option<LoggingLevel>,
    log: Option<Box<dyn LogSink>>,
    log_budget: Mutex<LogBudget>,
    progress: Mutex<Progress>,
    recorder: Recorder,
}

/// What a stateless call ends with.
#[derive(Debug, PartialEq)]
pub(crate) enum Ending {
    /// The handler had every answer it asked for: its result stands.
    Complete,
    /// The handler asked for more: return this `InputRequiredResult` instead of its result.
    InputRequired(Value),
}

impl StatelessPeer {
    /// The peer of one call: `round` answers its requests; `capabilities` and `log_level` are the
    /// request's `_meta` (no log level: no log messages are sent).
    pub(crate) fn new(
        round: Round,
        capabilities: Option<Value>,
        log_level: Option<LoggingLevel>,
        log: Option<Box<dyn LogSink>>,
        log_rate: u32,
        recorder: Recorder,
    ) -> Self {
        Self {
            round,
            capabilities,
            log_level,
            log,
            log_budget: Mutex::new(LogBudget::new(log_rate, std::time::Instant::now())),
            progress: Mutex::new(Progress::default()),
            recorder,
        }
    }

    /// The first capability the handler asked for that the client did not declare.
    pub(crate) fn refused_capability(&self) -> Option<ClientRequestKind> {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .refused
    }

    /// After the handler returned: a complete result, or the `InputRequiredResult` asking for what
    /// is missing, with the answers so far sealed for `target` in its `requestState` (refused with
    /// `-32602` past `max_state_bytes`).
    pub(crate) fn finish(
        &self,
        key: &StateKey,
        target: &str,
        max_state_bytes: usize,
    ) -> Result<Ending, RpcError> {
        let progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        if progress.missing.is_empty() {
            return Ok(Ending::Complete);
        }
        let mut requests = Map::new();
        for (name, request) in &progress.missing {
            requests.insert(
                name.clone(),
                json!({"method": request.kind.method(), "params": request.params}),
            );
        }
        let answers: Map<String, Value> = progress
            .used
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let state = key.seal(&json!({
            "v": STATE_VERSION,
            "t": target,
            "exp": now_secs() + STATE_TTL.as_secs(),
            "a": answers,
        }));
        if state.len() > max_state_bytes {
            self.recorder.rejected(Rejection::RequestStateTooLarge);
            return Err(RpcError::new(
                codes::INTERNAL_ERROR,
                format!(
                    "the answers gathered so far would make a requestState of {} bytes, over \
                     max_request_state_bytes ({max_state_bytes})",
                    state.len()
                ),
            ));
        }
        Ok(Ending::InputRequired(json!({
            "resultType": RESULT_INPUT_REQUIRED,
            "inputRequests": requests,
            "requestState": state,
        })))
    }
}

impl ClientPeer for StatelessPeer {
    fn log(&self, level: LoggingLevel, logger: Option<&str>, data: Value) {
        let (Some(wanted), Some(sink)) = (self.log_level, &self.log) else {
            return;
        };
        if level < wanted {
            return;
        }
        let allowed = self
            .log_budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(std::time::Instant::now());
        if !allowed {
            self.recorder.rejected(Rejection::LogRate);
            return;
        }
        let params = dcc_mcp_protocol::logging::LoggingMessageParams {
            level,
            logger: logger.map(str::to_owned),
            data,
        };
        sink.send(serde_json::to_value(params).unwrap_or(Value::Null));
    }

    fn supports(&self, kind: ClientRequestKind) -> bool {
        self.capabilities
            .as_ref()
            .and_then(|capabilities| capabilities.get(kind.capability()))
            .is_some_and(Value::is_object)
    }

    fn ask(&self, requests: Vec<InputRequest>) -> Asked {
        if let Some(missing) = requests.iter().find(|request| !self.supports(request.kind)) {
            for request in &requests {
                self.recorder
                    .client_request(request.kind, ClientRequestOutcome::Unsupported);
            }
            self.progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .refused
                .get_or_insert(missing.kind);
            return Asked::Ready(Err(crate::peer::unsupported(missing.kind)));
        }
        let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        let mut answers = Vec::with_capacity(requests.len());
        let mut complete = true;
        for request in requests {
            let name = match &request.key {
                Some(key) => key.clone(),
                None => {
                    progress.unnamed += 1;
                    format!("input_{}", progress.unnamed)
                }
            };
            match self.round.answers.get(&name) {
                Some(answer) if fits(request.kind, answer) => {
                    self.recorder
                        .client_request(request.kind, ClientRequestOutcome::InputResponse);
                    progress.used.insert(name, answer.clone());
                    answers.push(answer.clone());
                }
                _ => {
                    self.recorder
                        .client_request(request.kind, ClientRequestOutcome::InputRequired);
                    progress.missing.insert(name, request);
                    complete = false;
                }
            }
        }
        if complete {
            Asked::Ready(Ok(answers))
        } else {
            Asked::Ready(Err(ToolError::new(
                "input required: the call returns an InputRequiredResult and resumes on the retry",
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::peer::{decode_one, Pending};
    use dcc_mcp_protocol::client_requests::ElicitResult;

    const TARGET: &str = "tools/call:ask";
    const MAX: usize = 64 * 1024;

    fn key() -> StateKey {
        StateKey::random().unwrap()
    }

    fn peer(round: Round) -> StatelessPeer {
        StatelessPeer::new(
            round,
            Some(json!({"elicitation": {}})),
            None,
            None,
            100,
            Recorder::new(),
        )
    }

    fn ask(peer: &StatelessPeer, name: &str) -> Result<ElicitResult, ToolError> {
        let request = InputRequest::elicit("Name?", json!({"type": "object"})).key(name);
        Pending::new(peer.ask(vec![request]), decode_one::<ElicitResult>).wait()
    }

    fn round(key: &StateKey, params: Value) -> Result<Round, RpcError> {
        Round::from_params(key, Some(&params), TARGET, MAX, &Recorder::new())
    }

    #[test]
    fn two_rounds_carry_the_first_answer_in_the_sealed_state() {
        let key = key();
        // Round 1: nothing answered; the state seals no answers.
        let first = peer(Round::default());
        assert!(ask(&first, "step1").is_err());
        let Ending::InputRequired(result) = first.finish(&key, TARGET, MAX).unwrap() else {
            panic!("expected input required")
        };
        assert_eq!(result["resultType"], "input_required");
        assert_eq!(
            result["inputRequests"]["step1"]["method"],
            "elicitation/create"
        );
        let state = result["requestState"].as_str().unwrap().to_owned();

        // Round 2: step1 answered; step2 missing; the new state carries step1's answer.
        let accepted = json!({"action": "accept", "content": {"name": "Alice"}});
        let second = peer(
            round(
                &key,
                json!({"requestState": state, "inputResponses": {"step1": accepted}}),
            )
            .unwrap(),
        );
        assert_eq!(
            ask(&second, "step1").unwrap().content.unwrap()["name"],
            "Alice"
        );
        assert!(ask(&second, "step2").is_err());
        let Ending::InputRequired(result) = second.finish(&key, TARGET, MAX).unwrap() else {
            panic!("expected input required")
        };
        let state2 = result["requestState"].as_str().unwrap().to_owned();
        assert_ne!(state2, state);
        assert_eq!(result["inputRequests"].as_object().unwrap().len(), 1);

        // Round 3: only step2 is sent; step1 comes back from the state.
        let third = peer(
            round(
                &key,
                json!({"requestState": state2, "inputResponses": {"step2": {"action": "decline"}}}),
            )
            .unwrap(),
        );
        assert!(ask(&third, "step1").is_ok());
        assert!(ask(&third, "step2").is_ok());
        assert_eq!(third.finish(&key, TARGET, MAX).unwrap(), Ending::Complete);
    }

    #[test]
    fn a_tampered_foreign_or_oversized_state_is_refused() {
        let key = key();
        let sealed = key.seal(&json!({"v": 1, "t": TARGET, "exp": now_secs() + 60, "a": {}}));
        assert!(round(&key, json!({"requestState": sealed})).is_ok());
        let tampered = format!("{sealed}-TAMPERED");
        let error = round(&key, json!({"requestState": tampered})).unwrap_err();
        assert_eq!(error.code, codes::INVALID_PARAMS);
        assert!(
            error.message.contains("integrity check"),
            "{}",
            error.message
        );
        // Another server's key.
        let other = StateKey::random()
            .unwrap()
            .seal(&json!({"v": 1, "t": TARGET}));
        assert!(round(&key, json!({"requestState": other})).is_err());
        // Another tool.
        let elsewhere = key.seal(&json!({"v": 1, "t": "tools/call:other", "exp": now_secs() + 60}));
        let error = round(&key, json!({"requestState": elsewhere})).unwrap_err();
        assert!(
            error.message.contains("another request"),
            "{}",
            error.message
        );
        // Expired.
        let old = key.seal(&json!({"v": 1, "t": TARGET, "exp": 1}));
        assert!(round(&key, json!({"requestState": old}))
            .unwrap_err()
            .message
            .contains("expired"));
        // Over the budget.
        let error = Round::from_params(
            &key,
            Some(&json!({"requestState": sealed})),
            TARGET,
            8,
            &Recorder::new(),
        )
        .unwrap_err();
        assert!(
            error.message.contains("max_request_state_bytes"),
            "{}",
            error.message
        );
    }

    #[test]
    fn malformed_input_responses_are_refused_and_wrong_shapes_asked_again() {
        let key = key();
        for params in [
            json!({"inputResponses": null}),
            json!({"inputResponses": {"user_name": 12345}}),
            json!({"inputResponses": [1]}),
            json!({"requestState": 5}),
        ] {
            assert_eq!(round(&key, params).unwrap_err().code, codes::INVALID_PARAMS);
        }
        let peer = peer(
            round(
                &key,
                json!({"inputResponses": {"user_name": {"roots": []}, "extra": {"x": 1}}}),
            )
            .unwrap(),
        );
        assert!(ask(&peer, "user_name").is_err());
        let Ending::InputRequired(result) = peer.finish(&key, TARGET, MAX).unwrap() else {
            panic!("expected input required")
        };
        assert_eq!(
            result["inputRequests"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["user_name"]
        );
    }

    #[test]
    fn an_undeclared_capability_is_refused() {
        let peer = StatelessPeer::new(
            Round::default(),
            Some(json!({"sampling": {}})),
            None,
            None,
            100,
            Recorder::new(),
        );
        let error = ask(&peer, "user_name").unwrap_err();
        assert!(
            error.message().contains("\"elicitation\" capability"),
            "{error}"
        );
        assert_eq!(peer.finish(&key(), TARGET, MAX).unwrap(), Ending::Complete);
    }
}
