//! Server push: a price ticker on blocking `std::net`, one thread per connection.
//!
//! ```sh
//! cargo run --release --example ticker                    # 127.0.0.1:9003
//! cargo run --release --example ticker -- --listen 0.0.0.0:9003
//! cargo run --example client -- ws://127.0.0.1:9003/ws      # Ctrl-D unsubscribes
//! ```
//!
//! - `GET /` without an Upgrade header serves a page with a live-updating price table.
//! - A WebSocket upgrade to `/ws` subscribes: every 200 ms the client receives one text
//!   message per symbol, `{"symbol":"ABC","price":101.23}`, for ABC, XYZ and QRS. Other
//!   paths get 404. What clients send is ignored (a Close ends the subscription).
//! - Prices follow a deterministic pseudo-random walk (xorshift64, fixed seed) indexed by
//!   the tick number since the server started, so every subscriber sees the same prices.
//!
//! What it shows: a connection that sends on its own schedule. The thread sleeps in
//! `read()` with a read timeout until the sooner of the next tick and the connection's
//! next deadline (`poll_timeout().map(Instant::from)`), then calls `handle_timeout(now)`. A subscriber
//! that stops reading fills the socket; the write timeout (10 s) then ends it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ws_proto::handshake::{HeadLimits, HeadParser, parse_request};
use ws_proto::{Accept, CloseCause, Config, Connection, Event, SendError, State};

const TICK: Duration = Duration::from_millis(200);
const SYMBOLS: [&str; 3] = ["ABC", "XYZ", "QRS"];

fn main() -> io::Result<()> {
    let mut listen = String::from("127.0.0.1:9003");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            _ => {
                eprintln!("usage: ticker [--listen ADDR:PORT]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&listen)?;
    let addr = listener.local_addr()?;
    println!("ticker listening on {addr} (open http://{addr}/ in a browser)");
    let market = Arc::new(Mutex::new(Market::new()));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let market = Arc::clone(&market);
        thread::spawn(move || {
            let peer = stream.peer_addr().ok();
            if let Err(e) = serve(stream, &market) {
                eprintln!("{}: io error: {e}", show(peer));
            }
        });
    }
    Ok(())
}

fn show(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "?".into(), |p| p.to_string())
}

/// The prices: a random walk in cents per symbol, one step per tick since `start`.
struct Market {
    start: Instant,
    tick: u64,
    rng: u64,
    cents: [u64; SYMBOLS.len()],
}

impl Market {
    fn new() -> Self {
        Market {
            start: Instant::now(),
            tick: 0,
            rng: 0x9E37_79B9_7F4A_7C15, // fixed seed: the same walk on every run
            cents: [10_000, 25_000, 4_200],
        }
    }

    /// Advances the walk to the current tick and returns the prices.
    fn prices(&mut self, now: Instant) -> [u64; SYMBOLS.len()] {
        let target = (now.saturating_duration_since(self.start).as_millis() / TICK.as_millis())
            .try_into()
            .unwrap_or(u64::MAX);
        while self.tick < target {
            self.tick += 1;
            for cents in &mut self.cents {
                // A step of -50..=+50 cents, never below 1.00.
                let step = (xorshift(&mut self.rng) % 101) as i64 - 50;
                *cents = cents.saturating_add_signed(step).max(100);
            }
        }
        self.cents
    }
}

/// xorshift64 (Marsaglia): a tiny deterministic generator, enough for fake prices.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Serves one TCP connection: the page for plain HTTP, the feed for WebSocket upgrades.
fn serve(mut stream: TcpStream, market: &Mutex<Market>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // A subscriber that stops reading cannot block a write for ever.
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let peer = stream.peer_addr().ok();

    // Read the request head first, to tell a page request from a WebSocket upgrade; the
    // bytes are handed to the connection unchanged afterwards.
    let Some(head) = read_head(&mut stream)? else {
        return Ok(()); // served the page, or the client went away
    };

    let mut conn = Connection::server(Config::default(), Instant::now());
    conn.handle_bytes(&head);
    let mut buf = Vec::new();
    let mut next_tick = Instant::now() + TICK;
    let mut ended = String::from("-");
    loop {
        while let Some(event) = conn.poll_event(&mut buf) {
            match event {
                Event::Request(request) => {
                    let _ = if request.path() == "/ws" {
                        conn.accept(&Accept::default())
                    } else {
                        conn.respond(404, &[], b"subscribe at /ws\n")
                    };
                }
                Event::Closed(closed) => match closed.cause {
                    CloseCause::ProtocolError(error) => {
                        ended = format!("{} ({error})", closed.code)
                    }
                    _ => ended = closed.code.to_string(),
                },
                _ => {} // messages from the client are not needed here
            }
        }

        let now = Instant::now();
        if now >= next_tick {
            if conn.state() == State::Open {
                publish(&mut conn, market, now);
            }
            // After a stall (a slow write), skip the missed ticks rather than burst.
            next_tick = (next_tick + TICK).max(now + TICK / 2);
        }

        flush(&mut conn, &mut stream)?;
        if conn.should_close_transport() {
            break;
        }
        // Sleep in read() until data arrives, the next tick, or the next deadline.
        let wake = conn
            .poll_timeout()
            .map(Instant::from)
            .map_or(next_tick, |d| d.min(next_tick));
        let timeout = wake
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(timeout))?;
        let mut rb = conn.read_buf();
        match stream.read(&mut rb) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => rb.commit(n),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
        conn.handle_timeout(Instant::now());
    }
    println!("{} subscription ended: close={ended}", show(peer));
    Ok(())
}

