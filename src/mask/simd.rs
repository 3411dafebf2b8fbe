//! Masking with vector instructions, for buffers longer than the inline path takes.
//!
//! - x86_64: AVX2 (32 bytes per instruction) when the CPU has it, else SSE2 (16 bytes), which
//!   every x86_64 CPU has. With `std`, AVX2 is detected at run time on the first call and the
//!   choice is cached in an atomic, so each later call costs one relaxed load and a branch.
//!   Without `std` there is no detection: AVX2 is used only when the build enables it
//!   (`-C target-feature=+avx2` or a `target-cpu` that has it), SSE2 otherwise.
//! - aarch64: NEON (16 bytes), part of the target's baseline, so no detection is needed.
//! - elsewhere: an 8-byte word loop.
//!
//! Client sends use [`extend_masked`], which copies a payload into the outbound queue and
//! masks it in the same pass (AVX2), instead of a copy and then a masking pass.
//!
//! This is the only module besides `utf8::assume_valid` allowed `unsafe`: the intrinsics'
//! unaligned loads and stores, calls of the AVX2 functions, which the CPU must support, and
//! in `extend_masked_avx2` writing into a vector's spare capacity before `set_len`. Every
//! `unsafe` block states why it holds. Each implementation is compared with the definition of
//! masking by the tests below (every length to 256, every key offset, every start alignment
//! to 32, random slices of 1 MiB; `extend_masked` at every length to 300, every key rotation
//! and every alignment of the vector's end) and by the `mask` fuzz target, which reaches them
//! through `crate::__fuzz`.
#![allow(unsafe_code)]

/// Masks `buf`, `key[0]` being the key byte for `buf[0]`, with the best implementation the
/// machine has.
#[inline]
pub(crate) fn apply(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    // SAFETY: the build enables AVX2 for every function of the crate, so the CPU running it
    // has AVX2.
    unsafe {
        x86::avx2(buf, key)
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
    detect::apply(buf, key);
    #[cfg(all(
        target_arch = "x86_64",
        not(target_feature = "avx2"),
        not(feature = "std")
    ))]
    baseline(buf, key);
    #[cfg(not(target_arch = "x86_64"))]
    baseline(buf, key);
}

/// Appends `src`, masked with `key` (lined up for `src[0]`), to `dst`: with AVX2, in one pass
/// that reads `src` and writes the masked bytes straight into `dst`'s spare capacity; else a
/// copy, then masking in place. (A client's send: the payload is copied into the outbound
/// queue anyway.)
pub fn extend_masked(dst: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4]) {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
    if src.len() >= 32 && detect::avx2() {
        // SAFETY: `detect::avx2` found AVX2 on this CPU.
        return unsafe { x86::extend_masked_avx2(dst, src, key) };
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if src.len() >= 32 {
        // SAFETY: the build enables AVX2, so the CPU running it has AVX2.
        return unsafe { x86::extend_masked_avx2(dst, src, key) };
    }
    let from = dst.len();
    dst.extend_from_slice(src);
    super::apply_mask(&mut dst[from..], key, 0);
}

/// The implementation that needs no detection: SSE2 on x86_64, NEON on aarch64, else the
/// word loop.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "avx2"), allow(dead_code))]
#[inline]
fn baseline(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    x86::sse2(buf, key);
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    arm::neon(buf, key);
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    )))]
    scalar(buf, key);
}

/// The word loop: 8 bytes at a time, then the last 0–7 bytes one by one.
fn scalar(buf: &mut [u8], key: [u8; 4]) {
    let k4 = u32::from_ne_bytes(key);
    // Both halves are the same 4 bytes, so the order of the halves does not matter.
    let k8 = u64::from(k4) | (u64::from(k4) << 32);
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ k8).to_ne_bytes());
    }
    // Whole words are a multiple of 4, so the tail starts at key index 0 again.
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
mod detect {
    use core::sync::atomic::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const BASELINE: u8 = 1;
    const AVX2: u8 = 2;

    /// What the first call found; `UNKNOWN` until then. Every thread that races on the first
    /// call stores the same answer.
    static CHOSEN: AtomicU8 = AtomicU8::new(UNKNOWN);

    #[inline]
    pub(super) fn apply(buf: &mut [u8], key: [u8; 4]) {
        match CHOSEN.load(Ordering::Relaxed) {
            // SAFETY: `AVX2` is stored only by `detect`, after `is_x86_feature_detected!`
            // found AVX2 on this CPU.
            AVX2 => unsafe { super::x86::avx2(buf, key) },
            BASELINE => super::baseline(buf, key),
            _ => detect_and_apply(buf, key),
        }
    }

