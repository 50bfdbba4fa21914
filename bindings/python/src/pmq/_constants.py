"""pmq's module constants (posix_ipc's names, plus BACKENDS) and versions."""

import mmap as _mmap
import os as _os
import signal as _signal

from . import _pmq  # type: ignore  # the C extension (no stub: private)

#: Cargo.toml's workspace version: setup.py compiles it into the extension.
__version__ = _pmq.__version__
VERSION = __version__
__author__ = "the pmq authors"
__license__ = "MIT OR Apache-2.0"
__copyright__ = "Copyright the pmq authors"
#: The version of the bundled libpmq.
LIBPMQ_VERSION = _pmq.libpmq_version()

O_CREAT = _pmq.PMQ_O_CREAT
O_EXCL = _pmq.PMQ_O_EXCL
O_CREX = O_CREAT | O_EXCL
#: In flags: open the handle with block = False, as posix_ipc passes it to mq_open.
O_NONBLOCK = _pmq.PMQ_O_NONBLOCK
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
MESSAGE_QUEUES_SUPPORTED = _pmq.message_queues_supported()
QUEUE_PRIORITY_MAX = _pmq.PMQ_PRIORITY_MAX

_LIVE_CONSTANTS = {
    # Read now, every time: a changed sysctl is seen without re-importing.
    "QUEUE_MESSAGES_MAX_DEFAULT": _pmq.messages_max_default,
    "QUEUE_MESSAGE_SIZE_MAX_DEFAULT": _pmq.message_size_max_default,
}





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
BACKENDS = {"kernel": _pmq.PMQ_BACKEND_KERNEL, "shm": _pmq.PMQ_BACKEND_SHM}


def _backend_arg(backend):
    try:
        return BACKENDS[backend]
    except (KeyError, TypeError):
        raise ValueError("backend must be one of %s, not %r"
                         % (", ".join(repr(b) for b in BACKENDS), backend)) from None

