//! Probes replaying real captures into a controller: the per-host totals in PostgreSQL equal
//! the tshark oracle exactly, and `wirewatch-controller hosts` prints the very document
//! `wirewatch-probe read` prints for the same capture.

use std::time::Duration;

use wirewatch_e2e::*;

/// Captures with many hosts, tunnels, several interfaces in one pcapng, VLAN/MPLS and IPv6.
const CAPTURES: [&str; 8] = [
    "gnutella.pcap",
    "1kxun.pcap",
    "sites.pcapng",
    "modify-request.pcapng",
    "Teredo.pcap",
    "4in6tunnel.pcap",
    "mixed-vlan-mpls.pcap",
    "alexa-app.pcapng",
];

#[test]
fn replayed_captures_are_stored_exactly() {
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let c = Controller::start(&dir.path().join("c1"), &url, "c1", free_udp_port(), &[]);
    let mut probes = Vec::new();
    for (i, file) in CAPTURES.iter().enumerate() {
        let id = c.enroll(&format!("p{i}"), if i % 2 == 0 { "east" } else { "west" }, dir.path());
        probes.push(Probe::replay(&[c.quic], &id, &[pcaps().join(file)], "max", 10));
    }
    for (p, file) in probes.iter_mut().zip(CAPTURES) {
        assert_eq!(p.wait(Duration::from_secs(180)), Some(0), "{file}: probe exit");
    }
    for (i, file) in CAPTURES.iter().enumerate() {
        assert_exact(&c, &format!("p{i}"), file);
    }
    // Every batch is in the ledger once, and the probes list shows their last sequence numbers.
    let batches = pg.scalar("ww", "SELECT count(*) FROM batches");
    let distinct = pg.scalar("ww", "SELECT count(DISTINCT (probe_id, seq)) FROM batches");
    assert!(batches > CAPTURES.len() as i64, "{batches} batches");
    assert_eq!(batches, distinct);
    let list = c.cli(&["probe", "list", "--format", "json"]).expect("probe list");
    let list: serde_json::Value = serde_json::from_str(&list).expect("JSON");
    assert_eq!(list.as_array().map(|a| a.len()), Some(CAPTURES.len()));
    assert!(
        list.as_array()
            .into_iter()
            .flatten()
            .all(|p| p["last_seq"].as_i64().is_some() && p["spool_dropped_batches"] == 0)
    );
    // Site scoping: `hosts --site east` holds only the east probes' addresses.
    let east = c.cli(&["hosts", "--site", "east", "--format", "json"]).expect("hosts --site");
    let east: serde_json::Value = serde_json::from_str(&east).expect("JSON");
    let n_east = east["interfaces"].as_array().map(|a| a.len()).unwrap_or(0);
    let n_all: usize = (0..CAPTURES.len())
        .filter(|i| i % 2 == 0)
        .map(|i| c.hosts(&format!("p{i}"))["interfaces"].as_array().map(|a| a.len()).unwrap_or(0))
        .sum();
    assert_eq!(n_east, n_all);
    // The metrics listener counts what was committed.
    let m = c.metrics_text();
    assert!(m.contains("wirewatch_batches_total{outcome=\"committed\"}"), "{m}");
    let health = http_get(c.http, "/healthz").expect("healthz");
    assert!(health.starts_with("HTTP/1.0 200") && health.contains("\"database\":\"up\""), "{health}");
}
