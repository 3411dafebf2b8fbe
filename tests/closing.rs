//! The closing handshake (RFC 6455 §5.5.1, §7), control frames, and send-side errors.

mod common;

use common::*;
use ws_proto::{CloseCode, Config, Connection, Event, Role, SendError, State};

const ROLES: [Role; 2] = [Role::Server, Role::Client];

fn masked(role: Role) -> bool {
    role == Role::Client
}

/// Every send command, each expected to fail with `expected` and queue nothing.
fn assert_all_sends_fail(c: &mut Connection, expected: SendError) {
    let before = c.buffered_amount();
    assert_eq!(c.send_text("t"), Err(expected));
    assert_eq!(c.send_binary(b"b"), Err(expected));
    assert_eq!(c.send_text_part("t", false), Err(expected));
    assert_eq!(c.send_binary_part(b"b", true), Err(expected));
    assert_eq!(c.send_ping(b"p"), Err(expected));
    assert_eq!(c.send_pong(b"p"), Err(expected));
    assert_eq!(c.close(CloseCode::NORMAL, ""), Err(expected));
    assert_eq!(c.buffered_amount(), before);
    assert!(c.poll_transmit().len() == before);
}

// ---- the peer closes ----

#[test]
fn peer_close_is_echoed_with_the_same_code_and_reason() {
    for role in ROLES {
        for (code, reason) in [(1000u16, "bye"), (1001, ""), (4321, "custom ünïcödé")] {
            let mut c = conn_default(role);
            let input = peer_frame(role, true, CLOSE, &close_body(code, reason.as_bytes()));
            assert_eq!(feed(&mut c, &input), [Owned::close(code, reason)]);
            assert_eq!(c.state(), State::Closed);
            let out = drain(&mut c);
            // Exactly one Close frame echoing the code and the reason.
            let body = close_body(code, reason.as_bytes());
            assert_eq!(out[0], 0x88);
            assert_eq!(out[1], (u8::from(masked(role)) << 7) | body.len() as u8);
            assert_eq!(out.len(), 2 + body.len() + if masked(role) { 4 } else { 0 });
            assert_eq!(decode(&out), [Wire::new(true, CLOSE, masked(role), &body)]);
            // Nothing further is reported or sent.
            assert_eq!(feed(&mut c, &peer_frame(role, true, TEXT, b"late")), []);
            assert!(drain(&mut c).is_empty());
        }
    }
}

#[test]
fn server_echo_is_exact_bytes() {
    let mut s = conn_default(Role::Server);
    let input = peer_frame(Role::Server, true, CLOSE, &close_body(1000, b"done"));
    assert_eq!(feed(&mut s, &input), [Owned::close(1000, "done")]);
    assert_eq!(drain(&mut s), b"\x88\x06\x03\xE8done");
}

#[test]
fn client_echo_is_masked_with_the_rng_key() {
    let mut c = with_rng(
        Role::Client,
        Config::default(),
        Box::new(FixedRng([1, 2, 3, 4])),
    );
    let input = [0x88, 0x02, 0x03, 0xE9];
    assert_eq!(feed(&mut c, &input), [Owned::close(1001, "")]);
    assert_eq!(drain(&mut c), [0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE9 ^ 2]);
}

#[test]
fn pair_close_roundtrip_reports_reason_and_echo() {
    for closer in ROLES {
        let mut pair = Pair::default_config();
        pair.get(closer)
            .close(CloseCode::GOING_AWAY, "maintenance")
            .unwrap();
        assert_eq!(pair.get(closer).state(), State::Closing);
        assert_eq!(pair.transfer(closer), [Owned::close(1001, "maintenance")]);
        assert_eq!(pair.get(other(closer)).state(), State::Closed);
        // The reply echoes the reason too.
        assert_eq!(
            pair.transfer(other(closer)),
            [Owned::close(1001, "maintenance")]
        );
        assert_eq!(pair.get(closer).state(), State::Closed);
        // No second Close either way.
        assert!(drain(&mut pair.client).is_empty());
        assert!(drain(&mut pair.server).is_empty());
    }
}

