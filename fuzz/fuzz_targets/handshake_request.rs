//! `HeadParser` over a request fed in growing prefixes (must agree with feeding it all at
//! once), then `parse_request`, which `Request::from_parts` must agree with; a plain
//! request gets no 101; an accepted upgrade must yield a 101 (`accept_response`) whose head
//! `HeadParser` finds complete, and which a client offering what the request offered
//! accepts (`parse_response`).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{HeadLimits, HeadParser, accept_response, parse_request, parse_response};
use ws_proto::{Accept, AcceptError, ClientRequest, Request};
use ws_proto_fuzz::Bytes;

#[derive(Arbitrary, Debug)]
struct Input {
    /// 0: default limits.
    max_head_size: u16,
    max_headers: u8,
    /// Prefix lengths fed before the whole input.
    cuts: Vec<u16>,
    subprotocol: Option<u8>,
    extension: Option<u8>,
    data: Bytes,
}

pub fn limits(size: u16, headers: u8) -> HeadLimits {
    let mut l = HeadLimits::default();
    if size != 0 {
        l.max_head_size = usize::from(size - 1);
    }
    if headers != 0 {
        l.max_headers = usize::from(headers - 1);
    }
    l
}

fuzz_target!(|input: Input| {
    let data = &input.data;
    let l = limits(input.max_head_size, input.max_headers);
    let whole = HeadParser::new(l).advance(data);
    let mut cuts: Vec<usize> = input
        .cuts
        .iter()
        .map(|&c| usize::from(c).min(data.len()))
        .collect();
    cuts.sort_unstable();
    cuts.push(data.len());
    let mut p = HeadParser::new(l);
    let mut chunked = Ok(None);
    for c in cuts {
        chunked = p.advance(&data[..c]);
        if chunked != Ok(None) {
            break;
        }
    }
    assert_eq!(chunked, whole, "chunked head parsing disagrees with whole");
    // Sticky outcome: asking again gives the same answer.
    assert_eq!(p.advance(data), whole);
    let Ok(Some(n)) = whole else { return };
    assert!(n <= data.len() && n <= l.max_head_size, "head of {n} bytes");
    assert!(data[..n].ends_with(b"\r\n\r\n"));

    let request = match parse_request(&data[..n]) {
        Ok(r) => r,
        Err(e) => {
            // The error answer is a complete HTTP head (with its body after it).
            let resp = e.response();
            let head = HeadParser::new(HeadLimits::default()).advance(&resp);
            assert!(
                matches!(head, Ok(Some(_))),
                "error response head incomplete: {head:?}"
            );
            assert!((400..600).contains(&e.status()), "status {}", e.status());
            return;
        }
    };
    // The same request handed over as parts by another HTTP stack validates the same.
    let parts = request.headers().iter().map(|h| (&h.name, &h.value));
    assert_eq!(
        Request::from_parts(request.method(), request.target(), parts).as_ref(),
        Ok(&request),
        "from_parts disagrees with parse_request"
    );
    if !request.is_upgrade() {
        // A plain HTTP request: nothing WebSocket about it, and no 101 for it.
        assert!(request.key().is_empty() && request.subprotocols().is_empty());
        assert!(request.extensions().is_empty());
        assert_eq!(
            accept_response(&request, &Accept::default()),
            Err(AcceptError::NotAnUpgrade)
        );
        return;
    }
    let mut accept = Accept::default();
    if let Some(i) = input.subprotocol
        && !request.subprotocols().is_empty()
    {
        accept.subprotocol =
            Some(request.subprotocols()[usize::from(i) % request.subprotocols().len()].clone());
    }
    if let Some(i) = input.extension
        && !request.extensions().is_empty()
    {
        let e = &request.extensions()[usize::from(i) % request.extensions().len()];
        accept.extensions.push(e.clone());
    }
    let response = accept_response(&request, &accept)
        .unwrap_or_else(|e| panic!("accept of offered values failed: {e:?} for {accept:?}"));
    let head = HeadParser::new(HeadLimits::default()).advance(&response);
    assert_eq!(head, Ok(Some(response.len())), "101 head incomplete");

    // A client that offered the same things accepts this answer.
    let Ok(mut client) = ClientRequest::new("ws://h/") else {
        unreachable!()
    };
    for p in request.subprotocols() {
        client = client.subprotocol(p.clone());
    }
    for e in request.extensions() {
        client = client.extension(e.clone());
    }
    let parsed = parse_response(&response, &client, request.key()).unwrap_or_else(|e| {
        panic!(
            "client refused our own 101: {e:?}\n{}",
            String::from_utf8_lossy(&response)
        )
    });
    assert_eq!(parsed.status(), 101);
    assert_eq!(parsed.subprotocol(), accept.subprotocol.as_deref());
    assert_eq!(parsed.extensions(), &accept.extensions[..]);
});
