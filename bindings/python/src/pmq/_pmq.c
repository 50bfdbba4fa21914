/*
 * pmq._pmq: pmq's one C extension, everything pmq.MessageQueue asks of
 * libpmq. It owns the queue handle (Handle: open() to pmq_queue_free()),
 * makes every call on it (send and receive at posix_ipc's cost, the timed,
 * non-blocking and batch forms, attributes, unlink, fileno, dead receipts,
 * notification by signal or callback: its trampoline takes the GIL on
 * libpmq's thread) and turns a failure into the exception pmq's Python face
 * makes (pmq/_errors.py, registered with set_error_factory()). The
 * posix_ipc face (argument rules, exceptions, asyncio) is Python.
 *
 * QueueBase (MessageQueue's C base) holds the Handle that MessageQueue
 * opened and handed over with _set_handle(): each call holds a reference to
 * it while it uses the pointer, so a handle replaced meanwhile (by __init__
 * called again) or closed is freed only after the call (libpmq:
 * pmq_queue_free() must not race with another call). Calls that may wait
 * release the GIL. On failure, libpmq's detail is copied right after the
 * failing call, with the GIL held, before any Python code can run.
 *
 * Over 600 lines on purpose: one translation unit is the one extension
 * (the hot path's helpers are static and inlined); its sections are the
 * argument parsers, the transfers, the handle, notifications, the module.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pmq.h"

/* Receives of up to this many bytes use a buffer on the stack. */
#define STACK_BUFFER 16384
/* Timeouts longer than this (seconds, about 31 million years) wait forever
 * (PMQ_FOREVER), as None does. */
#define FOREVER 1e15

static PyObject *error_factory; /* callable(status, errno, detail: bytes) -> exception */

typedef struct {
    PyObject_HEAD
    pmq_queue *q;
    PyObject *owner; /* keeps q allocated; NULL with q */
    Py_ssize_t max_message_size;
    Py_ssize_t max_messages; /* the capacity: what one receive_batch() can take at most */
    int access; /* ACCESS_READ | ACCESS_WRITE: the read= / write= it was opened with */
    int closed; /* _release_handle() took q: calls raise the closed-queue error */
} QueueBase;

#define ACCESS_READ 1
#define ACCESS_WRITE 2

/*
 * The detail of this thread's last libpmq failure, as bytes, through
 * pmq_error_message() (a caller's buffer: on the stack, or on the heap for a
 * detail longer than that; the detail does not change between the calls).
 */
static PyObject *error_detail(void)
{
    char stack[1024];
    char *heap;
    size_t needed = 0;
    PyObject *detail;

    if (pmq_error_message(stack, sizeof stack, &needed) != PMQ_STATUS_BUFFER_TOO_SMALL)
        return PyBytes_FromString(stack);
    heap = PyMem_Malloc(needed + 1);
    if (heap == NULL)
        return PyErr_NoMemory();
    (void)pmq_error_message(heap, needed + 1, &needed);
    detail = PyBytes_FromString(heap);
    PyMem_Free(heap);
    return detail;
}

/*
 * The exception for the pmq call that just failed with `st` (a new
 * reference), or NULL with an exception set (a Python signal handler's
 * exception for PMQ_STATUS_INTERRUPTED wins).
 */
static PyObject *make_error(int st)
{
    PyObject *detail = error_detail();
    int err = pmq_last_error_errno();
    PyObject *exc;

    if (detail == NULL)
        return NULL;
    if (st == PMQ_STATUS_INTERRUPTED && PyErr_CheckSignals() < 0) {
        /* The Python handler raised (KeyboardInterrupt...): that wins. */
        Py_DECREF(detail);
        return NULL;
    }
    if (error_factory == NULL) {
        PyErr_Format(PyExc_RuntimeError, "pmq status %d: %S", st, detail);
        Py_DECREF(detail);
        return NULL;
    }
    exc = PyObject_CallFunction(error_factory, "iiO", st, err, detail);
    Py_DECREF(detail);
    return exc;
}

