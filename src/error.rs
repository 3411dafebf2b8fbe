//! The two kinds of error (as in h11 and wsproto).
//!
//! - [`ProtocolError`]: the *peer* broke the protocol. The connection fails once: the right
//!   Close frame is queued, the error is reported in the terminal
//!   [`Event::Closed`](crate::Event::Closed) ([`CloseCause::ProtocolError`](crate::CloseCause)),
//!   and later input is ignored. Each variant knows its close code. [`HandshakeError`] is
//!   the same for the opening handshake (each knows its HTTP status).
//! - [`SendError`]: the *application* misused the API (sent after Close, an invalid close
//!   code, too much queued output). The call returns the error and changes nothing.

use core::fmt;

use crate::close::CloseCode;
use crate::handshake::{HeadError, RequestError, ResponseError};

/// The peer broke RFC 6455 (or RFC 7692); the connection has failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An RSV bit was set that no negotiated extension defines (1002).
    ReservedBits(u8),
    /// An opcode from 0x3–0x7 or 0xB–0xF (1002).
    ReservedOpcode(u8),
    /// A server received an unmasked frame (1002).
    UnmaskedFrame,
    /// A client received a masked frame (1002).
    MaskedFrame,
    /// A 64-bit payload length with its most significant bit set (1002).
    InvalidLength,
    /// A length not in its minimal encoding, e.g. 5 sent as a 16-bit length (1002).
    NonMinimalLength,
    /// A control frame with more than 125 bytes of payload (1002).
    ControlFrameTooLong,
    /// A control frame without FIN (1002).
    FragmentedControlFrame,
    /// A continuation frame with no fragmented message in progress (1002).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was in progress (1002).
    ExpectedContinuation,
    /// A Close frame with a 1-byte body (1002).
    InvalidCloseBody,
    /// A Close frame with a code that may not be sent (1002).
    InvalidCloseCode(u16),
    /// Text or a close reason that is not UTF-8 (1007).
    InvalidUtf8,
    /// A permessage-deflate message that is not a valid DEFLATE stream (1007).
    InvalidCompressedData,
    /// A frame's payload exceeds [`Config::max_frame_size`](crate::Config::max_frame_size)
    /// (1009).
    FrameTooLarge,
    /// A message exceeds [`Config::max_message_size`](crate::Config::max_message_size)
    /// (1009).
    MessageTooLarge,
    /// A message has more frames than
    /// [`Config::max_fragments`](crate::Config::max_fragments) (1009).
    TooManyFragments,
}

impl ProtocolError {
    /// The close code this error puts on the wire.
    pub const fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooLarge
            | ProtocolError::MessageTooLarge
            | ProtocolError::TooManyFragments => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short description, also used as the reason of the Close frame we send.
    pub const fn reason(self) -> &'static str {
        match self {
            ProtocolError::ReservedBits(_) => "reserved bits set",
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::UnmaskedFrame => "client frame not masked",
            ProtocolError::MaskedFrame => "server frame masked",
            ProtocolError::InvalidLength => "payload length MSB set",
            ProtocolError::NonMinimalLength => "non-minimal payload length",
            ProtocolError::ControlFrameTooLong => "control frame too long",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::UnexpectedContinuation => "continuation without a message",
            ProtocolError::ExpectedContinuation => "expected a continuation frame",
            ProtocolError::InvalidCloseBody => "close body of one byte",
            ProtocolError::InvalidCloseCode(_) => "invalid close code",
            ProtocolError::InvalidUtf8 => "invalid UTF-8",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
            ProtocolError::FrameTooLarge => "frame too large",
            ProtocolError::MessageTooLarge => "message too large",
            ProtocolError::TooManyFragments => "too many fragments",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBits(bits) => write!(f, "reserved bits set: {bits:#05b}"),
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }?;
        write!(f, " (close code {})", self.close_code())
    }
}

impl core::error::Error for ProtocolError {}

/// Why the opening handshake failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The HTTP head was malformed or over a limit (server: 400 or 431 sent; client: the
    /// server's response was).
    Head(HeadError),
    /// The client's request broke a rule of RFC 6455 §4.2.1 (the HTTP status in the
    /// error was sent).
    Request(RequestError),
    /// The server's response broke a rule of RFC 6455 §4.1.
    Response(ResponseError),
    /// (Client) The server answered with this status instead of 101
    /// ([`Event::Rejected`](crate::Event::Rejected) has the response).
    Rejected(u16),
    /// (Server) While its request waited for an answer, the client sent more than
    /// [`Config::max_head_size`](crate::Config::max_head_size) bytes of frames, which it
    /// may not (RFC 6455 §4.1); `400 Bad Request` was sent.
    EarlyData,
    /// The handshake did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Timeout,
}

impl HandshakeError {
    /// The HTTP status a server sent in answer, if this end is the server.
    pub fn status(&self) -> Option<u16> {
        match self {
            HandshakeError::Head(e) => Some(e.status()),
            HandshakeError::Request(e) => Some(e.status()),
            HandshakeError::EarlyData => Some(400),
            HandshakeError::Response(_) | HandshakeError::Timeout | HandshakeError::Rejected(_) => {
                None
            }
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Head(e) => fmt::Display::fmt(e, f),
            HandshakeError::Request(e) => fmt::Display::fmt(e, f),
            HandshakeError::Response(e) => fmt::Display::fmt(e, f),
            HandshakeError::Timeout => f.write_str("timed out"),
            HandshakeError::EarlyData => f.write_str("data sent before the handshake completed"),
            HandshakeError::Rejected(status) => write!(f, "refused by the server ({status})"),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// A command the application gave could not be carried out; nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The opening handshake has not completed yet.
    NotOpen,
    /// A Close frame was already sent, or the connection has failed or ended.
    Closed,
    /// The close code may not be sent (see [`CloseCode::is_sendable`]).
    InvalidCloseCode(u16),
    /// A close reason longer than 123 bytes.
    ReasonTooLong,
    /// A Ping or Pong payload longer than 125 bytes.
    ControlPayloadTooLong,
    /// A whole message, or a part of the other type, while a streamed message is being
    /// sent; finish it first (`fin = true`).
    MessageInProgress,
    /// Queuing this frame would take the outbound queue past
    /// [`Config::max_outbound_buffer`](crate::Config::max_outbound_buffer). Drain the output
    /// ([`Connection::poll_transmit`](crate::Connection::poll_transmit)) and retry, or send
    /// large messages in parts.
    Backpressure,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("the opening handshake has not completed"),
            SendError::Closed => f.write_str("the connection is closing or closed"),
            SendError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            SendError::ReasonTooLong => f.write_str("close reason longer than 123 bytes"),
            SendError::ControlPayloadTooLong => {
                f.write_str("control payload longer than 125 bytes")
            }
            SendError::MessageInProgress => f.write_str("a streamed message is in progress"),
            SendError::Backpressure => f.write_str("outbound buffer limit reached"),
        }
    }
}

impl core::error::Error for SendError {}
