//! Close codes (RFC 6455 §7.4) and every rule about which may be sent or received.
//!
//! All close-code policy of the crate lives here: what the application may put on the
//! wire, what a peer may send us, and the codes that are only ever *reported* (1005, 1006,
//! 1015).

use core::fmt;

/// A WebSocket close status code.
///
/// A thin wrapper around the `u16` on the wire, with named constants for the registered
/// codes. Construct any value with `CloseCode(n)` or `CloseCode::from(n)`; whether it may be
/// sent is checked when it is used ([`CloseCode::is_sendable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary to a text-only endpoint).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reported when a Close frame carried no code. Never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reported when the transport ended without a Close frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: payload data inconsistent with the message type (e.g. invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a frame or message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected the server to negotiate an extension it did not.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (e.g. overloaded).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway got an invalid response from upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reported when the TLS handshake failed. Never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a Close frame on the wire, in either direction.
    ///
    /// Valid: 1000–1003, 1007–1014 (the IANA registry, less the reserved and
    /// report-only codes), and 3000–4999 (libraries, frameworks and applications).
    /// Everything else (0–999, 1004–1006, 1015–2999, ≥ 5000) is invalid: an application
    /// may not send it and a peer that sends it has broken the protocol (1002).
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Longest close reason that fits a control frame: 125 bytes minus the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// Why a received Close frame body is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseBodyError {
    /// A body of exactly one byte (1002).
    OneByte,
    /// A code that may not be sent (1002).
    InvalidCode(u16),
    /// A reason that is not UTF-8 (1007).
    InvalidUtf8,
}

/// Parses a received Close body into the code to report and the reason.
///
/// An empty body reports [`CloseCode::NO_STATUS`] (1005) with an empty reason.
pub(crate) fn parse_close_body(body: &[u8]) -> Result<(CloseCode, &str), CloseBodyError> {
    match body {
        [] => Ok((CloseCode::NO_STATUS, "")),
        [_] => Err(CloseBodyError::OneByte),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(CloseBodyError::InvalidCode(code.0));
            }
            let reason = core::str::from_utf8(reason).map_err(|_| CloseBodyError::InvalidUtf8)?;
            Ok((code, reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_match_the_registry() {
        let valid: alloc::vec::Vec<u16> = (0..=u16::MAX)
            .filter(|&c| CloseCode(c).is_sendable())
            .collect();
        let expected: alloc::vec::Vec<u16> = (1000..=1003)
            .chain(1007..=1014)
            .chain(3000..=4999)
            .collect();
        assert_eq!(valid, expected);
        for never in [1004, 1005, 1006, 1015, 999, 2999, 5000, 0] {
            assert!(!CloseCode(never).is_sendable(), "{never}");
        }
    }

    #[test]
    fn close_body_parsing() {
        assert_eq!(parse_close_body(b""), Ok((CloseCode::NO_STATUS, "")));
        assert_eq!(parse_close_body(b"\x03"), Err(CloseBodyError::OneByte));
        assert_eq!(parse_close_body(b"\x03\xe8"), Ok((CloseCode::NORMAL, "")));
        assert_eq!(
            parse_close_body(b"\x0f\xa0bye"),
            Ok((CloseCode(4000), "bye"))
        );
        assert_eq!(
            parse_close_body(b"\x03\xed"),
            Err(CloseBodyError::InvalidCode(1005))
        );
        assert_eq!(
            parse_close_body(b"\x03\xe8\xff"),
            Err(CloseBodyError::InvalidUtf8)
        );
    }
}
