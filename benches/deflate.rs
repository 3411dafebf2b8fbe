//! permessage-deflate: compression ratio, throughput and memory per connection.
//!
//! `cargo bench --bench deflate` prints, for a generated chat-style text corpus (JSON
//! messages made of English words, deterministic), the bytes on the wire with and without
//! compression, the time to send and receive the corpus through a client/server pair in
//! memory, and the heap each direction's DEFLATE state takes (a counting allocator).
//!
//! Two switches serve `benches/deflate-peers/run.sh` (the comparison with Python websockets
//! and Node ws): `WS_DEFLATE_CORPUS_OUT=path` writes the corpus to `path`, one message a
//! line; `WS_DEFLATE_PEERS=1` replaces the tables with one JSON line per setting, with the
//! send and receive times apart (see `peers`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use ws_proto::{
    Accept, ClientRequest, Config, Connection, DeflateConfig, DeflateMemory, DeflateParams, Event,
    Negotiated, PreparedMessage, Rng, Role, Timestamp,
};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocation calls (alloc and realloc), for the broadcast table.
static CALLS: AtomicIsize = AtomicIsize::new(0);
/// Bytes ever allocated.
static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        CALLS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(
            (new_size as isize - layout.size() as isize).max(0),
            Ordering::Relaxed,
        );
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Seq(u64);
impl Rng for Seq {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.0 >> 56) as u8;
        }
    }
}

const WORDS: &[&str] = &[
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world", "message",
    "server", "client", "socket", "frame", "deflate", "window", "context", "price", "update",
    "symbol", "order", "chat", "room", "join", "leave", "today", "great",
];

/// 10 000 chat messages, 60–300 bytes each.
fn corpus() -> Vec<String> {
    let mut rng = Seq(42);
    let mut next = |n: usize| {
        let mut b = [0u8; 8];
        rng.fill(&mut b);
        (u64::from_le_bytes(b) % n as u64) as usize
    };
    (0..10_000)
        .map(|i| {
            let words: Vec<&str> = (0..5 + next(40))
                .map(|_| WORDS[next(WORDS.len())])
                .collect();
            format!(
                r#"{{"id":{i},"user":"user{}","room":"room{}","ts":{},"text":"{}"}}"#,
                next(50),
                next(5),
                1_700_000_000 + i * 7,
                words.join(" ")
            )
        })
        .collect()
}

fn pair(config: Config) -> (Connection, Connection) {
    let request = ClientRequest::new("ws://h/").unwrap();
    let mut client = Connection::client_with_rng(
        request,
        config.clone(),
        ws_proto::Timestamp::ZERO,
        Box::new(Seq(1)),
    )
    .unwrap();
    let mut server = Connection::server(config, ws_proto::Timestamp::ZERO);
    move_bytes(&mut client, &mut server);
    let mut buf = Vec::new();
    while let Some(e) = server.poll_event(&mut buf) {
        if let Event::Request(_) = e {
            server.accept(&Accept::default()).unwrap();
        }
    }
    move_bytes(&mut server, &mut client);
    while client.poll_event(&mut buf).is_some() {}
    (client, server)
}

fn move_bytes(from: &mut Connection, to: &mut Connection) -> usize {
    let out = from.poll_transmit();
    let n = out.len();
    to.handle_bytes(&out);
    out.advance(n);
    n
}

