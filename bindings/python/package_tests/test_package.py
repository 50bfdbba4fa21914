"""The Python package as a user gets it: the sdist and the manylinux wheel
that `make wheel` made (run by `make test-python-package`, which passes
their paths in PMQ_SDIST and PMQ_WHEELHOUSE).

* the sdist carries the Rust sources it needs (and nothing of the CLI, the
  tests of the crates, or build output), the licence files and the stubs;
* copied to a temp dir outside the checkout, it installs in a fresh venv
  with Rust on PATH, and the installed package runs an example;
* the wheel is manylinux-tagged, carries libpmq, the extensions, py.typed,
  the stubs and the licences;
* installed in a fresh venv with no Rust anywhere on PATH (CARGO unset), it
  runs the examples, the packaging tests and the typing tests.
"""

import email.parser
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYDIR))
PYTHON = os.environ.get("PMQ_PYTHON", sys.executable)
PIP = ["-m", "pip", "--disable-pip-version-check", "-q"]
RUST_ENV = ("CARGO", "RUSTC", "RUSTUP_TOOLCHAIN", "CARGO_TARGET_DIR", "CARGO_HOME",
            "RUSTUP_HOME")


def env_path(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail("%s is not set: run these tests with `make test-python-package`" % name)
    return value


def cargo_version():
    with open(os.path.join(REPO, "Cargo.toml"), encoding="utf-8") as f:
        return re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M).group(1)


@pytest.fixture(scope="module")
def sdist():
    path = env_path("PMQ_SDIST")
    assert os.path.basename(path) == "pmq-%s.tar.gz" % cargo_version()
    return path


