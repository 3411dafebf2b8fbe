//! The blocking driver: [`WebSocket`] over any stream that implements [`Transport`]
//! (a `TcpStream`, a rustls stream with the `tls` feature), one thread per connection.
//!
//! - Servers: [`WebSocket::accept`] takes any upgrade; [`WebSocket::accept_with`] shows the
//!   application every request (upgrades and plain HTTP, such as a browser's `GET /`) and
//!   lets it [`Answer`] with an accepted WebSocket or with an HTTP response, so one port
//!   can serve a page and its WebSockets.
//! - Clients: [`connect`] and [`connect_with`] open the TCP connection (and TLS for
//!   `wss://`); [`WebSocket::client`] runs the handshake on a stream the caller opened.
//! - Then [`read`](WebSocket::read), [`send`](WebSocket::send),
//!   [`close`](WebSocket::close). Pings are answered automatically.
//!
//! The connection's deadlines are the socket's: `read` sleeps until data arrives or the
//! next deadline of the core (the opening handshake, the closing handshake, keepalive),
//! and every write gives up after the [write timeout](WebSocket::set_write_timeout) (10 s
//! by default), so a peer that stops reading cannot block a thread for ever. A server
//! closes TCP gracefully after the closing handshake (RFC 6455 §7.1.1): it shuts down its
//! write side and reads until the client closes, for 2 s at most, so its Close frame is
//! not destroyed by a reset.
//!
//! ```
//! use std::net::TcpListener;
//! use ws_proto_io::Message;
//! use ws_proto_io::blocking::{self, WebSocket};
//!
//! # fn main() -> Result<(), ws_proto_io::Error> {
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let url = format!("ws://{}/echo", listener.local_addr()?);
//! // The server: echo every message until the client closes.
//! let server = std::thread::spawn(move || -> Result<(), ws_proto_io::Error> {
//!     let (tcp, _) = listener.accept()?;
//!     let mut ws = WebSocket::accept(tcp)?;
//!     loop {
//!         match ws.read()? {
//!             message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message)?,
//!             Message::Close(_) => return Ok(()), // answered, TCP closed
//!             _ => {}
//!         }
//!     }
//! });
//!
//! // The client.
//! let mut ws = blocking::connect(&url)?;
//! ws.send(Message::text("hello"))?;
//! assert_eq!(ws.read()?, Message::text("hello"));
//! ws.close(ws_proto_io::ws_proto::CloseCode::NORMAL, "bye")?;
//! // Read until the server's answer to the Close.
//! while !matches!(ws.read()?, Message::Close(_)) {}
//! server.join().unwrap()?;
//! # Ok(())
//! # }
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ws_proto::handshake::{ClientRequest, Request};
use ws_proto::{
    AcceptError, CloseCause, CloseCode, Config, Connection, Delivery, Event, HandshakeError,
    SendError,
};

pub use crate::Answer;
use crate::{CloseFrame, Error, Message, Utf8Bytes};

