"""Orthogonal factor of a QR decomposition, the same bits on every machine.

Orthogonal initialization (Saxe et al. 2014) samples a Gaussian matrix ``A`` and keeps the
``Q`` of ``A = QR``. :func:`orthogonal_q` returns that ``Q`` with the sign correction
``Q <- Q * sign(diag R)`` of Mezzadri (2007), as torch's ``orthogonal_`` and JAX's
``random.orthogonal`` do: it makes the factorization unique (``R`` has a positive
diagonal) and, for a Gaussian ``A``, makes ``Q`` Haar distributed.

Why no LAPACK
    ``np.linalg.qr`` (LAPACK ``dgeqrf``/``dorgqr``), ``@``, ``np.dot``, ``np.einsum`` and
    the other BLAS-backed routines pick kernels at run time by CPU (OpenBLAS'
    ``DYNAMIC_ARCH``) and use FMA, vector widths and blockings that change the rounding:
    the same call gives different bytes on different machines. This module only uses
    operations whose result is fixed by IEEE 754 whatever SIMD path numpy dispatches to:
    elementwise ``+ - * /``, ``math.sqrt``, ``np.abs``, ``np.max``, copies, and
    ``np.add.reduce(x, axis=0)`` of C-contiguous arrays with at least two elements per
    row, which numpy adds row after row (one elementwise add per row, vectorised across
    columns), so every output is the left-to-right sum of its column. A reduction whose
    rows hold one element would collapse to numpy's 1-D pairwise summation, whose order
    depends on the ufunc buffer size: :func:`_sum_rows` never lets that happen. Scalars
    are Python floats (correctly rounded, never contracted to FMA). The compiled
    products (``app/core/_householder.c``, see Cost) do the same IEEE operations in the
    same order, without FMA, and give the same bits.

Algorithm
    Blocked Householder QR (Golub & Van Loan, *Matrix Computations*, 4th ed., 5.2.2 and
    5.1.7), reflectors as in LAPACK ``dlarfg``: for a column ``x = (alpha, x')``,
    ``beta = -sign(alpha) * ||x||``, ``v = (1, x' / (alpha - beta))``,
    ``tau = (beta - alpha) / beta``, ``H = I - tau v v^T`` and ``H x = beta e_1``. If
    ``x' = 0`` then ``tau = 0`` (``H = I``) and ``beta = alpha``. Column norms are computed
    on the column scaled by a power of two (exact), so they neither overflow nor underflow.
    Columns are factored in panels of :data:`PANEL_WIDTH`; a panel's reflectors are
    combined into the compact WY form ``H_1 ... H_b = I - V T V^T`` (``T`` upper
    triangular, Schreiber & Van Loan 1989, LAPACK ``dlarft``) and applied to the trailing
    columns as ``A2 -= V (T^T (V^T A2))``. The thin ``Q`` is then accumulated backwards
    from ``[I; 0]`` with ``Q2 -= V (T (V^T Q2))``, last panel first (as ``dorgqr``).
    Every entry of a matrix product is the sum ``+0.0 + p_0 + p_1 + ...`` of its rounded
    products, left to right (numpy's ``add.reduce`` starts from its identity ``+0.0``,
    which only turns a sum of negative zeros into ``+0.0``): no blocking, chunking or
    vector width changes a bit, only ``PANEL_WIDTH`` does, and it is fixed. Before
    factoring, every column of ``A`` is scaled by a power of two to a maximum magnitude in
    ``[0.5, 1)``: exact, it does not change ``Q`` (``A D = Q (R D)`` for a positive
    diagonal ``D``) and rules out overflow.

Sign convention
    Column ``j`` of the Householder ``Q`` is multiplied by ``sign(R[j, j])``, i.e. by
    ``sign(beta_j)``. Where ``R[j, j] == 0`` (column ``j`` of ``A`` lies in the span of the
    previous ones, e.g. a zero column) the sign is taken as ``+1``: ``Q`` stays orthonormal
    (``np.sign`` would give ``0`` and a zero column). Everywhere else the result equals
    ``q, r = np.linalg.qr(a); q * np.sign(np.diag(r))`` up to rounding.

Cost
    ``4 m n**2 - 4 n**3 / 3`` flops (``2 m n**2 - 2 n**3 / 3`` for the factorization and as
    many for ``Q``), like LAPACK, nearly all of them in the two products of each panel's
    ``_apply_wy`` (``W = V^T A2`` and ``A2 -= V (M W)``). Those go through
    :class:`Products`, which has two implementations with the same bits:

    - :class:`CompiledProducts` (the default): ``app/core/_householder.c``, built by
      ``setup.py`` when the package is installed. It keeps tiles of the sums in vector
      registers, one copy per instruction set (SSE2/NEON, AVX2, AVX-512, chosen at run
      time; lanes hold different outputs, never parts of one sum) and is compiled with
      ``-ffp-contract=off`` (no FMA). Measured with ``bench/bench_qr.py`` on 2026-12-05,
      one core of this project's machine (AMD EPYC): about 1.0 s for 2048 x 2048 with
      AVX-512 (1.2 s AVX2, 1.9 s SSE2), against about 0.45 s for torch's ``orthogonal_``
      (LAPACK, float32, one thread). The rest (panels, ``T``, Python) is about 0.17 s.
    - :class:`NumpyProducts`: numpy elementwise passes, used when the extension was not
      built (no C compiler). Each flop is a numpy result written to memory (0.20-0.21 ns
      per flop here), so 2048 x 2048 (2.3e10 flops) takes about 5 s. Matrix products are
      broadcast products into a scratch buffer followed by an axis-0 sum, worked through
      in cache-sized row chunks; the running sum is carried from chunk to chunk, so the
      chunk size never changes a bit.

    Memory: the input copy (which also keeps the reflectors), the output and a few MB of
    scratch.

Accuracy
    Householder QR is backward stable: ``||Q^T Q - I||`` is a small multiple of machine
    epsilon whatever the conditioning of ``A`` (measured: at most 1.3e-15 for Gaussian
    matrices up to 2048 x 2048, 9e-16 at ``cond(A) = 2e13``), and ``Q`` agrees with
    LAPACK's sign-corrected ``Q`` to about ``eps * cond(A)`` (measured: at most 8e-15 for
    Gaussian matrices up to 2048 x 2048).

The bytes returned are a function of the input bytes and of the code here alone (not of
the CPU, the BLAS, the thread count or numpy's ufunc buffer size). Changing
``PANEL_WIDTH``, the reflector formulas or the order of any sum changes the bytes. That
numpy adds an axis-0 reduction row after row is its implementation, not a documented
promise: ``tests/core/test_linalg.py`` checks it, with golden hashes and under CPU masks.
"""

