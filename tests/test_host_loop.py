"""Host safety on the simulated DCC main loop of test_main_thread.py: a pump called from inside a
main-thread handler runs nothing, `on_pending` lets the host pump at once, `shutdown()` from a
main-thread handler fails clearly instead of freezing the host, and Ctrl-C reaches the script that
pumps."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any, Dict, List

import pytest

from dcc_mcp_core import MainThreadExecutor, McpHttpConfig, McpHttpServer, ToolRegistry

from conftest import HANG_GUARD_SECONDS, mcp_call, result_text, sigint_as_in_a_terminal, wait_for
from test_main_thread import DccHost, dcc  # noqa: F401 - `dcc` is a fixture


def _call_in_thread(url: str, name: str, results: Dict[str, Any]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.__setitem__(name, mcp_call(url, name)), daemon=True)
    thread.start()
    return thread


def test_a_pump_inside_a_main_thread_handler_runs_nothing(dcc):  # noqa: F811
    """A modal dialog or processEvents() inside a handler makes the host pump again: that pump must
    not run the next queued tool in the middle of the first one."""
    order: List[str] = []
    nested: List[int] = []
    state: Dict[str, Any] = {}

    def outer(arguments):
        order.append("outer started")
        nested.append(state["executor"].pump())  # the host's event loop, spun from inside the tool
        order.append("outer finished")
        return "outer"

    def inner(arguments):
        order.append("inner")
        return "inner"

    handle, executor, host = dcc(tools={"outer": outer, "inner": inner})
    state["executor"] = executor
    host.pause()
    results: Dict[str, Any] = {}
    callers = [_call_in_thread(handle.mcp_url(), "outer", results)]
    wait_for(lambda: executor.queued == 1, "outer to be queued")
    callers.append(_call_in_thread(handle.mcp_url(), "inner", results))
    wait_for(lambda: executor.queued == 2, "inner to be queued")
    host.resume()
    for caller in callers:
        caller.join(HANG_GUARD_SECONDS)
    assert nested == [0]
    assert order == ["outer started", "outer finished", "inner"]
    assert result_text(results["outer"]) == "outer"
    assert result_text(results["inner"]) == "inner"


def test_on_pending_fires_when_the_queue_becomes_non_empty():
    fired: List[str] = []
    executor = MainThreadExecutor(on_pending=lambda: fired.append(threading.current_thread().name))
    registry = ToolRegistry()
    registry.register("tool", input_schema={"type": "object"})
    server = McpHttpServer(registry, McpHttpConfig(port=0, main_thread_executor=executor))
    server.register_handler("tool", lambda arguments: "ran")
    host = DccHost(executor)
    handle = server.start()
    try:
        host.pause()
        results: Dict[str, Any] = {}
        first = _call_in_thread(handle.mcp_url(), "tool", results)
        wait_for(lambda: executor.queued == 1, "the first call to be queued")
        wait_for(lambda: len(fired) == 1, "on_pending for the first call")
        assert fired == ["dcc-mcp-on-pending"]  # a thread of the executor's, never a server thread
        second_results: Dict[str, Any] = {}
        second = _call_in_thread(handle.mcp_url(), "tool", second_results)
        wait_for(lambda: executor.queued == 2, "the second call to be queued")
        assert len(fired) == 1  # the queue was not empty: no new notification
        host.resume()
        first.join(HANG_GUARD_SECONDS)
        second.join(HANG_GUARD_SECONDS)
        assert result_text(results["tool"]) == "ran" and result_text(second_results["tool"]) == "ran"
        host.pause()
        third: Dict[str, Any] = {}
        caller = _call_in_thread(handle.mcp_url(), "tool", third)
        wait_for(lambda: len(fired) == 2, "on_pending once the queue was empty again")
        host.resume()
        caller.join(HANG_GUARD_SECONDS)
        assert result_text(third["tool"]) == "ran"
    finally:
        host.stop()
        handle.shutdown()


def test_on_pending_must_be_callable():
    with pytest.raises(TypeError, match="on_pending must be callable, got int"):
        MainThreadExecutor(on_pending=3)  # type: ignore[arg-type]


def test_shutdown_from_a_main_thread_handler_fails_at_once_and_the_server_keeps_serving(dcc):  # noqa: F811
    state: Dict[str, Any] = {}

    def stop_server(arguments):
        try:
            state["handle"].shutdown()
        except RuntimeError as err:
            return f"refused: {err}"
        return "stopped"

    handle, executor, host = dcc(tools={"stop_server": stop_server}, shutdown_timeout=0.5)
    state["handle"] = handle
    text = result_text(mcp_call(handle.mcp_url(), "stop_server"))
    assert text.startswith("refused: shutdown() was called from inside a main-thread handler of this server")
    assert handle.is_running
    # From outside a handler it still works.
    handle.shutdown()
    assert not handle.is_running


NESTED = (
    "tool 'inner' was not run: it was called from inside the main-thread tool '{outer}' of this same "
    "process, which holds the host's main thread while it waits for the answer, and only that thread can "
    "run 'inner'. Call its function directly from '{outer}', or register 'inner' with main_thread=False"
)


def _stateless_call(url: str, name: str) -> str:
    """One 2026-07-28 `tools/call` over a plain blocking socket with a timeout (urllib: `poll`, then
    `recv`); returns the text of the result."""
    import json
    import urllib.request

    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": name, "arguments": {},
                       "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                 "io.modelcontextprotocol/clientCapabilities": {}}}}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": name})
    with urllib.request.urlopen(request, timeout=HANG_GUARD_SECONDS) as response:
        result = json.loads(response.read())["result"]
    return "".join(block.get("text", "") for block in result["content"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the nested call is recognised from /proc (Linux)")
def test_a_nested_call_from_a_main_thread_tool_fails_at_once_instead_of_deadlocking(dcc):  # noqa: F811
    """A main-thread tool calling a main-thread tool of its own server over MCP would hold the host's
    main thread until the inner call's request_timeout. The inner call is refused at once, through
    an event loop (the official client, `asyncio`) and through a blocking socket (`urllib`); a call
    from another thread of the process while the main thread is busy still waits and runs."""
    state: Dict[str, Any] = {}
    release, started = threading.Event(), threading.Event()

    def inner(arguments):
        return "inner ran"

    def outer_async(arguments):
        return result_text(mcp_call(state["url"], "inner"))

    def outer_sync(arguments):
        return _stateless_call(state["url"], "inner")

    def busy(arguments):
        started.set()
        release.wait(HANG_GUARD_SECONDS)
        return "busy done"

    handle, executor, host = dcc(tools={"inner": inner, "outer_async": outer_async, "outer_sync": outer_sync,
                                        "busy": busy}, request_timeout=HANG_GUARD_SECONDS / 2)
    state["url"] = handle.mcp_url()
    assert result_text(mcp_call(handle.mcp_url(), "outer_async")) == NESTED.format(outer="outer_async")
    assert result_text(mcp_call(handle.mcp_url(), "outer_sync")) == NESTED.format(outer="outer_sync")
    # Not nested: the host is busy in a tool that waits on an event, and this process's other thread
    # calls `inner`; it waits for the main thread and runs once `busy` returns.
    results: Dict[str, Any] = {}
    busy_call = _call_in_thread(handle.mcp_url(), "busy", results)
    wait_for(started.is_set, "busy to start on the main thread")
    inner_call = _call_in_thread(handle.mcp_url(), "inner", results)
    wait_for(lambda: executor.queued == 1, "inner to be queued behind busy")
    release.set()
    busy_call.join(HANG_GUARD_SECONDS)
    inner_call.join(HANG_GUARD_SECONDS)
    assert (result_text(results["busy"]), result_text(results["inner"])) == ("busy done", "inner ran")


PUMPING_SCRIPT = textwrap.dedent(
    r"""
    import http.client, json, os, signal, sys, threading, time
    from dcc_mcp_core import MainThreadExecutor, McpHttpConfig, McpHttpServer, ToolRegistry

    executor = MainThreadExecutor()
    registry = ToolRegistry()
    registry.register("interrupted", input_schema={"type": "object"})
    server = McpHttpServer(registry, McpHttpConfig(port=0, main_thread_executor=executor))
    answers = []

    def interrupted(arguments):
        os.kill(os.getpid(), signal.SIGINT)  # the artist presses Ctrl-C while the tool runs
        time.sleep(5)
        return "not interrupted"

    server.register_handler("interrupted", interrupted)
    handle = server.start()

    def post(connection, body, session=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-06-18"}
        if session:
            headers["Mcp-Session-Id"] = session
        connection.request("POST", "/mcp", json.dumps(body), headers)
        response = connection.getresponse()
        return response.getheader("Mcp-Session-Id"), response.read()

    def call():
        connection = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=60)
        session, _ = post(connection, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        post(connection, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        answers.append(post(connection, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                         "params": {"name": "interrupted", "arguments": {}}}, session)[1])

    caller = threading.Thread(target=call)
    caller.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the host's main loop
            executor.pump()
            time.sleep(0.005)
        print("pump loop ended without KeyboardInterrupt", flush=True)
    except KeyboardInterrupt:
        caller.join(30)
        print("KeyboardInterrupt reached the script", flush=True)
        print(answers[0].decode(), flush=True)
    handle.shutdown()
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to itself")
def test_ctrl_c_in_a_main_thread_handler_reaches_the_pumping_script(tmp_path):
    script = tmp_path / "host.py"
    script.write_text(PUMPING_SCRIPT)
    child = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           timeout=HANG_GUARD_SECONDS, cwd=str(tmp_path), preexec_fn=sigint_as_in_a_terminal)
    lines = child.stdout.splitlines()
    assert lines[0] == "KeyboardInterrupt reached the script", (child.stdout, child.stderr)
    assert "tool 'interrupted' was interrupted on the host's main thread (KeyboardInterrupt)" in lines[1]
    assert '"isError":true' in lines[1]
    assert child.returncode == 0, child.stderr
