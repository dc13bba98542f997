//! The probe's uplink: QUIC with mutual TLS to one of a list of controllers, fed from the
//! spool. Every exchange is one bidirectional stream (see `wirewatch_wire`): Hello→Welcome
//! when a connection opens, then each spooled batch in sequence order → Ack (the batch leaves
//! the spool) or Reject (kept and retried, or discarded and counted if the controller says it
//! will never take it). The controller may open streams of its own with live queries, which
//! are answered from the capture thread's tables ([`answer`]).
//!
//! A connection that fails, or a controller that does not answer, moves the probe to the next
//! controller of the list after a short, growing pause. A client without a certificate sees
//! its handshake succeed and the connection close right after, so the probe counts itself
//! connected only once the Welcome has arrived.
//!
//! A controller that closes the connection as "revoked" or "unknown probe" (or refuses the
//! certificate as revoked in the handshake) will refuse again: the probe pauses that
//! controller for a minute, doubling up to ten, and tries the others meanwhile.

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::{Notify, oneshot};
use wirewatch_wire::{
    ALPN, Batch, Command, ControllerMessage, DEFAULT_MAX_FRAME, Hello, HostDelta, HostGauges, InterfaceInfo,
    ProbeMessage, Reply,
};

use crate::delta::traffic;
use crate::interface::Interface;
use crate::spool::{Spool, SpoolError};

/// Uplink failures.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("identity {path}: {message}")]
    Identity { path: String, message: String },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("{0}")]
    Spool(#[from] SpoolError),
    #[error("controller {addr}: {message}")]
    Controller { addr: String, message: String },
    /// The controller refused this probe (revoked, or not enrolled there).
    #[error("controller {addr} refused this probe: {message}")]
    Refused { addr: String, message: String },
    #[error("no controller given")]
    NoController,
}

/// A probe's enrolled identity: its certificate chain and key, and the controller CA.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub ca: Vec<CertificateDer<'static>>,
}

impl Identity {
    /// Reads `probe.crt`, `probe.key` and `ca.crt` from `dir` (what `probe enroll` writes).
    pub fn load(dir: &Path) -> Result<Identity, UplinkError> {
        let bad = |f: &str, m: String| UplinkError::Identity { path: dir.join(f).display().to_string(), message: m };
        let certs = |f: &str| -> Result<Vec<CertificateDer<'static>>, UplinkError> {
            let v: Vec<_> = CertificateDer::pem_file_iter(dir.join(f))
                .map_err(|e| bad(f, e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(f, e.to_string()))?;
            if v.is_empty() { Err(bad(f, "no certificate in file".into())) } else { Ok(v) }
        };
        let chain = certs("probe.crt")?;
        let ca = certs("ca.crt")?;
        let key = PrivateKeyDer::from_pem_file(dir.join("probe.key")).map_err(|e| bad("probe.key", e.to_string()))?;
        Ok(Identity { chain, key, ca })
    }
}

/// Builds the QUIC client configuration for an identity.
pub fn client_config(id: &Identity) -> Result<quinn::ClientConfig, UplinkError> {
    let tls = |e: &dyn std::fmt::Display| UplinkError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in &id.ca {
        roots.add(c.clone()).map_err(|e| tls(&e))?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls(&e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
        .map_err(|e| tls(&e))?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    let qc = quinn::crypto::rustls::QuicClientConfig::try_from(cfg).map_err(|e| tls(&e))?;
    let mut client = quinn::ClientConfig::new(Arc::new(qc));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_secs(5)));
    transport.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(30_000))));
    client.transport_config(Arc::new(transport));
    Ok(client)
}

/// A live query on its way to a capture thread, with where to send the answer.
pub type Query = (Command, oneshot::Sender<Reply>);

/// State shared by the capture side (producer) and the uplink task.
#[derive(Debug)]
pub struct Shared {
    /// Guarded by a std mutex: every holder does a short piece of file I/O and no `.await`.
    pub spool: Mutex<Spool>,
    /// Signalled when the spool gains room (a replay waiting for acknowledgements).
    pub room: Condvar,
    /// Signalled when a batch is spooled (the uplink waiting for work).
    pub new_batch: Notify,
    /// The producer has spooled its last batch (file replay finished).
    pub producer_done: AtomicBool,
    /// Stop requested (signal).
    pub stop: AtomicBool,
    pub interfaces: Mutex<Vec<InterfaceInfo>>,
    /// One sender per capture thread; the uplink asks them all and merges the answers.
    pub queries: Mutex<Vec<SyncSender<Query>>>,
    pub started: Instant,
    /// Each spooled batch's encoded size stays under this; a larger interval is split.
    pub max_batch_bytes: usize,
}

