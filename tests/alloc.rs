//! Allocation counts on the hot paths, measured with a counting global allocator.
//!
//! This file is its own test binary, so the allocator affects nothing else. Only
//! allocations made by the measuring thread while a measurement is active are counted, and
//! everything runs from a single `#[test]` so that no other test shares the counter.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use ws_proto::{Config, Connection, Delivery, Event, Role};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    if MEASURING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns the number of allocations (including reallocations) it made.
fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    MEASURING.with(|m| m.set(true));
    let result = f();
    MEASURING.with(|m| m.set(false));
    (result, ALLOCATIONS.load(Ordering::SeqCst))
}

const MESSAGES: usize = 10_000;

/// `MESSAGES` single-frame messages, alternating binary and text, 0 to ~2 KiB, as the peer
/// of `receiver` sends them.
fn traffic(receiver: Role, seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed);
    let mut out = Vec::new();
    for i in 0..MESSAGES {
        let len = (rng.next_u64() % 2048) as usize;
        if i % 2 == 0 {
            let payload: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            out.extend(peer_frame(receiver, true, BINARY, &payload));
        } else {
            let text = "ü€a".repeat(len / 6 + 1);
            out.extend(peer_frame(receiver, true, TEXT, text.as_bytes()));
        }
    }
    out
}

/// Reads `input` in 4 000-byte pieces (not aligned with frames), echoes every message,
/// and writes all output after every read. Returns (messages received, bytes echoed).
fn echo_all(
    conn: &mut Connection,
    buf: &mut Vec<u8>,
    input: &[u8],
    use_read_buf: bool,
) -> (usize, usize) {
    let mut messages = 0;
    let mut echoed = 0;
    for chunk in input.chunks(4000) {
        if use_read_buf {
            let mut dst = conn.read_buf();
            dst[..chunk.len()].copy_from_slice(chunk);
            dst.commit(chunk.len());
        } else {
            conn.handle_bytes(chunk);
        }
        while let Some(event) = conn.poll_event(buf) {
            match event {
                Event::Text(text) => conn.send_text(text).unwrap(),
                Event::Binary(data) => conn.send_binary(data).unwrap(),
                other => panic!("unexpected {other:?}"),
            }
            messages += 1;
        }
        loop {
            let n = conn.poll_transmit().len();
            if n == 0 {
                break;
            }
            echoed += n;
            conn.poll_transmit().advance(n);
        }
    }
    (messages, echoed)
}

/// Reads `input` through `read_buf` in reads of at most 64 KiB (as much as each offer
/// takes), counting the messages.
fn read_large(conn: &mut Connection, buf: &mut Vec<u8>, input: &[u8]) -> usize {
    let mut messages = 0;
    let mut pos = 0;
    while pos < input.len() {
        let mut dst = conn.read_buf();
        let n = dst.len().min(65_536).min(input.len() - pos);
        dst[..n].copy_from_slice(&input[pos..pos + n]);
        dst.commit(n);
        pos += n;
        while let Some(event) = conn.poll_event(buf) {
            assert!(
                matches!(event, Event::Binary(_) | Event::Text(_)),
                "{event:?}"
            );
            messages += 1;
        }
    }
    messages
}

/// Fragmented messages: `count` messages of 8 fragments of 512 bytes, with a Ping between
/// two fragments.
fn fragmented_traffic(receiver: Role, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        let opcode = if i % 2 == 0 { BINARY } else { TEXT };
        for f in 0..8 {
            let op = if f == 0 { opcode } else { CONT };
            out.extend(peer_frame(
                receiver,
                f == 7,
                op,
                &[b'a' + (i % 26) as u8; 512],
            ));
            if f == 3 {
                out.extend(peer_frame(receiver, true, PING, b"ping"));
            }
        }
    }
    out
}

