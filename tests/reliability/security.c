/* Security:
 *  - the mode of a created queue is exactly what was asked (stat on the
 *    mqueue filesystem, umask 0), and the umask applies as documented;
 *  - descriptors are close-on-exec: FD_CLOEXEC is set and a child started
 *    with exec does not have the descriptor;
 *  - a process with another uid (fork, setgid/setuid 65534) cannot open a
 *    0600 queue in any direction, nor unlink it (PMQ_STATUS_PERMISSION);
 *    with 0644 it may read but not write;
 *  - random names come from the OS random source: with getrandom(2) made to
 *    fail by a seccomp filter, a random-name open fails with
 *    PMQ_STATUS_OS_ERROR naming the random source (no weak fallback), and
 *    200 random names are distinct, well-formed and use the whole alphabet.
 *
 *   security
 */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include "rel.h"

#define MQUEUE_MAGIC 0x19800202

static int mqueue_mounted(void) {
    struct statfs s;
    return statfs("/dev/mqueue", &s) == 0 && s.f_type == MQUEUE_MAGIC;
}

static void modes(void) {
    if (!mqueue_mounted()) {
        mkdir("/dev/mqueue", 01777);
        if (mount("none", "/dev/mqueue", "mqueue", 0, NULL) != 0)
            fprintf(stderr, "cannot mount /dev/mqueue: %s\n", strerror(errno));
    }
    REL_CHECK(mqueue_mounted(), "/dev/mqueue is not an mqueue filesystem");
    const uint32_t asked[] = {0600, 0640, 0604, 0644, 0660, 0666, 0400, 0200, 0000, 0777, 0711};
    mode_t old = umask(0);
    int n = 0;
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        const char *name = rel_name("mode");
        pmq_options o = rel_options(PMQ_O_CREX, 1, 16);
        o.mode = asked[i];
        pmq_queue *q = NULL;
        REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
        if (!q) continue;
        char path[128];
        snprintf(path, sizeof path, "/dev/mqueue%s", name);
        struct stat st;
        REL_CHECK(stat(path, &st) == 0, "stat %s", path);
        REL_CHECK((st.st_mode & 07777) == asked[i], "asked %04o, got %04o", asked[i], st.st_mode & 07777);
        uint32_t m = 0;
        REL_STATUS(pmq_queue_mode(q, &m), PMQ_STATUS_OK);
        REL_CHECK(m == asked[i], "pmq_queue_mode %04o", m);
        REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
        pmq_queue_free(q);
        n++;
    }
    /* the umask masks the mode, as documented */
    umask(022);
    const char *name = rel_name("umask");
    pmq_options o = rel_options(PMQ_O_CREX, 1, 16);
    o.mode = 0666;
    pmq_queue *q = NULL;
    REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
    if (q) {
        char path[128];
        snprintf(path, sizeof path, "/dev/mqueue%s", name);
        struct stat st;
        REL_CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644, "umask 022 + 0666 gave %04o",
                  st.st_mode & 07777);
        REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
        pmq_queue_free(q);
    }
    umask(old);
    printf("security: %d modes created with umask 0, each exactly as asked on /dev/mqueue; umask 022 masks 0666 to 0644\n", n);
}

