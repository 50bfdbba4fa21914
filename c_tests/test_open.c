/* Opening and creating queues through the C ABI: names,
 * random names, flags, mode, default sizes read at call time, existing
 * attributes winning, read/write access, limits and invalid arguments, each
 * failure with a detail that says what was wrong. */
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include "util.h"

static mode_t fd_mode(const pmq_queue *q) {
    int fd = -1;
    CHECK_OK(pmq_queue_fileno(q, &fd));
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        CHECK(!"fstat on the queue descriptor failed");
        return 0;
    }
    return st.st_mode & 07777;
}

static void flag_values(void) {
    CHECK(PMQ_O_CREAT == O_CREAT);
    CHECK(PMQ_O_EXCL == O_EXCL);
    CHECK(PMQ_O_CREX == (O_CREAT | O_EXCL));
    CHECK(PMQ_O_NONBLOCK == O_NONBLOCK);
    CHECK(PMQ_DEFAULT_MODE == 0600);
    CHECK(PMQ_NAME_MAX == 255);
}

static void named_create_open_exclusive(void) {
    const char *name = test_queue_name("named");
    pmq_options o = test_options(0, 4, 64);
    pmq_queue *q = NULL;

    /* Missing, no O_CREAT: NOT_FOUND, and the handle is untouched. */
    pmq_queue *sentinel = (pmq_queue *)&o;
    q = sentinel;
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_NOT_FOUND);
    CHECK_DETAIL("does not exist");
    CHECK_DETAIL("O_CREAT");
    CHECK(pmq_last_error_errno() == ENOENT);
    CHECK(q == sentinel);
    q = NULL;

    o.flags = PMQ_O_CREAT;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    CHECK(strcmp(pmq_queue_name(q), name) == 0);

    /* O_CREX on an existing queue: EXISTS. */
    pmq_queue *q2 = NULL;
    o.flags = PMQ_O_CREX;
    CHECK_STATUS(pmq_queue_open(name, &o, &q2), PMQ_STATUS_EXISTS);
    CHECK_DETAIL("already exists");
    CHECK(pmq_last_error_errno() == EEXIST);
    CHECK(q2 == NULL);

    /* O_CREAT on an existing queue and plain open both just open it. */
    o.flags = PMQ_O_CREAT;
    CHECK_OK(pmq_queue_open(name, &o, &q2));
    pmq_queue *q3 = NULL;
    CHECK_OK(pmq_queue_open(name, NULL, &q3));
    if (q2 && q3) {
        CHECK_OK(pmq_queue_send(q2, (const uint8_t *)"hi", 2, 1));
        uint8_t buf[64];
        size_t n = 0;
        CHECK_OK(pmq_queue_receive_timeout(q3, buf, sizeof buf, &n, NULL, 0));
        CHECK(n == 2 && memcmp(buf, "hi", 2) == 0);
    }
    pmq_queue_free(q2);
    pmq_queue_free(q3);
    drop_queue(q);
}

static void random_names(void) {
    pmq_options o = test_options(0, 2, 32); /* no O_CREAT: a random name creates anyway */
    pmq_queue *a = NULL, *b = NULL;
    CHECK_OK(pmq_queue_open(NULL, &o, &a));
    CHECK_OK(pmq_queue_open(NULL, &o, &b));
    if (!a || !b) {
        drop_queue(a);
        drop_queue(b);
        return;
    }
    const char *na = pmq_queue_name(a);
    const char *nb = pmq_queue_name(b);
    CHECK(na != NULL && nb != NULL);
    CHECK(na[0] == '/' && strchr(na + 1, '/') == NULL);
    CHECK(strlen(na) >= 16); /* long enough for collisions to be negligible */
    CHECK(strcmp(na, nb) != 0);
    /* The queue really exists under that name, and was created fresh. */
    pmq_options crex = test_options(PMQ_O_CREX, 2, 32);
    pmq_queue *dup = NULL;
    CHECK_STATUS(pmq_queue_open(na, &crex, &dup), PMQ_STATUS_EXISTS);
    pmq_queue *other = open_existing(na, true, true);
    if (other) {
        CHECK(current_messages(other) == 0);
        CHECK_OK(pmq_queue_send(a, (const uint8_t *)"r", 1, 0));
        CHECK(current_messages(other) == 1);
        pmq_queue_free(other);
    }
    int64_t v = 0;
    CHECK_OK(pmq_queue_max_messages(a, &v));
    CHECK(v == 2);
    /* Random-name queues are created exclusively even if flags say CREX/CREAT. */
    o.flags = PMQ_O_CREX;
    pmq_queue *c = NULL;
    CHECK_OK(pmq_queue_open(NULL, &o, &c));
    if (c) CHECK(strcmp(pmq_queue_name(c), na) != 0 && strcmp(pmq_queue_name(c), nb) != 0);
    drop_queue(c);
    /* Random names are unlinked like any other. */
    char saved[300];
    snprintf(saved, sizeof saved, "%s", na);
    drop_queue(a);
    drop_queue(b);
    CHECK_STATUS(pmq_unlink(saved), PMQ_STATUS_NOT_FOUND);
}

