//! Messages encoded once and sent on many connections ([`PreparedMessage`]).

use alloc::string::String;
use alloc::vec::Vec;

use super::Connection;
#[cfg(feature = "deflate")]
use super::{RSV1, Role};
#[cfg(feature = "deflate")]
use crate::deflate::{Settings, compress_fresh};
use crate::error::SendError;
use crate::frame::OpCode;

/// A text or binary message prepared once, to be sent on many connections with
/// [`Connection::send_prepared`]: a broadcast compresses each message once instead of
/// once per connection.
///
/// It holds the payload, and, computed on first need and then shared, the payload
/// compressed for servers whose permessage-deflate agreement makes it the same for every
/// connection: `server_no_context_takeover` (every message compressed from a fresh state),
/// for each combination of window bits, level and memory level in use (usually one). What
/// each connection gets is exactly what [`send_text`](Connection::send_text) or
/// [`send_binary`](Connection::send_binary) would have queued:
///
/// | connection | frames queued |
/// |---|---|
/// | no permessage-deflate, or a message under `min_message_size`, or an 8-bit window | the payload uncompressed, framed per connection (no copy besides the queue's) |
/// | server with `server_no_context_takeover` agreed | the shared compressed payload |
/// | server with context takeover, or any client | compressed by the connection's own compressor, as `send_text` does: the context is the connection's, and a client's frames are masked with a key of their own |
///
/// It is `Send` and `Sync`: one message can be sent from many threads (the shared
/// compressed bytes are computed once, behind a lock).
///
/// ```
/// use ws_proto::{Config, Connection, Negotiated, PreparedMessage, Role, Timestamp};
///
/// let mut connections: Vec<Connection> = (0..3)
///     .map(|_| Connection::upgraded(Role::Server, Negotiated::new(), Config::default(), Timestamp::ZERO))
///     .collect();
/// let message = PreparedMessage::text(r#"{"event":"tick","price":101.5}"#);
/// for connection in &mut connections {
///     connection.send_prepared(&message)?;
/// }
/// assert_eq!(&connections[0].poll_transmit()[2..], message.payload());
/// # Ok::<(), ws_proto::SendError>(())
/// ```
#[derive(Debug)]
pub struct PreparedMessage {
    opcode: OpCode,
    payload: Vec<u8>,
    /// Compressed payloads by compressor settings.
    #[cfg(feature = "deflate")]
    compressed: std::sync::Mutex<Vec<(Settings, std::sync::Arc<[u8]>)>>,
}

impl PreparedMessage {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(OpCode::Text, text.into().into_bytes())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Self::new(OpCode::Binary, data.into())
    }

    fn new(opcode: OpCode, payload: Vec<u8>) -> Self {
        PreparedMessage {
            opcode,
            payload,
            #[cfg(feature = "deflate")]
            compressed: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The message's payload (the text's UTF-8 bytes for a text message).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        self.opcode == OpCode::Text
    }

    /// The payload compressed from a fresh state with `settings`, computed once.
    #[cfg(feature = "deflate")]
    fn compressed(&self, settings: Settings) -> std::sync::Arc<[u8]> {
        // A panic while the lock was held cannot leave a wrong entry: entries are pushed
        // whole.
        let mut cache = self
            .compressed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, bytes)) = cache.iter().find(|(s, _)| *s == settings) {
            return bytes.clone();
        }
        let bytes: std::sync::Arc<[u8]> = compress_fresh(settings, &self.payload).into();
        cache.push((settings, bytes.clone()));
        bytes
    }
}

impl Connection {
    /// Sends a [`PreparedMessage`]: queues exactly the bytes [`send_text`](Self::send_text)
    /// (or [`send_binary`](Self::send_binary)) would for its payload, with the same checks
    /// and errors (the connection must be open, no streamed message in progress, the
    /// outbound limit [`Backpressure`](SendError::Backpressure)), but reusing the
    /// message's shared compressed payload where this connection's permessage-deflate
    /// agreement allows (a server with `server_no_context_takeover`; see the table on
    /// [`PreparedMessage`]). Otherwise it compresses for this connection, like `send_text`.
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        if self.role == Role::Server && self.compresses(message.payload.len()) {
            if let Some(settings) = self.deflater.as_ref().and_then(|d| d.shareable()) {
                self.check_open()?;
                if self.sending.is_some() {
                    return Err(SendError::MessageInProgress);
                }
                let compressed = message.compressed(settings);
                return self.send_frames(message.opcode, RSV1, &compressed, true);
            }
        }
        self.send_message(message.opcode, &message.payload)
    }
}
