//! `wss://` with the blocking driver over loopback, certificates generated here with
//! rcgen: an echo, and the TLS failures (an untrusted certificate, a certificate for
//! another name, a peer that stops mid-record) as typed errors, with the server still
//! serving the next client.

#![cfg(feature = "tls")]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use ws_proto_io::blocking::{self, ConnectOptions, WebSocket};
use ws_proto_io::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ws_proto_io::tls::{self, Roots, rustls};
use ws_proto_io::ws_proto::CloseCode;
use ws_proto_io::ws_proto::handshake::ClientRequest;
use ws_proto_io::{Error, Message};

/// A test CA and a server certificate it signed for `names`.
struct Pki {
    ca: CertificateDer<'static>,
    server: Arc<rustls::ServerConfig>,
}

fn pki(names: &[&str]) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ws-proto-io test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Pki {
        ca: ca.der().clone(),
        server: tls::server_config(vec![cert.der().clone()], key).unwrap(),
    }
}

fn trusting(pki: &Pki) -> ConnectOptions {
    let config = tls::client_config(Roots::Certificates(vec![pki.ca.clone()])).unwrap();
    ConnectOptions::default().with_tls(config)
}

/// A TLS echo server for `clients` connections in turn; returns each one's outcome.
fn tls_echo_server(pki: &Pki, clients: usize) -> (SocketAddr, JoinHandle<Vec<Result<(), Error>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = pki.server.clone();
    let handle = thread::spawn(move || {
        let mut outcomes = Vec::new();
        for _ in 0..clients {
            let (tcp, _) = listener.accept().unwrap();
            outcomes.push(serve(tcp, config.clone()));
        }
        outcomes
    });
    (addr, handle)
}

fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>) -> Result<(), Error> {
    let mut ws = WebSocket::accept(blocking::tls_server(tcp, config)?)?;
    loop {
        match ws.read()? {
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message)?,
            Message::Close(_) => return Ok(()),
            _ => {}
        }
    }
}

/// A client that trusts the CA echoes one message and closes cleanly.
fn good_client(addr: SocketAddr, pki: &Pki, host: &str) {
    let request = ClientRequest::new(&format!("wss://{host}:{}/", addr.port())).unwrap();
    let mut ws = blocking::connect_with(request, trusting(pki)).unwrap();
    ws.send(Message::text("over tls")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("over tls"));
    let big = vec![3u8; 300 << 10];
    ws.send(Message::binary(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(big));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(Some(_))));
}

#[test]
fn wss_echo_by_name_and_by_ip() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let (addr, server) = tls_echo_server(&pki, 2);
    good_client(addr, &pki, "localhost");
    good_client(addr, &pki, "127.0.0.1");
    for outcome in server.join().unwrap() {
        outcome.unwrap();
    }
}

#[test]
fn an_untrusted_certificate_is_a_tls_error_and_the_server_goes_on() {
    let pki = pki(&["localhost"]);
    let (addr, server) = tls_echo_server(&pki, 2);
    // The webpki roots do not know the test CA.
    let error = blocking::connect(&format!("wss://localhost:{}/", addr.port())).unwrap_err();
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    good_client(addr, &pki, "localhost");
    let outcomes = server.join().unwrap();
    assert!(
        matches!(outcomes[0], Err(Error::Tls(_))),
        "{:?}",
        outcomes[0]
    );
    outcomes[1].as_ref().unwrap();
}

#[test]
fn a_certificate_for_another_name_is_a_tls_error() {
    let pki = pki(&["example.com"]);
    let (addr, server) = tls_echo_server(&pki, 2);
    let request = ClientRequest::new(&format!("wss://localhost:{}/", addr.port())).unwrap();
    let error = blocking::connect_with(request, trusting(&pki)).unwrap_err();
    match &error {
        Error::Tls(e) => assert!(
            e.downcast_ref::<rustls::Error>().is_some_and(|e| matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
                    | rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForNameContext { .. }
                    )
            )),
            "{e:?}"
        ),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    // The server then serves a client asking for the name it has.
    let request = ClientRequest::new(&format!("wss://example.com:{}/", addr.port())).unwrap();
    // example.com must resolve to the server: connect to the address, name it example.com.
    let tcp = TcpStream::connect(addr).unwrap();
    let config = tls::client_config(Roots::Certificates(vec![pki.ca.clone()])).unwrap();
    let conn =
        rustls::ClientConnection::new(config, tls::server_name("example.com").unwrap()).unwrap();
    let stream = rustls::StreamOwned::new(conn, tcp);
    let mut ws = WebSocket::client(stream, request, Default::default()).unwrap();
    ws.send(Message::text("named right")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("named right"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    let outcomes = server.join().unwrap();
    assert!(
        matches!(outcomes[0], Err(Error::Tls(_))),
        "{:?}",
        outcomes[0]
    );
    outcomes[1].as_ref().unwrap();
}

#[test]
fn a_server_that_stops_mid_record_is_a_tls_error() {
    let pki = pki(&["localhost"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = pki.server.clone();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = WebSocket::accept(blocking::tls_server(tcp, config).unwrap()).unwrap();
        // The start of an application-data record, then the TCP connection ends.
        let sock = &mut ws.get_mut().sock;
        sock.write_all(&[0x17, 0x03, 0x03, 0x00, 0x40, 1, 2, 3])
            .unwrap();
        sock.shutdown(std::net::Shutdown::Both).unwrap();
    });
    let request = ClientRequest::new(&format!("wss://localhost:{}/", addr.port())).unwrap();
    let mut ws = blocking::connect_with(request, trusting(&pki)).unwrap();
    server.join().unwrap();
    let error = ws.read().unwrap_err();
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(matches!(ws.read(), Err(Error::AlreadyClosed)));
}

#[test]
fn a_client_that_stops_mid_handshake_is_a_tls_error_and_the_server_goes_on() {
    let pki = pki(&["localhost"]);
    let (addr, server) = tls_echo_server(&pki, 3);
    // Plain HTTP to a TLS port: not a TLS record.
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // The first bytes of a ClientHello record, then nothing more.
    let mut cut = TcpStream::connect(addr).unwrap();
    cut.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    cut.shutdown(std::net::Shutdown::Write).unwrap();
    good_client(addr, &pki, "localhost");
    let outcomes = server.join().unwrap();
    assert!(
        matches!(outcomes[0], Err(Error::Tls(_))),
        "{:?}",
        outcomes[0]
    );
    assert!(
        matches!(outcomes[1], Err(Error::Tls(_))),
        "{:?}",
        outcomes[1]
    );
    outcomes[2].as_ref().unwrap();
    drop(tcp);
}
