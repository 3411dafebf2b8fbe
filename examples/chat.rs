//! A chat server on the tokio driver: one task per client, broadcast by cloning `Message`s.
//!
//! ```sh
//! cargo run --release --example chat                      # 127.0.0.1:9002
//! cargo run --release --example chat -- --listen 0.0.0.0:9002 \
//!     --allow-origin 'https://*.example.com' --allow-origin 'http://localhost:*' --token s3cret
//! cargo run --example client -- ws://127.0.0.1:9002/ws/alice
//! ```
//!
//! - `GET /` serves a page on the same port: pick a name, join, chat (it passes its own
//!   `?token=` on to the WebSocket).
//! - Users join with a WebSocket upgrade to `/ws/{userName}` (or `/chat/{userName}`); a
//!   name is 1 to 24 of `A-Z a-z 0-9 _ - .`. Other paths get 404, a bad name 400, a name
//!   already in the room 409.
//! - `--allow-origin PATTERN` (repeatable; `*` matches any run of characters, as Spring's
//!   `setAllowedOriginPatterns`): an upgrade whose `Origin` matches none gets 403. Requests
//!   without `Origin` (not from a browser) are let through. Without the flag every origin is.
//! - `--token T`: an upgrade must carry `?token=T` or `Authorization: Bearer T`; without
//!   one it gets 401, with another 403.
//! - A text message goes to everyone else as `userName: text`; joins and leaves go to
//!   everyone (`* alice joined`, `* alice left`). Binary messages are refused (Close 1003).
//! - Each client has a queue of 256 lines. A client that does not read until its queue is
//!   full is closed with 1008 "too slow" (and announced as leaving); nobody waits for it.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use ws_proto_io::tokio::{Answer, WebSocketStream, accept_with};
use ws_proto_io::ws_proto::{CloseCode, Config, Request};
use ws_proto_io::{Error, Message};

/// Lines waiting for one client before it counts as too slow.
const QUEUE: usize = 256;

/// Who is in the room: each user's queue, and how to tell the user's task to give up.
type Room = Arc<Mutex<Users>>;
type Users = HashMap<String, (mpsc::Sender<Message>, Arc<Notify>)>;

#[derive(Default)]
struct Rules {
    origins: Vec<String>,
    token: Option<String>,
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut listen = String::from("127.0.0.1:9002");
    let mut rules = Rules::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            ("--allow-origin", Some(pattern)) => rules.origins.push(pattern),
            ("--token", Some(token)) => rules.token = Some(token),
            _ => {
                eprintln!(
                    "usage: chat [--listen ADDR:PORT] [--allow-origin PATTERN]... [--token T]"
                );
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    println!("chat listening on {addr} (open http://{addr}/ in a browser)");
    let (room, rules) = (Room::default(), Arc::new(rules));
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(serve(tcp, room.clone(), rules.clone()));
    }
}

/// One TCP connection: the page, a refusal, or a user in the room until they leave.
async fn serve(tcp: TcpStream, room: Room, rules: Arc<Rules>) {
    let _ = tcp.set_nodelay(true);
    let config = Config::default()
        .with_max_outbound_buffer(1 << 20)
        .with_keepalive_interval(Some(Duration::from_secs(30)));
    let (tx, rx) = mpsc::channel(QUEUE);
    let kick = Arc::new(Notify::new());
    let mut joined = None;
    let decide = |request: &Request| {
        // Checking the name and taking it happen under one lock: two users cannot both get it.
        let mut users = room.lock().unwrap();
        let answer = answer(request, &users, &rules);
        if let (Answer::Accept(_), Some(name)) = (&answer, user_name(request)) {
            users.insert(name.to_owned(), (tx, kick.clone()));
            joined = Some(name.to_owned());
        }
        answer
    };
    let result = accept_with(tcp, config, decide).await;
    let Some(name) = joined else {
        if let Some(e) = result
            .as_ref()
            .err()
            .filter(|e| !matches!(e, Error::Responded { .. }))
        {
            eprintln!("handshake: {e}");
        }
        return; // the page, or a refusal
    };
    let Ok(ws) = result else {
        room.lock().unwrap().remove(&name);
        return;
    };
    broadcast(&room, None, format!("* {name} joined"));
    chat(ws, &name, rx, &kick, &room).await;
    room.lock().unwrap().remove(&name);
    broadcast(&room, None, format!("* {name} left"));
}

