//! rrdfetch's AT-style times (rrdfetch(1), "AT-STYLE TIME SPECIFICATION"), the part ntop's
//! rrdAlarm configurations used: a reference (`now`/`n`, `start`/`s`, `end`/`e`, `epoch`, or
//! epoch seconds) followed by signed offsets (`now-3h`, `-90min`, `e-1h`, `s+6h`, `-5h45min`,
//! `-1w2d`, `-3600`). Resolved against an injected "now"; nothing here reads a clock.
//!
//! Units as rrdtool spells them (singular, plural, abbreviations; case-insensitive; `_` and
//! `,` count as spaces): seconds, minutes, hours, days, weeks, months, years, with rrdtool's
//! reading of the ambiguous `m`: months right after years/months/weeks/days, minutes right
//! after hours/minutes/seconds, and right after a sign months if the number is below 6, else
//! minutes (so `now-2m` is two *months*, `now-10m` ten minutes, as librrd would fetch them).
//!
//! Calendar arithmetic (days, weeks, months, years) is done in UTC: a day is 86 400 s, and a
//! month moves the date and normalises an overflowing day as mktime(3) does (`May 31 -1mon`
//! is May 1). rrdtool uses the host's time zone; the controllers run on UTC.
//!
//! Refused with a clear error: times of day and dates (`noon`, `23:59`, `Oct 12`, `yesterday`),
//! bare numbers that rrdtool would read as a date or an hour rather than epoch seconds, and a
//! start relative to itself or start and end relative to each other.

use std::fmt;

/// The moment an AT-style time is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// `now` (also the default when the text starts with a sign).
    Now,
    /// `start`: only in an end time.
    Start,
    /// `end`: only in a start time.
    End,
    /// `epoch` (0) or epoch seconds given as a number.
    Epoch(i64),
}

/// A parsed AT-style time: a reference plus a calendar offset in months and an exact one in
/// seconds (days and weeks are folded into seconds: UTC days are 86 400 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtTime {
    pub reference: Reference,
    pub months: i64,
    pub secs: i64,
    /// An `m` after a sign and a number below 6 was read as months (rrdtool's rule); kept
    /// so that an empty window can say why.
    pub m_read_as_months: bool,
}

/// Why a time did not parse or resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: {reason}")]
pub struct AtError {
    pub text: String,
    pub reason: String,
}

fn err(text: &str, reason: impl Into<String>) -> AtError {
    AtError { text: text.to_string(), reason: reason.into() }
}

/// rrdtool takes a bare number above this (ten years of seconds) as epoch seconds; below it
/// as a date (YYYYMMDD) or a time of day.
const EPOCH_MIN: i64 = 10 * 366 * 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(i64),
    Plus,
    Minus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    fn parse(word: &str) -> Option<Option<Unit>> {
        // Some(None): the ambiguous `m`.
        Some(Some(match word {
            "s" | "sec" | "secs" | "second" | "seconds" => Unit::Second,
            "m" => return Some(None),
            "min" | "mins" | "minute" | "minutes" => Unit::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
            "d" | "day" | "days" => Unit::Day,
            "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
            "mon" | "mons" | "month" | "months" => Unit::Month,
            "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
            _ => return None,
        }))
    }

    fn is_calendar(self) -> bool {
        matches!(self, Unit::Day | Unit::Week | Unit::Month | Unit::Year)
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, AtError> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut chars = lower.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == '_' || c == ',' {
            chars.next();
        } else if c == '+' {
            chars.next();
            out.push(Token::Plus);
        } else if c == '-' {
            chars.next();
            out.push(Token::Minus);
        } else if c.is_ascii_digit() {
            let mut n: i64 = 0;
            while let Some(&d) = chars.peek() {
                let Some(v) = d.to_digit(10) else { break };
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(v)))
                    .ok_or_else(|| err(text, "number too large"))?;
                chars.next();
            }
            out.push(Token::Number(n));
        } else if c.is_ascii_alphabetic() {
            let mut w = String::new();
            while let Some(&a) = chars.peek() {
                if !a.is_ascii_alphabetic() {
                    break;
                }
                w.push(a);
                chars.next();
            }
            out.push(Token::Word(w));
        } else {
            return Err(err(text, format!("unexpected character {c:?} (dates and times of day are not supported)")));
        }
    }
    Ok(out)
}

