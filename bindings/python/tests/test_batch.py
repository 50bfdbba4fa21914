"""send_batch() and receive_batch() on both backends: what send() and
receive() do, for many messages in one call: payload types, priority order
then FIFO, a partial batch on a full queue, every message checked before
anything is sent (same exceptions as send(), naming the message), the
timeout/block rules for the first message, the GIL released while waiting,
references held while it is released, and the bounds of a batch receive."""

import array
import gc
import math
import threading
import time

import pytest

import pmq
from test_messages import outcome_within

BACKENDS = ["kernel", "shm"]


@pytest.fixture(params=BACKENDS)
def bq(request, make_queue):
    """bq(**kwargs) creates a queue (4 x 64 bytes unless told) on the
    backend of the parameter; every queue is closed and unlinked after."""

    def make(max_messages=4, max_message_size=64, **kwargs):
        return make_queue(tag="batch", backend=request.param, max_messages=max_messages,
                          max_message_size=max_message_size, **kwargs)

    make.backend = request.param
    return make


def other(q, **kwargs):
    return pmq.MessageQueue(q.name, backend=q.backend, **kwargs)


def test_payload_types_priorities_and_order(bq):
    q = bq(max_messages=8)
    batch = [b"a1", (b"", 5), ("h\xe9llo \u20ac", 1), (bytearray(b"b1\0x"), 1),
             memoryview(b"xxbig")[2:], (array.array("B", b"c0"), 0), (b"\xff" * 64, 5)]
    assert q.send_batch(batch) == 7
    assert q.current_messages == 7
    got = q.receive_batch(8, timeout=0)
    assert got == [(b"", 5), (b"\xff" * 64, 5), ("h\xe9llo \u20ac".encode(), 1),
                   (b"b1\0x", 1), (b"a1", 0), (b"big", 0), (b"c0", 0)]
    assert all(type(m) is bytes and type(p) is int for m, p in got)
    assert q.current_messages == 0


def test_receive_batch_returns_what_receive_would(bq):
    q = bq(max_messages=6)
    for i, prio in enumerate([3, 1, 3, 0, 7, 1]):
        q.send(b"m%d" % i, priority=prio)
    twin = bq(max_messages=6)
    for i, prio in enumerate([3, 1, 3, 0, 7, 1]):
        twin.send(b"m%d" % i, priority=prio)
    expected = [twin.receive() for _ in range(6)]
    assert q.receive_batch(6) == expected


def test_a_tuple_and_any_sequence_work(bq):
    q = bq()
    assert q.send_batch((b"t1", b"t2")) == 2
    assert q.send_batch(m for m in [b"g1"]) == 1  # any iterable, taken as a list
    assert [m for m, _ in q.receive_batch(4)] == [b"t1", b"t2", b"g1"]


def test_a_full_queue_takes_part_of_a_batch_and_says_how_much(bq):
    q = bq(max_messages=4, max_message_size=16)
    batch = [b"%d" % i for i in range(6)]
    assert q.send_batch(batch, timeout=0) == 4
    with pytest.raises(pmq.BusyError):
        q.send_batch(batch[4:], timeout=0)
    assert q.receive_batch(2) == [(b"0", 0), (b"1", 0)]
    assert q.send_batch(batch[4:], timeout=0) == 2
    assert q.receive_batch(10, timeout=0) == [(b"%d" % i, 0) for i in range(2, 6)]


def test_batches_larger_than_the_stack_arrays(bq):
    # More than 32 messages (the stack arrays' size) take the PyMem path.
    if bq.backend == "kernel":  # at most fs.mqueue.msg_max (10) messages
        q = bq(max_messages=8, max_message_size=8)
        batch = [b"%d" % i for i in range(100)]
        assert q.send_batch(batch, timeout=0) == 8  # all 100 checked, 8 fit
        assert q.receive_batch(100) == [(b"%d" % i, 0) for i in range(8)]
    else:
        q = bq(max_messages=100, max_message_size=8)
        batch = [(b"%d" % i, i % 3) for i in range(100)]
        assert q.send_batch(batch) == 100
        got = q.receive_batch(1000)
        assert len(got) == 100
        assert got == sorted(batch, key=lambda mp: -mp[1])  # sorted() is stable: FIFO kept


