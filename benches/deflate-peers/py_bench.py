"""permessage-deflate with Python websockets, measured like ws-proto's benches/deflate.rs.

    python py_bench.py CORPUS [RUNS]

CORPUS is the file `WS_DEFLATE_CORPUS_OUT` makes (one message a line). websockets' sans-IO
pair (ServerProtocol, ClientProtocol) is connected in memory; the corpus goes server ->
client in batches of 100, as in ws-proto's bench:

- send: server.send_text(bytes) for each message of the batch, then data_to_send()
  (compress with websockets' PerMessageDeflate, frame, hand out the bytes);
- receive: client.receive_data(bytes), events_received(), and bytes.decode() of each text
  frame (the UTF-8 check and str that websockets' own message assembler does; the sans-IO
  layer alone does not validate UTF-8).

A first run compares every received message with the original; then RUNS timed runs
(default 5), medians printed. Heap: tracemalloc (which sees zlib's state: CPython's zlib
module allocates it with PyMem_RawMalloc) around connecting a fresh pair and exchanging one
message each way, halved: one end. One JSON line per setting on stdout.
"""

import gc
import json
import statistics
import sys
import time
import tracemalloc
import zlib

import websockets
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
    enable_client_permessage_deflate,
    enable_server_permessage_deflate,
)
from websockets.frames import Opcode
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

SETTINGS = [
    # What serve(..., compression="deflate") and connect(...) use: the server limits both
    # windows to 12 bits, memLevel 5, zlib's default level (-1, i.e. 6).
    (
        "default: level 6, 12-bit windows, memLevel 5",
        6,
        lambda: enable_server_permessage_deflate(None),
        lambda: enable_client_permessage_deflate(None),
    ),
    # ws-proto's default parameters.
    (
        "level 1, 15-bit windows, memLevel 8",
        1,
        lambda: [ServerPerMessageDeflateFactory(compress_settings={"level": 1, "memLevel": 8})],
        lambda: [ClientPerMessageDeflateFactory(compress_settings={"level": 1, "memLevel": 8})],
    ),
    (
        "level 6, 15-bit windows, memLevel 8",
        6,
        lambda: [ServerPerMessageDeflateFactory(compress_settings={"level": 6, "memLevel": 8})],
        lambda: [ClientPerMessageDeflateFactory(compress_settings={"level": 6, "memLevel": 8})],
    ),
]


def pair(server_ext, client_ext):
    client = ClientProtocol(parse_uri("ws://h/"), extensions=client_ext())
    client.send_request(client.connect())
    server = ServerProtocol(extensions=server_ext())
    server.receive_data(b"".join(client.data_to_send()))
    (request,) = server.events_received()
    server.send_response(server.accept(request))
    client.receive_data(b"".join(server.data_to_send()))
    (response,) = client.events_received()
    assert response.status_code == 101, response
    for end in (server, client):
        (ext,) = end.extensions
        assert isinstance(ext, PerMessageDeflate), end.extensions
    return server, client


def run(setting, corpus, verify):
    """Returns (wire bytes, send seconds, receive seconds)."""
    server, client = pair(setting[2], setting[3])
    wire = count = size = 0
    send = receive = 0.0
    clock = time.perf_counter
    for i in range(0, len(corpus), 100):
        batch = corpus[i : i + 100]
        t0 = clock()
        for m in batch:
            server.send_text(m)
        out = b"".join(server.data_to_send())
        t1 = clock()
        client.receive_data(out)
        for frame in client.events_received():
            assert frame.opcode is Opcode.TEXT and frame.fin
            text = frame.data.decode()
            if verify:
                assert frame.data == corpus[count], count
            count += 1
            size += len(text)  # all ASCII: characters == bytes (checked in main)
        t2 = clock()
        send += t1 - t0
        receive += t2 - t1
        wire += len(out)
    assert count == len(corpus), count
    assert size == sum(map(len, corpus)), size
    return wire, send, receive


def heap_per_end(setting, corpus):
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    server, client = pair(setting[2], setting[3])
    client.send_text(corpus[0])
    server.send_text(corpus[1])
    server.receive_data(b"".join(client.data_to_send()))
    client.receive_data(b"".join(server.data_to_send()))
    assert len(server.events_received()) == 1 and len(client.events_received()) == 1
    gc.collect()
    live = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del server, client
    return live // 2


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with open(path, "rb") as f:
        corpus = f.read().split(b"\n")
    assert corpus.pop() == b""
    total = sum(map(len, corpus))
    assert all(m.isascii() for m in corpus)  # so len(str) == len(bytes) above
    for setting in SETTINGS:
        wire, _, _ = run(setting, corpus, verify=True)
        timed = [run(setting, corpus, verify=False) for _ in range(runs)]
        assert all(t[0] == wire for t in timed)
        print(
            json.dumps(
                {
                    "impl": "Python websockets",
                    "version": f"{websockets.__version__} (CPython {sys.version.split()[0]},"
                    f" zlib {zlib.ZLIB_RUNTIME_VERSION})",
                    "config": setting[0],
                    "level": setting[1],
                    "messages": len(corpus),
                    "bytes": total,
                    "wire": wire,
                    "runs": runs,
                    "send_s": statistics.median(t[1] for t in timed),
                    "receive_s": statistics.median(t[2] for t in timed),
                    "total_s": statistics.median(t[1] + t[2] for t in timed),
                    "heap_per_conn": heap_per_end(setting, corpus),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