fn receive_fragmented(conn: &mut Connection, buf: &mut Vec<u8>, input: &[u8]) -> usize {
    let mut messages = 0;
    for chunk in input.chunks(3000) {
        let mut dst = conn.read_buf();
        dst[..chunk.len()].copy_from_slice(chunk);
        dst.commit(chunk.len());
        while let Some(event) = conn.poll_event(buf) {
            match event {
                Event::Text(t) => {
                    assert_eq!(t.len(), 8 * 512);
                    messages += 1;
                }
                Event::Binary(b) => {
                    assert_eq!(b.len(), 8 * 512);
                    messages += 1;
                }
                Event::BinaryPiece { fin, .. } | Event::TextPiece { fin, .. } => {
                    messages += usize::from(fin);
                }
                Event::Ping(p) => assert_eq!(p, b"ping"),
                other => panic!("unexpected {other:?}"),
            }
        }
        loop {
            let n = conn.poll_transmit().len();
            if n == 0 {
                break;
            }
            conn.poll_transmit().advance(n);
        }
    }
    messages
}

#[test]
fn hot_paths_do_not_allocate() {
    for role in [Role::Server, Role::Client] {
        for use_read_buf in [true, false] {
            let input = traffic(role, 42);
            let mut conn = conn(role, Config::default());
            let mut buf = Vec::new();
            // Warm-up: the same traffic pattern sizes every buffer.
            let (warm, _) = echo_all(&mut conn, &mut buf, &traffic(role, 42), use_read_buf);
            assert_eq!(warm, MESSAGES);

            let ((messages, echoed), allocations) =
                count(|| echo_all(&mut conn, &mut buf, &input, use_read_buf));
            let via = if use_read_buf {
                "read_buf/commit"
            } else {
                "handle_bytes"
            };
            println!(
                "{role:?}, {via}: {messages} messages received and echoed ({echoed} bytes out): {allocations} allocations"
            );
            assert_eq!(messages, MESSAGES);
            assert_eq!(allocations, 0, "{role:?} {via}");
        }
    }

    // Fragmented messages, the caller reusing one buffer.
    for delivery in [Delivery::Whole, Delivery::Streaming] {
        for role in [Role::Server, Role::Client] {
            const FRAGMENTED: usize = 1000;
            let mut config = Config::default();
            config.delivery = delivery;
            let mut conn = conn(role, config);
            let mut buf = Vec::new();
            let warm = fragmented_traffic(role, 4);
            assert_eq!(receive_fragmented(&mut conn, &mut buf, &warm), 4);
            let input = fragmented_traffic(role, FRAGMENTED);
            let (messages, allocations) = count(|| receive_fragmented(&mut conn, &mut buf, &input));
            println!(
                "{role:?}, {delivery:?}: {messages} messages of 8 fragments: {allocations} allocations ({:.3} per message)",
                allocations as f64 / messages as f64
            );
            assert_eq!(messages, FRAGMENTED);
            // At most one allocation per message, amortised.
            assert!(
                allocations <= FRAGMENTED,
                "{role:?} {delivery:?}: {allocations} allocations"
            );
        }
    }

    // Large messages read straight into the message buffer (`read_buf` offering the
    // frame's rest): the caller's buffer and the assembly buffer trade places, so steady
    // traffic allocates nothing.
    for role in [Role::Server, Role::Client] {
        let mut input = Vec::new();
        for i in 0..200usize {
            let len = 20_000 + (i % 7) * 9_000;
            if i % 2 == 0 {
                input.extend(peer_frame(role, true, BINARY, &vec![i as u8; len]));
            } else {
                let text = "é€a".repeat(len / 6);
                input.extend(peer_frame(role, true, TEXT, text.as_bytes()));
            }
        }
        let mut conn = conn(role, Config::default());
        let mut buf = Vec::new();
        assert_eq!(read_large(&mut conn, &mut buf, &input), 200);
        let (messages, allocations) = count(|| read_large(&mut conn, &mut buf, &input));
        println!(
            "{role:?}: {messages} messages of 20-74 KB read in place: {allocations} allocations"
        );
        assert_eq!(messages, 200);
        assert_eq!(allocations, 0, "{role:?} large messages");
    }

    // The counter itself works: a fresh connection's first message does allocate.
    let mut conn = conn(Role::Server, Config::default());
    let input = peer_frame(Role::Server, true, BINARY, &[1; 100]);
    let (_, first) = count(|| {
        conn.handle_bytes(&input);
        let mut buf = Vec::new();
        assert!(conn.poll_event(&mut buf).is_some());
    });
    println!("first message on a fresh connection: {first} allocations");
    assert!(first > 0, "the counting allocator counts");
}
