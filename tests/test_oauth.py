"""``/mcp`` of the real ``dcc-mcp-server`` binary as an OAuth 2.1 resource server.

A test issuer made here: RSA and P-256 keys generated per run, tokens signed with ``pyjwt``, the JWKS
served by a small real HTTP server in this process (which counts its fetches). Exact statuses and
``WWW-Authenticate`` challenges for a valid token (RS256, ES256), an expired one, one not valid yet,
wrong audience, wrong issuer, bad signature, unknown ``kid``, ``alg: none``, HMAC signed with the public
key, and a missing scope; the RFC 9728 metadata at both well-known paths; key rotation picked up on an
unknown ``kid`` (and the re-reads bounded); failures counted in ``dcc_mcp_rejected_total`` and
throttled; a JWKS read from a file; the official MCP Python client connecting with a token.
Waits are bounded only to turn a hang into a failure.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server_binary import ACCEPT, HANG_GUARD_SECONDS, INITIALIZE, SERVER_BIN, rejected, start, stop

ISSUER = "https://issuer.test"
AUDIENCE = "https://mcp.test/mcp"
SCOPE = "mcp:tools"
STATIC_TOKEN = "static-token.0123"
METADATA_URL = "https://mcp.test/.well-known/oauth-protected-resource/mcp"
REALM = 'Bearer realm="dcc-mcp"'
CHALLENGE = f'{REALM}, resource_metadata="{METADATA_URL}"'

pytestmark = pytest.mark.skipif(
    not SERVER_BIN.exists(), reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)"
)



def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """Signing keys and the JWKS document that publishes some of them."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published: dict[str, Any] = {"rsa-1": self.rsa, "ec-1": self.ec}

    def jwks(self) -> bytes:
        keys = []
        for kid, key in self.published.items():
            jwk = json.loads(jwt.algorithms.get_default_algorithms()[
                "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
            ].to_jwk(key.public_key()))
            jwk.update({"kid": kid, "use": "sig"})
            keys.append(jwk)
        return json.dumps({"keys": keys}).encode()

    def token(
        self,
        kid: str = "rsa-1",
        key: Any = None,
        alg: str = "RS256",
        lifetime: int = 300,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "artist", "iat": now,
                                "exp": now + lifetime, "scope": f"openid {SCOPE}"}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        signer = key if key is not None else self.published.get(kid, self.rsa)
        return jwt.encode(body, signer, algorithm=alg, headers={"kid": kid})


class JwksServer:
    """A real HTTP server publishing the issuer's JWKS at /jwks.json, counting the fetches."""

    def __init__(self, issuer: Issuer) -> None:
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                outer.fetches += 1
                body = issuer.jwks()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture()
def jwks(issuer: Issuer) -> Iterator[JwksServer]:
    server = JwksServer(issuer)
    yield server
    server.close()


@pytest.fixture()
def server(tmp_path: Path, jwks: JwksServer) -> Iterator[str]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{STATIC_TOKEN}\n")
    proc, url = start([
        "--bearer-token-file", str(tokens),
        "--oauth-issuer", ISSUER, "--oauth-jwks", jwks.url, "--oauth-audience", AUDIENCE,
        "--oauth-required-scope", SCOPE, "--oauth-leeway", "5", "--oauth-jwks-refresh-interval", "1",
    ])
    try:
        yield url
    finally:
        stop(proc)


def post(url: str, token: str | None, scheme: str = "Bearer") -> httpx.Response:
    headers = dict(ACCEPT)
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    return httpx.post(url, json=INITIALIZE, headers=headers, timeout=HANG_GUARD_SECONDS)


def invalid(description: str) -> str:
    return f'{CHALLENGE}, error="invalid_token", error_description="{description}"'


def test_valid_tokens_and_the_static_token_open_a_session(server: str, issuer: Issuer, jwks: JwksServer) -> None:
    for token in (issuer.token(), issuer.token(kid="ec-1", alg="ES256"), STATIC_TOKEN,
                  issuer.token(scope=None, scp=[SCOPE]), issuer.token(aud=["other", AUDIENCE])):
        answer = post(server, token)
        assert answer.status_code == 200, (answer.status_code, answer.headers)
        assert "mcp-session-id" in answer.headers
    # Read once, then served from memory.
    assert jwks.fetches == 1
    assert rejected(server, "auth") == 0.0


