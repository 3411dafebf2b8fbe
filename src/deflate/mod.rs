//! permessage-deflate (RFC 7692): negotiation, and the per-message codec.
//!
//! Negotiation ([`offer`], [`accept`], [`check_response`]) is pure and always available:
//! it turns offers and responses (parsed by the handshake's extension grammar) into
//! [`DeflateParams`]. The codec, behind the `deflate` feature, then compresses outgoing messages (sync flush, the
//! trailing `00 00 ff ff` removed) and inflates incoming ones (the trailer put back), with
//! the context-takeover rule of each direction and the agreed window sizes.
//!
//! zlib cannot *compress* with an 8-bit window (raw deflate needs 9 or more). When the
//! peer limits our window to 8 bits, we accept and send every message uncompressed, which
//! RFC 7692 allows (RSV1 is per message). Inflating with a 9-bit window reads 8-bit
//! streams, so receiving needs no special case.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;

use crate::handshake::{ExtensionOffer, ExtensionParam};

#[cfg(feature = "deflate")]
mod codec;
#[cfg(feature = "deflate")]
pub(crate) use codec::{Deflater, InflateError, Inflater, Settings, compress_fresh};

/// The extension's name on the wire.
pub const NAME: &str = "permessage-deflate";

/// What the application wants from permessage-deflate. Part of
/// [`Config::deflate`](crate::Config::deflate).
///
/// Without the `deflate` feature there is no codec: `enabled` defaults to `false`, and a
/// connection neither offers nor accepts the extension whatever it says.
///
/// The `server_*` and `client_*` fields follow RFC 7692: they describe the server's and
/// the client's *compressor*. A server uses them as its limits when accepting; a client
/// puts them in its offer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DeflateConfig {
    /// Offer (client) or accept (server) permessage-deflate at all. Default: `true` with
    /// the `deflate` feature.
    pub enabled: bool,
    /// Largest LZ77 window of the server's compressor, 8–15 bits. Default: 15.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window of the client's compressor, 8–15 bits. Default: 15.
    pub client_max_window_bits: u8,
    /// The server resets its compressor after every message. Default: `false`.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message. Default: `false`.
    pub client_no_context_takeover: bool,
    /// Messages shorter than this are sent uncompressed. Default: 32 bytes.
    pub min_message_size: usize,
    /// zlib compression level, 0 (none) to 9 (best). Default: 1, the fastest (see
    /// `docs/deflate.md` for measured ratios and speeds per level).
    pub level: u32,
    /// zlib's memory level for our compressor, 1 to 9: the size of the buffer of symbols
    /// collected before a block is written, `7 << (mem_level + 6)` bytes (112 KiB at 8,
    /// 896 bytes at 1). Lower levels cost ratio on large messages only (more, smaller
    /// blocks); messages of a few KiB are unaffected. Default: 8 (zlib's default).
    pub mem_level: u8,
    /// What zlib state is kept between messages. Default: [`DeflateMemory::Retain`].
    pub memory: DeflateMemory,
}

/// What a connection keeps of zlib's state between messages. Part of [`DeflateConfig`];
/// `docs/deflate.md` has measured costs.
///
/// In both modes the state of a direction is allocated when its first compressed message
/// is sent or received. In a direction without context takeover
/// (`server_no_context_takeover` / `client_no_context_takeover` agreed) nothing of it is
/// needed for the next message: [`Retain`](Self::Retain) resets it and keeps the allocation
/// while traffic flows, and the connection drops it once idle for
/// [`Config::idle_shrink`](crate::Config::idle_shrink) (or on
/// [`shrink_buffers`](crate::Connection::shrink_buffers)); [`Release`](Self::Release)
/// drops it after every message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum DeflateMemory {
    /// Keep zlib's state (the compressor's hash tables, the inflater's window) from one
    /// message to the next: fastest. With context takeover a connection holds it as long as
    /// it lives (about 370 KiB for the compressor at 15-bit windows and memory level 8,
    /// 48 KiB for the inflater); without, until it has been idle.
    #[default]
    Retain,
    /// Drop zlib's state after every message and keep only the history the next message
    /// may refer to: the last window's worth of uncompressed bytes in each direction
    /// (at most `1 << window_bits` bytes). The next message's state is rebuilt with that
    /// history as a preset dictionary, so the bytes on the wire stay close to
    /// [`Retain`](Self::Retain)'s, at the price of an allocation and the hashing of the
    /// history per message. For servers with many mostly idle connections.
    Release,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: cfg!(feature = "deflate"),
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            min_message_size: 32,
            level: 1,
            mem_level: 8,
            memory: DeflateMemory::Retain,
        }
    }
}

