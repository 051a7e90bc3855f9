//! `dcc-mcp-server`: serve MCP tools over Streamable HTTP (and, with `--prometheus`, metrics at
//! `/metrics`) from the command line. With `--demo-tools` it serves `echo`, `add`, `fail`, `sleep`, `block`
//! and `blob`,
//! which is how the end-to-end tests and the benchmarks drive the server. With `--gateway` it serves
//! the tools of its backends instead (`--backend NAME=URL`, `--registry-dir DIR`); see
//! `docs/guide/gateway.md`.

mod conformance;
mod conformance_input;
mod conformance_stateless;
mod demo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dcc_mcp_http::{
    BasicAuth, BearerTokens, JwksSource, McpHttpConfig, McpHttpServer, OAuthConfig, ToolRegistry,
};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "dcc-mcp-server",
    version,
    about = "MCP Streamable HTTP server for DCC tools"
)]
struct Cli {
    /// Interface to bind (loopback by default; use 0.0.0.0 to accept remote clients).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// TCP port (0 picks a free port; the URL is printed on start).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Server name reported to clients.
    #[arg(long, default_value = "dcc-mcp")]
    server_name: String,
    /// Serve the demo tools echo, add, fail, sleep, block and blob.
    #[arg(long)]
    demo_tools: bool,
    /// Serve the fixture tools, resources and prompts of the MCP conformance suite
    /// (`test_simple_text`, `test://static-text`, `test_prompt_with_arguments`, …), for CI.
    #[arg(long)]
    conformance_fixtures: bool,
    /// Serve only this demo tool (repeatable; one of echo, add, fail, sleep, block, blob). Lets one
    /// binary play DCC hosts with different tool sets.
    #[arg(long = "demo-tool", value_name = "NAME", conflicts_with = "demo_tools",
          value_parser = clap::builder::PossibleValuesParser::new(demo::NAMES))]
    demo_tool: Vec<String>,
    /// Execution kind of the non-blocking demo tools (echo, add, fail): `inline` runs them on the
    /// I/O worker, `worker` on the blocking worker threads (to compare the two paths).
    #[arg(long, value_enum, default_value_t = demo::DemoHandlers::Inline, requires = "demo_tools")]
    demo_handlers: demo::DemoHandlers,
    /// Deadline of one synchronous tool call, in milliseconds.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_ms: Option<u64>,
    /// Most blocking (worker) handlers of sync calls running at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    sync_concurrency: Option<u64>,
    /// How long a sync call waits for a free worker before "server busy", in milliseconds.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    sync_queue_wait_ms: Option<u64>,
    /// Additional allowed Origin (repeatable); `*` allows any.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Serve Prometheus metrics at GET /metrics.
    #[arg(long)]
    prometheus: bool,
    /// Most MCP sessions alive at once (past it the least recently used idle one is evicted).
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,
    /// Most sessions one client address may hold.
    #[arg(long, value_name = "N")]
    max_sessions_per_client: Option<usize>,
    /// Most JSON-RPC messages in one batch POST.
    #[arg(long, value_name = "N")]
    max_batch_messages: Option<usize>,
    /// Most bytes of one response body.
    #[arg(long, value_name = "BYTES")]
    max_response_bytes: Option<usize>,
    /// Largest accepted request body in bytes.
    #[arg(long, value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// Most open client connections.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Most SSE streams open at once (default: half of --max-connections).
    #[arg(long, value_name = "N")]
    max_streams: Option<usize>,
    /// Most SSE streams one client address may hold (default: half of --max-streams).
    #[arg(long, value_name = "N")]
    max_streams_per_client: Option<usize>,
    /// Most open connections from one client address (default: 3/4 of --max-connections).
    #[arg(long, value_name = "N")]
    max_connections_per_client: Option<usize>,
    /// Most bytes of request bodies being read at once, across all connections.
    #[arg(long, value_name = "BYTES")]
    max_body_bytes_in_flight: Option<usize>,
    /// Most bytes of notifications all session outboxes hold together.
    #[arg(long, value_name = "BYTES")]
    max_outbox_bytes_total: Option<usize>,
    /// Seconds a session that never opened its GET stream keeps buffering notifications.
    #[arg(long, value_name = "SECONDS")]
    outbox_unattached_timeout: Option<f64>,
    /// Kernel send buffer (SO_SNDBUF) of a connection holding an SSE stream, in bytes.
    #[arg(long, value_name = "BYTES")]
    stream_send_buffer_bytes: Option<usize>,
    /// Seconds a keep-alive connection may stay silent between requests.
    #[arg(long, value_name = "SECONDS")]
    keep_alive_timeout: Option<f64>,
    /// Seconds a client may take to send its request headers.
    #[arg(long, value_name = "SECONDS")]
    header_read_timeout: Option<f64>,
    /// Seconds to read a whole request body once its headers arrived.
    #[arg(long, value_name = "SECONDS")]
    body_read_timeout: Option<f64>,
    /// Seconds a write may make no progress (client not reading) before the connection is closed.
    #[arg(long, value_name = "SECONDS")]
    write_timeout: Option<f64>,
    /// Seconds an idle session lives.
    #[arg(long, value_name = "SECONDS")]
    session_ttl: Option<f64>,
    /// Seconds a session's GET stream may send nothing before it is closed (the client reconnects
    /// with Last-Event-ID) [default: 300].
    #[arg(long, value_name = "SECONDS")]
    sse_idle_close: Option<f64>,
    /// Protect /metrics with HTTP Basic auth, given as USER:PASS (prefer --metrics-basic-auth-file).
    #[arg(
        long,
        value_name = "USER:PASS",
        conflicts_with = "metrics_basic_auth_file",
        requires = "prometheus"
    )]
    metrics_basic_auth: Option<String>,
    /// Read the /metrics Basic-auth USER:PASS from this file (first line).
    #[arg(long, value_name = "PATH", requires = "prometheus")]
    metrics_basic_auth_file: Option<PathBuf>,
    /// Leave the process_* metrics (CPU, memory, file descriptors; Linux only) out of /metrics.
    #[arg(long, requires = "prometheus")]
    no_process_metrics: bool,
    /// Give dcc_mcp_tool_duration_seconds native (sparse exponential) buckets besides its
    /// classic ones, in the protobuf exposition (Prometheus `--enable-feature=native-histograms`).
    #[arg(long, requires = "prometheus")]
    native_histograms: bool,
    /// Require `Authorization: Bearer <token>` on /mcp, with the tokens read from this file (one per
    /// line; blank lines and lines starting with # are ignored). /metrics keeps its own Basic auth.
    #[arg(long, value_name = "PATH")]
    bearer_token_file: Option<PathBuf>,
    #[command(flatten)]
    oauth: OAuthFlags,
    #[command(flatten)]
    jobs: JobBudgets,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// Gateway mode, and joining a gateway's discovery directory.
