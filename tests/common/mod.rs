//! Shared helpers for the integration tests.
//!
//! Everything here is independent of the crate's own codec: frames are encoded and decoded
//! by a small test-side implementation written straight from RFC 6455 §5.2, so that the
//! expected bytes are never produced by the code under test.

#![allow(dead_code)]

use ws_proto::{CloseCause, Config, Connection, Event, ProtocolError, Rng, Role};

// ---------------------------------------------------------------------------------------
// Deterministic random sources
// ---------------------------------------------------------------------------------------

/// Yields the same 4-byte key over and over (byte `i` of any request is `key[i % 4]`).
#[derive(Clone, Debug)]
pub struct FixedRng(pub [u8; 4]);

impl Rng for FixedRng {
    fn fill(&mut self, dest: &mut [u8]) {
        for (i, b) in dest.iter_mut().enumerate() {
            *b = self.0[i % 4];
        }
    }
}

/// A xorshift64 generator: different keys for every frame, reproducible.
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

impl Rng for XorShift {
    fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// `len` pseudo-random bytes from [`XorShift`], the same for the same `seed`.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed | 1);
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        let word = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    out
}

/// The masking key that [`peer_frame`] uses for client-to-server frames.
pub const PEER_KEY: [u8; 4] = [0xA1, 0x5C, 0x03, 0xE7];

/// An open connection (handshake done elsewhere) with the given random source. The one
/// place the tests construct connections, so an API rename is a one-line change.
pub fn with_rng(role: Role, config: Config, rng: Box<dyn Rng>) -> Connection {
    Connection::upgraded_with_rng(
        role,
        ws_proto::Negotiated::new(),
        config,
        ws_proto::Timestamp::ZERO,
        rng,
    )
}

/// An open connection with a deterministic random source.
pub fn conn(role: Role, config: Config) -> Connection {
    with_rng(role, config, Box::new(XorShift(0x9E37_79B9_7F4A_7C15)))
}

/// A connection with default settings and a deterministic random source.
pub fn conn_default(role: Role) -> Connection {
    conn(role, Config::default())
}

/// A config in streaming delivery.
pub fn streaming() -> Config {
    let mut config = Config::default();
    config.delivery = ws_proto::Delivery::Streaming;
    config
}

// ---------------------------------------------------------------------------------------
// Test-side frame encoder
// ---------------------------------------------------------------------------------------

/// Opcodes, spelled out (RFC 6455 §5.2).
pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// How the payload length is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LenEnc {
    /// The shortest form, as senders must use.
    Minimal,
    /// Always the 16-bit extended form (126 + 2 bytes).
    Ext16,
    /// Always the 64-bit extended form (127 + 8 bytes).
    Ext64,
}

/// Encodes a frame header that declares `len` payload bytes.
pub fn header(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    enc: LenEnc,
) -> Vec<u8> {
    assert!(rsv < 8 && opcode < 16);
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let enc = match enc {
        LenEnc::Minimal if len < 126 => None,
        LenEnc::Minimal if len <= 0xFFFF => Some(LenEnc::Ext16),
        LenEnc::Minimal => Some(LenEnc::Ext64),
        other => Some(other),
    };
    match enc {
        None => out.push(mask_bit | len as u8),
        Some(LenEnc::Ext16) => {
            assert!(len <= 0xFFFF);
            out.push(mask_bit | 126);
            out.push((len >> 8) as u8);
            out.push(len as u8);
        }
        Some(_) => {
            out.push(mask_bit | 127);
            for shift in (0..8).rev() {
                out.push((len >> (shift * 8)) as u8);
            }
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// XORs `data` with `key` (byte i with key[i % 4]).
pub fn xor(data: &[u8], key: [u8; 4]) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect()
}

/// Encodes a whole frame with the given length encoding.
pub fn frame_enc(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    enc: LenEnc,
) -> Vec<u8> {
    let mut out = header(fin, rsv, opcode, mask, payload.len() as u64, enc);
    match mask {
        Some(key) => out.extend(xor(payload, key)),
        None => out.extend_from_slice(payload),
    }
    out
}

/// Encodes a whole frame with the minimal length encoding.
pub fn frame(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    frame_enc(fin, rsv, opcode, mask, payload, LenEnc::Minimal)
}

/// A frame as a peer of `receiver` would legally send it: masked (with [`PEER_KEY`]) iff
/// the receiver is a server.
pub fn peer_frame(receiver: Role, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, peer_mask(receiver), payload)
}

/// The mask a legal peer of `receiver` uses.
pub fn peer_mask(receiver: Role) -> Option<[u8; 4]> {
    match receiver {
        Role::Server => Some(PEER_KEY),
        Role::Client => None,
    }
}

/// A Close body: the code in network order followed by the reason.
pub fn close_body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    body
}