/// The longest a server waits for the client to close TCP after the closing handshake.
const LINGER: Duration = Duration::from_secs(2);
/// The default write timeout.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default TCP connect timeout of [`connect`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest socket timeout set (zero means "none" to the OS, so it is refused).
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// What the driver needs from a stream beyond `Read + Write`: timeouts on its reads and
/// writes, and closing its write side. Implemented for `TcpStream`, [`MaybeTls`] and, with
/// the `tls` feature, rustls's `StreamOwned` over a `TcpStream` (client and server).
pub trait Transport: Read + Write {
    /// Makes reads fail with `WouldBlock` or `TimedOut` after `timeout` (`None`: block).
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Makes writes fail with `WouldBlock` or `TimedOut` after `timeout` (`None`: block).
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Ends the write side (TCP FIN, after a TLS `close_notify`); reads still work.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// How an error of this stream is reported: [`Error::Io`] unless the stream knows
    /// better (a TLS stream reports its failures as [`Error::Tls`]).
    fn error(&self, error: io::Error) -> Error {
        Error::Io(error)
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// A rustls server stream over TCP, as [`tls_server`] makes it.
#[cfg(feature = "tls")]
pub type TlsServerStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// A rustls client stream over TCP, as [`connect`] makes it for `wss://`.
#[cfg(feature = "tls")]
pub type TlsClientStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Wraps an accepted TCP connection in TLS with `config` (see
/// [`tls::server_config_from_pem`](crate::tls::server_config_from_pem)). The TLS
/// handshake runs inside [`WebSocket::accept`] / [`WebSocket::accept_with`], within the
/// opening handshake's deadline; its failures are [`Error::Tls`].
#[cfg(feature = "tls")]
pub fn tls_server(
    tcp: TcpStream,
    config: std::sync::Arc<rustls::ServerConfig>,
) -> Result<TlsServerStream, Error> {
    let conn = rustls::ServerConnection::new(config).map_err(|e| Error::Tls(Box::new(e)))?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// The error of a TLS stream: rustls's own errors and an end of stream without
/// `close_notify` (cut mid-record, or a truncation) are [`Error::Tls`].
#[cfg(feature = "tls")]
fn tls_io_error(error: io::Error) -> Error {
    let from_rustls = error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>());
    if from_rustls {
        if let Some(inner) = error.into_inner() {
            return Error::Tls(inner);
        }
        return Error::Tls("TLS failure".into());
    }
    if error.kind() == io::ErrorKind::UnexpectedEof {
        return Error::Tls(Box::new(error));
    }
    Error::Io(error)
}

#[cfg(feature = "tls")]
macro_rules! tls_transport {
    ($side:ty) => {
        impl Transport for rustls::StreamOwned<$side, TcpStream> {
            fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_read_timeout(timeout)
            }

            fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_write_timeout(timeout)
            }

            fn shutdown_write(&mut self) -> io::Result<()> {
                self.conn.send_close_notify();
                while self.conn.wants_write() {
                    if self.conn.write_tls(&mut self.sock)? == 0 {
                        break;
                    }
                }
                self.sock.shutdown(Shutdown::Write)
            }

            fn error(&self, error: io::Error) -> Error {
                tls_io_error(error)
            }
        }
    };
}

#[cfg(feature = "tls")]
tls_transport!(rustls::ServerConnection);
#[cfg(feature = "tls")]
tls_transport!(rustls::ClientConnection);

/// The stream [`connect`] opens: plain TCP for `ws://`, TLS over TCP for `wss://`.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTls {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    #[cfg(feature = "tls")]
    Tls(Box<TlsClientStream>),
}

impl MaybeTls {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTls::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for MaybeTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for MaybeTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTls::Plain(tcp) => tcp.flush(),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => tls.flush(),
        }
    }
}

impl Transport for MaybeTls {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTls::Plain(tcp) => Transport::set_read_timeout(tcp, timeout),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => Transport::set_read_timeout(&mut **tls, timeout),
        }
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            MaybeTls::Plain(tcp) => Transport::set_write_timeout(tcp, timeout),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => Transport::set_write_timeout(&mut **tls, timeout),
        }
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            MaybeTls::Plain(tcp) => tcp.shutdown_write(),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => tls.shutdown_write(),
        }
    }

    fn error(&self, error: io::Error) -> Error {
        match self {
            MaybeTls::Plain(tcp) => tcp.error(error),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => tls.error(error),
        }
    }
}

/// Options of [`connect_with`]: the connection's [`Config`], timeouts, and with the `tls`
/// feature the TLS client configuration for `wss://`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectOptions {
    config: Config,
    connect_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            config: Config::default(),
            connect_timeout: Some(CONNECT_TIMEOUT),
            write_timeout: Some(WRITE_TIMEOUT),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ConnectOptions {
    /// The connection's settings (limits, deadlines, permessage-deflate).
    #[must_use]
    pub fn with_config(mut self, config: Config) -> ConnectOptions {
        self.config = config;
        self
    }

    /// How long establishing the TCP connection may take (default 10 s; `None`: the
    /// operating system's limit).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Option<Duration>) -> ConnectOptions {
        self.connect_timeout = timeout;
        self
    }

    /// See [`WebSocket::set_write_timeout`] (default 10 s).
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: Option<Duration>) -> ConnectOptions {
        self.write_timeout = timeout;
        self
    }

    /// The TLS configuration for `wss://` (from [`tls::client_config`](crate::tls::client_config),
    /// e.g. trusting a private CA). Default: the webpki roots.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> ConnectOptions {
        self.tls = Some(config);
        self
    }
}

