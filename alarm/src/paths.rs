//! The files a threshold's glob matches under the archive root, as Python's `glob.glob` did
//! for ntop (`*` and `?` do not match a leading dot or a `/`), sorted, and never outside the
//! root: every match is resolved (symlinks included) and dropped unless it is a regular file
//! inside the resolved root. Globs are validated before they get here
//! ([`crate::config::validate_glob`]), so `..` and absolute paths never reach the filesystem.

use std::path::{Path, PathBuf};

/// A matched file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Its path relative to the root, `/`-separated, as the glob matched it (a report shows
    /// this, not the server's directories).
    pub relative: String,
    /// Its resolved path (inside the root).
    pub path: PathBuf,
}

/// What a glob matched: files, and matches that could not be read (a directory without
/// permission), each with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    pub files: Vec<Matched>,
    pub unreadable: Vec<(String, String)>,
}

/// Why a glob could not be run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("the RRD root {0} is not a UTF-8 path")]
    RootNotUtf8(String),
    #[error("bad glob {glob:?}: {reason}")]
    Pattern { glob: String, reason: String },
}

/// The archive root, resolved once per check.
#[derive(Debug, Clone)]
pub struct Root {
    given: PathBuf,
    resolved: Option<PathBuf>,
}

impl Root {
    /// A root that does not exist (yet) matches nothing.
    pub fn new(dir: &Path) -> Root {
        Root { given: dir.to_path_buf(), resolved: std::fs::canonicalize(dir).ok() }
    }

    pub fn path(&self) -> &Path {
        &self.given
    }

    /// The root with its symbolic links resolved (what every match lies inside); `None` when it
    /// does not exist.
    pub fn resolved(&self) -> Option<&Path> {
        self.resolved.as_deref()
    }

    /// The regular files inside the root that `pattern` (relative to it) matches, sorted by
    /// their relative path.
    pub fn matches(&self, pattern: &str) -> Result<Matches, MatchError> {
        let mut out = Matches::default();
        let Some(resolved) = &self.resolved else { return Ok(out) };
        let given = self.given.to_str().ok_or_else(|| MatchError::RootNotUtf8(self.given.display().to_string()))?;
        let full = format!("{}/{}", glob::Pattern::escape(given.trim_end_matches('/')), pattern);
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let paths = glob::glob_with(&full, options)
            .map_err(|e| MatchError::Pattern { glob: pattern.to_string(), reason: e.msg.to_string() })?;
        for entry in paths {
            match entry {
                Ok(p) => {
                    let Some(rel) = relative(&self.given, &p) else { continue };
                    match std::fs::canonicalize(&p) {
                        Ok(real) if real.starts_with(resolved) && real.is_file() => {
                            out.files.push(Matched { relative: rel, path: real });
                        }
                        // Outside the root through a symlink, a directory, or dangling: not
                        // an archive file.
                        Ok(_) => {}
                        Err(e) => out.unreadable.push((rel, e.to_string())),
                    }
                }
                Err(e) => {
                    let rel = relative(&self.given, e.path()).unwrap_or_else(|| e.path().display().to_string());
                    out.unreadable.push((rel, e.error().to_string()));
                }
            }
        }
        out.files.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(out)
    }
}

fn relative(root: &Path, p: &Path) -> Option<String> {
    let rel = p.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn matches_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        // A root whose own name has glob characters: escaped, not expanded.
        let root = dir.path().join("rr[d]");
        touch(&root.join("pa/interfaces/eth0/ethernetBytes.rrd"));
        touch(&root.join("pa/interfaces/eth0/ipBytes.rrd"));
        touch(&root.join("pa/interfaces/eth0/.hiddenBytes.rrd"));
        touch(&root.join("pb/interfaces/eth1/ethernetBytes.rrd"));
        std::fs::create_dir_all(root.join("pa/interfaces/dir.rrd")).unwrap();
        let outside = dir.path().join("secret.rrd");
        touch(&outside);
        std::os::unix::fs::symlink(&outside, root.join("pa/interfaces/eth0/linkBytes.rrd")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        // A symlink inside the root that stays inside is followed.
        std::os::unix::fs::symlink(root.join("pb/interfaces/eth1/ethernetBytes.rrd"), root.join("pa/alias.rrd"))
            .unwrap();

        let r = Root::new(&root);
        let names = |g: &str| r.matches(g).unwrap().files.into_iter().map(|m| m.relative).collect::<Vec<_>>();
        assert_eq!(
            names("pa/interfaces/eth0/*Bytes.rrd"),
            vec!["pa/interfaces/eth0/ethernetBytes.rrd", "pa/interfaces/eth0/ipBytes.rrd"]
        );
        assert_eq!(
            names("*/interfaces/*/ethernetBytes.rrd"),
            vec!["pa/interfaces/eth0/ethernetBytes.rrd", "pb/interfaces/eth1/ethernetBytes.rrd"]
        );
        assert_eq!(names("pa/*.rrd"), vec!["pa/alias.rrd"]);
        assert!(names("up/*.rrd").is_empty());
        assert!(names("pa/interfaces/*.rrd").is_empty());
        assert!(names("nothing/*.rrd").is_empty());
        // `*` does not cross a `/`.
        assert!(names("*Bytes.rrd").is_empty());
        // A missing root matches nothing.
        assert!(Root::new(&dir.path().join("none")).matches("*").unwrap().files.is_empty());
    }
}