static void modes(void) {
    mode_t old = umask(022);
    /* Default mode 0600. */
    pmq_queue *q = new_queue("mode-def", 2, 32);
    if (q) {
        uint32_t m = 0;
        CHECK_OK(pmq_queue_mode(q, &m));
        CHECK(m == 0600);
        CHECK(fd_mode(q) == 0600);
        char path[128];
        struct stat st;
        snprintf(path, sizeof path, "/dev/mqueue%s", pmq_queue_name(q));
        if (stat(path, &st) == 0) CHECK((st.st_mode & 07777) == 0600);
    }
    drop_queue(q);

    /* Explicit mode with umask 0: exactly what was asked. */
    umask(0);
    pmq_options o = test_options(PMQ_O_CREX, 2, 32);
    o.mode = 0640;
    q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("mode-640"), &o, &q));
    if (q) {
        uint32_t m = 0;
        CHECK_OK(pmq_queue_mode(q, &m));
        CHECK(m == 0640);
        CHECK(fd_mode(q) == 0640);
    }
    drop_queue(q);

    /* The umask masks the mode, like files. */
    umask(027);
    o.mode = 0666;
    q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("mode-umask"), &o, &q));
    if (q) CHECK(fd_mode(q) == 0640);
    drop_queue(q);
    umask(old);
}

static void defaults_from_system(void) {
    long long msg_max = mqueue_sysctl("msg_max");
    long long msgsize_max = mqueue_sysctl("msgsize_max");
    CHECK(msg_max > 0 && msgsize_max > 0);
    pmq_options o;
    memset(&o, 0xab, sizeof o);
    CHECK_OK(pmq_options_init(&o));
    CHECK(o.flags == 0);
    CHECK(o.mode == 0600);
    CHECK(o.max_messages == msg_max);
    CHECK(o.max_message_size == msgsize_max);
    CHECK(o.read && o.write && o.block && !o.retry_on_interrupt);
    for (int i = 0; i < 2; i++) CHECK(o.reserved[i] == 0);
    CHECK(o.max_deliveries == 0 && o.dead_letter == NULL && o.backend == PMQ_BACKEND_KERNEL);
    CHECK(pmq_queue_messages_max_default() == msg_max);
    CHECK(pmq_queue_message_size_max_default() == msgsize_max);
    CHECK_STATUS(pmq_options_init(NULL), PMQ_STATUS_INVALID_ARGUMENT);
}

/* In a private IPC namespace (its own fs.mqueue sysctls), change msg_max and
 * msgsize_max and see the defaults follow at once. */
