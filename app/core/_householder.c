/*
 * The two matrix products of app/core/linalg.py's blocked Householder QR, compiled.
 *
 * Same operations, same order, same bits as the numpy path in linalg.py (tests compare
 * them byte for byte): every product is rounded to double before it is added, and every
 * sum runs left to right over its index from +0.0, as numpy's add.reduce does (the +0.0
 * only turns a sum of negative zeros into +0.0; the "+ 0.0" on each first term below):
 *
 *   vt_times:  W[j, c] = 0 + V[0, j] X[0, c] + V[1, j] X[1, c] + ... + V[L-1, j] X[L-1, c]
 *   apply_wy:  W = V^T A2;  Y[i, c] = 0 + M^T[0, i] W[0, c] + ... + M^T[b-1, i] W[b-1, c];
 *              for l >= skip:
 *                A2[l, c] = A2[l, c] - (0 + V[l, 0] Y[0, c] + ... + V[l, b-1] Y[b-1, c])
 *
 * The speed comes from keeping tiles of those sums in vector registers (numpy writes every
 * partial result to memory). Vector lanes hold different outputs, never parts of one sum,
 * so the vector width (SSE2, AVX2 or AVX-512: one copy of the kernels per set, the best the
 * CPU runs chosen at each call) does not change a bit. What would: contracting a*b+c into
 * one FMA (one rounding instead of two), reassociating sums (-ffast-math), or x87 extended
 * precision. The build passes -ffp-contract=off (setup.py); the pragmas and the #errors
 * below refuse the rest.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "_kernels.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "double expressions must be evaluated in double (FLT_EVAL_METHOD 0)"
#endif
#if defined(__FAST_MATH__)
#error "-ffast-math reorders sums: build without it"
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

typedef double v2d __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

/* Rows of X per pass of vt_times: a pass's rows stay in L2 while each block of W runs over
 * them, and touch few enough pages for the TLB (16 measured best for 2048 columns on this
 * project's EPYC). Speed only: W carries the running sums from one pass to the next, so the
 * order of the additions is the same whatever the value. */
#define ROWS_PER_PASS 16

typedef void vt_times_fn(const double *v, ptrdiff_t rows, ptrdiff_t b, const double *x,
                         ptrdiff_t ldx, ptrdiff_t cols, double *w);
typedef void m_times_fn(const double *m_t, ptrdiff_t b, const double *w, ptrdiff_t cols,
                        double *y);
typedef void subtract_fn(double *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t cols,
                         const double *v, ptrdiff_t b, const double *y, ptrdiff_t skip);

typedef struct {
    const char *name;
    vt_times_fn *vt_times;
    m_times_fn *m_times;
    subtract_fn *subtract_v_times;
} kernel_set;

/* The baseline copy: whatever the compiler targets by default (SSE2 on x86-64, NEON on
 * arm64), two doubles per register. */
#define KERNEL(name) name##_baseline
#define VEC v2d
#define VW 2
#include "_householder_kernels.h"
#undef KERNEL
#undef VEC
#undef VW

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HAVE_X86_SETS 1
#pragma GCC push_options
#pragma GCC target("avx2")
#define KERNEL(name) name##_avx2
#define VEC v4d
#define VW 4
#include "_householder_kernels.h"
#undef KERNEL
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
#define KERNEL_WIDE 1
#define KERNEL(name) name##_avx512
#include "_householder_kernels.h"
#undef KERNEL
#undef KERNEL_WIDE
#undef VEC
#undef VW
#pragma GCC pop_options
#endif

/* Best first. "avx2" and "avx512f" name only the vector width: no FMA is ever emitted. */
static const kernel_set kernel_sets[] = {
#if defined(HAVE_X86_SETS)
    {"avx512f", vt_times_avx512, m_times_avx512, subtract_v_times_avx512},
    {"avx2", vt_times_avx2, m_times_avx2, subtract_v_times_avx2},
#endif
    {"baseline", vt_times_baseline, m_times_baseline, subtract_v_times_baseline},
};
#define N_SETS ((int)(sizeof kernel_sets / sizeof kernel_sets[0]))

/* The set named `name` (NULL: the best this CPU runs), or NULL with an exception set. */
static const kernel_set *find_set(const char *name)
{
    const int i = isa_find(kernel_sets, sizeof kernel_sets[0], N_SETS, name);
    return i < 0 ? NULL : &kernel_sets[i];
}

/* ---- Python glue: buffers of float64 ('d'), C-contiguous rows (unit column stride). ---- */

typedef struct {
    Py_buffer view;
    ptrdiff_t rows, cols, ld; /* ld: row stride in doubles */
} matrix;

static int get_matrix(PyObject *obj, int writable, const char *name, matrix *m)
{
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &m->view, flags) < 0)
        return -1;
    Py_buffer *vw = &m->view;
    const char *fmt = vw->format ? vw->format : "B";
    if (fmt[0] == '<' || fmt[0] == '=' || fmt[0] == '@')
        fmt++;
    if (vw->ndim != 2 || strcmp(fmt, "d") != 0 || vw->itemsize != (Py_ssize_t)sizeof(double) ||
        vw->strides[1] != (Py_ssize_t)sizeof(double) || vw->strides[0] < 0 ||
        vw->strides[0] % (Py_ssize_t)sizeof(double) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected a 2-D float64 array with unit column stride",
                     name);
        PyBuffer_Release(vw);
        return -1;
    }
    m->rows = vw->shape[0];
    m->cols = vw->shape[1];
    m->ld = vw->strides[0] / (Py_ssize_t)sizeof(double);
    if (m->ld < m->cols && m->rows > 1) {
        PyErr_Format(PyExc_ValueError, "%s: rows overlap", name);
        PyBuffer_Release(vw);
        return -1;
    }
    return 0;
}