/// Parses an AT-style time.
pub fn parse(text: &str) -> Result<AtTime, AtError> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter().peekable();
    let reference = match it.peek() {
        None => return Err(err(text, "empty time")),
        Some(Token::Plus | Token::Minus) => Reference::Now,
        Some(Token::Word(w)) => {
            let r = match w.as_str() {
                "now" | "n" => Reference::Now,
                "start" | "s" => Reference::Start,
                "end" | "e" => Reference::End,
                "epoch" => Reference::Epoch(0),
                other => {
                    return Err(err(
                        text,
                        format!(
                            "unsupported reference {other:?}: use now, start, end, epoch or epoch seconds \
                             (dates and times of day are not supported)"
                        ),
                    ));
                }
            };
            it.next();
            r
        }
        Some(&Token::Number(n)) => {
            it.next();
            if n <= EPOCH_MIN {
                return Err(err(
                    text,
                    format!(
                        "bare number {n}: rrdtool reads it as a date or a time of day; give epoch seconds or now-{n}s"
                    ),
                ));
            }
            Reference::Epoch(n)
        }
    };
    let mut at = AtTime { reference, months: 0, secs: 0, m_read_as_months: false };
    // Offsets: a sign, then number-unit pairs until the next sign.
    while let Some(tok) = it.next() {
        let sign: i64 = match tok {
            Token::Plus => 1,
            Token::Minus => -1,
            Token::Word(w) => return Err(err(text, format!("unexpected {w:?}: an offset starts with + or -"))),
            Token::Number(n) => return Err(err(text, format!("unexpected number {n}: an offset starts with + or -"))),
        };
        let mut prev: Option<Unit> = None;
        let mut any = false;
        while let Some(&Token::Number(n)) = it.peek() {
            it.next();
            any = true;
            let unit = match it.peek() {
                Some(Token::Word(w)) => {
                    let Some(u) = Unit::parse(w) else {
                        return Err(err(text, format!("unknown time unit {w:?}")));
                    };
                    it.next();
                    match u {
                        Some(u) => u,
                        None => match prev {
                            Some(p) if p.is_calendar() => Unit::Month,
                            Some(_) => Unit::Minute,
                            None if n < 6 => {
                                at.m_read_as_months = true;
                                Unit::Month
                            }
                            None => Unit::Minute,
                        },
                    }
                }
                // A number without a unit counts seconds (`-3600`).
                _ => Unit::Second,
            };
            prev = Some(unit);
            let range = || err(text, "offset out of range");
            let n = n.checked_mul(sign).ok_or_else(range)?;
            match unit {
                Unit::Month | Unit::Year => {
                    let m = if unit == Unit::Year { n.checked_mul(12).ok_or_else(range)? } else { n };
                    at.months = at.months.checked_add(m).ok_or_else(range)?;
                    if at.months.abs() > 12 * 10_000 {
                        return Err(range());
                    }
                }
                _ => {
                    let per = match unit {
                        Unit::Second => 1,
                        Unit::Minute => 60,
                        Unit::Hour => 3600,
                        Unit::Day => 86_400,
                        _ => 7 * 86_400,
                    };
                    at.secs = n.checked_mul(per).and_then(|s| at.secs.checked_add(s)).ok_or_else(range)?;
                }
            }
        }
        if !any {
            return Err(err(text, "a sign must be followed by an amount, as in now-3h"));
        }
    }
    Ok(at)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Now => f.write_str("now"),
            Reference::Start => f.write_str("start"),
            Reference::End => f.write_str("end"),
            Reference::Epoch(n) => write!(f, "{n}"),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `t` moved by `months` calendar months in UTC, an overflowing day carried into the next
/// month as mktime(3) does.
fn add_months(t: i64, months: i64) -> i64 {
    if months == 0 {
        return t;
    }
    let days = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m - 1) + months;
    let (y2, m2) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    (days_from_civil(y2, m2, 1) + d - 1) * 86_400 + sod
}

impl AtTime {
    /// This time counted from `base` (the resolved reference).
    fn counted_from(&self, base: i64) -> i64 {
        add_months(base, self.months).saturating_add(self.secs)
    }
}

