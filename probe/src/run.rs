//! `wirewatch-probe run`: capture (live, or replaying files) with an uplink to controllers.
//! [`run`] is the whole probe as a library call (the binary's `run` command and the
//! controller's `demo` call it): it opens the identity and the spool, starts the uplink and
//! captures until the replay is delivered or a stop is requested. The capture side cuts a batch
//! at the end of every interval and puts it in the spool; the uplink task (tokio, on its own
//! runtime thread) delivers the spool. A replay paces itself to the capture's timing
//! (`--replay-speed N`) or runs flat out (`max`), and numbers its batches so that a restarted
//! probe resumes the same run without sending anything twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use wirewatch_wire::{Batch, InterfaceInfo, SpoolStatus};

use crate::capture::file::ReadError;
use crate::capture::live::{self, LiveOptions};
use crate::delta::split_batch;
use crate::engine::{Engine, Hooks, NoProgress};
use crate::interface::{Interface, Limits};
use crate::spool::{Bounds, Spool, SpoolError};
use crate::uplink::{self, Identity, Query, Shared, UplinkError, UplinkOptions, serve_queries};

/// Replay pacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as possible.
    Max,
    /// Capture time divided by this factor (1.0: real time).
    Factor(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Speed, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
            _ => Err(format!("{s:?}: expected a positive number or \"max\"")),
        }
    }
}

/// Identity of a replay run: the files (path, size, modification time) and the interval.
pub fn run_key(files: &[PathBuf], interval: Duration) -> String {
    let mut parts = Vec::new();
    for f in files {
        let p = f.canonicalize().unwrap_or_else(|_| f.clone());
        let (size, mtime) = std::fs::metadata(f)
            .map(|m| {
                let t = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                (m.len(), t.map(|d| d.as_nanos()).unwrap_or(0))
            })
            .unwrap_or((0, 0));
        parts.push(format!("{}:{size}:{mtime}", p.display()));
    }
    format!("interval={}ns;{}", interval.as_nanos(), parts.join(";"))
}

fn batch_of(interfaces: &mut [Interface], start: u64, end: u64) -> Batch {
    Batch {
        seq: 0,
        interval_start_ns: start,
        interval_end_ns: end,
        spool: SpoolStatus::default(),
        interfaces: interfaces.iter_mut().map(|i| i.take_delta()).collect(),
    }
}

fn publish_interfaces(shared: &Shared, interfaces: &[Interface], live: bool) {
    if let Ok(mut v) = shared.interfaces.lock() {
        for i in interfaces {
            if !v.iter().any(|x| x.name == i.name) {
                v.push(InterfaceInfo { name: i.name.clone(), link_type: i.link.name(), live });
            }
        }
    }
}

/// Spools an interval's deltas as numbered live batches (split at the batch bound), then
/// expires what the spool's bounds drop (the live capture's and the loop's interval end).
fn spool_interval(shared: &Shared, interfaces: &mut [Interface], start: u64, end: u64) {
    for mut b in split_batch(batch_of(interfaces, start, end), shared.max_batch_bytes) {
        if let Err(e) = shared.put_live_batch(&mut b) {
            tracing::error!(error = %e, "spool write failed; this interval is lost");
        }
    }
    if let Ok(mut s) = shared.spool.lock()
        && let Err(e) = s.expire()
    {
        tracing::warn!(error = %e, "spool expiry failed");
    }
}

/// `gap_ns` of capture time at replay speed `f`, in ns of wall time (saturating: a gap of
/// centuries at a tiny speed is simply never reached).
fn scaled(gap_ns: u64, f: f64) -> u64 {
    if f == 1.0 { gap_ns } else { (gap_ns as f64 / f) as u64 }
}

