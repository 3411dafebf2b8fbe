//! End-to-end benchmark over loopback: ws-proto (the hand-written tokio loop and the
//! ws-proto-io driver), tokio-tungstenite, tungstenite and fastwebsockets, each behind the same tokio echo server, driven by a load generator of our own.
//!
//! `cargo run --release --bin loopback -- [--warmup S] [--measure S] [--only LIB]`
//! `[--sizes 16,1024] [--connections 1,16,256] [--round-trips N]`
//!
//! `--round-trips N` ends each connection after N round trips (or the measured time,
//! whichever comes first): with `--connections 1` under `valgrind --tool=callgrind`, two
//! runs of different N give the instructions per message of each server in user space
//! (the load generator's share is the same for every library).
//!
//! - Server: a tokio multi-thread runtime with 1 worker on 127.0.0.1 (ephemeral port); a
//!   fresh server per run accepts exactly N connections and echoes every message with the
//!   library driven the way its documentation shows.
//! - Load generator: a tokio current-thread runtime on the main thread, so server and client
//!   each get one of the 2 cores. Raw TCP with hand-written framing (a fixed handshake
//!   request, masked binary frames), so the client costs the same whatever the server.
//! - Each of N connections sends a message, waits for its echo and checks it byte for byte
//!   (ping-pong) until the time is up; round trips that start during the warm-up are not
//!   counted. Then it sends a Close and waits for the server to end the connection.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::timeout;
use ws_proto::handshake::{HeadLimits, HeadParser, accept_response, parse_request};
use ws_proto::{Accept, CloseCause, Closed, Config, Connection, Event};

const LIBS: [&str; 5] = [
    "ws-proto",
    "ws-proto-io",
    "tokio-tungstenite",
    "tungstenite",
    "fastwebsockets",
];
const CONNECTIONS: [usize; 3] = [1, 16, 256];
/// Message sizes unless `--sizes a,b,...` says otherwise (at most 65 535: the load
/// generator writes 16-bit lengths).
const SIZES: [usize; 2] = [16, 1024];
/// The longest any single step (accept, handshake, echo, close) may take.
const STEP: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |flag: &str| {
        let i = args.iter().position(|a| a == flag)?;
        Some(
            args.get(i + 1)
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .clone(),
        )
    };
    let secs = |flag, default| {
        Duration::from_secs_f64(arg(flag).map_or(default, |s| s.parse().expect("seconds")))
    };
    let (warmup, measure) = (secs("--warmup", 3.0), secs("--measure", 5.0));
    let only = arg("--only").unwrap_or_default();
    let connections: Vec<usize> = arg("--connections").map_or(CONNECTIONS.to_vec(), |s| {
        s.split(',')
            .map(|n| n.parse().expect("--connections: comma-separated counts"))
            .collect()
    });
    let round_trips: u64 = arg("--round-trips").map_or(u64::MAX, |n| n.parse().expect("count"));
    let sizes: Vec<usize> = arg("--sizes").map_or(SIZES.to_vec(), |s| {
        s.split(',')
            .map(|n| n.parse().expect("--sizes: comma-separated byte counts"))
            .collect()
    });
    assert!(
        sizes.iter().all(|&n| n <= 65_535),
        "--sizes: at most 65 535 bytes"
    );

    println!(
        "loopback: server 1 tokio worker, load generator 1 current-thread runtime; \
         warm-up {warmup:?}, measured {measure:?} per run; load average at start: {}\n",
        load()
    );
    println!("| size | connections | library | messages/s | p50 RTT | p99 RTT |");
    println!("|---|---|---|---|---|---|");
    for &size in &sizes {
        for &conns in &connections {
            // A library's exact name picks that one (`ws-proto` is a prefix of another).
            let exact = LIBS.contains(&only.as_str());
            for lib in LIBS
                .into_iter()
                .filter(|l| if exact { *l == only } else { l.contains(&only) })
            {
                let mut rtts =
                    run(lib, conns, size, warmup, measure, round_trips).unwrap_or_else(|e| {
                        eprintln!("{lib}, {conns} connections, {size} B: {e}");
                        std::process::exit(1);
                    });
                rtts.sort_unstable();
                let pct = |p: usize| rtts[rtts.len() * p / 100] as f64 / 1e3;
                println!(
                    "| {size} B | {conns} | {lib} | {:.1} k | {:.1} µs | {:.1} µs |",
                    rtts.len() as f64 / measure.as_secs_f64() / 1e3,
                    pct(50),
                    pct(99),
                );
            }
        }
    }
    println!("\nload average at end: {}", load());
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or("?".into(), |s| s.trim().to_string())
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// One run: a fresh server, `conns` client connections, every measured RTT in nanoseconds.
fn run(
    lib: &'static str,
    conns: usize,
    size: usize,
    warmup: Duration,
    measure: Duration,
    round_trips: u64,
) -> io::Result<Vec<u32>> {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = server_rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let server = server_rt.spawn(serve(lib, listener, conns));
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rtts = client_rt.block_on(load_generator(
        addr,
        conns,
        size,
        warmup,
        measure,
        round_trips,
    ))?;
    // Every connection must have ended cleanly on the server too.
    server_rt
        .block_on(async { timeout(STEP, server).await })?
        .map_err(other)??;
    server_rt.shutdown_timeout(STEP);
    if rtts.is_empty() {
        return Err(other("no round trip measured"));
    }
    Ok(rtts)
}

