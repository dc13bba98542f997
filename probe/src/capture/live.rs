//! Live capture through libpcap: one dedicated OS thread per interface (libpcap reads block, so
//! they never run on an async worker), each owning that interface's tables outright — no lock,
//! no channel on the per-packet path. A shared stop flag ends all of them; a read timeout of
//! 100 ms bounds how long a quiet interface takes to notice it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

use crate::capture::LinkType;
use crate::engine::{Engine, Hooks};
use crate::interface::{Interface, Limits, Prepared};

/// The kernel ring every interface gets unless told otherwise: 64 MiB. libpcap's own default
/// (2 MiB) holds only 32 frames on an interface with segmentation offload, where the ring's
/// frames are 64 KiB each, so a reader descheduled for a moment on a busy machine drops the
/// 33rd packet of a burst (found by the live test: a paused probe lost 8 of 40 pings).
pub const DEFAULT_BUFFER_SIZE: i32 = 64 << 20;

/// How to open the interfaces.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interfaces: Vec<String>,
    pub snaplen: i32,
    pub promiscuous: bool,
    pub immediate: bool,
    /// Kernel ring size in bytes ([`DEFAULT_BUFFER_SIZE`] when `None`).
    pub buffer_size: Option<i32>,
    /// BPF filter expression (tcpdump syntax).
    pub filter: Option<String>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            interfaces: Vec::new(),
            snaplen: 262_144,
            promiscuous: true,
            immediate: true,
            buffer_size: None,
            filter: None,
        }
    }
}

/// Why a live capture could not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("interface {iface}: cannot open: {source}")]
    Open { iface: String, source: pcap::Error },
    #[error("interface {iface}: bad filter {filter:?}: {source}")]
    Filter { iface: String, filter: String, source: pcap::Error },
    #[error("interface {iface}: capture failed: {source}")]
    Read { iface: String, source: pcap::Error },
    #[error("no interface given")]
    NoInterface,
    #[error("capture thread for {0} panicked")]
    Panicked(String),
}

fn open(name: &str, o: &LiveOptions) -> Result<pcap::Capture<pcap::Active>, LiveError> {
    let open_err = |source| LiveError::Open { iface: name.to_string(), source };
    let mut c = pcap::Capture::from_device(name)
        .map_err(open_err)?
        .promisc(o.promiscuous)
        .snaplen(o.snaplen)
        .immediate_mode(o.immediate)
        .precision(pcap::Precision::Nano)
        .timeout(100);
    c = c.buffer_size(o.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE));
    let mut cap = c.open().map_err(open_err)?;
    if let Some(f) = &o.filter {
        cap.filter(f, true).map_err(|source| LiveError::Filter {
            iface: name.to_string(),
            filter: f.clone(),
            source,
        })?;
    }
    Ok(cap)
}

/// Reads what is left in a non-blocking capture's ring. A pending `pcap_breakloop` makes one
/// read return early, so that is tolerated once; the packet bound keeps a flooded interface from
/// holding shutdown up forever.
fn drain(cap: &mut pcap::Capture<pcap::Active>, iface: &mut Interface, dec: &mut Prepared) {
    const MAX_DRAIN: usize = 1 << 20;
    let mut breaks = 0;
    for _ in 0..MAX_DRAIN {
        match cap.next_packet() {
            Ok(p) => {
                let ts = p.header.ts.tv_sec as u64 * 1_000_000_000 + p.header.ts.tv_usec as u64;
                iface.process(ts, u64::from(p.header.len), p.data, dec);
            }
            Err(pcap::Error::NoMorePackets) if breaks == 0 => breaks += 1,
            Err(_) => return,
        }
    }
}

/// Makes the hooks of one interface's capture thread (an uplinked probe cuts batches there).
pub type HooksFactory = Arc<dyn Fn(&str) -> Box<dyn Hooks + Send> + Send + Sync>;

fn wall_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Captures on every interface until `stop` is set, then returns the tables.
/// `ready` is called once every interface is open (tests and scripts wait for it).
pub fn run(
    opts: &LiveOptions,
    limits: Limits,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(&[(String, LinkType)]),
) -> Result<Engine, LiveError> {
    run_with(opts, limits, stop, ready, None)
}

