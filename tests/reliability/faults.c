/* Faults: SIGKILL a producer in the middle of sending and a consumer
 * in the middle of receiving; the others finish, nothing hangs, the counts
 * reconcile and the queue stays usable.
 *
 * What a killed process can lose (checked here, exactly):
 *  - a producer: nothing that it was told was sent. mq_send is one system
 *    call, so the message it was sending when killed is either wholly in the
 *    queue (and received by someone) or not there at all; never half, never
 *    twice.
 *  - a consumer: at most the ONE message it had received but not yet
 *    processed (the kernel removed it from the queue when the receive
 *    returned; the process died before recording it). A consumer killed
 *    while blocked in receive takes nothing with it.
 *
 * Part A kills processes that are provably blocked inside send (queue full)
 * and receive (queue empty); part B kills a producer and a consumer at
 * random moments while 3 + 3 other processes move messages.
 *
 *   faults [rounds=10] [messages=3000]
 */
#include "rel.h"

#define SIZE 64
#define STOP 0xffffffffu

struct shared {
    volatile uint32_t attempted;  /* victim producer: seq it is sending */
    volatile uint32_t sent;       /* victim producer: sends that returned OK */
    volatile uint32_t in_recv;    /* victim consumer: between receive and recording */
    volatile uint32_t started;
    volatile uint32_t got;        /* victim consumer: messages received */
    uint64_t bad;                 /* corrupt or unexpected statuses */
};

/* 'S' when the process sleeps in the kernel (blocked in a system call). */
static char proc_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

static int wait_blocked(pid_t pid, volatile uint32_t *flag) {
    double end = rel_now() + 10;
    while (rel_now() < end) {
        if (*flag && proc_state(pid) == 'S') {
            rel_sleep(0.02);
            if (proc_state(pid) == 'S') return 1;
        }
        rel_sleep(0.001);
    }
    return 0;
}

static pmq_queue *open_q(const char *name, int rd, int wr) {
    pmq_options o = rel_options(0, 0, 0);
    o.read = rd;
    o.write = wr;
    pmq_queue *q = NULL;
    return pmq_queue_open(name, &o, &q) == PMQ_STATUS_OK ? q : NULL;
}

static void part_a(struct shared *sh, int *faults) {
    const char *name = rel_name("fa");
    pmq_options o = rel_options(PMQ_O_CREX, 4, SIZE);
    pmq_queue *q = NULL;
    REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
    if (!q) return;
    for (uint32_t i = 0; i < 4; i++) REL_STATUS(pmq_queue_send(q, (uint8_t *)&i, 4, 1), PMQ_STATUS_OK);
    /* a producer blocked in send on the full queue */
    memset(sh, 0, sizeof *sh);
    pid_t p = fork();
    if (p == 0) {
        alarm(30);
        pmq_queue *w = open_q(name, 0, 1);
        uint32_t v = 99;
        sh->started = 1;
        int st = w ? pmq_queue_send(w, (uint8_t *)&v, 4, 9) : -1;
        _exit(st == 0 ? 0 : 1);
    }
    REL_CHECK(wait_blocked(p, &sh->started), "producer never blocked in send");
    kill(p, SIGKILL);
    int st = rel_wait(p, rel_now() + 10);
    REL_CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "producer not killed (%d)", st);
    (*faults)++;
    int64_t cur = -1;
    REL_STATUS(pmq_queue_current_messages(q, &cur), PMQ_STATUS_OK);
    REL_CHECK(cur == 4, "after killing a blocked sender the queue holds %lld, not 4", (long long)cur);
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t v = 0, pr = 0;
        uint8_t buf[SIZE];
        size_t n = 0;
        REL_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &pr, 5), PMQ_STATUS_OK);
        memcpy(&v, buf, 4);
        REL_CHECK(n == 4 && v == i && pr == 1, "message %u came back as %u/%zu/%u", i, v, n, pr);
    }
    /* a consumer blocked in receive on the empty queue */
    memset(sh, 0, sizeof *sh);
    p = fork();
    if (p == 0) {
        alarm(30);
        pmq_queue *r = open_q(name, 1, 0);
        uint8_t buf[SIZE];
        size_t n;
        sh->started = 1;
        int s = r ? pmq_queue_receive(r, buf, sizeof buf, &n, NULL) : -1;
        _exit(s == 0 ? 0 : 1);
    }
    REL_CHECK(wait_blocked(p, &sh->started), "consumer never blocked in receive");
    kill(p, SIGKILL);
    st = rel_wait(p, rel_now() + 10);
    REL_CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "consumer not killed (%d)", st);
    (*faults)++;
    /* The dead receiver swallowed nothing: our message reaches us. */
    uint32_t v = 1234, got = 0;
    REL_STATUS(pmq_queue_send_timeout(q, (uint8_t *)&v, 4, 3, 5), PMQ_STATUS_OK);
    uint8_t buf[SIZE];
    size_t n = 0;
    REL_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 5), PMQ_STATUS_OK);
    memcpy(&got, buf, 4);
    REL_CHECK(n == 4 && got == 1234, "queue not usable after a killed receiver");
    REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
    pmq_queue_free(q);
}

