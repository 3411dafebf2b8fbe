//! A client connection from its handshake request: the fuzzer supplies the server's
//! response and frames, often after a valid 101 (its accept value computed from the key
//! the client actually sent), so that the frame layer is reached.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::ExtensionOffer;
use ws_proto::{ClientRequest, Connection, accept_key};
use ws_proto_fuzz::{Bytes, FuzzConfig, Harness, Step, XorShift};

const PROTOCOLS: &[&str] = &["chat", "superchat", "v2.json"];

#[derive(Arbitrary, Debug)]
enum Prefix {
    /// A valid 101 for the request actually sent.
    Valid101 {
        /// Index into the offered subprotocols to select (if any were offered).
        subprotocol: Option<u8>,
        /// A `Sec-WebSocket-Extensions` header line value.
        extensions: Option<DeflateAnswer>,
        /// An extra header line (may be garbage).
        extra: Option<String>,
    },
    /// Nothing: the fuzzer's bytes are the whole response.
    None,
}

#[derive(Arbitrary, Debug)]
enum DeflateAnswer {
    Plain,
    ServerNoContextTakeover,
    ClientNoContextTakeover,
    ServerBits(u8),
    ClientBits(u8),
    Raw(String),
}

impl DeflateAnswer {
    fn header(&self) -> String {
        match self {
            DeflateAnswer::Plain => "permessage-deflate".into(),
            DeflateAnswer::ServerNoContextTakeover => {
                "permessage-deflate; server_no_context_takeover".into()
            }
            DeflateAnswer::ClientNoContextTakeover => {
                "permessage-deflate; client_no_context_takeover".into()
            }
            DeflateAnswer::ServerBits(b) => {
                format!("permessage-deflate; server_max_window_bits={b}")
            }
            DeflateAnswer::ClientBits(b) => {
                format!("permessage-deflate; client_max_window_bits={b}")
            }
            DeflateAnswer::Raw(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    config: FuzzConfig,
    seed: u64,
    /// Bit i: offer PROTOCOLS[i].
    offer: u8,
    /// Offer an extra (non-deflate) extension.
    offer_extension: bool,
    prefix: Prefix,
    eof: bool,
    steps: Vec<Step>,
    /// The server's bytes (after the prefix, if any).
    data: Bytes,
}

fuzz_target!(|input: Input| {
    let mut request = ClientRequest::new("ws://h/p").expect("valid URL");
    let mut offered = Vec::new();
    for (i, p) in PROTOCOLS.iter().enumerate() {
        if input.offer & (1 << i) != 0 {
            request = request.subprotocol(*p);
            offered.push(*p);
        }
    }
    if input.offer_extension {
        request = request.extension(ExtensionOffer::new("x-test").with_param("a", Some("1")));
    }
    let config = input.config.to_config();
    let rng = Box::new(XorShift::new(input.seed));
    let conn = Connection::client_with_rng(request, config, ws_proto::Timestamp::ZERO, rng)
        .expect("request encodes");
    let mut h = Harness::new(conn, true);
    // Write the request, and read the key it carries.
    h.drain();
    let key = h.wire.key.clone().expect("the request was written");

    let mut bytes = Vec::new();
    if let Prefix::Valid101 {
        subprotocol,
        extensions,
        extra,
    } = &input.prefix
    {
        bytes.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
        bytes.extend_from_slice(b"Connection: Upgrade\r\nSec-WebSocket-Accept: ");
        bytes.extend_from_slice(accept_key(&key).as_bytes());
        bytes.extend_from_slice(b"\r\n");
        if let Some(i) = subprotocol
            && !offered.is_empty()
        {
            let p = offered[usize::from(*i) % offered.len()];
            bytes.extend_from_slice(format!("Sec-WebSocket-Protocol: {p}\r\n").as_bytes());
        }
        if let Some(e) = extensions {
            bytes.extend_from_slice(
                format!("Sec-WebSocket-Extensions: {}\r\n", e.header()).as_bytes(),
            );
        }
        if let Some(x) = extra {
            bytes.extend_from_slice(x.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(&input.data);
    h.run_plan(&input.steps, &bytes);
    if input.eof {
        h.eof();
    }
    h.finish();
});