// ---------------------------------------------------------------------------------------
// Test-side frame decoder
// ---------------------------------------------------------------------------------------

/// A frame as it appeared on the wire, payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Wire {
    /// A frame with no RSV bits, the common expectation.
    pub fn new(fin: bool, opcode: u8, masked: bool, payload: &[u8]) -> Wire {
        Wire {
            fin,
            rsv: 0,
            opcode,
            masked,
            payload: payload.to_vec(),
        }
    }

    /// The frame as a `(fin, rsv, opcode, masked, payload)` tuple.
    pub fn tuple(&self) -> (bool, u8, u8, bool, Vec<u8>) {
        (
            self.fin,
            self.rsv,
            self.opcode,
            self.masked,
            self.payload.clone(),
        )
    }
}

/// Decodes a stream of frames produced by the code under test. Panics if the bytes do not
/// form complete frames, or if a length is not minimally encoded (our encoder must be
/// minimal).
pub fn decode(mut bytes: &[u8]) -> Vec<Wire> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 2, "truncated header: {bytes:02x?}");
        let b0 = bytes[0];
        let b1 = bytes[1];
        let mut pos = 2;
        let len = match b1 & 0x7F {
            126 => {
                let len = u64::from(u16::from_be_bytes([bytes[2], bytes[3]]));
                assert!(len >= 126, "non-minimal 16-bit length {len}");
                pos += 2;
                len
            }
            127 => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&bytes[2..10]);
                let len = u64::from_be_bytes(raw);
                assert!(len > 0xFFFF && len >> 63 == 0, "bad 64-bit length {len}");
                pos += 8;
                len
            }
            n => u64::from(n),
        };
        let masked = b1 & 0x80 != 0;
        let key = if masked {
            let key = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
            pos += 4;
            Some(key)
        } else {
            None
        };
        let len = len as usize;
        assert!(
            bytes.len() >= pos + len,
            "truncated payload: need {len}, have {}",
            bytes.len() - pos
        );
        let raw = &bytes[pos..pos + len];
        let payload = match key {
            Some(key) => xor(raw, key),
            None => raw.to_vec(),
        };
        frames.push(Wire {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0b111,
            opcode: b0 & 0x0F,
            masked,
            payload,
        });
        bytes = &bytes[pos + len..];
    }
    frames
}

/// The masking keys of the frames in `bytes`, in order (None for unmasked frames).
pub fn mask_keys(mut bytes: &[u8]) -> Vec<Option<[u8; 4]>> {
    let mut keys = Vec::new();
    while !bytes.is_empty() {
        let b1 = bytes[1];
        let (mut pos, len) = match b1 & 0x7F {
            126 => (4, usize::from(u16::from_be_bytes([bytes[2], bytes[3]]))),
            127 => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&bytes[2..10]);
                (10, u64::from_be_bytes(raw) as usize)
            }
            n => (2, usize::from(n)),
        };
        if b1 & 0x80 != 0 {
            keys.push(Some([
                bytes[pos],
                bytes[pos + 1],
                bytes[pos + 2],
                bytes[pos + 3],
            ]));
            pos += 4;
        } else {
            keys.push(None);
        }
        bytes = &bytes[pos + len..];
    }
    keys
}

// ---------------------------------------------------------------------------------------
// Driving connections
// ---------------------------------------------------------------------------------------

/// An event with its payload owned, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    Text(String),
    Binary(Vec<u8>),
    TextPiece(String, bool),
    BinaryPiece(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// `Event::Closed` by a Close exchange, the transport's end or the close timeout.
    Close(u16, String),
    /// `Event::Closed` because the peer broke the protocol.
    Error(ProtocolError),
    /// `Event::Closed` for any other cause (a keepalive timeout, a failed handshake).
    Ended(CloseCause),
}

impl Owned {
    pub fn text(s: &str) -> Owned {
        Owned::Text(s.to_owned())
    }

    pub fn binary(b: &[u8]) -> Owned {
        Owned::Binary(b.to_vec())
    }

    pub fn close(code: u16, reason: &str) -> Owned {
        Owned::Close(code, reason.to_owned())
    }
}

impl From<Event<'_>> for Owned {
    fn from(event: Event<'_>) -> Owned {
        match event {
            Event::Text(t) => Owned::Text(t.to_owned()),
            Event::Binary(b) => Owned::Binary(b.to_vec()),
            Event::TextPiece { text, fin } => Owned::TextPiece(text.to_owned(), fin),
            Event::BinaryPiece { data, fin } => Owned::BinaryPiece(data.to_vec(), fin),
            Event::Ping(p) => Owned::Ping(p.to_vec()),
            Event::Pong(p) => Owned::Pong(p.to_vec()),
            Event::Closed(closed) => match closed.cause {
                CloseCause::ProtocolError(e) => Owned::Error(e),
                CloseCause::PeerClose
                | CloseCause::LocalClose
                | CloseCause::Eof
                | CloseCause::CloseTimeout => Owned::Close(closed.code.0, closed.reason.to_owned()),
                other => Owned::Ended(other),
            },
            // Handshake events never occur on an already upgraded connection.
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// Polls every available event.
pub fn events(conn: &mut Connection) -> Vec<Owned> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(event) = conn.poll_event(&mut buf) {
        out.push(Owned::from(event));
        assert!(out.len() < 1_000_000, "runaway events");
    }
    out
}

/// Takes every queued output byte, reporting it all as written.
pub fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let pending = conn.poll_transmit();
        if pending.is_empty() {
            break;
        }
        out.extend_from_slice(&pending);
        let n = pending.len();
        pending.advance(n);
    }
    out
}

