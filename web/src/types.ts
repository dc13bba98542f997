// The API's answers as the console reads them (the OpenAPI document at /api/v1/openapi.json
// is the contract; fields the console does not use are left out).

export interface Site {
  name: string;
  probes: number;
  probes_online: number;
  interfaces: number;
  hosts: number;
  packets: number;
  bytes: number;
  last_batch_at: string | null;
}

export interface Interface {
  id: number;
  probe: string;
  site: string;
  name: string;
  link_type: string;
  live: boolean;
  packets: number;
  bytes: number;
  undecoded_packets: number;
  undecoded_bytes: number;
  pcap_drops: number;
  if_drops: number;
  hosts: number;
  macs: number;
  flows_total: number;
  flows_active: number;
  flows_expired: number;
  host_evictions: number;
  mac_evictions: number;
  flow_evictions: number;
  first_seen: string | null;
  last_seen: string | null;
  bytes_stats: Record<string, number>;
  archive: string | null;
}

export interface Probe {
  name: string;
  site: string;
  status: 'online' | 'offline' | 'revoked';
  hostname: string | null;
  software_version: string | null;
  last_batch_at: string | null;
  interfaces: Interface[];
}

export interface InterfaceHistory {
  points: { ts: string; packets: number; bytes: number }[];
}

export interface Counter {
  sent: number;
  rcvd: number;
}

export interface HostSummary {
  site: string;
  probe: string;
  interface_id: number;
  interface: string;
  ip: string;
  mac: string | null;
  vendor: string | null;
  name: string | null;
  vlan: number;
  country_code: string | null;
  city: string | null;
  first_seen: string | null;
  last_seen: string | null;
  unit: 'bytes' | 'packets';
  sent: number;
  rcvd: number;
  total: number;
  outbound_share: number;
  inbound_share: number;
  bytes: Counter;
  packets: Counter;
}

export interface HostPage {
  items: HostSummary[];
  next_cursor: string | null;
}

export interface Traffic {
  sent_packets: number;
  sent_bytes: number;
  rcvd_packets: number;
  rcvd_bytes: number;
}

export interface Throughput {
  actual: number;
  average: number;
  peak: number;
}

export interface HostDetail extends HostSummary {
  names: string[];
  geo: { country_code?: string | null; country?: string | null; city?: string | null } | null;
  protocols: { tcp: Traffic; udp: Traffic; icmp: Traffic; other: Traffic };
  services: (Traffic & { service: string })[];
  peers_sent: number;
  peers_rcvd: number;
  tcp_sessions_active: number;
  tcp_sessions_total: number;
  syn_sent: number;
  udp_flows: number;
  throughput_sent: Throughput;
  throughput_rcvd: Throughput;
  roles: string[];
  archive: string | null;
}

export interface HostHistory {
  points: (Traffic & { ts: string })[];
}

export interface EventAction {
  id: number;
  action: string;
  action_parameter: string;
  status: 'pending' | 'ok' | 'failed';
  attempts: number;
  last_error: string | null;
}

export interface AlarmEvent {
  id: number;
  raised_at: string;
  source: string;
  name: string;
  severity: string;
  subject: string;
  message: string;
  probe: string | null;
  value: number | null;
  threshold: number | null;
  type: string | null;
  acked_at: string | null;
  acked_by: string | null;
  actions: EventAction[];
}

export interface EventPage {
  items: AlarmEvent[];
  next_cursor: string | null;
}

export interface Attribution {
  text: string;
  url: string;
  license: string;
}

export interface CountryCounts {
  geoip: boolean;
  attribution: Attribution | null;
  hosts_considered: number;
  hosts_unknown: number;
  countries: { code: string; name: string | null; hosts: number }[];
}

export interface CityCounts {
  geoip: boolean;
  attribution: Attribution | null;
  country: string;
  hosts_considered: number;
  hosts_unknown: number;
  cities: { name: string; latitude: number | null; longitude: number | null; hosts: number }[];
}

export interface Threshold {
  id: string;
  rrd_path: string;
  type: string;
  value: string;
  repetitions: string;
  start: string;
  end: string;
  action: string;
  action_parameter: string;
  rearm_secs: string;
}

export interface AlarmRow {
  threshold_id: number;
  file: string;
  value: number | null;
  type: string;
  threshold: number | null;
  time: number | null;
  action: string;
  action_parameter: string;
  outcome: 'fired' | 'ok' | 'error';
  error: string | null;
  held_by_rearm: boolean;
}

export interface AlarmCheck {
  started_at: string;
  duration_ms: number;
  thresholds: number;
  files_checked: number;
  alarms_fired: number;
  rows: AlarmRow[];
  unmatched: { threshold_id: number; glob: string }[];
  actions: { id: number; action: string; action_parameter: string; status: string; attempts: number; error: string | null }[];
  event_ids: number[];
}

export interface LiveHost {
  interface: string;
  ip: string;
  mac: string | null;
  vendor: string | null;
  first_seen: string | null;
  last_seen: string | null;
  sent_packets: number;
  sent_bytes: number;
  rcvd_packets: number;
  rcvd_bytes: number;
  throughput_sent: number;
  throughput_rcvd: number;
}

export interface LiveTopTalkers {
  probe: string;
  controller: string;
  hosts: LiveHost[];
}

export interface Talker extends Traffic {
  href: string;
  probe: string;
  interface_id: number;
  interface: string;
  ip: string;
  mac: string | null;
  name: string | null;
}

export interface TopTalkers {
  from: string | null;
  to: string | null;
  unit: 'bytes' | 'packets';
  hosts: Talker[];
}
