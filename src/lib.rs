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
//! - [`Connection::server`] on a freshly accepted stream: it reads the HTTP request and
//!   reports [`Event::Request`] for a WebSocket upgrade (answer with
//!   [`Connection::accept`] or [`Connection::respond`]).
//! - [`Connection::client`] on a freshly connected stream, from a [`ClientRequest`] built
//!   from a `ws://` URL; the answer is [`Event::Connected`] or [`Event::Rejected`].
//! - [`Connection::upgraded`] when another HTTP stack (hyper, axum...) did the upgrade,
//!   with the [`Negotiated`] that [`handshake::accept_headers`] (server) or
//!   [`handshake::verify_response`] (client) returned.
//!
//! # Driving it
//!
//! Bytes in ([`Connection::read_buf`] or [`Connection::handle_bytes`]), events out
//! ([`Connection::poll_event`]), bytes to send ([`Connection::poll_transmit`]). Reading
//! and writing go through guards ([`ReadBuf`], [`Transmit`]) that borrow the connection
//! until the count is reported, so no byte can be lost or sent twice. Every connection
//! ends with exactly one [`Event::Closed`], which says how (code, reason, whether the
//! closing handshake completed, and the [`CloseCause`]).
//!
//! # Time
//!
//! The connection reads no clock: time is a [`Timestamp`] passed in, at creation (which
//! arms the handshake deadline) and with [`Connection::handle_timeout`] on every wake-up.
//! Sleep until [`Connection::poll_timeout`]. That drives the handshake, close, keepalive
//! and idle deadlines of [`Config`].
//!
//! # Example: an echo loop
//!
//! ```
//! use ws_proto::{CloseCause, CloseCode, Config, Connection, Event, Negotiated, Role, Timestamp};
//!
//! // Two ends wired together in memory (a server after the HTTP upgrade). `now` is the
//! // driver's clock: a `Timestamp` from a `std::time::Instant`, or a `Duration` since an
//! // origin of its choosing.
//! let now = Timestamp::ZERO;
//! let mut client = Connection::upgraded(Role::Client, Negotiated::new(), Config::default(), now);
//! let mut server = Connection::upgraded(Role::Server, Negotiated::new(), Config::default(), now);
//! client.send_text("hello")?;
//! client.close(CloseCode::NORMAL, "done")?;
//! let wire = client.poll_transmit().to_vec(); // stands for a socket
//!
//! // A server's read loop: read into the connection's buffer, commit the count.
//! let mut read_buf = server.read_buf();
//! read_buf[..wire.len()].copy_from_slice(&wire);
//! read_buf.commit(wire.len());
//!
//! let mut buf = Vec::new(); // reused for every event: no allocation per message
//! while let Some(event) = server.poll_event(&mut buf) {
//!     match event {
//!         // The event borrows `buf`, not `server`: replying needs no copy.
//!         Event::Text(text) => server.send_text(text)?,
//!         Event::Binary(data) => server.send_binary(data)?,
//!         Event::Closed(closed) => {
//!             assert_eq!(closed.cause, CloseCause::PeerClose);
//!             println!("peer closed: {} {}", closed.code, closed.reason);
//!         }
//!         _ => {}
//!     }
//! }
//! assert!(server.is_finished());
//!
//! // The echo and the reply to the Close are queued: write them, report what was written.
//! let out = server.poll_transmit();
//! let reply = out.to_vec();
//! out.advance(reply.len());
//! assert!(server.should_close_transport());
//!
//! client.handle_bytes(&reply);
//! assert_eq!(client.poll_event(&mut buf), Some(Event::Text("hello")));
//! let Some(Event::Closed(closed)) = client.poll_event(&mut buf) else { panic!() };
//! assert_eq!((closed.code, closed.reason, closed.was_clean), (CloseCode::NORMAL, "done", true));
//! assert_eq!(closed.cause, CloseCause::LocalClose);
//! # Ok::<(), ws_proto::SendError>(())
//! ```
//!
//! # Features
//!
//! - `deflate` (default): permessage-deflate (RFC 7692), negotiated automatically from
//!   [`Config::deflate`]; needs `std`. See `docs/deflate.md`. Without it the negotiation
//!   functions of [`deflate`] remain, but no connection compresses.
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
// `unsafe` is allowed in two audited places only: `utf8::assume_valid`, and the vector
// masking module `mask::simd` (see docs/security.md).
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// Chainable `with_*` setters for a settings struct with public fields, one per field.
macro_rules! with_setters {
    ($type:ty; $($(#[$doc:meta])* $with:ident => $field:ident: $ty:ty;)*) => {
        impl $type {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $with(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

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
pub use connection::{Connection, PreparedMessage, ReadBuf, Role, State, Transmit};
pub use deflate::{DeflateConfig, DeflateMemory, DeflateParams};
pub use error::{HandshakeError, ProtocolError, SendError};
pub use event::{CloseCause, Closed, Event};
pub use frame::FrameHead;
pub use handshake::{
    Accept, AcceptError, ClientRequest, Negotiated, Request, Response, accept_key,
};
#[cfg(feature = "std")]
pub use rng::OsRng;
pub use rng::Rng;
pub use time::Timestamp;

/// Internals reached by the fuzz targets (`fuzz/`). Not part of the API: it may change or go
/// away in any release.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::mask::simd::{
        MaskFn, extend_masked as mask_extend, implementations as mask_implementations,
    };
}

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