/* Sets the exception for the pmq call that just failed with `st`. */
static PyObject *fail(int st)
{
    PyObject *exc = make_error(st);

    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/*
 * PermissionsError for a handle opened without the access a call needs.
 * Checked before the priority's range and before the handle's state, in
 * posix_ipc's order: a send through a read-only handle is a PermissionsError
 * even with a bad priority or after close().
 */
static PyObject *not_permitted(const char *detail)
{
    PyObject *exc;

    if (error_factory == NULL) {
        PyErr_SetString(PyExc_RuntimeError, detail);
        return NULL;
    }
    exc = PyObject_CallFunction(error_factory, "iiy", PMQ_STATUS_PERMISSION, 0, detail);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/*
 * The closed-queue error (ExistentialError, PMQ_STATUS_CLOSED) for a call on
 * a handle that close() released: libpmq's own words for a closed handle.
 */
static PyObject *closed_error(void)
{
    PyObject *exc;
    const char *detail = "the handle is closed; open the queue again to use it";

    if (error_factory == NULL) {
        PyErr_SetString(PyExc_RuntimeError, detail);
        return NULL;
    }
    exc = PyObject_CallFunction(error_factory, "iiy", PMQ_STATUS_CLOSED, 0, detail);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* Whether close() released the handle (checked after the arguments and the
 * access, where libpmq would report a closed handle). */
#define RELEASED(self) ((self)->q == NULL && (self)->closed)
/* Whether the handle's access is known: open, or released by close(). */
#define HAS_ACCESS(self) ((self)->q != NULL || (self)->closed)

/* None -> PMQ_FOREVER (posix_ipc's "wait forever"); a number >= 0 -> seconds
 * (above FOREVER: PMQ_FOREVER). Every transfer is a libpmq `_timeout` call. */
static int parse_timeout(PyObject *o, double *out)
{
    double t;

    if (o == NULL || o == Py_None) {
        *out = PMQ_FOREVER;
        return 0;
    }
    if (PyFloat_CheckExact(o)) {
        t = PyFloat_AS_DOUBLE(o);
    } else {
        if (PyUnicode_Check(o) || PyBytes_Check(o) || PyByteArray_Check(o))
            goto not_a_number;
        t = PyFloat_AsDouble(o);
        if (t == -1.0 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
                /*
                 * Beyond a double (10**400, a huge Fraction...): a negative
                 * one is as invalid as any negative timeout; a positive one
                 * waits like None, as every timeout above FOREVER does.
                 * (posix_ipc 1.3.2 raises TypeError for any int of 2**63 or
                 * more, whatever its sign: its C long conversion overflows.)
                 */
                PyObject *zero;
                int negative;

                PyErr_Clear();
                zero = PyLong_FromLong(0);
                if (zero == NULL)
                    return -1;
                negative = PyObject_RichCompareBool(o, zero, Py_LT);
                Py_DECREF(zero);
                if (negative < 0)
                    return -1;
                if (negative) {
                    /* Not %R: the repr of a huge int may itself fail. */
                    PyErr_Format(PyExc_ValueError,
                                 "The timeout must be None or a non-negative number of "
                                 "seconds, not a negative %s too large for a float",
                                 Py_TYPE(o)->tp_name);
                    return -1;
                }
                t = INFINITY;
            } else if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                goto not_a_number;
            } else {
                return -1;
            }
        }
    }
    if (t < 0) {
        PyErr_Format(PyExc_ValueError,
                     "The timeout must be None or a non-negative number of seconds, not %R", o);
        return -1;
    }
    /* NaN is reported by nan_timeout() where posix_ipc meets it: at the
     * system call, after the priority and the handle's access. */
    *out = t > FOREVER ? PMQ_FOREVER : t;
    return 0;

not_a_number:
    PyErr_Format(PyExc_TypeError, "The timeout must be None or a non-negative number, not %s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

/* The ValueError for a NaN timeout (parse_timeout let it through). */
static int nan_timeout(double timeout)
{
    if (!isnan(timeout))
        return 0;
    PyErr_SetString(PyExc_ValueError,
                    "The timeout must be None or a non-negative number of seconds, not nan");
    return -1;
}

/*
 * The end of an argument error: " (message 3 of the batch)" for message
 * `index` of send_batch(), "" for send() (index < 0). buf: WHERE_SIZE bytes.
 */
#define WHERE_SIZE 64
static const char *where(Py_ssize_t index, char *buf)
{
    if (index < 0)
        return "";
    PyOS_snprintf(buf, WHERE_SIZE, " (message %zd of the batch)", index);
    return buf;
}

/*
 * The priority as a C long long: TypeError for a non-integer. Its range is
 * checked later (check_priority), after the handle's access, as posix_ipc
 * does. Beyond a long long it is a ValueError too (posix_ipc raises
 * OverflowError there): one class for every out-of-range priority.
 */
static int parse_priority(PyObject *o, long long *out, Py_ssize_t index)
{
    long long p;
    int overflow = 0;
    PyObject *index_obj;
    char wbuf[WHERE_SIZE];

    if (o == NULL) {
        *out = 0;
        return 0;
    }
    index_obj = PyNumber_Index(o);
    if (index_obj == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "The priority must be an integer, not %s%s",
                         Py_TYPE(o)->tp_name, where(index, wbuf));
        }
        return -1;
    }
    p = PyLong_AsLongLongAndOverflow(index_obj, &overflow);
    Py_DECREF(index_obj);
    if (p == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        /* Not %R: the repr of a huge int may itself fail. */
        PyErr_Format(PyExc_ValueError,
                     "The priority must be a positive number no greater than "
                     "QUEUE_PRIORITY_MAX (%u), not a %s beyond a 64-bit integer%s",
                     (unsigned)pmq_priority_max(), overflow < 0 ? "negative number" : "number",
                     where(index, wbuf));
        return -1;
    }
    *out = p;
    return 0;
}

static int check_priority(long long p, uint32_t *out, Py_ssize_t index)
{
    char wbuf[WHERE_SIZE];

    if (p < 0 || p > (long long)pmq_priority_max()) {
        PyErr_Format(PyExc_ValueError,
                     "The priority must be a positive number no greater than "
                     "QUEUE_PRIORITY_MAX (%u), not %lld%s",
                     (unsigned)pmq_priority_max(), p, where(index, wbuf));
        return -1;
    }
    *out = (uint32_t)p;
    return 0;
}

/*
 * Vectorcall argument parsing (METH_FASTCALL | METH_KEYWORDS): fills out[]
 * (NULL for an absent optional argument) from positional arguments and
 * keywords named as in names[].
 */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames, const char *const *names, Py_ssize_t nnames,
                      Py_ssize_t nrequired, PyObject **out)
{
    Py_ssize_t i, j, nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs > nnames) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", fname,
                     nnames, nargs + nkw);
        return -1;
    }
    for (i = 0; i < nnames; i++)
        out[i] = i < nargs ? args[i] : NULL;
    for (j = 0; j < nkw; j++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, j);
        for (i = 0; i < nnames; i++)
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
                break;
        if (i == nnames) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname,
                         key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + j];
    }
    for (i = 0; i < nrequired; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname,
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* What keeps one message of send() or send_batch() valid while the GIL is released:
 * a reference to its bytes (a bytes object, or a str's UTF-8 encoding), or
 * a buffer view (which also stops a bytearray from being resized). */
typedef struct {
    PyObject *ref;
    Py_buffer view;
    int has_view;
    long long priority;
} batch_hold;

static void release_holds(batch_hold *holds, Py_ssize_t n)
{
    Py_ssize_t i;

    for (i = 0; i < n; i++) {
        if (holds[i].has_view)
            PyBuffer_Release(&holds[i].view);
        else
            Py_XDECREF(holds[i].ref);
    }
}

/*
 * The bytes of a message, as send() takes it: bytes, str (sent as UTF-8) or
 * any C-contiguous buffer. Sets m->data and m->len and keeps in *h what
 * keeps them valid while the GIL is released (release_holds). `index` names
 * the message of a batch in the error (-1: a single send). On failure *h
 * holds nothing.
 */
static int hold_message(PyObject *data, Py_ssize_t index, batch_hold *h, pmq_message *m)
{
    char wbuf[WHERE_SIZE];

    h->ref = NULL;
    h->has_view = 0;
    if (PyBytes_CheckExact(data)) {
        Py_INCREF(data);
        h->ref = data;
        m->data = (const uint8_t *)PyBytes_AS_STRING(data);
        m->len = (size_t)PyBytes_GET_SIZE(data);
    } else if (PyUnicode_Check(data)) {
        h->ref = PyUnicode_AsUTF8String(data);
        if (h->ref == NULL)
            return -1;
        m->data = (const uint8_t *)PyBytes_AS_STRING(h->ref);
        m->len = (size_t)PyBytes_GET_SIZE(h->ref);
    } else if (PyObject_CheckBuffer(data)) {
        if (PyObject_GetBuffer(data, &h->view, PyBUF_C_CONTIGUOUS) < 0)
            return -1;
        h->has_view = 1;
        m->data = h->view.buf;
        m->len = (size_t)h->view.len;
    } else {
        PyErr_Format(PyExc_TypeError,
                     "The message must be bytes, a bytes-like object or str, not %s%s",
                     Py_TYPE(data)->tp_name, where(index, wbuf));
        return -1;
    }
    return 0;
}

static const char *const send_names[] = {"message", "timeout", "priority"};

static PyObject *QueueBase_send(QueueBase *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    PyObject *argv[3];
    PyObject *message, *timeout_obj, *priority_obj;
    PyObject *owner, *result;
    batch_hold hold;
    pmq_message m;
    double timeout;
    long long requested_priority = 0;
    uint32_t priority;
    pmq_queue *q;
    pmq_status st;

    if (parse_args("send", args, nargs, kwnames, send_names, 3, 1, argv) < 0)
        return NULL;
    message = argv[0];
    timeout_obj = argv[1];
    priority_obj = argv[2];
    if (hold_message(message, -1, &hold, &m) < 0)
        return NULL;
    if (parse_timeout(timeout_obj, &timeout) < 0 ||
        parse_priority(priority_obj, &requested_priority, -1) < 0)
        goto error;
    if (HAS_ACCESS(self) && !(self->access & ACCESS_WRITE)) {
        not_permitted("this handle was opened with write=False, so it cannot send; open the "
                      "queue again with write=True");
        goto error;
    }
    if (check_priority(requested_priority, &priority, -1) < 0 || nan_timeout(timeout) < 0)
        goto error;
    if (RELEASED(self)) {
        closed_error();
        goto error;
    }

    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = pmq_queue_send_timeout(q, m.data, m.len, priority, timeout);
    Py_END_ALLOW_THREADS

    release_holds(&hold, 1);
    if (st != PMQ_STATUS_OK) {
        result = fail(st);
    } else {
        result = Py_None;
        Py_INCREF(result);
    }
    /* Last: releasing the owner may free the handle (after fail() read the error). */
    Py_XDECREF(owner);
    return result;

error:
    release_holds(&hold, 1);
    return NULL;
}

static const char *const receive_names[] = {"timeout"};

static PyObject *QueueBase_receive(QueueBase *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    PyObject *timeout_obj, *msg, *prio, *result, *owner;
    char stack[STACK_BUFFER];
    char *buf = stack;
    size_t size = (size_t)self->max_message_size, len = 0;
    uint32_t priority = 0;
    double timeout;
    pmq_queue *q;
    pmq_status st;

    if (parse_args("receive", args, nargs, kwnames, receive_names, 1, 0, &timeout_obj) < 0)
        return NULL;
    if (parse_timeout(timeout_obj, &timeout) < 0)
        return NULL;
    if (HAS_ACCESS(self) && !(self->access & ACCESS_READ))
        return not_permitted("this handle was opened with read=False, so it cannot receive; "
                             "open the queue again with read=True");
    if (nan_timeout(timeout) < 0)
        return NULL;
    if (RELEASED(self))
        return closed_error();
    if (size > sizeof stack) {
        buf = PyMem_RawMalloc(size);
        if (buf == NULL)
            return PyErr_NoMemory();
    } else if (size == 0) {
        size = sizeof stack; /* no handle: libpmq reports it */
    }

    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = pmq_queue_receive_timeout(q, (uint8_t *)buf, size, &len, &priority, timeout);
    Py_END_ALLOW_THREADS

    if (st != PMQ_STATUS_OK) {
        if (buf != stack)
            PyMem_RawFree(buf);
        result = fail(st);
        /* Last: releasing the owner may free the handle (after fail() read the error). */
        Py_XDECREF(owner);
        return result;
    }
    Py_XDECREF(owner);
    msg = PyBytes_FromStringAndSize(buf, (Py_ssize_t)len);
    if (buf != stack)
        PyMem_RawFree(buf);
    if (msg == NULL)
        return NULL;
    prio = PyLong_FromUnsignedLong(priority);
    if (prio == NULL) {
        Py_DECREF(msg);
        return NULL;
    }
    result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(msg);
        Py_DECREF(prio);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, msg);
    PyTuple_SET_ITEM(result, 1, prio);
    return result;
}

/* ------------------------------------------------------------- batches */

/* Batches of up to this many messages keep their arrays on the stack. */
#define STACK_BATCH 32
/* receive_batch() receives into at most this many bytes (or one
 * max_message_size, if that is larger), whatever max_messages asks. */
#define BATCH_BUFFER_MAX (1024 * 1024)

/*
 * Message `index` of a batch: bytes-like or str (as send() takes it), or a
 * (message, priority) tuple. Fills *m (but its priority: the range is
 * checked later, as send() does) and *h. On failure *h holds nothing.
 */
static int batch_item(PyObject *item, Py_ssize_t index, pmq_message *m, batch_hold *h)
{
    PyObject *data = item, *prio = NULL;
    char wbuf[WHERE_SIZE];

    h->ref = NULL;
    h->has_view = 0;
    h->priority = 0;
    if (PyTuple_Check(item)) {
        if (PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "A message of a batch is a message or a (message, priority) tuple, "
                         "not a tuple of %zd items%s",
                         PyTuple_GET_SIZE(item), where(index, wbuf));
            return -1;
        }
        data = PyTuple_GET_ITEM(item, 0);
        prio = PyTuple_GET_ITEM(item, 1);
    }
    if (hold_message(data, index, h, m) < 0)
        return -1;
    if (m->len == 0)
        m->data = NULL;
    m->priority = 0;
    if (parse_priority(prio, &h->priority, index) < 0) {
        release_holds(h, 1);
        h->ref = NULL;
        h->has_view = 0;
        return -1;
    }
    return 0;
}

