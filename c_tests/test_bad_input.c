/* Table-driven bad-input test: calls EVERY function exported by pmq.h with
 * each class of bad argument and asserts the documented status (not just
 * "did not crash"), that pmq_last_error_status() agrees, that a detail was
 * recorded, and that out-parameters stay untouched on failure.
 *
 * Classes: NULL handle, NULL out-pointer, NULL buffer with a non-zero
 * length, lengths above PTRDIFF_MAX, each kind of invalid name, unknown flag
 * bits, bad mode/sizes/access, non-zero reserved options, out-of-range
 * priority, NaN/inf/negative/unrepresentable timeouts, closed handle,
 * double close, describe style out of range, out-of-range status values,
 * invalid signal numbers (notification functions, once exported).
 *
 * A coverage check reads include/pmq.h and fails if an exported function
 * has no case here, so a new export cannot slip past this table. */
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "check.h"

/* ---- fixture ---------------------------------------------------------- */
static pmq_queue *F_q;      /* open read-write, 4 x 64, empty */
static pmq_queue *F_closed; /* closed with pmq_queue_close(), not freed */
static pmq_queue *F_ro;     /* read-only handle on F_q's queue */
static pmq_queue *F_wo;     /* write-only handle on F_q's queue */
static const char *F_name;
static uint8_t F_buf[256];
static char F_text[256];
static size_t F_len;
static uint32_t F_prio;
static int64_t F_i64;
static int F_int;
static bool F_bool;
static pmq_attributes F_attrs;
static pmq_options F_opts;
static pmq_message F_msgs[2];      /* two valid 1-byte messages */
static pmq_message F_nullmsg[2];   /* the second has data NULL, len 1 */
static pmq_message F_longmsg[2];   /* the second is 65 bytes (queue max 64) */
static pmq_message F_hugemsg[1];   /* len above PTRDIFF_MAX */
static pmq_message F_priomsg[1];   /* priority above PMQ_PRIORITY_MAX */
static pmq_received F_recv[4];
static pmq_leased F_leased[4];
static pmq_lease F_lease = {1, 0, 1};
static uint64_t F_u64;
static double F_dbl;
static pmq_receipt F_rcpt[4];
static char F_longname[300];
static char F_longname_ok[300];

#define HUGE_LEN ((size_t)PTRDIFF_MAX + 1)
#define OPTS(field, value) (F_opts = test_options(PMQ_O_CREAT, 4, 64), F_opts.field = (value), &F_opts)
#define OPEN_NEW(field, value) pmq_queue_open(test_queue_name("bad"), OPTS(field, value), &F_q_out)
static pmq_queue *F_q_out;
static void dummy_callback(void *param) { (void)param; }

