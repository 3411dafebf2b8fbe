//! The benchmark workloads and their inputs, built once: payloads, masked client frames,
//! and the expected tallies that every implementation must reproduce.

/// Masked client frames: what a server receives.
pub struct Recv {
    /// `per_pass` messages of masked client frames.
    pub wire: Vec<u8>,
    /// Frames per message (1, or 16 for the fragmented workload).
    pub fragments: usize,
}

pub enum Dir {
    Recv(Recv),
    /// Messages to send; `client` masks.
    Send {
        client: bool,
    },
}

pub struct Workload {
    pub name: String,
    pub dir: Dir,
    pub text: bool,
    /// One message's payload (valid UTF-8 for text).
    pub payload: Vec<u8>,
    /// The payload as a `String` for text workloads, validated once here so that no
    /// implementation pays for UTF-8 validation per run (core's is slow on mixed text: at
    /// 1 MiB it cost about as much as the run's 64 sends).
    pub text_payload: Option<String>,
    /// Messages per pass over the input; a run makes `repeat` passes.
    pub per_pass: usize,
    pub repeat: usize,
}

impl Workload {
    pub fn messages(&self, repeat: usize) -> usize {
        self.per_pass * repeat
    }

    pub fn bytes(&self, repeat: usize) -> usize {
        self.messages(repeat) * self.payload.len()
    }

    /// What a run of `repeat` passes must produce. Receive runs tally payloads; send runs
    /// tally bytes written (light) or the payloads decoded back from them (full).
    pub fn expected(&self, repeat: usize, full: bool) -> Tally {
        let messages = self.messages(repeat) as u64;
        match (&self.dir, full) {
            (Dir::Send { client }, false) => Tally {
                messages,
                bytes: messages * frame_len(self.payload.len(), *client) as u64,
                check: 0,
            },
            _ => Tally {
                messages,
                bytes: self.bytes(repeat) as u64,
                check: digest(&self.payload, full).wrapping_mul(messages),
            },
        }
    }
}

/// Messages, bytes and a checksum over every payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub messages: u64,
    pub bytes: u64,
    pub check: u64,
}

impl Tally {
    /// Counts one received message.
    #[inline]
    pub fn add(&mut self, payload: &[u8], full: bool) {
        self.messages += 1;
        self.bytes += payload.len() as u64;
        self.check = self.check.wrapping_add(digest(payload, full));
    }
}

