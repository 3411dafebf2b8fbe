//! A blocking echo server on `std::net`, one thread per connection.
//!
//! ```sh
//! cargo run --release --example echo-server                 # 127.0.0.1:9001
//! cargo run --release --example echo-server -- --listen 0.0.0.0:9001
//! ```
//!
//! - `GET /` without an Upgrade header serves a small page whose script opens
//!   `ws://<host>/ws`, sends what you type and shows what comes back.
//! - A WebSocket upgrade to any path is accepted; text and binary messages are echoed
//!   unchanged. If the client offers subprotocols, the first one known here (`chat`,
//!   `superchat`) is chosen.
//! - One log line per connection: peer address, path, subprotocol, close code.
//!
//! It is also the server-side testee for the Autobahn|Testsuite fuzzing client.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use ws_proto::handshake::{HeadLimits, HeadParser, parse_request};
use ws_proto::{Accept, CloseCause, Config, Connection, Event, SendError};

const KNOWN_SUBPROTOCOLS: [&str; 2] = ["chat", "superchat"];

fn main() -> io::Result<()> {
    let mut listen = String::from("127.0.0.1:9001");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().expect("--listen needs ADDR:PORT"),
            other => {
                eprintln!("usage: echo-server [--listen ADDR:PORT]  (unknown argument {other})");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&listen)?;
    let addr = listener.local_addr()?;
    println!("echo-server listening on {addr} (open http://{addr}/ in a browser)");
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            let peer = stream.peer_addr().ok();
            if let Err(e) = serve(stream) {
                eprintln!("{}: io error: {e}", show(peer));
            }
        });
    }
    Ok(())
}

fn show(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "?".into(), |p| p.to_string())
}

