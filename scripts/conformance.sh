#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned: 0.1.13 is the last
# release that runs on Node 20) against a real `dcc-mcp-server --demo-tools`.
#
#   ./scripts/conformance.sh [SERVER_BINARY]      default: $DCC_MCP_SERVER_BIN or target/debug/dcc-mcp-server
#
# The suite is installed with npm into target/conformance/ (ignored by git, reused by later runs).
# Every scenario below must pass; the script fails when any does not. The suite's other server
# scenarios exercise features this server does not have (resources, prompts, completion, sampling,
# elicitation) or tools with fixed names of the suite's reference server (`test_simple_text`, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

version=0.1.13
scenarios=(
    server-initialize
    ping
    tools-list
    logging-set-level
    dns-rebinding-protection
    server-sse-multiple-streams
)

server_bin=${1:-${DCC_MCP_SERVER_BIN:-$root/target/debug/dcc-mcp-server}}
if [ ! -x "$server_bin" ]; then
    echo "conformance: server binary not found: $server_bin (cargo build -p dcc-mcp-server)" >&2
    exit 1
fi

tool_dir="$root/target/conformance"
cli="$tool_dir/node_modules/.bin/conformance"
installed=$(node -p "require('$tool_dir/node_modules/@modelcontextprotocol/conformance/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$version" ]; then
    mkdir -p "$tool_dir"
    printf '{ "private": true, "dependencies": { "@modelcontextprotocol/conformance": "%s" } }\n' "$version" \
        >"$tool_dir/package.json"
    npm install --prefix "$tool_dir" --no-audit --no-fund --loglevel=error
fi

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

# Port 0: the server prints the URL it bound, which is what the suite is pointed at.
"$server_bin" --port 0 --demo-tools >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 100); do
    url=$(sed -n 's/^dcc-mcp-server listening on \(http:[^ ]*\)$/\1/p' "$work/server.out" | head -1)
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "conformance: the server did not start" >&2
    cat "$work/server.err" >&2
    exit 1
fi
echo "conformance $version against $url"

failed=()
for scenario in "${scenarios[@]}"; do
    log="$work/$scenario.log"
    rc=0
    NO_COLOR=1 timeout 120 "$cli" server --url "$url" --scenario "$scenario" >"$log" 2>&1 || rc=$?
    # The CLI exits non-zero when a check fails; the summary line is checked as well, so a CLI
    # that stopped reporting failures through its exit code cannot turn the step green.
    summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^Passed: [0-9]+/[0-9]+, [0-9]+ failed' | tail -1 || true)
    if [ "$rc" = 0 ] && [[ "$summary" =~ ^Passed:\ ([0-9]+)/([0-9]+),\ 0\ failed ]] \
        && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[1]}" != 0 ]; then
        echo "ok: $scenario ($summary)"
    else
        echo "FAIL: $scenario (exit $rc, ${summary:-no summary})" >&2
        sed 's/\x1b\[[0-9;]*m//g' "$log" >&2
        failed+=("$scenario")
    fi
done

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL: the server died during the conformance run" >&2
    cat "$work/server.err" >&2
    exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "conformance: ${#failed[@]} scenario(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "conformance: all ${#scenarios[@]} scenarios passed"
