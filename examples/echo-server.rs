//! A blocking echo server on the `ws-proto-io` driver, one thread per connection.
//!
//! ```sh
//! cargo run --release --example echo-server                 # 127.0.0.1:9001
//! cargo run --release --example echo-server -- --listen 0.0.0.0:9001
//! cargo run --release --example echo-server -- --tls-cert cert.pem --tls-key key.pem
//! ```
//!
//! - `GET /` without an Upgrade header serves a small page whose script opens
//!   `ws://<host>/ws` (`wss://` when the page came over https), sends what you type and
//!   shows what comes back. Other plain requests get 404.
//! - A WebSocket upgrade to any path is accepted; text and binary messages are echoed
//!   unchanged. If the client offers subprotocols, the first one known here (`chat`,
//!   `superchat`) is chosen.
//! - With `--tls-cert FILE --tls-key FILE` (PEM) every connection is TLS: https:// and
//!   wss:// on the same port.
//! - One log line per connection: peer address, path, subprotocol, close code.
//!
//! It is also the server-side testee for the Autobahn|Testsuite fuzzing client.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;

use ws_proto::handshake::Request;
use ws_proto::{CloseCode, Config};
use ws_proto_io::blocking::{Answer, Transport, WebSocket};
use ws_proto_io::{Error, Message, tls};

const KNOWN_SUBPROTOCOLS: [&str; 2] = ["chat", "superchat"];

fn main() -> Result<(), Error> {
    let mut listen = String::from("127.0.0.1:9001");
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--listen", Some(v)) => listen = v,
            ("--tls-cert", Some(v)) => cert = Some(v),
            ("--tls-key", Some(v)) => key = Some(v),
            _ => {
                eprintln!(
                    "usage: echo-server [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]  \
                     (bad argument {arg})"
                );
                std::process::exit(2);
            }
        }
    }
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(tls::server_config_from_pem(cert, key)?),
        (None, None) => None,
        _ => {
            eprintln!("--tls-cert and --tls-key go together");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&listen)?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("echo-server listening on {addr} (open {scheme}://{addr}/ in a browser)");
    for tcp in listener.incoming() {
        let tcp = tcp?;
        let tls = tls.clone();
        thread::spawn(move || {
            let peer = tcp.peer_addr().ok();
            let _ = tcp.set_nodelay(true);
            let result = match tls {
                Some(config) => ws_proto_io::blocking::tls_server(tcp, Arc::clone(&config))
                    .and_then(|stream| serve(stream, peer)),
                None => serve(tcp, peer),
            };
            if let Err(e) = result {
                eprintln!("{}: {e}", show(peer));
            }
        });
    }
    Ok(())
}

fn show(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "?".into(), |p| p.to_string())
}

/// Answers a request: the page (or 404) for plain HTTP, the first known subprotocol for
/// an upgrade.
fn answer(request: &Request) -> Answer {
    if !request.is_upgrade() {
        return match request.path() {
            "/" | "/index.html" => Answer::respond(200, PAGE)
                .header("Content-Type", "text/html; charset=utf-8")
                .header("Cache-Control", "no-store"),
            _ => Answer::respond(404, "not found\n")
                .header("Content-Type", "text/plain; charset=utf-8"),
        };
    }
    match request
        .subprotocols()
        .iter()
        .find(|p| KNOWN_SUBPROTOCOLS.contains(&p.as_str()))
    {
        Some(subprotocol) => Answer::accept_subprotocol(subprotocol.clone()),
        None => Answer::accept(),
    }
}

/// Serves one connection: the page, or the echo until the connection ends. The driver
/// keeps the default deadlines (10 s for each handshake and for every write).
fn serve<S: Transport>(stream: S, peer: Option<SocketAddr>) -> Result<(), Error> {
    let mut path = String::new();
    let answered = WebSocket::accept_with(stream, Config::default(), |request| {
        path = request.target().to_owned();
        answer(request)
    })?;
    let Some(mut ws) = answered else {
        return Ok(()); // the page was served
    };
    let close = loop {
        match ws.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => match ws.send(message) {
                Ok(()) | Err(Error::Send(_)) => {} // after our Close, echoes are refused
                Err(e) => break e.to_string(),
            },
            Ok(Message::Close(frame)) => {
                break frame.map_or(CloseCode::NO_STATUS, |f| f.code).to_string();
            }
            Ok(_) => {} // Ping (answered by the driver), Pong
            Err(Error::Protocol(e)) => break format!("{} ({e})", e.close_code()),
            Err(Error::ConnectionClosed(_)) => break CloseCode::ABNORMAL.to_string(),
            Err(e) => break format!("{} ({e})", CloseCode::ABNORMAL),
        }
    };
    println!(
        "{} path={} subprotocol={} close={close}",
        show(peer),
        if path.is_empty() { "-" } else { &path },
        ws.subprotocol().unwrap_or("-"),
    );
    Ok(())
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
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
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
