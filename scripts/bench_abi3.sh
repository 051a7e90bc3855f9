#!/usr/bin/env bash
# Per-call cost of the abi3 (stable-ABI) Python extension against a version-specific build, with a
# Python echo handler under `loadgen` (docs/benchmarks.md, "abi3 vs cp311").
#
#   ./scripts/bench_abi3.sh        ROUNDS (default 5), SECONDS_PER_RUN (measured seconds per run,
#                                  default 5), CONNECTIONS (default 8) from the environment;
#                                  REUSE_WHEELS=1 keeps the wheels of the previous run
#
# Both wheels are release builds of the same commit; the version-specific one is built from a copy of
# HEAD with pyo3's `abi3-py39` feature removed. Each round runs both, alternating, and the figure is
# the median over rounds of the server process' CPU time (utime + stime from /proc/PID/stat, all
# threads, measured by loadgen's --server-pid) divided by the calls answered.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/target/bench-results/abi3"
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_RUN:-5}
conns=${CONNECTIONS:-8}
python=${PYTHON:-python3}
mkdir -p "$out"
step() { printf '\n==> %s\n' "$*"; }

step "wheels: abi3 (the shipped build) and version-specific (abi3-py39 removed)"
tool_venv="$out/tool-venv"
[ -x "$tool_venv/bin/maturin" ] || { "$python" -m venv "$tool_venv"; "$tool_venv/bin/pip" install -q "maturin>=1.9.4,<2"; }
if [ "${REUSE_WHEELS:-0}" != 1 ] || [ ! -d "$out/wheels/specific" ]; then
    rm -rf "$out/wheels" "$out/src-specific"
    "$tool_venv/bin/maturin" build --release -i "$tool_venv/bin/python" --out "$out/wheels/abi3"
    mkdir -p "$out/src-specific"
    git archive HEAD | tar -x -C "$out/src-specific"
    sed -i 's/features = \["macros", "abi3-py39"\]/features = ["macros"]/' "$out/src-specific/crates/dcc-mcp-py/Cargo.toml"
    grep -q 'features = \["macros"\]' "$out/src-specific/crates/dcc-mcp-py/Cargo.toml"
    (cd "$out/src-specific" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" \
        "$tool_venv/bin/maturin" build --release -i "$tool_venv/bin/python" --out "$out/wheels/specific")
fi
abi3_wheel=$(ls "$out"/wheels/abi3/*.whl)
specific_wheel=$(ls "$out"/wheels/specific/*.whl)
case "$abi3_wheel" in *-abi3-*) ;; *) echo "not an abi3 wheel: $abi3_wheel" >&2; exit 1 ;; esac
case "$specific_wheel" in *-abi3-*) echo "not a version-specific wheel: $specific_wheel" >&2; exit 1 ;; esac
specific_tag=$(basename "$specific_wheel" | cut -d- -f3)

for variant in abi3 specific; do
    rm -rf "$out/venv-$variant"
    "$tool_venv/bin/python" -m venv "$out/venv-$variant"
    wheel_var="${variant}_wheel"
    "$out/venv-$variant/bin/pip" install -q --no-deps "${!wheel_var}"
done

step "load generator"
cargo build -q --release -p dcc-mcp-benches --bin loadgen
loadgen="${CARGO_TARGET_DIR:-$root/target}/release/loadgen"

cat >"$out/echo_server.py" <<'EOF'
"""An MCP server whose `echo` tool is a Python function; prints its URL, serves until SIGTERM."""
import signal

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry, _core

registry = ToolRegistry()
registry.register("echo", description="Echo the arguments back", input_schema={"type": "object"})
server = McpHttpServer(registry, McpHttpConfig(port=0))
server.register_handler("echo", lambda arguments: arguments)


def stop(signum, frame):
    raise KeyboardInterrupt


# A background job of a non-interactive shell starts with SIGINT ignored: stop on SIGTERM instead.
signal.signal(signal.SIGTERM, stop)
with server.start() as handle:
    print(handle.mcp_url(), _core.__file__, flush=True)
    try:
        handle.wait()
    except KeyboardInterrupt:
        pass
EOF

results="$out/results.jsonl"
: >"$results"
run_one() { # variant round
    local variant=$1 round=$2 fifo="$out/server-$variant-$round.out"
    rm -f "$fifo"  # the child truncates it only after the fork: never read a previous run's URL
    "$out/venv-$variant/bin/python" "$out/echo_server.py" >"$fifo" 2>"$out/server-$variant.err" &
    local pid=$! url=""
    for _ in $(seq 100); do
        url=$(grep -m1 ' ' "$fifo" 2>/dev/null | cut -d' ' -f1 || true)
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "server did not start" >&2; cat "$out/server-$variant.err" >&2; kill "$pid"; exit 1; }
    echo "round $round: $variant ($(cut -d' ' -f2 "$fifo" | xargs basename))"
    "$loadgen" --url "$url" --connections "$conns" --duration "$seconds" --warmup 1 \
        --label "$variant" --server-pid "$pid" | tee -a "$results"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}
for round in $(seq "$rounds"); do
    step "round $round/$rounds"
    run_one abi3 "$round"
    run_one specific "$round"
done

step "median server CPU per call (µs) and requests/s over $rounds rounds"
"$tool_venv/bin/python" - "$results" "$specific_tag" <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
tag = sys.argv[2]
for label, name in (("abi3", "cp39-abi3"), ("specific", tag)):
    mine = [r for r in runs if r["label"] == label]
    cpu = statistics.median(r["server_cpu_us_per_req"] for r in mine)
    assert all(r["errors"] == 0 for r in mine), mine
    rps = statistics.median(r["rps"] for r in mine)
    print(f"{name:>10}: {cpu:7.1f} µs CPU/call  {rps:8.0f} calls/s  (runs: "
          + ", ".join(f'{r["server_cpu_us_per_req"]:.1f}' for r in mine) + ")")
EOF
