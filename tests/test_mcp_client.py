"""The ``dcc-mcp-server`` binary driven by the official MCP Python SDK (``mcp`` on PyPI).

Starts the binary (``DCC_MCP_SERVER_BIN``, default ``target/debug/dcc-mcp-server``) with
``--demo-tools --port 0``, reads the ``/mcp`` URL it prints, and talks to it with ``mcp.Client`` in
its default ``auto`` mode (which probes ``server/discover`` and speaks 2026-07-28, sessionless) and in
``legacy`` mode (the session era): the demo tools are listed, ``add`` returns the sum, ``fail`` is an error result, and a
``sleep`` job completes with its progress and completion notifications delivered on the session's SSE
stream. Waits are bounded only to turn a hang into a failure; nothing asserts on speed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))
HANG_GUARD_SECONDS = 60.0
DEMO_TOOLS = ["add", "blob", "block", "echo", "fail", "jobs.cancel", "jobs.get", "jobs.list", "sleep"]
SLEEP_MS = 250
SLEEP_STEPS = 5

pytestmark = pytest.mark.skipif(
    not SERVER_BIN.exists(), reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)"
)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [str(SERVER_BIN), "--demo-tools", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("dcc-mcp-server listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1].strip()
        assert url.endswith("/mcp")
        yield url
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG_GUARD_SECONDS) == 0
        assert proc.stdout.readline().strip() == "dcc-mcp-server stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, HANG_GUARD_SECONDS))


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


MODES = ["auto", "legacy"]


@pytest.mark.parametrize("mode", MODES)
def test_lists_demo_tools(server_url: str, mode: str) -> None:
    from mcp import Client

    async def body() -> None:
        async with Client(server_url, mode=mode) as client:
            expected = "2026-07-28" if mode == "auto" else "2025-11-25"
            assert client.session.protocol_version == expected
            listed = await client.list_tools()
            assert [tool.name for tool in listed.tools] == DEMO_TOOLS
            assert listed.next_cursor is None
            add = next(tool for tool in listed.tools if tool.name == "add")
            assert add.input_schema["required"] == ["a", "b"]

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_add_echo_and_fail(server_url: str, mode: str) -> None:
    from mcp import Client

    async def body() -> None:
        async with Client(server_url, mode=mode) as client:
            added = await client.call_tool("add", {"a": 2, "b": 40})
            assert added.is_error is False
            assert text_of(added) == "42"

            echoed = await client.call_tool("echo", {"text": "héllo \"quoted\""})
            assert echoed.is_error is False
            assert text_of(echoed) == "héllo \"quoted\""

            failed = await client.call_tool("fail", {})
            assert failed.is_error is True
            assert text_of(failed) == "fail always fails"

            invalid = await client.call_tool("add", {"a": 1, "b": "two"})
            assert invalid.is_error is True
            assert text_of(invalid) == "invalid arguments for tool 'add': /b: \"two\" is not of type \"number\""

    run(body())


# Jobs deliver their notifications on the session's stream: a session-era feature.
@pytest.mark.parametrize("mode", ["legacy"])
def test_sleep_job_completes_with_notifications(server_url: str, mode: str) -> None:
    from mcp import Client
    from mcp.types import LoggingMessageNotification, ProgressNotification

    async def body() -> None:
        received: List[Any] = []
        finished = asyncio.Event()

        async def on_message(message: Any) -> None:
            received.append(message)
            if isinstance(message, LoggingMessageNotification) and message.params.logger == "dcc-mcp.jobs":
                finished.set()

        async with Client(server_url, mode=mode, message_handler=on_message) as client:
            accepted = await client.call_tool("sleep", {"ms": SLEEP_MS})
            assert accepted.is_error is False
            job = accepted.structured_content
            job_id = job["jobId"]
            assert job == {"jobId": job_id, "status": "queued", "tool": "sleep"}
            assert len(job_id) == 32

            await finished.wait()

            progress = [
                m.params for m in received if isinstance(m, ProgressNotification) and m.params.progress_token == job_id
            ]
            step = SLEEP_MS / SLEEP_STEPS
            assert [p.progress for p in progress] == [step * i for i in range(1, SLEEP_STEPS + 1)]
            assert {p.total for p in progress} == {float(SLEEP_MS)}

            done = [m.params for m in received if isinstance(m, LoggingMessageNotification)]
            assert len(done) == 1
            assert done[0].level == "info"
            data = done[0].data
            assert (data["event"], data["jobId"], data["tool"], data["status"]) == (
                "job_finished",
                job_id,
                "sleep",
                "succeeded",
            )
            assert data["result"]["structuredContent"] == {"slept_ms": SLEEP_MS}

            status = await client.call_tool("jobs.get", {"jobId": job_id})
            assert status.is_error is False
            assert status.structured_content["status"] == "succeeded"
            assert status.structured_content["progress"] == float(SLEEP_MS)

            unknown = await client.call_tool("jobs.get", {"jobId": "0" * 32})
            assert unknown.is_error is True

    run(body())
