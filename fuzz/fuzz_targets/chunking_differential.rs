//! The same bytes fed to two identical connections (same role, config and random source),
//! one all at once and one split at fuzzer-chosen points (through `handle_bytes` or
//! `read_buf`/`ReadBuf::commit`), must give the same events (streaming pieces merged) and the
//! same output bytes.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::{ClientRequest, Connection, Role, accept_key};
use ws_proto_fuzz::{FrameSource, FuzzConfig, Harness, XorShift, normalize};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    UpgradedServer,
    UpgradedClient,
    /// From the first byte of the client's request.
    ServerHandshake,
    /// From the server's response; `valid101` prefixes a correct 101.
    ClientHandshake {
        valid101: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    config: FuzzConfig,
    seed: u64,
    kind: Kind,
    /// Chunk sizes for the split feed, cycled (0 counts as 1).
    chunks: Vec<u16>,
    /// Bit i % 8: feed chunk i through `read_buf` / `ReadBuf::commit`.
    read_mask: u8,
    eof: bool,
    data: FrameSource,
}

fn make(input: &Input) -> Harness {
    let config = input.config.to_config();
    let rng = Box::new(XorShift::new(input.seed));
    let (conn, handshake) = match input.kind {
        Kind::UpgradedServer => (
            Connection::upgraded_with_rng(
                Role::Server,
                ws_proto::Negotiated::new(),
                config,
                ws_proto::Timestamp::ZERO,
                rng,
            ),
            false,
        ),
        Kind::UpgradedClient => (
            Connection::upgraded_with_rng(
                Role::Client,
                ws_proto::Negotiated::new(),
                config,
                ws_proto::Timestamp::ZERO,
                rng,
            ),
            false,
        ),
        Kind::ServerHandshake => (Connection::server(config, ws_proto::Timestamp::ZERO), true),
        Kind::ClientHandshake { .. } => {
            let req = ClientRequest::new("ws://h/p").expect("URL");
            (
                Connection::client_with_rng(req, config, ws_proto::Timestamp::ZERO, rng)
                    .expect("request"),
                true,
            )
        }
    };
    let mut h = Harness::new(conn, handshake);
    if handshake && h.role == Role::Client {
        h.drain();
    }
    h
}

fuzz_target!(|input: Input| {
    let mut whole = make(&input);
    let mut split = make(&input);
    let receiver = whole.role;
    let mut bytes = Vec::new();
    if let Kind::ClientHandshake { valid101: true } = input.kind {
        let key = whole.wire.key.clone().expect("request written");
        assert_eq!(
            split.wire.key.as_ref(),
            Some(&key),
            "same rng, different keys"
        );
        bytes.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
        bytes.extend_from_slice(accept_key(&key).as_bytes());
        bytes.extend_from_slice(b"\r\n\r\n");
    }
    bytes.extend_from_slice(&input.data.bytes(receiver));

    whole.feed(&bytes);
    let mut pos = 0;
    let mut i = 0;
    while pos < bytes.len() {
        let size = input
            .chunks
            .get(i % input.chunks.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let end = (pos + usize::from(size)).min(bytes.len());
        if input.read_mask & (1 << (i % 8)) != 0 {
            split.read(&bytes[pos..end]);
        } else {
            split.feed(&bytes[pos..end]);
        }
        pos = end;
        i += 1;
    }
    if input.eof {
        whole.eof();
        split.eof();
    }
    whole.finish();
    split.finish();
    assert_eq!(
        normalize(&whole.events),
        normalize(&split.events),
        "events differ"
    );
    assert_eq!(whole.wire.raw, split.wire.raw, "output differs");
});
