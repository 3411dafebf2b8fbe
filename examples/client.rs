//! A command-line WebSocket client on a blocking `std::net::TcpStream`.
//!
//! ```sh
//! cargo run --example client -- ws://127.0.0.1:9001/ws
//! cargo run --example client -- ws://127.0.0.1:9001/ws --subprotocol chat \
//!     --header 'Authorization: Bearer token' --origin http://127.0.0.1:9001
//! ```
//!
//! - Each line read from stdin is sent as a text message; each text message received is
//!   printed on its own line to stdout (binary ones as `<binary N bytes>`). Status lines
//!   (`connected (subprotocol: chat)`, the close code) go to stderr.
//! - At the end of stdin the client closes with 1000 and waits, at most the close timeout
//!   (10 s), for the server's Close and for the server to close the TCP connection.
//! - Exit status: 0 after a closing handshake (whoever started it), 1 if the server refused
//!   the handshake (its status and body are printed), broke the protocol, or went away
//!   without a Close; 2 for a bad command line.
//! - `ws://` only: `wss://` needs TLS, which this example does not do.
//!
//! It shows a client's whole life, deadlines included: stdin is read on its own thread and
//! arrives through a channel, and the socket's read timeout is the connection's next
//! deadline (or 50 ms, to look at the channel again), after which `handle_timeout`
//! runs.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use ws_proto::{ClientRequest, CloseCause, CloseCode, Config, Connection, Event, SendError, State};

/// How often the loop looks at stdin's channel while the socket is quiet.
const CHANNEL_CHECK: Duration = Duration::from_millis(50);

fn usage(problem: &str) -> ExitCode {
    eprintln!("{problem}");
    eprintln!(
        "usage: client ws://HOST[:PORT][/PATH] [--subprotocol P]... [--header 'Name: value']... \
         [--origin O]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut url = None;
    let mut subprotocols = Vec::new();
    let mut headers = Vec::new();
    let mut origin = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if !arg.starts_with("--") {
            if url.replace(arg).is_some() {
                return usage("more than one URL given");
            }
            continue;
        }
        let Some(value) = args.next() else {
            return usage(&format!("{arg} needs a value"));
        };
        match arg.as_str() {
            "--subprotocol" => subprotocols.push(value),
            "--origin" => origin = Some(value),
            "--header" => match value.split_once(':') {
                Some((name, v)) => headers.push((name.trim().to_owned(), v.trim().to_owned())),
                None => return usage(&format!("--header {value:?}: expected 'Name: value'")),
            },
            _ => return usage(&format!("unknown option {arg}")),
        }
    }
    let Some(url) = url else {
        return usage("no URL given");
    };

    // The URL gives host, port and resource; options add what the request offers.
    let mut request = match ClientRequest::new(&url) {
        Ok(request) => request,
        Err(e) => return usage(&format!("invalid URL {url}: {e}")),
    };
    if request.is_secure() {
        eprintln!("{url}: wss:// needs TLS, which this example does not do; use ws://");
        return ExitCode::from(2);
    }
    for protocol in subprotocols {
        request = request.subprotocol(protocol);
    }
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(origin) = origin {
        request = request.origin(origin);
    }

    // The request head is queued at once; invalid headers or origins are refused here.
    let host = (request.host().to_owned(), request.port());
    let conn = match Connection::client(request, Config::default(), Instant::now()) {
        Ok(conn) => conn,
        Err(e) => return usage(&format!("invalid request: {e}")),
    };
    match run(conn, host) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("io error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Connects and runs the connection to its end. `Ok(true)` after a closing handshake.
fn run(mut conn: Connection, host: (String, u16)) -> io::Result<bool> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_nodelay(true)?;
    // A server that stops reading cannot block a write for ever.
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;

    let lines = spawn_stdin_reader();
    let mut buf = Vec::new();
    let mut clean = false;
    let mut stdin_done = false;
    let mut stdout = io::stdout().lock();
    loop {
        while let Some(event) = conn.poll_event(&mut buf) {
            match event {
                Event::Connected(response) => eprintln!(
                    "connected (subprotocol: {})",
                    response.subprotocol().unwrap_or("none")
                ),
                Event::Rejected { response, body } => {
                    eprintln!(
                        "handshake refused: {} {}",
                        response.status(),
                        response.reason()
                    );
                    eprintln!("{}", String::from_utf8_lossy(body).trim_end());
                    return Ok(false);
                }
                Event::Text(text) => writeln!(stdout, "{text}")?,
                Event::Binary(data) => writeln!(stdout, "<binary {} bytes>", data.len())?,
                Event::Closed(closed) => {
                    clean = closed.was_clean;
                    match closed.cause {
                        CloseCause::ProtocolError(error) => eprintln!("connection failed: {error}"),
                        CloseCause::HandshakeFailed(error) => {
                            eprintln!("handshake failed: {error}")
                        }
                        _ => eprintln!("closed: {} {}", closed.code, closed.reason),
                    }
                }
                _ => {} // Ping (answered automatically), Pong
            }
        }
        stdout.flush()?;

        // Lines typed so far become messages; the end of stdin starts the closing handshake.
        if conn.state() == State::Open && !stdin_done {
            stdin_done = send_lines(&mut conn, &mut stream, &lines)?;
            if stdin_done {
                // Allowed while open; Closing state follows.
                let _ = conn.close(CloseCode::NORMAL, "");
            }
        }

        flush(&mut conn, &mut stream)?;
        // A client waits for the server to close TCP first (or the close timeout).
        if conn.should_close_transport() {
            return Ok(clean);
        }

        // Sleep in read() until data arrives, the next deadline, or the next channel check.
        let mut wake = Instant::now() + CHANNEL_CHECK;
        if let Some(deadline) = conn.poll_timeout().map(Instant::from) {
            wake = wake.min(deadline);
        }
        let timeout = wake
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(timeout))?;
        let mut rb = conn.read_buf();
        match stream.read(&mut rb) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => rb.commit(n),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
        conn.handle_timeout(Instant::now());
    }
}

/// Sends the lines waiting in the channel; returns whether stdin has ended.
fn send_lines(
    conn: &mut Connection,
    stream: &mut TcpStream,
    lines: &Receiver<String>,
) -> io::Result<bool> {
    loop {
        let line = match lines.try_recv() {
            Ok(line) => line,
            Err(TryRecvError::Empty) => return Ok(false),
            Err(TryRecvError::Disconnected) => return Ok(true),
        };
        match conn.send_text(&line) {
            Ok(()) => {}
            // The outbound queue is full: write it out and try once more.
            Err(SendError::Backpressure) => {
                flush(conn, stream)?;
                conn.send_text(&line).map_err(io::Error::other)?;
            }
            Err(e) => return Err(io::Error::other(e)),
        }
    }
}

/// Reads stdin line by line on its own thread; the channel disconnects at its end.
fn spawn_stdin_reader() -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break; // the connection is gone
            }
        }
    });
    rx
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

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
