//! The per-message codec of permessage-deflate (needs the `deflate` feature): outgoing
//! messages compressed with a sync flush and the trailing `00 00 ff ff` removed, incoming
//! ones inflated with the trailer put back, within a size allowance.

use alloc::vec::Vec;
use core::fmt;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::DeflateConfig;

/// The tail a sync flush ends with, removed by senders and put back by receivers.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The compressor's heap besides its window and chains (`4 << bits`): hash table, pending
/// buffer and state, as zlib-rs (flate2's backend here) allocates them at memory level 8.
/// Calibrated against a counting allocator by `tests/heap_estimate.rs`.
const DEFLATE_TABLES: usize = 240 << 10;

/// The decompressor's heap: zlib-rs allocates a full 32 KiB window whatever window size
/// was negotiated, plus its tables and state (calibrated as above).
const INFLATE_STATE: usize = 48 << 10;

/// Output room asked of the allocator per inflate step.
const INFLATE_STEP: usize = 32 << 10;

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
    inner: Decompress,
    /// Reset after every message (the peer does not take context over).
    reset: bool,
    /// The peer ended the DEFLATE stream (BFINAL): reset before the next message.
    ended: bool,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("reset", &self.reset)
            .finish()
    }
}

impl Inflater {
    /// An inflater for a peer that compresses with `bits` of window.
    pub(crate) fn new(bits: u8, no_context_takeover: bool) -> Self {
        Inflater {
            inner: Decompress::new_with_window_bits(false, bits.clamp(9, 15)),
            reset: no_context_takeover,
            ended: false,
        }
    }

    /// Heap held by the decompressor (see [`INFLATE_STATE`]).
    pub(crate) fn heap_estimate(&self) -> usize {
        INFLATE_STATE
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
        let start = out.len();
        self.feed(input, out, start, allowance)?;
        if end_of_message {
            self.feed(&TRAILER, out, start, allowance)?;
            if self.reset || self.ended {
                self.inner.reset(false);
                self.ended = false;
            }
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
            let (in_before, out_total) = (self.inner.total_in(), self.inner.total_out());
            let result = self
                .inner
                .decompress(input, &mut out[before..], FlushDecompress::Sync);
            let written = (self.inner.total_out() - out_total) as usize;
            out.truncate(before + written);
            let status = result.map_err(|_| InflateError::Corrupt)?;
            let consumed = (self.inner.total_in() - in_before) as usize;
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
    /// `None` when the window we may use is 8 bits: messages go out uncompressed.
    inner: Option<Compress>,
    reset: bool,
    min_size: usize,
    /// Compressed output of the last call.
    buf: Vec<u8>,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("enabled", &self.inner.is_some())
            .field("reset", &self.reset)
            .finish()
    }
}

impl Deflater {
    /// A compressor limited to `bits` of window.
    pub(crate) fn new(bits: u8, no_context_takeover: bool, config: &DeflateConfig) -> Self {
        let level = Compression::new(config.level.min(9));
        let bits = bits.min(15);
        Deflater {
            bits,
            inner: (bits >= 9).then(|| Compress::new_with_window_bits(level, false, bits)),
            reset: no_context_takeover,
            min_size: config.min_message_size,
            buf: Vec::new(),
        }
    }

    /// Heap held by the compressor, estimated from zlib's layout: the window (twice its
    /// size) and hash chains, which grow with the window bits, and the fixed-size tables
    /// and buffers, at the memory level flate2 uses (8).
    pub(crate) fn heap_estimate(&self) -> usize {
        match &self.inner {
            Some(_) => (4usize << self.bits) + DEFLATE_TABLES + self.buf.capacity(),
            None => self.buf.capacity(),
        }
    }

    /// Whether a message that starts with `len` bytes should be compressed.
    pub(crate) fn wants(&self, len: usize) -> bool {
        self.inner.is_some() && len >= self.min_size
    }

    /// Compresses `input`, the next part of a compressed message, and returns the bytes to
    /// put in its frame(s). At the end of the message the sync-flush trailer is removed
    /// (and the context reset if so agreed).
    pub(crate) fn compress(&mut self, input: &[u8], end_of_message: bool) -> &[u8] {
        self.buf.clear();
        let Some(inner) = self.inner.as_mut() else {
            return &self.buf;
        };
        let mut rest = input;
        loop {
            self.buf.reserve(rest.len() / 2 + 64);
            let before = inner.total_in();
            // Compression of in-memory data cannot fail; treat a failure as no output.
            if inner
                .compress_vec(rest, &mut self.buf, FlushCompress::Sync)
                .is_err()
            {
                break;
            }
            rest = &rest[(inner.total_in() - before) as usize..];
            // Done when all input is in and the flush did not run out of room.
            if rest.is_empty() && self.buf.capacity() - self.buf.len() >= 8 {
                break;
            }
        }
        if end_of_message {
            if self.buf.ends_with(&TRAILER) {
                self.buf.truncate(self.buf.len() - TRAILER.len());
            } else if self.buf.is_empty() {
                // Nothing was pending, so zlib flushed nothing; the message still needs a
                // block: an empty stored block, `00 00 00 ff ff` less the trailer
                // (RFC 7692 §7.2.3.6).
                self.buf.push(0x00);
            }
            if self.reset {
                inner.reset();
            }
        }
        &self.buf
    }
}
