//! Reverse DNS names of hosts, resolved in the background: the API never waits for DNS. A
//! host seen without a name is queued (bounded, deduplicated); a worker resolves it, caches
//! the answer (positive or negative, with a lifetime) and stores a name on the host rows, where
//! lists, search and the detail view read it.
//!
//! A name is whatever the owner of the reverse zone says, so only LDH names are kept
//! ([`ldh_name`]: letters, digits, hyphens; IDNA labels in their ASCII `xn--` form, never
//! decoded): a name carrying markup or any other character is discarded, not stored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use tokio::sync::mpsc;
use wirewatch_store::Store;

const POSITIVE_TTL: Duration = Duration::from_secs(3600);
const NEGATIVE_TTL: Duration = Duration::from_secs(600);
const QUEUE: usize = 4096;

/// Address → (name or none, good until).
type Cache = std::sync::Arc<Mutex<HashMap<IpAddr, (Option<String>, Instant)>>>;

/// A DNS name from its raw labels if every label is an LDH label (RFC 5890's host name rule:
/// 1 to 63 of `a-z`, `0-9`, `-`, not starting or ending with `-`), lower case and joined with
/// dots, at most 253 characters; `None` otherwise. IDNA names stay in their `xn--` form.
pub fn ldh_name<'a>(labels: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    let mut out = String::new();
    for l in labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && l.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && l.first() != Some(&b'-')
            && l.last() != Some(&b'-');
        if !ok {
            return None;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.extend(l.iter().map(|b| char::from(b.to_ascii_lowercase())));
    }
    (!out.is_empty() && out.len() <= 253).then_some(out)
}

/// The resolver front: `request` never blocks.
pub struct Names {
    tx: mpsc::Sender<IpAddr>,
    cache: Cache,
}

impl Names {
    /// Starts the worker. `servers` empty: the system configuration (/etc/resolv.conf, hosts).
    pub fn start(store: Store, servers: &[std::net::SocketAddr], timeout: Duration) -> Result<Names, String> {
        let resolver = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| e.to_string())?.build().map_err(|e| e.to_string())?
        } else {
            let ns = servers
                .iter()
                .map(|s| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = s.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = s.port();
                    NameServerConfig::new(s.ip(), true, vec![udp, tcp])
                })
                .collect();
            let mut b = hickory_resolver::Resolver::builder_with_config(
                ResolverConfig::from_name_servers(ns),
                TokioRuntimeProvider::default(),
            );
            b.options_mut().timeout = timeout;
            b.options_mut().attempts = 1;
            b.build().map_err(|e| e.to_string())?
        };
        let (tx, mut rx) = mpsc::channel::<IpAddr>(QUEUE);
        let cache: Cache = Default::default();
        let c = cache.clone();
        tokio::spawn(async move {
            while let Some(ip) = rx.recv().await {
                let name = match resolver.reverse_lookup(ip).await {
                    Ok(l) => l.answers().iter().find_map(|r| match &r.data {
                        RData::PTR(p) => {
                            let name = ldh_name(p.0.iter());
                            if name.is_none() {
                                tracing::debug!(%ip, "reverse name is not an LDH host name: discarded");
                            }
                            name
                        }
                        _ => None,
                    }),
                    Err(e) => {
                        tracing::debug!(%ip, error = %e, "reverse lookup failed");
                        None
                    }
                };
                let ttl = if name.is_some() { POSITIVE_TTL } else { NEGATIVE_TTL };
                if let Ok(mut m) = c.lock() {
                    m.insert(ip, (name.clone(), Instant::now() + ttl));
                }
                if let Some(n) = name
                    && let Err(e) = store.set_host_name(&ip.to_string(), &n).await
                {
                    tracing::warn!(%ip, error = %e, "cannot store a host name");
                }
            }
        });
        Ok(Names { tx, cache })
    }

    /// The cached name of an address, queueing a lookup when there is no fresh answer.
    pub fn request(&self, ip: IpAddr) -> Option<String> {
        let now = Instant::now();
        if let Ok(mut m) = self.cache.lock() {
            match m.get(&ip) {
                Some((name, until)) if *until > now => return name.clone(),
                Some(_) => {
                    m.remove(&ip);
                }
                None => {}
            }
            // Mark as in flight (a short negative entry) so one address is queued once.
            if self.tx.try_send(ip).is_ok() {
                m.insert(ip, (None, now + Duration::from_secs(30)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::ldh_name;

    fn name(s: &str) -> Option<String> {
        ldh_name(s.split('.').map(str::as_bytes))
    }

    #[test]
    fn only_ldh_names_are_kept() {
        assert_eq!(name("Host-1.Example.COM").as_deref(), Some("host-1.example.com"));
        assert_eq!(name("xn--bcher-kva.example").as_deref(), Some("xn--bcher-kva.example"));
        for bad in [
            "<script>alert(1)</script>.example",
            "a b.example",
            "-a.example",
            "a-.example",
            "_dmarc.example",
            "b\u{fc}cher.example",
            "x\"y.example",
            "a..example",
            "",
        ] {
            assert_eq!(name(bad), None, "{bad:?}");
        }
        assert_eq!(name(&"a".repeat(64)), None);
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(name(&long), None, "over 253 characters");
    }
}
