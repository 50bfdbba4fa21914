"""The Python rows of the benchmark table: the pmq binding
against the reference package, posix_ipc, measured in the same process,
interleaved round by round. bench/driver.py runs this (its BINDING_HOOKS)
with the benchmark virtualenv's interpreter, which has both packages.

    python bench_rows.py [-r REPS] [-q] [-b BENCH[,BENCH...]]

(-b: only these benchmarks, e.g. -b py_batch,py_batch_shm)

(the driver passes PMQ_BENCH_REPS and PMQ_BENCH_QUICK=1 in the environment
instead). Prints one sample per line, the protocol of bench/bench_c.c:

    S <tab> bench <tab> size <tab> impl <tab> value

with impl "pmq" (this binding) and "base" (posix_ipc), for
    py_pair     send + receive in one process, CPU ns per pair
    py_tryrecv  receive(timeout=0) on an empty queue (BusyError), CPU ns per call
    py_tput     producer -> consumer, two processes (fork), depth 10, messages/s
    py_batch    10 messages through a depth-10 kernel queue, CPU ns per message:
                impl pmq = one send_batch + one receive_batch(10), base =
                posix_ipc 10 x send + 10 x receive, pmq_single = pmq's own
                10 x send + 10 x receive
    py_batch_shm  the same on pmq's shm backend (posix_ipc has none): impl pmq =
                send_batch + receive_batch(10), base = 10 x send + 10 x receive
Every repetition runs both packages back to back, the order alternating
(the ideas of bench.py, next to this file, in the driver's format).
One-process figures are CPU time (time.process_time_ns), so time preempted
by other load does not count; throughput is wall-clock time.
Queues are unlinked right after they are opened. Exit status 2: cannot run.
"""

import os
import sys
import time

try:
    import posix_ipc
    import pmq
except ImportError as e:
    print("bench_rows: cannot run: %s (pip install posix_ipc ./bindings/python)" % e,
          file=sys.stderr)
    sys.exit(2)

SIZES = (16, 1024, 8192)
MODULES = (("pmq", pmq), ("base", posix_ipc))
_counter = [0]


def open_queue(mod, depth, size):
    """A new queue, unlinked at once; retries while the per-user allowance
    (RLIMIT_MSGQUEUE, shared with every other user of this machine) is used up."""
    for attempt in range(50):
        _counter[0] += 1
        name = "/pmq_bench_pyrows_%d_%d" % (os.getpid(), _counter[0])
        try:
            q = mod.MessageQueue(name, mod.O_CREX, max_messages=depth, max_message_size=size)
        except (OSError, mod.Error):
            if attempt == 49:
                raise
            time.sleep(0.1)
            continue
        q.unlink()
        return q
    raise RuntimeError("unreachable")


def pair(q, msg, n):
    send, receive = q.send, q.receive
    size = len(msg)
    t0 = time.process_time_ns()
    for _ in range(n):
        send(msg)
        m, _ = receive()
    t1 = time.process_time_ns()
    if len(m) != size:
        raise RuntimeError("received %d bytes, sent %d" % (len(m), size))
    return (t1 - t0) / n


def tryrecv(mod, q, n):
    receive, busy = q.receive, mod.BusyError
    t0 = time.process_time_ns()
    for _ in range(n):
        try:
            receive(0)
        except busy:
            pass
        else:
            raise RuntimeError("receive(0) on an empty queue returned a message")
    return (time.process_time_ns() - t0) / n


