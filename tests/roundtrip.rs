//! Property tests: frames from the independent test encoder decode right in any chunking,
//! the connection's own output decodes right with the test decoder, and message sequences
//! pass between a client and a server intact and in order.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::sample::Index;
use ws_proto::{CloseCode, Config, Connection, Delivery, Role};

// ---- generators ----

/// Lengths around every length-encoding boundary, and anything up to 70 000.
fn payload_len() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=130, 65_530usize..=65_540, 0usize..=70_000,]
}

/// A string of about `len` bytes (at most 3 more) drawn from 1- to 4-byte code points,
/// including the extremes of each length class.
fn text_of(len: usize, seed: u64) -> String {
    const CHARS: [char; 12] = [
        'a',
        'Z',
        '\u{7F}',
        'é',
        '\u{80}',
        '\u{7FF}',
        '€',
        '\u{800}',
        '\u{FFFF}',
        '😀',
        '\u{10000}',
        '\u{10FFFF}',
    ];
    let mut rng = XorShift(seed | 1);
    let mut s = String::with_capacity(len + 4);
    while s.len() < len {
        s.push(CHARS[(rng.next_u64() % CHARS.len() as u64) as usize]);
    }
    s
}

const VALID_CODES: [u16; 16] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];

#[derive(Clone, Debug)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// None: an empty Close body.
    Close(Option<(u16, String)>),
}

impl Msg {
    /// The event a receiver in whole delivery reports.
    fn event(&self) -> Owned {
        match self {
            Msg::Text(t) => Owned::Text(t.clone()),
            Msg::Binary(b) => Owned::Binary(b.clone()),
            Msg::Ping(p) => Owned::Ping(p.clone()),
            Msg::Pong(p) => Owned::Pong(p.clone()),
            Msg::Close(None) => Owned::close(1005, ""),
            Msg::Close(Some((code, reason))) => Owned::close(*code, reason),
        }
    }

    /// The event in streaming delivery, with all pieces merged.
    fn streamed_event(&self) -> Owned {
        match self {
            Msg::Text(t) => Owned::TextPiece(t.clone(), true),
            Msg::Binary(b) => Owned::BinaryPiece(b.clone(), true),
            other => other.event(),
        }
    }

    fn is_data(&self) -> bool {
        matches!(self, Msg::Text(_) | Msg::Binary(_))
    }
}

/// Any message, data payloads up to 70 000 bytes, control payloads up to 125.
fn any_msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        3 => (payload_len(), any::<u64>()).prop_map(|(l, s)| Msg::Text(text_of(l, s))),
        3 => (payload_len(), any::<u64>()).prop_map(|(l, s)| Msg::Binary(random_bytes(l, s))),
        1 => (0usize..=125, any::<u64>()).prop_map(|(l, s)| Msg::Ping(random_bytes(l, s))),
        1 => (0usize..=125, any::<u64>()).prop_map(|(l, s)| Msg::Pong(random_bytes(l, s))),
        1 => prop_oneof![
            Just(Msg::Close(None)),
            (prop::sample::select(VALID_CODES.to_vec()), 0usize..=120, any::<u64>())
                .prop_map(|(c, l, s)| Msg::Close(Some((c, text_of(l, s))))),
        ],
    ]
}

/// Small messages, for sequences (a few KiB at most).
fn small_msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        3 => (0usize..3000, any::<u64>()).prop_map(|(l, s)| Msg::Text(text_of(l, s))),
        3 => (0usize..3000, any::<u64>()).prop_map(|(l, s)| Msg::Binary(random_bytes(l, s))),
        1 => (0usize..=125, any::<u64>()).prop_map(|(l, s)| Msg::Ping(random_bytes(l, s))),
        1 => (0usize..=125, any::<u64>()).prop_map(|(l, s)| Msg::Pong(random_bytes(l, s))),
    ]
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..=16, 1usize..=9000], 1..6)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

