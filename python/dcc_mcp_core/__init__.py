"""Serve MCP tools over MCP Streamable HTTP from a DCC host, with Prometheus metrics.

Quick start::

    from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

    server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0, enable_prometheus=True))

    @server.tool(annotations={"readOnlyHint": True})
    def echo(text: str, times: int = 1) -> str:
        # Echo the text back.
        return text * times

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

from dcc_mcp_core._content import Audio, ContentBlock, Image, Text, ToolAnnotations, ToolResult
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
    "Audio",
    "ContentBlock",
    "FEATURES",
    "Image",
    "Text",
    "ToolAnnotations",
    "ToolResult",
    "MainThreadExecutor",
    "McpHttpConfig",
    "McpHttpServer",
    "McpServerHandle",
    "ToolContext",
    "ToolRegistry",
    "__version__",
]