impl Shared {
    pub fn new(spool: Spool) -> Arc<Shared> {
        Shared::with_max_batch(spool, wirewatch_wire::DEFAULT_MAX_BATCH)
    }

    /// [`Shared::new`] with a batch size bound of `max_batch_bytes`.
    pub fn with_max_batch(spool: Spool, max_batch_bytes: usize) -> Arc<Shared> {
        Arc::new(Shared {
            max_batch_bytes,
            spool: Mutex::new(spool),
            room: Condvar::new(),
            new_batch: Notify::new(),
            producer_done: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            interfaces: Mutex::new(Vec::new()),
            queries: Mutex::new(Vec::new()),
            started: Instant::now(),
        })
    }

    fn spool(&self) -> std::sync::MutexGuard<'_, Spool> {
        // A panic while holding the lock leaves the spool consistent on disk (every change is
        // a whole-file rename), so a poisoned lock is still usable.
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a capture thread's query inbox.
    pub fn query_inbox(&self) -> Receiver<Query> {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        self.queries.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        rx
    }

    /// Spools the next batch of a replay run, waiting for room first (a replay never drops).
    /// Returns false if a stop was requested while waiting.
    pub fn put_run_batch(&self, index: u64, batch: &mut Batch, last: bool) -> Result<bool, SpoolError> {
        let mut s = self.spool();
        let estimate = 64 + batch.interfaces.iter().map(|i| 64 + 160 * i.hosts.len() as u64).sum::<u64>();
        while !s.has_room(estimate) {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            s = self.room.wait_timeout(s, Duration::from_millis(200)).map(|r| r.0).unwrap_or_else(|p| p.into_inner().0);
        }
        let put = s.put_run_batch(index, batch, last)?;
        drop(s);
        if put {
            self.new_batch.notify_one();
        }
        Ok(true)
    }

    /// Spools a live batch (dropping the oldest past the bounds).
    pub fn put_live_batch(&self, batch: &mut Batch) -> Result<u64, SpoolError> {
        let seq = self.spool().put(batch)?;
        self.new_batch.notify_one();
        Ok(seq)
    }
}

/// Answers a live query from one capture thread's interfaces.
pub fn answer(cmd: &Command, interfaces: &mut [Interface]) -> Reply {
    let row = |iface: &Interface, h: &crate::hosts::Host| {
        let l4 = h.l4_split();
        (
            iface.name.clone(),
            HostDelta {
                ip: h.ip,
                mac: h.has_mac.then_some(h.mac),
                vlan: h.vlan,
                first_seen_ns: h.first_seen_ns,
                last_seen_ns: h.last_seen_ns,
                traffic: traffic(&h.total),
                l4: [traffic(&l4[0]), traffic(&l4[1]), traffic(&l4[2]), traffic(&l4[3])],
                services: h.services.iter().map(|(s, t)| (s.name().to_string(), traffic(t))).collect(),
                syn_sent: u64::from(h.syn_sent),
                tcp_sessions_total: u64::from(h.tcp_sessions_total),
                udp_flows: u64::from(h.udp_flows),
                gauges: HostGauges {
                    peers_sent: u64::from(h.peers_sent),
                    peers_rcvd: u64::from(h.peers_rcvd),
                    tcp_sessions_active: u64::from(h.tcp_sessions_active),
                    thpt_actual_tx: h.thpt.actual_tx,
                    thpt_actual_rx: h.thpt.actual_rx,
                    thpt_peak_tx: h.thpt.peak_tx,
                    thpt_peak_rx: h.thpt.peak_rx,
                    roles: h.roles,
                },
            },
        )
    };
    match cmd {
        Command::TopTalkers { limit } => {
            // Counts pending in the flow table reach the hosts first.
            for i in interfaces.iter_mut() {
                i.flush_all();
            }
            let mut all: Vec<(u64, &Interface, &crate::hosts::Host)> = interfaces
                .iter()
                .flat_map(|i| i.hosts.iter().map(move |h| (h.total.tx.bytes + h.total.rx.bytes, i, h)))
                .collect();
            all.sort_unstable_by_key(|(b, _, h)| (std::cmp::Reverse(*b), h.ip));
            all.truncate(*limit as usize);
            Reply::Hosts(all.into_iter().map(|(_, i, h)| row(i, h)).collect())
        }
        Command::HostDetail { ip } => {
            for i in interfaces.iter_mut() {
                i.flush_all();
            }
            Reply::Hosts(interfaces.iter().filter_map(|i| i.hosts.get(ip).map(|h| row(i, h))).collect())
        }
    }
}

