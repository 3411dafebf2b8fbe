//! Client side: validating the server's answer (RFC 6455 §4.1, last part).

use alloc::{string::String, vec::Vec};
use core::fmt;

use super::client::ClientRequest;
use super::extensions::{ExtensionOffer, parse_extensions};
use super::http::{
    Header, HeaderLineError, content_length, header_from_parts, is_field_byte, is_token,
    list_contains, parse_header, parse_version, split_lines, values,
};
use super::{Negotiated, accept_key};
use crate::Config;
use crate::deflate::DeflateError;

/// Why a server response was refused; each variant is one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Bad line endings or no terminating empty line.
    MalformedHead,
    /// Status line is not `HTTP/1.x SP 3DIGIT [SP reason]`.
    BadStatusLine,
    /// Not HTTP/1.x, or a 101 over HTTP/1.0.
    UnsupportedHttpVersion,
    /// Header name missing or not a token.
    BadHeaderName,
    /// Obsolete line folding.
    FoldedHeader,
    /// Control character in a header value.
    BadHeaderValue,
    /// `Content-Length` not a number, or conflicting values.
    BadContentLength,
    /// 101 without `websocket` in `Upgrade`.
    NotWebSocketUpgrade,
    /// 101 without `upgrade` in `Connection`.
    NoConnectionUpgrade,
    /// 101 without `Sec-WebSocket-Accept`.
    MissingAccept,
    /// 101 with more than one `Sec-WebSocket-Accept`.
    DuplicateAccept,
    /// `Sec-WebSocket-Accept` does not match the key.
    AcceptMismatch,
    /// More than one subprotocol selected.
    MultipleSubprotocols,
    /// Selected subprotocol was not offered.
    SubprotocolNotOffered,
    /// `Sec-WebSocket-Extensions` does not parse.
    BadExtensions,
    /// An extension in the response was not offered (by name).
    ExtensionNotOffered,
    /// ([`verify_response`] only) The status is not 101: the server did not upgrade.
    /// ([`parse_response`] returns such a response for the caller to read.)
    NotSwitchingProtocols(u16),
    /// ([`verify_response`] only) The permessage-deflate response breaks RFC 7692 or asks
    /// for more than the client offered.
    Deflate(DeflateError),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseError::*;
        f.write_str(match self {
            NotSwitchingProtocols(status) => {
                return write!(f, "server answered {status} instead of 101");
            }
            Deflate(e) => return write!(f, "permessage-deflate: {e}"),
            MalformedHead => "malformed response head",
            BadStatusLine => "malformed status line",
            UnsupportedHttpVersion => "unsupported HTTP version",
            BadHeaderName => "invalid header name",
            FoldedHeader => "folded header line",
            BadHeaderValue => "invalid character in header value",
            BadContentLength => "invalid Content-Length",
            NotWebSocketUpgrade => "Upgrade header does not include websocket",
            NoConnectionUpgrade => "Connection header does not include upgrade",
            MissingAccept => "missing Sec-WebSocket-Accept",
            DuplicateAccept => "duplicate Sec-WebSocket-Accept",
            AcceptMismatch => "Sec-WebSocket-Accept does not match the key",
            MultipleSubprotocols => "more than one subprotocol selected",
            SubprotocolNotOffered => "server selected a subprotocol that was not offered",
            BadExtensions => "invalid Sec-WebSocket-Extensions",
            ExtensionNotOffered => "server accepted an extension that was not offered",
        })
    }
}

impl core::error::Error for ResponseError {}

/// A parsed server response: a verified 101, or any other status for the caller to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: String,
    headers: Vec<Header>,
    content_length: Option<u64>,
    subprotocol: Option<String>,
    extensions: Vec<ExtensionOffer>,
}

impl Response {
    /// Status code; only 101 means the connection is now a WebSocket.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Reason phrase (non-UTF-8 bytes replaced).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// All headers in order, repeats included.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        values(&self.headers, name).next()
    }

    /// Values of every header called `name` (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
        values(&self.headers, name)
    }

    /// Declared body length, so the caller can read a bounded body; `None` when absent, with
    /// `Transfer-Encoding` (read until close, bounded), or for a 101. 1xx/204/304 have no body.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Subprotocol the server selected (101 only).
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Extensions the server accepted, with its parameters (101 only); each extension must
    /// still check its own parameters.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }
}