def test_empty_batches(bq):
    q = bq()
    assert q.send_batch([]) == 0
    assert q.receive_batch(0) == []
    assert q.current_messages == 0
    q.send(b"x")
    assert q.receive_batch(0, timeout=0) == []  # takes nothing
    assert q.current_messages == 1


def test_every_message_is_checked_before_anything_is_sent(bq):
    q = bq()
    prio_max = pmq.QUEUE_PRIORITY_MAX
    cases = [
        ([b"ok", b"x" * 65], ValueError, "message 1 of the batch"),
        ([b"ok", b"ok", 5], TypeError, r"message must be bytes.*message 2 of the batch"),
        ([b"ok", None], TypeError, "not NoneType"),
        ([b"ok", [b"list"]], TypeError, "not list"),
        ([(b"ok", 1), (b"x", -1)], ValueError, r"QUEUE_PRIORITY_MAX.*message 1 of the batch"),
        ([(b"x", prio_max + 1)], ValueError, "QUEUE_PRIORITY_MAX"),
        ([(b"x", 1.0)], TypeError, r"priority must be an integer.*message 0"),
        ([(b"x",)], TypeError, "tuple of 1 items"),
        ([(b"x", 1, 2)], TypeError, "tuple of 3 items"),
    ]
    for batch, exc, text in cases:
        with pytest.raises(exc, match=text):
            q.send_batch(batch)
        assert q.current_messages == 0, batch
    # Beyond a C long: ValueError, as send() raises (never OverflowError).
    for bad in (2**63, -2**63 - 1):
        with pytest.raises(ValueError, match="QUEUE_PRIORITY_MAX") as e:
            q.send_batch([b"ok", (b"x", bad)])
        assert not isinstance(e.value, OverflowError)
    with pytest.raises(UnicodeEncodeError):
        q.send_batch(["fine", "\udc80"])
    assert q.current_messages == 0
    q.send_batch([(b"top", prio_max)])
    assert q.receive() == (b"top", prio_max)


@pytest.mark.parametrize("bad", ["text", b"bytes", bytearray(b"ab"), memoryview(b"ab"), 5, None])
def test_messages_must_be_a_sequence_of_messages(bq, bad):
    q = bq()
    with pytest.raises(TypeError, match="sequence of messages"):
        q.send_batch(bad)
    assert q.current_messages == 0


def test_max_messages_is_checked_and_clamped(bq):
    q = bq(max_messages=4, max_message_size=16)
    for bad in (-1, -2**100):
        with pytest.raises(ValueError, match="max_messages must be 0 or more"):
            q.receive_batch(bad)
    for bad in (1.0, "3", None, object()):
        with pytest.raises(TypeError, match="max_messages must be an integer"):
            q.receive_batch(bad)
    q.send_batch([b"1", b"2", b"3", b"4"])
    # Huge counts mean "as many as there are" (at most the capacity).
    assert len(q.receive_batch(2**100)) == 4
    q.send_batch([b"1", b"2"])
    assert len(q.receive_batch(2**63 - 1, timeout=0)) == 2
    q.send(b"t")
    assert q.receive_batch(True) == [(b"t", 0)]


def test_timeout_zero_tries_once_and_positive_timeouts_expire(bq):
    q = bq(max_messages=2, max_message_size=16)
    with pytest.raises(pmq.BusyError, match="empty"):
        q.receive_batch(4, timeout=0)
    with pytest.raises(pmq.BusyError, match="timeout"):
        q.receive_batch(4, timeout=0.05)
    q.send_batch([b"a", b"b"])
    with pytest.raises(pmq.BusyError, match="full"):
        q.send_batch([b"c"], timeout=0)
    t0 = time.monotonic()
    with pytest.raises(pmq.BusyError, match="timeout"):
        q.send_batch([b"c"], timeout=0.05)
    assert time.monotonic() - t0 >= 0.05
    assert q.current_messages == 2


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, -math.inf, -10**400])
def test_negative_or_nan_timeout_is_value_error(bq, bad):
    q = bq()
    with pytest.raises(ValueError, match="timeout"):
        q.send_batch([b"x"], timeout=bad)
    with pytest.raises(ValueError, match="timeout"):
        q.receive_batch(1, timeout=bad)
    assert q.current_messages == 0


