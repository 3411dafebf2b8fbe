//! Incremental detection of the end of an HTTP/1.1 head in a growing buffer.

use alloc::vec::Vec;
use core::fmt;

use super::http::error_response;

/// Bounds on a head read from the peer (RFC 6455 §10: bound what a peer can make us buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// Maximum head length in bytes, including the final empty line.
    pub max_head_size: usize,
    /// Maximum number of header lines (the start line is not counted).
    pub max_headers: usize,
}

impl Default for HeadLimits {
    /// 16 KiB and 64 header lines.
    fn default() -> Self {
        HeadLimits {
            max_head_size: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// Why a head could not be delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// No end of head within `max_head_size` bytes (431).
    TooLarge,
    /// More than `max_headers` header lines (431).
    TooManyHeaders,
    /// A CR not followed by LF (400).
    BareCr,
    /// An LF not preceded by CR (400).
    BareLf,
    /// The head starts with an empty line (400).
    EmptyStartLine,
}

impl HeadError {
    /// HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge | HeadError::TooManyHeaders => 431,
            HeadError::BareCr | HeadError::BareLf | HeadError::EmptyStartLine => 400,
        }
    }

    /// Short plain-text reason.
    pub fn message(&self) -> &'static str {
        match self {
            HeadError::TooLarge => "request head too large",
            HeadError::TooManyHeaders => "too many header fields",
            HeadError::BareCr => "malformed head: CR without LF",
            HeadError::BareLf => "malformed head: LF without CR",
            HeadError::EmptyStartLine => "malformed head: empty start line",
        }
    }

    /// Complete HTTP error response (status, plain-text body, `Connection: close`).
    pub fn response(&self) -> Vec<u8> {
        error_response(self.status(), self.message(), &[])
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for HeadError {}

/// Finds where an HTTP/1.1 head ends, scanning each byte once across calls.
///
/// Feed it the whole buffer received so far each time more bytes arrive; the prefix passed
/// earlier must not change. Bytes after the head (e.g. early WebSocket frames) are left alone.
/// Only framing is checked here (CRLF, size, line count); `parse_request` / `parse_response`
/// check the content.
#[derive(Clone, Debug)]
pub struct HeadParser {
    limits: HeadLimits,
    /// Bytes before this offset are fully checked.
    pos: usize,
    /// Start of the line being read.
    line_start: usize,
    /// Complete non-empty lines seen, start line included.
    lines: usize,
    /// Sticky outcome once the head is found or refused.
    outcome: Option<Result<usize, HeadError>>,
    /// Total bytes handed to `memchr`, to test linearity.
    #[cfg(test)]
    scanned: usize,
}

impl HeadParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: HeadLimits) -> Self {
        HeadParser {
            limits,
            pos: 0,
            line_start: 0,
            lines: 0,
            outcome: None,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> HeadLimits {
        self.limits
    }

    /// Scans the new part of `buf`; returns `Ok(Some(len))` once `buf[..len]` is a full head
    /// (ending in `\r\n\r\n`), `Ok(None)` if more bytes are needed. Results are sticky. A `buf`
    /// shorter than one seen before breaks the contract and yields `Ok(None)`.
    pub fn advance(&mut self, buf: &[u8]) -> Result<Option<usize>, HeadError> {
        if let Some(outcome) = self.outcome {
            return outcome.map(Some);
        }
        let result = self.scan(buf);
        self.outcome = result.transpose();
        result
    }

    fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, HeadError> {
        let max = self.limits.max_head_size;
        let window = buf.get(..max).unwrap_or(buf);
        loop {
            let Some(rest) = window.get(self.pos..) else {
                return Ok(None);
            };
            let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
                self.count(rest.len());
                self.pos = window.len();
                break;
            };
            self.count(i + 1);
            let at = self.pos + i;
            if rest.get(i) == Some(&b'\n') {
                return Err(HeadError::BareLf);
            }
            match window.get(at + 1) {
                None => {
                    // CR is the last byte available: look at it again next time.
                    self.pos = at;
                    break;
                }
                Some(b'\n') => {}
                Some(_) => return Err(HeadError::BareCr),
            }
            let empty = at == self.line_start;
            self.pos = at + 2;
            self.line_start = self.pos;
            if empty {
                if self.lines == 0 {
                    return Err(HeadError::EmptyStartLine);
                }
                return Ok(Some(self.pos));
            }
            self.lines += 1;
            if self.lines > self.limits.max_headers.saturating_add(1) {
                return Err(HeadError::TooManyHeaders);
            }
        }
        if buf.len() >= max {
            return Err(HeadError::TooLarge);
        }
        Ok(None)
    }

    #[cfg(test)]
    fn count(&mut self, n: usize) {
        self.scanned += n;
    }

    #[cfg(not(test))]
    fn count(&mut self, _: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn limits(size: usize, headers: usize) -> HeadLimits {
        HeadLimits {
            max_head_size: size,
            max_headers: headers,
        }
    }

    fn whole(buf: &[u8], l: HeadLimits) -> Result<Option<usize>, HeadError> {
        HeadParser::new(l).advance(buf)
    }

    #[test]
    fn finds_end_and_keeps_trailing_bytes() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x80";
        assert_eq!(whole(buf, HeadLimits::default()), Ok(Some(buf.len() - 2)));
    }

