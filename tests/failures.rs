//! One test per rule a peer can break. Each checks (a) the exact error event, (b) the exact
//! Close frame put on the wire (masked iff we are the client), (c) that later input produces
//! nothing, and (d) that the connection is closed and the transport should be closed.

mod common;

use common::*;
use ws_proto::{Config, Connection, ProtocolError, Role, State};

const ROLES: [Role; 2] = [Role::Server, Role::Client];

/// Runs `input` into a fresh connection and checks the whole failure behaviour.
///
/// `before` are the events expected ahead of the error (from valid frames in `input`).
fn check(
    role: Role,
    config: Config,
    input: &[u8],
    before: &[Owned],
    error: ProtocolError,
    code: u16,
    reason: &str,
) {
    let ctx = format!(
        "{role:?} {error:?} input {:02x?}",
        &input[..input.len().min(32)]
    );

    // Whole input at once, and one byte at a time: the same events.
    for one_byte in [false, true] {
        let mut c = conn(role, config.clone());
        let got = if one_byte {
            feed_chunked(&mut c, input, &[1])
        } else {
            feed(&mut c, input)
        };
        let mut expected = before.to_vec();
        expected.push(Owned::Error(error));
        if one_byte {
            // Streaming delivery hands out smaller pieces; their contents must match, except
            // that the valid bytes ahead of the bad one may already have been handed out.
            assert_eq!(
                strip_partial(coalesce(got)),
                strip_partial(coalesce(expected)),
                "{ctx} (one byte at a time)"
            );
        } else {
            assert_eq!(got, expected, "{ctx}");
        }
        // The newest unanswered Ping is answered before our Close.
        let pong = before.iter().rev().find_map(|e| match e {
            Owned::Ping(p) => Some(p.clone()),
            _ => None,
        });
        after_failure(&mut c, role, pong, code, reason, &ctx);
    }
}

/// Drops an unfinished piece just before the final error.
fn strip_partial(mut events: Vec<Owned>) -> Vec<Owned> {
    let n = events.len();
    if n >= 2
        && matches!(
            events[n - 2],
            Owned::TextPiece(_, false) | Owned::BinaryPiece(_, false)
        )
    {
        events.remove(n - 2);
    }
    events
}

/// (b), (c), (d) for a connection that has just reported its error.
fn after_failure(
    c: &mut Connection,
    role: Role,
    pong: Option<Vec<u8>>,
    code: u16,
    reason: &str,
    ctx: &str,
) {
    // The Close frame is queued: not yet time to close the transport.
    assert_eq!(c.state(), State::Closed, "{ctx}");
    assert!(!c.should_close_transport(), "{ctx}: Close not yet written");
    let masked = role == Role::Client;
    let header = 2 + usize::from(masked) * 4;
    let pong_len = pong.as_ref().map_or(0, |p| header + p.len());
    assert_eq!(
        c.buffered_amount(),
        pong_len + header + 2 + reason.len(),
        "{ctx}"
    );

    let out = drain(c);
    let (pong_bytes, close_bytes) = out.split_at(pong_len);
    // Exactly one Close frame: FIN + Close, masked iff client, body = code + reason.
    assert_eq!(close_bytes[0], 0x88, "{ctx}");
    assert_eq!(
        close_bytes[1],
        (u8::from(masked) << 7) | (2 + reason.len()) as u8,
        "{ctx}"
    );
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason.as_bytes());
    assert_eq!(
        decode(close_bytes),
        [Wire::new(true, CLOSE, masked, &body)],
        "{ctx}"
    );
    match pong {
        Some(p) => assert_eq!(decode(pong_bytes), [Wire::new(true, PONG, masked, &p)]),
        None => assert!(pong_bytes.is_empty()),
    }

    // (c) Later input, however valid, produces nothing.
    let more = [
        peer_frame(role, true, TEXT, b"after"),
        peer_frame(role, true, PING, b"p"),
        peer_frame(role, true, BINARY, &[1, 2, 3]),
        peer_frame(role, true, CLOSE, &close_body(1000, b"")),
    ]
    .concat();
    assert_eq!(feed(c, &more), [], "{ctx}: after more bytes");
    let mut buf = c.read_buf();
    buf[..more.len()].copy_from_slice(&more);
    buf.commit(more.len());
    assert_eq!(events(c), [], "{ctx}: after the commit");
    c.handle_eof();
    assert_eq!(events(c), [], "{ctx}: after eof");
    assert!(c.poll_transmit().is_empty(), "{ctx}: nothing more sent");

    // (d)
    assert_eq!(c.state(), State::Closed, "{ctx}");
    assert!(c.should_close_transport(), "{ctx}");
    assert_eq!(c.buffered_input(), 0, "{ctx}");
}

