//! A WebSocket echo behind axum: axum (hyper) parses the HTTP request and does the
//! upgrade, ws-proto validates it, chooses what to agree on and then drives the upgraded
//! stream.
//!
//! ```sh
//! cargo run --release --features http --example axum                # 127.0.0.1:9002
//! cargo run --release --features http --example axum -- --listen 127.0.0.1:9005
//! cargo run --example client -- ws://127.0.0.1:9002/any/path
//! ```
//!
//! Every path accepts a WebSocket upgrade and echoes text and binary messages. The
//! subprotocol `echo.v1` is chosen when offered, and permessage-deflate is negotiated from
//! `Config::default()`. Plain HTTP requests get `426 Upgrade Required`.

use std::io;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::Request as HttpRequest;
use axum::http::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use ws_proto::handshake::accept_http;
use ws_proto::{Accept, Config, Connection, Event, Negotiated, Request, Role};

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut listen = String::from("127.0.0.1:9002");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            _ => {
                eprintln!("usage: axum [--listen ADDR:PORT]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, Router::new().fallback(upgrade)).await
}

/// The handler for every path: validates the request, answers 101 and spawns the echo.
async fn upgrade(mut http_request: HttpRequest) -> Response<Body> {
    let request = match Request::from_http(&http_request) {
        Ok(request) if request.is_upgrade() => request,
        Ok(_) => {
            return text(
                StatusCode::UPGRADE_REQUIRED,
                "this server speaks WebSocket only",
            );
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return text(status, e.message());
        }
    };
    let subprotocol = request.subprotocols().iter().find(|p| *p == "echo.v1");
    let accept = Accept {
        subprotocol: subprotocol.cloned(),
        ..Accept::default()
    };
    let config = Config::default();
    let (response, negotiated) = match accept_http(&request, &accept, &config) {
        Ok(answer) => answer,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    // hyper hands over the connection once this handler's 101 has been written.
    let on_upgrade = hyper::upgrade::on(&mut http_request);
    let path = request.path().to_owned();
    tokio::spawn(async move {
        let result = match on_upgrade.await {
            Ok(upgraded) => echo(TokioIo::new(upgraded), negotiated, config).await,
            Err(e) => Err(io::Error::other(e)),
        };
        match result {
            Ok(end) => println!("path={path} {end}"),
            Err(e) => eprintln!("path={path} error: {e}"),
        }
    });
    response.map(|()| Body::empty())
}

/// Echoes text and binary messages on the upgraded stream until the connection is over;
/// returns how it ended.
async fn echo(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    negotiated: Negotiated,
    config: Config,
) -> io::Result<String> {
    let mut conn = Connection::upgraded(Role::Server, negotiated, config, Instant::now());
    let mut buf = Vec::new();
    let mut end = String::from("ended without a Close frame");
    loop {
        while let Some(event) = conn.poll_event(&mut buf) {
            let sent = match event {
                Event::Text(text) => conn.send_text(text),
                Event::Binary(data) => conn.send_binary(data),
                Event::Closed(closed) => {
                    end = format!(
                        "close={} {} ({:?})",
                        closed.code, closed.reason, closed.cause
                    );
                    Ok(())
                }
                _ => Ok(()), // Ping (answered automatically), Pong
            };
            if let Err(e) = sent {
                end = format!("echo not sent: {e}");
            }
        }
        loop {
            let out = conn.poll_transmit();
            if out.is_empty() {
                break;
            }
            let n = out.len();
            io.write_all(&out).await?;
            out.advance(n);
        }
        io.flush().await?;
        if conn.should_close_transport() {
            let _ = io.shutdown().await;
            return Ok(end);
        }
        let deadline = conn.poll_timeout().map(Instant::from);
        // Read straight into the connection; a read cancelled by the deadline read nothing.
        let mut read_buf = conn.read_buf();
        let read = tokio::select! {
            read = io.read(&mut read_buf) => Some(read?),
            () = sleep_until(deadline) => None,
        };
        match read {
            Some(0) => conn.handle_eof(),
            Some(n) => read_buf.commit(n),
            None => {}
        }
        conn.handle_timeout(Instant::now());
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A short plain-text answer.
fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
    if status == StatusCode::UPGRADE_REQUIRED {
        headers.insert("upgrade", "websocket".parse().unwrap());
        headers.insert("sec-websocket-version", "13".parse().unwrap());
    }
    response
}
