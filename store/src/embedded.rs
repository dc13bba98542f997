//! The private PostgreSQL cluster of a controller with no database URL: `initdb` once under
//! the data directory, `pg_ctl start` on every start (unless one is already running there),
//! `pg_ctl stop` when the owner stops it. It listens on a Unix socket inside its own directory
//! only (no TCP port, so nothing to collide with). As root, it runs as the `postgres` user
//! (initdb refuses root).
//!
//! No other local user may reach it: the socket directory is private (0700, owned by the server
//! user; root still connects), the socket itself 0700, and every connection authenticates with
//! SCRAM (`scram-sha-256`) against a generated password kept in `<data-dir>/postgres.password`
//! (0600, the controller's user). A cluster made by an older release with `trust`
//! authentication is upgraded at start: the password set with `ALTER ROLE` over the socket,
//! `pg_hba.conf` rewritten to SCRAM only, the configuration reloaded.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::PgConnectOptions;

use crate::{Result, StoreError};

/// Name of the database the controller uses inside the cluster.
pub const DATABASE: &str = "wirewatch";
const PORT: u16 = 5432;

/// The password file of the cluster's `postgres` role, beside the cluster in the data dir.
pub const PASSWORD_FILE: &str = "postgres.password";

/// `pg_hba.conf` of the embedded cluster: password (SCRAM) authentication on the socket only.
const HBA: &str = "# wirewatch embedded cluster: the private Unix socket only, SCRAM passwords (no trust, no TCP)\n\
                   local all all scram-sha-256\n";

/// A running cluster.
pub struct Cluster {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<String>,
    /// Started by us (and so stopped by us).
    owned: bool,
    /// The `postgres` role's password (from [`PASSWORD_FILE`]).
    password: String,
    /// `pg_hba.conf` still trusts (a cluster of an older release): upgraded by [`Cluster::database`].
    trusts: bool,
    /// A random socket directory of ours in /tmp (the data dir's path is too long for a
    /// socket), removed when the cluster stops.
    temp_socket_dir: bool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("pgdata", &self.pgdata)
            .field("socket_dir", &self.socket_dir)
            .field("run_as", &self.run_as)
            .field("owned", &self.owned)
            .field("password", &"<redacted>")
            .finish()
    }
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

