/*
 * app/core/normal.py's float32 Box-Muller, compiled: the same operations in the same order,
 * so the same bits (tests/core/test_normal_kernels.py compares them with the numpy path on
 * edge-case and random words, under every instruction set). The numpy path runs about 45
 * ufunc calls per chunk, each writing memory and taking the GIL back; here a block is one
 * call that holds no GIL, so threads scale.
 *
 * What would change bits, and is refused: contracting a*b+c into an FMA (-ffp-contract=off,
 * set by setup.py, and the pragma below), -ffast-math (reciprocal division, reassociation:
 * the #error), float expressions evaluated in a wider type (FLT_EVAL_METHOD must be 0).
 * Integer to float conversions round to nearest even, as numpy's casts do. setup.py also
 * passes -fno-math-errno (sqrtf's argument is never negative; with errno the loop does not
 * vectorise): the value of sqrtf is the same, correctly rounded.
 *
 * Speed, one core of this project's EPYC, 2**24 values from words in memory: about 9 ms with
 * AVX-512, 14 ms with AVX2, 100 ms baseline (SSE2 has no per-lane variable shift, so that
 * copy stays scalar), against about 190 ms for the numpy path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_kernels.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "float expressions must be evaluated in float (FLT_EVAL_METHOD 0)"
#endif
#if defined(__FAST_MATH__)
#error "-ffast-math changes divisions and sums: build without it"
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* normal.py's frozen float32 constants (_LOG32, _SIN32, _COS32, _LN2X2_*), as exact hex. */
#define LOG0 0x1.55555cp+0f
#define LOG1 0x1.997c2ep-1f
#define LOG2 0x1.2ee650p-1f
#define SIN0 0x1.921fb6p-1f
#define SIN1 -0x1.4abbbap-4f
#define SIN2 0x1.465ec4p-9f
#define SIN3 -0x1.2d9b40p-15f
#define COS0 -0x1.3bd3ccp-2f
#define COS1 0x1.03c1eap-6f
#define COS2 -0x1.55cb98p-12f
#define COS3 0x1.db6492p-19f
#define LN2X2_LO 0x1.7f7d1cp-19f
#define LN2X2_HI 0x1.62e4p+0f
#define K32_MAGIC 0x4FB504F2u /* 33 * 2**23 - 1 + bits(float32 sqrt(1/2)) */

static inline uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* float32(u) for a uint32 u, rounded to nearest even as numpy's cast: both halves convert
 * exactly and their exact sum is rounded once. (All lanes stay 32-bit, so it vectorises.) */
static inline float float_of_u32(uint32_t u)
{
    return (float)(int32_t)(u >> 16) * 65536.0f + (float)(int32_t)(u & 0xFFFFu);
}

/* One pair: (first, second) = r * (cos output, sin output) of the uniforms' integers a (the
 * word's low half) and b (its high half), exactly as _pairs32 + _store. */
static inline __attribute__((always_inline)) void pair32(uint32_t a, uint32_t b, float *first,
                                                         float *second)
{
    /* r = sqrt(-2 ln u1), u1 = (a + 1) / 2**32 */
    const float xf = float_of_u32(a) + 1.0f; /* only chooses the exponent */
    const int32_t k = (int32_t)(K32_MAGIC - bits_of(xf)) >> 23; /* 32 - e, in [0, 32] */
    const uint32_t low_ones = k >= 32 ? 0u : UINT32_C(0xFFFFFFFF) >> k; /* numpy: 0 at 32 */
    const uint32_t d = a - low_ones;                                     /* exact, wrapping */
    const float g = (float)(int32_t)d * float_of((uint32_t)(k + 96) << 23);
    const float s = g / (g + 4.0f);
    const float z = s * s;
    const float big_r = ((z * LOG2 + LOG1) * z + LOG0) * z;
    const float l = g - (g - big_r) * s; /* 2 log1p(f) */
    const float kf = (float)k;
    float r = sqrtf((kf * LN2X2_HI - l) + kf * LN2X2_LO);
    /* theta = 2 pi b / 2**32 = q pi/2 + x pi/4 */
    const uint32_t v = b + (UINT32_C(1) << 29);
    const uint32_t odd = (uint32_t)((int32_t)(v << 1) >> 31); /* all ones for odd q */
    r = float_of(bits_of(r) ^ (v & UINT32_C(0x80000000)));
    const float x =
        float_of(bits_of((float)(int32_t)(b << 2) * 0x1p-31f) ^ (odd & UINT32_C(0x80000000)));
    const float y = x * x;
    const float sine = (((y * SIN3 + SIN2) * y + SIN1) * y + SIN0) * x;
    const float cosine = (((y * COS3 + COS2) * y + COS1) * y + COS0) * y + 1.0f;
    const uint32_t swap = (bits_of(sine) ^ bits_of(cosine)) & odd;
    *first = r * float_of(bits_of(cosine) ^ swap);
    *second = r * float_of(bits_of(sine) ^ swap);
}

