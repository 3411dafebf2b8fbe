#!/usr/bin/env python3
"""Writes the checked-in seed corpora (fuzz/corpus/<target>/seed-*).

The structured targets decode their input with `arbitrary` (fields read from the front,
the last field takes the rest), and every FuzzConfig field means "default" when zero, so a
seed is a prefix of zeros (defaults, no chunk plan) followed by the raw bytes. Check a
seed's decoding with `cargo +nightly fuzz fmt <target> corpus/<target>/seed-...`.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = bytes(25)       # FuzzConfig, all defaults
SEED = bytes(8)          # u64 rng seed
NO_STEPS = b"\x00"       # empty Vec<Step>
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def variant(k, n):
    """The u32 (LE) that `arbitrary` maps to variant k of an n-variant enum."""
    return struct.pack("<I", -(-(k << 32) // n))


def frame(opcode, payload, fin=True, mask=None, rsv=0):
    out = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        out.append(m | n)
    elif n <= 0xFFFF:
        out.append(m | 126)
        out += struct.pack(">H", n)
    else:
        out.append(m | 127)
        out += struct.pack(">Q", n)
    if mask:
        out += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(out + payload)


def close(code, reason=b"", mask=None):
    return frame(0x8, struct.pack(">H", code) + reason, mask=mask)


HELLO_DEFLATED = bytes.fromhex("f248cdc9c90700")  # RFC 7692 §7.2.3.1

REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
REQUEST_DEFLATE = REQUEST[:-2] + (
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kGzzWZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
)

# RFC 6455 §5.7 examples.
C2S = [  # masked (client to server)
    frame(0x1, b"Hello", mask=KEY),
    frame(0x1, b"Hel", fin=False, mask=KEY) + frame(0x0, b"lo", mask=KEY),
    frame(0xA, b"Hello", mask=KEY),
    frame(0x9, b"Hello", mask=KEY),
    frame(0x2, bytes(range(256)), mask=KEY),
    close(1000, b"bye", mask=KEY),
]
S2C = [  # unmasked (server to client)
    frame(0x1, b"Hello"),
    frame(0x1, b"Hel", fin=False) + frame(0x0, b"lo"),
    frame(0x9, b"Hello"),
    frame(0x2, bytes(range(256))),
    close(1000, b"bye"),
]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    assert len(data) < 4096, (target, name, len(data))
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def main():
    # server_from_first_byte: config, answer (Accept), eof, steps, data
    pre = CONFIG + variant(0, 3) + bytes(4) + b"\x00" + NO_STEPS
    write("server_from_first_byte", "rfc-request-frames", pre + REQUEST + b"".join(C2S))
    write("server_from_first_byte", "rfc-request-hello", pre + REQUEST + C2S[0] + C2S[1])
    write("server_from_first_byte", "deflate-hello",
          pre + REQUEST_DEFLATE + frame(0x1, HELLO_DEFLATED, mask=KEY, rsv=4) + C2S[5])
    reject = CONFIG + variant(1, 3) + struct.pack("<H", 404) + b"\x01\x41\x00" + b"\x00" + b"\x00" + NO_STEPS
    write("server_from_first_byte", "reject-404", reject + REQUEST)
    write("server_from_first_byte", "bad-version",
          pre + REQUEST.replace(b"Version: 13", b"Version: 8"))

    # client_from_request: config, seed, offer, offer_extension, prefix, eof, steps, data
    valid = variant(0, 2) + b"\x00\x00\x00"
    pre = CONFIG + SEED + b"\x00\x00" + valid + b"\x00" + NO_STEPS
    write("client_from_request", "valid101-frames", pre + b"".join(S2C))
    write("client_from_request", "valid101-hello", pre + S2C[0] + S2C[4])
    deflate = variant(0, 2) + b"\x00" + b"\x01" + variant(0, 6) + b"\x00"
    pre_d = CONFIG + SEED + b"\x00\x00" + deflate + b"\x00" + NO_STEPS
    write("client_from_request", "valid101-deflate-hello",
          pre_d + frame(0x1, HELLO_DEFLATED, rsv=4) + S2C[4])
    raw = CONFIG + SEED + b"\x00\x00" + variant(1, 2) + b"\x00" + NO_STEPS
    write("client_from_request", "refused-403",
          raw + b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno!")
    write("client_from_request", "wrong-accept", raw + RESPONSE + S2C[0])

    # frames_server / frames_client: config, seed, eof, steps, FrameSource::Raw
    pre = CONFIG + SEED + b"\x00" + NO_STEPS + variant(0, 2)
    for i, f in enumerate(C2S):
        write("frames_server", f"rfc-{i}", pre + f)
    write("frames_server", "all", pre + b"".join(C2S))
    for i, f in enumerate(S2C):
        write("frames_client", f"rfc-{i}", pre + f)
    write("frames_client", "all", pre + b"".join(S2C))

    # handshake_request: max_head_size, max_headers, cuts, subprotocol, extension, data
    pre = bytes(2) + b"\x00" + b"\x00" + b"\x01\x00" + b"\x01\x00"
    write("handshake_request", "rfc", pre + REQUEST)
    write("handshake_request", "deflate", pre + REQUEST_DEFLATE)
    write("handshake_request", "bad-version", pre + REQUEST.replace(b"Version: 13", b"Version: 8"))

    # handshake_response: max_head_size, max_headers, cuts, offer, data
    pre = bytes(2) + b"\x00" + b"\x00" + b"\x0f"
    write("handshake_response", "rfc", pre + RESPONSE)
    write("handshake_response", "404",
          pre + b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
    write("handshake_response", "deflate", pre + RESPONSE[:-2] +
          b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n")

    # extensions: the string itself
    write("extensions", "pmd", b"permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo")
    write("extensions", "quoted", b'a; b="\\1\\0", c ; d')
    write("extensions", "several", b"foo, bar; baz=qux, permessage-deflate")

    # utf8: streaming, fragments, chunks, use_read, ping_between, key, text
    def utf8(streaming, frags, chunks, text, ping=False):
        out = bytes([int(streaming)])
        for f in frags:
            out += b"\x01" + bytes([f])
        out += b"\x00"
        for c in chunks:
            out += b"\x01" + bytes([c])
        out += b"\x00" + b"\x00" + bytes([int(ping)]) + KEY
        return out + text
    hello = "Hello-µ@ßöäüàá-UTF-8!!".encode()
    kosme = "κόσμε 😀".encode()
    write("utf8", "autobahn-6.2", utf8(False, [3, 5, 2], [4], hello))
    write("utf8", "kosme-streaming", utf8(True, [1, 1, 2], [3], kosme, ping=True))
    write("utf8", "surrogate-streaming", utf8(True, [4], [2], b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"))
    write("utf8", "truncated", utf8(False, [], [1], b"abc\xf0\x9f\x98"))

    # mask: key, offset (u64), start, trim, split (u16 each), repeat, data
    def mask(offset, start, trim, split, repeat, data):
        return KEY + struct.pack("<QHHHB", offset, start, trim, split, repeat) + data
    write("mask", "hello", mask(0, 0, 0, 0, 0, b"Hello"))
    write("mask", "odd-slice-repeated", mask(3, 5, 7, 61, 32, bytes(range(256))))
    write("mask", "vector-tails", mask(2**64 - 1, 1, 0, 17, 0, bytes(range(1, 180))))

    # chunking_differential: config, seed, kind, chunks (Vec<u16>), read_mask, eof, FrameSource::Raw
    def diff(kind, chunks, data, read_mask=0, eof=False):
        out = CONFIG + SEED + kind
        for c in chunks:
            out += b"\x01" + struct.pack("<H", c)
        out += b"\x00" + bytes([read_mask, int(eof)]) + variant(0, 2)
        return out + data
    write("chunking_differential", "server-frames", diff(variant(0, 4), [1, 3, 7], b"".join(C2S), 0x55))
    write("chunking_differential", "client-frames", diff(variant(1, 4), [2, 5], b"".join(S2C), 0xAA, True))
    write("chunking_differential", "server-handshake",
          diff(variant(2, 4), [10, 1], REQUEST + b"".join(C2S), 0x0F))
    write("chunking_differential", "client-valid101",
          diff(variant(3, 4) + b"\x01", [4], b"".join(S2C), 0xF0))


if __name__ == "__main__":
    main()