static const char *const send_batch_names[] = {"messages", "timeout"};

static PyObject *QueueBase_send_batch(QueueBase *self, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames)
{
    PyObject *argv[2];
    PyObject *messages, *seq = NULL, *owner, *result = NULL;
    pmq_message stack_msgs[STACK_BATCH];
    batch_hold stack_holds[STACK_BATCH];
    pmq_message *msgs = stack_msgs;
    batch_hold *holds = stack_holds;
    Py_ssize_t n, i, held = 0;
    size_t sent = 0;
    double timeout;
    pmq_queue *q;
    pmq_status st;

    if (parse_args("send_batch", args, nargs, kwnames, send_batch_names, 2, 1, argv) < 0)
        return NULL;
    messages = argv[0];
    /* A str or bytes is one message, not a sequence of one-character ones. */
    if (PyUnicode_Check(messages) || PyObject_CheckBuffer(messages))
        return PyErr_Format(PyExc_TypeError,
                            "send_batch() takes a sequence of messages, not a single %s; "
                            "use send() or pass [message]",
                            Py_TYPE(messages)->tp_name);
    seq = PySequence_Fast(messages, "send_batch() takes a sequence of messages (a list or "
                                    "tuple of bytes or (bytes, priority))");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > STACK_BATCH) {
        msgs = PyMem_New(pmq_message, (size_t)n);
        holds = PyMem_New(batch_hold, (size_t)n);
        if (msgs == NULL || holds == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    /* Each item's reference is taken in batch_item: a list changed by
     * another thread while the GIL is released cannot free a message. */
    for (i = 0; i < n; i++) {
        if (batch_item(PySequence_Fast_GET_ITEM(seq, i), i, &msgs[i], &holds[i]) < 0)
            goto done;
        held++;
    }
    if (parse_timeout(argv[1], &timeout) < 0)
        goto done;
    if (HAS_ACCESS(self) && !(self->access & ACCESS_WRITE)) {
        not_permitted("this handle was opened with write=False, so it cannot send; open the "
                      "queue again with write=True");
        goto done;
    }
    for (i = 0; i < n; i++)
        if (check_priority(holds[i].priority, &msgs[i].priority, i) < 0)
            goto done;
    if (nan_timeout(timeout) < 0)
        goto done;
    if (RELEASED(self)) {
        closed_error();
        goto done;
    }

    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = pmq_queue_send_batch_timeout(q, msgs, (size_t)n, &sent, timeout);
    Py_END_ALLOW_THREADS

    if (st != PMQ_STATUS_OK)
        result = fail(st);
    else
        result = PyLong_FromSize_t(sent);
    /* After fail() read the error: releasing the owner may free the handle. */
    Py_XDECREF(owner);

done:
    release_holds(holds, held);
    if (msgs != stack_msgs)
        PyMem_Free(msgs);
    if (holds != stack_holds)
        PyMem_Free(holds);
    Py_DECREF(seq);
    return result;
}

/* max_messages for receive_batch(): an integer >= 0 (TypeError, ValueError);
 * beyond a Py_ssize_t it is PY_SSIZE_T_MAX (clamped to the capacity anyway). */
static int parse_max_messages(PyObject *o, Py_ssize_t *out)
{
    PyObject *index;
    long long v;
    int overflow = 0;

    index = PyNumber_Index(o);
    if (index == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "max_messages must be an integer, not %s",
                         Py_TYPE(o)->tp_name);
        }
        return -1;
    }
    v = PyLong_AsLongLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (!overflow && v < 0)) {
        PyErr_Format(PyExc_ValueError, "max_messages must be 0 or more, not %R", o);
        return -1;
    }
    *out = overflow || v > PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)v;
    return 0;
}

/*
 * The buffer of a batch receive or lease of up to *max messages: *buf_len
 * bytes, and *max cut to what can come at once (the capacity; 1 without a
 * handle, whose call libpmq then refuses).
 */
static void batch_room(const QueueBase *self, Py_ssize_t *max, size_t *buf_len)
{
    size_t size = (size_t)self->max_message_size;

    /* More than the queue holds cannot come at once. */
    if (self->max_messages > 0 && *max > self->max_messages)
        *max = self->max_messages;
    if (size == 0) {
        *buf_len = STACK_BUFFER; /* no handle: libpmq reports it */
        if (*max > 1)
            *max = 1;
    } else {
        /* Room for `max` messages of max_message_size (what the kernel
         * backend needs per message), within BATCH_BUFFER_MAX. */
        size_t room = size >= BATCH_BUFFER_MAX ? size : BATCH_BUFFER_MAX;
        *buf_len = (size_t)*max > room / size ? room / size * size : (size_t)*max * size;
        if (*buf_len < size)
            *buf_len = size;
        /* Capacity unknown (never set by _set_handle): what fits in buf. */
        if (self->max_messages <= 0 && (size_t)*max > *buf_len / size)
            *max = (Py_ssize_t)(*buf_len / size);
    }
}

/* The buffers of a batch call: `*buf` (buf_len bytes; `stack`, of
 * STACK_BUFFER bytes, when it is big enough) and `*out` (max elements of
 * `elem` bytes; the caller's array of STACK_BATCH, passed in `*out`, when it
 * is big enough), else allocated: the caller frees what is not its own. -1
 * with MemoryError set (nothing left allocated). */
static int batch_buffers(size_t buf_len, Py_ssize_t max, size_t elem, char *stack, char **buf,
                         void **out)
{
    *buf = stack;
    if (buf_len > STACK_BUFFER) {
        *buf = PyMem_RawMalloc(buf_len);
        if (*buf == NULL) {
            *buf = stack;
            PyErr_NoMemory();
            return -1;
        }
    }
    if (max > STACK_BATCH) {
        void *o = (size_t)max > PY_SSIZE_T_MAX / elem ? NULL : PyMem_RawMalloc((size_t)max * elem);
        if (o == NULL) {
            if (*buf != stack)
                PyMem_RawFree(*buf);
            *buf = stack;
            PyErr_NoMemory();
            return -1;
        }
        *out = o;
    }
    return 0;
}

/* Frees what batch_buffers allocated (not the caller's stack arrays). */
static void batch_free(char *buf, const char *stack, void *out, const void *stack_out)
{
    if (buf != stack)
        PyMem_RawFree(buf);
    if (out != stack_out)
        PyMem_RawFree(out);
}

static const char *const receive_batch_names[] = {"max_messages", "timeout"};

