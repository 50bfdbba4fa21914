#!/usr/bin/env python3
"""Runs every pmq benchmark and prints ONE markdown table: pmq's figure, the
baseline's figure measured in the same run, and the ratio.

    python3 bench/driver.py --bin-dir BUILD/bench [--python VENV_PYTHON] [-q] [-r REPS]

Each cell is "median [min-max]" over the repetitions (interleaved rounds:
pmq and baseline alternate, with the order rotated every repetition).
Exit status: 0 when the core benchmarks ran (whatever the figures say);
non-zero only when they could not run. Optional parts (callgrind, the
reference package, binding hooks) are reported as skipped when missing.
"""

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---------------------------------------------------------------------------
# BINDING HOOK: rows for the Go and Python bindings.
# Each entry is a command run from the repository root whose stdout carries
# sample lines in the same protocol as bench/bench_c.c:
#     S <tab> bench-id <tab> size <tab> impl <tab> value
# with impl "pmq" for the binding and "base" for its baseline, both measured
# by the hook in interleaved rounds, for the bench ids declared in ROWS below
# (go_pair, go_batch, py_pair, py_tryrecv, py_tput, py_batch). The environment carries
# PMQ_BENCH_BIN_DIR (--bin-dir), PMQ_BENCH_REPS and PMQ_BENCH_QUICK=1 (smoke
# run). {python} is the benchmark virtualenv's interpreter (--python); a hook
# that needs it is skipped without one. A hook that is missing or fails is
# reported in the notes; the rest of the table is printed all the same.
BINDING_HOOKS = [
    # Go: bindings/go/pmq/bench (built by mk/bench.mk) printing go_pair samples:
    # impl pmq = Go binding Send+Receive; base = raw mq_send/mq_receive in a
    # C loop in the same process; raw_cgo / pmq_cgo = raw / pmq C calls, one
    # cgo call each (context rows).
    ["bindings/go/pmq/bench/run.sh"],
    # Python: py_pair / py_tryrecv / py_tput samples, impl pmq = the binding,
    # impl base = posix_ipc, interleaved in one process.
    ["{python}", "bindings/python/bench/bench_rows.py"],
    # The shared-memory backend: impl pmq = pmq's shm queue through the C
    # ABI, base = Boost.Interprocess message_queue, raw = the kernel's mq_*.
    ["bench/shm_run.sh"],
]
# Without the Python hook's samples, bench/py_reference.py still measures
# posix_ipc on its own, so the reference's figures are shown.
# ---------------------------------------------------------------------------