#[derive(Debug, clap::Args)]
struct GatewayArgs {
    /// Serve the tools of the backends (`--backend`, `--registry-dir`) as `NAME__tool` instead of
    /// tools of its own.
    #[arg(long, conflicts_with_all = ["demo_tools", "demo_tool", "conformance_fixtures"])]
    gateway: bool,
    /// A backend of the gateway, as NAME=URL (repeatable), e.g. maya-01=http://127.0.0.1:8765/mcp.
    #[arg(long = "backend", value_name = "NAME=URL", requires = "gateway",
          value_parser = dcc_mcp_gateway::BackendSpec::parse)]
    backends: Vec<dcc_mcp_gateway::BackendSpec>,
    /// Discovery directory. With --gateway: follow the hosts' entries there. Without: join it (write
    /// this server's entry and keep it fresh; see --instance-name and --dcc-type).
    #[arg(long, value_name = "DIR")]
    registry_dir: Option<PathBuf>,
    /// Seconds after which a discovery entry that was not refreshed expires [default: 10].
    #[arg(long, value_name = "SECONDS")]
    registry_ttl: Option<f64>,
    /// Name this server joins the discovery directory under [default: the server name].
    #[arg(
        long,
        value_name = "NAME",
        requires = "registry_dir",
        conflicts_with = "gateway"
    )]
    instance_name: Option<String>,
    /// DCC type written in this server's discovery entry (maya, blender, …).
    #[arg(
        long,
        value_name = "TYPE",
        requires = "registry_dir",
        conflicts_with = "gateway"
    )]
    dcc_type: Option<String>,
    /// Write a Prometheus file_sd file of the live backends here.
    #[arg(long, value_name = "PATH", requires = "gateway")]
    file_sd_out: Option<PathBuf>,
    /// Deadline of one proxied call to a backend, in milliseconds [default: 30000].
    #[arg(long, value_name = "MS", requires = "gateway", value_parser = clap::value_parser!(u64).range(1..))]
    backend_timeout_ms: Option<u64>,
    /// Most calls in flight to one backend [default: 64].
    #[arg(long, value_name = "N", requires = "gateway")]
    backend_max_in_flight: Option<usize>,
    /// Milliseconds a call waits for a free slot of its backend's budget before "busy" [default: 5000].
    #[arg(long, value_name = "MS", requires = "gateway", value_parser = clap::value_parser!(u64).range(1..))]
    backend_queue_wait_ms: Option<u64>,
    /// Milliseconds between two health probes of a backend [default: 1000].
    #[arg(long, value_name = "MS", requires = "gateway", value_parser = clap::value_parser!(u64).range(1..))]
    probe_interval_ms: Option<u64>,
    /// Most backends at once (bounds the `backend` metric label) [default: 256].
    #[arg(long, value_name = "N", requires = "gateway")]
    max_backends: Option<usize>,
    /// A key file shared by the gateway's replicas (32 or more bytes): session ids become tokens
    /// authenticated with it, so any replica serves any session (no sticky sessions).
    #[arg(long, value_name = "PATH", requires = "gateway")]
    session_key_file: Option<PathBuf>,
}

