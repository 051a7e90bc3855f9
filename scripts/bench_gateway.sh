#!/usr/bin/env bash
# Gateway overhead, against the gateways users would pick instead, in one run with one load generator
# (benches/src/bin/loadgen.rs, 16 connections, tools/call echo {"text": "hello"}):
#
#   direct        loadgen → dcc-mcp-server --demo-tools                 (CPU of the backend)
#   gateway       loadgen → dcc-mcp-server --gateway → the same backend (CPU of the gateway)
#   fastmcp       loadgen → FastMCP's proxy (benches/peers/fastmcp_proxy.py) → the same backend
#   contextforge  loadgen → IBM ContextForge (`mcpgateway`, PyPI mcp-contextforge-gateway) → the same
#                 backend, when CONTEXTFORGE_BIN names its `mcpgateway` (skipped otherwise)
#
# Each proxy's CPU per call is its own process's (loadgen --server-pid), so "gateway / direct" is the
# gateway's CPU per proxied call over the backend's CPU per direct call; the added p50 is each proxy's
# p50 minus the direct p50 of the same round. Rounds interleave the four, and the summary takes the
# median over rounds. Not part of scripts/test.sh.
#
#   FASTMCP_PYTHON=/path/to/venv/bin/python CONTEXTFORGE_BIN=/path/to/venv/bin/mcpgateway \
#       ROUNDS=5 SECONDS_PER_RUN=10 scripts/bench_gateway.sh
#
# Output: target/bench-gateway/gateway.jsonl (one loadgen line per run) and summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
out=${OUT:-$target/bench-gateway}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-5}
conns=${CONNECTIONS:-16}
mkdir -p "$out"
: >"$out/gateway.jsonl"

export CARGO_INCREMENTAL=0
cargo build -q --release -p dcc-mcp-benches --bin loadgen
cargo build -q --release -p dcc-mcp-server
bin="$target/release"

fastmcp_py=${FASTMCP_PYTHON:-}
if [ -z "$fastmcp_py" ]; then
    python3 -m venv "$out/fastmcp-venv"
    "$out/fastmcp-venv/bin/pip" install -q fastmcp
    fastmcp_py="$out/fastmcp-venv/bin/python"
