//! rrdAlarm's actions, really run: what happens when a threshold (or an alarm script) fires.
//!
//! ntop grouped the alarms of one check by action parameter and ran each group's action once,
//! as `python scripts/<action>.py -p "<param>" -t "<ALARM>…</ALARM> blocks"`. Here a group is
//! a slice of [`Alarm`]s and its [`ActionSpec`] (ntop's "action script" and "action
//! parameter" fields); [`ActionRunner::run`] runs it with retries and exponential backoff,
//! each attempt bounded in time, and reports every attempt to its caller (which records them).
//!
//! The actions (the action field's value):
//! - `None` ([`NO_ACTION`]): nothing.
//! - `savelog` FILE: appends ntop's text (a `Last Update time:` line, then the blocks) to
//!   `<data-dir>/alarms/FILE`; FILE is a plain file name, the directory 0700, the file 0600,
//!   opened without following a symbolic link.
//! - `sendmail` ADDR[,ADDR…]: one mail (the blocks as its text) through the `[mail]` relay.
//! - `webhook` URL: POSTs `{"version":1,"controller":…,"alarms":[Alarm…]}`.
//! - `alertmanager` URL: POSTs Alertmanager's v2 alerts (the URL names `/api/v2/alerts`).
//! - any other NAME: the Python script `actions/NAME.py` of the scripts roots, run by the
//!   embedded engine with ntop's `sys.argv` (`NAME.py -p PARAM -t TEXT`); it fails when it
//!   raises or exits non-zero. Scripts under `actions/` are never served as pages.
//!
//! It must not store anything in PostgreSQL (its caller records the attempts) nor decide when
//! alarms fire (`wirewatch-alarm` and the checker do).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use wirewatch_alarm::config::NO_ACTION;
use wirewatch_model::identity::{Caller, Role};
use wirewatch_model::scripts::{ScriptError, ScriptOrigin, ScriptRequest, Scripts};

/// The built-in actions (a script of one of these names in `actions/` is not run).
pub const SAVELOG: &str = "savelog";
pub const SENDMAIL: &str = "sendmail";
pub const WEBHOOK: &str = "webhook";
pub const ALERTMANAGER: &str = "alertmanager";
pub const BUILTINS: [&str; 4] = [SAVELOG, SENDMAIL, WEBHOOK, ALERTMANAGER];

/// Longest savelog file name.
pub const MAX_FILE_NAME: usize = 128;
/// Longest action script name.
pub const MAX_SCRIPT_NAME: usize = 64;
/// Most recipients of one sendmail action.
pub const MAX_RECIPIENTS: usize = 50;
/// What is read of a webhook's answer, at most (the rest is not waited for).
pub const MAX_RESPONSE_BYTES: usize = 64 << 10;
/// The longest wait between two attempts, however many there are.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// `[actions]` in the controller's config: how actions are retried and bounded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionsConfig {
    /// Attempts per action and alarm group, the first included.
    pub attempts: u32,
    /// Seconds before the first retry; each later one waits twice as long as the one before.
    pub backoff_secs: f64,
    /// Longest one attempt may take, in seconds (an attempt still running then fails).
    pub timeout_secs: f64,
    /// Hosts (names or addresses, as the URL writes them) that webhook and alertmanager URLs
    /// may name; empty: any. Thresholds are an operator's to edit: this keeps the controller
    /// from posting to hosts the administrator did not mean.
    pub webhook_hosts: Vec<String>,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig { attempts: 4, backoff_secs: 2.0, timeout_secs: 20.0, webhook_hosts: Vec::new() }
    }
}

impl ActionsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=20).contains(&self.attempts) {
            return Err("actions.attempts must be from 1 to 20".into());
        }
        if !(self.backoff_secs.is_finite() && (0.0..=3600.0).contains(&self.backoff_secs)) {
            return Err("actions.backoff_secs must be from 0 to 3600".into());
        }
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0 && self.timeout_secs <= 3600.0) {
            return Err("actions.timeout_secs must be more than 0 and at most 3600".into());
        }
        Ok(())
    }

    fn timeout(&self) -> Duration {
        let s = if self.timeout_secs.is_finite() { self.timeout_secs.clamp(0.001, 3600.0) } else { 20.0 };
        Duration::from_secs_f64(s)
    }

    fn backoff(&self) -> Duration {
        let s = if self.backoff_secs.is_finite() { self.backoff_secs.clamp(0.0, 3600.0) } else { 2.0 };
        Duration::from_secs_f64(s)
    }
}

/// How the mail relay's connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartTls {
    /// STARTTLS or no mail (the relay's certificate checked against the system's roots).
    Required,
    /// STARTTLS when the relay offers it, else in clear.
    Opportunistic,
    /// Never (a relay on this host or a trusted network).
    #[serde(rename = "none")]
    Off,
}

/// `[mail]` in the controller's config: the SMTP relay the `sendmail` action sends through.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The relay's host name or address; empty: no mail (the `sendmail` action is refused).
    pub relay: String,
    /// 0: 587 (submission) with STARTTLS, 25 with `starttls = "none"`.
    pub port: u16,
    pub starttls: StartTls,
    /// Sign in as this user (empty: no sign-in).
    pub username: String,
    /// The user's password; the environment's `WIREWATCH_MAIL_PASSWORD` overrides it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// The sender, e.g. `rrdAlarm <alarms@example.org>`; needed when `relay` is set.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            relay: String::new(),
            port: 0,
            starttls: StartTls::Required,
            username: String::new(),
            password: String::new(),
            from: String::new(),
        }
    }
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("relay", &self.relay)
            .field("port", &self.port)
            .field("starttls", &self.starttls)
            .field("username", &self.username)
            .field("password", &if self.password.is_empty() { "" } else { "<redacted>" })
            .field("from", &self.from)
            .finish()
    }
}

