"""The Python API of dcc_mcp_core: configuration, registry, handlers, server lifecycle, GIL and signals."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import httpx
import pytest

import dcc_mcp_core
from dcc_mcp_core import FEATURES, McpHttpConfig, McpHttpServer, McpServerHandle, ToolRegistry

from conftest import blocking_handler, HANG_GUARD_SECONDS, HAS_WORKFLOW, in_session, mcp_call, mcp_calls, result_text, sigint_as_in_a_terminal, wait_for


# ------------------------------------------------------------------------------------------------
# Package


def test_package_exports_and_features():
    assert dcc_mcp_core.__all__ == [
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
    assert isinstance(dcc_mcp_core.__version__, str) and dcc_mcp_core.__version__
    assert isinstance(FEATURES, tuple)
    assert "python-bindings" in FEATURES and "ext-module" in FEATURES
    assert set(FEATURES) <= {"python-bindings", "ext-module", "workflow", "prometheus"}


def test_extension_is_the_stable_abi_build():
    # One wheel for every DCC's Python needs a module built against the limited API: maturin names it
    # `_core.abi3.so` (plain `_core.pyd` on Windows) only when pyo3 was built with an `abi3-py3X` feature.
    core_file = os.path.basename(dcc_mcp_core._core.__file__)
    if sys.platform.startswith("win"):
        pytest.skip("Windows abi3 modules are plain `_core.pyd`")
    assert core_file == "_core.abi3.so", core_file


def test_typing_marker_and_stub_ship_with_the_package():
    package_dir = os.path.dirname(dcc_mcp_core.__file__)
    assert os.path.isfile(os.path.join(package_dir, "py.typed"))
    assert os.path.isfile(os.path.join(package_dir, "_core.pyi"))


# ------------------------------------------------------------------------------------------------
# McpHttpConfig


def test_config_defaults():
    cfg = McpHttpConfig()
    assert cfg.port == 8765
    assert cfg.host == "127.0.0.1"
    assert cfg.server_name == "dcc-mcp"
    assert cfg.server_version == dcc_mcp_core.__version__
    assert cfg.enable_prometheus is False
    assert cfg.prometheus_basic_auth is None
    assert cfg.request_timeout == 30.0
    assert cfg.session_ttl == 1800.0
    assert cfg.header_read_timeout == 10.0
    assert cfg.shutdown_timeout == 5.0
    assert cfg.max_body_bytes == 4 * 1024 * 1024
    assert cfg.max_sessions == 10_000
    assert cfg.max_sessions_per_client == 10_000
    assert cfg.max_batch_messages == 256
    assert cfg.max_response_bytes == 16 * 1024 * 1024
    assert cfg.max_connections == 256
    assert cfg.body_read_timeout == 30.0
    assert cfg.write_timeout == 30.0
    assert cfg.job_queue_capacity == 64
    assert cfg.job_concurrency == 4
    assert cfg.allowed_origins == []


def test_config_keywords_and_positional_order():
    cfg = McpHttpConfig(9000, "maya-mcp", "2.0", "0.0.0.0", True, ("u", "p"))
    assert (cfg.port, cfg.server_name, cfg.server_version, cfg.host) == (9000, "maya-mcp", "2.0", "0.0.0.0")
    assert cfg.enable_prometheus is True
    assert cfg.prometheus_basic_auth == ("u", "p")
    cfg = McpHttpConfig(
        port=0,
        request_timeout=1.5,
        session_ttl=60,
        header_read_timeout=2,
        shutdown_timeout=0.25,
        max_body_bytes=1024,
        max_sessions=7,
        max_sessions_per_client=5,
        max_batch_messages=9,
        max_response_bytes=4096,
        max_connections=11,
        body_read_timeout=0.5,
        write_timeout=2.5,
        job_queue_capacity=3,
        job_concurrency=2,
        allowed_origins=["https://studio.example"],
    )
    assert cfg.request_timeout == 1.5
    assert cfg.session_ttl == 60.0
    assert cfg.header_read_timeout == 2.0
    assert cfg.shutdown_timeout == 0.25
    assert (cfg.max_body_bytes, cfg.job_queue_capacity, cfg.job_concurrency) == (1024, 3, 2)
    assert cfg.max_sessions == 7
    assert (cfg.max_sessions_per_client, cfg.max_batch_messages, cfg.max_response_bytes, cfg.max_connections) == (
        5, 9, 4096, 11)
    assert (cfg.body_read_timeout, cfg.write_timeout) == (0.5, 2.5)
    assert cfg.allowed_origins == ["https://studio.example"]


def test_config_properties_are_writable():
    cfg = McpHttpConfig()
    cfg.port = 0
    cfg.host = "0.0.0.0"
    cfg.server_name = "blender-mcp"
    cfg.server_version = "9.9"
    cfg.enable_prometheus = True
    cfg.prometheus_basic_auth = ["scraper", "s3cret"]
    cfg.request_timeout = 3
    cfg.job_concurrency = 8
    cfg.max_sessions = 2
    cfg.max_connections = 3
    cfg.write_timeout = 0.75
    cfg.allowed_origins = ["*"]
    assert cfg.port == 0
    assert cfg.host == "0.0.0.0"
    assert cfg.server_name == "blender-mcp"
    assert cfg.server_version == "9.9"
    assert cfg.enable_prometheus is True
    assert cfg.prometheus_basic_auth == ("scraper", "s3cret")
    assert cfg.request_timeout == 3.0
    assert cfg.job_concurrency == 8
    assert cfg.max_sessions == 2
    assert (cfg.max_connections, cfg.write_timeout) == (3, 0.75)
    assert cfg.allowed_origins == ["*"]
    cfg.prometheus_basic_auth = None
    assert cfg.prometheus_basic_auth is None


def test_connection_and_memory_budgets_default_and_validate():
    cfg = McpHttpConfig(port=0)
    assert (cfg.max_streams, cfg.max_streams_per_client, cfg.max_connections_per_client) == (128, 64, 192)
    assert (cfg.max_body_bytes_in_flight, cfg.max_outbox_bytes_total) == (64 * 1024 * 1024, 64 * 1024 * 1024)
    assert (cfg.outbox_unattached_timeout, cfg.keep_alive_timeout) == (30.0, 60.0)
    assert cfg.stream_send_buffer_bytes == 65536
    cfg.max_connections = 8
    # Derived budgets follow max_connections until set.
    assert (cfg.max_streams, cfg.max_streams_per_client, cfg.max_connections_per_client) == (4, 2, 6)
    cfg.max_streams = 6
    cfg.keep_alive_timeout = 2.5
    assert (cfg.max_streams, cfg.keep_alive_timeout) == (6, 2.5)
    with pytest.raises(ValueError, match="max_streams must be below max_connections"):
        cfg.max_streams = 8
    assert cfg.max_streams == 6
    with pytest.raises(ValueError, match="max_body_bytes is larger than max_body_bytes_in_flight"):
        cfg.max_body_bytes_in_flight = 1024


def test_config_repr_never_shows_the_password():
    cfg = McpHttpConfig(port=8765, server_name="maya-mcp", enable_prometheus=True,
                        prometheus_basic_auth=("scraper", "change-me"))
    text = repr(cfg)
    assert "change-me" not in text
    assert text.startswith("McpHttpConfig(host='127.0.0.1', port=8765, server_name='maya-mcp', ")
    assert "enable_prometheus=True, prometheus_basic_auth=('scraper', '********')" in text
    assert "change-me" not in str(cfg)


def test_config_repr_shows_every_option():
    import inspect

    cfg = McpHttpConfig(port=0, max_pending_client_requests=3, max_log_messages_per_sec=7,
                        max_request_state_bytes=4096, runtime_threads=1)
    options = sorted(name for name, value in vars(McpHttpConfig).items() if inspect.isgetsetdescriptor(value))
    text = repr(cfg)
    assert [name for name in options if f" {name}=" not in text and f"({name}=" not in text] == []
    assert ("max_pending_client_requests=3, max_log_messages_per_sec=7, max_request_state_bytes=4096, "
            "runtime_threads=1)") in text
    assert "runtime_threads=None)" in repr(McpHttpConfig(runtime_threads=None))


def test_client_budgets_and_runtime_threads_are_read_write_and_checked():
    cfg = McpHttpConfig()
    assert (cfg.max_pending_client_requests, cfg.max_log_messages_per_sec, cfg.max_request_state_bytes,
            cfg.runtime_threads) == (16, 100, 65536, 2)
    cfg.max_pending_client_requests, cfg.max_log_messages_per_sec, cfg.max_request_state_bytes = 2, 5, 8192
    cfg.runtime_threads = None
    assert (cfg.max_pending_client_requests, cfg.max_log_messages_per_sec, cfg.max_request_state_bytes,
            cfg.runtime_threads) == (2, 5, 8192, None)
    for name in ("max_pending_client_requests", "max_log_messages_per_sec", "max_request_state_bytes",
                 "runtime_threads"):
        with pytest.raises(ValueError, match=f"{name} must be"):
            setattr(cfg, name, 0)
    assert (cfg.max_pending_client_requests, cfg.runtime_threads) == (2, None)
    with pytest.raises(ValueError, match="runtime_threads must be"):
        McpHttpConfig(runtime_threads=0)
    assert McpHttpServer(ToolRegistry()).config.runtime_threads == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc/self/task")
@pytest.mark.parametrize("threads, expected", [("", 2), ("runtime_threads=1", 1), ("runtime_threads=3", 3)])
def test_the_runtime_has_runtime_threads_threads(threads, expected):
    # A child process: no other server's threads (of earlier tests) come or go while it counts.
    script = textwrap.dedent(f"""
        import os
        from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

        def runtime_threads():
            names = []
            for tid in os.listdir("/proc/self/task"):
                with open(f"/proc/self/task/{{tid}}/comm") as f:
                    names.append(f.read().strip())
            return names.count("dcc-mcp-http")

        before = runtime_threads()
        handle = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0, {threads})).start()
        print(before, runtime_threads())
        handle.shutdown()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=HANG_GUARD_SECONDS, check=True).stdout.split()
    assert out == ["0", str(expected)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"port": -1}, "port must be an integer from 0 to 65535 (0 picks a free port), got -1"),
        ({"port": 65536}, "port must be an integer from 0 to 65535 (0 picks a free port), got 65536"),
        ({"prometheus_basic_auth": ("scraper",)}, "prometheus_basic_auth must be None or a (username, password)"),
        ({"prometheus_basic_auth": ("scraper", "a", "b")}, "prometheus_basic_auth must be None or a (username, password)"),
        ({"prometheus_basic_auth": "scraper:pw"}, "prometheus_basic_auth must be None or a (username, password)"),
        ({"prometheus_basic_auth": (1, 2)}, "prometheus_basic_auth must be None or a (username, password)"),
        ({"prometheus_basic_auth": ("", "pw")}, "prometheus_basic_auth must be a (username, password) tuple of two non-empty strings"),
        ({"prometheus_basic_auth": ("scraper", "")}, "prometheus_basic_auth must be a (username, password) tuple of two non-empty strings"),
        ({"prometheus_basic_auth": ("a:b", "pw")}, "must not contain ':'"),
        ({"request_timeout": 0}, "request_timeout must be a finite number of seconds greater than 0, got 0"),
        ({"session_ttl": -5}, "session_ttl must be a finite number of seconds greater than 0, got -5"),
        ({"shutdown_timeout": float("nan")}, "shutdown_timeout must be a finite number of seconds greater than 0"),
        ({"header_read_timeout": float("inf")}, "header_read_timeout must be a finite number of seconds greater than 0"),
        ({"job_queue_capacity": 0}, "job_queue_capacity must be an integer of at least 1, got 0"),
        ({"job_concurrency": -2}, "job_concurrency must be an integer of at least 1, got -2"),
        ({"max_body_bytes": 0}, "max_body_bytes must be an integer of at least 1, got 0"),
        ({"max_sessions": 0}, "max_sessions must be an integer of at least 1, got 0"),
        ({"max_sessions_per_client": 0}, "max_sessions_per_client must be an integer of at least 1, got 0"),
        ({"max_batch_messages": -1}, "max_batch_messages must be an integer of at least 1, got -1"),
        ({"max_connections": 0}, "max_connections must be an integer of at least 1, got 0"),
        ({"max_response_bytes": 4095}, "max_response_bytes is below 4096: it must be at least 4096"),
        ({"body_read_timeout": 0}, "body_read_timeout must be a finite number of seconds greater than 0, got 0"),
        ({"write_timeout": -1}, "write_timeout must be a finite number of seconds greater than 0, got -1"),
        ({"allowed_origins": ["studio.example"]}, 'allowed origin "studio.example" is not an origin'),
        ({"host": ""}, "host is empty"),
        ({"server_name": "  "}, "server_name is empty"),
    ],
)
def test_config_rejects_bad_values_with_clear_messages(kwargs, message):
    with pytest.raises(ValueError) as excinfo:
        McpHttpConfig(**kwargs)
    assert message in str(excinfo.value)


