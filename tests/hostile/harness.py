"""Shared harness of the hostile-traffic suite (and of ``scripts/soak.sh``).

One attack = one function ``attack(server, stop, **params) -> dict`` that runs against a real
``dcc-mcp-server`` until ``stop`` (a ``threading.Event``) is set, and returns what it saw. The tests
run each attack for a few seconds; the soak runs the same functions for minutes. Meanwhile a
:class:`GoodClient` keeps calling ``tools/call echo`` the way a well-behaved MCP client does (one
session, one keep-alive connection, re-``initialize`` on ``404`` as the spec asks) and records every
outcome and latency, and :class:`Server` samples the server's RSS and open file descriptors from
``/proc``.

The harness is self-contained (``httpx`` and ``prometheus-client`` only, no ``dcc_mcp_core``) so the
soak can run it outside pytest (``scripts/soak.sh`` runs ``python -m hostile.soak`` from ``tests/``).

Attack traffic leaves from other loopback addresses (``127.0.0.2`` …) than the well-behaved client
(``127.0.0.1``), so per-client-address budgets can tell them apart, as they would on a network.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))

PROTOCOL = "2025-06-18"
BATCH_PROTOCOL = "2025-03-26"
GOOD_ADDR = "127.0.0.1"
#: Source addresses attack traffic leaves from (Linux answers all of 127/8 on `lo`).
ATTACK_ADDRS = ("127.0.0.2", "127.0.0.3")
ACCEPT = "application/json, text/event-stream"

#: Every wait in the harness ends by this; it only turns a hang into a failure.
HANG_GUARD_SECONDS = 60.0


# ------------------------------------------------------------------------------------------------
# The server process


class Server:
    """A ``dcc-mcp-server --demo-tools --prometheus --port 0`` process with extra ``flags``."""

    def __init__(self, flags: Sequence[str] = (), env: Optional[Dict[str, str]] = None):
        cmd = [str(SERVER_BIN), "--demo-tools", "--prometheus", "--port", "0", *flags]
        # DCC_MCP_HOSTILE_LOG=path keeps the server's log (warnings and panics) for a post-mortem.
        log = os.environ.get("DCC_MCP_HOSTILE_LOG")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=open(log, "a") if log else subprocess.DEVNULL,
            text=True,
            env={**os.environ, "RUST_LOG": "warn", **(env or {})},
        )
        self.url = ""
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"dcc-mcp-server exited early ({self.proc.poll()}): {cmd}")
            found = re.search(r"listening on (http://\S+/mcp)", line)
            if found:
                self.url = found.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError("dcc-mcp-server did not print its URL")
        # Drain stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.host, port = self.url.split("//")[1].split("/")[0].rsplit(":", 1)
        self.port = int(port)
        self.metrics_url = self.url[: -len("/mcp")] + "/metrics"
        self._peak_rss = 0
        self._sampling = threading.Event()
        self._sampler: Optional[threading.Thread] = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kib(self) -> int:
        """Resident set size (``VmRSS``) in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start_sampling(self, interval: float = 0.05) -> None:
        """Sample RSS in the background; read the maximum with :meth:`peak_rss_kib`."""
        self._peak_rss = self.rss_kib()

        def sample() -> None:
            while not self._sampling.wait(interval):
                try:
                    self._peak_rss = max(self._peak_rss, self.rss_kib())
                except (OSError, RuntimeError):
                    return

        self._sampler = threading.Thread(target=sample, daemon=True)
        self._sampler.start()

    def peak_rss_kib(self) -> int:
        try:
            return max(self._peak_rss, self.rss_kib())
        except (OSError, RuntimeError):
            return self._peak_rss

    def wait_fds(self, baseline: int, timeout: float = 15.0) -> int:
        """Polls until the fd count is back to ``baseline`` (or the timeout); returns the last count."""
        deadline = time.monotonic() + timeout
        count = self.fd_count()
        while count > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
            count = self.fd_count()
        return count

    def scrape(self, headers: Optional[Dict[str, str]] = None) -> "Scrape":
        return scrape(self.metrics_url, headers)

    def stop(self) -> None:
        self._sampling.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------------
# /metrics


