"""A name with a NUL byte (str or bytes) is refused with ValueError on both
backends, by every call taking a name: C would cut it at the NUL and act on
another queue ("/victim\\0junk" is "/victim")."""

import pytest

import pmq
from conftest import SMALL, unique_name


@pytest.mark.parametrize("backend", ["kernel", "shm"])
def test_nul_in_a_name_never_reaches_another_queue(backend):
    victim = unique_name("nul-" + backend)
    q = pmq.MessageQueue(victim, pmq.O_CREX, backend=backend, **SMALL)
    try:
        q.send(b"keep")
        for bad in (victim + "\0junk", victim.encode() + b"\0junk", bytearray(victim.encode() + b"\0")):
            for call in (lambda: pmq.MessageQueue(bad, backend=backend),
                         lambda: pmq.MessageQueue(bad, pmq.O_CREAT, backend=backend, **SMALL),
                         lambda: pmq.unlink_message_queue(bad, backend=backend)):
                with pytest.raises(ValueError, match="NUL"):
                    call()
        assert q.current_messages == 1
        pmq.MessageQueue(victim, backend=backend).close()  # still there
    finally:
        q.close()
        pmq.unlink_message_queue(victim, backend=backend)
