//! Throughput of the receive and send paths, from memory (no sockets).
//!
//! `cargo bench --bench throughput` prints, per workload, the median of several runs in
//! messages per second and bytes per second. Inputs are built once; each run feeds them
//! through `read_buf`/`ReadBuf::commit` in reads of up to 64 KiB, as a socket driver would, and checks
//! that every payload byte was delivered (count and sum) so nothing is optimised away.
//! The side-by-side comparison with other libraries is a separate, later benchmark.

use std::time::{Duration, Instant};

use ws_proto::{Config, Connection, Event, Rng, Role};

struct Key;
impl Rng for Key {
    fn fill(&mut self, dest: &mut [u8]) {
        dest.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = 0x5A ^ i as u8);
    }
}

fn client() -> Connection {
    Connection::upgraded_with_rng(
        Role::Client,
        ws_proto::Negotiated::new(),
        Config::default(),
        ws_proto::Timestamp::ZERO,
        Box::new(Key),
    )
}

/// Masked client frames carrying `count` messages built by `send`.
fn client_stream(count: usize, send: impl Fn(&mut Connection)) -> Vec<u8> {
    let mut c = client();
    let mut wire = Vec::new();
    for _ in 0..count {
        send(&mut c);
        let out = c.poll_transmit();
        wire.extend_from_slice(&out);
        let n = out.len();
        out.advance(n);
    }
    wire
}

