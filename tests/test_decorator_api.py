"""The Pythonic API: `@server.tool()` / `@registry.tool()` from type hints, tool titles and
annotations, return values mapped to MCP content, schemas refused at registration, errors the host
and the client can see, and oversized results. Calls go through the official MCP client."""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
import threading
from typing import Any, Dict, List, Literal, Optional, TypedDict

import pytest

from dcc_mcp_core import (
    Audio,
    Image,
    MainThreadExecutor,
    McpHttpConfig,
    McpHttpServer,
    Text,
    ToolContext,
    ToolRegistry,
    ToolResult,
)

from conftest import HANG_GUARD_SECONDS, HAS_WORKFLOW, in_session, mcp_call, result_text, wait_for

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))


class Shading(enum.Enum):
    FLAT = "flat"
    SMOOTH = "smooth"


class Frames(TypedDict):
    start: int
    end: int


def _server(**config: Any) -> McpHttpServer:
    config.setdefault("port", 0)
    return McpHttpServer(ToolRegistry(), McpHttpConfig(**config))


@pytest.fixture
def serve():
    """Starts a server (after its tools are declared) and shuts it down after the test."""
    handles = []

    def start(server: McpHttpServer):
        handle = server.start()
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.shutdown()


# ------------------------------------------------------------------------------------------------
# Schemas from type hints


def test_schema_from_type_hints_defaults_and_docstring():
    server = _server()

    @server.tool()
    def set_frame(
        frame: int,
        fps: float = 24.0,
        camera: str = "persp",
        playing: bool = False,
        tags: List[str] = [],  # noqa: B006 - a default read into the schema, never mutated
        meta: Dict[str, int] = {},  # noqa: B006
        mode: Literal["absolute", "relative"] = "absolute",
        shading: Shading = Shading.FLAT,
        note: Optional[str] = None,
        frames: Optional[Frames] = None,
    ) -> str:
        """Set the current frame.

        More details here."""
        return "ok"

    spec = server.registry.get("set_frame")
    assert spec["description"] == "Set the current frame.\n\nMore details here."
    assert spec["input_schema"] == {
        "type": "object",
        "properties": {
            "frame": {"type": "integer"},
            "fps": {"type": "number", "default": 24.0},
            "camera": {"type": "string", "default": "persp"},
            "playing": {"type": "boolean", "default": False},
            "tags": {"type": "array", "items": {"type": "string"}, "default": []},
            "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
            "mode": {"enum": ["absolute", "relative"], "type": "string", "default": "absolute"},
            "shading": {"enum": ["flat", "smooth"], "type": "string", "default": "flat"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "frames": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}},
                        "additionalProperties": False,
                        "required": ["start", "end"],
                    },
                    {"type": "null"},
                ],
                "default": None,
            },
        },
        "required": ["frame"],
        "additionalProperties": False,
    }
    # The decorator returns the function itself: it stays callable in Python.
    assert set_frame(3) == "ok"


