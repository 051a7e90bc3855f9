#!/usr/bin/env python3
"""Keep the module layering of the workspace: no import cycles, no import from a higher layer.

Reads the `use crate::…` / `crate::…` / `super::…` paths of every `src/**/*.rs` file of every crate
under `crates/` (test code excluded: `#[cfg(test)] mod … { … }` blocks and `tests/`), and fails when

1. any crate has a module import cycle. A module is a file (`foo.rs` or `foo/mod.rs` is `foo`); the
   path `crate::a::b::Item` is an edge to the deepest file-backed module on it. A child naming its own
   ancestor (`super::Shared` from `jobs/retention.rs` to `jobs/mod.rs`) is not counted: an ancestor
   declares its children, and shared definitions for them live there;
2. a module of a crate listed in LAYERS imports a module of a higher layer, or a module missing from
   the table (every module must be placed);
3. a crate listed in PURE_CRATES depends on a crate outside its allow-list (read from Cargo.toml).

The table is the single source of the layer map; docs/architecture.md shows the same map for people.
Usage: scripts/layers.py [CHECKOUT]   (exit 0: clean; 1: a violation, each printed on its own line)
"""
import os
import re
import sys

# Layers of dcc-mcp-http, bottom (0) up. A module may import modules of its own layer or below.
# Keys are module paths relative to src/ (`jobs` covers `jobs/*`, unless a deeper key is listed).
LAYERS = {
    "dcc-mcp-http": {
        # ports: error types, the record-sink port and its label enums, component limits and defaults.
        "error": 1,
        "limits": 1,
        "record": 1,
        # the session-id port (a gateway mints ids its replicas share).
        "session_codec": 1,
        # domain (no axum, no hyper): tools and their registry with its observer port, dispatch,
        # the in-flight registry, sessions, jobs (taking their own limits).
        "content": 2,
        "registry": 2,
        # tool schemas compiled with linear-time patterns (no ReDoS on the I/O worker).
        "schema": 2,
        "content": 2,
        "dispatch": 2,
        "inflight": 2,
        "offload": 2,
        "session": 2,
        "session_order": 2,
        # the numbered replay buffer of a session's GET stream and the parked rest of closed POST
        # streams (Last-Event-ID).
        "replay": 2,
        # catalog and tool-list changes to the sessions that should hear them (session era).
        "session_events": 2,
        "jobs": 2,
        # the per-request context (era, version, the client's declared capabilities, log level)
        # and the subscriptions/listen streams of the stateless era.
        "request_context": 2,
        "listen": 2,
        # the catalogs next to the tools: resources (URI templates, subscriptions), prompts,
        # completion providers, their change events, and the catalog that answers their methods
        # (transport-agnostic; the configuration holds it).
        "uri_template": 2,
        "catalog_events": 2,
        "resource_registry": 2,
        "prompt_registry": 2,
        "completion_providers": 2,
        "catalog": 2,
        # the embedder's asynchronous answers to the catalog methods (a gateway's backends).
        "catalog_proxy": 2,
        "throttle": 2,
        # JWT access-token checks against a key set (pure: no I/O).
        "jwt": 2,
        # what a handler asks of its client (the era port), and the log budget of a session.
        "peer": 2,
        "log_budget": 2,
        # rate-limited warnings for events a client can repeat (outbox drops).
        "warn_budget": 2,
        # shared budgets: connection slots, body bytes being read, outbox bytes of all sessions.
        "conn_budget": 2,
        "body_budget": 2,
        "outbox_budget": 2,
        # 2026-07-28 multi round-trip requests: the sealed requestState and the stateless peer.
        "mrtr": 2,
        # configuration: the public façade; it names domain types (MainThreadExecutor) and splits
        # into the limit structs of the ports layer.
        "config": 3,
        "credentials": 3,
        "oauth_config": 3,
        # MCP service: the shared state and what MCP methods do (tools/*, cancellation).
        # the request's W3C trace id (task-local, set by the transport, read by the tools/call record point).
        "trace": 4,
        "state": 4,
        "tools": 4,
        "cancel": 4,
        "job_tools": 4,
        "session_peer": 4,
        "prompt_inputs": 4,
        "catalog_route": 4,
        "service": 4,
        "stateless": 4,
        # one request's queued messages, then its response: the loop behind SSE answers to a POST.
        "pump": 4,
        # HTTP transport: origin policy, catch-panic, the /mcp handlers, the router, the serve loop.
        "origin": 5,
        "cors": 5,
        "bearer": 5,
        "jwks": 5,
        "oauth": 5,
        "panic": 5,
        "mcp": 5,
        "inband": 5,
        "reply": 5,
        "stateless_http": 5,
        # hand-written SSE frames (the 2025-11-25 priming event has an empty data line).
        "sse_frames": 5,
        "app": 5,
        "serve": 5,
        # adapters: the Prometheus metric set (record sink, registry observer, /metrics).
        "metrics": 6,
        # composition root: McpHttpServer wires the layers together; lib.rs re-exports.
        "server": 7,
        # the parsers exposed to the fuzz targets (feature `fuzzing`).
        "fuzzing": 7,
        "": 7,
    },
}
LAYER_NAMES = ["protocol", "ports", "domain", "config", "service", "transport", "adapters", "root"]

