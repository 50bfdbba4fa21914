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


def unique_name(tag="q"):
    return "/pmq-py-%s-%d-%d" % (tag, os.getpid(), next(_counter))


def unlink_quietly(name):
    try:
        pmq.unlink_message_queue(name)
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
    given); every queue is closed and unlinked after the test."""
    made = []

    def make(name=None, flags=pmq.O_CREX, **kwargs):
        opts = dict(SMALL)
        opts.update(kwargs)
        q = pmq.MessageQueue(name or unique_name(), flags, **opts)
        made.append(q)
        return q

    yield make
    for q in made:
        try:
            q.close()
        except pmq.ExistentialError:
            pass
        unlink_quietly(q.name)


@pytest.fixture
def queue(make_queue):
    return make_queue()
