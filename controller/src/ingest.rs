//! QUIC ingest: an accept loop with a connection limit, one task per probe connection, and a
//! pool of writer tasks fed by a bounded queue. A batch is acknowledged only after its
//! transaction committed (or was recognised as already committed).
//!
//! Before a handshake: the source address must be validated (QUIC Retry, stateless), it may
//! have at most `per_address` handshakes and connections at once (IPv6 counted per /64), at
//! most `max_handshakes` handshakes run at once, and each must finish within
//! `handshake_timeout`. A connection permit (`max_connections`) is taken only after the
//! handshake, so peers without a certificate cannot hold permits.
//!
//! Per connection: the handshake has proven the certificate; its fingerprint names the probe
//! (never a message field). Revocation is checked again for every batch, under the probe's
//! revocation lock (`store::probes::RevocationGuard`), so no batch commits after a
//! revocation; and open connections of revoked certificates are closed with
//! `close::REVOKED` ([`Ingest::close_revoked`], every ~2 s). The first stream must carry a Hello. Then each stream carries one
//! Batch, answered by an Ack or a Reject (retry when the database is unavailable). Bytes that
//! do not decode, or a frame over the limit, close that connection with an error code; other
//! connections are not affected.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use wirewatch_store::Store;
use wirewatch_store::ingest::Committed;
use wirewatch_wire::{Ack, Batch, Command, ControllerMessage, ProbeMessage, Reject, Reply, Welcome, WireError, close};

use crate::metrics::{Metrics, Outcome, ProbeLabel};

/// One batch on its way to a writer.
struct WriteJob {
    probe_id: i64,
    /// The connection's certificate (SHA-256): checked against revocation before the commit.
    cert: Vec<u8>,
    batch: Batch,
    reply: oneshot::Sender<Written>,
}

/// A writer's answer.
enum Written {
    Stored(Result<Committed, wirewatch_store::StoreError>),
    /// The probe or its certificate is revoked: nothing was written.
    Revoked,
}

/// A connected probe (for live queries, and to close it when revoked).
#[derive(Clone)]
struct Connected {
    conn: quinn::Connection,
    /// Distinguishes this connection from a later one of the same probe.
    stable_id: usize,
    /// SHA-256 of the certificate this connection was made with.
    cert: Vec<u8>,
}

/// Limits of the QUIC accept loop (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct AcceptLimits {
    pub max_connections: usize,
    pub max_handshakes: usize,
    pub per_address: usize,
    pub handshake_timeout: Duration,
}

/// The key a source address is counted under: IPv4 as is (also when IPv4-mapped), IPv6 by
/// its /64 (one host usually holds a whole /64).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// Handshakes plus connections per source address. A slot is given back when its
/// [`AddressSlot`] is dropped (end of the handshake or of the connection).
#[derive(Default)]
struct PerAddress {
    // std mutex: held for a map lookup only, never across an await.
    counts: std::sync::Mutex<HashMap<IpAddr, usize>>,
}

struct AddressSlot {
    table: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    fn take(table: &Arc<PerAddress>, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut m = table.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot { table: table.clone(), key })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut m = self.table.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// What the ingest tasks share.
pub struct Ingest {
    store: Store,
    name: String,
    max_frame: usize,
    metrics: Arc<Metrics>,
    queue: mpsc::Sender<WriteJob>,
    /// Probe name → its current connection.
    connected: Mutex<HashMap<String, Connected>>,
}

/// Live-query failures.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("probe {0} is not connected to this controller")]
    NotConnected(String),
    #[error("probe did not answer within {0:?}")]
    Timeout(Duration),
    #[error("probe connection: {0}")]
    Connection(String),
    #[error("probe answered: {0}")]
    Probe(String),
}

