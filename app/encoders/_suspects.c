/*
 * app/encoders/json_fast.py's suspects, compiled.
 *
 * candidates(): the indices of the elements whose |x| bit pattern lies outside the common
 * binades or has its grid bits all zero (json_fast._candidates). Integers only: the same
 * indices as the numpy expression, in one pass instead of seven.
 *
 * float32_suspects(): the same filter, then json_fast.float32_suspects's classification of
 * each candidate (its tables passed in), done as the numpy path does it: the same IEEE
 * operations (one product, rint, subtractions, absolute values, minima), so the same
 * decisions; -ffp-contract=off (setup.py) keeps a*b - c from becoming an FMA.
 *
 *   shifted = (bits & ~sign) - start   (wrapping: below the range wraps around)
 *   candidate  <=>  shifted >= span  or  (shifted & grid) == 0
 *
 * Flags are computed for a tile of elements (a loop the compiler vectorises); the indices
 * are then gathered only from the 8-byte words of flags that are not all zero, since
 * candidates are rare in weights.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <float.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "double expressions must be evaluated in double (FLT_EVAL_METHOD 0)"
#endif
#if defined(__FAST_MATH__)
#error "-ffast-math changes the classification: build without it"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define TILE 512

/* Integers only, so any vector width gives the same indices: an AVX2 copy where the CPU has
 * it (GCC's target_clones, resolved once at load), 1.6x faster than SSE2 here. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

/* A growing array of indices. */
typedef struct {
    int64_t *items;
    Py_ssize_t count, capacity;
} indices;

