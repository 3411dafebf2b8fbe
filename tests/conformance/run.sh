#!/usr/bin/env bash
# ws-proto's conformance suite (see docs/conformance.md):
#
#   bash tests/conformance/run.sh
#
# 1. the examples are built if their binaries are missing (release);
# 2. echo-server is started on a free loopback port (127.0.0.1:0, the port read from its
#    listen line) and peer.py plays every case against it as the client;
# 3. peer.py plays every case again as the server, against examples/autobahn-client;
# 4. one PASS/FAIL line per case, then `N passed, M failed`; exit 1 if anything failed.
#
# peer.py needs only the Python standard library: it runs with the interop venv's python
# (target/interop/venv, made by tests/interop/setup.sh) when present, else with python3.
# Every wait is bounded. Logs: target/conformance/logs/.
# Env: INTEROP_JOBS (cargo -j when a build is needed, default 2).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LOGS="$ROOT/target/conformance/logs"
EXAMPLES="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples"
PEER="$HERE/peer.py"
PEER_TIMEOUT=300 # seconds, the most one peer run may take (peer.py stops itself at 240)
START=$(date +%s)

PY="$ROOT/target/interop/venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Processes we started, killed on any exit.
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$LOGS" && mkdir -p "$LOGS"

if [ -z "$PY" ]; then
    fail "python: neither target/interop/venv/bin/python nor python3 found"
fi

# --- 1. examples -----------------------------------------------------------------------
if [ -x "$EXAMPLES/echo-server" ] && [ -x "$EXAMPLES/autobahn-client" ]; then
    echo "using the built examples in $EXAMPLES"
elif (cd "$ROOT" && cargo build --release --examples -j "${INTEROP_JOBS:-2}") >"$LOGS/build.log" 2>&1; then
    pass "build (cargo build --release --examples)"
else
    tail -20 "$LOGS/build.log"
    fail "build: see $LOGS/build.log"
fi

# run_peer LABEL ARGS...: runs peer.py (bounded), reports each PASS/FAIL line it printed,
# and fails the run as a whole if it crashed, timed out, or reported nothing.
run_peer() {
    local label=$1 log="$LOGS/peer-$1.log" rc p f
    shift
    timeout --kill-after=5 "$PEER_TIMEOUT" "$PY" "$PEER" --label "$label" "$@" >"$log" 2>&1
    rc=$?
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
    grep -E '^(PASS|FAIL) ' "$log"
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$label: peer.py exited with status $rc (124 = timeout) without reporting a \
failure: $(grep -v '^PASS ' "$log" | tail -3 | tr '\n' ' ' | head -c 400)"
    elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then
        fail "$label: ran no case"
    fi
}

# --- 2. echo-server: peer.py is the client ---------------------------------------------
echo "--- echo-server (peer.py as the client)"
if [ -n "$PY" ] && [ -x "$EXAMPLES/echo-server" ]; then
    "$EXAMPLES/echo-server" --listen 127.0.0.1:0 >"$LOGS/echo-server.log" 2>&1 &
    ECHO_PID=$!
    PIDS+=("$ECHO_PID")
    ADDR=""
    for _ in $(seq 300); do
        ADDR=$(grep -om1 'listening on 127\.0\.0\.1:[0-9]*' "$LOGS/echo-server.log" | sed 's/listening on //')
        [ -n "$ADDR" ] && break
        kill -0 "$ECHO_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -n "$ADDR" ]; then
        run_peer echo-server --server-under-test "ws://$ADDR/"
        if kill -0 "$ECHO_PID" 2>/dev/null && ! grep -q panicked "$LOGS/echo-server.log"; then
            pass "echo-server survived every case (no panic)"
        else
            fail "echo-server died or panicked: $(grep -m1 panicked "$LOGS/echo-server.log")"
        fi
    else
        fail "echo-server: no listen line within 30 s ($(head -c 300 "$LOGS/echo-server.log"))"
    fi
else
    fail "echo-server: not run (python or $EXAMPLES/echo-server missing)"
fi

# --- 3. autobahn-client: peer.py is the server -----------------------------------------
echo "--- autobahn-client (peer.py as the server)"
if [ -n "$PY" ] && [ -x "$EXAMPLES/autobahn-client" ]; then
    run_peer autobahn-client --client-log "$LOGS/autobahn-client-output.log" \
        --client-under-test "$EXAMPLES/autobahn-client" --agent conformance
else
    fail "autobahn-client: not run (python or $EXAMPLES/autobahn-client missing)"
fi

# --- 4. summary ------------------------------------------------------------------------
echo "--- logs in $LOGS; took $(( $(date +%s) - START )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
