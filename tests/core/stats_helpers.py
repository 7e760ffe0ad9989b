"""Helpers for the statistical tests: exact moments of each law and tolerances derived from n.

Used by the per-family modules ``tests/core/schemes/test_statistics_*.py``; the case types
(:class:`Case`, :class:`OrthoCase`) and the checks shared by several families live here.

Everything a test compares a sample against is computed here from first principles (closed
forms, or mpmath at 60 digits for truncated normals), never from app/ code, except the law's
own constants (mean, std, bounds), which are what is being checked.

Tolerances
    With ``n`` samples, the sample mean has standard deviation ``sigma / sqrt(n)`` and the
    unbiased sample variance ``s^2`` has variance ``(mu4 - sigma^4 (n - 3) / (n - 1)) / n``
    (Cramér, Mathematical Methods of Statistics, 27.4), with ``mu4`` the central fourth moment
    of the law. Both are asymptotically normal, so a band of ``Z = 5`` standard deviations has
    a two-sided false-alarm probability of ``2 (1 - Phi(5)) = 5.7e-7`` per check; the KS
    check uses ``alpha = 1e-4``. Every test uses a fixed seed, so a run is deterministic
    anyway: these numbers say how unlucky the chosen seed would have to be for a correct
    sampler to fail, and the widths are small enough that a 2 % error in std fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mpmath  # type: ignore[import-untyped]
import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from app.core.dtypes import numpy_dtype
from app.core.generate import generate_tensor
from app.core.laws import NormalLaw, OrthogonalLaw, TruncatedNormalLaw, UniformLaw
from app.core.layers import make_layer
from app.core.planning import SchemeChoice, plan_layer
from app.core.plans import TensorPlan
from app.core.schemes import resolve_scheme
from app.core.types import DType, Layout

Z = 5.0
KS_ALPHA = 1e-4
_DPS = 60

ElementwiseLaw = UniformLaw | NormalLaw | TruncatedNormalLaw


@dataclass(frozen=True)
class Moments:
    """Mean, variance and central fourth moment of a distribution."""

    mean: float
    var: float
    mu4: float

    def mean_tolerance(self, n: int) -> float:
        """Z standard deviations of the sample mean."""
        return Z * math.sqrt(self.var / n)

    def var_tolerance(self, n: int) -> float:
        """Z standard deviations of the unbiased sample variance."""
        return Z * math.sqrt((self.mu4 - self.var**2 * (n - 3) / (n - 1)) / n)


def truncated_standard_moments(alpha: float, beta: float) -> Moments:
    """Moments of N(0, 1) restricted to [alpha, beta], by the raw-moment recursion.

    ``M_0 = 1``, ``M_1 = (phi(a) - phi(b)) / Z`` and
    ``M_k = (k - 1) M_{k-2} + (a^{k-1} phi(a) - b^{k-1} phi(b)) / Z`` (integration by parts),
    then central moments by the binomial expansion; 60 digits absorb the cancellation of a
    far tail (mean 36, variance 8e-4 loses about 12 digits in mu4).
    """
    with mpmath.workdps(_DPS):
        a, b = mpmath.mpf(alpha), mpmath.mpf(beta)
        pa, pb = mpmath.npdf(a), mpmath.npdf(b)
        # An interval above 0 as a difference of upper tails, which keeps its relative
        # precision however far out it lies (1 - 1e-300 would round to 1).
        mass = mpmath.ncdf(-a) - mpmath.ncdf(-b) if a > 0 else mpmath.ncdf(b) - mpmath.ncdf(a)
        raw = [mpmath.mpf(1), (pa - pb) / mass]
        for k in range(2, 5):
            raw.append((k - 1) * raw[k - 2] + (a ** (k - 1) * pa - b ** (k - 1) * pb) / mass)
        m = raw[1]
        var = raw[2] - m**2
        mu4 = raw[4] - 4 * m * raw[3] + 6 * m**2 * raw[2] - 3 * m**4
        return Moments(float(m), float(var), float(mu4))


def law_moments(law: ElementwiseLaw) -> Moments:
    """Exact moments of the distribution a law samples."""
    if isinstance(law, UniformLaw):
        width = law.high - law.low
        return Moments((law.low + law.high) / 2, width**2 / 12, width**4 / 80)
    if isinstance(law, NormalLaw):
        return Moments(law.mean, law.std**2, 3 * law.std**4)
    alpha = (law.low - law.mean) / law.sigma
    beta = (law.high - law.mean) / law.sigma
    std = truncated_standard_moments(alpha, beta)
    s = law.sigma
    return Moments(law.mean + s * std.mean, s**2 * std.var, s**4 * std.mu4)


def law_distribution(law: ElementwiseLaw) -> Any:
    """The exact scipy distribution of a law (for the KS test)."""
    if isinstance(law, UniformLaw):
        return stats.uniform(loc=law.low, scale=law.high - law.low)
    if isinstance(law, NormalLaw):
        return stats.norm(loc=law.mean, scale=law.std)
    alpha = (law.low - law.mean) / law.sigma
    beta = (law.high - law.mean) / law.sigma
    return stats.truncnorm(alpha, beta, loc=law.mean, scale=law.sigma)


def ks_pvalue(sample: NDArray[Any], distribution: Any) -> float:
    """Two-sided one-sample Kolmogorov-Smirnov p-value against an exact CDF."""
    return float(stats.kstest(np.asarray(sample, dtype=np.float64), distribution.cdf).pvalue)


def violations(sample: NDArray[Any], moments: Moments, distribution: Any) -> list[str]:
    """Which of mean, variance and KS reject ``sample`` (empty when it fits the law)."""
    x = np.asarray(sample, dtype=np.float64).ravel()
    n = x.size
    found = []
    mean = float(x.mean())
    if abs(mean - moments.mean) > moments.mean_tolerance(n):
        found.append(
            f"mean {mean!r} vs {moments.mean!r} (tolerance {moments.mean_tolerance(n):.3g})"
        )
    var = float(x.var(ddof=1))
    if abs(var - moments.var) > moments.var_tolerance(n):
        found.append(f"variance {var!r} vs {moments.var!r} (tol {moments.var_tolerance(n):.3g})")
    p = ks_pvalue(x, distribution)
    if p <= KS_ALPHA:
        found.append(f"KS p-value {p:.3g} <= {KS_ALPHA}")
    return found


def rescaled(sample: NDArray[Any], centre: float, factor: float) -> NDArray[np.float64]:
    """``centre + factor * (x - centre)``: the sample a std ``factor`` times too large gives."""
    x = np.asarray(sample, dtype=np.float64)
    return centre + factor * (x - centre)


# ---- shared by the tests/core/schemes/test_statistics_*.py families ---------------------------

SEED = 20_240_611
FI, FO = 500.0, 400.0  # fans of every 2e5-element weight, whatever the layout
C2 = float(stats.truncnorm(-2, 2).var())  # variance of N(0, 1) cut at +-2, from scipy
MAIN_DTYPES = (DType.FLOAT64, DType.FLOAT32)
LOW_DTYPES = (DType.FLOAT16, DType.BFLOAT16)
ALL_DTYPES = (*MAIN_DTYPES, *LOW_DTYPES)
Array = NDArray[Any]


def plan_for(
    scheme: str,
    params: Mapping[str, object],
    *,
    layout: Layout = Layout.TORCH,
    dtype: DType = DType.FLOAT64,
    kind: str = "tensor",
    fields: Mapping[str, object] | None = None,
    tensor: str = "weight",
) -> TensorPlan:
    """The plan of tensor ``tensor`` of a layer, with ``scheme`` for weights and biases."""
    resolved = resolve_scheme(scheme, dict(params))
    plans = plan_layer(
        make_layer(kind, dict(fields or {})),
        layout=layout,
        dtype=dtype,
        levels=(SchemeChoice(scheme=resolved, bias_scheme=resolved),),
    )
    by_name = {p.name: p for p in plans}
    return by_name[tensor]


def shaped(
    scheme: str, params: Mapping[str, object], shape: tuple[int, ...], **kw: Any
) -> TensorPlan:
    """The plan of a raw tensor of ``shape``."""
    return plan_for(scheme, params, fields={"shape": list(shape)}, **kw)


# ---- elementwise schemes: one case per (scheme, params, tensor) -------------------------------


@dataclass(frozen=True)
class Case:
    """One elementwise draw: scheme, params, where, and the textbook variance/mean."""

    scheme: str
    params: Mapping[str, object]
    law: type
    variance: float
    mean: float = 0.0
    layout: Layout = Layout.TORCH
    kind: str = "tensor"
    fields: Mapping[str, object] = field(default_factory=dict)
    tensor: str = "weight"

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.params.items())
        where = "" if self.kind == "tensor" else f"-{self.kind}.{self.tensor}"
        return f"{self.scheme}({extra}){where}"

    def plan(self, dtype: DType) -> TensorPlan:
        fields = self.fields or {"shape": [400, 500] if self.layout is Layout.TORCH else [500, 400]}
        return plan_for(
            self.scheme,
            self.params,
            layout=self.layout,
            dtype=dtype,
            kind=self.kind,
            fields=fields,
            tensor=self.tensor,
        )


_SAMPLES: dict[tuple[str, DType], tuple[TensorPlan, Array]] = {}


def sample(case: Case, dtype: DType) -> tuple[TensorPlan, Array]:
    """The plan and values of ``case`` in ``dtype``, drawn once per test session."""
    key = (case.id, dtype)
    if key not in _SAMPLES:
        plan = case.plan(dtype)
        _SAMPLES[key] = plan, generate_tensor(plan, SEED)
    return _SAMPLES[key]


def _check_law_against_textbook(case: Case, plan: TensorPlan) -> None:
    """The law's own moments equal the textbook variance (constants: rounded once)."""
    law = plan.law
    assert isinstance(law, case.law), f"{case.id}: expected {case.law.__name__}, got {law!r}"
    m = law_moments(law)  # type: ignore[arg-type]
    rel = 1e-9 if plan.dtype is DType.FLOAT64 else 1e-6  # jax.* computes constants in float32
    assert m.var == pytest.approx(case.variance, rel=rel, abs=0), f"{case.id}: law {law!r}"
    assert m.mean == pytest.approx(case.mean, rel=1e-9, abs=1e-12), f"{case.id}: law {law!r}"


