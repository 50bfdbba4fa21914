"""Builds pmq: runs `cargo build --release -p pmq-ffi` in the Rust workspace
(the pmq checkout two directories up, or rust/ inside an sdist), compiles
the cffi extension against that libpmq.so, and bundles the library in the
package under its SONAME, next to the extension (which finds it through
RPATH=$ORIGIN).

So `pip install ./bindings/python` works from a checkout with Rust
installed, and so does `pip install pmq-<version>.tar.gz` anywhere: the
sdist command vendors the crates pmq and pmq-ffi (Cargo.toml, Cargo.lock,
src/, ffi/, include/pmq.h) into rust/ of the sdist, with a workspace
manifest trimmed to those two crates (no CLI, tests, examples or
dev-dependencies) and a Cargo.lock pruned to match.

The package version is the Cargo workspace's (one place: Cargo.toml).

CARGO (default: cargo) and CARGO_TARGET_DIR are honoured.
"""

import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ffi_build import REPO, cargo_lib_dir  # noqa: E402

VENDORED = os.path.join(HERE, "rust")


def cargo_version():
    """The workspace version of Cargo.toml: the package's version too."""
    path = os.path.join(REPO, "Cargo.toml")
    if not os.path.exists(path):
        raise RuntimeError(
            "pmq: no Rust sources at %s: build the Python package from bindings/python "
            "inside a pmq checkout, or from a pmq sdist (which carries them in rust/)" % REPO
        )
    with open(path, encoding="utf-8") as f:
        m = re.search(r'^version\s*=\s*"(\d+)\.(\d+)\.(\d+)"', f.read(), re.M)
    if not m:
        raise RuntimeError('pmq: no plain version = "X.Y.Z" line (the [workspace.package] '
                           "version) in %s" % path)
    return m.groups()


def soname():
    """libpmq's SONAME, derived from Cargo.toml the way ffi/build.rs does."""
    major, minor, _ = cargo_version()
    return "libpmq.so.0.%s" % minor if major == "0" else "libpmq.so.%s" % major


def cargo():
    return os.environ.get("CARGO", "cargo")


class BuildExtWithLibpmq(build_ext):
    def run(self):
        cmd = [cargo(), "build", "--release", "-p", "pmq-ffi"]
        if REPO == VENDORED:
            # The sdist's Cargo.lock was pruned to these crates when it was made.
            cmd.append("--locked")
        print("pmq: running %s in %s" % (" ".join(cmd), REPO))
        try:
            subprocess.check_call(cmd, cwd=REPO)
        except FileNotFoundError:
            raise RuntimeError("pmq: cargo not found; install Rust (https://rustup.rs) to build "
                               "pmq from source, or install a pmq wheel")
        built = os.path.join(cargo_lib_dir(), "libpmq_ffi.so")
        if not os.path.exists(built):
            raise RuntimeError("pmq: cargo did not produce %s" % built)
        # The crate's lib is pmq_ffi; the extension links -lpmq (as the Makefile does).
        lib = os.path.join(cargo_lib_dir(), "libpmq.so")
        if not (os.path.exists(lib) and os.path.samefile(built, lib)):
            shutil.copyfile(built, lib + ".tmp")
            os.replace(lib + ".tmp", lib)
        super().run()
        # Bundle the library next to the extension, named as its SONAME (the
        # name the extension's DT_NEEDED entry asks for).
        dests = [os.path.join(self.build_lib, "pmq")]
        if self.inplace:
            dests.append(os.path.join(HERE, "src", "pmq"))
        for d in dests:
            os.makedirs(d, exist_ok=True)
            target = os.path.join(d, soname())
            shutil.copyfile(lib, target)
            os.chmod(target, 0o755)
            # The release profile keeps debug info; the wheel does not need it.
            strip = shutil.which("strip")
            if strip:
                subprocess.call([strip, "--strip-debug", target])


