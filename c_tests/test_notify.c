/* Notifications through the C ABI: signal, callback thread, re-registration
 * from inside the callback, cancel, one-shot, busy across processes, the
 * kernel dropping the registration when any descriptor is closed, lifetime
 * safety of close/free while armed or running, and readiness (poll/epoll). */
#include "check.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static pmq_queue *open_small(const char *name, int flags) {
    pmq_options o = test_options(flags, 4, 64);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    return q;
}

/* Reads NOTIFY_PID from /dev/mqueue/NAME; -1 if unreadable. The file is
 * read in a child process: closing any descriptor of the queue, this file
 * included, makes Linux drop the registration of the process that holds it. */
static long notify_pid(const char *name) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t child = fork();
    if (child == 0) {
        char path[300];
        snprintf(path, sizeof path, "/dev/mqueue%s", name);
        long pid = -1;
        FILE *f = fopen(path, "r");
        if (f) {
            char line[256] = {0};
            if (fgets(line, sizeof line, f)) {
                const char *p = strstr(line, "NOTIFY_PID:");
                if (p) pid = strtol(p + 11, NULL, 10);
            }
            fclose(f);
        }
        ssize_t w = write(fds[1], &pid, sizeof pid);
        _exit(w == (ssize_t)sizeof pid ? 0 : 1);
    }
    close(fds[1]);
    long pid = -1;
    if (read(fds[0], &pid, sizeof pid) != (ssize_t)sizeof pid) pid = -1;
    close(fds[0]);
    waitpid(child, NULL, 0);
    return pid;
}

/* Waits up to `ms` for `sig` (blocked in this thread). */
static int wait_signal(int sig, long ms) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    int r;
    do {
        r = sigtimedwait(&set, NULL, &ts);
    } while (r < 0 && errno == EINTR);
    return r == sig;
}

static void send_byte(pmq_queue *q, char c) {
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)&c, 1, 0, 1.0));
}

static void drain(pmq_queue *q) {
    uint8_t buf[64];
    size_t n;
    while (pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0) == PMQ_STATUS_OK) {
    }
}

/* ---- signal ---------------------------------------------------------- */

static void signal_notification(void) {
    const char *name = test_queue_name("nsig");
    pmq_queue *q = open_small(name, PMQ_O_CREX);
    if (!q) return;
    CHECK_STATUS(pmq_queue_notify_signal(q, 0), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("not valid");
    CHECK_STATUS(pmq_queue_notify_signal(q, -1), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_notify_signal(q, SIGRTMAX + 1), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_notify_signal(NULL, SIGUSR1), PMQ_STATUS_INVALID_ARGUMENT);

    CHECK_OK(pmq_queue_notify_signal(q, SIGUSR1));
    CHECK(notify_pid(name) == (long)getpid());
    CHECK(!wait_signal(SIGUSR1, 50)); /* nothing before a send */
    send_byte(q, 'a');
    CHECK(wait_signal(SIGUSR1, 5000)); /* empty -> non-empty */
    /* One-shot: a send to the non-empty queue, and a send after draining,
     * bring no second signal without a new registration. */
    send_byte(q, 'b');
    CHECK(!wait_signal(SIGUSR1, 100));
    drain(q);
    send_byte(q, 'c');
    CHECK(!wait_signal(SIGUSR1, 100));
    CHECK(notify_pid(name) == 0);
    /* Re-registering works, and replaces this handle's own registration. */
    drain(q);
    CHECK_OK(pmq_queue_notify_signal(q, SIGUSR2));
    CHECK_OK(pmq_queue_notify_signal(q, SIGUSR1));
    send_byte(q, 'd');
    CHECK(wait_signal(SIGUSR1, 5000));
    CHECK(!wait_signal(SIGUSR2, 50));
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
}

/* ---- callback ----------------------------------------------------------- */

struct cb_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    int received;
    int rearm_cycles; /* how many times the callback re-registers */
    pmq_queue *q;
    atomic_int entered;
    atomic_int finished;
    long sleep_ms;
    int close_self;
    int close_status;
};

static void cb_init(struct cb_state *s, pmq_queue *q) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->q = q;
}

static void cb_destroy(struct cb_state *s) {
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

static void on_message(void *param) {
    struct cb_state *s = param;
    atomic_store(&s->entered, 1);
    if (s->sleep_ms) sleep_ms(s->sleep_ms);
    int got = 0;
    if (s->q && !s->close_self) {
        uint8_t buf[64];
        size_t n;
        while (pmq_queue_receive_timeout(s->q, buf, sizeof buf, &n, NULL, 0) == PMQ_STATUS_OK) got++;
    }
    pthread_mutex_lock(&s->lock);
    if (s->close_self) s->close_status = pmq_queue_close(s->q);
    s->received += got;
    if (s->rearm_cycles > 0) {
        s->rearm_cycles--;
        /* Re-register from inside the callback. */
        (void)pmq_queue_notify_callback(s->q, on_message, s, NULL);
    }
    s->calls++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->finished, 1);
}

