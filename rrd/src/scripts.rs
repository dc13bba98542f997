//! The archive as Python scripts reach it: ntop's `rrd_fetch(pathFilename, function, start,
//! end)` and `updateRRDCounter`/`updateRRDGauge(path, key, value, step)`, and the rules a
//! script run keeps to. The engine knows the run's caller; the rules are here, in one place:
//!
//! - Paths are relative to the archive root and have the form a client may name
//!   ([`ArchivePath`]: no absolute path, no `..`, no hidden or empty component, `A-Z a-z 0-9 . _
//!   - % ~` only). ntop took absolute paths too; here the root is the only base.
//! - Reads resolve the path with `wirewatch_alarm::paths::Root` (the check's confinement: a
//!   symbolic link is followed only when it stays inside the root). A caller limited to some
//!   sites reads only files inside the directories of those sites' probes, judged on the
//!   resolved path; anything else is "no such archive file", as the API's 404 (nothing tells
//!   another site's file from a missing one). Callers who see every site read any file, the
//!   [`RESERVED_DIRS`] included.
//! - Writes need an operator or an administrator who sees every site (a scheduled run runs as
//!   such a caller): what is written below `scripts/` is shared by every such caller, and a
//!   caller limited to some sites could not read it back. They go below [`SCRIPTS_DIR`] only:
//!   probes' directories are the archiver's derived cache (rebuilt from PostgreSQL at will), and
//!   a directory outside `scripts/` could become a probe's when one of that name is enrolled;
//!   [`ALARM_DIR`] is the controller's own. No symbolic link is followed on the way (each
//!   directory is looked at with `lstat`, made with `mkdir`; the file is created exclusively).
//! - Bounds: a step of 1 s to a day ([`MAX_STEP_SECS`]), gauges finite and not negative, at
//!   most [`MAX_SUBDIRS`] directories below `scripts/`, a fetch window of at most ten years
//!   ending before 2100 and at most [`MAX_FETCH_VALUES`] values, and the engine's bound on
//!   files made per run (`may_create`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use wirewatch_alarm::at;
use wirewatch_alarm::paths::Root;
use wirewatch_alarm::{Table, consolidation, fetch_table};
use wirewatch_model::archive::{ALARM_DIR, ArchivePath, RESERVED_DIRS, SCRIPTS_DIR};
use wirewatch_model::identity::Role;

use crate::files::{self, Update, Value};

/// The longest step a script's file may have (a day: coarser files hold nothing useful).
pub const MAX_STEP_SECS: u64 = 86_400;

/// Directories a script's file may lie in below `scripts/` (the API's file listing walks as
/// deep, and a path of one-letter directories must not make hundreds at once).
pub const MAX_SUBDIRS: usize = 5;

/// The most values one fetch returns (rows × data sources).
pub const MAX_FETCH_VALUES: usize = 1_000_000;

/// The longest fetch window (ten years, as the graph API's).
pub const MAX_WINDOW_SECS: i64 = 10 * 366 * 86_400;

/// The latest end of a fetch window (2100-01-01).
pub const MAX_TIME: i64 = 4_102_444_800;

/// Why a script's archive call failed; each maps to one Python exception.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptFileError {
    /// A bad argument (ValueError).
    #[error("{0}")]
    Invalid(String),
    /// The caller's role or scope does not allow a write (the engine's `Forbidden`).
    #[error("{0}")]
    Role(String),
    /// A path the rules keep scripts out of (PermissionError).
    #[error("{0}")]
    Forbidden(String),
    /// The run made as many files as it may (PermissionError).
    #[error("this run may make no more archive files")]
    Limit,
    /// No such file, or none the caller may see (IOError).
    #[error("{0}")]
    NotFound(String),
    /// librrd or the file system failed (IOError).
    #[error("{0}")]
    Failed(String),
}

/// Which files a caller reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// Every file below the root (a caller who sees every site).
    Every,
    /// The files inside these top-level directories (the probes of the caller's sites,
    /// `probe_dir_name` of their names).
    Probes(HashSet<String>),
}

