//! What other local users can reach: the embedded PostgreSQL (private socket, SCRAM password,
//! a cluster of an older release upgraded at start), the files that hold keys (`probe enroll
//! --out` never writes through a planted link; 0700 directories, 0600 files), and a
//! re-enrolment into another site (refused without `--move-site`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wirewatch_e2e::*;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode() & 0o777
}

fn psql() -> PathBuf {
    wirewatch_store::embedded::find_program("psql").expect("psql")
}

/// `psql -w` (never prompts) on the cluster's socket as the `postgres` role, with `password`
/// in PGPASSWORD (none: no password at all), as `user` (None: this process's user).
fn psql_as(user: Option<&str>, socket: &Path, password: Option<&str>) -> Output {
    let mut c = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(psql());
            c
        }
        None => Command::new(psql()),
    };
    c.arg("-h")
        .arg(socket)
        .args(["-U", "postgres", "-d", "wirewatch", "-w", "-XAtc", "SHOW listen_addresses"])
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", "/dev/null")
        .current_dir("/");
    if let Some(p) = password {
        c.env("PGPASSWORD", p);
    }
    c.output().expect("psql")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Stops the cluster under `data` if a failed test left it running (by its data directory).
struct StopCluster(PathBuf);

impl Drop for StopCluster {
    fn drop(&mut self) {
        let pgdata = self.0.join("postgres");
        if pgdata.join("postmaster.pid").exists() {
            let pg_ctl = wirewatch_store::embedded::find_program("pg_ctl").expect("pg_ctl");
            let mut c = if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(pg_ctl);
                c
            } else {
                Command::new(pg_ctl)
            };
            let _ = c.arg("-D").arg(&pgdata).args(["-m", "immediate", "-w", "stop"]).output();
        }
    }
}

/// The checks on a running embedded cluster under `data`: only the password opens it, other
/// users cannot reach its socket, nothing listens on TCP.
fn assert_private(data: &Path) {
    let socket_dir = socket_dir(data);
    let socket = socket_dir.join(".s.PGSQL.5432");
    assert!(std::fs::symlink_metadata(&socket).is_ok(), "no socket at {}", socket.display());
    let pwfile = data.join("postgres.password");
    let password = std::fs::read_to_string(&pwfile).unwrap_or_default().trim().to_string();
    // The owner (root included) without the password: refused.
    let no = psql_as(None, &socket_dir, None);
    assert!(!no.status.success(), "connected without a password: {}", text(&no));
    assert!(text(&no).contains("password"), "{}", text(&no));
    let wrong = psql_as(None, &socket_dir, Some("not-the-password"));
    assert!(!wrong.status.success(), "connected with a wrong password: {}", text(&wrong));
    assert_eq!(mode(&socket_dir), 0o700, "socket directory");
    assert_eq!(mode(&socket), 0o700, "socket");
    assert_eq!(mode(&pwfile), 0o600, "password file");
    // The owner with the password: in, and no TCP listener.
    let ok = psql_as(None, &socket_dir, Some(&password));
    assert!(ok.status.success(), "with the password: {}", text(&ok));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "", "listen_addresses must be empty");
    if !is_root() {
        eprintln!("SKIPPED: the check as user `nobody` needs root (runuser)");
        return;
    }
    assert_eq!(std::fs::metadata(&socket_dir).expect("run").uid(), uid_of("postgres"), "socket dir owner");
    // Another local user: neither without the password nor with it (the socket is private).
    for pw in [None, Some(password.as_str())] {
        let o = psql_as(Some("nobody"), &socket_dir, pw);
        assert!(!o.status.success(), "user nobody connected (password given: {}): {}", pw.is_some(), text(&o));
    }
}

/// The running server's socket directory (line 5 of postmaster.pid).
fn socket_dir(data: &Path) -> PathBuf {
    let pid = std::fs::read_to_string(data.join("postgres/postmaster.pid")).expect("postmaster.pid");
    PathBuf::from(pid.lines().nth(4).expect("socket line").trim())
}

fn uid_of(user: &str) -> u32 {
    let o = Command::new("id").args(["-u", user]).output().expect("id");
    String::from_utf8_lossy(&o.stdout).trim().parse().expect("uid")
}

fn healthy(c: &Controller) {
    let h = http(c.http, "GET", "/healthz", None, None);
    assert_eq!(h.status, 200, "{}", h.body);
}

