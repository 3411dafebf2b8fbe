//! A command-line WebSocket client on the blocking driver of `ws-proto-io`.
//!
//! ```sh
//! cargo run --example client -- ws://127.0.0.1:9001/ws
//! cargo run --example client -- ws://127.0.0.1:9001/ws --subprotocol chat \
//!     --header 'Authorization: Bearer token' --origin http://127.0.0.1:9001
//! cargo run --example client -- wss://127.0.0.1:9443/ws --ca ca.pem
//! ```
//!
//! - Each line read from stdin is sent as a text message; each text message received is
//!   printed on its own line to stdout (binary ones as `<binary N bytes>`). Status lines
//!   (`connected (subprotocol: chat)`, the close code) go to stderr.
//! - At the end of stdin the client closes with 1000 and waits, at most the close timeout
//!   (10 s), for the server's Close and for the server to close the TCP connection.
//! - `wss://` verifies the server against the webpki roots, or against the certificates
//!   of `--ca FILE` (PEM: a private CA, a self-signed server certificate).
//! - Exit status: 0 after a closing handshake (whoever started it), 1 if the server refused
//!   the handshake (its status and body are printed), broke the protocol, or went away
//!   without a Close; 2 for a bad command line.
//!
//! stdin is read on its own thread and arrives through a channel; the main thread reads
//! the socket with a short timeout so that it can look at the channel in between.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::Duration;

use ws_proto::CloseCode;
use ws_proto::handshake::ClientRequest;
use ws_proto_io::blocking::{self, ConnectOptions, MaybeTls, WebSocket};
use ws_proto_io::tls::{self, Roots};
use ws_proto_io::{Error, Message};

/// How often the loop looks at stdin's channel while the socket is quiet.
const CHANNEL_CHECK: Duration = Duration::from_millis(50);

fn usage(problem: &str) -> ExitCode {
    eprintln!("{problem}");
    eprintln!(
        "usage: client ws[s]://HOST[:PORT][/PATH] [--subprotocol P]... [--header 'Name: value']... \
         [--origin O] [--ca FILE]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut url = None;
    let mut request_options = Vec::new();
    let mut ca = None;
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
            "--subprotocol" | "--origin" | "--header" => request_options.push((arg, value)),
            "--ca" => ca = Some(value),
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
    for (option, value) in request_options {
        request = match option.as_str() {
            "--subprotocol" => request.subprotocol(value),
            "--origin" => request.origin(value),
            _ => match value.split_once(':') {
                Some((name, v)) => request.header(name.trim(), v.trim()),
                None => return usage(&format!("--header {value:?}: expected 'Name: value'")),
            },
        };
    }
    let mut options = ConnectOptions::default();
    if let Some(ca) = ca {
        match Roots::from_pem_file(&ca).and_then(tls::client_config) {
            Ok(config) => options = options.with_tls(config),
            Err(e) => return usage(&format!("--ca {ca}: {e}")),
        }
    }

    let mut ws = match blocking::connect_with(request, options) {
        Ok(ws) => ws,
        Err(Error::Rejected { status, body }) => {
            eprintln!("handshake refused: {status}");
            eprintln!("{}", String::from_utf8_lossy(&body).trim_end());
            return ExitCode::from(1);
        }
        Err(e @ (Error::Url(_) | Error::Request(_))) => return usage(&e.to_string()),
        Err(e) => {
            eprintln!("connection failed: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "connected (subprotocol: {})",
        ws.subprotocol().unwrap_or("none")
    );
    match run(&mut ws) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("connection failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// Sends stdin's lines and prints what arrives until the connection ends; `Ok` after a
/// closing handshake.
fn run(ws: &mut WebSocket<MaybeTls>) -> Result<(), Error> {
    let lines = spawn_stdin_reader();
    let mut stdin_open = true;
    let mut stdout = io::stdout().lock();
    loop {
        // Lines typed so far become messages; the end of stdin starts the closing handshake.
        while stdin_open {
            match lines.try_recv() {
                Ok(line) => ws.send(Message::text(line))?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    stdin_open = false;
                    ws.close(CloseCode::NORMAL, "")?;
                }
            }
        }
        match ws.read_timeout(CHANNEL_CHECK)? {
            Some(Message::Text(text)) => writeln!(stdout, "{text}")?,
            Some(Message::Binary(data)) => writeln!(stdout, "<binary {} bytes>", data.len())?,
            Some(Message::Close(frame)) => {
                match frame {
                    Some(frame) => eprintln!("closed: {} {}", frame.code, frame.reason),
                    None => eprintln!("closed: {}", CloseCode::NO_STATUS),
                }
                return Ok(());
            }
            Some(_) | None => {} // Ping (answered by the driver), Pong, nothing yet
        }
        stdout.flush()?;
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
