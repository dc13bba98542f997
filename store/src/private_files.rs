//! Files that hold secrets (private keys, the embedded cluster's password) and the directories
//! they live in. Every writer of a secret goes through here, so that none follows a symbolic
//! link planted where the file will be, reuses a file someone else made (and can still read),
//! or has a moment where the file exists with a looser mode: files are opened `create_new`
//! with mode 0600 and `O_NOFOLLOW`; directories are made 0700, and an existing one is accepted
//! only when it is a real directory owned by this user.
//!
//! It must not decide where secrets go (its callers do) and knows nothing of their format.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

fn refuse(path: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::AlreadyExists, format!("refusing to use {}: {why}", path.display()))
}

fn with_path(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Checks that an existing `dir` is a real directory (not a symbolic link) owned by this user,
/// and makes it 0700.
fn adopt_dir(dir: &Path) -> io::Result<std::fs::Metadata> {
    let meta = std::fs::symlink_metadata(dir).map_err(with_path(dir))?;
    if meta.file_type().is_symlink() {
        return Err(refuse(dir, "it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse(dir, "it exists and is not a directory"));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(refuse(dir, "it belongs to another user"));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(with_path(dir))?;
    Ok(meta)
}

fn create_dir(dir: &Path) -> io::Result<bool> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(with_path(parent))?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(with_path(dir)(e)),
    }
}

/// Makes `dir` a new private directory (0700) for secrets written once (a probe identity).
/// An existing directory is refused unless it is an empty real directory of this user (a
/// symbolic link, another user's directory, or one with anything in it is refused: a file
/// planted there could be read or followed later).
pub fn fresh_dir(dir: &Path) -> io::Result<()> {
    if create_dir(dir)? {
        return Ok(());
    }
    adopt_dir(dir)?;
    if std::fs::read_dir(dir).map_err(with_path(dir))?.next().is_some() {
        return Err(refuse(dir, "it already exists and is not empty (give a new directory)"));
    }
    Ok(())
}

/// Makes sure `dir` is a private directory (0700) of this user, made if missing, its contents
/// kept (the controller's own directories under its data directory, re-used on every start).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if create_dir(dir)? {
        return Ok(());
    }
    adopt_dir(dir).map(|_| ())
}

/// Writes `data` to a new file at `path`, mode 0600: refused if anything (a file, a symbolic
/// link) is already there.
pub fn write_new(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                refuse(path, "a file or link of that name already exists")
            } else {
                with_path(path)(e)
            }
        })?;
    f.write_all(data).map_err(with_path(path))?;
    f.sync_all().map_err(with_path(path))?;
    Ok(())
}

/// Replaces the file at `path` (or makes it) with `data`, mode 0600: written to a new file
/// beside it and renamed over it (a rename replaces a symbolic link, never follows it). The
/// directory should be one [`private_dir`] vouched for.
pub fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| io::Error::other(format!("no randomness available: {e}")))?;
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", hex(&tag)));
    write_new(&tmp, data)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        with_path(path)(e)
    })
}

/// Reads a secret file: refused when it is a symbolic link, not a regular file, or readable
/// or writable by others than its owner (a secret someone else could have read or replaced).
pub fn read(path: &Path) -> io::Result<String> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(with_path(path))?;
    let meta = f.metadata().map_err(with_path(path))?;
    if !meta.is_file() {
        return Err(refuse(path, "it is not a regular file"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(path, "it is readable or writable by other users (expected mode 0600)"));
    }
    let mut s = String::new();
    f.take(1 << 20).read_to_string(&mut s).map_err(with_path(path))?;
    Ok(s)
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> io::Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| io::Error::other(format!("no randomness available: {e}")))?;
    Ok(hex(&b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn write_new_refuses_a_planted_link_and_makes_0600_files() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("id");
        fresh_dir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        write_new(&dir.join("k"), b"secret").unwrap();
        assert_eq!(std::fs::metadata(dir.join("k")).unwrap().mode() & 0o777, 0o600);
        let target = t.path().join("elsewhere");
        std::os::unix::fs::symlink(&target, dir.join("l")).unwrap();
        assert!(write_new(&dir.join("l"), b"x").is_err());
        assert!(!target.exists(), "written through the link");
        // Not empty any more: a second identity cannot go there.
        assert!(fresh_dir(&dir).is_err());
        // A link to a directory is refused as a directory.
        let link = t.path().join("linkdir");
        std::os::unix::fs::symlink(t.path(), &link).unwrap();
        assert!(fresh_dir(&link).is_err());
        assert!(private_dir(&link).is_err());
        // Replace renames over a link instead of following it.
        replace(&dir.join("l"), b"new").unwrap();
        assert!(!target.exists());
        assert_eq!(read(&dir.join("l")).unwrap(), "new");
    }
}
