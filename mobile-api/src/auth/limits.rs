//! Rate limits: sign-in attempts and failures per address bucket and user name (with the
//! back-off of failing addresses), and per-user slots for expensive requests (live queries,
//! script pages). It must not check passwords or tokens.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::StatusCode;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// The key of an address for rate limits: an IPv4 address itself (also when written as
/// IPv4-mapped IPv6), an IPv6 address its /64 (one subscriber or host usually holds a whole
/// /64, so keying the full address would give it 2^64 buckets).
pub fn address_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::from(o)
            }
        },
    }
}

/// A leaky bucket: `level` failures that drain at the limit's rate.
#[derive(Debug, Clone, Copy)]
struct Level {
    level: f64,
    at: std::time::Instant,
}

impl Level {
    fn new(now: std::time::Instant) -> Level {
        Level { level: 0.0, at: now }
    }
    /// The level at `now` (drained since the last update).
    fn drain(&mut self, now: std::time::Instant, per_sec: f64) -> f64 {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level - dt * per_sec).max(0.0);
        self.at = now;
        self.level
    }
}

/// One user name as tried from one address bucket.
#[derive(Debug, Clone, Copy)]
struct Pair {
    level: Level,
    last_failure: Option<std::time::Instant>,
    in_flight: u32,
}

#[derive(Default)]
struct Failures {
    pairs: std::collections::HashMap<(String, IpAddr), Pair>,
    users: std::collections::HashMap<String, Level>,
    full_warned: bool,
    /// When the maps were last pruned: at most one prune per `PRUNE_EVERY`, so a flood of new
    /// (name, address) pairs cannot make every attempt scan the maps under the lock.
    last_prune: Option<std::time::Instant>,
}

/// Sign-in limits (per controller process):
/// - attempts per address bucket (IPv4 address, IPv6 /64): `per_address_per_minute`, for any
///   user name (this bounds the hashing one address can cause);
/// - failures per (user name, address bucket): `per_user_per_minute`;
/// - per user name: once a name fails more than `per_user_per_minute` from anywhere, an address
///   bucket that failed for it within `backoff` (or has an attempt for it in flight) waits until
///   the name's failure rate drops; an address that has not been failing still gets in. So a
///   guesser cannot lock the owner out, and a spread-out guesser gets about one try per address
///   per `backoff` while the attack lasts.
///
/// Attempts are charged before the password is checked (so concurrent tries cannot overtake the
/// count); a success or an attempt that never checked a password is refunded.
pub struct LoginLimits {
    per_addr: DefaultKeyedRateLimiter<IpAddr>,
    failures: std::sync::Mutex<Failures>,
    /// Failures a minute (per pair, and per user name before the back-off starts).
    per_user: f64,
    backoff: std::time::Duration,
}

/// One sign-in attempt admitted by [`LoginLimits::begin`]: report its outcome with
/// [`Attempt::succeeded`] or [`Attempt::failed`]; dropped without one (the password was not
/// checked: busy, database error, client gone) it is refunded.
pub struct Attempt<'a> {
    limits: &'a LoginLimits,
    user: String,
    bucket: IpAddr,
    done: bool,
}

enum Outcome {
    Failed,
    Succeeded,
    NotChecked,
}

impl Attempt<'_> {
    pub fn succeeded(mut self) {
        self.finish(Outcome::Succeeded);
    }
    pub fn failed(mut self) {
        self.finish(Outcome::Failed);
    }
    fn finish(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.limits.finish(&self.user, self.bucket, outcome);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.finish(Outcome::NotChecked);
    }
}

impl LoginLimits {
    const PRUNE_AT: usize = 10_000;
    const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
    /// Entries kept at most per map; past it new (user, address) pairs are not tracked (the
    /// per-address attempt limit still holds) and a warning is logged once.
    const MAX: usize = 200_000;

