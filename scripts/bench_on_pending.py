"""Main-thread call latency on a simulated host that pumps on a 30 Hz timer, without and with
`MainThreadExecutor(on_pending=...)` scheduling an immediate pump (what `maya.utils.executeDeferred`
or `hdefereval.executeDeferred` do in a real host).

    python scripts/bench_on_pending.py [calls]

Each call is one `tools/call` over a kept-alive HTTP connection, sent after a random pause (so calls
land at random phases of the timer); the figure is the client's round trip. The host loop is the
script's main thread: it waits for the next timer tick or for a deferred pump, whichever comes first.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import statistics
import sys
import threading
import time

from dcc_mcp_core import MainThreadExecutor, McpHttpConfig, McpHttpServer, ToolRegistry

TICK = 1 / 30


def _post(connection, body, session=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    if session:
        headers["Mcp-Session-Id"] = session
    connection.request("POST", "/mcp", json.dumps(body), headers)
    response = connection.getresponse()
    return response.getheader("Mcp-Session-Id"), response.read()


def run(calls: int, hook: bool) -> list:
    deferred: "queue.SimpleQueue[int]" = queue.SimpleQueue()
    executor = MainThreadExecutor(on_pending=(lambda: deferred.put(1)) if hook else None)
    registry = ToolRegistry()
    registry.register("frame", input_schema={"type": "object"})
    server = McpHttpServer(registry, McpHttpConfig(port=0, main_thread_executor=executor))
    server.register_handler("frame", lambda arguments: 1001)
    handle = server.start()
    latencies: list = []
    done = threading.Event()

    def client():
        random.seed(7)
        connection = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=30)
        session, _ = _post(connection, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
        _post(connection, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        for i in range(calls):
            time.sleep(random.uniform(0, 2 * TICK))
            started = time.perf_counter()
            _post(connection, {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                               "params": {"name": "frame", "arguments": {}}}, session)
            latencies.append(time.perf_counter() - started)
        done.set()

    threading.Thread(target=client, daemon=True).start()
    next_tick = time.monotonic() + TICK
    while not done.is_set():  # the host's main loop: a 30 Hz timer plus deferred calls
        try:
            deferred.get(timeout=max(0.0, next_tick - time.monotonic()))
        except queue.Empty:
            next_tick += TICK
        executor.pump()
    handle.shutdown()
    return latencies


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for hook in (False, True):
        latencies = sorted(run(calls, hook))
        p50 = statistics.median(latencies) * 1000
        p90 = latencies[int(len(latencies) * 0.9)] * 1000
        label = "with on_pending" if hook else "timer only    "
        print(f"{label}: {calls} calls, p50 {p50:.1f} ms, p90 {p90:.1f} ms")


if __name__ == "__main__":
    main()