@pytest.mark.parametrize("bad", ["1", b"1", object(), [1]])
def test_non_number_timeout_is_type_error(bq, bad):
    q = bq()
    with pytest.raises(TypeError, match="timeout"):
        q.send_batch([b"x"], timeout=bad)
    with pytest.raises(TypeError, match="timeout"):
        q.receive_batch(1, timeout=bad)
    assert q.current_messages == 0


def test_huge_timeouts_wait_like_none(bq):
    q = bq()
    assert q.send_batch([b"a"], timeout=math.inf) == 1
    assert q.send_batch([b"b"], timeout=10**400) == 1
    assert q.receive_batch(4, timeout=1e300) == [(b"a", 0), (b"b", 0)]


def test_block_false_makes_every_batch_try_once(bq):
    q = bq(max_messages=2, max_message_size=16)
    q.block = False
    with pytest.raises(pmq.BusyError):
        q.receive_batch(2)
    with pytest.raises(pmq.BusyError):
        q.receive_batch(2, timeout=5)  # whatever the timeout
    assert q.send_batch([b"1", b"2", b"3"]) == 2
    with pytest.raises(pmq.BusyError):
        q.send_batch([b"3"])
    with pytest.raises(pmq.BusyError):
        q.send_batch([b"3"], timeout=5)
    q.block = True
    assert q.receive_batch(5) == [(b"1", 0), (b"2", 0)]


def test_a_blocking_receive_batch_waits_for_the_first_message(bq):
    # The sender is another thread: it can run only if the waiting call
    # released the GIL.
    q = bq()
    sender = other(q)
    try:
        threading.Timer(0.1, lambda: sender.send_batch([(b"late", 3), b"later"])).start()
        kind, got = outcome_within(lambda: q.receive_batch(4, timeout=None),
                                   lambda: sender.send(b"unblock"))
        assert kind == "returned", got
        # Whatever was there when the first one came: one or both.
        assert got[0] == (b"late", 3) and len(got) in (1, 2)
        rest = q.receive_batch(4, timeout=5) if len(got) == 1 else []
        assert got + rest == [(b"late", 3), (b"later", 0)]
    finally:
        sender.close()


def test_a_blocking_send_batch_waits_for_room_then_sends_what_fits(bq):
    q = bq(max_messages=2, max_message_size=16)
    q.send_batch([b"f1", b"f2"])
    threading.Timer(0.1, lambda: q.receive(timeout=0)).start()
    kind, sent = outcome_within(lambda: q.send_batch([b"n1", b"n2", b"n3"], timeout=30),
                                lambda: q.receive(timeout=0))
    assert (kind, sent) == ("returned", 1)
    assert q.receive_batch(2) == [(b"f2", 0), (b"n1", 0)]


def test_messages_stay_valid_while_the_call_waits(bq):
    # While send_batch waits (GIL released), another thread empties the list
    # and drops its messages; what is sent must still be the original bytes.
    # A bytearray being sent cannot be resized meanwhile (its view is held).
    q = bq(max_messages=2, max_message_size=64)
    q.send_batch([b"f1", b"f2"])
    grow = bytearray(b"bytearray")
    batch = [bytes(b"%d-" % i) * 8 for i in range(2)] + [grow]
    expected = [bytes(m) for m in batch]
    result = []
    t = threading.Thread(target=lambda: result.append(q.send_batch(batch, timeout=30)))
    t.start()
    time.sleep(0.2)
    batch.clear()
    gc.collect()
    with pytest.raises(BufferError):
        grow.extend(b"more")
    assert len(q.receive_batch(2)) == 2  # room for two
    t.join(10)
    # The waiting batch sends once there is room for its first message: on
    # the kernel backend the receive above is two mq_receive calls, so the
    # sender may wake between them and find room for one only.
    assert len(result) == 1 and result[0] in (1, 2), result
    n = result[0]
    assert [m for m, _ in q.receive_batch(2)] == expected[:n]
    grow.extend(b"more")  # released after the call
    assert q.send_batch([grow]) == 1
    assert q.receive() == (b"bytearraymore", 0)


def test_close_wakes_a_waiting_batch(bq):
    q = bq()
    waiter = other(q)
    threading.Timer(0.1, waiter.close).start()
    kind, what = outcome_within(lambda: waiter.receive_batch(4), lambda: q.send(b"unblock"))
    assert kind == "raised" and isinstance(what, pmq.ExistentialError), (kind, what)


