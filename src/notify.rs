//! Notification registrations: the lifetime rules that make callback
//! notifications safe, independent of how the backend delivers them.
//!
//! Every callback registration gets a unique id; the backend carries only
//! that id to the delivery thread (never a pointer), and delivery looks the
//! id up in a global registry. So a delivery that arrives after the handle
//! was closed or freed finds nothing and calls nothing. Closing a handle
//! removes its registration and then waits for callbacks of that handle that
//! are already running (all but the caller itself, when a callback closes its
//! own handle), so when close returns no other callback of the handle runs or
//! will run: the caller may free whatever the callback uses.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// A notification callback. Runs on a thread created for the delivery.
pub type Callback = Arc<dyn Fn() + Send + Sync + 'static>;

/// Per-handle state shared with the registry: how many of the handle's
/// callbacks are running right now, and how many of those are themselves
/// inside close/free/cancel of the handle (waiting for the others).
#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<Running>,
    idle: Condvar,
}

#[derive(Default)]
struct Running {
    running: u32,
    closing_inside: u32,
}

struct Entry {
    callback: Callback,
    shared: Arc<Shared>,
}

fn registry() -> &'static Mutex<HashMap<u64, Entry>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u64, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The handle whose callback this thread is running (its Shared's address), or 0.
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

/// Registers `callback` for a handle and returns the id to give the backend.
pub(crate) fn register(shared: &Arc<Shared>, callback: Callback) -> u64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry().lock().unwrap_or_else(|p| p.into_inner()).insert(
        id,
        Entry {
            callback,
            shared: Arc::clone(shared),
        },
    );
    id
}

/// Forgets a registration: a later delivery for `id` calls nothing.
pub(crate) fn unregister(id: u64) {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
}

/// Waits until no callback of this handle is running, except callbacks that
/// are themselves waiting here (a callback may close its own handle; two
/// callbacks of one handle closing it at once must not wait for each other).
pub(crate) fn wait_idle(shared: &Arc<Shared>) {
    let me = Arc::as_ptr(shared) as usize;
    let inside = IN_CALLBACK.with(|c| c.get()) == me;
    let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    if inside {
        st.closing_inside += 1;
        shared.idle.notify_all();
    }
    while st.running > st.closing_inside {
        st = shared.idle.wait(st).unwrap_or_else(|p| p.into_inner());
    }
    if inside {
        st.closing_inside -= 1;
    }
}

/// Called by the backend on the delivery thread. Notifications are one-shot,
/// so the registration is consumed; the callback runs with panics caught.
pub(crate) fn deliver(id: u64) {
    let entry = {
        let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
        match reg.remove(&id) {
            Some(e) => {
                // Counted while the registry is locked, so a concurrent close
                // either removed the entry first or waits for this call.
                e.shared
                    .state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .running += 1;
                e
            }
            None => return,
        }
    };
    let me = Arc::as_ptr(&entry.shared) as usize;
    let previous = IN_CALLBACK.with(|c| c.replace(me));
    let callback = Arc::clone(&entry.callback);
    // A panicking callback must not unwind into the C library's thread.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback()));
    IN_CALLBACK.with(|c| c.set(previous));
    let mut st = entry.shared.state.lock().unwrap_or_else(|p| p.into_inner());
    st.running -= 1;
    entry.shared.idle.notify_all();
}

/// Whether a registration with this id is still waiting for its delivery.
pub(crate) fn is_registered(id: u64) -> bool {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(&id)
}

/// Queue names on which a handle of this process asked for a notification
/// (maybe delivered since), with how many handles did. Used only to word the
/// busy detail: the holder's pid can be read from the mqueue filesystem, but
/// reading it from the holding process itself would drop the registration.
fn held_names() -> &'static Mutex<HashMap<String, u32>> {
    static HELD: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Records that a handle of this process took (`true`) or gave up (`false`)
/// a registration on `name`.
pub(crate) fn name_held(name: &str, held: bool) {
    let mut map = held_names().lock().unwrap_or_else(|p| p.into_inner());
    if held {
        *map.entry(name.to_owned()).or_insert(0) += 1;
    } else if let Some(n) = map.get_mut(name) {
        *n -= 1;
        if *n == 0 {
            map.remove(name);
        }
    }
}

/// Whether some handle of this process may hold the registration on `name`.
pub(crate) fn process_holds(name: &str) -> bool {
    held_names()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(name)
}
