"""POSIX named message queues on libpmq, with posix_ipc's MessageQueue API.

Code written for posix_ipc's message queues runs unchanged after
``import pmq as posix_ipc``. A pmq queue is an ordinary kernel queue, so
pmq, posix_ipc, C programs and the other pmq bindings share it by name.

Where pmq differs from posix_ipc (all on purpose, see the README):

* every exception carries libpmq's detail text (what was wrong, how to fix it);
* bad arguments raise TypeError/ValueError, never crash the interpreter
  (a NUL in a name, a non-bytes message, ``del q.block``...);
* an integer argument out of range (a priority, max_messages, mode, flags, a
  signal number...) is a ValueError however large it is (posix_ipc raises
  OverflowError beyond a C long or int, ValueError below that);
* timeouts are measured on a monotonic clock; a negative or NaN timeout is a
  ValueError, ``float('inf')`` waits like ``None``;
* MessageQueue is a context manager (``with MessageQueue(...) as q:`` closes
  it), and a queue that is garbage collected unclosed is closed (with a
  ResourceWarning, like files);
* an exception raised by a notification callback is reported through
  ``sys.unraisablehook`` instead of being lost;
* QUEUE_MESSAGES_MAX_DEFAULT and QUEUE_MESSAGE_SIZE_MAX_DEFAULT are read from
  the system each time they are used, so a changed sysctl is seen at once;
* calling ``__init__`` again on an open queue closes its handle first
  (posix_ipc leaks the old descriptor); if the new open fails, the object is
  left closed;
* ``str(q)`` shows the name and the message count (as the reference's
  documentation says), ``repr(q)`` every attribute.

Blocking calls release the GIL. A signal that interrupts a blocking send or
receive runs its Python handler (so Ctrl-C raises KeyboardInterrupt); if the
handler returns, the call raises SignalError, as posix_ipc does.
"""

import asyncio as _asyncio
import atexit as _atexit
import collections as _collections
import ctypes as _ctypes
import glob as _glob
import itertools as _itertools
import mmap as _mmap
import operator as _operator
import os as _os
import signal as _signal
import threading as _threading
import warnings as _warnings


def _load_bundled_libpmq():
    # The extension finds the bundled libpmq through RPATH=$ORIGIN; loading it
    # by path first makes sure that copy is the one used (the dynamic loader
    # matches the extension's DT_NEEDED by SONAME), whatever LD_LIBRARY_PATH says.
    here = _os.path.dirname(_os.path.abspath(__file__))
    for path in sorted(_glob.glob(_os.path.join(here, "libpmq.so.*"))):
        return _ctypes.CDLL(path)
    return None


_libpmq_handle = _load_bundled_libpmq()

from ._pmq_cffi import ffi as _ffi, lib as _lib  # noqa: E402
from . import _fast  # noqa: E402

__all__ = [
    "MessageQueue",
    "Receipt",
    "unlink_message_queue",
    "Error",
    "BusyError",
    "ExistentialError",
    "PermissionsError",
    "SignalError",
    "CorruptedError",
    "BACKENDS",
    "O_CREAT",
    "O_EXCL",
    "O_CREX",
    "O_NONBLOCK",
    "O_RDONLY",
    "O_WRONLY",
    "O_RDWR",
    "O_TRUNC",
    "PAGE_SIZE",
    "USER_SIGNAL_MIN",
    "USER_SIGNAL_MAX",
    "MESSAGE_QUEUES_SUPPORTED",
    "QUEUE_MESSAGES_MAX_DEFAULT",
    "QUEUE_MESSAGE_SIZE_MAX_DEFAULT",
    "QUEUE_PRIORITY_MAX",
]

__version__ = "0.2.0"
VERSION = __version__
__author__ = "the pmq authors"
__license__ = "MIT OR Apache-2.0"
__copyright__ = "Copyright the pmq authors"
#: The version of the bundled libpmq.
LIBPMQ_VERSION = _ffi.string(_lib.pmq_version()).decode("ascii")

