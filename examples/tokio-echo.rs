//! Driving `ws-proto` from tokio: a small async adapter, and an echo server on it.
//!
//! ```sh
//! cargo run --release --example tokio-echo                 # 127.0.0.1:9004
//! cargo run --release --example tokio-echo -- --listen 0.0.0.0:9004
//! cargo run --example client -- ws://127.0.0.1:9004/ws
//! ```
//!
//! - `GET /` without an Upgrade header serves a small page that echoes what you type.
//! - A WebSocket upgrade to any path is accepted; text and binary messages are echoed,
//!   except the text `/close`, which makes the server close the connection (1000).
//!
//! `WsStream` is what a tokio user would write around the sans-IO core: it owns any
//! `AsyncRead + AsyncWrite` stream and a `Connection`, and offers `next_message()` (owned
//! messages), `send_text`, `send_binary` and `close`. Output is flushed with `write_all`;
//! deadlines (handshake, close, keepalive) are met by racing the read against
//! `tokio::time::sleep_until(poll_timeout().map(Instant::from))`. Its methods are not cancel-safe: call
//! them from one task and do not drop them half-way (e.g. in `select!`).

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_proto::handshake::{HeadLimits, HeadParser, parse_request};
use ws_proto::{
    Accept, CloseCause, CloseCode, Closed, Config, Connection, Event, ProtocolError, SendError,
    State,
};

/// A message received, owned (unlike `Event`, which borrows a buffer).
#[derive(Debug)]
enum Message {
    Text(String),
    Binary(Vec<u8>),
    /// The peer's Close frame (already answered), or 1006 if the stream just ended.
    Close(CloseCode, String),
}

/// A WebSocket over an async byte stream.
struct WsStream<S> {
    io: S,
    conn: Connection,
    buf: Vec<u8>,
    /// The peer broke the protocol: reported once the Close is out.
    failed: Option<ProtocolError>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// Runs the server handshake on `io` (of which `prefix` was already read), answering
    /// the request with `accept`. A real server would look at the request (path, Origin...)
    /// and might `reject` it instead.
    async fn accept(io: S, prefix: &[u8], config: Config, accept: &Accept) -> io::Result<Self> {
        let mut conn = Connection::server(config, Instant::now());
        conn.handle_bytes(prefix);
        let (buf, failed) = (Vec::new(), None);
        let mut ws = WsStream {
            io,
            conn,
            buf,
            failed,
        };
        while ws.conn.state() == State::Connecting {
            match ws.conn.poll_event(&mut ws.buf) {
                Some(Event::Request(_)) => ws.conn.accept(accept).map_err(io::Error::other)?,
                Some(_) => {} // failed, timed out or ended: the state is Closed now
                None => ws.wait().await?,
            }
        }
        ws.flush().await?;
        if ws.conn.state() != State::Open {
            let _ = ws.io.shutdown().await;
            return Err(io::Error::other("handshake refused or failed"));
        }
        Ok(ws)
    }

    /// The next message; `Ok(None)` once the connection is over and the stream shut down.
    async fn next_message(&mut self) -> io::Result<Option<Message>> {
        loop {
            while let Some(event) = self.conn.poll_event(&mut self.buf) {
                let message = match event {
                    Event::Text(text) => Message::Text(text.to_owned()),
                    Event::Binary(data) => Message::Binary(data.to_owned()),
                    Event::Closed(Closed {
                        cause: CloseCause::ProtocolError(error),
                        ..
                    }) => {
                        self.failed = Some(error); // the Close frame for it is queued
                        continue;
                    }
                    Event::Closed(closed) => Message::Close(closed.code, closed.reason.to_owned()),
                    _ => continue, // Ping (answered automatically), Pong
                };
                return Ok(Some(message));
            }
            self.flush().await?;
            if self.conn.should_close_transport() {
                let _ = self.io.shutdown().await;
                return match self.failed.take() {
                    Some(error) => Err(io::Error::new(io::ErrorKind::InvalidData, error)),
                    None => Ok(None),
                };
            }
            self.wait().await?;
        }
    }

