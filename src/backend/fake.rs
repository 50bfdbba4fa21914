//! An in-memory backend for the core's unit tests: a priority queue behind a
//! mutex, opened by name from a process-local table, with knobs that make it
//! misbehave the way a real backend may (interrupted calls and waits, waits
//! that end early or wake for nothing). It proves the core's timeout, block,
//! interruption and close logic through the contract alone.

use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::{
    Attempt, Attributes, Deliveries, Interest, NotifyError, OpenRequest, Patience, QueueBackend,
    Wake,
};
use crate::error::{Error, ErrorKind, Result};

/// Misbehaviour to inject, shared by every handle of one fake queue.
#[derive(Default)]
pub(crate) struct Knobs {
    /// The next this many transfer attempts report an interruption.
    pub interrupt_attempts: AtomicU32,
    /// The next this many waits report an interruption.
    pub interrupt_waits: AtomicU32,
    /// The next this many waits end at once as if their time ran out.
    pub early_elapsed: AtomicU32,
    /// The next this many waits end at once as if ready (spurious wake-ups).
    pub spurious_ready: AtomicU32,
    /// Waits and attempts so far (for "did not wait" checks).
    pub waits: AtomicU32,
    pub attempts: AtomicU32,
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

struct Shared {
    /// (priority, message), highest priority first, FIFO within one.
    messages: Mutex<VecDeque<(u32, Vec<u8>)>>,
    changed: Condvar,
    max_messages: i64,
    max_message_size: i64,
    knobs: Knobs,
}

fn table() -> MutexGuard<'static, HashMap<String, Arc<Shared>>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Arc<Shared>>>> = OnceLock::new();
    TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct FakeQueue {
    shared: Arc<Shared>,
    block: AtomicBool,
    closing: AtomicBool,
}

impl FakeQueue {
    /// The misbehaviour knobs of this handle's queue.
    pub(crate) fn knobs(&self) -> &Knobs {
        &self.shared.knobs
    }

    fn messages(&self) -> MutexGuard<'_, VecDeque<(u32, Vec<u8>)>> {
        self.shared
            .messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn attempt<T>(&self, will_wait: bool, ready: bool, f: impl FnOnce() -> T) -> Attempt<T> {
        self.shared.knobs.attempts.fetch_add(1, Ordering::AcqRel);
        if take(&self.shared.knobs.interrupt_attempts) {
            return Attempt::Interrupted;
        }
        if !ready {
            return if will_wait && !self.block.load(Ordering::Acquire) {
                Attempt::NonBlocking
            } else {
                Attempt::NotNow
            };
        }
        let v = f();
        self.shared.changed.notify_all();
        Attempt::Done(v)
    }
}

impl QueueBackend for FakeQueue {
    const NAME_MAX: usize = 16;
    const PRIORITY_MAX: u32 = 7;

    fn default_shape() -> (i64, i64) {
        (4, 64)
    }

    fn supported() -> bool {
        true
    }

    fn open(req: &OpenRequest<'_>) -> Result<FakeQueue> {
        let mut t = table();
        let shared = match t.get(req.name) {
            Some(_) if req.create && req.exclusive => {
                return Err(Error::new(ErrorKind::Exists, "fake queue exists"))
            }
            Some(s) => Arc::clone(s),
            None if !req.create => {
                return Err(Error::new(ErrorKind::NotFound, "no such fake queue"))
            }
            None => {
                let s = Arc::new(Shared {
                    messages: Mutex::new(VecDeque::new()),
                    changed: Condvar::new(),
                    max_messages: req.max_messages,
                    max_message_size: req.max_message_size,
                    knobs: Knobs::default(),
                });
                t.insert(req.name.to_owned(), Arc::clone(&s));
                s
            }
        };
        Ok(FakeQueue {
            shared,
            block: AtomicBool::new(!req.nonblocking),
            closing: AtomicBool::new(false),
        })
    }

    fn exists(name: &str) -> Result<bool> {
        Ok(table().contains_key(name))
    }

    fn unlink(name: &str) -> Result<()> {
        match table().remove(name) {
            Some(_) => Ok(()),
            None => Err(Error::new(ErrorKind::NotFound, "no such fake queue")),
        }
    }

    fn try_send(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        let mut q = self.messages();
        let room = (q.len() as i64) < self.shared.max_messages;
        self.attempt(p.will_wait(), room, || {
            let at = q.iter().position(|(p, _)| *p < priority).unwrap_or(q.len());
            q.insert(at, (priority, msg.to_vec()));
        })
    }

    fn try_receive(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        let mut q = self.messages();
        let ready = !q.is_empty();
        self.attempt(p.will_wait(), ready, || {
            let (p, m) = q.pop_front().expect("checked non-empty");
            buf[..m.len()].copy_from_slice(&m);
            (m.len(), p)
        })
    }

    fn prepare_wait(&self) {}

    fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Wake {
        let k = &self.shared.knobs;
        k.waits.fetch_add(1, Ordering::AcqRel);
        if take(&k.interrupt_waits) {
            return Wake::Interrupted;
        }
        if take(&k.early_elapsed) {
            return Wake::Elapsed;
        }
        if take(&k.spurious_ready) {
            return Wake::Ready;
        }
        let ready = |q: &VecDeque<(u32, Vec<u8>)>| match interest {
            Interest::Readable => !q.is_empty(),
            Interest::Writable => (q.len() as i64) < self.shared.max_messages,
        };
        let q = self.messages();
        let keep_waiting =
            |q: &mut VecDeque<(u32, Vec<u8>)>| !ready(q) && !self.closing.load(Ordering::Acquire);
        match timeout {
            None => {
                let _q = self
                    .shared
                    .changed
                    .wait_while(q, keep_waiting)
                    .unwrap_or_else(|p| p.into_inner());
                Wake::Ready
            }
            Some(t) => {
                let (_q, r) = self
                    .shared
                    .changed
                    .wait_timeout_while(q, t, keep_waiting)
                    .unwrap_or_else(|p| p.into_inner());
                if r.timed_out() {
                    Wake::Elapsed
                } else {
                    Wake::Ready
                }
            }
        }
    }

    fn wake_waiters(&self) {
        self.closing.store(true, Ordering::Release);
        let _q = self.messages();
        self.shared.changed.notify_all();
    }

    fn shutdown(&self) {}

    fn attributes(&self) -> Result<Attributes> {
        Ok(Attributes {
            max_messages: self.shared.max_messages,
            max_message_size: self.shared.max_message_size,
            current_messages: self.messages().len() as i64,
            block: self.block.load(Ordering::Acquire),
        })
    }

    fn block(&self) -> Result<bool> {
        Ok(self.block.load(Ordering::Acquire))
    }

    fn set_block(&self, block: bool) -> Result<()> {
        self.block.store(block, Ordering::Release);
        Ok(())
    }

    fn readiness_fd(&self) -> Option<RawFd> {
        None
    }

    fn notify_signal(&self, _signo: i32) -> std::result::Result<(), NotifyError> {
        Err(NotifyError::Failed(Error::new(
            ErrorKind::NotSupported,
            "the fake backend has no notifications",
        )))
    }

    fn notify_callback(
        &self,
        _id: u64,
        _deliveries: &mut Deliveries,
    ) -> std::result::Result<(), NotifyError> {
        self.notify_signal(0)
    }

    fn notify_cancel(&self) -> Result<()> {
        Ok(())
    }

    fn busy_error(name: &str, _own: bool) -> Error {
        Error::new(ErrorKind::Busy, format!("fake queue {name} is busy"))
    }
}