impl GatewayArgs {
    /// The gateway configuration these flags describe.
    fn config(&self) -> Result<dcc_mcp_gateway::GatewayConfig, String> {
        let mut config = dcc_mcp_gateway::GatewayConfig {
            backends: self.backends.clone(),
            registry_dir: self.registry_dir.clone(),
            file_sd_out: self.file_sd_out.clone(),
            session_key_file: self.session_key_file.clone(),
            ..Default::default()
        };
        if let Some(ms) = self.backend_timeout_ms {
            config.call_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = self.backend_queue_wait_ms {
            config.queue_wait = Duration::from_millis(ms);
        }
        if let Some(ms) = self.probe_interval_ms {
            config.probe_interval = Duration::from_millis(ms);
        }
        if let Some(n) = self.backend_max_in_flight {
            config.max_in_flight = n;
        }
        if let Some(n) = self.max_backends {
            config.max_backends = n;
        }
        config.registry_ttl = self.ttl()?;
        config.validate().map_err(|error| error.to_string())?;
        Ok(config)
    }

    fn ttl(&self) -> Result<Duration, String> {
        match self.registry_ttl {
            None => Ok(dcc_mcp_gateway::GatewayConfig::default().registry_ttl),
            Some(seconds) => Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    format!("--registry-ttl must be a positive number of seconds, got {seconds}")
                }),
        }
    }
}

/// /mcp as an OAuth 2.1 resource server (all of issuer, JWKS and audience, or none).
#[derive(Debug, clap::Args)]
struct OAuthFlags {
    /// Accept JWT access tokens from this issuer on /mcp (`iss` must equal it).
    #[arg(long, value_name = "ISSUER", requires_all = ["oauth_jwks", "oauth_audience"])]
    oauth_issuer: Option<String>,
    /// The issuer's signing keys: a JWKS file, or an http:// URL (fetched, cached, re-read on an
    /// unknown key id at most once per --oauth-jwks-refresh-interval).
    #[arg(long, value_name = "FILE_OR_URL", requires = "oauth_issuer")]
    oauth_jwks: Option<String>,
    /// The audience every token's `aud` must hold (usually this server's /mcp URL).
    #[arg(long, value_name = "AUDIENCE", requires = "oauth_issuer")]
    oauth_audience: Option<String>,
    /// A scope every token must grant (repeatable); a token without it gets 403 insufficient_scope.
    #[arg(
        long = "oauth-required-scope",
        value_name = "SCOPE",
        requires = "oauth_issuer"
    )]
    oauth_required_scopes: Vec<String>,
    /// This server's public /mcp URL, named in the RFC 9728 metadata [default: the audience if it
    /// is a URL, else http://<Host>/mcp].
    #[arg(long, value_name = "URL", requires = "oauth_issuer")]
    oauth_resource: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS", requires = "oauth_issuer")]
    oauth_leeway: Option<u64>,
    /// Shortest time between two JWKS re-reads for unknown key ids, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS", requires = "oauth_issuer")]
    oauth_jwks_refresh_interval: Option<u64>,
}

