/* Event-loop readiness: one epoll set watching two queues and a timer, like
 * the reference's selector demo. A child process sends three messages to
 * each queue at different paces; the loop receives whatever is readable and
 * counts timer ticks, and stops when all six messages arrived (or after 5 s).
 * Usage: selector */
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmq.h"

static int fail(const char *what, int st) {
    fprintf(stderr, "selector: %s: %s: %s\n", what, pmq_status_name(st), pmq_last_error());
    return 1;
}

static pmq_queue *make_queue(void) {
    pmq_options o;
    pmq_options_init(&o);
    o.max_messages = 4;
    o.max_message_size = 64;
    pmq_queue *q = NULL;
    int st = pmq_queue_open(NULL, &o, &q); /* random name, created exclusively */
    if (st) {
        fail("open", st);
        return NULL;
    }
    return q;
}

static void child(const char *name_a, const char *name_b) {
    pmq_options o;
    pmq_options_init(&o);
    o.read = false;
    pmq_queue *a = NULL, *b = NULL;
    if (pmq_queue_open(name_a, &o, &a) || pmq_queue_open(name_b, &o, &b)) _exit(1);
    for (int i = 0; i < 6; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "%s message %d", i % 2 ? "B" : "A", i / 2);
        if (pmq_queue_send_timeout(i % 2 ? b : a, (const uint8_t *)msg, (size_t)len, 0, 2.0)) _exit(1);
        usleep(i % 2 ? 120 * 1000 : 70 * 1000);
    }
    pmq_queue_free(a);
    pmq_queue_free(b);
    _exit(0);
}

int main(void) {
    pmq_queue *qa = make_queue();
    pmq_queue *qb = make_queue();
    if (!qa || !qb) return 1;
    int fa, fb;
    pmq_queue_fileno(qa, &fa);
    pmq_queue_fileno(qb, &fb);

    pid_t pid = fork();
    if (pid == 0) child(pmq_queue_name(qa), pmq_queue_name(qb));

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct itimerspec tick = {{0, 100 * 1000 * 1000}, {0, 100 * 1000 * 1000}};
    timerfd_settime(tfd, 0, &tick, NULL);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = fa;
    epoll_ctl(ep, EPOLL_CTL_ADD, fa, &ev);
    ev.data.fd = fb;
    epoll_ctl(ep, EPOLL_CTL_ADD, fb, &ev);
    ev.data.fd = tfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);

    int received = 0, ticks = 0;
    while (received < 6 && ticks < 50) {
        struct epoll_event events[3];
        int n = epoll_wait(ep, events, 3, 1000);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == tfd) {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof expirations) == sizeof expirations) ticks += (int)expirations;
                continue;
            }
            pmq_queue *q = fd == fa ? qa : qb;
            uint8_t buf[64];
            size_t len;
            uint32_t prio;
            /* Readable: a message waits; take it without waiting. */
            int st = pmq_queue_receive_timeout(q, buf, sizeof buf, &len, &prio, 0);
            if (st == PMQ_STATUS_OK) {
                received++;
                printf("[tick %2d] %s: %.*s\n", ticks, fd == fa ? "queue A" : "queue B", (int)len, (const char *)buf);
            } else if (st != PMQ_STATUS_WOULD_BLOCK) {
                return fail("receive", st);
            }
        }
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    printf("selector: %d messages over %d timer ticks\n", received, ticks);
    close(ep);
    close(tfd);
    pmq_queue_unlink(qa);
    pmq_queue_unlink(qb);
    pmq_queue_free(qa);
    pmq_queue_free(qb);
    return received == 6 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : 1;
}
