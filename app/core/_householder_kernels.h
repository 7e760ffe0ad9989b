/*
 * The kernels of _householder.c, included once per instruction set with KERNEL(name) naming
 * that set's copy (name_baseline, name_avx2, name_avx512) under the matching
 * "#pragma GCC target", and VEC a vector of VW doubles that fits one register of the set.
 * The source is the same for every set: vector lanes hold different outputs, never parts of
 * one sum, so neither VW nor the width the compiler picks changes a bit.
 */

static inline VEC KERNEL(loadv)(const double *p)
{
    VEC r;
    memcpy(&r, p, sizeof r);
    return r;
}

static inline void KERNEL(storev)(double *p, VEC x) { memcpy(p, &x, sizeof x); }

/* W (b x cols, row stride cols) = V^T X, V (L x b, row stride b), X (L x cols, row stride ldx). */
static void KERNEL(vt_times_any)(const double *v, ptrdiff_t rows, ptrdiff_t b, const double *x,
                         ptrdiff_t ldx, ptrdiff_t cols, double *w, ptrdiff_t ldw)
{
    for (ptrdiff_t l0 = 0; l0 < rows; l0 += ROWS_PER_PASS) {
        const ptrdiff_t l1 = rows - l0 < ROWS_PER_PASS ? rows : l0 + ROWS_PER_PASS;
        const ptrdiff_t first = l0 == 0 ? 1 : l0; /* the first pass starts from row 0's products */
        ptrdiff_t j0 = 0;
        for (; j0 + 4 <= b; j0 += 4) {
            double *w0 = w + j0 * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
            ptrdiff_t c0 = 0;
            for (; c0 + 2 * VW <= cols; c0 += 2 * VW) {
                VEC a00, a01, a10, a11, a20, a21, a30, a31;
                if (l0 == 0) {
                    const VEC x0 = KERNEL(loadv)(x + c0), x1 = KERNEL(loadv)(x + c0 + VW);
                    a00 = v[j0] * x0 + 0.0, a01 = v[j0] * x1 + 0.0;
                    a10 = v[j0 + 1] * x0 + 0.0, a11 = v[j0 + 1] * x1 + 0.0;
                    a20 = v[j0 + 2] * x0 + 0.0, a21 = v[j0 + 2] * x1 + 0.0;
                    a30 = v[j0 + 3] * x0 + 0.0, a31 = v[j0 + 3] * x1 + 0.0;
                } else {
                    a00 = KERNEL(loadv)(w0 + c0), a01 = KERNEL(loadv)(w0 + c0 + VW);
                    a10 = KERNEL(loadv)(w1 + c0), a11 = KERNEL(loadv)(w1 + c0 + VW);
                    a20 = KERNEL(loadv)(w2 + c0), a21 = KERNEL(loadv)(w2 + c0 + VW);
                    a30 = KERNEL(loadv)(w3 + c0), a31 = KERNEL(loadv)(w3 + c0 + VW);
                }
                for (ptrdiff_t l = first; l < l1; l++) {
                    const double *xr = x + l * ldx + c0;
                    const double *vr = v + l * b + j0;
                    const VEC x0 = KERNEL(loadv)(xr), x1 = KERNEL(loadv)(xr + VW);
                    a00 += vr[0] * x0;
                    a01 += vr[0] * x1;
                    a10 += vr[1] * x0;
                    a11 += vr[1] * x1;
                    a20 += vr[2] * x0;
                    a21 += vr[2] * x1;
                    a30 += vr[3] * x0;
                    a31 += vr[3] * x1;
                }
                KERNEL(storev)(w0 + c0, a00);
                KERNEL(storev)(w0 + c0 + VW, a01);
                KERNEL(storev)(w1 + c0, a10);
                KERNEL(storev)(w1 + c0 + VW, a11);
                KERNEL(storev)(w2 + c0, a20);
                KERNEL(storev)(w2 + c0 + VW, a21);
                KERNEL(storev)(w3 + c0, a30);
                KERNEL(storev)(w3 + c0 + VW, a31);
            }
            for (; c0 < cols; c0++) {
                for (ptrdiff_t j = j0; j < j0 + 4; j++) {
                    double s = l0 == 0 ? v[j] * x[c0] + 0.0 : w[j * ldw + c0];
                    for (ptrdiff_t l = first; l < l1; l++)
                        s += v[l * b + j] * x[l * ldx + c0];
                    w[j * ldw + c0] = s;
                }
            }
        }
        for (; j0 < b; j0++) { /* the last b % 4 rows of W: a row at a time, vectorised across c */
            double *wr = w + j0 * ldw;
            if (l0 == 0)
                for (ptrdiff_t c = 0; c < cols; c++)
                    wr[c] = v[j0] * x[c] + 0.0;
            for (ptrdiff_t l = first; l < l1; l++) {
                const double vl = v[l * b + j0];
                const double *xr = x + l * ldx;
                for (ptrdiff_t c = 0; c < cols; c++)
                    wr[c] += vl * xr[c];
            }
        }
    }
}

