/* Exhaustion: RLIMIT_MSGQUEUE, queues_max, RLIMIT_NOFILE, msg_max and
 * msgsize_max give PMQ_STATUS_SYSTEM_LIMIT with a detail naming the limit;
 * the number of open descriptors (/proc/self/fd) returns to its baseline;
 * the library works normally afterwards.
 *
 * Nothing here touches a limit shared with other users of the machine:
 *  - RLIMIT_MSGQUEUE and RLIMIT_NOFILE are lowered with setrlimit in a child;
 *    when running as root the child also becomes uid/gid 65534, whose
 *    per-user message-queue allowance is its own (not the one shared by every
 *    root process), so the count of queues that fit is exact.
 *  - queues_max is lowered inside a private IPC namespace
 *    (unshare(CLONE_NEWIPC)): /proc/sys/fs/mqueue/queues_max is per IPC
 *    namespace, so the machine's value is never changed (checked). The child
 *    then drops root (CAP_SYS_RESOURCE ignores queues_max and msg_max).
 *
 *   exhaust [strict=1]
 */
#include <sched.h>
#include <sys/resource.h>

#include "rel.h"

/* strict=1 (the default) fails when the detail at RLIMIT_NOFILE names the
 * wrong limit (a bug this suite found, fixed in src/backend/kernel.rs);
 * strict=0 only reports it. */
static int strict;

struct shared {
    int passed, failed;
    int created;
};

static void child_done(struct shared *sh) {
    sh->passed += rel_passed;
    sh->failed += rel_failed;
    fflush(stdout);
    _exit(0);
}

static int drop_root(void) {
    if (geteuid() != 0) return 0;
    return setgid(65534) == 0 && setuid(65534) == 0 ? 1 : -1;
}

static void check_detail(int st, const char *needle, const char *what) {
    REL_CHECK(st == PMQ_STATUS_SYSTEM_LIMIT, "%s: %s (%s)", what, pmq_status_name(st), pmq_last_error());
    REL_CHECK(strstr(pmq_last_error(), needle) != NULL, "%s: detail does not name %s: %s", what, needle,
              pmq_last_error());
}

/* After exhaustion: descriptors back to baseline and a normal round trip. */
static void works_afterwards(const char *tag, int baseline) {
    REL_CHECK(rel_open_fds() == baseline, "%s: %d descriptors open, baseline %d", tag, rel_open_fds(), baseline);
    char name[96];
    snprintf(name, sizeof name, "/%s-rel-after-%s-%ld", test_prefix(), tag, (long)getpid());
    pmq_options o = rel_options(PMQ_O_CREX, 2, 32);
    pmq_queue *q = NULL;
    REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
    if (!q) return;
    uint8_t buf[32];
    size_t n = 0;
    REL_STATUS(pmq_queue_send(q, (const uint8_t *)"fine", 4, 1), PMQ_STATUS_OK);
    REL_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 1), PMQ_STATUS_OK);
    REL_CHECK(n == 4 && memcmp(buf, "fine", 4) == 0, "%s: round trip", tag);
    REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
    pmq_queue_free(q);
    REL_CHECK(rel_open_fds() == baseline, "%s: descriptors not back to baseline", tag);
}

/* Creates queues of `m` x `size` until one fails; returns how many fit. */
static int fill(const char *tag, int64_t m, int64_t size, int max, pmq_queue **qs, int *last_status) {
    int k = 0;
    *last_status = PMQ_STATUS_OK;
    for (; k < max; k++) {
        char name[96];
        snprintf(name, sizeof name, "/%s-rel-%s-%ld-%d", test_prefix(), tag, (long)getpid(), k);
        pmq_options o = rel_options(PMQ_O_CREX, m, size);
        int st = pmq_queue_open(name, &o, &qs[k]);
        if (st != PMQ_STATUS_OK) {
            *last_status = st;
            break;
        }
    }
    return k;
}

