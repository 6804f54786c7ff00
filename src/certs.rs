//! Throwaway certificate authorities for loopback and trial servers (the
//! embedded cluster, a self-signed edge API): one CA, one server
//! certificate it signed. Real fleets bring their own certificates.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// A fresh CA and a server certificate signed by it, DER and PEM encoded.
pub struct Issued {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub server_der: Vec<u8>,
    /// PKCS#8.
    pub server_key_der: Vec<u8>,
}

/// Issues a CA named `ca_name` and a server certificate `server_name` for
/// `names` (names that parse as IP addresses become IP SANs) plus `extra`.
pub fn issue(
    ca_name: &str,
    server_name: &str,
    names: &[String],
    extra: &[SanType],
) -> Result<Issued, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(names.to_vec())?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, server_name);
    server_params
        .subject_alt_names
        .extend(extra.iter().cloned());
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params.signed_by(&server_key, &ca)?;
    Ok(Issued {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        server_der: server.der().to_vec(),
        server_key_der: server_key.serialize_der(),
    })
}
