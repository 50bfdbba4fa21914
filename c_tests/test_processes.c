/* Two processes on one queue through pmq: a producer sends 200
 * messages with mixed priorities through a 10-slot queue (so it blocks while
 * the consumer catches up), the consumer checks every byte, that each message
 * arrives exactly once with its priority, and FIFO order within a priority.
 * Once with the producer forked, once with the consumer forked. */
#include "util.h"

#define COUNT 200

static uint32_t prio_of(int seq) {
    static const uint32_t p[] = {0, 5, 5, 1, PMQ_PRIORITY_MAX, 0, 17, 1, 5, 2};
    return p[(seq * 7) % 10];
}

/* "seq=NNN" NUL, then (seq % 40) bytes derived from seq. */
static size_t encode(int seq, uint8_t *buf) {
    int n = snprintf((char *)buf, 16, "seq=%03d", seq);
    size_t len = (size_t)n + 1;
    buf[n] = 0;
    for (int i = 0; i < seq % 40; i++) buf[len++] = (uint8_t)(seq * 31 + i * 7);
    return len;
}

static int produce(pmq_queue *q) {
    int errors = 0;
    for (int seq = 0; seq < COUNT; seq++) {
        uint8_t m[64];
        size_t len = encode(seq, m);
        if (pmq_queue_send_timeout(q, m, len, prio_of(seq), 20.0) != PMQ_STATUS_OK) {
            fprintf(stderr, "producer: send %d: %s\n", seq, pmq_last_error());
            errors++;
        }
    }
    return errors;
}

/* Receives COUNT messages and returns the number of problems found. */
static int consume(pmq_queue *q) {
    int problems = 0;
    bool seen[COUNT] = {false};
    int last_seq_of_prio[PMQ_PRIORITY_MAX + 1];
    for (size_t i = 0; i < sizeof last_seq_of_prio / sizeof last_seq_of_prio[0]; i++)
        last_seq_of_prio[i] = -1;
    for (int i = 0; i < COUNT; i++) {
        uint8_t buf[64];
        size_t n = 0;
        uint32_t p = 0;
        if (pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &p, 20.0) != PMQ_STATUS_OK) {
            fprintf(stderr, "consumer: receive #%d: %s\n", i, pmq_last_error());
            return problems + COUNT - i;
        }
        int seq = -1;
        if (n < 8 || sscanf((const char *)buf, "seq=%d", &seq) != 1 || seq < 0 || seq >= COUNT) {
            fprintf(stderr, "consumer: unreadable message #%d\n", i);
            problems++;
            continue;
        }
        uint8_t want[64];
        size_t want_len = encode(seq, want);
        if (n != want_len || memcmp(buf, want, n) != 0) {
            fprintf(stderr, "consumer: message %d has wrong bytes\n", seq);
            problems++;
        }
        if (p != prio_of(seq)) {
            fprintf(stderr, "consumer: message %d has priority %u, sent %u\n", seq, p, prio_of(seq));
            problems++;
        }
        if (seen[seq]) {
            fprintf(stderr, "consumer: message %d twice\n", seq);
            problems++;
        }
        seen[seq] = true;
        if (p <= PMQ_PRIORITY_MAX) {
            if (last_seq_of_prio[p] > seq) {
                fprintf(stderr, "consumer: %d after %d in priority %u\n", seq, last_seq_of_prio[p], p);
                problems++;
            }
            last_seq_of_prio[p] = seq;
        }
    }
    uint8_t extra[64];
    size_t n;
    if (pmq_queue_receive_timeout(q, extra, sizeof extra, &n, NULL, 0) != PMQ_STATUS_WOULD_BLOCK) {
        fprintf(stderr, "consumer: more messages than sent\n");
        problems++;
    }
    return problems;
}

static void run(bool fork_producer) {
    pmq_queue *q = new_queue(fork_producer ? "proc-prod" : "proc-cons", 10, 64);
    if (!q) return;
    char name[300];
    snprintf(name, sizeof name, "%s", pmq_queue_name(q));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child opens its own handle by name (the fork's copy stays unused). */
        pmq_queue *mine = NULL;
        pmq_options o;
        test_options_init(&o);
        o.read = !fork_producer;
        o.write = fork_producer;
        if (pmq_queue_open(name, &o, &mine) != PMQ_STATUS_OK) _exit(100);
        int bad = fork_producer ? produce(mine) : consume(mine);
        pmq_queue_free(mine);
        _exit(bad > 99 ? 99 : bad);
    }
    CHECK(pid > 0);
    if (pid < 0) {
        drop_queue(q);
        return;
    }
    int bad = fork_producer ? consume(q) : produce(q);
    CHECK(bad == 0);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "child exited with %d (status %d)\n", WEXITSTATUS(st), st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(current_messages(q) == 0);
    drop_queue(q);
}

int main(void) {
    run(true);
    run(false);
    return check_done("test_processes");
}
