/* pmq benchmarks in C: pmq's C ABI against the raw kernel calls (mq_*),
 * measured in the same process, interleaved round by round.
 *
 * Usage: bench_c MODE [-r reps] [-q]
 *   MODE: pair | tryonce | timed | accuracy | throughput | pingpong | all
 *         cg BENCH IMPL N   (one measured loop, for valgrind --tool=callgrind
 *                            --toggle-collect=cg_loop; BENCH = pair | tryrecv |
 *                            trysend | timed; IMPL = pmq | raw)
 *   -r N  repetitions (rounds per implementation), default 7
 *   -q    quick smoke run: tiny iteration counts (proves it builds and runs)
 *
 * One-process figures are CPU time per operation (CLOCK_PROCESS_CPUTIME_ID).
 * Output, one sample per line (aggregated by bench/driver.py):
 *   S <tab> bench <tab> size <tab> impl <tab> value
 * plus "I <tab> key <tab> text" information lines.
 * Every queue is unlinked right after it is opened, so nothing is left
 * behind even if the program is killed. Exit status: 0 = ran, 2 = could not
 * run (e.g. queue limits exhausted by other users).
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pmq.h"

static int quick = 0;
static int reps = 7;
static const size_t SIZES[] = {16, 1024, 8192};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

static void die(const char *what) {
    fprintf(stderr, "bench_c: cannot run: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void die_pmq(const char *what, int st) {
    /* A longer detail is cut to fit, still NUL-terminated: enough to say why. */
    char detail[1024];
    (void)pmq_error_message(detail, sizeof detail, NULL);
    fprintf(stderr, "bench_c: cannot run: %s: %s: %s\n", what, pmq_status_name(st), detail);
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sample(const char *bench, size_t size, const char *impl, double v) {
    printf("S\t%s\t%zu\t%s\t%.6g\n", bench, size, impl, v);
}

/* ---- queue setup (both kinds unlinked at once: nothing can leak) ---- */

static unsigned qcounter = 0;

/* Retries while the per-user allowance is used up (other agents' queues). */
static mqd_t raw_open(long depth, long size, int nonblock) {
    char name[64];
    snprintf(name, sizeof name, "/pmq_bench_raw_%ld_%u", (long)getpid(), qcounter++);
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    a.mq_maxmsg = depth;
    a.mq_msgsize = size;
    for (int attempt = 0;; attempt++) {
        mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | (nonblock ? O_NONBLOCK : 0), 0600, &a);
        if (q != (mqd_t)-1) {
            mq_unlink(name);
            return q;
        }
        if (errno != EMFILE || attempt >= 50) die("mq_open");
        usleep(100000);
    }
}

static pmq_queue *pmq_open_q(long depth, long size) {
    pmq_options o;
    pmq_options_init(&o);
    o.flags = PMQ_O_CREX;
    o.max_messages = depth;
    o.max_message_size = size;
    for (int attempt = 0;; attempt++) {
        pmq_queue *q = NULL;
        int st = pmq_queue_open(NULL, &o, &q);
        if (st == PMQ_STATUS_OK) {
            pmq_queue_unlink(q);
            return q;
        }
        if (st != PMQ_STATUS_SYSTEM_LIMIT || attempt >= 50) die_pmq("pmq_queue_open", st);
        usleep(100000);
    }
}

/* A second, O_NONBLOCK descriptor on the same queue as q (for try-once baselines). */
static mqd_t reopen_nonblock(mqd_t q) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", (int)q);
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("reopen queue descriptor");
    return (mqd_t)fd;
}

static struct timespec realtime_plus(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ns %= 1000000000LL;
    if (ns < 0) {
        ns += 1000000000LL;
        ts.tv_sec -= 1;
    }
    ts.tv_nsec = (long)ns;
    return ts;
}

/* ---- the measured loops (noinline: callgrind toggles on cg_loop) ---- */

static char *msgbuf;
static char *rcvbuf;
static size_t rcvlen;

enum impl { PMQ, RAW, RAW_EXPIRED, RAW_ZERO };

struct ctx {
    pmq_queue *p;  /* pmq queue */
    mqd_t r;       /* raw queue, blocking descriptor */
    mqd_t rnb;     /* raw queue, O_NONBLOCK descriptor */
    size_t size;
};

