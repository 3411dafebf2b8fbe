//! An upgraded client connection fed frames: raw bytes, or a structured list of frames
//! (any FIN/RSV/opcode/mask, length encodings including non-minimal and MSB-set) encoded
//! by the fuzz crate, in a fuzzer-chosen chunk plan with commands interleaved.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::{Connection, Role};
use ws_proto_fuzz::{FrameSource, FuzzConfig, Harness, Step, XorShift};

#[derive(Arbitrary, Debug)]
struct Input {
    config: FuzzConfig,
    seed: u64,
    eof: bool,
    steps: Vec<Step>,
    frames: FrameSource,
}

fuzz_target!(|input: Input| {
    let role = Role::Client;
    let rng = Box::new(XorShift::new(input.seed));
    let conn = Connection::upgraded_with_rng(
        role,
        ws_proto::Negotiated::new(),
        input.config.to_config(),
        ws_proto::Timestamp::ZERO,
        rng,
    );
    let mut h = Harness::new(conn, false);
    let bytes = input.frames.bytes(role);
    h.run_plan(&input.steps, &bytes);
    if input.eof {
        h.eof();
    }
    h.finish();
});