fi
contextforge=${CONTEXTFORGE_BIN:-}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() { # port pid seconds
    for _ in $(seq $(($3 * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

backend_port=18701 gateway_port=18702 fastmcp_port=18703 cf_port=18704
"$bin/dcc-mcp-server" --port $backend_port --demo-tools >/dev/null 2>"$out/backend.log" &
backend_pid=$!
pids+=("$backend_pid")
wait_port $backend_port $backend_pid 30
"$bin/dcc-mcp-server" --gateway --port $gateway_port --backend "b=http://127.0.0.1:$backend_port/mcp" \
    >/dev/null 2>"$out/gateway.log" &
gateway_pid=$!
pids+=("$gateway_pid")
wait_port $gateway_port $gateway_pid 30
until curl -sf "http://127.0.0.1:$gateway_port/health" | grep -q '"backends_up":1'; do sleep 0.1; done
"$fastmcp_py" benches/peers/fastmcp_proxy.py --port $fastmcp_port --backend "http://127.0.0.1:$backend_port/mcp" \
    >/dev/null 2>"$out/fastmcp.log" &
fastmcp_pid=$!
pids+=("$fastmcp_pid")
wait_port $fastmcp_port $fastmcp_pid 120
if [ -n "$contextforge" ]; then
    # ContextForge keeps its catalog in a database and needs the backend registered as a "gateway";
    # its /mcp then serves the backend's tools as `b-echo` (stateless: no session id).
    cf_dir="$out/contextforge"
    rm -rf "$cf_dir" && mkdir -p "$cf_dir"
    secret=bench-only-secret-0123456789abcdef
    (cd "$cf_dir" && AUTH_REQUIRED=false MCPGATEWAY_UI_ENABLED=false MCPGATEWAY_ADMIN_API_ENABLED=true \
        DATABASE_URL="sqlite:///$cf_dir/mcp.db" JWT_SECRET_KEY=$secret PLATFORM_ADMIN_EMAIL=admin@example.com \
        PLATFORM_ADMIN_PASSWORD='Bench-only-pass-1!' LOG_LEVEL=ERROR SSRF_PROTECTION_ENABLED=false \
        SSRF_ALLOW_LOCALHOST=true SSRF_ALLOW_PRIVATE_NETWORKS=true \
        exec "$contextforge" --host 127.0.0.1 --port $cf_port >/dev/null 2>"$out/contextforge.log") &
    cf_pid=$!
    pids+=("$cf_pid")
    wait_port $cf_port $cf_pid 180
    until curl -sf "http://127.0.0.1:$cf_port/health" >/dev/null; do sleep 0.5; done
    cf_python="$(dirname "$contextforge")/python"
    token=$("$cf_python" -m mcpgateway.utils.create_jwt_token --username admin@example.com --exp 600 \
        --secret $secret 2>/dev/null | tail -1)
    curl -sf -X POST -H "authorization: Bearer $token" -H content-type:application/json \
        -d "{\"name\":\"b\",\"url\":\"http://127.0.0.1:$backend_port/mcp\",\"transport\":\"STREAMABLEHTTP\"}" \
        "http://127.0.0.1:$cf_port/gateways" >/dev/null
    # The uvicorn process is the gateway (one worker by default): its CPU is what is counted.
    cf_server_pid=$(pgrep -P "$cf_pid" -f mcpgateway | head -1 || true)
    [ -n "$cf_server_pid" ] || cf_server_pid=$cf_pid
fi

run() { # label port tool pid
    "$bin/loadgen" --url "http://127.0.0.1:$2/mcp" --connections "$conns" --duration "$seconds" --warmup 2 \
        --tool "$3" --label "$1" --server-pid "$4" | tee -a "$out/gateway.jsonl"
}

for round in $(seq "$rounds"); do
    echo "== round $round/$rounds"
    run direct $backend_port echo $backend_pid
    run gateway $gateway_port b__echo $gateway_pid
    run fastmcp $fastmcp_port echo $fastmcp_pid
    if [ -n "$contextforge" ]; then run contextforge $cf_port b-echo "$cf_server_pid"; fi
done

{
    echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "fastmcp $("$fastmcp_py" -c 'import fastmcp; print(fastmcp.__version__)')"
    if [ -n "$contextforge" ]; then echo "contextforge $("$(dirname "$contextforge")/pip" show mcp-contextforge-gateway | sed -n 's/^Version: //p')"; fi
} >"$out/machine.txt"

python3 - "$out/gateway.jsonl" "$rounds" >"$out/summary.md" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
by = {}
for row in rows:
    by.setdefault(row["label"], []).append(row)
direct = by["direct"]
def med(label, key):
    return statistics.median(r[key] for r in by[label])
print("| path | requests/s | p50 µs | p99 µs | proxy CPU µs per call | CPU vs direct | added p50 µs |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label in ["direct", "gateway", "fastmcp", "contextforge"]:
    if label not in by:
        continue
    added = statistics.median(r["p50_us"] - d["p50_us"] for r, d in zip(by[label], direct))
    cpu = med(label, "server_cpu_us_per_req")
    print(f"| {label} | {med(label, 'rps'):,.0f} | {med(label, 'p50_us'):,.0f} | {med(label, 'p99_us'):,.0f} "
          f"| {cpu:,.1f} | {cpu / med('direct', 'server_cpu_us_per_req'):.2f}× | "
          f"{'' if label == 'direct' else f'{added:,.0f}'} |")
print(f"\nmedians over {sys.argv[2]} rounds")
EOF
cat "$out/machine.txt" "$out/summary.md"