    /// Whether this CPU has AVX2 (detected on the first call, then cached).
    #[inline]
    pub(super) fn avx2() -> bool {
        match CHOSEN.load(Ordering::Relaxed) {
            UNKNOWN => {
                detect();
                CHOSEN.load(Ordering::Relaxed) == AVX2
            }
            chosen => chosen == AVX2,
        }
    }

    #[cold]
    #[inline(never)]
    fn detect() {
        let chosen = if std::is_x86_feature_detected!("avx2") {
            AVX2
        } else {
            BASELINE
        };
        CHOSEN.store(chosen, Ordering::Relaxed);
    }

    #[cold]
    #[inline(never)]
    fn detect_and_apply(buf: &mut [u8], key: [u8; 4]) {
        detect();
        apply(buf, key);
    }

    /// Whether the cached choice is AVX2 (after at least one call).
    #[cfg(test)]
    pub(super) fn chose_avx2() -> Option<bool> {
        match CHOSEN.load(Ordering::Relaxed) {
            UNKNOWN => None,
            chosen => Some(chosen == AVX2),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{
        __m128i, __m256i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
        _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256, _mm256_xor_si256,
    };

    /// The key lined up for byte `n` of the buffer (`key` being lined up for byte 0), as the
    /// 32-bit lane to broadcast: x86_64 is little-endian, so byte `i` of the lane is
    /// `key[(n + i) % 4]`.
    #[inline]
    fn at(key: [u8; 4], n: usize) -> i32 {
        u32::from_le_bytes(key).rotate_right(8 * (n as u32 & 3)) as i32
    }

    // Both loops below mask a buffer of at least one vector in three parts:
    //
    // - its first and its last vector, loaded and XORed before anything is written, and
    //   stored at the end;
    // - in between, whole vectors from the first vector-aligned address on (so that no load or
    //   store straddles two cache lines, which halves the speed on data in L1), as many as
    //   fit: blocks of four, then single vectors.
    //
    // The parts overlap, but every store writes the masked value of bytes read before any
    // store, so bytes written twice get the same value twice. There is no byte-by-byte head
    // or tail: from one vector up, every byte is masked by a vector instruction.

    /// AVX2, 32-byte vectors (see above); shorter buffers go to [`sse2_impl`].
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(buf: &mut [u8], key: [u8; 4]) {
        const W: usize = 32;
        let len = buf.len();
        if len < W {
            // SAFETY: AVX2 implies SSE2, and the caller promises AVX2.
            return unsafe { sse2_impl(buf, key) };
        }
        let head = buf.as_ptr().align_offset(W).min(W);
        // SAFETY: `len >= W`, so the first and last `W` bytes of `buf` are in bounds; `loadu`
        // has no alignment requirement; AVX2 is enabled in this function.
        let (first, last, k) = unsafe {
            let p = buf.as_ptr();
            (
                _mm256_xor_si256(_mm256_loadu_si256(p.cast()), _mm256_set1_epi32(at(key, 0))),
                _mm256_xor_si256(
                    _mm256_loadu_si256(p.add(len - W).cast()),
                    _mm256_set1_epi32(at(key, len - W)),
                ),
                _mm256_set1_epi32(at(key, head)),
            )
        };
        let mut blocks = buf[head..].chunks_exact_mut(4 * W);
        for block in &mut blocks {
            let p = block.as_mut_ptr().cast::<__m256i>();
            // SAFETY: `block` is 4 * W bytes we may read and write, so `p.add(0..4)` are four
            // in-bounds vectors; unaligned access is allowed; AVX2 is enabled.
            unsafe {
                let (a, b, c, d) = (p, p.add(1), p.add(2), p.add(3));
                _mm256_storeu_si256(a, _mm256_xor_si256(_mm256_loadu_si256(a), k));
                _mm256_storeu_si256(b, _mm256_xor_si256(_mm256_loadu_si256(b), k));
                _mm256_storeu_si256(c, _mm256_xor_si256(_mm256_loadu_si256(c), k));
                _mm256_storeu_si256(d, _mm256_xor_si256(_mm256_loadu_si256(d), k));
            }
        }
        // What is left after the vectors (< W bytes) lies within the last W bytes.
        for vector in blocks.into_remainder().chunks_exact_mut(W) {
            let p = vector.as_mut_ptr().cast::<__m256i>();
            // SAFETY: `vector` is W bytes we may read and write; unaligned access is allowed;
            // AVX2 is enabled.
            unsafe { _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), k)) };
        }
        // SAFETY: `len >= W`: both stores are within `buf`; unaligned access is allowed; AVX2 is
        // enabled. (The pointer is taken afresh from `buf` after the loops.)
        unsafe {
            let p = buf.as_mut_ptr();
            _mm256_storeu_si256(p.cast(), first);
            _mm256_storeu_si256(p.add(len - W).cast(), last);
        }
    }

    /// Appends `src` masked with `key` to `dst` in one pass: 32-byte vectors loaded from
    /// `src`, XORed and stored into `dst`'s spare capacity, the last vector overlapping the
    /// one before it.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2, and `src` must be at least 32 bytes long.
    #[cfg(any(feature = "std", target_feature = "avx2"))]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn extend_masked_avx2(
        dst: &mut alloc::vec::Vec<u8>,
        src: &[u8],
        key: [u8; 4],
    ) {
        const W: usize = 32;
        let n = src.len();
        debug_assert!(n >= W);
        dst.reserve(n);
        let old = dst.len();
        let out = dst.spare_capacity_mut()[..n].as_mut_ptr().cast::<u8>();
        let inp = src.as_ptr();
        // SAFETY: `out` points at `n` bytes of `dst`'s spare capacity (the slice above checked
        // it), `inp` at the `n` bytes of `src`, which cannot overlap `dst` (one is borrowed
        // mutably, the other shared); every access below lies within `0..n` (`i + 4W <= n`,
        // `i + W <= n`, and `n - W..n` with `n >= W`); `loadu`/`storeu` have no alignment
        // requirement; AVX2 is enabled. After the loops every byte of `out[..n]` was written
        // (the last vector covers what the loops left), so the new length covers only
        // initialised bytes.
        unsafe {
            let k = _mm256_set1_epi32(at(key, 0));
            let mut i = 0;
            while i + 4 * W <= n {
                for j in 0..4 {
                    let v = _mm256_loadu_si256(inp.add(i + j * W).cast::<__m256i>());
                    _mm256_storeu_si256(out.add(i + j * W).cast(), _mm256_xor_si256(v, k));
                }
                i += 4 * W;
            }
            while i + W <= n {
                let v = _mm256_loadu_si256(inp.add(i).cast::<__m256i>());
                _mm256_storeu_si256(out.add(i).cast(), _mm256_xor_si256(v, k));
                i += W;
            }
            let v = _mm256_loadu_si256(inp.add(n - W).cast::<__m256i>());
            let kl = _mm256_set1_epi32(at(key, n - W));
            _mm256_storeu_si256(out.add(n - W).cast(), _mm256_xor_si256(v, kl));
            dst.set_len(old + n);
        }
    }

    /// SSE2 with the build's promise that the CPU has it (every x86_64 target makes it).
    #[cfg(target_feature = "sse2")]
    pub(super) fn sse2(buf: &mut [u8], key: [u8; 4]) {
        // SAFETY: the build enables SSE2, so the CPU running it has SSE2.
        unsafe { sse2_impl(buf, key) }
    }

    /// SSE2, 16-byte vectors (see above); shorter buffers go to the word loop.
    ///
    /// # Safety
    ///
    /// The CPU must support SSE2.
    #[target_feature(enable = "sse2")]
    unsafe fn sse2_impl(buf: &mut [u8], key: [u8; 4]) {
        const W: usize = 16;
        let len = buf.len();
        if len < W {
            return super::scalar(buf, key);
        }
        let head = buf.as_ptr().align_offset(W).min(W);
        // SAFETY: `len >= W`, so the first and last `W` bytes of `buf` are in bounds; `loadu`
        // has no alignment requirement; SSE2 is enabled in this function.
        let (first, last, k) = unsafe {
            let p = buf.as_ptr();
            (
                _mm_xor_si128(_mm_loadu_si128(p.cast()), _mm_set1_epi32(at(key, 0))),
                _mm_xor_si128(
                    _mm_loadu_si128(p.add(len - W).cast()),
                    _mm_set1_epi32(at(key, len - W)),
                ),
                _mm_set1_epi32(at(key, head)),
            )
        };
        let mut blocks = buf[head..].chunks_exact_mut(4 * W);
        for block in &mut blocks {
            let p = block.as_mut_ptr().cast::<__m128i>();
            // SAFETY: `block` is 4 * W bytes we may read and write, so `p.add(0..4)` are four
            // in-bounds vectors; unaligned access is allowed; SSE2 is enabled.
            unsafe {
                let (a, b, c, d) = (p, p.add(1), p.add(2), p.add(3));
                _mm_storeu_si128(a, _mm_xor_si128(_mm_loadu_si128(a), k));
                _mm_storeu_si128(b, _mm_xor_si128(_mm_loadu_si128(b), k));
                _mm_storeu_si128(c, _mm_xor_si128(_mm_loadu_si128(c), k));
                _mm_storeu_si128(d, _mm_xor_si128(_mm_loadu_si128(d), k));
            }
        }
        // What is left after the vectors (< W bytes) lies within the last W bytes.
        for vector in blocks.into_remainder().chunks_exact_mut(W) {
            let p = vector.as_mut_ptr().cast::<__m128i>();
            // SAFETY: `vector` is W bytes we may read and write; unaligned access is allowed;
            // SSE2 is enabled.
            unsafe { _mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), k)) };
        }
        // SAFETY: `len >= W`: both stores are within `buf`; unaligned access is allowed; SSE2 is
        // enabled. (The pointer is taken afresh from `buf` after the loops.)
        unsafe {
            let p = buf.as_mut_ptr();
            _mm_storeu_si128(p.cast(), first);
            _mm_storeu_si128(p.add(len - W).cast(), last);
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod arm {
    use core::arch::aarch64::{veorq_u8, vld1q_dup_u32, vld1q_u8, vreinterpretq_u8_u32, vst1q_u8};

    /// NEON: 64-byte blocks of four 16-byte vectors, then 16-byte vectors, then the word loop
    /// for the last 0–15 bytes.
    pub(super) fn neon(buf: &mut [u8], key: [u8; 4]) {
        let k4 = u32::from_ne_bytes(key);
        // SAFETY: `k4` is a readable `u32`, aligned as such; the build enables NEON (the
        // aarch64 baseline).
        let k = unsafe { vreinterpretq_u8_u32(vld1q_dup_u32(&k4)) };
        let mut blocks = buf.chunks_exact_mut(64);
        for block in &mut blocks {
            let p = block.as_mut_ptr();
            // SAFETY: `block` is 64 bytes we may read and write, so `p.add(0, 16, 32, 48)`
            // start four in-bounds 16-byte vectors; byte alignment suffices; NEON is enabled.
            unsafe {
                let (a, b, c, d) = (p, p.add(16), p.add(32), p.add(48));
                vst1q_u8(a, veorq_u8(vld1q_u8(a), k));
                vst1q_u8(b, veorq_u8(vld1q_u8(b), k));
                vst1q_u8(c, veorq_u8(vld1q_u8(c), k));
                vst1q_u8(d, veorq_u8(vld1q_u8(d), k));
            }
        }
        let mut vectors = blocks.into_remainder().chunks_exact_mut(16);
        for vector in &mut vectors {
            let p = vector.as_mut_ptr();
            // SAFETY: `vector` is 16 bytes we may read and write; byte alignment suffices;
            // NEON is enabled.
            unsafe { vst1q_u8(p, veorq_u8(vld1q_u8(p), k)) };
        }
        super::scalar(vectors.into_remainder(), key);
    }
}

/// A masking function as the tests and the fuzz target call it: `(buf, key, offset)` with
/// `buf[0]` being payload byte `offset`, as for `apply_mask`.
pub type MaskFn = fn(&mut [u8], [u8; 4], usize);

/// Every implementation this machine can run, by name: `"apply_mask"` (the crate's entry
/// point: the inline path for short buffers, then the cached choice), `"scalar"`, and
/// whichever of `"sse2"`, `"avx2"` and `"neon"` the build and the CPU support.
pub fn implementations() -> alloc::vec::Vec<(&'static str, MaskFn)> {
    use super::rotate;
    let mut all: alloc::vec::Vec<(&'static str, MaskFn)> = alloc::vec![
        ("apply_mask", super::apply_mask),
        ("scalar", |buf, key, offset| scalar(
            buf,
            rotate(key, offset)
        )),
    ];
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    all.push(("sse2", |buf, key, offset| {
        x86::sse2(buf, rotate(key, offset))
    }));
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        all.push(("avx2", |buf, key, offset| {
            assert!(has_avx2(), "this CPU has no AVX2");
            // SAFETY: checked just above.
            unsafe { x86::avx2(buf, rotate(key, offset)) }
        }));
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    all.push(("neon", |buf, key, offset| {
        arm::neon(buf, rotate(key, offset))
    }));
    all
}

/// Whether this CPU is known to have AVX2: enabled in the build, or (with `std`) detected.
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    #[cfg(target_feature = "avx2")]
    return true;
    #[cfg(all(not(target_feature = "avx2"), feature = "std"))]
    return std::is_x86_feature_detected!("avx2");
    #[cfg(all(not(target_feature = "avx2"), not(feature = "std")))]
    return false;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset % 4 + i) % 4];
        }
    }

    /// Deterministic pseudo-random bytes (xorshift64).
    struct Rand(u64);
    impl Rand {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    /// Masks `data[start..start + len]` with `f` and with the definition; the whole buffers
    /// must agree, so bytes outside the slice must be untouched too.
    fn check(
        name: &str,
        f: MaskFn,
        data: &[u8],
        start: usize,
        len: usize,
        key: [u8; 4],
        offset: usize,
    ) {
        let mut got = data.to_vec();
        let mut want = data.to_vec();
        f(&mut got[start..start + len], key, offset);
        naive(&mut want[start..start + len], key, offset);
        assert!(
            got == want,
            "{name}: start {start} len {len} offset {offset} key {key:02x?}"
        );
    }

    #[test]
    fn every_implementation_matches_the_definition_for_every_length_offset_and_alignment() {
        let mut rand = Rand(0x2545_f491_4f6c_dd1d);
        // Aligned to 64 so that `start` is the address's alignment modulo 32 (and 64).
        #[repr(align(64))]
        struct Aligned([u8; 256 + 32 + 64]);
        let mut data = Aligned([0; 256 + 32 + 64]);
        let bytes = rand.bytes(data.0.len());
        data.0.copy_from_slice(&bytes);
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for (name, f) in implementations() {
            for len in 0..=256 {
                for offset in 0..4 {
                    for start in 0..32 {
                        check(name, f, &data.0, start, len, key, offset);
                    }
                }
            }
        }
    }

    #[test]
    fn every_implementation_matches_the_definition_on_random_slices_of_a_large_buffer() {
        let mut rand = Rand(0x9e37_79b9_7f4a_7c15);
        let data = rand.bytes(1 << 20);
        for (name, f) in implementations() {
            for _ in 0..24 {
                let start = rand.below(data.len());
                let len = rand.below(data.len() - start + 1);
                let key = (rand.next() as u32).to_ne_bytes();
                let offset = rand.next() as usize;
                check(name, f, &data, start, len, key, offset);
            }
            // The whole buffer, at an odd start and offset.
            check(name, f, &data, 1, data.len() - 1, [9, 8, 7, 6], 3);
        }
    }

    #[test]
    fn extend_masked_matches_the_definition() {
        let mut rand = Rand(0x1234_5678_9abc_def1);
        let data = rand.bytes(1000);
        // Every length to 300 and two past 128-byte blocks, every key rotation, and 0-32 bytes
        // already in `dst` (so the spare capacity starts at every alignment).
        for len in (0..=300).chain([999, 1000]) {
            for r in 0..4 {
                let key = super::super::rotate([0x37, 0xfa, 0x21, 0x3d], r);
                for prefix in 0..=32 {
                    let mut want = vec![7u8; prefix];
                    want.extend_from_slice(&data[..len]);
                    naive(&mut want[prefix..], key, 0);
                    let mut got = vec![7u8; prefix];
                    extend_masked(&mut got, &data[..len], key);
                    assert!(got == want, "len {len} rotation {r} prefix {prefix}");
                }
            }
        }
    }

    #[test]
    fn the_list_holds_what_the_machine_supports() {
        let names: Vec<&str> = implementations().iter().map(|(n, _)| *n).collect();
        assert_eq!(names[..2], ["apply_mask", "scalar"]);
        #[cfg(target_arch = "x86_64")]
        {
            assert!(names.contains(&"sse2"));
            assert_eq!(names.contains(&"avx2"), has_avx2());
        }
        #[cfg(target_arch = "aarch64")]
        assert!(names.contains(&"neon"));
    }

    /// The cached choice is AVX2 exactly when the CPU has it.
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
    #[test]
    fn dispatch_caches_avx2_exactly_when_the_cpu_has_it() {
        let mut buf = vec![0u8; 100];
        apply(&mut buf, [1, 2, 3, 4]);
        assert_eq!(buf[..8], [1, 2, 3, 4, 1, 2, 3, 4]);
        assert_eq!(
            detect::chose_avx2(),
            Some(std::is_x86_feature_detected!("avx2"))
        );
        // And a second call, through the cache, agrees with the definition.
        apply(&mut buf, [1, 2, 3, 4]);
        assert!(buf.iter().all(|&b| b == 0));
    }
}
