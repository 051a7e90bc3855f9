"""Python handlers that talk back to their client, driven by the official MCP Python SDK (``mcp``).

Handlers registered with ``pass_context=True`` call ``ctx.elicit``, ``ctx.sample``,
``ctx.list_roots`` and ``ctx.log``; the official client answers with its elicitation, sampling and
roots callbacks and receives the log messages with its logging callback. Also: a client that did not
declare elicitation gets a clean error result, and an unknown log level is a ``ValueError`` in the
handler. Waits are bounded only to turn a hang into a failure.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from conftest import HANG_GUARD_SECONDS, _run, result_text
from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolContext, ToolRegistry

FORM = {
    "type": "object",
    "properties": {"ok": {"type": "boolean", "default": False}},
    "required": ["ok"],
}


def confirm(arguments: Dict[str, Any], ctx: ToolContext) -> Any:
    answer = ctx.elicit("Delete 1204 keyframes?", FORM)
    return f"{answer['action']}: {answer.get('content')}"


def ask_model(arguments: Dict[str, Any], ctx: ToolContext) -> Any:
    sampled = ctx.sample("Name this shot", max_tokens=20)
    return f"{sampled['model']} said {sampled['content']['text']}"


def roots(arguments: Dict[str, Any], ctx: ToolContext) -> Any:
    return ",".join(root["uri"] for root in ctx.list_roots())


def chatty(arguments: Dict[str, Any], ctx: ToolContext) -> Any:
    ctx.log("debug", "hidden")
    ctx.log("warning", {"unsaved": 3}, logger="scene")
    try:
        ctx.log("loud", "x")
    except ValueError as err:
        ctx.log("error", str(err))
    return "logged"


def supports(arguments: Dict[str, Any], ctx: ToolContext) -> Any:
    return [ctx.client_supports(name) for name in ("elicitation", "sampling", "roots")]


def start(**config: Any) -> Any:
    registry = ToolRegistry()
    server = McpHttpServer(registry, McpHttpConfig(port=0, **config))
    for name, fn in [("confirm", confirm), ("ask_model", ask_model), ("roots", roots),
                     ("chatty", chatty), ("supports", supports)]:
        registry.register(name, input_schema={"type": "object"})
        server.register_handler(name, fn, pass_context=True)
    return server.start()


def test_elicitation_sampling_roots_and_logging_with_the_official_client() -> None:
    import mcp.types as types
    from mcp import Client

    handle = start()
    elicited: List[Any] = []
    logs: List[Any] = []

    async def on_elicit(context: Any, params: Any) -> Any:
        elicited.append(params)
        return types.ElicitResult(action="accept", content={"ok": True})

    async def on_sample(context: Any, params: Any) -> Any:
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Shot 12"),
            model="m1",
            stop_reason="endTurn",
        )

    async def on_roots(context: Any) -> Any:
        return types.ListRootsResult(roots=[types.Root(uri="file:///proj", name="proj")])

    async def on_log(params: Any) -> None:
        logs.append((params.level, params.logger, params.data))

    async def body() -> Dict[str, str]:
        async with Client(
            handle.mcp_url(),
            mode="legacy",
            read_timeout_seconds=HANG_GUARD_SECONDS,
            elicitation_callback=on_elicit,
            sampling_callback=on_sample,
            list_roots_callback=on_roots,
            logging_callback=on_log,
        ) as client:
            await client.set_logging_level("info")
            texts = {}
            for name in ("confirm", "ask_model", "roots", "chatty", "supports"):
                result = await client.call_tool(name, {})
                assert not result.is_error, result
                texts[name] = result_text(result)
            # The stream keeps order: the last message in means every earlier one is in.
            for _ in range(int(HANG_GUARD_SECONDS * 100)):
                if logs and logs[-1][0] == "error":
                    break
                await asyncio.sleep(0.01)
            return texts

    try:
        texts = _run(body())
    finally:
        handle.shutdown()
    assert texts["confirm"] == "accept: {'ok': True}"
    assert elicited[0].message == "Delete 1204 keyframes?"
    assert elicited[0].requested_schema == FORM
    assert texts["ask_model"] == "m1 said Shot 12"
    assert texts["roots"] == "file:///proj"
    assert texts["chatty"] == "logged"
    assert texts["supports"] == "[true,true,true]"
    assert logs == [
        ("warning", "scene", {"unsaved": 3}),
        (
            "error",
            None,
            "unknown log level \"loud\": use debug, info, notice, warning, error, critical, alert or emergency",
        ),
    ]


def test_a_client_without_elicitation_gets_a_clean_error() -> None:
    from mcp import Client

    handle = start()

    async def body() -> Any:
        async with Client(handle.mcp_url(), mode="legacy", read_timeout_seconds=HANG_GUARD_SECONDS) as client:
            return await client.call_tool("confirm", {})

    try:
        result = _run(body())
    finally:
        handle.shutdown()
    assert result.is_error
    assert 'the client does not support elicitation/create: it did not declare the "elicitation" capability' in result_text(result)


def test_the_same_handlers_answer_in_2026_07_28_through_input_required_rounds() -> None:
    """The official client in ``2026-07-28`` mode gets an ``InputRequiredResult``, answers it with
    its callbacks and retries; the handler runs again and completes."""
    import mcp.types as types
    from mcp import Client

    handle = start(max_pending_client_requests=4, max_log_messages_per_sec=50, max_request_state_bytes=8192)
    asked: List[str] = []

    async def on_elicit(context: Any, params: Any) -> Any:
        asked.append("elicit")
        return types.ElicitResult(action="accept", content={"ok": True})

    async def on_sample(context: Any, params: Any) -> Any:
        asked.append("sample")
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Shot 12"),
            model="m1",
            stop_reason="endTurn",
        )

    async def on_roots(context: Any) -> Any:
        asked.append("roots")
        return types.ListRootsResult(roots=[types.Root(uri="file:///proj", name="proj")])

    async def body() -> Dict[str, str]:
        async with Client(
            handle.mcp_url(),
            mode="2026-07-28",
            read_timeout_seconds=HANG_GUARD_SECONDS,
            elicitation_callback=on_elicit,
            sampling_callback=on_sample,
            list_roots_callback=on_roots,
        ) as client:
            texts = {}
            for name in ("confirm", "ask_model", "roots"):
                result = await client.call_tool(name, {})
                assert not result.is_error, result
                texts[name] = result_text(result)
            return texts

    try:
        texts = _run(body())
        config = McpHttpConfig(port=0, max_pending_client_requests=4, max_log_messages_per_sec=50, max_request_state_bytes=8192)
        assert (config.max_pending_client_requests, config.max_log_messages_per_sec, config.max_request_state_bytes) == (4, 50, 8192)
    finally:
        handle.shutdown()
    assert texts == {
        "confirm": "accept: {'ok': True}",
        "ask_model": "m1 said Shot 12",
        "roots": "file:///proj",
    }
    assert asked == ["elicit", "sample", "roots"]


def resumable(arguments: Dict[str, Any], ctx: ToolContext) -> Any:
    closed = ctx.close_stream()
    ctx.log("info", "after the close")
    return f"closed={closed}"


def test_a_handler_closes_its_post_stream_and_the_official_client_resumes_it() -> None:
    """``ctx.close_stream()`` ends the call's POST SSE answer before the result (2025-11-25 SSE
    polling). The official client saw the priming event, so it reconnects with ``GET`` and
    ``Last-Event-ID`` and gets the log message sent after the close and the result there: the
    server counts that resumption in ``dcc_mcp_sse_replay_total{outcome="replayed"}``. In
    2026-07-28 there is no stream to close: ``close_stream()`` returns False and nothing changes."""
    from mcp import Client

    from conftest import scrape

    registry = ToolRegistry()
    server = McpHttpServer(registry, McpHttpConfig(port=0, enable_prometheus=True))
    registry.register("resumable", input_schema={"type": "object"})
    server.register_handler("resumable", resumable, pass_context=True)
    handle = server.start()
    logs: List[Any] = []

    async def on_log(params: Any) -> None:
        logs.append((params.level, params.data))

    async def call(mode: str) -> str:
        async with Client(handle.mcp_url(), mode=mode, read_timeout_seconds=HANG_GUARD_SECONDS,
                          logging_callback=on_log) as client:
            if mode == "legacy":
                await client.set_logging_level("info")
            result = await client.call_tool("resumable", {})
            assert not result.is_error, result
            return result_text(result)

    def replayed() -> float:
        return scrape(handle.metrics_url()).value("dcc_mcp_sse_replay_total", outcome="replayed") or 0.0

    try:
        before = replayed()
        legacy = _run(call("legacy"))
        after_legacy = replayed()
        stateless = _run(call("2026-07-28"))
        after_stateless = replayed()
    finally:
        handle.shutdown()
    assert legacy == "closed=True"
    assert after_legacy == before + 1
    assert logs == [("info", "after the close")]
    assert stateless == "closed=False"
    assert after_stateless == after_legacy
