/* Batch send and receive through the C ABI, on both backends: order
 * (priority, then FIFO), exact bytes (empty, binary, max size), a partial
 * batch at capacity with *out_sent saying how much, packing into the
 * buffer, nothing sent when one message is invalid, try-once and timed
 * waits for the first message, and a batch moving between processes. */
#include <sys/wait.h>

#include "check.h"

static pmq_queue *open_queue(uint32_t backend, const char *tag, int64_t cap, int64_t size) {
    pmq_options o = test_options(PMQ_O_CREX, cap, size);
    o.backend = backend;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name(tag), &o, &q));
    return q;
}

static void order_and_bytes(uint32_t backend) {
    pmq_queue *q = open_queue(backend, "batch-order", 8, 64);
    if (!q) return;
    uint8_t big[64];
    memset(big, 0xA5, sizeof big);
    pmq_message m[5] = {
        {(const uint8_t *)"a1", 2, 1},
        {NULL, 0, 5},
        {(const uint8_t *)"b1\0x", 4, 1},
        {big, sizeof big, 5},
        {(const uint8_t *)"c0", 2, 0},
    };
    size_t sent = 99;
    CHECK_OK(pmq_queue_send_batch(q, m, 5, &sent));
    CHECK(sent == 5);
    uint8_t buf[64 * 8];
    pmq_received r[16];
    size_t got = 0;
    CHECK_OK(pmq_queue_receive_batch_timeout(q, buf, sizeof buf, r, 16, &got, 0));
    CHECK(got == 5);
    if (got == 5) {
        const size_t want_len[5] = {0, 64, 2, 4, 2};
        const uint32_t want_prio[5] = {5, 5, 1, 1, 0};
        for (int i = 0; i < 5; i++) {
            CHECK(r[i].len == want_len[i] && r[i].priority == want_prio[i]);
            CHECK(r[i].offset + r[i].len <= sizeof buf);
        }
        CHECK(memcmp(buf + r[1].offset, big, 64) == 0);
        CHECK(memcmp(buf + r[2].offset, "a1", 2) == 0);
        CHECK(memcmp(buf + r[3].offset, "b1\0x", 4) == 0);
        CHECK(memcmp(buf + r[4].offset, "c0", 2) == 0);
    }
    pmq_queue_free(q);
}