from __future__ import annotations

import math
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from app.core.cancel import checkpoint
from app.core.errors import InvalidParameterError, ShapeError

try:
    from app.core import _householder
except ImportError:  # built without a C compiler: the numpy products, the same bits
    _householder = None  # type: ignore[assignment]

__all__ = [
    "PANEL_WIDTH",
    "CompiledProducts",
    "NumpyProducts",
    "Products",
    "compiled_kernel_sets",
    "kernel_name",
    "orthogonal_q",
    "orthogonal_q_with",
    "products",
]

F64 = NDArray[np.float64]

#: Reflectors per WY block. Part of the output's definition: changing it changes bits.
PANEL_WIDTH: Final = 16

#: Target size, in float64 elements, of one scratch chunk (4 MiB: measured best on a
#: 1 MiB-L2 / 32 MiB-L3 EPYC). Performance only: results do not depend on it.
_CHUNK_ELEMENTS: Final = 1 << 19


def orthogonal_q(a: F64) -> F64:
    """Thin ``Q`` of the Householder QR of ``a``, columns multiplied by ``sign(diag R)``.

    ``a`` is a finite float64 matrix of shape ``(m, n)`` with ``m >= n >= 1``; it is not
    modified. Returns a new C-contiguous float64 array of shape ``(m, n)`` with
    orthonormal columns whose implied ``R = Q^T a`` is upper triangular with a
    non-negative diagonal (``+1`` is used as the sign of a zero ``R[j, j]``). The result
    is bit-for-bit the same on every machine (see the module docstring), whichever of
    :func:`products` does the matrix products.

    Raises :class:`ShapeError` for a shape other than ``(m, n)`` with ``m >= n >= 1`` and
    :class:`InvalidParameterError` for a non-float64 dtype or a non-finite entry.
    """
    return orthogonal_q_with(a, products())


