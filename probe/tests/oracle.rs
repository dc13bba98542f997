//! One test per capture in ../shared/pcaps/real: the probe's per-host and per-MAC counters
//! equal the tshark oracle's top-level `ipv4`, `ipv6` and `eth` tables exactly, and the probe
//! reports no address the oracle lacks. The three special files of the pcaps README are
//! checked by hand at the bottom.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use wirewatch_probe::engine::{Engine, NoProgress};
use wirewatch_probe::interface::Limits;
use wirewatch_probe::report;

type Four = (u64, u64, u64, u64);
/// First and last seen, nanoseconds since the epoch.
type Seen = (u64, u64);
const KEYS: [&str; 4] = ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"];

fn pcaps() -> PathBuf {
    match std::env::var_os("WIREWATCH_PCAPS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/real"),
    }
}

/// The bundled demo capture (and its oracle, made with ../shared/pcaps/oracle.py) live in
/// demo/; the rest in ../shared/pcaps/real.
fn dir_of(name: &str) -> PathBuf {
    if name == "lab.pcap" { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo") } else { pcaps() }
}

/// Our own capture (real traffic between two namespaces, scripts/make-demo-capture).
#[test]
fn demo_lab() {
    check("lab.pcap");
}

fn four(v: &Value) -> Four {
    let g = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("missing {k} in {v}"));
    (g(KEYS[0]), g(KEYS[1]), g(KEYS[2]), g(KEYS[3]))
}

/// Epoch seconds as tshark prints them; `None` for the negative times tshark gives a fuzzed
/// record whose timestamp has the top bit set (pcap timestamps are unsigned; the probe reads
/// them so, tshark as signed).
fn epoch_ns(s: &str) -> Option<u64> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<9}");
    Some(sec.parse::<u64>().ok()? * 1_000_000_000 + frac[..9].parse::<u64>().expect("fraction"))
}

fn rfc3339_ns(s: &str) -> u64 {
    let t = chrono::DateTime::parse_from_rfc3339(s).expect("RFC 3339");
    t.timestamp_nanos_opt().expect("in range") as u64
}

/// Counters and first/last seen per address, as the oracle or the probe gives them.
struct Tables {
    ips: BTreeMap<String, Four>,
    macs: BTreeMap<String, Four>,
    /// IPs and MACs together.
    seen: BTreeMap<String, Seen>,
}

