//! Graphs and file listings for the HTTP layer ([`wirewatch_model::Archives`]). librrd's graph
//! calls keep global state (not thread-safe), so one OS thread, `rrd-graph`, renders every
//! graph, fed by a bounded queue (full: busy). Paths come already checked against the
//! caller's probes ([`ArchivePath`]); here they are resolved below the root, and a file
//! reached through a symbolic link or outside the root is "not found".

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, UNIX_EPOCH};

use rrd::ConsolidationFn;
use rrd::ops::graph::elements::{Area, ColorWithLegend, Def, GraphElement, Legend, VarName};
use rrd::ops::graph::props::{GraphProps, ImageFormat, Labels, Size, TimeRange};
use wirewatch_model::archive::{ArchiveError, ArchivePath, Archives, GraphFormat, GraphRequest};
use wirewatch_model::scripts::BoxFuture;

type Job = (GraphRequest, tokio::sync::oneshot::Sender<Result<Vec<u8>, ArchiveError>>);

/// The renderer and the listing of one archive root.
pub struct Graphs {
    root: PathBuf,
    queue: SyncSender<Job>,
}

impl Graphs {
    /// Starts the rendering thread (it ends when this is dropped).
    pub fn start(root: PathBuf, queue: usize) -> std::io::Result<Graphs> {
        let (tx, rx) = sync_channel::<Job>(queue.max(1));
        let r = root.clone();
        std::thread::Builder::new().name("rrd-graph".into()).spawn(move || {
            while let Ok((req, reply)) = rx.recv() {
                let out = std::panic::catch_unwind(|| render(&r, &req))
                    .unwrap_or_else(|_| Err(ArchiveError::Failed("the renderer panicked".into())));
                let _ = reply.send(out);
            }
        })?;
        Ok(Graphs { root, queue: tx })
    }
}

/// The file of `path` below `root`, if it is a regular file reached without leaving the root.
fn resolve(root: &Path, path: &ArchivePath) -> Result<PathBuf, ArchiveError> {
    let not_found = || ArchiveError::NotFound(path.as_str().to_string());
    let root = root.canonicalize().map_err(|_| not_found())?;
    let full = root.join(path.as_str());
    let meta = std::fs::symlink_metadata(&full).map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(not_found());
    }
    let real = full.canonicalize().map_err(|_| not_found())?;
    if !real.starts_with(&root) || real != full {
        return Err(not_found());
    }
    Ok(real)
}

fn render(root: &Path, req: &GraphRequest) -> Result<Vec<u8>, ArchiveError> {
    let file = resolve(root, &req.path)?;
    let failed = |e: rrd::error::RrdError| ArchiveError::Failed(e.to_string());
    let info = rrd::ops::info::info(&file).map_err(failed)?;
    // The first data source (ours have one: `counter` or `gauge`).
    let ds = info
        .keys()
        .filter_map(|k| k.strip_prefix("ds[").and_then(|k| k.strip_suffix("].type")))
        .min()
        .map(str::to_string)
        .ok_or_else(|| ArchiveError::Failed(format!("{} has no data source", req.path.as_str())))?;
    // rrdgraph splits its arguments on ':' (the root may hold one; our names never do).
    let escaped = PathBuf::from(file.to_string_lossy().replace(':', "\\:"));
    let t = |s: i64| UNIX_EPOCH + Duration::from_secs(u64::try_from(s).unwrap_or(0));
    let var = VarName::new("v").map_err(|e| ArchiveError::Failed(e.to_string()))?;
    let elements: Vec<GraphElement> = vec![
        Def {
            var_name: var.clone(),
            rrd: escaped,
            ds_name: ds.clone(),
            consolidation_fn: ConsolidationFn::Avg,
            step: None,
            start: None,
            end: None,
            reduce: None,
        }
        .into(),
        Area {
            value: var,
            color: Some(ColorWithLegend {
                color: rrd::ops::graph::elements::AreaColor::Color(rrd::ops::graph::Color {
                    red: 0x33,
                    green: 0x77,
                    blue: 0xcc,
                    alpha: None,
                }),
                legend: Some(Legend::new(ds)),
            }),
            stack: false,
            skip_scale: false,
        }
        .into(),
    ];
    let props = GraphProps {
        time_range: TimeRange { start: Some(t(req.start)), end: Some(t(req.end)), step_seconds: None },
        labels: Labels { title: Some(req.path.as_str().to_string()), vertical_label: None },
        size: Size { width: Some(req.width), height: Some(req.height), full_size_mode: true, only_graph: false },
        ..Default::default()
    };
    let format = match req.format {
        GraphFormat::Png => ImageFormat::Png,
        GraphFormat::Svg => ImageFormat::Svg,
    };
    let (image, _) = rrd::ops::graph::graph(format, &props, &elements).map_err(failed)?;
    Ok(image)
}

