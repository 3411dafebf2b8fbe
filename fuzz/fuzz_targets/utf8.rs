//! The crate's UTF-8 validator (private) through the connection: a masked text message
//! made of the fuzzer's bytes, split into fuzzer-chosen fragments and fed in
//! fuzzer-chosen chunks to a server. The outcome must agree with `core::str::from_utf8` on
//! the whole message: `Text` with exactly those bytes, or `Error(InvalidUtf8)`; in streaming
//! delivery the pieces, concatenated, are the message (valid) or a prefix of its valid
//! prefix (invalid, before the error). With `big`, the text is repeated to over 20 KB, so
//! that reading through `read_buf` takes the path that reads payload straight into the
//! message buffer, whose checked text is converted without a second validation.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::{Config, Connection, Delivery, ProtocolError, Role};
use ws_proto_fuzz::{Bytes, Ev, Harness, LenEnc, XorShift, encode_header, push_payload};

#[derive(Arbitrary, Debug)]
struct Input {
    streaming: bool,
    /// Fragment sizes, in order; the rest of the message goes in a last fragment.
    fragments: Vec<u8>,
    /// Chunk sizes for feeding, cycled (0 counts as 1).
    chunks: Vec<u8>,
    /// Feed through `read_buf` / `ReadBuf::commit` instead of `handle_bytes`.
    use_read: bool,
    /// Put a Ping between fragments.
    ping_between: bool,
    key: [u8; 4],
    /// Repeat the text to over 20 000 bytes.
    big: bool,
    text: Bytes,
}

fuzz_target!(|input: Input| {
    let repeated: Vec<u8>;
    let text: &[u8] = if input.big && !input.text.is_empty() {
        repeated = input.text.repeat(20_000 / input.text.len() + 1);
        &repeated
    } else {
        &input.text
    };
    // The fragments.
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut pos = 0;
    for &size in &input.fragments {
        // Fragments of a big text are big too.
        let size = if input.big {
            usize::from(size) * 97
        } else {
            usize::from(size)
        };
        let end = (pos + size).min(text.len());
        pieces.push(&text[pos..end]);
        pos = end;
    }
    pieces.push(&text[pos..]);
    let mut wire = Vec::new();
    let count = pieces.len();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { 1 } else { 0 };
        let fin = i + 1 == count;
        encode_header(
            &mut wire,
            fin,
            0,
            opcode,
            Some(input.key),
            piece.len() as u64,
            LenEnc::Minimal,
        );
        push_payload(&mut wire, piece, Some(input.key));
        if input.ping_between && !fin {
            encode_header(&mut wire, true, 0, 9, Some(input.key), 1, LenEnc::Minimal);
            push_payload(&mut wire, b"p", Some(input.key));
        }
    }

    let mut config = Config::default();
    config.delivery = if input.streaming {
        Delivery::Streaming
    } else {
        Delivery::Whole
    };
    config.read_chunk = 7;
    let conn = Connection::upgraded_with_rng(
        Role::Server,
        ws_proto::Negotiated::new(),
        config,
        ws_proto::Timestamp::ZERO,
        Box::new(XorShift::new(1)),
    );
    let mut h = Harness::new(conn, false);
    let mut pos = 0;
    let mut i = 0;
    while pos < wire.len() {
        let size = input
            .chunks
            .get(i % input.chunks.len().max(1))
            .copied()
            .unwrap_or(255)
            .max(1);
        let size = if input.big {
            usize::from(size) * 131
        } else {
            usize::from(size)
        };
        let end = (pos + size).min(wire.len());
        if input.use_read {
            h.read(&wire[pos..end]);
        } else {
            h.feed(&wire[pos..end]);
        }
        pos = end;
        i += 1;
    }
    h.finish();

    let events: Vec<Ev> = h
        .events
        .iter()
        .filter(|e| !matches!(e, Ev::Ping(_)))
        .cloned()
        .collect();
    let expected = core::str::from_utf8(text);
    if !input.streaming {
        match expected {
            Ok(s) => assert_eq!(events, [Ev::Text(s.to_owned())]),
            Err(_) => assert_eq!(events, [Ev::Error(ProtocolError::InvalidUtf8)]),
        }
        return;
    }
    let mut joined = Vec::new();
    let (last, before) = events.split_last().expect("no event for a whole message");
    for e in before {
        match e {
            Ev::TextPiece(t, false) => joined.extend_from_slice(t.as_bytes()),
            other => panic!("unexpected {other:?} before the end: {events:?}"),
        }
    }
    match expected {
        Ok(_) => {
            let Ev::TextPiece(t, true) = last else {
                panic!("valid text ended with {last:?}")
            };
            joined.extend_from_slice(t.as_bytes());
            assert_eq!(joined, text, "streamed pieces differ from the message");
        }
        Err(e) => {
            assert_eq!(last, &Ev::Error(ProtocolError::InvalidUtf8), "{events:?}");
            let valid = &text[..e.valid_up_to()];
            assert!(
                valid.starts_with(&joined),
                "pieces are not a prefix of the valid prefix"
            );
        }
    }
});