/// Answers every query waiting in `inbox`.
pub fn serve_queries(inbox: &Receiver<Query>, interfaces: &mut [Interface]) {
    while let Ok((cmd, reply)) = inbox.try_recv() {
        let _ = reply.send(answer(&cmd, interfaces));
    }
}

/// Uplink settings.
#[derive(Debug, Clone)]
pub struct UplinkOptions {
    pub controllers: Vec<String>,
    pub max_frame: usize,
    /// How long to wait for an acknowledgement before giving up on a connection.
    pub ack_timeout: Duration,
}

impl UplinkOptions {
    pub fn new(controllers: Vec<String>) -> UplinkOptions {
        UplinkOptions { controllers, max_frame: DEFAULT_MAX_FRAME, ack_timeout: Duration::from_secs(60) }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn os() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).ok();
    match release {
        Some(r) => format!("{} {} ({})", std::env::consts::OS, r, std::env::consts::ARCH),
        None => format!("{} ({})", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// Splits `HOST:PORT` (or `[v6]:PORT`) into the TLS server name and a resolvable address.
fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host = match addr.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => return Err(format!("{addr:?} is not HOST:PORT")),
    };
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(ServerName::IpAddress(ip.into())),
        Err(_) => ServerName::try_from(host.to_string()).map_err(|e| e.to_string()),
    }
}

/// How a session ended without error.
enum SessionEnd {
    /// Every batch is acknowledged and the producer is done.
    Delivered,
    Stopped,
}

/// Runs until every batch is delivered and the producer is done (file replay) or a stop is
/// requested. Moves through `controllers` on failure; never gives up on its own.
pub async fn run(opts: UplinkOptions, client: quinn::ClientConfig, shared: Arc<Shared>) -> Result<(), UplinkError> {
    if opts.controllers.is_empty() {
        return Err(UplinkError::NoController);
    }
    let bind: std::net::SocketAddr = ([0, 0, 0, 0], 0).into();
    let mut endpoint = quinn::Endpoint::client(bind).map_err(|e| UplinkError::Tls(e.to_string()))?;
    endpoint.set_default_client_config(client);
    let mut failures = 0u32;
    let mut i = 0usize;
    let n = opts.controllers.len();
    // Per controller: paused until, and the pause (controllers that refused this probe).
    let mut refused: Vec<Option<(Instant, Duration)>> = vec![None; n];
    loop {
        let now = Instant::now();
        let open = |j: usize| refused[j].is_none_or(|(until, _)| until <= now);
        if !open(i % n) {
            if let Some(j) = (0..n).map(|k| (i + k) % n).find(|&j| open(j)) {
                i = j;
            } else {
                let until = refused.iter().flatten().map(|(u, _)| *u).min().unwrap_or(now);
                tokio::select! {
                    _ = tokio::time::sleep_until(until.into()) => {}
                    _ = wait_stop(&shared) => break,
                }
                continue;
            }
        }
        let addr = &opts.controllers[i % n];
        let mut welcomed = false;
        match session(&endpoint, addr, &opts, &shared, &mut welcomed).await {
            Ok(SessionEnd::Delivered) | Ok(SessionEnd::Stopped) => break,
            Err(e @ UplinkError::Refused { .. }) => {
                let slot = &mut refused[i % n];
                let pause = slot.map(|(_, p)| (p * 2).min(REFUSED_PAUSE_MAX)).unwrap_or(REFUSED_PAUSE);
                *slot = Some((Instant::now() + pause, pause));
                tracing::error!(controller = %addr, error = %e, pause_secs = pause.as_secs(),
                    "uplink: refused by the controller; not trying it again for a while");
                i += 1;
            }
            Err(e) => {
                refused[i % n] = None;
                // A controller that welcomed us was reachable: the pause grows only over
                // failures in a row, not over a probe's lifetime.
                if welcomed {
                    failures = 0;
                }
                failures += 1;
                tracing::warn!(controller = %addr, error = %e, "uplink: connection lost; trying the next controller");
                i += 1;
                let pause = Duration::from_millis((200u64 << failures.min(5)).min(5_000));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = wait_stop(&shared) => break,
                }
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
    }
    endpoint.close(quinn::VarInt::from_u32(wirewatch_wire::close::DONE), b"bye");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    Ok(())
}

/// How long a controller that refused this probe is left alone (doubling up to the maximum).
const REFUSED_PAUSE: Duration = Duration::from_secs(60);
const REFUSED_PAUSE_MAX: Duration = Duration::from_secs(600);

/// Whether the connection was closed because the controller refuses this probe: closed as
/// revoked or unknown, or the certificate refused as revoked in the handshake.
fn refusal(conn: &quinn::Connection) -> Option<String> {
    use wirewatch_wire::close;
    match conn.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(c) => {
            let code = c.error_code.into_inner();
            (code == u64::from(close::REVOKED) || code == u64::from(close::UNKNOWN_PROBE))
                .then(|| format!("closed with code {code:#x} ({})", String::from_utf8_lossy(&c.reason)))
        }
        // TLS alert 44, certificate_revoked.
        quinn::ConnectionError::ConnectionClosed(c) if c.error_code == quinn::TransportErrorCode::crypto(44) => {
            Some("certificate revoked".into())
        }
        _ => None,
    }
}

