//! Reading large payloads straight into the message buffer (`read_buf` while a large frame
//! is in progress): what `read_buf` offers, that messages still arrive intact and in order,
//! that UTF-8 still fails fast, and that memory follows the bytes received, not the length
//! a frame declares.

mod common;

use common::*;
use proptest::prelude::*;
use ws_proto::{CloseCode, Config, Connection, ProtocolError, Role};

/// A frame header is at most this long; `read_buf` offers exactly this after a large frame.
const HEADER_READ: usize = 14;

/// Feeds `bytes` through `read_buf`/`ReadBuf::commit`, filling each offered region as far as
/// `max_read` allows, and records every offer's length.
fn read_all(conn: &mut Connection, bytes: &[u8], max_read: usize) -> (Vec<Owned>, Vec<usize>) {
    let mut events_out = Vec::new();
    let mut offers = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let mut buf = conn.read_buf();
        assert!(!buf.is_empty(), "read_buf offered no room");
        offers.push(buf.len());
        let n = buf.len().min(max_read).min(bytes.len() - pos);
        buf[..n].copy_from_slice(&bytes[pos..pos + n]);
        buf.commit(n);
        pos += n;
        events_out.extend(events(conn));
    }
    events_out.extend(events(conn));
    (events_out, offers)
}

#[test]
fn the_rest_of_a_large_frame_is_offered_exactly_then_one_header() {
    let mut config = Config::default();
    config.read_chunk = 16 << 10;
    let mut server = conn(Role::Server, config);
    let payload = random_bytes(200_000, 7);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    let header_len = frame.len() - payload.len();

    // The first read takes the header and 1 000 payload bytes.
    let first = header_len + 1000;
    let mut buf = server.read_buf();
    assert!(buf.len() >= 16 << 10);
    buf[..first].copy_from_slice(&frame[..first]);
    buf.commit(first);
    assert!(events(&mut server).is_empty());

    // From then on every offer lies within the frame's payload and they end exactly at
    // its last byte, growing with the message.
    let mut pos = first;
    let mut offers = Vec::new();
    while pos < frame.len() {
        let mut buf = server.read_buf();
        assert!(buf.len() <= frame.len() - pos, "offer past the frame's end");
        offers.push(buf.len());
        let n = buf.len();
        buf.copy_from_slice(&frame[pos..pos + n]);
        buf.commit(n);
        pos += n;
        if pos < frame.len() {
            assert!(events(&mut server).is_empty());
        }
    }
    assert!(events(&mut server) == [Owned::Binary(payload)]);
    // Growing with the message; the last offer is whatever remained.
    let growing = &offers[..offers.len() - 1];
    assert!(growing.windows(2).all(|w| w[0] <= w[1]), "{offers:?}");
    assert_eq!(offers[0], 16 << 10);
    // Next: one header's worth, then ordinary reads again.
    assert_eq!(server.read_buf().len(), HEADER_READ);
}

#[test]
fn small_frames_keep_ordinary_reads() {
    let mut config = Config::default();
    config.read_chunk = 4096;
    let mut server = conn(Role::Server, config);
    // A 6 000-byte frame: its rest is below the direct-read threshold.
    let payload = random_bytes(6000, 3);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    let (got, offers) = read_all(&mut server, &frame, 100);
    assert!(got == [Owned::Binary(payload)]);
    assert!(offers.iter().all(|&n| n >= 4096), "{offers:?}");
}

#[test]
fn streaming_messages_are_not_read_directly() {
    // Streaming delivery hands out pieces from the read buffer: offers stay read_chunk.
    let mut config = streaming();
    config.read_chunk = 4096;
    let mut server = conn(Role::Server, config);
    let payload = random_bytes(100_000, 5);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    let (got, offers) = read_all(&mut server, &frame, usize::MAX);
    assert!(coalesce(got) == [Owned::BinaryPiece(payload, true)]);
    assert!(offers.iter().all(|&n| n >= 4096), "{offers:?}");
}

#[test]
fn both_roles_and_every_read_size_give_the_same_messages() {
    for role in [Role::Server, Role::Client] {
        let text: String = "aé€😀".repeat(9000); // 90 000 bytes, code points of 1-4 bytes
        let binary = random_bytes(70_001, 11);
        let mut wire = Vec::new();
        wire.extend(peer_frame(role, true, TEXT, text.as_bytes()));
        wire.extend(peer_frame(role, true, BINARY, b"small"));
        wire.extend(peer_frame(role, true, BINARY, &binary));
        wire.extend(peer_frame(role, true, PING, b"p"));
        wire.extend(peer_frame(role, true, TEXT, text.as_bytes()));
        let expected = [
            Owned::Text(text.clone()),
            Owned::binary(b"small"),
            Owned::Binary(binary.clone()),
            Owned::Ping(b"p".to_vec()),
            Owned::Text(text.clone()),
        ];
        for max_read in [1, 7, 13, 4096, 9000, 65_536, usize::MAX] {
            let mut c = conn(role, Config::default());
            let (got, _) = read_all(&mut c, &wire, max_read);
            assert!(
                got == expected,
                "{role:?} reads of {max_read}: {} events",
                got.len()
            );
        }
    }
}

