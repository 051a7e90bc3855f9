//! `GET /metrics` end to end through the public API: the exposition surface, exact counts after
//! known MCP traffic, Basic auth, the feature gate and the `enable_prometheus` flag, independence of
//! two servers in one process, and format validity of every scrape (`promtool check metrics`, the
//! `prometheus-client` Python parser, and a strict parser here).
//!
//! The file is compiled in both test passes of `scripts/test.sh`: without the `prometheus` feature
//! only [`without_feature`] runs (the endpoint must be absent even when `enable_prometheus` is set);
//! with it, [`with_feature`] runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use dcc_mcp_http::{
    BasicAuth, McpHttpConfig, McpHttpServer, ToolContext, ToolError, ToolRegistry, ToolSpec,
};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

fn config(enable: bool, auth: Option<BasicAuth>) -> McpHttpConfig {
    McpHttpConfig {
        port: 0,
        enable_prometheus: enable,
        prometheus_basic_auth: auth,
        ..McpHttpConfig::default()
    }
}

/// A registry with tool `x`: succeeds when called with `{"ok": true}`, fails otherwise.
fn registry_with_x() -> ToolRegistry {
    let registry = ToolRegistry::new();
    registry
        .register_with_handler(
            ToolSpec::new("x").description("succeeds when ok is true"),
            Arc::new(|args: Value, _ctx: &ToolContext| {
                if args.get("ok") == Some(&Value::Bool(true)) {
                    Ok(Value::String("fine".into()))
                } else {
                    Err(ToolError::from("boom"))
                }
            }),
        )
        .unwrap();
    registry
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

async fn get_metrics(router: &Router, extra: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
    let mut req = Request::get("/metrics");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    send(router, req.body(Body::empty()).unwrap()).await
}

/// A minimal MCP Streamable HTTP client over `oneshot`.
struct Client {
    router: Router,
    session: String,
    next_id: u64,
}

impl Client {
    async fn connect(router: &Router) -> Self {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "prometheus_endpoint", "version": "0"}}});
        let (status, headers, body) = send(router, Self::post(None, &init)).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let session = headers["mcp-session-id"].to_str().unwrap().to_owned();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _, _) = send(router, Self::post(Some(&session), &note)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        Self {
            router: router.clone(),
            session,
            next_id: 1,
        }
    }

    fn post(session: Option<&str>, msg: &Value) -> Request<Body> {
        let mut req = Request::post("/mcp")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream");
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        req.body(Body::from(msg.to_string())).unwrap()
    }

    /// Sends one request and returns the whole JSON-RPC response.
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let (status, _, body) = send(&self.router, Self::post(Some(&self.session), &msg)).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let resp: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(resp["id"], json!(id));
        resp
    }

    /// `tools/call`; returns the JSON-RPC response.
    async fn call(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
            .await
    }

    async fn close(self) {
        let req = Request::delete("/mcp")
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", "2025-06-18")
            .body(Body::empty())
            .unwrap();
        let (status, _, _) = send(&self.router, req).await;
        assert!(status.is_success(), "DELETE /mcp -> {status}");
    }
}

#[cfg(not(feature = "prometheus"))]
mod without_feature {
    use super::*;

