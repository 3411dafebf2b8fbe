//! Side-by-side benchmark of ws-proto, tungstenite, fastwebsockets and yawc.
//!
//! `cargo run --release -- [--rounds N] [--only SUBSTRING] [--cold]` builds every workload's input
//! once, checks that each implementation decodes (or encodes) every byte (message count,
//! length and a checksum over every payload byte), then times the implementations
//! interleaved (A B C floor, A B C floor, ...) and prints the median, min–max and ratios,
//! then steady-state allocations per message and per-connection memory.
//!
//! `--callgrind LIB WORKLOAD` runs one implementation on one workload, for 2 then 4
//! passes, for `valgrind --tool=callgrind` (see `run.sh`), and prints the messages, bytes
//! and transport reads of 2 passes. WORKLOAD may also be `recv binary N B` for any N (the
//! sweep of `run.sh --sweep`).

mod alloc;
mod inputs;
mod io;
mod peers;

use std::time::{Duration, Instant};

use inputs::{Dir, Workload};
use peers::{LIBS, Lib};
use tokio::runtime::Runtime;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const PEERS: [Lib; 4] = [
    Lib::WsProto,
    Lib::Tungstenite,
    Lib::Fastwebsockets,
    Lib::Yawc,
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let arg = |flag: &str| {
        let i = args.iter().position(|a| a == flag)?;
        Some(
            args.get(i + 1)
                .unwrap_or_else(|| panic!("{flag} needs a value")),
        )
    };
    // Input per pass: 1 MiB (stays in cache), or 64 MiB with --cold (does not).
    let pass = if args.iter().any(|a| a == "--cold") {
        64 << 20
    } else {
        1 << 20
    };
    if let Some(lib) = arg("--callgrind") {
        let lib =
            Lib::parse(lib).expect("LIB: ws-proto, tungstenite, fastwebsockets, yawc or floor");
        let w = inputs::build(args.get(2).expect("--callgrind LIB WORKLOAD"), pass);
        // Two runs, of 2 and 4 passes: the difference of their instruction counts is the
        // steady-state cost of 2 passes (connection set-up and buffer growth cancel out).
        let repeat = w.repeat.min(2);
        measured_short(lib, &w, repeat, &rt);
        measured_long(lib, &w, 2 * repeat, &rt);
        // Reads per message in steady state, counted the same way (outside the measured
        // functions).
        let reads = |repeat| {
            let before = io::READS.load(std::sync::atomic::Ordering::Relaxed);
            peers::run(lib, &w, repeat, false, &rt);
            io::READS.load(std::sync::atomic::Ordering::Relaxed) - before
        };
        let reads = reads(2 * repeat) - reads(repeat);
        println!(
            "messages {} bytes {} reads {reads}",
            w.messages(repeat),
            w.bytes(repeat)
        );
        return;
    }
    let rounds: usize = arg("--rounds").map_or(9, |r| r.parse().expect("--rounds N"));
    let only = arg("--only").cloned().unwrap_or_default();

    println!(
        "input per pass: {} MiB; load average at start: {}",
        pass >> 20,
        load()
    );
    let mut rows = Vec::new();
    let mut allocs = Vec::new();
    for name in inputs::names().into_iter().filter(|n| n.contains(&only)) {
        let w = inputs::build(&name, pass);
        verify(&w, &rt);
        rows.push(Row {
            name: name.clone(),
            len: w.payload.len(),
            messages: w.messages(w.repeat),
            samples: time(&w, rounds, &rt),
        });
        allocs.push((name, PEERS.map(|lib| allocs_per_message(lib, &w, &rt))));
        eprintln!("done: {}", w.name);
    }
    println!("load average at end: {}\n", load());
    print_times(&rows, rounds);
    print_allocs(&allocs);
    print_memory(&rt);
}

/// The runs that `--callgrind` measures (`run.sh` reads their inclusive costs).
#[inline(never)]
fn measured_short(lib: Lib, w: &Workload, repeat: usize, rt: &Runtime) {
    std::hint::black_box(peers::run(lib, w, repeat, false, rt));
}

