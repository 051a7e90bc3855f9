"""Static bearer tokens on ``/mcp`` of the real ``dcc-mcp-server`` binary (``--bearer-token-file``).

Exact statuses and ``WWW-Authenticate`` challenges for a missing, malformed and wrong token; the right
token opens a session, for raw HTTP and for the official MCP Python client given the header through its
httpx client; ``/metrics`` stays outside the bearer check and counts every failed login as
``dcc_mcp_rejected_total{reason="auth"}``; past 10 failed logins one address gets ``429`` with
``Retry-After``. Waits are bounded only to turn a hang into a failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))
HANG_GUARD_SECONDS = 60.0
TOKEN = "studio-token.0123456789"

pytestmark = pytest.mark.skipif(
    not SERVER_BIN.exists(), reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)"
)

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# studio tokens\n\n{TOKEN}\n  other-token  \n")
    proc = subprocess.Popen(
        [str(SERVER_BIN), "--demo-tools", "--port", "0", "--prometheus", "--bearer-token-file", str(tokens)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("dcc-mcp-server listening on http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[1].strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG_GUARD_SECONDS) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def post(url: str, authorization: str | None) -> httpx.Response:
    headers = dict(ACCEPT)
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.post(url, json=INITIALIZE, headers=headers, timeout=HANG_GUARD_SECONDS)


def rejected(url: str, reason: str) -> float:
    text = httpx.get(url.replace("/mcp", "/metrics"), timeout=HANG_GUARD_SECONDS).text
    prefix = f'dcc_mcp_rejected_total{{reason="{reason}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, text
    return float(lines[0][len(prefix):])


def test_statuses_and_challenges(server: str) -> None:
    assert rejected(server, "auth") == 0.0
    missing = post(server, None)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="dcc-mcp"'
    for wrong in (f"Bearer {TOKEN}x", "Bearer", f"Basic {TOKEN}", "Bearer two words"):
        answer = post(server, wrong)
        assert answer.status_code == 401, wrong
        assert answer.headers["www-authenticate"] == 'Bearer realm="dcc-mcp", error="invalid_token"', wrong
    for good in (f"Bearer {TOKEN}", "bearer other-token"):
        answer = post(server, good)
        assert answer.status_code == 200, good
        assert "mcp-session-id" in answer.headers
    assert rejected(server, "auth") == 5.0
    assert rejected(server, "auth_throttled") == 0.0


def test_failed_logins_are_throttled(server: str) -> None:
    # A burst of 10 failed logins, then one more per second: keep guessing until refused (the bound only
    # turns a missing throttle into a failure; a slow machine may earn a few refills on the way).
    unauthorized = 0
    for _ in range(200):
        answer = post(server, "Bearer guess")
        if answer.status_code != 401:
            break
        unauthorized += 1
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
    assert 10 <= unauthorized < 200
    assert rejected(server, "auth") == float(unauthorized)
    assert rejected(server, "auth_throttled") == 1.0


def test_official_client_with_the_token(server: str) -> None:
    from mcp import ClientSession
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    async def body() -> Any:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http, streamable_http_client(server, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool("add", {"a": 2, "b": 40})

    added = asyncio.run(asyncio.wait_for(body(), HANG_GUARD_SECONDS))
    assert added.is_error is False
    assert "".join(getattr(b, "text", "") for b in added.content) == "42"


def test_official_client_without_the_token_is_refused(server: str) -> None:
    from mcp import Client

    async def body() -> None:
        async with Client(server, mode="legacy"):
            pass

    with pytest.raises(BaseException) as refused:
        asyncio.run(asyncio.wait_for(body(), HANG_GUARD_SECONDS))
    assert refused.value is not None
    # The client's one `initialize` was refused by the bearer check (the SDK reports it as -32603).
    assert rejected(server, "auth") == 1.0
