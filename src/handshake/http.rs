//! Shared HTTP/1.1 syntax (RFC 9110 / RFC 9112 subset) used by both handshake sides.

use alloc::{format, string::String, vec::Vec};
use core::net::Ipv6Addr;

/// One header field as received: the name in its original case and the value with optional
/// whitespace trimmed from both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Field name as received (a token; compare it case-insensitively).
    pub name: String,
    /// Raw field value; may hold non-UTF-8 `obs-text` bytes.
    pub value: Vec<u8>,
}

impl Header {
    /// The value as text, or `None` when it is not valid UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }

    /// Whether the field name equals `name`, ignoring ASCII case.
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A non-empty run of `tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Optional whitespace (SP / HTAB).
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Strips optional whitespace from both ends.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// A byte allowed inside a field value: HTAB, SP, VCHAR or obs-text (no CTLs, no DEL).
pub(crate) fn is_field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// Splits a complete head into its lines. The head must end with an empty line, every line must
/// end in CRLF, no bare CR or LF may appear, and no line but the last may be empty.
pub(crate) fn split_lines(head: &[u8]) -> Option<Vec<&[u8]>> {
    let body = head.strip_suffix(b"\r\n\r\n")?;
    let mut lines = Vec::new();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', body) {
        let cr = nl.checked_sub(1)?;
        if body.get(cr) != Some(&b'\r') {
            return None;
        }
        lines.push(body.get(start..cr)?);
        start = nl + 1;
    }
    lines.push(body.get(start..)?);
    let bad = |l: &&[u8]| l.is_empty() || memchr::memchr(b'\r', l).is_some();
    if lines.iter().any(bad) {
        return None;
    }
    Some(lines)
}

/// Why a header line was refused.
pub(crate) enum HeaderLineError {
    /// Missing colon, empty name, or a name that is not a token (e.g. space before the colon).
    Name,
    /// Obsolete line folding: the line starts with whitespace.
    Fold,
    /// A control byte (other than HTAB) or DEL in the value.
    Value,
}

/// Parses one `name: value` line.
pub(crate) fn parse_header(line: &[u8]) -> Result<Header, HeaderLineError> {
    if line.first().is_some_and(|&b| is_ows(b)) {
        return Err(HeaderLineError::Fold);
    }
    let colon = memchr::memchr(b':', line).ok_or(HeaderLineError::Name)?;
    let (name, rest) = line.split_at(colon);
    if !is_token(name) {
        return Err(HeaderLineError::Name);
    }
    let value = trim_ows(rest.get(1..).unwrap_or_default());
    if !value.iter().all(|&b| is_field_byte(b)) {
        return Err(HeaderLineError::Value);
    }
    Ok(Header {
        name: name.iter().map(|&b| char::from(b)).collect(),
        value: value.to_vec(),
    })
}

/// A header that an HTTP stack already parsed: the same checks as [`parse_header`] (a token
/// name; field bytes only in the value, whose surrounding whitespace is trimmed).
pub(crate) fn header_from_parts(name: &str, value: &[u8]) -> Result<Header, HeaderLineError> {
    if !is_token(name.as_bytes()) {
        return Err(HeaderLineError::Name);
    }
    let value = trim_ows(value);
    if !value.iter().all(|&b| is_field_byte(b)) {
        return Err(HeaderLineError::Value);
    }
    Ok(Header {
        name: name.into(),
        value: value.to_vec(),
    })
}

/// Values of all headers named `name` (case-insensitive), in order.
pub(crate) fn values<'a, 'n>(
    headers: &'a [Header],
    name: &'n str,
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
    headers
        .iter()
        .filter(move |h| h.is_named(name))
        .map(|h| h.value.as_slice())
}

/// Whether the comma-separated lists in all `name` headers contain `token` (case-insensitive).
pub(crate) fn list_contains(headers: &[Header], name: &str, token: &str) -> bool {
    values(headers, name)
        .flat_map(|v| v.split(|&b| b == b','))
        .any(|e| trim_ows(e).eq_ignore_ascii_case(token.as_bytes()))
}

/// Checks every `Content-Length` element; returns the common value, `None` if there is none,
/// or `Err` if an element is not a decimal number or the elements disagree.
pub(crate) fn content_length(headers: &[Header]) -> Result<Option<u64>, ()> {
    let mut found = None;
    for e in values(headers, "content-length").flat_map(|v| v.split(|&b| b == b',')) {
        let e = trim_ows(e);
        if e.is_empty() || !e.iter().all(u8::is_ascii_digit) {
            return Err(());
        }
        let n = e.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        match (found, n) {
            (_, None) => return Err(()),
            (Some(prev), Some(n)) if prev != n => return Err(()),
            (_, n) => found = n,
        }
    }
    Ok(found)
}

/// Parses `HTTP/<digit>.<digit>` into `(major, minor)`.
pub(crate) fn parse_version(v: &[u8]) -> Option<(u8, u8)> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Some((major - b'0', minor - b'0'))
        }
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// Whether `s` is made of URI `pchar`s, `/`, well-formed `%XX` escapes and, if `query`, `?`.
fn valid_uri_part(s: &[u8], query: bool) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hex = |j: usize| s.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = is_unreserved(b) || is_sub_delim(b) || b":@/".contains(&b) || (query && b == b'?');
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `q` is a valid URI query (the part after `?`).
pub(crate) fn valid_query(q: &str) -> bool {
    valid_uri_part(q.as_bytes(), true)
}

/// Splits an origin-form resource (`/path?query`) into path and query, validating both.
pub(crate) fn split_resource(res: &str) -> Option<(&str, Option<&str>)> {
    let (path, query) = match res.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (res, None),
    };
    let ok = path.starts_with('/')
        && valid_uri_part(path.as_bytes(), false)
        && query.is_none_or(valid_query);
    ok.then_some((path, query))
}

/// Why an authority (`host[:port]`) was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthorityError {
    Empty,
    UserInfo,
    Host,
    Port,
}

/// A parsed `host[:port]`; an IPv6 host is given without its brackets.
pub(crate) struct Authority<'a> {
    pub(crate) host: &'a str,
    pub(crate) ipv6: bool,
    pub(crate) port: Option<u16>,
}

/// Parses `reg-name[:port]` or `[IPv6][:port]`. Percent-escapes, IPvFuture and zone ids are
/// refused; the port must be 1..=65535 when present.
pub(crate) fn parse_authority(a: &str) -> Result<Authority<'_>, AuthorityError> {
    if a.contains('@') {
        return Err(AuthorityError::UserInfo);
    }
    let (host, ipv6, port) = if let Some(rest) = a.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or(AuthorityError::Host)?;
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| AuthorityError::Host)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(AuthorityError::Host)?),
        };
        (inner, true, port)
    } else {
        let (host, port) = match a.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        };
        if host.is_empty() {
            return Err(AuthorityError::Empty);
        }
        if !host.bytes().all(|b| is_unreserved(b) || is_sub_delim(b)) {
            return Err(AuthorityError::Host);
        }
        (host, false, port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            let valid = (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
            let n = p.parse::<u16>().ok().filter(|&n| valid && n != 0);
            Some(n.ok_or(AuthorityError::Port)?)
        }
    };
    Ok(Authority { host, ipv6, port })
}

/// Why a header that we are asked to send was refused.
pub(crate) enum OutHeaderError {
    Name,
    Value,
    Reserved,
}

/// Whether a value can be sent as-is: field bytes only, no surrounding whitespace.
pub(crate) fn valid_out_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.iter().all(|&c| is_field_byte(c))
        && !b.first().is_some_and(|&c| is_ows(c))
        && !b.last().is_some_and(|&c| is_ows(c))
}

/// Validates caller-supplied headers; names in `reserved` are set by this module and refused.
pub(crate) fn check_out_headers(
    headers: &[(String, String)],
    reserved: &[&str],
) -> Result<(), OutHeaderError> {
    for (name, value) in headers {
        if !is_token(name.as_bytes()) {
            return Err(OutHeaderError::Name);
        }
        if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(OutHeaderError::Reserved);
        }
        if !valid_out_value(value) {
            return Err(OutHeaderError::Value);
        }
    }
    Ok(())
}

/// Appends `name: value\r\n`.
pub(crate) fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends caller-supplied headers (already validated).
pub(crate) fn push_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    for (name, value) in headers {
        push_header(out, name, value);
    }
}

/// Reason phrase for a status code; empty (which HTTP allows) for unregistered codes.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub(crate) fn push_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
}

/// A complete plain-text error response that closes the connection.
pub(crate) fn error_response(status: u16, message: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + message.len());
    push_status_line(&mut out, status);
    push_header(&mut out, "Content-Type", "text/plain; charset=utf-8");
    push_header(
        &mut out,
        "Content-Length",
        &format!("{}", message.len() + 1),
    );
    push_header(&mut out, "Connection", "close");
    for (name, value) in extra {
        push_header(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(message.as_bytes());
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_and_tokens() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"  "), b"");
        assert!(is_token(b"Sec-WebSocket-Key"));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b""));
    }

    #[test]
    fn lines_need_crlf() {
        assert_eq!(
            split_lines(b"A\r\nB: c\r\n\r\n"),
            Some(alloc::vec![&b"A"[..], b"B: c"])
        );
        assert_eq!(split_lines(b"A\nB: c\r\n\r\n"), None);
        assert_eq!(split_lines(b"A\rB: c\r\n\r\n"), None);
        assert_eq!(split_lines(b"A\r\n\r\nB: c\r\n\r\n"), None);
        assert_eq!(split_lines(b"\r\n\r\n"), None);
        assert_eq!(split_lines(b"A\r\n"), None);
    }

    #[test]
    fn content_length_rules() {
        let h = |v: &str| Header {
            name: "Content-Length".into(),
            value: v.as_bytes().to_vec(),
        };
        assert_eq!(content_length(&[]), Ok(None));
        assert_eq!(content_length(&[h("12")]), Ok(Some(12)));
        assert_eq!(content_length(&[h("12, 12"), h("12")]), Ok(Some(12)));
        assert_eq!(content_length(&[h("12, 13")]), Err(()));
        assert_eq!(content_length(&[h("-1")]), Err(()));
        assert_eq!(content_length(&[h("99999999999999999999")]), Err(()));
    }

    #[test]
    fn authorities() {
        let a = parse_authority("[::1]:8080").unwrap();
        assert_eq!((a.host, a.ipv6, a.port), ("::1", true, Some(8080)));
        let a = parse_authority("Example.com").unwrap();
        assert_eq!((a.host, a.ipv6, a.port), ("Example.com", false, None));
        let err = |s| parse_authority(s).err();
        assert_eq!(err(""), Some(AuthorityError::Empty));
        assert_eq!(err(":80"), Some(AuthorityError::Empty));
        assert_eq!(err("u@h"), Some(AuthorityError::UserInfo));
        assert_eq!(err("h:0"), Some(AuthorityError::Port));
        assert_eq!(err("h:65536"), Some(AuthorityError::Port));
        assert_eq!(err("h:+80"), Some(AuthorityError::Port));
        assert_eq!(err("h:"), Some(AuthorityError::Port));
        assert_eq!(err("[::1"), Some(AuthorityError::Host));
        assert_eq!(err("[zz]"), Some(AuthorityError::Host));
        assert_eq!(err("[::1]x"), Some(AuthorityError::Host));
        assert_eq!(err("a b"), Some(AuthorityError::Host));
        assert_eq!(err("a%20b"), Some(AuthorityError::Host));
    }

    #[test]
    fn resources() {
        assert_eq!(split_resource("/a/b?x=1&y"), Some(("/a/b", Some("x=1&y"))));
        assert_eq!(split_resource("/?"), Some(("/", Some(""))));
        assert_eq!(split_resource("/a%2Fb"), Some(("/a%2Fb", None)));
        assert_eq!(split_resource("/a%2"), None);
        assert_eq!(split_resource("/a b"), None);
        assert_eq!(split_resource("a"), None);
        assert_eq!(split_resource("/a#f"), None);
    }
}
