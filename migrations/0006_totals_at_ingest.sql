-- Host totals kept at ingest.
--
-- Until now a batch's hosts reached `hosts` and `host_services` only when the fold job ran
-- (every minute by default), so lists missed every host first seen since the last fold and
-- readers had to add the unfolded samples themselves. From this release ingest adds each
-- batch's hosts and services to the totals in the transaction that commits the batch, and the
-- fold only rolls samples up by hour and day. The batches an earlier release committed but did
-- not fold yet are added to the totals here, once (their rollups still come from the fold).

INSERT INTO hosts AS h (probe_id, interface_id, ip, mac, first_seen_ns, last_seen_ns, roles, gauges_seq, tx_packets, tx_bytes, rx_packets, rx_bytes, tcp_tx_packets, tcp_tx_bytes, tcp_rx_packets, tcp_rx_bytes, udp_tx_packets, udp_tx_bytes, udp_rx_packets, udp_rx_bytes, icmp_tx_packets, icmp_tx_bytes, icmp_rx_packets, icmp_rx_bytes, other_tx_packets, other_tx_bytes, other_rx_packets, other_rx_bytes, syn_sent, tcp_sessions_total, udp_flows, vlan, peers_sent, peers_rcvd, tcp_sessions_active, thpt_actual_tx, thpt_actual_rx, thpt_peak_tx, thpt_peak_rx)
SELECT a.probe_id, a.interface_id, a.ip, coalesce(l.mac, a.any_mac), a.first_seen_ns, a.last_seen_ns, a.roles, a.gauges_seq, a.tx_packets, a.tx_bytes, a.rx_packets, a.rx_bytes, a.tcp_tx_packets, a.tcp_tx_bytes, a.tcp_rx_packets, a.tcp_rx_bytes, a.udp_tx_packets, a.udp_tx_bytes, a.udp_rx_packets, a.udp_rx_bytes, a.icmp_tx_packets, a.icmp_tx_bytes, a.icmp_rx_packets, a.icmp_rx_bytes, a.other_tx_packets, a.other_tx_bytes, a.other_rx_packets, a.other_rx_bytes, a.syn_sent, a.tcp_sessions_total, a.udp_flows, l.vlan, l.peers_sent, l.peers_rcvd, l.tcp_sessions_active, l.thpt_actual_tx, l.thpt_actual_rx, l.thpt_peak_tx, l.thpt_peak_rx
  FROM (SELECT s.probe_id, s.interface_id, s.ip, max(s.mac::text)::macaddr AS any_mac, min(s.first_seen_ns) AS first_seen_ns, max(s.last_seen_ns) AS last_seen_ns, bit_or(s.roles) AS roles, max(s.seq) AS gauges_seq, sum(s.tx_packets)::bigint AS tx_packets, sum(s.tx_bytes)::bigint AS tx_bytes, sum(s.rx_packets)::bigint AS rx_packets, sum(s.rx_bytes)::bigint AS rx_bytes, sum(s.tcp_tx_packets)::bigint AS tcp_tx_packets, sum(s.tcp_tx_bytes)::bigint AS tcp_tx_bytes, sum(s.tcp_rx_packets)::bigint AS tcp_rx_packets, sum(s.tcp_rx_bytes)::bigint AS tcp_rx_bytes, sum(s.udp_tx_packets)::bigint AS udp_tx_packets, sum(s.udp_tx_bytes)::bigint AS udp_tx_bytes, sum(s.udp_rx_packets)::bigint AS udp_rx_packets, sum(s.udp_rx_bytes)::bigint AS udp_rx_bytes, sum(s.icmp_tx_packets)::bigint AS icmp_tx_packets, sum(s.icmp_tx_bytes)::bigint AS icmp_tx_bytes, sum(s.icmp_rx_packets)::bigint AS icmp_rx_packets, sum(s.icmp_rx_bytes)::bigint AS icmp_rx_bytes, sum(s.other_tx_packets)::bigint AS other_tx_packets, sum(s.other_tx_bytes)::bigint AS other_tx_bytes, sum(s.other_rx_packets)::bigint AS other_rx_packets, sum(s.other_rx_bytes)::bigint AS other_rx_bytes, sum(s.syn_sent)::bigint AS syn_sent, sum(s.tcp_sessions_total)::bigint AS tcp_sessions_total, sum(s.udp_flows)::bigint AS udp_flows
        FROM host_samples s JOIN (SELECT probe_id, seq FROM batches WHERE NOT rolled_up AND quarantined IS NULL) t ON t.probe_id = s.probe_id AND t.seq = s.seq
        GROUP BY s.probe_id, s.interface_id, s.ip) a
  JOIN (SELECT DISTINCT ON (s.probe_id, s.interface_id, s.ip) s.probe_id, s.interface_id, s.ip, s.mac, s.vlan, s.peers_sent, s.peers_rcvd, s.tcp_sessions_active, s.thpt_actual_tx, s.thpt_actual_rx, s.thpt_peak_tx, s.thpt_peak_rx
        FROM host_samples s JOIN (SELECT probe_id, seq FROM batches WHERE NOT rolled_up AND quarantined IS NULL) t ON t.probe_id = s.probe_id AND t.seq = s.seq
        ORDER BY s.probe_id, s.interface_id, s.ip, s.seq DESC) l
    ON l.probe_id = a.probe_id AND l.interface_id = a.interface_id AND l.ip = a.ip