#[test]
fn empty_close_is_reported_as_1005_and_answered_with_an_empty_close() {
    for role in ROLES {
        let mut c = conn_default(role);
        assert_eq!(
            feed(&mut c, &peer_frame(role, true, CLOSE, b"")),
            [Owned::close(1005, "")]
        );
        let out = drain(&mut c);
        assert_eq!(out[..2], [0x88, u8::from(masked(role)) << 7]);
        assert_eq!(out.len(), if masked(role) { 6 } else { 2 });
        assert_eq!(decode(&out), [Wire::new(true, CLOSE, masked(role), b"")]);
        assert_eq!(c.state(), State::Closed);
    }
}

// ---- the transport ends ----

#[test]
fn eof_without_close_reports_1006_once_after_buffered_frames() {
    for role in ROLES {
        let mut c = conn_default(role);
        let partial = peer_frame(role, true, TEXT, b"never finished");
        let input = [
            peer_frame(role, true, TEXT, b"one"),
            peer_frame(role, false, BINARY, b"frag"),
            peer_frame(role, true, PING, b"p"),
            peer_frame(role, true, CONT, b"ment"),
            partial[..partial.len() - 3].to_vec(),
        ]
        .concat();
        c.handle_bytes(&input);
        c.handle_eof();
        assert_eq!(c.state(), State::Closed);
        assert_eq!(
            events(&mut c),
            [
                Owned::text("one"),
                Owned::Ping(b"p".to_vec()),
                Owned::binary(b"fragment"),
                Owned::close(1006, ""),
            ]
        );
        // Once only.
        c.handle_eof();
        assert_eq!(events(&mut c), []);
        assert_eq!(feed(&mut c, &peer_frame(role, true, TEXT, b"x")), []);
        // No Close frame is sent for 1006; the Pong still goes out.
        let out = drain(&mut c);
        assert_eq!(decode(&out), [Wire::new(true, PONG, masked(role), b"p")]);
        assert!(c.should_close_transport());
        assert_eq!(c.send_text("x"), Err(SendError::Closed));
    }
}

#[test]
fn eof_with_nothing_buffered() {
    for role in ROLES {
        let mut c = conn_default(role);
        c.handle_eof();
        assert_eq!(events(&mut c), [Owned::close(1006, "")]);
        assert_eq!(events(&mut c), []);
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.state(), State::Closed);
        assert!(c.should_close_transport());
    }
}

#[test]
fn eof_while_closing_reports_1006() {
    for role in ROLES {
        let mut c = conn_default(role);
        c.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(c.state(), State::Closing);
        c.handle_eof();
        assert_eq!(events(&mut c), [Owned::close(1006, "")]);
        assert_eq!(c.state(), State::Closed);
        // Our Close is still queued (the driver may still try to write it).
        assert!(!c.should_close_transport());
        let out = drain(&mut c);
        assert_eq!(
            decode(&out),
            [Wire::new(true, CLOSE, masked(role), &[0x03, 0xE8])]
        );
        assert!(c.should_close_transport());
    }
}

// ---- we close first ----

#[test]
fn we_close_first_then_peer_replies() {
    for role in ROLES {
        let mut c = conn_default(role);
        assert_eq!(c.state(), State::Open);
        c.close(CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(c.state(), State::Closing);
        let out = drain(&mut c);
        assert_eq!(
            decode(&out),
            [Wire::new(true, CLOSE, masked(role), b"\x03\xe8bye")]
        );
        assert_eq!(c.state(), State::Closing);
        assert!(!c.should_close_transport());

        let reply = peer_frame(role, true, CLOSE, &close_body(1000, b""));
        assert_eq!(feed(&mut c, &reply), [Owned::close(1000, "")]);
        assert_eq!(c.state(), State::Closed);
        // No second Close.
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.buffered_amount(), 0);
    }
}

