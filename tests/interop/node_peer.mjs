#!/usr/bin/env node
// Node peer (the `ws` library) for ws-proto's interop tests.
//
// Modes:
//   echo URL [--server-log FILE]  client checks against examples/echo-server at ws://HOST:PORT
//   tls-echo URL CA_FILE [--server-log FILE]
//                                 wss:// checks against examples/echo-server run with
//                                 --tls-cert/--tls-key, trusting the CA in CA_FILE (`ca` option)
//   chat URL                      client checks against examples/chat at ws://HOST:PORT
//   client-example CLIENT_BIN     runs an echo server here and examples/client against it
//   serve [--port N]              just the echo server (with subprotocol selection), manual use
//
// Every check prints `PASS node/<mode>/<check>` or `FAIL node/<mode>/<check>: why`; the exit
// status is 1 if any check failed. Every wait is bounded. Only 127.0.0.1 is ever used.
// Run with INTEROP_NODE_DIR=target/interop/node (run.sh does): `ws` is loaded from there.

import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, accessSync, constants } from "node:fs";
import path from "node:path";

// `ws` lives in target/interop/node (installed by setup.sh), not next to this file.
const require = createRequire(path.join(process.env.INTEROP_NODE_DIR ?? ".", "node_modules", "x.js"));
const { WebSocket, WebSocketServer } = require("ws");

const TIMEOUT = 30_000; // ms, for any single check
const KNOWN_SUBPROTOCOLS = ["chat", "superchat"]; // as in examples/echo-server.rs
let failures = 0;

