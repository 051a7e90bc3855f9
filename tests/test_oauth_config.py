"""``McpHttpConfig.oauth`` from Python: a dict both ways, validated like the Rust field (a failed
assignment leaves the configuration unchanged), and enforced by a server started from Python with a
JWKS file and a token signed here (``401`` with ``resource_metadata`` without it, ``200`` with it,
``403`` without the required scope)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
OAUTH = {"issuer": "https://as.test", "jwks": "/etc/jwks.json", "audience": "https://mcp.test/mcp"}


def test_dict_round_trips_with_defaults_filled_in() -> None:
    assert McpHttpConfig().oauth is None
    cfg = McpHttpConfig(port=0, oauth={**OAUTH, "required_scopes": ["mcp:tools"], "leeway": 5})
    assert cfg.oauth == {
        **OAUTH,
        "required_scopes": ["mcp:tools"],
        "resource": None,
        "leeway": 5.0,
        "jwks_refresh_interval": 60.0,
    }
    assert "oauth={issuer: 'https://as.test'}" in repr(cfg)
    cfg.oauth = None
    assert cfg.oauth is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"issuer": "x", "audience": "a"}, 'oauth needs "jwks"'),
        ({**OAUTH, "audiance": "typo"}, 'unknown key "audiance"'),
        ({**OAUTH, "jwks": "https://as.test/jwks"}, "oauth.jwks is an https:// URL"),
        ({**OAUTH, "required_scopes": "mcp:tools"}, "must be a list of str"),
        ({**OAUTH, "required_scopes": ["two words"]}, "oauth.required_scopes"),
        ({**OAUTH, "issuer": ""}, "oauth.issuer is empty"),
        ("issuer", "oauth must be None or a dict"),
    ],
)
def test_bad_values_are_refused(value: object, message: str) -> None:
    cfg = McpHttpConfig(port=0, oauth=OAUTH)
    with pytest.raises(ValueError, match=message):
        cfg.oauth = value  # type: ignore[assignment]
    assert cfg.oauth is not None and cfg.oauth["issuer"] == OAUTH["issuer"]


def test_server_started_from_python_checks_tokens(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k1"
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [jwk]}))
    oauth = {**OAUTH, "jwks": str(keys), "required_scopes": ["mcp:tools"]}
    server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0, oauth=oauth))
    with server.start() as handle:
        url = handle.mcp_url()

        def token(scope: str) -> str:
            claims = {"iss": OAUTH["issuer"], "aud": OAUTH["audience"], "exp": int(time.time()) + 300, "scope": scope}
            return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})

        missing = httpx.post(url, json=INITIALIZE, headers=HEADERS, timeout=30)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == (
            'Bearer realm="dcc-mcp", resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp"'
        )
        good = httpx.post(url, json=INITIALIZE, headers={**HEADERS, "Authorization": f"Bearer {token('mcp:tools')}"}, timeout=30)
        assert good.status_code == 200
        narrow = httpx.post(url, json=INITIALIZE, headers={**HEADERS, "Authorization": f"Bearer {token('other')}"}, timeout=30)
        assert narrow.status_code == 403
