//! Client side: the handshake request built from a `ws://` or `wss://` URL (RFC 6455 §3, §4.1).

use alloc::borrow::{Cow, ToOwned};
use alloc::{format, string::String, vec, vec::Vec};
use core::fmt;

use super::extensions::{ExtensionOffer, format_extensions};
use super::http::{
    AuthorityError, OutHeaderError, check_out_headers, is_token, parse_authority, push_headers,
    split_resource, valid_out_value,
};
use super::is_valid_key;
use crate::Config;
use crate::deflate;

/// Why a URL was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme://`.
    Malformed,
    /// Scheme other than `ws` or `wss`.
    UnsupportedScheme,
    /// A `#fragment`, which WebSocket URIs must not have (§3).
    Fragment,
    /// `user@` before the host.
    UserInfo,
    /// Empty host.
    EmptyHost,
    /// Host is neither a reg-name nor a bracketed IPv6 address.
    InvalidHost,
    /// Port empty, not a number, 0 or above 65535.
    InvalidPort,
    /// Path or query has a character that must be percent-encoded, or a bad `%` escape.
    InvalidResource,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Malformed => "URL has no scheme",
            UrlError::UnsupportedScheme => "URL scheme must be ws or wss",
            UrlError::Fragment => "WebSocket URLs cannot have a fragment",
            UrlError::UserInfo => "WebSocket URLs cannot have user info",
            UrlError::EmptyHost => "URL host is empty",
            UrlError::InvalidHost => "URL host is invalid",
            UrlError::InvalidPort => "URL port is invalid",
            UrlError::InvalidResource => "URL path or query is invalid",
        })
    }
}

impl core::error::Error for UrlError {}

/// Why a client request could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The key is not base64 of 16 bytes.
    InvalidKey,
    /// A subprotocol is not a token.
    InvalidSubprotocol,
    /// The same subprotocol is offered twice (§4.1 requires unique values).
    DuplicateSubprotocol,
    /// An extension name, parameter name or value is not a token.
    InvalidExtension,
    /// The origin has CR, LF, another control character or surrounding whitespace.
    InvalidOrigin,
    /// An extra header name is not a token.
    InvalidHeaderName,
    /// An extra header value has CR, LF, another control character or surrounding whitespace.
    InvalidHeaderValue,
    /// An extra header would duplicate one the handshake writes itself.
    ReservedHeader,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::InvalidKey => "key must be base64 of 16 bytes",
            EncodeError::InvalidSubprotocol => "subprotocol is not a token",
            EncodeError::DuplicateSubprotocol => "subprotocol offered twice",
            EncodeError::InvalidExtension => "extension names and values must be tokens",
            EncodeError::InvalidOrigin => "origin has forbidden characters",
            EncodeError::InvalidHeaderName => "header name is not a token",
            EncodeError::InvalidHeaderValue => "header value has forbidden characters",
            EncodeError::ReservedHeader => "header is set by the handshake itself",
        })
    }
}

impl core::error::Error for EncodeError {}

impl From<OutHeaderError> for EncodeError {
    fn from(e: OutHeaderError) -> Self {
        match e {
            OutHeaderError::Name => EncodeError::InvalidHeaderName,
            OutHeaderError::Value => EncodeError::InvalidHeaderValue,
            OutHeaderError::Reserved => EncodeError::ReservedHeader,
        }
    }
}

/// Headers `encode` writes itself, or that would give the request a body.
const RESERVED: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    "Content-Length",
    "Transfer-Encoding",
];

