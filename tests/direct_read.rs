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

/// Feeds a large frame's header and 1 000 payload bytes, then fills every offer from
/// `wire` until the frame's last byte is in; returns the offers. Every offer but the last
/// lies within the frame's payload, growing with the message; the last is the frame's rest
/// plus one header's worth.
fn offers_for_a_large_frame(server: &mut Connection, wire: &[u8], frame_len: usize) -> Vec<usize> {
    let first = wire.len().min(frame_len - 200_000 + 1000);
    let mut buf = server.read_buf();
    assert!(buf.len() >= 16 << 10);
    buf[..first].copy_from_slice(&wire[..first]);
    buf.commit(first);
    assert!(events(server).is_empty());
    let mut pos = first;
    let mut offers = Vec::new();
    while pos < frame_len {
        let mut buf = server.read_buf();
        offers.push(buf.len());
        assert!(
            buf.len() <= frame_len - pos || buf.len() == frame_len - pos + HEADER_READ,
            "offer past the frame's end: {} at {pos} of {frame_len}",
            buf.len()
        );
        let n = buf.len().min(wire.len() - pos);
        buf[..n].copy_from_slice(&wire[pos..pos + n]);
        buf.commit(n);
        pos += n;
        if pos < frame_len {
            assert!(events(server).is_empty());
        }
    }
    let growing = &offers[..offers.len() - 1];
    assert!(growing.windows(2).all(|w| w[0] <= w[1]), "{offers:?}");
    assert_eq!(offers[0], 16 << 10);
    offers
}

#[test]
fn the_rest_of_a_large_frame_is_offered_with_the_next_header() {
    let mut config = Config::default();
    config.read_chunk = 16 << 10;
    let mut server = conn(Role::Server, config);
    let payload = random_bytes(200_000, 7);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    // Another large frame follows: its header comes with the first frame's last bytes.
    let next = random_bytes(10_000, 8);
    let next_frame = peer_frame(Role::Server, true, BINARY, &next);
    let wire = [frame.clone(), next_frame.clone()].concat();
    let offers = offers_for_a_large_frame(&mut server, &wire, frame.len());
    let _ = offers;
    assert!(events(&mut server) == [Owned::Binary(payload)]);
    // The next frame's header is in (with 6 payload bytes: its header is 8 bytes long): the
    // next offer is the rest of its payload and one header more, straight into place.
    let header_len = next_frame.len() - next.len();
    assert_eq!(header_len, 8);
    let mut buf = server.read_buf();
    assert_eq!(
        buf.len(),
        next.len() - (HEADER_READ - header_len) + HEADER_READ
    );
    let from = frame.len() + HEADER_READ;
    let rest = &wire[from..];
    buf[..rest.len()].copy_from_slice(rest);
    buf.commit(rest.len());
    assert!(events(&mut server) == [Owned::Binary(next)]);
    // Nothing came after it: one header's worth next, then ordinary reads again.
    assert_eq!(server.read_buf().len(), HEADER_READ);
}

#[test]
fn a_header_that_did_not_come_with_the_frame_is_read_alone() {
    let mut server = conn(Role::Server, Config::default());
    let payload = random_bytes(200_000, 7);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    let offers = offers_for_a_large_frame(&mut server, &frame, frame.len());
    let pos: usize =
        frame.len() - 200_000 + 1000 + offers[..offers.len() - 1].iter().sum::<usize>();
    assert_eq!(offers.last(), Some(&(frame.len() - pos + HEADER_READ)));
    assert!(events(&mut server) == [Owned::Binary(payload)]);
    // Part of a header arrives: the next offer completes one header's worth.
    let mut buf = server.read_buf();
    assert_eq!(buf.len(), HEADER_READ);
    buf[..3].copy_from_slice(&[0x82, 0xFE, 0x40]);
    buf.commit(3);
    assert!(events(&mut server).is_empty());
    assert_eq!(server.read_buf().len(), HEADER_READ - 3);
}

#[test]
fn small_frames_keep_ordinary_reads() {
    let mut server = conn(Role::Server, Config::default());
    // A 6 000-byte frame: below the direct-read threshold (8 KiB, or read_chunk if smaller).
    let payload = random_bytes(6000, 3);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    let (got, offers) = read_all(&mut server, &frame, 100);
    assert!(got == [Owned::Binary(payload)]);
    assert!(offers.iter().all(|&n| n >= 16 << 10), "{offers:?}");
}

