//! The probe↔controller link under abuse: a probe revoked while connected is disconnected and
//! commits nothing more; a flood of QUIC handshakes without certificates does not keep an
//! enrolled probe out; an interval of 600k new hosts is delivered in several batches with
//! every host counted; a damaged spool file is quarantined and delivery goes on.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use wirewatch_e2e::*;
use wirewatch_probe::uplink::{Identity, client_config};
use wirewatch_wire::{Batch, ControllerMessage, ProbeMessage, SpoolStatus, close};

fn committed(pg: &Pg, probe: &str) -> i64 {
    pg.scalar(
        "ww",
        &format!("SELECT count(*) FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name = '{probe}'"),
    )
}

/// The value of one metric line (`name{labels}`), 0 when absent.
fn metric(c: &Controller, line: &str) -> f64 {
    c.metrics_text()
        .lines()
        .find(|l| l.starts_with(line) && l[line.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn setup(env: &[(&str, &str)]) -> (Pg, tempfile::TempDir, Controller) {
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let c = Controller::start(&dir.path().join("c1"), &url, "c1", free_udp_port(), env);
    (pg, dir, c)
}

#[test]
fn a_probe_revoked_while_connected_is_closed_and_commits_nothing_more() {
    let (pg, dir, c) = setup(&[]);
    let id = c.enroll("p", "lab", dir.path());
    // gnutella: 590 s of traffic; at 10x with 5 s intervals, two batches a second for a minute.
    let mut p = Probe::replay(&[c.quic], &id, &[pcaps().join("gnutella.pcap")], "10", 5);
    wait_until("5 batches committed", Duration::from_secs(60), || committed(&pg, "p") >= 5);
    assert_eq!(metric(&c, "wirewatch_probes_connected"), 1.0);
    c.cli(&["probe", "revoke", "p"]).expect("revoke");
    // The revocation has committed: from here on nothing of this probe may commit.
    let at_revocation = committed(&pg, "p");
    wait_until("the revoked probe's connection closed", Duration::from_secs(10), || {
        metric(&c, "wirewatch_probes_connected") == 0.0
            && metric(&c, "wirewatch_connections_closed_total{outcome=\"revoked\"}") >= 1.0
    });
    // The replay goes on producing batches for ~50 s more; give it time to try.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(committed(&pg, "p"), at_revocation, "a batch committed after the revocation");
    assert!(p.child.try_wait().expect("status").is_none(), "the probe keeps its spool and waits");
    p.kill9();
}

fn ca_of(identity: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(identity.join("ca.crt")).expect("ca.crt").collect::<Result<_, _>>().expect("PEM")
}

async fn send(conn: &quinn::Connection, msg: &ProbeMessage) -> Result<ControllerMessage, String> {
    let frame = wirewatch_wire::encode(msg).map_err(|e| e.to_string())?;
    let (mut s, mut r) = conn.open_bi().await.map_err(|e| e.to_string())?;
    s.write_all(&frame).await.map_err(|e| e.to_string())?;
    s.finish().map_err(|e| e.to_string())?;
    let b = r.read_to_end(1 << 20).await.map_err(|e| e.to_string())?;
    wirewatch_wire::decode::<ControllerMessage>(&b, 1 << 20).map_err(|e| e.to_string())
}

/// The revocation is checked for each batch, not only by the periodic watcher: a batch sent
/// right after `probe revoke` returns is not committed and its connection is closed as revoked.
#[test]
fn a_batch_sent_after_the_revocation_is_not_committed() {
    let (pg, dir, c) = setup(&[]);
    let id = c.enroll("raw", "lab", dir.path());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let ep = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).expect("endpoint");
        let cfg = client_config(&Identity::load(&id).expect("identity")).expect("config");
        let conn = ep.connect_with(cfg, c.quic, "127.0.0.1").expect("connect").await.expect("handshake");
        let hello = test_hello("test");
        assert!(matches!(send(&conn, &hello).await, Ok(ControllerMessage::Welcome(_))));
        let now = chrono::Utc::now().timestamp_nanos_opt().expect("now") as u64;
        let batch = |seq| {
            ProbeMessage::Batch(Batch {
                seq,
                interval_start_ns: now - 10_000_000_000,
                interval_end_ns: now,
                spool: SpoolStatus::default(),
                interfaces: vec![],
            })
        };
        // Control: before the revocation a batch is acknowledged.
        assert!(matches!(send(&conn, &batch(0)).await, Ok(ControllerMessage::Ack(_))));
        c.cli(&["probe", "revoke", "raw"]).expect("revoke");
        let r = send(&conn, &batch(1)).await;
        assert!(!matches!(r, Ok(ControllerMessage::Ack(_))), "a batch was acknowledged after the revocation");
        let closed = tokio::time::timeout(Duration::from_secs(10), conn.closed()).await.expect("closed");
        match closed {
            quinn::ConnectionError::ApplicationClosed(a) => {
                assert_eq!(a.error_code.into_inner(), u64::from(close::REVOKED))
            }
            other => panic!("closed otherwise: {other:?}"),
        }
    });
    assert_eq!(committed(&pg, "raw"), 1, "only the batch before the revocation");
}