/// Resolves a start and an end time against `now` (epoch seconds) as librrd does: a start
/// may count from the end, an end from the start, not both, and neither from itself. The
/// window must not start after it ends or before 1970.
pub fn resolve_window(start: &AtTime, end: &AtTime, now: i64) -> Result<(i64, i64), WindowError> {
    let base = |r: Reference| match r {
        Reference::Epoch(n) => n,
        _ => now,
    };
    let (s, e) = match (start.reference, end.reference) {
        (Reference::Start, _) => return Err(WindowError::StartFromStart),
        (_, Reference::End) => return Err(WindowError::EndFromEnd),
        (Reference::End, Reference::Start) => return Err(WindowError::EachOther),
        (Reference::End, r) => {
            let e = end.counted_from(base(r));
            (start.counted_from(e), e)
        }
        (r, Reference::Start) => {
            let s = start.counted_from(base(r));
            (s, end.counted_from(s))
        }
        (rs, re) => (start.counted_from(base(rs)), end.counted_from(base(re))),
    };
    if s < 0 || e < 0 {
        return Err(WindowError::BeforeEpoch { start: s, end: e });
    }
    if s > e {
        let why = if start.m_read_as_months || end.m_read_as_months {
            " (an `m` after a number below 6 means months to rrdtool: write min for minutes)"
        } else {
            ""
        };
        return Err(WindowError::Empty { start: s, end: e, why });
    }
    Ok((s, e))
}

/// Why a start/end pair has no window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("the start time cannot be relative to itself")]
    StartFromStart,
    #[error("the end time cannot be relative to itself")]
    EndFromEnd,
    #[error("the start and end times cannot be relative to each other")]
    EachOther,
    #[error("the window {start}..{end} is before 1970")]
    BeforeEpoch { start: i64, end: i64 },
    #[error("the start {start} is after the end {end}{why}")]
    Empty { start: i64, end: i64, why: &'static str },
}

/// Checks the references of a start and end pair (what does not depend on "now").
pub fn check_references(start: &AtTime, end: &AtTime) -> Result<(), WindowError> {
    match (start.reference, end.reference) {
        (Reference::Start, _) => Err(WindowError::StartFromStart),
        (_, Reference::End) => Err(WindowError::EndFromEnd),
        (Reference::End, Reference::Start) => Err(WindowError::EachOther),
        _ => Ok(()),
    }
}

