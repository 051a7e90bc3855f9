"""`@server.resource(uri)` and `@server.prompt()`: MCP resources, resource templates and prompts from
typed Python functions, read through the official MCP client in each of its modes, on a server
thread or on a simulated host's main thread."""

from __future__ import annotations

import base64
import threading
import time
from typing import Annotated, Any, Dict, List

import pytest

from dcc_mcp_core import Image, MainThreadExecutor, McpHttpConfig, McpHttpServer, Text, ToolRegistry

from conftest import HANG_GUARD_SECONDS, in_session

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(16))
MODES = ["legacy", "2026-07-28", "auto"]


def _server(**config: Any) -> McpHttpServer:
    config.setdefault("port", 0)
    return McpHttpServer(ToolRegistry(), McpHttpConfig(**config))


@pytest.fixture
def serve():
    handles = []

    def start(server: McpHttpServer):
        handle = server.start()
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.shutdown()


def _scene_server() -> McpHttpServer:
    server = _server()

    @server.resource("scene://current", title="Current scene")
    def scene() -> dict:
        """The open scene."""
        return {"scene": "shot_010.ma", "frames": [1001, 1096]}

    @server.resource("scene://notes", mime_type="text/markdown")
    def notes() -> str:
        return "# notes"

    @server.resource("scene://thumbnail")
    def thumbnail() -> Image:
        return Image(PNG, "image/png")

    @server.resource("scene://nodes/{name}/frame/{frame}")
    def node(name: str, frame: int) -> str:
        """One node at one frame."""
        return f"{name}@{frame + 1}"

    @server.prompt(title="Clean up the scene")
    def cleanup(scene: Annotated[str, "the scene file"], keep: int = 1) -> List[Any]:
        """Asks the model to clean up a scene."""
        return [f"Clean up {scene}, keep {keep * 2} takes.",
                {"role": "assistant", "content": Text("Which takes?")},
                {"role": "user", "content": Image(PNG, "image/png")}]

    return server


@pytest.mark.parametrize("mode", MODES)
def test_resources_templates_and_prompts_through_the_official_client(serve, mode):
    handle = serve(_scene_server())

    async def body(client: Any) -> Dict[str, Any]:
        return {
            "resources": await client.list_resources(),
            "templates": await client.list_resource_templates(),
            "scene": await client.read_resource("scene://current"),
            "notes": await client.read_resource("scene://notes"),
            "thumbnail": await client.read_resource("scene://thumbnail"),
            "node": await client.read_resource("scene://nodes/cube/frame/41"),
            "prompts": await client.list_prompts(),
            "prompt": await client.get_prompt("cleanup", {"scene": "shot_010.ma", "keep": "3"}),
        }

    got = in_session(handle.mcp_url(), body, mode=mode)
    assert [(r.uri, r.name, r.title, r.description, r.mime_type) for r in got["resources"].resources] == [
        ("scene://current", "scene", "Current scene", "The open scene.", "application/json"),
        ("scene://notes", "notes", None, None, "text/markdown"),
        ("scene://thumbnail", "thumbnail", None, None, None),
    ]
    assert [(t.uri_template, t.name, t.description, t.mime_type) for t in got["templates"].resource_templates] == [
        ("scene://nodes/{name}/frame/{frame}", "node", "One node at one frame.", "text/plain"),
    ]
    (scene,) = got["scene"].contents
    assert (scene.uri, scene.mime_type, scene.text) == (
        "scene://current", "application/json", '{"scene": "shot_010.ma", "frames": [1001, 1096]}')
    (notes,) = got["notes"].contents
    assert (notes.mime_type, notes.text) == ("text/markdown", "# notes")
    (thumbnail,) = got["thumbnail"].contents
    assert base64.b64decode(thumbnail.blob) == PNG
    (node,) = got["node"].contents
    assert (node.uri, node.text) == ("scene://nodes/cube/frame/41", "cube@42")
    (prompt,) = got["prompts"].prompts
    assert (prompt.name, prompt.title, prompt.description) == (
        "cleanup", "Clean up the scene", "Asks the model to clean up a scene.")
    assert [(a.name, a.description, a.required) for a in prompt.arguments] == [
        ("scene", "the scene file", True), ("keep", None, False)]
    messages = got["prompt"].messages
    assert [(m.role, m.content.type) for m in messages] == [("user", "text"), ("assistant", "text"), ("user", "image")]
    assert messages[0].content.text == "Clean up shot_010.ma, keep 6 takes."
    assert messages[1].content.text == "Which takes?"
    assert (base64.b64decode(messages[2].content.data), messages[2].content.mime_type) == (PNG, "image/png")


