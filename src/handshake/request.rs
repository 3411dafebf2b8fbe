//! Server side: validating a client's opening handshake request (RFC 6455 §4.2.1).

use alloc::{borrow::ToOwned, string::String, vec::Vec};
use core::fmt;

use super::extensions::{ExtensionOffer, parse_extensions};
use super::http::{
    Header, HeaderLineError, content_length, error_response, header_from_parts, is_token,
    list_contains, parse_authority, parse_header, parse_version, split_lines, split_resource,
    trim_ows, valid_query, values,
};
use super::is_valid_key;

/// Why a handshake request was refused; each variant is one rule of RFC 6455 §4.2.1 / HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// Bad line endings or no terminating empty line (400).
    MalformedHead,
    /// Request line is not `method SP target SP version` (400).
    BadRequestLine,
    /// A major HTTP version other than 1, or an upgrade below HTTP/1.1 (400).
    UnsupportedHttpVersion,
    /// An upgrade whose method is not `GET` (405, with `Allow: GET`).
    MethodNotAllowed,
    /// Target is not origin-form or an http/https/ws/wss absolute-form (nor `*` for a plain
    /// `OPTIONS`) (400).
    BadTarget,
    /// Header name is missing, not a token, or followed by space before the colon (400).
    BadHeaderName,
    /// Obsolete line folding (400).
    FoldedHeader,
    /// Control character in a header value (400).
    BadHeaderValue,
    /// No `Host` header (400).
    MissingHost,
    /// More than one `Host` header (400).
    DuplicateHost,
    /// `Host` is not `host[:port]` (400).
    BadHost,
    /// `Transfer-Encoding` on an upgrade: a handshake has no body (400).
    TransferEncoding,
    /// `Content-Length` invalid or non-zero on an upgrade: a handshake has no body (400).
    ContentLength,
    /// Not a WebSocket upgrade: no `Upgrade` header lists `websocket` (400). Validation
    /// returns such requests as plain ones ([`Request::is_upgrade`] false); this is the
    /// answer of a server that serves WebSockets only.
    NotWebSocketUpgrade,
    /// `Connection` does not list `upgrade` (400).
    NoConnectionUpgrade,
    /// No `Sec-WebSocket-Version` (426).
    MissingVersion,
    /// More than one `Sec-WebSocket-Version` (426).
    DuplicateVersion,
    /// `Sec-WebSocket-Version` is not `13` (426).
    UnsupportedVersion,
    /// No `Sec-WebSocket-Key` (400).
    MissingKey,
    /// More than one `Sec-WebSocket-Key` (400).
    DuplicateKey,
    /// `Sec-WebSocket-Key` is not base64 of 16 bytes (400).
    BadKey,
    /// More than one `Origin`, or one that is not UTF-8 (400).
    BadOrigin,
    /// A `Sec-WebSocket-Protocol` element is not a token (400).
    BadSubprotocol,
    /// A `Sec-WebSocket-Extensions` value does not parse (400).
    BadExtensions,
}

