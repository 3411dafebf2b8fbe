//! Payload masking (RFC 6455 §5.3): XOR with a 4-byte key.
//!
//! Short buffers (small frames, control frames) are masked inline, a word at a time, so they
//! pay for no call and no dispatch; longer ones go to [`simd::apply`], which uses the widest
//! vector unit the machine has (AVX2 or SSE2 on x86_64, NEON on aarch64, a word loop
//! elsewhere).

pub(crate) mod simd;

/// Buffers up to this length are masked inline by [`small`].
const SMALL: usize = 16;

/// XORs `buf` with `key`, where `buf[0]` is payload byte number `offset` of its frame.
#[inline]
pub(crate) fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that it lines up with buf[0].
    let key = rotate(key, offset);
    if buf.len() <= SMALL {
        small(buf, key);
    } else {
        simd::apply(buf, key);
    }
}

/// Rotates `key` left so that index 0 is the key byte for payload byte `offset`.
#[inline]
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    // One rotation of the key as a word rather than four indexed loads: byte `r` moves
    // to the front, which is a right rotation of the native-endian word on little-endian
    // machines and a left one on big-endian ones.
    let bits = 8 * (offset & 3) as u32;
    let word = u32::from_ne_bytes(key);
    let word = if cfg!(target_endian = "little") {
        word.rotate_right(bits)
    } else {
        word.rotate_left(bits)
    };
    word.to_ne_bytes()
}

/// Masks a buffer of at most [`SMALL`] bytes with two overlapping words: from 8 bytes on,
/// the first 8 and the last 8 (the last with the key rotated to its offset); from 4, the
/// same with 4-byte words; below that byte by byte. Both words are loaded before either is
/// stored, so the bytes they share are masked once: no loop, at most two loads and two
/// stores. `key[0]` is the key byte for `buf[0]`.
#[inline]
fn small(buf: &mut [u8], key: [u8; 4]) {
    debug_assert!(buf.len() <= SMALL);
    let n = buf.len();
    if n >= 8 {
        let word = |k: [u8; 4]| {
            let k4 = u64::from(u32::from_ne_bytes(k));
            k4 | (k4 << 32)
        };
        let (head_key, tail_key) = (word(key), word(rotate(key, n - 8)));
        let head = u64::from_ne_bytes(*buf.first_chunk::<8>().unwrap_or(&[0; 8])) ^ head_key;
        let tail = u64::from_ne_bytes(*buf.last_chunk::<8>().unwrap_or(&[0; 8])) ^ tail_key;
        if let Some(last) = buf.last_chunk_mut::<8>() {
            *last = tail.to_ne_bytes();
        }
        if let Some(first) = buf.first_chunk_mut::<8>() {
            *first = head.to_ne_bytes();
        }
    } else if n >= 4 {
        let (head_key, tail_key) = (
            u32::from_ne_bytes(key),
            u32::from_ne_bytes(rotate(key, n - 4)),
        );
        let head = u32::from_ne_bytes(*buf.first_chunk::<4>().unwrap_or(&[0; 4])) ^ head_key;
        let tail = u32::from_ne_bytes(*buf.last_chunk::<4>().unwrap_or(&[0; 4])) ^ tail_key;
        if let Some(last) = buf.last_chunk_mut::<4>() {
            *last = tail.to_ne_bytes();
        }
        if let Some(first) = buf.first_chunk_mut::<4>() {
            *first = head.to_ne_bytes();
        }
    } else {
        for (b, k) in buf.iter_mut().zip(key) {
            *b ^= k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset % 4 + i) % 4];
        }
    }

    #[test]
    fn matches_the_definition_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..70 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len as u8).map(|x| x.wrapping_mul(31)).collect();
                let mut fast = data.clone();
                let mut slow = data.clone();
                apply_mask(&mut fast, key, offset);
                naive(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn the_inline_path_matches_the_definition_up_to_its_limit() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..=SMALL {
            let data: Vec<u8> = (0..len as u8).map(|x| x.wrapping_mul(77) ^ 0x5a).collect();
            let mut fast = data.clone();
            let mut slow = data.clone();
            small(&mut fast, key);
            naive(&mut slow, key, 0);
            assert_eq!(fast, slow, "len {len}");
        }
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut buf = *b"Hello";
        apply_mask(&mut buf, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(buf, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data.clone();
        let (a, rest) = pieces.split_at_mut(13);
        let (b, c) = rest.split_at_mut(29);
        apply_mask(a, key, 0);
        apply_mask(b, key, 13);
        apply_mask(c, key, 42);
        assert_eq!(whole, pieces);
    }
}