impl MailConfig {
    pub fn configured(&self) -> bool {
        !self.relay.is_empty()
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.configured() {
            return Ok(());
        }
        if self.relay.chars().any(|c| c.is_control() || c.is_whitespace() || c == '/') {
            return Err(format!("mail.relay {:?} is not a host name or address", self.relay));
        }
        self.sender()?;
        if (!self.username.is_empty() || !self.password.is_empty())
            && self.starttls != StartTls::Required
            && !self.loopback()
        {
            return Err("mail.username/password need starttls = \"required\" (anything else can send the \
                        password in clear) unless the relay is on this host"
                .into());
        }
        Ok(())
    }

    fn sender(&self) -> Result<Mailbox, String> {
        if self.from.trim().is_empty() {
            return Err("mail.from must be set when mail.relay is (the sender's address)".into());
        }
        if self.from.chars().any(char::is_control) {
            return Err("mail.from has a control character".into());
        }
        self.from.parse::<Mailbox>().map_err(|e| format!("mail.from {:?}: {e}", self.from))
    }

    fn loopback(&self) -> bool {
        let host = self.relay.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
    }

    fn port(&self) -> u16 {
        match (self.port, self.starttls) {
            (0, StartTls::Off) => 25,
            (0, _) => 587,
            (p, _) => p,
        }
    }

    fn transport(&self, timeout: Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, ActionError> {
        let tls = |relay: &str| {
            TlsParameters::new(relay.to_string()).map_err(|e| ActionError::Failed(format!("mail TLS setup: {e}")))
        };
        let tls = match self.starttls {
            StartTls::Required => Tls::Required(tls(&self.relay)?),
            StartTls::Opportunistic => Tls::Opportunistic(tls(&self.relay)?),
            StartTls::Off => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.relay.as_str())
            .port(self.port())
            .tls(tls)
            .timeout(Some(timeout));
        if !self.username.is_empty() {
            b = b.credentials(Credentials::new(self.username.clone(), self.password.clone()));
        }
        Ok(b.build())
    }
}

/// One alarm as an action sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// The alarm's row in the events table.
    pub event_id: i64,
    /// Threshold alarms: `threshold <id>`; script alarms: the script's name.
    pub name: String,
    /// `info`, `warning`, `error` or `critical`.
    pub severity: String,
    /// Threshold alarms: the RRD file (relative to the archive root); scripts: free text.
    pub subject: String,
    pub message: String,
    pub raised_at: DateTime<Utc>,
    pub threshold_id: Option<u32>,
    /// The value that fired and the threshold it crossed (`above` or `below`).
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub direction: Option<String>,
    /// Threshold alarms: the end of the interval whose value fired (ntop's LOCALTIME).
    pub value_at: Option<DateTime<Utc>>,
    /// Threshold alarms: the fetch window as configured (ntop's START and END, e.g. `now-1h`).
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub probe_id: Option<i64>,
}

impl Alarm {
    /// A threshold's fired report row as an alarm: named `threshold <id>`, severity
    /// `warning`, the file as its subject (the caller sets `probe_id` when it knows it).
    pub fn from_threshold(
        event_id: i64,
        row: &wirewatch_alarm::ResultRow,
        threshold: &wirewatch_alarm::Threshold,
        raised_at: DateTime<Utc>,
    ) -> Alarm {
        use wirewatch_alarm::Field;
        let value = row.value.map_or_else(|| "None".to_string(), py_float);
        Alarm {
            event_id,
            name: format!("threshold {}", row.threshold_id),
            severity: "warning".into(),
            subject: row.file.clone(),
            message: format!(
                "{}: value {value} {} the threshold {}",
                row.file,
                row.direction.as_str(),
                py_float(row.threshold)
            ),
            raised_at,
            threshold_id: Some(row.threshold_id),
            value: row.value,
            threshold: Some(row.threshold),
            direction: Some(row.direction.as_str().to_string()),
            value_at: row.time.and_then(|t| DateTime::from_timestamp(t, 0)),
            window_start: Some(threshold.field(Field::Start).to_string()),
            window_end: Some(threshold.field(Field::End).to_string()),
            probe_id: None,
        }
    }

