/*
 * pmq._fast: the hot path of pmq.MessageQueue in C (send and receive), so a
 * send+receive pair costs what posix_ipc's does. Everything else is Python
 * over cffi (see ffi_build.py).
 *
 * QueueBase holds the pmq_queue pointer that MessageQueue (a Python subclass)
 * opened through cffi and hands over with _set_handle(), with its owner (the
 * cffi object that frees it when released): each call holds the owner while
 * it uses the pointer, so a handle replaced meanwhile (by __init__ called
 * again) is freed only after the call (libpmq: pmq_queue_free() must not
 * race with another call). Blocking calls release the GIL. On failure,
 * libpmq's detail is copied right after the failing call, with the GIL held,
 * before any Python code can run, and turned into an exception by the
 * Python factory registered with set_error_factory().
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>

#include "pmq.h"

/* Receives of up to this many bytes use a buffer on the stack. */
#define STACK_BUFFER 16384
/* Timeouts longer than this (seconds, about 31 million years) wait forever. */
#define FOREVER 1e15

static PyObject *error_factory; /* callable(status, errno, detail: bytes) -> exception */

typedef struct {
    PyObject_HEAD
    pmq_queue *q;
    PyObject *owner; /* keeps q allocated; NULL with q */
    Py_ssize_t max_message_size;
    int access; /* ACCESS_READ | ACCESS_WRITE: the read= / write= it was opened with */
} QueueBase;

#define ACCESS_READ 1
#define ACCESS_WRITE 2

