//! A certificate authority and server certificate: throwaway per run, or
//! kept in the data directory (as [`Credentials`]) so kubeconfigs stay valid.
//!
//! TLS is needed even on loopback because kubectl (client-go's clientcmd)
//! only attaches kubeconfig credentials to `https` servers: over plain http
//! it would send no token and every request would get 401.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::SanType;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::error::ClusterError;
use super::persist::Credentials;

pub struct TlsMaterial {
    /// The CA certificate clients trust (PEM, for kubeconfig).
    pub ca_pem: String,
    /// The same, DER-encoded (for kube::Config::root_cert).
    pub ca_der: Vec<u8>,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn tls_err(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Tls(e.to_string())
}

/// A fresh CA, server certificate and token.
pub fn generate() -> Result<Credentials, ClusterError> {
    let loopback = [
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    let issued = crate::certs::issue(
        "edgedeck embedded cluster CA",
        "edgedeck embedded API server",
        &["localhost".to_string()],
        &loopback,
    )
    .map_err(tls_err)?;
    Ok(Credentials {
        token: new_token(),
        ca_pem: issued.ca_pem,
        ca_der: STANDARD.encode(&issued.ca_der),
        cert_chain: vec![
            STANDARD.encode(&issued.server_der),
            STANDARD.encode(&issued.ca_der),
        ],
        key: STANDARD.encode(&issued.server_key_der),
    })
}

/// 32 random bytes, hex-encoded.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(field: &str, value: &str) -> Result<Vec<u8>, ClusterError> {
    STANDARD
        .decode(value)
        .map_err(|e| ClusterError::Tls(format!("credentials: {field} is not base64: {e}")))
}

/// The TLS server configuration for stored or fresh credentials.
pub fn material(credentials: &Credentials) -> Result<TlsMaterial, ClusterError> {
    let chain = credentials
        .cert_chain
        .iter()
        .map(|c| decode("cert_chain", c).map(CertificateDer::from))
        .collect::<Result<Vec<_>, _>>()?;
    let key = decode("key", &credentials.key)?;
    let ca_der = decode("ca_der", &credentials.ca_der)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
        .map_err(tls_err)?;
    // Only HTTP/1.1 is served; advertising it lets Go clients skip h2.
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem: credentials.ca_pem.clone(),
        ca_der,
        server_config: Arc::new(server_config),
    })
}
