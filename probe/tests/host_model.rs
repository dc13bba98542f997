//! The host and flow model beyond the four oracle counters, checked on our own capture
//! (demo/lab.pcap, made by scripts/make-demo-capture: 6 IPv4 and 3 IPv6 clients; client k makes
//! 2+k HTTP requests, 3+k DNS-style queries from one socket, 2 NTP-style queries when k is
//! even, one SSH-port connection when k % 3 == 0; then ping over both IP versions).

use serde_json::Value;

fn lab() -> Value {
    let cap = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/lab.pcap");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wirewatch-probe"))
        .args(["read", "--flows", "--format", "json"])
        .arg(cap)
        .output()
        .expect("run probe");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn host<'a>(r: &'a Value, ip: &str) -> &'a Value {
    r["hosts"].as_array().expect("hosts").iter().find(|h| h["ip"] == ip).unwrap_or_else(|| panic!("{ip} missing"))
}

fn roles(h: &Value) -> Vec<&str> {
    h["roles"].as_array().expect("roles").iter().filter_map(Value::as_str).collect()
}

#[test]
fn flows_sessions_and_tcp_state() {
    let r = lab();
    let flows = r["flows"].as_array().expect("flows");
    let http: Vec<&Value> = flows.iter().filter(|f| f["proto"] == 6 && f["server_port"] == 80).collect();
    assert_eq!(http.len(), (0..9).map(|k| 2 + k).sum::<usize>(), "one flow per HTTP request");
    assert!(http.iter().all(|f| f["tcp_state"] == "closed"), "every connection was closed");
    assert!(http.iter().all(|f| f["c2s_packets"].as_u64() > Some(2) && f["s2c_bytes"].as_u64() > Some(500)));
    // The client is the side that sent the first packet (the SYN).
    assert!(http.iter().all(|f| f["client_port"].as_u64() > Some(1024)));
    let ssh = flows.iter().filter(|f| f["proto"] == 6 && f["server_port"] == 22).count();
    assert_eq!(ssh, 3, "k = 0, 3, 6");

    let srv = host(&r, "192.0.2.1");
    // 2+3+4+5+6+7 HTTP connections from the IPv4 clients, plus SSH from k = 0 and 3.
    assert_eq!(srv["tcp_sessions_total"], 27 + 2);
    assert_eq!(srv["tcp_sessions_active"], 0);
    assert_eq!(srv["peers_rcvd"], 6);
    assert_eq!(srv["syn_sent"], 0);
    for role in ["server", "http_host", "dns_server", "ntp_server"] {
        assert!(roles(srv).contains(&role), "{role}: {:?}", roles(srv));
    }
    for svc in ["http", "dns", "ntp", "ssh"] {
        assert!(srv["services"][svc]["tx_bytes"].as_u64() > Some(0), "{svc}: {}", srv["services"]);
    }
    assert!(srv["protocols"]["icmp"]["rx_packets"].as_u64() >= Some(3));
}

#[test]
fn client_side_counters() {
    let r = lab();
    let c = host(&r, "192.0.2.10");
    assert_eq!(c["syn_sent"], 2 + 1, "2 HTTP connections and 1 SSH connection");
    assert_eq!(c["tcp_sessions_total"], 3);
    assert_eq!(c["udp_flows"], 2, "one DNS socket and one NTP socket");
    assert_eq!(c["peers_sent"], 1);
    assert_eq!(roles(c), vec!["workstation"]);
    assert!(c["mac"].as_str().is_some_and(|m| m.len() == 17));
    // Per-protocol figures add up to the totals.
    for dir in ["tx_bytes", "rx_bytes", "tx_packets", "rx_packets"] {
        let sum: u64 = ["tcp", "udp", "icmp", "other"].iter().filter_map(|p| c["protocols"][p][dir].as_u64()).sum();
        assert_eq!(Some(sum), c[dir].as_u64(), "{dir}");
    }
    let t = &c["send_thpt"];
    assert!(t["average"].as_f64() > Some(0.0) && t["peak"].as_f64() >= t["actual"].as_f64());
}

#[test]
fn interface_counters() {
    let r = lab();
    let i = &r["interfaces"][0];
    assert_eq!(i["undecoded_packets"], 0);
    let b = &i["bytes_stats"];
    let total = b["total"].as_u64().expect("total");
    assert_eq!(Some(total), i["bytes"].as_u64());
    assert_eq!(
        b["ipv4"].as_u64().unwrap_or(0) + b["ipv6"].as_u64().unwrap_or(0) + b["arpRarp"].as_u64().unwrap_or(0),
        total
    );
    assert!(i["pkts_stats"]["syn"].as_u64() >= Some(57));
    assert!(i["flows_total"].as_u64() >= i["flows_active"].as_u64());
}
