"""Checks of examples/chat.rs run as two processes sharing a Redis server.

Run by tests/cluster.sh, which starts Redis and both chat processes. Prints one
`PASS name` or `FAIL name: why` line per check; exits 1 if any failed. Every wait is
bounded.

  1. joins on either process are announced on both;
  2. every user sends lines; every other user, on either process, gets each of them
     exactly once and in the order its sender sent them, and never their own;
  3. Redis is killed: both processes log `redis: disconnected`, keep their users
     connected, and still deliver lines between users of the same process;
  4. Redis is started again: both processes log `redis: connected` again, and lines
     cross between the processes again, exactly once and in order;
  5. leaves on one process are announced on the other.
"""

import argparse
import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
import time

from websockets.asyncio.client import connect

results = []


def check(name, ok, why=""):
    results.append(ok)
    print(f"PASS {name}" if ok else f"FAIL {name}: {why}", flush=True)
    return ok


class User:
    def __init__(self, name, url):
        self.name, self.url, self.lines, self.closed = name, url, [], None

    async def join(self):
        self.ws = await asyncio.wait_for(connect(f"{self.url}/ws/{self.name}"), 5)
        self.reader = asyncio.create_task(self.read())

    async def read(self):
        try:
            async for line in self.ws:
                self.lines.append(line)
        except Exception as e:  # noqa: BLE001 - recorded and checked below
            self.closed = repr(e)
        else:
            self.closed = f"closed {self.ws.close_code} {self.ws.close_reason!r}"

    async def say(self, text):
        await self.ws.send(text)

    def said_by(self, sender, tag):
        """The numbers of `sender`'s lines tagged `tag`, in the order they arrived."""
        prefix = f"{sender}: {tag} "
        return [int(line[len(prefix):]) for line in self.lines if line.startswith(prefix)]


async def wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def log_count(path, pattern):
    with open(path, encoding="utf-8", errors="replace") as f:
        return len(re.findall(pattern, f.read(), re.M))


async def wait_log(paths, pattern, at_least, timeout):
    return await wait_for(lambda: all(log_count(p, pattern) >= at_least for p in paths), timeout)


async def exchange(users, tag, count, timeout=20):
    """Everyone says `count` lines tagged `tag` (paced, so no reader falls 256 behind);
    checks that every other user got each exactly once, in order."""

    async def talk(user):
        for i in range(count):
            await user.say(f"{tag} {i}")
            if i % 10 == 9:
                await asyncio.sleep(0.02)

    await asyncio.gather(*(talk(u) for u in users))
    want = list(range(count))
    complete = lambda: all(  # noqa: E731
        len(r.said_by(s.name, tag)) >= count for r in users for s in users if s is not r
    )
    await wait_for(complete, timeout)
    await asyncio.sleep(0.5)  # anything duplicated would arrive by now
    problems = []
    for r in users:
        for s in users:
            got = r.said_by(s.name, tag)
            if s is r and got:
                problems.append(f"{r.name} got {len(got)} of its own lines")
            elif s is not r and got != want:
                dup = len(got) - len(set(got))
                problems.append(
                    f"{r.name} from {s.name}: {len(got)} lines, {dup} duplicated, "
                    f"in order: {got == sorted(got)}, missing {len(set(want) - set(got))}"
                )
    return problems


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="ws://host:port of the first process")
    ap.add_argument("--b", required=True, help="ws://host:port of the second process")
    ap.add_argument("--log-a", required=True)
    ap.add_argument("--log-b", required=True)
    ap.add_argument("--redis-pidfile", required=True)
    ap.add_argument("--redis-start", required=True, help="command that starts Redis again")
    ap.add_argument("--lines", type=int, default=100)
    args = ap.parse_args()
    logs = [args.log_a, args.log_b]
    run = os.getpid() % 10000
    users = [
        User(f"a1-{run}", args.a),
        User(f"b1-{run}", args.b),
        User(f"a2-{run}", args.a),
        User(f"b2-{run}", args.b),
    ]
    a1, b1, a2, b2 = users

    # 1. Joins: each user joins in turn; those already there, on either process, see it.
    missing = []
    for i, user in enumerate(users):
        await user.join()
        seen = lambda: all(f"* {user.name} joined" in u.lines for u in users[:i])  # noqa: E731
        if not await wait_for(seen, 5):
            missing += [f"{u.name} missed {user.name}" for u in users[:i] if f"* {user.name} joined" not in u.lines]
    check("joins announced on both processes", not missing, "; ".join(missing))

    # 2. Lines across the processes.
    problems = await exchange(users, "x", args.lines)
    check(
        f"{args.lines} lines from each of 4 users (2 per process): every other user got each once, in order",
        not problems,
        "; ".join(problems[:6]),
    )

    # 3. Redis killed.
    disconnects = [log_count(p, r"^redis: disconnected") for p in logs]
    with open(args.redis_pidfile) as f:
        os.kill(int(f.read().strip()), signal.SIGKILL)
    logged = await wait_for(
        lambda: all(log_count(p, r"^redis: disconnected") > n for p, n in zip(logs, disconnects)), 15
    )
    check("Redis killed: both processes log `redis: disconnected`", logged)
    await asyncio.sleep(0.3)
    await a1.say("local 0")
    await b1.say("local 0")
    local = await wait_for(lambda: a2.said_by(a1.name, "local") == [0] and b2.said_by(b1.name, "local") == [0], 5)
    check("without Redis, users of one process still talk to each other", local)
    check(
        "without Redis, every user is still connected",
        all(u.closed is None for u in users),
        "; ".join(f"{u.name}: {u.closed}" for u in users if u.closed),
    )

    # 4. Redis back.
    connects = [log_count(p, r"^redis: connected") for p in logs]
    subprocess.run(shlex.split(args.redis_start), check=True, timeout=10, stdout=subprocess.DEVNULL)
    logged = await wait_for(
        lambda: all(log_count(p, r"^redis: connected") > n for p, n in zip(logs, connects)), 20
    )
    check("Redis restarted: both processes log `redis: connected` again", logged)
    problems = await exchange(users, "y", args.lines // 2)
    check(
        "after the restart, lines cross the processes again, each once and in order",
        not problems,
        "; ".join(problems[:6]),
    )

    # 5. Leaves.
    await b2.ws.close()
    left = await wait_for(lambda: all(f"* {b2.name} left" in u.lines for u in (a1, a2, b1)), 5)
    check("a leave on one process is announced on both", left)
    check(
        "no user was disconnected by the server",
        all(u.closed is None for u in (a1, a2, b1)),
        "; ".join(f"{u.name}: {u.closed}" for u in (a1, a2, b1) if u.closed),
    )
    for u in (a1, a2, b1):
        await u.ws.close()
    return all(results)


if __name__ == "__main__":
    try:
        ok = asyncio.run(asyncio.wait_for(main(), 150))
    except Exception as e:  # noqa: BLE001 - a crash is a failed check
        check("cluster_peer ran to the end", False, repr(e))
        ok = False
    sys.exit(0 if ok else 1)