def test_failed_assignment_raises_and_keeps_the_old_value():
    cfg = McpHttpConfig(port=1234, prometheus_basic_auth=("u", "p"))
    with pytest.raises(ValueError, match="port must be an integer from 0 to 65535"):
        cfg.port = 70000
    with pytest.raises(ValueError, match="prometheus_basic_auth"):
        cfg.prometheus_basic_auth = ("only-user",)
    with pytest.raises(ValueError, match="is not an origin"):
        cfg.allowed_origins = ["ftp://x"]
    with pytest.raises(ValueError, match="job_concurrency"):
        cfg.job_concurrency = 0
    with pytest.raises(ValueError, match="max_response_bytes is below 4096"):
        cfg.max_response_bytes = 100
    assert cfg.max_response_bytes == 16 * 1024 * 1024
    assert cfg.port == 1234
    assert cfg.prometheus_basic_auth == ("u", "p")
    assert cfg.allowed_origins == []
    assert cfg.job_concurrency == 4


def test_config_job_budgets():
    cfg = McpHttpConfig()
    assert cfg.max_jobs_per_session == 16
    assert cfg.job_deadline is None
    assert cfg.max_job_result_bytes == 4 * 1024 * 1024
    assert (cfg.max_finished_jobs, cfg.max_finished_job_bytes) == (1000, 64 * 1024 * 1024)
    assert cfg.max_notification_result_bytes == 64 * 1024
    assert cfg.max_outbox_bytes == 1024 * 1024
    cfg = McpHttpConfig(max_jobs_per_session=2, job_deadline=1.5, max_job_result_bytes=100,
                        max_finished_jobs=3, max_finished_job_bytes=1000,
                        max_notification_result_bytes=10, max_outbox_bytes=20)
    assert (cfg.max_jobs_per_session, cfg.job_deadline, cfg.max_job_result_bytes) == (2, 1.5, 100)
    assert (cfg.max_finished_jobs, cfg.max_finished_job_bytes) == (3, 1000)
    assert (cfg.max_notification_result_bytes, cfg.max_outbox_bytes) == (10, 20)
    assert "max_jobs_per_session=2, job_deadline=1.5, max_job_result_bytes=100" in repr(cfg)
    cfg.job_deadline = None
    assert cfg.job_deadline is None
    with pytest.raises(ValueError, match="job_deadline must be a finite number of seconds greater than 0"):
        cfg.job_deadline = 0
    with pytest.raises(ValueError, match="max_jobs_per_session must be an integer of at least 1, got 0"):
        cfg.max_jobs_per_session = 0
    # A result budget larger than the retention budget could never be kept: refused, value unchanged.
    with pytest.raises(ValueError, match="max_job_result_bytes is larger than max_finished_job_bytes"):
        cfg.max_job_result_bytes = 2000
    assert cfg.max_job_result_bytes == 100
    with pytest.raises(ValueError, match="max_notification_result_bytes is larger than max_outbox_bytes"):
        McpHttpConfig(max_notification_result_bytes=2048, max_outbox_bytes=1024)


