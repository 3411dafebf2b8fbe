//! The API's promises: one terminal event that says how a connection ended, deadlines
//! armed from creation whatever loop drives the connection, guards that make lost or
//! repeated bytes impossible, settings reachable from outside the crate.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_proto::{
    Accept, ClientRequest, CloseCause, CloseCode, Closed, Config, Connection, Event,
    HandshakeError, Negotiated, ProtocolError, Role, State, Timestamp,
};

const S: Duration = Duration::from_secs(1);

/// The terminal event as owned fields, and every event before it.
#[derive(Debug, PartialEq)]
struct End {
    code: u16,
    reason: String,
    was_clean: bool,
    cause: CloseCause,
}

/// Polls until nothing is left; returns the `Event::Closed` seen (exactly one, last).
fn end_of(conn: &mut Connection) -> Option<End> {
    let mut buf = Vec::new();
    let mut end = None;
    while let Some(event) = conn.poll_event(&mut buf) {
        assert!(end.is_none(), "an event after Closed: {event:?}");
        if let Event::Closed(Closed {
            code,
            reason,
            was_clean,
            cause,
            ..
        }) = event
        {
            end = Some(End {
                code: code.0,
                reason: reason.to_owned(),
                was_clean,
                cause,
            });
        }
    }
    if end.is_some() {
        assert!(conn.is_finished());
        assert_eq!(conn.state(), State::Closed);
    }
    end
}

fn end(code: u16, reason: &str, was_clean: bool, cause: CloseCause) -> Option<End> {
    Some(End {
        code,
        reason: reason.to_owned(),
        was_clean,
        cause,
    })
}

#[test]
fn a_peer_initiated_close_is_clean_and_says_so() {
    let mut pair = Pair::default_config();
    pair.client.close(CloseCode(4000), "bye").unwrap();
    let wire = drain(&mut pair.client);
    pair.server.handle_bytes(&wire);
    assert_eq!(
        end_of(&mut pair.server),
        end(4000, "bye", true, CloseCause::PeerClose)
    );
    // The closer hears the echo: its own close, answered.
    let reply = drain(&mut pair.server);
    pair.client.handle_bytes(&reply);
    assert_eq!(
        end_of(&mut pair.client),
        end(4000, "bye", true, CloseCause::LocalClose)
    );
}

#[test]
fn the_transport_ending_without_a_close_is_1006_not_clean() {
    for role in [Role::Server, Role::Client] {
        let mut c = conn_default(role);
        c.handle_eof();
        assert_eq!(end_of(&mut c), end(1006, "", false, CloseCause::Eof));
        assert!(c.should_close_transport());
    }
}

#[test]
fn an_unanswered_close_ends_by_the_close_timeout() {
    let mut c = conn(
        Role::Server,
        Config::default().with_close_timeout(Some(2 * S)),
    );
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(end_of(&mut c), None);
    assert!(!c.is_finished(), "waiting for the peer's Close");
    c.handle_timeout(2 * S);
    assert_eq!(
        end_of(&mut c),
        end(1006, "", false, CloseCause::CloseTimeout)
    );
}

#[test]
fn a_protocol_error_reports_the_code_and_reason_we_sent() {
    let mut c = conn_default(Role::Server);
    c.handle_bytes(&frame(true, 0, TEXT, None, b"unmasked"));
    assert_eq!(
        end_of(&mut c),
        end(
            1002,
            "client frame not masked",
            false,
            CloseCause::ProtocolError(ProtocolError::UnmaskedFrame)
        )
    );
    let sent = decode(&drain(&mut c));
    assert_eq!(
        sent,
        [Wire::new(
            true,
            CLOSE,
            false,
            &close_body(1002, b"client frame not masked")
        )]
    );
}

#[test]
fn a_keepalive_timeout_reports_1011() {
    let config = Config::default()
        .with_keepalive_interval(Some(10 * S))
        .with_keepalive_timeout(5 * S);
    let mut c = conn(Role::Server, config);
    c.handle_timeout(10 * S); // the Ping
    assert_eq!(end_of(&mut c), None);
    c.handle_timeout(15 * S);
    assert_eq!(
        end_of(&mut c),
        end(
            1011,
            "keepalive timeout",
            false,
            CloseCause::KeepaliveTimeout
        )
    );
}

