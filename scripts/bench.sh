#!/usr/bin/env bash
# Every benchmark in one command; results land in target/bench-results/ and the chart in
# docs/benchmarks.svg (see docs/benchmarks.md).
#
#   ./scripts/bench.sh              recording comparisons, scrape, memory, end-to-end, chart
#   ./scripts/bench.sh --no-e2e     skip the end-to-end server runs
#   ./scripts/bench.sh --only e2e   one part: compare | recording | scrape | memory | profile | e2e | floor | perf | report
#   ./scripts/bench.sh --only floor the floor part of e2e alone: http-floor, our server and our server with
#                                   the exporter, in interleaved rounds (no Python, no peers)
#
# Environment: DCC_MCP_BENCH_THREADS (default "1,2"; e.g. "1,2,4,8" or "max" on bigger machines),
# CRITERION_ARGS (extra criterion flags, e.g. "--measurement-time 5"), E2E_ROUNDS (default 5),
# E2E_SECONDS (measured seconds per run, default 10), E2E_CONNECTIONS (default 16), E2E_PORT
# (default 18765; the exporter pairs also use the next port), E2E_PAIRS (default 5), BENCH_VENV (the Python venv of the e2e peers, default .venv; created if missing),
# PERF_KINDS / PERF_SECONDS / PERF_FREQ (the perf part: handler kinds, seconds, samples/s).
# The end-to-end part and the perf part rewrite only their own section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/target/bench-results"
mkdir -p "$out"

only=""
e2e=1
while [ $# -gt 0 ]; do
    case "$1" in
        --no-e2e) e2e=0 ;;
        --only) only="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
step() { printf '\n==> %s\n' "$*"; }

machine() {
    {
        echo "run: $(date -u '+%Y-%m-%d %H:%M UTC') $0 ${only:+--only $only}"
        echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
        echo "kernel: $(uname -sr)"
        echo "rustc: $(rustc -V)"
        echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    } >>"$out/machine.txt"
}

# Busy share of all cores over one second, in percent (from /proc/stat).
busy_pct() {
    local a b
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    local idle=$((b[4] - a[4] + b[5] - a[5]))
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}

# Multi-thread results are only meaningful when the threads get the cores: wait (up to
# QUIET_WAIT seconds, default 120) until other work uses less than 15 % of the machine.
wait_quiet() {
    local waited=0 busy
    while busy=$(busy_pct) && [ "$busy" -ge 15 ] && [ "$waited" -lt "${QUIET_WAIT:-120}" ]; do
        [ "$waited" = 0 ] && echo "waiting for a quiet machine (busy ${busy} %) ..."
        waited=$((waited + 1))
    done
    echo "$1: machine busy ${busy} % before the run (waited ${waited} s)" | tee -a "$out/machine.txt"
}

crit() { # bench name [criterion flags...]
    local name=$1
    shift
    step "criterion: $name"
    # Build first, so the compile does not count as load.
    cargo bench -q -p dcc-mcp-benches --bench "$name" --no-run
    wait_quiet "$name"
    # shellcheck disable=SC2086
    cargo bench -q -p dcc-mcp-benches --bench "$name" -- --noplot "$@" ${CRITERION_ARGS:-} 2>&1 | tee "$out/$name.log"
}

export DCC_MCP_BENCH_RESULTS="$out"
if want compare || want recording || want scrape || want memory || want e2e || want floor || want perf; then machine; fi
# Groups of compare.rs whose multi-thread samples ran with a CPU share below 0.85 (latest entry
# per benchmark wins): their threads did not run at once, so they are measured again.
disturbed_groups() {
    awk -F, '{ s[$1","$2","$3] = $4 } END { for (k in s) { split(k, a, ","); if (a[3] > 1 && s[k] < 0.85) print a[1] } }' \
        "$out/cpu_share.csv" | sort -u
}

if want compare; then
    : >"$out/cpu_share.csv"
    crit compare
    for attempt in $(seq "${RETRIES:-3}"); do
        groups=$(disturbed_groups)
        [ -z "$groups" ] && break
        for g in $groups; do
            step "compare: $g was disturbed by other load; measuring it again ($attempt/${RETRIES:-3})"
            wait_quiet "$g"
            cargo bench -q -p dcc-mcp-benches --bench compare -- --noplot "^$g/" ${CRITERION_ARGS:-} 2>&1 \
                | tee -a "$out/compare.log"
        done
    done
fi
# recording.rs keeps criterion's long defaults for its own use; shorten them here.
if want recording && [ -f benches/benches/recording.rs ]; then
    crit recording --warm-up-time 0.5 --measurement-time 1.5 --sample-size 20
fi
if want scrape; then
    : >"$out/scrape_pairs.csv"
    crit scrape
fi
if want memory; then
    step "memory per series per shard"
    cargo run -q --release -p dcc-mcp-benches --bin bench-memory | tee "$out/memory.csv"
fi

