//! Notification registrations: the lifetime rules that make callback
//! notifications safe, independent of how the backend delivers them.
//!
//! Every callback registration gets a unique id; the backend carries only
//! that id to the delivery thread (never a pointer), and delivery looks the
//! id up in a registry. So a delivery that arrives after the handle was
//! closed or freed finds nothing and calls nothing.
//!
//! All of it lives under one process-wide lock ([`state`]), taken around
//! every registration, cancel, close and delivery:
//! - a registration checks, under the lock, that the handle is not closing
//!   and (from inside one of the handle's callbacks) that no cancel is in
//!   progress, so nothing registered while close / free / cancel waits can
//!   outlive it;
//! - close / free / cancel remove the handle's registration, then wait until
//!   no callback of the handle runs (except callbacks that are themselves in
//!   close / cancel: a callback may close its own handle), so when they
//!   return no callback of the handle runs or will run;
//! - fork: the lock is held across `fork()` (pthread_atfork), and the child
//!   starts with no registration, no running callback and no delivery
//!   mechanism of the parent's: the parent's registrations stay the parent's
//!   (the backend keeps them per process), its callback threads do not exist in
//!   the child, and nothing in the child waits for them.
//!
//! A callback is dropped (its captured values with it) exactly once, when its
//! registration can no longer fire, and never under the lock: a removed
//! callback goes to [`State::dead`], dropped when the [`Locked`] guard is
//! released, so its destructor may call back into pmq (the C ABI's `drop`
//! hook does). A delivered one is dropped on the delivery thread, before
//! close / free / cancel stop waiting for the handle's running callbacks.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::fork_once::ForkOnce;

use crate::backend::{Backend, Deliveries, NotifyError};
use crate::error::{Error, ErrorKind, Result};
use crate::types::BackendKind;

/// A notification callback. Runs on a thread created for the delivery.
pub type Callback = Arc<dyn Fn() + Send + Sync + 'static>;

/// What a handle asked the backend for last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Registration {
    Signal,
    Callback(u64),
}

/// One handle's notification state.
struct HandleState {
    name: String,
    /// A kernel queue and a shared-memory queue may have the same name.
    kind: BackendKind,
    /// The registration this handle made that the backend may still hold:
    /// cleared on cancel / close, and for callbacks when the backend delivers
    /// or drops it (a signal's delivery cannot be observed).
    registration: Option<Registration>,
    /// Callbacks of this handle running now, and how many of those are
    /// themselves waiting in close / free / cancel of the handle.
    running: u32,
    closing_inside: u32,
    /// Cancels of this handle in progress (waiting for running callbacks).
    cancelling: u32,
    /// close or free has begun: no registration may be made any more.
    closed: bool,
}

struct Entry {
    callback: Callback,
    handle: u64,
}

struct State {
    /// Callback registrations the backend may still deliver, by id.
    entries: HashMap<u64, Entry>,
    handles: HashMap<u64, HandleState>,
    /// Per queue name: how many handles of this process have a registration
    /// the backend may still hold. Used only to word the busy detail.
    held: HashMap<String, u32>,
    /// Bumped in a child after fork: counts taken before belong to the parent.
    generation: u64,
    delivery: Deliveries,
    /// Callbacks whose registration ended, dropped once the lock is released.
    dead: Vec<Callback>,
}

struct Global {
    state: Mutex<State>,
    /// Signalled whenever a handle's running count drops.
    idle: Condvar,
}

fn global() -> &'static Global {
    // Fork-safe: a child forked while another thread made it makes its own.
    static GLOBAL: ForkOnce<Global> = ForkOnce::new();
    GLOBAL.get_or_init(|| {
        // SAFETY: the three handlers are plain extern "C" functions that
        // stay valid for the life of the process.
        unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
        Global {
            state: Mutex::new(State {
                entries: HashMap::new(),
                handles: HashMap::new(),
                held: HashMap::new(),
                generation: 0,
                delivery: Deliveries::new(deliver, removed),
                dead: Vec::new(),
            }),
            idle: Condvar::new(),
        }
    })
}