def test_a_reader_error_and_an_unknown_resource_reach_the_client(serve):
    from mcp.shared.exceptions import MCPError as McpError

    server = _server()

    @server.resource("scene://broken")
    def broken() -> str:
        raise RuntimeError("no scene is open")

    @server.prompt()
    def needs(scene: str) -> str:
        return scene

    handle = serve(server)

    async def read(client: Any) -> Any:
        return await client.read_resource("scene://broken")

    with pytest.raises(McpError) as excinfo:
        in_session(handle.mcp_url(), read)
    assert "reading scene://broken failed: RuntimeError: no scene is open" in str(excinfo.value)

    async def missing(client: Any) -> Any:
        return await client.get_prompt("needs", {})

    with pytest.raises(McpError) as excinfo:
        in_session(handle.mcp_url(), missing)
    assert 'prompt "needs" needs the argument "scene"' in str(excinfo.value)


def test_main_thread_readers_run_on_the_pumping_thread(serve):
    executor = MainThreadExecutor()
    server = _server(main_thread_executor=executor)
    seen: Dict[str, int] = {}

    @server.resource("scene://selection")  # the main thread: the default with an executor
    def selection() -> list:
        seen["resource"] = threading.get_ident()
        return ["pCube1"]

    @server.prompt()
    def describe(node: str) -> str:
        seen["prompt"] = threading.get_ident()
        return f"Describe {node}."

    @server.resource("scene://hash", main_thread=False)
    def hashed() -> str:
        seen["worker"] = threading.get_ident()
        return "abc"

    handle = serve(server)

    async def body(client: Any) -> Any:
        return (await client.read_resource("scene://selection"), await client.get_prompt("describe", {"node": "pCube1"}),
                await client.read_resource("scene://hash"))

    results: List[Any] = []
    client = threading.Thread(target=lambda: results.append(in_session(handle.mcp_url(), body)))
    client.start()
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while client.is_alive() and time.monotonic() < deadline:
        executor.pump()  # this thread plays the host's main loop
        time.sleep(0.002)
    client.join()
    (selection_result, prompt_result, hash_result), = results
    assert selection_result.contents[0].text == '["pCube1"]'
    assert prompt_result.messages[0].content.text == "Describe pCube1."
    assert hash_result.contents[0].text == "abc"
    assert seen["resource"] == seen["prompt"] == threading.get_ident()
    assert seen["worker"] != threading.get_ident()


def test_registration_errors_name_the_entry():
    server = _server()

    with pytest.raises(TypeError, match=r"resource 'scene://nodes/\{name\}': parameter 'node' is not a variable of the URI \(variables: name\)"):
        @server.resource("scene://nodes/{name}")
        def wrong(node: str) -> str:
            return node

    with pytest.raises(TypeError, match=r"the function has no parameter for the URI variable\(s\) name"):
        @server.resource("scene://nodes/{name}")
        def none() -> str:
            return ""

    with pytest.raises(TypeError, match="async def is not supported"):
        @server.resource("scene://async")
        async def later() -> str:
            return ""

    with pytest.raises(TypeError, match=r"prompt 'p', parameter 'n': values arrive as strings"):
        @server.prompt("p")
        def p(n: List[int]) -> str:
            return ""

    with pytest.raises(ValueError, match="has no main_thread_executor"):
        @server.resource("scene://main", main_thread=True)
        def main() -> str:
            return ""

    @server.resource("scene://once")
    def once() -> str:
        return "first"

    with pytest.raises(ValueError, match="'scene://once' is already registered on this server"):
        @server.resource("scene://once")
        def twice() -> str:
            return "second"

    assert server.remove_resource("scene://once") is True
    assert server.remove_resource("scene://once") is False

    @server.resource("scene://once")
    def again() -> str:
        return "again"


def test_two_servers_from_one_config_keep_their_own_catalog(serve):
    config = McpHttpConfig(port=0)
    first, second = McpHttpServer(ToolRegistry(), config), McpHttpServer(ToolRegistry(), config)

    @first.resource("scene://which")
    def which() -> str:
        return "first"

    @first.prompt()
    def hello() -> str:
        return "hi"

    handle = serve(second)

    async def body(client: Any) -> Any:
        return await client.list_resources(), await client.list_prompts()

    resources, prompts = in_session(handle.mcp_url(), body)
    assert (resources.resources, prompts.prompts) == ([], [])
    assert first.remove_prompt("hello") is True
    assert second.remove_prompt("hello") is False


