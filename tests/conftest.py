"""Shared helpers for the Python suite: servers on ephemeral ports that are always shut down, calls
through the official MCP Python client, and scrapes that are always checked with prometheus-client's
parser."""

from __future__ import annotations

import asyncio
import builtins
import os
import signal
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dcc_mcp_core import FEATURES, McpHttpConfig, McpHttpServer, McpServerHandle, ToolRegistry

import dcc_mcp_core

# scripts/test.sh runs this suite against the wheel installed in a fresh virtual environment and
# names that environment here: importing the checkout's python/ sources instead is an error.
_EXPECTED_PREFIX = os.environ.get("DCC_MCP_EXPECT_INSTALLED_IN")
if _EXPECTED_PREFIX:
    _imported = Path(dcc_mcp_core._core.__file__).resolve()
    if not _imported.is_relative_to(Path(_EXPECTED_PREFIX).resolve()):
        raise pytest.UsageError(
            f"dcc_mcp_core was imported from {_imported}, not from the wheel installed in {_EXPECTED_PREFIX}"
        )

HAS_PROMETHEUS = "prometheus" in FEATURES
HAS_WORKFLOW = "workflow" in FEATURES

#: `tools/list` (and so `dcc_mcp_registered_tools`) also counts the built-in job tools
#: `jobs.get`, `jobs.list`, `jobs.cancel` when the build has `workflow`.
BUILTIN_TOOLS = 3 if HAS_WORKFLOW else 0

needs_prometheus = pytest.mark.skipif(not HAS_PROMETHEUS, reason="built without the `prometheus` feature")
needs_workflow = pytest.mark.skipif(not HAS_WORKFLOW, reason="built without the `workflow` feature")

#: Upper bound for anything that waits on the server. It only turns a hang into a failure; no
#: assertion depends on how fast anything is.
HANG_GUARD_SECONDS = 60.0

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REALM_HEADER = 'Basic realm="dcc-mcp metrics"'
NINE_FAMILIES = {
    # family name as exposed (prometheus-client strips `_total` from counter family names; we compare
    # the names that appear in `# TYPE` lines instead, see `Scrape.types`).
    "dcc_mcp_tool_calls_total": "counter",
    "dcc_mcp_tool_duration_seconds": "histogram",
    "dcc_mcp_jobs_in_flight": "gauge",
    "dcc_mcp_job_created_total": "counter",
    "dcc_mcp_job_wait_seconds": "histogram",
    "dcc_mcp_notifications_sent_total": "counter",
    "dcc_mcp_active_sessions": "gauge",
    "dcc_mcp_registered_tools": "gauge",
    "dcc_mcp_build_info": "gauge",
}


@dataclass
class Running:
    """A started server and its handle."""

    server: McpHttpServer
    handle: McpServerHandle
    registry: ToolRegistry

    @property
    def url(self) -> str:
        return self.handle.mcp_url()

    @property
    def metrics_url(self) -> str:
        return self.handle.metrics_url()


@pytest.fixture
def start_server() -> Iterable[Callable[..., Running]]:
    """Factory: `start_server(tools={name: handler}, registry=None, **config_kwargs)` starts a server
    on an ephemeral port (unless `port=` is given); every server is shut down after the test."""
    started: List[McpServerHandle] = []

    def start(
        tools: Optional[Dict[str, Callable[[Dict[str, Any]], Any]]] = None,
        registry: Optional[ToolRegistry] = None,
        execution: Optional[Dict[str, str]] = None,
        **config: Any,
    ) -> Running:
        config.setdefault("port", 0)
        registry = registry if registry is not None else ToolRegistry()
        tools = tools or {}
        for name in tools:
            if name not in registry:
                registry.register(
                    name,
                    description=f"test tool {name}",
                    input_schema={"type": "object"},
                    execution=(execution or {}).get(name, "sync"),
                )
        server = McpHttpServer(registry, McpHttpConfig(**config))
        for name, fn in tools.items():
            server.register_handler(name, fn)
        handle = server.start()
        started.append(handle)
        return Running(server=server, handle=handle, registry=registry)

    yield start
    for handle in started:
        handle.shutdown()