#[test]
fn data_received_while_closing_is_still_delivered() {
    for role in ROLES {
        let mut c = conn_default(role);
        c.close(CloseCode::GOING_AWAY, "").unwrap();
        let _ = drain(&mut c);
        let input = [
            peer_frame(role, true, TEXT, b"still"),
            peer_frame(role, false, BINARY, b"fr"),
            peer_frame(role, true, PONG, b"hb"),
            peer_frame(role, true, CONT, b"ag"),
            peer_frame(role, true, PING, b"late ping"),
            peer_frame(role, true, CLOSE, &close_body(1001, b"")),
        ]
        .concat();
        assert_eq!(
            feed(&mut c, &input),
            [
                Owned::text("still"),
                Owned::Pong(b"hb".to_vec()),
                Owned::binary(b"frag"),
                Owned::Ping(b"late ping".to_vec()),
                Owned::close(1001, ""),
            ]
        );
        // Nothing may follow our Close: no Pong, no second Close.
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.state(), State::Closed);
    }
}

#[test]
fn sending_after_close_fails_and_queues_nothing() {
    for role in ROLES {
        // After our close().
        let mut c = conn_default(role);
        c.close(CloseCode::NORMAL, "").unwrap();
        let queued = c.buffered_amount();
        assert_eq!(queued, if masked(role) { 8 } else { 4 });
        assert_all_sends_fail(&mut c, SendError::Closed);

        // After the peer's Close (and our echo).
        let mut c = conn_default(role);
        feed(&mut c, &peer_frame(role, true, CLOSE, b""));
        let _ = drain(&mut c);
        assert_all_sends_fail(&mut c, SendError::Closed);

        // After a protocol failure.
        let mut c = conn_default(role);
        feed(&mut c, &frame(true, 0, 0x3, peer_mask(role), b""));
        let _ = drain(&mut c);
        assert_all_sends_fail(&mut c, SendError::Closed);

        // After end of stream.
        let mut c = conn_default(role);
        c.handle_eof();
        assert_all_sends_fail(&mut c, SendError::Closed);
    }
}

#[test]
fn close_during_a_streamed_send_ends_it() {
    let mut s = conn_default(Role::Server);
    s.send_text_part("par", false).unwrap();
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(s.send_text_part("t", true), Err(SendError::Closed));
    assert_eq!(
        decode(&drain(&mut s)),
        [
            Wire::new(false, TEXT, false, b"par"),
            Wire::new(true, CLOSE, false, &[0x03, 0xE8]),
        ]
    );
}

// ---- close() arguments ----

#[test]
fn close_with_codes_that_may_not_be_sent() {
    for role in ROLES {
        let mut c = conn_default(role);
        for (code, reason) in [
            (1005u16, "non-empty"),
            (1006, ""),
            (1015, ""),
            (999, ""),
            (5000, ""),
            (1004, ""),
            (0, ""),
            (2999, ""),
            (1016, "x"),
        ] {
            assert_eq!(
                c.close(CloseCode(code), reason),
                Err(SendError::InvalidCloseCode(code)),
                "{code}"
            );
            assert_eq!(c.buffered_amount(), 0);
            assert!(c.poll_transmit().is_empty());
            assert_eq!(c.state(), State::Open);
        }
        // The connection is untouched: it can still send.
        c.send_text("ok").unwrap();
        assert_eq!(
            decode(&drain(&mut c)),
            [Wire::new(true, TEXT, masked(role), b"ok")]
        );
    }
}

#[test]
fn close_without_status_sends_an_empty_body() {
    let mut s = conn_default(Role::Server);
    s.close(CloseCode::NO_STATUS, "").unwrap();
    assert_eq!(drain(&mut s), [0x88, 0x00]);
    assert_eq!(s.state(), State::Closing);

    let mut c = with_rng(
        Role::Client,
        Config::default(),
        Box::new(FixedRng([9, 8, 7, 6])),
    );
    c.close(CloseCode::NO_STATUS, "").unwrap();
    assert_eq!(drain(&mut c), [0x88, 0x80, 9, 8, 7, 6]);
}

