//! Live queries: the controller (in-process here, so the test can call its query API) asks a
//! connected probe for its top talkers and one host's detail over the probe's own QUIC
//! connection, while the probe is still replaying.

use std::time::Duration;

use wirewatch_controller::{Config, ca};
use wirewatch_e2e::*;
use wirewatch_wire::Command;

#[test]
fn top_talkers_and_host_detail_from_a_connected_probe() {
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = Config {
        data_dir: dir.path().join("c"),
        database_url: url,
        name: "inproc".into(),
        quic_listen: "127.0.0.1:0".parse().expect("addr"),
        http_listen: "127.0.0.1:0".parse().expect("addr"),
        metrics_listen: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    };
    let running = rt.block_on(wirewatch_controller::start(cfg.clone())).expect("controller");
    let id = dir.path().join("p");
    rt.block_on(async {
        let ca = ca::Ca::load_or_create(&cfg.data_dir, &running.store).await.expect("CA");
        let leaf = ca.sign_probe("p", "lab").expect("sign");
        running.store.enroll("p", "lab", &leaf.sha256, false).await.expect("enroll");
        ca::write_identity(&id, &leaf, &ca).expect("identity");
    });
    // 590 s of capture at 10×: about a minute, plenty of time to ask.
    let mut probe = Probe::replay(&[running.quic_addr], &id, &[pcaps().join("gnutella.pcap")], "10", 5);
    rt.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while running.ingest.connected_probes().await != vec!["p".to_string()] {
            assert!(tokio::time::Instant::now() < deadline, "probe never connected");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let top = running
            .ingest
            .query("p", Command::TopTalkers { limit: 5 }, Duration::from_secs(5))
            .await
            .expect("top talkers");
        assert!(!top.is_empty() && top.len() <= 5, "{top:?}");
        let bytes: Vec<u64> = top.iter().map(|(_, h)| h.traffic.tx_bytes + h.traffic.rx_bytes).collect();
        assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "not sorted: {bytes:?}");
        assert!(bytes[0] > 0);
        let ip = top[0].1.ip;
        let detail =
            running.ingest.query("p", Command::HostDetail { ip }, Duration::from_secs(5)).await.expect("detail");
        assert_eq!(detail.len(), 1);
        assert_eq!(detail[0].1.ip, ip);
        assert!(detail[0].1.traffic.tx_bytes + detail[0].1.traffic.rx_bytes >= bytes[0], "counts only grow");
        let missing = running
            .ingest
            .query("p", Command::HostDetail { ip: "192.0.2.250".parse().expect("ip") }, Duration::from_secs(5))
            .await
            .expect("detail of an unknown host");
        assert!(missing.is_empty());
        let err = running.ingest.query("nobody", Command::TopTalkers { limit: 1 }, Duration::from_secs(1)).await;
        assert!(err.is_err());
    });
    probe.kill9();
    rt.block_on(running.shutdown());
}
