//! `send_binary_unbuffered` / `send_text_unbuffered`: the payload passed through (header
//! returned, payload written by the caller), the fallbacks to the queue, errors, and the
//! order of what follows. Output is always checked by the test-side decoder and by a
//! connection in the other role, never by re-encoding.

mod common;

use common::*;
use ws_proto::{ClientRequest, CloseCode, Config, Connection, FrameHead, Role, SendError};

const ROLES: [Role; 2] = [Role::Server, Role::Client];

/// What a caller following the contract writes after a send: the header and the payload
/// if passed through, then everything queued.
fn write_out(conn: &mut Connection, sent: Option<FrameHead>, payload: &[u8]) -> Vec<u8> {
    let mut socket = Vec::new();
    if let Some(head) = sent {
        socket.extend_from_slice(&head);
        socket.extend_from_slice(payload);
    }
    socket.extend(drain(conn));
    socket
}

/// The peer of `role`'s view of `wire`.
fn peer_events(role: Role, wire: &[u8]) -> Vec<Owned> {
    let mut peer = conn_default(other(role));
    feed(&mut peer, wire)
}

#[test]
fn server_passes_the_payload_through_unchanged() {
    for len in [0, 1, 125, 126, 65_535, 65_536, 300_000] {
        let original = random_bytes(len, 1);
        let mut payload = original.clone();
        let mut server = conn_default(Role::Server);
        let head = server
            .send_binary_unbuffered(&mut payload)
            .unwrap()
            .expect("passed through");
        assert_eq!(payload, original, "{len}: servers do not touch the payload");
        assert_eq!(
            head.as_bytes(),
            header(true, 0, BINARY, None, len as u64, LenEnc::Minimal),
            "{len}"
        );
        assert_eq!(server.buffered_amount(), 0, "{len}: nothing queued");
        assert!(server.poll_transmit().is_empty());
        let wire = write_out(&mut server, Some(head), &payload);
        assert_eq!(decode(&wire), [Wire::new(true, BINARY, false, &original)]);
        assert_eq!(peer_events(Role::Server, &wire), [Owned::binary(&original)]);
    }
}

#[test]
fn client_masks_the_payload_in_place_and_the_server_sees_the_original() {
    for len in [1, 125, 126, 65_536, 300_001] {
        let original = random_bytes(len, 2);
        let mut payload = original.clone();
        let mut client = conn_default(Role::Client);
        let head = client
            .send_binary_unbuffered(&mut payload)
            .unwrap()
            .expect("passed through");
        assert_ne!(payload, original, "{len}: masked in place");
        let wire = write_out(&mut client, Some(head), &payload);
        let [Some(key)] = mask_keys(&wire)[..] else {
            panic!("{len}: one masked frame");
        };
        assert_eq!(
            payload,
            xor(&original, key),
            "{len}: masked with the frame's key"
        );
        assert_eq!(decode(&wire), [Wire::new(true, BINARY, true, &original)]);
        assert_eq!(peer_events(Role::Client, &wire), [Owned::binary(&original)]);
    }
}

#[test]
fn each_client_frame_gets_a_fresh_key() {
    let mut client = conn_default(Role::Client);
    let mut a = vec![0u8; 64];
    let mut b = vec![0u8; 64];
    let ha = client.send_binary_unbuffered(&mut a).unwrap().unwrap();
    let hb = client.send_binary_unbuffered(&mut b).unwrap().unwrap();
    assert_ne!(ha, hb);
    assert_ne!(a, b);
}

#[test]
fn servers_pass_text_through_clients_queue_it() {
    let text = "héllo wörld, ☃ ".repeat(5000);
    for role in ROLES {
        let mut c = conn_default(role);
        let sent = c.send_text_unbuffered(&text).unwrap();
        // A client must mask, and cannot mask a `str` in place.
        assert_eq!(sent.is_some(), role == Role::Server, "{role:?}");
        let wire = write_out(&mut c, sent, text.as_bytes());
        assert_eq!(
            decode(&wire),
            [Wire::new(true, TEXT, role == Role::Client, text.as_bytes())]
        );
        assert_eq!(peer_events(role, &wire), [Owned::text(&text)], "{role:?}");
    }
}

