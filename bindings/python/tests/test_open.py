"""The constructor: every parameter, its defaults, and its errors."""

import os
import stat

import pytest

import pmq
from conftest import SMALL, unique_name, unlink_quietly


def test_create_and_open_existing(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREAT, **SMALL)
    try:
        q2 = pmq.MessageQueue(qname)  # flags=0 opens the existing queue
        q.send(b"hello")
        assert q2.receive() == (b"hello", 0)
        q2.close()
    finally:
        q.close()


def test_open_missing_is_existential(qname):
    with pytest.raises(pmq.ExistentialError, match="does not exist"):
        pmq.MessageQueue(qname)


def test_crex_on_existing_is_existential(queue):
    with pytest.raises(pmq.ExistentialError, match="already exists"):
        pmq.MessageQueue(queue.name, pmq.O_CREX)
    # O_CREAT alone opens it.
    pmq.MessageQueue(queue.name, pmq.O_CREAT).close()


def test_attributes_apply_only_when_creating(queue):
    q2 = pmq.MessageQueue(queue.name, pmq.O_CREAT, max_messages=2, max_message_size=16)
    try:
        assert (q2.max_messages, q2.max_message_size) == (4, 128)
    finally:
        q2.close()


def test_defaults_are_the_system_limits(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREAT)
    try:
        assert q.max_messages == pmq.QUEUE_MESSAGES_MAX_DEFAULT
        assert q.max_message_size == pmq.QUEUE_MESSAGE_SIZE_MAX_DEFAULT
        assert q.mode == 0o600
        assert q.block is True
    finally:
        q.close()


def test_keyword_arguments_by_reference_names(qname):
    q = pmq.MessageQueue(name=qname, flags=pmq.O_CREX, mode=0o640, max_messages=3,
                         max_message_size=64, read=True, write=True)
    try:
        assert (q.name, q.mode, q.max_messages, q.max_message_size) == (qname, 0o640, 3, 64)
    finally:
        q.close()


@pytest.mark.skipif(not os.path.isdir("/dev/mqueue") or not os.path.exists("/proc/mounts")
                    or " /dev/mqueue " not in open("/proc/mounts").read(),
                    reason="the mqueue filesystem is not mounted at /dev/mqueue")
def test_mode_is_masked_by_umask(qname):
    old = os.umask(0o022)
    try:
        q = pmq.MessageQueue(qname, pmq.O_CREX, mode=0o666, **SMALL)
    finally:
        os.umask(old)
    try:
        assert q.mode == 0o666  # the mode given, like the reference
        st = os.stat("/dev/mqueue" + qname)
        assert stat.S_IMODE(st.st_mode) == 0o644
    finally:
        q.close()


def test_name_none_needs_o_excl():
    with pytest.raises(ValueError, match="O_EXCL"):
        pmq.MessageQueue(None)
    with pytest.raises(ValueError, match="O_EXCL"):
        pmq.MessageQueue(None, pmq.O_CREAT)


def test_random_names_are_fresh_and_valid():
    names = set()
    for _ in range(5):
        q = pmq.MessageQueue(None, pmq.O_CREX, max_messages=1, max_message_size=8)
        try:
            assert q.name.startswith("/") and "/" not in q.name[1:]
            assert len(q.name) > 8
            q.send(b"x")
            assert q.receive() == (b"x", 0)
            names.add(q.name)
        finally:
            q.close()
            q.unlink()
    assert len(names) == 5


def test_bytes_name(qname):
    q = pmq.MessageQueue(qname.encode(), pmq.O_CREX, **SMALL)
    try:
        assert q.name == qname and isinstance(q.name, str)
    finally:
        q.close()


@pytest.mark.parametrize("bad, cls, text", [
    ("noslash", ValueError, "start with '/'"),
    ("/", ValueError, "nothing after the slash"),
    ("/a/b", ValueError, "second '/'"),
    ("/" + "x" * 256, ValueError, "255"),
    ("/nul\0inside", ValueError, "NUL"),
    (b"/nul\0inside", ValueError, "NUL"),
    (5, TypeError, "Name must be None or a string"),
    (["/x"], TypeError, "Name must be None or a string"),
])
def test_bad_names(bad, cls, text):
    with pytest.raises(cls, match=text):
        pmq.MessageQueue(bad, pmq.O_CREAT, **SMALL)


