//! Live capture against a real kernel: two network namespaces joined by a veth pair (192.0.2.0/24
//! and 2001:db8::/64, documentation ranges), real ping, TCP and UDP over both IP versions. The
//! probe's live totals must equal what it counts offline from a tcpdump capture of the same
//! interface taken at the same time, with the same BPF filter.
//!
//! Needs root (namespaces) plus `ip`, `tcpdump`, `ping` and `python3`; without them the test
//! says so and returns (CI runs as root with all of them installed by .ci/run).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Both captures leave out neighbour discovery, MLD and ARP: the kernel sends those on its own
/// schedule, so one capture could start or stop between two of them.
const FILTER: &str = "ip or (ip6 and (tcp or udp or icmp6[0] == 128 or icmp6[0] == 129))";

struct Netns {
    a: String,
    b: String,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed: {}", args, String::from_utf8_lossy(&out.stderr)))
    }
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn setup() -> Result<Netns, String> {
    let id = std::process::id();
    let ns = Netns { a: format!("wwa{id}"), b: format!("wwb{id}") };
    sh(&["ip", "netns", "add", &ns.a])?;
    sh(&["ip", "netns", "add", &ns.b])?;
    let (va, vb) = (format!("wwa{id}v"), format!("wwb{id}v"));
    sh(&["ip", "link", "add", &va, "netns", &ns.a, "type", "veth", "peer", "name", &vb, "netns", &ns.b])?;
    for (n, v, ip4, ip6) in
        [(&ns.a, &va, "192.0.2.1/24", "2001:db8::1/64"), (&ns.b, &vb, "192.0.2.2/24", "2001:db8::2/64")]
    {
        sh(&["ip", "-n", n, "link", "set", "lo", "up"])?;
        sh(&["ip", "-n", n, "addr", "add", ip4, "dev", v])?;
        sh(&["ip", "-n", n, "addr", "add", ip6, "dev", v, "nodad"])?;
        sh(&["ip", "-n", n, "link", "set", v, "up"])?;
    }
    Ok(ns)
}

/// Waits until a child's stderr has printed a line containing `what`; forwards the rest. The
/// handle returns every line once the child has closed its stderr.
fn wait_for(
    child: &mut Child,
    what: &'static str,
    timeout: Duration,
) -> Result<std::thread::JoinHandle<Vec<String>>, String> {
    let err = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    let lines = std::thread::spawn(move || {
        let mut sent = false;
        let mut all = Vec::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("  | {line}");
            if !sent && line.contains(what) {
                let _ = tx.send(());
                sent = true;
            }
            all.push(line);
        }
        all
    });
    rx.recv_timeout(timeout).map_err(|_| format!("no {what:?} within {timeout:?}"))?;
    Ok(lines)
}

/// tcpdump's closing "N packets dropped by kernel".
fn kernel_drops(lines: &[String]) -> Option<u64> {
    lines.iter().find_map(|l| l.strip_suffix(" packets dropped by kernel")?.trim().parse().ok())
}

fn four(v: &Value) -> (u64, u64, u64, u64) {
    let g = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    (g("tx_packets"), g("tx_bytes"), g("rx_packets"), g("rx_bytes"))
}

type Table = BTreeMap<String, (u64, u64, u64, u64)>;

fn tables(r: &Value) -> (Table, Table) {
    let h = r["hosts"]
        .as_array()
        .map(|a| a.iter().map(|h| (h["ip"].as_str().unwrap_or("?").to_string(), four(h))).collect());
    let m = r["macs"]
        .as_array()
        .map(|a| a.iter().map(|h| (h["mac"].as_str().unwrap_or("?").to_string(), four(h))).collect());
    (h.unwrap_or_default(), m.unwrap_or_default())
}

const SERVER: &str = r#"
import socket, threading, sys
def tcp(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 5001)); s.listen(8)
    while True:
        c, _ = s.accept()
        data = b''
        while True:
            d = c.recv(65536)
            if not d: break
            data += d
        c.sendall(data[:1000]); c.close()
def udp(fam, addr):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((addr, 5002))
    while True:
        d, a = s.recvfrom(65536); s.sendto(d[:100], a)
for f, a in ((socket.AF_INET, '192.0.2.1'), (socket.AF_INET6, '2001:db8::1')):
    threading.Thread(target=tcp, args=(f, a), daemon=True).start()
    threading.Thread(target=udp, args=(f, a), daemon=True).start()
print('ready', flush=True)
sys.stdin.read()
"#;

/// The client's last exchange carries this payload both ways; once tcpdump's file holds it twice,
/// tcpdump has written every packet before it.
const MARKER: &str = "wirewatch-last-packet";

const CLIENT: &str = r#"
import socket, time
MARKER = b'wirewatch-last-packet'
for fam, addr in ((socket.AF_INET, '192.0.2.1'), (socket.AF_INET6, '2001:db8::1')):
    for i in range(3):
        c = socket.create_connection((addr, 5001)); c.sendall(b'x' * (5000 * (i + 1))); c.shutdown(socket.SHUT_WR)
        while c.recv(65536): pass
        c.close()
    u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(2)
    for i in range(5):
        u.sendto(b'y' * (200 + i), (addr, 5002)); u.recvfrom(65536)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
u.sendto(MARKER, ('192.0.2.1', 5002)); u.recvfrom(65536)
print('done', flush=True)
"#;

