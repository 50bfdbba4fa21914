//! pmq's Rust API against raw `libc::mq_*` calls, in one process, interleaved
//! round by round. Prints one sample per line for bench/driver.py:
//! `S <tab> bench <tab> size <tab> impl <tab> CPU-ns-per-operation`.
//!
//! Usage: pmq-bench [-r REPS] [-q]   (-q: tiny smoke run)
//! Exit status 2 when it cannot run (e.g. queue limits exhausted).

use std::ffi::CString;
use std::hint::black_box;
use std::process::exit;
use std::time::Duration;

use pmq::{ErrorKind, Queue, Timeout};

const SIZES: [usize; 3] = [16, 1024, 8192];

fn cannot_run(what: &str) -> ! {
    eprintln!("pmq-bench: cannot run: {what}");
    exit(2)
}

/// A raw kernel queue: a blocking and an O_NONBLOCK descriptor; the name is
/// unlinked at once so nothing is left behind.
struct Raw {
    q: libc::mqd_t,
    nb: libc::mqd_t,
}

impl Raw {
    fn open(depth: i64, size: usize, k: u32) -> Raw {
        let name = CString::new(format!("/pmq_bench_rs_{}_{k}", std::process::id())).unwrap();
        // SAFETY: mq_attr is plain data; all-zero is a valid value.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        attr.mq_maxmsg = depth as _;
        attr.mq_msgsize = size as _;
        for attempt in 0.. {
            // SAFETY: `name` is NUL-terminated; `attr` is a valid mq_attr that
            // outlives the call; the variadic mode/attr match O_CREAT's contract.
            let q = unsafe {
                libc::mq_open(
                    name.as_ptr(),
                    libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o600 as libc::c_uint,
                    &attr as *const libc::mq_attr,
                )
            };
            if q >= 0 {
                // SAFETY: `name` is NUL-terminated.
                unsafe { libc::mq_unlink(name.as_ptr()) };
                let path = CString::new(format!("/proc/self/fd/{q}")).unwrap();
                // SAFETY: `path` is NUL-terminated.
                let nb = unsafe {
                    libc::open(
                        path.as_ptr(),
                        libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
                    )
                };
                if nb < 0 {
                    cannot_run("reopening the queue descriptor non-blocking");
                }
                return Raw { q, nb };
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EMFILE) || attempt >= 50 {
                cannot_run(&format!("mq_open: {e}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        unreachable!()
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: both descriptors are ours and closed once.
        unsafe {
            libc::close(self.nb);
            libc::mq_close(self.q);
        }
    }
}

fn pmq_open(depth: i64, size: usize) -> Queue {
    for attempt in 0.. {
        match Queue::options()
            .max_messages(depth)
            .max_message_size(size as i64)
            .open(None)
        {
            Ok(q) => {
                let _ = q.unlink();
                return q;
            }
            Err(e) if e.kind() == ErrorKind::SystemLimit && attempt < 50 => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => cannot_run(&format!("open: {e:?} {}", e.detail())),
        }
    }
    unreachable!()
}

/// CPU time (user + system) of this process in ns: time spent preempted by
/// other load on a shared machine does not count, unlike wall-clock time.
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn realtime_plus(secs: i64) -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec += secs as libc::time_t;
    ts
}

#[derive(Clone, Copy, PartialEq)]
enum Bench {
    Pair,
    Timed,
    TryRecv,
}

struct Ctx {
    p: Queue,
    r: Raw,
    msg: Vec<u8>,
    buf: Vec<u8>,
}

/// Runs `n` operations; returns how many had an unexpected outcome.
fn run(c: &mut Ctx, b: Bench, pmq: bool, n: u32) -> u32 {
    let mut bad = 0;
    let size = c.msg.len();
    for _ in 0..n {
        match (b, pmq) {
            (Bench::Pair, true) => {
                bad += c.p.send(&c.msg, 0, Timeout::Forever).is_err() as u32;
                bad += c.p.receive(&mut c.buf, Timeout::Forever).is_err() as u32;
            }
            (Bench::Timed, true) => {
                let t = Timeout::After(Duration::from_secs(1));
                bad += c.p.send(&c.msg, 0, t).is_err() as u32;
                bad += c.p.receive(&mut c.buf, t).is_err() as u32;
            }
            (Bench::TryRecv, true) => {
                let r = c.p.receive(&mut c.buf, Timeout::TryOnce);
                bad += !matches!(r, Err(ref e) if e.kind() == ErrorKind::WouldBlock) as u32;
            }
            (Bench::Pair, false) => {
                let mut prio = 0u32;
                // SAFETY: msg/buf are valid for their lengths; the descriptor is open.
                unsafe {
                    bad += (libc::mq_send(c.r.q, c.msg.as_ptr().cast(), size, 0) != 0) as u32;
                    bad += (libc::mq_receive(c.r.q, c.buf.as_mut_ptr().cast(), size, &mut prio) < 0)
                        as u32;
                }
            }
            (Bench::Timed, false) => {
                let mut prio = 0u32;
                let d = realtime_plus(1);
                // SAFETY: as above; `d` is a valid timespec.
                unsafe {
                    bad +=
                        (libc::mq_timedsend(c.r.q, c.msg.as_ptr().cast(), size, 0, &d) != 0) as u32;
                }
                let d = realtime_plus(1);
                // SAFETY: as above.
                unsafe {
                    bad += (libc::mq_timedreceive(
                        c.r.q,
                        c.buf.as_mut_ptr().cast(),
                        size,
                        &mut prio,
                        &d,
                    ) < 0) as u32;
                }
            }
            (Bench::TryRecv, false) => {
                let mut prio = 0u32;
                // SAFETY: as above, on the O_NONBLOCK descriptor.
                let r =
                    unsafe { libc::mq_receive(c.r.nb, c.buf.as_mut_ptr().cast(), size, &mut prio) };
                bad += !(r < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN))
                    as u32;
            }
        }
        black_box(&c.buf);
    }
    bad
}

fn main() {
    let mut reps = 7u32;
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-q" => quick = true,
            "-r" => reps = args.next().and_then(|v| v.parse().ok()).unwrap_or(7).max(1),
            other => {
                eprintln!("pmq-bench: unknown argument {other}; usage: pmq-bench [-r REPS] [-q]");
                exit(2)
            }
        }
    }
    let benches = [
        (Bench::Pair, "rs_pair", 20_000u32),
        (Bench::Timed, "rs_timed", 20_000),
        (Bench::TryRecv, "rs_tryrecv", 40_000),
    ];
    for (k, &size) in SIZES.iter().enumerate() {
        let mut c = Ctx {
            p: pmq_open(1, size),
            r: Raw::open(1, size, k as u32),
            msg: vec![b'x'; size],
            buf: vec![0; size],
        };
        for &(b, id, n) in &benches {
            let n = if quick { 200 } else { n };
            run(&mut c, b, true, n / 10 + 1);
            run(&mut c, b, false, n / 10 + 1);
            for r in 0..reps {
                for i in 0..2 {
                    let pmq = (i + r) % 2 == 0;
                    let t0 = cpu_ns();
                    let bad = run(&mut c, b, pmq, n);
                    let ns = (cpu_ns() - t0) as f64 / f64::from(n);
                    if bad != 0 {
                        cannot_run(&format!(
                            "{id}: {bad} of {n} calls had an unexpected outcome"
                        ));
                    }
                    println!(
                        "S\t{id}\t{size}\t{}\t{ns:.1}",
                        if pmq { "pmq" } else { "raw" }
                    );
                }
            }
        }
    }
}
