/* The shared-memory backend through the C ABI: chosen with
 * pmq_options.backend, the same calls and rules as the kernel backend
 * (priorities, FIFO within one, try-once / timed waits, attributes, the
 * readiness descriptor, notifications, unlink by name), sizes the kernel's
 * limits would refuse, and a wrong backend value refused with a detail. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "util.h"

static pmq_options shm_options(int flags, int64_t max_messages, int64_t max_size) {
    pmq_options o = test_options(flags, max_messages, max_size);
    o.backend = PMQ_BACKEND_SHM;
    return o;
}

static void options_and_backend_values(void) {
    pmq_options o;
    CHECK_OK(pmq_options_init(&o));
    CHECK(o.backend == PMQ_BACKEND_KERNEL && o.max_deliveries == 0);
    CHECK(sizeof(pmq_options) == 64);
    const char *name = test_queue_name("shm-bad");
    o = shm_options(PMQ_O_CREX, 2, 16);
    o.backend = 7;
    pmq_queue *q = NULL;
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("PMQ_BACKEND_SHM");
    CHECK(q == NULL);
    CHECK_STATUS(pmq_unlink_backend(name, 7), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_unlink_backend(NULL, PMQ_BACKEND_SHM), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_backend(NULL, NULL), PMQ_STATUS_INVALID_ARGUMENT);
}

static void send_receive_beyond_kernel_limits(void) {
    const char *name = test_queue_name("shm-big");
    /* 2000 messages: far above fs.mqueue.msg_max (10 by default). */
    pmq_options o = shm_options(PMQ_O_CREX, 2000, 64);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    uint32_t b = 99;
    CHECK_OK(pmq_queue_backend(q, &b));
    CHECK(b == PMQ_BACKEND_SHM);
    for (uint32_t i = 0; i < 2000; i++) {
        CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)&i, sizeof i, i % 5, 0));
    }
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, 0.02), PMQ_STATUS_TIMED_OUT);
    pmq_attributes a;
    CHECK_OK(pmq_queue_get_attributes(q, &a));
    CHECK(a.max_messages == 2000 && a.max_message_size == 64 && a.current_messages == 2000);
    uint8_t buf[64];
    size_t n = 0;
    uint32_t prio = 0, last[5] = {0, 0, 0, 0, 0}, top = 4;
    for (int k = 0; k < 2000; k++) {
        CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, &prio));
        uint32_t v;
        memcpy(&v, buf, sizeof v);
        CHECK(n == sizeof v && v % 5 == prio && prio <= top);
        CHECK(k < 5 || v > last[prio] || v == 0);
        last[prio] = v;
        top = prio;
    }
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_STATUS(pmq_queue_receive(q, buf, 10, &n, NULL), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == 64);
    /* The kernel's namespace does not have it; the shared-memory one does. */
    CHECK_STATUS(pmq_unlink(name), PMQ_STATUS_NOT_FOUND);
    CHECK_OK(pmq_unlink_backend(name, PMQ_BACKEND_SHM));
    CHECK_STATUS(pmq_unlink_backend(name, PMQ_BACKEND_SHM), PMQ_STATUS_NOT_FOUND);
    /* Unlinked: the open handle keeps working. */
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"kept", 4, 1));
    CHECK(current_messages(q) == 1);
    CHECK_OK(pmq_queue_backend(q, &b)); /* works after close too */
    pmq_queue_free(q);
}

static void readiness_descriptor(void) {
    const char *name = test_queue_name("shm-poll");
    pmq_options o = shm_options(PMQ_O_CREX, 1, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    int fd = -1;
    CHECK_OK(pmq_queue_fileno(q, &fd));
    CHECK(fd >= 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK(poll(&p, 1, 0) == 0); /* empty: not readable */
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"m", 1, 0));
    p.revents = 0;
    CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN)); /* the selector wakes */
    struct pollfd w = {.fd = fd, .events = POLLOUT};
    for (int i = 0; i < 500 && poll(&w, 1, 0) != 0; i++) sleep_ms(2);
    CHECK(poll(&w, 1, 0) == 0); /* full (capacity 1): not writable */
    drop_queue(q);
}

static atomic_int called;
static void on_message(void *param) {
    (void)param;
    atomic_fetch_add(&called, 1);
}

