//! `PreparedMessage` and `Connection::send_prepared`: the same bytes as `send_text` /
//! `send_binary` for every negotiation, the same refusals, and the compressed payload
//! computed once for the connections that can share it.
#![cfg(feature = "deflate")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use ws_proto::{
    Config, Connection, DeflateParams, Negotiated, PreparedMessage, Role, SendError, Timestamp,
};

/// Bytes allocated by threads that are measuring (the harness runs tests in parallel
/// threads, whose allocations must not count).
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    static MEASURING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count(bytes: usize) {
    if MEASURING.with(|m| m.get()) {
        ALLOCATED.fetch_add(bytes, Ordering::SeqCst);
    }
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is
// updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same layout as given to us.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn params(server_nct: bool, server_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: false,
        server_max_window_bits: server_bits,
        client_max_window_bits: 15,
    }
}

fn open(role: Role, negotiated: Negotiated, config: Config) -> Connection {
    Connection::upgraded_with_rng(
        role,
        negotiated,
        config,
        Timestamp::ZERO,
        Box::new(XorShift(7)),
    )
}

/// Messages of every kind of size: under `min_message_size`, small, 1 KiB, large.
fn messages() -> Vec<String> {
    let line = r#"{"user":"ann","text":"hello hello, the quick brown fox"}"#;
    vec![
        "hi".into(),
        line.into(),
        line.repeat(20),
        "".into(),
        line.repeat(2000),
        line.into(),
    ]
}

/// For one negotiation and config: a twin pair of connections, one fed `send_text`, the
/// other `send_prepared`, must queue the same bytes, message after message.
fn same_bytes(role: Role, negotiated: Negotiated, config: Config) {
    let mut direct = open(role, negotiated.clone(), config.clone());
    let mut prepared = open(role, negotiated, config);
    for (i, text) in messages().iter().enumerate() {
        let message = if i % 2 == 0 {
            PreparedMessage::text(text.as_str())
        } else {
            PreparedMessage::binary(text.as_bytes())
        };
        // Twice through the same message: the second use of the shared bytes.
        for _ in 0..2 {
            if message.is_text() {
                direct.send_text(text).unwrap();
            } else {
                direct.send_binary(text.as_bytes()).unwrap();
            }
            prepared.send_prepared(&message).unwrap();
            assert_eq!(drain(&mut prepared), drain(&mut direct), "message {i}");
        }
    }
}

#[test]
fn the_bytes_are_those_of_send_text_for_every_negotiation() {
    let default = Config::default();
    let fragmented = Config::default().with_fragment_size(Some(100));
    let level6 = Config::default().with_deflate(
        ws_proto::DeflateConfig::default()
            .with_level(6)
            .with_mem_level(4),
    );
    let cases = [
        ("no deflate", Negotiated::new()),
        ("shared", Negotiated::new().with_deflate(params(true, 15))),
        (
            "shared, 10 bits",
            Negotiated::new().with_deflate(params(true, 10)),
        ),
        (
            "takeover",
            Negotiated::new().with_deflate(params(false, 15)),
        ),
        (
            "8-bit window",
            Negotiated::new().with_deflate(params(true, 8)),
        ),
    ];
    for role in [Role::Server, Role::Client] {
        for (name, negotiated) in &cases {
            for config in [&default, &fragmented, &level6] {
                let run = std::panic::catch_unwind(|| {
                    same_bytes(role, negotiated.clone(), config.clone())
                });
                assert!(run.is_ok(), "{role:?}, {name}, {config:?}");
            }
        }
    }
}

#[test]
fn one_message_serves_connections_with_different_settings() {
    // The shared bytes are per compressor settings: a 10-bit and a 15-bit connection in
    // turn, then again, each get their own.
    let message = PreparedMessage::text(r#"{"text":"hello hello hello hello hello"}"#.repeat(30));
    let text = std::str::from_utf8(message.payload()).unwrap().to_owned();
    for bits in [10, 15, 10, 15] {
        let negotiated = Negotiated::new().with_deflate(params(true, bits));
        let mut a = open(Role::Server, negotiated.clone(), Config::default());
        let mut b = open(Role::Server, negotiated, Config::default());
        a.send_text(&text).unwrap();
        b.send_prepared(&message).unwrap();
        assert_eq!(drain(&mut a), drain(&mut b), "{bits} bits");
    }
}

#[test]
fn refusals_are_those_of_send_text() {
    let message = PreparedMessage::text("x".repeat(1000));
    let shared = Negotiated::new().with_deflate(params(true, 15));
    for negotiated in [Negotiated::new(), shared] {
        // The outbound limit: nothing queued.
        let mut small = open(
            Role::Server,
            negotiated.clone(),
            Config::default().with_max_outbound_buffer(4),
        );
        assert_eq!(
            small.send_prepared(&PreparedMessage::text("y".repeat(100))),
            Err(SendError::Backpressure)
        );
        assert_eq!(small.buffered_amount(), 0);
        // A streamed message in progress.
        let mut busy = open(Role::Server, negotiated.clone(), Config::default());
        busy.send_text_part("part", false).unwrap();
        assert_eq!(
            busy.send_prepared(&message),
            Err(SendError::MessageInProgress)
        );
        // After our Close.
        let mut closed = open(Role::Server, negotiated.clone(), Config::default());
        closed.close(ws_proto::CloseCode::NORMAL, "").unwrap();
        assert_eq!(closed.send_prepared(&message), Err(SendError::Closed));
        // Before the handshake.
        let mut early = Connection::server(Config::default(), Timestamp::ZERO);
        assert_eq!(early.send_prepared(&message), Err(SendError::NotOpen));
    }
}

#[test]
fn the_compressed_payload_is_computed_once() {
    // Without context takeover, `send_text` builds a compressor per connection (hundreds
    // of KiB each); `send_prepared` builds one for the first connection only.
    let message = PreparedMessage::text(r#"{"text":"hello, the quick brown fox"}"#.repeat(30));
    let text = std::str::from_utf8(message.payload()).unwrap().to_owned();
    let negotiated = Negotiated::new().with_deflate(params(true, 15));
    let mut connections: Vec<Connection> = (0..50)
        .map(|_| open(Role::Server, negotiated.clone(), Config::default()))
        .collect();
    let mut measure = |send: &dyn Fn(&mut Connection)| {
        for c in &mut connections {
            drain(c);
        }
        let before = ALLOCATED.load(Ordering::SeqCst);
        MEASURING.with(|m| m.set(true));
        for c in &mut connections {
            send(c);
        }
        MEASURING.with(|m| m.set(false));
        ALLOCATED.load(Ordering::SeqCst) - before
    };
    let prepared = measure(&|c| c.send_prepared(&message).unwrap());
    let direct = measure(&|c| c.send_text(&text).unwrap());
    assert!(
        prepared * 20 < direct,
        "prepared {prepared} B allocated, send_text {direct} B"
    );
}