# Instructions per operation (noise-free), when valgrind is installed.
if want profile || { [ -z "$only" ] && command -v valgrind >/dev/null 2>&1; }; then
    step "instructions per operation (callgrind)"
    cargo build -q --release -p dcc-mcp-benches --bin bench-ops
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "${CARGO_TARGET_DIR:-target}/release/bench-ops" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
    echo "path,instructions_per_op" >"$out/instructions.csv"
    for p in counter labels hist tool p_counter p_labels p_hist p_tool; do
        a=$(ir "$p" 0); b=$(ir "$p" 100000)
        echo "$p,$(( (b - a) / 100000 ))" | tee -a "$out/instructions.csv"
    done
fi

# The Python side of the end-to-end run: a venv (BENCH_VENV, default .venv) with the official MCP
# SDK and our extension built in release mode, as a plug-in author would install it.
python_env() {
    venv=${BENCH_VENV:-$root/.venv}
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q -r tests/requirements.txt
    VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$venv/bin/maturin" develop -q --release \
        --features python-bindings,ext-module,workflow,prometheus
    py="$venv/bin/python"
    echo "python: $("$py" -V 2>&1), mcp $("$py" -c 'import importlib.metadata as m; print(m.version("mcp"))')" \
        >>"$out/machine.txt"
}

# Builds every server of the end-to-end run and the load generator into $bin.
build_servers() {
    step "end-to-end: build our server (with and without the exporter), the floor, rmcp-echo and the load generator"
    bin="$out/bin"
    mkdir -p "$bin"
    target=${CARGO_TARGET_DIR:-target}
    if [ "${1:-}" != floor ]; then
        cargo build -q --release -p dcc-mcp-server --no-default-features --features workflow
        cp "$target/release/dcc-mcp-server" "$bin/dcc-mcp-server-no-prometheus"
    fi
    cargo build -q --release -p dcc-mcp-server
    cp "$target/release/dcc-mcp-server" "$bin/dcc-mcp-server"
    local peers=(--features rmcp-peer --bin rmcp-echo)
    [ "${1:-}" = floor ] && peers=()
    cargo build -q --release -p dcc-mcp-benches --bin loadgen --bin http-floor "${peers[@]}"
    cp "$target/release/loadgen" "$target/release/http-floor" "$bin/"
    [ "${1:-}" = floor ] || cp "$target/release/rmcp-echo" "$bin/"
}

port=${E2E_PORT:-18765}
conns=${E2E_CONNECTIONS:-16}

# Starts a server command on $port and waits until it accepts connections; sets $server_pid.
start_server() { # label command...
    local label=$1
    shift
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is already in use: refusing to measure someone else's server" >&2
        exit 1
    fi
    "$@" >/dev/null 2>"$out/server-$label.log" &
    server_pid=$!
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$label did not start (see $out/server-$label.log)" >&2
    exit 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}

