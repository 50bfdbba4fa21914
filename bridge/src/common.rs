//! `pmq bridge out` and `pmq bridge in`: a local queue to and from NATS
//! JetStream, losing nothing when a bridge or the server is killed (see
//! docs/src/bridge.md, for exactly what is guaranteed).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerAddr};

use pmq_cli::bridge_args::NatsArgs;
use pmq_cli::fail::{self, Failure};
use pmq_cli::CmdResult;

/// The header that carries a message's local priority across NATS.
pub const PRIORITY_HEADER: &str = "Pmq-Priority";

// ---------------------------------------------------------------- checks

fn usage(msg: impl Into<String>) -> Failure {
    Failure::new(fail::USAGE, msg)
}

/// A NATS subject: dot-separated non-empty tokens without whitespace;
/// wildcards (`*` tokens, a last `>` token) only where a filter is meant.
pub fn check_subject(s: &str, wildcards: bool) -> Result<(), Failure> {
    let bad = |why: &str| {
        usage(format!(
            "--subject {s:?} is not a NATS subject ({why}); use dot-separated tokens, e.g. \
             orders.eu"
        ))
    };
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains white space"));
    }
    let tokens: Vec<&str> = s.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if t.is_empty() {
            return Err(bad("it has an empty token"));
        }
        let wild = *t == "*" || *t == ">";
        if wild && !wildcards {
            return Err(bad("bridge out publishes: no wildcards"));
        }
        if *t == ">" && i + 1 != tokens.len() {
            return Err(bad("> must be the last token"));
        }
        if !wild && (t.contains('*') || t.contains('>')) {
            return Err(bad("* and > are whole tokens only"));
        }
    }
    Ok(())
}

/// A stream or durable consumer name as JetStream takes it.
pub fn check_js_name(what: &str, s: &str) -> Result<(), Failure> {
    if s.is_empty()
        || s.len() > 255
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(c))
    {
        return Err(usage(format!(
            "{what} {s:?} is not a JetStream name; use letters, digits, - and _ (no spaces, \
             dots, *, >, / or \\)"
        )));
    }
    Ok(())
}

/// The server addresses of --nats.
pub fn parse_urls(s: &str) -> Result<Vec<ServerAddr>, Failure> {
    let mut out = Vec::new();
    for u in s.split(',').map(str::trim) {
        let bad = |why: String| {
            usage(format!(
                "--nats {u:?} is not a NATS server URL ({why}); use nats://HOST:PORT, or \
                 tls://HOST:PORT for TLS"
            ))
        };
        if u.is_empty() {
            return Err(bad("it is empty".into()));
        }
        if let Some((scheme, _)) = u.split_once("://") {
            if scheme != "nats" && scheme != "tls" {
                return Err(bad(format!("scheme {scheme}:// is not nats:// or tls://")));
            }
        }
        let addr: ServerAddr = u.parse().map_err(|e| bad(format!("{e}")))?;
        if addr.host().is_empty() {
            return Err(bad("no host".into()));
        }
        out.push(addr);
    }
    Ok(out)
}

pub fn seconds(what: &str, s: f64) -> Result<Duration, Failure> {
    if !s.is_finite() || s <= 0.0 || s > 1e9 {
        return Err(usage(format!(
            "{what} {s} is not a number of seconds above 0; use e.g. {what} 30"
        )));
    }
    Ok(Duration::from_secs_f64(s))
}

/// The checked options shared by both directions.
pub struct Common {
    pub urls: Vec<ServerAddr>,
    pub url_text: String,
    pub stats: Option<Duration>,
    pub duplicate_window: Duration,
    pub batch: usize,
}

pub fn check_common(n: &NatsArgs, wildcards: bool) -> Result<Common, Failure> {
    check_subject(&n.subject, wildcards)?;
    if let Some(s) = &n.stream {
        check_js_name("--stream", s)?;
    }
    let urls = parse_urls(&n.nats)?;
    let stats = n.stats.map(|s| seconds("--stats", s)).transpose()?;
    let duplicate_window = seconds("--duplicate-window", n.duplicate_window)?;
    if n.creds.is_some() && (n.user.is_some() || n.token.is_some()) {
        return Err(usage(
            "give one way to authenticate: --creds, --user (with a password) or --token",
        ));
    }
    Ok(Common {
        urls,
        url_text: n.nats.clone(),
        stats,
        duplicate_window,
        batch: n.batch as usize,
    })
}

