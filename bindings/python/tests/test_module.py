"""Module contents: constants, exceptions, functions (the reference's list)."""

import re

import pytest

import pmq


def sysctl(name):
    with open("/proc/sys/fs/mqueue/" + name) as f:
        return int(f.read())


def test_all_reference_names_exist():
    for name in ["MessageQueue", "unlink_message_queue", "Error", "BusyError",
                 "ExistentialError", "PermissionsError", "SignalError", "O_CREAT", "O_EXCL",
                 "O_CREX", "MESSAGE_QUEUES_SUPPORTED", "QUEUE_MESSAGES_MAX_DEFAULT",
                 "QUEUE_MESSAGE_SIZE_MAX_DEFAULT", "QUEUE_PRIORITY_MAX", "O_NONBLOCK",
                 "O_RDONLY", "O_WRONLY", "O_RDWR", "USER_SIGNAL_MIN", "USER_SIGNAL_MAX",
                 "O_TRUNC", "PAGE_SIZE"]:
        assert hasattr(pmq, name), name
        assert name in pmq.__all__
        assert name in dir(pmq)


def test_flag_values_are_the_os_ones():
    import os
    assert pmq.O_CREAT == os.O_CREAT
    assert pmq.O_EXCL == os.O_EXCL
    assert pmq.O_CREX == os.O_CREAT | os.O_EXCL
    assert pmq.O_NONBLOCK == os.O_NONBLOCK
    assert (pmq.O_RDONLY, pmq.O_WRONLY, pmq.O_RDWR) == (os.O_RDONLY, os.O_WRONLY, os.O_RDWR)
    import signal
    assert (pmq.USER_SIGNAL_MIN, pmq.USER_SIGNAL_MAX) == (signal.SIGRTMIN, signal.SIGRTMAX)


def test_every_message_queue_name_of_posix_ipc_exists():
    posix_ipc = pytest.importorskip("posix_ipc", reason="posix_ipc is not installed")
    out_of_scope = {"Semaphore", "SharedMemory", "unlink_semaphore", "unlink_shared_memory",
                    "SEMAPHORE_TIMEOUT_SUPPORTED", "SEMAPHORE_VALUE_SUPPORTED",
                    "SEMAPHORE_VALUE_MAX"}
    theirs = {n for n in dir(posix_ipc) if not n.startswith("_")} - out_of_scope
    assert sorted(theirs - set(dir(pmq))) == []
    for n in ("O_TRUNC", "PAGE_SIZE", "O_NONBLOCK", "USER_SIGNAL_MIN", "USER_SIGNAL_MAX"):
        assert getattr(pmq, n) == getattr(posix_ipc, n), n
    for n in ("MessageQueue", "BusyError"):
        assert not hasattr(pmq, "Semaphore") and hasattr(pmq, n)
    public = {n for n in dir(posix_ipc.MessageQueue) if not n.startswith("_")}
    assert sorted(public - set(dir(pmq.MessageQueue))) == []


def test_access_flags_and_o_trunc_as_posix_ipc(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX | pmq.O_TRUNC, max_messages=2, max_message_size=16)
    try:
        # O_RDWR in flags widens a read-only handle's descriptor; sends still
        # follow write=False (PermissionsError), as posix_ipc.
        r = pmq.MessageQueue(qname, pmq.O_RDWR, write=False)
        with pytest.raises(pmq.PermissionsError):
            r.send(b"x")
        r.close()
        # O_WRONLY with O_RDWR is no access mode at all.
        with pytest.raises(ValueError, match="O_WRONLY and O_RDWR"):
            pmq.MessageQueue(qname, pmq.O_WRONLY)
        w = pmq.MessageQueue(qname, pmq.O_WRONLY, read=False)
        w.send(b"w")
        w.close()
        assert q.receive(0) == (b"w", 0)
    finally:
        q.close()


def test_huge_integers_are_value_errors(qname):
    # posix_ipc raises OverflowError for these; pmq raises ValueError for
    # every out-of-range integer, however large.
    for kw in (dict(max_messages=2**63), dict(max_message_size=-2**63 - 1), dict(mode=2**31)):
        with pytest.raises(ValueError):
            pmq.MessageQueue(qname, pmq.O_CREX, **kw)
    with pytest.raises(pmq.ExistentialError):
        pmq.MessageQueue(qname)  # nothing was created


def test_o_nonblock_opens_a_non_blocking_handle(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX | pmq.O_NONBLOCK, max_messages=2,
                         max_message_size=16)
    try:
        assert q.block is False
        with pytest.raises(pmq.BusyError):
            q.receive()  # no timeout, but non-blocking: at once
    finally:
        q.close()