static int push(indices *list, int64_t index)
{
    if (list->count == list->capacity) {
        const Py_ssize_t capacity = list->capacity ? 2 * list->capacity : 1024;
        int64_t *grown = PyMem_RawRealloc(list->items, (size_t)capacity * sizeof(int64_t));
        if (grown == NULL)
            return -1;
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = index;
    return 0;
}

#define DEFINE_CANDIDATES(NAME, UINT, SIGN)                                                        \
    CLONES static int NAME(const UINT *restrict bits, Py_ssize_t n, UINT start, UINT span, UINT grid,    \
                    indices *out)                                                                  \
    {                                                                                              \
        unsigned char flags[TILE];                                                                 \
        for (Py_ssize_t i0 = 0; i0 < n; i0 += TILE) {                                              \
            const Py_ssize_t m = n - i0 < TILE ? n - i0 : TILE;                                    \
            for (Py_ssize_t j = 0; j < m; j++) {                                                   \
                const UINT shifted = (UINT)((bits[i0 + j] & (UINT)~(SIGN)) - start);               \
                flags[j] = (unsigned char)((shifted >= span) | ((shifted & grid) == 0));           \
            }                                                                                      \
            for (Py_ssize_t j = m; j < TILE; j++)                                                  \
                flags[j] = 0;                                                                      \
            for (Py_ssize_t w = 0; w < TILE; w += 8) {                                             \
                uint64_t word;                                                                     \
                memcpy(&word, flags + w, sizeof word);                                             \
                if (word == 0)                                                                     \
                    continue;                                                                      \
                for (Py_ssize_t j = w; j < w + 8; j++)                                             \
                    if (flags[j] && push(out, i0 + j) < 0)                                         \
                        return -1;                                                                 \
            }                                                                                      \
        }                                                                                          \
        return 0;                                                                                  \
    }

DEFINE_CANDIDATES(candidates32, uint32_t, UINT32_C(0x80000000))
DEFINE_CANDIDATES(candidates64, uint64_t, UINT64_C(0x8000000000000000))

/* The filter's (start, span, grid) from Python ints: OverflowError for a negative or too
 * large one (the "K" format would wrap it). 0, or -1 with the exception set. */
static int bounds_of(PyObject *so, PyObject *no, PyObject *go, unsigned long long *start,
                     unsigned long long *span, unsigned long long *grid)
{
    *start = PyLong_AsUnsignedLongLong(so);
    *span = PyLong_AsUnsignedLongLong(no);
    *grid = PyLong_AsUnsignedLongLong(go);
    return PyErr_Occurred() ? -1 : 0;
}

PyDoc_STRVAR(candidates_doc,
             "candidates(values, start, span, grid) -> bytes\n\nThe indices (native int64) of "
             "the candidates among values (float32 or float64, read as bit patterns).");

static PyObject *py_candidates(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *vo, *so, *no, *go;
    unsigned long long start, span, grid;
    if (!PyArg_ParseTuple(args, "OOOO:candidates", &vo, &so, &no, &go) ||
        bounds_of(so, no, go, &start, &span, &grid) < 0)
        return NULL;
    Py_buffer values;
    if (PyObject_GetBuffer(vo, &values, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    const Py_ssize_t size = values.itemsize;
    if ((size != 4 && size != 8) || values.len % size != 0 ||
        (size == 4 && (start | span | grid) > UINT32_MAX)) {
        PyErr_SetString(PyExc_ValueError,
                        "candidates: values must be float32 or float64, bounds of their width");
        PyBuffer_Release(&values);
        return NULL;
    }
    const Py_ssize_t n = values.len / size;
    indices found = {NULL, 0, 0};
    int status;
    Py_BEGIN_ALLOW_THREADS
    if (size == 4)
        status = candidates32(values.buf, n, (uint32_t)start, (uint32_t)span, (uint32_t)grid,
                              &found);
    else
        status = candidates64(values.buf, n, (uint64_t)start, (uint64_t)span, (uint64_t)grid,
                              &found);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&values);
    PyObject *result = status < 0 ? PyErr_NoMemory()
                                  : PyBytes_FromStringAndSize((const char *)found.items,
                                                              found.count * (Py_ssize_t)sizeof(int64_t));
    PyMem_RawFree(found.items);
    return result;
}

/* np.minimum: NaN if either is NaN (never for finite input, kept for exactness). */
static inline double np_minimum(double a, double b)
{
    if (isnan(a))
        return a;
    if (isnan(b))
        return b;
    return b < a ? b : a;
}

typedef struct {
    const uint32_t *mask;
    const double *scale, *midpoint, *low_midpoint;
    double low, high, tolerance;
} tables32;

/* json_fast.float32_suspects for one candidate |x| pattern: 0 not kept, 1 kept with orjson's
 * digits (respelt), 2 kept with the reference's digits. */
static int classify32(uint32_t bits, const tables32 *t)
{
    const uint32_t biased = bits >> 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    const double a = (double)f;
    /* _needs_reference */
    const double y = a * t->scale[biased];
    const double frac = fabs(y - nearbyint(y));
    double near = np_minimum(frac, 0.5 - frac);
    near = np_minimum(near, fabs(frac - t->midpoint[biased]));
    near = np_minimum(near, fabs(frac - t->low_midpoint[biased]));
    const int reference = near < t->tolerance;
    const int keep = (bits & t->mask[biased]) == 0 && bits != 0 &&
                     (reference || (a >= t->low && a < t->high));
    return keep ? 1 + reference : 0;
}

static int get_table(PyObject *obj, Py_ssize_t itemsize, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view->itemsize != itemsize || view->len != 256 * itemsize) {
        PyErr_SetString(PyExc_ValueError, "float32_suspects: tables have 256 entries");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(float32_suspects_doc,
             "float32_suspects(values, start, span, grid, mask, scale, midpoint, low_midpoint, "
             "low, high, tolerance) -> (bytes, bytes)\n\njson_fast.float32_suspects: the kept "
             "indices (native int64) and, one byte each, whether they need the reference.");

static PyObject *py_float32_suspects(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *vo, *so, *no, *go, *mo, *sco, *mio, *lmo;
    tables32 t;
    if (!PyArg_ParseTuple(args, "OOOOOOOOddd:float32_suspects", &vo, &so, &no, &go, &mo, &sco,
                          &mio, &lmo, &t.low, &t.high, &t.tolerance))
        return NULL;
    unsigned long long start, span, grid;
    if (bounds_of(so, no, go, &start, &span, &grid) < 0)
        return NULL;
    if ((start | span | grid) > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "float32_suspects: bounds are 32-bit");
        return NULL;
    }
    Py_buffer values, views[4];
    PyObject *tables[4] = {mo, sco, mio, lmo};
    const Py_ssize_t sizes[4] = {4, 8, 8, 8};
    int got = 0;
    PyObject *result = NULL;
    indices found = {NULL, 0, 0};
    if (PyObject_GetBuffer(vo, &values, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (values.itemsize != 4 || values.len % 4 != 0) {
        PyErr_SetString(PyExc_ValueError, "float32_suspects: values must be float32");
        goto done;
    }
    for (; got < 4; got++)
        if (get_table(tables[got], sizes[got], &views[got]) < 0)
            goto done;
    t.mask = views[0].buf;
    t.scale = views[1].buf;
    t.midpoint = views[2].buf;
    t.low_midpoint = views[3].buf;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = candidates32(values.buf, values.len / 4, (uint32_t)start, (uint32_t)span,
                          (uint32_t)grid, &found);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    {
        PyObject *index = PyBytes_FromStringAndSize(NULL, found.count * 8);
        PyObject *reference = PyBytes_FromStringAndSize(NULL, found.count);
        if (index == NULL || reference == NULL) {
            Py_XDECREF(index);
            Py_XDECREF(reference);
            goto done;
        }
        int64_t *out_index = (int64_t *)PyBytes_AS_STRING(index);
        char *out_reference = PyBytes_AS_STRING(reference);
        const uint32_t *bits = values.buf;
        Py_ssize_t kept = 0;
        for (Py_ssize_t i = 0; i < found.count; i++) {
            const int verdict = classify32(bits[found.items[i]] & UINT32_C(0x7FFFFFFF), &t);
            if (verdict) {
                out_index[kept] = found.items[i];
                out_reference[kept] = (char)(verdict == 2);
                kept++;
            }
        }
        if (_PyBytes_Resize(&index, kept * 8) < 0 || _PyBytes_Resize(&reference, kept) < 0) {
            Py_XDECREF(index);
            Py_XDECREF(reference);
            goto done;
        }
        result = Py_BuildValue("(NN)", index, reference);
    }
done:
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&views[i]);
    PyBuffer_Release(&values);
    PyMem_RawFree(found.items);
    return result;
}

/* ---- respell: orjson's text of spelling-window numbers in repr's layout ---- */

/* One token (orjson's text of a float32 in [1e-10, 1e-4) in magnitude) in the layout of
 * repr(float(token)): the same significant digits (a decimal of at most 9 digits parses to
 * the double whose shortest repr has exactly those digits), exponential when the decimal
 * exponent is below -4 ("1.5e-07", at least two exponent digits), fixed at -4 ("0.0001").
 * Writes at most 32 bytes to out; returns their number, or -1 for a token of another form
 * (the caller then uses repr). */
static Py_ssize_t respell_one(const char *token, Py_ssize_t length, char *out)
{
    const char *p = token, *end = token + length;
    char digits[24];
    int count = 0, exponent;
    Py_ssize_t n = 0;
    int negative = p < end && *p == '-';
    p += negative;
    if (end - p >= 2 && p[0] == '0' && p[1] == '.') { /* fixed: 0.000ddd */
        p += 2;
        int zeros = 0;
        while (p < end && *p == '0')
            zeros++, p++;
        while (p < end && *p >= '0' && *p <= '9' && count < 20)
            digits[count++] = *p++;
        if (p != end || count == 0)
            return -1;
        exponent = -(zeros + 1);
    } else { /* exponential: d[.ddd]e-N */
        if (p >= end || *p < '1' || *p > '9')
            return -1;
        digits[count++] = *p++;
        if (p < end && *p == '.') {
            p++;
            while (p < end && *p >= '0' && *p <= '9' && count < 20)
                digits[count++] = *p++;
        }
        if (end - p < 3 || p[0] != 'e' || p[1] != '-')
            return -1;
        p += 2;
        int value = 0, places = 0;
        while (p < end && *p >= '0' && *p <= '9' && places < 4)
            value = 10 * value + (*p++ - '0'), places++;
        if (p != end || places == 0)
            return -1;
        exponent = -value;
    }
    if (digits[count - 1] == '0' || exponent > -4 || exponent < -99)
        return -1; /* trailing zeros or out of the window: not a form this handles */
    if (negative)
        out[n++] = '-';
    if (exponent == -4) { /* repr is fixed down to 1e-4 */
        memcpy(out + n, "0.000", 5);
        n += 5;
        memcpy(out + n, digits, (size_t)count);
        return n + count;
    }
    out[n++] = digits[0];
    if (count > 1) {
        out[n++] = '.';
        memcpy(out + n, digits + 1, (size_t)count - 1);
        n += count - 1;
    }
    out[n++] = 'e';
    out[n++] = '-';
    out[n++] = (char)('0' + (-exponent) / 10);
    out[n++] = (char)('0' + (-exponent) % 10);
    return n;
}

PyDoc_STRVAR(respell_doc,
             "respell(text) -> bytes | None\n\nComma-separated orjson numbers of the spelling "
             "window, each as repr(float(number)) spells it, comma-separated; None when a "
             "number has another form.");

static PyObject *py_respell(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer text;
    if (PyObject_GetBuffer(arg, &text, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *s = text.buf;
    const Py_ssize_t length = text.len;
    Py_ssize_t tokens = 1;
    for (Py_ssize_t i = 0; i < length; i++)
        tokens += s[i] == ',';
    PyObject *result = PyBytes_FromStringAndSize(NULL, tokens * 33);
    if (result == NULL) {
        PyBuffer_Release(&text);
        return NULL;
    }
    char *out = PyBytes_AS_STRING(result);
    Py_ssize_t n = 0, start = 0;
    int ok = length > 0;
    for (Py_ssize_t i = 0; ok && i <= length; i++) {
        if (i < length && s[i] != ',')
            continue;
        if (start > 0)
            out[n++] = ',';
        const Py_ssize_t wrote = i - start > 32 ? -1 : respell_one(s + start, i - start, out + n);
        if (wrote < 0)
            ok = 0;
        n += wrote;
        start = i + 1;
    }
    PyBuffer_Release(&text);
    if (!ok) {
        Py_DECREF(result);
        Py_RETURN_NONE;
    }
    if (_PyBytes_Resize(&result, n) < 0)
        return NULL;
    return result;
}

/* ---- splice: orjson's text with its sentinels replaced, straight into a str ---- */

/* 1 if every byte of p[0 .. n) is ASCII. */
static int all_ascii(const unsigned char *p, Py_ssize_t n)
{
    uint64_t high = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, sizeof word);
        high |= word;
    }
    for (; i < n; i++)
        high |= p[i];
    return (high & UINT64_C(0x8080808080808080)) == 0;
}

PyDoc_STRVAR(splice_doc,
             "splice(text, before, after, replacements) -> str | None\n\nThe ASCII text with "
             "each '+' and the `before` bytes before it and `after` bytes after it (a "
             "sentinel's text) replaced by the next of replacements (bytes), as a str: one "
             "copy. None when the '+' are not one per replacement or a byte is not ASCII.");

static PyObject *py_splice(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer text;
    Py_ssize_t before, after;
    PyObject *replacements;
    if (!PyArg_ParseTuple(args, "y*nnO!:splice", &text, &before, &after, &PyList_Type,
                          &replacements))
        return NULL;
    const unsigned char *src = text.buf;
    const Py_ssize_t length = text.len, count = PyList_GET_SIZE(replacements);
    PyObject *result = NULL;
    Py_ssize_t total = length - count * (before + 1 + after);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *item = PyList_GET_ITEM(replacements, k);
        if (!PyBytes_Check(item) ||
            !all_ascii((const unsigned char *)PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))) {
            PyErr_SetString(PyExc_TypeError, "splice: replacements are ASCII bytes");
            goto done;
        }
        total += PyBytes_GET_SIZE(item);
    }
    if (before < 0 || after < 0 || total < 0 || !all_ascii(src, length)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = PyUnicode_New(total, 127);
    if (result == NULL)
        goto done;
    {
        char *out = (char *)PyUnicode_1BYTE_DATA(result);
        Py_ssize_t start = 0, at = -1, written = 0;
        for (Py_ssize_t k = 0; k < count; k++) {
            const unsigned char *plus = memchr(src + at + 1, '+', (size_t)(length - at - 1));
            if (plus == NULL)
                break;
            at = plus - src;
            const Py_ssize_t piece = at - before - start;
            if (piece < 0 || at + after >= length || written + piece > total)
                break;
            memcpy(out + written, src + start, (size_t)piece);
            written += piece;
            PyObject *item = PyList_GET_ITEM(replacements, k);
            const Py_ssize_t size = PyBytes_GET_SIZE(item);
            if (written + size > total)
                break;
            memcpy(out + written, PyBytes_AS_STRING(item), (size_t)size);
            written += size;
            start = at + 1 + after;
        }
        const Py_ssize_t rest = length - start;
        if (written + rest != total ||
            memchr(src + at + 1, '+', (size_t)(length - at - 1)) != NULL) {
            Py_DECREF(result); /* not one '+' per replacement: the caller's numpy path */
            result = Py_NewRef(Py_None);
            goto done;
        }
        memcpy(out + written, src + start, (size_t)rest);
    }
done:
    PyBuffer_Release(&text);
    return result;
}

static PyMethodDef methods[] = {
    {"candidates", py_candidates, METH_VARARGS, candidates_doc},
    {"float32_suspects", py_float32_suspects, METH_VARARGS, float32_suspects_doc},
    {"respell", py_respell, METH_O, respell_doc},
    {"splice", py_splice, METH_VARARGS, splice_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_suspects",
    "Compiled first filter of app.encoders.json_fast's suspects (the same indices).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__suspects(void) { return PyModule_Create(&module); }
