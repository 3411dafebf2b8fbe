#!/usr/bin/env python3
"""A scripted raw-socket WebSocket peer that plays conformance cases (RFC 6455, RFC 7692).

In the spirit of Autobahn|Testsuite, but small and exact: each case writes frames byte by
byte as it wants them (one write, 1-byte writes, pauses), then reads the frames that come
back and compares them, in order, with the frames the RFCs call for. Only the Python
standard library is used; the peer does its own opening handshake, masking and
permessage-deflate (zlib raw DEFLATE with the 00 00 ff ff tail handled per RFC 7692).

Two modes:

  peer.py [OPTIONS] --server-under-test ws://127.0.0.1:PORT/
      The peer is the client. For every case it opens a connection to the server (an
      echo server: every text and binary message is sent back unchanged), plays the
      case, and checks the server's unmasked replies.

  peer.py [OPTIONS] --client-under-test [--] CMD...
      The peer is the server. It listens on 127.0.0.1:0 and runs CMD with the URL
      ws://127.0.0.1:PORT appended (or put in place of an argument `{url}`). CMD must
      behave like a client of the Autobahn fuzzing server: connect to /getCaseCount (the
      peer sends the number of cases), then to /runCase?case=N&agent=A for N = 1..count,
      echoing every message until the server closes, then to /updateReports. The peer
      plays case N on the N-th runCase connection and checks the client's masked echoes.

One line per case, `PASS name` or `FAIL name: why`, then `N passed, M failed`; the exit
status is 1 if any case failed. Every socket operation has a timeout, and the run as a
whole is bounded (--timeout, 240 s by default).
"""

import base64
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from urllib.parse import parse_qs, urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WAIT = 5.0  # seconds: the longest wait for an expected frame
BIG_WAIT = 30.0  # seconds: the same for multi-megabyte messages
CLOSE_WAIT = 3.0  # seconds: the longest wait for the peer to close TCP after the Close
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: removed by the sender, appended by the receiver

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
RSV1, RSV2, RSV3 = 4, 2, 1  # as the 3-bit RSV field of a frame
OPCODE_NAMES = {CONT: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close",
                PING: "ping", PONG: "pong"}


class Fail(Exception):
    """The case failed; the message says why."""


class Timeout(Exception):
    pass


class Eof(Exception):
    pass


def valid_close_code(code):
    """Codes that may appear on the wire (RFC 6455 §7.4, IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def xor(data, key):
    """Masks or unmasks `data` with the 4-byte `key` (RFC 6455 §5.3)."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    value = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
    return value.to_bytes(n, "little")


def encode(opcode, payload=b"", fin=True, rsv=0, mask=None, declared=None):
    """One frame. `declared` overrides the length field (the payload is then sent as is)."""
    n = len(payload) if declared is None else declared
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + xor(payload, mask)


def split(data, size):
    """`data` in pieces of `size` bytes (one empty piece for empty data)."""
    if not data:
        return [b""]
    return [data[i:i + size] for i in range(0, len(data), size)]


def short(data):
    if len(data) <= 48:
        return repr(bytes(data))
    return f"<{len(data)} bytes {bytes(data[:20])!r}...>"


def show(event):
    kind = event[0]
    if kind == "close":
        code, reason = event[1], event[2]
        return "close(no body)" if code is None else f"close({code}, {short(reason)})"
    return f"{kind}({short(event[1])})"


def show_all(events):
    return "[" + ", ".join(show(e) for e in events) + "]"


def close_body(code, reason=b""):
    return b"" if code is None else struct.pack("!H", code) + reason


# --- permessage-deflate parameters ------------------------------------------------------


def parse_extensions(value):
    """`Sec-WebSocket-Extensions` → [(name, {param: value or True})]."""
    out = []
    for element in value.split(","):
        parts = [p.strip() for p in element.split(";")]
        if not parts[0]:
            continue
        params = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip().strip('"')
            elif p:
                params[p] = True
        out.append((parts[0], params))
    return out


def format_params(params):
    items = ["permessage-deflate"]
    for k, v in params.items():
        items.append(k if v is True else f"{k}={v}")
    return "; ".join(items)


def window_bits(value, what):
    if value is None or value is True:
        return 15
    try:
        bits = int(value)
    except ValueError:
        raise Fail(f"{what}={value!r} is not a number")
    if not 8 <= bits <= 15:
        raise Fail(f"{what}={bits} is outside 8..15")
    return bits


class Deflate:
    """The negotiated permessage-deflate state of one direction pair."""

    def __init__(self, params, we_are_client):
        ours, theirs = ("client", "server") if we_are_client else ("server", "client")
        self.params = params
        self.send_bits = window_bits(params.get(f"{ours}_max_window_bits"), f"{ours}_max_window_bits")
        self.send_reset = f"{ours}_no_context_takeover" in params
        self.recv_bits = window_bits(params.get(f"{theirs}_max_window_bits"), f"{theirs}_max_window_bits")
        self.recv_reset = f"{theirs}_no_context_takeover" in params
        self.compressor = None
        self.decompressor = None

    def compress(self, data):
        if self.compressor is None or self.send_reset:
            self.compressor = zlib.compressobj(6, zlib.DEFLATED, -self.send_bits)
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TAIL)
        return out[:-4]

    def decompress(self, data):
        if self.decompressor is None or self.recv_reset:
            # A fresh inflater per message when the peer may not keep its context: a
            # back-reference into an earlier message then fails to inflate. The window
            # size is the negotiated one: a distance beyond it fails too.
            self.decompressor = zlib.decompressobj(-self.recv_bits)
        try:
            if self.recv_bits == 15:
                out = self.decompressor.decompress(data + TAIL)
            else:
                # zlib checks distances against its window only for output it has already
                # handed out: inflate one byte per call, so that any distance beyond the
                # negotiated window fails ("invalid distance too far back").
                out, data = bytearray(), data + TAIL
                while True:
                    piece = self.decompressor.decompress(data, 1)
                    out += piece
                    data = self.decompressor.unconsumed_tail
                    if not piece and not data:
                        break
                out = bytes(out)
        except zlib.error as e:
            raise Fail(f"a compressed message does not inflate (window {self.recv_bits} bits"
                       f"{', no context takeover' if self.recv_reset else ''}): {e}")
        return out


