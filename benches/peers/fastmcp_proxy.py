"""FastMCP's proxy in front of one MCP backend, the peer of `dcc-mcp-server --gateway` in
scripts/bench_gateway.sh.

FastMCP 2.x spells it `FastMCP.as_proxy(url)`; 3.x and later `fastmcp.server.create_proxy(url)`
(`as_proxy` is gone). Either way every tool of the backend is served under its own name over
Streamable HTTP, and each proxied call is forwarded to the backend by FastMCP's client. Log level
WARNING, so uvicorn's access log does not count.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", required=True, help="the backend's MCP URL")
    args = parser.parse_args()
    try:
        from fastmcp.server import create_proxy
    except ImportError:  # FastMCP 2.x
        from fastmcp import FastMCP

        proxy = FastMCP.as_proxy(args.backend, name="fastmcp-proxy")
    else:
        proxy = create_proxy(args.backend, name="fastmcp-proxy")
    proxy.run(transport="http", host="127.0.0.1", port=args.port, log_level="warning", show_banner=False)


if __name__ == "__main__":
    main()