static void callback_notification(void) {
    const char *name = test_queue_name("shm-notify");
    pmq_options o = shm_options(PMQ_O_CREX, 4, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    CHECK_OK(pmq_queue_notify_callback(q, on_message, NULL, NULL));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"n", 1, 0));
    for (int i = 0; i < 2000 && atomic_load(&called) == 0; i++) sleep_ms(2);
    CHECK(atomic_load(&called) == 1);
    CHECK_OK(pmq_queue_notify_callback(q, on_message, NULL, NULL));
    CHECK_OK(pmq_queue_notify_cancel(q));
    uint8_t buf[16];
    size_t n = 0;
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, NULL));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"n", 1, 0));
    sleep_ms(30);
    CHECK(atomic_load(&called) == 1); /* cancelled: not called */
    drop_queue(q);
}

/* fork: the child uses the handle it inherited; exec: no descriptor of the
 * queue survives into the new program (all are close-on-exec). */
static void fork_and_exec(void) {
    const char *name = test_queue_name("shm-fork");
    pmq_options o = shm_options(PMQ_O_CREX, 4, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    int fd = -1;
    CHECK_OK(pmq_queue_fileno(q, &fd)); /* a readiness descriptor exists too */
    pid_t pid = fork();
    if (pid == 0) {
        int st = pmq_queue_send(q, (const uint8_t *)"from child", 10, 4);
        _exit(st == PMQ_STATUS_OK ? 0 : 10 + st);
    }
    int ws = 0;
    CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    uint8_t buf[16];
    size_t n = 0;
    uint32_t prio = 0;
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &prio, 5.0));
    CHECK(n == 10 && prio == 4 && memcmp(buf, "from child", 10) == 0);
    pid = fork();
    if (pid == 0) {
        /* Exit status = how many of the new program's descriptors point at
         * the queue's file or an eventfd. */
        execl("/bin/sh", "sh", "-c",
              "n=0; for f in /proc/$$/fd/*; do case $(readlink $f) in "
              "*pmq.*|*eventfd*) n=$((n+1));; esac; done; exit $n",
              (char *)NULL);
        _exit(99);
    }
    CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws));
    if (WEXITSTATUS(ws) != 0) fprintf(stderr, "exec kept %d queue descriptors\n", WEXITSTATUS(ws));
    CHECK(WEXITSTATUS(ws) == 0);
    drop_queue(q);
}

/* A child opens its own handle on `name`, receives one message and is
 * SIGKILLed before it closes; returns its pid (0 on failure). */
static pid_t receive_and_die(const char *name) {
    pid_t pid = fork();
    if (pid == 0) {
        pmq_options o = shm_options(0, 0, 0);
        pmq_queue *c = NULL;
        uint8_t buf[32];
        size_t n = 0;
        if (pmq_queue_open(name, &o, &c) != PMQ_STATUS_OK ||
            pmq_queue_receive_timeout(c, buf, sizeof buf, &n, NULL, 0) != PMQ_STATUS_OK) {
            _exit(3);
        }
        raise(SIGKILL);
        _exit(4);
    }
    int ws = 0;
    CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    return pid > 0 && WIFSIGNALED(ws) ? pid : 0;
}

/* Receipts of killed receivers, read by any handle: the first one's is
 * carried by a live handle that reused its record, the second's sits in a
 * record nobody reused; too small an array says how many; the kernel
 * backend keeps none. */
