//! The tokio driver over loopback TCP: cancel safety, large writes both ways, split halves,
//! keepalive, backpressure, closing, and the server's answers to plain HTTP requests.
#![cfg(feature = "tokio")]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout};
use ws_proto_io::tokio::{Answer, ConnectOptions, accept, accept_with, connect, connect_with};
use ws_proto_io::ws_proto::{CloseCause, CloseCode, Config, Connection, Event, Timestamp};
use ws_proto_io::{CloseFrame, Error, Message};

const LIMIT: Duration = Duration::from_secs(30);

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    (listener, url)
}

/// An echo server for one connection, accepting the subprotocol `echo` when offered.
async fn echo_once(listener: TcpListener) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = accept_with(tcp, Config::default(), |request| {
        if request.subprotocols().iter().any(|p| p == "echo") {
            Answer::accept_subprotocol("echo")
        } else {
            Answer::accept()
        }
    })
    .await
    .unwrap();
    while let Some(Ok(message)) = ws.next().await {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await.unwrap();
        }
    }
}

#[tokio::test]
async fn echo_round_trip_with_subprotocol() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(echo_once(listener));
    let options = ConnectOptions::new()
        .subprotocol("other")
        .subprotocol("echo");
    let mut ws = connect_with(&url, options).await.unwrap();
    assert_eq!(ws.subprotocol(), Some("echo"));
    ws.send(Message::text("hello")).await.unwrap();
    ws.send(Message::binary(vec![7u8; 100_000])).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![7u8; 100_000])
    );
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    // The server's reply to our Close, then the end.
    let reply = ws.next().await.unwrap().unwrap();
    assert!(
        matches!(reply, Message::Close(Some(CloseFrame { code, .. })) if code == CloseCode::NORMAL)
    );
    assert!(ws.next().await.is_none());
    timeout(LIMIT, server).await.unwrap().unwrap();
}

/// A server that writes its frames one byte at a time, with pauses, so that reads end in
/// the middle of frames; the client's `next()` is raced against a short timer all along.
#[tokio::test]
async fn next_is_cancel_safe() {
    const MESSAGES: usize = 40;
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut conn = Connection::server(Config::default(), std::time::Instant::now());
        let mut buf = Vec::new();
        let mut input = [0u8; 4096];
        loop {
            let n = tcp.read(&mut input).await.unwrap();
            conn.handle_bytes(&input[..n]);
            if let Some(Event::Request(_)) = conn.poll_event(&mut buf) {
                conn.accept(&Default::default()).unwrap();
                break;
            }
        }
        for i in 0..MESSAGES {
            conn.send_text(&format!("message {i} {}", "x".repeat(i * 7)))
                .unwrap();
        }
        let mut out = Vec::new();
        loop {
            let transmit = conn.poll_transmit();
            if transmit.is_empty() {
                break;
            }
            out.extend_from_slice(&transmit);
            let n = transmit.len();
            transmit.advance(n);
        }
        for byte in out {
            tcp.write_all(&[byte]).await.unwrap();
            sleep(Duration::from_micros(200)).await;
        }
        // Keep the connection until the client is done.
        let _ = tcp.read(&mut input).await;
    });
    let mut ws = connect(&url).await.unwrap();
    let mut received = Vec::new();
    let mut cancelled = 0;
    timeout(LIMIT, async {
        while received.len() < MESSAGES {
            tokio::select! {
                message = ws.next() => received.push(message.unwrap().unwrap()),
                () = sleep(Duration::from_micros(300)) => cancelled += 1,
            }
        }
    })
    .await
    .unwrap();
    for (i, message) in received.iter().enumerate() {
        assert_eq!(
            *message,
            Message::text(format!("message {i} {}", "x".repeat(i * 7)))
        );
    }
    assert!(
        cancelled > 100,
        "next() was cancelled only {cancelled} times"
    );
    drop(ws);
    server.await.unwrap();
}

