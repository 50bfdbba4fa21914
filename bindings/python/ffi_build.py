"""cffi (API, out-of-line) builder for pmq._pmq_cffi: everything but the
hot path (send and receive are in src/pmq/_fast.c, a plain C extension).

Compiles a small C shim against include/pmq.h of the Rust sources (see
rust_root()) and links it to the libpmq.so cargo builds from them
(setup.py runs cargo first and bundles the library next to the extension;
the extension finds it through RPATH=$ORIGIN, no environment needed).

Every fallible pmq call goes through a shim that returns 0 on success or,
on failure, a token (sequence << 8 | status) after copying pmq's detail text
(pmq_last_error) and errno into a small per-thread ring, on the same thread,
right after the failing call. Python reads the detail with the token, so a
Python signal handler that runs between the call and the read (it may, on
any return from C) and makes a failing pmq call itself cannot replace it.
"""

import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))


def rust_root():
    """Where the Rust workspace that builds libpmq is: rust/ next to this
    file in an sdist (setup.py's sdist command vendors the crates pmq and
    pmq-ffi there), else the pmq checkout two directories up."""
    vendored = os.path.join(HERE, "rust")
    if os.path.exists(os.path.join(vendored, "Cargo.toml")):
        return vendored
    return os.path.normpath(os.path.join(HERE, "..", ".."))


REPO = rust_root()


def cargo_lib_dir():
    """Where `cargo build --release -p pmq-ffi` puts libpmq.so."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    if not os.path.isabs(target):
        target = os.path.join(REPO, target)
    return os.path.join(target, "release")


CDEF = """
typedef struct pmq_queue pmq_queue;

#define PMQ_O_CREAT ...
#define PMQ_O_EXCL ...
#define PMQ_O_NONBLOCK ...
#define PMQ_PRIORITY_MAX ...
#define PMQ_DEFAULT_MODE ...
#define PMQ_DESCRIBE_SHORT ...
#define PMQ_DESCRIBE_DEBUG ...

#define PMQ_STATUS_OK ...
#define PMQ_STATUS_WOULD_BLOCK ...
#define PMQ_STATUS_TIMED_OUT ...
#define PMQ_STATUS_BUSY ...
#define PMQ_STATUS_EXISTS ...
#define PMQ_STATUS_NOT_FOUND ...
#define PMQ_STATUS_PERMISSION ...
#define PMQ_STATUS_INTERRUPTED ...
#define PMQ_STATUS_INVALID_ARGUMENT ...
#define PMQ_STATUS_MESSAGE_TOO_LARGE ...
#define PMQ_STATUS_BUFFER_TOO_SMALL ...
#define PMQ_STATUS_SYSTEM_LIMIT ...
#define PMQ_STATUS_CLOSED ...
#define PMQ_STATUS_OUT_OF_MEMORY ...
#define PMQ_STATUS_OS_ERROR ...
#define PMQ_STATUS_PANIC ...
#define PMQ_STATUS_NOT_SUPPORTED ...
#define PMQ_STATUS_CORRUPTED ...
#define PMQ_BACKEND_KERNEL ...
#define PMQ_BACKEND_SHM ...

bool pmq_message_queues_supported(void);
int64_t pmq_queue_messages_max_default(void);
int64_t pmq_queue_message_size_max_default(void);
uint32_t pmq_priority_max(void);
const char *pmq_version(void);
const char *pmq_status_name(int status);
const char *pmq_status_str(int status);
bool pmq_status_is_busy(int status);
int pmq_status_last(void);
void pmq_queue_free(pmq_queue *q);
const char *pmq_queue_name(const pmq_queue *q);

/* The shims (see the module docstring). */
const char *pmq_py_error_detail(int64_t token);
int pmq_py_error_errno(int64_t token);
int64_t pmq_py_open(const char *name, int flags, uint32_t mode, int64_t max_messages,
                    int64_t max_message_size, bool read, bool write, uint32_t backend,
                    pmq_queue **out, int64_t *attrs);
int64_t pmq_py_close(const pmq_queue *q);
int64_t pmq_py_unlink(const pmq_queue *q);
int64_t pmq_py_unlink_name(const char *name);
int64_t pmq_py_unlink_backend(const char *name, uint32_t backend);
int64_t pmq_py_fileno(const pmq_queue *q, int *out);
typedef struct pmq_receipt {
    uint64_t seq;
    uint32_t len;
    uint32_t priority;
    uint32_t pid;
    bool taken;
    bool queued;
    uint8_t head[16];
} pmq_receipt;
int64_t pmq_py_dead_receipts(const pmq_queue *q, pmq_receipt *out, size_t cap, size_t *count);
int64_t pmq_py_get_block(const pmq_queue *q, bool *out);
int64_t pmq_py_set_block(const pmq_queue *q, bool block);
int64_t pmq_py_current_messages(const pmq_queue *q, int64_t *out);
int64_t pmq_py_describe(const pmq_queue *q, int style, char *buf, size_t buf_len,
                        size_t *needed);
int64_t pmq_py_notify_signal(const pmq_queue *q, int signo);
int64_t pmq_py_notify_callback(const pmq_queue *q, void *param);
int64_t pmq_py_notify_cancel(const pmq_queue *q);

/* Runs the Python trampoline (pmq._notify_trampoline) on pmq's thread. */
extern "Python" void pmq_py_notify_trampoline(void *param);
"""

SOURCE = r"""
#include <stdint.h>
#include <string.h>
#include "pmq.h"

