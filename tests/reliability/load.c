/* Load: P producer processes x C consumer processes on one queue.
 * Every message carries its producer id, sequence number, priority, a
 * payload of varying length derived from (producer, seq), and a checksum.
 * Consumers check each message on arrival (checksum, header, the priority
 * the producer chose) and that, for each producer and priority, the sequence
 * numbers they see only grow (the kernel hands out messages FIFO within a
 * priority, and a consumer's receives are sequential). A table in shared
 * memory counts every (producer, seq): afterwards each must be exactly 1
 * (no loss, no duplicate).
 *
 *   load [producers=4] [consumers=4] [messages=20000] [timeout=120]
 */
#include "rel.h"

#define MSG_SIZE 128
#define HDR 14
#define MAGIC 0x31514d50u
#define STOP 0x504f5453u
static const uint32_t PRIOS[] = {0, 1, 7, 31, PMQ_PRIORITY_MAX};
#define NPRIO 5

struct shared {
    uint64_t corrupt, order_violations, bad_status, received[64];
};

static uint32_t prio_index(uint32_t producer, uint32_t seq) {
    return (uint32_t)(rel_mix(((uint64_t)producer << 32) | seq) % NPRIO);
}

static size_t encode(uint8_t *m, uint32_t producer, uint32_t seq) {
    uint64_t r = rel_mix(((uint64_t)seq << 20) ^ producer ^ 0xabcdef);
    uint16_t len = (uint16_t)(r % (MSG_SIZE - HDR - 8 + 1));
    uint32_t magic = MAGIC;
    uint16_t p16 = (uint16_t)producer, pr = (uint16_t)prio_index(producer, seq);
    memcpy(m, &magic, 4);
    memcpy(m + 4, &p16, 2);
    memcpy(m + 6, &pr, 2);
    memcpy(m + 8, &seq, 4);
    memcpy(m + 12, &len, 2);
    for (uint16_t i = 0; i < len; i++) m[HDR + i] = (uint8_t)(rel_mix(r + i) >> 7);
    uint64_t h = rel_hash(m, HDR + len);
    memcpy(m + HDR + len, &h, 8);
    return HDR + len + 8;
}

static int producer(const char *name, uint32_t id, uint32_t count) {
    alarm(600);
    pmq_options o = rel_options(0, 0, 0);
    o.read = false;
    pmq_queue *q = NULL;
    if (pmq_queue_open(name, &o, &q) != PMQ_STATUS_OK) return 10;
    uint8_t m[MSG_SIZE];
    for (uint32_t s = 0; s < count; s++) {
        size_t n = encode(m, id, s);
        uint32_t prio = PRIOS[prio_index(id, s)];
        int st = (s & 1) ? pmq_queue_send(q, m, n, prio) : pmq_queue_send_timeout(q, m, n, prio, 30.0);
        if (st != PMQ_STATUS_OK) {
            fprintf(stderr, "producer %u seq %u: %s %s\n", id, s, pmq_status_name(st), pmq_last_error());
            return 11;
        }
    }
    pmq_queue_free(q);
    return 0;
}

static int consumer(const char *name, uint32_t id, uint32_t producers, uint32_t per, uint8_t *seen,
                    struct shared *sh) {
    alarm(600);
    pmq_options o = rel_options(0, 0, 0);
    o.write = false;
    pmq_queue *q = NULL;
    if (pmq_queue_open(name, &o, &q) != PMQ_STATUS_OK) return 10;
    int64_t *last = calloc((size_t)producers * NPRIO, sizeof *last);
    for (size_t i = 0; i < (size_t)producers * NPRIO; i++) last[i] = -1;
    uint8_t m[MSG_SIZE];
    for (uint64_t k = 0;; k++) {
        size_t n = 0;
        uint32_t prio = 0;
        int st = (k & 1) ? pmq_queue_receive(q, m, sizeof m, &n, &prio)
                         : pmq_queue_receive_timeout(q, m, sizeof m, &n, &prio, 30.0);
        if (st != PMQ_STATUS_OK) {
            fprintf(stderr, "consumer %u: %s %s\n", id, pmq_status_name(st), pmq_last_error());
            __atomic_fetch_add(&sh->bad_status, 1, __ATOMIC_RELAXED);
            return 11;
        }
        uint32_t magic = 0, seq = 0;
        uint16_t p16 = 0, pr = 0, len = 0;
        if (n >= 4) memcpy(&magic, m, 4);
        if (magic == STOP && n == 4 && prio == 0) break;
        if (n < HDR + 8) goto corrupt;
        memcpy(&p16, m + 4, 2);
        memcpy(&pr, m + 6, 2);
        memcpy(&seq, m + 8, 4);
        memcpy(&len, m + 12, 2);
        uint64_t h;
        if (magic != MAGIC || n != (size_t)HDR + len + 8 || p16 >= producers || seq >= per) goto corrupt;
        memcpy(&h, m + HDR + len, 8);
        if (h != rel_hash(m, HDR + len) || pr != prio_index(p16, seq) || PRIOS[pr] != prio) goto corrupt;
        {
            uint8_t expect[MSG_SIZE];
            if (encode(expect, p16, seq) != n || memcmp(expect, m, n) != 0) goto corrupt;
        }
        __atomic_fetch_add(&seen[(size_t)p16 * per + seq], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&sh->received[id], 1, __ATOMIC_RELAXED);
        if ((int64_t)seq <= last[(size_t)p16 * NPRIO + pr])
            __atomic_fetch_add(&sh->order_violations, 1, __ATOMIC_RELAXED);
        last[(size_t)p16 * NPRIO + pr] = seq;
        continue;
    corrupt:
        __atomic_fetch_add(&sh->corrupt, 1, __ATOMIC_RELAXED);
    }
    free(last);
    pmq_queue_free(q);
    return 0;
}