static long loop_pair(const struct ctx *c, enum impl im, long n) {
    long bad = 0;
    for (long i = 0; i < n; i++) {
        if (im == PMQ) {
            size_t len;
            uint32_t prio;
            bad += pmq_queue_send(c->p, (const uint8_t *)msgbuf, c->size, 0) != PMQ_STATUS_OK;
            bad += pmq_queue_receive(c->p, (uint8_t *)rcvbuf, rcvlen, &len, &prio) != PMQ_STATUS_OK;
        } else {
            unsigned prio;
            bad += mq_send(c->r, msgbuf, c->size, 0) != 0;
            bad += mq_receive(c->r, rcvbuf, rcvlen, &prio) < 0;
        }
    }
    return bad;
}

static long loop_timed(const struct ctx *c, enum impl im, long n) {
    long bad = 0;
    for (long i = 0; i < n; i++) {
        if (im == PMQ) {
            size_t len;
            uint32_t prio;
            bad += pmq_queue_send_timeout(c->p, (const uint8_t *)msgbuf, c->size, 0, 1.0) !=
                   PMQ_STATUS_OK;
            bad += pmq_queue_receive_timeout(c->p, (uint8_t *)rcvbuf, rcvlen, &len, &prio, 1.0) !=
                   PMQ_STATUS_OK;
        } else {
            unsigned prio;
            struct timespec d = realtime_plus(1.0);
            bad += mq_timedsend(c->r, msgbuf, c->size, 0, &d) != 0;
            d = realtime_plus(1.0);
            bad += mq_timedreceive(c->r, rcvbuf, rcvlen, &prio, &d) < 0;
        }
    }
    return bad;
}

/* Receive on an empty queue; every call must fail at once. Returns wrong outcomes. */
static long loop_tryrecv(const struct ctx *c, enum impl im, long n) {
    long bad = 0;
    static const struct timespec zero = {0, 0};
    for (long i = 0; i < n; i++) {
        unsigned prio;
        size_t len;
        uint32_t p32;
        switch (im) {
        case PMQ:
            bad += pmq_queue_receive_timeout(c->p, (uint8_t *)rcvbuf, rcvlen, &len, &p32, 0.0) !=
                   PMQ_STATUS_WOULD_BLOCK;
            break;
        case RAW:
            bad += !(mq_receive(c->rnb, rcvbuf, rcvlen, &prio) < 0 && errno == EAGAIN);
            break;
        case RAW_EXPIRED: {
            struct timespec d = realtime_plus(-1.0);
            bad += !(mq_timedreceive(c->r, rcvbuf, rcvlen, &prio, &d) < 0 && errno == ETIMEDOUT);
            break;
        }
        case RAW_ZERO:
            bad += !(mq_timedreceive(c->r, rcvbuf, rcvlen, &prio, &zero) < 0 && errno == ETIMEDOUT);
            break;
        }
    }
    return bad;
}

/* Send on a full queue; every call must fail at once. */
static long loop_trysend(const struct ctx *c, enum impl im, long n) {
    long bad = 0;
    static const struct timespec zero = {0, 0};
    for (long i = 0; i < n; i++) {
        switch (im) {
        case PMQ:
            bad += pmq_queue_send_timeout(c->p, (const uint8_t *)msgbuf, c->size, 0, 0.0) !=
                   PMQ_STATUS_WOULD_BLOCK;
            break;
        case RAW:
            bad += !(mq_send(c->rnb, msgbuf, c->size, 0) != 0 && errno == EAGAIN);
            break;
        case RAW_EXPIRED: {
            struct timespec d = realtime_plus(-1.0);
            bad += !(mq_timedsend(c->r, msgbuf, c->size, 0, &d) != 0 && errno == ETIMEDOUT);
            break;
        }
        case RAW_ZERO:
            bad += !(mq_timedsend(c->r, msgbuf, c->size, 0, &zero) != 0 && errno == ETIMEDOUT);
            break;
        }
    }
    return bad;
}

typedef long (*loop_fn)(const struct ctx *, enum impl, long);

/* The one function callgrind measures (--toggle-collect=cg_loop). */
__attribute__((noinline)) long cg_loop(loop_fn f, const struct ctx *c, enum impl im, long n) {
    return f(c, im, n);
}

static void ctx_open(struct ctx *c, size_t size, long depth) {
    c->size = size;
    c->p = pmq_open_q(depth, (long)size);
    c->r = raw_open(depth, (long)size, 0);
    c->rnb = reopen_nonblock(c->r);
    rcvlen = size;
}

static void ctx_close(struct ctx *c) {
    pmq_queue_free(c->p);
    close((int)c->rnb);
    mq_close(c->r);
}

static void fill(const struct ctx *c, long depth) {
    for (long i = 0; i < depth; i++) {
        if (pmq_queue_send(c->p, (const uint8_t *)msgbuf, c->size, 0) != PMQ_STATUS_OK) die("fill pmq");
        if (mq_send(c->r, msgbuf, c->size, 0) != 0) die("fill raw");
    }
}

