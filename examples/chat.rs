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
//!
//! ## Several processes: `--redis redis://127.0.0.1:6379`
//!
//! With `--redis URL`, processes sharing a Redis server form one room: each publishes its
//! users' lines and joins/leaves to the pub/sub channel `ws-proto-chat` and delivers what
//! the others publish there to its own users. Every line reaches every user on every
//! process once, in the order its sender sent it.
//!
//! - A process delivers its own users' lines to its own users directly and skips them when
//!   they come back from Redis (each published line carries the id of the process that
//!   sent it). So the users of one process keep talking while Redis is away.
//! - Lines are published by one task per process, in the order the users' tasks queued
//!   them, so one user's lines stay in order everywhere.
//! - Losing Redis (or not finding it at start) never closes a user's connection: the
//!   process logs `redis: disconnected (...)`, retries with a backoff from 0.2 s up to
//!   5 s, and logs `redis: connected` when it is subscribed again. Lines said while it was
//!   away reach only the users of their own process; they are not replayed later.
//! - A name is unique within one process only: `alice` on two processes is two users.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use ws_proto_io::tokio::{Answer, WebSocketStream, accept_with};
use ws_proto_io::ws_proto::{CloseCode, Config, Request};
use ws_proto_io::{Error, Message};

/// Lines waiting for one client before it counts as too slow.
const QUEUE: usize = 256;

/// Lines waiting to be published to Redis. When Redis is slow or away the queue fills up
/// and further lines are not published (they still reach this process's users).
const OUTBOX: usize = 4096;

/// The Redis pub/sub channel the processes of one room share.
const CHANNEL: &str = "ws-proto-chat";

/// The room: who is in it on this process, and the queue of lines to publish to the
/// other processes (with `--redis`).
type Room = Arc<Hub>;

#[derive(Default)]
struct Hub {
    /// Each user's queue, and how to tell the user's task to give up.
    users: Mutex<Users>,
    outbox: Option<mpsc::Sender<String>>,
}

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
    let mut redis_url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            ("--allow-origin", Some(pattern)) => rules.origins.push(pattern),
            ("--token", Some(token)) => rules.token = Some(token),
            ("--redis", Some(url)) => redis_url = Some(url),
            _ => {
                eprintln!(
                    "usage: chat [--listen ADDR:PORT] [--allow-origin PATTERN]... [--token T] \
                     [--redis redis://HOST:PORT]"
                );
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    println!("chat listening on {addr} (open http://{addr}/ in a browser)");
    let rules = Arc::new(rules);
    let room = match redis_url {
        None => Room::default(),
        Some(url) => {
            let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| {
                eprintln!("redis: bad URL {url}: {e}");
                std::process::exit(2);
            });
            let (outbox, queued) = mpsc::channel(OUTBOX);
            let room = Arc::new(Hub {
                users: Mutex::default(),
                outbox: Some(outbox),
            });
            tokio::spawn(relay(client, room.clone(), queued));
            room
        }
    };
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
        let mut users = room.users.lock().unwrap();
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
        room.users.lock().unwrap().remove(&name);
        return;
    };
    broadcast(&room, None, format!("* {name} joined"));
    chat(ws, &name, rx, &kick, &room).await;
    room.users.lock().unwrap().remove(&name);
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

/// Queues `line` for everyone on this process but `from`, and for the other processes.
fn broadcast(room: &Room, from: Option<&str>, line: String) {
    deliver(room, from, &line);
    // Called from the sender's own task, so its lines enter the outbox in order.
    if let Some(outbox) = &room.outbox {
        let _ = outbox.try_send(line);
    }
}

/// Queues `line` for everyone on this process but `from`; a user whose queue is full is
/// told to leave.
fn deliver(room: &Room, from: Option<&str>, line: &str) {
    println!("{line}");
    let message = Message::text(line.to_owned());
    for (name, (queue, kick)) in room.users.lock().unwrap().iter() {
        if Some(name.as_str()) != from && queue.try_send(message.clone()).is_err() {
            kick.notify_one();
        }
    }
}

/// The link to Redis: publishes the outbox, delivers the other processes' lines, and
/// reconnects with a backoff whenever the connection is lost or cannot be made.
async fn relay(client: redis::Client, room: Room, mut outbox: mpsc::Receiver<String>) {
    // Tells this process's lines apart when they come back from the channel.
    let me = format!(
        "{:016x}{:08x}",
        RandomState::new().hash_one(std::time::SystemTime::now()),
        std::process::id()
    );
    let mut backoff = Duration::from_millis(200);
    loop {
        let error = session(&client, &me, &room, &mut outbox, &mut backoff).await;
        println!("redis: disconnected ({error}); retrying in {backoff:?}");
        // Lines said meanwhile reach this process's users only.
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                Some(_) = outbox.recv() => {}
            }
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One connection to Redis, until it fails: subscribes, then publishes and delivers.
async fn session(
    client: &redis::Client,
    me: &str,
    room: &Room,
    outbox: &mut mpsc::Receiver<String>,
    backoff: &mut Duration,
) -> redis::RedisError {
    let connect = async {
        let mut subscriber = client.get_async_pubsub().await?;
        subscriber.subscribe(CHANNEL).await?;
        let publisher = client.get_multiplexed_async_connection().await?;
        Ok::<_, redis::RedisError>((subscriber, publisher))
    };
    let (subscriber, mut publisher) =
        match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return e,
            Err(_) => return timed_out("connecting"),
        };
    println!("redis: connected");
    *backoff = Duration::from_millis(200);
    let mut incoming = subscriber.into_on_message();
    // A Redis that stops answering without closing the connection is noticed by a ping.
    let mut ping = tokio::time::interval(Duration::from_secs(5));
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            message = incoming.next() => {
                let Some(message) = message else {
                    return redis::RedisError::from(io::Error::from(io::ErrorKind::ConnectionReset));
                };
                let payload = message.get_payload_bytes();
                let from_elsewhere = std::str::from_utf8(payload)
                    .ok()
                    .and_then(|text| text.split_once(' '))
                    .filter(|(sender, _)| *sender != me);
                if let Some((_, line)) = from_elsewhere {
                    deliver(room, None, line);
                }
            }
            count = outbox.recv_many(&mut batch, 256) => {
                if count == 0 {
                    return timed_out("the outbox closed"); // not while the process runs
                }
                let mut pipe = redis::pipe();
                for line in batch.drain(..) {
                    pipe.publish(CHANNEL, format!("{me} {line}")).ignore();
                }
                match tokio::time::timeout(Duration::from_secs(5), pipe.exec_async(&mut publisher)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return e,
                    Err(_) => return timed_out("publishing"),
                }
            }
            _ = ping.tick() => {
                let probe = redis::cmd("PING");
                match tokio::time::timeout(Duration::from_secs(5), probe.exec_async(&mut publisher)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return e,
                    Err(_) => return timed_out("waiting for PONG"),
                }
            }
        }
    }
}

fn timed_out(what: &str) -> redis::RedisError {
    io::Error::new(io::ErrorKind::TimedOut, format!("timed out {what}")).into()
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