# --- one connection ------------------------------------------------------------------------


class Conn:
    """A WebSocket connection after the opening handshake, seen from the peer's side."""

    def __init__(self, sock, we_are_client, rest=b"", deflate=None):
        self.sock = sock
        self.client = we_are_client
        self.buf = bytearray(rest)
        self.deflate = deflate
        self.partial = None  # (opcode, [payloads], compressed) of a fragmented message
        self.done = False  # the closing handshake (or the failure) was checked
        self.compressed_in = 0  # compressed messages received
        self.send_error = None  # why a write failed (the peer had closed)

    # -- writing --

    def frame(self, opcode, payload=b"", fin=True, rsv=0, declared=None, mask=None):
        """The bytes of one frame, masked with a fresh key when we are the client."""
        if mask is None and self.client:
            mask = os.urandom(4)
        if mask is False:
            mask = None
        return encode(opcode, payload, fin, rsv, mask, declared)

    def message(self, opcode, data, frag=None, compress=False):
        """The frames of one message; `frag` splits the (compressed) payload."""
        payload = self.deflate.compress(data) if compress else data
        pieces = [payload] if frag is None else split(payload, frag)
        out = bytearray()
        for i, piece in enumerate(pieces):
            out += self.frame(opcode if i == 0 else CONT, piece, fin=i == len(pieces) - 1,
                              rsv=RSV1 if compress and i == 0 else 0)
        return bytes(out)

    def close_frame(self, code=None, reason=b""):
        return self.frame(CLOSE, close_body(code, reason))

    def send(self, data, chunk=None, pause=0.0, timeout=WAIT):
        """Writes `data`: at once, or in `chunk`-byte writes `pause` seconds apart."""
        self.sock.settimeout(max(timeout, len(data) / 1e6))
        try:
            if chunk is None:
                self.sock.sendall(data)
                return
            for i in range(0, len(data), chunk):
                self.sock.sendall(data[i:i + chunk])
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError) as e:
            # The peer closed while we were still writing: legitimate after it failed the
            # connection (e.g. at the first invalid byte). What it sent before is still to
            # be read; the expectations say whether that was right.
            self.send_error = e

    # -- reading --

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise Timeout()
        except ConnectionResetError:
            data = b""
        if not data:
            raise Eof()
        self.buf += data

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)

    def recv_frame(self, deadline):
        """The next frame, checked against the framing rules for the peer's direction."""
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF
        masked, n, pos = bool(b1 & 0x80), b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, pos = struct.unpack_from("!H", self.buf, 2)[0], 4
            if n < 126:
                raise Fail(f"the peer sent length {n} as a 16-bit length (not minimal)")
        elif n == 127:
            self._need(10, deadline)
            n, pos = struct.unpack_from("!Q", self.buf, 2)[0], 10
            if n < 1 << 16:
                raise Fail(f"the peer sent length {n} as a 64-bit length (not minimal)")
            if n >> 63:
                raise Fail("the peer sent a 64-bit length with its most significant bit set")
        key = None
        if masked:
            self._need(pos + 4, deadline)
            key, pos = bytes(self.buf[pos:pos + 4]), pos + 4
        self._need(pos + n, deadline)
        payload = bytes(self.buf[pos:pos + n])
        del self.buf[:pos + n]
        if self.client and masked:
            raise Fail(f"the server sent a masked {OPCODE_NAMES.get(opcode, opcode)} frame")
        if not self.client and not masked:
            raise Fail(f"the client sent an unmasked {OPCODE_NAMES.get(opcode, opcode)} frame")
        if key is not None:
            payload = xor(payload, key)
        return fin, rsv, opcode, payload

    def recv_event(self, deadline):
        """The next message or control frame: ('text'|'binary'|'ping'|'pong', bytes) or
        ('close', code or None, reason)."""
        while True:
            fin, rsv, opcode, payload = self.recv_frame(deadline)
            name = OPCODE_NAMES.get(opcode, f"reserved opcode {opcode:#x}")
            if opcode not in OPCODE_NAMES:
                raise Fail(f"the peer sent a frame with {name}")
            if rsv & (RSV2 | RSV3):
                raise Fail(f"the peer set RSV2/RSV3 on a {name} frame")
            if rsv & RSV1 and (self.deflate is None or opcode not in (TEXT, BINARY)):
                raise Fail(f"the peer set RSV1 on a {name} frame"
                           + ("" if self.deflate else " without permessage-deflate"))
            if opcode >= CLOSE:
                if not fin:
                    raise Fail(f"the peer sent a fragmented {name} frame")
                if len(payload) > 125:
                    raise Fail(f"the peer sent a {name} frame of {len(payload)} bytes")
                if opcode == PING:
                    return ("ping", payload)
                if opcode == PONG:
                    return ("pong", payload)
                return self._close_event(payload)
            if opcode == CONT:
                if self.partial is None:
                    raise Fail("the peer sent a continuation frame with no message in progress")
                self.partial[1].append(payload)
            else:
                if self.partial is not None:
                    raise Fail(f"the peer started a {name} message inside a fragmented one")
                self.partial = (opcode, [payload], bool(rsv & RSV1))
            if fin:
                opcode, pieces, compressed = self.partial
                self.partial = None
                data = b"".join(pieces)
                if compressed:
                    data = self.deflate.decompress(data)
                    self.compressed_in += 1
                if opcode == TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise Fail(f"the peer sent a text message that is not UTF-8: {e}")
                    return ("text", data)
                return ("binary", data)

    def _close_event(self, body):
        if len(body) == 0:
            return ("close", None, b"")
        if len(body) == 1:
            raise Fail("the peer sent a Close frame with a 1-byte body")
        code = struct.unpack("!H", body[:2])[0]
        if not valid_close_code(code):
            raise Fail(f"the peer sent Close code {code}, which may not be sent")
        try:
            body[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise Fail(f"the peer's Close {code} has a reason that is not UTF-8")
        return ("close", code, body[2:])

    # -- checks --

    def after_send_error(self):
        return "" if self.send_error is None else f" (a write of ours failed: {self.send_error})"

    def expect(self, expected, what, timeout=WAIT):
        """Reads exactly the events `expected`, in order; the first difference fails."""
        deadline = time.monotonic() + timeout
        got = []
        for want in expected:
            try:
                event = self.recv_event(deadline)
            except Timeout:
                raise Fail(f"{what}: expected {show_all(expected)}, got {show_all(got)} "
                           f"and then nothing for {timeout:g} s")
            except Eof:
                raise Fail(f"{what}: expected {show_all(expected)}, got {show_all(got)} "
                           f"and then the connection closed{self.after_send_error()}")
            got.append(event)
            if event != want:
                raise Fail(f"{what}: expected {show_all(expected)}, got {show_all(got)}")
        return got

    def collect_until_close(self, what, timeout=WAIT):
        """Every event up to and including the peer's Close."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                event = self.recv_event(deadline)
            except Timeout:
                raise Fail(f"{what}: got {show_all(got)} and then no Close for {timeout:g} s")
            except Eof:
                raise Fail(f"{what}: got {show_all(got)} and then the connection closed "
                           f"without a Close frame{self.after_send_error()}")
            got.append(event)
            if event[0] == "close":
                return got

    def expect_failure(self, code, what, timeout=WAIT):
        """The peer fails the connection: its next frame is a Close with `code` (any
        reason), then TCP is closed."""
        deadline = time.monotonic() + timeout
        try:
            event = self.recv_event(deadline)
        except Timeout:
            raise Fail(f"{what}: expected Close {code}, got nothing for {timeout:g} s")
        except Eof:
            raise Fail(f"{what}: expected Close {code}, the connection closed without a "
                       f"Close{self.after_send_error()}")
        if event[0] != "close" or event[1] != code:
            raise Fail(f"{what}: expected Close {code}, got {show(event)}")
        self.expect_tcp_close(f"after its Close {code}")

    def expect_tcp_close(self, what):
        """The closing handshake is over: TCP closes and no byte more arrives. A server
        under test closes first; a client under test closes once we (the server) did."""
        if not self.client:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        deadline = time.monotonic() + CLOSE_WAIT
        try:
            while True:
                if self.buf:
                    raise Fail(f"{what}: the peer sent {short(self.buf)} after its Close")
                self._fill(deadline)
        except Timeout:
            who = "server" if self.client else "client"
            raise Fail(f"{what}: the {who} did not close the TCP connection within "
                       f"{CLOSE_WAIT:g} s")
        except Eof:
            pass
        self.done = True

    def close_normally(self, code=1000, reason=b"", what="the Close reply"):
        """Our Close, the peer's echo of it (code and reason), then TCP closes."""
        self.send(self.close_frame(code, reason))
        self.expect([("close", code, reason)], what)
        self.expect_tcp_close("after the Close handshake")

    def echo(self, kind, data, what=None, **send):
        """Sends one message and expects it back unchanged."""
        opcode = TEXT if kind == "text" else BINARY
        self.send(self.message(opcode, data, send.pop("frag", None), send.pop("compress", False)),
                  **send)
        timeout = BIG_WAIT if len(data) > 1 << 20 else WAIT
        self.expect([(kind, data)], what or f"the echo of a {len(data)}-byte {kind} message",
                    timeout)


# --- the cases -----------------------------------------------------------------------------


class Case:
    def __init__(self, name, body, deflate=None):
        self.name = name
        self.id = name.split()[0]
        self.body = body
        self.deflate = deflate  # None, or the permessage-deflate parameters to negotiate


CASES = []


def case(name, deflate=None):
    def register(body):
        CASES.append(Case(name, body, deflate))
        return body

    return register


def pattern_text(n):
    """`n` bytes of ASCII text."""
    unit = b"The quick brown fox jumps over the lazy dog 0123456789. "
    return (unit * (n // len(unit) + 1))[:n]


def random_bytes(n):
    return os.urandom(n)


def compressible(n):
    """Binary data with repeats at distances from 600 bytes to 3 KiB (beyond a 9-bit
    window, within a 15-bit one), so window limits matter."""
    out = bytearray()
    blocks = [os.urandom(600), os.urandom(1500), os.urandom(3000)]
    i = 0
    while len(out) < n:
        out += blocks[i % 3][: 200 + (i * 37) % 400] + blocks[(i + 1) % 3]
        i += 1
    return bytes(out[:n])


# 1.x framing

for n, label in ((0, "0"), (125, "125"), (126, "126"), (65535, "65535"), (65536, "65536")):
    for sub, kind in ((1, "text"), (2, "binary")):

        def body(c, n=n, kind=kind):
            data = pattern_text(n) if kind == "text" else random_bytes(n)
            c.echo(kind, data)

        case(f"1.{sub}.{label} {kind} message of {label} bytes echoed")(body)


@case("1.3.1 text message of 126 bytes written in 1-byte writes echoed")
def _(c):
    c.echo("text", pattern_text(126), chunk=1)


@case("1.3.2 binary message of 65536 bytes (64-bit length) in 1-byte writes echoed")
def _(c):
    c.echo("binary", random_bytes(65536), chunk=1)


@case("1.3.3 ten messages in one write echoed in order")
def _(c):
    msgs = [("text" if i % 2 else "binary", pattern_text(i * 13) if i % 2 else random_bytes(i * 29))
            for i in range(10)]
    c.send(b"".join(c.message(TEXT if k == "text" else BINARY, d) for k, d in msgs))
    c.expect(msgs, "the ten echoes")


@case("1.4.1 length 5 sent as a 16-bit length (not minimal) fails 1002")
def _(c):
    frame = c.frame(TEXT, b"hello")
    # Rebuild the header with the 16-bit form: 126, then 00 05.
    masked = frame[1] & 0x80
    c.send(bytes([frame[0], masked | 126]) + b"\x00\x05" + frame[2:])
    c.expect_failure(1002, "a non-minimal length")


@case("1.4.2 64-bit length with its most significant bit set fails 1002")
def _(c):
    c.send(c.frame(BINARY, b"", declared=(1 << 63) | 5))
    c.expect_failure(1002, "a 64-bit length with the top bit set")


@case("1.4.3 frame masked the wrong way for its direction fails 1002")
def _(c):
    # A client must mask every frame; a server must mask none (RFC 6455 §5.1).
    wrong = False if c.client else os.urandom(4)
    c.send(c.frame(TEXT, b"wrong masking", mask=wrong))
    c.expect_failure(1002, "an unmasked frame from the client" if c.client
                     else "a masked frame from the server")


# 2.x pings and pongs


@case("2.1 ping without payload gets an empty pong")
def _(c):
    c.send(c.frame(PING))
    c.expect([("pong", b"")], "the pong")


@case("2.2 ping with payload 'Hello, world!' gets a pong with the same payload")
def _(c):
    c.send(c.frame(PING, b"Hello, world!"))
    c.expect([("pong", b"Hello, world!")], "the pong")


@case("2.3 ping with 125 binary bytes gets an identical pong")
def _(c):
    payload = bytes(range(256))[-125:]
    c.send(c.frame(PING, payload))
    c.expect([("pong", payload)], "the pong")


@case("2.4 ping with 126 bytes fails 1002")
def _(c):
    c.send(c.frame(PING, b"x" * 126))
    c.expect_failure(1002, "a 126-byte ping")


@case("2.5 ping with 125 bytes in 1-byte writes gets its pong")
def _(c):
    payload = pattern_text(125)
    c.send(c.frame(PING, payload), chunk=1)
    c.expect([("pong", payload)], "the pong")


@case("2.6 unsolicited pong is ignored")
def _(c):
    c.send(c.frame(PONG, b"unsolicited") + c.message(TEXT, b"after the pong"))
    c.expect([("text", b"after the pong")], "only the echo (nothing for the pong)")


TEN_PINGS = [b"payload-%d" % i for i in range(10)]


@case("2.7 ten pings payload-0..payload-9 back to back in one write get ten pongs in order")
def _(c):
    c.send(b"".join(c.frame(PING, p) for p in TEN_PINGS))
    c.expect([("pong", p) for p in TEN_PINGS], "ten pongs")


@case("2.8 ten pings payload-0..payload-9 in 1-byte writes get ten pongs in order")
def _(c):
    c.send(b"".join(c.frame(PING, p) for p in TEN_PINGS), chunk=1)
    c.expect([("pong", p) for p in TEN_PINGS], "ten pongs")


@case("2.9 text, ping, text in one write: the pong comes between the two echoes")
def _(c):
    c.send(c.message(TEXT, b"first") + c.frame(PING, b"between") + c.message(TEXT, b"second"))
    c.expect([("text", b"first"), ("pong", b"between"), ("text", b"second")],
             "echo, pong, echo")


@case("2.10 a hundred pings in one write: pongs in order, the newest ping answered")
def _(c):
    pings = [b"ping-%d" % i for i in range(100)]
    c.send(b"".join(c.frame(PING, p) for p in pings))
    c.send(c.close_frame(1000))
    got = c.collect_until_close("pongs, then the Close reply")
    pongs, close = got[:-1], got[-1]
    if close != ("close", 1000, b""):
        raise Fail(f"expected the Close reply close(1000, b''), got {show(close)}")
    if any(e[0] != "pong" or e[1] not in pings for e in pongs):
        raise Fail(f"something else than pongs to the pings: {show_all(pongs)}")
    order = [pings.index(e[1]) for e in pongs]
    if order != sorted(set(order)):
        raise Fail(f"pongs out of order or repeated: {order}")
    if not order or order[-1] != 99:
        raise Fail(f"the newest ping (ping-99) was not answered: pongs for {order}")
    c.expect_tcp_close("after the Close handshake")


# 3.x reserved bits


for sub, bits, label in ((1, RSV1, "RSV1"), (2, RSV2, "RSV2"), (3, RSV3, "RSV3"),
                         (4, RSV1 | RSV2 | RSV3, "RSV1..3")):

    def body(c, bits=bits, label=label):
        c.send(c.frame(TEXT, b"reserved bits", rsv=bits))
        c.expect_failure(1002, f"{label} without an extension")

    case(f"3.{sub} {label} set on a text frame without an extension fails 1002")(body)


@case("3.5 RSV2 on a ping fails 1002 without a pong")
def _(c):
    c.send(c.frame(PING, b"rsv", rsv=RSV2))
    c.expect_failure(1002, "RSV2 on a ping")


@case("3.6 a valid message is echoed, then RSV3 on the next frame fails 1002 (no pong after)")
def _(c):
    c.send(c.message(TEXT, b"valid") + c.frame(TEXT, b"rsv3", rsv=RSV3) + c.frame(PING, b"late"))
    c.expect([("text", b"valid")], "the echo of the valid message")
    c.expect_failure(1002, "RSV3")


# 4.x opcodes


for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
    kind = "data" if op < 8 else "control"

    def body(c, op=op):
        c.send(c.frame(op, b"reserved"))
        c.expect_failure(1002, f"opcode {op:#x}")

    case(f"4.{1 if op < 8 else 2}.{op:X} reserved {kind} opcode {op:#x} fails 1002")(body)


@case("4.3 a valid message is echoed, then reserved opcode 0x5 fails 1002 (no pong after)")
def _(c):
    c.send(c.message(TEXT, b"valid") + c.frame(5, b"") + c.frame(PING, b"late"))
    c.expect([("text", b"valid")], "the echo of the valid message")
    c.expect_failure(1002, "opcode 0x5")


# 5.x fragmentation


@case("5.1 text in two fragments echoed as one message")
def _(c):
    c.send(c.frame(TEXT, b"fragment1", fin=False) + c.frame(CONT, b"fragment2"))
    c.expect([("text", b"fragment1fragment2")], "the echo")


@case("5.2 binary in three fragments, the last one empty, echoed as one message")
def _(c):
    a, b = random_bytes(100), random_bytes(200)
    c.send(c.frame(BINARY, a, fin=False) + c.frame(CONT, b, fin=False) + c.frame(CONT, b""))
    c.expect([("binary", a + b)], "the echo")


@case("5.3 text in 20 one-byte fragments echoed as one message")
def _(c):
    c.echo("text", pattern_text(20), frag=1)


@case("5.4 fragment1, ping 'ping payload', fragment2 in one write: the pong comes before the echo")
def _(c):
    c.send(c.frame(TEXT, b"fragment1", fin=False) + c.frame(PING, b"ping payload")
           + c.frame(CONT, b"fragment2"))
    c.expect([("pong", b"ping payload"), ("text", b"fragment1fragment2")], "pong, then echo")


@case("5.5 fragment1, ping, fragment2 in writes 0.1 s apart: the pong comes before the echo")
def _(c):
    c.send(c.frame(TEXT, b"fragment1", fin=False))
    time.sleep(0.1)
    c.send(c.frame(PING, b"ping payload"))
    time.sleep(0.1)
    c.send(c.frame(CONT, b"fragment2"))
    c.expect([("pong", b"ping payload"), ("text", b"fragment1fragment2")], "pong, then echo")


@case("5.6 five fragments with two pings between and 1 s pauses: both pongs before the echo")
def _(c):
    c.send(c.frame(TEXT, b"fragment1", fin=False) + c.frame(CONT, b"fragment2", fin=False)
           + c.frame(PING, b"ping 1"))
    time.sleep(1)
    c.send(c.frame(CONT, b"fragment3", fin=False) + c.frame(CONT, b"fragment4", fin=False)
           + c.frame(PING, b"ping 2"))
    time.sleep(1)
    c.send(c.frame(CONT, b"fragment5"))
    c.expect([("pong", b"ping 1"), ("pong", b"ping 2"),
              ("text", b"fragment1fragment2fragment3fragment4fragment5")],
             "two pongs, then the echo")


@case("5.7 fragment1, ten pings, fragment2 in one write: ten pongs in order, then the echo")
def _(c):
    c.send(c.frame(TEXT, b"fragment1", fin=False) + b"".join(c.frame(PING, p) for p in TEN_PINGS)
           + c.frame(CONT, b"fragment2"))
    c.expect([("pong", p) for p in TEN_PINGS] + [("text", b"fragment1fragment2")],
             "ten pongs, then the echo")


@case("5.8 continuation frame with no message in progress fails 1002")
def _(c):
    c.send(c.frame(CONT, b"orphan", fin=False))
    c.expect_failure(1002, "a continuation without a start")


@case("5.9 final continuation frame with no message in progress fails 1002")
def _(c):
    c.send(c.frame(CONT, b"orphan"))
    c.expect_failure(1002, "a final continuation without a start")


@case("5.10 new text frame while a fragmented message is in progress fails 1002")
def _(c):
    c.send(c.frame(TEXT, b"first", fin=False) + c.frame(TEXT, b"second"))
    c.expect_failure(1002, "a text frame inside a fragmented message")


@case("5.11 fragmented ping (FIN clear) fails 1002")
def _(c):
    c.send(c.frame(PING, b"frag", fin=False) + c.frame(CONT, b"mented"))
    c.expect_failure(1002, "a fragmented ping")


@case("5.12 fragmented pong (FIN clear) fails 1002")
def _(c):
    c.send(c.frame(PONG, b"frag", fin=False) + c.frame(CONT, b"mented"))
    c.expect_failure(1002, "a fragmented pong")


@case("5.13 fragmented close (FIN clear) fails 1002")
def _(c):
    c.send(c.frame(CLOSE, close_body(1000), fin=False) + c.frame(CONT, b""))
    c.expect_failure(1002, "a fragmented close")


# 6.x UTF-8

MULTIBYTE = "κόσμε € 𝄞 \u0080 \u07ff \u0800 \uffff \U00010000 \U0010ffff \ufeff".encode()


@case("6.1 text with 2-, 3- and 4-byte code points (U+0080..U+10FFFF) echoed")
def _(c):
    c.echo("text", MULTIBYTE)


@case("6.2 text split inside code points across 1-byte fragments echoed")
def _(c):
    c.echo("text", MULTIBYTE, frag=1)


@case("6.3 text with multi-byte code points in 1-byte writes echoed")
def _(c):
    c.echo("text", MULTIBYTE * 3, chunk=1)


INVALID_UTF8 = [
    ("lone continuation byte 80", b"ab\x80cd"),
    ("byte FF", b"ab\xffcd"),
    ("overlong C0 AF", b"ab\xc0\xafcd"),
    ("overlong E0 80 AF", b"ab\xe0\x80\xafcd"),
    ("surrogate ED A0 80 (U+D800)", b"ab\xed\xa0\x80cd"),
    ("F4 90 80 80 (above U+10FFFF)", b"ab\xf4\x90\x80\x80cd"),
    ("message ending inside a code point (E2 82)", b"ab\xe2\x82"),
]

for i, (label, data) in enumerate(INVALID_UTF8, 1):

    def body(c, data=data, label=label):
        c.send(c.message(TEXT, data))
        c.expect_failure(1007, label)

    case(f"6.4.{i} text with {label} fails 1007")(body)


@case("6.5 invalid byte in the first fragment fails 1007 before the message ends")
def _(c):
    c.send(c.frame(TEXT, b"hello \xff", fin=False))
    c.expect_failure(1007, "the Close for the invalid first fragment (final fragment not sent)")


@case("6.6 invalid byte in a middle fragment fails 1007 before the final fragment is sent")
def _(c):
    c.send(c.frame(TEXT, "hello κ".encode(), fin=False))
    c.send(c.frame(CONT, b"ok \xce\xba\xff then more", fin=False))
    c.expect_failure(1007, "the Close for the invalid middle fragment (final fragment not sent)")


@case("6.7 invalid sequence split across fragments (ED | A0 80) fails 1007 before the final fragment")
def _(c):
    c.send(c.frame(TEXT, b"surrogate \xed", fin=False))
    c.send(c.frame(CONT, b"\xa0\x80 follows", fin=False))
    c.expect_failure(1007, "the Close for the surrogate (final fragment not sent)")


@case("6.8 final fragment ending inside a code point fails 1007")
def _(c):
    c.send(c.frame(TEXT, b"euro sign cut short: ", fin=False) + c.frame(CONT, b"\xe2\x82"))
    c.expect_failure(1007, "a message ending inside a code point")


@case("6.9 invalid UTF-8 in 1-byte writes fails 1007")
def _(c):
    c.send(c.message(TEXT, b"valid, then \xc0\xaf invalid"), chunk=1)
    c.expect_failure(1007, "invalid UTF-8")


# 7.x closing


@case("7.1 close 1000 with reason 'bye bye': the Close reply echoes code and reason")
def _(c):
    c.close_normally(1000, b"bye bye", "the Close reply")


@case("7.2 close 4000 with a 123-byte UTF-8 reason: the reply echoes code and reason")
def _(c):
    reason = ("é" * 61).encode() + b"!"  # 123 bytes, the most that fits
    assert len(reason) == 123
    c.close_normally(4000, reason, "the Close reply")


@case("7.3 close without a body: an empty Close comes back")
def _(c):
    c.close_normally(None, b"", "the Close reply")


@case("7.4 close with a 1-byte body fails 1002")
def _(c):
    c.send(c.frame(CLOSE, b"\x03"))
    c.expect_failure(1002, "a 1-byte close body")


for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535):

    def body(c, code=code):
        c.send(c.close_frame(code))
        c.expect_failure(1002, f"close code {code}")

    case(f"7.5.{code} close with invalid code {code} fails 1002")(body)

for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999):

    def body(c, code=code):
        c.close_normally(code, b"", f"the reply to Close {code}")

    case(f"7.6.{code} close with valid code {code}: the reply echoes {code}")(body)


@case("7.7 close reason that is not UTF-8 fails 1007")
def _(c):
    c.send(c.close_frame(1000, b"bad \xff reason"))
    c.expect_failure(1007, "an invalid close reason")


@case("7.8 text and ping sent after our Close get no echo and no pong")
def _(c):
    c.send(c.close_frame(1000) + c.message(TEXT, b"after close") + c.frame(PING, b"after close"))
    c.expect([("close", 1000, b"")], "only the Close reply")
    c.expect_tcp_close("after the Close handshake")


@case("7.9 after the Close handshake the server closes TCP first, the client after it")
def _(c):
    c.send(c.close_frame(1000))
    c.expect([("close", 1000, b"")], "the Close reply")
    if not c.client:
        # A client must leave closing TCP to the server (RFC 6455 §7.1.1): nothing, not
        # even its end of stream, may come before ours.
        try:
            c._fill(time.monotonic() + 0.5)
        except Timeout:
            pass
        except Eof:
            raise Fail("the client closed TCP before the server did")
        else:
            raise Fail(f"the client sent {short(c.buf)} after its Close")
    c.expect_tcp_close("after the Close handshake")


@case("7.10 close in the middle of a fragmented message: the Close reply, no echo")
def _(c):
    c.send(c.frame(TEXT, b"never finished", fin=False) + c.close_frame(1000))
    c.expect([("close", 1000, b"")], "only the Close reply")
    c.expect_tcp_close("after the Close handshake")


@case("7.11 close with code and reason in 1-byte writes: the reply echoes both")
def _(c):
    c.send(c.close_frame(3333, b"slowly"), chunk=1)
    c.expect([("close", 3333, b"slowly")], "the Close reply")
    c.expect_tcp_close("after the Close handshake")


# 9.x limits (sized for a small machine)


@case("9.1 text message of 1 MiB echoed")
def _(c):
    c.echo("text", pattern_text(1 << 20))


@case("9.2 binary message of 4 MiB echoed")
def _(c):
    c.echo("binary", random_bytes(4 << 20))


@case("9.3 binary message of 4 MiB in 64 frames of 64 KiB echoed")
def _(c):
    c.echo("binary", random_bytes(4 << 20), frag=64 << 10)


@case("9.4 text message of 1 MiB in 1024 frames of 1 KiB echoed")
def _(c):
    c.echo("text", pattern_text(1 << 20), frag=1 << 10)


@case("9.5 binary message of 1 MiB in 4-KiB writes echoed")
def _(c):
    c.echo("binary", random_bytes(1 << 20), chunk=4 << 10)


@case("9.6 a thousand small messages in one write echoed in order")
def _(c):
    msgs = [("text", b"message %d" % i) for i in range(1000)]
    c.send(b"".join(c.message(TEXT, d) for _, d in msgs))
    c.expect(msgs, "the thousand echoes")


@case("9.7 frame header declaring 2^62 bytes fails 1009 before any payload")
def _(c):
    c.send(c.frame(BINARY, b"", declared=1 << 62))
    c.expect_failure(1009, "a frame over any limit")


# 12.x / 13.x permessage-deflate (a sample)

PLAIN = {}


@case("12.1 permessage-deflate: compressed text messages echoed, context kept across them",
      deflate=PLAIN)
def _(c):
    for i in range(3):
        c.echo("text", pattern_text(2000 + i), compress=True, what=f"the echo of message {i + 1}")
    some_compressed(c, 3)


@case("12.2 permessage-deflate: compressed 64 KiB binary in 4 KiB frames (RSV1 on the first only) echoed",
      deflate=PLAIN)
def _(c):
    c.echo("binary", compressible(64 << 10), compress=True, frag=4 << 10)
    some_compressed(c, 1)


@case("12.3 permessage-deflate: compressed 1 MiB text echoed", deflate=PLAIN)
def _(c):
    c.echo("text", pattern_text(1 << 20), compress=True)
    some_compressed(c, 1)


@case("12.4 permessage-deflate: uncompressed messages (RSV1 clear) echoed", deflate=PLAIN)
def _(c):
    c.echo("text", pattern_text(500))
    c.echo("binary", compressible(5000))


@case("12.5 permessage-deflate: empty compressed message and 1-byte writes echoed", deflate=PLAIN)
def _(c):
    c.echo("text", b"", compress=True)
    c.echo("binary", compressible(3000), compress=True, chunk=1)


@case("12.6 permessage-deflate: RSV1 on a continuation frame fails 1002", deflate=PLAIN)
def _(c):
    payload = c.deflate.compress(pattern_text(300))
    c.send(c.frame(TEXT, payload[:50], fin=False, rsv=RSV1) + c.frame(CONT, payload[50:], rsv=RSV1))
    c.expect_failure(1002, "RSV1 on a continuation")


@case("12.7 permessage-deflate: RSV1 on a ping fails 1002", deflate=PLAIN)
def _(c):
    c.send(c.frame(PING, b"compressed?", rsv=RSV1))
    c.expect_failure(1002, "RSV1 on a ping")


@case("12.8 permessage-deflate: corrupt DEFLATE data fails 1007", deflate=PLAIN)
def _(c):
    c.send(c.frame(BINARY, b"\xff\xff\xff\xff not deflate", rsv=RSV1))
    c.expect_failure(1007, "corrupt DEFLATE data")


def several_compressed(c):
    """Messages that repeat one another, so a peer keeping its context (when it may not)
    produces echoes that do not inflate on their own."""
    block = compressible(4000)
    for i in range(4):
        c.echo("binary", block + bytes([i]) * 100, compress=True,
               what=f"the echo of message {i + 1}")
    some_compressed(c, 4)


def some_compressed(c, n):
    """The peer compressed its echoes (else the case checked no inflating)."""
    if c.compressed_in < n:
        raise Fail(f"only {c.compressed_in} of the {n} echoes came compressed (RSV1)")


@case("13.1 permessage-deflate with client_ and server_no_context_takeover: each echo inflates alone",
      deflate={"server_no_context_takeover": True, "client_no_context_takeover": True})
def _(c):
    several_compressed(c)


@case("13.2 permessage-deflate with server_ and client_max_window_bits=9: echoes inflate in 512 bytes",
      deflate={"server_max_window_bits": "9", "client_max_window_bits": "9"})
def _(c):
    several_compressed(c)


@case("13.3 permessage-deflate with client_max_window_bits=10 and server_no_context_takeover",
      deflate={"client_max_window_bits": "10", "server_no_context_takeover": True})
def _(c):
    several_compressed(c)


@case("13.4 permessage-deflate with server_max_window_bits=12 and client_no_context_takeover",
      deflate={"server_max_window_bits": "12", "client_no_context_takeover": True})
def _(c):
    several_compressed(c)


assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


# --- handshakes ----------------------------------------------------------------------------


def read_head(sock, deadline):
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        if len(buf) > 65536:
            raise Fail("handshake head over 64 KiB")
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"no complete handshake head within {WAIT:g} s (got {short(buf)})")
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            raise Fail(f"connection closed during the handshake (got {short(buf)})")
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    lines = bytes(buf[:end - 4]).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    return lines[0], headers, bytes(buf[end:])


