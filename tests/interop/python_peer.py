#!/usr/bin/env python3
"""Python peer (the `websockets` library) for ws-proto's interop tests.

Modes:
  echo URL [--server-log FILE]  client checks against examples/echo-server at ws://HOST:PORT
  tls-echo URL CA_FILE [--server-log FILE]
                                wss:// and https:// checks against examples/echo-server run
                                with --tls-cert/--tls-key, trusting the CA in CA_FILE
  chat URL                      client checks against examples/chat at ws://HOST:PORT
  chat-rules URL                origin and token checks against examples/chat started with
                                --allow-origin http://allowed.example
                                --allow-origin 'https://*.example.com' --token s3cret
  axum URL                      client checks against examples/axum at ws://HOST:PORT
  client-example CLIENT_BIN     runs an echo server here and examples/client against it
  serve [--port N]              just the echo server (with subprotocol selection), for manual use

Every check prints one line, `PASS python/<mode>/<check>` or `FAIL python/<mode>/<check>: why`,
and the exit status is 1 if any check failed. Every wait is bounded (TIMEOUT seconds).
Only 127.0.0.1 is ever used.
"""

import asyncio
import os
import re
import socket
import ssl
import sys
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

TIMEOUT = 30  # seconds, for any single check
KNOWN_SUBPROTOCOLS = ["chat", "superchat"]  # as in examples/echo-server.rs
failures = 0


def report(mode, name, ok, why=""):
    global failures
    if ok:
        print(f"PASS python/{mode}/{name}", flush=True)
    else:
        failures += 1
        print(f"FAIL python/{mode}/{name}: {why}", flush=True)


class CheckFailed(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise CheckFailed(why)


def short(value, limit=80):
    """A readable prefix of a message for failure lines."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(value)} long)"


async def check(mode, name, coro_fn):
    """Runs one check with a timeout; any exception is a failure."""
    try:
        await asyncio.wait_for(coro_fn(), TIMEOUT)
        report(mode, name, True)
    except CheckFailed as e:
        report(mode, name, False, str(e))
    except asyncio.TimeoutError:
        report(mode, name, False, f"timed out after {TIMEOUT} s")
    except Exception as e:  # connection refused, closed early, protocol errors...
        report(mode, name, False, f"{type(e).__name__}: {e}")


async def recv(ws, timeout=10):
    return await asyncio.wait_for(ws.recv(), timeout)


async def wait_log_line(path, pattern, timeout=10):
    """Waits for a line of the server's log matching `pattern` (a regex)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path and os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if re.search(pattern, line):
                        return line.strip()
        await asyncio.sleep(0.1)
    return None


def raw_masked_frame(opcode, payload):
    """A client frame built by hand (FIN set, masked), for what the library won't send."""
    assert len(payload) <= 125
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked


def raw_masked_header(opcode, length, first_bytes):
    """A client frame header (FIN, masked, 64-bit length) and its first payload bytes."""
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(first_bytes))
    return bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big") + key + masked


