//! Conversions with the `http` crate's types (feature `http`), for a handshake done by
//! hyper, axum or another stack built on them. Each one is the parts-based function of
//! this module ([`Request::from_parts`], [`accept_headers`], [`request_headers`],
//! [`verify_response`]) applied to the `http` type, so both give the same answers.

use alloc::string::ToString;
use alloc::vec::Vec;

use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri, Version};

use super::http::{HeaderLineError, header_from_parts, list_contains};
use super::{
    Accept, AcceptError, ClientRequest, EncodeError, Negotiated, Request, RequestError,
    ResponseError, accept_headers, request_headers, verify_response,
};
use crate::Config;

impl Request {
    /// Validates a request as received by an `http`-based server (hyper, axum...), with the
    /// rules of [`parse_request`](super::parse_request): the method, the URI as the target,
    /// the headers, and the HTTP version (an upgrade needs HTTP/1.1; `Host` is required for
    /// an upgrade and for HTTP/1.1). HTTP/2 and HTTP/3 requests are accepted as plain
    /// requests without `Host`, and refused as upgrades, which they cannot be.
    ///
    /// The body is not looked at: keep the request to finish the upgrade
    /// (`hyper::upgrade::on(request)`).
    pub fn from_http<B>(request: &http::Request<B>) -> Result<Request, RequestError> {
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| header_from_parts(name.as_str(), value.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| match e {
                HeaderLineError::Name => RequestError::BadHeaderName,
                HeaderLineError::Fold => RequestError::FoldedHeader,
                HeaderLineError::Value => RequestError::BadHeaderValue,
            })?;
        let version = match request.version() {
            Version::HTTP_09 => Some((0, 9)),
            Version::HTTP_10 => Some((1, 0)),
            Version::HTTP_11 => Some((1, 1)),
            // HTTP/2 and later: framing is the stack's, but there is no upgrade there.
            _ if list_contains(&headers, "upgrade", "websocket") => Some((2, 0)),
            _ => None,
        };
        let target = request.uri().to_string();
        Request::from_parts_with_version(request.method().as_str(), &target, version, headers)
    }
}

/// [`accept_headers`] as an `http::Response`: `101 Switching Protocols` with those headers,
/// for a server built on `http` (hyper, axum...) to answer with, and the [`Negotiated`] to
/// pass to [`Connection::upgraded`](crate::Connection::upgraded) once the stack hands over
/// the upgraded stream.
pub fn accept_http(
    request: &Request,
    accept: &Accept,
    config: &Config,
) -> Result<(http::Response<()>, Negotiated), AcceptError> {
    let (headers, negotiated) = accept_headers(request, accept, config)?;
    let mut response = http::Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in headers {
        // Checked by `accept_headers` already; the `http` crate checks again.
        let name = HeaderName::try_from(name).map_err(|_| AcceptError::InvalidHeaderName)?;
        let value = HeaderValue::try_from(value).map_err(|_| AcceptError::InvalidHeaderValue)?;
        response.headers_mut().append(name, value);
    }
    Ok((response, negotiated))
}

/// [`request_headers`] as an `http::Request`: `GET` [`ClientRequest::resource`] over
/// HTTP/1.1 (origin-form: connect to [`ClientRequest::host`] and
/// [`ClientRequest::port`] yourself), with the handshake headers and the permessage-deflate
/// offer of `config`. Check the answer with [`verify_http_response`].
pub fn request_http(
    request: &ClientRequest,
    key: &str,
    config: &Config,
) -> Result<http::Request<()>, EncodeError> {
    let headers = request_headers(request, key, config)?;
    let mut out = http::Request::new(());
    *out.method_mut() = Method::GET;
    *out.version_mut() = Version::HTTP_11;
    // `ClientRequest::new` allows only URI characters in the resource.
    *out.uri_mut() =
        Uri::try_from(request.resource()).map_err(|_| EncodeError::InvalidHeaderValue)?;
    for (name, value) in headers {
        let name = HeaderName::try_from(name).map_err(|_| EncodeError::InvalidHeaderName)?;
        let value = HeaderValue::try_from(value).map_err(|_| EncodeError::InvalidHeaderValue)?;
        out.headers_mut().append(name, value);
    }
    Ok(out)
}