/// Parses `HTTP/1.x SP 3DIGIT [SP reason]` into version minor, status and reason.
fn parse_status_line(line: &[u8]) -> Result<(u8, u16, String), ResponseError> {
    let sp = memchr::memchr(b' ', line).ok_or(ResponseError::BadStatusLine)?;
    let (version, rest) = line.split_at(sp);
    let rest = rest.get(1..).unwrap_or_default();
    let version = parse_version(version).ok_or(ResponseError::BadStatusLine)?;
    let (code, reason) = match rest {
        [a, b, c] => ([*a, *b, *c], &[][..]),
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => return Err(ResponseError::BadStatusLine),
    };
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return Err(ResponseError::BadStatusLine);
    }
    if !reason.iter().all(|&b| is_field_byte(b)) {
        return Err(ResponseError::BadStatusLine);
    }
    if version.0 != 1 {
        return Err(ResponseError::UnsupportedHttpVersion);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Ok((
        version.1,
        status,
        String::from_utf8_lossy(reason).into_owned(),
    ))
}

/// Parses a response head (as delimited by [`HeadParser`](super::HeadParser)) to the request
/// built by `req` with `key`. A 101 is fully verified; any other status is returned as is.
pub fn parse_response(
    head: &[u8],
    req: &ClientRequest,
    key: &str,
) -> Result<Response, ResponseError> {
    use ResponseError::*;
    let lines = split_lines(head).ok_or(MalformedHead)?;
    let (start, rest) = lines.split_first().ok_or(MalformedHead)?;
    let (minor, status, reason) = parse_status_line(start)?;
    let headers = rest
        .iter()
        .map(|l| parse_header(l).map_err(header_error))
        .collect::<Result<Vec<_>, _>>()?;
    let declared = content_length(&headers).map_err(|_| BadContentLength)?;
    let chunked = values(&headers, "transfer-encoding").next().is_some();

    let mut response = Response {
        status,
        reason,
        content_length: declared.filter(|_| !chunked && status != 101),
        headers,
        subprotocol: None,
        extensions: Vec::new(),
    };
    if status != 101 {
        return Ok(response);
    }
    if minor == 0 {
        return Err(UnsupportedHttpVersion);
    }
    let (subprotocol, extensions) = verify_upgrade(&response.headers, req, key)?;
    response.subprotocol = subprotocol;
    response.extensions = extensions;
    Ok(response)
}