fn oracle(name: &str) -> Tables {
    let path = dir_of(name).join(format!("{name}.oracle.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let o: Value = serde_json::from_str(&text).expect("oracle JSON");
    let mut t = Tables { ips: BTreeMap::new(), macs: BTreeMap::new(), seen: BTreeMap::new() };
    for table in ["ipv4", "ipv6", "eth"] {
        for (a, v) in o[table].as_object().expect("table") {
            let key = if table == "eth" { a.clone() } else { a.parse::<IpAddr>().expect("oracle IP").to_string() };
            let first = epoch_ns(v["first_seen"].as_str().expect("first"));
            let last = epoch_ns(v["last_seen"].as_str().expect("last"));
            if let (Some(f), Some(l)) = (first, last) {
                t.seen.insert(key.clone(), (f, l));
            }
            if table == "eth" {
                t.macs.insert(key, four(v))
            } else {
                t.ips.insert(key, four(v))
            };
        }
    }
    t
}

/// The probe's tables for one capture, and how many read errors it reported.
fn probe(name: &str) -> (Tables, usize) {
    let mut e = Engine::new(Limits::default());
    let errors = e.read_files(&[dir_of(name).join(name)], &mut NoProgress);
    let r = report::build(&e);
    let seen = |f: &str, l: &str| (rfc3339_ns(f), rfc3339_ns(l));
    let t = Tables {
        ips: r.hosts.iter().map(|h| (h.ip.clone(), (h.tx_packets, h.tx_bytes, h.rx_packets, h.rx_bytes))).collect(),
        macs: r.macs.iter().map(|m| (m.mac.clone(), (m.tx_packets, m.tx_bytes, m.rx_packets, m.rx_bytes))).collect(),
        seen: r
            .hosts
            .iter()
            .map(|h| (h.ip.clone(), seen(&h.first_seen, &h.last_seen)))
            .chain(r.macs.iter().map(|m| (m.mac.clone(), seen(&m.first_seen, &m.last_seen))))
            .collect(),
    };
    (t, errors.len())
}

fn diff(kind: &str, want: &BTreeMap<String, Four>, got: &BTreeMap<String, Four>) -> Vec<String> {
    let mut out = Vec::new();
    for a in want.keys().chain(got.keys().filter(|k| !want.contains_key(*k))) {
        if want.get(a) != got.get(a) {
            out.push(format!("{kind} {a}: oracle {:?}, probe {:?}", want.get(a), got.get(a)));
        }
    }
    out
}

fn check(name: &str) {
    let want = oracle(name);
    let (got, errors) = probe(name);
    assert_eq!(errors, 0, "{name}: read errors");
    let mut d = diff("ip", &want.ips, &got.ips);
    d.extend(diff("mac", &want.macs, &got.macs));
    assert!(d.is_empty(), "{name}: {} addresses differ:\n{}", d.len(), d.join("\n"));
    // First and last seen (packet time) of every address. tshark prints nanosecond times
    // through a double (~240 ns resolution at today's epoch), hence the tolerance.
    let close = |a: u64, b: u64| a.abs_diff(b) <= 1_000;
    let bad: Vec<String> = want
        .seen
        .iter()
        .filter(|(a, w)| !got.seen.get(*a).is_some_and(|g| close(g.0, w.0) && close(g.1, w.1)))
        .map(|(a, w)| format!("{a}: oracle {w:?}, probe {:?}", got.seen.get(a)))
        .collect();
    assert!(bad.is_empty(), "{name}: first/last seen differ:\n{}", bad.join("\n"));
}

macro_rules! oracle_tests {
    ($($t:ident => $f:expr,)*) => {
        $( #[test] fn $t() { check($f); } )*
        /// Every oracle in the directory has a test above (or is one of the special files).
        #[test]
        fn every_capture_has_a_test() {
            let listed: Vec<&str> = vec![$($f,)* "fuzz-2021-06-07-c6c72a0a56.pcap", "fuzz-2021-10-13.pcap", "empty.pcap"];
            let dir = std::fs::read_dir(pcaps()).expect("pcaps directory");
            let mut missing = Vec::new();
            for e in dir {
                let n = e.expect("entry").file_name().to_string_lossy().into_owned();
                if let Some(cap) = n.strip_suffix(".oracle.json") && !listed.contains(&cap) {
                    missing.push(cap.to_string());
                }
            }
            assert!(missing.is_empty(), "captures without a test: {missing:?}");
        }
    };
}

oracle_tests! {
    c_1kxun => "1kxun.pcap",
    c_4in4tunnel => "4in4tunnel.pcap",
    c_4in6tunnel => "4in6tunnel.pcap",
    c_6in4tunnel => "6in4tunnel.pcap",
    c_6in6in6 => "6in6in6.pcap",
    bgp_redist => "BGP_redist.pcap",
    teredo => "Teredo.pcap",
    alexa_app => "alexa-app.pcapng",
    arp_leak => "arp-leak.pcap",
    badpackets => "badpackets.pcap",
    bro_org => "bro.org.pcap",
    chromium_115_0_5790_110_google_de_fragmented => "chromium-115.0.5790.110-google-de-fragmented.pcap",
    discord_mid_flow => "discord_mid_flow.pcap",
    dns2tcp_tunnel => "dns2tcp_tunnel.pcap",
    dns_fragmented => "dns_fragmented.pcap",
    erspan => "erspan.pcap",
    fragmented_3 => "fragmented-3.pcap",
    fuzz_2006_06_26_2594 => "fuzz-2006-06-26-2594.pcap",
    geneve => "geneve.pcap",
    gnutella => "gnutella.pcap",
    gre_within_gre => "gre-within-gre.pcap",
    gre => "gre.pcapng",
    gtp1_gn_normal_incl_fragmentation => "gtp1_gn_normal_incl_fragmentation.pcap",
    icmp => "icmp.pcap",
    icmp6_mldv2 => "icmp6-mldv2.pcap",
    icmp6 => "icmp6.pcap",
    ip6_ext_trunc => "ip6-ext-trunc.pcap",
    ip_fragmented_garbage => "ip_fragmented_garbage.pcap",
    ipv4_internally_truncated_header => "ipv4-internally-truncated-header.pcap",
    ipv6_fragmented_dns => "ipv6-fragmented-dns.pcap",
    iqiyi => "iqiyi.pcap",
    linux_dlt_sll2 => "linux_dlt_sll2.pcap",
    linuxsll_arp => "linuxsll-arp.pcap",
    mixed_vlan_mpls => "mixed-vlan-mpls.pcap",
    modify_request => "modify-request.pcapng",
    mpls_in_vlan => "mpls-in-vlan.pcap",
    netflix => "netflix.pcap",
    nflog_http => "nflog-http.pcap",
    openjdk_25_0_2_zeek_org => "openjdk-25.0.2-zeek.org.pcap",
    opera_vpn => "opera-vpn.pcapng",
    pppoe_over_qinq => "pppoe-over-qinq.pcap",
    pubsub_resp3 => "pubsub-resp3.pcap",
    q_in_q => "q-in-q.pcap",
    quic_interop_retry => "quic-interop-retry.pcap",
    radiotap => "radiotap.pcap",
    reasm_segv_anon => "reasm_segv_anon.pcapng",
    sites => "sites.pcapng",
    smb3_multichannel => "smb3_multichannel.pcap",
    someip_sd_sample => "someip_sd_sample.pcap",
    tcp_syslog => "tcp-syslog.pcap",
    trunc_hdr => "trunc-hdr.pcap",
    truncated_header => "truncated-header.pcap",
    udp_contents_truncated_oob => "udp-contents-truncated-oob.pcap",
    viber => "viber.pcap",
    vlan_qinqinq => "vlan-qinqinq.pcap",
    vntag => "vntag.pcap",
    vxlan => "vxlan.pcap",
}

/// orig_len 4,093,509,168 is past what tshark can count (it clamps at 2^31-1): the probe must
/// count the real length. Expected: the oracle's figures with the clamp undone.
#[test]
fn fuzz_orig_len_beyond_tshark() {
    let name = "fuzz-2021-06-07-c6c72a0a56.pcap";
    let mut want = oracle(name);
    for v in want.ips.values_mut().chain(want.macs.values_mut()) {
        for b in [&mut v.1, &mut v.3] {
            if *b == 2_147_483_647 {
                *b = 4_093_509_168;
            }
        }
    }
    let (got, errors) = probe(name);
    assert_eq!(errors, 0);
    assert_eq!(got.ips, want.ips);
    assert_eq!(got.macs, want.macs);
    assert_eq!(got.ips.len(), 2);
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wirewatch-probe"))
}

/// A file cut short in the middle of a record: the error names the file, the record and the
/// offset; the totals before it (none) are still printed; exit status 2.
#[test]
fn cut_short_file_reports_and_exits_2() {
    let path = pcaps().join("fuzz-2021-10-13.pcap");
    let out = bin().args(["read", "--format", "json"]).arg(&path).output().expect("run probe");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fuzz-2021-10-13.pcap") && err.contains("record 1") && err.contains("offset 24"), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON still printed");
    assert_eq!(r["hosts"].as_array().map(Vec::len), Some(0));
    assert_eq!(r["interfaces"][0]["packets"], 0);
}

/// Totals of everything before the damage survive, and later files are still read.
#[test]
fn damage_mid_file_keeps_what_was_read() {
    let src = std::fs::read(pcaps().join("icmp.pcap")).expect("icmp.pcap");
    let dir = tempfile::tempdir().expect("tempdir");
    let cut = dir.path().join("cut.pcap");
    // Header (24) + first record, then half of the second record.
    let first_len = u32::from_le_bytes([src[32], src[33], src[34], src[35]]) as usize;
    let end = 24 + 16 + first_len + 20;
    std::fs::write(&cut, &src[..end]).expect("write");
    let out =
        bin().args(["read", "--format", "json"]).arg(&cut).arg(pcaps().join("4in4tunnel.pcap")).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.pcap") && err.contains("record 2"), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(r["interfaces"][0]["packets"], 1);
    assert_eq!(r["interfaces"][1]["packets"], 5, "the next file is still read");
}

#[test]
fn empty_file_is_an_empty_result() {
    let out = bin().args(["read", "--format", "json"]).arg(pcaps().join("empty.pcap")).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(r["hosts"].as_array().map(Vec::len), Some(0));
    assert_eq!(r["macs"].as_array().map(Vec::len), Some(0));
    assert_eq!(r["interfaces"][0]["packets"], 0);
}

#[test]
fn json_shape_and_formats() {
    let out = bin().args(["read", "--format", "json"]).arg(pcaps().join("4in4tunnel.pcap")).output().expect("run");
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let i = &r["interfaces"][0];
    assert_eq!(
        (i["name"].as_str(), i["link_type"].as_str(), i["packets"].as_u64(), i["bytes"].as_u64()),
        (Some("4in4tunnel.pcap"), Some("EN10MB"), Some(5), Some(850))
    );
    let h = r["hosts"].as_array().expect("hosts").iter().find(|h| h["ip"] == "10.10.100.25").expect("inner host");
    assert_eq!(h["first_seen"], "2018-09-15T20:44:31.794779Z");
    assert_eq!(h["mac"], Value::Null, "an inner tunnel host has no MAC of its own");
    let outer = r["hosts"].as_array().expect("hosts").iter().find(|h| h["ip"] == "69.67.35.146").expect("outer host");
    assert_eq!(outer["mac"], "a4:c6:4f:3b:b3:9a");
    assert_eq!(r["macs"][0]["mac"].as_str().map(|m| m.len()), Some(17));
    // IPv6 in RFC 5952 form.
    let out = bin().args(["read", "--format", "json"]).arg(pcaps().join("6in6in6.pcap")).output().expect("run");
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for h in r["hosts"].as_array().expect("hosts") {
        let s = h["ip"].as_str().expect("ip");
        assert_eq!(s.parse::<IpAddr>().expect("ip").to_string(), s);
    }
}

#[test]
fn table_format_is_sorted_by_total_bytes() {
    let out = bin().args(["read", "--format", "table"]).arg(pcaps().join("gnutella.pcap")).output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let hosts: Vec<&str> =
        text.lines().skip_while(|l| !l.starts_with("HOST")).skip(1).take_while(|l| !l.is_empty()).collect();
    assert!(hosts.len() > 100, "{}", hosts.len());
    assert!(hosts[0].starts_with("10.0.2.15 "), "{}", hosts[0]);
}
