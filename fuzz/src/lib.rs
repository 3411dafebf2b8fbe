//! Shared helpers for the `ws-proto` fuzz targets: structured inputs (configs, chunk plans,
//! commands, frames), a frame encoder and an independent output decoder written from
//! RFC 6455 §5.2, and the invariant checks every target runs after every feed and command.
//!
//! Nothing here uses the crate's own codec: the bytes the connection writes are decoded by
//! [`WireChecker`], so an encoder bug cannot hide behind a matching decoder bug.

use std::time::Duration;

use arbitrary::Arbitrary;
use ws_proto::{
    Accept, CloseCause, CloseCode, Config, Connection, Delivery, Event, HandshakeError,
    ProtocolError, Request, Response, Rng, Role, SendError, State,
};

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

/// Largest control frame a connection can write: 2-byte header + 4-byte masking key + 125
/// bytes of payload.
pub const MAX_CONTROL_FRAME: usize = 2 + 4 + 125;

/// How far past `Config::max_outbound_buffer` the outbound queue may go (on top of the
/// HTTP handshake bytes still unwritten, which are never subject to the limit): the frames
/// the connection queues by itself and which are exempt from the limit. At most one
/// automatic Pong already in the queue, one more pending Pong (pushed in front of our Close
/// by `close()`), one Close frame, and one keepalive Ping: `3 * MAX_CONTROL_FRAME + 6` =
/// 399 bytes.
pub const OUTBOUND_SLACK: usize = 3 * MAX_CONTROL_FRAME + KEEPALIVE_PING;

/// Largest keepalive Ping the connection writes: an empty Ping, masked (2 + 4 bytes).
pub const KEEPALIVE_PING: usize = 2 + 4;

/// `WS_FUZZ_DEBUG=1` prints each run's events and output frames (for reproducing).
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("WS_FUZZ_DEBUG").is_some())
}

/// Guard against a runaway `poll_event` loop.
const MAX_EVENTS_PER_POLL: usize = 100_000;

// ---------------------------------------------------------------------------------------
// Deterministic random source
// ---------------------------------------------------------------------------------------

/// xorshift64: reproducible masking keys and handshake nonces.
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // xorshift must not start at 0.
        XorShift(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    fn next_u64(&mut self) -> u64 {
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

// ---------------------------------------------------------------------------------------
// Raw bytes
// ---------------------------------------------------------------------------------------

/// Bytes that, as the last field of an input, are simply the rest of the input (a derived
/// `Vec<u8>` would spend a "more?" byte per element), so seeds can carry wire bytes as is.
/// Elsewhere the length is read from the end of the input, like `&[u8]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Bytes {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Bytes(<&[u8]>::arbitrary(u)?.to_vec()))
    }

    fn arbitrary_take_rest(u: arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Bytes(u.take_rest().to_vec()))
    }
}

impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// A `Config` chosen by the fuzzer. Every field is read from the front of the input, and
/// an all-zero encoding means "the default", so hand-written seeds can start with zeros.
/// Non-zero values give small limits, so that the limits are actually hit.
#[derive(Arbitrary, Debug, Clone, Default)]
pub struct FuzzConfig {
    /// 0: default (16 MiB); n: n - 1 bytes.
    pub max_frame_size: u16,
    /// 0: default (16 MiB); n: n - 1 bytes.
    pub max_message_size: u16,
    /// 0: default; n: n - 1 frames.
    pub max_fragments: u8,
    /// 0: default (64 MiB); n: n - 1 bytes.
    pub max_outbound_buffer: u16,
    pub no_auto_pong: bool,
    pub streaming: bool,
    /// 0: `None`; n: `Some(n - 1)`.
    pub fragment_size: u8,
    /// 0: default (16 KiB); n: n - 1 bytes.
    pub max_head_size: u16,
    /// 0: default (64); n: n - 1.
    pub max_headers: u8,
    /// 0: default (16 KiB); n: n - 1 bytes.
    pub read_chunk: u8,
    /// 0: default (10 s); n: n * 10 ms.
    pub handshake_timeout: u8,
    /// 0: default (10 s); n: n * 10 ms.
    pub close_timeout: u8,
    /// 0: no keepalive; n: every n * 10 ms.
    pub keepalive_interval: u8,
    /// 0: default (20 s); n: n * 10 ms.
    pub keepalive_timeout: u8,
    pub deflate: FuzzDeflate,
}

/// permessage-deflate settings (all zero: the default, enabled).
#[derive(Arbitrary, Debug, Clone, Default)]
pub struct FuzzDeflate {
    pub disabled: bool,
    /// 0: 15; n: 8 + n % 8.
    pub server_max_window_bits: u8,
    /// 0: 15; n: 8 + n % 8.
    pub client_max_window_bits: u8,
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// 0: default (32); n: n - 1.
    pub min_message_size: u8,
    /// 0: default (1); n: (n - 1) % 10.
    pub level: u8,
}

fn or_default<T>(raw: u64, default: T, f: impl FnOnce(u64) -> T) -> T {
    if raw == 0 { default } else { f(raw - 1) }
}

fn ms(n: u8) -> Duration {
    Duration::from_millis(u64::from(n) * 10)
}