#[test]
fn close_reason_length_limit() {
    for role in ROLES {
        let mut c = conn_default(role);
        let long = "r".repeat(124);
        assert_eq!(
            c.close(CloseCode::NORMAL, &long),
            Err(SendError::ReasonTooLong)
        );
        assert_eq!(c.buffered_amount(), 0);
        assert_eq!(c.state(), State::Open);
        // 123 bytes: a 125-byte body.
        let max = "é".repeat(61) + "r";
        assert_eq!(max.len(), 123);
        c.close(CloseCode(4000), &max).unwrap();
        let out = drain(&mut c);
        assert_eq!(out[1] & 0x7F, 125);
        let mut body = vec![0x0F, 0xA0];
        body.extend_from_slice(max.as_bytes());
        assert_eq!(decode(&out), [Wire::new(true, CLOSE, masked(role), &body)]);
    }
}

// ---- when to close the transport ----

#[test]
fn should_close_transport_server_closes_first() {
    for closer in ROLES {
        let mut pair = Pair::default_config();
        assert!(!pair.server.should_close_transport());
        assert!(!pair.client.should_close_transport());
        pair.get(closer).close(CloseCode::NORMAL, "").unwrap();
        pair.transfer(closer);
        let peer = other(closer);
        // The peer has received the Close and queued its reply, but not written it.
        assert_eq!(pair.get(peer).state(), State::Closed);
        assert!(!pair.get(peer).should_close_transport());
        pair.transfer(peer);
        assert_eq!(pair.server.state(), State::Closed);
        assert_eq!(pair.client.state(), State::Closed);
        // Server: everything written, close the TCP connection.
        assert!(pair.server.should_close_transport());
        // Client: waits for the server to close it.
        assert!(!pair.client.should_close_transport());
        pair.client.handle_eof();
        assert_eq!(events(&mut pair.client), []);
        assert!(pair.client.should_close_transport());
    }
}

#[test]
fn simultaneous_close() {
    let mut pair = Pair::default_config();
    pair.client.close(CloseCode::NORMAL, "client").unwrap();
    pair.server.close(CloseCode::GOING_AWAY, "server").unwrap();
    let from_client = drain(&mut pair.client);
    let from_server = drain(&mut pair.server);
    assert_eq!(
        decode(&from_client),
        [Wire::new(true, CLOSE, true, b"\x03\xe8client")]
    );
    assert_eq!(
        decode(&from_server),
        [Wire::new(true, CLOSE, false, b"\x03\xe9server")]
    );
    assert_eq!(
        feed(&mut pair.server, &from_client),
        [Owned::close(1000, "client")]
    );
    assert_eq!(
        feed(&mut pair.client, &from_server),
        [Owned::close(1001, "server")]
    );
    assert_eq!(pair.client.state(), State::Closed);
    assert_eq!(pair.server.state(), State::Closed);
    // Exactly one Close each way.
    assert!(drain(&mut pair.client).is_empty());
    assert!(drain(&mut pair.server).is_empty());
    assert!(pair.server.should_close_transport());
}

// ---- Ping / Pong ----

#[test]
fn auto_pong_answers_with_identical_payload() {
    let mut s = conn_default(Role::Server);
    let input = peer_frame(Role::Server, true, PING, b"abc");
    assert_eq!(feed(&mut s, &input), [Owned::Ping(b"abc".to_vec())]);
    assert_eq!(drain(&mut s), [0x8A, 0x03, b'a', b'b', b'c']);

    let mut c = conn_default(Role::Client);
    let payload: Vec<u8> = (0..125).collect();
    let input = peer_frame(Role::Client, true, PING, &payload);
    assert_eq!(feed(&mut c, &input), [Owned::Ping(payload.clone())]);
    assert_eq!(
        decode(&drain(&mut c)),
        [Wire::new(true, PONG, true, &payload)]
    );

    // An empty Ping gets an empty Pong.
    assert_eq!(
        feed(&mut s, &peer_frame(Role::Server, true, PING, b"")),
        [Owned::Ping(vec![])]
    );
    assert_eq!(drain(&mut s), [0x8A, 0x00]);
}

#[test]
fn pong_is_not_answered() {
    for role in ROLES {
        let mut c = conn_default(role);
        let input = peer_frame(role, true, PONG, b"heartbeat");
        assert_eq!(feed(&mut c, &input), [Owned::Pong(b"heartbeat".to_vec())]);
        assert!(drain(&mut c).is_empty());
    }
}