/// Whether the controller closed the connection with application code `code`.
fn closed_with(conn: &quinn::Connection, code: u32) -> bool {
    matches!(conn.close_reason(), Some(quinn::ConnectionError::ApplicationClosed(c)) if c.error_code.into_inner() == u64::from(code))
}

async fn wait_stop(shared: &Shared) {
    while !shared.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hello(shared: &Shared) -> Hello {
    Hello {
        software_version: env!("CARGO_PKG_VERSION").to_string(),
        os: os(),
        hostname: hostname(),
        uptime_secs: shared.started.elapsed().as_secs(),
        interfaces: shared.interfaces.lock().map(|v| v.clone()).unwrap_or_default(),
        spool: shared.spool().status(),
    }
}

async fn exchange(
    conn: &quinn::Connection,
    frame: &[u8],
    max: usize,
    timeout: Duration,
) -> Result<ControllerMessage, String> {
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    send.write_all(frame).await.map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())?;
    let bytes = tokio::time::timeout(timeout, recv.read_to_end(max))
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
        .map_err(|e| e.to_string())?;
    wirewatch_wire::decode::<ControllerMessage>(&bytes, max).map_err(|e| e.to_string())
}

async fn session(
    endpoint: &quinn::Endpoint,
    addr: &str,
    opts: &UplinkOptions,
    shared: &Arc<Shared>,
    welcomed: &mut bool,
) -> Result<SessionEnd, UplinkError> {
    let fail = |m: String| UplinkError::Controller { addr: addr.to_string(), message: m };
    let name = server_name(addr).map_err(&fail)?;
    let sock = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| fail(format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| fail("no address".into()))?;
    let connecting = endpoint.connect(sock, &name.to_str()).map_err(|e| fail(e.to_string()))?;
    let conn = tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| fail("connect timed out".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let refused = |conn: &quinn::Connection, e: UplinkError| match refusal(conn) {
        Some(message) => UplinkError::Refused { addr: addr.to_string(), message },
        None => e,
    };
    let frame = wirewatch_wire::encode(&ProbeMessage::Hello(hello(shared))).map_err(|e| fail(e.to_string()))?;
    let welcome = match exchange(&conn, &frame, opts.max_frame, Duration::from_secs(15))
        .await
        .map_err(|e| refused(&conn, fail(e)))?
    {
        ControllerMessage::Welcome(w) => w,
        other => return Err(fail(format!("expected Welcome, got {other:?}"))),
    };
    *welcomed = true;
    if let Some(last) = welcome.last_committed_seq {
        let mut spool = shared.spool();
        match spool.number_after(last) {
            Ok(true) => tracing::warn!(controller = %addr, last_committed = last,
                "uplink: the controller holds later batches than this spool numbered: numbering after them"),
            Ok(false) => {}
            Err(e) => return Err(UplinkError::Spool(e)),
        }
    }
    tracing::info!(controller = %addr, probe = %welcome.probe, site = %welcome.site,
        last_committed = ?welcome.last_committed_seq, "uplink: connected");
    let queries = tokio::spawn(serve_controller_queries(conn.clone(), shared.clone(), opts.max_frame));
    let result = deliver(&conn, opts, shared).await.map_err(|e| refused(&conn, fail(e)));
    queries.abort();
    match &result {
        Ok(_) => conn.close(quinn::VarInt::from_u32(wirewatch_wire::close::DONE), b"done"),
        Err(_) => conn.close(quinn::VarInt::from_u32(wirewatch_wire::close::MALFORMED), b"uplink error"),
    }
    result
}

async fn deliver(conn: &quinn::Connection, opts: &UplinkOptions, shared: &Arc<Shared>) -> Result<SessionEnd, String> {
    let mut retry_pause = Duration::from_millis(250);
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(SessionEnd::Stopped);
        }
        let next = shared.spool().oldest().map_err(|e| e.to_string())?;
        let Some((seq, frame)) = next else {
            if shared.producer_done.load(Ordering::Acquire) && shared.spool().is_empty() {
                return Ok(SessionEnd::Delivered);
            }
            tokio::select! {
                _ = shared.new_batch.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                e = conn.closed() => return Err(format!("connection closed: {e}")),
            }
            continue;
        };
        let answer = match exchange(conn, &frame, opts.max_frame, opts.ack_timeout).await {
            Ok(a) => a,
            Err(e) => {
                // A batch over the controller's frame limit would be refused for ever and
                // block every later one: set it aside (kept in quarantine, counted).
                if closed_with(conn, wirewatch_wire::close::TOO_LARGE) {
                    let why = format!("over the controller's frame limit ({} bytes)", frame.len());
                    shared.spool().quarantine(seq, &why).map_err(|e| e.to_string())?;
                    shared.room.notify_all();
                }
                return Err(e);
            }
        };
        match answer {
            ControllerMessage::Ack(a) if a.seq == seq => {
                shared.spool().ack(seq).map_err(|e| e.to_string())?;
                shared.room.notify_all();
                retry_pause = Duration::from_millis(250);
            }
            ControllerMessage::Reject(r) if r.seq == seq && r.retry => {
                tracing::warn!(seq, reason = %r.message, "uplink: batch not stored yet; retrying");
                tokio::time::sleep(retry_pause).await;
                retry_pause = (retry_pause * 2).min(Duration::from_secs(5));
            }
            ControllerMessage::Reject(r) if r.seq == seq => {
                tracing::error!(seq, reason = %r.message, "uplink: controller refused the batch for good; dropped");
                shared.spool().discard(seq).map_err(|e| e.to_string())?;
                shared.room.notify_all();
            }
            other => return Err(format!("unexpected answer to batch {seq}: {other:?}")),
        }
    }
}

