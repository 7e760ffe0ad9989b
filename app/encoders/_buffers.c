/*
 * fresh_bytes(n): a new bytes object of n bytes and a writable memoryview of its contents,
 * so that an encoder can write a body straight into the object it hands to the server (no
 * copy from a numpy array into bytes). The caller fills it through the view and releases the
 * view before the bytes object is hashed, compared or shared: until then it is still being
 * built, as CPython's own bytes constructors build theirs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyDoc_STRVAR(fresh_bytes_doc,
             "fresh_bytes(n) -> (bytes, memoryview)\n\nA new bytes object of n (uninitialised) "
             "bytes and a writable view of them; fill through the view, then release it.");

static PyObject *py_fresh_bytes(PyObject *self, PyObject *arg)
{
    (void)self;
    const Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "fresh_bytes: a negative size");
        return NULL;
    }
    PyObject *body = PyBytes_FromStringAndSize(NULL, n);
    if (body == NULL)
        return NULL;
    PyObject *view = PyMemoryView_FromMemory(PyBytes_AS_STRING(body), n, PyBUF_WRITE);
    if (view == NULL) {
        Py_DECREF(body);
        return NULL;
    }
    return Py_BuildValue("(NN)", body, view);
}

static PyMethodDef methods[] = {
    {"fresh_bytes", py_fresh_bytes, METH_O, fresh_bytes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_buffers",
    "Bytes objects filled in place (app.encoders.raw.fresh_bytes).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__buffers(void) { return PyModule_Create(&module); }