def throughput(q, msg, n):
    """Messages/s from this process to a forked consumer: from the first send
    to the consumer's last receive."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # consumer
        code = 0
        try:
            os.close(rfd)
            receive = q.receive
            for _ in range(n):
                receive()
            os.write(wfd, str(time.monotonic_ns()).encode())
        except BaseException:
            code = 3
        os._exit(code)
    os.close(wfd)
    send = q.send
    t0 = time.monotonic_ns()
    for _ in range(n):
        send(msg)
    t1 = int(os.read(rfd, 64) or b"0")
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    if status != 0 or t1 <= t0:
        raise RuntimeError("consumer failed (wait status %d)" % status)
    return n / ((t1 - t0) / 1e9)


def rotated(r):
    return MODULES if r % 2 == 0 else MODULES[::-1]


BATCH = 10


def per_message(q, msgs, n):
    """n rounds of BATCH sends then BATCH receives: CPU ns per message."""
    send, receive = q.send, q.receive
    t0 = time.process_time_ns()
    for _ in range(n):
        for m in msgs:
            send(m)
        for _ in msgs:
            m, _ = receive()
    t1 = time.process_time_ns()
    if len(m) != len(msgs[-1]):
        raise RuntimeError("received %d bytes, sent %d" % (len(m), len(msgs[-1])))
    return (t1 - t0) / (n * len(msgs))


def batched(q, msgs, n):
    """n rounds of one send_batch(BATCH) and one receive_batch(BATCH)."""
    send_batch, receive_batch = q.send_batch, q.receive_batch
    count = len(msgs)
    t0 = time.process_time_ns()
    for _ in range(n):
        if send_batch(msgs) != count:
            raise RuntimeError("send_batch sent part of the batch")
        got = receive_batch(count)
        if len(got) != count:
            raise RuntimeError("receive_batch took %d of %d" % (len(got), count))
    t1 = time.process_time_ns()
    return (t1 - t0) / (n * count)


def open_shm(depth, size):
    """A new shared-memory queue (no per-user allowance), unlinked at once."""
    _counter[0] += 1
    name = "/pmq_bench_pyrows_%d_%d" % (os.getpid(), _counter[0])
    q = pmq.MessageQueue(name, pmq.O_CREX, max_messages=depth, max_message_size=size,
                         backend="shm")
    q.unlink()
    return q


def batch_rows(size, reps, n):
    msgs = [b"x" * size] * BATCH
    loops = (("pmq", batched, "pmq"), ("base", per_message, "base"),
             ("pmq_single", per_message, "pmq"))
    qs = {}
    try:
        for impl, mod in MODULES:
            qs[impl] = open_queue(mod, BATCH, size)
        for impl, loop, qimpl in loops:  # warm up
            loop(qs[qimpl], msgs, n // 10 + 1)
        for r in range(reps):
            for k in range(len(loops)):
                impl, loop, qimpl = loops[(k + r) % len(loops)]
                sample("py_batch", size, impl, loop(qs[qimpl], msgs, n))
    finally:
        for q in qs.values():
            q.close()
    q = open_shm(BATCH, size)
    try:
        loops = (("pmq", batched), ("base", per_message))
        for _, loop in loops:
            loop(q, msgs, n // 10 + 1)
        for r in range(reps):
            for k in range(len(loops)):
                impl, loop = loops[(k + r) % len(loops)]
                sample("py_batch_shm", size, impl, loop(q, msgs, n))
    finally:
        q.close()


def sample(bench, size, impl, value):
    print("S\t%s\t%d\t%s\t%.1f" % (bench, size, impl, value), flush=True)


def main(argv):
    reps = int(os.environ.get("PMQ_BENCH_REPS") or 7)
    quick = os.environ.get("PMQ_BENCH_QUICK") == "1"
    only = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "-q":
            quick = True
        elif a == "-r" and args:
            reps = int(args.pop(0))
        elif a == "-b" and args:
            only = set(args.pop(0).split(","))
        else:
            print("bench_rows: unknown argument %s" % a, file=sys.stderr)
            return 2
    reps = max(1, reps)
    n_pair = 200 if quick else 20000
    n_try = 200 if quick else 20000
    n_tput = 300 if quick else 30000
    n_batch = 20 if quick else 2000
    print("I\tpy_versions\tpython %s, pmq %s (libpmq %s), posix_ipc %s" % (
        sys.version.split()[0], pmq.VERSION, pmq.LIBPMQ_VERSION, posix_ipc.VERSION), flush=True)
    def wanted(*benches):
        return only is None or any(b in only for b in benches)

    for size in SIZES:
        msg = b"x" * size
        if wanted("py_batch", "py_batch_shm"):
            batch_rows(size, reps, n_batch)
        if not wanted("py_pair", "py_tryrecv", "py_tput"):
            continue
        qs = {}
        try:
            for impl, mod in MODULES:
                qs[impl] = open_queue(mod, 1, size)
            for impl, mod in MODULES:  # warm up
                pair(qs[impl], msg, n_pair // 10 + 1)
                tryrecv(mod, qs[impl], n_try // 10 + 1)
            for r in range(reps):
                for impl, _mod in rotated(r):
                    sample("py_pair", size, impl, pair(qs[impl], msg, n_pair))
                for impl, mod in rotated(r):
                    sample("py_tryrecv", size, impl, tryrecv(mod, qs[impl], n_try))
        finally:
            for q in qs.values():
                q.close()
        # One depth-10 queue at a time: 8 KiB x 10 is a tenth of the
        # per-user allowance shared with everyone else.
        for r in range(reps):
            for impl, mod in rotated(r):
                q = open_queue(mod, 10, size)
                try:
                    sample("py_tput", size, impl, throughput(q, msg, n_tput))
                finally:
                    q.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as e:  # cannot run: say why, exit 2
        print("bench_rows: cannot run: %r" % (e,), file=sys.stderr)
        sys.exit(2)