static void cloexec(const char *self) {
    const char *name = rel_name("cloexec");
    pmq_options o = rel_options(PMQ_O_CREX, 1, 16);
    pmq_queue *q = NULL, *q2 = NULL;
    REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
    o.flags = 0;
    REL_STATUS(pmq_queue_open(name, &o, &q2), PMQ_STATUS_OK); /* opened existing */
    if (!q || !q2) return;
    int fds[2];
    REL_STATUS(pmq_queue_fileno(q, &fds[0]), PMQ_STATUS_OK);
    REL_STATUS(pmq_queue_fileno(q2, &fds[1]), PMQ_STATUS_OK);
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFD);
        REL_CHECK(fl >= 0 && (fl & FD_CLOEXEC), "descriptor %d lacks FD_CLOEXEC", fds[i]);
        /* Control: the exec'd checker does see a descriptor without FD_CLOEXEC. */
        for (int control = 0; control <= 1; control++) {
            int fd = fds[i];
            if (control) fd = dup(fds[i]); /* dup() clears FD_CLOEXEC */
            pid_t p = fork();
            if (p == 0) {
                char arg[32];
                snprintf(arg, sizeof arg, "checkfd=%d", fd);
                execl(self, self, arg, (char *)NULL);
                _exit(99);
            }
            int st = rel_wait(p, rel_now() + 10);
            /* checker exits 0 if the fd is closed in it, 1 if open */
            if (control)
                REL_CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "control: inherited fd not seen (%d)", st);
            else
                REL_CHECK(rel_exited_ok(st), "descriptor %d survived exec (%d)", fd, st);
            if (control) close(fd);
        }
    }
    REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
    pmq_queue_free(q);
    pmq_queue_free(q2);
    printf("security: descriptors of created and opened queues are FD_CLOEXEC and absent after exec "
           "(control: a dup() without FD_CLOEXEC is seen by the exec'd child)\n");
}

struct other_uid_result { int st[8]; };

static void other_uid(void) {
    if (geteuid() != 0) {
        printf("security: other-uid test NOT RUN: needs root to switch to uid 65534\n");
        rel_failed++;
        return;
    }
    const char *n600 = rel_name("p600"), *n644 = rel_name("p644");
    pmq_options o = rel_options(PMQ_O_CREX, 1, 16);
    pmq_queue *a = NULL, *b = NULL;
    mode_t old = umask(0);
    o.mode = 0600;
    REL_STATUS(pmq_queue_open(n600, &o, &a), PMQ_STATUS_OK);
    o.mode = 0644;
    REL_STATUS(pmq_queue_open(n644, &o, &b), PMQ_STATUS_OK);
    umask(old);
    struct other_uid_result *r = rel_shared(sizeof *r);
    pid_t p = fork();
    if (p == 0) {
        alarm(10);
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        pmq_options x = rel_options(0, 0, 0);
        pmq_queue *h = NULL;
        r->st[0] = pmq_queue_open(n600, &x, &h);
        x.write = false;
        r->st[1] = pmq_queue_open(n600, &x, &h);
        x.write = true;
        x.read = false;
        r->st[2] = pmq_queue_open(n600, &x, &h);
        x = rel_options(PMQ_O_CREAT, 1, 16);
        r->st[3] = pmq_queue_open(n600, &x, &h);
        r->st[4] = pmq_unlink(n600);
        x = rel_options(0, 0, 0);
        x.write = false;
        r->st[5] = pmq_queue_open(n644, &x, &h);
        if (r->st[5] == PMQ_STATUS_OK) pmq_queue_free(h);
        x.write = true;
        r->st[6] = pmq_queue_open(n644, &x, &h);
        _exit(0);
    }
    REL_CHECK(rel_exited_ok(rel_wait(p, rel_now() + 10)), "uid 65534 child");
    const char *what[] = {"0600 rw", "0600 read", "0600 write", "0600 O_CREAT", "unlink 0600",
                          "0644 read", "0644 rw"};
    const int expect[] = {PMQ_STATUS_PERMISSION, PMQ_STATUS_PERMISSION, PMQ_STATUS_PERMISSION,
                          PMQ_STATUS_PERMISSION, PMQ_STATUS_PERMISSION, PMQ_STATUS_OK, PMQ_STATUS_PERMISSION};
    for (int i = 0; i < 7; i++)
        REL_CHECK(r->st[i] == expect[i], "uid 65534, %s: %s, expected %s", what[i], pmq_status_name(r->st[i]),
                  pmq_status_name(expect[i]));
    /* the queue is intact for its owner */
    int64_t cur = -1;
    REL_STATUS(pmq_queue_current_messages(a, &cur), PMQ_STATUS_OK);
    REL_STATUS(pmq_queue_unlink(a), PMQ_STATUS_OK);
    REL_STATUS(pmq_queue_unlink(b), PMQ_STATUS_OK);
    pmq_queue_free(a);
    pmq_queue_free(b);
    printf("security: uid 65534 gets PERMISSION opening a 0600 queue (rw, read, write, O_CREAT) and "
           "unlinking it; on 0644 read is allowed, write is PERMISSION\n");
}

