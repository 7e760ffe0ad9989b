"""torch.nn.init's functions on torch's CPU generator, and how exact each reproduction is.

A law (``laws.py``) maps to one torch call on a fresh ``torch.empty(shape, dtype=...)``:

* ``UniformLaw(low, high)``        -> ``uniform_(t, low, high)``
* ``NormalLaw(mean, std)``         -> ``normal_(t, mean, std)``
* ``TruncatedNormalLaw``           -> ``trunc_normal_(t, mean, sigma, low, high)`` (absolute bounds)
* ``OrthogonalLaw`` (torch's rows = shape[0]) -> ``orthogonal_(t, gain)``
* ``ConstantLaw`` -> ``constant_``; identity -> ``eye_`` (times gain); Dirac -> ``dirac_``;
  counters -> an int64 zero: these draw nothing.

Every scheme resolves to such a law with torch's operation order for its constants (the
``torch.*`` rows, ``torch.default``; canonical rows give the real number rounded once, which is
torch's double wherever torch's order is exact). ``SparseLaw`` -> ``sparse_(t, sparsity,
std)``: ``normal_(0, std)``, then per column ``randperm(rows)`` (``torch_cpu.randperm_columns``)
whose first ``ceil(sparsity * rows)`` rows are zeroed. Delta-orthogonal (JAX) and
Keras/JAX-flattened orthogonal laws have no torch call, and torch's ``orthogonal_`` raises on
float16/bfloat16: these are refused before anything is drawn.

``trunc_normal_`` follows torch 2.13 (torch/nn/init.py ``_no_grad_trunc_normal_``): with
``p = Phi(beta) - Phi(alpha) > 0.3`` it fills ``normal_(mean, std)`` and, while any value lies
outside ``[float(a), float(b)]``, draws a fresh full-size ``normal_`` and takes its values
there. With ``p <= 0.3`` it draws ``uniform_(a, b)`` proposals and full-size ``uniform_()``
acceptance variates, accepting where ``log(U) <= -((x - mean) / std)**2 / 2 - log_peak``, and
redraws both for the pending elements until none is left (:func:`_trunc_uniform`). The draws
and the arithmetic are torch's; its ``log_`` is SLEEF's vectorised log, which this module does
not replay, so that path is approximate without a bound (and so is every later draw).

``orthogonal_`` (torch/nn/init.py): ``normal_(0, 1)`` on ``(rows, cols)``, transposed when
rows < cols, Q of its QR times ``sign(diag(R))``, transposed back, times ``gain``. The normal
draws are torch's; the QR is numpy's LAPACK in float64 where torch runs its own LAPACK in the
tensor's dtype, so Q agrees to a few ulp of float32 (measured, :data:`EXACTNESS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .deterministic import deterministic_values
from .dtypes import cast_output, working_dtype
from .errors import InvalidParameterError
from .laws import (
    ConstantLaw,
    CounterLaw,
    DiracLaw,
    IdentityLaw,
    Law,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    SparseLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from .torch_cpu import (
    NORMAL_FILL_MIN,
    TorchGenerator,
    clamp_upper,
    normal_,
    randperm_columns,
    uniform_,
)
from .types import DType

Shape = tuple[int, ...]
TRUNC_NORMAL_MIN_MASS = 0.3  # torch 2.13: above it, normal rejection; else uniform proposals


@dataclass(frozen=True)
class Exactness:
    """``exact``: torch's bytes; else within ``max_ulp`` ulp of them (None: no bound, a
    rejection decision earlier in the stream may have gone the other way)."""

    exact: bool
    max_ulp: int | None = None

    @property
    def label(self) -> str:
        return "exact" if self.exact else "approximate"

    def worst(self, other: Exactness) -> Exactness:
        if self.exact:
            return other
        if other.exact:
            return self
        if self.max_ulp is None or other.max_ulp is None:
            return UNBOUNDED
        return Exactness(False, max(self.max_ulp, other.max_ulp))


EXACT = Exactness(True)
UNBOUNDED = Exactness(False, None)


@dataclass(frozen=True)
class ExactnessRow:
    """One row of the registry: a torch call, the dtypes and sizes it covers, its exactness."""

    call: str
    dtypes: str
    exactness: Exactness
    why: str


# Against torch 2.13.0+cpu on x86-64 with AVX2 or AVX-512 (its default CPU kernels there).
# The ulp bounds were measured by tools/make_framework_fixtures.py (its manifest records them)
# and the fixture tests check every approximate fixture against them.
# Both libm paths call glibc's log/log1p/cos/sin through Python's math module, the functions
# torch calls: 0 ulp against torch 2.13 on the same machine (measured); 1 ulp allows for
# another libm on either side. A float64 normal with a mean other than 0 is unbounded: near
# -mean, an ulp of radius * cos * std is any number of ulp of the (cancelled) result.
SCALAR_NORMAL = Exactness(False, 1)
DOUBLE_FILL16 = Exactness(False, 1)
# LAPACK's float32 QR and numpy's float64 one differ by about one float32 eps in absolute
# terms (measured: <= 1.8e-7 float32, <= 4.2e-16 float64 on 8x12), which is hundreds of ulp
# for entries near zero: no ulp bound is claimed.
ORTHOGONAL = UNBOUNDED
EXACTNESS: tuple[ExactnessRow, ...] = (
    ExactnessRow(
        "uniform_, kaiming_uniform_, xavier_uniform_, Linear/Conv/RNN/Bilinear defaults",
        "all",
        EXACT,
        "MT19937 words, 24- or 53-bit mantissa, one fused multiply-add: integer and IEEE ops",
    ),
    ExactnessRow(
        "normal_, kaiming_normal_, xavier_normal_, sparse_, trunc_normal_ with > 30% of the "
        "mass (>= 16 elements)",
        "float32, float16, bfloat16",
        EXACT,
        "the AVX2 kernel's Cephes log/sincos (avx_mathfun.h) are float32 ops, replayed op for op",
    ),
    ExactnessRow(
        "normal_, kaiming_normal_, xavier_normal_, sparse_, trunc_normal_ with > 30% of the "
        "mass (>= 16 elements)",
        "float64",
        DOUBLE_FILL16,
        "libm's log/cos/sin in double, called through Python's math (same glibc: 0 ulp "
        "measured); unbounded when mean != 0 (cancellation near -mean)",
    ),
    ExactnessRow(
        "normal_ and friends on < 16 elements (Embedding rows, bias_k/bias_v)",
        "all",
        SCALAR_NORMAL,
        "scalar double Box-Muller with libm log1p/sin/cos (Python's math: same glibc, 0 ulp "
        "measured here; another libm may differ); float64 with mean != 0 unbounded",
    ),
    ExactnessRow(
        "trunc_normal_ with <= 30% of the mass (uniform proposals), and every draw after it",
        "all",
        UNBOUNDED,
        "proposals and draw counts are torch's, but acceptance compares with log_, SLEEF's "
        "vectorised log, replaced by the correctly rounded log (they differ on 7.5% of float32 "
        "inputs, measured): a decision an ulp from the bound may go the other way",
    ),
    ExactnessRow(
        "orthogonal_ (float16/bfloat16: a 422, torch's QR raises)",
        "float32, float64",
        ORTHOGONAL,
        "exact normal draws, but QR by numpy's LAPACK (float64) instead of torch's (float32)",
    ),
    ExactnessRow(
        "constant_, zeros_, ones_, eye_, dirac_, norms, PReLU, zeroed biases",
        "all",
        EXACT,
        "no draw",
    ),
)


def normal_exactness(numel: int, dtype: DType, mean: float = 0.0) -> Exactness:
    """How exact ``normal_`` is on ``numel`` elements of ``dtype`` (:data:`EXACTNESS`)."""
    if numel < NORMAL_FILL_MIN:
        how = SCALAR_NORMAL
    else:
        how = DOUBLE_FILL16 if dtype is DType.FLOAT64 else EXACT
    if not how.exact and dtype is DType.FLOAT64 and mean != 0.0:
        return UNBOUNDED  # an ulp before the mean is added is unbounded ulp after it
    return how


def refusal(law: Law, shape: Shape, dtype: DType = DType.FLOAT32) -> str | None:
    """Why ``law`` has no torch call on a tensor of ``shape`` and ``dtype`` (None: it has
    one)."""
    if isinstance(law, OrthogonalLaw) and dtype in (DType.FLOAT16, DType.BFLOAT16):
        return (
            f"torch's orthogonal_ raises on {dtype.value} (its QR, geqrf_cpu, is not "
            "implemented for half precision; measured with torch 2.13): use float32 or float64"
        )
    if isinstance(law, OrthogonalLaw) and (len(shape) < 2 or law.rows != shape[0]):
        return (
            "its orthogonal scheme flattens the tensor as Keras/JAX do (rows = all but the last "
            "dimension); torch's orthogonal_ takes rows = shape[0]: use torch.orthogonal_"
        )
    if isinstance(
        law,
        UniformLaw
        | NormalLaw
        | TruncatedNormalLaw
        | OrthogonalLaw
        | ConstantLaw
        | CounterLaw
        | IdentityLaw
        | DiracLaw
        | SegmentsLaw
        | SparseLaw,
    ):
        return None
    return (
        f"its law ({type(law).__name__}) has no torch.nn.init function on the CPU generator "
        "(delta-orthogonal is JAX's)"
    )


def check_law(law: Law, shape: Shape, name: str, dtype: DType = DType.FLOAT32) -> None:
    """A 422 naming the tensor and the fix when ``law`` has no torch call."""
    why = refusal(law, shape, dtype)
    if why is not None:
        raise InvalidParameterError(
            f"Tensor {name!r}: {why}; or use algorithm 'blocks-v1'.", field="algorithm"
        )


def _norm_cdf(x: float) -> float:
    """torch/nn/init.py ``norm_cdf``: ``(1 + erf(x / sqrt(2))) / 2``."""
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _mass(law: TruncatedNormalLaw) -> float:
    """torch's ``p`` (it decides which path trunc_normal_ takes)."""
    return _norm_cdf((law.high - law.mean) / law.sigma) - _norm_cdf(
        (law.low - law.mean) / law.sigma
    )