/* Y (b x cols) = M W, given M^T (b x b, row stride b) and W (b x cols). */
static void KERNEL(m_times)(const double *m_t, ptrdiff_t b, const double *w, ptrdiff_t cols, double *y)
{
    for (ptrdiff_t i = 0; i < b; i++) {
        double *yr = y + i * cols;
        const double m0 = m_t[i];
        for (ptrdiff_t c = 0; c < cols; c++)
            yr[c] = m0 * w[c] + 0.0;
        for (ptrdiff_t j = 1; j < b; j++) {
            const double mj = m_t[j * b + i];
            const double *wr = w + j * cols;
            for (ptrdiff_t c = 0; c < cols; c++)
                yr[c] += mj * wr[c];
        }
    }
}

/* subtract_v_times for any b and layout; Y has row stride ldy. */
static void KERNEL(subtract_v_times_any)(double *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t cols,
                                 const double *v, ptrdiff_t b, const double *y, ptrdiff_t ldy,
                                 ptrdiff_t skip)
{
    ptrdiff_t l0 = skip;
    for (; l0 + 4 <= rows; l0 += 4) {
        const double *v0 = v + l0 * b, *v1 = v0 + b, *v2 = v1 + b, *v3 = v2 + b;
        ptrdiff_t c0 = 0;
        for (; c0 + 2 * VW <= cols; c0 += 2 * VW) {
            const double *yr = y + c0;
            VEC y0 = KERNEL(loadv)(yr), y1 = KERNEL(loadv)(yr + VW);
            VEC a00 = v0[0] * y0 + 0.0, a01 = v0[0] * y1 + 0.0;
            VEC a10 = v1[0] * y0 + 0.0, a11 = v1[0] * y1 + 0.0;
            VEC a20 = v2[0] * y0 + 0.0, a21 = v2[0] * y1 + 0.0;
            VEC a30 = v3[0] * y0 + 0.0, a31 = v3[0] * y1 + 0.0;
            for (ptrdiff_t j = 1; j < b; j++) {
                yr += ldy;
                y0 = KERNEL(loadv)(yr);
                y1 = KERNEL(loadv)(yr + VW);
                a00 += v0[j] * y0;
                a01 += v0[j] * y1;
                a10 += v1[j] * y0;
                a11 += v1[j] * y1;
                a20 += v2[j] * y0;
                a21 += v2[j] * y1;
                a30 += v3[j] * y0;
                a31 += v3[j] * y1;
            }
            double *ar = a + l0 * lda + c0;
            KERNEL(storev)(ar, KERNEL(loadv)(ar) - a00);
            KERNEL(storev)(ar + VW, KERNEL(loadv)(ar + VW) - a01);
            KERNEL(storev)(ar + lda, KERNEL(loadv)(ar + lda) - a10);
            KERNEL(storev)(ar + lda + VW, KERNEL(loadv)(ar + lda + VW) - a11);
            KERNEL(storev)(ar + 2 * lda, KERNEL(loadv)(ar + 2 * lda) - a20);
            KERNEL(storev)(ar + 2 * lda + VW, KERNEL(loadv)(ar + 2 * lda + VW) - a21);
            KERNEL(storev)(ar + 3 * lda, KERNEL(loadv)(ar + 3 * lda) - a30);
            KERNEL(storev)(ar + 3 * lda + VW, KERNEL(loadv)(ar + 3 * lda + VW) - a31);
        }
        for (; c0 < cols; c0++) {
            for (ptrdiff_t l = l0; l < l0 + 4; l++) {
                double s = v[l * b] * y[c0] + 0.0;
                for (ptrdiff_t j = 1; j < b; j++)
                    s += v[l * b + j] * y[j * ldy + c0];
                a[l * lda + c0] -= s;
            }
        }
    }
    for (; l0 < rows; l0++) { /* the last rows: one at a time */
        const double *vr = v + l0 * b;
        double *ar = a + l0 * lda;
        for (ptrdiff_t c = 0; c < cols; c++) {
            double s = vr[0] * y[c] + 0.0;
            for (ptrdiff_t j = 1; j < b; j++)
                s += vr[j] * y[j * ldy + c];
            ar[c] -= s;
        }
    }
}

#if defined(KERNEL_WIDE)
/* Wider tiles for 32 vector registers (AVX-512). */

static inline v8d KERNEL(load8)(const double *p)
{
    v8d r;
    memcpy(&r, p, sizeof r);
    return r;
}

/* vt_times for b == 16 with AVX-512: a 16 x 8 tile of W in 16 registers, so each pass reads
 * its rows of X once. Columns up to cols - cols % 8; returns how many it did. */