/* ---- the table -------------------------------------------------------- */
/* X(id, function, expected status, expression) */
#define BAD_CASES(X)                                                                             \
    /* pmq_limits_get / pmq_options_init: NULL out */                                            \
    X(limits_null, "pmq_limits_get", PMQ_STATUS_INVALID_ARGUMENT, pmq_limits_get(NULL))          \
    X(opts_null, "pmq_options_init", PMQ_STATUS_INVALID_ARGUMENT, pmq_options_init(NULL))        \
    /* pmq_queue_open: NULL out, every kind of invalid name */                                   \
    X(open_out_null, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open(F_name, NULL, NULL)) \
    X(name_empty, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("", NULL, &F_q_out)) \
    X(name_noslash, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("abc", NULL, &F_q_out)) \
    X(name_slash_only, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("/", NULL, &F_q_out)) \
    X(name_two_slashes, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("/a/b", NULL, &F_q_out)) \
    X(name_trailing_slash, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("/a/", NULL, &F_q_out)) \
    X(name_dot, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("/.", NULL, &F_q_out)) \
    X(name_dotdot, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("/..", NULL, &F_q_out)) \
    X(name_too_long, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open(F_longname, NULL, &F_q_out)) \
    X(name_not_utf8, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("/a\xff\xfe", NULL, &F_q_out)) \
    X(name_overlong_utf8, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open("/\xc0\xaf", NULL, &F_q_out)) \
    X(name_missing, "pmq_queue_open", PMQ_STATUS_NOT_FOUND, pmq_queue_open(F_longname_ok, NULL, &F_q_out)) \
    /* pmq_queue_open: options */                                                                \
    X(flags_unknown_bit, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(flags, PMQ_O_CREAT | 0x1)) \
    X(flags_trunc_bit, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(flags, PMQ_O_CREAT | 01000)) \
    X(flags_minus_one, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(flags, -1))     \
    X(flags_excl_alone, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(flags, PMQ_O_EXCL)) \
    X(flags_int_min, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(flags, INT32_MIN)) \
    X(mode_high_bits, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(mode, 010600))   \
    X(mode_all_bits, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(mode, UINT32_MAX)) \
    X(maxmsg_zero, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(max_messages, 0))   \
    X(maxmsg_negative, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(max_messages, -1)) \
    X(maxmsg_int64_min, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(max_messages, INT64_MIN)) \
    X(maxmsg_huge, "pmq_queue_open", PMQ_STATUS_SYSTEM_LIMIT, OPEN_NEW(max_messages, (int64_t)1 << 40)) \
    X(maxsize_zero, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(max_message_size, 0)) \
    X(maxsize_negative, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(max_message_size, -5)) \
    X(maxsize_huge, "pmq_queue_open", PMQ_STATUS_SYSTEM_LIMIT, OPEN_NEW(max_message_size, (int64_t)1 << 40)) \
    X(no_access, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, (F_opts = test_options(PMQ_O_CREAT, 4, 64), F_opts.read = false, F_opts.write = false, pmq_queue_open(test_queue_name("bad"), &F_opts, &F_q_out))) \
    X(reserved0, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(reserved[0], 1))      \
    X(reserved2, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(reserved[1], UINT64_MAX)) \
    X(dead_letter_not_utf8, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(dead_letter, "/dl\xff")) \
    X(dead_letter_bad_name, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(dead_letter, "no-slash")) \
    X(backend_unknown, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, OPEN_NEW(backend, 2)) \
    X(random_name_bad_size, "pmq_queue_open", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_open(NULL, OPTS(max_message_size, 0), &F_q_out)) \
    X(create_exists, "pmq_queue_open", PMQ_STATUS_EXISTS, (F_opts = test_options(PMQ_O_CREX, 4, 64), pmq_queue_open(F_name, &F_opts, &F_q_out))) \
    /* NULL handle: every function taking a handle */                                            \
    X(close_null, "pmq_queue_close", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_close(NULL))         \
    X(is_closed_null, "pmq_queue_is_closed", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_is_closed(NULL, &F_bool)) \
    X(send_null, "pmq_queue_send", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send(NULL, F_buf, 1, 0)) \
    X(send_to_null, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(NULL, F_buf, 1, 0, 1.0)) \
    X(recv_null, "pmq_queue_receive", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive(NULL, F_buf, sizeof F_buf, &F_len, &F_prio)) \
    X(recv_to_null, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(NULL, F_buf, sizeof F_buf, &F_len, &F_prio, 1.0)) \
    X(get_block_null, "pmq_queue_get_block", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_get_block(NULL, &F_bool)) \
    X(set_block_null, "pmq_queue_set_block", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_set_block(NULL, true)) \
    X(attrs_null, "pmq_queue_get_attributes", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_get_attributes(NULL, &F_attrs)) \
    X(cur_null, "pmq_queue_current_messages", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_current_messages(NULL, &F_i64)) \
    X(maxm_null, "pmq_queue_max_messages", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_max_messages(NULL, &F_i64)) \
    X(maxs_null, "pmq_queue_max_message_size", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_max_message_size(NULL, &F_i64)) \
    X(fileno_null, "pmq_queue_fileno", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_fileno(NULL, &F_int)) \
    X(mode_null, "pmq_queue_mode", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_mode(NULL, &F_prio))   \
    X(backend_null, "pmq_queue_backend", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_backend(NULL, &F_prio)) \
    X(backend_out_null, "pmq_queue_backend", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_backend(F_q, NULL)) \
    X(access_null, "pmq_queue_access", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_access(NULL, &F_bool, &F_bool)) \
    X(describe_null, "pmq_queue_describe", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_describe(NULL, PMQ_DESCRIBE_SHORT, F_text, sizeof F_text, &F_len)) \
    X(unlink_q_null, "pmq_queue_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_unlink(NULL))    \
    /* NULL out-pointers */                                                                      \
    X(is_closed_out_null, "pmq_queue_is_closed", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_is_closed(F_q, NULL)) \
    X(recv_outlen_null, "pmq_queue_receive", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive(F_q, F_buf, sizeof F_buf, NULL, &F_prio)) \
    X(recv_to_outlen_null, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, NULL, NULL, 0.0)) \
    X(get_block_out_null, "pmq_queue_get_block", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_get_block(F_q, NULL)) \
    X(attrs_out_null, "pmq_queue_get_attributes", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_get_attributes(F_q, NULL)) \
    X(cur_out_null, "pmq_queue_current_messages", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_current_messages(F_q, NULL)) \
    X(maxm_out_null, "pmq_queue_max_messages", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_max_messages(F_q, NULL)) \
    X(maxs_out_null, "pmq_queue_max_message_size", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_max_message_size(F_q, NULL)) \
    X(fileno_out_null, "pmq_queue_fileno", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_fileno(F_q, NULL)) \
    X(mode_out_null, "pmq_queue_mode", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_mode(F_q, NULL))   \
    /* NULL buffer with a non-zero length, lengths above PTRDIFF_MAX */                          \
    X(send_nullbuf, "pmq_queue_send", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send(F_q, NULL, 1, 0)) \
    X(send_to_nullbuf, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, NULL, 64, 0, 0.0)) \
    X(send_hugelen, "pmq_queue_send", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send(F_q, F_buf, HUGE_LEN, 0)) \
    X(send_sizemax, "pmq_queue_send", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send(F_q, F_buf, SIZE_MAX, 0)) \
    X(send_to_hugelen, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, HUGE_LEN, 0, 0.0)) \
    X(send_too_large, "pmq_queue_send", PMQ_STATUS_MESSAGE_TOO_LARGE, pmq_queue_send(F_q, F_buf, 65, 0)) \
    X(recv_nullbuf, "pmq_queue_receive", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive(F_q, NULL, 64, &F_len, &F_prio)) \
    X(recv_to_nullbuf, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, NULL, 64, &F_len, &F_prio, 0.0)) \
    X(recv_hugelen, "pmq_queue_receive", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive(F_q, F_buf, HUGE_LEN, &F_len, &F_prio)) \
    X(recv_to_sizemax, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, F_buf, SIZE_MAX, &F_len, &F_prio, 0.0)) \
    X(recv_small_buf, "pmq_queue_receive", PMQ_STATUS_BUFFER_TOO_SMALL, pmq_queue_receive(F_q, F_buf, 63, &F_len, &F_prio)) \
    X(recv_nullbuf_zero, "pmq_queue_receive", PMQ_STATUS_BUFFER_TOO_SMALL, pmq_queue_receive(F_q, NULL, 0, &F_len, &F_prio)) \
    X(describe_nullbuf, "pmq_queue_describe", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_describe(F_q, PMQ_DESCRIBE_SHORT, NULL, 10, NULL)) \
    X(describe_hugelen, "pmq_queue_describe", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_describe(F_q, PMQ_DESCRIBE_DEBUG, F_text, HUGE_LEN, NULL)) \
    X(describe_small, "pmq_queue_describe", PMQ_STATUS_BUFFER_TOO_SMALL, pmq_queue_describe(F_q, PMQ_DESCRIBE_SHORT, F_text, 3, NULL)) \
    /* describe style out of range */                                                            \
    X(style_minus1, "pmq_queue_describe", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_describe(F_q, -1, F_text, sizeof F_text, NULL)) \
    X(style_2, "pmq_queue_describe", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_describe(F_q, 2, F_text, sizeof F_text, NULL)) \
    X(style_intmax, "pmq_queue_describe", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_describe(F_q, INT32_MAX, F_text, sizeof F_text, NULL)) \
    /* out-of-range priority */                                                                  \
    X(prio_max1, "pmq_queue_send", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send(F_q, F_buf, 1, PMQ_PRIORITY_MAX + 1)) \
    X(prio_u32max, "pmq_queue_send", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send(F_q, F_buf, 1, UINT32_MAX)) \
    X(prio_to_max1, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, 1, PMQ_PRIORITY_MAX + 1, 0.0)) \
    X(prio_to_big, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, 1, 0x80000000u, 1.0)) \
    /* NaN / inf / negative / unrepresentable timeouts */                                        \
    X(send_nan, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, 1, 0, NAN)) \
    X(send_ninf, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, 1, 0, -INFINITY)) \
    X(send_neg, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, 1, 0, -1.0)) \
    X(send_neg_tiny, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, 1, 0, -DBL_MIN)) \
    X(send_dblmax, "pmq_queue_send_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_timeout(F_q, F_buf, 1, 0, DBL_MAX)) \
    X(recv_nan, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, NAN)) \
    X(recv_negnan, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, -NAN)) \
    X(recv_ninf, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, -INFINITY)) \
    X(recv_neg, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, -0.5)) \
    X(recv_1e300, "pmq_queue_receive_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, 1e300)) \
    /* edge timeouts: -0.0 tries once; a subnormal is a (tiny) bounded wait */                  \
    X(recv_negzero, "pmq_queue_receive_timeout", PMQ_STATUS_WOULD_BLOCK, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, -0.0)) \
    X(recv_subnormal, "pmq_queue_receive_timeout", PMQ_STATUS_TIMED_OUT, pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, 4.9e-324)) \
    /* wrong direction */                                                                        \
    X(send_readonly, "pmq_queue_send", PMQ_STATUS_PERMISSION, pmq_queue_send(F_ro, F_buf, 1, 0)) \
    X(send_to_readonly, "pmq_queue_send_timeout", PMQ_STATUS_PERMISSION, pmq_queue_send_timeout(F_ro, F_buf, 1, 0, 0.0)) \
    X(recv_writeonly, "pmq_queue_receive", PMQ_STATUS_PERMISSION, pmq_queue_receive(F_wo, F_buf, sizeof F_buf, &F_len, &F_prio)) \
    X(recv_to_writeonly, "pmq_queue_receive_timeout", PMQ_STATUS_PERMISSION, pmq_queue_receive_timeout(F_wo, F_buf, sizeof F_buf, &F_len, &F_prio, 0.0)) \
    /* closed handle (and double close) */                                                       \
    X(close_twice, "pmq_queue_close", PMQ_STATUS_CLOSED, pmq_queue_close(F_closed))              \
    X(send_closed, "pmq_queue_send", PMQ_STATUS_CLOSED, pmq_queue_send(F_closed, F_buf, 1, 0))   \
    X(send_to_closed, "pmq_queue_send_timeout", PMQ_STATUS_CLOSED, pmq_queue_send_timeout(F_closed, F_buf, 1, 0, 0.1)) \
    X(recv_closed, "pmq_queue_receive", PMQ_STATUS_CLOSED, pmq_queue_receive(F_closed, F_buf, sizeof F_buf, &F_len, &F_prio)) \
    X(recv_to_closed, "pmq_queue_receive_timeout", PMQ_STATUS_CLOSED, pmq_queue_receive_timeout(F_closed, F_buf, sizeof F_buf, &F_len, &F_prio, 0.1)) \
    X(get_block_closed, "pmq_queue_get_block", PMQ_STATUS_CLOSED, pmq_queue_get_block(F_closed, &F_bool)) \
    X(set_block_closed, "pmq_queue_set_block", PMQ_STATUS_CLOSED, pmq_queue_set_block(F_closed, false)) \
    X(attrs_closed, "pmq_queue_get_attributes", PMQ_STATUS_CLOSED, pmq_queue_get_attributes(F_closed, &F_attrs)) \
    X(cur_closed, "pmq_queue_current_messages", PMQ_STATUS_CLOSED, pmq_queue_current_messages(F_closed, &F_i64)) \
    X(fileno_closed, "pmq_queue_fileno", PMQ_STATUS_CLOSED, pmq_queue_fileno(F_closed, &F_int))  \
    /* documented to keep working after close */                                                 \
    X(is_closed_closed, "pmq_queue_is_closed", PMQ_STATUS_OK, pmq_queue_is_closed(F_closed, &F_bool)) \
    X(mode_closed, "pmq_queue_mode", PMQ_STATUS_OK, pmq_queue_mode(F_closed, &F_prio))           \
    X(access_closed, "pmq_queue_access", PMQ_STATUS_OK, pmq_queue_access(F_closed, NULL, NULL))  \
    X(maxm_closed, "pmq_queue_max_messages", PMQ_STATUS_OK, pmq_queue_max_messages(F_closed, &F_i64)) \
    X(maxs_closed, "pmq_queue_max_message_size", PMQ_STATUS_OK, pmq_queue_max_message_size(F_closed, &F_i64)) \
    X(describe_closed, "pmq_queue_describe", PMQ_STATUS_OK, pmq_queue_describe(F_closed, PMQ_DESCRIBE_DEBUG, F_text, sizeof F_text, NULL)) \
    X(unlink_closed_gone, "pmq_queue_unlink", PMQ_STATUS_NOT_FOUND, pmq_queue_unlink(F_closed))  \
    /* batch send / receive: NULL handle, out-pointer and arrays, bad messages, timeouts, closed */ \
    X(sendb_null, "pmq_queue_send_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch(NULL, F_msgs, 2, &F_len)) \
    X(sendb_out_null, "pmq_queue_send_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch(F_q, F_msgs, 2, NULL)) \
    X(sendb_msgs_null, "pmq_queue_send_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch(F_q, NULL, 2, &F_len)) \
    X(sendb_count_huge, "pmq_queue_send_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch(F_q, F_msgs, SIZE_MAX, &F_len)) \
    X(sendb_data_null, "pmq_queue_send_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch(F_q, F_nullmsg, 2, &F_len)) \
    X(sendb_len_huge, "pmq_queue_send_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch(F_q, F_hugemsg, 1, &F_len)) \
    X(sendb_too_large, "pmq_queue_send_batch", PMQ_STATUS_MESSAGE_TOO_LARGE, pmq_queue_send_batch(F_q, F_longmsg, 2, &F_len)) \
    X(sendb_prio, "pmq_queue_send_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch(F_q, F_priomsg, 1, &F_len)) \
    X(sendb_readonly, "pmq_queue_send_batch", PMQ_STATUS_PERMISSION, pmq_queue_send_batch(F_ro, F_msgs, 2, &F_len)) \
    X(sendb_closed, "pmq_queue_send_batch", PMQ_STATUS_CLOSED, pmq_queue_send_batch(F_closed, F_msgs, 2, &F_len)) \
    X(sendbt_null, "pmq_queue_send_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch_timeout(NULL, F_msgs, 2, &F_len, 0.0)) \
    X(sendbt_nan, "pmq_queue_send_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch_timeout(F_q, F_msgs, 2, &F_len, NAN)) \
    X(sendbt_ninf, "pmq_queue_send_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch_timeout(F_q, F_msgs, 2, &F_len, -INFINITY)) \
    X(sendbt_neg, "pmq_queue_send_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch_timeout(F_q, F_msgs, 2, &F_len, -1.0)) \
    X(sendbt_dblmax, "pmq_queue_send_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch_timeout(F_q, F_msgs, 2, &F_len, DBL_MAX)) \
    X(sendbt_msgs_null, "pmq_queue_send_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_send_batch_timeout(F_q, NULL, 1, &F_len, 0.0)) \
    X(sendbt_closed, "pmq_queue_send_batch_timeout", PMQ_STATUS_CLOSED, pmq_queue_send_batch_timeout(F_closed, F_msgs, 2, &F_len, 0.1)) \
    X(recvb_null, "pmq_queue_receive_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch(NULL, F_buf, sizeof F_buf, F_recv, 4, &F_len)) \
    X(recvb_out_null, "pmq_queue_receive_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch(F_q, F_buf, sizeof F_buf, F_recv, 4, NULL)) \
    X(recvb_arr_null, "pmq_queue_receive_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch(F_q, F_buf, sizeof F_buf, NULL, 4, &F_len)) \
    X(recvb_max_huge, "pmq_queue_receive_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch(F_q, F_buf, sizeof F_buf, F_recv, SIZE_MAX / 2, &F_len)) \
    X(recvb_nullbuf, "pmq_queue_receive_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch(F_q, NULL, 64, F_recv, 4, &F_len)) \
    X(recvb_hugelen, "pmq_queue_receive_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch(F_q, F_buf, HUGE_LEN, F_recv, 4, &F_len)) \
    X(recvb_writeonly, "pmq_queue_receive_batch", PMQ_STATUS_PERMISSION, pmq_queue_receive_batch(F_wo, F_buf, sizeof F_buf, F_recv, 4, &F_len)) \
    X(recvb_closed, "pmq_queue_receive_batch", PMQ_STATUS_CLOSED, pmq_queue_receive_batch(F_closed, F_buf, sizeof F_buf, F_recv, 4, &F_len)) \
    X(recvbt_null, "pmq_queue_receive_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch_timeout(NULL, F_buf, sizeof F_buf, F_recv, 4, &F_len, 0.0)) \
    X(recvbt_nan, "pmq_queue_receive_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch_timeout(F_q, F_buf, sizeof F_buf, F_recv, 4, &F_len, NAN)) \
    X(recvbt_ninf, "pmq_queue_receive_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch_timeout(F_q, F_buf, sizeof F_buf, F_recv, 4, &F_len, -INFINITY)) \
    X(recvbt_neg, "pmq_queue_receive_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch_timeout(F_q, F_buf, sizeof F_buf, F_recv, 4, &F_len, -0.5)) \
    X(recvbt_out_null, "pmq_queue_receive_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_receive_batch_timeout(F_q, F_buf, sizeof F_buf, F_recv, 4, NULL, 0.0)) \
    X(recvbt_closed, "pmq_queue_receive_batch_timeout", PMQ_STATUS_CLOSED, pmq_queue_receive_batch_timeout(F_closed, F_buf, sizeof F_buf, F_recv, 4, &F_len, 0.1)) \
    /* dead receivers' receipts: NULL handle, out-pointer and array, huge count, closed, kernel */ \
    X(rcpt_null, "pmq_queue_dead_receipts", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_dead_receipts(NULL, F_rcpt, 4, &F_len)) \
    X(rcpt_count_null, "pmq_queue_dead_receipts", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_dead_receipts(F_q, F_rcpt, 4, NULL)) \
    X(rcpt_arr_null, "pmq_queue_dead_receipts", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_dead_receipts(F_q, NULL, 4, &F_len)) \
    X(rcpt_cap_huge, "pmq_queue_dead_receipts", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_dead_receipts(F_q, F_rcpt, SIZE_MAX / 2, &F_len)) \
    X(rcpt_closed, "pmq_queue_dead_receipts", PMQ_STATUS_CLOSED, pmq_queue_dead_receipts(F_closed, F_rcpt, 4, &F_len)) \
    X(rcpt_kernel, "pmq_queue_dead_receipts", PMQ_STATUS_NOT_SUPPORTED, pmq_queue_dead_receipts(F_q, F_rcpt, 4, &F_len)) \
    /* pmq_unlink: NULL and every kind of invalid name */                                        \
    X(unlink_null, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink(NULL))                  \
    X(unlink_b_null, "pmq_unlink_backend", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink_backend(NULL, PMQ_BACKEND_SHM)) \
    X(unlink_b_bad_name, "pmq_unlink_backend", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink_backend("x/y", PMQ_BACKEND_SHM)) \
    X(unlink_b_backend, "pmq_unlink_backend", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink_backend("/x", 99)) \
    X(unlink_empty, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink(""))                   \
    X(unlink_noslash, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink("x"))                \
    X(unlink_slash, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink("/"))                  \
    X(unlink_two_slashes, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink("//x"))          \
    X(unlink_dot, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink("/."))                   \
    X(unlink_dotdot, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink("/.."))               \
    X(unlink_long, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink(F_longname))            \
    X(unlink_not_utf8, "pmq_unlink", PMQ_STATUS_INVALID_ARGUMENT, pmq_unlink("/\x80"))          \
    X(unlink_missing, "pmq_unlink", PMQ_STATUS_NOT_FOUND, pmq_unlink(F_longname_ok))            \
    /* notifications: NULL handle, invalid signal numbers, NULL callback, closed handle */       \
    X(nsig_null, "pmq_queue_notify_signal", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_signal(NULL, SIGUSR1)) \
    X(nsig_zero, "pmq_queue_notify_signal", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_signal(F_q, 0)) \
    X(nsig_negative, "pmq_queue_notify_signal", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_signal(F_q, -1)) \
    X(nsig_above_rtmax, "pmq_queue_notify_signal", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_signal(F_q, SIGRTMAX + 1)) \
    X(nsig_65, "pmq_queue_notify_signal", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_signal(F_q, 65)) \
    X(nsig_int_max, "pmq_queue_notify_signal", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_signal(F_q, INT32_MAX)) \
    X(nsig_int_min, "pmq_queue_notify_signal", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_signal(F_q, INT32_MIN)) \
    X(nsig_closed, "pmq_queue_notify_signal", PMQ_STATUS_CLOSED, pmq_queue_notify_signal(F_closed, SIGUSR1)) \
    X(ncb_null, "pmq_queue_notify_callback", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_callback(NULL, dummy_callback, NULL, NULL)) \
    X(ncb_null_fn, "pmq_queue_notify_callback", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_callback(F_q, NULL, F_buf, NULL)) \
    X(ncb_closed, "pmq_queue_notify_callback", PMQ_STATUS_CLOSED, pmq_queue_notify_callback(F_closed, dummy_callback, NULL, NULL)) \
    X(ncancel_null, "pmq_queue_notify_cancel", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_notify_cancel(NULL)) \
    X(ncancel_closed, "pmq_queue_notify_cancel", PMQ_STATUS_CLOSED, pmq_queue_notify_cancel(F_closed)) \
    X(ncancel_none, "pmq_queue_notify_cancel", PMQ_STATUS_OK, pmq_queue_notify_cancel(F_q)) \
    /* leases: argument checks come before the backend (the kernel's NOT_SUPPORTED) */ \
    X(lease_null, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(NULL, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0)) \
    X(lease_outlen_null, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, F_buf, sizeof F_buf, NULL, &F_prio, &F_lease, 0)) \
    X(lease_outlease_null, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, NULL, 0)) \
    X(lease_nullbuf, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, NULL, 64, &F_len, &F_prio, &F_lease, 0)) \
    X(lease_hugelen, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, F_buf, HUGE_LEN, &F_len, &F_prio, &F_lease, 0)) \
    X(lease_vis_nan, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, NAN)) \
    X(lease_vis_neg, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, -1.0)) \
    X(lease_vis_neginf, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, -INFINITY)) \
    X(lease_vis_huge, "pmq_queue_lease", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, DBL_MAX)) \
    X(lease_small, "pmq_queue_lease", PMQ_STATUS_BUFFER_TOO_SMALL, pmq_queue_lease(F_q, F_buf, 10, &F_len, &F_prio, &F_lease, 0)) \
    X(lease_writeonly, "pmq_queue_lease", PMQ_STATUS_PERMISSION, pmq_queue_lease(F_wo, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0)) \
    X(lease_closed, "pmq_queue_lease", PMQ_STATUS_CLOSED, pmq_queue_lease(F_closed, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0)) \
    X(lease_kernel, "pmq_queue_lease", PMQ_STATUS_NOT_SUPPORTED, pmq_queue_lease(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0)) \
    X(leaset_null, "pmq_queue_lease_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_timeout(NULL, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0, 0)) \
    X(leaset_nan, "pmq_queue_lease_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0, NAN)) \
    X(leaset_neg, "pmq_queue_lease_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0, -1.0)) \
    X(leaset_vis_nan, "pmq_queue_lease_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_timeout(F_q, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, NAN, 0)) \
    X(leaset_closed, "pmq_queue_lease_timeout", PMQ_STATUS_CLOSED, pmq_queue_lease_timeout(F_closed, F_buf, sizeof F_buf, &F_len, &F_prio, &F_lease, 0, 0)) \
    X(leaseb_null, "pmq_queue_lease_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch(NULL, F_buf, sizeof F_buf, F_leased, 4, &F_len, 0)) \
    X(leaseb_count_null, "pmq_queue_lease_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch(F_q, F_buf, sizeof F_buf, F_leased, 4, NULL, 0)) \
    X(leaseb_out_null, "pmq_queue_lease_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch(F_q, F_buf, sizeof F_buf, NULL, 4, &F_len, 0)) \
    X(leaseb_max_huge, "pmq_queue_lease_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch(F_q, F_buf, sizeof F_buf, F_leased, SIZE_MAX / 2, &F_len, 0)) \
    X(leaseb_nullbuf, "pmq_queue_lease_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch(F_q, NULL, 64, F_leased, 4, &F_len, 0)) \
    X(leaseb_vis_neg, "pmq_queue_lease_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch(F_q, F_buf, sizeof F_buf, F_leased, 4, &F_len, -1.0)) \
    X(leaseb_writeonly, "pmq_queue_lease_batch", PMQ_STATUS_PERMISSION, pmq_queue_lease_batch(F_wo, F_buf, sizeof F_buf, F_leased, 4, &F_len, 0)) \
    X(leaseb_closed, "pmq_queue_lease_batch", PMQ_STATUS_CLOSED, pmq_queue_lease_batch(F_closed, F_buf, sizeof F_buf, F_leased, 4, &F_len, 0)) \
    X(leasebt_null, "pmq_queue_lease_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch_timeout(NULL, F_buf, sizeof F_buf, F_leased, 4, &F_len, 0, 0)) \
    X(leasebt_nan, "pmq_queue_lease_batch_timeout", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_batch_timeout(F_q, F_buf, sizeof F_buf, F_leased, 4, &F_len, 0, NAN)) \
    X(leasebt_kernel, "pmq_queue_lease_batch_timeout", PMQ_STATUS_NOT_SUPPORTED, pmq_queue_lease_batch_timeout(F_q, F_buf, sizeof F_buf, F_leased, 4, &F_len, 0, 0)) \
    X(ack_null, "pmq_queue_ack", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_ack(NULL, &F_lease)) \
    X(ack_lease_null, "pmq_queue_ack", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_ack(F_q, NULL)) \
    X(ack_closed, "pmq_queue_ack", PMQ_STATUS_CLOSED, pmq_queue_ack(F_closed, &F_lease)) \
    X(ack_kernel, "pmq_queue_ack", PMQ_STATUS_NOT_SUPPORTED, pmq_queue_ack(F_q, &F_lease)) \
    X(nack_null, "pmq_queue_nack", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_nack(NULL, &F_lease)) \
    X(nack_lease_null, "pmq_queue_nack", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_nack(F_q, NULL)) \
    X(nack_closed, "pmq_queue_nack", PMQ_STATUS_CLOSED, pmq_queue_nack(F_closed, &F_lease)) \
    X(ackb_null, "pmq_queue_ack_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_ack_batch(NULL, &F_lease, 1, &F_len)) \
    X(ackb_out_null, "pmq_queue_ack_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_ack_batch(F_q, &F_lease, 1, NULL)) \
    X(ackb_leases_null, "pmq_queue_ack_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_ack_batch(F_q, NULL, 1, &F_len)) \
    X(ackb_count_huge, "pmq_queue_ack_batch", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_ack_batch(F_q, &F_lease, SIZE_MAX / 2, &F_len)) \
    X(lstats_null, "pmq_queue_lease_stats", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_stats(NULL, &F_u64, &F_dbl)) \
    X(lstats_leased_null, "pmq_queue_lease_stats", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_stats(F_q, NULL, &F_dbl)) \
    X(lstats_age_null, "pmq_queue_lease_stats", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_lease_stats(F_q, &F_u64, NULL)) \
    X(lstats_closed, "pmq_queue_lease_stats", PMQ_STATUS_CLOSED, pmq_queue_lease_stats(F_closed, &F_u64, &F_dbl)) \
    X(lstats_kernel, "pmq_queue_lease_stats", PMQ_STATUS_NOT_SUPPORTED, pmq_queue_lease_stats(F_q, &F_u64, &F_dbl)) \
    X(iid_null, "pmq_queue_instance_id", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_instance_id(NULL, &F_u64)) \
    X(iid_out_null, "pmq_queue_instance_id", PMQ_STATUS_INVALID_ARGUMENT, pmq_queue_instance_id(F_q, NULL)) \
    X(iid_closed, "pmq_queue_instance_id", PMQ_STATUS_CLOSED, pmq_queue_instance_id(F_closed, &F_u64)) \
    X(iid_kernel, "pmq_queue_instance_id", PMQ_STATUS_NOT_SUPPORTED, pmq_queue_instance_id(F_q, &F_u64))