/// Both ends send 16 MiB at once before reading: each must keep reading while its own
/// write waits, or both wait for ever.
#[tokio::test]
async fn large_writes_both_ways_do_not_deadlock() {
    const SIZE: usize = 16 << 20;
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = accept(tcp).await.unwrap();
        ws.send(Message::binary(vec![1u8; SIZE])).await.unwrap();
        let got = ws.next().await.unwrap().unwrap();
        assert_eq!(got, Message::binary(vec![2u8; SIZE]));
        ws
    });
    let mut ws = connect(&url).await.unwrap();
    timeout(LIMIT, async {
        ws.send(Message::binary(vec![2u8; SIZE])).await.unwrap();
        let got = ws.next().await.unwrap().unwrap();
        assert_eq!(got, Message::binary(vec![1u8; SIZE]));
        drop(server.await.unwrap());
    })
    .await
    .expect("deadlock: both sides stuck writing");
}

/// A reader waiting on `next()` in one task does not stop the writer in another.
#[tokio::test]
async fn split_halves_are_independent() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = accept(tcp).await.unwrap();
        // Say nothing until the client has sent 100 messages, then echo them all.
        let mut got = Vec::new();
        while got.len() < 100 {
            got.push(ws.next().await.unwrap().unwrap());
        }
        for message in got {
            ws.send(message).await.unwrap();
        }
        while let Some(Ok(_)) = ws.next().await {}
    });
    let ws = connect(&url).await.unwrap();
    let (mut writer, mut reader) = ws.split();
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 100 {
            got.push(reader.next().await.unwrap().unwrap());
        }
        got
    });
    // The reader is now waiting, holding nothing.
    sleep(Duration::from_millis(50)).await;
    timeout(Duration::from_secs(5), async {
        for i in 0..100 {
            writer.send(Message::text(format!("{i}"))).await.unwrap();
        }
    })
    .await
    .expect("the writer was blocked by the waiting reader");
    let got = timeout(LIMIT, reading).await.unwrap().unwrap();
    let expected: Vec<Message> = (0..100).map(|i| Message::text(format!("{i}"))).collect();
    assert_eq!(got, expected);
    writer.close().await.unwrap();
    timeout(LIMIT, server).await.unwrap().unwrap();
}

/// Keepalive Pings go out while the stream waits, and a peer that never answers is
/// dropped after the keepalive timeout.
#[tokio::test]
async fn keepalive_pings_and_timeout() {
    let (listener, url) = listener().await;
    let config = Config::default()
        .with_keepalive_interval(Some(Duration::from_millis(100)))
        .with_keepalive_timeout(Duration::from_millis(300));
    let server = tokio::spawn(async move {
        // First client: reads (so it answers the Pings); the server stays up.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = accept_with(tcp, config.clone(), |_| Answer::accept())
            .await
            .unwrap();
        let mut pongs = 0;
        let alive = timeout(Duration::from_millis(800), async {
            while let Some(message) = ws.next().await {
                if let Message::Pong(_) = message.unwrap() {
                    pongs += 1;
                }
            }
        })
        .await;
        assert!(alive.is_err(), "the answering peer was dropped");
        assert!(pongs >= 3, "{pongs} Pongs in 800 ms at 100 ms");
        // Second client: silent; dropped with KeepaliveTimeout.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut silent = accept_with(tcp, config, |_| Answer::accept())
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        let end = timeout(Duration::from_secs(5), silent.next())
            .await
            .unwrap();
        assert!(
            matches!(
                end,
                Some(Err(Error::ConnectionClosed(CloseCause::KeepaliveTimeout)))
            ),
            "{end:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        ws
    });
    let mut ws = connect(&url).await.unwrap();
    let mut pings = 0;
    let _ = timeout(Duration::from_millis(700), async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Ping(_) = message {
                pings += 1;
            }
        }
    })
    .await;
    assert!(pings >= 3, "{pings} keepalive Pings in 700 ms at 100 ms");
    // A client that does not read (not polled): no Pong goes back.
    let silent = connect(&url).await.unwrap();
    timeout(LIMIT, server).await.unwrap().unwrap();
    drop(silent);
}

