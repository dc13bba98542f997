//! Storage: the only code that writes SQL. One module per aggregate — probes (enrolment,
//! certificates, hello/status), ingest (a batch in one transaction), jobs (rollups, retention,
//! the lease that makes each run happen on exactly one controller), hosts (the one host reader:
//! lists, cursors, one host), api (sites, probes, interfaces, history, top talkers), totals
//! (everything of a scope, for the CLI), alarms (rrdAlarm's thresholds, re-arm state, runs),
//! events (alarm events, acknowledgements and their actions' runs), scripts (scheduled
//! scripts' runs and outputs) —
//! plus `embedded`, the private PostgreSQL cluster the controller starts when no database URL
//! is given.
//!
//! Every statement is keyed by probe (and through it, site), so a later move to a distributed
//! PostgreSQL (Citus, probe as distribution key) needs no rewrite; the alarm tables hold no
//! probe data and join nothing (reference tables there).

pub mod accounts;
pub mod alarms;
pub mod api;
pub mod archive;
pub mod embedded;
pub mod events;
mod fold;
pub mod hosts;
pub mod ingest;
pub mod jobs;
pub mod private_files;
pub mod probes;
pub mod scripts;
pub mod snapshot;
pub mod totals;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use sqlx::postgres::PgConnectOptions as ConnectOptions;

/// Storage failures, split by what the caller can do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or the connection broke: retry later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A statement failed for another reason (a bug or bad data): retrying will not help.
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Exists(String),
    /// The data offered breaks a rule of the store (duplicate host rows in one batch, …).
    #[error("invalid data: {0}")]
    Invalid(String),
    #[error("embedded PostgreSQL: {0}")]
    Embedded(String),
    /// A statement ran past the connection's `statement_timeout` (the read pool's limit):
    /// narrow the question (a shorter window, a smaller page).
    #[error("the query took longer than the read limit of this connection and was cancelled")]
    Timeout,
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e),
            sqlx::Error::Database(d) => {
                // Class 08 (connection exception), 57P01-03 (admin shutdown, crash, cannot
                // connect now), 53 (insufficient resources), 40001/40P01 (serialisation, deadlock).
                let code = d.code().map(|c| c.to_string()).unwrap_or_default();
                if code == "57014" {
                    // query_canceled: statement_timeout (or an administrator's cancel).
                    StoreError::Timeout
                } else if code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code.starts_with("40")
                {
                    StoreError::Unavailable(e)
                } else if code.starts_with("22") {
                    // Data exception (a NUL byte in text, an out-of-range value, a malformed
                    // address): the caller's input, not a fault of the store.
                    StoreError::Invalid(d.message().to_string())
                } else {
                    StoreError::Query(e)
                }
            }
            _ => StoreError::Query(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database (cheap to clone).
#[derive(Clone, Debug)]
pub struct Store {
    pub pool: PgPool,
    partitions: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// The controller's clock: arrival of batches, partitions and retention go by it.
    clock: Clock,
    /// What a batch may claim (checked before anything is written).
    limits: ingest::Limits,
    /// Longest window a query over raw samples may span (top talkers); `None`: no limit.
    raw_window_max: Option<chrono::Duration>,
}

/// The clock the store stamps arrivals with and judges retention by: the system clock, or a
/// time set by a test (so a test states what happens on the 1st of a month, at 23:59:59, …).
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<std::sync::Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>>);

impl Clock {
    /// A clock that stands at `t` until [`Clock::set`] moves it.
    pub fn fixed(t: chrono::DateTime<chrono::Utc>) -> Clock {
        Clock(Some(std::sync::Arc::new(std::sync::Mutex::new(t))))
    }

