//! Upgrading an axum (hyper) request into a `WebSocketStream`: subprotocol and
//! permessage-deflate negotiated, refusals answered with their status.
#![cfg(feature = "hyper")]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Response;
use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use ws_proto_io::Message;
use ws_proto_io::hyper::upgrade;
use ws_proto_io::tokio::{ConnectOptions, connect_with};
use ws_proto_io::ws_proto::{Accept, Config, DeflateConfig};

const LIMIT: Duration = Duration::from_secs(20);

async fn handler(mut request: Request) -> Response<Body> {
    let choose = |r: &ws_proto_io::ws_proto::Request| Accept {
        subprotocol: r.subprotocols().iter().find(|p| *p == "echo.v1").cloned(),
        ..Accept::default()
    };
    let (response, upgrade) = match upgrade(&mut request, Config::default(), choose) {
        Ok(answer) => answer,
        Err(refused) => return refused.response().map(Body::from),
    };
    tokio::spawn(async move {
        let mut ws = upgrade.await.unwrap();
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Text(_) | Message::Binary(_) = message {
                ws.send(message).await.unwrap();
            }
        }
    });
    response.map(|()| Body::empty())
}

async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        axum::serve(listener, Router::new().fallback(handler))
            .await
            .unwrap();
    });
    addr
}

#[tokio::test]
async fn axum_upgrade_negotiates_and_echoes() {
    let addr = server().await;
    let config = Config::default().with_deflate(DeflateConfig::default());
    let options = ConnectOptions::new()
        .config(config)
        .subprotocol("x")
        .subprotocol("echo.v1");
    let mut ws = timeout(LIMIT, connect_with(&format!("ws://{addr}/any"), options))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ws.subprotocol(), Some("echo.v1"));
    assert!(
        ws.negotiated().deflate().is_some(),
        "permessage-deflate not negotiated"
    );
    let big = "compressible ".repeat(5000);
    ws.send(Message::text(big.as_str())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text(big.as_str())
    );
    timeout(LIMIT, SinkExt::close(&mut ws))
        .await
        .unwrap()
        .unwrap();

    // No subprotocol offered: none chosen; still echoing.
    let mut plain = connect_with(&format!("ws://{addr}/"), ConnectOptions::new())
        .await
        .unwrap();
    assert_eq!(plain.subprotocol(), None);
    plain.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        plain.next().await.unwrap().unwrap(),
        Message::binary(vec![1, 2, 3])
    );
}

#[tokio::test]
async fn plain_get_is_refused_with_426() {
    let addr = server().await;
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    timeout(LIMIT, tcp.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 426"), "{response}");
    assert!(response.to_ascii_lowercase().contains("upgrade: websocket"));
    // An upgrade without a key: 400.
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut response = vec![0u8; 1024];
    let n = timeout(LIMIT, tcp.read(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response[..n]);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
}