CONFIRM = {"type": "object", "properties": {"confirm": {"type": "boolean", "title": "Delete them"}},
           "required": ["confirm"]}


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
@pytest.mark.parametrize("answer, expected, left", [
    ({"action": "accept", "content": {"confirm": True}}, "Deleted 1,204 keyframes of pCube1.", 0),
    ({"action": "decline"}, "Nothing deleted.", 1204),
])
def test_the_skeletons_confirm_a_destructive_main_thread_tool_by_elicitation(serve, mode, answer, expected, left):
    """The pattern of the Maya, Blender and Houdini skeletons in docs/guide/python.md: a main-thread
    tool counts what it would delete, asks the artist through the client, and deletes only on yes."""
    import mcp.types as types
    from mcp import Client

    from dcc_mcp_core import ToolContext

    executor = MainThreadExecutor()
    server = _server(main_thread_executor=executor)
    keys = {"pCube1": 1204}
    asked: List[Any] = []
    ran_on: List[int] = []

    @server.tool(annotations={"destructiveHint": True})
    def delete_keyframes(context: ToolContext, node: str) -> str:
        """Delete every keyframe of a node, once the artist confirms."""
        ran_on.append(threading.get_ident())
        count = keys[node]
        if not context.client_supports("elicitation"):
            raise RuntimeError("this tool asks the artist to confirm, and the client cannot ask")
        reply = context.elicit(f"Delete {count:,} keyframes of {node}?", CONFIRM)
        if reply["action"] != "accept" or not reply["content"].get("confirm"):
            return "Nothing deleted."
        keys[node] = 0
        return f"Deleted {count:,} keyframes of {node}."

    handle = serve(server)

    async def on_elicit(context: Any, params: Any) -> Any:
        asked.append((params.message, params.requested_schema))
        return types.ElicitResult(**answer)

    async def body() -> Any:
        async with Client(handle.mcp_url(), mode=mode, read_timeout_seconds=HANG_GUARD_SECONDS,
                          elicitation_callback=on_elicit) as client:
            return await client.call_tool("delete_keyframes", {"node": "pCube1"})

    import asyncio

    results: List[Any] = []
    client = threading.Thread(target=lambda: results.append(asyncio.run(body())))
    client.start()
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while client.is_alive() and time.monotonic() < deadline:
        executor.pump()
        time.sleep(0.002)
    client.join()
    (result,) = results
    assert not result.is_error, result
    assert result.content[0].text == expected
    assert asked == [("Delete 1,204 keyframes of pCube1?", CONFIRM)]
    assert keys["pCube1"] == left
    # The session era asks during the one run; 2026-07-28 returns an InputRequiredResult and runs
    # the tool again on the client's retry. Every run is on the pumping thread.
    assert len(ran_on) == (1 if mode == "legacy" else 2)
    assert set(ran_on) == {threading.get_ident()}


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # by 2026-07-28; this is the session era
def test_subscribers_hear_of_updates_and_of_resources_added_and_removed(serve):
    """`notify_resource_updated` reaches a subscribed session, and adding or removing a resource at
    run time sends `notifications/resources/list_changed` (session era)."""
    import asyncio

    from mcp import Client
    from mcp.types import ResourceListChangedNotification, ResourceUpdatedNotification

    server = _server()

    @server.resource("scene://current")
    def scene() -> str:
        return "shot_010.ma"

    handle = serve(server)

    async def run() -> List[Any]:
        heard: List[Any] = []
        arrived = asyncio.Event()

        async def on_message(message: Any) -> None:
            if isinstance(message, ResourceUpdatedNotification):
                heard.append(("updated", message.params.uri))
            elif isinstance(message, ResourceListChangedNotification):
                heard.append(("list_changed",))
            if len(heard) == 3:
                arrived.set()

        async with Client(handle.mcp_url(), mode="legacy", message_handler=on_message,
                          read_timeout_seconds=HANG_GUARD_SECONDS) as client:
            await client.subscribe_resource("scene://current")
            server.notify_resource_updated("scene://current")
            server.notify_resource_updated("scene://elsewhere")  # nobody subscribed: not sent

            @server.resource("scene://later")
            def later() -> str:
                return "later"

            assert server.remove_resource("scene://later") is True
            await arrived.wait()
            listed = await client.list_resources()
            return heard + [[r.uri for r in listed.resources]]

    assert asyncio.run(asyncio.wait_for(run(), HANG_GUARD_SECONDS)) == [
        ("updated", "scene://current"), ("list_changed",), ("list_changed",), ["scene://current"]]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_completion_of_prompt_arguments_and_template_variables(serve, mode):
    from mcp.types import PromptReference, ResourceTemplateReference

    server = _server()

    @server.resource("scene://cameras/{camera}", complete={"camera": ["persp", "top", "shotCam1", "shotCam2"]})
    def camera(camera: str) -> str:
        return camera

    @server.prompt(complete={"shading": ["flat", "smooth", "wireframe"]})
    def look(shading: str) -> str:
        return f"Use {shading} shading."

    with pytest.raises(ValueError, match=r"complete= names 'lens', which is not one of its arguments \(shading\)"):
        @server.prompt("bad", complete={"lens": ["35mm"]})
        def bad(shading: str) -> str:
            return shading

    handle = serve(server)

    async def body(client: Any) -> Any:
        return (await client.complete(ResourceTemplateReference(type="ref/resource", uri="scene://cameras/{camera}"),
                                      {"name": "camera", "value": "shot"}),
                await client.complete(PromptReference(type="ref/prompt", name="look"), {"name": "shading", "value": "s"}))

    cameras, shading = in_session(handle.mcp_url(), body, mode=mode)
    assert cameras.completion.values == ["shotCam1", "shotCam2"]
    assert shading.completion.values == ["smooth"]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_completion_by_a_function_gets_the_argument_the_partial_value_and_the_context(serve, mode, caplog):
    """``complete=fn``: ``fn(argument, value, context)`` is called for every argument of the entry,
    with what the client typed and the arguments it already chose; its list is the completion. One
    that raises, or returns something other than a list of str, completes to nothing and is logged."""
    from mcp.types import PromptReference, ResourceTemplateReference

    server = _server()
    calls: List[Any] = []
    shots = {"sq010": ["sh010", "sh020", "sh110"], "sq020": ["sh010"]}

    def shot_names(argument: str, value: str, context: Dict[str, str]) -> List[str]:
        calls.append((argument, value, context))
        if argument == "sequence":
            return [s for s in shots if s.startswith(value)]
        return [s for s in shots.get(context.get("sequence", ""), []) if s.startswith(value)]

    @server.resource("shots://{sequence}/{shot}", complete=shot_names)
    def shot(sequence: str, shot: str) -> str:
        return f"{sequence}/{shot}"

    def broken(argument: str, value: str, context: Dict[str, str]) -> Any:
        if value == "raise":
            raise RuntimeError("the asset database is down")
        return "not a list"

    @server.prompt(complete=broken)
    def review(take: str) -> str:
        return f"Review {take}."

    with pytest.raises(ValueError, match=r"complete= was given, but there are no arguments to complete"):
        @server.prompt("nothing", complete=broken)
        def nothing() -> str:
            return ""
    with pytest.raises(ValueError, match=r"complete= was given, but there are no arguments to complete"):
        @server.resource("scene://plain", complete=broken)
        def plain() -> str:
            return ""
    with pytest.raises(TypeError, match=r"complete= must be a mapping of argument to values, or a function"):
        @server.prompt("odd", complete=42)  # type: ignore[arg-type]
        def odd(take: str) -> str:
            return take

    assert not server.remove_prompt("nothing") and not server.remove_resource("scene://plain")
    assert not server.remove_prompt("odd")
    handle = serve(server)
    template = ResourceTemplateReference(type="ref/resource", uri="shots://{sequence}/{shot}")
    prompt = PromptReference(type="ref/prompt", name="review")

    async def body(client: Any) -> Any:
        return (await client.complete(template, {"name": "sequence", "value": "sq0"}),
                await client.complete(template, {"name": "shot", "value": "sh0"}, {"sequence": "sq010"}),
                await client.complete(prompt, {"name": "take", "value": "raise"}),
                await client.complete(prompt, {"name": "take", "value": "t"}))

    with caplog.at_level("WARNING", logger="dcc_mcp_core"):
        sequences, shot_values, raised, wrong = in_session(handle.mcp_url(), body, mode=mode)
    assert sequences.completion.values == ["sq010", "sq020"]
    assert shot_values.completion.values == ["sh010", "sh020"]
    assert calls == [("sequence", "sq0", {}), ("shot", "sh0", {"sequence": "sq010"})]
    assert raised.completion.values == [] and wrong.completion.values == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "the asset database is down" in logged
    assert "complete= returned str; return a list of str" in logged