// ---------------------------------------------------------------- paths

/// Where journals go by default: $XDG_STATE_HOME/pmq, else ~/.local/state/pmq.
fn state_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| PathBuf::from(x).is_absolute()) {
        return PathBuf::from(x).join("pmq");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".local/state/pmq")
}

pub fn default_journal(
    kind: pmq::BackendKind,
    direction: &str,
    queue: &str,
    durable: Option<&str>,
) -> PathBuf {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let backend = match kind {
        pmq::BackendKind::Shm => "shm",
        _ => "kernel",
    };
    let mut name = format!(
        "bridge-{direction}-{backend}-{}",
        clean(queue.trim_start_matches('/'))
    );
    if let Some(d) = durable {
        name.push('-');
        name.push_str(&clean(d));
    }
    name.push_str(".journal");
    state_dir().join(name)
}

/// Says what opening the journal had to repair: damage loudly (a WARNING
/// line), a cut incomplete last record as a plain note.
pub fn announce_repair(who: &str, r: Option<&crate::journal::Repair>) {
    match r {
        Some(r) if r.damaged => note!("{who}: WARNING: {}", r.text),
        Some(r) => note!("{who}: {}", r.text),
        None => {}
    }
}

/// The exit status of a run that otherwise went well: 1 if its journal was
/// damaged when it started (so that a supervisor or script notices even if
/// nobody reads the WARNING), else 0.
pub fn damage_status(r: Option<&crate::journal::Repair>) -> CmdResult {
    match r {
        Some(r) if r.damaged => Err(Failure::new(
            fail::OTHER,
            format!(
                "exit status 1: the journal was damaged when this run started (the run itself \
                 went well): {}",
                r.text
            ),
        )),
        _ => Ok(fail::OK),
    }
}

// ---------------------------------------------------------------- NATS

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(fail::OTHER, format!("cannot start the async runtime: {e}")))
}

/// The last server error that retrying cannot fix (see [`refusal`]).
static REFUSED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Remembers a server error that says this client's own requests can never
/// be accepted as they are: a protocol line longer than the server's
/// max_control_line (a subject too long), or a permission refused.
fn note_refusal(text: &str) {
    let lower = text.to_lowercase();
    if lower.contains("maximum control line") || lower.contains("permissions violation") {
        *REFUSED.lock().unwrap_or_else(|p| p.into_inner()) = Some(text.to_string());
    }
}

