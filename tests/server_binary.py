"""The real ``dcc-mcp-server`` binary for tests that talk to it over raw HTTP (no ``dcc_mcp_core`` import).

Starting it on port 0 and reading the URL it prints, stopping it with SIGTERM (it must exit 0), and
reading one ``dcc_mcp_rejected_total`` series from its ``/metrics``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))
HANG_GUARD_SECONDS = 60.0

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def start(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    """``dcc-mcp-server --demo-tools --port 0 --prometheus ARGS``, and the ``/mcp`` URL it listens on."""
    proc = subprocess.Popen(
        [str(SERVER_BIN), "--demo-tools", "--port", "0", "--prometheus", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("dcc-mcp-server listening on http://127.0.0.1:"), line
    return proc, line.rsplit(" ", 1)[1].strip()


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, and the exit status must be 0; killed if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=HANG_GUARD_SECONDS) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def rejected(url: str, reason: str) -> float:
    """``dcc_mcp_rejected_total{reason=REASON}`` of the server whose ``/mcp`` is ``url`` (exactly one line)."""
    text = httpx.get(url.replace("/mcp", "/metrics"), timeout=HANG_GUARD_SECONDS).text
    prefix = f'dcc_mcp_rejected_total{{reason="{reason}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, text
    return float(lines[0][len(prefix):])