/// The raw bytes of a frame a legal peer of `role` would send, with a custom first byte.
fn with_first_byte(role: Role, b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = peer_frame(role, true, TEXT, payload);
    f[0] = b0;
    f
}

// ---- §5.2 header rules ----

fn rsv_bit(bit: u8) {
    for role in ROLES {
        // Text, binary, continuation and control frames alike.
        for opcode in [TEXT, BINARY, PING] {
            let input = frame(true, bit, opcode, peer_mask(role), b"abc");
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::ReservedBits(bit),
                1002,
                "reserved bits set",
            );
        }
    }
}

#[test]
fn rsv1_set() {
    rsv_bit(0b100);
}

#[test]
fn rsv2_set() {
    rsv_bit(0b010);
}

#[test]
fn rsv3_set() {
    rsv_bit(0b001);
}

#[test]
fn rsv_on_continuation_frame() {
    for role in ROLES {
        let m = peer_mask(role);
        let input = [
            frame(false, 0, TEXT, m, b"ab"),
            frame(true, 0b100, CONT, m, b"c"),
        ]
        .concat();
        check(
            role,
            Config::default(),
            &input,
            &[],
            ProtocolError::ReservedBits(0b100),
            1002,
            "reserved bits set",
        );
    }
}

#[test]
fn reserved_opcodes() {
    for role in ROLES {
        for opcode in (0x3..=0x7).chain(0xB..=0xF) {
            // FIN set and a small payload: only the opcode is wrong.
            let input = frame(true, 0, opcode, peer_mask(role), b"xyz");
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::ReservedOpcode(opcode),
                1002,
                "reserved opcode",
            );
        }
    }
}

#[test]
fn unmasked_frame_to_server() {
    for opcode in [TEXT, BINARY, PING, PONG, CLOSE] {
        let input = frame(true, 0, opcode, None, b"");
        check(
            Role::Server,
            Config::default(),
            &input,
            &[],
            ProtocolError::UnmaskedFrame,
            1002,
            "client frame not masked",
        );
    }
    // An unmasked continuation in the middle of a masked fragmented message.
    let input = [
        frame(false, 0, TEXT, Some(PEER_KEY), b"ab"),
        frame(true, 0, CONT, None, b"c"),
    ]
    .concat();
    check(
        Role::Server,
        Config::default(),
        &input,
        &[],
        ProtocolError::UnmaskedFrame,
        1002,
        "client frame not masked",
    );
}

#[test]
fn masked_frame_to_client() {
    for opcode in [TEXT, BINARY, PING, PONG, CLOSE] {
        let input = frame(true, 0, opcode, Some([1, 2, 3, 4]), b"");
        check(
            Role::Client,
            Config::default(),
            &input,
            &[],
            ProtocolError::MaskedFrame,
            1002,
            "server frame masked",
        );
    }
}

#[test]
fn length_64_bit_with_msb_set() {
    for role in ROLES {
        for len in [1u64 << 63, u64::MAX, (1 << 63) | 0x10000] {
            // Only the header: the error needs no payload.
            let input = header(true, 0, BINARY, peer_mask(role), len, LenEnc::Ext64);
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::InvalidLength,
                1002,
                "payload length MSB set",
            );
        }
    }
}

#[test]
fn non_minimal_16_bit_length() {
    for role in ROLES {
        for len in [0usize, 5, 125] {
            let input = frame_enc(
                true,
                0,
                BINARY,
                peer_mask(role),
                &vec![7; len],
                LenEnc::Ext16,
            );
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::NonMinimalLength,
                1002,
                "non-minimal payload length",
            );
        }
    }
}

#[test]
fn non_minimal_64_bit_length() {
    for role in ROLES {
        for len in [0usize, 5, 125, 126, 0xFFFF] {
            let input = frame_enc(
                true,
                0,
                TEXT,
                peer_mask(role),
                &vec![b'a'; len],
                LenEnc::Ext64,
            );
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::NonMinimalLength,
                1002,
                "non-minimal payload length",
            );
        }
    }
}

