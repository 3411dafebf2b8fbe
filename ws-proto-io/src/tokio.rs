//! The tokio driver: [`WebSocketStream`], a [`Stream`] of received [`Message`]s and a
//! [`Sink`] of messages to send, over any `AsyncRead + AsyncWrite` transport.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use ws_proto_io::{Message, tokio::accept};
//!
//! # async fn run() -> Result<(), ws_proto_io::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = accept(tcp).await?;
//!         while let Some(message) = ws.next().await {
//!             if let msg @ (Message::Text(_) | Message::Binary(_)) = message? {
//!                 ws.send(msg).await?;
//!             }
//!         }
//!         Ok::<_, ws_proto_io::Error>(())
//!     });
//! }
//! # }
//! ```
//!
//! What it guarantees:
//!
//! - **Cancel-safe receive.** All state lives in the `WebSocketStream`: bytes read are
//!   handed to the connection before a poll returns, so a `next()` future dropped by
//!   `tokio::select!` loses nothing; the next call carries on.
//! - **Reading never waits for writing.** While a send waits for the transport (a peer
//!   that is itself busy sending), the driver keeps reading: up to
//!   [`Config::max_message_size`] bytes of received messages are kept for the next
//!   `next()`, so two peers sending large messages to each other at once do not deadlock.
//!   Receiving also writes what is due (Pongs, the Close reply) without waiting for it.
//! - **Halves.** [`WebSocketStream::split`] gives a reader and a writer that run in
//!   different tasks: a reader waiting for a message never blocks the writer.
//! - **Backpressure.** [`Sink::poll_ready`] waits while more than the high-water mark
//!   ([`WebSocketStream::set_high_water`], 128 KiB by default) waits unwritten, so a peer
//!   that stops reading stops the sender instead of growing a queue; the queue never grows
//!   past [`Config::max_outbound_buffer`] ([`SendError::Backpressure`](ws_proto::SendError)).
//! - **Time.** Deadlines of the connection (handshake, keepalive Pings, close timeout) are
//!   met with a `tokio::time` sleep while the stream is polled.
//! - **Closing.** Reading the peer's Close returns [`Message::Close`], then the stream ends
//!   (`None`) once the closing handshake is done and the transport closed; [`Sink::poll_close`]
//!   (`SinkExt::close`) or [`WebSocketStream::close`] starts the handshake and completes it.
//!   A server shuts the transport down first and reads on for a moment (at most 2 s) until
//!   the client closes, so its Close frame is not destroyed by a TCP reset.
//!
//! Errors end the stream: the item after an `Err` is `None`.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use ws_proto::{
    ClientRequest, CloseCause, CloseCode, Closed, Config, Connection, Delivery, Event, Negotiated,
    Request, Role, State, Timestamp,
};

pub use crate::Answer;
use crate::Error;
use crate::message::{CloseFrame, Message, Utf8Bytes};

/// Payloads at least this long are handed over in the receive buffer itself (no copy);
/// shorter ones are copied and the buffer is kept for the next message.
const TAKE_BUFFER_MIN: usize = 4096;

/// How long a server reads on after shutting the transport down, waiting for the client to
/// close its side.
const LINGER: Duration = Duration::from_secs(2);

/// Default of [`WebSocketStream::set_high_water`].
const DEFAULT_HIGH_WATER: usize = 128 << 10;

/// The current time, on tokio's clock (which tests can pause and advance).
fn now() -> Timestamp {
    Timestamp::from(tokio::time::Instant::now().into_std())
}

