//! The per-message codec of permessage-deflate (needs the `deflate` feature): outgoing
//! messages compressed with a sync flush and the trailing `00 00 ff ff` removed, incoming
//! ones inflated with the trailer put back, within a size allowance.
//!
//! zlib's state is allocated on the first message that needs it. With
//! [`DeflateMemory::Release`] it is dropped at the end of every message; where the context is
//! taken over, only the history the next message may refer to is kept (the last window's
//! worth of uncompressed bytes), to be loaded as a preset dictionary into the state rebuilt
//! for the next message. With [`DeflateMemory::Retain`] the state stays while traffic
//! flows (reset between messages where the context is not taken over, which costs nothing
//! to rebuild), and a state that holds no context is dropped when the connection gives its
//! memory back after being idle ([`shrink`](Deflater::shrink)).

use alloc::vec::Vec;
use core::fmt;

use zlib_rs::{Deflate, DeflateConfig as ZConfig, DeflateFlush, Inflate, InflateFlush, Status};

use super::{DeflateConfig, DeflateMemory};

/// The tail a sync flush ends with, removed by senders and put back by receivers.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The compressor's heap besides its window and chains (`4 << bits`) and its symbol
/// buffers (`7 << (mem_level + 6)`): zlib-rs's hash table, 64 Ki two-byte entries whatever
/// the memory level, plus its state and alignment (calibrated against a counting
/// allocator by `tests/heap_estimate.rs`).
const DEFLATE_FIXED: usize = (128 << 10) + (6 << 10);

/// The decompressor's heap: zlib-rs allocates a full 32 KiB window whatever window size
/// was negotiated, plus its tables and state (calibrated as above).
const INFLATE_STATE: usize = 48 << 10;

/// Output room asked of the allocator per inflate step.
const INFLATE_STEP: usize = 32 << 10;

/// Heap held by a compressor with these parameters (see [`DEFLATE_FIXED`]).
pub(crate) fn deflate_heap(bits: u8, mem_level: u8) -> usize {
    let bits = bits.clamp(9, 15);
    let mem_level = mem_level.clamp(1, 9);
    (4usize << bits) + (7usize << (mem_level + 6)) + DEFLATE_FIXED
}

/// Appends `data` to `history`, keeping only its last `window` bytes; the buffer never
/// holds more than `window` bytes of capacity.
pub(super) fn remember(history: &mut Vec<u8>, data: &[u8], window: usize) {
    let data = &data[data.len().saturating_sub(window)..];
    let excess = (history.len() + data.len()).saturating_sub(window);
    history.drain(..excess);
    let needed = history.len() + data.len();
    if history.capacity() < needed {
        let target = (history.capacity() * 2).clamp(needed, window);
        history.reserve_exact(target - history.len());
    }
    history.extend_from_slice(data);
}

/// Why inflating failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The inflated message would pass the allowance (1009).
    TooLarge,
    /// Not a valid DEFLATE stream (1007).
    Corrupt,
}

/// Decompresses incoming messages.
pub(crate) struct Inflater {
    /// Window bits the peer compresses with.
    bits: u8,
    /// zlib's state; `None` until a compressed message arrives, and between messages when
    /// it is released.
    inner: Option<Inflate>,
    /// Reset after every message (the peer does not take context over).
    reset: bool,
    /// Drop the state after every message, keeping [`history`](Self::history) when the
    /// peer takes its context over.
    release: bool,
    /// With `release` and context takeover: the last window's worth of inflated bytes,
    /// which the peer's next message may refer to.
    history: Vec<u8>,
    /// The peer ended the DEFLATE stream (BFINAL): reset before the next message.
    ended: bool,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.inner.is_some())
            .field("reset", &self.reset)
            .field("release", &self.release)
            .finish()
    }
}

impl Inflater {
    /// An inflater for a peer that compresses with `bits` of window. Nothing is allocated
    /// until the first message.
    pub(crate) fn new(bits: u8, no_context_takeover: bool) -> Self {
        Inflater {
            bits: bits.clamp(9, 15),
            inner: None,
            reset: no_context_takeover,
            release: false,
            history: Vec::new(),
            ended: false,
        }
    }

    /// Drops zlib's state between messages with [`DeflateMemory::Release`].
    pub(crate) fn with_memory(mut self, memory: DeflateMemory) -> Self {
        self.release = memory == DeflateMemory::Release;
        self
    }

    /// Drops zlib's state if it holds no context (the peer resets its own after every
    /// message), as when the connection has been idle; the next message allocates it again.
    pub(crate) fn shrink(&mut self) {
        if self.reset {
            self.inner = None;
        }
    }

    /// Heap [`shrink`](Self::shrink) would give back.
    pub(crate) fn shrinkable(&self) -> usize {
        if self.reset && self.inner.is_some() {
            INFLATE_STATE
        } else {
            0
        }
    }

    /// Whether the history is kept (state released, context taken over).
    fn keeps_history(&self) -> bool {
        self.release && !self.reset
    }