impl FuzzConfig {
    pub fn to_config(&self) -> Config {
        let mut c = Config::default();
        c.max_frame_size = or_default(self.max_frame_size.into(), c.max_frame_size, |n| n);
        c.max_message_size = or_default(self.max_message_size.into(), c.max_message_size, |n| n);
        c.max_fragments = or_default(self.max_fragments.into(), c.max_fragments, |n| n as u32);
        c.max_outbound_buffer = or_default(
            self.max_outbound_buffer.into(),
            c.max_outbound_buffer,
            |n| n as usize,
        );
        c.auto_pong = !self.no_auto_pong;
        c.delivery = if self.streaming {
            Delivery::Streaming
        } else {
            Delivery::Whole
        };
        c.fragment_size = or_default(self.fragment_size.into(), None, |n| Some(n as usize));
        c.max_head_size = or_default(self.max_head_size.into(), c.max_head_size, |n| n as usize);
        c.max_headers = or_default(self.max_headers.into(), c.max_headers, |n| n as usize);
        c.read_chunk = or_default(self.read_chunk.into(), c.read_chunk, |n| n as usize);
        if self.handshake_timeout != 0 {
            c.handshake_timeout = Some(ms(self.handshake_timeout));
        }
        if self.close_timeout != 0 {
            c.close_timeout = Some(ms(self.close_timeout));
        }
        if self.keepalive_interval != 0 {
            c.keepalive_interval = Some(ms(self.keepalive_interval));
        }
        if self.keepalive_timeout != 0 {
            c.keepalive_timeout = ms(self.keepalive_timeout);
        }
        let d = &self.deflate;
        c.deflate.enabled = !d.disabled;
        let bits = |raw: u8| if raw == 0 { 15 } else { 8 + raw % 8 };
        c.deflate.server_max_window_bits = bits(d.server_max_window_bits);
        c.deflate.client_max_window_bits = bits(d.client_max_window_bits);
        c.deflate.server_no_context_takeover = d.server_no_context_takeover;
        c.deflate.client_no_context_takeover = d.client_no_context_takeover;
        c.deflate.min_message_size =
            or_default(d.min_message_size.into(), c.deflate.min_message_size, |n| {
                n as usize
            });
        c.deflate.level = or_default(d.level.into(), c.deflate.level, |n| (n % 10) as u32);
        c
    }
}

// ---------------------------------------------------------------------------------------
// Commands and chunk plans
// ---------------------------------------------------------------------------------------

/// Close codes worth trying, valid and invalid (picked by `Command::Close`).
const CLOSE_CODES: &[u16] = &[
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 1016, 2999, 3000, 4999, 5000,
    0, 999,
];

/// An application command (or driver action) between feeds. Variant 0 is harmless.
#[derive(Arbitrary, Debug, Clone)]
pub enum Command {
    /// Write up to n bytes of output and report them written.
    Transmit(u16),
    /// Write all pending output.
    TransmitAll,
    SendText(String),
    SendBinary(Vec<u8>),
    SendTextPart {
        text: String,
        fin: bool,
    },
    SendBinaryPart {
        data: Vec<u8>,
        fin: bool,
    },
    /// A message of `len` bytes (`a` repeated), to hit the outbound limit.
    SendBig {
        len: u16,
        text: bool,
    },
    SendPing(Vec<u8>),
    SendPong(Vec<u8>),
    /// `code`: an index into a table of interesting codes when even, else a raw code.
    Close {
        code: u16,
        reason: String,
    },
    Eof,
    /// Advance the clock by n ms and call `handle_timeout`.
    Tick(u16),
}

/// One step of a chunk plan.
#[derive(Arbitrary, Debug, Clone)]
pub enum Step {
    /// Feed the next n bytes with `handle_bytes`.
    Feed(u16),
    /// Feed the next n bytes through `read_buf` / `ReadBuf::commit`.
    Read(u16),
    Cmd(Command),
}

/// How a server answers the handshake request.
#[derive(Arbitrary, Debug, Clone)]
pub enum Answer {
    Accept {
        /// Index into the offered subprotocols.
        subprotocol: Option<u8>,
        /// Index into the offered extensions (offering permessage-deflate must be refused:
        /// the connection manages it).
        extension: Option<u8>,
        /// A subprotocol the client did not offer (must be refused, then we accept plainly).
        bogus_subprotocol: bool,
        header: Option<(String, String)>,
    },
    Reject {
        status: u16,
        body: Vec<u8>,
        header: Option<(String, String)>,
    },
    /// Leave the request unanswered.
    Ignore,
}

impl Default for Answer {
    fn default() -> Self {
        Answer::Accept {
            subprotocol: None,
            extension: None,
            bogus_subprotocol: false,
            header: None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Frame encoder
// ---------------------------------------------------------------------------------------

/// How a frame's payload length is written.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenEnc {
    Minimal,
    /// 126 + 16 bits (non-minimal below 126; falls back to 64 bits above 0xFFFF).
    Ext16,
    /// 127 + 64 bits (non-minimal below 0x10000).
    Ext64,
    /// 127 + 64 bits with the most significant bit set.
    Ext64Msb,
    /// Declare this length whatever the payload is (minimal encoding of the declared
    /// value): the payload then desynchronises the stream.
    Declared(u64),
}

/// How a frame is masked.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskChoice {
    /// As a legal peer of the receiver would: masked (fixed key) iff the receiver is a server.
    Proper,
    Unmasked,
    Key([u8; 4]),
}

/// A frame as the fuzzer describes it.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzFrame {
    pub fin: bool,
    /// Low 3 bits used.
    pub rsv: u8,
    /// Low 4 bits used.
    pub opcode: u8,
    pub mask: MaskChoice,
    pub len: LenEnc,
    pub payload: Vec<u8>,
}

