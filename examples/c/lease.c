/* At-least-once receive (leases, shared-memory backend): a worker leases a
 * job and dies (SIGKILL) before it acks; the job comes back, with delivery
 * 2, to the next worker, which does it and acks. A job that fails every time
 * goes to a dead-letter queue after max_deliveries.
 * Usage: lease [/queue_name] */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmq.h"

static int fail(const char *what, int st) {
    fprintf(stderr, "lease: %s: %s: %s\n", what, pmq_status_name(st), pmq_last_error());
    return 1;
}

/* Opens the job queue: shm backend, at most 2 deliveries, then the
 * dead-letter queue `dead`. */
static int open_jobs(const char *name, const char *dead, int flags, pmq_queue **out) {
    pmq_options o;
    pmq_options_init(&o);
    o.backend = PMQ_BACKEND_SHM;
    o.flags = flags;
    o.max_messages = 8;
    o.max_message_size = 64;
    o.max_deliveries = 2;
    o.dead_letter = dead;
    return pmq_queue_open(name, &o, out);
}

int main(int argc, char **argv) {
    char name[96], dead[112];
    snprintf(name, sizeof name, "%s", argc > 1 ? argv[1] : "/lease_example");
    snprintf(dead, sizeof dead, "%s-dead", name);

    pmq_queue *q = NULL;
    int st = open_jobs(name, dead, PMQ_O_CREX, &q);
    if (st) return fail("open", st);
    const char job[] = "resize photo 17";
    const char poison[] = "poison";
    if ((st = pmq_queue_send(q, (const uint8_t *)job, sizeof job - 1, 1))) return fail("send", st);

    /* A worker that dies holding the lease. */
    pid_t pid = fork();
    if (pid == 0) {
        pmq_queue *w = NULL;
        uint8_t buf[64];
        size_t n = 0;
        pmq_lease l;
        if (open_jobs(name, dead, 0, &w) != PMQ_STATUS_OK ||
            pmq_queue_lease(w, buf, sizeof buf, &n, NULL, &l, 0) != PMQ_STATUS_OK)
            _exit(1);
        printf("worker 1 (pid %d) leased \"%.*s\" (delivery %u) and dies before its ack\n",
               (int)getpid(), (int)n, (const char *)buf, l.delivery);
        fflush(stdout);
        raise(SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);

    /* The next worker gets it again, once the queue has noticed the death
     * (a waiting lease does): delivery 2. */
    uint8_t buf[64];
    size_t n = 0;
    uint32_t prio = 0;
    pmq_lease l;
    if ((st = pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &prio, &l, 30.0, 5.0)))
        return fail("lease", st);
    printf("worker 2 leased \"%.*s\" (delivery %u), did it, acks\n", (int)n, (const char *)buf,
           l.delivery);
    if ((st = pmq_queue_ack(q, &l))) return fail("ack", st);
    st = pmq_queue_ack(q, &l);
    printf("a second ack: %s (%s)\n", pmq_status_name(st), pmq_last_error());

    /* The poison job fails twice (nack); the third lease moves it to the
     * dead-letter queue and finds nothing else. */
    if ((st = pmq_queue_send(q, (const uint8_t *)poison, sizeof poison - 1, 0)))
        return fail("send", st);
    for (int i = 0; i < 2; i++) {
        if ((st = pmq_queue_lease_timeout(q, buf, sizeof buf, &n, NULL, &l, 0, 0)))
            return fail("lease", st);
        printf("\"%.*s\" failed on delivery %u: nack\n", (int)n, (const char *)buf, l.delivery);
        if ((st = pmq_queue_nack(q, &l))) return fail("nack", st);
    }
    st = pmq_queue_lease_timeout(q, buf, sizeof buf, &n, NULL, &l, 0, 0);
    printf("third lease: %s\n", pmq_status_name(st));
    pmq_options o;
    pmq_options_init(&o);
    o.backend = PMQ_BACKEND_SHM;
    pmq_queue *d = NULL;
    if ((st = pmq_queue_open(dead, &o, &d))) return fail("open dead letters", st);
    if ((st = pmq_queue_receive_timeout(d, buf, sizeof buf, &n, NULL, 0)))
        return fail("receive dead letter", st);
    printf("dead-letter queue %s holds \"%.*s\"\n", dead, (int)n, (const char *)buf);

    pmq_queue_free(d);
    pmq_queue_free(q);
    pmq_unlink_backend(dead, PMQ_BACKEND_SHM);
    pmq_unlink_backend(name, PMQ_BACKEND_SHM);
    return 0;
}