/* CPU time (user + system) of this process: on a machine shared with other
 * load, time spent preempted does not count, unlike wall-clock time. */
static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Times n iterations of f for impl im; returns CPU ns per iteration. */
static double timed_round(loop_fn f, const struct ctx *c, enum impl im, long n, const char *what) {
    uint64_t t0 = cpu_ns();
    long bad = f(c, im, n);
    uint64_t t1 = cpu_ns();
    if (bad) {
        fprintf(stderr, "bench_c: %s: %ld of %ld calls had an unexpected outcome\n", what, bad, n);
        exit(2);
    }
    return (double)(t1 - t0) / (double)n;
}

/* Interleaved rounds: rep r runs the implementations in rotated order. */
static void compare(const char *bench, loop_fn f, const struct ctx *c, const enum impl *impls,
                    const char *const *names, int nimpl, long n) {
    f(c, impls[0], n / 10 + 1); /* warm up */
    for (int i = 1; i < nimpl; i++) f(c, impls[i], n / 10 + 1);
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < nimpl; k++) {
            int i = (k + r) % nimpl;
            sample(bench, c->size, names[i], timed_round(f, c, impls[i], n, bench));
        }
    }
}

static void run_pair(void) {
    static const enum impl impls[] = {PMQ, RAW};
    static const char *const names[] = {"pmq", "raw"};
    for (size_t s = 0; s < NSIZES; s++) {
        struct ctx c;
        ctx_open(&c, SIZES[s], 1);
        compare("c_pair", loop_pair, &c, impls, names, 2, quick ? 200 : 20000);
        compare("c_timed", loop_timed, &c, impls, names, 2, quick ? 200 : 20000);
        ctx_close(&c);
    }
}

static void run_tryonce(void) {
    static const enum impl impls[] = {PMQ, RAW, RAW_ZERO};
    static const char *const names[] = {"pmq", "raw", "raw_zero"};
    static const enum impl slow[] = {RAW_EXPIRED};
    static const char *const slow_names[] = {"raw_expired"};
    for (size_t s = 0; s < NSIZES; s++) {
        struct ctx c;
        ctx_open(&c, SIZES[s], 2);
        compare("c_tryrecv", loop_tryrecv, &c, impls, names, 3, quick ? 200 : 40000);
        compare("c_tryrecv", loop_tryrecv, &c, slow, slow_names, 1, quick ? 20 : 500);
        fill(&c, 2);
        compare("c_trysend", loop_trysend, &c, impls, names, 3, quick ? 200 : 40000);
        compare("c_trysend", loop_trysend, &c, slow, slow_names, 1, quick ? 20 : 500);
        ctx_close(&c);
    }
}

/* Lateness (us) of 1 ms / 10 ms timeouts on an empty queue. */
static void run_accuracy(void) {
    static const double timeouts[] = {0.001, 0.010};
    struct ctx c;
    ctx_open(&c, 16, 1);
    for (int t = 0; t < 2; t++) {
        int n = quick ? 3 : (t == 0 ? 400 : 80);
        const char *bench = t == 0 ? "c_late1ms" : "c_late10ms";
        for (int i = 0; i < 2 * n; i++) {
            int use_pmq = (i & 1) == 0;
            size_t len;
            uint32_t p32;
            unsigned prio;
            uint64_t t0 = now_ns();
            if (use_pmq) {
                int st = pmq_queue_receive_timeout(c.p, (uint8_t *)rcvbuf, rcvlen, &len, &p32,
                                                   timeouts[t]);
                if (st != PMQ_STATUS_TIMED_OUT) die_pmq("accuracy", st);
            } else {
                struct timespec d = realtime_plus(timeouts[t]);
                if (!(mq_timedreceive(c.r, rcvbuf, rcvlen, &prio, &d) < 0 && errno == ETIMEDOUT))
                    die("accuracy raw");
            }
            uint64_t t1 = now_ns();
            sample(bench, 16, use_pmq ? "pmq" : "raw",
                   ((double)(t1 - t0) - timeouts[t] * 1e9) / 1000.0);
        }
    }
    ctx_close(&c);
}

/* ---- two processes ---- */

