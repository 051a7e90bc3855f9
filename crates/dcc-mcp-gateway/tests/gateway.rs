//! The gateway against real backends: merged listing, exact results and counts at both hops,
//! isolation of a slow backend, a killed backend leaving and coming back, and discovery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use dcc_mcp_client::{
    Callbacks, CancellationToken, ClientConfig, ClientError, McpClient, RequestOptions,
};
use dcc_mcp_gateway::{BackendSpec, GatewayConfig};
use serde_json::{json, Value};

fn static_config(backends: &[(&str, &Running)]) -> GatewayConfig {
    GatewayConfig {
        backends: backends
            .iter()
            .map(|(name, b)| BackendSpec::new(name, &b.url(), None).unwrap())
            .collect(),
        ..GatewayConfig::default()
    }
}

fn names(tools: &[Value]) -> Vec<String> {
    tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The gateway's own job tools (the `workflow` feature is on in these tests) and a backend's.
fn with_jobs(prefix: &str) -> Vec<String> {
    ["jobs.cancel", "jobs.get", "jobs.list"]
        .iter()
        .map(|t| format!("{prefix}{t}"))
        .collect()
}

#[test]
fn merged_list_exact_results_and_exact_counts_at_both_hops() {
    let a = backend(&["echo", "add"], 0);
    let b = backend(&["add", "fail"], 0);
    let gw = gateway(static_config(&[("b", &b), ("a", &a)]), 2);
    let rt = runtime();
    rt.block_on(async {
        let client = McpClient::connect(ClientConfig::new(gw.url()))
            .await
            .unwrap();
        let direct_a = McpClient::connect(ClientConfig::new(a.url()))
            .await
            .unwrap();
        let direct_b = McpClient::connect(ClientConfig::new(b.url()))
            .await
            .unwrap();

        // Merged, namespaced, sorted; the same list twice.
        let tools = client.list_all_tools().await.unwrap();
        let mut expected: Vec<String> = ["a__add", "a__echo"].map(String::from).to_vec();
        expected.extend(with_jobs("a__"));
        expected.extend(["b__add", "b__fail"].map(String::from));
        expected.extend(with_jobs("b__"));
        expected.extend(with_jobs(""));
        assert_eq!(names(&tools), expected);
        assert_eq!(client.list_all_tools().await.unwrap(), tools);

        // Metadata kept: each gateway entry is the backend's with the name namespaced.
        let upstream = direct_a.list_all_tools().await.unwrap();
        for name in ["echo", "add"] {
            let mut theirs = upstream.iter().find(|t| t["name"] == name).unwrap().clone();
            theirs["name"] = json!(format!("a__{name}"));
            let ours = tools.iter().find(|t| t["name"] == theirs["name"]).unwrap();
            assert_eq!(ours, &theirs);
        }
        assert_eq!(
            tools.iter().find(|t| t["name"] == "a__echo").unwrap()["annotations"],
            json!({"readOnlyHint": true, "openWorldHint": false})
        );

        // Exact results, isError passed through.
        let calls: [(&McpClient, &str, &str, Value); 3] = [
            (&direct_a, "a__echo", "echo", json!({"text": "hi"})),
            (&direct_b, "b__add", "add", json!({"a": 2, "b": 3.5})),
            (&direct_b, "b__fail", "fail", json!({})),
        ];
        for (direct, ours, theirs, args) in &calls {
            let via = client.call_tool(ours, args.clone()).await.unwrap();
            let straight = direct.call_tool(theirs, args.clone()).await.unwrap();
            assert_eq!(via.0, straight.0, "{ours}");
        }
        let sum = client
            .call_tool("b__add", json!({"a": 2, "b": 3.5}))
            .await
            .unwrap();
        assert_eq!(sum.structured(), Some(&json!({"sum": 5.5})));
        let failed = client.call_tool("b__fail", json!({})).await.unwrap();
        assert!(failed.is_error());
        assert_eq!(failed.text(), Some("fail always fails"));

        // Known traffic on top: 5 more a__echo, 3 more a__add; one call naming no backend.
        for i in 0..5 {
            let r = client
                .call_tool("a__echo", json!({"text": format!("t{i}")}))
                .await
                .unwrap();
            assert_eq!(r.text(), Some(format!("t{i}").as_str()));
        }
        // Arguments that break the backend's inputSchema are refused at the gateway.
        let refused = client.call_tool("a__add", json!({"a": 1})).await.unwrap();
        assert!(refused.is_error());
        assert!(
            refused
                .text()
                .unwrap()
                .starts_with("invalid arguments for tool 'a__add'"),
            "{:?}",
            refused.text()
        );
        for _ in 0..3 {
            client
                .call_tool("a__add", json!({"a": 1, "b": 1}))
                .await
                .unwrap();
        }
        let unknown = client
            .call_tool("zzz__echo", json!({"text": "x"}))
            .await
            .unwrap_err();
        assert_eq!(unknown.rpc_code(), Some(-32602));
        assert!(
            unknown
                .to_string()
                .contains("Unknown tool: zzz__echo (the gateway has no backend named 'zzz')"),
            "{unknown}"
        );
        let missing = client.call_tool("a__nope", json!({})).await.unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("Unknown tool: a__nope (backend 'a' lists no tool 'nope')"),
            "{missing}"
        );
        client.close().await.unwrap();
        direct_a.close().await.unwrap();
        direct_b.close().await.unwrap();
    });

    // Gateway: 6 a__echo, 3 a__add, 2 b__add, 2 b__fail; backends: the same plus the direct calls.
    let g = gw.metrics();
    let (ma, mb) = (a.metrics(), b.metrics());
    let calls = |text: &str, tool: &str, status: &str| {
        sample(
            text,
            &format!("dcc_mcp_tool_calls_total{{status=\"{status}\",tool=\"{tool}\"}}"),
        )
    };
    assert_eq!(calls(&g, "a__echo", "success"), Some(6.0));
    assert_eq!(calls(&g, "a__add", "success"), Some(3.0));
    assert_eq!(calls(&g, "b__add", "success"), Some(2.0));
    assert_eq!(calls(&g, "b__fail", "error"), Some(2.0));
    assert_eq!(calls(&ma, "echo", "success"), Some(6.0 + 1.0));
    assert_eq!(calls(&ma, "add", "success"), Some(3.0));
    assert_eq!(calls(&g, "a__add", "error"), Some(1.0));
    assert_eq!(calls(&ma, "add", "error"), Some(0.0));
    assert_eq!(calls(&mb, "add", "success"), Some(2.0 + 1.0));
    assert_eq!(calls(&mb, "fail", "error"), Some(2.0 + 1.0));
    let requests = |backend: &str, status: &str| {
        sample(
            &g,
            &format!(
                "dcc_mcp_gateway_backend_requests_total{{backend=\"{backend}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("a", "success"), Some(9.0));
    assert_eq!(requests("a", "error"), Some(0.0));
    assert_eq!(requests("b", "success"), Some(2.0));
    assert_eq!(requests("b", "error"), Some(2.0));
    assert_eq!(requests("b", "failure"), Some(0.0));
    assert_eq!(
        sample(
            &g,
            "dcc_mcp_gateway_backend_duration_seconds_count{backend=\"a\"}"
        ),
        Some(9.0)
    );
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backend_up{backend=\"a\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backends{state=\"up\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backends{state=\"down\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &g,
            "dcc_mcp_gateway_backend_errors_total{backend=\"a\",kind=\"connect\"}"
        ),
        Some(0.0)
    );
    let instances = gw.instances();
    let listed: Vec<&str> = instances["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["a", "b"]);
    assert_eq!(gw.instance("a")["state"], "up");
    assert_eq!(gw.instance("a")["tools"], 2 + 3);
    assert_eq!(gw.instance("a")["url"], a.url());
    gw.shutdown();
    a.handle.shutdown().unwrap();
    b.handle.shutdown().unwrap();
}

/// Calls through `/mcp/NAME` and `/mcp/dcc/TYPE` are counted like calls through `/mcp`: once each
/// in the gateway's per-tool families and per backend, and once at the backend.
#[test]
fn calls_through_the_per_backend_endpoints_are_counted_once_at_every_hop() {
    let a = backend(&["echo", "fail"], 0);
    let b = backend(&["echo"], 0);
    let maya = |name: &str, running: &Running| {
        BackendSpec::new(name, &running.url(), Some("maya".to_owned())).unwrap()
    };
    let config = GatewayConfig {
        backends: vec![maya("a", &a), maya("b", &b)],
        ..GatewayConfig::default()
    };
    let gw = gateway(config, 2);
    let base = gw.url();
    runtime().block_on(async {
        let connect = |path: &str| {
            let url = format!("{base}{path}");
            async move { McpClient::connect(ClientConfig::new(url)).await.unwrap() }
        };
        let (all, only_a, by_type) = (
            connect("").await,
            connect("/a").await,
            connect("/dcc/maya").await,
        );
        async fn echo(client: &McpClient, tool: &str, n: usize) {
            for i in 0..n {
                let text = format!("{tool} {i}");
                let r = client.call_tool(tool, json!({"text": text})).await.unwrap();
                assert_eq!(r.text(), Some(text.as_str()));
            }
        }
        echo(&only_a, "a__echo", 3).await;
        echo(&by_type, "a__echo", 2).await;
        echo(&by_type, "b__echo", 4).await;
        echo(&all, "a__echo", 1).await;
        let failed = only_a.call_tool("a__fail", json!({})).await.unwrap();
        assert!(failed.is_error());
        // Outside the view: refused there, and counted as a call naming no tool.
        let outside = only_a
            .call_tool("b__echo", json!({"text": "x"}))
            .await
            .unwrap_err();
        assert_eq!(outside.rpc_code(), Some(-32602));
        for client in [all, only_a, by_type] {
            client.close().await.unwrap();
        }
    });
    let g = gw.metrics();
    let calls = |text: &str, tool: &str, status: &str| {
        sample(
            text,
            &format!("dcc_mcp_tool_calls_total{{status=\"{status}\",tool=\"{tool}\"}}"),
        )
    };
    let durations = |text: &str, tool: &str| {
        sample(
            text,
            &format!("dcc_mcp_tool_duration_seconds_count{{tool=\"{tool}\"}}"),
        )
    };
    assert_eq!(calls(&g, "a__echo", "success"), Some(6.0));
    assert_eq!(calls(&g, "a__fail", "error"), Some(1.0));
    assert_eq!(calls(&g, "b__echo", "success"), Some(4.0));
    assert_eq!(calls(&g, "<unknown>", "error"), Some(1.0));
    assert_eq!(durations(&g, "a__echo"), Some(6.0));
    assert_eq!(durations(&g, "a__fail"), Some(1.0));
    assert_eq!(durations(&g, "b__echo"), Some(4.0));
    let requests = |backend: &str, status: &str| {
        sample(
            &g,
            &format!(
                "dcc_mcp_gateway_backend_requests_total{{backend=\"{backend}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("a", "success"), Some(6.0));
    assert_eq!(requests("a", "error"), Some(1.0));
    assert_eq!(requests("b", "success"), Some(4.0));
    assert_eq!(requests("b", "failure"), Some(0.0));
    assert_eq!(
        sample(
            &g,
            "dcc_mcp_gateway_backend_duration_seconds_count{backend=\"a\"}"
        ),
        Some(7.0)
    );
    let (ma, mb) = (a.metrics(), b.metrics());
    assert_eq!(calls(&ma, "echo", "success"), Some(6.0));
    assert_eq!(calls(&ma, "fail", "error"), Some(1.0));
    assert_eq!(calls(&mb, "echo", "success"), Some(4.0));
    assert_eq!(calls(&mb, "<unknown>", "error"), Some(0.0));
    gw.shutdown();
    a.handle.shutdown().unwrap();
    b.handle.shutdown().unwrap();
}

#[test]
fn a_slow_backend_holds_only_its_own_slots() {
    let a = backend(&["echo"], 0);
    let (slow, gate) = gated_backend();
    let config = GatewayConfig {
        max_in_flight: 2,
        queue_wait: Duration::from_millis(200),
        ..static_config(&[("a", &a), ("slow", &slow)])
    };
    let gw = gateway(config, 2);
    let rt = runtime();
    rt.block_on(async {
        let client = Arc::new(
            McpClient::connect(ClientConfig::new(gw.url()))
                .await
                .unwrap(),
        );
        let stuck: Vec<_> = (0..2)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.call_tool("slow__wait", json!({})).await })
            })
            .collect();
        // Both slots of `slow` are taken …
        while gw.instance("slow")["in_flight"] != 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // … a third call to it is answered busy once its queue wait is over …
        let busy = client.call_tool("slow__wait", json!({})).await.unwrap();
        assert!(busy.is_error());
        assert!(
            busy.text().unwrap().contains("backend 'slow' is busy"),
            "{:?}",
            busy.text()
        );
        // … and `a` answers while `slow` still holds both calls.
        let echoed = client
            .call_tool("a__echo", json!({"text": "fast"}))
            .await
            .unwrap();
        assert_eq!(echoed.text(), Some("fast"));
        assert_eq!(gw.instance("slow")["in_flight"], 2);
        assert!(stuck.iter().all(|task| !task.is_finished()));
        gate.add_permits(2);
        for task in stuck {
            let done = task.await.unwrap().unwrap();
            assert_eq!(done.text(), Some("done"));
        }
    });
    let g = gw.metrics();
    let series = |name: &str| sample(&g, name);
    assert_eq!(
        series("dcc_mcp_gateway_backend_requests_total{backend=\"slow\",status=\"success\"}"),
        Some(2.0)
    );
    assert_eq!(
        series("dcc_mcp_gateway_backend_requests_total{backend=\"slow\",status=\"failure\"}"),
        Some(1.0)
    );
    assert_eq!(
        series("dcc_mcp_gateway_backend_errors_total{backend=\"slow\",kind=\"busy\"}"),
        Some(1.0)
    );
    assert_eq!(
        series("dcc_mcp_gateway_backend_requests_total{backend=\"a\",status=\"success\"}"),
        Some(1.0)
    );
    assert_eq!(gw.instance("slow")["in_flight"], 0);
    gw.shutdown();
    a.handle.shutdown().unwrap();
    slow.handle.shutdown().unwrap();
}

#[test]
fn a_call_past_the_backend_deadline_is_an_error_result_and_the_backend_hears_cancelled() {
    let (slow, _gate) = gated_backend();
    let config = GatewayConfig {
        call_timeout: Duration::from_millis(300),
        ..static_config(&[("slow", &slow)])
    };
    let gw = gateway(config, 1);
    runtime().block_on(async {
        let client = McpClient::connect(ClientConfig::new(gw.url()))
            .await
            .unwrap();
        let late = client.call_tool("slow__wait", json!({})).await.unwrap();
        assert!(late.is_error());
        let text = late.text().unwrap();
        assert!(
            text.starts_with("backend 'slow': no response from the MCP server within"),
            "{text}"
        );
    });
    let g = gw.metrics();
    assert_eq!(
        sample(
            &g,
            "dcc_mcp_gateway_backend_errors_total{backend=\"slow\",kind=\"timeout\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &g,
            "dcc_mcp_gateway_backend_requests_total{backend=\"slow\",status=\"failure\"}"
        ),
        Some(1.0)
    );
    // The backend saw the call end as cancelled (its in-flight call was dropped): an error there.
    wait_for("the backend to record the cancelled call", || {
        sample(
            &slow.metrics(),
            "dcc_mcp_tool_calls_total{status=\"error\",tool=\"wait\"}",
        ) == Some(1.0)
    });
    gw.shutdown();
    slow.handle.shutdown().unwrap();
}

#[test]
fn a_killed_backend_leaves_the_list_with_list_changed_and_comes_back() {
    let a = backend(&["echo"], 0);
    let b = backend(&["add", "fail"], 0);
    let b_port = b.port();
    let gw = gateway(static_config(&[("a", &a), ("b", &b)]), 2);
    let rt = runtime();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let callbacks = Callbacks::new().on_notification(move |method, _| {
        sink.lock().unwrap().push(method.to_owned());
    });
    let client = rt
        .block_on(McpClient::connect_with(
            ClientConfig::new(gw.url()),
            callbacks,
        ))
        .unwrap();
    assert_eq!(
        client.server_info()["capabilities"]["tools"]["listChanged"],
        json!(true)
    );
    let listed = |client: &McpClient| names(&rt.block_on(client.list_all_tools()).unwrap());
    assert!(listed(&client).contains(&"b__add".to_owned()));

    b.handle.shutdown().unwrap();
    let killed = Instant::now();
    wait_for("b's tools to leave tools/list", || {
        !listed(&client).iter().any(|n| n.starts_with("b__"))
    });
    let gone_after = killed.elapsed();
    println!("a stopped backend left tools/list after {gone_after:?}");
    wait_for("notifications/tools/list_changed", || {
        // The client reads its stream on `rt`: let it run.
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(10)).await });
        seen.lock()
            .unwrap()
            .iter()
            .any(|m| m == "notifications/tools/list_changed")
    });
    // The gauges are set just after the tools leave.
    wait_for("backends{state=down} to be 1", || {
        sample(&gw.metrics(), "dcc_mcp_gateway_backends{state=\"down\"}") == Some(1.0)
    });
    let g = gw.metrics();
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backend_up{backend=\"b\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backend_up{backend=\"a\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backends{state=\"down\"}"),
        Some(1.0)
    );
    assert_eq!(gw.instance("b")["state"], "down");
    assert!(gw.instance("b")["last_error"]
        .as_str()
        .unwrap()
        .contains("HTTP request"));
    let health: Value = serde_json::from_str(&http_get(gw.server.port(), "/health").1).unwrap();
    assert_eq!(
        health,
        json!({"status": "degraded", "backends_up": 1, "backends_down": 1})
    );
    // A call to a tool of the dead backend: a clear error, and the others still answer.
    let dead = rt
        .block_on(client.call_tool("b__add", json!({"a": 1, "b": 2})))
        .unwrap_err();
    assert_eq!(dead.rpc_code(), Some(-32602));
    assert!(
        dead.to_string().contains(
            "Unknown tool: b__add (backend 'b' is down: HTTP request to the MCP server failed"
        ),
        "{dead}"
    );
    let alive = rt
        .block_on(client.call_tool("a__echo", json!({"text": "still"})))
        .unwrap();
    assert_eq!(alive.text(), Some("still"));

    // The backend comes back on the same port: its tools are listed again.
    seen.lock().unwrap().clear();
    let b2 = backend(&["add", "fail"], b_port);
    wait_for("b's tools to come back", || {
        listed(&client).contains(&"b__add".to_owned())
    });
    wait_for("a second notifications/tools/list_changed", || {
        // The client reads its stream on `rt`: let it run.
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(10)).await });
        seen.lock()
            .unwrap()
            .iter()
            .any(|m| m == "notifications/tools/list_changed")
    });
    let sum = rt
        .block_on(client.call_tool("b__add", json!({"a": 1, "b": 2})))
        .unwrap();
    assert_eq!(sum.structured(), Some(&json!({"sum": 3.0})));
    assert_eq!(
        sample(&gw.metrics(), "dcc_mcp_gateway_backend_up{backend=\"b\"}"),
        Some(1.0)
    );
    rt.block_on(client.close()).unwrap();
    gw.shutdown();
    a.handle.shutdown().unwrap();
    b2.handle.shutdown().unwrap();
}