#[test]
fn no_pong_when_auto_pong_is_off() {
    for role in ROLES {
        let mut config = Config::default();
        config.auto_pong = false;
        let mut c = conn(role, config);
        let input = peer_frame(role, true, PING, b"x");
        assert_eq!(feed(&mut c, &input), [Owned::Ping(b"x".to_vec())]);
        assert_eq!(c.buffered_amount(), 0);
        assert!(drain(&mut c).is_empty());
        // The application may answer by hand.
        c.send_pong(b"x").unwrap();
        assert_eq!(
            decode(&drain(&mut c)),
            [Wire::new(true, PONG, masked(role), b"x")]
        );
    }
}

/// The documented bound: automatic Pongs waiting unwritten before only the newest Ping
/// is answered.
const MAX_QUEUED_PONGS: usize = 16;

#[test]
fn every_ping_is_answered_in_order_up_to_the_bound() {
    for role in ROLES {
        let mut c = conn_default(role);
        let mut input = Vec::new();
        for i in 0..10 {
            input.extend(peer_frame(
                role,
                true,
                PING,
                format!("payload-{i}").as_bytes(),
            ));
        }
        for chunk in [input.len(), 1] {
            let mut c2 = conn_default(role);
            let got = feed_chunked(&mut c2, &input, &[chunk]);
            assert_eq!(got.len(), 10);
            let pongs: Vec<Vec<u8>> = decode(&drain(&mut c2))
                .into_iter()
                .map(|w| w.payload)
                .collect();
            let expected: Vec<Vec<u8>> = (0..10)
                .map(|i| format!("payload-{i}").into_bytes())
                .collect();
            assert_eq!(pongs, expected, "{role:?}, chunks of {chunk}");
        }
        feed(&mut c, &input);
        assert_eq!(decode(&drain(&mut c)).len(), 10);
        // Every split point of the ten Pings into two reads.
        let expected: Vec<Vec<u8>> = (0..10)
            .map(|i| format!("payload-{i}").into_bytes())
            .collect();
        for cut in 0..=input.len() {
            let mut c = conn_default(role);
            feed(&mut c, &input[..cut]);
            feed(&mut c, &input[cut..]);
            let pongs: Vec<Vec<u8>> = decode(&drain(&mut c))
                .into_iter()
                .map(|w| w.payload)
                .collect();
            assert_eq!(pongs, expected, "{role:?}, split at {cut}");
        }
    }
}

#[test]
fn ping_flood_with_a_stalled_writer_keeps_the_bound_queued_and_one_pending() {
    let mut s = conn_default(Role::Server);
    for i in 0..1000u32 {
        let payload = i.to_string();
        let input = peer_frame(Role::Server, true, PING, payload.as_bytes());
        assert_eq!(feed(&mut s, &input), [Owned::Ping(payload.into_bytes())]);
        // The driver looks at the output but the transport accepts nothing.
        let _ = s.poll_transmit();
    }
    // Pongs for "0".."15" queued, one pending for "999".
    let queued: usize = (0..MAX_QUEUED_PONGS).map(|i| 2 + i.to_string().len()).sum();
    assert_eq!(s.buffered_amount(), queued + (2 + 3));
    let out = s.poll_transmit().to_vec();
    let pongs: Vec<String> = decode(&out)
        .into_iter()
        .map(|w| String::from_utf8(w.payload).unwrap())
        .collect();
    let expected: Vec<String> = (0..MAX_QUEUED_PONGS).map(|i| i.to_string()).collect();
    assert_eq!(pongs, expected);
    s.poll_transmit().advance(out.len());
    assert_eq!(&*s.poll_transmit(), [0x8A, 0x03, b'9', b'9', b'9']);
    let n = s.poll_transmit().len();
    s.poll_transmit().advance(n);
    assert!(s.poll_transmit().is_empty());
    assert_eq!(s.buffered_amount(), 0);
}

