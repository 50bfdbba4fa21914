/* The block switch (per handle), current_messages,
 * max_messages, max_message_size, name, mode, the descriptor (a real fd
 * that poll() understands), access, and describe in both styles. */
#include <fcntl.h>
#include <poll.h>

#include "util.h"

static void block_is_per_handle(void) {
    pmq_queue *a = new_queue("block", 1, 16);
    if (!a) return;
    pmq_queue *b = open_existing(pmq_queue_name(a), true, true);
    if (!b) {
        drop_queue(a);
        return;
    }
    bool v = false;
    CHECK_OK(pmq_queue_set_block(a, false));
    CHECK_OK(pmq_queue_get_block(a, &v));
    CHECK(v == false);
    CHECK_OK(pmq_queue_get_block(b, &v));
    CHECK(v == true);
    pmq_attributes at;
    CHECK_OK(pmq_queue_get_attributes(a, &at));
    CHECK(at.block == false);
    CHECK_OK(pmq_queue_get_attributes(b, &at));
    CHECK(at.block == true);

    uint8_t buf[16];
    size_t n;
    /* a: non-blocking, returns at once even with a timeout; b still waits. */
    CHECK_STATUS(pmq_queue_receive_timeout(a, buf, sizeof buf, &n, NULL, 5.0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_DETAIL("non-blocking");
    CHECK_STATUS(pmq_queue_receive_timeout(b, buf, sizeof buf, &n, NULL, 0.05), PMQ_STATUS_TIMED_OUT);
    CHECK_OK(pmq_queue_send(b, (const uint8_t *)"x", 1, 0));
    CHECK_STATUS(pmq_queue_send(a, (const uint8_t *)"y", 1, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_STATUS(pmq_queue_send_timeout(b, (const uint8_t *)"y", 1, 0, 0.05), PMQ_STATUS_TIMED_OUT);
    CHECK_OK(pmq_queue_set_block(a, true));
    CHECK_OK(pmq_queue_get_block(a, &v));
    CHECK(v == true);
    CHECK_STATUS(pmq_queue_get_block(a, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    pmq_queue_free(b);

    /* block = false given at open. */
    pmq_options o;
    test_options_init(&o);
    o.block = false;
    pmq_queue *c = NULL;
    CHECK_OK(pmq_queue_open(pmq_queue_name(a), &o, &c));
    if (c) {
        CHECK_OK(pmq_queue_get_block(c, &v));
        CHECK(v == false);
        CHECK_STATUS(pmq_queue_send(c, (const uint8_t *)"z", 1, 0), PMQ_STATUS_WOULD_BLOCK);
    }
    pmq_queue_free(c);
    drop_queue(a);
}

static void sizes_counts_name_mode(void) {
    const char *name = test_queue_name("attrs");
    pmq_options o = test_options(PMQ_O_CREX, 3, 48);
    o.mode = 0640;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    int64_t v = -1;
    CHECK_OK(pmq_queue_max_messages(q, &v));
    CHECK(v == 3);
    CHECK_OK(pmq_queue_max_message_size(q, &v));
    CHECK(v == 48);
    for (int i = 0; i < 3; i++) {
        CHECK(current_messages(q) == i);
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)"m", 1, 0));
    }
    CHECK(current_messages(q) == 3);
    pmq_attributes a;
    CHECK_OK(pmq_queue_get_attributes(q, &a));
    CHECK(a.max_messages == 3 && a.max_message_size == 48 && a.current_messages == 3 && a.block);
    CHECK(strcmp(pmq_queue_name(q), name) == 0);
    CHECK(pmq_queue_name(NULL) == NULL);
    CHECK(pmq_last_error_status() == PMQ_STATUS_INVALID_ARGUMENT);
    uint32_t m = 0;
    CHECK_OK(pmq_queue_mode(q, &m));
    CHECK(m == 0640);
    CHECK_STATUS(pmq_queue_mode(q, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_max_messages(q, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_current_messages(NULL, &v), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_get_attributes(q, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    drop_queue(q);
}

static void fileno_is_pollable(void) {
    pmq_queue *q = new_queue("fileno", 1, 16);
    if (!q) return;
    int fd = -1;
    CHECK_OK(pmq_queue_fileno(q, &fd));
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) != -1); /* an open descriptor */
    CHECK(poll_state(fd, POLLIN | POLLOUT, POLLOUT)); /* empty, room */
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"m", 1, 0));
    CHECK(poll_state(fd, POLLIN | POLLOUT, POLLIN)); /* a message, full */
    /* A second handle has its own descriptor. */
    pmq_queue *q2 = open_existing(pmq_queue_name(q), true, true);
    if (q2) {
        int fd2 = -1;
        CHECK_OK(pmq_queue_fileno(q2, &fd2));
        CHECK(fd2 >= 0 && fd2 != fd);
        struct pollfd p2 = {fd2, POLLIN, 0};
        CHECK(poll(&p2, 1, 1000) == 1 && (p2.revents & POLLIN));
    }
    pmq_queue_free(q2);
    CHECK_STATUS(pmq_queue_fileno(q, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    drop_queue(q);
}

static void access_flags(void) {
    pmq_queue *q = new_queue("access", 1, 16);
    if (!q) return;
    bool r = false, w = false;
    CHECK_OK(pmq_queue_access(q, &r, &w));
    CHECK(r && w);
    r = false;
    CHECK_OK(pmq_queue_access(q, &r, NULL));
    CHECK(r);
    w = false;
    CHECK_OK(pmq_queue_access(q, NULL, &w));
    CHECK(w);
    CHECK_OK(pmq_queue_access(q, NULL, NULL));
    CHECK_STATUS(pmq_queue_access(NULL, &r, &w), PMQ_STATUS_INVALID_ARGUMENT);
    pmq_queue *ro = open_existing(pmq_queue_name(q), true, false);
    if (ro) {
        CHECK_OK(pmq_queue_access(ro, &r, &w));
        CHECK(r && !w);
    }
    pmq_queue_free(ro);
    drop_queue(q);
}

static void describe(void) {
    const char *name = test_queue_name("describe");
    pmq_options o = test_options(PMQ_O_CREX, 4, 64);
    o.mode = 0640;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"m", 1, 0));

    char buf[512];
    size_t need = 0;
    CHECK_OK(pmq_queue_describe(q, PMQ_DESCRIBE_SHORT, buf, sizeof buf, &need));
    CHECK(need == strlen(buf) + 1);
    CHECK(strstr(buf, name) != NULL);
    CHECK(strstr(buf, "1 of 4 messages") != NULL);
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"m", 1, 0));
    CHECK_OK(pmq_queue_describe(q, PMQ_DESCRIBE_SHORT, buf, sizeof buf, NULL));
    CHECK(strstr(buf, "2 of 4 messages") != NULL);

    CHECK_OK(pmq_queue_describe(q, PMQ_DESCRIBE_DEBUG, buf, sizeof buf, &need));
    CHECK(need == strlen(buf) + 1);
    const char *parts[] = {name, "mode=0o640", "max_messages=4", "max_message_size=64",
                           "read=true", "write=true", "current_messages=2", "block=true"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!strstr(buf, parts[i])) fprintf(stderr, "describe: \"%s\" lacks \"%s\"\n", buf, parts[i]);
        CHECK(strstr(buf, parts[i]) != NULL);
    }

    /* Too small: BUFFER_TOO_SMALL, the size needed, nothing written. */
    size_t full = need;
    char small[8];
    memset(small, '#', sizeof small);
    need = 0;
    CHECK_STATUS(pmq_queue_describe(q, PMQ_DESCRIBE_DEBUG, small, sizeof small, &need),
                 PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(need == full);
    CHECK(pmq_last_error_needed() == full);
    CHECK(small[0] == '#' && small[7] == '#');
    /* Exactly the text without room for the NUL is too small too. */
    char *exact = malloc(full);
    if (exact) {
        CHECK_STATUS(pmq_queue_describe(q, PMQ_DESCRIBE_DEBUG, exact, full - 1, NULL),
                     PMQ_STATUS_BUFFER_TOO_SMALL);
        CHECK_OK(pmq_queue_describe(q, PMQ_DESCRIBE_DEBUG, exact, full, NULL));
        CHECK(strlen(exact) == full - 1);
        free(exact);
    }
    /* Asking the size with NULL, 0. */
    need = 0;
    CHECK_STATUS(pmq_queue_describe(q, PMQ_DESCRIBE_SHORT, NULL, 0, &need),
                 PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(need == strlen(name) + strlen(" (2 of 4 messages)") + 1);

    /* Unknown styles. */
    CHECK_STATUS(pmq_queue_describe(q, 2, buf, sizeof buf, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("style 2");
    CHECK_STATUS(pmq_queue_describe(q, -1, buf, sizeof buf, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("PMQ_DESCRIBE_SHORT");
    CHECK_STATUS(pmq_queue_describe(NULL, 0, buf, sizeof buf, NULL), PMQ_STATUS_INVALID_ARGUMENT);

    /* After close: still works and says closed. */
    CHECK_OK(pmq_queue_close(q));
    CHECK_OK(pmq_queue_describe(q, PMQ_DESCRIBE_SHORT, buf, sizeof buf, NULL));
    CHECK(strstr(buf, name) != NULL && strstr(buf, "closed") != NULL);
    CHECK_OK(pmq_queue_describe(q, PMQ_DESCRIBE_DEBUG, buf, sizeof buf, NULL));
    CHECK(strstr(buf, name) != NULL && strstr(buf, "closed") != NULL);
    CHECK(strstr(buf, "max_messages=4") != NULL);
    drop_queue(q);
}

int main(void) {
    block_is_per_handle();
    sizes_counts_name_mode();
    fileno_is_pollable();
    access_flags();
    describe();
    return check_done("test_attributes");
}