/* Waits until s->calls >= want (up to ms). */
static int wait_calls(struct cb_state *s, int want, long ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (s->calls < want) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT) break;
    }
    int ok = s->calls >= want;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void callback_rearm_ten_cycles(void) {
    pmq_queue *q = open_small(test_queue_name("ncb"), PMQ_O_CREX);
    if (!q) return;
    CHECK_STATUS(pmq_queue_notify_callback(q, NULL, NULL, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("NULL");
    struct cb_state s;
    cb_init(&s, q);
    s.rearm_cycles = 11;
    CHECK_OK(pmq_queue_notify_callback(q, on_message, &s, NULL));
    for (int i = 1; i <= 12; i++) {
        send_byte(q, (char)('a' + i));
        CHECK(wait_calls(&s, i, 5000));
    }
    pthread_mutex_lock(&s.lock);
    CHECK(s.calls == 12);   /* 1 registration + 11 re-registrations */
    CHECK(s.received == 12); /* the callback received every message */
    pthread_mutex_unlock(&s.lock);
    /* No registration left: one more send calls nothing. */
    send_byte(q, 'z');
    CHECK(!wait_calls(&s, 13, 150));
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
    cb_destroy(&s);
}

static void cancel_is_harmless(void) {
    const char *name = test_queue_name("ncancel");
    pmq_queue *q = open_small(name, PMQ_O_CREX);
    if (!q) return;
    struct cb_state s;
    cb_init(&s, q);
    for (int i = 0; i < 1000; i++) {
        CHECK_STATUS(pmq_queue_notify_cancel(q), PMQ_STATUS_OK);
    }
    CHECK_OK(pmq_queue_notify_callback(q, on_message, &s, NULL));
    CHECK(notify_pid(name) == (long)getpid());
    for (int i = 0; i < 1000; i++) {
        int st = pmq_queue_notify_cancel(q);
        if (st != PMQ_STATUS_OK) {
            CHECK_OK(st);
            break;
        }
    }
    CHECK(notify_pid(name) == 0);
    send_byte(q, 'x');
    CHECK(!wait_calls(&s, 1, 150));
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
    cb_destroy(&s);
}

/* ---- one registration per queue, system-wide ----------------------------- */

static void busy_across_processes(void) {
    const char *name = test_queue_name("nbusy");
    pmq_queue *q = open_small(name, PMQ_O_CREX);
    if (!q) return;
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
        CHECK(!"pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: take the registration, report, wait for the go-ahead, cancel. */
        pmq_options o;
        pmq_options_init(&o);
        pmq_queue *cq = NULL;
        char status = 'x';
        if (pmq_queue_open(name, &o, &cq) == PMQ_STATUS_OK &&
            pmq_queue_notify_signal(cq, SIGUSR2) == PMQ_STATUS_OK) {
            status = 'r';
        }
        if (write(to_parent[1], &status, 1) != 1) _exit(3);
        char go;
        if (read(to_child[0], &go, 1) != 1) _exit(4);
        int st = pmq_queue_notify_cancel(cq);
        pmq_queue_free(cq);
        status = st == PMQ_STATUS_OK ? 'c' : 'x';
        if (write(to_parent[1], &status, 1) != 1) _exit(5);
        _exit(0);
    }
    char status = 0;
    CHECK(read(to_parent[0], &status, 1) == 1 && status == 'r');
    CHECK(notify_pid(name) == (long)pid);
    struct cb_state s;
    cb_init(&s, q);
    CHECK_STATUS(pmq_queue_notify_callback(q, on_message, &s, NULL), PMQ_STATUS_BUSY);
    char expect[64];
    snprintf(expect, sizeof expect, "process %ld holds it", (long)pid);
    CHECK_DETAIL(expect);
    CHECK(pmq_status_is_busy(PMQ_STATUS_BUSY));
    CHECK_STATUS(pmq_queue_notify_signal(q, SIGUSR1), PMQ_STATUS_BUSY);
    /* Our cancel leaves the other process's registration alone. */
    CHECK_OK(pmq_queue_notify_cancel(q));
    CHECK(notify_pid(name) == (long)pid);
    CHECK(write(to_child[1], "g", 1) == 1);
    CHECK(read(to_parent[0], &status, 1) == 1 && status == 'c');
    int ws = 0;
    CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* Free again: we can register now. */
    CHECK_OK(pmq_queue_notify_callback(q, on_message, &s, NULL));
    send_byte(q, 'm');
    CHECK(wait_calls(&s, 1, 5000));
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
    cb_destroy(&s);
}

/* ---- kernel rule: closing ANY descriptor drops the registration ---------- */

static void closing_any_descriptor_drops_registration(void) {
    const char *name = test_queue_name("ndrop");
    pmq_queue *q = open_small(name, PMQ_O_CREX);
    pmq_queue *other = open_small(name, 0);
    if (!q || !other) return;
    struct cb_state s;
    cb_init(&s, q);
    CHECK_OK(pmq_queue_notify_callback(q, on_message, &s, NULL));
    CHECK(notify_pid(name) == (long)getpid());
    CHECK_OK(pmq_queue_close(other)); /* a DIFFERENT handle of the same queue */
    CHECK(notify_pid(name) == 0);     /* Linux dropped our registration */
    send_byte(q, 'x');
    CHECK(!wait_calls(&s, 1, 200)); /* and no callback comes */
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(other);
    pmq_queue_free(q);
    cb_destroy(&s);
}

/* An open that fails without opening a descriptor of the queue must not
 * cost this process its registration: O_CREX on an existing queue with sizes
 * that could not create one (EXISTS) and O_CREAT of a missing queue with such
 * sizes (INVALID_ARGUMENT) both leave the callback armed. */
static void failed_opens_keep_registration(void) {
    const char *name = test_queue_name("nkeep");
    pmq_queue *q = open_small(name, PMQ_O_CREX);
    if (!q) return;
    struct cb_state s;
    cb_init(&s, q);
    CHECK_OK(pmq_queue_notify_callback(q, on_message, &s, NULL));
    pmq_options bad = test_options(PMQ_O_CREX, 0, 0);
    pmq_queue *none = NULL;
    CHECK_STATUS(pmq_queue_open(name, &bad, &none), PMQ_STATUS_EXISTS);
    CHECK(none == NULL);
    bad.flags = PMQ_O_CREX;
    bad.max_messages = -1;
    bad.max_message_size = 16;
    CHECK_STATUS(pmq_queue_open(name, &bad, &none), PMQ_STATUS_EXISTS);
    CHECK(notify_pid(name) == (long)getpid()); /* still ours */
    send_byte(q, 'x');
    CHECK(wait_calls(&s, 1, 2000));
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
    cb_destroy(&s);
}

/* ---- lifetime safety ----------------------------------------------------- */

static void free_while_armed(void) {
    const char *name = test_queue_name("nfree");
    pmq_queue *q = open_small(name, PMQ_O_CREX);
    pmq_queue *sender = open_small(name, 0);
    if (!q || !sender) return;
    struct cb_state *s = malloc(sizeof *s);
    cb_init(s, NULL);
    CHECK_OK(pmq_queue_notify_callback(q, on_message, s, NULL));
    pmq_queue_free(q); /* armed: the registration must die with the handle */
    cb_destroy(s);
    free(s); /* the param is gone; a call now would be a use-after-free */
    send_byte(sender, 'x');
    sleep_ms(200);
    CHECK(notify_pid(name) == 0);
    CHECK_OK(pmq_queue_unlink(sender));
    pmq_queue_free(sender);
}

static void free_while_running(void) {
    const char *name = test_queue_name("nrun");
    pmq_queue *q = open_small(name, PMQ_O_CREX);
    pmq_queue *sender = open_small(name, 0);
    if (!q || !sender) return;
    struct cb_state *s = malloc(sizeof *s);
    cb_init(s, NULL); /* no receive from inside: the handle is being freed */
    s->sleep_ms = 200;
    CHECK_OK(pmq_queue_notify_callback(q, on_message, s, NULL));
    send_byte(sender, 'x');
    for (int i = 0; i < 500 && !atomic_load(&s->entered); i++) sleep_ms(10);
    CHECK(atomic_load(&s->entered));
    pmq_queue_free(q); /* must wait for the running callback */
    CHECK(atomic_load(&s->finished));
    cb_destroy(s);
    free(s);
    CHECK_OK(pmq_queue_unlink(sender));
    pmq_queue_free(sender);
}

static void close_from_inside_callback(void) {
    pmq_queue *q = open_small(test_queue_name("nself"), PMQ_O_CREX);
    if (!q) return;
    struct cb_state s;
    cb_init(&s, q);
    s.close_self = 1;
    CHECK_OK(pmq_queue_notify_callback(q, on_message, &s, NULL));
    pmq_queue *sender = NULL;
    pmq_options o;
    pmq_options_init(&o);
    CHECK_OK(pmq_queue_open(pmq_queue_name(q), &o, &sender));
    if (sender) send_byte(sender, 'x');
    CHECK(wait_calls(&s, 1, 5000)); /* no deadlock */
    CHECK(s.close_status == PMQ_STATUS_OK);
    bool closed = false;
    CHECK_OK(pmq_queue_is_closed(q, &closed));
    CHECK(closed);
    CHECK_STATUS(pmq_queue_notify_callback(q, on_message, &s, NULL), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_notify_signal(q, SIGUSR1), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_notify_cancel(q), PMQ_STATUS_CLOSED);
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(sender);
    pmq_queue_free(q);
    cb_destroy(&s);
}


/* Two deliveries of one handle run at once; the first frees the handle from
 * inside its callback: the free must wait for the second callback. */
struct overlap {
    pmq_queue *q;
    pmq_queue *sender;
    atomic_int first_rearmed;
    atomic_int second_entered;
    atomic_int second_finished;
    atomic_int second_finished_when_freed;
    atomic_int calls;
    atomic_int first_done; /* the first callback's last access to this struct */
};

static void overlap_cb(void *param) {
    struct overlap *o = param;
    int n = atomic_fetch_add(&o->calls, 1);
    uint8_t buf[64];
    size_t len;
    if (n == 0) {
        /* First delivery: drain, re-register, let the second one start. */
        while (pmq_queue_receive_timeout(o->q, buf, sizeof buf, &len, NULL, 0) == PMQ_STATUS_OK) {
        }
        (void)pmq_queue_notify_callback(o->q, overlap_cb, o, NULL);
        atomic_store(&o->first_rearmed, 1);
        for (int i = 0; i < 500 && !atomic_load(&o->second_entered); i++) sleep_ms(10);
        pmq_queue_free(o->q); /* from inside: waits for the second callback */
        atomic_store(&o->second_finished_when_freed, atomic_load(&o->second_finished));
        atomic_store(&o->first_done, 1); /* last touch of `o` in this callback */
    } else {
        atomic_store(&o->second_entered, 1);
        sleep_ms(200);
        atomic_store(&o->second_finished, 1);
    }
}

static void free_inside_waits_for_other_callback(void) {
    const char *name = test_queue_name("noverlap");
    struct overlap *o = calloc(1, sizeof *o);
    o->q = open_small(name, PMQ_O_CREX);
    o->sender = open_small(name, 0);
    if (!o->q || !o->sender) return;
    CHECK_OK(pmq_queue_notify_callback(o->q, overlap_cb, o, NULL));
    send_byte(o->sender, '1');
    for (int i = 0; i < 500 && !atomic_load(&o->first_rearmed); i++) sleep_ms(10);
    CHECK(atomic_load(&o->first_rearmed));
    send_byte(o->sender, '2'); /* empty -> non-empty again: second delivery */
    for (int i = 0; i < 500 && atomic_load(&o->calls) < 2; i++) sleep_ms(10);
    for (int i = 0; i < 500 && !atomic_load(&o->second_finished); i++) sleep_ms(10);
    /* `o` is freed below: wait until the first callback no longer uses it
     * (bounded; a timeout fails the test and leaks `o` rather than free it
     * under a running callback). */
    for (int i = 0; i < 1000 && !atomic_load(&o->first_done); i++) sleep_ms(5);
    CHECK(atomic_load(&o->first_done));
    if (!atomic_load(&o->first_done)) return;
    CHECK(atomic_load(&o->second_entered));
    CHECK(atomic_load(&o->second_finished_when_freed));
    CHECK_OK(pmq_queue_unlink(o->sender));
    pmq_queue_free(o->sender);
    free(o);
}

/* ---- readiness ------------------------------------------------------------ */

static void readiness(void) {
    pmq_options o = test_options(PMQ_O_CREX, 2, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("nready"), &o, &q));
    if (!q) return;
    int fd = -1;
    CHECK_OK(pmq_queue_fileno(q, &fd));
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) && !(p.revents & POLLIN)); /* empty */
    send_byte(q, '1');
    CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) && (p.revents & POLLIN));
    send_byte(q, '2');
    CHECK(poll(&p, 1, 0) == 1 && !(p.revents & POLLOUT) && (p.revents & POLLIN)); /* full */

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data = {.u32 = 7}};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    struct epoll_event out;
    CHECK(epoll_wait(ep, &out, 1, 1000) == 1 && out.data.u32 == 7 && (out.events & EPOLLIN));
    drain(q);
    CHECK(epoll_wait(ep, &out, 1, 0) == 0);
    close(ep);
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
}

int main(void) {
    /* Signals for the notification tests are taken with sigtimedwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    busy_across_processes(); /* fork first, before any notification thread exists */
    signal_notification();
    callback_rearm_ten_cycles();
    cancel_is_harmless();
    closing_any_descriptor_drops_registration();
    failed_opens_keep_registration();
    free_while_armed();
    free_while_running();
    close_from_inside_callback();
    free_inside_waits_for_other_callback();
    readiness();
    return check_done("test_notify");
}
