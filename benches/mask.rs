//! Masking speed of every implementation this machine has, from memory.
//!
//! `cargo bench --bench mask` prints, per buffer length (16 B to 1 MiB) and start (0, 1 and 16
//! bytes past a 64-byte boundary), the best of 7 runs in GB/s and nanoseconds per call of
//! each implementation: `apply_mask` (the crate's entry point: the inline path for up to 16
//! bytes, then the cached choice), the word loop (`scalar`), `sse2`, `avx2` (when the CPU has
//! it), `neon` (aarch64), and `extend_masked` (the buffer copied and masked into a cleared
//! vector with room, as a client's send does into its queue), and what that replaces: `copy,
//! then apply_mask` into the same vector. Each run masks about 256 MiB; the buffer stays in
//! cache up to its size.

use std::hint::black_box;
use std::time::Instant;

use ws_proto::__fuzz::{mask_extend, mask_implementations};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Best of 7 runs of `calls` calls of `f` (given the call's index): seconds per run.
fn best_of_7(calls: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        for i in 0..calls {
            f(i);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    println!("| length | start | implementation | GB/s | ns per call |");
    println!("|---:|---:|---|---:|---:|");
    for len in [16usize, 100, 1 << 10, 16 << 10, 64 << 10, 1 << 20] {
        for start in [0usize, 1, 16] {
            let mut storage = vec![0x5au8; len + 128];
            let aligned = storage.as_ptr().align_offset(64);
            let buf = &mut storage[aligned + start..aligned + start + len];
            let calls = ((256usize << 20) / len).max(1);
            let row = |name: &str, seconds: f64| {
                println!(
                    "| {len} | {start} | {name} | {:.1} | {:.1} |",
                    (len * calls) as f64 / seconds / 1e9,
                    seconds / calls as f64 * 1e9
                );
            };
            for (name, mask) in mask_implementations() {
                row(
                    name,
                    best_of_7(calls, |i| mask(black_box(&mut *buf), KEY, i)),
                );
            }
            let mut out = Vec::with_capacity(len);
            let seconds = best_of_7(calls, |_| {
                out.clear();
                mask_extend(&mut out, black_box(&*buf), KEY);
                black_box(&out);
            });
            row("extend_masked", seconds);
            // What it replaces: a copy, then masking in place.
            let apply_mask = mask_implementations()[0].1;
            let seconds = best_of_7(calls, |_| {
                out.clear();
                out.extend_from_slice(black_box(&*buf));
                apply_mask(&mut out, KEY, 0);
                black_box(&out);
            });
            row("copy, then apply_mask", seconds);
        }
    }
}