impl Ingest {
    /// Starts `writers` writer tasks and returns the shared ingest state.
    pub fn start(
        store: Store,
        name: String,
        max_frame: usize,
        writers: usize,
        queue: usize,
        metrics: Arc<Metrics>,
    ) -> Arc<Ingest> {
        let (tx, rx) = mpsc::channel::<WriteJob>(queue);
        // One receiver, several writers: the lock is held only while taking the next job.
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers {
            let (rx, store, name, metrics) = (rx.clone(), store.clone(), name.clone(), metrics.clone());
            tokio::spawn(async move {
                // This writer's connection for the revocation lock (made at first use).
                let mut guard: Option<wirewatch_store::probes::RevocationGuard> = None;
                loop {
                    let job = { rx.lock().await.recv().await };
                    let Some(job) = job else { break };
                    let t = Instant::now();
                    let r = write_guarded(&store, &mut guard, &name, &job).await;
                    metrics.commit_seconds.observe(t.elapsed().as_secs_f64());
                    let _ = job.reply.send(r);
                }
            });
        }
        Arc::new(Ingest { store, name, max_frame, metrics, queue: tx, connected: Mutex::new(HashMap::new()) })
    }

    /// Closes the open connections made with any of `revoked` (certificate fingerprints).
    pub async fn close_revoked(&self, revoked: &HashSet<Vec<u8>>) {
        let mut connected = self.connected.lock().await;
        connected.retain(|probe, c| {
            if !revoked.contains(&c.cert) {
                return true;
            }
            tracing::warn!(%probe, "probe revoked: closing its connection");
            self.metrics.connections_closed.get_or_create(&Outcome { outcome: "revoked" }).inc();
            c.conn.close(quinn::VarInt::from_u32(close::REVOKED), b"probe revoked");
            false
        });
    }

    /// Sends a live query to a connected probe and waits for its reply.
    pub async fn query(
        &self,
        probe: &str,
        cmd: Command,
        timeout: Duration,
    ) -> Result<Vec<(String, wirewatch_wire::HostDelta)>, QueryError> {
        let conn = self.connected.lock().await.get(probe).map(|c| c.conn.clone());
        let conn = conn.ok_or_else(|| QueryError::NotConnected(probe.to_string()))?;
        let frame = wirewatch_wire::encode(&ControllerMessage::Command(cmd))
            .map_err(|e| QueryError::Connection(e.to_string()))?;
        let max = self.max_frame;
        let ask = async move {
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| QueryError::Connection(e.to_string()))?;
            send.write_all(&frame).await.map_err(|e| QueryError::Connection(e.to_string()))?;
            send.finish().map_err(|e| QueryError::Connection(e.to_string()))?;
            let bytes = recv.read_to_end(max).await.map_err(|e| QueryError::Connection(e.to_string()))?;
            match wirewatch_wire::decode::<ProbeMessage>(&bytes, max) {
                Ok(ProbeMessage::Reply(Reply::Hosts(h))) => Ok(h),
                Ok(ProbeMessage::Reply(Reply::Error(e))) => Err(QueryError::Probe(e)),
                Ok(other) => Err(QueryError::Connection(format!("unexpected {other:?}"))),
                Err(e) => Err(QueryError::Connection(e.to_string())),
            }
        };
        tokio::time::timeout(timeout, ask).await.map_err(|_| QueryError::Timeout(timeout))?
    }

    /// Names of the probes connected here.
    pub async fn connected_probes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.connected.lock().await.keys().cloned().collect();
        v.sort();
        v
    }
}

/// Writes a batch if its probe and certificate are not revoked, holding the probe's
/// revocation lock until the commit (see `RevocationGuard`).
async fn write_guarded(
    store: &Store,
    guard: &mut Option<wirewatch_store::probes::RevocationGuard>,
    controller: &str,
    job: &WriteJob,
) -> Written {
    let g = match guard {
        Some(g) => g,
        None => match store.revocation_guard().await {
            Ok(g) => guard.insert(g),
            Err(e) => return Written::Stored(Err(e)),
        },
    };
    let r = match g.admit(store, job.probe_id, &job.cert).await {
        Ok(true) => Written::Stored(store.write_batch(job.probe_id, controller, &job.batch).await),
        Ok(false) => Written::Revoked,
        Err(e) => Written::Stored(Err(e)),
    };
    if let Err(e) = g.release().await {
        tracing::warn!(error = %e, "releasing a revocation lock (its connection is dropped)");
    }
    r
}