#[test]
fn queued_output_means_fallback_in_order() {
    for role in ROLES {
        let original = random_bytes(70_000, 3);
        let mut payload = original.clone();
        let mut c = conn_default(role);
        c.send_ping(b"first").unwrap();
        let sent = c.send_binary_unbuffered(&mut payload).unwrap();
        assert_eq!(sent, None, "{role:?}");
        assert_eq!(
            payload, original,
            "{role:?}: the fallback leaves the buffer alone"
        );
        let wire = write_out(&mut c, sent, &payload);
        assert_eq!(
            peer_events(role, &wire),
            [Owned::Ping(b"first".to_vec()), Owned::binary(&original)],
            "{role:?}"
        );
    }
}

#[test]
fn partly_written_output_means_fallback() {
    let mut c = conn_default(Role::Server);
    c.send_binary(&[9; 100]).unwrap();
    c.poll_transmit().advance(50);
    let mut payload = vec![4u8; 10];
    assert_eq!(c.send_binary_unbuffered(&mut payload), Ok(None));
}

#[test]
fn a_pending_automatic_pong_goes_first() {
    for role in ROLES {
        let mut c = conn_default(role);
        let ping = peer_frame(role, true, PING, b"are you there");
        assert_eq!(
            feed(&mut c, &ping),
            [Owned::Ping(b"are you there".to_vec())]
        );
        // The Pong is pending, not yet in the queue: it is moved there, and wins.
        let original = random_bytes(5000, 4);
        let mut payload = original.clone();
        let sent = c.send_binary_unbuffered(&mut payload).unwrap();
        assert_eq!(sent, None, "{role:?}");
        assert_eq!(payload, original);
        let wire = write_out(&mut c, sent, &payload);
        assert_eq!(
            peer_events(role, &wire),
            [
                Owned::Pong(b"are you there".to_vec()),
                Owned::binary(&original)
            ],
            "{role:?}"
        );
    }
}

#[test]
fn an_automatic_pong_after_a_passthrough_still_goes_out() {
    for role in ROLES {
        let mut c = conn_default(role);
        let mut payload = random_bytes(1000, 5);
        let original = payload.clone();
        let head = c.send_binary_unbuffered(&mut payload).unwrap().unwrap();
        let ping = peer_frame(role, true, PING, b"p");
        assert_eq!(feed(&mut c, &ping), [Owned::Ping(b"p".to_vec())]);
        let wire = write_out(&mut c, Some(head), &payload);
        assert_eq!(
            peer_events(role, &wire),
            [Owned::binary(&original), Owned::Pong(b"p".to_vec())],
            "{role:?}"
        );
        assert_eq!(c.buffered_amount(), 0);
    }
}

#[test]
fn fragmentation_means_fallback() {
    for role in ROLES {
        let mut config = Config::default();
        config.fragment_size = Some(1000);
        let original = random_bytes(2500, 6);
        let mut payload = original.clone();
        let mut c = conn(role, config.clone());
        let sent = c.send_binary_unbuffered(&mut payload).unwrap();
        assert_eq!(sent, None, "{role:?}");
        assert_eq!(payload, original);
        let wire = write_out(&mut c, sent, &payload);
        let masked = role == Role::Client;
        assert_eq!(
            decode(&wire),
            [
                Wire::new(false, BINARY, masked, &original[..1000]),
                Wire::new(false, CONT, masked, &original[1000..2000]),
                Wire::new(true, CONT, masked, &original[2000..]),
            ]
        );
        assert_eq!(peer_events(role, &wire), [Owned::binary(&original)]);

        // A message that fits in one fragment passes through.
        let mut small = random_bytes(1000, 7);
        assert!(c.send_binary_unbuffered(&mut small).unwrap().is_some());
    }
}