/// One progress report as the caller saw it: progress, total, message.
type Report = (f64, Option<f64>, Option<String>);

#[test]
fn progress_is_relayed_to_the_caller() {
    let (backend, gate) = progress_backend();
    let gw = gateway(static_config(&[("p", &backend)]), 1);
    runtime().block_on(async {
        let client = Arc::new(
            McpClient::connect(ClientConfig::new(gw.url()))
                .await
                .unwrap(),
        );
        let seen: Arc<Mutex<Vec<Report>>> = Arc::default();
        let sink = seen.clone();
        let options = RequestOptions::new().on_progress(move |p| {
            sink.lock().unwrap().push((p.progress, p.total, p.message));
        });
        let caller = client.clone();
        let call =
            tokio::spawn(
                async move { caller.call_tool_with("p__steps", json!({}), options).await },
            );
        // The tool holds its answer until both reports reached the caller through the gateway.
        let waiting = Instant::now();
        while seen.lock().unwrap().len() < 2 {
            assert!(!call.is_finished());
            assert!(
                waiting.elapsed() < HANG_GUARD,
                "no progress reached the caller"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        gate.add_permits(1);
        let result = call.await.unwrap().unwrap();
        assert_eq!(result.text(), Some("stepped"));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (1.0, Some(2.0), Some("one".to_owned())),
                (2.0, Some(2.0), Some("two".to_owned()))
            ]
        );
    });
    gw.shutdown();
    backend.handle.shutdown().unwrap();
}