class CheckFailed extends Error {}
const expect = (cond, why) => { if (!cond) throw new CheckFailed(why); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const short = (v, limit = 80) => {
  const s = typeof v === "string" ? JSON.stringify(v)
    : Buffer.isBuffer(v) ? `<${v.length} bytes ${v.subarray(0, 16).toString("hex")}...>` : JSON.stringify(v);
  return s.length <= limit ? s : `${s.slice(0, limit)}... (${v.length} long)`;
};
const withTimeout = (promise, ms, what) => {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new CheckFailed(`timed out after ${ms / 1000} s: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
};

async function check(mode, name, fn) {
  try {
    await withTimeout(fn(), TIMEOUT, name);
    console.log(`PASS node/${mode}/${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL node/${mode}/${name}: ${e instanceof CheckFailed ? e.message : `${e.name}: ${e.message}`}`);
  }
}

// A client connection with a queue of received messages and a promise of its close.
class Peer {
  constructor(url, protocols = [], options = {}) {
    this.ws = new WebSocket(url, protocols, { maxPayload: 64 << 20, ...options });
    this.queue = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => this.ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of this.waiters.splice(0)) w.reject(new CheckFailed(`connection closed (code ${code}) while waiting for a message`));
    }));
    this.ws.on("message", (data, isBinary) => {
      const msg = isBinary ? Buffer.from(data) : data.toString("utf8");
      const w = this.waiters.shift();
      if (w) w.resolve(msg); else this.queue.push(msg);
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.on("open", resolve);
      this.ws.on("error", reject);
      this.ws.on("unexpected-response", (_req, res) => reject(Object.assign(new CheckFailed(`handshake refused: HTTP ${res.statusCode}`), { status: res.statusCode })));
    });
    this.ws.on("upgrade", (res) => { this.response = res; }); // the 101 response
    this.ws.on("error", () => {}); // reported through `opened` / `closed`
  }
  static async open(...args) { const p = new Peer(...args); await withTimeout(p.opened, 10_000, "opening handshake"); return p; }
  next(ms = 10_000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return withTimeout(new Promise((resolve, reject) => this.waiters.push({ resolve, reject })), ms, "a message");
  }
  async close(code, reason) { this.ws.close(code, reason); return withTimeout(this.closed, 10_000, "the closing handshake"); }
}

const same = (a, b) => (Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b);

// Waits for a line of the server's log matching `re`.
async function waitLogLine(file, re, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    if (file && existsSync(file)) {
      const line = readFileSync(file, "utf8").split("\n").find((l) => re.test(l));
      if (line) return line;
    }
  }
  return null;
}

// A client frame built by hand (FIN set, masked), for what the library won't send.
function rawMaskedFrame(opcode, payload) {
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), key, masked]);
}

// A client frame header (FIN, masked, 64-bit length) and its first payload bytes.
function rawMaskedHeader(opcode, length, firstBytes) {
  const key = randomBytes(4);
  const head = Buffer.alloc(10);
  head[0] = 0x80 | opcode; head[1] = 0x80 | 127;
  head.writeBigUInt64BE(BigInt(length), 2);
  return Buffer.concat([head, key, Buffer.from(firstBytes.map((b, i) => b ^ key[i % 4]))]);
}

// ---------------------------------------------------------------------------------------
// Client checks against examples/echo-server
// ---------------------------------------------------------------------------------------
async function runEcho(base, serverLog) {
  const mode = "echo";
  const roundtrip = async (p, messages, options) => {
    const peer = await Peer.open(base + p, [], options);
    for (const msg of messages) {
      peer.ws.send(msg, { binary: Buffer.isBuffer(msg) });
      const got = await peer.next();
      expect(typeof got === typeof msg, `sent ${typeof msg}, got ${typeof got}`);
      expect(same(got, msg), `sent ${short(msg)}, got ${short(got)}`);
    }
    const { code } = await peer.close(1000);
    expect(code === 1000, `close reply ${code}`);
  };

  await check(mode, "text", () => roundtrip("/node/text", ["hello, ws-proto", "héllo wörld ✓ 🦀"]));
  await check(mode, "binary", () => roundtrip("/node/binary", [Buffer.from([...Array(256).keys()]), Buffer.alloc(20, 0xff)]));
  await check(mode, "empty-text-and-binary", () => roundtrip("/node/empty", ["", Buffer.alloc(0)]));
  for (const n of [125, 126, 65535, 65536, 1 << 20]) {
    await check(mode, `size-${n}`, () => roundtrip(`/node/size-${n}`, ["t".repeat(n), randomBytes(n)]));
  }

  await check(mode, "fragmented", async () => {
    // `fin: false` sends a fragment; the echo is one whole message.
    const peer = await Peer.open(base + "/node/fragmented");
    peer.ws.send("frag-1 ", { fin: false });
    // A control frame between two fragments must be answered there (RFC 6455 §5.4).
    const pong = new Promise((resolve) => peer.ws.once("pong", resolve));
    peer.ws.ping("mid-message");
    expect((await withTimeout(pong, 5000, "the pong to a ping between fragments")).toString() === "mid-message", "wrong pong payload");
    peer.ws.send("frag-2 ", { fin: false });
    peer.ws.send("ü-3", { fin: true });
    let got = await peer.next();
    expect(got === "frag-1 frag-2 ü-3", `sent 3 text fragments, got ${short(got)}`);
    peer.ws.send(Buffer.alloc(1000, 1), { binary: true, fin: false });
    peer.ws.send(Buffer.alloc(70000, 2), { binary: true, fin: true });
    got = await peer.next();
    expect(same(got, Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(70000, 2)])), `sent 2 binary fragments, got ${short(got)}`);
    await peer.close(1000);
  });

  await check(mode, "ping-pong", async () => {
    const peer = await Peer.open(base + "/node/ping");
    for (const payload of [Buffer.from("ping-payload"), Buffer.alloc(0), randomBytes(125)]) {
      const pong = new Promise((resolve) => peer.ws.once("pong", resolve));
      peer.ws.ping(payload);
      const got = await withTimeout(pong, 5000, "a pong");
      expect(got.equals(payload), `ping ${short(payload)} answered with pong ${short(got)}`);
    }
    peer.ws.send("after ping");
    expect((await peer.next()) === "after ping", "no echo after pings");
    await peer.close(1000);
  });

  const subprotocol = async (offer, want) => {
    const peer = await Peer.open(base + "/node/subprotocol", offer);
    // ws reports "" when no subprotocol was agreed.
    expect(peer.ws.protocol === want, `offered ${JSON.stringify(offer)}, server picked ${JSON.stringify(peer.ws.protocol)}, expected ${JSON.stringify(want)}`);
    await peer.close(1000);
  };
  await check(mode, "subprotocol-superchat", () => subprotocol(["x", "superchat", "chat"], "superchat"));
  await check(mode, "subprotocol-none-offered", () => subprotocol([], ""));
  await check(mode, "subprotocol-none-known", async () => {
    // The server must answer without Sec-WebSocket-Protocol; `ws` (unlike browsers) then
    // fails the handshake itself, which is how we see the server chose none.
    const peer = new Peer(base + "/node/subprotocol-none-known", ["x", "y"]);
    const err = await withTimeout(peer.opened.then(() => null, (e) => e), 10_000, "the handshake");
    if (!err) peer.ws.terminate();
    expect(err && /Server sent no subprotocol/.test(err.message),
      err ? `unexpected handshake error: ${err.message}` : `server picked ${JSON.stringify(peer.ws.protocol)}, expected none`);
  });

  const deflate = async (perMessageDeflate, wantExt) => {
    // ws offers permessage-deflate by default; the echo server's default Config accepts it.
    const peer = await Peer.open(base + "/node/deflate", [], { perMessageDeflate });
    const ext = peer.ws.extensions;
    expect(wantExt ? ext.startsWith("permessage-deflate") : ext === "", `server answered extensions ${JSON.stringify(ext)}`);
    for (const msg of ["plain", "compressible ".repeat(20000), randomBytes(1 << 20), Buffer.alloc(1 << 20)]) {
      peer.ws.send(msg, { binary: Buffer.isBuffer(msg) });
      const got = await peer.next();
      expect(same(got, msg), `sent ${short(msg)}, got ${short(got)}`);
    }
    await peer.close(1000);
  };
  await check(mode, "permessage-deflate", () => deflate(true, true));
  await check(mode, "no-compression", () => deflate(false, false));

  await check(mode, "permessage-deflate-all-params", async () => {
    // Every RFC 7692 parameter offered: small windows, no context takeover either way.
    const peer = await Peer.open(base + "/node/deflate-params", [], { perMessageDeflate: {
      serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 10 } });
    // ws.extensions only names the extensions: read the parameters from the response.
    const ext = peer.response.headers["sec-websocket-extensions"] ?? "";
    for (const param of ["server_no_context_takeover", "server_max_window_bits=10"]) {
      expect(ext.includes(param), `negotiated ${JSON.stringify(ext)} lacks ${param}`);
    }
    for (const msg of ["repeat me ".repeat(5000), "repeat me ".repeat(5000), randomBytes(100000), "short"]) {
      peer.ws.send(msg, { binary: Buffer.isBuffer(msg) });
      const got = await peer.next();
      expect(same(got, msg), `sent ${short(msg)}, got ${short(got)}`);
    }
    await peer.close(1000);
  });

  await check(mode, "pipelined-1000", async () => {
    // 1000 messages sent without waiting; the echoes come back complete and in order.
    const peer = await Peer.open(base + "/node/pipelined");
    const msgs = Array.from({ length: 1000 }, (_, i) => `msg ${i} ` + "p".repeat(i % 300));
    for (const m of msgs) peer.ws.send(m);
    for (const [i, m] of msgs.entries()) {
      const got = await peer.next();
      expect(got === m, `echo #${i}: expected ${short(m)}, got ${short(got)}`);
    }
    await peer.close(1000);
  });

  await check(mode, "too-big-header-closes-1009", async () => {
    // A frame header announcing 16 MiB + 1 bytes (over the default message limit) and a few
    // payload bytes: the server must fail the connection with Close 1009 at once.
    const peer = await Peer.open(base + "/node/too-big", [], { perMessageDeflate: false });
    peer.ws._socket.write(rawMaskedHeader(0x2, (16 << 20) + 1, Buffer.alloc(1000, 7)));
    const { code } = await withTimeout(peer.closed, 20_000, "the server's Close");
    expect(code === 1009, `server sent Close ${code}, expected 1009 (1006 = no Close frame)`);
  });

  await check(mode, "deflate-bomb-closes-1009", async () => {
    // 17 MiB of zeros deflate to about 17 KiB: the limit must hold while inflating.
    const peer = await Peer.open(base + "/node/deflate-bomb", [], { perMessageDeflate: true });
    peer.ws.send(Buffer.alloc(17 << 20), { binary: true });
    const { code } = await withTimeout(peer.closed, 20_000, "the server's Close");
    expect(code === 1009, `server sent Close ${code}, expected 1009 (1006 = no Close frame)`);
  });

  // The whole 16 MiB + 1 frame is sent: the server fails at the header, and must still
  // deliver its Close 1009 although the rest of the frame is unread (the example does a
  // lingering close: shut down writing, drain input, then close; see echo-server.rs).
  await check(mode, "too-big-full-send-closes-1009", async () => {
    const peer = await Peer.open(base + "/node/too-big-full", [], { perMessageDeflate: false });
    peer.ws.send(randomBytes((16 << 20) + 1), { binary: true });
    const { code } = await withTimeout(peer.closed, 20_000, "the server's Close");
    expect(code === 1009, `server sent Close ${code}, expected 1009 (1006 = no Close frame)`);
  });

  await check(mode, "close-4000-by-peer", async () => {
    const peer = await Peer.open(base + "/node/close-4000");
    peer.ws.send("before close");
    await peer.next();
    const { code } = await peer.close(4000, "bye"); // resolves when TCP is closed too
    expect(code === 4000, `server replied Close ${code}, expected 4000 echoed (1006 = no Close frame)`);
    const line = await waitLogLine(serverLog, /path=\/node\/close-4000 .*close=4000\b/);
    expect(line, `no 'path=/node/close-4000 ... close=4000' line in ${serverLog}`);
  });

  await check(mode, "server-initiated-close-1007", async () => {
    // A text frame that is not UTF-8, written raw: the server must start the close (1007).
    const peer = await Peer.open(base + "/node/bad-utf8");
    peer.ws._socket.write(rawMaskedFrame(0x1, [...Buffer.from("ok "), 0xff]));
    const { code } = await withTimeout(peer.closed, 10_000, "the server's Close");
    expect(code === 1007, `server sent Close ${code}, expected 1007 (1006 = no Close frame)`);
    const line = await waitLogLine(serverLog, /path=\/node\/bad-utf8 .*close=1007/);
    expect(line, `no 'path=/node/bad-utf8 ... close=1007' line in ${serverLog}`);
  });
}