#define DEFINE_CASE(id, fn, expected, expr) \
    static int case_##id(void) { return (int)(expr); }
BAD_CASES(DEFINE_CASE)

struct bad_case {
    const char *id;
    const char *function;
    int expected;
    int (*run)(void);
};
#define TABLE_ROW(id, fn, expected, expr) {#id, fn, (int)(expected), case_##id},
static const struct bad_case CASES[] = {BAD_CASES(TABLE_ROW)};
#define N_CASES (sizeof CASES / sizeof CASES[0])

/* Functions that take no bad input of their own (no pointer, no handle) or
 * return a value instead of a status; checked in check_value_functions(). */
static const char *const VALUE_FUNCTIONS[] = {
    "pmq_message_queues_supported", "pmq_queue_messages_max_default",
    "pmq_queue_message_size_max_default", "pmq_priority_max", "pmq_queue_cost",
    "pmq_version", "pmq_version_number", "pmq_status_str", "pmq_status_name",
    "pmq_status_is_busy", "pmq_status_last", "pmq_last_error", "pmq_last_error_copy",
    "pmq_last_error_status", "pmq_last_error_errno", "pmq_last_error_needed",
    "pmq_last_error_take", "pmq_queue_free", "pmq_queue_name", "pmq_queue_access",
    /* refuses bad input without recording it (it reads the detail); also
     * test_error_message.c */
    "pmq_error_message",
};

