//! `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1): parsing and formatting.

use alloc::{string::String, vec::Vec};
use core::fmt;

use super::http::{is_ows, is_tchar, is_token};

/// One extension in an offer or a response: `name; param; param=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// Extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in the order written.
    pub params: Vec<ExtensionParam>,
}

/// One extension parameter: `name` or `name=value` (value already unquoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionParam {
    /// Parameter token.
    pub name: String,
    /// Value, if any.
    pub value: Option<String>,
}

impl ExtensionOffer {
    /// An extension without parameters.
    pub fn new(name: impl Into<String>) -> Self {
        ExtensionOffer {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter (builder style).
    pub fn with_param(mut self, name: impl Into<String>, value: Option<&str>) -> Self {
        self.params.push(ExtensionParam {
            name: name.into(),
            value: value.map(String::from),
        });
        self
    }

    /// Extension name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parameters in order.
    pub fn params(&self) -> &[ExtensionParam] {
        &self.params
    }

    /// First parameter called `name` (exact match).
    pub fn param(&self, name: &str) -> Option<&ExtensionParam> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether it can be sent: every name and value is a token, as §9.1 requires.
    pub(crate) fn is_valid(&self) -> bool {
        is_token(self.name.as_bytes())
            && self.params.iter().all(|p| {
                is_token(p.name.as_bytes())
                    && p.value.as_ref().is_none_or(|v| is_token(v.as_bytes()))
            })
    }
}

impl ExtensionParam {
    /// Parameter name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parameter value, if any.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl fmt::Display for ExtensionParam {
    /// `name` or `name=value`; the value is quoted (with escapes) only if it is not a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let Some(v) = &self.value else {
            return Ok(());
        };
        if is_token(v.as_bytes()) {
            return write!(f, "={v}");
        }
        f.write_str("=\"")?;
        for c in v.chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

impl fmt::Display for ExtensionOffer {
    /// `name; p1; p2=v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for p in &self.params {
            write!(f, "; {p}")?;
        }
        Ok(())
    }
}

/// Formats offers as one header value: `a; x=1, b`.
pub fn format_extensions(offers: &[ExtensionOffer]) -> String {
    use fmt::Write;
    let mut out = String::new();
    for (i, o) in offers.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{o}");
    }
    out
}

/// Why an extension header value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionParseError {
    /// An empty list, or an empty element between commas or semicolons.
    Empty,
    /// Expected a token (extension name, parameter name or unquoted value).
    BadToken,
    /// A quoted value without its closing quote.
    UnclosedQuote,
    /// A quoted value holding a control character or, once unescaped, not a token.
    BadQuotedValue,
    /// A character where `,`, `;`, `=` or the end was expected.
    Unexpected,
}

impl fmt::Display for ExtensionParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExtensionParseError::Empty => "empty extension list element",
            ExtensionParseError::BadToken => "invalid token in extension list",
            ExtensionParseError::UnclosedQuote => "unclosed quoted string in extension list",
            ExtensionParseError::BadQuotedValue => "quoted extension parameter is not a token",
            ExtensionParseError::Unexpected => "unexpected character in extension list",
        })
    }
}

impl core::error::Error for ExtensionParseError {}

/// Single-pass cursor over the header value.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while self.peek().is_some_and(is_ows) {
            self.i += 1;
        }
    }

    /// Reads a token; an empty one is `Empty` before a separator or the end, else `BadToken`.
    fn token(&mut self) -> Result<String, ExtensionParseError> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        if self.i == start {
            return Err(match self.peek() {
                None | Some(b',' | b';') => ExtensionParseError::Empty,
                Some(_) => ExtensionParseError::BadToken,
            });
        }
        let t = self.s.get(start..self.i).unwrap_or_default();
        Ok(t.iter().map(|&b| char::from(b)).collect())
    }

    /// Reads a quoted-string after its opening quote; the unescaped value must be a token.
    fn quoted(&mut self) -> Result<String, ExtensionParseError> {
        let mut out = String::new();
        loop {
            let b = self.peek().ok_or(ExtensionParseError::UnclosedQuote)?;
            self.i += 1;
            let c = match b {
                b'"' => break,
                b'\\' => self.peek().ok_or(ExtensionParseError::UnclosedQuote)?,
                _ => b,
            };
            if b == b'\\' {
                self.i += 1;
            }
            if !is_tchar(c) {
                return Err(ExtensionParseError::BadQuotedValue);
            }
            out.push(char::from(c));
        }
        if out.is_empty() {
            return Err(ExtensionParseError::BadQuotedValue);
        }
        Ok(out)
    }

    fn param(&mut self) -> Result<ExtensionParam, ExtensionParseError> {
        let name = self.token()?;
        self.skip_ows();
        let mut value = None;
        if self.peek() == Some(b'=') {
            self.i += 1;
            self.skip_ows();
            if self.peek() == Some(b'"') {
                self.i += 1;
                value = Some(self.quoted()?);
            } else {
                value = Some(self.token().map_err(|_| ExtensionParseError::BadToken)?);
            }
            self.skip_ows();
        }
        Ok(ExtensionParam { name, value })
    }
}