def check_support(law: Any, values: Array, dtype: DType) -> None:
    """Uniform: [low, high) in the output dtype; truncated: [low, high] rounded to it."""
    if not isinstance(law, UniformLaw | TruncatedNormalLaw):
        return
    target = numpy_dtype(dtype).type
    lo, hi = target(law.low), target(law.high)
    if isinstance(law, UniformLaw) and dtype in MAIN_DTYPES:
        assert values.min() >= lo and values.max() < hi, (values.min(), values.max(), lo, hi)
    else:
        assert values.min() >= lo and values.max() <= hi, (values.min(), values.max(), lo, hi)


def check_samples_follow_exact_law(case: Case, dtype: DType) -> None:
    """Mean within 5 sd(x̄), variance within 5 sd(s²) (from mu4), KS p > 1e-4, support.

    sd(s²) uses the law's exact fourth moment, so e.g. a uniform's band is 1.0 % of its
    variance and a normal's 1.6 % at n = 2e5: a 2 % std error (4 % variance) fails.
    """
    plan, values = sample(case, dtype)
    assert values.dtype == numpy_dtype(dtype)
    _check_law_against_textbook(case, plan)
    law = plan.law
    x = values.ravel()
    assert x.size >= 40_000
    found = violations(x, law_moments(law), law_distribution(law))  # type: ignore[arg-type]
    assert not found, f"{case.id} {dtype}: {found}"
    check_support(law, x, dtype)