// ---------------------------------------------------------------------------------------
// The server: one accept loop, one echo task per connection.

/// Accepts exactly `conns` connections and waits for all of them to end.
async fn serve(lib: &str, listener: TcpListener, conns: usize) -> io::Result<()> {
    let mut tasks = JoinSet::new();
    for _ in 0..conns {
        let (stream, _) = timeout(STEP, listener.accept()).await??;
        stream.set_nodelay(true)?;
        match lib {
            "ws-proto" => tasks.spawn(ws_proto_echo(stream)),
            "ws-proto-io" => tasks.spawn(ws_proto_io_echo(stream)),
            "tokio-tungstenite" => tasks.spawn(tokio_tungstenite_echo(stream)),
            "tungstenite" => tasks.spawn(tungstenite_echo(stream)),
            _ => tasks.spawn(fastwebsockets_echo(stream)),
        };
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(other)??;
    }
    Ok(())
}

/// The sans-IO loop of `examples/tokio-echo.rs`, without copying messages out: the event
/// borrows the caller's buffer and is queued straight back (`send_binary`).
async fn ws_proto_echo(mut stream: TcpStream) -> io::Result<()> {
    let mut conn = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    let mut buf = Vec::new();
    loop {
        while let Some(event) = conn.poll_event(&mut buf) {
            match event {
                Event::Request(_) => conn.accept(&Accept::default()).map_err(other)?,
                Event::Binary(data) => conn.send_binary(data).map_err(other)?,
                Event::Text(text) => conn.send_text(text).map_err(other)?,
                Event::Closed(Closed {
                    cause: CloseCause::ProtocolError(e),
                    ..
                }) => return Err(other(e)),
                _ => {} // Closed (a Close is answered by the connection), Ping, Pong
            }
        }
        loop {
            let out = conn.poll_transmit();
            if out.is_empty() {
                break;
            }
            let n = out.len();
            stream.write_all(&out).await?;
            out.advance(n);
        }
        if conn.should_close_transport() {
            return Ok(());
        }
        let mut rb = conn.read_buf();
        match stream.read(&mut rb).await? {
            0 => conn.handle_eof(),
            n => rb.commit(n),
        }
    }
}

/// The tokio driver of ws-proto-io (`ws_proto_io::tokio`), as its documentation shows:
/// `accept`, then `next()` / `send()` of owned `Message`s.
async fn ws_proto_io_echo(stream: TcpStream) -> io::Result<()> {
    use ws_proto_io::Message;
    let mut ws = ws_proto_io::tokio::accept(stream).await.map_err(other)?;
    while let Some(message) = ws.next().await {
        match message.map_err(other)? {
            message @ (Message::Binary(_) | Message::Text(_)) => {
                ws.send(message).await.map_err(other)?
            }
            _ => {} // Ping (answered), Pong, the Close (answered; the stream then ends)
        }
    }
    Ok(())
}

/// tokio-tungstenite, as its README shows: `accept_async`, then `next()` / `send()`.
async fn tokio_tungstenite_echo(stream: TcpStream) -> io::Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Error, Message};
    let mut ws = tokio_tungstenite::accept_async(stream)
        .await
        .map_err(other)?;
    while let Some(message) = ws.next().await {
        match message {
            Ok(message @ (Message::Binary(_) | Message::Text(_))) => {
                ws.send(message).await.map_err(other)?
            }
            Ok(_) => {}
            Err(Error::ConnectionClosed) => break,
            Err(e) => return Err(other(e)),
        }
    }
    Ok(())
}

/// tungstenite is blocking-style: over a non-blocking socket it returns `WouldBlock`, and
/// the task waits for readiness (what `tokio-tungstenite` does with its waker plumbing).
struct NonBlocking(TcpStream);

