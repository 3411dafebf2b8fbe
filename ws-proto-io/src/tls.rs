//! `wss://` over rustls: the configurations both drivers use.
//!
//! A server loads its certificate chain and private key from PEM files
//! ([`server_config_from_pem`]) or takes them as DER ([`server_config`]); a client verifies
//! the server against the webpki roots (Mozilla's list, compiled in) or against roots it is
//! given ([`client_config`]). Both offer ALPN `http/1.1`, the protocol a WebSocket upgrade
//! runs on. The ring provider does the cryptography.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::Error;

pub use rustls;

/// The ALPN protocol both ends offer.
const ALPN_HTTP1: &[u8] = b"http/1.1";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Tls(Box::new(e))
}

/// A server configuration from a certificate chain (leaf first) and its private key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_error)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration from PEM files: the certificate chain (leaf first) and the
/// private key (PKCS#8, PKCS#1 or SEC1).
pub fn server_config_from_pem(
    cert_file: impl AsRef<Path>,
    key_file: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>, Error> {
    let chain = CertificateDer::pem_file_iter(cert_file.as_ref())
        .map_err(tls_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_error)?;
    if chain.is_empty() {
        return Err(Error::Tls(
            format!("no certificate in {}", cert_file.as_ref().display()).into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file.as_ref()).map_err(tls_error)?;
    server_config(chain, key)
}

/// Which certificate authorities a client trusts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Roots {
    /// The webpki roots (Mozilla's list, compiled in).
    Webpki,
    /// These certificates only (a private CA, or a self-signed server certificate).
    Certificates(Vec<CertificateDer<'static>>),
}

impl Roots {
    /// The certificates of a PEM file (a private CA, a self-signed server certificate).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Roots, Error> {
        let certs = CertificateDer::pem_file_iter(path.as_ref())
            .map_err(tls_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(tls_error)?;
        if certs.is_empty() {
            return Err(Error::Tls(
                format!("no certificate in {}", path.as_ref().display()).into(),
            ));
        }
        Ok(Roots::Certificates(certs))
    }
}

/// A client configuration that verifies servers against `roots`.
pub fn client_config(roots: Roots) -> Result<Arc<ClientConfig>, Error> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Roots::Certificates(certs) => {
            for cert in certs {
                store.add(cert).map_err(tls_error)?;
            }
        }
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// The server name a client verifies the certificate against: the URL's host (a DNS name
/// or an IP address).
pub fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, Error> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(tls_error)
}