#[test]
fn a_frame_larger_than_read_chunk_is_read_in_place_even_under_8_kib() {
    let mut config = Config::default();
    config.read_chunk = 4096;
    let mut server = conn(Role::Server, config);
    let payload = random_bytes(6000, 3);
    let frame = peer_frame(Role::Server, true, BINARY, &payload);
    let (got, offers) = read_all(&mut server, &frame, 1000);
    assert!(got == [Owned::Binary(payload)]);
    // After the first read (header and 992 payload bytes), offers shrink with the frame's
    // rest: it is read into place, the last offer with one header's worth after it.
    let header_len = frame.len() - 6000;
    assert!(offers[0] >= 4096, "{offers:?}");
    assert_eq!(offers[1], 4096, "{offers:?}");
    let last = *offers.last().unwrap();
    let before_last = 1000 * (offers.len() - 1);
    assert_eq!(last, frame.len() - before_last + HEADER_READ, "{offers:?}");
    assert!(before_last > header_len);
}

/// The most a socket read returns here, as a read into a 64 KiB buffer would.
const SOCKET_READ: usize = 64 << 10;

/// `count` messages of `len` bytes in a row, read through `read_buf` with one event buffer
/// reused (as a driver does), every offer filled as far as the input and `SOCKET_READ`
/// allow. Returns the reads each message took (counted until its event) and checks every
/// payload.
fn reads_per_message(config: Config, len: usize, count: usize) -> (Vec<usize>, usize) {
    let mut server = conn(Role::Server, config);
    let payloads: Vec<Vec<u8>> = (0..count).map(|i| random_bytes(len, i as u64)).collect();
    let wire: Vec<u8> = payloads
        .iter()
        .flat_map(|p| peer_frame(Role::Server, true, BINARY, p))
        .collect();
    let mut event_buf = Vec::new();
    let (mut pos, mut reads, mut got) = (0, 0, 0);
    let mut per_message = Vec::new();
    while got < count {
        let mut buf = server.read_buf();
        let n = buf.len().min(SOCKET_READ).min(wire.len() - pos);
        buf[..n].copy_from_slice(&wire[pos..pos + n]);
        buf.commit(n);
        pos += n;
        reads += 1;
        while let Some(event) = server.poll_event(&mut event_buf) {
            let ws_proto::Event::Binary(data) = event else {
                panic!("unexpected {event:?}")
            };
            assert!(data == payloads[got], "message {got} of {len} B");
            got += 1;
            per_message.push(reads);
            reads = 0;
        }
    }
    (per_message, wire.len())
}

#[test]
fn large_messages_take_the_fewest_reads_whatever_their_size() {
    // From the direct-read threshold (8 KiB, or read_chunk if smaller) up, a message in a
    // stream of them is read straight into place with the next header, so once the first
    // reads are past, each takes ceil(frame length / read size) reads: no extra read for a
    // header, nor for a tail that missed a read.
    for read_chunk in [Config::default().read_chunk, 64 << 10, 4096] {
        let mut config = Config::default();
        config.read_chunk = read_chunk;
        let mut sizes = vec![8 << 10, 100_000, 200_000];
        for base in [4096, 16 << 10, 64 << 10] {
            sizes.extend([
                base - 14,
                base - 8,
                base - 1,
                base,
                base + 1,
                base + 8,
                base + 14,
            ]);
        }
        for len in sizes.into_iter().filter(|&l| l >= read_chunk.min(8 << 10)) {
            // Past the first reads, which may take in several messages whole.
            let count = 4 + (2 * SOCKET_READ).div_ceil(len);
            let (reads, _) = reads_per_message(config.clone(), len, count);
            let frame_len = peer_frame(Role::Server, true, BINARY, &vec![0; len]).len();
            let fewest = frame_len.div_ceil(SOCKET_READ);
            assert!(
                reads[count - 3..].iter().all(|&r| r == fewest),
                "read_chunk {read_chunk}, {len} B: reads {reads:?}, fewest {fewest}"
            );
        }
    }
}

#[test]
fn small_messages_share_reads() {
    for len in [0, 16, 1000, 6000, (8 << 10) - 1] {
        let (reads, wire_len) = reads_per_message(Config::default(), len, 200);
        let total: usize = reads.iter().sum();
        assert!(
            total <= wire_len.div_ceil(16 << 10),
            "{len} B: {total} reads for {wire_len} bytes"
        );
    }
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
