#!/usr/bin/env bash
# The one entry point of ws-proto's interop tests:
#
#   bash tests/interop/run.sh
#
# 1. setup.sh installs the peers (Python websockets, Node ws + playwright-core, Chromium);
# 2. the examples are built once (release);
# 3. echo-server, chat (twice: plain, and with origin and token rules) and axum are started on free loopback ports (127.0.0.1:0, the
#    port read from their listen line);
# 4. every peer test runs against them (and examples/client against the peers' servers);
# 5. one PASS/FAIL line per check, then `N passed, M failed`; exit 1 if anything failed.
#
# A missing peer, example or server is a failure, never a skip. Every wait is bounded.
# Logs: target/interop/logs/. Screenshot: docs/echo-page.png.
# Env: INTEROP_JOBS (cargo -j, default 2: the machine's cores).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/target/interop"
LOGS="$OUT/logs"
# Where cargo puts the examples (CARGO_TARGET_DIR is honoured).
EXAMPLES="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples"
PY="$OUT/venv/bin/python"
export INTEROP_NODE_DIR="$OUT/node" # where the .mjs peers load ws / playwright-core from
PEER_TIMEOUT=180                     # seconds, the most one peer run may take
START=$(date +%s)

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Servers we started, killed on any exit.
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$LOGS" && mkdir -p "$LOGS"

# --- 1. peers --------------------------------------------------------------------------
if bash "$HERE/setup.sh" >"$LOGS/setup.log" 2>&1; then
    grep '^setup:' "$LOGS/setup.log"
    pass "setup (peers installed)"
else
    tail -5 "$LOGS/setup.log"
    fail "setup: see $LOGS/setup.log (the peer tests below fail too)"
fi

# --- 2. examples -----------------------------------------------------------------------
# `--features http`: examples/axum needs it. test-cert (ws-proto-io) writes the throwaway
# CA and server certificate of the TLS checks, made fresh for each run.
CERTS="$OUT/certs"
if (cd "$ROOT" && cargo build --release -p ws-proto --examples --features http -j "${INTEROP_JOBS:-2}" \
        && cargo build --release -p ws-proto-io --example test-cert -j "${INTEROP_JOBS:-2}") >"$LOGS/build.log" 2>&1; then
    pass "build (cargo build --release --examples --features http; test-cert)"
else
    tail -20 "$LOGS/build.log"
    fail "build: see $LOGS/build.log"
fi
rm -rf "$CERTS"
if [ -x "$EXAMPLES/test-cert" ] && "$EXAMPLES/test-cert" "$CERTS" >>"$LOGS/build.log" 2>&1; then
    pass "test-cert (CA and server certificate for 127.0.0.1/localhost generated)"
else
    fail "test-cert: no certificate generated, see $LOGS/build.log"
fi