/// [`run`] with per-interface hooks: every `interval_ns` of wall-clock time each capture
/// thread hands its interface's changes to `interval_end`, and it serves `poll` at least every
/// read timeout.
pub fn run_with(
    opts: &LiveOptions,
    limits: Limits,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(&[(String, LinkType)]),
    hooks: Option<HooksFactory>,
) -> Result<Engine, LiveError> {
    if opts.interfaces.is_empty() {
        return Err(LiveError::NoInterface);
    }
    // Each thread reports once: opened (name, link type) or failed (the error comes back
    // through `join`). Unbounded is fine: exactly one message per interface.
    let (tx, rx) = mpsc::channel::<Option<(String, LinkType, pcap::BreakLoop)>>();
    let mut handles = Vec::new();
    for name in &opts.interfaces {
        let (name, o, limits, stop, tx) = (name.clone(), opts.clone(), limits.clone(), stop.clone(), tx.clone());
        let factory = hooks.clone();
        let h = thread::Builder::new()
            .name(format!("pcap-{name}"))
            .spawn(move || -> Result<Interface, LiveError> {
                let mut cap = match open(&name, &o) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(None);
                        return Err(e);
                    }
                };
                let link = LinkType(cap.get_datalink().0 as u16);
                let _ = tx.send(Some((name.clone(), link, cap.breakloop_handle())));
                drop(tx);
                let mut iface = Interface::new(name.clone(), link, limits);
                let mut dec = Prepared::default();
                let mut result = Ok(());
                let mut hooks = factory.map(|f| f(&name));
                let every = hooks.as_ref().map(|h| h.interval_ns()).unwrap_or(0);
                if every > 0 {
                    iface.track_changes();
                }
                let now = wall_ns();
                let mut interval = (now - now % every.max(1), now - now % every.max(1) + every);
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    match cap.next_packet() {
                        Ok(p) => {
                            let ts = p.header.ts.tv_sec as u64 * 1_000_000_000 + p.header.ts.tv_usec as u64;
                            iface.process(ts, u64::from(p.header.len), p.data, &mut dec);
                        }
                        // Timeout, or woken by pcap_breakloop (stop is then set).
                        Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => n = 0xff,
                        Err(e) => {
                            result = Err(LiveError::Read { iface: name.clone(), source: e });
                            break;
                        }
                    }
                    n += 1;
                    if let Some(h) = hooks.as_mut()
                        && n >= 0x100
                    {
                        n = 0;
                        h.poll(std::slice::from_mut(&mut iface));
                        let now = wall_ns();
                        if every > 0 && now >= interval.1 {
                            if let Ok(s) = cap.stats() {
                                iface.set_drops(u64::from(s.dropped), u64::from(s.if_dropped));
                            }
                            h.interval_end(std::slice::from_mut(&mut iface), interval.0, interval.1, false);
                            interval = (now - now % every, now - now % every + every);
                        }
                    }
                }
                // Stopping must not lose what the kernel already queued: the ring may still
                // hold packets when stop is seen (a busy machine schedules this thread late).
                // Drain it without blocking, up to what a ring can hold.
                if result.is_ok() {
                    match cap.setnonblock() {
                        Ok(c) => {
                            cap = c;
                            drain(&mut cap, &mut iface, &mut dec);
                        }
                        Err(e) => {
                            tracing::warn!(iface = %name, error = %e, "cannot drain the capture ring at stop");
                            iface.finish();
                            return Ok(iface);
                        }
                    }
                }
                if let Ok(s) = cap.stats() {
                    iface.set_drops(u64::from(s.dropped), u64::from(s.if_dropped));
                }
                iface.finish();
                if let Some(h) = hooks.as_mut()
                    && every > 0
                {
                    h.interval_end(std::slice::from_mut(&mut iface), interval.0, wall_ns().max(interval.0), true);
                }
                result.map(|_| iface)
            })
            .map_err(|e| LiveError::Open {
                iface: opts.interfaces[0].clone(),
                source: pcap::Error::IoError(e.kind()),
            })?;
        // (Thread creation only fails when the OS is out of resources.)
        handles.push(h);
    }
    drop(tx);
    let mut opened = Vec::new();
    let mut breakers = Vec::new();
    let mut failed = false;
    for r in rx.iter() {
        match r {
            Some((name, link, b)) => {
                opened.push((name, link));
                breakers.push(b);
            }
            None => failed = true,
        }
    }
    if failed {
        stop.store(true, Ordering::Relaxed);
    } else {
        ready(&opened);
    }
    // libpcap may block in poll() with no timeout on a quiet interface (TPACKET_V3), so the
    // read timeout alone cannot be relied on: once stop is set, wake every reader.
    while !stop.load(Ordering::Relaxed) {
        thread::sleep(std::time::Duration::from_millis(50));
    }
    for b in &breakers {
        b.breakloop();
    }
    let mut first_err = None;
    let mut engine = Engine::new(limits);
    for (h, name) in handles.into_iter().zip(&opts.interfaces) {
        match h.join() {
            Ok(Ok(i)) => engine.interfaces.push(i),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(_) => {
                first_err.get_or_insert(LiveError::Panicked(name.clone()));
            }
        }
    }
    match first_err {
        Some(e) if engine.interfaces.is_empty() => Err(e),
        Some(e) => {
            tracing::warn!(error = %e, "an interface failed; reporting the others");
            Ok(engine)
        }
        None => Ok(engine),
    }
}