# ------------------------------------------------------------------------------------------------
# ToolRegistry


def test_registry_register_list_get_unregister():
    reg = ToolRegistry()
    assert len(reg) == 0
    reg.register("b_tool", description="second", input_schema={"type": "object", "properties": {"x": {"type": "integer"}}})
    reg.register("a_tool", input_schema='{"type": "object", "required": ["y"], "properties": {"y": {"type": "string"}}}',
                 output_schema={"type": "object"})
    assert len(reg) == 2
    assert "a_tool" in reg and "missing" not in reg
    assert reg.names() == ["a_tool", "b_tool"]
    listed = reg.list()
    assert [t["name"] for t in listed] == ["a_tool", "b_tool"]
    a = reg.get("a_tool")
    assert a == {
        "name": "a_tool",
        "description": "",
        "input_schema": {"type": "object", "required": ["y"], "properties": {"y": {"type": "string"}}},
        "output_schema": {"type": "object"},
        "execution": "sync",
        "title": None,
        "annotations": None,
    }
    assert reg.get("b_tool")["description"] == "second"
    assert reg.get("b_tool")["output_schema"] is None
    assert reg.get("missing") is None
    assert reg.unregister("a_tool") is True
    assert reg.unregister("a_tool") is False
    assert reg.names() == ["b_tool"]
    assert repr(reg) == "ToolRegistry(['b_tool'])"


