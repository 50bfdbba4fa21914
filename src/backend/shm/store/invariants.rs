//! The invariant check of the store (for the robustness tests and `pmq
//! stat --check`), under both locks.

use super::super::map::Mapping;
use super::patient_policy;

impl Mapping {
    /// Checks, under both locks: `H <= P <= F <= H + capacity`; the ring
    /// names every slot of `[H, F)` once; `[H, P)` published (READY at its
    /// position), `[P, F)` FREE; every other slot READY and on its
    /// priority's list once, or LEASED (naming an opener record) and
    /// counted in `leased`; the lists acyclic and in seq order, the tails
    /// their last slots, the bitmap naming exactly the non-empty lists;
    /// messages counted = `P - H` + indexed + leased.
    pub(crate) fn check_invariants(&self) -> std::result::Result<(), String> {
        let r = self.ring();
        let _c = r
            .lock_consumers(patient_policy)
            .map_err(|f| super::patient_error(f).to_string())?;
        let _p = r
            .lock_producers(patient_policy)
            .map_err(|f| super::patient_error(f).to_string())?;
        r.check()
            .map_err(|e| format!("queue invariant broken: {e}"))
    }
}