/// Sleeps until `due` (`None`: for ever), in slices so that queries are answered and a stop
/// request ends the wait.
fn pace(due: Option<Instant>, stop: &AtomicBool, inbox: &Receiver<Query>, interfaces: &mut [Interface]) {
    loop {
        serve_queries(inbox, interfaces);
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) || due.is_some_and(|d| d <= now + Duration::from_millis(1)) {
            return;
        }
        let left = due.map(|d| d - now).unwrap_or(Duration::MAX);
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// Hooks of a replay: pace, cut numbered batches into the spool, answer queries.
struct ReplayHooks {
    shared: Arc<Shared>,
    interval_ns: u64,
    speed: Speed,
    /// Index of the next batch of the run, and how many the spool already holds.
    index: u64,
    produced: u64,
    pace_origin: Option<(u64, Instant)>,
    inbox: Receiver<Query>,
    error: Option<SpoolError>,
}

impl Hooks for ReplayHooks {
    fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    fn before_frame(&mut self, interfaces: &mut [Interface], ts: u64) -> u64 {
        let Speed::Factor(f) = self.speed else { return ts };
        if self.index < self.produced {
            return ts; // fast-forward through what a previous run already spooled
        }
        let (t0, w0) = *self.pace_origin.get_or_insert((ts, Instant::now()));
        let due = w0.checked_add(Duration::from_nanos(scaled(ts.saturating_sub(t0), f)));
        pace(due, &self.shared.stop, &self.inbox, interfaces);
        ts
    }

    fn interval_end(&mut self, interfaces: &mut [Interface], start: u64, end: u64, last: bool) {
        publish_interfaces(&self.shared, interfaces, false);
        // An interval over the batch bound becomes several batches, each numbered in the run
        // (the split is deterministic, so a resumed run numbers them the same way).
        let parts = split_batch(batch_of(interfaces, start, end), self.shared.max_batch_bytes);
        let n = parts.len();
        if n > 1 {
            tracing::info!(parts = n, "interval split into several batches");
        }
        for (k, mut b) in parts.into_iter().enumerate() {
            let index = self.index;
            self.index += 1;
            if index < self.produced || self.error.is_some() {
                continue;
            }
            match self.shared.put_run_batch(index, &mut b, last && k + 1 == n) {
                Ok(true) => {}
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "spool write failed; stopping the replay");
                    self.error = Some(e);
                    self.shared.stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    fn poll(&mut self, interfaces: &mut [Interface]) {
        serve_queries(&self.inbox, interfaces);
    }

    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }
}

/// Outcome of a replay.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// Files that could not be read to the end (everything before the damage was sent).
    pub read_errors: Vec<crate::capture::file::ReadError>,
    /// The replay was interrupted before its last batch was spooled.
    pub interrupted: bool,
}

/// Replays `files` into the spool, numbered as one run. Returns once the last batch is
/// spooled (delivery is the uplink's job) or a stop is requested.
pub fn replay(
    files: &[PathBuf],
    limits: Limits,
    interval: Duration,
    speed: Speed,
    shared: Arc<Shared>,
) -> Result<ReplayOutcome, SpoolError> {
    let key = run_key(files, interval);
    let inbox = shared.query_inbox();
    {
        let mut s = shared.spool.lock().unwrap_or_else(|p| p.into_inner());
        if s.run_complete(&key) && !s.is_empty() {
            tracing::info!("this replay was fully read before; delivering what is left in the spool");
            drop(s);
            shared.producer_done.store(true, Ordering::Release);
            shared.new_batch.notify_one();
            return Ok(ReplayOutcome { read_errors: vec![], interrupted: false });
        }
        let run = s.begin_run(&key)?;
        if run.produced > 0 {
            tracing::info!(batches = run.produced, "resuming a replay: skipping batches already spooled");
        }
        drop(s);
        let mut hooks = ReplayHooks {
            shared: shared.clone(),
            interval_ns: interval.as_nanos().max(1) as u64,
            speed,
            index: 0,
            produced: run.produced,
            pace_origin: None,
            inbox,
            error: None,
        };
        let mut engine = Engine::new(limits);
        engine.track_changes();
        let read_errors = engine.read_files_with(files, &mut NoProgress, &mut hooks);
        let over = engine.over_cap;
        if over.interfaces > 0 {
            tracing::error!(
                cap = engine.limits.max_interfaces,
                interfaces = over.interfaces,
                frames = over.frames,
                bytes = over.bytes,
                "interface cap reached: frames of these interfaces were not counted"
            );
        }
        let interrupted = hooks.stopped();
        if let Some(e) = hooks.error.take() {
            return Err(e);
        }
        if !interrupted {
            shared.producer_done.store(true, Ordering::Release);
            shared.new_batch.notify_one();
        }
        // Keep answering live queries from the final tables until the uplink is done.
        let inbox = hooks.inbox;
        let mut interfaces = std::mem::take(&mut engine.interfaces);
        while !shared.stop.load(Ordering::Relaxed) && !delivered(&shared) {
            if let Ok((cmd, reply)) = inbox.recv_timeout(Duration::from_millis(100)) {
                let _ = reply.send(crate::uplink::answer(&cmd, &mut interfaces));
            }
        }
        // The engine's tables can be large: the process is about to exit.
        std::mem::forget(interfaces);
        Ok(ReplayOutcome { read_errors, interrupted })
    }
}

fn delivered(shared: &Shared) -> bool {
    shared.producer_done.load(Ordering::Acquire) && shared.spool.lock().map(|s| s.is_empty()).unwrap_or(false)
}

/// A pass of a looping replay starts at least this long after the previous one started: a
/// capture spanning less (one packet, every packet at the same time) is not replayed flat out.
pub const MIN_PASS: Duration = Duration::from_secs(1);

/// The pass of a looping replay in progress.
struct PassOrigin {
    /// The first packet's own time, and the latest packet time read so far (a packet older than
    /// one before it is counted at that one's time: the pass's times never go back).
    t0: u64,
    hi: u64,
    /// Where the first packet was moved to (ns since the epoch), and when (wall clock).
    to: u64,
    at: Instant,
}

/// Hooks of a looping replay: each pass over the files is moved to now (its first packet at
/// the wall clock as the pass starts, never before the previous pass's last packet; the gaps
/// kept, divided by the speed), paced to match, and cut into batches numbered as a live
/// capture numbers them (see [`replay_loop`]).
struct LoopHooks {
    shared: Arc<Shared>,
    interval_ns: u64,
    factor: f64,
    inbox: Receiver<Query>,
    pass: Option<PassOrigin>,
    /// The latest packet time given out.
    last_ts: u64,
    /// Passes read to their end, and the interfaces' (frames, bytes) when the pass in
    /// progress started.
    passes: u64,
    pass_base: (u64, u64),
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn totals(interfaces: &[Interface]) -> (u64, u64) {
    interfaces.iter().fold((0, 0), |(f, b), i| (f + i.stats.packets, b + i.stats.bytes))
}

impl Hooks for LoopHooks {
    fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    fn before_frame(&mut self, interfaces: &mut [Interface], ts: u64) -> u64 {
        let last = self.last_ts;
        let o = self.pass.get_or_insert_with(|| PassOrigin {
            t0: ts,
            hi: ts,
            to: now_ns().max(last.saturating_add(1)),
            at: Instant::now(),
        });
        o.hi = o.hi.max(ts);
        let offset = scaled(o.hi - o.t0, self.factor);
        let moved = o.to.saturating_add(offset);
        let due = o.at.checked_add(Duration::from_nanos(offset));
        pace(due, &self.shared.stop, &self.inbox, interfaces);
        if !self.stopped() {
            self.last_ts = self.last_ts.max(moved); // not counted once stopped
        }
        moved
    }

    fn interval_end(&mut self, interfaces: &mut [Interface], start: u64, end: u64, last: bool) {
        if end == 0 {
            return; // not a packet was read
        }
        // The loop's last interval ends with its last packet, not in the future: a restarted
        // loop starts there (see `replay_loop`), so no interval overlaps another.
        let end = if last { end.min(self.last_ts.saturating_add(1)).max(start.saturating_add(1)) } else { end };
        publish_interfaces(&self.shared, interfaces, false);
        spool_interval(&self.shared, interfaces, start, end);
    }

    fn poll(&mut self, interfaces: &mut [Interface]) {
        serve_queries(&self.inbox, interfaces);
    }

    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    fn pass_end(&mut self, interfaces: &mut [Interface], pass: u64, frames: u64, errors: &[ReadError]) -> bool {
        for e in errors {
            if pass == 0 {
                tracing::error!(error = %e, "looping replay: a file could not be read to its end; looping over what it holds");
            } else {
                tracing::debug!(error = %e, pass = pass + 1, "looping replay: read error again");
            }
        }
        if frames == 0 {
            tracing::error!(pass = pass + 1, "looping replay: a pass read no packet; the loop ends");
            return false;
        }
        self.passes = pass + 1;
        self.pass_base = totals(interfaces);
        tracing::info!(pass = pass + 1, frames, "looping replay: pass read; the next starts now");
        let started = self.pass.take().map(|o| o.at).unwrap_or_else(Instant::now);
        pace(started.checked_add(MIN_PASS), &self.shared.stop, &self.inbox, interfaces);
        !self.stopped()
    }

    fn cut_at_stop(&self) -> bool {
        true
    }
}

/// How a looping replay ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoopOutcome {
    /// Passes read to their end.
    pub passes: u64,
    /// Frames and bytes counted of the pass in progress when the loop stopped.
    pub partial_frames: u64,
    pub partial_bytes: u64,
}

/// Replays `files` again and again, each pass moved to now (see [`LoopHooks`]) at speed
/// `factor`, until a stop is requested or a pass reads no packet (an empty capture, a file
/// gone). The interval in progress at the stop is spooled too.
///
/// Its batches are numbered like a live capture's (the spool's next number, saved with each
/// batch), not `base + index` like a replay's: a replay's numbers let a restarted probe
/// produce the *same* batches again so that the controller drops the copies, but a looping
/// pass moved to now is new traffic every time; a restarted looping probe starts a new pass at
/// now, numbered after everything its spool ever held (and after the controller's last
/// committed number, see the uplink's Welcome), so no number is used twice. Its spool is
/// bounded like a live probe's: it never ends, so it cannot wait for room.
pub fn replay_loop(
    files: &[PathBuf],
    limits: Limits,
    interval: Duration,
    factor: f64,
    shared: Arc<Shared>,
) -> (LoopOutcome, Vec<ReadError>) {
    // A restarted loop goes on after what its spool last took (a stop's interval ends with its
    // last packet), never inside an interval it already sent.
    let after =
        shared.spool.lock().map(|s| s.last_interval_end()).unwrap_or_else(|p| p.into_inner().last_interval_end());
    let mut hooks = LoopHooks {
        shared: shared.clone(),
        interval_ns: interval.as_nanos().max(1) as u64,
        factor,
        inbox: shared.query_inbox(),
        pass: None,
        last_ts: after.saturating_sub(1),
        passes: 0,
        pass_base: (0, 0),
    };
    let mut engine = Engine::new(limits);
    engine.track_changes();
    engine.start_intervals_at(after);
    let read_errors = engine.read_files_with(files, &mut NoProgress, &mut hooks);
    let (frames, bytes) = totals(&engine.interfaces);
    let outcome = LoopOutcome {
        passes: hooks.passes,
        partial_frames: frames - hooks.pass_base.0,
        partial_bytes: bytes - hooks.pass_base.1,
    };
    tracing::info!(?outcome, "looping replay ended");
    std::mem::forget(engine);
    (outcome, read_errors)
}

/// Hooks of a live capture thread: cut a batch every interval of wall-clock time.
struct LiveHooks {
    shared: Arc<Shared>,
    interval_ns: u64,
    inbox: Receiver<Query>,
}

impl Hooks for LiveHooks {
    fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    fn interval_end(&mut self, interfaces: &mut [Interface], start: u64, end: u64, _last: bool) {
        publish_interfaces(&self.shared, interfaces, true);
        spool_interval(&self.shared, interfaces, start, end);
    }

    fn poll(&mut self, interfaces: &mut [Interface]) {
        serve_queries(&self.inbox, interfaces);
    }
}

/// Captures live with an uplink until `shared.stop` is set; the last partial interval is
/// spooled at the stop.
pub fn live(
    opts: &LiveOptions,
    limits: Limits,
    interval: Duration,
    shared: Arc<Shared>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), live::LiveError> {
    let sh = shared.clone();
    let every = interval.as_nanos().max(1) as u64;
    let factory: live::HooksFactory = Arc::new(move |_name: &str| {
        Box::new(LiveHooks { shared: sh.clone(), interval_ns: every, inbox: sh.query_inbox() }) as Box<dyn Hooks + Send>
    });
    let engine = live::run_with(
        opts,
        limits,
        stop,
        |opened| {
            for (name, link) in opened {
                eprintln!("listening on {name} ({link})");
            }
        },
        Some(factory),
    )?;
    shared.producer_done.store(true, Ordering::Release);
    shared.new_batch.notify_one();
    std::mem::forget(engine);
    Ok(())
}

/// What a probe captures.
#[derive(Debug, Clone)]
pub enum Source {
    /// Replay capture files as one run, paced at `speed`; with `looping`, again and again,
    /// each pass moved to now, until stopped ([`replay_loop`]).
    Replay { files: Vec<PathBuf>, speed: Speed, looping: bool },
    /// Capture live from these interfaces until stopped.
    Live(LiveOptions),
}

/// Everything [`run`] needs, resolved (the binary merges its flags over the configuration
/// file, [`crate::config::ProbeConfig`]).
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Controllers as HOST:PORT; the uplink fails over in order.
    pub controllers: Vec<String>,
    /// Directory with probe.crt, probe.key and ca.crt.
    pub identity: PathBuf,
    pub spool_dir: PathBuf,
    pub spool_bounds: Bounds,
    /// Each batch's encoded size stays under this (at least 4096).
    pub max_batch_bytes: usize,
    /// Batch interval (packet time when replaying, wall-clock time live); at least 1 s.
    pub interval: Duration,
    pub limits: Limits,
    pub source: Source,
}