# ---------------------------------------------------------------------------------------
# Client checks against examples/echo-server
# ---------------------------------------------------------------------------------------
async def run_echo(base, server_log):
    mode = "echo"

    async def roundtrip(path, messages):
        async with connect(base + path, max_size=None, open_timeout=10) as ws:
            for msg in messages:
                await ws.send(msg)
                got = await recv(ws)
                expect(type(got) is type(msg), f"sent {type(msg).__name__}, got {type(got).__name__}")
                expect(got == msg, f"sent {short(msg)}, got {short(got)}")

    await check(mode, "text", lambda: roundtrip("/py/text", ["hello, ws-proto", "héllo wörld ✓ 🦀"]))
    await check(mode, "binary", lambda: roundtrip("/py/binary", [bytes(range(256)), b"\x00\xff" * 10]))
    await check(mode, "empty-text-and-binary", lambda: roundtrip("/py/empty", ["", b""]))
    for n in [125, 126, 65535, 65536, 1 << 20]:
        # A text message of n bytes (ASCII) and a binary one of n random bytes.
        await check(mode, f"size-{n}", lambda n=n: roundtrip(f"/py/size-{n}", ["t" * n, os.urandom(n)]))

    async def fragmented():
        # websockets sends an iterable as one fragmented message; the echo is one message.
        async with connect(base + "/py/fragmented", max_size=None) as ws:
            await ws.send(["frag-1 ", "frag-2 ", "ü-3"])
            got = await recv(ws)
            expect(got == "frag-1 frag-2 ü-3", f"sent 3 text fragments, got {short(got)}")
            await ws.send([b"\x01" * 1000, b"", b"\x02" * 70000])
            got = await recv(ws)
            expect(got == b"\x01" * 1000 + b"\x02" * 70000, f"sent 3 binary fragments, got {short(got)}")

    await check(mode, "fragmented", fragmented)

    async def ping():
        async with connect(base + "/py/ping") as ws:
            for payload in [b"ping-payload", b"", os.urandom(125)]:
                # The waiter resolves only on a Pong carrying the same payload.
                waiter = await ws.ping(payload)
                await asyncio.wait_for(waiter, 5)
            # The connection still echoes after the pings.
            await ws.send("after ping")
            expect(await recv(ws) == "after ping", "no echo after pings")

    await check(mode, "ping-pong", ping)

    async def subprotocol(offer, want):
        async with connect(base + "/py/subprotocol", subprotocols=offer) as ws:
            expect(ws.subprotocol == want, f"offered {offer}, server picked {ws.subprotocol!r}, expected {want!r}")

    await check(mode, "subprotocol-superchat", lambda: subprotocol(["x", "superchat", "chat"], "superchat"))
    await check(mode, "subprotocol-none-offered", lambda: subprotocol(None, None))
    await check(mode, "subprotocol-none-known", lambda: subprotocol(["x", "y"], None))

    async def deflate(compression, want_ext):
        # websockets offers permessage-deflate unless compression=None; the echo server's
        # default Config accepts it. Either way big and compressible messages must echo.
        async with connect(base + "/py/deflate", compression=compression, max_size=None) as ws:
            ext = ws.response.headers.get("Sec-WebSocket-Extensions")
            expect((ext or "").startswith("permessage-deflate") if want_ext else ext is None,
                   f"offer {compression!r}: server answered Sec-WebSocket-Extensions: {ext!r}")
            for msg in ["plain", "compressible " * 20000, os.urandom(1 << 20), b"\0" * (1 << 20)]:
                await ws.send(msg)
                got = await recv(ws)
                expect(got == msg, f"sent {short(msg)}, got {short(got)}")

    await check(mode, "permessage-deflate", lambda: deflate("deflate", True))
    await check(mode, "no-compression", lambda: deflate(None, False))

    async def deflate_params():
        # Every RFC 7692 parameter offered: small windows, no context takeover either way.
        factory = ClientPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True,
            server_max_window_bits=10, client_max_window_bits=10)
        async with connect(base + "/py/deflate-params", compression=None, extensions=[factory],
                           max_size=None) as ws:
            ext = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            for param in ["server_no_context_takeover", "server_max_window_bits=10"]:
                expect(param in ext, f"response Sec-WebSocket-Extensions: {ext!r} lacks {param}")
            for msg in ["repeat me " * 5000, "repeat me " * 5000, os.urandom(100000), "short"]:
                await ws.send(msg)
                got = await recv(ws)
                expect(got == msg, f"sent {short(msg)}, got {short(got)}")

    await check(mode, "permessage-deflate-all-params", deflate_params)

    async def pipelined():
        # 1000 messages sent without waiting; the echoes come back complete and in order.
        async with connect(base + "/py/pipelined", max_size=None) as ws:
            msgs = [f"msg {i} " + "p" * (i % 300) for i in range(1000)]
            for m in msgs:
                await ws.send(m)
            for i, m in enumerate(msgs):
                got = await recv(ws)
                expect(got == m, f"echo #{i}: expected {short(m)}, got {short(got)}")

    await check(mode, "pipelined-1000", pipelined)

    async def too_big_header():
        # A frame header announcing 16 MiB + 1 bytes (over the default message limit) and a
        # few payload bytes: the server must fail the connection with Close 1009 at once.
        # (Only the header is sent on purpose; see README.md "Known issues" for what a
        # peer still sending the whole frame sees.)
        ws = await connect(base + "/py/too-big", compression=None)
        ws.transport.write(raw_masked_header(0x2, (16 << 20) + 1, b"\x07" * 1000))
        await asyncio.wait_for(ws.wait_closed(), 20)
        p = ws.protocol
        expect(p.close_rcvd is not None, "the connection ended without a Close frame from the server")
        expect(p.close_rcvd.code == 1009, f"server sent Close {p.close_rcvd.code}, expected 1009")

    await check(mode, "too-big-header-closes-1009", too_big_header)

    async def deflate_bomb():
        # 17 MiB of zeros deflate to about 17 KiB: the limit must hold while inflating.
        ws = await connect(base + "/py/deflate-bomb", compression="deflate", max_size=None)
        await ws.send(bytes(17 << 20))
        await asyncio.wait_for(ws.wait_closed(), 20)
        p = ws.protocol
        expect(p.close_rcvd is not None, "the connection ended without a Close frame from the server")
        expect(p.close_rcvd.code == 1009, f"server sent Close {p.close_rcvd.code}, expected 1009")

    await check(mode, "deflate-bomb-closes-1009", deflate_bomb)

    async def close_4000():
        ws = await connect(base + "/py/close-4000")
        await ws.send("before close")
        await recv(ws)
        await ws.close(4000, "bye")  # returns after the closing handshake and TCP close
        p = ws.protocol
        expect(p.close_sent is not None and p.close_sent.code == 4000, f"sent {p.close_sent}")
        expect(p.close_rcvd is not None, "no Close frame received from the server")
        expect(p.close_rcvd.code == 4000, f"server replied Close {p.close_rcvd.code}, expected 4000 echoed")
        expect(p.close_rcvd_then_sent is False, "the server's Close came first")
        line = await wait_log_line(server_log, r"path=/py/close-4000 .*close=4000\b")
        expect(line is not None, f"no 'path=/py/close-4000 ... close=4000' line in {server_log}")

    await check(mode, "close-4000-by-peer", close_4000)

    async def server_closes_on_bad_utf8():
        # A text frame that is not UTF-8, written raw: the server must start the close (1007).
        ws = await connect(base + "/py/bad-utf8")
        ws.transport.write(raw_masked_frame(0x1, b"ok \xff"))
        await asyncio.wait_for(ws.wait_closed(), 10)
        p = ws.protocol
        expect(p.close_rcvd is not None, "the connection ended without a Close frame from the server")
        expect(p.close_rcvd.code == 1007, f"server sent Close {p.close_rcvd.code}, expected 1007")
        expect(p.close_rcvd_then_sent is True, "the server did not initiate the close")
        line = await wait_log_line(server_log, r"path=/py/bad-utf8 .*close=1007")
        expect(line is not None, f"no 'path=/py/bad-utf8 ... close=1007' line in {server_log}")

    await check(mode, "server-initiated-close-1007", server_closes_on_bad_utf8)