#[test]
fn ping_flood_without_polling_output_answers_the_first_ones_and_the_newest() {
    let mut c = conn_default(Role::Client);
    let mut input = Vec::new();
    for i in 0..1000u32 {
        input.extend(peer_frame(
            Role::Client,
            true,
            PING,
            i.to_string().as_bytes(),
        ));
    }
    let got = feed(&mut c, &input);
    assert_eq!(got.len(), 1000);
    assert_eq!(got[999], Owned::Ping(b"999".to_vec()));
    let pongs: Vec<Vec<u8>> = decode(&drain(&mut c))
        .into_iter()
        .map(|w| w.payload)
        .collect();
    let mut expected: Vec<Vec<u8>> = (0..MAX_QUEUED_PONGS)
        .map(|i| i.to_string().into_bytes())
        .collect();
    expected.push(b"999".to_vec());
    assert_eq!(pongs, expected);
}

#[test]
fn a_pong_goes_out_before_the_reply_to_a_message_completed_after_its_ping() {
    // fragment1, Ping, fragment2 in one read: the application echoes the message when it
    // completes, after the Ping was processed, so the Pong must already be ahead of it.
    for role in ROLES {
        for chunk in [usize::MAX, 1, 3] {
            let mut c = conn_default(role);
            let input = [
                peer_frame(role, false, TEXT, b"fragment1"),
                peer_frame(role, true, PING, b"ping payload"),
                peer_frame(role, true, CONT, b"fragment2"),
            ]
            .concat();
            let mut buf = Vec::new();
            let mut pos = 0;
            while pos < input.len() {
                let end = input.len().min(pos.saturating_add(chunk));
                c.handle_bytes(&input[pos..end]);
                pos = end;
                while let Some(event) = c.poll_event(&mut buf) {
                    if let Event::Text(text) = event {
                        c.send_text(text).unwrap();
                    }
                }
            }
            let out = decode(&drain(&mut c));
            let kinds: Vec<(u8, Vec<u8>)> =
                out.into_iter().map(|w| (w.opcode, w.payload)).collect();
            assert_eq!(
                kinds,
                [
                    (PONG, b"ping payload".to_vec()),
                    (TEXT, b"fragment1fragment2".to_vec())
                ],
                "{role:?}, chunks of {chunk}"
            );
        }
    }
}

#[test]
fn pending_pong_goes_out_before_our_close() {
    let mut s = conn_default(Role::Server);
    feed(&mut s, &peer_frame(Role::Server, true, PING, b"1"));
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(drain(&mut s), [0x8A, 0x01, b'1', 0x88, 0x02, 0x03, 0xE8]);
}

#[test]
fn control_payload_limit_on_send() {
    for role in ROLES {
        let mut c = conn_default(role);
        assert_eq!(
            c.send_ping(&[0; 126]),
            Err(SendError::ControlPayloadTooLong)
        );
        assert_eq!(
            c.send_pong(&[0; 126]),
            Err(SendError::ControlPayloadTooLong)
        );
        assert_eq!(c.buffered_amount(), 0);
        c.send_ping(&[7; 125]).unwrap();
        let out = drain(&mut c);
        assert_eq!(out[..2], [0x89, (u8::from(masked(role)) << 7) | 125]);
        assert_eq!(
            decode(&out),
            [Wire::new(true, PING, masked(role), &[7; 125])]
        );
    }
}

// ---- backpressure ----

