//! The lease calls of [`Backend`] (see `QueueBackend::try_lease_batch` and
//! what follows it), dispatched to the backend that keeps leases.

use std::time::Duration;

use super::{Attempt, Backend, Patience, QueueBackend};
use crate::error::{Error, ErrorKind, Result};
use crate::types::{Lease, LeaseStats, LeasedMessage};

/// The error a backend without leases returns.
pub(crate) const NO_LEASES: Error = Error::fixed(
    ErrorKind::NotSupported,
    "leases (lease, ack, nack) exist only on the shared-memory backend: open the queue with \
     backend shm (PMQ_BACKEND_SHM) to receive at least once",
);

impl Backend {
    #[inline]
    pub(crate) fn try_lease_batch(
        &self,
        buf: &mut [u8],
        room: usize,
        out: &mut [LeasedMessage],
        visibility: Option<Duration>,
        p: Patience,
    ) -> Attempt<usize> {
        dispatch!(self, b => b.try_lease_batch(buf, room, out, visibility, p))
    }

    #[inline]
    pub(crate) fn ack(&self, lease: &Lease) -> Result<()> {
        dispatch!(self, b => b.ack(lease))
    }

    pub(crate) fn nack(&self, lease: &Lease) -> Result<()> {
        dispatch!(self, b => b.nack(lease))
    }

    pub(crate) fn ack_batch(&self, leases: &[Lease]) -> (usize, Result<()>) {
        dispatch!(self, b => b.ack_batch(leases))
    }

    pub(crate) fn lease_stats(&self) -> Result<LeaseStats> {
        dispatch!(self, b => b.lease_stats())
    }

    pub(crate) fn instance_id(&self) -> Option<u64> {
        dispatch!(self, b => b.instance_id())
    }
}
