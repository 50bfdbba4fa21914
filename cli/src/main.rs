//! `pmq`: see, create, feed, drain and remove POSIX message queues from a shell.
//!
//! Built on the safe core of the pmq library; everything about the mqueue
//! filesystem (listing, status lines, owners) lives here, not in the library.

mod assets;
mod bridge;
mod fail;
mod mqfs;
mod render;
mod signals;

use std::ffi::OsString;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use pmq::{ErrorKind, OpenOptions, Queue, Timeout};
use serde::Serialize;

use fail::{open_failure, Failure};
use render::Format;

#[derive(Parser, Debug)]
#[command(
    name = "pmq",
    version,
    about = "See, create, feed, drain and remove POSIX message queues",
    after_help = fail::EXIT_CODES_HELP
)]
struct Cli {
    /// Which queues: kernel (mq_open queues, the default) or shm (pmq's shared-memory
    /// queues in /dev/shm). `ls` without it lists both.
    #[arg(long, global = true, value_enum)]
    backend: Option<BackendArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Kernel,
    Shm,
}

/// The backend the command works on (set once, from --backend).
static BACKEND: std::sync::OnceLock<Option<BackendArg>> = std::sync::OnceLock::new();

fn backend_arg() -> Option<BackendArg> {
    BACKEND.get().copied().flatten()
}

pub(crate) fn backend() -> pmq::BackendKind {
    match backend_arg() {
        Some(BackendArg::Shm) => pmq::BackendKind::Shm,
        _ => pmq::BackendKind::Kernel,
    }
}

/// Options for the chosen backend.
pub(crate) fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.backend(backend());
    o
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List queues: messages, bytes, capacity, mode, owner, notification holder
    ///
    /// A name that is not UTF-8 (made by some other program) is shown escaped as
    /// `recv --format text` escapes a message: \xHH for each such byte, \\ for \.
    Ls {
        /// Only these queues (default: every queue on the system)
        names: Vec<String>,
        /// Print JSON (an array of objects) instead of a table; each object's "name_utf8" is
        /// false for a name that is not UTF-8 (escaped in "name"), "name_hex" has the name's bytes
        #[arg(long)]
        json: bool,
    },
    /// Show one queue in detail
    Stat {
        /// Queue name, e.g. /jobs
        name: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Receipts that dead receivers left in a shared-memory queue: the last message each
    /// receiver killed (or exited without closing) took, so nothing it took is silently gone
    ///
    /// A receiver writes its receipt just before its take commits, so STATE says what
    /// happened: "taken" (the take committed: the message left the queue with the dead
    /// receiver; the case to recover), "queued" (the take did not commit: the message is
    /// still in the queue and a receiver will get it), "delivered" (the take did not commit
    /// and another receiver has taken the message since). HEAD is the message's first 16
    /// bytes, escaped as `recv --format text` escapes. Reading changes nothing; SEQ names a
    /// message once in the queue's life. Works on `--backend shm` queues (the default here);
    /// the kernel backend keeps no receipts.
    Receipts {
        /// Queue name, e.g. /jobs
        name: String,
        /// Print JSON (an array of objects) instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Create a queue (an existing one is left as it is unless --exclusive)
    Create {
        /// Queue name, e.g. /jobs
        name: String,
        /// Capacity in messages [default: fs.mqueue.msg_max]
        #[arg(long, value_name = "N")]
        max_messages: Option<i64>,
        /// Largest message in bytes [default: fs.mqueue.msgsize_max]
        #[arg(long, value_name = "N")]
        max_size: Option<i64>,
        /// Permission bits in octal (masked by the umask)
        #[arg(long, value_name = "OCTAL", default_value = "0600", value_parser = parse_mode)]
        mode: u32,
        /// Fail (exit 6) if the queue already exists
        #[arg(long)]
        exclusive: bool,
    },
    /// Remove queues (open handles keep working until closed)
    Rm {
        /// Queue names
        #[arg(required = true)]
        names: Vec<String>,
        /// Say nothing and succeed when a queue does not exist
        #[arg(short, long)]
        force: bool,
    },
    /// Send a message: MESSAGE, or standard input (whole, or one message per line with --lines)
    Send {
        /// Queue name, e.g. /jobs
        name: String,
        /// The message (default: read standard input)
        #[arg(conflicts_with = "lines")]
        message: Option<OsString>,
        /// Message priority; higher is received first
        #[arg(short, long, default_value_t = 0,
              value_parser = clap::value_parser!(u32).range(0..=pmq::PRIORITY_MAX as i64))]
        priority: u32,
        /// Wait at most S seconds for room in a full queue (0: do not wait; a wait too long
        /// for the clock to hold, e.g. 1e19, is forever) [default: wait forever]
        #[arg(short, long, value_name = "S", allow_negative_numbers = true)]
        timeout: Option<f64>,
        /// Send each line of standard input as one message (without its newline)
        #[arg(long)]
        lines: bool,
    },
    /// Receive messages and print them with their priorities
    Recv {
        /// Queue name, e.g. /jobs
        name: String,
        /// Receive N messages [default: 1]
        #[arg(short = 'n', long, value_name = "N", conflicts_with = "follow",
              value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        /// Keep receiving until SIGINT/SIGTERM (Ctrl-C), or until --timeout passes with no message
        #[arg(short, long)]
        follow: bool,
        /// Wait at most S seconds for each message (0: do not wait; a wait too long for the
        /// clock to hold, e.g. 1e19, is forever) [default: wait forever]
        #[arg(short, long, value_name = "S", allow_negative_numbers = true)]
        timeout: Option<f64>,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// System limits, and this user's usage of RLIMIT_MSGQUEUE, with how to raise each limit
    Limits {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Bridge a local queue to or from NATS JetStream, losing no message when a bridge or
    /// the server is killed (docs/src/bridge.md)
    #[command(subcommand)]
    Bridge(Box<bridge::BridgeCmd>),
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(format!(
            "mode {s:?} is not octal permission bits; use e.g. 0600 (owner only) or 0660"
        )),
    }
}