/// A WebSocket over an async transport: a [`Stream`] of received [`Message`]s and a
/// [`Sink`] of messages to send. See the [module documentation](self).
pub struct WebSocketStream<S> {
    io: S,
    conn: Connection,
    /// The connection's event buffer.
    buf: Vec<u8>,
    /// Messages received while a send was waiting, for the next `poll_next`.
    inbox: VecDeque<Result<Message, Error>>,
    /// Payload bytes in `inbox`.
    inbox_bytes: usize,
    /// The connection had no event when last asked, and has had no input, time or command
    /// since: asking again would find none.
    drained: bool,
    /// The most read ahead into `inbox` while sending.
    read_ahead: usize,
    high_water: usize,
    /// The transport's read side ended.
    eof: bool,
    /// Output was written and not yet flushed.
    dirty: bool,
    end: End,
    /// The deadline timer, made on the first poll (a runtime is needed to make it).
    sleep: Option<Pin<Box<Sleep>>>,
    sleep_at: Option<Timestamp>,
    /// The timer was polled for `sleep_at` and was pending: until it has elapsed or
    /// something woke us, it needs no polling.
    sleep_armed: bool,
    /// The last read of the transport was pending: the transport wakes the proxy waker
    /// when there is more, so until `Wakers::woken` it need not be asked again.
    read_armed: bool,
    wakers: Arc<Wakers>,
    waker: Waker,
}

/// How far the end of the connection has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The connection runs.
    Running,
    /// The write side is shut down; reading on until the peer closes or `until`.
    Lingering { until: Timestamp },
    /// The transport is done with: the stream ends.
    Done,
}

/// The tasks to wake when the transport or the timer is ready: the reader's and the
/// writer's, which differ once the stream is split. Every poll of the transport and the
/// timer is done with a waker that wakes both, so neither half can steal the other's
/// wake-up.
#[derive(Default)]
struct Wakers {
    stream: AtomicWaker,
    sink: AtomicWaker,
    /// Set by every wake-up (the transport's or the timer's), cleared before each read.
    woken: AtomicBool,
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        let (stream, sink) = (self.stream.take(), self.sink.take());
        match (stream, sink) {
            // One task holds both halves: wake it once.
            (Some(stream), Some(sink)) if stream.will_wake(&sink) => stream.wake(),
            (stream, sink) => {
                for waker in [stream, sink].into_iter().flatten() {
                    waker.wake();
                }
            }
        }
    }
}

impl<S> std::fmt::Debug for WebSocketStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketStream")
            .field("conn", &self.conn)
            .field("inbox", &self.inbox.len())
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

/// Runs the server side of the opening handshake on `stream`, accepting any WebSocket
/// upgrade with no subprotocol; a plain HTTP request gets `426 Upgrade Required`
/// ([`Error::Responded`]).
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Config::default(), |_| Answer::accept()).await
}

/// Runs the server side of the opening handshake on `stream`; `answer` sees the request
/// (a WebSocket upgrade or a plain HTTP request: [`Request::is_upgrade`]) and decides.
///
/// When the answer is an HTTP response, it is sent, the transport closed, and
/// [`Error::Responded`] returned: that is how a server serves a page on the WebSocket's
/// port. A malformed request is answered (400, 431...) and reported as
/// [`Error::Handshake`].
pub async fn accept_with<S, F>(
    stream: S,
    config: Config,
    answer: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Answer,
{
    let mut ws = WebSocketStream::new(stream, Connection::server(whole(config), now()));
    let mut answer = Some(answer);
    let result = ws.handshake(|conn, request| {
        let upgrade = request.is_upgrade();
        let decided = match answer.take() {
            Some(answer) => answer(request),
            None => Answer::text(500, "one request per connection\n"),
        };
        match decided {
            Answer::Accept(_) if !upgrade => {
                let headers = [
                    ("Upgrade".to_owned(), "websocket".to_owned()),
                    ("Sec-WebSocket-Version".to_owned(), "13".to_owned()),
                ];
                conn.respond(426, &headers, b"WebSocket upgrade required\n")?;
                Err(Error::Responded { status: 426 })
            }
            Answer::Accept(accept) => match conn.accept(&accept) {
                Ok(()) => Ok(()),
                Err(e) => {
                    conn.respond(500, &[], b"")?;
                    Err(Error::Accept(e))
                }
            },
            Answer::Respond {
                status,
                headers,
                body,
            } => match conn.respond(status, &headers, &body) {
                Ok(()) => Err(Error::Responded { status }),
                Err(e) => {
                    conn.respond(500, &[], b"")?;
                    Err(Error::Accept(e))
                }
            },
        }
    });
    result.await.map(|()| ws)
}

/// Runs the client side of the opening handshake for `request` on `stream` (already
/// connected to the request's host, through TLS for `wss://`).
pub async fn client<S>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conn = Connection::client(request, whole(config), now())?;
    let mut ws = WebSocketStream::new(stream, conn);
    ws.handshake(|_, _| Ok(())).await.map(|()| ws)
}

