//! Each backend's own state for delivering callback notifications, kept by
//! the core's registry without naming any backend.

/// A backend's own state for delivering callback notifications (helper
/// threads, sockets), made on first use from the core's two functions:
/// `deliver(id)` runs registration `id`'s callback (called on a thread made
/// for the delivery); `removed(id)` forgets a registration the backend
/// dropped without delivering it (must not wait for the registry's lock:
/// the registering thread may hold it).
pub(crate) trait DeliveryState: Send + 'static {
    /// The state, before any registration.
    fn new(deliver: fn(u64), removed: fn(u64)) -> Self
    where
        Self: Sized;
    /// In a child after fork: what the parent's delivery threads own is
    /// not ours; start afresh.
    fn after_fork_in_child(&mut self) {}
}

/// [`DeliveryState`] behind a pointer, with its type asked at run time.
trait AnyDeliveryState: Send {
    fn after_fork_in_child(&mut self);
    fn as_any(&mut self) -> &mut dyn std::any::Any;
}

impl<D: DeliveryState> AnyDeliveryState for D {
    fn after_fork_in_child(&mut self) {
        DeliveryState::after_fork_in_child(self)
    }
    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The delivery states of the backends in use, owned by the core's
/// notification registry and used only under its lock. One entry a backend
/// type, made when a backend first asks for it ([`Deliveries::state`]).
pub(crate) struct Deliveries {
    deliver: fn(u64),
    removed: fn(u64),
    states: Vec<Box<dyn AnyDeliveryState>>,
}

impl Deliveries {
    /// See [`DeliveryState`] for `deliver` and `removed`.
    pub(crate) const fn new(deliver: fn(u64), removed: fn(u64)) -> Deliveries {
        Deliveries {
            deliver,
            removed,
            states: Vec::new(),
        }
    }

    /// The delivery state of type `D`, made now if this is the first ask.
    pub(crate) fn state<D: DeliveryState>(&mut self) -> &mut D {
        let at = self.states.iter_mut().position(|s| s.as_any().is::<D>());
        let at = at.unwrap_or_else(|| {
            let state = D::new(self.deliver, self.removed);
            self.states.push(Box::new(state));
            self.states.len() - 1
        });
        match self.states[at].as_any().downcast_mut::<D>() {
            Some(d) => d,
            None => unreachable!("the state at {at} was found or made as this type"),
        }
    }

    /// In a child after fork: what the parent's delivery threads own is
    /// not ours; start afresh.
    pub(crate) fn after_fork_in_child(&mut self) {
        for s in &mut self.states {
            s.after_fork_in_child();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A(u32);
    impl DeliveryState for A {
        fn new(_: fn(u64), _: fn(u64)) -> A {
            A(0)
        }
        fn after_fork_in_child(&mut self) {
            self.0 += 100;
        }
    }
    struct B(fn(u64));
    impl DeliveryState for B {
        fn new(deliver: fn(u64), _: fn(u64)) -> B {
            B(deliver)
        }
    }

    static DELIVERED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    fn deliver(id: u64) {
        DELIVERED.store(id, std::sync::atomic::Ordering::Relaxed);
    }
    fn removed(_: u64) {}

    /// One state a backend type, made on first ask with the core's
    /// functions, kept across asks, and told about a fork.
    #[test]
    fn deliveries_keep_one_state_per_backend_type() {
        let mut d = Deliveries::new(deliver, removed);
        d.state::<A>().0 = 7;
        (d.state::<B>().0)(42);
        assert_eq!(DELIVERED.load(std::sync::atomic::Ordering::Relaxed), 42);
        assert_eq!(d.state::<A>().0, 7);
        assert_eq!(d.states.len(), 2);
        d.after_fork_in_child();
        assert_eq!(d.state::<A>().0, 107);
        assert_eq!(d.states.len(), 2);
    }
}