// ---- §5.5 control frames ----

#[test]
fn control_frame_longer_than_125() {
    for role in ROLES {
        for opcode in [PING, PONG, CLOSE] {
            let mut payload = vec![b'x'; 126];
            if opcode == CLOSE {
                payload[..2].copy_from_slice(&1000u16.to_be_bytes());
            }
            let input = frame(true, 0, opcode, peer_mask(role), &payload);
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::ControlFrameTooLong,
                1002,
                "control frame too long",
            );
            // A 64-bit length is rejected from the header alone.
            let input = header(true, 0, opcode, peer_mask(role), 1 << 20, LenEnc::Ext64);
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::ControlFrameTooLong,
                1002,
                "control frame too long",
            );
        }
    }
}

#[test]
fn fragmented_control_frame() {
    for role in ROLES {
        for opcode in [PING, PONG, CLOSE] {
            let input = frame(false, 0, opcode, peer_mask(role), b"");
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::FragmentedControlFrame,
                1002,
                "fragmented control frame",
            );
        }
    }
}

// ---- §5.4 fragmentation ----

#[test]
fn continuation_without_message() {
    for role in ROLES {
        // At the very start.
        let input = peer_frame(role, true, CONT, b"x");
        check(
            role,
            Config::default(),
            &input,
            &[],
            ProtocolError::UnexpectedContinuation,
            1002,
            "continuation without a message",
        );
        // Right after a complete fragmented message.
        let input = [
            peer_frame(role, false, TEXT, b"a"),
            peer_frame(role, true, CONT, b"b"),
            peer_frame(role, false, CONT, b"c"),
        ]
        .concat();
        check(
            role,
            Config::default(),
            &input,
            &[Owned::text("ab")],
            ProtocolError::UnexpectedContinuation,
            1002,
            "continuation without a message",
        );
    }
}

#[test]
fn new_data_frame_during_fragmented_message() {
    for role in ROLES {
        for (first, second) in [
            (TEXT, TEXT),
            (TEXT, BINARY),
            (BINARY, TEXT),
            (BINARY, BINARY),
        ] {
            for second_fin in [false, true] {
                let input = [
                    peer_frame(role, false, first, b"a"),
                    peer_frame(role, true, PING, b"between"),
                    peer_frame(role, second_fin, second, b"b"),
                ]
                .concat();
                check(
                    role,
                    Config::default(),
                    &input,
                    &[Owned::Ping(b"between".to_vec())],
                    ProtocolError::ExpectedContinuation,
                    1002,
                    "expected a continuation frame",
                );
            }
        }
    }
}

// ---- §5.5.1 / §7.4 Close bodies ----

#[test]
fn close_body_of_one_byte() {
    for role in ROLES {
        let input = peer_frame(role, true, CLOSE, &[0x03]);
        check(
            role,
            Config::default(),
            &input,
            &[],
            ProtocolError::InvalidCloseBody,
            1002,
            "close body of one byte",
        );
    }
}

#[test]
fn invalid_close_codes() {
    for role in ROLES {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let input = peer_frame(role, true, CLOSE, &close_body(code, b"why"));
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::InvalidCloseCode(code),
                1002,
                "invalid close code",
            );
        }
    }
}

#[test]
fn valid_close_codes_are_accepted_and_echoed() {
    let codes = (1000..=1003)
        .chain(1007..=1014)
        .chain([3000, 3999, 4000, 4999]);
    for role in ROLES {
        for code in codes.clone() {
            let mut c = conn_default(role);
            let input = peer_frame(role, true, CLOSE, &close_body(code, b"bye"));
            assert_eq!(feed(&mut c, &input), [Owned::close(code, "bye")], "{code}");
            let out = drain(&mut c);
            let masked = role == Role::Client;
            assert_eq!(out[0], 0x88);
            assert_eq!(
                out[1],
                (u8::from(masked) << 7) | 5,
                "{code}: code and reason"
            );
            assert_eq!(
                decode(&out),
                [Wire::new(true, CLOSE, masked, &close_body(code, b"bye"))],
                "{code}"
            );
            assert_eq!(c.state(), State::Closed);
        }
    }
}

#[test]
fn invalid_utf8_in_close_reason() {
    for role in ROLES {
        for reason in [&b"\xff"[..], b"ok\xc0\xaf", b"\xed\xa0\x80", b"end\xe2\x82"] {
            let input = peer_frame(role, true, CLOSE, &close_body(1000, reason));
            check(
                role,
                Config::default(),
                &input,
                &[],
                ProtocolError::InvalidUtf8,
                1007,
                "invalid UTF-8",
            );
        }
    }
}

