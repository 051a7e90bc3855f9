"""Serve MCP tools over MCP Streamable HTTP from a DCC host, with Prometheus metrics.

Quick start::

    from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

    registry = ToolRegistry()
    registry.register("echo", description="Echo the arguments back",
                      input_schema={"type": "object"})
    server = McpHttpServer(registry, McpHttpConfig(port=8765, enable_prometheus=True))
    server.register_handler("echo", lambda args: args)
    with server.start() as handle:
        print("MCP endpoint:", handle.mcp_url())
        handle.wait()          # Ctrl-C to stop

Everything runs in Rust (``dcc_mcp_core._core``): the server has its own thread and runtime, and Python
handlers are called on its worker threads with the GIL held only for the call itself. Inside a DCC,
give the configuration a ``MainThreadExecutor`` and pump it from the host's idle or timer callback:
handlers then run on the host's main thread (see docs/guide/python.md for Maya, Blender and Houdini).
``FEATURES`` lists the optional parts compiled into this build (``"workflow"`` for
``execution="async"`` tools, ``"prometheus"`` for ``GET /metrics``).
"""

from dcc_mcp_core._core import (
    FEATURES,
    MainThreadExecutor,
    McpHttpConfig,
    McpHttpServer,
    McpServerHandle,
    ToolContext,
    ToolRegistry,
    __version__,
)

__all__ = [
    "FEATURES",
    "MainThreadExecutor",
    "McpHttpConfig",
    "McpHttpServer",
    "McpServerHandle",
    "ToolContext",
    "ToolRegistry",
    "__version__",
]