    /// The alarm as ntop's `<ALARM>` block (start.py's text; times in UTC, as the report's).
    /// A threshold's: `ID`, `FILENAME`, `VALUE` (Python's `str` of the value), `TYPE`,
    /// `THRESHOLD VALUE` (`%f`), `LOCALTIME`, `START`, `END`; a script alarm's: `NAME`,
    /// `SEVERITY`, `SUBJECT`, `MESSAGE`, `LOCALTIME`. Control characters of the fields are
    /// spaces: a field cannot start a line of its own (a forged block in a log file).
    pub fn text_block(&self) -> String {
        let at = |t: DateTime<Utc>| wirewatch_alarm::at::format_report_time(t.timestamp());
        match self.threshold_id {
            Some(id) => format!(
                "<ALARM>\nID: {id} FILENAME: {}\nVALUE: {} TYPE: {} THRESHOLD VALUE: {}\n LOCALTIME: {} START: {} END: {}\n</ALARM>\n",
                clean(&self.subject),
                self.value.map_or_else(|| "None".to_string(), py_float),
                clean(self.direction.as_deref().unwrap_or("")),
                self.threshold.map_or_else(|| "None".to_string(), |t| format!("{t:.6}")),
                at(self.value_at.unwrap_or(self.raised_at)),
                clean(self.window_start.as_deref().unwrap_or("")),
                clean(self.window_end.as_deref().unwrap_or("")),
            ),
            None => format!(
                "<ALARM>\nNAME: {} SEVERITY: {}\nSUBJECT: {}\nMESSAGE: {}\n LOCALTIME: {}\n</ALARM>\n",
                clean(&self.name),
                clean(&self.severity),
                clean(&self.subject),
                clean(&self.message),
                at(self.raised_at),
            ),
        }
    }
}

/// A group's text: its blocks, one after the other (ntop's `-t`).
pub fn alarms_text(alarms: &[Alarm]) -> String {
    alarms.iter().map(Alarm::text_block).collect()
}

/// Control characters as spaces.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Python's `str(float)`: the shortest text that reads back, `.0` on whole numbers, an
/// exponent (`1e+16`, `1.5e-05`) below 1e-4 and from 1e16.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if v == 0.0 || (-4..16).contains(&exp) {
        let s = format!("{v}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs())
    }
}

/// ntop's "action script" and "action parameter" fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActionSpec {
    pub action: String,
    pub parameter: String,
}

impl ActionSpec {
    pub fn new(action: impl Into<String>, parameter: impl Into<String>) -> ActionSpec {
        ActionSpec { action: action.into(), parameter: parameter.into() }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The action cannot run with this parameter here ([`ActionRunner::validate`]'s message);
    /// not tried again.
    #[error("{0}")]
    Invalid(String),
    /// The attempt ran past `[actions] timeout_secs`.
    #[error("no answer within {secs:.1} s (the attempt's time limit)")]
    Timeout { secs: f64 },
    /// The action ran and failed (connection refused, HTTP status, the script raised …).
    #[error("{0}")]
    Failed(String),
}

impl ActionError {
    /// An error that another attempt cannot cure.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ActionError::Invalid(_))
    }
}

/// What [`ActionRunner::run`] came to.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub ok: bool,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error (`None` when it succeeded).
    pub last_error: Option<ActionError>,
}

/// An action spec, checked and parsed.
enum Parsed {
    Nothing,
    Savelog(String),
    Sendmail(Vec<Address>),
    Webhook(reqwest::Url),
    Alertmanager(reqwest::Url),
    Script(String),
}

struct Inner {
    cfg: ActionsConfig,
    mail: MailConfig,
    controller: String,
    /// `<data-dir>/alarms`.
    alarms_dir: PathBuf,
    /// The scripts roots (none when `[python] enabled = false`).
    roots: Vec<PathBuf>,
    scripts: Option<Arc<dyn Scripts>>,
    http: reqwest::Client,
}

/// Runs actions (cheap to clone; attempts run as tasks of their own).
#[derive(Clone)]
pub struct ActionRunner {
    inner: Arc<Inner>,
}

impl ActionRunner {
    /// From the controller's config (`[actions]`, `[mail]`, the data directory, the scripts
    /// roots of `[python]`), this controller's name (Alertmanager's `instance`, the mail's
    /// subject) and the Python engine, if it runs.
    pub fn new(
        cfg: &crate::Config,
        controller: &str,
        scripts: Option<Arc<dyn Scripts>>,
    ) -> Result<ActionRunner, ActionError> {
        cfg.actions.validate().map_err(ActionError::Invalid)?;
        cfg.mail.validate().map_err(ActionError::Invalid)?;
        // reqwest's rustls takes the process's provider (the controller's QUIC uses ring too).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // The attempt's own limit bounds the whole request (see `attempt`).
            .connect_timeout(cfg.actions.timeout())
            .user_agent(concat!("wirewatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ActionError::Failed(format!("the webhook client: {}", chain(&e))))?;
        // The roots even without an engine in this process (`alarm import` validates actions
        // without running any).
        let roots = if cfg.python.enabled { cfg.python.roots() } else { Vec::new() };
        Ok(ActionRunner {
            inner: Arc::new(Inner {
                cfg: cfg.actions.clone(),
                mail: cfg.mail.clone(),
                controller: controller.to_string(),
                alarms_dir: cfg.data_dir.join("alarms"),
                roots,
                scripts,
                http,
            }),
        })
    }

    /// Is this action usable with this parameter? (Thresholds are checked with it before
    /// they are stored; the message says what is wrong.)
    pub fn validate(&self, spec: &ActionSpec) -> Result<(), String> {
        self.parse(spec, true).map(|_| ())
    }

    /// The actions available here, for the configurator's list: the built-in ones (`sendmail`
    /// only with `[mail]` configured), then the scripts `actions/*.py` of the scripts roots
    /// (a name taken by a built-in action or an earlier root is listed once).
    pub fn available(&self) -> Vec<String> {
        let mut out: Vec<String> = BUILTINS
            .iter()
            .filter(|b| **b != SENDMAIL || self.inner.mail.configured())
            .map(|b| b.to_string())
            .collect();
        let mut scripts = BTreeSet::new();
        for root in &self.inner.roots {
            let Ok(dir) = std::fs::read_dir(root.join("actions")) else { continue };
            for e in dir.flatten() {
                let name = e.file_name();
                let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".py")) else { continue };
                if valid_script_name(stem).is_ok() && !BUILTINS.contains(&stem) && self.script_file(stem).is_some() {
                    scripts.insert(stem.to_string());
                }
            }
        }
        out.extend(scripts);
        out
    }