static PyObject *QueueBase_receive_batch(QueueBase *self, PyObject *const *args,
                                         Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *argv[2];
    PyObject *owner, *list, *result;
    char stack[STACK_BUFFER];
    char *buf = stack;
    pmq_received stack_out[STACK_BATCH];
    pmq_received *out = stack_out;
    Py_ssize_t max, i;
    size_t buf_len, count = 0;
    double timeout;
    pmq_queue *q;
    pmq_status st;

    if (parse_args("receive_batch", args, nargs, kwnames, receive_batch_names, 2, 1, argv) < 0)
        return NULL;
    if (parse_max_messages(argv[0], &max) < 0 || parse_timeout(argv[1], &timeout) < 0)
        return NULL;
    if (HAS_ACCESS(self) && !(self->access & ACCESS_READ))
        return not_permitted("this handle was opened with read=False, so it cannot receive; "
                             "open the queue again with read=True");
    if (nan_timeout(timeout) < 0)
        return NULL;
    if (RELEASED(self))
        return closed_error();
    batch_room(self, &max, &buf_len);
    {
        void *o = stack_out;
        if (batch_buffers(buf_len, max, sizeof *out, stack, &buf, &o) < 0)
            return NULL;
        out = o;
    }

    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = pmq_queue_receive_batch_timeout(q, (uint8_t *)buf, buf_len, out, (size_t)max, &count,
                                         timeout);
    Py_END_ALLOW_THREADS

    if (st != PMQ_STATUS_OK) {
        result = fail(st);
        /* Last: releasing the owner may free the handle (after fail() read the error). */
        Py_XDECREF(owner);
        goto done;
    }
    Py_XDECREF(owner);
    result = list = PyList_New((Py_ssize_t)count);
    if (list == NULL)
        goto done;
    for (i = 0; i < (Py_ssize_t)count; i++) {
        PyObject *msg, *prio, *pair;

        msg = PyBytes_FromStringAndSize(buf + out[i].offset, (Py_ssize_t)out[i].len);
        prio = msg ? PyLong_FromUnsignedLong(out[i].priority) : NULL;
        pair = prio ? PyTuple_New(2) : NULL;
        if (pair == NULL) {
            Py_XDECREF(msg);
            Py_XDECREF(prio);
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(pair, 0, msg);
        PyTuple_SET_ITEM(pair, 1, prio);
        PyList_SET_ITEM(list, i, pair);
    }

done:
    batch_free(buf, stack, out, stack_out);
    return result;
}

/* ------------------------------------------------------------- leases */

/*
 * Leases (at-least-once receive, "shm" backend only): lease() and
 * lease_batch() hand messages out under a pmq_lease, returned as a Lease (a
 * struct sequence: a tuple (seq, delivery, slot) with those names); ack(),
 * nack() and ack_batch() take Leases back (any 3-tuple of those ints).
 */
static PyTypeObject Lease_Type;
static PyStructSequence_Field lease_fields[] = {
    {"seq", "the message's sequence number: unique in the queue's life, the same on "
            "every delivery (with instance_id(), a de-duplication id)"},
    {"delivery", "which delivery of the message this is: 1 the first time"},
    {"slot", "where the message lies in the queue (checked by ack and nack)"},
    {NULL, NULL},
};
static PyStructSequence_Desc lease_desc = {
    "pmq.Lease",
    "A lease on one message (MessageQueue.lease()): pass it to ack() or nack().\n"
    "A tuple (seq, delivery, slot).",
    lease_fields,
    3,
};

static PyObject *lease_out(const pmq_lease *l)
{
    PyObject *o = PyStructSequence_New(&Lease_Type);
    PyObject *seq, *delivery, *slot;

    if (o == NULL)
        return NULL;
    seq = PyLong_FromUnsignedLongLong(l->seq);
    delivery = seq ? PyLong_FromUnsignedLong(l->delivery) : NULL;
    slot = delivery ? PyLong_FromUnsignedLong(l->slot) : NULL;
    if (slot == NULL) {
        Py_XDECREF(seq);
        Py_XDECREF(delivery);
        Py_DECREF(o);
        return NULL;
    }
    PyStructSequence_SET_ITEM(o, 0, seq);
    PyStructSequence_SET_ITEM(o, 1, delivery);
    PyStructSequence_SET_ITEM(o, 2, slot);
    return o;
}

/* One lease argument: a Lease, or any 3-tuple (seq, delivery, slot) of ints. */
static int lease_in(PyObject *o, pmq_lease *out, Py_ssize_t index)
{
    unsigned long long seq;
    unsigned long delivery, slot;
    char wbuf[WHERE_SIZE];

    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 3) {
        PyErr_Format(PyExc_TypeError,
                     "a lease must be the Lease that lease() returned (seq, delivery, slot), "
                     "not %s%s",
                     Py_TYPE(o)->tp_name, where(index, wbuf));
        return -1;
    }
    seq = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(o, 0));
    if (seq == (unsigned long long)-1 && PyErr_Occurred())
        goto bad;
    delivery = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 1));
    if (delivery == (unsigned long)-1 && PyErr_Occurred())
        goto bad;
    slot = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 2));
    if (slot == (unsigned long)-1 && PyErr_Occurred())
        goto bad;
    if (delivery > UINT32_MAX || slot > UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "a lease's delivery and slot are 32-bit; pass the Lease "
                                       "that lease() returned%s",
                     where(index, wbuf));
        return -1;
    }
    out->seq = seq;
    out->delivery = (uint32_t)delivery;
    out->slot = (uint32_t)slot;
    return 0;

bad:
    if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_OverflowError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "a lease's fields must be non-negative ints; pass the Lease that lease() "
                     "returned%s",
                     where(index, wbuf));
    }
    return -1;
}

/* visibility: None (or inf) -> 0, the C ABI's "no visibility timeout"; a
 * positive number -> seconds. 0, negative and NaN are ValueError. */
static int parse_visibility(PyObject *o, double *out)
{
    double v;

    if (o == NULL || o == Py_None) {
        *out = 0;
        return 0;
    }
    if (PyUnicode_Check(o) || PyBytes_Check(o) || PyByteArray_Check(o))
        goto not_a_number;
    v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            goto not_a_number;
        }
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        /* Beyond a double: as long as forever, or hugely negative. */
        PyErr_Clear();
        v = PyObject_RichCompareBool(o, Py_False, Py_GT) == 1 ? INFINITY : -INFINITY;
        if (PyErr_Occurred())
            return -1;
    }
    if (!(v > 0)) {
        PyErr_Format(PyExc_ValueError,
                     "visibility must be None (the lease lasts until ack, nack or the holder's "
                     "end) or a positive number of seconds after which an unacked message goes "
                     "back to the queue, not %R",
                     o);
        return -1;
    }
    *out = isinf(v) ? 0 : v;
    return 0;