O_CREAT = _lib.PMQ_O_CREAT
O_EXCL = _lib.PMQ_O_EXCL
O_CREX = O_CREAT | O_EXCL
#: In flags: open the handle with block = False, as posix_ipc passes it to mq_open.
O_NONBLOCK = _lib.PMQ_O_NONBLOCK
#: posix_ipc exports these too (access is chosen with read= / write= here).
O_RDONLY = _os.O_RDONLY
O_WRONLY = _os.O_WRONLY
O_RDWR = _os.O_RDWR
_O_ACCMODE = O_RDONLY | O_WRONLY | O_RDWR
#: Accepted in flags and ignored, as mq_open does (posix_ipc exports it for
#: its SharedMemory; pmq has only message queues).
O_TRUNC = _os.O_TRUNC
#: The memory page size (posix_ipc exports it for its SharedMemory).
PAGE_SIZE = _mmap.PAGESIZE
#: The range of real-time signals, for request_notification (posix_ipc's names).
USER_SIGNAL_MIN = int(_signal.SIGRTMIN)
USER_SIGNAL_MAX = int(_signal.SIGRTMAX)
MESSAGE_QUEUES_SUPPORTED = bool(_lib.pmq_message_queues_supported())
QUEUE_PRIORITY_MAX = int(_lib.pmq_priority_max())

_LIVE_CONSTANTS = {
    # Read now, every time: a changed sysctl is seen without re-importing.
    "QUEUE_MESSAGES_MAX_DEFAULT": _lib.pmq_queue_messages_max_default,
    "QUEUE_MESSAGE_SIZE_MAX_DEFAULT": _lib.pmq_queue_message_size_max_default,
}


def __getattr__(name):
    get = _LIVE_CONSTANTS.get(name)
    if get is None:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    return int(get())


def __dir__():
    return sorted(set(globals()) | set(_LIVE_CONSTANTS))


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


#: The backends a queue can live in: "kernel" (the default, posix_ipc's and
#: every mq_open program's queues) and "shm" (pmq's shared-memory queue).
#: Names are "/" and 1-255 bytes on "kernel", 1-251 on "shm" (its file
#: pmq.<name> must fit the file system's 255-byte names); a longer name
#: raises ValueError naming the backend's limit. On "shm", a process stopped
#: (SIGSTOP, a debugger) inside a call never makes another call outlast its
#: timeout: a try-once call gives up after about 10 ms (up to 250 ms while
#: the holder runs but was descheduled), a timed call at its
#: deadline (both raise BusyError, as for an empty or full queue, with a
#: message naming the queue's lock).
BACKENDS = {"kernel": _lib.PMQ_BACKEND_KERNEL, "shm": _lib.PMQ_BACKEND_SHM}


def _backend_arg(backend):
    try:
        return BACKENDS[backend]
    except (KeyError, TypeError):
        raise ValueError("backend must be one of %s, not %r"
                         % (", ".join(repr(b) for b in BACKENDS), backend)) from None


_S = _lib
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
}
_EINVAL = 22


def _make_error(status, err, detail):
    """The exception for libpmq status `status` with errno `err` and detail
    text `detail` (bytes). pmq_status (int) and pmq_status_name are set on
    the exception. Also called by pmq._fast."""
    detail = detail.decode("utf-8", "replace")
    name = _ffi.string(_lib.pmq_status_name(status)).decode("ascii", "replace")
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


def _error(token):
    """The exception for a failed cffi shim call (token = seq << 8 | status)."""
    return _make_error(token & 0xFF, _lib.pmq_py_error_errno(token),
                       _ffi.string(_lib.pmq_py_error_detail(token)))


_fast.set_error_factory(_make_error)


def _closed_error(already=False):
    """The ExistentialError for a call on a closed queue, in libpmq's words."""
    if already:
        return _make_error(_S.PMQ_STATUS_CLOSED, 0,
                           b"the handle is already closed; close it only once")
    return _make_error(_S.PMQ_STATUS_CLOSED, 0,
                       b"the handle is closed; open the queue again to use it")


# ---------------------------------------------------------------- arguments


