//! A chat server: one thread, one `mio` event loop, many connections.
//!
//! ```sh
//! cargo run --release --example chat                      # 127.0.0.1:9002
//! cargo run --release --example chat -- --listen 0.0.0.0:9002
//! cargo run --example client -- ws://127.0.0.1:9002/chat/alice
//! ```
//!
//! - `GET /` without an Upgrade header serves a page: pick a name, join, chat.
//! - Clients join with a WebSocket upgrade to `/chat/{name}` (1 to 24 of `A-Z a-z 0-9 _ - .`).
//!   Other paths get 404, a bad name 400, a name already in the room 409.
//! - Every text message is sent to everyone else as `name: text`; joins and leaves are
//!   announced to everyone (`* alice joined`, `* alice left`). Binary messages are refused
//!   (Close 1003).
//!
//! What it shows:
//!
//! - Non-blocking IO driven by readiness: reads go straight into `Connection::read_buf`, and
//!   `poll_transmit` is written until the socket says `WouldBlock`. WRITABLE interest is
//!   registered only while a connection has output pending. Reads are edge-triggered, so a
//!   socket is read until `WouldBlock`, at most `READ_BUDGET` reads per turn so that one
//!   busy client cannot starve the others.
//! - Deadlines: the poll timeout is the earliest `poll_timeout().map(Instant::from)` of all connections, and
//!   every wake-up calls `handle_timeout(now)` on each of them (handshake and close
//!   timeouts, and a keepalive Ping after 30 s of silence).
//! - Every wake-up visits every connection: simple, and fine for hundreds of clients; a
//!   bigger server would keep a list of ready sockets and a heap of deadlines.
//! - Slow clients: each connection's outbound queue is capped at 1 MiB
//!   (`Config::max_outbound_buffer`). When a broadcast does not fit because a client is
//!   not reading, that client is not waited for and the message is not dropped silently:
//!   it is closed with 1008 "too slow" (announced as a leave), and if its queue still has
//!   not drained within the close timeout (10 s) the connection's close deadline fires and
//!   the socket is dropped. Everyone else keeps chatting meanwhile.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use ws_proto::handshake::{HeadLimits, HeadParser, parse_request};
use ws_proto::{Accept, CloseCode, Config, Connection, Event, SendError, State};

const LISTENER: Token = Token(0);
/// Reads per socket per loop turn before the others get theirs.
const READ_BUDGET: usize = 8;
/// Time allowed to send a request head, and to take the page.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> io::Result<()> {
    let mut listen = String::from("127.0.0.1:9002");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            _ => {
                eprintln!("usage: chat [--listen ADDR:PORT]");
                std::process::exit(2);
            }
        }
    }
    let addr: SocketAddr = listen.parse().map_err(io::Error::other)?;
    let mut listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    println!("chat listening on {addr} (open http://{addr}/ in a browser)");

    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(256);
    let mut chat = Chat::default();
    loop {
        let timeout = chat
            .next_wakeup()
            .map(|at| at.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                chat.accept_all(&listener, poll.registry());
            } else if let Some(client) = chat.clients.get_mut(&event.token()) {
                // Any event may mean input, room to write, end of stream or an error:
                // the next read and write find out which.
                client.readable = true;
                client.write_blocked = false;
            }
        }
        chat.turn(poll.registry(), Instant::now());
    }
}

/// Where a TCP connection is in its life.
enum Phase {
    /// Reading the request head, to tell a page request from a WebSocket upgrade.
    Head { head: Vec<u8>, parser: HeadParser },
    /// Writing the page (or a 404), then closing.
    Page { out: Vec<u8> },
    /// A WebSocket connection; `name` is set while the client is in the room.
    Ws {
        conn: Box<Connection>,
        name: Option<String>,
        /// Receives event payloads; reused for every event.
        buf: Vec<u8>,
    },
}

struct Client {
    stream: TcpStream,
    token: Token,
    phase: Phase,
    /// Set by a readiness event, cleared when a read says `WouldBlock`.
    readable: bool,
    /// The last write said `WouldBlock`; cleared by the next event.
    write_blocked: bool,
    /// WRITABLE interest is registered.
    wants_write: bool,
    /// Deadline for the plain-HTTP phases.
    http_deadline: Instant,
    /// The socket is finished with (closed, failed, or timed out).
    done: bool,
}

