//! Model-based test driver shared by `tests/model.rs` (proptest) and the
//! fuzz target in `fuzz/` : decodes bytes into a sequence of queue
//! operations, runs them on a real kernel queue through `pmq::Queue`, and
//! checks every result against an in-memory model of a bounded priority
//! queue (capacity, message size, highest priority first, FIFO within a
//! priority, try-once / bounded waits, close, unlink, reopen).

#[path = "../common/prefix.rs"]
mod prefix;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};

/// One operation of a generated sequence.
#[derive(Clone, Debug)]
pub enum Op {
    /// Send `len` bytes with this priority; `wait` picks TryOnce or a 1 ms wait.
    Send {
        len: usize,
        priority: u32,
        wait: bool,
    },
    /// Receive with a buffer of exactly max_message_size, or one byte short.
    Receive { wait: bool, short_buffer: bool },
    /// Compare attributes with the model.
    Attributes,
    /// Close the handle.
    Close,
    /// Unlink the name.
    Unlink,
    /// (Re)open by name, creating if `create`.
    Open { create: bool },
    /// Toggle the block switch (a non-blocking handle never waits).
    SetBlock(bool),
}

const PRIOS: [u32; 6] = [0, 1, 2, 9, pmq::PRIORITY_MAX, pmq::PRIORITY_MAX + 1];

/// Shape of the queue and the operations, decoded from bytes.
pub fn decode(data: &[u8]) -> (i64, i64, Vec<Op>) {
    let cap = 1 + i64::from(data.first().copied().unwrap_or(0) % 5);
    let size = 1 + i64::from(data.get(1).copied().unwrap_or(0) % 24);
    let mut ops = Vec::new();
    let mut i = 2;
    while i + 1 < data.len() && ops.len() < 200 {
        let (a, b) = (data[i], data[i + 1]);
        i += 2;
        ops.push(match a % 16 {
            0..=5 => Op::Send {
                len: usize::from(b % 32),
                priority: PRIOS[usize::from(b / 32) % PRIOS.len()],
                wait: a & 0x80 != 0 && a & 0x40 != 0,
            },
            6..=10 => Op::Receive {
                wait: b & 1 != 0 && b & 2 != 0,
                short_buffer: b % 29 == 0,
            },
            11 => Op::Attributes,
            12 => Op::Close,
            13 => Op::Unlink,
            14 => Op::Open { create: b & 1 == 0 },
            _ => Op::SetBlock(b & 1 == 0),
        });
    }
    (cap, size, ops)
}

/// The model: what the kernel queue must hold.
struct Model {
    cap: usize,
    size: usize,
    /// (priority, payload) in arrival order.
    items: VecDeque<(u32, Vec<u8>)>,
    open: bool,
    linked: bool,
    block: bool,
}