impl RequestError {
    /// HTTP status to answer with.
    pub fn status(&self) -> u16 {
        use RequestError::*;
        match self {
            MethodNotAllowed => 405,
            MissingVersion | DuplicateVersion | UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// Short plain-text reason.
    pub fn message(&self) -> &'static str {
        use RequestError::*;
        match self {
            MalformedHead => "malformed request head",
            BadRequestLine => "malformed request line",
            UnsupportedHttpVersion => "HTTP/1.1 or later is required",
            MethodNotAllowed => "only GET can open a WebSocket",
            BadTarget => "request target must be a path",
            BadHeaderName => "invalid header name",
            FoldedHeader => "folded header lines are not allowed",
            BadHeaderValue => "invalid character in header value",
            MissingHost => "missing Host header",
            DuplicateHost => "duplicate Host header",
            BadHost => "invalid Host header",
            TransferEncoding => "a handshake request has no body",
            ContentLength => "a handshake request has no body",
            NotWebSocketUpgrade => "Upgrade header must include websocket",
            NoConnectionUpgrade => "Connection header must include upgrade",
            MissingVersion => "missing Sec-WebSocket-Version header",
            DuplicateVersion => "duplicate Sec-WebSocket-Version header",
            UnsupportedVersion => "unsupported Sec-WebSocket-Version",
            MissingKey => "missing Sec-WebSocket-Key header",
            DuplicateKey => "duplicate Sec-WebSocket-Key header",
            BadKey => "invalid Sec-WebSocket-Key header",
            BadOrigin => "invalid Origin header",
            BadSubprotocol => "invalid Sec-WebSocket-Protocol header",
            BadExtensions => "invalid Sec-WebSocket-Extensions header",
        }
    }

    /// Complete HTTP error response: status line, `Content-Type`, `Content-Length`,
    /// `Connection: close`, `Allow: GET` (405) or `Sec-WebSocket-Version: 13` (426), body.
    pub fn response(&self) -> Vec<u8> {
        let extra: &[(&str, &str)] = match self.status() {
            405 => &[("Allow", "GET")],
            426 => &[("Sec-WebSocket-Version", "13")],
            _ => &[],
        };
        error_response(self.status(), self.message(), extra)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for RequestError {}

/// A validated request (owned): a WebSocket upgrade, or a plain HTTP request
/// ([`is_upgrade`](Self::is_upgrade) tells which).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    upgrade: bool,
    method: String,
    target: String,
    path: String,
    query: Option<String>,
    headers: Vec<Header>,
    host: String,
    origin: Option<String>,
    key: String,
    subprotocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
}

impl Request {
    /// Validates a request that another HTTP stack (hyper, axum, actix...) has already
    /// parsed, given as its method, its target (path and query, or absolute-form, as
    /// received) and its headers, with the same rules as [`parse_request`]: the same
    /// errors, the same [`Request`]. The HTTP version is the stack's business here, so
    /// [`UnsupportedHttpVersion`](RequestError::UnsupportedHttpVersion) never comes
    /// from this function, and `Host` is required only for an upgrade.
    ///
    /// Header values are trimmed of surrounding spaces and tabs, as a parser would; a
    /// name that is not a token, or a value with a control character (CR, LF...), is
    /// refused as [`parse_request`] would refuse the line.
    ///
    /// ```
    /// use ws_proto::Request;
    ///
    /// let request = Request::from_parts(
    ///     "GET",
    ///     "/chat?room=1",
    ///     [
    ///         ("Host", "example.com"),
    ///         ("Upgrade", "websocket"),
    ///         ("Connection", "Upgrade"),
    ///         ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ///         ("Sec-WebSocket-Version", "13"),
    ///         ("Sec-WebSocket-Protocol", "chat.v1"),
    ///     ],
    /// )?;
    /// assert!(request.is_upgrade());
    /// assert_eq!(request.subprotocols(), ["chat.v1"]);
    /// # Ok::<(), ws_proto::handshake::RequestError>(())
    /// ```
    pub fn from_parts<N, V>(
        method: &str,
        target: &str,
        headers: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Request, RequestError>
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        if !is_token(method.as_bytes()) || target.is_empty() {
            return Err(RequestError::BadRequestLine);
        }
        let headers = headers
            .into_iter()
            .map(|(name, value)| header_from_parts(name.as_ref(), value.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(header_error)?;
        validate(method.as_bytes(), target.as_bytes(), None, headers)
    }

    /// Validation as [`from_parts`](Self::from_parts), with the version the stack
    /// reported (`None` for HTTP/2 and later, whose framing differs).
    #[cfg(feature = "http")]
    pub(crate) fn from_parts_with_version(
        method: &str,
        target: &str,
        version: Option<(u8, u8)>,
        headers: Vec<Header>,
    ) -> Result<Request, RequestError> {
        if !is_token(method.as_bytes()) || target.is_empty() {
            return Err(RequestError::BadRequestLine);
        }
        validate(method.as_bytes(), target.as_bytes(), version, headers)
    }

    /// Whether this is a WebSocket upgrade request (an `Upgrade` header lists
    /// `websocket`), validated by every rule of RFC 6455 §4.2.1. Otherwise it is a plain
    /// HTTP request for the application to answer itself: its [`key`](Self::key) is empty
    /// and it offers no subprotocol or extension.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade
    }

    /// Request method: always `GET` for an upgrade, any token for a plain request.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Request target exactly as sent.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Path, still percent-encoded; `/` when an absolute-form target had none.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Query after `?`, still percent-encoded.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
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

    /// `Host` header value; empty only for a plain HTTP/1.0 request (or one given as parts)
    /// without one.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `Origin` header value, if sent (browsers always send it; check it per §10.2). For a
    /// plain request, only when it was sent exactly once, as UTF-8.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// `Sec-WebSocket-Key` value; empty for a plain request.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Offered subprotocols from every `Sec-WebSocket-Protocol` header, in order.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// Offered extensions from every `Sec-WebSocket-Extensions` header, in order.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }
}

/// The request line's method, target and `(major, minor)` version.
type RequestLine<'a> = (&'a [u8], &'a [u8], (u8, u8));

/// Splits the request line into method, target and version, checking only its syntax.
fn split_request_line(line: &[u8]) -> Result<RequestLine<'_>, RequestError> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::BadRequestLine);
    };
    let version = parse_version(version).ok_or(RequestError::BadRequestLine)?;
    if !is_token(method) || target.is_empty() {
        return Err(RequestError::BadRequestLine);
    }
    Ok((method, target, version))
}

/// Origin-form `/p?q`, absolute-form with an http, https, ws or wss scheme, or (for
/// `OPTIONS` only, never an upgrade) `*`.
fn parse_target<'t>(method: &[u8], target: &'t str) -> Option<(&'t str, Option<&'t str>)> {
    if target.starts_with('/') {
        return split_resource(target);
    }
    if target == "*" && method == b"OPTIONS" {
        return Some(("*", None));
    }
    let (scheme, rest) = target.split_once("://")?;
    let known = ["http", "https", "ws", "wss"];
    if !known.iter().any(|k| k.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, resource) = rest.split_at(end);
    parse_authority(authority).ok()?;
    if resource.is_empty() {
        return Some(("/", None));
    }
    match resource.strip_prefix('?') {
        Some(query) => valid_query(query).then_some(("/", Some(query))),
        None => split_resource(resource),
    }
}

