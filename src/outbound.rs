//! The send path: commands → frames → bytes out.
//!
//! [`Outbound`] is the queue of encoded bytes waiting for the caller to write them. Frames
//! are encoded straight into it (header, then payload masked in place for clients), so a
//! sent payload is copied exactly once.

use alloc::vec::Vec;

use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::mask::apply_mask;
use crate::mask::simd::extend_masked;

/// Encoded bytes waiting to be written.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    buf: Vec<u8>,
    /// Bytes before `head` have been written by the caller.
    head: usize,
    /// Total bytes ever handed to the caller as written.
    written: u64,
    /// Total bytes ever queued.
    queued: u64,
}

impl Outbound {
    /// Bytes waiting to be written.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// Number of bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Heap bytes held by the queue.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back heap memory not holding unwritten bytes.
    pub(crate) fn shrink(&mut self) {
        self.buf.drain(..self.head);
        self.head = 0;
        self.buf.shrink_to_fit();
    }

    /// Total bytes queued since the connection began (a position in the output stream).
    pub(crate) fn queued_total(&self) -> u64 {
        self.queued
    }

    /// Total bytes written since the connection began.
    pub(crate) fn written_total(&self) -> u64 {
        self.written
    }

    /// The caller wrote `n` bytes of [`pending`](Self::pending) (more is clamped).
    pub(crate) fn advance(&mut self, n: usize) {
        let n = n.min(self.len());
        self.head += n;
        self.written += n as u64;
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= 4096 && self.head * 2 >= self.buf.len() {
            // Amortised compaction: at least as many bytes were written as remain.
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Appends raw bytes (an HTTP head during the handshake).
    pub(crate) fn push_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.queued += bytes.len() as u64;
    }

    /// Encodes one final, RSV-free frame of at most [`SMALL_FRAME`] payload bytes, as
    /// [`push_frame`](Self::push_frame) would, with no general header encoding.
    #[inline]
    pub(crate) fn push_small(&mut self, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) {
        debug_assert!(payload.len() <= SMALL_FRAME);
        let n = payload.len();
        let mut head = [0x80 | opcode.as_u8(), n as u8, 0, 0, 0, 0];
        let header_len = match mask {
            Some(key) => {
                head[1] |= 0x80;
                head[2..].copy_from_slice(&key);
                6
            }
            None => 2,
        };
        self.buf.reserve(header_len + n);
        self.buf.extend_from_slice(&head[..header_len]);
        let from = self.buf.len();
        self.buf.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.buf[from..], key, 0);
        }
        self.queued += (header_len + n) as u64;
    }

    /// Encodes one frame.
    pub(crate) fn push_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) {
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut bytes);
        self.buf.reserve(n + payload.len());
        self.buf.extend_from_slice(&bytes[..n]);
        match mask {
            // One pass: read the payload, write it masked.
            Some(key) => extend_masked(&mut self.buf, payload, key),
            None => self.buf.extend_from_slice(payload),
        }
        self.queued += (n + payload.len()) as u64;
    }
}

/// Payloads up to this length have a 2-byte header (6 masked): [`Outbound::push_small`].
pub(crate) const SMALL_FRAME: usize = 125;

/// Bytes on the wire for a frame carrying `len` payload bytes.
pub(crate) fn frame_len(len: usize, masked: bool) -> usize {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: masked.then_some([0; 4]),
        payload_len: len as u64,
    };
    header.encoded_len() + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_len_matches_encoding() {
        for len in [0usize, 1, 125, 126, 65535, 65536, 70000] {
            for masked in [false, true] {
                let mut out = Outbound::default();
                let payload = alloc::vec![7u8; len];
                out.push_frame(
                    OpCode::Binary,
                    true,
                    0,
                    &payload,
                    masked.then_some([1, 2, 3, 4]),
                );
                assert_eq!(out.len(), frame_len(len, masked), "{len} {masked}");
            }
        }
    }

    #[test]
    fn push_small_matches_push_frame() {
        for len in [0usize, 1, 3, 4, 7, 8, 16, 17, 100, SMALL_FRAME] {
            for mask in [None, Some([9, 8, 7, 6])] {
                for opcode in [OpCode::Text, OpCode::Binary] {
                    let payload: alloc::vec::Vec<u8> = (0..len as u8).collect();
                    let (mut small, mut general) = (Outbound::default(), Outbound::default());
                    small.push_small(opcode, &payload, mask);
                    general.push_frame(opcode, true, 0, &payload, mask);
                    assert_eq!(small.pending(), general.pending(), "{len} {mask:?}");
                    assert_eq!(small.queued_total(), general.queued_total());
                }
            }
        }
    }

    #[test]
    fn advance_tracks_and_compacts() {
        let mut out = Outbound::default();
        out.push_frame(OpCode::Binary, true, 0, &[1; 9996], None);
        out.push_frame(OpCode::Binary, true, 0, &[2; 8], None);
        out.advance(9000);
        assert_eq!(out.pending().len(), 1010);
        assert_eq!(out.pending()[1002], 2);
        assert_eq!(out.written_total(), 9000);
        out.advance(usize::MAX);
        assert_eq!(out.len(), 0);
        assert_eq!(out.written_total(), out.queued_total());
    }
}