static ptrdiff_t
KERNEL(vt_times_16)(const double *v, ptrdiff_t rows, const double *x, ptrdiff_t ldx, ptrdiff_t cols,
            double *w)
{
    const ptrdiff_t done = cols - cols % 8;
    for (ptrdiff_t l0 = 0; l0 < rows; l0 += ROWS_PER_PASS) {
        const ptrdiff_t l1 = rows - l0 < ROWS_PER_PASS ? rows : l0 + ROWS_PER_PASS;
        const ptrdiff_t first = l0 == 0 ? 1 : l0;
        for (ptrdiff_t c0 = 0; c0 < done; c0 += 8) {
            v8d acc[16];
            if (l0 == 0) {
                const v8d x0 = KERNEL(load8)(x + c0);
                for (int j = 0; j < 16; j++)
                    acc[j] = v[j] * x0 + 0.0;
            } else {
                for (int j = 0; j < 16; j++)
                    acc[j] = KERNEL(load8)(w + j * cols + c0);
            }
            for (ptrdiff_t l = first; l < l1; l++) {
                const v8d x0 = KERNEL(load8)(x + l * ldx + c0);
                const double *vr = v + l * 16;
                for (int j = 0; j < 16; j++)
                    acc[j] += vr[j] * x0;
            }
            for (int j = 0; j < 16; j++)
                memcpy(w + j * cols + c0, &acc[j], sizeof acc[j]);
        }
    }
    return done;
}

/* subtract_v_times with AVX-512: 4 rows x 16 columns of sums in 8 registers. Columns up to
 * cols - cols % 16, rows from skip to rows - (rows - skip) % 4; returns the columns done. */
static ptrdiff_t
KERNEL(subtract_v_times_x16)(double *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t cols, const double *v,
                     ptrdiff_t b, const double *y, ptrdiff_t skip)
{
    const ptrdiff_t done = cols - cols % 16;
    const ptrdiff_t row_end = rows - (rows - skip) % 4;
    for (ptrdiff_t l0 = skip; l0 < row_end; l0 += 4) {
        const double *vr = v + l0 * b;
        for (ptrdiff_t c0 = 0; c0 < done; c0 += 16) {
            v8d acc[4][2];
            const v8d y0 = KERNEL(load8)(y + c0), y1 = KERNEL(load8)(y + c0 + 8);
            for (int r = 0; r < 4; r++) {
                acc[r][0] = vr[r * b] * y0 + 0.0;
                acc[r][1] = vr[r * b] * y1 + 0.0;
            }
            for (ptrdiff_t j = 1; j < b; j++) {
                const v8d yj0 = KERNEL(load8)(y + j * cols + c0), yj1 = KERNEL(load8)(y + j * cols + c0 + 8);
                for (int r = 0; r < 4; r++) {
                    acc[r][0] += vr[r * b + j] * yj0;
                    acc[r][1] += vr[r * b + j] * yj1;
                }
            }
            for (int r = 0; r < 4; r++) {
                double *ar = a + (l0 + r) * lda + c0;
                const v8d d0 = KERNEL(load8)(ar) - acc[r][0], d1 = KERNEL(load8)(ar + 8) - acc[r][1];
                memcpy(ar, &d0, sizeof d0);
                memcpy(ar + 8, &d1, sizeof d1);
            }
        }
    }
    return done;
}
#endif

/* W (b x cols) = V^T X: the entry point. */
static void KERNEL(vt_times)(const double *v, ptrdiff_t rows, ptrdiff_t b, const double *x,
                             ptrdiff_t ldx, ptrdiff_t cols, double *w)
{
    ptrdiff_t done = 0;
#if defined(KERNEL_WIDE)
    if (b == 16)
        done = KERNEL(vt_times_16)(v, rows, x, ldx, cols, w);
#endif
    if (done < cols)
        KERNEL(vt_times_any)(v, rows, b, x + done, ldx, cols - done, w + done, cols);
}

/* A[l, :] -= V[l, :] Y for skip <= l < rows: the entry point. */
static void KERNEL(subtract_v_times)(double *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t cols,
                                     const double *v, ptrdiff_t b, const double *y,
                                     ptrdiff_t skip)
{
#if defined(KERNEL_WIDE)
    const ptrdiff_t done = KERNEL(subtract_v_times_x16)(a, lda, rows, cols, v, b, y, skip);
    const ptrdiff_t row_end = rows - (rows - skip) % 4;
    if (done < cols) /* the last columns of the rows done above */
        KERNEL(subtract_v_times_any)(a + done, lda, row_end, cols - done, v, b, y + done, cols,
                                     skip);
    /* the last rows, every column */
    KERNEL(subtract_v_times_any)(a, lda, rows, cols, v, b, y, cols, row_end);
#else
    KERNEL(subtract_v_times_any)(a, lda, rows, cols, v, b, y, cols, skip);
#endif
}