/// Makes the password of a new (or upgraded) cluster and keeps it in a new 0600 file.
fn new_password(path: &Path) -> Result<String> {
    let p = crate::private_files::random_hex(32).map_err(|e| err(e.to_string()))?;
    crate::private_files::write_new(path, p.as_bytes()).map_err(|e| err(e.to_string()))?;
    Ok(p)
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
        let mut c = Cluster {
            pgdata,
            socket_dir: dir.join("run"),
            run_as,
            owned: false,
            password: String::new(),
            trusts: false,
            temp_socket_dir: false,
        };
        let running = c.running();
        // A Unix socket path is limited to 107 bytes; fall back to a random private directory
        // in /tmp (a running server's is read back from its postmaster.pid).
        if running && let Some(d) = c.running_socket_dir() {
            c.socket_dir = d;
        } else if c.socket_dir.as_os_str().len() + 20 > 107 {
            let d = tempfile::Builder::new()
                .prefix("wirewatch-pg-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir_in("/tmp")
                .map_err(|e| err(format!("making a socket directory in /tmp: {e}")))?;
            c.socket_dir = d.keep();
            c.temp_socket_dir = true;
        } else {
            crate::private_files::private_dir(&c.socket_dir)
                .or_else(|e| {
                    // Ours but owned by the server user (made by an earlier start as root).
                    match std::fs::symlink_metadata(&c.socket_dir) {
                        Ok(m) if c.run_as.is_some() && m.is_dir() && !m.file_type().is_symlink() => Ok(()),
                        _ => Err(e),
                    }
                })
                .map_err(|e| err(e.to_string()))?;
        }
        if c.run_as.is_some() {
            // The server user must reach its directories through ours; its socket directory
            // is its own and nobody else's.
            c.sh("chmod", &["0711".as_ref(), dir.as_os_str()])?;
            if !running {
                c.sh("chown", &["-h".as_ref(), "postgres:".as_ref(), c.socket_dir.as_os_str()])?;
                c.sh("chmod", &["0700".as_ref(), c.socket_dir.as_os_str()])?;
            }
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
        let password_file = dir.join(PASSWORD_FILE);
        if !c.pgdata.join("PG_VERSION").exists() {
            // A password file left by an initdb that failed is ours (read() checks it): reused.
            c.password = match crate::private_files::read(&password_file) {
                Ok(p) => p.trim().to_string(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_password(&password_file)?,
                Err(e) => return Err(err(e.to_string())),
            };
            c.initdb(&dir)?;
        } else {
            c.trusts = c.hba_trusts()?;
            c.password = match crate::private_files::read(&password_file) {
                Ok(p) => p.trim().to_string(),
                // A cluster of an older release: it trusts, so the password can still be set.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && c.trusts => new_password(&password_file)?,
                Err(e) => {
                    return Err(err(format!(
                        "{e} (the embedded cluster's password; without it the cluster cannot be reached)"
                    )));
                }
            };
        }
        if running {
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

    fn initdb(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(&self.pgdata).map_err(|e| err(format!("{}: {e}", self.pgdata.display())))?;
        if self.run_as.is_some() {
            self.sh("chown", &["-R".as_ref(), "postgres:".as_ref(), self.pgdata.as_os_str()])?;
        }
        // initdb reads the password from a file the server user can read: a new 0600 file in
        // our data dir (which only we can write), handed to that user, removed right after.
        let pwfile = dir.join(".initdb-password");
        let _ = std::fs::remove_file(&pwfile);
        crate::private_files::write_new(&pwfile, self.password.as_bytes()).map_err(|e| err(e.to_string()))?;
        if self.run_as.is_some() {
            self.sh("chown", &["-h".as_ref(), "postgres:".as_ref(), pwfile.as_os_str()])?;
        }
        let mut c = self.command(&find_program("initdb")?);
        c.arg("-D")
            .arg(&self.pgdata)
            .args(["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()));
        tracing::info!(pgdata = %self.pgdata.display(), "initialising the embedded PostgreSQL cluster");
        let made = self.run(c, "initdb");
        let _ = std::fs::remove_file(&pwfile);
        made?;
        // Settings for a private, socket-only server.
        let conf = format!(
            "\n# wirewatch embedded cluster\nlisten_addresses = ''\nport = {PORT}\nunix_socket_directories = '{}'\nunix_socket_permissions = 0700\nmax_connections = 200\nshared_buffers = 128MB\nlogging_collector = off\n",
            self.socket_dir.display()
        );
        let path = self.pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        text.push_str(&conf);
        self.write_server_file(&path, &text)?;
        self.write_server_file(&self.pgdata.join("pg_hba.conf"), HBA)
    }

    /// Writes a file of the cluster as the server user (`tee`): as root, a write of ours would
    /// follow a link the server user planted there.
    fn write_server_file(&self, path: &Path, text: &str) -> Result<()> {
        use std::io::Write;
        let mut cmd = self.command(Path::new("tee"));
        cmd.arg(path).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null());
        let mut child = cmd.spawn().map_err(|e| err(format!("tee {}: {e}", path.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(text.as_bytes()).map_err(|e| err(format!("tee {}: {e}", path.display())))?;
        }
        let status = child.wait().map_err(|e| err(format!("tee {}: {e}", path.display())))?;
        if status.success() { Ok(()) } else { Err(err(format!("writing {} failed ({status})", path.display()))) }
    }

    /// Whether `pg_hba.conf` has a line with another method than SCRAM (an older release's
    /// `trust`).
    fn hba_trusts(&self) -> Result<bool> {
        let path = self.pgdata.join("pg_hba.conf");
        let text = std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        Ok(text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .any(|l| !l.split_whitespace().any(|w| w == "scram-sha-256")))
    }

    /// The socket directory of the server running on `pgdata` (line 5 of postmaster.pid).
    fn running_socket_dir(&self) -> Option<PathBuf> {
        let pid = std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        pid.lines().nth(4).filter(|l| !l.trim().is_empty()).map(|l| PathBuf::from(l.trim()))
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
            // On the command line too, so a cluster made by an older release gets them.
            .arg(format!("-k {} -c unix_socket_permissions=0700 -c listen_addresses=''", self.socket_dir.display()))
            .arg("start");
        self.run(c, "pg_ctl start")
    }

    /// Connection options for the cluster's `postgres` database.
    pub fn admin_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username("postgres")
            .password(&self.password)
            .database("postgres")
    }

    /// The directory of the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Upgrades a cluster that still trusts every local connection: the role's password over
    /// the socket (still trusted), then SCRAM only, then a reload.
    async fn require_password(&mut self, conn: &mut sqlx::PgConnection) -> Result<()> {
        if !self.trusts {
            return Ok(());
        }
        tracing::warn!(pgdata = %self.pgdata.display(), "embedded PostgreSQL trusted local connections: setting a password and requiring it");
        // Hex only (new_password), so it can be spelled inside the statement.
        if !self.password.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("the password file holds other characters than hexadecimal digits"));
        }
        sqlx::query("SET password_encryption = 'scram-sha-256'").execute(&mut *conn).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER ROLE postgres PASSWORD '{}'", self.password)))
            .execute(&mut *conn)
            .await?;
        self.write_server_file(&self.pgdata.join("pg_hba.conf"), HBA)?;
        let reloaded: bool = sqlx::query_scalar("SELECT pg_reload_conf()").fetch_one(&mut *conn).await?;
        if !reloaded {
            return Err(err("pg_reload_conf() failed after rewriting pg_hba.conf"));
        }
        self.trusts = false;
        Ok(())
    }

    /// Connection options for the wirewatch database (made if missing).
    pub async fn database(&mut self) -> Result<PgConnectOptions> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&self.admin_options()).await?;
        self.require_password(&mut conn).await?;
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
        if self.owned {
            self.owned = false;
            if let Ok(p) = find_program("pg_ctl") {
                let mut c = self.command(&p);
                c.arg("-D").arg(&self.pgdata).args(["-m", "fast", "-w", "stop"]);
                if let Err(e) = self.run(c, "pg_ctl stop") {
                    tracing::warn!(error = %e, "stopping the embedded PostgreSQL");
                }
            }
        }
        // Ours (made by this start): empty once the server is gone; a failed start leaves none.
        if std::mem::take(&mut self.temp_socket_dir) {
            let _ = std::fs::remove_dir(&self.socket_dir);
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