    /// One attempt (not bounded in time: [`run`](Self::run) bounds each).
    pub async fn run_once(&self, spec: &ActionSpec, alarms: &[Alarm]) -> Result<(), ActionError> {
        let parsed = self.parse(spec, true).map_err(ActionError::Invalid)?;
        if alarms.is_empty() {
            return Ok(());
        }
        match parsed {
            Parsed::Nothing => Ok(()),
            Parsed::Savelog(file) => self.savelog(file, alarms).await,
            Parsed::Sendmail(to) => self.sendmail(to, alarms).await,
            Parsed::Webhook(url) => {
                let body = serde_json::json!({
                    "version": 1,
                    "controller": self.inner.controller,
                    "alarms": alarms,
                });
                self.post(url, body).await
            }
            Parsed::Alertmanager(url) => self.post(url, self.alertmanager_body(alarms)).await,
            Parsed::Script(name) => self.script(&name, &spec.parameter, alarms).await,
        }
    }

    /// Attempts until one succeeds, `[actions] attempts` are spent, or an error no attempt
    /// can cure ([`ActionError::is_permanent`]); `backoff_secs` before the first retry,
    /// doubling. Each attempt runs as a task of its own, bounded by `timeout_secs` (cancelled
    /// past it; a panic in it is an error), so nothing here panics or hangs; `on_attempt(n,
    /// &result)` is called after each. Runs of other groups are independent of this one.
    pub async fn run(
        &self,
        spec: &ActionSpec,
        alarms: &[Alarm],
        mut on_attempt: impl FnMut(u32, &Result<(), ActionError>) + Send,
    ) -> ActionOutcome {
        let attempts = self.inner.cfg.attempts.max(1);
        let mut delay = self.inner.cfg.backoff();
        let mut n = 1;
        loop {
            let r = self.attempt(spec, alarms).await;
            on_attempt(n, &r);
            let e = match r {
                Ok(()) => return ActionOutcome { ok: true, attempts: n, last_error: None },
                Err(e) => e,
            };
            tracing::warn!(action = %spec.action, parameter = %shown_parameter(spec), attempt = n, of = attempts,
                error = %e, "alarm action failed");
            if n >= attempts || e.is_permanent() {
                return ActionOutcome { ok: false, attempts: n, last_error: Some(e) };
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_BACKOFF);
            n += 1;
        }
    }