pub const PEER_KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// Writes a frame header declaring `len` bytes.
pub fn encode_header(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    enc: LenEnc,
) {
    out.push((u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0xF));
    let m = if mask.is_some() { 0x80 } else { 0 };
    let (len, enc) = match enc {
        LenEnc::Declared(d) => (d, LenEnc::Minimal),
        other => (len, other),
    };
    match enc {
        LenEnc::Minimal if len < 126 => out.push(m | len as u8),
        LenEnc::Minimal | LenEnc::Ext16 if len <= 0xFFFF => {
            out.push(m | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        LenEnc::Ext64Msb => {
            out.push(m | 127);
            out.extend_from_slice(&(len | 1 << 63).to_be_bytes());
        }
        _ => {
            out.push(m | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Encodes a whole frame; `receiver` decides what `MaskChoice::Proper` means.
pub fn encode_frame(out: &mut Vec<u8>, f: &FuzzFrame, receiver: Role) {
    let mask = match f.mask {
        MaskChoice::Proper => (receiver == Role::Server).then_some(PEER_KEY),
        MaskChoice::Unmasked => None,
        MaskChoice::Key(k) => Some(k),
    };
    encode_header(
        out,
        f.fin,
        f.rsv,
        f.opcode,
        mask,
        f.payload.len() as u64,
        f.len,
    );
    push_payload(out, &f.payload, mask);
}

/// Appends `payload`, masked with `mask` if any.
pub fn push_payload(out: &mut Vec<u8>, payload: &[u8], mask: Option<[u8; 4]>) {
    match mask {
        Some(k) => out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4])),
        None => out.extend_from_slice(payload),
    }
}

/// A legal frame from a peer of `receiver`.
pub fn peer_frame(out: &mut Vec<u8>, receiver: Role, fin: bool, opcode: u8, payload: &[u8]) {
    let mask = (receiver == Role::Server).then_some(PEER_KEY);
    encode_header(
        out,
        fin,
        0,
        opcode,
        mask,
        payload.len() as u64,
        LenEnc::Minimal,
    );
    push_payload(out, payload, mask);
}

/// Either raw wire bytes or frames to encode.
#[derive(Arbitrary, Debug, Clone)]
pub enum FrameSource {
    Raw(Bytes),
    Frames(Vec<FuzzFrame>),
}

impl FrameSource {
    pub fn bytes(&self, receiver: Role) -> Vec<u8> {
        match self {
            FrameSource::Raw(b) => b.0.clone(),
            FrameSource::Frames(frames) => {
                let mut out = Vec::new();
                for f in frames {
                    encode_frame(&mut out, f, receiver);
                }
                out
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Owned events
// ---------------------------------------------------------------------------------------

/// An event with its payload owned, for recording and comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Request(Box<Request>),
    HttpRequest(Box<Request>),
    Connected(Box<Response>),
    Rejected(Box<Response>, Vec<u8>),
    Text(String),
    Binary(Vec<u8>),
    TextPiece(String, bool),
    BinaryPiece(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// `Event::Closed`: a Close exchange, the transport's end, or a timeout.
    Close(u16, String),
    /// `Event::Closed`: the peer broke the protocol.
    Error(ProtocolError),
    /// `Event::Closed`: the opening handshake failed (or was refused).
    HandshakeFailed(HandshakeError),
}

impl Ev {
    pub fn from_event(event: Event<'_>) -> Ev {
        match event {
            Event::Request(r) => Ev::Request(r),
            Event::HttpRequest(r) => Ev::HttpRequest(r),
            Event::Connected(r) => Ev::Connected(r),
            Event::Rejected { response, body } => Ev::Rejected(response, body.to_vec()),
            Event::Text(t) => Ev::Text(t.to_owned()),
            Event::Binary(b) => Ev::Binary(b.to_vec()),
            Event::TextPiece { text, fin } => Ev::TextPiece(text.to_owned(), fin),
            Event::BinaryPiece { data, fin } => Ev::BinaryPiece(data.to_vec(), fin),
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Closed(closed) => {
                // The terminal event's fields agree with each other.
                let clean = matches!(closed.cause, CloseCause::PeerClose | CloseCause::LocalClose);
                assert_eq!(closed.was_clean, clean, "{closed:?}");
                match closed.cause {
                    CloseCause::ProtocolError(e) => {
                        assert_eq!((closed.code, closed.reason), (e.close_code(), e.reason()));
                        Ev::Error(e)
                    }
                    CloseCause::HandshakeFailed(e) => {
                        assert_eq!((closed.code.0, closed.reason), (1006, ""));
                        Ev::HandshakeFailed(e)
                    }
                    _ => Ev::Close(closed.code.0, closed.reason.to_owned()),
                }
            }
            other => panic!("an event this harness does not know: {other:?}"),
        }
    }

    /// No event may follow this one.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Ev::Error(_) | Ev::Close(..) | Ev::HandshakeFailed(_))
    }
}

/// Merges consecutive streaming pieces of one message (chunking decides where pieces
/// split), and drops an unfinished piece right before an `Error` (how much of a failing
/// message was delivered before the failure depends on the chunking too).
pub fn normalize(events: &[Ev]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for event in events.iter().cloned() {
        match (out.last_mut(), event) {
            (Some(Ev::TextPiece(text, fin @ false)), Ev::TextPiece(more, last)) => {
                text.push_str(&more);
                *fin = last;
            }
            (Some(Ev::BinaryPiece(data, fin @ false)), Ev::BinaryPiece(more, last)) => {
                data.extend_from_slice(&more);
                *fin = last;
            }
            (Some(Ev::TextPiece(_, false) | Ev::BinaryPiece(_, false)), Ev::Error(e)) => {
                *out.last_mut().unwrap() = Ev::Error(e);
            }
            (_, event) => out.push(event),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Output checker: an independent decoder of what the connection writes
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WireMode {
    /// A client's HTTP request head (no body), then frames.
    ClientRequest,
    /// A server's HTTP response head: 101 then frames, else a body then nothing.
    ServerResponse,
    /// The body of a refusal: this many bytes, then nothing.
    Body(usize),
    Frames,
    /// Nothing more may be written (after our Close frame, or after a refusal).
    Nothing,
}

/// Decodes everything a connection writes and checks it against RFC 6455: masking per
/// role, close codes (§7.4), control frame rules, fragmentation, nothing after Close.
#[derive(Debug)]
pub struct WireChecker {
    role: Role,
    mode: WireMode,
    buf: Vec<u8>,
    /// Total bytes seen.
    pub total: u64,
    /// Bytes of HTTP (head and body) seen.
    pub http_bytes: u64,
    /// The status of the server's response, once seen.
    pub status: Option<u16>,
    /// The `Sec-WebSocket-Key` of the client's request, once seen.
    pub key: Option<String>,
    /// The data message in progress: (opcode, compressed, payload so far).
    message: Option<(u8, bool, Vec<u8>)>,
    /// Whole frames seen: (fin, rsv, opcode, payload).
    pub frames: Vec<(bool, u8, u8, Vec<u8>)>,
    pub close_sent: bool,
    /// Every byte written, in order.
    pub raw: Vec<u8>,
}

impl WireChecker {
    pub fn new(role: Role, handshake: bool) -> Self {
        let mode = match (handshake, role) {
            (false, _) => WireMode::Frames,
            (true, Role::Client) => WireMode::ClientRequest,
            (true, Role::Server) => WireMode::ServerResponse,
        };
        WireChecker {
            role,
            mode,
            buf: Vec::new(),
            total: 0,
            http_bytes: 0,
            status: None,
            key: None,
            message: None,
            frames: Vec::new(),
            close_sent: false,
            raw: Vec::new(),
        }
    }

    /// Takes the next written bytes; `deflate` says whether permessage-deflate is on.
    pub fn push(&mut self, bytes: &[u8], deflate: bool) {
        self.total += bytes.len() as u64;
        self.raw.extend_from_slice(bytes);
        self.buf.extend_from_slice(bytes);
        while self.step(deflate) {}
    }

    /// Whether all bytes seen form complete units (frames / heads).
    pub fn is_at_boundary(&self) -> bool {
        self.buf.is_empty() && !matches!(self.mode, WireMode::Body(n) if n > 0)
    }

    fn step(&mut self, deflate: bool) -> bool {
        match self.mode {
            WireMode::ClientRequest | WireMode::ServerResponse => {
                let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                    return false;
                };
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                self.http_bytes += head.len() as u64;
                let text = std::str::from_utf8(&head).expect("HTTP head we wrote is not UTF-8");
                let mut lines = text.split("\r\n");
                let start = lines.next().unwrap_or_default();
                if self.mode == WireMode::ClientRequest {
                    assert!(start.starts_with("GET "), "bad request line {start:?}");
                    assert!(start.ends_with(" HTTP/1.1"), "bad request line {start:?}");
                    for line in lines {
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("sec-websocket-key")
                        {
                            self.key = Some(value.trim().to_owned());
                        }
                    }
                    assert!(self.key.is_some(), "request without Sec-WebSocket-Key");
                    self.mode = WireMode::Frames;
                } else {
                    assert!(start.starts_with("HTTP/1.1 "), "bad status line {start:?}");
                    let status: u16 = start[9..12].parse().expect("status code");
                    self.status = Some(status);
                    let mut length = None;
                    for line in lines {
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            assert!(length.is_none(), "two Content-Length headers");
                            length = Some(value.trim().parse::<usize>().expect("Content-Length"));
                        }
                    }
                    if status == 101 {
                        assert!(length.is_none(), "101 with Content-Length");
                        self.mode = WireMode::Frames;
                    } else {
                        assert!(status >= 200, "interim status {status} as final answer");
                        self.mode = WireMode::Body(length.unwrap_or(0));
                    }
                }
                true
            }
            WireMode::Body(n) => {
                let take = n.min(self.buf.len());
                self.buf.drain(..take);
                self.http_bytes += take as u64;
                self.mode = if take == n {
                    WireMode::Nothing
                } else {
                    WireMode::Body(n - take)
                };
                if self.mode == WireMode::Nothing {
                    assert!(self.buf.is_empty(), "bytes written after a refusal");
                }
                false
            }
            WireMode::Nothing => {
                assert!(
                    self.buf.is_empty(),
                    "{} bytes written after our Close frame or a refusal: {:02x?}",
                    self.buf.len(),
                    &self.buf[..self.buf.len().min(32)]
                );
                false
            }
            WireMode::Frames => self.frame(deflate),
        }
    }

    fn frame(&mut self, deflate: bool) -> bool {
        let b = &self.buf;
        if b.len() < 2 {
            return false;
        }
        let (len, mut pos) = match b[1] & 0x7F {
            126 => {
                if b.len() < 4 {
                    return false;
                }
                let len = u64::from(u16::from_be_bytes([b[2], b[3]]));
                assert!(len >= 126, "we wrote a non-minimal 16-bit length {len}");
                (len, 4)
            }
            127 => {
                if b.len() < 10 {
                    return false;
                }
                let len = u64::from_be_bytes(b[2..10].try_into().unwrap());
                assert!(len > 0xFFFF, "we wrote a non-minimal 64-bit length {len}");
                assert!(len >> 63 == 0, "we wrote a 64-bit length with the MSB set");
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        let masked = b[1] & 0x80 != 0;
        match self.role {
            Role::Client => assert!(masked, "a client wrote an unmasked frame"),
            Role::Server => assert!(!masked, "a server wrote a masked frame"),
        }
        let key = if masked {
            if b.len() < pos + 4 {
                return false;
            }
            let k = [b[pos], b[pos + 1], b[pos + 2], b[pos + 3]];
            pos += 4;
            Some(k)
        } else {
            None
        };
        let len = len as usize;
        if b.len() < pos + len {
            return false;
        }
        let fin = b[0] & 0x80 != 0;
        let rsv = (b[0] >> 4) & 7;
        let opcode = b[0] & 0xF;
        let mut payload = b[pos..pos + len].to_vec();
        if let Some(k) = key {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= k[i % 4];
            }
        }
        self.buf.drain(..pos + len);
        self.check_frame(fin, rsv, opcode, &payload, deflate);
        self.frames.push((fin, rsv, opcode, payload));
        true
    }

    fn check_frame(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8], deflate: bool) {
        assert!(
            rsv == 0 || (rsv == 4 && deflate && matches!(opcode, 1 | 2)),
            "we wrote RSV bits {rsv:#b} on opcode {opcode:#x} (deflate: {deflate})"
        );
        match opcode {
            0x8..=0xA => {
                assert!(fin, "we wrote a fragmented control frame");
                assert!(
                    payload.len() <= 125,
                    "we wrote a control frame of {}",
                    payload.len()
                );
                if opcode == 0x8 {
                    check_close_body(payload);
                    self.close_sent = true;
                    self.mode = WireMode::Nothing;
                }
            }
            0x0 => {
                let Some((op, compressed, data)) = self.message.as_mut() else {
                    panic!("we wrote a continuation frame outside a message");
                };
                data.extend_from_slice(payload);
                if fin {
                    let (op, compressed, data) = (*op, *compressed, core::mem::take(data));
                    self.message = None;
                    check_message(op, compressed, &data);
                }
            }
            0x1 | 0x2 => {
                assert!(
                    self.message.is_none(),
                    "we started a message inside another"
                );
                if fin {
                    check_message(opcode, rsv == 4, payload);
                } else {
                    self.message = Some((opcode, rsv == 4, payload.to_vec()));
                }
            }
            other => panic!("we wrote reserved opcode {other:#x}"),
        }
    }
}

fn check_message(opcode: u8, compressed: bool, data: &[u8]) {
    if opcode == 1 && !compressed {
        assert!(
            std::str::from_utf8(data).is_ok(),
            "we wrote a text message that is not UTF-8"
        );
    }
}

/// The close code may appear in a Close frame (RFC 6455 §7.4.1, §7.4.2): 1000–1003,
/// 1007–1014 (the IANA registry), 3000–4999. Never 1004, 1005, 1006, 1015.
pub fn is_valid_wire_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Checks a Close frame body we wrote.
pub fn check_close_body(payload: &[u8]) {
    match payload {
        [] => {}
        [_] => panic!("we wrote a Close frame with a 1-byte body"),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            assert!(
                !matches!(code, 1005 | 1006 | 1015),
                "we wrote reserved close code {code}"
            );
            assert!(
                is_valid_wire_close_code(code),
                "we wrote invalid close code {code}"
            );
            assert!(
                std::str::from_utf8(reason).is_ok(),
                "we wrote a non-UTF-8 close reason"
            );
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// The harness: drives a connection and checks the invariants after every action
// ---------------------------------------------------------------------------------------

/// Drives one connection like an event loop would, checking the invariants after every
/// feed, command, event and write.
pub struct Harness {
    pub conn: Connection,
    pub role: Role,
    pub config: Config,
    pub wire: WireChecker,
    pub events: Vec<Ev>,
    buf: Vec<u8>,
    /// An event that ends the connection was seen.
    pub terminated: bool,
    /// Upper bound for `buffered_input()`: its last value plus the bytes fed since.
    input_bound: usize,
    pub fed: u64,
    /// Bytes reported written.
    pub written: u64,
    /// HTTP bytes queued (request/response/refusal): outside the outbound limit.
    http_queued: u64,
    now: Duration,
    /// Reported by an `Event::Request`, waiting for an answer.
    pub pending_request: Option<Box<Request>>,
    pub answer: Answer,
    /// Streaming bytes of the message being received so far.
    streamed: u64,
}

impl Harness {
    /// Wraps `conn`; `handshake` says whether it starts with the opening handshake.
    pub fn new(conn: Connection, handshake: bool) -> Self {
        let role = conn.role();
        let config = conn.config().clone();
        let mut h = Harness {
            role,
            wire: WireChecker::new(role, handshake),
            events: Vec::new(),
            buf: Vec::new(),
            terminated: false,
            input_bound: 0,
            fed: 0,
            written: 0,
            // A client's request is queued at construction.
            http_queued: conn.buffered_amount() as u64,
            now: Duration::ZERO,
            pending_request: None,
            answer: Answer::default(),
            streamed: 0,
            config,
            conn,
        };
        if !handshake {
            assert_eq!(
                h.http_queued, 0,
                "an upgraded connection queued output at once"
            );
        }
        assert_eq!(h.conn.buffered_input(), 0);
        h.check();
        h
    }

    fn deflate_on(&self) -> bool {
        self.conn.negotiated().deflate().is_some()
    }

    /// The invariants that must hold after anything.
    pub fn check(&mut self) {
        let input = self.conn.buffered_input();
        assert!(
            input <= self.input_bound,
            "buffered_input {input} > previous {} + fed since",
            self.input_bound
        );
        assert!(
            input as u64 <= self.fed,
            "buffered_input {input} > all bytes fed {}",
            self.fed
        );
        if self.terminated {
            assert_eq!(input, 0, "input still buffered after the connection ended");
        }
        self.input_bound = input;

        let unwritten_http = self.http_queued.saturating_sub(self.written) as usize;
        let out = self.conn.buffered_amount();
        let limit = self.config.max_outbound_buffer;
        assert!(
            out <= limit + OUTBOUND_SLACK + unwritten_http,
            "buffered_amount {out} > max_outbound_buffer {limit} + {OUTBOUND_SLACK} + \
             unwritten HTTP {unwritten_http}"
        );
    }

    /// Feeds bytes with `handle_bytes`, then polls.
    pub fn feed(&mut self, data: &[u8]) {
        self.conn.handle_bytes(data);
        self.fed += data.len() as u64;
        self.input_bound += data.len();
        self.check();
        self.poll();
    }

    /// Feeds bytes through `read_buf` / `ReadBuf::commit`, then polls.
    pub fn read(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let mut rb = self.conn.read_buf();
            // Usually read_chunk bytes or more; shorter while a large frame is read into
            // place (its rest, or one header after it); never empty.
            assert!(!rb.is_empty(), "read_buf offered no room");
            let n = rb.len().min(data.len());
            rb[..n].copy_from_slice(&data[..n]);
            rb.commit(n);
            self.fed += n as u64;
            self.input_bound += n;
            data = &data[n..];
            self.check();
            self.poll();
        }
    }

    pub fn eof(&mut self) {
        self.conn.handle_eof();
        self.check();
        self.poll();
    }

    pub fn tick(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.conn.handle_timeout(self.now);
        self.check();
        self.poll();
    }

    /// Polls every available event, answering a handshake request with `self.answer`.
    pub fn poll(&mut self) {
        for _ in 0..MAX_EVENTS_PER_POLL {
            let before = self.conn.buffered_amount();
            let Some(event) = self.conn.poll_event(&mut self.buf) else {
                self.check();
                return;
            };
            let ev = Ev::from_event(event);
            assert!(
                !self.terminated,
                "event {ev:?} after the connection ended (events so far: {:?})",
                self.events
            );
            if matches!(ev, Ev::HandshakeFailed(_)) && self.role == Role::Server {
                // The HTTP error answer was queued by this poll.
                self.http_queued += (self.conn.buffered_amount() - before) as u64;
            }
            self.on_event(&ev);
            self.events.push(ev.clone());
            self.check();
            match ev {
                Ev::Request(req) => {
                    self.pending_request = Some(req);
                    self.respond();
                }
                Ev::HttpRequest(_) => {
                    // A plain request: not an upgrade, answered with a page.
                    let before = self.conn.buffered_amount();
                    assert!(self.conn.accept(&Accept::default()).is_err());
                    assert_eq!(self.conn.buffered_amount(), before, "failed accept queued");
                    self.conn
                        .respond(200, &[], b"page")
                        .expect("answering a plain request");
                    assert!(self.conn.is_finished(), "events may follow a response");
                    assert_eq!(self.conn.state(), State::Closed);
                    self.http_queued += (self.conn.buffered_amount() - before) as u64;
                    self.terminated = true;
                    self.check();
                }
                _ => {}
            }
        }
        panic!("runaway poll_event loop");
    }

    fn on_event(&mut self, ev: &Ev) {
        match ev {
            Ev::HttpRequest(r) => {
                assert_eq!(self.role, Role::Server, "a client got an HttpRequest");
                assert!(!r.is_upgrade());
            }
            Ev::Request(_) => {
                assert_eq!(self.role, Role::Server, "a client got a Request");
                assert!(
                    !self.events.iter().any(|e| matches!(e, Ev::Request(_))),
                    "two Requests"
                );
            }
            Ev::Rejected(_, body) => {
                assert_eq!(self.role, Role::Client, "a server got {ev:?}");
                assert!(
                    body.len() <= self.config.max_head_size,
                    "refusal body too long"
                );
            }
            Ev::Connected(_) => {
                assert_eq!(self.role, Role::Client, "a server got {ev:?}");
                assert!(
                    !self.events.iter().any(|e| matches!(e, Ev::Connected(_))),
                    "two Connected"
                );
            }
            Ev::Text(t) => self.check_message_len(t.len()),
            Ev::Binary(b) => self.check_message_len(b.len()),
            Ev::TextPiece(t, fin) => self.check_piece(t.len(), *fin),
            Ev::BinaryPiece(b, fin) => self.check_piece(b.len(), *fin),
            Ev::Ping(p) | Ev::Pong(p) => assert!(p.len() <= 125, "control payload {}", p.len()),
            Ev::Close(code, reason) => {
                assert!(
                    CloseCode(*code).is_sendable() || matches!(code, 1005 | 1006),
                    "reported close code {code}"
                );
                assert!(
                    reason.len() <= 123,
                    "close reason of {} bytes",
                    reason.len()
                );
                if matches!(code, 1005 | 1006) {
                    assert!(reason.is_empty(), "reason with code {code}");
                }
            }
            Ev::HandshakeFailed(e) => {
                if let Some(Ev::Rejected(response, _)) = self.events.last() {
                    assert_eq!(*e, HandshakeError::Rejected(response.status()));
                }
            }
            Ev::Error(_) => {}
        }
        if let Some(Ev::Rejected(..)) = self.events.last() {
            assert!(
                matches!(ev, Ev::HandshakeFailed(HandshakeError::Rejected(_))),
                "{ev:?} after Rejected"
            );
        }
        if ev.is_terminal() {
            self.terminated = true;
        }
    }

    fn check_message_len(&mut self, len: usize) {
        assert!(
            len as u64 <= self.config.max_message_size,
            "message of {len} bytes > max_message_size {}",
            self.config.max_message_size
        );
        assert_eq!(
            self.config.delivery,
            Delivery::Whole,
            "whole message in streaming mode"
        );
    }

    fn check_piece(&mut self, len: usize, fin: bool) {
        assert_eq!(
            self.config.delivery,
            Delivery::Streaming,
            "piece in whole mode"
        );
        self.streamed += len as u64;
        assert!(
            self.streamed <= self.config.max_message_size,
            "streamed message of {} bytes > max_message_size {}",
            self.streamed,
            self.config.max_message_size
        );
        if fin {
            self.streamed = 0;
        }
    }

    /// Answers the pending request per `self.answer`.
    fn respond(&mut self) {
        let Some(req) = self.pending_request.clone() else {
            return;
        };
        let before = self.conn.buffered_amount();
        match self.answer.clone() {
            Answer::Ignore => return,
            Answer::Accept {
                subprotocol,
                extension,
                bogus_subprotocol,
                header,
            } => {
                let mut accept = Accept::default();
                if let Some(i) = subprotocol
                    && !req.subprotocols().is_empty()
                {
                    let p = &req.subprotocols()[usize::from(i) % req.subprotocols().len()];
                    accept.subprotocol = Some(p.clone());
                }
                if bogus_subprotocol {
                    let mut bogus = String::from("x-not-offered");
                    while req.subprotocols().contains(&bogus) {
                        bogus.push('x');
                    }
                    let refused = Accept {
                        subprotocol: Some(bogus),
                        ..Accept::default()
                    };
                    assert!(
                        self.conn.accept(&refused).is_err(),
                        "accepted a bogus subprotocol"
                    );
                    assert_eq!(
                        self.conn.buffered_amount(),
                        before,
                        "failed accept queued bytes"
                    );
                    assert_eq!(self.conn.state(), State::Connecting);
                }
                if let Some(i) = extension
                    && !req.extensions().is_empty()
                {
                    let e = &req.extensions()[usize::from(i) % req.extensions().len()];
                    accept.extensions.push(e.clone());
                }
                if let Some(h) = header {
                    accept.headers.push(h);
                }
                if let Err(e) = self.conn.accept(&accept) {
                    assert_eq!(
                        self.conn.buffered_amount(),
                        before,
                        "failed accept queued bytes"
                    );
                    assert_eq!(self.conn.state(), State::Connecting, "failed accept: {e:?}");
                    if let Err(e) = self.conn.accept(&Accept::default()) {
                        panic!("plain accept of a parsed request failed: {e:?}");
                    }
                }
                assert_ne!(
                    self.conn.state(),
                    State::Connecting,
                    "accepted but still connecting"
                );
            }
            Answer::Reject {
                status,
                body,
                header,
            } => {
                let headers: Vec<(String, String)> = header.into_iter().collect();
                if self.conn.respond(status, &headers, &body).is_err() {
                    assert_eq!(
                        self.conn.buffered_amount(),
                        before,
                        "failed reject queued bytes"
                    );
                    assert_eq!(self.conn.state(), State::Connecting);
                    self.conn
                        .respond(403, &[], b"no")
                        .expect("plain reject failed");
                }
                assert_eq!(self.conn.state(), State::Closed, "rejected but not Closed");
            }
        }
        self.http_queued += (self.conn.buffered_amount() - before) as u64;
        self.pending_request = None;
        self.check();
        // Frames the client sent early are decoded next.
        self.poll();
    }

    /// Writes up to `max` bytes of output.
    pub fn transmit(&mut self, max: usize) -> usize {
        let deflate = self.deflate_on();
        let pending = self.conn.poll_transmit();
        let n = pending.len().min(max);
        self.wire.push(&pending[..n], deflate);
        pending.advance(n);
        self.written += n as u64;
        self.check();
        n
    }

    /// Writes all output.
    pub fn drain(&mut self) {
        for _ in 0..1000 {
            if self.transmit(usize::MAX) == 0 {
                return;
            }
        }
        panic!("poll_transmit never empties");
    }

    /// Runs one command, checking that a refused command changes nothing.
    pub fn command(&mut self, cmd: &Command) {
        let before = (self.conn.buffered_amount(), self.conn.state());
        let was_open = before.1 == State::Open;
        let result: Result<(), SendError> = match cmd {
            Command::Transmit(n) => {
                self.transmit(usize::from(*n));
                return;
            }
            Command::TransmitAll => {
                self.drain();
                return;
            }
            Command::Eof => {
                self.eof();
                return;
            }
            Command::Tick(ms) => {
                self.tick(u64::from(*ms));
                return;
            }
            Command::SendText(t) => self.conn.send_text(t),
            Command::SendBinary(b) => self.conn.send_binary(b),
            Command::SendTextPart { text, fin } => self.conn.send_text_part(text, *fin),
            Command::SendBinaryPart { data, fin } => self.conn.send_binary_part(data, *fin),
            Command::SendBig { len, text } => {
                let data = vec![b'a'; usize::from(*len)];
                if *text {
                    self.conn.send_text(std::str::from_utf8(&data).unwrap())
                } else {
                    self.conn.send_binary(&data)
                }
            }
            Command::SendPing(p) => self.conn.send_ping(p),
            Command::SendPong(p) => self.conn.send_pong(p),
            Command::Close { code, reason } => {
                let code = if code % 2 == 0 {
                    CLOSE_CODES[usize::from(code / 2) % CLOSE_CODES.len()]
                } else {
                    code / 2
                };
                let r = self.conn.close(CloseCode(code), reason);
                if r.is_ok() {
                    assert!(
                        CloseCode(code).is_sendable() || code == 1005 && reason.is_empty(),
                        "close({code}) accepted"
                    );
                }
                r
            }
        };
        match result {
            Ok(()) => assert!(was_open, "a command succeeded in state {:?}", before.1),
            Err(e) => {
                assert_eq!(
                    (self.conn.buffered_amount(), self.conn.state()),
                    before,
                    "refused command ({e:?}) changed the connection"
                );
                if matches!(e, SendError::NotOpen) {
                    assert_eq!(before.1, State::Connecting);
                }
            }
        }
        self.check();
        self.poll();
    }

    /// Runs a chunk plan over `data`, then feeds what is left; returns the bytes not used.
    pub fn run_plan(&mut self, steps: &[Step], data: &[u8]) {
        let mut pos = 0;
        for step in steps {
            match step {
                Step::Feed(n) | Step::Read(n) => {
                    let end = (pos + usize::from(*n)).min(data.len());
                    let chunk = &data[pos..end];
                    pos = end;
                    if matches!(step, Step::Feed(_)) {
                        self.feed(chunk);
                    } else {
                        self.read(chunk);
                    }
                }
                Step::Cmd(cmd) => self.command(cmd),
            }
        }
        self.feed(&data[pos..]);
    }

    /// The end of a run: write everything, and after that the output must end on a frame
    /// boundary.
    pub fn finish(&mut self) {
        self.poll();
        self.drain();
        if debug() {
            eprintln!("{:?} events: {:?}", self.role, self.events);
            eprintln!(
                "wrote {} bytes ({} HTTP), frames: {:?}",
                self.wire.total, self.wire.http_bytes, self.wire.frames
            );
        }
        assert!(
            self.wire.is_at_boundary(),
            "output ends inside a frame or head: {:?}",
            self.wire
        );
        // Whatever is fed after the end yields nothing.
        if self.terminated {
            self.feed(&[0x81, 0x00, 0x88, 0x00]);
            self.eof();
            assert!(self.conn.poll_event(&mut self.buf).is_none());
        }
    }
}
