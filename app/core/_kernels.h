/*
 * What app/core's compiled kernels (_householder.c, _normal.c, _uniform.c) share: choosing a
 * copy of a module's kernels by instruction set, and numpy's bit generators.
 */
#ifndef WEIGHTINIT_KERNELS_H
#define WEIGHTINIT_KERNELS_H

#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- instruction sets -------------------------------------------------------------------
 * A module keeps a table of its kernel copies, best first, each entry a struct whose first
 * field is the copy's name: "avx512f", "avx2" or "baseline". Every copy gives the same bits;
 * only the ones this CPU runs are offered. */

/* Whether this CPU runs the copy called `name` ("avx512f" means AVX-512 F, DQ and VL). */
static int isa_runs(const char *name)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    if (strcmp(name, "avx512f") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2");
#endif
    return strcmp(name, "baseline") == 0;
}

static const char *isa_name(const void *table, size_t stride, int i)
{
    const char *name;
    memcpy(&name, (const char *)table + (size_t)i * stride, sizeof name);
    return name;
}

/* Index of the copy called `wanted` (NULL: the best this CPU runs) in a table of `count`
 * entries of `stride` bytes; -1 with ValueError when this CPU does not run it. */
static int isa_find(const void *table, size_t stride, int count, const char *wanted)
{
    for (int i = 0; i < count; i++) {
        const char *name = isa_name(table, stride, i);
        if (isa_runs(name) && (wanted == NULL || strcmp(name, wanted) == 0))
            return i;
    }
    PyErr_Format(PyExc_ValueError, "kernel set %s is not available on this CPU", wanted);
    return -1;
}

/* The names of the copies this CPU runs, best first, as a tuple. */
static PyObject *isa_available(const void *table, size_t stride, int count)
{
    PyObject *names = PyList_New(0);
    if (names == NULL)
        return NULL;
    for (int i = 0; i < count; i++) {
        const char *name = isa_name(table, stride, i);
        if (!isa_runs(name))
            continue;
        PyObject *text = PyUnicode_FromString(name);
        if (text == NULL || PyList_Append(names, text) < 0) {
            Py_XDECREF(text);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(text);
    }
    PyObject *result = PyList_AsTuple(names);
    Py_DECREF(names);
    return result;
}

/* ---- numpy bit generators ---------------------------------------------------------------
 * numpy/random/bitgen.h (a public, stable struct): what the capsule named "BitGenerator" of
 * every numpy BitGenerator points to. random_raw calls next_raw; Generator.random(float32)
 * calls next_uint32. */
typedef struct {
    void *state;
    uint64_t (*next_uint64)(void *st);
    uint32_t (*next_uint32)(void *st);
    double (*next_double)(void *st);
    uint64_t (*next_raw)(void *st);
} bitgen_t;

/* Streams to fill: a bit generator and a value count each (from two Python lists). */
typedef struct {
    Py_ssize_t count;
    bitgen_t **bitgens;
    ptrdiff_t *sizes;
    ptrdiff_t total; /* sum of sizes */
} streams_t;

static void streams_free(streams_t *streams)
{
    PyMem_Free(streams->bitgens);
    PyMem_Free(streams->sizes);
    streams->bitgens = NULL;
    streams->sizes = NULL;
}

/* Reads lists `capsules` (bit generator capsules) and `counts` (non-negative ints) of one
 * length; 0, or -1 with an exception (nothing to free then). */
static int streams_of(PyObject *capsules, PyObject *counts, const char *who, streams_t *out)
{
    if (!PyList_Check(capsules) || !PyList_Check(counts) ||
        PyList_GET_SIZE(capsules) != PyList_GET_SIZE(counts)) {
        PyErr_Format(PyExc_ValueError, "%s: two lists of one length, capsules and counts", who);
        return -1;
    }
    const Py_ssize_t n = PyList_GET_SIZE(capsules);
    out->count = n;
    out->total = 0;
    out->bitgens = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *out->bitgens);
    out->sizes = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *out->sizes);
    if (out->bitgens == NULL || out->sizes == NULL) {
        streams_free(out);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out->bitgens[i] = PyCapsule_GetPointer(PyList_GET_ITEM(capsules, i), "BitGenerator");
        out->sizes[i] = out->bitgens[i] ? PyLong_AsSsize_t(PyList_GET_ITEM(counts, i)) : -1;
        if (out->sizes[i] < 0) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "%s: a negative count", who);
            streams_free(out);
            return -1;
        }
        if (out->sizes[i] > PY_SSIZE_T_MAX - out->total) {
            PyErr_Format(PyExc_OverflowError, "%s: too many values", who);
            streams_free(out);
            return -1;
        }
        out->total += out->sizes[i];
    }
    return 0;
}

/* A writable C-contiguous float32 buffer of exactly `values` items; 0, or -1 with an
 * exception (nothing to release then). */
static int float32_out(PyObject *obj, ptrdiff_t values, const char *who, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        return -1;
    const char *fmt = view->format ? view->format : "B";
    if (fmt[0] == '<' || fmt[0] == '=' || fmt[0] == '@')
        fmt++;
    if (view->itemsize != 4 || strcmp(fmt, "f") != 0 || view->len / 4 != values) {
        PyErr_Format(PyExc_ValueError, "%s: out must be float32 holding %zd values", who,
                     values);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#endif
