//! The private PostgreSQL cluster of a controller with no database URL: `initdb` once under
//! the data directory, `pg_ctl start` on every start (unless one is already running there),
//! `pg_ctl stop` when the owner stops it. It listens on a Unix socket inside its own directory
//! only (no TCP port, so nothing to collide with). As root, it runs as the `postgres` user
//! (initdb refuses root).

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::PgConnectOptions;

use crate::{Result, StoreError};

/// Name of the database the controller uses inside the cluster.
pub const DATABASE: &str = "wirewatch";
const PORT: u16 = 5432;

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<String>,
    /// Started by us (and so stopped by us).
    owned: bool,
}

fn err(msg: impl Into<String>) -> StoreError {
    StoreError::Embedded(msg.into())
}

/// Finds a PostgreSQL server program: PATH first, then Debian's /usr/lib/postgresql/*/bin
/// (newest version first).
pub fn find_program(name: &str) -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let p = e.path().join("bin").join(name);
            p.is_file().then_some((v, p))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| err(format!("{name} not found on PATH or in /usr/lib/postgresql/*/bin (install PostgreSQL)")))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

impl Cluster {
    /// Starts the cluster under `dir` (made and initialised on first use).
    pub fn start(dir: &Path) -> Result<Cluster> {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let dir = dir.canonicalize().map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let pgdata = dir.join("postgres");
        let run_as = is_root().then(|| "postgres".to_string());
        // A Unix socket path is limited to 107 bytes; fall back to a short private directory.
        let mut socket_dir = dir.join("run");
        if socket_dir.as_os_str().len() + 20 > 107 {
            let h = dir.as_os_str().len() as u64 * 31 + dir.to_string_lossy().bytes().map(u64::from).sum::<u64>();
            socket_dir = PathBuf::from(format!("/tmp/wirewatch-pg-{h:x}"));
        }
        std::fs::create_dir_all(&socket_dir).map_err(|e| err(format!("{}: {e}", socket_dir.display())))?;
        let c = Cluster { pgdata, socket_dir, run_as, owned: false };
        if c.run_as.is_some() {
            // The server user must reach its directories through ours.
            for d in [&dir, &c.socket_dir] {
                c.sh("chmod", &["0711".as_ref(), d.as_os_str()])?;
            }
            c.sh("chown", &["postgres".as_ref(), c.socket_dir.as_os_str()])?;
            let reachable = Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-x"])
                .arg(&dir)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !reachable {
                return Err(err(format!(
                    "the postgres user cannot reach {} (a parent directory is private, such as /root): \
                     choose a data directory under /var/lib or /var/tmp",
                    dir.display()
                )));
            }
        }
        if !c.pgdata.join("PG_VERSION").exists() {
            c.initdb()?;
        }
        let mut c = c;
        if c.running() {
            tracing::info!(pgdata = %c.pgdata.display(), "embedded PostgreSQL already running; using it");
        } else {
            c.pg_ctl_start()?;
            c.owned = true;
        }
        Ok(c)
    }

    fn sh(&self, prog: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
        let out = Command::new(prog).args(args).output().map_err(|e| err(format!("{prog}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(err(format!("{prog} failed: {}", String::from_utf8_lossy(&out.stderr).trim())))
        }
    }

    fn command(&self, program: &Path) -> Command {
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn run(&self, mut cmd: Command, what: &str) -> Result<()> {
        let out = cmd.output().map_err(|e| err(format!("{what}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.pgdata.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            Err(err(format!(
                "{what} failed ({}): {}{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )))
        }
    }

    fn initdb(&self) -> Result<()> {
        std::fs::create_dir_all(&self.pgdata).map_err(|e| err(format!("{}: {e}", self.pgdata.display())))?;
        if self.run_as.is_some() {
            self.sh("chown", &["-R".as_ref(), "postgres:".as_ref(), self.pgdata.as_os_str()])?;
        }
        let mut c = self.command(&find_program("initdb")?);
        c.arg("-D").arg(&self.pgdata).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"]);
        tracing::info!(pgdata = %self.pgdata.display(), "initialising the embedded PostgreSQL cluster");
        self.run(c, "initdb")?;
        // Settings for a private, socket-only server.
        let conf = format!(
            "\n# wirewatch embedded cluster\nlisten_addresses = ''\nport = {PORT}\nunix_socket_directories = '{}'\nmax_connections = 200\nshared_buffers = 128MB\nlogging_collector = off\n",
            self.socket_dir.display()
        );
        let path = self.pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        text.push_str(&conf);
        std::fs::write(&path, text).map_err(|e| err(format!("{}: {e}", path.display())))?;
        Ok(())
    }

    fn running(&self) -> bool {
        let Ok(p) = find_program("pg_ctl") else { return false };
        let mut c = self.command(&p);
        c.arg("-D").arg(&self.pgdata).arg("status");
        c.output().map(|o| o.status.success()).unwrap_or(false)
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let mut c = self.command(&find_program("pg_ctl")?);
        c.arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(self.pgdata.join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-k {}", self.socket_dir.display()))
            .arg("start");
        self.run(c, "pg_ctl start")
    }

    /// Connection options for the cluster's `postgres` database.
    pub fn admin_options(&self) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.socket_dir).port(PORT).username("postgres").database("postgres")
    }

    /// Connection options for the wirewatch database (made if missing).
    pub async fn database(&self) -> Result<PgConnectOptions> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&self.admin_options()).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut conn)
            .await?;
        if !exists {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}"))).execute(&mut conn).await?;
        }
        conn.close().await.ok();
        Ok(self.admin_options().database(DATABASE))
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&mut self) {
        if !self.owned {
            return;
        }
        self.owned = false;
        let Ok(p) = find_program("pg_ctl") else { return };
        let mut c = self.command(&p);
        c.arg("-D").arg(&self.pgdata).args(["-m", "fast", "-w", "stop"]);
        if let Err(e) = self.run(c, "pg_ctl stop") {
            tracing::warn!(error = %e, "stopping the embedded PostgreSQL");
        }
    }

    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
