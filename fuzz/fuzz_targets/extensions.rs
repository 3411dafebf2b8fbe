//! `parse_extensions` on arbitrary strings; what parses must survive
//! `format_extensions` and a second parse unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{format_extensions, parse_extensions};

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

fuzz_target!(|s: &str| {
    let Ok(offers) = parse_extensions(s) else {
        return;
    };
    assert!(!offers.is_empty(), "Ok with no offers for {s:?}");
    for o in &offers {
        assert!(is_token(o.name()), "name {:?}", o.name());
        for p in o.params() {
            assert!(is_token(p.name()), "param {:?}", p.name());
            if let Some(v) = p.value() {
                assert!(is_token(v), "value {v:?}");
            }
        }
    }
    let formatted = format_extensions(&offers);
    let again = parse_extensions(&formatted);
    assert_eq!(again.as_ref(), Ok(&offers), "{s:?} -> {formatted:?}");
    // Formatting is canonical: a second round trip gives the same text.
    assert_eq!(
        format_extensions(&offers),
        format_extensions(again.as_ref().unwrap())
    );
});