// ---------------------------------------------------------------------------------------
// Client checks against examples/chat
// ---------------------------------------------------------------------------------------
const isJoin = (m) => typeof m === "string" && m.startsWith("* ") && m.endsWith(" joined");

// The next chat line, skipping `* X joined` lines (a joiner may see its own).
// wss:// against echo-server, its certificate signed by the CA in `caFile`.
async function runTlsEcho(base, caFile, serverLog) {
  const mode = "tls-echo";
  const ca = readFileSync(caFile);
  await check(mode, "echo-1MiB-subprotocol-close-4000", async () => {
    const peer = await Peer.open(base + "/node/tls", ["chat"], { ca });
    expect(peer.ws.protocol === "chat", `subprotocol ${peer.ws.protocol}`);
    for (const msg of ["hello over TLS", "héllo ✓", randomBytes(1 << 20), Buffer.alloc(0)]) {
      peer.ws.send(msg, { binary: Buffer.isBuffer(msg) });
      const got = await peer.next();
      expect(same(got, msg), `sent ${short(msg)}, got ${short(got)}`);
    }
    const { code } = await peer.close(4000, "tls bye");
    expect(code === 4000, `close reply ${code}`);
    expect(await waitLogLine(serverLog, /path=\/node\/tls subprotocol=chat close=4000\b/),
      "no 'path=/node/tls subprotocol=chat close=4000' line in the server log");
  });
  await check(mode, "permessage-deflate", async () => {
    const peer = await Peer.open(base + "/node/tls-deflate", [], { ca, perMessageDeflate: true });
    const ext = peer.response?.headers["sec-websocket-extensions"] ?? "";
    expect(ext.includes("permessage-deflate"), `extensions ${JSON.stringify(ext)}`);
    const msg = "compressible ".repeat(5000);
    peer.ws.send(msg);
    expect(same(await peer.next(), msg), "compressed echo differs");
    await peer.close(1000);
  });
  await check(mode, "untrusted-certificate-refused-server-goes-on", async () => {
    // Without the `ca` option the run's CA is unknown: the TLS handshake fails...
    let refused = null;
    try { const p = await Peer.open(base + "/node/tls-untrusted"); await p.close(1000); } catch (e) { refused = e; }
    expect(refused && /certificate/i.test(`${refused.code} ${refused.message}`), `expected a certificate error, got ${refused}`);
    // ...and the server goes on serving.
    const peer = await Peer.open(base + "/node/tls-after", [], { ca });
    peer.ws.send("still here");
    expect(await peer.next() === "still here", "no echo after a failed TLS handshake");
    await peer.close(1000);
  });
}