static int inputs_tried;

/* Runs every table row: status, last_error_status, detail, and for failures
 * that the row can observe, the untouched out-parameters. */
static void run_table(void) {
    for (size_t i = 0; i < N_CASES; i++) {
        const struct bad_case *c = &CASES[i];
        F_q_out = (pmq_queue *)(uintptr_t)0x5a5a; /* sentinel: must stay untouched */
        F_len = 0xdead;
        F_prio = 0xbeef;
        F_i64 = -77;
        F_int = -77;
        F_bool = true;
        memset(&F_attrs, 0x5a, sizeof F_attrs);
        int st = c->run();
        inputs_tried++;
        if (st != c->expected) {
            check_failed++;
            fprintf(stderr, "case %s (%s): returned %s, expected %s\n  detail: %s\n", c->id,
                    c->function, pmq_status_name(st), pmq_status_name(c->expected),
                    st ? pmq_last_error() : "(none)");
            if (st == PMQ_STATUS_OK && F_q_out != (pmq_queue *)(uintptr_t)0x5a5a) {
                pmq_queue_unlink(F_q_out);
                pmq_queue_free(F_q_out);
            }
            continue;
        }
        check_passed++;
        if (st == PMQ_STATUS_OK) continue;
        /* The thread-local detail describes this failure. */
        if (pmq_last_error_status() != st || pmq_last_error()[0] == '\0') {
            check_failed++;
            fprintf(stderr, "case %s: last_error_status %d / detail \"%s\" do not match %s\n",
                    c->id, pmq_last_error_status(), pmq_last_error(), pmq_status_name(st));
        } else {
            check_passed++;
        }
        /* Out-parameters are written only on success (except the size needed
         * on BUFFER_TOO_SMALL). */
        int untouched = F_q_out == (pmq_queue *)(uintptr_t)0x5a5a && F_prio == 0xbeef &&
                        F_i64 == -77 && F_int == -77;
        if (st != PMQ_STATUS_BUFFER_TOO_SMALL) untouched = untouched && F_len == 0xdead;
        if (!untouched) {
            check_failed++;
            fprintf(stderr, "case %s: an out-parameter was written on failure\n", c->id);
        } else {
            check_passed++;
        }
    }
}

