//! Thresholds and ntop's `rrdAlarmConfig.txt`: one tab-separated row of ten fields per
//! threshold, `#` comment lines (ntop's configurator writes one at the top), blank lines
//! ignored. Every field is validated ([`Threshold::from_fields`] is also what an API uses,
//! so its errors name the field), and a row keeps the text it was given: a file parsed and
//! formatted again comes back with every line unchanged (line ends become the file's first
//! line end; trailing spaces after the last field are dropped, as ntop's `rstrip` did).
//!
//! No IO here: the caller reads and writes the file (or the database).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::at::{self, AtTime};

/// The ten fields of a row, in file order, with ntop's column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Id,
    RrdPath,
    Type,
    Value,
    Repetitions,
    Start,
    End,
    Action,
    ActionParameter,
    RearmSecs,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Id,
        Field::RrdPath,
        Field::Type,
        Field::Value,
        Field::Repetitions,
        Field::Start,
        Field::End,
        Field::Action,
        Field::ActionParameter,
        Field::RearmSecs,
    ];

    /// The column's name in ntop's configurator.
    pub fn title(self) -> &'static str {
        match self {
            Field::Id => "ID",
            Field::RrdPath => "RRD File Path",
            Field::Type => "Threshold Type",
            Field::Value => "Value",
            Field::Repetitions => "Num. Repetitions",
            Field::Start => "Start Time",
            Field::End => "End Time",
            Field::Action => "Action To Perform",
            Field::ActionParameter => "Action Parameter",
            Field::RearmSecs => "Time Before Next Action (sec)",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Which side of the value is an alarm (ntop's "type"): `above` fires on values strictly
/// greater than the threshold, `below` on values strictly less (ntop's `>` and `<`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Above,
    Below,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }

    /// Whether `value` is beyond `threshold` on this side.
    pub fn crosses(self, value: f64, threshold: f64) -> bool {
        match self {
            Direction::Above => value > threshold,
            Direction::Below => value < threshold,
        }
    }
}

/// A field that does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{field}: {text:?}: {reason}")]
pub struct FieldError {
    pub field: Field,
    pub text: String,
    pub reason: String,
}

/// The action name that means "no action" in ntop's files.
pub const NO_ACTION: &str = "None";

/// Longest action parameter accepted (a mail address, a file name, a URL).
pub const MAX_PARAMETER_LEN: usize = 1024;

/// One threshold: ntop's ten fields, typed, plus the text each was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub id: u32,
    /// A shell glob relative to the archive root (`*`, `?`, `[...]`); never absolute, never
    /// through `..`.
    pub glob: String,
    pub direction: Direction,
    pub value: f64,
    /// Consecutive values beyond the threshold needed to fire (0 and 1 both fire on one).
    pub repetitions: u32,
    pub start: AtTime,
    pub end: AtTime,
    /// The action script's name, or [`NO_ACTION`].
    pub action: String,
    pub action_parameter: String,
    /// Seconds of wall time before this threshold may fire again for the same file; 0:
    /// every check may fire.
    pub rearm_secs: f64,
    text: [String; 10],
}

fn field_err(field: Field, text: &str, reason: impl Into<String>) -> FieldError {
    FieldError { field, text: text.to_string(), reason: reason.into() }
}

/// Checks an RRD path glob: relative to the archive root, never leaving it, a valid pattern.
pub fn validate_glob(text: &str) -> Result<(), FieldError> {
    let bad = |reason: &str| Err(field_err(Field::RrdPath, text, reason));
    if text.is_empty() {
        return bad("empty path");
    }
    if text.trim() != text {
        return bad("leading or trailing spaces");
    }
    if text.contains('\0') {
        return bad("contains a NUL character");
    }
    if text.starts_with('/') || text.starts_with('\\') || text.as_bytes().get(1) == Some(&b':') {
        return bad("an absolute path: paths are relative to the RRD archive root");
    }
    if text.split(['/', '\\']).any(|c| c == "..") {
        return bad("`..` leaves the RRD archive root");
    }
    if let Err(e) = glob::Pattern::new(text) {
        return Err(field_err(Field::RrdPath, text, format!("not a valid glob: {}", e.msg)));
    }
    Ok(())
}

fn validate_action(text: &str) -> Result<(), FieldError> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && !text.starts_with('.')
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(field_err(
            Field::Action,
            text,
            "an action is the name of an action script (letters, digits, _ - .; at most 64) or None",
        ))
    }
}

