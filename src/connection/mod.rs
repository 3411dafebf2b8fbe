//! The [`Connection`] state machine: ties the receive path, the send path and the closing
//! handshake together. The opening phase is in `opening.rs`, the send path's checks and
//! encoding in `send.rs`.

mod opening;
mod prepared;
mod send;

pub use prepared::PreparedMessage;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::close::{CloseBodyError, CloseCode, MAX_REASON_LEN, parse_close_body};
use crate::config::Config;
#[cfg(feature = "deflate")]
use crate::deflate::{self, Deflater};
use crate::error::{HandshakeError, ProtocolError, SendError};
use crate::event::{CloseCause, Closed, Event};
use crate::frame::{MAX_CONTROL_PAYLOAD, OpCode};
use crate::handshake::{
    ClientRequest, EncodeError, HeadLimits, HeadParser, Negotiated, Request, Response,
    generate_key, reject_response,
};
use crate::message::{Incoming, Kind, Receiver, Rules};
use crate::outbound::{Outbound, frame_len};
use crate::rng::Rng;
use crate::time::Timestamp;
use crate::timer::{Timer, Timers};

/// Heap an idle connection may keep without being woken to give it back.
const IDLE_HEAP: usize = 1024;

/// Automatic Pongs that may wait in the output queue, unwritten. Each Ping is answered
/// with its own Pong, in order, until this many are waiting; beyond that only the newest
/// Ping is answered (RFC 6455 §5.5.3 allows answering just the latest), once the queue
/// has room again, so a Ping flood from a peer that does not read stays bounded.
pub(crate) const MAX_QUEUED_PONGS: usize = 16;

fn head_limits(config: &Config) -> HeadLimits {
    HeadLimits {
        max_head_size: config.max_head_size,
        max_headers: config.max_headers,
    }
}

/// RSV1, as a bit of the frame header's 3-bit RSV nibble (permessage-deflate).
#[cfg(feature = "deflate")]
const RSV1: u8 = 0b100;

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Role {
    /// Accepts connections: expects masked frames, sends unmasked ones, closes the
    /// transport first.
    Server,
    /// Opens connections: masks every frame it sends, expects unmasked ones.
    Client,
}

/// Where the connection is in its life, like a browser's `WebSocket.readyState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The opening handshake is in progress.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a Close frame and wait for the peer's.
    Closing,
    /// Close frames were exchanged, the connection failed, or the transport ended. See
    /// [`Connection::should_close_transport`].
    Closed,
}