#[derive(Default)]
struct Chat {
    clients: HashMap<Token, Client>,
    /// Names of the clients in the room.
    names: HashSet<String>,
    /// Lines to send: (sender to skip, text).
    outbox: Vec<(Option<Token>, String)>,
    next_token: usize,
}

impl Chat {
    /// Accepts every pending connection (the listener is edge-triggered too).
    fn accept_all(&mut self, listener: &TcpListener, registry: &Registry) {
        loop {
            let mut stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // E.g. out of file descriptors: keep serving the others.
                    eprintln!("accept: {e}");
                    return;
                }
            };
            self.next_token += 1;
            let token = Token(self.next_token);
            let _ = stream.set_nodelay(true);
            if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
                eprintln!("register: {e}");
                continue;
            }
            let client = Client {
                stream,
                token,
                phase: Phase::Head {
                    head: Vec::new(),
                    parser: HeadParser::new(HeadLimits::default()),
                },
                readable: true, // bytes may have arrived before registration
                write_blocked: false,
                wants_write: false,
                http_deadline: Instant::now() + HTTP_TIMEOUT,
                done: false,
            };
            self.clients.insert(token, client);
        }
    }

    /// One turn of the loop: input, timers and events for every connection, then the
    /// broadcasts, then output; repeated while leaving clients produce announcements.
    fn turn(&mut self, registry: &Registry, now: Instant) {
        for client in self.clients.values_mut() {
            client.step(now, &mut self.names, &mut self.outbox);
        }
        loop {
            self.deliver();
            for client in self.clients.values_mut() {
                client.flush(registry);
            }
            // Drop finished sockets; an abrupt end still announces the leave.
            let names = &mut self.names;
            let outbox = &mut self.outbox;
            self.clients.retain(|_, client| {
                if !client.finished(now) {
                    return true;
                }
                if let Phase::Ws { name, .. } = &mut client.phase {
                    leave(name, names, outbox);
                }
                let _ = registry.deregister(&mut client.stream);
                false
            });
            if self.outbox.is_empty() {
                break;
            }
        }
    }

    /// Queues every outbox line to everyone in the room but its sender.
    fn deliver(&mut self) {
        // Closing a slow client announces its leave, which is delivered in the next round.
        while !self.outbox.is_empty() {
            let lines = std::mem::take(&mut self.outbox);
            for (from, line) in &lines {
                for (token, client) in &mut self.clients {
                    let Phase::Ws {
                        conn,
                        name: name @ Some(_),
                        ..
                    } = &mut client.phase
                    else {
                        continue; // not in the room
                    };
                    if Some(*token) == *from {
                        continue;
                    }
                    match conn.send_text(line) {
                        Ok(()) => {}
                        Err(SendError::Backpressure) => {
                            // Its 1 MiB queue is full: it is too slow for this room.
                            let _ = conn.close(CloseCode::POLICY_VIOLATION, "too slow");
                            leave(name, &mut self.names, &mut self.outbox);
                        }
                        Err(e) => eprintln!("send: {e}"),
                    }
                }
            }
        }
    }

    /// When the loop must wake up without IO: the earliest deadline, or now if a socket
    /// still has unread input.
    fn next_wakeup(&self) -> Option<Instant> {
        let now = Instant::now();
        self.clients
            .values()
            .filter_map(|c| match &c.phase {
                _ if c.readable => Some(now),
                Phase::Ws { conn, .. } => conn.poll_timeout().map(Instant::from),
                Phase::Head { .. } | Phase::Page { .. } => Some(c.http_deadline),
            })
            .min()
    }
}

/// Takes a client out of the room and announces it.
fn leave(
    name: &mut Option<String>,
    names: &mut HashSet<String>,
    outbox: &mut Vec<(Option<Token>, String)>,
) {
    if let Some(name) = name.take() {
        names.remove(&name);
        println!("* {name} left");
        outbox.push((None, format!("* {name} left")));
    }
}

