/* A queue created by pmq is used by plain mq_open /
 * mq_send / mq_receive (in this process and in a forked child), and a queue
 * created by plain mq_open is opened by pmq, which sees its real attributes
 * and exchanges messages with raw calls, priorities preserved. */
#include <fcntl.h>
#include <mqueue.h>

#include "util.h"

static struct timespec deadline_in(int seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return ts;
}

static void pmq_created_raw_used(void) {
    pmq_queue *q = new_queue("interop-pmq", 5, 64);
    if (!q) return;
    const char *name = pmq_queue_name(q);
    mqd_t m = mq_open(name, O_RDWR);
    CHECK(m != (mqd_t)-1);
    if (m == (mqd_t)-1) {
        drop_queue(q);
        return;
    }
    struct mq_attr a;
    CHECK(mq_getattr(m, &a) == 0);
    CHECK(a.mq_maxmsg == 5 && a.mq_msgsize == 64 && a.mq_curmsgs == 0);

    /* pmq -> raw */
    const uint8_t msg[] = {'p', 0, 'm', 'q'};
    CHECK_OK(pmq_queue_send(q, msg, sizeof msg, 7));
    CHECK(mq_getattr(m, &a) == 0 && a.mq_curmsgs == 1);
    char buf[64];
    unsigned prio = 0;
    ssize_t n = mq_receive(m, buf, sizeof buf, &prio);
    CHECK(n == (ssize_t)sizeof msg && memcmp(buf, msg, sizeof msg) == 0 && prio == 7);

    /* raw -> pmq, priorities kept */
    CHECK(mq_send(m, "low", 3, 3) == 0);
    CHECK(mq_send(m, "high", 4, 9) == 0);
    CHECK(mq_send(m, "", 0, PMQ_PRIORITY_MAX) == 0);
    CHECK(current_messages(q) == 3);
    uint8_t out[64];
    size_t len = 0;
    uint32_t p = 0;
    CHECK_OK(pmq_queue_receive_timeout(q, out, sizeof out, &len, &p, 0));
    CHECK(len == 0 && p == PMQ_PRIORITY_MAX);
    CHECK_OK(pmq_queue_receive_timeout(q, out, sizeof out, &len, &p, 0));
    CHECK(len == 4 && memcmp(out, "high", 4) == 0 && p == 9);
    CHECK_OK(pmq_queue_receive_timeout(q, out, sizeof out, &len, &p, 0));
    CHECK(len == 3 && memcmp(out, "low", 3) == 0 && p == 3);
    CHECK(mq_close(m) == 0);

    /* A forked child using only raw calls: receives from pmq, answers. */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        mqd_t c = mq_open(name, O_RDWR);
        if (c == (mqd_t)-1) _exit(10);
        char b[64];
        unsigned pr = 0;
        struct timespec dl = deadline_in(10);
        ssize_t r = mq_timedreceive(c, b, sizeof b, &pr, &dl);
        if (r != 5 || memcmp(b, "ping", 5) != 0 || pr != 4) _exit(11);
        if (mq_send(c, "pong", 5, pr + 1) != 0) _exit(12);
        mq_close(c);
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"ping", 5, 4));
    /* Wait for the child to take "ping" and answer (the reply has priority 5,
     * and receiving in the parent before the child would steal "ping"). */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_OK(pmq_queue_receive_timeout(q, out, sizeof out, &len, &p, 0));
    CHECK(len == 5 && memcmp(out, "pong", 5) == 0 && p == 5);
    drop_queue(q);
}

static void raw_created_pmq_used(void) {
    const char *name = test_queue_name("interop-raw");
    struct mq_attr want = {0};
    want.mq_maxmsg = 3;
    want.mq_msgsize = 40;
    mqd_t m = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0640, &want);
    CHECK(m != (mqd_t)-1);
    if (m == (mqd_t)-1) return;

    /* pmq opens it without O_CREAT, and also with O_CREAT and other sizes:
     * either way it sees the real attributes. */
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, NULL, &q));
    pmq_options o = test_options(PMQ_O_CREAT, 9, 500);
    pmq_queue *q2 = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q2));
    if (!q || !q2) {
        pmq_queue_free(q);
        pmq_queue_free(q2);
        mq_close(m);
        return;
    }
    int64_t v = 0;
    CHECK_OK(pmq_queue_max_messages(q, &v));
    CHECK(v == 3);
    CHECK_OK(pmq_queue_max_message_size(q, &v));
    CHECK(v == 40);
    CHECK_OK(pmq_queue_max_messages(q2, &v));
    CHECK(v == 3);
    CHECK_OK(pmq_queue_max_message_size(q2, &v));
    CHECK(v == 40);

    /* raw -> pmq with priorities */
    CHECK(mq_send(m, "one", 3, 1) == 0);
    CHECK(mq_send(m, "two", 3, 2) == 0);
    CHECK(mq_send(m, "zero\0z", 6, 0) == 0);
    CHECK(current_messages(q) == 3);
    uint8_t out[40];
    size_t len = 0;
    uint32_t p = 0;
    CHECK_OK(pmq_queue_receive(q, out, sizeof out, &len, &p));
    CHECK(len == 3 && memcmp(out, "two", 3) == 0 && p == 2);
    CHECK_OK(pmq_queue_receive(q2, out, sizeof out, &len, &p));
    CHECK(len == 3 && memcmp(out, "one", 3) == 0 && p == 1);
    CHECK_OK(pmq_queue_receive(q, out, sizeof out, &len, &p));
    CHECK(len == 6 && memcmp(out, "zero\0z", 6) == 0 && p == 0);

    /* pmq -> raw */
    uint8_t full[40];
    memset(full, 'F', sizeof full);
    CHECK_OK(pmq_queue_send(q, full, sizeof full, 11));
    CHECK_OK(pmq_queue_send(q2, (const uint8_t *)"top", 3, 12));
    struct mq_attr a;
    CHECK(mq_getattr(m, &a) == 0 && a.mq_curmsgs == 2);
    char buf[40];
    unsigned prio = 0;
    CHECK(mq_receive(m, buf, sizeof buf, &prio) == 3 && memcmp(buf, "top", 3) == 0 && prio == 12);
    CHECK(mq_receive(m, buf, sizeof buf, &prio) == 40 && memcmp(buf, full, 40) == 0 && prio == 11);

    /* pmq's message-size check matches the kernel's: 41 bytes fail both ways. */
    uint8_t big[41] = {0};
    CHECK_STATUS(pmq_queue_send(q, big, sizeof big, 0), PMQ_STATUS_MESSAGE_TOO_LARGE);
    CHECK(mq_send(m, (const char *)big, sizeof big, 0) == -1 && errno == EMSGSIZE);

    pmq_queue_free(q2);
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
    CHECK(mq_close(m) == 0);
    CHECK(mq_unlink(name) == -1 && errno == ENOENT);
}

int main(void) {
    pmq_created_raw_used();
    raw_created_pmq_used();
    return check_done("test_interop");
}
