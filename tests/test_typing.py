"""The stubs are precise enough that `mypy --strict` accepts correct handlers and rejects wrong ones."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("mypy")

GOOD = """
from typing import Any, Callable, Dict, List

from dcc_mcp_core import Image, McpHttpConfig, McpHttpServer, ToolContext, ToolRegistry, ToolResult, Text

server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0, include_traceback=True))

@server.tool(title="Frame", annotations={"readOnlyHint": True})
def frame(ctx: ToolContext, node: str, step: int = 1) -> Dict[str, Any]:
    return {"node": node, "step": step, "tool": ctx.tool_name}

@server.tool(mime_type="image/png")
def snapshot() -> bytes:
    return b""

@server.tool()
def blocks() -> List[Image]:
    return [Image(b"", "image/png")]

@server.tool()
def full() -> ToolResult:
    return ToolResult([Text("x")], structured_content={"n": 1})

def plain(arguments: Dict[str, Any]) -> str:
    return "ok"

def with_context(arguments: Dict[str, Any], context: ToolContext) -> Dict[str, Any]:
    return {"cancelled": context.is_cancelled}

server.registry.register("plain", input_schema={"type": "object"})
server.register_handler("plain", plain)
server.register_handler("with_context", with_context, pass_context=True)
same: Callable[[ToolContext, str, int], Dict[str, Any]] = frame  # the decorator keeps the type

@server.resource("scene://nodes/{name}", mime_type="text/plain")
def node(name: str) -> str:
    return name

@server.resource("scene://thumbnail")
def thumbnail() -> Image:
    return Image(b"", "image/png")

@server.prompt(title="Clean up")
def cleanup(scene: str) -> List[Dict[str, Any]]:
    return [{"role": "user", "content": f"clean {scene}"}]

kept: Callable[[str], str] = node  # so does the resource decorator
config = McpHttpConfig(runtime_threads=None)
config.max_pending_client_requests = 4
"""

BAD = {
    "a resource returning a set": """
        from typing import Set
        @server.resource("scene://tags")
        def tags() -> Set[str]:
            return set()
    """,
    "a prompt returning an int": """
        @server.prompt()
        def count() -> int:
            return 1
    """,
    "runtime_threads as a string": """
        McpHttpConfig(runtime_threads="2")
    """,
    "an async def tool": """
        @server.tool()
        async def bake() -> str:
            return ""
    """,
    "a tool returning a set": """
        from typing import Set
        @server.tool()
        def tags() -> Set[str]:
            return set()
    """,
    "a two-argument handler without pass_context": """
        from typing import Any, Dict
        def h(arguments: Dict[str, Any], context: ToolContext) -> str:
            return ""
        server.register_handler("h", h)
    """,
    "a one-argument handler with pass_context=True": """
        from typing import Any, Dict
        def h(arguments: Dict[str, Any]) -> str:
            return ""
        server.register_handler("h", h, pass_context=True)
    """,
    "a handler taking an int": """
        def h(arguments: int) -> str:
            return ""
        server.register_handler("h", h)
    """,
    "an unknown annotation": """
        server.registry.register("x", annotations={"destructive": True})
    """,
    "a non-bool annotation": """
        server.registry.register("x", annotations={"readOnlyHint": "yes"})
    """,
    "a Mapping where a dict is needed": """
        from types import MappingProxyType
        server.registry.register("x", input_schema=MappingProxyType({"type": "object"}))
    """,
}

PRELUDE = """
from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolContext, ToolRegistry
server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0))
"""


def test_mypy_strict_accepts_correct_handlers_and_rejects_each_wrong_one(tmp_path):
    # One mypy run over every snippet (one file each): mypy is slow to start.
    files = {"good": GOOD}
    names = {}
    for index, what in enumerate(sorted(BAD)):
        names[f"bad_{index}"] = what
        files[f"bad_{index}"] = PRELUDE + textwrap.dedent(BAD[what])
    for stem, source in files.items():
        (tmp_path / f"{stem}.py").write_text(textwrap.dedent(source))
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / ".mypy_cache"))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *sorted(f"{s}.py" for s in files)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("good.py")], result.stdout + result.stderr
    accepted = [what for stem, what in names.items() if not any(e.startswith(f"{stem}.py:") for e in errors)]
    assert accepted == [], f"mypy --strict accepted: {accepted}\n{result.stdout}{result.stderr}"
    assert result.returncode == 1