def tokens(value):
    return {t.strip().lower() for t in value.split(",")}


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def check_deflate_response(offer, response):
    """RFC 7692 §7.1: what a server may answer to our offer."""
    elements = parse_extensions(response)
    if len(elements) != 1 or elements[0][0] != "permessage-deflate":
        raise Fail(f"the server answered the offer {format_params(offer)!r} with "
                   f"extensions {response!r}")
    params = elements[0][1]
    for k in params:
        if k not in ("server_no_context_takeover", "client_no_context_takeover",
                     "server_max_window_bits", "client_max_window_bits"):
            raise Fail(f"unknown parameter {k} in the server's answer {response!r}")
    if "server_no_context_takeover" in offer and "server_no_context_takeover" not in params:
        raise Fail(f"server_no_context_takeover offered but not in the answer {response!r}")
    if "server_max_window_bits" in offer:
        if "server_max_window_bits" not in params:
            raise Fail(f"server_max_window_bits offered but not in the answer {response!r}")
        if window_bits(params["server_max_window_bits"], "server_max_window_bits") > int(
                offer["server_max_window_bits"]):
            raise Fail(f"server_max_window_bits larger than offered in {response!r}")
    if "client_max_window_bits" in params:
        if "client_max_window_bits" not in offer:
            raise Fail(f"client_max_window_bits in the answer {response!r} but not offered")
        if params["client_max_window_bits"] is True:
            raise Fail(f"client_max_window_bits without a value in the answer {response!r}")
        limit = offer["client_max_window_bits"]
        if window_bits(params["client_max_window_bits"], "client_max_window_bits") > (
                15 if limit is True else int(limit)):
            raise Fail(f"client_max_window_bits larger than offered in {response!r}")
    return params


