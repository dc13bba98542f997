//! The command line's administration commands over the database: probes (enrol, revoke,
//! list), API users (add, list, disable, enable) and the stored totals (`hosts`). Each opens
//! the database (starting the embedded cluster if needed), does its work, closes it, and
//! prints its result on stdout; the binary only parses arguments and calls them.

use std::io::Write;
use std::path::Path;

use crate::{Config, Database, ca, report};

/// Output of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
}

/// Makes a probe identity (certificate, key, CA certificate) in `out` and records the
/// enrolment. `force` re-enrols an existing probe (its older certificates are revoked);
/// `move_site` also lets it move to another site, with its stored history.
pub async fn enroll(
    cfg: &Config,
    name: &str,
    site: &str,
    out: &Path,
    force: bool,
    move_site: bool,
) -> anyhow::Result<()> {
    // The identity's directory first: a refused one must not leave an enrolled certificate
    // nobody holds.
    wirewatch_store::private_files::fresh_dir(out)?;
    let db = Database::open(cfg).await?;
    let result = async {
        let ca = ca::Ca::load_or_create(&cfg.data_dir, &db.store).await?;
        let leaf = ca.sign_probe(name, site)?;
        db.store.enroll_into(name, site, &leaf.sha256, force, move_site).await?;
        ca::write_identity(out, &leaf, &ca)?;
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result?;
    println!("probe {name} (site {site}) enrolled; identity written to {}", out.display());
    Ok(())
}

/// Revokes a probe: its certificates are refused at the handshake from now on.
pub async fn revoke(cfg: &Config, name: &str) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let r = db.store.revoke(name).await;
    db.close().await;
    let certs = r?;
    println!("probe {name} revoked ({} certificate(s)); controllers refuse it within seconds", certs.len());
    Ok(())
}

/// `rrd rebuild`: recreates the RRD archive from PostgreSQL (beside the old one, then swapped).
pub async fn rrd_rebuild(cfg: &Config) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let root = cfg.rrd.root(&cfg.data_dir);
    let archiver = wirewatch_rrd::Archiver::new(db.store.clone(), cfg.rrd.clone(), root.clone());
    let r = archiver.rebuild().await;
    db.close().await;
    let r = r?;
    println!(
        "rebuilt {}: {} files, {} intervals written, {} errors",
        root.display(),
        r.files_created,
        r.intervals_written,
        r.errors
    );
    anyhow::ensure!(r.errors == 0, "{} archive files failed (see the log)", r.errors);
    Ok(())
}

/// Lists probes with their status.
pub async fn list_probes(cfg: &Config, format: Format) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let r = db.store.probes().await;
    db.close().await;
    let probes = r?;
    match format {
        Format::Json => println!("{}", serde_json::to_string(&probes)?),
        Format::Table => {
            println!(
                "{:<16} {:<12} {:<8} {:<10} {:>10} {:>8} {:>8}  LAST BATCH",
                "PROBE", "SITE", "STATE", "VERSION", "LAST SEQ", "SPOOLED", "DROPPED"
            );
            for p in probes {
                println!(
                    "{:<16} {:<12} {:<8} {:<10} {:>10} {:>8} {:>8}  {}",
                    p.name,
                    p.site,
                    if p.revoked { "revoked" } else { "enrolled" },
                    p.software_version.unwrap_or_default(),
                    p.last_seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                    p.spool_pending_batches,
                    p.spool_dropped_batches,
                    p.last_batch_at.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// Prints the stored totals, in the shape of `wirewatch-probe read`.
pub async fn hosts(cfg: &Config, site: Option<String>, probe: Option<String>, format: Format) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let r = db.store.totals(&wirewatch_store::totals::Scope { site, probe }).await;
    db.close().await;
    let totals = r?;
    let rebuilt = report::rebuild(&totals);
    let merged = rebuilt.merged();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Json => {
            merged.write_json(&mut out)?;
            writeln!(out)?;
        }
        Format::Table => out.write_all(wirewatch_probe::report::table(&merged.into_report()).as_bytes())?,
    }
    out.flush()?;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    wirewatch_mobile_api::auth::check_password(&p)?;
    Ok(p)
}

/// Adds an API user with `role` (`admin`, `operator` or `viewer`) and `sites` (`None`: all);
/// the password is one line of standard input (never the command line).
pub async fn add_user(cfg: &Config, name: &str, role: &str, sites: Option<Vec<String>>) -> anyhow::Result<()> {
    use wirewatch_mobile_api::auth;
    auth::check_user_name(name)?;
    let password = read_password()?;
    let db = Database::open(cfg).await?;
    let result = async {
        let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password)).await??;
        if let Some(list) = &sites {
            anyhow::ensure!(list.iter().all(|s| !s.is_empty()), "empty site name in --sites");
        }
        let u = db.store.create_user(name, &hash, role, sites.as_deref()).await?;
        let scope = u.sites.map(|s| s.join(",")).unwrap_or_else(|| "all sites".into());
        println!("user {} added (role {}, {scope})", u.name, u.role);
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result
}

/// Lists the API users.
pub async fn list_users(cfg: &Config, format: Format) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let r = db.store.users().await;
    db.close().await;
    let users = r?;
    match format {
        Format::Json => println!("{}", serde_json::to_string(&users)?),
        Format::Table => {
            println!("{:<20} {:<9} {:<9} {:<25} SITES", "USER", "ROLE", "STATE", "CREATED");
            for u in users {
                println!(
                    "{:<20} {:<9} {:<9} {:<25} {}",
                    u.name,
                    u.role,
                    if u.disabled { "disabled" } else { "enabled" },
                    u.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    u.sites.map(|s| s.join(",")).unwrap_or_else(|| "(all)".into())
                );
            }
        }
    }
    Ok(())
}

/// Disables a user (sign-in refused, their sessions and API tokens revoked) or enables them
/// again (they sign in anew; old tokens stay revoked).
pub async fn set_user_disabled(cfg: &Config, name: &str, disabled: bool) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let r = db.store.set_user_disabled(name, disabled).await;
    db.close().await;
    r?;
    if disabled {
        println!("user {name} disabled; their sessions and API tokens are revoked");
    } else {
        println!("user {name} enabled");
    }
    Ok(())
}