#[test]
fn embedded_cluster_admits_only_its_password_and_no_other_user() {
    let dir = scratch();
    let data = dir.path().join("data");
    let _stop = StopCluster(data.clone());
    let mut c = Controller::start(&data, "", "sec", free_udp_port(), &[]);
    healthy(&c);
    assert_private(&data);
    // The controller itself still works over its password: a CLI command opens the database
    // while the server runs, and an enrolled probe's replay is stored exactly.
    let id = c.enroll("p", "lab", dir.path());
    let mut probe = Probe::replay(&[c.quic], &id, &[pcaps().join("4in4tunnel.pcap")], "max", 5);
    assert_eq!(probe.wait(std::time::Duration::from_secs(120)), Some(0), "replay");
    assert_exact(&c, "p", "4in4tunnel.pcap");
    c.terminate();
    assert!(!data.join("postgres/postmaster.pid").exists(), "the embedded cluster was left running");
}

/// A data directory made by the previous release: `initdb --auth=trust`, its settings appended
/// to postgresql.conf, the socket directory 0711. The controller upgrades it at start.
#[test]
fn embedded_cluster_of_the_previous_release_is_upgraded_to_passwords() {
    let dir = scratch();
    let data = dir.path().join("data");
    let pgdata = data.join("postgres");
    let run = data.join("run");
    std::fs::create_dir_all(&pgdata).expect("mkdir");
    std::fs::create_dir_all(&run).expect("mkdir");
    let as_server = |program: &Path| {
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    if is_root() {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o711)).expect("chmod");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o711)).expect("chmod");
        for d in [&pgdata, &run] {
            assert!(Command::new("chown").arg("postgres:").arg(d).status().expect("chown").success());
        }
    }
    let initdb = wirewatch_store::embedded::find_program("initdb").expect("initdb");
    let out = as_server(&initdb)
        .arg("-D")
        .arg(&pgdata)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"])
        .output()
        .expect("initdb");
    assert!(out.status.success(), "{}", text(&out));
    let conf = format!(
        "\n# wirewatch embedded cluster\nlisten_addresses = ''\nport = 5432\nunix_socket_directories = '{}'\nmax_connections = 200\nshared_buffers = 128MB\nlogging_collector = off\n",
        run.display()
    );
    let mut tee = as_server(Path::new("tee"))
        .arg("-a")
        .arg(pgdata.join("postgresql.conf"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("tee");
    std::io::Write::write_all(&mut tee.stdin.take().expect("stdin"), conf.as_bytes()).expect("conf");
    assert!(tee.wait().expect("tee").success());
    let hba = std::fs::read_to_string(pgdata.join("pg_hba.conf")).expect("hba");
    assert!(hba.lines().any(|l| !l.starts_with('#') && l.contains("trust")), "the old cluster trusts");
    let _stop = StopCluster(data.clone());

    let mut c = Controller::start(&data, "", "sec", free_udp_port(), &[]);
    healthy(&c);
    let hba = std::fs::read_to_string(pgdata.join("pg_hba.conf")).expect("hba");
    assert!(!hba.lines().any(|l| !l.trim_start().starts_with('#') && l.contains("trust")), "{hba}");
    assert_private(&data);
    c.terminate();
    // Started again from the upgraded directory: the stored password opens it.
    let mut c = Controller::start(&data, "", "sec", free_udp_port(), &[]);
    healthy(&c);
    let listed = c.cli(&["probe", "list", "--format", "json"]).expect("probe list");
    assert_eq!(listed.trim(), "[]");
    assert_private(&data);
    c.terminate();
    assert!(!pgdata.join("postmaster.pid").exists());
}

fn enroll(data: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(bin("wirewatch-controller"))
        .arg("--data-dir")
        .arg(data)
        .args(["probe", "enroll"])
        .args(args)
        .env("DATABASE_URL", url)
        .env("WIREWATCH_LOG", "warn")
        .output()
        .expect("enroll")
}

#[test]
fn enroll_out_never_writes_through_a_planted_link() {
    let pg = Pg::start();
    let url = pg.create_db("keys");
    let dir = scratch();
    let data = dir.path().join("data");
    // A directory prepared by someone else, with probe.key pointing at a file of theirs.
    let trap = dir.path().join("trap");
    std::fs::create_dir(&trap).expect("mkdir");
    let stolen = dir.path().join("stolen.key");
    std::os::unix::fs::symlink(&stolen, trap.join("probe.key")).expect("symlink");
    let out = enroll(&data, &url, &["p1", "--site", "a", "--out", trap.to_str().expect("utf-8")]);
    assert!(!out.status.success(), "enrolled into a directory holding a link: {}", text(&out));
    assert!(text(&out).contains("refusing"), "{}", text(&out));
    assert!(!stolen.exists(), "the key was written through the link");
    // A link to a directory is refused as the directory itself.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).expect("symlink");
    let out = enroll(&data, &url, &["p1", "--site", "a", "--out", link.to_str().expect("utf-8")]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_dir(&elsewhere).expect("ls").count(), 0, "written through the directory link");
    // A new directory: 0700, every file 0600.
    let id = dir.path().join("id");
    let out = enroll(&data, &url, &["p1", "--site", "a", "--out", id.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    // The refusals came before anything was enrolled: this (not --force) enrolment found the
    // name free, and it holds one certificate.
    assert_eq!(pg.scalar("keys", "SELECT count(*) FROM probe_certs"), 1);
    assert_eq!(mode(&id), 0o700);
    for f in ["probe.key", "probe.crt", "ca.crt"] {
        assert_eq!(mode(&id.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&data.join("ca")), 0o700);
    assert_eq!(mode(&data.join("ca/ca.key")), 0o600);
    // The same directory again (now holding an identity): refused, the key left as it was.
    let key = std::fs::read(id.join("probe.key")).expect("key");
    let out = enroll(&data, &url, &["p1", "--site", "a", "--out", id.to_str().expect("utf-8"), "--force"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not empty"), "{}", text(&out));
    assert_eq!(std::fs::read(id.join("probe.key")).expect("key"), key);
}

#[test]
fn force_into_another_site_needs_move_site() {
    let pg = Pg::start();
    let url = pg.create_db("sites");
    let dir = scratch();
    let data = dir.path().join("data");
    let out_dir = |n: &str| dir.path().join(n).to_str().expect("utf-8").to_string();
    let out = enroll(&data, &url, &["p", "--site", "a", "--out", &out_dir("1")]);
    assert!(out.status.success(), "{}", text(&out));
    let site = || pg.scalar("sites", "SELECT s.id FROM probes p JOIN sites s ON s.id = p.site_id WHERE p.name = 'p'");
    let a = site();
    // Same site: --force re-enrols as before.
    let out = enroll(&data, &url, &["p", "--site", "a", "--out", &out_dir("2"), "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    // Another site: refused, saying what would happen to the history.
    let out = enroll(&data, &url, &["p", "--site", "b", "--out", &out_dir("3"), "--force"]);
    assert!(!out.status.success(), "moved to another site without --move-site: {}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("--move-site") && msg.contains("history"), "{msg}");
    assert_eq!(site(), a);
    assert_eq!(pg.scalar("sites", "SELECT count(*) FROM probe_certs c JOIN probes p ON p.id = c.probe_id WHERE p.name = 'p' AND c.revoked_at IS NULL"), 1);
    // With it: moved.
    let out = enroll(&data, &url, &["p", "--site", "b", "--out", &out_dir("4"), "--force", "--move-site"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        pg.scalar(
            "sites",
            "SELECT p.site_id FROM probes p JOIN sites s ON s.id = p.site_id WHERE p.name = 'p' AND s.name = 'b'"
        ),
        site()
    );
    assert_ne!(site(), a);
}

/// A data directory whose path is too long for a socket: the socket goes into a random private
/// directory in /tmp (not the predictable `/tmp/wirewatch-pg-<hash>` of before), removed at stop.
#[test]
fn embedded_cluster_under_a_long_path_gets_a_random_private_socket_dir() {
    let dir = scratch();
    let data = dir.path().join("d".repeat(100)).join("data");
    let _stop = StopCluster(data.clone());
    let mut c = Controller::start(&data, "", "sec", free_udp_port(), &[]);
    healthy(&c);
    let sock = socket_dir(&data);
    assert!(sock.starts_with("/tmp") && sock.to_string_lossy().contains("wirewatch-pg-"), "{}", sock.display());
    let canon = data.canonicalize().expect("data dir");
    let h = canon.as_os_str().len() as u64 * 31 + canon.to_string_lossy().bytes().map(u64::from).sum::<u64>();
    assert_ne!(sock, PathBuf::from(format!("/tmp/wirewatch-pg-{h:x}")), "the predictable name of before");
    assert_private(&data);
    c.terminate();
    assert!(!sock.exists(), "{} left behind", sock.display());
}