/* Functions that return values: their documented answer for bad input. */
static void check_value_functions(void) {
    CHECK(pmq_message_queues_supported());
    CHECK(pmq_queue_messages_max_default() >= 1);
    CHECK(pmq_queue_message_size_max_default() >= 1);
    CHECK(pmq_priority_max() == PMQ_PRIORITY_MAX);
    CHECK(strcmp(pmq_version(), PMQ_VERSION_STRING) == 0);
    CHECK(pmq_version_number() == PMQ_VERSION_NUMBER);
    /* pmq_queue_cost: 0 for non-positive arguments */
    const int64_t bad_sizes[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < 3; i++) {
        CHECK(pmq_queue_cost(bad_sizes[i], 64) == 0);
        CHECK(pmq_queue_cost(4, bad_sizes[i]) == 0);
        CHECK(pmq_queue_cost(bad_sizes[i], bad_sizes[i]) == 0);
        inputs_tried += 3;
    }
    CHECK(pmq_queue_cost(INT64_MAX, INT64_MAX) > 0); /* saturates, no overflow trap */
    inputs_tried++;
    /* Status functions take any int. */
    const int bad_status[] = {-1, pmq_status_last() + 1, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++) {
        CHECK(strcmp(pmq_status_str(bad_status[i]), "unknown status") == 0);
        CHECK(strcmp(pmq_status_name(bad_status[i]), "PMQ_STATUS_UNKNOWN") == 0);
        CHECK(!pmq_status_is_busy(bad_status[i]));
        inputs_tried += 3;
    }
    CHECK(pmq_status_last() == PMQ_STATUS_LEASE_LOST);
    for (int s = 0; s <= pmq_status_last(); s++) {
        CHECK(strcmp(pmq_status_name(s), "PMQ_STATUS_UNKNOWN") != 0);
    }
    /* pmq_error_message: NULL with a length, a length above PTRDIFF_MAX:
     * refused, nothing written, the detail it reads left as it was. */
    {
        (void)pmq_queue_open(NULL, NULL, NULL);
        char before[256], buf[8];
        CHECK_OK(pmq_error_message(before, sizeof before, NULL));
        size_t needed = 42;
        memset(buf, 'Z', sizeof buf);
        CHECK_STATUS(pmq_error_message(NULL, 8, &needed), PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(pmq_error_message(buf, SIZE_MAX, &needed), PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(pmq_error_message(buf, (size_t)PTRDIFF_MAX + 1, &needed),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK(needed == 42 && buf[0] == 'Z');
        CHECK(strcmp(pmq_last_error(), before) == 0);
        inputs_tried += 3;
    }
    /* pmq_queue_name / pmq_queue_free / pmq_queue_access with NULL */
    CHECK(pmq_queue_name(NULL) == NULL);
    CHECK(pmq_last_error_status() == PMQ_STATUS_INVALID_ARGUMENT);
    pmq_queue_free(NULL); /* documented no-op */
    CHECK(pmq_queue_name(F_q) != NULL && strcmp(pmq_queue_name(F_q), F_name) == 0);
    CHECK(pmq_queue_name(F_closed) != NULL); /* documented to work after close */
    bool r = false, w = true;
    CHECK_OK(pmq_queue_access(F_ro, &r, &w));
    CHECK(r && !w);
    CHECK_OK(pmq_queue_access(F_q, NULL, NULL));
    inputs_tried += 4;
    /* Last-error accessors: make a known failure, then query with bad buffers. */
    CHECK_STATUS(pmq_queue_close(NULL), PMQ_STATUS_INVALID_ARGUMENT);
    size_t full = strlen(pmq_last_error());
    CHECK(full > 0);
    CHECK(pmq_last_error_errno() == 0);
    CHECK(pmq_last_error_needed() == 0);
    CHECK(pmq_last_error_copy(NULL, 0) == full);
    CHECK(pmq_last_error_copy(NULL, 100) == full);          /* NULL with a length: nothing written */
    char small[4] = {'x', 'x', 'x', 'x'};
    CHECK(pmq_last_error_copy(small, HUGE_LEN) == full);     /* above PTRDIFF_MAX: nothing written */
    CHECK(small[0] == 'x');
    CHECK(pmq_last_error_copy(small, 1) == full && small[0] == '\0');
    CHECK(pmq_last_error_copy(small, sizeof small) == full && small[3] == '\0');
    size_t out_len = 0;
    CHECK(pmq_last_error_take(NULL, 0, NULL) == PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(pmq_last_error_take(NULL, 50, &out_len) == PMQ_STATUS_INVALID_ARGUMENT && out_len == full);
    CHECK(pmq_last_error_take(small, HUGE_LEN, NULL) == PMQ_STATUS_INVALID_ARGUMENT);
    inputs_tried += 6;
    /* BUFFER_TOO_SMALL reports the size needed. */
    CHECK_STATUS(pmq_queue_receive(F_q, F_buf, 10, &F_len, NULL), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(pmq_last_error_needed() == 64);
    CHECK(F_len == 64);
    inputs_tried++;
}

/* The bad calls above must not have changed the queue: no stray message. */
static void check_queue_untouched(void) {
    int64_t cur = -1;
    CHECK_OK(pmq_queue_current_messages(F_q, &cur));
    CHECK(cur == 0);
    /* and it still works normally */
    CHECK_OK(pmq_queue_send(F_q, (const uint8_t *)"ok", 2, 7));
    size_t n = 0;
    uint32_t p = 0;
    CHECK_OK(pmq_queue_receive_timeout(F_q, F_buf, sizeof F_buf, &n, &p, 1.0));
    CHECK(n == 2 && p == 7 && memcmp(F_buf, "ok", 2) == 0);
}

/* A registration held by another process: BUSY, and cancel leaves it alone. */
static void check_notify_busy(void) {
    int ready[2], hold[2];
    if (pipe(ready) != 0 || pipe(hold) != 0) {
        CHECK(!"pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        alarm(30); /* never outlive a broken parent */
        pmq_options o;
        test_options_init(&o);
        pmq_queue *h = NULL;
        char ok = 'n';
        if (pmq_queue_open(F_name, &o, &h) == PMQ_STATUS_OK &&
            pmq_queue_notify_signal(h, SIGUSR1) == PMQ_STATUS_OK)
            ok = 'y';
        if (write(ready[1], &ok, 1) != 1) _exit(3);
        char c;
        while (read(hold[0], &c, 1) > 0) {
        }
        _exit(ok == 'y' ? 0 : 2);
    }
    close(ready[1]);
    close(hold[0]);
    char ok = 0;
    CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y');
    CHECK_STATUS(pmq_queue_notify_signal(F_q, SIGUSR2), PMQ_STATUS_BUSY);
    CHECK_STATUS(pmq_queue_notify_callback(F_q, dummy_callback, NULL, NULL), PMQ_STATUS_BUSY);
    CHECK_OK(pmq_queue_notify_cancel(F_q));
    CHECK_STATUS(pmq_queue_notify_signal(F_q, SIGUSR2), PMQ_STATUS_BUSY); /* still held */
    inputs_tried += 4;
    close(hold[1]);
    close(ready[0]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Every function declared in include/pmq.h must be exercised here. */
static int function_covered(const char *fn) {
    for (size_t i = 0; i < N_CASES; i++)
        if (strcmp(CASES[i].function, fn) == 0) return 1;
    for (size_t i = 0; i < sizeof VALUE_FUNCTIONS / sizeof VALUE_FUNCTIONS[0]; i++)
        if (strcmp(VALUE_FUNCTIONS[i], fn) == 0) return 1;
    return 0;
}

static void check_header_coverage(void) {
    /* The header sits at ../include/pmq.h from this file's directory. */
    char path[512];
    const char *self = __FILE__;
    const char *slash = strrchr(self, '/');
    int dirlen = slash ? (int)(slash - self) : 1;
    snprintf(path, sizeof path, "%.*s/../include/pmq.h", dirlen, slash ? self : ".");
    FILE *f = fopen(path, "r");
    if (!f) f = fopen("include/pmq.h", "r");
    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "cannot read %s for the coverage check (run from the repo root)\n", path);
        return;
    }
    char line[1024];
    int declared = 0;
    while (fgets(line, sizeof line, f)) {
        /* declarations look like "<type> pmq_xxx(" at the start of a line */
        if (line[0] == ' ' || line[0] == '*' || line[0] == '#' || line[0] == '/') continue;
        char *p = strstr(line, "pmq_");
        if (!p) continue;
        char *paren = strchr(p, '(');
        if (!paren) continue;
        /* skip "typedef", struct fields etc.: the name must end right at '(' */
        while (p) {
            char *q = p;
            while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_') q++;
            if (*q == '(') break;
            p = strstr(q, "pmq_");
        }
        if (!p) continue;
        char fn[128];
        size_t n = 0;
        while (p[n] != '(' && n < sizeof fn - 1) {
            fn[n] = p[n];
            n++;
        }
        fn[n] = '\0';
        declared++;
        if (!function_covered(fn)) {
            check_failed++;
            fprintf(stderr, "exported function %s has no bad-input case in %s\n", fn, __FILE__);
        } else {
            check_passed++;
        }
    }
    fclose(f);
    CHECK(declared >= 40);
    printf("bad_input: %d exported functions in pmq.h, all covered\n", declared);
}

/* Positive timeouts below a nanosecond are bounded waits (TIMED_OUT, never
 * WOULD_BLOCK); huge or tiny invalid timeouts get a short, readable detail;
 * pmq_queue_cost saturates; pmq_queue_describe leaves *out_needed alone when
 * it rejects its arguments. */
static void check_edges_of_values(void) {
    const double tiny[] = {5e-324, DBL_MIN, 1e-12, 4e-10, 9.9e-10};
    uint8_t buf[64];
    size_t n = 0;
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        CHECK_STATUS(pmq_queue_receive_timeout(F_q, buf, sizeof buf, &n, NULL, tiny[i]),
                     PMQ_STATUS_TIMED_OUT);
    }
    /* The full handle: fill F_q (4 messages), then a tiny send timeout. */
    for (int i = 0; i < 4; i++) CHECK_OK(pmq_queue_send(F_q, (const uint8_t *)"f", 1, 0));
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        CHECK_STATUS(pmq_queue_send_timeout(F_q, (const uint8_t *)"f", 1, 0, tiny[i]),
                     PMQ_STATUS_TIMED_OUT);
    }
    for (int i = 0; i < 4; i++) CHECK_OK(pmq_queue_receive(F_q, buf, sizeof buf, &n, NULL));

    const double bad[] = {-DBL_MAX, -1e300, DBL_MAX, 1e300, -DBL_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(pmq_queue_receive_timeout(F_q, buf, sizeof buf, &n, NULL, bad[i]),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK(strlen(pmq_last_error()) < 200);
        CHECK(strstr(pmq_last_error(), "e") != NULL);
    }
    CHECK_STATUS(pmq_queue_send_timeout(F_q, (const uint8_t *)"f", 1, 0, DBL_MAX),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("1.7976931348623157e308");

    CHECK(pmq_queue_cost((int64_t)1 << 60, 1) >= pmq_queue_cost((int64_t)1 << 59, 1));
    CHECK(pmq_queue_cost(INT64_MAX, INT64_MAX) == UINT64_MAX);
    uint64_t last = 0;
    for (int k = 0; k < 63; k++) {
        uint64_t c = pmq_queue_cost((int64_t)1 << k, 1);
        CHECK(c >= last);
        last = c;
    }

    size_t needed = 12345;
    CHECK_STATUS(pmq_queue_describe(F_q, PMQ_DESCRIBE_SHORT, NULL, 10, &needed),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(needed == 12345);
    CHECK_STATUS(pmq_queue_describe(F_q, PMQ_DESCRIBE_SHORT, F_text, SIZE_MAX, &needed),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(needed == 12345);
    CHECK_STATUS(pmq_queue_describe(F_q, 7, F_text, sizeof F_text, &needed),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(needed == 12345);
    CHECK_STATUS(pmq_queue_describe(F_q, PMQ_DESCRIBE_SHORT, F_text, 3, &needed),
                 PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(needed > 3 && needed != 12345);
}

int main(void) {
    F_name = test_queue_name("bad-fixture");
    memset(F_longname, 'n', sizeof F_longname);
    F_longname[0] = '/';
    F_longname[257] = '\0'; /* 256 bytes after the slash: one too many */
    snprintf(F_longname_ok, sizeof F_longname_ok, "/%s-t-missing-%ld-%0220d", test_prefix(),
             (long)getpid(), 0);
    F_longname_ok[256] = '\0'; /* 255 after the slash: valid, does not exist */

    pmq_options o = test_options(PMQ_O_CREX, 4, 64);
    CHECK_OK(pmq_queue_open(F_name, &o, &F_q));
    o.flags = 0;
    o.write = false;
    CHECK_OK(pmq_queue_open(F_name, &o, &F_ro));
    o.write = true;
    o.read = false;
    CHECK_OK(pmq_queue_open(F_name, &o, &F_wo));
    /* The closed handle's queue is a separate one, already unlinked, so the
     * unlink-on-closed case sees NOT_FOUND. */
    o = test_options(PMQ_O_CREX, 2, 16);
    const char *closed_name = test_queue_name("bad-closed");
    CHECK_OK(pmq_queue_open(closed_name, &o, &F_closed));
    if (!F_q || !F_ro || !F_wo || !F_closed) return check_done("bad_input");
    CHECK_OK(pmq_queue_unlink(F_closed));
    CHECK_OK(pmq_queue_close(F_closed));

    F_msgs[0] = (pmq_message){F_buf, 1, 0};
    F_msgs[1] = (pmq_message){F_buf, 1, 1};
    F_nullmsg[0] = F_msgs[0];
    F_nullmsg[1] = (pmq_message){NULL, 1, 0};
    F_longmsg[0] = F_msgs[0];
    F_longmsg[1] = (pmq_message){F_buf, 65, 0};
    F_hugemsg[0] = (pmq_message){F_buf, HUGE_LEN, 0};
    F_priomsg[0] = (pmq_message){F_buf, 1, PMQ_PRIORITY_MAX + 1};

    run_table();
    check_value_functions();
    check_queue_untouched();
    check_notify_busy();
    check_header_coverage();
    check_edges_of_values();

    pmq_queue_free(F_closed);
    pmq_queue_free(F_ro);
    pmq_queue_free(F_wo);
    CHECK_OK(pmq_queue_unlink(F_q));
    pmq_queue_free(F_q);
    printf("bad_input: %d bad inputs tried (%zu table cases)\n", inputs_tried, N_CASES);
    return check_done("bad_input");
}