/// May a caller write archive files? An operator or an administrator who sees every site.
pub fn may_write(role: Role, every_site: bool) -> Result<(), ScriptFileError> {
    if role < Role::Operator {
        return Err(ScriptFileError::Role(format!(
            "writing archive files needs the operator role (the caller is a {})",
            role.as_str()
        )));
    }
    if !every_site {
        return Err(ScriptFileError::Role(
            "writing archive files needs access to every site: scripts/ is shared by every such caller".into(),
        ));
    }
    Ok(())
}

/// Writes a librrd message without the server's directories.
fn hide_root(root: &Path, resolved: Option<&Path>, msg: String) -> String {
    let mut msg = msg;
    for r in resolved.into_iter().chain(std::iter::once(root)) {
        let r = r.display().to_string();
        if !r.is_empty() {
            msg = msg.replace(&format!("{r}/"), "").replace(&r, "<archive root>");
        }
    }
    msg
}

/// ntop's `rrd_fetch`: the file at `path` (relative to `root`) over the AT-style window
/// `start`..`end` (`now-1h`, `e-30min`, epoch seconds; `now` given) with the consolidation
/// function named `cf`, as librrd returns it.
pub fn fetch(
    root: &Path,
    path: &str,
    cf: &str,
    start: &str,
    end: &str,
    now: i64,
    scope: &ReadScope,
) -> Result<Table, ScriptFileError> {
    let invalid = ScriptFileError::Invalid;
    let cf_fn = consolidation(cf)
        .ok_or_else(|| invalid(format!("unknown consolidation function {cf:?}: AVERAGE, MIN, MAX or LAST")))?;
    let start_at = at::parse(start).map_err(|e| invalid(format!("start time {e}")))?;
    let end_at = at::parse(end).map_err(|e| invalid(format!("end time {e}")))?;
    let (s, e) = at::resolve_window(&start_at, &end_at, now).map_err(|e| invalid(e.to_string()))?;
    if e.saturating_sub(s) > MAX_WINDOW_SECS || e > MAX_TIME {
        return Err(invalid(format!("the window {s}..{e} is longer than ten years or ends after 2099")));
    }
    let (file, resolved) = resolve_read(root, path, scope)?;
    let table = fetch_table(&file, cf_fn, s, e)
        .map_err(|err| ScriptFileError::Failed(hide_root(root, Some(&resolved), err.0)))?;
    if table.values.len() > MAX_FETCH_VALUES {
        return Err(invalid(format!(
            "{path}: the window holds {} values at this file's resolution, more than {MAX_FETCH_VALUES}: fetch a shorter one",
            table.values.len()
        )));
    }
    Ok(table)
}

/// The file a caller reads at `path`, resolved inside the root, and the resolved root.
fn resolve_read(root: &Path, path: &str, scope: &ReadScope) -> Result<(PathBuf, PathBuf), ScriptFileError> {
    let p = ArchivePath::parse(path, true).map_err(|e| ScriptFileError::Invalid(e.to_string()))?;
    let not_found = || ScriptFileError::NotFound(format!("no archive file {path:?}"));
    let r = Root::new(root);
    let Some(resolved) = r.resolved().map(Path::to_path_buf) else { return Err(not_found()) };
    // An ArchivePath has no glob character: the pattern is the path itself.
    let m = r.matches(p.as_str()).map_err(|e| ScriptFileError::Failed(e.to_string()))?;
    let Some(file) = m.files.into_iter().next() else { return Err(not_found()) };
    let top = file
        .path
        .strip_prefix(&resolved)
        .ok()
        .and_then(|rel| rel.components().next())
        .and_then(|c| c.as_os_str().to_str())
        .map(str::to_string)
        .ok_or_else(not_found)?;
    match scope {
        ReadScope::Every => {}
        ReadScope::Probes(dirs) if dirs.contains(&top) && !RESERVED_DIRS.contains(&top.as_str()) => {}
        ReadScope::Probes(_) => return Err(not_found()),
    }
    Ok((file.path, resolved))
}