impl Model {
    fn pop(&mut self) -> Option<(u32, Vec<u8>)> {
        let best = self.items.iter().map(|(p, _)| *p).max()?;
        let idx = self.items.iter().position(|(p, _)| *p == best)?;
        self.items.remove(idx)
    }
    fn destroy_if_gone(&mut self) {
        if !self.open && !self.linked {
            self.items.clear();
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Unlinks the name on every exit path.
struct Cleanup(String, BackendKind);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = pmq::unlink_from(self.1, &self.0);
    }
}

fn kind<T>(r: &Result<T, pmq::Error>) -> Option<ErrorKind> {
    r.as_ref().err().map(|e| e.kind())
}

fn expect_kind<T: std::fmt::Debug>(
    step: usize,
    what: &str,
    got: &Result<T, pmq::Error>,
    want: Option<ErrorKind>,
) -> Result<(), String> {
    if kind(got) == want {
        Ok(())
    } else {
        Err(format!(
            "step {step} {what}: got {got:?}, model expects {want:?}"
        ))
    }
}

/// Runs `ops` on a fresh queue of `cap` x `size`; Err describes the first
/// difference from the model.
/// [`run_on`] the kernel backend.
pub fn run(cap: i64, size: i64, ops: &[Op]) -> Result<usize, String> {
    run_on(BackendKind::Kernel, cap, size, ops)
}

/// Runs `ops` on a fresh queue of `backend`, checking each step.
pub fn run_on(backend: BackendKind, cap: i64, size: i64, ops: &[Op]) -> Result<usize, String> {
    let name = prefix::named(format!(
        "/pmq-model-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _cleanup = Cleanup(name.clone(), backend);
    let mut opts = OpenOptions::new();
    opts.backend(backend)
        .exclusive(true)
        .max_messages(cap)
        .max_message_size(size);
    let mut q: Option<Queue> = Some(opts.open(Some(&name)).map_err(|e| format!("create: {e}"))?);
    let mut m = Model {
        cap: cap as usize,
        size: size as usize,
        items: VecDeque::new(),
        open: true,
        linked: true,
        block: true,
    };
    let mut serial: u32 = 0;
    let wait = Timeout::After(Duration::from_millis(1));
    for (step, op) in ops.iter().enumerate() {
        let Some(h) = q.as_ref() else {
            return Err("no handle".into());
        };
        match op {
            Op::Send {
                len,
                priority,
                wait: w,
            } => {
                serial += 1;
                let mut msg = serial.to_le_bytes().to_vec();
                msg.resize((*len).max(4), 0xa5);
                msg.truncate(*len);
                let r = h.send(&msg, *priority, if *w { wait } else { Timeout::TryOnce });
                // A closed handle is reported first, then the arguments.
                let want = if !m.open {
                    Some(ErrorKind::Closed)
                } else if *len > m.size {
                    Some(ErrorKind::MessageTooLarge)
                } else if *priority > pmq::PRIORITY_MAX {
                    Some(ErrorKind::InvalidArgument)
                } else if m.items.len() >= m.cap {
                    Some(if *w && m.block {
                        ErrorKind::TimedOut
                    } else {
                        ErrorKind::WouldBlock
                    })
                } else {
                    m.items.push_back((*priority, msg));
                    None
                };
                expect_kind(step, "send", &r, want)?;
            }
            Op::Receive {
                wait: w,
                short_buffer,
            } => {
                let mut buf = vec![0u8; if *short_buffer { m.size - 1 } else { m.size }];
                let r = h.receive(&mut buf, if *w { wait } else { Timeout::TryOnce });
                let want = if !m.open {
                    Some(ErrorKind::Closed)
                } else if *short_buffer {
                    Some(ErrorKind::BufferTooSmall)
                } else if m.items.is_empty() {
                    Some(if *w && m.block {
                        ErrorKind::TimedOut
                    } else {
                        ErrorKind::WouldBlock
                    })
                } else {
                    None
                };
                expect_kind(step, "receive", &r, want)?;
                if let Ok((n, prio)) = r {
                    let (mp, mmsg) = m.pop().expect("model has an item");
                    if prio != mp || buf[..n] != mmsg[..] {
                        return Err(format!(
                            "step {step} receive: got prio {prio} {:?}, model expects prio {mp} {:?}",
                            &buf[..n],
                            mmsg
                        ));
                    }
                }
            }
            Op::Attributes => {
                let r = h.attributes();
                expect_kind(
                    step,
                    "attributes",
                    &r,
                    (!m.open).then_some(ErrorKind::Closed),
                )?;
                if let Ok(a) = r {
                    let want = (m.cap as i64, m.size as i64, m.items.len() as i64, m.block);
                    let got = (
                        a.max_messages,
                        a.max_message_size,
                        a.current_messages,
                        a.block,
                    );
                    if got != want {
                        return Err(format!(
                            "step {step} attributes: got {got:?}, model {want:?}"
                        ));
                    }
                }
            }
            Op::Close => {
                let r = h.close();
                expect_kind(step, "close", &r, (!m.open).then_some(ErrorKind::Closed))?;
                m.open = false;
                m.destroy_if_gone();
            }
            Op::Unlink => {
                let r = h.unlink();
                expect_kind(
                    step,
                    "unlink",
                    &r,
                    (!m.linked).then_some(ErrorKind::NotFound),
                )?;
                m.linked = false;
                m.destroy_if_gone();
            }
            Op::Open { create } => {
                // Drop the old handle first (closing it if open).
                drop(q.take());
                m.open = false;
                m.destroy_if_gone();
                let mut o = OpenOptions::new();
                o.backend(backend)
                    .create(*create)
                    .max_messages(m.cap as i64)
                    .max_message_size(m.size as i64);
                let r = o.open(Some(&name));
                let want = (!m.linked && !*create).then_some(ErrorKind::NotFound);
                expect_kind(step, "open", &r, want)?;
                match r {
                    Ok(nq) => {
                        if !m.linked {
                            m.items.clear();
                            m.linked = true;
                        }
                        m.open = true;
                        m.block = true;
                        q = Some(nq);
                    }
                    Err(_) => {
                        // Keep a closed handle so later steps see Closed.
                        let mut o = OpenOptions::new();
                        o.backend(backend)
                            .exclusive(true)
                            .max_messages(m.cap as i64)
                            .max_message_size(m.size as i64);
                        let nq = o.open(Some(&name)).map_err(|e| format!("recreate: {e}"))?;
                        nq.close().map_err(|e| format!("close: {e}"))?;
                        nq.unlink().map_err(|e| format!("unlink: {e}"))?;
                        q = Some(nq);
                    }
                }
            }
            Op::SetBlock(b) => {
                let r = h.set_block(*b);
                expect_kind(
                    step,
                    "set_block",
                    &r,
                    (!m.open).then_some(ErrorKind::Closed),
                )?;
                if r.is_ok() {
                    m.block = *b;
                }
            }
        }
    }
    Ok(ops.len())
}