/// Accepts probe connections until `shutdown`.
pub async fn serve(endpoint: quinn::Endpoint, ingest: Arc<Ingest>, limits: AcceptLimits, shutdown: CancellationToken) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let handshakes = Arc::new(Semaphore::new(limits.max_handshakes));
    let per_address = Arc::new(PerAddress::default());
    let refused = |why: &'static str| ingest.metrics.connections_refused.get_or_create(&Outcome { outcome: why }).inc();
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => match i { Some(i) => i, None => break },
            _ = shutdown.cancelled() => break,
        };
        let remote = incoming.remote_address();
        // Address validation: an unvalidated address gets a Retry (no state kept here); only
        // a peer that receives at that address comes back with the token.
        if !incoming.remote_address_validated() && incoming.may_retry() {
            if let Err(e) = incoming.retry() {
                tracing::debug!(%remote, error = %e, "QUIC retry failed");
            }
            continue;
        }
        let Some(slot) = PerAddress::take(&per_address, remote.ip(), limits.per_address) else {
            refused("address_limit");
            tracing::debug!(%remote, "too many connections from this address; refusing");
            incoming.refuse();
            continue;
        };
        let Ok(handshake) = handshakes.clone().try_acquire_owned() else {
            refused("handshakes");
            tracing::warn!(%remote, "handshake limit reached; refusing a connection");
            incoming.refuse();
            continue;
        };
        let (ingest, shutdown, connections) = (ingest.clone(), shutdown.clone(), connections.clone());
        tokio::spawn(async move {
            let _slot = slot; // held for the handshake and the connection
            let refused = |why: &'static str| {
                ingest.metrics.connections_refused.get_or_create(&Outcome { outcome: why }).inc();
            };
            let connecting = match incoming.accept() {
                Ok(c) => c,
                Err(e) => {
                    refused("handshake");
                    tracing::info!(%remote, error = %e, "probe handshake refused");
                    return;
                }
            };
            // Dropping an unfinished handshake abandons it.
            let conn = match tokio::time::timeout(limits.handshake_timeout, connecting).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    refused("handshake");
                    tracing::info!(%remote, error = %e, "probe handshake refused");
                    return;
                }
                Err(_) => {
                    refused("handshake_timeout");
                    tracing::info!(%remote, "probe handshake not finished in time; dropped");
                    return;
                }
            };
            drop(handshake);
            let Ok(permit) = connections.try_acquire_owned() else {
                refused("limit");
                tracing::warn!(%remote, "connection limit reached; refusing a probe");
                conn.close(quinn::VarInt::from_u32(close::BUSY), b"connection limit reached");
                return;
            };
            tokio::select! {
                r = connection(&ingest, conn.clone()) => if let Err((code, msg)) = r {
                    tracing::warn!(%remote, code, error = %msg, "closing probe connection");
                    conn.close(quinn::VarInt::from_u32(code), msg.as_bytes());
                },
                _ = shutdown.cancelled() => conn.close(quinn::VarInt::from_u32(close::SHUTDOWN), b"controller shutting down"),
            }
            drop(permit);
        });
    }
    endpoint.close(quinn::VarInt::from_u32(close::SHUTDOWN), b"controller shutting down");
}

type Closed = (u32, String);

fn wire_close(e: &WireError) -> Closed {
    match e {
        WireError::TooLarge { .. } => (close::TOO_LARGE, e.to_string()),
        WireError::Version(_) => (close::VERSION, e.to_string()),
        _ => (close::MALFORMED, e.to_string()),
    }
}

async fn read_message(recv: &mut quinn::RecvStream, max: usize) -> Result<ProbeMessage, Closed> {
    // One frame per stream: 4 length bytes + payload.
    let bytes = match recv.read_to_end(max + 4).await {
        Ok(b) => b,
        Err(quinn::ReadToEndError::TooLong) => return Err((close::TOO_LARGE, format!("message over {max} bytes"))),
        Err(e) => return Err((close::MALFORMED, format!("reading a stream: {e}"))),
    };
    wirewatch_wire::decode::<ProbeMessage>(&bytes, max).map_err(|e| wire_close(&e))
}

async fn respond(send: &mut quinn::SendStream, msg: &ControllerMessage) -> Result<(), Closed> {
    let frame = wirewatch_wire::encode(msg).map_err(|e| (close::MALFORMED, e.to_string()))?;
    send.write_all(&frame).await.map_err(|e| (close::MALFORMED, e.to_string()))?;
    let _ = send.finish();
    Ok(())
}

