//! `rmcp-echo`: rmcp's Streamable HTTP server (on axum) with one `echo` tool — what a Rust gateway
//! author would build with the official Rust SDK — for the end-to-end benchmark next to
//! `dcc-mcp-server --demo-tools` (`./scripts/bench.sh --only e2e`, see docs/benchmarks.md).
//!
//! By default it keeps sessions (`Mcp-Session-Id`, rmcp's legacy session mode, the mode that matches
//! ours); rmcp then answers every request on a short SSE stream. `--stateless` serves each request
//! without a session and answers plain JSON (`json_response`), rmcp's cheapest configuration.
//!
//! ```text
//! rmcp-echo --port 18768 [--stateless]
//! ```

use axum::serve::ListenerExt;
use clap::Parser;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{schemars, tool, tool_handler, tool_router, ServerHandler};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "rmcp-echo", about = "rmcp Streamable HTTP echo server")]
struct Args {
    /// Interface to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// TCP port.
    #[arg(long, default_value_t = 18768)]
    port: u16,
    /// No sessions; JSON responses instead of one SSE stream per request.
    #[arg(long)]
    stateless: bool,
}

/// Arguments of `echo`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct EchoRequest {
    /// The text to return.
    text: String,
}

/// The server: one tool.
#[derive(Debug, Clone)]
struct Echo {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Echo {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Return the `text` argument unchanged.")]
    fn echo(&self, Parameters(EchoRequest { text }): Parameters<EchoRequest>) -> String {
        text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

async fn serve(args: Args) -> std::io::Result<()> {
    let config = StreamableHttpServerConfig::default()
        .with_sse_keep_alive(None)
        .with_legacy_session_mode(!args.stateless)
        .with_json_response(args.stateless);
    let service: StreamableHttpService<Echo, LocalSessionManager> =
        StreamableHttpService::new(|| Ok(Echo::new()), Default::default(), config);
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    println!(
        "rmcp-echo listening on http://{}/mcp",
        listener.local_addr()?
    );
    // TCP_NODELAY, as ours sets: without it the SSE response's small writes meet the client's
    // delayed ACK and every call waits ≈ 40 ms.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // Runs until killed (the benchmark sends SIGTERM).
    axum::serve(listener, router).await
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .and_then(|rt| rt.block_on(serve(args)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rmcp-echo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