static void dead_receipts(void) {
    const char *name = test_queue_name("shm-receipts");
    pmq_options o = shm_options(PMQ_O_CREX, 4, 32);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"first", 5, 3));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"second message", 14, 2));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"third", 5, 1));
    size_t count = 99;
    CHECK_OK(pmq_queue_dead_receipts(q, NULL, 0, &count));
    CHECK(count == 0);
    pid_t first = receive_and_die(name);
    /* Reuses the dead receiver's record (the lowest free one). */
    pmq_options oo = shm_options(0, 0, 0);
    pmq_queue *heir = NULL;
    CHECK_OK(pmq_queue_open(name, &oo, &heir));
    pid_t second = receive_and_die(name);
    CHECK_STATUS(pmq_queue_dead_receipts(q, NULL, 0, &count), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(count == 2 && pmq_last_error_needed() == 2);
    CHECK_DETAIL("room for 0");
    pmq_receipt r[3];
    memset(r, 0xee, sizeof r);
    CHECK_STATUS(pmq_queue_dead_receipts(q, r, 1, &count), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(count == 2 && r[0].seq == 1 && r[1].seq == 0xeeeeeeeeeeeeeeeeULL);
    memset(r, 0, sizeof r);
    CHECK_OK(pmq_queue_dead_receipts(heir, r, 3, &count));
    CHECK(count == 2);
    CHECK(r[0].pid == (uint32_t)first && r[0].seq == 1 && r[0].len == 5 && r[0].priority == 3);
    CHECK(r[0].taken && !r[0].queued && memcmp(r[0].head, "first\0", 6) == 0);
    CHECK(r[1].pid == (uint32_t)second && r[1].seq == 2 && r[1].len == 14 && r[1].priority == 2);
    CHECK(r[1].taken && !r[1].queued && memcmp(r[1].head, "second message\0\0", 16) == 0);
    /* The heir's first receive replaces the receipt it carried. */
    uint8_t buf[32];
    size_t n = 0;
    CHECK_OK(pmq_queue_receive_timeout(heir, buf, sizeof buf, &n, NULL, 0));
    CHECK_OK(pmq_queue_dead_receipts(q, r, 3, &count));
    CHECK(count == 1 && r[0].pid == (uint32_t)second);
    drop_queue(heir);
    CHECK_OK(pmq_queue_close(q));
    CHECK_STATUS(pmq_queue_dead_receipts(q, r, 3, &count), PMQ_STATUS_CLOSED);
    pmq_queue_free(q);

    pmq_queue *k = new_queue("kernel-receipts", 1, 8);
    if (!k) return;
    CHECK_STATUS(pmq_queue_dead_receipts(k, r, 3, &count), PMQ_STATUS_NOT_SUPPORTED);
    CHECK_DETAIL("shared-memory backend");
    drop_queue(k);
}

/* ---- damaged, truncated files: CORRUPTED with a
 * detail, never a signal, never PMQ_STATUS_PANIC, nothing on stderr ---- */

/* Offsets of layout version 3. */
/* Layout 3: the consumers' index (bitmap levels 0, 1, 2, list heads,
 * tails). */
#define L3_L0 640
#define L3_L1 (L3_L0 + 8)
#define L3_L2 (L3_L1 + 8 * 8)
#define L3_HEADS (L3_L2 + 8 * 512)
#define L3_TAILS (L3_HEADS + 4 * 32768)

static void shm_path(const char *name, char *path, size_t len) {
    snprintf(path, len, "/dev/shm/pmq.%s", name + 1);
}

static void poke64(const char *name, off_t off, uint64_t v) {
    char path[128];
    shm_path(name, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(pwrite(fd, &v, sizeof v, off) == (ssize_t)sizeof v);
    close(fd);
}

static uint32_t peek32(const char *name, off_t off) {
    char path[128];
    shm_path(name, path, sizeof path);
    uint32_t v = 0xdeadbeef;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (fd < 0) return v;
    CHECK(pread(fd, &v, sizeof v, off) == (ssize_t)sizeof v);
    close(fd);
    return v;
}

/* Opens the existing shm queue `name`, read-write. */
static pmq_queue *open_shm(const char *name) {
    pmq_options o = shm_options(0, 0, 0);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    return q;
}

/* Closes and frees `q`, leaving its queue in place. */
static void close_only(pmq_queue *q) {
    CHECK_OK(pmq_queue_close(q));
    pmq_queue_free(q);
}

/* A closed queue of 8 x 256 holding priorities 0, 1, 7, 7, 32767. */
static const char *five_messages(const char *tag) {
    const char *name = test_queue_name(tag);
    pmq_options o = shm_options(PMQ_O_CREX, 8, 256);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return name;
    const uint32_t prios[5] = {0, 1, 7, 7, 32767};
    for (int i = 0; i < 5; i++) {
        CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"0123456789", 10, prios[i], 0));
    }
    close_only(q);
    return name;
}

/* stderr goes to a temporary file between quiet_begin() and quiet_end(),
 * which returns how many bytes were written there. */
static int saved_stderr = -1;
static FILE *quiet_file;
static void quiet_begin(void) {
    fflush(stderr);
    quiet_file = tmpfile();
    saved_stderr = dup(2);
    if (quiet_file) dup2(fileno(quiet_file), 2);
}
static long quiet_end(void) {
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    long n = quiet_file ? lseek(fileno(quiet_file), 0, SEEK_END) : -1;
    if (quiet_file) fclose(quiet_file);
    return n;
}

/* The receive that follows a damaged file: its status and detail. */
static int receive_quietly(pmq_queue *q, char *detail, size_t len, uint32_t *prio) {
    uint8_t buf[256];
    size_t n = 0;
    quiet_begin();
    int st = pmq_queue_receive_timeout(q, buf, sizeof buf, &n, prio, 0);
    snprintf(detail, len, "%s", st ? pmq_last_error() : "");
    long noise = quiet_end();
    CHECK(noise == 0);
    return st;
}