static void encode(uint8_t *m, uint32_t prod, uint32_t seq) {
    memcpy(m, &prod, 4);
    memcpy(m + 4, &seq, 4);
    uint64_t h = rel_hash(m, 8);
    memcpy(m + 8, &h, 8);
}

static int producer(const char *name, uint32_t id, uint32_t per, struct shared *sh, int victim) {
    alarm(120);
    pmq_queue *q = open_q(name, 0, 1);
    if (!q) return 10;
    uint8_t m[16];
    for (uint32_t s = 0; s < per; s++) {
        encode(m, id, s);
        if (victim) sh->attempted = s;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        int st = pmq_queue_send_timeout(q, m, sizeof m, s % 3, 30);
        if (st != PMQ_STATUS_OK) return 11;
        if (victim) sh->sent = s + 1;
    }
    if (victim) sh->attempted = per;
    pmq_queue_free(q);
    return 0;
}

static int consumer(const char *name, uint32_t per, uint8_t *seen, struct shared *sh, int victim) {
    alarm(120);
    pmq_queue *q = open_q(name, 1, 0);
    if (!q) return 10;
    uint8_t m[SIZE];
    for (;;) {
        size_t n = 0;
        if (victim) sh->in_recv = 1;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        int st = pmq_queue_receive_timeout(q, m, sizeof m, &n, NULL, 30);
        if (st != PMQ_STATUS_OK) {
            __atomic_fetch_add(&sh->bad, 1, __ATOMIC_RELAXED);
            return 11;
        }
        uint32_t prod, seq;
        uint64_t h;
        memcpy(&prod, m, 4);
        memcpy(&seq, m + 4, 4);
        if (n == 4 && prod == STOP) break;
        memcpy(&h, m + 8, 8);
        if (n != 16 || h != rel_hash(m, 8) || prod >= 4 || seq >= per) {
            __atomic_fetch_add(&sh->bad, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_fetch_add(&seen[prod * per + seq], 1, __ATOMIC_RELAXED);
        }
        if (victim) sh->got++;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (victim) sh->in_recv = 0;
    }
    pmq_queue_free(q);
    return 0;
}

/* One round: producers 0-2 and consumers 0-2 survive; producer 3 and
 * consumer 3 are killed at random moments. */
static void part_b_round(uint32_t round, uint32_t per, struct shared *sh, uint8_t *seen, int *faults,
                         uint64_t *moved, int *lost_by_consumer, int *inflight_landed,
                         int *producers_killed) {
    const char *name = rel_name("fb");
    pmq_options o = rel_options(PMQ_O_CREX, 10, SIZE);
    pmq_queue *q = NULL;
    REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
    if (!q) return;
    memset(sh, 0, sizeof *sh);
    memset(seen, 0, (size_t)4 * per);
    pid_t prod[4], cons[4];
    for (int c = 0; c < 4; c++) {
        cons[c] = fork();
        if (cons[c] == 0) _exit(consumer(name, per, seen, sh, c == 3));
    }
    for (int p = 0; p < 4; p++) {
        prod[p] = fork();
        if (prod[p] == 0) _exit(producer(name, (uint32_t)p, per, sh, p == 3));
    }
    /* The kills are driven by progress, never by the clock (a fast machine
     * could finish before a timed kill): the victim producer dies once it
     * has sent a random number of its first half of the messages, the victim
     * consumer once it has received 1 to 64 more after that. */
    uint64_t r = rel_mix(round + 17);
    uint32_t after_sent = 1 + (uint32_t)(r % (per / 2 > 0 ? per / 2 : 1));
    double wait_until = rel_now() + 60;
    while (sh->sent < after_sent && rel_now() < wait_until) rel_sleep(0.0001);
    REL_CHECK(sh->sent >= after_sent, "round %u: the victim producer made no progress (%u sent)",
              round, sh->sent);
    kill(prod[3], SIGKILL);
    /* (The consumer runs until told to stop, so it is always killed alive;
     * if the messages run out first, it is killed once nothing has come for
     * 0.2 s.) */
    uint32_t after_got = sh->got + 1 + (uint32_t)((r >> 20) % 64);
    uint32_t last = sh->got;
    double idle_since = rel_now();
    while (sh->got < after_got && rel_now() - idle_since < 0.2) {
        rel_sleep(0.0001);
        if (sh->got != last) {
            last = sh->got;
            idle_since = rel_now();
        }
    }
    kill(cons[3], SIGKILL);
    double deadline = rel_now() + 60;
    int st3 = rel_wait(prod[3], deadline), sc3 = rel_wait(cons[3], deadline);
    *faults += 2;
    REL_CHECK(st3 >= 0 && (WIFSIGNALED(st3) || rel_exited_ok(st3)), "victim producer: %d", st3);
    *producers_killed += st3 >= 0 && WIFSIGNALED(st3);
    REL_CHECK(sc3 >= 0 && WIFSIGNALED(sc3), "victim consumer not killed: %d", sc3);
    int ok = 0;
    for (int p = 0; p < 3; p++) ok += rel_exited_ok(rel_wait(prod[p], deadline));
    uint32_t stop[1] = {STOP};
    for (int c = 0; c < 3; c++) REL_STATUS(pmq_queue_send_timeout(q, (uint8_t *)stop, 4, 0, 30), PMQ_STATUS_OK);
    for (int c = 0; c < 3; c++) ok += rel_exited_ok(rel_wait(cons[c], deadline));
    REL_CHECK(ok == 6, "round %u: %d of 6 survivors finished cleanly", round, ok);
    REL_CHECK(sh->bad == 0, "round %u: %llu corrupt/unexpected", round, (unsigned long long)sh->bad);

    /* Reconcile. */
    uint32_t attempted = sh->attempted, sent = sh->sent, in_recv = sh->in_recv;
    uint64_t missing = 0, dup = 0, extra = 0;
    for (uint32_t p = 0; p < 4; p++)
        for (uint32_t s = 0; s < per; s++) {
            uint8_t v = seen[p * per + s];
            *moved += v;
            if (v > 1) dup++;
            if (p < 3 || s < sent) {
                if (v == 0) missing++;
            } else if (s == attempted) {
                *inflight_landed += v; /* either in the queue or not: both fine */
            } else if (v != 0) {
                extra++; /* never attempted, yet received */
            }
        }
    REL_CHECK(dup == 0, "round %u: %llu duplicates", round, (unsigned long long)dup);
    REL_CHECK(extra == 0, "round %u: %llu messages received that were never sent", round, (unsigned long long)extra);
    REL_CHECK(missing <= in_recv, "round %u: %llu lost, but the killed consumer held at most %u",
              round, (unsigned long long)missing, in_recv);
    *lost_by_consumer += (int)missing;
    int64_t cur = -1;
    REL_STATUS(pmq_queue_current_messages(q, &cur), PMQ_STATUS_OK);
    REL_CHECK(cur == 0, "round %u: %lld left in the queue", round, (long long)cur);
    /* still usable */
    uint8_t m[SIZE];
    size_t n = 0;
    REL_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"after", 5, 2, 5), PMQ_STATUS_OK);
    REL_STATUS(pmq_queue_receive_timeout(q, m, sizeof m, &n, NULL, 5), PMQ_STATUS_OK);
    REL_CHECK(n == 5 && memcmp(m, "after", 5) == 0, "round %u: queue unusable after the kills", round);
    REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
    pmq_queue_free(q);
}