static void release(pmq_queue **qs, int k) {
    for (int i = 0; i < k; i++) {
        REL_STATUS(pmq_queue_unlink(qs[i]), PMQ_STATUS_OK);
        pmq_queue_free(qs[i]);
    }
}

static void rlimit_msgqueue(struct shared *sh) {
    const rlim_t LIMIT = 16384;
    struct rlimit rl = {LIMIT, LIMIT};
    REL_CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0, "setrlimit");
    int dropped = drop_root();
    REL_CHECK(dropped >= 0, "drop root");
    int baseline = rel_open_fds();
    pmq_queue *qs[64];
    int st;
    uint64_t cost = pmq_queue_cost(4, 1024);
    int k = fill("mqb", 4, 1024, 64, qs, &st);
    check_detail(st, "RLIMIT_MSGQUEUE", "RLIMIT_MSGQUEUE");
    if (dropped == 1)
        REL_CHECK((uint64_t)k == LIMIT / cost, "%d queues of %llu bytes fit in %llu, expected %llu", k,
                  (unsigned long long)cost, (unsigned long long)LIMIT, (unsigned long long)(LIMIT / cost));
    printf("exhaust: RLIMIT_MSGQUEUE=%llu: %d queues of 4x1024 (%llu bytes each) created, then "
           "%s: \"%.90s...\"\n", (unsigned long long)LIMIT, k, (unsigned long long)cost, pmq_status_name(st),
           pmq_last_error());
    release(qs, k);
    sh->created += k;
    works_afterwards("mqb", baseline);
    child_done(sh);
}

static void queues_max(struct shared *sh) {
    if (unshare(CLONE_NEWIPC) != 0) {
        printf("exhaust: queues_max NOT TESTED: unshare(CLONE_NEWIPC) failed (%s); needs CAP_SYS_ADMIN\n",
               strerror(errno));
        rel_failed++;
        child_done(sh);
    }
    FILE *f = fopen("/proc/sys/fs/mqueue/queues_max", "w");
    REL_CHECK(f != NULL, "open queues_max in the private namespace");
    if (!f) child_done(sh);
    fprintf(f, "4\n");
    REL_CHECK(fclose(f) == 0, "write queues_max");
    REL_CHECK(drop_root() == 1, "drop root (needed: CAP_SYS_RESOURCE ignores queues_max)");
    pmq_limits l;
    REL_STATUS(pmq_limits_get(&l), PMQ_STATUS_OK);
    REL_CHECK(l.queues_max == 4, "queues_max in the namespace is %lld", (long long)l.queues_max);
    int baseline = rel_open_fds();
    pmq_queue *qs[16];
    int st;
    int k = fill("qmax", 1, 16, 16, qs, &st);
    REL_CHECK(k == 4, "%d queues created under queues_max=4", k);
    check_detail(st, "queues_max", "queues_max");
    printf("exhaust: queues_max=4 (private IPC namespace): %d queues created, then %s: \"%.90s...\"\n", k,
           pmq_status_name(st), pmq_last_error());
    /* msg_max / msgsize_max, now that CAP_SYS_RESOURCE is gone */
    pmq_queue *q = NULL;
    pmq_options o = rel_options(PMQ_O_CREX, l.msg_max + 1, 16);
    release(qs, 1); /* room for one more queue */
    int s1 = pmq_queue_open("/pmq-rel-msgmax", &o, &q);
    check_detail(s1, "msg_max", "msg_max");
    o = rel_options(PMQ_O_CREX, 1, l.msgsize_max + 1);
    int s2 = pmq_queue_open("/pmq-rel-msgsizemax", &o, &q);
    check_detail(s2, "msgsize_max", "msgsize_max");
    printf("exhaust: max_messages=msg_max+1 -> %s, max_message_size=msgsize_max+1 -> %s\n",
           pmq_status_name(s1), pmq_status_name(s2));
    release(qs + 1, k - 1);
    sh->created += k;
    works_afterwards("qmax", baseline);
    child_done(sh);
}