impl Threshold {
    /// Validates ten field texts (file order) into a threshold that keeps them.
    pub fn from_fields<S: AsRef<str>>(fields: &[S]) -> Result<Threshold, FieldError> {
        if fields.len() != 10 {
            return Err(field_err(Field::Id, "", format!("a threshold has 10 fields, got {}", fields.len())));
        }
        let text: [String; 10] = std::array::from_fn(|i| fields[i].as_ref().to_string());
        for (i, t) in text.iter().enumerate() {
            if t.contains(['\t', '\n', '\r']) {
                return Err(field_err(Field::ALL[i], t, "contains a tab or a line break"));
            }
            // PostgreSQL's text has no NUL (a file imported with one would fail in the store).
            if t.contains('\0') {
                return Err(field_err(Field::ALL[i], t, "contains a NUL character"));
            }
        }
        let f = |field: Field| text[field as usize].as_str();
        let id = f(Field::Id)
            .trim()
            .parse::<u32>()
            .map_err(|_| field_err(Field::Id, f(Field::Id), "not a whole number from 0 to 4294967295"))?;
        validate_glob(f(Field::RrdPath))?;
        let direction = match f(Field::Type) {
            "above" => Direction::Above,
            "below" => Direction::Below,
            other => return Err(field_err(Field::Type, other, "unknown type: above or below")),
        };
        let value = f(Field::Value)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| field_err(Field::Value, f(Field::Value), "not a number"))?;
        let repetitions = f(Field::Repetitions)
            .trim()
            .parse::<u32>()
            .map_err(|_| field_err(Field::Repetitions, f(Field::Repetitions), "not a whole number ≥ 0"))?;
        let start = at::parse(f(Field::Start)).map_err(|e| field_err(Field::Start, f(Field::Start), e.reason))?;
        let end = at::parse(f(Field::End)).map_err(|e| field_err(Field::End, f(Field::End), e.reason))?;
        at::check_references(&start, &end).map_err(|e| {
            let field = if matches!(e, at::WindowError::EndFromEnd) { Field::End } else { Field::Start };
            field_err(field, f(field), e.to_string())
        })?;
        validate_action(f(Field::Action))?;
        let param = f(Field::ActionParameter);
        if param.len() > MAX_PARAMETER_LEN {
            return Err(field_err(Field::ActionParameter, param, format!("longer than {MAX_PARAMETER_LEN} bytes")));
        }
        let rearm_secs = f(Field::RearmSecs)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| field_err(Field::RearmSecs, f(Field::RearmSecs), "not a number of seconds ≥ 0"))?;
        Ok(Threshold {
            id,
            glob: f(Field::RrdPath).to_string(),
            direction,
            value,
            repetitions,
            start,
            end,
            action: f(Field::Action).to_string(),
            action_parameter: param.to_string(),
            rearm_secs,
            text,
        })
    }

    /// The field texts as given (file order).
    pub fn fields(&self) -> &[String; 10] {
        &self.text
    }

    /// The text of one field as given.
    pub fn field(&self, field: Field) -> &str {
        &self.text[field as usize]
    }

    /// The action to run when this fires, `None` for ntop's `None`.
    pub fn action(&self) -> Option<&str> {
        (self.action != NO_ACTION).then_some(self.action.as_str())
    }

    /// The row as ntop writes it: the fields joined by tabs.
    pub fn to_row(&self) -> String {
        self.text.join("\t")
    }
}

/// One line of a configuration file.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A line starting with `#`, kept verbatim.
    Comment(String),
    /// An empty or all-space line, kept verbatim.
    Blank(String),
    Threshold(Box<Threshold>),
}

/// A parsed `rrdAlarmConfig.txt`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigFile {
    pub lines: Vec<Line>,
    /// Lines end with `\r\n` (else `\n`).
    pub crlf: bool,
    /// The last line ends with a line end.
    pub final_newline: bool,
}

/// What is wrong with one line of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("expected 10 tab-separated fields, found {0}")]
    FieldCount(usize),
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("ID {id} is already used on line {first_line}")]
    DuplicateId { id: u32, first_line: usize },
}

/// An error and the line (1-based) it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct ConfigError {
    pub line: usize,
    pub error: LineError,
}

