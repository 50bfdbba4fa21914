"""send() and receive(): payloads, priorities, order, timeouts, block."""

import array
import fractions
import math
import threading

import warnings

import pytest

import pmq


def test_roundtrip_returns_bytes_and_priority(queue):
    queue.send(b"hello")
    msg, prio = queue.receive()
    assert (msg, prio) == (b"hello", 0)
    assert type(msg) is bytes and type(prio) is int


@pytest.mark.parametrize("payload", [b"", b"\0", b"a\0b\0", bytes(range(256))[:128], b"x" * 128])
def test_binary_payloads(queue, payload):
    queue.send(payload)
    assert queue.receive() == (payload, 0)


def test_str_is_sent_as_utf8(queue):
    queue.send("héllo €")
    assert queue.receive() == ("héllo €".encode("utf-8"), 0)


@pytest.mark.parametrize("make", [bytearray, memoryview, lambda b: array.array("B", b)])
def test_bytes_like_objects(queue, make):
    queue.send(make(b"bytes-like"))
    assert queue.receive() == (b"bytes-like", 0)


def test_multibyte_buffer_counts_bytes(queue):
    a = array.array("i", [1, 2, 3])
    queue.send(a)
    assert queue.receive()[0] == a.tobytes()


@pytest.mark.parametrize("bad", [None, 5, 1.5, object(), ["a"], {"a": 1}])
def test_non_buffer_message_is_type_error(queue, bad):
    with pytest.raises(TypeError, match="message must be bytes"):
        queue.send(bad)
    assert queue.current_messages == 0


def test_unencodable_str_is_value_error(queue):
    with pytest.raises(UnicodeEncodeError):
        queue.send("\udc80")
    assert queue.current_messages == 0


def test_too_long_is_value_error_and_sends_nothing(queue):
    with pytest.raises(ValueError, match="max_message_size of 128"):
        queue.send(b"x" * 129)
    assert queue.current_messages == 0


def test_priority_order_then_fifo(queue):
    queue.send(b"low-1", priority=1)
    queue.send(b"high", priority=10)
    queue.send(b"low-2", priority=1)
    queue.send(b"mid", priority=5)
    got = [queue.receive() for _ in range(4)]
    assert got == [(b"high", 10), (b"mid", 5), (b"low-1", 1), (b"low-2", 1)]


def test_priority_limits(queue):
    queue.send(b"top", priority=pmq.QUEUE_PRIORITY_MAX)
    assert queue.receive() == (b"top", pmq.QUEUE_PRIORITY_MAX)
    for bad in (-1, pmq.QUEUE_PRIORITY_MAX + 1, 2**63 - 1):
        with pytest.raises(ValueError, match="QUEUE_PRIORITY_MAX"):
            queue.send(b"x", priority=bad)
    # Beyond a C long: ValueError too (posix_ipc raises OverflowError there),
    # so `except ValueError` catches every out-of-range priority.
    for bad in (2**63, 2**64, -2**63 - 1):
        with pytest.raises(ValueError, match="QUEUE_PRIORITY_MAX") as e:
            queue.send(b"x", priority=bad)
        assert not isinstance(e.value, OverflowError)
    with pytest.raises(TypeError, match="priority must be an integer"):
        queue.send(b"x", priority=1.0)
    assert queue.current_messages == 0


def test_timeout_zero_is_try_once(queue):
    with pytest.raises(pmq.BusyError, match="empty"):
        queue.receive(timeout=0)
    for i in range(queue.max_messages):
        queue.send(b"%d" % i, timeout=0)
    with pytest.raises(pmq.BusyError, match="full"):
        queue.send(b"overflow", timeout=0)
    assert queue.current_messages == queue.max_messages


def test_positive_timeout_expires_with_busy_error(queue):
    with pytest.raises(pmq.BusyError, match="timeout"):
        queue.receive(timeout=0.05)
    for i in range(queue.max_messages):
        queue.send(b"x")
    with pytest.raises(pmq.BusyError, match="timeout"):
        queue.send(b"x", timeout=0.05)


def test_timeout_accepts_int_and_number_like(queue):
    import decimal
    import fractions
    queue.send(b"a", timeout=1)
    queue.send(b"b", timeout=fractions.Fraction(1, 2))
    queue.send(b"c", timeout=decimal.Decimal("0.5"))
    assert [queue.receive(timeout=1)[0] for _ in range(3)] == [b"a", b"b", b"c"]