ON CONFLICT (probe_id, interface_id, ip) DO UPDATE SET
  first_seen_ns = least(h.first_seen_ns, excluded.first_seen_ns),
  last_seen_ns = greatest(h.last_seen_ns, excluded.last_seen_ns),
  mac = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN coalesce(excluded.mac, h.mac) ELSE coalesce(h.mac, excluded.mac) END,
  roles = h.roles | excluded.roles,
  gauges_seq = greatest(h.gauges_seq, excluded.gauges_seq),
  tx_packets = h.tx_packets + excluded.tx_packets,
  tx_bytes = h.tx_bytes + excluded.tx_bytes,
  rx_packets = h.rx_packets + excluded.rx_packets,
  rx_bytes = h.rx_bytes + excluded.rx_bytes,
  tcp_tx_packets = h.tcp_tx_packets + excluded.tcp_tx_packets,
  tcp_tx_bytes = h.tcp_tx_bytes + excluded.tcp_tx_bytes,
  tcp_rx_packets = h.tcp_rx_packets + excluded.tcp_rx_packets,
  tcp_rx_bytes = h.tcp_rx_bytes + excluded.tcp_rx_bytes,
  udp_tx_packets = h.udp_tx_packets + excluded.udp_tx_packets,
  udp_tx_bytes = h.udp_tx_bytes + excluded.udp_tx_bytes,
  udp_rx_packets = h.udp_rx_packets + excluded.udp_rx_packets,
  udp_rx_bytes = h.udp_rx_bytes + excluded.udp_rx_bytes,
  icmp_tx_packets = h.icmp_tx_packets + excluded.icmp_tx_packets,
  icmp_tx_bytes = h.icmp_tx_bytes + excluded.icmp_tx_bytes,
  icmp_rx_packets = h.icmp_rx_packets + excluded.icmp_rx_packets,
  icmp_rx_bytes = h.icmp_rx_bytes + excluded.icmp_rx_bytes,
  other_tx_packets = h.other_tx_packets + excluded.other_tx_packets,
  other_tx_bytes = h.other_tx_bytes + excluded.other_tx_bytes,
  other_rx_packets = h.other_rx_packets + excluded.other_rx_packets,
  other_rx_bytes = h.other_rx_bytes + excluded.other_rx_bytes,
  syn_sent = h.syn_sent + excluded.syn_sent,
  tcp_sessions_total = h.tcp_sessions_total + excluded.tcp_sessions_total,
  udp_flows = h.udp_flows + excluded.udp_flows,
  vlan = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.vlan ELSE h.vlan END,
  peers_sent = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.peers_sent ELSE h.peers_sent END,
  peers_rcvd = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.peers_rcvd ELSE h.peers_rcvd END,
  tcp_sessions_active = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.tcp_sessions_active ELSE h.tcp_sessions_active END,
  thpt_actual_tx = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.thpt_actual_tx ELSE h.thpt_actual_tx END,
  thpt_actual_rx = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.thpt_actual_rx ELSE h.thpt_actual_rx END,
  thpt_peak_tx = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.thpt_peak_tx ELSE h.thpt_peak_tx END,
  thpt_peak_rx = CASE WHEN excluded.gauges_seq >= h.gauges_seq THEN excluded.thpt_peak_rx ELSE h.thpt_peak_rx END;

INSERT INTO host_services AS v (probe_id, interface_id, ip, service, tx_packets, tx_bytes, rx_packets, rx_bytes)
SELECT s.probe_id, s.interface_id, s.ip, s.services[i] AS service,
       sum(s.services[i + 1]::bigint)::bigint, sum(s.services[i + 2]::bigint)::bigint,
       sum(s.services[i + 3]::bigint)::bigint, sum(s.services[i + 4]::bigint)::bigint
  FROM host_samples s JOIN (SELECT probe_id, seq FROM batches WHERE NOT rolled_up AND quarantined IS NULL) t ON t.probe_id = s.probe_id AND t.seq = s.seq
  CROSS JOIN LATERAL generate_series(1, coalesce(array_length(s.services, 1), 0), 5) AS i
 GROUP BY 1, 2, 3, 4
ON CONFLICT (probe_id, interface_id, ip, service) DO UPDATE SET
  tx_packets = v.tx_packets + excluded.tx_packets, tx_bytes = v.tx_bytes + excluded.tx_bytes,
  rx_packets = v.rx_packets + excluded.rx_packets, rx_bytes = v.rx_bytes + excluded.rx_bytes;