/// `Sat, 24 Apr 2010 01:08:20` in UTC: the time format of ntop's report.
pub fn format_report_time(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let mon = MONTHS[usize::try_from(m - 1).unwrap_or(0) % 12];
    format!("{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// 2010-04-24 01:10:00 UTC, a Saturday (the seed report's check).
    const NOW: i64 = 1_272_071_400;

    fn at(text: &str) -> AtTime {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn now_rel(text: &str) -> i64 {
        let a = at(text);
        assert_eq!(a.reference, Reference::Now, "{text}");
        a.counted_from(NOW) - NOW
    }

    #[test]
    fn offsets_from_now() {
        let table: &[(&str, i64)] = &[
            ("now", 0),
            ("NOW", 0),
            ("n", 0),
            ("now-10h", -36_000),
            ("now-3h", -10_800),
            ("now-90min", -5400),
            ("now-90m", -5400),
            ("now-10m", -600),
            ("now-6m", -360),
            ("now - 30 minutes", -1800),
            ("now-1d", -86_400),
            ("now-2days", -172_800),
            ("now-1w", -604_800),
            ("now-1wk", -604_800),
            ("-3h", -10_800),
            ("-3600", -3600),
            ("-86400s", -86_400),
            ("-5h45min", -(5 * 3600 + 45 * 60)),
            ("-5h-45min", -(5 * 3600 + 45 * 60)),
            ("-6h+15min", -(5 * 3600 + 45 * 60)),
            ("-7h+1h30m-15min", -(5 * 3600 + 45 * 60)),
            ("now-3h20m", -(3 * 3600 + 20 * 60)),
            ("now+5s2m", 125),
            ("now-1w2d", -(9 * 86_400)),
            ("now_-_1_hour", -3600),
            ("now-2hrs,30secs", -(7200 + 30)),
        ];
        for (text, want) in table {
            assert_eq!(now_rel(text), *want, "{text}");
        }
    }

    /// rrdtool's `m`: months after a sign and a number below 6, or after a calendar unit.
    #[test]
    fn months_as_rrdtool_reads_them() {
        // 2010-04-24 01:10 minus 2 months: 2010-02-24 01:10.
        let a = at("now-2m");
        assert!(a.m_read_as_months);
        assert_eq!(a.months, -2);
        assert_eq!(a.counted_from(NOW), 1_266_973_800);
        assert_eq!(at("now-1mon").months, -1);
        assert_eq!(at("now-1y6m").months, -18);
        assert_eq!(at("now+3w1m").months, 1);
        assert_eq!(at("now+3w1m").secs, 3 * 604_800);
        assert!(!at("now-6m").m_read_as_months);
        // May 31 - 1 month = "Apr 31" = May 1 (mktime's normalisation), in UTC.
        let may31 = days_from_civil(2010, 5, 31) * 86_400 + 3600;
        assert_eq!(at("now-1month").counted_from(may31), days_from_civil(2010, 5, 1) * 86_400 + 3600);
        // Across a year and a leap day.
        let feb29 = days_from_civil(2012, 2, 29) * 86_400;
        assert_eq!(at("now+1y").counted_from(feb29), days_from_civil(2013, 3, 1) * 86_400);
    }

    #[test]
    fn references() {
        assert_eq!(at("e-1h"), AtTime { reference: Reference::End, months: 0, secs: -3600, m_read_as_months: false });
        assert_eq!(at("end-3weeks").reference, Reference::End);
        assert_eq!(
            at("s+6h"),
            AtTime { reference: Reference::Start, months: 0, secs: 21_600, m_read_as_months: false }
        );
        assert_eq!(at("start+6hours").reference, Reference::Start);
        assert_eq!(at("931200300").reference, Reference::Epoch(931_200_300));
        assert_eq!(at("epoch+19711205s").reference, Reference::Epoch(0));
        assert_eq!(at("epoch+19711205s").secs, 19_711_205);
    }

    #[test]
    fn refused_with_a_reason() {
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("noon", "unsupported reference"),
            ("yesterday", "unsupported reference"),
            ("23:59", "unexpected character"),
            ("Oct 12", "unsupported reference"),
            ("20100424", "bare number"),
            ("12", "bare number"),
            ("now-3x", "unknown time unit"),
            ("now-", "followed by an amount"),
            ("now 3h", "unexpected number"),
            ("now-3h now", "unexpected \"now\""),
            ("now-99999999999999999999h", "too large"),
            ("now-9999999999999999h", "out of range"),
        ];
        for (text, want) in table {
            let e = parse(text).err().unwrap_or_else(|| panic!("{text:?} parsed"));
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn windows() {
        let w = |s: &str, e: &str| resolve_window(&at(s), &at(e), NOW);
        assert_eq!(w("now-3h", "now").unwrap(), (NOW - 10_800, NOW));
        assert_eq!(w("e-1h", "now-2h").unwrap(), (NOW - 3 * 3600, NOW - 2 * 3600));
        assert_eq!(w("now-3h", "s+1h").unwrap(), (NOW - 3 * 3600, NOW - 2 * 3600));
        assert_eq!(w("931200300", "s+60").unwrap(), (931_200_300, 931_200_360));
        assert_eq!(w("s-1h", "now"), Err(WindowError::StartFromStart));
        assert_eq!(w("now-1h", "e"), Err(WindowError::EndFromEnd));
        assert_eq!(w("e-1h", "s+1h"), Err(WindowError::EachOther));
        // The seed's `now-5h` .. `now-2m`: two months before now, so an empty window, and the
        // error says why.
        let e = w("now-5h", "now-2m").unwrap_err();
        assert!(matches!(e, WindowError::Empty { .. }));
        assert!(e.to_string().contains("months"), "{e}");
        assert!(matches!(w("epoch-1h", "now"), Err(WindowError::BeforeEpoch { .. })));
    }

    #[test]
    fn report_time_like_ntops() {
        assert_eq!(format_report_time(1_272_071_300), "Sat, 24 Apr 2010 01:08:20");
        assert_eq!(format_report_time(0), "Thu, 01 Jan 1970 00:00:00");
    }
}
