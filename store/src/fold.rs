//! What a batch adds to the host totals (`hosts`, `host_services`): its host samples, upserted
//! by ingest in the transaction that commits the batch (so the totals every
//! reader sees are exact at every moment), and by migration 0006 for the batches an earlier
//! release left to its fold. One definition of the rule: counters add up, the sample with the
//! higher sequence number gives the gauges and the MAC.

use std::sync::LazyLock;

const DIRS: [&str; 4] = ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"];

/// The 20 traffic columns: tx/rx packets/bytes, then the same for TCP, UDP, ICMP, other.
pub(crate) fn traffic() -> Vec<String> {
    let mut c: Vec<String> = DIRS.iter().map(|d| d.to_string()).collect();
    for p in ["tcp", "udp", "icmp", "other"] {
        for d in DIRS {
            c.push(format!("{p}_{d}"));
        }
    }
    c
}

/// Additive host columns.
pub(crate) fn counters() -> Vec<String> {
    let mut c = traffic();
    c.extend(["syn_sent", "tcp_sessions_total", "udp_flows"].map(String::from));
    c
}

/// Non-additive host columns: the value of the latest sample wins.
pub(crate) const GAUGES: [&str; 8] = [
    "vlan",
    "peers_sent",
    "peers_rcvd",
    "tcp_sessions_active",
    "thpt_actual_tx",
    "thpt_actual_rx",
    "thpt_peak_tx",
    "thpt_peak_rx",
];

/// The columns a batch gives a `hosts` row, in order.
pub(crate) fn columns() -> Vec<String> {
    let mut c: Vec<String> =
        ["probe_id", "interface_id", "ip", "mac", "first_seen_ns", "last_seen_ns", "roles", "gauges_seq"]
            .into_iter()
            .map(String::from)
            .collect();
    c.extend(counters());
    c.extend(GAUGES.iter().map(|g| g.to_string()));
    c
}

/// The one batch a statement adds.
const BATCH: &str = "(SELECT $1::bigint AS probe_id, $2::bigint AS seq)";

/// The batch's host rows as `hosts` rows: one sample per host (ingest refuses a batch that
/// names a host twice), so no aggregate — a scan of the batch's rows by the `(probe_id, seq)`
/// index of its arrival day's partition. (An aggregate self-joined for the gauges, planned on a
/// partition not yet analysed, went quadratic on a 100k-host batch.)
fn batch_rows() -> String {
    let select: Vec<String> =
        columns().iter().map(|c| if c == "gauges_seq" { "s.seq".to_string() } else { format!("s.{c}") }).collect();
    format!("SELECT {} FROM host_samples s WHERE s.probe_id = $1 AND s.seq = $2 AND s.arrived = $3", select.join(", "))
}

/// Per host and service: `SELECT probe_id, interface_id, ip, service, 4 sums` over the samples.
pub(crate) const SERVICES: &str = "SELECT s.probe_id, s.interface_id, s.ip, s.services[i] AS service,
        sum(s.services[i + 1]::bigint)::bigint, sum(s.services[i + 2]::bigint)::bigint,
        sum(s.services[i + 3]::bigint)::bigint, sum(s.services[i + 4]::bigint)::bigint
    FROM host_samples s JOIN {todo} t ON t.probe_id = s.probe_id AND t.seq = s.seq
    CROSS JOIN LATERAL generate_series(1, coalesce(array_length(s.services, 1), 0), 5) AS i
    {where}
    GROUP BY 1, 2, 3, 4";

/// The batch `($1 probe, $2 seq)`, whose samples arrived on day `$3`, added to `hosts`.
pub(crate) static ADD_HOSTS: LazyLock<String> = LazyLock::new(|| {
    let cols = columns();
    let newer = "excluded.gauges_seq >= h.gauges_seq";
    let mut sets = vec![
        "first_seen_ns = least(h.first_seen_ns, excluded.first_seen_ns)".to_string(),
        "last_seen_ns = greatest(h.last_seen_ns, excluded.last_seen_ns)".to_string(),
        format!("mac = CASE WHEN {newer} THEN coalesce(excluded.mac, h.mac) ELSE coalesce(h.mac, excluded.mac) END"),
        "roles = h.roles | excluded.roles".to_string(),
        "gauges_seq = greatest(h.gauges_seq, excluded.gauges_seq)".to_string(),
    ];
    for c in counters() {
        sets.push(format!("{c} = h.{c} + excluded.{c}"));
    }
    for g in GAUGES {
        sets.push(format!("{g} = CASE WHEN {newer} THEN excluded.{g} ELSE h.{g} END"));
    }
    format!(
        // In key order: two transactions adding to the same hosts (one probe's batches on two
        // connections, a moment after a reconnect) lock the rows in one order, so neither
        // waits for the other in a circle.
        "INSERT INTO hosts AS h ({}) {} ORDER BY 1, 2, 3 ON CONFLICT (probe_id, interface_id, ip) DO UPDATE SET {}",
        cols.join(", "),
        batch_rows(),
        sets.join(", ")
    )
});

/// The batch `($1 probe, $2 seq, $3 arrival day)` added to `host_services`.
pub(crate) static ADD_SERVICES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO host_services AS v (probe_id, interface_id, ip, service, tx_packets, tx_bytes, rx_packets, rx_bytes)
         {} ORDER BY 1, 2, 3, 4
         ON CONFLICT (probe_id, interface_id, ip, service) DO UPDATE SET
           tx_packets = v.tx_packets + excluded.tx_packets, tx_bytes = v.tx_bytes + excluded.tx_bytes,
           rx_packets = v.rx_packets + excluded.rx_packets, rx_bytes = v.rx_bytes + excluded.rx_bytes",
        SERVICES.replace("{todo}", BATCH).replace("{where}", "WHERE s.arrived = $3")
    )
});