async function expectLine(peer, who, want) {
  let got = await peer.next();
  while (isJoin(got) && got !== want) got = await peer.next();
  expect(got === want, `${who} expected ${JSON.stringify(want)}, got ${short(got)}`);
}

async function runChat(base) {
  const mode = "chat";
  const [a, b, c] = ["node-alice", "node-bob", "node-carol"];

  await check(mode, "broadcast-join-leave", async () => {
    const pa = await Peer.open(`${base}/chat/${a}`);
    const pb = await Peer.open(`${base}/chat/${b}`);
    await expectLine(pa, a, `* ${b} joined`);
    const pc = await Peer.open(`${base}/chat/${c}`);
    await expectLine(pa, a, `* ${c} joined`);
    await expectLine(pb, b, `* ${c} joined`);
    // A message reaches the two others, prefixed with the sender's name.
    pa.ws.send("hi from alice");
    await expectLine(pb, b, `${a}: hi from alice`);
    await expectLine(pc, c, `${a}: hi from alice`);
    pb.ws.send("héllo ✓");
    // Alice's next line is Bob's: she was not sent her own message back.
    await expectLine(pa, a, `${b}: héllo ✓`);
    await expectLine(pc, c, `${b}: héllo ✓`);
    const { code } = await pc.close(1000);
    expect(code === 1000, `carol's close reply ${code}`);
    await expectLine(pa, a, `* ${c} left`);
    await expectLine(pb, b, `* ${c} left`);
    await pa.close(1000);
    await expectLine(pb, b, `* ${a} left`);
    await pb.close(1000);
  });

  await check(mode, "binary-refused-1003", async () => {
    // The chat refuses binary messages: a server-initiated Close 1003.
    const pa = await Peer.open(`${base}/chat/${a}`);
    const pb = await Peer.open(`${base}/chat/${b}`);
    await expectLine(pa, a, `* ${b} joined`);
    pa.ws.send(Buffer.from([1, 2]), { binary: true });
    const { code } = await withTimeout(pa.closed, 10_000, "the server's Close");
    expect(code === 1003, `server sent Close ${code}, expected 1003`);
    await expectLine(pb, b, `* ${a} left`);
    await pb.close(1000);
  });

  await check(mode, "abrupt-disconnect-announced", async () => {
    // A client that drops TCP without a Close still leaves the room, and it is announced.
    const pa = await Peer.open(`${base}/chat/${a}`);
    const pb = await Peer.open(`${base}/chat/${b}`);
    await expectLine(pa, a, `* ${b} joined`);
    pb.ws.terminate();
    await expectLine(pa, a, `* ${b} left`);
    await pa.close(1000);
  });

  const status = async (p, want) => {
    try {
      const peer = await Peer.open(base + p);
      await peer.close(1000);
    } catch (e) {
      expect(e.status === want, `GET ${p}: ${e.message}, expected HTTP ${want}`);
      return;
    }
    throw new CheckFailed(`GET ${p}: the handshake succeeded, expected HTTP ${want}`);
  };
  await check(mode, "duplicate-name-409", async () => {
    const pa = await Peer.open(`${base}/chat/${a}`);
    await status(`/chat/${a}`, 409);
    await pa.close(1000);
  });
  await check(mode, "bad-name-400", () => status("/chat/bad%20name!", 400));
  await check(mode, "other-path-404", () => status("/nope", 404));
}