fn main() {
    if let Some(dir) = std::env::var_os(assets::ENV) {
        // The build asks for the man page and completions (assets.rs).
        use clap::CommandFactory;
        if let Err(e) = assets::generate(Cli::command(), std::path::Path::new(&dir)) {
            eprintln!("pmq: writing the man page and completions into {dir:?}: {e}");
            std::process::exit(1);
        }
        return;
    }
    let cli = Cli::parse();
    let _ = BACKEND.set(cli.backend);
    let result = match cli.command {
        Command::Ls { names, json } => ls(&names, json),
        Command::Stat { name, json } => stat(&name, json),
        Command::Receipts { name, json } => receipts(&name, json),
        Command::Create {
            name,
            max_messages,
            max_size,
            mode,
            exclusive,
        } => create(&name, max_messages, max_size, mode, exclusive),
        Command::Rm { names, force } => rm(&names, force),
        Command::Send {
            name,
            message,
            priority,
            timeout,
            lines,
        } => send(&name, message, priority, timeout, lines),
        Command::Recv {
            name,
            count,
            follow,
            timeout,
            format,
        } => recv(&name, count.unwrap_or(1), follow, timeout, format),
        Command::Limits { json } => limits(json),
        Command::Bridge(cmd) => bridge::run(*cmd),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(f) => {
            eprintln!("pmq: {}", f.message);
            std::process::exit(f.code);
        }
    }
}

pub(crate) type CmdResult = Result<i32, Failure>;

fn check_name(name: &str) -> Result<(), Failure> {
    pmq::BackendKind::Kernel
        .validate_name(name)
        .map_err(Failure::from)
}

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(fail::OTHER, format!("cannot render JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".to_string())
}

// ---------------------------------------------------------------- ls, stat