/// Connects to a `ws://` URL (or `wss://` with the `tls` feature, verifying the server
/// against the webpki roots) with the default [`Config`], and runs the opening handshake.
pub fn connect(url: &str) -> Result<WebSocket<MaybeTls>, Error> {
    connect_with(ClientRequest::new(url)?, ConnectOptions::default())
}

/// Connects as `request` says (its URL, subprotocols, extra headers, `Origin`) with these
/// `options`, and runs the opening handshake. The TLS handshake and the opening handshake
/// must each finish within [`Config::handshake_timeout`].
pub fn connect_with(
    request: ClientRequest,
    options: ConnectOptions,
) -> Result<WebSocket<MaybeTls>, Error> {
    let tcp = connect_tcp(request.host(), request.port(), options.connect_timeout)?;
    tcp.set_nodelay(true)?;
    let stream = if request.is_secure() {
        #[cfg(feature = "tls")]
        {
            MaybeTls::Tls(Box::new(tls_client(tcp, &request, &options)?))
        }
        #[cfg(not(feature = "tls"))]
        {
            return Err(Error::Url(ws_proto::handshake::UrlError::UnsupportedScheme));
        }
    } else {
        MaybeTls::Plain(tcp)
    };
    WebSocket::client_inner(stream, request, options.config, options.write_timeout)
}

fn connect_tcp(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for addr in addrs {
        let attempt = match timeout {
            Some(timeout) => TcpStream::connect_timeout(&addr, timeout.max(MIN_TIMEOUT)),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = e,
        }
    }
    Err(Error::Io(last))
}

/// The TLS handshake of a `wss://` client, within the opening handshake's deadline: SNI
/// and certificate name from the URL's host, ALPN `http/1.1`.
#[cfg(feature = "tls")]
fn tls_client(
    tcp: TcpStream,
    request: &ClientRequest,
    options: &ConnectOptions,
) -> Result<TlsClientStream, Error> {
    let config = match &options.tls {
        Some(config) => config.clone(),
        None => crate::tls::client_config(crate::tls::Roots::Webpki)?,
    };
    let name = crate::tls::server_name(request.host())?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| Error::Tls(Box::new(e)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let deadline = options.config.handshake_timeout.map(|t| Instant::now() + t);
    while tls.conn.is_handshaking() {
        let left = match deadline {
            Some(deadline) => Some(time_left(deadline).ok_or(HandshakeError::Timeout)?),
            None => None,
        };
        tls.sock.set_read_timeout(left)?;
        tls.sock.set_write_timeout(left)?;
        match tls.conn.complete_io(&mut tls.sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(tls_io_error(e)),
        }
    }
    Ok(tls)
}

/// The time until `deadline`, if it has not passed (at least [`MIN_TIMEOUT`]).
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
        .map(|left| left.max(MIN_TIMEOUT))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Error {
        Error::Handshake(e)
    }
}

/// Where the connection is, as the application sees it.
#[derive(Debug)]
enum End {
    /// Messages can be read.
    Open,
    /// The Close message was returned; `read` reports this error once.
    Closed(CloseCause),
    /// Everything was reported: reads and sends fail with [`Error::AlreadyClosed`].
    Done,
}

/// What one event amounts to.
enum Step {
    /// A message to return (Ping, Pong).
    Message(Message),
    /// A text or binary message of this length, in the event buffer.
    Data { text: bool, len: usize },
    /// The connection ended: this is the outcome to report, after closing the transport.
    End {
        outcome: Result<Message, Error>,
        cause: CloseCause,
    },
    /// Nothing for the application.
    Nothing,
}

