#!/usr/bin/env bash
# examples/chat.rs as a cluster: two chat processes sharing a real Redis server.
#
#   bash tests/cluster.sh
#
# 1. Debian's redis-server is installed with apt-get if missing (needs root);
# 2. the chat example is built (release) and two processes are started on free loopback
#    ports with `--redis`, *before* Redis: they must start, listen and keep retrying;
# 3. Redis is started on a free loopback port (no persistence, data dir
#    target/cluster/redis); both processes must log `redis: connected`;
# 4. tests/cluster/cluster_peer.py (Python websockets, from the interop venv, made by
#    tests/interop/setup.sh if missing) connects users to both processes and checks
#    delivery, order, joins/leaves, and a Redis kill and restart mid-run;
# 5. both processes must still run, with no panic in their logs.
# One PASS/FAIL line per check, then `N passed, M failed`; exit 1 if anything failed.
# Every wait is bounded; everything started here is killed on exit. Logs: target/cluster/.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OUT="$ROOT/target/cluster"
DATA="$OUT/redis"
EXAMPLES="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples"
PY="$ROOT/target/interop/venv/bin/python"
START=$(date +%s)

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
    echo "--- logs in $OUT; took $(( $(date +%s) - START )) s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    # Redis daemonizes (so the checks can kill and restart it): its pid is in the pidfile.
    [ -f "$DATA/redis.pid" ] && kill "$(cat "$DATA/redis.pid")" 2>/dev/null
    true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -f "$DATA/redis.pid" ] && kill "$(cat "$DATA/redis.pid")" 2>/dev/null # a previous run's
rm -rf "$OUT" && mkdir -p "$DATA"

# --- 1. redis-server, the Python venv, the example ------------------------------------
if ! command -v redis-server >/dev/null; then
    { apt-get install -y redis-server || { apt-get update && apt-get install -y redis-server; }; } \
        >"$OUT/apt.log" 2>&1
fi
if command -v redis-server >/dev/null; then
    pass "redis-server: $(redis-server --version | cut -d' ' -f1-3)"
else
    fail "redis-server: could not be installed (see $OUT/apt.log)"
    finish
fi
if [ ! -x "$PY" ]; then
    bash "$ROOT/tests/interop/setup.sh" >"$OUT/setup.log" 2>&1 || { fail "tests/interop/setup.sh: see $OUT/setup.log"; finish; }
fi
if (cd "$ROOT" && cargo build --release --example chat -j "${INTEROP_JOBS:-2}") >"$OUT/build.log" 2>&1; then
    pass "build (cargo build --release --example chat)"
else
    tail -20 "$OUT/build.log"
    fail "build: see $OUT/build.log"
    finish
fi

# A free loopback port (for Redis, which cannot report the port it picked).
REDIS_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REDIS_START="redis-server --bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no --dir $DATA --daemonize yes --pidfile $DATA/redis.pid --logfile $DATA/redis.log"

# wait_log FILE PATTERN SECONDS PID: waits until FILE has a line matching PATTERN.
wait_log() {
    for _ in $(seq $(( $3 * 10 ))); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# --- 2. two chat processes, Redis still down --------------------------------------------
declare -A ADDR PID
for p in a b; do
    "$EXAMPLES/chat" --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$REDIS_PORT" >"$OUT/chat-$p.log" 2>&1 &
    PID[$p]=$!
    PIDS+=("$!")
done
for p in a b; do
    if wait_log "$OUT/chat-$p.log" '^chat listening on' 20 "${PID[$p]}" \
        && wait_log "$OUT/chat-$p.log" '^redis: disconnected' 20 "${PID[$p]}"; then
        ADDR[$p]=$(sed -nE 's/^chat listening on ([0-9.:]+).*/\1/p' "$OUT/chat-$p.log" | head -1)
        pass "chat $p listens on ${ADDR[$p]} without Redis and logs \`redis: disconnected\`"
    else
        fail "chat $p: no listen or disconnected line within 20 s ($(head -c 300 "$OUT/chat-$p.log"))"
        finish
    fi
done

# --- 3. Redis up: both processes connect -----------------------------------------------
if ! eval "$REDIS_START"; then
    fail "redis-server did not start (see $DATA/redis.log)"
    finish
fi
for p in a b; do
    if wait_log "$OUT/chat-$p.log" '^redis: connected' 20 "${PID[$p]}"; then
        pass "chat $p logs \`redis: connected\` once Redis is up"
    else
        fail "chat $p: no \`redis: connected\` within 20 s"
        finish
    fi
done

# --- 4. the checks ------------------------------------------------------------------
timeout 180 "$PY" "$HERE/cluster/cluster_peer.py" --a "ws://${ADDR[a]}" --b "ws://${ADDR[b]}" \
    --log-a "$OUT/chat-a.log" --log-b "$OUT/chat-b.log" \
    --redis-pidfile "$DATA/redis.pid" --redis-start "$REDIS_START" >"$OUT/peer.log" 2>&1
rc=$?
cat "$OUT/peer.log"
p=$(grep -c '^PASS' "$OUT/peer.log")
f=$(grep -c '^FAIL' "$OUT/peer.log")
passed=$((passed + p))
failed=$((failed + f))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail "cluster_peer.py exited with $rc without a FAIL line (timeout: 124)"
elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    fail "cluster_peer.py reported nothing"
fi

# --- 5. nobody crashed -----------------------------------------------------------------
for p in a b; do
    if kill -0 "${PID[$p]}" 2>/dev/null && ! grep -q panicked "$OUT/chat-$p.log"; then
        pass "chat $p still runs, no panic"
    else
        fail "chat $p died or panicked: $(grep -m1 panicked "$OUT/chat-$p.log")"
    fi
done
finish