#[inline(never)]
fn measured_long(lib: Lib, w: &Workload, repeat: usize, rt: &Runtime) {
    std::hint::black_box(peers::run(lib, w, repeat, false, rt));
}

/// Every implementation must produce every message, byte and checksum (two passes).
fn verify(w: &Workload, rt: &Runtime) {
    for lib in PEERS {
        let got = peers::run(lib, w, 2, true, rt);
        assert_eq!(
            got,
            w.expected(2, true),
            "{} lost data on {}",
            lib.name(),
            w.name
        );
    }
}

/// Interleaved rounds: every implementation once per round, in the same order.
fn time(w: &Workload, rounds: usize, rt: &Runtime) -> Vec<Vec<Duration>> {
    let mut samples = vec![Vec::new(); LIBS.len()];
    for _ in 0..rounds {
        for (i, lib) in LIBS.into_iter().enumerate() {
            let start = Instant::now();
            let tally = peers::run(lib, w, w.repeat, false, rt);
            samples[i].push(start.elapsed());
            assert_eq!(
                tally,
                w.expected(w.repeat, false),
                "{} on {}",
                lib.name(),
                w.name
            );
        }
    }
    samples.iter_mut().for_each(|s| s.sort());
    samples
}

/// Allocator calls per message in steady state: the difference between runs of 4 and 2
/// passes over the input, divided by the messages of 2 passes (so connection set-up and
/// buffer growth cancel out).
fn allocs_per_message(lib: Lib, w: &Workload, rt: &Runtime) -> f64 {
    let count = |repeat| {
        let before = alloc::calls();
        peers::run(lib, w, repeat, false, rt);
        alloc::calls() - before
    };
    let (two, four) = (count(2), count(4));
    (four as f64 - two as f64) / w.messages(2) as f64
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or("?".into(), |s| s.trim().to_string())
}

/// One workload's timings, per implementation in [`LIBS`] order, sorted.
struct Row {
    name: String,
    len: usize,
    messages: usize,
    samples: Vec<Vec<Duration>>,
}

impl Row {
    /// Throughput of one run: M msg/s for small messages, GB/s of payload otherwise.
    fn rate(&self, d: Duration) -> f64 {
        let per_sec = self.messages as f64 / d.as_secs_f64();
        if self.len <= 125 {
            per_sec / 1e6
        } else {
            per_sec * self.len as f64 / 1e9
        }
    }

    fn median(&self, lib: usize) -> f64 {
        let s = &self.samples[lib];
        self.rate(s[s.len() / 2])
    }

    /// "median (min–max)"; the fastest run has the shortest time.
    fn cell(&self, lib: usize) -> String {
        let s = &self.samples[lib];
        let (lo, hi) = (self.rate(s[s.len() - 1]), self.rate(s[0]));
        format!("{:.2} ({lo:.2}–{hi:.2})", self.median(lib))
    }

    /// The performance target for this workload, and whether the medians meet it.
    fn target(&self) -> (&'static str, bool) {
        let [ours, tung, fast, yawc, floor] = [0, 1, 2, 3, 4].map(|i| self.median(i));
        let best = tung.max(fast).max(yawc);
        if self.name.contains("fragmented") {
            ("≥ 10× both peers", ours >= 10.0 * best)
        } else if self.name.starts_with("recv text") {
            ("≥ 1.2× fastwebsockets", ours >= 1.2 * fast)
        } else if self.name.starts_with("recv") && self.len >= 16 << 10 {
            (
                "≥ 1.3× best peer, ≥ 0.7× memcpy",
                ours >= 1.3 * best && ours >= 0.7 * floor,
            )
        } else {
            ("≥ 1.3× best peer", ours >= 1.3 * best)
        }
    }
}

fn print_times(rows: &[Row], rounds: usize) {
    println!("Throughput, median of {rounds} interleaved runs (min–max); higher is better.");
    println!("M msg/s for messages of 16 and 125 B, GB/s of payload otherwise.\n");
    println!(
        "| workload | unit | ws-proto | tungstenite | fastwebsockets | yawc | memcpy floor \
         | ws-proto / best peer | ws-proto / floor | target | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let ours = row.median(0);
        let (target, met) = row.target();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {target} | {} |",
            row.name,
            if row.len <= 125 { "M msg/s" } else { "GB/s" },
            row.cell(0),
            row.cell(1),
            row.cell(2),
            row.cell(3),
            row.cell(4),
            ours / row.median(1).max(row.median(2)).max(row.median(3)),
            ours / row.median(4),
            if met { "yes" } else { "**no**" }
        );
    }
    println!();
}

