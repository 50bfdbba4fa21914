//! Notifications with the kernel's rules: one registration per queue,
//! one-shot, on empty -> non-empty, a dead registrant replaced. The
//! registration lives in the queue's header; the registrant's own process
//! runs a watcher thread that waits on the queue's notify word and delivers
//! (a signal to its own process, or the callback), so signals never cross
//! processes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::layout::*;
use super::map::Mapping;
use super::ShmQueue;
use super::{futex, sync};
use crate::backend::{sys, NotifyError, Wake};
use crate::error::{Error, ErrorKind, Result};

/// What a registration asks for.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Signal(i32),
    /// The core's registration id.
    Callback(u64),
}

/// The core's delivery functions for callback registrations.
pub(crate) struct Delivery {
    deliver: fn(u64),
    removed: fn(u64),
}

impl crate::backend::DeliveryState for Delivery {
    fn new(deliver: fn(u64), removed: fn(u64)) -> Delivery {
        Delivery { deliver, removed }
    }
}

/// Registration tokens: unique in this process (the opener index and its
/// generation say which process).
static TOKENS: AtomicU64 = AtomicU64::new(1);

fn pid() -> u32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() as u32 }
}

/// Who holds registration `owner` (opener index + 1, not 0), seen from
/// handle `opener`: (alive, this process). Liveness is the opener's lock
/// (a handle of ours shares our lock after fork, so it counts as alive);
/// the pid in its record says which process, never whether it lives.
fn holder(m: &Mapping, opener: u32, owner: u32) -> (bool, bool) {
    if owner > OPENERS {
        return (false, false);
    }
    let alive = owner == opener + 1 || sync::opener_alive(m, owner - 1);
    let this_process = m.opener(owner - 1).pid.load(Ordering::Relaxed) == pid();
    (alive, alive && this_process)
}

pub(super) fn register(
    q: &ShmQueue,
    kind: Kind,
    delivery: Option<&mut Delivery>,
) -> std::result::Result<(), NotifyError> {
    let m = &q.map;
    // Unique across fork too: a child's counter starts where the parent's was.
    let token = (u64::from(pid()) << 32) | (TOKENS.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff);
    let n = &m.head().notify.0;
    {
        let _g = lock(m).map_err(NotifyError::Failed)?;
        super::kp!("notify.locked");
        let owner = n.owner.load(Ordering::Relaxed);
        if owner != 0 {
            let (alive, this_process) = holder(m, q.opener, owner);
            if alive && !this_process {
                return Err(NotifyError::Busy);
            }
        }
        // Free, this process's (replaced, as the kernel does), or its
        // registrant is gone: take it.
        n.id.store(token, Ordering::Relaxed);
        let (k, signo) = match kind {
            Kind::Signal(s) => (NotifyKind::Signal, s),
            Kind::Callback(_) => (NotifyKind::Callback, 0),
        };
        n.kind.store(k as u32, Ordering::Relaxed);
        n.signo.store(signo as u32, Ordering::Relaxed);
        n.owner.store(q.opener + 1, Ordering::Relaxed);
        super::kp!("notify.registered");
        // A replaced registration's watcher sees the new token and ends.
        n.word.fetch_add(1, Ordering::SeqCst);
    }
    futex::futex_wake(&n.word, i32::MAX);
    let (deliver, removed) = match delivery {
        Some(d) => (d.deliver, d.removed),
        None => (noop as fn(u64), noop as fn(u64)),
    };
    let map = Arc::clone(m);
    let opener = q.opener;
    // The watcher must not take the process's signals; a callback runs
    // with them unblocked (as the kernel backend's do).
    let spawned = sys::spawn_with_signals_blocked(
        std::thread::Builder::new().name("pmq-shm-notify".into()),
        move || watch(&map, opener, token, kind, deliver, removed),
    );
    if spawned.is_err() {
        let _ = cancel_token(m, opener, token);
        return Err(NotifyError::Failed(Error::new(
            ErrorKind::SystemLimit,
            "no thread could be started to deliver the notification; the process or system \
             is at its thread limit (ulimit -u, kernel.threads-max)",
        )));
    }
    Ok(())
}

fn noop(_: u64) {}

/// The registration lives under the producers' lock (the send that finds
/// the queue empty fires it there).
fn lock(m: &Mapping) -> Result<super::lock::Held<'_>> {
    m.ring()
        .lock_producers(super::store::patient_policy)
        .map_err(super::store::patient_error)
}

/// The watcher of one registration: waits until it fires (deliver) or is
/// cancelled / replaced (forget), then ends.
fn watch(m: &Mapping, opener: u32, token: u64, kind: Kind, deliver: fn(u64), removed: fn(u64)) {
    let rec = m.opener(opener);
    let n = &m.head().notify.0;
    let word = &n.word;
    loop {
        let v = word.load(Ordering::SeqCst);
        if rec.fired.load(Ordering::SeqCst) == token {
            match kind {
                // SAFETY: kill to our own process with a validated signal.
                Kind::Signal(s) => unsafe {
                    libc::kill(libc::getpid(), s);
                },
                Kind::Callback(id) => {
                    sys::unblock_all_signals();
                    deliver(id);
                }
            }
            return;
        }
        let current =
            n.owner.load(Ordering::SeqCst) == opener + 1 && n.id.load(Ordering::SeqCst) == token;
        if !current {
            if let Kind::Callback(id) = kind {
                removed(id);
            }
            return;
        }
        if let Wake::Failed(_) = futex::futex_wait(word, v, None) {
            return;
        }
    }
}

fn cancel_token(m: &Mapping, opener: u32, token: u64) -> Result<()> {
    let n = &m.head().notify.0;
    {
        let _g = lock(m)?;
        if n.owner.load(Ordering::Relaxed) == opener + 1 && n.id.load(Ordering::Relaxed) == token {
            n.owner.store(0, Ordering::Relaxed);
            n.word.fetch_add(1, Ordering::SeqCst);
        }
    }
    futex::futex_wake(&n.word, i32::MAX);
    Ok(())
}

/// Removes this process's registration on the queue (made through this
/// handle or another live one of this process), if there is one.
pub(super) fn cancel(q: &ShmQueue) -> Result<()> {
    let m = &q.map;
    let n = &m.head().notify.0;
    {
        let _g = lock(m)?;
        super::kp!("cancel.locked");
        let owner = n.owner.load(Ordering::Relaxed);
        if owner == 0 || !holder(m, q.opener, owner).1 {
            return Ok(()); // none, or another process's: left alone
        }
        n.owner.store(0, Ordering::Relaxed);
        n.word.fetch_add(1, Ordering::SeqCst);
    }
    futex::futex_wake(&n.word, i32::MAX);
    Ok(())
}