    async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(|conn| conn.send_text(text)).await
    }

    async fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        self.send(|conn| conn.send_binary(data)).await
    }

    /// Starts the closing handshake; keep calling `next_message` until it returns `None`.
    async fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        self.conn.close(code, reason).map_err(io::Error::other)?;
        self.flush().await
    }

    async fn send(
        &mut self,
        mut op: impl FnMut(&mut Connection) -> Result<(), SendError>,
    ) -> io::Result<()> {
        if let Err(SendError::Backpressure) = op(&mut self.conn) {
            self.flush().await?; // make room, then try once more
            op(&mut self.conn).map_err(io::Error::other)?;
        }
        self.flush().await
    }

    /// Writes everything queued; a peer that reads nothing for 10 s fails the write.
    async fn flush(&mut self) -> io::Result<()> {
        loop {
            let out = self.conn.poll_transmit();
            if out.is_empty() {
                return self.io.flush().await;
            }
            let n = out.len();
            tokio::time::timeout(Duration::from_secs(10), self.io.write_all(&out))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))??;
            out.advance(n);
        }
    }

    /// Waits for input or the next deadline, and hands both to the connection.
    async fn wait(&mut self) -> io::Result<()> {
        let deadline = self.conn.poll_timeout().map(Instant::from);
        // Read straight into the connection's buffer; a read that does not finish reads
        // nothing (tokio's `read` is cancel-safe), so nothing is committed.
        let mut buf = self.conn.read_buf();
        let read = tokio::select! {
            read = self.io.read(&mut buf) => Some(read?),
            () = sleep_until(deadline) => None,
        };
        match read {
            Some(0) => self.conn.handle_eof(),
            Some(n) => buf.commit(n),
            None => {}
        }
        self.conn.handle_timeout(Instant::now());
        Ok(())
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut listen = String::from("127.0.0.1:9004");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            _ => {
                eprintln!("usage: tokio-echo [--listen ADDR:PORT]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    println!("tokio-echo listening on {addr} (open http://{addr}/ in a browser)");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        tokio::spawn(async move {
            match serve(stream).await {
                Ok(end) => println!("{peer}: {end}"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}

/// Serves one TCP connection: the page for plain HTTP, the echo for WebSocket upgrades.
async fn serve(mut stream: TcpStream) -> io::Result<String> {
    stream.set_nodelay(true)?;
    // Read the request head to tell a page request from an upgrade (10 s at most).
    let mut head = Vec::new();
    let mut parser = HeadParser::new(HeadLimits::default());
    let head_deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match parser.advance(&head) {
            Ok(Some(len)) => {
                if parse_request(&head[..len]).is_ok_and(|r| !r.is_upgrade()) {
                    stream.write_all(&page_response(&head[..len])).await?;
                    stream.shutdown().await?;
                    return Ok("served the page".into());
                }
                break;
            }
            Ok(None) => {}
            Err(_) => break, // the connection answers 400 or 431 itself
        }
        match tokio::time::timeout_at(head_deadline, stream.read_buf(&mut head)).await {
            Ok(Ok(0)) => return Ok("went away before a request".into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok("no request within 10 s".into()),
        }
    }

    let mut ws = WsStream::accept(stream, &head, Config::default(), &Accept::default()).await?;
    let mut end = String::from("closed without a Close frame");
    while let Some(message) = ws.next_message().await? {
        match message {
            // The server can close too: the text "/close" asks it to.
            Message::Text(text) if text == "/close" => ws.close(CloseCode::NORMAL, "asked").await?,
            Message::Text(text) => ws.send_text(&text).await?,
            Message::Binary(data) => ws.send_binary(&data).await?,
            Message::Close(code, reason) => end = format!("closed: {code} {reason}"),
        }
    }
    Ok(end)
}

/// The answer to a plain HTTP request: the page at `/`, 404 elsewhere.
fn page_response(head: &[u8]) -> Vec<u8> {
    let (status, body) = if head.starts_with(b"GET / ") {
        ("200 OK", PAGE)
    } else {
        ("404 Not Found", "not found\n")
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>ws-proto tokio echo</title>
<h1>ws-proto tokio echo</h1><form id="f"><input id="t" autofocus> <button>Send</button></form>
<pre id="log"></pre><script>
const $ = (id) => document.getElementById(id), log = (s) => { $("log").textContent += s + "\n"; };
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.onopen = () => log("open"); ws.onclose = (e) => log("closed: " + e.code);
ws.onmessage = (e) => log("echo: " + e.data);
$("f").onsubmit = (e) => { e.preventDefault(); ws.send($("t").value); $("t").value = ""; };
</script>
"#;