#[test]
fn backpressure_past_the_outbound_limit() {
    let mut config = Config::default();
    config.max_outbound_buffer = 100;
    let mut s = conn(Role::Server, config);
    s.send_binary(&[1; 90]).unwrap(); // 92 bytes
    assert_eq!(s.buffered_amount(), 92);
    assert_eq!(s.send_text("1234567"), Err(SendError::Backpressure)); // 9 more: 101
    assert_eq!(s.send_binary(&[0; 1000]), Err(SendError::Backpressure));
    assert_eq!(s.send_ping(&[0; 7]), Err(SendError::Backpressure));
    assert_eq!(
        s.send_text_part("1234567", false),
        Err(SendError::Backpressure)
    );
    assert_eq!(s.buffered_amount(), 92);
    // Exactly at the limit is allowed.
    s.send_text("123456").unwrap(); // 8 more: 100
    assert_eq!(s.buffered_amount(), 100);
    assert_eq!(s.send_pong(b""), Err(SendError::Backpressure));
    let out = drain(&mut s);
    assert_eq!(
        decode(&out),
        [
            Wire::new(true, BINARY, false, &[1; 90]),
            Wire::new(true, TEXT, false, b"123456"),
        ]
    );
    // After draining, sending works again.
    s.send_text("1234567").unwrap();
    // The streamed send refused above did not start a message.
    s.send_binary(b"x").unwrap();
    assert_eq!(
        decode(&drain(&mut s)),
        [
            Wire::new(true, TEXT, false, b"1234567"),
            Wire::new(true, BINARY, false, b"x"),
        ]
    );
}

#[test]
fn backpressure_counts_fragmented_sends_whole_and_exempts_close_and_pongs() {
    let mut config = Config::default();
    config.max_outbound_buffer = 20;
    config.fragment_size = Some(4);
    let mut c = conn(Role::Client, config);
    // 12 bytes in 3 frames of 4: 3 * (6 + 4) = 30 > 20: refused entirely.
    assert_eq!(c.send_binary(&[0; 12]), Err(SendError::Backpressure));
    assert_eq!(c.buffered_amount(), 0);
    // 8 bytes in 2 frames: 20: accepted.
    c.send_binary(&[0; 8]).unwrap();
    assert_eq!(c.buffered_amount(), 20);
    // A Ping from the peer is still answered, and close() is always allowed.
    feed(&mut c, &peer_frame(Role::Client, true, PING, b"pp"));
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        decode(&drain(&mut c)),
        [
            Wire::new(false, BINARY, true, &[0; 4]),
            Wire::new(true, CONT, true, &[0; 4]),
            Wire::new(true, PONG, true, b"pp"),
            Wire::new(true, CLOSE, true, &[0x03, 0xE8]),
        ]
    );
}

#[test]
fn close_between_fragments_ends_the_unfinished_message() {
    for role in ROLES {
        let mut c = conn_default(role);
        let input = [
            peer_frame(role, false, TEXT, b"unfinished"),
            peer_frame(role, true, CLOSE, &close_body(1000, b"")),
            peer_frame(role, true, CONT, b" never delivered"),
        ]
        .concat();
        assert_eq!(feed(&mut c, &input), [Owned::close(1000, "")]);
        assert_eq!(
            decode(&drain(&mut c)),
            [Wire::new(true, CLOSE, masked(role), &[0x03, 0xE8])]
        );
    }
}

#[test]
fn read_buf_offers_read_chunk() {
    let mut config = Config::default();
    config.read_chunk = 64;
    let mut s = conn(Role::Server, config);
    let input = peer_frame(Role::Server, true, TEXT, b"hi");
    let mut buf = s.read_buf();
    assert!(buf.len() >= 64);
    buf[..input.len()].copy_from_slice(&input);
    buf.commit(input.len());
    assert_eq!(s.buffered_input(), input.len());
    assert_eq!(events(&mut s), [Owned::text("hi")]);
    assert_eq!(s.buffered_input(), 0);
    let mut buf = s.read_buf();
    let offered = buf.len();
    assert!(offered >= 64);
    buf.fill(0x8A); // Pong headers, read in full
    buf.commit(offered);
    assert_eq!(s.buffered_input(), offered);
}

#[test]
#[should_panic(expected = "ReadBuf::commit(65) beyond the 64-byte buffer")]
fn committing_more_than_the_read_buf_panics() {
    let mut config = Config::default();
    config.read_chunk = 64;
    let mut s = conn(Role::Server, config);
    let buf = s.read_buf();
    assert_eq!(buf.len(), 64);
    buf.commit(65);
}

#[test]
#[should_panic(expected = "Transmit::advance(8) beyond the 7 bytes")]
fn advancing_past_the_output_panics() {
    let mut s = conn(Role::Server, Config::default());
    s.send_text("hello").unwrap();
    let out = s.poll_transmit();
    assert_eq!(out.len(), 7);
    out.advance(8);
}