@pytest.fixture(scope="module")
def wheel():
    wheels = glob.glob(os.path.join(env_path("PMQ_WHEELHOUSE"), "*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def sdist_members(sdist):
    with tarfile.open(sdist) as t:
        top = "pmq-%s/" % cargo_version()
        return {m.name[len(top):]: m for m in t.getmembers() if m.name.startswith(top)}


def read_member(sdist, name):
    with tarfile.open(sdist) as t:
        return t.extractfile("pmq-%s/%s" % (cargo_version(), name)).read()


def venv(path, python=PYTHON):
    subprocess.run([python, "-m", "venv", path], check=True)
    return os.path.join(path, "bin", "python")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (cmd, r.returncode, r.stdout[-4000:],
                                                           r.stderr[-4000:])
    return r.stdout


def test_sdist_carries_the_rust_sources_and_nothing_else_of_the_repository(sdist):
    names = set(sdist_members(sdist))
    for needed in ("rust/Cargo.toml", "rust/Cargo.lock", "rust/src/lib.rs",
                   "rust/src/backend/shm/mod.rs", "rust/src/backend/kernel/mod.rs",
                   "rust/ffi/Cargo.toml", "rust/ffi/build.rs", "rust/ffi/pmq.map",
                   "rust/ffi/src/lib.rs", "rust/include/pmq.h", "setup.py",
                   "pyproject.toml", "src/pmq/__init__.py", "src/pmq/_pmq.c",
                   "src/pmq/__init__.pyi", "src/pmq/py.typed", "LICENSE-MIT", "LICENSE-APACHE",
                   "examples/basic.py"):
        assert needed in names, needed
    for name in names:
        assert not name.startswith(("rust/cli", "rust/target", "rust/tests", "rust/ffi/tests",
                                    "rust/bindings", "rust/c_tests")), name
        assert not re.search(r"\.(so(\.\d+)*|o|a|whl)$", name), name
    # Every vendored file is the checkout's, byte for byte (the manifests
    # and the lock are trimmed: checked below).
    for name in names:
        if name.startswith("rust/") and sdist_members(sdist)[name].isfile() and \
                name not in ("rust/Cargo.toml", "rust/Cargo.lock", "rust/ffi/Cargo.toml"):
            with open(os.path.join(REPO, name[len("rust/"):]), "rb") as f:
                assert read_member(sdist, name) == f.read(), name


def test_sdist_workspace_is_the_two_crates(sdist):
    root = read_member(sdist, "rust/Cargo.toml").decode()
    assert re.search(r'^members = \[".", "ffi"\]$', root, re.M), root
    for gone in ("[dev-dependencies]", "[[test]]", "[[example]]", '"cli"'):
        assert gone not in root, gone
    assert 'panic = "unwind"' in root  # the C boundary's catch_unwind needs it
    lock = read_member(sdist, "rust/Cargo.lock").decode()
    locked = set(re.findall(r'^name = "([^"]+)"', lock, re.M))
    assert {"pmq", "pmq-ffi", "libc", "nix"} <= locked
    assert not locked & {"pmq-cli", "cbindgen", "proptest", "clap"}, locked


def test_sdist_licences_are_the_repository_files(sdist):
    for name in ("LICENSE-MIT", "LICENSE-APACHE"):
        member = sdist_members(sdist)[name]
        assert member.isfile(), "%s is not a regular file in the sdist" % name
        with open(os.path.join(REPO, name), "rb") as f:
            assert read_member(sdist, name) == f.read(), name
    meta = email.parser.Parser().parsestr(read_member(sdist, "PKG-INFO").decode())
    assert meta["License-Expression"] == "MIT OR Apache-2.0"
    assert sorted(meta.get_all("License-File")) == ["LICENSE-APACHE", "LICENSE-MIT"]
    assert meta["Version"] == cargo_version()


def test_sdist_installs_in_a_fresh_venv_outside_the_checkout(sdist, tmp_path):
    assert shutil.which("cargo") or os.environ.get("CARGO"), "this test needs Rust (cargo)"
    copy = tmp_path / os.path.basename(sdist)
    shutil.copyfile(sdist, copy)
    py = venv(str(tmp_path / "venv"))
    env = dict(os.environ, CARGO_TARGET_DIR=env_path("PMQ_CARGO_TARGET"))
    run([py] + PIP + ["install", str(copy)], cwd=str(tmp_path), env=env)
    with tarfile.open(sdist) as t:
        # The "data" filter where this Python has it (3.11.4+, default in 3.14).
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        t.extractall(str(tmp_path / "unpacked"), **kw)
    example = tmp_path / "unpacked" / ("pmq-%s" % cargo_version()) / "examples" / "asyncio_queue.py"
    for backend in ("kernel", "shm"):
        out = run([py, str(example), backend], cwd=str(tmp_path))
        assert "received (priority 1): job 1" in out, out
    where = run([py, "-c", "import pmq; print(pmq.__file__)"], cwd=str(tmp_path))
    assert where.startswith(str(tmp_path / "venv")), where


def test_wheel_is_manylinux_and_carries_what_it_needs(wheel):
    name = os.path.basename(wheel)
    assert re.match(r"pmq-%s-cp\d+-cp\d+-manylinux_2_\d+_\w+\.whl$" % re.escape(cargo_version()),
                    name), name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = "pmq-%s.dist-info/" % cargo_version()
        meta = email.parser.Parser().parsestr(z.read(info + "METADATA").decode())
        for lic in ("LICENSE-MIT", "LICENSE-APACHE"):
            with open(os.path.join(REPO, lic), "rb") as f:
                assert z.read(info + "licenses/" + lic) == f.read(), lic
    for needed in ("pmq/__init__.py", "pmq/__init__.pyi", "pmq/py.typed"):
        assert needed in names, needed
    libs = [n for n in names if re.match(r"pmq/libpmq\.so\.\d+(\.\d+)?$", n)]
    assert len(libs) == 1, names
    assert any(re.match(r"pmq/_pmq\..*\.so$", n) for n in names), names
    # One extension: no cffi module, no runtime dependency.
    assert [n for n in names if n.endswith(".so")] == [
        n for n in names if re.match(r"pmq/_pmq\..*\.so$", n)], names
    assert not [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r], meta
    # Sources and build leftovers stay out; auditwheel grafted no copy of
    # libpmq (it is in the package already).
    assert not [n for n in names if n.endswith((".c", ".h", ".rs")) or n.startswith("pmq.libs/")]
    assert meta["License-Expression"] == "MIT OR Apache-2.0"
    assert meta["Version"] == cargo_version()
    assert "Typing :: Typed" in meta.get_all("Classifier")


def no_rust_env(tmp_path):
    """The environment of the no-Rust venv: PATH without any directory that
    has cargo or rustc, and no Rust variables."""
    env = {k: v for k, v in os.environ.items() if k not in RUST_ENV}
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, tool)) for tool in ("cargo", "rustc"))]
    env["PATH"] = os.pathsep.join(dirs)
    assert shutil.which("cargo", path=env["PATH"]) is None
    assert shutil.which("rustc", path=env["PATH"]) is None
    home = os.path.expanduser("~")
    env["HOME"] = str(tmp_path / "home")  # no ~/.cargo either
    os.makedirs(env["HOME"])
    env.setdefault("PIP_CACHE_DIR", os.path.join(home, ".cache", "pip"))
    return env


def test_wheel_runs_the_examples_in_a_venv_without_rust(wheel, tmp_path):
    env = no_rust_env(tmp_path)
    py = venv(str(tmp_path / "venv"))
    # --only-binary: pip must not fall back to building anything from source.
    run([py] + PIP + ["install", "--only-binary", ":all:", wheel, "pytest",
                      "mypy==%s" % os.environ.get("PMQ_MYPY_VERSION", "2.4.1")],
        cwd=str(tmp_path), env=env)
    tests = os.path.join(PYDIR, "tests")
    out = run([py, "-m", "pytest", "-p", "no:cacheprovider", "-q",
               os.path.join(tests, "test_examples.py"), os.path.join(tests, "test_packaging.py"),
               os.path.join(tests, "test_typing.py")],
              cwd=str(tmp_path), env=env)
    assert re.search(r"\d+ passed", out) and "failed" not in out, out
    where = run([py, "-c", "import pmq; print(pmq.__file__)"], cwd=str(tmp_path), env=env)
    assert where.startswith(str(tmp_path / "venv")), where