# (id, label, unit, baseline label, target, lower_is_better)
# target: ("le", x) ratio must be <= x; ("ge", x) >= x; ("abs_le", v) / ("abs_ge", v)
# pmq's own median (in the row's unit) must be <= / >= v; a list of these: all
# must hold; a dict {size: target}: per message size (sizes not in it: none);
# None = context only.
ROWS = [
    ("One process, send then receive (CPU ns per pair)", None),
    ("c_pair", "C ABI pmq_queue_send+receive", "ns", "raw mq_send+mq_receive", ("le", 1.05), True),
    ("rs_pair", "Rust Queue::send+receive (Forever)", "ns", "raw libc mq_send+mq_receive",
     ("le", 1.05), True),
    ("Try once: receive on an empty queue / send on a full one (CPU ns per call)", None),
    ("c_tryrecv", "C receive_timeout(0), empty", "ns", "raw mq_receive, O_NONBLOCK",
     ("le", 1.3), True),
    ("rs_tryrecv", "Rust receive(TryOnce), empty", "ns", "raw libc mq_receive, O_NONBLOCK",
     ("le", 1.3), True),
    ("c_trysend", "C send_timeout(0), full", "ns", "raw mq_send, O_NONBLOCK", ("le", 1.3), True),
    ("c_tryrecv:raw_zero", "raw mq_timedreceive, deadline {0,0} (pmq's method)", "ns",
     "raw mq_receive, O_NONBLOCK", None, True),
    ("c_trysend:raw_zero", "raw mq_timedsend, deadline {0,0} (pmq's method)", "ns",
     "raw mq_send, O_NONBLOCK", None, True),
    ("c_tryrecv:raw_expired", "raw mq_timedreceive, deadline now-1s", "ns",
     "raw mq_receive, O_NONBLOCK", None, True),
    ("c_trysend:raw_expired", "raw mq_timedsend, deadline now-1s", "ns",
     "raw mq_send, O_NONBLOCK", None, True),
    ("Timed send+receive with room/data present, timeout 1 s (CPU ns per pair)", None),
    ("c_timed", "C send_timeout(1)+receive_timeout(1)", "ns", "raw mq_timedsend+mq_timedreceive",
     ("le", 1.1), True),
    ("rs_timed", "Rust send+receive(After(1 s))", "ns", "raw libc mq_timedsend+mq_timedreceive",
     ("le", 1.1), True),
    ("Two processes, producer -> consumer (messages/s, higher is better)", None),
    ("c_tput_d*", "C pmq_queue_send -> pmq_queue_receive", "msg/s", "raw mq_send -> mq_receive",
     ("ge", 0.95), False),
    ("Ping-pong round trip, two processes over two queues (us)", None),
    ("c_pp_pinned_p50", "p50, both pinned to CPU 0", "us", "raw", ("le", 1.05), True),
    ("c_pp_pinned_p99", "p99, both pinned to CPU 0", "us", "raw", None, True),
    ("c_pp_unpinned_p50", "p50, unpinned", "us", "raw", ("le", 1.05), True),
    ("c_pp_unpinned_p99", "p99, unpinned", "us", "raw", None, True),
    ("Where pmq's extra time goes: the same loops with mq_* replaced by a stub (bench/overhead_c.c), "
     "16 B, CPU ns per operation; baseline = the raw call reaching the same stub", None),
    ("ovh_none_pair", "pair, stub returns at once (pmq's user-space cost, hot)", "ns",
     "raw call to the stub", None, True),
    ("ovh_syscall_pair", "pair, stub makes one getppid syscall (cost after a kernel entry)", "ns",
     "raw call to the stub", None, True),
    ("ovh_none_tryrecv", "try-once receive, stub fails at once", "ns", "raw call to the stub",
     None, True),
    ("ovh_syscall_tryrecv", "try-once receive, stub makes one getppid syscall", "ns",
     "raw call to the stub", None, True),
    ("Bindings (hook: bench/driver.py BINDING_HOOKS)", None),
    ("go_pair", "Go binding send+receive", "ns", "raw mq_send+mq_receive from C", ("le", 1.25), True),
    ("go_pair:raw_cgo", "raw mq_send+mq_receive, one cgo call each", "ns",
     "raw mq_send+mq_receive from C", None, True),
    ("go_pair:pmq_cgo", "pmq C calls the binding makes (timeout 0), one cgo call each", "ns",
     "raw mq_send+mq_receive from C", None, True),
    ("go_batch", "Go SendBatch + ReceiveBatch of 10 (CPU ns per message)", "ns",
     "Go binding 10 x Send, 10 x Receive", None, True),
    ("go_batch_shm", "Go shm SendBatch + ReceiveBatch of 10 (CPU ns per message)", "ns",
     "Go shm 10 x Send, 10 x Receive", None, True),
    ("py_pair", "Python binding send+receive", "ns", "posix_ipc send+receive", ("le", 1.0), True),
    ("py_tryrecv", "Python binding receive(timeout=0), empty", "ns",
     "posix_ipc receive(timeout=0)", ("le", 1.0), True),
    ("py_tput", "Python producer -> consumer, depth 10", "msg/s", "posix_ipc", ("ge", 1.0), False),
    ("py_batch", "Python send_batch + receive_batch of 10 (CPU ns per message)", "ns",
     "posix_ipc 10 x send, 10 x receive", None, True),
    ("py_batch:pmq_single", "Python binding 10 x send, 10 x receive (CPU ns per message)", "ns",
     "posix_ipc 10 x send, 10 x receive", None, True),
    ("py_batch_shm", "Python shm send_batch + receive_batch of 10 (CPU ns per message)", "ns",
     "Python shm 10 x send, 10 x receive", None, True),
    ("Shared-memory backend (hook bench/shm_run.sh): pmq shm through the C ABI vs "
     "Boost.Interprocess message_queue, same run; targets: issue 29's floors", None),
    ("shm_pair", "one process, send then receive (CPU ns per pair)", "ns",
     "Boost message_queue", {16: ("le", 1.10), 1024: ("le", 1.0), 8192: ("le", 1.0)}, True),
    ("shm_pair_batch", "one process, batches of 10 sends then one batch receive (CPU ns per "
     "message; Boost has no batch call: its pair)", "ns", "Boost message_queue", None, True),
    ("shm_depth_*", "one process, send then receive with the queue this deep, 16 B (CPU ns "
     "per pair)", "ns", "Boost message_queue", None, True),
    ("shm_prios_*", "one process, depth 1000, priorities cycling over this many values, 16 B "
     "(CPU ns per pair)", "ns", "Boost message_queue", None, True),
    ("shm_tput_d10", "producer -> consumer, 2 processes, depth 10 (msg/s)", "msg/s",
     "Boost message_queue", {16: ("ge", 8.0)}, False),
    ("shm_tput_deep", "producer -> consumer, 2 processes, depth 1000 (msg/s)", "msg/s",
     "Boost message_queue", {16: [("ge", 1.5), ("abs_ge", 6e6)], 1024: ("ge", 1.0),
                             8192: ("ge", 1.0)}, False),
    ("shm_tput_2x2", "2 producers -> 2 consumers, 4 processes, depth 1000 (msg/s)", "msg/s",
     "Boost message_queue", ("ge", 1.5), False),
    ("shm_tput_deep_batch", "producer -> consumer, depth 1000, pmq batches of 10 on both sides "
     "(msg/s; Boost per message)", "msg/s", "Boost message_queue", None, False),
    ("shm_pp_p50", "ping-pong round trip p50, 2 processes (us)", "us", "Boost message_queue",
     {16: ("abs_le", 1.5)}, True),
    ("shm_after_kill", "first send after SIGKILLing a 2 -> 2 stream (try-once calls) mid-stream, "
     "worst of 60 kills (us; the bound, 2 s, means it never completed)", "us",
     "Boost message_queue", ("abs_le", 5000), True),
    ("shm_after_kill_recv", "first receive after the same kills, worst of 60 (us; 2 s: never "
     "completed)", "us", "Boost message_queue", None, True),
    ("shm_vs_kernel", "shm pair vs the kernel's queues (CPU ns per pair)", "ns",
     "raw mq_send+mq_receive", None, True),
    ("shm_lease_ack", "producer -> consumer, depth 1000, the consumer leases and acks each "
     "message (msg/s; issue 30: costs at most 1.5x a plain receive)", "msg/s",
     "pmq shm plain receive", ("ge", 1 / 1.5), False),
    ("shm_lease_batch", "producer -> consumer, depth 1000, the consumer leases batches of 10 "
     "and acks each batch (msg/s; issue 30: at most 1.1x a receive batch)", "msg/s",
     "pmq shm receive batch of 10", ("ge", 1 / 1.1), False),
]