/// A WebSocket connection: a state machine with no IO, no clock and no threads.
///
/// # Driving it
///
/// Create it with [`server`](Self::server) or [`client`](Self::client) on a fresh
/// transport (the opening handshake runs first), or [`upgraded`](Self::upgraded) when
/// another stack did the HTTP upgrade.
///
/// Methods fall into four classes (as in quinn-proto): *inputs* named `handle_*`,
/// *commands* (`send_*`, [`close`](Self::close), [`accept`](Self::accept),
/// [`respond`](Self::respond)), *outputs* named `poll_*`, and getters. A driver loops:
///
/// 1. Read from the transport into [`read_buf`](Self::read_buf) and
///    [`commit`](ReadBuf::commit) the count (no extra copy), or pass a slice to
///    [`handle_bytes`](Self::handle_bytes). On end of stream call
///    [`handle_eof`](Self::handle_eof).
/// 2. Call [`poll_event`](Self::poll_event) until it returns `None`, reacting to each
///    event (sending replies is fine while holding one). A server answers
///    [`Event::Request`] with [`accept`](Self::accept) or [`respond`](Self::respond).
///    The last event is always [`Event::Closed`]; after it,
///    [`is_finished`](Self::is_finished) is true and `poll_event` returns `None` for good.
/// 3. Write [`poll_transmit`](Self::poll_transmit) to the transport and
///    [`advance`](Transmit::advance) it by what was written, until it is empty.
/// 4. Sleep until [`poll_timeout`](Self::poll_timeout) at the latest, and pass the time
///    in with [`handle_timeout`](Self::handle_timeout) on every wake-up.
/// 5. Once [`should_close_transport`](Self::should_close_transport) is true, close the
///    transport and drop the connection.
///
/// The read and write steps hand out borrowed guards ([`ReadBuf`], [`Transmit`]): no
/// other call can come between offering a buffer and reporting how much of it was used,
/// so no byte can be lost or sent twice by calling things in the wrong order.
///
/// # Errors
///
/// Misuse by the application (sending after Close, an invalid close code, exceeding the
/// outbound limit) returns a [`SendError`] and changes nothing. A protocol violation by
/// the peer fails the connection once: the matching Close frame is queued,
/// [`Event::Closed`] reports it ([`CloseCause::ProtocolError`]), and further input is
/// ignored.
pub struct Connection {
    role: Role,
    config: Config,
    /// Present for clients (masking keys, handshake key); servers need no randomness.
    rng: Option<Box<dyn Rng>>,
    phase: Phase,
    /// What the opening handshake agreed on.
    negotiated: Negotiated,
    rx: Receiver,
    tx: Outbound,
    close_sent: bool,
    close_received: bool,
    failed: bool,
    /// The transport reported end of stream.
    eof: bool,
    /// No more events will be produced (Close or Error reported).
    finished: bool,
    /// Automatic Pongs queued and not yet written.
    pongs: PongQueue,
    /// The newest Ping payload still to be answered, held back while
    /// [`MAX_QUEUED_PONGS`] Pongs wait unwritten.
    pong: Option<([u8; MAX_CONTROL_PAYLOAD], u8)>,
    /// Kind of the streamed outgoing message in progress.
    sending: Option<Kind>,
    /// The streamed outgoing message in progress is compressed.
    sending_compressed: bool,
    /// Our compressor, once permessage-deflate was negotiated.
    #[cfg(feature = "deflate")]
    deflater: Option<Deflater>,
    timers: Timers,
    /// A keepalive Ping was sent and nothing has been received since.
    keepalive_ping_out: bool,
    /// Output position just after the last keepalive Ping queued.
    keepalive_ping_end: u64,
    /// The close timer expired: close the transport whatever is left.
    timed_out: bool,
    /// An event raised outside `poll_event` (a timer, a bound on input), reported by the
    /// next `poll_event`.
    deferred_event: Option<Event<'static>>,
}