#[test]
fn fragments_read_directly_with_control_frames_between() {
    let role = Role::Server;
    let a = random_bytes(40_000, 1);
    let b = random_bytes(30_000, 2);
    let c = random_bytes(20_000, 3);
    let mut wire = Vec::new();
    wire.extend(peer_frame(role, false, BINARY, &a));
    wire.extend(peer_frame(role, true, PING, b"between"));
    wire.extend(peer_frame(role, false, CONT, &b));
    wire.extend(peer_frame(role, true, CONT, &c));
    let whole: Vec<u8> = [a, b, c].concat();
    for max_read in [5000, 16_384, usize::MAX] {
        let mut s = conn(role, Config::default());
        let (got, _) = read_all(&mut s, &wire, max_read);
        let expected = [
            Owned::Ping(b"between".to_vec()),
            Owned::Binary(whole.clone()),
        ];
        assert!(got == expected, "reads of {max_read}: {} events", got.len());
    }
}

#[test]
fn invalid_utf8_in_a_directly_read_part_fails_at_once() {
    let mut text = "é".repeat(50_000).into_bytes(); // 100 000 bytes
    text[30_000] = 0xFF;
    let frame = peer_frame(Role::Server, true, TEXT, &text);
    let mut s = conn(Role::Server, Config::default());
    // Header and a little payload, then direct reads: the failure shows in the read that
    // carries the bad byte, long before the frame ends.
    let mut pos = 0;
    let mut failed_at = None;
    while pos < frame.len() && failed_at.is_none() {
        let mut buf = s.read_buf();
        let n = buf.len().min(frame.len() - pos).min(20_000);
        buf[..n].copy_from_slice(&frame[pos..pos + n]);
        buf.commit(n);
        pos += n;
        for event in events(&mut s) {
            assert_eq!(event, Owned::Error(ProtocolError::InvalidUtf8));
            failed_at = Some(pos);
        }
    }
    let failed_at = failed_at.expect("no error");
    assert!(failed_at <= 40_100, "failed only at {failed_at}");
    let close = decode(&drain(&mut s));
    assert_eq!(close.len(), 1);
    assert_eq!(
        close[0].payload[..2],
        CloseCode::INVALID_PAYLOAD.0.to_be_bytes()
    );
}

#[test]
fn memory_follows_bytes_received_not_the_declared_length() {
    let mut config = Config::default();
    config.max_frame_size = 64 << 20;
    config.max_message_size = 64 << 20;
    let mut s = conn(Role::Server, config);
    // Declares 64 MiB, sends 200 KiB.
    let mut head = header(true, 0, BINARY, Some(PEER_KEY), 64 << 20, LenEnc::Minimal);
    head.extend(vec![0u8; 1000]);
    let body = vec![0u8; 200_000];
    let (got, _) = read_all(&mut s, &[head, body].concat(), usize::MAX);
    assert!(got.is_empty());
    assert!(
        s.heap_usage() < 1 << 20,
        "{} bytes held after 200 KB of a 64 MiB frame",
        s.heap_usage()
    );
}

#[test]
fn a_direct_offer_dropped_uncommitted_reports_nothing_and_loses_nothing() {
    // A direct offer (into the message buffer), filled with garbage and dropped without a
    // commit, as a read that would block leaves it; then the rest arrives by handle_bytes.
    // (Calling handle_bytes while the offer is held does not compile: the guard borrows
    // the connection.)
    let payload = random_bytes(50_000, 9);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    let mut s = conn(Role::Server, Config::default());
    let first = 10_000;
    let mut buf = s.read_buf();
    buf[..first].copy_from_slice(&frame[..first]);
    buf.commit(first);
    assert_eq!(events(&mut s), []); // the frame's header and first bytes taken in
    let mut offer = s.read_buf();
    assert!(offer.len() >= 8 << 10, "a direct offer: {}", offer.len());
    offer.fill(0xEE);
    drop(offer);
    assert_eq!(s.buffered_input(), 0);
    s.handle_bytes(&frame[first..]);
    assert!(events(&mut s) == [Owned::Binary(payload)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Large and small messages, fragmented or not, with control frames between fragments,
    /// read in any sizes through read_buf: the same events as feeding everything at once.
    #[test]
    fn read_buf_matches_handle_bytes(
        role in prop_oneof![Just(Role::Server), Just(Role::Client)],
        sizes in prop::collection::vec(0usize..80_000, 1..6),
        fragments in 1usize..4,
        read_sizes in prop::collection::vec(1usize..70_000, 1..5),
        seed in any::<u64>(),
    ) {
        let mut wire = Vec::new();
        for (i, &len) in sizes.iter().enumerate() {
            let payload = random_bytes(len, seed.wrapping_add(i as u64));
            let parts = fragments.min(len.max(1));
            let step = len.div_ceil(parts).max(1);
            let chunks: Vec<&[u8]> = if len == 0 { vec![&[][..]] } else { payload.chunks(step).collect() };
            for (j, part) in chunks.iter().enumerate() {
                let op = if j == 0 { BINARY } else { CONT };
                wire.extend(peer_frame(role, j + 1 == chunks.len(), op, part));
                if j == 0 && chunks.len() > 1 {
                    wire.extend(peer_frame(role, true, PONG, b"x"));
                }
            }
        }
        let mut whole = conn(role, Config::default());
        let expected = feed(&mut whole, &wire);
        let mut c = conn(role, Config::default());
        let mut got = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < wire.len() {
            let mut buf = c.read_buf();
            prop_assert!(!buf.is_empty());
            let n = buf.len().min(read_sizes[i % read_sizes.len()]).min(wire.len() - pos);
            buf[..n].copy_from_slice(&wire[pos..pos + n]);
            buf.commit(n);
            pos += n;
            i += 1;
            got.extend(events(&mut c));
        }
        prop_assert_eq!(got.len(), expected.len());
        prop_assert!(got == expected);
    }
}