/// A WebSocket connection over a blocking stream: [`read`](Self::read) messages,
/// [`send`](Self::send) them, [`close`](Self::close).
///
/// Only whole messages are delivered ([`Config::delivery`] is ignored); the limits of
/// [`Config`] apply. Dropping it closes the stream at once; to end gracefully,
/// [`close`](Self::close) and [`read`](Self::read) until the peer's [`Message::Close`].
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    /// The event buffer (a whole message's payload).
    buf: Vec<u8>,
    write_timeout: Option<Duration>,
    end: End,
}

impl<S: Transport> WebSocket<S> {
    fn new(stream: S, conn: Connection) -> WebSocket<S> {
        WebSocket {
            stream,
            conn,
            buf: Vec::new(),
            write_timeout: Some(WRITE_TIMEOUT),
            end: End::Open,
        }
    }

    /// (Server) Runs the opening handshake on a freshly accepted stream with the default
    /// [`Config`]: accepts any WebSocket upgrade, without a subprotocol, and answers a
    /// plain HTTP request with `426 Upgrade Required`
    /// ([`Error::Accept`]`(`[`AcceptError::NotAnUpgrade`]`)`).
    pub fn accept(stream: S) -> Result<WebSocket<S>, Error> {
        let answer = |request: &Request| {
            if request.is_upgrade() {
                Answer::accept()
            } else {
                Answer::upgrade_required()
            }
        };
        match WebSocket::accept_with(stream, Config::default(), answer)? {
            Some(ws) => Ok(ws),
            None => Err(Error::Accept(AcceptError::NotAnUpgrade)),
        }
    }

    /// (Server) Runs the opening handshake on a freshly accepted stream: `answer` sees the
    /// request (a WebSocket upgrade, or a plain HTTP request such as a browser loading a
    /// page: [`Request::is_upgrade`]) and decides. `Ok(Some(_))`: the WebSocket is open.
    /// `Ok(None)`: the application's HTTP response was sent and the stream closed.
    ///
    /// An answer that cannot be sent (a subprotocol the client did not offer, an invalid
    /// header or status, accepting a plain request) is answered with 500 (426 for a plain
    /// request) and returned as [`Error::Accept`]. A malformed request is answered with the
    /// matching 4xx and returned as [`Error::Handshake`], as is a request that does not
    /// arrive within [`Config::handshake_timeout`].
    pub fn accept_with<F>(
        stream: S,
        config: Config,
        answer: F,
    ) -> Result<Option<WebSocket<S>>, Error>
    where
        F: FnOnce(&Request) -> Answer,
    {
        let config = config.with_delivery(Delivery::Whole);
        let mut ws = WebSocket::new(stream, Connection::server(config, Instant::now()));
        let mut answer = Some(answer);
        loop {
            match ws.conn.poll_event(&mut ws.buf) {
                Some(Event::Request(request) | Event::HttpRequest(request)) => {
                    let Some(answer) = answer.take() else {
                        continue;
                    };
                    let answered = match answer(&request) {
                        Answer::Accept(accept) => ws.conn.accept(&accept),
                        Answer::Respond {
                            status,
                            headers,
                            body,
                        } => ws.conn.respond(status, &headers, &body),
                    };
                    if let Err(e) = answered {
                        let fallback = if e == AcceptError::NotAnUpgrade {
                            Answer::upgrade_required()
                        } else {
                            Answer::respond(500, "the server could not answer the request\n")
                        };
                        if let Answer::Respond {
                            status,
                            headers,
                            body,
                        } = fallback
                        {
                            let _ = ws.conn.respond(status, &headers, &body);
                        }
                        ws.finish(true);
                        return Err(Error::Accept(e));
                    }
                    if ws.conn.is_finished() {
                        // Answered with a response: send it and close.
                        ws.finish(true);
                        return Ok(None);
                    }
                    ws.flush()?;
                    return Ok(Some(ws));
                }
                Some(Event::Closed(closed)) => {
                    let cause = closed.cause;
                    ws.finish(!is_timeout_cause(cause));
                    return Err(handshake_error(cause));
                }
                Some(_) => {}
                None => ws.wait()?,
            }
        }
    }

