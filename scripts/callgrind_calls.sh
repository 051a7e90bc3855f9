#!/usr/bin/env bash
# Instructions per `tools/call echo` of one server, counted by callgrind: a figure that other load on
# the machine does not move (docs/benchmarks.md, "Against the HTTP floor").
#
#   ./scripts/callgrind_calls.sh OUT PORT SERVER [ARGS...]
#
# Starts SERVER ARGS under `valgrind --tool=callgrind` (it must listen on 127.0.0.1:PORT/mcp),
# zeroes the counters once it answers, drives it with `loadgen --calls` (CALLS calls on each of
# CONNECTIONS keep-alive connections, default 16 x 250), dumps the counters to OUT, stops the
# server and prints `instructions calls instructions/call`. The dump also counts the connections'
# `initialize` and `notifications/initialized` (2 x CONNECTIONS requests); read it with
# `callgrind_annotate OUT`. LOADGEN names the load generator (default target/release/loadgen).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 port=$2
shift 2
calls=${CALLS:-250}
connections=${CONNECTIONS:-16}
loadgen=${LOADGEN:-target/release/loadgen}
url="http://127.0.0.1:$port/mcp"

valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$@" >/dev/null 2>"$out.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then break; fi
    sleep 0.1
done
callgrind_control --zero "$pid" >/dev/null
"$loadgen" --url "$url" --connections "$connections" --calls "$calls" --threads 1 >"$out.loadgen.json"
callgrind_control --dump "$pid" >/dev/null
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT
# The explicit dump is the numbered part file (`OUT.PID.1`); the final dump at exit is left aside.
dump="$out.$pid.1"
mv "$dump" "$out"
rm -f "$out.$pid"
instructions=$(sed -n 's/^summary: *//p' "$out" | awk '{print $1}')
requests=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$out.loadgen.json")
python3 -c 'import sys; i, n = int(sys.argv[1]), int(sys.argv[2]); print(i, n, round(i / n))' \
    "$instructions" "$requests"
