//! Server side: encoding the handshake answer (RFC 6455 §4.2.2) or a refusal.

use alloc::{borrow::ToOwned, format, string::String, vec, vec::Vec};
use core::fmt;

use super::extensions::{ExtensionOffer, format_extensions};
use super::http::{OutHeaderError, check_out_headers, push_header, push_headers, push_status_line};
use super::request::Request;
use super::{Negotiated, accept_key};
use crate::Config;
use crate::deflate;

/// What the server agrees to when accepting a handshake.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Accept {
    /// Chosen subprotocol; must be one the client offered.
    pub subprotocol: Option<String>,
    /// Accepted extensions with their response parameters; each name must have been offered.
    pub extensions: Vec<ExtensionOffer>,
    /// Extra headers such as `Set-Cookie`.
    pub headers: Vec<(String, String)>,
}

/// Why a response could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptError {
    /// The request is a plain HTTP request, not a WebSocket upgrade
    /// ([`Request::is_upgrade`] is false): answer it as HTTP instead.
    NotAnUpgrade,
    /// The chosen subprotocol is not one the client offered (exact match).
    SubprotocolNotOffered,
    /// An accepted extension's name was not offered (exact match).
    ExtensionNotOffered,
    /// An extension name, parameter name or value is not a token.
    InvalidExtension,
    /// An extra header name is not a token.
    InvalidHeaderName,
    /// An extra header value has CR, LF, another control character or surrounding whitespace.
    InvalidHeaderValue,
    /// An extra header would duplicate one this module writes itself.
    ReservedHeader,
    /// `reject_response` status outside 200..=999.
    InvalidStatus,
    /// A body for a 204 or 304 response, which cannot carry one.
    BodyNotAllowed,
    /// [`Connection::accept`](crate::Connection::accept) or
    /// [`Connection::respond`](crate::Connection::respond) without a request waiting for an
    /// answer (not a server, already answered, or no request received yet).
    NoPendingRequest,
    /// `permessage-deflate` in [`Accept::extensions`] given to
    /// [`Connection::accept`](crate::Connection::accept) or [`accept_headers`], which
    /// negotiate it themselves from [`Config::deflate`](crate::Config).
    ExtensionManagedByConnection,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AcceptError::NotAnUpgrade => "the request is not a WebSocket upgrade",
            AcceptError::SubprotocolNotOffered => "subprotocol was not offered by the client",
            AcceptError::ExtensionNotOffered => "extension was not offered by the client",
            AcceptError::InvalidExtension => "extension names and values must be tokens",
            AcceptError::InvalidHeaderName => "header name is not a token",
            AcceptError::InvalidHeaderValue => "header value has forbidden characters",
            AcceptError::ReservedHeader => "header is set by the handshake itself",
            AcceptError::InvalidStatus => "status must be in 200..=999",
            AcceptError::BodyNotAllowed => "204 and 304 responses have no body",
            AcceptError::NoPendingRequest => "no handshake request is waiting for an answer",
            AcceptError::ExtensionManagedByConnection => {
                "permessage-deflate is negotiated by the connection"
            }
        })
    }
}

impl core::error::Error for AcceptError {}

impl From<OutHeaderError> for AcceptError {
    fn from(e: OutHeaderError) -> Self {
        match e {
            OutHeaderError::Name => AcceptError::InvalidHeaderName,
            OutHeaderError::Value => AcceptError::InvalidHeaderValue,
            OutHeaderError::Reserved => AcceptError::ReservedHeader,
        }
    }
}

/// Headers `accept_response` writes itself (plus body framing, which a 101 must not have).
const ACCEPT_RESERVED: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// Headers `reject_response` writes itself (plus `Transfer-Encoding`, which would conflict).
const REJECT_RESERVED: &[&str] = &["Content-Length", "Connection", "Transfer-Encoding"];