def run(cmd, what, required, timeout=600, env=None):
    """Runs cmd; returns its stdout, or None (with a note) if it failed."""
    try:
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        p = None
        err = str(e)
    else:
        err = p.stderr.strip()
    if p is None or p.returncode != 0:
        msg = "%s: could not run (%s)" % (what, err.splitlines()[-1] if err else "no detail")
        if required:
            print("bench: cannot run: " + msg, file=sys.stderr)
            sys.exit(2)
        NOTES.append(msg)
        return None
    return p.stdout


NOTES = []


def parse(out, samples, info):
    for line in (out or "").splitlines():
        f = line.split("\t")
        if f[0] == "S" and len(f) == 5:
            samples.setdefault((f[1], int(f[2])), {}).setdefault(f[3], []).append(float(f[4]))
        elif f[0] == "I" and len(f) == 3:
            info[f[1]] = f[2]


def fmt(v, unit):
    if unit == "msg/s":
        return "%.0fk" % (v / 1000.0)
    if unit == "us":
        return "%.1f" % v
    if unit == "Ir":
        return "%.0f" % v
    return "%.0f" % v


def cell(vals, unit):
    if not vals:
        return "-"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med, unit)
    return "%s [%s-%s]" % (fmt(med, unit), fmt(min(vals), unit), fmt(max(vals), unit))