/// Verifies the answer to an upgrade request made through another HTTP client (see
/// [`request_headers`](super::request_headers)), given as its status and headers, with
/// the same checks as [`parse_response`]; then checks permessage-deflate's parameters
/// against `config` ([`deflate::check_response`](crate::deflate::check_response)).
/// Returns what was negotiated, for
/// [`Connection::upgraded`](crate::Connection::upgraded)`(Role::Client, ..)` with the same
/// `config`. `request`, `key` and `config` must be those the request was built with. The
/// HTTP version is the client's business.
///
/// ```
/// use ws_proto::handshake::{ClientRequest, verify_response};
/// use ws_proto::Config;
///
/// let request = ClientRequest::new("ws://example.com/")?.subprotocol("chat");
/// let key = "dGhlIHNhbXBsZSBub25jZQ==";
/// let headers = [
///     ("upgrade", "websocket"),
///     ("connection", "upgrade"),
///     ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
///     ("sec-websocket-protocol", "chat"),
///     ("sec-websocket-extensions", "permessage-deflate"),
/// ];
/// let negotiated = verify_response(101, headers, &request, key, &Config::default())?;
/// assert_eq!(negotiated.subprotocol(), Some("chat"));
/// assert!(negotiated.deflate().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_response<N, V>(
    status: u16,
    headers: impl IntoIterator<Item = (N, V)>,
    request: &ClientRequest,
    key: &str,
    config: &Config,
) -> Result<Negotiated, ResponseError>
where
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    if status != 101 {
        return Err(ResponseError::NotSwitchingProtocols(status));
    }
    let headers = headers
        .into_iter()
        .map(|(name, value)| header_from_parts(name.as_ref(), value.as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(header_error)?;
    negotiate(&headers, request, key, config)
}

/// The checks of [`verify_response`] on a 101's headers.
pub(crate) fn negotiate(
    headers: &[Header],
    request: &ClientRequest,
    key: &str,
    config: &Config,
) -> Result<Negotiated, ResponseError> {
    let request = request.with_config_offers(config);
    let (subprotocol, extensions) = verify_upgrade(headers, &request, key)?;
    // Without the codec, permessage-deflate is never offered (unless by hand), never used.
    let deflate = if cfg!(feature = "deflate") {
        crate::deflate::check_response(&config.deflate, &extensions)
            .map_err(ResponseError::Deflate)?
    } else {
        None
    };
    Ok(Negotiated {
        subprotocol,
        deflate,
    })
}

fn header_error(e: HeaderLineError) -> ResponseError {
    match e {
        HeaderLineError::Name => ResponseError::BadHeaderName,
        HeaderLineError::Fold => ResponseError::FoldedHeader,
        HeaderLineError::Value => ResponseError::BadHeaderValue,
    }
}

/// Checks a 101's headers; returns the selected subprotocol and the accepted extensions.
fn verify_upgrade(
    headers: &[Header],
    req: &ClientRequest,
    key: &str,
) -> Result<(Option<String>, Vec<ExtensionOffer>), ResponseError> {
    use ResponseError::*;
    if !list_contains(headers, "upgrade", "websocket") {
        return Err(NotWebSocketUpgrade);
    }
    if !list_contains(headers, "connection", "upgrade") {
        return Err(NoConnectionUpgrade);
    }
    let mut accepts = values(headers, "sec-websocket-accept");
    let accept = accepts.next().ok_or(MissingAccept)?;
    if accepts.next().is_some() {
        return Err(DuplicateAccept);
    }
    if accept != accept_key(key).as_bytes() {
        return Err(AcceptMismatch);
    }

    let mut subprotocol = None;
    let mut protocols = values(headers, "sec-websocket-protocol");
    if let Some(p) = protocols.next() {
        if protocols.next().is_some() || p.contains(&b',') {
            return Err(MultipleSubprotocols);
        }
        let offered = req.subprotocols().iter().find(|o| o.as_bytes() == p);
        match offered {
            Some(o) if is_token(p) => subprotocol = Some(o.clone()),
            _ => return Err(SubprotocolNotOffered),
        }
    }

    let mut extensions = Vec::new();
    for v in values(headers, "sec-websocket-extensions") {
        let v = core::str::from_utf8(v).map_err(|_| BadExtensions)?;
        extensions.extend(parse_extensions(v).map_err(|_| BadExtensions)?);
    }
    if !extensions
        .iter()
        .all(|e| req.extensions().iter().any(|o| o.name == e.name))
    {
        return Err(ExtensionNotOffered);
    }
    Ok((subprotocol, extensions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, string::ToString};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                      Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

    fn req() -> ClientRequest {
        ClientRequest::new("ws://h/")
            .unwrap()
            .subprotocol("chat")
            .subprotocol("superchat")
            .extension(ExtensionOffer::new("permessage-deflate"))
    }

    fn parse(head: &str) -> Result<Response, ResponseError> {
        parse_response(head.as_bytes(), &req(), KEY)
    }

    /// The valid 101 with `extra` header lines added.
    fn ok_with(extra: &str) -> String {
        format!("{OK}{extra}\r\n")
    }

    #[test]
    fn accepts_valid_101() {
        let r = parse(&ok_with(
            "Sec-WebSocket-Protocol: superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        ))
        .unwrap();
        assert_eq!((r.status(), r.reason()), (101, "Switching Protocols"));
        assert_eq!(r.subprotocol(), Some("superchat"));
        assert_eq!(
            r.extensions(),
            [ExtensionOffer::new("permessage-deflate")
                .with_param("server_no_context_takeover", None)]
        );
        assert_eq!(r.content_length(), None);
        assert_eq!(r.headers().len(), 5);
        assert_eq!(
            r.header("sec-websocket-accept"),
            Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..])
        );
    }

    #[test]
    fn accepts_mixed_case_and_lists() {
        let head = "HTTP/1.1 101\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\n\
                    sec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let r = parse(head).unwrap();
        assert_eq!((r.status(), r.reason(), r.subprotocol()), (101, "", None));
    }

    #[test]
    fn non_101_is_reported() {
        let head =
            "HTTP/1.0 403 Forbidden origin\r\nContent-Length: 12\r\nX-A: 1\r\nX-A: 2\r\n\r\n";
        let r = parse(head).unwrap();
        assert_eq!(
            (r.status(), r.reason(), r.content_length()),
            (403, "Forbidden origin", Some(12))
        );
        let xs: Vec<&[u8]> = r.headers_named("x-a").collect();
        assert_eq!(xs, [&b"1"[..], b"2"]);
        let r =
            parse("HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
                .unwrap();
        assert_eq!(r.content_length(), None);
        // A 200 is not checked as an upgrade even if it lacks everything.
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\n\r\n").map(|r| r.status()),
            Ok(200)
        );
    }

    /// Every variant, each from a response that is valid but for that one point.
    #[test]
    fn every_error_variant() {
        use ResponseError::*;
        let swap = |from: &str, to: &str| format!("{}\r\n", OK.replace(from, to));
        let cases: &[(String, ResponseError)] = &[
            (OK.to_string(), MalformedHead),
            (
                OK.replace("Upgrade\r\n", "Upgrade\n") + "\r\n",
                MalformedHead,
            ),
            (swap("101 Switching", "1O1 Switching"), BadStatusLine),
            (swap("101 Switching", "101Switching"), BadStatusLine),
            (swap("101 Switching", "099 Switching"), BadStatusLine),
            (swap("HTTP/1.1 ", "HTTP/1.1"), BadStatusLine),
            (swap("Protocols", "Proto\x01cols"), BadStatusLine),
            (swap("HTTP/1.1", "HTTP/2.0"), UnsupportedHttpVersion),
            (swap("HTTP/1.1", "HTTP/1.0"), UnsupportedHttpVersion),
            (ok_with("Bad Name: x\r\n"), BadHeaderName),
            (ok_with(" folded\r\n"), FoldedHeader),
            (ok_with("X: a\x00b\r\n"), BadHeaderValue),
            (ok_with("Content-Length: 1, 2\r\n"), BadContentLength),
            (
                swap("Upgrade: websocket", "Upgrade: h2c"),
                NotWebSocketUpgrade,
            ),
            (
                swap("Connection: Upgrade", "Connection: close"),
                NoConnectionUpgrade,
            ),
            (swap("Sec-WebSocket-Accept", "X-Accept"), MissingAccept),
            (
                ok_with("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
                DuplicateAccept,
            ),
            (swap("xOo=", "xOp="), AcceptMismatch),
            (
                ok_with("Sec-WebSocket-Protocol: chat, superchat\r\n"),
                MultipleSubprotocols,
            ),
            (
                ok_with("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
                MultipleSubprotocols,
            ),
            (
                ok_with("Sec-WebSocket-Protocol: Chat\r\n"),
                SubprotocolNotOffered,
            ),
            (
                ok_with("Sec-WebSocket-Protocol:\r\n"),
                SubprotocolNotOffered,
            ),
            (
                ok_with("Sec-WebSocket-Extensions: permessage-deflate;\r\n"),
                BadExtensions,
            ),
            (
                ok_with("Sec-WebSocket-Extensions: x-other\r\n"),
                ExtensionNotOffered,
            ),
        ];
        for (head, err) in cases {
            assert_eq!(parse(head), Err(*err), "{head:?}");
        }
    }

    #[test]
    fn subprotocol_without_offer_is_refused() {
        let plain = ClientRequest::new("ws://h/").unwrap();
        let head = ok_with("Sec-WebSocket-Protocol: chat\r\n");
        assert_eq!(
            parse_response(head.as_bytes(), &plain, KEY),
            Err(ResponseError::SubprotocolNotOffered)
        );
        let head = ok_with("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert_eq!(
            parse_response(head.as_bytes(), &plain, KEY),
            Err(ResponseError::ExtensionNotOffered)
        );
    }
}
