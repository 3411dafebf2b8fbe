//! `wss://` with the tokio driver: certificates made by rcgen in the test, typed TLS
//! errors, and a server that keeps serving after a client failed.
#![cfg(all(feature = "tokio", feature = "tls"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::SinkExt;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use ws_proto_io::tls::{Roots, client_config, rustls, server_config};
use ws_proto_io::tokio::{Answer, ConnectOptions, accept_tls_with, connect_with};
use ws_proto_io::ws_proto::Config;
use ws_proto_io::{Error, Message};

const LIMIT: Duration = Duration::from_secs(20);

/// A self-signed certificate for `names`, and the server configuration with it.
fn certificate(names: &[&str]) -> (CertificateDer<'static>, Arc<rustls::ServerConfig>) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = server_config(vec![cert.clone()], key).unwrap();
    (cert, config)
}

/// An echo server over TLS for every connection; handshake failures are counted, not fatal.
async fn serve(listener: TcpListener, config: Arc<rustls::ServerConfig>) {
    loop {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = config.clone();
        tokio::spawn(async move {
            let Ok(mut ws) =
                accept_tls_with(tcp, config, Config::default(), |_| Answer::accept()).await
            else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(_) | Message::Binary(_) = message {
                    if ws.send(message).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

fn options(cert: &CertificateDer<'static>) -> ConnectOptions {
    let roots = Roots::Certificates(vec![cert.clone()]);
    ConnectOptions::new().tls(client_config(roots).unwrap())
}

#[tokio::test]
async fn wss_echo_and_typed_tls_errors() {
    let (cert, config) = certificate(&["localhost"]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, config));

    // Not trusted: the webpki roots do not know a self-signed certificate.
    let untrusted = connect_with(&format!("wss://localhost:{port}/"), ConnectOptions::new()).await;
    assert!(matches!(untrusted, Err(Error::Tls(_))), "{untrusted:?}");

    // Trusted, but the name does not match (the certificate is for localhost only).
    let wrong_name = connect_with(&format!("wss://127.0.0.1:{port}/"), options(&cert)).await;
    assert!(matches!(wrong_name, Err(Error::Tls(_))), "{wrong_name:?}");

    // The server still serves: a good client echoes.
    let mut ws = timeout(
        LIMIT,
        connect_with(&format!("wss://localhost:{port}/x"), options(&cert)),
    )
    .await
    .unwrap()
    .unwrap();
    ws.send(Message::text("over tls")).await.unwrap();
    ws.send(Message::binary(vec![9u8; 300_000])).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("over tls"));
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![9u8; 300_000])
    );
    timeout(LIMIT, SinkExt::close(&mut ws))
        .await
        .unwrap()
        .unwrap();
}

/// A client speaking plain HTTP to the TLS port: the server's handshake fails with
/// `Error::Tls`, and it goes on serving.
#[tokio::test]
async fn plain_client_on_tls_port_is_a_tls_error() {
    let (cert, config) = certificate(&["localhost"]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let result =
            accept_tls_with(tcp, config.clone(), Config::default(), |_| Answer::accept()).await;
        assert!(matches!(result, Err(Error::Tls(_))), "{result:?}");
        serve(listener, config).await;
    });
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = timeout(LIMIT, tcp.read_to_end(&mut sink)).await.unwrap();
    let mut ws = connect_with(&format!("wss://localhost:{port}/"), options(&cert))
        .await
        .unwrap();
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("still here")
    );
    server.abort();
}

/// A peer whose connection ends in the middle of a TLS record: the reader gets
/// `Error::Tls`, not a panic and not a clean end.
#[tokio::test]
async fn peer_closing_mid_record_is_a_tls_error() {
    let (cert, config) = certificate(&["localhost"]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, config));

    // A proxy that, once told to, forwards half of the server's next chunk and hangs up.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let cut = Arc::new(AtomicBool::new(false));
    let cut_in_proxy = cut.clone();
    tokio::spawn(async move {
        let (client, _) = proxy.accept().await.unwrap();
        let server = TcpStream::connect(("127.0.0.1", server_port))
            .await
            .unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        });
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = server_read.read(&mut chunk).await.unwrap();
            if n == 0 {
                return;
            }
            if cut_in_proxy.load(Ordering::SeqCst) {
                client_write.write_all(&chunk[..n / 2]).await.unwrap();
                return; // both halves dropped: the connection ends mid-record
            }
            client_write.write_all(&chunk[..n]).await.unwrap();
        }
    });
    let url = format!("wss://localhost:{proxy_port}/");
    let mut ws = connect_with(&url, options(&cert)).await.unwrap();
    cut.store(true, Ordering::SeqCst);
    ws.send(Message::binary(vec![1u8; 20_000])).await.unwrap();
    let end = timeout(LIMIT, ws.next()).await.unwrap();
    assert!(matches!(end, Some(Err(Error::Tls(_)))), "{end:?}");
    assert!(ws.next().await.is_none());
}