    pub fn new(per_user_per_minute: u32, per_addr_per_minute: u32, backoff: std::time::Duration) -> LoginLimits {
        let q = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_addr: RateLimiter::keyed(q(per_addr_per_minute)),
            failures: Default::default(),
            per_user: f64::from(per_user_per_minute.max(1)),
            backoff,
        }
    }

    fn per_sec(&self) -> f64 {
        self.per_user / 60.0
    }

    fn limited(wait_secs: f64) -> ApiError {
        let wait = (wait_secs.ceil() as u64).max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many sign-in attempts; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        e
    }

    /// Admits one attempt of `user` from `addr` (its bucket), or 429 with Retry-After.
    pub fn begin(&self, user: &str, addr: IpAddr) -> Result<Attempt<'_>, ApiError> {
        let bucket = address_bucket(addr);
        let clock = governor::clock::DefaultClock::default();
        if let Err(not_until) = self.per_addr.check_key(&bucket) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&clock));
            return Err(Self::limited(wait.as_secs_f64()));
        }
        if self.per_addr.len() > Self::PRUNE_AT {
            self.per_addr.retain_recent();
        }
        let now = std::time::Instant::now();
        let (cap, rate) = (self.per_user, self.per_sec());
        let mut f = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let user_level = f.users.get_mut(user).map_or(0.0, |l| l.drain(now, rate));
        let key = (user.to_string(), bucket);
        let pair = f.pairs.get_mut(&key).map(|p| {
            p.level.drain(now, rate);
            *p
        });
        // This address's own failures for this name.
        if let Some(p) = pair
            && p.level.level + 1.0 > cap
        {
            return Err(Self::limited((p.level.level + 1.0 - cap) / rate));
        }
        // The name is under attack: addresses that have been failing for it wait.
        if user_level + 1.0 > cap
            && let Some(p) = pair
        {
            let failing = p.last_failure.and_then(|t| self.backoff.checked_sub(now.saturating_duration_since(t)));
            if p.in_flight > 0 || failing.is_some() {
                let drop_below = (user_level + 1.0 - cap) / rate;
                let wait = failing.map_or(drop_below, |b| drop_below.min(b.as_secs_f64()));
                return Err(Self::limited(wait));
            }
        }
        // Charge the attempt now (refunded on success).
        if f.pairs.len() >= Self::PRUNE_AT
            && !f.pairs.contains_key(&key)
            && f.last_prune.is_none_or(|t| now.saturating_duration_since(t) >= Self::PRUNE_EVERY)
        {
            f.last_prune = Some(now);
            let backoff = self.backoff;
            f.pairs.retain(|_, p| {
                p.in_flight > 0
                    || p.level.drain(now, rate) > 0.0
                    || p.last_failure.is_some_and(|t| now.saturating_duration_since(t) < backoff)
            });
            f.users.retain(|_, l| l.drain(now, rate) > 0.0);
        }
        let tracked = f.pairs.len() < Self::MAX || f.pairs.contains_key(&key);
        if tracked {
            let p = f.pairs.entry(key).or_insert(Pair { level: Level::new(now), last_failure: None, in_flight: 0 });
            p.level.level += 1.0;
            p.in_flight += 1;
            if f.users.len() < Self::MAX || f.users.contains_key(user) {
                f.users.entry(user.to_string()).or_insert_with(|| Level::new(now)).level += 1.0;
            }
        } else if !std::mem::replace(&mut f.full_warned, true) {
            tracing::warn!(
                entries = Self::MAX,
                "sign-in failure table full: new addresses are limited per address only"
            );
        }
        Ok(Attempt { limits: self, user: user.to_string(), bucket, done: false })
    }

    fn finish(&self, user: &str, bucket: IpAddr, outcome: Outcome) {
        let now = std::time::Instant::now();
        let rate = self.per_sec();
        let mut f = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (user.to_string(), bucket);
        let Some(p) = f.pairs.get_mut(&key) else { return };
        p.in_flight = p.in_flight.saturating_sub(1);
        let refund = match outcome {
            Outcome::Failed => {
                p.last_failure = Some(now);
                false
            }
            Outcome::Succeeded => {
                p.last_failure = None;
                true
            }
            Outcome::NotChecked => true,
        };
        if refund {
            let l = p.level.drain(now, rate);
            p.level.level = (l - 1.0).max(0.0);
            if let Some(u) = f.users.get_mut(user) {
                let l = u.drain(now, rate);
                u.level = (l - 1.0).max(0.0);
            }
        }
    }
}

/// Per-user limits of an expensive kind of request: at most `per_user` in flight per user
/// (the rest wait up to `wait`, then 429), and optionally a rate per minute.
pub struct UserSlots {
    per_user: usize,
    wait: std::time::Duration,
    rate: Option<DefaultKeyedRateLimiter<i64>>,
    what: &'static str,
    slots: std::sync::Mutex<std::collections::HashMap<i64, Arc<tokio::sync::Semaphore>>>,
}

impl UserSlots {
    const PRUNE_AT: usize = 10_000;

