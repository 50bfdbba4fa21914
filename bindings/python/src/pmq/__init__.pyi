# Type stubs for pmq (PEP 561: the package ships py.typed). The docstrings
# are the runtime's (pmq/__init__.py, pmq/_asyncio.py and pmq/_pmq.c); tests/test_typing.py
# checks these stubs against the installed package with mypy's stubtest and
# type-checks a usage file with mypy --strict.

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Final, Literal, NamedTuple, TypeVar, Union, final

from _typeshed import structseq
from typing_extensions import Buffer, Self, TypeAlias

_T = TypeVar("_T")

#: What send() takes as a message: bytes, any bytes-like object, or str (sent as UTF-8).
_Message: TypeAlias = Union[str, Buffer]
#: A queue name: "/something" as str or bytes.
_Name: TypeAlias = Union[str, bytes, bytearray]
#: A timeout: None waits (unless block is False), 0 tries once, > 0 waits at most that long.
_Timeout: TypeAlias = Union[float, None]
_Backend: TypeAlias = Literal["kernel", "shm"]

__all__ = [
    "Receipt",
    "Lease",
    "LeaseStats",
    "MessageQueue",
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

__version__: Final[str]
VERSION: Final[str]
__author__: Final[str]
__license__: Final[str]
__copyright__: Final[str]
LIBPMQ_VERSION: Final[str]

O_CREAT: Final[int]
O_EXCL: Final[int]
O_CREX: Final[int]
O_NONBLOCK: Final[int]
O_RDONLY: Final[int]
O_WRONLY: Final[int]
O_RDWR: Final[int]
O_TRUNC: Final[int]
PAGE_SIZE: Final[int]
USER_SIGNAL_MIN: Final[int]
USER_SIGNAL_MAX: Final[int]
MESSAGE_QUEUES_SUPPORTED: Final[bool]
QUEUE_PRIORITY_MAX: Final[int]
# Read from the system each time they are used (module __getattr__).
QUEUE_MESSAGES_MAX_DEFAULT: int
QUEUE_MESSAGE_SIZE_MAX_DEFAULT: int
BACKENDS: Final[dict[str, int]]

class Error(Exception): ...
class BusyError(Error): ...
class ExistentialError(Error): ...
class PermissionsError(Error): ...
class SignalError(Error): ...
class CorruptedError(Error): ...
class LeaseLostError(Error):
    acked: int

@final
class Lease(structseq[int], tuple[int, int, int]):
    """A lease on one message (MessageQueue.lease()): pass it to ack() or nack()."""

    __match_args__: Final = ("seq", "delivery", "slot")

    @property
    def seq(self) -> int: ...
    @property
    def delivery(self) -> int: ...
    @property
    def slot(self) -> int: ...

class LeaseStats(NamedTuple):
    """A queue's leases (MessageQueue.lease_stats())."""

    leased: int
    oldest_age: float | None

class Receipt(NamedTuple):
    """A receipt a receiver that died left in a shared-memory queue."""

    seq: int
    length: int
    priority: int
    pid: int
    taken: bool
    queued: bool
    head: bytes

class MessageQueue:
    def __init__(
        self,
        name: _Name | None,
        flags: int = 0,
        mode: int = 0o600,
        max_messages: int = ...,
        max_message_size: int = ...,
        read: bool = True,
        write: bool = True,
        *,
        backend: _Backend = "kernel",
        max_deliveries: int = 0,
        dead_letter: _Name | None = None,
    ) -> None: ...
    def send(self, message: _Message, timeout: _Timeout = None, priority: int = 0) -> None: ...
    def receive(self, timeout: _Timeout = None) -> tuple[bytes, int]: ...
    def send_batch(
        self, messages: Sequence[_Message | tuple[_Message, int]], timeout: _Timeout = None
    ) -> int: ...
    def receive_batch(self, max_messages: int, timeout: _Timeout = None) -> list[tuple[bytes, int]]: ...
    async def send_async(self, message: _Message, priority: int = 0) -> None: ...
    async def receive_async(self) -> tuple[bytes, int]: ...
    def lease(
        self, timeout: _Timeout = None, visibility: float | None = None
    ) -> tuple[bytes, int, Lease]: ...
    def lease_batch(
        self, max_messages: int, timeout: _Timeout = None, visibility: float | None = None
    ) -> list[tuple[bytes, int, Lease]]: ...
    def ack(self, lease: tuple[int, int, int], /) -> None: ...
    def nack(self, lease: tuple[int, int, int], /) -> None: ...
    def ack_batch(self, leases: Sequence[tuple[int, int, int]], /) -> int: ...
    def lease_stats(self) -> LeaseStats: ...
    def instance_id(self) -> int: ...
    async def lease_async(self, visibility: float | None = None) -> tuple[bytes, int, Lease]: ...
    async def lease_batch_async(
        self, max_messages: int, visibility: float | None = None
    ) -> list[tuple[bytes, int, Lease]]: ...
    def request_notification(
        self, notification: int | tuple[Callable[[_T], object], _T] | None = None
    ) -> None: ...
    def close(self) -> None: ...
    def dead_receipts(self) -> list[Receipt]: ...
    def unlink(self) -> None: ...
    def fileno(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> Literal[False]: ...
    def __del__(self) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def backend(self) -> _Backend: ...
    @property
    def mode(self) -> int: ...
    @property
    def mqd(self) -> int: ...
    @property
    def block(self) -> bool: ...
    @block.setter
    def block(self, value: bool) -> None: ...
    @block.deleter
    def block(self) -> None: ...
    @property
    def max_messages(self) -> int: ...
    @property
    def max_message_size(self) -> int: ...
    @property
    def current_messages(self) -> int: ...

def unlink_message_queue(name: _Name, *, backend: _Backend = "kernel") -> None: ...