/// ntop's `updateRRDCounter`/`updateRRDGauge`: writes `value` at `at_secs` to
/// `<root>/<path>/<key>.rrd` (a `/` in `key` becomes `_`, as ntop did), making it (and its
/// directories) when missing if `may_create`, with step `step`. The caller's right to write is
/// [`may_write`]'s; the path's is checked here.
pub fn update(
    root: &Path,
    path: &str,
    key: &str,
    value: Value,
    step: i64,
    at_secs: i64,
    may_create: bool,
) -> Result<Update, ScriptFileError> {
    let invalid = ScriptFileError::Invalid;
    let step = u64::try_from(step).ok().filter(|s| (1..=MAX_STEP_SECS).contains(s)).ok_or_else(|| {
        invalid(format!(
            "step {step}: a file's step is 1 to {MAX_STEP_SECS} seconds (ntop's 0 meant its 300 s default: pass 300)"
        ))
    })?;
    if let Value::Gauge(v) = value {
        if !v.is_finite() {
            return Err(invalid(format!("{v} is not a finite number")));
        }
        if v < 0.0 {
            return Err(invalid(format!("{v}: a gauge's minimum is 0 (ntop's layout); it would be stored as unknown")));
        }
    }
    if key.is_empty() {
        return Err(invalid("the key (the file's name) is empty".into()));
    }
    let rel = format!("{}/{}.rrd", path.trim_end_matches('/'), key.replace('/', "_"));
    let p = ArchivePath::parse(&rel, true).map_err(|e| invalid(e.to_string()))?;
    let parts: Vec<&str> = p.as_str().split('/').collect();
    let (file_name, dirs) = parts.split_last().ok_or_else(|| invalid(format!("{rel:?}: no file name")))?;
    match dirs.first().copied() {
        Some(SCRIPTS_DIR) => {}
        Some(ALARM_DIR) => {
            return Err(ScriptFileError::Forbidden(format!(
                "{rel}: {ALARM_DIR}/ holds the controller's own check history; scripts write below {SCRIPTS_DIR}/"
            )));
        }
        _ => {
            return Err(ScriptFileError::Forbidden(format!(
                "{rel}: scripts write below {SCRIPTS_DIR}/ only (the other directories are probes', which the \
                 archiver derives from the database and may rebuild)"
            )));
        }
    }
    if dirs.len() > 1 + MAX_SUBDIRS {
        return Err(invalid(format!("{rel}: at most {MAX_SUBDIRS} directories below {SCRIPTS_DIR}/")));
    }
    let resolved = root
        .canonicalize()
        .map_err(|e| ScriptFileError::Failed(format!("the archive root cannot be reached: {}", e.kind())))?;
    let failed = |what: &str, e: std::io::Error| ScriptFileError::Failed(format!("{what}: {e}"));
    let mut dir = resolved.clone();
    for (i, d) in dirs.iter().enumerate() {
        dir.push(d);
        let shown = dirs[..=i].join("/");
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(ScriptFileError::Forbidden(format!(
                    "{shown} is a symbolic link or a file, not a directory: not followed"
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(&shown, e)),
        }
        if !may_create {
            return Err(ScriptFileError::Limit);
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // Made by another run meanwhile: looked at again.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !std::fs::symlink_metadata(&dir).map(|m| m.is_dir()).unwrap_or(false) {
                    return Err(ScriptFileError::Forbidden(format!("{shown} is not a directory")));
                }
            }
            Err(e) => return Err(failed(&shown, e)),
        }
    }
    let file = dir.join(file_name);
    match std::fs::symlink_metadata(&file) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Err(ScriptFileError::Forbidden(format!(
                "{rel} is a symbolic link or a directory, not a file: not followed"
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !may_create {
                return Err(ScriptFileError::Limit);
            }
        }
        Err(e) => return Err(failed(&rel, e)),
    }
    files::update_at(&file, value, step, at_secs)
        .map_err(|e| ScriptFileError::Failed(hide_root(root, Some(&resolved), e.to_string())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::files::{Kind, Point, append};

    const T0: i64 = 1_490_976_000;

    fn probes(dirs: &[&str]) -> ReadScope {
        ReadScope::Probes(dirs.iter().map(|d| d.to_string()).collect())
    }

    /// A probe file with known values, another site's probe, a link out of the root and a
    /// link from one probe into another.
    fn archive() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rrd");
        let pts: Vec<Point> =
            (0..6).map(|i| Point { start: T0 + 60 * i, end: T0 + 60 * (i + 1), value: (i + 1) as f64 }).collect();
        append(&root.join("pa/interfaces/eth0/throughput.rrd"), Kind::Rate, 60, &pts).unwrap();
        append(&root.join("pb/interfaces/eth1/throughput.rrd"), Kind::Rate, 60, &pts).unwrap();
        append(&root.join("rrdAlarm/duration.rrd"), Kind::Level, 60, &pts).unwrap();
        std::fs::write(dir.path().join("outside.rrd"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.rrd"), root.join("pa/out.rrd")).unwrap();
        std::os::unix::fs::symlink(root.join("pb/interfaces/eth1/throughput.rrd"), root.join("pa/alias.rrd")).unwrap();
        dir
    }

    #[test]
    fn reads_keep_to_the_callers_probes_and_the_root() {
        let dir = archive();
        let root = dir.path().join("rrd");
        // Just before a step boundary: librrd's last row is the step that ends there.
        let end = (T0 + 359).to_string();
        let get = |path: &str, scope: &ReadScope| fetch(&root, path, "AVERAGE", &T0.to_string(), &end, T0, scope);
        let t = get("pa/interfaces/eth0/throughput.rrd", &probes(&["pa"])).unwrap();
        assert_eq!((t.start, t.end, t.step), (T0, T0 + 360, 60));
        assert_eq!(t.names, ["gauge"]);
        assert_eq!(t.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Another site's file, a file through a link into it, the controller's own, a missing
        // one: all "no such file" to a caller limited to pa.
        for p in ["pb/interfaces/eth1/throughput.rrd", "pa/alias.rrd", "rrdAlarm/duration.rrd", "pa/none.rrd"] {
            assert!(matches!(get(p, &probes(&["pa"])), Err(ScriptFileError::NotFound(_))), "{p}");
        }
        // Every site: the link inside the root is followed, the controller's files are read.
        assert_eq!(get("pa/alias.rrd", &ReadScope::Every).unwrap().values, t.values);
        assert!(get("rrdAlarm/duration.rrd", &ReadScope::Every).is_ok());
        // A link out of the root is nobody's.
        assert!(matches!(get("pa/out.rrd", &ReadScope::Every), Err(ScriptFileError::NotFound(_))));
        for bad in ["../outside.rrd", "/etc/passwd", "pa/../pb/interfaces/eth1/throughput.rrd", "pa/.x.rrd", "pa"] {
            assert!(matches!(get(bad, &ReadScope::Every), Err(ScriptFileError::Invalid(_))), "{bad}");
        }
        let bad_cf =
            fetch(&root, "pa/interfaces/eth0/throughput.rrd", "MEDIAN", "now-1h", "now", T0, &ReadScope::Every);
        assert!(matches!(bad_cf, Err(ScriptFileError::Invalid(_))));
        let p = "pa/interfaces/eth0/throughput.rrd";
        for (s, e) in [("now", "now-1h"), ("noon", "now"), ("0", "now"), ("now-20y", "now")] {
            let r = fetch(&root, p, "AVERAGE", s, e, T0, &ReadScope::Every);
            assert!(matches!(r, Err(ScriptFileError::Invalid(_))), "{s}..{e}: {r:?}");
        }
        // librrd's own refusal (not an RRD file) comes back without the server's directories.
        std::fs::write(root.join("pa/bad.rrd"), b"not an rrd").unwrap();
        match fetch(&root, "pa/bad.rrd", "MIN", "now-1h", "now", T0, &ReadScope::Every) {
            Err(ScriptFileError::Failed(m)) => {
                assert!(m.contains("pa/bad.rrd") && !m.contains(&dir.path().display().to_string()), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn writes_go_below_scripts_only_never_through_links() {
        let dir = archive();
        let root = dir.path().join("rrd");
        let put = |path: &str, key: &str, create: bool| update(&root, path, key, Value::Gauge(1.5), 60, T0, create);
        assert_eq!(put("scripts/lab", "temp", true).unwrap(), Update::Written { created: true });
        assert!(root.join("scripts/lab/temp.rrd").is_file());
        // ntop's trailing slash, a '/' in the key.
        assert_eq!(put("scripts/lab/", "a/b", true).unwrap(), Update::Written { created: true });
        assert!(root.join("scripts/lab/a_b.rrd").is_file());
        assert_eq!(put("scripts/a/b/c/d/e", "deepest", true).unwrap(), Update::Written { created: true });
        // The same second again: not written, not an error; an existing file needs no budget.
        assert_eq!(put("scripts/lab", "temp", false).unwrap(), Update::NotAfterLast { last: T0 });
        // A new file or directory needs the budget.
        assert_eq!(put("scripts/lab", "new", false), Err(ScriptFileError::Limit));
        assert_eq!(put("scripts/other", "x", false), Err(ScriptFileError::Limit));
        assert!(!root.join("scripts/other").exists());
        for (path, key) in [("pa/interfaces/eth0", "x"), ("rrdAlarm", "duration"), ("elsewhere", "x")] {
            assert!(matches!(put(path, key, true), Err(ScriptFileError::Forbidden(_))), "{path}/{key}");
        }
        let invalid = [
            ("../scripts", "x"),
            ("/tmp/scripts", "x"),
            ("scripts/..", "x"),
            ("scripts", ""),
            ("scripts", "a b"),
            ("", "x"),
        ];
        for (path, key) in invalid {
            assert!(matches!(put(path, key, true), Err(ScriptFileError::Invalid(_))), "{path}/{key}");
        }
        // Links are not followed: a directory link into a probe's directory, a file link out.
        std::os::unix::fs::symlink(root.join("pa"), root.join("scripts/intopa")).unwrap();
        assert!(matches!(
            put("scripts/intopa/interfaces/eth0", "throughput", true),
            Err(ScriptFileError::Forbidden(_))
        ));
        std::os::unix::fs::symlink(dir.path().join("outside.rrd"), root.join("scripts/lab/out.rrd")).unwrap();
        assert!(matches!(put("scripts/lab", "out", true), Err(ScriptFileError::Forbidden(_))));
        assert_eq!(std::fs::read(dir.path().join("outside.rrd")).unwrap(), b"x");
        // Steps and values out of bounds.
        for step in [0, -1, 86_401, i64::MAX] {
            let r = update(&root, "scripts/lab", "s", Value::Gauge(1.0), step, T0, true);
            assert!(matches!(r, Err(ScriptFileError::Invalid(_))), "{step}");
        }
        for v in [f64::NAN, f64::INFINITY, -1.0] {
            let r = update(&root, "scripts/lab", "v", Value::Gauge(v), 60, T0, true);
            assert!(matches!(r, Err(ScriptFileError::Invalid(_))), "{v}");
        }
        let c = update(&root, "scripts/lab", "count", Value::Counter(u64::MAX), 10, T0, true).unwrap();
        assert_eq!(c, Update::Written { created: true });
        // What a script wrote, it reads back (every site).
        let later = T0 + 60;
        update(&root, "scripts/lab", "temp", Value::Gauge(4.0), 60, later, false).unwrap();
        let t = fetch(&root, "scripts/lab/temp.rrd", "AVERAGE", "e-60", &later.to_string(), later, &ReadScope::Every)
            .unwrap();
        assert!(t.values.contains(&4.0), "{t:?}");
    }

    #[test]
    fn writers_are_operators_who_see_every_site() {
        assert!(matches!(may_write(Role::Viewer, true), Err(ScriptFileError::Role(_))));
        assert!(matches!(may_write(Role::Admin, false), Err(ScriptFileError::Role(_))));
        assert!(may_write(Role::Operator, true).is_ok());
        assert!(may_write(Role::Admin, true).is_ok());
    }
}
