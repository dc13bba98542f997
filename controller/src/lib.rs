//! wirewatch controller: receives probes' interval deltas over QUIC (mutual TLS), stores them
//! in PostgreSQL exactly once, runs the periodic jobs (rollups, retention) under a lease shared
//! with the other controllers of the database, and exports Prometheus metrics.
//!
//! [`start`] is the whole server as a library call (the binary is flags → config → start →
//! wait for a signal → shutdown), so tests can run it in-process as well as as a process. The
//! command line's other commands are library calls too: [`admin`] (probes, users, stored
//! totals) and [`demo`]; `/metrics` is [`metrics`]'s. Only this crate knows both the HTTP layer
//! (`wirewatch-mobile-api`) and the script engine (`wirewatch-python`): [`start`] plugs the
//! engine into the API's state.

pub mod actions;
pub mod admin;
pub mod alarms;
pub mod ca;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod ingest;
pub mod metrics;
pub mod report;
pub mod schedule;
pub mod tls;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use wirewatch_store::Store;
use wirewatch_store::embedded::Cluster;

pub use config::Config;

/// The database a controller command works on: the configured server, or the embedded
/// cluster (started if needed; stopped when this is dropped if this process started it).
pub struct Database {
    /// The jobs' and start-up work's pool (and the CLI's).
    pub store: Store,
    pub cluster: Option<Cluster>,
    /// How to reach the database (for the other pools of a server).
    pub options: wirewatch_store::ConnectOptions,
}

impl Database {
    /// Connects (starting the embedded cluster when no URL is configured) and migrates.
    pub async fn open(cfg: &Config) -> anyhow::Result<Database> {
        let (opts, cluster) = if cfg.database_url.is_empty() {
            let dir = cfg.data_dir.clone();
            let mut cluster = tokio::task::spawn_blocking(move || Cluster::start(&dir)).await??;
            let opts = cluster.database().await?;
            (opts, Some(cluster))
        } else {
            (wirewatch_store::parse_url(&cfg.database_url)?, None)
        };
        let store =
            Store::connect(opts.clone(), cfg.database.job_connections).await.context("connecting to PostgreSQL")?;
        store.migrate().await.context("applying migrations")?;
        Ok(Database { store, cluster, options: opts })
    }

    pub async fn close(mut self) {
        self.store.close().await;
        if let Some(mut c) = self.cluster.take() {
            let _ = tokio::task::spawn_blocking(move || c.stop()).await;
        }
    }
}

/// A running controller.
pub struct Running {
    pub name: String,
    pub quic_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub ingest: Arc<ingest::Ingest>,
    pub metrics: Arc<metrics::Metrics>,
    pub store: Store,
    /// The first admin's password, when this start created the account and made it up
    /// (print it once: it is stored only hashed).
    pub admin_password: Option<String>,
    /// The GeoIP database's attribution, when it asks for one (`[api] geoip_db`).
    pub geo_attribution: Option<wirewatch_model::geo::Attribution>,
    shutdown: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
    db: Option<Database>,
    /// The ingest and read pools (closed at shutdown, before the database stops).
    pools: Vec<Store>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "controller".into())
}

