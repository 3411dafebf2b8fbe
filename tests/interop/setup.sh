#!/usr/bin/env bash
# Installs every interop peer into target/interop/ (git-ignored). Idempotent: a second
# run only checks versions and prints them. Exits non-zero, with a message, if any
# peer cannot be installed; it never skips one.
#
#   target/interop/venv/   Python venv with websockets (pinned below)
#   target/interop/node/   npm ci of tests/interop/package{,-lock}.json (ws, playwright-core)
#   /usr/bin/chromium      Debian's chromium + chromium-driver, installed with apt if missing
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/target/interop"
PY_WEBSOCKETS=17.4 # exact pin of the Python peer

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }
mkdir -p "$OUT"

# --- Python: a venv with websockets==$PY_WEBSOCKETS --------------------------------
command -v python3 >/dev/null || die "python3 not found"
if [ ! -x "$OUT/venv/bin/python" ]; then
    python3 -m venv "$OUT/venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
have="$("$OUT/venv/bin/python" -c 'import websockets; print(websockets.__version__)' 2>/dev/null || true)"
if [ "$have" != "$PY_WEBSOCKETS" ]; then
    "$OUT/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "websockets==$PY_WEBSOCKETS" || die "pip install websockets==$PY_WEBSOCKETS failed"
fi

# --- Node: ws + playwright-core at the versions of the committed lockfile ------------
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"
mkdir -p "$OUT/node"
# Reinstall only when the committed manifest or lockfile changed (or nothing is there).
if ! cmp -s "$HERE/package-lock.json" "$OUT/node/package-lock.json" \
   || ! cmp -s "$HERE/package.json" "$OUT/node/package.json" \
   || [ ! -d "$OUT/node/node_modules/ws" ] || [ ! -d "$OUT/node/node_modules/playwright-core" ]; then
    cp "$HERE/package.json" "$HERE/package-lock.json" "$OUT/node/"
    npm ci --prefix "$OUT/node" --no-audit --no-fund --loglevel=error \
        || die "npm ci in $OUT/node failed"
fi

# --- Chromium from Debian (the browser peer) -----------------------------------------
if [ ! -x /usr/bin/chromium ]; then
    [ "$(id -u)" = 0 ] || die "/usr/bin/chromium is missing and installing it needs root: \
run 'apt-get install -y chromium chromium-driver' as root"
    echo "setup.sh: installing chromium + chromium-driver with apt-get"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
        || die "apt-get install chromium chromium-driver failed"
    [ -x /usr/bin/chromium ] || die "apt-get ran but /usr/bin/chromium is still missing"
fi

# --- What is installed ---------------------------------------------------------------
node_ver() { node -p "require('$OUT/node/node_modules/$1/package.json').version"; }
echo "setup: python $("$OUT/venv/bin/python" -c 'import sys; print(sys.version.split()[0])')" \
     "websockets $("$OUT/venv/bin/python" -c 'import websockets; print(websockets.__version__)')"
echo "setup: node $(node --version) ws $(node_ver ws) playwright-core $(node_ver playwright-core)"
echo "setup: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
