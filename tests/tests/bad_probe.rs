//! One enrolled probe cannot hurt the others through what it reports: counters past any real
//! link, intervals that end far in the future or last for years are refused at ingest (counted
//! on that probe, visible in /api/v1/probes and the metrics), while another probe's replay of a
//! years-old capture is stored, folded, listed and kept by retention like today's traffic.

use std::path::Path;
use std::time::Duration;

use wirewatch_e2e::*;
use wirewatch_probe::uplink::{Identity, client_config};
use wirewatch_wire::*;

/// Sends `msgs` on one connection, each on its own stream (the first a Hello), and returns the
/// controller's answers.
async fn exchange(identity: &Path, addr: std::net::SocketAddr, msgs: Vec<ProbeMessage>) -> Vec<ControllerMessage> {
    let cfg = client_config(&Identity::load(identity).expect("identity")).expect("config");
    let ep = quinn::Endpoint::client(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).expect("endpoint");
    let conn = ep.connect_with(cfg, addr, "127.0.0.1").expect("connect").await.expect("handshake");
    let mut out = Vec::new();
    for m in msgs {
        let frame = encode(&m).expect("encode");
        let (mut s, mut r) = conn.open_bi().await.expect("stream");
        s.write_all(&frame).await.expect("write");
        s.finish().expect("finish");
        let b = tokio::time::timeout(Duration::from_secs(20), r.read_to_end(1 << 20))
            .await
            .expect("an answer in time")
            .expect("read");
        out.push(decode::<ControllerMessage>(&b, 1 << 20).expect("decode"));
    }
    conn.close(0u32.into(), b"done");
    out
}

fn rogue_batch(seq: u64, start_ns: u64, end_ns: u64, bytes: u64) -> ProbeMessage {
    let t = Traffic { tx_packets: 1, tx_bytes: bytes, rx_packets: 0, rx_bytes: 0 };
    ProbeMessage::Batch(Batch {
        seq,
        interval_start_ns: start_ns,
        interval_end_ns: end_ns,
        spool: SpoolStatus::default(),
        interfaces: vec![InterfaceDelta {
            name: "eth0".into(),
            link_type: "EN10MB".into(),
            counters: InterfaceCounters { packets: 1, bytes: 100, ..Default::default() },
            gauges: InterfaceGauges::default(),
            hosts: vec![HostDelta {
                ip: "192.0.2.66".parse().expect("ip"),
                mac: None,
                vlan: 0,
                first_seen_ns: start_ns,
                last_seen_ns: end_ns,
                traffic: t,
                l4: [t, Traffic::default(), Traffic::default(), Traffic::default()],
                services: vec![],
                syn_sent: 0,
                tcp_sessions_total: 0,
                udp_flows: 0,
                gauges: HostGauges::default(),
            }],
            macs: vec![],
        }],
    })
}

#[test]
fn a_probe_past_every_bound_is_refused_while_others_fold_and_stay() {
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let env = [
        ("WIREWATCH_ROLLUP_EVERY_SECS", "1"),
        ("WIREWATCH_RETENTION_EVERY_SECS", "1"),
        ("WIREWATCH_ADMIN_PASSWORD", "correct horse battery staple"),
    ];
    let c = Controller::start(&dir.path().join("c"), &url, "c", free_udp_port(), &env);
    let good = c.enroll("good", "lab", dir.path());
    let rogue = c.enroll("rogue", "lab", dir.path());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let now = chrono::Utc::now().timestamp_nanos_opt().expect("now") as u64;
    let s = 1_000_000_000u64;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let answers = rt.block_on(exchange(
        &rogue,
        c.quic,
        vec![
            test_hello("rogue"),
            // i64::MAX bytes in 10 s; a far-future interval; an interval of ten years; and,
            // as a control, an honest batch, which is stored.
            rogue_batch(0, now - 10 * s, now, i64::MAX as u64),
            rogue_batch(1, now + 400 * 86_400 * s, now + 400 * 86_400 * s + 10 * s, 100),
            rogue_batch(2, now - 3650 * 86_400 * s, now, 100),
            rogue_batch(3, now - 10 * s, now, 100),
        ],
    ));
    assert!(matches!(answers[0], ControllerMessage::Welcome(_)), "{:?}", answers[0]);
    for (k, a) in answers[1..4].iter().enumerate() {
        match a {
            ControllerMessage::Reject(r) => assert!(!r.retry && r.seq == k as u64, "{r:?}"),
            other => panic!("batch {k} was not refused: {other:?}"),
        }
    }
    assert!(matches!(&answers[4], ControllerMessage::Ack(a) if a.seq == 3), "{:?}", answers[4]);
    assert!(
        matches!(&answers[1], ControllerMessage::Reject(r) if r.message.contains("past the bound")),
        "the reason is said: {:?}",
        answers[1]
    );

    // Meanwhile a well-behaved probe replays a capture from years ago.
    let mut p = Probe::replay(&[c.quic], &good, &[pcaps().join("netflix.pcap")], "max", 10);
    assert_eq!(p.wait(Duration::from_secs(120)), Some(0), "the good probe");
    wait_until("every batch folded", Duration::from_secs(60), || {
        pg.scalar("ww", "SELECT count(*) FROM batches WHERE NOT rolled_up") == 0
    });
    assert_exact(&c, "good", "netflix.pcap");
    assert_eq!(pg.scalar("ww", "SELECT tx_bytes FROM hosts WHERE ip = '192.0.2.66'"), 100, "the honest batch folded");
    // Retention has run since (every second, 7 days of raw samples by default): the old
    // capture's samples are kept, because they arrived today.
    let runs = |job: &str| pg.scalar("ww", &format!("SELECT count(*) FROM job_runs WHERE name = '{job}'"));
    let before = runs("retention");
    wait_until("two more retention runs", Duration::from_secs(30), || runs("retention") >= before + 2);
    let rows = pg.scalar(
        "ww",
        "SELECT sum(host_rows)::bigint FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name = 'good'",
    );
    assert!(rows > 0);
    assert_eq!(
        pg.scalar("ww", "SELECT count(*) FROM host_samples s JOIN probes p ON p.id = s.probe_id WHERE p.name = 'good'"),
        rows,
        "retention kept the replayed capture's samples"
    );
    assert_eq!(
        pg.scalar(
            "ww",
            "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'host_samples'"
        ),
        pg.scalar("ww", "SELECT count(DISTINCT (received_at AT TIME ZONE 'UTC')::date) FROM batches"),
        "partitions follow arrival days (one, or two if the test ran over midnight UTC), whatever the packet times"
    );

    // The operator sees it: the API's probe list and the metrics.
    let token = login(c.http, "admin", "correct horse battery staple");
    let probes = http(c.http, "GET", "/api/v1/probes", Some(&token), None).json();
    let r = probes["items"]
        .as_array()
        .or(probes.as_array())
        .expect("probes")
        .iter()
        .find(|p| p["name"] == "rogue")
        .cloned()
        .expect("rogue listed");
    assert_eq!(r["refused"]["batches"], 3, "{r}");
    assert!(r["refused"]["last_reason"].as_str().is_some_and(|m| m.contains("interval")), "{r}");
    assert_eq!(r["quarantined"]["batches"], 0, "{r}");
    wait_until("refusals in the metrics", Duration::from_secs(10), || {
        c.metrics_text().contains("wirewatch_probe_refused_batches{probe=\"rogue\"} 3")
    });
}