/// Starts a controller: database, CA, QUIC ingest, jobs, HTTP and metrics listeners.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let db = Database::open(&cfg).await?;
    let store = db.store.clone();
    // Pools of their own: ingest writers (nobody else waits on their connections), and readers
    // (API, Python pages) whose statements and idle transactions are time-limited.
    let ingest_store =
        Store::connect_lazy(db.options.clone(), cfg.database.ingest_pool(cfg.writers)).with_limits(cfg.ingest_limits());
    let reads =
        Store::connect_lazy(cfg.database.read_limits().apply(db.options.clone()), cfg.database.read_connections)
            .with_raw_window_max(cfg.database.raw_window_max());
    let ca = ca::Ca::load_or_create(&cfg.data_dir, &store).await?;
    let (chain, key) = ca.server_cert(&cfg.server_names)?;
    let revoked: tls::Revoked = Arc::new(RwLock::new(store.revoked_certs().await?.into_iter().collect::<HashSet<_>>()));
    let server = tls::server_config(ca.cert_der()?, chain, key, revoked.clone(), cfg.max_handshakes)?;
    let endpoint = quinn::Endpoint::server(server, cfg.quic_listen)
        .with_context(|| format!("listening on {} (QUIC)", cfg.quic_listen))?;
    let quic_addr = endpoint.local_addr()?;
    let name = if cfg.name.is_empty() { format!("{}:{}", hostname(), quic_addr.port()) } else { cfg.name.clone() };
    let metrics = metrics::Metrics::new();
    let ingest = ingest::Ingest::start(
        ingest_store.clone(),
        name.clone(),
        cfg.max_frame_bytes,
        cfg.writers,
        cfg.write_queue,
        metrics.clone(),
    );
    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(ingest::serve(endpoint, ingest.clone(), cfg.accept_limits(), shutdown.clone()));
    // Revocations made elsewhere (another controller, the CLI) reach the handshake check and
    // close open connections within ~2 s.
    {
        let (store, revoked, shutdown, ingest) = (store.clone(), revoked.clone(), shutdown.clone(), ingest.clone());
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = shutdown.cancelled() => break,
                }
                if let Ok(list) = store.revoked_certs().await {
                    let list: HashSet<Vec<u8>> = list.into_iter().collect();
                    // Open connections of revoked certificates are closed, not only new handshakes.
                    ingest.close_revoked(&list).await;
                    if let Ok(mut r) = revoked.write() {
                        *r = list;
                    }
                }
            }
        });
    }
    tasks.spawn(jobs(store.clone(), name.clone(), cfg.clone(), metrics.clone(), shutdown.clone()));
    let http = tokio::net::TcpListener::bind(cfg.http_listen)
        .await
        .with_context(|| format!("listening on {}", cfg.http_listen))?;
    let http_addr = http.local_addr()?;
    let admin_password = wirewatch_mobile_api::ensure_first_admin(
        &store,
        std::env::var("WIREWATCH_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()),
    )
    .await
    .context("creating the first admin")?;
    let api = wirewatch_mobile_api::ApiState::new(
        reads.clone(),
        cfg.api.clone(),
        Arc::new(LiveProbes(ingest.clone())),
        name.clone(),
    )
    .await
    .context("starting the JSON API")?;
    let mut api = api;
    let geo_attribution = api.geo.as_ref().and_then(|g| g.attribution.clone());
    let mut engine_handle: Option<wirewatch_python::Engine> = None;
    if cfg.python.enabled {
        let engine = wirewatch_python::Engine::start(
            reads.clone(),
            api.geo.clone(),
            engine_info(&cfg, &name),
            cfg.python.clone(),
        )
        .context("starting the Python engine")?;
        api.scripts = Some(Arc::new(engine.clone()));
        engine_handle = Some(engine);
    }
    if cfg.rrd.enabled {
        let root = cfg.rrd.root(&cfg.data_dir);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        // The archive reads with the jobs' pool: a long catch-up never takes a reader's or a
        // writer's connection.
        let archiver = wirewatch_rrd::Archiver::new(store.clone(), cfg.rrd.clone(), root.clone());
        let s = shutdown.clone();
        tasks.spawn(archiver.run(async move { s.cancelled().await }));
        let graphs = wirewatch_rrd::Graphs::start(root, cfg.rrd.graph_queue).context("starting the graph renderer")?;
        api.archives = Some(Arc::new(graphs));
    }
    let dispatcher = alarms::start(
        &cfg,
        &name,
        &store,
        &metrics,
        engine_handle.as_ref(),
        api.archives.clone(),
        &mut tasks,
        &shutdown,
    )?;
    api.alarms = Some(Arc::new(alarms::ApiAlarms {
        dispatcher,
        root: cfg.rrd.root(&cfg.data_dir),
        history_step: cfg.alarms.history_step(),
    }));
    let app = wirewatch_mobile_api::router(Arc::new(api));
    {
        let s = shutdown.clone();
        tasks.spawn(async move {
            // TCP_NODELAY: with Nagle on, a response written in two parts waits for the
            // client's delayed ACK (~40 ms) on a kept-alive connection.
            use axum::serve::ListenerExt;
            let http = http.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            });
            let _ = axum::serve(http, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
    }
    let mlis = tokio::net::TcpListener::bind(cfg.metrics_listen)
        .await
        .with_context(|| format!("listening on {}", cfg.metrics_listen))?;
    let metrics_addr = mlis.local_addr()?;
    let mapp = metrics::router(metrics.clone());
    {
        let s = shutdown.clone();
        tasks.spawn(async move {
            let _ = axum::serve(mlis, mapp).with_graceful_shutdown(async move { s.cancelled().await }).await;
        });
    }
    tracing::info!(%name, %quic_addr, %http_addr, %metrics_addr, "controller running");
    Ok(Running {
        name,
        quic_addr,
        http_addr,
        metrics_addr,
        ingest,
        metrics,
        store,
        admin_password,
        geo_attribution,
        shutdown,
        tasks,
        db: Some(db),
        pools: vec![ingest_store, reads],
    })
}

/// What the Python engine tells scripts about this controller.
pub(crate) fn engine_info(cfg: &Config, name: &str) -> wirewatch_python::EngineInfo {
    wirewatch_python::EngineInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        started: std::time::Instant::now(),
        started_at: chrono::Utc::now(),
        db_path: cfg.data_dir.clone(),
        spool_path: cfg.data_dir.join("python-spool"),
        controller: name.to_string(),
        rrd_root: cfg.rrd.enabled.then(|| cfg.rrd.root(&cfg.data_dir)),
    }
}

