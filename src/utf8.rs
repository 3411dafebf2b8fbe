//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! A text message may be split anywhere, even inside a code point, across frames and
//! across reads. [`Utf8Validator`] carries at most three bytes of an unfinished code point
//! from one piece to the next and fails at the first byte that makes the input invalid,
//! without waiting for the end of the message (RFC 6455 §8.1: fail fast with 1007).

/// The input is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

/// Validates a stream of bytes as UTF-8, one piece at a time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Utf8Validator {
    /// Bytes of a code point that the previous piece left unfinished.
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// The bytes of an unfinished code point carried from earlier pieces (0 to 3 bytes).
    pub(crate) fn pending(&self) -> &[u8] {
        &self.partial[..usize::from(self.partial_len)]
    }

    /// Validates the next piece.
    ///
    /// On success, an unfinished code point at the end of the input so far is kept in the
    /// validator ([`pending`](Self::pending)): the earlier pending bytes followed by
    /// `piece`, less the new pending bytes, end on a code-point boundary.
    pub(crate) fn feed(&mut self, piece: &[u8]) -> Result<(), InvalidUtf8> {
        let mut rest = piece;
        if self.partial_len > 0 {
            // Finish the carried code point with bytes from this piece.
            let have = usize::from(self.partial_len);
            let need = sequence_len(self.partial[0]) - have;
            let take = need.min(rest.len());
            let mut buf = self.partial;
            buf[have..have + take].copy_from_slice(&rest[..take]);
            match simdutf8::compat::from_utf8(&buf[..have + take]) {
                Ok(_) => {
                    self.partial_len = 0;
                    rest = &rest[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    // Still unfinished: the piece was too short to complete it.
                    self.partial = buf;
                    self.partial_len = (have + take) as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match simdutf8::compat::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &rest[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Whether the stream so far ends on a code-point boundary (required at message end).
    pub(crate) fn is_complete(&self) -> bool {
        self.partial_len == 0
    }

    /// Forgets any carried bytes, ready for the next message.
    pub(crate) fn reset(&mut self) {
        self.partial_len = 0;
    }
}

/// `bytes` as `&str`, without validating them a second time: one of the crate's two places
/// allowed `unsafe` (the other is the vector masking module). A text message that arrives in pieces is validated as the pieces arrive (to fail
/// fast); converting it with `from_utf8` afterwards would read every byte again, about a
/// quarter of the receive cost of large text (`docs/performance.md`).
///
/// Debug builds (the tests, the fuzz targets) validate anyway and panic on a broken promise.
///
/// # Safety
///
/// `bytes` is valid UTF-8: every byte of it went, in order, through one
/// [`Utf8Validator`] since its last reset, which accepted them all and ended complete (or
/// `bytes` ends just before the validator's [`pending`](Utf8Validator::pending) bytes).
#[allow(unsafe_code)]
pub(crate) unsafe fn assume_valid(bytes: &[u8]) -> &str {
    debug_assert!(
        core::str::from_utf8(bytes).is_ok(),
        "text passed as validated is not UTF-8"
    );
    // SAFETY: the caller promises valid UTF-8 (see the function's contract), which is all
    // `from_utf8_unchecked` requires.
    unsafe { core::str::from_utf8_unchecked(bytes) }
}

/// Length of the sequence that a valid leading byte starts. Only called on bytes that
/// `from_utf8` already accepted as the start of an incomplete sequence (0xC2..=0xF4).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// Feeds `pieces` and returns the index of the piece that failed, if any.
    fn run(pieces: &[&[u8]]) -> Result<bool, usize> {
        let mut v = Utf8Validator::default();
        for (i, p) in pieces.iter().enumerate() {
            v.feed(p).map_err(|_| i)?;
        }
        Ok(v.is_complete())
    }

    #[test]
    fn code_points_split_anywhere_are_accepted() {
        let text = "aé€😀z".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(run(&[&text[..a], &text[a..b], &text[b..]]), Ok(true));
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let text = "κόσμε 😀".as_bytes();
        let pieces: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(run(&pieces), Ok(true));
    }

    #[test]
    fn invalid_sequences_fail_as_soon_as_decidable() {
        // Overlong "/" (C0 AF): C0 can never start a sequence, so the first piece fails.
        assert_eq!(run(&[b"ab\xc0", b"\xaf"]), Err(0));
        // Surrogate U+D800 (ED A0 80): decidable at the second byte.
        assert_eq!(run(&[b"\xed", b"\xa0", b"\x80"]), Err(1));
        // Above U+10FFFF (F4 90 ...): decidable at the second byte.
        assert_eq!(run(&[b"\xf4", b"\x90\x80\x80"]), Err(1));
        // F5..FF never appear.
        for b in 0xF5..=0xFFu8 {
            assert_eq!(run(&[b"ok", &[b]]), Err(1));
        }
        // A valid lead followed by a non-continuation byte in the next piece.
        assert_eq!(run(&[b"\xe2\x82", b"A"]), Err(1));
    }

    #[test]
    fn ending_mid_sequence_is_incomplete() {
        assert_eq!(run(&[b"abc\xe2\x82"]), Ok(false));
        assert_eq!(run(&[b"\xf0", b"\x9f", b"\x98"]), Ok(false));
    }

    #[test]
    fn pending_reports_the_carried_bytes() {
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(b"x\xf0\x9f"), Ok(()));
        assert_eq!(v.pending(), b"\xf0\x9f");
        assert_eq!(v.feed(b"\x98"), Ok(()));
        assert_eq!(v.pending(), b"\xf0\x9f\x98");
        assert_eq!(v.feed(b"\x80!"), Ok(()));
        assert_eq!(v.pending(), b"");
        assert!(v.is_complete());
    }

    proptest! {
        #[test]
        fn agrees_with_from_utf8(data in proptest::collection::vec(any::<u8>(), 0..64),
                                 cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut pieces = Vec::new();
            let mut last = 0;
            for c in cuts { pieces.push(&data[last..c]); last = c; }
            pieces.push(&data[last..]);
            let ours = run(&pieces).unwrap_or_default();
            prop_assert_eq!(ours, core::str::from_utf8(&data).is_ok());
        }
    }
}