static void defaults_follow_sysctl_child(void *arg) {
    (void)arg;
    if (unshare(CLONE_NEWIPC) != 0) {
        CHECK(!"unshare(CLONE_NEWIPC) failed");
        return;
    }
    FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "w");
    FILE *g = fopen("/proc/sys/fs/mqueue/msgsize_max", "w");
    CHECK(f != NULL && g != NULL);
    if (!f || !g) {
        if (f) fclose(f);
        if (g) fclose(g);
        return;
    }
    fprintf(f, "7\n");
    fprintf(g, "512\n");
    CHECK(fclose(f) == 0);
    CHECK(fclose(g) == 0);
    CHECK(mqueue_sysctl("msg_max") == 7);
    CHECK(pmq_queue_messages_max_default() == 7);
    CHECK(pmq_queue_message_size_max_default() == 512);
    pmq_options o;
    CHECK_OK(pmq_options_init(&o));
    CHECK(o.max_messages == 7 && o.max_message_size == 512);
    pmq_limits l;
    CHECK_OK(pmq_limits_get(&l));
    CHECK(l.msg_max == 7 && l.msgsize_max == 512);
    /* A queue created with the defaults gets them. */
    o.flags = PMQ_O_CREX;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(NULL, &o, &q));
    if (q) {
        int64_t v = 0;
        CHECK_OK(pmq_queue_max_messages(q, &v));
        CHECK(v == 7);
        CHECK_OK(pmq_queue_max_message_size(q, &v));
        CHECK(v == 512);
    }
    drop_queue(q);
}

static void defaults_follow_sysctl(void) {
    /* Probe in a throwaway child whether we may have a private IPC namespace. */
    pid_t pid = fork();
    if (pid == 0) _exit(unshare(CLONE_NEWIPC) == 0 ? 0 : 1);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        skip("defaults_follow_sysctl", "unshare(CLONE_NEWIPC) not permitted");
        return;
    }
    in_child(defaults_follow_sysctl_child, NULL);
}

static void existing_attributes_win(void) {
    const char *name = test_queue_name("attrs-win");
    pmq_options o = test_options(PMQ_O_CREX, 3, 100);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    pmq_options o2 = test_options(PMQ_O_CREAT, 8, 200);
    pmq_queue *q2 = NULL;
    CHECK_OK(pmq_queue_open(name, &o2, &q2));
    if (q2) {
        int64_t v = 0;
        CHECK_OK(pmq_queue_max_messages(q2, &v));
        CHECK(v == 3);
        CHECK_OK(pmq_queue_max_message_size(q2, &v));
        CHECK(v == 100);
        pmq_attributes a;
        CHECK_OK(pmq_queue_get_attributes(q2, &a));
        CHECK(a.max_messages == 3 && a.max_message_size == 100);
    }
    pmq_queue_free(q2);
    drop_queue(q);
}

static void access_modes(void) {
    const char *name = test_queue_name("access");
    pmq_options o = test_options(PMQ_O_CREX, 2, 32);
    o.read = false;
    o.write = false;
    pmq_queue *q = NULL;
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("read and write are both false");
    CHECK(q == NULL);

    o.write = true; /* write-only creator */
    pmq_queue *wo = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &wo));
    pmq_queue *ro = open_existing(name, true, false);
    if (!wo || !ro) {
        pmq_queue_free(ro);
        drop_queue(wo);
        return;
    }
    bool r = true, w = true;
    CHECK_OK(pmq_queue_access(ro, &r, &w));
    CHECK(r && !w);
    CHECK_OK(pmq_queue_access(wo, &r, &w));
    CHECK(!r && w);

    uint8_t buf[32];
    size_t n = 0;
    CHECK_STATUS(pmq_queue_send(ro, (const uint8_t *)"x", 1, 0), PMQ_STATUS_PERMISSION);
    CHECK_DETAIL("without write access");
    CHECK_STATUS(pmq_queue_send_timeout(ro, (const uint8_t *)"x", 1, 0, 0), PMQ_STATUS_PERMISSION);
    CHECK_STATUS(pmq_queue_receive_timeout(wo, buf, sizeof buf, &n, NULL, 0), PMQ_STATUS_PERMISSION);
    CHECK_DETAIL("without read access");
    CHECK_STATUS(pmq_queue_receive(wo, buf, sizeof buf, &n, NULL), PMQ_STATUS_PERMISSION);
    CHECK(current_messages(ro) == 0);
    /* The allowed directions work. */
    CHECK_OK(pmq_queue_send(wo, (const uint8_t *)"ok", 2, 3));
    uint32_t prio = 0;
    CHECK_OK(pmq_queue_receive(ro, buf, sizeof buf, &n, &prio));
    CHECK(n == 2 && memcmp(buf, "ok", 2) == 0 && prio == 3);
    pmq_queue_free(ro);
    drop_queue(wo);
}