/// The headers of the `101 Switching Protocols` answer to `request`, and what it
/// negotiates: the subprotocol of `accept`, and permessage-deflate when
/// [`Config::deflate`](crate::Config::deflate) enables it (and the `deflate` feature is on)
/// and the client offered acceptable parameters. This is what
/// [`Connection::accept`](crate::Connection::accept) sends; behind another HTTP stack,
/// answer with these headers and pass the [`Negotiated`] to
/// [`Connection::upgraded`](crate::Connection::upgraded) with the same `config`.
///
/// The headers are, in order: `Upgrade`, `Connection`, `Sec-WebSocket-Accept`,
/// `Sec-WebSocket-Protocol` (if chosen), `Sec-WebSocket-Extensions` (the extensions of
/// `accept`, then permessage-deflate, if any), then `accept.headers`. Everything is checked
/// as for [`accept_response`]; a plain (non-upgrade) request is refused with
/// [`AcceptError::NotAnUpgrade`], and permessage-deflate in `accept.extensions` with
/// [`AcceptError::ExtensionManagedByConnection`].
///
/// ```
/// use ws_proto::handshake::{Accept, accept_headers};
/// use ws_proto::{Config, Request};
///
/// let request = Request::from_parts(
///     "GET",
///     "/",
///     [
///         ("Host", "example.com"),
///         ("Upgrade", "websocket"),
///         ("Connection", "Upgrade"),
///         ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
///         ("Sec-WebSocket-Version", "13"),
///         ("Sec-WebSocket-Protocol", "chat.v1"),
///     ],
/// )?;
/// let accept = Accept {
///     subprotocol: Some("chat.v1".into()),
///     ..Accept::default()
/// };
/// let (headers, negotiated) = accept_headers(&request, &accept, &Config::default())?;
/// assert_eq!(headers[2], ("Sec-WebSocket-Accept".into(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into()));
/// assert_eq!(headers[3], ("Sec-WebSocket-Protocol".into(), "chat.v1".into()));
/// assert_eq!(negotiated.subprotocol(), Some("chat.v1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_headers(
    request: &Request,
    accept: &Accept,
    config: &Config,
) -> Result<(Vec<(String, String)>, Negotiated), AcceptError> {
    if !request.is_upgrade() {
        return Err(AcceptError::NotAnUpgrade);
    }
    if accept.extensions.iter().any(|e| e.name == deflate::NAME) {
        return Err(AcceptError::ExtensionManagedByConnection);
    }
    let agreed = (cfg!(feature = "deflate") && config.deflate.enabled)
        .then(|| deflate::accept(&config.deflate, request.extensions()))
        .flatten();
    let headers = response_headers(request, accept, agreed.as_ref().map(|(_, e)| e))?;
    let negotiated = Negotiated {
        subprotocol: accept.subprotocol.clone(),
        deflate: agreed.map(|(params, _)| params),
    };
    Ok((headers, negotiated))
}

/// The 101's headers for `accept`, plus the `deflate` response element if agreed.
/// Everything is checked before anything is built.
fn response_headers(
    req: &Request,
    accept: &Accept,
    deflate: Option<&ExtensionOffer>,
) -> Result<Vec<(String, String)>, AcceptError> {
    if !req.is_upgrade() {
        return Err(AcceptError::NotAnUpgrade);
    }
    if let Some(p) = &accept.subprotocol
        && !req.subprotocols().contains(p)
    {
        return Err(AcceptError::SubprotocolNotOffered);
    }
    for e in &accept.extensions {
        if !e.is_valid() {
            return Err(AcceptError::InvalidExtension);
        }
        if !req.extensions().iter().any(|o| o.name == e.name) {
            return Err(AcceptError::ExtensionNotOffered);
        }
    }
    check_out_headers(&accept.headers, ACCEPT_RESERVED)?;

    let mut headers = vec![
        ("Upgrade".to_owned(), "websocket".to_owned()),
        ("Connection".to_owned(), "Upgrade".to_owned()),
        ("Sec-WebSocket-Accept".to_owned(), accept_key(req.key())),
    ];
    if let Some(p) = &accept.subprotocol {
        headers.push(("Sec-WebSocket-Protocol".to_owned(), p.clone()));
    }
    let mut extensions = accept.extensions.clone();
    extensions.extend(deflate.cloned());
    if !extensions.is_empty() {
        let value = format_extensions(&extensions);
        headers.push(("Sec-WebSocket-Extensions".to_owned(), value));
    }
    headers.extend(accept.headers.iter().cloned());
    Ok(headers)
}

/// A `101 Switching Protocols` head with `headers` (already checked).
pub(crate) fn encode_101(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    push_status_line(&mut out, 101);
    push_headers(&mut out, headers);
    out.extend_from_slice(b"\r\n");
    out
}

/// Encodes the `101 Switching Protocols` answer to `req` with exactly what `accept` says
/// (no permessage-deflate of its own: see [`accept_headers`] for that). Everything is
/// checked before anything is written, so an error never yields a partial response; a
/// plain (non-upgrade) request is refused with [`AcceptError::NotAnUpgrade`].
pub fn accept_response(req: &Request, accept: &Accept) -> Result<Vec<u8>, AcceptError> {
    response_headers(req, accept, None).map(|headers| encode_101(&headers))
}