/// Queues this tick's update for every symbol.
fn publish(conn: &mut Connection, market: &Mutex<Market>, now: Instant) {
    let prices = market
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .prices(now);
    for (symbol, cents) in SYMBOLS.iter().zip(prices) {
        let update = format!(
            r#"{{"symbol":"{symbol}","price":{}.{:02}}}"#,
            cents / 100,
            cents % 100
        );
        match conn.send_text(&update) {
            // The queue is written out every tick, so it never reaches the 64 MiB limit;
            // if it did, dropping a stale price would be the right answer.
            Ok(()) | Err(SendError::Backpressure) => {}
            Err(e) => eprintln!("send: {e}"),
        }
    }
}

/// Reads the request head. Serves the page and returns `None` for plain HTTP; returns
/// the bytes read for anything else (a malformed head is answered by the connection).
fn read_head(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    // The whole head must arrive within 10 s, like the handshake.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut head = Vec::new();
    let mut parser = HeadParser::new(HeadLimits::default());
    let mut chunk = [0u8; 4096];
    loop {
        match parser.advance(&head) {
            Ok(Some(len)) => {
                if parse_request(&head[..len]).is_ok_and(|r| !r.is_upgrade()) {
                    serve_page(stream, &head[..len])?;
                    return Ok(None);
                }
                return Ok(Some(head));
            }
            Ok(None) => {}
            Err(_) => return Ok(Some(head)),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
    }
}

/// Writes everything the connection has queued.
fn flush(conn: &mut Connection, stream: &mut TcpStream) -> io::Result<()> {
    loop {
        let out = conn.poll_transmit();
        if out.is_empty() {
            return stream.flush();
        }
        let n = stream.write(&out)?;
        out.advance(n);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Answers a plain HTTP request: the page at `/`, 404 elsewhere.
fn serve_page(stream: &mut TcpStream, head: &[u8]) -> io::Result<()> {
    let is_root = head.starts_with(b"GET / ") || head.starts_with(b"GET /index.html ");
    let (status, kind, body) = if is_root {
        ("200 OK", "text/html; charset=utf-8", PAGE)
    } else {
        ("404 Not Found", "text/plain; charset=utf-8", "not found\n")
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ws-proto ticker</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 30rem; margin: 2rem auto; padding: 0 1rem; }
  table { border-collapse: collapse; width: 100%; }
  td, th { padding: .3rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
  td.price { font-family: ui-monospace, monospace; text-align: right; }
  .up { color: #070; } .down { color: #b00; }
</style>
</head>
<body>
<h1>ws-proto ticker</h1>
<p>Status: <b id="status">connecting</b> &middot; updates: <span id="count">0</span></p>
<table><thead><tr><th>Symbol</th><th style="text-align:right">Price</th></tr></thead>
<tbody id="rows"></tbody></table>
<script>
const rows = {};
let count = 0;
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.onopen = () => { document.getElementById("status").textContent = "live"; };
ws.onmessage = (e) => {
  const { symbol, price } = JSON.parse(e.data);
  let row = rows[symbol];
  if (!row) {
    row = rows[symbol] = document.createElement("tr");
    row.innerHTML = "<td></td><td class=price></td>";
    row.cells[0].textContent = symbol;
    document.getElementById("rows").appendChild(row);
  }
  const cell = row.cells[1], old = parseFloat(cell.textContent);
  cell.textContent = price.toFixed(2);
  cell.className = "price " + (price > old ? "up" : price < old ? "down" : "");
  document.getElementById("count").textContent = ++count;
};
ws.onclose = (e) => {
  document.getElementById("status").textContent = "closed (code " + e.code + ")";
};
</script>
</body>
</html>
"#;
