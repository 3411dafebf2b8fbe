//! What a [`Connection`](crate::Connection) reports to the application.

use alloc::boxed::Box;

use crate::close::CloseCode;
use crate::error::ProtocolError;
use crate::handshake::{Request, Response};

/// Something that happened on the connection, returned by
/// [`Connection::poll_event`](crate::Connection::poll_event).
///
/// Payloads borrow the buffer the caller passed to `poll_event`, not the connection, so
/// the application can reply (`send_*`) while it holds an event, and can keep a message
/// without copying it (`core::mem::take` the buffer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// (Server) A valid opening handshake request. Inspect it (path, `Origin`, offered
    /// subprotocols and extensions, cookies...) and answer with
    /// [`Connection::accept`](crate::Connection::accept) or
    /// [`Connection::reject`](crate::Connection::reject); no frame is decoded before that.
    Request(Box<Request>),
    /// (Client) The server accepted the opening handshake: the connection is open. The
    /// response carries the negotiated subprotocol and extensions.
    Connected(Box<Response>),
    /// (Client) The server answered the opening handshake with a status other than 101.
    /// The body is at most [`Config::max_head_size`](crate::Config::max_head_size) bytes
    /// (longer bodies are cut). No further event follows.
    Rejected {
        /// Status line and headers.
        response: Box<Response>,
        /// The response body (or its first bytes).
        body: &'a [u8],
    },
    /// A whole text message (always valid UTF-8).
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// A piece of a text message, in [`Delivery::Streaming`](crate::Delivery::Streaming).
    /// Every piece ends on a code-point boundary; `fin` marks the message's last piece.
    TextPiece {
        /// The next bytes of the message.
        text: &'a str,
        /// This piece ends the message.
        fin: bool,
    },
    /// A piece of a binary message, in [`Delivery::Streaming`](crate::Delivery::Streaming).
    BinaryPiece {
        /// The next bytes of the message.
        data: &'a [u8],
        /// This piece ends the message.
        fin: bool,
    },
    /// A Ping with its payload (answered automatically unless
    /// [`Config::auto_pong`](crate::Config::auto_pong) is off).
    Ping(&'a [u8]),
    /// A Pong with its payload.
    Pong(&'a [u8]),
    /// The connection closed: the peer's Close frame (1005 if it had no code, and the
    /// reply is already queued), or 1006 when the transport ended without one
    /// ([`Connection::handle_eof`](crate::Connection::handle_eof)).
    Close {
        /// The code the peer sent, or 1005 / 1006 as above.
        code: CloseCode,
        /// The reason the peer sent (valid UTF-8, at most 123 bytes).
        reason: &'a str,
    },
    /// The peer broke the protocol. The matching Close frame is queued, and no further
    /// event follows. Reported once.
    Error(ProtocolError),
}