// ---- §8.1 UTF-8 ----

#[test]
fn invalid_utf8_in_single_frame_text() {
    let samples: [&[u8]; 5] = [
        b"\xff",
        b"overlong \xc0\xaf",
        b"surrogate \xed\xa0\x80",
        b"too big \xf4\x90\x80\x80",
        b"bad continuation \xe2\x28\xa1",
    ];
    for role in ROLES {
        for config in [Config::default(), streaming()] {
            for sample in samples {
                let input = peer_frame(role, true, TEXT, sample);
                check(
                    role,
                    config.clone(),
                    &input,
                    &[],
                    ProtocolError::InvalidUtf8,
                    1007,
                    "invalid UTF-8",
                );
            }
        }
    }
}

#[test]
fn invalid_utf8_in_first_fragment_reported_before_the_rest() {
    for role in ROLES {
        for config in [Config::default(), streaming()] {
            // Only the first fragment is fed; the message is far from complete.
            let input = peer_frame(role, false, TEXT, b"fine so far \xf8 then broken");
            check(
                role,
                config.clone(),
                &input,
                &[],
                ProtocolError::InvalidUtf8,
                1007,
                "invalid UTF-8",
            );
        }
    }
}

#[test]
fn invalid_utf8_split_across_fragments() {
    // "\xe2" ends fragment 1 (a valid start), "\x28" begins fragment 2: invalid at once,
    // while fragment 2 is still unfinished (fin = false).
    for role in ROLES {
        let input = [
            peer_frame(role, false, TEXT, b"ab\xe2"),
            peer_frame(role, false, CONT, b"\x28more"),
        ]
        .concat();
        check(
            role,
            Config::default(),
            &input,
            &[],
            ProtocolError::InvalidUtf8,
            1007,
            "invalid UTF-8",
        );
    }
}

#[test]
fn invalid_utf8_in_the_middle_of_a_large_frame_before_its_tail() {
    for role in ROLES {
        for config in [Config::default(), streaming()] {
            // A 100 000-byte text frame; only its first 1 000 payload bytes arrive, and
            // byte 500 is invalid.
            let mut payload = "é".repeat(50_000).into_bytes();
            payload[500] = 0xFF;
            let full = peer_frame(role, true, TEXT, &payload);
            let header_len = 2 + 8 + if role == Role::Server { 4 } else { 0 };
            let input = &full[..header_len + 1000];
            check(
                role,
                config.clone(),
                input,
                &[],
                ProtocolError::InvalidUtf8,
                1007,
                "invalid UTF-8",
            );
        }
    }
}

#[test]
fn text_message_ending_mid_code_point() {
    for role in ROLES {
        for config in [Config::default(), streaming()] {
            // Single frame.
            let input = peer_frame(role, true, TEXT, b"ab\xe2\x82");
            check(
                role,
                config.clone(),
                &input,
                &[],
                ProtocolError::InvalidUtf8,
                1007,
                "invalid UTF-8",
            );
            // Fragmented, the last fragment leaving a 4-byte sequence unfinished.
            let input = [
                peer_frame(role, false, TEXT, b"ab\xf0"),
                peer_frame(role, false, CONT, b"\x9f"),
                peer_frame(role, true, CONT, b"\x98"),
            ]
            .concat();
            let before = if config.delivery == ws_proto::Delivery::Streaming {
                vec![Owned::TextPiece("ab".into(), false)]
            } else {
                vec![]
            };
            check(
                role,
                config.clone(),
                &input,
                &before,
                ProtocolError::InvalidUtf8,
                1007,
                "invalid UTF-8",
            );
            // An empty final fragment after an unfinished code point.
            let input = [
                peer_frame(role, false, TEXT, b"\xc3"),
                peer_frame(role, true, CONT, b""),
            ]
            .concat();
            check(
                role,
                config.clone(),
                &input,
                &[],
                ProtocolError::InvalidUtf8,
                1007,
                "invalid UTF-8",
            );
        }
    }
}

// ---- §10.4 limits ----