/// The opening handshake's progress.
enum Phase {
    /// Reading the client's request; then waiting for the application to answer it.
    ServerHandshake {
        parser: HeadParser,
        request: Option<Box<Request>>,
    },
    /// Our request is queued; reading the server's response.
    ClientHandshake {
        parser: HeadParser,
        request: Box<ClientRequest>,
        key: String,
    },
    /// The server refused (non-101): reading at most `remaining` bytes of its body.
    ClientRejected {
        response: Box<Response>,
        remaining: usize,
    },
    /// The handshake is done: frames flow.
    Open,
    /// The handshake failed or was refused; nothing more will be decoded.
    Refused,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered_in", &self.rx.buffered())
            .field("buffered_out", &self.tx.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A server connection on a freshly accepted transport: it reads the client's HTTP
    /// upgrade request, reports it as [`Event::Request`], and waits for
    /// [`accept`](Self::accept) or [`respond`](Self::respond). Needs no random source.
    ///
    /// `now` starts the clock: the handshake must finish within
    /// [`Config::handshake_timeout`] of it.
    pub fn server(config: Config, now: impl Into<Timestamp>) -> Self {
        let parser = HeadParser::new(head_limits(&config));
        Self::build(
            Role::Server,
            config,
            now.into(),
            None,
            Phase::ServerHandshake {
                parser,
                request: None,
            },
        )
    }

    /// A client connection on a freshly connected transport: the HTTP upgrade request for
    /// `request` is queued at once (write [`poll_transmit`](Self::poll_transmit)), and
    /// the server's answer is reported as [`Event::Connected`] or [`Event::Rejected`].
    /// The handshake key and masking keys come from the operating system's CSPRNG.
    ///
    /// `now` starts the clock, as for [`server`](Self::server). Fails if the request cannot
    /// be encoded (an invalid header, origin, subprotocol...).
    #[cfg(feature = "std")]
    pub fn client(
        request: ClientRequest,
        config: Config,
        now: impl Into<Timestamp>,
    ) -> Result<Self, EncodeError> {
        Self::client_with_rng(request, config, now, Box::new(crate::rng::OsRng::new()))
    }

    /// Like [`client`](Self::client), with the random source given explicitly (required
    /// without the `std` feature; deterministic in tests).
    pub fn client_with_rng(
        request: ClientRequest,
        config: Config,
        now: impl Into<Timestamp>,
        mut rng: Box<dyn Rng>,
    ) -> Result<Self, EncodeError> {
        #[cfg(feature = "deflate")]
        let request = if config.deflate.enabled
            && !request.extensions().iter().any(|e| e.name == deflate::NAME)
        {
            request.extension(deflate::offer(&config.deflate))
        } else {
            request
        };
        let mut nonce = [0u8; 16];
        rng.fill(&mut nonce);
        let key = generate_key(nonce);
        let head = request.encode(&key)?;
        let parser = HeadParser::new(head_limits(&config));
        let mut conn = Self::build(
            Role::Client,
            config,
            now.into(),
            Some(rng),
            Phase::ClientHandshake {
                parser,
                request: Box::new(request),
                key,
            },
        );
        conn.tx.push_raw(&head);
        Ok(conn)
    }

    /// A connection whose opening handshake was already done by another stack (hyper,
    /// axum, actix...): it starts [`State::Open`] with what that handshake `negotiated`
    /// (the subprotocol; permessage-deflate's parameters, which turn compression on).
    /// [`handshake`](crate::handshake) has the functions that validate a request given as
    /// parts and build the answer, and produce the [`Negotiated`] to pass here. Client
    /// masking keys come from the operating system's CSPRNG. `now` starts the clock.
    #[cfg(feature = "std")]
    pub fn upgraded(
        role: Role,
        negotiated: Negotiated,
        config: Config,
        now: impl Into<Timestamp>,
    ) -> Self {
        // Servers never mask, so they need no random source (and hold no OS RNG buffer).
        let rng: Option<Box<dyn Rng>> = match role {
            Role::Client => Some(Box::new(crate::rng::OsRng::new())),
            Role::Server => None,
        };
        let mut conn = Self::build(role, config, now.into(), rng, Phase::Open);
        conn.on_open(negotiated);
        conn
    }

    /// Like [`upgraded`](Self::upgraded), with the random source for masking keys given
    /// explicitly (required without the `std` feature; deterministic in tests).
    pub fn upgraded_with_rng(
        role: Role,
        negotiated: Negotiated,
        config: Config,
        now: impl Into<Timestamp>,
        rng: Box<dyn Rng>,
    ) -> Self {
        let mut conn = Self::build(role, config, now.into(), Some(rng), Phase::Open);
        conn.on_open(negotiated);
        conn
    }

    fn build(
        role: Role,
        config: Config,
        now: Timestamp,
        rng: Option<Box<dyn Rng>>,
        phase: Phase,
    ) -> Self {
        let mut conn = Connection {
            role,
            config,
            rng,
            phase,
            negotiated: Negotiated::new(),
            rx: Receiver::default(),
            tx: Outbound::default(),
            close_sent: false,
            close_received: false,
            failed: false,
            eof: false,
            finished: false,
            pongs: PongQueue::default(),
            pong: None,
            sending: None,
            sending_compressed: false,
            #[cfg(feature = "deflate")]
            deflater: None,
            timers: Timers::new(now),
            keepalive_ping_out: false,
            keepalive_ping_end: 0,
            timed_out: false,
            deferred_event: None,
        };
        if !matches!(conn.phase, Phase::Open) {
            conn.timers
                .set(Timer::Handshake, conn.config.handshake_timeout);
        }
        conn
    }

    // ---- getters ----

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        let handshaking = matches!(
            self.phase,
            Phase::ServerHandshake { .. }
                | Phase::ClientHandshake { .. }
                | Phase::ClientRejected { .. }
        );
        if handshaking {
            State::Connecting
        } else if self.failed
            || self.eof
            || self.finished
            || matches!(self.phase, Phase::Refused)
            || (self.close_sent && self.close_received)
        {
            State::Closed
        } else if self.close_sent {
            State::Closing
        } else {
            State::Open
        }
    }

    /// What the opening handshake agreed on (the subprotocol, permessage-deflate's
    /// parameters); nothing until the connection is open.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Bytes queued for the transport and not yet written (a browser's `bufferedAmount`),
    /// including an automatic Pong not yet moved into the queue.
    pub fn buffered_amount(&self) -> usize {
        self.tx.len()
            + self
                .pong
                .map_or(0, |(_, len)| frame_len(len.into(), self.masks()))
    }

    /// Received bytes not yet decoded into events (bounded by the limits of [`Config`]).
    pub fn buffered_input(&self) -> usize {
        self.rx.buffered()
    }