def test_completion_functions_run_on_the_pumping_thread(serve):
    executor = MainThreadExecutor()
    server = _server(main_thread_executor=executor)
    threads: List[int] = []

    def cameras(argument: str, value: str, context: Dict[str, str]) -> List[str]:
        threads.append(threading.get_ident())
        return [c for c in ("persp", "shotCam1") if c.startswith(value)]

    @server.prompt(complete=cameras)
    def frame(camera: str) -> str:
        return f"Frame {camera}."

    handle = serve(server)

    async def body(client: Any) -> Any:
        from mcp.types import PromptReference

        return await client.complete(PromptReference(type="ref/prompt", name="frame"), {"name": "camera", "value": "p"})

    results: List[Any] = []
    client = threading.Thread(target=lambda: results.append(in_session(handle.mcp_url(), body)))
    client.start()
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while client.is_alive() and time.monotonic() < deadline:
        executor.pump()
        time.sleep(0.002)
    client.join()
    (result,) = results
    assert result.completion.values == ["persp"]
    assert threads == [threading.get_ident()]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_resource_and_prompt_functions_get_a_tool_context_by_annotation(serve, mode):
    """A parameter annotated ``ToolContext`` (or ``Optional[ToolContext]``) is no URI variable or
    prompt argument: it receives the request's context. In the session era its log messages reach
    the client (a prompt's on the POST's own stream, before the result; a read's on the session's
    stream); it asks the client nothing and closes no stream. In 2026-07-28 it is detached."""
    import asyncio
    from typing import Optional

    from mcp import Client

    from dcc_mcp_core import ToolContext

    server = _server()
    seen: Dict[str, Any] = {}

    @server.resource("scene://nodes/{name}")
    def node(name: str, ctx: ToolContext) -> str:
        ctx.log("info", f"reading {name}")
        ctx.report_progress(1, 2)
        seen["resource"] = (ctx.tool_name, ctx.is_cancelled, ctx.close_stream())
        return name

    @server.prompt()
    def describe(ctx: Optional[ToolContext], node: str) -> str:
        assert ctx is not None
        ctx.log("warning", {"node": node}, logger="scene")
        seen["prompt"] = (ctx.tool_name, ctx.client_supports("elicitation"), ctx.close_stream())
        with pytest.raises(RuntimeError) as asked:
            ctx.elicit("Which node?", {"type": "object"})
        seen["elicit"] = str(asked.value)
        return f"Describe {node}."

    with pytest.raises(TypeError, match=r"two ToolContext parameters \('a', 'b'\)"):
        @server.prompt("twice")
        def twice(a: ToolContext, b: ToolContext) -> str:
            return ""

    handle = serve(server)
    logs: List[Any] = []

    async def on_log(params: Any) -> None:
        logs.append((params.level, params.logger, params.data))

    async def on_elicit(context: Any, params: Any) -> Any:
        raise AssertionError("a prompt must not elicit")

    async def body() -> Any:
        async with Client(handle.mcp_url(), mode=mode, read_timeout_seconds=HANG_GUARD_SECONDS,
                          logging_callback=on_log, elicitation_callback=on_elicit) as client:
            if mode == "legacy":
                await client.set_logging_level("info")
            got = (await client.list_resource_templates(), await client.list_prompts(),
                   await client.get_prompt("describe", {"node": "pCube1"}),
                   await client.read_resource("scene://nodes/pCube1"))
            # The read's message travels on the session's stream: wait for it (bounded).
            for _ in range(int(HANG_GUARD_SECONDS * 100)):
                if mode != "legacy" or len(logs) == 2:
                    break
                await asyncio.sleep(0.01)
            return got

    from conftest import _run

    templates, prompts, got, read = _run(body())
    assert [t.uri_template for t in templates.resource_templates] == ["scene://nodes/{name}"]
    assert [(a.name, a.required) for a in prompts.prompts[0].arguments] == [("node", True)]
    assert read.contents[0].text == "pCube1"
    assert got.messages[0].content.text == "Describe pCube1."
    if mode == "legacy":
        elicit = "a resource read, prompt or completion cannot ask the client: ask from a tool"
        assert logs == [("warning", "scene", {"node": "pCube1"}), ("info", None, "reading pCube1")]
    else:
        elicit = "this call has no client to ask (the context is detached, or the call runs as a job)"
        assert logs == []
    assert seen == {
        "resource": ("resource template 'scene://nodes/{name}'", False, False),
        "prompt": ("prompt 'describe'", False, False),
        "elicit": elicit,
    }