/// A peer that stops reading: `poll_ready` waits once the queue is above the high-water
/// mark, so the queue stays bounded however long the sender tries.
#[tokio::test]
async fn backpressure_bounds_the_queue() {
    const HIGH_WATER: usize = 256 << 10;
    const MESSAGE: usize = 64 << 10;
    let (listener, url) = listener().await;
    let peer = tokio::spawn(async move {
        let ws = connect(&url).await.unwrap();
        sleep(Duration::from_secs(3)).await; // never reads
        drop(ws);
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = accept(tcp).await.unwrap();
    ws.set_high_water(HIGH_WATER);
    let payload = bytes::Bytes::from(vec![0u8; MESSAGE]);
    let mut sent = 0usize;
    // Until poll_ready waits (the peer does not read).
    while let Ok(result) = timeout(
        Duration::from_millis(300),
        ws.feed(Message::Binary(payload.clone())),
    )
    .await
    {
        result.unwrap();
        sent += MESSAGE;
        assert!(sent < 1 << 30, "no backpressure after 1 GiB");
    }
    let queued = ws.connection().buffered_amount();
    assert!(
        queued <= HIGH_WATER + MESSAGE,
        "{queued} bytes queued, high-water mark {HIGH_WATER}"
    );
    assert!(queued > HIGH_WATER / 2, "the queue never filled: {queued}");
    let heap = ws.connection().heap_usage();
    assert!(heap < 4 * (HIGH_WATER + MESSAGE), "{heap} bytes of heap");
    assert!(sent > HIGH_WATER, "only {sent} bytes accepted");
    peer.await.unwrap();
}

/// The server closes: the client reads the Close, then the end; the server's `close`
/// returns once the transport is closed.
#[tokio::test]
async fn server_close_completes_the_handshake() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = accept(tcp).await.unwrap();
        ws.send(Message::text("bye soon")).await.unwrap();
        ws.close(CloseCode(4000), "going").await.unwrap();
        // The client's reply, then the end.
        let reply = ws.next().await.unwrap().unwrap();
        assert!(matches!(
            reply,
            Message::Close(Some(CloseFrame {
                code: CloseCode(4000),
                ..
            }))
        ));
        assert!(ws.next().await.is_none());
    });
    let mut ws = connect(&url).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("bye soon"));
    let close = ws.next().await.unwrap().unwrap();
    assert_eq!(
        close,
        Message::Close(Some(CloseFrame {
            code: CloseCode(4000),
            reason: "going".into()
        }))
    );
    assert!(timeout(LIMIT, ws.next()).await.unwrap().is_none());
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(Error::AlreadyClosed | Error::Send(_))
    ));
    timeout(LIMIT, server).await.unwrap().unwrap();
}

/// `SinkExt::close` from the client: Close 1000, the server's reply, then TCP closed by
/// the server (the client's `close` waits for it).
#[tokio::test]
async fn sink_close_waits_for_the_server() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = accept(tcp).await.unwrap();
        let close = ws.next().await.unwrap().unwrap();
        assert!(matches!(
            close,
            Message::Close(Some(CloseFrame {
                code: CloseCode::NORMAL,
                ..
            }))
        ));
        assert!(ws.next().await.is_none());
    });
    let mut ws = connect(&url).await.unwrap();
    timeout(LIMIT, SinkExt::close(&mut ws))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ws.connection().state(),
        ws_proto_io::ws_proto::State::Closed
    );
    timeout(LIMIT, server).await.unwrap().unwrap();
}

