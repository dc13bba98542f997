//! Timestamps (nanoseconds since the Unix epoch, as the probe counts) and the one average
//! throughput formula every reader uses.

/// RFC 3339 UTC with as many fractional digits as needed.
pub fn rfc3339(ts_ns: u64) -> String {
    let secs = (ts_ns / 1_000_000_000) as i64;
    let nanos = (ts_ns % 1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => ts_ns.to_string(),
    }
}

/// A time in nanoseconds as a UTC date-time (`None` when out of chrono's range).
pub fn datetime(ts_ns: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    let secs = i64::try_from(ts_ns / 1_000_000_000).ok()?;
    chrono::DateTime::from_timestamp(secs, (ts_ns % 1_000_000_000) as u32)
}

/// Seconds a host has been seen for, at least one (ntop counted whole seconds: a host seen
/// once has lived one second, not zero).
pub fn seconds_alive(first_seen_ns: u64, last_seen_ns: u64) -> f64 {
    (last_seen_ns.saturating_sub(first_seen_ns) as f64 / 1e9).max(1.0)
}

/// Average throughput (bytes/s) of `bytes` over the time a host has been seen: the one formula
/// of the probe's report, the API, the Python modules and the CLI.
pub fn average_thpt(bytes: u64, first_seen_ns: u64, last_seen_ns: u64) -> f64 {
    bytes as f64 / seconds_alive(first_seen_ns, last_seen_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_is_over_at_least_one_second() {
        assert_eq!(average_thpt(1000, 5, 5), 1000.0);
        assert_eq!(average_thpt(1000, 0, 500_000_000), 1000.0);
        assert_eq!(average_thpt(1000, 0, 4_000_000_000), 250.0);
        // AutoSi: fractions in groups of three digits, as the probe has always printed them.
        assert_eq!(rfc3339(1_500_000_000), "1970-01-01T00:00:01.500Z");
    }
}