/// The permanent refusal the server sent, if any: a publish failing after
/// it is not retried (a transient failure, e.g. the server restarting, is).
pub fn refusal() -> Option<String> {
    REFUSED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

pub async fn connect(n: &NatsArgs, c: &Common, who: &str) -> Result<async_nats::Client, Failure> {
    let lost = Arc::new(AtomicBool::new(false));
    let who_ev = who.to_string();
    let mut o = ConnectOptions::new()
        .name(format!("pmq {who}"))
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((50 * attempts as u64).clamp(50, 1000))
        })
        .event_callback(move |ev| {
            let lost = lost.clone();
            let who = who_ev.clone();
            async move {
                match ev {
                    Event::Disconnected if !lost.swap(true, Ordering::SeqCst) => {
                        note!("{who}: lost the NATS connection; reconnecting (nothing is lost meanwhile)");
                    }
                    Event::Connected if lost.swap(false, Ordering::SeqCst) => {
                        note!("{who}: reconnected to NATS");
                    }
                    Event::ServerError(e) => {
                        note!("{who}: NATS server error: {e}");
                        note_refusal(&e.to_string());
                    }
                    Event::LameDuckMode => note!("{who}: the NATS server is shutting down (lame duck mode)"),
                    _ => {}
                }
            }
        });
    if let Some(path) = &n.creds {
        o = o.credentials_file(path).await.map_err(|e| {
            Failure::new(
                fail::USAGE,
                format!(
                    "cannot use --creds {}: {e}; give the .creds file `nsc` wrote for this user",
                    path.display()
                ),
            )
        })?;
    }
    if let Some(user) = &n.user {
        let password = match &n.password {
            Some(p) => p.clone(),
            None => std::env::var("PMQ_NATS_PASSWORD").map_err(|_| {
                usage("--user needs a password: give --password, or set PMQ_NATS_PASSWORD")
            })?,
        };
        o = o.user_and_password(user.clone(), password);
    }
    if let Some(t) = &n.token {
        o = o.token(t.clone());
    }
    if let Some(ca) = &n.tls_ca {
        o = o.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let (Some(cert), Some(key)) = (&n.tls_cert, &n.tls_key) {
        o = o
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true);
    }
    let url = &c.url_text;
    o.connect(c.urls.clone()).await.map_err(|e| {
        let (code, hint) = match e.kind() {
            ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => (
                fail::PERMISSION,
                "the server refused the credentials: check --creds, --user/--password or --token",
            ),
            ConnectErrorKind::Tls => (
                fail::OTHER,
                "TLS failed: use tls:// (or --tls-ca) only with a server that has TLS, and give \
                 the CA that signed its certificate with --tls-ca",
            ),
            ConnectErrorKind::ServerParse => {
                (fail::USAGE, "use nats://HOST:PORT or tls://HOST:PORT")
            }
            _ => (
                fail::OTHER,
                "is nats-server running there (with JetStream: nats-server -js), and is the \
                 address right?",
            ),
        };
        Failure::new(
            code,
            format!("cannot connect to NATS at {url}: {e}; {hint}"),
        )
    })
}

pub fn jetstream(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .max_ack_inflight(16384)
        .backpressure_on_inflight(true)
        .build(client)
}

/// A JetStream request's failure, worded with what to do.
pub fn js_failure(url: &str, what: &str, e: impl std::fmt::Display) -> Failure {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("no responders") || lower.contains("jetstream not enabled") {
        Failure::new(
            fail::OTHER,
            format!(
                "{what}: JetStream does not answer at {url} ({text}); start the server with \
                 JetStream enabled (nats-server -js)"
            ),
        )
    } else if lower.contains("permission") || lower.contains("authorization") {
        Failure::new(
            fail::PERMISSION,
            format!("{what}: permission denied at {url} ({text}); ask for the JetStream API permissions of this account"),
        )
    } else {
        Failure::new(fail::OTHER, format!("{what} at {url}: {text}"))
    }
}

/// Does the subject pattern `pat` (a stream's subject) match `subject`?
pub fn subject_matches(pat: &str, subject: &str) -> bool {
    let p: Vec<&str> = pat.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    for (i, t) in p.iter().enumerate() {
        if *t == ">" {
            return s.len() > i;
        }
        match s.get(i) {
            Some(x) if *t == "*" || t == x => {}
            _ => return false,
        }
    }
    p.len() == s.len()
}

fn default_stream_name(subject: &str) -> String {
    let mut n = String::from("PMQ_");
    n.extend(subject.chars().map(|c| match c {
        '.' | '*' | '>' => '_',
        c => c,
    }));
    n
}