// `with_*` setters, one per field: `DeflateConfig::default().with_level(6)`.
with_setters! { DeflateConfig;
    /// Sets [`enabled`](DeflateConfig::enabled).
    with_enabled => enabled: bool;
    /// Sets [`server_max_window_bits`](DeflateConfig::server_max_window_bits).
    with_server_max_window_bits => server_max_window_bits: u8;
    /// Sets [`client_max_window_bits`](DeflateConfig::client_max_window_bits).
    with_client_max_window_bits => client_max_window_bits: u8;
    /// Sets [`server_no_context_takeover`](DeflateConfig::server_no_context_takeover).
    with_server_no_context_takeover => server_no_context_takeover: bool;
    /// Sets [`client_no_context_takeover`](DeflateConfig::client_no_context_takeover).
    with_client_no_context_takeover => client_no_context_takeover: bool;
    /// Sets [`min_message_size`](DeflateConfig::min_message_size).
    with_min_message_size => min_message_size: usize;
    /// Sets [`level`](DeflateConfig::level).
    with_level => level: u32;
    /// Sets [`mem_level`](DeflateConfig::mem_level).
    with_mem_level => mem_level: u8;
    /// Sets [`memory`](DeflateConfig::memory).
    with_memory => memory: DeflateMemory;
}

/// The permessage-deflate parameters agreed in the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// Window bits of the server's compressor (8–15).
    pub server_max_window_bits: u8,
    /// Window bits of the client's compressor (8–15).
    pub client_max_window_bits: u8,
}

/// Why a server's permessage-deflate response was refused by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateError {
    /// More than one `permessage-deflate` element in the response.
    Repeated,
    /// A parameter RFC 7692 does not define.
    UnknownParameter,
    /// A parameter given twice.
    DuplicateParameter,
    /// A window size that is not 8–15, or a value on a flag parameter.
    InvalidValue,
    /// `client_max_window_bits` that the client did not offer, or a window larger than
    /// the client asked for.
    NotOffered,
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeflateError::Repeated => "permessage-deflate accepted twice",
            DeflateError::UnknownParameter => "unknown permessage-deflate parameter",
            DeflateError::DuplicateParameter => "duplicate permessage-deflate parameter",
            DeflateError::InvalidValue => "invalid permessage-deflate parameter value",
            DeflateError::NotOffered => "permessage-deflate parameter the client did not allow",
        })
    }
}

impl core::error::Error for DeflateError {}

/// The four parameters as they appear in one offer or response.
#[derive(Default)]
struct Raw {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

fn window_bits(value: Option<&str>) -> Result<u8, DeflateError> {
    // 1*DIGIT in 8..=15, no sign, no leading zero.
    match value {
        Some(v) if !v.starts_with('0') && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()) => {
            match v.parse::<u8>() {
                Ok(bits @ 8..=15) => Ok(bits),
                _ => Err(DeflateError::InvalidValue),
            }
        }
        _ => Err(DeflateError::InvalidValue),
    }
}

/// Reads the parameters of one element; `offer` allows `client_max_window_bits` without a
/// value.
fn parse(element: &ExtensionOffer, offer: bool) -> Result<Raw, DeflateError> {
    let mut raw = Raw::default();
    for param in &element.params {
        let value = param.value.as_deref();
        let flag = |seen: &mut bool| {
            if *seen {
                Err(DeflateError::DuplicateParameter)
            } else if value.is_some() {
                Err(DeflateError::InvalidValue)
            } else {
                *seen = true;
                Ok(())
            }
        };
        match param.name.as_str() {
            "server_no_context_takeover" => flag(&mut raw.server_no_context_takeover)?,
            "client_no_context_takeover" => flag(&mut raw.client_no_context_takeover)?,
            "server_max_window_bits" => {
                if raw.server_max_window_bits.is_some() {
                    return Err(DeflateError::DuplicateParameter);
                }
                raw.server_max_window_bits = Some(window_bits(value)?);
            }
            "client_max_window_bits" => {
                if raw.client_max_window_bits.is_some() {
                    return Err(DeflateError::DuplicateParameter);
                }
                raw.client_max_window_bits = Some(match value {
                    None if offer => None,
                    v => Some(window_bits(v)?),
                });
            }
            _ => return Err(DeflateError::UnknownParameter),
        }
    }
    Ok(raw)
}