fn print_allocs(rows: &[(String, [f64; 4])]) {
    println!("Allocator calls per message in steady state (alloc + realloc).\n");
    println!("| workload | ws-proto | tungstenite | fastwebsockets | yawc |");
    println!("|---|---|---|---|---|");
    for (name, a) in rows {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
            a[0], a[1], a[2], a[3]
        );
    }
    println!();
}

/// Heap bytes a connection holds: after creation (idle, as after the handshake), and idle
/// again after receiving one 1 MiB message (the message itself dropped).
fn print_memory(rt: &Runtime) {
    let w = inputs::build("recv binary 1 MiB", 1 << 20);
    let Dir::Recv(r) = &w.dir else { unreachable!() };
    let wire = &r.wire;
    // Whatever the runtime sets up on first use is not the connection's.
    rt.block_on(async {});

    let base = alloc::live();
    let mut config = ws_proto::Config::default();
    config.read_chunk = io::READ_SIZE;
    let mut conn = ws_proto::Connection::upgraded(
        ws_proto::Role::Server,
        ws_proto::Negotiated::new(),
        config,
        ws_proto::Timestamp::ZERO,
    );
    let fresh = alloc::live() - base;
    let mut io = io::MemIo::new(wire, 1, false);
    let mut buf = Vec::new();
    loop {
        let mut read_buf = conn.read_buf();
        let n = io.read_into(&mut read_buf);
        if n == 0 {
            break;
        }
        read_buf.commit(n);
        while conn.poll_event(&mut buf).is_some() {}
    }
    drop(buf);
    let ws_proto = (
        size_of::<ws_proto::Connection>(),
        fresh,
        alloc::live() - base,
    );
    let reported = conn.heap_usage();
    drop(conn);

    let base = alloc::live();
    let io = io::MemIo::new(wire, 1, false);
    let role = tungstenite::protocol::Role::Server;
    let mut ws = tungstenite::WebSocket::from_raw_socket(io, role, None);
    let fresh = alloc::live() - base;
    drop(ws.read().expect("tungstenite read"));
    let size = size_of::<tungstenite::protocol::WebSocketContext>();
    let tungstenite = (size, fresh, alloc::live() - base);
    drop(ws);

    let base = alloc::live();
    let io = io::MemIo::new(wire, 1, false);
    let mut ws = fastwebsockets::WebSocket::after_handshake(io, fastwebsockets::Role::Server);
    let fresh = alloc::live() - base;
    drop(rt.block_on(ws.read_frame()).expect("fastwebsockets read"));
    let size = size_of::<fastwebsockets::WebSocket<()>>();
    let fastwebsockets = (size, fresh, alloc::live() - base);
    drop(ws);

    let base = alloc::live();
    let io = io::MemIo::new(wire, 1, false);
    let options = peers::yawc_options();
    let mut ws = yawc::WebSocket::from_stream(io, yawc::Role::Server, options).expect("yawc");
    let fresh = alloc::live() - base;
    drop(rt.block_on(ws.next_frame()).expect("yawc read"));
    let size = size_of::<yawc::WebSocket<io::MemIo>>() - size_of::<io::MemIo>();
    let yawc = (size, fresh, alloc::live() - base);
    drop(ws);

    println!("Per-connection memory (struct size without the transport, heap held).\n");
    println!(
        "| library | struct size | heap, idle after the handshake | heap, idle after one 1 MiB message |"
    );
    println!("|---|---|---|---|");
    for (name, (size, fresh, after)) in [
        ("ws-proto", ws_proto),
        ("tungstenite", tungstenite),
        ("fastwebsockets", fastwebsockets),
        ("yawc", yawc),
    ] {
        println!("| {name} | {size} B | {fresh} B | {after} B |");
    }
    println!("\n(ws-proto's own `heap_usage()` after the message: {reported} B.)");
}