/// A checksum of one payload: over every byte in verification runs (`full`), over the
/// first and last bytes in timed runs (so the timed loop measures the library, while
/// nothing can be optimised away).
#[inline]
pub fn digest(payload: &[u8], full: bool) -> u64 {
    if !full {
        let (first, last) = (payload.first(), payload.last());
        return u64::from(*first.unwrap_or(&0)) + (u64::from(*last.unwrap_or(&0)) << 8);
    }
    let mut words = payload.chunks_exact(8);
    let mut h = payload.len() as u64;
    for w in &mut words {
        h = (h ^ u64::from_le_bytes(w.try_into().unwrap())).wrapping_mul(0x100_0000_01b3);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Bytes on the wire for one frame of `len` payload bytes.
pub fn frame_len(len: usize, masked: bool) -> usize {
    let ext = match len {
        0..=125 => 0,
        126..=65535 => 2,
        _ => 8,
    };
    2 + ext + if masked { 4 } else { 0 } + len
}

/// Appends one masked frame (RFC 6455 §5.2), written independently of every library.
fn push_frame(wire: &mut Vec<u8>, opcode: u8, fin: bool, payload: &[u8], key: [u8; 4]) {
    wire.push(u8::from(fin) << 7 | opcode);
    match payload.len() {
        n @ 0..=125 => wire.push(0x80 | n as u8),
        n @ 126..=65535 => {
            wire.push(0x80 | 126);
            wire.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            wire.push(0x80 | 127);
            wire.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    wire.extend_from_slice(&key);
    wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
}

/// Pseudo-random bytes (xorshift), so a lost or misplaced byte changes the checksum.
fn binary(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Mixed UTF-8 (1-, 2-, 3- and 4-byte code points), padded with spaces to exactly `len`.
fn text(len: usize) -> Vec<u8> {
    let mut s = String::new();
    for c in "ascii text and ünïcödé € 😀 ".chars().cycle() {
        if s.len() + c.len_utf8() > len {
            break;
        }
        s.push(c);
    }
    let mut bytes = s.into_bytes();
    bytes.resize(len, b' ');
    bytes
}

/// Payload bytes per run: 64 MiB.
const RUN_BYTES: usize = 64 << 20;

/// Messages per pass over the input (`pass` bytes of payload, at most `pass / 32`
/// messages), and passes per run (about [`RUN_BYTES`] of payload). With a 1 MiB pass the
/// input stays in cache, as data just read from a socket is; with 64 MiB it does not.
fn sizing(len: usize, pass: usize) -> (usize, usize) {
    let per_pass = (pass / len).clamp(1, pass / 32);
    (per_pass, (RUN_BYTES / pass).max(1))
}

fn recv(name: &str, text_msg: bool, len: usize, fragments: usize, pass: usize) -> Workload {
    let payload = if text_msg { text(len) } else { binary(len) };
    let (per_pass, repeat) = sizing(len, pass);
    let mut wire = Vec::new();
    let part = len.div_ceil(fragments);
    let mut key = 0x1234_5678u32;
    for _ in 0..per_pass {
        for (i, chunk) in payload.chunks(part).enumerate() {
            // Text fragments are cut at fixed offsets, so code points straddle frames.
            let opcode = match (i, text_msg) {
                (0, true) => 1,
                (0, false) => 2,
                _ => 0,
            };
            key = key.wrapping_mul(0x9e37_79b9).wrapping_add(1);
            push_frame(
                &mut wire,
                opcode,
                i + 1 == fragments,
                chunk,
                key.to_be_bytes(),
            );
        }
    }
    Workload {
        name: name.into(),
        dir: Dir::Recv(Recv { wire, fragments }),
        text: text_msg,
        text_payload: text_msg.then(|| String::from_utf8(payload.clone()).unwrap()),
        payload,
        per_pass,
        repeat,
    }
}

fn send(name: &str, text_msg: bool, len: usize, client: bool, pass: usize) -> Workload {
    let (per_pass, repeat) = sizing(len, pass);
    let payload = if text_msg { text(len) } else { binary(len) };
    Workload {
        name: name.into(),
        dir: Dir::Send { client },
        text: text_msg,
        text_payload: text_msg.then(|| String::from_utf8(payload.clone()).unwrap()),
        payload,
        per_pass,
        repeat,
    }
}

fn size_name(len: usize) -> String {
    match len {
        n if n >= 1 << 20 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

/// The names of all workloads, in table order (built lazily: inputs are large).
pub fn names() -> Vec<String> {
    let mut v = Vec::new();
    for len in [16, 125, 1 << 10, 16 << 10, 64 << 10, 1 << 20] {
        v.push(format!("recv binary {}", size_name(len)));
    }
    for len in [1 << 10, 64 << 10] {
        v.push(format!("recv text {} (mixed UTF-8)", size_name(len)));
    }
    v.push("recv fragmented text 64 KiB (16 × 4 KiB)".into());
    for role in ["server", "client"] {
        for kind in ["binary", "text"] {
            for len in [16, 125, 64 << 10, 1 << 20] {
                v.push(format!("send {kind} {} {role}", size_name(len)));
            }
        }
    }
    v
}

/// Builds the workload called `name` (one of [`names`]), with `pass` bytes of payload per
/// pass over its input.
pub fn build(name: &str, pass: usize) -> Workload {
    // Any size, for the sweep: "recv binary N B".
    let sized = name
        .strip_prefix("recv binary ")
        .and_then(|r| r.strip_suffix(" B"));
    if let Some(len) = sized.and_then(|n| n.parse().ok()) {
        return recv(name, false, len, 1, pass);
    }
    let len = [
        ("16 B", 16),
        ("125 B", 125),
        ("1 KiB", 1 << 10),
        ("16 KiB", 16 << 10),
    ]
    .into_iter()
    .chain([("64 KiB", 64 << 10), ("1 MiB", 1 << 20)])
    .find(|(s, _)| name.contains(&format!(" {s}")))
    .map(|(_, n)| n)
    .unwrap_or_else(|| panic!("unknown workload {name:?}"));
    let text_msg = name.contains("text");
    if name.starts_with("recv") {
        let fragments = if name.contains("fragmented") { 16 } else { 1 };
        recv(name, text_msg, len, fragments, pass)
    } else {
        send(name, text_msg, len, name.ends_with("client"), pass)
    }
}
