"""Static bearer tokens on ``/mcp`` of the real ``dcc-mcp-server`` binary (``--bearer-token-file``).

Exact statuses and ``WWW-Authenticate`` challenges for a missing, malformed and wrong token; the right
token opens a session, for raw HTTP and for the official MCP Python client given the header through its
httpx client; ``/metrics`` stays outside the bearer check and counts every failed login as
``dcc_mcp_rejected_total{reason="auth"}``; past 10 failed logins one address gets ``429`` with
``Retry-After``. Waits are bounded only to turn a hang into a failure.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from server_binary import ACCEPT, HANG_GUARD_SECONDS, INITIALIZE, SERVER_BIN, rejected, start, stop

TOKEN = "studio-token.0123456789"

pytestmark = pytest.mark.skipif(
    not SERVER_BIN.exists(), reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)"
)

@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# studio tokens\n\n{TOKEN}\n  other-token  \n")
    proc, url = start(["--bearer-token-file", str(tokens)])
    try:
        yield url
    finally:
        stop(proc)


def post(url: str, authorization: str | None) -> httpx.Response:
    headers = dict(ACCEPT)
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.post(url, json=INITIALIZE, headers=headers, timeout=HANG_GUARD_SECONDS)


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