/// A client handshake request: target from the URL plus what to offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    secure: bool,
    host: String,
    ipv6: bool,
    port: u16,
    resource: String,
    subprotocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    origin: Option<String>,
    headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// Parses `ws://host[:port][/path][?query]` or `wss://...` (scheme case-insensitive).
    /// Hosts are reg-names (lower-cased) or `[IPv6]`; percent-escaped hosts are refused.
    pub fn new(url: &str) -> Result<Self, UrlError> {
        if url.contains('#') {
            return Err(UrlError::Fragment);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Malformed)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(end);
        let a = parse_authority(authority).map_err(|e| match e {
            AuthorityError::Empty => UrlError::EmptyHost,
            AuthorityError::UserInfo => UrlError::UserInfo,
            AuthorityError::Host => UrlError::InvalidHost,
            AuthorityError::Port => UrlError::InvalidPort,
        })?;
        let resource = match resource {
            "" => "/".to_owned(),
            r if r.starts_with('?') => format!("/{r}"),
            r => r.to_owned(),
        };
        split_resource(&resource).ok_or(UrlError::InvalidResource)?;
        Ok(ClientRequest {
            secure,
            host: a.host.to_ascii_lowercase(),
            ipv6: a.ipv6,
            port: a.port.unwrap_or(if secure { 443 } else { 80 }),
            resource,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            origin: None,
            headers: Vec::new(),
        })
    }

    /// Offers a subprotocol (in preference order).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Offers an extension (in preference order).
    pub fn extension(mut self, offer: ExtensionOffer) -> Self {
        self.extensions.push(offer);
        self
    }

    /// Sets the `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Adds an extra header (cookies, authorization, ...).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Host to connect to; an IPv6 address comes without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Port to connect to (80 / 443 unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the scheme is `wss` (TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Path and query sent as the request target; at least `/`.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Offered subprotocols.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// Offered extensions.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// `Host` header value: brackets around IPv6, port only when not the default.
    pub fn host_header(&self) -> String {
        let host = if self.ipv6 {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Encodes the request head with `key` (see [`generate_key`](super::generate_key)).
    /// Everything is checked first, so an error never yields a partial request.
    pub fn encode(&self, key: &str) -> Result<Vec<u8>, EncodeError> {
        let headers = self.header_fields(key)?;
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(format!("GET {} HTTP/1.1\r\n", self.resource).as_bytes());
        push_headers(&mut out, &headers);
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }

    /// The request's header fields with `key`, in the order [`encode`](Self::encode) writes
    /// them, after checking everything.
    pub(crate) fn header_fields(&self, key: &str) -> Result<Vec<(String, String)>, EncodeError> {
        if !is_valid_key(key.as_bytes()) {
            return Err(EncodeError::InvalidKey);
        }
        if !self.subprotocols.iter().all(|p| is_token(p.as_bytes())) {
            return Err(EncodeError::InvalidSubprotocol);
        }
        let mut sorted: Vec<&str> = self.subprotocols.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(EncodeError::DuplicateSubprotocol);
        }
        if !self.extensions.iter().all(ExtensionOffer::is_valid) {
            return Err(EncodeError::InvalidExtension);
        }
        if self.origin.as_ref().is_some_and(|o| !valid_out_value(o)) {
            return Err(EncodeError::InvalidOrigin);
        }
        check_out_headers(&self.headers, RESERVED)?;

        let field = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        let mut out = vec![
            field("Host", &self.host_header()),
            field("Upgrade", "websocket"),
            field("Connection", "Upgrade"),
            field("Sec-WebSocket-Key", key),
            field("Sec-WebSocket-Version", "13"),
        ];
        if let Some(origin) = &self.origin {
            out.push(field("Origin", origin));
        }
        if !self.subprotocols.is_empty() {
            out.push(field(
                "Sec-WebSocket-Protocol",
                &self.subprotocols.join(", "),
            ));
        }
        if !self.extensions.is_empty() {
            out.push(field(
                "Sec-WebSocket-Extensions",
                &format_extensions(&self.extensions),
            ));
        }
        out.extend(self.headers.iter().cloned());
        Ok(out)
    }

    /// This request with the permessage-deflate offer of `config` added, as
    /// [`Connection::client`](crate::Connection::client) sends it: when
    /// [`Config::deflate`](crate::Config::deflate) enables it (with the `deflate` feature)
    /// and the request does not offer permessage-deflate already.
    pub(crate) fn with_config_offers(&self, config: &Config) -> Cow<'_, ClientRequest> {
        let offered = self.extensions.iter().any(|e| e.name == deflate::NAME);
        if cfg!(feature = "deflate") && config.deflate.enabled && !offered {
            let mut with_offer = self.clone();
            with_offer.extensions.push(deflate::offer(&config.deflate));
            Cow::Owned(with_offer)
        } else {
            Cow::Borrowed(self)
        }
    }
}