/// Relays the user's lines to the room and the room's lines to the user.
async fn chat(
    mut ws: WebSocketStream<TcpStream>,
    name: &str,
    mut lines: mpsc::Receiver<Message>,
    kick: &Notify,
    room: &Room,
) {
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => broadcast(room, Some(name), format!("{name}: {text}")),
                Some(Ok(Message::Binary(_))) => {
                    let _ = ws.close(CloseCode::UNSUPPORTED_DATA, "text only").await;
                    return;
                }
                Some(Ok(_)) => {} // Ping (answered automatically), Pong, the Close
                Some(Err(_)) | None => return,
            },
            Some(line) = lines.recv() => {
                // A send waits while the client does not read: that is when its queue
                // fills up and it is told to leave, so the wait must end there too.
                tokio::select! {
                    sent = ws.send(line) => if sent.is_err() {
                        return;
                    },
                    () = kick.notified() => return too_slow(ws).await,
                }
            }
            () = kick.notified() => return too_slow(ws).await,
        }
    }
}

/// Closes a client that does not read with 1008. It will not read the Close either (it
/// waits behind the lines queued before it): after a moment the connection is dropped.
async fn too_slow(mut ws: WebSocketStream<TcpStream>) {
    let closing = ws.close(CloseCode::POLICY_VIOLATION, "too slow");
    let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
}

/// Queues `line` for everyone but `from`; a user whose queue is full is told to leave.
fn broadcast(room: &Room, from: Option<&str>, line: String) {
    println!("{line}");
    let message = Message::text(line);
    for (name, (queue, kick)) in room.lock().unwrap().iter() {
        if Some(name.as_str()) != from && queue.try_send(message.clone()).is_err() {
            kick.notify_one();
        }
    }
}

/// The answer to a request: the page, or the checks of an upgrade in order.
fn answer(request: &Request, users: &Users, rules: &Rules) -> Answer {
    if !request.is_upgrade() {
        return match request.path() {
            "/" | "/index.html" => Answer::html(200, PAGE),
            _ => Answer::text(404, "not found\n"),
        };
    }
    let Some(name) = user_name(request) else {
        return Answer::text(404, "no such endpoint: join /ws/{userName}\n");
    };
    let origin_ok = match request.origin() {
        Some(origin) if !rules.origins.is_empty() => {
            rules.origins.iter().any(|pattern| matches(pattern, origin))
        }
        _ => true,
    };
    if !origin_ok {
        return Answer::text(403, "origin not allowed\n");
    }
    if let Some(token) = &rules.token {
        let bearer = request
            .header("authorization")
            .and_then(|v| v.strip_prefix(b"Bearer "));
        let query = request
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
        match bearer.or(query.map(str::as_bytes)) {
            None => return Answer::text(401, "a token is required\n"),
            Some(given) if given != token.as_bytes() => return Answer::text(403, "wrong token\n"),
            Some(_) => {}
        }
    }
    if !valid_name(name) {
        return Answer::text(400, "a name is 1 to 24 of A-Z a-z 0-9 _ - .\n");
    }
    if users.contains_key(name) {
        return Answer::text(409, "that name is taken\n");
    }
    Answer::accept()
}

fn user_name(request: &Request) -> Option<&str> {
    let path = request.path();
    path.strip_prefix("/ws/")
        .or_else(|| path.strip_prefix("/chat/"))
}

fn valid_name(name: &str) -> bool {
    (1..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// `text` matches `pattern`, where `*` stands for any run of characters.
fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: the whole text
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
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
  ws = new WebSocket("ws://" + location.host + "/ws/" + encodeURIComponent(name) + location.search);
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
