//! Server side: validating a client's opening handshake request (RFC 6455 §4.2.1).

use alloc::{borrow::ToOwned, string::String, vec::Vec};
use core::fmt;

use super::extensions::{ExtensionOffer, parse_extensions};
use super::http::{
    Header, HeaderLineError, content_length, error_response, is_token, list_contains,
    parse_authority, parse_header, parse_version, split_lines, split_resource, trim_ows,
    valid_query, values,
};
use super::is_valid_key;

/// Why a handshake request was refused; each variant is one rule of RFC 6455 §4.2.1 / HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Bad line endings or no terminating empty line (400).
    MalformedHead,
    /// Request line is not `method SP target SP version` (400).
    BadRequestLine,
    /// HTTP version below 1.1 or major version other than 1 (400).
    UnsupportedHttpVersion,
    /// Method is not `GET` (405, with `Allow: GET`).
    MethodNotAllowed,
    /// Target is not origin-form or an http/https/ws/wss absolute-form (400).
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
    /// `Transfer-Encoding` present: a handshake has no body (400).
    TransferEncoding,
    /// `Content-Length` invalid or non-zero: a handshake has no body (400).
    ContentLength,
    /// `Upgrade` does not list `websocket` (400).
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

/// A validated WebSocket handshake request (owned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
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
    /// Request method (always `GET` once validated).
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

    /// `Host` header value.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `Origin` header value, if sent (browsers always send it; check it per §10.2).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// `Sec-WebSocket-Key` value.
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

/// Checks the request line; returns the target and its path and query.
fn parse_request_line(line: &[u8]) -> Result<(&str, &str, Option<&str>), RequestError> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::BadRequestLine);
    };
    let version = parse_version(version).ok_or(RequestError::BadRequestLine)?;
    if !is_token(method) || target.is_empty() {
        return Err(RequestError::BadRequestLine);
    }
    if version.0 != 1 || version.1 < 1 {
        return Err(RequestError::UnsupportedHttpVersion);
    }
    if method != b"GET" {
        return Err(RequestError::MethodNotAllowed);
    }
    let target = core::str::from_utf8(target).map_err(|_| RequestError::BadTarget)?;
    let (path, query) = parse_target(target).ok_or(RequestError::BadTarget)?;
    Ok((target, path, query))
}

/// Origin-form `/p?q`, or absolute-form with an http, https, ws or wss scheme.
fn parse_target(target: &str) -> Option<(&str, Option<&str>)> {
    if target.starts_with('/') {
        return split_resource(target);
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

/// Validates a request head (as delimited by [`HeadParser`](super::HeadParser)) against
/// RFC 6455 §4.2.1 and the HTTP/1.1 syntax rules listed on [`RequestError`].
pub fn parse_request(head: &[u8]) -> Result<Request, RequestError> {
    let lines = split_lines(head).ok_or(RequestError::MalformedHead)?;
    let (start, rest) = lines.split_first().ok_or(RequestError::MalformedHead)?;
    let (target, path, query) = parse_request_line(start)?;
    let headers = rest
        .iter()
        .map(|l| {
            parse_header(l).map_err(|e| match e {
                HeaderLineError::Name => RequestError::BadHeaderName,
                HeaderLineError::Fold => RequestError::FoldedHeader,
                HeaderLineError::Value => RequestError::BadHeaderValue,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    use RequestError::*;
    let host = single(&headers, "host", MissingHost, DuplicateHost)?;
    let host = core::str::from_utf8(host).map_err(|_| BadHost)?;
    parse_authority(host).map_err(|_| BadHost)?;

    if values(&headers, "transfer-encoding").next().is_some() {
        return Err(TransferEncoding);
    }
    if !matches!(content_length(&headers), Ok(None | Some(0))) {
        return Err(ContentLength);
    }
    if !list_contains(&headers, "upgrade", "websocket") {
        return Err(NotWebSocketUpgrade);
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

    let origin = {
        let mut origins = values(&headers, "origin");
        match (origins.next(), origins.next()) {
            (None, _) => None,
            (Some(o), None) => Some(core::str::from_utf8(o).map_err(|_| BadOrigin)?.to_owned()),
            (Some(_), Some(_)) => return Err(BadOrigin),
        }
    };

    let mut subprotocols = Vec::new();
    for element in values(&headers, "sec-websocket-protocol").flat_map(|v| v.split(|&b| b == b','))
    {
        let element = trim_ows(element);
        if !is_token(element) {
            return Err(BadSubprotocol);
        }
        subprotocols.push(ascii(element));
    }

    let mut extensions = Vec::new();
    for v in values(&headers, "sec-websocket-extensions") {
        let v = core::str::from_utf8(v).map_err(|_| BadExtensions)?;
        extensions.extend(parse_extensions(v).map_err(|_| BadExtensions)?);
    }

    let host = host.to_owned();
    let key = ascii(key);
    Ok(Request {
        method: "GET".to_owned(),
        target: target.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers,
        host,
        origin,
        key,
        subprotocols,
        extensions,
    })
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
        rejects_missing_upgrade: base_with("upgrade", &[]) => NotWebSocketUpgrade, "HTTP/1.1 400 Bad Request";
        rejects_other_upgrade: base_with("upgrade", &["Upgrade: h2c"]) => NotWebSocketUpgrade, "HTTP/1.1 400 Bad Request";
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
