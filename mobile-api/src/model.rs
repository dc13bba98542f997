//! Request and response bodies (their schemas are the OpenAPI document's).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Role;
use wirewatch_model::geo::{Attribution, Place};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token stays valid.
    pub expires_in: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The session's refresh token; without it, the session of the access token ends.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// `null`: every site.
    pub sites: Option<Vec<String>>,
    /// `session` (signed in) or `api_token`.
    pub auth: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub sites: Option<Vec<String>>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A new user (`POST /api/v1/users`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1–64 of `A-Z a-z 0-9 . _ - @` (the CLI's rule).
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._@-]+$")]
    pub username: String,
    /// At least 10 characters, at most 1024 bytes (the CLI's rule).
    #[schema(min_length = 10)]
    pub password: String,
    pub role: Role,
    /// The sites the user may see, each an existing site; `null` or absent: every site.
    #[serde(default)]
    pub sites: Option<Vec<String>>,
}

/// Changes of a user (`PATCH /api/v1/users/{id}`): each field optional, absent = unchanged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub role: Option<Role>,
    /// A list of existing sites, or `null` for every site (absent: unchanged).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub sites: Option<Option<Vec<String>>>,
    /// `true` disables the user (sign-in refused, sessions and API tokens revoked); `false`
    /// enables them again (old tokens stay revoked).
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new password (the CLI's rule); their sessions end.
    #[serde(default)]
    pub password: Option<String>,
}