def law_exactness(law: Law, numel: int, dtype: DType) -> Exactness:
    """How exact torch's call for ``law`` is reproduced (:data:`EXACTNESS`). An approximate
    ``trunc_normal_`` is unbounded: a value within its ulp bound of a limit may be kept here
    and redrawn by torch (or the reverse), which changes that element and every later draw."""
    if isinstance(law, NormalLaw):
        return normal_exactness(numel, dtype, law.mean)
    if isinstance(law, TruncatedNormalLaw):
        if _mass(law) <= TRUNC_NORMAL_MIN_MASS:
            return UNBOUNDED  # accepted by comparisons with SLEEF's vectorised log
        return EXACT if normal_exactness(numel, dtype).exact else UNBOUNDED
    if isinstance(law, SparseLaw):
        return normal_exactness(numel, dtype)  # randperm's zero positions are exact
    if isinstance(law, OrthogonalLaw):
        return ORTHOGONAL
    return EXACT


def draws(law: Law) -> bool:
    """Whether torch's call for ``law`` consumes generator words."""
    return isinstance(law, UniformLaw | NormalLaw | TruncatedNormalLaw | OrthogonalLaw | SparseLaw)


def draw(gen: TorchGenerator, shape: Shape, dtype: DType, law: Law) -> NDArray[np.generic]:
    """The tensor torch's call for ``law`` writes into ``torch.empty(shape, dtype)``, drawing
    from ``gen``."""
    n = math.prod(shape)
    if isinstance(law, CounterLaw):
        return np.zeros(shape, dtype=np.int64)
    if not draws(law):
        return _fixed(shape, dtype, law)
    if isinstance(law, UniformLaw):
        return _uniform(gen, n, law.low, law.high, dtype).reshape(shape)
    if isinstance(law, NormalLaw):
        return cast_output(_normal(gen, n, law.mean, law.std, dtype), dtype).reshape(shape)
    values: NDArray[np.generic] = _DRAWS[type(law)](gen, shape, dtype, law)
    return values