/// The single header called `name`, or the given errors when absent or repeated.
fn single<'a>(
    headers: &'a [Header],
    name: &str,
    missing: RequestError,
    duplicate: RequestError,
) -> Result<&'a [u8], RequestError> {
    let mut it = values(headers, name);
    let first = it.next().ok_or(missing)?;
    match it.next() {
        Some(_) => Err(duplicate),
        None => Ok(first),
    }
}

fn ascii(v: &[u8]) -> String {
    v.iter().map(|&b| char::from(b)).collect()
}

fn header_error(e: HeaderLineError) -> RequestError {
    match e {
        HeaderLineError::Name => RequestError::BadHeaderName,
        HeaderLineError::Fold => RequestError::FoldedHeader,
        HeaderLineError::Value => RequestError::BadHeaderValue,
    }
}

/// Validates a request head (as delimited by [`HeadParser`](super::HeadParser)): its
/// HTTP/1.x syntax, and for a WebSocket upgrade every rule of RFC 6455 §4.2.1 (see
/// [`RequestError`]).
///
/// A request is an upgrade attempt when an `Upgrade` header lists `websocket`; then it must
/// be a `GET` over HTTP/1.1 or later with every handshake header right. Any other
/// syntactically valid HTTP/1.0 or 1.1 request (any method, a body announced or not) is
/// returned too, with [`Request::is_upgrade`] false, so that one port can serve pages and
/// WebSockets from one parse. `Host` is required for an upgrade and for HTTP/1.1.
pub fn parse_request(head: &[u8]) -> Result<Request, RequestError> {
    let lines = split_lines(head).ok_or(RequestError::MalformedHead)?;
    let (start, rest) = lines.split_first().ok_or(RequestError::MalformedHead)?;
    let (method, target, version) = split_request_line(start)?;
    let headers = rest
        .iter()
        .map(|l| parse_header(l).map_err(header_error))
        .collect::<Result<Vec<_>, _>>()?;
    validate(method, target, Some(version), headers)
}