/// A field that is present, `null` included (`Some(None)`), as opposed to absent (`None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// What the token is for (1–64 characters).
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub name: String,
    /// Lifetime in days (1 to `api_token_max_days`, 365 by default); without it
    /// `api_token_default_days` (90).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// Admins only: make the token for this user instead of themselves.
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub username: String,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    /// The token itself: shown this once, stored only hashed.
    pub token: String,
    #[serde(flatten)]
    pub info: ApiTokenInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Site {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub probes: i64,
    pub probes_online: i64,
    pub interfaces: i64,
    pub hosts: i64,
    pub packets: i64,
    pub bytes: i64,
    pub last_batch_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Spool {
    /// Batches the probe holds that no controller acknowledged yet.
    pub pending_batches: i64,
    pub pending_bytes: i64,
    /// Batches the probe dropped past its spool bounds (lost history).
    pub dropped_batches: i64,
    pub dropped_bytes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Probe {
    pub name: String,
    pub site: String,
    /// `online` (connected now), `offline`, or `revoked`.
    pub status: String,
    pub connected_to: Option<String>,
    pub software_version: Option<String>,
    pub os: Option<String>,
    pub hostname: Option<String>,
    pub uptime_secs: Option<i64>,
    pub enrolled_at: DateTime<Utc>,
    pub last_hello_at: Option<DateTime<Utc>>,
    pub last_batch_at: Option<DateTime<Utc>>,
    pub last_seq: Option<i64>,
    pub spool: Spool,
    /// Batches the controller refused (a counter past the ingest bound, an interval out of
    /// range, …): the probe discards them. Non-zero means the probe misbehaves.
    pub refused: BadBatches,
    /// Batches stored but kept out of the totals because the fold could not take them.
    pub quarantined: BadBatches,
    pub interfaces: Vec<Interface>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BadBatches {
    pub batches: i64,
    pub last_reason: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Interface {
    pub id: i64,
    pub probe: String,
    pub site: String,
    pub name: String,
    pub link_type: String,
    pub live: bool,
    pub packets: i64,
    pub bytes: i64,
    pub undecoded_packets: i64,
    pub undecoded_bytes: i64,
    pub pcap_drops: i64,
    pub if_drops: i64,
    pub hosts: i64,
    pub macs: i64,
    pub flows_total: i64,
    pub flows_active: i64,
    pub flows_expired: i64,
    pub host_evictions: i64,
    pub mac_evictions: i64,
    pub flow_evictions: i64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// ntop's bytesStats: bytes by protocol family.
    #[schema(value_type = Object)]
    pub bytes_stats: serde_json::Value,
    /// ntop's pktsStats and securityPkts counters.
    #[schema(value_type = Object)]
    pub pkts_stats: serde_json::Value,
    /// The interface's directory in the RRD archive (`probe/interfaces/name`, as `/rrd/files`
    /// and `/rrd/graph` name paths; list its files with `/rrd/files?prefix=…/`). `null`: this
    /// controller keeps no archive.
    pub archive: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InterfacePoint {
    pub ts: DateTime<Utc>,
    pub packets: i64,
    pub bytes: i64,
    pub drops: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InterfaceHistory {
    pub interface_id: i64,
    pub resolution: Resolution,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub points: Vec<InterfacePoint>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Raw,
    Hourly,
    Daily,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    #[default]
    Bytes,
    Packets,
}

pub use wirewatch_model::HostSort;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HostsParams {
    /// Only this site.
    pub site: Option<String>,
    /// Only this probe.
    pub probe: Option<String>,
    /// Only this interface (id).
    pub interface: Option<i64>,
    /// Only addresses in this network (`192.0.2.0/24`, `2001:db8::/32`, or one address).
    pub cidr: Option<String>,
    /// Start of the address or MAC, or part of the name.
    #[param(min_length = 1, max_length = 128)]
    pub q: Option<String>,
    pub sort: Option<HostSort>,
    pub order: Option<Order>,
    /// Unit of `sent`, `rcvd`, `total` and the shares.
    pub unit: Option<Unit>,
    /// 1–1000, default 50.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (same sort and order).
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Counter {
    pub sent: i64,
    pub rcvd: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostSummary {
    /// This host's URL.
    pub href: String,
    pub site: String,
    pub probe: String,
    pub interface_id: i64,
    pub interface: String,
    pub ip: String,
    pub mac: Option<String>,
    /// Vendor from the MAC's OUI.
    pub vendor: Option<String>,
    /// Reverse DNS name (resolved in the background; `null` until known).
    pub name: Option<String>,
    pub vlan: i32,
    pub country_code: Option<String>,
    pub city: Option<String>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub unit: Unit,
    /// In `unit`.
    pub sent: i64,
    pub rcvd: i64,
    pub total: i64,
    /// Percent of `total` sent (outbound) and received (inbound).
    pub outbound_share: f64,
    pub inbound_share: f64,
    pub bytes: Counter,
    pub packets: Counter,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostPage {
    pub items: Vec<HostSummary>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Traffic {
    pub sent_packets: i64,
    pub sent_bytes: i64,
    pub rcvd_packets: i64,
    pub rcvd_bytes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTraffic {
    pub service: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Protocols {
    pub tcp: Traffic,
    pub udp: Traffic,
    pub icmp: Traffic,
    pub other: Traffic,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Throughput {
    /// Bytes/s in the probe's last window.
    pub actual: f64,
    /// Bytes/s over the host's whole life.
    pub average: f64,
    pub peak: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostDetail {
    #[serde(flatten)]
    pub summary: HostSummary,
    pub names: Vec<String>,
    pub geo: Option<Place>,
    pub protocols: Protocols,
    pub services: Vec<ServiceTraffic>,
    /// Distinct peers contacted as sender and as receiver.
    pub peers_sent: i64,
    pub peers_rcvd: i64,
    pub tcp_sessions_active: i64,
    pub tcp_sessions_total: i64,
    pub syn_sent: i64,
    pub udp_flows: i64,
    pub throughput_sent: Throughput,
    pub throughput_rcvd: Throughput,
    /// ntop's host role flags (`http_host`, `dns_server`, `dhcp_client`, …).
    pub roles: Vec<String>,
    /// The host's directory in the RRD archive (`probe/hosts/address`, as `/rrd/files` and
    /// `/rrd/graph` name paths); its files exist only for archived hosts (list them with
    /// `/rrd/files?prefix=…/`). `null`: this controller keeps no archive.
    pub archive: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// `raw` (the probe's intervals), `hourly` or `daily`; default hourly.
    pub resolution: Option<Resolution>,
    /// Start (RFC 3339); default: 1 day (raw), 7 days (hourly), 365 days (daily) before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339, exclusive); default: the newest data of the host or interface.
    pub to: Option<DateTime<Utc>>,
    /// At most this many points (1–10000, default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostPoint {
    pub ts: DateTime<Utc>,
    #[serde(flatten)]
    pub traffic: Traffic,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostHistory {
    pub interface_id: i64,
    pub ip: String,
    pub resolution: Resolution,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub points: Vec<HostPoint>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TopParams {
    pub site: Option<String>,
    pub probe: Option<String>,
    /// Window length in seconds (60–2678400, default 3600); longer than the server's cap on
    /// raw-sample windows (`[database] raw_window_max_hours`, default 24 h) is a 400.
    #[param(minimum = 60, maximum = 2678400)]
    pub window: Option<i64>,
    /// End of the window (RFC 3339); default: the newest sample in scope.
    pub to: Option<DateTime<Utc>>,
    pub unit: Option<Unit>,
    /// 1–100, default 10.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Talker {
    pub href: String,
    pub probe: String,
    pub interface_id: i64,
    pub interface: String,
    pub ip: String,
    pub mac: Option<String>,
    pub name: Option<String>,
    #[serde(flatten)]
    pub traffic: Traffic,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopTalkers {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub unit: Unit,
    pub hosts: Vec<Talker>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GeoParams {
    pub site: Option<String>,
    pub probe: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CityParams {
    /// ISO 3166-1 alpha-2 code of the country.
    #[param(pattern = "^[A-Za-z]{2}$")]
    pub country: String,
    pub site: Option<String>,
    pub probe: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountryCount {
    pub code: String,
    pub name: Option<String>,
    pub hosts: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountryCounts {
    /// Whether a GeoIP database is configured.
    pub geoip: bool,
    /// What must be shown with these figures (the database's licence asks for it), e.g.
    /// "IP geolocation by DB-IP", https://db-ip.com, CC BY 4.0; null for a database that
    /// asks for none.
    pub attribution: Option<Attribution>,
    /// Distinct host addresses considered.
    pub hosts_considered: i64,
    /// Of those, the ones in no known country (private ranges, unknown space).
    pub hosts_unknown: i64,
    pub countries: Vec<CountryCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CityCount {
    pub name: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub hosts: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CityCounts {
    pub geoip: bool,
    /// As in [`CountryCounts`].
    pub attribution: Option<Attribution>,
    pub country: String,
    /// Hosts in the country.
    pub hosts_considered: i64,
    /// Of those, the ones without a city.
    pub hosts_unknown: i64,
    pub cities: Vec<CityCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preference {
    pub key: String,
    pub value: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preferences {
    pub probe: String,
    pub preferences: Vec<Preference>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceValue {
    /// At most 4096 bytes.
    #[schema(max_length = 1024)]
    pub value: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// 1–1000, default 10.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// How long to wait for the probe (100–30000 ms, default 5000).
    #[param(minimum = 100, maximum = 30000)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveHost {
    pub interface: String,
    pub ip: String,
    pub mac: Option<String>,
    pub vendor: Option<String>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub traffic: Traffic,
    pub throughput_sent: f64,
    pub throughput_rcvd: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveTopTalkers {
    pub probe: String,
    /// The controller that asked the probe.
    pub controller: String,
    pub hosts: Vec<LiveHost>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProbesParams {
    /// Only this site's probes.
    pub site: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
}

/// Image format of an RRD graph.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Svg,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RrdGraphParams {
    /// Archive file below the archive root, e.g. `probe/interfaces/eth0/ethernetBytes.rrd`
    /// (as `/api/v1/rrd/files` lists them).
    #[param(max_length = 512)]
    pub path: String,
    /// Start, seconds since the epoch (packet time); default: a day before `end`.
    pub start: Option<i64>,
    /// End, seconds since the epoch; default: now.
    pub end: Option<i64>,
    /// Image width in pixels (100–4000, default 600).
    #[param(minimum = 100, maximum = 4000)]
    pub width: Option<u32>,
    /// Image height in pixels (60–2000, default 200).
    #[param(minimum = 60, maximum = 2000)]
    pub height: Option<u32>,
    /// `png` (default) or `svg`.
    pub format: Option<ImageFormat>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RrdFilesParams {
    /// Only paths starting with this (e.g. `probe/interfaces/`); default: all.
    #[param(max_length = 512)]
    pub prefix: Option<String>,
    /// At most this many paths (1–10000, default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// Archive files (paths below the archive root, sorted).
#[derive(Debug, Serialize, ToSchema)]
pub struct RrdFiles {
    pub files: Vec<String>,
}

/// What replacing the alarm thresholds did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmThresholdsReplaced {
    pub thresholds: u64,
    /// Thresholds whose ten fields were the same as before (their re-arm state is kept).
    pub unchanged: u64,
    /// Re-arm states dropped (their threshold was removed or edited).
    pub rearm_dropped: u64,
}

/// Which alarm events a list shows.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventStateParam {
    /// Not acknowledged.
    Open,
    Acked,
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// `open` (not acknowledged), `acked` or `all` (default).
    pub state: Option<EventStateParam>,
    /// `info`, `warning`, `error` or `critical`.
    pub severity: Option<String>,
    /// `threshold` (rrdAlarm) or `script` (`wirewatch.raise_alarm`).
    pub source: Option<String>,
    /// Only this site's probes' events.
    pub site: Option<String>,
    /// Only this probe's events.
    pub probe: Option<String>,
    /// Raised at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Raised before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// At most this many events (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (same filters).
    pub cursor: Option<String>,
}

/// One run of an action for some events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventAction {
    pub id: i64,
    pub action: String,
    pub action_parameter: String,
    /// `pending`, `ok` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// An alarm event: a threshold that fired for a file, or a script's alarm.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmEvent {
    pub id: i64,
    pub raised_at: DateTime<Utc>,
    /// `threshold` or `script`.
    pub source: String,
    pub name: String,
    pub severity: String,
    /// The RRD file (thresholds) or the script's subject.
    pub subject: String,
    pub message: String,
    /// The probe the subject belongs to (`null`: none; only users of every site see those).
    pub probe: Option<String>,
    pub threshold_id: Option<i64>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// `above` or `below`.
    #[serde(rename = "type")]
    pub direction: Option<String>,
    /// The controller that raised it.
    pub controller: String,
    pub acked_at: Option<DateTime<Utc>>,
    pub acked_by: Option<String>,
    /// Its actions' runs.
    pub actions: Vec<EventAction>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmEventPage {
    pub items: Vec<AlarmEvent>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportsParams {
    /// `report` (scripts under reports/, default), `alarm` (under alarms/) or `all`.
    pub kind: Option<String>,
    /// Only this script's runs (e.g. `reports/daily.py`).
    pub script: Option<String>,
    /// At most this many runs (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (same filters).
    pub cursor: Option<String>,
}

/// One scheduled script's run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportRun {
    pub id: i64,
    pub script: String,
    /// `report` or `alarm`.
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub status: String,
    pub content_type: String,
    pub output_bytes: i64,
    pub error: Option<String>,
    pub controller: String,
    pub mailed_to: Option<String>,
    pub mail_error: Option<String>,
    /// The output itself (as the script wrote it, its content type).
    pub output_href: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    pub items: Vec<ReportRun>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