impl OAuthFlags {
    /// The OAuth configuration, when `--oauth-issuer` is given (validation happens in
    /// `McpHttpServer::new`).
    fn config(&self) -> Option<OAuthConfig> {
        let issuer = self.oauth_issuer.as_ref()?;
        let mut config = OAuthConfig::new(
            issuer.clone(),
            self.oauth_audience.clone().unwrap_or_default(),
            JwksSource::parse(self.oauth_jwks.as_deref().unwrap_or_default()),
        );
        config.required_scopes = self.oauth_required_scopes.clone();
        config.resource = self.oauth_resource.clone();
        if let Some(secs) = self.oauth_leeway {
            config.leeway = Duration::from_secs(secs);
        }
        if let Some(secs) = self.oauth_jwks_refresh_interval {
            config.jwks_refresh_interval = Duration::from_secs(secs);
        }
        Some(config)
    }
}

/// Job budgets; each flag left out keeps the `McpHttpConfig` default.
#[derive(Debug, clap::Args)]
struct JobBudgets {
    /// Async jobs that may wait for a worker [default: 64].
    #[arg(long, value_name = "N")]
    job_queue_capacity: Option<usize>,
    /// Async jobs running at once [default: 4].
    #[arg(long, value_name = "N")]
    job_concurrency: Option<usize>,
    /// Queued plus running jobs of one session [default: 16].
    #[arg(long, value_name = "N")]
    max_jobs_per_session: Option<usize>,
    /// Cancel a job still queued or running this many seconds after it was created [default: none].
    #[arg(long, value_name = "SECONDS")]
    job_deadline: Option<f64>,
    /// Largest job result kept, in bytes [default: 4194304].
    #[arg(long, value_name = "BYTES")]
    max_job_result_bytes: Option<usize>,
    /// Finished jobs kept for jobs.get [default: 1000].
    #[arg(long, value_name = "N")]
    max_finished_jobs: Option<usize>,
    /// Bytes of results kept by finished jobs [default: 67108864].
    #[arg(long, value_name = "BYTES")]
    max_finished_job_bytes: Option<usize>,
    /// Largest result a completion notification carries, in bytes [default: 65536].
    #[arg(long, value_name = "BYTES")]
    max_notification_result_bytes: Option<usize>,
    /// Bytes of notifications a session's outbox holds [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    max_outbox_bytes: Option<usize>,
    /// Unanswered requests to the client (elicitation, sampling, roots) per session [default: 16].
    #[arg(long, value_name = "N")]
    max_pending_client_requests: Option<usize>,
    /// Handler log messages per second per session (2026-07-28: per request) [default: 100].
    #[arg(long, value_name = "N")]
    max_log_messages_per_sec: Option<u32>,
    /// Largest 2026-07-28 requestState accepted or returned, in bytes [default: 65536].
    #[arg(long, value_name = "BYTES")]
    max_request_state_bytes: Option<usize>,
}

impl JobBudgets {
    /// Set the given budgets on `config` (validation happens in `McpHttpServer::new`).
    fn apply(&self, config: &mut McpHttpConfig) -> Result<(), String> {
        let fields = [
            (&mut config.job_queue_capacity, self.job_queue_capacity),
            (&mut config.job_concurrency, self.job_concurrency),
            (&mut config.max_jobs_per_session, self.max_jobs_per_session),
            (&mut config.max_job_result_bytes, self.max_job_result_bytes),
            (&mut config.max_finished_jobs, self.max_finished_jobs),
            (
                &mut config.max_finished_job_bytes,
                self.max_finished_job_bytes,
            ),
            (
                &mut config.max_notification_result_bytes,
                self.max_notification_result_bytes,
            ),
            (&mut config.max_outbox_bytes, self.max_outbox_bytes),
            (
                &mut config.max_pending_client_requests,
                self.max_pending_client_requests,
            ),
            (
                &mut config.max_request_state_bytes,
                self.max_request_state_bytes,
            ),
        ];
        if let Some(rate) = self.max_log_messages_per_sec {
            config.max_log_messages_per_sec = rate;
        }
        for (field, value) in fields {
            if let Some(value) = value {
                *field = value;
            }
        }
        if let Some(seconds) = self.job_deadline {
            let deadline = std::time::Duration::try_from_secs_f64(seconds).map_err(|_| {
                format!("--job-deadline must be a positive number of seconds, got {seconds}")
            })?;
            config.job_deadline = Some(deadline);
        }
        Ok(())
    }
}

fn parse_credentials(text: &str) -> Result<BasicAuth, String> {
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    match line.split_once(':') {
        Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
            Ok(BasicAuth::new(user, pass))
        }
        _ => Err("Basic-auth credentials must look like USER:PASS (both non-empty)".to_owned()),
    }
}

