//! Random driver call orders against the whole-input reference: read offers committed,
//! partly filled or dropped, `handle_bytes` between them, clock calls (the idle shrink
//! fires often here), partial writes and event polls in any order. No input byte may be
//! lost or seen twice: the events must equal those of a connection fed everything at
//! once, and the bytes written must equal its output.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use ws_proto::{Config, Connection, Negotiated, Role, Timestamp};
use ws_proto_fuzz::{Ev, FrameSource, XorShift, normalize};

#[derive(Arbitrary, Debug)]
enum Call {
    /// `handle_bytes` with the next n input bytes.
    Feed(u16),
    /// Take `read_buf`, copy up to n input bytes into it, and commit them, or drop the
    /// offer without committing (a read that would block: those bytes stay unread).
    Read { n: u16, commit: bool },
    /// `handle_timeout`, n ms later.
    Tick(u8),
    /// Write up to n bytes of `poll_transmit` and advance by them.
    Transmit(u16),
    /// `poll_event` until `None`.
    Poll,
}

#[derive(Arbitrary, Debug)]
struct Input {
    server: bool,
    streaming: bool,
    /// 0: default (16 KiB); n: n bytes.
    read_chunk: u8,
    seed: u64,
    calls: Vec<Call>,
    data: FrameSource,
}

fn make(input: &Input) -> Connection {
    let role = if input.server {
        Role::Server
    } else {
        Role::Client
    };
    let mut config = Config::default()
        .with_idle_shrink(Some(Duration::from_millis(1)))
        .with_close_timeout(None)
        .with_read_chunk(match input.read_chunk {
            0 => 16 << 10,
            n => usize::from(n),
        });
    if input.streaming {
        config = config.with_delivery(ws_proto::Delivery::Streaming);
    }
    let rng = Box::new(XorShift::new(input.seed));
    Connection::upgraded_with_rng(role, Negotiated::new(), config, Timestamp::ZERO, rng)
}

fn poll(conn: &mut Connection, buf: &mut Vec<u8>, events: &mut Vec<Ev>) {
    for _ in 0..100_000 {
        match conn.poll_event(buf) {
            Some(event) => events.push(Ev::from_event(event)),
            None => return,
        }
    }
    panic!("runaway poll_event");
}

fn write(conn: &mut Connection, max: usize, out: &mut Vec<u8>) -> usize {
    let pending = conn.poll_transmit();
    let n = pending.len().min(max);
    out.extend_from_slice(&pending[..n]);
    pending.advance(n);
    n
}

fuzz_target!(|input: Input| {
    let mut reference = make(&input);
    let mut subject = make(&input);
    let bytes = input.data.bytes(reference.role());

    let mut buf = Vec::new();
    let (mut ref_events, mut events) = (Vec::new(), Vec::new());
    reference.handle_bytes(&bytes);
    poll(&mut reference, &mut buf, &mut ref_events);
    let mut ref_out = Vec::new();
    while write(&mut reference, usize::MAX, &mut ref_out) > 0 {}

    let mut out = Vec::new();
    let mut pos = 0;
    let mut now = Duration::ZERO;
    for call in &input.calls {
        match *call {
            Call::Feed(n) => {
                let end = bytes.len().min(pos + usize::from(n));
                subject.handle_bytes(&bytes[pos..end]);
                pos = end;
            }
            Call::Read { n, commit } => {
                let mut offer = subject.read_buf();
                assert!(!offer.is_empty(), "read_buf offered no room");
                let k = offer.len().min(usize::from(n)).min(bytes.len() - pos);
                offer[..k].copy_from_slice(&bytes[pos..pos + k]);
                if commit {
                    offer.commit(k);
                    pos += k;
                }
            }
            Call::Tick(ms) => {
                now += Duration::from_millis(u64::from(ms));
                subject.handle_timeout(now);
            }
            Call::Transmit(n) => {
                write(&mut subject, usize::from(n), &mut out);
            }
            Call::Poll => poll(&mut subject, &mut buf, &mut events),
        }
    }
    // The rest of the input, then everything out.
    subject.handle_bytes(&bytes[pos..]);
    poll(&mut subject, &mut buf, &mut events);
    while write(&mut subject, usize::MAX, &mut out) > 0 {}

    assert_eq!(normalize(&ref_events), normalize(&events), "events differ");
    // Output is the same too, unless more Pings came than automatic Pongs may wait
    // unwritten: which Pings then get their own Pong depends on when output was written.
    let ping_count = ref_events
        .iter()
        .filter(|e| matches!(e, Ev::Ping(_)))
        .count();
    if ping_count <= 16 {
        assert_eq!(ref_out, out, "output differs");
    }
});