static int no_getrandom(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static void random_names(void) {
    /* 1. getrandom(2) denied: the random-name open must fail, not fall back. */
    int *res = rel_shared(4 * sizeof(int));
    pid_t p = fork();
    if (p == 0) {
        alarm(10);
        if (no_getrandom() != 0) _exit(3);
        unsigned char b[4];
        res[2] = (int)syscall(SYS_getrandom, b, sizeof b, 0) == -1 && errno == EPERM;
        pmq_options o = rel_options(PMQ_O_CREX, 1, 16);
        pmq_queue *q = NULL;
        res[0] = pmq_queue_open(NULL, &o, &q);
        res[1] = strstr(pmq_last_error(), "random") != NULL;
        if (q) {
            pmq_queue_unlink(q);
            pmq_queue_free(q);
        }
        _exit(0);
    }
    REL_CHECK(rel_exited_ok(rel_wait(p, rel_now() + 10)), "seccomp child");
    REL_CHECK(res[2] == 1, "seccomp filter did not block getrandom");
    REL_CHECK(res[0] == PMQ_STATUS_OS_ERROR, "random name without getrandom: %s", pmq_status_name(res[0]));
    REL_CHECK(res[1] == 1, "detail does not mention the random source");
    /* 2. names: distinct, "/pmq-" + 20 of [a-z2-7], whole alphabet used */
    enum { N = 200 };
    static char names[N][64];
    int freq[256] = {0}, bad = 0, dup = 0;
    for (int i = 0; i < N; i++) {
        pmq_options o = rel_options(PMQ_O_CREAT, 1, 16); /* random names are always exclusive */
        pmq_queue *q = NULL;
        int st = pmq_queue_open(NULL, &o, &q);
        REL_CHECK(st == PMQ_STATUS_OK, "random open %d: %s", i, pmq_status_name(st));
        if (!q) return;
        snprintf(names[i], sizeof names[i], "%s", pmq_queue_name(q));
        REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
        pmq_queue_free(q);
        if (strncmp(names[i], "/pmq-", 5) != 0 || strlen(names[i]) != 25) bad++;
        for (const char *c = names[i] + 5; *c; c++) {
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '2' && *c <= '7'))) bad++;
            freq[(unsigned char)*c]++;
        }
        for (int j = 0; j < i; j++) dup += strcmp(names[i], names[j]) == 0;
    }
    int used = 0;
    for (int c = 0; c < 256; c++) used += freq[c] > 0;
    REL_CHECK(bad == 0, "%d malformed names", bad);
    REL_CHECK(dup == 0, "%d duplicate names", dup);
    REL_CHECK(used == 32, "only %d of 32 characters used in %d names", used, N);
    printf("security: random names: with getrandom(2) denied by seccomp the open fails (%s, detail names "
           "the random source); %d names distinct, well-formed, %d of 32 characters used\n",
           pmq_status_name(res[0]), N, used);
}

int main(int argc, char **argv) {
    if (argc == 2 && strncmp(argv[1], "checkfd=", 8) == 0) {
        int fd = atoi(argv[1] + 8);
        return fcntl(fd, F_GETFD) == -1 && errno == EBADF ? 0 : 1;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 2;
    self[n] = '\0';
    modes();
    cloexec(self);
    other_uid();
    random_names();
    return rel_done("security");
}