# --- 3. servers ------------------------------------------------------------------------
# start_server NAME [LABEL [ARGS...]]: runs examples/NAME --listen 127.0.0.1:0 ARGS, waits
# (30 s at most) for its listen line and sets ADDR to the 127.0.0.1:PORT it printed; returns
# 1 if it did not start. LABEL (default NAME) names the log and the PID variable.
start_server() {
    local name=$1 label=${2:-$1}
    shift; [ $# -gt 0 ] && shift
    local log="$LOGS/$label.log"
    ADDR=""
    if [ ! -f "$ROOT/examples/$name.rs" ] || [ ! -x "$EXAMPLES/$name" ]; then
        fail "start $label: examples/$name.rs or its binary is missing"
        return 1
    fi
    "$EXAMPLES/$name" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "${label//-/_}_PID=$pid"
    for _ in $(seq 300); do
        ADDR=$(grep -om1 'listening on 127\.0\.0\.1:[0-9]*' "$log" | sed 's/listening on //')
        [ -n "$ADDR" ] && { pass "start $label (listening on $ADDR)"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    fail "start $label: no listen line within 30 s ($(head -c 300 "$log"))"
    return 1
}

# run_peer LABEL NEEDS CMD...: runs one peer (bounded) if NEEDS (its installed library)
# exists, reports each PASS/FAIL line it printed, and fails the run as a whole if the peer
# is missing, crashed, timed out, or reported nothing.
run_peer() {
    local label=$1 needs=$2; shift 2
    local log="$LOGS/${label//\//_}.log" rc p f
    if [ ! -e "$needs" ]; then
        fail "$label: peer not installed ($needs missing)"
        return
    fi
    timeout --kill-after=5 "$PEER_TIMEOUT" "$@" >"$log" 2>&1
    rc=$?
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
    grep -E '^(PASS|FAIL) |^  \(' "$log"
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$label: exited with status $rc (124 = timeout) without reporting a failure: \
$(grep -v '^PASS ' "$log" | tail -3 | tr '\n' ' ' | head -c 400)"
    elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then
        fail "$label: ran no check"
    fi
}
PY_PEER=("$PY" "$HERE/python_peer.py")
NODE_PEER=(node "$HERE/node_peer.mjs")
WS_LIB="$INTEROP_NODE_DIR/node_modules/ws"
PW_LIB="$INTEROP_NODE_DIR/node_modules/playwright-core"

# --- 4. tests --------------------------------------------------------------------------
echo "--- echo-server"
if start_server echo-server; then
    ECHO="$ADDR"
    run_peer python/echo "$PY" "${PY_PEER[@]}" echo "ws://$ECHO" --server-log "$LOGS/echo-server.log"
    run_peer node/echo "$WS_LIB" "${NODE_PEER[@]}" echo "ws://$ECHO" --server-log "$LOGS/echo-server.log"
    run_peer browser "$PW_LIB" node "$HERE/browser.mjs" "http://$ECHO" "$LOGS/echo-server.log" \
        "$ROOT/docs/echo-page.png"
    # The server must still be up after all that (a panic in a connection thread is fine
    # for the process, but the log says so).
    if kill -0 "$echo_server_PID" 2>/dev/null && ! grep -q panicked "$LOGS/echo-server.log"; then
        pass "echo-server survived every peer (no panic)"
    else
        fail "echo-server died or panicked: $(grep -m1 panicked "$LOGS/echo-server.log")"
    fi
else
    for t in python/echo node/echo browser; do fail "$t: not run, echo-server did not start"; done
fi

echo "--- echo-server over TLS (https:// and wss://, certificate from test-cert)"
if [ -f "$CERTS/cert.pem" ] && start_server echo-server echo-server-tls \
        --tls-cert "$CERTS/cert.pem" --tls-key "$CERTS/key.pem"; then
    TLS_ECHO="$ADDR"
    run_peer python/tls-echo "$PY" "${PY_PEER[@]}" tls-echo "wss://$TLS_ECHO" "$CERTS/ca.pem" \
        --server-log "$LOGS/echo-server-tls.log"
    run_peer node/tls-echo "$WS_LIB" "${NODE_PEER[@]}" tls-echo "wss://$TLS_ECHO" "$CERTS/ca.pem" \
        --server-log "$LOGS/echo-server-tls.log"
    run_peer browser-tls "$PW_LIB" node "$HERE/browser.mjs" "https://$TLS_ECHO" \
        "$LOGS/echo-server-tls.log" "$OUT/echo-page-tls.png"
    if kill -0 "$echo_server_tls_PID" 2>/dev/null && ! grep -q panicked "$LOGS/echo-server-tls.log"; then
        pass "echo-server (TLS) survived every peer (no panic)"
    else
        fail "echo-server (TLS) died or panicked: $(grep -m1 panicked "$LOGS/echo-server-tls.log")"
    fi
else
    for t in python/tls-echo node/tls-echo browser-tls; do
        fail "$t: not run, echo-server with TLS did not start"
    done
fi

echo "--- chat"
if start_server chat; then
    CHAT="$ADDR"
    run_peer python/chat "$PY" "${PY_PEER[@]}" chat "ws://$CHAT"
    run_peer node/chat "$WS_LIB" "${NODE_PEER[@]}" chat "ws://$CHAT"
    if kill -0 "$chat_PID" 2>/dev/null && ! grep -q panicked "$LOGS/chat.log"; then
        pass "chat survived every peer (no panic)"
    else
        fail "chat died or panicked: $(grep -m1 panicked "$LOGS/chat.log")"
    fi
else
    for t in python/chat node/chat; do fail "$t: not run, chat did not start"; done
fi

echo "--- chat with origin and token rules"
if start_server chat chat-rules --allow-origin http://allowed.example \
    --allow-origin 'https://*.example.com' --token s3cret; then
    run_peer python/chat-rules "$PY" "${PY_PEER[@]}" chat-rules "ws://$ADDR"
    if kill -0 "$chat_rules_PID" 2>/dev/null && ! grep -q panicked "$LOGS/chat-rules.log"; then
        pass "chat-rules survived the peer (no panic)"
    else
        fail "chat-rules died or panicked: $(grep -m1 panicked "$LOGS/chat-rules.log")"
    fi
else
    fail "python/chat-rules: not run, the second chat did not start"
fi

echo "--- axum"
if start_server axum; then
    run_peer python/axum "$PY" "${PY_PEER[@]}" axum "ws://$ADDR"
    if kill -0 "$axum_PID" 2>/dev/null && ! grep -q panicked "$LOGS/axum.log"; then
        pass "axum survived the peer (no panic)"
    else
        fail "axum died or panicked: $(grep -m1 panicked "$LOGS/axum.log")"
    fi
else
    fail "python/axum: not run, axum did not start"
fi

echo "--- client (against the peers' echo servers)"
if [ -f "$ROOT/examples/client.rs" ] && [ -x "$EXAMPLES/client" ]; then
    run_peer python/client-example "$PY" "${PY_PEER[@]}" client-example "$EXAMPLES/client"
    run_peer node/client-example "$WS_LIB" "${NODE_PEER[@]}" client-example "$EXAMPLES/client"
else
    for t in python/client-example node/client-example; do
        fail "$t: not run, examples/client.rs or its binary is missing"
    done
fi

# --- 5. summary ------------------------------------------------------------------------
echo "--- logs in $LOGS; took $(( $(date +%s) - START )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
