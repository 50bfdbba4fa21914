/* Producer: sends ten records with priorities 0..2, then STOP at priority 99.
 * Usage: producer /queue_name
 * The reference's producer-consumer example, in C over pmq. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pmq.h"

static int fail(const char *what, int st) {
    fprintf(stderr, "producer: %s: %s: %s\n", what, pmq_status_name(st), pmq_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s /queue_name\n", argv[0]);
        return 2;
    }
    pmq_options o;
    pmq_options_init(&o);
    o.flags = PMQ_O_CREAT;
    o.max_messages = 4; /* small: the producer waits when the consumer lags */
    o.max_message_size = 256;
    o.read = false;
    pmq_queue *q = NULL;
    int st = pmq_queue_open(argv[1], &o, &q);
    if (st != PMQ_STATUS_OK) return fail("open", st);

    for (int i = 0; i < 10; i++) {
        char msg[256];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int len = snprintf(msg, sizeof msg, "{\"id\": %d, \"timestamp\": %lld.%03ld, \"value\": %d}", i,
                           (long long)ts.tv_sec, ts.tv_nsec / 1000000, i * 10);
        /* Wait at most 5 s for room: a vanished consumer must not hang us. */
        st = pmq_queue_send_timeout(q, (const uint8_t *)msg, (size_t)len, (uint32_t)(i % 3), 5.0);
        if (st != PMQ_STATUS_OK) return fail("send", st);
        printf("Produced (priority %d): %s\n", i % 3, msg);
        fflush(stdout);
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    st = pmq_queue_send_timeout(q, (const uint8_t *)"STOP", 4, 99, 5.0);
    if (st != PMQ_STATUS_OK) return fail("send STOP", st);
    pmq_queue_free(q);
    return 0;
}