fn state() -> Locked {
    Locked(Some(lock_raw()))
}

fn lock_raw() -> MutexGuard<'static, State> {
    let mut st = global().state.lock().unwrap_or_else(|p| p.into_inner());
    let ids = std::mem::take(&mut *removals());
    for id in ids {
        if let Some(e) = st.consumed(id) {
            st.dead.push(e.callback);
        }
    }
    st
}

/// The registry's lock; on release, drops the callbacks whose registration
/// ended while it was held, after unlocking.
struct Locked(Option<MutexGuard<'static, State>>);

impl Deref for Locked {
    type Target = State;
    fn deref(&self) -> &State {
        self.0.as_ref().expect("held until dropped")
    }
}

impl DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut State {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if let Some(mut g) = self.0.take() {
            let dead = std::mem::take(&mut g.dead);
            drop(g);
            drop(dead);
        }
    }
}

/// Registrations the backend dropped, reported by its delivery thread
/// without waiting for the state lock (the thread registering may hold it
/// while it reads); handled by the next [`state`] call. Only this lock, and
/// never the state lock after it, is taken by the reader.
fn removals() -> MutexGuard<'static, Vec<u64>> {
    static REMOVALS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    REMOVALS.lock().unwrap_or_else(|p| p.into_inner())
}

thread_local! {
    /// The handle whose callback this thread is running, or 0.
    static IN_CALLBACK: Cell<u64> = const { Cell::new(0) };
    /// The lock, held by the forking thread from just before fork() until
    /// just after it, in parent and child.
    #[allow(clippy::type_complexity)]
    static FORK_GUARD: RefCell<Option<(MutexGuard<'static, State>, MutexGuard<'static, Vec<u64>>)>> =
        const { RefCell::new(None) };
}

extern "C" fn fork_prepare() {
    // Not `state()`: no callback is dropped around fork (in the child, the
    // parent's are dropped by its next registry call, see fork_child).
    let g = lock_raw();
    let r = removals();
    let _ = FORK_GUARD.try_with(|c| *c.borrow_mut() = Some((g, r)));
}

extern "C" fn fork_parent() {
    let _ = FORK_GUARD.try_with(|c| drop(c.borrow_mut().take()));
}

extern "C" fn fork_child() {
    let _ = FORK_GUARD.try_with(|c| {
        if let Some((mut st, mut removed)) = c.borrow_mut().take() {
            removed.clear();
            // Only this thread exists in the child: the parent's callback
            // threads, waits and registrations are not ours.
            st.generation += 1;
            let parents = std::mem::take(&mut st.entries);
            st.dead.extend(parents.into_values().map(|e| e.callback));
            st.held.clear();
            for hs in st.handles.values_mut() {
                hs.registration = None;
                hs.running = 0;
                hs.closing_inside = 0;
                hs.cancelling = 0;
            }
            st.delivery.after_fork_in_child();
        }
    });
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh id for a handle or a registration (never 0, never reused).
pub(crate) fn new_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn in_callback_of(handle: u64) -> bool {
    IN_CALLBACK.with(|c| c.get()) == handle
}

const CLOSING: Error = Error::fixed(
    ErrorKind::Closed,
    "the handle is being closed or freed; no notification can be registered on it any more",
);
const CANCELLING: Error = Error::fixed(
    ErrorKind::Closed,
    "a cancel of this handle's notification is in progress (it was called while this callback \
     ran), so a callback may not register again until the cancel returns",
);

impl State {
    /// Forgets `handle`'s registration (the backend no longer holds it, or
    /// is about to be told to drop it).
    fn forget_registration(&mut self, handle: u64) -> Option<Registration> {
        let hs = self.handles.get_mut(&handle)?;
        let old = hs.registration.take()?;
        if let Some(n) = self.held.get_mut(&hs.name) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&hs.name);
            }
        }
        if let Registration::Callback(id) = old {
            if let Some(e) = self.entries.remove(&id) {
                self.dead.push(e.callback);
            }
        }
        Some(old)
    }

    /// Whether the backend's registration may be `handle`'s own.
    fn pending(&self, handle: u64) -> bool {
        match self.handles.get(&handle).and_then(|h| h.registration) {
            None => false,
            Some(Registration::Signal) => true,
            Some(Registration::Callback(id)) => self.entries.contains_key(&id),
        }
    }

    /// The handles of this process on queue `name` of backend `kind` whose
    /// registration the backend may still hold (the system keeps one per
    /// queue and process).
    fn holders(&self, name: &str, kind: BackendKind) -> Vec<u64> {
        self.handles
            .iter()
            .filter(|(h, hs)| hs.name == name && hs.kind == kind && self.pending(**h))
            .map(|(h, _)| *h)
            .collect()
    }

    /// The registration `id` is over (delivered or dropped by the backend).
    fn consumed(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        let current = self
            .handles
            .get(&entry.handle)
            .is_some_and(|hs| hs.registration == Some(Registration::Callback(id)));
        if current {
            self.forget_registration(entry.handle);
        }
        Some(entry)
    }

    /// The handle's state, made on first use.
    fn handle(&mut self, handle: u64, name: &str, kind: BackendKind) -> &mut HandleState {
        self.handles.entry(handle).or_insert_with(|| HandleState {
            name: name.to_owned(),
            kind,
            registration: None,
            running: 0,
            closing_inside: 0,
            cancelling: 0,
            closed: false,
        })
    }
}

