//! The receive path: bytes in → frames → messages.
//!
//! [`Receiver`] owns the read buffer. It decodes one frame header at a time, applies the
//! rules that need connection state (mask direction, RSV bits, fragmentation, limits), and
//! consumes payload bytes as they arrive, so that a message is never buffered twice:
//!
//! - a single-frame message whose bytes are all present is unmasked straight into the
//!   caller's event buffer (one copy, no allocation);
//! - otherwise payload is appended to an assembly buffer as it arrives (whole delivery),
//!   or handed out piece by piece (streaming delivery). Text is validated incrementally
//!   in both cases, so invalid UTF-8 fails at once, not at the end of the message;
//! - when a large frame is partly here and nothing else is buffered, the read buffer that
//!   [`Receiver::read_region`] offers is the assembly buffer itself, so the rest of the
//!   payload is read straight into its final place (no copy besides the transport's). The
//!   read that can finish the frame also asks for one header's worth of bytes after it (moved
//!   to the read buffer), so that the next large frame's payload is read directly too, with
//!   no read of its own for its header.

use alloc::vec::Vec;

use crate::Role;
use crate::config::{Config, Delivery};
#[cfg(feature = "deflate")]
use crate::deflate::{InflateError, Inflater};
use crate::error::ProtocolError;
use crate::frame::{MAX_HEADER_LEN, OpCode, decode_header};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// Text or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Binary,
}

