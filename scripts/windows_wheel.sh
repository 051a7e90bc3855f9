#!/usr/bin/env bash
# Cross-builds the Windows wheel of the Python package on Linux and inspects it. Not a step of
# scripts/test.sh (a second release build of the whole server costs as much again as the Linux one).
#
#   ./scripts/windows_wheel.sh            release wheel into target/wheels-windows/
#   ./scripts/windows_wheel.sh --debug    a faster debug build, same checks
#
# Builds for x86_64-pc-windows-gnu with Debian's mingw-w64 linker (the module is abi3, so no
# Windows Python is needed to build it) and checks:
#   - the file name: dcc_mcp_core-<version>-cp39-abi3-win_amd64.whl;
#   - the wheel holds dcc_mcp_core/_core.pyd, a PE32+ x86-64 DLL exporting PyInit__core;
#   - the DLLs it imports: python3.dll (the stable-ABI DLL, not python3X.dll) and Windows system
#     DLLs only: no libgcc_s/libwinpthread/libstdc++ that a studio machine would not have.
# What this machine cannot do: load the module into a Windows CPython (no Windows, no Wine here),
# so importing it and serving on Windows stays untested by this script.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=x86_64-pc-windows-gnu
profile=(--release)
[ "${1:-}" = "--debug" ] && profile=()

if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 >/dev/null
    else
        echo "x86_64-w64-mingw32-gcc missing and not root: install Debian's gcc-mingw-w64-x86-64" >&2
        exit 1
    fi
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
venv="$root/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q "maturin>=1.9.4,<2"

out="$root/target/wheels-windows"
rm -rf "$out"
CARGO_TARGET_DIR="$root/target/windows" "$venv/bin/maturin" build "${profile[@]}" --target "$target" \
    --features python-bindings,ext-module,workflow,prometheus --out "$out"
wheel=$(ls "$out"/dcc_mcp_core-*.whl)
name=$(basename "$wheel")
case "$name" in
    *-cp39-abi3-win_amd64.whl) echo "ok: $name" ;;
    *) echo "FAIL: not a cp39-abi3-win_amd64 wheel: $name" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" -m zipfile -e "$wheel" "$work"
pyd="$work/dcc_mcp_core/_core.pyd"
[ -f "$pyd" ] || { echo "FAIL: no dcc_mcp_core/_core.pyd in $name" >&2; exit 1; }
headers=$(x86_64-w64-mingw32-objdump -p "$pyd")
grep -q '^Magic[[:space:]]*020b' <<<"$headers" || { echo "FAIL: _core.pyd is not PE32+" >&2; exit 1; }
grep -q 'PyInit__core' <<<"$headers" || { echo "FAIL: _core.pyd does not export PyInit__core" >&2; exit 1; }
imports=$(grep 'DLL Name:' <<<"$headers" | awk '{print $3}' | sort -u)
echo "imports:"; sed 's/^/  /' <<<"$imports"
grep -qx 'python3.dll' <<<"$imports" || { echo "FAIL: does not import python3.dll (not abi3?)" >&2; exit 1; }
if grep -Eiq '^python3[0-9]+\.dll$' <<<"$imports"; then
    echo "FAIL: imports a version-specific python3X.dll: not abi3" >&2; exit 1
fi
if grep -Eiq 'libgcc|libwinpthread|libstdc\+\+' <<<"$imports"; then
    echo "FAIL: imports a MinGW runtime DLL that Windows machines do not have" >&2; exit 1
fi
echo "ok: PE32+ DLL exporting PyInit__core, stable ABI (python3.dll), no MinGW runtime DLLs"
echo "not checked here: importing it into a Windows CPython (needs Windows)"