#[test]
fn frame_larger_than_max_frame_size_fails_from_the_header() {
    for role in ROLES {
        let mut config = Config::default();
        config.max_frame_size = 1000;
        // Exactly at the limit is fine.
        let mut c = conn(role, config.clone());
        let at_limit = peer_frame(role, true, BINARY, &[9; 1000]);
        assert_eq!(feed(&mut c, &at_limit), [Owned::Binary(vec![9; 1000])]);

        // One more, header only: no payload byte was sent.
        let input = header(true, 0, BINARY, peer_mask(role), 1001, LenEnc::Minimal);
        check(
            role,
            config.clone(),
            &input,
            &[],
            ProtocolError::FrameTooLarge,
            1009,
            "frame too large",
        );

        // A header declaring 2^62 bytes with the default limit: reported at once, and
        // nothing near that size was allocated.
        let mut c = conn_default(role);
        let input = header(true, 0, TEXT, peer_mask(role), 1 << 62, LenEnc::Ext64);
        assert_eq!(
            feed(&mut c, &input),
            [Owned::Error(ProtocolError::FrameTooLarge)]
        );
        assert_eq!(c.buffered_input(), 0);
        assert!(c.heap_usage() < 1024, "heap {}", c.heap_usage());
        after_failure(&mut c, role, None, 1009, "frame too large", "2^62 header");
    }
}

#[test]
fn fragmented_message_larger_than_max_message_size_fails_at_the_crossing_header() {
    for role in ROLES {
        for config in [Config::default(), streaming()] {
            let mut config = config;
            config.max_message_size = 100;
            let streamed = config.delivery == ws_proto::Delivery::Streaming;
            let first = peer_frame(role, false, BINARY, &[1; 60]);
            let before = if streamed {
                vec![Owned::BinaryPiece(vec![1; 60], false)]
            } else {
                vec![]
            };

            // 60 + 40 = 100: accepted.
            let mut c = conn(role, config.clone());
            let ok = [&first[..], &peer_frame(role, true, CONT, &[2; 40])].concat();
            let mut expected = before.clone();
            if streamed {
                expected.push(Owned::BinaryPiece(vec![2; 40], true));
            } else {
                let mut whole = vec![1; 60];
                whole.extend_from_slice(&[2; 40]);
                expected.push(Owned::Binary(whole));
            }
            assert_eq!(feed(&mut c, &ok), expected);

            // 60 + 41: the second header alone fails, before any of its payload.
            let input = [
                &first[..],
                &header(false, 0, CONT, peer_mask(role), 41, LenEnc::Minimal),
            ]
            .concat();
            check(
                role,
                config.clone(),
                &input,
                &before,
                ProtocolError::MessageTooLarge,
                1009,
                "message too large",
            );
        }
    }
}

#[test]
fn single_frame_message_larger_than_max_message_size() {
    for role in ROLES {
        let mut config = Config::default();
        config.max_message_size = 10;
        let input = header(true, 0, TEXT, peer_mask(role), 11, LenEnc::Minimal);
        check(
            role,
            config,
            &input,
            &[],
            ProtocolError::MessageTooLarge,
            1009,
            "message too large",
        );
    }
}

#[test]
fn too_many_fragments() {
    for role in ROLES {
        let mut config = Config::default();
        config.max_fragments = 3;
        // Three frames: fine.
        let mut c = conn(role, config.clone());
        let ok = [
            peer_frame(role, false, TEXT, b""),
            peer_frame(role, false, CONT, b"a"),
            peer_frame(role, true, CONT, b""),
        ]
        .concat();
        assert_eq!(feed(&mut c, &ok), [Owned::text("a")]);

        // Four empty frames: the fourth header fails (control frames do not count).
        let input = [
            peer_frame(role, false, TEXT, b""),
            peer_frame(role, true, PING, b""),
            peer_frame(role, false, CONT, b""),
            peer_frame(role, false, CONT, b""),
            peer_frame(role, true, CONT, b""),
        ]
        .concat();
        check(
            role,
            config,
            &input,
            &[Owned::Ping(vec![])],
            ProtocolError::TooManyFragments,
            1009,
            "too many fragments",
        );
    }
}

#[test]
fn first_byte_variants_of_the_same_frame() {
    // Sanity for the helper above: a well-formed 0x81 frame passes.
    for role in ROLES {
        let mut c = conn_default(role);
        let input = with_first_byte(role, 0x81, b"ok");
        assert_eq!(feed(&mut c, &input), [Owned::text("ok")]);
    }
}