static void damaged_files(void) {
    char detail[1024];
    uint32_t prio = 0;
    /* A bitmap naming words past its levels (was PMQ_STATUS_PANIC,
     * "shared-memory offset 1056764 out of bounds", and a panic message). */
    {
        const char *name = five_messages("shm-bitmap");
        poke64(name, L3_L0, 1ull << 63);
        poke64(name, L3_L1 + 8 * 7, 1ull << 63);
        poke64(name, L3_L2 + 8 * 511, 1ull << 63);
        pmq_queue *q = open_shm(name);
        if (q) {
            int st = receive_quietly(q, detail, sizeof detail, &prio);
            CHECK_STATUS(st, PMQ_STATUS_CORRUPTED);
            CHECK(strstr(detail, "bitmap") != NULL);
            close_only(q);
        }
    }
    /* The walk to priority 32769 (was OK at 32769, and the unlink
     * wrote into tail[1] and the first opener record). */
    {
        const char *name = five_messages("shm-32769");
        poke64(name, L3_L0, 1ull << 8);
        poke64(name, L3_L2, 1);
        poke64(name, L3_HEADS, 2);
        uint32_t tail1 = peek32(name, L3_TAILS + 4);
        pmq_queue *q = open_shm(name);
        if (q) {
            int st = receive_quietly(q, detail, sizeof detail, &prio);
            CHECK_STATUS(st, PMQ_STATUS_CORRUPTED);
            CHECK(strstr(detail, "bitmap") != NULL);
            CHECK(peek32(name, L3_TAILS + 4) == tail1);
            close_only(q);
        }
    }
    /* Truncated while mapped (was SIGBUS). */
    const off_t sizes[3] = {8192, 335872, 0};
    for (int i = 0; i < 3; i++) {
        const char *name = five_messages("shm-trunc");
        pmq_queue *q = open_shm(name);
        if (!q) continue;
        char path[128];
        shm_path(name, path, sizeof path);
        CHECK(truncate(path, sizes[i]) == 0);
        int st = receive_quietly(q, detail, sizeof detail, &prio);
        CHECK_STATUS(st, PMQ_STATUS_CORRUPTED);
        CHECK(strstr(detail, "truncated") != NULL);
        quiet_begin();
        st = pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, 0);
        CHECK(quiet_end() == 0);
        CHECK_STATUS(st, PMQ_STATUS_CORRUPTED);
        close_only(q);
    }
}

/* After fork, the child closes and frees a handle whose
 * readiness descriptor (and its helper thread, which exists only in the
 * parent) was made before fork: PMQ_STATUS_OK and nothing on stderr (it
 * used to be PMQ_STATUS_PANIC, "threads should not terminate unexpectedly"). */
static void fork_child_closes_inherited_readiness(void) {
    const char *name = test_queue_name("shm-fork-close");
    pmq_options o = shm_options(PMQ_O_CREX, 4, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    int fd = -1;
    CHECK_OK(pmq_queue_fileno(q, &fd));
    int err[2];
    CHECK(pipe(err) == 0);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(err[0]);
        dup2(err[1], 2);
        int st = pmq_queue_close(q);
        pmq_queue_free(q);
        _exit(st == PMQ_STATUS_OK ? 0 : 10 + st);
    }
    close(err[1]);
    char text[512];
    size_t got = 0;
    ssize_t r;
    while ((r = read(err[0], text + got, sizeof text - 1 - got)) > 0) got += (size_t)r;
    text[got] = 0;
    close(err[0]);
    int ws = 0;
    CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws));
    if (WEXITSTATUS(ws) != 0) fprintf(stderr, "child close returned status %d\n", WEXITSTATUS(ws) - 10);
    CHECK(WEXITSTATUS(ws) == 0);
    if (got) fprintf(stderr, "child wrote to stderr: %s\n", text);
    CHECK(got == 0);
    /* The parent's descriptor still works. */
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"p", 1, 0));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN));
    drop_queue(q);
}

/* The parent closes its handle (its helper stops); the
 * child's pmq_queue_fileno() then returns a descriptor of its own (not the
 * dead one from before fork) that turns readable when a message arrives.
 * Driven by pipes; the poll timeout is only a failure bound. */
