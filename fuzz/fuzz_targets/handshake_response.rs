//! `HeadParser` over a server response fed in growing prefixes (must agree with feeding it
//! all at once), then `parse_response` against a fixed client request: a 101 it accepts
//! selected only what was offered.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::ClientRequest;
use ws_proto::handshake::{ExtensionOffer, HeadLimits, HeadParser, parse_response};
use ws_proto_fuzz::Bytes;

#[derive(Arbitrary, Debug)]
struct Input {
    max_head_size: u16,
    max_headers: u8,
    cuts: Vec<u16>,
    /// Bit 0: offer "chat", bit 1: "superchat", bit 2: permessage-deflate, bit 3: x-test.
    offer: u8,
    data: Bytes,
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fuzz_target!(|input: Input| {
    let data = &input.data;
    let mut l = HeadLimits::default();
    if input.max_head_size != 0 {
        l.max_head_size = usize::from(input.max_head_size - 1);
    }
    if input.max_headers != 0 {
        l.max_headers = usize::from(input.max_headers - 1);
    }
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
    let Ok(Some(n)) = whole else { return };
    assert!(n <= l.max_head_size && data[..n].ends_with(b"\r\n\r\n"));

    let mut req = ClientRequest::new("ws://example.com/chat").expect("valid URL");
    let mut protocols = Vec::new();
    for (bit, p) in [(1, "chat"), (2, "superchat")] {
        if input.offer & bit != 0 {
            req = req.subprotocol(p);
            protocols.push(p);
        }
    }
    let mut names = Vec::new();
    if input.offer & 4 != 0 {
        req = req.extension(
            ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits", None),
        );
        names.push("permessage-deflate");
    }
    if input.offer & 8 != 0 {
        req = req.extension(ExtensionOffer::new("x-test"));
        names.push("x-test");
    }
    let Ok(resp) = parse_response(&data[..n], &req, KEY) else {
        return;
    };
    assert!(
        (100..=999).contains(&resp.status()),
        "status {}",
        resp.status()
    );
    if resp.status() == 101 {
        if let Some(p) = resp.subprotocol() {
            assert!(protocols.contains(&p), "selected {p:?}, not offered");
        }
        for e in resp.extensions() {
            assert!(
                names.contains(&e.name()),
                "extension {:?} not offered",
                e.name()
            );
        }
        assert_eq!(resp.content_length(), None);
    } else {
        assert!(resp.subprotocol().is_none() && resp.extensions().is_empty());
    }
});