/// What the receiver produced, borrowing the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'b> {
    /// A whole message (whole delivery).
    Text(&'b str),
    Binary(&'b [u8]),
    /// A piece of a message (streaming delivery) and whether it ends the message; text
    /// pieces end on a code-point boundary.
    TextPiece(&'b str, bool),
    BinaryPiece(&'b [u8], bool),
    Ping(&'b [u8]),
    Pong(&'b [u8]),
    /// A Close frame's raw body.
    Close(&'b [u8]),
}

/// What is ready in the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ready {
    /// A whole message; `checked`: text whose every byte `Receiver::utf8` accepted, in
    /// order and ending complete (it arrived in pieces). Text that arrived whole is not
    /// checked yet: the conversion to `&str` validates it, in one pass.
    Message(Kind, bool),
    /// A piece of a message (streaming delivery); text pieces are always checked.
    Piece(Kind, bool),
    Ping,
    Pong,
    Close,
}

/// The rules of the connection that frame decoding depends on.
#[derive(Clone, Copy)]
pub(crate) struct Rules<'a> {
    pub(crate) role: Role,
    pub(crate) config: &'a Config,
}

/// A data frame whose payload is being consumed.
#[derive(Clone, Copy, Debug)]
struct DataFrame {
    fin: bool,
    mask: Option<[u8; 4]>,
    remaining: u64,
    /// Payload bytes consumed so far, modulo 4 (aligns the masking key).
    offset: usize,
    /// At least [`direct_min`] payload bytes: its payload is read straight into place, and
    /// the next frame's header with its last part.
    large: bool,
}

/// The message in progress.
#[derive(Clone, Copy, Debug)]
struct Message {
    kind: Kind,
    /// Payload bytes declared so far (checked against the message limit).
    len: u64,
    fragments: u32,
    /// RSV1 was set on its first frame (permessage-deflate).
    compressed: bool,
    /// Bytes produced by inflating so far (checked against the message limit).
    inflated: u64,
}

enum Step {
    Done(Ready),
    Progress,
    NeedMore,
}

/// A data frame of at least this many payload bytes is read straight into the assembly
/// buffer. Below it, copying out of the read buffer costs less than the reads (system
/// calls) that reading each frame's rest separately takes, where one read of the read buffer
/// takes in several small messages.
const DIRECT_MIN: u64 = 8 << 10;

/// The payload length from which a data frame is read straight into place: [`DIRECT_MIN`],
/// or less with a `read_chunk` smaller than that (a frame that the read buffer could not
/// take in one read is read directly whatever its size).
fn direct_min(config: &Config) -> u64 {
    DIRECT_MIN.min(config.read_chunk.max(1) as u64)
}

/// Where the region last offered by [`Receiver::read_region`] lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offer {
    /// After the live bytes of the read buffer: this many bytes.
    ReadBuf(usize),
    /// In the assembly buffer, right after the assembled bytes: this many bytes, all of
    /// them payload of the current frame.
    Direct(usize),
}

/// Read buffer, frame decoder and message assembler.
#[derive(Debug, Default)]
pub(crate) struct Receiver {
    /// Initialised storage; live bytes are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    frame: Option<DataFrame>,
    message: Option<Message>,
    /// The message being assembled is `assembly[..assembled]`; bytes after it are
    /// initialised storage kept for reuse (resizing would zero-fill them again).
    assembly: Vec<u8>,
    assembled: usize,
    /// Bytes read straight into `assembly[assembled..]`, not yet decoded: payload of the
    /// current frame, then whatever followed its last byte in the same read.
    direct: usize,
    offer: Offer,
    /// A large frame ended with the buffered bytes: until a header's worth of bytes is
    /// buffered, offer only what completes it.
    header_next: bool,
    utf8: Utf8Validator,
    /// Present once permessage-deflate was negotiated.
    #[cfg(feature = "deflate")]
    inflater: Option<Inflater>,
}

impl Default for Offer {
    fn default() -> Self {
        Offer::ReadBuf(0)
    }
}

impl Receiver {
    /// Turns on decompression of messages whose first frame has RSV1 set.
    #[cfg(feature = "deflate")]
    pub(crate) fn set_inflater(&mut self, inflater: Inflater) {
        self.inflater = Some(inflater);
    }

    /// RSV bits that negotiated extensions allow (RSV1 with permessage-deflate).
    fn rsv_allowed(&self) -> u8 {
        #[cfg(feature = "deflate")]
        if self.inflater.is_some() {
            return RSV1;
        }
        0
    }

    /// The decompressor's estimated heap, once permessage-deflate was negotiated.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflater_heap_estimate(&self) -> usize {
        self.inflater.as_ref().map_or(0, Inflater::heap_estimate)
    }

    /// Heap the decompressor could give back now (see [`Inflater::shrink`]).
    #[cfg(feature = "deflate")]
    pub(crate) fn inflater_shrinkable(&self) -> usize {
        self.inflater.as_ref().map_or(0, Inflater::shrinkable)
    }

    /// Bytes received and not yet decoded.
    pub(crate) fn buffered(&self) -> usize {
        self.end - self.start + self.direct
    }

    /// Heap bytes held by the receiver's buffers.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity() + self.assembly.capacity()
    }

    /// Gives back heap memory not holding data: the read buffer down to its live bytes,
    /// the assembly buffer when no message is being assembled.
    pub(crate) fn shrink(&mut self) {
        // Between messages only: a compressed message in progress needs its state.
        #[cfg(feature = "deflate")]
        if let (Some(inflater), None) = (self.inflater.as_mut(), self.message) {
            inflater.shrink();
        }
        self.compact();
        self.buf.truncate(self.end);
        self.buf.shrink_to_fit();
        if self.message.is_none() {
            self.assembly = Vec::new();
            self.assembled = 0;
        }
    }

    /// Appends received bytes.
    pub(crate) fn push(&mut self, data: &[u8]) {
        // An earlier offer is void: its room may move.
        self.offer = Offer::default();
        if self.buf.len() - self.end < data.len() {
            // Grow by appending: no zero-filling of room that is overwritten at once.
            self.compact();
            self.buf.truncate(self.end);
            self.buf.extend_from_slice(data);
            self.end = self.buf.len();
            return;
        }
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
    }

    /// Moves the live bytes to the front of the buffer.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Makes room for at least `min` bytes after the live data; returns the room there is.
    fn spare(&mut self, min: usize) -> usize {
        if self.buf.len() - self.end < min {
            self.compact();
            if self.buf.len() - self.end < min {
                let want = (self.end + min).max(self.buf.len() * 2);
                self.buf.resize(want, 0);
            }
        }
        self.buf.len() - self.end
    }

    /// Chooses where the transport should read next ([`offered_mut`](Self::offered_mut)),
    /// sized by the frame being read:
    ///
    /// - while a large data frame is being assembled and nothing else is buffered, the rest
    ///   of its payload (or the next part of it, growing with the message) in the assembly
    ///   buffer, and when that is all of the rest, one frame header's worth after it;
    /// - right after a large frame whose next header did not come with it, what completes
    ///   one header's worth;
    /// - otherwise the read buffer's free room (at least `config.read_chunk` bytes), so that
    ///   one read takes in as many small frames as it can.
    pub(crate) fn read_region(&mut self, config: &Config) {
        let live = self.end - self.start;
        if self.direct == 0 {
            match (self.frame, self.message) {
                (Some(frame), Some(message))
                    if live == 0
                        && frame.large
                        && config.delivery == Delivery::Whole
                        && !message.compressed =>
                {
                    // Grow with the message, not with the length it declares: a peer that
                    // declares much and sends little gets little memory. Room kept
                    // initialised from earlier messages costs nothing, so it is used whole.
                    let kept = self.assembly.len() - self.assembled;
                    let step = config.read_chunk.max(self.assembled).max(kept).max(1);
                    let n = match usize::try_from(frame.remaining) {
                        // The whole rest, and the next frame's header if it is there.
                        Ok(rest) if rest <= step => rest + MAX_HEADER_LEN,
                        _ => step,
                    };
                    let end = self.assembled + n;
                    if self.assembly.len() < end {
                        self.assembly.resize(end, 0);
                    }
                    self.offer = Offer::Direct(n);
                    return;
                }
                (None, _) if self.header_next && live < MAX_HEADER_LEN => {
                    let n = MAX_HEADER_LEN - live;
                    self.spare(n);
                    self.offer = Offer::ReadBuf(n);
                    return;
                }
                _ => {}
            }
        }
        // A header's worth is here (or a frame is under way): ordinary reads from now on.
        self.header_next = false;
        let room = self.spare(config.read_chunk.max(1));
        self.offer = Offer::ReadBuf(room);
    }

    /// The region chosen by the last [`read_region`](Self::read_region).
    pub(crate) fn offered(&self) -> &[u8] {
        match self.offer {
            Offer::Direct(n) => &self.assembly[self.assembled..self.assembled + n],
            Offer::ReadBuf(n) => &self.buf[self.end..self.end + n],
        }
    }

    /// [`offered`](Self::offered), to read into.
    pub(crate) fn offered_mut(&mut self) -> &mut [u8] {
        match self.offer {
            Offer::Direct(n) => &mut self.assembly[self.assembled..self.assembled + n],
            Offer::ReadBuf(n) => &mut self.buf[self.end..self.end + n],
        }
    }

    /// Marks the first `n` bytes of the offered region as received (`n` is at most its
    /// length: the caller checks).
    pub(crate) fn commit(&mut self, n: usize) {
        match core::mem::take(&mut self.offer) {
            Offer::Direct(_) => self.direct = n,
            Offer::ReadBuf(_) => self.end += n,
        }
    }

    /// Drops everything buffered (after the connection ended).
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
        self.direct = 0;
        self.offer = Offer::default();
    }

    /// The bytes received and not yet decoded.
    pub(crate) fn live(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Consumes `n` decoded bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The fast path of [`next`](Self::next) for the commonest input: a whole small
    /// (payload under 126 bytes) unfragmented, uncompressed Text or Binary frame already in
    /// the read buffer, between messages, with whole delivery: header, rules and unmasking
    /// in one straight line. Returns the message's kind with its payload in `out` (text
    /// not validated yet: the caller's conversion to `&str` does it, as `next` would), or
    /// `None`, leaving everything else (every error among it) to `next`, which decides
    /// exactly as before.
    #[inline]
    pub(crate) fn next_small(&mut self, out: &mut Vec<u8>, rules: Rules<'_>) -> Option<Kind> {
        let config = rules.config;
        if self.frame.is_some()
            || self.message.is_some()
            || self.direct != 0
            || config.delivery != Delivery::Whole
        {
            return None;
        }
        let live = &self.buf[self.start..self.end];
        let [b0, b1, rest @ ..] = live else {
            return None;
        };
        // FIN, no RSV bits, Text (0x1) or Binary (0x2).
        let text = match *b0 {
            0x81 => true,
            0x82 => false,
            _ => return None,
        };
        let masked = b1 & 0x80 != 0;
        let len = b1 & 0x7F;
        // A 16- or 64-bit length, or the wrong mask direction: the general path.
        if len >= 126 || masked != (rules.role == Role::Server) {
            return None;
        }
        let len64 = u64::from(len);
        if len64 > config.max_frame_size
            || len64 > config.max_message_size
            || config.max_fragments == 0
        {
            return None;
        }
        let n = usize::from(len);
        let header_len = if masked {
            let [k0, k1, k2, k3, payload @ ..] = rest else {
                return None;
            };
            let payload = payload.get(..n)?;
            out.clear();
            out.extend_from_slice(payload);
            crate::mask::apply_mask(out, [*k0, *k1, *k2, *k3], 0);
            6
        } else {
            let payload = rest.get(..n)?;
            out.clear();
            out.extend_from_slice(payload);
            2
        };
        self.consume(header_len + n);
        self.header_next = self.start == self.end && len64 >= direct_min(config);
        Some(if text { Kind::Text } else { Kind::Binary })
    }

    /// Decodes input until one event is ready (its payload left in `out`), more input is
    /// needed (`Ok(None)`), or the peer broke the protocol.
    pub(crate) fn next<'b>(
        &mut self,
        out: &'b mut Vec<u8>,
        rules: Rules<'_>,
    ) -> Result<Option<Incoming<'b>>, ProtocolError> {
        let ready = loop {
            let step = if self.frame.is_some() {
                self.payload(out, rules.config)?
            } else {
                self.header(out, rules)?
            };
            match step {
                Step::Done(ready) => break ready,
                Step::Progress => continue,
                Step::NeedMore => return Ok(None),
            }
        };
        let out: &'b [u8] = out;
        #[allow(unsafe_code)]
        let text = |checked: bool| {
            if checked {
                // SAFETY: `checked` text is what `Ready` documents: every byte of `out` was
                // fed, in order, to `self.utf8`, which accepted them and ended on a code
                // point boundary (`hand_over` checks `is_complete`; a piece drops the
                // unfinished code point it ends with). `out` was not changed since.
                Ok(unsafe { crate::utf8::assume_valid(out) })
            } else {
                simdutf8::basic::from_utf8(out).map_err(|_| ProtocolError::InvalidUtf8)
            }
        };
        Ok(Some(match ready {
            Ready::Message(Kind::Binary, _) => Incoming::Binary(out),
            Ready::Message(Kind::Text, checked) => Incoming::Text(text(checked)?),
            Ready::Piece(Kind::Binary, fin) => Incoming::BinaryPiece(out, fin),
            Ready::Piece(Kind::Text, fin) => Incoming::TextPiece(text(true)?, fin),
            Ready::Ping => Incoming::Ping(out),
            Ready::Pong => Incoming::Pong(out),
            Ready::Close => Incoming::Close(out),
        }))
    }

    /// Decodes the next frame header (and a whole control frame or small message).
    fn header(&mut self, out: &mut Vec<u8>, rules: Rules<'_>) -> Result<Step, ProtocolError> {
        let live = &self.buf[self.start..self.end];
        let Some((h, header_len)) = decode_header(live)? else {
            return Ok(Step::NeedMore);
        };
        let compressed = h.rsv & RSV1 != 0;
        // RSV1 marks a compressed message: only on its first frame, never on control or
        // continuation frames (RFC 7692 §6), and only once the extension was agreed.
        let first_frame = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        if h.rsv & !self.rsv_allowed() != 0 || (compressed && !first_frame) {
            return Err(ProtocolError::ReservedBits(h.rsv));
        }
        match (rules.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            // At most 125 bytes (checked by decode_header): wait for the whole frame.
            let total = header_len + h.payload_len as usize;
            let Some(payload) = live.get(header_len..total) else {
                return Ok(Step::NeedMore);
            };
            out.clear();
            out.extend_from_slice(payload);
            if let Some(key) = h.mask {
                apply_mask(out, key, 0);
            }
            self.consume(total);
            return Ok(Step::Done(match h.opcode {
                OpCode::Ping => Ready::Ping,
                OpCode::Pong => Ready::Pong,
                _ => Ready::Close,
            }));
        }

        let kind = match (h.opcode, self.message) {
            (OpCode::Continuation, Some(m)) => m.kind,
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (OpCode::Text, None) => Kind::Text,
            _ => Kind::Binary,
        };
        let config = rules.config;
        if h.payload_len > config.max_frame_size {
            return Err(ProtocolError::FrameTooLarge);
        }
        let (len_before, fragments_before, inflated, compressed) = match self.message {
            Some(m) => (m.len, m.fragments, m.inflated, m.compressed),
            None => (0, 0, 0, compressed),
        };
        let len = len_before.saturating_add(h.payload_len);
        if len > config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        let fragments = fragments_before.saturating_add(1);
        if fragments > config.max_fragments {
            return Err(ProtocolError::TooManyFragments);
        }
        self.consume(header_len);

        // Fast path: a whole single-frame message is already here. One copy, straight
        // into the caller's buffer.
        let available = self.end - self.start;
        if config.delivery == Delivery::Whole
            && h.fin
            && !compressed
            && self.message.is_none()
            && h.payload_len <= available as u64
        {
            let n = h.payload_len as usize;
            out.clear();
            out.extend_from_slice(&self.buf[self.start..self.start + n]);
            if let Some(key) = h.mask {
                apply_mask(out, key, 0);
            }
            self.consume(n);
            // (Emptiness first: it is rare for small messages, which skips the threshold.)
            self.header_next = self.start == self.end && h.payload_len >= direct_min(config);
            // Text is validated once, by the conversion to `&str` that makes the event.
            return Ok(Step::Done(Ready::Message(kind, false)));
        }

        if self.message.is_none() {
            self.utf8.reset();
            self.assembled = 0;
        }
        self.message = Some(Message {
            kind,
            len,
            fragments,
            compressed,
            inflated,
        });
        self.frame = Some(DataFrame {
            fin: h.fin,
            mask: h.mask,
            remaining: h.payload_len,
            offset: 0,
            large: h.payload_len >= direct_min(config),
        });
        Ok(Step::Progress)
    }

    /// Consumes the payload bytes of the current data frame that have arrived.
    fn payload(&mut self, out: &mut Vec<u8>, config: &Config) -> Result<Step, ProtocolError> {
        let (Some(mut frame), Some(mut message)) = (self.frame, self.message) else {
            return Ok(Step::Progress);
        };
        if self.direct > 0 {
            return self.direct_payload(out, frame, message);
        }
        let available = self.end - self.start;
        // `remaining` may exceed usize on 32-bit targets: convert only after the min.
        let n = usize::try_from(frame.remaining).map_or(available, |r| r.min(available));
        if n == 0 && frame.remaining > 0 {
            return Ok(Step::NeedMore);
        }
        let chunk = &mut self.buf[self.start..self.start + n];
        if let Some(key) = frame.mask {
            apply_mask(chunk, key, frame.offset);
        }
        frame.remaining -= n as u64;
        frame.offset = (frame.offset + n) & 3;
        let frame_done = frame.remaining == 0;
        let last = frame_done && frame.fin;
        let text = message.kind == Kind::Text;
        let limit = config.max_message_size;

        let step = match config.delivery {
            Delivery::Whole => {
                let from = self.assembled;
                if !message.compressed && from + n <= self.assembly.len() {
                    // Reuse initialised room (kept from earlier messages).
                    self.assembly[from..from + n].copy_from_slice(chunk);
                    self.assembled = from + n;
                } else {
                    self.assembly.truncate(from);
                    append(
                        #[cfg(feature = "deflate")]
                        self.inflater.as_mut(),
                        &mut message,
                        chunk,
                        last,
                        &mut self.assembly,
                        limit,
                    )?;
                    self.assembled = self.assembly.len();
                }
                if text {
                    self.utf8
                        .feed(&self.assembly[from..self.assembled])
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                if last {
                    self.hand_over(out, message.kind)?
                } else {
                    Step::Progress
                }
            }
            Delivery::Streaming => {
                out.clear();
                if text {
                    out.extend_from_slice(self.utf8.pending());
                }
                let from = out.len();
                append(
                    #[cfg(feature = "deflate")]
                    self.inflater.as_mut(),
                    &mut message,
                    chunk,
                    last,
                    out,
                    limit,
                )?;
                if text {
                    self.utf8
                        .feed(&out[from..])
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    let carried = self.utf8.pending().len();
                    if last && carried > 0 {
                        return Err(ProtocolError::InvalidUtf8);
                    }
                    // Keep an unfinished code point for the next piece.
                    out.truncate(out.len() - carried);
                }
                if last || !out.is_empty() {
                    Step::Done(Ready::Piece(message.kind, last))
                } else {
                    Step::Progress
                }
            }
        };
        self.consume(n);
        // A large frame just ended with the buffer: read the next header apart, so that
        // a large payload after it can be read into place.
        self.header_next = frame_done
            && frame.large
            && self.start == self.end
            && config.delivery == Delivery::Whole
            && !message.compressed;
        self.frame = if frame_done { None } else { Some(frame) };
        self.message = if last { None } else { Some(message) };
        Ok(step)
    }

    /// Decodes payload that was read straight into the assembly buffer (whole delivery,
    /// uncompressed message). Bytes read past the frame's end (the next header, asked for
    /// with the frame's last part) move to the front of the read buffer.
    fn direct_payload(
        &mut self,
        out: &mut Vec<u8>,
        mut frame: DataFrame,
        message: Message,
    ) -> Result<Step, ProtocolError> {
        let read = core::mem::take(&mut self.direct);
        // `remaining` may exceed usize on 32-bit targets: convert only after the min.
        let n = usize::try_from(frame.remaining).map_or(read, |r| r.min(read));
        let from = self.assembled;
        if read > n {
            self.unshift_from_assembly(from + n..from + read);
        }
        let chunk = &mut self.assembly[from..from + n];
        if let Some(key) = frame.mask {
            apply_mask(chunk, key, frame.offset);
        }
        if message.kind == Kind::Text {
            self.utf8
                .feed(chunk)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        self.assembled += n;
        frame.remaining -= n as u64;
        frame.offset = (frame.offset + n) & 3;
        let frame_done = frame.remaining == 0;
        // The next frame is likely large too: if its header did not come with this read,
        // read (the rest of) it alone, then its payload straight into place.
        self.header_next = frame_done;
        self.frame = if frame_done { None } else { Some(frame) };
        if frame_done && frame.fin {
            self.message = None;
            return self.hand_over(out, message.kind);
        }
        Ok(Step::Progress)
    }

    /// Puts `assembly[range]` (bytes that followed a frame read in place) in front of the
    /// read buffer's live bytes (normally none: a direct read is offered only when the
    /// read buffer is empty).
    fn unshift_from_assembly(&mut self, range: core::ops::Range<usize>) {
        let extra = range.len();
        if self.start >= extra {
            self.start -= extra;
        } else {
            let live = self.end - self.start;
            if self.buf.len() < extra + live {
                self.buf.resize(extra + live, 0);
            }
            self.buf.copy_within(self.start..self.end, extra);
            self.start = 0;
            self.end = extra + live;
        }
        self.buf[self.start..self.start + extra].copy_from_slice(&self.assembly[range]);
    }

    /// Ends an assembled message: hands it over in `out` without copying it (the caller's
    /// old buffer becomes the next assembly buffer).
    fn hand_over(&mut self, out: &mut Vec<u8>, kind: Kind) -> Result<Step, ProtocolError> {
        if kind == Kind::Text && !self.utf8.is_complete() {
            return Err(ProtocolError::InvalidUtf8);
        }
        self.assembly.truncate(self.assembled);
        core::mem::swap(out, &mut self.assembly);
        self.assembled = 0;
        // Text was checked as it arrived.
        Ok(Step::Done(Ready::Message(kind, true)))
    }
}

/// RSV1, as a bit of the frame header's 3-bit RSV nibble.
const RSV1: u8 = 0b100;

/// Appends a chunk of the message's payload to `dst`, inflating it if the message is
/// compressed (then the inflated total is held to `limit` as it grows).
fn append(
    #[cfg(feature = "deflate")] inflater: Option<&mut Inflater>,
    message: &mut Message,
    chunk: &[u8],
    last: bool,
    dst: &mut Vec<u8>,
    limit: u64,
) -> Result<(), ProtocolError> {
    #[cfg(feature = "deflate")]
    if let (true, Some(inflater)) = (message.compressed, inflater) {
        let before = dst.len();
        let allowance = limit.saturating_sub(message.inflated);
        inflater
            .inflate(chunk, last, dst, allowance)
            .map_err(|e| match e {
                InflateError::TooLarge => ProtocolError::MessageTooLarge,
                InflateError::Corrupt => ProtocolError::InvalidCompressedData,
            })?;
        message.inflated += (dst.len() - before) as u64;
        return Ok(());
    }
    let _ = (message, last, limit);
    dst.extend_from_slice(chunk);
    Ok(())
}