def _uniform(gen: TorchGenerator, n: int, low: float, high: float, dtype: DType) -> NDArray[Any]:
    """``uniform_(low, high)`` on ``n`` elements of ``dtype``, cast and clamped as torch's."""
    values = cast_output(uniform_(gen, n, low, high, dtype is DType.FLOAT64), dtype)
    return clamp_upper(values, low, high)


def _sparse(gen: TorchGenerator, shape: Shape, dtype: DType, law: SparseLaw) -> NDArray[np.generic]:
    """torch 2.13 ``sparse_``: ``normal_(0, std)``, then per column ``randperm(rows)`` and its
    first ``ceil(sparsity * rows)`` rows of that column set to 0."""
    rows, cols = shape
    n = rows * cols
    values = cast_output(_normal(gen, n, 0.0, law.value_std, dtype), dtype).reshape(shape)
    perms = randperm_columns(gen, rows, cols)
    zero = perms[:, : law.zeros_per_column]
    values[zero, np.arange(cols)[:, None]] = 0
    return values


def _normal(gen: TorchGenerator, n: int, mean: float, std: float, dtype: DType) -> Any:
    """``normal_`` on ``n`` elements of ``dtype``, in the kernel's precision."""
    reduced = dtype in (DType.FLOAT16, DType.BFLOAT16)
    return normal_(gen, n, mean, std, dtype is DType.FLOAT64, reduced=reduced)


def _fixed(shape: Shape, dtype: DType, law: Law) -> NDArray[np.generic]:
    """constant_, eye_, dirac_ (and Keras's forget-bias segments): no draw."""
    working = working_dtype(dtype)
    if isinstance(law, ConstantLaw):
        return cast_output(np.full(shape, law.value, dtype=working), dtype)
    fixed = deterministic_values(shape, law, working)
    assert fixed is not None, f"no torch call for {law!r}"
    return cast_output(fixed, dtype)


