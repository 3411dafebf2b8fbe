'use strict';
// permessage-deflate with Node ws, measured like ws-proto's benches/deflate.rs.
//
//   node --expose-gc node_bench.js CORPUS [RUNS]     (INTEROP_NODE_DIR: where ws is installed)
//
// CORPUS is the file WS_DEFLATE_CORPUS_OUT makes (one message a line). ws's own Sender
// (server side, PerMessageDeflate negotiated as a server) writes into an in-memory socket;
// its bytes go to ws's own Receiver (client side), in batches of 100 like ws-proto's bench:
//
// - send: sender.send(Buffer, { compress: true, fin: true, mask: false }) for each message
//   of the batch, until the last one's callback (ws compresses in Node's zlib, on libuv's
//   thread pool, one message at a time per connection), then the bytes joined;
// - receive: receiver.write(bytes) until the batch's last 'message' event (parse, inflate
//   on the thread pool, UTF-8 check, a Buffer per message).
//
// Wall time, so the thread-pool round trips count. A first run compares every message with
// the original; then RUNS timed runs (default 5), medians printed.
//
// Heap, measured first (no other zlib stream alive): 1000 negotiated PerMessageDeflate pairs
// that each compressed and inflated one message each way; the growth of heapUsed + external
// (after gc()) plus the growth of Node's native zlib memory (zlib's own allocations, which
// memoryUsage() does not include: read from a V8 heap snapshot, nodes "Node / zlib_memory",
// "Node / ZlibContext", "Node / ZlibStream"), divided by 2000: one end. Sender and Receiver
// objects are not included. One JSON line per setting on stdout.

const fs = require('fs');
const path = require('path');
const v8 = require('v8');

const nodeDir = path.resolve(
  process.env.INTEROP_NODE_DIR || path.join(__dirname, '../../target/interop/node'),
);
const ws = (m) => require(path.join(nodeDir, 'node_modules/ws', m));
const PerMessageDeflate = ws('lib/permessage-deflate');
const Sender = ws('lib/sender');
const Receiver = ws('lib/receiver');
const { parse, format } = ws('lib/extension');
const wsVersion = ws('package.json').version;

const SETTINGS = [
  // `perMessageDeflate: true`: zlib's defaults (level -1, i.e. 6; memLevel 8; 15-bit window).
  ['default: level 6, 15-bit windows, memLevel 8', 6, {}],
  ['level 1, 15-bit windows, memLevel 8', 1, { zlibDeflateOptions: { level: 1 } }],
];
const MAX_PAYLOAD = 100 * 1024 * 1024; // WebSocket's default maxPayload

/** A server and a client PerMessageDeflate, negotiated the way WebSocketServer does it. */
function negotiate(options) {
  const server = new PerMessageDeflate({ ...options, isServer: true, maxPayload: MAX_PAYLOAD });
  const client = new PerMessageDeflate({ ...options, isServer: false, maxPayload: MAX_PAYLOAD });
  const offer = parse(format({ [PerMessageDeflate.extensionName]: client.offer() }));
  server.accept(offer[PerMessageDeflate.extensionName]);
  const answer = parse(format({ [PerMessageDeflate.extensionName]: server.params }));
  client.accept(answer[PerMessageDeflate.extensionName]);
  return { server, client };
}

function makePair(options) {
  const { server, client } = negotiate(options);
  const chunks = [];
  const socket = {
    cork() {},
    uncork() {},
    write(chunk, cb) {
      chunks.push(chunk);
      if (cb) cb();
      return true;
    },
  };
  const sender = new Sender(socket, { [PerMessageDeflate.extensionName]: server });
  const receiver = new Receiver({
    isServer: false,
    extensions: { [PerMessageDeflate.extensionName]: client },
    maxPayload: MAX_PAYLOAD,
  });
  return { sender, receiver, chunks };
}