def client_handshake(url, path, deflate):
    """Opens a connection to the server under test; returns the Conn."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    sock = socket.create_connection((host, port), timeout=WAIT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if deflate is not None:
        lines.append(f"Sec-WebSocket-Extensions: {format_params(deflate)}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, headers, rest = read_head(sock, time.monotonic() + WAIT)
        if status.split()[:2] != ["HTTP/1.1", "101"]:
            raise Fail(f"handshake answered {status!r}")
        if "websocket" not in tokens(headers.get("upgrade", "")):
            raise Fail(f"handshake answer without Upgrade: websocket ({headers})")
        if "upgrade" not in tokens(headers.get("connection", "")):
            raise Fail(f"handshake answer without Connection: Upgrade ({headers})")
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise Fail(f"wrong Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}")
        response = headers.get("sec-websocket-extensions")
        state = None
        if deflate is None:
            if response:
                raise Fail(f"extensions {response!r} in the answer, none offered")
        else:
            if not response:
                raise Fail(f"the server declined permessage-deflate ({format_params(deflate)!r})")
            state = Deflate(check_deflate_response(deflate, response), True)
    except BaseException:
        sock.close()
        raise
    return Conn(sock, True, rest, state)


def read_request(sock):
    """The request head of a client under test: (target, headers, rest)."""
    line, headers, rest = read_head(sock, time.monotonic() + WAIT)
    parts = line.split()
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
        raise Fail(f"request line {line!r}")
    if "host" not in headers:
        raise Fail("request without Host")
    if "websocket" not in tokens(headers.get("upgrade", "")):
        raise Fail(f"request without Upgrade: websocket ({headers})")
    if "upgrade" not in tokens(headers.get("connection", "")):
        raise Fail(f"request without Connection: Upgrade ({headers})")
    if headers.get("sec-websocket-version") != "13":
        raise Fail(f"Sec-WebSocket-Version {headers.get('sec-websocket-version')!r}")
    try:
        if len(base64.b64decode(headers.get("sec-websocket-key", ""), validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise Fail(f"Sec-WebSocket-Key {headers.get('sec-websocket-key')!r} is not 16 bytes")
    return parts[1], headers, rest


def server_handshake(sock, headers, rest, deflate):
    """Answers a client's request (read by read_request) with 101; returns the Conn."""
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}"]
    state = None
    if deflate is not None:
        offers = [p for n, p in parse_extensions(headers.get("sec-websocket-extensions", ""))
                  if n == "permessage-deflate"]
        if not offers:
            sock.close()
            raise Fail("the client did not offer permessage-deflate")
        answer = dict(deflate)
        if "client_max_window_bits" in answer and "client_max_window_bits" not in offers[0]:
            sock.close()
            raise Fail("the client did not offer client_max_window_bits, the case needs it")
        lines.append(f"Sec-WebSocket-Extensions: {format_params(answer)}")
        state = Deflate(answer, False)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return Conn(sock, False, rest, state)


