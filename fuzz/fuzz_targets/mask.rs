//! Payload masking: every implementation the machine has (the crate's `apply_mask` entry
//! point with its inline path for short buffers, the word loop, SSE2, AVX2 when the CPU has
//! it, NEON on aarch64), reached through `ws_proto::__fuzz`, against the definition of
//! RFC 6455 §5.3 (`byte[i] ^= key[(offset + i) % 4]`). Each masks a fuzzer-chosen sub-slice
//! (any start, so any alignment; any length) of the fuzzer's bytes, optionally repeated to
//! up to 33 times their length, with a fuzzer-chosen key and key offset, both at once and in
//! two pieces split at a fuzzer-chosen point (the second piece's offset advanced by the
//! first's length). The whole buffer must equal the definition's, so a byte written outside
//! the slice is caught too (and an access outside the buffer by AddressSanitizer).
//!
//! Then the one-pass copy-and-mask that client sends use (`extend_masked`: straight into a
//! vector's spare capacity with AVX2): the slice appended, masked with the key lined up for
//! its first byte, to a vector already holding the bytes before the slice, must give the
//! same bytes as copying the slice and masking it by the definition.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::__fuzz::{mask_extend, mask_implementations};
use ws_proto_fuzz::Bytes;

#[derive(Arbitrary, Debug)]
struct Input {
    key: [u8; 4],
    /// Payload position of the slice's first byte.
    offset: u64,
    /// Start of the slice (modulo the buffer's length + 1).
    start: u16,
    /// Bytes left off the end of the buffer (modulo what follows `start`, + 1).
    trim: u16,
    /// Where to split the slice for the second pass (modulo its length + 1).
    split: u16,
    /// The data is repeated `repeat % 33 + 1` times.
    repeat: u8,
    data: Bytes,
}

fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset % 4 + i) % 4];
    }
}

fuzz_target!(|input: Input| {
    let buf = input.data.0.repeat(usize::from(input.repeat % 33) + 1);
    let start = usize::from(input.start) % (buf.len() + 1);
    let end = buf.len() - usize::from(input.trim) % (buf.len() - start + 1);
    let mid = start + usize::from(input.split) % (end - start + 1);
    let (key, offset) = (input.key, input.offset as usize);

    let mut want = buf.clone();
    naive(&mut want[start..end], key, offset);

    for (name, mask) in mask_implementations() {
        let mut got = buf.clone();
        mask(&mut got[start..end], key, offset);
        assert!(
            got == want,
            "{name} at once: start {start} end {end} offset {offset} key {key:02x?}"
        );

        let mut got = buf.clone();
        mask(&mut got[start..mid], key, offset);
        mask(&mut got[mid..end], key, offset.wrapping_add(mid - start));
        assert!(
            got == want,
            "{name} in two pieces: start {start} mid {mid} end {end} offset {offset} key {key:02x?}"
        );
    }

    // The bytes before `start` already in the vector, with either exactly that capacity (so
    // that appending reallocates) or room for the slice (as in an outbound queue with room).
    let mut got = buf[..start].to_vec();
    if input.trim & 1 == 1 {
        got.reserve(end - start);
    }
    mask_extend(&mut got, &buf[start..end], key);
    let mut want = buf[..end].to_vec();
    naive(&mut want[start..], key, 0);
    assert!(
        got == want,
        "extend_masked: start {start} end {end} key {key:02x?}"
    );
});