def test_registry_rejects_bad_registrations():
    reg = ToolRegistry()
    reg.register("dup")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("dup")
    with pytest.raises(ValueError, match="invalid tool name"):
        reg.register("")
    with pytest.raises(ValueError, match="invalid tool name"):
        reg.register("bad\nname")
    with pytest.raises(ValueError, match="tool name \"<unknown>\" is reserved"):
        reg.register("<unknown>")
    with pytest.raises(ValueError, match="the `jobs.` prefix belongs to the built-in job tools"):
        reg.register("jobs.mine")
    with pytest.raises(ValueError, match="input_schema is not valid JSON"):
        reg.register("t1", input_schema="{not json")
    with pytest.raises(ValueError, match="input_schema must be a JSON Schema object"):
        reg.register("t2", input_schema="[1, 2]")
    with pytest.raises(ValueError, match="invalid"):
        reg.register("t3", input_schema={"type": "no-such-type"})
    with pytest.raises(TypeError, match="input_schema must be a dict or a JSON string"):
        reg.register("t4", input_schema=42)
    with pytest.raises(ValueError, match='execution must be "sync" or "async", got "later"'):
        reg.register("t5", execution="later")
    assert reg.names() == ["dup"]


def test_async_execution_needs_workflow():
    reg = ToolRegistry()
    if HAS_WORKFLOW:
        reg.register("job", execution="async")
        assert reg.get("job")["execution"] == "async"
    else:
        with pytest.raises(ValueError, match="workflow"):
            reg.register("job", execution="async")


