//! Real peers for the gateway tests: backends and gateways are real `McpHttpServer`s on port 0, the
//! client is `dcc-mcp-client`, and `/metrics` is scraped over a real socket.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcc_mcp_gateway::{Gateway, GatewayConfig};
use dcc_mcp_http::{
    Handler, McpHttpConfig, McpHttpServer, McpServerHandle, ToolAnnotations, ToolContext,
    ToolError, ToolRegistry, ToolSpec,
};
use serde_json::{json, Value};

/// Turns a hang into a failure; no assertion depends on it.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// A running in-process server.
pub struct Running {
    pub handle: McpServerHandle,
    pub registry: ToolRegistry,
}

impl Running {
    pub fn url(&self) -> String {
        self.handle.mcp_url()
    }
    pub fn port(&self) -> u16 {
        self.handle.local_addr().port()
    }
    pub fn metrics(&self) -> String {
        http_get(self.port(), "/metrics").1
    }
}

fn echo(args: &Value) -> Result<Value, ToolError> {
    Ok(args["text"].clone())
}

fn add(args: &Value) -> Result<Value, ToolError> {
    let a = args["a"].as_f64().unwrap_or(0.0);
    let b = args["b"].as_f64().unwrap_or(0.0);
    Ok(json!({"sum": a + b}))
}

/// The tool specs the backends serve (echo carries every piece of metadata the gateway must keep).
pub fn spec(name: &str) -> ToolSpec {
    match name {
        "echo" => ToolSpec::new("echo")
            .description("Return `text`.")
            .title("Echo")
            .annotations(ToolAnnotations {
                read_only_hint: Some(true),
                open_world_hint: Some(false),
                ..Default::default()
            })
            .input_schema(json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            })),
        "add" => ToolSpec::new("add")
            .description("Add `a` and `b`.")
            .input_schema(json!({
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            }))
            .output_schema(json!({
                "type": "object",
                "properties": {"sum": {"type": "number"}},
                "required": ["sum"]
            })),
        "fail" => ToolSpec::new("fail").description("Always fails."),
        other => ToolSpec::new(other),
    }
}

/// A backend serving `tools` (any of echo, add, fail) with Prometheus on, on `port` (0: any).
pub fn backend(tools: &[&str], port: u16) -> Running {
    let registry = ToolRegistry::new();
    for name in tools {
        let f: fn(&Value) -> Result<Value, ToolError> = match *name {
            "echo" => echo,
            "add" => add,
            _ => |_| Err(ToolError::new("fail always fails")),
        };
        registry
            .register_with(
                spec(name),
                Handler::inline(move |args: Value, _: ToolContext| std::future::ready(f(&args))),
            )
            .unwrap();
    }
    start(registry, port)
}

/// Start a server over `registry` with Prometheus on.
pub fn start(registry: ToolRegistry, port: u16) -> Running {
    let config = McpHttpConfig {
        port,
        enable_prometheus: true,
        enable_process_metrics: false,
        ..Default::default()
    };
    let handle = McpHttpServer::new(registry.clone(), config)
        .unwrap()
        .start()
        .unwrap();
    Running { handle, registry }
}

/// A running gateway.
pub struct RunningGateway {
    pub server: Running,
    pub gateway: Option<Gateway>,
}

impl RunningGateway {
    pub fn url(&self) -> String {
        self.server.url()
    }
    pub fn metrics(&self) -> String {
        self.server.metrics()
    }
    pub fn instances(&self) -> Value {
        serde_json::from_str(&http_get(self.server.port(), "/instances").1).unwrap()
    }
    pub fn instance(&self, name: &str) -> Value {
        self.instances()["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }
    pub fn shutdown(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown();
        }
        self.server.handle.shutdown().unwrap();
    }
}

/// Start a gateway with `config` (Prometheus on) and wait until `backends_up` backends are up.
pub fn gateway(config: GatewayConfig, backends_up: usize) -> RunningGateway {
    let server_config = Gateway::server_config(
        McpHttpConfig {
            port: 0,
            enable_prometheus: true,
            enable_process_metrics: false,
            ..Default::default()
        },
        &config,
    );
    let registry = ToolRegistry::new();
    let mut server = McpHttpServer::new(registry.clone(), server_config).unwrap();
    let mut gateway = Gateway::attach(config, &mut server).unwrap();
    let handle = server.start().unwrap();
    gateway.start().unwrap();
    let running = RunningGateway {
        server: Running { handle, registry },
        gateway: Some(gateway),
    };
    // Up, with its tools registered (the count is set once they are).
    wait_for("backends up with their tools", || {
        let instances = running.instances();
        let ready = instances["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "up" && i["tools"].as_u64() > Some(0))
            .count();
        ready == backends_up
    });
    // The gauges are set just after the state changes.
    let up = Some(backends_up as f64);
    wait_for("the backends gauge", || {
        sample(&running.metrics(), "dcc_mcp_gateway_backends{state=\"up\"}") == up
    });
    running
}

/// `GET path` on loopback `port`: (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// The value of the sample line `series` (e.g. `x_total{a="b"}`) in an exposition; `None` if absent.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Poll `predicate` until it holds (fails after [`HANG_GUARD`]).
pub fn wait_for(what: &str, mut predicate: impl FnMut() -> bool) {
    let start = Instant::now();
    while !predicate() {
        assert!(start.elapsed() < HANG_GUARD, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A current-thread runtime for the client side of a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A tool whose calls wait until the gate is opened (`gate.add_permits`), then answer "done".
pub fn gated_backend() -> (Running, Arc<tokio::sync::Semaphore>) {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let registry = ToolRegistry::new();
    let waiting = gate.clone();
    registry
        .register_with(
            ToolSpec::new("wait"),
            Handler::inline(move |_: Value, _: ToolContext| {
                let gate = waiting.clone();
                async move {
                    let permit = gate
                        .acquire()
                        .await
                        .map_err(|e| ToolError::new(e.to_string()))?;
                    permit.forget();
                    Ok(json!("done"))
                }
            }),
        )
        .unwrap();
    (start(registry, 0), gate)
}

/// A tool `steps` that reports progress 1/2 and 2/2, then waits for the gate and answers "stepped".
pub fn progress_backend() -> (Running, Arc<tokio::sync::Semaphore>) {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let registry = ToolRegistry::new();
    let waiting = gate.clone();
    registry
        .register_with(
            ToolSpec::new("steps"),
            Handler::inline(move |_: Value, context: ToolContext| {
                let gate = waiting.clone();
                async move {
                    context.report_progress(1.0, Some(2.0), Some("one"));
                    context.report_progress(2.0, Some(2.0), Some("two"));
                    let permit = gate
                        .acquire()
                        .await
                        .map_err(|e| ToolError::new(e.to_string()))?;
                    permit.forget();
                    Ok(json!("stepped"))
                }
            }),
        )
        .unwrap();
    (start(registry, 0), gate)
}
