//! permessage-deflate (RFC 7692) through `Connection`: negotiation, round trips for every
//! combination Autobahn's 12.x/13.x cases use, the wire format, and hostile input.
#![cfg(feature = "deflate")]

use proptest::prelude::*;
use ws_proto::deflate::{DeflateConfig, DeflateError, DeflateParams};
use ws_proto::handshake::ResponseError;
use ws_proto::{
    Accept, ClientRequest, CloseCause, Config, Connection, Event, HandshakeError, ProtocolError,
    Rng,
};

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

#[derive(Debug, PartialEq, Clone)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

fn pump(from: &mut Connection, to: &mut Connection, chunk: usize) {
    let bytes = from.poll_transmit().to_vec();
    from.poll_transmit().advance(bytes.len());
    for piece in bytes.chunks(chunk.max(1)) {
        to.handle_bytes(piece);
    }
}

fn messages(conn: &mut Connection) -> Vec<Msg> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(event) = conn.poll_event(&mut buf) {
        match event {
            Event::Text(t) => out.push(Msg::Text(t.into())),
            Event::Binary(b) => out.push(Msg::Binary(b.into())),
            Event::Connected(_) | Event::Ping(_) | Event::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

/// A client and a server handshaken in memory with the given deflate settings.
fn pair(client_cfg: Config, server_cfg: Config) -> (Connection, Connection, String) {
    let request = ClientRequest::new("ws://h/").unwrap();
    let mut client = Connection::client_with_rng(
        request,
        client_cfg,
        ws_proto::Timestamp::ZERO,
        Box::new(XorShift(99)),
    )
    .unwrap();
    let mut server = Connection::server(server_cfg, ws_proto::Timestamp::ZERO);
    pump(&mut client, &mut server, 4096);
    let mut buf = Vec::new();
    let offered = match server.poll_event(&mut buf) {
        Some(Event::Request(r)) => r
            .headers()
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
            .map(|h| h.value_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        other => panic!("{other:?}"),
    };
    server.accept(&Accept::default()).unwrap();
    pump(&mut server, &mut client, 4096);
    assert!(matches!(
        client.poll_event(&mut buf),
        Some(Event::Connected(_))
    ));
    (client, server, offered)
}

fn cfg(f: impl FnOnce(&mut DeflateConfig)) -> Config {
    let mut c = Config::default();
    f(&mut c.deflate);
    c
}

fn sample_messages() -> Vec<Msg> {
    let text: String = "The quick brown fox jumps over the lazy dog. ünïcödé € 😀 ".repeat(200);
    let mut noise = vec![0u8; 5000];
    XorShift(5).fill(&mut noise);
    vec![
        Msg::Text(String::new()),
        Msg::Binary(vec![]),
        Msg::Text("x".into()),
        Msg::Binary(vec![7]),
        Msg::Text(text.clone()),
        Msg::Text(text),
        Msg::Binary(noise),
        Msg::Binary(vec![0; 100_000]),
    ]
}

fn send(conn: &mut Connection, m: &Msg) {
    match m {
        Msg::Text(t) => conn.send_text(t).unwrap(),
        Msg::Binary(b) => conn.send_binary(b).unwrap(),
    }
}

/// Both directions, given chunk size.
fn round_trip(client: &mut Connection, server: &mut Connection, chunk: usize) {
    let msgs = sample_messages();
    for m in &msgs {
        send(client, m);
    }
    pump(client, server, chunk);
    assert_eq!(messages(server), msgs);
    for m in &msgs {
        send(server, m);
    }
    pump(server, client, chunk);
    assert_eq!(messages(client), msgs);
}

#[test]
fn browsers_offer_is_accepted_and_both_ends_agree() {
    let (client, server, offered) = pair(Config::default(), Config::default());
    assert_eq!(offered, "permessage-deflate; client_max_window_bits");
    let expected = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    assert_eq!(server.negotiated().deflate(), Some(expected));
    assert_eq!(client.negotiated().deflate(), Some(expected));
}

#[test]
fn disabled_on_either_side_means_no_compression() {
    let off = cfg(|d| d.enabled = false);
    let (client, server, offered) = pair(off.clone(), Config::default());
    assert_eq!(offered, "");
    assert_eq!(
        (client.negotiated().deflate(), server.negotiated().deflate()),
        (None, None)
    );
    let (mut client, mut server, offered) = pair(Config::default(), off);
    assert_eq!(offered, "permessage-deflate; client_max_window_bits");
    assert_eq!(
        (client.negotiated().deflate(), server.negotiated().deflate()),
        (None, None)
    );
    round_trip(&mut client, &mut server, 1000);
}

#[test]
fn round_trips_for_the_autobahn_combinations() {
    // Autobahn 12.x/13.x: window bits 8, 9, 15 and context takeover on/off, each way.
    for server_bits in [8u8, 9, 15] {
        for client_bits in [8u8, 9, 15] {
            for no_takeover in [false, true] {
                let client_cfg = cfg(|d| {
                    d.server_max_window_bits = server_bits;
                    d.client_max_window_bits = client_bits;
                    d.server_no_context_takeover = no_takeover;
                    d.client_no_context_takeover = no_takeover;
                });
                let (mut client, mut server, _) = pair(client_cfg, Config::default());
                let agreed = server.negotiated().deflate().unwrap();
                assert_eq!(agreed.server_max_window_bits, server_bits);
                assert_eq!(agreed.client_max_window_bits, client_bits);
                assert_eq!(agreed.server_no_context_takeover, no_takeover);
                // The client also resets its own compressor when it offered to; the server
                // need not know.
                let seen = client.negotiated().deflate().unwrap();
                assert_eq!(seen.client_no_context_takeover, no_takeover);
                assert_eq!(
                    (seen.server_max_window_bits, seen.client_max_window_bits),
                    (server_bits, client_bits)
                );
                for chunk in [1usize, 7, 4096] {
                    round_trip(&mut client, &mut server, chunk);
                }
            }
        }
    }
}

/// Decodes frame headers of unmasked server output: (fin, rsv, opcode, payload length).
fn frames(mut wire: &[u8]) -> Vec<(bool, u8, u8, usize)> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let (fin, rsv, op) = (wire[0] >> 7 == 1, (wire[0] >> 4) & 7, wire[0] & 15);
        assert_eq!(wire[1] & 0x80, 0, "server frames are unmasked");
        let (len, hdr) = match wire[1] & 0x7f {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        out.push((fin, rsv, op, len));
        wire = &wire[hdr + len..];
    }
    out
}

#[test]
fn rsv1_marks_only_the_first_frame_of_compressed_messages() {
    let mut server_cfg = Config::default();
    server_cfg.fragment_size = Some(100);
    let request = ClientRequest::new("ws://h/").unwrap();
    let mut client = Connection::client_with_rng(
        request,
        Config::default(),
        ws_proto::Timestamp::ZERO,
        Box::new(XorShift(1)),
    )
    .unwrap();
    let mut server = Connection::server(server_cfg, ws_proto::Timestamp::ZERO);
    pump(&mut client, &mut server, 4096);
    let mut buf = Vec::new();
    server.poll_event(&mut buf);
    server.accept(&Accept::default()).unwrap();
    pump(&mut server, &mut client, 4096);
    messages(&mut client);

    let mut noise = vec![0u8; 1000];
    XorShift(3).fill(&mut noise);
    server.send_text("short").unwrap(); // under min_message_size: uncompressed
    server.send_binary(&noise).unwrap(); // compressed, several fragments
    server.send_text_part(&"a".repeat(300), false).unwrap(); // streamed, compressed
    server.send_ping(b"p").unwrap();
    server.send_text_part(&"b".repeat(300), true).unwrap();
    let wire = server.poll_transmit().to_vec();
    let f = frames(&wire);
    assert_eq!(f[0], (true, 0, 1, 5), "uncompressed, RSV1 clear");
    assert_eq!(
        (f[1].0, f[1].1, f[1].2),
        (false, 0b100, 2),
        "first fragment has RSV1"
    );
    let binary_frames: Vec<_> = f[1..].iter().take_while(|fr| fr.2 != 1).collect();
    assert!(binary_frames.len() > 2);
    assert!(binary_frames[1..].iter().all(|fr| fr.1 == 0 && fr.2 == 0));
    assert!(binary_frames.last().unwrap().0);
    let rest = &f[binary_frames.len() + 1..];
    assert_eq!(
        (rest[0].1, rest[0].2),
        (0b100, 1),
        "streamed text starts with RSV1"
    );
    assert!(
        rest[1..].iter().all(|fr| fr.1 == 0),
        "no RSV1 on continuation or ping"
    );
    assert!(rest.iter().any(|fr| fr.2 == 9));
    client.handle_bytes(&wire);
    let got = messages(&mut client);
    assert_eq!(
        got,
        vec![
            Msg::Text("short".into()),
            Msg::Binary(noise),
            Msg::Text("a".repeat(300) + &"b".repeat(300)),
        ]
    );
}

#[test]
fn an_8_bit_window_for_our_compressor_sends_uncompressed() {
    // The client limits the server's window to 8 bits, which zlib cannot compress with.
    let (mut client, mut server, _) =
        pair(cfg(|d| d.server_max_window_bits = 8), Config::default());
    assert_eq!(
        server
            .negotiated()
            .deflate()
            .unwrap()
            .server_max_window_bits,
        8
    );
    server.send_text(&"z".repeat(1000)).unwrap();
    let wire = server.poll_transmit().to_vec();
    assert_eq!(frames(&wire), vec![(true, 0, 1, 1000)]);
    client.handle_bytes(&wire);
    server.poll_transmit().advance(wire.len());
    assert_eq!(messages(&mut client), vec![Msg::Text("z".repeat(1000))]);
    // The other direction still compresses (client window 15).
    client.send_text(&"z".repeat(1000)).unwrap();
    assert!(client.poll_transmit().len() < 100);
}

/// A masked client frame with RSV1 (compressed payload given).
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [9, 8, 7, 6];
    let mut f = vec![first];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

fn server_after_handshake(config: Config) -> Connection {
    let (_, server, _) = pair(Config::default(), config);
    server
}

/// Why the connection ended, if it did because of an error.
fn error_of(conn: &mut Connection) -> Option<CloseCause> {
    let mut buf = Vec::new();
    let mut last = None;
    while let Some(e) = conn.poll_event(&mut buf) {
        if let Event::Closed(closed) = e {
            if let CloseCause::ProtocolError(_) | CloseCause::HandshakeFailed(_) = closed.cause {
                last = Some(closed.cause);
            }
        }
    }
    last
}

#[test]
fn a_deflate_bomb_fails_1009_within_the_limit() {
    // 16 MiB of zeros compresses to about 16 KiB; a 1 MiB limit stops it early.
    let mut config = Config::default();
    config.max_message_size = 1 << 20;
    let mut server = server_after_handshake(config);
    let n = server.poll_transmit().len();
    server.poll_transmit().advance(n);
    let mut encoder = flate_reference::Encoder::new();
    let bomb = encoder.compress(&vec![0u8; 16 << 20]);
    // About 13 bits per 258 zero bytes: 64 KiB of it inflates to ~10 MiB.
    assert!(bomb.len() > 65_535, "{}", bomb.len());
    let mut wire = client_frame(0xC2, &bomb[..bomb.len().min(65_535)]);
    wire.truncate(wire.len()); // one frame of the compressed stream (FIN set)
    server.handle_bytes(&wire);
    assert_eq!(
        error_of(&mut server),
        Some(CloseCause::ProtocolError(ProtocolError::MessageTooLarge))
    );
    let close = server.poll_transmit().to_vec();
    assert_eq!(&close[..4], &[0x88, 19, 0x03, 0xF1]); // 1009
    // The buffers stay near the 1 MiB limit; heap_usage also counts zlib's state (about
    // 330 KiB for 15-bit windows both ways).
    assert!(
        server.heap_usage() < (1 << 20) + (256 << 10) + (340 << 10),
        "{}",
        server.heap_usage()
    );
}

#[test]
fn rsv1_on_continuation_or_control_frames_fails_1002() {
    let mut server = server_after_handshake(Config::default());
    server.handle_bytes(&client_frame(0x01, b"ab")); // text, FIN clear
    server.handle_bytes(&client_frame(0xC0, b"cd")); // continuation with RSV1
    assert_eq!(
        error_of(&mut server),
        Some(CloseCause::ProtocolError(ProtocolError::ReservedBits(
            0b100
        )))
    );

    let mut server = server_after_handshake(Config::default());
    server.handle_bytes(&client_frame(0xC9, b"")); // ping with RSV1
    assert_eq!(
        error_of(&mut server),
        Some(CloseCause::ProtocolError(ProtocolError::ReservedBits(
            0b100
        )))
    );

    let mut server = server_after_handshake(cfg(|d| d.enabled = false));
    server.handle_bytes(&client_frame(0xC1, &[0x00])); // RSV1 without the extension
    assert_eq!(
        error_of(&mut server),
        Some(CloseCause::ProtocolError(ProtocolError::ReservedBits(
            0b100
        )))
    );
}

#[test]
fn a_corrupt_stream_fails_1007() {
    let mut server = server_after_handshake(Config::default());
    server.handle_bytes(&client_frame(0xC1, &[0xff, 0xff, 0xff]));
    assert_eq!(
        error_of(&mut server),
        Some(CloseCause::ProtocolError(
            ProtocolError::InvalidCompressedData
        ))
    );
    let out = server.poll_transmit().to_vec();
    let close = &out[out.len() - 27..];
    assert_eq!(&close[..4], &[0x88, 25, 0x03, 0xEF]); // 1007, "invalid compressed data"
}

#[test]
fn compressed_text_is_validated_as_utf8() {
    let mut server = server_after_handshake(Config::default());
    let mut encoder = flate_reference::Encoder::new();
    let bad = encoder.compress(b"ok \xff not utf-8");
    server.handle_bytes(&client_frame(0xC1, &bad));
    assert_eq!(
        error_of(&mut server),
        Some(CloseCause::ProtocolError(ProtocolError::InvalidUtf8))
    );
}

#[test]
fn client_fails_on_a_response_that_breaks_rfc_7692() {
    for (response, error) in [
        ("permessage-deflate; foo", DeflateError::UnknownParameter),
        (
            "permessage-deflate; server_max_window_bits=16",
            DeflateError::InvalidValue,
        ),
        (
            "permessage-deflate; client_max_window_bits",
            DeflateError::InvalidValue,
        ),
        (
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            DeflateError::DuplicateParameter,
        ),
    ] {
        let request = ClientRequest::new("ws://h/").unwrap();
        let mut client = Connection::client_with_rng(
            request,
            Config::default(),
            ws_proto::Timestamp::ZERO,
            Box::new(XorShift(4)),
        )
        .unwrap();
        let sent = String::from_utf8(client.poll_transmit().to_vec()).unwrap();
        let key = sent
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        client.handle_bytes(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {response}\r\n\r\n",
                ws_proto::accept_key(key)
            )
            .as_bytes(),
        );
        assert_eq!(
            error_of(&mut client),
            Some(CloseCause::HandshakeFailed(HandshakeError::Response(
                ResponseError::Deflate(error)
            ))),
            "{response}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn compressed_round_trips_under_any_chunking(
        texts in proptest::collection::vec("[a-c ]{0,300}|.{0,40}", 1..6),
        chunk in 1usize..300,
        fragment in proptest::option::of(1usize..200),
        no_takeover in any::<bool>(),
        bits in 9u8..=15,
    ) {
        let mut client_cfg = cfg(|d| {
            d.client_no_context_takeover = no_takeover;
            d.server_max_window_bits = bits;
            d.min_message_size = 0;
        });
        client_cfg.fragment_size = fragment;
        let (mut client, mut server, _) = pair(client_cfg, Config::default());
        for t in &texts {
            client.send_text(t).unwrap();
            server.send_text(t).unwrap();
        }
        pump(&mut client, &mut server, chunk);
        pump(&mut server, &mut client, chunk);
        let expected: Vec<Msg> = texts.iter().cloned().map(Msg::Text).collect();
        prop_assert_eq!(messages(&mut server), expected.clone());
        prop_assert_eq!(messages(&mut client), expected);
    }
}

/// An independent raw-DEFLATE encoder for test inputs: stored blocks (no compression)
/// for arbitrary data, and a hand-built fixed-Huffman run for the bomb.
mod flate_reference {
    pub struct Encoder;

    impl Encoder {
        pub fn new() -> Self {
            Encoder
        }

        /// A sync-flushed raw DEFLATE stream for `data`, trailer removed (RFC 7692 §7.2.1).
        pub fn compress(&mut self, data: &[u8]) -> Vec<u8> {
            if !data.is_empty() && data.iter().all(|&b| b == 0) {
                return zeros(data.len());
            }
            // Stored blocks: BFINAL=0, BTYPE=00, then LEN, NLEN, bytes.
            let mut out = Vec::new();
            for block in data.chunks(65_535) {
                out.push(0x00);
                out.extend_from_slice(&(block.len() as u16).to_le_bytes());
                out.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
                out.extend_from_slice(block);
            }
            out
        }
    }

    /// `n` zero bytes as fixed-Huffman DEFLATE: a literal 0 then length-258 copies at
    /// distance 1, about 1 byte of output per 1 KiB of input.
    fn zeros(n: usize) -> Vec<u8> {
        let mut bits = BitWriter::default();
        bits.put(0, 1); // BFINAL = 0
        bits.put(1, 2); // BTYPE = 01 (fixed Huffman)
        bits.huff(0b0011_0000, 8); // literal 0
        let mut left = n - 1;
        while left >= 258 {
            bits.huff(0b1100_0101, 8); // length code 285 = 258
            bits.huff(0, 5); // distance code 0 = 1
            left -= 258;
        }
        for _ in 0..left {
            bits.huff(0b0011_0000, 8);
        }
        bits.huff(0, 7); // end of block (code 256)
        // Sync flush: an empty stored block, whose 00 00 ff ff tail is then removed.
        bits.put(0, 3);
        let mut out = bits.finish();
        out.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        out.truncate(out.len() - 4);
        out
    }

    #[derive(Default)]
    struct BitWriter {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }

    impl BitWriter {
        /// Writes `count` bits of `value`, least significant first.
        fn put(&mut self, value: u32, count: u32) {
            for i in 0..count {
                self.acc |= ((value >> i) & 1) << self.n;
                self.n += 1;
                if self.n == 8 {
                    self.out.push(self.acc as u8);
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }

        /// Writes a Huffman code, most significant bit first.
        fn huff(&mut self, code: u32, len: u32) {
            for i in (0..len).rev() {
                self.put((code >> i) & 1, 1);
            }
        }

        fn finish(mut self) -> Vec<u8> {
            if self.n > 0 {
                self.out.push(self.acc as u8);
            }
            self.out
        }
    }
}

#[test]
fn every_offer_our_client_can_make_is_accepted_consistently() {
    // RFC 7692's rules, checked for each of the 2 × 2 × 8 × 8 offers a client config can
    // produce: the server must accept, both ends must agree, and nothing may exceed what
    // was asked.
    for snct in [false, true] {
        for cnct in [false, true] {
            for server_bits in 8u8..=15 {
                for client_bits in 8u8..=15 {
                    let client_cfg = cfg(|d| {
                        d.server_no_context_takeover = snct;
                        d.client_no_context_takeover = cnct;
                        d.server_max_window_bits = server_bits;
                        d.client_max_window_bits = client_bits;
                    });
                    let (client, server, offered) = pair(client_cfg, Config::default());
                    let (s, c) = (
                        server.negotiated().deflate().unwrap(),
                        client.negotiated().deflate().unwrap(),
                    );
                    let case = format!("offer {offered:?}");
                    assert_eq!(s.server_max_window_bits, server_bits, "{case}");
                    assert_eq!(c.server_max_window_bits, server_bits, "{case}");
                    assert_eq!(s.client_max_window_bits, client_bits, "{case}");
                    assert_eq!(c.client_max_window_bits, client_bits, "{case}");
                    assert_eq!(s.server_no_context_takeover, snct, "{case}");
                    assert_eq!(c.server_no_context_takeover, snct, "{case}");
                    assert_eq!(c.client_no_context_takeover, cnct, "{case}");
                    assert_eq!(
                        offered.contains("server_no_context_takeover"),
                        snct,
                        "{case}"
                    );
                    assert_eq!(
                        offered.contains(&format!("server_max_window_bits={server_bits}")),
                        server_bits < 15,
                        "{case}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_server_config_limits_what_it_accepts() {
    // The server's own limits are never exceeded, whatever the client asks.
    for limit in 8u8..=15 {
        let server_cfg = cfg(|d| {
            d.server_max_window_bits = limit;
            d.client_max_window_bits = limit;
        });
        let (client, server, _) = pair(Config::default(), server_cfg);
        let s = server.negotiated().deflate().unwrap();
        assert_eq!(s.server_max_window_bits, limit);
        // The client offered client_max_window_bits (no value), so the server may limit it.
        assert_eq!(s.client_max_window_bits, limit);
        assert_eq!(
            client
                .negotiated()
                .deflate()
                .unwrap()
                .client_max_window_bits,
            limit
        );
    }
}
