//! RFC 6455 §5.7 examples, byte for byte, in both directions.

mod common;

use common::*;
use ws_proto::{Config, Connection, Role};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const FRAGMENT_HEL: [u8; 5] = [0x01, 0x03, 0x48, 0x65, 0x6c];
const FRAGMENT_LO: [u8; 4] = [0x80, 0x02, 0x6c, 0x6f];
const UNMASKED_PING: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const MASKED_PONG: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const HEADER_256: [u8; 4] = [0x82, 0x7E, 0x01, 0x00];
const HEADER_64K: [u8; 10] = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];

fn client_with_key() -> Connection {
    with_rng(Role::Client, Config::default(), Box::new(FixedRng(KEY)))
}

fn server() -> Connection {
    conn_default(Role::Server)
}

fn client() -> Connection {
    conn_default(Role::Client)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Feeds `bytes` whole, then one byte at a time, then in 3-byte chunks, into fresh
/// connections from `make`, and checks every way yields `expected`.
fn decodes_to(make: fn() -> Connection, bytes: &[u8], expected: &[Owned]) {
    let mut c = make();
    assert_eq!(feed(&mut c, bytes), expected, "whole");
    for sizes in [&[1usize][..], &[3], &[2, 7, 1]] {
        let mut c = make();
        assert_eq!(
            feed_chunked(&mut c, bytes, sizes),
            expected,
            "chunks {sizes:?}"
        );
        let mut c = make();
        assert_eq!(
            read_chunked(&mut c, bytes, sizes),
            expected,
            "read_buf chunks {sizes:?}"
        );
    }
}

// ---- decoding ----

#[test]
fn decode_single_frame_unmasked_text() {
    decodes_to(client, &UNMASKED_HELLO, &[Owned::text("Hello")]);
}

#[test]
fn decode_single_frame_masked_text() {
    decodes_to(server, &MASKED_HELLO, &[Owned::text("Hello")]);
}

#[test]
fn decode_fragmented_unmasked_text() {
    let bytes = [&FRAGMENT_HEL[..], &FRAGMENT_LO[..]].concat();
    decodes_to(client, &bytes, &[Owned::text("Hello")]);
}

#[test]
fn decode_fragmented_text_streaming() {
    let mut c = conn(Role::Client, streaming());
    let bytes = [&FRAGMENT_HEL[..], &FRAGMENT_LO[..]].concat();
    assert_eq!(
        feed(&mut c, &bytes),
        [
            Owned::TextPiece("Hel".into(), false),
            Owned::TextPiece("lo".into(), true)
        ]
    );
}

#[test]
fn decode_unmasked_ping() {
    decodes_to(client, &UNMASKED_PING, &[Owned::Ping(b"Hello".to_vec())]);
}

#[test]
fn decode_masked_pong() {
    decodes_to(server, &MASKED_PONG, &[Owned::Pong(b"Hello".to_vec())]);
}

#[test]
fn decode_256_byte_binary() {
    let payload = pattern(256);
    let bytes = [&HEADER_256[..], &payload].concat();
    decodes_to(client, &bytes, &[Owned::Binary(payload)]);
}

#[test]
fn decode_64k_binary() {
    let payload = pattern(65536);
    let bytes = [&HEADER_64K[..], &payload].concat();
    let mut c = client();
    assert_eq!(feed(&mut c, &bytes), [Owned::Binary(payload.clone())]);
    let mut c = client();
    assert_eq!(
        feed_chunked(&mut c, &bytes, &[1, 2, 3, 4, 5, 1000, 4093]),
        [Owned::Binary(payload)]
    );
}

#[test]
fn decode_64k_binary_masked() {
    // The same message from a client: 0x82 0xFF, the 64-bit length, the key.
    let payload = pattern(65536);
    let mut bytes = vec![0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    bytes.extend_from_slice(&KEY);
    bytes.extend(xor(&payload, KEY));
    let mut s = server();
    assert_eq!(
        feed_chunked(&mut s, &bytes, &[5, 1, 4099]),
        [Owned::Binary(payload)]
    );
}

// ---- encoding ----

#[test]
fn encode_server_text_hello() {
    let mut s = server();
    s.send_text("Hello").unwrap();
    assert_eq!(drain(&mut s), UNMASKED_HELLO);
}

#[test]
fn encode_client_masked_text_hello() {
    let mut c = client_with_key();
    c.send_text("Hello").unwrap();
    assert_eq!(drain(&mut c), MASKED_HELLO);
}

#[test]
fn encode_fragmented_hello_with_parts() {
    let mut s = server();
    s.send_text_part("Hel", false).unwrap();
    s.send_text_part("lo", true).unwrap();
    assert_eq!(
        drain(&mut s),
        [&FRAGMENT_HEL[..], &FRAGMENT_LO[..]].concat()
    );
}

#[test]
fn encode_fragmented_hello_with_fragment_size() {
    let mut config = Config::default();
    config.fragment_size = Some(3);
    let mut s = conn(Role::Server, config);
    s.send_text("Hello").unwrap();
    assert_eq!(
        drain(&mut s),
        [&FRAGMENT_HEL[..], &FRAGMENT_LO[..]].concat()
    );
}

#[test]
fn encode_unmasked_ping() {
    let mut s = server();
    s.send_ping(b"Hello").unwrap();
    assert_eq!(drain(&mut s), UNMASKED_PING);
}

#[test]
fn encode_masked_pong() {
    let mut c = client_with_key();
    c.send_pong(b"Hello").unwrap();
    assert_eq!(drain(&mut c), MASKED_PONG);
}

#[test]
fn ping_example_is_answered_with_pong_example() {
    // A client receiving the RFC's Ping answers with exactly the RFC's masked Pong.
    let mut c = client_with_key();
    assert_eq!(
        feed(&mut c, &UNMASKED_PING),
        [Owned::Ping(b"Hello".to_vec())]
    );
    assert_eq!(drain(&mut c), MASKED_PONG);
}

#[test]
fn encode_256_byte_binary() {
    let payload = pattern(256);
    let mut s = server();
    s.send_binary(&payload).unwrap();
    assert_eq!(drain(&mut s), [&HEADER_256[..], &payload].concat());
}

#[test]
fn encode_64k_binary() {
    let payload = pattern(65536);
    let mut s = server();
    s.send_binary(&payload).unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 10 + 65536);
    assert_eq!(out[..10], HEADER_64K);
    assert!(out[10..] == payload[..]);
}

#[test]
fn encode_length_boundaries() {
    // 125 / 126 / 65535 / 65536 bytes: 7-bit, 16-bit, 16-bit, 64-bit lengths.
    let cases: [(usize, &[u8]); 4] = [
        (125, &[0x82, 0x7D]),
        (126, &[0x82, 0x7E, 0x00, 0x7E]),
        (65535, &[0x82, 0x7E, 0xFF, 0xFF]),
        (65536, &HEADER_64K),
    ];
    for (len, header) in cases {
        let payload = pattern(len);
        let mut s = server();
        s.send_binary(&payload).unwrap();
        let out = drain(&mut s);
        assert_eq!(out[..header.len()], *header, "len {len}");
        assert_eq!(out.len(), header.len() + len, "len {len}");
    }
}

#[test]
fn client_encodes_rfc_key_in_every_frame_header() {
    let mut c = client_with_key();
    c.send_binary(&pattern(256)).unwrap();
    let out = drain(&mut c);
    assert_eq!(out[..8], [0x82, 0xFE, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d]);
    assert_eq!(out[8..], xor(&pattern(256), KEY)[..]);
}
