#!/usr/bin/env python3
"""Runs README.md's code snippets as written (item by item, each must pass):

- the C program of "The C API in brief", built with the README's own
  command (the ```sh block after it) in a scratch directory, and its output;
- the shared-memory C fragment, inside a main() that declares its `q`;
- the batch C fragment, inside a main() that opens a shm queue `q`, and its
  output;
- the Python program, once as written (pmq) and once with its import line
  changed to `import posix_ipc` (the README says it runs under both);
- the Go program, in a scratch module that requires the Go binding.

The C++ program and CMake file are built by tests/cpp/docs_build.sh, the
command-line session is replayed by cli/tests/transcript.rs, and the Rust
snippet is a doctest of the pmq crate (src/lib.rs includes this README).

Usage: snippets.py <repo> <python> <go>   (env: CC, GO_ENV_* passed through)
"""

import os
import re
import subprocess
import sys
import tempfile

REPO, PYTHON, GO = sys.argv[1:4]
README = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
failures = []


def blocks(lang, after=None):
    text = README if after is None else README[README.index(after):]
    return re.findall(r"^```" + re.escape(lang) + r"\n(.*?)^```$", text, re.S | re.M)


def run(what, cmd, cwd, expect, env=None, shell=False):
    r = subprocess.run(cmd, cwd=cwd, env=env, shell=shell, capture_output=True, text=True,
                       timeout=600)
    ok = r.returncode == 0 and all(e in r.stdout for e in expect)
    print("readme: %-48s %s" % (what, "ok" if ok else "FAILED"))
    if not ok:
        failures.append(what)
        print(r.stdout[-3000:], r.stderr[-3000:], sep="\n")
    return r


def gone(what, path):
    if os.path.exists(path):
        failures.append(what)
        print("readme: %s left %s behind" % (what, path))


with tempfile.TemporaryDirectory(prefix="pmq-readme-") as tmp:
    os.symlink(os.path.join(REPO, "include"), os.path.join(tmp, "include"))
    os.symlink(os.path.join(REPO, "target"), os.path.join(tmp, "target"))

    # The C program and the command the README gives to build and run it.
    section = "## The C API in brief"
    with open(os.path.join(tmp, "demo.c"), "w") as f:
        f.write(blocks("c", section)[0])
    build = blocks("sh", section)[0].strip()
    assert build.startswith("cc demo.c"), build
    run("C program, built with the README's command", build, tmp, ["9: high\n1: low\n"],
        shell=True, env=dict(os.environ, PWD=tmp))
    gone("the C program", "/dev/mqueue/demo")

    # The shared-memory fragment.
    fragment = blocks("c", "## The shared-memory backend")[0]
    with open(os.path.join(tmp, "shm.c"), "w") as f:
        f.write("#include <pmq.h>\n#include <stdio.h>\nint main(void) {\n"
                "    pmq_queue *q = NULL;\n" + fragment +
                "    if (!q) { fprintf(stderr, \"%s\\n\", pmq_last_error()); return 1; }\n"
                "    uint32_t b = 99;\n"
                "    pmq_queue_backend(q, &b);\n"
                "    printf(\"%s\\n\", b == PMQ_BACKEND_SHM ? \"shm\" : \"?\");\n"
                "    pmq_queue_free(q);\n    return 0;\n}\n")
    cc = os.environ.get("CC", "cc")
    lib = os.path.join(REPO, "target", "release")
    run("shared-memory C fragment", [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "shm.c",
                                     "-Iinclude", "-L" + lib, "-lpmq", "-Wl,-rpath," + lib,
                                     "-o", "shm"], tmp, [])
    if os.path.exists(os.path.join(tmp, "shm")):
        run("shared-memory C fragment, run", ["./shm"], tmp, ["shm"])
    gone("the shm fragment", "/dev/shm/pmq.jobs")

    # The batch fragment, on a shared-memory queue opened for it.
    fragment = blocks("c", "### Batches")[0]
    # make test's per-run prefix (PMQ_TEST_PREFIX), so its leak check finds it.
    name = "/%s-readme-batch-%d" % (os.environ.get("PMQ_TEST_PREFIX") or "pmq", os.getpid())
    with open(os.path.join(tmp, "batch.c"), "w") as f:
        f.write("#include <pmq.h>\n#include <stdio.h>\nint main(void) {\n"
                "    pmq_options o;\n    pmq_options_init(&o);\n"
                "    o.flags = PMQ_O_CREX;\n    o.backend = PMQ_BACKEND_SHM;\n"
                "    o.max_messages = 8;\n    o.max_message_size = 64;\n"
                "    pmq_queue *q = NULL;\n"
                "    if (pmq_queue_open(\"%s\", &o, &q) != PMQ_STATUS_OK) {\n"
                "        fprintf(stderr, \"%%s\\n\", pmq_last_error());\n        return 1;\n    }\n"
                "    pmq_unlink_backend(\"%s\", PMQ_BACKEND_SHM);\n" % (name, name) + fragment +
                "    pmq_queue_free(q);\n    return 0;\n}\n")
    run("batch C fragment", [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "batch.c",
                             "-I" + os.path.join(REPO, "include"), "-L" + lib, "-lpmq",
                             "-Wl,-rpath," + lib, "-o", "batch"], tmp, [])
    if os.path.exists(os.path.join(tmp, "batch")):
        run("batch C fragment, run", ["./batch"], tmp, ["9: high\n1: low\n1: low2\n"])
    gone("the batch fragment", "/dev/shm/pmq." + name[1:])

    # The Python program, under pmq and under posix_ipc.
    py = blocks("python", "## Python")[0]
    assert py.startswith("import pmq as posix_ipc\n"), py[:40]
    for label, src in (("pmq", py), ("posix_ipc", py.replace("import pmq as posix_ipc",
                                                            "import posix_ipc", 1))):
        run("Python program under " + label, [PYTHON, "-c", src], tmp, ["b'hello' 5"])
        gone("the Python program", "/dev/mqueue/jobs")

    # The Go program, in a module of its own.
    mod = os.path.join(tmp, "hello")
    os.mkdir(mod)
    with open(os.path.join(mod, "main.go"), "w") as f:
        f.write(blocks("go", "## Go")[0])
    gomod = "github.com/pmq-project/pmq/bindings/go"
    with open(os.path.join(mod, "go.mod"), "w") as f:
        f.write("module hello\n\ngo 1.21\n\nrequire %s v0.0.0\n\nreplace %s => %s\n"
                % (gomod, gomod, os.path.join(REPO, "bindings", "go")))
    run("Go program", [GO, "run", "."], mod,
        ["received (priority 10): high", "nothing within 100ms", "is no longer empty"])
    gone("the Go program", "/dev/mqueue/hello_go")

if failures:
    sys.exit("readme: %d snippet(s) failed: %s" % (len(failures), ", ".join(failures)))
print("readme: every snippet ran as written")