    /// Compiled without the feature, the flags are accepted and `/metrics` does not exist.
    #[tokio::test]
    async fn metrics_is_404_even_when_enabled() {
        let auth = Some(BasicAuth::new("scraper", "change-me"));
        let server = McpHttpServer::new(registry_with_x(), config(true, auth)).unwrap();
        let router = server.router();
        let (status, _, _) = get_metrics(&router, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let basic = "Basic c2NyYXBlcjpjaGFuZ2UtbWU="; // scraper:change-me
        let (status, _, _) = get_metrics(&router, &[("authorization", basic)]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The MCP side works as usual.
        let mut client = Client::connect(&router).await;
        let resp = client.call("x", json!({"ok": true})).await;
        assert_eq!(resp["result"]["isError"], json!(false));
        client.close().await;
    }
}

#[cfg(feature = "prometheus")]
mod with_feature {
    use super::*;

    use super::exposition::Exposition;

    /// Scrapes (open endpoint), asserts 200 and the content type, and validates the text.
    async fn scrape(router: &Router) -> Exposition {
        scrape_with(router, &[]).await
    }

    async fn scrape_with(router: &Router, extra: &[(&str, &str)]) -> Exposition {
        let (status, headers, body) = get_metrics(router, extra).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        Exposition::validated(std::str::from_utf8(&body).unwrap())
    }

    const FAMILIES: [(&str, &str); 12] = [
        ("dcc_mcp_tool_calls_total", "counter"),
        ("dcc_mcp_tool_duration_seconds", "histogram"),
        ("dcc_mcp_jobs_in_flight", "gauge"),
        ("dcc_mcp_job_created_total", "counter"),
        ("dcc_mcp_job_wait_seconds", "histogram"),
        ("dcc_mcp_notifications_sent_total", "counter"),
        ("dcc_mcp_active_sessions", "gauge"),
        ("dcc_mcp_registered_tools", "gauge"),
        ("dcc_mcp_build_info", "gauge"),
        ("dcc_mcp_rejected_total", "counter"),
        ("dcc_mcp_dispatch_wait_seconds", "histogram"),
        ("dcc_mcp_requests_total", "counter"),
    ];

    /// The `method` label values of `dcc_mcp_requests_total`: a fixed set.
    const REQUEST_METHODS: [&str; 16] = [
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "server/discover",
        "subscriptions/listen",
        "other",
    ];

    const REJECTION_REASONS: [&str; 23] = [
        "batch_too_large",
        "response_too_large",
        "too_many_sessions",
        "session_evicted",
        "connection_limit",
        "body_timeout",
        "write_timeout",
        "job_quota",
        "result_too_large",
        "busy",
        "main_thread_full",
        "expired_before_run",
        "outbox_drop",
        "auth",
        "auth_throttled",
        "auth_scope",
        "auth_unavailable",
        "log_rate",
        "pending_client_requests",
        "request_state_too_large",
        "subscription_limit",
        "job_queue_full",
        "job_client_share",
    ];

    /// The built-in job tools `tools/list` shows next to the registered ones (their call series
    /// exist from start, like a registered tool's).
    const BUILTINS: usize = if cfg!(feature = "workflow") { 3 } else { 0 };
    const BUILTIN_TOOLS: f64 = BUILTINS as f64;

    const LADDER: [&str; 14] = [
        "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
        "30", "+Inf",
    ];

    #[tokio::test]
    async fn fresh_server_exposes_all_families() {
        let server = McpHttpServer::new(ToolRegistry::new(), config(true, None)).unwrap();
        let exp = scrape(&server.router()).await;
        for (name, kind) in FAMILIES {
            assert_eq!(exp.type_of(name), Some(kind), "# TYPE of {name}");
            assert!(exp.has_help(name), "# HELP of {name}");
        }
        for reason in REJECTION_REASONS {
            assert_eq!(
                exp.get("dcc_mcp_rejected_total", &[("reason", reason)]),
                Some(0.0),
                "rejected_total{{reason={reason}}}"
            );
        }
        for method in REQUEST_METHODS {
            for status in ["success", "error"] {
                let labels = [("method", method), ("status", status)];
                assert_eq!(
                    exp.get("dcc_mcp_requests_total", &labels),
                    Some(0.0),
                    "{labels:?}"
                );
            }
        }
        assert_eq!(exp.samples_of("dcc_mcp_requests_total").count(), 32);
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            exp.get(
                "dcc_mcp_build_info",
                &[("crate", "dcc-mcp-http"), ("version", version)]
            ),
            Some(1.0)
        );
        assert_eq!(exp.get("dcc_mcp_active_sessions", &[]), Some(0.0));
        assert_eq!(
            exp.get("dcc_mcp_registered_tools", &[]),
            Some(BUILTIN_TOOLS)
        );
        // Both channels exist at zero; of the tool series only `<unknown>` (and the built-in
        // tools') exist, at zero.
        for channel in ["sse", "ws"] {
            let labels = [("channel", channel)];
            assert_eq!(
                exp.get("dcc_mcp_notifications_sent_total", &labels),
                Some(0.0)
            );
        }
        for status in ["success", "error"] {
            let labels = [("tool", "<unknown>"), ("status", status)];
            assert_eq!(exp.get("dcc_mcp_tool_calls_total", &labels), Some(0.0));
        }
        assert_eq!(
            exp.samples_of("dcc_mcp_tool_calls_total").count(),
            2 * (1 + BUILTINS)
        );
        let unknown = [("tool", "<unknown>")];
        assert_eq!(
            exp.bucket_bounds("dcc_mcp_tool_duration_seconds", &unknown),
            LADDER
        );
        assert_eq!(
            exp.samples_of("dcc_mcp_tool_duration_seconds").count(),
            16 * (1 + BUILTINS)
        );
        for family in [
            "dcc_mcp_jobs_in_flight",
            "dcc_mcp_job_created_total",
            "dcc_mcp_job_wait_seconds",
        ] {
            assert_eq!(exp.samples_of(family).count(), 0, "{family}");
        }
        // The engine's overflow counter is listed for every labelled family, at zero.
        let overflow = exp.samples_of("dcc_mcp_telemetry_series_overflow_total");
        assert!(overflow.map(|(_, v)| *v).all(|v| v == 0.0));
    }

    #[tokio::test]
    async fn registered_tool_series_start_at_zero() {
        let server = McpHttpServer::new(registry_with_x(), config(true, None)).unwrap();
        let exp = scrape(&server.router()).await;
        let x = [("tool", "x")];
        for status in ["success", "error"] {
            let labels = [("tool", "x"), ("status", status)];
            assert_eq!(exp.get("dcc_mcp_tool_calls_total", &labels), Some(0.0));
        }
        for result in ["accepted", "queue_full", "rejected", "quota"] {
            let labels = [("tool", "x"), ("result", result)];
            assert_eq!(exp.get("dcc_mcp_job_created_total", &labels), Some(0.0));
        }
        assert_eq!(exp.get("dcc_mcp_jobs_in_flight", &x), Some(0.0));
        for family in ["dcc_mcp_tool_duration_seconds", "dcc_mcp_job_wait_seconds"] {
            assert_eq!(exp.bucket_bounds(family, &x), LADDER, "{family}");
            assert_eq!(exp.get(&format!("{family}_count"), &x), Some(0.0));
        }
        assert_eq!(
            exp.get("dcc_mcp_registered_tools", &[]),
            Some(1.0 + BUILTIN_TOOLS)
        );
    }

    #[tokio::test]
    async fn exact_counts_after_known_traffic() {
        let (k, m, n) = (3, 2, 4);
        let server = McpHttpServer::new(registry_with_x(), config(true, None)).unwrap();
        let router = server.router();
        let mut client = Client::connect(&router).await;
        for _ in 0..k {
            let resp = client.call("x", json!({"ok": true})).await;
            assert_eq!(resp["result"]["isError"], json!(false), "{resp}");
        }
        for _ in 0..m {
            let resp = client.call("x", json!({"ok": false})).await;
            assert_eq!(resp["result"]["isError"], json!(true), "{resp}");
        }
        for i in 0..n {
            // Each unknown call names a different tool: the label must not follow the client.
            let resp = client.call(&format!("no-such-tool-{i}"), json!({})).await;
            assert_eq!(resp["error"]["code"], json!(-32602), "{resp}");
        }
        // Other methods are not tool calls.
        let listed = client.request("tools/list", json!({})).await["result"]["tools"]
            .as_array()
            .unwrap()
            .len();
        client.request("ping", json!({})).await;

        let exp = scrape(&router).await;
        let calls = |tool: &str, status: &str| {
            exp.get(
                "dcc_mcp_tool_calls_total",
                &[("tool", tool), ("status", status)],
            )
        };
        assert_eq!(calls("x", "success"), Some(k as f64));
        assert_eq!(calls("x", "error"), Some(m as f64));
        assert_eq!(calls("<unknown>", "error"), Some(n as f64));
        assert_eq!(calls("<unknown>", "success"), Some(0.0));
        assert_eq!(
            exp.samples_of("dcc_mcp_tool_calls_total").count(),
            2 * (2 + BUILTINS)
        );
        let overflow = exp.samples_of("dcc_mcp_telemetry_series_overflow_total");
        assert!(overflow.map(|(_, v)| *v).all(|v| v == 0.0));
        let count = |tool: &str| exp.get("dcc_mcp_tool_duration_seconds_count", &[("tool", tool)]);
        assert_eq!(count("x"), Some((k + m) as f64));
        assert_eq!(count("<unknown>"), Some(n as f64));
        let inf = |tool: &str| {
            exp.get(
                "dcc_mcp_tool_duration_seconds_bucket",
                &[("tool", tool), ("le", "+Inf")],
            )
        };
        assert_eq!(inf("x"), Some((k + m) as f64));
        assert!(!exp.text().contains("no-such-tool"));
        assert_eq!(exp.get("dcc_mcp_active_sessions", &[]), Some(1.0));
        // `registered_tools` is what `tools/list` returns.
        assert_eq!(
            exp.get("dcc_mcp_registered_tools", &[]),
            Some(listed as f64)
        );
        assert_eq!(listed as f64, 1.0 + BUILTIN_TOOLS);

        // Sessions and tools are exact at scrape time.
        let second = Client::connect(&router).await;
        assert_eq!(
            scrape(&router).await.get("dcc_mcp_active_sessions", &[]),
            Some(2.0)
        );
        client.close().await;
        second.close().await;
        server
            .registry()
            .register(ToolSpec::new("y").description("no handler"))
            .unwrap();
        let exp = scrape(&router).await;
        assert_eq!(exp.get("dcc_mcp_active_sessions", &[]), Some(0.0));
        assert_eq!(
            exp.get("dcc_mcp_registered_tools", &[]),
            Some(2.0 + BUILTIN_TOOLS)
        );
        let y_success = [("tool", "y"), ("status", "success")];
        assert_eq!(exp.get("dcc_mcp_tool_calls_total", &y_success), Some(0.0));
        assert!(server.registry().unregister("x"));
        let exp = scrape(&router).await;
        assert_eq!(
            exp.get("dcc_mcp_registered_tools", &[]),
            Some(1.0 + BUILTIN_TOOLS)
        );
        // Counters never go backwards: the unregistered tool keeps its series.
        let x_success = [("tool", "x"), ("status", "success")];
        assert_eq!(
            exp.get("dcc_mcp_tool_calls_total", &x_success),
            Some(k as f64)
        );
    }

    /// A stateless (2026-07-28) request with the headers and `_meta` a conforming client sends.
    fn stateless(id: u64, method: &str, params: Value, method_header: &str) -> Request<Body> {
        let mut params = params;
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut req = Request::post("/mcp")
            .header(header::CONTENT_TYPE, "application/json")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method_header);
        if let Some(name) = params.get("name").and_then(Value::as_str) {
            req = req.header("mcp-name", name);
        }
        req.body(Body::from(body.to_string())).unwrap()
    }