/* max_messages above msg_max (and size above msgsize_max): SYSTEM_LIMIT
 * naming the sysctl. Run without CAP_SYS_RESOURCE (which lets root exceed
 * msg_max): as root the child switches to an unused uid first. */
static void above_limits_child(void *arg) {
    (void)arg;
    if (getuid() == 0) {
        uid_t uid = (uid_t)(61000 + getpid() % 3000);
        if (setgid(uid) != 0 || setuid(uid) != 0) {
            CHECK(!"setuid to an unprivileged uid failed");
            return;
        }
    }
    long long msg_max = mqueue_sysctl("msg_max");
    long long msgsize_max = mqueue_sysctl("msgsize_max");
    const char *name = test_queue_name("limit");
    pmq_options o = test_options(PMQ_O_CREX, msg_max + 1, 16);
    pmq_queue *q = NULL;
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_SYSTEM_LIMIT);
    CHECK_DETAIL("fs.mqueue.msg_max");
    CHECK_DETAIL("sysctl -w fs.mqueue.msg_max=");
    char want[64];
    snprintf(want, sizeof want, "= %lld", msg_max);
    CHECK_DETAIL(want);
    CHECK(pmq_last_error_errno() == EINVAL);
    CHECK(q == NULL);

    o = test_options(PMQ_O_CREX, 1, msgsize_max + 1);
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_SYSTEM_LIMIT);
    CHECK_DETAIL("fs.mqueue.msgsize_max");
    CHECK_DETAIL("sysctl -w fs.mqueue.msgsize_max=");
    if (q) drop_queue(q);
}

static void above_limits(void) {
    in_child(above_limits_child, NULL);
    /* Above the kernel's hard ceiling (HARD_MSGMAX 65536): refused for everyone. */
    pmq_options o = test_options(PMQ_O_CREX, 65537, 16);
    pmq_queue *q = NULL;
    CHECK_STATUS(pmq_queue_open(test_queue_name("hardmax"), &o, &q), PMQ_STATUS_SYSTEM_LIMIT);
    CHECK_DETAIL("fs.mqueue.msg_max");
    drop_queue(q);
}

