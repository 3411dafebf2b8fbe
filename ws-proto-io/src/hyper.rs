//! Upgrading a hyper (or axum) request into a [`WebSocketStream`]: ws-proto checks the
//! request and negotiates the subprotocol and permessage-deflate; hyper writes the `101`
//! and hands over the connection.
//!
//! ```no_run
//! use axum::{body::Body, extract::Request, http::Response};
//! use futures_util::{SinkExt, StreamExt};
//! use ws_proto_io::{hyper::upgrade, ws_proto::{Accept, Config}};
//!
//! async fn handler(mut request: Request) -> Response<Body> {
//!     let (response, upgrade) = match upgrade(&mut request, Config::default(), |_| Accept::default()) {
//!         Ok(answer) => answer,
//!         Err(refused) => return refused.response().map(Body::from),
//!     };
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = upgrade.await else { return };
//!         while let Some(Ok(message)) = ws.next().await {
//!             if ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//!     response.map(|()| Body::empty())
//! }
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use ws_proto::handshake::accept_http;
use ws_proto::{Accept, Config, Negotiated, Request, Role};

use crate::Error;
use crate::tokio::{WebSocketStream, upgraded};

/// The stream an upgraded hyper connection gives.
pub type HyperWebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// Checks `request` as a WebSocket upgrade, lets `choose` pick the subprotocol and extra
/// headers (it sees the validated request: path, `Origin`, offered subprotocols), and
/// returns the `101 Switching Protocols` response to answer with and the [`Upgrade`] that
/// becomes the [`WebSocketStream`] once hyper has written the response. permessage-deflate
/// is negotiated from `config.deflate`.
///
/// A request that is not a valid upgrade is [`Refused`] with the status to answer
/// (400, 405, 426...).
pub fn upgrade<B>(
    request: &mut http::Request<B>,
    config: Config,
    choose: impl FnOnce(&Request) -> Accept,
) -> Result<(http::Response<()>, Upgrade), Refused> {
    let parsed = Request::from_http(request).map_err(|e| Refused {
        status: e.status(),
        message: e.message().to_owned(),
    })?;
    if !parsed.is_upgrade() {
        return Err(Refused {
            status: 426,
            message: "WebSocket upgrade required".to_owned(),
        });
    }
    let accept = choose(&parsed);
    let (response, negotiated) = accept_http(&parsed, &accept, &config).map_err(|e| Refused {
        status: 500,
        message: e.to_string(),
    })?;
    let on_upgrade = hyper::upgrade::on(request);
    Ok((
        response,
        Upgrade {
            on_upgrade,
            negotiated,
            config,
        },
    ))
}

/// A request that cannot be upgraded: the status and a short message to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// What was wrong.
    pub message: String,
}

impl Refused {
    /// The response to answer with: the status, a plain-text body, and for 426 the
    /// `Upgrade` and `Sec-WebSocket-Version` headers that say what is expected.
    pub fn response(&self) -> http::Response<String> {
        let mut response = http::Response::new(format!("{}\n", self.message));
        *response.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::BAD_REQUEST);
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.status == 426 {
            headers.insert(
                http::header::UPGRADE,
                http::HeaderValue::from_static("websocket"),
            );
            headers.insert(
                http::header::SEC_WEBSOCKET_VERSION,
                http::HeaderValue::from_static("13"),
            );
        }
        response
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Refused {}

/// The connection after the `101`: await it (in a task of its own, after returning the
/// response to hyper) to get the [`WebSocketStream`].
#[derive(Debug)]
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    negotiated: Negotiated,
    config: Config,
}

impl Upgrade {
    /// What the handshake agreed on (subprotocol, permessage-deflate).
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }
}

impl IntoFuture for Upgrade {
    type Output = Result<HyperWebSocket, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let io = self.on_upgrade.await.map_err(std::io::Error::other)?;
            Ok(upgraded(
                TokioIo::new(io),
                Role::Server,
                self.negotiated,
                self.config,
            ))
        })
    }
}