async fn connection(ingest: &Arc<Ingest>, conn: quinn::Connection) -> Result<(), Closed> {
    let chain = conn
        .peer_identity()
        .and_then(|i| i.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok())
        .ok_or((close::UNKNOWN_PROBE, "no client certificate".to_string()))?;
    let leaf = chain.first().ok_or((close::UNKNOWN_PROBE, "no client certificate".to_string()))?;
    let fp = crate::ca::sha256(leaf);
    let probe = match ingest.store.probe_by_cert(&fp).await {
        Ok(Some(p)) if !p.revoked => p,
        Ok(Some(p)) => {
            ingest.metrics.connections_refused.get_or_create(&Outcome { outcome: "revoked" }).inc();
            return Err((close::UNKNOWN_PROBE, format!("probe {} is revoked", p.name)));
        }
        Ok(None) => {
            ingest.metrics.connections_refused.get_or_create(&Outcome { outcome: "unknown" }).inc();
            return Err((close::UNKNOWN_PROBE, "certificate not enrolled".into()));
        }
        Err(e) => return Err((close::SHUTDOWN, format!("database unavailable: {e}"))),
    };
    let span = tracing::info_span!("probe", probe = %probe.name, site = %probe.site);
    tracing::Instrument::instrument(session(ingest, conn, probe, fp), span).await
}

async fn session(
    ingest: &Arc<Ingest>,
    conn: quinn::Connection,
    probe: wirewatch_store::probes::ProbeIdentity,
    cert: Vec<u8>,
) -> Result<(), Closed> {
    // Hello first.
    let (mut send, mut recv) = tokio::time::timeout(Duration::from_secs(15), conn.accept_bi())
        .await
        .map_err(|_| (close::MALFORMED, "no Hello within 15 s".to_string()))?
        .map_err(|e| (close::DONE, e.to_string()))?;
    let hello = match read_message(&mut recv, ingest.max_frame).await? {
        ProbeMessage::Hello(h) => h,
        other => return Err((close::MALFORMED, format!("expected Hello, got {}", kind(&other)))),
    };
    let last =
        ingest.store.hello(probe.id, &ingest.name, &hello).await.map_err(|e| (close::SHUTDOWN, e.to_string()))?;
    respond(
        &mut send,
        &ControllerMessage::Welcome(Welcome {
            controller: ingest.name.clone(),
            software_version: env!("CARGO_PKG_VERSION").to_string(),
            probe: probe.name.clone(),
            site: probe.site.clone(),
            last_committed_seq: last,
        }),
    )
    .await?;
    tracing::info!(version = %hello.software_version, spool = ?hello.spool, "probe connected");
    let label = ProbeLabel { probe: probe.name.clone() };
    ingest.metrics.spool_pending_batches.get_or_create(&label).set(hello.spool.pending_batches as i64);
    ingest.metrics.spool_dropped_batches.get_or_create(&label).set(hello.spool.dropped_batches as i64);
    let me = Connected { conn: conn.clone(), stable_id: conn.stable_id(), cert: cert.clone() };
    if let Some(old) = ingest.connected.lock().await.insert(probe.name.clone(), me) {
        old.conn.close(quinn::VarInt::from_u32(close::REPLACED), b"replaced by a newer connection");
    }
    ingest.metrics.probes_connected.inc();
    let result = batches(ingest, &conn, probe.id, &cert, &label).await;
    ingest.metrics.probes_connected.dec();
    let mut c = ingest.connected.lock().await;
    if c.get(&probe.name).is_some_and(|x| x.stable_id == conn.stable_id()) {
        c.remove(&probe.name);
    }
    result
}

fn kind(m: &ProbeMessage) -> &'static str {
    match m {
        ProbeMessage::Hello(_) => "Hello",
        ProbeMessage::Batch(_) => "Batch",
        ProbeMessage::Reply(_) => "Reply",
    }
}