impl Client {
    /// Reads what is available (within the budget), then runs timers and events.
    fn step(
        &mut self,
        now: Instant,
        names: &mut HashSet<String>,
        outbox: &mut Vec<(Option<Token>, String)>,
    ) {
        for _ in 0..READ_BUDGET {
            if !self.readable || self.done {
                break;
            }
            self.read_once();
            if let Phase::Ws { conn, name, buf } = &mut self.phase {
                // Events after every read keep the input buffer to one read's worth.
                handle_events(conn, name, buf, self.token, names, outbox);
            }
        }
        if let Phase::Ws { conn, name, buf } = &mut self.phase {
            conn.handle_timeout(now);
            handle_events(conn, name, buf, self.token, names, outbox);
        }
    }

    /// One read from the socket, into the phase's buffer.
    fn read_once(&mut self) {
        if let Phase::Ws { conn, .. } = &mut self.phase {
            // Straight into the connection's buffer.
            let mut buf = conn.read_buf();
            match self.stream.read(&mut buf) {
                Ok(n @ 1..) => buf.commit(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // End of stream; a reset ends it the same way.
                Ok(0) | Err(_) => {
                    self.readable = false;
                    conn.handle_eof();
                }
            }
            return;
        }
        let mut chunk = [0u8; 4096];
        let n = match self.stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                return;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(_) => 0, // a reset ends the stream like EOF does
        };
        if n == 0 {
            self.readable = false;
        }
        match &mut self.phase {
            Phase::Ws { .. } | Phase::Page { .. } => {} // the page is on its way
            Phase::Head { .. } if n == 0 => self.done = true,
            Phase::Head { head, parser } => {
                head.extend_from_slice(&chunk[..n]);
                let page = match parser.advance(head) {
                    Ok(None) => return,
                    Ok(Some(len)) => parse_request(&head[..len]).is_ok_and(|r| !r.is_upgrade()),
                    Err(_) => false, // the connection answers 400 or 431 itself
                };
                self.phase = if page {
                    Phase::Page {
                        out: page_response(head),
                    }
                } else {
                    // The bytes read so far go to the connection unchanged.
                    let mut conn = Box::new(Connection::server(config(), Instant::now()));
                    conn.handle_bytes(head);
                    Phase::Ws {
                        conn,
                        name: None,
                        buf: Vec::new(),
                    }
                };
            }
        }
    }

    /// Writes pending output until done or `WouldBlock`; keeps WRITABLE interest in step.
    fn flush(&mut self, registry: &Registry) {
        while !self.write_blocked && !self.done {
            let written = match &mut self.phase {
                Phase::Ws { conn, .. } => {
                    let out = conn.poll_transmit();
                    if out.is_empty() {
                        break;
                    }
                    self.stream.write(&out).map(|n| out.advance(n))
                }
                Phase::Page { out } if out.is_empty() => {
                    self.done = true; // the page is out: close
                    break;
                }
                Phase::Page { out } => self.stream.write(out).map(|n| drop(out.drain(..n))),
                Phase::Head { .. } => break,
            };
            match written {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_blocked = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.done = true, // the peer is gone
            }
        }
        let pending = match &self.phase {
            Phase::Ws { conn, .. } => conn.buffered_amount() > 0,
            Phase::Page { out } => !out.is_empty(),
            Phase::Head { .. } => false,
        };
        if pending != self.wants_write && !self.done {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            match registry.reregister(&mut self.stream, self.token, interest) {
                Ok(()) => self.wants_write = pending,
                Err(_) => self.done = true,
            }
        }
    }

    /// Whether the socket can be closed and forgotten.
    fn finished(&self, now: Instant) -> bool {
        self.done
            || match &self.phase {
                Phase::Ws { conn, .. } => conn.should_close_transport(),
                Phase::Head { .. } | Phase::Page { .. } => now >= self.http_deadline,
            }
    }
}

/// The settings of every chat connection.
fn config() -> Config {
    let mut config = Config::default();
    // A client that falls 1 MiB behind is closed (see the top of the file).
    config.max_outbound_buffer = 1 << 20;
    // Chat lines are short.
    config.max_message_size = 64 << 10;
    config.max_frame_size = 64 << 10;
    // Ping a client that has been silent for 30 s; drop it 20 s later without an answer.
    config.keepalive_interval = Some(Duration::from_secs(30));
    config
}