    #[test]
    fn incremental_matches_whole_at_every_split() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nrest";
        for split in 0..=buf.len() {
            let mut p = HeadParser::new(HeadLimits::default());
            let first = p.advance(&buf[..split]);
            let expect_first = if split >= buf.len() - 4 {
                Some(buf.len() - 4)
            } else {
                None
            };
            assert_eq!(first, Ok(expect_first), "split {split}");
            assert_eq!(p.advance(buf), Ok(Some(buf.len() - 4)), "split {split}");
        }
    }

    #[test]
    fn line_ending_errors() {
        let l = HeadLimits::default();
        assert_eq!(
            whole(b"GET / HTTP/1.1\nHost: a\r\n\r\n", l),
            Err(HeadError::BareLf)
        );
        assert_eq!(
            whole(b"GET / HTTP/1.1\rHost: a\r\n\r\n", l),
            Err(HeadError::BareCr)
        );
        assert_eq!(
            whole(b"\r\nGET / HTTP/1.1\r\n\r\n", l),
            Err(HeadError::EmptyStartLine)
        );
        // A CR at the very end is not yet an error.
        assert_eq!(whole(b"GET / HTTP/1.1\r", l), Ok(None));
    }

    #[test]
    fn size_limit_is_exact() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let n = buf.len();
        assert_eq!(whole(buf, limits(n, 8)), Ok(Some(n)));
        assert_eq!(whole(buf, limits(n - 1, 8)), Err(HeadError::TooLarge));
        // Extra bytes after a head that fits do not count against the limit.
        let mut more = buf.to_vec();
        more.extend_from_slice(&[0; 100]);
        assert_eq!(whole(&more, limits(n, 8)), Ok(Some(n)));
        // No terminator within the limit fails as soon as the limit is reached.
        assert_eq!(whole(&[b'a'; 10], limits(10, 8)), Err(HeadError::TooLarge));
        assert_eq!(whole(&[b'a'; 9], limits(10, 8)), Ok(None));
    }

    #[test]
    fn header_count_limit() {
        let two = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(whole(two, limits(1024, 2)), Ok(Some(two.len())));
        assert_eq!(whole(two, limits(1024, 1)), Err(HeadError::TooManyHeaders));
    }

    #[test]
    fn errors_are_sticky() {
        let mut p = HeadParser::new(limits(1024, 0));
        assert_eq!(
            p.advance(b"GET / HTTP/1.1\r\nA: 1\r\n"),
            Err(HeadError::TooManyHeaders)
        );
        let err = p.advance(b"GET / HTTP/1.1\r\nA: 1\r\n\r\n");
        assert_eq!(err, Err(HeadError::TooManyHeaders));
    }

    #[test]
    fn error_response_status_lines() {
        let r = HeadError::TooLarge.response();
        assert!(r.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let r = HeadError::BareLf.response();
        assert!(r.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        assert!(r.ends_with(b"\r\n\r\nmalformed head: LF without CR\n"));
    }

    #[test]
    fn byte_at_a_time_is_linear() {
        let size = 64 * 1024;
        let mut buf = vec![b'a'; size];
        // A long single line, then many short ones, so both paths are exercised.
        for i in (size / 2..size).step_by(8) {
            buf[i] = b'\r';
            buf[i + 1] = b'\n';
        }
        let l = limits(size + 1, usize::MAX);
        let mut once = HeadParser::new(l);
        assert_eq!(once.advance(&buf), Ok(None));
        let mut slow = HeadParser::new(l);
        for end in 1..=buf.len() {
            assert_eq!(slow.advance(&buf[..end]), Ok(None));
        }
        // Every byte but the LFs of CRLF pairs is handed to memchr once...
        let lfs = size / 16;
        assert_eq!(once.scanned, size - lfs);
        // ...and byte by byte, each CR that waits for its LF is looked at twice.
        assert_eq!(slow.scanned, size - lfs + lfs);
    }

    proptest! {
        #[test]
        fn chunks_never_panic_and_respect_limit(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), Just(b':'), any::<u8>()],
                0..600,
            ),
            cuts in proptest::collection::vec(0usize..600, 0..20),
            max in 0usize..400,
            hdrs in 0usize..8,
        ) {
            let l = limits(max, hdrs);
            let expected = whole(&data, l);
            let mut cuts = cuts;
            cuts.push(data.len());
            cuts.sort_unstable();
            let mut p = HeadParser::new(l);
            let mut last = Ok(None);
            for c in cuts {
                last = p.advance(&data[..c.min(data.len())]);
                if let Ok(Some(n)) = last {
                    prop_assert!(n <= max);
                    prop_assert!(data[..n].ends_with(b"\r\n\r\n"));
                }
                if last != Ok(None) {
                    break;
                }
            }
            prop_assert_eq!(last, expected);
        }
    }
}
