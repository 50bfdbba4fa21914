"""Builds pmq: runs `cargo build --release -p pmq-ffi` in the Rust workspace
(the pmq checkout two directories up, or rust/ inside an sdist), compiles
the package's one C extension, pmq._pmq (src/pmq/_pmq.c), against that
libpmq.so, and bundles the library in the package under its SONAME, next to
the extension (which finds it through its DT_RPATH $ORIGIN).

So `pip install ./bindings/python` works from a checkout with Rust
installed, and so does `pip install pmq-<version>.tar.gz` anywhere: the
sdist command vendors the crates pmq and pmq-ffi (Cargo.toml, Cargo.lock,
src/, ffi/, include/pmq.h) into rust/ of the sdist, with a workspace
manifest trimmed to those two crates (no CLI, tests, examples or
dev-dependencies) and a Cargo.lock pruned to match.

The package version is the Cargo workspace's (one place: Cargo.toml): this
file reads it for the distribution's metadata and compiles it into the
extension (PMQ_PY_VERSION), where pmq.__version__ reads it.

CARGO (default: cargo) and CARGO_TARGET_DIR are honoured.
"""

import os
import re
import glob
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
VENDORED = os.path.join(HERE, "rust")


def rust_root():
    """Where the Rust workspace that builds libpmq is: rust/ next to this
    file in an sdist (the sdist command below vendors the crates pmq and
    pmq-ffi there), else the pmq checkout two directories up."""
    if os.path.exists(os.path.join(VENDORED, "Cargo.toml")):
        return VENDORED
    return os.path.normpath(os.path.join(HERE, "..", ".."))


REPO = rust_root()


def cargo_lib_dir():
    """Where `cargo build --release -p pmq-ffi` puts libpmq.so."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    if not os.path.isabs(target):
        target = os.path.join(REPO, target)
    return os.path.join(target, "release")


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
            # A build directory reused across versions still holds what
            # earlier versions built (the previous SONAME's libpmq, retired
            # extensions): the package carries exactly this build's two.
            ext = os.path.basename(self.get_ext_filename("pmq._pmq"))
            for old in glob.glob(os.path.join(d, "*.so*")):
                if os.path.basename(old) not in (soname(), ext):
                    os.remove(old)
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


VERSION = "%s.%s.%s" % cargo_version()

# The one extension: it owns the libpmq handle (open, close, every transfer,
# attributes, notifications) and sends and receives at posix_ipc's cost.
# Not built for the stable ABI (py_limited_api): it uses static type objects
# and the full API's macros in the hot path, and the limited API has the
# buffer protocol only from Python 3.11; so wheels are per Python version.
# --disable-new-dtags: DT_RPATH, not DT_RUNPATH, so the bundled libpmq is
# found before any other on LD_LIBRARY_PATH.
extension = Extension(
    "pmq._pmq",
    sources=["src/pmq/_pmq.c"],
    include_dirs=[os.path.join(REPO, "include")],
    library_dirs=[cargo_lib_dir()],
    libraries=["pmq"],
    define_macros=[("PMQ_PY_VERSION", '"%s"' % VERSION)],
    extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"],
    extra_link_args=["-Wl,-rpath,$ORIGIN", "-Wl,--disable-new-dtags"],
)

setup(
    version=VERSION,
    ext_modules=[extension],
    cmdclass={"build_ext": BuildExtWithLibpmq, "sdist": SdistWithRust},
)