    /// Heap held by the decompressor (see [`INFLATE_STATE`]) and the kept history.
    pub(crate) fn heap_estimate(&self) -> usize {
        let state = if self.inner.is_some() {
            INFLATE_STATE
        } else {
            0
        };
        state + self.history.capacity()
    }

    /// Inflates `input` (compressed payload bytes of the current message), appending to
    /// `out`, and, at the end of the message, the trailer. Fails as soon as this call
    /// has produced more than `allowance` bytes; zlib is never given more than one byte
    /// of room past the allowance, so a bomb costs at most the limit plus one byte.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        end_of_message: bool,
        out: &mut Vec<u8>,
        allowance: u64,
    ) -> Result<(), InflateError> {
        if self.inner.is_none() {
            let mut inner = Inflate::new(false, self.bits);
            if !self.history.is_empty() {
                inner
                    .set_dictionary(&self.history)
                    .map_err(|_| InflateError::Corrupt)?;
            }
            self.inner = Some(inner);
        }
        let start = out.len();
        let result = self.feed(input, out, start, allowance);
        let result = result.and_then(|()| {
            if end_of_message {
                self.feed(&TRAILER, out, start, allowance)
            } else {
                Ok(())
            }
        });
        if self.keeps_history() {
            if self.ended {
                self.history.clear();
            } else {
                remember(&mut self.history, &out[start..], 1 << self.bits);
            }
        }
        result?;
        if end_of_message {
            if self.release || self.ended {
                self.inner = None;
            } else if let (true, Some(inner)) = (self.reset, self.inner.as_mut()) {
                // The peer starts afresh: keep the allocation, drop the context.
                inner.reset(false);
            }
            if self.ended {
                self.history = Vec::new();
            }
            self.ended = false;
        }
        Ok(())
    }

    fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        start: usize,
        allowance: u64,
    ) -> Result<(), InflateError> {
        // Room offered per call: grows with the output, so small messages stay cheap
        // (the room is zero-filled first: safe code cannot hand zlib uninitialised memory).
        let mut step = input.len().saturating_mul(4).clamp(256, INFLATE_STEP);
        loop {
            if self.ended {
                // Bytes after the end of the stream are ignored until the message ends.
                return Ok(());
            }
            let produced = (out.len() - start) as u64;
            // Never give zlib more room than the allowance left plus one byte (to detect
            // the overflow), and at most one step.
            let room = allowance.saturating_sub(produced).saturating_add(1);
            let room = usize::try_from(room).map_or(step, |r| r.min(step));
            step = (step * 2).min(INFLATE_STEP);
            let before = out.len();
            if out.capacity() < before + room {
                // Grow geometrically, but never past what the allowance can use.
                let ceiling = usize::try_from(allowance)
                    .map_or(usize::MAX, |a| start.saturating_add(a).saturating_add(1));
                let target = (out.capacity() * 2)
                    .max(before + room)
                    .min(ceiling.max(before + room));
                out.reserve_exact(target - before);
            }
            out.resize(before + room, 0);
            let inner = self.inner.as_mut().ok_or(InflateError::Corrupt)?;
            let (in_before, out_total) = (inner.total_in(), inner.total_out());
            let result = inner.decompress(input, &mut out[before..], InflateFlush::SyncFlush);
            let written = (inner.total_out() - out_total) as usize;
            out.truncate(before + written);
            let status = result.map_err(|_| InflateError::Corrupt)?;
            let consumed = (inner.total_in() - in_before) as usize;
            input = &input[consumed..];
            if (out.len() - start) as u64 > allowance {
                return Err(InflateError::TooLarge);
            }
            if status == Status::StreamEnd {
                self.ended = true;
            }
            let full = written == room;
            if (input.is_empty() && !full) || (consumed == 0 && written == 0) {
                return Ok(());
            }
        }
    }
}

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    /// Window bits of our compressor.
    bits: u8,
    /// `false` when the window we may use is 8 bits: messages go out uncompressed.
    enabled: bool,
    /// zlib's settings.
    config: ZConfig,
    /// zlib's state; `None` until a message is compressed, and between messages when it
    /// is released.
    inner: Option<Deflate>,
    /// We do not take our context over: every message starts afresh.
    reset: bool,
    /// Drop the state after every message, keeping [`history`](Self::history) when we
    /// take our context over.
    release: bool,
    /// With `release` and context takeover: the last window's worth of what we sent, the
    /// preset dictionary of the next message's compressor.
    history: Vec<u8>,
    min_size: usize,
    /// Compressed output of the last call.
    buf: Vec<u8>,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("enabled", &self.enabled)
            .field("allocated", &self.inner.is_some())
            .field("reset", &self.reset)
            .field("release", &self.release)
            .finish()
    }
}

/// What makes two compressors produce the same bytes for one message from a fresh state:
/// zlib's settings (window bits, level, memory level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings(ZConfig);