    /// Heap bytes held by the connection: its buffers (input, message assembly, output),
    /// and with permessage-deflate negotiated, an estimate of the compressor's and
    /// decompressor's state (zlib's tables and windows, from the agreed window sizes).
    pub fn heap_usage(&self) -> usize {
        let buffers = self.rx.capacity() + self.tx.capacity();
        #[cfg(feature = "deflate")]
        if let Some(deflater) = &self.deflater {
            return buffers + deflater.heap_estimate() + self.rx.inflater_heap_estimate();
        }
        buffers
    }

    /// No event will follow: [`Event::Closed`] has been returned (or the application
    /// answered the opening request with [`respond`](Self::respond)). `None` from
    /// [`poll_event`](Self::poll_event) means "wait for input" until this is true.
    pub fn is_finished(&self) -> bool {
        self.finished && self.deferred_event.is_none()
    }

    /// Gives back the heap memory the buffers hold beyond their current contents.
    ///
    /// Buffers keep their capacity between messages so that steady traffic allocates
    /// nothing; after a large message that capacity stays until the connection has been
    /// idle for [`Config::idle_shrink`] (10 s by default; the idle timer does this through
    /// [`handle_timeout`](Self::handle_timeout)). Call this to do it now, bringing the
    /// connection back to a few hundred bytes; the next messages then allocate again.
    pub fn shrink_buffers(&mut self) {
        self.rx.shrink();
        self.tx.shrink();
        // Not in the middle of a compressed message sent in parts: it needs the state.
        #[cfg(feature = "deflate")]
        if let (Some(deflater), false) = (self.deflater.as_mut(), self.sending_compressed) {
            deflater.shrink();
        }
    }

    /// Heap that [`shrink_buffers`](Self::shrink_buffers) could give back: the buffers, and
    /// zlib's state where it holds no context (permessage-deflate without context takeover).
    fn shrinkable(&self) -> usize {
        let buffers = self.rx.capacity() + self.tx.capacity();
        #[cfg(feature = "deflate")]
        if let Some(deflater) = &self.deflater {
            return buffers + deflater.shrinkable() + self.rx.inflater_shrinkable();
        }
        buffers
    }

    /// Whether the driver should now close the transport (and drop the connection).
    ///
    /// True once the connection is [`State::Closed`] and all output has been written, for
    /// a server (which closes first, RFC 6455 §7.1.1), after a failure, or after the peer
    /// closed the transport. A client that completed the closing handshake waits for the
    /// server to close the TCP connection ([`handle_eof`](Self::handle_eof)). Also true once
    /// [`Config::close_timeout`] has passed since our Close (or a failure), whatever is
    /// still unsent: a peer that neither answers nor reads cannot hold the transport open.
    ///
    /// Close gracefully where the transport allows it: shut down the write side, read and
    /// discard for a moment until the peer closes, then close. Closing a TCP socket with
    /// unread input makes the kernel send a reset, which can destroy our Close frame
    /// before the peer reads it.
    pub fn should_close_transport(&self) -> bool {
        self.timed_out
            || self.state() == State::Closed
                && self.buffered_amount() == 0
                && (self.role == Role::Server
                    || self.failed
                    || self.eof
                    || matches!(self.phase, Phase::Refused))
    }

    // ---- inputs ----

    /// Hands over bytes read from the transport (copied into the connection's buffer).
    /// Chunks of any size give the same events. Ignored once the connection has ended.
    pub fn handle_bytes(&mut self, data: &[u8]) {
        if !self.finished && !data.is_empty() {
            self.rx.push(data);
            self.on_input();
        }
    }