    /// (Client) Runs the opening handshake for `request` on a stream the caller opened
    /// (TCP, TLS, a proxy tunnel...). [`Error::Rejected`] if the server answers with
    /// another status than 101.
    pub fn client(
        stream: S,
        request: ClientRequest,
        config: Config,
    ) -> Result<WebSocket<S>, Error> {
        WebSocket::client_inner(stream, request, config, Some(WRITE_TIMEOUT))
    }

    fn client_inner(
        stream: S,
        request: ClientRequest,
        config: Config,
        write_timeout: Option<Duration>,
    ) -> Result<WebSocket<S>, Error> {
        let config = config.with_delivery(Delivery::Whole);
        let conn = Connection::client(request, config, Instant::now())?;
        let mut ws = WebSocket::new(stream, conn);
        ws.write_timeout = write_timeout;
        loop {
            match ws.conn.poll_event(&mut ws.buf) {
                Some(Event::Connected(_)) => return Ok(ws),
                Some(Event::Rejected { response, body }) => {
                    let error = Error::Rejected {
                        status: response.status(),
                        body: body.to_vec(),
                    };
                    ws.finish(false);
                    return Err(error);
                }
                Some(Event::Closed(closed)) => {
                    let cause = closed.cause;
                    ws.finish(false);
                    return Err(handshake_error(cause));
                }
                Some(_) => {}
                None => ws.wait()?,
            }
        }
    }