def test_pydantic_models_become_schemas_when_pydantic_is_installed(serve):
    pydantic = pytest.importorskip("pydantic")

    class Vec(pydantic.BaseModel):
        x: float
        y: float = 0.0

    class Move(pydantic.BaseModel):
        to: Vec
        name: str

    server = _server()

    @server.tool()
    def move(move: Move) -> dict:
        """Move a node."""
        assert isinstance(move, Move) and isinstance(move.to, Vec)
        return {"name": move.name, "x": move.to.x}

    schema = server.registry.get("move")["input_schema"]
    assert schema["properties"]["move"]["properties"]["to"] == {"$ref": "#/$defs/Vec"}
    assert schema["properties"]["move"]["required"] == ["to", "name"]
    assert set(schema["$defs"]) == {"Vec"}  # hoisted to the root, where "#/$defs/…" points
    handle = serve(server)
    result = mcp_call(handle.mcp_url(), "move", {"move": {"to": {"x": 1.5}, "name": "cube"}})
    assert result.is_error is False, result_text(result)
    assert result.structured_content == {"name": "cube", "x": 1.5}


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: _typed(lambda **kw: None), r"\*\*kw cannot be described"),
        (lambda: _typed_hint(set), "cannot build a JSON Schema for the type hint"),
        (lambda: _typed_hint(Dict[int, str]), "dict keys must be str"),
    ],
)
def test_unsupported_signatures_are_refused_at_registration(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def _typed(fn):
    fn.__name__ = "t"
    return _server().tool()(fn)


def _typed_hint(hint):
    def t(x):  # annotated below: works the same on 3.9 and later
        return x

    t.__annotations__ = {"x": hint}
    return _server().tool()(t)


def test_async_def_is_refused_at_registration_with_a_clear_message():
    server = _server()
    with pytest.raises(TypeError, match=r"tool 'bake': async def handlers are not supported; use a plain def"):

        @server.tool()
        async def bake() -> str:
            return "never"

    # Nothing half-registered is left behind.
    assert "bake" not in server.registry


def test_keyword_call_context_injection_enum_conversion_and_defaults(serve):
    server = _server()
    seen: Dict[str, Any] = {}

    @server.tool()
    def shade(node: str, ctx: ToolContext, shading: Shading = Shading.SMOOTH, verbose: bool = False) -> dict:
        """Set shading."""
        seen.update(node=node, shading=shading, verbose=verbose, tool=ctx.tool_name)
        return {"node": node, "shading": shading.value, "verbose": verbose}

    handle = serve(server)
    # FastMCP-style signature: `verbose` gets False (its default), never the whole arguments dict.
    result = mcp_call(handle.mcp_url(), "shade", {"node": "pCube1"})
    assert result.is_error is False, result_text(result)
    assert result.structured_content == {"node": "pCube1", "shading": "smooth", "verbose": False}
    assert seen == {"node": "pCube1", "shading": Shading.SMOOTH, "verbose": False, "tool": "shade"}
    result = mcp_call(handle.mcp_url(), "shade", {"node": "n", "shading": "flat", "verbose": True})
    assert seen["shading"] is Shading.FLAT and seen["verbose"] is True
    # The schema is enforced by the server before the function runs.
    result = mcp_call(handle.mcp_url(), "shade", {"node": "n", "shading": "glossy"})
    assert result.is_error is True
    assert result_text(result).startswith("invalid arguments for tool 'shade': /shading:")
    result = mcp_call(handle.mcp_url(), "shade", {"node": "n", "extra": 1})
    assert result.is_error is True


def test_title_annotations_and_schema_reach_the_official_client(serve):
    server = _server()

    @server.tool(title="Delete all keys", annotations={"destructiveHint": True, "idempotentHint": True})
    def delete_keys(node: str) -> str:
        """Delete every key of a node."""
        return f"deleted {node}"

    @server.tool(name="scene.info", annotations={"readOnlyHint": True})
    def scene_info() -> dict:
        return {"scene": "shot_010"}

    handle = serve(server)

    async def body(client):
        return (await client.list_tools()).tools

    tools = {t.name: t for t in in_session(handle.mcp_url(), body)}
    delete = tools["delete_keys"]
    assert delete.title == "Delete all keys"
    assert delete.description == "Delete every key of a node."
    assert delete.annotations.destructive_hint is True and delete.annotations.idempotent_hint is True
    assert delete.annotations.read_only_hint is None
    assert delete.input_schema["required"] == ["node"]
    assert tools["scene.info"].annotations.read_only_hint is True and tools["scene.info"].title is None
    assert server.registry.get("delete_keys")["annotations"] == {"destructiveHint": True, "idempotentHint": True}
    assert server.registry.get("delete_keys")["title"] == "Delete all keys"


def test_bad_annotations_are_refused():
    reg = ToolRegistry()
    with pytest.raises(ValueError, match=r"tool 'x': unknown annotation \"destructive\"; the MCP tool annotations are readOnlyHint, "):
        reg.register("x", annotations={"destructive": True})
    with pytest.raises(ValueError, match=r"tool 'x': annotation \"readOnlyHint\" must be True or False"):
        reg.register("x", annotations={"readOnlyHint": 1})
    assert "x" not in reg


# ------------------------------------------------------------------------------------------------
# Return values → MCP content


def test_return_values_map_to_mcp_content(serve):
    server = _server()

    @server.tool()
    def text() -> str:
        return "hello"

    @server.tool()
    def data() -> dict:
        return {"frames": [1001, 1096]}

    @server.tool()
    def items() -> list:
        return [1, "two"]

    @server.tool()
    def image() -> Image:
        return Image(PNG)

    @server.tool(mime_type="image/jpeg")
    def raw_bytes() -> bytes:
        return b"\xff\xd8\xff"

    @server.tool()
    def audio() -> Audio:
        return Audio(b"RIFF0000WAVE", "audio/wav")

    @server.tool()
    def blocks() -> list:
        return [Text("a frame:"), Image(PNG, "image/png")]

    @server.tool()
    def full() -> ToolResult:
        return ToolResult([Text("computed")], structured_content={"n": 1})

    @server.tool()
    def nothing() -> None:
        return None

    @server.tool()
    def looks_like_content() -> dict:
        return {"content": [{"type": "text", "text": "data, not content"}]}

    handle = serve(server)

    async def body(client):
        names = ["text", "data", "items", "image", "raw_bytes", "audio", "blocks", "full", "nothing",
                 "looks_like_content"]
        return {name: await client.call_tool(name, {}) for name in names}

    r = in_session(handle.mcp_url(), body)
    assert [(c.type, c.text) for c in r["text"].content] == [("text", "hello")]
    assert r["data"].structured_content == {"frames": [1001, 1096]}
    assert result_text(r["data"]) == '{"frames":[1001,1096]}'
    assert r["items"].structured_content == {"result": [1, "two"]}
    assert result_text(r["items"]) == '{"result":[1,"two"]}'
    (img,) = r["image"].content
    assert (img.type, img.mime_type, base64.b64decode(img.data)) == ("image", "image/png", PNG)
    (jpg,) = r["raw_bytes"].content
    assert (jpg.type, jpg.mime_type, base64.b64decode(jpg.data)) == ("image", "image/jpeg", b"\xff\xd8\xff")
    (wav,) = r["audio"].content
    assert (wav.type, wav.mime_type, base64.b64decode(wav.data)) == ("audio", "audio/wav", b"RIFF0000WAVE")
    assert [c.type for c in r["blocks"].content] == ["text", "image"]
    assert r["blocks"].content[0].text == "a frame:"
    assert r["full"].structured_content == {"n": 1} and result_text(r["full"]) == "computed"
    assert r["nothing"].content == [] and r["nothing"].is_error is False
    # A dict shaped like a result is still data: its JSON text plus structuredContent.
    assert r["looks_like_content"].structured_content == {"content": [{"type": "text", "text": "data, not content"}]}
    assert r["looks_like_content"].content[0].type == "text"
    for result in r.values():
        assert result.is_error is False


def test_bytes_without_a_mime_type_is_an_error_result(serve):
    server = _server()

    @server.tool()
    def raw() -> bytes:
        return b"abc"

    handle = serve(server)
    result = mcp_call(handle.mcp_url(), "raw")
    assert result.is_error is True
    assert "TypeError: tool 'raw' returned bytes: give the decorator a mime_type" in result_text(result)


def test_image_from_a_file_takes_its_mime_type_from_the_suffix(tmp_path):
    path = tmp_path / "shot.jpg"
    path.write_bytes(b"\xff\xd8")
    img = Image(path)
    assert img.to_block() == {"type": "image", "data": base64.b64encode(b"\xff\xd8").decode(), "mimeType": "image/jpeg"}


# ------------------------------------------------------------------------------------------------
# The registry's decorator and the main thread


def test_registry_tool_serves_on_every_server_of_the_registry(serve):
    registry = ToolRegistry()

    @registry.tool(title="Add")
    def add(a: int, b: int = 2) -> int:
        return a + b

    first = serve(McpHttpServer(registry, McpHttpConfig(port=0)))
    second = serve(McpHttpServer(registry, McpHttpConfig(port=0)))
    for handle in (first, second):
        result = mcp_call(handle.mcp_url(), "add", {"a": 40})
        assert (result.is_error, result_text(result)) == (False, "42")


def test_main_thread_decorator_runs_on_the_pumping_thread(serve):
    executor = MainThreadExecutor()
    server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0, main_thread_executor=executor))
    ran_on: List[int] = []

    @server.tool()
    def on_host(x: int) -> int:
        ran_on.append(threading.get_ident())
        return x * 2

    @server.tool(main_thread=False)
    def off_host(x: int) -> int:
        ran_on.append(-threading.get_ident())
        return x

    handle = serve(server)
    results: Dict[str, Any] = {}
    caller = threading.Thread(
        target=lambda: results.update(r=mcp_call(handle.mcp_url(), "on_host", {"x": 21})), daemon=True
    )
    caller.start()
    wait_for(lambda: executor.queued == 1, "the call to reach the main-thread queue")
    assert executor.pump() == 1
    caller.join(HANG_GUARD_SECONDS)
    assert result_text(results["r"]) == "42"
    assert ran_on == [threading.get_ident()]
    result = mcp_call(handle.mcp_url(), "off_host", {"x": 1})
    assert result_text(result) == "1" and ran_on[1] < 0 and -ran_on[1] != threading.get_ident()


