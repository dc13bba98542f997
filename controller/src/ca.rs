//! The controller's certificate authority: made on first start, kept under the data directory
//! (`ca/ca.crt`, `ca/ca.key`, mode 0600) and in the database, so that every controller of one
//! database accepts the same probes. Signs probe identities (`probe enroll`) and each
//! controller's own server certificate.

use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::Digest;
use wirewatch_store::{Store, private_files};

/// CA failures.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Store(#[from] wirewatch_store::StoreError),
}

/// The CA (PEM certificate and key).
#[derive(Clone)]
pub struct Ca {
    pub cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("cert_pem", &"…").field("key_pem", &"<redacted>").finish()
    }
}

/// A signed leaf: certificate and key in PEM, and the certificate's SHA-256 (DER).
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    pub sha256: Vec<u8>,
}

pub fn sha256(der: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(der).to_vec()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io { path: path.display().to_string(), source }
}

/// Replaces a file of a directory of ours (the data dir's `ca/`, the demo's identity): 0600,
/// never through a link (see `wirewatch_store::private_files`).
fn replace(dir: &Path, name: &str, data: &str) -> Result<(), CaError> {
    private_files::private_dir(dir).map_err(io_error(dir))?;
    let path = dir.join(name);
    private_files::replace(&path, data.as_bytes()).map_err(io_error(&path))
}

impl Ca {
    fn generate() -> Result<Ca, CaError> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "wirewatch controller CA");
        dn.push(DnType::OrganizationName, "wirewatch");
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = p.self_signed(&key)?;
        Ok(Ca { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// The CA of this database (adopting the data directory's, or making one, if it has none),
    /// written to `<data_dir>/ca/`.
    pub async fn load_or_create(data_dir: &Path, store: &Store) -> Result<Ca, CaError> {
        let dir = data_dir.join("ca");
        let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        let ca = match store.ca().await? {
            Some((c, k)) => Ca { cert_pem: c, key_pem: k },
            None => {
                let local = match (std::fs::read_to_string(&crt), std::fs::read_to_string(&key)) {
                    (Ok(c), Ok(k)) => Ca { cert_pem: c, key_pem: k },
                    _ => {
                        tracing::info!(dir = %dir.display(), "creating the controller CA");
                        Ca::generate()?
                    }
                };
                // Another controller may store one at the same moment: the stored one wins.
                let (c, k) = store.put_ca(&local.cert_pem, &local.key_pem).await?;
                Ca { cert_pem: c, key_pem: k }
            }
        };
        if std::fs::read_to_string(&crt).ok().as_deref() != Some(ca.cert_pem.as_str()) {
            replace(&dir, "ca.key", &ca.key_pem)?;
            replace(&dir, "ca.crt", &ca.cert_pem)?;
        }
        Ok(ca)
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, CaError> {
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, KeyPair::from_pem(&self.key_pem)?)?)
    }

    pub fn cert_der(&self) -> Result<CertificateDer<'static>, CaError> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| CaError::Io { path: "CA certificate".into(), source: std::io::Error::other(e.to_string()) })
    }

    /// A probe certificate: CN = probe name, O = site, client authentication only.
    pub fn sign_probe(&self, name: &str, site: &str) -> Result<Leaf, CaError> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, site);
        p.distinguished_name = dn;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = p.signed_by(&key, &self.issuer()?)?;
        let der = cert.der().to_vec();
        Ok(Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), sha256: sha256(&der), cert_der: der })
    }

    /// This controller's server certificate for `names` (DNS names or IP addresses).
    pub fn server_cert(
        &self,
        names: &[String],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CaError> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().map(String::as_str).unwrap_or("wirewatch controller"));
        p.distinguished_name = dn;
        for n in names {
            p.subject_alt_names.push(match n.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(n.clone().try_into()?),
            });
        }
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = p.signed_by(&key, &self.issuer()?)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.cert_der()?], key_der))
    }
}

/// Writes a probe identity into a new private directory (0700; an existing one only when it
/// is an empty directory of ours): probe.crt, probe.key, ca.crt, each a new 0600 file (never
/// written through a link, never over an existing file).
pub fn write_identity(dir: &Path, leaf: &Leaf, ca: &Ca) -> Result<(), CaError> {
    private_files::fresh_dir(dir).map_err(io_error(dir))?;
    for (name, data) in [("probe.key", &leaf.key_pem), ("probe.crt", &leaf.cert_pem), ("ca.crt", &ca.cert_pem)] {
        let path = dir.join(name);
        private_files::write_new(&path, data.as_bytes()).map_err(io_error(&path))?;
    }
    Ok(())
}

/// Replaces the identity in a directory of ours that is re-used (the demo's probe, under the
/// data dir): the same files, renamed over the old ones.
pub fn replace_identity(dir: &Path, leaf: &Leaf, ca: &Ca) -> Result<(), CaError> {
    replace(dir, "probe.key", &leaf.key_pem)?;
    replace(dir, "probe.crt", &leaf.cert_pem)?;
    replace(dir, "ca.crt", &ca.cert_pem)
}