#[test]
fn a_failed_handshake_is_the_terminal_event_with_its_status() {
    let mut server = Connection::server(Config::default(), Timestamp::ZERO);
    server.handle_bytes(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
    let Some(End {
        code: 1006,
        was_clean: false,
        cause: CloseCause::HandshakeFailed(error),
        ..
    }) = end_of(&mut server)
    else {
        panic!("no handshake failure")
    };
    assert_eq!(error.status(), Some(400));
    assert!(drain(&mut server).starts_with(b"HTTP/1.1 400 "));
}

#[test]
fn a_refused_client_gets_rejected_then_closed() {
    let request = ClientRequest::new("ws://h/").unwrap();
    let mut client = client_for(request, 1);
    drain(&mut client);
    client.handle_bytes(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
    let mut buf = Vec::new();
    let Some(Event::Rejected { response, body }) = client.poll_event(&mut buf) else {
        panic!("no Rejected")
    };
    assert_eq!((response.status(), body), (403, &b"no"[..]));
    assert!(!client.is_finished(), "Closed still to come");
    assert_eq!(
        end_of(&mut client),
        end(
            1006,
            "",
            false,
            CloseCause::HandshakeFailed(HandshakeError::Rejected(403))
        )
    );
}

#[test]
fn none_means_wait_until_is_finished_says_the_end() {
    let mut c = conn_default(Role::Server);
    let mut buf = Vec::new();
    assert_eq!(c.poll_event(&mut buf), None);
    assert!(!c.is_finished(), "nothing happened yet: wait for input");
    c.handle_bytes(&peer_frame(Role::Server, false, TEXT, b"par"));
    assert_eq!(c.poll_event(&mut buf), None);
    assert!(!c.is_finished());
    c.handle_bytes(&peer_frame(
        Role::Server,
        true,
        CLOSE,
        &close_body(1000, b""),
    ));
    assert!(matches!(c.poll_event(&mut buf), Some(Event::Closed(_))));
    assert!(c.is_finished());
    assert_eq!(c.poll_event(&mut buf), None);
}

#[test]
fn a_server_after_respond_is_finished_without_further_events() {
    let mut server = Connection::server(Config::default(), Timestamp::ZERO);
    let mut client = client_for(ClientRequest::new("ws://h/").unwrap(), 2);
    server.handle_bytes(&drain(&mut client));
    let mut buf = Vec::new();
    assert!(matches!(
        server.poll_event(&mut buf),
        Some(Event::Request(_))
    ));
    server.respond(403, &[], b"go away").unwrap();
    assert!(server.is_finished());
    assert_eq!(server.poll_event(&mut buf), None);
    assert!(drain(&mut server).starts_with(b"HTTP/1.1 403 "));
    assert!(server.should_close_transport());
}

// ---- deadlines, whatever the loop ----

/// A slow client: a request that never ends.
const SLOW: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\n";

fn handshake_timed_out(server: &mut Connection) -> bool {
    matches!(
        end_of(server),
        Some(End {
            cause: CloseCause::HandshakeFailed(HandshakeError::Timeout),
            ..
        })
    )
}

#[test]
fn the_handshake_deadline_fires_when_the_driver_sleeps_until_poll_timeout() {
    // Loop shape 1: sleep until poll_timeout(), then handle_timeout(now).
    let t0 = Timestamp::from_duration(1000 * S);
    let mut server = Connection::server(Config::default(), t0);
    server.handle_bytes(SLOW);
    let mut now = t0;
    for _ in 0..10 {
        let Some(deadline) = server.poll_timeout() else {
            break;
        };
        now = now.max(deadline);
        server.handle_timeout(now);
        if handshake_timed_out(&mut server) {
            assert_eq!(now, t0 + 10 * S);
            return;
        }
    }
    panic!("the handshake deadline never fired");
}

#[test]
fn the_handshake_deadline_fires_when_the_driver_reads_with_a_timeout() {
    // Loop shape 2: a blocking read with a socket timeout derived from poll_timeout();
    // every wake-up (data or timeout) passes the time in.
    let t0 = Instant::now();
    let mut server = Connection::server(Config::default(), t0);
    let mut now = t0;
    let mut input = SLOW.iter();
    for _ in 0..100 {
        let deadline = Instant::from(server.poll_timeout().expect("armed from creation"));
        let timeout = deadline.saturating_duration_since(now);
        // A byte arrives every second, or the read times out at the deadline.
        match input.next() {
            Some(&byte) if timeout > S => {
                now += S;
                server.handle_bytes(&[byte]);
            }
            _ => now += timeout,
        }
        server.handle_timeout(now);
        if handshake_timed_out(&mut server) {
            assert_eq!(now, t0 + 10 * S);
            return;
        }
    }
    panic!("the handshake deadline never fired");
}

#[test]
fn the_handshake_deadline_fires_for_a_driver_that_only_reads() {
    // Loop shape 3: an event loop that calls handle_timeout only when woken by input
    // (a byte a second) still sees the deadline pass, because it was armed at creation.
    let mut server = Connection::server(Config::default(), Duration::ZERO);
    for (i, &byte) in SLOW.iter().cycle().take(15).enumerate() {
        server.handle_bytes(&[byte]);
        server.handle_timeout(Duration::from_secs(i as u64 + 1));
        if handshake_timed_out(&mut server) {
            assert_eq!(i + 1, 10);
            return;
        }
    }
    panic!("the handshake deadline never fired");
}

// ---- settings and entry points ----

#[test]
fn config_is_built_from_outside_the_crate() {
    let config = Config::default()
        .with_max_message_size(1 << 20)
        .with_auto_pong(false)
        .with_handshake_timeout(None);
    assert_eq!(config.max_message_size, 1 << 20);
    assert!(!config.auto_pong);
    let mut same = Config::default();
    same.max_message_size = 1 << 20;
    same.auto_pong = false;
    same.handshake_timeout = None;
    assert_eq!(config, same);
    // Without a handshake timeout a server has no deadline at all.
    assert_eq!(
        Connection::server(config, Timestamp::ZERO).poll_timeout(),
        None
    );
}

#[test]
fn an_upgraded_connection_uses_what_was_negotiated() {
    let negotiated = Negotiated::new().with_subprotocol("chat.v2");
    let c = Connection::upgraded(
        Role::Server,
        negotiated.clone(),
        Config::default(),
        Timestamp::ZERO,
    );
    assert_eq!(c.negotiated(), &negotiated);
    assert_eq!(c.negotiated().subprotocol(), Some("chat.v2"));
    assert_eq!(c.state(), State::Open);
}

#[test]
fn an_upgraded_pair_with_deflate_compresses_both_ways() {
    let params = ws_proto::deflate::accept(
        &Config::default().deflate,
        &[ws_proto::deflate::offer(&Config::default().deflate)],
    )
    .expect("our own offer is accepted")
    .0;
    let negotiated = Negotiated::new().with_deflate(params);
    let mut server = Connection::upgraded(
        Role::Server,
        negotiated.clone(),
        Config::default(),
        Timestamp::ZERO,
    );
    let mut client = Connection::upgraded_with_rng(
        Role::Client,
        negotiated,
        Config::default(),
        Timestamp::ZERO,
        Box::new(XorShift(5)),
    );
    let text = "compressible ".repeat(100);
    client.send_text(&text).unwrap();
    let wire = drain(&mut client);
    assert!(
        wire.len() < text.len() / 4,
        "{} bytes on the wire",
        wire.len()
    );
    assert_eq!(wire[0] & 0x40, 0x40, "RSV1: compressed");
    server.handle_bytes(&wire);
    assert_eq!(events(&mut server), [Owned::text(&text)]);
    server.send_text(&text).unwrap();
    let wire = drain(&mut server);
    assert_eq!(wire[0] & 0x40, 0x40);
    client.handle_bytes(&wire);
    assert_eq!(events(&mut client), [Owned::text(&text)]);
    // heap_usage counts zlib's state, not only the buffers.
    assert!(server.heap_usage() > 200 << 10, "{}", server.heap_usage());
}

#[test]
fn accept_reports_what_it_negotiated() {
    let mut server = Connection::server(Config::default(), Timestamp::ZERO);
    let request = ClientRequest::new("ws://h/chat")
        .unwrap()
        .subprotocol("v1")
        .subprotocol("v2");
    let mut client = client_for(request, 9);
    server.handle_bytes(&drain(&mut client));
    let mut buf = Vec::new();
    assert!(matches!(
        server.poll_event(&mut buf),
        Some(Event::Request(_))
    ));
    assert_eq!(
        server.negotiated(),
        &Negotiated::new(),
        "nothing before accept"
    );
    let accept = Accept {
        subprotocol: Some("v2".into()),
        ..Accept::default()
    };
    server.accept(&accept).unwrap();
    assert_eq!(server.negotiated().subprotocol(), Some("v2"));
    assert!(
        server.negotiated().deflate().is_some(),
        "offered by default"
    );
    client.handle_bytes(&drain(&mut server));
    assert!(matches!(
        client.poll_event(&mut buf),
        Some(Event::Connected(_))
    ));
    assert_eq!(client.negotiated(), server.negotiated());
}

// ---- HTTP on the same port ----

#[test]
fn a_plain_http_request_is_an_event_answered_with_any_response() {
    let mut server = Connection::server(Config::default(), Timestamp::ZERO);
    server.handle_bytes(
        b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\n\r\n",
    );
    let mut buf = Vec::new();
    let Some(Event::HttpRequest(request)) = server.poll_event(&mut buf) else {
        panic!("no HttpRequest")
    };
    assert_eq!((request.method(), request.path()), ("GET", "/index.html"));
    assert!(!request.is_upgrade());
    assert_eq!(request.header("accept"), Some(&b"text/html"[..]));
    // Not an upgrade: accepting it is refused and changes nothing.
    assert_eq!(
        server.accept(&Accept::default()),
        Err(ws_proto::AcceptError::NotAnUpgrade)
    );
    assert_eq!(server.state(), State::Connecting);
    let headers = [("Content-Type".to_owned(), "text/html".to_owned())];
    server.respond(200, &headers, b"<p>hi</p>").unwrap();
    assert!(server.is_finished());
    let out = String::from_utf8(drain(&mut server)).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Content-Type: text/html\r\n"), "{out}");
    assert!(out.contains("Content-Length: 9\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n<p>hi</p>"), "{out}");
    assert!(server.should_close_transport());
}

#[test]
fn other_methods_and_http_1_0_are_plain_requests_too() {
    for head in [
        &b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
        b"GET / HTTP/1.0\r\n\r\n",
    ] {
        let mut server = Connection::server(Config::default(), Timestamp::ZERO);
        server.handle_bytes(head);
        let mut buf = Vec::new();
        assert!(
            matches!(server.poll_event(&mut buf), Some(Event::HttpRequest(_))),
            "{}",
            String::from_utf8_lossy(head)
        );
        server.respond(404, &[], b"").unwrap();
        assert!(drain(&mut server).starts_with(b"HTTP/1.1 404 "));
    }
}

#[test]
fn an_upgrade_request_is_still_a_request_and_a_broken_one_still_400() {
    let mut server = Connection::server(Config::default(), Timestamp::ZERO);
    let mut client = client_for(ClientRequest::new("ws://h/").unwrap(), 4);
    server.handle_bytes(&drain(&mut client));
    let mut buf = Vec::new();
    assert!(matches!(server.poll_event(&mut buf), Some(Event::Request(r)) if r.is_upgrade()));

    // An upgrade attempt that breaks a rule is not a plain request: 426 for version 8.
    let mut server = Connection::server(Config::default(), Timestamp::ZERO);
    server.handle_bytes(
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    );
    assert!(matches!(
        end_of(&mut server),
        Some(End {
            cause: CloseCause::HandshakeFailed(HandshakeError::Request(_)),
            ..
        })
    ));
    assert!(drain(&mut server).starts_with(b"HTTP/1.1 426 "));
}

/// A client connection for `request` with default settings, its masking keys and
/// handshake key drawn from a deterministic source seeded with `seed`.
fn client_for(request: ClientRequest, seed: u64) -> Connection {
    Connection::client_with_rng(
        request,
        Config::default(),
        Timestamp::ZERO,
        Box::new(XorShift(seed)),
    )
    .unwrap()
}