def products(kernel_set: str | None = None) -> Products:
    """The matrix products :func:`orthogonal_q` uses: compiled when available, else numpy.

    ``kernel_set`` (tests and benchmarks): ``"numpy"`` for the numpy path, or one of
    :func:`compiled_kernel_sets` for that copy of the compiled kernels; ``None`` for the
    fastest available. Every choice gives the same bits.
    """
    if kernel_set == "numpy" or (kernel_set is None and _householder is None):
        return NumpyProducts()
    return CompiledProducts(kernel_set)


def compiled_kernel_sets() -> tuple[str, ...]:
    """Copies of the compiled kernels this CPU runs, fastest first; ``()`` when the
    extension was not built (no C compiler at install time: the numpy path is used)."""
    return () if _householder is None else _householder.kernel_sets()


def kernel_name() -> str:
    """What :func:`orthogonal_q` runs here, e.g. ``"compiled (avx512f)"`` or ``"numpy"``."""
    sets = compiled_kernel_sets()
    return f"compiled ({sets[0]})" if sets else "numpy"


def orthogonal_q_with(a: F64, kernels: Products) -> F64:
    """:func:`orthogonal_q` with the matrix products of ``kernels`` (same bits for any)."""
    checkpoint()
    work = _validated_copy(a)
    m, n = work.shape
    # errstate scopes the buffer size too (numpy >= 2.0): both are restored on exit.
    with np.errstate(all="ignore"):
        _scale_columns(work)
        checkpoint()  # copying and scaling a 4096 x 4096 matrix take about 0.6 s
        signs = np.ones(n)
        panels: list[tuple[int, int, F64]] = []  # (first column, width, T^T)
        for k in range(0, n, PANEL_WIDTH):
            checkpoint()  # a client that went away stops a large QR within a panel
            b = min(PANEL_WIDTH, n - k)
            panel = np.ascontiguousarray(work[k:, k : k + b])
            taus = _factor_panel(panel, signs[k : k + b])
            if not taus.any():  # every H_j = I: nothing to apply
                continue
            work[k:, k : k + b] = panel  # keep V (strictly lower part) for the Q pass
            v = _unit_lower(panel)
            t, t_transposed = _wy_triangle(v, taus, kernels)
            panels.append((k, b, t_transposed))
            if k + b < n:
                # A2 <- (I - V T V^T)^T A2 = A2 - V (T^T W), W = V^T A2. The first b rows
                # of A2 become rows of R, which Q does not need: they are not updated.
                kernels.apply_wy(work[k:, k + b :], v, t, skip_rows=b)
        q = np.zeros((m, n))
        q[np.arange(n), np.arange(n)] = 1.0
        for k, b, t_transposed in reversed(panels):
            checkpoint()
            # Q2 <- (I - V T V^T) Q2 = Q2 - V (T W), W = V^T Q2.
            v = _unit_lower(work[k:, k : k + b])
            kernels.apply_wy(q[k:, k:], v, t_transposed, skip_rows=0)
        np.multiply(q, signs, out=q)
    return q


class Products(Protocol):
    """The two matrix products of the QR, each entry a left-to-right sum of rounded products."""

    def vt_times(self, v: F64, x: F64, out: F64) -> None:
        """``out = V^T X`` (``(b, C)``) for ``V`` ``(L, b)`` and ``X`` ``(L, C)``: each entry
        the left-to-right sum over rows ``l = 0 .. L-1`` of ``V[l, i] * X[l, c]``."""

    def apply_wy(self, a2: F64, v: F64, m_transposed: F64, *, skip_rows: int) -> None:
        """``A2 -= V (M W)`` with ``W = V^T A2``, in place; rows before ``skip_rows`` untouched.

        ``Y = M W`` sums over ``j`` in order (``Y[i, c] = sum_j M^T[j, i] W[j, c]``), then
        each row ``l`` subtracts the in-order sum ``sum_j V[l, j] Y[j, c]``. ``m_transposed``
        is ``M^T``, C-contiguous ``(b, b)``: pass ``T`` to apply ``(I - V T V^T)^T`` and
        ``T^T`` to apply ``I - V T V^T``.
        """


