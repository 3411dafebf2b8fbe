//! Memory held by a connection: bounded by its contents, and given back on request or
//! after an idle interval.

mod common;

use common::*;
use std::time::Duration;

use ws_proto::{Config, Connection, Event, Role};

#[test]
fn shrink_buffers_gives_back_what_a_large_message_left() {
    let mut server = conn_default(Role::Server);
    let mut client = conn_default(Role::Client);
    assert!(
        server.heap_usage() < 1024,
        "idle after creation: {}",
        server.heap_usage()
    );

    let big = vec![7u8; 1 << 20];
    client.send_binary(&big).unwrap();
    let wire = client.poll_transmit().to_vec();
    client.poll_transmit().advance(wire.len());
    for piece in wire.chunks(64 << 10) {
        server.handle_bytes(piece);
    }
    let mut buf = Vec::new();
    assert_eq!(server.poll_event(&mut buf), Some(Event::Binary(&big)));
    server.send_binary(&big).unwrap(); // the echo, not yet written
    drop(buf);
    let held = server.heap_usage();
    assert!(held > 1 << 20, "{held}");

    // With the echo still queued, its bytes are kept...
    server.shrink_buffers();
    assert!(server.heap_usage() >= (1 << 20) + 4);
    // ...and once written, nearly everything goes.
    let n = server.poll_transmit().len();
    server.poll_transmit().advance(n);
    server.shrink_buffers();
    assert!(
        server.heap_usage() < 1024,
        "after shrinking: {}",
        server.heap_usage()
    );

    // The connection still works.
    client.send_text("again").unwrap();
    let wire = client.poll_transmit().to_vec();
    server.handle_bytes(&wire);
    let mut buf = Vec::new();
    assert_eq!(server.poll_event(&mut buf), Some(Event::Text("again")));
}

#[test]
fn shrink_buffers_keeps_a_partial_frame() {
    let mut server = conn_default(Role::Server);
    let mut client = conn_default(Role::Client);
    client.send_text("hello, world").unwrap();
    let wire = client.poll_transmit().to_vec();
    server.handle_bytes(&wire[..5]);
    let mut buf = Vec::new();
    assert_eq!(server.poll_event(&mut buf), None);
    server.shrink_buffers();
    server.handle_bytes(&wire[5..]);
    assert_eq!(
        server.poll_event(&mut buf),
        Some(Event::Text("hello, world"))
    );
}

const S: Duration = Duration::from_secs(1);

/// A server at time 0 that has received a 1 MiB message (in 64 KiB reads through
/// `read_buf`) at time `at` and written its 1 MiB echo.
fn after_big_message(config: Config, at: Duration) -> Connection {
    let mut server = conn(Role::Server, config);
    let mut client = conn_default(Role::Client);
    server.handle_timeout(Duration::ZERO);
    server.handle_timeout(at);
    let big = vec![7u8; 1 << 20];
    client.send_binary(&big).unwrap();
    let wire = client.poll_transmit().to_vec();
    let mut pos = 0;
    while pos < wire.len() {
        let mut dst = server.read_buf();
        let n = dst.len().min(64 << 10).min(wire.len() - pos);
        dst[..n].copy_from_slice(&wire[pos..pos + n]);
        dst.commit(n);
        pos += n;
    }
    let mut buf = Vec::new();
    assert_eq!(server.poll_event(&mut buf), Some(Event::Binary(&big)));
    server.send_binary(&big).unwrap();
    let n = server.poll_transmit().len();
    server.poll_transmit().advance(n);
    server
}

#[test]
fn an_idle_connection_gives_its_buffers_back_by_itself() {
    let mut server = after_big_message(Config::default(), 5 * S);
    assert!(server.heap_usage() > 1 << 20, "{}", server.heap_usage());
    // The default idle_shrink is 10 s after the last traffic.
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(15 * S));
    server.handle_timeout(14 * S);
    assert!(server.heap_usage() > 1 << 20);
    server.handle_timeout(15 * S);
    assert!(
        server.heap_usage() < 1024,
        "idle: {} bytes",
        server.heap_usage()
    );
    // Nothing more to give back: no further wake-up.
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), None);
}

#[test]
fn traffic_postpones_the_idle_shrink() {
    let mut server = after_big_message(Config::default(), Duration::ZERO);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(10 * S));
    // A small message at 8 s restarts the interval.
    server.handle_timeout(8 * S);
    let ping = peer_frame(Role::Server, true, PING, b"x");
    let mut dst = server.read_buf();
    dst[..ping.len()].copy_from_slice(&ping);
    dst.commit(ping.len());
    assert_eq!(events(&mut server), [Owned::Ping(b"x".to_vec())]);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(18 * S));
    server.handle_timeout(10 * S);
    assert!(server.heap_usage() > 1 << 20, "{}", server.heap_usage());
    // The Pong written at 12 s counts as traffic too.
    server.handle_timeout(12 * S);
    let n = server.poll_transmit().len();
    assert!(n > 0);
    server.poll_transmit().advance(n);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(22 * S));
    server.handle_timeout(22 * S);
    assert!(server.heap_usage() < 1024, "{}", server.heap_usage());
}

#[test]
fn idle_shrink_off_keeps_buffers_and_sets_no_deadline() {
    let mut config = Config::default();
    config.idle_shrink = None;
    let mut server = after_big_message(config, S);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), None);
    server.handle_timeout(1000 * S);
    assert!(server.heap_usage() > 1 << 20);
}

#[test]
fn small_traffic_sets_no_idle_deadline() {
    // Buffers that hold under 1 KiB have nothing to give back: no wake-ups for them.
    let mut server = conn_default(Role::Server);
    server.handle_timeout(Duration::ZERO);
    server.handle_bytes(&peer_frame(Role::Server, true, TEXT, b"hi"));
    assert_eq!(events(&mut server), [Owned::text("hi")]);
    assert!(server.heap_usage() < 1024);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), None);
}

#[test]
fn zlib_state_without_context_is_given_back_by_the_idle_timer() {
    // permessage-deflate without context takeover both ways: the state holds nothing the
    // next message needs, so an idle connection drops it (and allocates it again on use).
    let params = ws_proto::DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let negotiated = ws_proto::Negotiated::new().with_deflate(params);
    let mut server = Connection::upgraded(
        Role::Server,
        negotiated,
        Config::default(),
        ws_proto::Timestamp::ZERO,
    );
    let text = "a compressible chat line, a compressible chat line ".repeat(20);
    server.send_text(&text).unwrap();
    let n = server.poll_transmit().len();
    server.poll_transmit().advance(n);
    assert!(server.heap_usage() > 200 << 10, "{}", server.heap_usage());
    // The default idle_shrink: 10 s after the last traffic.
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(10 * S));
    server.handle_timeout(10 * S);
    assert!(server.heap_usage() < 4 << 10, "{}", server.heap_usage());
    // And it still compresses afterwards.
    server.send_text(&text).unwrap();
    let wire = server.poll_transmit().to_vec();
    assert_eq!(wire[0] & 0x40, 0x40);
    assert!(wire.len() < text.len() / 4);
}