/// Parses a `Sec-WebSocket-Extensions` value (one or more comma-separated extensions) in one
/// pass, so time is linear in the input length whatever it holds.
pub fn parse_extensions(value: &str) -> Result<Vec<ExtensionOffer>, ExtensionParseError> {
    let mut c = Cursor {
        s: value.as_bytes(),
        i: 0,
    };
    let mut offers = Vec::new();
    loop {
        c.skip_ows();
        let mut offer = ExtensionOffer::new(c.token()?);
        c.skip_ows();
        while c.peek() == Some(b';') {
            c.i += 1;
            c.skip_ows();
            offer.params.push(c.param()?);
        }
        offers.push(offer);
        match c.peek() {
            None => return Ok(offers),
            Some(b',') => c.i += 1,
            Some(_) => return Err(ExtensionParseError::Unexpected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, string::ToString, vec};
    use proptest::prelude::*;

    fn pmd() -> ExtensionOffer {
        ExtensionOffer::new("permessage-deflate")
    }

    #[test]
    fn parses_offers_and_params() {
        let got = parse_extensions(
            " permessage-deflate ; client_max_window_bits ; server_max_window_bits = \"10\" ,x-foo,\tbar;a=b",
        );
        let expected = vec![
            pmd()
                .with_param("client_max_window_bits", None)
                .with_param("server_max_window_bits", Some("10")),
            ExtensionOffer::new("x-foo"),
            ExtensionOffer::new("bar").with_param("a", Some("b")),
        ];
        assert_eq!(got, Ok(expected));
    }

    #[test]
    fn quoted_escapes() {
        let got = parse_extensions(r#"a; b="\1\0""#).unwrap();
        assert_eq!(
            got[0].param("b").and_then(ExtensionParam::value),
            Some("10")
        );
    }

    #[test]
    fn errors() {
        use ExtensionParseError::*;
        let cases: &[(&str, ExtensionParseError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("a,", Empty),
            (",a", Empty),
            ("a,,b", Empty),
            ("a;", Empty),
            ("a;;b", Empty),
            ("a b", Unexpected),
            ("a; b c", Unexpected),
            ("a=b", Unexpected),
            ("a; b=", BadToken),
            ("a; b=,", BadToken),
            ("a; b=@", BadToken),
            ("@", BadToken),
            ("a; @", BadToken),
            ("a; b=\"1", UnclosedQuote),
            ("a; b=\"1\\", UnclosedQuote),
            ("a; b=\"\"", BadQuotedValue),
            ("a; b=\"x y\"", BadQuotedValue),
            ("a; b=\"\\\x01\"", BadQuotedValue),
            ("a; b=\"1\"x", Unexpected),
        ];
        for (input, err) in cases {
            assert_eq!(parse_extensions(input), Err(*err), "{input:?}");
        }
    }

    #[test]
    fn formatting() {
        let offers = vec![
            pmd().with_param("client_max_window_bits", None),
            ExtensionOffer::new("x").with_param("q", Some("a \"b\\")),
        ];
        assert_eq!(
            format_extensions(&offers),
            r#"permessage-deflate; client_max_window_bits, x; q="a \"b\\""#
        );
        assert_eq!(
            pmd().with_param("s", Some("15")).to_string(),
            "permessage-deflate; s=15"
        );
        assert_eq!(format_extensions(&[]), "");
    }

    #[test]
    fn pathological_inputs_complete() {
        let spaces = " ".repeat(64 * 1024);
        assert_eq!(parse_extensions(&spaces), Err(ExtensionParseError::Empty));
        let many = vec!["x; a=1"; 10_000].join(", ");
        assert_eq!(parse_extensions(&many).map(|v| v.len()), Ok(10_000));
        let unclosed = format!("a; b=\"{}", "\\x".repeat(32 * 1024));
        assert_eq!(
            parse_extensions(&unclosed),
            Err(ExtensionParseError::UnclosedQuote)
        );
        let semis = format!("a{}", "; b".repeat(20_000));
        assert_eq!(
            parse_extensions(&semis).map(|v| v[0].params.len()),
            Ok(20_000)
        );
    }

    fn token() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,8}"
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(
            offers in proptest::collection::vec(
                (token(), proptest::collection::vec((token(), proptest::option::of(token())), 0..4)),
                1..5,
            )
        ) {
            let offers: Vec<ExtensionOffer> = offers
                .into_iter()
                .map(|(n, ps)| ExtensionOffer {
                    name: n,
                    params: ps.into_iter().map(|(name, value)| ExtensionParam { name, value }).collect(),
                })
                .collect();
            prop_assert_eq!(parse_extensions(&format_extensions(&offers)), Ok(offers));
        }

        #[test]
        fn arbitrary_text_never_panics(s in "[ a-z;,=\"\\\\\t@]{0,64}") {
            let _ = parse_extensions(&s);
        }
    }
}
