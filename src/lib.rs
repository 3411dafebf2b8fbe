//! A sans-IO WebSocket protocol core (RFC 6455) for servers and clients.
//!
//! `ws-proto` does no IO. The caller reads bytes from its transport (a blocking socket, a
//! mio or tokio loop, an embedded TCP stack) and hands them to a [`Connection`]; the
//! connection decodes them into [`Event`]s and queues the bytes to send, which the caller
//! writes. There are no threads, clocks, callbacks or runtimes inside, so any event loop
//! can drive it and tests are deterministic.
//!
//! Data flows one way through small layers: bytes in → [`frame`] codec → message assembly
//! → [`Event`]s; commands → frames → bytes out. Close-code rules live in [`close`], the
//! opening handshake in [`handshake`], permessage-deflate in `deflate`.
//!
//! # Starting a connection
//!
//! - [`Connection::server`] on a freshly accepted stream: it reads the HTTP upgrade request,
//!   reports [`Event::Request`], and the application answers with [`Connection::accept`]
//!   or [`Connection::reject`].
//! - [`Connection::client`] on a freshly connected stream, from a [`ClientRequest`] built
//!   from a `ws://` URL; the answer is [`Event::Connected`] or [`Event::Rejected`].
//! - [`Connection::upgraded`] when another HTTP stack (hyper, axum...) did the upgrade,
//!   with the [`Negotiated`] that [`handshake::accept_headers`] (server) or
//!   [`handshake::verify_response`] (client) returned.
//!
//! # Time
//!
//! The connection keeps no clock. Pass the time in with [`Connection::handle_timeout`] on
//! every wake-up and sleep until [`Connection::poll_timeout`]: that drives the handshake,
//! close and keepalive deadlines of [`Config`].
//!
//! # Example: an echo loop
//!
//! ```
//! use ws_proto::{CloseCode, Config, Connection, Event, Role};
//!
//! // Two ends wired together in memory (a server after the HTTP upgrade).
//! let mut client = Connection::upgraded(Role::Client, ws_proto::Negotiated::new(), Config::default(), ws_proto::Timestamp::ZERO);
//! let mut server = Connection::upgraded(Role::Server, ws_proto::Negotiated::new(), Config::default(), ws_proto::Timestamp::ZERO);
//! client.send_text("hello")?;
//! client.close(CloseCode::NORMAL, "done")?;
//!
//! // What a server's read loop does with every chunk it reads.
//! let wire = client.poll_transmit().to_vec();
//! server.handle_bytes(&wire);
//! let mut buf = Vec::new(); // reused for every event: no allocation per message
//! while let Some(event) = server.poll_event(&mut buf) {
//!     match event {
//!         // The event borrows `buf`, not `server`: replying needs no copy.
//!         Event::Text(text) => server.send_text(text)?,
//!         Event::Binary(data) => server.send_binary(data)?,
//!         Event::Close { code, reason } => println!("peer closed: {code} {reason}"),
//!         _ => {}
//!     }
//! }
//! // The echo and the reply to the Close are queued; write them to the transport.
//! let out = server.poll_transmit().to_vec();
//! server.handle_transmitted(out.len());
//! assert!(server.should_close_transport());
//!
//! client.handle_bytes(&out);
//! assert_eq!(client.poll_event(&mut buf), Some(Event::Text("hello")));
//! assert!(matches!(client.poll_event(&mut buf), Some(Event::Close { .. })));
//! # Ok::<(), ws_proto::SendError>(())
//! ```
//!
//! # Features
//!
//! - `deflate` (default): permessage-deflate (RFC 7692), negotiated automatically from
//!   [`Config::deflate`]; needs `std`. See `docs/deflate.md`.
//! - `std` (default): the OS random source for client masking keys and handshake keys
//!   ([`Connection::client`], [`Connection::upgraded`]), `Instant`-based deadlines
//!   (`Timestamp` from and to `std::time::Instant`), runtime SIMD detection for UTF-8 validation.
//!   Without it the crate is `no_std` + `alloc`, and clients supply their own [`Rng`]
//!   through [`Connection::client_with_rng`] or [`Connection::upgraded_with_rng`].
//! - `http` (implies `std`): conversions with the `http` crate's types, for doing the
//!   upgrade behind hyper, axum or another stack built on them:
//!   `Request::from_http`, `handshake::accept_http`, `handshake::request_http`,
//!   `handshake::verify_http_response`. Without it the same is available as plain
//!   parts: [`Request::from_parts`], [`handshake::accept_headers`],
//!   [`handshake::request_headers`], [`handshake::verify_response`]. See
//!   `docs/handshake.md` and `examples/axum.rs`.
//! - `arbitrary`: `arbitrary::Arbitrary` for the configuration types, for fuzzing.

#![no_std]
// One audited `unsafe` block: `utf8::assume_valid`, allowed there alone.
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod close;
mod config;
mod connection;
pub mod deflate;
mod error;
mod event;
pub mod frame;
pub mod handshake;
mod mask;
mod message;
mod outbound;
mod rng;
mod time;
mod timer;
mod utf8;

pub use close::CloseCode;
pub use config::{Config, Delivery};
pub use connection::{Connection, Role, State};
pub use deflate::{DeflateConfig, DeflateParams};
pub use error::{HandshakeError, ProtocolError, SendError};
pub use event::Event;
pub use frame::FrameHead;
pub use handshake::{
    Accept, AcceptError, ClientRequest, Negotiated, Request, Response, accept_key,
};
#[cfg(feature = "std")]
pub use rng::OsRng;
pub use rng::Rng;
pub use time::Timestamp;

/// The README's example, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The permessage-deflate guide's example, compiled and run as a doctest.
#[cfg(all(doctest, feature = "deflate"))]
#[doc = include_str!("../docs/deflate.md")]
struct DeflateDoctests;

/// The handshake guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/handshake.md")]
struct HandshakeDoctests;