# --- running -------------------------------------------------------------------------------


class Tally:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0

    def report(self, name, why=None):
        if why is None:
            self.passed += 1
            print(f"PASS {self.label}/{name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {self.label}/{name}: {why}", flush=True)


def play(c, case):
    """Runs a case on an open connection; None if it passed, else why not."""
    try:
        case.body(c)
        if not c.done:
            c.close_normally(1000, b"", "the Close reply at the end of the case")
        return None
    except Fail as e:
        return str(e)
    except (OSError, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        try:
            c.sock.close()
        except OSError:
            pass


def run_server_under_test(url, cases, tally, deadline):
    path = urlsplit(url).path or "/"
    for case in cases:
        if time.monotonic() > deadline:
            tally.report(case.name, "not run: the run's time limit was reached")
            continue
        try:
            c = client_handshake(url, f"{path.rstrip('/')}/{case.id}", case.deflate)
        except (Fail, OSError) as e:
            tally.report(case.name, f"handshake: {e}")
            continue
        tally.report(case.name, play(c, case))


def run_client_under_test(cmd, cases, tally, deadline, log_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    url = f"ws://127.0.0.1:{listener.getsockname()[1]}"
    argv = [a.replace("{url}", url) for a in cmd] if any("{url}" in a for a in cmd) else cmd + [url]
    log = open(log_path, "wb") if log_path else tempfile.TemporaryFile()
    # In a process group of its own, so that a stuck client is killed with its children.
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    results = {}
    problems = []
    seen = {"getCaseCount": False, "updateReports": False}
    try:
        while time.monotonic() < deadline:
            try:
                sock, _ = listener.accept()
            except socket.timeout:
                if proc.poll() is not None:
                    break
                continue
            sock.settimeout(WAIT)  # an accepted socket has none of its own
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                target, headers, rest = read_request(sock)
            except (Fail, OSError) as e:
                problems.append(f"a request failed: {e}")
                sock.close()
                continue
            parts = urlsplit(target)
            query = parse_qs(parts.query)
            if parts.path == "/getCaseCount":
                c = server_handshake(sock, headers, rest, None)
                seen["getCaseCount"] = True
                why = play_plain(c, lambda c: c.send(c.message(TEXT, str(len(cases)).encode())))
                if why:
                    problems.append(f"getCaseCount: {why}")
            elif parts.path == "/runCase" and query.get("case", [""])[0].isdigit():
                n = int(query["case"][0])
                if not 1 <= n <= len(cases) or n in results:
                    problems.append(f"runCase?case={n} out of range or repeated")
                    sock.close()
                    continue
                case = cases[n - 1]
                try:
                    c = server_handshake(sock, headers, rest, case.deflate)
                except (Fail, OSError) as e:
                    results[n] = f"handshake: {e}"
                else:
                    results[n] = play(c, case)
                tally.report(case.name, results[n])
            elif parts.path == "/updateReports":
                c = server_handshake(sock, headers, rest, None)
                seen["updateReports"] = True
                why = play_plain(c, lambda c: None)
                if why:
                    problems.append(f"updateReports: {why}")
            else:
                sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                sock.close()
                problems.append(f"unexpected request target {target!r}")
    finally:
        status = proc.poll()
        if status is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            problems.append("the client did not exit within the run's time limit (killed)")
        listener.close()
        log.close()
    for n, case in enumerate(cases, 1):
        if n not in results:
            tally.report(case.name, "not run: the client never opened runCase?case=%d" % n)
    if not seen["getCaseCount"]:
        problems.append("the client never asked /getCaseCount")
    if not seen["updateReports"]:
        problems.append("the client never opened /updateReports")
    if status not in (None, 0):
        problems.append(f"the client exited with status {status}")
    tally.report("client run: getCaseCount, every runCase, updateReports, exit status 0",
                 "; ".join(problems) or None)


def play_plain(c, body):
    """getCaseCount and updateReports: the body, then a normal closing handshake."""
    return play(c, Case("- plain", body))


def selected(case_id, only):
    """`--only 2.7,5.` : case 2.7 (and 2.7.x), and every case of group 5."""
    for want in only.split(","):
        prefix = want if want.endswith(".") else want + "."
        if case_id == want or case_id.startswith(prefix):
            return True
    return False


def main(argv):
    label, only, log_path, limit = None, None, None, 240.0
    mode, target, cmd = None, None, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--server-under-test" and i + 1 < len(argv):
            mode, target, i = "server", argv[i + 1], i + 2
        elif a == "--client-under-test":
            # Everything after it (after `--`, if given) is the client's command line.
            cmd = argv[i + 1:]
            if cmd and cmd[0] == "--":
                cmd = cmd[1:]
            mode, i = "client", len(argv)
        elif a in ("--label", "--only", "--client-log", "--timeout") and i + 1 < len(argv):
            value = argv[i + 1]
            if a == "--label":
                label = value
            elif a == "--only":
                only = value
            elif a == "--client-log":
                log_path = value
            else:
                limit = float(value)
            i += 2
        else:
            return usage()
    if mode is None or (mode == "client" and not cmd):
        return usage()
    cases = [c for c in CASES if only is None or selected(c.id, only)]
    tally = Tally(label or ("server-under-test" if mode == "server" else "client-under-test"))
    deadline = time.monotonic() + limit
    if mode == "server":
        run_server_under_test(target, cases, tally, deadline)
    else:
        run_client_under_test(cmd, cases, tally, deadline, log_path)
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 1 if tally.failed or not tally.passed else 0


def usage():
    print(__doc__, file=sys.stderr)
    print("Options, before the mode:\n"
          "  --label NAME       prefix of every case name\n"
          "  --only IDS         only these cases: ids or groups, comma-separated (2.7,5.)\n"
          "  --timeout S        bound on the whole run (default 240)\n"
          "  --client-log FILE  where the client's output goes (--client-under-test)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    # Killed by a timeout: unwind, so that a client under test is killed too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main(sys.argv[1:]))