/// Encodes a refusal with any final status (401, 403, 404, ...): adds `Content-Length` (except
/// for 204/304) and `Connection: close`. 1xx is refused: it is not a final answer.
pub fn reject_response(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<u8>, AcceptError> {
    if !(200..=999).contains(&status) {
        return Err(AcceptError::InvalidStatus);
    }
    let bodiless = status == 204 || status == 304;
    if bodiless && !body.is_empty() {
        return Err(AcceptError::BodyNotAllowed);
    }
    check_out_headers(headers, REJECT_RESERVED)?;

    let mut out = Vec::with_capacity(128 + body.len());
    push_status_line(&mut out, status);
    if !bodiless {
        push_header(&mut out, "Content-Length", &format!("{}", body.len()));
    }
    push_header(&mut out, "Connection", "close");
    push_headers(&mut out, headers);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_request;
    use alloc::{borrow::ToOwned, vec};

    fn request(extra: &str) -> Request {
        let head = alloc::format!(
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        parse_request(head.as_bytes()).unwrap()
    }

    fn offered() -> Request {
        request(
            "Sec-WebSocket-Protocol: chat, superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
        )
    }

    fn headers(h: &[(&str, &str)]) -> Vec<(String, String)> {
        h.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rfc_example_accept() {
        let out = accept_response(&request(""), &Accept::default()).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn accept_with_protocol_extension_and_cookie() {
        let accept = Accept {
            subprotocol: Some("superchat".into()),
            extensions: vec![
                ExtensionOffer::new("permessage-deflate")
                    .with_param("server_max_window_bits", Some("10")),
            ],
            headers: headers(&[("Set-Cookie", "a=b; Path=/")]),
        };
        let out = String::from_utf8(accept_response(&offered(), &accept).unwrap()).unwrap();
        assert!(
            out.ends_with(
                "Sec-WebSocket-Protocol: superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\
             Set-Cookie: a=b; Path=/\r\n\r\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn accept_errors() {
        let req = offered();
        let check = |accept: Accept, err| assert_eq!(accept_response(&req, &accept), Err(err));
        let proto = |p: &str| Accept {
            subprotocol: Some(p.into()),
            ..Accept::default()
        };
        check(proto("Chat"), AcceptError::SubprotocolNotOffered);
        check(proto("chat, superchat"), AcceptError::SubprotocolNotOffered);
        let ext = |e: ExtensionOffer| Accept {
            extensions: vec![e],
            ..Accept::default()
        };
        check(
            ext(ExtensionOffer::new("x-other")),
            AcceptError::ExtensionNotOffered,
        );
        let bad = ExtensionOffer::new("permessage-deflate").with_param("a", Some("x y"));
        check(ext(bad), AcceptError::InvalidExtension);
        let extra = |h: &[(&str, &str)]| Accept {
            headers: headers(h),
            ..Accept::default()
        };
        check(
            extra(&[("X-A", "b\r\nX-Injected: 1")]),
            AcceptError::InvalidHeaderValue,
        );
        check(
            extra(&[("X-A", " padded")]),
            AcceptError::InvalidHeaderValue,
        );
        check(extra(&[("X A", "b")]), AcceptError::InvalidHeaderName);
        check(extra(&[("", "b")]), AcceptError::InvalidHeaderName);
        check(
            extra(&[("sec-websocket-accept", "x")]),
            AcceptError::ReservedHeader,
        );
        check(
            extra(&[("CONNECTION", "close")]),
            AcceptError::ReservedHeader,
        );
        assert_eq!(
            accept_response(&request(""), &proto("chat")),
            Err(AcceptError::SubprotocolNotOffered)
        );
    }

    #[test]
    fn reject_responses() {
        let out = reject_response(403, &headers(&[("X-Reason", "origin")]), b"no").unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\
              X-Reason: origin\r\n\r\nno"
        );
        let out = reject_response(599, &[], b"").unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 599 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let out = reject_response(204, &[], b"").unwrap();
        assert_eq!(out, b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        let vh = headers(&[("Sec-WebSocket-Version", "13")]);
        assert!(reject_response(426, &vh, b"").is_ok());
    }

    #[test]
    fn reject_errors() {
        assert_eq!(
            reject_response(101, &[], b""),
            Err(AcceptError::InvalidStatus)
        );
        assert_eq!(
            reject_response(100, &[], b""),
            Err(AcceptError::InvalidStatus)
        );
        assert_eq!(
            reject_response(1000, &[], b""),
            Err(AcceptError::InvalidStatus)
        );
        assert_eq!(
            reject_response(304, &[], b"x"),
            Err(AcceptError::BodyNotAllowed)
        );
        let h = headers(&[("Content-Length", "1")]);
        assert_eq!(
            reject_response(400, &h, b""),
            Err(AcceptError::ReservedHeader)
        );
        let h = headers(&[("Location", "/a\n")]);
        assert_eq!(
            reject_response(302, &h, b""),
            Err(AcceptError::InvalidHeaderValue)
        );
        let h = headers(&[("Loc:ation", "/a")]);
        assert_eq!(
            reject_response(302, &h, b""),
            Err(AcceptError::InvalidHeaderName)
        );
    }
}
