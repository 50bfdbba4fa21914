/* The reference's "Asynchronous Notifications with Function Callback"
 * example in C: the callback runs on a thread created for the delivery;
 * another thread sends after a short pause; the main thread then receives.
 * Usage: notify_callback [/queue_name] */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pmq.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int called;

static void notification_callback(void *param) {
    printf("Callback called for queue: %s\n", (const char *)param);
    fflush(stdout);
    pthread_mutex_lock(&lock);
    called = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static const char *queue_name;

static void *send_message(void *arg) {
    (void)arg;
    usleep(200 * 1000);
    pmq_options o;
    pmq_options_init(&o);
    pmq_queue *sender = NULL;
    if (pmq_queue_open(queue_name, &o, &sender) != PMQ_STATUS_OK) return (void *)1;
    const char msg[] = "Callback test message";
    int st = pmq_queue_send(sender, (const uint8_t *)msg, sizeof msg - 1, 0);
    /* Note: closing a descriptor of the queue in the process that holds the
     * registration drops it; here the notification was already delivered or
     * is about to be triggered by this very send, which happens first. */
    pmq_queue_free(sender);
    return st == PMQ_STATUS_OK ? NULL : (void *)1;
}

static int fail(const char *what, int st) {
    fprintf(stderr, "notify_callback: %s: %s: %s\n", what, pmq_status_name(st), pmq_last_error());
    return 1;
}

int main(int argc, char **argv) {
    char name[64];
    snprintf(name, sizeof name, "%s", argc > 1 ? argv[1] : "/callback_queue");
    queue_name = name;

    pmq_options o;
    pmq_options_init(&o);
    o.flags = PMQ_O_CREAT;
    o.max_messages = 4;
    o.max_message_size = 128;
    pmq_queue *mq = NULL;
    int st = pmq_queue_open(name, &o, &mq);
    if (st) return fail("open", st);

    st = pmq_queue_notify_callback(mq, notification_callback, name, NULL);
    if (st) return fail("request notification", st);
    printf("Waiting for message notification...\n");
    fflush(stdout);

    pthread_t t;
    pthread_create(&t, NULL, send_message, NULL);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&lock);
    while (!called) {
        if (pthread_cond_timedwait(&cond, &lock, &deadline) != 0) break;
    }
    int ok = called;
    pthread_mutex_unlock(&lock);
    void *sent = NULL;
    pthread_join(t, &sent);
    if (!ok || sent != NULL) {
        fprintf(stderr, "notify_callback: callback not called\n");
        return 1;
    }

    uint8_t buf[128];
    size_t n = 0;
    uint32_t prio = 0;
    st = pmq_queue_receive_timeout(mq, buf, sizeof buf, &n, &prio, 5.0);
    if (st) return fail("receive", st);
    printf("Received: %.*s\n", (int)n, (const char *)buf);
    pmq_queue_close(mq);
    pmq_queue_unlink(mq);
    pmq_queue_free(mq);
    return 0;
}