@dataclass
class Scrape:
    status: int
    text: str
    samples: Dict[str, List[Any]] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels (0.0 when absent)."""
        for sample in self.samples.get(name, []):
            if sample.labels == labels:
                return sample.value
        return 0.0

    def rejected(self, reason: str) -> float:
        return self.value("dcc_mcp_rejected_total", reason=reason)

    def calls(self, tool: str, status: str) -> float:
        return self.value("dcc_mcp_tool_calls_total", tool=tool, status=status)


def scrape(url: str, headers: Optional[Dict[str, str]] = None) -> Scrape:
    """GET ``/metrics``; a ``200`` body must parse with prometheus-client."""
    response = httpx.get(url, headers=headers, timeout=HANG_GUARD_SECONDS)
    samples: Dict[str, List[Any]] = {}
    if response.status_code == 200:
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(sample)
    return Scrape(response.status_code, response.text, samples)


# ------------------------------------------------------------------------------------------------
# Clients


def http_client(source: str = GOOD_ADDR, timeout: float = 10.0, **kwargs: Any) -> httpx.Client:
    """An httpx client whose connections leave from ``source``."""
    transport = httpx.HTTPTransport(local_address=source, retries=0)
    return httpx.Client(transport=transport, timeout=timeout, **kwargs)


def initialize_message(request_id: Any = 0, version: str = PROTOCOL) -> Dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "hostile-suite", "version": "0"},
        },
    }


class Session:
    """One MCP session over raw JSON-RPC (just enough of the client side)."""

    def __init__(self, url: str, client: httpx.Client, version: str = PROTOCOL):
        self.url = url
        self.http = client
        self.version = version
        self.next_id = 0
        self.id = ""
        self.headers: Dict[str, str] = {}
        self.initialize()

    def initialize(self) -> None:
        response = self.http.post(self.url, headers={"Accept": ACCEPT}, json=initialize_message(0, self.version))
        if response.status_code != 200:
            raise SessionRefused(response)
        self.id = response.headers["mcp-session-id"]
        self.headers = {"Accept": ACCEPT, "Mcp-Session-Id": self.id, "MCP-Protocol-Version": self.version}
        self.http.post(self.url, headers=self.headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, message: Any, **kwargs: Any) -> httpx.Response:
        return self.http.post(self.url, headers=self.headers, json=message, **kwargs)

    def request(self, method: str, params: Optional[Dict[str, Any]] = None) -> httpx.Response:
        self.next_id += 1
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message)

    def delete(self) -> None:
        try:
            self.http.delete(self.url, headers=self.headers)
        except httpx.HTTPError:
            pass


class SessionRefused(Exception):
    def __init__(self, response: httpx.Response):
        super().__init__(f"initialize refused: {response.status_code} {response.text[:200]}")
        self.response = response


@dataclass
class Outcome:
    ok: bool
    latency: float
    detail: str = ""
    #: `time.monotonic()` when the call finished (outcomes are made as calls finish).
    finished: float = field(default_factory=time.monotonic)


class GoodClient:
    """A well-behaved client: one session on one keep-alive connection, ``tools/call echo`` in a loop.

    A ``404`` (session ended, e.g. evicted as idle) is answered by re-initializing and retrying once,
    as the spec tells clients to; such a call still counts as one call. Every other answer that is not
    the echoed text is a failure.
    """

    def __init__(self, server: Server, pause: float = 0.005):
        self.server = server
        self.pause = pause
        self.outcomes: List[Outcome] = []
        self.reinitialized = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._client = http_client(GOOD_ADDR, timeout=30.0)
        self.session = Session(server.url, self._client)

    def call_once(self, n: int) -> Outcome:
        text = f"good-{n}"
        start = time.monotonic()
        try:
            for attempt in range(2):
                response = self.session.request("tools/call", {"name": "echo", "arguments": {"text": text}})
                if response.status_code == 404 and attempt == 0:
                    self.reinitialized += 1
                    self.session.initialize()
                    continue
                break
            latency = time.monotonic() - start
            if response.status_code != 200:
                return Outcome(False, latency, f"HTTP {response.status_code}: {response.text[:200]}")
            body = response.json()
            result = body.get("result") or {}
            if result.get("isError") or result.get("content", [{}])[0].get("text") != text:
                return Outcome(False, latency, json.dumps(body)[:200])
            return Outcome(True, latency)
        except (httpx.HTTPError, SessionRefused, ValueError, KeyError, IndexError) as err:
            return Outcome(False, time.monotonic() - start, repr(err)[:200])

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            self.outcomes.append(self.call_once(n))
            if self.pause:
                self._stop.wait(self.pause)

    def start(self) -> "GoodClient":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(HANG_GUARD_SECONDS)
        self.session.delete()
        self._client.close()

    # -- results

    @property
    def calls(self) -> int:
        return len(self.outcomes)

    @property
    def successes(self) -> int:
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def failures(self) -> List[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def p99_ms(self) -> float:
        latencies = sorted(o.latency for o in self.outcomes)
        if not latencies:
            return 0.0
        return 1000.0 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]


def raw_connection(server: Server, source: str = ATTACK_ADDRS[0], timeout: float = 5.0) -> socket.socket:
    """A plain TCP connection to the server from ``source``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect((server.host, server.port))
    return sock