# ---------------------------------------------------------------------------------------
# Client checks against examples/echo-server over TLS
# ---------------------------------------------------------------------------------------
async def run_tls_echo(base, ca_file, server_log):
    """wss:// and https:// against echo-server, its certificate signed by the CA in `ca_file`."""
    mode = "tls-echo"
    trusting = ssl.create_default_context(cafile=ca_file)

    async def echo_and_close():
        async with connect(base + "/py/tls", ssl=trusting, max_size=None, open_timeout=10,
                           subprotocols=["superchat"]) as ws:
            expect(ws.subprotocol == "superchat", f"subprotocol {ws.subprotocol}")
            for msg in ["hello over TLS", "héllo ✓", os.urandom(1 << 20), b""]:
                await ws.send(msg)
                got = await recv(ws)
                expect(got == msg, f"sent {short(msg)}, got {short(got)}")
            await ws.close(4000, "tls bye")
            expect(ws.close_code == 4000, f"close reply {ws.close_code}")
        line = await wait_log_line(server_log, r"path=/py/tls subprotocol=superchat close=4000\b")
        expect(line is not None, "no 'path=/py/tls subprotocol=superchat close=4000' line in the server log")

    await check(mode, "echo-1MiB-subprotocol-close-4000", echo_and_close)

    async def deflate():
        async with connect(base + "/py/tls-deflate", ssl=trusting, max_size=None,
                           compression="deflate") as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            expect("permessage-deflate" in extensions, f"extensions {extensions!r}")
            msg = "compressible " * 5000
            await ws.send(msg)
            expect(await recv(ws) == msg, "compressed echo differs")

    await check(mode, "permessage-deflate", deflate)

    async def page_over_https():
        host, port = base.removeprefix("wss://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port), ssl=trusting)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        expect(answer.startswith(b"HTTP/1.1 200"), f"GET / answered {answer[:40]!r}")
        expect(b"<!doctype html>" in answer, "the page is not in the answer")

    await check(mode, "page-over-https", page_over_https)

    async def untrusted_refused_then_served():
        # The default context does not trust the run's CA: the TLS handshake fails...
        try:
            async with connect(base + "/py/tls-untrusted", open_timeout=10):
                pass
            raise CheckFailed("a server certificate from an unknown CA was accepted")
        except ssl.SSLCertVerificationError:
            pass
        # ...and the server goes on serving.
        async with connect(base + "/py/tls-after", ssl=trusting) as ws:
            await ws.send("still here")
            expect(await recv(ws) == "still here", "no echo after a failed TLS handshake")

    await check(mode, "untrusted-certificate-refused-server-goes-on", untrusted_refused_then_served)


# ---------------------------------------------------------------------------------------
# Client checks against examples/chat
# ---------------------------------------------------------------------------------------
async def next_message(ws, allow_joins=True):
    """The next chat line, skipping `* X joined` lines (a joiner may see its own)."""
    while True:
        msg = await recv(ws)
        if allow_joins and isinstance(msg, str) and msg.startswith("* ") and msg.endswith(" joined"):
            continue
        return msg


async def expect_line(ws, who, want):
    got = await next_message(ws)
    expect(got == want, f"{who} expected {want!r}, got {short(got)}")


async def expect_join(ws, who, want):
    got = await recv(ws)
    while got != want and isinstance(got, str) and got.startswith("* ") and got.endswith(" joined"):
        got = await recv(ws)  # earlier joins (its own, say) may come first
    expect(got == want, f"{who} expected {want!r}, got {short(got)}")


async def run_chat(base):
    mode = "chat"
    a, b, c = "py-alice", "py-bob", "py-carol"

    async def conversation():
        wa = await connect(f"{base}/chat/{a}")
        wb = await connect(f"{base}/chat/{b}")
        await expect_join(wa, a, f"* {b} joined")
        wc = await connect(f"{base}/chat/{c}")
        await expect_join(wa, a, f"* {c} joined")
        await expect_join(wb, b, f"* {c} joined")
        # A message reaches the two others, prefixed with the sender's name.
        await wa.send("hi from alice")
        await expect_line(wb, b, f"{a}: hi from alice")
        await expect_line(wc, c, f"{a}: hi from alice")
        await wb.send("héllo ✓")
        # Alice's next line is Bob's: she was not sent her own message back.
        await expect_line(wa, a, f"{b}: héllo ✓")
        await expect_line(wc, c, f"{b}: héllo ✓")
        # Carol leaves cleanly; the others hear of it.
        await wc.close()
        expect(wc.protocol.close_rcvd is not None and wc.protocol.close_rcvd.code == 1000,
               f"carol's close reply: {wc.protocol.close_rcvd}")
        await expect_line(wa, a, f"* {c} left")
        await expect_line(wb, b, f"* {c} left")
        await wa.close()
        await expect_line(wb, b, f"* {a} left")
        await wb.close()

    await check(mode, "broadcast-join-leave", conversation)

    async def binary_refused():
        # The chat refuses binary messages: a server-initiated Close 1003.
        wa = await connect(f"{base}/chat/{a}")
        wb = await connect(f"{base}/chat/{b}")
        await expect_join(wa, a, f"* {b} joined")
        await wa.send(b"\x01\x02")
        await asyncio.wait_for(wa.wait_closed(), 10)
        p = wa.protocol
        expect(p.close_rcvd is not None, "alice's connection ended without a Close from the server")
        expect(p.close_rcvd.code == 1003, f"server sent Close {p.close_rcvd.code}, expected 1003")
        expect(p.close_rcvd_then_sent is True, "the server did not initiate the close")
        await expect_line(wb, b, f"* {a} left")
        await wb.close()

    await check(mode, "binary-refused-1003", binary_refused)

    opened = []

    async def slow_reader_dropped():
        # A client that stops reading (a raw socket with a small receive buffer, never
        # read after the 101) while alice keeps talking and bob keeps reading: once its
        # queue is full the server drops it (Close 1008 "too slow" if that frame still
        # gets out, or the end of the connection), and bob's lines never wait for it.
        slow = "py-slow"
        wa = await connect(f"{base}/chat/{a}")
        opened.append(wa)
        wb = await connect(f"{base}/chat/{b}")
        opened.append(wb)
        await expect_join(wa, a, f"* {b} joined")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        host, port = base.removeprefix("ws://").split(":")
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        writer.write(f"GET /chat/{slow} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        expect(head.startswith(b"HTTP/1.1 101"), f"slow client's handshake: {head[:40]!r}")
        await expect_join(wb, b, f"* {slow} joined")
        # Alice sends 5000 lines of 2 kB (10 MB, more than the slow client's queue and
        # socket buffers hold) in bursts; bob must get every line, none more than 2 s
        # after the one before: nobody waits for the slow client.
        line = "x" * 2000
        sent, got, left = 0, 0, False
        while sent < 5000:
            for _ in range(100):
                await wa.send(f"{sent} {line}")
                sent += 1
            while got < sent:
                msg = await recv(wb, timeout=2)
                if msg == f"* {slow} left":
                    left = True
                    continue
                expect(msg == f"{a}: {got} {line}", f"bob's line {got}: {short(msg)}")
                got += 1
        # The server has given up on it: it leaves (once its close has timed out, as it
        # does not answer), and bob hears of it.
        if not left:
            await expect_line(wb, b, f"* {slow} left")
        # Now read what reached the slow client: fewer lines than were sent, then its
        # end: a Close 1008 or the end of the stream.
        lines, code = 0, None
        try:
            while True:
                b0, b1 = await asyncio.wait_for(reader.readexactly(2), 10)
                n = b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(await reader.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await reader.readexactly(8), "big")
                payload = await asyncio.wait_for(reader.readexactly(n), 10)
                if b0 & 0x0F == 0x8:
                    code = int.from_bytes(payload[:2], "big")
                    break
                lines += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the server ended the connection
        writer.close()
        expect(code in (None, 1008), f"{slow} got Close {code}, expected 1008 or none")
        expect(lines < sent, f"{slow} received all {sent} lines: it was never dropped")

    async def slow_reader_dropped_then_close():
        try:
            await slow_reader_dropped()
        finally:
            for ws in list(opened):
                await ws.close()

    await check(mode, "slow-reader-dropped", slow_reader_dropped_then_close)

    async def status(path, want):
        try:
            async with connect(base + path):
                pass
        except InvalidStatus as e:
            got = e.response.status_code
            expect(got == want, f"GET {path}: status {got}, expected {want}")
            return
        raise CheckFailed(f"GET {path}: the handshake succeeded, expected {want}")

    async def duplicate_name():
        async with connect(f"{base}/chat/{a}"):
            await status(f"/chat/{a}", 409)

    await check(mode, "duplicate-name-409", duplicate_name)
    await check(mode, "bad-name-400", lambda: status("/chat/bad%20name!", 400))
    await check(mode, "other-path-404", lambda: status("/nope", 404))


# ---------------------------------------------------------------------------------------
# Client checks against examples/chat started with `--allow-origin http://allowed.example
# --allow-origin 'https://*.example.com' --token s3cret` (run.sh's second chat instance)
# ---------------------------------------------------------------------------------------
async def raw_refusal(base, path, headers):
    """Sends an upgrade request by hand; returns (status, closed): the status of the answer
    and whether the server then closed the connection (EOF within 5 s)."""
    host, port = base.removeprefix("ws://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13"] + [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    data = b""
    closed = False
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), 5)
            if not chunk:
                closed = True
                break
            data += chunk
    except asyncio.TimeoutError:
        pass
    writer.close()
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    return (int(m.group(1)) if m else None), closed


async def run_chat_rules(base):
    mode = "chat-rules"
    token = "s3cret"

    async def allowed_origin_101():
        async with connect(f"{base}/ws/py-ok?token={token}", origin="http://allowed.example") as ws:
            got = await recv(ws)
            expect(got == "* py-ok joined", f"first line {short(got)}")

    await check(mode, "allowed-origin-and-query-token-101", allowed_origin_101)

    async def wildcard_origin_bearer_101():
        async with connect(f"{base}/ws/py-bearer", origin="https://app.example.com",
                           additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            got = await recv(ws)
            expect(got == "* py-bearer joined", f"first line {short(got)}")

    await check(mode, "wildcard-origin-and-bearer-token-101", wildcard_origin_bearer_101)

    async def refused(path, headers, want):
        got, closed = await raw_refusal(base, path, headers)
        expect(got in want, f"status {got}, expected {want}")
        expect(closed, "the server left the refused connection open")

    await check(mode, "wrong-origin-403-closed", lambda: refused(
        f"/ws/py-evil?token={token}", {"Origin": "http://evil.example"}, (403,)))
    await check(mode, "wildcard-does-not-match-other-domain-403", lambda: refused(
        f"/ws/py-evil?token={token}", {"Origin": "https://example.com.evil.example"}, (403,)))
    await check(mode, "missing-token-401-closed", lambda: refused(
        "/ws/py-anon", {"Origin": "http://allowed.example"}, (401, 403)))
    await check(mode, "wrong-token-403-closed", lambda: refused(
        "/ws/py-anon", {"Origin": "http://allowed.example", "Authorization": "Bearer nope"},
        (403,)))


# ---------------------------------------------------------------------------------------
# Client checks against examples/axum (axum does the upgrade, ws-proto the rest)
# ---------------------------------------------------------------------------------------
async def run_axum(base):
    mode = "axum"

    async def deflate_and_subprotocol():
        # websockets' defaults: permessage-deflate offered (compression="deflate").
        async with connect(base + "/py/axum", subprotocols=["echo.v1"], compression="deflate",
                           max_size=None, open_timeout=10) as ws:
            expect(ws.subprotocol == "echo.v1", f"negotiated subprotocol {ws.subprotocol!r}, expected 'echo.v1'")
            ext = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            expect("permessage-deflate" in ext, f"response Sec-WebSocket-Extensions: {ext!r}")
            compressible = ("ws-proto behind axum, " * 3000)[:64 * 1024]
            for msg in ["hello, axum", bytes(range(256)) * 4, compressible, compressible.encode()]:
                await ws.send(msg)
                got = await recv(ws)
                expect(type(got) is type(msg), f"sent {type(msg).__name__}, got {type(got).__name__}")
                expect(got == msg, f"sent {short(msg)}, got {short(got)}")

    await check(mode, "deflate-subprotocol-echo", deflate_and_subprotocol)

    async def no_subprotocol_no_compression():
        async with connect(base + "/py/axum-plain", subprotocols=["other"], compression=None) as ws:
            expect(ws.subprotocol is None, f"server picked {ws.subprotocol!r} from ['other']")
            ext = ws.response.headers.get("Sec-WebSocket-Extensions")
            expect(ext is None, f"not offered, yet Sec-WebSocket-Extensions: {ext!r}")
            await ws.send("still echoed")
            expect(await recv(ws) == "still echoed", "no echo")

    await check(mode, "no-subprotocol-no-compression", no_subprotocol_no_compression)

    async def plain_http():
        # A plain GET on the same port: answered by axum with 426, not upgraded.
        host, port = base.removeprefix("ws://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /page HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        expect(status.startswith(b"HTTP/1.1 426"), f"status line {status!r}, expected 426")

    await check(mode, "plain-http-426", plain_http)


# ---------------------------------------------------------------------------------------
# An echo server here, examples/client connecting to it
# ---------------------------------------------------------------------------------------
def select_subprotocol(_conn, offered):
    """The first offered subprotocol this server knows (as examples/echo-server does)."""
    return next((p for p in offered if p in KNOWN_SUBPROTOCOLS), None)


class EchoServer:
    """Echoes messages and records, per path, what each connection saw."""

    def __init__(self):
        self.seen = {}  # path -> dict
        self.done = {}  # path -> asyncio.Event set when the handler ended

    def record(self, path):
        self.done.setdefault(path, asyncio.Event())
        return self.seen.setdefault(path, {"messages": []})

    async def handler(self, ws):
        path = ws.request.path
        rec = self.record(path)
        rec["subprotocol"] = ws.subprotocol
        rec["headers"] = ws.request.headers
        try:
            async for msg in ws:
                rec["messages"].append(msg)
                await ws.send(msg)
                if msg == "please close":
                    await ws.close(4001, "server bye")  # the server starts the close
        except ConnectionClosed:
            pass  # recorded below; anything else makes websockets log a traceback
        finally:
            p = ws.protocol
            rec["close_rcvd"] = p.close_rcvd
            rec["close_sent"] = p.close_sent
            rec["close_rcvd_then_sent"] = p.close_rcvd_then_sent
            self.done[path].set()

    async def finished(self, path):
        self.record(path)
        await asyncio.wait_for(self.done[path].wait(), 10)
        return self.seen[path]

    async def start(self, port=0):
        server = await serve(self.handler, "127.0.0.1", port, max_size=None,
                             select_subprotocol=select_subprotocol)
        return server, server.sockets[0].getsockname()[1]


async def run_client_example(client_bin):
    mode = "client-example"
    expect_bin = os.access(client_bin, os.X_OK)
    echo = EchoServer()
    server, port = await echo.start()
    url = f"ws://127.0.0.1:{port}"

    async def spawn(path, args):
        if not expect_bin:
            raise CheckFailed(f"{client_bin} is missing or not executable")
        return await asyncio.create_subprocess_exec(
            client_bin, url + path, *args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=1 << 20)

    async def lines_then_eof(path, lines, args, want_subprotocol):
        # Like a person typing: the lines, then wait for their echoes, then EOF (Ctrl-D).
        # (Closing stdin at once would race the echoes: the peer stops sending data once
        # it has the client's Close.)
        proc = await spawn(path, args)
        proc.stdin.write("".join(line + "\n" for line in lines).encode())
        await proc.stdin.drain()
        got_lines = []
        try:
            while len(got_lines) < len(lines):
                line = await asyncio.wait_for(proc.stdout.readline(), 10)
                if not line:
                    break  # stdout closed: the client exited
                got_lines.append(line.decode(errors="replace").rstrip("\n"))
            proc.stdin.close()
            out, err, _ = await asyncio.wait_for(
                asyncio.gather(proc.stdout.read(), proc.stderr.read(), proc.wait()), 20)
        except asyncio.TimeoutError:
            proc.kill()
            raise CheckFailed(f"timed out; the client printed {short(got_lines, 200)} so far")
        out, err = out.decode(errors="replace"), err.decode(errors="replace")
        ctx = f"(stderr: {err.strip()[:300]!r})"
        expect(proc.returncode == 0, f"client exit status {proc.returncode} {ctx}")
        expect(f"connected (subprotocol: {want_subprotocol or 'none'})" in err,
               f"stderr lacks 'connected (subprotocol: {want_subprotocol or 'none'})' {ctx}")
        expect(got_lines == lines and out == "",
               f"client printed {short(got_lines, 200)} + {out!r}, expected the echoes {short(lines, 200)}")
        rec = await echo.finished(path)
        expect(rec["messages"] == lines, f"server received {short(rec['messages'], 200)}, expected {short(lines, 200)}")
        expect(rec["subprotocol"] == want_subprotocol, f"server-side subprotocol {rec['subprotocol']!r}")
        cr = rec["close_rcvd"]
        expect(cr is not None and cr.code == 1000, f"server received Close {cr}, expected 1000")
        expect(rec["close_rcvd_then_sent"] is True, "the client did not start the close")
        return rec

    async def with_subprotocol():
        lines = ["hello from python's server", "", "ünïcode ✓ 🦀", "x" * 70000, "last line"]
        args = ["--subprotocol", "x", "--subprotocol", "superchat", "--subprotocol", "chat",
                "--header", "X-Interop: python-peer"]
        rec = await lines_then_eof("/py/client-1", lines, args, "superchat")
        got = rec["headers"].get("X-Interop")
        expect(got == "python-peer", f"--header 'X-Interop: python-peer' arrived as {got!r}")

    await check(mode, "lines-echo-subprotocol-close-1000", with_subprotocol)
    await check(mode, "no-subprotocol", lambda: lines_then_eof("/py/client-2", ["one", "two"], [], None))

    async def server_initiated_close():
        # stdin stays open: the close comes from the server (4001) and the client must exit 0.
        proc = await spawn("/py/client-3", [])
        proc.stdin.write(b"before close\nplease close\n")
        await proc.stdin.drain()
        try:
            out, err, _ = await asyncio.wait_for(
                asyncio.gather(proc.stdout.read(), proc.stderr.read(), proc.wait()), 20)
        except asyncio.TimeoutError:
            proc.kill()
            raise CheckFailed("the client did not exit within 20 s of the server's Close 4001")
        out, err = out.decode(errors="replace"), err.decode(errors="replace")
        ctx = f"(stderr: {err.strip()[:300]!r})"
        expect(proc.returncode == 0, f"client exit status {proc.returncode} {ctx}")
        expect(out == "before close\nplease close\n", f"client printed {out!r}")
        expect("closed: 4001" in err, f"stderr lacks 'closed: 4001' {ctx}")
        rec = await echo.finished("/py/client-3")
        cr = rec["close_rcvd"]
        expect(cr is not None and cr.code == 4001, f"client's Close reply {cr}, expected 4001 echoed")

    await check(mode, "server-initiated-close-4001", server_initiated_close)
    server.close()
    await server.wait_closed()


async def run_serve(port):
    server, port = await EchoServer().start(port)
    print(f"python echo server listening on 127.0.0.1:{port}", flush=True)
    await server.serve_forever()


def main(argv):
    if len(argv) >= 2 and argv[0] == "echo":
        log = argv[argv.index("--server-log") + 1] if "--server-log" in argv else None
        asyncio.run(run_echo(argv[1], log))
    elif len(argv) >= 3 and argv[0] == "tls-echo":
        log = argv[argv.index("--server-log") + 1] if "--server-log" in argv else None
        asyncio.run(run_tls_echo(argv[1], argv[2], log))
    elif len(argv) == 2 and argv[0] == "chat":
        asyncio.run(run_chat(argv[1]))
    elif len(argv) == 2 and argv[0] == "chat-rules":
        asyncio.run(run_chat_rules(argv[1]))
    elif len(argv) == 2 and argv[0] == "axum":
        asyncio.run(run_axum(argv[1]))
    elif len(argv) == 2 and argv[0] == "client-example":
        asyncio.run(run_client_example(argv[1]))
    elif argv and argv[0] == "serve":
        asyncio.run(run_serve(int(argv[2]) if len(argv) > 2 and argv[1] == "--port" else 0))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