def test_huge_and_infinite_timeouts_wait(queue):
    queue.send(b"a", timeout=1e300)
    queue.send(b"b", timeout=math.inf)
    queue.send(b"c", timeout=10**400)
    queue.send(b"d", timeout=1e12)  # given to libpmq as it is
    assert queue.receive(timeout=math.inf) == (b"a", 0)
    assert queue.receive(timeout=1e300) == (b"b", 0)
    assert queue.receive(timeout=10**400) == (b"c", 0)
    assert queue.receive(timeout=1e12) == (b"d", 0)


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, -math.inf])
def test_negative_or_nan_timeout_is_value_error(queue, bad):
    with pytest.raises(ValueError, match="timeout"):
        queue.receive(timeout=bad)
    with pytest.raises(ValueError, match="timeout"):
        queue.send(b"x", timeout=bad)
    assert queue.current_messages == 0


def outcome_within(call, unblock, wait=5):
    """Runs call() in a thread and returns ("returned", value) or ("raised",
    exception). A call still waiting after `wait` seconds fails the test
    instead of hanging it: unblock() then lets it finish."""
    outcome = []

    def run():
        try:
            outcome.append(("returned", call()))
        except BaseException as e:
            outcome.append(("raised", e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(wait)
    if t.is_alive():
        unblock()
        t.join(wait)
        pytest.fail("the call was still waiting after %s s: %r" % (wait, outcome))
    return outcome[0]


# Too large for a double: float() of these raises OverflowError.
HUGE = [10**400, 2**1024, fractions.Fraction(10**400)]


@pytest.mark.parametrize("op", ["receive", "send"])
@pytest.mark.parametrize("huge", HUGE, ids=["10**400", "2**1024", "Fraction(10**400)"])
def test_negative_timeout_too_large_for_a_float_is_value_error(queue, huge, op):
    # Was: the OverflowError became +inf whatever the sign, so these waited forever.
    bad = -huge
    if op == "receive":  # on an empty queue: a receive that waits blocks
        call, unblock = (lambda: queue.receive(timeout=bad)), (lambda: queue.send(b"unblock"))
    else:  # on a full queue: a send that waits blocks
        for _ in range(queue.max_messages):
            queue.send(b"fill")
        call, unblock = (lambda: queue.send(b"x", timeout=bad)), queue.receive
    kind, what = outcome_within(call, unblock)
    assert kind == "raised" and isinstance(what, ValueError), (kind, what)
    assert "timeout" in str(what)


@pytest.mark.parametrize("huge", HUGE, ids=["10**400", "2**1024", "Fraction(10**400)"])
def test_positive_timeout_too_large_for_a_float_waits_like_none(queue, huge):
    # posix_ipc 1.3.2 raises TypeError("The timeout must be None or a
    # non-negative number") for any int of 2**63 or more (its conversion to a
    # C long overflows), and ExistentialError for a float above about 9.2e18.
    # pmq waits like None, as it does for every timeout above 10**15 s
    # (1e300, inf): a longer-than-forever timeout is still a valid one.
    got = []
    t = threading.Thread(target=lambda: got.append(queue.receive(timeout=huge)), daemon=True)
    t.start()
    t.join(0.3)
    assert t.is_alive() and got == []  # it waits on the empty queue
    queue.send(b"late")
    t.join(5)
    assert got == [(b"late", 0)]
    for _ in range(queue.max_messages):
        queue.send(b"fill")
    t = threading.Thread(target=lambda: got.append(queue.send(b"last", timeout=huge)), daemon=True)
    t.start()
    t.join(0.3)
    assert t.is_alive()  # it waits on the full queue
    queue.receive()
    t.join(5)
    assert got[1:] == [None] and queue.current_messages == queue.max_messages


@pytest.mark.parametrize("bad", ["1", b"1", object(), [1]])
def test_non_number_timeout_is_type_error(queue, bad):
    with pytest.raises(TypeError, match="timeout"):
        queue.receive(timeout=bad)
    with pytest.raises(TypeError, match="timeout"):
        queue.send(b"x", timeout=bad)


def test_timeout_none_waits_for_a_sender(queue):
    t = threading.Timer(0.1, queue.send, args=(b"late",))
    t.start()
    try:
        assert queue.receive(timeout=None) == (b"late", 0)
    finally:
        t.join()


def test_blocked_sender_proceeds_when_room(queue):
    for _ in range(queue.max_messages):
        queue.send(b"fill")
    t = threading.Timer(0.1, queue.receive)
    t.start()
    try:
        queue.send(b"last", timeout=30)
    finally:
        t.join()
    assert queue.current_messages == queue.max_messages


def test_block_false_makes_every_call_try_once(queue):
    assert queue.block is True
    queue.block = False
    assert queue.block is False
    with pytest.raises(pmq.BusyError):
        queue.receive()
    with pytest.raises(pmq.BusyError):
        queue.receive(timeout=5)  # whatever the timeout
    for _ in range(queue.max_messages):
        queue.send(b"x")
    with pytest.raises(pmq.BusyError):
        queue.send(b"x")
    queue.block = True
    assert queue.block is True
    assert queue.receive() == (b"x", 0)


def test_block_is_per_handle(queue):
    other = pmq.MessageQueue(queue.name)
    try:
        other.block = False
        assert queue.block is True
        with pytest.raises(pmq.BusyError):
            other.receive()
    finally:
        other.close()


def test_block_takes_truthiness_like_the_reference(queue):
    queue.block = 0
    assert queue.block is False
    queue.block = "yes"
    assert queue.block is True
    queue.block = None
    assert queue.block is False


def test_exceptions_carry_status_and_detail(queue):
    with pytest.raises(pmq.BusyError) as info:
        queue.receive(timeout=0)
    e = info.value
    assert e.pmq_status_name == "PMQ_STATUS_WOULD_BLOCK"
    assert e.pmq_status == 1
    assert "empty" in str(e)


def test_receive_in_many_threads_gets_each_message_once(make_queue):
    q = make_queue(max_messages=4, max_message_size=16)
    got = []
    lock = threading.Lock()

    def worker():
        while True:
            msg, _ = q.receive(timeout=30)
            if msg == b"end":
                return
            with lock:
                got.append(msg)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(200):
        q.send(b"%d" % i)
    for _ in threads:
        q.send(b"end")
    for t in threads:
        t.join()
    assert sorted(got, key=int) == [b"%d" % i for i in range(200)]


@pytest.mark.parametrize("call, text", [
    (lambda q: q.send(), "missing required argument 'message'"),
    (lambda q: q.send(b"x", 1, 2, 3), "at most 3 arguments"),
    (lambda q: q.send(b"x", bogus=1), "unexpected keyword argument 'bogus'"),
    (lambda q: q.send(b"x", 1, timeout=1), "multiple values for argument 'timeout'"),
    (lambda q: q.send(message=b"x", priority=1, timeout=0, extra=None), "unexpected keyword"),
    (lambda q: q.receive(1, 2), "at most 1 arguments"),
    (lambda q: q.receive(wait=1), "unexpected keyword argument 'wait'"),
    (lambda q: q.receive(0, timeout=0), "multiple values"),
])
def test_bad_call_signatures_are_type_errors(queue, call, text):
    with pytest.raises(TypeError, match=text):
        call(queue)
    assert queue.current_messages == 0


def test_all_keywords(queue):
    queue.send(message=b"kw", timeout=1, priority=3)
    assert queue.receive(timeout=1) == (b"kw", 3)
    queue.send(b"pos", 1, 4)
    assert queue.receive(1) == (b"pos", 4)


def test_bytes_subclass_and_large_buffer(make_queue):
    class B(bytes):
        pass

    q = make_queue(max_messages=2, max_message_size=8192)
    q.send(B(b"sub"))
    assert q.receive() == (b"sub", 0)
    big = bytes(range(256)) * 32  # 8192 bytes: the largest message
    q.send(big)
    assert q.receive() == (big, 0)


def test_receive_buffer_larger_than_the_stack_buffer(qname):
    # Receives of more than 16 KiB use a heap buffer. The kernel's default
    # msgsize_max (8 KiB) allows no such queue, so this runs on the
    # shared-memory backend, which has no such limit (the buffer code is
    # the same for both).
    import os
    size = 256 * 1024
    q = pmq.MessageQueue(qname, pmq.O_CREX, max_messages=1, max_message_size=size,
                         backend="shm")
    try:
        payload = os.urandom(size)
        q.send(payload)
        assert q.receive() == (payload, 0)
    finally:
        q.close()
        pmq.unlink_message_queue(qname, backend="shm")


@pytest.mark.parametrize("close_first", [True, False])
def test_send_and_receive_on_a_freed_handle_do_not_crash(qname, close_first):
    q = pmq.MessageQueue(qname, pmq.O_CREX, max_messages=1, max_message_size=8)
    if close_first:
        q.close()  # releases the libpmq handle at once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        q.__del__()  # frees the libpmq handle if close() did not; the object lives on
    # A closed queue says so; one freed without close() has no handle at all.
    cls = pmq.ExistentialError if close_first else ValueError
    with pytest.raises(cls):
        q.send(b"x")
    with pytest.raises(cls):
        q.receive(0)
    with pytest.raises(cls):
        q.send_batch([b"x"])
    with pytest.raises(cls):
        q.receive_batch(3, 0)
