"""A simulated DCC host: a thread plays the application's main loop and pumps a MainThreadExecutor on a
timer, while the official MCP client calls tools concurrently.

Maya, Blender and Houdini crash or corrupt the scene when their API is called from another thread, so
what matters is *where* a handler runs and what happens to calls the main thread never reaches. Every
test pauses the host loop where it needs a known queue state (no timing assumptions), and checks
`/metrics` with exact counts."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest

from dcc_mcp_core import MainThreadExecutor, McpHttpConfig, McpHttpServer, ToolRegistry

from conftest import HANG_GUARD_SECONDS, HAS_WORKFLOW, in_session, needs_prometheus, result_text, scrape, wait_for

MAIN_THREAD_FULL = (
    "main thread busy: {depth} calls already wait for the host's main thread (queue_depth); "
    "tool '{tool}' was not run, retry later"
)


class DccHost:
    """The host application's main loop on its own thread: every `tick` seconds it pumps the executor
    (as Maya's idle callback, Blender's timer or Houdini's event-loop callback would). `pause()` returns
    once the loop is parked between two pumps, so a test knows nothing runs until `resume()`."""

    def __init__(self, executor: MainThreadExecutor, max_items: Optional[int] = None, budget_ms: float = 10.0) -> None:
        self.executor = executor
        self.max_items = max_items
        self.budget_ms = budget_ms
        self.ran = 0
        self.pumps = 0
        self._run = threading.Event()
        self._run.set()
        self._parked = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dcc-main-thread", daemon=True)
        self._thread.start()
        self.ident = self._thread.ident

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._run.is_set():
                self._parked.set()
                self._run.wait(0.05)
                continue
            self._parked.clear()
            self.ran += self.executor.pump(max_items=self.max_items, budget_ms=self.budget_ms)
            self.pumps += 1
            time.sleep(0.002)

    def pause(self) -> None:
        self.request_pause()
        self.wait_parked()

    def request_pause(self) -> None:
        """The loop parks after the pump it is in (if any) returns."""
        self._parked.clear()
        self._run.clear()

    def wait_parked(self) -> None:
        assert self._parked.wait(HANG_GUARD_SECONDS), "host loop did not park"

    def resume(self) -> None:
        self._run.set()

    def stop(self) -> None:
        self._stop.set()
        self._run.set()
        self._thread.join(HANG_GUARD_SECONDS)


@pytest.fixture
def dcc() -> Any:
    """Factory: `dcc(tools={name: fn}, queue_depth=…, host=dict(...), execution={...}, main_thread={...},
    **config)` starts a server with a main-thread executor and a host loop pumping it. Returns
    `(handle, executor, host)`; everything is stopped after the test."""
    cleanups: List[Callable[[], None]] = []

    def start(
        tools: Dict[str, Callable[..., Any]],
        queue_depth: int = 64,
        host: Optional[Dict[str, Any]] = None,
        execution: Optional[Dict[str, str]] = None,
        main_thread: Optional[Dict[str, bool]] = None,
        pass_context: Optional[Dict[str, bool]] = None,
        **config: Any,
    ) -> Any:
        executor = MainThreadExecutor(queue_depth=queue_depth)
        registry = ToolRegistry()
        for name in tools:
            registry.register(
                name,
                description=f"test tool {name}",
                input_schema={"type": "object"},
                execution=(execution or {}).get(name, "sync"),
            )
        config.setdefault("port", 0)
        config.setdefault("enable_prometheus", True)
        server = McpHttpServer(registry, McpHttpConfig(main_thread_executor=executor, **config))
        for name, fn in tools.items():
            kwargs: Dict[str, Any] = {"pass_context": (pass_context or {}).get(name, False)}
            if main_thread and name in main_thread:
                kwargs["main_thread"] = main_thread[name]
            server.register_handler(name, fn, **kwargs)
        dcc_host = DccHost(executor, **(host or {}))
        handle = server.start()
        cleanups.append(dcc_host.stop)
        cleanups.append(handle.shutdown)
        return handle, executor, dcc_host

    yield start
    for cleanup in reversed(cleanups):
        cleanup()


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + HANG_GUARD_SECONDS
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


# ------------------------------------------------------------------------------------------------
# The Python API


def test_executor_arguments_are_checked():
    with pytest.raises(ValueError, match="queue_depth must be an integer of at least 1, got 0"):
        MainThreadExecutor(queue_depth=0)
    executor = MainThreadExecutor()
    assert executor.queue_depth == 64
    assert executor.queued == 0
    assert executor.pump() == 0  # nothing queued: returns at once, never waits for work
    with pytest.raises(ValueError, match="max_items must be an integer of at least 1, got 0"):
        executor.pump(max_items=0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="budget_ms must be a finite number of milliseconds greater than 0"):
            executor.pump(budget_ms=bad)
    assert repr(MainThreadExecutor(8)) == "MainThreadExecutor(queue_depth=8, queued=0)"


def test_config_carries_the_executor_and_the_worker_limits():
    executor = MainThreadExecutor(queue_depth=3)
    cfg = McpHttpConfig(main_thread_executor=executor, sync_concurrency=5, sync_queue_wait=0.25)
    assert cfg.main_thread_executor is not None and cfg.main_thread_executor.queue_depth == 3
    assert (cfg.sync_concurrency, cfg.sync_queue_wait) == (5, 0.25)
    assert (
        "sync_concurrency=5, sync_queue_wait=0.25, main_thread_executor=MainThreadExecutor(queue_depth=3), "
        "include_traceback=False, "
    ) in repr(cfg)
    cfg.main_thread_executor = None
    assert cfg.main_thread_executor is None
    defaults = McpHttpConfig()
    assert (defaults.sync_concurrency, defaults.sync_queue_wait, defaults.main_thread_executor) == (32, 1.0, None)
    with pytest.raises(ValueError, match="sync_concurrency"):
        McpHttpConfig(sync_concurrency=0)
    with pytest.raises(ValueError, match="sync_queue_wait"):
        cfg.sync_queue_wait = 0


def test_main_thread_true_needs_an_executor():
    registry = ToolRegistry()
    registry.register("edit", input_schema={"type": "object"})
    server = McpHttpServer(registry, McpHttpConfig(port=0))
    with pytest.raises(ValueError, match="tool 'edit' is registered with main_thread=True, but the server has no main_thread_executor"):
        server.register_handler("edit", lambda a: a, main_thread=True)
    server.register_handler("edit", lambda a: a)  # default without an executor: a worker thread


# ------------------------------------------------------------------------------------------------
# Where handlers run


@needs_prometheus
def test_main_thread_handlers_run_on_the_pumping_thread_under_concurrent_calls(dcc):
    ran_on: Dict[str, List[int]] = {"scene_info": [], "set_frame": [], "hash_file": []}

    def on(tool: str) -> Callable[[Dict[str, Any]], Any]:
        def handler(arguments: Dict[str, Any]) -> Any:
            ran_on[tool].append(threading.get_ident())
            return {"tool": tool, "i": arguments["i"]}

        return handler

    # Default with an executor: main thread. `hash_file` opts out (no DCC API in it).
    handle, executor, host = dcc(
        {"scene_info": on("scene_info"), "set_frame": on("set_frame"), "hash_file": on("hash_file")},
        main_thread={"set_frame": True, "hash_file": False},
    )
    n = 12

    async def calls(client: Any) -> List[Any]:
        return await asyncio.gather(
            *(client.call_tool(tool, {"i": i}) for i in range(n) for tool in ("scene_info", "set_frame", "hash_file"))
        )

    # Two sessions at once, each with 3 * n calls in flight.
    async def two_sessions() -> List[Any]:
        from mcp import Client

        async def one() -> List[Any]:
            async with Client(handle.mcp_url(), read_timeout_seconds=HANG_GUARD_SECONDS) as client:
                return await calls(client)

        a, b = await asyncio.gather(one(), one())
        return a + b

    results = asyncio.run(asyncio.wait_for(two_sessions(), HANG_GUARD_SECONDS))
    assert [r.is_error for r in results] == [False] * (6 * n)
    assert sorted(r.structured_content["i"] for r in results if r.structured_content["tool"] == "set_frame") == sorted(
        list(range(n)) * 2
    )

    assert len(ran_on["scene_info"]) == len(ran_on["set_frame"]) == len(ran_on["hash_file"]) == 2 * n
    assert set(ran_on["scene_info"]) == {host.ident}
    assert set(ran_on["set_frame"]) == {host.ident}
    assert host.ident not in ran_on["hash_file"] and threading.get_ident() not in ran_on["hash_file"]
    assert host.ran == 4 * n

    m = scrape(handle.metrics_url())
    assert m.value("dcc_mcp_dispatch_wait_seconds_count", executor="main_thread") == 4 * n
    assert m.value("dcc_mcp_dispatch_wait_seconds_bucket", executor="main_thread", le="+Inf") == 4 * n
    assert m.value("dcc_mcp_dispatch_wait_seconds_count", executor="worker") == 2 * n
    for tool in ran_on:
        assert m.value("dcc_mcp_tool_calls_total", tool=tool, status="success") == 2 * n
    assert m.value("dcc_mcp_rejected_total", reason="main_thread_full") == 0
    assert m.value("dcc_mcp_rejected_total", reason="expired_before_run") == 0


@pytest.mark.skipif(not HAS_WORKFLOW, reason="built without the `workflow` feature")
@needs_prometheus
def test_async_jobs_for_the_main_thread_go_through_the_same_queue(dcc):
    ran_on: List[int] = []

    def render(arguments: Dict[str, Any]) -> Any:
        ran_on.append(threading.get_ident())
        return {"frames": arguments["frames"]}

    handle, executor, host = dcc({"render": render}, execution={"render": "async"})

    async def flow(client: Any) -> Any:
        host.pause()
        accepted = await client.call_tool("render", {"frames": 24})
        job_id = accepted.structured_content["jobId"]
        await wait_until(lambda: executor.queued == 1, "the job to queue for the main thread")
        assert ran_on == []
        host.resume()
        while True:
            got = await client.call_tool("jobs.get", {"jobId": job_id})
            if got.structured_content["status"] == "succeeded":
                return got
            await asyncio.sleep(0.02)

    done = in_session(handle.mcp_url(), flow)
    assert done.structured_content["result"]["structuredContent"] == {"frames": 24}
    assert ran_on == [host.ident]
    m = scrape(handle.metrics_url())
    assert m.value("dcc_mcp_dispatch_wait_seconds_count", executor="main_thread") == 1


# ------------------------------------------------------------------------------------------------
# Calls the main thread does not reach


@needs_prometheus
def test_full_queue_answers_at_once_and_the_refused_call_never_runs(dcc):
    ran: List[int] = []

    def edit(arguments: Dict[str, Any]) -> Any:
        ran.append(arguments["i"])
        return arguments["i"]

    handle, executor, host = dcc({"edit": edit}, queue_depth=2)
    host.pause()  # the host is busy (rendering): nothing is pumped

    async def flow(client: Any) -> Any:
        first = [asyncio.create_task(client.call_tool("edit", {"i": i})) for i in range(2)]
        await wait_until(lambda: executor.queued == 2, "two queued calls")
        refused = await client.call_tool("edit", {"i": 2})  # answered while the host is still busy
        assert ran == [] and executor.queued == 2
        host.resume()
        return refused, await asyncio.gather(*first)

    refused, accepted = in_session(handle.mcp_url(), flow)
    assert refused.is_error is True
    assert result_text(refused) == MAIN_THREAD_FULL.format(depth=2, tool="edit")
    assert [r.is_error for r in accepted] == [False, False]
    # The refused call is gone for good: more pumping never runs it.
    wait_for(lambda: host.ran == 2, "the two accepted calls")
    assert executor.pump() == 0
    assert sorted(ran) == [0, 1]

    m = scrape(handle.metrics_url())
    assert m.value("dcc_mcp_rejected_total", reason="main_thread_full") == 1
    assert m.value("dcc_mcp_rejected_total", reason="expired_before_run") == 0
    assert m.value("dcc_mcp_dispatch_wait_seconds_count", executor="main_thread") == 2
    assert m.value("dcc_mcp_tool_calls_total", tool="edit", status="success") == 2
    assert m.value("dcc_mcp_tool_calls_total", tool="edit", status="error") == 1


@needs_prometheus
def test_a_call_that_timed_out_in_the_queue_never_runs_late(dcc):
    ran: List[int] = []

    def edit(arguments: Dict[str, Any]) -> Any:
        ran.append(arguments["i"])
        return "done"

    handle, executor, host = dcc({"edit": edit}, request_timeout=0.2)
    host.pause()

    async def flow(client: Any) -> Any:
        timed_out = await client.call_tool("edit", {"i": 1})
        # Answered and removed from the queue: the host has not pumped once.
        assert executor.queued == 0
        return timed_out

    timed_out = in_session(handle.mcp_url(), flow)
    assert timed_out.is_error is True
    assert result_text(timed_out) == "tool 'edit' timed out after 0.200 s (request_timeout)"
    # The host gets back to pumping: the call does not run late.
    pumps = host.pumps
    host.resume()
    wait_for(lambda: host.pumps >= pumps + 3, "the host to pump again")
    assert ran == [] and host.ran == 0

    m = scrape(handle.metrics_url())
    assert m.value("dcc_mcp_rejected_total", reason="expired_before_run") == 1
    assert m.value("dcc_mcp_rejected_total", reason="main_thread_full") == 0
    assert m.value("dcc_mcp_dispatch_wait_seconds_count", executor="main_thread") == 0
    assert m.value("dcc_mcp_tool_calls_total", tool="edit", status="error") == 1


@pytest.mark.skipif(not HAS_WORKFLOW, reason="built without the `workflow` feature")
@needs_prometheus
def test_a_job_cancelled_before_the_main_thread_reached_it_never_runs(dcc):
    ran: List[int] = []

    def bake(arguments: Dict[str, Any]) -> Any:
        ran.append(1)
        return "baked"

    handle, executor, host = dcc({"bake": bake}, execution={"bake": "async"})
    host.pause()

    async def flow(client: Any) -> Any:
        accepted = await client.call_tool("bake", {})
        job_id = accepted.structured_content["jobId"]
        await wait_until(lambda: executor.queued == 1, "the job to queue for the main thread")
        cancel = await client.call_tool("jobs.cancel", {"jobId": job_id})
        host.resume()
        while True:
            got = await client.call_tool("jobs.get", {"jobId": job_id})
            if got.structured_content["status"] not in ("queued", "running"):
                return cancel, got
            await asyncio.sleep(0.02)

    cancel, final = in_session(handle.mcp_url(), flow)
    assert cancel.is_error is False
    assert final.structured_content["status"] == "cancelled"
    wait_for(lambda: executor.queued == 0, "the cancelled job to leave the queue")
    assert executor.pump() == 0
    assert ran == []
    m = scrape(handle.metrics_url())
    assert m.value("dcc_mcp_rejected_total", reason="expired_before_run") == 1
    assert m.value("dcc_mcp_dispatch_wait_seconds_count", executor="main_thread") == 0


def test_pump_stops_at_max_items_and_at_its_budget(dcc):
    ran: List[int] = []

    def step(arguments: Dict[str, Any]) -> Any:
        ran.append(arguments["i"])
        if arguments.get("busy_ms"):
            # Hold the main thread past the pump's budget (clock-driven, not a timing assertion).
            until = time.monotonic() + arguments["busy_ms"] / 1000
            while time.monotonic() < until:
                pass
        return "ok"

    handle, executor, host = dcc({"step": step})
    host.pause()

    async def flow(client: Any) -> Any:
        tasks = [asyncio.create_task(client.call_tool("step", {"i": i, "busy_ms": 20})) for i in range(4)]
        await wait_until(lambda: executor.queued == 4, "four queued calls")
        # The test thread plays the host here: one item, then a budget smaller than one call.
        by_count = await asyncio.to_thread(executor.pump, max_items=1, budget_ms=1000)
        by_budget = await asyncio.to_thread(executor.pump, budget_ms=5)
        left = executor.queued
        host.resume()
        await asyncio.gather(*tasks)
        return by_count, by_budget, left

    by_count, by_budget, left = in_session(handle.mcp_url(), flow)
    assert (by_count, by_budget, left) == (1, 1, 2)
    assert sorted(ran) == [0, 1, 2, 3]


# ------------------------------------------------------------------------------------------------
# Stopping


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_a_stopped_server_leaves_no_call_half_run(dcc):
    events: List[str] = []
    entered = threading.Event()
    release = threading.Event()

    def edit(arguments: Dict[str, Any]) -> Any:
        i = arguments["i"]
        events.append(f"begin {i}")
        if i == 0:
            entered.set()
            assert release.wait(HANG_GUARD_SECONDS)
        events.append(f"end {i}")
        return i

    handle, executor, host = dcc({"edit": edit}, host={"max_items": 1}, shutdown_timeout=2.0)
    # Raw JSON-RPC, one connection per call: the MCP client ends its whole session when the server
    # goes away, and what each call got back is the point here.
    http = httpx.Client(timeout=HANG_GUARD_SECONDS, limits=httpx.Limits(max_keepalive_connections=0))
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    init = http.post(handle.mcp_url(), headers=headers, json={
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    headers["Mcp-Session-Id"] = init.headers["mcp-session-id"]
    answers: Dict[int, Any] = {}

    def call(i: int) -> None:
        try:
            answers[i] = http.post(handle.mcp_url(), headers=headers, json={
                "jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                "params": {"name": "edit", "arguments": {"i": i}}})
        except httpx.HTTPError as err:
            answers[i] = err

    callers = [threading.Thread(target=call, args=(0,))]
    callers[0].start()
    assert entered.wait(HANG_GUARD_SECONDS)
    callers += [threading.Thread(target=call, args=(i,)) for i in range(1, 4)]
    for caller in callers[1:]:
        caller.start()
    wait_for(lambda: executor.queued == 3, "three calls queued behind the running one")

    # Stop the server while call 0 runs on the main thread and three more wait for it.
    stopper = threading.Thread(target=handle.shutdown)
    stopper.start()
    wait_for(lambda: _refuses_connections(handle.port), "the server to stop accepting")
    host.request_pause()  # the host finishes the pump it is in, then pumps no more
    release.set()
    host.wait_parked()
    stopper.join(HANG_GUARD_SECONDS)
    for caller in callers:
        caller.join(HANG_GUARD_SECONDS)
    assert not stopper.is_alive() and not any(c.is_alive() for c in callers)

    # Call 0 ran from beginning to end and its answer was delivered.
    assert answers[0].status_code == 200
    assert answers[0].json()["result"]["content"] == [{"type": "text", "text": "0"}]
    # The queued calls left the queue when the server stopped and never begin, even with the host
    # pumping again; none of them got a successful answer.
    assert events == ["begin 0", "end 0"]
    assert executor.queued == 0
    host.resume()
    assert executor.pump() == 0
    assert events == ["begin 0", "end 0"]
    for i in (1, 2, 3):
        answer = answers[i]
        assert isinstance(answer, httpx.HTTPError) or answer.json()["result"]["isError"] is True, answer


@needs_prometheus
def test_a_call_cancelled_by_the_client_while_queued_never_runs(dcc):
    ran: List[int] = []
    handle, executor, host = dcc({"edit": lambda arguments: ran.append(1) or "done"})
    host.pause()

    async def flow(client: Any) -> Any:
        call = asyncio.create_task(client.call_tool("edit", {}))
        await wait_until(lambda: executor.queued == 1, "the call to queue")
        call.cancel()  # the client sends notifications/cancelled for the request
        await asyncio.gather(call, return_exceptions=True)
        await wait_until(lambda: executor.queued == 0, "the cancelled call to leave the queue")
        host.resume()
        return await client.call_tool("edit", {})

    after = in_session(handle.mcp_url(), flow)
    assert after.is_error is False
    assert ran == [1]  # only the second call ran
    m = scrape(handle.metrics_url())
    assert m.value("dcc_mcp_rejected_total", reason="expired_before_run") == 1
    assert m.value("dcc_mcp_dispatch_wait_seconds_count", executor="main_thread") == 1