    /// Reads the next message: text, binary, a Ping (already answered) or a Pong.
    ///
    /// [`Message::Close`] means the connection has ended cleanly (the peer's code and
    /// reason; ours was sent or echoed, and the stream was closed); then `read` returns
    /// [`Error::ConnectionClosed`] once, then [`Error::AlreadyClosed`]. A connection that
    /// ends otherwise returns its error ([`Error::Protocol`] when the peer broke the
    /// protocol, [`Error::ConnectionClosed`] with [`CloseCause::Eof`] when the stream
    /// ended without a Close, [`CloseCause::CloseTimeout`] when our Close went unanswered,
    /// [`Error::Io`] or [`Error::Tls`]), then [`Error::AlreadyClosed`].
    ///
    /// Blocks until a message arrives or a deadline of the connection passes; queued
    /// output (automatic Pongs, the Close echo) is written on the way.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            if let Some(message) = self.read_until(None)? {
                return Ok(message);
            }
        }
    }

    /// Like [`read`](Self::read), but gives up after `timeout`: `Ok(None)` if no message
    /// arrived by then (nothing is lost; read again). For a thread that has other work,
    /// such as a client sending lines as they are typed.
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        self.read_until(Some(Instant::now() + timeout))
    }

    fn read_until(&mut self, deadline: Option<Instant>) -> Result<Option<Message>, Error> {
        self.check_open()?;
        loop {
            loop {
                let step = self.poll_step();
                match step {
                    None => break,
                    Some(Step::Nothing) => {}
                    Some(Step::Message(message)) => return Ok(Some(message)),
                    Some(Step::Data { text, len }) => {
                        return Ok(Some(self.take_message(text, len)));
                    }
                    Some(Step::End { outcome, cause }) => {
                        self.finish(!is_timeout_cause(cause));
                        self.end = match outcome {
                            Ok(_) => End::Closed(cause),
                            Err(_) => End::Done,
                        };
                        return outcome.map(Some);
                    }
                }
            }
            let left = match deadline {
                Some(deadline) => match time_left(deadline) {
                    Some(left) => Some(left),
                    None => return Ok(None),
                },
                None => None,
            };
            let waited = self
                .flush()
                .and_then(|()| self.read_input(left))
                .map(|()| self.conn.handle_timeout(Instant::now()));
            if let Err(e) = waited {
                // The stream failed: nothing more will come.
                self.conn.handle_eof();
                self.end = End::Done;
                return Err(e);
            }
        }
    }

    /// Sends a message and writes it out (with everything queued before it).
    ///
    /// [`Message::Close`] starts the closing handshake, like [`close`](Self::close).
    /// Errors: [`Error::Send`] for a message that may not be sent now (after our Close, a
    /// control payload over 125 bytes, [`SendError::Backpressure`] when
    /// [`Config::max_outbound_buffer`] is full even after writing); [`Error::Io`] with
    /// `TimedOut` when the peer read nothing for the write timeout (the message stays
    /// queued, and goes out with the next write).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.check_open()?;
        match self.queue(&message) {
            Err(SendError::Backpressure) => {
                self.flush()?;
                self.queue(&message)?;
            }
            other => other?,
        }
        self.flush()
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes) and
    /// writes the Close frame. Keep reading until [`Message::Close`] (the peer's answer),
    /// which comes within [`Config::close_timeout`] or as [`Error::ConnectionClosed`] with
    /// [`CloseCause::CloseTimeout`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.check_open()?;
        self.conn.close(code, reason)?;
        self.flush()
    }

    /// Writes out everything queued. A write that makes no progress for the write
    /// timeout fails with [`Error::Io`] (`TimedOut`); what was not written stays queued.
    pub fn flush(&mut self) -> Result<(), Error> {
        let timeout = self.write_timeout;
        self.write_out(timeout)
    }

    /// The subprotocol agreed on in the opening handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.conn.negotiated().subprotocol()
    }

    /// The protocol state: [`buffered_amount`](Connection::buffered_amount),
    /// [`heap_usage`](Connection::heap_usage), [`negotiated`](Connection::negotiated)...
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// How long a write may make no progress before failing (default 10 s; `None`: for
    /// ever). Bounds every write, including those of [`read`](Self::read) (Pongs, the
    /// Close echo).
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) {
        self.write_timeout = timeout;
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The underlying stream, without closing anything.
    pub fn into_inner(self) -> S {
        self.stream
    }

    fn check_open(&mut self) -> Result<(), Error> {
        match std::mem::replace(&mut self.end, End::Done) {
            End::Open => {
                self.end = End::Open;
                Ok(())
            }
            End::Closed(cause) => Err(Error::ConnectionClosed(cause)),
            End::Done => Err(Error::AlreadyClosed),
        }
    }

    fn queue(&mut self, message: &Message) -> Result<(), SendError> {
        match message {
            Message::Text(text) => self.conn.send_text(text),
            Message::Binary(data) => self.conn.send_binary(data),
            Message::Ping(data) => self.conn.send_ping(data),
            Message::Pong(data) => self.conn.send_pong(data),
            Message::Close(Some(frame)) => self.conn.close(frame.code, &frame.reason),
            Message::Close(None) => self.conn.close(CloseCode::NO_STATUS, ""),
        }
    }

    /// The next event, as far as the application is concerned.
    fn poll_step(&mut self) -> Option<Step> {
        Some(match self.conn.poll_event(&mut self.buf)? {
            Event::Text(text) => Step::Data {
                text: true,
                len: text.len(),
            },
            Event::Binary(data) => Step::Data {
                text: false,
                len: data.len(),
            },
            Event::Ping(data) => Step::Message(Message::Ping(Bytes::copy_from_slice(data))),
            Event::Pong(data) => Step::Message(Message::Pong(Bytes::copy_from_slice(data))),
            Event::Closed(closed) => {
                let outcome = match closed.cause {
                    CloseCause::PeerClose | CloseCause::LocalClose => Ok(Message::Close(
                        (closed.code != CloseCode::NO_STATUS).then(|| CloseFrame {
                            code: closed.code,
                            reason: closed.reason.into(),
                        }),
                    )),
                    CloseCause::ProtocolError(e) => Err(Error::Protocol(e)),
                    cause => Err(handshake_error(cause)),
                };
                Step::End {
                    outcome,
                    cause: closed.cause,
                }
            }
            _ => Step::Nothing,
        })
    }

    /// The message of a [`Step::Data`], taken out of the event buffer without a copy.
    fn take_message(&mut self, text: bool, len: usize) -> Message {
        let data = if self.buf.len() == len {
            Bytes::from(std::mem::take(&mut self.buf))
        } else {
            Bytes::copy_from_slice(&self.buf[..len])
        };
        if text {
            // The connection checked the UTF-8 of every text message it reports.
            Message::Text(Utf8Bytes::from_validated(data))
        } else {
            Message::Binary(data)
        }
    }

    /// Writes the queued output, then waits for input until the connection's next
    /// deadline, and tells it the time.
    fn wait(&mut self) -> Result<(), Error> {
        self.flush()?;
        self.read_input(None)?;
        self.conn.handle_timeout(Instant::now());
        Ok(())
    }

    /// One read: input, end of stream, or nothing by the connection's next deadline (or
    /// after `limit`, if sooner).
    fn read_input(&mut self, limit: Option<Duration>) -> Result<(), Error> {
        let due = self.conn.poll_timeout().map(|at| {
            Instant::from(at)
                .saturating_duration_since(Instant::now())
                .max(MIN_TIMEOUT)
        });
        let timeout = match (due, limit) {
            (Some(due), Some(limit)) => Some(due.min(limit)),
            (due, limit) => due.or(limit),
        };
        self.stream.set_read_timeout(timeout)?;
        let mut input = self.conn.read_buf();
        match self.stream.read(&mut input) {
            Ok(0) => {
                drop(input);
                self.conn.handle_eof();
                Ok(())
            }
            Ok(n) => {
                input.commit(n);
                Ok(())
            }
            Err(e) if is_timeout(&e) => Ok(()),
            Err(e) => {
                drop(input);
                Err(self.stream.error(e))
            }
        }
    }

    /// Writes everything queued, each write bounded by `timeout`.
    fn write_out(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        if self.conn.buffered_amount() > 0 {
            self.stream.set_write_timeout(timeout)?;
            // A TLS stream may read while it writes (rustls completes pending IO): bound
            // that read too.
            self.stream.set_read_timeout(timeout)?;
        }
        loop {
            let out = self.conn.poll_transmit();
            if out.is_empty() {
                break;
            }
            match self.stream.write(&out) {
                Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(write_timeout_error()),
                Err(e) => return Err(self.stream.error(e)),
            }
        }
        match self.stream.flush() {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) => Err(write_timeout_error()),
            Err(e) => Err(self.stream.error(e)),
        }
    }

    /// After the connection's last event: finishes the closing (the Close echo written, a
    /// client waiting for the server to close TCP) as long as the connection says, then
    /// closes the stream, with a lingering close if `linger`. Failures just end it.
    fn finish(&mut self, linger: bool) {
        while !self.conn.should_close_transport() {
            if self.flush().is_err() || self.conn.should_close_transport() {
                break;
            }
            if self.read_input(None).is_err() {
                break;
            }
            self.conn.handle_timeout(Instant::now());
        }
        let _ = self.stream.shutdown_write();
        if linger {
            self.linger();
        }
    }

    /// Reads and discards until the peer closes, for [`LINGER`] at most: closing a socket
    /// with unread input makes the kernel send a reset, which can destroy our last bytes
    /// (the Close frame, an HTTP answer) before the peer reads them.
    fn linger(&mut self) {
        let deadline = Instant::now() + LINGER;
        let mut sink = [0u8; 4096];
        while let Some(left) = time_left(deadline) {
            if self.stream.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.stream.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

fn write_timeout_error() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        "the peer read nothing within the write timeout",
    ))
}

/// Ends that came from a deadline: the peer is unresponsive, lingering would only wait.
fn is_timeout_cause(cause: CloseCause) -> bool {
    matches!(
        cause,
        CloseCause::CloseTimeout
            | CloseCause::KeepaliveTimeout
            | CloseCause::HandshakeFailed(HandshakeError::Timeout)
    )
}

/// The error of a connection that ended without a Close exchange.
fn handshake_error(cause: CloseCause) -> Error {
    match cause {
        CloseCause::HandshakeFailed(e) => Error::Handshake(e),
        CloseCause::ProtocolError(e) => Error::Protocol(e),
        cause => Error::ConnectionClosed(cause),
    }
}
