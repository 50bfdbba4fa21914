/* Consumer: receives until STOP, then removes the queue.
 * Usage: consumer /queue_name
 * Waits at most 10 s for each message, so a dead producer cannot hang it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmq.h"

static int fail(const char *what, int st) {
    fprintf(stderr, "consumer: %s: %s: %s\n", what, pmq_status_name(st), pmq_last_error());
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
    o.max_messages = 4;
    o.max_message_size = 256;
    o.write = false;
    pmq_queue *q = NULL;
    int st = pmq_queue_open(argv[1], &o, &q);
    if (st != PMQ_STATUS_OK) return fail("open", st);

    int64_t size = 0;
    pmq_queue_max_message_size(q, &size);
    uint8_t *buf = malloc((size_t)size + 1);
    if (!buf) return 1;
    int received = 0;
    for (;;) {
        size_t n = 0;
        uint32_t prio = 0;
        st = pmq_queue_receive_timeout(q, buf, (size_t)size, &n, &prio, 10.0);
        if (st != PMQ_STATUS_OK) {
            free(buf);
            return fail("receive", st);
        }
        buf[n] = '\0';
        if (n == 4 && memcmp(buf, "STOP", 4) == 0) {
            /* STOP has the highest priority, so it may overtake records that
             * were still queued: take those too, without waiting. */
            while (pmq_queue_receive_timeout(q, buf, (size_t)size, &n, &prio, 0) == PMQ_STATUS_OK) {
                buf[n] = '\0';
                received++;
                printf("Consumed (priority %u): %s\n", prio, (char *)buf);
            }
            printf("Consumer stopping after %d messages\n", received);
            break;
        }
        received++;
        printf("Consumed (priority %u): %s\n", prio, (char *)buf);
        fflush(stdout);
    }
    free(buf);
    st = pmq_queue_unlink(q);
    if (st != PMQ_STATUS_OK) return fail("unlink", st);
    pmq_queue_free(q);
    return received == 10 ? 0 : 1;
}
