/* The reference's "Asynchronous Notifications with Signals" example in C:
 * a SIGUSR1 handler, a notification request, a child process that sends a
 * message after a short pause, then the parent receives it.
 * Usage: notify_signal [/queue_name] */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmq.h"

static volatile sig_atomic_t arrived;

static void message_arrived(int signum) {
    (void)signum;
    arrived = 1;
}

static int fail(const char *what, int st) {
    fprintf(stderr, "notify_signal: %s: %s: %s\n", what, pmq_status_name(st), pmq_last_error());
    return 1;
}

int main(int argc, char **argv) {
    char name[64];
    snprintf(name, sizeof name, "%s", argc > 1 ? argv[1] : "/notify_queue");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = message_arrived;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    pmq_options o;
    pmq_options_init(&o);
    o.flags = PMQ_O_CREAT;
    o.max_messages = 4;
    o.max_message_size = 128;
    /* A wait interrupted by our own signal resumes instead of failing. */
    o.retry_on_interrupt = true;
    pmq_queue *mq = NULL;
    int st = pmq_queue_open(name, &o, &mq);
    if (st) return fail("open", st);

    st = pmq_queue_notify_signal(mq, SIGUSR1);
    if (st) return fail("request notification", st);
    printf("Waiting for message notification...\n");
    fflush(stdout);

    pid_t child = fork();
    if (child == 0) {
        usleep(200 * 1000);
        pmq_options co;
        pmq_options_init(&co);
        pmq_queue *child_mq = NULL;
        if (pmq_queue_open(name, &co, &child_mq) != PMQ_STATUS_OK) _exit(1);
        const char msg[] = "Notification test message";
        int cst = pmq_queue_send(child_mq, (const uint8_t *)msg, sizeof msg - 1, 0);
        pmq_queue_free(child_mq); /* closing the CHILD's descriptor does not affect the parent */
        _exit(cst == PMQ_STATUS_OK ? 0 : 1);
    }

    /* Wait (at most 5 s) for the signal. */
    for (int i = 0; i < 500 && !arrived; i++) usleep(10 * 1000);
    if (!arrived) {
        fprintf(stderr, "notify_signal: no signal arrived\n");
        return 1;
    }
    printf("Signal %d received - message available!\n", SIGUSR1);

    uint8_t buf[128];
    size_t n = 0;
    uint32_t prio = 0;
    st = pmq_queue_receive_timeout(mq, buf, sizeof buf, &n, &prio, 5.0);
    if (st) return fail("receive", st);
    printf("Received: %.*s\n", (int)n, (const char *)buf);

    int ws = 0;
    waitpid(child, &ws, 0);
    pmq_queue_close(mq);
    pmq_queue_unlink(mq);
    pmq_queue_free(mq);
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : 1;
}
