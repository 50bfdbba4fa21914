//! What every bridge test stands on: the serial lock, temporary directories, a
//! nats-server, local queues and bridge processes, each cleaned up when dropped.

use std::fs::{self, OpenOptions as FsOpen};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) use crate::common::Face;
use pmq::{BackendKind, OpenOptions, Queue};

/// The bridge tests run one at a time: each starts its own server and
/// bridge processes, which must not compete with another test's for CPU.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small xorshift PRNG seeded from the clock (the seed is printed).
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn new() -> Rng {
        let seed = std::env::var("PMQ_BRIDGE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("bridge test: seed {seed} (PMQ_BRIDGE_SEED={seed} repeats it)");
        Rng(seed)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "pmq-bridge-test-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// Removes a directory at the end of the test.
pub(crate) struct DirGuard(pub(crate) PathBuf);
impl Drop for DirGuard {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "bridge test: kept {} (journals, logs, the server's store)",
                self.0.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

// ---------------------------------------------------------------- nats-server

/// A `nats-server -js` on 127.0.0.1:PORT with its store in a temporary
/// directory; killed (and waited for) when dropped, also on failure.
pub(crate) struct Server {
    pub(crate) port: u16,
    pub(crate) store: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) child: Option<Child>,
}

/// The nats-server binary: $PMQ_NATS_SERVER, else on PATH, else Debian's /usr/sbin one.
pub(crate) fn nats_server() -> PathBuf {
    if let Some(p) = std::env::var_os("PMQ_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("nats-server").is_file()))
        .unwrap_or(false);
    if on_path || !Path::new("/usr/sbin/nats-server").is_file() {
        PathBuf::from("nats-server")
    } else {
        PathBuf::from("/usr/sbin/nats-server")
    }
}

pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Server {
    pub(crate) fn start(dir: &Path) -> Server {
        let mut s = Server {
            port: free_port(),
            store: dir.join("store"),
            log: dir.join("nats-server.log"),
            child: None,
        };
        s.spawn();
        s
    }

    pub(crate) fn spawn(&mut self) {
        let log = FsOpen::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let before = fs::read_to_string(&self.log).unwrap_or_default().len();
        let child = Command::new(nats_server())
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run nats-server ({e}): the bridge tests need it; install it with \
                     `apt-get install nats-server` (Debian/Ubuntu; .ci/run does), or put the \
                     nats-server binary from https://github.com/nats-io/nats-server/releases on PATH"
                )
            });
        self.child = Some(child);
        // Ready when it says so (JetStream recovered its store) and the port answers.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = fs::read_to_string(&self.log).unwrap_or_default();
            if text.len() > before
                && text[before..].contains("Server is ready")
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return;
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("nats-server exited ({st}) at start: {}", &text[before..]);
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not get ready: {text}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------- queues

/// A local queue (either backend), unlinked when dropped.
pub(crate) struct Q {
    pub(crate) name: String,
    pub(crate) backend: BackendKind,
}

impl Q {
    pub(crate) fn create(tag: &str, backend: BackendKind, max_messages: i64, max_size: i64) -> Q {
        let name = crate::common::unique(tag);
        let mut o = OpenOptions::new();
        o.backend(backend)
            .read(true)
            .write(true)
            .exclusive(true)
            .max_messages(max_messages)
            .max_message_size(max_size);
        o.open(Some(&name)).unwrap();
        Q { name, backend }
    }
    pub(crate) fn open(&self) -> Queue {
        let mut o = OpenOptions::new();
        o.backend(self.backend).read(true).write(true);
        o.open(Some(&self.name)).unwrap()
    }
    pub(crate) fn backend_arg(&self) -> &'static str {
        match self.backend {
            BackendKind::Shm => "shm",
            _ => "kernel",
        }
    }
}

impl Drop for Q {
    fn drop(&mut self) {
        let _ = pmq::unlink_from(self.backend, &self.name);
    }
}

// ---------------------------------------------------------------- harness

/// One bridge test's world, set up in one call and cleaned up when dropped:
/// the bridge tests' serial lock, a temporary directory (kept when the test
/// fails: journals, logs, the server's store), a nats-server storing there
/// (or none), the source queue `a` and destination queue `b` (unlinked), a
/// subject of the test's own, and the face its bridges run with. Bridges
/// from [`Harness::out`] and [`Harness::inb`] are killed when they drop;
/// declared after the harness, they drop before it. The fields drop in
/// order: server, queues, directory, lock.
pub(crate) struct Harness {
    pub(crate) server: Option<Server>,
    pub(crate) a: Q,
    pub(crate) b: Q,
    pub(crate) subject: String,
    pub(crate) dir: PathBuf,
    pub(crate) face: Face,
    _dir: DirGuard,
    _serial: MutexGuard<'static, ()>,
}

impl Harness {
    /// A server and two queues of `backend`, `depth` messages of at most
    /// `max_size` bytes; bridges run as `pmq-bridge`.
    pub(crate) fn new(tag: &str, backend: BackendKind, depth: i64, max_size: i64) -> Harness {
        let mut h = Harness::without_server(tag, backend, depth, max_size);
        h.server = Some(Server::start(&h.dir));
        h
    }

    /// The same without a server (for what fails before connecting).
    pub(crate) fn without_server(
        tag: &str,
        backend: BackendKind,
        depth: i64,
        max_size: i64,
    ) -> Harness {
        let serial = serial();
        let dir = tmpdir(tag);
        Harness {
            server: None,
            a: Q::create(&format!("{tag}-a"), backend, depth, max_size),
            b: Q::create(&format!("{tag}-b"), backend, depth, max_size),
            subject: format!("pmqtest.{tag}.{}", std::process::id()),
            _dir: DirGuard(dir.clone()),
            dir,
            face: Face::Program,
            _serial: serial,
        }
    }

    /// Bridges run this way from now on.
    pub(crate) fn via(mut self, face: Face) -> Harness {
        self.face = face;
        self
    }

    pub(crate) fn server(&mut self) -> &mut Server {
        self.server.as_mut().expect("a harness with a server")
    }

    pub(crate) fn url(&self) -> String {
        self.server.as_ref().expect("a harness with a server").url()
    }

    /// The arguments of `bridge out` of queue `a` to `subject` with `journal`.
    pub(crate) fn out_args(&self, subject: &str, journal: &Path) -> Vec<String> {
        out_args(
            self.a.backend_arg(),
            &self.a.name,
            &self.url(),
            subject,
            journal,
        )
    }

    /// `bridge in` from `subject` into queue `b` (ack wait 30 s), with
    /// journal NAME.j and log NAME.log in the directory.
    pub(crate) fn inb_on(&self, subject: &str, name: &str) -> Bridge {
        self.bridge(
            in_args(
                self.b.backend_arg(),
                &self.b.name,
                &self.url(),
                subject,
                &self.dir.join(format!("{name}.j")),
                "30",
            ),
            name,
        )
    }

    /// `bridge out` of queue `a` to the subject, with journal NAME.j and
    /// log NAME.log in the directory.
    pub(crate) fn out(&self, name: &str) -> Bridge {
        self.bridge(
            out_args(
                self.a.backend_arg(),
                &self.a.name,
                &self.url(),
                &self.subject,
                &self.dir.join(format!("{name}.j")),
            ),
            name,
        )
    }

    /// `bridge in` of the subject into queue `b` (durable "pmqtest"), with
    /// `--ack-wait ACK_WAIT`, journal NAME.j and log NAME.log.
    pub(crate) fn inb(&self, name: &str, ack_wait: &str) -> Bridge {
        self.bridge(
            in_args(
                self.b.backend_arg(),
                &self.b.name,
                &self.url(),
                &self.subject,
                &self.dir.join(format!("{name}.j")),
                ack_wait,
            ),
            name,
        )
    }

    /// A bridge with these `pmq` arguments (`--backend K bridge ...`), its
    /// log NAME.log in the directory.
    pub(crate) fn bridge(&self, args: Vec<String>, name: &str) -> Bridge {
        Bridge::new(self.face, args, self.dir.join(format!("{name}.log")))
    }

    /// The face, for the figures printed: "pmq-bridge" or "pmq bridge".
    pub(crate) fn face_name(&self) -> &'static str {
        match self.face {
            Face::Program => "pmq-bridge",
            Face::Pmq => "pmq bridge",
        }
    }
}