/* Where a word's low and high 32-bit halves sit when its 8 bytes are read as two uint32s. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LOW_HALF 1
#else
#define LOW_HALF 0
#endif

#define KERNEL(name) name##_baseline
#include "_normal_kernels.h"
#undef KERNEL

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HAVE_X86_SETS 1
#pragma GCC push_options
#pragma GCC target("avx2")
#define KERNEL(name) name##_avx2
#include "_normal_kernels.h"
#undef KERNEL
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl")
#define KERNEL(name) name##_avx512
#include "_normal_kernels.h"
#undef KERNEL
#pragma GCC pop_options
#endif

typedef void normal32_fn(const uint32_t *w, ptrdiff_t n, float *out);

typedef struct {
    const char *name;
    normal32_fn *normal32;
} kernel_set;

/* Best first. No FMA is ever emitted, whatever the set. */
static const kernel_set kernel_sets[] = {
#if defined(HAVE_X86_SETS)
    {"avx512f", normal32_avx512},
    {"avx2", normal32_avx2},
#endif
    {"baseline", normal32_baseline},
};
#define N_SETS ((int)(sizeof kernel_sets / sizeof kernel_sets[0]))

static const kernel_set *find_set(const char *name)
{
    const int i = isa_find(kernel_sets, sizeof kernel_sets[0], N_SETS, name);
    return i < 0 ? NULL : &kernel_sets[i];
}

