"""The official MCP Python SDK's Streamable HTTP server with one ``echo`` tool, for the end-to-end
benchmark (``./scripts/bench.sh --only e2e``; see docs/benchmarks.md).

Configured the way ``dcc-mcp-server`` serves: stateful sessions (``Mcp-Session-Id``), JSON responses
(``json_response=True``, no SSE stream per call), loopback only. Logging is at WARNING so uvicorn's
per-request access log does not count against the SDK (our server logs nothing per call either).

    python benches/peers/python_sdk_server.py --port 18766
"""

import argparse

from mcp.server.mcpserver import MCPServer


def build() -> MCPServer:
    server = MCPServer("python-sdk-echo", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return the `text` argument unchanged."""
        return text

    return server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18766)
    args = ap.parse_args()
    build().run("streamable-http", host=args.host, port=args.port, json_response=True, stateless_http=False)


if __name__ == "__main__":
    main()