/// [`verify_response`] on an `http::Response` (its body is not looked at): a 101 over
/// HTTP/1.1 with every check of [`parse_response`](super::parse_response), then
/// permessage-deflate's parameters against `config`. `request`, `key` and `config` must
/// be those given to [`request_http`].
pub fn verify_http_response<B>(
    response: &http::Response<B>,
    request: &ClientRequest,
    key: &str,
    config: &Config,
) -> Result<Negotiated, ResponseError> {
    let status = response.status().as_u16();
    if status == 101 && response.version() != Version::HTTP_11 {
        return Err(ResponseError::UnsupportedHttpVersion);
    }
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    verify_response(status, headers, request, key, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::DeflateError;
    use crate::handshake::{
        ExtensionOffer, HeadLimits, HeadParser, encode_101, parse_request, parse_response,
    };
    use alloc::string::String;
    use alloc::{format, vec};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn http_request(version: Version, target: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut builder = http::Request::builder()
            .method("GET")
            .uri(target)
            .version(version);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        builder.body(()).unwrap()
    }

    fn raw(version: &str, target: &str, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut s = format!("GET {target} {version}\r\n");
        for (n, v) in headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.into_bytes()
    }

    const UPGRADE: &[(&str, &str)] = &[
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Protocol", "chat, echo.v1"),
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        ),
    ];

    /// The `http` crate lower-cases names; our own parser keeps them as sent.
    fn lower(r: Result<Request, RequestError>) -> Result<Request, RequestError> {
        r.map(|r| {
            let parts: Vec<(String, Vec<u8>)> = r
                .headers()
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
                .collect();
            Request::from_parts(r.method(), r.target(), parts).unwrap()
        })
    }

    #[test]
    fn from_http_gives_what_parse_request_gives() {
        let without = |name: &str| -> Vec<(&str, &str)> {
            UPGRADE
                .iter()
                .copied()
                .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
                .collect()
        };
        let with = |extra: (&'static str, &'static str)| -> Vec<(&str, &str)> {
            let mut h = UPGRADE.to_vec();
            h.push(extra);
            h
        };
        /// Version, as text, target, headers, and whether it is an upgrade.
        type Case<'a> = (
            Version,
            &'a str,
            &'a str,
            Vec<(&'a str, &'a str)>,
            Result<bool, RequestError>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                Version::HTTP_11,
                "HTTP/1.1",
                "/chat?x=1",
                UPGRADE.to_vec(),
                Ok(true),
            ),
            (
                Version::HTTP_11,
                "HTTP/1.1",
                "/",
                without("upgrade"),
                Ok(false),
            ),
            (
                Version::HTTP_10,
                "HTTP/1.0",
                "/",
                vec![("Accept", "*/*")],
                Ok(false),
            ),
            (
                Version::HTTP_10,
                "HTTP/1.0",
                "/",
                UPGRADE.to_vec(),
                Err(RequestError::UnsupportedHttpVersion),
            ),
            (
                Version::HTTP_11,
                "HTTP/1.1",
                "/",
                without("upgrade")
                    .into_iter()
                    .filter(|(n, _)| *n != "Host")
                    .collect(),
                Err(RequestError::MissingHost),
            ),
            (
                Version::HTTP_11,
                "HTTP/1.1",
                "/",
                without("sec-websocket-key"),
                Err(RequestError::MissingKey),
            ),
            (
                Version::HTTP_11,
                "HTTP/1.1",
                "/",
                with(("Origin", "a"))
                    .into_iter()
                    .chain([("Origin", "b")])
                    .collect(),
                Err(RequestError::BadOrigin),
            ),
            (
                Version::HTTP_11,
                "HTTP/1.1",
                "/",
                with(("Sec-WebSocket-Version", "8")),
                Err(RequestError::DuplicateVersion),
            ),
            (
                Version::HTTP_11,
                "HTTP/1.1",
                "/%zz",
                UPGRADE.to_vec(),
                Err(RequestError::BadTarget),
            ),
        ];
        for (version, text, target, headers, expected) in cases {
            let ours = lower(parse_request(&raw(text, target, &headers)));
            let theirs = Request::from_http(&http_request(version, target, &headers));
            assert_eq!(theirs, ours, "{text} {target} {headers:?}");
            assert_eq!(theirs.map(|r| r.is_upgrade()), expected, "{headers:?}");
        }
    }

    #[test]
    fn from_http_and_http_2() {
        // A plain HTTP/2 request has its authority in the URI, not in Host.
        let plain = http_request(Version::HTTP_2, "https://example.com/page", &[]);
        let r = Request::from_http(&plain).unwrap();
        assert_eq!((r.is_upgrade(), r.path(), r.host()), (false, "/page", ""));
        // There is no upgrade in HTTP/2.
        let upgrade = http_request(Version::HTTP_2, "/", UPGRADE);
        assert_eq!(
            Request::from_http(&upgrade),
            Err(RequestError::UnsupportedHttpVersion)
        );
    }

    #[test]
    fn accept_http_matches_accept_headers_and_our_parser() {
        let request = Request::from_http(&http_request(Version::HTTP_11, "/", UPGRADE)).unwrap();
        let accept = Accept {
            subprotocol: Some("echo.v1".into()),
            headers: vec![("Set-Cookie".into(), "a=b".into())],
            ..Accept::default()
        };
        let config = Config::default();
        let (response, negotiated) = accept_http(&request, &accept, &config).unwrap();
        let (headers, same) = accept_headers(&request, &accept, &config).unwrap();
        assert_eq!(negotiated, same);
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let got: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let want: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(negotiated.subprotocol(), Some("echo.v1"));
        assert_eq!(negotiated.deflate().is_some(), cfg!(feature = "deflate"));

        // A client of ours reading those same headers as bytes agrees with the server.
        let client = ClientRequest::new("ws://example.com/")
            .unwrap()
            .subprotocol("chat")
            .subprotocol("echo.v1");
        let bytes = encode_101(&headers);
        let offered = client.with_config_offers(&config);
        let parsed = parse_response(&bytes, &offered, KEY).unwrap();
        assert_eq!(parsed.subprotocol(), Some("echo.v1"));
        let mut from_bytes = Negotiated::new().with_subprotocol("echo.v1");
        from_bytes.deflate =
            crate::deflate::check_response(&config.deflate, parsed.extensions()).unwrap();
        assert_eq!(from_bytes, negotiated);
        assert_eq!(
            verify_http_response(&response, &client, KEY, &config),
            Ok(negotiated)
        );
    }

    #[test]
    fn accept_http_refusals() {
        let config = Config::default();
        let plain = http_request(Version::HTTP_11, "/", &[("Host", "h")]);
        let plain = Request::from_http(&plain).unwrap();
        assert_eq!(
            accept_http(&plain, &Accept::default(), &config).map(|_| ()),
            Err(AcceptError::NotAnUpgrade)
        );
        let request = Request::from_http(&http_request(Version::HTTP_11, "/", UPGRADE)).unwrap();
        let unknown = Accept {
            subprotocol: Some("other".into()),
            ..Accept::default()
        };
        assert_eq!(
            accept_http(&request, &unknown, &config).map(|_| ()),
            Err(AcceptError::SubprotocolNotOffered)
        );
    }

    #[test]
    fn request_http_round_trips_through_our_parser() {
        let client = ClientRequest::new("ws://example.com:8080/feed?x=1")
            .unwrap()
            .subprotocol("feed.v1")
            .origin("https://example.com")
            .header("Authorization", "Bearer t");
        let config = Config::default();
        let request = request_http(&client, KEY, &config).unwrap();
        assert_eq!(request.uri(), "/feed?x=1");
        assert_eq!(request.headers()["host"], "example.com:8080");

        // What a server sees through `http` is what it sees from our own encoding.
        let bytes = client.with_config_offers(&config).encode(KEY).unwrap();
        let n = HeadParser::new(HeadLimits::default())
            .advance(&bytes)
            .unwrap()
            .unwrap();
        let ours = lower(parse_request(&bytes[..n])).unwrap();
        let theirs = Request::from_http(&request).unwrap();
        assert_eq!(theirs, ours);
        assert_eq!(theirs.subprotocols(), ["feed.v1"]);
        let names: Vec<&str> = theirs.extensions().iter().map(|e| e.name()).collect();
        let expected: &[&str] = if cfg!(feature = "deflate") {
            &["permessage-deflate"]
        } else {
            &[]
        };
        assert_eq!(names, expected);

        assert_eq!(
            request_http(&client, "short", &config).map(|_| ()),
            Err(EncodeError::InvalidKey)
        );
    }

    fn response(version: Version, status: u16, headers: &[(&str, &str)]) -> http::Response<()> {
        let mut builder = http::Response::builder().status(status).version(version);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn verify_http_response_checks() {
        let client = ClientRequest::new("ws://h/").unwrap().subprotocol("chat");
        let config = Config::default();
        let ok = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        let verify = |r: &http::Response<()>| verify_http_response(r, &client, KEY, &config);
        assert_eq!(
            verify(&response(Version::HTTP_11, 101, &ok)),
            Ok(Negotiated::new())
        );
        assert_eq!(
            verify(&response(Version::HTTP_11, 403, &ok)),
            Err(ResponseError::NotSwitchingProtocols(403))
        );
        assert_eq!(
            verify(&response(Version::HTTP_10, 101, &ok)),
            Err(ResponseError::UnsupportedHttpVersion)
        );
        let mut bad_key = ok;
        bad_key[2].1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(
            verify(&response(Version::HTTP_11, 101, &bad_key)),
            Err(ResponseError::AcceptMismatch)
        );
        let with = |extra: (&'static str, &'static str)| {
            let mut h = ok.to_vec();
            h.push(extra);
            response(Version::HTTP_11, 101, &h)
        };
        assert_eq!(
            verify(&with(("Sec-WebSocket-Protocol", "other"))),
            Err(ResponseError::SubprotocolNotOffered)
        );
        let big_window = with((
            "Sec-WebSocket-Extensions",
            "permessage-deflate; server_max_window_bits=16",
        ));
        if cfg!(feature = "deflate") {
            assert_eq!(
                verify(&big_window),
                Err(ResponseError::Deflate(DeflateError::InvalidValue))
            );
            let params = verify(&with((
                "Sec-WebSocket-Extensions",
                "permessage-deflate; server_no_context_takeover",
            )))
            .unwrap()
            .deflate()
            .unwrap();
            assert!(params.server_no_context_takeover);
        } else {
            assert_eq!(verify(&big_window), Err(ResponseError::ExtensionNotOffered));
        }
        // Offered by hand, an unknown extension is still refused if the server adds another.
        let other = with(("Sec-WebSocket-Extensions", "x-other"));
        let by_hand = client.clone().extension(ExtensionOffer::new("x-mine"));
        assert_eq!(
            verify_http_response(&other, &by_hand, KEY, &config),
            Err(ResponseError::ExtensionNotOffered)
        );
    }
}