    /// Moves a fixed clock (no effect on the system clock).
    pub fn set(&self, t: chrono::DateTime<chrono::Utc>) {
        if let Some(c) = &self.0
            && let Ok(mut g) = c.lock()
        {
            *g = t;
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match &self.0 {
            Some(c) => c.lock().map(|g| *g).unwrap_or_else(|_| chrono::Utc::now()),
            None => chrono::Utc::now(),
        }
    }
}

/// Session limits of a pool whose connections serve readers (API requests, Python pages): a
/// statement running longer is cancelled, a transaction left idle is ended, so no viewer holds
/// a connection or locks for long. Ingest and the jobs use pools of their own without them.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    pub statement_timeout: Duration,
    pub idle_in_transaction_timeout: Duration,
}

impl ReadLimits {
    /// `opts` with these limits set on every connection (as startup parameters: no round trip,
    /// and a pooled connection cannot lose them).
    pub fn apply(&self, opts: PgConnectOptions) -> PgConnectOptions {
        opts.options([
            ("statement_timeout", self.statement_timeout.as_millis().max(1).to_string()),
            ("idle_in_transaction_session_timeout", self.idle_in_transaction_timeout.as_millis().max(1).to_string()),
        ])
    }
}

impl Store {
    /// Connects (the pool reconnects by itself after an outage).
    pub async fn connect(opts: PgConnectOptions, max_connections: u32) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        Ok(Store {
            pool,
            partitions: Default::default(),
            clock: Clock::default(),
            limits: Default::default(),
            raw_window_max: None,
        })
    }

    /// Connects without waiting for the database (connections are made on first use).
    pub fn connect_lazy(opts: PgConnectOptions, max_connections: u32) -> Store {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(opts);
        Store {
            pool,
            partitions: Default::default(),
            clock: Clock::default(),
            limits: Default::default(),
            raw_window_max: None,
        }
    }

    /// Applies the migrations in `migrations/` (forward only; concurrent controllers serialise
    /// on sqlx's migration lock).
    pub async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("../migrations").run(&self.pool).await?;
        Ok(())
    }

    /// The same store on another clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// The same store with other ingest limits.
    pub fn with_limits(mut self, limits: ingest::Limits) -> Store {
        self.limits = limits;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// This handle with a cap on the window of queries over raw samples.
    pub fn with_raw_window_max(mut self, max: Option<Duration>) -> Store {
        self.raw_window_max = max.and_then(|d| chrono::Duration::from_std(d).ok());
        self
    }

    /// Refuses a window over raw samples longer than the cap.
    pub(crate) fn check_raw_window(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        match self.raw_window_max {
            Some(max) if to - from > max => Err(StoreError::Invalid(format!(
                "window of {} s is longer than the {} s this server reads from raw samples \
                 (config [database] raw_window_max_hours); ask for a shorter window",
                (to - from).num_seconds(),
                max.num_seconds()
            ))),
            _ => Ok(()),
        }
    }
}

/// Makes sure `parent` has the range partition `name` for `[from, to)`. The table is made on
/// its own and then attached: ATTACH takes a SHARE UPDATE EXCLUSIVE lock on the parent, which
/// does not wait for (or block) transactions writing to other partitions, where `CREATE TABLE
/// … PARTITION OF` would take ACCESS EXCLUSIVE and deadlock with concurrent batches.
pub(crate) async fn ensure_partition(
    conn: &mut sqlx::PgConnection,
    parent: &str,
    name: &str,
    from: &str,
    to: &str,
) -> Result<()> {
    let attached: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname = $1)",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await?;
    if attached {
        return Ok(());
    }
    let q = format!("CREATE TABLE IF NOT EXISTS {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)");
    sqlx::query(sqlx::AssertSqlSafe(q)).execute(&mut *conn).await?;
    let q = format!("ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ('{from}') TO ('{to}')");
    sqlx::query(sqlx::AssertSqlSafe(q)).execute(&mut *conn).await?;
    Ok(())
}

/// Parses a `postgres://` URL.
pub fn parse_url(url: &str) -> Result<PgConnectOptions> {
    url.parse::<PgConnectOptions>().map_err(StoreError::Query)
}

impl Store {
    /// A round trip to the database (health checks).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