/// The header fields of the upgrade request for `request` with `key`, for sending it
/// through another HTTP client as `GET` [`ClientRequest::resource`] over HTTP/1.1: `Host`,
/// `Upgrade`, `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`, then `Origin`,
/// `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` when there is something to
/// say, then the request's extra headers. The permessage-deflate offer of `config` is
/// added as [`Connection::client`](crate::Connection::client) adds it; check the answer
/// with [`verify_response`](super::verify_response) and the same `request`, `key` and
/// `config`.
///
/// ```
/// use ws_proto::handshake::{ClientRequest, generate_key, request_headers};
/// use ws_proto::Config;
///
/// let request = ClientRequest::new("ws://example.com/feed")?.subprotocol("feed.v1");
/// let key = generate_key([7; 16]); // 16 random bytes from a strong source
/// let headers = request_headers(&request, &key, &Config::default())?;
/// assert_eq!(headers[0], ("Host".into(), "example.com".into()));
/// assert!(headers.contains(&("Sec-WebSocket-Protocol".into(), "feed.v1".into())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn request_headers(
    request: &ClientRequest,
    key: &str,
    config: &Config,
) -> Result<Vec<(String, String)>, EncodeError> {
    request.with_config_offers(config).header_fields(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn parses_urls() {
        let cases = [
            (
                "ws://example.com",
                "example.com",
                80,
                false,
                "/",
                "example.com",
            ),
            (
                "WSS://Example.COM/chat?x=1",
                "example.com",
                443,
                true,
                "/chat?x=1",
                "example.com",
            ),
            ("ws://h:8080/a/b", "h", 8080, false, "/a/b", "h:8080"),
            ("wss://h:443?q", "h", 443, true, "/?q", "h"),
            ("ws://h:443/", "h", 443, false, "/", "h:443"),
            ("ws://[::1]:9001/", "::1", 9001, false, "/", "[::1]:9001"),
            (
                "wss://[2001:DB8::1]",
                "2001:db8::1",
                443,
                true,
                "/",
                "[2001:db8::1]",
            ),
            (
                "ws://127.0.0.1/%20",
                "127.0.0.1",
                80,
                false,
                "/%20",
                "127.0.0.1",
            ),
        ];
        for (url, host, port, secure, resource, host_header) in cases {
            let r = ClientRequest::new(url).unwrap();
            assert_eq!(
                (
                    r.host(),
                    r.port(),
                    r.is_secure(),
                    r.resource(),
                    r.host_header().as_str()
                ),
                (host, port, secure, resource, host_header),
                "{url}"
            );
        }
    }

    #[test]
    fn rejects_urls() {
        let cases = [
            ("example.com", UrlError::Malformed),
            ("ws:/example.com", UrlError::Malformed),
            ("http://example.com", UrlError::UnsupportedScheme),
            ("wss+x://example.com", UrlError::UnsupportedScheme),
            ("ws://example.com/#frag", UrlError::Fragment),
            ("ws://user:pw@example.com/", UrlError::UserInfo),
            ("ws:///path", UrlError::EmptyHost),
            ("ws://:80/", UrlError::EmptyHost),
            ("ws://exa mple.com/", UrlError::InvalidHost),
            ("ws://[::1/", UrlError::InvalidHost),
            ("ws://[fe80::1%25eth0]/", UrlError::InvalidHost),
            ("ws://h:/", UrlError::InvalidPort),
            ("ws://h:0/", UrlError::InvalidPort),
            ("ws://h:65536/", UrlError::InvalidPort),
            ("ws://h:8o/", UrlError::InvalidPort),
            ("ws://h/a b", UrlError::InvalidResource),
            ("ws://h/%zz", UrlError::InvalidResource),
            ("ws://h/\u{e9}", UrlError::InvalidResource),
        ];
        for (url, err) in cases {
            assert_eq!(ClientRequest::new(url), Err(err), "{url}");
        }
    }

    #[test]
    fn encodes_minimal_request() {
        let out = ClientRequest::new("ws://example.com:8080/chat")
            .unwrap()
            .encode(KEY)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /chat HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
    }

    #[test]
    fn encodes_options() {
        let out = ClientRequest::new("wss://[::1]/")
            .unwrap()
            .origin("https://example.com")
            .subprotocol("v2.chat")
            .subprotocol("chat")
            .extension(
                ExtensionOffer::new("permessage-deflate")
                    .with_param("client_max_window_bits", None),
            )
            .header("Cookie", "a=b")
            .encode(KEY)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nHost: [::1]\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Origin: https://example.com\r\nSec-WebSocket-Protocol: v2.chat, chat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
             Cookie: a=b\r\n\r\n"
        );
    }

    #[test]
    fn encode_errors() {
        let r = ClientRequest::new("ws://h/").unwrap();
        assert_eq!(r.encode("AAAA"), Err(EncodeError::InvalidKey));
        assert_eq!(
            r.encode("dGhlIHNhbXBsZSBub25jZR=="),
            Err(EncodeError::InvalidKey)
        );
        let check = |r: ClientRequest, e| assert_eq!(r.encode(KEY), Err(e));
        check(
            r.clone().subprotocol("a b"),
            EncodeError::InvalidSubprotocol,
        );
        check(r.clone().subprotocol(""), EncodeError::InvalidSubprotocol);
        check(
            r.clone().subprotocol("a").subprotocol("b").subprotocol("a"),
            EncodeError::DuplicateSubprotocol,
        );
        check(
            r.clone().extension(ExtensionOffer::new("a;b")),
            EncodeError::InvalidExtension,
        );
        check(r.clone().origin("x\r\nEvil: 1"), EncodeError::InvalidOrigin);
        check(
            r.clone().header("Bad Name", "v"),
            EncodeError::InvalidHeaderName,
        );
        check(
            r.clone().header("X", "v\n"),
            EncodeError::InvalidHeaderValue,
        );
        check(
            r.clone().header("host", "other"),
            EncodeError::ReservedHeader,
        );
        check(
            r.header("Sec-WebSocket-Key", KEY),
            EncodeError::ReservedHeader,
        );
    }
}