// ---------------------------------------------------------------- bridges

/// One bridge direction, restartable; its standard error of every run
/// appended to one file. Killed when dropped.
pub(crate) struct Bridge {
    /// Run as `pmq-bridge` or as `pmq bridge`.
    pub(crate) face: Face,
    pub(crate) args: Vec<String>,
    pub(crate) log: PathBuf,
    pub(crate) child: Option<Child>,
    pub(crate) starts: usize,
    /// The log's length when the current run started.
    pub(crate) log_at_start: usize,
}

impl Bridge {
    pub(crate) fn new(face: Face, args: Vec<String>, log: PathBuf) -> Bridge {
        let mut b = Bridge {
            face,
            args,
            log,
            child: None,
            starts: 0,
            log_at_start: 0,
        };
        b.start();
        b
    }
    pub(crate) fn start(&mut self) {
        let log = FsOpen::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.log_at_start = fs::metadata(&self.log).map_or(0, |m| m.len() as usize);
        let child = crate::common::bridge_command(self.face, &self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.starts += 1;
    }
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    /// SIGTERM and wait: the exit code.
    pub(crate) fn terminate(&mut self) -> i32 {
        let mut c = self.child.take().expect("running");
        crate::common::signal(c.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "bridge did not stop within 20 s of SIGTERM: {}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    /// Waits (driven by the bridge's own log, bounded only as a failure
    /// guard) until the current run has connected and says what it bridges:
    /// "publishing to" (out) or "consuming" (in), in the log written since
    /// it started (a run killed before it connected never says it). A bridge
    /// still in its first connect when the server is killed would exit with
    /// "cannot connect" (the documented start order: server first), so the
    /// fault test kills the server only after this. Returns early if the
    /// run exited by itself (the caller sees it through `exited`).
    pub(crate) fn wait_connected(&mut self) {
        let marker = if self.args.iter().any(|a| a == "out") {
            ": publishing to "
        } else {
            ": consuming "
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = fs::read(&self.log).unwrap_or_default();
            let since = String::from_utf8_lossy(log.get(self.log_at_start..).unwrap_or_default());
            if since.contains(marker) {
                return;
            }
            if self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().unwrap().is_some())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bridge not connected 60 s after its start {}: {since}",
                self.starts
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
    /// A bridge that exited by itself: its status, if so.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().unwrap())
    }
    pub(crate) fn stderr(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub(crate) fn out_args(
    backend: &str,
    queue: &str,
    url: &str,
    subject: &str,
    journal: &Path,
) -> Vec<String> {
    [
        "--backend",
        backend,
        "bridge",
        "out",
        queue,
        "--nats",
        url,
        "--subject",
        subject,
        "--create-stream",
        "--journal",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([journal.display().to_string()])
    .collect()
}

pub(crate) fn in_args(
    backend: &str,
    queue: &str,
    url: &str,
    subject: &str,
    journal: &Path,
    ack_wait: &str,
) -> Vec<String> {
    [
        "--backend",
        backend,
        "bridge",
        "in",
        queue,
        "--nats",
        url,
        "--subject",
        subject,
        "--durable",
        "pmqtest",
        "--create-stream",
        "--ack-wait",
        ack_wait,
        "--journal",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([journal.display().to_string()])
    .collect()
}

/// Runs a bridge command to its end: (exit code, standard error).
pub(crate) fn run_pmq(face: Face, args: &[&str]) -> (i32, String) {
    let o = crate::common::bridge_command(face, args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs a bridge command that must be refused: exit code `code` and one
/// error line that contains `text`; returns that line for further checks.
pub(crate) fn run_refused(face: Face, args: &[&str], code: i32, text: &str) -> String {
    let (c, err) = run_pmq(face, args);
    let line = crate::common::one_line_error(err.as_bytes());
    assert_eq!(c, code, "{face:?} {args:?}: {line}");
    assert!(line.contains(text), "{face:?} {args:?}: {line}");
    line
}