class CompiledProducts:
    """The products by ``app/core/_householder.c``: the same sums kept in vector registers."""

    def __init__(self, kernel_set: str | None = None) -> None:
        if _householder is None:
            raise RuntimeError("app.core._householder was not built (no C compiler?)")
        self._kernels = _householder
        self._set = kernel_set

    def vt_times(self, v: F64, x: F64, out: F64) -> None:
        self._kernels.vt_times(v, x, out, self._set)

    def apply_wy(self, a2: F64, v: F64, m_transposed: F64, *, skip_rows: int) -> None:
        self._kernels.apply_wy(a2, v, m_transposed, skip_rows, self._set)


class NumpyProducts:
    """The products by numpy elementwise passes (the reference; no compiler needed)."""

    def __init__(self) -> None:
        self._scratch: F64 = np.empty(0)
        self._rows_scratch: F64 = np.empty(0)

    def _room(self, n: int) -> None:
        # Scratch for n columns, grown to the largest n seen: results do not depend on it.
        need = _CHUNK_ELEMENTS + 2 * PANEL_WIDTH * n + PANEL_WIDTH * PANEL_WIDTH
        if self._scratch.shape[0] < need:
            self._scratch = np.empty(need)
            self._rows_scratch = np.empty(_CHUNK_ELEMENTS + n)

    def vt_times(self, v: F64, x: F64, out: F64) -> None:
        self._room(x.shape[1])
        _vt_times(v, x, out, self._scratch)

    def apply_wy(self, a2: F64, v: F64, m_transposed: F64, *, skip_rows: int) -> None:
        self._room(a2.shape[1])
        _apply_wy(a2, v, m_transposed, self._scratch, self._rows_scratch, skip_rows=skip_rows)


def _validated_copy(a: object) -> F64:
    """A C-contiguous copy of ``a``, after checking dtype, shape and finiteness."""
    arr = np.asarray(a)
    if arr.dtype != np.float64:
        raise InvalidParameterError(
            f"orthogonal_q needs a float64 matrix, got dtype {arr.dtype}.", field=None
        )
    if arr.ndim != 2:
        raise ShapeError(f"orthogonal_q needs a 2-D matrix, got shape {arr.shape}.")
    m, n = arr.shape
    if n < 1 or m < n:
        raise ShapeError(
            f"orthogonal_q needs a matrix of shape (m, n) with m >= n >= 1, got ({m}, {n})."
        )
    if not bool(np.isfinite(arr).all()):
        raise InvalidParameterError("orthogonal_q needs finite entries (no NaN or infinity).")
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def _unit_lower(panel: F64) -> F64:
    """``V``: a C-contiguous copy of the strictly lower part of ``panel`` with a unit diagonal."""
    b = panel.shape[1]
    v = np.tril(panel, -1)
    v[np.arange(b), np.arange(b)] = 1.0
    return v


def _pow2(exponent: int) -> float:
    """``2.0 ** exponent`` for -1022 <= exponent <= 1023, exactly."""
    return math.ldexp(1.0, exponent)


def _scale_columns(work: F64) -> None:
    """Scale each column in place by a power of two so its largest |entry| is in [0.5, 1).

    Exact (unless an entry becomes subnormal, which then rounds the same way everywhere);
    ``Q`` is invariant under positive column scaling. Zero columns are left alone.
    """
    col_max = np.max(np.abs(work), axis=0).tolist()
    first = np.ones(work.shape[1])
    second = np.ones(work.shape[1])
    need_second = False
    for j, c in enumerate(col_max):
        if c == 0.0:
            continue
        e = -math.frexp(c)[1]  # c * 2**e in [0.5, 1); -1024 <= e <= 1073
        half = e // 2
        if -1022 <= e <= 1023:
            first[j] = _pow2(e)
        else:  # two exact steps, each factor a normal float
            first[j] = _pow2(half)
            second[j] = _pow2(e - half)
            need_second = True
    np.multiply(work, first, out=work)
    if need_second:
        np.multiply(work, second, out=work)


