/*
 * The kernel of _normal.c, included once per instruction set with KERNEL(name) naming that
 * set's copy under the matching "#pragma GCC target". The loop is the same for every set:
 * each pair is computed alone (lanes never mix), by the operation sequence of
 * app/core/normal.py's _pairs32 and _store, one IEEE rounding per operation, in float32.
 */

/* n standard normal float32 values from the pairs' words, read as 2 (n + 1) / 2 uint32s. */
static void KERNEL(normal32)(const uint32_t *restrict w, ptrdiff_t n, float *restrict out)
{
    const ptrdiff_t pairs = n / 2;
    for (ptrdiff_t j = 0; j < pairs; j++) {
        float first, second;
        pair32(w[2 * j + LOW_HALF], w[2 * j + 1 - LOW_HALF], &first, &second);
        out[2 * j] = first;
        out[2 * j + 1] = second;
    }
    if (n % 2) {
        float first, second;
        pair32(w[2 * pairs + LOW_HALF], w[2 * pairs + 1 - LOW_HALF], &first, &second);
        out[n - 1] = first;
    }
}
