//! The opening handshake driven through `Connection`, both roles, in memory.

use proptest::prelude::*;
use ws_proto::handshake::{ExtensionOffer, RequestError, ResponseError};
use ws_proto::{
    Accept, AcceptError, ClientRequest, CloseCause, CloseCode, Closed, Config, Connection, Event,
    HandshakeError, Rng, SendError, State, accept_key,
};

/// A reproducible random source (xorshift64).
struct XorShift(u64);

impl Rng for XorShift {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

fn client(request: ClientRequest) -> Connection {
    Connection::client_with_rng(
        request,
        Config::default(),
        ws_proto::Timestamp::ZERO,
        Box::new(XorShift(7)),
    )
    .unwrap()
}

/// An event with owned data, so a test can keep a list of them.
#[derive(Debug, PartialEq)]
enum Seen {
    Request(String),
    Connected(Option<String>),
    Rejected(u16, Vec<u8>),
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Error(HandshakeError),
    /// The `Event::Closed` that follows `Event::Rejected`.
    ClosedAfterRejection(u16),
}

fn own(event: Event<'_>) -> Seen {
    match event {
        Event::Request(r) => Seen::Request(r.target().to_string()),
        Event::Connected(r) => Seen::Connected(r.subprotocol().map(String::from)),
        Event::Rejected { response, body } => Seen::Rejected(response.status(), body.to_vec()),
        Event::Text(t) => Seen::Text(t.to_string()),
        Event::Binary(b) => Seen::Binary(b.to_vec()),
        Event::Ping(p) => Seen::Ping(p.to_vec()),
        Event::Pong(p) => Seen::Pong(p.to_vec()),
        Event::Closed(Closed {
            cause: CloseCause::HandshakeFailed(HandshakeError::Rejected(status)),
            ..
        }) => Seen::ClosedAfterRejection(status),
        Event::Closed(Closed {
            cause: CloseCause::HandshakeFailed(e),
            ..
        }) => Seen::Error(e),
        Event::Closed(closed) => Seen::Close(closed.code.0, closed.reason.to_string()),
        other => panic!("unexpected event {other:?}"),
    }
}

/// Moves everything `from` wants to send into `to`, in chunks of the given sizes (cycled).
fn pump(from: &mut Connection, to: &mut Connection, chunks: &[usize]) {
    let bytes = from.poll_transmit().to_vec();
    from.poll_transmit().advance(bytes.len());
    let mut rest = &bytes[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].clamp(1, rest.len());
        to.handle_bytes(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
}

fn events(conn: &mut Connection) -> Vec<Seen> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(e) = conn.poll_event(&mut buf) {
        out.push(own(e));
    }
    out
}

/// Reads the server's request event and returns the request.
fn take_request(server: &mut Connection) -> Box<ws_proto::Request> {
    let mut buf = Vec::new();
    match server.poll_event(&mut buf) {
        Some(Event::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn raw_request(extra: &str) -> Vec<u8> {
    format!(
        "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

fn take_output(conn: &mut Connection) -> String {
    let bytes = conn.poll_transmit().to_vec();
    conn.poll_transmit().advance(bytes.len());
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn rfc_accept_key_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn server_accepts_and_answers_with_the_rfc_accept_value() {
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    assert_eq!(server.state(), State::Connecting);
    server.handle_bytes(&raw_request("Origin: http://example.com\r\n"));
    let request = take_request(&mut server);
    assert_eq!(request.path(), "/chat");
    assert_eq!(request.query(), Some("room=1"));
    assert_eq!(request.origin(), Some("http://example.com"));
    // Nothing more until the application answers.
    assert_eq!(events(&mut server), vec![]);
    assert_eq!(server.send_text("early"), Err(SendError::NotOpen));

    server.accept(&Accept::default()).unwrap();
    assert_eq!(server.state(), State::Open);
    let response = take_output(&mut server);
    assert!(
        response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(response.ends_with("\r\n\r\n"));
    assert_eq!(
        server.accept(&Accept::default()),
        Err(AcceptError::NoPendingRequest)
    );
}

#[test]
fn frames_sent_with_the_request_are_decoded_after_accepting() {
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    let mut bytes = raw_request("");
    // A masked "Hi" text frame, key 01 02 03 04.
    bytes.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2]);
    server.handle_bytes(&bytes);
    take_request(&mut server);
    server.accept(&Accept::default()).unwrap();
    assert_eq!(events(&mut server), vec![Seen::Text("Hi".into())]);
}

#[test]
fn accepting_an_unoffered_subprotocol_is_an_error_and_changes_nothing() {
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    server.handle_bytes(&raw_request("Sec-WebSocket-Protocol: chat, superchat\r\n"));
    let request = take_request(&mut server);
    assert_eq!(request.subprotocols(), ["chat", "superchat"]);
    let wrong = Accept {
        subprotocol: Some("mqtt".into()),
        ..Accept::default()
    };
    assert_eq!(
        server.accept(&wrong),
        Err(AcceptError::SubprotocolNotOffered)
    );
    assert_eq!(server.state(), State::Connecting);
    assert_eq!(&*server.poll_transmit(), b"");
    let right = Accept {
        subprotocol: Some("superchat".into()),
        ..Accept::default()
    };
    server.accept(&right).unwrap();
    assert_eq!(server.negotiated().subprotocol(), Some("superchat"));
    assert!(take_output(&mut server).contains("\r\nSec-WebSocket-Protocol: superchat\r\n"));
}

#[test]
fn server_rejects_with_status_headers_and_body() {
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    server.handle_bytes(&raw_request("Origin: http://evil.example\r\n"));
    take_request(&mut server);
    server
        .respond(
            403,
            &[("X-Why".into(), "origin".into())],
            b"forbidden origin",
        )
        .unwrap();
    assert_eq!(server.state(), State::Closed);
    let response = take_output(&mut server);
    assert!(
        response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nX-Why: origin\r\n"));
    assert!(response.ends_with("\r\n\r\nforbidden origin"));
    assert!(server.should_close_transport());
    assert_eq!(events(&mut server), vec![]);
}

#[test]
fn bad_requests_get_an_http_error_and_fail() {
    let cases: [(&[u8], &str, RequestError); 2] = [
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "HTTP/1.1 426 Upgrade Required\r\n",
            RequestError::UnsupportedVersion,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\n",
            RequestError::MissingKey,
        ),
    ];
    for (request, status_line, error) in cases {
        let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
        server.handle_bytes(request);
        assert_eq!(
            events(&mut server),
            vec![Seen::Error(HandshakeError::Request(error))]
        );
        let response = take_output(&mut server);
        assert!(response.starts_with(status_line), "{response}");
        assert_eq!(server.state(), State::Closed);
        assert!(server.should_close_transport());
        // Input after the failure is ignored.
        server.handle_bytes(&raw_request(""));
        assert_eq!(events(&mut server), vec![]);
    }
}

#[test]
fn an_oversized_head_gets_431_without_buffering_past_the_limit() {
    let mut config = Config::default();
    config.max_head_size = 1024;
    let mut server = Connection::server(config, ws_proto::Timestamp::ZERO);
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    request.extend(std::iter::repeat_n(b"X-Pad: aaaaaaaaaaaaaaaaaaaa\r\n", 100).flatten());
    let mut seen = Vec::new();
    for chunk in request.chunks(7) {
        server.handle_bytes(chunk);
        seen.extend(events(&mut server));
        assert!(server.buffered_input() < 1024 + 7);
    }
    assert_eq!(seen.len(), 1);
    assert!(matches!(seen[0], Seen::Error(HandshakeError::Head(_))));
    assert!(take_output(&mut server).starts_with("HTTP/1.1 431 "));
}

#[test]
fn client_and_server_handshake_in_memory_and_exchange_messages() {
    let request = ClientRequest::new("ws://example.com:8080/chat?x=1")
        .unwrap()
        .subprotocol("v2.chat")
        .origin("http://example.com")
        .header("Cookie", "session=abc");
    let mut client = client(request);
    assert_eq!(client.state(), State::Connecting);
    assert_eq!(client.send_text("too early"), Err(SendError::NotOpen));
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);

    pump(&mut client, &mut server, &[1000]);
    let request = take_request(&mut server);
    assert_eq!(request.target(), "/chat?x=1");
    assert_eq!(request.host(), "example.com:8080");
    assert_eq!(request.header("cookie"), Some(&b"session=abc"[..]));
    server
        .accept(&Accept {
            subprotocol: Some("v2.chat".into()),
            ..Accept::default()
        })
        .unwrap();
    server.send_text("welcome").unwrap();

    pump(&mut server, &mut client, &[1000]);
    assert_eq!(
        events(&mut client),
        vec![
            Seen::Connected(Some("v2.chat".into())),
            Seen::Text("welcome".into())
        ]
    );
    assert_eq!(client.negotiated().subprotocol(), Some("v2.chat"));
    client.send_binary(&[1, 2, 3]).unwrap();
    client.close(CloseCode::NORMAL, "bye").unwrap();
    pump(&mut client, &mut server, &[1000]);
    assert_eq!(
        events(&mut server),
        vec![Seen::Binary(vec![1, 2, 3]), Seen::Close(1000, "bye".into())]
    );
    pump(&mut server, &mut client, &[1000]);
    // The server's reply echoes the code and the reason.
    assert_eq!(events(&mut client), vec![Seen::Close(1000, "bye".into())]);
    assert!(server.should_close_transport());
    assert!(!client.should_close_transport());
    client.handle_eof();
    assert!(client.should_close_transport());
}

#[test]
fn client_reports_a_refusal_with_its_body() {
    let mut client = client(ClientRequest::new("ws://localhost/").unwrap());
    take_output(&mut client);
    client.handle_bytes(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nno token");
    assert_eq!(events(&mut client), vec![]); // body incomplete
    client.handle_bytes(b" set");
    assert_eq!(
        events(&mut client),
        vec![
            Seen::Rejected(401, b"no token set".to_vec()),
            Seen::ClosedAfterRejection(401)
        ]
    );
    assert!(client.is_finished());
    assert_eq!(client.state(), State::Closed);
    assert!(client.should_close_transport());
}

#[test]
fn client_bounds_a_huge_refusal_body() {
    let mut config = Config::default();
    config.max_head_size = 256;
    let mut client = Connection::client_with_rng(
        ClientRequest::new("ws://h/").unwrap(),
        config,
        ws_proto::Timestamp::ZERO,
        Box::new(XorShift(3)),
    )
    .unwrap();
    take_output(&mut client);
    client.handle_bytes(b"HTTP/1.1 500 Oops\r\nContent-Length: 1000000\r\n\r\n");
    client.handle_bytes(&[b'x'; 300]);
    match events(&mut client).as_slice() {
        [Seen::Rejected(500, body), Seen::ClosedAfterRejection(500)] => {
            assert_eq!(body.len(), 256)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_rejects_a_wrong_accept_value() {
    let mut client = client(ClientRequest::new("ws://localhost/").unwrap());
    take_output(&mut client);
    client.handle_bytes(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    assert_eq!(
        events(&mut client),
        vec![Seen::Error(HandshakeError::Response(
            ResponseError::AcceptMismatch
        ))]
    );
    assert_eq!(client.state(), State::Closed);
    assert!(client.should_close_transport());
}

#[test]
fn client_rejects_an_unoffered_extension() {
    // An extension the client did not offer cannot be accepted.
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    let mut client = client(ClientRequest::new("ws://localhost/").unwrap());
    pump(&mut client, &mut server, &[4096]);
    let request = take_request(&mut server);
    assert!(request.extensions().iter().all(|e| e.name() != "x-made-up"));
    let accept = Accept {
        extensions: vec![ExtensionOffer::new("x-made-up")],
        ..Accept::default()
    };
    assert_eq!(
        server.accept(&accept),
        Err(AcceptError::ExtensionNotOffered)
    );
}

#[test]
fn eof_during_the_handshake_reports_1006() {
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    server.handle_bytes(b"GET / HTTP/1.1\r\nHost: a\r\n");
    server.handle_eof();
    assert_eq!(events(&mut server), vec![Seen::Close(1006, String::new())]);
    assert_eq!(server.state(), State::Closed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A handshake plus a conversation gives the same events whatever the chunking.
    #[test]
    fn handshake_and_messages_under_any_chunking(
        up in proptest::collection::vec(1usize..40, 1..8),
        down in proptest::collection::vec(1usize..40, 1..8),
        texts in proptest::collection::vec(".{0,40}", 0..5),
    ) {
        let mut client = client(ClientRequest::new("ws://h/p").unwrap().subprotocol("a"));
        let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
        // The client's request and its first messages travel together.
        pump(&mut client, &mut server, &up);
        let request = take_request(&mut server);
        prop_assert_eq!(request.path(), "/p");
        server.accept(&Accept { subprotocol: Some("a".into()), ..Accept::default() }).unwrap();
        for t in &texts {
            server.send_text(t).unwrap();
        }
        server.send_ping(b"p").unwrap();
        pump(&mut server, &mut client, &down);
        let mut expected = vec![Seen::Connected(Some("a".into()))];
        expected.extend(texts.iter().map(|t| Seen::Text(t.clone())));
        expected.push(Seen::Ping(b"p".to_vec()));
        prop_assert_eq!(events(&mut client), expected);
        // The automatic Pong reaches the server.
        pump(&mut client, &mut server, &up);
        prop_assert_eq!(events(&mut server), vec![Seen::Pong(b"p".to_vec())]);
    }

    /// Arbitrary bytes into a server never panic, and input stays bounded by the head limit
    /// while no head has been found.
    #[test]
    fn arbitrary_bytes_into_a_handshaking_server(data in proptest::collection::vec(any::<u8>(), 0..4096),
                                                  chunk in 1usize..64) {
        let mut config = Config::default();
        config.max_head_size = 1024;
        let mut server = Connection::server(config, ws_proto::Timestamp::ZERO);
        for piece in data.chunks(chunk) {
            server.handle_bytes(piece);
            while let Some(e) = server.poll_event(&mut Vec::new()) {
                if let Event::Request(_) = e { break; }
            }
            if server.state() == State::Connecting {
                prop_assert!(server.buffered_input() < 1024 + chunk);
            }
        }
    }
}

/// The handshake done through parts (as behind another HTTP stack), then two upgraded
/// connections with what each side negotiated: they agree, and compression works both ways.
#[test]
fn parts_handshake_then_upgraded_connections() {
    use ws_proto::handshake::{accept_headers, generate_key, request_headers, verify_response};
    use ws_proto::{Request, Role};

    let config = Config::default();
    let offer = ClientRequest::new("ws://example.com/chat")
        .unwrap()
        .subprotocol("chat");
    let key = generate_key([3; 16]);
    let headers = request_headers(&offer, &key, &config).unwrap();
    let request = Request::from_parts("GET", offer.resource(), headers).unwrap();
    let accept = Accept {
        subprotocol: Some("chat".into()),
        ..Accept::default()
    };
    let (answer, on_server) = accept_headers(&request, &accept, &config).unwrap();
    let on_client = verify_response(101, answer, &offer, &key, &config).unwrap();
    assert_eq!(on_client, on_server);
    assert_eq!(on_server.subprotocol(), Some("chat"));
    assert_eq!(on_server.deflate().is_some(), cfg!(feature = "deflate"));

    let now = ws_proto::Timestamp::ZERO;
    let mut server = Connection::upgraded(Role::Server, on_server, config.clone(), now);
    let mut client =
        Connection::upgraded_with_rng(Role::Client, on_client, config, now, Box::new(XorShift(9)));
    let text = "compress me, ".repeat(1000);
    let mut conns = [&mut client, &mut server];
    for _ in 0..2 {
        let [from, to] = &mut conns;
        from.send_text(&text).unwrap();
        let wire = from.poll_transmit().to_vec();
        from.poll_transmit().advance(wire.len());
        if cfg!(feature = "deflate") {
            assert_eq!(wire[0] & 0x40, 0x40, "RSV1: the message is compressed");
            assert!(
                wire.len() < text.len() / 10,
                "{} bytes on the wire",
                wire.len()
            );
        }
        to.handle_bytes(&wire);
        let mut buf = Vec::new();
        assert_eq!(to.poll_event(&mut buf), Some(Event::Text(&text)));
        conns.reverse();
    }
}
