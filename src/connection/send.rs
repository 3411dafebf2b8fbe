//! The send path of a [`Connection`]: checks on commands, the outbound limit, compression,
//! fragmentation, and masking keys.

#[cfg(feature = "deflate")]
use super::RSV1;
use super::{Connection, Role, State};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateParams, Deflater, Inflater};
use crate::error::SendError;
use crate::frame::{MAX_CONTROL_PAYLOAD, OpCode};
use crate::message::Kind;
use crate::outbound::frame_len;

impl Connection {
    pub(super) fn masks(&self) -> bool {
        self.role == Role::Client
    }

    pub(super) fn mask_key(&mut self) -> Option<[u8; 4]> {
        // Every client constructor supplies a random source; servers never mask.
        let rng = self.rng.as_mut().filter(|_| self.role == Role::Client)?;
        let mut key = [0; 4];
        rng.fill(&mut key);
        Some(key)
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
        if let Some((_, deflater)) = &self.deflate {
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
            if let Some((params, mut deflater)) = self.deflate.take() {
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
                self.deflate = Some((params, deflater));
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
        self.rx.set_inflater(Inflater::new(theirs, theirs_reset));
        let deflater = Deflater::new(ours, ours_reset, &self.config.deflate);
        self.deflate = Some((params, deflater));
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
