//! `Connection::heap_usage` against the bytes a counting allocator sees the connection
//! hold, with and without permessage-deflate: the estimate of zlib's state must be close.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::*;
use ws_proto::{Config, Connection, Negotiated, Role, Timestamp};

/// Live heap bytes allocated by measuring threads.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is
// updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same layout as given to us.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

std::thread_local! {
    /// This thread is measuring: its allocations count (other test threads' do not).
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn track(bytes: isize) {
    if COUNTING.with(|c| c.get()) {
        LIVE.fetch_add(bytes, Ordering::SeqCst);
    }
}

/// The counter is global: tests that measure take turns (the harness runs them in threads).
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A server with the given negotiation, after one 4 KiB text message each way; returns
/// (bytes the allocator saw it hold, `heap_usage()`).
fn measure(negotiated: Negotiated) -> (usize, usize) {
    measure_with(negotiated, Config::default(), 1, false)
}

/// Like [`measure`], with `config` on both ends, `messages` messages each way, and the
/// buffers shrunk at the end (`idle`) as `Config::idle_shrink` does.
fn measure_with(
    negotiated: Negotiated,
    config: Config,
    messages: usize,
    idle: bool,
) -> (usize, usize) {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    COUNTING.with(|c| c.set(true));
    let result = measure_counted(negotiated, config, messages, idle);
    COUNTING.with(|c| c.set(false));
    result
}

fn measure_counted(
    negotiated: Negotiated,
    config: Config,
    messages: usize,
    idle: bool,
) -> (usize, usize) {
    // The peer first, so that its memory is not counted.
    let mut client = Connection::upgraded_with_rng(
        Role::Client,
        negotiated.clone(),
        config.clone(),
        Timestamp::ZERO,
        Box::new(XorShift(1)),
    );
    let text = "a chat line, with some words that repeat: hello hello ".repeat(80);
    for _ in 0..messages {
        client.send_text(&text).unwrap();
    }
    let wire = drain(&mut client);

    let before = live();
    let mut server = Connection::upgraded(Role::Server, negotiated, config, Timestamp::ZERO);
    server.handle_bytes(&wire);
    let mut buf = Vec::with_capacity(8 << 10);
    let buf_bytes = buf.capacity() as isize;
    while server.poll_event(&mut buf).is_some() {}
    let mut out = Vec::new();
    for _ in 0..messages {
        server.send_text(&text).unwrap();
        out.extend(drain(&mut server));
    }
    assert!(!out.is_empty());
    if idle {
        server.shrink_buffers();
    }
    let held = live() - before - buf_bytes - out.capacity() as isize;
    // The struct itself is on the stack here; only what it points to counts.
    (held.max(0) as usize, server.heap_usage())
}

#[test]
fn heap_usage_matches_the_allocator_with_and_without_deflate() {
    let (plain_held, plain_reported) = measure(Negotiated::new());
    assert!(
        plain_reported <= plain_held && plain_held <= plain_reported + 4096,
        "without deflate: held {plain_held}, reported {plain_reported}"
    );

    let params = ws_proto::deflate::accept(
        &Config::default().deflate,
        &[ws_proto::deflate::offer(&Config::default().deflate)],
    )
    .unwrap()
    .0;
    let (held, reported) = measure(Negotiated::new().with_deflate(params));
    assert!(held > 100 << 10, "zlib's state was allocated: {held}");
    let ratio = reported as f64 / held as f64;
    assert!(
        (0.75..=1.25).contains(&ratio),
        "with deflate: held {held}, reported {reported} ({ratio:.2})"
    );
    println!("deflate: held {held} B, heap_usage {reported} B");
}

#[test]
fn the_deflate_estimate_follows_the_negotiated_windows() {
    // Window bits of the server's compressor and of the client's (what the server
    // inflates); 8 bits means the server sends uncompressed and holds no compressor.
    for (server_bits, client_bits) in [(15u8, 15u8), (8, 15), (9, 9), (12, 10)] {
        let params = ws_proto::DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        let (held, reported) = measure(Negotiated::new().with_deflate(params));
        let ratio = reported as f64 / held as f64;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "windows {server_bits}/{client_bits}: held {held}, reported {reported}"
        );
    }
}

#[test]
fn released_and_stateless_deflate_hold_little_and_say_so() {
    use ws_proto::{DeflateConfig, DeflateMemory, DeflateParams};
    let params = |nct: bool, bits: u8| DeflateParams {
        server_no_context_takeover: nct,
        client_no_context_takeover: nct,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    };
    let release = Config::default().with_deflate(
        DeflateConfig::default()
            .with_memory(DeflateMemory::Release)
            .with_server_max_window_bits(13)
            .with_client_max_window_bits(13),
    );
    // (setting, negotiated, most bytes an idle connection may hold)
    let cases = [
        (
            "no context takeover",
            Config::default(),
            params(true, 15),
            4 << 10,
        ),
        (
            "Release, 13-bit windows",
            release.clone(),
            params(false, 13),
            64 << 10,
        ),
        (
            "Release, 15-bit windows",
            release,
            params(false, 15),
            80 << 10,
        ),
    ];
    for (name, config, params, most) in cases {
        // 20 messages of 4 KiB each way fill a 13-bit history.
        let (held, reported) =
            measure_with(Negotiated::new().with_deflate(params), config, 20, true);
        assert!(
            held <= most && reported <= held && held <= reported + 1024,
            "{name}: held {held}, reported {reported}"
        );
        assert!(
            held > 1 << 12 || name == "no context takeover",
            "{name}: history kept: {held}"
        );
        println!("{name}: idle {held} B, heap_usage {reported} B");
    }
}