#define PMQ_PY_RING 16
#define PMQ_PY_DETAIL 2048

struct pmq_py_error {
    uint32_t seq;
    int err;
    char detail[PMQ_PY_DETAIL];
};

static __thread struct pmq_py_error pmq_py_ring[PMQ_PY_RING];
static __thread uint32_t pmq_py_seq;

/* Called right after a pmq call failed with `st`, on the same thread. */
static int64_t pmq_py_fail(pmq_status st)
{
    uint32_t seq = ++pmq_py_seq & 0xffffffu;
    struct pmq_py_error *e = &pmq_py_ring[seq % PMQ_PY_RING];
    e->seq = seq;
    e->err = pmq_last_error_errno();
    pmq_last_error_copy(e->detail, sizeof e->detail);
    return ((int64_t)seq << 8) | ((int64_t)st & 0xff);
}

static struct pmq_py_error *pmq_py_slot(int64_t token)
{
    uint32_t seq = (uint32_t)(token >> 8) & 0xffffffu;
    struct pmq_py_error *e = &pmq_py_ring[seq % PMQ_PY_RING];
    return e->seq == seq ? e : NULL;
}

static const char *pmq_py_error_detail(int64_t token)
{
    struct pmq_py_error *e = pmq_py_slot(token);
    return e ? e->detail : "";
}

static int pmq_py_error_errno(int64_t token)
{
    struct pmq_py_error *e = pmq_py_slot(token);
    return e ? e->err : 0;
}

#define PMQ_PY_CALL(expr) do { \
        pmq_status st_ = (expr); \
        return st_ == PMQ_STATUS_OK ? 0 : pmq_py_fail(st_); \
    } while (0)

/* attrs receives max_messages, max_message_size. */
static int64_t pmq_py_open(const char *name, int flags, uint32_t mode, int64_t max_messages,
                           int64_t max_message_size, bool read, bool write, uint32_t backend,
                           pmq_queue **out, int64_t *attrs)
{
    struct pmq_options o;
    struct pmq_attributes a;
    pmq_queue *q = NULL;
    pmq_status st = pmq_options_init(&o);
    if (st != PMQ_STATUS_OK)
        return pmq_py_fail(st);
    o.flags = flags;
    o.mode = mode;
    o.max_messages = max_messages;
    o.max_message_size = max_message_size;
    o.read = read;
    o.write = write;
    o.block = true;
    o.retry_on_interrupt = false;
    o.backend = backend;
    st = pmq_queue_open(name, &o, &q);
    if (st != PMQ_STATUS_OK)
        return pmq_py_fail(st);
    st = pmq_queue_get_attributes(q, &a);
    if (st != PMQ_STATUS_OK) {
        int64_t token = pmq_py_fail(st);
        pmq_queue_free(q);
        return token;
    }
    attrs[0] = a.max_messages;
    attrs[1] = a.max_message_size;
    *out = q;
    return 0;
}

static int64_t pmq_py_close(const pmq_queue *q) { PMQ_PY_CALL(pmq_queue_close(q)); }
static int64_t pmq_py_unlink(const pmq_queue *q) { PMQ_PY_CALL(pmq_queue_unlink(q)); }
static int64_t pmq_py_unlink_name(const char *name) { PMQ_PY_CALL(pmq_unlink(name)); }
static int64_t pmq_py_unlink_backend(const char *name, uint32_t backend)
{
    PMQ_PY_CALL(pmq_unlink_backend(name, backend));
}
static int64_t pmq_py_fileno(const pmq_queue *q, int *out) { PMQ_PY_CALL(pmq_queue_fileno(q, out)); }
static int64_t pmq_py_dead_receipts(const pmq_queue *q, pmq_receipt *out, size_t cap,
                                    size_t *count)
{
    PMQ_PY_CALL(pmq_queue_dead_receipts(q, out, cap, count));
}
static int64_t pmq_py_get_block(const pmq_queue *q, bool *out) { PMQ_PY_CALL(pmq_queue_get_block(q, out)); }
static int64_t pmq_py_set_block(const pmq_queue *q, bool block) { PMQ_PY_CALL(pmq_queue_set_block(q, block)); }
static int64_t pmq_py_current_messages(const pmq_queue *q, int64_t *out)
{
    PMQ_PY_CALL(pmq_queue_current_messages(q, out));
}
static int64_t pmq_py_describe(const pmq_queue *q, int style, char *buf, size_t buf_len,
                               size_t *needed)
{
    PMQ_PY_CALL(pmq_queue_describe(q, style, buf, buf_len, needed));
}
static int64_t pmq_py_notify_signal(const pmq_queue *q, int signo)
{
    PMQ_PY_CALL(pmq_queue_notify_signal(q, signo));
}

static void pmq_py_notify_trampoline(void *param);

static int64_t pmq_py_notify_callback(const pmq_queue *q, void *param)
{
    PMQ_PY_CALL(pmq_queue_notify_callback(q, pmq_py_notify_trampoline, param, NULL));
}
static int64_t pmq_py_notify_cancel(const pmq_queue *q) { PMQ_PY_CALL(pmq_queue_notify_cancel(q)); }
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "pmq._pmq_cffi",
    SOURCE,
    include_dirs=[os.path.join(REPO, "include")],
    library_dirs=[cargo_lib_dir()],
    libraries=["pmq"],
    # The bundled libpmq (copied next to the extension by setup.py).
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
