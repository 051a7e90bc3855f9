"""``dcc_mcp_core``'s server with an ``echo`` tool whose handler is a Python function: what a DCC
plug-in author gets. Used by the end-to-end benchmark (``./scripts/bench.sh --only e2e``; see
docs/benchmarks.md) next to the same server with a Rust handler.

    python benches/peers/dcc_python_server.py --port 18767 [--prometheus]
"""

import argparse
import signal

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry


def echo(arguments):
    return arguments.get("text", "")


def _stop(_signum, _frame):
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18767)
    ap.add_argument("--prometheus", action="store_true", help="also serve GET /metrics")
    args = ap.parse_args()
    registry = ToolRegistry()
    registry.register(
        "echo",
        description="Return the `text` argument unchanged.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    )
    server = McpHttpServer(registry, McpHttpConfig(port=args.port, host=args.host, enable_prometheus=args.prometheus))
    server.register_handler("echo", echo)
    with server.start() as handle:
        print(f"listening on {handle.mcp_url()}", flush=True)
        try:
            handle.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
