//! End-to-end handshake tests across modules.

use super::*;
use alloc::{vec, vec::Vec};
use proptest::prelude::*;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[test]
fn rfc_accept_key_example() {
    assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn generated_key_is_base64_of_16_bytes() {
    assert_eq!(generate_key(*b"the sample nonce"), KEY);
    assert_eq!(generate_key([0; 16]), "AAAAAAAAAAAAAAAAAAAAAA==");
}

/// Delimits `bytes` with a fresh `HeadParser`, as a peer would after one read.
fn delimit(bytes: &[u8]) -> usize {
    HeadParser::new(HeadLimits::default())
        .advance(bytes)
        .unwrap()
        .unwrap()
}

#[test]
fn client_server_round_trip() {
    let client = ClientRequest::new("ws://Example.com:9001/chat?room=1")
        .unwrap()
        .origin("http://example.com")
        .subprotocol("v2.chat")
        .subprotocol("v1.chat")
        .extension(
            ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits", None),
        )
        .header("Cookie", "session=abc");
    let key = generate_key([7; 16]);
    let mut wire = client.encode(&key).unwrap();
    // An early frame right after the head must be left for the frame layer.
    let frame = [0x81, 0x80, 1, 2, 3, 4];
    wire.extend_from_slice(&frame);

    let n = delimit(&wire);
    assert_eq!(&wire[n..], &frame);
    let req = parse_request(&wire[..n]).unwrap();
    assert_eq!(req.host(), "example.com:9001");
    assert_eq!((req.path(), req.query()), ("/chat", Some("room=1")));
    assert_eq!(req.origin(), Some("http://example.com"));
    assert_eq!(req.subprotocols(), ["v2.chat", "v1.chat"]);
    assert_eq!(req.extensions(), client.extensions());
    assert_eq!(req.header("cookie"), Some(&b"session=abc"[..]));

    let accept = Accept {
        subprotocol: Some("v1.chat".into()),
        extensions: vec![
            ExtensionOffer::new("permessage-deflate")
                .with_param("client_max_window_bits", Some("12")),
        ],
        headers: vec![("Set-Cookie".into(), "id=1".into())],
    };
    let answer = accept_response(&req, &accept).unwrap();
    let n = delimit(&answer);
    assert_eq!(n, answer.len());
    let resp = parse_response(&answer[..n], &client, &key).unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.subprotocol(), Some("v1.chat"));
    assert_eq!(resp.extensions(), accept.extensions);
    assert_eq!(resp.header("set-cookie"), Some(&b"id=1"[..]));
    // The same answer checked against another key fails.
    let other = generate_key([8; 16]);
    assert_eq!(
        parse_response(&answer, &client, &other),
        Err(ResponseError::AcceptMismatch)
    );
}

#[test]
fn rejection_round_trip() {
    let client = ClientRequest::new("wss://h/").unwrap();
    let answer = reject_response(403, &[], b"forbidden origin").unwrap();
    let n = delimit(&answer);
    let resp = parse_response(&answer[..n], &client, KEY).unwrap();
    assert_eq!((resp.status(), resp.reason()), (403, "Forbidden"));
    assert_eq!(resp.content_length(), Some(16));
    assert_eq!(&answer[n..], b"forbidden origin");

    let err = RequestError::UnsupportedVersion.response();
    let n = delimit(&err);
    let resp = parse_response(&err[..n], &client, KEY).unwrap();
    assert_eq!(resp.status(), 426);
    assert_eq!(resp.header("sec-websocket-version"), Some(&b"13"[..]));
    assert_eq!(resp.content_length(), Some(err.len() as u64 - n as u64));
}

#[test]
fn request_split_at_every_byte() {
    let head = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\nXY";
    let whole = parse_request(&head[..delimit(head)]).unwrap();
    assert_eq!(whole.subprotocols(), ["chat", "superchat"]);
    for split in 0..head.len() {
        let mut parser = HeadParser::new(HeadLimits::default());
        let mut got = None;
        for end in [split, head.len()] {
            if let Some(n) = parser.advance(&head[..end]).unwrap() {
                got = Some(n);
                break;
            }
        }
        let n = got.unwrap();
        assert_eq!(n, head.len() - 2, "split {split}");
        assert_eq!(
            parse_request(&head[..n]).as_ref(),
            Ok(&whole),
            "split {split}"
        );
    }
    // And byte by byte.
    let mut parser = HeadParser::new(HeadLimits::default());
    let n = (1..=head.len())
        .find_map(|end| parser.advance(&head[..end]).unwrap())
        .unwrap();
    assert_eq!(parse_request(&head[..n]), Ok(whole));
}

#[test]
fn oversized_and_crowded_requests() {
    let limits = HeadLimits {
        max_head_size: 256,
        max_headers: 4,
    };
    let big = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 300]].concat();
    let err = HeadParser::new(limits).advance(&big).unwrap_err();
    assert_eq!(err, HeadError::TooLarge);
    assert_eq!(err.status(), 431);
    let crowded = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
    let err = HeadParser::new(limits).advance(crowded).unwrap_err();
    assert_eq!(err, HeadError::TooManyHeaders);
}

proptest! {
    #[test]
    fn arbitrary_chunks_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        chunk in 1usize..64,
    ) {
        let limits = HeadLimits { max_head_size: 1024, max_headers: 16 };
        let mut parser = HeadParser::new(limits);
        let mut end = 0;
        while end < data.len() {
            end = (end + chunk).min(data.len());
            match parser.advance(&data[..end]) {
                Ok(None) => continue,
                Ok(Some(n)) => {
                    prop_assert!(n <= limits.max_head_size);
                    let _ = parse_request(&data[..n]);
                    let client = ClientRequest::new("ws://h/").unwrap();
                    let _ = parse_response(&data[..n], &client, KEY);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    #[test]
    fn mutated_requests_never_panic(
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..6),
    ) {
        let mut head: Vec<u8> = ClientRequest::new("ws://h/p?q")
            .unwrap()
            .subprotocol("chat")
            .extension(ExtensionOffer::new("permessage-deflate"))
            .encode(KEY)
            .unwrap();
        for (at, b) in flips {
            let len = head.len();
            head[at % len] = b;
        }
        let _ = parse_request(&head);
        let _ = HeadParser::new(HeadLimits::default()).advance(&head);
    }
}