static void rlimit_nofile(struct shared *sh) {
    char name[96];
    snprintf(name, sizeof name, "/%s-rel-nofile-%ld", test_prefix(), (long)getpid());
    pmq_options o = rel_options(PMQ_O_CREX, 1, 16);
    pmq_queue *first = NULL;
    REL_STATUS(pmq_queue_open(name, &o, &first), PMQ_STATUS_OK);
    if (!first) child_done(sh);
    int baseline = rel_open_fds();
    struct rlimit old, rl;
    getrlimit(RLIMIT_NOFILE, &old);
    rl.rlim_cur = (rlim_t)baseline + 4;
    rl.rlim_max = old.rlim_max;
    REL_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit NOFILE");
    pmq_queue *qs[16];
    int k = 0, st = PMQ_STATUS_OK;
    o = rel_options(0, 0, 0);
    for (; k < 16; k++)
        if ((st = pmq_queue_open(name, &o, &qs[k])) != PMQ_STATUS_OK) break;
    REL_CHECK(k >= 1 && k <= 8, "%d extra descriptors fit under RLIMIT_NOFILE=baseline+4", k);
    char detail[512];
    snprintf(detail, sizeof detail, "%s", pmq_last_error());
    REL_CHECK(st == PMQ_STATUS_SYSTEM_LIMIT, "RLIMIT_NOFILE: %s (%s)", pmq_status_name(st), detail);
    int names_nofile = strstr(detail, "RLIMIT_NOFILE") != NULL;
    printf("exhaust: RLIMIT_NOFILE=%d: %d handles opened, then %s: \"%.120s...\"\n", baseline + 4, k,
           pmq_status_name(st), detail);
    if (strict) REL_CHECK(names_nofile, "detail does not name RLIMIT_NOFILE: %s", detail);
    if (!names_nofile)
        printf("exhaust: KNOWN LIBRARY BUG: at the descriptor limit the detail names the wrong limit "
               "(it cannot open /proc/self/fd to count descriptors, so it blames RLIMIT_MSGQUEUE)\n");
    for (int i = 0; i < k; i++) pmq_queue_free(qs[i]);
    REL_CHECK(rel_open_fds() == baseline, "descriptors back to baseline");
    setrlimit(RLIMIT_NOFILE, &old);
    REL_STATUS(pmq_queue_unlink(first), PMQ_STATUS_OK);
    pmq_queue_free(first);
    /* The baseline of this part is the count with `first` open (checked
     * above); descriptors this process inherited are not ours to count. */
    works_afterwards("nofile", rel_open_fds());
    child_done(sh);
}

int main(int argc, char **argv) {
    strict = (int)rel_arg(argc, argv, "strict", 1);
    struct shared *sh = rel_shared(sizeof *sh);
    int before = -1, after = -1;
    FILE *f = fopen("/proc/sys/fs/mqueue/queues_max", "r");
    if (f) {
        if (fscanf(f, "%d", &before) != 1) before = -1;
        fclose(f);
    }
    int fds0 = rel_open_fds();
    void (*parts[])(struct shared *) = {rlimit_msgqueue, queues_max, rlimit_nofile};
    for (size_t i = 0; i < 3; i++) {
        pid_t p = fork();
        if (p == 0) {
            alarm(60);
            parts[i](sh);
        }
        int st = rel_wait(p, rel_now() + 60);
        REL_CHECK(rel_exited_ok(st), "part %zu child: %d", i, st);
    }
    f = fopen("/proc/sys/fs/mqueue/queues_max", "r");
    if (f) {
        if (fscanf(f, "%d", &after) != 1) after = -2;
        fclose(f);
    }
    REL_CHECK(before == after, "the machine's queues_max changed: %d -> %d", before, after);
    REL_CHECK(rel_open_fds() == fds0, "parent descriptors");
    rel_passed += sh->passed;
    rel_failed += sh->failed;
    works_afterwards("parent", fds0);
    return rel_done("exhaust");
}