def test_tool_names_with_quotes_backslashes_and_unicode_round_trip():
    reg = ToolRegistry()
    names = ['say "hi"', "back\\slash", "ツール-ü", "emoji 🎬"]
    for n in names:
        reg.register(n)
    assert reg.names() == sorted(names)
    for n in names:
        assert reg.get(n)["name"] == n


# ------------------------------------------------------------------------------------------------
# Handlers through the official MCP client


def test_handler_gets_a_dict_and_results_map_to_mcp_content(start_server):
    seen = []

    def echo(arguments):
        seen.append(arguments)
        return {"echo": arguments, "n": 1, "pi": 3.5, "ok": True, "none": None, "list": [1, "a"]}

    running = start_server(tools={"echo": echo, "text": lambda a: "plain text", "number": lambda a: 42})
    echo_r, text_r, number_r = mcp_calls(
        running.url,
        [("echo", {"nested": {"k": [1, 2.5, "ü"]}, "flag": False}), ("text", {}), ("number", {})],
    )
    assert seen == [{"nested": {"k": [1, 2.5, "ü"]}, "flag": False}]
    assert echo_r.is_error is False
    assert echo_r.structured_content == {
        "echo": {"nested": {"k": [1, 2.5, "ü"]}, "flag": False},
        "n": 1, "pi": 3.5, "ok": True, "none": None, "list": [1, "a"],
    }
    assert json.loads(result_text(echo_r)) == echo_r.structured_content
    assert text_r.is_error is False and result_text(text_r) == "plain text"
    assert number_r.is_error is False and result_text(number_r) == "42"


