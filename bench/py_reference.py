"""The reference package (posix_ipc) timed on the same machine, for the table's
Python rows. Prints `S <tab> bench <tab> size <tab> impl <tab> value` lines
(impl "base" = posix_ipc); a pmq Python binding adds impl "pmq" for the same
bench ids through the driver's BINDING HOOK (see bench/driver.py).

Usage: python py_reference.py [-r REPS] [-q]
Exit status 2 when it cannot run (posix_ipc missing, queue limits exhausted).
"""

import os
import sys
import time

try:
    import posix_ipc
except ImportError:
    print("py_reference: cannot run: posix_ipc is not installed", file=sys.stderr)
    sys.exit(2)

SIZES = (16, 1024, 8192)


def open_queue(depth, size):
    name = "/pmq_bench_py_%d_%d_%d" % (os.getpid(), depth, size)
    for attempt in range(50):
        try:
            q = posix_ipc.MessageQueue(
                name, posix_ipc.O_CREX, max_messages=depth, max_message_size=size
            )
            q.unlink()  # nothing is left behind, whatever happens next
            return q
        except OSError:
            if attempt == 49:
                raise
            time.sleep(0.1)
    raise RuntimeError("unreachable")


def pair(q, msg, n):
    send, receive = q.send, q.receive
    t0 = time.perf_counter_ns()
    for _ in range(n):
        send(msg)
        receive()
    return (time.perf_counter_ns() - t0) / n


def tryrecv(q, n):
    receive, busy = q.receive, posix_ipc.BusyError
    t0 = time.perf_counter_ns()
    for _ in range(n):
        try:
            receive(0)
        except busy:
            pass
        else:
            raise RuntimeError("receive on an empty queue returned a message")
    return (time.perf_counter_ns() - t0) / n


def throughput(q, msg, n):
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
        raise RuntimeError("consumer failed")
    return n / ((t1 - t0) / 1e9)


def main():
    reps, quick = 5, False
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "-q":
            quick = True
        elif a == "-r" and args:
            reps = max(1, int(args.pop(0)))
        else:
            print("py_reference: unknown argument %s" % a, file=sys.stderr)
            return 2
    n_pair = 200 if quick else 20000
    n_try = 200 if quick else 20000
    n_tput = 300 if quick else 30000
    for size in SIZES:
        msg = b"x" * size
        q = open_queue(1, size)
        try:
            pair(q, msg, n_pair // 10 + 1)
            for _ in range(reps):
                print("S\tpy_pair\t%d\tbase\t%.1f" % (size, pair(q, msg, n_pair)), flush=True)
                print("S\tpy_tryrecv\t%d\tbase\t%.1f" % (size, tryrecv(q, n_try)), flush=True)
        finally:
            q.close()
        q = open_queue(10, size)
        try:
            for _ in range(reps):
                print("S\tpy_tput\t%d\tbase\t%.1f" % (size, throughput(q, msg, n_tput)), flush=True)
        finally:
            q.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # cannot run: say why, exit 2
        print("py_reference: cannot run: %r" % (e,), file=sys.stderr)
        sys.exit(2)
