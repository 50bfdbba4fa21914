/* Where pmq's extra time per call goes: this program defines its own
 * mq_send / mq_receive / mq_timedsend / mq_timedreceive, which take the place
 * of glibc's for both this file and the statically linked libpmq.a. The raw
 * loop and the pmq loop then reach the same stub, so the difference between
 * them is pmq's own user-space cost, measured without the kernel's cost:
 *   stub "none":    the stub returns at once (pure user-space overhead);
 *   stub "syscall": the stub makes one cheap system call (getppid), so the
 *                   user-space code runs after a kernel entry, as it really does.
 * Output: S lines like bench_c (bench ids ovh_none_pair, ovh_syscall_pair,
 * ovh_none_tryrecv, ovh_syscall_tryrecv); CPU ns per operation.
 * Usage: overhead_c [-r reps] [-q]
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pmq.h"

static int do_syscall;
static int queue_empty; /* receives fail with ETIMEDOUT/EAGAIN like an empty queue */

static void stub_enter(void) {
    if (do_syscall) syscall(SYS_getppid);
}

int mq_send(mqd_t q, const char *m, size_t n, unsigned p) {
    (void)q; (void)m; (void)n; (void)p;
    stub_enter();
    return 0;
}

int mq_timedsend(mqd_t q, const char *m, size_t n, unsigned p, const struct timespec *t) {
    (void)q; (void)m; (void)n; (void)p; (void)t;
    stub_enter();
    return 0;
}

ssize_t mq_receive(mqd_t q, char *m, size_t n, unsigned *p) {
    (void)q; (void)m;
    stub_enter();
    if (queue_empty) {
        errno = EAGAIN;
        return -1;
    }
    if (p) *p = 0;
    return (ssize_t)(n < 16 ? n : 16);
}

ssize_t mq_timedreceive(mqd_t q, char *m, size_t n, unsigned *p, const struct timespec *t) {
    (void)q; (void)m; (void)t;
    stub_enter();
    if (queue_empty) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (p) *p = 0;
    return (ssize_t)(n < 16 ? n : 16);
}

static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char msg[64], buf[64];

static long run(pmq_queue *pq, mqd_t rq, int pmq, int tryrecv, long n) {
    long bad = 0;
    for (long i = 0; i < n; i++) {
        size_t len;
        uint32_t p32;
        unsigned prio;
        if (tryrecv) {
            if (pmq)
                bad += pmq_queue_receive_timeout(pq, (uint8_t *)buf, sizeof buf, &len, &p32, 0.0) !=
                       PMQ_STATUS_WOULD_BLOCK;
            else
                bad += mq_receive(rq, buf, sizeof buf, &prio) >= 0;
        } else if (pmq) {
            bad += pmq_queue_send(pq, (const uint8_t *)msg, 16, 0) != PMQ_STATUS_OK;
            bad += pmq_queue_receive(pq, (uint8_t *)buf, sizeof buf, &len, &p32) != PMQ_STATUS_OK;
        } else {
            bad += mq_send(rq, msg, 16, 0) != 0;
            bad += mq_receive(rq, buf, sizeof buf, &prio) < 0;
        }
    }
    return bad;
}

int main(int argc, char **argv) {
    int reps = 7, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) quick = 1;
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
    }
    if (reps < 1) reps = 1;
    /* A real queue (mq_open is not stubbed); the stubs never touch it. */
    pmq_options o;
    pmq_options_init(&o);
    o.flags = PMQ_O_CREX;
    o.max_messages = 1;
    o.max_message_size = 64;
    pmq_queue *pq = NULL;
    int st = pmq_queue_open(NULL, &o, &pq);
    if (st != PMQ_STATUS_OK) {
        char detail[1024];
        (void)pmq_error_message(detail, sizeof detail, NULL);
        fprintf(stderr, "overhead_c: cannot run: open: %s\n", detail);
        return 2;
    }
    pmq_queue_unlink(pq);
    mqd_t rq = 0; /* the stubs ignore the descriptor */
    long n = quick ? 1000 : 200000;
    for (int sys = 0; sys < 2; sys++) {
        do_syscall = sys;
        for (int tr = 0; tr < 2; tr++) {
            queue_empty = tr;
            char id[48];
            snprintf(id, sizeof id, "ovh_%s_%s", sys ? "syscall" : "none", tr ? "tryrecv" : "pair");
            long m = sys ? n / 4 : n;
            run(pq, rq, 1, tr, m / 10);
            run(pq, rq, 0, tr, m / 10);
            for (int r = 0; r < reps; r++) {
                for (int k = 0; k < 2; k++) {
                    int pmq = (k + r) % 2 == 0;
                    uint64_t t0 = cpu_ns();
                    long bad = run(pq, rq, pmq, tr, m);
                    uint64_t t1 = cpu_ns();
                    if (bad) {
                        fprintf(stderr, "overhead_c: cannot run: %ld unexpected outcomes\n", bad);
                        return 2;
                    }
                    printf("S\t%s\t16\t%s\t%.6g\n", id, pmq ? "pmq" : "raw",
                           (double)(t1 - t0) / (double)m);
                }
            }
        }
    }
    pmq_queue_free(pq);
    return 0;
}
