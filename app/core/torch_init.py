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
torch's double wherever torch's order is exact). Sparse (``sparse_`` draws its zero positions
with ``randperm``), delta-orthogonal (JAX) and Keras/JAX-flattened orthogonal laws have no
torch call and are refused before anything is drawn.

``trunc_normal_`` follows torch 2.13 (torch/nn/init.py ``_no_grad_trunc_normal_``): with
``p = Phi(beta) - Phi(alpha) > 0.3`` it fills ``normal_(mean, std)`` and, while any value lies
outside ``[float(a), float(b)]``, draws a fresh full-size ``normal_`` and takes its values
there. The narrow-interval path (uniform proposals accepted with ``log_``) is refused.

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
    TruncatedNormalLaw,
    UniformLaw,
)
from .torch_cpu import NORMAL_FILL_MIN, TorchGenerator, clamp_upper, normal_, uniform_
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
        "normal_, kaiming_normal_, xavier_normal_, trunc_normal_ (>= 16 elements)",
        "float32, float16, bfloat16",
        EXACT,
        "the AVX2 kernel's Cephes log/sincos (avx_mathfun.h) are float32 ops, replayed op for op",
    ),
    ExactnessRow(
        "normal_, kaiming_normal_, xavier_normal_, trunc_normal_ (>= 16 elements)",
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
        "orthogonal_",
        "all",
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
    if isinstance(law, TruncatedNormalLaw) and _mass(law) <= TRUNC_NORMAL_MIN_MASS:
        return (
            f"its truncation interval holds {_mass(law):.3g} of the normal's mass, where torch's "
            "trunc_normal_ switches to uniform proposals accepted by log_, which is not "
            "reproduced; widen the interval to hold more than 30% of the mass"
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
        | SegmentsLaw,
    ):
        return None
    return (
        f"its law ({type(law).__name__}) has no torch.nn.init function on the CPU generator "
        "(sparse_ draws its zeros with randperm; delta-orthogonal is JAX's)"
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
        return EXACT if normal_exactness(numel, dtype).exact else UNBOUNDED
    if isinstance(law, OrthogonalLaw):
        return ORTHOGONAL
    return EXACT


def draws(law: Law) -> bool:
    """Whether torch's call for ``law`` consumes generator words."""
    return isinstance(law, UniformLaw | NormalLaw | TruncatedNormalLaw | OrthogonalLaw)


def draw(gen: TorchGenerator, shape: Shape, dtype: DType, law: Law) -> NDArray[np.generic]:
    """The tensor torch's call for ``law`` writes into ``torch.empty(shape, dtype)``, drawing
    from ``gen``."""
    n = math.prod(shape)
    double = dtype is DType.FLOAT64
    if isinstance(law, CounterLaw):
        return np.zeros(shape, dtype=np.int64)
    if not draws(law):
        return _fixed(shape, dtype, law)
    if isinstance(law, UniformLaw):
        values = cast_output(uniform_(gen, n, law.low, law.high, double), dtype)
        return clamp_upper(values, law.low, law.high).reshape(shape)
    if isinstance(law, NormalLaw):
        values = _normal(gen, n, law.mean, law.std, dtype)
        return cast_output(values, dtype).reshape(shape)
    if isinstance(law, TruncatedNormalLaw):
        return _trunc_normal(gen, shape, dtype, law)
    assert isinstance(law, OrthogonalLaw), f"no torch call for {law!r}"
    return _orthogonal(gen, shape, dtype, law)


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
    values = cast_output(_normal(gen, n, law.mean, law.sigma, dtype), dtype)
    lo, hi = (np.asarray(b).astype(values.dtype) for b in (law.low, law.high))
    while True:
        outside = (values < lo) | (values > hi)
        if not outside.any():
            break
        fresh = cast_output(_normal(gen, n, law.mean, law.sigma, dtype), dtype)
        values = np.where(outside, fresh, values)
    return values.reshape(shape)


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