    /// A buffer to read the transport into directly (no copy): read into it, then
    /// [`commit`](ReadBuf::commit) the number of bytes read. The guard borrows the
    /// connection, so nothing else can happen in between; dropping it without committing
    /// (a non-blocking read that would block) reports nothing.
    ///
    /// Usually at least [`Config::read_chunk`] bytes long. While a large message is being
    /// received (a frame of at least 8 KiB, or of at least `read_chunk` bytes if that is
    /// smaller) it is the message's own buffer, holding a part of the current frame's rest
    /// (growing with the bytes received) or all of it followed by room for the next frame's
    /// header (14 bytes), so that the payload is not copied again and the next large frame
    /// is read into place too. Right after such a frame, if the next header did not come
    /// with it, it is what completes one header (at most 14 bytes). Never empty.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Event, Negotiated, Role, Timestamp};
    /// # use std::io::Read;
    /// # let mut conn = Connection::upgraded(Role::Client, Negotiated::new(), Config::default(), Timestamp::ZERO);
    /// # let mut socket: &[u8] = &[0x81, 0x02, b'h', b'i'];
    /// let mut buf = conn.read_buf();
    /// let n = socket.read(&mut buf)?;
    /// buf.commit(n);
    /// # let mut events = Vec::new();
    /// # assert_eq!(conn.poll_event(&mut events), Some(Event::Text("hi")));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Nothing else can be called while the buffer is held:
    ///
    /// ```compile_fail
    /// # use ws_proto::{Config, Connection, Negotiated, Role, Timestamp};
    /// # let mut conn = Connection::upgraded(Role::Server, Negotiated::new(), Config::default(), Timestamp::ZERO);
    /// let buf = conn.read_buf();
    /// conn.handle_timeout(Timestamp::ZERO); // error: `conn` is borrowed by `buf`
    /// buf.commit(0);
    /// ```
    pub fn read_buf(&mut self) -> ReadBuf<'_> {
        self.rx.read_region(&self.config);
        ReadBuf { conn: self }
    }

    /// Reports that the transport's read side ended. If no Close frame was received, the
    /// next events are whatever complete input remains, then [`Event::Closed`] with 1006
    /// ([`CloseCause::Eof`]).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// Tells the connection the time, and acts on the deadlines that have passed: fails a
    /// handshake that took too long, sends a keepalive Ping or fails an unresponsive peer,
    /// ends a closing handshake that took too long. Resulting events come from
    /// [`poll_event`](Self::poll_event).
    ///
    /// Call it on every wake-up, before feeding input (a time earlier than one passed
    /// before is taken as that one); [`poll_timeout`](Self::poll_timeout) says when to
    /// wake up next. Input restarts the keepalive and idle intervals from the last time
    /// passed in, so a driver that calls this only when a deadline is due gets them
    /// early, never late.
    pub fn handle_timeout(&mut self, now: impl Into<Timestamp>) {
        self.timers.set_now(now.into());
        if self.timers.take_expired(Timer::Handshake) && self.state() == State::Connecting {
            let event = self.fail_handshake(HandshakeError::Timeout);
            self.deferred_event = Some(event);
        }
        if self.timers.take_expired(Timer::Keepalive) && self.state() == State::Open {
            if self.keepalive_ping_out {
                let code = CloseCode::INTERNAL_ERROR;
                self.queue_close(code, "keepalive timeout");
                self.failed = true;
                self.finish();
                self.deferred_event = Some(Event::Closed(Closed {
                    code,
                    reason: "keepalive timeout",
                    was_clean: false,
                    cause: CloseCause::KeepaliveTimeout,
                }));
            } else {
                // At most one keepalive Ping waits in the queue: a peer that sends but
                // never reads must not make us queue one per interval.
                if self.tx.written_total() >= self.keepalive_ping_end {
                    let key = self.mask_key();
                    self.tx.push_frame(OpCode::Ping, true, 0, &[], key);
                    self.keepalive_ping_end = self.tx.queued_total();
                }
                self.keepalive_ping_out = true;
                self.timers
                    .arm(Timer::Keepalive, self.config.keepalive_timeout);
            }
        }
        if self.timers.take_expired(Timer::Idle) {
            self.shrink_buffers();
        }
        if self.timers.take_expired(Timer::Close) {
            self.timed_out = true;
            if !self.finished {
                // Our Close was never answered.
                self.deferred_event = Some(self.end_abnormally(CloseCause::CloseTimeout));
            }
        }
    }

    // ---- outputs ----

    /// The next event, with any payload placed in `buf` (cleared first). `None` means
    /// more input is needed, or the connection has ended.
    ///
    /// The returned event borrows `buf`, not the connection, so the application may send
    /// while holding it, and may take ownership of a message with `core::mem::take(buf)`.
    /// Reusing one buffer keeps the receive path free of allocations.
    pub fn poll_event<'b>(&mut self, buf: &'b mut Vec<u8>) -> Option<Event<'b>> {
        // (Tested before taken: `take` writes a whole `None` event back every time.)
        if self.deferred_event.is_some() {
            return self.deferred_event.take();
        }
        if self.finished {
            return None;
        }
        if !matches!(self.phase, Phase::Open) {
            return self.poll_handshake(buf);
        }
        let rules = Rules {
            role: self.role,
            config: &self.config,
        };
        // A small whole message already buffered: no `Incoming` round trip.
        match self.rx.next_small(buf, rules) {
            Some(Kind::Binary) => return Some(Event::Binary(buf)),
            Some(Kind::Text) => {
                return Some(match simdutf8::basic::from_utf8(buf) {
                    Ok(text) => Event::Text(text),
                    Err(_) => self.fail(ProtocolError::InvalidUtf8),
                });
            }
            None => {}
        }
        match self.rx.next(buf, rules) {
            Ok(Some(incoming)) => self.on_incoming(incoming),
            // The transport ended without a Close frame.
            Ok(None) if self.eof => Some(self.end_abnormally(CloseCause::Eof)),
            Ok(None) => None,
            Err(error) => Some(self.fail(error)),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, or `None` if
    /// no deadline is set. Deadlines count from the `now` the connection was created with,
    /// so they are armed from the start.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.next()
    }

    /// The bytes to write to the transport (empty when there are none). Write them, then
    /// [`advance`](Transmit::advance) by the number written; the rest is offered again
    /// next time. The guard borrows the connection, so nothing can be queued or reordered
    /// in between.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Negotiated, Role, Timestamp};
    /// # use std::io::Write;
    /// # let mut conn = Connection::upgraded(Role::Server, Negotiated::new(), Config::default(), Timestamp::ZERO);
    /// # conn.send_text("hello").unwrap();
    /// # let mut socket = Vec::new();
    /// let out = conn.poll_transmit();
    /// let n = socket.write(&out)?; // may take only a part
    /// out.advance(n);
    /// # assert_eq!(conn.buffered_amount(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_transmit(&mut self) -> Transmit<'_> {
        self.flush_pong();
        Transmit { conn: self }
    }

    // ---- commands ----

    /// Sends a text message (split into frames if [`Config::fragment_size`] is set).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes())
    }

    /// Sends a binary message (split into frames if [`Config::fragment_size`] is set).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data)
    }

    /// Sends the next part of a text message streamed in pieces: the first call starts
    /// the message, `fin = true` ends it. Control frames may be sent in between; other
    /// messages may not.
    pub fn send_text_part(&mut self, text: &str, fin: bool) -> Result<(), SendError> {
        self.send_part(Kind::Text, text.as_bytes(), fin)
    }

    /// Sends the next part of a binary message streamed in pieces (see
    /// [`send_text_part`](Self::send_text_part)).
    pub fn send_binary_part(&mut self, data: &[u8], fin: bool) -> Result<(), SendError> {
        self.send_part(Kind::Binary, data, fin)
    }

    /// Sends a Ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Sends a Pong (payload at most 125 bytes), e.g. when
    /// [`Config::auto_pong`] is off, or unsolicited as a heartbeat.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts the closing handshake with `code` and a reason of at most 123 bytes.
    ///
    /// The code must be one that may be sent ([`CloseCode::is_sendable`]), or
    /// [`CloseCode::NO_STATUS`] with an empty reason to send a Close frame without a body.
    /// Always allowed while open, even past the outbound limit. Afterwards no message may
    /// be sent; incoming messages are still delivered until the peer's Close arrives.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let empty = code == CloseCode::NO_STATUS;
        if !(code.is_sendable() || empty && reason.is_empty()) {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::ReasonTooLong);
        }
        self.check_open()?;
        self.queue_close(code, reason);
        Ok(())
    }

    // ---- internals ----

    /// Input arrived: the peer is alive, restart the keepalive interval. While a request
    /// waits for the application's answer, a client may not send (RFC 6455 §4.1): a few
    /// early frames are kept, but more than `max_head_size` bytes fail the handshake (400)
    /// rather than grow the buffer.
    fn on_input(&mut self) {
        self.restart_idle();
        match &self.phase {
            Phase::Open => {
                if let (Some(interval), false) = (self.config.keepalive_interval, self.close_sent) {
                    self.keepalive_ping_out = false;
                    self.timers.arm(Timer::Keepalive, interval);
                }
            }
            Phase::ServerHandshake {
                request: Some(_), ..
            } if self.rx.buffered() > self.config.max_head_size => {
                if let Ok(response) =
                    reject_response(400, &[], b"data sent before the handshake completed\n")
                {
                    self.tx.push_raw(&response);
                }
                let event = self.fail_handshake(HandshakeError::EarlyData);
                self.deferred_event = Some(event);
            }
            _ => {}
        }
    }

    /// Traffic: restart the idle interval, if the buffers hold more than an idle
    /// connection needs (otherwise there is nothing to give back, and no reason to wake).
    fn restart_idle(&mut self) {
        if let Some(after) = self.config.idle_shrink {
            if self.shrinkable() > IDLE_HEAP {
                self.timers.arm(Timer::Idle, after);
            }
        }
    }

    /// Answers a Ping: its Pong goes into the queue now, after everything queued so far
    /// and before anything the application sends in answer to later input, unless
    /// [`MAX_QUEUED_PONGS`] wait unwritten; then it is held back, replacing any Ping held
    /// before it (only the newest is answered).
    fn answer_ping(&mut self, payload: &[u8]) {
        self.pongs.forget_written(self.tx.written_total());
        if self.pong.is_none() && !self.pongs.is_full() {
            self.push_pong(payload);
        } else {
            let mut held = [0u8; MAX_CONTROL_PAYLOAD];
            held[..payload.len()].copy_from_slice(payload);
            self.pong = Some((held, payload.len() as u8));
        }
    }

    /// Queues the held-back Pong once the queue has room for it again.
    #[inline]
    fn flush_pong(&mut self) {
        if self.pong.is_some() {
            self.pongs.forget_written(self.tx.written_total());
            if !self.pongs.is_full() {
                self.force_pong();
            }
        }
    }

    /// Queues the held-back Pong whatever is waiting (before our Close: nothing after it).
    fn force_pong(&mut self) {
        if let Some((payload, len)) = self.pong.take() {
            self.push_pong(&payload[..usize::from(len)]);
        }
    }

    fn push_pong(&mut self, payload: &[u8]) {
        let key = self.mask_key();
        self.tx.push_frame(OpCode::Pong, true, 0, payload, key);
        self.pongs.push(self.tx.queued_total());
    }

    /// Queues our Close frame (any pending Pong goes first: nothing after Close).
    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        self.force_pong();
        let mut body = [0u8; MAX_CONTROL_PAYLOAD];
        let len = if code == CloseCode::NO_STATUS {
            0
        } else {
            body[..2].copy_from_slice(&code.0.to_be_bytes());
            body[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
            2 + reason.len()
        };
        let key = self.mask_key();
        self.tx
            .push_frame(OpCode::Close, true, 0, &body[..len], key);
        self.close_sent = true;
        self.sending = None;
        self.sending_compressed = false;
        self.timers.stop(Timer::Keepalive);
        self.timers.set(Timer::Close, self.config.close_timeout);
    }

    /// Fails the connection because the peer broke the protocol.
    fn fail<'b>(&mut self, error: ProtocolError) -> Event<'b> {
        if !self.close_sent {
            self.queue_close(error.close_code(), error.reason());
        }
        self.failed = true;
        self.finish();
        Event::Closed(Closed {
            code: error.close_code(),
            reason: error.reason(),
            was_clean: false,
            cause: CloseCause::ProtocolError(error),
        })
    }

    /// No event follows the one being reported; later input is dropped.
    pub(super) fn finish(&mut self) {
        self.finished = true;
        self.rx.clear();
    }

    /// Ends the connection without a Close exchange: reports 1006 (RFC 6455 §7.1.5).
    pub(super) fn end_abnormally(&mut self, cause: CloseCause) -> Event<'static> {
        self.finish();
        Event::Closed(Closed {
            code: CloseCode::ABNORMAL,
            reason: "",
            was_clean: false,
            cause,
        })
    }

    fn on_incoming<'b>(&mut self, incoming: Incoming<'b>) -> Option<Event<'b>> {
        Some(match incoming {
            Incoming::Binary(data) => Event::Binary(data),
            Incoming::Text(text) => Event::Text(text),
            Incoming::BinaryPiece(data, fin) => Event::BinaryPiece { data, fin },
            Incoming::TextPiece(text, fin) => Event::TextPiece { text, fin },
            Incoming::Ping(buf) => {
                if self.config.auto_pong && !self.close_sent {
                    self.answer_ping(buf);
                }
                Event::Ping(buf)
            }
            Incoming::Pong(buf) => Event::Pong(buf),
            Incoming::Close(buf) => match parse_close_body(buf) {
                Ok((code, reason)) => {
                    self.close_received = true;
                    self.finish();
                    let cause = if self.close_sent {
                        CloseCause::LocalClose
                    } else {
                        // Echo the peer's code and reason (an empty Close is answered with
                        // an empty one), as browsers and other libraries expect.
                        self.queue_close(code, reason);
                        CloseCause::PeerClose
                    };
                    Event::Closed(Closed {
                        code,
                        reason,
                        was_clean: true,
                        cause,
                    })
                }
                Err(CloseBodyError::OneByte) => self.fail(ProtocolError::InvalidCloseBody),
                Err(CloseBodyError::InvalidCode(code)) => {
                    self.fail(ProtocolError::InvalidCloseCode(code))
                }
                Err(CloseBodyError::InvalidUtf8) => self.fail(ProtocolError::InvalidUtf8),
            },
        })
    }
}

