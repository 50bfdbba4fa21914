#!/usr/bin/env python3
"""Runs every code block of README.md and of the book (docs/src/*.md, and the
files the book pulls in with {{#include}}), as written.

A block's info string says what it is and how it is checked; a kind this
script does not know fails the run, so no block can go unchecked:

  c / cpp / python / go     a complete program: compiled (C and C++ with
                            -Wall -Wextra -Werror -pedantic against the build
                            tree) and run; it must exit 0
  c,wrap=queue              a fragment, run inside main() after a shm queue
                            `q` of 8 x 64 bytes was opened (WRAPPERS below)
  <lang>,file=NAME          written to NAME in the chapter's scratch directory
                            (for a later ```sh block to build)
  python,posix_ipc          also run with its `import pmq as posix_ipc` line
                            changed to `import posix_ipc`
  rust                      a doctest: src/lib.rs must include the file (checked)
  sh                        run with bash -e in the chapter's scratch directory
                            (symlinks include/ and target/ to the build tree;
                            PKG_CONFIG_PATH finds the uninstalled pmq.pc)
  sh,norun=REASON           not run, for a reason this script verifies:
      install               changes the system: the block installs something
      network               needs a host on the network (a nats:// URL)
      long                  a whole suite, benchmark or fuzz run (make test / bench
                            / long-..., cargo fuzz, -runs=N)
      placeholder           stands for the reader's paths (/path/to, app.c)
      tested-by:PATH        another test runs it: PATH must exist and name
                            this file (e.g. cli/tests/transcript.rs)
  console,norun=tested-by:PATH, cmake,norun=..., etc.: the same rule
  text                      output or a sample: not code
  text,output               the output of the block just run: each of its
                            non-empty lines must be a line of what it printed

A block also fails if it leaves behind a queue (in /dev/mqueue or /dev/shm)
whose name it mentions.

Usage: snippets.py <repo> <python> <go>   (env: CC, CXX, GO_ENV_* passed through)
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

REPO, PYTHON, GO = (os.path.abspath(sys.argv[1]),) + tuple(sys.argv[2:4])
CC = os.environ.get("CC", "cc")
CXX = os.environ.get("CXX", "c++")
LIB = os.path.join(REPO, "target", "release")
INC = os.path.join(REPO, "include")
C_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-D_GNU_SOURCE"]
CXX_FLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"]
LINK = ["-L" + LIB, "-lpmq", "-Wl,-rpath," + LIB]
# The Go module path, as bindings/go/pmq/go.mod declares it.
GOMOD = re.search(r"^module (\S+)", open(os.path.join(REPO, "bindings", "go", "pmq", "go.mod")).read(), re.M).group(1)

failures = []
counts = {"run": 0, "norun": 0, "doctest": 0, "text": 0}

WRAPPERS = {
    # A shm queue `q` (8 messages of at most 64 bytes), already unlinked so
    # that nothing is left behind whatever the fragment does.
    "queue": (
        "#include <pmq.h>\n#include <stdio.h>\nint main(void) {\n"
        "    pmq_options o;\n    pmq_options_init(&o);\n"
        "    o.flags = PMQ_O_CREX;\n    o.backend = PMQ_BACKEND_SHM;\n"
        "    o.max_messages = 8;\n    o.max_message_size = 64;\n"
        "    pmq_queue *q = NULL;\n"
        "    if (pmq_queue_open(\"/pmq-doc-wrap-@PID@\", &o, &q) != PMQ_STATUS_OK) {\n"
        "        fprintf(stderr, \"%s\\n\", pmq_last_error());\n        return 1;\n    }\n"
        "    pmq_unlink_backend(\"/pmq-doc-wrap-@PID@\", PMQ_BACKEND_SHM);\n",
        "    pmq_queue_free(q);\n    return 0;\n}\n",
    ),
}

NORUN_CHECKS = {
    "install": (r"\b(make (install|uninstall)|pip install|cargo install|go get|apt-get|sudo)\b",
                "an install command"),
    "network": (r"nats://|tls://|https?://", "a network URL"),
    "long": (r"\bmake (test|bench|long-\w+|example)\b|\bcargo fuzz\b|-runs=\d+",
             "`make test`, `make bench`, `make long-...`, a fuzz run"),
    "placeholder": (r"/path/to/|<[a-z-]+>|\bapp\.c\b|\$HOME", "a placeholder path"),
}


def fail(where, what, detail=""):
    failures.append("%s: %s" % (where, what))
    print("docs: %-60s FAILED" % ("%s: %s" % (where, what)))
    if detail:
        print(detail[-4000:])


def ok(where, what):
    print("docs: %-60s ok" % ("%s: %s" % (where, what)))


def queues():
    found = set()
    for d, prefix in (("/dev/mqueue", ""), ("/dev/shm", "pmq.")):
        try:
            for n in os.listdir(d):
                if n.startswith(prefix):
                    found.add((d, n[len(prefix):]))
        except OSError:
            pass
    return found


def parse_info(info):
    parts = [p.strip() for p in info.split(",") if p.strip()]
    lang = parts[0] if parts else ""
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k] = v
    return lang, attrs


def blocks(text):
    """(line, info, body) of every fenced block."""
    out = []
    for m in re.finditer(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", text, re.S | re.M):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1).strip(), m.group(2)))
    return out


def doc_files():
    files = [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs/src/*.md")))
    seen = list(files)
    for f in files:
        for inc in re.findall(r"\{\{#include ([^}:]+)", open(f, encoding="utf-8").read()):
            p = os.path.normpath(os.path.join(os.path.dirname(f), inc.strip()))
            if p not in seen:
                seen.append(p)
    return seen


class Chapter:
    def __init__(self, path):
        self.path = path
        self.rel = os.path.relpath(path, REPO)
        self.tmp = tempfile.mkdtemp(prefix="pmq-docs-")
        os.symlink(INC, os.path.join(self.tmp, "include"))
        os.symlink(os.path.join(REPO, "target"), os.path.join(self.tmp, "target"))
        self.last_out = None
        self.env = dict(os.environ,
                        PWD=self.tmp,
                        PKG_CONFIG_PATH=os.path.join(REPO, "build", "pkgconfig"),
                        LD_LIBRARY_PATH=LIB)

    def run(self, where, cmd, shell=False, cwd=None):
        before = queues()
        r = subprocess.run(cmd, cwd=cwd or self.tmp, env=self.env, shell=shell,
                           executable="/bin/bash" if shell else None,
                           capture_output=True, text=True, timeout=600)
        self.last_out = r.stdout
        counts["run"] += 1
        if r.returncode != 0:
            fail(where, "exit %d" % r.returncode, r.stdout + "\n" + r.stderr)
            return False
        return True

    def left_behind(self, where, body, before):
        for d, n in queues() - before:
            if n and n in body:
                fail(where, "left %s/%s behind" % (d, n))
                try:
                    os.unlink(os.path.join(d, ("pmq." if d == "/dev/shm" else "") + n))
                except OSError:
                    pass

    def compile_run(self, where, lang, src, body):
        ext = {"c": "c", "cpp": "cpp"}[lang]
        name = "block%d" % int(where.rsplit(":", 1)[1])
        path = os.path.join(self.tmp, name + "." + ext)
        with open(path, "w") as f:
            f.write(src)
        cmd = ([CC] + C_FLAGS if lang == "c" else [CXX] + CXX_FLAGS) + \
            [path, "-I" + INC] + LINK + ["-o", os.path.join(self.tmp, name)]
        r = subprocess.run(cmd, cwd=self.tmp, capture_output=True, text=True)
        if r.returncode != 0:
            fail(where, "does not compile", r.stderr)
            return
        before = queues()
        if self.run(where, [os.path.join(self.tmp, name)]):
            ok(where, "compiled and ran")
        self.left_behind(where, body, before)

    def check(self, line, info, body, src_for_lib):
        where = "%s:%d" % (self.rel, line)
        lang, attrs = parse_info(info)
        if "norun" in attrs:
            self.last_out = None
            reason = attrs["norun"]
            counts["norun"] += 1
            if reason.startswith("tested-by:"):
                target = os.path.join(REPO, reason[len("tested-by:"):])
                if not os.path.isfile(target):
                    fail(where, "norun=%s: no such file" % reason)
                elif self.rel not in open(target, encoding="utf-8", errors="replace").read():
                    fail(where, "norun=%s: that file does not name %s" % (reason, self.rel))
                else:
                    ok(where, "not run here: " + reason)
            elif reason in NORUN_CHECKS:
                pattern, what = NORUN_CHECKS[reason]
                if re.search(pattern, body):
                    ok(where, "not run (%s)" % reason)
                else:
                    fail(where, "norun=%s, yet the block has none of: %s" % (reason, what))
            else:
                fail(where, "unknown norun reason %r (known: %s, tested-by:PATH)"
                     % (reason, ", ".join(NORUN_CHECKS)))
            return
        if "file" in attrs:
            with open(os.path.join(self.tmp, attrs["file"]), "w") as f:
                f.write(body)
            counts["text"] += 1
            return
        if lang == "text":
            counts["text"] += 1
            if "output" in attrs:
                if self.last_out is None:
                    fail(where, "text,output follows no block that ran")
                    return
                got = [l.rstrip() for l in self.last_out.splitlines()]
                missing = [l for l in body.splitlines() if l.strip() and l.rstrip() not in got]
                if missing:
                    fail(where, "output lacks %r" % missing, self.last_out)
                else:
                    ok(where, "output as shown")
            return
        self.last_out = None
        if lang == "rust":
            counts["doctest"] += 1
            if self.rel not in src_for_lib:
                fail(where, "a rust block, but src/lib.rs does not include_str! %s" % self.rel)
            return
        if lang in ("c", "cpp"):
            if "wrap" in attrs:
                if attrs["wrap"] not in WRAPPERS:
                    fail(where, "unknown wrap=%s" % attrs["wrap"])
                    return
                head, tail = WRAPPERS[attrs["wrap"]]
                src = head.replace("@PID@", str(os.getpid())) + body + tail
            else:
                src = body
            self.compile_run(where, lang, src, body)
        elif lang == "python":
            before = queues()
            if self.run(where, [PYTHON, "-c", body]):
                ok(where, "ran")
            self.left_behind(where, body, before)
            if "posix_ipc" in attrs:
                if not body.startswith("import pmq as posix_ipc\n"):
                    fail(where, "python,posix_ipc must start with `import pmq as posix_ipc`")
                    return
                out = self.last_out
                alt = body.replace("import pmq as posix_ipc", "import posix_ipc", 1)
                if self.run(where, [PYTHON, "-c", alt]):
                    ok(where, "ran under posix_ipc")
                    if alt and out != self.last_out:
                        fail(where, "posix_ipc printed something else", out + "\n---\n" + self.last_out)
                self.left_behind(where, body, before)
        elif lang == "go":
            mod = tempfile.mkdtemp(dir=self.tmp)
            with open(os.path.join(mod, "main.go"), "w") as f:
                f.write(body)
            with open(os.path.join(mod, "go.mod"), "w") as f:
                f.write("module example\n\ngo 1.21\n\nrequire %s v0.0.0\n\nreplace %s => %s\n"
                        % (GOMOD, GOMOD, os.path.join(REPO, "bindings", "go", "pmq")))
            before = queues()
            if self.run(where, [GO, "run", "."], cwd=mod):
                ok(where, "ran")
            self.left_behind(where, body, before)
        elif lang == "sh":
            before = queues()
            if self.run(where, "set -e\n" + body, shell=True):
                ok(where, "ran")
            self.left_behind(where, body, before)
        else:
            fail(where, "```%s: no rule says how to check this kind of block" % info)


def slug(heading):
    """The anchor mdBook and GitHub give a heading."""
    h = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", h).replace(" ", "-")


def check_links(path):
    """Every relative link names a file that exists and, with #anchor, a heading in it."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.S | re.M)
    rel = os.path.relpath(path, REPO)
    bad = 0
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(dest):
            fail(rel, "link to %s: no such file" % target)
            bad += 1
        elif anchor and dest.endswith(".md"):
            heads = re.findall(r"^#+ (.*)$", open(dest, encoding="utf-8").read(), re.M)
            if anchor not in {slug(h) for h in heads}:
                fail(rel, "link to %s: no such heading" % target)
                bad += 1
    if not bad:
        ok(rel, "links resolve")


def main():
    lib_rs = open(os.path.join(REPO, "src", "lib.rs"), encoding="utf-8").read()
    included = " ".join(os.path.normpath(os.path.join("src", p))
                        for p in re.findall(r'include_str!\("([^"]+)"\)', lib_rs))
    for path in doc_files():
        check_links(path)
        ch = Chapter(path)
        text = open(path, encoding="utf-8").read()
        for line, info, body in blocks(text):
            ch.check(line, info, body, included)
        subprocess.run(["rm", "-rf", ch.tmp])
    print("docs: %(run)d runs, %(doctest)d Rust doctests (cargo test --doc), "
          "%(norun)d not run for a checked reason, %(text)d text/file blocks" % counts)
    if failures:
        sys.exit("docs: %d block(s) failed:\n  %s" % (len(failures), "\n  ".join(failures)))
    print("docs: every block ran as written")


main()
