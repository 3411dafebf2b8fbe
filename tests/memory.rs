//! Memory held by a connection: bounded by its contents, and given back on request.

mod common;

use common::*;
use ws_proto::{Event, Role};

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
    client.handle_transmitted(wire.len());
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
    server.handle_transmitted(n);
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
