//! The client driver for the Autobahn|Testsuite fuzzing server.
//!
//! ```sh
//! # In one shell, the fuzzing server (see its documentation; it listens on 9001):
//! docker run -it --rm -v "$PWD/autobahn:/config" -v "$PWD/autobahn/reports:/reports" \
//!     -p 9001:9001 crossbario/autobahn-testsuite wstest -m fuzzingserver -s /config/fuzzingserver.json
//! # In another, this driver; the report lands in autobahn/reports/clients/index.html:
//! cargo run --release --example autobahn-client -- ws://127.0.0.1:9001 [--agent ws-proto]
//! ```
//!
//! The protocol of the fuzzing server, three kinds of WebSocket connection:
//!
//! 1. `/getCaseCount`: the server sends one text message, the number of test cases.
//! 2. `/runCase?case=N&agent=A` for N in 1..=count: echo every text and binary message
//!    back unchanged until the server closes (each case checks some part of RFC 6455 or
//!    RFC 7692: framing, fragmentation, UTF-8, close codes, limits, compression...).
//! 3. `/updateReports?agent=A`: the server writes its reports, then closes.
//!
//! All three run on the blocking driver of `ws-proto-io`. Limits are raised to 64 MiB,
//! since some cases send 16 MiB messages; permessage-deflate is offered (ws-proto's
//! default) so the compression cases run too. Each case's outcome is printed as it ends
//! (`case 7/517: close 1000`); the verdicts are in the server's report.

use std::process::ExitCode;

use ws_proto::Config;
use ws_proto::handshake::ClientRequest;
use ws_proto_io::blocking::{self, ConnectOptions, MaybeTls, WebSocket};
use ws_proto_io::{Error, Message};

fn main() -> ExitCode {
    let mut base = String::from("ws://127.0.0.1:9001");
    let mut agent = String::from("ws-proto");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--agent" => match args.next() {
                Some(name) => agent = name,
                None => return usage(),
            },
            url if !url.starts_with("--") => base = url.trim_end_matches('/').into(),
            _ => return usage(),
        }
    }
    match run(&base, &agent) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: autobahn-client [ws://HOST:PORT] [--agent NAME]");
    ExitCode::from(2)
}

fn run(base: &str, agent: &str) -> Result<(), Error> {
    let mut ws = connect(&format!("{base}/getCaseCount"), Config::default())?;
    let count = match ws.read()? {
        Message::Text(text) => text.trim().parse::<u32>().ok(),
        _ => None,
    };
    let count =
        count.ok_or_else(|| Error::Io(std::io::Error::other("getCaseCount sent no number")))?;
    println!("{count} cases");
    drain(ws);

    for case in 1..=count {
        // One case going wrong (even at the IO level) must not stop the run.
        let end = connect(
            &format!("{base}/runCase?case={case}&agent={agent}"),
            config(),
        )
        .and_then(echo);
        match end {
            Ok(end) => println!("case {case}/{count}: {end}"),
            Err(e) => println!("case {case}/{count}: {e}"),
        }
    }

    drain(connect(
        &format!("{base}/updateReports?agent={agent}"),
        Config::default(),
    )?);
    println!("reports updated");
    Ok(())
}

/// The settings for the test cases: 64 MiB messages and frames.
fn config() -> Config {
    Config::default()
        .with_max_message_size(64 << 20)
        .with_max_frame_size(64 << 20)
        .with_max_outbound_buffer(128 << 20) // room for a 64 MiB echo
}

fn connect(url: &str, config: Config) -> Result<WebSocket<MaybeTls>, Error> {
    let options = ConnectOptions::default().with_config(config);
    blocking::connect_with(ClientRequest::new(url)?, options)
}

/// Echoes every text and binary message until the connection ends; says how it ended.
fn echo(mut ws: WebSocket<MaybeTls>) -> Result<String, Error> {
    loop {
        match ws.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => match ws.send(message) {
                // After the connection failed or closed, echoes are refused: fine.
                Ok(()) | Err(Error::Send(_)) => {}
                Err(e) => return Err(e),
            },
            Ok(Message::Close(Some(frame))) => return Ok(format!("close {}", frame.code)),
            Ok(Message::Close(None)) => return Ok("close 1005".into()),
            Ok(_) => {} // Ping (answered by the driver), Pong
            Err(Error::Protocol(e)) => return Ok(format!("close {} ({e})", e.close_code())),
            Err(e) => return Ok(format!("ended: {e}")),
        }
    }
}

/// Reads until the server closes.
fn drain(mut ws: WebSocket<MaybeTls>) {
    while let Ok(message) = ws.read() {
        if matches!(message, Message::Close(_)) {
            break;
        }
    }
}
