//! What the controller refuses: a probe without a certificate, with a certificate from another
//! CA, or with a revoked one never gets a Welcome; a malformed or oversized message closes that
//! connection with its error code — while another probe's replay goes on and is stored exactly.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wirewatch_e2e::*;
use wirewatch_probe::uplink::{Identity, client_config};
use wirewatch_wire::{ControllerMessage, close};

fn ca_of(identity: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(identity.join("ca.crt")).expect("ca.crt").collect::<Result<_, _>>().expect("PEM")
}

fn endpoint() -> quinn::Endpoint {
    quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).expect("client endpoint")
}

async fn connect(cfg: quinn::ClientConfig, addr: SocketAddr) -> Result<quinn::Connection, String> {
    let ep = endpoint();
    let c = ep.connect_with(cfg, addr, "127.0.0.1").map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(10), c)
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())
}

/// Connects and sends a Hello; Ok(Welcome) only if the controller accepted the probe.
async fn hello(cfg: quinn::ClientConfig, addr: SocketAddr) -> Result<ControllerMessage, String> {
    let conn = connect(cfg, addr).await?;
    let h = test_hello("test");
    let frame = wirewatch_wire::encode(&h).map_err(|e| e.to_string())?;
    let go = async {
        let (mut s, mut r) = conn.open_bi().await.map_err(|e| e.to_string())?;
        s.write_all(&frame).await.map_err(|e| e.to_string())?;
        s.finish().map_err(|e| e.to_string())?;
        let b = r.read_to_end(1 << 20).await.map_err(|e| e.to_string())?;
        wirewatch_wire::decode::<ControllerMessage>(&b, 1 << 20).map_err(|e| e.to_string())
    };
    tokio::time::timeout(Duration::from_secs(10), go).await.map_err(|_| "no answer".to_string())?
}

/// Sends raw bytes on a first stream and returns the application close code.
async fn close_code(cfg: quinn::ClientConfig, addr: SocketAddr, bytes: Vec<u8>) -> Option<u64> {
    let conn = connect(cfg, addr).await.ok()?;
    if let Ok((mut s, _r)) = conn.open_bi().await {
        let _ = s.write_all(&bytes).await;
        let _ = s.finish();
    }
    match tokio::time::timeout(Duration::from_secs(10), conn.closed()).await {
        Ok(quinn::ConnectionError::ApplicationClosed(c)) => Some(c.error_code.into_inner()),
        _ => None,
    }
}

#[test]
fn refused_probes_and_bad_messages() {
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let c = Controller::start(
        &dir.path().join("c1"),
        &url,
        "c1",
        free_udp_port(),
        &[("WIREWATCH_MAX_FRAME_BYTES", "262144")],
    );
    // A well-behaved probe replays all along.
    let good = c.enroll("good", "lab", dir.path());
    let mut p = Probe::replay(&[c.quic], &good, &[pcaps().join("netflix.pcap")], "10", 5);
    let other = c.enroll("other", "lab", dir.path());
    let revoked = c.enroll("revoked", "lab", dir.path());
    c.cli(&["probe", "revoke", "revoked"]).expect("revoke");
    std::thread::sleep(Duration::from_secs(3)); // revocation list refresh (2 s)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        // Control: the enrolled identity is welcomed.
        let ok = hello(client_config(&Identity::load(&other).expect("identity")).expect("config"), c.quic).await;
        assert!(matches!(ok, Ok(ControllerMessage::Welcome(_))), "{ok:?}");

        // No certificate at all.
        let mut roots = rustls::RootCertStore::empty();
        for ca in ca_of(&other) {
            roots.add(ca).expect("root");
        }
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls13")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![wirewatch_wire::ALPN.to_vec()];
        let cfg =
            quinn::ClientConfig::new(Arc::new(quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic")));
        let r = hello(cfg, c.quic).await;
        assert!(r.is_err(), "no certificate: {r:?}");

        // A certificate from another CA.
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let rogue_ca = params.self_signed(&key).expect("rogue CA");
        let issuer = rcgen::Issuer::new(params, key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(Vec::<String>::new())
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        let id = Identity {
            chain: vec![leaf.der().clone(), rogue_ca.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            ca: ca_of(&other),
        };
        let r = hello(client_config(&id).expect("config"), c.quic).await;
        assert!(r.is_err(), "foreign CA: {r:?}");

        // A revoked certificate.
        let r = hello(client_config(&Identity::load(&revoked).expect("identity")).expect("config"), c.quic).await;
        assert!(r.is_err(), "revoked: {r:?}");

        // Malformed and oversized messages close the connection with their codes.
        let cfg = || client_config(&Identity::load(&other).expect("identity")).expect("config");
        let code = close_code(cfg(), c.quic, vec![0, 0, 0, 6, 1, 0xff, 0xff, 0xff, 0xff, 0xff]).await;
        assert_eq!(code, Some(u64::from(close::MALFORMED)));
        let code = close_code(cfg(), c.quic, vec![0, 0, 0, 3, 99, 0, 0]).await;
        assert_eq!(code, Some(u64::from(close::VERSION)));
        let code = close_code(cfg(), c.quic, vec![7u8; 300_000]).await;
        assert_eq!(code, Some(u64::from(close::TOO_LARGE)));
    });
    assert_eq!(p.wait(Duration::from_secs(120)), Some(0), "the good probe");
    assert_exact(&c, "good", "netflix.pcap");
    let stored =
        pg.scalar("ww", "SELECT count(*) FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name <> 'good'");
    assert_eq!(stored, 0, "a refused probe stored something");
    let m = c.metrics_text();
    assert!(m.contains("wirewatch_connections_refused_total{outcome=\"handshake\"}"), "{m}");
}