# ------------------------------------------------------------------------------------------------
# Bad schemas are refused at registration


@pytest.mark.parametrize(
    "schema, found",
    [
        ({}, 'no "type"'),
        ({"type": "string"}, '"type": "string"'),
        ('{"properties": {}}', 'no "type"'),
    ],
)
def test_a_schema_whose_root_is_not_an_object_schema_is_refused(schema, found):
    reg = ToolRegistry()
    with pytest.raises(ValueError) as excinfo:
        reg.register("scene_info", input_schema=schema)
    assert str(excinfo.value) == (
        'tool "scene_info" has an invalid inputSchema: the root of a tool schema must be an object '
        'schema ({"type": "object", …}), found ' + found
    )
    with pytest.raises(ValueError, match='tool "scene_info" has an invalid outputSchema'):
        reg.register("scene_info", output_schema=schema)
    assert len(reg) == 0


def test_an_invalid_json_schema_is_refused_naming_the_tool():
    reg = ToolRegistry()
    with pytest.raises(ValueError, match='^tool "bad" has an invalid inputSchema: '):
        reg.register("bad", input_schema={"type": "object", "properties": {"x": {"type": 12}}})
    assert len(reg) == 0


def test_one_bad_schema_no_longer_breaks_list_tools_for_every_tool(serve):
    server = _server()

    @server.tool()
    def good() -> str:
        return "ok"

    with pytest.raises(ValueError):
        server.registry.register("bad", input_schema={})
    handle = serve(server)

    async def body(client):
        return [t.name for t in (await client.list_tools()).tools]

    assert "good" in in_session(handle.mcp_url(), body)


