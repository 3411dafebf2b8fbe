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

use ws_proto::{Accept, ClientRequest, Config, Connection, Event, Rng};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
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
            "deflate, 9-bit windows, context takeover",
            with(|c| {
                c.deflate.server_max_window_bits = 9;
                c.deflate.client_max_window_bits = 9;
            }),
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

    println!("\nheap per connection pair after one message each way (both ends, all buffers)");
    for (name, config) in &cases[..4] {
        let live = pair_heap(config, &corpus);
        println!("{name:<44} {:>8} KiB per end", live / 2 / 1024);
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