fn config_from(cli: &Cli) -> Result<McpHttpConfig, String> {
    let prometheus_basic_auth = match (&cli.metrics_basic_auth, &cli.metrics_basic_auth_file) {
        (Some(inline), _) => Some(parse_credentials(inline)?),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            Some(parse_credentials(&text)?)
        }
        (None, None) => None,
    };
    let bearer_tokens = match &cli.bearer_token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            let tokens = BearerTokens::parse(&text);
            if tokens.is_empty() {
                return Err(format!("{} holds no bearer token", path.display()));
            }
            tokens
        }
        None => BearerTokens::default(),
    };
    let defaults = McpHttpConfig::default();
    let millis = |ms: Option<u64>, default| ms.map_or(default, Duration::from_millis);
    let mut config = McpHttpConfig {
        request_timeout: millis(cli.request_timeout_ms, defaults.request_timeout),
        sync_concurrency: cli.sync_concurrency.map_or(defaults.sync_concurrency, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        }),
        sync_queue_wait: millis(cli.sync_queue_wait_ms, defaults.sync_queue_wait),
        host: cli.host.clone(),
        port: cli.port,
        server_name: cli.server_name.clone(),
        allowed_origins: cli.allowed_origins.clone(),
        enable_prometheus: cli.prometheus,
        prometheus_basic_auth,
        enable_process_metrics: !cli.no_process_metrics,
        native_histograms: cli.native_histograms,
        bearer_tokens,
        oauth: cli.oauth.config(),
        ..defaults
    };
    let counts = [
        (cli.max_sessions, &mut config.max_sessions),
        (
            cli.max_sessions_per_client,
            &mut config.max_sessions_per_client,
        ),
        (cli.max_batch_messages, &mut config.max_batch_messages),
        (cli.max_response_bytes, &mut config.max_response_bytes),
        (cli.max_body_bytes, &mut config.max_body_bytes),
        (cli.max_connections, &mut config.max_connections),
        (
            cli.max_body_bytes_in_flight,
            &mut config.max_body_bytes_in_flight,
        ),
        (
            cli.max_outbox_bytes_total,
            &mut config.max_outbox_bytes_total,
        ),
        (
            cli.stream_send_buffer_bytes,
            &mut config.stream_send_buffer_bytes,
        ),
    ];
    for (value, field) in counts {
        if let Some(value) = value {
            *field = value;
        }
    }
    config.max_streams = cli.max_streams.or(config.max_streams);
    config.max_streams_per_client = cli.max_streams_per_client.or(config.max_streams_per_client);
    config.max_connections_per_client = cli
        .max_connections_per_client
        .or(config.max_connections_per_client);
    let durations = [
        (
            "--header-read-timeout",
            cli.header_read_timeout,
            &mut config.header_read_timeout,
        ),
        (
            "--body-read-timeout",
            cli.body_read_timeout,
            &mut config.body_read_timeout,
        ),
        (
            "--write-timeout",
            cli.write_timeout,
            &mut config.write_timeout,
        ),
        ("--session-ttl", cli.session_ttl, &mut config.session_ttl),
        (
            "--sse-idle-close",
            cli.sse_idle_close,
            &mut config.sse_idle_close,
        ),
        (
            "--keep-alive-timeout",
            cli.keep_alive_timeout,
            &mut config.keep_alive_timeout,
        ),
        (
            "--outbox-unattached-timeout",
            cli.outbox_unattached_timeout,
            &mut config.outbox_unattached_timeout,
        ),
    ];
    for (flag, value, field) in durations {
        if let Some(seconds) = value {
            *field = Duration::try_from_secs_f64(seconds).map_err(|_| {
                format!("{flag} must be a non-negative number of seconds, got {seconds}")
            })?;
        }
    }
    cli.jobs.apply(&mut config)?;
    Ok(config)
}

