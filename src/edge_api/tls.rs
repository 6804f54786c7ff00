//! TLS for the edge API.
//!
//! Not optional in practice: client-go's clientcmd (kube-proxy, kubectl)
//! attaches a kubeconfig's bearer token only to `https` servers, so over
//! plain http every edge request would arrive without a token and get 401.
//! Plain http stays available for tests and for a TLS-terminating proxy in
//! front.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("edge API TLS: {0}")]
pub struct TlsError(String);

fn tls_err(e: impl std::fmt::Display) -> TlsError {
    TlsError(e.to_string())
}

/// A server certificate and key, ready to serve.
#[derive(Clone)]
pub struct EdgeTls {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for EdgeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EdgeTls { .. }")
    }
}

/// [`EdgeTls::self_signed`]: the server side and what clients trust.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    pub tls: EdgeTls,
    /// The CA certificate (PEM), for `certificate-authority-data`.
    pub ca_pem: String,
    /// The same, DER-encoded, for `kube::Config::root_cert`.
    pub ca_der: Vec<u8>,
}

impl EdgeTls {
    /// Reads a PEM certificate chain (server certificate first) and its PEM private key.
    pub fn load(cert_chain: &Path, key: &Path) -> Result<EdgeTls, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert_chain)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TlsError(format!("certificate {}: {e}", cert_chain.display())))?;
        if chain.is_empty() {
            return Err(TlsError(format!(
                "certificate {}: no CERTIFICATE block",
                cert_chain.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| TlsError(format!("private key {}: {e}", key.display())))?;
        EdgeTls::from_parts(chain, key)
    }

    /// Uses a rustls configuration as it is (ALPN included).
    pub fn from_config(config: Arc<rustls::ServerConfig>) -> EdgeTls {
        EdgeTls { config }
    }

    /// A fresh CA and a server certificate it signed for `names` (DNS names
    /// or IP addresses), for tests and trials; real fleets bring their own.
    pub fn self_signed(names: &[String]) -> Result<SelfSigned, TlsError> {
        let issued = crate::certs::issue("edgedeck edge API CA", "edgedeck edge API", names, &[])
            .map_err(tls_err)?;
        let tls = EdgeTls::from_parts(
            vec![
                CertificateDer::from(issued.server_der),
                CertificateDer::from(issued.ca_der.clone()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.server_key_der)),
        )?;
        Ok(SelfSigned {
            tls,
            ca_pem: issued.ca_pem,
            ca_der: issued.ca_der,
        })
    }

    fn from_parts(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<EdgeTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(tls_err)?;
        // Only HTTP/1.1 is served; saying so lets Go clients skip h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(EdgeTls {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    #[test]
    fn self_signed_material_loads_back_from_pem_files() {
        let material = EdgeTls::self_signed(&["127.0.0.1".into(), "edge.example".into()])
            .expect("self-signed");
        assert!(material.ca_pem.contains("BEGIN CERTIFICATE"));
        assert!(!material.ca_der.is_empty());

        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        let params = CertificateParams::new(vec!["edge.example".to_string()]).expect("params");
        let key_pair = KeyPair::generate().expect("key");
        let certificate = params.self_signed(&key_pair).expect("cert");
        std::fs::write(&cert, certificate.pem()).expect("write cert");
        std::fs::write(&key, key_pair.serialize_pem()).expect("write key");
        assert!(EdgeTls::load(&cert, &key).is_ok());
    }

    #[test]
    fn load_names_the_bad_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let err = EdgeTls::load(&empty, &empty).expect_err("no certificate");
        assert!(err.to_string().contains("empty.pem"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = EdgeTls::load(&missing, &missing).expect_err("missing");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
