//! The opening phase of a [`Connection`]: reading the HTTP upgrade, the application's
//! answer (`accept` / `respond`), the client's check of the response, and the handshake
//! timeout's consequences.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Connection, Phase};
use crate::close::CloseCode;
#[cfg(feature = "deflate")]
use crate::deflate;
use crate::error::HandshakeError;
use crate::event::{CloseCause, Closed, Event};
use crate::handshake::{
    Accept, AcceptError, Negotiated, accept_headers, encode_101, parse_request, parse_response,
    reject_response,
};
use crate::timer::Timer;

impl Connection {
    /// (Server) Accepts the pending [`Event::Request`]: queues the `101 Switching
    /// Protocols` response with the chosen subprotocol, extensions and extra headers, and
    /// opens the connection. Frames the client sent early are decoded next.
    ///
    /// Choosing a subprotocol or extension the client did not offer, or an invalid header,
    /// returns an error and changes nothing (answer again, or [`respond`](Self::respond)).
    pub fn accept(&mut self, accept: &Accept) -> Result<(), AcceptError> {
        let Phase::ServerHandshake {
            request: Some(request),
            ..
        } = &self.phase
        else {
            return Err(AcceptError::NoPendingRequest);
        };
        let (headers, negotiated) = accept_headers(request, accept, &self.config)?;
        self.tx.push_raw(&encode_101(&headers));
        self.phase = Phase::Open;
        self.on_open(negotiated);
        Ok(())
    }

    /// (Server) Answers the pending request with an HTTP response instead of opening the
    /// WebSocket: refuse an upgrade with any final status (403 for an unwelcome `Origin`,
    /// 401 without credentials, 404 for an unknown path). The response carries the extra
    /// headers, the body and `Connection: close`. The connection is then finished
    /// ([`State::Closed`](super::State::Closed), no further event): write the response and
    /// close the transport.
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), AcceptError> {
        if !matches!(
            self.phase,
            Phase::ServerHandshake {
                request: Some(_),
                ..
            }
        ) {
            return Err(AcceptError::NoPendingRequest);
        }
        let response = reject_response(status, headers, body)?;
        self.tx.push_raw(&response);
        self.refuse();
        Ok(())
    }

    /// Drives the opening handshake: finds the HTTP head in the input and acts on it.
    pub(super) fn poll_handshake<'b>(&mut self, buf: &'b mut Vec<u8>) -> Option<Event<'b>> {
        let live = self.rx.live();
        match &mut self.phase {
            Phase::ServerHandshake {
                request: Some(_), ..
            } => None, // waiting for accept() or respond()
            Phase::ServerHandshake { parser, request } => match parser.advance(live) {
                Ok(Some(head_len)) => match parse_request(&live[..head_len]) {
                    Ok(parsed) => {
                        let parsed = Box::new(parsed);
                        *request = Some(parsed.clone());
                        // After an upgrade request's head come frames, decoded once
                        // accepted; after a plain request's, nothing is read (a body or a
                        // pipelined request): the answer ends the connection.
                        self.rx.consume(head_len);
                        Some(if parsed.is_upgrade() {
                            Event::Request(parsed)
                        } else {
                            Event::HttpRequest(parsed)
                        })
                    }
                    Err(e) => {
                        self.tx.push_raw(&e.response());
                        Some(self.fail_handshake(HandshakeError::Request(e)))
                    }
                },
                Ok(None) => self.handshake_eof(),
                Err(e) => {
                    self.tx.push_raw(&e.response());
                    Some(self.fail_handshake(HandshakeError::Head(e)))
                }
            },
            Phase::ClientHandshake {
                parser,
                request,
                key,
            } => match parser.advance(live) {
                Ok(Some(head_len)) => match parse_response(&live[..head_len], request, key) {
                    Ok(response) if response.status() == 101 => {
                        let mut negotiated = Negotiated::new();
                        if let Some(subprotocol) = response.subprotocol() {
                            negotiated = negotiated.with_subprotocol(subprotocol);
                        }
                        #[cfg(feature = "deflate")]
                        match deflate::check_response(&self.config.deflate, response.extensions()) {
                            Ok(Some(params)) => negotiated = negotiated.with_deflate(params),
                            Ok(None) => {}
                            Err(e) => {
                                let e = crate::handshake::ResponseError::Deflate(e);
                                return Some(self.fail_handshake(HandshakeError::Response(e)));
                            }
                        }
                        self.rx.consume(head_len);
                        self.phase = Phase::Open;
                        self.on_open(negotiated);
                        Some(Event::Connected(Box::new(response)))
                    }
                    Ok(response) => {
                        self.rx.consume(head_len);
                        let limit = self.config.max_head_size;
                        let remaining = response
                            .content_length()
                            .map_or(limit, |n| usize::try_from(n).unwrap_or(limit).min(limit));
                        self.phase = Phase::ClientRejected {
                            response: Box::new(response),
                            remaining,
                        };
                        self.poll_handshake(buf)
                    }
                    Err(e) => Some(self.fail_handshake(HandshakeError::Response(e))),
                },
                Ok(None) => self.handshake_eof(),
                Err(e) => Some(self.fail_handshake(HandshakeError::Head(e))),
            },
            Phase::ClientRejected { remaining, .. } => {
                // Without Content-Length the body runs to the end of the transport.
                if live.len() < *remaining && !self.eof {
                    return None;
                }
                let n = live.len().min(*remaining);
                buf.clear();
                buf.extend_from_slice(&live[..n]);
                let Phase::ClientRejected { response, .. } =
                    core::mem::replace(&mut self.phase, Phase::Refused)
                else {
                    return None;
                };
                self.refuse();
                let status = response.status();
                self.deferred_event = Some(Event::Closed(Closed {
                    code: CloseCode::ABNORMAL,
                    reason: "",
                    was_clean: false,
                    cause: CloseCause::HandshakeFailed(HandshakeError::Rejected(status)),
                }));
                Some(Event::Rejected {
                    response,
                    body: buf,
                })
            }
            Phase::Open | Phase::Refused => None,
        }
    }

    /// The transport ended before the handshake finished: report 1006 once.
    pub(super) fn handshake_eof<'b>(&mut self) -> Option<Event<'b>> {
        if !self.eof {
            return None;
        }
        self.refuse();
        Some(self.end_abnormally(CloseCause::Eof))
    }

    pub(super) fn fail_handshake<'b>(&mut self, error: HandshakeError) -> Event<'b> {
        self.refuse();
        self.failed = true;
        Event::Closed(Closed {
            code: CloseCode::ABNORMAL,
            reason: "",
            was_clean: false,
            cause: CloseCause::HandshakeFailed(error),
        })
    }

    /// Ends the handshake phase without opening; what is queued (an HTTP answer) gets
    /// the close timeout to drain.
    pub(super) fn refuse(&mut self) {
        self.phase = Phase::Refused;
        self.finish();
        self.timers.stop(Timer::Handshake);
        self.timers.set(Timer::Close, self.config.close_timeout);
    }

    /// The connection just opened with what the handshake `negotiated`.
    pub(super) fn on_open(&mut self, negotiated: Negotiated) {
        #[cfg(feature = "deflate")]
        if let Some(params) = negotiated.deflate() {
            self.start_deflate(params);
        }
        self.negotiated = negotiated;
        self.timers.stop(Timer::Handshake);
        self.timers
            .set(Timer::Keepalive, self.config.keepalive_interval);
    }
}