# ------------------------------------------------------------------------------------------------
# MCP client


def mcp_calls(url: str, calls: Sequence[Tuple[str, Dict[str, Any]]], mode: str = "legacy") -> List[Any]:
    """Runs `calls` in order through one session of the official MCP client; returns the results.
    The default is the session era (`legacy`): these helpers serve tests of session features (jobs
    and `jobs.get`, the session's stream); in `auto` mode the client speaks 2026-07-28."""

    async def run() -> List[Any]:
        from mcp import Client

        results = []
        async with Client(url, mode=mode, read_timeout_seconds=HANG_GUARD_SECONDS) as client:
            for name, arguments in calls:
                results.append(await client.call_tool(name, arguments))
        return results

    return _run(run())


_EXCEPTION_GROUPS = tuple(t for t in (getattr(builtins, "BaseExceptionGroup", None),) if t is not None)


def _run(coro: Any) -> Any:
    """asyncio.run with the hang guard; an exception group holding one error (the MCP client runs
    its work in a task group) is unwrapped so tests can match on the error itself."""
    try:
        return asyncio.run(asyncio.wait_for(coro, HANG_GUARD_SECONDS))
    except BaseException as err:  # noqa: BLE001 - re-raised below
        while isinstance(err, _EXCEPTION_GROUPS) and len(err.exceptions) == 1:
            err = err.exceptions[0]
        raise err


def in_session(url: str, body: Callable[[Any], Any], mode: str = "legacy") -> Any:
    """Runs `await body(client)` inside one session of the official MCP client; returns its result."""

    async def run() -> Any:
        from mcp import Client

        async with Client(url, mode=mode, read_timeout_seconds=HANG_GUARD_SECONDS) as client:
            return await body(client)

    return _run(run())


def mcp_call(url: str, name: str, arguments: Optional[Dict[str, Any]] = None) -> Any:
    """One tool call through the official MCP client."""
    return mcp_calls(url, [(name, arguments or {})])[0]


def result_text(result: Any) -> str:
    """The concatenated text content of a `CallToolResult`."""
    return "".join(getattr(block, "text", "") for block in result.content)


def blocking_handler(result: Any) -> Tuple[threading.Event, threading.Event, Callable[[Any], Any]]:
    """A tool handler that sets `entered` when called, then blocks until `release` is set and
    returns `result`. Returns `(entered, release, handler)`."""
    entered = threading.Event()
    release = threading.Event()

    def handler(arguments: Any) -> Any:
        entered.set()
        assert release.wait(HANG_GUARD_SECONDS)
        return result

    return entered, release, handler


# ------------------------------------------------------------------------------------------------
# Scraping


@dataclass
class Scrape:
    """One `/metrics` response, parsed."""

    status: int
    headers: httpx.Headers
    text: str
    families: Dict[str, Any]
    types: Dict[str, str]

    def value(self, sample_name: str, **labels: str) -> Optional[float]:
        """The value of the sample with exactly these labels, or None when absent."""
        for family in self.families.values():
            for sample in family.samples:
                if sample.name == sample_name and sample.labels == labels:
                    return sample.value
        return None

    def samples(self, sample_name: str) -> List[Any]:
        return [s for f in self.families.values() for s in f.samples if s.name == sample_name]


def _types(text: str) -> Dict[str, str]:
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
    return types


def scrape(url: str, auth: Optional[Tuple[str, str]] = None) -> Scrape:
    """GET `url`; a 200 response must parse with prometheus-client (any failure raises)."""
    response = httpx.get(url, auth=auth, timeout=HANG_GUARD_SECONDS)
    families: Dict[str, Any] = {}
    types: Dict[str, str] = {}
    if response.status_code == 200:
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        types = _types(response.text)
    return Scrape(response.status_code, response.headers, response.text, families, types)


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child that must get Ctrl-C: SIGINT back to its default action.

    A suite started in the background of a non-interactive shell (``cmd &``) inherits SIGINT ignored,
    and CPython installs its KeyboardInterrupt handler only over the default action; a host started
    from a terminal always has it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    """Polls `predicate` until true; fails after the hang guard."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