#[test]
fn a_caller_cancelling_cancels_the_upstream_call_and_it_is_counted_once() {
    let (slow, _gate) = gated_backend();
    let gw = gateway(static_config(&[("slow", &slow)]), 1);
    runtime().block_on(async {
        let client = Arc::new(
            McpClient::connect(ClientConfig::new(gw.url()))
                .await
                .unwrap(),
        );
        let token = CancellationToken::new();
        let options = RequestOptions::new().cancel_with(token.clone());
        let caller = client.clone();
        let call = tokio::spawn(async move {
            caller
                .call_tool_with("slow__wait", json!({}), options)
                .await
        });
        while gw.instance("slow")["in_flight"] != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        token.cancel();
        let outcome = call.await.unwrap();
        assert!(
            matches!(outcome, Err(ClientError::Cancelled)),
            "{outcome:?}"
        );
        // The client's notifications/cancelled and the rest of its exchange run on this runtime:
        // wait here, inside it.
        let counted = |text: &str, series: &str| sample(text, series) == Some(1.0);
        let waiting = Instant::now();
        while !counted(
            &slow.metrics(),
            "dcc_mcp_tool_calls_total{status=\"error\",tool=\"wait\"}",
        ) || !counted(
            &gw.metrics(),
            "dcc_mcp_tool_calls_total{status=\"error\",tool=\"slow__wait\"}",
        ) {
            assert!(
                waiting.elapsed() < HANG_GUARD,
                "the cancelled call was not counted"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let g = gw.metrics();
    assert_eq!(
        sample(
            &g,
            "dcc_mcp_gateway_backend_errors_total{backend=\"slow\",kind=\"cancelled\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &g,
            "dcc_mcp_gateway_backend_requests_total{backend=\"slow\",status=\"failure\"}"
        ),
        Some(1.0)
    );
    assert_eq!(gw.instance("slow")["in_flight"], 0);
    gw.shutdown();
    slow.handle.shutdown().unwrap();
}

#[test]
fn a_gateway_dropped_inside_an_async_runtime_does_not_panic() {
    let a = backend(&["echo"], 0);
    let gw = gateway(static_config(&[("a", &a)]), 1);
    let RunningGateway { server, gateway } = gw;
    runtime().block_on(async move {
        drop(gateway);
    });
    server.handle.shutdown().unwrap();
    a.handle.shutdown().unwrap();
}
