//! A hostile peer on an open connection: absurd declared lengths, every way of cutting the
//! byte stream, fragment and Ping floods, malformed UTF-8 at the byte that decides it, every
//! close code, and traffic after the closing handshake.
//!
//! Every failure test checks the exact `ProtocolError`, the exact Close frame on the wire,
//! that later input yields nothing, and a stated bound on `heap_usage()` /
//! `buffered_input()` / `buffered_amount()`.
//!
//! Items of the hostile-peer list already pinned elsewhere (not repeated here):
//! - non-minimal 16-bit and 64-bit lengths: `failures::non_minimal_16_bit_length`,
//!   `failures::non_minimal_64_bit_length`;
//! - a text message ending mid-sequence: `failures::text_message_ending_mid_code_point`;
//! - an invalid close reason: `failures::invalid_utf8_in_close_reason`;
//! - a 1-byte Close body: `failures::close_body_of_one_byte`;
//! - a 126-byte Close payload: `failures::control_frame_longer_than_125`;
//! - simultaneous close: `closing::simultaneous_close`;
//! - close mid-fragmented-message, whole delivery:
//!   `closing::close_between_fragments_ends_the_unfinished_message`;
//! - sends past `max_outbound_buffer`: `closing::backpressure_past_the_outbound_limit`,
//!   `closing::backpressure_counts_fragmented_sends_whole_and_exempts_close_and_pongs`.

mod common;

use common::*;
use ws_proto::{Config, Connection, Delivery, Event, ProtocolError, Role, State};

const ROLES: [Role; 2] = [Role::Server, Role::Client];
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

fn masked(role: Role) -> bool {
    role == Role::Client
}

fn with_delivery(delivery: Delivery) -> Config {
    let mut config = Config::default();
    config.delivery = delivery;
    config
}

/// The connection has just reported `error`: checks the exact Close frame it queued, that
/// nothing more is reported or sent whatever arrives next, and that input is released.
fn assert_failed(c: &mut Connection, role: Role, error: ProtocolError, code: u16, reason: &str) {
    let ctx = format!("{role:?} {error:?}");
    assert_eq!(error.close_code().0, code, "{ctx}");
    assert_eq!(c.state(), State::Closed, "{ctx}");
    assert_eq!(c.buffered_input(), 0, "{ctx}");
    let out = drain(c);
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason.as_bytes());
    assert_eq!(out[0], 0x88, "{ctx}");
    assert_eq!(
        out[1],
        (u8::from(masked(role)) << 7) | body.len() as u8,
        "{ctx}"
    );
    assert_eq!(
        decode(&out),
        [Wire::new(true, CLOSE, masked(role), &body)],
        "{ctx}"
    );
    let more = [
        peer_frame(role, true, TEXT, b"later"),
        peer_frame(role, true, PING, b"p"),
        peer_frame(role, true, CLOSE, &close_body(1000, b"")),
    ]
    .concat();
    assert_eq!(feed(c, &more), [], "{ctx}: input after the failure");
    assert!(c.poll_transmit().is_empty(), "{ctx}: nothing sent after");
    assert_eq!(c.buffered_input(), 0, "{ctx}");
    assert!(c.should_close_transport(), "{ctx}");
}