/// End positions, in the output stream, of the automatic Pongs queued and not yet written.
#[derive(Debug, Default)]
struct PongQueue {
    ends: [u64; MAX_QUEUED_PONGS],
    first: usize,
    len: usize,
}

impl PongQueue {
    fn is_full(&self) -> bool {
        self.len == MAX_QUEUED_PONGS
    }

    /// Records a queued Pong. When full (only for the held-back Pong that our Close
    /// forces out: no Pong is answered after it), the oldest record is dropped; that only
    /// makes the count low, which nothing after our Close reads.
    fn push(&mut self, end: u64) {
        if self.is_full() {
            self.first = (self.first + 1) % MAX_QUEUED_PONGS;
            self.len -= 1;
        }
        self.ends[(self.first + self.len) % MAX_QUEUED_PONGS] = end;
        self.len += 1;
    }

    /// Drops the Pongs that `written` bytes of output have sent.
    fn forget_written(&mut self, written: u64) {
        while self.len > 0 && self.ends[self.first] <= written {
            self.first = (self.first + 1) % MAX_QUEUED_PONGS;
            self.len -= 1;
        }
    }
}

/// The panic of a count beyond what was offered (kept out of line: never taken by a
/// correct driver).
#[cold]
#[track_caller]
fn beyond(call: &str, n: usize, len: usize, what: &str) -> ! {
    panic!("{call}({n}) beyond the {len}{what}")
}

