/*
 * app/core/sampling.py's float32 uniform blocks, compiled: numpy's Generator.random(float32)
 * of each block's bit generator (next_uint32 >> 8, times 2**-24: exact) followed by
 * sample_uniform's affine map, one float32 rounding per operation, for many streams in one
 * call that holds no GIL. The same bits as the numpy path (tests/core/test_uniform_kernel.py).
 * The words come through the bit generator's own next_uint32 (numpy/random/bitgen.h), so
 * its state, including the spare 32-bit half it keeps, ends exactly as numpy leaves it.
 * -ffp-contract=off (setup.py): u * range + low is two roundings, never one FMA.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_kernels.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "float expressions must be evaluated in float (FLT_EVAL_METHOD 0)"
#endif
#if defined(__FAST_MATH__)
#error "-ffast-math changes the map: build without it"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

enum { PLAIN = 0, SYMMETRIC = 1, SHIFTED = 2 };

/* One uniform of the 32 bits r: Generator.random(float32), then the law's map. */
static inline float mapped(uint32_t r, int mode, float a, float b, float c)
{
    float u = (float)(r >> 8) * (1.0f / 16777216.0f);
    if (mode == SYMMETRIC) {
        u = u * 2.0f;
        u = u - 1.0f;
        u = u * a;
    } else if (mode == SHIFTED) {
        u = u * a;
        u = u + b;
        u = (u < c || u != u) ? u : c; /* np.minimum: c on a tie (-0 vs +0), NaN kept */
    }
    return u;
}

/* n values of one stream: U[0, 1) (PLAIN), (2u - 1) a (SYMMETRIC) or min(u a + b, c).
 *
 * numpy's PCG64 next_uint32 hands out the low half of a 64-bit output and keeps the high half
 * for the next call (has_uint32). For a PCG64 (spare 0 or 1: its has_uint32) the values are
 * therefore taken two at a time from next_uint64, low half first, after the kept half if
 * there is one; the last one or two values go through next_uint32, so that the state ends
 * exactly as numpy leaves it (kept half included): the same values and state, in half the
 * calls.
 * Other generators (spare -1) go through next_uint32 for every value. */
static void stream(bitgen_t *bitgen, int spare, ptrdiff_t n, float *out, int mode, float a,
                   float b, float c)
{
    ptrdiff_t i = 0;
    if (spare < 0) {
        for (; i < n; i++)
            out[i] = mapped(bitgen->next_uint32(bitgen->state), mode, a, b, c);
        return;
    }
    if (spare == 1 && n > 0)
        out[i++] = mapped(bitgen->next_uint32(bitgen->state), mode, a, b, c);
    /* all pairs but the last: the last two (or one) values go through next_uint32, so the
     * kept half (uinteger) ends as numpy leaves it even when it is not pending */
    for (; i + 2 < n; i += 2) {
        const uint64_t word = bitgen->next_uint64(bitgen->state);
        out[i] = mapped((uint32_t)word, mode, a, b, c);
        out[i + 1] = mapped((uint32_t)(word >> 32), mode, a, b, c);
    }
    for (; i < n; i++)
        out[i] = mapped(bitgen->next_uint32(bitgen->state), mode, a, b, c);
}

PyDoc_STRVAR(uniform32_streams_doc,
             "uniform32_streams(capsules, spares, counts, out, mode, a, b, c)\n\nFill out "
             "(float32, sum(counts) values) with each bit generator's count values of "
             "Generator.random(dtype=float32), mapped: mode 0 as is, 1 to (2u - 1) a, 2 to "
             "min(u a + b, c), in float32. spares: each PCG64's has_uint32 (0 or 1), -1 for "
             "other generators. The caller holds the bit generators' locks.");

static PyObject *py_uniform32_streams(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *capsules, *spare_list, *counts, *oo;
    int mode;
    double a, b, c;
    if (!PyArg_ParseTuple(args, "OOOOiddd:uniform32_streams", &capsules, &spare_list, &counts,
                          &oo, &mode, &a, &b, &c))
        return NULL;
    if (mode != PLAIN && mode != SYMMETRIC && mode != SHIFTED) {
        PyErr_SetString(PyExc_ValueError, "uniform32_streams: mode is 0, 1 or 2");
        return NULL;
    }
    if ((double)(float)a != a || (double)(float)b != b || (double)(float)c != c) {
        PyErr_SetString(PyExc_ValueError, "uniform32_streams: a, b, c must be float32 values");
        return NULL;
    }
    streams_t streams;
    if (streams_of(capsules, counts, "uniform32_streams", &streams) < 0)
        return NULL;
    PyObject *result = NULL;
    int *spares = PyMem_Malloc((size_t)(streams.count ? streams.count : 1) * sizeof *spares);
    if (spares == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (!PyList_Check(spare_list) || PyList_GET_SIZE(spare_list) != streams.count) {
        PyErr_SetString(PyExc_ValueError, "uniform32_streams: one spare per capsule");
        goto done;
    }
    for (Py_ssize_t i = 0; i < streams.count; i++) {
        const long spare = PyLong_AsLong(PyList_GET_ITEM(spare_list, i));
        if (spare < -1 || spare > 1 || PyErr_Occurred()) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "uniform32_streams: a spare is -1, 0 or 1");
            goto done;
        }
        spares[i] = (int)spare;
    }
    Py_buffer out;
    if (float32_out(oo, streams.total, "uniform32_streams", &out) < 0)
        goto done;
    const float fa = (float)a, fb = (float)b, fc = (float)c;
    Py_BEGIN_ALLOW_THREADS
    float *values = out.buf;
    for (Py_ssize_t i = 0; i < streams.count; i++) {
        stream(streams.bitgens[i], spares[i], streams.sizes[i], values, mode, fa, fb, fc);
        values += streams.sizes[i];
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(spares);
    streams_free(&streams);
    return result;
}

static PyMethodDef methods[] = {
    {"uniform32_streams", py_uniform32_streams, METH_VARARGS, uniform32_streams_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_uniform",
    "Compiled float32 uniform blocks of app.core.sampling (same bits as its numpy path).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__uniform(void) { return PyModule_Create(&module); }