#[test]
fn errors_change_nothing() {
    let original = random_bytes(300, 8);
    let client = |config: Config| {
        let request = ClientRequest::new("ws://h/").unwrap();
        Connection::client_with_rng(
            request,
            config,
            ws_proto::Timestamp::ZERO,
            Box::new(XorShift(1)),
        )
        .unwrap()
    };

    // Connecting, both roles.
    let mut payload = original.clone();
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    assert_eq!(
        server.send_binary_unbuffered(&mut payload),
        Err(SendError::NotOpen)
    );
    assert_eq!(server.send_text_unbuffered("abc"), Err(SendError::NotOpen));
    let mut c = client(Config::default());
    let queued = c.buffered_amount(); // the upgrade request
    assert_eq!(
        c.send_binary_unbuffered(&mut payload),
        Err(SendError::NotOpen)
    );
    assert_eq!(c.buffered_amount(), queued);
    assert_eq!(payload, original);

    // After our Close.
    for role in ROLES {
        let mut c = conn_default(role);
        c.close(CloseCode::NORMAL, "").unwrap();
        let queued = c.buffered_amount();
        assert_eq!(
            c.send_binary_unbuffered(&mut payload),
            Err(SendError::Closed)
        );
        assert_eq!(c.send_text_unbuffered("abc"), Err(SendError::Closed));
        assert_eq!(c.buffered_amount(), queued);
        assert_eq!(payload, original, "{role:?}");
    }

    // While a streamed message is being sent.
    for role in ROLES {
        let mut c = conn_default(role);
        c.send_binary_part(b"start", false).unwrap();
        let queued = c.buffered_amount();
        assert_eq!(
            c.send_binary_unbuffered(&mut payload),
            Err(SendError::MessageInProgress)
        );
        assert_eq!(
            c.send_text_unbuffered("abc"),
            Err(SendError::MessageInProgress)
        );
        assert_eq!(c.buffered_amount(), queued);
        assert_eq!(payload, original, "{role:?}");
    }

    // The fallback's Backpressure, as `send_binary` would return it.
    for role in ROLES {
        let mut config = Config::default();
        config.max_outbound_buffer = 200;
        let mut c = conn(role, config);
        c.send_ping(b"x").unwrap();
        let queued = c.buffered_amount();
        assert_eq!(
            c.send_binary_unbuffered(&mut payload),
            Err(SendError::Backpressure)
        );
        assert_eq!(c.buffered_amount(), queued);
        assert_eq!(payload, original, "{role:?}");
        // Passed through, the same message is not held to the queue's limit.
        drain(&mut c);
        assert!(c.send_binary_unbuffered(&mut payload).unwrap().is_some());
    }
}

#[test]
fn control_frames_and_close_queued_afterwards_follow_the_payload() {
    for role in ROLES {
        let original = random_bytes(100_000, 9);
        let mut payload = original.clone();
        let mut c = conn_default(role);
        let head = c.send_binary_unbuffered(&mut payload).unwrap().unwrap();
        c.send_ping(b"after").unwrap();
        c.send_text("then text").unwrap();
        c.close(CloseCode::NORMAL, "bye").unwrap();
        // Only the frames queued after it are in the queue.
        assert!(c.buffered_amount() < 100);
        let wire = write_out(&mut c, Some(head), &payload);
        assert_eq!(
            peer_events(role, &wire),
            [
                Owned::binary(&original),
                Owned::Ping(b"after".to_vec()),
                Owned::text("then text"),
                Owned::close(1000, "bye"),
            ],
            "{role:?}"
        );
    }
}

#[test]
fn consecutive_passthroughs_interleave_with_nothing() {
    let mut c = conn_default(Role::Client);
    let mut wire = Vec::new();
    let mut originals = Vec::new();
    for i in 0..5u8 {
        let original = random_bytes(10_000 * usize::from(i), u64::from(i));
        let mut payload = original.clone();
        let head = c.send_binary_unbuffered(&mut payload).unwrap().unwrap();
        wire.extend_from_slice(&head);
        wire.extend_from_slice(&payload);
        originals.push(Owned::binary(&original));
    }
    assert_eq!(peer_events(Role::Client, &wire), originals);
}