// ---------------------------------------------------------------------------------------
// An echo server here, examples/client connecting to it
// ---------------------------------------------------------------------------------------
// Echoes messages and records, per path, what each connection saw.
function startEchoServer(port = 0) {
  const seen = new Map();
  const record = (p) => {
    if (!seen.has(p)) {
      let done;
      seen.set(p, { messages: [], done: new Promise((r) => { done = r; }), finish: null });
      seen.get(p).finish = done;
    }
    return seen.get(p);
  };
  const wss = new WebSocketServer({
    host: "127.0.0.1", port, maxPayload: 64 << 20,
    // The first offered subprotocol this server knows (as examples/echo-server does).
    handleProtocols: (offered) => [...offered].find((p) => KNOWN_SUBPROTOCOLS.includes(p)) ?? false,
  });
  wss.on("connection", (ws, req) => {
    const rec = record(req.url);
    rec.subprotocol = ws.protocol;
    rec.headers = req.headers;
    let weClosed = false;
    ws.on("message", (data, isBinary) => {
      const msg = isBinary ? Buffer.from(data) : data.toString("utf8");
      rec.messages.push(msg);
      ws.send(msg, { binary: isBinary });
      if (msg === "please close") { weClosed = true; ws.close(4001, "server bye"); } // the server starts the close
    });
    ws.on("close", (code) => { rec.closeCode = code; rec.clientStartedClose = !weClosed; rec.finish(); });
    ws.on("error", () => {});
  });
  const listening = new Promise((resolve) => wss.on("listening", () => resolve(wss.address().port)));
  return { wss, listening, finished: (p) => withTimeout(record(p).done, 10_000, `the server side of ${p} to end`).then(() => seen.get(p)) };
}

