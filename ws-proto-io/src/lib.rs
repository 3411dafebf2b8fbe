//! Ready drivers for [`ws_proto`], the sans-IO WebSocket core: the IO loops every user needs,
//! so that a `Connection` never has to be driven by hand.
//!
//! - [`blocking`]: `blocking::WebSocket` over any `Read + Write` stream (a `TcpStream`,
//!   a rustls stream): `accept`, `accept_with`, `connect`, `read`, `send`, `close`.
//! - `tokio` (feature `tokio`): `tokio::WebSocketStream`, a `futures` `Stream` + `Sink` of
//!   [`Message`]s over any `AsyncRead + AsyncWrite`, cancel-safe, splittable.
//! - `tls` (feature `tls`): `wss://` for both drivers over rustls.
//! - `hyper` (feature `hyper`): upgrading a hyper or axum request into a
//!   `tokio::WebSocketStream`, with the subprotocol and permessage-deflate negotiated.
//!
//! The core does the protocol; these modules only move bytes and time between it and the
//! transport.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod answer;
pub mod blocking;
mod error;
#[cfg(feature = "hyper")]
pub mod hyper;
mod message;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use answer::Answer;
pub use error::Error;
pub use message::{CloseFrame, Message, Utf8Bytes};
pub use ws_proto;
