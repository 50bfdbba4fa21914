/* A program that uses pmq only through an INSTALLED copy (header, library,
 * pkg-config or CMake package). tests/install/run.sh builds it four ways.
 *
 * It creates a small queue with a unique name, sends one message, receives
 * it back, checks it, and removes the queue (also on failure). Exit status 0
 * only if every step worked.
 *
 * Usage: consumer <how-it-was-built> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pmq.h>

static int failed(const char *how, const char *what, int st) {
    fprintf(stderr, "consumer(%s): %s failed: %s: %s\n", how, what, pmq_status_name(st),
            pmq_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "?";
    char name[128];
    /* make test's per-run prefix of test queue names, so its leak check finds this one. */
    const char *prefix = getenv("PMQ_TEST_PREFIX");
    if (!prefix || !*prefix || strlen(prefix) > 32 || strchr(prefix, '/')) prefix = "pmq";
    snprintf(name, sizeof name, "/%s-install-%.16s-%ld", prefix, how, (long)getpid());

    /* The header and the library it runs against must be the same version. */
    if (pmq_version_number() != PMQ_VERSION_NUMBER ||
        strcmp(pmq_version(), PMQ_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer(%s): header %s but library %s\n", how, PMQ_VERSION_STRING,
                pmq_version());
        return 1;
    }

    pmq_options o;
    int st = pmq_options_init(&o);
    if (st != PMQ_STATUS_OK) return failed(how, "pmq_options_init", st);
    o.flags = PMQ_O_CREX;
    o.max_messages = 2;
    o.max_message_size = 128;
    pmq_queue *q = NULL;
    st = pmq_queue_open(name, &o, &q);
    if (st != PMQ_STATUS_OK) return failed(how, "pmq_queue_open", st);

    int rc = 1;
    char msg[96];
    int len = snprintf(msg, sizeof msg, "hello from the %s consumer", how);
    uint8_t buf[128];
    size_t n = 0;
    uint32_t prio = 0;
    st = pmq_queue_send_timeout(q, (const uint8_t *)msg, (size_t)len, 7, 5.0);
    if (st != PMQ_STATUS_OK) {
        failed(how, "pmq_queue_send_timeout", st);
        goto out;
    }
    st = pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &prio, 5.0);
    if (st != PMQ_STATUS_OK) {
        failed(how, "pmq_queue_receive_timeout", st);
        goto out;
    }
    if (n != (size_t)len || memcmp(buf, msg, n) != 0 || prio != 7) {
        fprintf(stderr, "consumer(%s): received %zu bytes at priority %u, not what was sent\n",
                how, n, prio);
        goto out;
    }
    rc = 0;
out:
    st = pmq_queue_unlink(q);
    if (st != PMQ_STATUS_OK) rc = failed(how, "pmq_queue_unlink", st);
    pmq_queue_free(q);
    if (rc == 0) printf("consumer(%s): ok, pmq %s\n", how, pmq_version());
    return rc;
}