def _name_arg(name):
    """str or bytes -> NUL-free bytes for C (TypeError/ValueError otherwise)."""
    if isinstance(name, str):
        b = name.encode("utf-8", "surrogateescape")
    elif isinstance(name, (bytes, bytearray)):
        b = bytes(name)
    else:
        raise TypeError("Name must be None or a string (str or bytes), not %s" % type(name).__name__)
    if b"\0" in b:
        raise ValueError("queue name %r contains a NUL character; names are '/' followed by 1-255 "
                         "bytes (1-251 on the shm backend) without NUL or '/'" % (name,))
    return b


def _int_arg(what, value, lo, hi):
    """An integer argument in lo..hi: TypeError for a non-integer, ValueError
    for any integer outside lo..hi, however large (never OverflowError, so
    ``except ValueError`` catches every out-of-range value)."""
    try:
        v = _operator.index(value)
    except TypeError:
        raise TypeError("%s must be an integer, not %s" % (what, type(value).__name__)) from None
    if v < lo or v > hi:
        raise ValueError("%s must be in %d..%d, not %s" % (what, lo, hi, _int_text(v)))
    return v


def _int_text(v):
    """v for an error message; a huge one by its size (str() of an int of
    thousands of digits is slow, or refused by sys.set_int_max_str_digits)."""
    if v.bit_length() <= 128:
        return "%d" % v
    return "a %s%d-bit integer" % ("negative " if v < 0 else "", v.bit_length())


_INT64_MAX = (1 << 63) - 1
_INT_MAX = (1 << 31) - 1


class _Default:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name


_MAX_MESSAGES_DEFAULT = _Default("QUEUE_MESSAGES_MAX_DEFAULT")
_MAX_MESSAGE_SIZE_DEFAULT = _Default("QUEUE_MESSAGE_SIZE_MAX_DEFAULT")

# --------------------------------------------------------- notifications

# Callback registrations that may still be delivered: key -> (queue,
# function, param). libpmq gives the key to the delivery thread as the
# callback's `param`: an integer, never a pointer. A delivery that libpmq had
# already started when its registration was replaced may reach Python after
# the replacing call returned; it then finds no entry and calls nothing. So an
# entry is dropped as soon as libpmq no longer calls its registration, and a
# late delivery never uses anything released. A queue has at most one entry,
# its live registration (q._current); the entry keeps the queue alive.
_callbacks = {}
_next_key = _itertools.count(1).__next__
# Serializes callback and signal registrations, so each one knows which
# registration it replaced. Reentrant: a signal handler may register while
# the main thread is inside a registration. Cancel and close do not take it:
# they wait for running callbacks, which may be registering again.
_register_lock = _threading.RLock()
# Queues with a callback registration that may still fire: kept alive (like
# posix_ipc, which never frees them) until it fires or is cancelled/closed.
_armed = {}
_armed_lock = _threading.Lock()


@_ffi.def_extern()
def pmq_py_notify_trampoline(param):
    """Runs on libpmq's notification thread (cffi takes the GIL)."""
    key = int(_ffi.cast("uintptr_t", param))
    # The registration is one-shot: its entry is never used again.
    ctx = _callbacks.pop(key, None)
    if ctx is None:
        # Replaced while libpmq was starting this delivery: the replacing
        # call has returned, so the old callback must not run now.
        return
    q, function, arg = ctx
    if q._current == key:
        q._current = None
        with _armed_lock:
            _armed.pop(id(q), None)
    # An exception escapes to cffi, which reports it through
    # sys.unraisablehook ("Exception ignored from cffi callback ..."), never
    # silently; the note says which callback and queue it came from.
    try:
        function(arg)
    except BaseException as e:
        if hasattr(e, "add_note"):
            e.add_note("in the pmq notification callback %r(%r) of queue %s" % (function, arg, q._name))
        raise


def _forget_armed_in_child():
    # A forked child holds no registration of its parent's (the kernel ties
    # it to the process), so it has nothing to cancel at exit. The lock may
    # have been held by another thread at the fork: make a new one.
    global _armed_lock, _register_lock
    _armed_lock = _threading.Lock()
    _register_lock = _threading.RLock()
    _armed.clear()
    _callbacks.clear()