async function runClientExample(clientBin) {
  const mode = "client-example";
  const server = startEchoServer();
  const url = `ws://127.0.0.1:${await server.listening}`;

  // Runs the client; returns helpers to feed stdin and read its stdout lines.
  const run = (p, args) => {
    try { accessSync(clientBin, constants.X_OK); } catch { throw new CheckFailed(`${clientBin} is missing or not executable`); }
    const proc = spawn(clientBin, [url + p, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    const out = { lines: [], partial: "", err: "", waiters: [] };
    proc.stdout.on("data", (d) => {
      const parts = (out.partial + d.toString("utf8")).split("\n");
      out.partial = parts.pop();
      out.lines.push(...parts);
      out.waiters.forEach((w) => w());
    });
    proc.stderr.on("data", (d) => { out.err += d.toString("utf8"); });
    const exited = new Promise((resolve) => proc.on("close", (code) => { out.waiters.forEach((w) => w()); resolve(code); }));
    const waitLines = async (n, ms) => {
      const end = Date.now() + ms;
      while (out.lines.length < n && proc.exitCode === null && Date.now() < end) {
        await new Promise((r) => { out.waiters.push(r); setTimeout(r, 100); });
      }
    };
    return { proc, out, exited, waitLines };
  };

  const linesThenEof = async (p, lines, args, wantSubprotocol) => {
    // Like a person typing: the lines, wait for their echoes, then EOF (Ctrl-D). (Closing stdin
    // at once would race the echoes: the peer stops sending data once it has our Close.)
    const { proc, out, exited, waitLines } = run(p, args);
    proc.stdin.write(lines.map((l) => l + "\n").join(""));
    await waitLines(lines.length, 10_000);
    proc.stdin.end();
    let code;
    try { code = await withTimeout(exited, 20_000, "the client to exit after stdin EOF"); } catch (e) { proc.kill(); throw e; }
    const ctx = `(stderr: ${JSON.stringify(out.err.trim().slice(0, 300))})`;
    expect(code === 0, `client exit status ${code} ${ctx}`);
    expect(out.err.includes(`connected (subprotocol: ${wantSubprotocol || "none"})`), `stderr lacks 'connected (subprotocol: ${wantSubprotocol || "none"})' ${ctx}`);
    expect(JSON.stringify(out.lines) === JSON.stringify(lines) && out.partial === "",
      `client printed ${short(out.lines, 200)}, expected the echoes ${short(lines, 200)}`);
    const rec = await server.finished(p);
    expect(JSON.stringify(rec.messages) === JSON.stringify(lines), `server received ${short(rec.messages, 200)}, expected ${short(lines, 200)}`);
    expect(rec.subprotocol === (wantSubprotocol ?? ""), `server-side subprotocol ${JSON.stringify(rec.subprotocol)}`);
    expect(rec.closeCode === 1000, `server received Close ${rec.closeCode}, expected 1000`);
    expect(rec.clientStartedClose, "the client did not start the close");
    return rec;
  };

  await check(mode, "lines-echo-subprotocol-close-1000", async () => {
    const lines = ["hello from node's server", "", "ünïcode ✓ 🦀", "x".repeat(70000), "last line"];
    const args = ["--subprotocol", "x", "--subprotocol", "superchat", "--subprotocol", "chat", "--header", "X-Interop: node-peer"];
    const rec = await linesThenEof("/node/client-1", lines, args, "superchat");
    expect(rec.headers["x-interop"] === "node-peer", `--header 'X-Interop: node-peer' arrived as ${JSON.stringify(rec.headers["x-interop"])}`);
  });
  await check(mode, "no-subprotocol", () => linesThenEof("/node/client-2", ["one", "two"], [], null));

  await check(mode, "server-initiated-close-4001", async () => {
    // stdin stays open: the close comes from the server (4001) and the client must exit 0.
    const { proc, out, exited } = run("/node/client-3", []);
    proc.stdin.write("before close\nplease close\n");
    let code;
    try { code = await withTimeout(exited, 20_000, "the client to exit after the server's Close 4001"); } catch (e) { proc.kill(); throw e; }
    proc.stdin.destroy();
    const ctx = `(stderr: ${JSON.stringify(out.err.trim().slice(0, 300))})`;
    expect(code === 0, `client exit status ${code} ${ctx}`);
    expect(JSON.stringify(out.lines) === JSON.stringify(["before close", "please close"]), `client printed ${short(out.lines)}`);
    expect(out.err.includes("closed: 4001"), `stderr lacks 'closed: 4001' ${ctx}`);
    const rec = await server.finished("/node/client-3");
    expect(rec.closeCode === 4001, `client's Close reply ${rec.closeCode}, expected 4001 echoed`);
  });
  await new Promise((r) => server.wss.close(r));
}

// ---------------------------------------------------------------------------------------
const [modeArg, arg, ...rest] = process.argv.slice(2);
if (modeArg === "echo" && arg) {
  const i = rest.indexOf("--server-log");
  await runEcho(arg, i >= 0 ? rest[i + 1] : null);
} else if (modeArg === "tls-echo" && arg && rest[0]) {
  const i = rest.indexOf("--server-log");
  await runTlsEcho(arg, rest[0], i >= 0 ? rest[i + 1] : null);
} else if (modeArg === "chat" && arg) {
  await runChat(arg);
} else if (modeArg === "client-example" && arg) {
  await runClientExample(arg);
} else if (modeArg === "serve") {
  const server = startEchoServer(arg === "--port" ? Number(rest[0]) : 0);
  console.log(`node echo server listening on 127.0.0.1:${await server.listening}`);
  await new Promise(() => {});
} else {
  console.error("usage: node_peer.mjs echo URL [--server-log FILE] | tls-echo URL CA_FILE [--server-log FILE] | chat URL | client-example CLIENT_BIN | serve [--port N]");
  process.exit(2);
}
process.exit(failures ? 1 : 0);
