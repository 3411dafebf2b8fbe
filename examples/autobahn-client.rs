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
//! All three run on one blocking helper, `drive`, which connects, runs the opening
//! handshake, hands every event to a closure, and returns how the connection ended. Limits
//! are raised to 64 MiB, since some cases send 16 MiB messages; permessage-deflate is
//! offered (ws-proto's default) so the compression cases run too. Each case's outcome is
//! printed as it ends (`case 7/517: 1000`); the verdicts are in the server's report.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ws_proto::{ClientRequest, Config, Connection, Event, SendError};

/// Outbound bytes written out as soon as this much is queued.
const FLUSH_AT: usize = 1 << 20;

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

fn run(base: &str, agent: &str) -> io::Result<()> {
    let mut count = None;
    drive(
        &format!("{base}/getCaseCount"),
        Config::default(),
        |_, event| {
            if let Event::Text(text) = event {
                count = text.trim().parse::<u32>().ok();
            }
        },
    )?;
    let count = count.ok_or_else(|| io::Error::other("getCaseCount sent no number"))?;
    println!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        // The echo: replies are queued while the event is held (it borrows the buffer).
        let echo = |conn: &mut Connection, event: Event<'_>| {
            let sent = match event {
                Event::Text(text) => conn.send_text(text),
                Event::Binary(data) => conn.send_binary(data),
                _ => Ok(()),
            };
            // After the connection failed or closed, echoes are refused: fine.
            if let Err(e @ (SendError::Backpressure | SendError::MessageInProgress)) = sent {
                eprintln!("case {case}: echo not sent: {e}");
            }
        };
        // One case going wrong (even at the IO level) must not stop the run.
        match drive(&url, config(), echo) {
            Ok(end) => println!("case {case}/{count}: {end}"),
            Err(e) => println!("case {case}/{count}: io error: {e}"),
        }
    }

    drive(
        &format!("{base}/updateReports?agent={agent}"),
        Config::default(),
        |_, _| {},
    )?;
    println!("reports updated");
    Ok(())
}

/// The settings for the test cases: 64 MiB messages and frames.
fn config() -> Config {
    let mut config = Config::default();
    config.max_message_size = 64 << 20;
    config.max_frame_size = 64 << 20;
    config.max_outbound_buffer = 128 << 20; // room for a 64 MiB echo
    config
}

/// Connects to `url`, runs the opening handshake, and hands every event after it to
/// `on_event` until the transport is to be closed. Returns the close code the peer sent
/// (or 1006), or the protocol error that failed the connection.
fn drive(
    url: &str,
    config: Config,
    mut on_event: impl FnMut(&mut Connection, Event<'_>),
) -> io::Result<String> {
    let request = ClientRequest::new(url).map_err(io::Error::other)?;
    if request.is_secure() {
        return Err(io::Error::other("wss:// (TLS) is not supported"));
    }
    let mut stream = TcpStream::connect((request.host(), request.port()))?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut conn = Connection::client(request, config, Instant::now()).map_err(io::Error::other)?;
    let mut buf = Vec::new();
    let mut end = String::from("transport closed");
    loop {
        while let Some(event) = conn.poll_event(&mut buf) {
            match event {
                Event::Connected(_) => {}
                Event::Rejected { response, .. } => {
                    return Err(io::Error::other(format!(
                        "handshake refused: {} {}",
                        response.status(),
                        response.reason()
                    )));
                }
                Event::Closed(closed) => {
                    end = format!("close {} ({:?})", closed.code, closed.cause)
                }
                other => on_event(&mut conn, other),
            }
            // Write out big echoes as they come, not all at the end of the read.
            if conn.buffered_amount() >= FLUSH_AT {
                flush(&mut conn, &mut stream)?;
            }
        }
        flush(&mut conn, &mut stream)?;
        if conn.should_close_transport() {
            return Ok(end);
        }
        // Block in read() until input, or until the next deadline if there is one.
        let timeout = conn.poll_timeout().map(Instant::from).map(|at| {
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(timeout)?;
        let mut rb = conn.read_buf();
        match stream.read(&mut rb) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => rb.commit(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            // A reset ends the stream like EOF does (the server may close abruptly).
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => conn.handle_eof(),
            Err(e) => return Err(e),
        }
        conn.handle_timeout(Instant::now());
    }
}

/// Writes everything the connection has queued.
fn flush(conn: &mut Connection, stream: &mut TcpStream) -> io::Result<()> {
    loop {
        let out = conn.poll_transmit();
        if out.is_empty() {
            return stream.flush();
        }
        let n = stream.write(&out)?;
        out.advance(n);
    }
}
