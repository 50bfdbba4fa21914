/* Edge cases found in review: huge finite timeouts (no deadline can be
 * represented) and the order of checks on a closed handle. */
#include "check.h"

#include <pthread.h>

static void *send_later(void *arg) {
    usleep(50 * 1000);
    (void)pmq_queue_send((pmq_queue *)arg, (const uint8_t *)"late", 4, 0);
    return NULL;
}

int main(void) {
    pmq_options o = test_options(PMQ_O_CREX, 2, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("edge"), &o, &q));
    if (!q) return check_done("test_edge");
    uint8_t buf[16];
    size_t n = 0;
    /* 1e19 s is finite and valid but beyond any clock: it must wait like
     * "forever", not fail or panic. */
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, 1e19));
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 1e19));
    CHECK(n == 1 && buf[0] == 'x');
    pthread_t t;
    pthread_create(&t, NULL, send_later, q);
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 1e19)); /* waits for the thread */
    CHECK(n == 4 && memcmp(buf, "late", 4) == 0);
    pthread_join(t, NULL);
    /* Closed wins over argument errors. */
    CHECK_OK(pmq_queue_close(q));
    uint8_t big[17] = {0};
    CHECK_STATUS(pmq_queue_send(q, big, sizeof big, 0), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_send(q, big, 1, PMQ_PRIORITY_MAX + 1), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_receive(q, buf, 8, &n, NULL), PMQ_STATUS_CLOSED);
    CHECK_OK(pmq_queue_unlink(q));
    pmq_queue_free(q);

    /* Above the kernel's hard ceiling no sysctl helps: the detail must not suggest one. */
    if (testing_shm()) {
        skip("kernel_ceiling", "the kernel backend's hard ceiling (65536 messages); shm has none");
    } else {
        pmq_options huge = test_options(PMQ_O_CREX, 70000, 16);
        pmq_queue *h = NULL;
        int st = pmq_queue_open(test_queue_name("ceiling"), &huge, &h);
        CHECK(st == PMQ_STATUS_SYSTEM_LIMIT);
        CHECK_DETAIL("65536");
        if (h) {
            pmq_queue_unlink(h);
            pmq_queue_free(h);
        }
    }
    return check_done("test_edge");
}
