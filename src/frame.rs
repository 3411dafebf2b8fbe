//! The frame codec (RFC 6455 §5.2): frame headers in and out.
//!
//! Decoding is split from payload handling: [`decode_header`] reads only the 2–14 header
//! bytes and checks every rule that a header alone can break, so that limits are enforced
//! before a single payload byte is buffered. Payload bytes are then consumed by the message
//! layer as they arrive.

use crate::error::ProtocolError;

/// A frame opcode (RFC 6455 §5.2). Reserved opcodes are rejected while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: first (or only) frame of a text message.
    Text,
    /// 0x2: first (or only) frame of a binary message.
    Binary,
    /// 0x8: Close.
    Close,
    /// 0x9: Ping.
    Ping,
    /// 0xA: Pong.
    Pong,
}

impl OpCode {
    /// Parses the low nibble of the first header byte; `None` for reserved opcodes.
    pub const fn from_u8(nibble: u8) -> Option<OpCode> {
        Some(match nibble {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong are control frames.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Longest possible frame header: 2 bytes, 8 bytes of extended length, 4 bytes of key.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the high three bits of a nibble (`0b100` is RSV1).
    pub rsv: u8,
    /// The frame type.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload length as declared (may exceed `usize` on 32-bit targets; checked by limits).
    pub payload_len: u64,
}

impl FrameHeader {
    /// Number of bytes this header takes on the wire (minimal length encoding).
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.payload_len < 126 {
            0
        } else if self.payload_len <= 0xFFFF {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into `out` (which must hold [`encoded_len`](Self::encoded_len)
    /// bytes) using the minimal length encoding, and returns the number of bytes written.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = 2;
        if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
        } else if self.payload_len <= 0xFFFF {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            n = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            n = 10;
        }
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

/// The encoded header of a frame whose payload the caller writes itself, after it
/// ([`Connection::send_binary_unbuffered`](crate::Connection::send_binary_unbuffered)).
/// 2 to 14 bytes; dereferences to them.
#[derive(Clone, Copy)]
pub struct FrameHead {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl FrameHead {
    /// Encodes `header` (minimal length encoding).
    pub(crate) fn encode(header: &FrameHeader) -> FrameHead {
        let mut bytes = [0; MAX_HEADER_LEN];
        let len = header.encode(&mut bytes) as u8;
        FrameHead { bytes, len }
    }

    /// The header's bytes, to write before the payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl core::ops::Deref for FrameHead {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for FrameHead {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl core::fmt::Debug for FrameHead {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("FrameHead").field(&self.as_bytes()).finish()
    }
}

impl PartialEq for FrameHead {
    fn eq(&self, other: &FrameHead) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for FrameHead {}

/// Decodes one frame header from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold the whole header, and
/// `Ok(Some((header, header_len)))` otherwise. Checks the rules that need no connection
/// state: reserved opcodes, the 64-bit length's most significant bit, the minimal length
/// encoding, and the control-frame rules (FIN set, payload ≤ 125). RSV bits, mask
/// direction, fragmentation and limits depend on the connection and are checked by the
/// caller.
pub fn decode_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let [b0, b1, rest @ ..] = buf else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0b111;
    let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        if len7 > 125 {
            return Err(ProtocolError::ControlFrameTooLong);
        }
    }
    let (payload_len, ext) = match len7 {
        126 => {
            let Some(bytes) = rest.first_chunk::<2>() else {
                return Ok(None);
            };
            let len = u64::from(u16::from_be_bytes(*bytes));
            if len < 126 {
                return Err(ProtocolError::NonMinimalLength);
            }
            (len, 2)
        }
        127 => {
            let Some(bytes) = rest.first_chunk::<8>() else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(*bytes);
            if len >> 63 != 0 {
                return Err(ProtocolError::InvalidLength);
            }
            if len <= 0xFFFF {
                return Err(ProtocolError::NonMinimalLength);
            }
            (len, 8)
        }
        n => (u64::from(n), 0),
    };
    let rest = &rest[ext..];
    let mask = if masked {
        let Some(key) = rest.first_chunk::<4>() else {
            return Ok(None);
        };
        Some(*key)
    } else {
        None
    };
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len,
    };
    Ok(Some((header, 2 + ext + if masked { 4 } else { 0 })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, fin: bool, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: len,
        }
    }

    fn encode(h: &FrameHeader) -> alloc::vec::Vec<u8> {
        let mut out = [0; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(n, h.encoded_len());
        out[..n].to_vec()
    }

    #[test]
    fn rfc_5_7_header_bytes() {
        // Unmasked "Hello".
        assert_eq!(encode(&header(OpCode::Text, true, None, 5)), [0x81, 0x05]);
        // Masked "Hello".
        let masked = header(OpCode::Text, true, Some([0x37, 0xfa, 0x21, 0x3d]), 5);
        assert_eq!(encode(&masked), [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        // Fragments "Hel" + "lo".
        assert_eq!(encode(&header(OpCode::Text, false, None, 3)), [0x01, 0x03]);
        assert_eq!(
            encode(&header(OpCode::Continuation, true, None, 2)),
            [0x80, 0x02]
        );
        // 256-byte and 64 KiB binary.
        assert_eq!(
            encode(&header(OpCode::Binary, true, None, 256)),
            [0x82, 0x7E, 0x01, 0x00]
        );
        assert_eq!(
            encode(&header(OpCode::Binary, true, None, 65536)),
            [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]
        );
    }

    #[test]
    fn frame_head_holds_the_encoding() {
        for (len, mask) in [(5, None), (256, Some([1, 2, 3, 4])), (65536, None)] {
            let h = header(OpCode::Binary, true, mask, len);
            let head = FrameHead::encode(&h);
            assert_eq!(head.as_bytes(), encode(&h));
            assert_eq!(&*head, head.as_ref());
            assert_eq!(decode_header(&head), Ok(Some((h, head.len()))));
        }
    }

    #[test]
    fn decode_needs_the_whole_header() {
        let bytes = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for n in 0..bytes.len() {
            assert_eq!(decode_header(&bytes[..n]), Ok(None), "{n} bytes");
        }
        let (h, len) = decode_header(&bytes).unwrap().unwrap();
        assert_eq!(len, 14);
        assert_eq!(h, header(OpCode::Binary, true, Some([1, 2, 3, 4]), 65536));
    }

    #[test]
    fn header_rules() {
        assert_eq!(
            decode_header(&[0x83, 0]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(
            decode_header(&[0x8B, 0]),
            Err(ProtocolError::ReservedOpcode(0xB))
        );
        assert_eq!(
            decode_header(&[0x09, 0]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            decode_header(&[0x89, 126, 0, 126]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            decode_header(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidLength)
        );
        assert_eq!(
            decode_header(&[0x82, 126, 0, 125]),
            Err(ProtocolError::NonMinimalLength)
        );
        assert_eq!(
            decode_header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(ProtocolError::NonMinimalLength)
        );
    }
}