static void invalid_options(void) {
    const char *name = test_queue_name("badopts");
    pmq_queue *q = NULL;
    pmq_options o = test_options(PMQ_O_CREAT | O_TRUNC, 2, 32);
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("unknown flag bits");
    CHECK_DETAIL("O_NONBLOCK"); /* the detail lists what is accepted */
    /* parsed at the C boundary: the detail names the C field and constants */
    CHECK_DETAIL("pmq_options.flags");
    CHECK_DETAIL("PMQ_O_CREAT (0x40)");
    o = test_options(PMQ_O_CREAT | O_APPEND, 2, 32);
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("unknown flag bits");
    o = test_options(PMQ_O_EXCL, 2, 32);
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("O_EXCL without O_CREAT");
    CHECK_DETAIL("PMQ_O_CREX");
    o = test_options(PMQ_O_CREX, 2, 32);
    o.mode = 010000;
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("07777");
    o.mode = 0600;
    o.reserved[1] = 1;
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("reserved");
    o = test_options(PMQ_O_CREX, 0, 32);
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("max_messages is 0");
    o = test_options(PMQ_O_CREX, 2, -5);
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("max_message_size is -5");
    o = test_options(PMQ_O_CREX, 2, 32);
    CHECK_STATUS(pmq_queue_open(name, &o, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("NULL");
    CHECK(q == NULL);
    /* None of these created the queue. */
    CHECK_STATUS(pmq_unlink(name), PMQ_STATUS_NOT_FOUND);
}

/* O_NONBLOCK in the flags opens the handle with block = false, as mq_open
 * and posix_ipc do; block = true in the options does not undo it. */
static void nonblock_flag(void) {
    const char *name = test_queue_name("oflag-nb");
    pmq_options o = test_options(PMQ_O_CREX | PMQ_O_NONBLOCK, 2, 32);
    CHECK(o.block);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    bool b = true;
    CHECK_OK(pmq_queue_get_block(q, &b));
    CHECK(!b);
    uint8_t buf[32];
    size_t n = 0;
    CHECK_STATUS(pmq_queue_receive(q, buf, sizeof buf, &n, NULL), PMQ_STATUS_WOULD_BLOCK);
    CHECK_DETAIL("non-blocking");
    /* Another handle without the flag blocks. */
    pmq_queue *q2 = open_existing(name, true, true);
    if (q2) {
        CHECK_OK(pmq_queue_get_block(q2, &b));
        CHECK(b);
        pmq_queue_free(q2);
    }
    /* A random name keeps the flag too. */
    pmq_queue *r = NULL;
    o = test_options(PMQ_O_NONBLOCK, 2, 32);
    CHECK_OK(pmq_queue_open(NULL, &o, &r));
    if (r) {
        CHECK_OK(pmq_queue_get_block(r, &b));
        CHECK(!b);
        drop_queue(r);
    }
    drop_queue(q);
}

/* Sizes are checked only when a queue is really created, as the kernel
 * does: O_CREAT with sizes below 1 opens an existing queue, O_CREX on it is
 * EXISTS, and only a missing queue gets the size error. */
static void sizes_checked_only_when_creating(void) {
    const char *name = test_queue_name("sizes-existing");
    pmq_options o = test_options(PMQ_O_CREX, 3, 48);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    const int64_t bad[][2] = {{0, 48}, {3, 0}, {-1, -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pmq_queue *q2 = NULL;
        o = test_options(PMQ_O_CREAT, bad[i][0], bad[i][1]);
        CHECK_OK(pmq_queue_open(name, &o, &q2));
        if (q2) {
            int64_t v = 0;
            CHECK_OK(pmq_queue_max_messages(q2, &v));
            CHECK(v == 3);
            CHECK_OK(pmq_queue_max_message_size(q2, &v));
            CHECK(v == 48);
            pmq_queue_free(q2);
            q2 = NULL;
        }
        o.flags = PMQ_O_CREX;
        CHECK_STATUS(pmq_queue_open(name, &o, &q2), PMQ_STATUS_EXISTS);
        CHECK(q2 == NULL);
    }
    drop_queue(q);
    pmq_queue *q3 = NULL;
    o = test_options(PMQ_O_CREAT, 0, 48);
    CHECK_STATUS(pmq_queue_open(name, &o, &q3), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("max_messages is 0");
    CHECK(q3 == NULL);
    CHECK_STATUS(pmq_unlink(name), PMQ_STATUS_NOT_FOUND);
}

static void bad_names(void) {
    pmq_options o = test_options(PMQ_O_CREAT, 2, 32);
    pmq_queue *q = NULL;
    struct {
        const char *name;
        const char *detail;
    } cases[] = {
        {"noslash", "does not start with '/'"},
        {"", "empty"},
        {"/", "nothing after the slash"},
        {"/a/b", "second '/'"},
        {"/\xff\xfe", "UTF-8"},
        {"/.", "reserved"},
        {"/..", "reserved"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_STATUS(pmq_queue_open(cases[i].name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL(cases[i].detail);
        CHECK(pmq_last_error_errno() == 0); /* pmq's own check, not the kernel's */
        CHECK_STATUS(pmq_unlink(cases[i].name), PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL(cases[i].detail);
    }
    CHECK(q == NULL);

    /* 256 bytes after the slash: too long; 255 is fine. */
    char name[300];
    name[0] = '/';
    int p = snprintf(name + 1, sizeof name - 1, "pmq-t-long-%ld-", (long)getpid());
    memset(name + 1 + p, 'x', 256 - (size_t)p);
    name[257] = '\0';
    CHECK(strlen(name) == 257);
    CHECK_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("limit is 255");
    name[256] = '\0';
    CHECK(strlen(name) == 256);
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (q) CHECK(strcmp(pmq_queue_name(q), name) == 0);
    drop_queue(q);
}

int main(void) {
    flag_values();
    named_create_open_exclusive();
    random_names();
    modes();
    defaults_from_system();
    defaults_follow_sysctl();
    existing_attributes_win();
    access_modes();
    above_limits();
    invalid_options();
    nonblock_flag();
    sizes_checked_only_when_creating();
    bad_names();
    return check_done("test_open");
}