    async fn attempt(&self, spec: &ActionSpec, alarms: &[Alarm]) -> Result<(), ActionError> {
        let (runner, spec, alarms) = (self.clone(), spec.clone(), alarms.to_vec());
        let task = tokio::spawn(async move { runner.run_once(&spec, &alarms).await });
        // Aborted past the limit, and also when this future is dropped (the caller gave up,
        // shutdown): no attempt outlives its run unbounded.
        let _guard = AbortOnDrop(task.abort_handle());
        match tokio::time::timeout(self.inner.cfg.timeout(), task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) if e.is_panic() => {
                Err(ActionError::Failed("the action panicked (a bug of wirewatch's; see the log)".into()))
            }
            Ok(Err(_)) => Err(ActionError::Failed("the attempt was cancelled".into())),
            Err(_) => Err(ActionError::Timeout { secs: self.inner.cfg.timeout().as_secs_f64() }),
        }
    }

    /// Whether a threshold (or a route) may name this action: its name and parameter are
    /// well formed and a script action's file exists. Unlike [`validate`](Self::validate), what
    /// only this controller lacks (a `[mail]` relay, a running Python engine) does not refuse
    /// it: thresholds are shared by every controller of the database, and a run that meets
    /// such a lack is recorded as failed with the reason.
    pub fn validate_stored(&self, spec: &ActionSpec) -> Result<(), String> {
        self.parse(spec, false).map(|_| ())
    }

    /// Mails a scheduled report's output (`[[schedule]] mail_to`) through the `[mail]` relay:
    /// HTML as HTML, anything else as plain text.
    pub async fn send_report(
        &self,
        to: &str,
        subject: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), ActionError> {
        let m = &self.inner.mail;
        if !m.configured() {
            return Err(ActionError::Invalid(
                "no mail relay is configured ([mail] relay in the controller's config)".into(),
            ));
        }
        let to = parse_recipients(to).map_err(ActionError::Invalid)?;
        let from = m.sender().map_err(ActionError::Invalid)?;
        let subject: String = subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let mut b = Message::builder().from(from).subject(subject);
        for a in to {
            b = b.to(Mailbox::new(None, a));
        }
        let ct = if content_type.starts_with("text/html") { ContentType::TEXT_HTML } else { ContentType::TEXT_PLAIN };
        let msg = b
            .header(ct)
            .body(String::from_utf8_lossy(body).into_owned())
            .map_err(|e| ActionError::Failed(format!("the report's mail: {e}")))?;
        let transport = m.transport(self.inner.cfg.timeout())?;
        match tokio::time::timeout(self.inner.cfg.timeout(), transport.send(msg)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ActionError::Failed(format!("mail via {}:{}: {}", m.relay, m.port(), chain(&e)))),
            Err(_) => Err(ActionError::Timeout { secs: self.inner.cfg.timeout_secs }),
        }
    }

    fn parse(&self, spec: &ActionSpec, here: bool) -> Result<Parsed, String> {
        let p = spec.parameter.as_str();
        match spec.action.as_str() {
            NO_ACTION => Ok(Parsed::Nothing),
            SAVELOG => valid_file_name(p).map(|()| Parsed::Savelog(p.to_string())),
            SENDMAIL => {
                if here && !self.inner.mail.configured() {
                    return Err(
                        "sendmail: no mail relay is configured ([mail] relay in the controller's config)".into()
                    );
                }
                parse_recipients(p).map(Parsed::Sendmail)
            }
            WEBHOOK => self.parse_url(WEBHOOK, p).map(Parsed::Webhook),
            ALERTMANAGER => self.parse_url(ALERTMANAGER, p).map(Parsed::Alertmanager),
            name => {
                valid_script_name(name)?;
                if self.inner.roots.is_empty() {
                    return Err(format!(
                        "{name}: no such built-in action ({}), and action scripts need the Python engine, \
                         which is disabled",
                        BUILTINS.join(", ")
                    ));
                }
                if self.script_file(name).is_none() {
                    return Err(format!(
                        "{name}: no such action: not built in ({}) and no script actions/{name}.py in the scripts directories",
                        BUILTINS.join(", ")
                    ));
                }
                Ok(Parsed::Script(name.to_string()))
            }
        }
    }

    fn parse_url(&self, action: &str, text: &str) -> Result<reqwest::Url, String> {
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!("{action}: the URL has a space or a control character"));
        }
        let url = reqwest::Url::parse(text).map_err(|e| format!("{action}: {text:?} is not a URL: {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("{action}: only http and https URLs (not {}:)", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{action}: no user or password in the URL"));
        }
        let Some(host) = url.host_str() else {
            return Err(format!("{action}: the URL names no host"));
        };
        let allowed = &self.inner.cfg.webhook_hosts;
        if !allowed.is_empty() && !allowed.iter().any(|h| same_host(h, host)) {
            return Err(format!("{action}: host {host} is not in [actions] webhook_hosts"));
        }
        Ok(url)
    }

    /// `actions/NAME.py` in the first root that has it as a file inside the root.
    fn script_file(&self, name: &str) -> Option<PathBuf> {
        self.inner.roots.iter().find_map(|root| {
            let root = root.canonicalize().ok()?;
            let file = root.join("actions").join(format!("{name}.py")).canonicalize().ok()?;
            (file.starts_with(&root) && file.is_file()).then_some(file)
        })
    }

    async fn savelog(&self, file: String, alarms: &[Alarm]) -> Result<(), ActionError> {
        let dir = self.inner.alarms_dir.clone();
        let text = format!(
            "Last Update time: {}\n{}",
            wirewatch_alarm::at::format_report_time(Utc::now().timestamp()),
            alarms_text(alarms)
        );
        let shown = format!("alarms/{file}");
        tokio::task::spawn_blocking(move || append(&dir, &file, text.as_bytes()))
            .await
            .map_err(|e| ActionError::Failed(format!("savelog {shown}: {e}")))?
            .map_err(|e| ActionError::Failed(format!("savelog {shown}: {e}")))
    }

    async fn sendmail(&self, to: Vec<Address>, alarms: &[Alarm]) -> Result<(), ActionError> {
        let m = &self.inner.mail;
        let from = m.sender().map_err(ActionError::Invalid)?;
        let mut b = Message::builder().from(from).subject(mail_subject(alarms, &self.inner.controller));
        for a in to {
            b = b.to(Mailbox::new(None, a));
        }
        let msg = b
            .header(ContentType::TEXT_PLAIN)
            .body(alarms_text(alarms))
            .map_err(|e| ActionError::Failed(format!("sendmail: the message: {e}")))?;
        let transport = m.transport(self.inner.cfg.timeout())?;
        transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| ActionError::Failed(format!("sendmail via {}:{}: {}", m.relay, m.port(), chain(&e))))
    }

    async fn post(&self, url: reqwest::Url, body: serde_json::Value) -> Result<(), ActionError> {
        // Only the origin in messages: a webhook's path often holds its secret.
        let origin = url.origin().ascii_serialization();
        let body = serde_json::to_vec(&body).map_err(|e| ActionError::Failed(format!("POST {origin}: {e}")))?;
        let mut resp = self
            .inner
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| ActionError::Failed(format!("POST {origin}: {}", chain(&e.without_url()))))?;
        let status = resp.status();
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => read += c.len(),
                Ok(None) => break,
                Err(e) if status.is_success() => {
                    tracing::debug!(%origin, error = %chain(&e.without_url()), "reading a webhook's answer");
                    break;
                }
                Err(_) => break,
            }
        }
        if status.is_success() {
            Ok(())
        } else {
            // The status only: the answer of whatever the URL names is not shown to whoever
            // reads the attempts.
            Err(ActionError::Failed(format!("POST {origin}: HTTP {status}")))
        }
    }

    /// Alertmanager's v2 body: one alert per alarm.
    fn alertmanager_body(&self, alarms: &[Alarm]) -> serde_json::Value {
        let alerts: Vec<serde_json::Value> = alarms
            .iter()
            .map(|a| {
                let mut labels = serde_json::Map::new();
                labels.insert("alertname".into(), a.name.clone().into());
                labels.insert("severity".into(), a.severity.clone().into());
                labels.insert("instance".into(), self.inner.controller.clone().into());
                labels.insert("subject".into(), a.subject.clone().into());
                labels.insert("source".into(), "wirewatch".into());
                if let Some(id) = a.threshold_id {
                    labels.insert("threshold_id".into(), id.to_string().into());
                }
                if let Some(p) = a.probe_id {
                    labels.insert("probe_id".into(), p.to_string().into());
                }
                let summary =
                    if a.message.is_empty() { format!("{}: {}", a.name, a.subject) } else { a.message.clone() };
                serde_json::json!({
                    "labels": labels,
                    "annotations": {
                        "summary": summary,
                        "description": a.text_block(),
                        "event_id": a.event_id.to_string(),
                    },
                    "startsAt": a.raised_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                })
            })
            .collect();
        serde_json::Value::Array(alerts)
    }

    async fn script(&self, name: &str, parameter: &str, alarms: &[Alarm]) -> Result<(), ActionError> {
        let Some(engine) = self.inner.scripts.as_ref() else {
            return Err(ActionError::Invalid(
                "action scripts need the Python engine, which this process does not run".into(),
            ));
        };
        let path = format!("actions/{name}.py");
        let req = ScriptRequest {
            path: path.clone(),
            origin: ScriptOrigin::Controller,
            argv: vec![format!("{name}.py"), "-p".into(), parameter.to_string(), "-t".into(), alarms_text(alarms)],
            method: "GET".into(),
            query: String::new(),
            content_type: None,
            body: Vec::new(),
            caller: Caller { name: "rrdAlarm".into(), role: Role::Admin, sites: None },
            headers: Vec::new(),
            remote_addr: String::new(),
            csp_nonce: String::new(),
        };
        match engine.run(req).await {
            Ok(reply) => {
                if !reply.body.is_empty() {
                    let out = String::from_utf8_lossy(&reply.body);
                    let out: String = out.chars().take(2000).collect();
                    tracing::info!(script = %path, output = %out, "alarm action script printed");
                }
                Ok(())
            }
            Err(ScriptError::Failed { id, message, traceback, .. }) => {
                tracing::warn!(error_id = %id, script = %path, %message, %traceback, "alarm action script failed");
                Err(ActionError::Failed(format!("{path} failed ({id}): {message}")))
            }
            Err(ScriptError::NotFound(_) | ScriptError::BadPath(_)) => {
                Err(ActionError::Invalid(format!("{name}: no script {path} in the scripts directories")))
            }
            Err(e) => Err(ActionError::Failed(format!("{path}: {e}"))),
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Appends `data` to `dir/name` in one write: the directory made 0700 (an existing one must be
/// a real directory of this user), the file made 0600; a symbolic link, a FIFO or anything
/// but a regular file where the file goes is refused.
fn append(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    wirewatch_store::private_files::private_dir(dir)?;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Error::new(ErrorKind::InvalidInput, "refused: it is a symbolic link"),
            Some(libc::ENXIO) => Error::new(ErrorKind::InvalidInput, "refused: it is not a regular file"),
            _ => e,
        })?;
    if !f.metadata()?.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "refused: it is not a regular file"));
    }
    f.write_all(data)
}