async fn batches(
    ingest: &Arc<Ingest>,
    conn: &quinn::Connection,
    probe_id: i64,
    cert: &[u8],
    label: &ProbeLabel,
) -> Result<(), Closed> {
    loop {
        let (mut send, mut recv) = match conn.accept_bi().await {
            Ok(s) => s,
            // The probe closed (done, or gone): not an error of ours.
            Err(_) => return Ok(()),
        };
        let batch = match read_message(&mut recv, ingest.max_frame).await? {
            ProbeMessage::Batch(b) => b,
            other => return Err((close::MALFORMED, format!("expected Batch, got {}", kind(&other)))),
        };
        let seq = batch.seq;
        let spool = batch.spool;
        let end_ns = batch.interval_end_ns;
        let (tx, rx) = oneshot::channel();
        if ingest.queue.send(WriteJob { probe_id, cert: cert.to_vec(), batch, reply: tx }).await.is_err() {
            return Err((close::SHUTDOWN, "controller shutting down".into()));
        }
        let answer = match rx.await {
            Ok(Written::Revoked) => {
                ingest.metrics.batches.get_or_create(&Outcome { outcome: "revoked" }).inc();
                ingest.metrics.connections_closed.get_or_create(&Outcome { outcome: "revoked" }).inc();
                return Err((close::REVOKED, "probe revoked".into()));
            }
            Ok(Written::Stored(Ok(Committed::New { host_rows, .. }))) => {
                ingest.metrics.batches.get_or_create(&Outcome { outcome: "committed" }).inc();
                ingest.metrics.host_rows.inc_by(host_rows as u64);
                let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9;
                ingest.metrics.probe_lag_seconds.get_or_create(label).set(now - end_ns as f64 / 1e9);
                ingest.metrics.spool_pending_batches.get_or_create(label).set(spool.pending_batches as i64);
                ingest.metrics.spool_dropped_batches.get_or_create(label).set(spool.dropped_batches as i64);
                ControllerMessage::Ack(Ack { seq, duplicate: false })
            }
            Ok(Written::Stored(Ok(Committed::Duplicate))) => {
                ingest.metrics.batches.get_or_create(&Outcome { outcome: "duplicate" }).inc();
                tracing::info!(seq, "batch already committed; acknowledged again");
                ControllerMessage::Ack(Ack { seq, duplicate: true })
            }
            // Only a batch that breaks the store's rules is refused for good; any other failure
            // (database down, or a fault of ours) keeps it in the probe's spool for a retry.
            Ok(Written::Stored(Err(e @ wirewatch_store::StoreError::Invalid(_)))) => {
                ingest.metrics.batches.get_or_create(&Outcome { outcome: "rejected" }).inc();
                tracing::error!(seq, error = %e, "batch refused");
                ControllerMessage::Reject(Reject { seq, retry: false, message: e.to_string() })
            }
            Ok(Written::Stored(Err(e))) => {
                ingest.metrics.batches.get_or_create(&Outcome { outcome: "retry" }).inc();
                if e.is_transient() {
                    tracing::warn!(seq, error = %e, "batch not stored (database unavailable); probe will retry");
                } else {
                    tracing::error!(seq, error = %e, "batch not stored; probe will retry");
                }
                ControllerMessage::Reject(Reject { seq, retry: true, message: e.to_string() })
            }
            Err(_) => return Err((close::SHUTDOWN, "writer gone".into())),
        };
        respond(&mut send, &answer).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_per_ipv4_address_and_per_ipv6_64() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        assert_eq!(address_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(address_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("2001:db8:1:2:ffff::9")), address_key(ip("2001:db8:1:2::1")));
        assert_ne!(address_key(ip("2001:db8:1:3::1")), address_key(ip("2001:db8:1:2::1")));
        let table = Arc::new(PerAddress::default());
        let a: Vec<_> = (0..3).filter_map(|_| PerAddress::take(&table, ip("2001:db8::1"), 2)).collect();
        assert_eq!(a.len(), 2, "two slots per /64");
        assert!(PerAddress::take(&table, ip("2001:db8::2"), 2).is_none(), "same /64");
        assert!(PerAddress::take(&table, ip("192.0.2.1"), 2).is_some(), "another address");
        drop(a);
        assert!(PerAddress::take(&table, ip("2001:db8::2"), 2).is_some(), "slots come back");
        assert!(table.counts.lock().expect("lock").is_empty(), "no entry left behind");
    }
}