def _trunc_normal(
    gen: TorchGenerator, shape: Shape, dtype: DType, law: TruncatedNormalLaw
) -> NDArray[np.generic]:
    """trunc_normal_'s normal-rejection path (module docstring), on the output dtype."""
    n = math.prod(shape)
    if _mass(law) <= TRUNC_NORMAL_MIN_MASS:
        return _trunc_uniform(gen, n, dtype, law).reshape(shape)
    values = cast_output(_normal(gen, n, law.mean, law.sigma, dtype), dtype)
    lo, hi = (np.asarray(b).astype(values.dtype) for b in (law.low, law.high))
    while True:
        outside = (values < lo) | (values > hi)
        if not outside.any():
            break
        fresh = cast_output(_normal(gen, n, law.mean, law.sigma, dtype), dtype)
        values = np.where(outside, fresh, values)
    return values.reshape(shape)


def _log_pdf(x: NDArray[Any], law: TruncatedNormalLaw, log_peak: float) -> NDArray[Any]:
    """``x.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak)`` as torch's CPU kernels
    compute it: in float (double for float64), each result stored (rounded) into the tensor;
    ``sub_`` casts its scalar to the tensor's dtype, ``div_`` divides by the scalar in float
    (measured on float16/bfloat16; the same thing for float32 and float64)."""
    dtype = x.dtype
    work = np.float64 if dtype == np.float64 else np.float32

    def scalar(v: float) -> Any:
        return np.asarray(v).astype(dtype).astype(work)

    def store(y: NDArray[Any]) -> NDArray[Any]:
        return y.astype(dtype).astype(work)

    y = store(x.astype(work) - scalar(law.mean))
    y = store(y / work(law.sigma))
    y = store(y * y)
    y = store(y * work(-0.5))
    return store(y - scalar(log_peak))


def _log(u: NDArray[Any]) -> NDArray[Any]:
    """``log_`` on the tensor, in working precision: torch runs SLEEF's vectorised log (<= 1
    ulp; 7.5% of float32 and 0.3% of float64 values differ from the correctly rounded log
    used here, measured), so an acceptance can differ when ``log(U)`` and the bound are an ulp
    apart: approximate, no bound."""
    work = np.float64 if u.dtype == np.float64 else np.float32
    with np.errstate(divide="ignore"):
        return np.log(u.astype(np.float64)).astype(u.dtype).astype(work)


def _trunc_uniform(
    gen: TorchGenerator, n: int, dtype: DType, law: TruncatedNormalLaw
) -> NDArray[np.generic]:
    """torch 2.13 ``trunc_normal_`` for an interval holding <= 30% of the mass: uniform
    proposals on [a, b] accepted when ``log(U) <= log_pdf - log_peak``; every round draws a
    full-size ``uniform_(a, b)`` and a full-size ``uniform_()`` for the still-pending
    elements' fresh proposals (torch/nn/init.py ``_no_grad_trunc_normal_``)."""
    a, b, mean, std = law.low, law.high, law.mean, law.sigma
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2  # Python doubles, as torch computes it
    result: NDArray[Any] = _uniform(gen, n, a, b, dtype)
    pending = _log(_uniform(gen, n, 0.0, 1.0, dtype)) > _log_pdf(result, law, log_peak)
    while pending.any():
        candidates = _uniform(gen, n, a, b, dtype)
        result = np.where(pending, candidates, result)
        accept = _log(_uniform(gen, n, 0.0, 1.0, dtype)) > _log_pdf(candidates, law, log_peak)
        pending = np.where(pending, accept, pending)
    return result


def _orthogonal(
    gen: TorchGenerator, shape: Shape, dtype: DType, law: OrthogonalLaw
) -> NDArray[np.generic]:
    rows, cols = law.rows, law.cols
    flat = normal_(gen, rows * cols, 0.0, 1.0, dtype is DType.FLOAT64).reshape(rows, cols)
    a = flat.T if rows < cols else flat
    q, r = np.linalg.qr(a.astype(np.float64))
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    working = working_dtype(dtype)
    values: NDArray[Any] = q.astype(working)  # copy_ into the tensor, then mul_(gain)
    values = values * working(law.gain)
    return cast_output(values.reshape(shape), dtype)


# draw()'s laws with their own function (the others are one line there)
_DRAWS: dict[type, Any] = {
    SparseLaw: _sparse,
    TruncatedNormalLaw: _trunc_normal,
    OrthogonalLaw: _orthogonal,
}