/// The stream for --subject: --stream or the one capturing the subject,
/// created when missing with --create-stream.
pub async fn resolve_stream(
    js: &jetstream::Context,
    n: &NatsArgs,
    c: &Common,
) -> Result<stream::Stream, Failure> {
    let url = &c.url_text;
    let subject = &n.subject;
    let name = match &n.stream {
        Some(s) => Some(s.clone()),
        None if subject.contains('*') || subject.contains('>') => None,
        None => match js.stream_by_subject(subject.clone()).await {
            Ok(s) => Some(s),
            Err(e) if e.kind() == jetstream::context::GetStreamByNameErrorKind::NotFound => None,
            Err(e) => return Err(js_failure(url, "cannot look up the stream", e)),
        },
    };
    let existing = match &name {
        Some(s) => match js.get_stream(s).await {
            Ok(st) => Some(st),
            Err(e)
                if e.to_string().contains("stream not found")
                    || e.to_string().contains("10059") =>
            {
                None
            }
            Err(e) => return Err(js_failure(url, &format!("cannot look up stream {s}"), e)),
        },
        None => None,
    };
    if let Some(st) = existing {
        let subjects = &st.cached_info().config.subjects;
        if !subject.contains('*')
            && !subject.contains('>')
            && !subjects.iter().any(|p| subject_matches(p, subject))
        {
            return Err(Failure::new(
                fail::USAGE,
                format!(
                    "stream {} does not capture subject {subject} (its subjects: {}); give the \
                     stream that does, or leave out --stream",
                    st.cached_info().config.name,
                    subjects.join(", ")
                ),
            ));
        }
        return Ok(st);
    }
    if !n.create_stream {
        let which = match &name {
            Some(s) => format!("stream {s} does not exist"),
            None => format!("no JetStream stream captures subject {subject}"),
        };
        return Err(Failure::new(
            fail::NOT_FOUND,
            format!(
                "{which} at {url}; add --create-stream to create it (--stream NAME to name it), \
                 or create it with `nats stream add`"
            ),
        ));
    }
    let stream_name = name.unwrap_or_else(|| default_stream_name(subject));
    check_js_name("stream name", &stream_name)?;
    let cfg = stream::Config {
        name: stream_name.clone(),
        subjects: vec![subject.clone()],
        storage: stream::StorageType::File,
        duplicate_window: c.duplicate_window,
        ..Default::default()
    };
    match js.create_stream(cfg).await {
        Ok(st) => Ok(st),
        // Another bridge created it meanwhile (name in use, or subjects
        // overlap): use that one.
        Err(e) if e.to_string().contains("10058") || e.to_string().contains("10065") => {
            let name = match &n.stream {
                Some(s) => s.clone(),
                None => js.stream_by_subject(subject.clone()).await.map_err(|_| {
                    js_failure(url, &format!("cannot create stream {stream_name}"), &e)
                })?,
            };
            js.get_stream(&name)
                .await
                .map_err(|e| js_failure(url, &format!("cannot look up stream {name}"), e))
        }
        Err(e) => Err(js_failure(
            url,
            &format!("cannot create stream {stream_name}"),
            e,
        )),
    }
}

/// Stats lines: messages/s since the last line.
pub struct Rate {
    last: std::time::Instant,
    count: u64,
}

impl Rate {
    pub fn new() -> Rate {
        Rate {
            last: std::time::Instant::now(),
            count: 0,
        }
    }
    /// Messages per second since the last call, given the running total.
    pub fn per_second(&mut self, total: u64) -> f64 {
        let now = std::time::Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64().max(1e-9);
        let r = (total - self.count) as f64 / dt;
        self.last = now;
        self.count = total;
        r
    }
}

/// Whether a timed receive or lease that failed with `e` only found nothing
/// within its slice (timed out, would block, a signal's interruption): the
/// loop checks its stop flags and tries again.
pub(crate) fn no_message_now(e: &pmq::Error) -> bool {
    matches!(
        e.kind(),
        pmq::ErrorKind::TimedOut | pmq::ErrorKind::WouldBlock | pmq::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_checked() {
        assert!(check_subject("a.b", false).is_ok());
        assert!(check_subject("a.*.>", true).is_ok());
        for bad in ["", "a b", "a..b", ".a", "a.", "a.>.b", "a*"] {
            assert!(check_subject(bad, true).is_err(), "{bad:?}");
        }
        assert!(check_subject("a.*", false).is_err());
    }

    #[test]
    fn subject_patterns_match() {
        assert!(subject_matches("a.*", "a.b"));
        assert!(subject_matches("a.>", "a.b.c"));
        assert!(!subject_matches("a.>", "a"));
        assert!(!subject_matches("a.*", "a.b.c"));
        assert!(subject_matches("a.b", "a.b"));
        assert!(!subject_matches("a.b", "a.c"));
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_urls("nats://127.0.0.1:4222").is_ok());
        assert!(parse_urls("tls://h:4222,nats://g:1").is_ok());
        assert!(parse_urls("http://h:1").is_err());
        assert!(parse_urls("").is_err());
        assert!(parse_urls("nats://:99999").is_err());
    }
}