/// A savelog parameter: a plain file name (letters, digits, `._-`, no leading dot).
fn valid_file_name(p: &str) -> Result<(), String> {
    let ok = !p.is_empty()
        && p.len() <= MAX_FILE_NAME
        && !p.starts_with('.')
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "savelog: the parameter {p:?} must be a plain file name (letters, digits, . _ -; not starting \
             with a dot; at most {MAX_FILE_NAME}), written under the data directory's alarms/"
        ))
    }
}

/// An action script's name: `[A-Za-z0-9_-]+`.
fn valid_script_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SCRIPT_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: an action is one of {} or the name of a script actions/NAME.py (letters, digits, _ -; \
             at most {MAX_SCRIPT_NAME})",
            BUILTINS.join(", ")
        ))
    }
}

/// A sendmail parameter: addresses separated by commas, each a plain `user@domain`.
fn parse_recipients(p: &str) -> Result<Vec<Address>, String> {
    let mut out = Vec::new();
    for part in p.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!("sendmail: {p:?}: an empty address in the list"));
        }
        if part.chars().any(|c| c.is_control() || c.is_whitespace() || "<>\"()[];:\\".contains(c)) {
            return Err(format!("sendmail: {part:?} is not a plain mail address (user@domain)"));
        }
        let a = part.parse::<Address>().map_err(|e| format!("sendmail: {part:?} is not a mail address: {e}"))?;
        out.push(a);
    }
    if out.len() > MAX_RECIPIENTS {
        return Err(format!("sendmail: at most {MAX_RECIPIENTS} addresses"));
    }
    Ok(out)
}

/// The mail's subject: ntop's was "RRDALARM Report: <host>"; here the alarm (one) or the count.
fn mail_subject(alarms: &[Alarm], controller: &str) -> String {
    let s = match alarms {
        [one] if one.subject.is_empty() => format!("rrdAlarm: {} ({controller})", one.name),
        [one] => format!("rrdAlarm: {}: {} ({controller})", one.name, one.subject),
        many => format!("rrdAlarm: {} alarms fired ({controller})", many.len()),
    };
    clean(&s).chars().take(200).collect()
}