/// The rules shared by [`parse_request`] and [`Request::from_parts`], on a request whose
/// syntax was checked: `method` is a token, `target` is not empty, the headers are valid
/// fields. `version` is `None` when the HTTP stack that parsed the request vouches for it.
fn validate(
    method: &[u8],
    target: &[u8],
    version: Option<(u8, u8)>,
    headers: Vec<Header>,
) -> Result<Request, RequestError> {
    use RequestError::*;
    let upgrade = list_contains(&headers, "upgrade", "websocket");
    if let Some((major, minor)) = version
        && (major != 1 || (upgrade && minor < 1))
    {
        return Err(UnsupportedHttpVersion);
    }
    if upgrade && method != b"GET" {
        return Err(MethodNotAllowed);
    }
    let target = core::str::from_utf8(target).map_err(|_| BadTarget)?;
    let (path, query) = parse_target(method, target).ok_or(BadTarget)?;
    if upgrade && path == "*" {
        return Err(BadTarget);
    }

    let hosts = {
        let mut it = values(&headers, "host");
        (it.next(), it.next())
    };
    let host = match hosts {
        (Some(_), Some(_)) => return Err(DuplicateHost),
        (Some(host), None) => {
            let host = core::str::from_utf8(host).map_err(|_| BadHost)?;
            parse_authority(host).map_err(|_| BadHost)?;
            host.to_owned()
        }
        (None, _) if upgrade || version.is_some_and(|v| v >= (1, 1)) => {
            return Err(MissingHost);
        }
        (None, _) => String::new(),
    };

    let mut request = Request {
        upgrade,
        method: ascii(method),
        target: target.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers: Vec::new(),
        host,
        origin: None,
        key: String::new(),
        subprotocols: Vec::new(),
        extensions: Vec::new(),
    };
    if !upgrade {
        // A plain request: the WebSocket rules do not apply; an Origin is reported only
        // when there is exactly one.
        let mut origins = values(&headers, "origin");
        if let (Some(o), None) = (origins.next(), origins.next()) {
            request.origin = core::str::from_utf8(o).ok().map(str::to_owned);
        }
        drop(origins);
        request.headers = headers;
        return Ok(request);
    }

    if values(&headers, "transfer-encoding").next().is_some() {
        return Err(TransferEncoding);
    }
    if !matches!(content_length(&headers), Ok(None | Some(0))) {
        return Err(ContentLength);
    }
    if !list_contains(&headers, "connection", "upgrade") {
        return Err(NoConnectionUpgrade);
    }
    let version = single(
        &headers,
        "sec-websocket-version",
        MissingVersion,
        DuplicateVersion,
    )?;
    if version != b"13" {
        return Err(UnsupportedVersion);
    }
    let key = single(&headers, "sec-websocket-key", MissingKey, DuplicateKey)?;
    if !is_valid_key(key) {
        return Err(BadKey);
    }
    request.key = ascii(key);

    let origins = {
        let mut it = values(&headers, "origin");
        (it.next(), it.next())
    };
    request.origin = match origins {
        (None, _) => None,
        (Some(o), None) => Some(core::str::from_utf8(o).map_err(|_| BadOrigin)?.to_owned()),
        (Some(_), Some(_)) => return Err(BadOrigin),
    };

    for element in values(&headers, "sec-websocket-protocol").flat_map(|v| v.split(|&b| b == b','))
    {
        let element = trim_ows(element);
        if !is_token(element) {
            return Err(BadSubprotocol);
        }
        request.subprotocols.push(ascii(element));
    }

    for v in values(&headers, "sec-websocket-extensions") {
        let v = core::str::from_utf8(v).map_err(|_| BadExtensions)?;
        request
            .extensions
            .extend(parse_extensions(v).map_err(|_| BadExtensions)?);
    }
    request.headers = headers;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, string::ToString, vec};

    const BASE: &[&str] = &[
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Origin: http://example.com",
        "Sec-WebSocket-Protocol: chat, superchat",
        "Sec-WebSocket-Version: 13",
    ];

    fn build(start: &str, headers: &[&str]) -> Vec<u8> {
        let mut s = start.to_string();
        for h in headers {
            s.push_str("\r\n");
            s.push_str(h);
        }
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    /// The base request without headers named `drop`, plus `add`.
    fn base_with(drop: &str, add: &[&str]) -> Vec<u8> {
        let mut headers: Vec<&str> = BASE
            .iter()
            .copied()
            .filter(|h| {
                !h.to_ascii_lowercase()
                    .starts_with(&(drop.to_ascii_lowercase() + ":"))
            })
            .collect();
        headers.extend_from_slice(add);
        build("GET /chat HTTP/1.1", &headers)
    }

    #[test]
    fn rfc_example_request() {
        let r = parse_request(&base_with("", &[])).unwrap();
        assert_eq!(r.method(), "GET");
        assert_eq!(r.target(), "/chat");
        assert_eq!(r.path(), "/chat");
        assert_eq!(r.query(), None);
        assert_eq!(r.host(), "server.example.com");
        assert_eq!(r.origin(), Some("http://example.com"));
        assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(r.subprotocols(), ["chat", "superchat"]);
        assert_eq!(r.extensions(), []);
        assert_eq!(r.headers().len(), 7);
        assert_eq!(r.headers()[1].name, "Upgrade");
        assert_eq!(r.headers()[1].value_str(), Some("websocket"));
        assert_eq!(r.header("SEC-WEBSOCKET-VERSION"), Some(&b"13"[..]));
        assert_eq!(r.header("x-missing"), None);
    }

    #[test]
    fn mixed_case_names_and_tokens() {
        let head = build(
            "GET /a?b=c HTTP/1.1",
            &[
                "hOsT:example.com:8080",
                "UPGRADE: WebSocket",
                "connection: keep-alive, UPGRADE",
                "sec-websocket-key:\t dGhlIHNhbXBsZSBub25jZQ== \t",
                "SEC-WEBSOCKET-VERSION: 13",
            ],
        );
        let r = parse_request(&head).unwrap();
        assert_eq!((r.path(), r.query()), ("/a", Some("b=c")));
        assert_eq!(r.host(), "example.com:8080");
        assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(r.origin(), None);
        assert_eq!(r.subprotocols(), [] as [String; 0]);
    }

    #[test]
    fn connection_keep_alive_upgrade_and_multiple_upgrade_headers() {
        let head = base_with(
            "connection",
            &["Connection: keep-alive", "Connection: keep-alive, Upgrade"],
        );
        assert!(parse_request(&head).is_ok());
        let head = base_with(
            "upgrade",
            &["Upgrade: h2c, websocket/13", "Upgrade: WEBSOCKET"],
        );
        assert!(parse_request(&head).is_ok());
    }

    #[test]
    fn repeated_protocol_and_extension_headers() {
        let head = base_with(
            "sec-websocket-protocol",
            &[
                "Sec-WebSocket-Protocol: v2.chat ,v1.chat",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
                "sec-websocket-protocol: Chat",
                "Sec-WebSocket-Extensions: x-a, x-b; k=\"v\"",
            ],
        );
        let r = parse_request(&head).unwrap();
        assert_eq!(r.subprotocols(), ["v2.chat", "v1.chat", "Chat"]);
        let names: Vec<&str> = r.extensions().iter().map(ExtensionOffer::name).collect();
        assert_eq!(names, ["permessage-deflate", "x-a", "x-b"]);
        assert_eq!(r.extensions()[2].params()[0].value(), Some("v"));
        let all: Vec<&[u8]> = r.headers_named("Sec-WebSocket-Protocol").collect();
        assert_eq!(all, [&b"v2.chat ,v1.chat"[..], b"Chat"]);
    }

    #[test]
    fn absolute_form_targets() {
        let cases = [
            ("ws://example.com/chat?x=1", "/chat", Some("x=1")),
            ("HTTPS://example.com:8443", "/", None),
            ("http://[::1]?q", "/", Some("q")),
            ("wss://h/", "/", None),
        ];
        for (target, path, query) in cases {
            let head = build(&format!("GET {target} HTTP/1.1"), BASE);
            let r = parse_request(&head).unwrap();
            assert_eq!((r.target(), r.path(), r.query()), (target, path, query));
        }
    }

    #[test]
    fn later_http_1x_and_zero_content_length_are_accepted() {
        let head = build("GET / HTTP/1.9", &[BASE, &["Content-Length: 0"]].concat());
        assert!(parse_request(&head).is_ok());
    }

    #[test]
    fn pathological_protocol_lists_complete() {
        let many = vec!["p"; 20_000].join(",");
        let head = base_with(
            "sec-websocket-protocol",
            &[&format!("Sec-WebSocket-Protocol: {many}")],
        );
        assert_eq!(
            parse_request(&head).map(|r| r.subprotocols().len()),
            Ok(20_000)
        );
        let commas = ",".repeat(60_000);
        let head = base_with(
            "sec-websocket-protocol",
            &[&format!("Sec-WebSocket-Protocol: {commas}")],
        );
        assert_eq!(parse_request(&head), Err(RequestError::BadSubprotocol));
        let spaces = " ".repeat(60_000);
        let ext = format!("Sec-WebSocket-Extensions: a;{spaces}b=\"{spaces}");
        let head = base_with("", &[&ext]);
        assert_eq!(parse_request(&head), Err(RequestError::BadExtensions));
    }

    /// One test per rule: the error and the exact status line of its response.
    macro_rules! rejects {
        ($($name:ident: $head:expr => $err:ident, $status_line:literal;)*) => {$(
            #[test]
            fn $name() {
                let head: &[u8] = &$head;
                let err = parse_request(head).unwrap_err();
                assert_eq!(err, RequestError::$err);
                let resp = err.response();
                let line = concat!($status_line, "\r\n");
                assert!(resp.starts_with(line.as_bytes()), "{}", String::from_utf8_lossy(&resp));
            }
        )*};
    }

    rejects! {
        rejects_bare_lf: *b"GET / HTTP/1.1\nHost: a\r\n\r\n" => MalformedHead, "HTTP/1.1 400 Bad Request";
        rejects_missing_terminator: *b"GET / HTTP/1.1\r\nHost: a\r\n" => MalformedHead, "HTTP/1.1 400 Bad Request";
        rejects_double_space: build("GET  /chat HTTP/1.1", BASE) => BadRequestLine, "HTTP/1.1 400 Bad Request";
        rejects_two_part_line: build("GET /chat", BASE) => BadRequestLine, "HTTP/1.1 400 Bad Request";
        rejects_lowercase_http: build("GET /chat http/1.1", BASE) => BadRequestLine, "HTTP/1.1 400 Bad Request";
        rejects_http_1_0: build("GET /chat HTTP/1.0", BASE) => UnsupportedHttpVersion, "HTTP/1.1 400 Bad Request";
        rejects_http_2: build("GET /chat HTTP/2.0", BASE) => UnsupportedHttpVersion, "HTTP/1.1 400 Bad Request";
        rejects_post: build("POST /chat HTTP/1.1", BASE) => MethodNotAllowed, "HTTP/1.1 405 Method Not Allowed";
        rejects_lowercase_get: build("get /chat HTTP/1.1", BASE) => MethodNotAllowed, "HTTP/1.1 405 Method Not Allowed";
        rejects_asterisk: build("GET * HTTP/1.1", BASE) => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_authority_form: build("GET example.com:443 HTTP/1.1", BASE) => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_ftp_target: build("GET ftp://example.com/ HTTP/1.1", BASE) => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_userinfo_target: build("GET ws://u@example.com/ HTTP/1.1", BASE) => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_fragment_target: build("GET /chat#x HTTP/1.1", BASE) => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_bad_escape_target: build("GET /chat%zz HTTP/1.1", BASE) => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_space_before_colon: base_with("", &["X-A : b"]) => BadHeaderName, "HTTP/1.1 400 Bad Request";
        rejects_line_without_colon: base_with("", &["X-A"]) => BadHeaderName, "HTTP/1.1 400 Bad Request";
        rejects_empty_name: base_with("", &[": b"]) => BadHeaderName, "HTTP/1.1 400 Bad Request";
        rejects_obs_fold: base_with("", &["X-A: b", " c"]) => FoldedHeader, "HTTP/1.1 400 Bad Request";
        rejects_tab_fold: base_with("", &["X-A: b", "\tc"]) => FoldedHeader, "HTTP/1.1 400 Bad Request";
        rejects_nul_in_value: base_with("", &["X-A: b\0c"]) => BadHeaderValue, "HTTP/1.1 400 Bad Request";
        rejects_del_in_value: base_with("", &["X-A: b\x7f"]) => BadHeaderValue, "HTTP/1.1 400 Bad Request";
        rejects_missing_host: base_with("host", &[]) => MissingHost, "HTTP/1.1 400 Bad Request";
        rejects_duplicate_host: base_with("", &["host: other"]) => DuplicateHost, "HTTP/1.1 400 Bad Request";
        rejects_bad_host: base_with("host", &["Host: a b"]) => BadHost, "HTTP/1.1 400 Bad Request";
        rejects_empty_host: base_with("host", &["Host:"]) => BadHost, "HTTP/1.1 400 Bad Request";
        rejects_transfer_encoding: base_with("", &["Transfer-Encoding: chunked"]) => TransferEncoding, "HTTP/1.1 400 Bad Request";
        rejects_content_length: base_with("", &["Content-Length: 5"]) => ContentLength, "HTTP/1.1 400 Bad Request";
        rejects_bad_content_length: base_with("", &["Content-Length: zero"]) => ContentLength, "HTTP/1.1 400 Bad Request";
        rejects_upgrade_over_http_1_0: build("GET /chat HTTP/1.0", BASE) => UnsupportedHttpVersion, "HTTP/1.1 400 Bad Request";
        rejects_plain_http_2: *b"GET / HTTP/2.0\r\nHost: a\r\n\r\n" => UnsupportedHttpVersion, "HTTP/1.1 400 Bad Request";
        rejects_plain_without_host: *b"GET / HTTP/1.1\r\n\r\n" => MissingHost, "HTTP/1.1 400 Bad Request";
        rejects_plain_duplicate_host: *b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n" => DuplicateHost, "HTTP/1.1 400 Bad Request";
        rejects_plain_bad_target: *b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n" => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_upgrade_to_asterisk: build("OPTIONS * HTTP/1.1", BASE) => MethodNotAllowed, "HTTP/1.1 405 Method Not Allowed";
        rejects_asterisk_without_options: *b"GET * HTTP/1.1\r\nHost: a\r\n\r\n" => BadTarget, "HTTP/1.1 400 Bad Request";
        rejects_missing_connection: base_with("connection", &[]) => NoConnectionUpgrade, "HTTP/1.1 400 Bad Request";
        rejects_keep_alive_only: base_with("connection", &["Connection: keep-alive"]) => NoConnectionUpgrade, "HTTP/1.1 400 Bad Request";
        rejects_missing_version: base_with("sec-websocket-version", &[]) => MissingVersion, "HTTP/1.1 426 Upgrade Required";
        rejects_duplicate_version: base_with("", &["Sec-WebSocket-Version: 13"]) => DuplicateVersion, "HTTP/1.1 426 Upgrade Required";
        rejects_version_8: base_with("sec-websocket-version", &["Sec-WebSocket-Version: 8"]) => UnsupportedVersion, "HTTP/1.1 426 Upgrade Required";
        rejects_joined_versions: base_with("sec-websocket-version", &["Sec-WebSocket-Version: 13, 8"]) => UnsupportedVersion, "HTTP/1.1 426 Upgrade Required";
        rejects_missing_key: base_with("sec-websocket-key", &[]) => MissingKey, "HTTP/1.1 400 Bad Request";
        rejects_duplicate_key: base_with("", &["Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="]) => DuplicateKey, "HTTP/1.1 400 Bad Request";
        rejects_comma_joined_key: base_with("sec-websocket-key", &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==, AAAAAAAAAAAAAAAAAAAAAA=="]) => BadKey, "HTTP/1.1 400 Bad Request";
        rejects_short_key: base_with("sec-websocket-key", &["Sec-WebSocket-Key: AAAA"]) => BadKey, "HTTP/1.1 400 Bad Request";
        rejects_non_base64_key: base_with("sec-websocket-key", &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!"]) => BadKey, "HTTP/1.1 400 Bad Request";
        rejects_noncanonical_key: base_with("sec-websocket-key", &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="]) => BadKey, "HTTP/1.1 400 Bad Request";
        rejects_duplicate_origin: base_with("", &["Origin: http://evil.example"]) => BadOrigin, "HTTP/1.1 400 Bad Request";
        rejects_empty_protocol: base_with("sec-websocket-protocol", &["Sec-WebSocket-Protocol: chat,"]) => BadSubprotocol, "HTTP/1.1 400 Bad Request";
        rejects_non_token_protocol: base_with("sec-websocket-protocol", &["Sec-WebSocket-Protocol: a b"]) => BadSubprotocol, "HTTP/1.1 400 Bad Request";
        rejects_bad_extensions: base_with("", &["Sec-WebSocket-Extensions: foo; a=\"x"]) => BadExtensions, "HTTP/1.1 400 Bad Request";
    }

    #[test]
    fn plain_requests_are_returned_as_such() {
        // No Upgrade header, another protocol, or websocket only as part of a token.
        for upgrade in [None, Some("Upgrade: h2c"), Some("Upgrade: websocket/13")] {
            let head = base_with("upgrade", upgrade.as_slice());
            let r = parse_request(&head).unwrap();
            assert!(!r.is_upgrade(), "{upgrade:?}");
            assert_eq!(
                (r.method(), r.path(), r.host()),
                ("GET", "/chat", "server.example.com")
            );
            assert_eq!(r.key(), "");
            assert_eq!(r.subprotocols(), [] as [String; 0]);
            assert_eq!(r.extensions(), []);
            assert_eq!(r.origin(), Some("http://example.com"));
            assert_eq!(r.headers().len(), BASE.len() - 1 + upgrade.iter().len());
        }
        assert!(parse_request(&base_with("", &[])).unwrap().is_upgrade());
    }

    #[test]
    fn plain_requests_any_method_body_and_http_1_0() {
        let post = b"POST /form?x=1 HTTP/1.1\r\nHost: h:8080\r\nContent-Length: 5\r\n\
                     Transfer-Encoding: chunked\r\nOrigin: a\r\nOrigin: b\r\n\r\n";
        let r = parse_request(post).unwrap();
        assert!(!r.is_upgrade());
        assert_eq!(
            (r.method(), r.path(), r.query()),
            ("POST", "/form", Some("x=1"))
        );
        assert_eq!(r.host(), "h:8080");
        assert_eq!(r.origin(), None, "two Origins: none reported");
        assert_eq!(r.header("content-length"), Some(&b"5"[..]));

        let old = parse_request(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(
            (old.method(), old.host(), old.is_upgrade()),
            ("GET", "", false)
        );

        let options = parse_request(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((options.target(), options.path()), ("*", "*"));

        let custom = parse_request(b"PURGE http://h/a HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((custom.method(), custom.path()), ("PURGE", "/a"));
    }

    /// Header lines of `BASE` as name/value pairs, without those named `drop`, plus `add`.
    fn parts_with(drop: &str, add: &[(&str, &str)]) -> Vec<(String, String)> {
        BASE.iter()
            .map(|h| h.split_once(": ").unwrap())
            .filter(|(n, _)| !n.eq_ignore_ascii_case(drop))
            .chain(add.iter().copied())
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn from_parts_gives_what_parse_request_gives() {
        use RequestError::*;
        type Case = (
            &'static str,
            &'static str,
            Vec<(String, String)>,
            Result<(), RequestError>,
        );
        let cases: Vec<Case> = vec![
            ("GET", "/chat", parts_with("", &[]), Ok(())),
            (
                "GET",
                "ws://example.com/chat?x=1",
                parts_with("", &[]),
                Ok(()),
            ),
            ("GET", "/chat", parts_with("upgrade", &[]), Ok(())),
            (
                "POST",
                "/chat",
                parts_with("upgrade", &[("Content-Length", "3")]),
                Ok(()),
            ),
            (
                "PURGE",
                "/",
                parts_with("upgrade", &[("Transfer-Encoding", "chunked")]),
                Ok(()),
            ),
            ("OPTIONS", "*", parts_with("upgrade", &[]), Ok(())),
            (
                "GET",
                "/chat",
                parts_with("", &[("X-Padded", " \t v \t")]),
                Ok(()),
            ),
            ("GET", "/chat", parts_with("", &[("X-Empty", "")]), Ok(())),
            ("GE\"T", "/chat", parts_with("", &[]), Err(BadRequestLine)),
            ("POST", "/chat", parts_with("", &[]), Err(MethodNotAllowed)),
            ("get", "/chat", parts_with("", &[]), Err(MethodNotAllowed)),
            ("GET", "*", parts_with("", &[]), Err(BadTarget)),
            (
                "GET",
                "example.com:443",
                parts_with("", &[]),
                Err(BadTarget),
            ),
            ("GET", "/chat#x", parts_with("", &[]), Err(BadTarget)),
            (
                "GET",
                "/chat%zz",
                parts_with("upgrade", &[]),
                Err(BadTarget),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("X A", "b")]),
                Err(BadHeaderName),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("X-A", "b\0c")]),
                Err(BadHeaderValue),
            ),
            (
                "GET",
                "/chat",
                parts_with("upgrade", &[("X-A", "b\x7f")]),
                Err(BadHeaderValue),
            ),
            ("GET", "/chat", parts_with("host", &[]), Err(MissingHost)),
            (
                "GET",
                "/chat",
                parts_with("", &[("host", "other")]),
                Err(DuplicateHost),
            ),
            (
                "GET",
                "/",
                parts_with("upgrade", &[("host", "other")]),
                Err(DuplicateHost),
            ),
            (
                "GET",
                "/chat",
                parts_with("host", &[("Host", "a b")]),
                Err(BadHost),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("Transfer-Encoding", "chunked")]),
                Err(TransferEncoding),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("Content-Length", "5")]),
                Err(ContentLength),
            ),
            (
                "GET",
                "/chat",
                parts_with("connection", &[]),
                Err(NoConnectionUpgrade),
            ),
            (
                "GET",
                "/chat",
                parts_with("sec-websocket-version", &[]),
                Err(MissingVersion),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("Sec-WebSocket-Version", "13")]),
                Err(DuplicateVersion),
            ),
            (
                "GET",
                "/chat",
                parts_with("sec-websocket-version", &[("Sec-WebSocket-Version", "8")]),
                Err(UnsupportedVersion),
            ),
            (
                "GET",
                "/chat",
                parts_with("sec-websocket-key", &[]),
                Err(MissingKey),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]),
                Err(DuplicateKey),
            ),
            (
                "GET",
                "/chat",
                parts_with("sec-websocket-key", &[("Sec-WebSocket-Key", "AAAA")]),
                Err(BadKey),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("Origin", "http://evil.example")]),
                Err(BadOrigin),
            ),
            (
                "GET",
                "/chat",
                parts_with(
                    "sec-websocket-protocol",
                    &[("Sec-WebSocket-Protocol", "a b")],
                ),
                Err(BadSubprotocol),
            ),
            (
                "GET",
                "/chat",
                parts_with("", &[("Sec-WebSocket-Extensions", "foo; a=\"x")]),
                Err(BadExtensions),
            ),
        ];
        for (method, target, headers, expected) in cases {
            let lines: Vec<String> = headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let raw = parse_request(&build(&format!("{method} {target} HTTP/1.1"), &lines));
            let parts = Request::from_parts(method, target, headers.iter().map(|(n, v)| (n, v)));
            assert_eq!(parts, raw, "{method} {target} {headers:?}");
            assert_eq!(parts.map(|_| ()), expected, "{method} {target} {headers:?}");
        }
    }

    #[test]
    fn from_parts_leaves_the_version_to_the_stack() {
        // Without a version, a plain request needs no Host (HTTP/2 carries the authority
        // elsewhere); an upgrade still does.
        let plain = Request::from_parts("GET", "/", [("Accept", "*/*")]).unwrap();
        assert_eq!((plain.is_upgrade(), plain.host()), (false, ""));
        let upgrade = parts_with("host", &[]);
        assert_eq!(
            Request::from_parts("GET", "/", upgrade),
            Err(RequestError::MissingHost)
        );
        // Control characters a parser could never have let through are refused.
        let injected = parts_with("", &[("X-A", "b\r\nX-B: c")]);
        assert_eq!(
            Request::from_parts("GET", "/chat", injected),
            Err(RequestError::BadHeaderValue)
        );
        assert_eq!(
            Request::from_parts("GET", "", parts_with("", &[])),
            Err(RequestError::BadRequestLine)
        );
        assert_eq!(
            Request::from_parts("GET", "/a b", parts_with("", &[])),
            Err(RequestError::BadTarget)
        );
        // Values can be bytes (obs-text), names any string type.
        let bytes: [(&str, &[u8]); 1] = [("X-A", b"\xe9t\xe9")];
        let r = Request::from_parts("GET", "/", bytes).unwrap();
        assert_eq!(r.header("x-a"), Some(&b"\xe9t\xe9"[..]));
    }

    #[test]
    fn rejects_non_utf8_origin() {
        let mut head = base_with("origin", &["Origin: X"]);
        let at = head.iter().rposition(|&b| b == b'X').unwrap();
        head[at] = 0xff;
        assert_eq!(parse_request(&head), Err(RequestError::BadOrigin));
    }

    #[test]
    fn full_error_responses() {
        let r = RequestError::MissingVersion.response();
        let expected = "HTTP/1.1 426 Upgrade Required\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\
            Content-Length: 37\r\n\
            Connection: close\r\n\
            Sec-WebSocket-Version: 13\r\n\
            \r\n\
            missing Sec-WebSocket-Version header\n";
        assert_eq!(String::from_utf8(r).unwrap(), expected);
        let r = String::from_utf8(RequestError::MethodNotAllowed.response()).unwrap();
        assert!(r.contains("\r\nAllow: GET\r\n"), "{r}");
        let r = String::from_utf8(RequestError::BadKey.response()).unwrap();
        assert!(
            !r.contains("Sec-WebSocket-Version") && !r.contains("Allow"),
            "{r}"
        );
        assert_eq!(
            RequestError::BadKey.to_string(),
            "invalid Sec-WebSocket-Key header"
        );
    }
}
