//! A WebSocket echo behind axum: axum (hyper) parses the HTTP request and does the
//! upgrade; `ws_proto_io::hyper::upgrade` validates it, negotiates, and the tokio driver
//! runs the upgraded stream.
//!
//! ```sh
//! cargo run --release --example axum                # 127.0.0.1:9002
//! cargo run --release --example axum -- --listen 127.0.0.1:9005
//! cargo run --example client -- ws://127.0.0.1:9002/any/path
//! ```
//!
//! Every path accepts a WebSocket upgrade and echoes text and binary messages. The
//! subprotocol `echo.v1` is chosen when offered, and permessage-deflate is negotiated from
//! `Config::default()`. Plain HTTP requests get `426 Upgrade Required`.

use std::io;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Response;
use tokio::net::TcpListener;
use ws_proto_io::Message;
use ws_proto_io::hyper::upgrade;
use ws_proto_io::ws_proto::{Accept, Config};

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
    axum::serve(listener, Router::new().fallback(echo)).await
}

/// The handler for every path: answers 101 (or the refusal) and spawns the echo.
async fn echo(mut request: Request) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let choose = |r: &ws_proto_io::ws_proto::Request| Accept {
        subprotocol: r.subprotocols().iter().find(|p| *p == "echo.v1").cloned(),
        ..Accept::default()
    };
    let (response, upgrade) = match upgrade(&mut request, Config::default(), choose) {
        Ok(answer) => answer,
        Err(refused) => return refused.response().map(Body::from),
    };
    // The stream exists once hyper has written the 101.
    tokio::spawn(async move {
        let mut ws = match upgrade.await {
            Ok(ws) => ws,
            Err(e) => return eprintln!("path={path} error: {e}"),
        };
        let mut end = String::from("ended without a Close frame");
        while let Some(message) = ws.next().await {
            match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    if let Err(e) = ws.send(message).await {
                        end = format!("echo not sent: {e}");
                        break;
                    }
                }
                Ok(Message::Close(frame)) => end = format!("close={frame:?}"),
                Ok(_) => {} // Ping (answered automatically), Pong
                Err(e) => end = format!("error: {e}"),
            }
        }
        println!("path={path} {end}");
    });
    response.map(|()| Body::empty())
}