impl Deflater {
    /// A compressor limited to `bits` of window. Nothing is allocated until the first
    /// compressed message.
    pub(crate) fn new(bits: u8, no_context_takeover: bool, config: &DeflateConfig) -> Self {
        let bits = bits.min(15);
        Deflater {
            bits,
            enabled: bits >= 9,
            config: ZConfig {
                level: config.level.min(9) as i32,
                // Negative: a raw stream, without zlib's header and checksum.
                window_bits: -i32::from(bits.max(9)),
                mem_level: i32::from(config.mem_level.clamp(1, 9)),
                ..ZConfig::default()
            },
            inner: None,
            reset: no_context_takeover,
            release: config.memory == DeflateMemory::Release,
            history: Vec::new(),
            min_size: config.min_message_size,
            buf: Vec::new(),
        }
    }

    /// With our context reset after every message, a message compresses to the same bytes
    /// whatever was sent before, so they can be shared between connections: the settings
    /// that decide them. `None` with context takeover.
    pub(crate) fn shareable(&self) -> Option<Settings> {
        self.reset.then_some(Settings(self.config))
    }

    /// Heap held by the compressor, estimated from zlib-rs's layout (see
    /// [`deflate_heap`]), plus the kept history and the output buffer.
    pub(crate) fn heap_estimate(&self) -> usize {
        let state = if self.inner.is_some() {
            deflate_heap(self.bits, self.config.mem_level as u8)
        } else {
            0
        };
        state + self.history.capacity() + self.buf.capacity()
    }

    /// Drops zlib's state if it holds no context (we reset ours after every message), as
    /// when the connection has been idle, and the output buffer's memory.
    pub(crate) fn shrink(&mut self) {
        if self.reset {
            self.inner = None;
        }
        self.buf = Vec::new();
    }

    /// Heap [`shrink`](Self::shrink) would give back.
    pub(crate) fn shrinkable(&self) -> usize {
        let state = if self.reset && self.inner.is_some() {
            deflate_heap(self.bits, self.config.mem_level as u8)
        } else {
            0
        };
        state + self.buf.capacity()
    }

    /// Whether a message that starts with `len` bytes should be compressed.
    pub(crate) fn wants(&self, len: usize) -> bool {
        self.enabled && len >= self.min_size
    }

    /// Compresses `input`, the next part of a compressed message, and returns the bytes to
    /// put in its frame(s). At the end of the message the sync-flush trailer is removed
    /// (and the state released or the history kept, as agreed and configured).
    pub(crate) fn compress(&mut self, input: &[u8], end_of_message: bool) -> &[u8] {
        self.buf.clear();
        if !self.enabled {
            return &self.buf;
        }
        let inner = self.inner.get_or_insert_with(|| {
            let mut inner = Deflate::new_with_config(self.config);
            if !self.history.is_empty() {
                // A raw stream takes a dictionary at its start; nothing else can fail.
                let _ = inner.set_dictionary(&self.history);
            }
            inner
        });
        deflate_into(inner, input, &mut self.buf);
        if self.release && !self.reset {
            remember(&mut self.history, input, 1 << self.bits);
        }
        if end_of_message {
            end_message(&mut self.buf);
            if self.release {
                self.inner = None;
            } else if let (true, Some(inner)) = (self.reset, self.inner.as_mut()) {
                // No context taken over: keep the allocation, start afresh.
                inner.reset();
            }
        }
        &self.buf
    }
}

/// Compresses `input` with a sync flush, appending to `out`.
fn deflate_into(inner: &mut Deflate, input: &[u8], out: &mut Vec<u8>) {
    let mut rest = input;
    loop {
        // The room is zero-filled first: safe code cannot hand zlib uninitialised memory.
        let before = out.len();
        let room = rest.len() / 2 + 64;
        out.resize(before + room, 0);
        let (in_before, out_before) = (inner.total_in(), inner.total_out());
        let result = inner.compress(rest, &mut out[before..], DeflateFlush::SyncFlush);
        let written = (inner.total_out() - out_before) as usize;
        out.truncate(before + written);
        // Compression of in-memory data cannot fail; treat a failure as no output.
        if result.is_err() {
            break;
        }
        rest = &rest[(inner.total_in() - in_before) as usize..];
        // Done when all input is in and the flush did not run out of room.
        if rest.is_empty() && written < room {
            break;
        }
    }
}

/// The end of a message's compressed bytes: the trailer removed, or, when zlib flushed
/// nothing, an empty stored block (`00 00 00 ff ff` less the trailer, RFC 7692 §7.2.3.6).
fn end_message(out: &mut Vec<u8>) {
    if out.ends_with(&TRAILER) {
        out.truncate(out.len() - TRAILER.len());
    } else if out.is_empty() {
        out.push(0x00);
    }
}

/// One whole message compressed from a fresh state with `settings`: the bytes a
/// compressor without context takeover sends for it.
pub(crate) fn compress_fresh(settings: Settings, input: &[u8]) -> Vec<u8> {
    let mut inner = Deflate::new_with_config(settings.0);
    let mut out = Vec::new();
    deflate_into(&mut inner, input, &mut out);
    end_message(&mut out);
    out
}
