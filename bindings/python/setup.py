"""Builds pmq: runs `cargo build --release -p pmq-ffi` in the repository two
directories up, compiles the cffi extension against that libpmq.so, and
bundles the library in the package under its SONAME, next to the extension
(which finds it through RPATH=$ORIGIN). pip builds in-tree, so `pip install
./bindings/python` works from a checkout with Rust installed.

CARGO (default: cargo) and CARGO_TARGET_DIR are honoured.
"""

import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ffi_build import REPO, cargo_lib_dir  # noqa: E402


def soname():
    """libpmq's SONAME, derived from Cargo.toml the way ffi/build.rs does."""
    with open(os.path.join(REPO, "Cargo.toml"), encoding="utf-8") as f:
        m = re.search(r'^version\s*=\s*"(\d+)\.(\d+)\.(\d+)', f.read(), re.M)
    if not m:
        raise RuntimeError("pmq: no version in Cargo.toml")
    major, minor = m.group(1), m.group(2)
    return "libpmq.so.0.%s" % minor if major == "0" else "libpmq.so.%s" % major


class BuildExtWithLibpmq(build_ext):
    def run(self):
        if not os.path.exists(os.path.join(REPO, "Cargo.toml")):
            raise RuntimeError(
                "pmq: %s is not the pmq repository; build the Python package from "
                "bindings/python inside a pmq checkout" % REPO
            )
        cargo = os.environ.get("CARGO", "cargo")
        cmd = [cargo, "build", "--release", "-p", "pmq-ffi"]
        print("pmq: running %s in %s" % (" ".join(cmd), REPO))
        try:
            subprocess.check_call(cmd, cwd=REPO)
        except FileNotFoundError:
            raise RuntimeError("pmq: cargo not found; install Rust (https://rustup.rs) to build pmq")
        lib = os.path.join(cargo_lib_dir(), "libpmq.so")
        if not os.path.exists(lib):
            raise RuntimeError("pmq: cargo did not produce %s" % lib)
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


# send() and receive() in C: a send+receive pair costs what posix_ipc's does.
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
    ext_modules=[fast],
    cffi_modules=["ffi_build.py:ffibuilder"],
    cmdclass={"build_ext": BuildExtWithLibpmq},
)
