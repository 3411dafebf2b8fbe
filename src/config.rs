//! Limits, deadlines and behaviour switches, with documented defaults.

use core::time::Duration;

/// How text and binary messages are handed to the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Delivery {
    /// Deliver each message whole, once its last byte has arrived
    /// ([`Event::Text`](crate::Event::Text), [`Event::Binary`](crate::Event::Binary)). Memory
    /// per message is bounded by [`Config::max_message_size`].
    #[default]
    Whole,
    /// Deliver messages in pieces as their bytes arrive
    /// ([`Event::TextPiece`](crate::Event::TextPiece),
    /// [`Event::BinaryPiece`](crate::Event::BinaryPiece)), so that arbitrarily large
    /// messages pass through in constant memory. Text pieces always end on a code-point
    /// boundary.
    Streaming,
}

/// Connection settings: [`Config::default`], then change what you need, with the
/// chainable `with_*` methods or by assigning fields (which are public to read):
///
/// ```
/// use std::time::Duration;
/// use ws_proto::Config;
///
/// let config = Config::default()
///     .with_max_message_size(1 << 20)
///     .with_keepalive_interval(Some(Duration::from_secs(30)));
///
/// let mut same = Config::default();
/// same.max_message_size = 1 << 20;
/// same.keepalive_interval = Some(Duration::from_secs(30));
/// assert_eq!(config, same);
/// ```
///
/// The struct is `#[non_exhaustive]`: new settings can be added without breaking code
/// that builds a `Config` this way.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Config {
    /// Largest accepted frame payload, in bytes. A frame header declaring more fails the
    /// connection with 1009 before any of its payload is buffered. Default: 16 MiB.
    pub max_frame_size: u64,
    /// Largest accepted message (the sum of its fragments), in bytes, checked against each
    /// frame header before its payload is buffered; 1009 beyond it. Applies in streaming
    /// delivery too: raise it there to pass very large messages. Default: 16 MiB.
    pub max_message_size: u64,
    /// Most frames one fragmented message may have; 1009 beyond it. Guards against floods of
    /// empty continuation frames. Default: 131 072 (enough for 4 MiB in 32-byte fragments).
    pub max_fragments: u32,
    /// Most bytes the outbound queue may hold. A send that would go past it returns
    /// [`SendError::Backpressure`](crate::SendError::Backpressure) and queues nothing.
    /// Frames the connection sends by itself are exempt, and bounded: at most two
    /// 16 automatic Pongs waiting unwritten plus one held back (the newest Ping's), one
    /// Close and one keepalive Ping.
    /// Default: 64 MiB.
    pub max_outbound_buffer: usize,
    /// Answer every Ping with a Pong automatically (Pings are still reported as events).
    /// Default: `true`.
    pub auto_pong: bool,
    /// Whole or streaming delivery of text and binary messages. Default: whole.
    pub delivery: Delivery,
    /// Split outgoing messages into frames of at most this many payload bytes. `None` sends
    /// each message as one frame. Default: `None`.
    pub fragment_size: Option<usize>,
    /// Largest opening-handshake head (request or response line plus headers), in bytes;
    /// a server answers 431 beyond it. Also bounds the body of a refusal a client reads.
    /// Default: 16 KiB.
    pub max_head_size: usize,
    /// Most header lines in a handshake head; a server answers 431 beyond it. Default: 64.
    pub max_headers: usize,
    /// Time allowed for the opening handshake, from the first clock reading
    /// ([`Connection::handle_timeout`](crate::Connection::handle_timeout)) until the
    /// connection is open; then it fails with
    /// [`HandshakeError::Timeout`](crate::HandshakeError::Timeout). `None`: no limit.
    /// Default: 10 s.
    pub handshake_timeout: Option<Duration>,
    /// Time allowed, after our Close frame (or a failure), for the closing handshake to
    /// finish: the peer's Close, the output drained, and for a client the server's end of
    /// stream. Then the transport should be closed anyway
    /// ([`Connection::should_close_transport`](crate::Connection::should_close_transport)),
    /// and [`Event::Closed`](crate::Event::Closed) with 1006 is reported if the peer's Close
    /// never came. `None`: wait forever. Default: 10 s.
    pub close_timeout: Option<Duration>,
    /// Send a Ping when nothing was received for this long. `None`: no keepalive.
    /// Default: `None`.
    pub keepalive_interval: Option<Duration>,
    /// With keepalive on: time the peer has to send anything (normally the Pong) after our
    /// keepalive Ping; then the connection fails with
    /// [`CloseCause::KeepaliveTimeout`](crate::CloseCause::KeepaliveTimeout)
    /// (Close 1011). Default: 20 s.
    pub keepalive_timeout: Duration,
    /// permessage-deflate (RFC 7692): whether to offer/accept it and with which limits.
    /// Default: enabled (with the `deflate` feature; without it, never used), 15-bit windows, context takeover, messages under 32 bytes sent
    /// uncompressed.
    pub deflate: crate::deflate::DeflateConfig,
    /// How many bytes [`Connection::read_buf`](crate::Connection::read_buf) offers at least
    /// per call (except while a large frame is read straight into its message buffer; see
    /// there). Default: 16 KiB.
    pub read_chunk: usize,
    /// After this long without input or written output, give back the memory the buffers
    /// hold beyond their contents, as
    /// [`Connection::shrink_buffers`](crate::Connection::shrink_buffers) does (needs
    /// [`Connection::handle_timeout`](crate::Connection::handle_timeout) calls). Buffers keep
    /// their size while traffic flows, so steady traffic allocates nothing; an idle
    /// connection drops to a few hundred bytes. `None`: only on request. Default: 10 s.
    pub idle_shrink: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: 1 << 17,
            max_outbound_buffer: 64 << 20,
            auto_pong: true,
            delivery: Delivery::Whole,
            fragment_size: None,
            handshake_timeout: Some(Duration::from_secs(10)),
            close_timeout: Some(Duration::from_secs(10)),
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            max_head_size: 16 << 10,
            max_headers: 64,
            deflate: crate::deflate::DeflateConfig::default(),
            read_chunk: 16 << 10,
            idle_shrink: Some(Duration::from_secs(10)),
        }
    }
}