#[test]
fn output_not_advanced_is_offered_again_and_advanced_output_never() {
    let mut s = conn(Role::Server, Config::default());
    s.send_text("hello").unwrap();
    let first = s.poll_transmit().to_vec();
    // Nothing reported written (a write that would block): the same bytes again.
    assert_eq!(&*s.poll_transmit(), first);
    s.poll_transmit().advance(3);
    assert_eq!(&*s.poll_transmit(), &first[3..]);
    s.poll_transmit().advance(4);
    assert!(s.poll_transmit().is_empty());
    assert_eq!(s.buffered_amount(), 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// A message in fragments with Pings at any positions between them (and after it),
    /// arriving in any chunks; the application echoes the message when it completes. Every
    /// Ping that arrived before the last fragment is answered before the echo, in order;
    /// the ones after it, after the echo.
    #[test]
    fn pongs_precede_the_echo_of_a_message_completed_after_them(
        role in proptest::prop_oneof![proptest::prelude::Just(Role::Server), proptest::prelude::Just(Role::Client)],
        fragments in proptest::collection::vec(proptest::collection::vec(b'a'..=b'z', 0..20), 1..6),
        pings_after in proptest::collection::vec(0usize..4, 1..7),
        chunk in 1usize..40,
    ) {
        // pings_after[i] Pings follow fragment i (the last entry: after the message).
        let mut input = Vec::new();
        let mut before_end = Vec::new();
        let mut after_end = Vec::new();
        let mut n = 0;
        for (i, fragment) in fragments.iter().enumerate() {
            let first = i == 0;
            let last = i + 1 == fragments.len();
            let opcode = if first { TEXT } else { CONT };
            input.extend(peer_frame(role, last, opcode, fragment));
            for _ in 0..pings_after.get(i).copied().unwrap_or(0) {
                let payload = format!("p{n}").into_bytes();
                n += 1;
                input.extend(peer_frame(role, true, PING, &payload));
                if last { after_end.push(payload) } else { before_end.push(payload) }
            }
        }
        let message: Vec<u8> = fragments.concat();
        let mut c = conn_default(role);
        let mut buf = Vec::new();
        for piece in input.chunks(chunk) {
            c.handle_bytes(piece);
            while let Some(event) = c.poll_event(&mut buf) {
                if let Event::Text(text) = event {
                    c.send_text(text).unwrap();
                }
            }
        }
        let sent: Vec<(u8, Vec<u8>)> =
            decode(&drain(&mut c)).into_iter().map(|w| (w.opcode, w.payload)).collect();
        let mut expected: Vec<(u8, Vec<u8>)> = before_end.into_iter().map(|p| (PONG, p)).collect();
        expected.push((TEXT, message));
        expected.extend(after_end.into_iter().map(|p| (PONG, p)));
        proptest::prop_assert_eq!(sent, expected);
    }
}

#[test]
fn our_close_after_a_flood_of_unwritten_pings_sends_every_queued_pong_then_close() {
    // 16 Pongs wait unwritten and one is held back when the application closes: the held
    // one goes out before our Close (nothing may follow a Close), beyond the bound.
    for role in ROLES {
        let mut c = conn_default(role);
        let mut input = Vec::new();
        for i in 0..20u32 {
            input.extend(peer_frame(role, true, PING, i.to_string().as_bytes()));
        }
        feed(&mut c, &input);
        c.close(CloseCode::NORMAL, "bye").unwrap();
        let sent: Vec<(u8, Vec<u8>)> = decode(&drain(&mut c))
            .into_iter()
            .map(|w| (w.opcode, w.payload))
            .collect();
        let mut expected: Vec<(u8, Vec<u8>)> = (0..MAX_QUEUED_PONGS)
            .map(|i| (PONG, i.to_string().into_bytes()))
            .collect();
        expected.push((PONG, b"19".to_vec()));
        expected.push((CLOSE, close_body(1000, b"bye")));
        assert_eq!(sent, expected, "{role:?}");
    }
}