/// Encodes `msg` with the test encoder as a peer of `receiver` would, data split into
/// frames at `splits`.
fn encode_for(receiver: Role, msg: &Msg, splits: &[Index]) -> Vec<u8> {
    let (opcode, payload) = match msg {
        Msg::Text(t) => (TEXT, t.as_bytes().to_vec()),
        Msg::Binary(b) => (BINARY, b.clone()),
        Msg::Ping(p) => return peer_frame(receiver, true, PING, p),
        Msg::Pong(p) => return peer_frame(receiver, true, PONG, p),
        Msg::Close(None) => return peer_frame(receiver, true, CLOSE, b""),
        Msg::Close(Some((code, reason))) => {
            return peer_frame(receiver, true, CLOSE, &close_body(*code, reason.as_bytes()));
        }
    };
    let mut cuts: Vec<usize> = splits.iter().map(|i| i.index(payload.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(payload.len());
    let mut out = Vec::new();
    let mut from = 0;
    for (i, &cut) in cuts.iter().enumerate() {
        let op = if i == 0 { opcode } else { CONT };
        // Distinct keys per frame, like a real client.
        let mask = peer_mask(receiver).map(|k| [k[0], k[1], k[2], k[3] ^ i as u8]);
        out.extend(frame(i + 1 == cuts.len(), 0, op, mask, &payload[from..cut]));
        from = cut;
    }
    out
}

/// Sends `msg` through `conn`'s own API.
fn send(conn: &mut Connection, msg: &Msg) {
    match msg {
        Msg::Text(t) => conn.send_text(t),
        Msg::Binary(b) => conn.send_binary(b),
        Msg::Ping(p) => conn.send_ping(p),
        Msg::Pong(p) => conn.send_pong(p),
        Msg::Close(None) => conn.close(CloseCode::NO_STATUS, ""),
        Msg::Close(Some((code, reason))) => conn.close(CloseCode(*code), reason),
    }
    .unwrap();
}

fn config(delivery: Delivery, fragment_size: Option<usize>, auto_pong: bool) -> Config {
    let mut config = Config::default();
    config.delivery = delivery;
    config.fragment_size = fragment_size;
    config.auto_pong = auto_pong;
    config
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![Just(Delivery::Whole), Just(Delivery::Streaming)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// (a) Any legal frame (or fragmented message) from the test encoder, fed in any chunking
    /// into a connection of the matching role, yields the right event and reply.
    #[test]
    fn test_encoded_frames_decode(
        receiver in role(),
        msg in any_msg(),
        splits in prop::collection::vec(any::<Index>(), 0..3),
        sizes in chunk_sizes(),
        delivery in delivery(),
        use_read_buf in any::<bool>(),
    ) {
        let bytes = encode_for(receiver, &msg, &splits);
        let mut conn = conn(receiver, config(delivery, None, true));
        let got = if use_read_buf {
            read_chunked(&mut conn, &bytes, &sizes)
        } else {
            feed_chunked(&mut conn, &bytes, &sizes)
        };
        match delivery {
            Delivery::Whole => prop_assert_eq!(got, vec![msg.event()]),
            _ => {
                // Only the last piece may carry fin.
                let fins = got.iter().filter(|e| matches!(e,
                    Owned::TextPiece(_, true) | Owned::BinaryPiece(_, true))).count();
                prop_assert!(!msg.is_data() || fins == 1);
                if msg.is_data() {
                    prop_assert!(matches!(got.last(),
                        Some(Owned::TextPiece(_, true) | Owned::BinaryPiece(_, true))));
                }
                prop_assert_eq!(coalesce(got), vec![msg.streamed_event()]);
            }
        }
        // The reply on the wire: a Pong for a Ping, the echo (code and reason) for a Close,
        // else nothing.
        let masked = receiver == Role::Client;
        let expected = match &msg {
            Msg::Ping(p) => vec![Wire::new(true, PONG, masked, p)],
            Msg::Close(None) => vec![Wire::new(true, CLOSE, masked, b"")],
            Msg::Close(Some((code, reason))) => {
                vec![Wire::new(true, CLOSE, masked, &close_body(*code, reason.as_bytes()))]
            }
            _ => vec![],
        };
        prop_assert_eq!(decode(&drain(&mut conn)), expected);
    }

    /// (a) The connection's own encoder: any message, any fragment size, decodes with the
    /// test decoder to the same payload, with the right opcodes, FIN and masking.
    #[test]
    fn own_encoder_output_decodes(
        sender in role(),
        msg in any_msg(),
        fragment_size in prop::option::of(prop_oneof![1usize..=16, 1usize..=20_000]),
        write_step in prop_oneof![Just(usize::MAX), 1usize..5000],
    ) {
        let mut conn = conn(sender, config(Delivery::Whole, fragment_size, true));
        send(&mut conn, &msg);
        let out = drain_partial(&mut conn, write_step);
        let frames = decode(&out);
        let masked = sender == Role::Client;
        prop_assert!(frames.iter().all(|f| f.masked == masked && f.rsv == 0));
        match &msg {
            Msg::Text(_) | Msg::Binary(_) => {
                let (opcode, payload) = match &msg {
                    Msg::Text(t) => (TEXT, t.as_bytes()),
                    Msg::Binary(b) => (BINARY, &b[..]),
                    _ => unreachable!(),
                };
                let expected_frames = match fragment_size {
                    Some(n) if n > 0 && payload.len() > n => payload.len().div_ceil(n),
                    _ => 1,
                };
                prop_assert_eq!(frames.len(), expected_frames);
                for (i, f) in frames.iter().enumerate() {
                    prop_assert_eq!(f.opcode, if i == 0 { opcode } else { CONT });
                    prop_assert_eq!(f.fin, i + 1 == frames.len());
                    if expected_frames > 1 {
                        // Every frame but the last is exactly fragment_size long.
                        let n = fragment_size.unwrap();
                        let last = i + 1 == frames.len();
                        prop_assert!(f.payload.len() == n || last && f.payload.len() <= n);
                    }
                }
                let all: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
                prop_assert!(all == payload);
            }
            Msg::Ping(p) => prop_assert_eq!(frames, vec![Wire::new(true, PING, masked, p)]),
            Msg::Pong(p) => prop_assert_eq!(frames, vec![Wire::new(true, PONG, masked, p)]),
            Msg::Close(None) => prop_assert_eq!(frames, vec![Wire::new(true, CLOSE, masked, b"")]),
            Msg::Close(Some((code, reason))) => prop_assert_eq!(
                frames,
                vec![Wire::new(true, CLOSE, masked, &close_body(*code, reason.as_bytes()))]
            ),
        }
    }

    /// (b) Any sequence of messages from one end arrives at the other identical and in
    /// order, in any chunking, in both directions.
    #[test]
    fn message_sequences_pass_intact(
        msgs in prop::collection::vec(small_msg(), 0..12),
        from in role(),
        fragment_size in prop::option::of(1usize..700),
        sizes in chunk_sizes(),
        delivery in delivery(),
    ) {
        let sender_config = config(Delivery::Whole, fragment_size, false);
        let receiver_config = config(delivery, None, false);
        let (client, server) = match from {
            Role::Client => (sender_config, receiver_config),
            Role::Server => (receiver_config, sender_config),
        };
        let mut pair = Pair::new(client, server).with_chunks(sizes);
        for msg in &msgs {
            send(pair.get(from), msg);
        }
        let got = pair.transfer(from);
        match delivery {
            Delivery::Whole => {
                prop_assert_eq!(got, msgs.iter().map(Msg::event).collect::<Vec<_>>());
            }
            _ => prop_assert_eq!(
                coalesce(got),
                coalesce(msgs.iter().map(Msg::streamed_event).collect())
            ),
        }
        // Nothing went back (auto_pong off).
        prop_assert!(drain(pair.get(other(from))).is_empty());
    }

    /// (b) Streamed sends with control frames between the parts.
    #[test]
    fn streamed_parts_with_interleaved_control_frames(
        parts in prop::collection::vec(
            (0usize..600, any::<u64>(), prop::collection::vec(small_control(), 0..3)),
            1..6,
        ),
        text in any::<bool>(),
        from in role(),
        fragment_size in prop::option::of(1usize..300),
        sizes in chunk_sizes(),
        delivery in delivery(),
    ) {
        let sender_config = config(Delivery::Whole, fragment_size, false);
        let receiver_config = config(delivery, None, false);
        let (client, server) = match from {
            Role::Client => (sender_config, receiver_config),
            Role::Server => (receiver_config, sender_config),
        };
        let mut pair = Pair::new(client, server).with_chunks(sizes);
        let mut whole_text = String::new();
        let mut whole_bin = Vec::new();
        let mut controls = Vec::new();
        let n = parts.len();
        for (i, (len, seed, ctrl)) in parts.iter().enumerate() {
            let fin = i + 1 == n;
            if text {
                let piece = text_of(*len, *seed);
                pair.get(from).send_text_part(&piece, fin).unwrap();
                whole_text.push_str(&piece);
            } else {
                let piece = random_bytes(*len, *seed);
                pair.get(from).send_binary_part(&piece, fin).unwrap();
                whole_bin.extend_from_slice(&piece);
            }
            if !fin {
                for c in ctrl {
                    send(pair.get(from), c);
                    controls.push(c.event());
                }
            }
        }
        // One more whole message afterwards.
        pair.get(from).send_text("after").unwrap();
        let got = pair.transfer(from);
        let message = if text { Owned::Text(whole_text) } else { Owned::Binary(whole_bin) };
        match delivery {
            Delivery::Whole => {
                let mut expected = controls;
                expected.push(message);
                expected.push(Owned::text("after"));
                prop_assert_eq!(got, expected);
            }
            _ => {
                let (ctrl, data): (Vec<Owned>, Vec<Owned>) = got.into_iter().partition(|e|
                    matches!(e, Owned::Ping(_) | Owned::Pong(_)));
                prop_assert_eq!(ctrl, controls);
                let message = match message {
                    Owned::Text(t) => Owned::TextPiece(t, true),
                    Owned::Binary(b) => Owned::BinaryPiece(b, true),
                    _ => unreachable!(),
                };
                prop_assert_eq!(
                    coalesce(data),
                    vec![message, Owned::TextPiece("after".into(), true)]
                );
            }
        }
    }
}

fn small_control() -> impl Strategy<Value = Msg> {
    prop_oneof![
        (0usize..=125, any::<u64>()).prop_map(|(l, s)| Msg::Ping(random_bytes(l, s))),
        (0usize..=125, any::<u64>()).prop_map(|(l, s)| Msg::Pong(random_bytes(l, s))),
    ]
}