/// Every error of a file (a file is taken whole or not at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ConfigFile {
    /// Parses a file's text. All lines are checked; any error refuses the file, with every
    /// error named by its line.
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigErrors> {
        let mut out = ConfigFile {
            lines: Vec::new(),
            crlf: text.split('\n').next().is_some_and(|l| l.ends_with('\r') && text.contains('\n')),
            final_newline: text.ends_with('\n'),
        };
        let mut errors = Vec::new();
        let mut ids: HashMap<u32, usize> = HashMap::new();
        let body = text.strip_suffix('\n').unwrap_or(text);
        if text.is_empty() {
            return Ok(out);
        }
        for (i, raw) in body.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.starts_with('#') {
                out.lines.push(Line::Comment(line.to_string()));
                continue;
            }
            if line.trim().is_empty() {
                out.lines.push(Line::Blank(line.to_string()));
                continue;
            }
            let row = line.trim_end_matches([' ', '\t']);
            let fields: Vec<&str> = row.split('\t').collect();
            if fields.len() != 10 {
                errors.push(ConfigError { line: n, error: LineError::FieldCount(fields.len()) });
                continue;
            }
            match Threshold::from_fields(&fields) {
                Ok(t) => {
                    if let Some(&first_line) = ids.get(&t.id) {
                        errors.push(ConfigError { line: n, error: LineError::DuplicateId { id: t.id, first_line } });
                    } else {
                        ids.insert(t.id, n);
                        out.lines.push(Line::Threshold(Box::new(t)));
                    }
                }
                Err(e) => errors.push(ConfigError { line: n, error: e.into() }),
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(ConfigErrors(errors)) }
    }

    /// The file's text again: comments and blank lines as they were, each threshold's row
    /// from its field texts.
    pub fn format(&self) -> String {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut s = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                s.push_str(eol);
            }
            match line {
                Line::Comment(c) | Line::Blank(c) => s.push_str(c),
                Line::Threshold(t) => s.push_str(&t.to_row()),
            }
        }
        if self.final_newline && !self.lines.is_empty() {
            s.push_str(eol);
        }
        s
    }

    /// A file of these thresholds as ntop's configurator saved one: its comment line first,
    /// then one row each.
    pub fn from_thresholds(thresholds: impl IntoIterator<Item = Threshold>) -> ConfigFile {
        let mut lines = vec![Line::Comment(
            "#rrdAlarmConfig File. All the lines that starts with the '#' will be ignored! (just like this one)".into(),
        )];
        lines.extend(thresholds.into_iter().map(|t| Line::Threshold(Box::new(t))));
        ConfigFile { lines, crlf: false, final_newline: true }
    }

    pub fn thresholds(&self) -> impl Iterator<Item = &Threshold> {
        self.lines.iter().filter_map(|l| match l {
            Line::Threshold(t) => Some(t.as_ref()),
            _ => None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A file as ntop's configurator wrote it (its comment line, tab-separated rows; the
    /// seed's three rows and its example), with a hand-added comment and blank line, and
    /// numbers and times written in more than one way.
    const NTOP_FILE: &str = "#rrdAlarmConfig File. All the lines that starts with the '#' will be ignored! (just like this one)\n\
1\tinterfaces/eth0/throughput.rrd\tabove\t0.0\t0\tnow-3h\tnow\tNone\t \t0\n\
2\tinterfaces/eth0/numAS.rrd\tbelow\t10\t0\tnow-5h\tnow-2m\tsavelog\tAslog.txt\t3600\n\
# wlan: the office access point\n\
3\tinterfaces/wlan0/knownHostsNum.rrd\tabove\t25\t0\tnow-30m\tnow\tsendmail\tluca@ntop.org\t0\n\
\n\
4\tinterfaces/eth0/*Bytes.rrd\tabove\t1000\t10\tnow-10h\tnow\tsendmail\tadministrator@mc.com\t0\n\
5\tpa/hosts/10.0.0.?/bytesSent.rrd\tbelow\t1e3\t3\te-1h\tNOW - 10 min\tsavelog\tlow.txt\t60.0\n";

    #[test]
    fn ntop_file_round_trips_unchanged() {
        let f = ConfigFile::parse(NTOP_FILE).unwrap();
        assert_eq!(f.thresholds().count(), 5);
        assert_eq!(f.format(), NTOP_FILE);
        let t: Vec<&Threshold> = f.thresholds().collect();
        assert_eq!(t[0].id, 1);
        assert_eq!(t[0].glob, "interfaces/eth0/throughput.rrd");
        assert_eq!(t[0].direction, Direction::Above);
        assert_eq!(t[0].value, 0.0);
        assert_eq!(t[0].action(), None);
        assert_eq!(t[0].action_parameter, " ");
        assert_eq!(t[1].direction, Direction::Below);
        assert_eq!(t[1].action(), Some("savelog"));
        assert_eq!(t[1].rearm_secs, 3600.0);
        assert_eq!(t[3].repetitions, 10);
        assert_eq!(t[4].value, 1000.0);
        assert_eq!(t[4].field(Field::Value), "1e3");
        assert_eq!(t[4].field(Field::RearmSecs), "60.0");
        assert_eq!(t[4].start.reference, at::Reference::End);
        assert_eq!(t[4].end.secs, -600);
        // CRLF files come back as CRLF, and a file without a final newline without one.
        let crlf = NTOP_FILE.replace('\n', "\r\n");
        assert_eq!(ConfigFile::parse(&crlf).unwrap().format(), crlf);
        let bare = NTOP_FILE.trim_end();
        assert_eq!(ConfigFile::parse(bare).unwrap().format(), bare);
        assert_eq!(ConfigFile::parse("").unwrap().format(), "");
    }

    #[test]
    fn thresholds_export_as_ntop_saved_them() {
        let f = ConfigFile::parse(NTOP_FILE).unwrap();
        let again = ConfigFile::from_thresholds(f.thresholds().cloned());
        let text = again.format();
        let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
        let orig: Vec<&str> = NTOP_FILE.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
        assert_eq!(rows, orig);
        assert!(text.starts_with("#rrdAlarmConfig File."));
        assert_eq!(ConfigFile::parse(&text).unwrap(), again);
    }

    fn row(fields: [&str; 10]) -> String {
        fields.join("\t")
    }

    const GOOD: [&str; 10] = ["7", "a/*.rrd", "above", "1.5", "2", "now-1h", "now", "None", "", "0"];

    fn field_error(i: usize, text: &str) -> FieldError {
        let mut f = GOOD;
        f[i] = text;
        match ConfigFile::parse(&row(f)).unwrap_err().0.remove(0) {
            ConfigError { line: 1, error: LineError::Field(e) } => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_field_is_validated() {
        assert!(ConfigFile::parse(&row(GOOD)).is_ok());
        let table: &[(Field, &str, &str)] = &[
            (Field::Id, "x", "whole number"),
            (Field::Id, "-1", "whole number"),
            (Field::RrdPath, "", "empty"),
            (Field::RrdPath, "../etc/passwd", "leaves"),
            (Field::RrdPath, "a/../../b.rrd", "leaves"),
            (Field::RrdPath, "/etc/*.rrd", "absolute"),
            (Field::RrdPath, "C:/x.rrd", "absolute"),
            (Field::RrdPath, "a/[b.rrd", "valid glob"),
            (Field::RrdPath, " a.rrd", "spaces"),
            (Field::Type, "Above", "unknown type"),
            (Field::Type, "over", "unknown type"),
            (Field::Value, "ten", "not a number"),
            (Field::Value, "nan", "not a number"),
            (Field::Value, "inf", "not a number"),
            (Field::Repetitions, "-1", "whole number"),
            (Field::Repetitions, "1.5", "whole number"),
            (Field::Start, "yesterday", "unsupported reference"),
            (Field::Start, "s-1h", "relative to itself"),
            (Field::End, "e", "relative to itself"),
            (Field::Action, "../bin/sh", "action script"),
            (Field::Action, "", "action script"),
            (Field::Action, "send mail", "action script"),
            (Field::RearmSecs, "-5", "seconds ≥ 0"),
            (Field::RearmSecs, "soon", "seconds ≥ 0"),
        ];
        for (field, text, want) in table {
            let e = field_error(*field as usize, text);
            assert_eq!(e.field, *field, "{text:?}: {e}");
            assert_eq!(e.text, *text);
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
        // Start and end relative to each other is the start's error.
        let mut f = GOOD;
        f[5] = "e-1h";
        f[6] = "s+1h";
        let e = Threshold::from_fields(&f).unwrap_err();
        assert_eq!(e.field, Field::Start);
        assert!(e.reason.contains("each other"), "{e}");
        // The API's path: a tab inside a field is refused, the wrong count too.
        let mut f = GOOD;
        f[8] = "a\tb";
        assert_eq!(Threshold::from_fields(&f).unwrap_err().field, Field::ActionParameter);
        assert!(Threshold::from_fields(&GOOD[..9]).is_err());
    }

    #[test]
    fn file_errors_name_their_lines() {
        let text = format!(
            "# header\n{}\n1\t2\t3\n{}\n\n{}\n",
            row(GOOD),
            row(["7", "b.rrd", "below", "1", "0", "now-1h", "now", "None", "", "0"]),
            row(["8", "b.rrd", "sideways", "1", "0", "now-1h", "now", "None", "", "0"]),
        );
        let errs = ConfigFile::parse(&text).unwrap_err();
        let lines: Vec<usize> = errs.0.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 6]);
        assert_eq!(errs.0[0].error, LineError::FieldCount(3));
        assert_eq!(errs.0[1].error, LineError::DuplicateId { id: 7, first_line: 2 });
        let msg = errs.to_string();
        assert!(msg.contains("line 3: expected 10 tab-separated fields, found 3"), "{msg}");
        assert!(msg.contains("line 6: Threshold Type: \"sideways\": unknown type"), "{msg}");
    }
}