static void partial_batches_and_waits(uint32_t backend) {
    pmq_queue *q = open_queue(backend, "batch-part", 4, 16);
    if (!q) return;
    uint32_t v[6] = {0, 1, 2, 3, 4, 5};
    pmq_message m[6];
    for (int i = 0; i < 6; i++) m[i] = (pmq_message){(const uint8_t *)&v[i], sizeof v[i], 2};
    size_t sent = 0;
    CHECK_OK(pmq_queue_send_batch_timeout(q, m, 6, &sent, 0));
    CHECK(sent == 4);
    sent = 77;
    CHECK_STATUS(pmq_queue_send_batch_timeout(q, m + 4, 2, &sent, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_STATUS(pmq_queue_send_batch_timeout(q, m + 4, 2, &sent, 0.03), PMQ_STATUS_TIMED_OUT);
    CHECK(sent == 77); /* written only on success */
    /* An invalid message anywhere: nothing sent, the detail names it. */
    uint8_t big[17] = {0};
    pmq_message bad[2] = {m[0], {big, sizeof big, 0}};
    uint8_t buf[16 * 4];
    pmq_received r[8];
    size_t got = 0;
    CHECK_OK(pmq_queue_receive_batch(q, buf, sizeof buf, r, 8, &got));
    CHECK(got == 4);
    CHECK_STATUS(pmq_queue_send_batch(q, bad, 2, &sent), PMQ_STATUS_MESSAGE_TOO_LARGE);
    CHECK_DETAIL("message 1 of the batch of 2");
    int64_t cur = -1;
    CHECK_OK(pmq_queue_current_messages(q, &cur));
    CHECK(cur == 0);
    CHECK_STATUS(pmq_queue_receive_batch_timeout(q, buf, sizeof buf, r, 8, &got, 0),
                 PMQ_STATUS_WOULD_BLOCK);
    CHECK_STATUS(pmq_queue_receive_batch_timeout(q, buf, sizeof buf, r, 8, &got, 0.03),
                 PMQ_STATUS_TIMED_OUT);
    /* Too small a buffer: the size needed, nothing taken. */
    CHECK_OK(pmq_queue_send_batch(q, m, 1, &sent));
    CHECK_STATUS(pmq_queue_receive_batch(q, buf, 15, r, 8, &got), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(got == 16);
    /* Packing: one max_message_size of room holds 4 four-byte messages on
     * shm, one on the kernel backend (it needs that room per message). */
    CHECK_OK(pmq_queue_send_batch(q, m + 1, 3, &sent));
    CHECK(sent == 3);
    CHECK_OK(pmq_queue_receive_batch(q, buf, 16, r, 8, &got));
    CHECK(got == (backend == PMQ_BACKEND_SHM ? 4u : 1u));
    for (size_t i = 0; i < got; i++) {
        uint32_t x;
        memcpy(&x, buf + r[i].offset, sizeof x);
        CHECK(x == i && r[i].len == 4);
    }
    /* Zero counts do nothing and succeed. */
    CHECK_OK(pmq_queue_send_batch(q, NULL, 0, &sent));
    CHECK(sent == 0);
    CHECK_OK(pmq_queue_receive_batch(q, buf, sizeof buf, NULL, 0, &got));
    CHECK(got == 0);
    pmq_queue_free(q);
}

/* A child sends 3000 numbered messages in batches of 7; the parent takes
 * them in batches and checks every one arrives once, in order. */
static void between_processes(uint32_t backend) {
    const char *name = test_queue_name("batch-proc");
    pmq_options o = test_options(PMQ_O_CREX, 8, 16);
    o.backend = backend;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    enum { N = 3000 };
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        pmq_options co;
        pmq_options_init(&co);
        co.backend = backend;
        pmq_queue *c = NULL;
        if (pmq_queue_open(name, &co, &c) != PMQ_STATUS_OK) _exit(2);
        static uint32_t v[N];
        for (uint32_t i = 0; i < N; i++) v[i] = i;
        size_t at = 0;
        while (at < N) {
            pmq_message m[7];
            size_t k = 0;
            for (; k < 7 && at + k < N; k++)
                m[k] = (pmq_message){(const uint8_t *)&v[at + k], sizeof v[0], 3};
            size_t sent = 0;
            if (pmq_queue_send_batch(c, m, k, &sent) != PMQ_STATUS_OK || sent == 0) _exit(3);
            at += sent;
        }
        pmq_queue_free(c);
        _exit(0);
    }
    uint32_t next = 0;
    int bad = 0, calls = 0;
    while (next < N && !bad) {
        uint8_t buf[16 * 8];
        pmq_received r[8];
        size_t got = 0;
        if (pmq_queue_receive_batch_timeout(q, buf, sizeof buf, r, 8, &got, 20.0) != PMQ_STATUS_OK) {
            bad = 1;
            break;
        }
        calls++;
        for (size_t i = 0; i < got; i++) {
            uint32_t x;
            memcpy(&x, buf + r[i].offset, sizeof x);
            if (x != next || r[i].priority != 3) bad = 1;
            next++;
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(!bad && next == N);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("batch: %s: %d messages from another process in %d batch receives\n",
           backend == PMQ_BACKEND_SHM ? "shm" : "kernel", N, calls);
    pmq_queue_free(q);
}

int main(void) {
    const uint32_t backends[2] = {PMQ_BACKEND_KERNEL, PMQ_BACKEND_SHM};
    for (int i = 0; i < 2; i++) {
        order_and_bytes(backends[i]);
        partial_batches_and_waits(backends[i]);
        between_processes(backends[i]);
    }
    return check_done("batch");
}