fn same_host(allowed: &str, host: &str) -> bool {
    let a = allowed.trim().trim_start_matches('[').trim_end_matches(']');
    let h = host.trim_start_matches('[').trim_end_matches(']');
    match (a.parse::<IpAddr>(), h.parse::<IpAddr>()) {
        (Ok(a), Ok(h)) => a == h,
        _ => a.eq_ignore_ascii_case(h),
    }
}

/// The parameter as logs show it: a URL's origin only (a webhook's path often holds its
/// secret).
fn shown_parameter(spec: &ActionSpec) -> String {
    match spec.action.as_str() {
        WEBHOOK | ALERTMANAGER => reqwest::Url::parse(&spec.parameter)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "(not a URL)".into()),
        _ => spec.parameter.clone(),
    }
}

/// An error with its causes ("a: b: c").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            let _ = write!(s, ": {t}");
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn alarm() -> Alarm {
        Alarm {
            event_id: 7,
            name: "threshold 3".into(),
            severity: "warning".into(),
            subject: "probes/pa/interfaces/eth0/bytes.rrd".into(),
            message: "m".into(),
            raised_at: DateTime::from_timestamp(1_700_000_060, 0).unwrap(),
            threshold_id: Some(3),
            value: Some(1234.5),
            threshold: Some(1000.0),
            direction: Some("above".into()),
            value_at: Some(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
            window_start: Some("now-1h".into()),
            window_end: Some("now".into()),
            probe_id: None,
        }
    }

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn runner(dir: &Path, edit: impl FnOnce(&mut crate::Config)) -> ActionRunner {
        let mut cfg = crate::Config { data_dir: dir.to_path_buf(), ..Default::default() };
        edit(&mut cfg);
        ActionRunner::new(&cfg, "ctl-test", None).unwrap()
    }

    #[test]
    fn python_float_text() {
        for (v, s) in [
            (1234.5, "1234.5"),
            (1000.0, "1000.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (2.5e300, "2.5e+300"),
            (-3.0, "-3.0"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(py_float(v), s, "{v}");
        }
    }

    #[test]
    fn blocks_are_ntops() {
        assert_eq!(
            alarm().text_block(),
            "<ALARM>\nID: 3 FILENAME: probes/pa/interfaces/eth0/bytes.rrd\nVALUE: 1234.5 TYPE: above THRESHOLD VALUE: 1000.000000\n LOCALTIME: Tue, 14 Nov 2023 22:13:20 START: now-1h END: now\n</ALARM>\n"
        );
        let s = Alarm {
            threshold_id: None,
            name: "disk".into(),
            subject: "sda\r\n<ALARM>".into(),
            message: "full\nID: 9".into(),
            ..alarm()
        };
        assert_eq!(
            s.text_block(),
            "<ALARM>\nNAME: disk SEVERITY: warning\nSUBJECT: sda  <ALARM>\nMESSAGE: full ID: 9\n LOCALTIME: Tue, 14 Nov 2023 22:14:20\n</ALARM>\n"
        );
    }

    #[test]
    fn parameters_are_checked() {
        let t = tempfile::tempdir().unwrap();
        let r = runner(t.path(), |_| {});
        let ok = |a: &str, p: &str| r.validate(&ActionSpec::new(a, p));
        assert!(ok("None", "anything").is_ok());
        assert!(ok("savelog", "alarms.log").is_ok());
        for bad in ["../x", "a/b", ".hidden", "", "x y", &"a".repeat(129), "a\0b"] {
            assert!(ok("savelog", bad).unwrap_err().contains("plain file name"), "{bad:?}");
        }
        assert!(ok("sendmail", "ops@example.org").unwrap_err().contains("no mail relay is configured"));
        assert!(ok("webhook", "https://hooks.example.org/x?y=1").is_ok());
        assert!(ok("alertmanager", "http://127.0.0.1:9093/api/v2/alerts").is_ok());
        for (bad, why) in [
            ("file:///etc/passwd", "only http and https"),
            ("ftp://x/", "only http and https"),
            ("https://user:pw@example.org/", "no user or password"),
            ("https://user@example.org/", "no user or password"),
            ("not a url", "space or a control"),
            ("https://a.example/\r\nX: y", "space or a control"),
            ("relative/path", "not a URL"),
        ] {
            assert!(ok("webhook", bad).unwrap_err().contains(why), "{bad:?}: {:?}", ok("webhook", bad));
        }
        for bad in ["../bin/sh", "a/b", "x.y", "", "a b"] {
            assert!(ok(bad, "p").unwrap_err().contains("an action is one of"), "{bad:?}");
        }
        assert!(ok("notify", "p").unwrap_err().contains("no script actions/notify.py"), "{:?}", ok("notify", "p"));
        assert_eq!(r.available(), vec!["savelog", "webhook", "alertmanager"]);
        // Scripts are checked against the roots even with no engine in this process (an
        // import), and run only with one.
        write(&t.path().join("scripts/actions/notify.py"), "pass\n");
        let r = runner(t.path(), |c| c.python.scripts_dir = Some(t.path().join("scripts")));
        assert!(r.validate(&ActionSpec::new("notify", "p")).is_ok());
        assert_eq!(r.available(), vec!["savelog", "webhook", "alertmanager", "notify"]);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let e = rt.block_on(r.run_once(&ActionSpec::new("notify", "p"), &[alarm()])).unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("does not run"), "{e}");
        let r = runner(t.path(), |c| c.python.enabled = false);
        assert!(r.validate(&ActionSpec::new("notify", "p")).unwrap_err().contains("disabled"));

        let r = runner(t.path(), |c| {
            c.mail = MailConfig {
                relay: "127.0.0.1".into(),
                starttls: StartTls::Off,
                from: "rrdAlarm <alarms@example.org>".into(),
                ..Default::default()
            };
            c.actions.webhook_hosts = vec!["hooks.example.org".into(), "[::1]".into()];
        });
        let ok = |a: &str, p: &str| r.validate(&ActionSpec::new(a, p));
        assert!(ok("sendmail", "ops@example.org, oncall@example.org").is_ok());
        for bad in [
            "ops@example.org\r\nBcc: evil@example.org",
            "ops@example.org,,x@example.org",
            "Ops <ops@example.org>",
            "\"a b\"@example.org",
            "nobody",
            "",
        ] {
            assert!(ok("sendmail", bad).is_err(), "{bad:?}");
        }
        assert!(ok("webhook", "https://HOOKS.example.org/x").is_ok());
        assert!(ok("webhook", "http://[::1]:8080/x").is_ok());
        assert!(ok("webhook", "http://127.0.0.1/x").unwrap_err().contains("webhook_hosts"));
        assert_eq!(r.available(), vec!["savelog", "sendmail", "webhook", "alertmanager"]);
    }

    #[test]
    fn mail_settings_are_checked() {
        let m = |relay: &str, starttls: StartTls, user: &str, from: &str| MailConfig {
            relay: relay.into(),
            starttls,
            username: user.into(),
            password: if user.is_empty() { String::new() } else { "pw".into() },
            from: from.into(),
            port: 0,
        };
        assert!(MailConfig::default().validate().is_ok());
        assert!(m("smtp.example.org", StartTls::Required, "u", "a@example.org").validate().is_ok());
        assert!(m("smtp.example.org", StartTls::Required, "", "").validate().unwrap_err().contains("mail.from"));
        assert!(
            m("smtp.example.org", StartTls::Off, "u", "a@example.org").validate().unwrap_err().contains("in clear")
        );
        assert!(
            m("smtp.example.org", StartTls::Opportunistic, "u", "a@example.org")
                .validate()
                .unwrap_err()
                .contains("in clear")
        );
        assert!(m("127.0.0.1", StartTls::Off, "u", "a@example.org").validate().is_ok());
        assert!(m("smtp.example.org", StartTls::Required, "", "a@example.org\r\nBcc: x@y").validate().is_err());
        assert_eq!(m("x", StartTls::Off, "", "").port(), 25);
        assert_eq!(m("x", StartTls::Required, "", "").port(), 587);
        let dbg = format!("{:?}", m("x", StartTls::Required, "u", "a@b.c"));
        assert!(!dbg.contains("pw") && dbg.contains("<redacted>"), "{dbg}");
    }

    #[test]
    fn actions_and_mail_load_from_the_config_file() {
        let t = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            let p = t.path().join("c.toml");
            std::fs::write(&p, text).unwrap();
            crate::Config::load(Some(&p)).map_err(|e| format!("{e:#}"))
        };
        let c = load(
            "[actions]\nattempts = 2\nbackoff_secs = 0.5\nwebhook_hosts = [\"hooks.example.org\"]\n\
             [mail]\nrelay = \"smtp.example.org\"\nfrom = \"rrdAlarm <a@example.org>\"\nusername = \"u\"\npassword = \"p\"\n",
        )
        .unwrap();
        assert_eq!((c.actions.attempts, c.actions.backoff_secs, c.actions.timeout_secs), (2, 0.5, 20.0));
        assert_eq!(c.actions.webhook_hosts, vec!["hooks.example.org"]);
        assert_eq!(
            (c.mail.relay.as_str(), c.mail.starttls, c.mail.port()),
            ("smtp.example.org", StartTls::Required, 587)
        );
        let e =
            load("[mail]\nrelay = \"smtp.example.org\"\nstarttls = \"none\"\nusername = \"u\"\nfrom = \"a@b.org\"\n")
                .unwrap_err();
        assert!(e.contains("in clear"), "{e}");
        assert!(load("[mail]\nrelay = \"smtp.example.org\"\n").unwrap_err().contains("mail.from"));
        assert!(load("[mail]\nstarttls = \"sometimes\"\n").is_err());
        assert!(load("[actions]\nattempts = 0\n").unwrap_err().contains("attempts"));
        assert!(load("[actions]\ntimeout_secs = 0\n").unwrap_err().contains("timeout_secs"));
        // The printed defaults load back, with no password line.
        let d = crate::Config::default_toml().unwrap();
        assert!(d.contains("[actions]") && d.contains("[mail]") && d.contains("starttls = \"required\""), "{d}");
        assert!(!d.lines().any(|l| l.starts_with("password =")), "{d}");
        load(&d).unwrap();
    }

    #[test]
    fn subjects() {
        let a = alarm();
        assert_eq!(
            mail_subject(std::slice::from_ref(&a), "c1"),
            "rrdAlarm: threshold 3: probes/pa/interfaces/eth0/bytes.rrd (c1)"
        );
        assert_eq!(mail_subject(&[a.clone(), a], "c1"), "rrdAlarm: 2 alarms fired (c1)");
        let evil = Alarm { subject: "x\r\nBcc: y@z".into(), ..alarm() };
        assert!(!mail_subject(&[evil], "c").contains('\n'));
    }
}