/// A client configuration without a certificate (what an attacker has).
fn no_certificate(ca: &[CertificateDer<'static>]) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in ca {
        roots.add(c.clone()).expect("root");
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![wirewatch_wire::ALPN.to_vec()];
    quinn::ClientConfig::new(Arc::new(quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic")))
}

/// One round of stalled handshakes from `sock`: `n` client Initials; a Retry is answered (so
/// the address counts as validated), anything else is ignored, so each handshake stays open
/// on the server until it gives up on it. Returns the Initials sent.
fn stalled_handshakes(sock: &UdpSocket, cfg: &quinn::ClientConfig, server: SocketAddr, n: usize) -> u64 {
    let mut ep = quinn_proto::Endpoint::new(Arc::new(quinn_proto::EndpointConfig::default()), None, false, None);
    let mut conns = HashMap::new();
    let mut buf = Vec::new();
    let mut sent = 0;
    let now = Instant::now();
    for _ in 0..n {
        let Ok((h, mut c)) = ep.connect(now, cfg.clone(), server, "127.0.0.1") else { continue };
        buf.clear();
        if let Some(t) = c.poll_transmit(now, 1, &mut buf) {
            let _ = sock.send_to(&buf[..t.size], t.destination);
            sent += 1;
        }
        conns.insert(h, c);
    }
    let _ = sock.set_read_timeout(Some(Duration::from_millis(50)));
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut rbuf = vec![0u8; 65536];
    while Instant::now() < deadline {
        let Ok((len, from)) = sock.recv_from(&mut rbuf) else { continue };
        // QUIC v1 long header, packet type 3: Retry.
        let retry = len > 0 && rbuf[0] & 0x80 != 0 && (rbuf[0] >> 4) & 0x03 == 0x03;
        if !retry {
            continue;
        }
        let mut resp = Vec::new();
        let data = bytes::BytesMut::from(&rbuf[..len]);
        if let Some(quinn_proto::DatagramEvent::ConnectionEvent(h, ev)) =
            ep.handle(Instant::now(), from, None, None, data, &mut resp)
            && let Some(c) = conns.get_mut(&h)
        {
            c.handle_event(ev);
            buf.clear();
            if let Some(t) = c.poll_transmit(Instant::now(), 1, &mut buf) {
                let _ = sock.send_to(&buf[..t.size], t.destination);
            }
        }
    }
    sent
}

#[test]
fn a_handshake_flood_without_certificates_does_not_keep_a_probe_out() {
    // Few connections, so that the flood is many times the limit.
    let (pg, dir, c) = setup(&[
        ("WIREWATCH_MAX_CONNECTIONS", "16"),
        ("WIREWATCH_MAX_HANDSHAKES", "64"),
        ("WIREWATCH_MAX_CONNECTIONS_PER_ADDRESS", "8"),
    ]);
    let id = c.enroll("good", "lab", dir.path());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = no_certificate(&ca_of(&id));
    let stop = Arc::new(AtomicBool::new(false));
    let stalled = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    // Stalled handshakes from 127.0.0.2, 200 every 2 s.
    let staller = {
        let (stop, stalled, cfg, server) = (stop.clone(), stalled.clone(), cfg.clone(), c.quic);
        std::thread::spawn(move || {
            let sock = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
            while !stop.load(Ordering::Relaxed) {
                stalled.fetch_add(stalled_handshakes(&sock, &cfg, server, 200), Ordering::Relaxed);
                for _ in 0..15 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    // Complete handshakes without a certificate from 127.0.0.3, 16 at a time, all along.
    let hammer = {
        let (stop, completed, cfg, server) = (stop.clone(), completed.clone(), cfg.clone(), c.quic);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let ep = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 3], 0))).expect("endpoint");
                let mut tasks = Vec::new();
                for _ in 0..16 {
                    let (stop, completed, cfg, ep) = (stop.clone(), completed.clone(), cfg.clone(), ep.clone());
                    tasks.push(tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            if let Ok(c) = ep.connect_with(cfg.clone(), server, "127.0.0.1")
                                && let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(5), c).await
                            {
                                completed.fetch_add(1, Ordering::Relaxed);
                                let _ = tokio::time::timeout(Duration::from_secs(5), conn.closed()).await;
                            } else {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
        })
    };
    wait_until("the flood under way", Duration::from_secs(30), || stalled.load(Ordering::Relaxed) >= 400);
    let mut p = Probe::replay(&[c.quic], &id, &[pcaps().join("gnutella.pcap")], "max", 5);
    let code = p.wait(Duration::from_secs(120));
    stop.store(true, Ordering::Relaxed);
    staller.join().expect("staller");
    hammer.join().expect("hammer");
    assert_eq!(code, Some(0), "the enrolled probe delivered its replay while the flood ran");
    assert_exact(&c, "good", "gnutella.pcap");
    assert!(committed(&pg, "good") > 10);
    // The flood reached the controller and was turned away there.
    assert!(completed.load(Ordering::Relaxed) > 0, "no certificate-less handshake completed");
    assert!(metric(&c, "wirewatch_connections_refused_total{outcome=\"address_limit\"}") > 0.0);
    let stored =
        pg.scalar("ww", "SELECT count(*) FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name <> 'good'");
    assert_eq!(stored, 0);
}

/// A classic pcap of `n` Ethernet/IPv4/UDP frames of 60 bytes, each from a different source
/// (10.0.0.1, 10.0.0.2, …) to 198.18.0.1, one microsecond apart starting at `t0_s`.
fn many_sources(path: &Path, n: u32, t0_s: u32) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hdr = Vec::new();
    hdr.extend(0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend(2u16.to_le_bytes());
    hdr.extend(4u16.to_le_bytes());
    hdr.extend(0u32.to_le_bytes());
    hdr.extend(0u32.to_le_bytes());
    hdr.extend(65535u32.to_le_bytes());
    hdr.extend(1u32.to_le_bytes());
    f.write_all(&hdr).expect("header");
    let mut frame = [0u8; 60];
    frame[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame[14] = 0x45;
    frame[16..18].copy_from_slice(&46u16.to_be_bytes());
    frame[22] = 64;
    frame[23] = 17;
    frame[30..34].copy_from_slice(&[198, 18, 0, 1]);
    frame[34..36].copy_from_slice(&40000u16.to_be_bytes());
    frame[36..38].copy_from_slice(&9u16.to_be_bytes());
    frame[38..40].copy_from_slice(&26u16.to_be_bytes());
    for i in 0..n {
        frame[26..30].copy_from_slice(&(0x0a00_0001 + i).to_be_bytes());
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&(t0_s + i / 1_000_000).to_le_bytes());
        rec[4..8].copy_from_slice(&(i % 1_000_000).to_le_bytes());
        rec[8..12].copy_from_slice(&60u32.to_le_bytes());
        rec[12..16].copy_from_slice(&60u32.to_le_bytes());
        f.write_all(&rec).expect("record");
        f.write_all(&frame).expect("frame");
    }
    f.flush().expect("flush");
}

#[test]
fn an_interval_of_600k_new_hosts_is_delivered_in_several_batches_with_every_host_counted() {
    const N: i64 = 600_000;
    let (pg, dir, c) = setup(&[]);
    let id = c.enroll("big", "lab", dir.path());
    let file: PathBuf = dir.path().join("600k.pcap");
    // An hour ago, at the start of a 10 s interval: all 600k frames fall in one interval.
    let now = chrono::Utc::now().timestamp() as u32;
    let t0 = (now - 3600) / 10 * 10;
    many_sources(&file, N as u32, t0);
    let mut p = Probe::replay(&[c.quic], &id, std::slice::from_ref(&file), "max", 10);
    assert_eq!(p.wait(Duration::from_secs(600)), Some(0), "probe exit");
    let batches = committed(&pg, "big");
    assert!(batches >= 5, "one interval of ~60 MB needs several batches: {batches}");
    let q = |sql: &str| pg.scalar("ww", &format!("{sql} WHERE probe_id = (SELECT id FROM probes WHERE name = 'big')"));
    assert_eq!(q("SELECT count(*) FROM host_samples"), N + 1, "every host exactly once");
    assert_eq!(q("SELECT count(DISTINCT ip) FROM host_samples"), N + 1);
    assert_eq!(q("SELECT sum(tx_packets) FROM host_samples"), N);
    assert_eq!(q("SELECT sum(tx_bytes) FROM host_samples"), 60 * N);
    assert_eq!(q("SELECT sum(rx_packets) FROM host_samples"), N);
    assert_eq!(q("SELECT sum(rx_bytes) FROM host_samples"), 60 * N);
    assert_eq!(q("SELECT sum(packets) FROM interface_samples"), N);
    assert_eq!(q("SELECT sum(bytes) FROM interface_samples"), 60 * N);
    let largest =
        pg.scalar("ww", "SELECT max(host_rows) FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name = 'big'");
    assert!(largest < N / 2, "the interval was split: largest batch {largest} host rows");
}

#[test]
fn a_damaged_spool_file_is_quarantined_and_delivery_goes_on() {
    let (pg, dir, mut c) = setup(&[]);
    let id = c.enroll("p", "lab", dir.path());
    // Spool the whole replay while no controller listens.
    c.kill9();
    let mut p = Probe::replay(&[c.quic], &id, &[pcaps().join("gnutella.pcap")], "max", 5);
    let spool = id.join("spool");
    wait_until("the whole replay spooled", Duration::from_secs(120), || {
        std::fs::read_to_string(spool.join("state.json")).is_ok_and(|s| s.contains("\"complete\":true"))
    });
    p.kill9();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&spool)
        .expect("spool")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "batch"))
        .collect();
    files.sort();
    let total = files.len() as i64;
    assert!(total > 20, "{total} batches spooled");
    // One file of garbage and one cut short, in the middle of the spool.
    let garbage = files[files.len() / 3].clone();
    let truncated = files[2 * files.len() / 3].clone();
    std::fs::write(&garbage, b"\x00\x00\x00\x08\x01garbage").expect("garbage");
    let t = std::fs::read(&truncated).expect("read");
    std::fs::write(&truncated, &t[..t.len() / 2]).expect("truncate");
    c.restart();
    p.restart();
    assert_eq!(p.wait(Duration::from_secs(120)), Some(0), "the probe delivered the rest and finished");
    assert_eq!(committed(&pg, "p"), total - 2, "every batch but the two damaged ones");
    let mut quarantined: Vec<String> = std::fs::read_dir(spool.join("quarantine"))
        .expect("quarantine directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    quarantined.sort();
    let name = |p: &Path| p.file_name().expect("name").to_string_lossy().to_string();
    assert_eq!(quarantined, vec![name(&garbage), name(&truncated)]);
    let left: Vec<_> = std::fs::read_dir(&spool).expect("spool").flatten().map(|e| e.file_name()).collect();
    assert!(left.iter().all(|n| n == "state.json" || n == "quarantine"), "{left:?}");
    let list: serde_json::Value =
        serde_json::from_str(&c.cli(&["probe", "list", "--format", "json"]).expect("list")).expect("JSON");
    assert_eq!(list[0]["spool_dropped_batches"], 2, "{list}");
}

/// A controller whose frame limit is below some batches (configured smaller than the probe's
/// batch bound): those batches are quarantined by the probe, the others delivered; delivery
/// does not stop at the first one.
#[test]
fn a_batch_over_the_controller_frame_limit_is_quarantined_and_delivery_goes_on() {
    let (pg, dir, c) = setup(&[("WIREWATCH_MAX_FRAME_BYTES", "6000")]);
    let id = c.enroll("p", "lab", dir.path());
    let mut p = Probe::replay(&[c.quic], &id, &[pcaps().join("gnutella.pcap")], "max", 5);
    assert_eq!(p.wait(Duration::from_secs(180)), Some(0), "the probe delivered what fits and finished");
    let quarantined = std::fs::read_dir(id.join("spool").join("quarantine")).map(|d| d.count()).unwrap_or(0) as i64;
    let stored = committed(&pg, "p");
    assert!(quarantined > 0 && stored > 0, "{quarantined} quarantined, {stored} stored");
    let list: serde_json::Value =
        serde_json::from_str(&c.cli(&["probe", "list", "--format", "json"]).expect("list")).expect("JSON");
    assert_eq!(list[0]["spool_dropped_batches"], quarantined, "{list}");
    assert!(metric(&c, "wirewatch_batches_total{outcome=\"committed\"}") >= stored as f64);
}