def test_access_is_checked_before_priority_and_state(bq):
    q = bq()
    ro = other(q, write=False)
    wo = other(q, read=False)
    try:
        with pytest.raises(pmq.PermissionsError, match="write=False"):
            ro.send_batch([(b"x", -1)])
        with pytest.raises(pmq.PermissionsError, match="read=False"):
            wo.receive_batch(1)
        wo.close()
        with pytest.raises(pmq.PermissionsError):
            wo.receive_batch(1)  # a write-only handle, even closed
    finally:
        ro.close()
    with pytest.raises(pmq.PermissionsError):
        ro.send_batch([b"x"])  # a read-only handle, even closed
    q.close()
    with pytest.raises(ValueError, match="QUEUE_PRIORITY_MAX"):
        q.send_batch([(b"x", -1)])  # as send(): priority before the handle's state
    for f in (lambda: q.send_batch([b"x"]), lambda: q.send_batch([]), lambda: q.receive_batch(1),
              lambda: q.receive_batch(0)):
        with pytest.raises(pmq.ExistentialError):
            f()


@pytest.mark.parametrize("call, text", [
    (lambda q: q.send_batch(), "missing required argument 'messages'"),
    (lambda q: q.send_batch([], 1, 2), "at most 2 arguments"),
    (lambda q: q.send_batch([], priority=1), "unexpected keyword argument 'priority'"),
    (lambda q: q.send_batch([], 1, timeout=1), "multiple values for argument 'timeout'"),
    (lambda q: q.receive_batch(), "missing required argument 'max_messages'"),
    (lambda q: q.receive_batch(1, 2, 3), "at most 2 arguments"),
    (lambda q: q.receive_batch(1, wait=1), "unexpected keyword argument 'wait'"),
])
def test_bad_call_signatures_are_type_errors(bq, call, text):
    q = bq()
    with pytest.raises(TypeError, match=text):
        call(q)
    assert q.current_messages == 0


def test_keywords(bq):
    q = bq()
    assert q.send_batch(messages=[(b"kw", 2)], timeout=1) == 1
    assert q.receive_batch(max_messages=3, timeout=1) == [(b"kw", 2)]


def test_kernel_batches_are_ordinary_messages_for_posix_ipc(qname):
    posix_ipc = pytest.importorskip("posix_ipc")
    theirs = posix_ipc.MessageQueue(qname, posix_ipc.O_CREX, max_messages=4, max_message_size=32)
    try:
        mine = pmq.MessageQueue(qname)
        assert mine.send_batch([b"one", (b"two", 2)]) == 2
        assert theirs.receive() == (b"two", 2)
        assert theirs.receive() == (b"one", 0)
        theirs.send(b"three", priority=1)
        theirs.send(b"four")
        assert mine.receive_batch(4) == [(b"three", 1), (b"four", 0)]
        mine.close()
    finally:
        theirs.close()
        theirs.unlink()


def test_kernel_receive_batch_needs_a_full_slot_per_message(make_queue):
    # The kernel backend packs another message only where max_message_size
    # bytes are left; the buffer pmq gives it has room for all of max_messages.
    q = make_queue(max_messages=8, max_message_size=8192)
    assert q.send_batch([b"%d" % i for i in range(8)]) == 8
    assert q.receive_batch(8) == [(b"%d" % i, 0) for i in range(8)]


def test_shm_receive_batch_is_bounded_by_a_1_mib_buffer(qname):
    # 20 full 64 KiB messages: a 1 MiB buffer holds 16, so one batch takes
    # 16 even when asked for more, and the next takes the rest.
    size = 64 * 1024
    q = pmq.MessageQueue(qname, pmq.O_CREX, max_messages=20, max_message_size=size,
                         backend="shm")
    try:
        msgs = [bytes([i]) * size for i in range(20)]
        assert q.send_batch(msgs) == 20
        first = q.receive_batch(100)
        assert len(first) == 16
        rest = q.receive_batch(100)
        assert [m for m, _ in first + rest] == msgs
        # Small messages are packed by length: all of them fit at once.
        assert q.send_batch([b"s%d" % i for i in range(20)]) == 20
        assert len(q.receive_batch(20)) == 20
    finally:
        q.close()
        pmq.unlink_message_queue(qname, backend="shm")
