/* Receipts of dead receivers through the C API, with receivers SIGKILLed at
 * the shared-memory backend's kill points (libpmq built with the
 * `fault-injection` feature: `make test-c-faults` builds it apart from the
 * shipped library): one killed right after its take committed
 * (receive.committed: taken), one killed after writing its receipt but
 * before the commit (receive.pending: queued, and once another receiver has
 * taken the message, neither). A child that is not killed where asked (a
 * library without kill points) fails the test. */
#include <signal.h>
#include <sys/wait.h>

#include "util.h"

static pmq_options shm_open_options(int flags) {
    pmq_options o = test_options(flags, 8, 32);
    o.backend = PMQ_BACKEND_SHM;
    return o;
}

/* The child: one try-once receive on `name`, killed at PMQ_FAULT_KILL. */
static int child(const char *name) {
    pmq_options o = shm_open_options(0);
    pmq_queue *q = NULL;
    uint8_t buf[32];
    size_t n = 0;
    if (pmq_queue_open(name, &o, &q) != PMQ_STATUS_OK) return 2;
    (void)pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0);
    return 3; /* the kill point was not reached */
}

/* Runs this program as a child receiver killed at `point`; its pid, 0 if
 * it did not die of SIGKILL. A fresh program (exec), so the library reads
 * PMQ_FAULT_KILL anew. */
static pid_t kill_at(const char *name, const char *point) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("PMQ_FAULT_KILL", point, 1);
        execl("/proc/self/exe", "test_receipt_faults", "child", name, (char *)NULL);
        _exit(99);
    }
    int ws = 0;
    const bool killed = pid > 0 && waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) &&
                        WTERMSIG(ws) == SIGKILL;
    if (!killed) fprintf(stderr, "child at %s: wait status %d\n", point, ws);
    CHECK(killed);
    return killed ? pid : 0;
}

static bool head_is(const pmq_receipt *r, const char *text) {
    uint8_t want[16] = {0};
    memcpy(want, text, strlen(text));
    return memcmp(r->head, want, sizeof want) == 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "child") == 0) return child(argv[2]);
    const char *name = test_queue_name("receipt-faults");
    pmq_options o = shm_open_options(PMQ_O_CREX);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return check_done("test_receipt_faults");
    /* seqs 1..4 */
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"b-five", 6, 5));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"a-one", 5, 1));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"c-one", 5, 1));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"d-zero", 6, 0));
    /* A live receiver's own receipt is not a dead one's. */
    pmq_options oo = shm_open_options(0);
    pmq_queue *live = NULL;
    CHECK_OK(pmq_queue_open(name, &oo, &live));
    uint8_t buf[32];
    size_t n = 0;
    CHECK_OK(pmq_queue_receive_timeout(live, buf, sizeof buf, &n, NULL, 0));
    CHECK(n == 6 && memcmp(buf, "b-five", 6) == 0);
    pmq_receipt r[4];
    size_t count = 99;
    CHECK_OK(pmq_queue_dead_receipts(q, r, 4, &count));
    CHECK(count == 0);

    const pid_t taker = kill_at(name, "receive.committed");
    /* A live handle takes over the dead record and keeps it (and the
     * receipt it carries) from the next child. */
    pmq_queue *heir = NULL;
    CHECK_OK(pmq_queue_open(name, &oo, &heir));
    const pid_t untaker = kill_at(name, "receive.written");

    memset(r, 0, sizeof r);
    CHECK_OK(pmq_queue_dead_receipts(q, r, 4, &count));
    CHECK(count == 2);
    CHECK(r[0].pid == (uint32_t)taker && r[0].seq == 2 && r[0].len == 5 && r[0].priority == 1);
    CHECK(r[0].taken && !r[0].queued && head_is(&r[0], "a-one"));
    CHECK(r[1].pid == (uint32_t)untaker && r[1].seq == 3 && r[1].len == 5 && r[1].priority == 1);
    CHECK(!r[1].taken && r[1].queued && head_is(&r[1], "c-one"));

    /* The message whose take did not commit is still delivered, once. */
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0));
    CHECK(n == 5 && memcmp(buf, "c-one", 5) == 0);
    memset(r, 0, sizeof r);
    CHECK_OK(pmq_queue_dead_receipts(live, r, 4, &count));
    CHECK(count == 2 && r[0].taken && r[1].seq == 3 && !r[1].taken && !r[1].queued);
    CHECK(current_messages(q) == 1);

    pmq_queue_free(heir);
    pmq_queue_free(live);
    drop_queue(q);
    return check_done("test_receipt_faults");
}