/// Takes every queued output byte, reporting it written in pieces of at most `step` bytes.
pub fn drain_partial(conn: &mut Connection, step: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let pending = conn.poll_transmit();
        if pending.is_empty() {
            break;
        }
        let n = pending.len().min(step);
        out.extend_from_slice(&pending[..n]);
        pending.advance(n);
    }
    out
}

/// Feeds `bytes` into `conn` in chunks whose sizes cycle through `sizes` (0 is treated as
/// 1), polling events after every chunk, and returns all the events.
pub fn feed_chunked(conn: &mut Connection, bytes: &[u8], sizes: &[usize]) -> Vec<Owned> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < bytes.len() {
        let size = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let end = (pos + size).min(bytes.len());
        conn.handle_bytes(&bytes[pos..end]);
        out.extend(events(conn));
        pos = end;
        i += 1;
    }
    out.extend(events(conn));
    out
}

/// Like [`feed_chunked`], but copies each chunk into [`Connection::read_buf`] and commits
/// it.
pub fn read_chunked(conn: &mut Connection, bytes: &[u8], sizes: &[usize]) -> Vec<Owned> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < bytes.len() {
        let size = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let mut buf = conn.read_buf();
        let n = size.min(buf.len()).min(bytes.len() - pos);
        assert!(n > 0, "read_buf offered no room");
        buf[..n].copy_from_slice(&bytes[pos..pos + n]);
        buf.commit(n);
        out.extend(events(conn));
        pos += n;
        i += 1;
    }
    out.extend(events(conn));
    out
}

/// Feeds all of `bytes` at once and returns the events.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Owned> {
    conn.handle_bytes(bytes);
    events(conn)
}

/// A client and a server wired together in memory.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    /// Chunk sizes used when moving bytes between the two (cycled).
    pub chunks: Vec<usize>,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Pair {
        Pair {
            client: with_rng(Role::Client, client, Box::new(XorShift(0xC0FFEE))),
            server: with_rng(Role::Server, server, Box::new(XorShift(0x5EED))),
            chunks: vec![usize::MAX],
        }
    }

    pub fn default_config() -> Pair {
        Pair::new(Config::default(), Config::default())
    }

    /// Uses these chunk sizes when delivering bytes.
    pub fn with_chunks(mut self, chunks: Vec<usize>) -> Pair {
        self.chunks = chunks;
        self
    }

    /// Moves all of the client's output to the server; returns the server's events.
    pub fn client_to_server(&mut self) -> Vec<Owned> {
        let bytes = drain(&mut self.client);
        feed_chunked(&mut self.server, &bytes, &self.chunks)
    }

    /// Moves all of the server's output to the client; returns the client's events.
    pub fn server_to_client(&mut self) -> Vec<Owned> {
        let bytes = drain(&mut self.server);
        feed_chunked(&mut self.client, &bytes, &self.chunks)
    }

    /// The connection of `role`.
    pub fn get(&mut self, role: Role) -> &mut Connection {
        match role {
            Role::Client => &mut self.client,
            Role::Server => &mut self.server,
        }
    }

    /// Moves output from `from` to its peer; returns the peer's events.
    pub fn transfer(&mut self, from: Role) -> Vec<Owned> {
        match from {
            Role::Client => self.client_to_server(),
            Role::Server => self.server_to_client(),
        }
    }
}

/// The other role.
pub fn other(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// Merges consecutive streaming pieces of one message into a single piece (with the `fin`
/// of the last), so that event lists from different chunkings can be compared.
pub fn coalesce(events: Vec<Owned>) -> Vec<Owned> {
    let mut out: Vec<Owned> = Vec::new();
    for event in events {
        match (out.last_mut(), event) {
            (Some(Owned::TextPiece(text, fin @ false)), Owned::TextPiece(more, last)) => {
                text.push_str(&more);
                *fin = last;
            }
            (Some(Owned::BinaryPiece(data, fin @ false)), Owned::BinaryPiece(more, last)) => {
                data.extend_from_slice(&more);
                *fin = last;
            }
            (_, event) => out.push(event),
        }
    }
    out
}