/// Reacts to a connection's events: the handshake, messages, the end.
fn handle_events(
    conn: &mut Connection,
    name: &mut Option<String>,
    buf: &mut Vec<u8>,
    token: Token,
    names: &mut HashSet<String>,
    outbox: &mut Vec<(Option<Token>, String)>,
) {
    while let Some(event) = conn.poll_event(buf) {
        match event {
            Event::Request(request) => {
                let wanted = request.path().strip_prefix("/chat/");
                // `reject` and `accept` cannot fail here: a request is pending, and neither
                // headers nor a subprotocol are given.
                let _ = match wanted {
                    None => conn.respond(404, &[], b"no such endpoint: join /chat/{name}\n"),
                    Some(wanted) if !valid_name(wanted) => {
                        conn.respond(400, &[], b"a name is 1 to 24 of A-Z a-z 0-9 _ - .\n")
                    }
                    Some(wanted) if names.contains(wanted) => {
                        conn.respond(409, &[], b"that name is taken\n")
                    }
                    Some(wanted) => conn.accept(&Accept::default()).map(|()| {
                        names.insert(wanted.to_owned());
                        *name = Some(wanted.to_owned());
                        println!("* {wanted} joined");
                        outbox.push((None, format!("* {wanted} joined")));
                    }),
                };
            }
            Event::Text(text) => {
                if let Some(name) = name {
                    outbox.push((Some(token), format!("{name}: {text}")));
                }
            }
            Event::Binary(_) => {
                let _ = conn.close(CloseCode::UNSUPPORTED_DATA, "text only");
                leave(name, names, outbox);
            }
            Event::Closed(_) => leave(name, names, outbox),
            _ => {} // Ping (answered automatically), Pong
        }
    }
    if conn.state() == State::Closed {
        leave(name, names, outbox); // e.g. the handshake timed out
    }
}

fn valid_name(name: &str) -> bool {
    (1..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// The answer to a plain HTTP request: the page at `/`, 404 elsewhere.
fn page_response(head: &[u8]) -> Vec<u8> {
    let is_root = head.starts_with(b"GET / ") || head.starts_with(b"GET /index.html ");
    let (status, kind, body) = if is_root {
        ("200 OK", "text/html; charset=utf-8", PAGE)
    } else {
        ("404 Not Found", "text/plain; charset=utf-8", "not found\n")
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ws-proto chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  #log { border: 1px solid #ccc; border-radius: 6px; padding: .5rem; height: 20rem; overflow-y: auto; }
  #log div { padding: 2px 0; } .sys { color: #666; } .me { color: #05a; }
  form { display: flex; gap: .5rem; margin: 1rem 0; } input { flex: 1; padding: .4rem; }
</style>
</head>
<body>
<h1>ws-proto chat</h1>
<form id="join"><input id="name" placeholder="Your name (A-Z a-z 0-9 _ - .)" pattern="[A-Za-z0-9_.\-]{1,24}" required autofocus>
<button>Join</button></form>
<form id="say"><input id="text" autocomplete="off" placeholder="Message" disabled>
<button id="send" disabled>Send</button></form>
<div id="log"></div>
<script>
let ws = null;
const $ = (id) => document.getElementById(id);
const log = (cls, text) => {
  const line = document.createElement("div");
  line.className = cls; line.textContent = text;
  $("log").appendChild(line); $("log").scrollTop = $("log").scrollHeight;
};
const joined = (on) => { $("text").disabled = $("send").disabled = !on; if (on) $("text").focus(); };
$("join").onsubmit = (e) => {
  e.preventDefault();
  if (ws) ws.close(1000);
  const name = $("name").value;
  ws = new WebSocket("ws://" + location.host + "/chat/" + encodeURIComponent(name));
  ws.onopen = () => { joined(true); log("sys", "connected as " + name); };
  ws.onmessage = (e) => log(e.data.startsWith("* ") ? "sys" : "", e.data);
  ws.onclose = (e) => { joined(false); log("sys", "disconnected (code " + e.code + (e.reason ? ", " + e.reason : "") + ")"); };
};
$("say").onsubmit = (e) => {
  e.preventDefault();
  if (ws && ws.readyState === WebSocket.OPEN && $("text").value !== "") {
    ws.send($("text").value); log("me", "me: " + $("text").value); $("text").value = "";
  }
};
</script>
</body>
</html>
"#;
