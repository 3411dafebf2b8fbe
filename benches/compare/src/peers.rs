//! One run of one workload by one implementation, each driven the way its documentation
//! shows, over the same in-memory transport ([`MemIo`]).

use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload};
use tokio::runtime::Runtime;
use ws_proto::{Config, Connection, Event, Role};

use crate::inputs::{Dir, Tally, Workload};
use crate::io::{MemIo, READ_SIZE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lib {
    WsProto,
    Tungstenite,
    Fastwebsockets,
    Yawc,
    /// Plain memcpy, the floor: receive = the socket's copy of every byte (64 KiB
    /// reads) and nothing else; send = header and payload copied to the socket per message.
    Floor,
}

pub const LIBS: [Lib; 5] = [
    Lib::WsProto,
    Lib::Tungstenite,
    Lib::Fastwebsockets,
    Lib::Yawc,
    Lib::Floor,
];

impl Lib {
    pub fn name(self) -> &'static str {
        match self {
            Lib::WsProto => "ws-proto",
            Lib::Tungstenite => "tungstenite",
            Lib::Fastwebsockets => "fastwebsockets",
            Lib::Yawc => "yawc",
            Lib::Floor => "floor",
        }
    }

    pub fn parse(name: &str) -> Option<Lib> {
        LIBS.into_iter().find(|l| l.name() == name)
    }
}

/// Runs `w` once with a fresh connection, making `repeat` passes over its input. `full`
/// checksums every byte and keeps everything sent (verification runs).
pub fn run(lib: Lib, w: &Workload, repeat: usize, full: bool, rt: &Runtime) -> Tally {
    let count = w.messages(repeat);
    match (&w.dir, lib) {
        (Dir::Recv(r), Lib::WsProto) => ws_proto_recv(Role::Server, &r.wire, repeat, full),
        (Dir::Recv(r), Lib::Tungstenite) => tungstenite_recv(w, &r.wire, repeat, full),
        (Dir::Recv(r), Lib::Fastwebsockets) => rt.block_on(fastwebsockets_recv(
            w,
            r.fragments > 1,
            &r.wire,
            repeat,
            full,
        )),
        (Dir::Recv(r), Lib::Yawc) => rt.block_on(yawc_recv(w, &r.wire, repeat, full)),
        (Dir::Recv(r), Lib::Floor) => floor_recv(w, &r.wire, repeat),
        (&Dir::Send { client }, lib) => {
            let io = match lib {
                Lib::WsProto => ws_proto_send(w, client, count, full),
                Lib::Tungstenite => tungstenite_send(w, client, count, full),
                Lib::Fastwebsockets => rt.block_on(fastwebsockets_send(w, client, count, full)),
                Lib::Yawc => rt.block_on(yawc_send(w, client, count, full)),
                Lib::Floor => floor_send(w, client, count),
            };
            if !full {
                return Tally {
                    messages: count as u64,
                    bytes: io.written as u64,
                    check: 0,
                };
            }
            // Decode what was sent, in the other role, with ws-proto.
            let receiver = if client { Role::Server } else { Role::Client };
            ws_proto_recv(receiver, &io.sink, 1, true)
        }
    }
}

/// ws-proto's `read_chunk` when receiving: [`READ_SIZE`], or `COMPARE_READ_CHUNK` (bytes;
/// `default` for `Config::default()`'s, which the sweep uses).
fn read_chunk() -> usize {
    static CHUNK: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CHUNK.get_or_init(|| match std::env::var("COMPARE_READ_CHUNK").as_deref() {
        Err(_) => READ_SIZE,
        Ok("default") => Config::default().read_chunk,
        Ok(n) => n
            .parse()
            .expect("COMPARE_READ_CHUNK: a byte count or `default`"),
    })
}

/// Fed in reads of up to 64 KiB through `read_buf`/`ReadBuf::commit`; one event buffer reused.
fn ws_proto_recv(role: Role, wire: &[u8], repeat: usize, full: bool) -> Tally {
    let mut config = Config::default();
    config.read_chunk = read_chunk();
    let mut conn = Connection::upgraded(
        role,
        ws_proto::Negotiated::new(),
        config,
        ws_proto::Timestamp::ZERO,
    );
    let mut io = MemIo::new(wire, repeat, false);
    let mut buf = Vec::new();
    let mut tally = Tally::default();
    loop {
        let mut read_buf = conn.read_buf();
        let n = io.read_into(&mut read_buf);
        if n == 0 {
            return tally;
        }
        read_buf.commit(n);
        while let Some(event) = conn.poll_event(&mut buf) {
            match event {
                Event::Binary(data) => tally.add(data, full),
                Event::Text(text) => tally.add(text.as_bytes(), full),
                other => panic!("ws-proto: unexpected {other:?}"),
            }
        }
    }
}

fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

fn tungstenite_recv(w: &Workload, wire: &[u8], repeat: usize, full: bool) -> Tally {
    use tungstenite::{Message, WebSocket, protocol::Role};
    let io = MemIo::new(wire, repeat, false);
    let mut ws = WebSocket::from_raw_socket(io, Role::Server, Some(tungstenite_config()));
    let mut tally = Tally::default();
    for _ in 0..w.messages(repeat) {
        match ws.read().expect("tungstenite read") {
            Message::Binary(data) if !w.text => tally.add(&data, full),
            Message::Text(text) if w.text => tally.add(text.as_bytes(), full),
            other => panic!("tungstenite: unexpected {other:?}"),
        }
    }
    tally
}

/// `WebSocket::read_frame`, or its `FragmentCollector` for fragmented messages.
async fn fastwebsockets_recv(
    w: &Workload,
    fragmented: bool,
    wire: &[u8],
    repeat: usize,
    full: bool,
) -> Tally {
    use fastwebsockets::{Role, WebSocket};
    let mut ws = WebSocket::after_handshake(MemIo::new(wire, repeat, false), Role::Server);
    ws.set_max_message_size(64 << 20);
    let opcode = if w.text { OpCode::Text } else { OpCode::Binary };
    let mut tally = Tally::default();
    if fragmented {
        let mut ws = FragmentCollector::new(ws);
        for _ in 0..w.messages(repeat) {
            let frame = ws.read_frame().await.expect("fastwebsockets read");
            assert!(frame.opcode == opcode && frame.fin);
            tally.add(&frame.payload, full);
        }
    } else {
        for _ in 0..w.messages(repeat) {
            let frame = ws.read_frame().await.expect("fastwebsockets read");
            assert!(frame.opcode == opcode && frame.fin);
            tally.add(&frame.payload, full);
        }
    }
    tally
}

/// yawc's options: no compression, text validated (`with_utf8`, off by default), and frame
/// and message limits of 64 MiB like the other peers' (its limits are exclusive, and its
/// default of 1 MiB would refuse the 1 MiB workload).
pub fn yawc_options() -> yawc::Options {
    yawc::Options::default()
        .without_compression()
        .with_utf8()
        .with_limits(64 << 20, 64 << 20)
}

/// `WebSocket::from_stream` (no handshake) and `next_frame`, which reassembles fragmented
/// messages by default.
async fn yawc_recv(w: &Workload, wire: &[u8], repeat: usize, full: bool) -> Tally {
    use yawc::{Role, WebSocket, frame::OpCode};
    let io = MemIo::new(wire, repeat, false);
    let mut ws = WebSocket::from_stream(io, Role::Server, yawc_options()).expect("yawc");
    let opcode = if w.text { OpCode::Text } else { OpCode::Binary };
    let mut tally = Tally::default();
    for _ in 0..w.messages(repeat) {
        let frame = ws.next_frame().await.expect("yawc read");
        assert!(frame.opcode() == opcode && frame.is_fin());
        tally.add(frame.payload(), full);
    }
    tally
}

fn floor_recv(w: &Workload, wire: &[u8], repeat: usize) -> Tally {
    let mut io = MemIo::new(wire, repeat, false);
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = io.read_into(&mut buf);
        if n == 0 {
            return w.expected(repeat, false);
        }
        std::hint::black_box(&mut buf);
    }
}

/// Payloads above this go out unbuffered (header + payload, vectored): fastwebsockets'
/// default `writev_threshold`, below which it copies into its write buffer too. Smaller
/// messages measured faster queued (one contiguous write), as it found as well.
const UNBUFFERED_ABOVE: usize = 1024;

/// Whether `ws_proto_send` uses the queued path, from `COMPARE_WS_PROTO_SEND`: `queued`
/// for `send_*` and `poll_transmit` always (the queued path), `unbuffered` for
/// the unbuffered sends always, in both roles (a client copying its payload to a scratch
/// buffer first); unset, unbuffered for servers above [`UNBUFFERED_ABOVE`] bytes and
/// queued otherwise (see `ws_proto_send`).
fn queued_send(client: bool, len: usize) -> bool {
    static MODE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let mode = MODE.get_or_init(|| std::env::var("COMPARE_WS_PROTO_SEND").ok());
    match mode.as_deref() {
        Some("queued") => true,
        Some("unbuffered") => false,
        _ => client || len <= UNBUFFERED_ABOVE,
    }
}