static void fork_child_fileno_after_parent_closed(void) {
    const char *name = test_queue_name("shm-fork-poll");
    pmq_options o = shm_options(PMQ_O_CREX, 4, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    int before = -1;
    CHECK_OK(pmq_queue_fileno(q, &before));
    int down[2], up[2];
    CHECK(pipe(down) == 0 && pipe(up) == 0);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        char c;
        if (read(down[0], &c, 1) != 1) _exit(2);
        int fd = -1;
        if (pmq_queue_fileno(q, &fd) != PMQ_STATUS_OK) _exit(3);
        if (fd == before) _exit(4);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) != 0) _exit(5);
        if (write(up[1], "r", 1) != 1) _exit(6);
        p.revents = 0;
        if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLIN)) _exit(7);
        if (pmq_queue_close(q) != PMQ_STATUS_OK) _exit(8);
        pmq_queue_free(q);
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    CHECK_OK(pmq_queue_close(q));
    CHECK(write(down[1], "c", 1) == 1);
    char c;
    CHECK(read(up[0], &c, 1) == 1);
    pmq_queue *sender = NULL;
    pmq_options so = shm_options(0, 0, 0);
    CHECK_OK(pmq_queue_open(name, &so, &sender));
    if (sender) CHECK_OK(pmq_queue_send(sender, (const uint8_t *)"wake", 4, 1));
    int ws = 0;
    CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws));
    if (WEXITSTATUS(ws) != 0) fprintf(stderr, "fork poll child failed at step %d\n", WEXITSTATUS(ws));
    CHECK(WEXITSTATUS(ws) == 0);
    close(down[1]);
    close(up[0]);
    if (sender) drop_queue(sender);
    pmq_queue_free(q);
}

/* Each backend's own name limit, both boundaries on both
 * backends: the kernel takes 255 bytes after the slash
 * (PMQ_KERNEL_NAME_MAX, alias PMQ_NAME_MAX), the shared-memory backend 251
 * (PMQ_SHM_NAME_MAX), and a refusal's detail names that backend's limit. */
static void name_limits_per_backend(void) {
    CHECK(PMQ_KERNEL_NAME_MAX == 255);
    CHECK(PMQ_NAME_MAX == PMQ_KERNEL_NAME_MAX);
    CHECK(PMQ_SHM_NAME_MAX == 251);
    static const struct {
        uint32_t backend;
        size_t len;
        const char *refusal; /* NULL: accepted */
    } cases[] = {
        {PMQ_BACKEND_KERNEL, PMQ_SHM_NAME_MAX, NULL},
        {PMQ_BACKEND_KERNEL, PMQ_SHM_NAME_MAX + 1, NULL},
        {PMQ_BACKEND_KERNEL, PMQ_KERNEL_NAME_MAX, NULL},
        {PMQ_BACKEND_KERNEL, PMQ_KERNEL_NAME_MAX + 1, "the limit is 255 (NAME_MAX)"},
        {PMQ_BACKEND_SHM, PMQ_SHM_NAME_MAX, NULL},
        {PMQ_BACKEND_SHM, PMQ_SHM_NAME_MAX + 1, "the limit is 251 on the shared-memory backend"},
        {PMQ_BACKEND_SHM, PMQ_KERNEL_NAME_MAX, "the limit is 251 on the shared-memory backend"},
        {PMQ_BACKEND_SHM, PMQ_KERNEL_NAME_MAX + 1,
         "the limit is 251 on the shared-memory backend"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[300];
        int n = snprintf(name, sizeof name, "/pmq-c-len-%d-%zu-", (int)getpid(), i);
        for (size_t at = (size_t)n; at < cases[i].len + 1; at++) name[at] = 'n';
        name[cases[i].len + 1] = 0;
        pmq_options o = test_options(PMQ_O_CREX, 1, 16);
        o.backend = cases[i].backend;
        pmq_queue *q = NULL;
        int st = pmq_queue_open(name, &o, &q);
        if (cases[i].refusal == NULL) {
            CHECK_STATUS(st, PMQ_STATUS_OK);
            if (q) {
                CHECK_OK(pmq_queue_send(q, (const uint8_t *)"x", 1, 0));
                pmq_queue_free(q);
            }
            CHECK_OK(pmq_unlink_backend(name, cases[i].backend));
        } else {
            CHECK_STATUS(st, PMQ_STATUS_INVALID_ARGUMENT);
            CHECK_DETAIL(cases[i].refusal);
            CHECK_STATUS(pmq_unlink_backend(name, cases[i].backend),
                         PMQ_STATUS_INVALID_ARGUMENT);
            CHECK_DETAIL(cases[i].refusal);
            if (q) {
                (void)pmq_unlink_backend(name, cases[i].backend);
                pmq_queue_free(q);
            }
        }
    }
}

int main(void) {
    damaged_files();
    options_and_backend_values();
    send_receive_beyond_kernel_limits();
    readiness_descriptor();
    callback_notification();
    fork_and_exec();
    dead_receipts();
    fork_child_closes_inherited_readiness();
    fork_child_fileno_after_parent_closed();
    name_limits_per_backend();
    return check_done("test_shm");
}