static int on_cpu0(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

static cpu_set_t all_cpus;

/* Producer (this process) -> consumer (child): messages per second. */
static double throughput_round(struct ctx *c, enum impl im, long n) {
    int pfd[2];
    if (pipe(pfd) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(pfd[0]);
        for (long i = 0; i < n; i++) {
            if (im == PMQ) {
                size_t len;
                uint32_t p32;
                if (pmq_queue_receive(c->p, (uint8_t *)rcvbuf, rcvlen, &len, &p32) != PMQ_STATUS_OK)
                    _exit(3);
            } else {
                unsigned prio;
                if (mq_receive(c->r, rcvbuf, rcvlen, &prio) < 0) _exit(3);
            }
        }
        uint64_t t1 = now_ns();
        if (write(pfd[1], &t1, sizeof t1) != (ssize_t)sizeof t1) _exit(4);
        _exit(0);
    }
    close(pfd[1]);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (im == PMQ) {
            if (pmq_queue_send(c->p, (const uint8_t *)msgbuf, c->size, 0) != PMQ_STATUS_OK) die("send");
        } else {
            if (mq_send(c->r, msgbuf, c->size, 0) != 0) die("send");
        }
    }
    uint64_t t1 = 0;
    ssize_t got = read(pfd[0], &t1, sizeof t1);
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof t1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_c: cannot run: throughput consumer failed\n");
        exit(2);
    }
    return (double)n / ((double)(t1 - t0) / 1e9);
}

