/* pmq_error_message(buf, len, &needed): the caller-buffer read of the
 * thread's last failure detail. Whole copy, truncation (NUL-terminated, at a
 * UTF-8 boundary), the size query, `needed` NULL, bad arguments, that the
 * call never changes the detail it reads, and that the detail is per thread. */
#include "util.h"

/* Makes a failure whose detail is known to contain `é` (2 bytes in UTF-8). */
static void fail_with_accent(void) {
    pmq_queue *q = NULL;
    CHECK_STATUS(pmq_queue_open("/\xc3\xa9/x", NULL, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(q == NULL);
}

static void whole_and_truncated(void) {
    fail_with_accent();
    const char *full = pmq_last_error(); /* the superseded read, to compare */
    size_t full_len = strlen(full);
    CHECK(full_len > 10);
    char copy[512];
    CHECK(full_len < sizeof copy);
    snprintf(copy, sizeof copy, "%s", full);

    /* The size query: buf NULL, len 0. */
    size_t needed = 12345;
    CHECK_STATUS(pmq_error_message(NULL, 0, &needed), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(needed == full_len);

    /* needed + 1 always suffices. */
    char buf[512];
    memset(buf, 'Z', sizeof buf);
    needed = 0;
    CHECK_OK(pmq_error_message(buf, full_len + 1, &needed));
    CHECK(needed == full_len);
    CHECK(strcmp(buf, copy) == 0);
    /* `needed` may be NULL. */
    memset(buf, 'Z', sizeof buf);
    CHECK_OK(pmq_error_message(buf, sizeof buf, NULL));
    CHECK(strcmp(buf, copy) == 0);

    /* Exactly one byte short: cut, NUL-terminated, nothing past len. */
    memset(buf, 'Z', sizeof buf);
    needed = 0;
    CHECK_STATUS(pmq_error_message(buf, full_len, &needed), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(needed == full_len);
    CHECK(strlen(buf) == full_len - 1 && strncmp(buf, copy, full_len - 1) == 0);
    CHECK(buf[full_len] == 'Z');

    /* A small buffer: the first len - 1 bytes. */
    memset(buf, 'Z', sizeof buf);
    CHECK_STATUS(pmq_error_message(buf, 6, &needed), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(strlen(buf) == 5 && strncmp(buf, copy, 5) == 0 && buf[6] == 'Z');
    CHECK(needed == full_len);

    /* len 1: only the NUL. */
    memset(buf, 'Z', sizeof buf);
    CHECK_STATUS(pmq_error_message(buf, 1, &needed), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(buf[0] == '\0' && buf[1] == 'Z');

    /* A cut inside the 2-byte `é` backs off to the character's start. */
    const char *accent = strstr(copy, "\xc3\xa9");
    CHECK(accent != NULL);
    if (accent) {
        size_t at = (size_t)(accent - copy);
        memset(buf, 'Z', sizeof buf);
        /* room for `at + 1` bytes of text: the é's first byte would be cut */
        CHECK_STATUS(pmq_error_message(buf, at + 2, &needed), PMQ_STATUS_BUFFER_TOO_SMALL);
        CHECK(strlen(buf) == at && strncmp(buf, copy, at) == 0);
        /* room for the whole é */
        CHECK_STATUS(pmq_error_message(buf, at + 3, &needed), PMQ_STATUS_BUFFER_TOO_SMALL);
        CHECK(strlen(buf) == at + 2 && strncmp(buf, copy, at + 2) == 0);
    }

    /* Bad arguments are refused, write nothing and keep the detail. */
    needed = 777;
    CHECK_STATUS(pmq_error_message(NULL, 16, &needed), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(needed == 777);
    memset(buf, 'Z', sizeof buf);
    CHECK_STATUS(pmq_error_message(buf, (size_t)-1, &needed), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(needed == 777 && buf[0] == 'Z');

    /* Reading (also a truncated or refused read) never changes the detail. */
    CHECK_OK(pmq_error_message(buf, sizeof buf, &needed));
    CHECK(strcmp(buf, copy) == 0 && needed == full_len);
    CHECK(pmq_last_error_status() == PMQ_STATUS_INVALID_ARGUMENT);
}

/* A detail of another kind: a too-small receive buffer names the size. */
static void detail_of_a_queue_call(void) {
    pmq_queue *q = new_queue("errmsg", 2, 16);
    if (!q) return;
    uint8_t small[4];
    size_t n = 0;
    CHECK_STATUS(pmq_queue_receive_timeout(q, small, sizeof small, &n, NULL, 0),
                 PMQ_STATUS_BUFFER_TOO_SMALL);
    char buf[512];
    size_t needed = 0;
    CHECK_OK(pmq_error_message(buf, sizeof buf, &needed));
    CHECK(needed == strlen(buf) && strstr(buf, "16") != NULL);
    drop_queue(q);
}

struct other {
    int status;
    char text[64];
    size_t needed;
};

static void *fresh_thread(void *arg) {
    struct other *o = arg;
    memset(o->text, 'Z', sizeof o->text);
    o->needed = 999;
    o->status = pmq_error_message(o->text, sizeof o->text, &o->needed);
    return NULL;
}

/* The detail is the calling thread's: a new thread has none (""), and this
 * thread's stays what it was. */
static void per_thread(void) {
    fail_with_accent();
    char mine[512];
    CHECK_OK(pmq_error_message(mine, sizeof mine, NULL));
    struct other o;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fresh_thread, &o) == 0);
    pthread_join(t, NULL);
    CHECK(o.status == PMQ_STATUS_OK && o.needed == 0 && o.text[0] == '\0');
    char again[512];
    CHECK_OK(pmq_error_message(again, sizeof again, NULL));
    CHECK(strcmp(mine, again) == 0);
}

int main(void) {
    whole_and_truncated();
    detail_of_a_queue_call();
    per_thread();
    return check_done("test_error_message");
}
