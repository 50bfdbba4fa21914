"""Shared fixtures. Kernel queue limits are tiny and shared by everything
running on the machine, so test queues are small, uniquely named (pid +
counter) and always unlinked, even when a test fails."""

import itertools
import os

import pytest

import pmq

_counter = itertools.count()

# Small enough that dozens fit in RLIMIT_MSGQUEUE (800 KiB per user).
SMALL = dict(max_messages=4, max_message_size=128)


def test_prefix():
    """The per-run prefix of test queue names: PMQ_TEST_PREFIX (make test
    exports pmqt-<random> and, at the end, looks for leftovers of exactly
    those names), else "pmq"."""
    p = os.environ.get("PMQ_TEST_PREFIX", "")
    if not p:
        return "pmq"
    if len(p) > 32 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in p):
        raise SystemExit(
            "PMQ_TEST_PREFIX=%r is not a queue name prefix: use at most 32 letters, digits, "
            "- and _ (e.g. pmqt-1a2b3c4d), or unset it" % p
        )
    return p


# Every name this suite's tests create starts with this.
PY_PREFIX = "/%s-py-" % test_prefix()


def unique_name(tag="q"):
    return "%s%s-%d-%d" % (PY_PREFIX, tag, os.getpid(), next(_counter))


def unlink_quietly(name, backend="kernel"):
    try:
        pmq.unlink_message_queue(name, backend=backend)
    except pmq.ExistentialError:
        pass


@pytest.fixture
def qname():
    """A fresh queue name, unlinked after the test."""
    name = unique_name()
    yield name
    unlink_quietly(name)


@pytest.fixture
def make_queue():
    """make_queue(**kwargs) creates a small queue (O_CREX, unique name unless
    given, on backend= when given); every queue is closed and unlinked (on
    its backend) after the test."""
    made = []

    def make(name=None, flags=pmq.O_CREX, tag="q", backend="kernel", **kwargs):
        opts = dict(SMALL)
        opts.update(kwargs)
        q = pmq.MessageQueue(name or unique_name(tag), flags, backend=backend, **opts)
        made.append((q, backend))
        return q

    yield make
    for q, backend in made:
        try:
            q.close()
        except pmq.ExistentialError:
            pass
        unlink_quietly(q.name, backend)


@pytest.fixture
def queue(make_queue):
    return make_queue()


# ------------------------------------------------------------ skips
# A skip is printed and counted; one not listed here fails the run, so a test
# that silently stops running is seen. Each entry: (test id prefix, when it
# is allowed). CI runs as root with /dev/mqueue mounted and posix_ipc
# installed: only the first may skip there, when shared/ is not beside the
# checkout.
EXPECTED_SKIPS = [
    ("tests/test_examples.py::test_examples_are_the_reference_ones",
     "shared/reference/message-queues.md not beside the checkout"),
    ("tests/test_open.py::test_mode_is_masked_by_umask", "mqueue not mounted at /dev/mqueue"),
    ("tests/test_open.py::test_permission_denied_by_mode", "not root"),
]
if not os.environ.get("PMQ_POSIX_IPC_SRC"):
    # pytest run by hand, not by make test-python (which always sets it).
    EXPECTED_SKIPS.append(("tests/test_posix_ipc_suite.py::",
                           "posix_ipc's source not downloaded"))
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    unexpected = [n for n in _skipped if not any(n.startswith(p) for p, _ in EXPECTED_SKIPS)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("pmq: %d skipped (%d expected)" % (len(_skipped),
                                                             len(_skipped) - len(unexpected)))
        for n in unexpected:
            reporter.write_line("pmq: UNEXPECTED SKIP %s (add it to EXPECTED_SKIPS in "
                                "tests/conftest.py with the reason, or make it run)" % n)
    if unexpected and session.exitstatus == 0:
        session.exitstatus = 1