fn ls(names: &[String], json: bool) -> CmdResult {
    for n in names {
        check_name(n)?;
    }
    let which = backend_arg();
    let kernel = which != Some(BackendArg::Shm);
    let shm = which != Some(BackendArg::Kernel);
    // The kernel's queues need the mqueue filesystem (`--backend shm` does not).
    let dir = if kernel {
        Some(mqfs::require_mounted()?)
    } else {
        None
    };
    let mut code = fail::OK;
    let mut queues = Vec::new();
    if names.is_empty() {
        if let Some(d) = &dir {
            queues.extend(mqfs::list(d)?);
        }
        if shm {
            queues.extend(mqfs::list_shm()?);
        }
    } else {
        for n in names {
            let found = match (&dir, shm) {
                // Either backend; if neither has it, the kernel's not-found.
                (Some(d), true) => mqfs::one(d, n).or_else(|f| mqfs::one_shm(n).map_err(|_| f)),
                (Some(d), false) => mqfs::one(d, n),
                (None, _) => mqfs::one_shm(n),
            };
            match found {
                Ok(q) => queues.push(q),
                Err(f) => {
                    eprintln!("pmq: {}", f.message);
                    if code == fail::OK {
                        code = f.code;
                    }
                }
            }
        }
    }
    if json {
        print_json(&queues)?;
        return Ok(code);
    }
    if queues.is_empty() {
        if names.is_empty() {
            let mut places = Vec::new();
            if let Some(d) = &dir {
                places.push(d.display().to_string());
            }
            if shm {
                places.push(format!("{} (shared-memory)", mqfs::shm_dir()));
            }
            println!("no queues in {}", places.join(" or "));
        }
        return Ok(code);
    }
    let header = [
        "NAME", "BACKEND", "MESSAGES", "BYTES", "MAX_MSGS", "MAX_SIZE", "MODE", "OWNER", "NOTIFY",
    ];
    let rows: Vec<Vec<String>> = queues
        .iter()
        .map(|q| {
            vec![
                q.name.clone(),
                q.backend.to_string(),
                dash(q.messages),
                dash(q.bytes),
                dash(q.max_messages),
                dash(q.max_message_size),
                q.mode.clone(),
                q.owner.clone(),
                q.notify
                    .as_ref()
                    .map(|n| n.describe())
                    .unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    use render::Align::{Left as L, Right as R};
    let mut out = io::stdout().lock();
    for l in render::table(&header, &[L, L, R, R, R, R, L, L, L], &rows) {
        let _ = writeln!(out, "{l}");
    }
    Ok(code)
}

fn stat(name: &str, json: bool) -> CmdResult {
    check_name(name)?;
    let q = if backend() == pmq::BackendKind::Shm {
        mqfs::one_shm(name)?
    } else {
        let dir = mqfs::require_mounted()?;
        mqfs::one(&dir, name)?
    };
    if json {
        print_json(&q)?;
        return Ok(fail::OK);
    }
    let messages = match (q.messages, q.max_messages) {
        (Some(m), Some(max)) => format!("{m} of {max}"),
        _ => "- (cannot open the queue)".to_string(),
    };
    let size = match q.max_message_size {
        Some(s) => format!("at most {s} bytes"),
        None => "-".to_string(),
    };
    let notify = match &q.notify {
        Some(n) => match n.signal {
            Some(s) => format!(
                "process {} ({}) gets signal {s} when the queue becomes non-empty",
                n.pid,
                n.command.as_deref().unwrap_or("?")
            ),
            None => format!(
                "process {} ({}) is registered ({})",
                n.pid,
                n.command.as_deref().unwrap_or("?"),
                n.method
            ),
        },
        None => "none".to_string(),
    };
    let cost = match q.cost {
        Some(c) => format!("{c} bytes of {}'s RLIMIT_MSGQUEUE", q.owner),
        None => "-".to_string(),
    };
    println!("name:          {}", q.name);
    println!("backend:       {}", q.backend);
    println!("path:          {}", q.path);
    println!("messages:      {messages}");
    println!("bytes queued:  {}", dash(q.bytes));
    println!("message size:  {size}");
    println!("mode:          {} ({})", q.mode, mqfs::mode_text(&q.mode));
    println!(
        "owner:         {} (uid {}), group {} (gid {})",
        q.owner, q.uid, q.group, q.gid
    );
    println!("notification:  {notify}");
    println!("memory charge: {cost}");
    if let Some(c) = &q.counters {
        println!(
            "counters:      {} committed, {} received, {} recoveries (lock owner found dead)",
            c.committed, c.received, c.recoveries
        );
        println!("invariants:    {}", c.invariants);
    }
    if let Some(why) = &q.unreadable {
        println!("note:          {why}");
    }
    Ok(fail::OK)
}

// ---------------------------------------------------------------- receipts

/// One receipt of `pmq receipts --json`.
#[derive(Serialize)]
struct ReceiptRow {
    pid: u32,
    seq: u64,
    priority: u32,
    len: u32,
    /// "taken", "queued" or "delivered" (see the command's help).
    state: &'static str,
    taken: bool,
    queued: bool,
    /// The message's first bytes (up to 16), escaped as text.
    head: String,
    head_hex: String,
}

fn receipts(name: &str, json: bool) -> CmdResult {
    check_name(name)?;
    // Only the shared-memory backend keeps receipts: it is the default
    // here; an explicit --backend kernel gets the library's explanation.
    let kind = match backend_arg() {
        Some(BackendArg::Kernel) => pmq::BackendKind::Kernel,
        _ => pmq::BackendKind::Shm,
    };
    let q = OpenOptions::new()
        .backend(kind)
        .read(true)
        .write(false)
        .block(false)
        .open(Some(name))
        .map_err(|e| open_failure(e, name))?;
    let rows: Vec<ReceiptRow> = q
        .dead_receipts()?
        .into_iter()
        .map(|d| {
            let head = &d.receipt.head[..(d.receipt.len as usize).min(d.receipt.head.len())];
            ReceiptRow {
                pid: d.pid,
                seq: d.receipt.seq,
                priority: d.receipt.priority,
                len: d.receipt.len,
                state: match (d.taken, d.queued) {
                    (true, _) => "taken",
                    (false, true) => "queued",
                    (false, false) => "delivered",
                },
                taken: d.taken,
                queued: d.queued,
                head: render::escape(head),
                head_hex: render::hex(head),
            }
        })
        .collect();
    if json {
        print_json(&rows)?;
        return Ok(fail::OK);
    }
    if rows.is_empty() {
        println!("no receipts of dead receivers in {name}");
        return Ok(fail::OK);
    }
    let header = ["PID", "SEQ", "PRIORITY", "LEN", "STATE", "HEAD"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.pid.to_string(),
                r.seq.to_string(),
                r.priority.to_string(),
                r.len.to_string(),
                r.state.to_string(),
                r.head.clone(),
            ]
        })
        .collect();
    use render::Align::{Left as L, Right as R};
    let mut out = io::stdout().lock();
    for l in render::table(&header, &[R, R, R, R, L, L], &cells) {
        let _ = writeln!(out, "{l}");
    }
    Ok(fail::OK)
}

// ---------------------------------------------------------------- create, rm

/// The queue's real mode from the mqueue filesystem, when it is mounted.
fn real_mode(name: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = if backend() == pmq::BackendKind::Shm {
        std::path::PathBuf::from(format!("{}/pmq.{}", mqfs::shm_dir(), &name[1..]))
    } else {
        let dir = mqfs::dir();
        if !mqfs::is_mounted(&dir) {
            return None;
        }
        dir.join(name.trim_start_matches('/'))
    };
    let meta = std::fs::metadata(path).ok()?;
    Some(format!("{:04o}", meta.permissions().mode() & 0o7777))
}

fn create(
    name: &str,
    max_messages: Option<i64>,
    max_size: Option<i64>,
    mode: u32,
    exclusive: bool,
) -> CmdResult {
    check_name(name)?;
    let mut opts = options();
    opts.read(true)
        .write(false)
        .block(false)
        .exclusive(true)
        .mode(mode);
    if let Some(n) = max_messages {
        opts.max_messages(n);
    }
    if let Some(n) = max_size {
        opts.max_message_size(n);
    }
    match opts.open(Some(name)) {
        Ok(q) => {
            let shown = real_mode(name).unwrap_or_else(|| format!("{mode:04o}"));
            println!(
                "created {name}: {} messages of at most {} bytes, mode {shown}",
                q.max_messages(),
                q.max_message_size()
            );
            Ok(fail::OK)
        }
        Err(e) if e.kind() == ErrorKind::Exists => {
            if exclusive {
                return Err(Failure::new(
                    fail::EXISTS,
                    format!(
                        "queue {name} already exists; remove it first with `pmq rm {name}`, \
                         or leave out --exclusive to keep it"
                    ),
                ));
            }
            let existing = options()
                .read(true)
                .write(false)
                .block(false)
                .open(Some(name))
                .or_else(|e| {
                    if e.kind() == ErrorKind::Permission {
                        options()
                            .read(false)
                            .write(true)
                            .block(false)
                            .open(Some(name))
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| open_failure(e, name))?;
            let shown = real_mode(name).unwrap_or_else(|| "?".to_string());
            println!(
                "{name} already exists: {} messages of at most {} bytes, mode {shown}; \
                 left as it is",
                existing.max_messages(),
                existing.max_message_size()
            );
            Ok(fail::OK)
        }
        Err(e) => Err(open_failure(e, name)),
    }
}

fn rm(names: &[String], force: bool) -> CmdResult {
    let mut code = fail::OK;
    for name in names {
        match pmq::unlink_from(backend(), name) {
            Ok(()) => {}
            Err(e) if force && e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                let f = Failure::from(e);
                eprintln!("pmq: {}", f.message);
                if code == fail::OK {
                    code = f.code;
                }
            }
        }
    }
    Ok(code)
}

// ---------------------------------------------------------------- send

fn send(
    name: &str,
    message: Option<OsString>,
    priority: u32,
    timeout: Option<f64>,
    lines: bool,
) -> CmdResult {
    let timeout = Timeout::from_secs_f64(timeout)?;
    let q = options()
        .read(false)
        .write(true)
        .open(Some(name))
        .map_err(|e| open_failure(e, name))?;
    if let Some(m) = message {
        q.send(m.as_bytes(), priority, timeout)?;
        return Ok(fail::OK);
    }
    // Standard input may never end (/dev/zero): read at most one byte more
    // than a message may hold, and stop there.
    let max = q.max_message_size().max(0) as u64;
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let read_failure =
        |e: io::Error| Failure::new(fail::OTHER, format!("cannot read standard input: {e}"));
    if !lines {
        let mut all = Vec::new();
        (&mut input)
            .take(max.saturating_add(1))
            .read_to_end(&mut all)
            .map_err(read_failure)?;
        if all.len() as u64 > max {
            return Err(fail::input_too_large("standard input", name, max));
        }
        q.send(&all, priority, timeout)?;
        return Ok(fail::OK);
    }
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = (&mut input)
            .take(max.saturating_add(1))
            .read_until(b'\n', &mut line)
            .map_err(read_failure)?;
        if read == 0 {
            return Ok(fail::OK);
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        // Without its newline, a line that fits has at most `max` bytes;
        // more means the limit cut it short and the rest is not read.
        let result = if line.len() as u64 > max {
            Err(fail::input_too_large("the line", name, max))
        } else {
            q.send(&line, priority, timeout).map_err(Failure::from)
        };
        if let Err(f) = result {
            let sent = match number - 1 {
                0 => "no line was sent".to_string(),
                1 => "line 1 was sent".to_string(),
                n => format!("lines 1-{n} were sent"),
            };
            return Err(Failure::new(
                f.code,
                format!("line {number}: {}; {sent}", f.message),
            ));
        }
    }
}

// ---------------------------------------------------------------- recv

/// How long one wait lasts before the signal flag is looked at again.
const SLICE: Duration = Duration::from_millis(100);

fn recv(name: &str, count: u64, follow: bool, timeout: Option<f64>, format: Format) -> CmdResult {
    let timeout = Timeout::from_secs_f64(timeout)?;
    let q = options()
        .read(true)
        .write(false)
        .open(Some(name))
        .map_err(|e| open_failure(e, name))?;
    signals::install().map_err(|e| {
        Failure::new(
            fail::OTHER,
            format!("cannot install the SIGINT/SIGTERM handler: {e}"),
        )
    })?;
    let mut buf = vec![0u8; q.max_message_size().max(0) as usize];
    let mut out = io::stdout().lock();
    let mut received = 0u64;
    loop {
        if !follow && received >= count {
            return Ok(fail::OK);
        }
        match wait_for_message(&q, &mut buf, timeout)? {
            Waited::Message(len, priority) => {
                // The message has left the queue: print it whole before anything else.
                render::emit(&mut out, format, &buf[..len], priority)
                    .map_err(|e| output_failure(e, len, priority))?;
                received += 1;
            }
            Waited::Signal(signo) => {
                if follow {
                    return Ok(fail::OK);
                }
                return Err(Failure::new(
                    128 + signo,
                    format!(
                        "stopped by signal {signo} after receiving {received} of {count} \
                         messages; no message was lost"
                    ),
                ));
            }
            Waited::Nothing => {
                if follow {
                    return Ok(fail::OK);
                }
                let progress = if count > 1 {
                    format!(" ({received} of {count} messages received)")
                } else {
                    String::new()
                };
                let why = match timeout {
                    Timeout::After(d) => format!(
                        "no message arrived on {name} within {} seconds{progress}; wait longer \
                         with a larger --timeout, or leave it out to wait forever",
                        d.as_secs_f64()
                    ),
                    _ => format!(
                        "queue {name} is empty{progress}; --timeout 0 does not wait: give \
                         --timeout S to wait S seconds, or leave it out to wait forever"
                    ),
                };
                return Err(Failure::new(fail::BUSY, why));
            }
        }
    }
}

enum Waited {
    Message(usize, u32),
    Signal(i32),
    Nothing,
}

/// Waits for one message in short slices, looking at the signal flag
/// between slices (never between receiving and printing).
fn wait_for_message(q: &Queue, buf: &mut [u8], timeout: Timeout) -> Result<Waited, Failure> {
    let deadline = match timeout {
        Timeout::Forever => None,
        Timeout::TryOnce => Some(Instant::now()),
        // A wait too long to represent as an Instant (e.g. 1e19 seconds) has
        // no deadline: it is forever, as pmq's own send and receive treat it.
        Timeout::After(d) => Instant::now().checked_add(d),
    };
    loop {
        if let Some(signo) = signals::caught() {
            return Ok(Waited::Signal(signo));
        }
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        let t = if slice.is_zero() {
            Timeout::TryOnce
        } else {
            Timeout::After(slice)
        };
        match q.receive(buf, t) {
            Ok((len, priority)) => return Ok(Waited::Message(len, priority)),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Waited::Nothing);
                }
            }
            // A signal cut the wait short; nothing was received. Look at the flag.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn output_failure(e: io::Error, len: usize, priority: u32) -> Failure {
    let what = if e.kind() == io::ErrorKind::BrokenPipe {
        "the output was closed (broken pipe)".to_string()
    } else {
        format!("cannot write the output: {e}")
    };
    Failure::new(
        fail::OTHER,
        format!(
            "{what}; a message already received (priority {priority}, {len} bytes) could not \
             be printed and is lost; keep the reader open, or receive a fixed number with --count"
        ),
    )
}

// ---------------------------------------------------------------- limits

#[derive(Serialize)]
struct LimitRow {
    name: &'static str,
    value: Option<u64>,
    meaning: String,
    raise: &'static str,
}

#[derive(Serialize)]
struct Usage {
    uid: u32,
    user: String,
    /// Queues this user owns that were counted.
    queues: usize,
    /// Sum of pmq::queue_cost over them: what the kernel charges to RLIMIT_MSGQUEUE.
    bytes: u64,
    /// Queues this user owns whose size could not be read (not counted).
    uncounted: usize,
    /// RLIMIT_MSGQUEUE soft limit minus `bytes` (null when unlimited).
    left: Option<u64>,
}

#[derive(Serialize)]
struct LimitsReport {
    limits: Vec<LimitRow>,
    rlimit_msgqueue_hard: Option<u64>,
    /// Queues on the system now (null when the mqueue filesystem is not mounted).
    queues_now: Option<usize>,
    /// This user's usage (null when the mqueue filesystem is not mounted).
    usage: Option<Usage>,
}

fn finite(v: u64) -> Option<u64> {
    (v != pmq::RLIMIT_INFINITY).then_some(v)
}

fn limits(json: bool) -> CmdResult {
    let l = pmq::Limits::read();
    let dir = mqfs::dir();
    let mounted = mqfs::is_mounted(&dir);
    let queues = if mounted {
        Some(mqfs::list(&dir)?)
    } else {
        None
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let usage = queues.as_ref().map(|qs| {
        // The kernel charges a queue to the user who created it (its owner).
        let mine: Vec<_> = qs.iter().filter(|q| q.uid == uid).collect();
        let bytes = mine
            .iter()
            .filter_map(|q| q.cost)
            .fold(0u64, u64::saturating_add);
        Usage {
            uid,
            user: mqfs::Names::load().user(uid),
            queues: mine.iter().filter(|q| q.cost.is_some()).count(),
            bytes,
            uncounted: mine.iter().filter(|q| q.cost.is_none()).count(),
            left: finite(l.rlimit_soft).map(|s| s.saturating_sub(bytes)),
        }
    });
    let n = |v: i64| Some(v.max(0) as u64);
    let rows = vec![
        LimitRow {
            name: "msg_max",
            value: n(l.msg_max),
            meaning: "most messages in one queue".into(),
            raise: "sysctl -w fs.mqueue.msg_max=N",
        },
        LimitRow {
            name: "msgsize_max",
            value: n(l.msgsize_max),
            meaning: "largest message, bytes".into(),
            raise: "sysctl -w fs.mqueue.msgsize_max=N",
        },
        LimitRow {
            name: "msg_default",
            value: n(l.msg_default),
            meaning: "capacity when mq_open gets no attributes".into(),
            raise: "sysctl -w fs.mqueue.msg_default=N",
        },
        LimitRow {
            name: "msgsize_default",
            value: n(l.msgsize_default),
            meaning: "message size when mq_open gets no attributes".into(),
            raise: "sysctl -w fs.mqueue.msgsize_default=N",
        },
        LimitRow {
            name: "queues_max",
            value: n(l.queues_max),
            meaning: match &queues {
                Some(q) => format!("queues on the system ({} now)", q.len()),
                None => "queues on the system".into(),
            },
            raise: "sysctl -w fs.mqueue.queues_max=N",
        },
        LimitRow {
            name: "priority_max",
            value: Some(l.priority_max as u64),
            meaning: "highest message priority".into(),
            raise: "fixed (MQ_PRIO_MAX - 1)",
        },
        LimitRow {
            name: "RLIMIT_MSGQUEUE",
            value: finite(l.rlimit_soft),
            meaning: format!(
                "bytes of queues per user (soft; hard {})",
                finite(l.rlimit_hard)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "unlimited".into())
            ),
            raise: "ulimit -q N (up to the hard limit, as the user)",
        },
    ];
    if json {
        print_json(&LimitsReport {
            limits: rows,
            rlimit_msgqueue_hard: finite(l.rlimit_hard),
            queues_now: queues.as_ref().map(Vec::len),
            usage,
        })?;
        return Ok(fail::OK);
    }
    let value_text = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or("unlimited".into());
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.to_string(),
                value_text(r.value),
                r.meaning.clone(),
                r.raise.to_string(),
            ]
        })
        .collect();
    use render::Align::{Left as L, Right as R};
    let header = ["LIMIT", "VALUE", "MEANING", "RAISE WITH"];
    for l in render::table(&header, &[L, R, L, L], &cells) {
        println!("{l}");
    }
    println!(
        "sysctl needs root; persist it in /etc/sysctl.d/. A hard RLIMIT_MSGQUEUE is raised by \
         root: LimitMSGQUEUE= (systemd), msgqueue in /etc/security/limits.conf, or \
         prlimit --msgqueue=N:N --pid PID."
    );
    match usage {
        Some(u) => {
            let of = match finite(l.rlimit_soft) {
                Some(soft) => format!(
                    " of {soft} ({:.1}%); {} bytes left",
                    u.bytes as f64 * 100.0 / soft.max(1) as f64,
                    u.left.unwrap_or(0)
                ),
                None => " (RLIMIT_MSGQUEUE is unlimited)".to_string(),
            };
            let uncounted = match u.uncounted {
                0 => String::new(),
                k => format!("; {k} more could not be opened and are not counted"),
            };
            println!(
                "usage: {} (uid {}) owns {} queues charging {} bytes{of}{uncounted}",
                u.user, u.uid, u.queues, u.bytes
            );
            println!(
                "(a queue of N messages of S bytes costs about N x (S + 96) bytes; removed \
                 queues still open somewhere are not visible and not counted)"
            );
        }
        None => println!("usage: unknown: {}", mqfs::not_mounted(&dir).message),
    }
    Ok(fail::OK)
}
