"""The server binary as a child process, for the gateway tests: start, stop, wait, read one metric."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))
#: Turns a hang into a failure; no assertion depends on it.
HANG_GUARD_SECONDS = 30.0

#: The mark of a test module that needs the server binary.
needs_server_binary = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and not SERVER_BIN.exists(),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(SERVER_BIN), "--prometheus", "--no-process-metrics", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_until(what: str, probe: Any) -> Any:
    end = time.monotonic() + HANG_GUARD_SECONDS
    last: Any = None
    while time.monotonic() < end:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def sample(port: int, series: str) -> Optional[float]:
    """The value of one exposition line, e.g. ``x_total{a="b"}``."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=HANG_GUARD_SECONDS).text
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    return None


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, HANG_GUARD_SECONDS))