not_a_number:
    PyErr_Format(PyExc_TypeError,
                 "visibility must be None or a positive number of seconds, not %s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

/* The arguments every lease call checks, in receive()'s order. */
static int lease_prologue(QueueBase *self, PyObject *timeout_obj, PyObject *visibility_obj,
                          double *timeout, double *visibility)
{
    if (parse_timeout(timeout_obj, timeout) < 0 || parse_visibility(visibility_obj, visibility) < 0)
        return -1;
    if (HAS_ACCESS(self) && !(self->access & ACCESS_READ)) {
        not_permitted("this handle was opened with read=False, so it cannot lease; "
                      "open the queue again with read=True");
        return -1;
    }
    if (nan_timeout(*timeout) < 0)
        return -1;
    if (RELEASED(self)) {
        closed_error();
        return -1;
    }
    return 0;
}

static const char *const lease_names[] = {"timeout", "visibility"};

static PyObject *QueueBase_lease(QueueBase *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    PyObject *argv[2];
    PyObject *owner, *msg, *prio, *lease, *result;
    char stack[STACK_BUFFER];
    char *buf = stack;
    size_t size = (size_t)self->max_message_size, len = 0;
    uint32_t priority = 0;
    double timeout, visibility;
    pmq_lease l;
    pmq_queue *q;
    pmq_status st;

    if (parse_args("lease", args, nargs, kwnames, lease_names, 2, 0, argv) < 0)
        return NULL;
    if (lease_prologue(self, argv[0], argv[1], &timeout, &visibility) < 0)
        return NULL;
    if (size > sizeof stack) {
        buf = PyMem_RawMalloc(size);
        if (buf == NULL)
            return PyErr_NoMemory();
    } else if (size == 0) {
        size = sizeof stack; /* no handle: libpmq reports it */
    }

    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = pmq_queue_lease_timeout(q, (uint8_t *)buf, size, &len, &priority, &l, visibility,
                                 timeout);
    Py_END_ALLOW_THREADS

    if (st != PMQ_STATUS_OK) {
        if (buf != stack)
            PyMem_RawFree(buf);
        result = fail(st);
        Py_XDECREF(owner);
        return result;
    }
    Py_XDECREF(owner);
    msg = PyBytes_FromStringAndSize(buf, (Py_ssize_t)len);
    if (buf != stack)
        PyMem_RawFree(buf);
    prio = msg ? PyLong_FromUnsignedLong(priority) : NULL;
    lease = prio ? lease_out(&l) : NULL;
    result = lease ? PyTuple_New(3) : NULL;
    if (result == NULL) {
        Py_XDECREF(msg);
        Py_XDECREF(prio);
        Py_XDECREF(lease);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, msg);
    PyTuple_SET_ITEM(result, 1, prio);
    PyTuple_SET_ITEM(result, 2, lease);
    return result;
}

static const char *const lease_batch_names[] = {"max_messages", "timeout", "visibility"};

static PyObject *QueueBase_lease_batch(QueueBase *self, PyObject *const *args,
                                       Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *argv[3];
    PyObject *owner, *list, *result;
    char stack[STACK_BUFFER];
    char *buf = stack;
    pmq_leased stack_out[STACK_BATCH];
    pmq_leased *out = stack_out;
    Py_ssize_t max, i;
    size_t buf_len, count = 0;
    double timeout, visibility;
    pmq_queue *q;
    pmq_status st;

    if (parse_args("lease_batch", args, nargs, kwnames, lease_batch_names, 3, 1, argv) < 0)
        return NULL;
    if (parse_max_messages(argv[0], &max) < 0)
        return NULL;
    if (lease_prologue(self, argv[1], argv[2], &timeout, &visibility) < 0)
        return NULL;
    batch_room(self, &max, &buf_len);
    {
        void *o = stack_out;
        if (batch_buffers(buf_len, max, sizeof *out, stack, &buf, &o) < 0)
            return NULL;
        out = o;
    }

    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = pmq_queue_lease_batch_timeout(q, (uint8_t *)buf, buf_len, out, (size_t)max, &count,
                                       visibility, timeout);
    Py_END_ALLOW_THREADS

    if (st != PMQ_STATUS_OK) {
        result = fail(st);
        Py_XDECREF(owner);
        goto done;
    }
    Py_XDECREF(owner);
    result = list = PyList_New((Py_ssize_t)count);
    if (list == NULL)
        goto done;
    for (i = 0; i < (Py_ssize_t)count; i++) {
        PyObject *msg, *prio, *lease, *item;

        msg = PyBytes_FromStringAndSize(buf + out[i].offset, (Py_ssize_t)out[i].len);
        prio = msg ? PyLong_FromUnsignedLong(out[i].priority) : NULL;
        lease = prio ? lease_out(&out[i].lease) : NULL;
        item = lease ? PyTuple_New(3) : NULL;
        if (item == NULL) {
            Py_XDECREF(msg);
            Py_XDECREF(prio);
            Py_XDECREF(lease);
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(item, 0, msg);
        PyTuple_SET_ITEM(item, 1, prio);
        PyTuple_SET_ITEM(item, 2, lease);
        PyList_SET_ITEM(list, i, item);
    }

done:
    batch_free(buf, stack, out, stack_out);
    return result;
}

/* ack(lease) / nack(lease): one pmq call each, the GIL released. */
static PyObject *lease_call(QueueBase *self, PyObject *arg,
                            pmq_status (*call)(const pmq_queue *, const pmq_lease *))
{
    PyObject *owner;
    pmq_lease l;
    pmq_queue *q;
    pmq_status st;

    if (lease_in(arg, &l, -1) < 0)
        return NULL;
    if (RELEASED(self))
        return closed_error();
    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = call(q, &l);
    Py_END_ALLOW_THREADS
    if (st != PMQ_STATUS_OK) {
        PyObject *r = fail(st);
        Py_XDECREF(owner);
        return r;
    }
    Py_XDECREF(owner);
    Py_RETURN_NONE;
}

static PyObject *QueueBase_ack(QueueBase *self, PyObject *arg)
{
    return lease_call(self, arg, pmq_queue_ack);
}

static PyObject *QueueBase_nack(QueueBase *self, PyObject *arg)
{
    return lease_call(self, arg, pmq_queue_nack);
}

/* ack_batch(leases) -> how many; a failure's exception carries `acked`. */
static PyObject *QueueBase_ack_batch(QueueBase *self, PyObject *arg)
{
    PyObject *seq, *owner, *result = NULL;
    pmq_lease stack_leases[STACK_BATCH];
    pmq_lease *leases = stack_leases;
    Py_ssize_t n, i;
    size_t acked = 0;
    pmq_queue *q;
    pmq_status st;

    seq = PySequence_Fast(arg, "ack_batch() takes a sequence of Leases");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > STACK_BATCH) {
        leases = (size_t)n > PY_SSIZE_T_MAX / sizeof *leases
                     ? NULL
                     : PyMem_RawMalloc((size_t)n * sizeof *leases);
        if (leases == NULL) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
    }
    for (i = 0; i < n; i++)
        if (lease_in(PySequence_Fast_GET_ITEM(seq, i), &leases[i], i) < 0)
            goto done;
    if (RELEASED(self)) {
        closed_error();
        goto done;
    }
    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    st = pmq_queue_ack_batch(q, leases, (size_t)n, &acked);
    Py_END_ALLOW_THREADS
    if (st != PMQ_STATUS_OK) {
        PyObject *exc = make_error(st);
        Py_XDECREF(owner);
        if (exc != NULL) {
            PyObject *a = PyLong_FromSize_t(acked);
            if (a == NULL || PyObject_SetAttrString(exc, "acked", a) < 0) {
                Py_XDECREF(a);
                Py_DECREF(exc);
                goto done;
            }
            Py_DECREF(a);
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        goto done;
    }
    Py_XDECREF(owner);
    result = PyLong_FromSize_t(acked);

done:
    Py_DECREF(seq);
    if (leases != stack_leases)
        PyMem_RawFree(leases);
    return result;
}

/* ------------------------------------------------------------- the handle */

/*
 * pmq._pmq.Handle: owns one pmq_queue (pmq_queue_open() to
 * pmq_queue_free()). Only this module makes one (open()) and only its
 * deallocation frees the queue, so the pointer never reaches Python. A call
 * holds a reference to the Handle while it uses the pointer (QueueBase's
 * owner), so a handle replaced or closed meanwhile is freed only after the
 * call (libpmq: pmq_queue_free() must not race with another call).
 * Every call that may wait releases the GIL (a notification callback that
 * runs meanwhile needs it).
 */
typedef struct {
    PyObject_HEAD
    pmq_queue *q;
    PyObject *weakrefs; /* a test watches when the handle goes */
} Handle;

static PyTypeObject Handle_Type;

/* The status of `expr`, run with the GIL released. */
#define NOGIL(st, expr)                                                                        \
    do {                                                                                       \
        PyThreadState *save_ = PyEval_SaveThread();                                            \
        (st) = (expr);                                                                         \
        PyEval_RestoreThread(save_);                                                           \
    } while (0)

/* Runs `expr` without the GIL; on failure returns the exception (fail()). */
#define CALL_OR_FAIL(expr)                                                                     \
    do {                                                                                       \
        pmq_status st_;                                                                        \
        NOGIL(st_, expr);                                                                      \
        if (st_ != PMQ_STATUS_OK)                                                              \
            return fail(st_);                                                                  \
    } while (0)

static void Handle_dealloc(Handle *self)
{
    pmq_queue *q = self->q;

    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    self->q = NULL;
    if (q != NULL) {
        /* Closes the descriptors (and a shm queue's mapping and opener
         * record) and cancels this handle's notification, waiting for a
         * running callback, which needs the GIL. */
        Py_BEGIN_ALLOW_THREADS
        pmq_queue_free(q);
        Py_END_ALLOW_THREADS
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Handle_close(Handle *self, PyObject *Py_UNUSED(ignored))
{
    CALL_OR_FAIL(pmq_queue_close(self->q));
    Py_RETURN_NONE;
}

static PyObject *Handle_unlink(Handle *self, PyObject *Py_UNUSED(ignored))
{
    CALL_OR_FAIL(pmq_queue_unlink(self->q));
    Py_RETURN_NONE;
}

static PyObject *Handle_fileno(Handle *self, PyObject *Py_UNUSED(ignored))
{
    int fd = -1;

    CALL_OR_FAIL(pmq_queue_fileno(self->q, &fd));
    return PyLong_FromLong(fd);
}

static PyObject *Handle_get_block(Handle *self, PyObject *Py_UNUSED(ignored))
{
    bool block = false;

    CALL_OR_FAIL(pmq_queue_get_block(self->q, &block));
    return PyBool_FromLong(block);
}

static PyObject *Handle_set_block(Handle *self, PyObject *value)
{
    int block = PyObject_IsTrue(value);

    if (block < 0)
        return NULL;
    CALL_OR_FAIL(pmq_queue_set_block(self->q, block != 0));
    Py_RETURN_NONE;
}

static PyObject *Handle_current_messages(Handle *self, PyObject *Py_UNUSED(ignored))
{
    int64_t n = 0;

    CALL_OR_FAIL(pmq_queue_current_messages(self->q, &n));
    return PyLong_FromLongLong(n);
}

/* (max_messages, max_message_size) of the open queue. */
static PyObject *Handle_attributes(Handle *self, PyObject *Py_UNUSED(ignored))
{
    struct pmq_attributes a;

    CALL_OR_FAIL(pmq_queue_get_attributes(self->q, &a));
    return Py_BuildValue("(LL)", (long long)a.max_messages, (long long)a.max_message_size);
}

/* The queue's name as str (undecodable bytes as surrogates, like os.fsdecode). */
static PyObject *Handle_name(Handle *self, PyObject *Py_UNUSED(ignored))
{
    const char *name = pmq_queue_name(self->q);

    if (name == NULL)
        return closed_error();
    return PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "surrogateescape");
}

/* describe(style) -> str: pmq_queue_describe() into a buffer of the size it asks. */
static PyObject *Handle_describe(Handle *self, PyObject *arg)
{
    int style = (int)PyLong_AsLong(arg);
    char stack[256];
    char *buf = stack;
    size_t size = sizeof stack, needed = 0;
    PyObject *result = NULL;
    pmq_status st;

    if (style == -1 && PyErr_Occurred())
        return NULL;
    for (;;) {
        NOGIL(st, pmq_queue_describe(self->q, style, buf, size, &needed));
        if (st == PMQ_STATUS_OK) {
            result = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
            break;
        }
        if (st != PMQ_STATUS_BUFFER_TOO_SMALL || needed <= size) {
            result = fail(st);
            break;
        }
        if (buf != stack)
            PyMem_Free(buf);
        size = needed;
        buf = PyMem_Malloc(size);
        if (buf == NULL)
            return PyErr_NoMemory();
    }
    if (buf != stack)
        PyMem_Free(buf);
    return result;
}

/* dead_receipts() -> [(seq, length, priority, pid, taken, queued, head)]. */
static PyObject *Handle_dead_receipts(Handle *self, PyObject *Py_UNUSED(ignored))
{
    pmq_receipt *out = NULL;
    size_t cap = 4, count = 0, i;
    PyObject *list = NULL;
    pmq_status st;

    for (;;) {
        PyMem_Free(out);
        out = PyMem_New(pmq_receipt, cap);
        if (out == NULL)
            return PyErr_NoMemory();
        NOGIL(st, pmq_queue_dead_receipts(self->q, out, cap, &count));
        if (st == PMQ_STATUS_BUFFER_TOO_SMALL && count + 4 > cap) {
            cap = count + 4; /* more may die before the next call */
            continue;
        }
        break;
    }
    if (st != PMQ_STATUS_OK) {
        PyMem_Free(out);
        return fail(st);
    }
    list = PyList_New((Py_ssize_t)count);
    for (i = 0; list != NULL && i < count; i++) {
        const pmq_receipt *r = &out[i];
        PyObject *item = Py_BuildValue(
            "(KIIINNy#)", (unsigned long long)r->seq, (unsigned)r->len, (unsigned)r->priority,
            (unsigned)r->pid, PyBool_FromLong(r->taken), PyBool_FromLong(r->queued),
            (const char *)r->head, (Py_ssize_t)(r->len < 16 ? r->len : 16));
        if (item == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    PyMem_Free(out);
    return list;
}

/* lease_stats() -> (leased, oldest age in seconds: 0.0 when none). */
static PyObject *Handle_lease_stats(Handle *self, PyObject *Py_UNUSED(ignored))
{
    uint64_t leased = 0;
    double age = 0;

    CALL_OR_FAIL(pmq_queue_lease_stats(self->q, &leased, &age));
    return Py_BuildValue("Kd", (unsigned long long)leased, age);
}

static PyObject *Handle_instance_id(Handle *self, PyObject *Py_UNUSED(ignored))
{
    uint64_t id = 0;

    CALL_OR_FAIL(pmq_queue_instance_id(self->q, &id));
    return PyLong_FromUnsignedLongLong(id);
}

static PyObject *Handle_notify_signal(Handle *self, PyObject *arg)
{
    int signo = (int)PyLong_AsLong(arg);

    if (signo == -1 && PyErr_Occurred())
        return NULL;
    CALL_OR_FAIL(pmq_queue_notify_signal(self->q, signo));
    Py_RETURN_NONE;
}

static void notify_trampoline(void *param);
static void notify_drop(void *param);

/* Callback registrations libpmq accepted, and drops it made (both counted
 * with the GIL held): tests check that they move in step. */
static unsigned long long notify_registered, notify_dropped;

/*
 * notify_callback(ctx): registers the trampoline with `ctx` (any object,
 * handed to the dispatcher on delivery) as its param. libpmq owns one
 * reference to ctx from here on and gives it back exactly once, through
 * notify_drop(), when the registration can no longer fire (delivered,
 * replaced, cancelled, closed, freed); if the call fails, libpmq never had
 * it and the reference is released here.
 */
static PyObject *Handle_notify_callback(Handle *self, PyObject *ctx)
{
    pmq_status st;

    Py_INCREF(ctx);
    NOGIL(st, pmq_queue_notify_callback(self->q, notify_trampoline, ctx, notify_drop));
    if (st != PMQ_STATUS_OK) {
        PyObject *result = fail(st);
        Py_DECREF(ctx);
        return result;
    }
    notify_registered++;
    Py_RETURN_NONE;
}

static PyObject *Handle_notify_cancel(Handle *self, PyObject *Py_UNUSED(ignored))
{
    CALL_OR_FAIL(pmq_queue_notify_cancel(self->q));
    Py_RETURN_NONE;
}

static PyMethodDef Handle_methods[] = {
    {"close", (PyCFunction)Handle_close, METH_NOARGS, NULL},
    {"unlink", (PyCFunction)Handle_unlink, METH_NOARGS, NULL},
    {"fileno", (PyCFunction)Handle_fileno, METH_NOARGS, NULL},
    {"get_block", (PyCFunction)Handle_get_block, METH_NOARGS, NULL},
    {"set_block", (PyCFunction)Handle_set_block, METH_O, NULL},
    {"current_messages", (PyCFunction)Handle_current_messages, METH_NOARGS, NULL},
    {"attributes", (PyCFunction)Handle_attributes, METH_NOARGS, NULL},
    {"name", (PyCFunction)Handle_name, METH_NOARGS, NULL},
    {"describe", (PyCFunction)Handle_describe, METH_O, NULL},
    {"dead_receipts", (PyCFunction)Handle_dead_receipts, METH_NOARGS, NULL},
    {"lease_stats", (PyCFunction)Handle_lease_stats, METH_NOARGS, NULL},
    {"instance_id", (PyCFunction)Handle_instance_id, METH_NOARGS, NULL},
    {"notify_signal", (PyCFunction)Handle_notify_signal, METH_O, NULL},
    {"notify_callback", (PyCFunction)Handle_notify_callback, METH_O, NULL},
    {"notify_cancel", (PyCFunction)Handle_notify_cancel, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Handle_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pmq._pmq.Handle",
    .tp_basicsize = sizeof(Handle),
    .tp_dealloc = (destructor)Handle_dealloc,
    .tp_weaklistoffset = offsetof(Handle, weakrefs),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An open libpmq queue handle (made by pmq._pmq.open(), freed with it).",
    .tp_methods = Handle_methods,
};

/*
 * open(name: bytes | None, flags, mode, max_messages, max_message_size,
 *      read, write, backend) -> Handle. The arguments' ranges are checked by
 * pmq (MessageQueue.__init__); libpmq checks the rest.
 */
static PyObject *module_open(PyObject *module, PyObject *args)
{
    PyObject *name_obj, *dead_letter = Py_None;
    const char *name = NULL;
    int flags, read, write;
    unsigned int mode, backend, max_deliveries = 0;
    long long max_messages, max_message_size;
    struct pmq_options o;
    pmq_queue *q = NULL;
    pmq_status st;
    Handle *h;

    (void)module;
    if (!PyArg_ParseTuple(args, "OiILLppI|IO:open", &name_obj, &flags, &mode, &max_messages,
                          &max_message_size, &read, &write, &backend, &max_deliveries,
                          &dead_letter))
        return NULL;
    if (dead_letter != Py_None && !PyBytes_Check(dead_letter)) {
        PyErr_SetString(PyExc_TypeError, "open: dead_letter must be bytes or None");
        return NULL;
    }
    if (name_obj != Py_None) {
        if (!PyBytes_Check(name_obj)) {
            PyErr_SetString(PyExc_TypeError, "open: the name must be bytes or None");
            return NULL;
        }
        name = PyBytes_AS_STRING(name_obj);
    }
    h = PyObject_New(Handle, &Handle_Type);
    if (h == NULL)
        return NULL;
    h->q = NULL;
    h->weakrefs = NULL;
    st = pmq_options_init(&o);
    if (st != PMQ_STATUS_OK) {
        Py_DECREF(h);
        return fail(st);
    }
    o.flags = flags;
    o.mode = mode;
    o.max_messages = max_messages;
    o.max_message_size = max_message_size;
    o.read = read != 0;
    o.write = write != 0;
    o.block = true;
    o.retry_on_interrupt = false;
    o.backend = backend;
    o.max_deliveries = max_deliveries;
    o.dead_letter = dead_letter == Py_None ? NULL : PyBytes_AS_STRING(dead_letter);
    /* name_obj and dead_letter (bytes objects, immutable) outlive the call:
     * args holds them. */
    NOGIL(st, pmq_queue_open(name, &o, &q));
    if (st != PMQ_STATUS_OK) {
        Py_DECREF(h);
        return fail(st);
    }
    h->q = q;
    return (PyObject *)h;
}

/* unlink(name: bytes, backend): the kernel's through pmq_unlink(), as before. */
static PyObject *module_unlink(PyObject *module, PyObject *args)
{
    const char *name;
    unsigned int backend;

    (void)module;
    if (!PyArg_ParseTuple(args, "yI:unlink", &name, &backend))
        return NULL;
    if (backend == PMQ_BACKEND_KERNEL)
        CALL_OR_FAIL(pmq_unlink(name));
    else
        CALL_OR_FAIL(pmq_unlink_backend(name, backend));
    Py_RETURN_NONE;
}

/* -------------------------------------------------------- notifications */

static PyObject *notify_dispatch; /* callable(ctx) -> None | (function, exception) */

static int interpreter_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/*
 * What libpmq runs on its notification thread: takes the GIL (the thread is
 * not Python's) and calls the dispatcher (pmq._notify_dispatch) with the
 * registration's ctx; it runs the callback. An exception the callback
 * raised comes back as (function, exception), reported here through
 * sys.unraisablehook with the callback as its object, never lost.
 */
static void notify_trampoline(void *param)
{
    PyGILState_STATE gil;
    PyObject *failed;

    /* No callback may enter a finalizing interpreter (pmq cancels them at
     * exit; this is for a delivery already under way then). */
    if (interpreter_finalizing())
        return;
    gil = PyGILState_Ensure();
    if (notify_dispatch != NULL) {
        failed = PyObject_CallFunctionObjArgs(notify_dispatch, (PyObject *)param, NULL);
        if (failed == NULL) {
            PyErr_WriteUnraisable(notify_dispatch);
        } else if (PyTuple_Check(failed) && PyTuple_GET_SIZE(failed) == 2 &&
                   PyExceptionInstance_Check(PyTuple_GET_ITEM(failed, 1))) {
            PyObject *exc = PyTuple_GET_ITEM(failed, 1);

            Py_INCREF(exc);
#if PY_VERSION_HEX >= 0x030C0000
            PyErr_SetRaisedException(exc);
#else
            Py_INCREF(Py_TYPE(exc));
            PyErr_Restore((PyObject *)Py_TYPE(exc), exc, PyException_GetTraceback(exc));
#endif
            PyErr_WriteUnraisable(PyTuple_GET_ITEM(failed, 0));
        }
        Py_XDECREF(failed);
    }
    PyGILState_Release(gil);
}

/*
 * libpmq's drop for a callback registration: releases the reference to ctx
 * that Handle_notify_callback() gave it, with the GIL (libpmq calls it on
 * the delivery thread after the callback, or inside the register, cancel,
 * close or free call that ended the registration: those run without the
 * GIL). A finalizing interpreter cannot be entered: the reference is left.
 */
static void notify_drop(void *param)
{
    PyGILState_STATE gil;

    if (interpreter_finalizing())
        return;
    gil = PyGILState_Ensure();
    notify_dropped++;
    Py_DECREF((PyObject *)param);
    PyGILState_Release(gil);
}

static PyObject *module_notify_counts(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return Py_BuildValue("(KK)", notify_registered, notify_dropped);
}

static PyObject *set_notify_dispatch(PyObject *module, PyObject *dispatch)
{
    (void)module;
    if (!PyCallable_Check(dispatch)) {
        PyErr_SetString(PyExc_TypeError, "the notification dispatcher must be callable");
        return NULL;
    }
    Py_INCREF(dispatch);
    Py_XSETREF(notify_dispatch, dispatch);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ the module */

static PyObject *status_arg(PyObject *arg, int *out)
{
    long v = PyLong_AsLong(arg);

    if (v == -1 && PyErr_Occurred())
        return NULL;
    *out = v < INT_MIN || v > INT_MAX ? INT_MAX : (int)v;
    return arg;
}

static PyObject *module_status_name(PyObject *module, PyObject *arg)
{
    int st;

    (void)module;
    if (status_arg(arg, &st) == NULL)
        return NULL;
    return PyUnicode_FromString(pmq_status_name(st));
}

static PyObject *module_status_str(PyObject *module, PyObject *arg)
{
    int st;

    (void)module;
    if (status_arg(arg, &st) == NULL)
        return NULL;
    return PyUnicode_FromString(pmq_status_str(st));
}

static PyObject *module_status_is_busy(PyObject *module, PyObject *arg)
{
    int st;

    (void)module;
    if (status_arg(arg, &st) == NULL)
        return NULL;
    return PyBool_FromLong(pmq_status_is_busy(st));
}

static PyObject *module_status_last(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromLong(pmq_status_last());
}

static PyObject *module_libpmq_version(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyUnicode_FromString(pmq_version());
}

static PyObject *module_messages_max_default(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromLongLong(pmq_queue_messages_max_default());
}

static PyObject *module_message_size_max_default(PyObject *module,
                                                 PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromLongLong(pmq_queue_message_size_max_default());
}

static PyObject *module_message_queues_supported(PyObject *module,
                                                 PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyBool_FromLong(pmq_message_queues_supported());
}

/*
 * _set_handle(handle: Handle | None, max_message_size: int, access: int,
 * max_messages: int); access is ACCESS_READ | ACCESS_WRITE (read= /
 * write=); None detaches. The previous handle is released: it is freed
 * once no call uses it.
 */
static PyObject *QueueBase_set_handle(QueueBase *self, PyObject *args)
{
    PyObject *owner;
    Py_ssize_t size, max_messages = 0;
    int access = 0;

    if (!PyArg_ParseTuple(args, "On|in:_set_handle", &owner, &size, &access, &max_messages))
        return NULL;
    if (owner == Py_None) {
        owner = NULL;
    } else if (!PyObject_TypeCheck(owner, &Handle_Type)) {
        PyErr_SetString(PyExc_TypeError, "_set_handle: a pmq._pmq.Handle or None");
        return NULL;
    }
    self->q = owner ? ((Handle *)owner)->q : NULL;
    self->closed = 0;
    self->max_message_size = size;
    self->max_messages = max_messages;
    self->access = access;
    Py_XINCREF(owner);
    Py_XSETREF(self->owner, owner);
    Py_RETURN_NONE;
}

/*
 * _release_handle() -> owner or None: close() takes the handle away, at once
 * and only once (the GIL makes it atomic: of two threads closing, one gets
 * the owner, the other None). Later calls raise the closed-queue error; the
 * access and sizes stay, for posix_ipc's order of errors. The handle is
 * freed when the returned owner and the calls still using it let it go.
 */
static PyObject *QueueBase_release_handle(QueueBase *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *owner = self->owner;

    if (owner == NULL)
        Py_RETURN_NONE;
    self->q = NULL;
    self->owner = NULL;
    self->closed = 1;
    return owner; /* the reference self held */
}

static void QueueBase_dealloc(QueueBase *self)
{
    self->q = NULL;
    Py_CLEAR(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef QueueBase_methods[] = {
    {"send", (PyCFunction)(void (*)(void))QueueBase_send, METH_FASTCALL | METH_KEYWORDS,
     "send($self, message, timeout=None, priority=0)\n--\n\n"
     "Sends message (bytes, a bytes-like object, or str sent as UTF-8) with priority\n"
     "0..QUEUE_PRIORITY_MAX. timeout: None waits while the queue is full (unless block\n"
     "is False), 0 tries once, > 0 waits at most that many seconds; BusyError if it\n"
     "cannot be sent in time. ValueError if the message is larger than max_message_size.\n"
     "None is libpmq's PMQ_FOREVER (so is float('inf'), and any timeout above 1e15 s)."},
    {"receive", (PyCFunction)(void (*)(void))QueueBase_receive, METH_FASTCALL | METH_KEYWORDS,
     "receive($self, timeout=None)\n--\n\n"
     "Receives the oldest message of the highest priority and returns\n"
     "(message: bytes, priority: int). timeout as in send()."},
    {"send_batch", (PyCFunction)(void (*)(void))QueueBase_send_batch,
     METH_FASTCALL | METH_KEYWORDS,
     "send_batch($self, messages, timeout=None)\n--\n\n"
     "Sends several messages in one call and returns how many were sent. messages is a\n"
     "sequence whose items are what send() takes as a message (bytes, bytes-like, str)\n"
     "or (message, priority) tuples (priority 0 otherwise). Waits, as send() does with\n"
     "this timeout, until the FIRST can be sent, then sends as many more as fit now, in\n"
     "order: the result is 1..len(messages) (0 for an empty sequence); send the rest\n"
     "again. Every message is checked before anything is sent: a bad one raises\n"
     "(naming its index) and nothing is sent."},
    {"receive_batch", (PyCFunction)(void (*)(void))QueueBase_receive_batch,
     METH_FASTCALL | METH_KEYWORDS,
     "receive_batch($self, max_messages, timeout=None)\n--\n\n"
     "Receives up to max_messages messages in one call and returns a list of\n"
     "(message: bytes, priority: int), in the order receive() would return them.\n"
     "Waits, as receive() does with this timeout, for the FIRST message, then takes as\n"
     "many more as are there now (at least 1; [] if max_messages is 0). At most\n"
     "max_messages, the queue's capacity, and what fits in a 1 MiB buffer."},
    {"lease", (PyCFunction)(void (*)(void))QueueBase_lease, METH_FASTCALL | METH_KEYWORDS,
     "lease($self, timeout=None, visibility=None)\n--\n\n"
     "Receives the oldest message of the highest priority under a lease (at-least-once\n"
     "receive; \"shm\" backend only) and returns (message: bytes, priority: int,\n"
     "lease: Lease). The message stays in the queue, invisible to other receivers,\n"
     "until ack(lease) removes it or nack(lease) gives it back; if this handle is\n"
     "closed or its process dies first, it goes back at its place (ahead of later\n"
     "messages of its priority). visibility: None (the lease lasts until then) or\n"
     "seconds after which an unacked message goes back even if the holder lives (a\n"
     "later ack raises LeaseLostError). timeout as in receive(). Leased messages count\n"
     "against the capacity. pmq.Error (PMQ_STATUS_NOT_SUPPORTED) on \"kernel\"."},
    {"lease_batch", (PyCFunction)(void (*)(void))QueueBase_lease_batch,
     METH_FASTCALL | METH_KEYWORDS,
     "lease_batch($self, max_messages, timeout=None, visibility=None)\n--\n\n"
     "Leases up to max_messages messages in one call, as receive_batch() receives them,\n"
     "and returns a list of (message: bytes, priority: int, lease: Lease); each lease as\n"
     "lease() describes. Ack them together with ack_batch()."},
    {"ack", (PyCFunction)QueueBase_ack, METH_O,
     "ack($self, lease, /)\n--\n\n"
     "Removes a leased message for good. LeaseLostError (nothing changed) when the lease\n"
     "is no longer this handle's: acked or nacked already, its visibility timeout passed,\n"
     "or never this handle's; the message says which."},
    {"nack", (PyCFunction)QueueBase_nack, METH_O,
     "nack($self, lease, /)\n--\n\n"
     "Gives a leased message back at its place (ahead of the messages of its priority\n"
     "sent after it); its delivery count goes on. Errors as for ack()."},
    {"ack_batch", (PyCFunction)QueueBase_ack_batch, METH_O,
     "ack_batch($self, leases, /)\n--\n\n"
     "Acks a sequence of Leases under one lock and returns how many. When some were no\n"
     "longer this handle's, the others are acked all the same and LeaseLostError is\n"
     "raised with .acked (how many were) set."},
    {"_set_handle", (PyCFunction)QueueBase_set_handle, METH_VARARGS, NULL},
    {"_release_handle", (PyCFunction)QueueBase_release_handle, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject QueueBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pmq._pmq.QueueBase",
    .tp_basicsize = sizeof(QueueBase),
    .tp_dealloc = (destructor)QueueBase_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The C part of pmq.MessageQueue (send, receive).",
    .tp_methods = QueueBase_methods,
    .tp_new = PyType_GenericNew,
};

static PyObject *set_error_factory(PyObject *module, PyObject *factory)
{
    (void)module;
    if (!PyCallable_Check(factory)) {
        PyErr_SetString(PyExc_TypeError, "the error factory must be callable");
        return NULL;
    }
    Py_INCREF(factory);
    Py_XSETREF(error_factory, factory);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_error_factory", set_error_factory, METH_O, NULL},
    {"set_notify_dispatch", set_notify_dispatch, METH_O, NULL},
    {"notify_counts", module_notify_counts, METH_NOARGS, NULL},
    {"open", module_open, METH_VARARGS, NULL},
    {"unlink", module_unlink, METH_VARARGS, NULL},
    {"status_name", module_status_name, METH_O, NULL},
    {"status_str", module_status_str, METH_O, NULL},
    {"status_is_busy", module_status_is_busy, METH_O, NULL},
    {"status_last", module_status_last, METH_NOARGS, NULL},
    {"libpmq_version", module_libpmq_version, METH_NOARGS, NULL},
    {"messages_max_default", module_messages_max_default, METH_NOARGS, NULL},
    {"message_size_max_default", module_message_size_max_default, METH_NOARGS, NULL},
    {"message_queues_supported", module_message_queues_supported, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* The package's version: Cargo.toml's workspace version, which setup.py
 * passes (the one place it is written). */
#ifndef PMQ_PY_VERSION
#error "PMQ_PY_VERSION is not defined: build pmq with its setup.py"
#endif

#define INT_CONSTANT(name) {#name, name}
static const struct {
    const char *name;
    long value;
} int_constants[] = {
    INT_CONSTANT(PMQ_O_CREAT),
    INT_CONSTANT(PMQ_O_EXCL),
    INT_CONSTANT(PMQ_O_NONBLOCK),
    INT_CONSTANT(PMQ_BACKEND_KERNEL),
    INT_CONSTANT(PMQ_BACKEND_SHM),
    INT_CONSTANT(PMQ_DESCRIBE_SHORT),
    INT_CONSTANT(PMQ_DESCRIBE_DEBUG),
    /* Every status of pmq.h: tests/test_module.py checks that each one
     * libpmq knows (0..pmq_status_last()) is here, by name and value. */
    INT_CONSTANT(PMQ_STATUS_OK),
    INT_CONSTANT(PMQ_STATUS_WOULD_BLOCK),
    INT_CONSTANT(PMQ_STATUS_TIMED_OUT),
    INT_CONSTANT(PMQ_STATUS_BUSY),
    INT_CONSTANT(PMQ_STATUS_EXISTS),
    INT_CONSTANT(PMQ_STATUS_NOT_FOUND),
    INT_CONSTANT(PMQ_STATUS_PERMISSION),
    INT_CONSTANT(PMQ_STATUS_INTERRUPTED),
    INT_CONSTANT(PMQ_STATUS_INVALID_ARGUMENT),
    INT_CONSTANT(PMQ_STATUS_MESSAGE_TOO_LARGE),
    INT_CONSTANT(PMQ_STATUS_BUFFER_TOO_SMALL),
    INT_CONSTANT(PMQ_STATUS_SYSTEM_LIMIT),
    INT_CONSTANT(PMQ_STATUS_CLOSED),
    INT_CONSTANT(PMQ_STATUS_OUT_OF_MEMORY),
    INT_CONSTANT(PMQ_STATUS_OS_ERROR),
    INT_CONSTANT(PMQ_STATUS_PANIC),
    INT_CONSTANT(PMQ_STATUS_NOT_SUPPORTED),
    INT_CONSTANT(PMQ_STATUS_CORRUPTED),
    INT_CONSTANT(PMQ_STATUS_LEASE_LOST),
};

static int add_constants(PyObject *m)
{
    size_t i;

    for (i = 0; i < sizeof int_constants / sizeof int_constants[0]; i++)
        if (PyModule_AddIntConstant(m, int_constants[i].name, int_constants[i].value) < 0)
            return -1;
    if (PyModule_AddIntConstant(m, "PMQ_PRIORITY_MAX", (long)pmq_priority_max()) < 0)
        return -1;
    return PyModule_AddStringConstant(m, "__version__", PMQ_PY_VERSION);
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pmq._pmq",
    .m_doc = "libpmq for pmq: the queue handle, its calls, and notification callbacks.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__pmq(void)
{
    PyObject *m;

    if (PyType_Ready(&QueueBase_Type) < 0 || PyType_Ready(&Handle_Type) < 0)
        return NULL;
    m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    Py_INCREF(&QueueBase_Type);
    if (PyModule_AddObject(m, "QueueBase", (PyObject *)&QueueBase_Type) < 0) {
        Py_DECREF(&QueueBase_Type);
        Py_DECREF(m);
        return NULL;
    }
    if (Lease_Type.tp_name == NULL && PyStructSequence_InitType2(&Lease_Type, &lease_desc) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&Lease_Type);
    if (PyModule_AddObject(m, "Lease", (PyObject *)&Lease_Type) < 0) {
        Py_DECREF(&Lease_Type);
        Py_DECREF(m);
        return NULL;
    }
    if (add_constants(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