#[test]
fn keepalive_still_works_after_passthrough() {
    use std::time::Duration;
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_secs(1));
    let mut c = conn(Role::Server, config);
    c.handle_timeout(Duration::ZERO);
    let mut payload = random_bytes(5000, 10);
    let head = c.send_binary_unbuffered(&mut payload).unwrap().unwrap();
    c.handle_timeout(Duration::from_secs(1));
    let wire = write_out(&mut c, Some(head), &payload);
    assert_eq!(
        peer_events(Role::Server, &wire),
        [Owned::binary(&payload), Owned::Ping(Vec::new())]
    );
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use ws_proto::{Accept, Event};

    fn move_bytes(from: &mut Connection, to: &mut Connection) {
        let bytes = drain(from);
        to.handle_bytes(&bytes);
    }

    /// A client and a server that negotiated permessage-deflate.
    fn negotiated() -> (Connection, Connection) {
        let request = ClientRequest::new("ws://h/").unwrap();
        let mut client = Connection::client_with_rng(
            request,
            Config::default(),
            ws_proto::Timestamp::ZERO,
            Box::new(XorShift(7)),
        )
        .unwrap();
        let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
        move_bytes(&mut client, &mut server);
        let mut buf = Vec::new();
        assert!(matches!(
            server.poll_event(&mut buf),
            Some(Event::Request(_))
        ));
        server.accept(&Accept::default()).unwrap();
        move_bytes(&mut server, &mut client);
        assert!(matches!(
            client.poll_event(&mut buf),
            Some(Event::Connected(_))
        ));
        (client, server)
    }

    #[test]
    fn compression_means_fallback_small_messages_pass_through() {
        for role in ROLES {
            let (mut client, mut server) = negotiated();
            let (sender, receiver) = match role {
                Role::Client => (&mut client, &mut server),
                Role::Server => (&mut server, &mut client),
            };
            // Compressible and above the minimum size: compressed, so queued.
            let original = b"all work and no play ".repeat(1000);
            let mut payload = original.clone();
            let sent = sender.send_binary_unbuffered(&mut payload).unwrap();
            assert_eq!(sent, None, "{role:?}");
            assert_eq!(payload, original);
            let wire = write_out(sender, sent, &payload);
            let frames = decode(&wire);
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].rsv, 0b100, "{role:?}: RSV1, compressed");
            assert!(wire.len() < original.len() / 10);
            assert_eq!(feed(receiver, &wire), [Owned::binary(&original)]);

            // Below `min_message_size`: sent as is, so passed through (RSV1 clear).
            let mut payload = b"tiny".to_vec();
            let sent = sender.send_binary_unbuffered(&mut payload).unwrap();
            assert!(sent.is_some(), "{role:?}");
            let wire = write_out(sender, sent, &payload);
            assert_eq!(decode(&wire)[0].rsv, 0);
            assert_eq!(feed(receiver, &wire), [Owned::binary(b"tiny")]);
            // The same for text from a server (a client queues text).
            let sent = sender.send_text_unbuffered("tiny text").unwrap();
            assert_eq!(sent.is_some(), role == Role::Server);
            let wire = write_out(sender, sent, b"tiny text");
            assert_eq!(decode(&wire)[0].rsv, 0);
            assert_eq!(feed(receiver, &wire), [Owned::text("tiny text")]);

            // The compressor's context was not disturbed: the next one still inflates.
            let sent = sender
                .send_binary_unbuffered(&mut original.clone())
                .unwrap();
            assert_eq!(sent, None);
            let wire = drain(sender);
            assert_eq!(feed(receiver, &wire), [Owned::binary(&original)]);
        }
    }
}
