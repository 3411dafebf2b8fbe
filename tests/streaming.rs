//! Streaming delivery of incoming messages, streamed sends, and outgoing fragmentation.

mod common;

use common::*;
use ws_proto::{Config, Event, Role, SendError};

const ROLES: [Role; 2] = [Role::Server, Role::Client];

fn masked(role: Role) -> bool {
    role == Role::Client
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

// ---- incoming ----

#[test]
fn large_single_frame_in_chunks_yields_binary_pieces() {
    for role in ROLES {
        let payload = pattern(200_000, 3);
        let input = peer_frame(role, true, BINARY, &payload);
        for sizes in [&[4096usize][..], &[1, 10, 777, 5000], &[65536]] {
            let mut c = conn(role, streaming());
            let got = feed_chunked(&mut c, &input, sizes);
            assert!(got.len() > 1, "{sizes:?}: delivered in pieces");
            let mut all = Vec::new();
            for (i, event) in got.iter().enumerate() {
                let Owned::BinaryPiece(data, fin) = event else {
                    panic!("unexpected {event:?}");
                };
                assert_eq!(*fin, i + 1 == got.len(), "only the last piece has fin");
                assert!(!data.is_empty() || *fin);
                all.extend_from_slice(data);
            }
            assert!(
                all == payload,
                "{sizes:?}: concatenation equals the payload"
            );
        }
    }
}

#[test]
fn pieces_are_handed_out_as_bytes_arrive() {
    // With 1000-byte chunks, each chunk's payload bytes are a piece of their own.
    let payload = pattern(10_000, 9);
    let input = peer_frame(Role::Client, true, BINARY, &payload);
    let mut c = conn(Role::Client, streaming());
    // Header (4 bytes) alone: nothing.
    assert_eq!(feed(&mut c, &input[..4]), []);
    let mut pos = 4;
    while pos < input.len() {
        let end = (pos + 1000).min(input.len());
        let got = feed(&mut c, &input[pos..end]);
        assert_eq!(
            got,
            [Owned::BinaryPiece(
                payload[pos - 4..end - 4].to_vec(),
                end == input.len()
            )]
        );
        pos = end;
    }
}

#[test]
fn text_pieces_end_on_code_point_boundaries() {
    let text = "é€😀ж ok 日本語 🎉".repeat(20);
    for role in ROLES {
        let input = peer_frame(role, true, TEXT, text.as_bytes());
        let mut c = conn(role, streaming());
        let got = feed_chunked(&mut c, &input, &[1]);
        // One byte at a time: every completed code point is a piece of its own.
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(got.len(), chars.len());
        for (i, (event, ch)) in got.iter().zip(&chars).enumerate() {
            assert_eq!(
                *event,
                Owned::TextPiece(ch.to_string(), i + 1 == chars.len()),
                "piece {i}"
            );
        }
    }
}

#[test]
fn text_split_inside_code_points_across_fragments_and_reads() {
    // A 4-byte code point split over three frames, fed in 2-byte reads.
    let role = Role::Server;
    let input = [
        peer_frame(role, false, TEXT, b"a\xf0"),
        peer_frame(role, false, CONT, b"\x9f"),
        peer_frame(role, true, PING, b"mid"),
        peer_frame(role, false, CONT, b"\x98"),
        peer_frame(role, true, CONT, b"\x80b"),
    ]
    .concat();
    let mut c = conn(role, streaming());
    assert_eq!(
        feed(&mut c, &input),
        [
            Owned::TextPiece("a".into(), false),
            Owned::Ping(b"mid".to_vec()),
            Owned::TextPiece("😀b".into(), true),
        ]
    );
    let mut c = conn(role, streaming());
    let got = coalesce(
        feed_chunked(&mut c, &input, &[2])
            .into_iter()
            .filter(|e| !matches!(e, Owned::Ping(_)))
            .collect(),
    );
    assert_eq!(got, [Owned::TextPiece("a😀b".into(), true)]);
}

#[test]
fn empty_messages_yield_one_final_piece() {
    for role in ROLES {
        let mut c = conn(role, streaming());
        let input = [
            peer_frame(role, true, TEXT, b""),
            peer_frame(role, true, BINARY, b""),
            // Empty fragmented message: empty first frame, empty last frame.
            peer_frame(role, false, TEXT, b""),
            peer_frame(role, true, CONT, b""),
        ]
        .concat();
        assert_eq!(
            feed(&mut c, &input),
            [
                Owned::TextPiece(String::new(), true),
                Owned::BinaryPiece(vec![], true),
                Owned::TextPiece(String::new(), true),
            ]
        );
    }
}

#[test]
fn fragmented_message_with_control_frames_between_fragments() {
    for role in ROLES {
        let input = [
            peer_frame(role, false, BINARY, b"one"),
            peer_frame(role, true, PING, b"p1"),
            peer_frame(role, false, CONT, b""),
            peer_frame(role, true, PONG, b"p2"),
            peer_frame(role, true, CONT, b"two"),
            peer_frame(role, true, TEXT, b"next"),
        ]
        .concat();
        let mut c = conn(role, streaming());
        assert_eq!(
            feed(&mut c, &input),
            [
                Owned::BinaryPiece(b"one".to_vec(), false),
                Owned::Ping(b"p1".to_vec()),
                Owned::Pong(b"p2".to_vec()),
                Owned::BinaryPiece(b"two".to_vec(), true),
                Owned::TextPiece("next".into(), true),
            ]
        );
        // Whole delivery of the same bytes.
        let mut c = conn_default(role);
        assert_eq!(
            feed(&mut c, &input),
            [
                Owned::Ping(b"p1".to_vec()),
                Owned::Pong(b"p2".to_vec()),
                Owned::binary(b"onetwo"),
                Owned::text("next"),
            ]
        );
    }
}

// ---- outgoing streamed sends ----

#[test]
fn send_parts_produce_first_frame_continuations_and_final_fin() {
    for role in ROLES {
        let mut c = conn_default(role);
        c.send_text_part("ab", false).unwrap();
        c.send_text_part("", false).unwrap();
        c.send_ping(b"between").unwrap();
        c.send_text_part("cd", false).unwrap();
        c.send_text_part("ef", true).unwrap();
        c.send_binary_part(&[1], false).unwrap();
        c.send_binary_part(&[2, 3], true).unwrap();
        // A one-part message is a single final frame.
        c.send_binary_part(&[4], true).unwrap();
        let m = masked(role);
        assert_eq!(
            decode(&drain(&mut c)),
            [
                Wire::new(false, TEXT, m, b"ab"),
                Wire::new(false, CONT, m, b""),
                Wire::new(true, PING, m, b"between"),
                Wire::new(false, CONT, m, b"cd"),
                Wire::new(true, CONT, m, b"ef"),
                Wire::new(false, BINARY, m, &[1]),
                Wire::new(true, CONT, m, &[2, 3]),
                Wire::new(true, BINARY, m, &[4]),
            ]
        );
    }
}

#[test]
fn server_parts_exact_bytes() {
    let mut s = conn_default(Role::Server);
    s.send_binary_part(&[0xAA], false).unwrap();
    s.send_binary_part(&[0xBB], true).unwrap();
    assert_eq!(drain(&mut s), [0x02, 0x01, 0xAA, 0x80, 0x01, 0xBB]);
}

#[test]
fn message_in_progress_errors() {
    for role in ROLES {
        let mut c = conn_default(role);
        c.send_text_part("start", false).unwrap();
        let queued = c.buffered_amount();
        assert_eq!(c.send_text("whole"), Err(SendError::MessageInProgress));
        assert_eq!(c.send_binary(b"whole"), Err(SendError::MessageInProgress));
        assert_eq!(
            c.send_binary_part(b"other kind", false),
            Err(SendError::MessageInProgress)
        );
        assert_eq!(
            c.send_binary_part(b"other kind", true),
            Err(SendError::MessageInProgress)
        );
        assert_eq!(c.buffered_amount(), queued, "nothing queued");
        // Control frames are fine in between.
        c.send_pong(b"hb").unwrap();
        c.send_text_part("end", true).unwrap();
        // Finished: whole messages and the other kind work again.
        c.send_binary(b"b").unwrap();
        c.send_binary_part(b"x", false).unwrap();
        assert_eq!(
            c.send_text_part("t", true),
            Err(SendError::MessageInProgress)
        );
        c.send_binary_part(b"y", true).unwrap();
        let m = masked(role);
        assert_eq!(
            decode(&drain(&mut c)),
            [
                Wire::new(false, TEXT, m, b"start"),
                Wire::new(true, PONG, m, b"hb"),
                Wire::new(true, CONT, m, b"end"),
                Wire::new(true, BINARY, m, b"b"),
                Wire::new(false, BINARY, m, b"x"),
                Wire::new(true, CONT, m, b"y"),
            ]
        );
    }
}

#[test]
fn fragment_size_splits_outgoing_messages() {
    for role in ROLES {
        let mut config = Config::default();
        config.fragment_size = Some(4);
        let mut c = conn(role, config);
        let m = masked(role);
        c.send_binary(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
        c.send_binary(&[1, 2, 3, 4]).unwrap(); // exactly one fragment
        c.send_text("").unwrap();
        c.send_text("aé€").unwrap(); // 6 bytes: the split falls inside '€'
        assert_eq!(
            decode(&drain(&mut c)),
            [
                Wire::new(false, BINARY, m, &[1, 2, 3, 4]),
                Wire::new(false, CONT, m, &[5, 6, 7, 8]),
                Wire::new(true, CONT, m, &[9, 10]),
                Wire::new(true, BINARY, m, &[1, 2, 3, 4]),
                Wire::new(true, TEXT, m, b""),
                Wire::new(false, TEXT, m, b"a\xc3\xa9\xe2"),
                Wire::new(true, CONT, m, b"\x82\xac"),
            ]
        );
        // Parts are split too; FIN only on the very last frame of the final part.
        c.send_binary_part(&[0; 9], false).unwrap();
        c.send_binary_part(&[1; 3], true).unwrap();
        assert_eq!(
            decode(&drain(&mut c)),
            [
                Wire::new(false, BINARY, m, &[0; 4]),
                Wire::new(false, CONT, m, &[0; 4]),
                Wire::new(false, CONT, m, &[0; 1]),
                Wire::new(true, CONT, m, &[1; 3]),
            ]
        );
        // Control frames are never split.
        c.send_ping(&[5; 10]).unwrap();
        assert_eq!(decode(&drain(&mut c)), [Wire::new(true, PING, m, &[5; 10])]);
    }
}

#[test]
fn fragmented_sends_arrive_whole() {
    let mut config = Config::default();
    config.fragment_size = Some(3);
    let mut pair = Pair::new(config.clone(), config).with_chunks(vec![1, 2, 5]);
    pair.client.send_text("ünïcödé text").unwrap();
    pair.client.send_binary(&pattern(100, 1)).unwrap();
    assert_eq!(
        pair.client_to_server(),
        [Owned::text("ünïcödé text"), Owned::Binary(pattern(100, 1))]
    );
    pair.server.send_text("€€€€").unwrap();
    assert_eq!(pair.server_to_client(), [Owned::text("€€€€")]);
}

#[test]
fn every_client_frame_gets_a_fresh_mask_key() {
    let mut config = Config::default();
    config.fragment_size = Some(1);
    let mut c = conn(Role::Client, config);
    c.send_binary(&[0; 8]).unwrap();
    let keys = mask_keys(&drain(&mut c));
    assert_eq!(keys.len(), 8);
    for (i, a) in keys.iter().enumerate() {
        assert!(a.is_some());
        for b in &keys[i + 1..] {
            assert_ne!(a, b, "keys repeat");
        }
    }
}

// ---- a proxy passing a huge message in constant memory ----

#[test]
fn ten_mib_message_passes_in_constant_memory() {
    const TOTAL: usize = 10 << 20;
    const PART: usize = 16 << 10;
    let mut server_config = streaming();
    server_config.max_message_size = 64 << 20;
    let mut client = conn(Role::Client, Config::default());
    let mut server = conn(Role::Server, server_config);

    let mut buf = Vec::new();
    let mut received = 0usize;
    let mut checksum_in = 0u64;
    let mut checksum_out = 0u64;
    let mut max_server_heap = 0;
    let mut last_fin = false;
    let mut wire = Vec::with_capacity(2 * PART);
    let mut part = vec![0u8; PART];
    let mut sent = 0usize;
    while sent < TOTAL {
        for (i, b) in part.iter_mut().enumerate() {
            *b = ((sent + i) % 251) as u8;
        }
        checksum_in = part.iter().fold(checksum_in, |acc, &b| {
            acc.wrapping_mul(31).wrapping_add(u64::from(b))
        });
        sent += PART;
        client.send_binary_part(&part, sent == TOTAL).unwrap();
        wire.extend_from_slice(&client.poll_transmit());
        let n = client.poll_transmit().len();
        client.poll_transmit().advance(n);
        assert_eq!(client.buffered_amount(), 0);

        // The server reads 16 KiB at a time, whatever the frame boundaries.
        while wire.len() >= PART || (sent == TOTAL && !wire.is_empty()) {
            let n = wire.len().min(PART);
            let mut dst = server.read_buf();
            dst[..n].copy_from_slice(&wire[..n]);
            dst.commit(n);
            wire.drain(..n);
            while let Some(event) = server.poll_event(&mut buf) {
                let Event::BinaryPiece { data, fin } = event else {
                    panic!("unexpected {event:?}");
                };
                assert!(!last_fin, "data after the final piece");
                received += data.len();
                checksum_out = data.iter().fold(checksum_out, |acc, &b| {
                    acc.wrapping_mul(31).wrapping_add(u64::from(b))
                });
                last_fin = fin;
            }
            max_server_heap = max_server_heap.max(server.heap_usage() + buf.capacity());
        }
    }
    assert_eq!(received, TOTAL);
    assert!(last_fin);
    assert_eq!(checksum_in, checksum_out);
    println!("10 MiB streamed; server heap peak {max_server_heap} bytes");
    assert!(
        max_server_heap < 256 << 10,
        "server heap peaked at {max_server_heap} bytes"
    );
}

#[test]
fn streaming_keeps_max_message_size() {
    // The same 10 MiB with the default 16 MiB limit passes; 17 MiB declared does not.
    let mut server = with_rng(Role::Server, streaming(), Box::new(XorShift(1)));
    let input = header(true, 0, BINARY, Some(PEER_KEY), 17 << 20, LenEnc::Minimal);
    assert_eq!(
        feed(&mut server, &input),
        [Owned::Error(ws_proto::ProtocolError::FrameTooLarge)]
    );
    let mut config = streaming();
    config.max_frame_size = u64::MAX;
    let mut server = with_rng(Role::Server, config, Box::new(XorShift(1)));
    assert_eq!(
        feed(&mut server, &input),
        [Owned::Error(ws_proto::ProtocolError::MessageTooLarge)]
    );
}