impl Read for NonBlocking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for NonBlocking {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

async fn tungstenite_echo(stream: TcpStream) -> io::Result<()> {
    use tungstenite::{Error, HandshakeError, Message};
    let would_block =
        |e: &Error| matches!(e, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock);
    let mut handshake = tungstenite::accept(NonBlocking(stream));
    let mut ws = loop {
        match handshake {
            Ok(ws) => break ws,
            // The response is small and goes out at once: only reads can be pending.
            Err(HandshakeError::Interrupted(mid)) => {
                mid.get_ref().get_ref().0.readable().await?;
                handshake = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) => return Err(other(e)),
        }
    };
    loop {
        match ws.read() {
            Ok(message @ (Message::Binary(_) | Message::Text(_))) => {
                let mut sent = ws.send(message);
                while let Err(e) = &sent {
                    if !would_block(e) {
                        return Err(other(e));
                    }
                    ws.get_ref().0.writable().await?;
                    sent = ws.flush();
                }
            }
            Ok(_) => {} // Ping, Pong, Close: the replies are queued and flushed by `read`
            Err(e) if would_block(&e) => ws.get_ref().0.readable().await?,
            Err(Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(other(e)),
        }
    }
}

/// fastwebsockets leaves the HTTP handshake to hyper (its `upgrade` feature); here the
/// request is parsed and answered with ws-proto's handshake helpers (not timed), then the
/// echo loop of its README: `FragmentCollector` + `read_frame` / `write_frame`.
async fn fastwebsockets_echo(mut stream: TcpStream) -> io::Result<()> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    let mut head = Vec::new();
    let mut parser = HeadParser::new(HeadLimits::default());
    while parser.advance(&head).map_err(other)?.is_none() {
        if timeout(STEP, stream.read_buf(&mut head)).await?? == 0 {
            return Err(other("EOF in the request head"));
        }
    }
    let request = parse_request(&head).map_err(other)?;
    let response = accept_response(&request, &Accept::default()).map_err(other)?;
    stream.write_all(&response).await?;
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await.map_err(other)?;
        match frame.opcode {
            OpCode::Close => return Ok(()), // answered by `read_frame` (auto-close)
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await.map_err(other)?,
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// The load generator: raw TCP, the same bytes whatever the server.

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
/// The `Sec-WebSocket-Accept` for that key (RFC 6455 §1.3).
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Connects and handshakes all connections, then runs them together.
async fn load_generator(
    addr: SocketAddr,
    conns: usize,
    size: usize,
    warmup: Duration,
    measure: Duration,
    round_trips: u64,
) -> io::Result<Vec<u32>> {
    let mut tasks = JoinSet::new();
    for _ in 0..conns {
        tasks.spawn(async move { timeout(STEP, connect(addr)).await? });
    }
    let mut streams = Vec::new();
    while let Some(stream) = tasks.join_next().await {
        streams.push(stream.map_err(other)??);
    }
    let start = Instant::now();
    let (measured_from, stop) = (start + warmup, start + warmup + measure);
    let mut tasks = JoinSet::new();
    for (id, stream) in streams.into_iter().enumerate() {
        tasks.spawn(ping_pong(
            stream,
            id,
            size,
            measured_from,
            stop,
            round_trips,
        ));
    }
    let mut rtts = Vec::new();
    while let Some(result) = tasks.join_next().await {
        rtts.extend(result.map_err(other)??);
    }
    Ok(rtts)
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(REQUEST).await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read_buf(&mut head).await? == 0 {
            return Err(other("EOF in the handshake response"));
        }
    }
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 101") || !head.contains(ACCEPT) {
        return Err(other(format!("bad handshake response: {head:?}")));
    }
    Ok(stream)
}

/// Masked binary frame of `payload` (client → server).
fn masked_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.clear();
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..126 => out.push(0x80 | n as u8),
        n => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

/// Sends, waits for the echo, checks it; until `stop` or `round_trips`. RTTs (ns) from `measured_from` on.
async fn ping_pong(
    mut stream: TcpStream,
    id: usize,
    size: usize,
    measured_from: Instant,
    stop: Instant,
    round_trips: u64,
) -> io::Result<Vec<u32>> {
    let mask = (id as u32 ^ 0xa5c3_e10f).to_be_bytes();
    let mut payload: Vec<u8> = (0..size).map(|i| (i ^ id) as u8).collect();
    // The echo: an unmasked frame with the same payload.
    let header: &[u8] = if size < 126 {
        &[0x82, size as u8]
    } else {
        &[0x82, 126, (size >> 8) as u8, size as u8]
    };
    let mut out = Vec::new();
    let mut back = vec![0; header.len() + size];
    let mut rtts = Vec::new();
    for seq in 1..=round_trips {
        let sent_at = Instant::now();
        if sent_at >= stop {
            break;
        }
        payload[..8].copy_from_slice(&seq.to_le_bytes()); // every message differs
        masked_frame(&mut out, 0x2, &payload, mask);
        stream.write_all(&out).await?;
        timeout(STEP, stream.read_exact(&mut back)).await??;
        if back[..header.len()] != *header || back[header.len()..] != payload {
            return Err(other(format!(
                "connection {id}: echo of message {seq} differs from what was sent"
            )));
        }
        if sent_at >= measured_from {
            rtts.push(sent_at.elapsed().as_nanos() as u32);
        }
    }
    // Close (1000), then the server's Close and the end of the stream.
    masked_frame(&mut out, 0x8, &1000u16.to_be_bytes(), mask);
    stream.write_all(&out).await?;
    let mut rest = Vec::new();
    timeout(STEP, stream.read_to_end(&mut rest)).await??;
    if rest.first() != Some(&0x88) {
        return Err(other(format!(
            "connection {id}: no Close frame from the server"
        )));
    }
    Ok(rtts)
}