/// A WebSocket on a transport whose HTTP upgrade another stack did (hyper, axum; see
/// the `hyper` module), with what it negotiated.
pub fn upgraded<S>(
    stream: S,
    role: Role,
    negotiated: Negotiated,
    config: Config,
) -> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    WebSocketStream::new(
        stream,
        Connection::upgraded(role, negotiated, whole(config), now()),
    )
}

/// The driver delivers whole messages.
fn whole(config: Config) -> Config {
    config.with_delivery(Delivery::Whole)
}

/// What [`connect_with`] offers and how it connects.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    config: Config,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
    origin: Option<String>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl ConnectOptions {
    /// Default settings: `Config::default()`, no subprotocol, `wss://` verified against the
    /// webpki roots.
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// The connection's settings.
    pub fn config(mut self, config: Config) -> ConnectOptions {
        self.config = config;
        self
    }

    /// Offers a subprotocol (in preference order).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> ConnectOptions {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Adds a request header (a cookie, `Authorization`...).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ConnectOptions {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> ConnectOptions {
        self.origin = Some(origin.into());
        self
    }

    /// The TLS configuration for `wss://` (see [`crate::tls::client_config`]); the webpki
    /// roots without it.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> ConnectOptions {
        self.tls = Some(config);
        self
    }
}

/// A transport that may be TLS: what [`connect`] returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// Plain TCP (`ws://`).
    Plain(S),
    /// TLS (`wss://`, feature `tls`).
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::TlsStream<S>>),
}

/// Connects to a `ws://` or `wss://` URL with default options.
pub async fn connect(url: &str) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, Error> {
    connect_with(url, ConnectOptions::default()).await
}

