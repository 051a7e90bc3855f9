"""What a DCC host needs from the package besides serving: handler threads it can count on, `wait()`
that costs nothing, and servers that stop when the interpreter exits."""

from __future__ import annotations

import gc
import os
import socket
import sys
import threading
import weakref

import pytest

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

from conftest import HANG_GUARD_SECONDS, blocking_handler, mcp_call, mcp_calls, result_text, wait_for


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts OS threads through /proc")
def test_wait_starts_no_thread_per_call(start_server):
    running = start_server()
    assert running.handle.wait(timeout=0.01) is False
    before = _os_threads()
    for _ in range(20):
        assert running.handle.wait(timeout=0.01) is False
    assert _os_threads() == before


def test_wait_zero_only_looks(start_server):
    running = start_server()
    assert running.handle.wait(0) is False
    assert running.handle.wait(timeout=0.0) is False
    running.handle.shutdown()
    assert running.handle.wait(0) is True


def test_wait_returns_once_another_thread_shuts_the_server_down(start_server):
    running = start_server()
    stopper = threading.Timer(0.05, running.handle.shutdown)
    stopper.start()
    assert running.handle.wait(timeout=HANG_GUARD_SECONDS) is True
    stopper.join()


def test_worker_handlers_run_on_python_threads_that_exit_with_the_server(start_server):
    """Worker-thread handlers run on the server's Python threads (`dcc-mcp-handler`), which CPython
    may end safely at exit; the pool grows with concurrent calls and is gone after `shutdown()`."""
    seen = []
    entered, release, blocking = blocking_handler("done")

    threads = []

    def where(arguments):
        seen.append((threading.current_thread().name, threading.current_thread().daemon))
        threads.append(threading.current_thread())
        return "ok"

    def recorded_blocking(arguments):
        threads.append(threading.current_thread())
        return blocking(arguments)

    running = start_server(tools={"where": where, "blocking": recorded_blocking})
    assert result_text(mcp_call(running.url, "where")) == "ok"
    assert seen == [("dcc-mcp-handler", True)]

    # One handler blocks: another call still runs, on another thread of the pool.
    results = []
    caller = threading.Thread(target=lambda: results.append(mcp_call(running.url, "blocking")))
    caller.start()
    assert entered.wait(HANG_GUARD_SECONDS)
    assert result_text(mcp_call(running.url, "where")) == "ok"
    release.set()
    caller.join(HANG_GUARD_SECONDS)
    assert result_text(results[0]) == "done"

    # The blocking call and the call made meanwhile ran on two different threads of the pool.
    assert threads[1] is not threads[2] and all(t.is_alive() for t in threads)
    running.handle.shutdown()
    # (Only this server's threads: registry-level handlers have a pool of their own.)
    wait_for(lambda: not any(t.is_alive() for t in threads), "the server's handler threads to exit")


def test_two_servers_over_one_registry_keep_their_own_handlers(start_server):
    from dcc_mcp_core import MainThreadExecutor

    registry = ToolRegistry()
    registry.register("who", input_schema={"type": "object"})
    first = McpHttpServer(registry, McpHttpConfig(port=0))
    first.register_handler("who", lambda arguments: "first")
    executor = MainThreadExecutor()
    second = McpHttpServer(registry, McpHttpConfig(port=0, main_thread_executor=executor))
    second.register_handler("who", lambda arguments: f"second on {threading.current_thread().name}")
    with first.start() as first_handle, second.start() as second_handle:
        assert result_text(mcp_call(first_handle.mcp_url(), "who")) == "first"
        pumping = threading.Event()

        def host():
            while not pumping.is_set():
                executor.pump()
                pumping.wait(0.002)

        loop = threading.Thread(target=host, name="host-main", daemon=True)
        loop.start()
        try:
            assert result_text(mcp_call(second_handle.mcp_url(), "who")) == "second on host-main"
            # Registering on the second server neither replaced nor moved the first one's handler.
            assert result_text(mcp_call(first_handle.mcp_url(), "who")) == "first"
        finally:
            pumping.set()
            loop.join(HANG_GUARD_SECONDS)


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_a_plugin_with_bound_method_handlers_is_collected_and_frees_its_port():
    class Plugin:
        def __init__(self) -> None:
            self.registry = ToolRegistry()
            self.registry.register("frame", input_schema={"type": "object"})
            self.server = McpHttpServer(self.registry, McpHttpConfig(port=0))
            self.server.register_handler("frame", self.frame)
            self.handle = self.server.start()

        def frame(self, arguments):
            return 1001

    plugin = Plugin()
    port = plugin.handle.port
    assert result_text(mcp_call(plugin.handle.mcp_url(), "frame")) == "1001"
    assert not _port_is_free(port)
    alive = weakref.ref(plugin)
    del plugin
    gc.collect()
    assert alive() is None
    assert _port_is_free(port)
