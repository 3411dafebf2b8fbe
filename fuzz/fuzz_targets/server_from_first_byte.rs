//! A server connection from the first byte of the client's handshake: arbitrary bytes in a
//! fuzzer-chosen chunk plan, the request accepted or refused per the fuzzer, application
//! commands interleaved. Invariants: see `ws_proto_fuzz::Harness`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ws_proto::Connection;
use ws_proto_fuzz::{Answer, Bytes, FuzzConfig, Harness, Step};

#[derive(Arbitrary, Debug)]
struct Input {
    config: FuzzConfig,
    answer: Answer,
    eof: bool,
    steps: Vec<Step>,
    /// The bytes the client sends: its request head, then frames (or anything).
    data: Bytes,
}

fuzz_target!(|input: Input| {
    let conn = Connection::server(input.config.to_config(), ws_proto::Timestamp::ZERO);
    let mut h = Harness::new(conn, true);
    h.answer = input.answer;
    h.run_plan(&input.steps, &input.data);
    if input.eof {
        h.eof();
    }
    h.finish();
});