def test_exception_becomes_is_error_with_its_message(start_server):
    def boom(arguments):
        raise ValueError(f"cannot open scene {arguments['scene']!r}")

    class Quiet(Exception):
        pass

    def quiet(arguments):
        raise Quiet()

    running = start_server(tools={"boom": boom, "quiet": quiet})
    boom_r, quiet_r = mcp_calls(running.url, [("boom", {"scene": "shot_010.ma"}), ("quiet", {})])
    assert boom_r.is_error is True
    assert result_text(boom_r) == "ValueError: cannot open scene 'shot_010.ma'"
    assert quiet_r.is_error is True
    assert result_text(quiet_r) == "Quiet"


@pytest.mark.parametrize(
    "value, reason",
    [
        ({1, 2}, "object of type 'set' is not JSON serializable (at $)"),
        ({"scene": object()}, "object of type 'object' is not JSON serializable (at $.scene)"),
        ({"a": [1, float("nan")]}, "float NaN is not valid JSON (NaN and infinities are not) (at $.a[1])"),
        ({(1, 2): "tuple key"}, "dict keys must be str, int, float, bool or None, found a key of type 'tuple' (at $)"),
        (2**70, "int does not fit in 64 bits; pass it as a string (at $)"),
        ("\ud800", "str is not valid UTF-8 (lone surrogate?) (at $)"),
    ],
)
def test_non_serialisable_return_is_an_error_result(start_server, value, reason):
    running = start_server(tools={"bad": lambda a: value})
    result = mcp_call(running.url, "bad")
    assert result.is_error is True
    assert result_text(result) == (
        f"the handler of tool 'bad' returned a value that is not JSON-serialisable: {reason}"
    )


def test_async_def_handler_is_refused_clearly(start_server):
    async def coroutine_handler(arguments):
        return "never"

    running = start_server(tools={"co": coroutine_handler})
    result = mcp_call(running.url, "co")
    assert result.is_error is True
    assert result_text(result) == (
        "the handler of tool 'co' returned an awaitable: handlers are plain functions "
        "(they already run on a server thread); use `def`, not `async def`"
    )


def test_register_handler_accepts_keywords(start_server):
    running = start_server(tools={"kw": lambda a: "first"})
    running.server.register_handler(name="kw", fn=lambda a: "second")
    assert result_text(mcp_call(running.url, "kw")) == "second"


def test_self_referencing_return_is_refused_not_a_crash(start_server):
    loop = []
    loop.append(loop)
    running = start_server(tools={"loop": lambda a: loop})
    result = mcp_call(running.url, "loop")
    assert result.is_error is True
    assert "nested more than 256 levels deep" in result_text(result)


def test_register_handler_errors(start_server):
    reg = ToolRegistry()
    reg.register("known")
    server = McpHttpServer(reg, McpHttpConfig(port=0))
    with pytest.raises(ValueError, match='no tool named "unknown" is registered'):
        server.register_handler("unknown", lambda a: a)
    with pytest.raises(TypeError, match="the handler for tool 'known' must be callable, got int"):
        server.register_handler("known", 42)
    server.register_handler("known", lambda a: a)


def test_registry_is_shared_with_the_server(start_server):
    running = start_server(tools={"first": lambda a: "1"})
    running.registry.register("second", input_schema={"type": "object"})
    running.server.register_handler("second", lambda a: "2")
    assert running.server.registry.names() == ["first", "second"]
    assert result_text(mcp_call(running.url, "second")) == "2"


def test_legacy_mode_client_works(start_server):
    running = start_server(tools={"ping_tool": lambda a: "pong"})
    (result,) = mcp_calls(running.url, [("ping_tool", {})], mode="legacy")
    assert result_text(result) == "pong"


def _find_mcp_error(exc: BaseException, kind: type) -> BaseException | None:
    """The first `kind` inside `exc` or its (nested) exception groups."""
    if isinstance(exc, kind):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _find_mcp_error(inner, kind)
        if found is not None:
            return found
    return None