def check_distinct_and_serially_uncorrelated(case: Case) -> None:
    """Blocks are independent streams: no repeated float64 value, lag-1 |r| < 5/sqrt(n).

    A repeated block (same stream twice) or a shared stream would repeat values; the chance
    of a float64 collision among 2e5 continuous draws is about n²/2^54 = 2e-6.
    """
    _, values = sample(case, DType.FLOAT64)
    x = values.ravel().astype(np.float64)
    assert np.unique(x).size == x.size
    r = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert abs(r) < 5 / math.sqrt(x.size)


def check_within_bounds_in_half_precision(case: Case, dtype: DType) -> None:
    """float16/bfloat16 outputs lie in [low, high] rounded to the output dtype."""
    plan = case.plan(dtype)
    values = generate_tensor(plan, SEED)
    assert values.dtype == numpy_dtype(dtype)
    assert np.isfinite(values.astype(np.float32)).all()
    check_support(plan.law, values.astype(np.float64).ravel(), dtype)
    if isinstance(plan.law, UniformLaw):  # and it is not degenerate: spans the interval
        span = float(plan.law.high - plan.law.low)
        assert float(values.max()) - float(values.min()) > 0.99 * span


def bounded(cases: list[Case]) -> list[Case]:
    """The cases whose law is bounded (every law but the untruncated normal)."""
    return [c for c in cases if c.law is not NormalLaw]


