//! The send path of a [`Connection`]: checks on commands, the outbound limit, compression,
//! fragmentation, and masking keys.

#[cfg(feature = "deflate")]
use super::RSV1;
use super::{Connection, Role, State};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateParams, Deflater, Inflater};
use crate::error::SendError;
use crate::frame::{FrameHead, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use crate::mask::apply_mask;
use crate::message::Kind;
use crate::outbound::{SMALL_FRAME, frame_len};

impl Connection {
    /// Sends a binary message without copying its payload into the outbound queue, when
    /// it can: the caller writes the returned header, then `payload`, itself (one vectored
    /// write, as with h11's data passthrough). For large messages this saves a copy; for
    /// small ones (up to about 1 KiB) [`send_binary`](Self::send_binary) measured as fast
    /// or faster (one contiguous write), so keep it for those.
    ///
    /// # Passthrough: `Ok(Some(head))`
    ///
    /// Returned when the message can go out as one frame that is not queued: the
    /// connection is [`State::Open`](super::State::Open), no streamed message is in
    /// progress, nothing is queued (an automatic Pong that was due is queued first, and
    /// then counts), and the message is neither compressed (permessage-deflate) nor split
    /// ([`Config::fragment_size`](crate::Config::fragment_size)).
    ///
    /// The caller must then write `head` followed by all of `payload`, looping on partial
    /// writes, before any byte that [`poll_transmit`](Self::poll_transmit) returns from
    /// then on. The connection cannot know when it has finished: these bytes never enter
    /// the queue, so [`buffered_amount`](Self::buffered_amount),
    /// [`Transmit::advance`](super::Transmit::advance) and
    /// [`Config::max_outbound_buffer`](crate::Config::max_outbound_buffer) do not count
    /// them, and [`should_close_transport`](Self::should_close_transport) does not wait
    /// for them.
    ///
    /// Clients mask: the payload is masked in place with the frame's key (`payload` then
    /// holds the bytes for the wire, no longer the message); servers leave it unchanged.
    ///
    /// # Fallback: `Ok(None)`
    ///
    /// Otherwise the message is queued exactly as by [`send_binary`](Self::send_binary)
    /// (copied, with the same errors, including
    /// [`Backpressure`](SendError::Backpressure)) and `payload` is left unchanged: write
    /// [`poll_transmit`](Self::poll_transmit) as usual. Errors change nothing.
    ///
    /// # Example
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use ws_proto::{Config, Connection, Event, Role};
    ///
    /// /// `write_vectored` until everything is written (a socket may take part of it).
    /// fn write_all_vectored(
    ///     w: &mut impl Write,
    ///     mut bufs: &mut [IoSlice<'_>],
    /// ) -> std::io::Result<()> {
    ///     while !bufs.is_empty() {
    ///         match w.write_vectored(bufs)? {
    ///             0 => return Err(std::io::ErrorKind::WriteZero.into()),
    ///             n => IoSlice::advance_slices(&mut bufs, n),
    ///         }
    ///     }
    ///     Ok(())
    /// }
    ///
    /// let mut server = Connection::upgraded(Role::Server, ws_proto::Negotiated::new(), Config::default(), ws_proto::Timestamp::ZERO);
    /// let mut socket: Vec<u8> = Vec::new(); // stands for the transport
    ///
    /// let mut payload = vec![7u8; 256 << 10];
    /// if let Some(head) = server.send_binary_unbuffered(&mut payload)? {
    ///     // Header and payload straight from the caller's buffer, no copy in between.
    ///     let mut bufs = [IoSlice::new(&head), IoSlice::new(&payload)];
    ///     write_all_vectored(&mut socket, &mut bufs)?;
    /// }
    /// // Then, as always, whatever is queued (everything, had it returned `None`).
    /// let queued = server.poll_transmit();
    /// socket.write_all(&queued)?;
    /// let n = queued.len();
    /// queued.advance(n);
    ///
    /// // The peer sees an ordinary message.
    /// let mut client = Connection::upgraded(Role::Client, ws_proto::Negotiated::new(), Config::default(), ws_proto::Timestamp::ZERO);
    /// client.handle_bytes(&socket);
    /// let mut buf = Vec::new();
    /// assert_eq!(client.poll_event(&mut buf), Some(Event::Binary(&payload)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_binary_unbuffered(
        &mut self,
        payload: &mut [u8],
    ) -> Result<Option<FrameHead>, SendError> {
        let Some(header) = self.send_unbuffered(OpCode::Binary, payload, true)? else {
            return Ok(None);
        };
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        Ok(Some(FrameHead::encode(&header)))
    }

    /// Sends a text message without copying it into the outbound queue, when it can: a
    /// server passes it through on the terms of
    /// [`send_binary_unbuffered`](Self::send_binary_unbuffered) (write `head`, then all of
    /// `text`, before any later [`poll_transmit`](Self::poll_transmit) output).
    ///
    /// A client always falls back (`Ok(None)`: queued as by [`send_text`](Self::send_text),
    /// masked there): it must mask, and a `str` cannot be masked in place. Taking the text
    /// as `&mut [u8]` instead would need a UTF-8 pass on every send, which costs more than
    /// the copy saved (measured on mixed UTF-8); a client that owns its bytes can mask
    /// them in place with [`send_binary_unbuffered`](Self::send_binary_unbuffered) if the
    /// peer accepts binary.
    pub fn send_text_unbuffered(&mut self, text: &str) -> Result<Option<FrameHead>, SendError> {
        let sent = self.send_unbuffered(OpCode::Text, text.as_bytes(), false)?;
        Ok(sent.map(|header| FrameHead::encode(&header)))
    }

    /// The checks and the choice of [`send_binary_unbuffered`](Self::send_binary_unbuffered):
    /// the header (with its masking key) of a frame passed through, or `None` once the
    /// message was queued. Without `can_mask`, a client queues.
    fn send_unbuffered(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        can_mask: bool,
    ) -> Result<Option<FrameHeader>, SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        // A due automatic Pong goes into the queue now, ahead of this message, as the next
        // `poll_transmit` would put it; it then makes the queue non-empty.
        self.flush_pong();
        let split = matches!(
            self.config.fragment_size,
            Some(size) if size > 0 && payload.len() > size
        );
        if self.buffered_amount() != 0
            || split
            || self.compresses(payload.len())
            || (self.masks() && !can_mask)
        {
            self.send_message(opcode, payload)?;
            return Ok(None);
        }
        Ok(Some(FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: self.mask_key(),
            payload_len: payload.len() as u64,
        }))
    }

    pub(super) fn masks(&self) -> bool {
        self.role == Role::Client
    }

    pub(super) fn mask_key(&mut self) -> Option<[u8; 4]> {
        // Every client constructor supplies a random source; servers never mask.
        let rng = self.rng.as_mut().filter(|_| self.role == Role::Client)?;
        Some(rng.mask_key())
    }

    /// Commands are allowed only while open and before our Close.
    pub(super) fn check_open(&self) -> Result<(), SendError> {
        match self.state() {
            State::Open => Ok(()),
            State::Connecting => Err(SendError::NotOpen),
            State::Closing | State::Closed => Err(SendError::Closed),
        }
    }

    /// Refuses output that would take the queue past its limit.
    pub(super) fn check_room(&self, bytes: usize) -> Result<(), SendError> {
        if self.buffered_amount().saturating_add(bytes) > self.config.max_outbound_buffer {
            Err(SendError::Backpressure)
        } else {
            Ok(())
        }
    }

    pub(super) fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong);
        }
        self.check_open()?;
        self.check_room(frame_len(payload.len(), self.masks()))?;
        let key = self.mask_key();
        self.tx.push_frame(opcode, true, 0, payload, key);
        Ok(())
    }

    pub(super) fn send_message(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        // Fast path: a small message that goes out as one uncompressed frame, when every
        // check below would pass (anything else takes the general path, which decides and
        // reports exactly as before).
        if data.len() <= SMALL_FRAME
            && self.sending.is_none()
            && self.state() == State::Open
            && !self.compresses(data.len())
            && !matches!(self.config.fragment_size, Some(size) if size > 0 && data.len() > size)
        {
            let masked = self.masks();
            let bytes = data.len() + if masked { 6 } else { 2 };
            if self.buffered_amount() + bytes <= self.config.max_outbound_buffer {
                let key = self.mask_key();
                self.tx.push_small(opcode, data, key);
                return Ok(());
            }
        }
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        let compress = self.compresses(data.len());
        self.send_payload(opcode, data, true, compress)
    }

    pub(super) fn send_part(
        &mut self,
        kind: Kind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let opcode = match (self.sending, kind) {
            (None, Kind::Text) => OpCode::Text,
            (None, Kind::Binary) => OpCode::Binary,
            (Some(current), _) if current == kind => OpCode::Continuation,
            (Some(_), _) => return Err(SendError::MessageInProgress),
        };
        let compress = if opcode == OpCode::Continuation {
            self.sending_compressed
        } else {
            self.compresses(data.len())
        };
        self.send_payload(opcode, data, fin, compress)?;
        self.sending = if fin { None } else { Some(kind) };
        self.sending_compressed = compress && !fin;
        Ok(())
    }

    /// Whether a message starting with `len` bytes goes out compressed.
    pub(super) fn compresses(&self, len: usize) -> bool {
        #[cfg(feature = "deflate")]
        if let Some(deflater) = &self.deflater {
            return deflater.wants(len);
        }
        let _ = len;
        false
    }

    /// Sends the next part of a message, compressed (RSV1 on its first frame) or not.
    pub(super) fn send_payload(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
        compress: bool,
    ) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        if compress {
            if let Some(mut deflater) = self.deflater.take() {
                // Check room before compressing (a refused send must not advance the
                // compressor's context): DEFLATE never grows data by more than a few
                // bytes per 16 KiB.
                let bound = data.len() + 5 * (data.len() / 16_384 + 1) + 8;
                let result = self.check_room(frame_len(bound, self.masks())).map(|()| {
                    let compressed = deflater.compress(data, fin);
                    let rsv = if opcode == OpCode::Continuation {
                        0
                    } else {
                        RSV1
                    };
                    self.send_frames(opcode, rsv, compressed, fin)
                });
                self.deflater = Some(deflater);
                return result.and_then(|sent| sent);
            }
        }
        let _ = compress;
        self.send_frames(opcode, 0, data, fin)
    }

    /// Turns on permessage-deflate with the agreed parameters.
    #[cfg(feature = "deflate")]
    pub(super) fn start_deflate(&mut self, params: DeflateParams) {
        let server = self.role == Role::Server;
        let (ours, ours_reset, theirs, theirs_reset) = if server {
            (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_max_window_bits,
                params.client_no_context_takeover,
            )
        } else {
            (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_max_window_bits,
                params.server_no_context_takeover,
            )
        };
        self.rx.set_inflater(
            Inflater::new(theirs, theirs_reset).with_memory(self.config.deflate.memory),
        );
        self.deflater = Some(Deflater::new(ours, ours_reset, &self.config.deflate));
    }

    /// Queues `data` as one frame, or as several of at most `fragment_size` bytes; `rsv`
    /// goes on the first frame only.
    pub(super) fn send_frames(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        let masked = self.masks();
        let size = match self.config.fragment_size {
            Some(size) if size > 0 && data.len() > size => size,
            _ => {
                self.check_room(frame_len(data.len(), masked))?;
                let key = self.mask_key();
                self.tx.push_frame(opcode, fin, rsv, data, key);
                return Ok(());
            }
        };
        let total: usize = data
            .chunks(size)
            .map(|chunk| frame_len(chunk.len(), masked))
            .fold(0, usize::saturating_add);
        self.check_room(total)?;
        let count = data.len().div_ceil(size);
        for (i, chunk) in data.chunks(size).enumerate() {
            let (op, bits) = if i == 0 {
                (opcode, rsv)
            } else {
                (OpCode::Continuation, 0)
            };
            let key = self.mask_key();
            self.tx
                .push_frame(op, fin && i + 1 == count, bits, chunk, key);
        }
        Ok(())
    }
}