int main(int argc, char **argv) {
    uint32_t rounds = (uint32_t)rel_arg(argc, argv, "rounds", 10);
    uint32_t per = (uint32_t)rel_arg(argc, argv, "messages", 3000);
    struct shared *sh = rel_shared(sizeof *sh);
    uint8_t *seen = rel_shared((size_t)4 * per);
    int faults = 0, lost = 0, landed = 0, producers_killed = 0;
    uint64_t moved = 0;
    double t0 = rel_now();
    part_a(sh, &faults);
    for (uint32_t r = 0; r < rounds; r++) {
        part_b_round(r, per, sh, seen, &faults, &moved, &lost, &landed, &producers_killed);
        rel_name_count = 0; /* each round unlinked its queue */
    }
    printf("faults: %d SIGKILLs injected (2 into blocked calls, %u rounds x 2 under load), %llu messages "
           "moved in %.1f s; messages lost with a killed consumer: %d (at most 1 per kill allowed); "
           "in-flight sends of killed producers that landed: %d of %u; victim producers killed "
           "before they finished: %d of %u\n",
           faults, rounds, (unsigned long long)moved, rel_now() - t0, lost, landed, rounds,
           producers_killed, rounds);
    /* Progress-driven kills land mid-run (15-18 of 20 in CI runs): a
     * producer that finished first was not tested (it happens when this
     * parent is descheduled between seeing the progress and the kill). */
    REL_CHECK(4 * producers_killed >= (int)rounds,
              "only %d of %u victim producers were killed before they finished", producers_killed,
              rounds);
    return rel_done("faults");
}
