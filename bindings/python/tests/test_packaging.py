"""The installed package carries its own libpmq and uses it."""

import glob
import os
import subprocess
import sys

import pmq


def pkg_dir():
    return os.path.dirname(os.path.abspath(pmq.__file__))


def test_libpmq_is_bundled_next_to_the_module():
    libs = glob.glob(os.path.join(pkg_dir(), "libpmq.so.*"))
    assert len(libs) == 1, libs


def test_the_bundled_libpmq_is_the_one_loaded():
    with open("/proc/self/maps") as f:
        maps = [line.split()[-1] for line in f if "libpmq" in line]
    assert maps, "libpmq is not mapped"
    assert {os.path.realpath(p) for p in maps} == {
        os.path.realpath(p) for p in glob.glob(os.path.join(pkg_dir(), "libpmq.so.*"))}


def test_imports_without_any_environment(tmp_path):
    code = ("import pmq, os\n"
            "q = pmq.MessageQueue(None, pmq.O_CREX, max_messages=1, max_message_size=8)\n"
            "q.send(b'ok'); print(q.receive()[0].decode()); q.close(); q.unlink()\n")
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_bundled_libpmq_wins_over_ld_library_path(tmp_path):
    """Another file of libpmq's SONAME on LD_LIBRARY_PATH (here: not even a
    library) is never loaded: the extension's DT_RPATH $ORIGIN is searched
    first."""
    bundled = glob.glob(os.path.join(pkg_dir(), "libpmq.so.*"))
    assert len(bundled) == 1, bundled
    decoy = tmp_path / os.path.basename(bundled[0])
    decoy.write_bytes(b"not a library")
    code = ("import pmq\n"
            "q = pmq.MessageQueue(None, pmq.O_CREX, max_messages=1, max_message_size=8)\n"
            "q.send(b'ok'); print(q.receive()[0].decode()); q.close(); q.unlink()\n")
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_not_imported_from_the_source_tree():
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    assert not pkg_dir().startswith(os.path.realpath(src))


def cargo_toml():
    """The Cargo.toml the package was built from: the checkout's, or the
    vendored one of an unpacked sdist."""
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(here, "..", "..", "..", "Cargo.toml"),
                 os.path.join(here, "..", "rust", "Cargo.toml")):
        if os.path.exists(path):
            return path
    raise AssertionError("no Cargo.toml beside these tests")


def test_one_version_everywhere():
    import importlib.metadata
    import re
    with open(cargo_toml(), encoding="utf-8") as f:
        cargo = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M).group(1)
    assert {
        "Cargo.toml": cargo,
        "distribution metadata": importlib.metadata.version("pmq"),
        "pmq.__version__": pmq.__version__,
        "pmq.VERSION": pmq.VERSION,
        "libpmq (pmq_version())": pmq.LIBPMQ_VERSION,
    } == dict.fromkeys(["Cargo.toml", "distribution metadata", "pmq.__version__", "pmq.VERSION",
                        "libpmq (pmq_version())"], cargo)


def test_licence_metadata_matches_cargo():
    import importlib.metadata
    meta = importlib.metadata.metadata("pmq")
    assert meta["License-Expression"] == "MIT OR Apache-2.0"
    with open(cargo_toml(), encoding="utf-8") as f:
        assert 'license = "MIT OR Apache-2.0"' in f.read()
    files = {os.path.basename(str(p)) for p in importlib.metadata.files("pmq")
             if "licenses" in str(p)}
    assert files == {"LICENSE-MIT", "LICENSE-APACHE"}, files