async function run(options, corpus, verify) {
  const { sender, receiver, chunks } = makePair(options);
  let count = 0;
  let size = 0;
  let waiting = null; // { until, resolve }
  receiver.on('error', (err) => {
    throw err;
  });
  receiver.on('message', (data, isBinary) => {
    if (isBinary) throw new Error('binary message');
    if (verify && !data.equals(corpus[count])) throw new Error(`message ${count} differs`);
    count += 1;
    size += data.length;
    if (waiting && count === waiting.until) waiting.resolve();
  });
  const opts = { binary: false, compress: true, fin: true, mask: false };
  let wire = 0;
  let send = 0n;
  let receive = 0n;
  for (let i = 0; i < corpus.length; i += 100) {
    const batch = corpus.slice(i, i + 100);
    const t0 = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      batch.forEach((m, j) =>
        sender.send(m, opts, j === batch.length - 1 ? (e) => (e ? reject(e) : resolve()) : undefined),
      );
    });
    const out = Buffer.concat(chunks);
    chunks.length = 0;
    const t1 = process.hrtime.bigint();
    await new Promise((resolve) => {
      waiting = { until: i + batch.length, resolve };
      receiver.write(out);
    });
    const t2 = process.hrtime.bigint();
    send += t1 - t0;
    receive += t2 - t1;
    wire += out.length;
  }
  const total = corpus.reduce((n, m) => n + m.length, 0);
  if (count !== corpus.length || size !== total) throw new Error(`got ${count} / ${size}`);
  return { wire, send: Number(send) / 1e9, receive: Number(receive) / 1e9 };
}

const oneWay = (from, to, data) =>
  new Promise((resolve, reject) =>
    from.compress(data, true, (err, packed) => {
      if (err) return reject(err);
      to.decompress(packed, true, (err, unpacked) => {
        if (err) return reject(err);
        if (!unpacked.equals(data)) return reject(new Error('round trip differs'));
        resolve();
      });
    }),
  );

/** Bytes of native zlib memory (Node's own accounting, as shown in heap snapshots). */
async function zlibNative() {
  const chunks = [];
  for await (const c of v8.getHeapSnapshot()) chunks.push(c);
  const { snapshot, nodes, strings } = JSON.parse(Buffer.concat(chunks).toString());
  const fields = snapshot.meta.node_fields;
  const [name, size] = [fields.indexOf('name'), fields.indexOf('self_size')];
  let total = 0;
  for (let i = 0; i < nodes.length; i += fields.length) {
    if (/^Node \/ (zlib_memory|ZlibContext|ZlibStream)$/.test(strings[nodes[i + name]])) {
      total += nodes[i + size];
    }
  }
  return total;
}

async function heapPerEnd(options, corpus) {
  const N = 1000;
  const usage = () => {
    global.gc();
    global.gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const keep = [];
  const [js0, native0] = [usage(), await zlibNative()];
  for (let i = 0; i < N; i++) {
    const { server, client } = negotiate(options);
    await oneWay(client, server, corpus[0]);
    await oneWay(server, client, corpus[1]);
    keep.push(server, client);
  }
  const [js, native] = [usage() - js0, (await zlibNative()) - native0];
  for (const p of keep) p.cleanup();
  return { perEnd: Math.round((js + native) / (2 * N)), js: js / (2 * N), native: native / (2 * N) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  const text = fs.readFileSync(process.argv[2]);
  const runs = Number(process.argv[3] || 5);
  const corpus = [];
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf(0x0a, start);
    if (end < 0) throw new Error('corpus does not end with a newline');
    corpus.push(text.subarray(start, end));
    start = end + 1;
  }
  const total = corpus.reduce((n, m) => n + m.length, 0);
  for (const [config, level, options] of SETTINGS) {
    // First, while no other zlib stream is alive.
    const heap = await heapPerEnd(options, corpus);
    const { wire } = await run(options, corpus, true);
    const timed = [];
    for (let r = 0; r < runs; r++) timed.push(await run(options, corpus, false));
    if (!timed.every((t) => t.wire === wire)) throw new Error('wire size varies');
    console.log(
      JSON.stringify({
        impl: 'Node ws',
        version: `${wsVersion} (Node ${process.version}, zlib ${process.versions.zlib})`,
        config,
        level,
        messages: corpus.length,
        bytes: total,
        wire,
        runs,
        send_s: median(timed.map((t) => t.send)),
        receive_s: median(timed.map((t) => t.receive)),
        total_s: median(timed.map((t) => t.send + t.receive)),
        heap_per_conn: heap.perEnd,
        heap_js_heap_and_external: Math.round(heap.js),
        heap_zlib_native: Math.round(heap.native),
      }),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
