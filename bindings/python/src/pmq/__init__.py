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

from asyncio import get_running_loop as _get_running_loop
import atexit as _atexit
import collections as _collections
import operator as _operator
import os as _os
import threading as _threading
import warnings as _warnings
import weakref as _weakref

# The C extension: owns the libpmq handle and makes every call. It finds the
# bundled libpmq (next to it, named as its SONAME) through its DT_RPATH
# $ORIGIN, which the dynamic loader searches before LD_LIBRARY_PATH.
from . import _pmq  # noqa: E402
from ._constants import (  # noqa: E402,F401
    __version__, VERSION, __author__, __license__, __copyright__, LIBPMQ_VERSION,
    O_CREAT, O_EXCL, O_CREX, O_NONBLOCK, O_RDONLY, O_WRONLY, O_RDWR, _O_ACCMODE, O_TRUNC,
    PAGE_SIZE, USER_SIGNAL_MIN, USER_SIGNAL_MAX, MESSAGE_QUEUES_SUPPORTED, QUEUE_PRIORITY_MAX,
    _LIVE_CONSTANTS, BACKENDS, _backend_arg)
from ._errors import (  # noqa: E402,F401
    Error, BusyError, ExistentialError, PermissionsError, SignalError, CorruptedError,
    LeaseLostError, _CLASS_OF_STATUS, _S, _make_error, _closed_error)
from ._asyncio import _AsyncioMixin, _wake_futures  # noqa: E402

_pmq.set_error_factory(_make_error)

