#!/usr/bin/env bash
# CPU per proxied `tools/call`, as instructions (valgrind's callgrind counts the same whatever else
# runs on the machine, unlike CPU time on a shared host):
#
#   direct   loadgen → dcc-mcp-server --demo-tools (under callgrind)
#   gateway  loadgen → dcc-mcp-server --gateway (under callgrind) → the same backend (native)
#
# For each, the counters are zeroed once the server is up (`callgrind_control --zero`), loadgen runs
# (16 connections, `tools/call echo {"text": "hello"}`, no warm-up, so every call it counts is in the
# window), and the counters are dumped; instructions per call = Ir of the dump / loadgen's
# `requests`. The 16 sessions' handshakes fall in the window too (the same for both). The ratio
# gateway / direct is the gateway's CPU per proxied call over the server's per direct call.
# Not part of scripts/test.sh.
#
#   ROUNDS=3 SECONDS_PER_RUN=10 scripts/callgrind_gateway.sh
#
# Output: target/callgrind-gateway/{direct,gateway}-N.out (annotate with callgrind_annotate) and
# summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
out=${OUT:-$target/callgrind-gateway}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-16}
mkdir -p "$out"
: >"$out/runs.txt"

export CARGO_INCREMENTAL=0
if [ -z "${NO_BUILD:-}" ]; then
    cargo build -q --release -p dcc-mcp-benches --bin loadgen
    cargo build -q --release -p dcc-mcp-server
fi
bin="$target/release"

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

# Ir of a callgrind dump ("summary:" line, or "totals:" in newer formats).
ir_of() { sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$1" | head -1; }

# callgrind_control is answered when the server runs code: a request wakes an idle one.
control() { # port pid args...
    local port=$1 pid=$2
    shift 2
    callgrind_control "$@" "$pid" >/dev/null &
    local ctl=$!
    while kill -0 "$ctl" 2>/dev/null; do
        curl -s -o /dev/null "http://127.0.0.1:$port/health" || true
        sleep 0.2
    done
    wait "$ctl"
}

measure() { # label port tool pid round
    local label=$1 port=$2 tool=$3 pid=$4 round=$5
    control "$port" "$pid" --zero
    local line
    line=$("$bin/loadgen" --url "http://127.0.0.1:$port/mcp" --connections "$conns" \
        --duration "$seconds" --warmup 0 --tool "$tool" --label "$label")
    control "$port" "$pid" --dump="$label-$round"
    local dump
    dump=$(ls -t "$out/$label.out".*.* | head -1)
    local requests errors ir
    requests=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$line")
    errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$line")
    ir=$(ir_of "$dump")
    mv "$dump" "$out/$label-$round.out"
    echo "$label round=$round requests=$requests errors=$errors Ir=$ir Ir/call=$((ir / requests))" |
        tee -a "$out/runs.txt"
}

backend_port=18711 gateway_port=18712 direct_port=18713
# The gateway's backend runs natively; the servers measured run under callgrind.
"$bin/dcc-mcp-server" --port $backend_port --demo-tools >/dev/null 2>"$out/backend.log" &
backend_pid=$!
pids+=("$backend_pid")
wait_port $backend_port $backend_pid 30

valgrind --tool=callgrind --callgrind-out-file="$out/gateway.out.%p" \
    "$bin/dcc-mcp-server" --gateway --port $gateway_port --probe-interval-ms 60000 \
    --backend "b=http://127.0.0.1:$backend_port/mcp" >/dev/null 2>"$out/gateway.log" &
gateway_pid=$!
pids+=("$gateway_pid")
wait_port $gateway_port $gateway_pid 120
until curl -sf "http://127.0.0.1:$gateway_port/health" | grep -q '"backends_up":1'; do sleep 0.2; done

valgrind --tool=callgrind --callgrind-out-file="$out/direct.out.%p" \
    "$bin/dcc-mcp-server" --port $direct_port --demo-tools >/dev/null 2>"$out/direct.log" &
direct_pid=$!
pids+=("$direct_pid")
wait_port $direct_port $direct_pid 120

for round in $(seq "$rounds"); do
    measure direct $direct_port echo $direct_pid "$round"
    measure gateway $gateway_port b__echo $gateway_pid "$round"
done

python3 - "$out/runs.txt" >"$out/summary.txt" <<'EOF'
import re, statistics, sys
by = {}
for line in open(sys.argv[1]):
    m = re.search(r"^(\w+) .*Ir/call=(\d+)", line)
    if m:
        by.setdefault(m.group(1), []).append(int(m.group(2)))
d, g = statistics.median(by["direct"]), statistics.median(by["gateway"])
print(f"direct  Ir/call median {d:,.0f} ({', '.join(f'{v:,}' for v in by['direct'])})")
print(f"gateway Ir/call median {g:,.0f} ({', '.join(f'{v:,}' for v in by['gateway'])})")
print(f"gateway / direct: {g / d:.2f}x")
EOF
cat "$out/runs.txt" "$out/summary.txt"