def _sum_rows(x: F64, out: F64) -> None:
    """``out = 0.0 + x[0] + x[1] + ... + x[-1]``, elementwise, added in exactly that order.

    ``x`` and ``out`` must be C-contiguous with ``x.shape[1:] == out.shape``. numpy's
    ``add.reduce`` adds row after row, starting from its identity ``+0.0``, when a row has
    two or more elements (the ``+0.0`` only turns a sum of negative zeros into ``+0.0``);
    a one-element row would make numpy use its 1-D pairwise summation (whose order depends
    on the ufunc buffer size), so that case goes through ``accumulate``, whose last prefix
    is the left-to-right sum, and adds the ``+0.0`` itself.
    """
    assert x.flags.c_contiguous and out.flags.c_contiguous and x.shape[1:] == out.shape
    if out.size >= 2:
        np.add.reduce(x, axis=0, out=out)
    else:
        total = np.add.accumulate(x.reshape(x.shape[0], 1), axis=0)[-1]
        out[...] = (0.0 + total).reshape(out.shape)


def _sum_of_squares(y: F64) -> float:
    """Sum of squares of a 1-D array in a fixed order: 8 interleaved lanes, then a tree."""
    size = y.shape[0]
    lanes = -(-size // 8)
    sq = np.zeros(lanes * 8)
    np.multiply(y, y, out=sq[:size])
    part = np.empty(8)
    _sum_rows(sq.reshape(lanes, 8), part)
    p = part.tolist()
    return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))


def _factor_panel(panel: F64, signs: F64) -> F64:
    """Unblocked Householder QR of a C-contiguous ``(L, b)`` panel, in place.

    On return the strict lower part of column ``j`` holds ``v_j`` (unit first entry
    implied). Returns the ``tau_j`` and writes ``-1.0`` in ``signs[j]`` where
    ``R[j, j] = beta_j < 0``.
    """
    _rows, b = panel.shape
    # Short rows: let numpy batch them through a full-size ufunc buffer. Performance only.
    np.setbufsize(8192)
    taus = np.zeros(b)
    for j in range(b):
        x = panel[j:, j]
        tail = x[1:]
        alpha = float(x[0])
        tail_max = float(np.abs(tail).max()) if tail.shape[0] > 0 else 0.0
        if tail_max == 0.0:  # H = I, R[j, j] = alpha
            if alpha < 0.0:
                signs[j] = -1.0
            continue
        beta_s, tau = _reflector(x, tail_max)
        taus[j] = tau
        if beta_s < 0.0:
            signs[j] = -1.0
        if j + 1 < b:
            x[0] = 1.0
            _apply_reflector(x, panel[j:, j + 1 :], tau)
    return taus


def _reflector(x: F64, tail_max: float) -> tuple[float, float]:
    """``(beta, tau)`` of column ``x = (alpha, x')`` with ``x' != 0`` (``beta`` scaled by a
    power of two: only its sign is used); ``v' = x' / (alpha - beta)`` is written over ``x'``.
    """
    tail = x[1:]
    alpha = float(x[0])
    # Scale by 2**e (exact) so the largest of |alpha|, |x'| is in [0.5, 1).
    e = -math.frexp(max(abs(alpha), tail_max))[1]
    half = e // 2
    f1, f2 = _pow2(half), _pow2(e - half)
    tail_s = tail * f1
    np.multiply(tail_s, f2, out=tail_s)
    alpha_s = alpha * f1 * f2
    norm_s = math.sqrt(alpha_s * alpha_s + _sum_of_squares(tail_s))
    beta_s = -norm_s if alpha_s >= 0.0 else norm_s
    tau = (beta_s - alpha_s) / beta_s
    np.divide(tail_s, alpha_s - beta_s, out=tail)
    return beta_s, tau


def _apply_reflector(v: F64, trailing: F64, tau: float) -> None:
    """``trailing -= v (tau v^T trailing)``, in place (``H`` applied to the trailing columns)."""
    prod = np.empty(trailing.shape)
    np.multiply(v[:, None], trailing, out=prod)
    w = np.empty(trailing.shape[1])
    _sum_rows(prod, w)
    np.multiply(w, tau, out=w)
    np.multiply(v[:, None], w, out=prod)
    np.subtract(trailing, prod, out=trailing)


