#!/usr/bin/env node
// Browser peer: Debian's Chromium, driven by playwright-core, against examples/echo-server.
//
//   node browser.mjs http://127.0.0.1:PORT SERVER_LOG SCREENSHOT_PNG
//   node browser.mjs https://127.0.0.1:PORT SERVER_LOG SCREENSHOT_PNG   (TLS: checks are
//                                             named browser-tls/..., the page uses wss://)
//
// Loads the echo page, types and sends messages through its form, does a 1 MiB binary round
// trip on a fresh `new WebSocket(...)`, closes the page's socket with 4000 "bye" (and, on a
// second load, with the Close button), checks the page and the server's log line, and saves
// a screenshot. Prints `PASS browser/<check>` / `FAIL browser/<check>: why`; exit 1 on any
// failure. Run with INTEROP_NODE_DIR=target/interop/node (run.sh does).

import { createRequire } from "node:module";
import { existsSync, readFileSync, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const require = createRequire(path.join(process.env.INTEROP_NODE_DIR ?? ".", "node_modules", "x.js"));
const { chromium } = require("playwright-core");

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = 30_000;
const [pageUrl, serverLog, screenshot] = process.argv.slice(2);
// Over https the server's certificate comes from a CA generated for this run: Chromium is
// told not to verify it.
const TLS = pageUrl?.startsWith("https:");
const LABEL = TLS ? "browser-tls" : "browser";
if (TLS) FLAGS.push("--ignore-certificate-errors");
if (!pageUrl || !serverLog || !screenshot) {
  console.error("usage: browser.mjs http://127.0.0.1:PORT SERVER_LOG SCREENSHOT_PNG");
  process.exit(2);
}

let failures = 0;
class CheckFailed extends Error {}
const expect = (cond, why) => { if (!cond) throw new CheckFailed(why); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function check(name, fn) {
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, rej) => { timer = setTimeout(() => rej(new CheckFailed(`timed out after ${TIMEOUT / 1000} s`)), TIMEOUT); })]);
    console.log(`PASS ${LABEL}/${name}`);
    return true;
  } catch (e) {
    failures++;
    console.log(`FAIL ${LABEL}/${name}: ${(e.message || String(e)).split("\n")[0]}`);
    return false;
  } finally { clearTimeout(timer); }
}

// Lines of the echo server's log matching `re` (one is printed per finished connection).
const logLines = (re) => (existsSync(serverLog) ? readFileSync(serverLog, "utf8").split("\n").filter((l) => re.test(l)) : []);
async function waitLogCount(re, n, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (logLines(re).length >= n) return true;
  return false;
}
const logTexts = (page) => page.$$eval("#log div", (divs) => divs.map((d) => d.textContent));

let context;
const userDataDir = mkdtempSync(path.join(tmpdir(), "ws-proto-chromium-"));
const ok = await check("launch-chromium", async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing (run tests/interop/setup.sh)`);
  // A persistent context is how playwright takes a --user-data-dir: a fresh one each run.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 20_000,
    viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: TLS,
  });
});
if (!ok) { rmSync(userDataDir, { recursive: true, force: true }); process.exit(1); }

const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(10_000);
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));

try {
  await check("page-loads-and-opens", async () => {
    const res = await page.goto(pageUrl + "/");
    expect(res && res.status() === 200, `GET / answered ${res && res.status()}`);
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "open");
    const url = await page.evaluate(() => window.ws.url);
    expect(url.startsWith(TLS ? "wss://" : "ws://"), `the page's WebSocket is ${url}`);
  });

  await check("type-send-echo", async () => {
    for (const text of ["hello from chromium", "héllo wörld ✓"]) {
      await page.fill("#text", text);
      await page.click("#send");
      await page.waitForFunction((t) => [...document.querySelectorAll("#log div.in")].some((d) => d.textContent === "echo: " + t), text);
      expect(await page.inputValue("#text") === "", "the input was not cleared after sending");
    }
    const log = await logTexts(page);
    expect(log.includes("sent: hello from chromium") && log.includes("echo: hello from chromium"), `log: ${JSON.stringify(log)}`);
  });

  await check("binary-1MiB-fresh-websocket", async () => {
    const before = logLines(/path=\/browser-binary .*close=4000\b/).length;
    const result = await page.evaluate(async () => {
      const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/browser-binary");
      ws.binaryType = "arraybuffer";
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("WebSocket error before open")); });
      const data = new Uint8Array(1 << 20);
      for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
      const echoed = new Promise((resolve) => { ws.onmessage = (e) => resolve(e.data); });
      ws.send(data);
      const got = new Uint8Array(await echoed);
      let same = got.length === data.length;
      for (let i = 0; same && i < got.length; i++) same = got[i] === data[i];
      const closed = new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
      ws.close(4000, "bye");
      return { same, length: got.length, extensions: ws.extensions, close: await closed };
    });
    expect(result.same, `sent 1048576 random bytes, got ${result.length} bytes that differ`);
    expect(result.close.code === 4000 && result.close.wasClean, `close event ${JSON.stringify(result.close)}, expected a clean 4000`);
    expect(await waitLogCount(/path=\/browser-binary .*close=4000\b/, before + 1), "no 'path=/browser-binary ... close=4000' line in the server log");
    console.log(`  (chromium negotiated extensions: ${JSON.stringify(result.extensions)})`);
  });

  await check("close-4000-page-and-server-log", async () => {
    const before = logLines(/path=\/ws .*close=4000\b/).length;
    await page.evaluate(() => window.ws.close(4000, "bye"));
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "closed");
    const log = await logTexts(page);
    expect(log.some((l) => /^closed: code 4000\b/.test(l)), `page log lacks "closed: code 4000": ${JSON.stringify(log.slice(-3))}`);
    expect(await waitLogCount(/path=\/ws .*close=4000\b/, before + 1), "no 'path=/ws ... close=4000' line in the server log");
  });

  await check("screenshot", async () => {
    mkdirSync(path.dirname(screenshot), { recursive: true });
    const png = await page.screenshot({ path: screenshot });
    expect(png.subarray(1, 4).toString() === "PNG" && png.length > 5000, `screenshot is ${png.length} bytes, not a PNG`);
  });

  await check("close-button", async () => {
    // A second load: the page's Close button closes with 1000 "bye".
    const before = logLines(/path=\/ws .*close=1000\b/).length;
    await page.reload();
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "open");
    await page.click("#close");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "closed");
    const log = await logTexts(page);
    expect(log.some((l) => /^closed: code 1000\b/.test(l)), `page log lacks "closed: code 1000": ${JSON.stringify(log.slice(-3))}`);
    expect(await waitLogCount(/path=\/ws .*close=1000\b/, before + 1), "no 'path=/ws ... close=1000' line in the server log");
  });

  await check("no-page-errors", async () => expect(pageErrors.length === 0, pageErrors.join("; ")));
} finally {
  await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
