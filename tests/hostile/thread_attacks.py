"""Blocking-thread attack of the hostile-traffic suite: ``attack(server, stop, **params) -> dict``.

Many clients call the demo tool ``block``, a sync *worker* handler that holds its thread and ignores
cancellation (a runaway handler), far more of them at once than ``--sync-concurrency``. Without a cap
each call would take its own blocking thread (tokio allows 512) and keep it past ``request_timeout``.
With the cap, at most ``sync_concurrency`` such handlers run; the rest wait ``sync_queue_wait`` and get
"server busy". Inline tools (the well-behaved client's ``echo``) need no worker and keep working.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any, Dict

from .harness import ATTACK_ADDRS, HANG_GUARD_SECONDS, Server, Session, http_client


def thread_count(pid: int) -> int:
    """Threads of process ``pid`` (``Threads:`` in ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads line")


def classify(result: Dict[str, Any]) -> str:
    text = result["content"][0]["text"]
    if not result.get("isError"):
        return "ok"
    if text.startswith("server busy: "):
        return "busy"
    if "timed out" in text:
        return "timed_out"
    return text


def blocking_threads(server: Server, stop: threading.Event, callers: int = 24, ms: int = 2000) -> Dict[str, Any]:
    """``callers`` sessions each call ``block`` back to back; returns the outcomes and the server's
    peak thread count."""
    outcomes: Counter = Counter()
    lock = threading.Lock()
    peak = [thread_count(server.pid)]

    def caller(index: int) -> None:
        source = ATTACK_ADDRS[index % len(ATTACK_ADDRS)]
        with http_client(source, timeout=HANG_GUARD_SECONDS) as client:
            session = Session(server.url, client)
            while not stop.is_set():
                response = session.request("tools/call", {"name": "block", "arguments": {"ms": ms}})
                outcome = classify(response.json()["result"]) if response.status_code == 200 else str(response.status_code)
                with lock:
                    outcomes[outcome] += 1
            session.delete()

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(callers)]
    for thread in threads:
        thread.start()
    while not stop.wait(0.02):
        peak[0] = max(peak[0], thread_count(server.pid))
    for thread in threads:
        thread.join(HANG_GUARD_SECONDS)
    return {"outcomes": dict(outcomes), "peak_threads": peak[0]}


MIB = 1024

#: Server flags that scale the budget down, the budget in words, the reasons driven, the RSS budget.
BLOCKING_THREADS = {
    "flags": ("--sync-concurrency", "4", "--sync-queue-wait-ms", "100", "--request-timeout-ms", "500"),
    "budget": "4 worker handlers at once; a call waits 100 ms for one, then \"server busy\"",
    "reasons": ("busy",),
    "rss_budget_kib": 60 * MIB,
}