#[test]
fn live_totals_equal_tcpdump_of_the_same_interface() {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let missing: Vec<&str> = ["ip", "tcpdump", "ping", "python3"].into_iter().filter(|c| !have(c)).collect();
    if !root || !missing.is_empty() {
        eprintln!("SKIPPED live capture test: needs root (have: {root}) and {missing:?}");
        return;
    }
    let ns = match setup() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("SKIPPED live capture test: cannot make network namespaces here: {e}");
            return;
        }
    };
    let iface = format!("{}v", ns.a);
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("veth.pcap");
    let probe = env!("CARGO_BIN_EXE_wirewatch-probe");

    let mut server = Command::new("ip")
        .args(["netns", "exec", &ns.a, "python3", "-c", SERVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout")).read_line(&mut line).expect("server ready");
    assert_eq!(line.trim(), "ready");

    // tcpdump's default ring (2 MiB) holds only about eight packets at its full snapshot length
    // in immediate mode, so a tcpdump descheduled on a busy machine dropped packets and the
    // reference was short (CI, 2 cores): give it the probe's 64 MiB.
    let mut tcpdump = Command::new("ip")
        .args(["netns", "exec", &ns.a, "tcpdump", "-n", "-U", "--immediate-mode", "-B", "65536", "-i", &iface, "-w"])
        .arg(&pcap)
        .arg(FILTER)
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
    let mut live = Command::new("ip")
        .args(["netns", "exec", &ns.a, probe, "live", "-i", &iface, "--filter", FILTER, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("probe");
    let tcpdump_lines = wait_for(&mut tcpdump, "listening on", Duration::from_secs(10)).expect("tcpdump listening");
    wait_for(&mut live, "listening on", Duration::from_secs(10)).expect("probe listening");

    for args in [
        vec!["ping", "-c", "3", "-i", "0.2", "192.0.2.1"],
        vec!["ping", "-6", "-c", "3", "-i", "0.2", "-s", "1200", "2001:db8::1"],
    ] {
        let mut cmd = vec!["netns", "exec", &ns.b];
        cmd.extend(args);
        let st = Command::new("ip").args(&cmd).stdout(Stdio::null()).status().expect("ping");
        assert!(st.success(), "{cmd:?}");
    }
    // The probe sleeps through the TCP and UDP part (SIGSTOP): those packets wait in the kernel
    // ring and must all be read once it resumes and is told to stop at the same moment, which is
    // what a probe descheduled on a busy machine sees.
    let signal = |sig: &str, pid: u32| {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
    };
    signal("-STOP", live.id());
    let out = Command::new("ip").args(["netns", "exec", &ns.b, "python3", "-c", CLIENT]).output().expect("client");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "done", "{}", String::from_utf8_lossy(&out.stderr));

    // tcpdump itself stops at once on SIGINT, without reading what its ring still holds: wait
    // until its file (written per packet, -U) holds the marker both ways.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bytes = std::fs::read(&pcap).unwrap_or_default();
        if bytes.windows(MARKER.len()).filter(|w| *w == MARKER.as_bytes()).count() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "tcpdump never wrote the last packet");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal("-INT", tcpdump.id());
    signal("-CONT", live.id());
    signal("-INT", live.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let tcpdump_status = loop {
        if let Some(s) = tcpdump.try_wait().expect("wait tcpdump") {
            break s;
        }
        assert!(Instant::now() < deadline, "tcpdump did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(tcpdump_status.success() || tcpdump_status.code().is_none(), "{tcpdump_status:?}");
    let tcpdump_lines = tcpdump_lines.join().expect("tcpdump stderr");
    assert_eq!(
        kernel_drops(&tcpdump_lines),
        Some(0),
        "the reference capture itself lost packets, so it cannot judge the probe: {tcpdump_lines:?}"
    );
    let live_out = live.wait_with_output().expect("probe output");
    assert!(live_out.status.success(), "probe exit {:?}", live_out.status);
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();

    let live_json: Value = serde_json::from_slice(&live_out.stdout).expect("live JSON");
    let off = Command::new(probe).args(["read", "--format", "json"]).arg(&pcap).output().expect("offline read");
    assert!(off.status.success(), "{}", String::from_utf8_lossy(&off.stderr));
    let off_json: Value = serde_json::from_slice(&off.stdout).expect("offline JSON");

    let (live_hosts, live_macs) = tables(&live_json);
    let (off_hosts, off_macs) = tables(&off_json);
    assert_eq!(live_hosts, off_hosts, "hosts: live vs tcpdump; live interface: {}", live_json["interfaces"][0]);
    assert_eq!(live_macs, off_macs, "MACs: live vs tcpdump");
    assert_eq!(live_json["interfaces"][0]["packets"], off_json["interfaces"][0]["packets"]);
    assert_eq!(live_json["interfaces"][0]["link_type"], "EN10MB");

    // The traffic we made is all there: both IP versions, ICMP, TCP and UDP.
    for ip in ["192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"] {
        let h = live_hosts.get(ip).unwrap_or_else(|| panic!("{ip} missing: {live_hosts:?}"));
        assert!(h.0 > 0 && h.2 > 0, "{ip}: {h:?}");
    }
    let server_host =
        live_json["hosts"].as_array().expect("hosts").iter().find(|h| h["ip"] == "192.0.2.1").expect("server");
    for p in ["tcp", "udp", "icmp"] {
        assert!(server_host["protocols"][p]["rx_packets"].as_u64().unwrap_or(0) > 0, "{p}: {server_host}");
    }
    // 3 TCP connections per IP version, each a session on both ends.
    assert_eq!(server_host["tcp_sessions_total"], 3);
    assert_eq!(server_host["peers_rcvd"], 1);
    drop(ns);
}