    pub fn new(what: &'static str, per_user: usize, wait: std::time::Duration, per_minute: Option<u32>) -> UserSlots {
        UserSlots {
            per_user: per_user.max(1),
            wait,
            rate: per_minute
                .map(|n| RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)))),
            what,
            slots: Default::default(),
        }
    }

    fn too_many(&self, wait: u64, why: &str) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("{}: {why}", self.what));
        e.retry_after = Some(wait.max(1));
        e
    }

    /// A slot for `user` (hold it for the request's duration), or 429 with Retry-After.
    pub async fn acquire(&self, user: i64) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        if let Some(r) = &self.rate {
            if let Err(not_until) = r.check_key(&user) {
                let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
                let wait = not_until.wait_time_from(now).as_secs_f64().ceil() as u64;
                return Err(self.too_many(wait, &format!("too many requests; retry in {} s", wait.max(1))));
            }
            if r.len() > Self::PRUNE_AT {
                r.retain_recent();
            }
        }
        let sem = {
            let mut m = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if m.len() > Self::PRUNE_AT {
                // Only semaphores nobody holds or waits on.
                m.retain(|_, s| Arc::strong_count(s) > 1);
            }
            m.entry(user).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_user))).clone()
        };
        let permit = if self.wait.is_zero() {
            sem.try_acquire_owned().ok()
        } else {
            tokio::time::timeout(self.wait, sem.acquire_owned()).await.ok().and_then(Result::ok)
        };
        permit.ok_or_else(|| self.too_many(1, &format!("at most {} at a time per user", self.per_user)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_a_bucket_per_64() {
        let b = |s: &str| address_bucket(s.parse().unwrap());
        assert_eq!(b("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), b("2001:db8:1:2::1"));
        assert_eq!(b("2001:db8:1:2::1").to_string(), "2001:db8:1:2::");
        assert_ne!(b("2001:db8:1:2::1"), b("2001:db8:1:3::1"));
        assert_eq!(b("192.0.2.7").to_string(), "192.0.2.7");
        assert_ne!(b("192.0.2.7"), b("192.0.2.8"));
        assert_eq!(b("::ffff:192.0.2.7").to_string(), "192.0.2.7", "IPv4-mapped is the IPv4 address");
    }

    #[test]
    fn a_failing_address_backs_off_but_others_get_in() {
        let limits = LoginLimits::new(3, 1000, std::time::Duration::from_secs(900));
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            limits.begin("admin", a).unwrap().failed();
        }
        assert_eq!(limits.begin("admin", a).err().map(|e| e.status), Some(StatusCode::TOO_MANY_REQUESTS));
        // Under attack now; a fresh address gets one attempt at a time, and after a failure
        // it backs off too.
        let first = limits.begin("admin", b).unwrap();
        assert!(limits.begin("admin", b).is_err(), "an attempt of b is in flight");
        first.failed();
        assert!(limits.begin("admin", b).is_err(), "b has been failing");
        let c: IpAddr = "2001:db8::1".parse().unwrap();
        limits.begin("admin", c).unwrap().succeeded();
        limits.begin("admin", c).unwrap().succeeded();
        // Attempts that never checked a password are refunded.
        let d: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..10 {
            drop(limits.begin("other", d).unwrap());
        }
        limits.begin("other", d).unwrap().succeeded();
    }

    #[test]
    fn user_slots_limit_in_flight_and_rate_per_user() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let live = UserSlots::new("live queries", 1, std::time::Duration::ZERO, Some(3));
            let held = live.acquire(1).await.unwrap();
            let e = live.acquire(1).await.err().unwrap();
            assert_eq!((e.status, e.retry_after), (StatusCode::TOO_MANY_REQUESTS, Some(1)));
            drop(live.acquire(2).await.unwrap());
            drop(held);
            drop(live.acquire(1).await.unwrap());
            // Three a minute for user 1: the fourth (the refused one counted) waits ~20 s.
            let e = live.acquire(1).await.err().unwrap();
            assert!(e.retry_after.is_some_and(|s| s >= 1), "{e:?}");

            let pages = UserSlots::new("script pages", 2, std::time::Duration::from_millis(50), None);
            let (a, _b) = (pages.acquire(7).await.unwrap(), pages.acquire(7).await.unwrap());
            assert!(pages.acquire(7).await.is_err(), "a third waits 50 ms, then 429");
            drop(a);
            drop(pages.acquire(7).await.unwrap());
        });
    }
}