# Sessions are the session era's (`legacy`); in `auto` mode the client speaks 2026-07-28, sessionless.
@pytest.mark.parametrize("mode", ["legacy"])
def test_initialize_past_max_sessions_is_an_mcp_error_for_the_sdk(start_server, mode):
    from mcp import Client
    from mcp.shared.exceptions import MCPError

    # The SDK holds its session's GET stream open: the session is busy, so it is not evicted.
    running = start_server(tools={"ping_tool": lambda a: "pong"}, max_sessions=1)

    async def body() -> None:
        async with Client(running.url, mode=mode) as first:
            with pytest.raises(BaseException) as excinfo:
                async with Client(running.url, mode=mode):
                    pass
            error = _find_mcp_error(excinfo.value, MCPError)
            assert error is not None, repr(excinfo.value)
            assert error.code == -32000
            assert error.message == (
                "Service Unavailable: too many sessions (max_sessions = 1) and every one is busy; "
                "end unused sessions with DELETE /mcp or retry later"
            )
            assert result_text(await first.call_tool("ping_tool", {})) == "pong"

    asyncio.run(asyncio.wait_for(body(), HANG_GUARD_SECONDS))


# ------------------------------------------------------------------------------------------------
# Lifecycle


def test_handle_properties_and_context_manager():
    reg = ToolRegistry()
    server = McpHttpServer(reg, McpHttpConfig(port=0))
    with server.start() as handle:
        assert isinstance(handle, McpServerHandle)
        assert handle.port > 0
        assert handle.bind_addr == f"127.0.0.1:{handle.port}"
        assert handle.mcp_url() == f"http://127.0.0.1:{handle.port}/mcp"
        assert handle.metrics_url() == f"http://127.0.0.1:{handle.port}/metrics"
        assert handle.is_running is True
        assert repr(handle) == f"McpServerHandle(bind_addr='127.0.0.1:{handle.port}', running)"
        port = handle.port
    assert handle.is_running is False
    handle.shutdown()  # idempotent
    assert handle.wait() is True
    # The port is free again once shutdown() returned.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_default_config_when_none_given():
    server = McpHttpServer(ToolRegistry())
    assert server.config.port == 8765
    assert repr(server) == "McpHttpServer(host='127.0.0.1', port=8765, tools=0)"


def test_second_start_raises():
    server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0))
    handle = server.start()
    try:
        with pytest.raises(RuntimeError, match="server already started"):
            server.start()
    finally:
        handle.shutdown()


def test_port_in_use_raises_oserror():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=port))
        with pytest.raises(OSError) as excinfo:
            server.start()
        assert excinfo.value.errno == errno.EADDRINUSE
        assert f"cannot bind 127.0.0.1:{port}" in str(excinfo.value)
        assert "is the port already in use?" in str(excinfo.value)


def test_wait_with_timeout_returns_false_while_running(start_server):
    running = start_server()
    assert running.handle.wait(timeout=0.05) is False
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds"):
        running.handle.wait(timeout=-1)


# ------------------------------------------------------------------------------------------------
# GIL and threads


