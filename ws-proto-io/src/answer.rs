//! [`Answer`]: how a server answers an opening request, in both drivers.

use ws_proto::Accept;

/// A server's answer to an opening request, returned by the callback of
/// `blocking::WebSocket::accept_with` or `tokio::accept_with`. The callback sees every
/// request, a WebSocket upgrade or a plain HTTP request (`Request::is_upgrade`), so one
/// port can serve a page and WebSockets.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// Open the WebSocket (only for an upgrade request; a plain request answered so gets
    /// `426 Upgrade Required`): the subprotocol (one the client offered), extra headers.
    /// permessage-deflate is negotiated from `Config::deflate`.
    Accept(Accept),
    /// Answer with this HTTP response instead, then close the connection: a page for a
    /// plain request, a redirect, a refusal (401, 403, 404...) for an upgrade.
    Respond {
        /// The status (200..=999, not 101).
        status: u16,
        /// Extra headers (`Content-Length` and `Connection: close` are added).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
}

impl Answer {
    /// Accept the upgrade, without a subprotocol.
    pub fn accept() -> Answer {
        Answer::Accept(Accept::default())
    }

    /// Accept the upgrade with this subprotocol (one the client offered).
    pub fn accept_subprotocol(subprotocol: impl Into<String>) -> Answer {
        Answer::Accept(Accept {
            subprotocol: Some(subprotocol.into()),
            ..Accept::default()
        })
    }

    /// An HTTP response with this status and body (add a `Content-Type` with
    /// [`header`](Self::header), or use [`text`](Self::text) / [`html`](Self::html)).
    pub fn respond(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer::Respond {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// An HTTP response with a `text/plain` body.
    pub fn text(status: u16, body: impl Into<String>) -> Answer {
        Answer::respond(status, body.into()).header("Content-Type", "text/plain; charset=utf-8")
    }

    /// An HTTP response with a `text/html` body.
    pub fn html(status: u16, body: impl Into<String>) -> Answer {
        Answer::respond(status, body.into()).header("Content-Type", "text/html; charset=utf-8")
    }

    /// `426 Upgrade Required`: the answer `accept` (without a callback) gives a plain
    /// HTTP request.
    pub fn upgrade_required() -> Answer {
        Answer::text(426, "this is a WebSocket endpoint\n").header("Upgrade", "websocket")
    }

    /// Adds a header to the 101 or to the response.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Answer {
        let header = (name.into(), value.into());
        match &mut self {
            Answer::Accept(accept) => accept.headers.push(header),
            Answer::Respond { headers, .. } => headers.push(header),
        }
        self
    }
}
