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
                 "QUEUE_MESSAGE_SIZE_MAX_DEFAULT", "QUEUE_PRIORITY_MAX"]:
        assert hasattr(pmq, name), name
        assert name in pmq.__all__
        assert name in dir(pmq)


def test_flag_values_are_the_os_ones():
    import os
    assert pmq.O_CREAT == os.O_CREAT
    assert pmq.O_EXCL == os.O_EXCL
    assert pmq.O_CREX == os.O_CREAT | os.O_EXCL


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