def test_longest_name_works():
    name = "/" + "n" * 255
    unlink_quietly(name)
    q = pmq.MessageQueue(name, pmq.O_CREX, **SMALL)
    try:
        assert q.name == name
    finally:
        q.close()
        q.unlink()


@pytest.mark.parametrize("kwargs, cls, text", [
    (dict(max_messages=0), ValueError, "max_messages"),
    (dict(max_messages=-1), ValueError, "max_messages"),
    (dict(max_messages=10**6), ValueError, "msg_max"),
    (dict(max_messages=2**70), ValueError, "max_messages"),
    (dict(max_message_size=0), ValueError, "max_message_size"),
    (dict(max_message_size=10**9), ValueError, "msgsize_max"),
    (dict(max_messages="4"), TypeError, "max_messages must be an integer"),
    (dict(max_message_size=1.5), TypeError, "max_message_size must be an integer"),
    (dict(mode="0600"), TypeError, "mode must be an integer"),
    (dict(mode=-1), ValueError, "mode"),
    (dict(mode=0o10000), ValueError, "mode"),
    (dict(flags=12345678), ValueError, "flag"),
    (dict(flags=None), TypeError, "flags must be an integer"),
    (dict(read=False, write=False), ValueError, "read or write"),
])
def test_bad_parameters(qname, kwargs, cls, text):
    opts = dict(SMALL)
    opts.setdefault("flags", pmq.O_CREX)
    opts.update(kwargs)
    with pytest.raises(cls, match=text):
        pmq.MessageQueue(qname, **opts)
    with pytest.raises(pmq.ExistentialError):
        pmq.MessageQueue(qname)  # nothing was created


def test_read_only_and_write_only_handles(queue):
    r = pmq.MessageQueue(queue.name, read=True, write=False)
    w = pmq.MessageQueue(queue.name, read=False, write=True)
    try:
        with pytest.raises(pmq.PermissionsError, match="write=False"):
            r.send(b"x")
        with pytest.raises(pmq.PermissionsError, match="read=False"):
            w.receive(timeout=0)
        # posix_ipc's order: access first, then the priority's range and
        # the handle's state.
        with pytest.raises(pmq.PermissionsError):
            r.send(b"x", priority=-1)
        with pytest.raises(pmq.PermissionsError):
            r.send(b"x" * 1000)
        w.send(b"via w")
        assert r.receive() == (b"via w", 0)
        assert "read=True, write=False" in repr(r)
        assert "read=False, write=True" in repr(w)
        r.close()
        w.close()
        with pytest.raises(pmq.PermissionsError):
            r.send(b"x")
        with pytest.raises(pmq.PermissionsError):
            w.receive(timeout=0)
    finally:
        for h in (r, w):
            try:
                h.close()
            except pmq.ExistentialError:
                pass


def test_read_write_are_per_handle(queue):
    w = pmq.MessageQueue(queue.name, read=False)
    try:
        w.send(b"a")
        assert queue.receive() == (b"a", 0)  # the other handle still reads
    finally:
        w.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_permission_denied_by_mode(queue):
    # queue has mode 0600 and belongs to root; another user may not open it.
    import subprocess
    import sys
    code = ("import os, pmq\nos.setgid(65534); os.setuid(65534)\n"
            "try:\n    pmq.MessageQueue(%r)\nexcept pmq.PermissionsError as e:\n"
            "    print('PermissionsError', e)\n" % queue.name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("PermissionsError")


def test_too_many_queues_is_oserror_with_advice():
    # RLIMIT_MSGQUEUE (per user) is what runs out first; name it.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_MSGQUEUE)
    name = unique_name("limit")
    try:
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, hard))
        with pytest.raises(OSError) as info:
            pmq.MessageQueue(name, pmq.O_CREX, **SMALL)
        assert "RLIMIT_MSGQUEUE" in str(info.value) or "ulimit" in str(info.value)
    finally:
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (soft, hard))
        unlink_quietly(name)