static void run_throughput(void) {
    long msg_max = 10;
    FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
    if (f) {
        if (fscanf(f, "%ld", &msg_max) != 1) msg_max = 10;
        fclose(f);
    }
    long depths[2] = {msg_max < 10 ? msg_max : 10, msg_max};
    printf("I\tmsg_max\t%ld\n", msg_max);
    for (int d = 0; d < (depths[0] == depths[1] ? 1 : 2); d++) {
        for (size_t s = 0; s < NSIZES; s++) {
            struct ctx c;
            ctx_open(&c, SIZES[s], depths[d]);
            char bench[32];
            snprintf(bench, sizeof bench, "c_tput_d%ld", depths[d]);
            long n = quick ? 500 : 60000;
            throughput_round(&c, PMQ, n / 10);
            throughput_round(&c, RAW, n / 10);
            for (int r = 0; r < reps; r++) {
                enum impl first = (r & 1) ? RAW : PMQ;
                enum impl second = (r & 1) ? PMQ : RAW;
                sample(bench, c.size, first == PMQ ? "pmq" : "raw", throughput_round(&c, first, n));
                sample(bench, c.size, second == PMQ ? "pmq" : "raw", throughput_round(&c, second, n));
            }
            ctx_close(&c);
        }
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Ping-pong over two queues (this process -> child on c1, back on c2).
 * Emits p50 and p99 round trip (us) of this round. */
static void pingpong_round(struct ctx *c1, struct ctx *c2, enum impl im, long n, const char *bench,
                           int pinned) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    long warm = n / 10 + 10;
    if (pid == 0) {
        if (pinned && on_cpu0() != 0) _exit(5);
        for (long i = 0; i < n + warm; i++) {
            size_t len;
            uint32_t p32;
            unsigned prio;
            if (im == PMQ) {
                if (pmq_queue_receive(c1->p, (uint8_t *)rcvbuf, rcvlen, &len, &p32) != PMQ_STATUS_OK ||
                    pmq_queue_send(c2->p, (const uint8_t *)msgbuf, c2->size, 0) != PMQ_STATUS_OK)
                    _exit(3);
            } else {
                if (mq_receive(c1->r, rcvbuf, rcvlen, &prio) < 0 ||
                    mq_send(c2->r, msgbuf, c2->size, 0) != 0)
                    _exit(3);
            }
        }
        _exit(0);
    }
    uint64_t *rt = malloc(sizeof *rt * (size_t)n);
    if (!rt) die("malloc");
    for (long i = 0; i < n + warm; i++) {
        size_t len;
        uint32_t p32;
        unsigned prio;
        uint64_t t0 = now_ns();
        if (im == PMQ) {
            if (pmq_queue_send(c1->p, (const uint8_t *)msgbuf, c1->size, 0) != PMQ_STATUS_OK ||
                pmq_queue_receive(c2->p, (uint8_t *)rcvbuf, rcvlen, &len, &p32) != PMQ_STATUS_OK)
                die("pingpong pmq");
        } else {
            if (mq_send(c1->r, msgbuf, c1->size, 0) != 0 ||
                mq_receive(c2->r, rcvbuf, rcvlen, &prio) < 0)
                die("pingpong raw");
        }
        uint64_t t1 = now_ns();
        if (i >= warm) rt[i - warm] = t1 - t0;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_c: cannot run: ping-pong child failed\n");
        exit(2);
    }
    qsort(rt, (size_t)n, sizeof *rt, cmp_u64);
    char name[48];
    snprintf(name, sizeof name, "%s_p50", bench);
    sample(name, c1->size, im == PMQ ? "pmq" : "raw", (double)rt[n / 2] / 1000.0);
    snprintf(name, sizeof name, "%s_p99", bench);
    sample(name, c1->size, im == PMQ ? "pmq" : "raw", (double)rt[(n * 99) / 100] / 1000.0);
    free(rt);
}

static void run_pingpong(void) {
    for (int pinned = 1; pinned >= 0; pinned--) {
        if (pinned) {
            if (on_cpu0() != 0) die("sched_setaffinity");
        } else if (sched_setaffinity(0, sizeof all_cpus, &all_cpus) != 0) {
            die("sched_setaffinity");
        }
        const char *bench = pinned ? "c_pp_pinned" : "c_pp_unpinned";
        for (size_t s = 0; s < NSIZES; s++) {
            struct ctx c1, c2;
            ctx_open(&c1, SIZES[s], 1);
            ctx_open(&c2, SIZES[s], 1);
            long n = quick ? 100 : 8000;
            for (int r = 0; r < reps; r++) {
                enum impl first = (r & 1) ? RAW : PMQ;
                pingpong_round(&c1, &c2, first, n, bench, pinned);
                pingpong_round(&c1, &c2, first == PMQ ? RAW : PMQ, n, bench, pinned);
            }
            ctx_close(&c1);
            ctx_close(&c2);
        }
    }
    sched_setaffinity(0, sizeof all_cpus, &all_cpus);
}

static int run_cg(const char *bench, const char *impl, long n) {
    struct ctx c;
    enum impl im = strcmp(impl, "pmq") == 0 ? PMQ : RAW;
    loop_fn f;
    ctx_open(&c, 16, 2);
    if (strcmp(bench, "pair") == 0) {
        f = loop_pair;
    } else if (strcmp(bench, "timed") == 0) {
        f = loop_timed;
    } else if (strcmp(bench, "tryrecv") == 0) {
        f = loop_tryrecv;
    } else if (strcmp(bench, "trysend") == 0) {
        f = loop_trysend;
        fill(&c, 2);
    } else {
        fprintf(stderr, "bench_c: unknown callgrind bench %s\n", bench);
        return 2;
    }
    f(&c, im, 10); /* warm up: first-call costs (thread-locals, lazy binding) */
    long bad = cg_loop(f, &c, im, n);
    ctx_close(&c);
    if (bad) {
        fprintf(stderr, "bench_c: cg %s %s: %ld unexpected outcomes\n", bench, impl, bad);
        return 2;
    }
    printf("I\tcg_n\t%ld\n", n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s pair|tryonce|timed|accuracy|throughput|pingpong|all|cg ... "
                        "[-r reps] [-q]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int argi = 2;
    const char *cg_args[3] = {0, 0, 0};
    if (strcmp(mode, "cg") == 0) {
        if (argc < 5) {
            fprintf(stderr, "usage: %s cg pair|tryrecv|trysend|timed pmq|raw N\n", argv[0]);
            return 2;
        }
        cg_args[0] = argv[2];
        cg_args[1] = argv[3];
        cg_args[2] = argv[4];
        argi = 5;
    }
    for (; argi < argc; argi++) {
        if (strcmp(argv[argi], "-q") == 0) {
            quick = 1;
        } else if (strcmp(argv[argi], "-r") == 0 && argi + 1 < argc) {
            reps = atoi(argv[++argi]);
            if (reps < 1) reps = 1;
        } else {
            fprintf(stderr, "bench_c: unknown argument %s\n", argv[argi]);
            return 2;
        }
    }
    if (sched_getaffinity(0, sizeof all_cpus, &all_cpus) != 0) die("sched_getaffinity");
    msgbuf = calloc(1, 8192);
    rcvbuf = calloc(1, 8192);
    if (!msgbuf || !rcvbuf) die("calloc");
    memset(msgbuf, 'x', 8192);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (cg_args[0]) return run_cg(cg_args[0], cg_args[1], atol(cg_args[2]));
    int all = strcmp(mode, "all") == 0;
    int known = 0;
    if (all || strcmp(mode, "pair") == 0 || strcmp(mode, "timed") == 0) { run_pair(); known = 1; }
    if (all || strcmp(mode, "tryonce") == 0) { run_tryonce(); known = 1; }
    if (all || strcmp(mode, "accuracy") == 0) { run_accuracy(); known = 1; }
    if (all || strcmp(mode, "throughput") == 0) { run_throughput(); known = 1; }
    if (all || strcmp(mode, "pingpong") == 0) { run_pingpong(); known = 1; }
    if (!known) {
        fprintf(stderr, "bench_c: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