/// How a [`run`] ended.
#[derive(Debug)]
pub struct RunOutcome {
    /// Files that could not be read to the end (everything before the damage was sent); each
    /// was printed to stderr when the replay finished reading.
    pub read_errors: Vec<crate::capture::file::ReadError>,
    /// The spool is empty: every batch was acknowledged.
    pub delivered: bool,
    /// A replay stopped (stop requested, or the spool failed) before every batch was
    /// acknowledged; the spool keeps the rest for the next start. Never set by a live capture,
    /// which ends only when stopped.
    pub incomplete: bool,
    /// A looping replay: how far it came.
    pub looped: Option<LoopOutcome>,
}

/// Why a [`run`] could not start or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Uplink(#[from] UplinkError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Live(#[from] live::LiveError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("uplink task: {0}")]
    Task(String),
}

/// The probe: opens the identity and the spool, starts the uplink (a tokio runtime of its
/// own, so call it from a plain thread or `spawn_blocking`), and captures. A replay returns
/// once every batch is acknowledged, or when `stop` is set (the spool keeps the rest); a live
/// capture runs until `stop` is set, then delivers what the last interval left for up to 5 s.
/// `stop` is set, too, when the probe stops on its own (a spool that cannot be written).
pub fn run(config: RunConfig, stop: Arc<AtomicBool>) -> Result<RunOutcome, RunError> {
    if config.controllers.is_empty() {
        return Err(RunError::Invalid("no controller: give --controller HOST:PORT"));
    }
    if let Source::Replay { looping: true, speed: Speed::Max, .. } = config.source {
        return Err(RunError::Invalid("--loop needs a replay speed (a number such as 1), not max"));
    }
    let identity = Identity::load(&config.identity)?;
    let spool = Spool::open(&config.spool_dir, config.spool_bounds)?;
    if config.max_batch_bytes < 4096 {
        return Err(RunError::Invalid("max_batch_bytes must be at least 4096"));
    }
    let shared = Shared::with_max_batch(spool, config.max_batch_bytes);
    let interval = config.interval.max(Duration::from_secs(1));
    // The caller's stop and the probe's own (`shared.stop`) are one: either ends the run.
    let finished = Arc::new(AtomicBool::new(false));
    {
        let (stop, shared, finished) = (stop.clone(), shared.clone(), finished.clone());
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) && !shared.stop.load(Ordering::Relaxed) {
                if finished.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            shared.stop.store(true, Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
        })?;
    }
    let result = deliver(config.controllers, config.limits, config.source, &identity, interval, &shared, stop);
    finished.store(true, Ordering::Relaxed);
    result
}

