//! WebSocket opening handshake (RFC 6455 §4): pure parsing and encoding, no IO, no state.
//!
//! Server: feed received bytes to a [`HeadParser`] until it returns the head length, then
//! [`parse_request`] the head; answer with [`accept_response`], [`reject_response`] or
//! [`RequestError::response`]. Bytes after the head are already WebSocket frames.
//!
//! Client: build a [`ClientRequest`] from a URL, send [`ClientRequest::encode`] with a key from
//! [`generate_key`], delimit the answer with a [`HeadParser`], then [`parse_response`].
//!
//! Behind another HTTP stack, the same rules apply to parts: [`Request::from_parts`] and
//! [`accept_headers`] (server), [`request_headers`] and [`verify_response`] (client), the
//! last two of each returning the [`Negotiated`] for
//! [`Connection::upgraded`](crate::Connection::upgraded). With the `http` feature they also
//! take and give the `http` crate's types (`Request::from_http`, `accept_http`,
//! `request_http`, `verify_http_response`).

mod client;
mod extensions;
mod head;
mod http;
mod request;
mod response;
mod server;
#[cfg(feature = "http")]
mod with_http;

#[cfg(test)]
mod tests;

use alloc::string::String;

use crate::deflate::DeflateParams;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use client::{ClientRequest, EncodeError, UrlError, request_headers};
pub use extensions::{
    ExtensionOffer, ExtensionParam, ExtensionParseError, format_extensions, parse_extensions,
};
pub use head::{HeadError, HeadLimits, HeadParser};
pub use http::Header;
pub use request::{Request, RequestError, parse_request};
pub use response::{Response, ResponseError, parse_response, verify_response};
pub(crate) use server::encode_101;
pub use server::{Accept, AcceptError, accept_headers, accept_response, reject_response};
#[cfg(feature = "http")]
pub use with_http::{accept_http, request_http, verify_http_response};

/// GUID appended to the key before hashing (§1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)) (§4.2.2).
pub fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.digest().bytes())
}

/// Whether `key` is canonical base64 of exactly 16 bytes (§4.1); the length check first
/// keeps the decode bounded.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24 && STANDARD.decode(key).is_ok_and(|k| k.len() == 16)
}

/// `Sec-WebSocket-Key` from 16 random bytes, which the caller must draw from a strong source
/// (§4.1: fresh and unpredictable for every connection).
pub fn generate_key(random16: [u8; 16]) -> String {
    STANDARD.encode(random16)
}

/// What the opening handshake agreed on: the subprotocol and the permessage-deflate
/// parameters. A [`Connection`](crate::Connection) that ran the handshake itself reports
/// it ([`Connection::negotiated`](crate::Connection::negotiated)); one whose handshake
/// another HTTP stack did is given it ([`Connection::upgraded`](crate::Connection::upgraded)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    subprotocol: Option<String>,
    deflate: Option<DeflateParams>,
}

impl Negotiated {
    /// Nothing negotiated: no subprotocol, no extension.
    pub fn new() -> Self {
        Negotiated::default()
    }

    /// With the subprotocol the server chose (`Sec-WebSocket-Protocol` of the 101).
    pub fn with_subprotocol(mut self, subprotocol: impl Into<String>) -> Self {
        self.subprotocol = Some(subprotocol.into());
        self
    }

    /// With permessage-deflate agreed on these parameters (from
    /// [`deflate::accept`](crate::deflate::accept) or
    /// [`deflate::check_response`](crate::deflate::check_response)). Without the `deflate`
    /// feature there is no codec, so there is no such method either.
    #[cfg(feature = "deflate")]
    pub fn with_deflate(mut self, params: DeflateParams) -> Self {
        self.deflate = Some(params);
        self
    }

    /// The agreed subprotocol, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The agreed permessage-deflate parameters, if the extension is in use.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }
}
