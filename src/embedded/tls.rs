//! A throwaway certificate authority and server certificate per run.
//!
//! TLS is needed even on loopback because kubectl (client-go's clientcmd)
//! only attaches kubeconfig credentials to `https` servers: over plain http
//! it would send no token and every request would get 401.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::error::ClusterError;

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

pub fn generate() -> Result<TlsMaterial, ClusterError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "edgedeck embedded cluster CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(tls_err)?)
        .map_err(tls_err)?;

    let server_key = KeyPair::generate().map_err(tls_err)?;
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_string()]).map_err(tls_err)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "edgedeck embedded API server");
    server_params.subject_alt_names.extend([
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ]);
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &ca).map_err(tls_err)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .map_err(tls_err)?;
    // Only HTTP/1.1 is served; advertising it lets Go clients skip h2.
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let ca_der: CertificateDer<'static> = ca.der().clone();
    Ok(TlsMaterial {
        ca_pem: ca.pem(),
        ca_der: ca_der.to_vec(),
        server_config: Arc::new(server_config),
    })
}