# ------------------------------------------------------------------------------------------------
# Errors the artist can see


def _failing_server(**config: Any) -> McpHttpServer:
    server = _server(**config)

    def load(path: str) -> str:
        raise FileNotFoundError(f"no such scene: {path}")

    @server.tool()
    def open_scene(path: str) -> str:
        try:
            return load(path)
        except FileNotFoundError as e:
            raise RuntimeError("cannot open the scene") from e

    return server


def test_handler_exceptions_are_logged_with_their_traceback_and_cause(serve, caplog):
    handle = serve(_failing_server())
    with caplog.at_level(logging.ERROR, logger="dcc_mcp_core"):
        result = mcp_call(handle.mcp_url(), "open_scene", {"path": "shot_010.ma"})
    assert result.is_error is True
    # Concise for the client, with the `raise … from` cause, and no traceback by default.
    assert result_text(result) == (
        "RuntimeError: cannot open the scene (caused by FileNotFoundError: no such scene: shot_010.ma)"
    )
    records = [r for r in caplog.records if r.name == "dcc_mcp_core"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "tool 'open_scene' raised an exception"
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    text = caplog.text
    assert "Traceback (most recent call last)" in text
    assert "FileNotFoundError: no such scene: shot_010.ma" in text
    assert "The above exception was the direct cause of the following exception" in text
    assert "in load" in text


def test_the_old_register_handler_path_logs_too(start_server, caplog):
    def boom(arguments):
        raise ValueError("bad frame")

    running = start_server(tools={"boom": boom})
    with caplog.at_level(logging.ERROR, logger="dcc_mcp_core"):
        result = mcp_call(running.url, "boom")
    assert result_text(result) == "ValueError: bad frame"
    assert [r.getMessage() for r in caplog.records if r.name == "dcc_mcp_core"] == ["tool 'boom' raised an exception"]


def test_include_traceback_sends_the_traceback_to_the_client(serve):
    cfg = McpHttpConfig(include_traceback=True)
    assert cfg.include_traceback is True and McpHttpConfig().include_traceback is False
    handle = serve(_failing_server(include_traceback=True))
    text = result_text(mcp_call(handle.mcp_url(), "open_scene", {"path": "a.ma"}))
    first, _, rest = text.partition("\n\n")
    assert first == "RuntimeError: cannot open the scene (caused by FileNotFoundError: no such scene: a.ma)"
    assert rest.startswith("Traceback (most recent call last):")
    assert "The above exception was the direct cause of the following exception" in rest
    assert rest.endswith("RuntimeError: cannot open the scene")


def test_server_warnings_reach_python_logging(caplog):
    """The server's own `tracing` warnings arrive through the `dcc_mcp_core` logger: here, a stop
    whose `shutdown_timeout` passes while a call still runs."""
    release = threading.Event()
    entered = threading.Event()
    server = _server(shutdown_timeout=0.05)

    @server.tool(main_thread=False)
    def slow() -> str:
        entered.set()
        release.wait(HANG_GUARD_SECONDS)
        return "done"

    handle = server.start()
    caller = threading.Thread(target=lambda: _quiet_call(handle.mcp_url(), "slow"), daemon=True)
    with caplog.at_level(logging.WARNING, logger="dcc_mcp_core"):
        caller.start()
        assert entered.wait(HANG_GUARD_SECONDS)
        handle.shutdown()
        release.set()
        wait_for(
            lambda: any("graceful shutdown deadline passed" in r.getMessage() for r in caplog.records),
            "the server's warning in Python logging",
        )
    caller.join(HANG_GUARD_SECONDS)
    (record,) = [r for r in caplog.records if "graceful shutdown deadline passed" in r.getMessage()]
    assert record.name == "dcc_mcp_core" and record.levelno == logging.WARNING
    assert record.getMessage().endswith("(dcc_mcp_http::serve)")


def _quiet_call(url: str, name: str) -> None:
    try:
        mcp_call(url, name)
    except BaseException:  # noqa: BLE001 - the connection is dropped by the stop; that is the point
        pass


# ------------------------------------------------------------------------------------------------
# Oversized results and dict keys


def test_an_oversized_result_is_an_is_error_result_found_before_the_rest_is_converted(start_server):
    limit = 64 * 1024
    # The unserialisable object after the big string is never reached: the size is found out first.
    running = start_server(
        tools={"huge": lambda a: ["x" * (2 * limit), object()], "fits": lambda a: "y" * 1000},
        max_response_bytes=limit,
    )
    result = mcp_call(running.url, "huge")
    assert result.is_error is True
    assert result_text(result) == (
        "the result of tool 'huge' was not sent: the result is larger than max_response_bytes "
        f"({limit} bytes) as JSON (at $[0])"
    )
    assert result_text(mcp_call(running.url, "fits")) == "y" * 1000


def test_a_deep_oversized_dict_stops_early(start_server):
    limit = 64 * 1024
    running = start_server(tools={"many": lambda a: {f"k{i}": i for i in range(100_000)}}, max_response_bytes=limit)
    result = mcp_call(running.url, "many")
    assert result.is_error is True
    assert "larger than max_response_bytes (65536 bytes)" in result_text(result)


def test_int_and_other_scalar_dict_keys_are_converted_as_json_does(start_server):
    import json

    value = {1: "a", 2.5: "b", False: "c", None: "d", "s": {7: [1]}}
    running = start_server(tools={"keys": lambda a: value})
    result = mcp_call(running.url, "keys")
    assert result.is_error is False, result_text(result)
    assert result.structured_content == json.loads(json.dumps(value))
    assert result.structured_content == {"1": "a", "2.5": "b", "false": "c", "null": "d", "s": {"7": [1]}}


@pytest.mark.skipif(not HAS_WORKFLOW, reason="built without the `workflow` feature")
def test_an_async_execution_tool_runs_as_a_job_with_its_context(serve):
    server = _server()

    @server.tool(execution="async")
    def bake(context: ToolContext, frames: int = 3) -> dict:
        """Bake frames."""
        for frame in range(1, frames + 1):
            context.report_progress(frame, frames, f"frame {frame}")
        return {"frames": frames}

    handle = serve(server)

    async def flow(client):
        accepted = await client.call_tool("bake", {"frames": 2})
        job_id = accepted.structured_content["jobId"]
        while True:
            job = await client.call_tool("jobs.get", {"jobId": job_id})
            if job.structured_content["status"] not in ("queued", "running"):
                return job.structured_content
            await asyncio.sleep(0.01)

    job = in_session(handle.mcp_url(), flow)
    assert job["status"] == "succeeded", job
    assert job["result"]["structuredContent"] == {"frames": 2}
    assert (job["progress"], job["total"], job["message"]) == (2, 2, "frame 2")