# Root manifest sections the sdist's workspace leaves out: what builds only
# the CLI, the Rust tests, examples and benchmarks.
_DROPPED_SECTIONS = ("[[example]]", "[[test]]", "[[bench]]", "[dev-dependencies]")


def trimmed_manifest(text, members):
    """Cargo.toml text without _DROPPED_SECTIONS, with the workspace members
    set to `members`."""
    out, keep = [], True
    for line in text.splitlines(keepends=True):
        header = line.strip()
        if header.startswith("["):
            keep = header not in _DROPPED_SECTIONS
        if not keep:
            continue
        if re.match(r"members\s*=", header):
            line = "members = [%s]\n" % ", ".join('"%s"' % m for m in members)
        out.append(line)
    return "".join(out)


def vendor_rust(dest):
    """Copies the crates pmq and pmq-ffi from the checkout into dest (an
    sdist's rust/), as a workspace of those two only."""
    os.makedirs(dest)
    with open(os.path.join(REPO, "Cargo.toml"), encoding="utf-8") as f:
        root = trimmed_manifest(f.read(), [".", "ffi"])
    if "[workspace]" not in root or 'members = [".", "ffi"]' not in root:
        raise RuntimeError("pmq: Cargo.toml has no [workspace] members line to trim")
    with open(os.path.join(dest, "Cargo.toml"), "w", encoding="utf-8") as f:
        f.write(root)
    shutil.copyfile(os.path.join(REPO, "Cargo.lock"), os.path.join(dest, "Cargo.lock"))
    shutil.copytree(os.path.join(REPO, "src"), os.path.join(dest, "src"))
    os.makedirs(os.path.join(dest, "ffi"))
    for name in ("build.rs", "pmq.map"):
        shutil.copyfile(os.path.join(REPO, "ffi", name), os.path.join(dest, "ffi", name))
    with open(os.path.join(REPO, "ffi", "Cargo.toml"), encoding="utf-8") as f:
        ffi = trimmed_manifest(f.read(), [])
    with open(os.path.join(dest, "ffi", "Cargo.toml"), "w", encoding="utf-8") as f:
        f.write(ffi)
    shutil.copytree(os.path.join(REPO, "ffi", "src"), os.path.join(dest, "ffi", "src"))
    os.makedirs(os.path.join(dest, "include"))
    shutil.copyfile(os.path.join(REPO, "include", "pmq.h"),
                    os.path.join(dest, "include", "pmq.h"))
    # Prune Cargo.lock to the two crates (versions unchanged), so the sdist
    # builds with --locked. Offline first: the checkout has built them.
    for extra in (["--offline"], []):
        r = subprocess.run([cargo(), "metadata", "-q", "--format-version", "1"] + extra,
                           cwd=dest, stdout=subprocess.DEVNULL)
        if r.returncode == 0:
            break
    else:
        raise RuntimeError("pmq: cargo metadata failed in %s" % dest)


class SdistWithRust(sdist):
    """The sdist carries the Rust sources in rust/ (vendored from the
    checkout when the sdist is made; an sdist made from an sdist copies its
    rust/ through MANIFEST.in)."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        if REPO != VENDORED:
            vendor_rust(os.path.join(base_dir, "rust"))


# send() and receive() in C: a send+receive pair costs what posix_ipc's does.
# Not built for the stable ABI (py_limited_api): it uses a static type object
# and the full API's macros in the hot path, and the limited API has the
# buffer protocol only from Python 3.11; so wheels are per Python version
# (the cffi module alone is abi3).
fast = Extension(
    "pmq._fast",
    sources=["src/pmq/_fast.c"],
    include_dirs=[os.path.join(REPO, "include")],
    library_dirs=[cargo_lib_dir()],
    libraries=["pmq"],
    extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"],
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
)

setup(
    version="%s.%s.%s" % cargo_version(),
    ext_modules=[fast],
    cffi_modules=["ffi_build.py:ffibuilder"],
    cmdclass={"build_ext": BuildExtWithLibpmq, "sdist": SdistWithRust},
)