static int contiguous_of(PyObject *obj, int writable, const char *format, Py_ssize_t itemsize,
                         const char *name, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT |
                                          (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    const char *fmt = view->format ? view->format : "B";
    if (fmt[0] == '<' || fmt[0] == '=' || fmt[0] == '@')
        fmt++;
    if (view->itemsize != itemsize || fmt[0] == '\0' || fmt[1] != '\0' ||
        strchr(format, fmt[0]) == NULL) {
        PyErr_Format(PyExc_ValueError, "%s: expected a contiguous array of %s", name,
                     itemsize == 8 ? "uint64" : "float32");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(normal32_doc,
             "normal32(words, out, kernel_set=None)\n\nFill out (float32, n values) with the "
             "standard normals of normal.py's float32 Box-Muller from words (uint64, at least "
             "(n + 1) // 2 of them).");

static PyObject *py_normal32(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *wo, *oo;
    const char *set_name = NULL;
    if (!PyArg_ParseTuple(args, "OO|z:normal32", &wo, &oo, &set_name))
        return NULL;
    const kernel_set *set = find_set(set_name);
    if (set == NULL)
        return NULL;
    Py_buffer words, out;
    /* uint64: 'Q' or 'L' (numpy exports uint64 as 'L' on LP64 platforms) */
    if (contiguous_of(wo, 0, sizeof(unsigned long) == 8 ? "QL" : "Q", 8, "words", &words) < 0)
        return NULL;
    if (contiguous_of(oo, 1, "f", 4, "out", &out) < 0) {
        PyBuffer_Release(&words);
        return NULL;
    }
    const ptrdiff_t n = out.len / 4, have = words.len / 8;
    PyObject *result = NULL;
    if (have < (n + 1) / 2) {
        PyErr_Format(PyExc_ValueError, "normal32: %zd values need %zd words, got %zd", n,
                     (n + 1) / 2, have);
    } else {
        Py_BEGIN_ALLOW_THREADS
        set->normal32(words.buf, n, out.buf);
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&words);
    PyBuffer_Release(&out);
    return result;
}

/* Words drawn per round: they stay in L1, and no memory is allocated per block (fresh
 * pages are faulted in one thread at a time, which kept threads from scaling). */
#define ROUND_WORDS 1024

/* An affine map applied after the sampler, as sampling.sample_normal does in numpy: values
 * times scale, then plus shift when there is one (adding 0 would turn -0 into +0). */
typedef struct {
    float scale, shift;
    int has_shift;
} affine;

/* n values from one bit generator, drawing its words as random_raw would. No GIL. */
static void stream32(const kernel_set *set, bitgen_t *bitgen, ptrdiff_t n, float *values,
                     const affine *map)
{
    uint32_t words[2 * ROUND_WORDS]; /* each word's 8 bytes, as numpy's words array holds them */
    for (ptrdiff_t done = 0; done < n;) { /* done: values written, always even here */
        const ptrdiff_t pairs_left = (n - done + 1) / 2;
        const ptrdiff_t m = pairs_left < ROUND_WORDS ? pairs_left : ROUND_WORDS;
        for (ptrdiff_t i = 0; i < m; i++) {
            const uint64_t word = bitgen->next_raw(bitgen->state);
            memcpy(words + 2 * i, &word, sizeof word);
        }
        const ptrdiff_t count = n - done < 2 * m ? n - done : 2 * m;
        float *chunk = values + done;
        set->normal32(words, count, chunk);
        for (ptrdiff_t i = 0; i < count; i++) /* still in L1 */
            chunk[i] = chunk[i] * map->scale;
        if (map->has_shift)
            for (ptrdiff_t i = 0; i < count; i++)
                chunk[i] = chunk[i] + map->shift;
        done += count;
    }
}

PyDoc_STRVAR(normal32_streams_doc,
             "normal32_streams(capsules, counts, out, kernel_set=None, scale=1.0, shift=0.0, "
             "has_shift=False)\n\nFill out (float32, sum(counts) values) with, for each bit "
             "generator capsule in turn, its count values as normal32(bit_generator.random_raw("
             "(count + 1) // 2), ...) would give, drawing the words from the capsule, then "
             "times scale and, with has_shift, plus shift (float32): one call, no GIL, for "
             "many streams. The caller holds the bit generators' locks.");

static PyObject *py_normal32_streams(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *capsules, *counts, *oo;
    const char *set_name = NULL;
    double scale = 1.0, shift = 0.0;
    int has_shift = 0;
    if (!PyArg_ParseTuple(args, "OOO|zddp:normal32_streams", &capsules, &counts, &oo,
                          &set_name, &scale, &shift, &has_shift))
        return NULL;
    if ((double)(float)scale != scale || (double)(float)shift != shift) {
        PyErr_SetString(PyExc_ValueError, "normal32_streams: scale, shift must be float32 values");
        return NULL;
    }
    const affine map = {(float)scale, (float)shift, has_shift};
    const kernel_set *set = find_set(set_name);
    streams_t streams;
    if (set == NULL || streams_of(capsules, counts, "normal32_streams", &streams) < 0)
        return NULL;
    Py_buffer out;
    if (float32_out(oo, streams.total, "normal32_streams", &out) < 0) {
        streams_free(&streams);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    float *values = out.buf;
    for (Py_ssize_t i = 0; i < streams.count; i++) {
        stream32(set, streams.bitgens[i], streams.sizes[i], values, &map);
        values += streams.sizes[i];
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    streams_free(&streams);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(kernel_sets_doc, "kernel_sets()\n\nThe kernel sets this CPU runs, best first.");

static PyObject *py_kernel_sets(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return isa_available(kernel_sets, sizeof kernel_sets[0], N_SETS);
}

static PyMethodDef methods[] = {
    {"kernel_sets", py_kernel_sets, METH_NOARGS, kernel_sets_doc},
    {"normal32", py_normal32, METH_VARARGS, normal32_doc},
    {"normal32_streams", py_normal32_streams, METH_VARARGS, normal32_streams_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_normal",
    "Compiled float32 Box-Muller of app.core.normal (same bits as its numpy path).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__normal(void) { return PyModule_Create(&module); }
