//! The blocking driver over real loopback sockets: both roles, plain HTTP on the same
//! port, the deadlines, the lingering close, a peer that stops reading.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ws_proto_io::blocking::{self, Answer, ConnectOptions, WebSocket};
use ws_proto_io::ws_proto::handshake::ClientRequest;
use ws_proto_io::ws_proto::{
    AcceptError, CloseCause, CloseCode, Config, HandshakeError, SendError,
};
use ws_proto_io::{CloseFrame, Error, Message};

/// A listener on a free loopback port and a thread running `serve` on its first
/// connection.
fn server<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        serve(tcp)
    });
    (addr, handle)
}

/// Echoes text and binary messages until the connection ends; returns how it ended.
fn echo(mut ws: WebSocket<TcpStream>) -> Result<Message, Error> {
    loop {
        match ws.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message)?,
            Ok(Message::Close(frame)) => return Ok(Message::Close(frame)),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode(code),
        reason: reason.into(),
    }))
}

#[test]
fn echo_both_roles_with_a_subprotocol() {
    let (addr, server) = server(|tcp| {
        let answer = |request: &ws_proto_io::ws_proto::handshake::Request| {
            assert_eq!(request.path(), "/echo");
            Answer::accept_subprotocol("chat")
        };
        let ws = WebSocket::accept_with(tcp, Config::default(), answer)
            .unwrap()
            .expect("an upgrade is accepted");
        assert_eq!(ws.subprotocol(), Some("chat"));
        echo(ws)
    });
    let request = ClientRequest::new(&format!("ws://{addr}/echo"))
        .unwrap()
        .subprotocol("superchat")
        .subprotocol("chat");
    let mut ws = blocking::connect_with(request, ConnectOptions::default()).unwrap();
    assert_eq!(ws.subprotocol(), Some("chat"));

    ws.send(Message::text("hello")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hello"));
    let big = vec![7u8; 1 << 20];
    ws.send(Message::binary(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(big));
    ws.send(Message::Ping("p".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong("p".into()));

    ws.close(CloseCode(4000), "done").unwrap();
    assert_eq!(ws.read().unwrap(), close_frame(4000, "done"));
    assert!(matches!(
        ws.read(),
        Err(Error::ConnectionClosed(CloseCause::LocalClose))
    ));
    assert!(matches!(ws.read(), Err(Error::AlreadyClosed)));
    assert!(matches!(
        ws.send(Message::text("late")),
        Err(Error::AlreadyClosed)
    ));
    assert_eq!(server.join().unwrap().unwrap(), close_frame(4000, "done"));
}

#[test]
fn a_server_close_reaches_the_client() {
    let (addr, server) = server(|tcp| {
        let mut ws = WebSocket::accept(tcp).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("bye please"));
        ws.close(CloseCode::GOING_AWAY, "leaving").unwrap();
        let end = ws.read().unwrap();
        (end, ws.read().unwrap_err())
    });
    let mut ws = blocking::connect(&format!("ws://{addr}/")).unwrap();
    assert_eq!(ws.subprotocol(), None);
    ws.send(Message::text("bye please")).unwrap();
    assert_eq!(ws.read().unwrap(), close_frame(1001, "leaving"));
    let (end, after) = server.join().unwrap();
    assert_eq!(end, close_frame(1001, "leaving"));
    assert!(matches!(
        after,
        Error::ConnectionClosed(CloseCause::PeerClose) | Error::ConnectionClosed(_)
    ));
}

/// Sends `request` on a raw socket and returns everything the server sent until it closed.
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(request).unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).unwrap();
    answer
}

#[test]
fn a_page_and_websockets_on_the_same_port() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut results = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().unwrap();
            let answer = |request: &ws_proto_io::ws_proto::handshake::Request| {
                if request.is_upgrade() {
                    Answer::accept()
                } else {
                    Answer::respond(200, "<h1>page</h1>").header("Content-Type", "text/html")
                }
            };
            match WebSocket::accept_with(tcp, Config::default(), answer).unwrap() {
                Some(ws) => results.push(Some(echo(ws).unwrap())),
                None => results.push(None),
            }
        }
        results
    });
    let page = raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let page = String::from_utf8(page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(page.ends_with("<h1>page</h1>"), "{page}");

    let mut ws = blocking::connect(&format!("ws://{addr}/ws")).unwrap();
    ws.send(Message::text("after the page")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("after the page"));
    ws.send(Message::Close(None)).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Close(None));
    assert_eq!(
        server.join().unwrap(),
        vec![None, Some(Message::Close(None))]
    );
}