/// Serves one TCP connection: the page for plain HTTP, the echo for WebSocket upgrades.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // A peer that stops reading cannot block a write for ever.
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let peer = stream.peer_addr().ok();

    // Read the request head first, to tell a page request from a WebSocket upgrade. The
    // bytes read are handed to the connection unchanged afterwards.
    let mut head = Vec::new();
    let mut parser = HeadParser::new(HeadLimits::default());
    let mut chunk = [0u8; 4096];
    // The head must arrive within 10 s too: the connection's handshake deadline only starts
    // once it exists, and a client that never finishes its request must not hold a thread.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match parser.advance(&head) {
            Ok(Some(len)) => {
                if parse_request(&head[..len]).is_ok_and(|r| !r.is_upgrade()) {
                    return serve_page(&mut stream, &head[..len]);
                }
                break;
            }
            Ok(None) => {}
            Err(_) => break, // the connection answers 400/431 itself
        }
        let left = deadline.saturating_duration_since(Instant::now());
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        // A timeout (WouldBlock or TimedOut, by platform) ends it like end of stream.
        let n = stream.read(&mut chunk).or_else(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ok(0),
            _ => Err(e),
        })?;
        if n == 0 {
            return Ok(()); // gone, or too slow
        }
        head.extend_from_slice(&chunk[..n]);
    }

    // Default deadlines: 10 s for the handshake, 10 s for the closing handshake.
    let mut conn = Connection::server(Config::default(), Instant::now());
    conn.handle_bytes(&head);
    let mut buf = Vec::new();
    let mut path = String::new();
    let mut close_code = None;
    loop {
        while let Some(event) = conn.poll_event(&mut buf) {
            match event {
                Event::Request(request) => {
                    path = request.target().to_string();
                    // The first subprotocol the client offers that we know.
                    let subprotocol = request
                        .subprotocols()
                        .iter()
                        .find(|p| KNOWN_SUBPROTOCOLS.contains(&p.as_str()))
                        .cloned();
                    let accept = Accept {
                        subprotocol,
                        ..Accept::default()
                    };
                    conn.accept(&accept)
                        .expect("an offered subprotocol is accepted");
                }
                // The event borrows `buf`, so the connection is free to send the echo.
                Event::Text(text) => send(&mut conn, &mut stream, |c| c.send_text(text))?,
                Event::Binary(data) => send(&mut conn, &mut stream, |c| c.send_binary(data))?,
                Event::Closed(closed) => match closed.cause {
                    CloseCause::ProtocolError(error) => {
                        close_code = Some(format!("{} ({error})", closed.code))
                    }
                    _ => close_code = Some(closed.code.to_string()),
                },
                _ => {} // Ping (answered automatically), Pong
            }
        }
        flush(&mut conn, &mut stream)?;
        if conn.should_close_transport() {
            linger(&mut stream);
            break;
        }
        // Sleep in read() until data arrives or the connection's next deadline.
        let timeout = conn.poll_timeout().map(Instant::from).map(|at| {
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(timeout)?;
        let mut rb = conn.read_buf();
        match stream.read(&mut rb) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => rb.commit(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
        conn.handle_timeout(Instant::now());
    }
    println!(
        "{} path={} subprotocol={} close={}",
        show(peer),
        if path.is_empty() { "-" } else { &path },
        conn.negotiated().subprotocol().unwrap_or("-"),
        close_code.as_deref().unwrap_or("-"),
    );
    Ok(())
}

/// Runs a send; if the outbound queue is full, writes it out and tries once more.
fn send(
    conn: &mut Connection,
    stream: &mut TcpStream,
    mut op: impl FnMut(&mut Connection) -> Result<(), SendError>,
) -> io::Result<()> {
    match op(conn) {
        Err(SendError::Backpressure) => {
            flush(conn, stream)?;
            op(conn).map_err(io::Error::other)
        }
        // After our Close, echoes are refused: nothing to do.
        Err(SendError::Closed) | Ok(()) => Ok(()),
        Err(e) => Err(io::Error::other(e)),
    }
}

/// Closes the TCP connection gracefully: stop writing, then read and discard what the
/// peer still sends (for up to 2 s) until it closes too. Closing a socket with unread
/// input makes the kernel send a reset, and the peer's kernel may then drop our Close
/// frame before the peer reads it (e.g. after we failed on an oversized message).
fn linger(stream: &mut TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 16 << 10];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .is_err()
        {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
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
<title>ws-proto echo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  #log { border: 1px solid #ccc; border-radius: 6px; padding: .5rem; min-height: 12rem; }
  #log div { padding: 2px 0; border-bottom: 1px dotted #eee; }
  .sys { color: #666; } .out { color: #05a; } .in { color: #070; }
  form { display: flex; gap: .5rem; margin: 1rem 0; } input { flex: 1; padding: .4rem; }
</style>
</head>
<body>
<h1>ws-proto echo</h1>
<p>Status: <b id="status">connecting</b></p>
<form id="form"><input id="text" autocomplete="off" placeholder="Type a message" autofocus>
<button id="send">Send</button><button id="close" type="button">Close</button></form>
<div id="log"></div>
<script>
const log = (cls, text) => {
  const line = document.createElement("div");
  line.className = cls; line.textContent = text;
  document.getElementById("log").appendChild(line);
};
const ws = new WebSocket("ws://" + location.host + "/ws");
window.ws = ws;
ws.binaryType = "arraybuffer";
ws.onopen = () => { document.getElementById("status").textContent = "open"; log("sys", "open"); };
ws.onmessage = (e) => {
  if (typeof e.data === "string") log("in", "echo: " + e.data);
  else log("in", "echo: " + e.data.byteLength + " bytes of binary");
};
ws.onclose = (e) => {
  document.getElementById("status").textContent = "closed";
  log("sys", "closed: code " + e.code + (e.reason ? " reason " + e.reason : ""));
};
ws.onerror = () => log("sys", "error");
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  if (ws.readyState === WebSocket.OPEN && input.value !== "") {
    ws.send(input.value); log("out", "sent: " + input.value); input.value = "";
  }
};
document.getElementById("close").onclick = () => ws.close(1000, "bye");
</script>
</body>
</html>
"#;