/// Answers the controller's live queries: each is sent to every capture thread, and the
/// answers are merged (top talkers re-sorted and cut to the limit).
async fn serve_controller_queries(conn: quinn::Connection, shared: Arc<Shared>, max: usize) {
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(bytes) = recv.read_to_end(max).await else { return };
            let reply = match wirewatch_wire::decode::<ControllerMessage>(&bytes, max) {
                Ok(ControllerMessage::Command(cmd)) => ask_capture(&shared, cmd).await,
                Ok(other) => Reply::Error(format!("not a command: {other:?}")),
                Err(e) => Reply::Error(e.to_string()),
            };
            if let Ok(frame) = wirewatch_wire::encode(&ProbeMessage::Reply(reply)) {
                let _ = send.write_all(&frame).await;
                let _ = send.finish();
            }
        });
    }
}

async fn ask_capture(shared: &Shared, cmd: Command) -> Reply {
    let senders: Vec<SyncSender<Query>> = shared.queries.lock().map(|v| v.clone()).unwrap_or_default();
    let mut waits = Vec::new();
    for s in senders {
        let (tx, rx) = oneshot::channel();
        match s.try_send((cmd.clone(), tx)) {
            Ok(()) => waits.push(rx),
            Err(TrySendError::Full(_)) => return Reply::Error("capture busy".into()),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
    if waits.is_empty() {
        return Reply::Error("no capture running".into());
    }
    let mut rows = Vec::new();
    for w in waits {
        match tokio::time::timeout(Duration::from_secs(5), w).await {
            Ok(Ok(Reply::Hosts(h))) => rows.extend(h),
            Ok(Ok(Reply::Error(e))) => return Reply::Error(e),
            _ => return Reply::Error("capture did not answer in time".into()),
        }
    }
    if let Command::TopTalkers { limit } = cmd {
        rows.sort_by_key(|(_, h)| (std::cmp::Reverse(h.traffic.tx_bytes + h.traffic.rx_bytes), h.ip));
        rows.truncate(limit as usize);
    }
    Reply::Hosts(rows)
}
