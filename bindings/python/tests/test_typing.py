"""The type stubs (pmq/__init__.pyi, PEP 561 py.typed) describe the
installed package: mypy's stubtest compares them with the runtime (every
public name, every signature), mypy --strict accepts a typed program using
the whole public API and rejects the misuses it lists, and that program
runs. Also: every public name has a docstring."""

import inspect
import os
import subprocess
import sys

import pytest

import pmq

pytest.importorskip("mypy", reason="pip install mypy (make test-python installs it)")

HERE = os.path.dirname(os.path.abspath(__file__))
USAGE = os.path.join(HERE, "typing", "typed_usage.py")
PKG = os.path.dirname(os.path.abspath(pmq.__file__))


def mypy(args, tmp_path):
    # From a temp dir: the installed package is checked, not the source tree.
    return subprocess.run([sys.executable, "-m"] + args, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=600)


def test_the_package_is_typed():
    assert os.path.isfile(os.path.join(PKG, "py.typed"))
    assert os.path.isfile(os.path.join(PKG, "__init__.pyi"))


def test_stubs_match_the_runtime(tmp_path):
    r = mypy(["mypy.stubtest", "--mypy-config-file", os.devnull, "pmq"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_typed_usage_passes_mypy_strict(tmp_path):
    r = mypy(["mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "--config-file",
              os.devnull, USAGE], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_typed_usage_runs(tmp_path):
    r = subprocess.run([sys.executable, USAGE], cwd=str(tmp_path), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "typed usage ok" in r.stdout


def public_objects():
    for name in pmq.__all__ + ["MessageQueue.%s" % n for n in vars(pmq.MessageQueue)
                               if not n.startswith("_")]:
        obj = pmq
        for part in name.split("."):
            obj = getattr(obj, part)
        if inspect.isclass(obj) or callable(obj) or isinstance(obj, property):
            yield name, obj
    for name in ("send", "receive", "send_batch", "receive_batch"):
        yield "MessageQueue." + name, getattr(pmq.MessageQueue, name)


def test_every_public_name_has_a_docstring():
    missing = [name for name, obj in public_objects() if not (obj.__doc__ or "").strip()]
    assert not missing, missing


def test_c_methods_have_signatures():
    # The C methods' text signatures name $self, so inspect (help(), IDEs,
    # stubtest) sees the real parameters.
    params = {name: list(inspect.signature(getattr(pmq.MessageQueue, name)).parameters)
              for name in ("send", "receive", "send_batch", "receive_batch")}
    assert params == {"send": ["self", "message", "timeout", "priority"],
                      "receive": ["self", "timeout"],
                      "send_batch": ["self", "messages", "timeout"],
                      "receive_batch": ["self", "max_messages", "timeout"]}