# ---- orthogonal schemes -----------------------------------------------------------------------


@dataclass(frozen=True)
class OrthoCase:
    """An orthogonal tensor and the (rows, cols) matrix its layout flattens it to."""

    scheme: str
    gain: float
    shape: tuple[int, ...]
    layout: Layout
    rows: int
    cols: int
    kind: str = "tensor"
    fields: Mapping[str, object] | None = None
    tensor: str = "weight"

    @property
    def id(self) -> str:
        return f"{self.scheme}-{self.layout}-{self.tensor}{list(self.shape)}-g{self.gain}"

    def plan(self, dtype: DType) -> TensorPlan:
        key = "scale" if self.scheme.startswith("jax.") else "gain"
        params = {key: self.gain} if "default" not in self.scheme else {}
        return plan_for(
            self.scheme,
            params,
            layout=self.layout,
            dtype=dtype,
            kind=self.kind,
            fields=self.fields or {"shape": list(self.shape)},
            tensor=self.tensor,
        )


def check_gram_matrix_is_gain_squared_identity(case: OrthoCase, dtype: DType) -> None:
    """WᵀW = gain²·I (tall) or WWᵀ = gain²·I (wide) on the layout's flattening.

    Householder QR is backward stable (error a small multiple of eps·n), so float64 gets
    1e-12; float32 output rounds each entry once (relative 6e-8), and by Cauchy-Schwarz an
    inner product moves by at most 2·6e-8·gain², well inside 1e-5·gain².
    """
    plan = case.plan(dtype)
    law = plan.law
    assert isinstance(law, OrthogonalLaw)
    assert (law.gain, law.rows, law.cols) == (case.gain, case.rows, case.cols)
    w = generate_tensor(plan, SEED).astype(np.float64).reshape(case.rows, case.cols)
    gram = w.T @ w if case.rows >= case.cols else w @ w.T
    tol = (1e-12 if dtype is DType.FLOAT64 else 1e-5) * max(1.0, case.gain**2)
    err = np.abs(gram - case.gain**2 * np.eye(gram.shape[0])).max()
    assert err < tol, err
    assert np.mean(np.abs(w) > 1e-3 * abs(case.gain) / math.sqrt(max(w.shape))) > 0.9