/// Asks for a signal (`callback` None) or a callback notification for the
/// handle `handle` on queue `name`, replacing the one this process holds on
/// the queue (made through this handle or another), as the system does.
pub(crate) fn register(
    handle: u64,
    name: &str,
    b: &Backend,
    signo: i32,
    callback: Option<Callback>,
) -> Result<()> {
    let mut guard = state();
    let st = &mut *guard;
    let hs = st.handle(handle, name, b.kind());
    if hs.closed {
        return Err(CLOSING);
    }
    if hs.cancelling > 0 && in_callback_of(handle) {
        return Err(CANCELLING);
    }
    let new = match callback {
        Some(callback) => {
            let id = new_id();
            // In place before the backend can deliver it.
            st.entries.insert(id, Entry { callback, handle });
            Registration::Callback(id)
        }
        None => Registration::Signal,
    };
    let request = |st: &mut State| match new {
        Registration::Signal => b.notify_signal(signo),
        Registration::Callback(id) => b.notify_callback(id, &mut st.delivery),
    };
    let mut result = request(st);
    let mut replaced = false;
    if matches!(result, Err(NotifyError::Busy)) {
        // The system keeps one registration per queue and process, and
        // replaces it when the same process asks again: do the same when a
        // handle of this process (this one or another of the same queue)
        // holds it. After this cancel the process holds none on the queue.
        let holders = st.holders(name, b.kind());
        if !holders.is_empty() {
            let _ = b.notify_cancel();
            replaced = true;
            result = request(st);
            if result.is_ok() {
                for h in holders {
                    st.forget_registration(h);
                }
            }
        }
    }
    match result {
        Ok(()) => {
            st.forget_registration(handle);
            st.handle(handle, name, b.kind()).registration = Some(new);
            *st.held.entry(name.to_owned()).or_insert(0) += 1;
            Ok(())
        }
        Err(e) => {
            if let Registration::Callback(id) = new {
                if let Some(e) = st.entries.remove(&id) {
                    st.dead.push(e.callback);
                }
            }
            // Busy after our own cancel: the holder is another process.
            let own = !replaced && st.held.contains_key(name);
            drop(guard);
            Err(match e {
                NotifyError::Busy => b.kind().busy_error(name, own),
                NotifyError::Failed(e) => e,
            })
        }
    }
}

