/* The reference's basic, priority, non-blocking/timeout, block and
 * capacity examples, in C through pmq.h only. */
#include "check.h"

static void basic_usage(void) {
    CHECK(pmq_message_queues_supported());
    CHECK(PMQ_MESSAGE_QUEUES_SUPPORTED == 1);
    const char *name = test_queue_name("basic");
    pmq_options o = test_options(PMQ_O_CREAT, 4, 128);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    const char msg[] = "Hello, message queue!";
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)msg, sizeof msg - 1, 0));
    uint8_t buf[128];
    size_t n = 0;
    uint32_t prio = 99;
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, &prio));
    CHECK(n == sizeof msg - 1 && memcmp(buf, msg, n) == 0);
    CHECK(prio == 0);
    CHECK_OK(pmq_queue_close(q));
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
}

static void priorities(void) {
    pmq_options o = test_options(PMQ_O_CREX, 8, 64);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("prio"), &o, &q));
    if (!q) return;
    struct { const char *text; uint32_t prio; } sent[] = {
        {"low-a", 1}, {"high", 10}, {"mid-a", 5}, {"low-b", 1}, {"mid-b", 5}, {"max", PMQ_PRIORITY_MAX},
    };
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)sent[i].text, strlen(sent[i].text), sent[i].prio));
    }
    const char *order[] = {"max", "high", "mid-a", "mid-b", "low-a", "low-b"};
    const uint32_t prios[] = {PMQ_PRIORITY_MAX, 10, 5, 5, 1, 1};
    for (size_t i = 0; i < 6; i++) {
        uint8_t buf[64];
        size_t n = 0;
        uint32_t p = 0;
        CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &p, 0));
        CHECK(n == strlen(order[i]) && memcmp(buf, order[i], n) == 0);
        CHECK(p == prios[i]);
    }
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
}

static void try_once_and_timeouts(void) {
    pmq_options o = test_options(PMQ_O_CREX, 2, 32);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("timeout"), &o, &q));
    if (!q) return;
    uint8_t buf[32];
    size_t n;
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK(pmq_status_is_busy(PMQ_STATUS_WOULD_BLOCK));
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0.05), PMQ_STATUS_TIMED_OUT);
    CHECK_DETAIL("empty");
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"a", 1, 0, 0));
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"b", 1, 0, 1.0));
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"c", 1, 0, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"c", 1, 0, 0.02), PMQ_STATUS_TIMED_OUT);
    CHECK_DETAIL("full");
    int64_t cur = -1;
    CHECK_OK(pmq_queue_current_messages(q, &cur));
    CHECK(cur == 2);
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
}

static void block_switch(void) {
    pmq_options o = test_options(PMQ_O_CREX, 1, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("block"), &o, &q));
    if (!q) return;
    bool b = false;
    CHECK_OK(pmq_queue_get_block(q, &b));
    CHECK(b == true);
    CHECK_OK(pmq_queue_set_block(q, false));
    CHECK_OK(pmq_queue_get_block(q, &b));
    CHECK(b == false);
    uint8_t buf[16];
    size_t n;
    /* Non-blocking: even "wait forever" and long timeouts return at once. */
    CHECK_STATUS(pmq_queue_receive(q, buf, sizeof buf, &n, NULL), PMQ_STATUS_WOULD_BLOCK);
    CHECK_DETAIL("non-blocking");
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 30.0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"x", 1, 0));
    CHECK_STATUS(pmq_queue_send(q, (const uint8_t *)"y", 1, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_OK(pmq_queue_set_block(q, true));
    CHECK_OK(pmq_queue_get_block(q, &b));
    CHECK(b == true);
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, NULL));
    CHECK(n == 1 && buf[0] == 'x');
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
}

static void capacity(void) {
    pmq_options o = test_options(PMQ_O_CREX, 5, 256);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("capacity"), &o, &q));
    if (!q) return;
    int64_t v = 0;
    CHECK_OK(pmq_queue_max_messages(q, &v));
    CHECK(v == 5);
    CHECK_OK(pmq_queue_max_message_size(q, &v));
    CHECK(v == 256);
    for (int i = 0; i < 5; i++) {
        char m[32];
        int len = snprintf(m, sizeof m, "Message %d", i);
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)m, (size_t)len, 0));
        CHECK_OK(pmq_queue_current_messages(q, &v));
        CHECK(v == i + 1);
    }
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"Overflow", 8, 0, 0), PMQ_STATUS_WOULD_BLOCK);
    pmq_attributes a;
    CHECK_OK(pmq_queue_get_attributes(q, &a));
    CHECK(a.max_messages == 5 && a.max_message_size == 256 && a.current_messages == 5 && a.block);
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);
}

int main(void) {
    basic_usage();
    priorities();
    try_once_and_timeouts();
    block_switch();
    capacity();
    return check_done("test_basic");
}