/// Feeds `wire` to a fresh server in 64 KiB reads; returns (messages, payload bytes).
fn receive(wire: &[u8]) -> (usize, usize) {
    let mut server = Connection::upgraded(
        Role::Server,
        ws_proto::Negotiated::new(),
        Config::default(),
        ws_proto::Timestamp::ZERO,
    );
    let mut buf = Vec::new();
    let (mut messages, mut bytes) = (0, 0);
    let mut rest = wire;
    while !rest.is_empty() {
        // What a socket read into the connection's buffer would do.
        let mut dst = server.read_buf();
        let n = rest.len().min(dst.len()).min(64 << 10);
        dst[..n].copy_from_slice(&rest[..n]);
        dst.commit(n);
        rest = &rest[n..];
        while let Some(event) = server.poll_event(&mut buf) {
            match event {
                Event::Binary(d) => bytes += d.len(),
                Event::Text(t) => bytes += t.len(),
                other => panic!("unexpected {other:?}"),
            }
            messages += 1;
        }
    }
    (messages, bytes)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(name: &str, messages: usize, bytes: usize, time: Duration) {
    let secs = time.as_secs_f64();
    println!(
        "{name:<36} {:>8.2} M msg/s {:>8.2} GB/s",
        messages as f64 / secs / 1e6,
        bytes as f64 / secs / 1e9
    );
}

fn bench_recv(name: &str, count: usize, payload_len: usize, send: impl Fn(&mut Connection)) {
    let wire = client_stream(count, send);
    let mut samples = Vec::new();
    for _ in 0..9 {
        let start = Instant::now();
        let (m, b) = receive(&wire);
        samples.push(start.elapsed());
        assert_eq!((m, b), (count, count * payload_len), "{name}: lost data");
    }
    report(name, count, count * payload_len, median(samples));
}

fn bench_send(name: &str, role: Role, count: usize, payload: &[u8]) {
    let mut samples = Vec::new();
    for _ in 0..9 {
        let mut conn = Connection::upgraded_with_rng(
            role,
            ws_proto::Negotiated::new(),
            Config::default(),
            ws_proto::Timestamp::ZERO,
            Box::new(Key),
        );
        let mut written = 0usize;
        let start = Instant::now();
        for _ in 0..count {
            conn.send_binary(payload).unwrap();
            let n = conn.poll_transmit().len();
            written += n;
            conn.poll_transmit().advance(n);
        }
        samples.push(start.elapsed());
        assert!(written > count * payload.len());
    }
    report(name, count, count * payload.len(), median(samples));
}

/// A flood of empty unmasked binary frames (2 bytes each) to a client, fed either at once
/// or 4 KiB at a time: the time per frame must not grow with the flood's size (no
/// quadratic rescanning or compaction).
fn bench_flood(total: usize) {
    let wire: Vec<u8> = [0x82u8, 0x00].repeat(total / 2);
    for (how, chunk) in [("at once", wire.len()), ("in 4 KiB reads", 4096)] {
        let mut samples = Vec::new();
        for _ in 0..5 {
            let mut client = client();
            let mut buf = Vec::new();
            let mut events = 0usize;
            let start = Instant::now();
            for piece in wire.chunks(chunk) {
                client.handle_bytes(piece);
                while client.poll_event(&mut buf).is_some() {
                    events += 1;
                }
            }
            samples.push(start.elapsed());
            assert_eq!(events, total / 2);
        }
        let t = median(samples);
        println!(
            "flood of {:>4} KiB of 2-byte frames, {how:<15} {:>6.1} ns/frame",
            total >> 10,
            t.as_nanos() as f64 / (total / 2) as f64
        );
    }
}

/// A request head of `size` bytes fed to a server at once and one byte at a time: the parser keeps
/// where it stopped, so the two must cost about the same per byte (RUSTSEC-2023-0065 was a
/// quadratic rescan in this situation).
fn bench_head(size: usize) {
    let mut head = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        .to_vec();
    while head.len() < size {
        head.extend_from_slice(
            b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    head.extend_from_slice(b"\r\n");
    let mut config = Config::default();
    config.max_head_size = 128 << 10;
    config.max_headers = 4096;
    for (how, chunk) in [("at once", head.len()), ("one byte at a time", 1)] {
        let mut samples = Vec::new();
        for _ in 0..5 {
            let mut server = Connection::server(config.clone(), ws_proto::Timestamp::ZERO);
            let mut buf = Vec::new();
            let start = Instant::now();
            let mut requests = 0;
            for piece in head.chunks(chunk) {
                server.handle_bytes(piece);
                while let Some(event) = server.poll_event(&mut buf) {
                    assert!(matches!(event, Event::Request(_)), "{event:?}");
                    requests += 1;
                }
            }
            samples.push(start.elapsed());
            assert_eq!(requests, 1);
        }
        let t = median(samples);
        println!(
            "handshake head of {} KiB, {how:<20} {:>6.2} ns/byte",
            head.len() >> 10,
            t.as_nanos() as f64 / head.len() as f64
        );
    }
}

fn main() {
    let text_64k: String = "ascii text and ünïcödé € 😀 "
        .chars()
        .cycle()
        .take(60_000)
        .collect();
    let text_64k = &text_64k[..text_64k.len()];
    println!("ws-proto throughput (median of 9 runs), server receiving masked client frames");
    bench_recv("recv binary 16 B", 1_000_000, 16, |c| {
        c.send_binary(&[7; 16]).unwrap()
    });
    bench_recv("recv binary 1 KiB", 200_000, 1024, |c| {
        c.send_binary(&[7; 1024]).unwrap()
    });
    bench_recv("recv binary 64 KiB", 4_000, 65536, |c| {
        c.send_binary(&[7; 65536]).unwrap()
    });
    bench_recv(
        "recv text 64 KiB (mixed UTF-8)",
        4_000,
        text_64k.len(),
        |c| c.send_text(text_64k).unwrap(),
    );
    let bytes = text_64k.as_bytes();
    let pieces: Vec<&str> = {
        // 16 parts cut at char boundaries.
        let mut v = Vec::new();
        let mut start = 0;
        for i in 1..=16 {
            let mut end = (bytes.len() * i / 16).min(bytes.len());
            while !text_64k.is_char_boundary(end) {
                end += 1;
            }
            v.push(&text_64k[start..end]);
            start = end;
        }
        v
    };
    bench_recv(
        "recv fragmented text 64 KiB (16 parts)",
        4_000,
        text_64k.len(),
        |c| {
            for (i, p) in pieces.iter().enumerate() {
                c.send_text_part(p, i == 15).unwrap();
            }
        },
    );
    bench_send(
        "send binary 125 B (server)",
        Role::Server,
        1_000_000,
        &[9; 125],
    );
    bench_send(
        "send binary 125 B (client, masked)",
        Role::Client,
        1_000_000,
        &[9; 125],
    );
    bench_send(
        "send binary 64 KiB (client, masked)",
        Role::Client,
        10_000,
        &[9; 65536],
    );
    for total in [1 << 20, 4 << 20, 16 << 20] {
        bench_flood(total);
    }
    bench_head(16 << 10);
    bench_head(64 << 10);
}