int main(int argc, char **argv) {
    uint32_t P = (uint32_t)rel_arg(argc, argv, "producers", 4);
    uint32_t C = (uint32_t)rel_arg(argc, argv, "consumers", 4);
    uint32_t N = (uint32_t)rel_arg(argc, argv, "messages", 20000);
    double limit = (double)rel_arg(argc, argv, "timeout", 120);
    if (P < 1 || P > 64 || C < 1 || C > 64 || N < P) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    uint32_t per = N / P;
    N = per * P;
    const char *name = rel_name("load");
    pmq_options o = rel_options(PMQ_O_CREX, 10, MSG_SIZE);
    pmq_queue *q = NULL;
    REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
    if (!q) return rel_done("load");
    uint8_t *seen = rel_shared((size_t)N);
    struct shared *sh = rel_shared(sizeof *sh);
    pid_t pids[128];
    double t0 = rel_now(), deadline = t0 + limit;
    for (uint32_t c = 0; c < C; c++) {
        pids[c] = fork();
        if (pids[c] == 0) _exit(consumer(name, c, P, per, seen, sh));
    }
    for (uint32_t p = 0; p < P; p++) {
        pids[C + p] = fork();
        if (pids[C + p] == 0) _exit(producer(name, p, per));
    }
    int ok_children = 0;
    for (uint32_t p = 0; p < P; p++) ok_children += rel_exited_ok(rel_wait(pids[C + p], deadline));
    /* Every real message is queued now; the STOP messages at priority 0 come
     * after all of them (FIFO within a priority, higher priorities first). */
    uint32_t stop = STOP;
    for (uint32_t c = 0; c < C; c++)
        REL_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)&stop, 4, 0, 30.0), PMQ_STATUS_OK);
    for (uint32_t c = 0; c < C; c++) ok_children += rel_exited_ok(rel_wait(pids[c], deadline));
    double elapsed = rel_now() - t0;
    REL_CHECK(ok_children == (int)(P + C), "%d of %u children exited cleanly", ok_children, P + C);

    uint64_t missing = 0, dup = 0, total = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (seen[i] == 0) missing++;
        if (seen[i] > 1) dup++;
        total += seen[i];
    }
    REL_CHECK(missing == 0, "%llu messages lost", (unsigned long long)missing);
    REL_CHECK(dup == 0, "%llu messages duplicated", (unsigned long long)dup);
    REL_CHECK(sh->corrupt == 0, "%llu corrupt messages", (unsigned long long)sh->corrupt);
    REL_CHECK(sh->order_violations == 0, "%llu order violations", (unsigned long long)sh->order_violations);
    REL_CHECK(sh->bad_status == 0, "%llu unexpected statuses", (unsigned long long)sh->bad_status);
    REL_CHECK(total == N, "received %llu of %u", (unsigned long long)total, N);
    int64_t cur = -1;
    REL_STATUS(pmq_queue_current_messages(q, &cur), PMQ_STATUS_OK);
    REL_CHECK(cur == 0, "%lld messages left", (long long)cur);
    printf("load: %u producers x %u consumers, %u messages (%d priorities, 0-%d byte payloads) in %.2f s "
           "= %.0f msg/s; per consumer:", P, C, N, NPRIO, MSG_SIZE - HDR - 8, elapsed, N / elapsed);
    for (uint32_t c = 0; c < C; c++) printf(" %llu", (unsigned long long)sh->received[c]);
    printf("\nload: lost %llu, duplicated %llu, corrupt %llu, order violations %llu\n",
           (unsigned long long)missing, (unsigned long long)dup, (unsigned long long)sh->corrupt,
           (unsigned long long)sh->order_violations);
    REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
    pmq_queue_free(q);
    return rel_done("load");
}