#[test]
fn accept_answers_a_plain_request_with_426() {
    let (addr, server) = server(|tcp| WebSocket::accept(tcp).map(|_| ()));
    let answer = raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    assert!(answer.contains("Upgrade: websocket"), "{answer}");
    assert!(matches!(
        server.join().unwrap(),
        Err(Error::Accept(AcceptError::NotAnUpgrade))
    ));
}

#[test]
fn refusals_reach_the_client_as_rejected() {
    let (addr, server) = server(|tcp| {
        WebSocket::accept_with(tcp, Config::default(), |_| {
            Answer::respond(403, "go away\n")
        })
        .map(|ws| ws.is_none())
    });
    let error = blocking::connect(&format!("ws://{addr}/")).unwrap_err();
    match error {
        Error::Rejected { status, body } => {
            assert_eq!(status, 403);
            assert_eq!(body, b"go away\n");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(server.join().unwrap().unwrap());
}

#[test]
fn an_answer_that_cannot_be_sent_is_a_500_and_an_error() {
    // A subprotocol the client did not offer.
    let (addr, server) = server(|tcp| {
        WebSocket::accept_with(tcp, Config::default(), |_| {
            Answer::accept_subprotocol("nobody-asked")
        })
        .map(|_| ())
    });
    let error = blocking::connect(&format!("ws://{addr}/")).unwrap_err();
    assert!(
        matches!(error, Error::Rejected { status: 500, .. }),
        "{error:?}"
    );
    assert!(matches!(
        server.join().unwrap(),
        Err(Error::Accept(AcceptError::SubprotocolNotOffered))
    ));
}

#[test]
fn a_malformed_request_is_answered_400() {
    let (addr, server) = server(|tcp| WebSocket::accept(tcp).map(|_| ()));
    let answer = raw_exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(answer.starts_with(b"HTTP/1.1 400"), "{answer:?}");
    assert!(matches!(
        server.join().unwrap(),
        Err(Error::Handshake(HandshakeError::Request(_)))
    ));
}

#[test]
fn a_client_that_never_finishes_its_request_is_dropped() {
    let timeout = Duration::from_millis(300);
    let (addr, server) = server(move |tcp| {
        let start = Instant::now();
        let config = Config::default().with_handshake_timeout(Some(timeout));
        let result = WebSocket::accept_with(tcp, config, |_| Answer::accept()).map(|_| ());
        (result, start.elapsed())
    });
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    // The server closes: end of stream (no reset), nothing sent.
    tcp.read_to_end(&mut rest).unwrap();
    let (result, took) = server.join().unwrap();
    assert!(
        matches!(result, Err(Error::Handshake(HandshakeError::Timeout))),
        "{result:?}"
    );
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn an_unanswered_close_ends_by_the_close_timeout() {
    let timeout = Duration::from_millis(300);
    let (addr, server) = server(move |tcp| {
        let config = Config::default().with_close_timeout(Some(timeout));
        let mut ws = WebSocket::accept_with(tcp, config, |_| Answer::accept())
            .unwrap()
            .unwrap();
        let start = Instant::now();
        ws.close(CloseCode::NORMAL, "").unwrap();
        (ws.read(), start.elapsed())
    });
    // A client that completes the handshake, then never reads nor answers.
    let ws = blocking::connect(&format!("ws://{addr}/")).unwrap();
    let (result, took) = server.join().unwrap();
    drop(ws);
    assert!(
        matches!(
            result,
            Err(Error::ConnectionClosed(CloseCause::CloseTimeout))
        ),
        "{result:?}"
    );
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(2),
        "{took:?}"
    );
}

/// A client frame header: masked, with this opcode and payload length (mask 0).
fn masked_header(opcode: u8, len: u64) -> Vec<u8> {
    let mut head = vec![0x80 | opcode];
    if len < 126 {
        head.push(0x80 | len as u8);
    } else if len < 65536 {
        head.push(0x80 | 126);
        head.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        head.push(0x80 | 127);
        head.extend_from_slice(&len.to_be_bytes());
    }
    head.extend_from_slice(&[0, 0, 0, 0]);
    head
}

#[test]
fn a_failing_server_closes_gracefully_the_client_sees_close_then_eof() {
    let (addr, server) = server(|tcp| {
        let config = Config::default().with_max_message_size(64 << 10);
        let ws = WebSocket::accept_with(tcp, config, |_| Answer::accept())
            .unwrap()
            .unwrap();
        echo(ws)
    });
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    // A message over the limit, still being sent when the server fails the connection:
    // the server has unread input when it closes.
    let len = 1 << 20;
    let mut frame = masked_header(0x2, len as u64);
    frame.resize(frame.len() + len, 0);
    // The server stops reading at the header, so this write may not finish: ignore.
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = tcp.write_all(&frame);
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        match tcp.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) => break Err(e),
        }
    };
    end.expect("end of stream, not a reset");
    let head_end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(received.starts_with(b"HTTP/1.1 101"));
    let close = &received[head_end..];
    assert_eq!(close[0], 0x88, "a Close frame follows the 101: {close:?}");
    assert_eq!(&close[2..4], &1009u16.to_be_bytes());
    match server.join().unwrap() {
        Err(Error::Protocol(e)) => assert_eq!(e.close_code(), CloseCode::MESSAGE_TOO_BIG),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn a_peer_that_stops_reading_cannot_block_the_sender_or_grow_its_memory() {
    let limit = 1 << 20;
    let (addr, server) = server(move |tcp| {
        let config = Config::default().with_max_outbound_buffer(limit);
        let mut ws = WebSocket::accept_with(tcp, config, |_| Answer::accept())
            .unwrap()
            .unwrap();
        ws.set_write_timeout(Some(Duration::from_millis(200)));
        // Incompressible (permessage-deflate is on): a simple LCG's bytes.
        let mut x = 1u32;
        let noise: Vec<u8> = (0..64 << 10)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let message = Message::binary(noise);
        let start = Instant::now();
        let mut errors = Vec::new();
        let mut peak = 0;
        // Until a few sends failed: the kernel's buffers take some megabytes first.
        for _ in 0..4000 {
            if let Err(e) = ws.send(message.clone()) {
                errors.push(e);
                if errors.len() == 5 {
                    break;
                }
            }
            peak = peak.max(ws.connection().heap_usage());
            assert!(ws.connection().buffered_amount() <= limit);
        }
        (errors, peak, start.elapsed())
    });
    // The client connects and then reads nothing.
    let ws = blocking::connect(&format!("ws://{addr}/")).unwrap();
    let (errors, peak, took) = server.join().unwrap();
    drop(ws);
    assert!(
        !errors.is_empty(),
        "sends to a peer that reads nothing must fail"
    );
    for error in &errors {
        let ok = matches!(error, Error::Send(SendError::Backpressure))
            || matches!(error, Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut);
        assert!(ok, "{error:?}");
    }
    // The queue (1 MiB) and a message's worth of room, not megabytes per send.
    assert!(peak < 3 * limit, "heap {peak}");
    // Each failing send blocked at most ~2 x 200 ms (a flush, then one more after
    // backpressure): bounded, not for ever.
    assert!(took < Duration::from_secs(90), "{took:?}");
}

#[test]
fn the_client_sees_an_abrupt_end_as_eof() {
    let (addr, server) = server(|tcp| {
        let ws = WebSocket::accept(tcp).unwrap();
        drop(ws); // no Close frame
    });
    let mut ws = blocking::connect(&format!("ws://{addr}/")).unwrap();
    server.join().unwrap();
    let error = ws.read().unwrap_err();
    assert!(
        matches!(
            error,
            Error::ConnectionClosed(CloseCause::Eof) | Error::Io(_)
        ),
        "{error:?}"
    );
    assert!(matches!(ws.read(), Err(Error::AlreadyClosed)));
}

#[test]
fn connect_refuses_bad_urls_with_typed_errors() {
    assert!(matches!(
        blocking::connect("http://127.0.0.1:1/"),
        Err(Error::Url(_))
    ));
    assert!(matches!(blocking::connect("ws://"), Err(Error::Url(_))));
    // Nothing listens on port 1 of loopback.
    assert!(matches!(
        blocking::connect("ws://127.0.0.1:1/"),
        Err(Error::Io(_))
    ));
}