/// The buffer that [`Connection::read_buf`] offers, borrowing the connection until the
/// bytes read into it are [committed](Self::commit).
#[must_use = "read into the buffer, then commit the count"]
pub struct ReadBuf<'a> {
    conn: &'a mut Connection,
}

impl ReadBuf<'_> {
    /// Reports that the first `n` bytes of the buffer were filled by a read; decoding
    /// happens in [`Connection::poll_event`]. Ignored once the connection has ended.
    ///
    /// # Panics
    ///
    /// If `n` is larger than the buffer: more bytes than were offered cannot have been
    /// read into it.
    #[inline]
    pub fn commit(self, n: usize) {
        let len = self.len();
        if n > len {
            beyond("ReadBuf::commit", n, len, "-byte buffer that was offered");
        }
        let conn = self.conn;
        if conn.finished || n == 0 {
            return;
        }
        conn.rx.commit(n);
        conn.on_input();
    }
}

impl core::ops::Deref for ReadBuf<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.conn.rx.offered()
    }
}

impl core::ops::DerefMut for ReadBuf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.conn.rx.offered_mut()
    }
}

impl core::fmt::Debug for ReadBuf<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadBuf").field("len", &self.len()).finish()
    }
}

/// The output that [`Connection::poll_transmit`] offers, borrowing the connection until
/// the number of bytes written is reported with [`advance`](Self::advance).
#[must_use = "write the bytes, then advance by the number written"]
pub struct Transmit<'a> {
    conn: &'a mut Connection,
}

impl Transmit<'_> {
    /// Reports that the first `n` bytes were written to the transport; they are dropped
    /// from the queue. Not calling it (a write that would block) leaves everything queued.
    ///
    /// # Panics
    ///
    /// If `n` is larger than the bytes offered.
    #[inline]
    pub fn advance(self, n: usize) {
        let conn = self.conn;
        let len = conn.tx.len();
        if n > len {
            beyond("Transmit::advance", n, len, " bytes that were offered");
        }
        conn.tx.advance(n);
        if n > 0 {
            conn.restart_idle();
        }
    }
}

impl core::ops::Deref for Transmit<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.conn.tx.pending()
    }
}

impl AsRef<[u8]> for Transmit<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl core::fmt::Debug for Transmit<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Transmit")
            .field("len", &self.len())
            .finish()
    }
}