/* Sets the exception for the pmq call that just failed with `st`. */
static PyObject *fail(int st)
{
    PyObject *detail = PyBytes_FromString(pmq_last_error());
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

/* None -> -1 (no timeout); a number >= 0 -> seconds. */
static int parse_timeout(PyObject *o, double *out)
{
    double t;

    if (o == NULL || o == Py_None) {
        *out = -1.0;
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
    *out = t > FOREVER ? -1.0 : t;
    return 0;

not_a_number:
    PyErr_Format(PyExc_TypeError, "The timeout must be None or a non-negative number, not %s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

/*
 * The priority as a C long, as posix_ipc parses it: TypeError for a
 * non-integer, OverflowError beyond a C long. Its range is checked later
 * (check_priority), after the handle's access, as posix_ipc does.
 */
/* The ValueError for a NaN timeout (parse_timeout let it through). */
static int nan_timeout(double timeout)
{
    if (!isnan(timeout))
        return 0;
    PyErr_SetString(PyExc_ValueError,
                    "The timeout must be None or a non-negative number of seconds, not nan");
    return -1;
}

static int parse_priority(PyObject *o, long long *out)
{
    long long p;
    int overflow = 0;
    PyObject *index;

    if (o == NULL) {
        *out = 0;
        return 0;
    }
    index = PyNumber_Index(o);
    if (index == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "The priority must be an integer, not %s",
                         Py_TYPE(o)->tp_name);
        }
        return -1;
    }
    p = PyLong_AsLongLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (p == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        PyErr_Format(PyExc_OverflowError,
                     "The priority %R is too large to convert to a C long; it must be "
                     "0..QUEUE_PRIORITY_MAX (%u)",
                     o, (unsigned)pmq_priority_max());
        return -1;
    }
    *out = p;
    return 0;
}

static int check_priority(long long p, uint32_t *out)
{
    if (p < 0 || p > (long long)pmq_priority_max()) {
        PyErr_Format(PyExc_ValueError,
                     "The priority must be a positive number no greater than "
                     "QUEUE_PRIORITY_MAX (%u), not %lld",
                     (unsigned)pmq_priority_max(), p);
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

static const char *const send_names[] = {"message", "timeout", "priority"};

static PyObject *QueueBase_send(QueueBase *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    PyObject *argv[3];
    PyObject *message, *timeout_obj, *priority_obj;
    PyObject *encoded = NULL, *owner, *result;
    Py_buffer view;
    int have_view = 0;
    const char *data;
    Py_ssize_t len;
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
    if (PyBytes_CheckExact(message)) {
        data = PyBytes_AS_STRING(message);
        len = PyBytes_GET_SIZE(message);
    } else if (PyUnicode_Check(message)) {
        encoded = PyUnicode_AsUTF8String(message);
        if (encoded == NULL)
            return NULL;
        data = PyBytes_AS_STRING(encoded);
        len = PyBytes_GET_SIZE(encoded);
    } else if (PyObject_CheckBuffer(message)) {
        if (PyObject_GetBuffer(message, &view, PyBUF_C_CONTIGUOUS) < 0)
            return NULL;
        have_view = 1;
        data = view.buf;
        len = view.len;
    } else {
        return PyErr_Format(PyExc_TypeError,
                            "The message must be bytes, a bytes-like object or str, not %s",
                            Py_TYPE(message)->tp_name);
    }
    if (parse_timeout(timeout_obj, &timeout) < 0 ||
        parse_priority(priority_obj, &requested_priority) < 0)
        goto error;
    if (self->q != NULL && !(self->access & ACCESS_WRITE)) {
        not_permitted("this handle was opened with write=False, so it cannot send; open the "
                      "queue again with write=True");
        goto error;
    }
    if (check_priority(requested_priority, &priority) < 0 || nan_timeout(timeout) < 0)
        goto error;

    q = self->q;
    owner = self->owner;
    Py_XINCREF(owner);
    Py_BEGIN_ALLOW_THREADS
    if (timeout < 0)
        st = pmq_queue_send(q, (const uint8_t *)data, (size_t)len, priority);
    else
        st = pmq_queue_send_timeout(q, (const uint8_t *)data, (size_t)len, priority, timeout);
    Py_END_ALLOW_THREADS

    if (have_view)
        PyBuffer_Release(&view);
    Py_XDECREF(encoded);
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
    if (have_view)
        PyBuffer_Release(&view);
    Py_XDECREF(encoded);
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
    if (self->q != NULL && !(self->access & ACCESS_READ))
        return not_permitted("this handle was opened with read=False, so it cannot receive; "
                             "open the queue again with read=True");
    if (nan_timeout(timeout) < 0)
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
    if (timeout < 0)
        st = pmq_queue_receive(q, (uint8_t *)buf, size, &len, &priority);
    else
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

/*
 * _set_handle(address: int, max_message_size: int, owner, access: int);
 * access is ACCESS_READ | ACCESS_WRITE (read= / write=); address 0 (owner
 * None) detaches. The previous owner is released: the handle it keeps is
 * freed once no call uses it.
 */
static PyObject *QueueBase_set_handle(QueueBase *self, PyObject *args)
{
    unsigned long long address;
    Py_ssize_t size;
    PyObject *owner;
    int access = 0;

    if (!PyArg_ParseTuple(args, "KnO|i:_set_handle", &address, &size, &owner, &access))
        return NULL;
    if (owner == Py_None)
        owner = NULL;
    if ((address == 0) != (owner == NULL)) {
        PyErr_SetString(PyExc_ValueError, "_set_handle: a handle needs its owner, and only it");
        return NULL;
    }
    self->q = (pmq_queue *)(uintptr_t)address;
    self->max_message_size = size;
    self->access = access;
    Py_XINCREF(owner);
    Py_XSETREF(self->owner, owner);
    Py_RETURN_NONE;
}

static void QueueBase_dealloc(QueueBase *self)
{
    self->q = NULL;
    Py_CLEAR(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef QueueBase_methods[] = {
    {"send", (PyCFunction)(void (*)(void))QueueBase_send, METH_FASTCALL | METH_KEYWORDS,
     "send(message, timeout=None, priority=0)\n--\n\n"
     "Sends message (bytes, a bytes-like object, or str sent as UTF-8) with priority\n"
     "0..QUEUE_PRIORITY_MAX. timeout: None waits while the queue is full (unless block\n"
     "is False), 0 tries once, > 0 waits at most that many seconds; BusyError if it\n"
     "cannot be sent in time. ValueError if the message is larger than max_message_size."},
    {"receive", (PyCFunction)(void (*)(void))QueueBase_receive, METH_FASTCALL | METH_KEYWORDS,
     "receive(timeout=None)\n--\n\n"
     "Receives the oldest message of the highest priority and returns\n"
     "(message: bytes, priority: int). timeout as in send()."},
    {"_set_handle", (PyCFunction)QueueBase_set_handle, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject QueueBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pmq._fast.QueueBase",
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
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pmq._fast",
    .m_doc = "The hot path of pmq.MessageQueue.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fast(void)
{
    PyObject *m;

    if (PyType_Ready(&QueueBase_Type) < 0)
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
    return m;
}