/// Cancels the process's registration on queue `name` through this handle
/// and waits until no callback of the handle runs (see [`wait_idle`]). The
/// registration may have been made through another handle of the queue: the
/// backend cancels it all the same, so it is forgotten (its callback
/// dropped) here too, not at that handle's close.
pub(crate) fn cancel(handle: u64, name: &str, b: &Backend) -> Result<()> {
    let mut st = state();
    b.notify_cancel()?;
    st.forget_registration(handle);
    for h in st.holders(name, b.kind()) {
        st.forget_registration(h);
    }
    let Some(hs) = st.handles.get_mut(&handle) else {
        return Ok(()); // never registered: nothing can be running
    };
    hs.cancelling += 1;
    let mut st = wait_idle(st, handle);
    if let Some(hs) = st.handles.get_mut(&handle) {
        hs.cancelling -= 1;
    }
    Ok(())
}

/// close or free has begun: refuses further registrations, drops the
/// handle's registration (through `b`, when the descriptor is still open)
/// and waits until no callback of the handle runs. With `forget`, the
/// handle's state is removed afterwards (free).
pub(crate) fn close(handle: u64, b: Option<&Backend>, forget: bool) {
    let mut st = state();
    let Some(hs) = st.handles.get_mut(&handle) else {
        return; // never registered anything: no callback can be running
    };
    hs.closed = true;
    if st.forget_registration(handle).is_some() {
        if let Some(b) = b {
            // A backend may also drop it when the handle's descriptor
            // closes, but that may outlive this call while another thread
            // uses it.
            let _ = b.notify_cancel();
        }
    }
    let mut st = wait_idle(st, handle);
    if forget {
        st.handles.remove(&handle);
    }
}

/// Waits until no callback of `handle` is running, except callbacks that
/// are themselves waiting here (a callback may close its own handle; two
/// callbacks of one handle closing it at once must not wait for each other).
fn wait_idle(mut st: Locked, handle: u64) -> Locked {
    let inside = in_callback_of(handle);
    let g = global();
    if inside {
        if let Some(hs) = st.handles.get_mut(&handle) {
            hs.closing_inside += 1;
        }
        g.idle.notify_all();
    }
    while st
        .handles
        .get(&handle)
        .is_some_and(|hs| hs.running > hs.closing_inside)
    {
        let inner = st.0.take().expect("held until dropped");
        st.0 = Some(g.idle.wait(inner).unwrap_or_else(|p| p.into_inner()));
    }
    if inside {
        if let Some(hs) = st.handles.get_mut(&handle) {
            hs.closing_inside = hs.closing_inside.saturating_sub(1);
        }
    }
    st
}

/// Called by the backend on a thread made for the delivery. Notifications
/// are one-shot, so the registration is consumed; the callback runs with
/// panics caught.
fn deliver(id: u64) {
    let (entry, generation) = {
        let mut st = state();
        let Some(entry) = st.consumed(id) else {
            return;
        };
        match st.handles.get_mut(&entry.handle) {
            Some(hs) => hs.running += 1,
            None => {
                st.dead.push(entry.callback);
                return;
            }
        }
        (entry, st.generation)
    };
    let handle = entry.handle;
    let previous = IN_CALLBACK.with(|c| c.replace(handle));
    // A panicking callback must not unwind into the delivery thread. The
    // callback is dropped here, still counted as running (so close / free /
    // cancel wait for its drop too) and outside the lock.
    let callback = entry.callback;
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        callback();
        drop(callback);
    }));
    IN_CALLBACK.with(|c| c.set(previous));
    let mut st = state();
    // After a fork inside the callback, the count is the parent's, not ours.
    if st.generation == generation {
        if let Some(hs) = st.handles.get_mut(&handle) {
            hs.running = hs.running.saturating_sub(1);
        }
    }
    drop(st);
    global().idle.notify_all();
}

/// Called by the backend when it dropped registration `id` without
/// delivering it (the kernel's: this process closed a descriptor of the
/// queue, or cancelled).
fn removed(id: u64) {
    removals().push(id);
}

/// Live callback registrations and handle states, for leak tests.
#[doc(hidden)]
pub fn live_counts() -> (usize, usize) {
    let st = state();
    (st.entries.len(), st.handles.len())
}