    #[tokio::test]
    async fn requests_by_method_in_both_eras() {
        let config = McpHttpConfig {
            catalog: dcc_mcp_http::Catalog::with_subscription_budget(1),
            ..config(true, None)
        };
        let server = McpHttpServer::new(registry_with_x(), config).unwrap();
        let router = server.router();
        // Session era: initialize, 2 calls (one an unknown tool: a JSON-RPC error), a ping, and
        // 3 methods nobody serves, each a different name.
        let mut client = Client::connect(&router).await;
        client.call("x", json!({"ok": true})).await;
        client.call("nope", json!({})).await;
        client.request("ping", json!({})).await;
        for i in 0..3 {
            let resp = client.request(&format!("made/up/{i}"), json!({})).await;
            assert_eq!(resp["error"]["code"], -32601);
        }
        // A subscription within the budget of 1, and one past it.
        let ok = client
            .request("resources/subscribe", json!({"uri": "test://a"}))
            .await;
        assert_eq!(ok["result"], json!({}));
        let over = client
            .request("resources/subscribe", json!({"uri": "test://b"}))
            .await;
        assert_eq!(over["error"]["code"], -32600);
        // Stateless era: 2 discovers, a call, a tools/list with a wrong Mcp-Method (refused: an
        // error of tools/list), an unknown method, and a listen past the subscription budget.
        for id in 0..2 {
            let (status, _, _) = send(
                &router,
                stateless(id, "server/discover", json!({}), "server/discover"),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
        }
        let call = stateless(
            3,
            "tools/call",
            json!({"name": "x", "arguments": {"ok": true}}),
            "tools/call",
        );
        assert_eq!(send(&router, call).await.0, StatusCode::OK);
        let wrong = stateless(4, "tools/list", json!({}), "prompts/list");
        assert_eq!(send(&router, wrong).await.0, StatusCode::BAD_REQUEST);
        let unknown = stateless(5, "x/y", json!({}), "x/y");
        assert_eq!(send(&router, unknown).await.0, StatusCode::NOT_FOUND);
        let uris = ["test://a", "test://b"];
        let over = stateless(
            6,
            "subscriptions/listen",
            json!({"notifications": {"resourceSubscriptions": uris}}),
            "subscriptions/listen",
        );
        assert_eq!(send(&router, over).await.0, StatusCode::BAD_REQUEST);

        let exp = scrape(&router).await;
        let requests = |method: &str, status: &str| {
            exp.get(
                "dcc_mcp_requests_total",
                &[("method", method), ("status", status)],
            )
            .unwrap_or(-1.0)
        };
        let expected = [
            ("initialize", 1.0, 0.0),
            ("tools/call", 2.0, 1.0),
            ("ping", 1.0, 0.0),
            ("other", 0.0, 4.0),
            ("server/discover", 2.0, 0.0),
            ("tools/list", 0.0, 1.0),
            ("subscriptions/listen", 0.0, 1.0),
            ("resources/subscribe", 1.0, 1.0),
        ];
        for (method, success, error) in expected {
            assert_eq!(requests(method, "success"), success, "{method} success");
            assert_eq!(requests(method, "error"), error, "{method} error");
        }
        let total: f64 = exp
            .samples_of("dcc_mcp_requests_total")
            .map(|(_, v)| *v)
            .sum();
        assert_eq!(total, 15.0, "nothing else was counted");
        assert_eq!(
            exp.samples_of("dcc_mcp_requests_total").count(),
            32,
            "bounded"
        );
        assert!(!exp.text().contains("made/up"));
        assert_eq!(
            exp.get(
                "dcc_mcp_rejected_total",
                &[("reason", "subscription_limit")]
            ),
            Some(2.0)
        );
        client.close().await;
    }

    #[tokio::test]
    async fn head_answers_like_get_without_a_body() {
        let server = McpHttpServer::new(ToolRegistry::new(), config(true, None)).unwrap();
        let req = Request::builder()
            .method(axum::http::Method::HEAD)
            .uri("/metrics")
            .body(Body::empty())
            .unwrap();
        let (status, headers, body) = send(&server.router(), req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn gzip_when_the_scraper_accepts_it() {
        use std::io::Read as _;
        let server = McpHttpServer::new(registry_with_x(), config(true, None)).unwrap();
        let router = server.router();
        let (status, headers, body) =
            get_metrics(&router, &[("accept-encoding", "gzip, deflate")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert_eq!(headers[header::VARY], "Accept, Accept-Encoding");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        let unpacked = Exposition::validated(&text);
        let identity = scrape_with(&router, &[("accept-encoding", "identity")]).await;
        // The process_* values (CPU, memory, descriptors) move between scrapes; the rest must not.
        let stable = |text: &str| {
            text.lines()
                .filter(|l| !l.contains("process_"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(stable(unpacked.text()), stable(identity.text()));
        let refused = scrape_with(&router, &[("accept-encoding", "gzip;q=0")]).await;
        assert_eq!(stable(refused.text()), stable(identity.text()));
    }

    #[tokio::test]
    async fn flag_off_is_404() {
        let auth = Some(BasicAuth::new("scraper", "change-me"));
        for auth in [None, auth] {
            let server = McpHttpServer::new(registry_with_x(), config(false, auth)).unwrap();
            let (status, _, _) = get_metrics(&server.router(), &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }

    const CHALLENGE: &str = "Basic realm=\"dcc-mcp metrics\"";

    fn basic(user_pass: &str) -> String {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[tokio::test]
    async fn basic_auth_matrix() {
        let auth = Some(BasicAuth::new("scraper", "change-me"));
        let server = McpHttpServer::new(registry_with_x(), config(true, auth)).unwrap();
        let router = server.router();
        let (status, headers, _) = get_metrics(&router, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::WWW_AUTHENTICATE], CHALLENGE);
        let rejected = [
            basic("scraper:wrong"),
            basic("scraper:change-me\n"),
            basic("scraperX:change-me"),
            basic("SCRAPER:change-me"),
            basic("change-me:scraper"),
            basic("scraper"),
            basic(":"),
            "Basic".into(),
            "Basic ".into(),
            "Basic ***".into(),
            "Bearer c2NyYXBlcjpjaGFuZ2UtbWU=".into(),
            "c2NyYXBlcjpjaGFuZ2UtbWU=".into(),
            "Basic c2NyYXBlcjpjaGFuZ2UtbWU".into(), // missing padding
            format!("{} extra", basic("scraper:change-me")),
        ];
        // A fresh server per case: past 10 failed logins an address is throttled (`429`), which
        // `failed_basic_logins_on_metrics_are_counted_and_throttled` in tests/bearer_auth.rs covers.
        for value in &rejected {
            let auth = Some(BasicAuth::new("scraper", "change-me"));
            let fresh = McpHttpServer::new(registry_with_x(), config(true, auth)).unwrap();
            let (status, headers, body) =
                get_metrics(&fresh.router(), &[("authorization", value.as_str())]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{value:?}");
            assert_eq!(headers[header::WWW_AUTHENTICATE], CHALLENGE, "{value:?}");
            assert!(!String::from_utf8_lossy(&body).contains("change-me"));
        }
        let good = basic("scraper:change-me");
        let exp = scrape_with(&router, &[("authorization", good.as_str())]).await;
        assert!(exp.type_of("dcc_mcp_build_info").is_some());
        let lower = good.replacen("Basic", "basic", 1);
        scrape_with(&router, &[("authorization", lower.as_str())]).await;
    }

    /// The same matrix over a real socket, including a header that is not valid UTF-8.
    #[test]
    fn basic_auth_over_a_real_socket() {
        use std::io::{Read as _, Write as _};
        let auth = Some(BasicAuth::new("scraper", "pa:ss"));
        let server = McpHttpServer::new(registry_with_x(), config(true, auth)).unwrap();
        let handle = server.start().unwrap();
        let raw = |authorization: &[u8]| -> Vec<u8> {
            let mut s = std::net::TcpStream::connect(handle.local_addr()).unwrap();
            let mut req =
                b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
            if !authorization.is_empty() {
                req.extend_from_slice(b"Authorization: ");
                req.extend_from_slice(authorization);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"\r\n");
            s.write_all(&req).unwrap();
            let mut resp = Vec::new();
            s.read_to_end(&mut resp).unwrap();
            resp
        };
        let status_line = |resp: &[u8]| {
            let text = String::from_utf8_lossy(resp);
            text.lines().next().unwrap().to_owned()
        };
        let challenge = format!("www-authenticate: {CHALLENGE}\r\n");
        for value in [
            &b""[..],
            basic("scraper:pass").as_bytes(),
            basic("scraper:pa").as_bytes(),
            b"Basic \xff\xfe\xfd",
            b"Basic c2NyYXBlcjpwYTpzcw==\xff",
        ] {
            let resp = raw(value);
            assert_eq!(status_line(&resp), "HTTP/1.1 401 Unauthorized");
            let lower = String::from_utf8_lossy(&resp).to_ascii_lowercase();
            assert!(lower.contains(&challenge.to_ascii_lowercase()), "{lower}");
        }
        let resp = raw(basic("scraper:pa:ss").as_bytes());
        assert_eq!(status_line(&resp), "HTTP/1.1 200 OK");
        handle.shutdown().unwrap();
    }

    #[tokio::test]
    async fn two_servers_keep_independent_counts() {
        let a = McpHttpServer::new(registry_with_x(), config(true, None)).unwrap();
        let b = McpHttpServer::new(registry_with_x(), config(true, None)).unwrap();
        let (ra, rb) = (a.router(), b.router());
        let mut ca = Client::connect(&ra).await;
        let mut cb = Client::connect(&rb).await;
        for _ in 0..3 {
            ca.call("x", json!({"ok": true})).await;
        }
        cb.call("x", json!({"ok": false})).await;
        let (ea, eb) = (scrape(&ra).await, scrape(&rb).await);
        let at = |e: &Exposition, status: &str| {
            e.get(
                "dcc_mcp_tool_calls_total",
                &[("tool", "x"), ("status", status)],
            )
        };
        assert_eq!(
            (at(&ea, "success"), at(&ea, "error")),
            (Some(3.0), Some(0.0))
        );
        assert_eq!(
            (at(&eb, "success"), at(&eb, "error")),
            (Some(0.0), Some(1.0))
        );
        ca.close().await;
        assert_eq!(
            scrape(&ra).await.get("dcc_mcp_active_sessions", &[]),
            Some(0.0)
        );
        assert_eq!(
            scrape(&rb).await.get("dcc_mcp_active_sessions", &[]),
            Some(1.0)
        );
        cb.close().await;
    }

    #[tokio::test]
    async fn tool_names_needing_escapes_round_trip() {
        let registry = ToolRegistry::new();
        let name = "quote\"back\\slash-é";
        registry
            .register_with_handler(
                ToolSpec::new(name).description("escapes"),
                Arc::new(|_args: Value, _ctx: &ToolContext| Ok(Value::Null)),
            )
            .unwrap();
        let server = McpHttpServer::new(registry, config(true, None)).unwrap();
        let router = server.router();
        let mut client = Client::connect(&router).await;
        client.call(name, json!({})).await;
        let exp = scrape(&router).await;
        let labels = [("tool", name), ("status", "success")];
        assert_eq!(exp.get("dcc_mcp_tool_calls_total", &labels), Some(1.0));
        assert!(exp.text().contains(r#"tool="quote\"back\\slash-é""#));
        client.close().await;
    }
}

/// Jobs and notifications (the `workflow` feature): created by result, in flight, wait, and the
/// notifications written to the session's SSE stream.
#[cfg(all(feature = "prometheus", feature = "workflow"))]
mod jobs {
    use super::*;
    use dcc_mcp_http::Execution;
    use std::sync::Mutex;

    use super::exposition::Exposition;

    /// Reads SSE frames until `want` message events whose data contains `needle` have arrived;
    /// returns how many message events were read in total.
    async fn read_events(body: &mut Body, needle: &str, want: usize) -> usize {
        let (mut seen, mut matched, mut buf) = (0, 0, String::new());
        while matched < want {
            let frame = body.frame().await.unwrap().unwrap();
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.push_str(std::str::from_utf8(&data).unwrap());
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                if event.lines().any(|l| l == "event: message") {
                    seen += 1;
                    if event.contains(needle) {
                        matched += 1;
                    }
                }
            }
        }
        seen
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn job_and_notification_metrics_follow_real_jobs() {
        let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let registry = ToolRegistry::new();
        registry
            .register_with_handler(
                ToolSpec::new("render")
                    .description("waits until released")
                    .execution(Execution::Async),
                Arc::new(move |_args: Value, _ctx: &ToolContext| {
                    started_tx.send(()).unwrap();
                    release_rx.lock().unwrap().recv().unwrap();
                    Ok(Value::String("rendered".into()))
                }),
            )
            .unwrap();
        let mut cfg = config(true, None);
        cfg.job_queue_capacity = 1;
        cfg.job_concurrency = 1;
        let server = McpHttpServer::new(registry, cfg).unwrap();
        let router = server.router();
        let mut client = Client::connect(&router).await;
        let sse = Request::get("/mcp")
            .header(header::ACCEPT, "text/event-stream")
            .header("mcp-session-id", &client.session)
            .header("mcp-protocol-version", "2025-06-18")
            .body(Body::empty())
            .unwrap();
        let resp = router.clone().oneshot(sse).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut stream = resp.into_body();

        // Job 1 runs (and blocks), job 2 waits in the one queue slot, job 3 finds the queue full.
        let first = client.call("render", json!({})).await;
        assert_eq!(first["result"]["isError"], json!(false), "{first}");
        started_rx.recv().await.unwrap();
        let second = client.call("render", json!({})).await;
        assert_eq!(second["result"]["isError"], json!(false), "{second}");
        let third = client.call("render", json!({})).await;
        assert_eq!(third["result"]["isError"], json!(true), "{third}");

        let exp = Exposition::validated(&scrape_text(&router).await);
        let created = |e: &Exposition, result: &str| {
            e.get(
                "dcc_mcp_job_created_total",
                &[("tool", "render"), ("result", result)],
            )
        };
        let render = [("tool", "render")];
        assert_eq!(created(&exp, "accepted"), Some(2.0));
        assert_eq!(created(&exp, "queue_full"), Some(1.0));
        assert_eq!(created(&exp, "rejected"), Some(0.0));
        assert_eq!(exp.get("dcc_mcp_jobs_in_flight", &render), Some(1.0));
        assert_eq!(
            exp.get("dcc_mcp_job_wait_seconds_count", &render),
            Some(1.0)
        );
        // Submissions are tool calls too: two accepted, one refused.
        let calls = |status: &str| {
            exp.get(
                "dcc_mcp_tool_calls_total",
                &[("tool", "render"), ("status", status)],
            )
        };
        assert_eq!((calls("success"), calls("error")), (Some(2.0), Some(1.0)));

        // Release both jobs and read their completion notifications from the SSE stream.
        release_tx.send(()).unwrap();
        started_rx.recv().await.unwrap();
        release_tx.send(()).unwrap();
        let seen = read_events(&mut stream, "job_finished", 2).await;

        let exp = Exposition::validated(&scrape_text(&router).await);
        assert_eq!(exp.get("dcc_mcp_jobs_in_flight", &render), Some(0.0));
        assert_eq!(
            exp.get("dcc_mcp_job_wait_seconds_count", &render),
            Some(2.0)
        );
        assert_eq!(created(&exp, "accepted"), Some(2.0));
        let sse = [("channel", "sse")];
        assert_eq!(
            exp.get("dcc_mcp_notifications_sent_total", &sse),
            Some(seen as f64)
        );
        assert!(seen >= 2);
        let ws = [("channel", "ws")];
        assert_eq!(exp.get("dcc_mcp_notifications_sent_total", &ws), Some(0.0));
        // The built-in job tools' call series exist (at zero), without job series.
        let jobs_get = [("tool", "jobs.get"), ("status", "success")];
        assert_eq!(exp.get("dcc_mcp_tool_calls_total", &jobs_get), Some(0.0));
        assert_eq!(
            exp.get("dcc_mcp_jobs_in_flight", &[("tool", "jobs.get")]),
            None
        );
        drop(stream);
        client.close().await;
    }

    async fn scrape_text(router: &Router) -> String {
        let (status, _, body) = get_metrics(router, &[]).await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body.to_vec()).unwrap()
    }
}

/// A strict parser of the text exposition format 0.0.4, plus the two external checkers.
#[cfg(feature = "prometheus")]
mod exposition {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    type Labels = BTreeMap<String, String>;

    /// One scrape, parsed; every sample is unique by (name, labels).
    pub(super) struct Exposition {
        text: String,
        types: BTreeMap<String, String>,
        helps: BTreeSet<String>,
        samples: BTreeMap<(String, Labels), f64>,
    }

    impl Exposition {
        /// Parses `text` strictly and runs `promtool check metrics` and the `prometheus-client`
        /// Python parser on it; panics on any problem.
        pub(super) fn validated(text: &str) -> Self {
            let exp = Self::parse(text);
            exp.check_histograms();
            promtool(text);
            python_parser(text, &exp);
            exp
        }

        pub(super) fn text(&self) -> &str {
            &self.text
        }

        pub(super) fn type_of(&self, family: &str) -> Option<&str> {
            self.types.get(family).map(String::as_str)
        }

        pub(super) fn has_help(&self, family: &str) -> bool {
            self.helps.contains(family)
        }

        /// The value of sample `name` with exactly `labels`.
        pub(super) fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
            let labels = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            self.samples.get(&(name.to_owned(), labels)).copied()
        }

        /// Every sample of `family` (histogram families: their `_bucket`, `_sum`, `_count`).
        pub(super) fn samples_of<'a>(
            &'a self,
            family: &'a str,
        ) -> impl Iterator<Item = (&'a (String, Labels), &'a f64)> + 'a {
            self.samples
                .iter()
                .filter(move |((name, _), _)| family_of(name, &self.types) == family)
        }

        /// The `le` values of `family`'s buckets with the other labels equal to `labels`, in order.
        pub(super) fn bucket_bounds(&self, family: &str, labels: &[(&str, &str)]) -> Vec<String> {
            let want: Labels = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let mut les: Vec<String> = Vec::new();
            for line in self.text.lines() {
                let Some((name, mut l, _)) = parse_sample(line) else {
                    continue;
                };
                if name != format!("{family}_bucket") {
                    continue;
                }
                let le = l.remove("le").unwrap();
                if l == want {
                    les.push(le);
                }
            }
            les
        }

        fn parse(text: &str) -> Self {
            let mut types = BTreeMap::new();
            let mut helps = BTreeSet::new();
            let mut samples = BTreeMap::new();
            for line in text.lines() {
                assert!(!line.is_empty(), "empty line in exposition:\n{text}");
                if let Some(rest) = line.strip_prefix("# HELP ") {
                    let name = rest.split(' ').next().unwrap().to_owned();
                    assert!(helps.insert(name), "duplicate HELP: {line}");
                } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                    let (name, kind) = rest.split_once(' ').unwrap();
                    assert!(
                        ["counter", "gauge", "histogram"].contains(&kind),
                        "unexpected type: {line}"
                    );
                    let prev = types.insert(name.to_owned(), kind.to_owned());
                    assert!(prev.is_none(), "duplicate TYPE: {line}");
                } else {
                    assert!(!line.starts_with('#'), "unexpected comment: {line}");
                    let (name, labels, value) =
                        parse_sample(line).unwrap_or_else(|| panic!("bad sample line: {line:?}"));
                    let family = family_of(&name, &types);
                    assert!(types.contains_key(family), "sample before its TYPE: {line}");
                    let key = (name, labels);
                    assert!(
                        samples.insert(key, value).is_none(),
                        "duplicate series: {line}"
                    );
                }
            }
            Self {
                text: text.to_owned(),
                types,
                helps,
                samples,
            }
        }

        /// Buckets cumulative, `+Inf` present and equal to `_count`, for every histogram series.
        fn check_histograms(&self) {
            let mut last: BTreeMap<(String, Labels), (String, f64)> = BTreeMap::new();
            for line in self.text.lines() {
                let Some((name, mut labels, value)) = parse_sample(line) else {
                    continue;
                };
                let Some(family) = name.strip_suffix("_bucket") else {
                    continue;
                };
                if self.type_of(family) != Some("histogram") {
                    continue;
                }
                let le = labels.remove("le").expect("bucket without le");
                let key = (family.to_owned(), labels);
                if let Some((_, prev)) = last.get(&key) {
                    assert!(value >= *prev, "buckets not cumulative: {line}");
                }
                last.insert(key, (le, value));
            }
            for ((family, labels), (le, inf)) in last {
                assert_eq!(le, "+Inf", "{family}{labels:?}: last bucket is not +Inf");
                let count = self.samples[&(format!("{family}_count"), labels.clone())];
                assert_eq!(inf, count, "{family}{labels:?}: +Inf != _count");
                assert!(self
                    .samples
                    .contains_key(&(format!("{family}_sum"), labels)));
            }
        }
    }

    fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if types.get(base).map(String::as_str) == Some("histogram") {
                    return base;
                }
            }
        }
        name
    }

    /// `name{k="v",...} value` with `\\`, `\"`, `\n` escapes in label values.
    fn parse_sample(line: &str) -> Option<(String, Labels, f64)> {
        if line.starts_with('#') {
            return None;
        }
        let name_end = line.find(['{', ' '])?;
        let name = &line[..name_end];
        let valid_name = name.chars().enumerate().all(|(i, c)| {
            c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
        });
        if name.is_empty() || !valid_name {
            return None;
        }
        let mut labels = Labels::new();
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            loop {
                let (start, c) = chars.next()?;
                if c == '}' {
                    rest = &body[start + 1..];
                    break;
                }
                let eq = body[start..].find('=')? + start;
                let key = body[start..eq].to_owned();
                while chars.peek()?.0 < eq {
                    chars.next();
                }
                chars.next(); // '='
                if chars.next()?.1 != '"' {
                    return None;
                }
                let mut value = String::new();
                loop {
                    match chars.next()?.1 {
                        '"' => break,
                        '\\' => match chars.next()?.1 {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            _ => return None,
                        },
                        c => value.push(c),
                    }
                }
                if labels.insert(key, value).is_some() {
                    return None;
                }
                match chars.peek()?.1 {
                    ',' => {
                        chars.next();
                    }
                    '}' => {}
                    _ => return None,
                }
            }
        }
        let value = rest.strip_prefix(' ')?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().ok()?,
        };
        Some((name.to_owned(), labels, value))
    }

    /// Runs `program args` with `input` on its stdin; returns its captured stdout and stderr.
    fn pipe_through(
        program: &str,
        args: &[&str],
        input: &str,
    ) -> std::io::Result<std::process::Output> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("child has no stdin"))?
            .write_all(input.as_bytes())?;
        child.wait_with_output()
    }

    fn promtool(text: &str) {
        let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "/usr/bin/promtool".into());
        let out = pipe_through(&promtool, &["check", "metrics"], text).unwrap_or_else(|e| {
            panic!("cannot run {promtool} ({e}): install Debian's `prometheus` package")
        });
        assert!(
            out.status.success(),
            "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The project venv's Python, when it exists (created by `scripts/test.sh`).
    fn python() -> Option<String> {
        if let Ok(p) = std::env::var("DCC_MCP_PYTHON") {
            return Some(p);
        }
        let candidates = [
            std::env::var("VIRTUAL_ENV")
                .map(|v| format!("{v}/bin/python"))
                .ok(),
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python").to_owned()),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|p| std::path::Path::new(p).exists())
    }

    const PY_PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append([fam.type, s.name, sorted(s.labels.items()), repr(float(s.value))])
json.dump(out, sys.stdout)
"#;

    /// The `prometheus-client` parser must read exactly the samples this parser read.
    fn python_parser(text: &str, exp: &Exposition) {
        let Some(python) = python() else {
            eprintln!("note: no Python venv found; skipping the prometheus-client parser check");
            return;
        };
        let out = pipe_through(&python, &["-c", PY_PARSE], text).unwrap();
        assert!(
            out.status.success(),
            "prometheus-client parser failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        /// `[type, sample name, [[label, value], ...], repr(value)]` per sample.
        type PySample = (String, String, Vec<(String, String)>, String);
        let parsed: Vec<PySample> = serde_json::from_slice(&out.stdout).unwrap();
        let mut theirs = BTreeMap::new();
        for (_kind, name, labels, value) in parsed {
            let value: f64 = match value.as_str() {
                "inf" => f64::INFINITY,
                v => v.parse().unwrap(),
            };
            let labels: Labels = labels.into_iter().collect();
            assert!(
                theirs.insert((name.clone(), labels), value).is_none(),
                "prometheus-client saw a duplicate series {name}"
            );
        }
        assert_eq!(theirs, exp.samples, "prometheus-client read other samples");
    }
}

#[cfg(feature = "prometheus")]
mod exemplars {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    async fn call_with_traceparent(c: &mut Client, traceparent: &str) {
        let msg = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
            "params": {"name": "x", "arguments": {"ok": true}}});
        let mut req = Client::post(Some(&c.session), &msg);
        req.headers_mut()
            .insert("traceparent", traceparent.parse().unwrap());
        let (status, _, body) = send(&c.router, req).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }

    async fn openmetrics(router: &Router) -> String {
        let (status, _, body) = get_metrics(
            router,
            &[("accept", "application/openmetrics-text;version=1.0.0")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// Bucket lines of `dcc_mcp_tool_duration_seconds{tool="x"}` that carry an exemplar.
    fn exemplar_lines(om: &str) -> Vec<&str> {
        om.lines()
            .filter(|l| {
                l.starts_with("dcc_mcp_tool_duration_seconds_bucket{tool=\"x\",")
                    && l.contains(" # {")
            })
            .collect()
    }

    /// The `traceparent` header of a `tools/call` becomes the exemplar of the call's duration
    /// bucket in OpenMetrics; malformed headers and untraced calls leave none, and text 0.0.4 never
    /// shows one.
    #[tokio::test]
    async fn a_traceparent_header_becomes_the_duration_exemplar() {
        let server = McpHttpServer::new(registry_with_x(), config(true, None)).unwrap();
        let router = server.router();
        let mut c = Client::connect(&router).await;
        c.call("x", json!({"ok": true})).await;
        // Uppercase hex and an all-zero trace id are not valid trace contexts.
        call_with_traceparent(
            &mut c,
            &format!("00-{}-00f067aa0ba902b7-01", TRACE.to_uppercase()),
        )
        .await;
        call_with_traceparent(
            &mut c,
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        )
        .await;
        assert_eq!(
            exemplar_lines(&openmetrics(&router).await),
            Vec::<&str>::new()
        );

        call_with_traceparent(&mut c, &format!("00-{TRACE}-00f067aa0ba902b7-01")).await;
        let om = openmetrics(&router).await;
        let lines = exemplar_lines(&om);
        assert_eq!(lines.len(), 1, "{om}");
        // `…_bucket{tool="x",le="<le>"} <count> # {trace_id="<id>"} <seconds> <unix time>`
        let (head, exemplar) = lines[0].split_once(" # ").unwrap();
        let le: f64 = head
            .split("le=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let parts: Vec<&str> = exemplar.split(' ').collect();
        assert_eq!(parts[0], format!("{{trace_id=\"{TRACE}\"}}"));
        let value: f64 = parts[1].parse().unwrap();
        assert!(value > 0.0 && value <= le, "{}", lines[0]);
        let ts: f64 = parts[2].parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(ts <= now && ts > now - 60.0, "{}", lines[0]);
        assert!(
            om.contains("dcc_mcp_tool_duration_seconds_count{tool=\"x\"} 4\n"),
            "{om}"
        );

        let (_, _, text) = get_metrics(&router, &[]).await;
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(!text.contains("trace_id"), "{text}");
        c.close().await;
    }
}
