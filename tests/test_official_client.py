"""Every feature through the official MCP Python client (``mcp`` on PyPI), in its three modes.

Starts ``dcc-mcp-server --conformance-fixtures --port 0`` (the real binary, ``DCC_MCP_SERVER_BIN``)
and drives it with ``mcp.Client`` in ``auto`` (probes ``server/discover``, speaks 2026-07-28),
``legacy`` (forced ``initialize``: a 2025-11-25 session) and ``"2026-07-28"`` (pinned, no probe):
tools, resources, prompts, completion, logging, elicitation, sampling and progress, each asserted
exactly. The client's callbacks answer elicitation and sampling: over the session's POST stream in
legacy mode, through ``InputRequiredResult`` rounds otherwise. Log messages and progress arrive
before the call's result (they travel on the call's own SSE response), so they are asserted as soon
as the call returns, with no waiting. Waits are bounded only to turn a hang into a failure.
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
MODES = ["auto", "legacy", "2026-07-28"]
VERSION = {"auto": "2026-07-28", "legacy": "2025-11-25", "2026-07-28": "2026-07-28"}

pytestmark = pytest.mark.skipif(not SERVER_BIN.exists(), reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [str(SERVER_BIN), "--conformance-fixtures", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("dcc-mcp-server listening on http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[1].strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG_GUARD_SECONDS) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, HANG_GUARD_SECONDS))


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def client(url: str, mode: str, **kwargs: Any) -> Any:
    from mcp import Client

    return Client(url, mode=mode, **kwargs)


@pytest.mark.parametrize("mode", MODES)
def test_tools(server_url: str, mode: str) -> None:
    async def body() -> None:
        async with client(server_url, mode) as c:
            assert c.session.protocol_version == VERSION[mode]
            names = [tool.name for tool in (await c.list_tools()).tools]
            assert "test_simple_text" in names and "test_tool_with_progress" in names
            simple = await c.call_tool("test_simple_text", {})
            assert (simple.is_error, text_of(simple)) == (False, "This is a simple text response for testing.")
            failed = await c.call_tool("test_error_handling", {})
            assert (failed.is_error, text_of(failed)) == (True, "This tool intentionally returns an error for testing")

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_resources(server_url: str, mode: str) -> None:
    async def body() -> None:
        async with client(server_url, mode) as c:
            uris = [resource.uri for resource in (await c.list_resources()).resources]
            assert "test://static-text" in [str(uri) for uri in uris]
            read = await c.read_resource("test://static-text")
            assert [content.text for content in read.contents] == ["This is the content of the static text resource."]

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_prompts_and_completion(server_url: str, mode: str) -> None:
    from mcp.types import PromptReference

    async def body() -> None:
        async with client(server_url, mode) as c:
            names = [prompt.name for prompt in (await c.list_prompts()).prompts]
            assert "test_prompt_with_arguments" in names
            got = await c.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
            assert [m.content.text for m in got.messages] == ["Prompt with arguments: arg1='a', arg2='b'"]
            completed = await c.complete(
                PromptReference(type="ref/prompt", name="test_prompt_with_arguments"), {"name": "arg1", "value": "pa"}
            )
            assert completed.completion.values == ["paris", "park", "party"]

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_logging_arrives_before_the_result(server_url: str, mode: str) -> None:
    async def body() -> None:
        received: List[Any] = []

        async def on_log(params: Any) -> None:
            received.append((params.level, params.data))

        # Session era: every level is sent before any logging/setLevel; 2026-07-28: the request opts in.
        async with client(server_url, mode, logging_callback=on_log, log_level="info") as c:
            result = await c.call_tool("test_tool_with_logging", {})
            assert text_of(result) == "Tool with logging executed successfully"
            assert received == [
                ("info", "Tool execution started"),
                ("info", "Tool processing data"),
                ("info", "Tool execution completed"),
            ]

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_progress_arrives_before_the_result(server_url: str, mode: str) -> None:
    async def body() -> None:
        seen: List[Any] = []

        async def on_progress(progress: float, total: Any, message: Any) -> None:
            seen.append((progress, total))

        async with client(server_url, mode) as c:
            result = await c.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            assert text_of(result) == "Progress reported: 0, 50, 100 of 100"
            assert seen == [(0.0, 100.0), (50.0, 100.0), (100.0, 100.0)]

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_elicitation_is_answered_by_the_callback(server_url: str, mode: str) -> None:
    from mcp.types import ElicitResult

    async def body() -> None:
        asked: List[str] = []

        async def on_elicit(context: Any, params: Any) -> Any:
            asked.append(params.message)
            return ElicitResult(action="accept", content={"username": "ana", "email": "ana@example.com"})

        async with client(server_url, mode, elicitation_callback=on_elicit) as c:
            result = await c.call_tool("test_elicitation", {"message": "Who are you?"})
            assert text_of(result) == (
                'User response: action=accept, content={"email":"ana@example.com","username":"ana"}'
            )
            assert asked == ["Who are you?"]

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_sampling_is_answered_by_the_callback(server_url: str, mode: str) -> None:
    from mcp.types import CreateMessageResult, TextContent

    async def body() -> None:
        prompts: List[Any] = []

        async def on_sample(context: Any, params: Any) -> Any:
            prompts.append(params.messages[0].content.text)
            return CreateMessageResult(
                role="assistant", content=TextContent(type="text", text="a take"), model="test-model"
            )

        async with client(server_url, mode, sampling_callback=on_sample) as c:
            result = await c.call_tool("test_sampling", {"prompt": "Name this shot"})
            assert text_of(result) == "LLM response: a take"
            assert prompts == ["Name this shot"]

    run(body())


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_closed_before_its_result_is_resumed(server_url: str, mode: str) -> None:
    """``test_reconnection`` closes its POST's SSE stream before its result. In ``legacy`` mode (a
    2025-11-25 session) the client saw the priming event (``id: p<n>-0``, ``retry: 1000``), so it
    reconnects with ``GET`` and ``Last-Event-ID`` after the delay and gets the result there; in the
    stateless era there is no stream to close and the result comes at once."""

    async def body() -> None:
        async with client(server_url, mode) as c:
            result = await c.call_tool("test_reconnection", {})
            assert (result.is_error, text_of(result)) == (
                False,
                "Reconnection test completed: the result came on the resumed stream",
            )

    run(body())