def _vt_times(v: F64, x: F64, out: F64, scratch: F64) -> None:
    """``out = V^T X`` (``(b, C)``) for ``V`` ``(L, b)`` and ``X`` ``(L, C)``.

    Each entry is the left-to-right sum over rows ``l = 0 .. L-1`` of ``V[l, i] * X[l, c]``:
    row chunks are multiplied into ``scratch`` behind a copy of the running sum, so the
    chunking does not change the order of the additions.
    """
    rows, b = v.shape
    cols = x.shape[1]
    slab = b * cols
    chunk = max(1, _CHUNK_ELEMENTS // slab)
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        count = stop - start
        if start == 0:
            buf = scratch[: count * slab].reshape(count, b, cols)
            np.multiply(v[start:stop, :, None], x[start:stop, None, :], out=buf)
        else:
            buf = scratch[: (count + 1) * slab].reshape(count + 1, b, cols)
            buf[0] = out
            np.multiply(v[start:stop, :, None], x[start:stop, None, :], out=buf[1:])
        _sum_rows(buf, out)


def _wy_triangle(v: F64, taus: F64, kernels: Products) -> tuple[F64, F64]:
    """``T`` (upper triangular) and ``T^T`` with ``H_1 ... H_b = I - V T V^T`` (``dlarft``).

    ``T[j, j] = tau_j`` and ``T[:j, j] = -tau_j T[:j, :j] (V[:, :j]^T v_j)``.
    """
    b = v.shape[1]
    gram = np.empty((b, b))
    kernels.vt_times(v, v, gram)
    t_transposed = np.zeros((b, b))  # row j holds column j of T
    for j in range(b):
        tau = float(taus[j])
        t_transposed[j, j] = tau
        if j > 0 and tau != 0.0:
            # sum over c < j of T[r, c] * gram[c, j] = T^T[c, r] * gram[c, j]
            prod = np.empty((j, j))
            np.multiply(t_transposed[:j, :j], gram[:j, j : j + 1], out=prod)
            col = np.empty(j)
            _sum_rows(prod, col)
            np.multiply(col, -tau, out=t_transposed[j, :j])
    return np.ascontiguousarray(t_transposed.T), t_transposed


def _apply_wy(
    a2: F64, v: F64, m_transposed: F64, scratch: F64, rows_scratch: F64, *, skip_rows: int
) -> None:
    """``A2 -= V (M W)`` with ``W = V^T A2``, in place; rows before ``skip_rows`` untouched.

    ``m_transposed`` is ``M^T``, C-contiguous ``(b, b)``: pass ``T`` to apply
    ``(I - V T V^T)^T`` and ``T^T`` to apply ``I - V T V^T``.
    """
    rows, cols = a2.shape
    b = v.shape[1]
    # Broadcast products with rows shorter than the ufunc buffer are copied through it;
    # a buffer no longer than a row keeps them direct. Performance only.
    np.setbufsize(min(8192, max(16, cols // 16 * 16)))
    w = np.empty((b, cols))
    _vt_times(v, a2, w, scratch)
    # Y = M W: Y[i, c] = sum_j M^T[j, i] W[j, c], in column chunks.
    y = np.empty((b, cols))
    step = max(1, _CHUNK_ELEMENTS // (b * b))
    for c0 in range(0, cols, step):
        c1 = min(cols, c0 + step)
        buf = scratch[: b * b * (c1 - c0)].reshape(b, b, c1 - c0)
        np.multiply(m_transposed[:, :, None], w[:, None, c0:c1], out=buf)
        if c1 - c0 == cols:
            _sum_rows(buf, y)
        else:
            part = rows_scratch[: b * (c1 - c0)].reshape(b, c1 - c0)
            _sum_rows(buf, part)
            y[:, c0:c1] = part
    v_transposed = np.ascontiguousarray(v.T)
    chunk = max(1, _CHUNK_ELEMENTS // (b * cols))
    for start in range(skip_rows, rows, chunk):
        stop = min(rows, start + chunk)
        count = stop - start
        buf = scratch[: b * count * cols].reshape(b, count, cols)
        np.multiply(v_transposed[:, start:stop, None], y[:, None, :], out=buf)
        u = rows_scratch[: count * cols].reshape(count, cols)
        _sum_rows(buf, u)
        np.subtract(a2[start:stop], u, out=a2[start:stop])