/// Connects to a `ws://` or `wss://` URL (`wss://` needs the `tls` feature).
pub async fn connect_with(
    url: &str,
    options: ConnectOptions,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, Error> {
    let mut request = ClientRequest::new(url)?;
    for protocol in options.subprotocols {
        request = request.subprotocol(protocol);
    }
    for (name, value) in options.headers {
        request = request.header(name, value);
    }
    if let Some(origin) = options.origin {
        request = request.origin(origin);
    }
    #[cfg(not(feature = "tls"))]
    if request.is_secure() {
        return Err(Error::Url(ws_proto::handshake::UrlError::UnsupportedScheme));
    }
    let tcp = TcpStream::connect((request.host(), request.port())).await?;
    tcp.set_nodelay(true)?;
    let stream = if request.is_secure() {
        #[cfg(feature = "tls")]
        {
            let config = match options.tls {
                Some(config) => config,
                None => crate::tls::client_config(crate::tls::Roots::Webpki)?,
            };
            let name = crate::tls::server_name(request.host())?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(tls_io_error)?;
            MaybeTlsStream::Tls(Box::new(tls.into()))
        }
        #[cfg(not(feature = "tls"))]
        unreachable!("refused above")
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    client(stream, request, options.config).await
}

/// Runs a TLS server handshake on `tcp` with `config` (see [`crate::tls`]), then the
/// WebSocket handshake as [`accept_with`] does. A failed TLS handshake is [`Error::Tls`].
#[cfg(feature = "tls")]
pub async fn accept_tls_with<S, F>(
    tcp: S,
    config: Arc<rustls::ServerConfig>,
    ws_config: Config,
    answer: F,
) -> Result<WebSocketStream<MaybeTlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Answer,
{
    let tls = tokio_rustls::TlsAcceptor::from(config)
        .accept(tcp)
        .await
        .map_err(tls_io_error)?;
    accept_with(MaybeTlsStream::Tls(Box::new(tls.into())), ws_config, answer).await
}

/// An error of a TLS handshake, as an [`Error::Tls`].
#[cfg(feature = "tls")]
fn tls_io_error(e: io::Error) -> Error {
    match e.into_inner() {
        Some(inner) => Error::Tls(inner),
        None => Error::Tls("the TLS handshake failed".into()),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    fn new(io: S, conn: Connection) -> WebSocketStream<S> {
        let wakers = Arc::new(Wakers::default());
        let waker = Waker::from(wakers.clone());
        WebSocketStream {
            read_ahead: conn
                .config()
                .max_message_size
                .try_into()
                .unwrap_or(usize::MAX),
            io,
            conn,
            buf: Vec::new(),
            inbox: VecDeque::new(),
            inbox_bytes: 0,
            drained: false,
            high_water: DEFAULT_HIGH_WATER,
            eof: false,
            dirty: false,
            end: End::Running,
            sleep: None,
            sleep_at: None,
            sleep_armed: false,
            read_armed: false,
            wakers,
            waker,
        }
    }

    /// The subprotocol the opening handshake agreed on.
    pub fn subprotocol(&self) -> Option<&str> {
        self.conn.negotiated().subprotocol()
    }

    /// What the opening handshake agreed on (subprotocol, permessage-deflate).
    pub fn negotiated(&self) -> &Negotiated {
        self.conn.negotiated()
    }

    /// The sans-IO connection, for its getters ([`Connection::buffered_amount`],
    /// [`Connection::heap_usage`], [`Connection::state`]...).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Sets the high-water mark of the outbound queue: [`Sink::poll_ready`] waits while
    /// more than this many bytes wait unwritten. Default: 128 KiB.
    pub fn set_high_water(&mut self, bytes: usize) {
        self.high_water = bytes;
    }

    /// Splits the stream into a writer and a reader that can be used from different tasks
    /// (`futures_util`'s `StreamExt::split`); a reader waiting for a message does not block
    /// the writer.
    pub fn split(self) -> (SplitSink<Self, Message>, SplitStream<Self>) {
        StreamExt::split(self)
    }

    /// Sends a Close frame with `code` and `reason` (at most 123 bytes) and completes the
    /// closing handshake: returns once the transport is closed. Messages the peer sent
    /// meanwhile remain readable.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.conn.state() == State::Open {
            self.drained = false;
            self.conn.close(code, reason)?;
        }
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Sends a message: waits while the outbound queue is above the high-water mark, then
    /// queues the message and writes it out (as `SinkExt::send` does).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        futures_util::SinkExt::send(self, message).await
    }

    /// The next message (as `StreamExt::next` does); cancel-safe.
    pub async fn next(&mut self) -> Option<Result<Message, Error>> {
        StreamExt::next(self).await
    }

    /// Runs the opening handshake to its end; `on_request` answers a server's request.
    async fn handshake(
        &mut self,
        mut on_request: impl FnMut(&mut Connection, &Request) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut outcome: Option<Error> = None;
        loop {
            // Events after the opening (early frames) are the stream's.
            while self.conn.state() != State::Open {
                let Some(event) = self.conn.poll_event(&mut self.buf) else {
                    break;
                };
                match event {
                    Event::Request(request) | Event::HttpRequest(request) => {
                        if let Err(e) = on_request(&mut self.conn, &request) {
                            outcome = Some(e);
                        }
                    }
                    Event::Rejected { response, body } => {
                        outcome = Some(Error::Rejected {
                            status: response.status(),
                            body: body.to_vec(),
                        });
                    }
                    Event::Closed(closed) if outcome.is_none() => {
                        outcome = Some(match closed.cause {
                            CloseCause::HandshakeFailed(e) => Error::Handshake(e),
                            cause => Error::ConnectionClosed(cause),
                        });
                    }
                    _ => {}
                }
            }
            if self.conn.state() != State::Connecting && outcome.is_none() {
                if self.conn.state() == State::Open {
                    return Ok(());
                }
                outcome = Some(Error::ConnectionClosed(CloseCause::Eof));
            }
            if let Some(error) = outcome.take_if(|_| self.conn.is_finished()) {
                // Write the answer out and close the transport before reporting.
                let _ = poll_fn(|cx| self.poll_closed(cx)).await;
                return Err(error);
            }
            let waker = self.waker.clone();
            let step = poll_fn(|cx| {
                self.wakers.stream.register(cx.waker());
                match self.poll_io(&mut Context::from_waker(&waker), true) {
                    Ok(true) => Poll::Ready(Ok(())),
                    Ok(false) => Poll::Pending,
                    Err(e) => Poll::Ready(Err(e)),
                }
            });
            step.await?;
        }
    }

    /// Converts the connection's next event into an item; at the end, the last item.
    fn poll_message(&mut self) -> Option<Result<Message, Error>> {
        if self.drained {
            return None;
        }
        loop {
            let Some(event) = self.conn.poll_event(&mut self.buf) else {
                self.drained = true;
                return None;
            };
            let (binary, len) = match event {
                Event::Text(text) => (false, text.len()),
                Event::Binary(data) => (true, data.len()),
                Event::Ping(data) => return Some(Ok(Message::Ping(Bytes::copy_from_slice(data)))),
                Event::Pong(data) => return Some(Ok(Message::Pong(Bytes::copy_from_slice(data)))),
                Event::Closed(closed) => return Some(last_item(closed)),
                // Pieces are not delivered (the driver asks for whole messages); handshake
                // events come before the stream exists.
                _ => continue,
            };
            let payload = if len >= TAKE_BUFFER_MIN && len == self.buf.len() {
                Bytes::from(std::mem::take(&mut self.buf))
            } else {
                Bytes::copy_from_slice(&self.buf[..len])
            };
            return Some(Ok(if binary {
                Message::Binary(payload)
            } else {
                Message::Text(Utf8Bytes::from_validated(payload))
            }));
        }
    }

    /// One round of IO with the (proxy) context `cx`: writes what the transport takes,
    /// acts on the timer, reads once if `read` (and while lingering), and ends the
    /// transport when the connection says so. `Ok(true)` when something happened that
    /// may let the caller progress; `Ok(false)` when it must wait (wakers are registered).
    fn poll_io(&mut self, cx: &mut Context<'_>, read: bool) -> Result<bool, Error> {
        if self.end == End::Done {
            return Ok(true);
        }
        let mut progress = false;
        if self.poll_write_out(cx)?.is_ready() && self.dirty {
            if let Poll::Ready(result) = Pin::new(&mut self.io).poll_flush(cx) {
                result.map_err(|e| self.io_error(e))?;
                self.dirty = false;
            }
        }
        if self.end == End::Running && self.conn.is_finished() && self.conn.should_close_transport()
        {
            if self.eof {
                self.end = End::Done;
                return Ok(true);
            }
            match Pin::new(&mut self.io).poll_shutdown(cx) {
                Poll::Ready(_) => {
                    // A failed shutdown (the peer is gone) ends the same way.
                    let until = now() + LINGER;
                    self.end = End::Lingering { until };
                    progress = true;
                }
                Poll::Pending => return Ok(false),
            }
        }
        if self.poll_timer(cx) {
            progress = true;
        }
        if let End::Lingering { until } = self.end {
            if self.eof || now() >= until {
                self.end = End::Done;
                return Ok(true);
            }
        }
        let lingering = matches!(self.end, End::Lingering { .. });
        // A read that was pending stays so until the transport wakes us: asking again
        // before that costs a readiness check (and a lock in tokio) for nothing.
        let wait = self.read_armed && !self.wakers.woken.load(Ordering::SeqCst);
        if (read || lingering) && !self.eof && !wait {
            // Cleared before the read: a wake-up from now on means there may be more.
            self.wakers.woken.store(false, Ordering::SeqCst);
            self.read_armed = false;
            let mut region = self.conn.read_buf();
            let mut read_buf = tokio::io::ReadBuf::new(&mut region);
            match Pin::new(&mut self.io).poll_read(cx, &mut read_buf) {
                Poll::Ready(Ok(())) => {
                    let n = read_buf.filled().len();
                    if n == 0 {
                        drop(region);
                        self.eof = true;
                        self.conn.handle_eof();
                        self.drained = false;
                    } else {
                        region.commit(n);
                        self.drained = false;
                    }
                    progress = true;
                }
                Poll::Ready(Err(e)) => {
                    drop(region);
                    if lingering || self.conn.is_finished() {
                        // After the closing handshake, a reset or a TLS stream ended
                        // without close_notify changes nothing.
                        self.eof = true;
                        return Ok(true);
                    }
                    return Err(self.io_error(e));
                }
                Poll::Pending => self.read_armed = true, // nothing read, nothing committed
            }
        }
        Ok(progress)
    }

    /// Writes queued output until the transport would block; ready once all is written.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Result<Poll<()>, Error> {
        loop {
            let out = self.conn.poll_transmit();
            if out.is_empty() {
                return Ok(Poll::Ready(()));
            }
            match Pin::new(&mut self.io).poll_write(cx, &out) {
                Poll::Ready(Ok(0)) => {
                    drop(out);
                    let e = io::Error::new(io::ErrorKind::WriteZero, "the transport took nothing");
                    return Err(self.io_error(e));
                }
                Poll::Ready(Ok(n)) => {
                    out.advance(n);
                    self.dirty = true;
                }
                Poll::Ready(Err(e)) => {
                    drop(out);
                    return Err(self.io_error(e));
                }
                Poll::Pending => return Ok(Poll::Pending),
            }
        }
    }

    /// Polls the deadline timer; on expiry, tells the connection the time. True if it did.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = match self.end {
            End::Lingering { until } => Some(until),
            _ => self.conn.poll_timeout(),
        };
        let Some(at) = deadline else {
            return false;
        };
        let instant = tokio::time::Instant::from_std(at.into());
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(instant)));
        if self.sleep_at != Some(at) {
            sleep.as_mut().reset(instant);
            self.sleep_at = Some(at);
            self.sleep_armed = false;
        } else if self.sleep_armed
            && !self.wakers.woken.load(Ordering::SeqCst)
            && !sleep.is_elapsed()
        {
            // Pending since its last poll, which registered the proxy waker (every poll
            // uses it): it wakes us when due. (A pending poll that only meant "out of
            // budget" wakes us too, and then the timer is polled again.)
            return false;
        }
        if sleep.as_mut().poll(cx).is_pending() {
            self.sleep_armed = true;
            return false;
        }
        self.sleep_armed = false;
        self.conn.handle_timeout(now());
        self.drained = false;
        // A deadline that did not move would fire again at once: wait for it to change.
        let moved = self.conn.poll_timeout() != Some(at);
        if moved {
            self.sleep_at = None;
        }
        moved || matches!(self.end, End::Lingering { .. })
    }

    /// A transport error: the connection is over. The reader learns it too (a copy goes to
    /// the inbox) when the writer met it.
    fn io_error(&mut self, e: io::Error) -> Error {
        self.end = End::Done;
        #[cfg(feature = "tls")]
        let e = match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => return Error::Tls(Box::new(tls.clone())),
            // Plain TCP reports the end of the stream as a read of 0 bytes; an unexpected
            // end comes from TLS: the peer closed in the middle of a record.
            None if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Error::Tls(Box::new(e));
            }
            None => e,
        };
        Error::Io(e)
    }

    /// Drives the connection on behalf of the writer until `done` holds: writes, reads
    /// ahead into the inbox (bounded), meets deadlines.
    fn poll_send_side(
        &mut self,
        cx: &mut Context<'_>,
        done: impl Fn(&Self) -> bool,
    ) -> Poll<Result<(), Error>> {
        self.wakers.sink.register(cx.waker());
        let waker = self.waker.clone();
        let mut proxy = Context::from_waker(&waker);
        loop {
            if done(self) {
                return Poll::Ready(Ok(()));
            }
            if self.end == End::Done {
                return Poll::Ready(Err(Error::AlreadyClosed));
            }
            while self.inbox_bytes < self.read_ahead {
                match self.poll_message() {
                    Some(item) => self.push_inbox(item),
                    None => break,
                }
            }
            let read = self.inbox_bytes < self.read_ahead;
            match self.poll_io(&mut proxy, read) {
                Ok(true) => {}
                Ok(false) if done(self) => return Poll::Ready(Ok(())),
                Ok(false) => return Poll::Pending,
                Err(e) => {
                    let copy = match &e {
                        Error::Io(io) => Error::Io(io::Error::new(io.kind(), io.to_string())),
                        _ => Error::ConnectionClosed(CloseCause::Eof),
                    };
                    self.push_inbox(Err(copy));
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    fn push_inbox(&mut self, item: Result<Message, Error>) {
        self.inbox_bytes += item_len(&item);
        self.inbox.push_back(item);
    }

    /// Completes the closing handshake: ready once the transport is closed.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match self.poll_send_side(cx, |ws| ws.end == End::Done) {
            Poll::Ready(Err(Error::AlreadyClosed)) => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

fn item_len(item: &Result<Message, Error>) -> usize {
    match item {
        Ok(Message::Text(text)) => text.len(),
        Ok(Message::Binary(data) | Message::Ping(data) | Message::Pong(data)) => data.len(),
        _ => 0,
    }
}

/// The item the end of the connection gives: the peer's Close, or why it ended.
fn last_item(closed: Closed<'_>) -> Result<Message, Error> {
    match closed.cause {
        CloseCause::PeerClose | CloseCause::LocalClose => {
            let frame = (closed.code != CloseCode::NO_STATUS).then(|| CloseFrame {
                code: closed.code,
                reason: closed.reason.into(),
            });
            Ok(Message::Close(frame))
        }
        CloseCause::ProtocolError(e) => Err(Error::Protocol(e)),
        CloseCause::HandshakeFailed(e) => Err(Error::Handshake(e)),
        cause => Err(Error::ConnectionClosed(cause)),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.wakers.stream.register(cx.waker());
        let waker = this.waker.clone();
        let mut proxy = Context::from_waker(&waker);
        loop {
            if let Some(item) = this.inbox.pop_front() {
                this.inbox_bytes -= item_len(&item);
                return Poll::Ready(Some(item));
            }
            if let Some(item) = this.poll_message() {
                if this.conn.is_finished() {
                    // Send the Close reply now, even if the caller stops reading here.
                    if let Err(e) = this.poll_io(&mut proxy, false) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                return Poll::Ready(Some(item));
            }
            if this.end == End::Done {
                return Poll::Ready(None);
            }
            match this.poll_io(&mut proxy, true) {
                Ok(true) => {}
                Ok(false) => return Poll::Pending,
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.poll_send_side(cx, |ws| {
            ws.conn.buffered_amount() <= ws.high_water || ws.conn.state() != State::Open
        })
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let this = self.get_mut();
        if this.end == End::Done {
            return Err(Error::AlreadyClosed);
        }
        this.drained = false;
        let conn = &mut this.conn;
        match message {
            Message::Text(text) => conn.send_text(&text)?,
            Message::Binary(data) => conn.send_binary(&data)?,
            Message::Ping(data) => conn.send_ping(&data)?,
            Message::Pong(data) => conn.send_pong(&data)?,
            Message::Close(Some(frame)) => conn.close(frame.code, &frame.reason)?,
            Message::Close(None) => conn.close(CloseCode::NO_STATUS, "")?,
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.poll_send_side(cx, |ws| ws.conn.buffered_amount() == 0 && !ws.dirty)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.conn.state() == State::Open {
            this.drained = false;
            this.conn.close(CloseCode::NORMAL, "")?;
        }
        this.poll_closed(cx)
    }
}