static int is_packed(const matrix *m) { return m->ld == m->cols || m->rows <= 1; }

PyDoc_STRVAR(vt_times_doc,
             "vt_times(v, x, out, kernel_set=None)\n\nout = v.T @ x, each entry the left-to-right sum over rows "
             "of rounded products. v (L, b) and out (b, C) C-contiguous; x (L, C) may be a "
             "row-strided view.");

static PyObject *py_vt_times(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *vo, *xo, *oo;
    const char *set_name = NULL;
    if (!PyArg_ParseTuple(args, "OOO|z:vt_times", &vo, &xo, &oo, &set_name))
        return NULL;
    const kernel_set *set = find_set(set_name);
    if (set == NULL)
        return NULL;
    matrix v, x, out;
    if (get_matrix(vo, 0, "v", &v) < 0)
        return NULL;
    if (get_matrix(xo, 0, "x", &x) < 0) {
        PyBuffer_Release(&v.view);
        return NULL;
    }
    if (get_matrix(oo, 1, "out", &out) < 0) {
        PyBuffer_Release(&v.view);
        PyBuffer_Release(&x.view);
        return NULL;
    }
    PyObject *result = NULL;
    if (!is_packed(&v) || !is_packed(&out) || x.rows != v.rows || v.rows < 1 || v.cols < 1 ||
        out.rows != v.cols || out.cols != x.cols) {
        PyErr_SetString(PyExc_ValueError, "vt_times: shapes or layout do not match");
    } else {
        Py_BEGIN_ALLOW_THREADS
        set->vt_times(v.view.buf, v.rows, v.cols, x.view.buf, x.ld, x.cols, out.view.buf);
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&v.view);
    PyBuffer_Release(&x.view);
    PyBuffer_Release(&out.view);
    return result;
}

PyDoc_STRVAR(apply_wy_doc,
             "apply_wy(a2, v, m_transposed, skip_rows, kernel_set=None)\n\nIn place: a2[l] -= (v @ (m @ (v.T @ "
             "a2)))[l] for l >= skip_rows, in the order documented in linalg.py. a2 (L, C) may "
             "be a row-strided view; v (L, b) and m_transposed (b, b) C-contiguous.");

static PyObject *py_apply_wy(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *ao, *vo, *mo;
    Py_ssize_t skip;
    const char *set_name = NULL;
    if (!PyArg_ParseTuple(args, "OOOn|z:apply_wy", &ao, &vo, &mo, &skip, &set_name))
        return NULL;
    const kernel_set *set = find_set(set_name);
    if (set == NULL)
        return NULL;
    matrix a, v, m;
    if (get_matrix(ao, 1, "a2", &a) < 0)
        return NULL;
    if (get_matrix(vo, 0, "v", &v) < 0) {
        PyBuffer_Release(&a.view);
        return NULL;
    }
    if (get_matrix(mo, 0, "m_transposed", &m) < 0) {
        PyBuffer_Release(&a.view);
        PyBuffer_Release(&v.view);
        return NULL;
    }
    PyObject *result = NULL;
    const ptrdiff_t b = v.cols, cols = a.cols;
    if (!is_packed(&v) || !is_packed(&m) || a.rows != v.rows || v.rows < 1 || b < 1 ||
        m.rows != b || m.cols != b || skip < 0 || skip > a.rows) {
        PyErr_SetString(PyExc_ValueError, "apply_wy: shapes or layout do not match");
    } else if (cols > 0) {
        double *scratch = malloc(2 * (size_t)b * (size_t)cols * sizeof(double));
        if (scratch == NULL) {
            PyErr_NoMemory();
        } else {
            double *w = scratch, *y = scratch + b * cols;
            Py_BEGIN_ALLOW_THREADS
            set->vt_times(v.view.buf, v.rows, b, a.view.buf, a.ld, cols, w);
            set->m_times(m.view.buf, b, w, cols, y);
            set->subtract_v_times(a.view.buf, a.ld, a.rows, cols, v.view.buf, b, y, skip);
            Py_END_ALLOW_THREADS
            free(scratch);
            result = Py_NewRef(Py_None);
        }
    } else {
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&a.view);
    PyBuffer_Release(&v.view);
    PyBuffer_Release(&m.view);
    return result;
}

PyDoc_STRVAR(kernel_sets_doc,
             "kernel_sets()\n\nThe kernel sets this CPU runs, best first (the default one "
             "first). Every set gives the same bits.");

static PyObject *py_kernel_sets(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return isa_available(kernel_sets, sizeof kernel_sets[0], N_SETS);
}

static PyMethodDef methods[] = {
    {"kernel_sets", py_kernel_sets, METH_NOARGS, kernel_sets_doc},
    {"vt_times", py_vt_times, METH_VARARGS, vt_times_doc},
    {"apply_wy", py_apply_wy, METH_VARARGS, apply_wy_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_householder",
    "Compiled matrix products of app.core.linalg (same bits as its numpy path).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__householder(void) { return PyModule_Create(&module); }