def test_gil_is_released_while_a_handler_blocks_and_during_shutdown(start_server):
    """The handler blocks until the main thread (which needs the GIL to run) releases it; if the
    server held the GIL while waiting on the call, this would deadlock (caught by the hang guard)."""
    entered, release, blocking = blocking_handler("released")
    running = start_server(tools={"blocking": blocking})
    results = []
    caller = threading.Thread(target=lambda: results.append(mcp_call(running.url, "blocking")))
    caller.start()
    assert entered.wait(HANG_GUARD_SECONDS)
    release.set()
    caller.join(HANG_GUARD_SECONDS)
    assert not caller.is_alive()
    assert result_text(results[0]) == "released"

    # A handler still running when shutdown() is called finishes and its answer is delivered:
    # shutdown() releases the GIL while it waits for in-flight requests. (Raw JSON-RPC here: the
    # MCP client also holds an SSE stream, whose closing at shutdown is not what this test is about.)
    entered.clear()
    release.clear()
    http = httpx.Client(timeout=HANG_GUARD_SECONDS)
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    init = http.post(running.url, headers=headers, json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}})
    headers["Mcp-Session-Id"] = init.headers["mcp-session-id"]
    answers = []
    caller = threading.Thread(target=lambda: answers.append(http.post(running.url, headers=headers, json={
        "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "blocking", "arguments": {}}})))
    caller.start()
    assert entered.wait(HANG_GUARD_SECONDS)
    threading.Timer(0.05, release.set).start()
    running.handle.shutdown()
    caller.join(HANG_GUARD_SECONDS)
    assert not caller.is_alive()
    assert answers[0].status_code == 200
    assert answers[0].json()["result"] == {"content": [{"type": "text", "text": "released"}], "isError": False}


def test_handlers_run_on_server_threads_concurrently_with_python(start_server):
    thread_names = []
    running = start_server(tools={"where": lambda a: thread_names.append(threading.current_thread().ident) or "ok"})
    mcp_calls(running.url, [("where", {})] * 3)
    assert len(thread_names) == 3
    assert threading.main_thread().ident not in thread_names


def _blocked_in_futex(pid: int) -> bool:
    """Whether the main thread of `pid` sleeps in a futex wait (wait() waits on a condition variable)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/wchan") as wchan:
            return "futex" in wchan.read()
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="looks at the child's main thread through /proc")
def test_ctrl_c_interrupts_wait():
    script = textwrap.dedent(
        """
        import sys
        from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry
        server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0))
        with server.start() as handle:
            try:
                print(handle.port, flush=True)
                handle.wait()
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                sys.exit(0)
        sys.exit(3)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             preexec_fn=sigint_as_in_a_terminal)
    try:
        port_line = child.stdout.readline()
        assert port_line.strip().isdigit(), port_line
        # Send the signal once the child's main thread blocks inside wait().
        wait_for(lambda: _blocked_in_futex(child.pid), "the child to enter wait()")
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=HANG_GUARD_SECONDS)
    finally:
        if child.poll() is None:
            child.kill()
    assert out.strip() == "interrupted"
    assert child.returncode == 0


# ------------------------------------------------------------------------------------------------
# ToolContext: progress and cancellation


def test_context_is_passed_on_request():
    seen = {}

    def with_ctx(arguments, context):
        seen["name"] = context.tool_name
        seen["cancelled"] = context.is_cancelled
        seen["repr"] = repr(context)
        context.report_progress(1, 2, "half")  # no progress token: goes nowhere, must not fail
        return "ok"

    reg = ToolRegistry()
    reg.register("ctx tool")
    server = McpHttpServer(reg, McpHttpConfig(port=0))
    server.register_handler("ctx tool", with_ctx, pass_context=True)
    with server.start() as handle:
        assert result_text(mcp_call(handle.mcp_url(), "ctx tool")) == "ok"
    assert seen == {"name": "ctx tool", "cancelled": False,
                    "repr": "ToolContext(tool_name='ctx tool', is_cancelled=False)"}


@pytest.mark.skipif(not HAS_WORKFLOW, reason="built without the `workflow` feature")
def test_job_progress_and_cancellation_reach_the_handler():
    started = threading.Event()

    def bake(arguments, context):
        context.report_progress(1, 4, "frame 1 of 4")
        started.set()
        for _ in range(int(HANG_GUARD_SECONDS / 0.01)):
            if context.is_cancelled:
                raise RuntimeError("stopped: cancelled by the client")
            threading.Event().wait(0.01)
        return "not cancelled"

    reg = ToolRegistry()
    reg.register("bake", execution="async")
    server = McpHttpServer(reg, McpHttpConfig(port=0))
    server.register_handler("bake", bake, pass_context=True)

    async def flow(client):
        accepted = await client.call_tool("bake", {})
        job_id = accepted.structured_content["jobId"]
        assert await asyncio.to_thread(started.wait, HANG_GUARD_SECONDS)
        running = await client.call_tool("jobs.get", {"jobId": job_id})
        await client.call_tool("jobs.cancel", {"jobId": job_id})
        while True:
            final = await client.call_tool("jobs.get", {"jobId": job_id})
            if final.structured_content["status"] not in ("queued", "running"):
                return running.structured_content, final.structured_content
            await asyncio.sleep(0.01)

    with server.start() as handle:
        during, final = in_session(handle.mcp_url(), flow)
    assert during["status"] == "running"
    assert (during["progress"], during["total"], during["message"]) == (1, 4, "frame 1 of 4")
    assert final["status"] == "cancelled"
    assert final["error"] == "RuntimeError: stopped: cancelled by the client"