/// Sends the corpus server → client; returns (wire bytes, elapsed).
fn run(config: &Config, corpus: &[String]) -> (usize, Duration) {
    let (mut client, mut server) = pair(config.clone());
    let mut buf = Vec::new();
    let (mut wire, mut received) = (0, 0);
    let start = Instant::now();
    for batch in corpus.chunks(100) {
        for m in batch {
            server.send_text(m).unwrap();
        }
        wire += move_bytes(&mut server, &mut client);
        while let Some(e) = client.poll_event(&mut buf) {
            if let Event::Text(t) = e {
                received += t.len();
            }
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(received, corpus.iter().map(String::len).sum::<usize>());
    (wire, elapsed)
}

fn with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::default();
    f(&mut c);
    c
}

/// Heap held by a connected client/server pair after one message each way: both ends, all
/// buffers, not counting the event buffer used to drain them.
fn pair_heap(config: &Config, corpus: &[String]) -> isize {
    let before = LIVE.load(Ordering::Relaxed);
    let (mut client, mut server) = pair(config.clone());
    client.send_text(&corpus[0]).unwrap();
    server.send_text(&corpus[1]).unwrap();
    move_bytes(&mut client, &mut server);
    move_bytes(&mut server, &mut client);
    let mut buf = Vec::new();
    while client.poll_event(&mut buf).is_some() {}
    while server.poll_event(&mut buf).is_some() {}
    LIVE.load(Ordering::Relaxed) - before - buf.capacity() as isize
}

fn main() {
    let corpus = corpus();
    if let Some(path) = std::env::var_os("WS_DEFLATE_CORPUS_OUT") {
        // The messages are JSON without newlines, so a line each is unambiguous.
        assert!(corpus.iter().all(|m| !m.contains('\n')));
        std::fs::write(path, corpus.join("\n") + "\n").unwrap();
    }
    if std::env::var_os("WS_DEFLATE_PEERS").is_some() {
        return peers(&corpus);
    }
    let total: usize = corpus.iter().map(String::len).sum();
    println!(
        "corpus: {} messages, {} bytes of JSON text",
        corpus.len(),
        total
    );
    println!(
        "{:<44} {:>10} {:>7} {:>10}",
        "server → client, median of 5", "wire", "ratio", "MB/s"
    );
    let cases = [
        ("no compression", with(|c| c.deflate.enabled = false)),
        (
            "deflate (default: level 1, 15-bit, takeover)",
            Config::default(),
        ),
        (
            "deflate, 15-bit, no context takeover",
            with(|c| {
                c.deflate.server_no_context_takeover = true;
                c.deflate.client_no_context_takeover = true;
            }),
        ),
        (
            "deflate, 15-bit, no context takeover, Release",
            with(|c| {
                c.deflate.server_no_context_takeover = true;
                c.deflate.client_no_context_takeover = true;
                c.deflate.memory = DeflateMemory::Release;
            }),
        ),
        (
            "deflate, 9-bit windows, context takeover",
            with(|c| {
                c.deflate.server_max_window_bits = 9;
                c.deflate.client_max_window_bits = 9;
            }),
        ),
        (
            "deflate, 15-bit, takeover, Release",
            with(|c| c.deflate.memory = DeflateMemory::Release),
        ),
        ("recommended: Release, 13-bit windows", recommended()),
        (
            "Release, 12-bit windows",
            with(|c| {
                c.deflate = recommended()
                    .deflate
                    .with_server_max_window_bits(12)
                    .with_client_max_window_bits(12)
            }),
        ),
        (
            "deflate, 15-bit, memLevel 1",
            with(|c| c.deflate.mem_level = 1),
        ),
        ("deflate, level 6", with(|c| c.deflate.level = 6)),
        ("deflate, level 3", with(|c| c.deflate.level = 3)),
        ("deflate, level 4", with(|c| c.deflate.level = 4)),
    ];
    for (name, config) in &cases {
        let mut runs: Vec<(usize, Duration)> = (0..5).map(|_| run(config, &corpus)).collect();
        runs.sort_by_key(|r| r.1);
        let (wire, time) = runs[2];
        println!(
            "{name:<44} {wire:>10} {:>6.2}x {:>10.1}",
            total as f64 / wire as f64,
            total as f64 / time.as_secs_f64() / 1e6
        );
    }

    println!(
        "\nheap per end: after one message each way (all buffers); idle: after 1000 each way,"
    );
    println!("then Connection::shrink_buffers (what Config::idle_shrink does)");
    println!(
        "{:<44} {:>12} {:>12} {:>14}",
        "", "one message", "idle", "heap_usage()"
    );
    for (name, config) in &cases[..8] {
        let live = pair_heap(config, &corpus);
        let (idle, reported) = idle_heap(config, &corpus);
        println!(
            "{name:<44} {:>8} KiB {:>8} B {:>12} B",
            live / 2 / 1024,
            idle / 2,
            reported
        );
    }
    broadcast();
}

/// The setting `docs/deflate.md` recommends to servers with many connections: zlib's
/// state dropped after every message (the history kept as a dictionary), 13-bit windows
/// both ways.
fn recommended() -> Config {
    with(|c| {
        c.deflate = DeflateConfig::default()
            .with_memory(DeflateMemory::Release)
            .with_server_max_window_bits(13)
            .with_client_max_window_bits(13)
    })
}

/// Heap of a connected pair after 1000 messages each way and `shrink_buffers` on both
/// (both ends), and the server's `heap_usage()`.
fn idle_heap(config: &Config, corpus: &[String]) -> (isize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let (mut client, mut server) = pair(config.clone());
    let mut buf = Vec::new();
    for batch in corpus[..1000].chunks(50) {
        for m in batch {
            client.send_text(m).unwrap();
            server.send_text(m).unwrap();
        }
        move_bytes(&mut client, &mut server);
        move_bytes(&mut server, &mut client);
        while client.poll_event(&mut buf).is_some() {}
        while server.poll_event(&mut buf).is_some() {}
    }
    client.shrink_buffers();
    server.shrink_buffers();
    let held = LIVE.load(Ordering::Relaxed) - before - buf.capacity() as isize;
    (held, server.heap_usage())
}

/// One 1 KiB JSON message to 10 000 server connections in memory: `send_prepared` (one
/// compression shared) against `send_text` per connection, with
/// `server_no_context_takeover` agreed, and without compression.
fn broadcast() {
    const N: usize = 10_000;
    let mut text = String::from(r#"{"type":"update","items":["#);
    let mut i = 0;
    while text.len() < 1000 {
        text.push_str(&format!(
            r#"{{"id":{i},"symbol":"SYM{}","price":{}.{}}},"#,
            i % 37,
            100 + i * 7 % 50,
            i % 100
        ));
        i += 1;
    }
    text.truncate(1020);
    text.push_str("]}");
    let text = &text[..];
    println!(
        "\nbroadcast: one {} B text message to {N} server connections (in memory, output drained\nbetween runs; median of 5)",
        text.len()
    );
    println!(
        "{:<52} {:>10} {:>12} {:>14} {:>10}",
        "", "time", "per conn", "allocations", "alloc MiB"
    );
    let shared = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let takeover = DeflateParams {
        server_no_context_takeover: false,
        ..shared
    };
    let cases: [(&str, Negotiated, bool); 5] = [
        ("no deflate, send_text", Negotiated::new(), false),
        ("no deflate, send_prepared", Negotiated::new(), true),
        (
            "server_no_context_takeover, send_text",
            Negotiated::new().with_deflate(shared),
            false,
        ),
        (
            "server_no_context_takeover, send_prepared",
            Negotiated::new().with_deflate(shared),
            true,
        ),
        (
            "context takeover, send_prepared (compresses each)",
            Negotiated::new().with_deflate(takeover),
            true,
        ),
    ];
    for (name, negotiated, prepared) in cases {
        let mut connections: Vec<Connection> = (0..N)
            .map(|_| {
                Connection::upgraded(
                    Role::Server,
                    negotiated.clone(),
                    Config::default(),
                    Timestamp::ZERO,
                )
            })
            .collect();
        let mut runs = Vec::new();
        for _ in 0..5 {
            for c in &mut connections {
                let out = c.poll_transmit();
                let n = out.len();
                out.advance(n);
            }
            let (calls, bytes) = (
                CALLS.load(Ordering::Relaxed),
                ALLOCATED.load(Ordering::Relaxed),
            );
            let start = Instant::now();
            if prepared {
                let message = PreparedMessage::text(text);
                for c in &mut connections {
                    c.send_prepared(&message).unwrap();
                }
            } else {
                for c in &mut connections {
                    c.send_text(text).unwrap();
                }
            }
            let elapsed = start.elapsed();
            runs.push((
                elapsed,
                CALLS.load(Ordering::Relaxed) - calls,
                ALLOCATED.load(Ordering::Relaxed) - bytes,
            ));
        }
        runs.sort_by_key(|r| r.0);
        let (time, calls, bytes) = runs[2];
        println!(
            "{name:<52} {:>7.2} ms {:>9.2} µs {calls:>14} {:>10.1}",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() * 1e6 / N as f64,
            bytes as f64 / (1 << 20) as f64
        );
    }
}

/// Like `run`, with the server's send (compress, frame, hand out the bytes) and the client's
/// receive (parse, inflate, validate UTF-8, deliver) timed apart, per batch of 100. With
/// `verify`, every received message is compared with the original.
fn run_split(config: &Config, corpus: &[String], verify: bool) -> (usize, Duration, Duration) {
    let (mut client, mut server) = pair(config.clone());
    let mut buf = Vec::new();
    let (mut wire, mut count, mut bytes) = (0, 0, 0);
    let (mut send, mut receive) = (Duration::ZERO, Duration::ZERO);
    for batch in corpus.chunks(100) {
        let t0 = Instant::now();
        for m in batch {
            server.send_text(m).unwrap();
        }
        let out = server.poll_transmit();
        let t1 = Instant::now();
        let n = out.len();
        client.handle_bytes(&out);
        while let Some(e) = client.poll_event(&mut buf) {
            if let Event::Text(t) = e {
                if verify {
                    assert_eq!(t, corpus[count]);
                }
                count += 1;
                bytes += t.len();
            }
        }
        let t2 = Instant::now();
        out.advance(n);
        send += t1 - t0 + t2.elapsed();
        receive += t2 - t1;
        wire += n;
    }
    assert_eq!(count, corpus.len());
    assert_eq!(bytes, corpus.iter().map(String::len).sum::<usize>());
    (wire, send, receive)
}

/// `WS_DEFLATE_PEERS=1`: for the default (level 1) and level 6, a checked run, then the
/// median of `WS_DEFLATE_RUNS` (default 5) timed runs, and the heap per end as in `main`.
fn peers(corpus: &[String]) {
    let runs: usize = std::env::var("WS_DEFLATE_RUNS").map_or(5, |v| v.parse().unwrap());
    let total: usize = corpus.iter().map(String::len).sum();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (name, config) in [
        (
            "default: level 1, 15-bit windows, memLevel 8",
            Config::default(),
        ),
        (
            "level 6, 15-bit windows, memLevel 8",
            with(|c| c.deflate.level = 6),
        ),
    ] {
        let (wire, ..) = run_split(&config, corpus, true);
        let timed: Vec<_> = (0..runs)
            .map(|_| run_split(&config, corpus, false))
            .collect();
        assert!(timed.iter().all(|r| r.0 == wire));
        let heap = pair_heap(&config, corpus);
        println!(
            "{{\"impl\":\"ws-proto\",\"config\":\"{name}\",\"level\":{},\"messages\":{},\
             \"bytes\":{total},\"wire\":{wire},\"runs\":{runs},\"send_s\":{},\"receive_s\":{},\
             \"total_s\":{},\"heap_per_conn\":{}}}",
            config.deflate.level,
            corpus.len(),
            median(timed.iter().map(|r| r.1.as_secs_f64()).collect()),
            median(timed.iter().map(|r| r.2.as_secs_f64()).collect()),
            median(timed.iter().map(|r| (r.1 + r.2).as_secs_f64()).collect()),
            heap / 2
        );
    }
}
