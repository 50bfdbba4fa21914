"""Properties, fileno, str/repr, and the read-only rules."""

import os
import select

import pytest

import pmq
from conftest import PY_PREFIX


def test_properties(make_queue):
    q = make_queue(mode=0o640, max_messages=3, max_message_size=64)
    assert q.name.startswith(PY_PREFIX)
    assert q.mode == 0o640
    assert (q.max_messages, q.max_message_size) == (3, 64)
    assert q.current_messages == 0
    q.send(b"a")
    q.send(b"b")
    assert q.current_messages == 2
    q.receive()
    assert q.current_messages == 1


def test_mqd_and_fileno_are_the_descriptor(queue):
    fd = queue.fileno()
    assert fd == queue.mqd
    assert isinstance(fd, int) and fd >= 0
    assert os.readlink("/proc/self/fd/%d" % fd).endswith(queue.name)


def test_descriptor_works_with_select_and_poll(queue):
    r, w, _ = select.select([queue], [queue], [], 0)  # uses fileno()
    assert r == [] and w == [queue]
    queue.send(b"x")
    r, _, _ = select.select([queue], [], [], 0)
    assert r == [queue]
    p = select.poll()
    p.register(queue.mqd, select.POLLIN)
    assert p.poll(0) == [(queue.mqd, select.POLLIN)]
    for _ in range(queue.max_messages - 1):
        queue.send(b"x")
    _, w, _ = select.select([], [queue], [], 0)
    assert w == []  # full: not writable


@pytest.mark.parametrize("attr", ["name", "mode", "mqd", "max_messages", "max_message_size",
                                  "current_messages"])
def test_read_only_properties(queue, attr):
    before = getattr(queue, attr)
    with pytest.raises(AttributeError):
        setattr(queue, attr, 1)
    with pytest.raises(AttributeError):
        delattr(queue, attr)
    assert getattr(queue, attr) == before


def test_deleting_block_is_a_clean_error(queue):
    with pytest.raises(AttributeError, match="cannot be deleted"):
        del queue.block
    assert queue.block is True


def test_no_new_attributes(queue):
    with pytest.raises(AttributeError):
        queue.nonexistent = 1


def test_str_has_name_and_message_count(queue):
    queue.send(b"x")
    s = str(queue)
    assert queue.name in s
    assert "1 of 4 messages" in s


def test_repr_has_class_and_attributes(make_queue):
    q = make_queue(mode=0o640, max_messages=3, max_message_size=64, write=False, flags=pmq.O_CREX)
    r = repr(q)
    assert r == ("pmq.MessageQueue(%r, mode=0o640, max_message_size=64, max_messages=3, "
                 "read=True, write=False)" % q.name)


def test_str_and_repr_after_close(queue):
    queue.close()
    assert queue.name in str(queue) and "closed" in str(queue)
    assert queue.name in repr(queue)