__all__ = [
    "MessageQueue",
    "Receipt",
    "Lease",
    "LeaseStats",
    "unlink_message_queue",
    "Error",
    "BusyError",
    "ExistentialError",
    "PermissionsError",
    "SignalError",
    "CorruptedError",
    "LeaseLostError",
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


def __getattr__(name):
    get = _LIVE_CONSTANTS.get(name)
    if get is None:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    return int(get())


def __dir__():
    return sorted(set(globals()) | set(_LIVE_CONSTANTS))



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

class _Registration:
    """One callback registration: what the trampoline runs. libpmq holds a
    reference from pmq_queue_notify_callback() until its drop releases it,
    exactly once, when the registration can no longer fire (delivered,
    replaced, cancelled, closed, freed); the queue holds one in _current
    while it is live. live turns False when it fires or is replaced or
    cancelled: a delivery that libpmq had already started then calls
    nothing."""

    __slots__ = ("queue", "function", "arg", "live")

    def __init__(self, queue, function, arg):
        self.queue = _weakref.ref(queue)
        self.function = function
        self.arg = arg
        self.live = True


# Serializes callback and signal registrations, so each one knows which
# registration it replaced. Reentrant: a signal handler may register while
# the main thread is inside a registration. Cancel and close do not take it:
# they wait for running callbacks, which may be registering again.
_register_lock = _threading.RLock()
# Queues with a callback registration that may still fire: kept alive (like
# posix_ipc, which never frees them) until it fires or is cancelled/closed.
_armed = {}
_armed_lock = _threading.Lock()


def _notify_dispatch(reg):
    """Runs on libpmq's notification thread, with the GIL (pmq._pmq's
    trampoline took it): calls the callback of registration `reg`. Returns
    None, or (function, exception) for an exception the callback raised,
    which the trampoline reports through sys.unraisablehook."""
    if not reg.live:
        # Replaced or cancelled while libpmq was starting this delivery:
        # that call has returned, so the old callback must not run now.
        return None
    reg.live = False  # one-shot
    q = reg.queue()
    if q is not None and q._current is reg:
        q._current = None
        with _armed_lock:
            _armed.pop(id(q), None)
    function, arg = reg.function, reg.arg
    # An exception goes to the trampoline, which reports it through
    # sys.unraisablehook (object: the callback), never silently; the note
    # says which callback and queue it came from.
    try:
        function(arg)
    except BaseException as e:
        if hasattr(e, "add_note"):
            e.add_note("in the pmq notification callback %r(%r) of queue %s"
                       % (function, arg, q._name if q is not None else "?"))
        return function, e
    return None


_pmq.set_notify_dispatch(_notify_dispatch)


def _forget_armed_in_child():
    # A forked child holds no registration of its parent's (the kernel ties
    # it to the process), so it has nothing to cancel at exit. The lock may
    # have been held by another thread at the fork: make a new one.
    global _armed_lock, _register_lock
    _armed_lock = _threading.Lock()
    _register_lock = _threading.RLock()
    _armed.clear()


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
            try:
                qp.notify_cancel()
            except Exception:
                pass  # closed meanwhile: nothing to cancel


class MessageQueue(_AsyncioMixin, _pmq.QueueBase):
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

    At-least-once receive ("shm" only): lease() / lease_batch() hand a
    message out under a Lease, ack() / ack_batch() remove it, nack() gives
    it back; a holder that closes or dies gives its leases back.
    max_deliveries (keyword only; 0, the default: no limit) stops handing a
    message out after that many deliveries: it is moved to the queue named
    by dead_letter (keyword only; created with this queue's shape if
    missing) or dropped when dead_letter is None.
    """

    __slots__ = ("_q", "_name", "_mode", "_read", "_write", "_max_messages",
                 "_max_message_size", "_closed", "_current", "_backend", "_aio",
                 "__weakref__")

    def __init__(self, name, flags=0, mode=0o600, max_messages=_MAX_MESSAGES_DEFAULT,
                 max_message_size=_MAX_MESSAGE_SIZE_DEFAULT, read=True, write=True, *,
                 backend="kernel", max_deliveries=0, dead_letter=None):
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
            max_messages = _pmq.messages_max_default()
        if max_message_size is _MAX_MESSAGE_SIZE_DEFAULT:
            max_message_size = _pmq.message_size_max_default()
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
        max_deliveries = _int_arg("max_deliveries", max_deliveries, 0, (1 << 32) - 1)
        cdead_letter = None if dead_letter is None else _name_arg(dead_letter)
        if not (read or write):
            raise ValueError("At least one of read or write must be True")
        if name is None:
            if not flags & O_EXCL:
                raise ValueError("Name can only be None if O_EXCL is set (use O_CREX for a new "
                                 "queue with a random name)")
            cname = None
        else:
            cname = _name_arg(name)
        if not self._closed:
            # __init__ called again on an open queue (posix_ipc 1.3.2 then
            # leaks the old descriptor): the old handle is closed first, as
            # close() does; if the open below fails, the object stays closed.
            # The old handle is freed once no call (another thread's
            # blocking receive...) uses it any more.
            self._close(quiet=True)
        q = _pmq.open(cname, flags, mode, max_messages, max_message_size, open_read,
                      open_write, cbackend, max_deliveries, cdead_letter)
        # Freed (pmq_queue_free) when the last reference goes: this object's
        # (replaced by a new __init__, or dropped by __del__), or that of a
        # call still using it.
        max_messages, max_message_size = q.attributes()
        self._q = q
        self._closed = False
        self._aio = {}
        self._name = q.name()
        self._mode = mode
        self._backend = backend
        self._read = read
        self._write = write
        self._max_messages = max_messages
        self._max_message_size = max_message_size
        self._set_handle(q, self._max_message_size, (1 if read else 0) | (2 if write else 0),
                         self._max_messages)
        self._current = None  # the live callback registration (_Registration)

    def __del__(self):
        q = getattr(self, "_q", None)
        if q is None:
            return
        self._q = None
        self._set_handle(None, 0)
        try:
            if not self._closed:
                _warnings.warn("unclosed pmq.MessageQueue %r" % (self._name,), ResourceWarning,
                               stacklevel=2, source=self)
        finally:
            del q  # the last reference: pmq_queue_free closes and frees the handle

    # -- messages: send() and receive(), send_batch() and receive_batch()
    # are pmq._pmq.QueueBase's (C).

    # -- asyncio: send_async() and receive_async() are _AsyncioMixin's
    # (pmq/_asyncio.py).

    # -- notification

    def request_notification(self, notification=None):
        """None cancels this process's registration; a signal number asks for
        that signal when the queue goes from empty to non-empty; a tuple
        (function, param) calls function(param) in a new thread then. One-shot;
        BusyError if another process holds the queue's registration.

        pmq holds function and param until the registration can no longer
        fire (delivered, replaced by another registration, cancelled, or the
        queue closed) and releases them then, exactly once."""
        if notification is None:
            q = self._q
            if q is not None:
                try:
                    q.notify_cancel()
                except ExistentialError as e:
                    if getattr(e, "pmq_status", None) != _S.PMQ_STATUS_CLOSED:
                        raise
            # Nothing runs or will run now: drop every callback reference.
            self._forget_callbacks()
        elif isinstance(notification, int):
            signo = _int_arg("signal number", notification, 0, _INT_MAX)
            q = self._handle()
            with _register_lock:
                q.notify_signal(signo)
                # It replaced any callback registration, which libpmq no
                # longer calls (and dropped): forget it too.
                self._forget_callbacks()
        elif isinstance(notification, tuple) and len(notification) == 2 and callable(notification[0]):
            q = self._handle()
            with _register_lock:
                previous = self._current
                reg = _Registration(self, notification[0], notification[1])
                # In place before the call: the new registration may fire
                # before the call returns.
                self._current = reg
                with _armed_lock:
                    _armed[id(self)] = self
                try:
                    # libpmq holds reg until its drop (pmq._pmq).
                    q.notify_callback(reg)
                except BaseException:
                    reg.live = False
                    if self._current is reg:
                        # The previous registration stands (unless it was
                        # delivered meanwhile).
                        self._current = previous if previous is not None and previous.live \
                            else None
                        if self._current is None:
                            with _armed_lock:
                                _armed.pop(id(self), None)
                    raise
                # libpmq replaced the previous registration (and dropped
                # it): a delivery of it already under way calls nothing.
                if previous is not None:
                    previous.live = False
        else:
            raise ValueError("The notification must be None, an integer (a signal number), or a "
                             "tuple of (function, parameter), not %r" % (notification,))

    def _forget_callbacks(self):
        reg, self._current = self._current, None
        if reg is not None:
            reg.live = False
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
            try:
                fd = q.fileno()
            except Error:
                pass
        for (loop, writable), waiters in items:
            watching, waiters.watching = waiters.watching, False
            if not watching or fd < 0 or loop.is_closed():
                continue
            remove = loop.remove_writer if writable else loop.remove_reader
            try:
                running = _get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                remove(fd)
            else:
                loop.call_soon_threadsafe(remove, fd)
        try:
            q.close()
            error = None
        except Exception as e:
            error = e
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
            _pmq.unlink(_name_arg(self._name), BACKENDS[self._backend])
        else:
            q.unlink()

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
        return [Receipt(*r) for r in self._handle().dead_receipts()]

    # -- leases: lease(), lease_batch(), ack(), nack() and ack_batch() are
    # pmq._pmq.QueueBase's (C); lease_async() and lease_batch_async()
    # _AsyncioMixin's.

    def lease_stats(self):
        """The queue's leases now (all handles'): LeaseStats(leased,
        oldest_age), oldest_age the seconds since the oldest lease was
        handed out, None when nothing is leased. pmq.Error
        (PMQ_STATUS_NOT_SUPPORTED) on the kernel backend."""
        leased, age = self._handle().lease_stats()
        return LeaseStats(leased, age if leased else None)

    def instance_id(self):
        """An identity of this queue, not of its name (a queue made later
        under the same name has another): with a Lease's seq it names a
        message uniquely (a de-duplication id). pmq.Error
        (PMQ_STATUS_NOT_SUPPORTED) on the kernel backend."""
        return self._handle().instance_id()

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
        try:
            return q.fileno()
        except ExistentialError as e:
            if getattr(e, "pmq_status", None) == _S.PMQ_STATUS_CLOSED:
                return -1
            raise

    @property
    def block(self):
        """Whether send() and receive() may wait (settable; this handle only)."""
        return self._handle().get_block()

    @block.setter
    def block(self, value):
        self._handle().set_block(bool(value))

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
        return self._handle().current_messages()

    def __str__(self):
        """The name and the number of messages, e.g. '/q (2 of 10 messages)'."""
        q = self._q
        if q is None:
            if self._closed:
                return "%s (closed)" % (self._name,)
            raise _closed_error()
        return q.describe(_pmq.PMQ_DESCRIBE_SHORT)

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


Lease = _pmq.Lease

LeaseStats = _collections.namedtuple("LeaseStats", ["leased", "oldest_age"])
LeaseStats.__doc__ = """A queue's leases (MessageQueue.lease_stats()): leased (how many
messages are handed out and not yet acked or given back; they count against the
capacity), oldest_age (seconds since the oldest of them was handed out, None
when there is none)."""


def unlink_message_queue(name, *, backend="kernel"):
    """Removes the queue called name (str or bytes) of `backend` ("kernel",
    the default, or "shm"); ExistentialError if none."""
    cbackend = _backend_arg(backend)
    _pmq.unlink(_name_arg(name), cbackend)