_os.register_at_fork(after_in_child=_forget_armed_in_child)


@_atexit.register
def _cancel_armed_callbacks():
    # No callback may enter a finalizing interpreter: cancel them (cancel
    # returns only when none is running and none will run).
    with _armed_lock:
        queues = list(_armed.values())
        _armed.clear()
    for q in queues:
        qp = q._q
        if qp is not None:
            _lib.pmq_py_notify_cancel(qp)


# ------------------------------------------------------------- the queue


class _Waiters(set):
    """The asyncio futures of one (loop, direction) of a queue; watching: the
    loop watches the queue's descriptor for them."""

    __slots__ = ("watching",)

    def __init__(self):
        super().__init__()
        self.watching = False


def _wake_futures(futures):
    for fut in list(futures):
        if not fut.done():
            fut.set_result(None)


_new = _ffi.new


class MessageQueue(_fast.QueueBase):
    """A POSIX message queue (posix_ipc.MessageQueue).

    MessageQueue(name, flags=0, mode=0o600, max_messages=QUEUE_MESSAGES_MAX_DEFAULT,
                 max_message_size=QUEUE_MESSAGE_SIZE_MAX_DEFAULT, read=True, write=True)

    name is "/something" (str or bytes), or None with O_EXCL for a new queue
    with a random name. flags: 0 (open an existing queue), O_CREAT or O_CREX.
    mode, max_messages and max_message_size apply only when the queue is
    created. read/write choose what this handle may do. backend (keyword
    only, pmq only): "kernel" (the default: posix_ipc's and every mq_open
    program's queues) or "shm" (pmq's shared-memory queue); see BACKENDS.

    Names are "/" and 1-255 bytes on "kernel", 1-251 on "shm" (its file
    pmq.<name> must fit the file system's 255-byte names); a longer name
    raises ValueError naming the backend's limit. On "shm", a process stopped
    (SIGSTOP, a debugger) inside a call never makes another call outlast its
    timeout: a try-once call gives up after about 10 ms (up to 250 ms while
    the holder runs but was descheduled), a timed call at its deadline (both
    raise BusyError naming the queue's lock). The descriptor (mqd, fileno())
    of a "shm" queue belongs to the process that asked for it: after
    os.fork(), ask again in the child for one of its own. Receipts of
    receivers that died: dead_receipts().
    """

    __slots__ = ("_q", "_name", "_mode", "_read", "_write", "_max_messages",
                 "_max_message_size", "_closed", "_current", "_backend", "_aio",
                 "__weakref__")

    def __init__(self, name, flags=0, mode=0o600, max_messages=_MAX_MESSAGES_DEFAULT,
                 max_message_size=_MAX_MESSAGE_SIZE_DEFAULT, read=True, write=True, *,
                 backend="kernel"):
        if getattr(self, "_q", None) is None:
            self._q = None
            self._closed = True
            self._current = None
            # asyncio waiters: (loop, writable) -> set of futures (one
            # add_reader / add_writer per loop and direction for all of
            # them); None once closed.
            self._aio = None
        flags = _int_arg("flags", flags, -_INT_MAX - 1, _INT_MAX)
        mode = _int_arg("mode", mode, 0, _INT_MAX)
        if max_messages is _MAX_MESSAGES_DEFAULT:
            max_messages = _lib.pmq_queue_messages_max_default()
        if max_message_size is _MAX_MESSAGE_SIZE_DEFAULT:
            max_message_size = _lib.pmq_queue_message_size_max_default()
        max_messages = _int_arg("max_messages", max_messages, -_INT64_MAX - 1, _INT64_MAX)
        max_message_size = _int_arg("max_message_size", max_message_size, -_INT64_MAX - 1,
                                    _INT64_MAX)
        read = bool(read)
        write = bool(write)
        # posix_ipc ORs the access that read/write ask for into flags and
        # passes them to mq_open: O_RDONLY / O_WRONLY / O_RDWR in flags widen
        # what the descriptor may do (send/receive still follow read/write),
        # and O_WRONLY with O_RDWR is EINVAL. O_TRUNC means nothing to a
        # message queue (mq_open ignores it): accepted and ignored.
        access = flags & _O_ACCMODE
        flags &= ~(_O_ACCMODE | O_TRUNC)
        if read and write:
            access |= O_RDWR
        elif write:
            access |= O_WRONLY
        if access == O_WRONLY | O_RDWR:
            raise ValueError("flags asks for O_WRONLY and O_RDWR together (with read=%s, "
                             "write=%s): give at most one access mode, or none and choose with "
                             "read= / write=" % (read, write))
        open_read = access != O_WRONLY
        open_write = access != O_RDONLY
        cbackend = _backend_arg(backend)
        if not (read or write):
            raise ValueError("At least one of read or write must be True")
        if name is None:
            if not flags & O_EXCL:
                raise ValueError("Name can only be None if O_EXCL is set (use O_CREX for a new "
                                 "queue with a random name)")
            cname = _ffi.NULL
        else:
            cname = _name_arg(name)
        if not self._closed:
            # __init__ called again on an open queue (posix_ipc 1.3.2 then
            # leaks the old descriptor): the old handle is closed first, as
            # close() does; if the open below fails, the object stays closed.
            # The old handle is freed once no call (another thread's
            # blocking receive...) uses it any more.
            self._close(quiet=True)
        out = _new("pmq_queue **")
        attrs = _new("int64_t[2]")
        r = _lib.pmq_py_open(cname, flags, mode, max_messages, max_message_size, open_read,
                             open_write, cbackend, out, attrs)
        if r:
            raise _error(r)
        # Freed (pmq_queue_free) when the last reference goes: this object's
        # (replaced by a new __init__, or dropped by __del__), or that of a
        # call still using it.
        self._q = _ffi.gc(out[0], _lib.pmq_queue_free)
        self._closed = False
        self._aio = {}
        self._name = _ffi.string(_lib.pmq_queue_name(self._q)).decode("utf-8", "surrogateescape")
        self._mode = mode
        self._backend = backend
        self._read = read
        self._write = write
        self._max_messages = int(attrs[0])
        self._max_message_size = int(attrs[1])
        self._set_handle(int(_ffi.cast("uintptr_t", self._q)), self._max_message_size, self._q,
                         (1 if read else 0) | (2 if write else 0), self._max_messages)
        self._current = None  # the key of the live callback registration

    def __del__(self):
        q = getattr(self, "_q", None)
        if q is None:
            return
        self._q = None
        self._set_handle(0, 0, None)
        try:
            if not self._closed:
                _warnings.warn("unclosed pmq.MessageQueue %r" % (self._name,), ResourceWarning,
                               stacklevel=2, source=self)
        finally:
            del q  # the last reference: pmq_queue_free closes and frees the handle

    # -- messages: send() and receive(), send_batch() and receive_batch()
    # are pmq._fast.QueueBase's (C).

    # -- asyncio

    async def send_async(self, message, priority=0):
        """Like send(), for asyncio: waits for room without a thread (the
        running loop watches the queue's descriptor) and tries once each time
        it is writable. Cancel-safe: cancelled before it returns, nothing was
        sent. Bound it with asyncio.wait_for / asyncio.timeout."""
        loop = _asyncio.get_running_loop()
        while True:
            try:
                return self.send(message, timeout=0, priority=priority)
            except BusyError:
                pass
            await self._aio_ready(loop, True)

    async def receive_async(self):
        """Like receive(), for asyncio: waits for a message without a thread
        and tries once each time the queue's descriptor is readable; returns
        (message, priority). Cancel-safe: cancelled before it returns,
        nothing was taken."""
        loop = _asyncio.get_running_loop()
        while True:
            try:
                return self.receive(0)
            except BusyError:
                pass
            await self._aio_ready(loop, False)

    async def _aio_ready(self, loop, writable):
        # close() may run in another thread at any point of this: it sets
        # _aio to None, then closes the descriptor, and wakes the waiters it
        # finds in the dict it took. A waiter it cannot have seen (added
        # after it took the dict) sees _aio changed below and raises the
        # closed-queue error itself, so no waiter is left behind and none
        # waits on a descriptor that was closed (or reused since).
        aio = self._aio
        fd = self.mqd
        if aio is None or fd < 0:
            raise _closed_error()
        key = (loop, writable)
        fut = loop.create_future()
        waiters = aio.get(key)
        if waiters is None:
            waiters = aio[key] = _Waiters()
        waiters.add(fut)
        try:
            if not waiters.watching:
                try:
                    if writable:
                        loop.add_writer(fd, self._aio_wake, key)
                    else:
                        loop.add_reader(fd, self._aio_wake, key)
                except OSError:
                    if self._aio is not aio:  # closed: fd is gone or another file's
                        raise _closed_error() from None
                    raise
                waiters.watching = True
            if self._aio is not aio:
                raise _closed_error()
            await fut
        finally:
            waiters.discard(fut)
            if not waiters and aio.get(key) is waiters:
                del aio[key]
                # Unless close() took this watch over (it removes it).
                if waiters.watching:
                    waiters.watching = False
                    if writable:
                        loop.remove_writer(fd)
                    else:
                        loop.remove_reader(fd)

    def _aio_wake(self, key):
        # Every waiter tries again (readiness is only a hint: the losers
        # find nothing and wait again).
        aio = self._aio
        if aio:
            _wake_futures(aio.get(key, ()))


    # -- notification

    def request_notification(self, notification=None):
        """None cancels this process's registration; a signal number asks for
        that signal when the queue goes from empty to non-empty; a tuple
        (function, param) calls function(param) in a new thread then. One-shot;
        BusyError if another process holds the queue's registration."""
        if notification is None:
            q = self._q
            r = _lib.pmq_py_notify_cancel(q) if q is not None else 0
            if r and (r & 0xFF) != _S.PMQ_STATUS_CLOSED:
                raise _error(r)
            # Nothing runs or will run now: drop every callback reference.
            self._forget_callbacks()
        elif isinstance(notification, int):
            signo = _int_arg("signal number", notification, 0, _INT_MAX)
            q = self._handle()
            with _register_lock:
                r = _lib.pmq_py_notify_signal(q, signo)
                if r:
                    raise _error(r)
                # It replaced any callback registration, which libpmq no
                # longer calls: drop that one's entry.
                self._forget_callbacks()
        elif isinstance(notification, tuple) and len(notification) == 2 and callable(notification[0]):
            q = self._handle()
            with _register_lock:
                key = _next_key()
                previous = self._current
                # In place before the call: the new registration may fire
                # before the call returns.
                _callbacks[key] = (self, notification[0], notification[1])
                self._current = key
                with _armed_lock:
                    _armed[id(self)] = self
                r = _lib.pmq_py_notify_callback(q, _ffi.cast("void *", key))
                if r:
                    _callbacks.pop(key, None)
                    if self._current == key:
                        # The previous registration stands (unless it was
                        # delivered meanwhile).
                        self._current = previous if previous in _callbacks else None
                        if self._current is None:
                            with _armed_lock:
                                _armed.pop(id(self), None)
                    raise _error(r)
                # libpmq replaced the previous registration and no longer
                # calls it (a delivery of it already under way finds no
                # entry): only the live registration's entry is kept.
                if previous is not None:
                    _callbacks.pop(previous, None)
        else:
            raise ValueError("The notification must be None, an integer (a signal number), or a "
                             "tuple of (function, parameter), not %r" % (notification,))

    def _forget_callbacks(self):
        key, self._current = self._current, None
        if key is not None:
            _callbacks.pop(key, None)
        with _armed_lock:
            _armed.pop(id(self), None)

    # -- lifetime

    def close(self):
        """Closes this handle (other handles stay valid) and releases
        everything it holds at once: its descriptors and, for a "shm" queue,
        its mapping and its opener record (a call still running in another
        thread is woken with ExistentialError and keeps the handle until it
        returns). Later calls raise ExistentialError; name, mode, the sizes
        and unlink() keep working. Linux then drops this process's
        notification registration on the queue."""
        self._close(quiet=False)

    def _handle(self):
        """The open handle; the closed-queue ExistentialError after close()."""
        q = self._q
        if q is None:
            raise _closed_error()
        return q

    def _close(self, quiet):
        # quiet: a handle another thread closed meanwhile is fine.
        # Takes the handle away at once and only once (of two threads
        # closing, one gets it): from here on the C calls raise the closed
        # error.
        q = self._release_handle()
        if q is None:
            if quiet:
                return
            raise _closed_error(already=True)
        self._closed = True
        # asyncio waiters: no new one registers from here on (_aio_ready
        # sees _aio changed); stop watching the descriptor before it
        # closes, then wake them (they raise ExistentialError).
        aio, self._aio = self._aio, None
        items = list(aio.items()) if aio else []
        fd = -1
        if items:
            out = _new("int *")
            if not _lib.pmq_py_fileno(q, out):
                fd = out[0]
        for (loop, writable), waiters in items:
            watching, waiters.watching = waiters.watching, False
            if not watching or fd < 0 or loop.is_closed():
                continue
            remove = loop.remove_writer if writable else loop.remove_reader
            try:
                running = _asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                remove(fd)
            else:
                loop.call_soon_threadsafe(remove, fd)
        r = _lib.pmq_py_close(q)
        error = _error(r) if r else None
        self._q = None
        self._forget_callbacks()
        # The last reference unless a call in another thread still uses the
        # handle: pmq_queue_free() releases the descriptors (and a shm
        # queue's mapping and opener record) now, or when that call returns.
        del q
        for (loop, _), waiters in items:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_wake_futures, waiters)
        if error is not None:
            raise error

    def unlink(self):
        """Removes the queue's name; open handles keep working until closed.
        Works after close() too, always on this queue's backend."""
        q = self._q
        if q is None:
            if not self._closed:
                raise _closed_error()
            # close() released the handle: the name and backend remain.
            r = _lib.pmq_py_unlink_backend(_name_arg(self._name), BACKENDS[self._backend])
        else:
            r = _lib.pmq_py_unlink(q)
        if r:
            raise _error(r)

    def fileno(self):
        """The message queue descriptor (mqd); -1 after close(). On the "shm"
        backend it belongs to the process that asked for it: after os.fork(),
        call it again in the child for one of its own."""
        return self.mqd

    def dead_receipts(self):
        """Every receipt a receiver that died left in this shared-memory
        queue, whichever handle it used: a list of Receipt (seq, length,
        priority, pid, taken, queued, head), so a message a killed receiver
        took is named, never silently gone. A receiver counts as dead once no
        process holds its handle (killed, or exited without close()).

        A receipt is written *before* the take commits, so the flags say
        what happened: `taken`: the take committed and the message left the
        queue with the dead receiver (the case to recover); `queued`: the
        take did not commit and the message is still in the queue (a
        receiver will get it); neither: the take did not commit and another
        receiver has taken the message since. For a batch receive the
        receipt names the last message of the batch.

        Reading changes nothing: every caller sees the same receipts until a
        new handle reuses the dead one's record and receives; act on each
        once by its `seq`. pmq.Error (pmq_status_name
        "PMQ_STATUS_NOT_SUPPORTED") on the kernel backend, which keeps no
        receipts; ExistentialError after close()."""
        if self._closed:
            raise _make_error(_S.PMQ_STATUS_CLOSED, 0,
                              b"the queue was closed with close(); open it again to read receipts")
        cap = 4
        while True:
            out = _new("pmq_receipt[]", cap)
            count = _new("size_t *")
            r = _lib.pmq_py_dead_receipts(self._q, out, cap, count)
            if r and (r & 0xFF) == _S.PMQ_STATUS_BUFFER_TOO_SMALL:
                cap = count[0] + 4  # more may die before the next call
                continue
            if r:
                raise _error(r)
            return [Receipt(int(x.seq), int(x.len), int(x.priority), int(x.pid), bool(x.taken),
                            bool(x.queued), bytes(_ffi.buffer(x.head, min(x.len, 16))))
                    for x in (out[i] for i in range(count[0]))]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._closed:
            self.close()
        return False

    # -- properties

    @property
    def name(self):
        """The queue's name (the generated one if None was given)."""
        return self._name

    @property
    def backend(self):
        """The backend the queue lives in: "kernel" or "shm"."""
        return self._backend

    @property
    def mode(self):
        """The mode given to the constructor."""
        return self._mode

    @property
    def mqd(self):
        """The message queue descriptor; usable with select/poll/epoll
        (readable: a message waits; writable: there is room). -1 after close().
        On the "shm" backend it belongs to the process that asked for it:
        after os.fork(), read it again in the child for one of its own."""
        q = self._q
        if self._closed or q is None:
            return -1
        out = _new("int *")
        r = _lib.pmq_py_fileno(q, out)
        if r:
            if (r & 0xFF) == _S.PMQ_STATUS_CLOSED:
                return -1
            raise _error(r)
        return out[0]

    @property
    def block(self):
        """Whether send() and receive() may wait (settable; this handle only)."""
        out = _new("bool *")
        r = _lib.pmq_py_get_block(self._handle(), out)
        if r:
            raise _error(r)
        return bool(out[0])

    @block.setter
    def block(self, value):
        r = _lib.pmq_py_set_block(self._handle(), bool(value))
        if r:
            raise _error(r)

    @block.deleter
    def block(self):
        raise AttributeError("the block attribute cannot be deleted; set it to True or False")

    @property
    def max_messages(self):
        """The queue's capacity in messages."""
        return self._max_messages

    @property
    def max_message_size(self):
        """The queue's largest message in bytes."""
        return self._max_message_size

    @property
    def current_messages(self):
        """The number of messages in the queue now."""
        out = _new("int64_t *")
        r = _lib.pmq_py_current_messages(self._handle(), out)
        if r:
            raise _error(r)
        return int(out[0])

    def __str__(self):
        """The name and the number of messages, e.g. '/q (2 of 10 messages)'."""
        q = self._q
        if q is None:
            if self._closed:
                return "%s (closed)" % (self._name,)
            raise _closed_error()
        size = 256
        while True:
            buf = _new("char[]", size)
            needed = _new("size_t *")
            r = _lib.pmq_py_describe(q, _lib.PMQ_DESCRIBE_SHORT, buf, size, needed)
            if not r:
                return _ffi.string(buf).decode("utf-8", "replace")
            if (r & 0xFF) != _S.PMQ_STATUS_BUFFER_TOO_SMALL or needed[0] <= size:
                raise _error(r)
            size = needed[0]

    def __repr__(self):
        return "%s.%s(%r, mode=0o%o, max_message_size=%d, max_messages=%d, read=%s, write=%s)" % (
            type(self).__module__, type(self).__qualname__, self._name, self._mode,
            self._max_message_size, self._max_messages, self._read, self._write)


Receipt = _collections.namedtuple(
    "Receipt", ["seq", "length", "priority", "pid", "taken", "queued", "head"])
Receipt.__doc__ = """A receipt a receiver that died left in a shared-memory queue
(MessageQueue.dead_receipts()): seq (the queue's sequence number of the
message, unique in the queue's life), length, priority, pid (of the receiver
that died), taken (its take committed: the message left the queue with it),
queued (the message is still in the queue: the take did not commit), head
(the message's first bytes, up to 16)."""


def unlink_message_queue(name, *, backend="kernel"):
    """Removes the queue called name (str or bytes) of `backend` ("kernel",
    the default, or "shm"); ExistentialError if none."""
    cbackend = _backend_arg(backend)
    if cbackend == _lib.PMQ_BACKEND_KERNEL:
        r = _lib.pmq_py_unlink_name(_name_arg(name))
    else:
        r = _lib.pmq_py_unlink_backend(_name_arg(name), cbackend)
    if r:
        raise _error(r)