// `with_*` setters, one per field: `Config::default().with_auto_pong(false)`.
with_setters! { Config;
    /// Sets [`max_frame_size`](Config::max_frame_size).
    with_max_frame_size => max_frame_size: u64;
    /// Sets [`max_message_size`](Config::max_message_size).
    with_max_message_size => max_message_size: u64;
    /// Sets [`max_fragments`](Config::max_fragments).
    with_max_fragments => max_fragments: u32;
    /// Sets [`max_outbound_buffer`](Config::max_outbound_buffer).
    with_max_outbound_buffer => max_outbound_buffer: usize;
    /// Sets [`auto_pong`](Config::auto_pong).
    with_auto_pong => auto_pong: bool;
    /// Sets [`delivery`](Config::delivery).
    with_delivery => delivery: Delivery;
    /// Sets [`fragment_size`](Config::fragment_size).
    with_fragment_size => fragment_size: Option<usize>;
    /// Sets [`max_head_size`](Config::max_head_size).
    with_max_head_size => max_head_size: usize;
    /// Sets [`max_headers`](Config::max_headers).
    with_max_headers => max_headers: usize;
    /// Sets [`handshake_timeout`](Config::handshake_timeout).
    with_handshake_timeout => handshake_timeout: Option<Duration>;
    /// Sets [`close_timeout`](Config::close_timeout).
    with_close_timeout => close_timeout: Option<Duration>;
    /// Sets [`keepalive_interval`](Config::keepalive_interval).
    with_keepalive_interval => keepalive_interval: Option<Duration>;
    /// Sets [`keepalive_timeout`](Config::keepalive_timeout).
    with_keepalive_timeout => keepalive_timeout: Duration;
    /// Sets [`deflate`](Config::deflate).
    with_deflate => deflate: crate::deflate::DeflateConfig;
    /// Sets [`read_chunk`](Config::read_chunk).
    with_read_chunk => read_chunk: usize;
    /// Sets [`idle_shrink`](Config::idle_shrink).
    with_idle_shrink => idle_shrink: Option<Duration>;
}