/// How long a stopped looping replay goes on delivering what its spool holds.
pub const FINAL_DELIVERY: Duration = Duration::from_secs(5);

/// [`run`] once the spool is open: the uplink on its runtime, the capture on this thread.
fn deliver(
    controllers: Vec<String>,
    limits: Limits,
    source: Source,
    identity: &Identity,
    interval: Duration,
    shared: &Arc<Shared>,
    stop: Arc<AtomicBool>,
) -> Result<RunOutcome, RunError> {
    let client = uplink::client_config(identity)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let up = rt.spawn(uplink::run(UplinkOptions::new(controllers.clone()), client.clone(), shared.clone()));
    let spool_empty = || shared.spool.lock().map(|s| s.is_empty()).unwrap_or(false);
    let outcome = match source {
        Source::Replay { files, speed: Speed::Factor(factor), looping: true } => {
            let (looped, read_errors) = replay_loop(&files, limits, interval, factor, shared.clone());
            for e in &read_errors {
                eprintln!("error: {e}");
            }
            // Nothing more will be spooled: deliver what is left, within FINAL_DELIVERY once
            // stopped (the uplink ends at the stop request; it is started again for this).
            shared.producer_done.store(true, Ordering::Release);
            shared.new_batch.notify_one();
            let stopped = shared.stop.load(Ordering::Relaxed);
            rt.block_on(up).map_err(|e| RunError::Task(e.to_string()))??;
            if stopped && !spool_empty() {
                shared.stop.store(false, Ordering::Relaxed);
                let last = rt.spawn(uplink::run(UplinkOptions::new(controllers), client, shared.clone()));
                let _ = rt.block_on(async { tokio::time::timeout(FINAL_DELIVERY, last).await });
                shared.stop.store(true, Ordering::Relaxed);
            }
            let delivered = spool_empty();
            RunOutcome { read_errors, delivered, incomplete: !delivered, looped: Some(looped) }
        }
        Source::Replay { looping: true, .. } => {
            return Err(RunError::Invalid("--loop needs a replay speed (a number such as 1), not max"));
        }
        Source::Replay { files, speed, looping: false } => {
            let outcome = replay(&files, limits, interval, speed, shared.clone())?;
            // Told at once (delivery may take long), as `listening on` is for live capture.
            for e in &outcome.read_errors {
                eprintln!("error: {e}");
            }
            rt.block_on(up).map_err(|e| RunError::Task(e.to_string()))??;
            let delivered = spool_empty();
            let incomplete = outcome.interrupted || shared.stop.load(Ordering::Relaxed) && !delivered;
            RunOutcome { read_errors: outcome.read_errors, delivered, incomplete, looped: None }
        }
        Source::Live(opts) => {
            if opts.interfaces.is_empty() {
                return Err(RunError::Invalid("nothing to capture: give --read FILE or -i INTERFACE"));
            }
            live(&opts, limits, interval, shared.clone(), stop)?;
            // Deliver what the last interval left, briefly, then leave the rest in the spool.
            let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), up).await });
            RunOutcome { read_errors: Vec::new(), delivered: spool_empty(), incomplete: false, looped: None }
        }
    };
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(outcome)
}