/// Plain HTTP on the WebSocket's port: the callback serves a page, or `accept` answers 426.
#[tokio::test]
async fn plain_requests_get_http_answers() {
    let (listener, url) = listener().await;
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_owned();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let page = accept_with(tcp, Config::default(), |request| {
            assert!(!request.is_upgrade());
            Answer::html(200, "<h1>hi</h1>")
        })
        .await;
        assert!(
            matches!(page, Err(Error::Responded { status: 200 })),
            "{page:?}"
        );
        let (tcp, _) = listener.accept().await.unwrap();
        let plain = accept(tcp).await;
        assert!(
            matches!(plain, Err(Error::Responded { status: 426 })),
            "{plain:?}"
        );
        let (tcp, _) = listener.accept().await.unwrap();
        let refused = accept_with(tcp, Config::default(), |_| Answer::text(403, "no\n")).await;
        assert!(matches!(refused, Err(Error::Responded { status: 403 })));
    });
    for expected in ["HTTP/1.1 200", "HTTP/1.1 426"] {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        // Read to the end: the server closes the connection.
        timeout(LIMIT, tcp.read_to_string(&mut response))
            .await
            .unwrap()
            .unwrap();
        assert!(response.starts_with(expected), "{response}");
    }
    let refused = connect(&url).await;
    match refused {
        Err(Error::Rejected { status: 403, body }) => assert_eq!(body, b"no\n"),
        other => panic!("{other:?}"),
    }
    timeout(LIMIT, server).await.unwrap().unwrap();
}

/// A peer that breaks the protocol (an unmasked frame to a server) gets Close 1002, and the
/// stream reports `Error::Protocol`, then ends.
#[tokio::test]
async fn protocol_error_ends_the_stream() {
    let (listener, url) = listener().await;
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_owned();
    let client = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\
              \x81\x02hi",
        )
        .await
        .unwrap();
        let mut got = Vec::new();
        timeout(LIMIT, tcp.read_to_end(&mut got))
            .await
            .unwrap()
            .unwrap();
        got
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = accept(tcp).await.unwrap();
    assert!(matches!(ws.next().await, Some(Err(Error::Protocol(_)))));
    assert!(ws.next().await.is_none());
    let got = client.await.unwrap();
    // The 101, then a Close frame with 1002 (and a reason).
    let close = got
        .windows(4)
        .position(|w| w[0] == 0x88 && w[2..] == [0x03, 0xea]);
    assert!(close.is_some(), "{:?}", String::from_utf8_lossy(&got));
}

#[tokio::test]
async fn bad_urls_are_typed_errors() {
    assert!(matches!(connect("http://x/").await, Err(Error::Url(_))));
    assert!(matches!(connect("ws://").await, Err(Error::Url(_))));
    // Nothing listens there.
    let (listener, url) = listener().await;
    drop(listener);
    assert!(matches!(connect(&url).await, Err(Error::Io(_))));
    let _ = Timestamp::ZERO;
}

/// A client that sends part of its request and then nothing: `accept_with` gives up after
/// the handshake timeout with `HandshakeError::Timeout` and closes the connection.
#[tokio::test]
async fn a_client_that_never_finishes_its_request_is_dropped() {
    let handshake_timeout = Duration::from_millis(300);
    let (listener, url) = listener().await;
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_owned();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = Config::default().with_handshake_timeout(Some(handshake_timeout));
        accept_with(tcp, config, |_| Answer::accept())
            .await
            .map(|_| ())
    });
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    // The server closes the connection: the end of the stream, nothing sent.
    let mut rest = Vec::new();
    timeout(LIMIT, tcp.read_to_end(&mut rest))
        .await
        .expect("the half-sent request was never dropped")
        .unwrap();
    let took = started.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    // (The server reads on for a moment after closing its side, for the client's end.)
    let result = timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(
        matches!(
            result,
            Err(Error::Handshake(
                ws_proto_io::ws_proto::HandshakeError::Timeout
            ))
        ),
        "{result:?}"
    );
    assert!(
        took >= handshake_timeout - Duration::from_millis(50)
            && took < handshake_timeout + Duration::from_millis(1500),
        "{took:?}"
    );
}