/// Print a status line; a closed stdout (the parent went away) must not abort a graceful shutdown.
fn say(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// `--gateway`: serve the backends' tools until a signal.
fn run_gateway(cli: &Cli, config: McpHttpConfig) -> Result<(), String> {
    let gateway_config = cli.gateway.config()?;
    let config = dcc_mcp_gateway::Gateway::server_config(config, &gateway_config);
    let mut server =
        McpHttpServer::new(ToolRegistry::new(), config).map_err(|error| error.to_string())?;
    let mut gateway = dcc_mcp_gateway::Gateway::attach(gateway_config, &mut server)
        .map_err(|error| error.to_string())?;
    let handle = server.start().map_err(|error| error.to_string())?;
    gateway.start().map_err(|error| error.to_string())?;
    say(&format!(
        "dcc-mcp-server gateway listening on {}",
        handle.mcp_url()
    ));
    if cli.prometheus && cfg!(feature = "prometheus") {
        say(&format!("metrics at {}", handle.metrics_url()));
    }
    wait_for_signal()?;
    tracing::info!("shutting down");
    gateway.shutdown();
    handle.shutdown().map_err(|error| error.to_string())?;
    say("dcc-mcp-server stopped");
    Ok(())
}

fn wait_for_signal() -> Result<(), String> {
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot set up signal handling: {error}"))?;
    signals.block_on(shutdown_signal());
    Ok(())
}

/// Join the discovery directory, when one is named: this server's entry, kept fresh until stop.
fn join_registry(cli: &Cli, mcp_url: &str) -> Result<Option<dcc_mcp_gateway::Heartbeat>, String> {
    let Some(dir) = &cli.gateway.registry_dir else {
        return Ok(None);
    };
    let name = cli
        .gateway
        .instance_name
        .clone()
        .unwrap_or_else(|| cli.server_name.clone());
    dcc_mcp_gateway::names::check_backend_name(&name).map_err(|error| error.to_string())?;
    let entry = dcc_mcp_gateway::RegistryEntry::new(
        &name,
        cli.gateway.dcc_type.as_deref(),
        mcp_url,
        Some(env!("CARGO_PKG_VERSION")),
    );
    let interval = (cli.gateway.ttl()? / 3).max(Duration::from_millis(100));
    let heartbeat = dcc_mcp_gateway::Heartbeat::start(dir, entry, interval)
        .map_err(|error| format!("cannot write to {}: {error}", dir.display()))?;
    say(&format!("joined {} as {name}", dir.display()));
    Ok(Some(heartbeat))
}

fn run(cli: Cli) -> Result<(), String> {
    let mut config = config_from(&cli)?;
    if cli.gateway.gateway {
        return run_gateway(&cli, config);
    }
    let registry = ToolRegistry::new();
    if cli.conformance_fixtures {
        conformance::register_tools(&registry)?;
        config.catalog = conformance::catalog()?;
        conformance_stateless::register_tools(&registry, &config.catalog)?;
    }
    if cli.demo_tools {
        demo::register(&registry, cli.demo_handlers).map_err(|error| error.to_string())?;
    } else {
        let only: Vec<&str> = cli.demo_tool.iter().map(String::as_str).collect();
        demo::register_only(&registry, cli.demo_handlers, &only)
            .map_err(|error| error.to_string())?;
    }
    let server = McpHttpServer::new(registry, config).map_err(|error| error.to_string())?;
    let handle = server.start().map_err(|error| error.to_string())?;
    say(&format!("dcc-mcp-server listening on {}", handle.mcp_url()));
    if cli.prometheus && cfg!(feature = "prometheus") {
        say(&format!("metrics at {}", handle.metrics_url()));
    } else if cli.prometheus {
        tracing::warn!("built without the `prometheus` feature: GET /metrics answers 404");
    }
    let heartbeat = join_registry(&cli, &handle.mcp_url())?;
    wait_for_signal()?;
    tracing::info!("shutting down");
    // Leave the discovery directory first, so the gateway stops routing here.
    drop(heartbeat);
    handle.shutdown().map_err(|error| error.to_string())?;
    say("dcc-mcp-server stopped");
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dcc-mcp-server: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse() {
        let auth = parse_credentials("scraper:pa:ss\n").unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("scraper", "pa:ss")
        );
        assert!(parse_credentials("nocolon").is_err());
        assert!(parse_credentials(":pass").is_err());
    }

    #[test]
    fn cli_maps_to_config() {
        let cli = Cli::parse_from([
            "dcc-mcp-server",
            "--port",
            "0",
            "--server-name",
            "maya",
            "--prometheus",
            "--metrics-basic-auth",
            "u:p",
        ]);
        let config = config_from(&cli).unwrap();
        assert_eq!(config.port, 0);
        assert_eq!(config.server_name, "maya");
        assert!(config.enable_prometheus);
        assert_eq!(config.prometheus_basic_auth, Some(BasicAuth::new("u", "p")));
        assert_eq!(config.job_deadline, None);
        assert_eq!(
            config.max_jobs_per_session,
            McpHttpConfig::default().max_jobs_per_session
        );
        assert!(config.enable_process_metrics);
        let cli = Cli::parse_from(["dcc-mcp-server", "--prometheus", "--no-process-metrics"]);
        assert!(!config_from(&cli).unwrap().enable_process_metrics);
        assert!(!config.native_histograms);
        let cli = Cli::parse_from(["dcc-mcp-server", "--prometheus", "--native-histograms"]);
        assert!(config_from(&cli).unwrap().native_histograms);
    }

    #[test]
    fn oauth_flags_map_to_config() {
        let cli = Cli::parse_from([
            "dcc-mcp-server",
            "--oauth-issuer",
            "https://as.example",
            "--oauth-jwks",
            "http://127.0.0.1:9/jwks.json",
            "--oauth-audience",
            "https://mcp.example/mcp",
            "--oauth-required-scope",
            "mcp:tools",
            "--oauth-required-scope",
            "mcp:read",
            "--oauth-leeway",
            "5",
        ]);
        let oauth = config_from(&cli).unwrap().oauth.unwrap();
        assert_eq!(oauth.issuer, "https://as.example");
        assert_eq!(
            oauth.jwks,
            JwksSource::Url("http://127.0.0.1:9/jwks.json".into())
        );
        assert_eq!(oauth.required_scopes, ["mcp:tools", "mcp:read"]);
        assert_eq!(oauth.leeway, Duration::from_secs(5));
        assert_eq!(oauth.resource, None);
        assert!(config_from(&Cli::parse_from(["dcc-mcp-server"]))
            .unwrap()
            .oauth
            .is_none());
        // The issuer needs the keys and the audience.
        assert!(Cli::try_parse_from(["dcc-mcp-server", "--oauth-issuer", "x"]).is_err());
        assert!(Cli::try_parse_from(["dcc-mcp-server", "--oauth-audience", "x"]).is_err());
    }

    #[test]
    fn bearer_token_file_maps_to_config() {
        let dir = std::env::temp_dir().join(format!("dcc-mcp-bearer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tokens");
        std::fs::write(&file, "# studio tokens\n\ntok-1\n  tok-2  \n").unwrap();
        let arg = file.to_str().unwrap();
        let cli = Cli::parse_from(["dcc-mcp-server", "--bearer-token-file", arg]);
        let config = config_from(&cli).unwrap();
        assert_eq!(config.bearer_tokens.tokens(), ["tok-1", "tok-2"]);
        std::fs::write(&file, "# nothing\n").unwrap();
        let cli = Cli::parse_from(["dcc-mcp-server", "--bearer-token-file", arg]);
        assert!(config_from(&cli)
            .unwrap_err()
            .contains("holds no bearer token"));
        let cli = Cli::parse_from(["dcc-mcp-server"]);
        assert!(config_from(&cli).unwrap().bearer_tokens.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn connection_and_memory_budget_flags_map_to_config() {
        let cli = Cli::parse_from([
            "dcc-mcp-server",
            "--max-connections",
            "100",
            "--max-streams",
            "40",
            "--max-streams-per-client",
            "10",
            "--max-connections-per-client",
            "50",
            "--max-body-bytes-in-flight",
            "8000000",
            "--max-outbox-bytes-total",
            "9000000",
            "--outbox-unattached-timeout",
            "2.5",
            "--stream-send-buffer-bytes",
            "32768",
            "--keep-alive-timeout",
            "20",
            "--sse-idle-close",
            "0.5",
        ]);
        let config = config_from(&cli).unwrap();
        assert_eq!(config.max_connections, 100);
        assert_eq!(config.max_streams, Some(40));
        assert_eq!(config.max_streams_per_client, Some(10));
        assert_eq!(config.max_connections_per_client, Some(50));
        assert_eq!(config.max_body_bytes_in_flight, 8_000_000);
        assert_eq!(config.max_outbox_bytes_total, 9_000_000);
        assert_eq!(
            config.outbox_unattached_timeout,
            Duration::from_millis(2500)
        );
        assert_eq!(config.stream_send_buffer_bytes, 32768);
        assert_eq!(config.keep_alive_timeout, Duration::from_secs(20));
        assert_eq!(config.sse_idle_close, Duration::from_millis(500));
        // Without the flags: the library's defaults.
        let config = config_from(&Cli::parse_from(["dcc-mcp-server"])).unwrap();
        let defaults = McpHttpConfig::default();
        assert_eq!(config.sse_idle_close, defaults.sse_idle_close);
        assert_eq!(config.max_streams, defaults.max_streams);
        assert_eq!(config.keep_alive_timeout, defaults.keep_alive_timeout);
        let cli = Cli::parse_from(["dcc-mcp-server", "--sse-idle-close=-1"]);
        assert_eq!(
            config_from(&cli).unwrap_err(),
            "--sse-idle-close must be a non-negative number of seconds, got -1"
        );
    }

    #[test]
    fn job_budget_flags_map_to_config() {
        let cli = Cli::parse_from([
            "dcc-mcp-server",
            "--job-concurrency",
            "3",
            "--max-jobs-per-session",
            "2",
            "--job-deadline",
            "1.5",
            "--max-job-result-bytes",
            "1000",
            "--max-outbox-bytes",
            "5000",
            "--max-pending-client-requests",
            "3",
            "--max-log-messages-per-sec",
            "7",
            "--max-request-state-bytes",
            "4096",
        ]);
        let config = config_from(&cli).unwrap();
        assert_eq!(config.job_concurrency, 3);
        assert_eq!(config.max_jobs_per_session, 2);
        assert_eq!(
            config.job_deadline,
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(config.max_job_result_bytes, 1000);
        assert_eq!(config.max_outbox_bytes, 5000);
        assert_eq!(config.max_pending_client_requests, 3);
        assert_eq!(config.max_log_messages_per_sec, 7);
        assert_eq!(config.max_request_state_bytes, 4096);
        let cli = Cli::parse_from(["dcc-mcp-server", "--job-deadline=-1"]);
        assert_eq!(
            config_from(&cli).unwrap_err(),
            "--job-deadline must be a positive number of seconds, got -1"
        );
    }

    #[test]
    fn gateway_flags_map_to_the_gateway_config() {
        let cli = Cli::parse_from([
            "dcc-mcp-server",
            "--gateway",
            "--backend",
            "a=http://127.0.0.1:1/mcp",
            "--backend",
            "b=http://127.0.0.1:2/mcp",
            "--backend-timeout-ms",
            "1500",
            "--backend-max-in-flight",
            "3",
            "--backend-queue-wait-ms",
            "20",
            "--probe-interval-ms",
            "250",
            "--max-backends",
            "8",
            "--registry-ttl",
            "2.5",
            "--session-key-file",
            "/run/secrets/gateway-key",
        ]);
        let config = cli.gateway.config().unwrap();
        let names: Vec<&str> = config.backends.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(config.backends[1].url, "http://127.0.0.1:2/mcp");
        assert_eq!(config.call_timeout, Duration::from_millis(1500));
        assert_eq!(config.max_in_flight, 3);
        assert_eq!(config.queue_wait, Duration::from_millis(20));
        assert_eq!(config.probe_interval, Duration::from_millis(250));
        assert_eq!(config.max_backends, 8);
        assert_eq!(config.registry_ttl, Duration::from_millis(2500));
        assert_eq!(
            config.session_key_file.as_deref(),
            Some(std::path::Path::new("/run/secrets/gateway-key"))
        );
        let twice = Cli::parse_from([
            "dcc-mcp-server",
            "--gateway",
            "--backend",
            "a=http://127.0.0.1:1/mcp",
            "--backend",
            "a=http://127.0.0.1:2/mcp",
        ]);
        assert_eq!(
            twice.gateway.config().unwrap_err(),
            "backend a is named twice"
        );
        assert!(Cli::try_parse_from(["dcc-mcp-server", "--backend", "a=http://x/mcp"]).is_err());
        assert!(Cli::try_parse_from([
            "dcc-mcp-server",
            "--gateway",
            "--backend",
            "a__b=http://x/mcp"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["dcc-mcp-server", "--gateway", "--demo-tools"]).is_err());
        assert!(Cli::try_parse_from(["dcc-mcp-server", "--instance-name", "maya-01"]).is_err());
    }

    #[test]
    fn demo_tool_is_repeatable_and_checked() {
        let cli = Cli::parse_from([
            "dcc-mcp-server",
            "--demo-tool",
            "echo",
            "--demo-tool",
            "sleep",
        ]);
        assert_eq!(cli.demo_tool, ["echo", "sleep"]);
        assert!(Cli::try_parse_from(["dcc-mcp-server", "--demo-tool", "nope"]).is_err());
        assert!(
            Cli::try_parse_from(["dcc-mcp-server", "--demo-tools", "--demo-tool", "echo"]).is_err()
        );
    }
}
