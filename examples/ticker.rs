//! Server push on the tokio driver: a price ticker, one task per subscriber.
//!
//! ```sh
//! cargo run --release --example ticker                    # 127.0.0.1:9003
//! cargo run --release --example ticker -- --listen 0.0.0.0:9003
//! cargo run --example client -- ws://127.0.0.1:9003/ws      # Ctrl-D unsubscribes
//! ```
//!
//! - `GET /` serves a page with a live-updating price table (same port).
//! - A WebSocket upgrade to `/ws` subscribes: every 200 ms the client receives one text
//!   message per symbol, `{"symbol":"ABC","price":101.23}`, for ABC, XYZ and QRS. Other
//!   paths get 404. What clients send is ignored (a Close ends the subscription).
//! - Prices follow a deterministic pseudo-random walk (xorshift64, fixed seed), computed
//!   once per tick by one task and broadcast to every subscriber as cloned `Message`s (the
//!   payload is shared, not copied). A subscriber too slow to keep up skips to the newest
//!   prices instead of queueing old ones.

use std::io;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::broadcast;
use ws_proto_io::Message;
use ws_proto_io::tokio::{Answer, accept_with};
use ws_proto_io::ws_proto::Config;

const TICK: Duration = Duration::from_millis(200);
const SYMBOLS: [&str; 3] = ["ABC", "XYZ", "QRS"];

#[tokio::main]
async fn main() -> io::Result<()> {
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
    let listener = TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    println!("ticker listening on {addr} (open http://{addr}/ in a browser)");
    let (ticks, _) = broadcast::channel::<Message>(4 * SYMBOLS.len());
    let sender = ticks.clone();
    tokio::spawn(async move {
        let mut market = Market::new();
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            for (symbol, cents) in SYMBOLS.iter().zip(market.prices(Instant::now())) {
                let line = format!(
                    r#"{{"symbol":"{symbol}","price":{}.{:02}}}"#,
                    cents / 100,
                    cents % 100
                );
                let _ = sender.send(Message::text(line)); // no subscriber: nobody to tell
            }
        }
    });
    loop {
        let (tcp, peer) = listener.accept().await?;
        let mut ticks = ticks.subscribe();
        tokio::spawn(async move {
            let answer = |request: &ws_proto_io::ws_proto::Request| match request.path() {
                "/ws" if request.is_upgrade() => Answer::accept(),
                "/" | "/index.html" if !request.is_upgrade() => Answer::html(200, PAGE),
                _ => Answer::text(404, "not found: subscribe at /ws\n"),
            };
            let Ok(mut ws) = accept_with(tcp, Config::default(), answer).await else {
                return;
            };
            println!("{peer} subscribed");
            loop {
                tokio::select! {
                    tick = ticks.recv() => match tick {
                        Ok(message) => if ws.send(message).await.is_err() { break },
                        Err(broadcast::error::RecvError::Lagged(_)) => {} // newer prices follow
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    message = ws.next() => if !matches!(message, Some(Ok(Message::Text(_) | Message::Binary(_) | Message::Ping(_) | Message::Pong(_)))) { break },
                }
            }
            println!("{peer} unsubscribed");
        });
    }
}

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