def raw_request(sock: socket.socket, server: Server, body: str, session_id: str = "") -> Tuple[int, str]:
    """One ``POST /mcp`` on a kept-alive raw socket; returns the status (0: the server had closed it)
    and the ``mcp-session-id`` of the response ("" when none)."""
    session = f"mcp-session-id: {session_id}\r\nmcp-protocol-version: {PROTOCOL}\r\n" if session_id else ""
    try:
        sock.sendall(
            (
                f"POST /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\ncontent-type: application/json\r\n"
                f"accept: {ACCEPT}\r\n{session}content-length: {len(body)}\r\n\r\n{body}"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(65536)
            if not data:
                return 0, ""
            head += data
    except (ConnectionResetError, BrokenPipeError):
        return 0, ""
    headers, _, rest = head.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", headers, re.IGNORECASE)
    while length and len(rest) < int(length.group(1)):
        rest += sock.recv(65536)
    session = re.search(rb"mcp-session-id: (\S+)", headers, re.IGNORECASE)
    return int(headers.split(b" ")[1]), session.group(1).decode() if session else ""


def peer_closed(sock: socket.socket, timeout: float) -> bool:
    """True when the server closed (or reset) ``sock`` within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, TimeoutError):
        return False


# ------------------------------------------------------------------------------------------------
# Running an attack next to the good client


@dataclass
class Run:
    """What one attack run measured."""

    name: str
    seconds: float
    attack: Dict[str, Any]
    good_calls: int
    good_successes: int
    good_failures: List[Outcome]
    good_p99_ms: float
    reinitialized: int
    baseline_rss_kib: int
    peak_rss_kib: int
    baseline_fds: int
    final_fds: int
    before: Scrape
    after: Scrape
    alive: bool
    #: When each well-behaved call finished (`time.monotonic()`), in order.
    good_finished: List[float] = field(default_factory=list)

    def refused(self, reason: str) -> float:
        return self.after.rejected(reason) - self.before.rejected(reason)

    def echo_successes_counted(self) -> float:
        """`echo` successes /metrics counted during the run, minus those the attack made itself."""
        counted = self.after.calls("echo", "success") - self.before.calls("echo", "success")
        return counted - self.attack.get("echo_successes", 0)


def run_attack(
    server: Server,
    attack: Callable[..., Dict[str, Any]],
    seconds: float,
    settle: Callable[[], None] = lambda: None,
    **params: Any,
) -> Run:
    """Runs ``attack`` for ``seconds`` while a :class:`GoodClient` calls tools; then lets the server
    settle, waits for the fd count to return to its baseline, and scrapes."""
    # The first request makes the runtime create a few descriptors once (eventfd, epoll): scrape first.
    before = server.scrape()
    baseline_fds = server.fd_count()
    baseline_rss = server.rss_kib()
    server.start_sampling()
    good = GoodClient(server)
    good.start()
    stop = threading.Event()
    result: Dict[str, Any] = {}

    def attacker() -> None:
        result.update(attack(server, stop, **params))

    thread = threading.Thread(target=attacker, daemon=True)
    started = time.monotonic()
    thread.start()
    stop.wait(seconds)
    stop.set()
    thread.join(HANG_GUARD_SECONDS)
    elapsed = time.monotonic() - started
    good.stop()
    settle()
    final_fds = server.wait_fds(baseline_fds)
    after = server.scrape()
    return Run(
        name=attack.__name__,
        seconds=elapsed,
        attack=result,
        good_calls=good.calls,
        good_successes=good.successes,
        good_failures=good.failures[:5],
        good_p99_ms=good.p99_ms(),
        reinitialized=good.reinitialized,
        baseline_rss_kib=baseline_rss,
        peak_rss_kib=server.peak_rss_kib(),
        baseline_fds=baseline_fds,
        final_fds=final_fds,
        before=before,
        after=after,
        alive=server.alive(),
        good_finished=[o.finished for o in good.outcomes],
    )


def assert_survived(run: Run, rss_budget_kib: int) -> None:
    """The invariants every hostile test checks."""
    assert run.alive, "the server process died"
    assert run.good_calls > 0, "the good client made no calls"
    assert not run.good_failures, f"well-behaved calls failed: {run.good_failures}"
    assert run.good_successes == run.good_calls
    assert run.echo_successes_counted() == run.good_successes, (
        f"/metrics counted {run.echo_successes_counted()} echo successes, the client saw {run.good_successes}"
    )
    assert run.peak_rss_kib <= rss_budget_kib, f"peak RSS {run.peak_rss_kib} KiB > budget {rss_budget_kib} KiB"
    assert run.final_fds <= run.baseline_fds, f"fds {run.final_fds} did not return to {run.baseline_fds}"


def summary(run: Run, budget: str, reasons: Sequence[str]) -> Dict[str, Any]:
    """One row of the soak table."""
    return {
        "attack": run.name,
        "budget": budget,
        "seconds": round(run.seconds, 1),
        "peak_rss_mib": round(run.peak_rss_kib / 1024, 1),
        "good_calls": run.good_calls,
        "good_success_rate": (run.good_successes / run.good_calls) if run.good_calls else 0.0,
        "good_p99_ms": round(run.good_p99_ms, 1),
        "reinitialized": run.reinitialized,
        "refusals": {reason: run.refused(reason) for reason in reasons},
        "fds_returned": run.final_fds <= run.baseline_fds,
        "alive": run.alive,
        "attack_result": run.attack,
    }