def test_refusals_have_exact_statuses_and_challenges(server: str, issuer: Issuer, jwks: JwksServer) -> None:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300,
                                "scope": SCOPE}).encode())
    alg_none = f"{header}.{claims}."
    public_pem = issuer.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = b64url(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
    signing_input = f"{hs_header}.{claims}".encode()
    confused = f"{hs_header}.{claims}.{b64url(hmac.new(public_pem, signing_input, hashlib.sha256).digest())}"
    cases = [
        (issuer.token(lifetime=-3600), "the token has expired"),
        (issuer.token(nbf=int(time.time()) + 3600), "the token is not valid yet"),
        (issuer.token(aud="https://other.test/mcp"), "the token was not issued for this resource"),
        (issuer.token(iss="https://evil.test"), "the token was issued by another issuer"),
        (issuer.token(key=issuer.impostor), "the token's signature does not verify"),
        (issuer.token(kid="rsa-unknown", key=issuer.impostor), "the token is signed with a key the issuer does not publish"),
        (alg_none, "the token's signing algorithm is not accepted"),
        (confused, "the token's signing algorithm is not accepted"),
        (issuer.token(exp=None), "the token lacks a required claim (exp, iss or aud)"),
        ("not-a-jwt", "the token is not a well-formed JWT"),
    ]
    for token, description in cases:
        answer = post(server, token)
        assert answer.status_code == 401, (description, answer.text)
        assert answer.headers["www-authenticate"] == invalid(description)
        assert description in answer.text
    assert rejected(server, "auth") == float(len(cases))
    assert rejected(server, "auth_throttled") == 0.0
    # The unknown kid caused at most one re-read (a second one within the 1 s interval only if the
    # run was slow enough to cross it; never one per refused token).
    assert 1 <= jwks.fetches <= 3


def test_missing_header_wrong_scheme_and_missing_scope(server: str, issuer: Issuer) -> None:
    missing = post(server, None)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == CHALLENGE
    malformed = post(server, issuer.token(), scheme="Basic")
    assert malformed.status_code == 401
    assert malformed.headers["www-authenticate"] == invalid("the Authorization header is not Bearer <token>")

    no_scope = post(server, issuer.token(scope="openid"))
    assert no_scope.status_code == 403
    assert no_scope.headers["www-authenticate"] == (
        f'{CHALLENGE}, error="insufficient_scope", error_description="the token lacks a required scope", '
        f'scope="{SCOPE}"'
    )
    assert rejected(server, "auth") == 2.0
    assert rejected(server, "auth_scope") == 1.0
    assert rejected(server, "auth_unavailable") == 0.0


def test_protected_resource_metadata(server: str) -> None:
    base = server.removesuffix("/mcp")
    expected = {
        "resource": AUDIENCE,
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
        "scopes_supported": [SCOPE],
    }
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        answer = httpx.get(base + path, timeout=HANG_GUARD_SECONDS)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == expected


def test_rotated_key_is_picked_up_on_unknown_kid(server: str, issuer: Issuer, jwks: JwksServer) -> None:
    assert post(server, issuer.token()).status_code == 200
    assert jwks.fetches == 1
    issuer.published["rsa-2"] = issuer.rotated
    # Past the 1 s refresh interval, the first token naming the new kid makes the server re-read.
    time.sleep(1.2)
    answer = post(server, issuer.token(kid="rsa-2"))
    assert answer.status_code == 200, answer.headers
    assert jwks.fetches == 2
    # Unknown kids in a burst: at most one re-read per interval, not one per token.
    for _ in range(5):
        assert post(server, issuer.token(kid="nope", key=issuer.impostor)).status_code == 401
    assert jwks.fetches <= 4


def test_failed_tokens_are_throttled(server: str, issuer: Issuer) -> None:
    expired = issuer.token(lifetime=-3600)
    unauthorized = 0
    for _ in range(200):
        answer = post(server, expired)
        if answer.status_code != 401:
            break
        unauthorized += 1
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
    assert 10 <= unauthorized < 200
    assert rejected(server, "auth") == float(unauthorized)
    assert rejected(server, "auth_throttled") == 1.0


def test_jwks_from_a_file(tmp_path: Path, issuer: Issuer) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_bytes(issuer.jwks())
    proc, url = start(["--oauth-issuer", ISSUER, "--oauth-jwks", str(keys), "--oauth-audience", "mcp-api"])
    try:
        assert post(url, issuer.token(aud="mcp-api")).status_code == 200
        refused = post(url, issuer.token(aud="mcp-api", kid="rsa-9", key=issuer.impostor))
        assert refused.status_code == 401
        # The audience is not a URL: the resource is this server's /mcp as the client addressed it.
        host = url.removeprefix("http://").removesuffix("/mcp")
        assert refused.headers["www-authenticate"] == (
            f'{REALM}, resource_metadata="http://{host}/.well-known/oauth-protected-resource/mcp", '
            'error="invalid_token", error_description="the token is signed with a key the issuer does not publish"'
        )
    finally:
        stop(proc)


def test_unreadable_keys_give_503(tmp_path: Path, issuer: Issuer) -> None:
    proc, url = start(["--oauth-issuer", ISSUER, "--oauth-jwks", str(tmp_path / "missing.json"),
                       "--oauth-audience", AUDIENCE])
    try:
        answer = post(url, issuer.token())
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert rejected(url, "auth_unavailable") == 1.0
        # A token no key could accept is refused without reading keys.
        assert post(url, "not-a-jwt").status_code == 401
    finally:
        stop(proc)


def test_official_client_with_an_access_token(server: str, issuer: Issuer) -> None:
    from mcp import ClientSession
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    token = issuer.token(kid="ec-1", alg="ES256")

    async def body() -> Any:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with http, streamable_http_client(server, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool("add", {"a": 2, "b": 40})

    added = asyncio.run(asyncio.wait_for(body(), HANG_GUARD_SECONDS))
    assert added.is_error is False
    assert "".join(getattr(b, "text", "") for b in added.content) == "42"