/// The `.rrd` files below `dir` (relative to `root`), depth-first, no symbolic links followed.
fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        let Ok(rel) = path.strip_prefix(root) else { continue };
        let Some(rel) = rel.to_str() else { continue };
        if ft.is_dir() {
            // Only directories that can still lead to the prefix.
            let with_slash = format!("{rel}/");
            if with_slash.starts_with(prefix) || prefix.starts_with(&with_slash) {
                walk(root, &path, prefix, out, depth + 1);
            }
        } else if ft.is_file() && rel.ends_with(".rrd") && rel.starts_with(prefix) {
            out.push(rel.to_string());
        }
    }
}

impl Archives for Graphs {
    fn graph(&self, req: GraphRequest) -> BoxFuture<'_, Result<Vec<u8>, ArchiveError>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            match self.queue.try_send((req, tx)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(ArchiveError::Busy),
                Err(TrySendError::Disconnected(_)) => return Err(ArchiveError::Failed("the renderer stopped".into())),
            }
            rx.await.map_err(|_| ArchiveError::Failed("the renderer dropped the request".into()))?
        })
    }

    fn files(
        &self,
        probe_dirs: Vec<String>,
        prefix: ArchivePath,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<String>, ArchiveError>> {
        let root = self.root.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let prefix = prefix.as_str();
                let mut out = Vec::new();
                for p in probe_dirs {
                    let top = format!("{p}/");
                    if top.starts_with(prefix) || prefix.starts_with(&top) {
                        let dir = root.join(&p);
                        if std::fs::symlink_metadata(&dir).map(|m| m.is_dir()).unwrap_or(false) {
                            walk(&root, &dir, prefix, &mut out, 1);
                        }
                    }
                }
                out.sort();
                out.truncate(limit);
                out
            })
            .await
            .map_err(|e| ArchiveError::Failed(e.to_string()))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::files::{Kind, Point, append};

    /// Width and height of a PNG (its IHDR chunk).
    fn png_size(b: &[u8]) -> (u32, u32) {
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
        (u32::from_be_bytes(b[16..20].try_into().unwrap()), u32::from_be_bytes(b[20..24].try_into().unwrap()))
    }

    #[tokio::test]
    async fn renders_the_requested_size_and_lists_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = 1_490_976_000;
        let f = dir.path().join("pa/interfaces/eth0/ethernetBytes.rrd");
        append(&f, Kind::Count, 10, &[Point { start: t0, end: t0 + 10, value: 100.0 }]).unwrap();
        std::fs::create_dir_all(dir.path().join("pb/interfaces/x")).unwrap();
        std::fs::write(dir.path().join("pb/interfaces/x/a.rrd"), b"").unwrap();
        let g = Graphs::start(dir.path().to_path_buf(), 4).unwrap();
        let req = |path: &str, format| GraphRequest {
            path: ArchivePath::parse(path, true).unwrap(),
            start: t0 - 600,
            end: t0 + 600,
            width: 400,
            height: 150,
            format,
        };
        let png = g.graph(req("pa/interfaces/eth0/ethernetBytes.rrd", GraphFormat::Png)).await.unwrap();
        assert_eq!(png_size(&png), (400, 150));
        let svg = g.graph(req("pa/interfaces/eth0/ethernetBytes.rrd", GraphFormat::Svg)).await.unwrap();
        assert!(String::from_utf8_lossy(&svg).contains("<svg"));
        assert!(matches!(
            g.graph(req("pa/interfaces/eth0/none.rrd", GraphFormat::Png)).await,
            Err(ArchiveError::NotFound(_))
        ));
        // A link inside the root pointing out of it is not followed.
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("pa/link.rrd")).unwrap();
        assert!(matches!(g.graph(req("pa/link.rrd", GraphFormat::Png)).await, Err(ArchiveError::NotFound(_))));
        let all = g.files(vec!["pa".into()], ArchivePath::parse("", false).unwrap(), 100).await.unwrap();
        assert_eq!(all, ["pa/interfaces/eth0/ethernetBytes.rrd"]);
        let some =
            g.files(vec!["pa".into(), "pb".into()], ArchivePath::parse("pb/inter", false).unwrap(), 100).await.unwrap();
        assert_eq!(some, ["pb/interfaces/x/a.rrd"]);
        let none = g.files(vec!["pa".into()], ArchivePath::parse("pb/", false).unwrap(), 100).await.unwrap();
        assert!(none.is_empty());
    }
}