/// Live queries of the API, answered over the probes' QUIC connections to this controller.
struct LiveProbes(Arc<ingest::Ingest>);

impl wirewatch_mobile_api::Live for LiveProbes {
    fn connected(&self) -> wirewatch_mobile_api::BoxFuture<'_, Vec<String>> {
        Box::pin(self.0.connected_probes())
    }

    fn top_talkers<'a>(
        &'a self,
        probe: &'a str,
        limit: u32,
        timeout: Duration,
    ) -> wirewatch_mobile_api::BoxFuture<
        'a,
        Result<Vec<(String, wirewatch_wire::HostDelta)>, wirewatch_mobile_api::LiveError>,
    > {
        use wirewatch_mobile_api::LiveError;
        Box::pin(async move {
            self.0.query(probe, wirewatch_wire::Command::TopTalkers { limit }, timeout).await.map_err(|e| match e {
                ingest::QueryError::NotConnected(p) => LiveError::NotConnected(p),
                ingest::QueryError::Timeout(d) => LiveError::Timeout(d),
                other => LiveError::Failed(other.to_string()),
            })
        })
    }
}

/// Runs the periodic jobs when due (the lease in the database decides which controller runs).
async fn jobs(store: Store, name: String, cfg: Config, metrics: Arc<metrics::Metrics>, shutdown: CancellationToken) {
    let tick =
        cfg.rollup_every().min(cfg.retention_every()).min(Duration::from_secs(5)).max(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.cancelled() => break,
        }
        for (job, every) in [("rollup", cfg.rollup_every()), ("retention", cfg.retention_every())] {
            match store.run_job(job, every, &name, cfg.retention()).await {
                Ok(Some(detail)) => {
                    metrics.job_runs.get_or_create(&metrics::Outcome { outcome: job }).inc();
                    tracing::info!(job, %detail, "periodic job ran");
                    // Probes whose batches were refused or quarantined, for the operator.
                    match store.bad_batches().await {
                        Ok(rows) => {
                            // Anew each time: a probe whose counts went back to zero (enrolled
                            // again) leaves the gauges.
                            metrics.refused_batches.clear();
                            metrics.quarantined_batches.clear();
                            for (probe, refused, quarantined) in rows {
                                let label = metrics::ProbeLabel { probe };
                                metrics.refused_batches.get_or_create(&label).set(refused);
                                metrics.quarantined_batches.get_or_create(&label).set(quarantined);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "reading refused and quarantined batches"),
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(job, error = %e, "periodic job failed"),
            }
        }
    }
}

impl Running {
    /// Stops accepting, closes probe connections, waits for the tasks, stops the embedded
    /// database if this controller started it.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        for p in self.pools.drain(..) {
            p.close().await;
        }
        if let Some(db) = self.db.take() {
            db.close().await;
        }
    }
}

/// Waits for SIGTERM or SIGINT.
pub async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