def size_text(s):
    return "%d KiB" % (s // 1024) if s >= 1024 else "%d B" % s


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    limits = []
    for k in ("msg_max", "msgsize_max"):
        try:
            with open("/proc/sys/fs/mqueue/" + k) as f:
                limits.append("%s %s" % (k, f.read().strip()))
        except OSError:
            pass
    try:
        load = "load average %s at the start" % " ".join("%.1f" % x for x in os.getloadavg())
    except OSError:
        load = "load average unknown"
    return "nproc %d, kernel %s, CPU %s, %s, %s" % (
        os.cpu_count() or 0, platform.release(), cpu, ", ".join(limits), load)


def callgrind(bin_c, quick):
    """User-space instructions per operation (valgrind --tool=callgrind)."""
    if not shutil.which("valgrind"):
        NOTES.append("callgrind: valgrind not installed, rows skipped")
        return {}
    n = 50 if quick else 2000
    res = {}
    outdir = os.path.join(os.path.dirname(bin_c), "callgrind")
    os.makedirs(outdir, exist_ok=True)
    for bench in ("pair", "tryrecv", "trysend", "timed"):
        for impl in ("pmq", "raw"):
            out = os.path.join(outdir, "cg.%s.%s" % (bench, impl))
            if run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                    "--collect-atstart=no", "--toggle-collect=cg_loop",
                    bin_c, "cg", bench, impl, str(n)], "callgrind %s %s" % (bench, impl),
                   False) is None:
                continue
            with open(out) as f:
                m = re.search(r"^(?:summary|totals):\s*(\d+)", f.read(), re.M)
            if m:
                res[(bench, impl)] = int(m.group(1)) / n
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True, help="where bench_c and pmq-bench are")
    ap.add_argument("--python", default="", help="interpreter with posix_ipc (optional)")
    ap.add_argument("-q", "--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("-r", "--reps", type=int, default=7)
    ap.add_argument("--check", action="store_true",
                    help="smoke test: fail unless every benchmark produced its samples")
    a = ap.parse_args()
    q = ["-q"] if a.quick else []
    reps = ["-r", str(a.reps)]
    bin_c = os.path.join(a.bin_dir, "bench_c")
    bin_rs = os.path.join(a.bin_dir, "pmq-bench")

    samples, info = {}, {}
    machine_text = machine()
    parse(run([bin_c, "all"] + reps + q, "bench_c", True), samples, info)
    parse(run([bin_rs] + reps + q, "pmq-bench (Rust)", True), samples, info)
    parse(run([os.path.join(a.bin_dir, "overhead_c")] + reps + q, "overhead_c", True), samples,
          info)
    # BINDING HOOK: run every binding's script that exists (see BINDING_HOOKS).
    hook_env = dict(os.environ, PMQ_BENCH_BIN_DIR=os.path.abspath(a.bin_dir),
                    PMQ_BENCH_REPS=str(a.reps))
    if a.quick:
        hook_env["PMQ_BENCH_QUICK"] = "1"
    ran = set()
    for hook in BINDING_HOOKS:
        script = next(c for c in hook if "/" in c and not c.startswith("{"))
        if not os.path.exists(os.path.join(ROOT, script)):
            NOTES.append("binding hook %s: not present, rows not run" % script)
            continue
        if "{python}" in hook and not a.python:
            NOTES.append("binding hook %s: no --python interpreter (benchmark virtualenv), "
                         "rows not run" % script)
            continue
        cmd = [c.replace("{python}", a.python) for c in hook]
        out = run(cmd, "binding hook " + script, False, env=hook_env)
        if out is not None:
            ran.add(script)
        parse(out, samples, info)
    have_py_base = any(k[0].startswith("py_") and "base" in v for k, v in samples.items())
    if a.python and not have_py_base:
        parse(run([a.python, os.path.join(HERE, "py_reference.py"), "-r",
                   str(max(3, a.reps - 2))] + q, "posix_ipc reference", False), samples, info)
    elif not a.python:
        NOTES.append("posix_ipc reference: no --python interpreter given, rows skipped")
    cg = callgrind(bin_c, a.quick)

    lines = []
    lines.append("Machine: %s. Pinning: none unless a row says so (ping-pong pinned = both "
                 "processes on CPU 0 via sched_setaffinity). Cells: median [min-max] over %d "
                 "interleaved repetitions; ratio = median of the per-repetition ratios pmq/baseline. "
                 "One-process rows are CPU time (user+system, CLOCK_PROCESS_CPUTIME_ID), so time "
                 "preempted by other load does not count; two-process rows are wall-clock%s." % (machine_text, a.reps,
                                                 " (QUICK SMOKE RUN: figures meaningless)"
                                                 if a.quick else ""))
    lines.append("")
    lines.append("| benchmark | size | pmq | baseline | baseline is | ratio | target | met |")
    lines.append("|---|---|---|---|---|---|---|---|")
    missed = []
    for row in ROWS:
        if row[1] is None:
            lines.append("| **%s** | | | | | | | |" % row[0])
            continue
        rid, label, unit, base_label, target, _lower = row
        bench, _, subj = rid.partition(":")
        subj = subj or "pmq"
        base = "raw" if bench.startswith(("c_", "rs_", "ovh_", "shm_vs_")) else "base"
        keys = sorted(k for k in samples if re.fullmatch(bench.replace("*", r"\w+"), k[0]))
        if not keys:
            lines.append("| %s | | not run | | %s | | %s | |" % (
                label, base_label, tgt_text(target, unit)))
            continue
        for k in keys:
            s = samples[k]
            pv, bv = s.get(subj, []), s.get(base, [])
            lab = label
            m = re.fullmatch(r"c_tput_d(\d+)", k[0])
            if m:
                lab = "%s, depth %s" % (label, m.group(1))
            m = re.fullmatch(r"shm_(depth|prios)_(\d+)", k[0])
            if m:
                lab = "%s: %s" % (label, m.group(2))
            r = ratio_of(pv, bv) if pv and bv else None
            ratio = "" if r is None else "%.2f" % r
            conds = conds_of(target, k[1])
            misses = judge(conds, r, pv, unit)
            met = "" if misses is None else "**no**" if misses else "yes"
            missed += ["%s %s: %s" % (lab, size_text(k[1]), m) for m in misses or []]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                lab, size_text(k[1]), cell(pv, unit) if pv else "not run", cell(bv, unit),
                base_label, ratio, tgt_text(conds, unit), met))

    lines.append("| **Timeout accuracy on an empty queue: lateness in us, min / p50 / p99 / max "
                 "(never early)** | | | | | | | |")
    for bench, label in (("c_late1ms", "1 ms timeout"), ("c_late10ms", "10 ms timeout")):
        s = samples.get((bench, 16), {})
        pv, bv = s.get("pmq", []), s.get("raw", [])
        if not pv:
            continue
        early = sum(1 for v in pv if v < 0)
        p99 = pct(pv, 99)
        ok = early == 0 and p99 <= 200
        if not ok:
            missed.append("%s: early %d, p99 %.0f us" % (label, early, p99))
        lines.append("| %s (%d samples) | | %s | %s | raw mq_timedreceive, REALTIME deadline | "
                     "| never early, p99 <= 200 us | %s |" % (
                         label, len(pv), lat(pv), lat(bv), "yes" if ok else "**no**"))

    lines.append("| **User-space instructions per operation (callgrind), 16 B** | | | | | | | |")
    for bench, label in (("pair", "send+receive pair"), ("tryrecv", "try-once receive, empty"),
                         ("trysend", "try-once send, full"), ("timed", "timed pair, 1 s")):
        p, b = cg.get((bench, "pmq")), cg.get((bench, "raw"))
        if p is None or b is None:
            continue
        lines.append("| %s | 16 B | %.0f | %.0f | raw glibc mq_* | %.1f | | |" % (
            label, p, b, p / b))

    print("\n".join(lines))
    print()
    for n in NOTES:
        print("note: " + n)
    info.update(absolute_info(samples))
    for k in sorted(info):
        print("info: %s: %s" % (k, info[k]))
    if a.quick:
        print("targets: not judged in a quick smoke run (figures meaningless)")
    elif missed:
        print("targets missed: " + "; ".join(missed))
    else:
        print("targets missed: none")
    if a.check:
        return check(samples, cg, a.python)
    return 0


