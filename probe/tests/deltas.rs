//! The uplink's contract with the controller: the interval deltas a probe sends add up to its
//! final tables, for every capture in ../shared/pcaps/real — counters exactly, and the values
//! that are not additive (peers, sessions, throughput, MAC, VLAN, roles) as last reported.
//! With a tiny host table (constant eviction) the per-address sums still equal the totals of
//! a run that evicts nothing: counts of evicted rows are not lost between batches.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use wirewatch_probe::engine::{Engine, Hooks, NoProgress};
use wirewatch_probe::interface::{Interface, Limits};
use wirewatch_wire::{HostDelta, Traffic};

fn captures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/real");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("../shared/pcaps/real")
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")))
        .collect();
    v.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/lab.pcap"));
    v.sort();
    v
}

struct Collect {
    every: u64,
    batches: Vec<(bool, Vec<wirewatch_wire::InterfaceDelta>)>,
}

impl Hooks for Collect {
    fn interval_ns(&self) -> u64 {
        self.every
    }
    fn interval_end(&mut self, interfaces: &mut [Interface], _s: u64, _e: u64, last: bool) {
        self.batches.push((last, interfaces.iter_mut().map(|i| i.take_delta()).collect()));
    }
}

#[derive(Debug, Default, PartialEq)]
struct Sum {
    traffic: Traffic,
    l4: [Traffic; 4],
    services: BTreeMap<String, Traffic>,
    syn: u64,
    tcp_total: u64,
    udp: u64,
    last: Option<HostDelta>,
}

type Key = (String, IpAddr);

fn run(path: &PathBuf, limits: Limits, every_ns: u64) -> (Engine, BTreeMap<Key, Sum>) {
    let mut e = Engine::new(limits);
    e.track_changes();
    let mut c = Collect { every: every_ns, batches: Vec::new() };
    let _ = e.read_files_with(std::slice::from_ref(path), &mut NoProgress, &mut c);
    assert_eq!(c.batches.iter().filter(|(l, _)| *l).count(), 1, "exactly one last batch");
    let mut sums: BTreeMap<Key, Sum> = BTreeMap::new();
    for (_, ifs) in c.batches {
        for i in ifs {
            for h in i.hosts {
                let s = sums.entry((i.name.clone(), h.ip)).or_default();
                s.traffic.add(&h.traffic);
                for (a, b) in s.l4.iter_mut().zip(h.l4.iter()) {
                    a.add(b);
                }
                for (n, t) in &h.services {
                    s.services.entry(n.clone()).or_default().add(t);
                }
                s.syn += h.syn_sent;
                s.tcp_total += h.tcp_sessions_total;
                s.udp += h.udp_flows;
                s.last = Some(h);
            }
        }
    }
    (e, sums)
}

fn t(tx: &wirewatch_probe::hosts::TxRx) -> Traffic {
    wirewatch_probe::delta::traffic(tx)
}

#[test]
fn deltas_add_up_to_the_final_tables_for_every_capture() {
    let mut total = 0;
    for path in captures() {
        let (engine, sums) = run(&path, Limits::default(), 1_000_000_000);
        let mut seen = 0;
        for i in &engine.interfaces {
            for h in i.hosts.iter() {
                seen += 1;
                let s = sums.get(&(i.name.clone(), h.ip)).unwrap_or_else(|| panic!("{path:?} {}: no delta", h.ip));
                let ctx = format!("{} {} {}", path.display(), i.name, h.ip);
                assert_eq!(s.traffic, t(&h.total), "{ctx}");
                let l4 = h.l4_split();
                for (k, (got, want)) in s.l4.iter().zip(l4.iter()).enumerate() {
                    assert_eq!(*got, t(want), "{ctx} l4 {k}");
                }
                let svc: BTreeMap<String, Traffic> =
                    h.services.iter().map(|(n, x)| (n.name().to_string(), t(x))).collect();
                assert_eq!(s.services, svc, "{ctx}");
                assert_eq!(
                    (s.syn, s.tcp_total, s.udp),
                    (u64::from(h.syn_sent), u64::from(h.tcp_sessions_total), u64::from(h.udp_flows)),
                    "{ctx}"
                );
                let last = s.last.as_ref().expect("a delta");
                let g = &last.gauges;
                assert_eq!(
                    (g.peers_sent, g.peers_rcvd, g.tcp_sessions_active, g.roles),
                    (u64::from(h.peers_sent), u64::from(h.peers_rcvd), u64::from(h.tcp_sessions_active), h.roles),
                    "{ctx}"
                );
                assert_eq!((g.thpt_actual_tx, g.thpt_peak_rx), (h.thpt.actual_tx, h.thpt.peak_rx), "{ctx}");
                assert_eq!((last.mac, last.vlan), (h.has_mac.then_some(h.mac), h.vlan), "{ctx}");
                assert_eq!((last.first_seen_ns, last.last_seen_ns), (h.first_seen_ns, h.last_seen_ns), "{ctx}");
            }
        }
        assert_eq!(seen, sums.len(), "{path:?}: deltas name hosts the tables do not have");
        total += seen;
    }
    assert!(total > 1000, "only {total} hosts checked");
}

#[test]
fn evicted_hosts_lose_nothing_between_batches() {
    let mut checked = 0;
    for path in captures() {
        let (full, _) = run(&path, Limits::default(), 10_000_000_000);
        let hosts: usize = full.interfaces.iter().map(|i| i.hosts.len()).sum();
        if hosts < 20 {
            continue;
        }
        let small = Limits { max_hosts: 8, ..Limits::default() };
        let (evicting, sums) = run(&path, small, 10_000_000_000);
        assert!(evicting.interfaces.iter().any(|i| i.hosts.evictions() > 0), "{path:?}");
        for i in &full.interfaces {
            for h in i.hosts.iter() {
                let s = sums.get(&(i.name.clone(), h.ip)).unwrap_or_else(|| panic!("{path:?} {}", h.ip));
                assert_eq!(s.traffic, t(&h.total), "{path:?} {}", h.ip);
            }
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} captures with enough hosts");
}
