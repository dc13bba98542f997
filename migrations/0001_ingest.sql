-- wirewatch schema, part 1: sites, probes, their certificates, interfaces, hosts, MACs, the
-- batch ledger that makes delivery exactly-once, time-partitioned samples, rollups and jobs.
-- Every table that grows is keyed by probe first (the future Citus distribution key).
-- Times of traffic are packet times in ns since the Unix epoch (bigint): PostgreSQL's
-- timestamptz keeps µs, and totals must match the probe to the ns.

CREATE TABLE sites (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE probes (
    id                      bigserial PRIMARY KEY,
    site_id                 bigint NOT NULL REFERENCES sites (id),
    name                    text NOT NULL UNIQUE,
    enrolled_at             timestamptz NOT NULL DEFAULT now(),
    revoked_at              timestamptz,
    software_version        text,
    os                      text,
    hostname                text,
    uptime_secs             bigint,
    last_hello_at           timestamptz,
    last_batch_at           timestamptz,
    last_seq                bigint,
    last_interval_end_ns    bigint,
    controller              text,
    spool_pending_batches   bigint NOT NULL DEFAULT 0,
    spool_pending_bytes     bigint NOT NULL DEFAULT 0,
    spool_dropped_batches   bigint NOT NULL DEFAULT 0,
    spool_dropped_bytes     bigint NOT NULL DEFAULT 0,
    spool_last_dropped_seq  bigint
);

-- A probe's certificates, by SHA-256 of their DER form (the identity the handshake proves).
CREATE TABLE probe_certs (
    sha256      bytea PRIMARY KEY,
    probe_id    bigint NOT NULL REFERENCES probes (id),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX probe_certs_probe ON probe_certs (probe_id);

-- The controller's CA, shared by every controller of this database.
CREATE TABLE ca (
    id          int PRIMARY KEY CHECK (id = 1),
    cert_pem    text NOT NULL,
    key_pem     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE interfaces (
    id                  bigserial PRIMARY KEY,
    probe_id            bigint NOT NULL REFERENCES probes (id),
    name                text NOT NULL,
    link_type           text NOT NULL,
    live                boolean NOT NULL DEFAULT false,
    packets             bigint NOT NULL DEFAULT 0,
    bytes               bigint NOT NULL DEFAULT 0,
    undecoded_packets   bigint NOT NULL DEFAULT 0,
    undecoded_bytes     bigint NOT NULL DEFAULT 0,
    pcap_drops          bigint NOT NULL DEFAULT 0,
    if_drops            bigint NOT NULL DEFAULT 0,
    flows_total         bigint NOT NULL DEFAULT 0,
    flows_expired       bigint NOT NULL DEFAULT 0,
    host_evictions      bigint NOT NULL DEFAULT 0,
    mac_evictions       bigint NOT NULL DEFAULT 0,
    flow_evictions      bigint NOT NULL DEFAULT 0,
    bytes_stats         bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[15]),
    pkts_stats          bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[11]),
    hosts               bigint NOT NULL DEFAULT 0,
    macs                bigint NOT NULL DEFAULT 0,
    flows_active        bigint NOT NULL DEFAULT 0,
    first_seen_ns       bigint NOT NULL DEFAULT 0,
    last_seen_ns        bigint NOT NULL DEFAULT 0,
    UNIQUE (probe_id, name)
);

-- The delivery ledger: a (probe, seq) present here was committed, with everything it carried.
CREATE TABLE batches (
    probe_id            bigint NOT NULL REFERENCES probes (id),
    seq                 bigint NOT NULL,
    interval_start_ns   bigint NOT NULL,
    interval_end_ns     bigint NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    controller          text NOT NULL,
    host_rows           int NOT NULL,
    mac_rows            int NOT NULL,
    -- Folded into the totals and the rollups (the fold job).
    rolled_up           boolean NOT NULL DEFAULT false,
    PRIMARY KEY (probe_id, seq)
);
CREATE INDEX batches_pending_rollup ON batches (received_at) WHERE NOT rolled_up;

-- Hosts: one per probe + interface + address, with totals since first seen.
CREATE TABLE hosts (
    probe_id            bigint NOT NULL,
    interface_id        bigint NOT NULL REFERENCES interfaces (id),
    ip                  inet NOT NULL,
    mac                 macaddr,
    names               text[] NOT NULL DEFAULT '{}',
    vlan                int NOT NULL DEFAULT 0,
    first_seen_ns       bigint NOT NULL,
    last_seen_ns        bigint NOT NULL,
    tx_packets          bigint NOT NULL DEFAULT 0,
    tx_bytes            bigint NOT NULL DEFAULT 0,
    rx_packets          bigint NOT NULL DEFAULT 0,
    rx_bytes            bigint NOT NULL DEFAULT 0,
    -- split by layer 4: TCP, UDP, ICMP, other
    tcp_tx_packets      bigint NOT NULL DEFAULT 0,
    tcp_tx_bytes        bigint NOT NULL DEFAULT 0,
    tcp_rx_packets      bigint NOT NULL DEFAULT 0,
    tcp_rx_bytes        bigint NOT NULL DEFAULT 0,
    udp_tx_packets      bigint NOT NULL DEFAULT 0,
    udp_tx_bytes        bigint NOT NULL DEFAULT 0,
    udp_rx_packets      bigint NOT NULL DEFAULT 0,
    udp_rx_bytes        bigint NOT NULL DEFAULT 0,
    icmp_tx_packets      bigint NOT NULL DEFAULT 0,
    icmp_tx_bytes        bigint NOT NULL DEFAULT 0,
    icmp_rx_packets      bigint NOT NULL DEFAULT 0,
    icmp_rx_bytes        bigint NOT NULL DEFAULT 0,
    other_tx_packets      bigint NOT NULL DEFAULT 0,
    other_tx_bytes        bigint NOT NULL DEFAULT 0,
    other_rx_packets      bigint NOT NULL DEFAULT 0,
    other_rx_bytes        bigint NOT NULL DEFAULT 0,
    syn_sent            bigint NOT NULL DEFAULT 0,
    tcp_sessions_total  bigint NOT NULL DEFAULT 0,
    udp_flows           bigint NOT NULL DEFAULT 0,
    peers_sent          bigint NOT NULL DEFAULT 0,
    peers_rcvd          bigint NOT NULL DEFAULT 0,
    tcp_sessions_active bigint NOT NULL DEFAULT 0,
    thpt_actual_tx      real NOT NULL DEFAULT 0,
    thpt_actual_rx      real NOT NULL DEFAULT 0,
    thpt_peak_tx        real NOT NULL DEFAULT 0,
    thpt_peak_rx        real NOT NULL DEFAULT 0,
    roles               int NOT NULL DEFAULT 0,
    -- Batch that last set the non-additive values (an older one never overwrites them).
    gauges_seq          bigint NOT NULL DEFAULT -1,
    PRIMARY KEY (probe_id, interface_id, ip)
) WITH (fillfactor = 80);

CREATE TABLE host_services (
    probe_id        bigint NOT NULL,
    interface_id    bigint NOT NULL,
    ip              inet NOT NULL,
    service         text NOT NULL,
    tx_packets      bigint NOT NULL DEFAULT 0,
    tx_bytes        bigint NOT NULL DEFAULT 0,
    rx_packets      bigint NOT NULL DEFAULT 0,
    rx_bytes        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (probe_id, interface_id, ip, service)
) WITH (fillfactor = 80);

CREATE TABLE macs (
    probe_id        bigint NOT NULL,
    interface_id    bigint NOT NULL REFERENCES interfaces (id),
    mac             macaddr NOT NULL,
    first_seen_ns   bigint NOT NULL,
    last_seen_ns    bigint NOT NULL,
    tx_packets      bigint NOT NULL DEFAULT 0,
    tx_bytes        bigint NOT NULL DEFAULT 0,
    rx_packets      bigint NOT NULL DEFAULT 0,
    rx_bytes        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (probe_id, interface_id, mac)
) WITH (fillfactor = 80);

-- Per-interval host samples: everything a batch said of a host, written with one COPY per
-- batch (the ingest path writes nothing else per host). The fold job adds them to `hosts` and
-- `host_services` and to the rollups, many intervals at a time; until then readers add the
-- unfolded samples to the folded totals (see store::totals). Partitioned by day of the
-- interval's end (packet time); partitions are made on demand and dropped by retention.
CREATE TABLE host_samples (
    probe_id            bigint NOT NULL,
    interface_id        bigint NOT NULL,
    ip                  inet NOT NULL,
    ts                  timestamptz NOT NULL,
    seq                 bigint NOT NULL,
    mac                 macaddr,
    vlan                int NOT NULL,
    first_seen_ns       bigint NOT NULL,
    last_seen_ns        bigint NOT NULL,
    tx_packets          bigint NOT NULL,
    tx_bytes            bigint NOT NULL,
    rx_packets          bigint NOT NULL,
    rx_bytes            bigint NOT NULL,
    tcp_tx_packets      bigint NOT NULL,
    tcp_tx_bytes        bigint NOT NULL,
    tcp_rx_packets      bigint NOT NULL,
    tcp_rx_bytes        bigint NOT NULL,
    udp_tx_packets      bigint NOT NULL,
    udp_tx_bytes        bigint NOT NULL,
    udp_rx_packets      bigint NOT NULL,
    udp_rx_bytes        bigint NOT NULL,
    icmp_tx_packets      bigint NOT NULL,
    icmp_tx_bytes        bigint NOT NULL,
    icmp_rx_packets      bigint NOT NULL,
    icmp_rx_bytes        bigint NOT NULL,
    other_tx_packets      bigint NOT NULL,
    other_tx_bytes        bigint NOT NULL,
    other_rx_packets      bigint NOT NULL,
    other_rx_bytes        bigint NOT NULL,
    syn_sent            bigint NOT NULL,
    tcp_sessions_total  bigint NOT NULL,
    udp_flows           bigint NOT NULL,
    peers_sent          bigint NOT NULL,
    peers_rcvd          bigint NOT NULL,
    tcp_sessions_active bigint NOT NULL,
    thpt_actual_tx      real NOT NULL,
    thpt_actual_rx      real NOT NULL,
    thpt_peak_tx        real NOT NULL,
    thpt_peak_rx        real NOT NULL,
    roles               int NOT NULL,
    -- per service: {name, tx packets, tx bytes, rx packets, rx bytes, name, …}
    services            text[]
) PARTITION BY RANGE (ts);
CREATE INDEX host_samples_host ON host_samples (probe_id, interface_id, ip, ts);
CREATE INDEX host_samples_batch ON host_samples (probe_id, seq);

CREATE TABLE interface_samples (
    probe_id            bigint NOT NULL,
    interface_id        bigint NOT NULL,
    ts                  timestamptz NOT NULL,
    seq                 bigint NOT NULL,
    packets             bigint NOT NULL,
    bytes               bigint NOT NULL,
    undecoded_packets   bigint NOT NULL,
    drops               bigint NOT NULL,
    hosts               bigint NOT NULL,
    flows_active        bigint NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX interface_samples_iface ON interface_samples (probe_id, interface_id, ts);

-- Rollups, filled from samples by the fold job (each batch exactly once: batches.rolled_up).
CREATE TABLE host_hourly (
    probe_id        bigint NOT NULL,
    interface_id    bigint NOT NULL,
    ip              inet NOT NULL,
    ts              timestamptz NOT NULL,
    tx_packets      bigint NOT NULL,
    tx_bytes        bigint NOT NULL,
    rx_packets      bigint NOT NULL,
    rx_bytes        bigint NOT NULL,
    peak_thpt_tx    real NOT NULL,
    peak_thpt_rx    real NOT NULL,
    PRIMARY KEY (probe_id, interface_id, ip, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE host_daily (
    probe_id        bigint NOT NULL,
    interface_id    bigint NOT NULL,
    ip              inet NOT NULL,
    ts              timestamptz NOT NULL,
    tx_packets      bigint NOT NULL,
    tx_bytes        bigint NOT NULL,
    rx_packets      bigint NOT NULL,
    rx_bytes        bigint NOT NULL,
    peak_thpt_tx    real NOT NULL,
    peak_thpt_rx    real NOT NULL,
    PRIMARY KEY (probe_id, interface_id, ip, ts)
);

CREATE TABLE interface_hourly (
    probe_id        bigint NOT NULL,
    interface_id    bigint NOT NULL,
    ts              timestamptz NOT NULL,
    packets         bigint NOT NULL,
    bytes           bigint NOT NULL,
    drops           bigint NOT NULL,
    PRIMARY KEY (probe_id, interface_id, ts)
);

CREATE TABLE interface_daily (
    probe_id        bigint NOT NULL,
    interface_id    bigint NOT NULL,
    ts              timestamptz NOT NULL,
    packets         bigint NOT NULL,
    bytes           bigint NOT NULL,
    drops           bigint NOT NULL,
    PRIMARY KEY (probe_id, interface_id, ts)
);

-- Periodic jobs: a row per job is the lease (locked FOR UPDATE SKIP LOCKED while it runs, so
-- exactly one controller runs it), and each run is logged.
CREATE TABLE jobs (
    name            text PRIMARY KEY,
    last_run_at     timestamptz,
    last_run_by     text,
    runs            bigint NOT NULL DEFAULT 0
);
INSERT INTO jobs (name) VALUES ('rollup'), ('retention');

CREATE TABLE job_runs (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    controller      text NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    detail          text NOT NULL
);

-- Folded totals per host with probe and site names (the unfolded samples come on top: see
-- store::totals).
CREATE VIEW host_totals AS
SELECT s.name AS site, p.name AS probe, i.name AS interface, h.*
FROM hosts h
JOIN interfaces i ON i.id = h.interface_id
JOIN probes p ON p.id = h.probe_id
JOIN sites s ON s.id = p.site_id;