def test_sizes_are_ignored_when_the_queue_exists(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX, max_messages=3, max_message_size=40)
    try:
        # As posix_ipc and the kernel: O_CREAT on an existing queue ignores them.
        q2 = pmq.MessageQueue(qname, pmq.O_CREAT, max_messages=0, max_message_size=-1)
        assert (q2.max_messages, q2.max_message_size) == (3, 40)
        q2.close()
        with pytest.raises(pmq.ExistentialError):
            pmq.MessageQueue(qname, pmq.O_CREX, max_messages=0, max_message_size=0)
    finally:
        q.close()


def test_supported_on_linux():
    assert pmq.MESSAGE_QUEUES_SUPPORTED is True


def test_defaults_are_the_system_limits_read_now():
    assert pmq.QUEUE_MESSAGES_MAX_DEFAULT == sysctl("msg_max")
    assert pmq.QUEUE_MESSAGE_SIZE_MAX_DEFAULT == sysctl("msgsize_max")
    assert isinstance(pmq.QUEUE_MESSAGES_MAX_DEFAULT, int)


def test_priority_max():
    import os
    assert pmq.QUEUE_PRIORITY_MAX == os.sysconf("SC_MQ_PRIO_MAX") - 1 == 32767


def test_exception_hierarchy():
    assert issubclass(pmq.Error, Exception)
    for cls in (pmq.BusyError, pmq.ExistentialError, pmq.PermissionsError, pmq.SignalError):
        assert issubclass(cls, pmq.Error)
        assert cls is not pmq.Error
    assert len({pmq.BusyError, pmq.ExistentialError, pmq.PermissionsError, pmq.SignalError}) == 4


def _lib_name(status):
    return pmq._pmq.status_name(status)


def test_every_status_of_the_library_is_known():
    """Every status libpmq defines, 0..pmq_status_last() asked at run time, is
    known to this module: its PMQ_STATUS_ constant (pmq._pmq) has the
    library's name and value, it has its own entry in the class table
    (a status appended to pmq.h without one fails here), and the exception
    made for it (pmq._make_error, used for every failure, pmq._pmq's too)
    is of that class, carries pmq_status and pmq_status_name, and is a
    BusyError exactly when pmq_status_is_busy() says so."""
    lib = pmq._pmq
    last = lib.status_last()
    assert last >= lib.PMQ_STATUS_NOT_SUPPORTED  # values are only ever appended
    table = pmq._CLASS_OF_STATUS
    for status in range(0, last + 1):
        name = _lib_name(status)
        text = lib.status_str(status)
        where = "status %d (%s)" % (status, name)
        assert name.startswith("PMQ_STATUS_") and name != "PMQ_STATUS_UNKNOWN", where
        assert text and text != "unknown status", where
        assert getattr(lib, name, None) == status, (
            "%s: no PMQ_STATUS_ constant of that name and value in src/pmq/_pmq.c" % where)
        if status == lib.PMQ_STATUS_OK:
            assert status not in table and not lib.status_is_busy(status)
            continue
        assert status in table, (
            "%s: pmq does not know this status; add it to _CLASS_OF_STATUS in "
            "src/pmq/_errors.py (and its constant to src/pmq/_pmq.c)" % where)
        exc = pmq._make_error(status, 0, b"")
        assert type(exc) is table[status], where
        assert exc.pmq_status == status, where
        assert exc.pmq_status_name == name, where
        assert str(exc) == name, where  # no detail: the name
        assert isinstance(exc, pmq.BusyError) == bool(lib.status_is_busy(status)), (
            "%s: BusyError-ness differs from pmq_status_is_busy()" % where)
        exc = pmq._make_error(status, 0, b"the detail")
        assert str(exc) == "the detail" and exc.pmq_status_name == name, where
    # Nothing in the table that the library does not define.
    assert set(table) == set(range(1, last + 1))


def test_status_above_the_last_is_unknown():
    last = pmq._pmq.status_last()
    for status in (last + 1, 255):
        exc = pmq._make_error(status, 0, b"from the future")
        assert type(exc) is pmq.Error
        assert not isinstance(exc, pmq.BusyError)
        assert exc.pmq_status == status
        assert exc.pmq_status_name == "PMQ_STATUS_UNKNOWN"
        assert str(exc) == "from the future"
        assert not pmq._pmq.status_is_busy(status)


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        pmq.NO_SUCH_CONSTANT


def test_versions_match_cargo_toml():
    import os
    cargo = os.path.join(os.path.dirname(__file__), "..", "..", "..", "Cargo.toml")
    with open(cargo) as f:
        version = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M).group(1)
    assert pmq.LIBPMQ_VERSION == version
    assert pmq.__version__ == version
    assert pmq.VERSION == version
