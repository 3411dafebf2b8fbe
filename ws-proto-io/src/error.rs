//! [`Error`]: one error type for both drivers.

use core::fmt;
use std::io;

use ws_proto::handshake::{EncodeError, UrlError};
use ws_proto::{AcceptError, CloseCause, HandshakeError, ProtocolError, SendError};

/// What a driver call can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (including a timeout set on a blocking socket).
    Io(io::Error),
    /// TLS failed: a handshake error, an untrusted or wrong-name certificate, a peer that
    /// ended mid-record, or a certificate or key file that could not be loaded.
    Tls(Box<dyn std::error::Error + Send + Sync>),
    /// The URL is not a `ws://` or `wss://` URL this driver can connect to (`wss://`
    /// needs the `tls` feature).
    Url(UrlError),
    /// The client's request could not be encoded.
    Request(EncodeError),
    /// The server refused the upgrade with this status and body.
    Rejected {
        /// The HTTP status (not 101).
        status: u16,
        /// The response body (its first bytes).
        body: Vec<u8>,
    },
    /// The opening handshake failed (a malformed request or response, a timeout).
    Handshake(HandshakeError),
    /// (Server) The application answered the opening request with this HTTP status instead
    /// of accepting a WebSocket (a page, a refusal); the response was sent and the
    /// transport closed.
    Responded {
        /// The status sent.
        status: u16,
    },
    /// The application's answer to the opening request could not be encoded.
    Accept(AcceptError),
    /// The peer broke the protocol; the matching Close frame was sent.
    Protocol(ProtocolError),
    /// The connection has ended ([`CloseCause`] says how) and nothing more can be read or
    /// sent. Reading returns it once after the Close message, then
    /// [`Error::AlreadyClosed`].
    ConnectionClosed(CloseCause),
    /// A read or send after [`Error::ConnectionClosed`] was returned.
    AlreadyClosed,
    /// The message could not be sent (an invalid close code, a control payload over 125
    /// bytes, a full outbound queue).
    Send(SendError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "transport error: {e}"),
            Error::Tls(e) => write!(f, "TLS error: {e}"),
            Error::Url(e) => write!(f, "invalid URL: {e}"),
            Error::Request(e) => write!(f, "invalid request: {e}"),
            Error::Rejected { status, .. } => write!(f, "the server refused the upgrade: {status}"),
            Error::Handshake(e) => write!(f, "opening handshake failed: {e}"),
            Error::Responded { status } => {
                write!(f, "answered the request with HTTP status {status}")
            }
            Error::Accept(e) => write!(f, "invalid answer to the request: {e}"),
            Error::Protocol(e) => write!(f, "the peer broke the protocol: {e}"),
            Error::ConnectionClosed(cause) => write!(f, "connection closed ({cause:?})"),
            Error::AlreadyClosed => f.write_str("connection already closed"),
            Error::Send(e) => write!(f, "message not sent: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Tls(e) => Some(&**e),
            Error::Url(e) => Some(e),
            Error::Request(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Accept(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        Error::Send(e)
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Error {
        Error::Url(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Error {
        Error::Request(e)
    }
}

impl From<AcceptError> for Error {
    fn from(e: AcceptError) -> Error {
        Error::Accept(e)
    }
}

/// An `Error` as an `io::Error`, for code that speaks `io` (`Error::Io` unwrapped).
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::ConnectionClosed(_) | Error::AlreadyClosed => {
                io::Error::new(io::ErrorKind::ConnectionAborted, e)
            }
            other => io::Error::other(other),
        }
    }
}