fn param(name: &str, value: Option<u8>) -> ExtensionParam {
    ExtensionParam {
        name: name.to_string(),
        value: value.map(|v| v.to_string()),
    }
}

/// Client: the `permessage-deflate` offer for `config`, to put in the request's
/// `Sec-WebSocket-Extensions` ([`ClientRequest`](crate::ClientRequest)s built by
/// [`Connection::client`](crate::Connection::client) get it automatically).
pub fn offer(config: &DeflateConfig) -> ExtensionOffer {
    let mut params = Vec::new();
    if config.server_no_context_takeover {
        params.push(param("server_no_context_takeover", None));
    }
    if config.client_no_context_takeover {
        params.push(param("client_no_context_takeover", None));
    }
    if config.server_max_window_bits < 15 {
        params.push(param(
            "server_max_window_bits",
            Some(config.server_max_window_bits.max(8)),
        ));
    }
    // Always say that we support client_max_window_bits; give a value only to limit it.
    let client_bits = config.client_max_window_bits.max(8);
    params.push(param(
        "client_max_window_bits",
        (client_bits < 15).then_some(client_bits),
    ));
    ExtensionOffer {
        name: NAME.to_string(),
        params,
    }
}

/// Server: picks the first acceptable offer among the client's extensions; declines
/// offers with unknown, duplicate or invalid parameters. Returns the agreed parameters
/// and the response element (for the 101's `Sec-WebSocket-Extensions`); `None` declines.
pub fn accept(
    config: &DeflateConfig,
    offers: &[ExtensionOffer],
) -> Option<(DeflateParams, ExtensionOffer)> {
    let raw = offers
        .iter()
        .filter(|o| o.name == NAME)
        .find_map(|o| parse(o, true).ok())?;
    let server_bits = config
        .server_max_window_bits
        .clamp(8, 15)
        .min(raw.server_max_window_bits.unwrap_or(15));
    let (client_bits, client_param) = match raw.client_max_window_bits {
        // Not offered: the client may use any window; we may not limit it.
        None => (15, None),
        Some(offered) => {
            let bits = config
                .client_max_window_bits
                .clamp(8, 15)
                .min(offered.unwrap_or(15));
            (bits, (bits < 15 || offered.is_some()).then_some(bits))
        }
    };
    let agreed = DeflateParams {
        server_no_context_takeover: raw.server_no_context_takeover
            || config.server_no_context_takeover,
        client_no_context_takeover: config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    let mut params = Vec::new();
    if agreed.server_no_context_takeover {
        params.push(param("server_no_context_takeover", None));
    }
    if agreed.client_no_context_takeover {
        params.push(param("client_no_context_takeover", None));
    }
    if raw.server_max_window_bits.is_some() {
        params.push(param("server_max_window_bits", Some(server_bits)));
    }
    if let Some(bits) = client_param {
        params.push(param("client_max_window_bits", Some(bits)));
    }
    let response = ExtensionOffer {
        name: NAME.to_string(),
        params,
    };
    Some((agreed, response))
}

/// Client: checks the server's response elements against what `config` offered.
/// `Ok(None)`: the server declined permessage-deflate.
pub fn check_response(
    config: &DeflateConfig,
    accepted: &[ExtensionOffer],
) -> Result<Option<DeflateParams>, DeflateError> {
    let mut elements = accepted.iter().filter(|e| e.name == NAME);
    let Some(element) = elements.next() else {
        return Ok(None);
    };
    if elements.next().is_some() {
        return Err(DeflateError::Repeated);
    }
    let raw = parse(element, false)?;
    let asked_server = config.server_max_window_bits.clamp(8, 15);
    let server_bits = raw.server_max_window_bits.unwrap_or(asked_server);
    if server_bits > asked_server {
        return Err(DeflateError::NotOffered);
    }
    let asked_client = config.client_max_window_bits.clamp(8, 15);
    let client_bits = match raw.client_max_window_bits {
        Some(Some(bits)) if bits > asked_client => return Err(DeflateError::NotOffered),
        Some(Some(bits)) => bits,
        _ => asked_client,
    };
    Ok(Some(DeflateParams {
        server_no_context_takeover: raw.server_no_context_takeover
            || config.server_no_context_takeover,
        client_no_context_takeover: raw.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }))
}

#[cfg(all(test, feature = "deflate"))]
mod tests {
    use super::*;
    use crate::handshake::parse_extensions;
    use alloc::string::String;

    fn offers(header: &str) -> Vec<ExtensionOffer> {
        parse_extensions(header).unwrap()
    }

    fn accepted(config: &DeflateConfig, header: &str) -> Option<(DeflateParams, String)> {
        accept(config, &offers(header)).map(|(p, r)| (p, crate::handshake::format_extensions(&[r])))
    }

    #[test]
    fn rfc_7692_examples_compress_and_inflate() {
        // §7.2.3.1: "Hello" compressed is f2 48 cd c9 c9 07 00 (zlib's default level).
        let config = DeflateConfig {
            level: 6,
            ..DeflateConfig::default()
        };
        let mut d = Deflater::new(15, false, &config);
        assert_eq!(
            d.compress(b"Hello", true),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        // §7.2.3.2: the same message again, with context takeover, is shorter.
        assert_eq!(d.compress(b"Hello", true), [0xf2, 0x00, 0x11, 0x00, 0x00]);
        // §7.2.3.6: an empty message is a single 00 byte.
        let mut fresh = Deflater::new(15, false, &config);
        assert_eq!(fresh.compress(b"", true), [0x00]);
        // Also right after another message, when zlib has nothing to flush.
        assert_eq!(fresh.compress(b"", true), [0x00]);
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        for _ in 0..3 {
            i.inflate(&[0x00], true, &mut out, 10).unwrap();
        }
        assert!(out.is_empty());

        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        i.inflate(
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
        out.clear();
        i.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], true, &mut out, 100)
            .unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.3: a stored (uncompressed) block.
        let mut i = Inflater::new(15, false);
        out.clear();
        i.inflate(
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, b'H', b'e', b'l', b'l', b'o', 0x00,
            ],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn no_context_takeover_resets_the_compressor() {
        let config = DeflateConfig::default();
        let mut d = Deflater::new(15, true, &config);
        let first = d.compress(b"Hello", true).to_vec();
        assert_eq!(d.compress(b"Hello", true), &first[..]);
        // An inflater without the reset still reads both (each is self-contained).
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        i.inflate(&first, true, &mut out, 10).unwrap();
        i.inflate(&first, true, &mut out, 10).unwrap();
        assert_eq!(out, b"HelloHello");
    }

    /// Chat-like messages that repeat words across messages.
    fn chat(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                alloc::format!(
                    r#"{{"id":{i},"user":"user{}","text":"hello world, the quick brown fox {}"}}"#,
                    i % 7,
                    i * 31 % 101
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn state_is_allocated_on_first_use_and_released_without_takeover() {
        let config = DeflateConfig::default();
        let mut d = Deflater::new(15, true, &config);
        let mut i = Inflater::new(15, true);
        assert_eq!((d.heap_estimate(), i.heap_estimate()), (0, 0));
        let mut out = Vec::new();
        for m in chat(3) {
            let c = d.compress(&m, true).to_vec();
            // `Retain`: the state stays between messages (reset, no history kept)...
            assert!(d.heap_estimate() > 300 << 10, "{}", d.heap_estimate());
            out.clear();
            i.inflate(&c, true, &mut out, 1 << 20).unwrap();
            assert_eq!(out, m);
            assert_eq!(i.heap_estimate(), 48 << 10);
            // ...until the connection shrinks (idle): it holds no context, so it goes,
            // and the next message allocates it again.
            d.shrink();
            i.shrink();
            assert!(d.heap_estimate() < 1024, "{}", d.heap_estimate());
            assert_eq!(i.heap_estimate(), 0);
        }
        // `Release`: dropped after every message.
        let release = config.clone().with_memory(DeflateMemory::Release);
        let mut d = Deflater::new(15, true, &release);
        let mut i = Inflater::new(15, true).with_memory(DeflateMemory::Release);
        for m in chat(3) {
            let c = d.compress(&m, true).to_vec();
            assert!(d.heap_estimate() < 1024, "{}", d.heap_estimate());
            out.clear();
            i.inflate(&c, true, &mut out, 1 << 20).unwrap();
            assert_eq!(out, m);
            assert_eq!(i.heap_estimate(), 0);
        }
        // With takeover and `Retain`, the state stays once allocated.
        let mut d = Deflater::new(15, false, &config);
        let mut i = Inflater::new(15, false);
        let c = d.compress(&chat(1)[0], true).to_vec();
        i.inflate(&c, true, &mut out, 1 << 20).unwrap();
        assert!(d.heap_estimate() > 300 << 10);
        assert_eq!(i.heap_estimate(), 48 << 10);
    }

    #[test]
    fn released_state_keeps_the_context_as_a_dictionary() {
        let release = DeflateConfig::default().with_memory(DeflateMemory::Release);
        let retain = DeflateConfig::default();
        let (mut released, mut kept) = (
            Deflater::new(12, false, &release),
            Deflater::new(12, false, &retain),
        );
        // Each side's inflater in the other mode, so both combinations are read.
        let mut i_released = Inflater::new(12, false).with_memory(DeflateMemory::Release);
        let mut i_kept = Inflater::new(12, false);
        let (mut wire_released, mut wire_kept, mut fresh) = (0, 0, 0);
        let mut out = Vec::new();
        for m in chat(200) {
            let a = released.compress(&m, true).to_vec();
            let b = kept.compress(&m, true).to_vec();
            fresh +=
                compress_fresh(Deflater::new(12, true, &retain).shareable().unwrap(), &m).len();
            wire_released += a.len();
            wire_kept += b.len();
            // Between messages: no zlib state, at most a window of history.
            assert!(
                released.heap_estimate() < 8 << 10,
                "{}",
                released.heap_estimate()
            );
            out.clear();
            i_kept.inflate(&a, true, &mut out, 1 << 20).unwrap();
            assert_eq!(out, m);
            out.clear();
            i_released.inflate(&b, true, &mut out, 1 << 20).unwrap();
            assert_eq!(out, m);
            assert!(i_released.heap_estimate() <= 4 << 10);
        }
        // The dictionary gives back (nearly) all of context takeover's gain.
        assert!(
            wire_released * 100 <= wire_kept * 105 && wire_released * 2 < fresh,
            "released {wire_released}, retained {wire_kept}, no takeover {fresh}"
        );
    }

    #[test]
    fn history_keeps_the_last_window() {
        let mut h = Vec::new();
        for chunk in [&b"abc"[..], b"defgh", b"ij"] {
            codec::remember(&mut h, chunk, 6);
            assert!(h.capacity() <= 6);
        }
        assert_eq!(h, b"efghij");
        codec::remember(&mut h, b"0123456789", 6);
        assert_eq!(h, b"456789");
    }

    #[test]
    fn an_8_bit_window_sends_uncompressed() {
        let d = Deflater::new(8, false, &DeflateConfig::default());
        assert!(!d.wants(1000));
        let d = Deflater::new(9, false, &DeflateConfig::default());
        assert!(d.wants(1000));
        assert!(!d.wants(31), "below min_message_size");
    }

    #[test]
    fn inflation_is_bounded_by_the_allowance() {
        let config = DeflateConfig {
            level: 9,
            ..DeflateConfig::default()
        };
        let mut d = Deflater::new(15, false, &config);
        let bomb = d.compress(&alloc::vec![0u8; 1 << 20], true).to_vec();
        assert!(bomb.len() < 2048, "{}", bomb.len());
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        assert_eq!(
            i.inflate(&bomb, true, &mut out, 64 << 10),
            Err(InflateError::TooLarge)
        );
        assert_eq!(out.len(), (64 << 10) + 1);
        let mut i = Inflater::new(15, false);
        out.clear();
        i.inflate(&bomb, true, &mut out, 1 << 20).unwrap();
        assert_eq!(out.len(), 1 << 20);
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        // BTYPE 11 is reserved.
        assert_eq!(
            i.inflate(&[0xff, 0xff, 0xff], true, &mut out, 100),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn server_negotiation_table() {
        let c = DeflateConfig::default();
        let p = |s, c, sb, cb| DeflateParams {
            server_no_context_takeover: s,
            client_no_context_takeover: c,
            server_max_window_bits: sb,
            client_max_window_bits: cb,
        };
        // What browsers send.
        assert_eq!(
            accepted(&c, "permessage-deflate; client_max_window_bits"),
            Some((p(false, false, 15, 15), "permessage-deflate".into()))
        );
        assert_eq!(
            accepted(&c, "permessage-deflate"),
            Some((p(false, false, 15, 15), "permessage-deflate".into()))
        );
        assert_eq!(
            accepted(
                &c,
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
            ),
            Some((
                p(true, false, 10, 15),
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10".into()
            ))
        );
        assert_eq!(
            accepted(
                &c,
                "permessage-deflate; client_no_context_takeover; client_max_window_bits=9"
            ),
            Some((
                p(false, false, 15, 9),
                "permessage-deflate; client_max_window_bits=9".into()
            ))
        );
        // The server's own limits.
        let strict = DeflateConfig {
            server_max_window_bits: 11,
            client_max_window_bits: 10,
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        assert_eq!(
            accepted(&strict, "permessage-deflate; client_max_window_bits"),
            Some((
                p(true, true, 11, 10),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10"
                    .into()
            ))
        );
        // client_max_window_bits not offered: the server may not limit it.
        assert_eq!(
            accepted(&strict, "permessage-deflate")
                .unwrap()
                .0
                .client_max_window_bits,
            15
        );
        // 8 bits accepted (we then send uncompressed).
        assert_eq!(
            accepted(&c, "permessage-deflate; server_max_window_bits=8")
                .unwrap()
                .0
                .server_max_window_bits,
            8
        );
    }

    #[test]
    fn server_declines_bad_offers_and_takes_the_first_good_one() {
        let c = DeflateConfig::default();
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=0x9",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_max_window_bits; client_max_window_bits",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(accepted(&c, bad), None, "{bad}");
        }
        let (params, _) = accepted(
            &c,
            "permessage-deflate; foo, permessage-deflate; server_max_window_bits=12, permessage-deflate",
        )
        .unwrap();
        assert_eq!(params.server_max_window_bits, 12);
    }

    #[test]
    fn client_offer_and_response_checks() {
        let mut c = DeflateConfig::default();
        assert_eq!(
            crate::handshake::format_extensions(&[offer(&c)]),
            "permessage-deflate; client_max_window_bits"
        );
        c.server_max_window_bits = 10;
        c.client_max_window_bits = 12;
        c.server_no_context_takeover = true;
        assert_eq!(
            crate::handshake::format_extensions(&[offer(&c)]),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
        );
        let check = |h: &str| check_response(&c, &offers(h));
        assert_eq!(
            check("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
            Ok(Some(DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: 9,
                client_max_window_bits: 12,
            }))
        );
        assert_eq!(check("x-other"), Ok(None));
        assert_eq!(
            check("permessage-deflate; server_max_window_bits=11"),
            Err(DeflateError::NotOffered)
        );
        assert_eq!(
            check("permessage-deflate; client_max_window_bits=13"),
            Err(DeflateError::NotOffered)
        );
        assert_eq!(
            check("permessage-deflate; client_max_window_bits"),
            Err(DeflateError::InvalidValue)
        );
        assert_eq!(
            check("permessage-deflate; bogus"),
            Err(DeflateError::UnknownParameter)
        );
        assert_eq!(
            check("permessage-deflate; client_no_context_takeover; client_no_context_takeover"),
            Err(DeflateError::DuplicateParameter)
        );
        assert_eq!(
            check("permessage-deflate, permessage-deflate"),
            Err(DeflateError::Repeated)
        );
        assert!(
            check("permessage-deflate; client_no_context_takeover")
                .unwrap()
                .unwrap()
                .client_no_context_takeover
        );
    }
}
