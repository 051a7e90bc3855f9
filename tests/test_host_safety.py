"""What a DCC host needs from the package besides serving: handler threads it can count on, `wait()`
that costs nothing, and servers that stop when the interpreter exits."""

from __future__ import annotations

import os
import sys
import threading

import pytest

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

    def where(arguments):
        seen.append((threading.current_thread().name, threading.current_thread().daemon))
        return "ok"

    running = start_server(tools={"where": where, "blocking": blocking})
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

    assert any(t.name == "dcc-mcp-handler" for t in threading.enumerate())
    running.handle.shutdown()
    wait_for(lambda: not any(t.name == "dcc-mcp-handler" for t in threading.enumerate()),
             "the handler threads to exit")