# Crates that must stay free of I/O: the only dependencies they may have.
PURE_CRATES = {"dcc-mcp-protocol": {"serde", "serde_json"}}


def modules(src):
    mods = {}
    for dirpath, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            if rel and rel[0] == "bin":
                continue
            mods[tuple(rel)] = path
    return mods


def strip_tests(text):
    """Drop `#[cfg(test)] mod x { … }` blocks (brace matching) and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def expand(body):
    """`a::{b, c::{d, e}}` → [[a, b], [a, c, d], [a, c, e]]."""
    body = re.sub(r"\s+", "", body)
    if "{" not in body:
        return [re.split(r"as\b", body)[0].split("::")]
    head, rest = body.split("{", 1)
    rest = rest.rsplit("}", 1)[0]
    items, depth, cur = [], 0, ""
    for ch in rest:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    out = []
    for item in items:
        if item:
            for sub in expand(item):
                out.append([p for p in head.strip(":").split("::") if p] + sub)
    return out


def paths(text, module):
    """Absolute module paths named by `text`, the source of `module`."""
    found = []
    for m in re.finditer(r"\buse\s+((?:crate|super)::[^;]+);", text):
        found += expand(m.group(1))
    for m in re.finditer(r"(?<!use )\b((?:crate|super)(?:::\w+)+)", text):
        found.append(m.group(1).split("::"))
    out = []
    for path in found:
        base = list(module)
        if path[0] == "crate":
            out.append(path[1:])
            continue
        while path and path[0] == "super":
            base = base[:-1]
            path = path[1:]
        out.append(base + path)
    return out


def resolve(path, mods):
    for k in range(len(path), 0, -1):
        if tuple(path[:k]) in mods:
            return tuple(path[:k])
    return None


def graph_of(src):
    mods = modules(src)
    graph = {m: set() for m in mods}
    for m, path in mods.items():
        with open(path, encoding="utf-8") as f:
            text = strip_tests(f.read())
        for p in paths(text, m):
            t = resolve(p, mods)
            if t is None or t == m:
                continue
            if len(t) < len(m) and m[: len(t)] == t:
                continue  # a child naming its ancestor (see the docstring)
            graph[m].add(t)
    return graph


def sccs(graph):
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            result.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in result if len(c) > 1]


def name(module):
    return "::".join(module) or "lib"


def layer_of(module, table):
    if not module:
        return table.get("")
    for k in range(len(module), 0, -1):
        key = "/".join(module[:k])
        if key in table:
            return table[key]
    return None


def dependencies(cargo_toml):
    deps, section = set(), None
    with open(cargo_toml, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section in ("dependencies", "build-dependencies") or (
                section and section.startswith("target.") and section.endswith(".dependencies")
            ):
                m = re.match(r"([A-Za-z0-9_-]+)\s*=", line)
                if m:
                    deps.add(m.group(1))
    return deps


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    crates_dir = os.path.join(root, "crates")
    problems = []
    for crate in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, crate, "src")
        if not os.path.isdir(src):
            continue
        graph = graph_of(src)
        for cycle in sccs(graph):
            members = " ".join(sorted(name(m) for m in cycle))
            problems.append(f"{crate}: import cycle between modules: {members}")
        table = LAYERS.get(crate)
        if table is not None:
            for m in sorted(graph):
                lm = layer_of(m, table)
                if lm is None:
                    problems.append(f"{crate}: module {name(m)} has no layer in scripts/layers.py")
                    continue
                for t in sorted(graph[m]):
                    lt = layer_of(t, table)
                    if lt is not None and lt > lm:
                        problems.append(
                            f"{crate}: {name(m)} ({LAYER_NAMES[lm]}) imports {name(t)} "
                            f"({LAYER_NAMES[lt]}), a higher layer"
                        )
        allowed = PURE_CRATES.get(crate)
        if allowed is not None:
            extra = dependencies(os.path.join(crates_dir, crate, "Cargo.toml")) - allowed
            for dep in sorted(extra):
                problems.append(f"{crate}: depends on {dep}; it may depend on {sorted(allowed)} only")
        print(f"{crate}: {len(graph)} modules checked", file=sys.stderr)
    for problem in problems:
        print(problem)
    if problems:
        print(f"layers: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("layers: no cycles, no upward imports", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
