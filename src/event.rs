//! What a [`Connection`](crate::Connection) reports to the application.

use alloc::boxed::Box;

use crate::close::CloseCode;
use crate::error::{HandshakeError, ProtocolError};
use crate::handshake::{Request, Response};

/// Something that happened on the connection, returned by
/// [`Connection::poll_event`](crate::Connection::poll_event).
///
/// Payloads borrow the buffer the caller passed to `poll_event`, not the connection, so
/// the application can reply (`send_*`) while it holds an event, and can keep a message
/// without copying it (`core::mem::take` the buffer).
///
/// New kinds of event may be added: a `match` needs a wildcard arm, so that code written
/// today keeps compiling with any set of the crate's features.
///
/// ```compile_fail
/// # fn f(event: ws_proto::Event<'_>) {
/// use ws_proto::Event;
/// match event {
///     Event::Request(_) | Event::HttpRequest(_) | Event::Connected(_) => {}
///     Event::Rejected { .. } | Event::Text(_) | Event::Binary(_) => {}
///     Event::TextPiece { .. } | Event::BinaryPiece { .. } => {}
///     Event::Ping(_) | Event::Pong(_) | Event::Closed(_) => {}
///     // error: non-exhaustive patterns: `_` not covered
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// (Server) A valid opening handshake request. Inspect it (path, `Origin`, offered
    /// subprotocols and extensions, cookies...) and answer with
    /// [`Connection::accept`](crate::Connection::accept) or
    /// [`Connection::respond`](crate::Connection::respond); no frame is decoded before that.
    Request(Box<Request>),
    /// (Server) A plain HTTP request (no `Upgrade: websocket`), such as a browser loading
    /// the page that opens the WebSocket: answer it with
    /// [`Connection::respond`](crate::Connection::respond) (any status, headers and body),
    /// which ends the connection. One port serves pages and WebSockets from one parse. A
    /// request body or pipelined request that follows is not read.
    HttpRequest(Box<Request>),
    /// (Client) The server accepted the opening handshake: the connection is open. The
    /// response carries the negotiated subprotocol and extensions.
    Connected(Box<Response>),
    /// (Client) The server answered the opening handshake with a status other than 101.
    /// The body is at most [`Config::max_head_size`](crate::Config::max_head_size) bytes
    /// (longer bodies are cut). [`Event::Closed`] follows.
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
    /// The connection has ended; always the last event, reported exactly once (as a
    /// browser's `close` event). It says how: the close code and reason, whether the
    /// closing handshake completed, and who or what ended it. Close the transport once
    /// [`Connection::should_close_transport`](crate::Connection::should_close_transport)
    /// says so.
    Closed(Closed<'a>),
}

/// How a connection ended: the content of [`Event::Closed`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Closed<'a> {
    /// The code of the peer's Close frame (1005 if it had none); for a failure the code of
    /// the Close frame we sent (1002, 1007, 1009, 1011); 1006 when no Close frame was
    /// exchanged (the transport ended, a timeout, a failed opening handshake).
    pub code: CloseCode,
    /// The reason that goes with `code`: the peer's (valid UTF-8, at most 123 bytes), or
    /// ours for a failure; empty with 1006.
    pub reason: &'a str,
    /// The closing handshake completed: Close frames went both ways.
    pub was_clean: bool,
    /// Who or what ended the connection.
    pub cause: CloseCause,
}

/// Who or what ended a connection ([`Closed::cause`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The peer sent the first Close frame; ours, echoing its code and reason, is queued.
    PeerClose,
    /// We sent the first Close frame ([`Connection::close`](crate::Connection::close))
    /// and the peer answered.
    LocalClose,
    /// The transport ended ([`Connection::handle_eof`](crate::Connection::handle_eof))
    /// before a Close frame arrived.
    Eof,
    /// Our Close frame was not answered within
    /// [`Config::close_timeout`](crate::Config::close_timeout).
    CloseTimeout,
    /// With keepalive on, the peer sent nothing within
    /// [`Config::keepalive_timeout`](crate::Config::keepalive_timeout) of our Ping; we sent
    /// Close 1011.
    KeepaliveTimeout,
    /// The peer broke the protocol; we sent the error's close code.
    ProtocolError(ProtocolError),
    /// The opening handshake failed, was refused by the server, or timed out; no Close
    /// frame is exchanged. A server has queued the HTTP error response
    /// ([`HandshakeError::status`]).
    HandshakeFailed(HandshakeError),
}
