"""pmq's exceptions (posix_ipc's classes, plus CorruptedError) and the one
place a libpmq status becomes one: _make_error, used by every failing call
(the C extension's too)."""

from . import _pmq  # type: ignore  # the C extension (no stub: private)

# ---------------------------------------------------------------- exceptions


class Error(Exception):
    """Base class of pmq's own exceptions (posix_ipc.Error)."""


class BusyError(Error):
    """A call could not complete now: timeout expired, non-blocking call on a
    full/empty queue, or another process holds the notification."""


class ExistentialError(Error):
    """The queue exists (O_CREX) or does not exist, or the handle is closed."""


class PermissionsError(Error):
    """Permission denied by the queue's mode or by this handle's read/write."""


class SignalError(Error):
    """A signal interrupted a blocking call and its handler returned."""


class CorruptedError(Error):
    """A shared-memory queue's file is damaged or was made by a pmq build with
    another layout (pmq only: posix_ipc has no shared-memory backend).

    A damaged file (scribbled on, truncated or punched while mapped) raises
    this, never a signal: libpmq installs a SIGBUS handler for its mappings
    when the first "shm" queue is opened and passes other faults on to the
    handler installed before it. A SIGBUS handler installed after that must
    do the same; faulthandler.enable() called after opening a "shm" queue
    does not (it re-raises the signal, and the process dies "Fatal Python
    error: Bus error"): enable it before opening one (pytest does), or not
    at all. Whoever the file's mode lets write is trusted: until layout 3
    such a process can still crash the others through the lock's
    robust-list words (pmq.h, PMQ_STATUS_CORRUPTED)."""


class LeaseLostError(Error):
    """A lease given to ack() / nack() is no longer this handle's: acked or
    nacked already, its visibility timeout passed (the message went back to
    the queue and may have been delivered again), or it never was this
    handle's. Nothing was changed (pmq only). From ack_batch(), .acked says
    how many of the batch were acked all the same (0 from ack() / nack())."""

    acked = 0


_S = _pmq
# The exception class of every failure status libpmq defines, each listed,
# pmq.Error included where posix_ipc has nothing closer: a status missing
# here is one this module does not know (it gets pmq.Error too, like a status
# from a newer libpmq), and tests/test_module.py fails for it.
_CLASS_OF_STATUS = {
    _S.PMQ_STATUS_WOULD_BLOCK: BusyError,
    _S.PMQ_STATUS_TIMED_OUT: BusyError,
    _S.PMQ_STATUS_BUSY: BusyError,
    _S.PMQ_STATUS_EXISTS: ExistentialError,
    _S.PMQ_STATUS_NOT_FOUND: ExistentialError,
    _S.PMQ_STATUS_PERMISSION: PermissionsError,
    _S.PMQ_STATUS_INTERRUPTED: SignalError,
    _S.PMQ_STATUS_INVALID_ARGUMENT: ValueError,
    _S.PMQ_STATUS_MESSAGE_TOO_LARGE: ValueError,
    _S.PMQ_STATUS_BUFFER_TOO_SMALL: Error,
    _S.PMQ_STATUS_SYSTEM_LIMIT: ValueError,  # or OSError, by errno: see _make_error
    _S.PMQ_STATUS_CLOSED: ExistentialError,
    _S.PMQ_STATUS_OUT_OF_MEMORY: MemoryError,
    _S.PMQ_STATUS_OS_ERROR: OSError,
    _S.PMQ_STATUS_PANIC: Error,
    _S.PMQ_STATUS_NOT_SUPPORTED: Error,
    _S.PMQ_STATUS_CORRUPTED: CorruptedError,
    _S.PMQ_STATUS_LEASE_LOST: LeaseLostError,
}
_EINVAL = 22


def _make_error(status, err, detail):
    """The exception for libpmq status `status` with errno `err` and detail
    text `detail` (bytes). pmq_status (int) and pmq_status_name are set on
    the exception. Also called by pmq._pmq."""
    detail = detail.decode("utf-8", "replace")
    name = _pmq.status_name(status)
    cls = _CLASS_OF_STATUS.get(status, Error)
    if status == _S.PMQ_STATUS_SYSTEM_LIMIT:
        # posix_ipc: EINVAL (e.g. max_messages above msg_max) -> ValueError;
        # EMFILE/ENFILE/ENOSPC/... -> OSError.
        cls = ValueError if err in (0, _EINVAL) else OSError
    if cls is OSError and err:
        exc = OSError(err, detail or name)
    else:
        exc = cls(detail or name)
    exc.pmq_status = status
    exc.pmq_status_name = name
    return exc





def _closed_error(already=False):
    """The ExistentialError for a call on a closed queue, in libpmq's words."""
    if already:
        return _make_error(_S.PMQ_STATUS_CLOSED, 0,
                           b"the handle is already closed; close it only once")
    return _make_error(_S.PMQ_STATUS_CLOSED, 0,
                       b"the handle is closed; open the queue again to use it")



for _cls in (Error, BusyError, ExistentialError, PermissionsError, SignalError, CorruptedError,
             LeaseLostError):
    # Public as pmq.<name> (tracebacks, repr and pickle say so, as before).
    _cls.__module__ = "pmq"
del _cls