# `--only floor` runs the three servers of the floor comparison and nothing else.
floor_only=0
[ "$only" = floor ] && floor_only=1
if { want e2e || [ "$floor_only" = 1 ]; } && [ "$e2e" = 1 ]; then
    if [ "$floor_only" = 1 ]; then
        build_servers floor
    else
        build_servers
        step "end-to-end: Python environment (official MCP SDK, dcc_mcp_core in release mode)"
        python_env
    fi

    rounds=${E2E_ROUNDS:-5}
    seconds=${E2E_SECONDS:-10}
    : >"$out/e2e.jsonl"
    echo "e2e-run: $(date -u '+%Y-%m-%d %H:%M UTC'), $rounds rounds of ${seconds} s, $conns connections, load average before $(cut -d' ' -f1-3 /proc/loadavg)" \
        >>"$out/machine.txt"
    wait_quiet e2e

    # label, server command..., --, extra loadgen flags...
    run_one() {
        local label=$1
        shift
        local cmd=() lflags=()
        while [ "$1" != "--" ]; do cmd+=("$1"); shift; done
        shift
        lflags=("$@")
        start_server "$label" "${cmd[@]}"
        "$bin/loadgen" --url "http://127.0.0.1:$port/mcp" --connections "$conns" \
            --duration "$seconds" --warmup 2 --label "$label" --server-pid "$server_pid" "${lflags[@]}" \
            | tee -a "$out/e2e.jsonl"
        stop_server
    }

    ours=("$bin/dcc-mcp-server" --port "$port" --demo-tools)
    for round in $(seq "$rounds"); do
        step "end-to-end round $round/$rounds"
        # The floor (hyper + serde_json, benches/src/bin/http_floor.rs) next to ours, same loadgen:
        # bench_chart.py reports each round's CPU per call over the floor's.
        run_one floor "$bin/http-floor" --port "$port" --
        run_one feature-off "${ours[@]}" --
        run_one exporter-on "${ours[@]}" --prometheus --
        [ "$floor_only" = 1 ] && continue
        # Ours: the demo echo is an inline (non-blocking) handler unless --demo-handlers worker.
        run_one worker "${ours[@]}" --demo-handlers worker --
        run_one no-feature "$bin/dcc-mcp-server-no-prometheus" --port "$port" --demo-tools --
        run_one exporter-scraped "${ours[@]}" --prometheus -- \
            --scrape-url "http://127.0.0.1:$port/metrics" --scrape-interval-ms 100
        run_one python-handler "$py" benches/peers/dcc_python_server.py --port "$port" --
        # The peers.
        run_one python-sdk "$py" benches/peers/python_sdk_server.py --port "$port" --
        run_one rmcp "$bin/rmcp-echo" --port "$port" --
        run_one rmcp-stateless "$bin/rmcp-echo" --port "$port" --stateless --
    done

    # The exporter's cost is ≈ 0.1 % of a call, far below what runs minutes apart can resolve on a
    # shared machine. So it is also measured in pairs: the build without the feature and the build
    # with the exporter run at the same time on two ports, each with its own loadgen (same
    # connections, same windows), and the pair's ratio of CPU per call sees the same background load.
    second_port=$((port + 1))
    run_pair() { # test-label test-server-flags... -- test-loadgen-flags...
        local label=$1
        shift
        local tflags=() lflags=()
        while [ "$1" != "--" ]; do tflags+=("$1"); shift; done
        shift
        lflags=("$@")
        start_server "pair-base" "$bin/dcc-mcp-server-no-prometheus" --port "$port" --demo-tools
        local base_pid=$server_pid
        local saved_port=$port
        port=$second_port
        start_server "pair-$label" "$bin/dcc-mcp-server" --port "$port" --demo-tools "${tflags[@]}"
        local test_pid=$server_pid
        port=$saved_port
        "$bin/loadgen" --url "http://127.0.0.1:$port/mcp" --connections "$conns" --duration "$seconds" \
            --warmup 2 --label "pair:$label:base" --server-pid "$base_pid" >"$out/pair-base.json" &
        local lg_base=$!
        "$bin/loadgen" --url "http://127.0.0.1:$second_port/mcp" --connections "$conns" --duration "$seconds" \
            --warmup 2 --label "pair:$label:test" --server-pid "$test_pid" "${lflags[@]}" >"$out/pair-test.json"
        wait "$lg_base"
        cat "$out/pair-base.json" "$out/pair-test.json" | tee -a "$out/e2e.jsonl"
        server_pid=$base_pid; stop_server
        server_pid=$test_pid; stop_server
    }
    pairs=${E2E_PAIRS:-5}
    [ "$floor_only" = 1 ] && pairs=0
    for pair in $(seq "$pairs"); do
        step "exporter pairs $pair/$pairs"
        run_pair exporter-on --prometheus --
        run_pair exporter-scraped --prometheus -- \
            --scrape-url "http://127.0.0.1:$second_port/metrics" --scrape-interval-ms 100
    done
    echo "e2e-after: load average after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
    python3 scripts/bench_chart.py --e2e-only --results "$out" --doc docs/benchmarks.md
fi

# Where our server spends its CPU per tools/call: `perf record` (Debian's linux-perf) of the server
# under loadgen, echo through the worker (blocking) path and inline, grouped by scripts/perf_shares.py.
# A full run profiles only when perf is installed; `--only perf` insists.
if [ "$only" = perf ] || { [ -z "$only" ] && [ "$e2e" = 1 ] && command -v perf >/dev/null 2>&1; }; then
    command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
    [ -x "$out/bin/dcc-mcp-server" ] || build_servers
    bin="$out/bin"
    mkdir -p "$out/perf"
    : >"$out/perf.jsonl"
    for kind in ${PERF_KINDS:-worker inline}; do
        step "perf: echo via the $kind handler"
        start_server "perf-$kind" "$bin/dcc-mcp-server" --port "$port" --demo-tools --demo-handlers "$kind"
        "$bin/loadgen" --url "http://127.0.0.1:$port/mcp" --connections "$conns" \
            --duration "$(( ${PERF_SECONDS:-10} + 4 ))" --warmup 1 \
            --label "perf-$kind" --server-pid "$server_pid" >"$out/perf/$kind-loadgen.json" &
        lg=$!
        sleep 3
        perf record -q -F "${PERF_FREQ:-999}" --call-graph dwarf,16384 -p "$server_pid" -o "$out/perf/$kind.data" \
            -- sleep "${PERF_SECONDS:-10}" 2>"$out/perf/$kind-record.log" || true
        wait "$lg"
        stop_server
        perf script -i "$out/perf/$kind.data" 2>/dev/null \
            | python3 scripts/perf_shares.py --label "$kind" --loadgen "$out/perf/$kind-loadgen.json" \
            | tee -a "$out/perf.jsonl"
    done
    python3 scripts/bench_chart.py --e2e-only --results "$out" --doc docs/benchmarks.md
fi

if want report || [ -z "$only" ]; then
    step "tables and chart"
    python3 scripts/bench_chart.py --criterion "${CARGO_TARGET_DIR:-target}/criterion" --results "$out" --svg docs/benchmarks.svg \
        --doc docs/benchmarks.md
fi
