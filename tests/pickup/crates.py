#!/usr/bin/env python3
"""The Rust crates as cargo would publish them, checked as a user gets them.

For each workspace crate (pmq, pmq-ffi, pmq-cli, pmq-bridge):
  - metadata complete: description, license, repository, readme, keywords,
    categories, rust-version (cargo metadata);
  - `cargo package --list --offline --allow-dirty` holds what building the
    crate needs and nothing else: no test, bench, example, binding, C /
    CMake / pkg-config, docs or CI file;
  - the licence files the `license` expression names (LICENSE-MIT,
    LICENSE-APACHE for "MIT OR Apache-2.0") are in the package and exist
    (a crate below the root links to the root's files), and the readme too.

Run from the workspace root (or pass it): python3 tests/pickup/crates.py [ROOT]
Prints one line per check; exits 1 on any failure.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.getcwd())
CRATES = ["pmq", "pmq-ffi", "pmq-cli", "pmq-bridge"]
REQUIRED = ["description", "license", "repository", "readme", "keywords", "categories", "rust_version"]
# What a published crate must not carry (paths inside the package).
FORBIDDEN = [
    (r"(^|/)tests?/", "test directory"),
    (r"(^|/)[^/]*_tests?\.rs$", "test module"),
    (r"(^|/)benches/|^bench/", "benchmarks"),
    (r"^examples/", "examples"),
    (r"^bindings/", "language bindings"),
    (r"^c_tests/", "C tests"),
    (r"^fuzz/", "fuzz targets"),
    (r"^\.ci/|^\.github/|^\.gitlab", "CI"),
    (r"^mk/|(^|/)Makefile$", "make files"),
    (r"^cmake/|^pkgconfig/|\.pc(\.in)?$", "CMake / pkg-config files"),
    (r"^docs/|^TESTING\.md$", "docs book / test notes"),
    (r"^target/|^build/", "build output"),
]
# Always in a package (cargo adds them).
CARGO_ADDS = {".cargo_vcs_info.json", "Cargo.lock", "Cargo.toml", "Cargo.toml.orig"}

failed = 0


def check(ok, what, detail=""):
    global failed
    print(("  ok   " if ok else "  FAIL ") + what)
    if not ok:
        failed += 1
        for line in detail.rstrip().splitlines()[-40:]:
            print("       | " + line)


def run(args):
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


rc, out, err = run(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"])
check(rc == 0, "cargo metadata", err)
if rc != 0:
    sys.exit(1)
packages = {p["name"]: p for p in json.loads(out)["packages"]}

for name in CRATES:
    print(f"== crate {name}")
    meta = packages.get(name)
    check(meta is not None, f"{name} is a workspace member")
    if meta is None:
        continue
    missing = [k for k in REQUIRED if not meta.get(k)]
    check(not missing, f"{name}: metadata has {', '.join(REQUIRED)}", "missing: " + ", ".join(missing))

    rc, out, err = run(["cargo", "package", "--list", "--offline", "--allow-dirty", "-p", name])
    check(rc == 0, f"{name}: cargo package --list", err)
    if rc != 0:
        continue
    files = [f for f in out.splitlines() if f]
    print(f"       {len(files)} files: " + " ".join(f for f in files if f not in CARGO_ADDS))
    bad = []
    for f in files:
        for pattern, why in FORBIDDEN:
            if re.search(pattern, f):
                bad.append(f"{f}  ({why})")
                break
    check(not bad, f"{name}: no test, bench, example, binding, build or CI file in the package", "\n".join(bad))

    crate_dir = os.path.dirname(meta["manifest_path"])
    # pmq-cli: the pmq binary and the library pmq-bridge builds on.
    mains = {"pmq-cli": ["src/main.rs", "src/lib.rs"], "pmq-bridge": ["src/main.rs"]}
    for main in mains.get(name, ["src/lib.rs"]):
        check(main in files, f"{name}: the package has {main}")

    # The licence texts the expression names, present in the package and real files.
    ids = re.findall(r"[A-Za-z0-9.\-]+", (meta.get("license") or "").replace(" OR ", " ").replace(" AND ", " "))
    want = [f"LICENSE-{'APACHE' if i.startswith('Apache') else i.upper()}" for i in ids if i not in ("WITH",)]
    problems = []
    for lic in want:
        if lic not in files:
            problems.append(f"{lic} is not in the package")
        elif not os.path.isfile(os.path.join(crate_dir, lic)):
            problems.append(f"{os.path.join(crate_dir, lic)} does not exist (a dangling link?)")
    check(
        bool(want) and not problems,
        f"{name}: licence files for '{meta.get('license')}' ({', '.join(want)}) are in the package",
        "\n".join(problems),
    )
    readme = meta.get("readme")
    check(
        bool(readme) and "README.md" in files and os.path.isfile(os.path.join(crate_dir, readme)),
        f"{name}: readme {readme} exists and is packaged",
    )

print(f"crates: {'FAILED' if failed else 'all checks passed'} ({failed} failed)")
sys.exit(1 if failed else 0)