/// Per message, a server sending more than [`UNBUFFERED_ABOVE`] bytes calls
/// `send_*_unbuffered` and writes the returned header and the payload with one vectored
/// write (as fastwebsockets writes header + borrowed payload), then whatever
/// `poll_transmit` holds (nothing here: the fallback is not taken). Its payload is not
/// modified; the API takes `&mut [u8]`, so it is copied once, before the loop.
///
/// A client uses `send_*` and `poll_transmit`, the queued path. Unbuffered, its payload
/// would be masked in place, so a client that keeps its message (this workload reuses one
/// payload) would copy it to a scratch buffer per message first: the same one copy as the
/// queue's, and the one fastwebsockets' client makes (it masks an owned copy of a borrowed
/// payload). `COMPARE_WS_PROTO_SEND=unbuffered` measures that variant (callgrind: the same
/// instructions per message), and client text is queued by `send_text_unbuffered` anyway.
fn ws_proto_send(w: &Workload, client: bool, count: usize, full: bool) -> MemIo<'static> {
    let role = if client { Role::Client } else { Role::Server };
    let mut conn = Connection::upgraded(
        role,
        ws_proto::Negotiated::new(),
        Config::default(),
        ws_proto::Timestamp::ZERO,
    );
    let mut io = MemIo::new(&[], 1, full);
    let text = w.text_payload.as_deref();
    if queued_send(client, w.payload.len()) {
        for _ in 0..count {
            match text {
                Some(text) => conn.send_text(text),
                None => conn.send_binary(&w.payload),
            }
            .expect("ws-proto send");
            let out = conn.poll_transmit();
            let n = io.write_from([&out[..]]);
            out.advance(n);
        }
        return io;
    }
    let mut payload = w.payload.clone();
    for _ in 0..count {
        let sent = match text {
            Some(text) => conn.send_text_unbuffered(text),
            None => {
                if client {
                    payload.copy_from_slice(&w.payload);
                }
                conn.send_binary_unbuffered(&mut payload)
            }
        }
        .expect("ws-proto send");
        if let Some(head) = sent {
            io.write_from([&head[..], &payload]);
        }
        let pending = conn.poll_transmit();
        if !pending.is_empty() {
            let n = io.write_from([&pending[..]]);
            pending.advance(n);
        }
    }
    io
}

/// `send` (write + flush) per message; the message holds a shared `Bytes`, so making it
/// per message is a reference-count increment, not a copy.
fn tungstenite_send(w: &Workload, client: bool, count: usize, full: bool) -> MemIo<'static> {
    use tungstenite::{Message, WebSocket, protocol::Role};
    let role = if client { Role::Client } else { Role::Server };
    let io = MemIo::new(&[], 1, full);
    let mut ws = WebSocket::from_raw_socket(io, role, Some(tungstenite_config()));
    let message = if w.text {
        Message::text(w.text_payload.clone().unwrap())
    } else {
        Message::binary(w.payload.clone())
    };
    for _ in 0..count {
        ws.send(message.clone()).expect("tungstenite send");
    }
    ws.into_inner()
}

/// `write_frame` with a borrowed payload (vectored writes above 1 KiB, its default).
async fn fastwebsockets_send(
    w: &Workload,
    client: bool,
    count: usize,
    full: bool,
) -> MemIo<'static> {
    use fastwebsockets::{Role, WebSocket};
    let role = if client { Role::Client } else { Role::Server };
    let mut ws = WebSocket::after_handshake(MemIo::new(&[], 1, full), role);
    for _ in 0..count {
        let payload = Payload::Borrowed(&w.payload);
        let frame = if w.text {
            Frame::text(payload)
        } else {
            Frame::binary(payload)
        };
        ws.write_frame(frame).await.expect("fastwebsockets send");
    }
    ws.into_inner()
}

/// `SinkExt::send` (start_send + flush) per message, with a shared `Bytes` payload (a
/// reference-count increment per message, not a copy); clients mask with a random key, as
/// yawc does by itself. The transport is borrowed, since yawc does not give it back.
async fn yawc_send(w: &Workload, client: bool, count: usize, full: bool) -> MemIo<'static> {
    use futures_util::SinkExt;
    use yawc::{Role, WebSocket, frame::Frame};
    let role = if client { Role::Client } else { Role::Server };
    let mut io = MemIo::new(&[], 1, full);
    let mut ws = WebSocket::from_stream(&mut io, role, yawc_options()).expect("yawc");
    let payload = bytes::Bytes::from(w.payload.clone());
    for _ in 0..count {
        let frame = if w.text {
            Frame::text(payload.clone())
        } else {
            Frame::binary(payload.clone())
        };
        ws.send(frame).await.expect("yawc send");
    }
    drop(ws);
    io
}

fn floor_send(w: &Workload, client: bool, count: usize) -> MemIo<'static> {
    let mut io = MemIo::new(&[], 1, false);
    let header = [0u8; 14];
    let header = &header[..crate::inputs::frame_len(w.payload.len(), client) - w.payload.len()];
    for _ in 0..count {
        io.write_from([header, &w.payload]);
    }
    io
}
