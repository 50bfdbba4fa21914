"""posix_ipc's own message-queue test suite, run against pmq imported as
posix_ipc: tests/test_message_queues.py and the message-queue tests of
tests/test_module.py from the posix_ipc 1.3.2 source on PyPI (make
test-python downloads it and sets PMQ_POSIX_IPC_SRC). Deselected, because
they test what pmq does not provide (semaphores and shared memory, see the
README's "scope" row): test_module's test_unlink_semaphore,
test_unlink_shared_memory and test_constant_values (it checks the
SEMAPHORE_* constants; the message-queue constants it checks are checked
against posix_ipc itself in test_module.py here)."""

import os
import re
import subprocess
import sys

import pytest

SRC = os.environ.get("PMQ_POSIX_IPC_SRC", "")
DESELECTED = ["tests/test_module.py::TestModule::test_unlink_semaphore",
              "tests/test_module.py::TestModule::test_unlink_shared_memory",
              "tests/test_module.py::TestModule::test_constant_values"]


@pytest.mark.skipif(not os.path.isdir(os.path.join(SRC, "tests")),
                    reason="PMQ_POSIX_IPC_SRC does not name posix_ipc's source (make test-python "
                           "sets it)")
def test_posix_ipc_message_queue_suite_passes_against_pmq(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    # `import posix_ipc` in the suite gets pmq (the shim comes before
    # site-packages, where the real posix_ipc is installed too).
    (shim / "posix_ipc.py").write_text("import sys\nimport pmq\nsys.modules['posix_ipc'] = pmq\n")
    env = dict(os.environ, PYTHONPATH=str(shim))
    which = subprocess.run([sys.executable, "-c", "import posix_ipc; print(posix_ipc.__name__)"],
                           env=env, capture_output=True, text=True, check=True)
    assert which.stdout.strip() == "pmq"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "tests/test_message_queues.py", "tests/test_module.py"]
    for d in DESELECTED:
        cmd += ["--deselect", d]
    r = subprocess.run(cmd, cwd=SRC, env=env, capture_output=True, text=True, timeout=300)
    tail = "\n".join(r.stdout.splitlines()[-15:])
    assert r.returncode == 0, tail + r.stderr[-2000:]
    m = re.search(r"(\d+) passed", r.stdout)
    assert m and int(m.group(1)) >= 45, tail
    assert "skipped" not in r.stdout.splitlines()[-1], tail
    print("posix_ipc's own suite against pmq: " + r.stdout.splitlines()[-1])
