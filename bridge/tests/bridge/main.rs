//! `pmq bridge out` / `pmq bridge in` against a real `nats-server -js` on
//! 127.0.0.1 (a random free port, a temporary store), started and stopped by
//! each test: end to end (every message checked: bytes, priority, exactly
//! once, per-priority order), SIGKILL of either bridge or of the server at
//! random moments (reconciled: lost, duplicated), signals and the errors.
//!
//! Sizes: PMQ_BRIDGE_MESSAGES (end to end), PMQ_BRIDGE_FAULT_MESSAGES and
//! PMQ_BRIDGE_KILLS (fault runs); `make long-bridge` sets large ones.

mod bench;
mod common;
mod end_to_end;
mod errors;
mod faults;
mod harness;
mod journal;
mod leases;
mod traffic;