/// Feeds `bytes` in chunks of `chunk`, polling after each; returns the events and checks
/// that `heap_usage()` never exceeds `heap_bound`.
fn feed_bounded(c: &mut Connection, bytes: &[u8], chunk: usize, heap_bound: usize) -> Vec<Owned> {
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        c.handle_bytes(piece);
        out.extend(events(c));
        assert!(
            c.heap_usage() <= heap_bound,
            "heap {} > {heap_bound}",
            c.heap_usage()
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// Declared lengths
// ---------------------------------------------------------------------------------------

/// A header alone declaring 2^63 − 1 bytes (the largest legal 64-bit length) or one byte
/// more than `max_frame_size` fails with 1009 at once, allocating nothing of that size.
/// (`failures::frame_larger_than_max_frame_size_fails_from_the_header` covers a 1000-byte
/// limit and 2^62; this adds the extreme and the default limit.)
#[test]
fn huge_declared_lengths_fail_at_once_with_1009() {
    let default_max = Config::default().max_frame_size;
    assert_eq!(default_max, 16 << 20);
    let mut small = Config::default();
    small.max_frame_size = 70_000;
    let cases = [
        (Config::default(), (1u64 << 63) - 1),
        (Config::default(), default_max + 1),
        (small.clone(), small.max_frame_size + 1),
    ];
    for role in ROLES {
        for (config, len) in cases.clone() {
            for opcode in [TEXT, BINARY] {
                let input = header(true, 0, opcode, peer_mask(role), len, LenEnc::Minimal);
                assert_eq!(input.len(), 10 + if masked(role) { 0 } else { 4 });
                let mut c = conn(role, config.clone());
                // Every byte but the last: still only an incomplete header.
                assert_eq!(feed(&mut c, &input[..input.len() - 1]), []);
                assert_eq!(
                    feed(&mut c, &input[input.len() - 1..]),
                    [Owned::Error(ProtocolError::FrameTooLarge)],
                    "{role:?} len {len}"
                );
                assert!(c.heap_usage() < 64 * KIB, "heap {}", c.heap_usage());
                assert_failed(
                    &mut c,
                    role,
                    ProtocolError::FrameTooLarge,
                    1009,
                    "frame too large",
                );
            }
        }
    }
}

/// The 32-bit concern, by design: a declared length of 2^32 + 5 must never be truncated to
/// 5 (as `as usize` would on a 32-bit target). With the limits raised to `u64::MAX` in
/// streaming delivery, 1 MiB of it is delivered byte for byte, nothing more, and the
/// connection keeps waiting for the rest.
#[test]
fn length_2_pow_32_plus_5_streams_exactly_the_bytes_fed() {
    let len = (1u64 << 32) + 5;
    for role in ROLES {
        let mut config = with_delivery(Delivery::Streaming);
        config.max_frame_size = u64::MAX;
        config.max_message_size = u64::MAX;
        let mut c = conn(role, config);
        let payload: Vec<u8> = (0..MIB).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut input = header(true, 0, BINARY, peer_mask(role), len, LenEnc::Minimal);
        match peer_mask(role) {
            Some(key) => input.extend(xor(&payload, key)),
            None => input.extend_from_slice(&payload),
        }
        let got = feed_bounded(&mut c, &input, 64 * KIB, 256 * KIB);
        let mut delivered = Vec::with_capacity(MIB);
        for event in got {
            match event {
                Owned::BinaryPiece(data, false) => delivered.extend(data),
                other => panic!("{role:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(delivered.len(), MIB, "{role:?}");
        assert!(delivered == payload, "{role:?}: delivered bytes differ");
        assert_eq!(c.state(), State::Open);
        assert_eq!(c.buffered_input(), 0);
        assert!(c.poll_transmit().is_empty());
        // Still inside the frame: a frame header now is just payload.
        let more = peer_frame(role, true, CLOSE, &close_body(1000, b""));
        let expected = match peer_mask(role) {
            // Payload byte 1 MiB is masked with key[0] again (1 MiB is a multiple of 4).
            Some(key) => xor(&more, key),
            None => more.clone(),
        };
        assert_eq!(
            coalesce(feed(&mut c, &more)),
            [Owned::BinaryPiece(expected, false)]
        );
        assert_eq!(c.state(), State::Open);
    }
}

// ---------------------------------------------------------------------------------------
// Any cut of the byte stream
// ---------------------------------------------------------------------------------------

/// Masked text with a 64-bit length, a Ping, then a binary message in three fragments, as
/// a client sends them to a server.
/// The text is `text_len` bytes: ASCII, then code points of 2, 3 and 4 bytes.
fn three_frame_stream(text_len: usize) -> (Vec<u8>, Vec<Owned>, Vec<u8>) {
    let tail = "é€😀"; // 2 + 3 + 4 bytes
    let mut text = "x".repeat(text_len - tail.len());
    text.push_str(tail);
    let mut bytes = frame(true, 0, TEXT, Some([1, 2, 3, 4]), text.as_bytes());
    bytes.extend(frame(true, 0, PING, Some([5, 6, 7, 8]), b"ping!"));
    bytes.extend(frame(false, 0, BINARY, Some([9, 10, 11, 12]), b"ab"));
    bytes.extend(frame(false, 0, CONT, Some([13, 14, 15, 16]), b""));
    bytes.extend(frame(true, 0, CONT, Some([17, 18, 19, 20]), b"cd"));
    let expected = vec![
        Owned::Text(text),
        Owned::Ping(b"ping!".to_vec()),
        Owned::binary(b"abcd"),
    ];
    // The server's automatic Pong, unmasked.
    let output = vec![0x8A, 5, b'p', b'i', b'n', b'g', b'!'];
    (bytes, expected, output)
}

/// Feeds `pieces` one after the other into a fresh server, polling events and draining
/// output after each; returns everything seen.
fn run_pieces(config: &Config, pieces: &[&[u8]]) -> (Vec<Owned>, Vec<u8>) {
    let mut c = conn(Role::Server, config.clone());
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        c.handle_bytes(piece);
        seen.extend(events(&mut c));
        out.extend(drain(&mut c));
    }
    assert_eq!(c.buffered_input(), 0);
    (seen, out)
}

#[test]
fn three_frame_stream_split_at_every_offset_gives_identical_events_and_output() {
    let (bytes, expected, output) = three_frame_stream(65_536 + 7);
    assert_eq!(bytes[1], 0x80 | 127, "the text frame uses a 64-bit length");
    let config = Config::default();
    for split in 0..=bytes.len() {
        let (a, b) = bytes.split_at(split);
        let (seen, out) = run_pieces(&config, &[a, b]);
        assert!(seen == expected, "split at {split}: {:?}", seen.len());
        assert_eq!(out, output, "split at {split}");
    }
}

#[test]
fn short_three_frame_stream_split_into_three_at_every_pair_of_offsets() {
    // A 16-bit length keeps the stream short enough for every pair of cut points.
    let (bytes, expected, output) = three_frame_stream(130);
    assert_eq!(bytes[1], 0x80 | 126);
    for delivery in [Delivery::Whole, Delivery::Streaming] {
        let config = with_delivery(delivery);
        let expected = match delivery {
            Delivery::Whole => expected.clone(),
            Delivery::Streaming => expected
                .iter()
                .map(|e| match e {
                    Owned::Text(t) => Owned::TextPiece(t.clone(), true),
                    Owned::Binary(b) => Owned::BinaryPiece(b.clone(), true),
                    other => other.clone(),
                })
                .collect(),
        };
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let (seen, out) = run_pieces(&config, &[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                let seen = match delivery {
                    Delivery::Whole => seen,
                    Delivery::Streaming => coalesce(seen),
                };
                assert_eq!(seen, expected, "{delivery:?} cuts at {i} and {j}");
                assert_eq!(out, output, "{delivery:?} cuts at {i} and {j}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fragment floods and message size
// ---------------------------------------------------------------------------------------

/// An empty masked frame header with the given first byte (client to server).
fn empty_masked(b0: u8) -> [u8; 6] {
    let [k0, k1, k2, k3] = PEER_KEY;
    [b0, 0x80, k0, k1, k2, k3]
}

/// A FIN=0 text frame, then 10^6 empty continuation frames, with the default config: the
/// continuation that makes the message's frame count `max_fragments + 1` fails with 1009,
/// on the last byte of its header, and the rest of the flood is ignored.
#[test]
fn million_empty_continuations_fail_exactly_past_max_fragments() {
    const FLOOD: usize = 1_000_000;
    let max = Config::default().max_fragments as usize;
    assert_eq!(max, 131_072);
    let mut input = Vec::with_capacity(6 * (FLOOD + 1));
    input.extend_from_slice(&empty_masked(TEXT)); // FIN = 0
    let cont = empty_masked(CONT); // FIN = 0
    for _ in 0..FLOOD {
        input.extend_from_slice(&cont);
    }
    // Frame number `max + 1` (the text frame is number 1) ends at this offset.
    let crossing_end = 6 * (max + 1);
    let bound = 256 * KIB;
    let mut c = conn_default(Role::Server);
    assert_eq!(
        feed_bounded(&mut c, &input[..crossing_end - 1], 64 * KIB, bound),
        []
    );
    assert_eq!(
        c.buffered_input(),
        5,
        "the crossing header is still incomplete"
    );
    assert_eq!(
        feed(&mut c, &input[crossing_end - 1..crossing_end]),
        [Owned::Error(ProtocolError::TooManyFragments)]
    );
    assert!(c.heap_usage() <= bound);
    assert_eq!(
        feed_bounded(&mut c, &input[crossing_end..], 64 * KIB, bound),
        []
    );
    assert_failed(
        &mut c,
        Role::Server,
        ProtocolError::TooManyFragments,
        1009,
        "too many fragments",
    );
}

/// The same flood with one-byte continuations and `max_fragments = 1000`: the message
/// assembled so far stays at 1000 bytes, and the 1001st frame's header fails.
#[test]
fn million_one_byte_continuations_fail_exactly_past_a_smaller_max_fragments() {
    const FLOOD: usize = 1_000_000;
    const MAX: usize = 1000;
    let mut config = Config::default();
    config.max_fragments = MAX as u32;
    let [k0, k1, k2, k3] = PEER_KEY;
    let mut input = Vec::with_capacity(7 * (FLOOD + 1));
    input.extend_from_slice(&[TEXT, 0x81, k0, k1, k2, k3, b'a' ^ k0]);
    for _ in 0..FLOOD {
        input.extend_from_slice(&[CONT, 0x81, k0, k1, k2, k3, b'b' ^ k0]);
    }
    // The header (6 bytes) of frame number MAX + 1 ends here; its payload byte follows.
    let crossing_header_end = 7 * MAX + 6;
    let bound = 256 * KIB;
    for delivery in [Delivery::Whole, Delivery::Streaming] {
        let mut config = config.clone();
        config.delivery = delivery;
        let mut c = conn(Role::Server, config);
        let before = feed_bounded(&mut c, &input[..crossing_header_end - 1], 64 * KIB, bound);
        match delivery {
            Delivery::Whole => assert_eq!(before, []),
            Delivery::Streaming => {
                let mut text = String::from("a");
                text.push_str(&"b".repeat(MAX - 1));
                assert_eq!(coalesce(before), [Owned::TextPiece(text, false)]);
            }
        }
        assert_eq!(
            feed(&mut c, &input[crossing_header_end - 1..crossing_header_end]),
            [Owned::Error(ProtocolError::TooManyFragments)],
            "{delivery:?}"
        );
        assert!(c.heap_usage() <= bound);
        assert_eq!(
            feed_bounded(&mut c, &input[crossing_header_end..], 64 * KIB, bound),
            []
        );
        assert_failed(
            &mut c,
            Role::Server,
            ProtocolError::TooManyFragments,
            1009,
            "too many fragments",
        );
    }
}

/// A fragment whose declared length takes the message past `max_message_size` fails on
/// its header: none of its 8 MiB payload is ever buffered (heap unchanged from before the
/// header).
#[test]
fn message_over_max_message_size_fails_before_the_excess_is_buffered() {
    let limit = MIB;
    let mut config = Config::default();
    config.max_message_size = limit as u64;
    let first = peer_frame(Role::Server, false, BINARY, &vec![0x5A; limit - 10]);
    let excess = 8 * MIB;
    let mut second = header(
        true,
        0,
        CONT,
        Some(PEER_KEY),
        excess as u64,
        LenEnc::Minimal,
    );
    let second_header_len = second.len();
    second.extend(xor(&vec![0xA5; excess], PEER_KEY));

    let mut c = conn(Role::Server, config);
    let bound = 2 * limit + 256 * KIB;
    assert_eq!(feed_bounded(&mut c, &first, 64 * KIB, bound), []);
    let heap_before = c.heap_usage();
    assert!(heap_before >= limit - 10, "the first fragment is assembled");
    assert_eq!(
        feed(&mut c, &second[..second_header_len]),
        [Owned::Error(ProtocolError::MessageTooLarge)]
    );
    // Only our Close frame (2 + 2 + 17 bytes) was added to the outbound queue.
    let heap_after = c.heap_usage();
    assert!(
        heap_after <= heap_before + KIB,
        "{heap_before} -> {heap_after}"
    );
    assert_eq!(
        feed_bounded(&mut c, &second[second_header_len..], 64 * KIB, bound),
        []
    );
    assert_eq!(c.heap_usage(), heap_after);
    assert!(c.heap_usage() < limit + excess);
    assert_failed(
        &mut c,
        Role::Server,
        ProtocolError::MessageTooLarge,
        1009,
        "message too large",
    );
}

// ---------------------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------------------

/// Invalid sequences and the index of the byte at which they become invalid.
const OVERLONG: &[(&[u8], usize)] = &[
    (&[0xC0, 0xAF], 0),             // '/' in 2 bytes
    (&[0xC1, 0xBF], 0),             // U+007F in 2 bytes
    (&[0xE0, 0x80, 0xAF], 1),       // '/' in 3 bytes
    (&[0xE0, 0x9F, 0xBF], 1),       // U+07FF in 3 bytes
    (&[0xF0, 0x80, 0x80, 0xAF], 1), // '/' in 4 bytes
    (&[0xF0, 0x8F, 0xBF, 0xBF], 1), // U+FFFF in 4 bytes
];
const SURROGATES: &[(&[u8], usize)] = &[
    (&[0xED, 0xA0, 0x80], 1), // U+D800
    (&[0xED, 0xAD, 0xBF], 1), // U+DB7F
    (&[0xED, 0xB0, 0x80], 1), // U+DC00
    (&[0xED, 0xBF, 0xBF], 1), // U+DFFF
];
const ABOVE_MAX: &[(&[u8], usize)] = &[
    (&[0xF4, 0x90, 0x80, 0x80], 1), // U+110000
    (&[0xF4, 0xBF, 0xBF, 0xBF], 1), // U+13FFFF
];

/// A text frame declaring `prefix + seq + 10 filler bytes` (so it is never complete), fed
/// up to just before `seq[decide]`: nothing fails yet; then the deciding byte alone: 1007.
/// Whole and streaming delivery, both roles, fed at once and one byte at a time.
fn fails_at_deciding_byte(seq: &[u8], decide: usize) {
    let prefix = b"ok ";
    let mut payload = prefix.to_vec();
    payload.extend_from_slice(seq);
    payload.extend_from_slice(b"filler....");
    for role in ROLES {
        for delivery in [Delivery::Whole, Delivery::Streaming] {
            for fin in [true, false] {
                for one_byte in [false, true] {
                    let ctx = format!("{seq:02x?} {role:?} {delivery:?} fin {fin} {one_byte}");
                    let full = frame(fin, 0, TEXT, peer_mask(role), &payload);
                    let header_len = full.len() - payload.len();
                    let cut = header_len + prefix.len() + decide;
                    let mut c = conn(role, with_delivery(delivery));
                    let before = if one_byte {
                        feed_chunked(&mut c, &full[..cut], &[1])
                    } else {
                        feed(&mut c, &full[..cut])
                    };
                    // Only the valid prefix may have been handed out, never completed.
                    let mut handed = String::new();
                    for e in before {
                        match e {
                            Owned::TextPiece(t, false) => handed.push_str(&t),
                            other => panic!("{ctx}: unexpected {other:?}"),
                        }
                    }
                    match delivery {
                        Delivery::Whole => assert_eq!(handed, "", "{ctx}"),
                        Delivery::Streaming => assert_eq!(handed, "ok ", "{ctx}"),
                    }
                    assert_eq!(
                        feed(&mut c, &full[cut..=cut]),
                        [Owned::Error(ProtocolError::InvalidUtf8)],
                        "{ctx}"
                    );
                    assert!(c.heap_usage() < 64 * KIB, "{ctx}");
                    assert_failed(
                        &mut c,
                        role,
                        ProtocolError::InvalidUtf8,
                        1007,
                        "invalid UTF-8",
                    );
                }
            }
        }
    }
}

#[test]
fn overlong_2_3_and_4_byte_forms_fail_at_the_deciding_byte() {
    for (seq, decide) in OVERLONG {
        fails_at_deciding_byte(seq, *decide);
    }
}

#[test]
fn surrogates_fail_at_the_deciding_byte() {
    for (seq, decide) in SURROGATES {
        fails_at_deciding_byte(seq, *decide);
    }
}

#[test]
fn code_points_above_u10ffff_fail_at_the_deciding_byte() {
    for (seq, decide) in ABOVE_MAX {
        fails_at_deciding_byte(seq, *decide);
    }
}

#[test]
fn every_byte_f5_to_ff_fails_at_once() {
    for b in 0xF5..=0xFFu8 {
        fails_at_deciding_byte(&[b], 0);
        // Also when it would be a continuation of a started sequence.
        fails_at_deciding_byte(&[0xE2, 0x82, b], 2);
    }
}

/// Valid 1- to 4-byte code points, and the extremes of each length, cut into two
/// fragments at every byte offset, and into one-byte fragments: accepted unchanged.
#[test]
fn valid_code_points_split_across_fragments_are_accepted() {
    let text = "a\u{7F}\u{80}é\u{7FF}\u{800}€\u{D7FF}\u{E000}\u{FFFF}\u{10000}😀\u{10FFFF}z";
    let bytes = text.as_bytes();
    for role in ROLES {
        for delivery in [Delivery::Whole, Delivery::Streaming] {
            let expected = match delivery {
                Delivery::Whole => vec![Owned::text(text)],
                Delivery::Streaming => vec![Owned::TextPiece(text.to_owned(), true)],
            };
            let mut splits: Vec<Vec<&[u8]>> = (0..=bytes.len())
                .map(|i| vec![&bytes[..i], &bytes[i..]])
                .collect();
            splits.push(bytes.chunks(1).collect());
            for parts in splits {
                let mut input = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let opcode = if i == 0 { TEXT } else { CONT };
                    input.extend(peer_frame(role, i + 1 == parts.len(), opcode, part));
                }
                for sizes in [&[usize::MAX][..], &[1]] {
                    let mut c = conn(role, with_delivery(delivery));
                    let got = coalesce(feed_chunked(&mut c, &input, sizes));
                    assert_eq!(got, expected, "{role:?} {delivery:?} {parts:02x?}");
                    assert!(c.poll_transmit().is_empty());
                }
            }
        }
    }
}

/// An invalid sequence cut across two fragments at every point before its deciding byte:
/// the second fragment (declared longer than what is fed) fails on the deciding byte.
#[test]
fn invalid_sequences_split_across_fragments_fail_at_the_deciding_byte() {
    let mut cases: Vec<(&[u8], usize)> = Vec::new();
    cases.extend_from_slice(OVERLONG);
    cases.extend_from_slice(SURROGATES);
    cases.extend_from_slice(ABOVE_MAX);
    cases.push((&[0xE2, 0x82, 0x28], 2)); // '(' where a continuation byte belongs
    cases.push((&[0xF0, 0x9F, 0x98, 0x41], 3));
    cases.push((&[0xE2, 0xF5], 1));
    for (seq, decide) in cases {
        for k in 1..=decide {
            for role in ROLES {
                for delivery in [Delivery::Whole, Delivery::Streaming] {
                    let ctx = format!("{seq:02x?} cut {k} {role:?} {delivery:?}");
                    let mut first_payload = b"ab".to_vec();
                    first_payload.extend_from_slice(&seq[..k]);
                    let first = peer_frame(role, false, TEXT, &first_payload);
                    let mut second_payload = seq[k..].to_vec();
                    second_payload.extend_from_slice(b"filler");
                    let second = peer_frame(role, true, CONT, &second_payload);
                    let header_len = second.len() - second_payload.len();
                    let cut = header_len + (decide - k);
                    let mut c = conn(role, with_delivery(delivery));
                    let before = feed(&mut c, &[&first[..], &second[..cut]].concat());
                    let expected_before = match delivery {
                        Delivery::Whole => vec![],
                        Delivery::Streaming => vec![Owned::TextPiece("ab".into(), false)],
                    };
                    assert_eq!(before, expected_before, "{ctx}");
                    assert_eq!(
                        feed(&mut c, &second[cut..=cut]),
                        [Owned::Error(ProtocolError::InvalidUtf8)],
                        "{ctx}"
                    );
                    assert_failed(
                        &mut c,
                        role,
                        ProtocolError::InvalidUtf8,
                        1007,
                        "invalid UTF-8",
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Close
// ---------------------------------------------------------------------------------------

/// Every one of the 65 536 codes: the valid ones (1000–1003, 1007–1014, 3000–4999) are
/// reported and echoed; every other class (0–999, 1004, 1005, 1006, 1015–2999,
/// 5000–65535) fails with 1002 and the exact error.
#[test]
fn every_close_code_is_accepted_or_refused_by_its_class() {
    let valid = |code: u16| matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
    let mut refused = 0u32;
    for code in 0..=u16::MAX {
        let mut c = conn_default(Role::Server);
        let input = peer_frame(Role::Server, true, CLOSE, &close_body(code, b"r"));
        let got = feed(&mut c, &input);
        if valid(code) {
            assert_eq!(got, [Owned::close(code, "r")], "{code}");
            let [hi, lo] = code.to_be_bytes();
            assert_eq!(drain(&mut c), [0x88, 0x03, hi, lo, b'r'], "{code}");
            assert_eq!(feed(&mut c, &input), [], "{code}");
            assert!(c.poll_transmit().is_empty(), "{code}");
        } else {
            refused += 1;
            assert_eq!(
                got,
                [Owned::Error(ProtocolError::InvalidCloseCode(code))],
                "{code}"
            );
            let mut expected = vec![0x88, 20, 0x03, 0xEA];
            expected.extend_from_slice(b"invalid close code");
            assert_eq!(drain(&mut c), expected, "{code}");
            assert_eq!(feed(&mut c, &input), [], "{code}");
            assert!(c.poll_transmit().is_empty(), "{code}");
        }
        assert_eq!(c.state(), State::Closed);
        assert!(c.should_close_transport());
        assert_eq!(c.buffered_input(), 0);
        assert!(c.heap_usage() < 4 * KIB, "{code}: heap {}", c.heap_usage());
    }
    assert_eq!(refused, 65_536 - 4 - 8 - 2000);
}

/// After the peer's Close, nothing it sends is reported or answered: data, Pings (no
/// Pong), a second Close, whether in the same read as the Close or later.
#[test]
fn data_and_pings_after_the_peers_close_are_ignored_without_pong() {
    for role in ROLES {
        let after = [
            peer_frame(role, true, TEXT, b"late text"),
            peer_frame(role, true, PING, b"late ping"),
            peer_frame(role, true, BINARY, b"late binary"),
            peer_frame(role, true, PING, b""),
            peer_frame(role, true, CLOSE, &close_body(1001, b"again")),
        ]
        .concat();
        let mut c = conn_default(role);
        let input = [
            peer_frame(role, true, CLOSE, &close_body(1000, b"bye")),
            after.clone(),
        ]
        .concat();
        assert_eq!(feed(&mut c, &input), [Owned::close(1000, "bye")]);
        assert_eq!(c.buffered_input(), 0);
        let out = drain(&mut c);
        assert_eq!(
            decode(&out),
            [Wire::new(true, CLOSE, masked(role), b"\x03\xE8bye")],
            "{role:?}: one Close echo, no Pong"
        );
        for _ in 0..3 {
            assert_eq!(feed(&mut c, &after), []);
            assert_eq!(c.buffered_amount(), 0);
            assert!(c.poll_transmit().is_empty());
            assert_eq!(c.buffered_input(), 0);
            assert!(c.heap_usage() < 4 * KIB, "heap {}", c.heap_usage());
        }
        assert_eq!(c.state(), State::Closed);
    }
}

/// Streaming delivery: a Close between the fragments of a text message ends the
/// connection; the pieces already handed out stay delivered, no `fin` piece ever follows,
/// and the rest of the message is ignored (docs/security.md, "Policy choices").
#[test]
fn close_mid_fragmented_message_in_streaming_drops_the_unfinished_message() {
    for role in ROLES {
        let mut c = conn(role, with_delivery(Delivery::Streaming));
        let input = [
            peer_frame(role, false, TEXT, b"unfin"),
            peer_frame(role, false, CONT, b"ished"),
            peer_frame(role, true, CLOSE, &close_body(1000, b"")),
            peer_frame(role, true, CONT, b" never"),
        ]
        .concat();
        assert_eq!(
            feed(&mut c, &input),
            [
                Owned::TextPiece("unfin".into(), false),
                Owned::TextPiece("ished".into(), false),
                Owned::close(1000, ""),
            ]
        );
        assert_eq!(
            decode(&drain(&mut c)),
            [Wire::new(true, CLOSE, masked(role), &[0x03, 0xE8])]
        );
        assert_eq!(feed(&mut c, &peer_frame(role, true, CONT, b"!")), []);
        assert!(c.poll_transmit().is_empty());
        assert_eq!(c.state(), State::Closed);
    }
}

// ---------------------------------------------------------------------------------------
// Floods
// ---------------------------------------------------------------------------------------

/// 10^6 Pings in a single `handle_bytes` while the transport accepts nothing: the first
/// 16 answered in order (the Ping before the flood and 15 of it), then one pending,
/// carrying the newest payload. Memory stays flat.
#[test]
fn million_pings_in_one_feed_leave_the_bound_queued_and_one_pending() {
    const FLOOD: u32 = 1_000_000;
    let mut s = conn_default(Role::Server);
    assert_eq!(
        feed(&mut s, &peer_frame(Role::Server, true, PING, b"first")),
        [Owned::Ping(b"first".to_vec())]
    );
    // The driver looks at the output (the Pong is queued) but never writes any of it.
    assert_eq!(&*s.poll_transmit(), b"\x8a\x05first");
    let queued = s.buffered_amount();
    assert_eq!(queued, 7);

    let [k0, k1, k2, k3] = PEER_KEY;
    let newest: Vec<u8> = (0..125u8).map(|i| i.wrapping_mul(31)).collect();
    let mut input = Vec::with_capacity(10 * FLOOD as usize + 131);
    for i in 0..FLOOD - 1 {
        let [a, b, c, d] = i.to_be_bytes();
        input.extend_from_slice(&[0x89, 0x84, k0, k1, k2, k3, a ^ k0, b ^ k1, c ^ k2, d ^ k3]);
    }
    input.extend(frame(true, 0, PING, Some(PEER_KEY), &newest));
    s.handle_bytes(&input);
    drop(input);

    let mut buf = Vec::new();
    let mut count = 0u32;
    let mut last_left = s.buffered_input();
    while let Some(event) = s.poll_event(&mut buf) {
        match event {
            Event::Ping(p) if count < FLOOD - 1 => assert_eq!(p, count.to_be_bytes()),
            Event::Ping(p) => assert_eq!(p, &newest[..]),
            other => panic!("event {count}: {other:?}"),
        }
        count += 1;
        assert!(s.buffered_input() < last_left);
        last_left = s.buffered_input();
        if count % 100_000 == 0 {
            let _ = s.poll_transmit(); // looked at, never written
            assert!(s.buffered_amount() <= 17 * 127, "{}", s.buffered_amount());
        }
    }
    assert_eq!(count, FLOOD);
    assert_eq!(s.buffered_input(), 0);
    // 15 Pongs of the flood (2 + 4 bytes each) after the first, and the newest pending.
    assert_eq!(s.buffered_amount(), queued + 15 * 6 + 2 + 125);
    let mut expected = vec![Wire::new(true, PONG, false, b"first")];
    expected.extend((0..15u32).map(|i| Wire::new(true, PONG, false, &i.to_be_bytes())));
    expected.push(Wire::new(true, PONG, false, &newest));
    assert_eq!(decode(&drain(&mut s)), expected);
    assert_eq!(s.buffered_amount(), 0);
}

/// 1 MiB of 2-byte frames (empty binary and text messages to a client) in one feed: one
/// event per `poll_event`, exactly one per frame, input shrinking by exactly one frame each
/// time, and no memory beyond the 1 MiB fed.
#[test]
fn megabyte_of_two_byte_frames_is_yielded_one_event_at_a_time() {
    const N: usize = MIB / 2;
    let mut input = Vec::with_capacity(MIB);
    for i in 0..N {
        input.extend_from_slice(&[if i % 2 == 0 { 0x82 } else { 0x81 }, 0x00]);
    }
    let mut c = conn_default(Role::Client);
    c.handle_bytes(&input);
    drop(input);
    assert_eq!(c.buffered_input(), MIB);
    let mut buf = Vec::new();
    let mut count = 0;
    while let Some(event) = c.poll_event(&mut buf) {
        match (count % 2, event) {
            (0, Event::Binary(b)) => assert!(b.is_empty()),
            (1, Event::Text(t)) => assert!(t.is_empty()),
            (_, other) => panic!("event {count}: {other:?}"),
        }
        count += 1;
        assert_eq!(c.buffered_input(), MIB - 2 * count, "after event {count}");
    }
    assert_eq!(count, N);
    assert_eq!(c.buffered_input(), 0);
    assert!(
        c.heap_usage() <= MIB + 4 * KIB,
        "heap {} after the drain",
        c.heap_usage()
    );
    assert!(c.poll_transmit().is_empty());
    assert_eq!(c.state(), State::Open);
}