def check(samples, cg, python):
    """Smoke test: every benchmark ran and produced positive figures for pmq
    and its baseline (values are not judged: no timing assertions). A binding
    hook is required when what it needs is there: Go when `go` is on PATH,
    the Python rows when the benchmark virtualenv has posix_ipc and pmq."""
    passed, failed = 0, 0
    expect = []
    for bench in ("c_pair", "c_timed", "rs_pair", "rs_timed", "rs_tryrecv",
                  "c_pp_pinned_p50", "c_pp_pinned_p99", "c_pp_unpinned_p50",
                  "c_pp_unpinned_p99"):
        for size in (16, 1024, 8192):
            expect.append((bench, size, ("pmq", "raw")))
    for bench in ("ovh_none_pair", "ovh_syscall_pair", "ovh_none_tryrecv",
                  "ovh_syscall_tryrecv"):
        expect.append((bench, 16, ("pmq", "raw")))
    for bench in ("c_tryrecv", "c_trysend"):
        for size in (16, 1024, 8192):
            expect.append((bench, size, ("pmq", "raw", "raw_zero", "raw_expired")))
    for bench in ("c_late1ms", "c_late10ms"):
        expect.append((bench, 16, ("pmq", "raw")))
    tput = [k for k in samples if k[0].startswith("c_tput_d")]
    expect += [(k[0], k[1], ("pmq", "raw")) for k in tput]
    if len(tput) < 3:
        print("FAIL: producer -> consumer produced %d of at least 3 rows" % len(tput))
        failed += 1
    if shutil.which("go"):
        for size in (16, 1024, 8192):
            expect.append(("go_pair", size, ("pmq", "base", "raw_cgo", "pmq_cgo")))
            expect.append(("go_batch", size, ("pmq", "base")))
            expect.append(("go_batch_shm", size, ("pmq", "base")))
    else:
        print("skipped: the Go row (go is not on PATH)")
    if os.path.exists("/usr/include/boost/interprocess/ipc/message_queue.hpp"):
        for bench in ("shm_depth_10", "shm_depth_100", "shm_depth_10000", "shm_prios_1",
                      "shm_prios_32", "shm_prios_32768"):
            expect.append((bench, 16, ("pmq", "base")))
        for bench in ("shm_pair", "shm_pair_batch", "shm_tput_d10", "shm_tput_deep",
                      "shm_tput_deep_batch", "shm_pp_p50"):
            for size in (16, 1024, 8192):
                expect.append((bench, size, ("pmq", "base")))
        for size in (16, 1024, 8192):
            expect.append(("shm_vs_kernel", size, ("pmq", "raw")))
        for bench in ("shm_tput_2x2", "shm_after_kill", "shm_after_kill_recv",
                      "shm_lease_ack", "shm_lease_batch"):
            expect.append((bench, 16, ("pmq", "base")))
    else:
        print("skipped: the shm rows (Boost.Interprocess is not installed)")
    if python:
        py_impls = ("pmq", "base")
        if subprocess.run([python, "-c", "import pmq"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            print("skipped: the Python binding's samples (pmq is not installed in %s)" % python)
            py_impls = ("base",)
        for bench in ("py_pair", "py_tryrecv", "py_tput"):
            for size in (16, 1024, 8192):
                expect.append((bench, size, py_impls))
        if "pmq" in py_impls:
            for size in (16, 1024, 8192):
                expect.append(("py_batch", size, ("pmq", "base", "pmq_single")))
                expect.append(("py_batch_shm", size, ("pmq", "base")))
    else:
        print("skipped: the Python rows (no benchmark virtualenv with posix_ipc)")
    for bench, size, impls in expect:
        for impl in impls:
            vals = samples.get((bench, size), {}).get(impl, [])
            if vals and all(v == v for v in vals) and (bench.startswith("c_late") or
                                                       all(v > 0 for v in vals)):
                passed += 1
            else:
                print("FAIL: no valid samples for %s %s %s: %r" % (bench, size, impl, vals))
                failed += 1
    if shutil.which("valgrind"):
        for bench in ("pair", "tryrecv", "trysend", "timed"):
            for impl in ("pmq", "raw"):
                if cg.get((bench, impl), 0) > 0:
                    passed += 1
                else:
                    print("FAIL: no callgrind count for %s %s" % (bench, impl))
                    failed += 1
    print("test-bench: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def ratio_of(pv, bv):
    """Median of the per-repetition ratios (pmq and baseline of the same
    repetition ran back to back, so a slow drift in background load cancels);
    the ratio of the medians when the samples do not pair up."""
    if len(pv) == len(bv):
        return statistics.median(p / b for p, b in zip(pv, bv))
    return statistics.median(pv) / statistics.median(bv)


def pct(vals, p):
    v = sorted(vals)
    return v[min(len(v) - 1, (len(v) * p) // 100)]


def lat(vals):
    if not vals:
        return "-"
    return "%.0f / %.0f / %.0f / %.0f" % (min(vals), pct(vals, 50), pct(vals, 99), max(vals))


def conds_of(target, size):
    """A row's target for one message size, as a list of (op, value)."""
    if isinstance(target, dict):
        target = target.get(size)
    if not target:
        return []
    return list(target) if isinstance(target, list) else [target]


def judge(conds, ratio, pv, unit):
    """None when nothing could be judged, else the list of misses (texts)."""
    misses, judged = [], False
    for op, x in conds:
        if op in ("le", "ge"):
            if ratio is None:
                continue
            v, text = ratio, "%.2f" % ratio
        else:
            if not pv:
                continue
            v = statistics.median(pv)
            text = "pmq %s %s" % (fmt(v, unit), unit)
        judged = True
        if not (v <= x if op.endswith("le") else v >= x):
            misses.append("%s (target %s)" % (text, cond_text(op, x, unit)))
    return misses if judged else None


def cond_text(op, x, unit):
    if op in ("le", "ge"):
        return ("<= %.2f" if op == "le" else ">= %.2f") % x
    return "pmq %s %s %s" % ("<=" if op == "abs_le" else ">=", fmt(x, unit), unit)


def tgt_text(t, unit):
    """A target (or a list of conditions) as text; a per-size target names its sizes."""
    if isinstance(t, dict):
        return "; ".join("%s: %s" % (size_text(s), tgt_text(v, unit)) for s, v in sorted(t.items()))
    return " and ".join(cond_text(op, x, unit) for op, x in conds_of(t, None))


# Absolute figures printed under the table (issue 29 names them): (bench, size,
# what, floor text).
ABSOLUTE_INFO = [
    ("shm_tput_deep", 16, "shm 1->1 stream, cap 1000, 16 B (msg/s; floor: pmq >= 6 M msg/s)"),
    ("shm_tput_2x2", 16, "shm 2->2 stream, cap 1000, 16 B (msg/s)"),
]


def absolute_info(samples):
    out = {}
    for bench, size, what in ABSOLUTE_INFO:
        s = samples.get((bench, size), {})
        parts = ["%s %s" % (who, mega(s[impl])) for impl, who in (("pmq", "pmq"), ("base", "Boost"))
                 if s.get(impl)]
        if parts:
            out[what] = ", ".join(parts)
    return out


def mega(vals):
    """median [min-max] in M."""
    return "%.2f M [%.2f-%.2f]" % (statistics.median(vals) / 1e6, min(vals) / 1e6,
                                   max(vals) / 1e6)


if __name__ == "__main__":
    sys.exit(main())
